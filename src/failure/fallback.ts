import { combineOutcomes } from "../decision.js";
import { type Policy, parsePolicy } from "../policy/policy.js";
import { MemoryStore } from "../stores/memory/memory-store.js";
import type { ConsumeRequest, Outcome } from "../stores/store.js";
import type { Decision, Logger } from "../types.js";

/** Why a decision was made without the store. */
export type DegradedReason = "store-timeout" | "store-error" | "store-unavailable";

/** Options of {@link Fallback}. */
export interface FallbackOptions {
  /** Share of each policy's limit and burst the in-process limiter holds, in (0, 1]. */
  readonly localShare: number;
  /** Ms a `closed` policy tells clients to wait. */
  readonly closedRetryAfter: number;
  /** Most keys the in-process limiter tracks. */
  readonly maxKeys: number;
  readonly clock: () => number;
  readonly logger: Logger;
}

/**
 * Decides requests while the store cannot, by each policy's failure mode: `closed` rejects,
 * `open` allows, and `local` asks an in-process limiter holding `localShare` of the limit.
 * The in-process limiter runs for every mode so that the decision still carries a sensible
 * `remaining` and `resetAt`.
 */
export class Fallback {
  #options: FallbackOptions;
  #store: MemoryStore;
  #localPolicies = new WeakMap<readonly Policy[], readonly Policy[]>();
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
    const local = this.#local(request.policies);
    let closed = false;
    for (const policy of request.policies) closed ||= policy.failureMode === "closed";

    // A closed policy rejects the request, so nothing is consumed from the local share.
    this.#store.consumeSync(
      { ...request, policies: local, dryRun: request.dryRun || closed },
      this.#outcomes,
    );

    for (let i = 0; i < local.length; i++) {
      const outcome = this.#outcomes[i] as Outcome;
      const mode = (request.policies[i] as Policy).failureMode;
      if (mode === "open") {
        outcome.allowed = true;
        outcome.retryAfter = 0;
      } else if (mode === "closed") {
        outcome.allowed = false;
        outcome.retryAfter = Math.max(outcome.retryAfter, this.#options.closedRetryAfter);
      }
    }
    return combineOutcomes(request.policies, this.#outcomes, true, reason);
  }

  /** Forgets a key's in-process state. */
  reset(key: string, policies: readonly Policy[]): void {
    this.#store.resetSync(key, this.#local(policies));
  }

  async close(): Promise<void> {
    await this.#store.close();
  }

  #local(policies: readonly Policy[]): readonly Policy[] {
    let local = this.#localPolicies.get(policies);
    if (local === undefined) {
      local = policies.map((policy) => shrink(policy, this.#options.localShare));
      this.#localPolicies.set(policies, local);
    }
    return local;
  }
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
