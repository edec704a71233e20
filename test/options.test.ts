import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../src/limiter.js";
import { parsePolicy } from "../src/policy/policy.js";
import { MemoryStore } from "../src/stores/memory/memory-store.js";
import { RedisStore } from "../src/stores/redis/redis-store.js";

function thrown(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

describe("misspelt options", () => {
  it("policy field typo rejected", () => {
    const error = thrown(() =>
      parsePolicy({ limit: 10, window: "1s", failuremode: "closed" } as never),
    );

    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain("policy.failuremode");
    expect(error.message).toContain("failureMode");
  });

  it("limiter option typo rejected", () => {
    const error = thrown(() => new RateLimiter({ policy: "10/s", timout: 5 } as never));

    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain("RateLimiter options.timout");
  });

  it("circuit breaker typo rejected", () => {
    const options = { policy: "10/s", circuitBreaker: { threshold: 3 } } as never;

    expect(() => new RateLimiter(options)).toThrow(/circuitBreaker\.threshold/);
  });

  it("memory store typo rejected", () => {
    expect(() => new MemoryStore({ maxkeys: 10 } as never)).toThrow(/MemoryStore options\.maxkeys/);
  });

  it("memory store null options rejected", () => {
    expect(() => new MemoryStore(null as never)).toThrow(TypeError);
  });

  it("redis store typo rejected", () => {
    // lazyConnect: the client never opens a connection in this test.
    const client = new Redis({ host: "127.0.0.1", port: 1, lazyConnect: true });
    const options = { client, prefx: "x" } as never;

    expect(() => new RedisStore(options)).toThrow(/RedisStore options\.prefx/);
    client.disconnect();
  });

  it("check option typo rejected", async () => {
    const limiter = new RateLimiter({ policy: "10/s" });

    await expect(limiter.check("k", { costs: 5 } as never)).rejects.toThrow(/check options\.costs/);
    expect(() => limiter.checkSync("k", null as never)).toThrow(TypeError);
    expect(() => limiter.checkSync("k", "x" as never)).toThrow(TypeError);
    expect(() => limiter.checkSync("k", 5 as never)).toThrow(TypeError);
  });
});

describe("limiter collaborators", () => {
  it("logger without methods rejected", () => {
    expect(() => new RateLimiter({ policy: "10/s", logger: 5 as never })).toThrow(/logger/);
  });

  it("store without methods rejected", () => {
    expect(() => new RateLimiter({ policy: "10/s", store: {} as never })).toThrow(/store/);
  });

  it("remote settings checked for memory stores", () => {
    expect(() => new RateLimiter({ policy: "10/s", timeout: -1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ policy: "10/s", localShare: 2 })).toThrow(RangeError);
    expect(() => new RateLimiter({ policy: "10/s", blockCacheSize: "x" as never })).toThrow(
      RangeError,
    );
  });
});
