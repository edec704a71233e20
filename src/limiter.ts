import { combineOutcomes } from "./decision.js";
import { ClosedError, invalidType, outOfRange } from "./errors.js";
import { normalizeKey } from "./key.js";
import { defaultLogger } from "./logger.js";
import { checkCost, type Policy, type PolicyInput, parsePolicy } from "./policy/policy.js";
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
  /** Where state lives. @default a new `MemoryStore` */
  readonly store?: Store;
  /**
   * Clock in epoch ms that stamps every request without an `at` of its own. Without it, the
   * store's clock decides: `Date.now` in memory, the server's `TIME` in Redis.
   */
  readonly clock?: () => number;
  /** Receives warnings and errors. @default console */
  readonly logger?: Logger;
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

  constructor(options: RateLimiterOptions) {
    if (typeof options !== "object" || options === null) {
      throw invalidType("RateLimiter options", "an object with policy or policies", options);
    }
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
    return this.#consume(this.#prepare(key, options, false, { ...this.#request }));
  }

  /** Decides like `check` and returns only whether the request may proceed. */
  async allow(key: string | number, options?: CheckOptions): Promise<boolean> {
    return (await this.check(key, options)).allowed;
  }

  /** Returns the decision `check` would return, without consuming anything. */
  async peek(key: string | number, options?: CheckOptions): Promise<Decision> {
    if (this.#syncStore !== undefined) return this.peekSync(key, options);
    return this.#consume(this.#prepare(key, options, true, { ...this.#request }));
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

  /** Forgets everything `key` consumed, under every policy of this limiter. */
  async reset(key: string | number): Promise<void> {
    this.#checkOpen();
    await this.store.reset(normalizeKey(key), this.policies);
  }

  /** Stops the limiter; closes the store too when the limiter created it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsStore) await this.store.close();
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

  async #consume(request: ConsumeRequest): Promise<Decision> {
    const outcomes = await this.store.consume(request);
    return combineOutcomes(this.policies, outcomes, false);
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

    if (options.cost !== undefined) into.cost = checkCost(options.cost);
    if (options.at !== undefined) into.at = checkTime(options.at);
    return into;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError("RateLimiter");
  }
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

function checkTime(at: unknown): number {
  if (typeof at !== "number") throw invalidType("at", "epoch milliseconds", at);
  if (!Number.isFinite(at) || at < 0) throw outOfRange("at", "finite epoch milliseconds", at);
  return Math.floor(at);
}
