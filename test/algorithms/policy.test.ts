import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../src/policy/duration.js";
import {
  checkCost,
  MAX_REFILL_MS,
  type PolicyInput,
  parsePolicy,
} from "../../src/policy/policy.js";
import { ALGORITHMS } from "../../src/types.js";

const MAX = Number.MAX_SAFE_INTEGER;
const TEN_YEARS = 10 * 365 * 86_400_000;

/** Returns the error `run` throws, or fails the test when it throws nothing. */
function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

describe("parsePolicy", () => {
  it.each([
    ["100/1m", 100, 60_000],
    ["10/s", 10, 1000],
    ["5/500ms", 5, 500],
    [" 7 / 1.5s ", 7, 1500],
    ["10/1.15h", 10, 4_140_000],
    ["3/2 min", 3, 120_000],
    ["1/d", 1, 86_400_000],
  ])("string %j", (spec, limit, window) => {
    const policy = parsePolicy(spec);
    expect(policy.limit).toBe(limit);
    expect(policy.window).toBe(window);
  });

  it("string defaults", () => {
    expect(parsePolicy("100/1m")).toEqual({
      name: "100-per-1m-gcra",
      limit: 100,
      window: 60_000,
      algorithm: "gcra",
      burst: 100,
      failureMode: "local",
      capacity: 100,
      rateUnits: 1,
      rateInterval: 600,
    });
  });

  it("parsed policy parses again", () => {
    for (const algorithm of ALGORITHMS) {
      const policy = parsePolicy({ limit: 10, window: "1s", algorithm });
      expect(parsePolicy(policy)).toEqual(policy);
    }
  });

  it("object with burst", () => {
    const policy = parsePolicy({ limit: 10, window: "1s", algorithm: "token-bucket", burst: 20 });
    expect(policy.name).toBe("10-per-1s-burst-20-token-bucket");
    expect(policy.burst).toBe(20);
    expect(policy.capacity).toBe(20);
    expect(policy.rateUnits).toBe(1);
    expect(policy.rateInterval).toBe(100);
  });

  it("window algorithm capacity is limit", () => {
    const policy = parsePolicy({ limit: 7, window: 1000, algorithm: "fixed-window" });
    expect(policy.burst).toBe(7);
    expect(policy.capacity).toBe(7);
  });

  it("explicit name and failure mode", () => {
    const policy = parsePolicy({ name: "api.v2_read-1", limit: 1, window: 1, failureMode: "open" });
    expect(policy.name).toBe("api.v2_read-1");
    expect(policy.failureMode).toBe("open");
  });

  it("policy is frozen", () => {
    expect(Object.isFrozen(parsePolicy("1/s"))).toBe(true);
  });

  it("rate is reduced to lowest terms", () => {
    const policy = parsePolicy({ limit: 6, window: 4000 });
    expect(policy.rateUnits).toBe(3);
    expect(policy.rateInterval).toBe(2000);
  });

  it.each<[string, unknown, ErrorConstructor]>([
    ["limit 0", { limit: 0, window: 1000 }, RangeError],
    ["limit -1", { limit: -1, window: 1000 }, RangeError],
    ["limit 1.5", { limit: 1.5, window: 1000 }, RangeError],
    ["limit NaN", { limit: Number.NaN, window: 1000 }, RangeError],
    ["limit Infinity", { limit: Number.POSITIVE_INFINITY, window: 1000 }, RangeError],
    ["limit above 2^53", { limit: 2 ** 53, window: 1000 }, RangeError],
    ["limit string", { limit: "10", window: 1000 }, TypeError],
    ["limit missing", { window: 1000 }, TypeError],
    ["window 0", { limit: 1, window: 0 }, RangeError],
    ["window -1", { limit: 1, window: -1 }, RangeError],
    ["window 1.5", { limit: 1, window: 1.5 }, RangeError],
    ["window NaN", { limit: 1, window: Number.NaN }, RangeError],
    ["window Infinity", { limit: 1, window: Number.POSITIVE_INFINITY }, RangeError],
    ["window numeric string", { limit: 1, window: "1000" }, TypeError],
    ["window over 1000 years", { limit: 1, window: MAX_REFILL_MS + 1 }, RangeError],
    [
      "burst on fixed window",
      { limit: 1, window: 1, algorithm: "fixed-window", burst: 2 },
      TypeError,
    ],
    ["burst 0", { limit: 1, window: 1, algorithm: "gcra", burst: 0 }, RangeError],
    ["burst string", { limit: 1, window: 1, algorithm: "gcra", burst: "2" }, TypeError],
    ["algorithm unknown", { limit: 1, window: 1, algorithm: "leaky" }, TypeError],
    ["failure mode unknown", { limit: 1, window: 1, failureMode: "fail" }, TypeError],
    ["name with colon", { name: "a:b", limit: 1, window: 1 }, TypeError],
    ["name empty", { name: "", limit: 1, window: 1 }, TypeError],
    ["name too long", { name: "n".repeat(129), limit: 1, window: 1 }, TypeError],
    ["name number", { name: 5, limit: 1, window: 1 }, TypeError],
    ["null", null, TypeError],
    ["array", [1, 1000], TypeError],
    ["number", 100, TypeError],
    ["spec without window", "100", TypeError],
    ["spec with empty window", "100/", TypeError],
    ["spec without limit", "/1m", TypeError],
    ["spec with exponent", "1e3/s", TypeError],
    ["spec with negative limit", "-1/s", TypeError],
    ["spec with zero limit", "0/s", RangeError],
    ["spec with unknown unit", "10/1w", TypeError],
  ])("rejects %s", (_case, input, type) => {
    const error = thrown(() => parsePolicy(input as PolicyInput));
    expect(error).toBeInstanceOf(type);
    expect((error as Error & { code?: string }).code).toBe("SLUICE_INVALID_ARGUMENT");
  });

  it("error names field and value", () => {
    expect(thrown(() => parsePolicy({ limit: 0, window: 1000 })).message).toBe(
      "policy limit must be a positive integer; received 0",
    );
    expect(thrown(() => parsePolicy({ limit: 1, window: "10" })).message).toContain(
      'policy window must be a duration such as "500ms"',
    );
  });

  it("window of 1000 years", () => {
    expect(parsePolicy({ limit: 1, window: MAX_REFILL_MS }).window).toBe(MAX_REFILL_MS);
  });

  it("burst must refill within 1000 years", () => {
    const atLimit = { limit: 1, window: 1000, algorithm: "token-bucket" as const };
    expect(parsePolicy({ ...atLimit, burst: MAX_REFILL_MS / 1000 }).burst).toBe(
      MAX_REFILL_MS / 1000,
    );

    const error = thrown(() => parsePolicy({ ...atLimit, burst: MAX_REFILL_MS / 1000 + 1 }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toContain(`policy burst must be at most ${MAX_REFILL_MS / 1000}`);
  });

  it("longest default name is valid", () => {
    const policy = parsePolicy({
      limit: MAX,
      window: MAX_REFILL_MS - 1,
      algorithm: "leaky-bucket",
      burst: MAX - 1,
    });
    expect(policy.name).toBe(`${MAX}-per-${MAX_REFILL_MS - 1}ms-burst-${MAX - 1}-leaky-bucket`);
  });

  it("largest limit over ten years", () => {
    const policy = parsePolicy({ limit: MAX, window: TEN_YEARS, burst: MAX });
    // MAX and ten years in ms share no factor, so the exact rate needs MAX × TEN_YEARS units.
    expect(policy.rateInterval).toBe(1);
    expect(policy.rateUnits).toBe(Math.floor(MAX / TEN_YEARS));
    expect(policy.burst * policy.rateInterval).toBeLessThanOrEqual(MAX);
  });

  it("fine rate rounds down slightly", () => {
    const integers = fc.oneof(
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: MAX }),
      fc.constant(MAX),
    );
    fc.assert(
      fc.property(
        integers,
        fc.integer({ min: 1, max: MAX_REFILL_MS }),
        integers,
        (limit, window, wantedBurst) => {
          const maxBurst = (BigInt(MAX_REFILL_MS) * BigInt(limit)) / BigInt(window);
          const burst = Number(BigInt(wantedBurst) > maxBurst ? maxBurst : BigInt(wantedBurst));
          if (burst < 1) return;
          const policy = parsePolicy({ limit, window, burst, algorithm: "gcra" });
          const units = BigInt(policy.rateUnits);
          const interval = BigInt(policy.rateInterval);

          expect(Number.isSafeInteger(policy.burst * policy.rateInterval)).toBe(true);
          expect(policy.burst * policy.rateInterval).toBeLessThanOrEqual(MAX);
          // units / interval ≤ limit / window, and the shortfall is under 2 × refill / 2^53.
          expect(units * BigInt(window) <= BigInt(limit) * interval).toBe(true);
          const shortfall = BigInt(limit) * interval - units * BigInt(window);
          const refill = BigInt(burst) * BigInt(window);
          expect(shortfall * BigInt(2 ** 53) <= 2n * refill * interval).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("exact rate whenever it fits", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 86_400_000 }),
        fc.integer({ min: 1, max: 1000 }),
        (limit, window, burst) => {
          const policy = parsePolicy({ limit, window, burst, algorithm: "token-bucket" });
          expect(policy.rateUnits * window).toBe(limit * policy.rateInterval);
          expect(Number.isInteger(window / policy.rateInterval)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("checkCost", () => {
  it.each([1, 7, MAX])("accepts %d", (cost) => {
    expect(checkCost(cost)).toBe(cost);
  });

  it.each<[unknown, ErrorConstructor]>([
    [0, RangeError],
    [-1, RangeError],
    [1.5, RangeError],
    [Number.NaN, RangeError],
    [Number.POSITIVE_INFINITY, RangeError],
    [MAX + 1, RangeError],
    ["1", TypeError],
    [null, TypeError],
    [undefined, TypeError],
    [1n, TypeError],
  ])("rejects %s", (cost, type) => {
    const error = thrown(() => checkCost(cost));
    expect(error).toBeInstanceOf(type);
    expect(error.message).toMatch(/^cost must be a positive integer; received /);
  });
});

describe("parseDuration", () => {
  it.each([
    [250, 250],
    ["500ms", 500],
    ["1.5s", 1500],
    ["1s", 1000],
    ["2sec", 2000],
    ["1m", 60_000],
    ["2 min", 120_000],
    ["h", 3_600_000],
    ["1hr", 3_600_000],
    ["1.15h", 4_140_000],
    ["0.001s", 1],
    ["30d", 2_592_000_000],
    [" 10s ", 10_000],
  ])("%j is %d ms", (input, ms) => {
    expect(parseDuration(input, "window")).toBe(ms);
  });

  it.each<[unknown, ErrorConstructor]>([
    [0, RangeError],
    [-5, RangeError],
    [1.5, RangeError],
    [Number.NaN, RangeError],
    ["0s", RangeError],
    ["1.5ms", RangeError],
    ["0.0001s", RangeError],
    ["200000000d", RangeError],
    ["", TypeError],
    ["10", TypeError],
    ["1x", TypeError],
    ["-1s", TypeError],
    [".5s", TypeError],
    ["1S", TypeError],
    [true, TypeError],
    [null, TypeError],
  ])("rejects %j", (input, type) => {
    const error = thrown(() => parseDuration(input, "window"));
    expect(error).toBeInstanceOf(type);
    expect(error.message).toMatch(/^window must be /);
  });
});

describe("formatDuration", () => {
  it.each([
    [1, "1ms"],
    [1500, "1500ms"],
    [1000, "1s"],
    [90_000, "90s"],
    [60_000, "1m"],
    [3_600_000, "1h"],
    [86_400_000, "1d"],
    [TEN_YEARS, "3650d"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("round-trips through parseDuration", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_REFILL_MS }), (ms) => {
        expect(parseDuration(formatDuration(ms), "window")).toBe(ms);
      }),
    );
  });
});
