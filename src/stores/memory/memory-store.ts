import {
  type Algorithm,
  createVerdict,
  type StateView,
  type Verdict,
} from "../../algorithms/algorithm.js";
import { algorithms } from "../../algorithms/index.js";
import { ClosedError, checkOptionNames, invalidType, outOfRange } from "../../errors.js";
import { defaultLogger } from "../../logger.js";
import type { Policy } from "../../policy/policy.js";
import type { Logger } from "../../types.js";
import type { ConsumeRequest, Outcome, SyncStore } from "../store.js";
import { EXPIRES, MAX_SLOTS, SlotTable, STRIDE } from "./slot-table.js";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Maximum number of (policy, key) pairs tracked at once, at most 2^31 − 1. Past it,
   * expired entries are dropped first, then the least recently used, so memory stays
   * bounded under any number of keys.
   * @default 1_000_000
   */
  readonly maxKeys?: number;
  /** Clock in epoch ms, used when a request carries no time of its own. @default Date.now */
  readonly clock?: () => number;
  /**
   * How often a background sweep drops expired entries, in ms. 0 turns it off. The timer
   * is `unref()`'d, starts when the first key is tracked, and stops when none is left.
   * @default 60_000
   */
  readonly sweepInterval?: number;
  /** Receives warnings. @default console */
  readonly logger?: Logger;
}

/** Slots checked per background sweep tick, which bounds the pause one tick can cause. */
const SWEEP_BATCH = 10_000;
/** Largest delay `setInterval` accepts: Node.js replaces a longer one with 1 ms. */
const MAX_INTERVAL = 2 ** 31 - 1;
/** Backing array of views of keys that have no slot yet. Algorithms read no state then. */
const NO_STATE = new Float64Array(STRIDE);

/** The key-to-slot map of one policy name and algorithm, with what its state needs. */
interface PolicyTable {
  readonly keys: Map<string, number>;
  /** Owner id of `keys` in the slot table. */
  readonly owner: number;
  readonly algorithm: Algorithm;
  /** True for the sliding log, whose state includes a list of entries. */
  readonly hasLog: boolean;
}

/** A state view that also remembers the slot it points at, or -1 for none. */
interface SlotView extends StateView {
  slot: number;
}

/**
 * Keeps limiter state in this process. Decisions are synchronous. State lives in flat typed
 * arrays: 52 bytes per tracked key, plus the key's `Map` entry and string. No timer exists
 * per key. Expired state is treated as absent when read, and freed by a bounded sweep on
 * every insert and by an optional background sweep.
 *
 * @example
 * const store = new MemoryStore({ maxKeys: 100_000 });
 * const limiter = new RateLimiter({ policy: "100/1m", store });
 */
export class MemoryStore implements SyncStore {
  readonly synchronous = true;
  #slots: SlotTable;
  /** Tables by `algorithm:name`. Policy names cannot contain ":", so names never collide. */
  #tables = new Map<string, PolicyTable>();
  #tablesByPolicy = new WeakMap<Policy, PolicyTable>();
  #tablesByList = new WeakMap<readonly Policy[], PolicyTable[]>();
  /** The policy list of the last request and its tables, because one limiter repeats its list. */
  #lastPolicies: readonly Policy[] | undefined;
  #lastTables: PolicyTable[] = [];
  /** The first policy seen under each name, to warn when a later one differs. */
  #policiesByName = new Map<string, Policy>();
  /** Names already warned about, so each conflict is logged once. */
  #reportedNames = new Set<string>();
  #clock: () => number;
  #logger: Logger;
  #sweepInterval: number;
  #timer: NodeJS.Timeout | undefined;
  /** Time of the latest request, and whether the request set it itself (`at`). */
  #latestTime = 0;
  #latestWasOwnTime = false;
  #views: SlotView[] = [];
  #verdicts: Verdict[] = [];
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    checkOptionNames("MemoryStore options", options, [
      "maxKeys",
      "clock",
      "sweepInterval",
      "logger",
    ]);
    const maxKeys = options.maxKeys ?? 1_000_000;
    if (typeof maxKeys !== "number") {
      throw invalidType("MemoryStore maxKeys", "a positive integer", maxKeys);
    }
    if (!Number.isInteger(maxKeys) || maxKeys < 1 || maxKeys > MAX_SLOTS) {
      throw outOfRange("MemoryStore maxKeys", `an integer from 1 to ${MAX_SLOTS}`, maxKeys);
    }

