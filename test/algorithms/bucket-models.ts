/**
 * Reference models of the three bucket algorithms, written from their textbook definitions
 * and sharing no code with `src/`. Every quantity is an exact BigInt in units of
 * `1 / window` token (buckets) or `1 / limit` ms (GCRA), with the policy's own `limit` and
 * `window`, never reduced. `retryAfter` and `resetAt` are found by a binary search for the
 * first millisecond at which the condition holds by definition, never by a closed formula.
 *
 * All three move a request stamped earlier than their last admission to that time.
 */

/** The policy fields a bucket depends on. */
export interface BucketPolicy {
  readonly limit: number;
  readonly window: number;
  readonly burst: number;
}

/** Names of the bucket algorithms, in the library's spelling. */
export type BucketAlgorithm = "token-bucket" | "leaky-bucket" | "gcra";

/** The algorithms the models cover. */
export const BUCKET_ALGORITHMS: readonly BucketAlgorithm[] = [
  "token-bucket",
  "leaky-bucket",
  "gcra",
];

/** The fields of a decision a model predicts. */
export interface ModelDecision {
  readonly allowed: boolean;
  readonly remaining: number;
  readonly resetAt: number;
  readonly retryAfter: number;
  readonly reason: "allowed" | "limit-exceeded" | "cost-exceeds-capacity";
}

/** One key's state under one bucket definition. */
interface Meter {
  /** Whether `cost` fits at `t`, with nothing admitted after the last admission. */
  fits(t: number, cost: number): boolean;
  /** Whole units free at `t`. */
  free(t: number): number;
  /** Whether the key is back to its full quota at `t`. */
  full(t: number): boolean;
  /** Admits `cost` at `t`. */
  admit(t: number, cost: number): void;
  /** Time of the last admission, which earlier stamps are moved to. */
  stateTime(): number | undefined;
  clone(): Meter;
}

const big = BigInt;

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Token bucket: `burst` tokens, `limit` tokens added per `window` ms, never above `burst`. */
class TokenBucketMeter implements Meter {
  readonly #capacity: bigint;
  constructor(
    readonly policy: BucketPolicy,
    /** Tokens × window at `last`. */
    private tokens: bigint = big(policy.burst) * big(policy.window),
    private last: number | undefined = undefined,
  ) {
    this.#capacity = big(policy.burst) * big(policy.window);
  }

  #tokensAt(t: number): bigint {
    if (this.last === undefined) return this.#capacity;
    return minBig(this.#capacity, this.tokens + big(t - this.last) * big(this.policy.limit));
  }

  fits(t: number, cost: number): boolean {
    return this.#tokensAt(t) >= big(cost) * big(this.policy.window);
  }
  free(t: number): number {
    return Number(this.#tokensAt(t) / big(this.policy.window));
  }
  full(t: number): boolean {
    return this.#tokensAt(t) === this.#capacity;
  }
  admit(t: number, cost: number): void {
    this.tokens = this.#tokensAt(t) - big(cost) * big(this.policy.window);
    this.last = t;
  }
  stateTime(): number | undefined {
    return this.last;
  }
  clone(): Meter {
    return new TokenBucketMeter(this.policy, this.tokens, this.last);
  }
}

/** Leaky bucket as a meter: requests pour in, `limit` per `window` ms leak out. */
class LeakyBucketMeter implements Meter {
  constructor(
    readonly policy: BucketPolicy,
    /** Level × window at `last`. */
    private level = 0n,
    private last: number | undefined = undefined,
  ) {}

  #levelAt(t: number): bigint {
    if (this.last === undefined) return 0n;
    return maxBig(0n, this.level - big(t - this.last) * big(this.policy.limit));
  }

