import { existsSync } from "node:fs";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort, releasePort } from "../support/free-port.js";
import { type RedisServer, startRedis } from "../support/redis-server.js";
import { runCli } from "./run-cli.js";

const LOG = "examples/access.log";
const HAS_REDIS_STORE = existsSync("src/stores/redis/index.ts");

type Summary = Record<string, unknown> & {
  runs?: Record<string, unknown>[];
  redis?: { prefix: string; deletedKeys: number | null };
};

/**
 * Start of the Redis store's client option warnings (codes SLUICE_REDIS_UNBOUNDED_QUEUE and
 * SLUICE_REDIS_RESEND), which the replay writes to stderr when its client lacks the
 * options the store recommends.
 */
const CLIENT_OPTION_WARNING = /^sluice: the Redis (Cluster )?client/m;

/** Runs a replay that must succeed without a client option warning. */
async function replayJson(args: readonly string[]): Promise<Summary> {
  const result = await runCli(["replay", LOG, "--json", ...args]);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).not.toMatch(CLIENT_OPTION_WARNING);
  return JSON.parse(result.stdout) as Summary;
}

/** The fields that must not depend on the store. */
function decisions(summary: Record<string, unknown>) {
  return {
    allowed: summary.allowed,
    rejected: summary.rejected,
    rejectedKeys: summary.rejectedKeys,
    top: summary.top,
  };
}

describe.skipIf(!HAS_REDIS_STORE)("sluice replay --redis", () => {
  let server: RedisServer;
  let client: Redis;

  beforeAll(async () => {
    server = await startRedis();
    client = server.client();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("decisions equal the memory replay", async () => {
    const memory = await replayJson([]);
    const redis = await replayJson(["--redis", server.url]);

    expect(redis.store).toBe("redis");
    expect(decisions(redis)).toEqual(decisions(memory));
  });

  it("compare decisions equal the memory replay", async () => {
    const memory = await replayJson(["--compare"]);
    const redis = await replayJson(["--compare", "--redis", server.url, "--concurrency", "16"]);

    expect(redis.runs?.map(decisions)).toEqual(memory.runs?.map(decisions));
  });

  it("client options draw no warning", async () => {
    const result = await runCli(["replay", LOG, "--redis", server.url]);

    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(CLIENT_OPTION_WARNING);
  });

  it("deletes its keys afterwards", async () => {
    const redis = await replayJson(["--redis", server.url]);

    expect(redis.redis?.deletedKeys).toBeGreaterThan(0);
    expect(await client.dbsize()).toBe(0);
  });

  it("keep-keys leaves keys under the prefix", async () => {
    const redis = await replayJson(["--redis", server.url, "--prefix", "kept", "--keep-keys"]);

    expect(redis.redis).toEqual({ prefix: "kept", deletedKeys: null });
    expect((await client.keys("kept:*")).length).toBeGreaterThan(0);
  });

  it("used prefix rejected", async () => {
    await client.set("taken:x", "1");
    const result = await runCli(["replay", LOG, "--redis", server.url, "--prefix", "taken"]);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `sluice: Redis at ${server.url} already has keys under --prefix taken; choose an unused prefix\n`,
    );
  });

  it("refused connection exits 1", async () => {
    const port = await findFreePort();
    try {
      const started = Date.now();
      const result = await runCli(["replay", LOG, "--redis", `redis://127.0.0.1:${port}`]);

      expect(Date.now() - started).toBeLessThan(2000);

      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `^sluice: cannot connect to Redis at redis://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\n$`,
        ),
      );
    } finally {
      releasePort(port);
    }
  });

  it("interrupt still deletes keys", async () => {
    const stdin = new PassThrough();
    const interrupt = new AbortController();
    // More lines than one batch, so decisions reach Redis while the log stays open.
    for (let i = 0; i < 9000; i++) {
      stdin.write(`10.0.${i % 50}.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5\n`);
    }
    const running = runCli(["replay", "-", "--redis", server.url], {
      stdin,
      signal: interrupt.signal,
    });

    for (let i = 0; i < 250 && (await client.keys("sluice-replay:*")).length === 0; i++) {
      await sleep(20);
    }
    const written = (await client.keys("sluice-replay:*")).length;
    interrupt.abort();
    const result = await running;

    expect(written).toBeGreaterThan(0);
    expect(result.code).toBe(130);
    expect(result.stderr).toBe("sluice: interrupted\n");
    expect(await client.keys("sluice-replay:*")).toEqual([]);
  });
});
