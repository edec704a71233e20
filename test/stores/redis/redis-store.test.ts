import { type Cluster, type Command, type Redis, ReplyError } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ClosedError, StoreError } from "../../../src/errors.js";
import { RateLimiter } from "../../../src/limiter.js";
import { parsePolicy } from "../../../src/policy/policy.js";
import { hashSlotOf } from "../../../src/stores/redis/cluster-slot.js";
import { RedisStore } from "../../../src/stores/redis/index.js";
import { encodeKey, redisKey } from "../../../src/stores/redis/redis-keys.js";
import type { ConsumeRequest } from "../../../src/stores/store.js";
import { useRedis, useRedisCluster } from "../../support/redis-servers.js";
import {
  DEADLINE,
  keysWithPrefix,
  recordingLogger,
  redisLimiter,
  uniquePrefix,
} from "./support.js";

/**
 * Returns the clock offset warnings among `warnings`. The shared test client may also draw
 * a client option warning, which these tests do not look at.
 */
function clockWarnings(warnings: readonly unknown[][]): unknown[][] {
  return warnings.filter(
    ([, details]) => (details as { code?: unknown } | undefined)?.code === "SLUICE_CLOCK_OFFSET",
  );
}

function request(
  policyInput: Parameters<typeof parsePolicy>[0],
  extra: Partial<ConsumeRequest> = {},
) {
  return {
    key: "k",
    policies: [parsePolicy(policyInput)],
    cost: 1,
    at: undefined,
    dryRun: false,
    ...extra,
  } satisfies ConsumeRequest;
}

/** Creates a stand-in client that fails every command with `error` and records the command names. */
function failingClient(error: Error): { client: Redis; commands: string[] } {
  const commands: string[] = [];
  const client = {
    isCluster: false,
    options: {},
    evalsha: () => undefined,
    sendCommand(command: Command) {
      commands.push(command.name);
      command.reject(error);
    },
  };
  return { client: client as unknown as Redis, commands };
}

describe("RedisStore options", () => {
  const { client } = failingClient(new Error("unused"));

  it("rejects a missing client", () => {
    expect(() => new RedisStore({} as never)).toThrow(TypeError);
  });

  it("rejects a prefix with braces", () => {
    expect(() => new RedisStore({ client, prefix: "a{b}" })).toThrow(TypeError);
  });

  it("rejects a negative clock offset warning", () => {
    expect(() => new RedisStore({ client, clockOffsetWarning: -1 })).toThrow(RangeError);
  });

  it("defaults the prefix to sluice", () => {
    expect(new RedisStore({ client }).prefix).toBe("sluice");
  });
});

describe("RedisStore script errors", () => {
  it("other errors skip the EVAL fallback", async () => {
    const { client, commands } = failingClient(new ReplyError("ERR something else"));
    await new RedisStore({ client }).consume(request("3/1s")).catch(() => undefined);
    expect(commands).toEqual(["evalsha"]);
  });

  it("other errors arrive as StoreError", async () => {
    const { client } = failingClient(new ReplyError("ERR something else"));
    const failure = await new RedisStore({ client }).consume(request("3/1s")).catch((e) => e);
    expect(failure).toBeInstanceOf(StoreError);
  });

  it("StoreError carries the client's error as cause", async () => {
    const cause = new ReplyError("ERR something else");
    const { client } = failingClient(cause);
    const failure = await new RedisStore({ client }).consume(request("3/1s")).catch((e) => e);
    expect((failure as StoreError).cause).toBe(cause);
  });

  it("NOSCRIPT falls back to EVAL once", async () => {
    const { client, commands } = failingClient(new ReplyError("NOSCRIPT No matching script."));
    await new RedisStore({ client }).consume(request("3/1s")).catch(() => undefined);
    expect(commands).toEqual(["evalsha", "eval"]);
  });
});

