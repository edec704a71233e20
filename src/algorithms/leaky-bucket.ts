/**
 * Leaky bucket, as a meter: each request pours `cost` into a bucket of size `burst` that
 * leaks at `limit` per `window`; a request that would overflow it is rejected.
 *
 * Good for: teams that think in queue depth: the state is the load in flight, and it
 * drains to zero when the client goes quiet. Costs: two numbers per key plus their scale.
 * As a meter it admits exactly what a token bucket with the same parameters admits (the
 * level is the capacity minus the tokens); pick the one whose state your dashboards and
 * people read more naturally. It does not delay requests the way a leaky bucket used as a
 * queue does.
 *
 * The level is kept in units of `1 / rateInterval`, so leaking `rateUnits` units per
 * millisecond is exact integer arithmetic with no drift.
 *
 * A request stamped before the state's time is decided at that time, so it never refunds
 * quota. A policy change rescales the level into the new units, rounding up. It keeps the
 * quota already used, so a larger bucket has room at once, while a token bucket keeps only
 * its free tokens and does not. A smaller bucket spills its excess and starts full.
 *
 * State: `[level, lastLeak, scale]`, level in units of `1 / scale` request.
 */
import { type Algorithm, ceilDiv, commitFixedState, rescale } from "./algorithm.js";

export const leakyBucket: Algorithm = {
  name: "leaky-bucket",

  decide(policy, state, requestedAt, cost, out) {
    const { data, offset } = state;
    const scale = policy.rateInterval;
    const leakPerMs = policy.rateUnits;
    const capacity = policy.burst * scale;

    let level = 0;
    let now = requestedAt;
    if (!state.empty) {
      const lastLeak = data[offset + 1] ?? 0;
      now = Math.max(requestedAt, lastLeak);
      // A bucket that a policy change made smaller spills what it cannot hold. The key
      // starts full instead of in debt, so every field stays within the new policy's range.
      const stored = Math.min(
        capacity,
        rescale(data[offset] ?? 0, data[offset + 2] ?? scale, scale, Math.ceil),
      );
      const elapsed = now - lastLeak;
      level = elapsed >= ceilDiv(stored, leakPerMs) ? 0 : stored - elapsed * leakPerMs;
    }

    // Comparing the cost with the room, not the sum with the capacity, keeps every value
    // within the capacity, which parsePolicy keeps a safe integer.
    const room = capacity - level;
    const poured = cost * scale;
    const allowed = poured <= room;
    const filled = allowed ? level + poured : level;
    const untilEmpty = ceilDiv(filled, leakPerMs);

    out.allowed = allowed;
    out.remaining = Math.floor((capacity - filled) / scale);
    out.resetAt = now + untilEmpty;
    out.retryAfter = allowed ? 0 : ceilDiv(poured - room, leakPerMs);
    out.ttl = Math.max(1, untilEmpty);
    out.now = now;
    out.cost = cost;
    out.next0 = filled;
    out.next1 = now;
    out.next2 = scale;
  },

  commit: commitFixedState,
};
