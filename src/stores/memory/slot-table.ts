import { STATE_SIZE } from "../../algorithms/algorithm.js";

/** Numbers per slot in a state page: the algorithm's state, then the expiry time. */
export const STRIDE = STATE_SIZE + 1;
/** Index of the expiry time within a slot's numbers. */
export const EXPIRES = STATE_SIZE;

/**
 * Slots per state page. Pages are never copied or moved once full size, so growing the
 * table costs no pause, and the unused tail of the last page bounds the waste
 * (2^12 slots × 32 bytes = 128 KiB).
 */
const PAGE_BITS = 12;
const PAGE_SLOTS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SLOTS - 1;
/** Slots of the first page before it grows, so a store with few keys stays small. */
const FIRST_PAGE_SLOTS = 64;

/** Int32 numbers per slot in `#links`: previous, next, owner. */
const LINK_STRIDE = 3;
const PREVIOUS = 0;
const NEXT = 1;
const OWNER = 2;
/** Marks the end of the LRU list, and the owner of a free slot. */
const NONE = -1;

/** Largest `maxSlots`: slot numbers and links are 32-bit integers. */
export const MAX_SLOTS = 2 ** 31 - 1;

/**
 * Fixed-size slots for per-key state in flat typed arrays, with a least-recently-used list
 * threaded through them. Numbers live in `Float64Array` pages and links in one
 * `Int32Array`, so a tracked key costs 52 bytes here (32 of state, 12 of links, 8 for the
 * key reference) plus its entry in the owner's `Map` and its key string, and the garbage
 * collector has no object per key to trace.
 *
 * Each slot belongs to a `(owner, key)` pair. An owner is a `Map` from key to slot, one per
 * policy, and the table removes the key from it when it frees the slot.
 */
export class SlotTable {
  readonly maxSlots: number;
  #pages: Float64Array[] = [];
  /** `[previous, next, owner]` per slot; owner is `NONE` while the slot is free. */
  #links = new Int32Array(0);
  #keys: (string | undefined)[] = [];
  #owners: Map<string, number>[] = [];
  /** Sliding-log entries by slot; only slots of sliding-log policies have one. */
  #logs = new Map<number, number[]>();
  #freeSlots: number[] = [];
  #mostRecent = NONE;
  #leastRecent = NONE;
  /** Slots handed out at least once: slot numbers below it are in use or free. */
  #allocated = 0;
  #size = 0;
  #sweepCursor = 0;

  constructor(maxSlots: number) {
    this.maxSlots = maxSlots;
  }

  /** Number of slots in use. */
  get size(): number {
    return this.#size;
  }

  /** Number of slots that hold a sliding log. */
  get logCount(): number {
    return this.#logs.size;
  }

  /** Registers a key-to-slot map and returns the owner id that `allocate` takes. */
  addOwner(keys: Map<string, number>): number {
    this.#owners.push(keys);
    return this.#owners.length - 1;
  }

  /**
   * Returns the state page that contains `slot`. Only the first page is ever replaced, while
   * it grows, so callers read the page again after `allocate`.
   */
  page(slot: number): Float64Array {
    return this.#pages[slot >>> PAGE_BITS] as Float64Array;
  }

  /** Index of the first state number of `slot` in its page. */
  offset(slot: number): number {
    return (slot & PAGE_MASK) * STRIDE;
  }

  /** Epoch ms after which the slot's state equals no state. */
  expiresAt(slot: number): number {
    return (this.#pages[slot >>> PAGE_BITS] as Float64Array)[
      (slot & PAGE_MASK) * STRIDE + EXPIRES
    ] as number;
  }

