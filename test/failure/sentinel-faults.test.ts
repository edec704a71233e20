import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/limiter.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { useRedisSentinel } from "../support/redis-servers.js";
import {
  expectExactLimit,
  expectWithinDeadline,
  LIMITER_CLIENT_OPTIONS,
  msUntilExact,
  RECOVERY_BUDGET,
  recordingLogger,
  reportLatency,
  reportRecovery,
  type TimedDecision,
  timedCheck,
  watchUnhandledRejections,
} from "./fault-support.js";

/** Store deadline of the limiter, in ms. */
const DEADLINE = 100;

const sentinel = useRedisSentinel({ replicas: 1, sentinels: 1, downAfterMs: 1000 });

describe("RedisStore through Sentinel", () => {
  it("master failover degrades, then recovers", async () => {
    const client = sentinel().client(LIMITER_CLIENT_OPTIONS);
    await client.connect();
    const limiter = new RateLimiter({
      policy: { limit: 3, window: 60_000, failureMode: "closed" },
      store: new RedisStore({ client, prefix: `sentinel-faults-${process.pid}` }),
      timeout: DEADLINE,
      logger: recordingLogger(),
    });
    const unhandled = watchUnhandledRejections();
    expect((await limiter.peek("warm-up")).degraded).toBe(false);

    const master = sentinel().master;
    await master.kill();
    let failedOver = false;
    const failover = sentinel()
      .waitForFailover(master.port)
      .finally(() => {
        failedOver = true;
      });
    const during: TimedDecision[] = [];
    let key = 0;
    while (!failedOver) {
      during.push(await timedCheck(limiter, `u${key++}`));
      await sleep(20);
    }
    await failover;
    const waited = await msUntilExact(limiter, "probe");
    reportRecovery("sentinel failover", waited);

    reportLatency("sentinel master killed", during);
    expectWithinDeadline(during, DEADLINE);
    expect(during.slice(0, 20).filter((result) => !result.decision.degraded)).toEqual([]);
    expect(during.filter((r) => r.decision.degraded && r.decision.allowed)).toEqual([]);
    expect(waited).toBeLessThanOrEqual(RECOVERY_BUDGET);
    await expectExactLimit(limiter, "fresh");
    expect(await unhandled.stop()).toEqual([]);
  });
});
