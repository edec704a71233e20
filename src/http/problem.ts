import type { Decision } from "../types.js";
import { retryAfterSeconds } from "./headers.js";

/** Media type of an RFC 9457 problem details body in JSON. */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/**
 * Problem type for a request over its quota, defined in draft-ietf-httpapi-ratelimit-headers-11
 * (section 5.1) with the recommended status 429.
 * NOTE: the draft requests that IANA register this URI. Until it does, the anchor may not resolve.
 */
export const QUOTA_EXCEEDED_TYPE = "https://iana.org/assignments/http-problem-types#quota-exceeded";

/**
 * An RFC 9457 problem details object. It names the rejecting policy but never the key, so a
 * shared response cache or log of bodies reveals no identity.
 */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  /** Extension member of the quota-exceeded type: names of the policies that rejected. */
  readonly "violated-policies"?: readonly string[];
}

/**
 * Builds the default body of a 429 response. The `detail` states how long to wait, or that a
 * wait will not help when the request costs more than the policy can ever admit. A degraded
 * rejection reads the same as any other, so the client learns nothing about the store.
 */
export function quotaExceededProblem(decision: Decision): ProblemDetails {
  const retryAfter = retryAfterSeconds(decision);
  const detail =
    retryAfter === undefined
      ? `The request costs more than rate limit policy "${decision.policy}" can ever admit; retrying will not help.`
      : `Too many requests for rate limit policy "${decision.policy}"; retry in ${retryAfter} ${retryAfter === 1 ? "second" : "seconds"}.`;

  return {
    type: QUOTA_EXCEEDED_TYPE,
    title: "Quota Exceeded",
    status: 429,
    detail,
    "violated-policies": [decision.policy],
  };
}

/** Builds the body of a 500 response when the rate limit check itself failed. */
export function internalErrorProblem(): ProblemDetails {
  return {
    type: "about:blank",
    title: "Internal Server Error",
    status: 500,
    detail: "The rate limit check failed.",
  };
}
