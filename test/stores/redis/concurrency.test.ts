import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { PolicyOptions } from "../../../src/policy/policy.js";
import { ALGORITHMS, type Decision } from "../../../src/types.js";
import { useRedis } from "../../support/redis-servers.js";
import { builtDist, uniquePrefix } from "./support.js";

interface Counts {
  allowed: number;
  denied: number;
  degraded: number;
  errors: number;
}

interface CheckResult {
  decision: Decision;
  clockOffset: number | undefined;
  localNow: number;
}

/** A forked check worker (fixtures/check-worker.mjs) and a way to call it. */
interface Worker {
  readonly child: ChildProcess;
  call<T>(message: Record<string, unknown>): Promise<T>;
}

const workerPath = fileURLToPath(new URL("./fixtures/check-worker.mjs", import.meta.url));
const running = new Set<ChildProcess>();
let distUrl = "";

function startWorker(port: number, skew = 0): Promise<Worker> {
  const child = fork(workerPath, [distUrl, String(port), String(skew)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  running.add(child);
  child.once("exit", () => running.delete(child));

  let nextId = 0;
  const waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  child.on("message", (message: { id?: number; result?: unknown; error?: string }) => {
    const entry = message.id === undefined ? undefined : waiting.get(message.id);
    if (entry === undefined) return;
    waiting.delete(message.id as number);
    if (message.error !== undefined) entry.reject(new Error(message.error));
    else entry.resolve(message.result);
  });

  const worker: Worker = {
    child,
    call<T>(message: Record<string, unknown>) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ ...message, id });
      });
    },
  };
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`check worker exited with code ${code}`)));
    child.once("message", (message: { ready?: boolean }) => {
      if (message.ready === true) resolve(worker);
    });
  });
}

function sum(all: readonly Counts[]): Counts {
  const total = { allowed: 0, denied: 0, degraded: 0, errors: 0 };
  for (const counts of all) {
    total.allowed += counts.allowed;
    total.denied += counts.denied;
    total.degraded += counts.degraded;
    total.errors += counts.errors;
  }
  return total;
}

describe("Redis store across processes", () => {
  const redis = useRedis();

  beforeAll(() => {
    distUrl = pathToFileURL(builtDist()).href;
  });

  afterEach(() => {
    for (const child of running) child.kill("SIGKILL");
  });

  it.each(ALGORITHMS)("%s admits exactly its limit", async (algorithm) => {
    const port = redis().port;
    const workers = await Promise.all(Array.from({ length: 4 }, () => startWorker(port)));
    // One unit per 72 s for the buckets: nothing refills while the burst runs.
    const policy: PolicyOptions = { limit: 50, window: 3_600_000, algorithm };
    const message = { op: "burst", prefix: uniquePrefix("procs"), policy, key: "hot", count: 150 };

    const counts = sum(await Promise.all(workers.map((worker) => worker.call<Counts>(message))));
    expect(counts).toEqual({ allowed: 50, denied: 550, degraded: 0, errors: 0 });
  });

  it("two policies consume together", async () => {
    const port = redis().port;
    const workers = await Promise.all(Array.from({ length: 4 }, () => startWorker(port)));
    const prefix = uniquePrefix("procs");
    const narrow: PolicyOptions = { name: "narrow", limit: 30, window: 3_600_000 };
    const wide: PolicyOptions = { name: "wide", limit: 1000, window: 3_600_000 };
    const message = { op: "burst", prefix, policy: [narrow, wide], key: "hot", count: 100 };

    const counts = sum(await Promise.all(workers.map((worker) => worker.call<Counts>(message))));
    const after = await (workers[0] as Worker).call<CheckResult>({
      op: "check",
      prefix,
      policy: wide,
      key: "hot",
    });
    expect(counts).toEqual({ allowed: 30, denied: 370, degraded: 0, errors: 0 });
    // The wide policy counted the 30 admitted requests and this check, nothing rejected.
    expect(after.decision.remaining).toBe(1000 - 30 - 1);
  });

  it("sustained load admits one per second", async () => {
    const port = redis().port;
    const workers = await Promise.all(Array.from({ length: 4 }, () => startWorker(port)));
    const policy: PolicyOptions = { limit: 1, window: 1000, algorithm: "gcra" };
    const message = { op: "loop", prefix: uniquePrefix("procs"), policy, key: "hot", ms: 3000 };

    const started = performance.now();
    const counts = sum(await Promise.all(workers.map((worker) => worker.call<Counts>(message))));
    const seconds = (performance.now() - started) / 1000;
    expect(counts.allowed).toBeLessThanOrEqual(Math.floor(seconds) + 1);
    expect(counts.allowed).toBeGreaterThanOrEqual(Math.floor(seconds) - 1);
    expect([counts.degraded, counts.errors]).toEqual([0, 0]);
  });

  it("skewed local clocks decide as one instance", async () => {
    const port = redis().port;
    const ahead = await startWorker(port, 5000);
    const behind = await startWorker(port, -5000);
    const policy: PolicyOptions = { limit: 3, window: 60_000, algorithm: "fixed-window" };
    const prefix = uniquePrefix("procs");

    const pair: CheckResult[] = [];
    const alone: CheckResult[] = [];
    for (let i = 0; i < 6; i++) {
      const worker = i % 2 === 0 ? ahead : behind;
      pair.push(await worker.call<CheckResult>({ op: "check", prefix, policy, key: "shared" }));
      alone.push(await ahead.call<CheckResult>({ op: "check", prefix, policy, key: "single" }));
    }

    const verdicts = (results: CheckResult[]) =>
      results.map(({ decision }) => [decision.allowed, decision.remaining]);
    expect(verdicts(pair)).toEqual(verdicts(alone));
    // Each process reports the one window end on its own clock: 10 s apart, within the
    // accuracy of the measured offsets.
    const [first, second] = pair.map(({ decision }) => decision.resetAt);
    expect(Math.abs((first ?? 0) - (second ?? 0) - 10_000)).toBeLessThan(50);
  });

  it("clock offset reports each process's skew", async () => {
    const port = redis().port;
    const ahead = await startWorker(port, 5000);
    const behind = await startWorker(port, -5000);
    const message = { op: "check", prefix: uniquePrefix("procs"), policy: "5/1s", key: "k" };
    const offsets = [
      (await ahead.call<CheckResult>(message)).clockOffset ?? 0,
      (await behind.call<CheckResult>(message)).clockOffset ?? 0,
    ];
    expect(offsets.map((offset) => Math.round(offset / 1000))).toEqual([-5, 5]);
  });
});
