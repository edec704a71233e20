/**
 * Sliding log: remembers the time and cost of every admitted request and admits a new one
 * when the costs admitted in the last `window` ms, plus its own, stay within `limit`.
 *
 * Good for: exact limits where no burst above the limit is acceptable in any window, such
 * as login attempts or expensive jobs. Costs: memory and time grow with `limit`, because a
 * key keeps up to `limit` entries (requests admitted in the same millisecond share one).
 *
 * An entry admitted at `t` counts while `now < t + window`.
 *
 * State: `[activeCost, newest, head]`, and `log` as `[time, cost, …]`, oldest first, whose
 * entries before index `head` (counted in numbers, two per entry) are expired.
 */
import type { Algorithm, StateView, Verdict } from "./algorithm.js";

/** Expired entries kept at the front of a log before it is compacted. */
const COMPACT_AFTER = 64;

export const slidingLog: Algorithm = {
  name: "sliding-log",

  decide(policy, state, requestedAt, cost, out) {
    const { data, offset } = state;
    const log = state.log;
    const window = policy.window;
    const limit = policy.limit;

    const empty = state.empty || log === undefined;
    const newest = empty ? requestedAt : (data[offset + 1] ?? 0);
    const now = Math.max(requestedAt, newest);

    let active = empty ? 0 : (data[offset] ?? 0);
    let head = empty ? 0 : (data[offset + 2] ?? 0);
    const length = empty ? 0 : log.length;
    while (head < length && (log?.[head] ?? 0) + window <= now) {
      active -= log?.[head + 1] ?? 0;
      head += 2;
    }

    const allowed = active + cost <= limit;
    const used = allowed ? active + cost : active;
    const newestAfter = allowed && cost > 0 ? now : newest;

    out.allowed = allowed;
    // A limit lowered under a key that already used more leaves `used` above it.
    out.remaining = Math.max(0, limit - used);
    out.resetAt = used === 0 ? now : newestAfter + window;
    out.retryAfter = allowed
      ? 0
      : waitForExpiry(empty ? undefined : log, head, active + cost - limit, window, now);
    out.ttl = Math.max(1, newestAfter + window - now);
    out.now = now;
    out.cost = cost;
    out.next0 = used;
    out.next1 = newestAfter;
    out.next2 = head;
  },

  commit: commitLog,
};

/** Drops expired entries, appends the admitted request and stores the totals. */
function commitLog(_policy: unknown, state: StateView, out: Verdict): void {
  let log = state.empty || state.log === undefined ? [] : state.log;
  let head = out.next2;

  if (head >= COMPACT_AFTER && head * 2 >= log.length) {
    log = log.slice(head);
    head = 0;
  }

  const cost = out.cost;
  const last = log.length - 2;
  if (last >= head && log[last] === out.now) {
    log[last + 1] = (log[last + 1] ?? 0) + cost;
  } else {
    log.push(out.now, cost);
  }

  state.log = log;
  state.data[state.offset] = out.next0;
  state.data[state.offset + 1] = out.next1;
  state.data[state.offset + 2] = head;
  state.empty = false;
}

/** Returns the ms until entries worth at least `excess` have expired. */
function waitForExpiry(
  log: number[] | undefined,
  head: number,
  excess: number,
  window: number,
  now: number,
): number {
  let freed = 0;
  for (let i = head; log !== undefined && i < log.length; i += 2) {
    freed += log[i + 1] ?? 0;
    if (freed >= excess) return (log[i] ?? 0) + window - now;
  }
  // Unreachable while cost ≤ limit, because expiring every entry frees all active cost.
  return window;
}
