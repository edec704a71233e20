import { describe, expect, it } from "vitest";
import { Fallback } from "../../src/failure/fallback.js";
import { type PolicyInput, parsePolicy } from "../../src/policy/policy.js";
import type { ConsumeRequest } from "../../src/stores/store.js";

const NOW = 1_000_000;

function fallbackWith(localShare = 1): Fallback {
  return new Fallback({
    localShare,
    closedRetryAfter: 1000,
    maxKeys: 1000,
    clock: () => NOW,
    logger: { warn: () => {}, error: () => {} },
  });
}

function requestFor(inputs: readonly PolicyInput[], dryRun = false): ConsumeRequest {
  return {
    key: "u1",
    policies: inputs.map((input) => parsePolicy(input)),
    cost: 1,
    at: NOW,
    dryRun,
  };
}

function allowedRun(fallback: Fallback, request: ConsumeRequest, count: number): boolean[] {
  const allowed: boolean[] = [];
  for (let i = 0; i < count; i++) allowed.push(fallback.decide(request, "store-error").allowed);
  return allowed;
}

describe("Fallback", () => {
  it("open mode allows past the limit", () => {
    const request = requestFor([{ limit: 2, window: 1000, failureMode: "open" }]);

    expect(allowedRun(fallbackWith(), request, 4)).toEqual([true, true, true, true]);
  });

  it("closed mode rejects every request", () => {
    const fallback = fallbackWith();
    const request = requestFor([{ limit: 2, window: 1000, failureMode: "closed" }]);

    const decision = fallback.decide(request, "store-timeout");

    expect(decision.allowed).toBe(false);
    expect(decision.retryAfter).toBe(1000);
    expect(decision.reason).toBe("store-timeout");
    expect(decision.degraded).toBe(true);
  });

  it("local mode limits to its share", () => {
    const request = requestFor([{ limit: 4, window: 60_000, failureMode: "local" }]);

    expect(allowedRun(fallbackWith(0.5), request, 3)).toEqual([true, true, false]);
  });

  it("local policy counts past an open one", () => {
    const request = requestFor([
      { name: "burst", limit: 2, window: 60_000, failureMode: "open" },
      { name: "hourly", limit: 5, window: "1h", failureMode: "local" },
    ]);

    const allowed = allowedRun(fallbackWith(), request, 8);

    expect(allowed).toEqual([true, true, true, true, true, false, false, false]);
  });

  it("rejected local request spares open share", () => {
    const fallback = fallbackWith();
    const request = requestFor([
      { name: "burst", limit: 10, window: 60_000, failureMode: "open" },
      { name: "hourly", limit: 1, window: "1h", failureMode: "local" },
    ]);

    const allowed = allowedRun(fallback, request, 3);
    const burst = fallback.decide(
      requestFor([{ name: "burst", limit: 10, window: 60_000, failureMode: "open" }], true),
      "store-error",
    );

    expect(allowed).toEqual([true, false, false]);
    // One request passed, and a peek reports what is left after one more.
    expect(burst.remaining).toBe(8);
  });

  it("closed policy consumes no local share", () => {
    const fallback = fallbackWith();
    const local: PolicyInput = { name: "hourly", limit: 2, window: "1h", failureMode: "local" };
    const request = requestFor([
      local,
      { name: "daily", limit: 100, window: "1d", failureMode: "closed" },
    ]);

    allowedRun(fallback, request, 3);
    const decision = fallback.decide(requestFor([local]), "store-error");

    expect(decision.allowed).toBe(true);
    expect(decision.remaining).toBe(1);
  });

  it("dry run consumes nothing", () => {
    const fallback = fallbackWith();
    const policy: PolicyInput = { limit: 1, window: 60_000, failureMode: "local" };

    allowedRun(fallback, requestFor([policy], true), 3);

    expect(fallback.decide(requestFor([policy]), "store-error").allowed).toBe(true);
  });
});
