import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis, RedisOptions } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/limiter.js";
import type { PolicyInput } from "../../src/policy/policy.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { CONSUME_SCRIPT } from "../../src/stores/redis/scripts.generated.js";
import type { FailureMode } from "../../src/types.js";
import { type RedisServer, redisCommand, startRedis } from "../support/redis-servers.js";
import {
  concurrentChecks,
  expectAllDegraded,
  expectExactLimit,
  expectWithinDeadline,
  LIMITER_CLIENT_OPTIONS,
  msUntilExact,
  pendingCommands,
  RECOVERY_BUDGET,
  reasonsOf,
  recordingLogger,
  reportLatency,
  reportRecovery,
  sequentialChecks,
  startLoad,
  type TimedDecision,
  timedCheck,
  watchUnhandledRejections,
} from "./fault-support.js";

/** Store deadline of every limiter here, in ms. */
const DEADLINE = 100;

const servers: RedisServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function startServer(): Promise<RedisServer> {
  const server = await startRedis();
  servers.push(server);
  return server;
}

/** Creates and connects a client with the recommended options unless `options` replaces them. */
async function connectedClient(
  server: RedisServer,
  options: RedisOptions = LIMITER_CLIENT_OPTIONS,
): Promise<Redis> {
  const client = server.client(options);
  await client.connect();
  return client;
}

let prefixCount = 0;

function limiterOn(
  client: Redis,
  failureMode: FailureMode,
  extra: Partial<ConstructorParameters<typeof RateLimiter>[0]> = {},
): RateLimiter {
  prefixCount++;
  const policy: PolicyInput = { limit: 3, window: 60_000, failureMode };
  return new RateLimiter({
    policy,
    store: new RedisStore({ client, prefix: `faults-${process.pid}-${prefixCount}` }),
    timeout: DEADLINE,
    logger: recordingLogger(),
    ...extra,
  });
}

function allowedOf(results: readonly TimedDecision[]): boolean[] {
  return results.map((result) => result.decision.allowed);
}

describe("RedisStore on a hung server", () => {
  it("sequential checks cost one deadline", async () => {
    const server = await startServer();
    const client = await connectedClient(server);
    const limiter = limiterOn(client, "open");
    await limiter.check("warm-up");
    const unhandled = watchUnhandledRejections();

    server.pause();
    const results = await sequentialChecks(limiter, "u1", 20);

    reportLatency("hung, 20 sequential", results);
    expectWithinDeadline(results, DEADLINE);
    expectAllDegraded(results);
    expect(allowedOf(results).every(Boolean)).toBe(true);
    expect(results.slice(0, 5).map((result) => result.decision.reason)).toEqual(
      Array(5).fill("store-timeout"),
    );
    expect(reasonsOf(results.slice(5))).toEqual(["store-unavailable"]);
    expect(await unhandled.stop()).toEqual([]);
  });

  it("concurrent checks stay bounded", async () => {
    const server = await startServer();
    const client = await connectedClient(server);
    const limiter = limiterOn(client, "open");
    await limiter.check("warm-up");
    const unhandled = watchUnhandledRejections();
    const keys = Array.from({ length: 50 }, (_, i) => `c${i}`);

    server.pause();
    const first = await concurrentChecks(limiter, keys, 200);
    const pendingAfterFirst = pendingCommands(client);
    const second = await concurrentChecks(limiter, keys, 200);
    const pendingAfterSecond = pendingCommands(client);

    reportLatency("hung, 200 concurrent, circuit closed", first);
    reportLatency("hung, 200 concurrent, circuit open", second);
    expectWithinDeadline([...first, ...second], DEADLINE);
    expectAllDegraded([...first, ...second]);
    expect(allowedOf([...first, ...second]).every(Boolean)).toBe(true);
    expect(reasonsOf(first)).toEqual(["store-timeout"]);
    expect(reasonsOf(second)).toEqual(["store-unavailable"]);
    expect(pendingAfterFirst).toBeGreaterThan(0);
    expect(pendingAfterFirst).toBeLessThanOrEqual(200);
    expect(pendingAfterSecond).toBe(pendingAfterFirst);
    expect(await unhandled.stop()).toEqual([]);
  });

  it("resume restores exact limits", async () => {
    const server = await startServer();
    const client = await connectedClient(server);
    const limiter = limiterOn(client, "open");
    await limiter.check("warm-up");
    const unhandled = watchUnhandledRejections();

    server.pause();
    const sequential = await sequentialChecks(limiter, "u1", 20);
    const pendingBefore = pendingCommands(client);
    const concurrent = await concurrentChecks(limiter, ["u2", "u3"], 200);
    const pendingAfter = pendingCommands(client);
    server.resume();
    const waited = await msUntilExact(limiter, "probe");
    reportRecovery("hung, resumed", waited);

    reportLatency("hung then resumed, 20 sequential", sequential);
    reportLatency("hung then resumed, 200 concurrent", concurrent);
    expectWithinDeadline([...sequential, ...concurrent], DEADLINE);
    expectAllDegraded([...sequential, ...concurrent]);
    expect(allowedOf([...sequential, ...concurrent]).every(Boolean)).toBe(true);
    // The open circuit keeps the 200 checks off the hung connection, but for one probe.
    expect(pendingAfter - pendingBefore).toBeLessThanOrEqual(1);
    expect(waited).toBeLessThanOrEqual(RECOVERY_BUDGET);
    await expectExactLimit(limiter, "fresh");
    expect(await unhandled.stop()).toEqual([]);
  });
});