  setExpiresAt(slot: number, at: number): void {
    (this.#pages[slot >>> PAGE_BITS] as Float64Array)[(slot & PAGE_MASK) * STRIDE + EXPIRES] = at;
  }

  /** Returns the sliding log of `slot`, if it has one. */
  logOf(slot: number): number[] | undefined {
    return this.#logs.get(slot);
  }

  setLog(slot: number, log: number[] | undefined): void {
    if (log === undefined) this.#logs.delete(slot);
    else this.#logs.set(slot, log);
  }

  /** Marks a slot as the most recently used. */
  touch(slot: number): void {
    if (slot === this.#mostRecent) return;
    this.#unlink(slot);
    this.#pushFront(slot);
  }

  /**
   * Takes a slot for `key` of `owner`, records it in the owner's map and returns it.
   *
   * Every call first checks two slots from a rotating cursor and frees them if expired, so
   * expired keys are reclaimed at twice the rate new keys arrive even when no timer runs.
   * At capacity it then frees one slot: the least recently used if it has expired, else an
   * expired one found in a short scan, else the least recently used.
   */
  allocate(owner: number, key: string, now: number): number {
    this.sweep(now, 2);
    if (this.#size >= this.maxSlots) this.#evictOne(now);

    const slot = this.#freeSlots.pop() ?? this.#grow();
    const links = this.#links;
    links[slot * LINK_STRIDE + OWNER] = owner;
    this.#keys[slot] = key;
    this.#pushFront(slot);
    this.#size++;
    (this.#owners[owner] as Map<string, number>).set(key, slot);
    return slot;
  }

  /** Frees a slot, its sliding log, and its key in its owner's map. */
  release(slot: number): void {
    const links = this.#links;
    const owner = links[slot * LINK_STRIDE + OWNER] as number;
    if (owner === NONE) return;

    const key = this.#keys[slot] as string;
    (this.#owners[owner] as Map<string, number>).delete(key);
    links[slot * LINK_STRIDE + OWNER] = NONE;
    this.#keys[slot] = undefined;
    if (this.#logs.size > 0) this.#logs.delete(slot);
    this.#unlink(slot);
    this.#freeSlots.push(slot);
    this.#size--;
  }

  /** Checks up to `budget` slots from a rotating cursor, frees the expired ones, returns how many. */
  sweep(now: number, budget: number): number {
    const allocated = this.#allocated;
    if (allocated === 0) return 0;

    const links = this.#links;
    const checks = Math.min(budget, allocated);
    let cursor = this.#sweepCursor;
    let freed = 0;
    for (let i = 0; i < checks; i++) {
      if (links[cursor * LINK_STRIDE + OWNER] !== NONE && this.expiresAt(cursor) <= now) {
        this.release(cursor);
        freed++;
      }
      cursor = cursor + 1 === allocated ? 0 : cursor + 1;
    }
    this.#sweepCursor = cursor;
    return freed;
  }

  /** Frees every slot; the pages stay allocated for reuse. */
  clear(): void {
    for (let slot = 0; slot < this.#allocated; slot++) this.release(slot);
  }

  #evictOne(now: number): void {
    const oldest = this.#leastRecent;
    if (this.expiresAt(oldest) <= now) {
      this.release(oldest);
      return;
    }
    if (this.sweep(now, 32) > 0) return;
    this.release(oldest);
  }

  /** Extends the table by one slot and returns it; the caller has checked `maxSlots`. */
  #grow(): number {
    const slot = this.#allocated;
    const pageIndex = slot >>> PAGE_BITS;
    const page = this.#pages[pageIndex];
    const inPage = slot & PAGE_MASK;
    if (page === undefined) {
      const slots = pageIndex === 0 ? FIRST_PAGE_SLOTS : PAGE_SLOTS;
      this.#pages.push(new Float64Array(Math.min(slots, this.maxSlots - slot) * STRIDE));
    } else if (inPage * STRIDE >= page.length) {
      // Only the first page grows. Callers read pages again after every allocation.
      const slots = Math.min(PAGE_SLOTS, inPage * 2, this.maxSlots);
      const grown = new Float64Array(slots * STRIDE);
      grown.set(page);
      this.#pages[pageIndex] = grown;
    }

    if ((slot + 1) * LINK_STRIDE > this.#links.length) {
      const slots = Math.min(this.maxSlots, Math.max(FIRST_PAGE_SLOTS, slot * 2));
      const links = new Int32Array(slots * LINK_STRIDE);
      links.set(this.#links);
      this.#links = links;
    }

    this.#allocated++;
    this.#keys.push(undefined);
    return slot;
  }

  #pushFront(slot: number): void {
    const links = this.#links;
    const front = this.#mostRecent;
    links[slot * LINK_STRIDE + PREVIOUS] = NONE;
    links[slot * LINK_STRIDE + NEXT] = front;
    if (front === NONE) this.#leastRecent = slot;
    else links[front * LINK_STRIDE + PREVIOUS] = slot;
    this.#mostRecent = slot;
  }

  #unlink(slot: number): void {
    const links = this.#links;
    const before = links[slot * LINK_STRIDE + PREVIOUS] as number;
    const after = links[slot * LINK_STRIDE + NEXT] as number;
    if (before === NONE) this.#mostRecent = after;
    else links[before * LINK_STRIDE + NEXT] = after;
    if (after === NONE) this.#leastRecent = before;
    else links[after * LINK_STRIDE + PREVIOUS] = before;
  }
}
