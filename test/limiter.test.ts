import { describe, expect, it } from "vitest";
import { ClosedError, INVALID_ARGUMENT } from "../src/errors.js";
import { RateLimiter, type RateLimiterOptions } from "../src/limiter.js";
import type { Policy } from "../src/policy/policy.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import type { ConsumeRequest, Outcome, Store } from "../src/stores/store.js";

/** Creates a store on a hand-moved clock with the background sweep off. */
function setup() {
  const clock = { now: 0 };
  const store = new MemoryStore({ clock: () => clock.now, sweepInterval: 0 });
  return { clock, store };
}

/** A store that decides only through promises, like a network store, over a MemoryStore. */
class AsyncStore implements Store {
  readonly inner = new MemoryStore({ clock: () => 0, sweepInterval: 0 });

  async consume(request: ConsumeRequest): Promise<Outcome[]> {
    return this.inner.consume(request);
  }

  async reset(key: string, policies: readonly Policy[]): Promise<void> {
    await this.inner.reset(key, policies);
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}

describe("RateLimiter decisions", () => {
  it("returns the same decisions sync and async", async () => {
    const syncSide = setup();
    const asyncSide = setup();
    const policy = { limit: 3, window: 1000, algorithm: "token-bucket" } as const;
    const syncLimiter = new RateLimiter({ policy, store: syncSide.store });
    const asyncLimiter = new RateLimiter({ policy, store: asyncSide.store });

    for (const [step, now] of [0, 0, 0, 0, 200, 400, 400, 1500].entries()) {
      syncSide.clock.now = now;
      asyncSide.clock.now = now;
      expect(syncLimiter.peekSync("a"), `peek at step ${step}`).toEqual(
        await asyncLimiter.peek("a"),
      );
      if (step % 2 === 0) {
        expect(syncLimiter.checkSync("a"), `check at step ${step}`).toEqual(
          await asyncLimiter.check("a"),
        );
      } else {
        expect(syncLimiter.allowSync("a"), `allow at step ${step}`).toBe(
          await asyncLimiter.allow("a"),
        );
      }
    }
  });

  it("consumes nothing on peek", () => {
    const { store } = setup();
    const limiter = new RateLimiter({ policy: "2/s", store });

    limiter.peekSync("a");
    limiter.peekSync("a");

    expect(limiter.checkSync("a").remaining).toBe(1);
  });

  it("returns allow as a boolean", async () => {
    const { store } = setup();
    const limiter = new RateLimiter({ policy: "1/s", store });

    expect(await limiter.allow("a")).toBe(true);
    expect(await limiter.allow("a")).toBe(false);
  });

  it("reports the policy and its limit", () => {
    const { store } = setup();
    const limiter = new RateLimiter({ policy: { name: "api", limit: 5, window: "1m" }, store });

    const decision = limiter.checkSync("a");

    expect(decision).toMatchObject({
      allowed: true,
      limit: 5,
      remaining: 4,
      policy: "api",
      reason: "allowed",
      degraded: false,
    });
  });

  it("rejects a cost beyond capacity for good", () => {
    const { store } = setup();
    const limiter = new RateLimiter({ policy: "5/s", store });
    limiter.checkSync("a");

    const decision = limiter.checkSync("a", { cost: 6 });

    expect(decision.allowed).toBe(false);
    expect(decision.reason).toBe("cost-exceeds-capacity");
    expect(decision.retryAfter).toBe(0);
    expect(limiter.checkSync("a").remaining).toBe(3);
  });

  it("stamps requests with its clock", () => {
    const store = new MemoryStore({ clock: () => 0, sweepInterval: 0 });
    const limiter = new RateLimiter({
      policy: { limit: 1, window: 1000, algorithm: "fixed-window" },
      store,
      clock: () => 5000,
    });

    expect(limiter.checkSync("a").resetAt).toBe(6000);
  });

  it("decides at a request's own time", () => {
    const { store } = setup();
    const limiter = new RateLimiter({
      policy: { limit: 1, window: 1000, algorithm: "fixed-window" },
      store,
    });
    limiter.checkSync("a", { at: 10_000 });

    expect(limiter.checkSync("a", { at: 10_999 }).allowed).toBe(false);
    expect(limiter.checkSync("a", { at: 11_000 }).allowed).toBe(true);
  });
});

describe("RateLimiter multiple policies", () => {
  it("consumes from every policy when all allow", () => {
    const { store } = setup();
    const limiter = new RateLimiter({ policies: ["10/s", "1000/h"], store });
    const hourly = new RateLimiter({ policy: "1000/h", store });

    for (let i = 0; i < 10; i++) limiter.checkSync("a");

    expect(hourly.peekSync("a").remaining).toBe(989);
  });

  it("consumes nothing when one denies", () => {
    const { clock, store } = setup();
    const limiter = new RateLimiter({ policies: ["10/s", "1000/h"], store });
    const hourly = new RateLimiter({ policy: "1000/h", store });
    for (let i = 0; i < 10; i++) limiter.checkSync("a");

    const denied = limiter.checkSync("a");

    expect(denied.allowed).toBe(false);
    expect(denied.policy).toBe("10-per-1s-gcra");
    expect(hourly.peekSync("a").remaining).toBe(989);
    clock.now = 1000;
    expect(limiter.checkSync("a").allowed).toBe(true);
  });

  it("leaves an allowing policy untouched on denial", () => {
    const { clock, store } = setup();
    const limiter = new RateLimiter({ policies: ["10/s", "12/h"], store });
    const perSecond = new RateLimiter({ policy: "10/s", store });
    for (let i = 0; i < 10; i++) limiter.checkSync("a");
    clock.now = 1000;
    limiter.checkSync("a");
    limiter.checkSync("a");

    const denied = limiter.checkSync("a");

    expect(denied.allowed).toBe(false);
    expect(denied.policy).toBe("12-per-1h-gcra");
    expect(perSecond.peekSync("a").remaining).toBe(7);
  });

  it.each([
    [["10/s", "1000/h"], "10-per-1s-gcra", 9],
    [["100/s", "5/h"], "5-per-1h-gcra", 4],
  ])("reports the fewest remaining of %j", (policies, expected, remaining) => {
    const { store } = setup();
    const limiter = new RateLimiter({ policies, store });

    const decision = limiter.checkSync("a");

    expect(decision.policy).toBe(expected);
    expect(decision.remaining).toBe(remaining);
  });

  it.each([[["1/s", "1/h"]], [["1/h", "1/s"]]])(
    "reports the longest retryAfter of %j",
    (policies) => {
      const { store } = setup();
      const limiter = new RateLimiter({ policies, store });
      limiter.checkSync("a");

      const decision = limiter.checkSync("a");

      expect(decision.allowed).toBe(false);
      expect(decision.policy).toBe("1-per-1h-gcra");
      expect(decision.retryAfter).toBe(3_600_000);
    },
  );
});

describe("RateLimiter options", () => {
  it.each([
    [
      "explicit names",
      [
        { name: "x", limit: 1, window: 1000 },
        { name: "x", limit: 2, window: 1000 },
      ],
    ],
    ["default names", ["10/s", "10/s"]],
  ])("rejects duplicate %s", (_name, policies) => {
    expect(() => new RateLimiter({ policies })).toThrow(TypeError);
  });

  it("rejects policy with policies", () => {
    const options: RateLimiterOptions = { policy: "1/s", policies: ["2/s"] };
    expect(() => new RateLimiter(options)).toThrow(TypeError);
  });

  it("rejects an empty policies list", () => {
    expect(() => new RateLimiter({ policies: [] })).toThrow(TypeError);
  });

  it("rejects options without a policy", () => {
    expect(() => new RateLimiter({})).toThrow(TypeError);
  });

  it("rejects a clock that is not a function", () => {
    const options = { policy: "1/s", clock: 5 } as unknown as RateLimiterOptions;
    expect(() => new RateLimiter(options)).toThrow(TypeError);
  });
});

describe("RateLimiter arguments", () => {
  it.each([
    ["NaN", Number.NaN, RangeError],
    ["-1", -1, RangeError],
    ["Infinity", Number.POSITIVE_INFINITY, RangeError],
    ['"1"', "1", TypeError],
  ])("rejects at %s", (_name, at, errorType) => {
    const { store } = setup();
    const limiter = new RateLimiter({ policy: "1/s", store });
    const check = () => limiter.checkSync("a", { at: at as number });

    expect(check).toThrow(errorType);
    expect(check).toThrow(expect.objectContaining({ code: INVALID_ARGUMENT }));
  });

  it("rejects at in the async check", async () => {
    const { store } = setup();
    const limiter = new RateLimiter({ policy: "1/s", store });

    await expect(limiter.check("a", { at: -1 })).rejects.toBeInstanceOf(RangeError);
  });

  it.each([
    ["0", 0, RangeError],
    ["-1", -1, RangeError],
    ["1.5", 1.5, RangeError],
    ["NaN", Number.NaN, RangeError],
    ['"1"', "1", TypeError],
  ])("rejects cost %s", (_name, cost, errorType) => {
    const { store } = setup();
    const limiter = new RateLimiter({ policy: "1/s", store });

    expect(() => limiter.checkSync("a", { cost: cost as number })).toThrow(errorType);
  });
});

describe("RateLimiter stores", () => {
  it("decides through an async store", async () => {
    const store = new AsyncStore();
    const limiter = new RateLimiter({ policy: "2/s", store });

    expect(limiter.synchronous).toBe(false);
    expect((await limiter.check("a")).remaining).toBe(1);
    expect((await limiter.peek("a")).remaining).toBe(0);
  });

  it("refuses checkSync on an async store", () => {
    const limiter = new RateLimiter({ policy: "2/s", store: new AsyncStore() });

    expect(() => limiter.checkSync("a")).toThrow(TypeError);
    expect(() => limiter.peekSync("a")).toThrow(TypeError);
    expect(() => limiter.allowSync("a")).toThrow(TypeError);
  });

  it("is synchronous on the memory store", () => {
    expect(new RateLimiter({ policy: "2/s" }).synchronous).toBe(true);
  });

  it("forgets a key on reset", async () => {
    const { store } = setup();
    const limiter = new RateLimiter({ policies: ["2/s", "5/m"], store });
    limiter.checkSync("a");
    limiter.checkSync("a");

    await limiter.reset("a");

    expect(limiter.checkSync("a").remaining).toBe(1);
  });
});

describe("RateLimiter close", () => {
  it("rejects check after close", async () => {
    const limiter = new RateLimiter({ policy: "2/s" });
    await limiter.close();

    await expect(limiter.check("a")).rejects.toBeInstanceOf(ClosedError);
    await expect(limiter.peek("a")).rejects.toBeInstanceOf(ClosedError);
    await expect(limiter.reset("a")).rejects.toBeInstanceOf(ClosedError);
    expect(() => limiter.checkSync("a")).toThrow(ClosedError);
  });

  it("closes a store it created", async () => {
    const limiter = new RateLimiter({ policy: "2/s" });
    const store = limiter.store as MemoryStore;
    await limiter.close();

    expect(() =>
      store.consumeSync(
        { key: "a", policies: limiter.policies, cost: 1, at: undefined, dryRun: false },
        [],
      ),
    ).toThrow(ClosedError);
  });

  it("leaves a given store open", async () => {
    const { store } = setup();
    const first = new RateLimiter({ policy: "2/s", store });
    const second = new RateLimiter({ policy: "2/s", store });
    await first.close();

    expect(second.checkSync("a").allowed).toBe(true);
  });

  it("closes twice without error", async () => {
    const limiter = new RateLimiter({ policy: "2/s" });
    await limiter.close();

    await expect(limiter.close()).resolves.toBeUndefined();
  });
});
