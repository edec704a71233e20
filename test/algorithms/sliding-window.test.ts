import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createVerdict, type StateView } from "../../src/algorithms/algorithm.js";
import { slidingWindow } from "../../src/algorithms/sliding-window.js";
import { RateLimiter } from "../../src/limiter.js";
import { parsePolicy } from "../../src/policy/policy.js";
import { WindowModel } from "./reference-models.js";

function limiterFor(limit: number, window: number): RateLimiter {
  return new RateLimiter({ policy: { limit, window, algorithm: "sliding-window" } });
}

function emptyState(): StateView {
  return { data: new Float64Array(3), offset: 0, empty: true, log: undefined };
}

describe("sliding window decisions", () => {
  it("previous window weighs by overlap", () => {
    const limiter = limiterFor(10, 10_000);
    for (let i = 0; i < 10; i++) {
      expect(limiter.checkSync("u", { at: 9000 }).allowed, `check ${i} at 9000`).toBe(true);
    }

    // At 11 000 the previous window still overlaps 9000 of 10 000 ms: 10 × 0.9 = 9 used,
    // so 1 unit is left. A rejected peek reports the units left before the request.
    expect(limiter.peekSync("u", { at: 11_000, cost: 2 }).remaining).toBe(1);
    const at11 = Array.from({ length: 10 }, () => limiter.checkSync("u", { at: 11_000 }));
    expect(at11.map((d) => d.allowed)).toEqual([true, ...Array(9).fill(false)]);

    // At 15 000 it weighs 0.5: 5 used, plus 1 in this window, so 4 are left.
    expect(limiter.peekSync("u", { at: 15_000, cost: 5 }).remaining).toBe(4);
    const at15 = Array.from({ length: 5 }, () => limiter.checkSync("u", { at: 15_000 }));
    expect(at15.map((d) => d.allowed)).toEqual([true, true, true, true, false]);
  });

  it("windows align to the epoch", () => {
    const limiter = limiterFor(1, 1000);

    const first = limiter.checkSync("u", { at: 2500 });
    const inNextWindow = limiter.checkSync("u", { at: 3000 });
    const lastMillisecond = limiter.checkSync("u", { at: 3999 });
    const clear = limiter.checkSync("u", { at: 4000 });

    // The window is [2000, 3000); its count weighs nothing from 4000 on.
    expect(first.resetAt).toBe(4000);
    expect(inNextWindow.allowed).toBe(false);
    expect(inNextWindow.retryAfter).toBe(1000);
    expect(lastMillisecond.allowed).toBe(false);
    expect(clear.allowed).toBe(true);
  });

  it("previous weight rounds up", () => {
    const limiter = limiterFor(3, 1000);
    for (let i = 0; i < 3; i++) limiter.checkSync("u", { at: 0 });

    // 3 × 999 / 1000 = 2.997 rounds up to 3, so nothing fits.
    const rejected = limiter.checkSync("u", { at: 1001 });
    // 3 × 667 / 1000 = 2.001 rounds up to 3; 3 × 666 / 1000 = 1.998 rounds up to 2.
    const stillFull = limiter.checkSync("u", { at: 1333 });
    const fits = limiter.checkSync("u", { at: 1334 });

    expect(rejected.allowed).toBe(false);
    expect(rejected.remaining).toBe(0);
    expect(rejected.retryAfter).toBe(333);
    expect(stillFull.allowed).toBe(false);
    expect(fits.allowed).toBe(true);
    expect(fits.remaining).toBe(0);
  });

  it("rejection waits into next window", () => {
    const limiter = limiterFor(10, 10_000);
    for (let i = 0; i < 10; i++) limiter.checkSync("u", { at: 5000 });

    // In the next window the 10 weigh 10 × (10 000 − e) / 10 000 ≤ 9 from e = 1000 on.
    const rejected = limiter.checkSync("u", { at: 5000 });
    const early = limiter.checkSync("u", { at: 10_999 });
    const onTime = limiter.checkSync("u", { at: 11_000 });

    expect(rejected.retryAfter).toBe(6000);
    expect(rejected.resetAt).toBe(20_000);
    expect(early.allowed).toBe(false);
    expect(onTime.allowed).toBe(true);
  });

  // Exact: at t + retryAfter − 1 the weighted estimate is still above the limit.
  it("retryAfter honest at capacity one", () => {
    const limiter = limiterFor(1, 1500);
    limiter.checkSync("u", { at: 0 });

    const rejected = limiter.checkSync("u", { at: 0 });
    const early = limiter.checkSync("u", { at: 2999 });
    const onTime = limiter.checkSync("u", { at: 3000 });

    // The previous window weighs a whole request until the window after next opens.
    expect(rejected.retryAfter).toBe(3000);
    expect(early.allowed).toBe(false);
    expect(early.retryAfter).toBe(1);
    expect(onTime.allowed).toBe(true);
  });

  it("cost equal to limit waits two windows", () => {
    const limiter = limiterFor(4, 1000);

    const whole = limiter.checkSync("u", { at: 0, cost: 4 });
    const rejected = limiter.checkSync("u", { at: 500, cost: 4 });
    const early = limiter.checkSync("u", { at: 1999, cost: 4 });
    const onTime = limiter.checkSync("u", { at: 2000, cost: 4 });

    expect(whole.allowed).toBe(true);
    expect(whole.remaining).toBe(0);
    expect(rejected.retryAfter).toBe(1500);
    expect(early.allowed).toBe(false);
    expect(onTime.allowed).toBe(true);
  });

  it("rejected cost keeps the counts", () => {
    const limiter = limiterFor(10, 1000);

    expect(limiter.checkSync("u", { at: 0, cost: 8 }).remaining).toBe(2);
    const rejected = limiter.checkSync("u", { at: 0, cost: 5 });
    const fits = limiter.checkSync("u", { at: 0, cost: 2 });

    expect(rejected.allowed).toBe(false);
    expect(rejected.remaining).toBe(2);
    expect(fits.allowed).toBe(true);
    expect(fits.remaining).toBe(0);
  });

  // 10 GB a day counted in bytes: the products pass 2^53, where a double test admitted a
  // byte the exact estimate (previous weight 1 464 493 379.0000000926) has no room for.
  it("exact at byte-sized quotas", () => {
    const limiter = limiterFor(10_000_000_000, 86_400_000);
    limiter.checkSync("u", { at: 0, cost: 7_113_440_824 });

    const fill = limiter.checkSync("u", { at: 155_012_233, cost: 8_535_506_620 });
    const overflow = limiter.checkSync("u", { at: 155_012_233 });
    const next = limiter.checkSync("u", { at: 155_012_234 });

    expect(fill.allowed).toBe(true);
    expect(fill.remaining).toBe(0);
    expect(overflow.allowed).toBe(false);
    expect(overflow.retryAfter).toBe(1);
    expect(next.allowed).toBe(true);
    expect(next.remaining).toBe(82);
  });

  it("exact for any safe magnitude", () => {
    const decade = 10 * 365 * 86_400_000;
    const scenario = fc
      .record({
        limit: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        window: fc.integer({ min: 1, max: decade }),
      })
      .chain(({ limit, window }) =>
        fc.record({
          limit: fc.constant(limit),
          window: fc.constant(window),
          previous: fc.integer({ min: 0, max: limit }),
          current: fc.integer({ min: 0, max: limit }),
          elapsed: fc.integer({ min: 0, max: window - 1 }),
          cost: fc.integer({ min: 1, max: limit }),
        }),
      );

    fc.assert(
      fc.property(scenario, ({ limit, window, previous, current, elapsed, cost }) => {
        const policy = parsePolicy({ limit, window, algorithm: "sliding-window" });
        const model = new WindowModel("sliding-window", limit, window);
        model.admitted.push({ at: 0, cost: previous }, { at: window, cost: current });
        const state: StateView = {
          data: new Float64Array([window, current, previous]),
          offset: 0,
          empty: false,
          log: undefined,
        };
        const verdict = createVerdict();

        slidingWindow.decide(policy, state, window + elapsed, cost, verdict);
        const expected = model.decide(window + elapsed, cost, false);

        expect(verdict.allowed).toBe(expected.allowed);
        expect(verdict.remaining).toBe(expected.remaining);
        expect(verdict.resetAt).toBe(expected.resetAt);
        expect(verdict.retryAfter).toBe(expected.retryAfter);
      }),
      { numRuns: 300 },
    );
  });
});

