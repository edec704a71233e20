import { describe, expect, it } from "vitest";
import { BlockCache } from "../../src/failure/block-cache.js";
import type { Decision } from "../../src/types.js";

const rejection: Decision = {
  allowed: false,
  limit: 3,
  remaining: 0,
  resetAt: 5000,
  retryAfter: 1000,
  policy: "p",
  reason: "limit-exceeded",
  degraded: false,
};

describe("BlockCache", () => {
  it("blocks the same cost until the deadline", () => {
    const cache = new BlockCache(10);
    cache.block("u1", { until: 1000, cost: 1, decision: rejection });

    expect(cache.lookup("u1", 1, 999)?.until).toBe(1000);
    expect(cache.lookup("u1", 1, 1000)).toBeUndefined();
  });

  it("lets a smaller cost ask the store", () => {
    const cache = new BlockCache(10);
    cache.block("u1", { until: 1000, cost: 5, decision: rejection });

    expect(cache.lookup("u1", 4, 0)).toBeUndefined();
    expect(cache.lookup("u1", 6, 0)).toBeDefined();
  });

  it("drops expired entries on lookup", () => {
    const cache = new BlockCache(10);
    cache.block("u1", { until: 1000, cost: 1, decision: rejection });
    cache.lookup("u1", 1, 2000);

    expect(cache.size).toBe(0);
  });

  it("never grows past its bound", () => {
    const cache = new BlockCache(3);
    for (let i = 0; i < 10; i++)
      cache.block(`u${i}`, { until: 1000, cost: 1, decision: rejection });

    expect(cache.size).toBe(3);
    expect(cache.lookup("u0", 1, 0)).toBeUndefined();
    expect(cache.lookup("u9", 1, 0)).toBeDefined();
  });
});
