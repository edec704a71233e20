import { afterEach, describe, expect, it } from "vitest";
import { getDecision, type NodeRateLimitOptions, withRateLimit } from "../../src/http/node.js";
import { RateLimiter } from "../../src/limiter.js";
import type { Decision } from "../../src/types.js";
import {
  decisionOf,
  failingLimiter,
  fakeLimiter,
  listen,
  parseRateLimit,
  type TestServer,
} from "./support.js";

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: NodeRateLimitOptions): Promise<string> {
  const handler = withRateLimit((req, res) => {
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ decision: getDecision(req) ?? null }));
  }, options);
  server = await listen(handler);
  return server.url;
}

/** Creates a logger that records error messages. */
function recordingLogger() {
  const errors: string[] = [];
  return {
    errors,
    warn: () => {},
    error: (message: string) => {
      errors.push(message);
    },
  };
}

describe("node withRateLimit", () => {
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
    const url = await start({ limiter: new RateLimiter({ policy: "1/1m" }) });

    await fetch(url);
    const rejected = await fetch(url);
    const problem = (await rejected.json()) as Record<string, unknown>;

    expect(rejected.headers.get("content-type")).toBe("application/problem+json");
    expect(problem.status).toBe(429);
    expect(problem.title).toBe("Quota Exceeded");
  });

  it("allows the request reaching the limit", async () => {
    const url = await start({
      limiter: new RateLimiter({ policy: { name: "two", limit: 2, window: "1m" } }),
    });

    await fetch(url);
    const last = await fetch(url);
    const over = await fetch(url);

    expect(last.status).toBe(200);
    expect(parseRateLimit(last.headers.get("ratelimit")).parameters.r).toBe(0);
    expect(over.status).toBe(429);
  });

  it("picks a limiter per route", async () => {
    const login = new RateLimiter({ policy: { name: "login", limit: 1, window: "1m" } });
    const url = await start({ limiter: (req) => (req.url === "/login" ? login : undefined) });

    await fetch(`${url}/login`);
    const limited = await fetch(`${url}/login`);
    const open = await fetch(`${url}/`);

    expect(limited.status).toBe(429);
    expect(open.status).toBe(200);
    expect(open.headers.get("ratelimit")).toBeNull();
  });

  it("shows degraded decisions to the app", async () => {
    const url = await start({ limiter: fakeLimiter(decisionOf({ degraded: true })) });

    const response = await fetch(url);
    const { decision } = (await response.json()) as { decision: Decision | null };

    expect(decision?.degraded).toBe(true);
  });

  it("answers 500 when the key function throws", async () => {
    const logger = recordingLogger();
    const url = await start({
      limiter: new RateLimiter({ policy: "10/1m" }),
      logger,
      key: (req) => {
        if (req.url === "/boom") throw new Error("no api key");
        return "fixed";
      },
    });

    const failed = await fetch(`${url}/boom`);
    const problem = (await failed.json()) as Record<string, unknown>;
    const next = await fetch(url);

    expect(failed.status).toBe(500);
    expect(problem.title).toBe("Internal Server Error");
    expect(next.status).toBe(200);
  });

  it("logs repeated failures once", async () => {
    const logger = recordingLogger();
    const url = await start({ limiter: failingLimiter(new Error("limiter broke")), logger });

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(url)).status);

    expect(statuses).toEqual([500, 500, 500]);
    expect(logger.errors).toHaveLength(1);
  });

  it("calls a custom onError", async () => {
    const url = await start({
      limiter: failingLimiter(new Error("limiter broke")),
      onError: (_error, _req, res) => {
        res.statusCode = 503;
        res.end("try later");
      },
    });

    const response = await fetch(url);

    expect(response.status).toBe(503);
  });

  it("rejects a handler that is not a function", () => {
    const limiter = new RateLimiter({ policy: "1/s" });
    expect(() => withRateLimit("handler" as never, { limiter })).toThrow(TypeError);
  });
});
