import { describe, expect, it, vi } from "vitest";
import { StoreTimeoutError } from "../../src/errors.js";
import { RateLimiter } from "../../src/limiter.js";
import type { Policy } from "../../src/policy/policy.js";
import { MemoryStore } from "../../src/stores/memory/memory-store.js";
import type { ConsumeRequest, Outcome, Store } from "../../src/stores/store.js";
import type { Logger } from "../../src/types.js";

type Behaviour = "ok" | "hang" | "fail";

/** An asynchronous store over a MemoryStore whose calls can be made to hang or fail. */
class FlakyStore implements Store {
  behaviour: Behaviour = "ok";
  calls = 0;
  readonly inner = new MemoryStore();

  async consume(request: ConsumeRequest): Promise<Outcome[]> {
    this.calls++;
    if (this.behaviour === "hang") return new Promise(() => {});
    if (this.behaviour === "fail") throw new Error("connection refused");
    return this.inner.consume(request);
  }

  async reset(key: string, policies: readonly Policy[]): Promise<void> {
    await this.inner.reset(key, policies);
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}

function quietLogger(): Logger & { errors: unknown[][] } {
  const errors: unknown[][] = [];
  return { errors, warn: () => {}, error: (...args: unknown[]) => errors.push(args) };
}

describe("RateLimiter with a failing store", () => {
  it("hung store costs one deadline", async () => {
    const store = new FlakyStore();
    store.behaviour = "hang";
    const limiter = new RateLimiter({
      policy: { limit: 3, window: 60_000, failureMode: "open" },
      store,
      timeout: 30,
      logger: quietLogger(),
    });

    const started = performance.now();
    const decision = await limiter.check("u1");
    const elapsed = performance.now() - started;

    expect(decision.allowed).toBe(true);
    expect(decision.degraded).toBe(true);
    expect(decision.reason).toBe("store-timeout");
    expect(elapsed).toBeLessThan(30 + 50);
  });

  it("closed mode rejects with a retry hint", async () => {
    const store = new FlakyStore();
    store.behaviour = "fail";
    const limiter = new RateLimiter({
      policy: { limit: 3, window: 60_000, failureMode: "closed" },
      store,
      logger: quietLogger(),
    });

    const decision = await limiter.check("u1");

    expect(decision.allowed).toBe(false);
    expect(decision.degraded).toBe(true);
    expect(decision.reason).toBe("store-error");
    expect(decision.retryAfter).toBeGreaterThanOrEqual(1000);
    expect(decision.remaining).toBe(0);
  });

  it("local mode limits to its share", async () => {
    const store = new FlakyStore();
    store.behaviour = "fail";
    const limiter = new RateLimiter({
      policy: { limit: 10, window: 60_000, failureMode: "local" },
      store,
      localShare: 0.5,
      logger: quietLogger(),
    });

    const allowed: boolean[] = [];
    for (let i = 0; i < 7; i++) allowed.push(await limiter.allow("u1"));

    expect(allowed).toEqual([true, true, true, true, true, false, false]);
  });

  it("mixed modes: closed policy wins", async () => {
    const store = new FlakyStore();
    store.behaviour = "fail";
    const limiter = new RateLimiter({
      policies: [
        { name: "burst", limit: 10, window: 1000, failureMode: "open" },
        { name: "daily", limit: 1000, window: "1d", failureMode: "closed" },
      ],
      store,
      logger: quietLogger(),
    });

    const decision = await limiter.check("u1");

    expect(decision.allowed).toBe(false);
    expect(decision.policy).toBe("daily");
  });

  it("open circuit skips the store", async () => {
    const store = new FlakyStore();
    store.behaviour = "fail";
    const limiter = new RateLimiter({
      policy: { limit: 3, window: 60_000, failureMode: "open" },
      store,
      circuitBreaker: { failureThreshold: 3, openDuration: 10_000 },
      logger: quietLogger(),
    });

    for (let i = 0; i < 3; i++) await limiter.check("u1");
    const callsWhenOpened = store.calls;
    const decision = await limiter.check("u1");

    expect(store.calls).toBe(callsWhenOpened);
    expect(decision.reason).toBe("store-unavailable");
    expect(decision.degraded).toBe(true);
  });

  it("recovers after the store returns", async () => {
    let now = 1_000_000;
    const store = new FlakyStore();
    store.behaviour = "fail";
    const limiter = new RateLimiter({
      policy: { limit: 3, window: 60_000, failureMode: "open" },
      store,
      clock: () => now,
      circuitBreaker: { failureThreshold: 2, openDuration: 500 },
      logger: quietLogger(),
    });
    for (let i = 0; i < 2; i++) await limiter.check("u1");

    store.behaviour = "ok";
    now += 500;
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await limiter.check("u2"));

    expect(decisions.map((d) => d.degraded)).toEqual([false, false, false, false]);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
  });

  it("logs failures once per interval", async () => {
    const logger = quietLogger();
    const store = new FlakyStore();
    store.behaviour = "fail";
    const limiter = new RateLimiter({
      policy: { limit: 3, window: 60_000, failureMode: "open" },
      store,
      circuitBreaker: { failureThreshold: 1000 },
      errorLogInterval: 60_000,
      logger,
    });

    for (let i = 0; i < 50; i++) await limiter.check(`u${i}`);

    expect(logger.errors).toHaveLength(1);
  });

  it("late rejection is not unhandled", async () => {
    const unhandled = vi.fn();
    process.on("unhandledRejection", unhandled);
    const store: Store = {
      consume: () =>
        new Promise((_resolve, reject) => setTimeout(() => reject(new Error("late")), 40)),
      reset: async () => {},
      close: async () => {},
    };
    const limiter = new RateLimiter({ policy: "3/1m", store, timeout: 10, logger: quietLogger() });

    const decision = await limiter.check("u1");
    await new Promise((resolve) => setTimeout(resolve, 80));
    process.off("unhandledRejection", unhandled);

    expect(decision.reason).toBe("store-timeout");
    expect(unhandled).not.toHaveBeenCalled();
  });

  it("blocked key is answered without the store", async () => {
    let now = 1_000_000;
    const store = new FlakyStore();
    const limiter = new RateLimiter({
      policy: { limit: 1, window: 1000 },
      store,
      clock: () => now,
    });

    await limiter.check("u1");
    const rejected = await limiter.check("u1");
    const callsAfterRejection = store.calls;
    now += 400;
    const blocked = await limiter.check("u1");

    expect(rejected.reason).toBe("limit-exceeded");
    expect(blocked.reason).toBe("blocked");
    expect(blocked.allowed).toBe(false);
    expect(blocked.retryAfter).toBe(rejected.retryAfter - 400);
    expect(store.calls).toBe(callsAfterRejection);
  });

  it("blocked key asks the store once free", async () => {
    let now = 1_000_000;
    const store = new FlakyStore();
    const limiter = new RateLimiter({
      policy: { limit: 1, window: 1000 },
      store,
      clock: () => now,
    });

    await limiter.check("u1");
    const rejected = await limiter.check("u1");
    now += rejected.retryAfter;
    const decision = await limiter.check("u1");

    expect(decision.allowed).toBe(true);
    expect(decision.reason).toBe("allowed");
  });

  it("reset clears the block", async () => {
    const now = 1_000_000;
    const store = new FlakyStore();
    const limiter = new RateLimiter({
      policy: { limit: 1, window: 1000 },
      store,
      clock: () => now,
    });

    await limiter.check("u1");
    await limiter.check("u1");
    await limiter.reset("u1");
    const decision = await limiter.check("u1");

    expect(decision.allowed).toBe(true);
  });

  it("rejects invalid failure options", () => {
    const store = new FlakyStore();
    expect(() => new RateLimiter({ policy: "1/s", store, timeout: 0 })).toThrow(RangeError);
    expect(() => new RateLimiter({ policy: "1/s", store, localShare: 0 })).toThrow(/localShare/);
    expect(() => new RateLimiter({ policy: "1/s", store, localShare: 1.5 })).toThrow(RangeError);
    expect(() => new RateLimiter({ policy: "1/s", store, blockCacheSize: -1 })).toThrow(
      /blockCacheSize/,
    );
  });
});

describe("RateLimiter reset with a failing store", () => {
  it("hung store reset times out", async () => {
    const store = new FlakyStore();
    const limiter = new RateLimiter({ policy: "3/1m", store, timeout: 20, logger: quietLogger() });
    store.reset = () => new Promise(() => {});

    await expect(limiter.reset("u1")).rejects.toBeInstanceOf(StoreTimeoutError);
  });
});
