import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { useRedis } from "../../support/redis-servers.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const scriptsDir = `${root}src/stores/redis/scripts/`;
const luaFiles = readdirSync(scriptsDir).filter((file) => file.endsWith(".lua"));
const source = (file: string) => readFileSync(`${scriptsDir}${file}`, "utf8");

describe("Lua sources", () => {
  it("generated module matches the .lua files", () => {
    const check = spawnSync(process.execPath, [`${root}scripts/build-lua.mjs`, "--check"], {
      encoding: "utf8",
    });
    expect(check.stderr).toBe("");
    expect(check.status).toBe(0);
  });

  it.each(luaFiles)("%s opens with a header", (file) => {
    expect(source(file).startsWith("--[[\n")).toBe(true);
  });

  it("consume.lua header lists KEYS, ARGV and the reply", () => {
    const header = source("consume.lua").split("]]")[0] ?? "";
    expect(["KEYS", "ARGV", "Reply"].filter((word) => !header.includes(word))).toEqual([]);
  });

  it.each(luaFiles.filter((file) => file !== "consume.lua"))(
    "%s says it reads no KEYS or ARGV",
    (file) => {
      const header = source(file).split("]]")[0] ?? "";
      const helper = header.includes("Reads no KEYS or ARGV");
      expect(helper).toBe(true);
    },
  );

  it.each(luaFiles)("%s builds no key inside the script", (file) => {
    // Every command's key is KEYS[...] itself or a `key` parameter that contains one.
    const calls = source(file).matchAll(/redis\.p?call\('([A-Z]+)'(?:, ([^,)]+))?/g);
    const built = [...calls].filter(
      ([, command, key]) => command !== "TIME" && !/^(KEYS\[[^\]]+\]|key)$/.test(key ?? ""),
    );
    expect(built.map(([call]) => call)).toEqual([]);
  });
});

describe("exact multiply-divide in Lua", () => {
  const redis = useRedis();
  let client: Redis | undefined;
  const common = source("common.lua");

  async function mulDiv(a: number, b: number, divisor: number): Promise<[string, string]> {
    client ??= redis().client();
    const script = `${common}
local function text(x) return string.format('%.0f', x) end
local a, b, d = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
return { text(mul_div_floor(a, b, d)), text(mul_div_ceil(a, b, d)) }`;
    return (await client.eval(script, 0, a, b, divisor)) as [string, string];
  }

  it("matches BigInt for safe integers", async () => {
    const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    // Callers only divide where the quotient is a safe integer, so the divisor is drawn
    // above a × b / (2^53 − 1).
    const cases = fc.tuple(safe, safe).chain(([a, b]) => {
      const smallest = (BigInt(a) * BigInt(b)) / max + 1n;
      return fc.bigInt({ min: smallest, max }).map((d) => [a, b, Number(d)] as const);
    });
    await fc.assert(
      fc.asyncProperty(cases, async ([a, b, d]) => {
        const product = BigInt(a) * BigInt(b);
        const floor = product / BigInt(d);
        const ceil = floor + (product % BigInt(d) === 0n ? 0n : 1n);
        expect(await mulDiv(a, b, d)).toEqual([String(floor), String(ceil)]);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    [Number.MAX_SAFE_INTEGER, 3, 4],
    [2 ** 52 + 1, 2 ** 52 - 1, 2 ** 52],
    [0, Number.MAX_SAFE_INTEGER, 1],
  ])("%i × %i / %i", async (a, b, d) => {
    const product = BigInt(a) * BigInt(b);
    const floor = product / BigInt(d);
    const ceil = floor + (product % BigInt(d) === 0n ? 0n : 1n);
    expect(await mulDiv(a, b, d)).toEqual([String(floor), String(ceil)]);
  });
});
