import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../../src/limiter.js";
import { RedisStore } from "../../../src/stores/redis/index.js";
import type { Decision } from "../../../src/types.js";
import { type RedisServer, useRedis } from "../../support/redis-servers.js";
import { uniquePrefix } from "./support.js";

/** Creates a limiter whose decisions come from Redis, with a deadline that outlasts a reconnect. */
function limiterOn(client: Redis): RateLimiter {
  return new RateLimiter({
    policy: "3/1m",
    store: new RedisStore({ client, prefix: uniquePrefix("scripts") }),
    timeout: 10_000,
  });
}

function summary(decision: Decision): string {
  const verdict = decision.allowed ? "A" : "D";
  return decision.degraded ? `${verdict} degraded` : `${verdict}${decision.remaining}`;
}

/** Runs the sequence with `disrupt` between steps; returns what each step decided. */
async function survive(
  client: Redis,
  disrupt: () => Promise<unknown>,
): Promise<{ sequence: string[]; burst: Record<string, number> }> {
  const limiter = limiterOn(client);
  const sequence = [summary(await limiter.check("u1"))];
  await disrupt();
  for (let i = 0; i < 3; i++) sequence.push(summary(await limiter.check("u1")));

  await disrupt();
  const settled = await Promise.allSettled(Array.from({ length: 50 }, () => limiter.check("u2")));
  const burst: Record<string, number> = { A: 0, D: 0, errors: 0, degraded: 0 };
  for (const result of settled) {
    if (result.status === "rejected") burst.errors = (burst.errors ?? 0) + 1;
    else if (result.value.degraded) burst.degraded = (burst.degraded ?? 0) + 1;
    else if (result.value.allowed) burst.A = (burst.A ?? 0) + 1;
    else burst.D = (burst.D ?? 0) + 1;
  }
  return { sequence, burst };
}

const EXPECTED = {
  sequence: ["A2", "A1", "A0", "D0"],
  burst: { A: 3, D: 47, errors: 0, degraded: 0 },
};

describe("flushed script cache changes nothing", () => {
  const redis = useRedis();

  it("SCRIPT FLUSH between checks", async () => {
    const client = redis().client();
    expect(await survive(client, () => client.script("FLUSH"))).toEqual(EXPECTED);
  });

  it("SCRIPT FLUSH answered with EVAL", async () => {
    const client = redis().client();
    await client.config("RESETSTAT");
    await survive(client, () => client.script("FLUSH"));
    const stats = await client.info("commandstats");
    // One EVAL after each flush: the first call that found the cache empty.
    expect(Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1])).toBeGreaterThanOrEqual(2);
  });
});

describe("server restart changes nothing", () => {
  // The append-only file keeps the counters across the restart; the script cache is lost.
  const redis = useRedis({ args: ["--appendonly", "yes", "--appendfsync", "always"] });

  it("restart between checks", async () => {
    const server: RedisServer = redis();
    const client = server.client();
    const restart = async () => {
      await server.restart();
      await client.ping();
    };
    expect(await survive(client, restart)).toEqual(EXPECTED);
  });
});