describe("RedisStore on a standalone server", () => {
  const redis = useRedis();
  let shared: Redis | undefined;
  const connect = () => {
    shared ??= redis().client();
    return shared;
  };

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("dry run writes nothing", async () => {
    const { limiter, store } = redisLimiter(connect(), "3/1m");
    await limiter.peek("u1");
    expect(await keysWithPrefix(connect(), store.prefix)).toEqual([]);
  });

  it("dry run reports the next decision", async () => {
    const { limiter } = redisLimiter(connect(), "3/1m");
    await limiter.check("u1");
    expect((await limiter.peek("u1")).remaining).toBe(1);
  });

  it("cost above capacity writes nothing", async () => {
    const { limiter, store } = redisLimiter(connect(), "3/1m");
    await limiter.check("u1", { cost: 4 });
    expect(await keysWithPrefix(connect(), store.prefix)).toEqual([]);
  });

  it("cost above capacity has its own reason", async () => {
    const { limiter } = redisLimiter(connect(), "3/1m");
    const decision = await limiter.check("u1", { cost: 4 });
    expect([decision.reason, decision.retryAfter]).toEqual(["cost-exceeds-capacity", 0]);
  });

  it("one rejecting policy consumes from none", async () => {
    const { limiter } = redisLimiter(connect(), [
      { name: "wide", limit: 10, window: 60_000 },
      { name: "narrow", limit: 1, window: 60_000, algorithm: "fixed-window" },
    ]);
    await limiter.check("u1");
    await limiter.check("u1");
    const wide = new RateLimiter({
      policy: { name: "wide", limit: 10, window: 60_000 },
      store: limiter.store,
      ...DEADLINE,
    });
    // One unit used by the first check, one more by the peeked check itself.
    expect((await wide.peek("u1")).remaining).toBe(8);
  });

  it("reset forgets every policy of the key", async () => {
    const { limiter, store } = redisLimiter(connect(), ["3/1m", "5/1h"]);
    await limiter.check("u1");
    await limiter.reset("u1");
    expect(await keysWithPrefix(connect(), store.prefix)).toEqual([]);
  });

  it("closed store rejects with ClosedError", async () => {
    const store = new RedisStore({ client: connect(), prefix: uniquePrefix("closed") });
    await store.close();
    await expect(store.consume(request("3/1s"))).rejects.toBeInstanceOf(ClosedError);
  });

  it("close leaves the client open", async () => {
    const client = connect();
    await new RedisStore({ client, prefix: uniquePrefix("closed") }).close();
    expect(await client.ping()).toBe("PONG");
  });

  it("mixed requests in one tick decide apart", async () => {
    const store = new RedisStore({ client: connect(), prefix: uniquePrefix("mixed") });
    const fixed = parsePolicy({ limit: 3, window: 60_000, algorithm: "fixed-window" });
    const bucket = parsePolicy({ limit: 5, window: 60_000, algorithm: "token-bucket" });
    const outcomes = await Promise.all([
      store.consume({ key: "a", policies: [fixed], cost: 2, at: undefined, dryRun: false }),
      store.consume({ key: "a", policies: [fixed], cost: 1, at: undefined, dryRun: true }),
      store.consume({ key: "a", policies: [bucket], cost: 1, at: 1000, dryRun: false }),
      store.consume({ key: "a", policies: [fixed, bucket], cost: 1, at: undefined, dryRun: false }),
      store.consume({ key: "b", policies: [fixed], cost: 3, at: 5000, dryRun: false }),
    ]);
    expect(outcomes.map((list) => list.map((outcome) => outcome.remaining))).toEqual([
      [1],
      [0],
      [4],
      // At the server's time the bucket has refilled since its write stamped 1000.
      [0, 4],
      [0],
    ]);
  });

  it("same-tick checks share script calls", async () => {
    const server = redis();
    const client = server.client();
    const { limiter } = redisLimiter(client, "100/1m");
    await limiter.peek("warm-up");
    await client.config("RESETSTAT");

    await Promise.all(Array.from({ length: 50 }, (_, i) => limiter.check(`user-${i}`)));
    const stats = await client.info("commandstats");
    // 50 requests in batches of at most 32.
    expect(Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1])).toBe(2);
  });

  it("policy switching algorithm starts empty", async () => {
    const client = connect();
    const prefix = uniquePrefix("switch");
    const algorithms = ["fixed-window", "sliding-log", "gcra", "sliding-log"] as const;
    const remaining: number[] = [];
    for (const algorithm of algorithms) {
      const limiter = new RateLimiter({
        policy: { name: "p", limit: 3, window: 60_000, algorithm },
        store: new RedisStore({ client, prefix }),
        ...DEADLINE,
      });
      remaining.push((await limiter.check("u1")).remaining);
    }
    expect(remaining).toEqual([2, 2, 2, 2]);
  });

  it("clock offset measured from replies", async () => {
    const store = new RedisStore({ client: connect(), prefix: uniquePrefix("clock") });
    const realNow = Date.now;
    vi.spyOn(Date, "now").mockImplementation(() => realNow() + 5000);
    await store.consume(request("3/1s"));
    expect(Math.abs((store.clockOffset ?? 0) + 5000)).toBeLessThan(100);
  });

  it("large clock offset warned once", async () => {
    const logger = recordingLogger();
    const store = new RedisStore({ client: connect(), prefix: uniquePrefix("clock"), logger });
    const realNow = Date.now;
    vi.spyOn(Date, "now").mockImplementation(() => realNow() - 5000);
    for (let i = 0; i < 3; i++) await store.consume(request("3/1s"));
    expect(clockWarnings(logger.warnings)).toHaveLength(1);
  });

  it("small clock offset not warned", async () => {
    const logger = recordingLogger();
    const store = new RedisStore({ client: connect(), prefix: uniquePrefix("clock"), logger });
    await store.consume(request("3/1s"));
    expect(clockWarnings(logger.warnings)).toEqual([]);
  });

  it("nodeOf on a single server", () => {
    const store = new RedisStore({ client: connect(), prefix: uniquePrefix("node") });
    expect([store.nodeOf("a"), store.nodeOf("b")]).toEqual(["", ""]);
  });

  it("clock offset unknown before a reply", () => {
    const store = new RedisStore({ client: connect(), prefix: uniquePrefix("clock") });
    expect(store.clockOffset).toBeUndefined();
  });

  it("unconnected client arrives as StoreError", async () => {
    // Never connected and without an offline queue, the client fails every command at once.
    const client = redis().client({ enableOfflineQueue: false });
    const store = new RedisStore({ client, prefix: uniquePrefix("down") });
    await expect(store.consume(request("3/1s"))).rejects.toBeInstanceOf(StoreError);
  });
});

