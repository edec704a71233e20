import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { LOOPBACK_HOST } from "./free-port.js";
import { baseServerArgs } from "./redis-binaries.js";
import { parseInfo, pollUntil, type RedisReply, redisCommand } from "./redis-command.js";
import {
  type RedisClientOptions,
  RedisServer,
  type RedisServerSpec,
  startOrClean,
} from "./redis-server.js";

/** Master name the sentinels monitor when {@link StartSentinelOptions.name} is not set. */
export const DEFAULT_SENTINEL_MASTER_NAME = "sluice-test";

/** Options of {@link startSentinel}. */
export interface StartSentinelOptions {
  /** Replicas started with `--replicaof` the master. @default 1 */
  readonly replicas?: number;
  /** Sentinel processes. @default 1 */
  readonly sentinels?: number;
  /** Master name the sentinels monitor. @default "sluice-test" */
  readonly name?: string;
  /** Sentinels that must agree the master is down before a failover. @default 1 */
  readonly quorum?: number;
  /** `down-after-milliseconds`: silence after which a sentinel considers the master down. @default 1000 */
  readonly downAfterMs?: number;
  /** `failover-timeout` in milliseconds. @default 5000 */
  readonly failoverTimeoutMs?: number;
  /** Extra `redis-server` arguments for the master and the replicas (not the sentinels). */
  readonly args?: readonly string[];
  /** Time in milliseconds for the whole start, including replica sync and sentinel discovery. @default 30000 */
  readonly startTimeoutMs?: number;
}

/** Options of {@link RedisSentinel.waitForFailover}. */
export interface SentinelWaitOptions {
  /** @default 20000 */
  readonly timeoutMs?: number;
}

/** A master, its replicas and the sentinels monitoring them, all harness-owned on 127.0.0.1. */
export class RedisSentinel {
  /** Master name the sentinels monitor. */
  readonly name: string;
  /** The server started as master; after a failover it may be a replica or down. */
  readonly master: RedisServer;
  /** Servers started as replicas of {@link master}. */
  readonly replicas: readonly RedisServer[];
  /** The sentinel processes, for kill/pause. */
  readonly sentinelServers: readonly RedisServer[];
  readonly #clients = new Set<Redis>();
  #stopping: Promise<void> | undefined;

  /** Wraps started servers; use {@link startSentinel}. */
  constructor(
    name: string,
    master: RedisServer,
    replicas: readonly RedisServer[],
    sentinelServers: readonly RedisServer[],
  ) {
    this.name = name;
    this.master = master;
    this.replicas = replicas;
    this.sentinelServers = sentinelServers;
  }

  /** The first replica. */
  get replica(): RedisServer {
    const replica = this.replicas[0];
    if (replica === undefined) {
      throw new Error("This sentinel setup was started with no replicas.");
    }
    return replica;
  }

  /** Sentinel addresses for the ioredis `sentinels` option. */
  get sentinels(): { host: string; port: number }[] {
    return this.sentinelServers.map((sentinel) => ({ host: LOOPBACK_HOST, port: sentinel.port }));
  }

