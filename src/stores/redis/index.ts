/**
 * `sluice/redis`: the Redis store, for limits shared by every process that uses one Redis
 * server, Sentinel group or Cluster.
 *
 * @example
 * import { Redis } from "ioredis";
 * import { RateLimiter } from "sluice";
 * import { RedisStore } from "sluice/redis";
 *
 * const client = new Redis({ host: "127.0.0.1", port: 6380 });
 * const limiter = new RateLimiter({ policy: "100/1m", store: new RedisStore({ client }) });
 */
export { MAX_RAW_KEY_BYTES } from "./redis-keys.js";
export { RedisStore, type RedisStoreOptions } from "./redis-store.js";
