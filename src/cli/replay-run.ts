import { RateLimiter } from "../limiter.js";
import type { Policy, PolicyOptions } from "../policy/policy.js";
import { MemoryStore } from "../stores/memory/memory-store.js";
import type { RequestBatch } from "./batch.js";
import { Tally } from "./tally.js";

/** One policy replayed over a log on a fresh limiter. */
export interface ReplayRun {
  readonly policy: Policy;
  readonly tally: Tally;
  /**
   * Decides every request of `batch` and records the decisions in `tally`. Requests of one
   * key are decided in log order; `names` maps the batch's key indexes to keys.
   */
  decide(batch: RequestBatch, names: readonly string[]): void | Promise<void>;
  /** Releases the run's limiter and store. */
  close(): Promise<void>;
}

/** Prefix and cleanup result of a Redis replay, for the summary. */
export interface RedisCleanup {
  readonly prefix: string;
  /** Keys deleted under the prefix, or `undefined` when `--keep-keys` kept them. */
  readonly deletedKeys: number | undefined;
}

/** Store side of a replay: it creates the runs and releases what they share. */
export interface ReplayBackend {
  readonly store: "memory" | "redis";
  /** Creates a run on a fresh limiter; `policy` has already passed `parsePolicy`. */
  createRun(policy: PolicyOptions): ReplayRun;
  /**
   * Releases everything the backend holds, once every run is closed. A Redis backend
   * returns what it cleaned up.
   */
  close(): Promise<RedisCleanup | undefined>;
}

/**
 * Maximum number of keys the memory store of a replay tracks. Past the store's default
 * bound, a log with more keys would evict state and change decisions. Slots are allocated
 * as keys arrive, so the bound costs nothing until used.
 */
const REPLAY_MAX_KEYS = 2 ** 30;

/** Creates the backend that replays in process on the synchronous path. */
export function createMemoryBackend(): ReplayBackend {
  return { store: "memory", createRun: createMemoryRun, close: async () => undefined };
}

function createMemoryRun(policy: PolicyOptions): ReplayRun {
  // The background sweep reads the wall clock, so it would expire every state stamped with
  // the log's older times. Lazy expiry at the request's own time stays exact.
  const store = new MemoryStore({ maxKeys: REPLAY_MAX_KEYS, sweepInterval: 0 });
  const limiter = new RateLimiter({ policy, store });
  const tally = new Tally();
  const options = { at: 0 };

  return {
    policy: limiter.policies[0] as Policy,
    tally,
    decide(batch, names) {
      tally.reserve(names.length);
      for (let i = 0; i < batch.length; i++) {
        const keyIndex = batch.keys[i] as number;
        options.at = batch.times[i] as number;
        const decision = limiter.checkSync(names[keyIndex] as string, options);
        tally.record(keyIndex, decision.allowed);
      }
    },
    async close() {
      await limiter.close();
      await store.close();
    },
  };
}
