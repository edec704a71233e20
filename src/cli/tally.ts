/** One key's counts under one run, as listed among the most rejected keys. */
export interface KeyCount {
  readonly key: string;
  readonly rejected: number;
  readonly allowed: number;
}

/** Counts the decisions of one replay run, in total and per key index. */
export class Tally {
  allowed = 0;
  rejected = 0;
  /** Milliseconds spent deciding, parsing excluded. */
  decideMs = 0;
  #allowedByKey: Uint32Array = new Uint32Array(1024);
  #rejectedByKey: Uint32Array = new Uint32Array(1024);

  /** Grows the per-key counters to hold `keyCount` keys; call before recording a batch. */
  reserve(keyCount: number): void {
    if (keyCount <= this.#allowedByKey.length) return;

    let length = this.#allowedByKey.length;
    while (length < keyCount) length *= 2;
    this.#allowedByKey = grow(this.#allowedByKey, length);
    this.#rejectedByKey = grow(this.#rejectedByKey, length);
  }

  record(keyIndex: number, allowed: boolean): void {
    if (allowed) {
      this.allowed++;
      this.#allowedByKey[keyIndex] = (this.#allowedByKey[keyIndex] ?? 0) + 1;
    } else {
      this.rejected++;
      this.#rejectedByKey[keyIndex] = (this.#rejectedByKey[keyIndex] ?? 0) + 1;
    }
  }

  /** Number of keys with at least one rejected request. */
  rejectedKeys(): number {
    let count = 0;
    for (const rejected of this.#rejectedByKey) if (rejected > 0) count++;
    return count;
  }

  /**
   * Returns the `count` keys with the most rejected requests, most first; ties keep the
   * order in which the keys first appeared in the log.
   */
  top(count: number, names: readonly string[]): KeyCount[] {
    if (count === 0) return [];

    const indexes: number[] = [];
    for (let i = 0; i < names.length; i++) {
      if ((this.#rejectedByKey[i] ?? 0) > 0) indexes.push(i);
    }
    indexes.sort((a, b) => (this.#rejectedByKey[b] ?? 0) - (this.#rejectedByKey[a] ?? 0) || a - b);

    return indexes.slice(0, count).map((i) => ({
      key: names[i] as string,
      rejected: this.#rejectedByKey[i] ?? 0,
      allowed: this.#allowedByKey[i] ?? 0,
    }));
  }
}

function grow(array: Uint32Array, length: number): Uint32Array {
  const grown = new Uint32Array(length);
  grown.set(array);
  return grown;
}
