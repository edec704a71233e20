/**
 * Decision latency while Redis fails: a fixed-rate load through the built limiter with a
 * RedisStore, against one redis-server that this script starts on a free 127.0.0.1 port.
 *
 * Four phases run back to back, each for PHASE_MS at RATE checks per second:
 *   healthy  the server runs normally;
 *   hung     the server is frozen with SIGSTOP, so its TCP connection stays open but
 *            nothing replies;
 *   resumed  the server continues after SIGCONT;
 *   dead     the server is killed with SIGKILL, so connections are refused.
 * For each phase it prints the p50, p90, p99 and max latency of one decision, the share of
 * degraded decisions, and the latest a check was issued behind its schedule. The latency of
 * a decision runs from the `check()` call to its result. The target while hung is a p99 of
 * at most the store deadline + 5 ms.
 *
 * The server is killed at the end, on errors, and on Ctrl-C.
 *
 * Run: npm run build && node bench/redis-hang.mjs
 * Environment: REDIS_SERVER (path of redis-server, default from PATH).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { RateLimiter } from "../dist/index.js";
import { RedisStore } from "../dist/stores/redis/index.js";

const HOST = "127.0.0.1";
const REDIS_SERVER = process.env.REDIS_SERVER ?? "redis-server";
/** Checks started per second, on a fixed schedule. */
const RATE = 2000;
/** Length of each phase, in ms. */
const PHASE_MS = 3000;
/** Store deadline of the limiter, in ms: the library default. */
const DEADLINE_MS = 50;
/** Keys the checks cycle through, so each key gets RATE / KEY_COUNT checks per second. */
const KEY_COUNT = 1000;
/** The ioredis options recommended for a limiter's client. */
const CLIENT_OPTIONS = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 1000,
  socketTimeout: 2000,
  retryStrategy: (attempt) => Math.min(attempt * 50, 500),
};

const keys = Array.from({ length: KEY_COUNT }, (_, i) => `user:${i}`);

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

/** Resolves when a PING on a new connection to `port` gets PONG; rejects after 5 s. */
async function waitForPong(port) {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const replied = await new Promise((resolve) => {
      const socket = connect({ host: HOST, port });
      socket.setTimeout(200, () => socket.destroy());
      socket.once("error", () => resolve(false));
      socket.once("close", () => resolve(false));
      socket.once("connect", () => socket.write("PING\r\n"));
      socket.once("data", (data) => {
        socket.destroy();
        resolve(data.toString().startsWith("+PONG"));
      });
    });
    if (replied) return;
    await sleep(50);
  }
  throw new Error(`redis-server on ${HOST}:${port} did not reply to PING within 5 s`);
}

/** Starts a redis-server with no persistence; returns its process, port and a cleanup. */
async function startServer() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-hang-"));
  const child = spawn(
    REDIS_SERVER,
    ["--port", String(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));

  /** Kills the server whatever state it is in (SIGKILL ends a stopped process too). */
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", kill);
  const cleanup = async () => {
    kill();
    await exited;
    process.removeListener("exit", kill);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForPong(port);
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { child, port, exited, cleanup };
}

/** Returns the value at `quantile` of sorted numbers, by the nearest-rank method. */
function at(sorted, quantile) {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(quantile * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/**
 * Starts RATE checks per second for PHASE_MS on a fixed schedule and waits for all of them.
 * Returns the latency of each decision, how many were degraded, the reasons seen, and the
 * latest a check started behind its scheduled time.
 */
async function runPhase(limiter) {
  const total = (RATE * PHASE_MS) / 1000;
  const latencies = [];
  const reasons = new Map();
  const pending = [];
  let degraded = 0;
  let failures = 0;
  let maxLag = 0;
  let issued = 0;
  const start = performance.now();

  const issue = (index) => {
    const scheduled = start + (index * 1000) / RATE;
    const started = performance.now();
    maxLag = Math.max(maxLag, started - scheduled);
    const check = limiter.check(keys[index % KEY_COUNT]).then(
      (decision) => {
        latencies.push(performance.now() - started);
        if (decision.degraded) degraded++;
        reasons.set(decision.reason, (reasons.get(decision.reason) ?? 0) + 1);
      },
      () => {
        failures++;
      },
    );
    pending.push(check);
  };

  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * RATE) / 1000) + 1);
      while (issued < due) issue(issued++);
      if (issued < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);

  latencies.sort((a, b) => a - b);
  return { latencies, degraded, failures, reasons, maxLag, total };
}

function formatRow(name, result) {
  const { latencies, degraded, failures, reasons, maxLag, total } = result;
  const ms = (value) => value.toFixed(2);
  const reasonList = [...reasons]
    .sort((a, b) => b[1] - a[1])
    .map(([reason, count]) => `${reason} ${count}`)
    .join(", ");
  return `| ${name} | ${total} | ${ms(at(latencies, 0.5))} | ${ms(at(latencies, 0.9))} | ${ms(at(latencies, 0.99))} | ${ms(latencies.at(-1) ?? Number.NaN)} | ${((100 * degraded) / total).toFixed(1)} % | ${failures} | ${ms(maxLag)} | ${reasonList} |`;
}

function machine() {
  const redisVersion = execFileSync(REDIS_SERVER, ["--version"]).toString().trim();
  return [
    `Node ${process.version}, ${redisVersion}`,
    `${availableParallelism()} CPUs (${cpus()[0]?.model ?? "unknown"}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory`,
  ].join("\n");
}

async function main() {
  const server = await startServer();
  const client = new Redis({ ...CLIENT_OPTIONS, host: HOST, port: server.port, lazyConnect: true });
  // Connection errors reach the limiter as rejected commands; the listener keeps ioredis quiet.
  client.on("error", () => {});
  const limiter = new RateLimiter({
    policy: { limit: 100, window: 1000, failureMode: "open" },
    store: new RedisStore({ client, prefix: `bench-hang-${process.pid}` }),
    timeout: DEADLINE_MS,
    logger: { warn: () => {}, error: () => {} },
  });

  try {
    await client.connect();
    for (const key of keys) await limiter.peek(key);

    console.log(machine());
    console.log(
      `\n${RATE} checks/s for ${PHASE_MS} ms per phase over ${KEY_COUNT} keys; store deadline ${DEADLINE_MS} ms; failure mode open; latency in ms\n`,
    );
    console.log(
      "| phase | checks | p50 | p90 | p99 | max | degraded | rejected promises | max issue lag | reasons |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");

    const rows = [];
    rows.push(["healthy", await runPhase(limiter)]);
    console.log(formatRow(...rows.at(-1)));

    server.child.kill("SIGSTOP");
    rows.push(["hung (SIGSTOP)", await runPhase(limiter)]);
    console.log(formatRow(...rows.at(-1)));

    server.child.kill("SIGCONT");
    rows.push(["resumed (SIGCONT)", await runPhase(limiter)]);
    console.log(formatRow(...rows.at(-1)));

    server.child.kill("SIGKILL");
    await server.exited;
    rows.push(["dead (SIGKILL)", await runPhase(limiter)]);
    console.log(formatRow(...rows.at(-1)));

    const hungP99 = at(rows[1][1].latencies, 0.99);
    const verdict = hungP99 <= DEADLINE_MS + 5 ? "met" : "missed";
    console.log(
      `\np99 while hung: ${hungP99.toFixed(2)} ms; target ≤ ${DEADLINE_MS + 5} ms (${verdict})`,
    );
  } finally {
    client.disconnect();
    await limiter.close();
    await server.cleanup();
  }
}

process.once("SIGINT", () => process.exit(130));
await main();
