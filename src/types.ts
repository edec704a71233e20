/** Names of the six algorithms. `gcra` is the default. */
export type AlgorithmName =
  | "fixed-window"
  | "sliding-window"
  | "sliding-log"
  | "token-bucket"
  | "leaky-bucket"
  | "gcra";

/** The algorithms in a stable order, for listings and `--compare`. */
export const ALGORITHMS: readonly AlgorithmName[] = [
  "fixed-window",
  "sliding-window",
  "sliding-log",
  "token-bucket",
  "leaky-bucket",
  "gcra",
];

/**
 * Behaviour of a policy while its store cannot decide in time.
 *
 * - `closed`: reject the request (protects the backend, hurts users).
 * - `open`: allow the request (protects users, not the backend).
 * - `local`: decide with an in-process limiter that keeps a share of the limit.
 */
export type FailureMode = "open" | "closed" | "local";

/**
 * Cause of a decision's outcome.
 *
 * - `allowed`: every policy had room and the cost was consumed.
 * - `limit-exceeded`: a policy had no room for the cost now; `retryAfter` is when it will.
 * - `cost-exceeds-capacity`: the cost is larger than a policy can ever admit, so retrying
 *   never helps. `retryAfter` is 0.
 * - `blocked`: the key was known to be blocked until a later time, so the limiter
 *   rejected it without asking the store.
 * - `store-timeout`, `store-error`, `store-unavailable`: the store missed its deadline,
 *   failed, or is skipped by an open circuit breaker; the policy's failure mode decided and
 *   the decision is `degraded`.
 */
export type DecisionReason =
  | "allowed"
  | "limit-exceeded"
  | "cost-exceeds-capacity"
  | "blocked"
  | "store-timeout"
  | "store-error"
  | "store-unavailable";

/** The outcome of one request. Every path returns this shape, degraded or not. */
export interface Decision {
  /** Whether the request may proceed. */
  readonly allowed: boolean;
  /** Requests per window of the reported policy. */
  readonly limit: number;
  /** Units the key may still consume now, after this request; never negative. */
  readonly remaining: number;
  /**
   * Epoch milliseconds at which the key is back to its full quota, on this process's clock
   * (or the timeline of the request's `at`), whichever clock the store decided by.
   */
  readonly resetAt: number;
  /** Milliseconds until a request of the same cost can pass; 0 when allowed. */
  readonly retryAfter: number;
  /** Name of the reported policy: the most restrictive one when several apply. */
  readonly policy: string;
  /** Cause of the outcome; see {@link DecisionReason}. */
  readonly reason: DecisionReason;
  /** True when a failure mode decided because the store could not. */
  readonly degraded: boolean;
}

/** Receives the warnings and errors sluice logs. `console` fits. */
export interface Logger {
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}
