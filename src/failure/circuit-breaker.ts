/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. @default 5 */
  readonly failureThreshold?: number;
  /**
   * Ms the circuit stays open before one probe call may test the store again. Keep it well
   * under a second so exact limiting resumes within a second of the store coming back.
   * @default 500
   */
  readonly openDuration?: number;
}

type BreakerState = "closed" | "open" | "half-open";

/**
 * Stops sending calls to a store node after repeated failures, then lets one probe call
 * through every `openDuration` ms until one succeeds. While open, callers decide with their
 * failure mode at once instead of waiting out a deadline per call.
 */
export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly openDuration: number;
  #state: BreakerState = "closed";
  #failures = 0;
  #openedAt = 0;
  #probing = false;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.openDuration = options.openDuration ?? 500;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /**
   * Returns whether a call may go to the store at `now`. In the half-open state only one
   * probe is in flight at a time; the caller must report its result.
   */
  tryAcquire(now: number): boolean {
    if (this.#state === "closed") return true;
    if (this.#state === "open" && now - this.#openedAt < this.openDuration) return false;
    if (this.#probing) return false;

    this.#state = "half-open";
    this.#probing = true;
    return true;
  }

  recordSuccess(): void {
    this.#state = "closed";
    this.#failures = 0;
    this.#probing = false;
  }

  recordFailure(now: number): void {
    this.#failures++;
    const probeFailed = this.#state === "half-open";
    this.#probing = false;
    if (probeFailed || this.#failures >= this.failureThreshold) {
      this.#state = "open";
      this.#openedAt = now;
    }
  }
}
