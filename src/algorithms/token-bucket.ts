/**
 * Token bucket: a bucket of `burst` tokens refills continuously at `limit` tokens per
 * `window`; a request takes `cost` tokens or is rejected.
 *
 * Good for: APIs that allow short bursts above the average rate, with a clear capacity
 * (`burst`) and refill rate. Costs: two numbers per key plus the scale they are kept in.
 *
 * Tokens are kept in units of `1 / rateInterval` token, so a refill of `rateUnits` units per
 * millisecond is exact integer arithmetic: a token every 333 ms stays a token every 333 ms
 * after any number of requests. The scale is stored with the state, so a policy change
 * rescales the tokens instead of misreading them. It rounds them down and keeps at most
 * the new capacity: free tokens carry over, but a larger bucket is not topped up.
 *
 * A request stamped before the state's time is decided at that time, so it never refunds
 * quota.
 *
 * State: `[tokens, lastRefill, scale]`, tokens in units of `1 / scale` token.
 */
import { type Algorithm, ceilDiv, commitFixedState, rescale } from "./algorithm.js";

export const tokenBucket: Algorithm = {
  name: "token-bucket",

  decide(policy, state, requestedAt, cost, out) {
    const { data, offset } = state;
    const scale = policy.rateInterval;
    const refillPerMs = policy.rateUnits;
    const capacity = policy.burst * scale;

    let tokens = capacity;
    let now = requestedAt;
    if (!state.empty) {
      const lastRefill = data[offset + 1] ?? 0;
      now = Math.max(requestedAt, lastRefill);
      const stored = rescale(data[offset] ?? 0, data[offset + 2] ?? scale, scale, Math.floor);
      const missing = capacity - stored;
      const elapsed = now - lastRefill;
      tokens = elapsed >= ceilDiv(missing, refillPerMs) ? capacity : stored + elapsed * refillPerMs;
    }

    const needed = cost * scale;
    const allowed = tokens >= needed;
    const left = allowed ? tokens - needed : tokens;
    const untilFull = ceilDiv(capacity - left, refillPerMs);

    out.allowed = allowed;
    out.remaining = Math.floor(left / scale);
    out.resetAt = now + untilFull;
    out.retryAfter = allowed ? 0 : ceilDiv(needed - tokens, refillPerMs);
    out.ttl = Math.max(1, untilFull);
    out.now = now;
    out.cost = cost;
    out.next0 = left;
    out.next1 = now;
    out.next2 = scale;
  },

  commit: commitFixedState,
};
