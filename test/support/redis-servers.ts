/**
 * Throwaway Redis servers for tests: standalone, Cluster and Sentinel, each made of
 * `redis-server` processes that the test starts on free 127.0.0.1 ports and always stops.
 *
 * Cleanup happens in three layers: `stop()` on each handle (the `use*` helpers call it in
 * `afterAll`), a process `exit` hook that SIGKILLs whatever is still registered, and, where
 * util-linux `setpriv --pdeathsig` exists, the kernel killing a server whose test worker died.
 *
 * @example
 * const redis = useRedis();
 * test("set then get", async () => {
 *   const client = redis().client();
 *   await client.set("k", "v");
 *   expect(await client.get("k")).toBe("v");
 * });
 */
import { afterAll, beforeAll } from "vitest";
import { type RedisCluster, type StartClusterOptions, startCluster } from "./redis-cluster.js";
import { type RedisSentinel, type StartSentinelOptions, startSentinel } from "./redis-sentinel.js";
import { type RedisServer, type StartRedisOptions, startRedis } from "./redis-server.js";

export { CLUSTER_BUS_PORT_OFFSET, findFreePort, LOOPBACK_HOST, releasePort } from "./free-port.js";
export { baseServerArgs, findRedisBinaries, type RedisBinaries } from "./redis-binaries.js";
export {
  CLUSTER_SLOTS,
  type ClusterNode,
  type ClusterRole,
  type ClusterWaitOptions,
  keySlot,
  type RedisCluster,
  type StartClusterOptions,
  startCluster,
} from "./redis-cluster.js";
export {
  type PollOptions,
  parseInfo,
  pollUntil,
  type RedisCommandOptions,
  type RedisReply,
  RedisReplyError,
  redisCommand,
} from "./redis-command.js";
export { processExists } from "./redis-directory.js";
export {
  DEFAULT_SENTINEL_MASTER_NAME,
  type RedisSentinel,
  type SentinelWaitOptions,
  type StartSentinelOptions,
  startSentinel,
} from "./redis-sentinel.js";
export {
  listRedisServers,
  type RedisClientOptions,
  type RedisServer,
  type RedisServerState,
  type StartRedisOptions,
  startRedis,
} from "./redis-server.js";

/** Time in milliseconds the `use*` hooks allow for starting or stopping a setup. */
const HOOK_TIMEOUT_MS = 60_000;

/**
 * Starts a standalone server in `beforeAll` and stops it in `afterAll` of the enclosing
 * `describe` (or file). Returns an accessor, valid inside tests and later hooks.
 */
export function useRedis(options: StartRedisOptions = {}): () => RedisServer {
  return useSetup("useRedis", () => startRedis(options));
}

/** Like {@link useRedis}, for a Redis Cluster started with {@link startCluster}. */
export function useRedisCluster(options: StartClusterOptions = {}): () => RedisCluster {
  return useSetup("useRedisCluster", () => startCluster(options));
}

/** Like {@link useRedis}, for a Sentinel setup started with {@link startSentinel}. */
export function useRedisSentinel(options: StartSentinelOptions = {}): () => RedisSentinel {
  return useSetup("useRedisSentinel", () => startSentinel(options));
}

function useSetup<T extends { stop(): Promise<void> }>(
  helper: string,
  start: () => Promise<T>,
): () => T {
  let setup: T | undefined;

  beforeAll(async () => {
    setup = await start();
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await setup?.stop();
    setup = undefined;
  }, HOOK_TIMEOUT_MS);

  return () => {
    if (setup === undefined) {
      throw new Error(
        `${helper}() accessor called outside a test, or its beforeAll failed; the setup is not running.`,
      );
    }
    return setup;
  };
}