    const sweepInterval = options.sweepInterval ?? 60_000;
    if (typeof sweepInterval !== "number") {
      throw invalidType("MemoryStore sweepInterval", "a number of ms", sweepInterval);
    }
    if (!Number.isInteger(sweepInterval) || sweepInterval < 0 || sweepInterval > MAX_INTERVAL) {
      throw outOfRange(
        "MemoryStore sweepInterval",
        `an integer from 0 (off) to ${MAX_INTERVAL} ms`,
        sweepInterval,
      );
    }
    if (options.clock !== undefined && typeof options.clock !== "function") {
      throw invalidType("MemoryStore clock", "a function returning epoch ms", options.clock);
    }

    this.#slots = new SlotTable(maxKeys);
    this.#clock = options.clock ?? Date.now;
    this.#logger = options.logger ?? defaultLogger;
    this.#sweepInterval = sweepInterval;
    this.#addScratch(1);
  }

  /** Number of (policy, key) pairs tracked now, expired ones not yet dropped included. */
  get size(): number {
    return this.#slots.size;
  }

  consumeSync(request: ConsumeRequest, into: Outcome[]): void {
    if (this.#closed) throw new ClosedError("MemoryStore");
    const policies = request.policies;
    const tables = policies === this.#lastPolicies ? this.#lastTables : this.#tablesFor(policies);
    const now = this.#requestTime(request.at);
    if (policies.length !== 1) {
      this.#consumeAll(request, tables, now, into);
      return;
    }

    // One policy, the common case, gets its own short path: keeping this method small lets
    // the JIT inline the algorithm into it.
    const policy = policies[0] as Policy;
    const table = tables[0] as PolicyTable;
    if (this.#decide(policy, table, request, now, 0, into) && !request.dryRun) {
      this.#commit(policy, table, request.key, 0);
    }
    if (into.length !== 1) into.length = 1;
  }

  async consume(request: ConsumeRequest): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    this.consumeSync(request, outcomes);
    return outcomes;
  }

  resetSync(key: string, policies: readonly Policy[]): void {
    if (this.#closed) throw new ClosedError("MemoryStore");
    for (const table of this.#tablesFor(policies)) {
      const slot = table.keys.get(key);
      if (slot !== undefined) this.#slots.release(slot);
    }
  }

  async reset(key: string, policies: readonly Policy[]): Promise<void> {
    this.resetSync(key, policies);
  }

  /** Drops every tracked key and stops the background sweep. The store stays usable. */
  clear(): void {
    this.#slots.clear();
    this.#stopTimer();
  }

  /** Drops all state and stops the background sweep; later calls raise `ClosedError`. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopTimer();
    this.#slots = new SlotTable(1);
    this.#tables.clear();
    this.#tablesByPolicy = new WeakMap();
    this.#tablesByList = new WeakMap();
    this.#lastPolicies = undefined;
    this.#lastTables = [];
    this.#policiesByName.clear();
    this.#reportedNames.clear();
  }

  /** Decides a request against several policies: all are consumed, or none. */
  #consumeAll(
    request: ConsumeRequest,
    tables: readonly PolicyTable[],
    now: number,
    into: Outcome[],
  ): void {
    const { policies, key } = request;
    const count = policies.length;
    if (this.#views.length < count) this.#addScratch(count);

    let allowed = true;
    for (let i = 0; i < count; i++) {
      const decided = this.#decide(
        policies[i] as Policy,
        tables[i] as PolicyTable,
        request,
        now,
        i,
        into,
      );
      allowed = decided && allowed;
    }
    if (into.length !== count) into.length = count;
    if (!allowed || request.dryRun) return;

    // Slots that exist are written before any new one is taken, because taking a slot may
    // sweep or evict, and a slot written first has an expiry later than now.
    for (let i = 0; i < count; i++) {
      const view = this.#views[i] as SlotView;
      if (view.slot >= 0) this.#commit(policies[i] as Policy, tables[i] as PolicyTable, key, i);
    }
    for (let i = 0; i < count; i++) {
      const view = this.#views[i] as SlotView;
      if (view.slot < 0) this.#commit(policies[i] as Policy, tables[i] as PolicyTable, key, i);
    }
  }

  /**
   * Decides policy `index` of a request into `into[index]`, using scratch view and verdict
   * `index`, and returns whether it allows the request.
   */
  #decide(
    policy: Policy,
    table: PolicyTable,
    request: ConsumeRequest,
    now: number,
    index: number,
    into: Outcome[],
  ): boolean {
    const view = this.#views[index] as SlotView;
    const verdict = this.#verdicts[index] as Verdict;
    this.#load(table, request.key, now, view);

    // A cost beyond the capacity is decided as a read, so the outcome still reports the
    // key's remaining quota, and then rejected for good.
    const fits = request.cost <= policy.capacity;
    table.algorithm.decide(policy, view, now, fits ? request.cost : 0, verdict);

    let outcome = into[index];
    if (outcome === undefined) {
      outcome = createOutcome();
      into[index] = outcome;
    }
    const allowed = fits && verdict.allowed;
    outcome.allowed = allowed;
    outcome.remaining = verdict.remaining;
    outcome.resetAt = verdict.resetAt;
    outcome.retryAfter = fits ? verdict.retryAfter : 0;
    if (allowed) outcome.reason = "allowed";
    else if (fits) outcome.reason = "limit-exceeded";
    else outcome.reason = "cost-exceeds-capacity";
    return allowed;
  }

  /** Returns the request's time in whole epoch ms: its own `at`, else the clock's. */
  #requestTime(at: number | undefined): number {
    const ownTime = at !== undefined;
    const time = ownTime ? at : this.#clock();
    if (!(time >= 0 && time <= Number.MAX_SAFE_INTEGER)) throw invalidTime(time, ownTime);

    const now = Math.floor(time);
    if (now >= this.#latestTime) this.#latestTime = now;
    this.#latestWasOwnTime = ownTime;
    return now;
  }

  /** Points `view` at the key's state, treating expired state as none. */
  #load(table: PolicyTable, key: string, now: number, view: SlotView): void {
    const slot = table.keys.get(key);
    if (slot === undefined) {
      view.slot = -1;
      view.data = NO_STATE;
      view.offset = 0;
      view.empty = true;
      view.log = undefined;
      return;
    }

    const slots = this.#slots;
    slots.touch(slot);
    const page = slots.page(slot);
    const offset = slots.offset(slot);
    view.slot = slot;
    view.data = page;
    view.offset = offset;
    view.empty = (page[offset + EXPIRES] as number) <= now;
    view.log = table.hasLog ? slots.logOf(slot) : undefined;
  }

  /** Writes the next state of policy `index`, taking a slot first if the key has none. */
  #commit(policy: Policy, table: PolicyTable, key: string, index: number): void {
    const view = this.#views[index] as SlotView;
    const verdict = this.#verdicts[index] as Verdict;
    if (view.slot < 0) this.#takeSlot(table, key, view, verdict.now);

    table.algorithm.commit(policy, view, verdict);
    view.data[view.offset + EXPIRES] = verdict.now + verdict.ttl;
    if (table.hasLog) this.#slots.setLog(view.slot, view.log);
  }

  /** Takes a slot for a key that has none and points `view` at it. */
  #takeSlot(table: PolicyTable, key: string, view: SlotView, now: number): void {
    const slots = this.#slots;
    const slot = slots.allocate(table.owner, key, now);
    view.slot = slot;
    view.data = slots.page(slot);
    view.offset = slots.offset(slot);
    if (this.#timer === undefined) this.#startTimer();
  }

  #tablesFor(policies: readonly Policy[]): PolicyTable[] {
    let tables = this.#tablesByList.get(policies);
    if (tables === undefined) {
      tables = policies.map((policy) => this.#tableFor(policy));
      // Two policies on one table would take two slots for one key in one map.
      if (new Set(tables).size !== tables.length) {
        const names = policies.map((policy) => policy.name);
        throw invalidType("policies of one request", "policies with distinct names", names);
      }
      this.#tablesByList.set(policies, tables);
    }
    this.#lastPolicies = policies;
    this.#lastTables = tables;
    return tables;
  }

  #tableFor(policy: Policy): PolicyTable {
    const cached = this.#tablesByPolicy.get(policy);
    if (cached !== undefined) return cached;

    this.#checkName(policy);
    const name = `${policy.algorithm}:${policy.name}`;
    let table = this.#tables.get(name);
    if (table === undefined) {
      const keys = new Map<string, number>();
      table = {
        keys,
        owner: this.#slots.addOwner(keys),
        algorithm: algorithms[policy.algorithm],
        hasLog: policy.algorithm === "sliding-log",
      };
      this.#tables.set(name, table);
    }
    this.#tablesByPolicy.set(policy, table);
    return table;
  }

  /**
   * Warns once per name when a policy differs from the first one seen under its name.
   * Policies with one name and algorithm share counters here, and share keys in Redis
   * whatever their algorithm.
   */
  #checkName(policy: Policy): void {
    const first = this.#policiesByName.get(policy.name);
    if (first === undefined) {
      this.#policiesByName.set(policy.name, policy);
      return;
    }
    if (first === policy || this.#reportedNames.has(policy.name)) return;
    if (describePolicy(first) === describePolicy(policy)) return;

    this.#reportedNames.add(policy.name);
    const message =
      `sluice: two policies named "${policy.name}" differ but share one store, which keeps ` +
      `counters by policy name (${describePolicy(first)}; ${describePolicy(policy)}); ` +
      "give each policy its own name";
    this.#logger.warn(message, {
      code: "SLUICE_POLICY_NAME_CONFLICT",
      policy: policy.name,
      first: describePolicy(first),
      second: describePolicy(policy),
    });
  }

  #addScratch(count: number): void {
    while (this.#views.length < count) {
      this.#views.push({ data: NO_STATE, offset: 0, empty: true, log: undefined, slot: -1 });
      this.#verdicts.push(createVerdict());
    }
  }

  #startTimer(): void {
    if (this.#sweepInterval === 0 || this.#closed) return;
    this.#timer = setInterval(() => this.#sweepInBackground(), this.#sweepInterval);
    this.#timer.unref();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Frees a batch of expired slots. Requests that bring their own time (a log replay) may
   * run far from the clock, so then the sweep uses the latest request time instead.
   */
  #sweepInBackground(): void {
    const now = this.#latestWasOwnTime ? this.#latestTime : this.#clock();
    this.#slots.sweep(now, SWEEP_BATCH);
    if (this.#slots.size === 0) this.#stopTimer();
  }
}

function invalidTime(time: number, ownTime: boolean): RangeError {
  const name = ownTime ? "request time (at)" : "MemoryStore clock result";
  return outOfRange(name, "epoch milliseconds from 0 to 2^53 - 1", time);
}

/** Describes what a policy counts, to compare two policies that share a name. */
function describePolicy(policy: Policy): string {
  return `${policy.limit} per ${policy.window} ms, ${policy.algorithm}, burst ${policy.burst}`;
}

function createOutcome(): Outcome {
  return { allowed: false, remaining: 0, resetAt: 0, retryAfter: 0, reason: "limit-exceeded" };
}
