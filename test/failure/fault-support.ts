import { setTimeout as sleep } from "node:timers/promises";
import type { Redis, RedisOptions } from "ioredis";
import { expect } from "vitest";
import type { RateLimiter } from "../../src/limiter.js";
import type { Decision, Logger } from "../../src/types.js";

/**
 * ioredis options recommended for a limiter's client: fail commands at once while no
 * connection is up, never resend a command after a reconnect, reconnect at least every
 * 500 ms, and notice a server that stopped replying on an open connection. The store
 * batches a tick's checks itself, so `enableAutoPipelining` changes nothing for it.
 */
export const LIMITER_CLIENT_OPTIONS = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 1000,
  socketTimeout: 2000,
  retryStrategy: (attempt: number) => Math.min(attempt * 50, 500),
} satisfies RedisOptions;

/**
 * Allowance over the store deadline for one decision, in ms: timers and promise callbacks
 * run late on a loaded two-core CI machine.
 */
export const LATENCY_MARGIN = 50;

/** Most ms between a store coming back and the first exact decision. */
export const RECOVERY_BUDGET = 1000;

/** A decision and how long `check()` took to return it, in ms. */
export interface TimedDecision {
  readonly decision: Decision;
  readonly ms: number;
}

/** Runs one `check()` and measures it; a rejection fails the test with its error. */
export async function timedCheck(limiter: RateLimiter, key: string): Promise<TimedDecision> {
  const started = performance.now();
  const decision = await limiter.check(key);
  return { decision, ms: performance.now() - started };
}

/** Runs `count` checks one after another. */
export async function sequentialChecks(
  limiter: RateLimiter,
  key: string,
  count: number,
): Promise<TimedDecision[]> {
  const results: TimedDecision[] = [];
  for (let i = 0; i < count; i++) results.push(await timedCheck(limiter, key));
  return results;
}

/** Starts `count` checks in the same tick, over `keys` in turn, and waits for all of them. */
export function concurrentChecks(
  limiter: RateLimiter,
  keys: readonly string[],
  count: number,
): Promise<TimedDecision[]> {
  const checks: Promise<TimedDecision>[] = [];
  for (let i = 0; i < count; i++) checks.push(timedCheck(limiter, keys[i % keys.length] ?? ""));
  return Promise.all(checks);
}

/** Returns the largest latency of `results`, in ms. */
export function slowest(results: readonly TimedDecision[]): number {
  return Math.max(...results.map((result) => result.ms));
}

/** Returns the p50, p90, p99 and max latency of `results`, in ms, rounded to 0.1 ms. */
export function percentiles(results: readonly TimedDecision[]): Record<string, number> {
  const sorted = results.map((result) => result.ms).sort((a, b) => a - b);
  const at = (quantile: number): number => {
    const index = Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1);
    return Math.round((sorted[Math.max(0, index)] ?? 0) * 10) / 10;
  };
  return { n: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

/**
 * Prints the latency distribution of a scenario when `SLUICE_FAULT_LATENCY` is set, so a
 * run can report real numbers without making every test run noisy.
 */
export function reportLatency(scenario: string, results: readonly TimedDecision[]): void {
  if (process.env.SLUICE_FAULT_LATENCY === undefined) return;
  console.info(`latency ${scenario}: ${JSON.stringify(percentiles(results))}`);
}

/** Prints how long recovery took, in ms, when `SLUICE_FAULT_LATENCY` is set. */
export function reportRecovery(scenario: string, waited: number): void {
  if (process.env.SLUICE_FAULT_LATENCY === undefined) return;
  console.info(`recovery ${scenario}: ${Math.round(waited)} ms`);
}

/** Asserts every result took at most `deadline` plus {@link LATENCY_MARGIN} ms. */
export function expectWithinDeadline(results: readonly TimedDecision[], deadline: number): void {
  expect(slowest(results)).toBeLessThanOrEqual(deadline + LATENCY_MARGIN);
}

/** Asserts every decision was made by the failure mode. */
export function expectAllDegraded(results: readonly TimedDecision[]): void {
  expect(results.filter((result) => !result.decision.degraded)).toEqual([]);
}

/** Returns the distinct reasons of `results`, sorted. */
export function reasonsOf(results: readonly TimedDecision[]): string[] {
  return [...new Set(results.map((result) => result.decision.reason))].sort();
}

/**
 * Peeks at `probeKey` every 20 ms until a decision is not degraded, and returns the ms that
 * took. It gives up after `budget` ms and returns the time waited.
 */
export async function msUntilExact(
  limiter: RateLimiter,
  probeKey: string,
  budget = RECOVERY_BUDGET,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    const decision = await limiter.peek(probeKey);
    const waited = performance.now() - started;
    if (!decision.degraded || waited > budget) return waited;
    await sleep(20);
  }
}

