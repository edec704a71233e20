// An Express app whose limits are shared through Redis by every process that runs it.
//
// Run (after `npm run build`):
//   REDIS_URL=redis://127.0.0.1:6380 node examples/express-app.mjs
// then: curl -i http://127.0.0.1:3000/
//
// REDIS_URL is required. PORT defaults to 3000; the server binds 127.0.0.1 only.

import express from "express";
import { Redis } from "ioredis";
import { RateLimiter } from "sluice";
import { getDecision, rateLimit } from "sluice/express";
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

// Every route: 5 requests a second and 60 a minute per client. Both are listed in
// RateLimit-Policy; RateLimit reports the one closest to running out.
const limiter = new RateLimiter({
  policies: [
    { name: "per-second", limit: 5, window: "1s" },
    { name: "per-minute", limit: 60, window: "1m" },
  ],
  store,
});

// POST /login on top: 3 attempts a minute per client address, with legacy headers as well.
const loginLimiter = new RateLimiter({
  policy: { name: "login", limit: 3, window: "1m" },
  store,
});

const app = express();
// Behind a reverse proxy, enable this so req.ip is the client, not the proxy:
// app.set("trust proxy", 1);
app.use(rateLimit({ limiter }));

app.get("/", (req, res) => {
  const decision = getDecision(req);
  res.json({
    hello: "world",
    remaining: decision?.remaining,
    degraded: decision?.degraded,
  });
});

app.post("/login", rateLimit({ limiter: loginLimiter, headers: "both" }), (_req, res) => {
  res.json({ loggedIn: false, reason: "this example has no users" });
});

const server = app.listen(port, "127.0.0.1");
server.on("listening", () => {
  const { port: bound } = server.address();
  console.log(`listening on http://127.0.0.1:${bound}`);
});
server.on("error", (error) => {
  console.error(`server failed: ${error.message}`);
  process.exit(1);
});

async function shutdown() {
  server.close();
  await limiter.close();
  await loginLimiter.close();
  await store.close();
  await client.quit();
}
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);

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