  fits(t: number, cost: number): boolean {
    const { burst, window } = this.policy;
    return this.#levelAt(t) + big(cost) * big(window) <= big(burst) * big(window);
  }
  free(t: number): number {
    const { burst, window } = this.policy;
    return Number((big(burst) * big(window) - this.#levelAt(t)) / big(window));
  }
  full(t: number): boolean {
    return this.#levelAt(t) === 0n;
  }
  admit(t: number, cost: number): void {
    this.level = this.#levelAt(t) + big(cost) * big(this.policy.window);
    this.last = t;
  }
  stateTime(): number | undefined {
    return this.last;
  }
  clone(): Meter {
    return new LeakyBucketMeter(this.policy, this.level, this.last);
  }
}

/**
 * GCRA: emission interval T = window / limit ms, tolerance τ = burst × T. A request of cost
 * c at t passes when max(TAT, t) + c·T − t ≤ τ, and then moves the TAT there.
 */
class GcraMeter implements Meter {
  constructor(
    readonly policy: BucketPolicy,
    /** TAT × limit, in units of 1 / limit ms; undefined for a new key. */
    private tat: bigint | undefined = undefined,
    private last: number | undefined = undefined,
  ) {}

  /** max(TAT, t) − t, × limit. */
  #aheadAt(t: number): bigint {
    const now = big(t) * big(this.policy.limit);
    return this.tat === undefined ? 0n : maxBig(0n, this.tat - now);
  }

  fits(t: number, cost: number): boolean {
    const { burst, window } = this.policy;
    return this.#aheadAt(t) + big(cost) * big(window) <= big(burst) * big(window);
  }
  free(t: number): number {
    const { burst, window } = this.policy;
    const room = big(burst) * big(window) - this.#aheadAt(t);
    return room <= 0n ? 0 : Number(room / big(window));
  }
  full(t: number): boolean {
    return this.#aheadAt(t) === 0n;
  }
  admit(t: number, cost: number): void {
    const now = big(t) * big(this.policy.limit);
    this.tat = now + this.#aheadAt(t) + big(cost) * big(this.policy.window);
    this.last = t;
  }
  stateTime(): number | undefined {
    return this.last;
  }
  clone(): Meter {
    return new GcraMeter(this.policy, this.tat, this.last);
  }
}

/** Returns the first t in `[from, ∞)` where `holds(t)` is true; `holds` is monotone. */
function firstTime(from: number, holds: (t: number) => boolean): number {
  if (holds(from)) return from;
  let low = from;
  let step = 1;
  while (!holds(from + step)) {
    low = from + step;
    step *= 2;
  }
  let high = from + step;
  while (high - low > 1) {
    const middle = low + Math.floor((high - low) / 2);
    if (holds(middle)) high = middle;
    else low = middle;
  }
  return high;
}

function createMeter(algorithm: BucketAlgorithm, policy: BucketPolicy): Meter {
  if (algorithm === "token-bucket") return new TokenBucketMeter(policy);
  if (algorithm === "leaky-bucket") return new LeakyBucketMeter(policy);
  return new GcraMeter(policy);
}

/** One key of a bucket algorithm, decided by definition. */
export class BucketModel {
  readonly policy: BucketPolicy;
  #meter: Meter;

  constructor(algorithm: BucketAlgorithm, policy: BucketPolicy) {
    this.policy = policy;
    this.#meter = createMeter(algorithm, policy);
  }

  /** Decides a request of `cost` stamped `at`; admits it unless `peek`. */
  check(at: number, cost: number, peek = false): ModelDecision {
    const now = Math.max(at, this.#meter.stateTime() ?? at);
    const after = this.#meter.clone();

    if (cost > this.policy.burst) {
      return {
        allowed: false,
        remaining: after.free(now),
        resetAt: firstTime(now, (t) => after.full(t)),
        retryAfter: 0,
        reason: "cost-exceeds-capacity",
      };
    }

    const allowed = after.fits(now, cost);
    if (allowed) after.admit(now, cost);
    const retryAt = allowed ? now : firstTime(now, (t) => after.fits(t, cost));
    if (allowed && !peek) this.#meter = after;
    return {
      allowed,
      remaining: after.free(now),
      resetAt: firstTime(now, (t) => after.full(t)),
      retryAfter: retryAt - now,
      reason: allowed ? "allowed" : "limit-exceeded",
    };
  }
}

/** A request a test admitted, at the time it was decided at. */
export interface Admission {
  readonly at: number;
  readonly cost: number;
}

/**
 * Returns the first interval `[t1, t2]` in which the admissions exceed
 * `burst + limit × (t2 − t1) / window`, compared exactly, or undefined when none does.
 * `admissions` must be in non-decreasing time order.
 */
export function findOveradmission(
  policy: BucketPolicy,
  admissions: readonly Admission[],
): [number, number] | undefined {
  const { limit, window, burst } = policy;
  for (let first = 0; first < admissions.length; first++) {
    let sum = 0;
    for (let last = first; last < admissions.length; last++) {
      const start = admissions[first] as Admission;
      const end = admissions[last] as Admission;
      sum += end.cost;
      const allowance = big(burst) * big(window) + big(limit) * big(end.at - start.at);
      if (big(sum) * big(window) > allowance) return [start.at, end.at];
    }
  }
  return undefined;
}