describe("RedisStore with the port closed", () => {
  it("refused connection fails faster than the deadline", async () => {
    const server = await startServer();
    const client = await connectedClient(server);
    const limiter = limiterOn(client, "open");
    await limiter.check("warm-up");
    const unhandled = watchUnhandledRejections();

    await server.kill();
    const sequential = await sequentialChecks(limiter, "u1", 20);
    const concurrent = await concurrentChecks(limiter, ["u2", "u3"], 200);

    reportLatency("refused, 20 sequential", sequential);
    reportLatency("refused, 200 concurrent", concurrent);
    expect(Math.max(...sequential.map((result) => result.ms))).toBeLessThan(DEADLINE);
    expectWithinDeadline(concurrent, DEADLINE);
    expectAllDegraded([...sequential, ...concurrent]);
    expect(allowedOf([...sequential, ...concurrent]).every(Boolean)).toBe(true);
    expect(sequential[0]?.decision.reason).toBe("store-error");
    expect(await unhandled.stop()).toEqual([]);
  });

  it("reopened port restores exact limits", async () => {
    const server = await startServer();
    const client = await connectedClient(server);
    const limiter = limiterOn(client, "open");
    await limiter.check("warm-up");

    await server.kill();
    await sequentialChecks(limiter, "u1", 10);
    await sleep(300);
    await server.start();
    const waited = await msUntilExact(limiter, "probe");
    reportRecovery("refused, port reopened", waited);

    expect(waited).toBeLessThanOrEqual(RECOVERY_BUDGET);
    await expectExactLimit(limiter, "fresh");
  });

  it("server down at start-up degrades", async () => {
    const server = await startServer();
    await server.kill();
    const client = server.client(LIMITER_CLIENT_OPTIONS);
    const limiter = limiterOn(client, "open");
    const unhandled = watchUnhandledRejections();

    const results = await sequentialChecks(limiter, "u1", 20);
    await server.start();
    const waited = await msUntilExact(limiter, "probe");
    reportRecovery("refused from start-up, server started", waited);

    reportLatency("refused from start-up, 20 sequential", results);
    expectWithinDeadline(results, DEADLINE);
    expectAllDegraded(results);
    expect(waited).toBeLessThanOrEqual(RECOVERY_BUDGET);
    await expectExactLimit(limiter, "fresh");
    expect(await unhandled.stop()).toEqual([]);
  });
});

