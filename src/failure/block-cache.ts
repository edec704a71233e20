import type { Decision } from "../types.js";

/**
 * Remembers keys a remote store rejected until the time they can pass again, so repeated
 * requests from a blocked client are rejected in process without a round trip. Bounded:
 * past `maxEntries` the oldest entry is dropped, which only costs a round trip later.
 */
export class BlockCache {
  readonly maxEntries: number;
  #entries = new Map<string, BlockedEntry>();

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  /** Records that `key` rejects requests of `entry.cost` or more until `entry.until`. */
  block(key: string, entry: BlockedEntry): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, entry);
  }

  /**
   * Returns the entry blocking a request of `cost` for `key` at `now`, if any. A smaller cost
   * than the one rejected may still fit, so it is not blocked.
   */
  lookup(key: string, cost: number, now: number): BlockedEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return cost >= entry.cost ? entry : undefined;
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** A rejection to repeat until `until`. */
export interface BlockedEntry {
  /** Local epoch ms from which the key may pass again. */
  readonly until: number;
  /** Smallest cost known not to fit until then. */
  readonly cost: number;
  /** The store's rejection, repeated with a shorter `retryAfter` while it lasts. */
  readonly decision: Decision;
}
