import { describe, expect, it } from "vitest";
import { createVerdict, type StateView } from "../../src/algorithms/algorithm.js";
import { fixedWindow } from "../../src/algorithms/fixed-window.js";
import { RateLimiter } from "../../src/limiter.js";
import { parsePolicy } from "../../src/policy/policy.js";
import { MemoryStore } from "../../src/stores/memory/memory-store.js";

function limiterFor(limit: number, window: number): RateLimiter {
  // No background sweep: expiry must come from the request times alone.
  const store = new MemoryStore({ sweepInterval: 0 });
  return new RateLimiter({ policy: { limit, window, algorithm: "fixed-window" }, store });
}

function emptyState(): StateView {
  return { data: new Float64Array(3), offset: 0, empty: true, log: undefined };
}

describe("fixed window decisions", () => {
  it("client under limit never blocked", () => {
    const limiter = limiterFor(3, 10_000);

    const first = limiter.checkSync("u", { at: 0 });
    const second = limiter.checkSync("u", { at: 4000 });
    const third = limiter.checkSync("u", { at: 8000 });
    const fourth = limiter.checkSync("u", { at: 10_500 });

    expect(first.allowed).toBe(true);
    expect(first.remaining).toBe(2);
    expect(second.allowed).toBe(true);
    expect(second.remaining).toBe(1);
    expect(third.allowed).toBe(true);
    expect(third.remaining).toBe(0);
    // The window opened at 0, so the key resets 2000 ms after 8000, not 10 000.
    expect(third.resetAt).toBe(10_000);
    expect(third.resetAt - 8000).toBe(2000);
    expect(fourth.allowed).toBe(true);
    expect(fourth.remaining).toBe(2);
    expect(fourth.resetAt).toBe(20_500);
  });

  it("steady client allowed for a minute", () => {
    const limiter = limiterFor(3, 10_000);
    for (let at = 0; at <= 60_000; at += 4000) {
      expect(limiter.checkSync("u", { at }).allowed, `call at ${at}`).toBe(true);
    }
  });

  it("expiry needs no timer", () => {
    const limiter = limiterFor(2, 1000);
    const decisions = [0, 0, 0, 1500, 1500, 1500, 2600].map((at) => ({
      at,
      decision: limiter.checkSync("u", { at }),
    }));

    expect(decisions.map(({ decision }) => decision.allowed)).toEqual([
      true,
      true,
      false,
      true,
      true,
      false,
      true,
    ]);
    expect(decisions[2]?.decision.retryAfter).toBe(1000);
    expect(decisions[3]?.decision.remaining).toBe(1);
    expect(decisions[5]?.decision.retryAfter).toBe(1000);
    for (const { at, decision } of decisions) {
      expect(decision.retryAfter, `retryAfter at ${at}`).toBeGreaterThanOrEqual(0);
      expect(decision.resetAt, `resetAt at ${at}`).toBeGreaterThanOrEqual(at);
    }
  });

  it("window opens at first request", () => {
    const limiter = limiterFor(2, 1000);

    expect(limiter.checkSync("u", { at: 250 }).resetAt).toBe(1250);
    const lastInWindow = limiter.checkSync("u", { at: 1249 });
    const nextWindow = limiter.checkSync("u", { at: 1250 });

    expect(lastInWindow.remaining).toBe(0);
    expect(lastInWindow.resetAt).toBe(1250);
    expect(nextWindow.allowed).toBe(true);
    expect(nextWindow.remaining).toBe(1);
    expect(nextWindow.resetAt).toBe(2250);
  });

  it("rejection waits for window end", () => {
    const limiter = limiterFor(1, 1000);
    limiter.checkSync("u", { at: 100 });

    const rejected = limiter.checkSync("u", { at: 700 });

    expect(rejected.allowed).toBe(false);
    expect(rejected.reason).toBe("limit-exceeded");
    expect(rejected.remaining).toBe(0);
    expect(rejected.retryAfter).toBe(400);
    expect(rejected.resetAt).toBe(1100);
  });

  // Exact: the window that rejected closes at t + retryAfter, and not a millisecond sooner.
  it("retryAfter honest at capacity one", () => {
    const limiter = limiterFor(1, 1500);

    expect(limiter.checkSync("u", { at: 0 }).allowed).toBe(true);
    const rejected = limiter.checkSync("u", { at: 0 });
    const early = limiter.checkSync("u", { at: 1000 });
    const lastMillisecond = limiter.checkSync("u", { at: 1499 });
    const onTime = limiter.checkSync("u", { at: 1500 });

    expect(rejected.retryAfter).toBe(1500);
    expect(early.allowed).toBe(false);
    expect(early.retryAfter).toBe(500);
    expect(lastMillisecond.allowed).toBe(false);
    expect(lastMillisecond.retryAfter).toBe(1);
    expect(onTime.allowed).toBe(true);
  });

  it("cost above one consumed whole", () => {
    const limiter = limiterFor(10, 1000);

    expect(limiter.checkSync("u", { at: 0, cost: 4 }).remaining).toBe(6);
    expect(limiter.checkSync("u", { at: 1, cost: 6 }).remaining).toBe(0);
    const rejected = limiter.checkSync("u", { at: 2 });
    expect(rejected.allowed).toBe(false);
    expect(rejected.retryAfter).toBe(998);
  });

  it("rejected cost keeps the count", () => {
    const limiter = limiterFor(10, 1000);

    expect(limiter.checkSync("u", { at: 0, cost: 8 }).remaining).toBe(2);
    const rejected = limiter.checkSync("u", { at: 0, cost: 5 });
    const fits = limiter.checkSync("u", { at: 0, cost: 2 });

    expect(rejected.allowed).toBe(false);
    expect(rejected.remaining).toBe(2);
    expect(rejected.retryAfter).toBe(1000);
    expect(fits.allowed).toBe(true);
    expect(fits.remaining).toBe(0);
  });

  it("cost equal to limit", () => {
    const limiter = limiterFor(5, 1000);

    const whole = limiter.checkSync("u", { at: 0, cost: 5 });
    const more = limiter.checkSync("u", { at: 999 });
    const nextWindow = limiter.checkSync("u", { at: 1000, cost: 5 });

    expect(whole.allowed).toBe(true);
    expect(whole.remaining).toBe(0);
    expect(more.allowed).toBe(false);
    expect(more.retryAfter).toBe(1);
    expect(nextWindow.allowed).toBe(true);
    expect(nextWindow.remaining).toBe(0);
  });
});

