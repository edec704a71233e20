import { checkOptionNames, invalidType, outOfRange } from "../errors.js";
import { ALGORITHMS, type AlgorithmName, type FailureMode } from "../types.js";
import { formatDuration, parseDuration } from "./duration.js";

/** A policy written as an object. */
export interface PolicyOptions {
  /**
   * Name used in store keys, headers and metrics: `[A-Za-z0-9_.-]+`, at most 128 characters.
   * @default derived from the other fields, e.g. `"100-per-1m-gcra"`, so that two different
   * policies on one store never share counters
   */
  readonly name?: string;
  /** Requests (cost units) admitted per window: a positive integer. */
  readonly limit: number;
  /**
   * Window length: milliseconds or a duration string such as `"1m"`, at most 1000 years.
   */
  readonly window: number | string;
  /** @default "gcra" */
  readonly algorithm?: AlgorithmName;
  /**
   * Largest cost admitted at once by `token-bucket`, `leaky-bucket` and `gcra`: the bucket
   * capacity. Other algorithms reject this option. An empty bucket must refill within 1000
   * years: `burst × window / limit ≤ MAX_REFILL_MS`.
   * @default limit
   */
  readonly burst?: number;
  /** Behaviour while the store cannot decide in time. @default "local" */
  readonly failureMode?: FailureMode;
}

/**
 * A policy as callers write it: an object, or a string `"<limit>/<window>"` such as
 * `"100/1m"`, `"10/s"` or `"5/500ms"`.
 */
export type PolicyInput = string | PolicyOptions;

/** A validated policy with its rate reduced to integers. Frozen. */
export interface Policy {
  readonly name: string;
  readonly limit: number;
  /** Window length in milliseconds. */
  readonly window: number;
  readonly algorithm: AlgorithmName;
  /** Bucket capacity; equals `limit` for the window algorithms. */
  readonly burst: number;
  readonly failureMode: FailureMode;
  /** Largest cost the policy can ever admit in one request. */
  readonly capacity: number;
  /**
   * The bucket algorithms' refill rate: `rateUnits` units every `rateInterval` milliseconds,
   * both integers, so refills never drift. It is `limit / window` reduced by their greatest
   * common divisor. When `burst × rateInterval` would pass 2^53 − 1, a bucket's state would
   * not fit exact integers, so the rate is rounded down to a coarser fraction that fits. Such
   * a policy admits less than stated by under `2 × refill time / 2^53` of its rate (refill
   * time `burst × window / limit` ms): under 0.01 % when the bucket refills within 10 years.
   */
  readonly rateUnits: number;
  /** Milliseconds per `rateUnits` units of refill; see `rateUnits`. */
  readonly rateInterval: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const SPEC = /^\s*(\d+)\s*\/\s*(.+?)\s*$/;
const FAILURE_MODES: readonly FailureMode[] = ["open", "closed", "local"];
const BUCKETS: readonly AlgorithmName[] = ["token-bucket", "leaky-bucket", "gcra"];

/**
 * Maximum time a policy may take to restore a key's full quota, in ms: 1000 years of 365
 * days. Together with the clock it bounds every `resetAt` and TTL below 2^53, until the year
 * 280 000, and it bounds the rounding of `Policy.rateUnits`.
 */
export const MAX_REFILL_MS = 31_536_000_000_000;

/** The default algorithm: exact, one value of state per key, smooth under bursts. */
export const DEFAULT_ALGORITHM: AlgorithmName = "gcra";

/**
 * Validates a policy and resolves its defaults.
 *
 * @throws {TypeError} for a value of the wrong type, naming the field.
 * @throws {RangeError} for a value out of range, naming the field.
 * @example
 * parsePolicy("100/1m").window; // 60000
 * parsePolicy({ limit: 10, window: "1s", algorithm: "token-bucket", burst: 20 }).burst; // 20
 */
export function parsePolicy(input: PolicyInput): Policy {
  const options = typeof input === "string" ? parseSpec(input) : checkObject(input);

  const limit = checkCount("policy limit", options.limit);
  const window = parseDuration(options.window, "policy window");
  if (window > MAX_REFILL_MS) {
    throw outOfRange("policy window", `at most 1000 years (${MAX_REFILL_MS} ms)`, options.window);
  }
  const algorithm = options.algorithm ?? DEFAULT_ALGORITHM;
  if (!ALGORITHMS.includes(algorithm)) {
    throw invalidType("policy algorithm", `one of ${ALGORITHMS.join(", ")}`, algorithm);
  }

  let burst = limit;
  // A window algorithm has no bucket, so its burst can only be the limit itself; accepting
  // that lets a parsed Policy be passed back in.
  if (options.burst !== undefined && !(options.burst === limit && !BUCKETS.includes(algorithm))) {
    if (!BUCKETS.includes(algorithm)) {
      throw invalidType(
        "policy burst",
        `absent (or equal to the limit) for ${algorithm}, which has no bucket`,
        options.burst,
      );
    }
    burst = checkCount("policy burst", options.burst);
    const maxBurst = (BigInt(MAX_REFILL_MS) * BigInt(limit)) / BigInt(window);
    if (BigInt(burst) > maxBurst) {
      throw outOfRange(
        "policy burst",
        `at most ${maxBurst} for ${limit} per ${window} ms, so that an empty bucket refills within 1000 years`,
        burst,
      );
    }
  }

  const failureMode = options.failureMode ?? "local";
  if (!FAILURE_MODES.includes(failureMode)) {
    throw invalidType("policy failureMode", '"open", "closed" or "local"', failureMode);
  }

  const name = options.name ?? defaultName(limit, window, burst, algorithm);
  if (typeof name !== "string" || !NAME.test(name)) {
    throw invalidType("policy name", "1 to 128 characters of A-Z, a-z, 0-9, _, . or -", name);
  }

  const [rateUnits, rateInterval] = bucketRate(limit, window, burst);
  return Object.freeze({
    name,
    limit,
    window,
    algorithm,
    burst,
    failureMode,
    capacity: BUCKETS.includes(algorithm) ? burst : limit,
    rateUnits,
    rateInterval,
  });
}

/**
 * Validates a request's cost: a positive safe integer.
 *
 * @throws {TypeError} when `cost` is not a number.
 * @throws {RangeError} when `cost` is not a positive safe integer.
 */
export function checkCost(cost: unknown): number {
  if (typeof cost !== "number") throw invalidType("cost", "a positive integer", cost);
  if (!Number.isSafeInteger(cost) || cost < 1) throw outOfRange("cost", "a positive integer", cost);
  return cost;
}

function parseSpec(spec: string): PolicyOptions {
  const match = SPEC.exec(spec);
  if (match === null || match[1] === undefined || match[2] === undefined) {
    throw invalidType("policy", 'a string such as "100/1m", "10/s" or "5/500ms"', spec);
  }
  return { limit: Number(match[1]), window: match[2] };
}

/** Fields a policy object may have: the options, and the derived fields of a parsed Policy. */
const POLICY_FIELDS: readonly string[] = [
  "name",
  "limit",
  "window",
  "algorithm",
  "burst",
  "failureMode",
  "capacity",
  "rateUnits",
  "rateInterval",
];

function checkObject(input: unknown): PolicyOptions {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw invalidType(
      "policy",
      'a string such as "100/1m" or an object with limit and window',
      input,
    );
  }
  checkOptionNames("policy", input, POLICY_FIELDS);
  return input as PolicyOptions;
}

