import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Cluster, type ClusterOptions } from "ioredis";
import { LOOPBACK_HOST } from "./free-port.js";
import { baseServerArgs, findRedisBinaries } from "./redis-binaries.js";
import { parseInfo, pollUntil, type RedisReply, redisCommand } from "./redis-command.js";
import { RedisServer, type RedisServerSpec, startOrClean } from "./redis-server.js";

const execFileAsync = promisify(execFile);

/** Number of hash slots in Redis Cluster. */
export const CLUSTER_SLOTS = 16_384;

/** Role of a cluster node as reported by `CLUSTER NODES`. */
export type ClusterRole = "master" | "replica";

interface TopologyEntry {
  readonly id: string;
  readonly role: ClusterRole;
  /** Node id of the master a replica follows; `undefined` for masters. */
  readonly masterId: string | undefined;
  /** True when the reporting node flags it `fail` or `fail?`. */
  readonly failing: boolean;
}

/** Topology by client port, as of the last `CLUSTER NODES` read. */
type Topology = Map<number, TopologyEntry>;

/**
 * One node of a {@link RedisCluster}: a {@link RedisServer} plus its cluster identity.
 * `id`, `role` and `masterPort` reflect the last topology read (start, {@link RedisCluster.refreshTopology}
 * or {@link RedisCluster.waitForFailover}), not a live query. `restart()` keeps `nodes.conf`,
 * so the node rejoins with its identity but without data.
 */
export class ClusterNode extends RedisServer {
  readonly #topology: Topology;

  /** Creates an unstarted node that reads its identity from the cluster's shared topology map. */
  constructor(spec: RedisServerSpec, topology: Topology) {
    super(spec);
    this.#topology = topology;
  }

  /** 40-character cluster node id. */
  get id(): string {
    return this.#entry().id;
  }

  /** `master` or `replica`. */
  get role(): ClusterRole {
    return this.#entry().role;
  }

  /** Whether the last topology read flagged this node `fail` or `fail?`. */
  get failing(): boolean {
    return this.#entry().failing;
  }

  /** Client port of the master this replica follows; `undefined` for a master. */
  get masterPort(): number | undefined {
    const masterId = this.#entry().masterId;
    for (const [port, entry] of this.#topology) {
      if (entry.id === masterId) {
        return port;
      }
    }
    return undefined;
  }

  #entry(): TopologyEntry {
    const entry = this.#topology.get(this.port);
    if (entry === undefined) {
      throw new Error(
        `Cluster node ${LOOPBACK_HOST}:${this.port} is not in the last topology read.`,
      );
    }
    return entry;
  }
}

/** Options of {@link startCluster}. */
export interface StartClusterOptions {
  /** Number of masters; `redis-cli --cluster create` needs at least 3. @default 3 */
  readonly masters?: number;
  /** Replicas per master. @default 1 */
  readonly replicasPerMaster?: number;
  /** `cluster-node-timeout` in milliseconds; failover starts about this long after a master stops replying. @default 1000 */
  readonly nodeTimeoutMs?: number;
  /**
   * `cluster-require-full-coverage`: when true (the Redis default), every node rejects every
   * command while any slot has no live master.
   * @default true
   */
  readonly requireFullCoverage?: boolean;
  /** Extra `redis-server` arguments for every node. */
  readonly args?: readonly string[];
  /** Time in milliseconds for the whole start: nodes, cluster creation and replica sync. @default 30000 */
  readonly startTimeoutMs?: number;
}

/** Options of the waits on {@link RedisCluster}. */
export interface ClusterWaitOptions {
  /** @default 20000 */
  readonly timeoutMs?: number;
}

/** A running Redis Cluster on 127.0.0.1 made of harness-owned nodes. */
export class RedisCluster {
  /** All nodes in start order; the first `masters` nodes start as masters. */
  readonly nodes: readonly ClusterNode[];
  readonly #topology: Topology;
  readonly #clients = new Set<Cluster>();
  #stopping: Promise<void> | undefined;

