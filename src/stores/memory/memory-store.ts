import { createVerdict, type StateView, type Verdict } from "../../algorithms/algorithm.js";
import { algorithms } from "../../algorithms/index.js";
import { outOfRange } from "../../errors.js";
import { defaultLogger } from "../../logger.js";
import type { Policy } from "../../policy/policy.js";
import type { Logger } from "../../types.js";
import type { ConsumeRequest, Outcome, SyncStore } from "../store.js";
import { SlotTable, STRIDE } from "./slot-table.js";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most (policy, key) pairs tracked at once. Past it, expired entries are dropped first,
   * then the least recently used, so memory stays bounded under any number of keys.
   * @default 1_000_000
   */
  readonly maxKeys?: number;
  /** Clock in epoch ms, used when a request carries no time of its own. @default Date.now */
  readonly clock?: () => number;
  /**
   * How often a background sweep drops expired entries, in ms; 0 turns it off. The timer is
   * `unref()`'d and starts with the first tracked key.
   * @default 60_000
   */
  readonly sweepInterval?: number;
  /** Receives warnings. @default console */
  readonly logger?: Logger;
}

/** Slots checked per background sweep tick; bounds the pause one tick can cause. */
const SWEEP_BATCH = 10_000;

/**
 * Keeps limiter state in this process. Decisions are synchronous, state lives in flat typed
 * arrays (a few dozen bytes per tracked key plus the key string), and no timer exists per
 * key: expired state is dropped when it is next read, by a bounded sweep on insert, and by
 * an optional background sweep.
 *
 * @example
 * const store = new MemoryStore({ maxKeys: 100_000 });
 * const limiter = new RateLimiter({ policy: "100/1m", store });
 */
export class MemoryStore implements SyncStore {
  readonly synchronous = true;
  #slots: SlotTable;
  #tables = new Map<string, Map<string, number>>();
  #tablesByPolicy = new WeakMap<Policy, Map<string, number>>();
  #signatures = new Map<string, string>();
  #clock: () => number;
  #logger: Logger;
  #sweepInterval: number;
  #timer: NodeJS.Timeout | undefined;
  #views: StateView[] = [];
  #verdicts: Verdict[] = [];
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    const maxKeys = options.maxKeys ?? 1_000_000;
    if (typeof maxKeys !== "number" || !Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw outOfRange("MemoryStore maxKeys", "a positive integer", maxKeys);
    }
    const sweepInterval = options.sweepInterval ?? 60_000;
    if (
      typeof sweepInterval !== "number" ||
      !Number.isSafeInteger(sweepInterval) ||
      sweepInterval < 0
    ) {
      throw outOfRange(
        "MemoryStore sweepInterval",
        "a whole number of ms, 0 to turn it off",
        sweepInterval,
      );
    }
    if (options.clock !== undefined && typeof options.clock !== "function") {
      throw outOfRange("MemoryStore clock", "a function returning epoch ms", options.clock);
    }

