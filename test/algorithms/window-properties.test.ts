import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createVerdict, type StateView } from "../../src/algorithms/algorithm.js";
import { algorithms } from "../../src/algorithms/index.js";
import { RateLimiter } from "../../src/limiter.js";
import { type Policy, parsePolicy } from "../../src/policy/policy.js";
import { MemoryStore } from "../../src/stores/memory/memory-store.js";
import type { Decision } from "../../src/types.js";
import { loadVectors } from "../vectors/vectors.js";
import { type ModelDecision, type WindowAlgorithm, WindowModel } from "./reference-models.js";

/** One request of generated traffic; `at` values are non-decreasing unless jittered. */
interface Step {
  readonly at: number;
  readonly key: string;
  readonly cost: number;
  readonly peek: boolean;
}

interface Scenario {
  readonly limit: number;
  readonly window: number;
  readonly steps: readonly Step[];
}

const WINDOW_ALGORITHMS: readonly WindowAlgorithm[] = [
  "fixed-window",
  "sliding-window",
  "sliding-log",
];
const RUNS = { numRuns: 120 };

/**
 * Gaps in thousandths of the window: many zero (same millisecond), many short, some on a
 * window boundary, some long enough for the key's state to expire.
 */
const gapPerMille = fc.oneof(
  { arbitrary: fc.constant(0), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 150 }), weight: 5 },
  { arbitrary: fc.constantFrom(500, 1000, 2000), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: 3000 }), weight: 1 },
);

/** Random policies (limit 1..50, window 1..5000 ms) and traffic on three keys. */
function scenarios(options: { jitter: boolean; overCapacity: boolean }): fc.Arbitrary<Scenario> {
  return fc
    .record({
      limit: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 50 })),
      window: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 5000 })),
      start: fc.integer({ min: 0, max: 20_000 }),
    })
    .chain(({ limit, window, start }) => {
      const cost = fc.oneof(
        { arbitrary: fc.constant(1), weight: 3 },
        {
          arbitrary: fc.integer({ min: 1, max: options.overCapacity ? limit + 2 : limit }),
          weight: 2,
        },
      );
      const step = fc.record({
        gap: gapPerMille,
        jitter: options.jitter ? fc.integer({ min: 0, max: 40 }) : fc.constant(0),
        key: fc.constantFrom("a", "b", "c"),
        cost,
        peek: fc.boolean(),
      });
      return fc.array(step, { minLength: 1, maxLength: 60, size: "max" }).map((raw) => {
        let clock = start;
        const steps = raw.map(({ gap, jitter, key, cost, peek }) => {
          clock += Math.floor((gap * window) / 1000);
          return { at: Math.max(0, clock - jitter), key, cost, peek };
        });
        return { limit, window, steps };
      });
    });
}

function createLimiter(algorithm: WindowAlgorithm, scenario: Scenario): RateLimiter {
  return new RateLimiter({
    policy: { limit: scenario.limit, window: scenario.window, algorithm },
  });
}

function modelFor(models: Map<string, WindowModel>, key: string, make: () => WindowModel) {
  let model = models.get(key);
  if (model === undefined) {
    model = make();
    models.set(key, model);
  }
  return model;
}

function comparable(decision: Decision | ModelDecision) {
  const { allowed, remaining, resetAt, retryAfter, reason } = decision;
  return { allowed, remaining, resetAt, retryAfter, reason };
}

/** Lists the ways a decision breaks the rules every decision follows. */
function malformedFields(decision: Decision, at: number): string[] {
  const problems: string[] = [];
  for (const field of ["remaining", "resetAt", "retryAfter"] as const) {
    const value = decision[field];
    if (!Number.isSafeInteger(value)) problems.push(`${field} ${value} is not a safe integer`);
    if (Object.is(value, -0)) problems.push(`${field} is -0`);
    if (value < 0) problems.push(`${field} ${value} is negative`);
  }
  if (decision.resetAt < at) problems.push(`resetAt ${decision.resetAt} is before ${at}`);
  if (decision.allowed && decision.retryAfter !== 0) problems.push("allowed with retryAfter");
  if (decision.reason === "limit-exceeded" && decision.retryAfter < 1) {
    problems.push("limit-exceeded without a positive retryAfter");
  }
  return problems;
}

