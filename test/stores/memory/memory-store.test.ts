import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { ClosedError } from "../../../src/errors.js";
import { RateLimiter } from "../../../src/limiter.js";
import { type PolicyInput, parsePolicy } from "../../../src/policy/policy.js";
import { MemoryStore, type MemoryStoreOptions } from "../../../src/stores/memory/memory-store.js";
import type { Outcome } from "../../../src/stores/store.js";
import { ALGORITHMS, type Decision, type Logger } from "../../../src/types.js";

// A peek reports the decision a check would return, so its `remaining` is after one more
// request: a key with 3 units left peeks as 2.

/** Creates a store on a hand-moved clock with the background sweep off, and limiters on it. */
function setup(options: MemoryStoreOptions = {}) {
  const clock = { now: 0 };
  const store = new MemoryStore({ clock: () => clock.now, sweepInterval: 0, ...options });
  const limiter = (policy: PolicyInput) => new RateLimiter({ policy, store });
  return { clock, store, limiter };
}

function fixedWindow(limit: number, window: number, name?: string): PolicyInput {
  return name === undefined
    ? { limit, window, algorithm: "fixed-window" }
    : { name, limit, window, algorithm: "fixed-window" };
}

/** Asserts the invariants every decision keeps, whatever the traffic. */
function expectSane(decision: Decision, now: number): void {
  expect(decision.retryAfter, "retryAfter").toBeGreaterThanOrEqual(0);
  expect(decision.resetAt, "resetAt").toBeGreaterThanOrEqual(now);
  expect(decision.remaining, "remaining").toBeGreaterThanOrEqual(0);
  expect(Number.isInteger(decision.remaining), "remaining is an integer").toBe(true);
  expect(Number.isInteger(decision.retryAfter), "retryAfter is an integer").toBe(true);
  expect(Number.isInteger(decision.resetAt), "resetAt is an integer").toBe(true);
}

function silentLogger() {
  return { warn: vi.fn<Logger["warn"]>(), error: vi.fn<Logger["error"]>() };
}

describe("MemoryStore expiry without timers", () => {
  it("reopens a fixed window on the clock alone", () => {
    const { clock, limiter } = setup();
    const limited = limiter(fixedWindow(2, 1000));
    const decisions: [number, Decision][] = [];
    const check = () => {
      const decision = limited.checkSync("a");
      decisions.push([clock.now, decision]);
      return decision;
    };

    expect(check().allowed).toBe(true);
    expect(check().allowed).toBe(true);
    const denied = check();
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfter).toBe(1000);

    clock.now = 1500;
    const reopened = check();
    expect(reopened.allowed).toBe(true);
    expect(reopened.remaining).toBe(1);

    for (const [now, decision] of decisions) expectSane(decision, now);
  });

  it("reuses slots of expired keys at capacity", () => {
    const { clock, store, limiter } = setup({ maxKeys: 10_000 });
    const limited = limiter(fixedWindow(2, 1000));
    for (let i = 0; i < 10_000; i++) limited.checkSync(`old-${i}`);
    expect(store.size).toBe(10_000);

    clock.now = 2000;
    let denied = 0;
    let largestSize = 0;
    for (let i = 0; i < 10_000; i++) {
      const decision = limited.checkSync(`new-${i}`);
      if (!decision.allowed || decision.remaining !== 1) denied++;
      largestSize = Math.max(largestSize, store.size);
    }

    expect(denied).toBe(0);
    expect(largestSize).toBe(10_000);
    expect(limited.peekSync("new-0").remaining).toBe(0);
  });

  it("frees expired keys on insert", () => {
    const { clock, store, limiter } = setup();
    const limited = limiter(fixedWindow(2, 1000));
    for (let i = 0; i < 10_000; i++) limited.checkSync(`old-${i}`);

    clock.now = 2000;
    for (let i = 0; i < 5000; i++) limited.checkSync(`new-${i}`);

    // Each insert checks two slots, so 5000 inserts visit all 10 000 old ones.
    expect(store.size).toBe(5000);
  });

  it("treats an expired key as new", () => {
    const { clock, store, limiter } = setup();
    const limited = limiter(fixedWindow(3, 1000));
    limited.checkSync("a");
    limited.checkSync("a");

    clock.now = 1000;
    expect(limited.peekSync("a").remaining).toBe(2);
    expect(limited.checkSync("a").remaining).toBe(2);
    expect(store.size).toBe(1);
  });
});

