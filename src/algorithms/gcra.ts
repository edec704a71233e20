/**
 * GCRA (generic cell rate algorithm): keeps one theoretical arrival time (TAT) per key, the
 * time at which the key's bucket would be full again. A request of `cost` moves the TAT
 * `cost × window / limit` ms later and passes when the TAT stays within `burst` emission
 * intervals of now.
 *
 * Good for: the default. It decides exactly like a token bucket with capacity `burst`
 * refilled at `limit` per `window`, but its state is a single time with no separate
 * refill step, so it is cheap to store and to update atomically in Redis. Costs: its state
 * reads less naturally than a token count when debugging.
 *
 * The emission interval `rateInterval / rateUnits` ms is rarely whole, so the TAT is kept as
 * whole milliseconds plus a remainder in units of `1 / rateUnits` ms ("ticks"). Nothing is
 * rounded between requests, so the rate never drifts.
 *
 * State: `[tatMs, tatTicks, scale]`, with `0 ≤ tatTicks < scale`.
 */
import { type Algorithm, ceilDiv, commitFixedState, rescale } from "./algorithm.js";

export const gcra: Algorithm = {
  name: "gcra",

  decide(policy, state, now, cost, out) {
    const { data, offset } = state;
    const ticksPerMs = policy.rateUnits;
    const capacity = policy.burst * policy.rateInterval;

    let baseMs = now;
    let baseTicks = 0;
    if (!state.empty) {
      let tatMs = data[offset] ?? 0;
      let tatTicks = rescale(
        data[offset + 1] ?? 0,
        data[offset + 2] ?? ticksPerMs,
        ticksPerMs,
        Math.ceil,
      );
      if (tatTicks >= ticksPerMs) {
        tatMs += Math.floor(tatTicks / ticksPerMs);
        tatTicks %= ticksPerMs;
      }
      if (tatMs > now || (tatMs === now && tatTicks > 0)) {
        baseMs = tatMs;
        baseTicks = tatTicks;
      }
    }

    // Backlog: how far the TAT is ahead of now, in ticks. Bounded by the capacity, so it
    // stays a safe integer even when `now × rateUnits` would not.
    const backlog = (baseMs - now) * ticksPerMs + baseTicks;
    const increment = cost * policy.rateInterval;
    const allowed = backlog + increment <= capacity;
    const used = allowed ? backlog + increment : backlog;
    const untilFull = ceilDiv(used, ticksPerMs);

    out.allowed = allowed;
    out.remaining = Math.floor((capacity - used) / policy.rateInterval);
    out.resetAt = now + untilFull;
    out.retryAfter = allowed ? 0 : ceilDiv(backlog + increment - capacity, ticksPerMs);
    out.ttl = Math.max(1, untilFull);
    out.now = now;
    out.cost = cost;
    out.next0 = baseMs + Math.floor((baseTicks + increment) / ticksPerMs);
    out.next1 = (baseTicks + increment) % ticksPerMs;
    out.next2 = ticksPerMs;
  },

  commit: commitFixedState,
};