describe.each(WINDOW_ALGORITHMS)("%s properties", (algorithm) => {
  it("decisions equal reference model", () => {
    fc.assert(
      fc.property(scenarios({ jitter: false, overCapacity: true }), (scenario) => {
        const limiter = createLimiter(algorithm, scenario);
        const models = new Map<string, WindowModel>();
        for (const [index, step] of scenario.steps.entries()) {
          const model = modelFor(
            models,
            step.key,
            () => new WindowModel(algorithm, scenario.limit, scenario.window),
          );
          const options = { at: step.at, cost: step.cost };
          const actual = step.peek
            ? limiter.peekSync(step.key, options)
            : limiter.checkSync(step.key, options);
          const expected = model.decide(step.at, step.cost, !step.peek);
          expect(comparable(actual), `step ${index}`).toEqual(comparable(expected));
        }
      }),
      RUNS,
    );
  });

  it("decision fields well formed", () => {
    fc.assert(
      fc.property(scenarios({ jitter: true, overCapacity: true }), (scenario) => {
        const limiter = createLimiter(algorithm, scenario);
        for (const step of scenario.steps) {
          const options = { at: step.at, cost: step.cost };
          const decision = step.peek
            ? limiter.peekSync(step.key, options)
            : limiter.checkSync(step.key, options);
          expect(malformedFields(decision, step.at)).toEqual([]);
        }
      }),
      RUNS,
    );
  });

  it("rejection changes no state", () => {
    fc.assert(
      fc.property(scenarios({ jitter: true, overCapacity: true }), (scenario) => {
        const limiter = createLimiter(algorithm, scenario);
        for (const step of scenario.steps) {
          const options = { at: step.at, cost: step.cost };
          const before = limiter.peekSync(step.key, options);
          const decision = limiter.checkSync(step.key, options);
          expect(decision).toEqual(before);
          if (decision.allowed) continue;

          const after = limiter.peekSync(step.key, options);
          expect(after).toEqual(before);
        }
      }),
      RUNS,
    );
  });

  // All three algorithms make retryAfter exact: the request passes at t + retryAfter and
  // fails at t + retryAfter − 1. A peek decides without adding traffic.
  it("retryAfter exact after rejection", () => {
    fc.assert(
      fc.property(scenarios({ jitter: false, overCapacity: false }), (scenario) => {
        const limiter = createLimiter(algorithm, scenario);
        for (const step of scenario.steps) {
          const options = { at: step.at, cost: step.cost };
          const decision = limiter.checkSync(step.key, options);
          if (decision.reason !== "limit-exceeded") continue;

          const retryAt = step.at + decision.retryAfter;
          const onTime = limiter.peekSync(step.key, { cost: step.cost, at: retryAt });
          expect(onTime.allowed, `retry at ${retryAt}`).toBe(true);
          const early = limiter.peekSync(step.key, { cost: step.cost, at: retryAt - 1 });
          expect(early.allowed, `retry at ${retryAt - 1}`).toBe(false);
        }
      }),
      RUNS,
    );
  });

  it("resetAt brings full quota", () => {
    fc.assert(
      fc.property(scenarios({ jitter: false, overCapacity: false }), (scenario) => {
        const limiter = createLimiter(algorithm, scenario);
        for (const step of scenario.steps) {
          const decision = limiter.checkSync(step.key, { at: step.at, cost: step.cost });
          const atReset = limiter.peekSync(step.key, { at: decision.resetAt });
          expect(atReset.remaining + 1, `peek at ${decision.resetAt}`).toBe(scenario.limit);
        }
      }),
      RUNS,
    );
  });

  /*
   * Out-of-order traffic, defined precisely: each request is decided at
   * `decidedAt = max(stamp, state time)`, where the state time is the last admission (sliding
   * log, sliding window) or the open window's start (fixed window). The property is that the
   * requests admitted from jittered traffic, sorted by `decidedAt` and replayed at those
   * times through fresh state, are all admitted again: out-of-order stamps never buy quota
   * that sorted traffic would not get. For the sliding log and sliding window the admissions
   * are already in order. Decisions are also compared with the model, which applies the rule
   * on its own.
   */
  it("out-of-order stamps gain no quota", () => {
    fc.assert(
      fc.property(scenarios({ jitter: true, overCapacity: false }), (scenario) => {
        const policy = parsePolicy({
          limit: scenario.limit,
          window: scenario.window,
          algorithm,
        });
        const implementation = algorithms[algorithm];
        const verdict = createVerdict();
        const state: StateView = {
          data: new Float64Array(3),
          offset: 0,
          empty: true,
          log: undefined,
        };
        const model = new WindowModel(algorithm, scenario.limit, scenario.window);
        const admitted: { at: number; cost: number }[] = [];

        for (const step of scenario.steps) {
          implementation.decide(policy, state, step.at, step.cost, verdict);
          const expected = model.decide(step.at, step.cost, true);
          expect(verdict.now).toBe(expected.decidedAt);
          expect(verdict.allowed).toBe(expected.allowed);
          if (!verdict.allowed) continue;

          implementation.commit(policy, state, verdict);
          admitted.push({ at: verdict.now, cost: step.cost });
        }

        // Sorting is stable, so a fixed window's opening admission stays first in its window.
        const sorted = [...admitted].sort((x, y) => x.at - y.at);
        if (algorithm !== "fixed-window") expect(sorted).toEqual(admitted);
        const replayed = new RateLimiter({
          policy: { limit: scenario.limit, window: scenario.window, algorithm },
        });
        for (const entry of sorted) {
          const decision = replayed.checkSync("k", { at: entry.at, cost: entry.cost });
          expect(decision.allowed, `replay at ${entry.at}`).toBe(true);
        }
      }),
      RUNS,
    );
  });
});