/** Share of each limit the `local` failure mode keeps: 1000 × 0.01 = 10 per key. */
const LOCAL_SHARE = 0.01;

describe("RedisStore killed mid-run", () => {
  it.each(["open", "closed", "local"] as const)(
    "%s mode decides while the server is dead",
    async (failureMode) => {
      const server = await startServer();
      const client = await connectedClient(server);
      prefixCount++;
      const load = new RateLimiter({
        policy: { limit: 1000, window: 60_000, failureMode },
        store: new RedisStore({ client, prefix: `faults-load-${process.pid}-${prefixCount}` }),
        timeout: DEADLINE,
        localShare: LOCAL_SHARE,
        logger: recordingLogger(),
      });
      const exact = limiterOn(client, failureMode);
      const unhandled = watchUnhandledRejections();

      const running = startLoad(load, 4);
      running.phase("healthy");
      await sleep(200);
      running.phase("killing");
      await server.kill();
      running.phase("dead");
      await sleep(500);
      running.phase("recovering");
      await server.start();
      const waited = await msUntilExact(load, "probe");
      reportRecovery(`killed mid-run, ${failureMode}, restarted`, waited);
      const { results, errors } = await running.stop();
      const dead = results.filter((result) => result.phase === "dead");

      reportLatency(`killed mid-run, ${failureMode}, all`, results);
      reportLatency(`killed mid-run, ${failureMode}, dead`, dead);
      expect(errors).toEqual([]);
      expectWithinDeadline(results, DEADLINE);
      // A check in flight when the server dies fails, so only checks that finished before the
      // kill must be exact.
      expect(results.filter((r) => r.finishedIn === "healthy" && r.decision.degraded)).toEqual([]);
      expect(dead.length).toBeGreaterThan(40);
      expectAllDegraded(dead);
      expect(waited).toBeLessThanOrEqual(RECOVERY_BUDGET);
      await expectExactLimit(exact, "fresh");
      expect(await unhandled.stop()).toEqual([]);

      if (failureMode === "open") {
        expect(dead.filter((result) => !result.decision.allowed)).toEqual([]);
      } else if (failureMode === "closed") {
        expect(dead.filter((result) => result.decision.allowed)).toEqual([]);
        expect(Math.min(...dead.map((result) => result.decision.retryAfter))).toBe(1000);
      } else {
        for (const key of ["w0", "w1", "w2", "w3"]) {
          const allowed = dead.filter((r) => r.key === key && r.decision.allowed).length;
          const rejected = dead.filter((r) => r.key === key && !r.decision.allowed).length;
          expect(allowed, key).toBeLessThanOrEqual(1000 * LOCAL_SHARE);
          expect(rejected, key).toBeGreaterThan(0);
        }
      }
    },
  );
});

describe("RedisStore restarted", () => {
  it("restart loses state and scripts, not exactness", async () => {
    const server = await startServer();
    const client = await connectedClient(server);
    const limiter = limiterOn(client, "open");
    const sha = createHash("sha1").update(CONSUME_SCRIPT).digest("hex");
    const unhandled = watchUnhandledRejections();
    const before = await sequentialChecks(limiter, "u1", 4);

    const running = startLoad(limiter, 2);
    await server.restart();
    const cachedAfterRestart = await redisCommand(server.port, ["SCRIPT", "EXISTS", sha]);
    const waited = await msUntilExact(limiter, "probe");
    reportRecovery("graceful restart", waited);
    const { results, errors } = await running.stop();

    reportLatency("restart, load", results);
    expect(allowedOf(before)).toEqual([true, true, true, false]);
    expect(cachedAfterRestart).toEqual([0]);
    expect(errors).toEqual([]);
    expectWithinDeadline(results, DEADLINE);
    expect(waited).toBeLessThanOrEqual(RECOVERY_BUDGET);
    await expectExactLimit(limiter, "fresh");
    expect(await redisCommand(server.port, ["SCRIPT", "EXISTS", sha])).toEqual([1]);
    expect((await limiter.peek("u1")).remaining).toBe(2);
    expect((await limiter.check("u1")).reason).toBe("blocked");
    expect(await unhandled.stop()).toEqual([]);
  });
});

