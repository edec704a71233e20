// A Fastify app whose limits are shared through Redis by every process that runs it, with
// per-route limits in each route's `config.sluice`.
//
// Run (after `npm run build`):
//   REDIS_URL=redis://127.0.0.1:6380 node examples/fastify-app.mjs
// then: curl -i http://127.0.0.1:3000/
//
// REDIS_URL is required. PORT defaults to 3000; the server binds 127.0.0.1 only.

import Fastify from "fastify";
import { Redis } from "ioredis";
import { RateLimiter } from "sluice";
import { getDecision, rateLimit } from "sluice/fastify";
import { RedisStore } from "sluice/redis";

const redisUrl = readRedisUrl(process.env.REDIS_URL);
const port = Number(process.env.PORT || 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a TCP port from 0 to 65535; received ${process.env.PORT}`);
  process.exit(1);
}

// The options a limiter's client wants: fail at once while disconnected, never resend a
// check after a reconnect (it would count twice), and drop a connection that stops replying.
const client = new Redis(redisUrl, {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 1000,
  socketTimeout: 2000,
});
client.on("error", (error) => console.error(`Redis connection error: ${error.message}`));
// Without the offline queue, commands fail until the connection is ready, so connect first.
// If Redis is down, the app still starts and the limiter's failure mode decides.
await client.connect().catch(() => {});
const store = new RedisStore({ client, prefix: "sluice-example" });

// Default for every route: 10 requests a second per client.
const limiter = new RateLimiter({ policy: { name: "default", limit: 10, window: "1s" }, store });

// GET /search: 20 units a minute, and each request costs 1 unit per requested page (?pages=N).
const searchLimiter = new RateLimiter({
  policy: { name: "search", limit: 20, window: "1m" },
  store,
});

/** Reads ?pages=N as a whole number from 1 to 100; anything else counts as 1 page. */
function pagesOf(request) {
  const pages = Number(request.query.pages ?? 1);
  return Number.isInteger(pages) && pages >= 1 && pages <= 100 ? pages : 1;
}

// Behind a reverse proxy, pass `trustProxy: true` so request.ip is the client.
const app = Fastify({ logger: true });
await app.register(rateLimit, { limiter });

app.get("/", async (request) => {
  const decision = getDecision(request);
  return { hello: "world", remaining: decision?.remaining, degraded: decision?.degraded };
});

app.get(
  "/search",
  {
    config: {
      sluice: {
        limiter: searchLimiter,
        cost: (request) => pagesOf(request),
      },
    },
  },
  async (request) => ({ results: [], pages: pagesOf(request) }),
);

app.get("/health", { config: { sluice: false } }, async () => ({ ok: true }));

app.addHook("onClose", async () => {
  await limiter.close();
  await searchLimiter.close();
  await store.close();
  await client.quit();
});

try {
  await app.listen({ port, host: "127.0.0.1" });
} catch (error) {
  console.error(`server failed: ${error.message}`);
  process.exit(1);
}

process.once("SIGINT", () => app.close());
process.once("SIGTERM", () => app.close());

/**
 * Checks that REDIS_URL names its host and port explicitly, so the example never falls back
 * to a client default such as port 6379. Exits with status 1 otherwise.
 */
function readRedisUrl(value) {
  const example = "e.g. REDIS_URL=redis://127.0.0.1:6380";
  if (value === undefined || value === "") {
    console.error(`REDIS_URL is missing: set it to the Redis server to use, ${example}`);
    process.exit(1);
  }

  let url;
  try {
    url = new URL(value);
  } catch {
    console.error(`REDIS_URL is not a valid URL: ${JSON.stringify(value)}; ${example}`);
    process.exit(1);
  }
  if (!["redis:", "rediss:"].includes(url.protocol) || url.hostname === "" || url.port === "") {
    console.error(`REDIS_URL must be redis:// or rediss:// with a host and a port, ${example}`);
    process.exit(1);
  }
  return value;
}