describe("window limits hold", () => {
  it("sliding log caps every interval", () => {
    fc.assert(
      fc.property(scenarios({ jitter: true, overCapacity: false }), (scenario) => {
        const model = new WindowModel("sliding-log", scenario.limit, scenario.window);
        const limiter = createLimiter("sliding-log", scenario);
        const admitted: { at: number; cost: number }[] = [];
        for (const step of scenario.steps) {
          const { decidedAt } = model.decide(step.at, step.cost, false);
          if (limiter.checkSync("k", { at: step.at, cost: step.cost }).allowed) {
            model.decide(step.at, step.cost, true);
            admitted.push({ at: decidedAt, cost: step.cost });
          }
        }

        // The busiest interval of length `window` starts at an admission.
        for (const first of admitted) {
          let total = 0;
          for (const entry of admitted) {
            if (entry.at >= first.at && entry.at < first.at + scenario.window) total += entry.cost;
          }
          expect(total, `interval from ${first.at}`).toBeLessThanOrEqual(scenario.limit);
        }
      }),
      RUNS,
    );
  });

  it("fixed window caps each window", () => {
    fc.assert(
      fc.property(scenarios({ jitter: true, overCapacity: false }), (scenario) => {
        const limiter = createLimiter("fixed-window", scenario);
        // An allowed decision's resetAt is the end of the window that admitted it.
        const admittedByWindowEnd = new Map<number, number>();
        for (const step of scenario.steps) {
          const decision = limiter.checkSync("k", { at: step.at, cost: step.cost });
          if (!decision.allowed) continue;
          const total = (admittedByWindowEnd.get(decision.resetAt) ?? 0) + step.cost;
          admittedByWindowEnd.set(decision.resetAt, total);
        }
        for (const [windowEnd, total] of admittedByWindowEnd) {
          expect(total, `window ending ${windowEnd}`).toBeLessThanOrEqual(scenario.limit);
        }
      }),
      RUNS,
    );
  });
});

/** Runs `action` and returns what it threw. */
function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error, but none was thrown");
}

