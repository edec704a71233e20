import { describe, expect, it } from "vitest";
import { createVerdict, type StateView, type Verdict } from "../../src/algorithms/algorithm.js";
import { slidingLog } from "../../src/algorithms/sliding-log.js";
import { RateLimiter } from "../../src/limiter.js";
import { type Policy, parsePolicy } from "../../src/policy/policy.js";

function limiterFor(limit: number, window: number): RateLimiter {
  return new RateLimiter({ policy: { limit, window, algorithm: "sliding-log" } });
}

function emptyState(): StateView {
  return { data: new Float64Array(3), offset: 0, empty: true, log: undefined };
}

/** Decides and, when allowed, commits one request straight through the algorithm. */
function admit(policy: Policy, state: StateView, at: number, cost = 1): Verdict {
  const verdict = createVerdict();
  slidingLog.decide(policy, state, at, cost, verdict);
  if (verdict.allowed) slidingLog.commit(policy, state, verdict);
  return verdict;
}

describe("sliding log decisions", () => {
  it("limit holds in every window", () => {
    const limiter = limiterFor(3, 1000);

    const admitted = [0, 300, 600].map((at) => limiter.checkSync("u", { at }));
    const rejected = limiter.checkSync("u", { at: 900 });
    const afterFirstExpires = limiter.checkSync("u", { at: 1000 });
    const stillFull = limiter.checkSync("u", { at: 1299 });
    const afterSecondExpires = limiter.checkSync("u", { at: 1300 });

    expect(admitted.map((d) => d.remaining)).toEqual([2, 1, 0]);
    expect(admitted.map((d) => d.resetAt)).toEqual([1000, 1300, 1600]);
    expect(rejected.allowed).toBe(false);
    expect(rejected.retryAfter).toBe(100);
    expect(rejected.resetAt).toBe(1600);
    expect(afterFirstExpires.allowed).toBe(true);
    expect(afterFirstExpires.resetAt).toBe(2000);
    expect(stillFull.allowed).toBe(false);
    expect(stillFull.retryAfter).toBe(1);
    expect(afterSecondExpires.allowed).toBe(true);
  });

  // Exact: the entry that blocks counts while now < t + window, so t + retryAfter − 1 fails.
  it("retryAfter honest at capacity one", () => {
    const limiter = limiterFor(1, 1500);
    limiter.checkSync("u", { at: 0 });

    const rejected = limiter.checkSync("u", { at: 0 });
    const early = limiter.checkSync("u", { at: 1000 });
    const lastMillisecond = limiter.checkSync("u", { at: 1499 });
    const onTime = limiter.checkSync("u", { at: 1500 });

    expect(rejected.retryAfter).toBe(1500);
    expect(early.retryAfter).toBe(500);
    expect(lastMillisecond.allowed).toBe(false);
    expect(lastMillisecond.retryAfter).toBe(1);
    expect(onTime.allowed).toBe(true);
  });

  it("retry waits for enough cost", () => {
    const limiter = limiterFor(5, 1000);
    limiter.checkSync("u", { at: 0, cost: 2 });
    limiter.checkSync("u", { at: 100, cost: 2 });
    limiter.checkSync("u", { at: 200, cost: 1 });

    // Cost 3 needs 3 units back: the entry at 0 frees 2, so the one at 100 must expire too.
    const rejected = limiter.checkSync("u", { at: 300, cost: 3 });
    const early = limiter.checkSync("u", { at: 1099, cost: 3 });
    const onTime = limiter.checkSync("u", { at: 1100, cost: 3 });

    expect(rejected.retryAfter).toBe(800);
    expect(rejected.remaining).toBe(0);
    expect(early.allowed).toBe(false);
    expect(early.retryAfter).toBe(1);
    expect(onTime.allowed).toBe(true);
    expect(onTime.remaining).toBe(1);
  });

  it("cost equal to limit", () => {
    const limiter = limiterFor(4, 1000);

    const whole = limiter.checkSync("u", { at: 0, cost: 4 });
    const more = limiter.checkSync("u", { at: 500 });
    const nextWhole = limiter.checkSync("u", { at: 1000, cost: 4 });

    expect(whole.allowed).toBe(true);
    expect(whole.remaining).toBe(0);
    expect(more.retryAfter).toBe(500);
    expect(nextWhole.allowed).toBe(true);
  });

  it("rejected cost keeps the log", () => {
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
});

describe("sliding log monotonic rule", () => {
  it("earlier stamp decided at newest entry", () => {
    const policy = parsePolicy({ limit: 2, window: 1000, algorithm: "sliding-log" });
    const state = emptyState();
    admit(policy, state, 500);

    const verdict = admit(policy, state, 200);

    expect(verdict.now).toBe(500);
    expect(state.log).toEqual([500, 2]);
  });

  // Recorded at its own stamp, the second request would expire at 1200 and free quota
  // that sorted traffic would still be using.
  it("earlier stamp never refunds quota", () => {
    const limiter = limiterFor(2, 1000);
    limiter.checkSync("u", { at: 500 });
    expect(limiter.checkSync("u", { at: 200 }).resetAt).toBe(1500);

    const rejected = limiter.checkSync("u", { at: 1200 });
    const onTime = limiter.checkSync("u", { at: 1500 });

    expect(rejected.allowed).toBe(false);
    expect(rejected.retryAfter).toBe(300);
    expect(onTime.allowed).toBe(true);
  });
});

describe("sliding log state", () => {
  it("state is active cost, newest, head", () => {
    const policy = parsePolicy({ limit: 5, window: 1000, algorithm: "sliding-log" });
    const state = emptyState();

    admit(policy, state, 0, 2);
    admit(policy, state, 400);
    admit(policy, state, 1200);

    // The entry at 0 expired at 1000; `head` skips its two numbers.
    expect([...state.data]).toEqual([2, 1200, 2]);
    expect(state.log).toEqual([0, 2, 400, 1, 1200, 1]);
  });

  it("same millisecond shares one entry", () => {
    const policy = parsePolicy({ limit: 5, window: 1000, algorithm: "sliding-log" });
    const state = emptyState();

    admit(policy, state, 5);
    admit(policy, state, 5, 2);
    admit(policy, state, 5);

    expect(state.log).toEqual([5, 4]);
    expect([...state.data]).toEqual([4, 5, 0]);
  });

  it("log memory stays bounded", () => {
    const policy = parsePolicy({ limit: 2, window: 10, algorithm: "sliding-log" });
    const state = emptyState();
    let longest = 0;
    for (let at = 0; at < 60_000; at += 6) {
      admit(policy, state, at);
      longest = Math.max(longest, state.log?.length ?? 0);
    }

    // Live entries are at most 2 here; expired ones are dropped once 64 numbers pile up.
    expect(longest).toBeLessThanOrEqual(64 + 2 * 2 + 2);
  });

  it("decide writes no state", () => {
    const policy = parsePolicy({ limit: 5, window: 1000, algorithm: "sliding-log" });
    const state = emptyState();
    admit(policy, state, 0, 2);

    slidingLog.decide(policy, state, 1500, 1, createVerdict());

    expect([...state.data]).toEqual([2, 0, 0]);
    expect(state.log).toEqual([0, 2]);
  });

  it("ttl ends when newest entry expires", () => {
    const policy = parsePolicy({ limit: 5, window: 1000, algorithm: "sliding-log" });
    const state = emptyState();
    admit(policy, state, 0, 2);
    const last = admit(policy, state, 400);
    const expiresAt = last.now + last.ttl;

    const stored = createVerdict();
    const fresh = createVerdict();
    slidingLog.decide(policy, state, expiresAt, 1, stored);
    slidingLog.decide(policy, emptyState(), expiresAt, 1, fresh);
    const before = createVerdict();
    slidingLog.decide(policy, state, expiresAt - 1, 1, before);

    expect(expiresAt).toBe(1400);
    const decisionOf = ({ allowed, remaining, resetAt, retryAfter, ttl }: Verdict) => ({
      allowed,
      remaining,
      resetAt,
      retryAfter,
      ttl,
    });
    expect(decisionOf(stored)).toEqual(decisionOf(fresh));
    expect(before.remaining).toBe(3);
  });
});
