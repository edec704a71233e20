/**
 * Sliding-window counter: counts requests in fixed windows aligned to the epoch and
 * estimates the rolling count as the current window's count plus the previous window's
 * count weighted by how much of it still overlaps the rolling window.
 *
 * Good for: smoothing the double burst of a fixed window at the cost of three numbers per
 * key. Costs: the estimate assumes the previous window's requests were spread evenly, so it
 * can admit slightly more or fewer than an exact log would.
 *
 * The test is `previous × (window − elapsed) + (current + cost) × window ≤ limit × window`,
 * in integers. It is evaluated as `ceil(previous × (window − elapsed) / window) ≤ limit −
 * current − cost`, which is the same test because the right side is an integer. Products
 * beyond 2^53 are computed with BigInt, so the decision stays exact for any safe limit and
 * window. A port that has only doubles, such as Lua in Redis, needs an exact multiply-divide
 * for those products too.
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
    // Units of the previous window still inside the rolling window, rounded up so the
    // estimate never admits more than the scaled test above allows.
    const previousWeight = mulDivCeil(previous, window - elapsed, window);
    const room = limit - current - previousWeight;
    const allowed = cost <= room;
    const used = allowed ? current + cost : current;

    out.allowed = allowed;
    out.remaining = Math.max(0, allowed ? room - cost : room);
    out.resetAt = now;
    if (used > 0) out.resetAt = windowStart + 2 * window;
    else if (previous > 0) out.resetAt = windowStart + window;
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
 * Called only for a rejected request, which bounds each quotient below `window`.
 */
function waitForRoom(
  limit: number,
  window: number,
  elapsed: number,
  current: number,
  previous: number,
  cost: number,
): number {
  // In this window the request fits from `fitsAt = window − floor(room × window / previous)`
  // on. A rejection with `room ≥ 0` implies `previous > room`, so the quotient is below window.
  const room = limit - current - cost;
  if (room >= 0 && previous > 0) {
    const fitsAt = window - mulDivFloor(room, window, previous);
    if (fitsAt < window) return fitsAt - elapsed;
  }

  const untilNextWindow = window - elapsed;
  if (limit - cost >= current) return untilNextWindow;
  // Here `limit − cost < current`, so the quotient is below `window`.
  const fitsAtNext = window - mulDivFloor(limit - cost, window, current);
  return untilNextWindow + fitsAtNext;
}

/** Returns `floor(a × b / divisor)` exactly for non-negative safe integers. */
function mulDivFloor(a: number, b: number, divisor: number): number {
  const product = a * b;
  // Below 2^53 the product is exact and a rounded quotient never crosses an integer.
  if (product <= Number.MAX_SAFE_INTEGER) return Math.floor(product / divisor);
  return Number((BigInt(a) * BigInt(b)) / BigInt(divisor));
}

/** Returns `ceil(a × b / divisor)` exactly for non-negative safe integers. */
function mulDivCeil(a: number, b: number, divisor: number): number {
  const product = a * b;
  if (product <= Number.MAX_SAFE_INTEGER) return Math.ceil(product / divisor);
  const big = BigInt(a) * BigInt(b);
  const bigDivisor = BigInt(divisor);
  return Number((big + bigDivisor - 1n) / bigDivisor);
}
