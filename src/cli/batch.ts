/**
 * Assigns each distinct key a dense index in order of first appearance, so per-key
 * counters can live in typed arrays and every run uses the same key string.
 */
export class KeyTable {
  /** Keys by index. */
  readonly names: string[] = [];
  #indexes = new Map<string, number>();

  /** Number of distinct keys seen. */
  get size(): number {
    return this.names.length;
  }

  /** Returns the index of `key`, adding it when new. */
  intern(key: string): number {
    let index = this.#indexes.get(key);
    if (index === undefined) {
      index = this.names.length;
      this.#indexes.set(key, index);
      this.names.push(key);
    }
    return index;
  }
}

/**
 * Parsed requests waiting to be decided, in log order. Reading the log in batches keeps
 * memory bounded by the batch size, and lets `--compare` replay each batch under every
 * algorithm while parsing each line once.
 */
export class RequestBatch {
  /** Key index of each request, from a {@link KeyTable}. */
  readonly keys: Int32Array;
  /** Time of each request in epoch milliseconds. */
  readonly times: Float64Array;
  length = 0;

  constructor(capacity: number) {
    this.keys = new Int32Array(capacity);
    this.times = new Float64Array(capacity);
  }

  get full(): boolean {
    return this.length === this.keys.length;
  }

  push(keyIndex: number, at: number): void {
    this.keys[this.length] = keyIndex;
    this.times[this.length] = at;
    this.length++;
  }

  clear(): void {
    this.length = 0;
  }
}
