import { STATE_SIZE } from "../../algorithms/algorithm.js";

/** Numbers per slot: the algorithm's state, then the expiry time. */
export const STRIDE = STATE_SIZE + 1;
const EXPIRES = STATE_SIZE;
const NONE = -1;

/**
 * Fixed-size slots for per-key state in flat typed arrays, with a least-recently-used list
 * threaded through them. Keeping numbers in `Float64Array`s instead of one object per key
 * makes a tracked key cost a few dozen bytes and gives the garbage collector nothing to trace.
 *
 * Slots are owned by a `(table, key)` pair; the table is the `Map` that maps keys to slots
 * for one policy, so eviction can remove the key from it.
 */
export class SlotTable {
  readonly maxSlots: number;
  state: Float64Array;
  readonly logs: (number[] | undefined)[] = [];
  #owners: (Map<string, number> | undefined)[] = [];
  #keys: (string | undefined)[] = [];
  #previous: Int32Array;
  #next: Int32Array;
  #mostRecent = NONE;
  #leastRecent = NONE;
  #freeSlots: number[] = [];
  #allocated = 0;
  #size = 0;
  #sweepCursor = 0;

  constructor(maxSlots: number) {
    this.maxSlots = maxSlots;
    const initial = Math.min(maxSlots, 1024);
    this.state = new Float64Array(initial * STRIDE);
    this.#previous = new Int32Array(initial);
    this.#next = new Int32Array(initial);
  }

  /** Number of slots in use. */
  get size(): number {
    return this.#size;
  }

  /** Epoch ms after which the slot's state equals no state. */
  expiresAt(slot: number): number {
    return this.state[slot * STRIDE + EXPIRES] ?? 0;
  }

  setExpiresAt(slot: number, at: number): void {
    this.state[slot * STRIDE + EXPIRES] = at;
  }

  /** Marks a slot as the most recently used. */
  touch(slot: number): void {
    if (slot === this.#mostRecent) return;
    this.#unlink(slot);
    this.#pushFront(slot);
  }

  /**
   * Takes a slot for `key` in `owner` and returns it. At capacity it frees an expired slot
   * when it finds one within a short scan, else the least recently used slot.
   */
  allocate(owner: Map<string, number>, key: string, now: number): number {
    this.sweep(now, 2);
    if (this.#size >= this.maxSlots) this.#evictOne(now);

    const slot = this.#freeSlots.pop() ?? this.#growAndTake();
    this.#owners[slot] = owner;
    this.#keys[slot] = key;
    this.#pushFront(slot);
    this.#size++;
    owner.set(key, slot);
    return slot;
  }

  /** Frees a slot and removes its key from its owner. */
  release(slot: number): void {
    const owner = this.#owners[slot];
    const key = this.#keys[slot];
    if (owner === undefined || key === undefined) return;

    owner.delete(key);
    this.#owners[slot] = undefined;
    this.#keys[slot] = undefined;
    this.logs[slot] = undefined;
    this.#unlink(slot);
    this.#freeSlots.push(slot);
    this.#size--;
  }

  /** Checks up to `budget` slots from a rotating cursor and frees the expired ones. */
  sweep(now: number, budget: number): number {
    let freed = 0;
    const allocated = this.#allocated;
    for (let i = 0; i < budget && allocated > 0; i++) {
      const slot = this.#sweepCursor;
      this.#sweepCursor = slot + 1 >= allocated ? 0 : slot + 1;
      if (this.#owners[slot] !== undefined && this.expiresAt(slot) <= now) {
        this.release(slot);
        freed++;
      }
    }
    return freed;
  }

  /** Frees every slot. */
  clear(): void {
    for (let slot = 0; slot < this.#allocated; slot++) this.release(slot);
  }

  #evictOne(now: number): void {
    const oldest = this.#leastRecent;
    if (oldest !== NONE && this.expiresAt(oldest) <= now) {
      this.release(oldest);
      return;
    }
    if (this.sweep(now, 32) > 0) return;
    if (oldest !== NONE) this.release(oldest);
  }

  #growAndTake(): number {
    const slot = this.#allocated;
    if (slot >= this.#next.length) {
      const length = Math.min(this.maxSlots, this.#next.length * 2);
      const state = new Float64Array(length * STRIDE);
      state.set(this.state);
      this.state = state;
      const previous = new Int32Array(length);
      previous.set(this.#previous);
      this.#previous = previous;
      const next = new Int32Array(length);
      next.set(this.#next);
      this.#next = next;
    }
    this.#allocated++;
    return slot;
  }

  #pushFront(slot: number): void {
    this.#previous[slot] = NONE;
    this.#next[slot] = this.#mostRecent;
    if (this.#mostRecent !== NONE) this.#previous[this.#mostRecent] = slot;
    this.#mostRecent = slot;
    if (this.#leastRecent === NONE) this.#leastRecent = slot;
  }

  #unlink(slot: number): void {
    const before = this.#previous[slot] ?? NONE;
    const after = this.#next[slot] ?? NONE;
    if (before === NONE) this.#mostRecent = after;
    else this.#next[before] = after;
    if (after === NONE) this.#leastRecent = before;
    else this.#previous[after] = before;
  }
}
