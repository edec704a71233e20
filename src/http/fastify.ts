/**
 * `sluice/fastify`: a rate limiting plugin for Fastify 5, with per-route options in the
 * route's `config.sluice`.
 *
 * Only types are imported from fastify, so this module loads without it at run time.
 */
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  RouteOptions,
} from "fastify";
import { invalidType } from "../errors.js";
import { evaluate, getDecision } from "./handler.js";
import { type RateLimitOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { PROBLEM_CONTENT_TYPE, quotaExceededProblem } from "./problem.js";

export type { HeaderMode } from "./headers.js";
export type { RateLimiterLike, RateLimitOptions } from "./options.js";
export { PROBLEM_CONTENT_TYPE, type ProblemDetails, quotaExceededProblem } from "./problem.js";
export { getDecision };

/** Options of one route, in its `config.sluice`; they override the plugin's options. */
export type FastifyRouteRateLimit = Partial<RateLimitOptions<FastifyRequest, FastifyReply>>;

/** Options of the Fastify plugin. */
export interface FastifyRateLimitOptions extends FastifyRouteRateLimit {
  /**
   * Whether every route is limited. When false, only routes with a `config.sluice` object
   * are, and the plugin's options are defaults for them. @default true
   */
  readonly global?: boolean;
  /**
   * The hook that checks requests. `onRequest` rejects before the body is read;
   * `preHandler` runs after parsing and validation, for a `cost` that reads the body.
   * @default "onRequest"
   */
  readonly hook?: "onRequest" | "preHandler";
}

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * sluice options for this route, merged over the plugin's; `false` leaves the route
     * unlimited.
     */
    sluice?: FastifyRouteRateLimit | false;
  }
}

type Resolved = ResolvedOptions<FastifyRequest, FastifyReply>;

const PLUGIN_KEYS = ["global", "hook"];

/**
 * Fastify plugin that checks each request against a limiter. An allowed request gets the rate
 * limit headers. A rejected one gets 429 with `Retry-After` and an `application/problem+json`
 * body, or the application's `onLimited` response. The hooks apply to the whole application,
 * not only to the plugin's encapsulation context.
 *
 * Options are validated when the plugin is registered, and each route's `config.sluice` when
 * the route is added. When `key`, `cost`, `skip` or the limiter's `check` throws, the error
 * goes to Fastify's error handler, which sends 500 by default. The request is never let
 * through unchecked, since a request crafted to make the key function throw would otherwise
 * bypass the limit. Store failures do not reach this path because the limiter's failure mode
 * decides them.
 *
 * The default key is `request.user.id` when the application set one, else `request.ip`
 * masked to /64 for IPv6. Behind a reverse proxy, set Fastify's `trustProxy`.
 *
 * @example
 * await app.register(rateLimit, { limiter: new RateLimiter({ policy: "100/1m" }) });
 * app.get("/search", { config: { sluice: { limiter: searchLimiter, cost: () => 5 } } }, search);
 * app.get("/health", { config: { sluice: false } }, health);
 */
export const rateLimit: FastifyPluginCallback<FastifyRateLimitOptions> = Object.assign(
  (fastify: FastifyInstance, options: FastifyRateLimitOptions, done: (error?: Error) => void) => {
    try {
      register(fastify, options);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  },
  {
    // What the fastify-plugin package sets: share the hooks with the parent context.
    [Symbol.for("skip-override")]: true,
    [Symbol.for("fastify.display-name")]: "sluice",
  },
);

function register(fastify: FastifyInstance, options: FastifyRateLimitOptions): void {
  const { global = true, hook = "onRequest", ...shared } = options ?? {};
  if (typeof global !== "boolean") {
    throw invalidType("sluice plugin options.global", "true or false", global);
  }
  if (hook !== "onRequest" && hook !== "preHandler") {
    throw invalidType("sluice plugin options.hook", '"onRequest" or "preHandler"', hook);
  }

  const base = resolveOptions<FastifyRequest, FastifyReply>(shared, {
    name: "sluice plugin options",
    extraKeys: PLUGIN_KEYS,
    limiterRequired: global,
  });
  const byRoute = new WeakMap<object, Resolved>();

  const resolveRoute = (
    config: FastifyRouteRateLimit | false | undefined,
  ): Resolved | undefined => {
    if (config === false) return undefined;
    if (config === undefined) return global ? base : undefined;
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
      throw invalidType("route config.sluice", "an options object or false", config);
    }

    let resolved = byRoute.get(config);
    if (resolved === undefined) {
      resolved = resolveOptions({ ...shared, ...config }, { name: "route config.sluice" });
      byRoute.set(config, resolved);
    }
    return resolved;
  };

  fastify.addHook("onRoute", (route: RouteOptions) => {
    resolveRoute(route.config?.sluice);
  });

  fastify.addHook(hook, async (request: FastifyRequest, reply: FastifyReply) => {
    const resolved = resolveRoute(request.routeOptions.config.sluice);
    if (resolved === undefined) return;

    const user: unknown = (request as { user?: unknown }).user;
    const evaluation = await evaluate(resolved, request, { address: request.ip, user });
    if (evaluation === undefined) return;

    for (const [name, value] of evaluation.headers) reply.header(name, value);
    if (evaluation.decision.allowed) return;

    reply.code(429);
    if (resolved.onLimited !== undefined) {
      await resolved.onLimited(request, reply, evaluation.decision);
      return reply;
    }
    // A Buffer, because Fastify appends "; charset=utf-8" to the type of a string payload.
    const body = Buffer.from(JSON.stringify(quotaExceededProblem(evaluation.decision)));
    return reply.header("Content-Type", PROBLEM_CONTENT_TYPE).send(body);
  });
}
