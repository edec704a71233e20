import type { Cluster, Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/limiter.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import type { Decision } from "../../src/types.js";
import { DEADLINE, uniquePrefix } from "../stores/redis/support.js";
import { useRedis, useRedisCluster } from "../support/redis-servers.js";
import { loadVectors, pickExpected, type VectorCase } from "./vectors.js";

const vectorFiles = [...loadVectors()];

/**
 * Runs every case against a RedisStore and, step by step, against a MemoryStore: each step
 * must match the vector and return the very same decision as the memory store.
 */
async function runCase(client: Redis | Cluster, vectorCase: VectorCase): Promise<void> {
  const store = new RedisStore({ client, prefix: uniquePrefix("vectors") });
  const redis = new RateLimiter({ policies: vectorCase.policies, store, ...DEADLINE });
  const memory = new RateLimiter({ policies: vectorCase.policies });

  for (const [index, step] of vectorCase.steps.entries()) {
    const options = { at: step.at, cost: step.cost ?? 1 };
    const key = step.key ?? "k";
    const decide = (limiter: RateLimiter): Promise<Decision> =>
      step.peek ? limiter.peek(key, options) : limiter.check(key, options);
    const decision = await decide(redis);
    const expected = await decide(memory);

    expect(pickExpected(decision, step), `step ${index} at ${step.at}`).toEqual(
      Object.fromEntries(Object.entries(step.expect).sort()),
    );
    expect(decision, `step ${index} at ${step.at} against the memory store`).toEqual(expected);
  }
  await redis.close();
  await memory.close();
}

describe("redis store vectors on a standalone server", () => {
  const redis = useRedis();
  let client: Redis | undefined;

  describe.each(vectorFiles)("%s", (_file, vectors) => {
    // One retry: server time runs between steps that share one `at`, so a key whose TTL is
    // a millisecond or two can expire between them on a loaded machine. A real mismatch
    // repeats on the retry, which starts from fresh keys.
    it.each(vectors.cases.map((c) => [c.name, c] as const))(
      "%s",
      { retry: 1 },
      async (_name, vectorCase) => {
        client ??= redis().client();
        await runCase(client, vectorCase);
      },
    );
  });
});

describe("redis store vectors on a cluster", () => {
  const cluster = useRedisCluster();
  let client: Cluster | undefined;

  describe.each(vectorFiles)("%s", (_file, vectors) => {
    it.each(vectors.cases.map((c) => [c.name, c] as const))(
      "%s",
      { retry: 1 },
      async (_name, vectorCase) => {
        client ??= cluster().client();
        await runCase(client, vectorCase);
      },
    );
  });
});