describe("RedisStore failure log", () => {
  it("logs once per interval with a count", async () => {
    const server = await startServer();
    const client = await connectedClient(server);
    const logger = recordingLogger();
    const limiter = limiterOn(client, "open", {
      logger,
      errorLogInterval: 250,
      circuitBreaker: { failureThreshold: 1_000_000 },
    });
    await limiter.check("warm-up");

    await server.kill();
    const started = performance.now();
    const results: TimedDecision[] = [];
    while (performance.now() - started < 1000) {
      results.push(await timedCheck(limiter, `u${results.length}`));
      await sleep(5);
    }
    const counts = logger.errors.map(([, details]) => details?.count);

    expect(reasonsOf(results)).toEqual(["store-error"]);
    expect(logger.errors.length).toBeGreaterThanOrEqual(3);
    expect(logger.errors.length).toBeLessThanOrEqual(5);
    expect(counts[0]).toBe(1);
    expect(counts.slice(1).every((count) => typeof count === "number" && count > 1)).toBe(true);
    expect(counts.reduce((sum: number, count) => sum + Number(count), 0)).toBeLessThanOrEqual(
      results.length,
    );
    expect(logger.errors.map(([, details]) => details?.code)).toEqual(
      Array(logger.errors.length).fill("store-error"),
    );
  });

  it("timeouts log their own code", async () => {
    const server = await startServer();
    const client = await connectedClient(server);
    const logger = recordingLogger();
    const limiter = limiterOn(client, "closed", { logger });
    await limiter.check("warm-up");

    server.pause();
    const results = await sequentialChecks(limiter, "u1", 10);

    expect(results.filter((result) => result.decision.allowed)).toEqual([]);
    expect(logger.errors).toHaveLength(1);
    expect(logger.errors[0]?.[1]?.code).toBe("store-timeout");
  });
});

describe("limiter client options", () => {
  it.each([
    { options: "recommended", counted: 1 },
    { options: "ioredis defaults", counted: 2 },
  ])("$options: abandoned command counted $counted times", async ({ options, counted }) => {
    const server = await startServer();
    const client = await connectedClient(
      server,
      options === "recommended" ? LIMITER_CLIENT_OPTIONS : {},
    );
    const limiter = limiterOn(client, "open");
    await limiter.check("warm-up");

    server.pause();
    const abandoned = await limiter.check("u1");
    await server.kill();
    await server.start();
    await msUntilExact(limiter, "probe", 3000);
    await sleep(100);
    const after = await limiter.check("u1");

    expect(abandoned.reason).toBe("store-timeout");
    expect(after.degraded).toBe(false);
    expect(3 - after.remaining).toBe(counted);
  });

  it("socket timeout drops a hung connection", async () => {
    const server = await startServer();
    const client = await connectedClient(server, { ...LIMITER_CLIENT_OPTIONS, socketTimeout: 300 });
    const limiter = limiterOn(client, "open");
    await limiter.check("warm-up");

    server.pause();
    await concurrentChecks(limiter, ["u1", "u2"], 200);
    const pendingWhileHung = pendingCommands(client);
    await sleep(500);
    const pendingAfterTimeout = pendingCommands(client);
    const later = await sequentialChecks(limiter, "u3", 20);
    server.resume();
    const waited = await msUntilExact(limiter, "probe");
    reportRecovery("socket timeout, resumed", waited);

    expect(pendingWhileHung).toBeGreaterThan(0);
    expect(pendingAfterTimeout).toBeLessThan(5);
    expectAllDegraded(later);
    expect(waited).toBeLessThanOrEqual(RECOVERY_BUDGET);
    await expectExactLimit(limiter, "fresh");
  });
});
