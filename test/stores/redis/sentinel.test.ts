import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../../src/limiter.js";
import { RedisStore } from "../../../src/stores/redis/index.js";
import { useRedisSentinel } from "../../support/redis-servers.js";
import { keysWithPrefix, uniquePrefix } from "./support.js";

describe("Redis store through Sentinel", () => {
  const sentinel = useRedisSentinel();

  it("checks reach the master", async () => {
    const setup = sentinel();
    const client = setup.client();
    const prefix = uniquePrefix("sentinel");
    const limiter = new RateLimiter({
      policy: "2/1m",
      store: new RedisStore({ client, prefix }),
      timeout: 5000,
    });
    const decisions = [
      await limiter.check("u1"),
      await limiter.check("u1"),
      await limiter.check("u1"),
    ];

    const master = (await setup.currentMaster()).client();
    const keys = await keysWithPrefix(master, prefix);
    expect(decisions.map((decision) => [decision.allowed, decision.degraded])).toEqual([
      [true, false],
      [true, false],
      [false, false],
    ]);
    expect(keys).toHaveLength(1);
  });
});