    this.#slots = new SlotTable(maxKeys);
    this.#clock = options.clock ?? Date.now;
    this.#logger = options.logger ?? defaultLogger;
    this.#sweepInterval = sweepInterval;
  }

  /** Number of (policy, key) pairs tracked now, expired ones not yet dropped included. */
  get size(): number {
    return this.#slots.size;
  }

  consumeSync(request: ConsumeRequest, into: Outcome[]): void {
    const { key, policies, cost, dryRun } = request;
    const now = request.at ?? this.#clock();
    const count = policies.length;
    this.#ensureScratch(count);

    let allowed = true;
    for (let i = 0; i < count; i++) {
      const policy = policies[i] as Policy;
      const view = this.#views[i] as StateView;
      const verdict = this.#verdicts[i] as Verdict;
      this.#load(policy, key, now, view);

      const fits = cost <= policy.capacity;
      algorithms[policy.algorithm].decide(policy, view, now, fits ? cost : 0, verdict);
      if (!fits) verdict.allowed = false;
      allowed &&= verdict.allowed;

      let outcome = into[i];
      if (outcome === undefined) {
        outcome = createOutcome();
        into[i] = outcome;
      }
      outcome.allowed = verdict.allowed;
      outcome.remaining = verdict.remaining;
      outcome.resetAt = verdict.resetAt;
      outcome.retryAfter = fits ? verdict.retryAfter : 0;
      outcome.reason = !fits
        ? "cost-exceeds-capacity"
        : verdict.allowed
          ? "allowed"
          : "limit-exceeded";
    }
    into.length = count;

    if (!allowed || dryRun) return;
    // Existing slots first: their new expiry keeps the insert sweep from freeing them.
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < count; i++) {
        const view = this.#views[i] as StateView;
        if (view.offset >= 0 === (pass === 0))
          this.#commit(policies[i] as Policy, key, view, i, now);
      }
    }
  }

  async consume(request: ConsumeRequest): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    this.consumeSync(request, outcomes);
    return outcomes;
  }

  resetSync(key: string, policies: readonly Policy[]): void {
    for (const policy of policies) {
      const slot = this.#table(policy).get(key);
      if (slot !== undefined) this.#slots.release(slot);
    }
  }

  async reset(key: string, policies: readonly Policy[]): Promise<void> {
    this.resetSync(key, policies);
  }

  /** Drops every tracked key. The store stays usable. */
  clear(): void {
    this.#slots.clear();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#slots.clear();
    this.#tables.clear();
    this.#tablesByPolicy = new WeakMap();
  }

  /** Points `view` at the key's state, treating expired state as none. */
  #load(policy: Policy, key: string, now: number, view: StateView): void {
    const slot = this.#table(policy).get(key);
    view.data = this.#slots.state;
    if (slot === undefined) {
      view.offset = -1;
      view.empty = true;
      view.log = undefined;
      return;
    }
    this.#slots.touch(slot);
    view.offset = slot * STRIDE;
    view.empty = this.#slots.expiresAt(slot) <= now;
    view.log = this.#slots.logs[slot];
  }

  #commit(policy: Policy, key: string, view: StateView, index: number, now: number): void {
    const verdict = this.#verdicts[index] as Verdict;
    let slot = view.offset / STRIDE;
    if (view.offset < 0) {
      slot = this.#slots.allocate(this.#table(policy), key, now);
      this.#startTimer();
    }

    view.data = this.#slots.state;
    view.offset = slot * STRIDE;
    algorithms[policy.algorithm].commit(policy, view, verdict);
    this.#slots.logs[slot] = view.log;
    this.#slots.setExpiresAt(slot, verdict.now + verdict.ttl);
  }

  #table(policy: Policy): Map<string, number> {
    const cached = this.#tablesByPolicy.get(policy);
    if (cached !== undefined) return cached;

    const name = tableName(policy);
    let table = this.#tables.get(name);
    if (table === undefined) {
      table = new Map();
      this.#tables.set(name, table);
      this.#checkSignature(policy);
    }
    this.#tablesByPolicy.set(policy, table);
    return table;
  }

  /** Warns once when two differing policies share a name, and so share counters. */
  #checkSignature(policy: Policy): void {
    const signature = `${policy.limit}/${policy.window}ms burst ${policy.burst}`;
    const known = this.#signatures.get(policy.name);
    if (known === undefined) {
      this.#signatures.set(policy.name, signature);
      return;
    }
    if (known !== signature) {
      this.#logger.warn(
        `sluice: policies named "${policy.name}" with different limits share one store, so they share counters; give each its own name`,
        {
          code: "SLUICE_POLICY_NAME_CONFLICT",
          policy: policy.name,
          first: known,
          second: signature,
        },
      );
    }
  }

  #ensureScratch(count: number): void {
    while (this.#views.length < count) {
      this.#views.push({ data: this.#slots.state, offset: -1, empty: true, log: undefined });
      this.#verdicts.push(createVerdict());
    }
  }

  #startTimer(): void {
    if (this.#timer !== undefined || this.#sweepInterval === 0 || this.#closed) return;
    this.#timer = setInterval(
      () => this.#slots.sweep(this.#clock(), SWEEP_BATCH),
      this.#sweepInterval,
    );
    this.#timer.unref();
  }
}

/**
 * Names the table of a policy. The algorithm is part of it because each algorithm reads its
 * state differently: switching a policy's algorithm starts it from empty state, while
 * changing its limit or window keeps and rescales the counters.
 */
function tableName(policy: Policy): string {
  return `${policy.algorithm}:${policy.name}`;
}

function createOutcome(): Outcome {
  return { allowed: false, remaining: 0, resetAt: 0, retryAfter: 0, reason: "limit-exceeded" };
}
