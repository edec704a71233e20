import { randomBytes } from "node:crypto";
import type { Cluster, ClusterOptions, Redis, RedisOptions } from "ioredis";
import { RateLimiter } from "../limiter.js";
import type { Policy, PolicyOptions } from "../policy/policy.js";
import type { Store } from "../stores/store.js";
import type { Logger } from "../types.js";
import type { RequestBatch } from "./batch.js";
import { CliError, EXIT_FAILURE, EXIT_USAGE } from "./cli-error.js";
import type { TextSink } from "./io.js";
import type { RedisReplayOptions } from "./replay-options.js";
import type { ReplayBackend, ReplayRun } from "./replay-run.js";
import { Tally } from "./tally.js";

/** The part of the Redis store module a replay uses. */
interface RedisStoreModule {
  readonly RedisStore: new (options: {
    client: Redis | Cluster;
    prefix: string;
    logger: Logger;
  }) => Store;
}

/** The ioredis client classes, loaded at run time like the store. */
interface IoredisModule {
  readonly Redis: typeof Redis;
  readonly Cluster: typeof Cluster;
}

/** The Redis store, loaded at run time so that memory replays never need ioredis. */
const STORE_MODULE: string = "../stores/redis/index.js";
/** Time allowed for one TCP connection to a server, in ms. */
const CONNECT_TIMEOUT_MS = 1000;
/**
 * Deadline of one store call. A replay wants the store's own decision for every request,
 * so this is far above the limiter's default of 50 ms, which a busy test machine or a
 * remote server can miss without anything being wrong.
 */
const CHECK_TIMEOUT_MS = 5000;
/** Keys asked for per SCAN call when looking for and deleting the replay's keys. */
const SCAN_COUNT = 1000;

/**
 * Connects to the Redis server, or with `options.cluster` the Redis Cluster, at
 * `options.url` and returns a backend whose runs decide through the Redis store under a
 * prefix of their own. `close()` deletes every key under that prefix (unless `keepKeys`)
 * and quits the connection.
 *
 * @throws {CliError} with exit code 2 when ioredis or the Redis store is missing or the
 * prefix is already in use, and 1 when the connection fails.
 */
export async function connectRedisBackend(
  options: RedisReplayOptions,
  stderr: TextSink,
): Promise<ReplayBackend> {
  const ioredis: IoredisModule = await importOrExplain(
    () => import("ioredis"),
    "--redis needs the ioredis package; install it with npm install ioredis",
  );
  const { RedisStore } = await loadStoreModule();

  // Names the server in messages, as in "Redis Cluster at redis://127.0.0.1:7000".
  const target = `${options.cluster ? "Redis Cluster" : "Redis"} at ${redactUrl(options.url)}`;
  const client = await connectClient(ioredis, options, target);

  const prefix = options.prefix ?? `sluice-replay:${randomBytes(6).toString("hex")}`;
  try {
    // State left under a chosen prefix would change the decisions, and the cleanup would
    // delete keys this replay did not write.
    if (options.prefix !== undefined && (await hasKeys(client, prefix))) {
      throw new CliError(
        `${target} already has keys under --prefix ${prefix}; choose an unused prefix`,
        EXIT_USAGE,
      );
    }
  } catch (error) {
    client.disconnect();
    throw error instanceof CliError ? error : redisFailure(target, error);
  }

  return {
    store: "redis",
    createRun: (policy) =>
      createRedisRun(
        policy,
        new RedisStore({ client, prefix, logger: stderrLogger(stderr) }),
        options.concurrency,
        target,
        stderrLogger(stderr),
      ),
    async close() {
      try {
        const deletedKeys = options.keepKeys ? undefined : await deleteKeys(client, prefix);
        await client.quit();
        return { prefix, deletedKeys };
      } catch (error) {
        client.disconnect();
        throw new CliError(
          `cleanup on ${target} failed, keys may remain under ${prefix}: ${describe(error)}`,
          EXIT_FAILURE,
          { cause: error },
        );
      }
    },
  };
}

