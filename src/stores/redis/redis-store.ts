import { createHash } from "node:crypto";
import { type Cluster, Command, type Redis } from "ioredis";
import {
  ClosedError,
  checkOptionNames,
  describeValue,
  invalidType,
  outOfRange,
  StoreError,
} from "../../errors.js";
import { defaultLogger } from "../../logger.js";
import type { Policy } from "../../policy/policy.js";
import type { Logger } from "../../types.js";
import type { ConsumeRequest, Outcome, Store } from "../store.js";
import {
  batchArguments,
  expectedReplyLength,
  type PendingRequest,
  readOutcomes,
  toNumber,
} from "./batch.js";
import { warnAboutClientOptions } from "./client-options.js";
import { hashSlotOf } from "./cluster-slot.js";
import { encodeKey, redisKey } from "./redis-keys.js";
import { CONSUME_SCRIPT } from "./scripts.generated.js";

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * The ioredis client: a `Redis` (standalone, or Sentinel through its `sentinels` option)
   * or a `Cluster`. The caller owns it: {@link RedisStore.close} does not quit it.
   * `enableAutoPipelining` makes no difference to the store, which sends each tick's checks
   * in one script call of its own and bypasses auto-pipelining for it.
   */
  readonly client: Redis | Cluster;
  /**
   * First part of every Redis key: `<prefix>:<policy name>:{k:<key>}`. Give each
   * application sharing a Redis its own prefix. Must not contain `{` or `}`, which would
   * move the Cluster hash tag into the prefix.
   * @default "sluice"
   */
  readonly prefix?: string;
  /** Receives the clock offset and client option warnings. @default console */
  readonly logger?: Logger;
  /**
   * Offset between the Redis clock and this process's clock, in ms, above which the store
   * logs one warning. Decisions use the Redis clock either way.
   * @default 1000
   */
  readonly clockOffsetWarning?: number;
}

/**
 * Maximum requests per script call. Larger batches cost Redis less per request, but a tick's
 * requests split into several calls keep Redis busy while this process reads the previous
 * reply. In bench/redis.mjs at 64 checks in flight, 16 and 32 gave about the same
 * throughput and 64 a third less. One call of 32 keeps Redis busy for about 0.1 ms.
 */
const MAX_BATCH = 32;

/** How long a clock offset sample stays preferred over samples with a longer round trip, ms. */
const CLOCK_SAMPLE_LIFETIME = 10_000;

const NOSCRIPT = "NOSCRIPT";

/**
 * Keeps limiter state in Redis, so every process sharing the server shares the limits.
 * A script decides each request against all its policies and consumes from all of them
 * or none, at the Redis server's clock. Requests made in the same tick share one script
 * call, so concurrent checks cost one round trip and one script run between them.
 *
 * Every policy of a key is stored under the same hash tag, so on Redis Cluster they share a
 * slot and one call covers them. Every key written carries a TTL after which its state
 * equals no state.
 *
 * NOTE: TTLs run on the server's clock, while a request stamped with `at` gets the TTL its
 * own time implies. A replay slower than its stamps, or one stamp repeated for longer than
 * a TTL, can therefore find state gone that the stamps say is still live.
 *
 * @example
 * import { Redis } from "ioredis";
 * import { RateLimiter } from "sluice";
 * import { RedisStore } from "sluice/redis";
 *
 * const client = new Redis({ host: "127.0.0.1", port: 6380 });
 * const limiter = new RateLimiter({ policy: "100/1m", store: new RedisStore({ client }) });
 * const decision = await limiter.check("user-42");
 */
