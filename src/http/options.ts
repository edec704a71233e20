import { invalidType } from "../errors.js";
import type { Policy } from "../policy/policy.js";
import type { Decision } from "../types.js";
import { AllowList } from "./allow-list.js";
import { HEADER_MODES, type HeaderMode } from "./headers.js";

/**
 * The part of a limiter the HTTP adapters call. `RateLimiter` fits, and so does any object
 * with the same `policies` and `check`, such as a test double.
 */
export interface RateLimiterLike {
  /** The policies listed in `RateLimit-Policy`. */
  readonly policies: readonly Policy[];
  /** Decides one request for `key`. Rejects only for invalid arguments or after `close()`. */
  check(key: string, options?: { readonly cost?: number }): Promise<Decision>;
}

/** Options shared by the Express, Fastify and `node:http` adapters. */
export interface RateLimitOptions<Req, Res> {
  /**
   * The limiter every request is checked against, or a function that picks one per request
   * (per route, per tenant). A function that returns `undefined` leaves the request unlimited.
   */
  readonly limiter: RateLimiterLike | ((req: Req) => RateLimiterLike | undefined);
  /**
   * Returns the key a request is counted under.
   *
   * @default the authenticated user's id when the application attached one as `user.id` on
   * the request (`user:<id>`), else the client address (`ip:<address>`) with IPv6 masked to
   * its /64 prefix and IPv4-mapped IPv6 unwrapped. Behind a reverse proxy the client address
   * is the proxy's unless the framework is configured to trust it (Express `trust proxy`,
   * Fastify `trustProxy`). Without that, every client shares one key.
   */
  readonly key?: (req: Req) => string | number | PromiseLike<string | number>;
  /** Returns the units a request consumes: a positive integer. @default 1 */
  readonly cost?: (req: Req) => number | PromiseLike<number>;
  /** Returns true for a request that is not limited at all: no check, no headers. */
  readonly skip?: (req: Req) => boolean | PromiseLike<boolean>;
  /**
   * Keys and client addresses that are never limited: IP addresses, CIDR subnets
   * (`"10.0.0.0/8"`) or keys compared exactly with the request's key (`"user:42"`).
   */
  readonly allow?: readonly string[];
  /** The rate limit header fields responses carry. @default "draft-11" */
  readonly headers?: HeaderMode;
  /** Whether allowed responses carry the header fields too, not only rejections. @default true */
  readonly headersWhenAllowed?: boolean;
  /**
   * Whether decisions made by a failure mode (`decision.degraded`) carry the rate limit header
   * fields. `Retry-After` is sent on every rejection regardless. @default true
   */
  readonly degradedHeaders?: boolean;
  /**
   * Sends the response for a rejected request, replacing the default
   * `application/problem+json` body. The status is already 429 and the headers are set when
   * it runs; it must send a response.
   */
  readonly onLimited?: (req: Req, res: Res, decision: Decision) => void | PromiseLike<void>;
}

/** Options after validation, with defaults applied. */
export interface ResolvedOptions<Req, Res> {
  readonly selectLimiter: (req: Req) => RateLimiterLike | undefined;
  readonly key: RateLimitOptions<Req, Res>["key"];
  readonly cost: RateLimitOptions<Req, Res>["cost"];
  readonly skip: RateLimitOptions<Req, Res>["skip"];
  readonly allowList: AllowList | undefined;
  readonly headers: HeaderMode;
  readonly headersWhenAllowed: boolean;
  readonly degradedHeaders: boolean;
  readonly onLimited: RateLimitOptions<Req, Res>["onLimited"];
}

const SHARED_KEYS: readonly string[] = [
  "limiter",
  "key",
  "cost",
  "skip",
  "allow",
  "headers",
  "headersWhenAllowed",
  "degradedHeaders",
  "onLimited",
];

