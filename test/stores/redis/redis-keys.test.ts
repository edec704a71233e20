import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { encodeKey, MAX_RAW_KEY_BYTES, redisKey } from "../../../src/stores/redis/redis-keys.js";

function sha256(text: string, encoding: "utf8" | "utf16le"): string {
  return createHash("sha256").update(text, encoding).digest("hex");
}

describe("encodeKey", () => {
  it.each([
    ["plain key", "user-42", "{k:user-42}"],
    ["empty key", "", "{k:}"],
    ["braces and colons", "a{b}:c", "{k:a{b}:c}"],
    ["emoji", "😀", "{k:😀}"],
  ])("%s kept verbatim", (_name, key, encoded) => {
    expect(encodeKey(key)).toBe(encoded);
  });

  it("key of 256 bytes kept verbatim", () => {
    const key = "é".repeat(MAX_RAW_KEY_BYTES / 2);
    expect(encodeKey(key)).toBe(`{k:${key}}`);
  });

  it("key of 257 bytes becomes a digest", () => {
    const key = `${"é".repeat(MAX_RAW_KEY_BYTES / 2)}x`;
    expect(encodeKey(key)).toBe(`{d:${sha256(key, "utf8")}}`);
  });

  it("10 KB key becomes a digest", () => {
    const key = "k".repeat(10_240);
    expect(encodeKey(key)).toBe(`{d:${sha256(key, "utf8")}}`);
  });

  it("lone surrogate hashed as UTF-16", () => {
    expect(encodeKey("\uD800")).toBe(`{u:${sha256("\uD800", "utf16le")}}`);
  });

  it("two lone surrogates stay apart", () => {
    expect(encodeKey("\uD800")).not.toBe(encodeKey("\uD801"));
  });

  it("NFC and NFD forms stay apart", () => {
    const nfc = "caf\u00e9";
    const nfd = "cafe\u0301";
    expect(encodeKey(nfc)).not.toBe(encodeKey(nfd));
  });

  it("verbatim key never equals a digest", () => {
    const long = "x".repeat(300);
    const mimic = `d:${sha256(long, "utf8")}`;
    expect(encodeKey(mimic)).not.toBe(encodeKey(long));
  });
});

describe("redisKey", () => {
  it("joins prefix, policy and hash tag", () => {
    expect(redisKey("sluice", "api", encodeKey("u1"))).toBe("sluice:api:{k:u1}");
  });

  it("policy a key b:c vs a.b key c", () => {
    const first = redisKey("sluice", "a", encodeKey("b:c"));
    const second = redisKey("sluice", "a.b", encodeKey("c"));
    expect(first).not.toBe(second);
  });

  it("pairs that share a concatenation stay apart", () => {
    const pairs: [string, string][] = [
      ["a", "b:{k:c}"],
      ["a", "b"],
      ["a-b", "c"],
      ["a", "-b:c"],
      ["x", ""],
      ["x", "}"],
      ["x", "{k:}"],
    ];
    const keys = pairs.map(([policy, key]) => redisKey("p", policy, encodeKey(key)));
    expect(new Set(keys).size).toBe(pairs.length);
  });
});