/**
 * Creates the client and waits until it is ready. Both client kinds get the options the
 * Redis store recommends: no offline queue, no retried or resent commands, and no
 * reconnection, so a lost connection fails the next check, which ends the replay with
 * exit code 1, instead of counting a check twice or retrying for ever.
 *
 * @throws {CliError} with exit code 1 when the connection fails.
 */
async function connectClient(
  ioredis: IoredisModule,
  options: RedisReplayOptions,
  target: string,
): Promise<Redis | Cluster> {
  const serverOptions = {
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
  } satisfies RedisOptions;
  const client = options.cluster
    ? new ioredis.Cluster([options.url], {
        lazyConnect: true,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        clusterRetryStrategy: () => null,
        // The startup node takes its credentials from the URL, the discovered nodes from here.
        redisOptions: { ...serverOptions, ...credentialsOf(options.url) },
      } satisfies ClusterOptions)
    : new ioredis.Redis(options.url, {
        ...serverOptions,
        lazyConnect: true,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        retryStrategy: () => null,
      });

  // Failures surface through the rejected commands, so this listener only keeps ioredis
  // from printing each one as an unhandled error event. It also stores the socket error,
  // which explains a failed connect better than the "Connection is closed." that
  // Redis#connect() rejects with.
  let socketError: unknown;
  client.on("error", (error: unknown) => {
    socketError ??= error;
  });

  try {
    // With the offline queue off, a command sent before the client is ready fails at once.
    await client.connect();
  } catch (error) {
    client.disconnect();
    // NOTE: ioredis 5 keeps the socket error of a Cluster's startup probe to itself, so
    // for a cluster the rejection ("None of startup nodes is available") is the best cause.
    const cause = options.cluster ? error : (socketError ?? error);
    throw new CliError(`cannot connect to ${target}: ${describe(cause)}`, EXIT_FAILURE, {
      cause,
    });
  }
  return client;
}

/** Returns the user name, password and TLS setting that `url` gives, as ioredis options. */
function credentialsOf(text: string): RedisOptions {
  const url = new URL(text);
  return {
    ...(url.username === "" ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === "" ? {} : { password: decodeURIComponent(url.password) }),
    ...(url.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

/**
 * Creates a run that decides through `store`. Up to `concurrency` keys are in flight at
 * once, while the requests of one key go one after another in log order. A key's
 * decisions depend only on its own requests, so they equal those of a memory replay.
 * The first decision the store did not make (a timeout or an error, decided by the
 * failure mode instead) stops the replay, because its totals would no longer be exact.
 */
function createRedisRun(
  policy: PolicyOptions,
  store: Store,
  concurrency: number,
  target: string,
  logger: Logger,
): ReplayRun {
  const limiter = new RateLimiter({
    policy,
    store,
    logger,
    timeout: CHECK_TIMEOUT_MS,
    // The block cache times a block on the wall clock, not on the log's request times,
    // so it would reject requests that the log places after the block has ended.
    blockCacheSize: 0,
  });
  const tally = new Tally();

  return {
    policy: limiter.policies[0] as Policy,
    tally,
    async decide(batch: RequestBatch, names: readonly string[]) {
      tally.reserve(names.length);
      const queues = groupByKey(batch);
      const keys = [...queues.keys()];
      let next = 0;
      let failed = false;

      const worker = async (): Promise<void> => {
        while (next < keys.length && !failed) {
          const keyIndex = keys[next++] as number;
          for (const request of queues.get(keyIndex) ?? []) {
            const at = batch.times[request] as number;
            const decision = await limiter.check(names[keyIndex] as string, { at });
            if (decision.degraded) {
              throw new CliError(
                `${target} did not decide a request (${decision.reason}); stopping, because the totals would not be exact`,
                EXIT_FAILURE,
              );
            }
            tally.record(keyIndex, decision.allowed);
          }
        }
      };
      const guarded = () =>
        worker().catch((error: unknown) => {
          failed = true;
          throw error;
        });

      // Every worker settles before a failure is raised, so cleanup never races a check.
      const results = await Promise.allSettled(
        Array.from({ length: Math.min(concurrency, keys.length) }, guarded),
      );
      const failure = results.find((result) => result.status === "rejected");
      if (failure !== undefined) throw redisFailure(target, failure.reason);
    },
    async close() {
      await limiter.close();
      await store.close();
    },
  };
}

/** Groups a batch's request positions by key index, each group in log order. */
function groupByKey(batch: RequestBatch): Map<number, number[]> {
  const queues = new Map<number, number[]>();
  for (let i = 0; i < batch.length; i++) {
    const keyIndex = batch.keys[i] as number;
    const queue = queues.get(keyIndex);
    if (queue === undefined) queues.set(keyIndex, [i]);
    else queue.push(i);
  }
  return queues;
}

async function loadStoreModule(): Promise<RedisStoreModule> {
  const module: unknown = await importOrExplain(
    () => import(STORE_MODULE),
    "--redis needs the Redis store, which this build of sluice does not include",
  );
  const store = (module as Partial<RedisStoreModule> | undefined)?.RedisStore;
  if (typeof store !== "function") {
    throw new CliError("--redis needs the Redis store, but its module exports no RedisStore");
  }
  return { RedisStore: store };
}

/** Imports a module, turning "module not found" into exit 2 with `message`. */
async function importOrExplain<T>(load: () => Promise<T>, message: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown } | undefined)?.code;
    if (code === "ERR_MODULE_NOT_FOUND") throw new CliError(message, EXIT_USAGE, { cause: error });
    throw error;
  }
}

