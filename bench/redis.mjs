/**
 * Redis store benchmark: sluice's RedisStore against rate-limiter-flexible's
 * RateLimiterRedis, on one redis-server that this script starts on a free 127.0.0.1 port
 * and stops at the end.
 *
 * Every run keeps a fixed number of checks in flight over a set of keys for a fixed time and
 * reports decisions per second and the p50 and p99 latency of one check. Each contender
 * runs several times, interleaved with the others, and its median run is reported. Both
 * libraries get the same ioredis client options, first without and then with
 * `enableAutoPipelining`, and a limit that few requests reach. A second part records
 * `MEMORY USAGE` per key for each algorithm. Prints Markdown tables and ratios against
 * rate-limiter-flexible.
 *
 * Run: npm run bench:redis
 * Environment: BENCH_SECONDS (per run, default 5), BENCH_ROUNDS (default 3),
 * BENCH_CONCURRENCY (default 64), BENCH_KEYS (default 10000), REDIS_SERVER (path of
 * redis-server, default from PATH).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { ALGORITHMS, RateLimiter } from "../dist/index.js";
import { RedisStore } from "../dist/stores/redis/index.js";

const HOST = "127.0.0.1";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const KEY_COUNT = Number(process.env.BENCH_KEYS ?? 10_000);
const WARMUP_MS = 1000;
/** Runs per contender, interleaved across contenders; the median run is reported. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Requests per second per key. A key gets about throughput / KEY_COUNT, far below it. */
const LIMIT = 100;
/** Keys written per algorithm for the memory figures. */
const MEMORY_KEYS = 1000;

const keys = Array.from({ length: KEY_COUNT }, (_, i) => `user:${i}`);

/**
 * ioredis options of every client: the ones sluice recommends for a limiter, so that a
 * check abandoned during an outage neither waits in a queue nor runs twice. They change
 * nothing while the server is up.
 */
const CLIENT_OPTIONS = { host: HOST, enableOfflineQueue: false, maxRetriesPerRequest: 0 };

/** Creates a client and waits until it is ready, since it queues nothing before then. */
async function connect(options) {
  const client = new Redis({ ...options, lazyConnect: true });
  await client.connect();
  return client;
}

/** Returns a port that was free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: HOST, port: 0 }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a redis-server with no persistence; returns its port and a stop function. */
async function startServer() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-redis-"));
  const child = spawn(
    process.env.REDIS_SERVER ?? "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      HOST,
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--logfile",
      join(dir, "redis.log"),
    ],
    { stdio: "ignore" },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };

  const probe = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on("error", () => {});
  for (let attempt = 0; ; attempt++) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (error) {
      probe.disconnect();
      if (attempt === 50) {
        await stop();
        let log = "";
        try {
          log = readFileSync(join(dir, "redis.log"), "utf8");
        } catch {}
        throw new Error(`redis-server did not start on ${HOST}:${port}: ${error}\n${log}`);
      }
      await sleep(100);
    }
  }
  const version = /redis_version:(\S+)/.exec(await probe.info("server"))?.[1] ?? "unknown";
  probe.disconnect();
  return { port, version, stop };
}

/**
 * Keeps CONCURRENCY checks in flight for `ms` milliseconds; returns the number of checks
 * and their latencies in ms.
 */