export class RedisStore implements Store {
  /** The prefix of every Redis key this store writes. */
  readonly prefix: string;
  #client: Redis | Cluster;
  #logger: Logger;
  #clockOffsetWarning: number;
  #sha: string;
  #isCluster: boolean;
  /** Reply as strings, and the client's own key prefix, as its command methods use. */
  #commandOptions: { replyEncoding: "utf8"; keyPrefix?: string };
  #queue: PendingRequest[] = [];
  #clockOffset: number | undefined;
  #clockSampleRoundTrip = Number.POSITIVE_INFINITY;
  #clockSampleTakenAt = 0;
  #clockWarned = false;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    if (typeof options !== "object" || options === null) {
      throw invalidType("RedisStore options", "an object with a client", options);
    }
    checkOptionNames("RedisStore options", options, [
      "client",
      "prefix",
      "logger",
      "clockOffsetWarning",
    ]);
    const client: unknown = options.client;
    if (
      typeof client !== "object" ||
      client === null ||
      typeof (client as Partial<Redis>).evalsha !== "function"
    ) {
      throw invalidType("RedisStore client", "an ioredis Redis or Cluster instance", client);
    }

    const prefix = options.prefix ?? "sluice";
    if (typeof prefix !== "string" || /[{}]/.test(prefix)) {
      throw invalidType("RedisStore prefix", "a string without { or }", prefix);
    }
    const warning = options.clockOffsetWarning ?? 1000;
    if (typeof warning !== "number" || Number.isNaN(warning) || warning < 0) {
      throw outOfRange("RedisStore clockOffsetWarning", "a number of ms, 0 or more", warning);
    }

    this.prefix = prefix;
    this.#client = options.client;
    this.#isCluster = (options.client as { isCluster?: boolean }).isCluster === true;
    const keyPrefix = options.client.options.keyPrefix;
    this.#commandOptions =
      keyPrefix === undefined ? { replyEncoding: "utf8" } : { replyEncoding: "utf8", keyPrefix };
    this.#logger = options.logger ?? defaultLogger;
    this.#clockOffsetWarning = warning;
    this.#sha = createHash("sha1").update(CONSUME_SCRIPT).digest("hex");
    warnAboutClientOptions(options.client, this.#logger);
  }

  /**
   * Redis time minus local time, in ms, estimated from the script replies with the
   * shortest round trip; `undefined` before the first reply.
   */
  get clockOffset(): number | undefined {
    return this.#clockOffset;
  }

  /**
   * Decides a request. Requests made in the same tick are sent together in one script
   * call (one per slot on a Cluster), and each of them is still decided atomically.
   */
  consume(request: ConsumeRequest): Promise<Outcome[]> {
    if (this.#closed) return Promise.reject(new ClosedError("RedisStore"));
    // The script counts a batch's requests by their keys, so a request without policies
    // (and so without keys) never reaches it.
    if (request.policies.length === 0) return Promise.resolve([]);
    const encodedKey = encodeKey(request.key);

    return new Promise((resolve, reject) => {
      this.#queue.push({ request, encodedKey, resolve, reject });
      if (this.#queue.length === 1) process.nextTick(this.#flush);
    });
  }

  async reset(key: string, policies: readonly Policy[]): Promise<void> {
    if (this.#closed) throw new ClosedError("RedisStore");
    if (policies.length === 0) return;

    const encodedKey = encodeKey(key);
    const keys = policies.map((policy) => redisKey(this.prefix, policy.name, encodedKey));
    try {
      await this.#client.del(...keys);
    } catch (error) {
      throw new StoreError(`Redis DEL failed while resetting a key: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Names the Cluster master that stores `key`'s state, as `host:port` from the client's
   * slot table, so a failing shard opens only its own circuit in the limiter. Returns ""
   * on a single server, and while the client has no slot table yet.
   */
  nodeOf(key: string): string {
    if (!this.#isCluster) return "";
    const slot = hashSlotOf(encodeKey(key));
    return (this.#client as Cluster).slots[slot]?.[0] ?? "";
  }

  /** Stops the store from sending commands. The client stays open; its owner quits it. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Sends every queued request: one script call per batch. */
  #flush = (): void => {
    const queue = this.#queue;
    this.#queue = [];

    if (!this.#isCluster) {
      for (let start = 0; start < queue.length; start += MAX_BATCH) {
        this.#sendSafely(queue.slice(start, start + MAX_BATCH));
      }
      return;
    }

    // A script call on a Cluster may only touch one slot, so requests are grouped by slot.
    const groups = new Map<number, PendingRequest[]>();
    for (const pending of queue) {
      const slot = hashSlotOf(pending.encodedKey);
      const group = groups.get(slot);
      if (group === undefined) groups.set(slot, [pending]);
      else group.push(pending);
    }
    for (const group of groups.values()) {
      for (let start = 0; start < group.length; start += MAX_BATCH) {
        this.#sendSafely(group.slice(start, start + MAX_BATCH));
      }
    }
  };

  /** Sends a batch; anything it throws unexpectedly rejects the batch's requests. */
  #sendSafely(batch: PendingRequest[]): void {
    this.#send(batch).catch((error: unknown) => {
      const failure = new StoreError(`Redis store failed: ${messageOf(error)}`, { cause: error });
      for (const pending of batch) pending.reject(failure);
    });
  }

  /** Runs one batch through the consume script and settles each of its requests. */
  async #send(batch: PendingRequest[]): Promise<void> {
    const { args } = batchArguments(this.prefix, this.#sha, batch);
    const sentAt = Date.now();
    let reply: unknown;
    try {
      reply = await this.#evaluate(args);
    } catch (error) {
      for (const pending of batch) pending.reject(scriptFailed(error));
      return;
    }
    const receivedAt = Date.now();

    if (!Array.isArray(reply) || reply.length !== expectedReplyLength(batch)) {
      const error = new StoreError(
        `Redis consume script returned an unexpected reply: ${describeValue(reply)}`,
      );
      for (const pending of batch) pending.reject(error);
      return;
    }

    this.#sampleClock(toNumber(reply[0]), sentAt, receivedAt);
    const serverAhead = this.#clockOffset ?? 0;
    let offset = 1;
    for (const pending of batch) {
      const outcomes: Outcome[] = [];
      offset = readOutcomes(reply, offset, pending.request, outcomes);
      // Decided on the server's clock: report resetAt on this process's clock, so that
      // `resetAt - Date.now()` here is the true wait however far apart the two clocks are.
      if (pending.request.at === undefined) {
        for (const outcome of outcomes) outcome.resetAt -= serverAhead;
      }
      pending.resolve(outcomes);
    }
  }

  /**
   * Runs the consume script by SHA1, sending its text only when the server lacks it. Any
   * error other than NOSCRIPT goes up unchanged: retrying after a timeout could count a
   * request twice. `args` starts with the SHA1 and the number of keys.
   */
  async #evaluate(args: (string | number)[]): Promise<unknown> {
    try {
      return await this.#command("evalsha", args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
    }
    // The server's script cache was flushed or it restarted; EVAL caches the script again,
    // so the next EVALSHA succeeds.
    args[0] = CONSUME_SCRIPT;
    return await this.#command("eval", args);
  }

  /**
   * Sends EVAL or EVALSHA through `sendCommand`, which skips ioredis's auto-pipelining: the
   * store already sends a tick's requests together, and an auto-pipeline waits for the
   * previous one on the same node to finish, which keeps only one batch in flight.
   */
  #command(name: "eval" | "evalsha", args: (string | number)[]): Promise<unknown> {
    const command = new Command(name, args, this.#commandOptions);
    this.#client.sendCommand(command);
    return command.promise;
  }

  /**
   * Updates the clock offset from one reply. The server read its clock somewhere between
   * sending and receiving, so the midpoint is the estimate and half the round trip bounds
   * its error. A sample replaces the current one when its round trip is no longer, or when
   * the current one is older than CLOCK_SAMPLE_LIFETIME.
   */
  #sampleClock(serverNow: number, sentAt: number, receivedAt: number): void {
    const roundTrip = receivedAt - sentAt;
    const stale = receivedAt - this.#clockSampleTakenAt > CLOCK_SAMPLE_LIFETIME;
    if (!stale && roundTrip > this.#clockSampleRoundTrip) return;

    this.#clockSampleRoundTrip = roundTrip;
    this.#clockSampleTakenAt = receivedAt;
    this.#clockOffset = Math.round(serverNow - (sentAt + receivedAt) / 2);

    if (this.#clockWarned || Math.abs(this.#clockOffset) <= this.#clockOffsetWarning) return;
    this.#clockWarned = true;
    this.#logger.warn(
      `sluice: the Redis clock is ${Math.abs(this.#clockOffset)} ms ${this.#clockOffset > 0 ? "ahead of" : "behind"} this process's clock; decisions use the Redis clock and report resetAt on this process's clock, so check the clock synchronisation of this host`,
      { code: "SLUICE_CLOCK_OFFSET", clockOffset: this.#clockOffset },
    );
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith(NOSCRIPT);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function scriptFailed(error: unknown): StoreError {
  return new StoreError(`Redis consume script failed: ${messageOf(error)}`, { cause: error });
}