/**
 * Asserts exact limiting on an unused key: with a limit of 3, three checks pass and the
 * fourth is rejected by the store, none degraded.
 */
export async function expectExactLimit(limiter: RateLimiter, freshKey: string): Promise<void> {
  const decisions: Decision[] = [];
  for (let i = 0; i < 4; i++) decisions.push(await limiter.check(freshKey));

  expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, false]);
  expect(decisions.map((decision) => decision.degraded)).toEqual([false, false, false, false]);
  expect(decisions[3]?.reason).toBe("limit-exceeded");
}

/** Counts the commands written to the connection and still waiting for a reply, plus queued ones. */
export function pendingCommands(client: Redis): number {
  const queued = (client as unknown as { offlineQueue?: { length: number } }).offlineQueue;
  return client.commandQueue.length + (queued?.length ?? 0) + client.autoPipelineQueueSize;
}

/** Creates a logger that keeps every line it receives. */
export function recordingLogger(): Logger & {
  warnings: [string, Record<string, unknown> | undefined][];
  errors: [string, Record<string, unknown> | undefined][];
} {
  const warnings: [string, Record<string, unknown> | undefined][] = [];
  const errors: [string, Record<string, unknown> | undefined][] = [];
  return {
    warnings,
    errors,
    warn: (message, details) => warnings.push([message, details]),
    error: (message, details) => errors.push([message, details]),
  };
}

/**
 * Collects unhandled promise rejections from now until `stop()`, which returns them after
 * letting pending callbacks run.
 */
export function watchUnhandledRejections(): { stop(): Promise<unknown[]> } {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on("unhandledRejection", listener);
  return {
    async stop() {
      await sleep(20);
      process.off("unhandledRejection", listener);
      return seen;
    },
  };
}

/** A decision made by {@link startLoad}, with the phases it started and finished in. */
export interface LoadResult extends TimedDecision {
  readonly phase: string;
  readonly finishedIn: string;
  readonly key: string;
}

/** A background load of checks; see {@link startLoad}. */
export interface Load {
  /** Sets the phase recorded with every check started from now on. */
  phase(name: string): void;
  /** Stops the workers and returns every decision and every rejection of `check()`. */
  stop(): Promise<{ results: LoadResult[]; errors: unknown[] }>;
}

/**
 * Runs `workers` loops, each checking its own key every `pauseMs` ms, until `stop()`. The
 * pause yields to timers and I/O, because a loop over decisions made in process would
 * otherwise keep the event loop in microtasks.
 */
export function startLoad(limiter: RateLimiter, workers: number, pauseMs = 2): Load {
  const results: LoadResult[] = [];
  const errors: unknown[] = [];
  let phase = "start";
  let running = true;

  const worker = async (key: string): Promise<void> => {
    while (running) {
      const started = phase;
      try {
        const { decision, ms } = await timedCheck(limiter, key);
        results.push({ decision, ms, phase: started, finishedIn: phase, key });
      } catch (error) {
        errors.push(error);
      }
      await sleep(pauseMs);
    }
  };
  const loops = Array.from({ length: workers }, (_, i) => worker(`w${i}`));

  return {
    phase(name) {
      phase = name;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return { results, errors };
    },
  };
}
