import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { findFreePort, releasePort } from "../support/free-port.js";
import { type ClusterNode, useRedisCluster } from "../support/redis-servers.js";
import { runCli } from "./run-cli.js";

const LOG = "examples/access.log";
const HAS_REDIS_STORE = existsSync("src/stores/redis/index.ts");

/** Start of the Redis store's client option warnings (codes SLUICE_REDIS_*). */
const CLIENT_OPTION_WARNING = /^sluice: the Redis (Cluster )?client/m;

type Summary = Record<string, unknown> & {
  runs?: Record<string, unknown>[];
  redis?: { prefix: string; deletedKeys: number | null };
};

async function replayJson(args: readonly string[]): Promise<Summary> {
  const result = await runCli(["replay", LOG, "--json", ...args]);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).not.toMatch(CLIENT_OPTION_WARNING);
  return JSON.parse(result.stdout) as Summary;
}

/** The totals that must not depend on the store. */
function totals(summary: Record<string, unknown>) {
  return { allowed: summary.allowed, rejected: summary.rejected };
}

describe("sluice replay --cluster without --redis", () => {
  it("exits 2 with one line", async () => {
    const result = await runCli(["replay", LOG, "--cluster"]);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      "sluice: --cluster applies only with --redis; see sluice replay --help\n",
    );
  });
});

describe.skipIf(!HAS_REDIS_STORE)("sluice replay --redis --cluster", () => {
  const cluster = useRedisCluster();

  /** The first master, the replay's only startup node. */
  function startupNode(): ClusterNode {
    const node = cluster().masters()[0];
    if (node === undefined) throw new Error("the test cluster has no master");
    return node;
  }
  const startupUrl = () => startupNode().url;

  /** Returns how many keys under `prefix` each master holds, in `masters()` order. */
  async function keysPerMaster(prefix: string): Promise<number[]> {
    const counts: number[] = [];
    for (const master of cluster().masters()) {
      const client = master.client();
      counts.push((await client.keys(`${prefix}:*`)).length);
      client.disconnect();
    }
    return counts;
  }

  it("totals equal the memory replay", async () => {
    const memory = await replayJson([]);
    const redis = await replayJson(["--redis", startupUrl(), "--cluster"]);

    expect(redis.store).toBe("redis");
    expect(totals(redis)).toEqual(totals(memory));
  });

  it("compare totals equal the memory replay", async () => {
    const memory = await replayJson(["--compare"]);
    const redis = await replayJson(["--compare", "--redis", startupUrl(), "--cluster"]);

    expect(redis.runs?.map(totals)).toEqual(memory.runs?.map(totals));
  });

  it("deletes its keys on every master", async () => {
    const redis = await replayJson(["--redis", startupUrl(), "--cluster"]);
    const prefix = redis.redis?.prefix ?? "";

    expect(redis.redis?.deletedKeys).toBeGreaterThan(0);
    expect(await keysPerMaster(prefix)).toEqual([0, 0, 0]);
  });

  it("keep-keys leaves keys on every master", async () => {
    const prefix = "cluster-kept";
    await replayJson(["--redis", startupUrl(), "--cluster", "--prefix", prefix, "--keep-keys"]);
    const counts = await keysPerMaster(prefix);

    for (const count of counts) expect(count).toBeGreaterThan(0);
  });

  it("used prefix on another master rejected", async () => {
    const startupPort = startupNode().port;
    let key = "";
    for (let i = 0; key === ""; i++) {
      const candidate = `cluster-taken:${i}`;
      if ((await cluster().masterForKey(candidate)).port !== startupPort) key = candidate;
    }
    const client = cluster().client();
    await client.set(key, "1");
    client.disconnect();

    const result = await runCli([
      "replay",
      LOG,
      "--redis",
      startupUrl(),
      "--cluster",
      "--prefix",
      "cluster-taken",
    ]);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `sluice: Redis Cluster at ${startupUrl()} already has keys under --prefix cluster-taken; choose an unused prefix\n`,
    );
  });

  it("refused connection exits 1", async () => {
    const port = await findFreePort();
    try {
      const started = Date.now();
      const result = await runCli([
        "replay",
        LOG,
        "--redis",
        `redis://127.0.0.1:${port}`,
        "--cluster",
      ]);

      expect(Date.now() - started).toBeLessThan(2000);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `^sluice: cannot connect to Redis Cluster at redis://127\\.0\\.0\\.1:${port}: None of startup nodes is available\\n$`,
        ),
      );
    } finally {
      releasePort(port);
    }
  });
});
