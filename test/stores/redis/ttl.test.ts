import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../../src/limiter.js";
import type { PolicyOptions } from "../../../src/policy/policy.js";
import { RedisStore } from "../../../src/stores/redis/index.js";
import { ALGORITHMS, type AlgorithmName } from "../../../src/types.js";
import { useRedis } from "../../support/redis-servers.js";
import { DEADLINE, keysWithPrefix, uniquePrefix } from "./support.js";

/** Returns the PTTL of every key under `prefix`. */
async function ttls(client: Redis, prefix: string): Promise<number[]> {
  const keys = await keysWithPrefix(client, prefix);
  return Promise.all(keys.map((key) => client.pttl(key)));
}

/** Maximum time until each algorithm's state equals no state, for `policy`. */
function maxTtl(policy: Required<Omit<PolicyOptions, "name" | "failureMode">>): number {
  const window = Number(policy.window);
  switch (policy.algorithm) {
    case "sliding-window":
      return 2 * window;
    case "token-bucket":
    case "leaky-bucket":
    case "gcra":
      return Math.ceil((policy.burst * window) / policy.limit);
    default:
      return window;
  }
}

describe("every Redis key expires", () => {
  const redis = useRedis();
  let shared: Redis | undefined;
  const connect = () => {
    shared ??= redis().client();
    return shared;
  };

  it("fixed window TTL within window", async () => {
    const prefix = uniquePrefix("ttl");
    const policy = { limit: 3, window: 1000, algorithm: "fixed-window" as const };
    const limiter = new RateLimiter({
      policy,
      store: new RedisStore({ client: connect(), prefix }),
      ...DEADLINE,
    });
    const seen: number[] = [];
    for (let at = 0; at < 5000; at += 250) {
      await limiter.check("u1", { at });
      seen.push(...(await ttls(connect(), prefix)));
    }
    // Real time passes between the listing and PTTL, so a key may expire in between (-2) or
    // read 0 at its last millisecond. A key without TTL (-1) must never appear.
    expect(seen.filter((ttl) => ttl === -1 || ttl > 1000)).toEqual([]);
  });

  it("1000 and 999 ms callers keep TTLs", async () => {
    const prefix = uniquePrefix("ttl");
    const policy = { limit: 3, window: 1000, algorithm: "fixed-window" as const };
    const second = redis().client();
    const limiters = [connect(), second].map(
      (client) =>
        new RateLimiter({ policy, store: new RedisStore({ client, prefix }), ...DEADLINE }),
    );

    // Two minutes of calls, merged in time order: one client every 1000 ms, one every 999 ms.
    const calls: { at: number; client: number }[] = [];
    for (let i = 0; i <= 120; i++)
      calls.push({ at: i * 1000, client: 0 }, { at: i * 999, client: 1 });
    calls.sort((a, b) => a.at - b.at || a.client - b.client);

    const seen: number[] = [];
    for (const call of calls) {
      await (limiters[call.client] as RateLimiter).check("u1", { at: call.at });
      seen.push(...(await ttls(connect(), prefix)));
    }
    // Real time passes between the listing and PTTL, so a key may expire in between (-2) or
    // read 0 at its last millisecond. A key without TTL (-1) must never appear.
    expect(seen.filter((ttl) => ttl === -1 || ttl > 1000)).toEqual([]);
    second.disconnect();
  });

  it("keys vanish 1.1 s after the last call", async () => {
    const prefix = uniquePrefix("ttl");
    const policy = { limit: 3, window: 1000, algorithm: "fixed-window" as const };
    const limiter = new RateLimiter({
      policy,
      store: new RedisStore({ client: connect(), prefix }),
      ...DEADLINE,
    });
    await limiter.check("u1");
    await limiter.check("u2");
    await sleep(1100);
    expect(await keysWithPrefix(connect(), prefix)).toEqual([]);
  });

  describe.each(ALGORITHMS)("%s", (algorithm: AlgorithmName) => {
    const bucket = ["token-bucket", "leaky-bucket", "gcra"].includes(algorithm);
    const policies = [
      { algorithm, limit: 3, window: 1000, burst: 3 },
      { algorithm, limit: 7, window: 333, burst: bucket ? 2 : 7 },
      { algorithm, limit: 2, window: 1500, burst: bucket ? 5 : 2 },
    ];

    it.each(policies)("TTL bounded for $limit per $window ms", async (options) => {
      const prefix = uniquePrefix("ttl");
      // The window algorithms take no burst option; theirs equals the limit.
      const policy = bucket ? options : { algorithm, limit: options.limit, window: options.window };
      const limiter = new RateLimiter({
        policy,
        store: new RedisStore({ client: connect(), prefix }),
        ...DEADLINE,
      });
      const longest = maxTtl(options);
      const seen: number[] = [];
      let at = 0;
      for (let i = 0; i < 60; i++) {
        at += [0, 1, 17, 250, 999, 1001][i % 6] as number;
        await limiter.check("u1", { at, cost: 1 + (i % 3) });
        seen.push(...(await ttls(connect(), prefix)));
      }
      expect(seen.filter((ttl) => ttl < 1 || ttl > longest)).toEqual([]);
    });
  });
});
