/**
 * Fixed window: counts requests in a window that opens at the key's first request and
 * closes `window` ms later; the next request after that opens a new one.
 *
 * Good for: simple quotas that users read as "N per minute", and the cheapest state (a
 * count and a start time). Costs: a client can spend its limit at the end of one window and
 * again at the start of the next, so up to twice the limit passes within one window's
 * length. Opening the window at the first request (not on clock boundaries) spreads
 * resets over time, so keys do not all reset at once.
 *
 * State: `[windowStart, count, 0]`.
 */
import { type Algorithm, commitFixedState } from "./algorithm.js";

export const fixedWindow: Algorithm = {
  name: "fixed-window",

  decide(policy, state, requestedAt, cost, out) {
    const { data, offset } = state;
    let start = state.empty ? requestedAt : (data[offset] ?? 0);
    let count = state.empty ? 0 : (data[offset + 1] ?? 0);
    const now = Math.max(requestedAt, start);

    if (now >= start + policy.window) {
      start = now;
      count = 0;
    }

    const allowed = count + cost <= policy.limit;
    const used = allowed ? count + cost : count;
    const windowEnd = start + policy.window;

    out.allowed = allowed;
    // A limit lowered under a key that already used more leaves `used` above it.
    out.remaining = Math.max(0, policy.limit - used);
    out.resetAt = used === 0 ? now : windowEnd;
    out.retryAfter = allowed ? 0 : windowEnd - now;
    out.ttl = windowEnd - now;
    out.now = now;
    out.cost = cost;
    out.next0 = start;
    out.next1 = used;
    out.next2 = 0;
  },

  commit: commitFixedState,
};
