import express, { type RequestHandler } from "express";
import { afterEach, describe, expect, it } from "vitest";
import { type ExpressRateLimitOptions, getDecision, rateLimit } from "../../src/http/express.js";
import { QUOTA_EXCEEDED_TYPE } from "../../src/http/problem.js";
import { RateLimiter } from "../../src/limiter.js";
import type { Decision } from "../../src/types.js";
import {
  decisionOf,
  failingLimiter,
  fakeLimiter,
  listen,
  parseRateLimit,
  parseStringItemList,
  type TestServer,
} from "./support.js";

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Starts an Express app with the middleware in front of `GET /` and `GET /other`. */
async function start(
  options: ExpressRateLimitOptions,
  before: RequestHandler[] = [],
): Promise<string> {
  const app = express();
  app.use(...before, rateLimit(options));
  const echo: RequestHandler = (req, res) => {
    res.json({ decision: getDecision(req) ?? null });
  };
  app.get("/", echo);
  app.get("/other", echo);
  server = await listen(app);
  return server.url;
}

function limit(name: string, count: number): RateLimiter {
  return new RateLimiter({ policy: { name, limit: count, window: "1m" } });
}

async function body(response: Response): Promise<{ decision: Decision | null }> {
  return (await response.json()) as { decision: Decision | null };
}

