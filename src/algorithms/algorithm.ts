import type { Policy } from "../policy/policy.js";
import type { AlgorithmName } from "../types.js";

/** Numbers of fixed state each key has; the sliding log keeps its entries beside them. */
export const STATE_SIZE = 3;

/**
 * A view of one key's state inside a store. Stores reuse one view for many keys, so an
 * algorithm must not keep a reference to it after a call returns.
 */
export interface StateView {
  /** Backing array; the key's `STATE_SIZE` numbers start at `offset`. Integers only. */
  data: Float64Array;
  offset: number;
  /** True when the key has no state: never seen, expired or reset. */
  empty: boolean;
  /** The sliding log's entries as `[time, cost, time, cost, …]`, oldest first. */
  log: number[] | undefined;
}

/**
 * The result of deciding one request against one key's state, written into a reused
 * object so the hot path allocates nothing. All times are integer milliseconds.
 */
export interface Verdict {
  allowed: boolean;
  /** Units left after this request (before it, when rejected); never negative. */
  remaining: number;
  /** Epoch ms at which the key is back to full quota. */
  resetAt: number;
  /** Ms until a request of the same cost can pass; 0 when allowed. */
  retryAfter: number;
  /** Ms from `now` until the state after this request equals no state; at least 1. */
  ttl: number;
  /** The time the request was decided at, after the monotonic rule moved it forward. */
  now: number;
  /** The cost decided. */
  cost: number;
  /** The key's state after admitting the request, written by `commit`. */
  next0: number;
  next1: number;
  next2: number;
}

/**
 * A rate-limiting algorithm: a state machine over integer milliseconds with no I/O and no
 * clock of its own. The Lua script of the same name must make identical decisions.
 *
 * A caller runs `decide` for every policy of a request, and `commit` for each only when
 * all of them allowed. A rejected request therefore changes no state.
 */
export interface Algorithm {
  readonly name: AlgorithmName;
  /**
   * Decides whether `cost` fits `policy` at `now` and writes the verdict and the would-be
   * next state into `out`. Reads `state` and never writes it. `cost` is 0 for a read that
   * consumes nothing, and never exceeds `policy.capacity`.
   */
  decide(policy: Policy, state: StateView, now: number, cost: number, out: Verdict): void;
  /** Writes the next state from an allowed `out` into `state`. */
  commit(policy: Policy, state: StateView, out: Verdict): void;
}

/** Creates an empty verdict for reuse. */
export function createVerdict(): Verdict {
  return {
    allowed: false,
    remaining: 0,
    resetAt: 0,
    retryAfter: 0,
    ttl: 1,
    now: 0,
    cost: 0,
    next0: 0,
    next1: 0,
    next2: 0,
  };
}

/** Copies the three next-state numbers into the key's slot; the default `commit`. */
export function commitFixedState(_policy: Policy, state: StateView, out: Verdict): void {
  const { data, offset } = state;
  data[offset] = out.next0;
  data[offset + 1] = out.next1;
  data[offset + 2] = out.next2;
  state.empty = false;
}

/** Divides two non-negative integers and rounds up. */
export function ceilDiv(numerator: number, denominator: number): number {
  return Math.ceil(numerator / denominator);
}

/**
 * Rescales an amount kept in units of `1 / from` to units of `1 / to` after a policy change.
 * `round` is `Math.floor` for quota still free and `Math.ceil` for quota already used, so a
 * change never hands out quota that was consumed.
 */
export function rescale(
  amount: number,
  from: number,
  to: number,
  round: (value: number) => number,
): number {
  return from === to ? amount : round((amount * to) / from);
}
