import type { Policy } from "./policy/policy.js";
import type { Outcome } from "./stores/store.js";
import type { Decision, DecisionReason } from "./types.js";

/**
 * Combines one outcome per policy into the request's decision. When every policy allowed,
 * it reports the policy with the fewest units left. Otherwise it reports a policy that can
 * never admit the cost, if any, else the rejecting policy that clears last.
 */
export function combineOutcomes(
  policies: readonly Policy[],
  outcomes: readonly Outcome[],
  degraded: boolean,
  reason?: DecisionReason,
): Decision {
  let reported = 0;
  if (outcomes.length > 1) reported = mostRestrictive(outcomes);

  const outcome = outcomes[reported] as Outcome;
  const policy = policies[reported] as Policy;
  return {
    allowed: outcome.allowed,
    limit: policy.limit,
    remaining: outcome.remaining,
    resetAt: outcome.resetAt,
    retryAfter: outcome.retryAfter,
    policy: policy.name,
    reason: reason ?? outcome.reason,
    degraded,
  };
}

function mostRestrictive(outcomes: readonly Outcome[]): number {
  let best = 0;
  for (let i = 1; i < outcomes.length; i++) {
    if (outranks(outcomes[i] as Outcome, outcomes[best] as Outcome)) best = i;
  }
  return best;
}

function outranks(candidate: Outcome, current: Outcome): boolean {
  if (candidate.allowed !== current.allowed) return !candidate.allowed;
  if (candidate.allowed) return candidate.remaining < current.remaining;

  const candidateNever = candidate.reason === "cost-exceeds-capacity";
  const currentNever = current.reason === "cost-exceeds-capacity";
  if (candidateNever !== currentNever) return candidateNever;
  return candidate.retryAfter > current.retryAfter;
}
