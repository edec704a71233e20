import { describe, expect, it } from "vitest";
import { ErrorLog } from "../../src/failure/error-log.js";
import { StoreGuard } from "../../src/failure/store-guard.js";
import { parsePolicy } from "../../src/policy/policy.js";
import type { ConsumeRequest, Outcome, Store } from "../../src/stores/store.js";

const OUTCOME: Outcome = {
  allowed: true,
  remaining: 1,
  resetAt: 0,
  retryAfter: 0,
  reason: "allowed",
};

/** A store whose calls wait until `settleAll()`; `nodeOf` returns the key's first letter. */
class ControlledStore implements Store {
  calls = 0;
  #waiting: ((outcomes: Outcome[]) => void)[] = [];

  consume(): Promise<Outcome[]> {
    this.calls++;
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  settleAll(): void {
    for (const resolve of this.#waiting.splice(0)) resolve([OUTCOME]);
  }

  nodeOf(key: string): string {
    return key.slice(0, 1);
  }

  async reset(): Promise<void> {}
  async close(): Promise<void> {}
}

function guardOver(
  store: Store,
  options: { maxInFlight?: number; failureThreshold?: number } = {},
) {
  const logger = { warn: () => {}, error: () => {} };
  return new StoreGuard(store, {
    timeout: 5,
    breaker: { failureThreshold: options.failureThreshold ?? 1000, openDuration: 500 },
    maxInFlight: options.maxInFlight ?? 1000,
    clock: Date.now,
    errorLog: new ErrorLog(logger, 10_000),
  });
}

function request(key: string): ConsumeRequest {
  return { key, policies: [parsePolicy("3/1m")], cost: 1, at: undefined, dryRun: false };
}

describe("StoreGuard", () => {
  it("abandoned calls count as in flight", async () => {
    const store = new ControlledStore();
    const guard = guardOver(store, { maxInFlight: 3 });

    const timedOut = await Promise.all([1, 2, 3].map((i) => guard.consume(request(`a${i}`))));
    const skipped = await guard.consume(request("a4"));

    expect(timedOut).toEqual(["store-timeout", "store-timeout", "store-timeout"]);
    expect(skipped).toBe("store-unavailable");
    expect(store.calls).toBe(3);
  });

  it("settled calls free the bound", async () => {
    const store = new ControlledStore();
    const guard = guardOver(store, { maxInFlight: 3 });
    await Promise.all([1, 2, 3].map((i) => guard.consume(request(`a${i}`))));

    store.settleAll();
    await Promise.resolve();
    const pending = guard.consume(request("a4"));
    store.settleAll();

    expect(await pending).toEqual([OUTCOME]);
  });

  it("bound applies per node", async () => {
    const store = new ControlledStore();
    const guard = guardOver(store, { maxInFlight: 1 });
    await guard.consume(request("a1"));

    const other = guard.consume(request("b1"));
    store.settleAll();

    expect(await other).toEqual([OUTCOME]);
  });

  it("failing node leaves others closed", async () => {
    const store = new ControlledStore();
    const guard = guardOver(store, { failureThreshold: 2 });
    for (let i = 0; i < 2; i++) await guard.consume(request(`a${i}`));

    const skipped = await guard.consume(request("a9"));
    const other = guard.consume(request("b1"));
    store.settleAll();

    expect(skipped).toBe("store-unavailable");
    expect(await other).toEqual([OUTCOME]);
  });

  it("throwing nodeOf uses one node", async () => {
    const store = new ControlledStore();
    store.nodeOf = () => {
      throw new Error("no slot map yet");
    };
    const guard = guardOver(store);

    const pending = guard.consume(request("a1"));
    store.settleAll();

    expect(await pending).toEqual([OUTCOME]);
  });

  it("synchronous throw becomes store-error", async () => {
    const store = new ControlledStore();
    store.consume = () => {
      throw new Error("client is closed");
    };

    expect(await guardOver(store).consume(request("a1"))).toBe("store-error");
  });
});
