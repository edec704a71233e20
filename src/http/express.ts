/**
 * `sluice/express`: rate limiting middleware for Express 4 and 5.
 *
 * Only types are imported from express, so this module loads without it at run time.
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { evaluate, getDecision, sendLimited, setHeaders } from "./handler.js";
import { type RateLimitOptions, resolveOptions } from "./options.js";

export type { HeaderMode } from "./headers.js";
export type { RateLimiterLike, RateLimitOptions } from "./options.js";
export { PROBLEM_CONTENT_TYPE, type ProblemDetails, quotaExceededProblem } from "./problem.js";
export { getDecision };

/** Options of the Express middleware. */
export type ExpressRateLimitOptions = RateLimitOptions<Request, Response>;

/**
 * Creates middleware that checks each request against a limiter. An allowed request gets
 * the rate limit headers and goes on. A rejected one gets 429 with `Retry-After` and an
 * `application/problem+json` body, or the application's `onLimited` response. To limit one
 * route, mount the middleware on that route. Stacked middlewares (one for the app, one for a
 * route) both append to `RateLimit` and `RateLimit-Policy`.
 *
 * When `key`, `cost`, `skip` or the limiter's `check` throws, the error goes to Express's
 * error handlers (`next(error)`, a 500 by default). The request is never let through
 * unchecked, since a request crafted to make the key function throw would otherwise bypass
 * the limit. Store failures do not reach this path because the limiter's failure mode decides
 * them.
 *
 * The default key is `req.user.id` when the application set one, else `req.ip` masked to
 * /64 for IPv6. Behind a reverse proxy, set Express's `trust proxy` so `req.ip` is the client.
 *
 * @throws {TypeError} for invalid options, at construction.
 * @example
 * const limiter = new RateLimiter({ policy: "100/1m" });
 * app.use(rateLimit({ limiter }));
 * app.post("/login", rateLimit({ limiter: loginLimiter, key: (req) => req.body.email }), login);
 */
export function rateLimit(options: ExpressRateLimitOptions): RequestHandler {
  const resolved = resolveOptions<Request, Response>(options, { name: "rateLimit options" });

  return (req: Request, res: Response, next: NextFunction): void => {
    const handle = async (): Promise<boolean> => {
      const user: unknown = (req as { user?: unknown }).user;
      const evaluation = await evaluate(resolved, req, { address: req.ip, user });
      if (evaluation === undefined) return true;

      setHeaders(res, evaluation.headers);
      if (evaluation.decision.allowed) return true;

      await sendLimited(resolved, req, res, evaluation.decision);
      return false;
    };

    // Express's router catches what later handlers throw inside next(), so next() does not throw.
    handle().then((proceed) => {
      if (proceed) next();
    }, next);
  };
}
