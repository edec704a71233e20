/**
 * Reference models of the three window algorithms, written from their definitions and
 * sharing no code with `src/`. Each model keeps the admitted requests as a plain array of
 * `(time, cost)` and recomputes everything from it on every call, with exact fractions in
 * BigInt. They favour being easy to check by eye over speed.
 *
 * Every model follows the same monotonic rule as the library: a request stamped earlier
 * than the key's state time is decided at that time. `retryAfter` and `resetAt` come from a
 * search forward in time for the first moment their condition holds, never from a formula.
 */

/** A request the model admitted, at the time it was decided at. */
export interface Admission {
  readonly at: number;
  readonly cost: number;
}

/** The fields of a decision a model predicts, plus the time it decided at. */
export interface ModelDecision {
  readonly allowed: boolean;
  readonly remaining: number;
  readonly resetAt: number;
  readonly retryAfter: number;
  readonly reason: "allowed" | "limit-exceeded" | "cost-exceeds-capacity";
  /** The request's time after the monotonic rule. */
  readonly decidedAt: number;
}

/** A fraction `numerator / denominator` with a positive denominator. */
interface Fraction {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

/** What makes one window algorithm differ from another. */
interface WindowDefinition {
  /** Units in use at `now` given the admitted requests, as an exact fraction. */
  usage(admitted: readonly Admission[], now: number, window: number): Fraction;
  /** The key's state time: requests stamped earlier are decided at it. */
  stateTime(admitted: readonly Admission[], window: number): number | undefined;
}

/** Fixed window: a window opens at the first admission after the previous one closed. */
const fixedWindow: WindowDefinition = {
  usage(admitted, now, window) {
    const start = fixedWindowStart(admitted, window);
    if (start === undefined || now >= start + window) return whole(0n);
    return whole(sumCosts(admitted.filter((entry) => entry.at >= start)));
  },
  stateTime: (admitted, window) => fixedWindowStart(admitted, window),
};

/** Sliding log: every admission counts while `now < at + window`. */
const slidingLog: WindowDefinition = {
  usage(admitted, now, window) {
    return whole(sumCosts(admitted.filter((entry) => now < entry.at + window)));
  },
  stateTime: (admitted) => admitted.at(-1)?.at,
};

/**
 * Sliding-window counter: windows are aligned to the epoch. The usage is the current
 * window's cost plus the previous window's cost times `(window − elapsed) / window`, the
 * share of it that still overlaps the rolling window.
 */
const slidingWindow: WindowDefinition = {
  usage(admitted, now, window) {
    const index = Math.floor(now / window);
    const elapsed = now - index * window;
    const inWindow = (i: number) =>
      sumCosts(admitted.filter((entry) => Math.floor(entry.at / window) === i));
    const current = inWindow(index);
    const previous = inWindow(index - 1);
    return {
      numerator: current * BigInt(window) + previous * BigInt(window - elapsed),
      denominator: BigInt(window),
    };
  },
  stateTime: (admitted) => admitted.at(-1)?.at,
};

/** The definitions by algorithm name. */
export const windowDefinitions = {
  "fixed-window": fixedWindow,
  "sliding-window": slidingWindow,
  "sliding-log": slidingLog,
} as const;

/** Names of the algorithms that have a reference model. */
export type WindowAlgorithm = keyof typeof windowDefinitions;

/**
 * One key under one window policy, modelled from the definition. Create one per key.
 */
export class WindowModel {
  readonly admitted: Admission[] = [];
  readonly #definition: WindowDefinition;
  readonly limit: number;
  readonly window: number;

  constructor(algorithm: WindowAlgorithm, limit: number, window: number) {
    this.#definition = windowDefinitions[algorithm];
    this.limit = limit;
    this.window = window;
  }

  /** Decides a request of `cost` stamped `at`; admits it when allowed and `consume` is set. */
  decide(at: number, cost: number, consume: boolean): ModelDecision {
    const stateTime = this.#definition.stateTime(this.admitted, this.window);
    const now = stateTime === undefined ? at : Math.max(at, stateTime);

    if (cost > this.limit) {
      return {
        allowed: false,
        remaining: this.#remaining(this.admitted, now),
        resetAt: this.#resetAt(this.admitted, now),
        retryAfter: 0,
        reason: "cost-exceeds-capacity",
        decidedAt: now,
      };
    }

    const allowed = this.#fits(this.admitted, now, cost);
    const after = allowed ? [...this.admitted, { at: now, cost }] : this.admitted;
    const decision: ModelDecision = {
      allowed,
      remaining: this.#remaining(after, now),
      resetAt: this.#resetAt(after, now),
      retryAfter: allowed ? 0 : this.#retryAfter(now, cost),
      reason: allowed ? "allowed" : "limit-exceeded",
      decidedAt: now,
    };
    if (allowed && consume) this.admitted.push({ at: now, cost });
    return decision;
  }

  /** Whether `cost` more units fit at `now`: usage + cost ≤ limit, exactly. */
  #fits(admitted: readonly Admission[], now: number, cost: number): boolean {
    const { numerator, denominator } = this.#definition.usage(admitted, now, this.window);
    return numerator + BigInt(cost) * denominator <= BigInt(this.limit) * denominator;
  }

  /** Whole units still free at `now`: `floor(limit − usage)`, at least 0. */
  #remaining(admitted: readonly Admission[], now: number): number {
    const { numerator, denominator } = this.#definition.usage(admitted, now, this.window);
    const free = BigInt(this.limit) * denominator - numerator;
    if (free <= 0n) return 0;
    return Number(free / denominator);
  }

  /** The first time from `now` at which nothing is in use. */
  #resetAt(admitted: readonly Admission[], now: number): number {
    return this.#firstTime(now, (time) => {
      return this.#definition.usage(admitted, time, this.window).numerator === 0n;
    });
  }

  /** Ms from `now` until `cost` fits with no other traffic. */
  #retryAfter(now: number, cost: number): number {
    return this.#firstTime(now, (time) => this.#fits(this.admitted, time, cost)) - now;
  }

  /**
   * Returns the first time in `[from, from + 2 × window]` where `holds` is true, by binary
   * search. Valid because every model frees units as time passes (never the reverse) with
   * no new traffic, and after two windows nothing admitted before `from` counts.
   */
  #firstTime(from: number, holds: (time: number) => boolean): number {
    let low = from;
    let high = from + 2 * this.window;
    if (!holds(high)) throw new Error(`model never frees up from ${from}; the model is wrong`);

    while (low < high) {
      const middle = low + Math.floor((high - low) / 2);
      if (holds(middle)) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}

/** Start of the fixed window the admissions leave open, or `undefined` before the first one. */
function fixedWindowStart(admitted: readonly Admission[], window: number): number | undefined {
  let start: number | undefined;
  for (const entry of admitted) {
    if (start === undefined || entry.at >= start + window) start = entry.at;
  }
  return start;
}

function sumCosts(entries: readonly Admission[]): bigint {
  let total = 0n;
  for (const entry of entries) total += BigInt(entry.cost);
  return total;
}

function whole(units: bigint): Fraction {
  return { numerator: units, denominator: 1n };
}
