import { describe, expect, it } from "vitest";
import { leakyBucket } from "../../src/algorithms/leaky-bucket.js";
import { RateLimiter } from "../../src/limiter.js";
import { MemoryStore } from "../../src/stores/memory/memory-store.js";
import { directKey as directKeyOf } from "./direct-key.js";

const directKey = (options: Parameters<typeof directKeyOf>[1]) => directKeyOf(leakyBucket, options);

const quiet = { warn() {}, error() {} };

describe("leaky bucket", () => {
  it("leaks in exact units", () => {
    // 3 per 1000 ms: the level in thousandths, 3 thousandths leak per ms.
    const key = directKey({ limit: 3, window: 1000 });

    const first = key.check(0, 2);
    expect(first).toMatchObject({ allowed: true, remaining: 1, resetAt: 667, ttl: 667 });
    expect(key.state()).toEqual([2000, 0, 1000]);

    const second = key.check(100);
    expect(second).toMatchObject({ allowed: true, remaining: 0, resetAt: 1000, retryAfter: 0 });
    expect(key.state()).toEqual([2700, 100, 1000]);

    const denied = key.check(200);
    expect(denied).toMatchObject({ allowed: false, remaining: 0, resetAt: 1000 });
    expect(denied.retryAfter).toBe(134);
    expect(key.state()).toEqual([2700, 100, 1000]);

    const third = key.check(334);
    expect(third).toMatchObject({ allowed: true, remaining: 0, resetAt: 1334 });
    expect(key.state()).toEqual([2998, 334, 1000]);
  });

  it("bucket drains to empty", () => {
    const key = directKey({ limit: 3, window: 1000 });
    key.check(0, 3);
    const later = key.check(100_000);
    expect(later.remaining).toBe(2);
    expect(later.resetAt).toBe(100_334);
    expect(key.state()).toEqual([1000, 100_000, 1000]);
  });

  it("earlier stamp is decided at state time", () => {
    const key = directKey({ limit: 1, window: 1000 });
    key.check(1000);

    const early = key.check(500);
    expect(early.allowed).toBe(false);
    expect(early.now).toBe(1000);
    expect(early.retryAfter).toBe(1000);
    expect(key.check(1999).allowed).toBe(false);
    expect(key.check(2000).allowed).toBe(true);
  });

  it("earlier stamp never moves state back", () => {
    const key = directKey({ limit: 1, window: 1000, burst: 2 });
    key.check(1000);
    expect(key.check(400).allowed).toBe(true);
    expect(key.state()).toEqual([2000, 1000, 1000]);

    const later = key.check(1500);
    expect(later.allowed).toBe(false);
    expect(later.retryAfter).toBe(500);
  });

  it("cost of exactly the burst", () => {
    const key = directKey({ limit: 5, window: 1000 });
    expect(key.check(0, 5)).toMatchObject({ allowed: true, remaining: 0, resetAt: 1000 });
    expect(key.check(0, 5)).toMatchObject({ allowed: false, retryAfter: 1000 });
    expect(key.check(999, 5)).toMatchObject({ allowed: false, retryAfter: 1 });
    expect(key.check(1000, 5).allowed).toBe(true);
  });

  it("cost above capacity leaves state", () => {
    const limiter = new RateLimiter({
      policy: { limit: 5, window: 1000, algorithm: "leaky-bucket" },
    });
    const before = limiter.checkSync("k", { at: 0, cost: 3 });

    const huge = limiter.checkSync("k", { at: 0, cost: 6 });
    expect(huge.allowed).toBe(false);
    expect(huge.reason).toBe("cost-exceeds-capacity");
    expect(huge.retryAfter).toBe(0);
    expect(huge.remaining).toBe(before.remaining);
    expect(huge.resetAt).toBe(before.resetAt);
    expect(limiter.checkSync("k", { at: 0, cost: 2 })).toMatchObject({
      allowed: true,
      remaining: 0,
    });
  });

  it("peek consumes nothing", () => {
    const limiter = new RateLimiter({
      policy: { limit: 2, window: 1000, algorithm: "leaky-bucket" },
    });
    for (let i = 0; i < 5; i++) {
      expect(limiter.peekSync("k", { at: 0 }).remaining).toBe(1);
    }
    expect(limiter.checkSync("k", { at: 0 }).remaining).toBe(1);
    expect(limiter.peekSync("k", { at: 0, cost: 2 }).allowed).toBe(false);
    expect(limiter.checkSync("k", { at: 0 }).allowed).toBe(true);
  });

  it("rate change rescales the level", () => {
    // Two requests in flight, kept in thousandths; the new rate counts in five-hundredths.
    const key = directKey({ name: "p", limit: 3, window: 1000 });
    key.check(0, 2);
    key.change({ name: "p", limit: 2, window: 1000, burst: 3 });

    expect(key.check(0)).toMatchObject({ allowed: true, remaining: 0 });
    const denied = key.check(0);
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfter).toBe(500);
  });

  it("rescaled level rounds up", () => {
    const key = directKey({ name: "p", limit: 3, window: 1000, burst: 2 });
    key.check(0, 2);
    key.check(500);
    expect(key.state()).toEqual([1500, 500, 1000]);

    // A level of 1.5 in sevenths is 10.5 sevenths; the bucket keeps 11.
    key.change({ name: "p", limit: 1, window: 7, burst: 2 });
    const read = key.check(500, 0);
    expect(read.next0).toBe(11);
    expect(read.next2).toBe(7);
  });

  it("larger burst has room at once", () => {
    // The level is the quota in use, and it carries over: 5 of 10 are in use.
    const key = directKey({ name: "p", limit: 5, window: 1000 });
    key.check(0, 5);
    key.change({ name: "p", limit: 5, window: 1000, burst: 10 });

    expect(key.check(0)).toMatchObject({ allowed: true, remaining: 4 });
  });

  it("smaller bucket spills its excess", () => {
    const key = directKey({ name: "p", limit: 10, window: 1000 });
    key.check(0, 8);
    key.change({ name: "p", limit: 10, window: 1000, burst: 5 });

    expect(key.check(0, 0).remaining).toBe(0);
    expect(key.check(0)).toMatchObject({ allowed: false, retryAfter: 100 });
    expect(key.check(100)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("policy change through a shared store", () => {
    const store = new MemoryStore({ logger: quiet });
    const before = new RateLimiter({
      store,
      logger: quiet,
      policy: { name: "api", limit: 3, window: 1000, algorithm: "leaky-bucket" },
    });
    const after = new RateLimiter({
      store,
      logger: quiet,
      policy: { name: "api", limit: 2, window: 1000, burst: 3, algorithm: "leaky-bucket" },
    });
    expect(before.checkSync("k", { at: 0, cost: 2 }).remaining).toBe(1);
    expect(after.checkSync("k", { at: 0 })).toMatchObject({ allowed: true, remaining: 0 });
    expect(after.checkSync("k", { at: 0 }).retryAfter).toBe(500);
  });

  it.each([
    { limit: 1, window: 1 },
    { limit: 7, window: 333, burst: 50 },
    { limit: 9, window: 1500, burst: 1 },
    { limit: 7, window: 86_400_000, burst: 1000 },
    { limit: 1_000_003, window: 999_983, burst: 3 },
  ])("fields stay whole for $limit/$window", (options) => {
    const key = directKey(options);
    const capacity = options.burst ?? options.limit;
    const times = [0, 0, 1, 2, 333, 334, 1000, 5000, 5000, 86_400_000];
    for (const [index, at] of times.entries()) {
      const verdict = key.check(at, 1 + (index % capacity));
      for (const [field, value] of Object.entries(verdict)) {
        if (typeof value !== "number") continue;
        expect(Number.isSafeInteger(value), `${field} at ${at}`).toBe(true);
        expect(value, `${field} at ${at}`).toBeGreaterThanOrEqual(0);
        expect(Object.is(value, -0), `${field} at ${at}`).toBe(false);
      }
    }
  });
});