/**
 * Returns the servers whose keys SCAN must visit: the client's own server, or every master
 * of a cluster, because SCAN on a cluster node lists only the keys of that node's slots.
 */
function keyServers(client: Redis | Cluster): Redis[] {
  return client.isCluster ? (client as Cluster).nodes("master") : [client as Redis];
}

async function hasKeys(client: Redis | Cluster, prefix: string): Promise<boolean> {
  for (const server of keyServers(client)) {
    let cursor = "0";
    do {
      const [next, keys] = await server.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", SCAN_COUNT);
      if (keys.length > 0) return true;
      cursor = next;
    } while (cursor !== "0");
  }
  return false;
}

/** Deletes every key under `prefix` with SCAN and UNLINK; returns how many were deleted. */
async function deleteKeys(client: Redis | Cluster, prefix: string): Promise<number> {
  let deleted = 0;
  for (const server of keyServers(client)) {
    let cursor = "0";
    do {
      const [next, keys] = await server.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", SCAN_COUNT);
      if (keys.length > 0) deleted += await unlinkEach(server, keys);
      cursor = next;
    } while (cursor !== "0");
  }
  return deleted;
}

/**
 * Deletes `keys` with one UNLINK each, sent in one pipeline. A cluster node rejects a
 * multi-key UNLINK whose keys hash to different slots (CROSSSLOT), even slots it owns.
 */
async function unlinkEach(server: Redis, keys: readonly string[]): Promise<number> {
  const pipeline = server.pipeline();
  for (const key of keys) pipeline.unlink(key);
  let deleted = 0;
  for (const [error, count] of (await pipeline.exec()) ?? []) {
    if (error !== null) throw error;
    deleted += count as number;
  }
  return deleted;
}

function redisFailure(target: string, error: unknown): CliError {
  if (error instanceof CliError) return error;
  return new CliError(`${target} failed: ${describe(error)}`, EXIT_FAILURE, {
    cause: error,
  });
}

/** Creates a logger that writes each message as one line on stderr, without details. */
function stderrLogger(stderr: TextSink): Logger {
  const write = (message: string) => {
    stderr.write(message.startsWith("sluice:") ? `${message}\n` : `sluice: ${message}\n`);
  };
  return { warn: write, error: write };
}

/** Returns the URL with its password replaced, for messages. */
function redactUrl(text: string): string {
  const url = new URL(text);
  if (url.password !== "") url.password = "***";
  return url.toString();
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
