import { describe, expect, it } from "vitest";
import {
  MAX_SF_INTEGER,
  serializeInteger,
  serializeItem,
  serializeKey,
  serializeList,
  serializeString,
} from "../../src/http/structured-field.js";
import { parseStringItemList } from "./support.js";

describe("serializeString", () => {
  it.each([
    ["plain", '"plain"'],
    ["", '""'],
    ["per-user_1.0", '"per-user_1.0"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["back\\slash", '"back\\\\slash"'],
    [" ~", '" ~"'],
  ])("quotes %j", (input, expected) => {
    expect(serializeString(input)).toBe(expected);
  });

  it.each([["tab\there"], ["line\nbreak"], ["caf\u00e9"], ["\u007f"]])(
    "rejects non-printable %j",
    (input) => {
      expect(() => serializeString(input)).toThrow(TypeError);
    },
  );

  it("round-trips escapes through a parser", () => {
    const value = 'a"b\\c';
    const [item] = parseStringItemList(serializeString(value));
    expect(item?.value).toBe(value);
  });
});

describe("serializeInteger", () => {
  it.each([
    [0, "0"],
    [-0, "0"],
    [42, "42"],
    [-7, "-7"],
    [MAX_SF_INTEGER, "999999999999999"],
    [-MAX_SF_INTEGER, "-999999999999999"],
  ])("writes %d", (input, expected) => {
    expect(serializeInteger(input)).toBe(expected);
  });

  it.each([[1.5], [Number.NaN], [Number.POSITIVE_INFINITY], [MAX_SF_INTEGER + 1]])(
    "rejects %d",
    (input) => {
      expect(() => serializeInteger(input)).toThrow(RangeError);
    },
  );
});

describe("serializeKey", () => {
  it.each([["q"], ["w"], ["acme-burst"], ["*x.y_z"]])("accepts %j", (key) => {
    expect(serializeKey(key)).toBe(key);
  });

  it.each([["Q"], ["1a"], [""], ["a b"]])("rejects %j", (key) => {
    expect(() => serializeKey(key)).toThrow(TypeError);
  });
});

describe("serializeItem", () => {
  it("writes parameters in order", () => {
    const text = serializeItem({
      value: "burst",
      parameters: [
        ["q", 100],
        ["w", 60],
      ],
    });
    expect(text).toBe('"burst";q=100;w=60');
  });
});

describe("serializeList", () => {
  it("joins members with comma and space", () => {
    const text = serializeList([
      { value: "permin", parameters: [["q", 50]] },
      { value: "perhr", parameters: [["q", 1000]] },
    ]);
    expect(text).toBe('"permin";q=50, "perhr";q=1000');
  });

  it("parses back to the same members", () => {
    const text = serializeList([
      { value: 'odd"name', parameters: [["r", 0]] },
      { value: "b", parameters: [["t", 7]] },
    ]);
    expect(parseStringItemList(text)).toEqual([
      { value: 'odd"name', parameters: { r: 0 } },
      { value: "b", parameters: { t: 7 } },
    ]);
  });

  it("rejects an empty list", () => {
    expect(() => serializeList([])).toThrow(RangeError);
  });
});
