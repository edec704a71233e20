/**
 * GCRA (generic cell rate algorithm): keeps one theoretical arrival time (TAT) per key, the
 * time at which the key's bucket would be full again. A request of `cost` moves the TAT
 * `cost × window / limit` ms later and passes when the TAT stays within `burst` emission
 * intervals of now.
 *
 * Good for: the default. For requests in time order it decides exactly like a token bucket
 * with capacity `burst` refilled at `limit` per `window`, but its state is a single time
 * with no separate refill step, so it is cheap to store and to update atomically in Redis.
 * Costs: its state reads less naturally than a token count when debugging.
 *
 * The emission interval `rateInterval / rateUnits` ms is rarely whole, so the TAT is kept as
 * whole milliseconds plus a remainder in units of `1 / rateUnits` ms ("ticks"). Nothing is
 * rounded between requests, so the rate never drifts. Times are added and compared in this
 * split form, never as `now × rateUnits`, so no intermediate value passes 2^53 however far
 * the TAT is from now.
 *
 * A request stamped earlier than the key's last admission is decided at that admission's
 * time, as in the token and leaky buckets, so out-of-order stamps never refund quota and
 * GCRA decides exactly like them. The ticks are read in `1 / rateUnits` ms of the current
 * policy, so after a change of rate the TAT can move by under a millisecond. A remainder
 * too large for the new rate rounds the TAT up to the next whole millisecond.
 *
 * NOTE: because the TAT is a time, a change that lowers the rate makes the same backlog
 * worth fewer tokens: a key that emptied a bucket of 10 at 20/s finds 5 free at 10/s. The
 * state would need the old `rateInterval` to convert the backlog into tokens instead.
 *
 * State: `[tatMs, tatTicks, lastAdmitted]`, with `0 ≤ tatTicks < rateUnits` under an
 * unchanged policy.
 */
import { type Algorithm, commitFixedState } from "./algorithm.js";

export const gcra: Algorithm = {
  name: "gcra",

  decide(policy, state, requestedAt, cost, out) {
    const { data, offset } = state;
    const ticksPerMs = policy.rateUnits;
    // Burst tolerance in ticks, which parsePolicy keeps a safe integer.
    const tolerance = policy.burst * policy.rateInterval;

    let now = requestedAt;
    let baseMs = now;
    let baseTicks = 0;
    if (!state.empty) {
      now = Math.max(requestedAt, data[offset + 2] ?? 0);
      baseMs = now;
      let tatMs = data[offset] ?? 0;
      let tatTicks = data[offset + 1] ?? 0;
      if (tatTicks >= ticksPerMs) {
        tatMs += 1;
        tatTicks = 0;
      }
      if (tatMs > now || (tatMs === now && tatTicks > 0)) {
        baseMs = tatMs;
        baseTicks = tatTicks;
      }
    }

    // The request passes when its new TAT (base + increment) is at most `tolerance` ahead of
    // now, that is when base − slack ≤ now. Each sum below stays within 2^53.
    const increment = cost * policy.rateInterval;
    const slack = tolerance - increment;
    let allowMs = baseMs - Math.floor(slack / ticksPerMs);
    let allowTicks = baseTicks - (slack % ticksPerMs);
    if (allowTicks < 0) {
      allowTicks += ticksPerMs;
      allowMs -= 1;
    }
    const allowAt = allowTicks > 0 ? allowMs + 1 : allowMs;
    const allowed = allowAt <= now;

    let afterMs = baseMs;
    let afterTicks = baseTicks;
    if (allowed) {
      const incrementTicks = increment % ticksPerMs;
      afterMs += Math.floor(increment / ticksPerMs);
      // baseTicks + incrementTicks, carried without forming a sum that may pass 2^53.
      afterTicks = incrementTicks - (ticksPerMs - baseTicks);
      if (afterTicks >= 0) {
        afterMs += 1;
      } else {
        afterTicks += ticksPerMs;
      }
    }

    // Room left in ticks is tolerance − (after − now). There is none once the TAT is at
    // least `tolerance` ahead, which a policy change or an earlier stamp can cause.
    const aheadMs = afterMs - now;
    const room =
      aheadMs > Math.floor(tolerance / ticksPerMs)
        ? 0
        : tolerance - aheadMs * ticksPerMs - afterTicks;
    const untilFull = afterTicks > 0 ? aheadMs + 1 : aheadMs;

    out.allowed = allowed;
    out.remaining = room > 0 ? Math.floor(room / policy.rateInterval) : 0;
    out.resetAt = now + untilFull;
    out.retryAfter = allowed ? 0 : allowAt - now;
    out.ttl = Math.max(1, untilFull);
    out.now = now;
    out.cost = cost;
    out.next0 = afterMs;
    out.next1 = afterTicks;
    out.next2 = now;
  },

  commit: commitFixedState,
};
