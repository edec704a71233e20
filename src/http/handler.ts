import type { ServerResponse } from "node:http";
import { normalizeKey } from "../key.js";
import type { Decision } from "../types.js";
import { defaultKey } from "./address.js";
import { type HeaderField, type HeaderMode, rateLimitHeaders } from "./headers.js";
import type { ResolvedOptions } from "./options.js";
import { PROBLEM_CONTENT_TYPE, type ProblemDetails, quotaExceededProblem } from "./problem.js";

/** The request facts each framework reads in its own way. */
export interface RequestFacts {
  /** The client address as the framework reports it (proxy-aware when configured). */
  readonly address: string | undefined;
  /** The authenticated user the application attached to the request, if any. */
  readonly user: unknown;
}

/** The outcome of checking one request. */
export interface Evaluation {
  readonly decision: Decision;
  /** Headers to set on the response, allowed or not. */
  readonly headers: readonly HeaderField[];
}

/** Decisions by request object. A WeakMap, so a finished request takes its decision with it. */
const decisions = new WeakMap<object, Decision>();

/**
 * Returns the decision made for `req` (the Express request, the Fastify request, or the
 * `node:http` IncomingMessage), or `undefined` when the request was not checked (skipped,
 * allow-listed, or not yet reached). Check `decision.degraded` to see whether a failure mode
 * decided because the store could not.
 */
export function getDecision(req: object): Decision | undefined {
  return decisions.get(req);
}

/**
 * Checks one request: picks the limiter, applies `skip` and the allow list, derives the key
 * and cost, and calls the limiter's async `check`, so any store works. Records the decision
 * for {@link getDecision}.
 *
 * Returns `undefined` for a request that is not limited. Rejects when `key`, `cost`, `skip` or
 * `check` throws or rejects; each adapter routes that to its error path.
 */
export async function evaluate<Req extends object, Res>(
  options: ResolvedOptions<Req, Res>,
  req: Req,
  facts: RequestFacts,
): Promise<Evaluation | undefined> {
  const limiter = options.selectLimiter(req);
  if (limiter === undefined) return undefined;
  if (options.skip !== undefined && (await options.skip(req)) === true) return undefined;
  if (options.allowList?.hasAddress(facts.address) === true) return undefined;

  const key = normalizeKey(
    options.key === undefined ? defaultKey(facts.user, facts.address) : await options.key(req),
  );
  if (options.allowList?.hasKey(key) === true) return undefined;

  const cost = options.cost === undefined ? 1 : await options.cost(req);
  const decision = await limiter.check(key, { cost });
  decisions.set(req, decision);

  // Stores report `resetAt` on this process's clock (RedisStore converts from the server's
  // clock), so `t` is `resetAt` minus this process's clock.
  let mode: HeaderMode = options.headers;
  if (decision.allowed && !options.headersWhenAllowed) mode = "none";
  if (decision.degraded && !options.degradedHeaders) mode = "none";
  return { decision, headers: rateLimitHeaders(decision, limiter.policies, mode, Date.now()) };
}

/** Structured Field Lists, which a second limiter on the same request extends. */
const LIST_FIELDS = new Set(["ratelimit", "ratelimit-policy"]);

/**
 * Sets each header on a `node:http` response (Express responses are ones too). When an
 * earlier limiter on the same request already set `RateLimit` or `RateLimit-Policy`, the new
 * members are appended to its List, so the response describes every policy that applied.
 * Other fields are replaced, so the last limiter's `Retry-After` and `X-RateLimit-*` win.
 */
export function setHeaders(res: ServerResponse, headers: readonly HeaderField[]): void {
  for (const [name, value] of headers) {
    const earlier = LIST_FIELDS.has(name.toLowerCase()) ? res.getHeader(name) : undefined;
    res.setHeader(name, typeof earlier === "string" ? `${earlier}, ${value}` : value);
  }
}

/** Ends a `node:http` response with a problem details body and its status. */
export function sendProblem(res: ServerResponse, problem: ProblemDetails): void {
  const body = JSON.stringify(problem);
  res.statusCode = problem.status;
  res.setHeader("Content-Type", PROBLEM_CONTENT_TYPE);
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.end(body);
}

/**
 * Sends the response for a rejected request on a `node:http` response: status 429, then the
 * application's `onLimited`, or the default problem details body.
 */
export async function sendLimited<Req, Res extends ServerResponse>(
  options: ResolvedOptions<Req, Res>,
  req: Req,
  res: Res,
  decision: Decision,
): Promise<void> {
  res.statusCode = 429;
  if (options.onLimited !== undefined) {
    await options.onLimited(req, res, decision);
    return;
  }
  sendProblem(res, quotaExceededProblem(decision));
}