describe.each(WINDOW_ALGORITHMS)("%s contract", (algorithm) => {
  function limiterFor(limit: number, window: number): RateLimiter {
    return new RateLimiter({ policy: { limit, window, algorithm } });
  }

  it("cost above limit never passes", () => {
    const limiter = limiterFor(3, 1000);
    limiter.checkSync("u", { at: 0 });

    for (const [at, remaining] of [
      [0, 2],
      [10, 2],
      [999, 2],
      [5000, 3],
    ] as const) {
      const before = limiter.peekSync("u", { at });
      const decision = limiter.checkSync("u", { at, cost: 4 });
      const after = limiter.peekSync("u", { at });

      expect(decision.allowed, `at ${at}`).toBe(false);
      expect(decision.reason, `at ${at}`).toBe("cost-exceeds-capacity");
      expect(decision.retryAfter, `at ${at}`).toBe(0);
      expect(decision.remaining, `at ${at}`).toBe(remaining);
      expect(after, `at ${at}`).toEqual(before);
    }
  });

  it("peek consumes nothing", () => {
    const limiter = limiterFor(3, 1000);
    for (let i = 0; i < 10; i++) {
      const peek = limiter.peekSync("u", { at: 0, cost: 2 });
      expect(peek.allowed, `peek ${i}`).toBe(true);
      expect(peek.remaining, `peek ${i}`).toBe(1);
    }

    const check = limiter.checkSync("u", { at: 0, cost: 2 });
    const peekAfter = limiter.peekSync("u", { at: 0, cost: 2 });

    expect(check.remaining).toBe(1);
    expect(peekAfter.allowed).toBe(false);
    expect(peekAfter.remaining).toBe(1);
  });

  it("lowered limit keeps remaining at zero", () => {
    const store = new MemoryStore({ logger: { warn() {}, error() {} } });
    const before = new RateLimiter({
      policy: { name: "api", limit: 10, window: 1000, algorithm },
      store,
    });
    const after = new RateLimiter({
      policy: { name: "api", limit: 5, window: 1000, algorithm },
      store,
    });
    before.checkSync("u", { at: 0, cost: 8 });

    const decision = after.checkSync("u", { at: 10 });

    expect(decision.allowed).toBe(false);
    expect(decision.remaining).toBe(0);
    expect(decision.retryAfter).toBeGreaterThan(0);
  });

  it.each([
    [0, RangeError],
    [-1, RangeError],
    [1.5, RangeError],
    [Number.NaN, RangeError],
    [Number.POSITIVE_INFINITY, RangeError],
    ["10", TypeError],
  ])("limit %s rejected", (limit, errorType) => {
    const error = thrown(
      () => new RateLimiter({ policy: { limit: limit as number, window: 1000, algorithm } }),
    );

    expect(error).toBeInstanceOf(errorType);
    expect((error as Error).message).toMatch(/^policy limit must be /);
    expect((error as { code?: string }).code).toBe("SLUICE_INVALID_ARGUMENT");
  });

  it.each([
    [0, RangeError],
    [-1, RangeError],
    ["abc", TypeError],
    [Number.NaN, RangeError],
  ])("window %s rejected", (window, errorType) => {
    const error = thrown(() => new RateLimiter({ policy: { limit: 10, window, algorithm } }));

    expect(error).toBeInstanceOf(errorType);
    expect((error as Error).message).toMatch(/^policy window must be /);
  });

  it.each([
    [0, RangeError],
    [-1, RangeError],
    [1.5, RangeError],
    [Number.NaN, RangeError],
    ["1", TypeError],
  ])("cost %s rejected", (cost, errorType) => {
    const limiter = limiterFor(3, 1000);

    const error = thrown(() => limiter.checkSync("u", { at: 0, cost: cost as number }));

    expect(error).toBeInstanceOf(errorType);
    expect((error as Error).message).toMatch(/^cost must be /);
    expect(limiter.peekSync("u", { at: 0 }).remaining).toBe(2);
  });

  it("huge limit and decade window", () => {
    const limit = Number.MAX_SAFE_INTEGER;
    const window = 10 * 365 * 86_400_000;
    const limiter = new RateLimiter({ policy: { limit, window: "3650d", algorithm } });
    const model = new WindowModel(algorithm, limit, window);
    const steps = [
      { at: 0, cost: 1 },
      { at: 1, cost: 2 ** 52 },
      { at: window + 5, cost: 3 },
      { at: window + 7, cost: 2 ** 52 },
      { at: window + 9, cost: 2 ** 52 },
      { at: 2 * window - 1, cost: limit },
      { at: 3 * window, cost: limit },
    ];

    for (const { at, cost } of steps) {
      const decision = limiter.checkSync("u", { at, cost });
      expect(malformedFields(decision, at), `at ${at}`).toEqual([]);
      expect(comparable(decision), `at ${at}`).toEqual(comparable(model.decide(at, cost, true)));
    }
  });
});

