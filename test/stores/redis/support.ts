import { existsSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Cluster, Redis } from "ioredis";
import { RateLimiter } from "../../../src/limiter.js";
import type { PolicyInput } from "../../../src/policy/policy.js";
import { RedisStore, type RedisStoreOptions } from "../../../src/stores/redis/index.js";
import type { Logger } from "../../../src/types.js";

/**
 * Deadline for limiters in these tests, in ms: long enough that a loaded test machine never
 * turns a Redis decision into a failure-mode one.
 */
export const DEADLINE = { timeout: 10_000 } as const;

let prefixCount = 0;

/** Returns a prefix no other test in this process uses, so tests never share state. */
export function uniquePrefix(label: string): string {
  prefixCount += 1;
  return `test-${label}-${process.pid}-${prefixCount}`;
}

/** Creates a limiter over a new RedisStore with its own prefix; returns both. */
export function redisLimiter(
  client: Redis | Cluster,
  policy: PolicyInput | readonly PolicyInput[],
  options: Partial<RedisStoreOptions> & { label?: string } = {},
): { limiter: RateLimiter; store: RedisStore } {
  const { label = "limiter", ...storeOptions } = options;
  const store = new RedisStore({ client, prefix: uniquePrefix(label), ...storeOptions });
  const limiter = Array.isArray(policy)
    ? new RateLimiter({ policies: policy as readonly PolicyInput[], store, ...DEADLINE })
    : new RateLimiter({ policy: policy as PolicyInput, store, ...DEADLINE });
  return { limiter, store };
}

/** Lists every key starting with `prefix`, on every master of a Cluster. */
export async function keysWithPrefix(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const nodes = "nodes" in client ? client.nodes("master") : [client];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(
        cursor,
        "MATCH",
        `${globEscape(prefix)}*`,
        "COUNT",
        1000,
      );
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
  }
  return keys.sort();
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** Creates a logger that records what it receives. */
export function recordingLogger(): Logger & { warnings: unknown[][]; errors: unknown[][] } {
  const warnings: unknown[][] = [];
  const errors: unknown[][] = [];
  return {
    warnings,
    errors,
    warn: (message, details) => warnings.push([message, details]),
    error: (message, details) => errors.push([message, details]),
  };
}

const root = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * Returns the path of the built `dist/` folder that child processes import, and fails with
 * a clear message when it is missing or older than the Redis store's sources.
 */
export function builtDist(): string {
  const entry = `${root}dist/stores/redis/index.js`;
  const source = `${root}src/stores/redis/redis-store.ts`;
  if (!existsSync(entry) || statSync(entry).mtimeMs < statSync(source).mtimeMs) {
    throw new Error(`${entry} is missing or older than its source; run npm run build first.`);
  }
  return `${root}dist/`;
}