async function drive(check, ms) {
  const latencies = [];
  let next = 0;
  let errors = 0;
  const deadline = performance.now() + ms;

  async function loop() {
    while (performance.now() < deadline) {
      const key = keys[next];
      next = next + 1 === KEY_COUNT ? 0 : next + 1;
      const started = performance.now();
      try {
        await check(key);
      } catch (error) {
        // rate-limiter-flexible rejects a denied request with its result object.
        if (error instanceof Error) errors++;
      }
      latencies.push(performance.now() - started);
    }
  }

  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  const elapsed = performance.now() - started;
  return { count: latencies.length, elapsed, latencies, errors };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

/** Runs one contender once: a warm-up, then the measured run. */
async function measure(name, check) {
  await drive(check, WARMUP_MS);
  const run = await drive(check, SECONDS * 1000);
  if (run.errors > 0) throw new Error(`${name}: ${run.errors} checks failed`);
  const sorted = Float64Array.from(run.latencies).sort();
  return {
    name,
    perSecond: (run.count / run.elapsed) * 1000,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

/** Returns the run with the median decisions per second. */
function median(runs) {
  const sorted = [...runs].sort((a, b) => a.perSecond - b.perSecond);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Options that make every sluice decision come from Redis, as every rate-limiter-flexible
 * decision does: no block cache to decide denied keys in process, and a deadline so long
 * that no decision falls back to a failure mode.
 */
const STORE_ONLY = { blockCacheSize: 0, timeout: 60_000 };

function sluiceContender(client, algorithm, label) {
  const store = new RedisStore({ client, prefix: `bench-${label}-${algorithm}` });
  const limiter = new RateLimiter({
    policy: { limit: LIMIT, window: 1000, algorithm },
    store,
    ...STORE_ONLY,
  });
  return async (key) => {
    const decision = await limiter.check(key);
    if (decision.degraded) throw new Error(`degraded decision: ${decision.reason}`);
  };
}

function flexibleContender(client, label) {
  const limiter = new RateLimiterRedis({
    storeClient: client,
    keyPrefix: `bench-${label}-rlf`,
    points: LIMIT,
    duration: 1,
  });
  return (key) => limiter.consume(key, 1);
}

/**
 * Measures every contender ROUNDS times, interleaved, so a slow spell of a shared machine
 * hits all of them. Each contender keeps its own client for all its rounds.
 */
async function runThroughput(port, autoPipelining) {
  const label = autoPipelining ? "pipelined" : "plain";
  const options = { ...CLIENT_OPTIONS, port, enableAutoPipelining: autoPipelining };
  const algorithms = autoPipelining ? ALGORITHMS : ["fixed-window", "gcra"];

  const contenders = [];
  const flexibleClient = await connect(options);
  contenders.push({
    name: "rate-limiter-flexible",
    client: flexibleClient,
    check: flexibleContender(flexibleClient, label),
  });
  for (const algorithm of algorithms) {
    const client = await connect(options);
    contenders.push({
      name: `sluice ${algorithm}`,
      client,
      check: sluiceContender(client, algorithm, label),
    });
  }

  const runs = new Map(contenders.map((contender) => [contender.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const { name, check } of contenders) runs.get(name).push(await measure(name, check));
  }
  for (const { client } of contenders) client.disconnect();
  return contenders.map(({ name }) => median(runs.get(name)));
}

async function memoryPerKey(port) {
  const client = await connect({ ...CLIENT_OPTIONS, port });
  const rows = [];

  async function average(prefix) {
    const sampled = [];
    let cursor = "0";
    do {
      const [next, batch] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      sampled.push(...batch);
    } while (cursor !== "0");
    const sizes = await Promise.all(
      sampled.map((key) => client.memory("USAGE", key, "SAMPLES", "0")),
    );
    const total = sizes.reduce((sum, size) => sum + Number(size), 0);
    return { keys: sampled.length, bytes: total / sampled.length, example: sampled[0] };
  }

  for (const algorithm of ALGORITHMS) {
    const prefix = `memory-${algorithm}`;
    const store = new RedisStore({ client, prefix });
    const limiter = new RateLimiter({
      policy: { limit: LIMIT, window: 60_000, algorithm },
      store,
      ...STORE_ONLY,
    });
    await Promise.all(keys.slice(0, MEMORY_KEYS).map((key) => limiter.check(key)));
    rows.push({ name: `sluice ${algorithm}`, ...(await average(prefix)) });

    if (algorithm === "sliding-log") {
      // The log grows by one entry per admitted request in a distinct millisecond.
      const logPrefix = "memory-sliding-log-10";
      const logStore = new RedisStore({ client, prefix: logPrefix });
      const logLimiter = new RateLimiter({
        policy: { limit: LIMIT, window: 60_000, algorithm },
        store: logStore,
        ...STORE_ONLY,
      });
      for (let at = 0; at < 10; at++) {
        await Promise.all(keys.slice(0, MEMORY_KEYS).map((key) => logLimiter.check(key, { at })));
      }
      rows.push({ name: "sluice sliding-log, 10 entries", ...(await average(logPrefix)) });
    }
  }

  const flexible = new RateLimiterRedis({
    storeClient: client,
    keyPrefix: "memory-rlf",
    points: LIMIT,
    duration: 60,
  });
  await Promise.all(keys.slice(0, MEMORY_KEYS).map((key) => flexible.consume(key, 1)));
  rows.push({ name: "rate-limiter-flexible", ...(await average("memory-rlf")) });

  client.disconnect();
  return rows;
}

function printThroughput(title, results) {
  const base = results.find((result) => result.name === "rate-limiter-flexible");
  console.log(`\n### ${title}\n`);
  console.log("| contender | decisions/s | p50 ms | p99 ms | × rlf decisions/s | × rlf p99 |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const result of results) {
    console.log(
      `| ${result.name} | ${Math.round(result.perSecond).toLocaleString("en-US")} | ${result.p50.toFixed(3)} | ${result.p99.toFixed(3)} | ${(result.perSecond / base.perSecond).toFixed(2)} | ${(result.p99 / base.p99).toFixed(2)} |`,
    );
  }
}

async function main() {
  const server = await startServer();
  try {
    console.log("## sluice RedisStore vs rate-limiter-flexible RateLimiterRedis\n");
    console.log(
      `- machine: ${availableParallelism()} CPUs, ${cpus()[0]?.model ?? "unknown"}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
    );
    console.log(
      `- Node ${process.version}, Redis ${server.version} (started by this script on ${HOST})`,
    );
    console.log(
      `- ${CONCURRENCY} checks in flight, ${KEY_COUNT} keys in turn, ${SECONDS} s per run after ${WARMUP_MS} ms warm-up, median of ${ROUNDS} interleaved runs, limit ${LIMIT}/s per key`,
    );
    console.log("- command: npm run bench:redis");

    printThroughput("ioredis without auto-pipelining", await runThroughput(server.port, false));
    printThroughput("ioredis with enableAutoPipelining", await runThroughput(server.port, true));

    console.log(`\n### Redis memory per key (MEMORY USAGE, mean of ${MEMORY_KEYS} keys)\n`);
    console.log("| contender | bytes per key | example key |");
    console.log("| --- | ---: | --- |");
    for (const row of await memoryPerKey(server.port)) {
      console.log(`| ${row.name} | ${Math.round(row.bytes)} | \`${row.example}\` |`);
    }
  } finally {
    await server.stop();
  }
}

await main();
