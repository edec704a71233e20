/**
 * In-memory limiter benchmark: sluice's MemoryStore against rate-limiter-flexible's
 * RateLimiterMemory and the `limiter` package, in one process and one run.
 *
 * Measures decisions per second on one hot key, on 10 000 keys in turn, and on 1 000 000
 * distinct keys (every request creates a key), and heap bytes per tracked key for 200 000
 * keys. Every limiter gets a limit it never reaches, so every request is allowed and no
 * library pays for a rejection. Prints a Markdown table and ratios against
 * rate-limiter-flexible.
 *
 * Run: npm run build && node --expose-gc bench/memory.mjs
 */
import { readFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { RateLimiter as TokenBucketLimiter } from "limiter";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { RateLimiter } from "../dist/index.js";

/** Requests per window for every library: high enough that nothing is rejected. */
const LIMIT = 1_000_000_000;
const WINDOW_MS = 60_000;
const ROUNDS = 5;
const OPERATIONS = 1_000_000;
const HEAP_KEYS = 200_000;
/**
 * sluice's fixed window opens at a key's first request and keeps the key for the window,
 * as RateLimiterMemory does, so both track the same keys for the same time.
 */
const FIXED_WINDOW = { limit: LIMIT, window: WINDOW_MS, algorithm: "fixed-window" };
/**
 * sluice's default algorithm with a bucket too large to empty here. GCRA drops a key once
 * its bucket is full again, which at the fixed window's rate is 1 ms after a request. At
 * this rate each request moves the refill time 60 ms ahead, so keys stay tracked while
 * the run revisits them.
 */
const GCRA = { limit: 1000, window: WINDOW_MS, algorithm: "gcra", burst: LIMIT };

if (typeof globalThis.gc !== "function") {
  console.error(
    "bench/memory.mjs needs the gc() hook: run it as node --expose-gc bench/memory.mjs",
  );
  process.exit(1);
}
const gc = globalThis.gc;

// Each contender has its own loop functions, written out, so every call site inside a loop
// calls one library only, and the JIT optimises each loop as it would a user's code.
const contenders = [
  {
    name: "sluice checkSync",
    create: () => new RateLimiter({ policy: FIXED_WINDOW }),
    close: (limiter) => limiter.close(),
    run(limiter, keys, operations) {
      let allowed = 0;
      let next = 0;
      for (let i = 0; i < operations; i++) {
        if (limiter.checkSync(keys[next]).allowed) allowed++;
        if (++next === keys.length) next = 0;
      }
      return allowed;
    },
    async fill(limiter, count) {
      for (let i = 0; i < count; i++) limiter.checkSync(`user:${i}`);
    },
  },
  {
    name: "sluice checkSync, gcra",
    create: () => new RateLimiter({ policy: GCRA }),
    close: (limiter) => limiter.close(),
    run(limiter, keys, operations) {
      let allowed = 0;
      let next = 0;
      for (let i = 0; i < operations; i++) {
        if (limiter.checkSync(keys[next]).allowed) allowed++;
        if (++next === keys.length) next = 0;
      }
      return allowed;
    },
  },
  {
    name: "sluice check (async)",
    create: () => new RateLimiter({ policy: FIXED_WINDOW }),
    close: (limiter) => limiter.close(),
    async run(limiter, keys, operations) {
      let allowed = 0;
      let next = 0;
      for (let i = 0; i < operations; i++) {
        if ((await limiter.check(keys[next])).allowed) allowed++;
        if (++next === keys.length) next = 0;
      }
      return allowed;
    },
  },
  {
    name: "rate-limiter-flexible",
    create: () => new RateLimiterMemory({ points: LIMIT, duration: WINDOW_MS / 1000 }),
    // RateLimiterMemory has no close(). Each key has a 60 s timer that keeps its state
    // alive, so clear them (through its storage map) to let the next round start clean.
    close(limiter) {
      for (const record of limiter._memoryStorage._storage.values()) {
        clearTimeout(record.timeoutId);
      }
      limiter._memoryStorage._storage.clear();
    },
    async run(limiter, keys, operations) {
      let allowed = 0;
      let next = 0;
      for (let i = 0; i < operations; i++) {
        if ((await limiter.consume(keys[next])).remainingPoints >= 0) allowed++;
        if (++next === keys.length) next = 0;
      }
      return allowed;
    },
    async fill(limiter, count) {
      for (let i = 0; i < count; i++) await limiter.consume(`user:${i}`);
    },
  },
  {
    // The `limiter` package limits one bucket, so per-key use keeps a Map of them.
    name: "limiter (Map of RateLimiter)",
    create: () => new Map(),
    close: (buckets) => buckets.clear(),
    run(buckets, keys, operations) {
      let allowed = 0;
      let next = 0;
      for (let i = 0; i < operations; i++) {
        const key = keys[next];
        let bucket = buckets.get(key);
        if (bucket === undefined) {
          bucket = new TokenBucketLimiter({ tokensPerInterval: LIMIT, interval: WINDOW_MS });
          buckets.set(key, bucket);
        }
        if (bucket.tryRemoveTokens(1)) allowed++;
        if (++next === keys.length) next = 0;
      }
      return allowed;
    },
    async fill(buckets, count) {
      for (let i = 0; i < count; i++) {
        const bucket = new TokenBucketLimiter({ tokensPerInterval: LIMIT, interval: WINDOW_MS });
        buckets.set(`user:${i}`, bucket);
        bucket.tryRemoveTokens(1);
      }
    },
  },
];

const REFERENCE = "rate-limiter-flexible";

function makeKeys(count) {
  const keys = new Array(count);
  for (let i = 0; i < count; i++) keys[i] = `user:${i}`;
  return keys;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Times one round and returns decisions per second; warns when anything was rejected. */
async function timeRound(contender, instance, keys, operations) {
  const started = performance.now();
  const allowed = await contender.run(instance, keys, operations);
  const elapsed = performance.now() - started;
  if (allowed !== operations) {
    console.warn(`${contender.name}: ${operations - allowed} of ${operations} rejected`);
  }
  return (operations / elapsed) * 1000;
}

/**
 * Measures a scenario whose keys already exist after the first pass: one instance, one
 * untimed warm-up round, then `ROUNDS` timed rounds.
 */
async function measureReused(contender, keys) {
  const instance = contender.create();
  await timeRound(contender, instance, keys, OPERATIONS);
  const rates = [];
  for (let round = 0; round < ROUNDS; round++) {
    rates.push(await timeRound(contender, instance, keys, OPERATIONS));
  }
  await contender.close(instance);
  return median(rates);
}

/** Measures creating every key: a fresh instance per round, so each request meets a new key. */
async function measureDistinct(contender, keys) {
  const rates = [];
  for (let round = 0; round <= ROUNDS; round++) {
    gc();
    const instance = contender.create();
    const rate = await timeRound(contender, instance, keys, keys.length);
    // Round 0 warms up the JIT and is not counted.
    if (round > 0) rates.push(rate);
    await contender.close(instance);
  }
  gc();
  return median(rates);
}

function usedBytes() {
  const usage = process.memoryUsage();
  // Typed arrays keep their contents outside the JS heap, so count those bytes as well.
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * Measures bytes retained per tracked key. Each library builds its key strings the same
 * way while the measurement runs, so the strings it keeps are counted in its total.
 */
async function measureHeapPerKey(contender) {
  gc();
  gc();
  const before = usedBytes();
  const instance = contender.create();
  await contender.fill(instance, HEAP_KEYS);
  gc();
  gc();
  const after = usedBytes();
  await contender.close(instance);
  return (after - before) / HEAP_KEYS;
}

function describeMachine() {
  const cpu = readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m)?.[1];
  return [
    `node ${process.version}, ${availableParallelism()} CPUs (${cpu ?? "unknown model"}),`,
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${new Date().toISOString()}`,
  ].join(" ");
}

function formatRate(rate) {
  return rate === undefined ? "n/a" : `${(rate / 1e6).toFixed(2)} M/s`;
}

function formatRatio(value, reference) {
  return value === undefined || reference === undefined
    ? ""
    : ` (${(value / reference).toFixed(2)}×)`;
}

const scenarios = [
  { name: "1 hot key", keys: makeKeys(1), measure: measureReused },
  { name: "10 000 keys in turn", keys: makeKeys(10_000), measure: measureReused },
  { name: "1 000 000 distinct keys", keys: makeKeys(1_000_000), measure: measureDistinct },
];

console.log(describeMachine());
console.log(
  `${ROUNDS} timed rounds after a warm-up; median decisions per second, ${OPERATIONS} per round\n`,
);

const results = new Map(contenders.map((contender) => [contender.name, {}]));
for (const scenario of scenarios) {
  for (const contender of contenders) {
    const rate = await scenario.measure(contender, scenario.keys);
    results.get(contender.name)[scenario.name] = rate;
    console.error(`  ${scenario.name}: ${contender.name} ${formatRate(rate)}`);
  }
}
for (const contender of contenders) {
  if (contender.fill === undefined) continue;
  const bytes = await measureHeapPerKey(contender);
  results.get(contender.name).heap = bytes;
  console.error(`  heap per key: ${contender.name} ${bytes.toFixed(0)} B`);
}

/** Measures one `Date.now()` call: every limiter here reads the clock once per decision. */
function measureClockRead() {
  const calls = 5_000_000;
  let sum = 0;
  const rates = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const started = performance.now();
    for (let i = 0; i < calls; i++) sum += Date.now();
    const elapsed = performance.now() - started;
    if (round > 0) rates.push((elapsed * 1e6) / calls);
  }
  return sum > 0 ? median(rates) : Number.NaN;
}

const clockRead = measureClockRead();
const reference = results.get(REFERENCE);
const header = ["library", ...scenarios.map((scenario) => scenario.name), "heap bytes per key"];
console.log(`| ${header.join(" | ")} |`);
console.log(`|${header.map(() => " --- ").join("|")}|`);
for (const contender of contenders) {
  const row = results.get(contender.name);
  const cells = scenarios.map(
    (scenario) =>
      `${formatRate(row[scenario.name])}${formatRatio(row[scenario.name], reference[scenario.name])}`,
  );
  const heap =
    row.heap === undefined ? "" : `${row.heap.toFixed(0)}${formatRatio(row.heap, reference.heap)}`;
  console.log(`| ${contender.name} | ${cells.join(" | ")} | ${heap} |`);
}
console.log(`\nRatios in brackets are against ${REFERENCE} in this run.`);
console.log(
  `One Date.now() call takes ${clockRead.toFixed(1)} ns here, so a limiter that reads the clock ` +
    `once per decision makes at most ${(1e3 / clockRead).toFixed(1)} M decisions/s.`,
);
