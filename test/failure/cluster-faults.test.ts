import { setTimeout as sleep } from "node:timers/promises";
import type { Cluster, ClusterOptions } from "ioredis";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/limiter.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { encodeKey } from "../../src/stores/redis/redis-keys.js";
import { type ClusterNode, keySlot, useRedisCluster } from "../support/redis-servers.js";
import {
  expectExactLimit,
  expectWithinDeadline,
  LIMITER_CLIENT_OPTIONS,
  msUntilExact,
  RECOVERY_BUDGET,
  reasonsOf,
  recordingLogger,
  reportLatency,
  reportRecovery,
  type TimedDecision,
  timedCheck,
  watchUnhandledRejections,
} from "./fault-support.js";

/** Store deadline of the limiter, in ms. */
const DEADLINE = 100;

/**
 * ioredis Cluster options recommended for a limiter: no queue while the cluster is not
 * ready, and node connections that fail commands at once instead of retrying them.
 */
const CLUSTER_CLIENT_OPTIONS = {
  enableOfflineQueue: false,
  redisOptions: {
    maxRetriesPerRequest: LIMITER_CLIENT_OPTIONS.maxRetriesPerRequest,
    connectTimeout: LIMITER_CLIENT_OPTIONS.connectTimeout,
    socketTimeout: LIMITER_CLIENT_OPTIONS.socketTimeout,
  },
} satisfies ClusterOptions;

const cluster = useRedisCluster({ requireFullCoverage: false });

/** Slot of the Redis keys the store writes for `key`: the slot of its hash tag. */
function slotOf(key: string): number {
  return keySlot(encodeKey(key));
}

/** Returns `count` keys starting with `label` whose slots `master` serves. */
async function keysOn(master: ClusterNode, label: string, count: number): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${label}${i}`;
    const owner = await cluster().masterForSlot(slotOf(key));
    if (owner.port === master.port) keys.push(key);
  }
  return keys;
}

async function connectedCluster(): Promise<Cluster> {
  const client = cluster().client(CLUSTER_CLIENT_OPTIONS);
  await client.connect();
  return client;
}

/** Runs one `peek()`, which always calls the store, and measures it. */
async function timedPeek(limiter: RateLimiter, key: string): Promise<TimedDecision> {
  const started = performance.now();
  const decision = await limiter.peek(key);
  return { decision, ms: performance.now() - started };
}

describe("RedisStore on a Cluster losing a master", () => {
  it("only the dead shard degrades", async () => {
    const [masterA, masterB] = cluster().masters();
    if (masterA === undefined || masterB === undefined) throw new Error("cluster has no masters");
    const [freshA = "", ...loadA] = await keysOn(masterA, "a", 6);
    const [keyB = ""] = await keysOn(masterB, "b", 1);
    const client = await connectedCluster();
    const store = new RedisStore({ client, prefix: `cluster-faults-${process.pid}` });
    const limiter = new RateLimiter({
      policy: { limit: 3, window: 60_000, failureMode: "open" },
      store,
      timeout: DEADLINE,
      logger: recordingLogger(),
    });
    const nodeBefore = store.nodeOf(freshA);
    const unhandled = watchUnhandledRejections();
    expect((await limiter.peek(freshA)).degraded).toBe(false);
    expect((await limiter.peek(keyB)).degraded).toBe(false);

    await masterA.kill();
    let failedOver = false;
    const failover = cluster()
      .waitForFailover(masterA.port)
      .finally(() => {
        failedOver = true;
      });
    const onA: TimedDecision[] = [];
    const onB: TimedDecision[] = [];
    // Five checks on the dead shard per check on a live one: with one circuit for the whole
    // store, their failures would outnumber the live shard's successes and open it.
    while (!failedOver) {
      const [b, ...a] = await Promise.all([
        timedPeek(limiter, keyB),
        ...loadA.map((key) => timedCheck(limiter, key)),
      ]);
      onA.push(...a);
      onB.push(b);
      await sleep(20);
    }
    const promoted = await failover;
    const waited = await msUntilExact(limiter, freshA);
    reportRecovery("cluster failover", waited);

    reportLatency("cluster master killed, dead shard", onA);
    reportLatency("cluster master killed, live shard", onB);
    expectWithinDeadline([...onA, ...onB], DEADLINE);
    expect(onA.slice(0, 25).filter((result) => !result.decision.degraded)).toEqual([]);
    expect(reasonsOf(onA)).toContain("store-unavailable");
    expect(reasonsOf(onB)).toEqual(["allowed"]);
    expect(onB.filter((result) => result.decision.degraded)).toEqual([]);
    expect(waited).toBeLessThanOrEqual(RECOVERY_BUDGET);
    await expectExactLimit(limiter, freshA);
    expect(nodeBefore).toBe(`127.0.0.1:${masterA.port}`);
    expect(store.nodeOf(freshA)).toBe(`127.0.0.1:${promoted.port}`);
    expect(await unhandled.stop()).toEqual([]);
  });
});
