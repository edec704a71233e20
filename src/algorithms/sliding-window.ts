/**
 * Sliding-window counter: counts requests in fixed windows aligned to the epoch and
 * estimates the rolling count as the current window's count plus the previous window's
 * count weighted by how much of it still overlaps the rolling window.
 *
 * Good for: smoothing the double burst of a fixed window at the cost of three numbers per
 * key. Costs: the estimate assumes the previous window's requests were spread evenly, so it
 * can admit slightly more or fewer than an exact log would. All arithmetic is scaled by the
 * window length to stay in integers: the test is
 * `previous × (window − elapsed) + (current + cost) × window ≤ limit × window`.
 *
 * State: `[lastSeen, current, previous]`; the window index is `floor(lastSeen / window)`.
 */
import { type Algorithm, commitFixedState } from "./algorithm.js";

export const slidingWindow: Algorithm = {
  name: "sliding-window",

  decide(policy, state, requestedAt, cost, out) {
    const { data, offset } = state;
    const window = policy.window;
    const limit = policy.limit;

    const lastSeen = state.empty ? requestedAt : (data[offset] ?? 0);
    const now = Math.max(requestedAt, lastSeen);
    let current = state.empty ? 0 : (data[offset + 1] ?? 0);
    let previous = state.empty ? 0 : (data[offset + 2] ?? 0);

    const index = Math.floor(now / window);
    const windowsPassed = index - Math.floor(lastSeen / window);
    if (windowsPassed === 1) {
      previous = current;
      current = 0;
    } else if (windowsPassed > 1) {
      previous = 0;
      current = 0;
    }

    const windowStart = index * window;
    const elapsed = now - windowStart;
    const weighted = previous * (window - elapsed) + current * window;
    const allowed = weighted + cost * window <= limit * window;
    const used = allowed ? current + cost : current;
    const usedWeighted = allowed ? weighted + cost * window : weighted;

    out.allowed = allowed;
    out.remaining = Math.max(0, Math.floor((limit * window - usedWeighted) / window));
    out.resetAt = used > 0 ? windowStart + 2 * window : previous > 0 ? windowStart + window : now;
    out.retryAfter = allowed ? 0 : waitForRoom(limit, window, elapsed, current, previous, cost);
    out.ttl = Math.max(1, windowStart + 2 * window - now);
    out.now = now;
    out.cost = cost;
    out.next0 = now;
    out.next1 = used;
    out.next2 = previous;
  },

  commit: commitFixedState,
};

/**
 * Returns the ms from `elapsed` (into the current window) until `cost` fits: first as the
 * previous window's weight fades in this window, else in the next window once the current
 * count has become the previous one. `cost ≤ limit`, so the window after next always fits.
 */
function waitForRoom(
  limit: number,
  window: number,
  elapsed: number,
  current: number,
  previous: number,
  cost: number,
): number {
  const roomNow = (limit - current - cost) * window;
  if (roomNow >= 0 && previous > 0) {
    const fitsAt = window - Math.floor(roomNow / previous);
    if (fitsAt < window) return fitsAt - elapsed;
  }

  const untilNextWindow = window - elapsed;
  if (current === 0) return untilNextWindow;
  const fitsAtNext = Math.max(0, window - Math.floor(((limit - cost) * window) / current));
  return untilNextWindow + fitsAtNext;
}