describe("RedisStore on a cluster", () => {
  const cluster = useRedisCluster();
  let shared: Cluster | undefined;
  const connect = () => {
    shared ??= cluster().client();
    return shared;
  };

  it("concurrent keys across slots decide apart", async () => {
    const { limiter } = redisLimiter(connect(), "2/1m");
    const keys = Array.from({ length: 20 }, (_, i) => `user-${i}`);
    const decisions = await Promise.all(
      [...keys, ...keys, ...keys].map((key) => limiter.check(key)),
    );
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(40);
  });

  it("keys sharing a slot batch together", async () => {
    const bySlot = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; pair === undefined; i++) {
      const key = `user-${i}`;
      const slot = hashSlotOf(encodeKey(key));
      const other = bySlot.get(slot);
      if (other === undefined) bySlot.set(slot, key);
      else pair = [other, key];
    }
    const { limiter } = redisLimiter(connect(), "2/1m");
    await limiter.peek(pair[0]);
    const masters = connect().nodes("master");
    await Promise.all(masters.map((node) => node.config("RESETSTAT")));

    const decisions = await Promise.all(
      [...pair, ...pair, ...pair].map((key) => limiter.check(key)),
    );
    const stats = await Promise.all(masters.map((node) => node.info("commandstats")));
    const calls = stats.map((text) => Number(/cmdstat_evalsha:calls=(\d+)/.exec(text)?.[1] ?? 0));
    expect(decisions.map((decision) => decision.remaining)).toEqual([1, 1, 0, 0, 0, 0]);
    expect(calls.reduce((sum, count) => sum + count, 0)).toBe(1);
  });

  it("hash slots match CLUSTER KEYSLOT", async () => {
    const keys = ["", "user-1", "}{", "a}b", "é", "😀", "k".repeat(300), "\uD800"];
    const local = keys.map((key) => hashSlotOf(encodeKey(key)));
    const server = await Promise.all(
      keys.map((key) => connect().cluster("KEYSLOT", redisKey("p", "q", encodeKey(key)))),
    );
    expect(local).toEqual(server);
  });

  it("nodeOf names the slot's master", async () => {
    const client = connect();
    const store = new RedisStore({ client, prefix: uniquePrefix("node") });
    await client.ping();
    const slot = hashSlotOf(encodeKey("user-7"));
    const ranges = await client.cluster("SLOTS");
    const owner = ranges.find(([first, last]) => slot >= first && slot <= last)?.[2];
    expect(store.nodeOf("user-7")).toBe(`${owner?.[0]}:${owner?.[1]}`);
  });

  it("every policy of a key shares one slot", async () => {
    const { limiter, store } = redisLimiter(connect(), ["2/1m", "10/1h", "100/1d"]);
    await limiter.check("user-1");
    const keys = await keysWithPrefix(connect(), store.prefix);
    const slots = await Promise.all(keys.map((key) => connect().cluster("KEYSLOT", key)));
    expect(new Set(slots).size).toBe(1);
  });
});