/** Context for {@link resolveOptions}: the options' name and the adapter's own options. */
export interface ResolveContext {
  /** Names the options in error messages, e.g. `"rateLimit options"`. */
  readonly name: string;
  /** Option names the adapter adds to the shared ones. */
  readonly extraKeys?: readonly string[];
  /** When false, a missing `limiter` leaves every request unlimited. @default true */
  readonly limiterRequired?: boolean;
}

/**
 * Validates adapter options once, at construction, and applies the defaults.
 *
 * @throws {TypeError} for an unknown option or a value of the wrong type, naming the option.
 * @throws {RangeError} for an allow-list entry out of range.
 */
export function resolveOptions<Req, Res>(
  options: unknown,
  context: ResolveContext,
): ResolvedOptions<Req, Res> {
  const { name } = context;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidType(name, "an object with a limiter", options);
  }

  const known = new Set([...SHARED_KEYS, ...(context.extraKeys ?? [])]);
  for (const [option, value] of Object.entries(options)) {
    if (!known.has(option)) {
      const list = [...known].join(", ");
      throw invalidType(
        `${name}.${option}`,
        `absent, because it is not an option (known: ${list})`,
        value,
      );
    }
  }

  const input = options as Partial<RateLimitOptions<Req, Res>>;
  return {
    selectLimiter: limiterSelector(
      input.limiter,
      `${name}.limiter`,
      context.limiterRequired ?? true,
    ),
    key: optionalFunction(input.key, `${name}.key`),
    cost: optionalFunction(input.cost, `${name}.cost`),
    skip: optionalFunction(input.skip, `${name}.skip`),
    allowList: input.allow === undefined ? undefined : new AllowList(input.allow, `${name}.allow`),
    headers: headerMode(input.headers, `${name}.headers`),
    headersWhenAllowed: optionalBoolean(
      input.headersWhenAllowed,
      `${name}.headersWhenAllowed`,
      true,
    ),
    degradedHeaders: optionalBoolean(input.degradedHeaders, `${name}.degradedHeaders`, true),
    onLimited: optionalFunction(input.onLimited, `${name}.onLimited`),
  };
}

/**
 * Checks that `value` has what the adapters call on a limiter.
 *
 * @throws {TypeError} naming `name` when it does not.
 */
export function checkLimiter(value: unknown, name: string): RateLimiterLike {
  const limiter = value as Partial<RateLimiterLike> | null;
  if (
    typeof value !== "object" ||
    limiter === null ||
    typeof limiter.check !== "function" ||
    !Array.isArray(limiter.policies) ||
    limiter.policies.length === 0
  ) {
    throw invalidType(name, "a RateLimiter or a function returning one", value);
  }
  return value as RateLimiterLike;
}

function limiterSelector<Req>(
  value: unknown,
  name: string,
  required: boolean,
): (req: Req) => RateLimiterLike | undefined {
  if (value === undefined && !required) return () => undefined;
  if (typeof value !== "function") {
    const limiter = checkLimiter(value, name);
    return () => limiter;
  }

  // A selected limiter is checked on every request: a wrong value is a programming error that
  // reaches the adapter's error path instead of failing later inside `check`.
  const select = value as (req: Req) => unknown;
  return (req) => {
    const selected = select(req);
    return selected === undefined ? undefined : checkLimiter(selected, `${name}(request)`);
  };
}

function optionalFunction<T>(value: T | undefined, name: string): T | undefined {
  if (value !== undefined && typeof value !== "function") {
    throw invalidType(name, "a function", value);
  }
  return value;
}

function optionalBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw invalidType(name, "true or false", value);
  return value;
}

function headerMode(value: unknown, name: string): HeaderMode {
  if (value === undefined) return "draft-11";
  if (!HEADER_MODES.includes(value as HeaderMode)) {
    throw invalidType(name, `one of ${HEADER_MODES.map((mode) => `"${mode}"`).join(", ")}`, value);
  }
  return value as HeaderMode;
}