  /**
   * Creates an ioredis client that finds the master through the sentinels
   * (`new Redis({ sentinels, name })`), with `lazyConnect` and a quiet `error` listener.
   * {@link stop} disconnects it if the test did not.
   */
  client(options: RedisClientOptions = {}): Redis {
    const client = new Redis({
      lazyConnect: true,
      ...options,
      sentinels: this.sentinels,
      name: this.name,
    });
    client.on("error", ignoreError);
    this.#clients.add(client);
    client.once("end", () => this.#clients.delete(client));
    return client;
  }

  /** Returns the server that a running sentinel currently names as master. */
  async currentMaster(): Promise<RedisServer> {
    const failures: string[] = [];
    for (const sentinel of this.sentinelServers.filter((server) => server.state === "running")) {
      try {
        return this.#serverByPort(await masterPortFrom(sentinel.port, this.name));
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    throw new Error(
      `No running sentinel named a master for ${this.name}: ${failures.join("; ") || "none is running"}`,
    );
  }

  /**
   * Waits until every running sentinel names a master other than `oldMasterPort` and that
   * server reports `role:master`. Returns the promoted server.
   */
  async waitForFailover(
    oldMasterPort: number,
    options: SentinelWaitOptions = {},
  ): Promise<RedisServer> {
    const promotedPort = await pollUntil(
      async () => {
        const running = this.sentinelServers.filter((server) => server.state === "running");
        const ports = await Promise.all(
          running.map((sentinel) => masterPortFrom(sentinel.port, this.name)),
        );
        const [port] = ports;
        if (port === undefined || port === oldMasterPort || ports.some((other) => other !== port)) {
          return undefined;
        }
        const info = parseInfo(
          await redisCommand(port, ["INFO", "replication"], { timeoutMs: 500 }),
        );
        return info.get("role") === "master" ? port : undefined;
      },
      {
        timeoutMs: options.timeoutMs ?? 20_000,
        description: `the sentinels to promote a replica of ${LOOPBACK_HOST}:${oldMasterPort}`,
      },
    );
    return this.#serverByPort(promotedPort);
  }

  /** Disconnects the clients made by {@link client} and stops every process. Safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    for (const client of this.#clients) {
      client.disconnect();
    }
    this.#clients.clear();
    // Sentinels first, so none starts a failover while the data servers go down.
    await Promise.all(this.sentinelServers.map((sentinel) => sentinel.stop()));
    await Promise.all([this.master, ...this.replicas].map((server) => server.stop()));
  }

  #serverByPort(port: number): RedisServer {
    const server = [this.master, ...this.replicas].find((candidate) => candidate.port === port);
    if (server === undefined) {
      throw new Error(`No data server of this sentinel setup listens on port ${port}.`);
    }
    return server;
  }
}

/**
 * Starts a master, `replicas` servers with `--replicaof` it, and `sentinels` processes
 * (`redis-server sentinel.conf --sentinel`) monitoring it, then waits until every replica has
 * synced and every sentinel reports the master, all replicas and the other sentinels.
 *
 * @throws Error when any step fails or times out; everything started so far is stopped first.
 * @example
 * const setup = await startSentinel();
 * const client = setup.client();
 * await client.set("k", "v");
 * await setup.stop();
 */
export async function startSentinel(options: StartSentinelOptions = {}): Promise<RedisSentinel> {
  const replicaCount = options.replicas ?? 1;
  const sentinelCount = options.sentinels ?? 1;
  const quorum = options.quorum ?? 1;
  const name = options.name ?? DEFAULT_SENTINEL_MASTER_NAME;
  checkCount("replicas", replicaCount, 0);
  checkCount("sentinels", sentinelCount, 1);
  checkCount("quorum", quorum, 1);
  if (quorum > sentinelCount) {
    throw new RangeError(
      `quorum must not exceed sentinels (${sentinelCount}), received ${quorum}; no failover could ever start.`,
    );
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new TypeError(`name must match [A-Za-z0-9_.-]+, received ${JSON.stringify(name)}.`);
  }

  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const remaining = (): number => Math.max(deadline - Date.now(), 1000);
  const serverTimeoutMs = Math.min(timeoutMs, 10_000);
  const extraArgs = options.args ?? [];

  const master = new RedisServer({
    kind: "sentinel-monitored master",
    busPort: false,
    startTimeoutMs: serverTimeoutMs,
    buildArgs: (port, dir) => [...baseServerArgs(port, dir), ...extraArgs],
  });
  const replicas: RedisServer[] = [];
  const sentinels: RedisServer[] = [];
  const setup = new RedisSentinel(name, master, replicas, sentinels);

  try {
    await startOrClean(master);
    const masterPort = master.port;
    for (let index = 0; index < replicaCount; index++) {
      replicas.push(
        new RedisServer({
          kind: "replica",
          busPort: false,
          startTimeoutMs: serverTimeoutMs,
          buildArgs: (port, dir) => [
            ...baseServerArgs(port, dir),
            "--replicaof",
            LOOPBACK_HOST,
            String(masterPort),
            ...extraArgs,
          ],
        }),
      );
    }
    for (let index = 0; index < sentinelCount; index++) {
      const monitor: SentinelMonitor = {
        name,
        masterPort,
        quorum,
        downAfterMs: options.downAfterMs ?? 1000,
        failoverTimeoutMs: options.failoverTimeoutMs ?? 5000,
      };
      sentinels.push(new RedisServer(sentinelSpec(monitor, serverTimeoutMs)));
    }

    // Sentinels start only after the replicas have synced: a sentinel learns replicas from the
    // master's INFO, which it reads on connect and then only every 10 s.
    await startAll(replicas);
    await waitForReplicaSync(replicas, remaining());
    await startAll(sentinels);
    await waitForSentinelDiscovery(setup, remaining());
    return setup;
  } catch (error) {
    await setup.stop();
    throw error;
  }
}

interface SentinelMonitor {
  readonly name: string;
  readonly masterPort: number;
  readonly quorum: number;
  readonly downAfterMs: number;
  readonly failoverTimeoutMs: number;
}

/**
 * Spec of one sentinel. Sentinel rewrites its config file with the state it learns, so the
 * harness writes the file only when the port changes (first start, or a retry on a new port).
 * A restart keeps the learned state, as a real sentinel would.
 */
function sentinelSpec(monitor: SentinelMonitor, startTimeoutMs: number): RedisServerSpec {
  let writtenForPort: number | undefined;
  return {
    kind: "sentinel",
    busPort: false,
    startTimeoutMs,
    buildArgs: (port, dir) => {
      const configFile = join(dir, "sentinel.conf");
      if (writtenForPort !== port) {
        writeFileSync(configFile, sentinelConfig(monitor, port, dir));
        writtenForPort = port;
      }
      return [configFile, "--sentinel"];
    },
  };
}

function sentinelConfig(monitor: SentinelMonitor, port: number, dir: string): string {
  const { name } = monitor;
  return [
    `port ${port}`,
    `bind ${LOOPBACK_HOST}`,
    "daemonize no",
    'logfile ""',
    `dir "${dir}"`,
    `sentinel monitor ${name} ${LOOPBACK_HOST} ${monitor.masterPort} ${monitor.quorum}`,
    `sentinel down-after-milliseconds ${name} ${monitor.downAfterMs}`,
    `sentinel failover-timeout ${name} ${monitor.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} 1`,
    "",
  ].join("\n");
}

/** Starts the servers in parallel and waits for all, so none is still starting if one fails. */
async function startAll(servers: readonly RedisServer[]): Promise<void> {
  const starts = await Promise.allSettled(servers.map((server) => server.start()));
  for (const start of starts) {
    if (start.status === "rejected") {
      throw start.reason;
    }
  }
}

async function waitForReplicaSync(
  replicas: readonly RedisServer[],
  timeoutMs: number,
): Promise<void> {
  await pollUntil(
    async () => {
      for (const replica of replicas) {
        const info = parseInfo(await redisCommand(replica.port, ["INFO", "replication"]));
        if (info.get("master_link_status") !== "up") {
          return undefined;
        }
      }
      return true;
    },
    { timeoutMs, description: "master_link_status:up on every replica" },
  );
}

async function waitForSentinelDiscovery(setup: RedisSentinel, timeoutMs: number): Promise<void> {
  const replicaPorts = setup.replicas.map((replica) => String(replica.port));
  const otherSentinels = setup.sentinelServers.length - 1;

  await pollUntil(
    async () => {
      for (const sentinel of setup.sentinelServers) {
        if ((await masterPortFrom(sentinel.port, setup.name)) !== setup.master.port) {
          return undefined;
        }
        const known = asRecords(
          await redisCommand(sentinel.port, ["SENTINEL", "REPLICAS", setup.name]),
        );
        const healthy = known.filter(
          (replica) => !/s_down|disconnected/.test(replica.get("flags") ?? ""),
        );
        if (
          !replicaPorts.every((port) => healthy.some((replica) => replica.get("port") === port))
        ) {
          return undefined;
        }
        const peers = asRecords(
          await redisCommand(sentinel.port, ["SENTINEL", "SENTINELS", setup.name]),
        );
        if (peers.length < otherSentinels) {
          return undefined;
        }
      }
      return true;
    },
    { timeoutMs, description: "sentinel discovery of master, replicas and peer sentinels" },
  );
}

async function masterPortFrom(sentinelPort: number, name: string): Promise<number> {
  const reply = await redisCommand(sentinelPort, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name], {
    timeoutMs: 500,
  });
  if (!Array.isArray(reply) || typeof reply[1] !== "string") {
    throw new Error(`Sentinel ${LOOPBACK_HOST}:${sentinelPort} knows no master named ${name}.`);
  }
  return Number(reply[1]);
}

/** Turns a reply of flat `[field, value, ...]` arrays into maps. */
function asRecords(reply: RedisReply): Map<string, string>[] {
  if (!Array.isArray(reply)) {
    return [];
  }
  return reply.map((item) => {
    const record = new Map<string, string>();
    const fields = Array.isArray(item) ? item : [];
    for (let index = 0; index + 1 < fields.length; index += 2) {
      record.set(String(fields[index]), String(fields[index + 1]));
    }
    return record;
  });
}

function checkCount(option: string, value: number, minimum: number): void {
  if (!Number.isInteger(value) || value < minimum) {
    throw new RangeError(`${option} must be an integer >= ${minimum}, received ${value}.`);
  }
}

function ignoreError(): void {
  // Connection errors reach the test as rejected commands; the listener only keeps ioredis quiet.
}