  /** Wraps started nodes; use {@link startCluster}. */
  constructor(nodes: readonly ClusterNode[], topology: Topology) {
    this.nodes = nodes;
    this.#topology = topology;
  }

  /** Seed addresses for `new Cluster(startupNodes)`. */
  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((node) => ({ host: LOOPBACK_HOST, port: node.port }));
  }

  /** Nodes that were masters not flagged as failing at the last topology read. */
  masters(): ClusterNode[] {
    return this.nodes.filter((node) => node.role === "master" && !node.failing);
  }

  /** Nodes that were replicas at the last topology read. */
  replicas(): ClusterNode[] {
    return this.nodes.filter((node) => node.role === "replica");
  }

  /**
   * Creates an ioredis `Cluster` client seeded with every node, `lazyConnect` and a quiet
   * `error` listener. {@link stop} disconnects it if the test did not.
   */
  client(options: ClusterOptions = {}): Cluster {
    const client = new Cluster(this.startupNodes, { lazyConnect: true, ...options });
    client.on("error", ignoreError);
    client.on("node error", ignoreError);
    this.#clients.add(client);
    client.once("end", () => this.#clients.delete(client));
    return client;
  }

  /** Returns the node that a running node currently reports as master of `slot`. */
  async masterForSlot(slot: number): Promise<ClusterNode> {
    if (!Number.isInteger(slot) || slot < 0 || slot >= CLUSTER_SLOTS) {
      throw new RangeError(
        `slot must be an integer from 0 to ${CLUSTER_SLOTS - 1}, received ${slot}.`,
      );
    }

    const reply = await this.#askAnyRunningNode(["CLUSTER", "SLOTS"]);
    for (const range of asArray(reply)) {
      const [first, last, master] = asArray(range);
      if (typeof first === "number" && typeof last === "number" && slot >= first && slot <= last) {
        return this.#nodeByPort(Number(asArray(master ?? null)[1]));
      }
    }
    throw new Error(
      `No master serves slot ${slot}; CLUSTER SLOTS replied ${JSON.stringify(reply)}.`,
    );
  }

  /** Returns the node currently reported as master of the slot of `key`. */
  masterForKey(key: string): Promise<ClusterNode> {
    return this.masterForSlot(keySlot(key));
  }

  /** Reads `CLUSTER NODES` from a running node and updates every node's `id`, `role` and `masterPort`. */
  async refreshTopology(): Promise<void> {
    const reply = await this.#askAnyRunningNode(["CLUSTER", "NODES"]);
    this.#topology.clear();
    for (const [port, entry] of parseClusterNodes(reply)) {
      this.#topology.set(port, entry);
    }
  }

  /**
   * Waits until every running node reports `cluster_state:ok` with all slots assigned, then
   * refreshes the topology. Use it after restarting or resuming nodes.
   */
  async waitUntilHealthy(options: ClusterWaitOptions = {}): Promise<void> {
    const running = this.#runningNodes();
    await pollUntil(
      async () => {
        for (const node of running) {
          if (!(await isClusterOk(node.port))) {
            return undefined;
          }
        }
        return true;
      },
      {
        timeoutMs: options.timeoutMs ?? 20_000,
        description: "cluster_state:ok on every running node",
      },
    );
    await this.refreshTopology();
  }

  /**
   * Waits until a replica of the master on `oldMasterPort` is promoted: it is flagged master,
   * no running node maps a slot to the old port, and every running node reports
   * `cluster_state:ok`. Returns the promoted node.
   */
  async waitForFailover(
    oldMasterPort: number,
    options: ClusterWaitOptions = {},
  ): Promise<ClusterNode> {
    const oldMaster = this.#topology.get(oldMasterPort);
    if (oldMaster?.role !== "master") {
      throw new RangeError(
        `oldMasterPort must be the port of a master in the last topology read, received ${oldMasterPort}.`,
      );
    }

    const formerReplicaPorts = [...this.#topology]
      .filter(([, entry]) => entry.masterId === oldMaster.id)
      .map(([port]) => port);
    const others = this.#runningNodes().filter((node) => node.port !== oldMasterPort);

    const promotedPort = await pollUntil(
      async () => {
        const first = others[0];
        if (first === undefined) {
          throw new Error("no running node is left to ask");
        }
        const view = parseClusterNodes(await redisCommand(first.port, ["CLUSTER", "NODES"]));
        const promoted = formerReplicaPorts.find((port) => {
          const entry = view.get(port);
          return entry?.role === "master" && !entry.failing;
        });
        if (promoted === undefined) {
          return undefined;
        }
        for (const node of others) {
          if (!(await isClusterOk(node.port)) || (await slotsServedBy(node.port, oldMasterPort))) {
            return undefined;
          }
        }
        return promoted;
      },
      {
        timeoutMs: options.timeoutMs ?? 20_000,
        description: `a replica of master ${LOOPBACK_HOST}:${oldMasterPort} to take over its slots`,
      },
    );

    await this.refreshTopology();
    return this.#nodeByPort(promotedPort);
  }

  /** Disconnects the clients made by {@link client} and stops every node. Safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    for (const client of this.#clients) {
      client.disconnect();
    }
    this.#clients.clear();
    await Promise.all(this.nodes.map((node) => node.stop()));
  }

  #runningNodes(): ClusterNode[] {
    return this.nodes.filter((node) => node.state === "running");
  }

  #nodeByPort(port: number): ClusterNode {
    const node = this.nodes.find((candidate) => candidate.port === port);
    if (node === undefined) {
      throw new Error(`No node of this cluster listens on port ${port}.`);
    }
    return node;
  }

  /** Sends the command to the running nodes in order and returns the first reply. */
  async #askAnyRunningNode(args: readonly string[]): Promise<RedisReply> {
    const failures: string[] = [];
    for (const node of this.#runningNodes()) {
      try {
        return await redisCommand(node.port, args, { timeoutMs: 500 });
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    throw new Error(
      `No running cluster node answered ${args.join(" ")}: ${failures.join("; ") || "none is running"}`,
    );
  }
}

/**
 * Starts `masters * (1 + replicasPerMaster)` nodes with `--cluster-enabled yes`, joins them with
 * `redis-cli --cluster create`, and waits until every node reports `cluster_state:ok`, all
 * 16384 slots are assigned and every replica has synced with its master.
 *
 * @throws Error when any step fails or times out; every node started so far is stopped first.
 * @example
 * const cluster = await startCluster();
 * const client = cluster.client();
 * await client.set("{user:1}:a", "1");
 * await cluster.stop();
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 1;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new RangeError(`masters must be an integer >= 3, received ${masters}.`);
  }
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
    throw new RangeError(
      `replicasPerMaster must be an integer >= 0, received ${replicasPerMaster}.`,
    );
  }

  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const extraArgs = options.args ?? [];
  const spec: RedisServerSpec = {
    kind: "cluster node",
    busPort: true,
    startTimeoutMs: Math.min(timeoutMs, 10_000),
    buildArgs: (port, dir) => [
      ...baseServerArgs(port, dir),
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      join(dir, "nodes.conf"),
      "--cluster-node-timeout",
      String(options.nodeTimeoutMs ?? 1000),
      "--cluster-require-full-coverage",
      options.requireFullCoverage === false ? "no" : "yes",
      ...extraArgs,
    ],
  };

  const topology: Topology = new Map();
  const nodeCount = masters * (1 + replicasPerMaster);
  const nodes = Array.from({ length: nodeCount }, () => new ClusterNode(spec, topology));
  const cluster = new RedisCluster(nodes, topology);

  try {
    // allSettled, so no node is still starting when the catch below stops them all.
    const starts = await Promise.allSettled(nodes.map((node) => startOrClean(node)));
    for (const start of starts) {
      if (start.status === "rejected") {
        throw start.reason;
      }
    }
    await createCluster(nodes, replicasPerMaster, deadline - Date.now());
    await cluster.waitUntilHealthy({ timeoutMs: Math.max(deadline - Date.now(), 1000) });
    await waitForReplicaSync(cluster.replicas(), Math.max(deadline - Date.now(), 1000));
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

async function createCluster(
  nodes: readonly ClusterNode[],
  replicasPerMaster: number,
  timeoutMs: number,
): Promise<void> {
  const args = [
    "--cluster",
    "create",
    ...nodes.map((node) => `${LOOPBACK_HOST}:${node.port}`),
    "--cluster-replicas",
    String(replicasPerMaster),
    "--cluster-yes",
  ];
  try {
    await execFileAsync(findRedisBinaries().cli, args, { timeout: Math.max(timeoutMs, 1000) });
  } catch (error) {
    const failure = error as { message: string; stdout?: string; stderr?: string };
    throw new Error(
      `redis-cli ${args.join(" ")} failed: ${failure.message}\n${failure.stdout ?? ""}${failure.stderr ?? ""}`,
    );
  }
}

async function waitForReplicaSync(
  replicas: readonly ClusterNode[],
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

async function isClusterOk(port: number): Promise<boolean> {
  const info = parseInfo(await redisCommand(port, ["CLUSTER", "INFO"], { timeoutMs: 500 }));
  return (
    info.get("cluster_state") === "ok" &&
    info.get("cluster_slots_assigned") === String(CLUSTER_SLOTS)
  );
}

/** Returns whether the node on `askPort` maps any slot to a master on `masterPort`. */
async function slotsServedBy(askPort: number, masterPort: number): Promise<boolean> {
  const reply = await redisCommand(askPort, ["CLUSTER", "SLOTS"], { timeoutMs: 500 });
  return asArray(reply).some(
    (range) => Number(asArray(asArray(range)[2] ?? null)[1]) === masterPort,
  );
}

/**
 * Parses `CLUSTER NODES` lines: `<id> <ip:port@bus> <flags> <master-id|-> <ping> <pong> <epoch> <link> <slots...>`.
 */
function parseClusterNodes(reply: RedisReply): Topology {
  if (typeof reply !== "string") {
    throw new TypeError(
      `Expected CLUSTER NODES to reply with a string, received ${JSON.stringify(reply)}.`,
    );
  }

  const topology: Topology = new Map();
  for (const line of reply.split("\n")) {
    const [id, address, flagList, masterId] = line.trim().split(" ");
    if (
      id === undefined ||
      address === undefined ||
      flagList === undefined ||
      masterId === undefined
    ) {
      continue;
    }
    const hostPort = address.split("@")[0] ?? "";
    const port = Number(hostPort.slice(hostPort.lastIndexOf(":") + 1));
    const flags = flagList.split(",");
    topology.set(port, {
      id,
      role: flags.includes("slave") ? "replica" : "master",
      masterId: masterId === "-" ? undefined : masterId,
      failing: flags.includes("fail") || flags.includes("fail?"),
    });
  }
  return topology;
}

/**
 * Computes the Redis Cluster hash slot of `key`: CRC16 (XMODEM) of the key, or of the text
 * inside its first non-empty `{...}` hash tag, modulo 16384.
 *
 * @example
 * keySlot("{user:1}:a") === keySlot("{user:1}:b"); // true
 */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key, "utf8");
  const open = bytes.indexOf("{");
  if (open !== -1) {
    const close = bytes.indexOf("}", open + 1);
    if (close > open + 1) {
      bytes = bytes.subarray(open + 1, close);
    }
  }
  return crc16(bytes) % CLUSTER_SLOTS;
}

/** CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster specifies. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

function asArray(reply: RedisReply): RedisReply[] {
  return Array.isArray(reply) ? reply : [];
}

function ignoreError(): void {
  // Node failures reach the test as rejected commands; the listener only keeps ioredis quiet.
}