describe("MemoryStore maxKeys", () => {
  it.each([
    [2, ["k1", "k1", "k2", "k3", "k4", "k1", "k5"]],
    [1, ["k1", "k1", "k2", "k2", "k1"]],
  ])("evicts without failing at maxKeys %i", (maxKeys, keys) => {
    const { store, limiter } = setup({ maxKeys });
    const limited = limiter(fixedWindow(10, 60_000));
    for (const key of keys) {
      expect(limited.checkSync(key).allowed, key).toBe(true);
      expect(store.size, `size after ${key}`).toBeLessThanOrEqual(maxKeys);
    }
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])(
    "rejects maxKeys %s",
    (maxKeys) => {
      expect(() => new MemoryStore({ maxKeys })).toThrow(RangeError);
      expect(() => new MemoryStore({ maxKeys })).toThrow(/maxKeys/);
    },
  );

  it("rejects a maxKeys string", () => {
    const options = { maxKeys: "10" } as unknown as MemoryStoreOptions;
    expect(() => new MemoryStore(options)).toThrow(TypeError);
    expect(() => new MemoryStore(options)).toThrow(/maxKeys/);
  });

  it("stays bounded under random traffic", () => {
    const step = fc.record({
      key: fc.integer({ min: 0, max: 49 }),
      advance: fc.integer({ min: 0, max: 300 }),
      cost: fc.integer({ min: 1, max: 4 }),
      peek: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...ALGORITHMS),
        fc.array(step, { minLength: 10_000, maxLength: 10_000 }),
        (algorithm, steps) => {
          const { clock, store, limiter } = setup({ maxKeys: 5 });
          const limited = limiter({ limit: 3, window: 2000, algorithm });
          for (const { key, advance, cost, peek } of steps) {
            clock.now += advance;
            const options = { cost };
            const decision = peek
              ? limited.peekSync(`k${key}`, options)
              : limited.checkSync(`k${key}`, options);
            expectSane(decision, clock.now);
            expect(store.size).toBeLessThanOrEqual(5);
          }
        },
      ),
      { numRuns: 6 },
    );
  });

  it("evicts an expired key before a live one", () => {
    const { clock, store, limiter } = setup({ maxKeys: 2 });
    const long = limiter(fixedWindow(10, 60_000));
    const short = limiter(fixedWindow(10, 1000));
    long.checkSync("live");
    clock.now = 10;
    short.checkSync("expired");

    clock.now = 2000;
    short.checkSync("new");

    expect(store.size).toBe(2);
    expect(long.peekSync("live").remaining).toBe(8);
    expect(short.peekSync("new").remaining).toBe(8);
  });

  it("evicts the least recently used key", () => {
    const { clock, store, limiter } = setup({ maxKeys: 2 });
    const limited = limiter(fixedWindow(10, 60_000));
    for (const key of ["k1", "k2", "k1", "k3"]) {
      limited.checkSync(key);
      clock.now++;
    }

    expect(store.size).toBe(2);
    expect(limited.peekSync("k1").remaining).toBe(7);
    expect(limited.peekSync("k2").remaining).toBe(9);
    expect(limited.peekSync("k3").remaining).toBe(8);
  });

  it("survives more policies than maxKeys", () => {
    const { store } = setup({ maxKeys: 2 });
    const limited = new RateLimiter({
      policies: [
        fixedWindow(5, 60_000, "a"),
        fixedWindow(5, 60_000, "b"),
        fixedWindow(5, 60_000, "c"),
      ],
      store,
    });
    // Five checks stay within every limit, whichever policy keeps its slot.
    for (let i = 0; i < 5; i++) {
      const decision = limited.checkSync("u");
      expect(decision.allowed, `check ${i}`).toBe(true);
      expect(decision.remaining, `check ${i}`).toBeLessThanOrEqual(4);
      expect(store.size, `size after check ${i}`).toBeLessThanOrEqual(2);
    }
    expect(limited.checkSync("v").remaining).toBe(4);
  });

  it("keeps other keys intact under multi-policy eviction", () => {
    const { store, limiter } = setup({ maxKeys: 3 });
    const single = limiter(fixedWindow(10, 60_000, "single"));
    const multi = new RateLimiter({
      policies: [fixedWindow(5, 60_000, "a"), fixedWindow(5, 60_000, "b")],
      store,
    });
    single.checkSync("x");
    single.checkSync("x");
    for (let i = 0; i < 4; i++) multi.checkSync(`u${i}`);
    single.checkSync("y");

    // "x" was evicted, so it starts again; it never reads another key's state.
    expect(single.peekSync("x").remaining).toBe(9);
    expect(single.peekSync("y").remaining).toBe(8);
    expect(multi.peekSync("u3").remaining).toBe(3);
  });
});

