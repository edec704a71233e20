import { combineOutcomes } from "./decision.js";
import {
  ClosedError,
  checkOptionNames,
  invalidType,
  outOfRange,
  StoreTimeoutError,
} from "./errors.js";
import { BlockCache } from "./failure/block-cache.js";
import type { CircuitBreakerOptions } from "./failure/circuit-breaker.js";
import { ErrorLog } from "./failure/error-log.js";
import { Fallback } from "./failure/fallback.js";
import { StoreGuard } from "./failure/store-guard.js";
import { normalizeKey } from "./key.js";
import { defaultLogger } from "./logger.js";
import {
  checkCost,
  MAX_REFILL_MS,
  type Policy,
  type PolicyInput,
  parsePolicy,
} from "./policy/policy.js";
import { MemoryStore } from "./stores/memory/memory-store.js";
import {
  type ConsumeRequest,
  isSyncStore,
  type Outcome,
  type Store,
  type SyncStore,
} from "./stores/store.js";
import type { Decision, Logger } from "./types.js";

/** Options of {@link RateLimiter}. Give `policy` or `policies`, not both. */
export interface RateLimiterOptions {
  /** The one policy every key is checked against, e.g. `"100/1m"`. */
  readonly policy?: PolicyInput;
  /**
   * Several policies checked together, e.g. `["10/s", "1000/h"]`: a request passes only if
   * all of them have room, and then consumes from all of them.
   */
  readonly policies?: readonly PolicyInput[];
  /** Storage for limiter state. @default a new `MemoryStore` */
  readonly store?: Store;
  /**
   * Clock in epoch ms that stamps every request without an `at` of its own. Without it, the
   * store's clock decides: `Date.now` in memory, the server's `TIME` in Redis.
   */
  readonly clock?: () => number;
  /** Receives warnings and errors. @default console */
  readonly logger?: Logger;
  /**
   * Deadline of one call to a remote store, in ms. A call that misses it, fails, or meets
   * an open circuit breaker is decided by each policy's failure mode, so a hung or dead
   * store costs a decision at most this long, plus any delay of the event loop. The call
   * itself is not cancelled: a late reply is ignored, and the request may still count in
   * the store. In-process stores have no deadline.
   * @default 50
   */
  readonly timeout?: number;
  /**
   * Share of each policy's limit that the in-process limiter of the `local` failure mode
   * holds, in (0, 1]. Set it to 1 / the number of instances sharing the store, so that the
   * fleet as a whole stays near the limit while the store is down.
   * @default 1
   */
  readonly localShare?: number;
  /**
   * When to stop calling a failing store node and how often to probe it. Each store node has
   * its own circuit, so on Redis Cluster a failing shard degrades only the keys it holds.
   */
  readonly circuitBreaker?: CircuitBreakerOptions;
  /**
   * Maximum keys remembered as blocked by a remote store and rejected in process until they may
   * pass again; 0 turns the cache off.
   * @default 10_000
   */
  readonly blockCacheSize?: number;
  /**
   * Minimum time between two log lines about store failures, in ms. Each line carries the
   * number of failures since the previous one.
   * @default 10_000
   */
  readonly errorLogInterval?: number;
}

/** Per-request options of {@link RateLimiter.check}. */
export interface CheckOptions {
  /** Units this request consumes: a positive integer. @default 1 */
  readonly cost?: number;
  /**
   * The request's own time in epoch ms, as when replaying a log. A time earlier than a key's
   * state is treated as the state's time, so it never refunds quota.
   */
  readonly at?: number;
}

interface MutableRequest {
  key: string;
  policies: readonly Policy[];
  cost: number;
  at: number | undefined;
  dryRun: boolean;
}

/**
 * Decides, per key, whether a request fits its policies.
 *
 * @example
 * const limiter = new RateLimiter({ policy: "100/1m" });
 * const decision = await limiter.check("user-42");
 * if (!decision.allowed) console.log(`retry in ${decision.retryAfter} ms`);
 */