describe("mixed window policies", () => {
  const fixed = { name: "fixed", limit: 3, window: 1000, algorithm: "fixed-window" } as const;
  const log = { name: "log", limit: 2, window: 1000, algorithm: "sliding-log" } as const;
  const sliding = { name: "sliding", limit: 5, window: 1000, algorithm: "sliding-window" } as const;

  /** Peeks one policy's counter on the shared store. */
  function remainingUnder(store: MemoryStore, policy: typeof fixed | typeof log | typeof sliding) {
    return new RateLimiter({ policy, store }).peekSync("u", { at: 0 }).remaining;
  }

  it("all consumed or none", () => {
    const store = new MemoryStore();
    const limiter = new RateLimiter({ policies: [fixed, log, sliding], store });

    const first = limiter.checkSync("u", { at: 0 });
    const second = limiter.checkSync("u", { at: 0 });
    const third = limiter.checkSync("u", { at: 0 });

    expect(first.allowed).toBe(true);
    expect(second.allowed).toBe(true);
    expect(second.policy).toBe("log");
    expect(third.allowed).toBe(false);
    expect(third.policy).toBe("log");
    expect(third.retryAfter).toBe(1000);
    // Two admitted requests, so peeking one more leaves limit − 3 under each policy.
    expect(remainingUnder(store, fixed)).toBe(0);
    expect(remainingUnder(store, log)).toBe(0);
    expect(remainingUnder(store, sliding)).toBe(2);
  });

  it("oversized cost consumes nothing", () => {
    const store = new MemoryStore();
    const limiter = new RateLimiter({ policies: [sliding, fixed, log], store });

    const decision = limiter.checkSync("u", { at: 0, cost: 4 });

    expect(decision.allowed).toBe(false);
    expect(decision.reason).toBe("cost-exceeds-capacity");
    expect(decision.policy).toBe("fixed");
    expect(decision.retryAfter).toBe(0);
    expect(remainingUnder(store, sliding)).toBe(4);
  });

  it("next window admits all again", () => {
    const store = new MemoryStore();
    const limiter = new RateLimiter({ policies: [fixed, log, sliding], store });
    for (let i = 0; i < 3; i++) limiter.checkSync("u", { at: 0 });

    // Fixed window and log are empty again at 1000, but the sliding window's previous
    // count of 2 still weighs in full.
    const decision = limiter.checkSync("u", { at: 1000 });

    expect(decision.allowed).toBe(true);
    expect(decision.policy).toBe("log");
    expect(decision.remaining).toBe(1);
  });
});

/**
 * Picks the policy a multi-policy decision reports. When all allow, it is the one with the
 * fewest units left. Otherwise it is a policy whose cost can never pass, else the rejection
 * that clears last. Ties go to the earlier policy.
 */
function reportedIndex(decisions: readonly ModelDecision[]): number {
  const indexed = decisions.map((decision, index) => ({ decision, index }));
  const rejected = indexed.filter(({ decision }) => !decision.allowed);
  if (rejected.length === 0) {
    return indexed.reduce((best, next) =>
      next.decision.remaining < best.decision.remaining ? next : best,
    ).index;
  }

  const never = rejected.find(({ decision }) => decision.reason === "cost-exceeds-capacity");
  if (never !== undefined) return never.index;
  return rejected.reduce((best, next) =>
    next.decision.retryAfter > best.decision.retryAfter ? next : best,
  ).index;
}

describe.each(["fixed-window.json", "sliding-window.json", "sliding-log.json"])(
  "vectors %s",
  (file) => {
    const cases = loadVectors().get(file)?.cases ?? [];

    it("has cases", () => {
      expect(cases.length).toBeGreaterThanOrEqual(6);
    });

    it.each(cases.map((vectorCase) => [vectorCase.name, vectorCase] as const))(
      "%s matches reference model",
      (_name, vectorCase) => {
        const policies = vectorCase.policies.map((input) => parsePolicy(input));
        const models = new Map<string, WindowModel>();
        const modelOf = (index: number, key: string) => {
          const policy = policies[index] as Policy;
          const algorithm = policy.algorithm as WindowAlgorithm;
          return modelFor(models, `${index}:${key}`, () => {
            return new WindowModel(algorithm, policy.limit, policy.window);
          });
        };

        for (const [stepIndex, step] of vectorCase.steps.entries()) {
          const key = step.key ?? "k";
          const cost = step.cost ?? 1;
          const decisions = policies.map((_, i) => modelOf(i, key).decide(step.at, cost, false));
          const allowed = decisions.every((decision) => decision.allowed);
          if (allowed && step.peek !== true) {
            for (const [i] of policies.entries()) modelOf(i, key).decide(step.at, cost, true);
          }

          const reported = reportedIndex(decisions);
          const decision = decisions[reported] as ModelDecision;
          const actual: Record<string, unknown> = {
            ...comparable(decision),
            allowed,
            policy: policies[reported]?.name,
          };
          const picked = Object.fromEntries(Object.keys(step.expect).map((f) => [f, actual[f]]));
          expect(picked, `step ${stepIndex} at ${step.at}`).toEqual(step.expect);
        }
      },
    );
  },
);
