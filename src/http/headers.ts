/**
 * Pure functions that turn a {@link Decision} into HTTP response header fields.
 *
 * The `RateLimit-Policy` and `RateLimit` fields follow draft-ietf-httpapi-ratelimit-headers-11
 * ("RateLimit header fields for HTTP", sections 3 and 4). Both are Structured Field Lists of
 * Items whose value is the policy name as an sf-string:
 *
 * - `RateLimit-Policy: "<name>";q=<quota>;w=<window seconds>`, one member per policy.
 * - `RateLimit: "<name>";r=<available units>;t=<effective window seconds>`, one member for
 *   the policy the decision reports (the most restrictive one). The draft lets a server omit
 *   the other policies (its appendix B.1.2), and a decision carries only one.
 *
 * No function here ever writes a key: the partition-key parameter `pk` is left out.
 */
import type { Policy } from "../policy/policy.js";
import type { Decision } from "../types.js";
import { clampToSfInteger, serializeList } from "./structured-field.js";

/**
 * The rate limit header fields a response carries.
 *
 * - `draft-11`: `RateLimit-Policy` and `RateLimit`.
 * - `legacy`: `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`.
 * - `both`: all five.
 * - `none`: none of them. A rejected request still gets `Retry-After`.
 */
export type HeaderMode = "draft-11" | "legacy" | "both" | "none";

/** The header modes, for validation and listings. */
export const HEADER_MODES: readonly HeaderMode[] = ["draft-11", "legacy", "both", "none"];

/** A response header as a name and a value, in the order it is written. */
export type HeaderField = readonly [name: string, value: string];

/**
 * Computes the `Retry-After` value in whole seconds: `retryAfter` rounded up, at least 1, so
 * a client that waits exactly this long is never early.
 *
 * Returns `undefined` for an allowed request, and for a `cost-exceeds-capacity` rejection:
 * that request can never pass, so no wait would be true.
 *
 * @example
 * retryAfterSeconds({ ...denied, retryAfter: 1500 }); // 2
 * retryAfterSeconds({ ...denied, retryAfter: 1 }); // 1
 */
export function retryAfterSeconds(decision: Decision): number | undefined {
  if (decision.allowed || decision.reason === "cost-exceeds-capacity") return undefined;
  return Math.max(1, Math.ceil(decision.retryAfter / 1000));
}

/** A policy as `RateLimit-Policy` advertises it. */
export interface AdvertisedPolicy {
  /** The `q` parameter: quota units per `window`. */
  readonly quota: number;
  /** The `w` parameter: whole seconds, at least 1. */
  readonly window: number;
}

/**
 * Expresses a policy in the whole seconds the draft requires for `w` ("Sub-second precision
 * is not supported", section 3.1.3).
 *
 * A window of whole seconds is advertised as it is. Any other window is rounded up to the
 * next whole second, and the quota is scaled to that window and rounded down, so the
 * advertised rate never exceeds the real one: `5/500ms` becomes `q=10;w=1`, `1/1500ms`
 * becomes `q=1;w=2`. The quota is clamped to the sf-integer maximum (15 digits).
 */
export function advertisePolicy(policy: Policy): AdvertisedPolicy {
  const window = Math.ceil(policy.window / 1000);
  if (policy.window % 1000 === 0) {
    return { quota: clampToSfInteger(policy.limit), window };
  }

  // BigInt because limit × window can pass 2^53 for large limits and long windows.
  const scaled = (BigInt(policy.limit) * BigInt(window) * 1000n) / BigInt(policy.window);
  const quota = scaled > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(scaled);
  return { quota: clampToSfInteger(quota), window };
}

/**
 * Computes the effective window `t`: the seconds within which the client can use no more
 * than the `r` units the field reports.
 *
 * For a rejection that a wait can clear, it equals `Retry-After`, because the draft states that a
 * `Retry-After` should not point earlier than the end of the effective window (section 6).
 * Otherwise it is the time until `resetAt`, when the key is back to full quota, rounded up;
 * 0 when that time has passed.
 *
 * @param now epoch ms at which the response is built.
 */
export function effectiveWindowSeconds(decision: Decision, now: number): number {
  const retryAfter = retryAfterSeconds(decision);
  if (retryAfter !== undefined) return retryAfter;
  return Math.max(0, Math.ceil((decision.resetAt - now) / 1000));
}

/**
 * Formats the `RateLimit-Policy` field value: one member per policy, in the limiter's order.
 *
 * @example
 * formatRateLimitPolicy([parsePolicy({ name: "burst", limit: 100, window: "1m" })]);
 * // '"burst";q=100;w=60'
 */
export function formatRateLimitPolicy(policies: readonly Policy[]): string {
  return serializeList(
    policies.map((policy) => {
      const { quota, window } = advertisePolicy(policy);
      return {
        value: policy.name,
        parameters: [
          ["q", quota],
          ["w", window],
        ],
      };
    }),
  );
}

/**
 * Formats the `RateLimit` field value for the policy the decision reports.
 *
 * @param now epoch ms at which the response is built.
 * @example
 * formatRateLimit(decision, Date.now()); // '"burst";r=99;t=60'
 */
export function formatRateLimit(decision: Decision, now: number): string {
  return serializeList([
    {
      value: decision.policy,
      parameters: [
        ["r", clampToSfInteger(decision.remaining)],
        ["t", effectiveWindowSeconds(decision, now)],
      ],
    },
  ]);
}

/**
 * Computes the legacy `X-RateLimit-*` values. `X-RateLimit-Reset` is the epoch second at
 * which the key is back to full quota, rounded up, as express-rate-limit 8 writes its legacy
 * headers. Reading it as a delay assumes the client clock is in sync with the server clock.
 */
export function legacyHeaders(decision: Decision): HeaderField[] {
  return [
    ["X-RateLimit-Limit", String(decision.limit)],
    ["X-RateLimit-Remaining", String(decision.remaining)],
    ["X-RateLimit-Reset", String(Math.ceil(decision.resetAt / 1000))],
  ];
}

/**
 * Builds every header a response for `decision` carries: `Retry-After` on a rejection that a
 * wait can clear (in every mode, `none` included), then the fields `mode` selects.
 *
 * @param policies the limiter's policies, listed in `RateLimit-Policy`.
 * @param now epoch ms at which the response is built.
 */
export function rateLimitHeaders(
  decision: Decision,
  policies: readonly Policy[],
  mode: HeaderMode,
  now: number,
): HeaderField[] {
  const fields: HeaderField[] = [];

  const retryAfter = retryAfterSeconds(decision);
  if (retryAfter !== undefined) fields.push(["Retry-After", String(retryAfter)]);

  if (mode === "draft-11" || mode === "both") {
    fields.push(["RateLimit-Policy", formatRateLimitPolicy(policies)]);
    fields.push(["RateLimit", formatRateLimit(decision, now)]);
  }
  if (mode === "legacy" || mode === "both") {
    fields.push(...legacyHeaders(decision));
  }
  return fields;
}
