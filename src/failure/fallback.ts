import { combineOutcomes } from "../decision.js";
import { type Policy, parsePolicy } from "../policy/policy.js";
import { MemoryStore } from "../stores/memory/memory-store.js";
import type { ConsumeRequest, Outcome } from "../stores/store.js";
import type { Decision, Logger } from "../types.js";

/** Cause of a decision made without the store. */
export type DegradedReason = "store-timeout" | "store-error" | "store-unavailable";

/** Options of {@link Fallback}. */
export interface FallbackOptions {
  /** Share of each policy's limit and burst the in-process limiter holds, in (0, 1]. */
  readonly localShare: number;
  /** Wait in ms that a `closed` policy reports to clients. */
  readonly closedRetryAfter: number;
  /** Most keys the in-process limiter tracks. */
  readonly maxKeys: number;
  readonly clock: () => number;
  readonly logger: Logger;
}

/**
 * Decides requests while the store cannot, by each policy's failure mode: `closed` rejects,
 * `open` allows, and `local` decides with an in-process limiter holding `localShare` of the
 * limit. `open` and `closed` policies keep a local share too, so that their decisions still
 * carry a sensible `remaining` and `resetAt`.
 */
export class Fallback {
  #options: FallbackOptions;
  #store: MemoryStore;
  #plans = new WeakMap<readonly Policy[], Plan>();
  #localOutcomes: Outcome[] = [];
  #otherOutcomes: Outcome[] = [];
  #outcomes: Outcome[] = [];

  constructor(options: FallbackOptions) {
    this.#options = options;
    this.#store = new MemoryStore({
      maxKeys: options.maxKeys,
      clock: options.clock,
      logger: options.logger,
    });
  }

  /** Decides `request` by failure mode and marks the decision degraded with `reason`. */
  decide(request: ConsumeRequest, reason: DegradedReason): Decision {
    const plan = this.#plan(request.policies);
    const outcomes = this.#outcomes;
    outcomes.length = request.policies.length;

    // The `local` policies decide together: all of them consume, or none does. A closed
    // policy rejects the request, so then nothing is consumed.
    let allowed = true;
    if (plan.local.length > 0) {
      const dryRun = request.dryRun || plan.closed;
      this.#store.consumeSync({ ...request, policies: plan.local, dryRun }, this.#localOutcomes);
      for (let i = 0; i < plan.local.length; i++) {
        const outcome = this.#localOutcomes[i] as Outcome;
        allowed &&= outcome.allowed;
        outcomes[plan.localIndexes[i] as number] = outcome;
      }
    }

    // The shares of `open` and `closed` policies only count requests that pass. They never
    // decide, so a full share cannot stop the `local` policies from counting.
    if (plan.other.length > 0) {
      const dryRun = request.dryRun || plan.closed || !allowed;
      this.#store.consumeSync({ ...request, policies: plan.other, dryRun }, this.#otherOutcomes);
      for (let i = 0; i < plan.other.length; i++) {
        const outcome = this.#otherOutcomes[i] as Outcome;
        const index = plan.otherIndexes[i] as number;
        if ((request.policies[index] as Policy).failureMode === "open") {
          outcome.allowed = true;
          outcome.retryAfter = 0;
        } else {
          // A closed policy admits nothing while the store is down, so it reports no room.
          outcome.allowed = false;
          outcome.remaining = 0;
          outcome.retryAfter = Math.max(outcome.retryAfter, this.#options.closedRetryAfter);
        }
        outcomes[index] = outcome;
      }
    }
    return combineOutcomes(request.policies, outcomes, true, reason);
  }

  /** Forgets a key's in-process state. */
  reset(key: string, policies: readonly Policy[]): void {
    const plan = this.#plan(policies);
    this.#store.resetSync(key, plan.local);
    this.#store.resetSync(key, plan.other);
  }

  async close(): Promise<void> {
    await this.#store.close();
  }

  /** Returns the local shares of `policies` split by failure mode; built once per list. */
  #plan(policies: readonly Policy[]): Plan {
    let plan = this.#plans.get(policies);
    if (plan !== undefined) return plan;

    const local: Policy[] = [];
    const localIndexes: number[] = [];
    const other: Policy[] = [];
    const otherIndexes: number[] = [];
    policies.forEach((policy, index) => {
      const share = shrink(policy, this.#options.localShare);
      if (policy.failureMode === "local") {
        local.push(share);
        localIndexes.push(index);
      } else {
        other.push(share);
        otherIndexes.push(index);
      }
    });
    const closed = policies.some((policy) => policy.failureMode === "closed");
    plan = { local, localIndexes, other, otherIndexes, closed };
    this.#plans.set(policies, plan);
    return plan;
  }
}

/** The local shares of one policy list, split into `local` policies and the others. */
interface Plan {
  readonly local: readonly Policy[];
  /** Position in the request's policy list of each entry of `local`. */
  readonly localIndexes: readonly number[];
  /** Shares of the `open` and `closed` policies. */
  readonly other: readonly Policy[];
  readonly otherIndexes: readonly number[];
  /** Whether any policy is `closed`, which rejects the request whatever the others decide. */
  readonly closed: boolean;
}

const BUCKETS: ReadonlySet<string> = new Set(["token-bucket", "leaky-bucket", "gcra"]);

/** Returns `policy` with its limit and burst cut to `share`, at least 1 each. */
function shrink(policy: Policy, share: number): Policy {
  if (share === 1) return policy;
  const burst = Math.max(1, Math.floor(policy.burst * share));
  return parsePolicy({
    name: policy.name,
    limit: Math.max(1, Math.floor(policy.limit * share)),
    window: policy.window,
    algorithm: policy.algorithm,
    failureMode: policy.failureMode,
    ...(BUCKETS.has(policy.algorithm) ? { burst } : {}),
  });
}
