import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../src/failure/circuit-breaker.js";

describe("CircuitBreaker", () => {
  it("stays closed below the threshold", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3, openDuration: 500 });
    breaker.recordFailure(0);
    breaker.recordFailure(1);

    expect(breaker.state).toBe("closed");
    expect(breaker.tryAcquire(2)).toBe(true);
  });

  it("opens after consecutive failures", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3, openDuration: 500 });
    for (const now of [0, 1, 2]) breaker.recordFailure(now);

    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire(100)).toBe(false);
  });

  it("success resets the failure count", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, openDuration: 500 });
    breaker.recordFailure(0);
    breaker.recordSuccess();
    breaker.recordFailure(1);

    expect(breaker.state).toBe("closed");
  });

  it("lets one probe through after the open duration", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, openDuration: 500 });
    breaker.recordFailure(0);

    expect(breaker.tryAcquire(499)).toBe(false);
    expect(breaker.tryAcquire(500)).toBe(true);
    expect(breaker.state).toBe("half-open");
    expect(breaker.tryAcquire(501)).toBe(false);
  });

  it("closes when the probe succeeds", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, openDuration: 500 });
    breaker.recordFailure(0);
    breaker.tryAcquire(600);
    breaker.recordSuccess();

    expect(breaker.state).toBe("closed");
    expect(breaker.tryAcquire(601)).toBe(true);
  });

  it("reopens when the probe fails", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 5, openDuration: 500 });
    for (let i = 0; i < 5; i++) breaker.recordFailure(0);
    breaker.tryAcquire(600);
    breaker.recordFailure(650);

    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire(1100)).toBe(false);
    expect(breaker.tryAcquire(1150)).toBe(true);
  });
});