describe("fixed window monotonic rule", () => {
  it("earlier stamp decided at window start", () => {
    const policy = parsePolicy({ limit: 2, window: 1000, algorithm: "fixed-window" });
    const state = emptyState();
    const verdict = createVerdict();
    fixedWindow.decide(policy, state, 1000, 1, verdict);
    fixedWindow.commit(policy, state, verdict);

    fixedWindow.decide(policy, state, 400, 1, verdict);

    expect(verdict.now).toBe(1000);
    expect(verdict.allowed).toBe(true);
    expect(verdict.resetAt).toBe(2000);
  });

  it("earlier stamp counts in open window", () => {
    const limiter = limiterFor(2, 1000);
    limiter.checkSync("u", { at: 1000 });

    const early = limiter.checkSync("u", { at: 400 });
    const full = limiter.checkSync("u", { at: 1999 });

    expect(early.allowed).toBe(true);
    expect(early.remaining).toBe(0);
    expect(full.allowed).toBe(false);
    expect(full.retryAfter).toBe(1);
    expect(limiter.checkSync("u", { at: 2000 }).allowed).toBe(true);
  });

  // The decision is made at the state's time, so retryAfter counts from there.
  it("earlier stamp waits from window start", () => {
    const limiter = limiterFor(1, 1000);
    limiter.checkSync("u", { at: 1500 });

    const rejected = limiter.checkSync("u", { at: 900 });

    expect(rejected.allowed).toBe(false);
    expect(rejected.resetAt).toBe(2500);
    expect(rejected.retryAfter).toBe(1000);
  });
});

describe("fixed window state", () => {
  it("state is window start and count", () => {
    const policy = parsePolicy({ limit: 5, window: 1000, algorithm: "fixed-window" });
    const state = emptyState();
    const verdict = createVerdict();

    fixedWindow.decide(policy, state, 250, 2, verdict);
    fixedWindow.commit(policy, state, verdict);
    fixedWindow.decide(policy, state, 600, 1, verdict);
    fixedWindow.commit(policy, state, verdict);

    expect([...state.data]).toEqual([250, 3, 0]);
  });

  it("decide writes no state", () => {
    const policy = parsePolicy({ limit: 5, window: 1000, algorithm: "fixed-window" });
    const state = emptyState();
    const verdict = createVerdict();
    fixedWindow.decide(policy, state, 250, 2, verdict);
    fixedWindow.commit(policy, state, verdict);

    fixedWindow.decide(policy, state, 2000, 1, verdict);

    expect([...state.data]).toEqual([250, 2, 0]);
    expect(state.empty).toBe(false);
  });

  it("ttl ends at window end", () => {
    const policy = parsePolicy({ limit: 5, window: 1000, algorithm: "fixed-window" });
    const state = emptyState();
    const verdict = createVerdict();
    fixedWindow.decide(policy, state, 250, 2, verdict);
    fixedWindow.commit(policy, state, verdict);
    fixedWindow.decide(policy, state, 600, 1, verdict);
    fixedWindow.commit(policy, state, verdict);
    const expiresAt = verdict.now + verdict.ttl;

    const stored = createVerdict();
    const fresh = createVerdict();
    fixedWindow.decide(policy, state, expiresAt, 1, stored);
    fixedWindow.decide(policy, emptyState(), expiresAt, 1, fresh);
    const before = createVerdict();
    fixedWindow.decide(policy, state, expiresAt - 1, 1, before);

    expect(expiresAt).toBe(1250);
    expect(stored).toEqual(fresh);
    expect(before.remaining).toBe(1);
  });
});
