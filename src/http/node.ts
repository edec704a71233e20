/**
 * `sluice/http`: rate limiting for a plain `node:http` request handler, and the pure header
 * functions the framework adapters are built on.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { invalidType } from "../errors.js";
import { defaultLogger } from "../logger.js";
import type { Logger } from "../types.js";
import { evaluate, getDecision, sendLimited, sendProblem, setHeaders } from "./handler.js";
import { type RateLimitOptions, resolveOptions } from "./options.js";
import { internalErrorProblem } from "./problem.js";

export { defaultKey, maskAddress, unwrapMappedAddress } from "./address.js";
export {
  type AdvertisedPolicy,
  advertisePolicy,
  effectiveWindowSeconds,
  formatRateLimit,
  formatRateLimitPolicy,
  HEADER_MODES,
  type HeaderField,
  type HeaderMode,
  legacyHeaders,
  rateLimitHeaders,
  retryAfterSeconds,
} from "./headers.js";
export type { RateLimiterLike, RateLimitOptions } from "./options.js";
export {
  PROBLEM_CONTENT_TYPE,
  type ProblemDetails,
  QUOTA_EXCEEDED_TYPE,
  quotaExceededProblem,
} from "./problem.js";
export { getDecision };

/** A `node:http` request listener. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Options of {@link withRateLimit}. */
export interface NodeRateLimitOptions extends RateLimitOptions<IncomingMessage, ServerResponse> {
  /**
   * Handles an error thrown by `key`, `cost`, `skip`, `onLimited` or the limiter's `check`.
   * @default logs through `logger` (at most once a minute, with a count of the repeats it
   * held back) and sends 500 with an `application/problem+json` body
   */
  readonly onError?: (error: unknown, req: IncomingMessage, res: ServerResponse) => void;
  /** Receives the default `onError`'s log lines. @default console */
  readonly logger?: Logger;
}

/** Minimum time between two logged check failures, in milliseconds. */
const ERROR_LOG_INTERVAL = 60_000;

/**
 * Wraps a request listener so each request is checked first. An allowed request gets the rate
 * limit headers and reaches `handler`. A rejected one gets 429 with `Retry-After` and an
 * `application/problem+json` body, or the application's `onLimited` response. To limit routes
 * differently, pass a `limiter` function that picks a limiter from the request.
 *
 * When the check itself fails, `onError` runs and `handler` does not: the request is never let
 * through unchecked, since a request crafted to make the key function throw would otherwise
 * bypass the limit. Store failures do not reach this path because the limiter's failure mode
 * decides them.
 *
 * The default key is `req.user.id` when the application set one, else the socket's remote
 * address masked to /64 for IPv6. Behind a reverse proxy that is the proxy's address, so pass
 * a `key` that reads the forwarded client address your proxy sets.
 *
 * @throws {TypeError} for invalid options, at construction.
 * @example
 * const limiter = new RateLimiter({ policy: "100/1m" });
 * createServer(withRateLimit((req, res) => res.end("ok"), { limiter })).listen(3000, "127.0.0.1");
 */
export function withRateLimit(
  handler: NodeHandler,
  options: NodeRateLimitOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  if (typeof handler !== "function") {
    throw invalidType("withRateLimit handler", "a request listener function", handler);
  }
  const resolved = resolveOptions<IncomingMessage, ServerResponse>(options, {
    name: "withRateLimit options",
    extraKeys: ["onError", "logger"],
  });
  const onError = options.onError ?? defaultOnError(options.logger ?? defaultLogger);
  if (typeof onError !== "function") {
    throw invalidType("withRateLimit options.onError", "a function", onError);
  }

  return async (req, res) => {
    let proceed: boolean;
    try {
      proceed = await check(req, res);
    } catch (error) {
      onError(error, req, res);
      return;
    }
    if (proceed) await handler(req, res);
  };

  async function check(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const user: unknown = (req as { user?: unknown }).user;
    const evaluation = await evaluate(resolved, req, { address: req.socket.remoteAddress, user });
    if (evaluation === undefined) return true;

    setHeaders(res, evaluation.headers);
    if (evaluation.decision.allowed) return true;

    await sendLimited(resolved, req, res, evaluation.decision);
    return false;
  }
}

/** Logs a failed check at most once per interval and sends 500. */
function defaultOnError(
  logger: Logger,
): (error: unknown, req: IncomingMessage, res: ServerResponse) => void {
  let lastLogged = Number.NEGATIVE_INFINITY;
  let heldBack = 0;

  return (error, _req, res) => {
    const now = Date.now();
    if (now - lastLogged >= ERROR_LOG_INTERVAL) {
      logger.error("sluice: rate limit check failed; responded 500", { error, heldBack });
      lastLogged = now;
      heldBack = 0;
    } else {
      heldBack++;
    }

    if (res.headersSent) {
      res.end();
      return;
    }
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    sendProblem(res, internalErrorProblem());
  };
}