describe("sliding window monotonic rule", () => {
  it("earlier stamp decided at last seen", () => {
    const policy = parsePolicy({ limit: 2, window: 1000, algorithm: "sliding-window" });
    const state = emptyState();
    const verdict = createVerdict();
    slidingWindow.decide(policy, state, 1500, 1, verdict);
    slidingWindow.commit(policy, state, verdict);

    slidingWindow.decide(policy, state, 900, 1, verdict);
    slidingWindow.commit(policy, state, verdict);

    expect(verdict.now).toBe(1500);
    expect([...state.data]).toEqual([1500, 2, 0]);
  });

  it("earlier stamp counts in current window", () => {
    const limiter = limiterFor(2, 1000);
    limiter.checkSync("u", { at: 1500 });
    // Stamped in the previous window, but counted in [1000, 2000) with the first request.
    expect(limiter.checkSync("u", { at: 900 }).allowed).toBe(true);

    const rejected = limiter.checkSync("u", { at: 2100 });
    const onTime = limiter.checkSync("u", { at: 2500 });

    expect(rejected.allowed).toBe(false);
    expect(rejected.retryAfter).toBe(400);
    expect(onTime.allowed).toBe(true);
  });
});

describe("sliding window state", () => {
  it("state is last seen and counts", () => {
    const policy = parsePolicy({ limit: 5, window: 1000, algorithm: "sliding-window" });
    const state = emptyState();
    const verdict = createVerdict();

    slidingWindow.decide(policy, state, 2500, 2, verdict);
    slidingWindow.commit(policy, state, verdict);
    expect([...state.data]).toEqual([2500, 2, 0]);

    slidingWindow.decide(policy, state, 3100, 1, verdict);
    slidingWindow.commit(policy, state, verdict);
    expect([...state.data]).toEqual([3100, 1, 2]);
  });

  it("decide writes no state", () => {
    const policy = parsePolicy({ limit: 5, window: 1000, algorithm: "sliding-window" });
    const state = emptyState();
    const verdict = createVerdict();
    slidingWindow.decide(policy, state, 2500, 2, verdict);
    slidingWindow.commit(policy, state, verdict);

    slidingWindow.decide(policy, state, 3100, 1, verdict);

    expect([...state.data]).toEqual([2500, 2, 0]);
  });

  it("ttl ends two windows after start", () => {
    const policy = parsePolicy({ limit: 5, window: 1000, algorithm: "sliding-window" });
    const state = emptyState();
    const verdict = createVerdict();
    slidingWindow.decide(policy, state, 2500, 2, verdict);
    slidingWindow.commit(policy, state, verdict);
    const expiresAt = verdict.now + verdict.ttl;

    const stored = createVerdict();
    const fresh = createVerdict();
    slidingWindow.decide(policy, state, expiresAt, 1, stored);
    slidingWindow.decide(policy, emptyState(), expiresAt, 1, fresh);
    const before = createVerdict();
    slidingWindow.decide(policy, state, expiresAt - 1, 1, before);

    expect(expiresAt).toBe(4000);
    expect(stored).toEqual(fresh);
    // 2 × 1 / 1000 rounds up to one unit still in use.
    expect(before.remaining).toBe(3);
  });
});
