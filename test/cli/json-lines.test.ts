import { describe, expect, it } from "vitest";
import { createJsonLinesParser, readPath } from "../../src/cli/json-lines.js";
import type { ParsedRequest } from "../../src/cli/line-parser.js";
import { sniffFormat } from "../../src/cli/line-parser.js";
import { parseIsoTime, parseLogTime } from "../../src/cli/timestamps.js";

const MAY_17 = Date.UTC(2015, 4, 17, 10, 5, 3);

function parseLine(
  line: string,
  keyFields: readonly string[] = ["ip"],
  timeField = "time",
): ParsedRequest | string {
  const out: ParsedRequest = { key: "", at: 0 };
  const reason = createJsonLinesParser(keyFields, timeField)(line, out);
  return reason ?? out;
}

describe("readPath", () => {
  const record = {
    client: { ip: "10.0.0.1", geo: { country: "NL" } },
    "user.id": "flat",
    items: [{ id: 7 }],
  };

  it.each([
    ["client.ip", "10.0.0.1"],
    ["client.geo.country", "NL"],
    ["user.id", "flat"],
    ["items.0.id", 7],
    ["client.port", undefined],
    ["client.ip.more", undefined],
    ["missing.path", undefined],
  ])("%s", (path, expected) => {
    expect(readPath(record, path)).toBe(expected);
  });

  it("inherited properties ignored", () => {
    expect(readPath({}, "constructor")).toBeUndefined();
  });
});

describe("createJsonLinesParser", () => {
  it("nested key and time fields", () => {
    const line = JSON.stringify({ req: { client: { id: "u-1" }, ts: MAY_17 } });

    expect(parseLine(line, ["req.client.id"], "req.ts")).toEqual({ key: "u-1", at: MAY_17 });
  });

  it("numeric key becomes string", () => {
    expect(parseLine('{"ip":42,"time":1431857103}')).toEqual({ key: "42", at: MAY_17 });
  });

  it("several key fields joined", () => {
    const line = '{"ip":"10.0.0.1","agent":"curl","time":1431857103}';

    expect(parseLine(line, ["ip", "agent"])).toEqual({ key: '["10.0.0.1","curl"]', at: MAY_17 });
  });

  it.each([
    ["epoch milliseconds", MAY_17, MAY_17],
    ["epoch seconds", MAY_17 / 1000, MAY_17],
    ["fractional epoch seconds", 1431857103.25, MAY_17 + 250],
    ["numeric string", "1431857103", MAY_17],
    ["ISO 8601 with Z", "2015-05-17T10:05:03Z", MAY_17],
    ["ISO 8601 with milliseconds", "2015-05-17T10:05:03.123Z", MAY_17 + 123],
    ["ISO 8601 with offset", "2015-05-17T12:05:03+02:00", MAY_17],
    ["ISO 8601 without zone", "2015-05-17T10:05:03", MAY_17],
    ["ISO 8601 with a space", "2015-05-17 10:05:03Z", MAY_17],
    ["access-log stamp", "17/May/2015:10:05:03 +0000", MAY_17],
  ])("time as %s", (_name, time, expected) => {
    expect(parseLine(JSON.stringify({ ip: "a", time }))).toEqual({ key: "a", at: expected });
  });

  it.each([
    ["invalid JSON", '{"ip": "a", ', "invalid JSON"],
    ["array", "[1, 2]", "not a JSON object"],
    ["missing key", '{"time": 1}', 'no key field "ip"'],
    ["object key", '{"ip": {}, "time": 1}', 'key field "ip" is not a string or a number'],
    ["missing time", '{"ip": "a"}', 'no time field "time"'],
  ])("malformed: %s", (_name, line, reason) => {
    expect(parseLine(line)).toBe(reason);
  });

  it.each([
    ["text", "yesterday"],
    ["negative epoch", -5],
    ["boolean", true],
    ["impossible date", "2015-02-30T00:00:00Z"],
  ])("invalid time: %s", (_name, time) => {
    const reason = parseLine(JSON.stringify({ ip: "a", time }));

    expect(reason).toMatch(/^time field "time" is not /);
  });
});

describe("parseLogTime", () => {
  it("rejects times the limiter cannot take", () => {
    expect(parseLogTime(1e300)).toBeUndefined();
    expect(parseLogTime(9_000_000_000_000_000)).toBeUndefined();
    expect(parseLogTime("9000000000000000")).toBeUndefined();
  });

  it("date only is midnight UTC", () => {
    expect(parseLogTime("2015-05-17")).toBe(Date.UTC(2015, 4, 17));
  });

  it("offset without colon", () => {
    expect(parseIsoTime("2015-05-17T10:05:03-0130")).toBe(MAY_17 + 90 * 60_000);
  });

  it("digits past milliseconds dropped", () => {
    expect(parseIsoTime("2015-05-17T10:05:03.123456789Z")).toBe(MAY_17 + 123);
  });

  it("seconds below 1e11, milliseconds above", () => {
    expect(parseLogTime(99_999_999_999)).toBe(99_999_999_999_000);
    expect(parseLogTime(100_000_000_000)).toBe(100_000_000_000);
  });
});

describe("sniffFormat", () => {
  it.each([
    ['{"ip":"a"}', "json"],
    ['  {"ip":"a"}', "json"],
    ['1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5', "clf"],
  ])("%s", (line, expected) => {
    expect(sniffFormat(line)).toBe(expected);
  });
});