export class RateLimiter {
  /** The validated policies, in the order given. */
  readonly policies: readonly Policy[];
  readonly store: Store;
  #syncStore: SyncStore | undefined;
  #ownsStore: boolean;
  #clock: (() => number) | undefined;
  #logger: Logger;
  #request: MutableRequest;
  #outcomes: Outcome[] = [];
  #closed = false;
  #remote: RemoteState | undefined;

  constructor(options: RateLimiterOptions) {
    if (typeof options !== "object" || options === null) {
      throw invalidType("RateLimiter options", "an object with policy or policies", options);
    }
    checkOptionNames("RateLimiter options", options, LIMITER_OPTIONS);
    checkLogger("RateLimiter logger", options.logger);
    if (options.store !== undefined) checkStore(options.store);
    this.policies = resolvePolicies(options);
    if (options.clock !== undefined && typeof options.clock !== "function") {
      throw invalidType("RateLimiter clock", "a function returning epoch ms", options.clock);
    }

    this.#logger = options.logger ?? defaultLogger;
    this.#ownsStore = options.store === undefined;
    this.store = options.store ?? new MemoryStore({ logger: this.#logger });
    this.#syncStore = isSyncStore(this.store) ? this.store : undefined;
    this.#clock = options.clock;
    this.#request = { key: "", policies: this.policies, cost: 1, at: undefined, dryRun: false };
    // Validated for every store, so no setting is accepted in memory and refused on Redis.
    const settings = readRemoteSettings(options);
    if (this.#syncStore === undefined) {
      this.#remote = createRemoteState(this.store, settings, options.clock, this.#logger);
    }
  }

  /** True when the store decides in process, so `checkSync` and friends work. */
  get synchronous(): boolean {
    return this.#syncStore !== undefined;
  }

  /**
   * Decides one request for `key` and consumes its cost when every policy allows it.
   * Rejects only for invalid arguments or after `close()`.
   */
  async check(key: string | number, options?: CheckOptions): Promise<Decision> {
    if (this.#syncStore !== undefined) return this.checkSync(key, options);
    const request = this.#prepare(key, options, false, { ...this.#request });
    return this.#consume(request, options?.at === undefined);
  }

  /** Decides like `check` and returns only whether the request may proceed. */
  async allow(key: string | number, options?: CheckOptions): Promise<boolean> {
    return (await this.check(key, options)).allowed;
  }

  /** Returns the decision `check` would return, without consuming anything. */
  async peek(key: string | number, options?: CheckOptions): Promise<Decision> {
    if (this.#syncStore !== undefined) return this.peekSync(key, options);
    return this.#consume(this.#prepare(key, options, true, { ...this.#request }), false);
  }

  /**
   * Decides like `check` without a promise. Needs a store that decides in process.
   * @throws {TypeError} when the store is asynchronous, such as Redis.
   */
  checkSync(key: string | number, options?: CheckOptions): Decision {
    return this.#consumeSync(this.#prepare(key, options, false, this.#request));
  }

  /** Decides like `allow` without a promise. Needs a store that decides in process. */
  allowSync(key: string | number, options?: CheckOptions): boolean {
    return this.checkSync(key, options).allowed;
  }

  /** Returns the decision `checkSync` would return, without consuming anything. */
  peekSync(key: string | number, options?: CheckOptions): Decision {
    return this.#consumeSync(this.#prepare(key, options, true, this.#request));
  }

  /**
   * Forgets everything `key` consumed, under every policy of this limiter.
   * @throws {StoreTimeoutError} when a remote store misses the deadline; the reset may
   * still happen later.
   * @throws {StoreError} when a remote store fails.
   */
  async reset(key: string | number): Promise<void> {
    this.#checkOpen();
    const normalized = normalizeKey(key);
    const remote = this.#remote;
    if (remote === undefined) {
      await this.store.reset(normalized, this.policies);
      return;
    }

    remote.blockCache?.delete(normalized);
    remote.fallback.reset(normalized, this.policies);
    await withDeadline(this.store.reset(normalized, this.policies), remote.timeout);
  }

  /** Stops the limiter; closes the store too when the limiter created it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsStore) await this.store.close();
    await this.#remote?.fallback.close();
  }

  #consumeSync(request: MutableRequest): Decision {
    const store = this.#syncStore;
    if (store === undefined) {
      throw invalidType(
        "RateLimiter store",
        "a store that decides in process for checkSync",
        this.store,
      );
    }
    store.consumeSync(request, this.#outcomes);
    return combineOutcomes(this.policies, this.#outcomes, false);
  }

  /**
   * Decides through a remote store: block cache, then the guarded call, then failure modes.
   * Only requests on the current time use the block cache; replayed ones carry their own.
   */
  async #consume(request: ConsumeRequest, cacheable: boolean): Promise<Decision> {
    const remote = this.#remote as RemoteState;
    if (cacheable) {
      const now = remote.clock();
      const blocked = remote.blockCache?.lookup(request.key, request.cost, now);
      if (blocked !== undefined) {
        return { ...blocked.decision, retryAfter: blocked.until - now, reason: "blocked" };
      }
    }

    const result = await remote.guard.consume(request);
    if (typeof result === "string") return remote.fallback.decide(request, result);

    const decision = combineOutcomes(this.policies, result, false);
    if (cacheable && decision.reason === "limit-exceeded") {
      const until = remote.clock() + decision.retryAfter;
      remote.blockCache?.block(request.key, { until, cost: request.cost, decision });
    }
    return decision;
  }

  #prepare(
    key: unknown,
    options: CheckOptions | undefined,
    dryRun: boolean,
    into: MutableRequest,
  ): MutableRequest {
    this.#checkOpen();
    into.key = normalizeKey(key);
    into.dryRun = dryRun;
    into.cost = 1;
    into.at = this.#clock?.();
    if (options === undefined) return into;

    checkOptionNames("check options", options, CHECK_OPTIONS);
    if (options.cost !== undefined) into.cost = checkCost(options.cost);
    if (options.at !== undefined) into.at = checkTime(options.at);
    return into;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError("RateLimiter");
  }
}

const LIMITER_OPTIONS: readonly string[] = [
  "policy",
  "policies",
  "store",
  "clock",
  "logger",
  "timeout",
  "localShare",
  "circuitBreaker",
  "blockCacheSize",
  "errorLogInterval",
];
const CHECK_OPTIONS: readonly string[] = ["cost", "at"];

function checkLogger(name: string, logger: unknown): void {
  if (logger === undefined) return;
  const candidate = logger as Partial<Logger> | null;
  if (
    typeof candidate !== "object" ||
    candidate === null ||
    typeof candidate.warn !== "function" ||
    typeof candidate.error !== "function"
  ) {
    throw invalidType(name, "an object with warn and error functions, such as console", logger);
  }
}

function checkStore(store: unknown): void {
  const candidate = store as Partial<Store> | null;
  if (
    typeof candidate !== "object" ||
    candidate === null ||
    typeof candidate.consume !== "function" ||
    typeof candidate.reset !== "function" ||
    typeof candidate.close !== "function"
  ) {
    throw invalidType(
      "RateLimiter store",
      "a Store with consume, reset and close methods, such as MemoryStore or RedisStore",
      store,
    );
  }
}

/** State the limiter keeps to survive a remote store's failures. */
interface RemoteState {
  readonly clock: () => number;
  readonly timeout: number;
  readonly guard: StoreGuard;
  readonly fallback: Fallback;
  readonly blockCache: BlockCache | undefined;
}

/** Settles like `operation`, or rejects with `StoreTimeoutError` after `timeout` ms. */
async function withDeadline(operation: Promise<void>, timeout: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(timeout)), timeout);
  });
  try {
    await Promise.race([operation, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Maximum delay `setTimeout` honours, in ms. */
const MAX_TIMER_DELAY = 2_147_483_647;

interface RemoteSettings {
  readonly timeout: number;
  readonly blockCacheSize: number;
  readonly errorLogInterval: number;
  readonly localShare: number;
  readonly breaker: CircuitBreakerOptions;
}

function readRemoteSettings(options: RateLimiterOptions): RemoteSettings {
  const timeout = checkWholeNumber("RateLimiter timeout", options.timeout ?? 50, 1);
  // setTimeout fires at once, with only a warning, for a delay beyond 2^31 − 1 ms, which
  // would turn every store call into a timeout.
  if (timeout > MAX_TIMER_DELAY) {
    throw outOfRange("RateLimiter timeout", `at most ${MAX_TIMER_DELAY} ms`, timeout);
  }
  const blockCacheSize = checkWholeNumber(
    "RateLimiter blockCacheSize",
    options.blockCacheSize ?? 10_000,
    0,
  );
  const errorLogInterval = checkWholeNumber(
    "RateLimiter errorLogInterval",
    options.errorLogInterval ?? 10_000,
    0,
  );
  const localShare = options.localShare ?? 1;
  if (typeof localShare !== "number" || !(localShare > 0 && localShare <= 1)) {
    throw outOfRange("RateLimiter localShare", "a number in (0, 1]", localShare);
  }
  const breaker = options.circuitBreaker ?? {};
  checkOptionNames("RateLimiter circuitBreaker", breaker, ["failureThreshold", "openDuration"]);
  checkWholeNumber("RateLimiter circuitBreaker.failureThreshold", breaker.failureThreshold ?? 5, 1);
  checkWholeNumber("RateLimiter circuitBreaker.openDuration", breaker.openDuration ?? 500, 1);
  return { timeout, blockCacheSize, errorLogInterval, localShare, breaker };
}

function createRemoteState(
  store: Store,
  settings: RemoteSettings,
  limiterClock: (() => number) | undefined,
  logger: Logger,
): RemoteState {
  const { timeout, breaker, localShare, blockCacheSize } = settings;
  const clock = limiterClock ?? Date.now;
  const errorLog = new ErrorLog(logger, settings.errorLogInterval);
  return {
    clock,
    timeout,
    guard: new StoreGuard(store, { timeout, breaker, maxInFlight: 10_000, clock, errorLog }),
    fallback: new Fallback({ localShare, closedRetryAfter: 1000, maxKeys: 100_000, clock, logger }),
    blockCache: blockCacheSize > 0 ? new BlockCache(blockCacheSize) : undefined,
  };
}

function checkWholeNumber(name: string, value: unknown, minimum: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < minimum) {
    throw outOfRange(name, `a whole number ≥ ${minimum}`, value);
  }
  return value;
}

function resolvePolicies(options: RateLimiterOptions): readonly Policy[] {
  const { policy, policies } = options;
  if (policy !== undefined && policies !== undefined) {
    throw invalidType("RateLimiter options", "either policy or policies, not both", options);
  }
  if (policy !== undefined) return Object.freeze([parsePolicy(policy)]);
  if (!Array.isArray(policies) || policies.length === 0) {
    throw invalidType("RateLimiter policies", "a non-empty array of policies", policies);
  }

  const parsed = policies.map((input: PolicyInput) => parsePolicy(input));
  const names = new Set<string>();
  for (const { name } of parsed) {
    if (names.has(name))
      throw invalidType("RateLimiter policies", "policies with distinct names", name);
    names.add(name);
  }
  return Object.freeze(parsed);
}

/** Latest accepted request time: any state reached from it still has safe-integer times. */
export const MAX_REQUEST_TIME = Number.MAX_SAFE_INTEGER - 2 * MAX_REFILL_MS;

function checkTime(at: unknown): number {
  if (typeof at !== "number") throw invalidType("at", "epoch milliseconds", at);
  if (!Number.isFinite(at) || at < 0 || at > MAX_REQUEST_TIME) {
    throw outOfRange("at", `epoch milliseconds from 0 to ${MAX_REQUEST_TIME}`, at);
  }
  return Math.floor(at);
}
