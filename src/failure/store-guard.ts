import type { ConsumeRequest, Outcome, Store } from "../stores/store.js";
import { CircuitBreaker, type CircuitBreakerOptions } from "./circuit-breaker.js";
import type { ErrorLog } from "./error-log.js";
import type { DegradedReason } from "./fallback.js";

/** Options of {@link StoreGuard}. */
export interface StoreGuardOptions {
  /** Deadline of one store call, in ms. */
  readonly timeout: number;
  readonly breaker: CircuitBreakerOptions;
  /**
   * Maximum number of calls in flight to one store node, counting calls past their deadline
   * until the store settles them. Past it, calls fail at once.
   */
  readonly maxInFlight: number;
  readonly clock: () => number;
  readonly errorLog: ErrorLog;
}

interface Node {
  readonly breaker: CircuitBreaker;
  inFlight: number;
}

/**
 * Calls a store with a deadline and a circuit breaker per store node, and turns every
 * failure into a reason instead of an exception. A call that misses its deadline is left to
 * finish on its own; its late result is ignored, because retrying could count a request twice.
 */
export class StoreGuard {
  #store: Store;
  #options: StoreGuardOptions;
  #nodes = new Map<string, Node>();

  constructor(store: Store, options: StoreGuardOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Returns the store's outcomes, or why the store could not decide in time. */
  async consume(request: ConsumeRequest): Promise<Outcome[] | DegradedReason> {
    const nodeName = this.#nodeOf(request.key);
    const node = this.#node(nodeName);
    const { clock, timeout } = this.#options;

    if (node.inFlight >= this.#options.maxInFlight || !node.breaker.tryAcquire(clock())) {
      return "store-unavailable";
    }

    let call: Promise<Outcome[]>;
    try {
      call = this.#store.consume(request);
    } catch (error) {
      call = Promise.reject(error);
    }
    // A call stays in flight until the store settles it, deadline or not: the command still
    // waits in the client's queue, so the bound covers abandoned calls too.
    node.inFlight++;
    const release = (): void => {
      node.inFlight--;
    };
    call.then(release, release);

    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<"store-timeout">((resolve) => {
        timer = setTimeout(resolve, timeout, "store-timeout");
      });
      const result = await Promise.race([call, deadline]);
      if (result === "store-timeout") {
        this.#fail(node, nodeName, result, undefined);
        return result;
      }
      node.breaker.recordSuccess();
      return result;
    } catch (error) {
      this.#fail(node, nodeName, "store-error", error);
      return "store-error";
    } finally {
      clearTimeout(timer);
    }
  }

  /** Names the node holding `key`; a store that cannot tell puts every key on one node. */
  #nodeOf(key: string): string {
    try {
      return this.#store.nodeOf?.(key) ?? "";
    } catch {
      return "";
    }
  }

  #fail(node: Node, nodeName: string, reason: DegradedReason, error: unknown): void {
    const now = this.#options.clock();
    node.breaker.recordFailure(now);
    const message =
      reason === "store-timeout"
        ? `sluice: store calls missed their ${this.#options.timeout} ms deadline; decisions follow each policy's failure mode`
        : "sluice: store calls failed; decisions follow each policy's failure mode";
    this.#options.errorLog.record(
      message,
      error,
      { code: reason, node: nodeName, circuit: node.breaker.state },
      now,
    );
  }

  #node(name: string): Node {
    let node = this.#nodes.get(name);
    if (node === undefined) {
      node = { breaker: new CircuitBreaker(this.#options.breaker), inFlight: 0 };
      this.#nodes.set(name, node);
    }
    return node;
  }
}
