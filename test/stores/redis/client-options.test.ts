import { Cluster, Redis, type RedisOptions } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { RedisStore } from "../../../src/stores/redis/index.js";
import { recordingLogger } from "./support.js";

// Every client here is lazy and never sends a command, so no address is ever contacted;
// the port only has to be valid.
const NO_CONNECT = { host: "127.0.0.1", port: 1, lazyConnect: true } as const;

const LIMITER_OPTIONS = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
} satisfies RedisOptions;

const clients: (Redis | Cluster)[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

function redisClient(options: RedisOptions): Redis {
  const client = new Redis({ ...NO_CONNECT, ...options });
  clients.push(client);
  return client;
}

function clusterClient(options: ConstructorParameters<typeof Cluster>[1]): Cluster {
  const client = new Cluster([{ host: "127.0.0.1", port: 1 }], { lazyConnect: true, ...options });
  clients.push(client);
  return client;
}

function warningCodes(client: Redis | Cluster): unknown[] {
  const logger = recordingLogger();
  new RedisStore({ client, logger });
  return logger.warnings.map(([, details]) => (details as { code?: unknown } | undefined)?.code);
}

describe("RedisStore client option checks", () => {
  it.each([
    { name: "ioredis defaults", options: {}, codes: ["SLUICE_REDIS_RESEND"] },
    {
      name: "unlimited retries",
      options: { maxRetriesPerRequest: null },
      codes: ["SLUICE_REDIS_UNBOUNDED_QUEUE", "SLUICE_REDIS_RESEND"],
    },
    { name: "recommended options", options: LIMITER_OPTIONS, codes: [] },
    {
      name: "no resend, offline queue bounded",
      options: { autoResendUnfulfilledCommands: false },
      codes: [],
    },
    {
      name: "no reconnection",
      // ioredis never reconnects when retryStrategy is not a function.
      options: { retryStrategy: null, maxRetriesPerRequest: null } as unknown as RedisOptions,
      codes: [],
    },
  ] as { name: string; options: RedisOptions; codes: string[] }[])(
    "$name warn $codes",
    ({ options, codes }) => {
      expect(warningCodes(redisClient(options))).toEqual(codes);
    },
  );

  it.each([
    { name: "Cluster defaults", options: {}, codes: ["SLUICE_REDIS_UNBOUNDED_QUEUE"] },
    { name: "Cluster recommended", options: { enableOfflineQueue: false }, codes: [] },
    {
      name: "Cluster node reconnects",
      options: { enableOfflineQueue: false, clusterNodeRetryStrategy: () => 100 },
      codes: ["SLUICE_REDIS_RESEND"],
    },
    {
      name: "Cluster node reconnects, no retries",
      options: {
        enableOfflineQueue: false,
        clusterNodeRetryStrategy: () => 100,
        redisOptions: { maxRetriesPerRequest: 0 },
      },
      codes: [],
    },
  ] as { name: string; options: ConstructorParameters<typeof Cluster>[1]; codes: string[] }[])(
    "$name warn $codes",
    ({ options, codes }) => {
      expect(warningCodes(clusterClient(options))).toEqual(codes);
    },
  );

  it("warns once per client", () => {
    const client = redisClient({});

    const first = warningCodes(client);
    const second = warningCodes(client);

    expect(first).toEqual(["SLUICE_REDIS_RESEND"]);
    expect(second).toEqual([]);
  });
});
