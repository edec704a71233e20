import type { Cluster, ClusterOptions, Redis, RedisOptions } from "ioredis";
import type { Logger } from "../../types.js";

/** Stable codes of the client option warnings. */
export type ClientOptionCode = "SLUICE_REDIS_UNBOUNDED_QUEUE" | "SLUICE_REDIS_RESEND";

/** A likely mistake in the ioredis options of a limiter's client. */
export interface ClientOptionWarning {
  readonly code: ClientOptionCode;
  readonly message: string;
}

/** Clients already checked, so that many stores sharing one client warn once. */
const checkedClients = new WeakSet<object>();

/**
 * Logs each warning of {@link checkClientOptions} for `client`, once per client for the
 * life of the process.
 */
export function warnAboutClientOptions(client: Redis | Cluster, logger: Logger): void {
  if (checkedClients.has(client)) return;
  checkedClients.add(client);
  for (const { code, message } of checkClientOptions(client)) logger.warn(message, { code });
}

/**
 * Returns the warnings that fit the client's options. Two settings hurt a limiter:
 *
 * - a queue that keeps commands without bound while the connection is down, because every
 *   check abandoned at its deadline stays queued, then runs and counts when the server
 *   is back;
 * - resending the commands that were in flight when a connection dropped, because a check
 *   whose reply was lost then runs and counts twice.
 *
 * Reads the options that ioredis 5 keeps on the client, its defaults applied.
 */
export function checkClientOptions(client: Redis | Cluster): ClientOptionWarning[] {
  return client.isCluster
    ? checkClusterOptions((client as Cluster).options)
    : checkRedisOptions((client as Redis).options);
}

const ADVICE = "set enableOfflineQueue: false and maxRetriesPerRequest: 0 on the limiter's client";

function checkRedisOptions(options: RedisOptions): ClientOptionWarning[] {
  const warnings: ClientOptionWarning[] = [];
  // Without a retry strategy a dropped connection ends the client, which fails every
  // queued command at once, so nothing waits or is resent.
  if (typeof options.retryStrategy !== "function") return warnings;

  if (options.enableOfflineQueue !== false && !isBounded(options.maxRetriesPerRequest)) {
    warnings.push({
      code: "SLUICE_REDIS_UNBOUNDED_QUEUE",
      message: `sluice: the Redis client queues commands without limit while disconnected (enableOfflineQueue with maxRetriesPerRequest: ${String(options.maxRetriesPerRequest)}), so checks abandoned during an outage pile up and count when the server returns; ${ADVICE}`,
    });
  }
  // With maxRetriesPerRequest 0, ioredis fails the commands in flight as soon as the
  // connection drops, so none is left to resend.
  if (options.autoResendUnfulfilledCommands !== false && options.maxRetriesPerRequest !== 0) {
    warnings.push({
      code: "SLUICE_REDIS_RESEND",
      message: `sluice: the Redis client resends commands that were in flight when its connection dropped (autoResendUnfulfilledCommands), so a check whose reply was lost can count twice; ${ADVICE}`,
    });
  }
  return warnings;
}

function checkClusterOptions(options: ClusterOptions): ClientOptionWarning[] {
  const warnings: ClientOptionWarning[] = [];
  if (options.enableOfflineQueue !== false && typeof options.clusterRetryStrategy === "function") {
    warnings.push({
      code: "SLUICE_REDIS_UNBOUNDED_QUEUE",
      message:
        "sluice: the Redis Cluster client queues commands without limit while it reconnects to the cluster (enableOfflineQueue), so checks abandoned during an outage pile up and count when the cluster returns; set enableOfflineQueue: false on the limiter's Cluster client",
    });
  }

  // A node connection reconnects, and so may resend, only with clusterNodeRetryStrategy;
  // otherwise ioredis drops it and fails its commands.
  const nodeOptions = options.redisOptions ?? {};
  if (
    typeof options.clusterNodeRetryStrategy === "function" &&
    nodeOptions.autoResendUnfulfilledCommands !== false &&
    nodeOptions.maxRetriesPerRequest !== 0
  ) {
    warnings.push({
      code: "SLUICE_REDIS_RESEND",
      message:
        "sluice: the Redis Cluster client's node connections resend commands that were in flight when a connection dropped (clusterNodeRetryStrategy with autoResendUnfulfilledCommands), so a check whose reply was lost can count twice; set redisOptions.maxRetriesPerRequest: 0 on the limiter's Cluster client",
    });
  }
  return warnings;
}

/** Returns whether ioredis fails queued commands after some number of reconnections. */
function isBounded(maxRetriesPerRequest: number | null | undefined): boolean {
  return typeof maxRetriesPerRequest === "number" && maxRetriesPerRequest >= 0;
}