describe("MemoryStore state", () => {
  it("forgets a key on reset", async () => {
    const { limiter } = setup();
    const limited = limiter(fixedWindow(3, 60_000));
    limited.checkSync("a");
    limited.checkSync("b");

    await limited.reset("a");

    expect(limited.peekSync("a").remaining).toBe(2);
    expect(limited.peekSync("b").remaining).toBe(1);
  });

  it("drops every key on clear", () => {
    const { store, limiter } = setup();
    const limited = limiter(fixedWindow(3, 60_000));
    limited.checkSync("a");
    limited.checkSync("b");

    store.clear();

    expect(store.size).toBe(0);
    expect(limited.checkSync("a").remaining).toBe(2);
  });

  it("starts a reset sliding log empty", async () => {
    const { limiter } = setup();
    const limited = limiter({ limit: 3, window: 60_000, algorithm: "sliding-log" });
    for (let i = 0; i < 3; i++) limited.checkSync("a");
    expect(limited.checkSync("a").allowed).toBe(false);

    await limited.reset("a");

    expect(limited.checkSync("a").remaining).toBe(2);
  });

  it("gives an evicted sliding-log key a new log", () => {
    const { store, limiter } = setup({ maxKeys: 1 });
    const limited = limiter({ limit: 3, window: 60_000, algorithm: "sliding-log" });
    for (let i = 0; i < 3; i++) limited.checkSync("a");
    limited.checkSync("b");

    expect(store.size).toBe(1);
    expect(limited.checkSync("a").remaining).toBe(2);
  });

  it("isolates policies on one store", () => {
    const { clock, limiter } = setup();
    const p = limiter(fixedWindow(1, 1000));
    const q = limiter(fixedWindow(100, 30_000));

    expect(p.checkSync("u1").allowed).toBe(true);
    clock.now = 100;
    const first = q.checkSync("u1");
    expect(first.allowed).toBe(true);
    expect(first.remaining).toBe(99);
    clock.now = 1500;
    expect(p.checkSync("u1").allowed).toBe(true);
    expect(q.peekSync("u1").remaining).toBe(98);
  });

  it("rejects a policy name with a colon", () => {
    // Tables are named "<algorithm>:<policy>", so a colon could make two names collide.
    expect(() => parsePolicy({ name: "a:b", limit: 1, window: 1000 })).toThrow(TypeError);
  });

  it("warns once about differing policies with one name", () => {
    const logger = silentLogger();
    const { limiter } = setup({ logger });
    const first = limiter(fixedWindow(10, 1000, "api"));
    const second = limiter(fixedWindow(20, 1000, "api"));
    const third = limiter(fixedWindow(30, 1000, "api"));
    for (const limited of [first, second, third, first, second]) limited.checkSync("a");

    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0]?.[1]).toMatchObject({
      code: "SLUICE_POLICY_NAME_CONFLICT",
      policy: "api",
    });
  });

  it("stays quiet about identical policies with one name", () => {
    const logger = silentLogger();
    const { limiter } = setup({ logger });
    limiter(fixedWindow(10, 1000, "api")).checkSync("a");
    limiter(fixedWindow(10, 1000, "api")).checkSync("a");

    expect(logger.warn).not.toHaveBeenCalled();
  });
});

