import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../../src/limiter.js";
import { RedisStore } from "../../../src/stores/redis/index.js";
import { ALGORITHMS } from "../../../src/types.js";
import { useRedis } from "../../support/redis-servers.js";
import { DEADLINE, keysWithPrefix, uniquePrefix } from "./support.js";

/**
 * Loose upper bounds on `MEMORY USAGE` of one key with a 30-byte name, in bytes: the fixed
 * state is a 25-byte string, the sliding log a small list. bench/redis.mjs records the
 * measured sizes.
 */
const MAX_BYTES = { fixed: 160, log: 320 };

describe("Redis memory per key", () => {
  const redis = useRedis();
  let shared: Redis | undefined;

  it.each(ALGORITHMS)("%s writes one small key each", async (algorithm) => {
    shared ??= redis().client();
    const prefix = uniquePrefix("mem");
    const limiter = new RateLimiter({
      policies: [
        { name: "a", limit: 100, window: 60_000, algorithm },
        { name: "b", limit: 1000, window: 3_600_000, algorithm },
      ],
      store: new RedisStore({ client: shared, prefix }),
      ...DEADLINE,
    });
    for (let i = 0; i < 5; i++) await limiter.check("user-1", { at: i });
    await limiter.check("user-2", { at: 0 });

    const keys = await keysWithPrefix(shared, prefix);
    const sizes = await Promise.all(
      keys.map(async (key) => Number(await shared?.memory("USAGE", key, "SAMPLES", "0"))),
    );
    const limit = algorithm === "sliding-log" ? MAX_BYTES.log : MAX_BYTES.fixed;
    expect(keys).toHaveLength(4);
    expect(sizes.filter((size) => size > limit)).toEqual([]);
  });
});
