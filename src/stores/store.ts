import type { Policy } from "../policy/policy.js";

/** One policy's result for a request, as a store returns it. */
export interface Outcome {
  allowed: boolean;
  /** Units left after the request (before it, when rejected); never negative. */
  remaining: number;
  /**
   * Epoch ms at which the key is back to full quota under this policy, on the caller's
   * clock: the request's `at` when given, else this process's clock.
   */
  resetAt: number;
  /** Ms until a request of the same cost can pass; 0 when allowed or when it never can. */
  retryAfter: number;
  reason: "allowed" | "limit-exceeded" | "cost-exceeds-capacity";
}

/**
 * One request to decide: a key checked against one or more policies. A store decides all
 * policies atomically: when every one allows, all are consumed; otherwise none is.
 */
export interface ConsumeRequest {
  /** The key, already normalised to a string. */
  readonly key: string;
  readonly policies: readonly Policy[];
  /** Positive integer, validated by the caller. */
  readonly cost: number;
  /** Request time in epoch ms, or `undefined` for the store's own clock. */
  readonly at: number | undefined;
  /** Decide without consuming anything. */
  readonly dryRun: boolean;
}

/**
 * Storage for limiter state. The interface holds only what `RateLimiter` needs; one
 * conformance suite runs against every implementation.
 */
export interface Store {
  /** Decides a request; resolves to one outcome per policy, in the request's order. */
  consume(request: ConsumeRequest): Promise<Outcome[]>;
  /** Forgets the state of `key` under each of `policies`. */
  reset(key: string, policies: readonly Policy[]): Promise<void>;
  /** Releases timers and connections the store owns. */
  close(): Promise<void>;
  /**
   * Names the server that stores `key`, so that failures on one Redis Cluster shard open only
   * that shard's circuit. Stores with one server leave it out.
   */
  nodeOf?(key: string): string;
}

/** A store that lives in the process and can decide without a promise. */
export interface SyncStore extends Store {
  readonly synchronous: true;
  /** Decides a request and writes one outcome per policy into `into`. */
  consumeSync(request: ConsumeRequest, into: Outcome[]): void;
  resetSync(key: string, policies: readonly Policy[]): void;
}

/** Tells a store that can decide synchronously from one that cannot. */
export function isSyncStore(store: Store): store is SyncStore {
  return (store as Partial<SyncStore>).synchronous === true;
}