describe("MemoryStore keys", () => {
  it("treats 1 and '1' as one key", () => {
    const { limiter } = setup();
    const limited = limiter(fixedWindow(5, 60_000));
    limited.checkSync(1);
    expect(limited.checkSync("1").remaining).toBe(3);
  });

  it("keeps NFC and NFD forms apart", () => {
    const { limiter } = setup();
    const limited = limiter(fixedWindow(5, 60_000));
    const composed = "\u00e9";
    const decomposed = "e\u0301";
    expect(composed.normalize("NFD")).toBe(decomposed);

    limited.checkSync(composed);
    expect(limited.checkSync(decomposed).remaining).toBe(4);
  });

  it.each([
    ["a 10 KB key", "x".repeat(10_240)],
    ["the empty key", ""],
  ])("limits %s", (_name, key) => {
    const { limiter } = setup();
    const limited = limiter(fixedWindow(2, 60_000));
    expect(limited.checkSync(key).remaining).toBe(1);
    expect(limited.checkSync(key).remaining).toBe(0);
    expect(limited.checkSync(key).allowed).toBe(false);
  });

  it.each([
    ["null", null],
    ["undefined", undefined],
    ["an object", {}],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
  ])("rejects %s as a key", (_name, key) => {
    const { limiter } = setup();
    const limited = limiter(fixedWindow(2, 60_000));
    expect(() => limited.checkSync(key as unknown as string)).toThrow(TypeError);
  });
});

describe("MemoryStore lifecycle", () => {
  it("rejects requests after close", async () => {
    const { store } = setup();
    const request = {
      key: "a",
      policies: [parsePolicy("1/s")],
      cost: 1,
      at: undefined,
      dryRun: false,
    };
    await store.close();

    expect(() => store.consumeSync(request, [])).toThrow(ClosedError);
    await expect(store.consume(request)).rejects.toBeInstanceOf(ClosedError);
  });

  it("rejects a clock that returns NaN", () => {
    const store = new MemoryStore({ clock: () => Number.NaN, sweepInterval: 0 });
    const limited = new RateLimiter({ policy: "1/s", store });
    expect(() => limited.checkSync("a")).toThrow(RangeError);
    expect(() => limited.checkSync("a")).toThrow(/clock/);
  });

  it("decides a fractional clock in whole ms", () => {
    const clock = { now: 0.75 };
    const store = new MemoryStore({ clock: () => clock.now, sweepInterval: 0 });
    const limited = new RateLimiter({ policy: fixedWindow(1, 1000), store });
    limited.checkSync("a");
    expect(limited.peekSync("a").resetAt).toBe(1000);
  });

  it.each([-1, 1.5, Number.NaN, 2 ** 31])("rejects sweepInterval %s", (sweepInterval) => {
    expect(() => new MemoryStore({ sweepInterval })).toThrow(/sweepInterval/);
  });

  it("rejects two policies with one name in a request", () => {
    const { store } = setup();
    const request = {
      key: "a",
      policies: [
        parsePolicy({ name: "x", limit: 1, window: 1000 }),
        parsePolicy({ name: "x", limit: 2, window: 1000 }),
      ],
      cost: 1,
      at: undefined,
      dryRun: false,
    };

    expect(() => store.consumeSync(request, [])).toThrow(TypeError);
    expect(store.size).toBe(0);
  });

  it("writes one outcome per policy", () => {
    const { store } = setup();
    const into: Outcome[] = [];
    const request = {
      key: "a",
      policies: [parsePolicy("2/s"), parsePolicy("5/m")],
      cost: 1,
      at: undefined,
      dryRun: false,
    };
    store.consumeSync(request, into);
    expect(into.map((outcome) => outcome.remaining)).toEqual([1, 4]);

    store.consumeSync({ ...request, policies: [parsePolicy("5/m")] }, into);
    expect(into.length).toBe(1);
  });
});
