import fc from "fast-check";
import type { Cluster, Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../../src/limiter.js";
import type { PolicyInput } from "../../../src/policy/policy.js";
import { RedisStore } from "../../../src/stores/redis/index.js";
import { ALGORITHMS, type Decision } from "../../../src/types.js";
import { useRedis, useRedisCluster } from "../../support/redis-servers.js";
import { DEADLINE, keysWithPrefix, uniquePrefix } from "./support.js";

const TEN_YEARS = 10 * 365 * 24 * 3600 * 1000;

function verdicts(decisions: readonly Decision[]): string {
  return decisions.map((decision) => (decision.allowed ? "A" : "D")).join("");
}

describe("Redis store regressions", () => {
  const redis = useRedis();
  let shared: Redis | undefined;
  const connect = () => {
    shared ??= redis().client();
    return shared;
  };
  const limiterFor = (
    policy: PolicyInput | readonly PolicyInput[],
    prefix = uniquePrefix("field"),
  ) => {
    const store = new RedisStore({ client: connect(), prefix });
    return Array.isArray(policy)
      ? new RateLimiter({ policies: policy as readonly PolicyInput[], store, ...DEADLINE })
      : new RateLimiter({ policy: policy as PolicyInput, store, ...DEADLINE });
  };

  describe("fractions survive the trip through Redis", () => {
    it("one token per 2000 ms keeps its fraction", async () => {
      const limiter = limiterFor({ limit: 1, window: 2000, algorithm: "token-bucket" });
      const steps = [];
      for (const at of [0, 10, 1600, 2010]) steps.push(await limiter.check("u1", { at }));
      expect(steps.map((d) => [d.allowed, d.retryAfter])).toEqual([
        [true, 0],
        [false, 1990],
        [false, 400],
        [true, 0],
      ]);
    });

    it("half token survives between requests", async () => {
      const limiter = limiterFor({ limit: 1, window: 1000, burst: 2, algorithm: "token-bucket" });
      const steps = [];
      for (const at of [0, 0, 500, 1000, 1500]) steps.push(await limiter.check("u1", { at }));
      expect(verdicts(steps)).toBe("AADAD");
    });

    it.each([1500, 600, 333])("window of %i ms raises no error", async (window) => {
      const decisions: Decision[] = [];
      for (const algorithm of ALGORITHMS) {
        const limiter = limiterFor({ limit: 7, window, algorithm });
        for (let at = 0; at < 5 * window; at += 97)
          decisions.push(await limiter.check("u1", { at }));
      }
      expect(decisions.filter((decision) => decision.degraded)).toEqual([]);
    });
  });

  describe("client under the limit is never blocked", () => {
    it("three calls in a 10 s window", async () => {
      const limiter = limiterFor({ limit: 3, window: 10_000, algorithm: "fixed-window" });
      const steps = [];
      for (const at of [0, 4000, 8000, 10_500]) steps.push(await limiter.check("u1", { at }));
      expect(steps.map((d) => [d.allowed, d.remaining, d.resetAt])).toEqual([
        [true, 2, 10_000],
        [true, 1, 10_000],
        [true, 0, 10_000],
        [true, 2, 20_500],
      ]);
    });

    it("one call every 4 s for a minute", async () => {
      const limiter = limiterFor({ limit: 3, window: 10_000, algorithm: "fixed-window" });
      const steps = [];
      for (let at = 0; at <= 60_000; at += 4000) steps.push(await limiter.check("u1", { at }));
      expect(verdicts(steps)).toBe("A".repeat(16));
    });
  });

  describe("policies and keys never collide", () => {
    it("two limiters with default names keep apart", async () => {
      const prefix = uniquePrefix("field");
      const p = limiterFor("1/1s", prefix);
      const q = limiterFor("100/30s", prefix);
      const steps = [
        await p.check("u1", { at: 0 }),
        await q.check("u1", { at: 100 }),
        await p.check("u1", { at: 1500 }),
        // At Q's earlier time, so its refill of one unit per 300 ms cannot hide the count.
        await q.check("u1", { at: 100 }),
      ];
      expect(steps.map((d) => [d.allowed, d.remaining])).toEqual([
        [true, 0],
        [true, 99],
        [true, 0],
        [true, 98],
      ]);
    });

    it("policy a key b:c vs a.b key c", async () => {
      const prefix = uniquePrefix("field");
      const a = limiterFor({ name: "a", limit: 2, window: 60_000 }, prefix);
      const ab = limiterFor({ name: "a.b", limit: 2, window: 60_000 }, prefix);
      await a.check("b:c", { at: 0 });
      expect((await ab.check("c", { at: 0 })).remaining).toBe(1);
    });

    it("number 1 and string 1 are one key", async () => {
      const limiter = limiterFor({ limit: 2, window: 60_000 });
      await limiter.check(1, { at: 0 });
      expect((await limiter.check("1", { at: 0 })).remaining).toBe(0);
    });

    it("NFC and NFD keys count apart", async () => {
      const limiter = limiterFor({ limit: 2, window: 60_000 });
      await limiter.check("caf\u00e9", { at: 0 });
      expect((await limiter.check("cafe\u0301", { at: 0 })).remaining).toBe(1);
    });

    it.each([
      ["10 KB key", "k".repeat(10_240)],
      ["empty key", ""],
      ["braces and colons", "}{:a}b{"],
      ["lone surrogate", "\uDC00x"],
      ["emoji", "👩‍💻"],
    ])("%s counts on its own", async (_name, key) => {
      const limiter = limiterFor({ limit: 2, window: 60_000 });
      const first = await limiter.check(key, { at: 0 });
      const second = await limiter.check(key, { at: 0 });
      const other = await limiter.check(`${key}x`, { at: 0 });
      expect([first.remaining, second.remaining, other.remaining]).toEqual([1, 0, 1]);
    });
  });

  describe("Retry-After is honest", () => {
    it("one token per 1500 ms", async () => {
      const limiter = limiterFor({ limit: 1, window: 1500, algorithm: "token-bucket" });
      const steps = [];
      for (const at of [0, 0, 1000, 2000]) steps.push(await limiter.check("u1", { at }));
      expect(steps.map((d) => [d.allowed, d.retryAfter])).toEqual([
        [true, 0],
        [false, 1500],
        [false, 500],
        [true, 0],
      ]);
    });

    it("same cost passes after retryAfter", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...ALGORITHMS),
          fc.integer({ min: 1, max: 6 }),
          fc.constantFrom(1, 333, 1000, 1500),
          fc.array(fc.record({ dt: fc.nat(700), cost: fc.integer({ min: 1, max: 3 }) }), {
            minLength: 1,
            maxLength: 25,
          }),
          async (algorithm, limit, window, traffic) => {
            const limiter = limiterFor({ limit: Math.max(limit, 3), window, algorithm });
            let at = 0;
            for (const { dt, cost } of traffic) {
              at += dt;
              const decision = await limiter.check("u1", { at, cost });
              if (decision.allowed) continue;
              const later = await limiter.peek("u1", { at: at + decision.retryAfter, cost });
              expect(later.allowed, `${cost} at ${at} + ${decision.retryAfter}`).toBe(true);
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  });

  describe("rejected request costs nothing", () => {
    const bucket = { limit: 1, window: 1000, burst: 10, algorithm: "token-bucket" as const };

    it("rejected cost leaves the tokens", async () => {
      const limiter = limiterFor(bucket);
      const steps = [
        await limiter.check("u1", { at: 0, cost: 8 }),
        await limiter.check("u1", { at: 0, cost: 5 }),
        await limiter.check("u1", { at: 0, cost: 2 }),
      ];
      expect(steps.map((d) => [d.allowed, d.remaining, d.retryAfter])).toEqual([
        [true, 2, 0],
        [false, 2, 3000],
        [true, 0, 0],
      ]);
    });

    it("impossible cost leaves the key alone", async () => {
      const prefix = uniquePrefix("field");
      const limiter = limiterFor(bucket, prefix);
      await limiter.check("u2", { at: 0 });
      const impossible = await limiter.check("u2", { at: 0, cost: 1_000_000 });
      const [key] = await keysWithPrefix(connect(), prefix);
      const ttl = await connect().pttl(key as string);
      const after = await limiter.check("u2", { at: 1000 });
      expect([impossible.reason, impossible.remaining, ttl <= 10_000, after.allowed]).toEqual([
        "cost-exceeds-capacity",
        9,
        true,
        true,
      ]);
    });

    it("cost above capacity 1 fails every time", async () => {
      const limiter = limiterFor({ limit: 1, window: 1000, algorithm: "token-bucket" });
      const steps = [];
      for (let i = 0; i < 3; i++) steps.push(await limiter.check("u3", { at: 0, cost: 5 }));
      steps.push(await limiter.check("u3", { at: 0 }));
      expect(steps.map((d) => d.reason)).toEqual([
        "cost-exceeds-capacity",
        "cost-exceeds-capacity",
        "cost-exceeds-capacity",
        "allowed",
      ]);
    });
  });

  describe("refill progress is never thrown away", () => {
    it("token bucket calls every 400 ms", async () => {
      const limiter = limiterFor({ limit: 2, window: 1000, algorithm: "token-bucket" });
      await limiter.check("u1", { at: 0 });
      await limiter.check("u1", { at: 0 });
      const steps = new Map<number, Decision>();
      for (let at = 400; at <= 10_000; at += 400) steps.set(at, await limiter.check("u1", { at }));
      const allowed = [...steps.values()].filter((decision) => decision.allowed).length;
      expect(Math.abs(allowed - 20)).toBeLessThanOrEqual(1);
      expect([steps.get(2000)?.allowed, steps.get(2000)?.remaining]).toEqual([true, 0]);
    });

    it("leaky bucket level drains exactly", async () => {
      const limiter = limiterFor({ limit: 10, window: 30_000, algorithm: "leaky-bucket" });
      const remaining = [];
      for (let at = 0; at <= 10_000; at += 1000) {
        remaining.push((await limiter.check("u1", { at })).remaining);
      }
      expect(remaining).toEqual([9, 8, 7, 7, 6, 5, 5, 4, 3, 3, 2]);
    });
  });

  it("sliding window weighs the previous window", async () => {
    const limiter = limiterFor({ limit: 10, window: 10_000, algorithm: "sliding-window" });
    const first = [];
    for (let i = 0; i < 10; i++) first.push(await limiter.check("u1", { at: 9000 }));
    const second = [];
    for (let i = 0; i < 10; i++) second.push(await limiter.check("u1", { at: 11_000 }));
    const third = [];
    for (let i = 0; i < 5; i++) third.push(await limiter.check("u1", { at: 15_000 }));
    expect([verdicts(first), verdicts(second), verdicts(third)]).toEqual([
      "AAAAAAAAAA",
      "ADDDDDDDDD",
      "AAAAD",
    ]);
    expect(third.map((decision) => decision.remaining)).toEqual([3, 2, 1, 0, 0]);
  });

  describe.each(ALGORITHMS)("limit 2^53 - 1 per 10 years, %s", (algorithm) => {
    it("integer decisions, server stays up", async () => {
      const limiter = limiterFor({ limit: Number.MAX_SAFE_INTEGER, window: TEN_YEARS, algorithm });
      const decisions: Decision[] = [];
      for (const [at, cost] of [
        [0, 1],
        [0, Number.MAX_SAFE_INTEGER - 1],
        [0, 2],
        [TEN_YEARS / 2, 2 ** 52],
        [TEN_YEARS * 3, 1],
      ] as const) {
        decisions.push(await limiter.check("u1", { at, cost }));
      }
      const fields = decisions.flatMap((d) => [d.remaining, d.resetAt, d.retryAfter]);
      expect(fields.filter((value) => !Number.isSafeInteger(value) || value < 0)).toEqual([]);
      expect(decisions.filter((decision) => decision.degraded)).toEqual([]);
      expect(await connect().ping()).toBe("PONG");
    });
  });
});

describe("odd keys on a Redis Cluster", () => {
  const cluster = useRedisCluster();
  let shared: Cluster | undefined;

  it.each([
    ["10 KB key", "k".repeat(10_240)],
    ["empty key", ""],
    ["braces", "}{a}b{"],
    ["emoji", "👩‍💻"],
  ])("%s checked against two policies", async (_name, key) => {
    shared ??= cluster().client();
    const limiter = new RateLimiter({
      policies: ["2/1m", "10/1h"],
      store: new RedisStore({ client: shared, prefix: uniquePrefix("field") }),
      ...DEADLINE,
    });
    const decisions = [await limiter.check(key), await limiter.check(key)];
    expect(decisions.map((decision) => [decision.reason, decision.remaining])).toEqual([
      ["allowed", 1],
      ["allowed", 0],
    ]);
  });
});
