import fc from "fast-check";
import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../../src/limiter.js";
import {
  MAX_REFILL_MS,
  type Policy,
  type PolicyOptions,
  parsePolicy,
} from "../../../src/policy/policy.js";
import { RedisStore } from "../../../src/stores/redis/index.js";
import { ALGORITHMS, type AlgorithmName, type Decision } from "../../../src/types.js";
import { useRedis } from "../../support/redis-servers.js";
import { DEADLINE, uniquePrefix } from "./support.js";

interface Step {
  readonly dt: number;
  readonly key: string;
  readonly cost: number;
  readonly peek: boolean;
}

const DAY = 24 * 3600 * 1000;
const TEN_YEARS = 3650 * DAY;

const BUCKETS: readonly AlgorithmName[] = ["token-bucket", "leaky-bucket", "gcra"];

function policyArbitrary(
  index: number,
  limits: fc.Arbitrary<number>,
  windows: fc.Arbitrary<number>,
): fc.Arbitrary<PolicyOptions> {
  return fc
    .record({
      algorithm: fc.constantFrom(...ALGORITHMS),
      limit: limits,
      window: windows,
      burst: fc.option(limits, { nil: undefined }),
    })
    .map(({ algorithm, limit, window, burst }) => ({
      name: `p${index}`,
      algorithm,
      limit,
      window,
      ...(burst !== undefined && BUCKETS.includes(algorithm) ? { burst } : {}),
    }))
    .filter(isValidPolicy);
}

function isValidPolicy(policy: PolicyOptions): boolean {
  try {
    parsePolicy(policy);
    return true;
  } catch {
    return false;
  }
}

function stepsArbitrary(
  costs: fc.Arbitrary<number>,
  dts: fc.Arbitrary<number>,
  keys: readonly string[],
) {
  return fc.array(
    fc.record({
      dt: dts,
      key: fc.constantFrom(...keys),
      cost: costs,
      peek: fc.boolean().map((peek) => peek && Math.random() < 0.3),
    }),
    { minLength: 1, maxLength: 40 },
  );
}

/**
 * Real time below which a key's remaining TTL counts as about to expire, in ms. Redis TTLs
 * run in server time while these tests stamp requests with `at`, so a key whose state lives
 * 1 ms in `at` time can vanish between two steps stamped with the same `at`.
 */
const SHORT_TTL = 20;

/**
 * Runs the same traffic through a RedisStore and a MemoryStore and expects identical
 * decisions. A key left with a TTL under SHORT_TTL is dropped from both stores before the
 * next step, so server time passing between steps never decides a difference.
 */
async function compare(
  client: Redis,
  policies: readonly PolicyOptions[],
  steps: readonly Step[],
): Promise<void> {
  const prefix = uniquePrefix("equivalence");
  const store = new RedisStore({ client, prefix });
  const redis = new RateLimiter({ policies, store, ...DEADLINE });
  const memory = new RateLimiter({ policies });
  const shortLived = new Map<string, { key: string; policy: Policy }>();

  let at = 0;
  for (const [index, step] of steps.entries()) {
    for (const [redisKey, { key, policy }] of shortLived) {
      await client.del(redisKey);
      await memory.store.reset(key, [policy]);
    }
    shortLived.clear();

    at = Math.max(0, at + step.dt);
    const options = { at, cost: step.cost };
    const decide = (limiter: RateLimiter): Promise<Decision> =>
      step.peek ? limiter.peek(step.key, options) : limiter.check(step.key, options);
    const expected = await decide(memory);
    const decision = await decide(redis);
    expect(decision, `step ${index} at ${at}`).toEqual(expected);

    if (!decision.allowed || step.peek) continue;
    for (const policy of redis.policies) {
      const redisKey = `${prefix}:${policy.name}:{k:${step.key}}`;
      // -2: the key already expired, which only a TTL of a few ms allows.
      const ttl = await client.pttl(redisKey);
      if (ttl <= SHORT_TTL) shortLived.set(redisKey, { key: step.key, policy });
    }
  }
}

describe("redis store decides like the memory store", () => {
  const redis = useRedis();
  let client: Redis | undefined;
  const connect = () => {
    client ??= redis().client();
    return client;
  };

  const smallLimits = fc.integer({ min: 1, max: 12 });
  const smallWindows = fc.constantFrom(1, 7, 333, 600, 1000, 1500, 10_000);
  const smallPolicies = fc
    .array(fc.nat(2), { minLength: 1, maxLength: 3 })
    .chain((names) =>
      fc.tuple(...names.map((_, index) => policyArbitrary(index, smallLimits, smallWindows))),
    );
  const smallCosts = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 15 }));

  it("random traffic on small policies", async () => {
    await fc.assert(
      fc.asyncProperty(
        smallPolicies,
        stepsArbitrary(smallCosts, fc.oneof(fc.constant(0), fc.nat(2500)), ["a", "b"]),
        (policies, steps) => compare(connect(), policies, steps),
      ),
      { numRuns: 200 },
    );
  });

  // One key only: the memory store's sweep may drop another key's state by the later time,
  // which a request stamped earlier for that key would still have met.
  it("requests stamped out of order", async () => {
    await fc.assert(
      fc.asyncProperty(
        smallPolicies,
        stepsArbitrary(smallCosts, fc.integer({ min: -400, max: 2500 }), ["a"]),
        (policies, steps) => compare(connect(), policies, steps),
      ),
      { numRuns: 200 },
    );
  });

  it("random traffic on huge policies", async () => {
    const limits = fc.oneof(
      fc.constant(Number.MAX_SAFE_INTEGER),
      fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    );
    const windows = fc.oneof(
      fc.constant(TEN_YEARS),
      fc.integer({ min: 1, max: TEN_YEARS }),
      fc.integer({ min: 1, max: MAX_REFILL_MS }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(policyArbitrary(0, limits, windows)),
        stepsArbitrary(
          fc.oneof(fc.constant(1), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
          fc.oneof(fc.constant(0), fc.nat(400 * DAY)),
          ["a", "b"],
        ),
        (policies, steps) => compare(connect(), policies, steps),
      ),
      { numRuns: 300 },
    );
  });
});