describe("express rateLimit", () => {
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
    expect(parseRateLimit(second.headers.get("ratelimit"))).toEqual({
      value: "slow",
      parameters: { r: 0, t: 2 },
    });
  });

  it("allows the request reaching the limit", async () => {
    const limiter = new RateLimiter({
      policy: { name: "three", limit: 3, window: "1m", algorithm: "fixed-window" },
    });
    const url = await start({ limiter });

    const responses = [await fetch(url), await fetch(url), await fetch(url)];
    const over = await fetch(url);

    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(responses.map((r) => parseRateLimit(r.headers.get("ratelimit")).parameters.r)).toEqual([
      2, 1, 0,
    ]);
    expect(over.status).toBe(429);
  });

  it("matches headers to the decision", async () => {
    const limiter = new RateLimiter({ policy: { name: "minute", limit: 5, window: "1m" } });
    const url = await start({ limiter, headers: "both" });

    const before = Date.now();
    const response = await fetch(url);
    const after = Date.now();
    const { decision } = await body(response);
    const rateLimitItem = parseRateLimit(response.headers.get("ratelimit"));
    const resetAt = decision?.resetAt ?? 0;

    expect(decision?.remaining).toBe(4);
    expect(rateLimitItem.value).toBe(decision?.policy);
    expect(rateLimitItem.parameters.r).toBe(decision?.remaining);
    // The server stamps t between `before` and `after`.
    expect(rateLimitItem.parameters.t).toBeGreaterThanOrEqual(Math.ceil((resetAt - after) / 1000));
    expect(rateLimitItem.parameters.t).toBeLessThanOrEqual(Math.ceil((resetAt - before) / 1000));
    expect(response.headers.get("x-ratelimit-limit")).toBe(String(decision?.limit));
    expect(response.headers.get("x-ratelimit-remaining")).toBe(String(decision?.remaining));
    expect(response.headers.get("x-ratelimit-reset")).toBe(
      String(Math.ceil((decision?.resetAt ?? 0) / 1000)),
    );
  });

  it("lists every policy", async () => {
    const limiter = new RateLimiter({
      policies: [
        { name: "per-second", limit: 2, window: "1s" },
        { name: "per-hour", limit: 1000, window: "1h" },
      ],
    });
    const url = await start({ limiter });

    const response = await fetch(url);

    expect(parseStringItemList(response.headers.get("ratelimit-policy") ?? "")).toEqual([
      { value: "per-second", parameters: { q: 2, w: 1 } },
      { value: "per-hour", parameters: { q: 1000, w: 3600 } },
    ]);
    expect(parseRateLimit(response.headers.get("ratelimit")).value).toBe("per-second");
  });

  it("lists stacked limiters together", async () => {
    const app = express();
    app.use(rateLimit({ limiter: limit("global", 10) }));
    app.post("/login", rateLimit({ limiter: limit("login", 3) }), (_req, res) => {
      res.end("ok");
    });
    server = await listen(app);

    const response = await fetch(`${server.url}/login`, { method: "POST" });
    const policies = parseStringItemList(response.headers.get("ratelimit-policy") ?? "");
    const limits = parseStringItemList(response.headers.get("ratelimit") ?? "");

    expect(policies.map((item) => item.value)).toEqual(["global", "login"]);
    expect(limits.map((item) => item.value)).toEqual(["global", "login"]);
  });

  it("sends legacy headers only", async () => {
    const limiter = new RateLimiter({ policy: "10/1m" });
    const url = await start({ limiter, headers: "legacy" });

    const response = await fetch(url);

    expect(response.headers.get("x-ratelimit-limit")).toBe("10");
    expect(response.headers.get("x-ratelimit-remaining")).toBe("9");
    expect(response.headers.get("ratelimit")).toBeNull();
    expect(response.headers.get("ratelimit-policy")).toBeNull();
  });

  it("keeps Retry-After with headers none", async () => {
    const limiter = new RateLimiter({ policy: "1/1m" });
    const url = await start({ limiter, headers: "none" });

    const allowed = await fetch(url);
    const rejected = await fetch(url);

    expect(allowed.headers.get("ratelimit")).toBeNull();
    expect(rejected.headers.get("ratelimit")).toBeNull();
    expect(rejected.headers.get("x-ratelimit-limit")).toBeNull();
    expect(Number(rejected.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("omits headers on allowed responses", async () => {
    const limiter = new RateLimiter({ policy: "1/1m" });
    const url = await start({ limiter, headersWhenAllowed: false });

    const allowed = await fetch(url);
    const rejected = await fetch(url);

    expect(allowed.headers.get("ratelimit")).toBeNull();
    expect(rejected.headers.get("ratelimit")).not.toBeNull();
  });

  it("sends a problem details body", async () => {
    const limiter = new RateLimiter({ policy: { name: "tight", limit: 1, window: "1m" } });
    const url = await start({ limiter });

    await fetch(url);
    const rejected = await fetch(url);
    const problem = (await rejected.json()) as Record<string, unknown>;

    expect(rejected.headers.get("content-type")).toBe("application/problem+json");
    expect(problem.type).toBe(QUOTA_EXCEEDED_TYPE);
    expect(problem.title).toBe("Quota Exceeded");
    expect(problem.status).toBe(429);
    expect(problem.detail).toMatch(/retry in \d+ seconds?/);
    expect(problem["violated-policies"]).toEqual(["tight"]);
  });

  it("never writes the key", async () => {
    const secret = "secret-api-key-7f3a";
    const limiter = new RateLimiter({ policy: "1/1m" });
    const url = await start({ limiter, headers: "both", key: () => secret });

    await fetch(url);
    const rejected = await fetch(url);
    const text = await rejected.text();

    expect([...rejected.headers.values()].some((value) => value.includes(secret))).toBe(false);
    expect(text.includes(secret)).toBe(false);
  });

  it("counts under a custom key", async () => {
    const limiter = new RateLimiter({ policy: "1/1m" });
    const url = await start({ limiter, key: (req) => String(req.headers["x-api-key"]) });

    const a = await fetch(url, { headers: { "x-api-key": "a" } });
    const b = await fetch(url, { headers: { "x-api-key": "b" } });
    const again = await fetch(url, { headers: { "x-api-key": "a" } });

    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(again.status).toBe(429);
  });

  it("charges a custom cost", async () => {
    const limiter = new RateLimiter({ policy: { name: "units", limit: 3, window: "1m" } });
    const url = await start({ limiter, cost: () => 2 });

    const first = await fetch(url);
    const second = await fetch(url);

    expect(parseRateLimit(first.headers.get("ratelimit")).parameters.r).toBe(1);
    expect(second.status).toBe(429);
  });

  it("rejects cost above capacity without Retry-After", async () => {
    const limiter = new RateLimiter({ policy: { name: "small", limit: 3, window: "1m" } });
    const url = await start({ limiter, cost: () => 5 });

    const response = await fetch(url);
    const problem = (await response.json()) as { detail: string };

    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBeNull();
    expect(problem.detail).toMatch(/retrying will not help/);
  });

  it("skips requests", async () => {
    const limiter = new RateLimiter({ policy: "1/1m" });
    const url = await start({ limiter, skip: (req) => req.path === "/other" });

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${url}/other`)).status);
    const skipped = await fetch(`${url}/other`);

    expect(statuses).toEqual([200, 200, 200]);
    expect(skipped.headers.get("ratelimit")).toBeNull();
    expect((await body(skipped)).decision).toBeNull();
  });

  it("never limits an allow-listed address", async () => {
    const limiter = new RateLimiter({ policy: "1/1m" });
    const url = await start({ limiter, allow: ["127.0.0.0/8"] });

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(url)).status);

    expect(statuses).toEqual([200, 200, 200]);
  });

  it("never limits an allow-listed key", async () => {
    const limiter = new RateLimiter({ policy: "1/1m" });
    const url = await start({
      limiter,
      allow: ["vip"],
      key: (req) => String(req.headers["x-api-key"]),
    });

    const vip = [];
    for (let i = 0; i < 3; i++) {
      vip.push((await fetch(url, { headers: { "x-api-key": "vip" } })).status);
    }
    await fetch(url, { headers: { "x-api-key": "other" } });
    const other = await fetch(url, { headers: { "x-api-key": "other" } });

    expect(vip).toEqual([200, 200, 200]);
    expect(other.status).toBe(429);
  });

  it("keys by user id by default", async () => {
    const limiter = new RateLimiter({ policy: "1/1m" });
    const authenticate: RequestHandler = (req, _res, next) => {
      Object.assign(req, { user: { id: req.headers["x-user"] } });
      next();
    };
    const url = await start({ limiter }, [authenticate]);

    const alice = await fetch(url, { headers: { "x-user": "alice" } });
    const bob = await fetch(url, { headers: { "x-user": "bob" } });
    const aliceAgain = await fetch(url, { headers: { "x-user": "alice" } });

    expect(alice.status).toBe(200);
    expect(bob.status).toBe(200);
    expect(aliceAgain.status).toBe(429);
  });

  it("keys by client address by default", async () => {
    const limiter = fakeLimiter(decisionOf());
    const url = await start({ limiter });

    await fetch(url);

    expect(limiter.calls).toEqual([{ key: "ip:127.0.0.1", cost: 1 }]);
  });

  it.each([
    ["2001:db8:1:2:aaaa:bbbb:cccc:dddd", "ip:2001:db8:1:2::/64"],
    ["::ffff:203.0.113.9", "ip:203.0.113.9"],
    ["198.51.100.4", "ip:198.51.100.4"],
  ])("keys forwarded %s as %s", async (forwarded, key) => {
    const limiter = fakeLimiter(decisionOf());
    const app = express();
    app.set("trust proxy", "loopback");
    app.use(rateLimit({ limiter }));
    app.get("/", (_req, res) => {
      res.end("ok");
    });
    server = await listen(app);

    await fetch(server.url, { headers: { "x-forwarded-for": forwarded } });

    expect(limiter.calls).toEqual([{ key, cost: 1 }]);
  });

  it("replaces the body with onLimited", async () => {
    const limiter = new RateLimiter({ policy: "1/1m" });
    const url = await start({
      limiter,
      onLimited: (_req, res, decision) => {
        res.json({ message: "slow down", policy: decision.policy });
      },
    });

    await fetch(url);
    const rejected = await fetch(url);

    expect(rejected.status).toBe(429);
    expect(rejected.headers.get("retry-after")).not.toBeNull();
    expect(await rejected.json()).toEqual({
      message: "slow down",
      policy: limiter.policies[0]?.name,
    });
  });

  it("shows degraded decisions to the app", async () => {
    const degraded = decisionOf({ degraded: true, reason: "store-timeout" });
    const url = await start({ limiter: fakeLimiter(degraded) });

    const response = await fetch(url);

    expect((await body(response)).decision?.degraded).toBe(true);
    expect(response.headers.get("ratelimit")).not.toBeNull();
  });

  it("omits headers on degraded decisions", async () => {
    const degraded = decisionOf({ degraded: true, reason: "store-error" });
    const url = await start({ limiter: fakeLimiter(degraded), degradedHeaders: false });

    const response = await fetch(url);

    expect(response.status).toBe(200);
    expect(response.headers.get("ratelimit")).toBeNull();
    expect(response.headers.get("ratelimit-policy")).toBeNull();
  });

  it("keeps Retry-After on a degraded rejection", async () => {
    const degraded = decisionOf({
      allowed: false,
      remaining: 0,
      retryAfter: 0,
      degraded: true,
      reason: "store-unavailable",
    });
    const url = await start({ limiter: fakeLimiter(degraded), degradedHeaders: false });

    const response = await fetch(url);

    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(response.headers.get("ratelimit")).toBeNull();
  });

  it("answers 500 when the key function throws", async () => {
    const limiter = new RateLimiter({ policy: "10/1m" });
    const url = await start({
      limiter,
      key: (req) => {
        if (req.path === "/other") throw new Error("no api key");
        return "fixed";
      },
    });

    const failed = await fetch(`${url}/other`);
    const next = await fetch(url);

    expect(failed.status).toBe(500);
    expect(next.status).toBe(200);
  });

  it("answers 500 when check rejects", async () => {
    const url = await start({ limiter: failingLimiter(new Error("limiter broke")) });

    const response = await fetch(url);

    expect(response.status).toBe(500);
  });

  it("picks a limiter per request", async () => {
    const strict = new RateLimiter({ policy: { name: "strict", limit: 1, window: "1m" } });
    const loose = new RateLimiter({ policy: { name: "loose", limit: 100, window: "1m" } });
    const url = await start({ limiter: (req) => (req.path === "/other" ? strict : loose) });

    await fetch(`${url}/other`);
    const strictResponse = await fetch(`${url}/other`);
    const looseResponse = await fetch(url);

    expect(strictResponse.status).toBe(429);
    expect(parseRateLimit(looseResponse.headers.get("ratelimit")).value).toBe("loose");
  });

  it("validates options at construction", () => {
    expect(() =>
      rateLimit({ limiter: new RateLimiter({ policy: "1/s" }), headers: "x" as "none" }),
    ).toThrow(TypeError);
  });
});
