import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { type FastifyRateLimitOptions, getDecision, rateLimit } from "../../src/http/fastify.js";
import { RateLimiter } from "../../src/limiter.js";
import type { Decision } from "../../src/types.js";
import { decisionOf, failingLimiter, fakeLimiter, parseRateLimit } from "./support.js";

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Builds an app with the plugin; `routes` adds routes after registration. */
async function start(
  options: FastifyRateLimitOptions,
  routes: (app: FastifyInstance) => void = () => {},
): Promise<string> {
  app = Fastify();
  await app.register(rateLimit, options);
  app.get("/", async (request) => ({ decision: getDecision(request) ?? null }));
  routes(app);
  return app.listen({ port: 0, host: "127.0.0.1" });
}

function limit(name: string, count: number): RateLimiter {
  return new RateLimiter({ policy: { name, limit: count, window: "1m" } });
}

describe("fastify rateLimit", () => {
  it("rounds Retry-After up to 2 s", async () => {
    const limiter = new RateLimiter({
      policy: { name: "slow", limit: 1, window: 1500, algorithm: "token-bucket" },
    });
    const url = await start({ limiter });

    const first = await fetch(url);
    const second = await fetch(url);

    expect(first.status).toBe(200);
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("2");
    expect(parseRateLimit(second.headers.get("ratelimit")).parameters).toEqual({ r: 0, t: 2 });
  });

  it("sends a problem details body", async () => {
    const url = await start({ limiter: limit("tight", 1) });

    await fetch(url);
    const rejected = await fetch(url);
    const problem = (await rejected.json()) as Record<string, unknown>;

    expect(rejected.headers.get("content-type")).toBe("application/problem+json");
    expect(problem.status).toBe(429);
    expect(problem["violated-policies"]).toEqual(["tight"]);
  });

  it("applies per-route policies", async () => {
    const url = await start({ limiter: limit("global", 3) }, (app) => {
      app.get("/search", { config: { sluice: { limiter: limit("search", 1) } } }, async () => "ok");
      app.get("/health", { config: { sluice: false } }, async () => "ok");
    });

    const search = [await fetch(`${url}/search`), await fetch(`${url}/search`)];
    const root = await fetch(url);
    const health = [];
    for (let i = 0; i < 5; i++) health.push(await fetch(`${url}/health`));

    expect(search.map((r) => r.status)).toEqual([200, 429]);
    expect(parseRateLimit(search[0]?.headers.get("ratelimit") ?? null).value).toBe("search");
    expect(parseRateLimit(root.headers.get("ratelimit")).value).toBe("global");
    expect(health.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(health[0]?.headers.get("ratelimit")).toBeNull();
  });

  it("merges route options over plugin options", async () => {
    const limiter = fakeLimiter(decisionOf());
    const url = await start({ limiter, key: () => "plugin-key" }, (app) => {
      app.get("/heavy", { config: { sluice: { cost: () => 4 } } }, async () => "ok");
    });

    await fetch(`${url}/heavy`);

    expect(limiter.calls).toEqual([{ key: "plugin-key", cost: 4 }]);
  });

  it("limits only configured routes when not global", async () => {
    const url = await start({ global: false, limiter: limit("shared", 1) }, (app) => {
      app.get("/limited", { config: { sluice: {} } }, async () => "ok");
    });

    const open = [await fetch(url), await fetch(url)];
    const limited = [await fetch(`${url}/limited`), await fetch(`${url}/limited`)];

    expect(open.map((r) => r.status)).toEqual([200, 200]);
    expect(limited.map((r) => r.status)).toEqual([200, 429]);
  });

  it("rejects invalid route config at registration", async () => {
    app = Fastify();
    await app.register(rateLimit, { limiter: limit("global", 3) });
    const fastify = app;

    expect(() =>
      fastify.get("/bad", { config: { sluice: { headers: "draft-7" as "none" } } }, async () => ""),
    ).toThrow(/route config\.sluice\.headers must be one of/);
  });

  it("rejects a non-object route config", async () => {
    app = Fastify();
    await app.register(rateLimit, { limiter: limit("global", 3) });
    const fastify = app;

    expect(() =>
      fastify.get("/bad", { config: { sluice: true as unknown as false } }, async () => ""),
    ).toThrow(/route config\.sluice must be an options object or false; received true/);
  });

  it("rejects invalid plugin options", async () => {
    app = Fastify();
    await expect(
      app.register(rateLimit, { limiter: limit("x", 1), hook: "onSend" as "onRequest" }),
    ).rejects.toThrow(/options\.hook must be/);
  });

  it("keys by request.user id by default", async () => {
    const limiter = fakeLimiter(decisionOf());
    app = Fastify();
    app.addHook("onRequest", async (request) => {
      Object.assign(request, { user: { id: 7 } });
    });
    await app.register(rateLimit, { limiter });
    app.get("/", async () => "ok");
    const url = await app.listen({ port: 0, host: "127.0.0.1" });

    await fetch(url);

    expect(limiter.calls).toEqual([{ key: "user:7", cost: 1 }]);
  });

  it("reads the body in preHandler", async () => {
    const limiter = fakeLimiter(decisionOf());
    const url = await start(
      {
        limiter,
        hook: "preHandler",
        cost: (request) => (request.body as { items: unknown[] }).items.length,
      },
      (app) => app.post("/batch", async () => "ok"),
    );

    await fetch(`${url}/batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ items: [1, 2, 3] }),
    });

    expect(limiter.calls.map((call) => call.cost)).toEqual([3]);
  });

  it("shows degraded decisions to the app", async () => {
    const url = await start({ limiter: fakeLimiter(decisionOf({ degraded: true })) });

    const response = await fetch(url);
    const { decision } = (await response.json()) as { decision: Decision | null };

    expect(decision?.degraded).toBe(true);
  });

  it("replaces the body with onLimited", async () => {
    const url = await start({
      limiter: limit("one", 1),
      onLimited: async (_request, reply, decision) => {
        await reply.send({ message: "slow down", policy: decision.policy });
      },
    });

    await fetch(url);
    const rejected = await fetch(url);

    expect(rejected.status).toBe(429);
    expect(await rejected.json()).toEqual({ message: "slow down", policy: "one" });
  });

  it("answers 500 when the key function throws", async () => {
    const url = await start({
      limiter: limit("k", 10),
      key: (request) => {
        if (request.url === "/boom") throw new Error("no api key");
        return "fixed";
      },
    });

    const failed = await fetch(`${url}/boom`);
    const next = await fetch(url);

    expect(failed.status).toBe(500);
    expect(next.status).toBe(200);
  });

  it("answers 500 when check rejects", async () => {
    const url = await start({ limiter: failingLimiter(new Error("limiter broke")) });

    const response = await fetch(url);

    expect(response.status).toBe(500);
  });

  it("limits unknown routes too", async () => {
    const url = await start({ limiter: limit("scan", 1) });

    await fetch(`${url}/missing`);
    const second = await fetch(`${url}/missing-too`);

    expect(second.status).toBe(429);
  });
});
