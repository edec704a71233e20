import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RateLimiter } from "../../../src/limiter.js";
import { MemoryStore } from "../../../src/stores/memory/memory-store.js";

const builtEntry = new URL("../../../dist/index.js", import.meta.url);

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("MemoryStore timers", () => {
  it("lets a script exit without cleanup", () => {
    // The child runs the built package, as an application would; `npm test` builds first.
    expect(existsSync(fileURLToPath(builtEntry)), "dist/index.js exists (run npm run build)").toBe(
      true,
    );
    const script = [
      `import { RateLimiter } from ${JSON.stringify(builtEntry.href)};`,
      'const limiter = new RateLimiter({ policy: "10/s" });',
      'console.log(limiter.checkSync("a").allowed);',
    ].join("\n");

    const started = performance.now();
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 5000,
    });
    const elapsed = performance.now() - started;

    expect(child.stderr).toBe("");
    expect(child.stdout.trim()).toBe("true");
    expect(child.status).toBe(0);
    expect(elapsed).toBeLessThan(1000);
  });

  it("adds no active handles for 1000 limiters", async () => {
    const before = process.getActiveResourcesInfo().length;
    const limiters = Array.from({ length: 1000 }, () => new RateLimiter({ policy: "10/s" }));
    for (const limiter of limiters) limiter.checkSync("a");
    const during = process.getActiveResourcesInfo().length;

    await Promise.all(limiters.map((limiter) => limiter.close()));

    expect(during).toBe(before);
    expect(process.getActiveResourcesInfo().length).toBe(before);
  });

  it("stops the timers of 1000 closed limiters", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const limiters = Array.from({ length: 1000 }, () => new RateLimiter({ policy: "10/s" }));
    for (const limiter of limiters) limiter.checkSync("a");
    expect(vi.getTimerCount()).toBe(1000);

    await Promise.all(limiters.map((limiter) => limiter.close()));

    expect(vi.getTimerCount()).toBe(0);
  });

  it("starts the sweep with the first tracked key", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const store = new MemoryStore({ sweepInterval: 1000 });
    const limiter = new RateLimiter({ policy: "10/s", store });
    expect(vi.getTimerCount()).toBe(0);

    limiter.peekSync("a");
    expect(vi.getTimerCount()).toBe(0);

    limiter.checkSync("a");
    limiter.checkSync("b");
    expect(vi.getTimerCount()).toBe(1);
  });

  it("unrefs the sweep timer", () => {
    const setIntervalSpy = vi.spyOn(globalThis, "setInterval");
    const store = new MemoryStore({ sweepInterval: 1000 });
    new RateLimiter({ policy: "10/s", store }).checkSync("a");

    const timer = setIntervalSpy.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    clearInterval(timer);
  });

  it("stops the sweep on close", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const store = new MemoryStore({ sweepInterval: 1000 });
    new RateLimiter({ policy: "10/s", store }).checkSync("a");

    await store.close();

    expect(vi.getTimerCount()).toBe(0);
  });

  it("stops the sweep on clear", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const store = new MemoryStore({ sweepInterval: 1000 });
    new RateLimiter({ policy: "10/s", store }).checkSync("a");

    store.clear();

    expect(vi.getTimerCount()).toBe(0);
  });

  it("never starts a sweep when turned off", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const store = new MemoryStore({ sweepInterval: 0 });
    new RateLimiter({ policy: "10/s", store }).checkSync("a");

    expect(vi.getTimerCount()).toBe(0);
  });

  it("frees expired keys in the background", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const clock = { now: 0 };
    const store = new MemoryStore({ clock: () => clock.now, sweepInterval: 1000 });
    const limiter = new RateLimiter({ policy: "10/s", store });
    for (let i = 0; i < 3; i++) limiter.checkSync(`k${i}`);

    clock.now = 5000;
    vi.advanceTimersByTime(1000);

    expect(store.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("sweeps replayed requests by their own time", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    // The store's clock is far past the replayed log, so state that is live in the log's
    // time would look expired by the clock.
    const store = new MemoryStore({ clock: () => 1_000_000_000_000, sweepInterval: 1000 });
    const limiter = new RateLimiter({
      policy: { limit: 1, window: 60_000, algorithm: "fixed-window" },
      store,
    });
    limiter.checkSync("a", { at: 1000 });

    vi.advanceTimersByTime(1000);

    expect(store.size).toBe(1);
    expect(limiter.checkSync("a", { at: 2000 }).allowed).toBe(false);
  });
});