function checkCount(name: string, value: unknown): number {
  if (typeof value !== "number") throw invalidType(name, "a positive integer", value);
  if (!Number.isSafeInteger(value) || value < 1)
    throw outOfRange(name, "a positive integer", value);
  return value;
}

function defaultName(limit: number, window: number, burst: number, algorithm: AlgorithmName) {
  const burstPart = burst === limit ? "" : `-burst-${burst}`;
  return `${limit}-per-${formatDuration(window)}${burstPart}-${algorithm}`;
}

/**
 * Returns the refill rate as `[units, interval]`: `limit / window` in lowest terms, or, when a
 * bucket of `burst` tokens in units of `1 / interval` would pass 2^53 − 1, the rate rounded
 * down to the interval `floor((2^53 − 1) / burst)`. The rounding loses under one unit per
 * interval, a share of at most `2 × refill time / 2^53` of the rate.
 */
function bucketRate(limit: number, window: number, burst: number): [number, number] {
  const divisor = gcd(limit, window);
  const units = limit / divisor;
  const interval = window / divisor;
  if (BigInt(burst) * BigInt(interval) <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return [units, interval];
  }

  const coarseInterval = Math.floor(Number.MAX_SAFE_INTEGER / burst);
  const coarseUnits = Number((BigInt(units) * BigInt(coarseInterval)) / BigInt(interval));
  const coarseDivisor = gcd(coarseUnits, coarseInterval);
  return [coarseUnits / coarseDivisor, coarseInterval / coarseDivisor];
}

function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) {
    const rest = x % y;
    x = y;
    y = rest;
  }
  return x;
}
