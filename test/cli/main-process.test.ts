import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const MAIN = join(ROOT, "dist/cli/main.js");

/** Newest modification time of any file under `dir`, in ms. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile())
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * Compiles the command into dist/ when dist/cli/main.js is missing or older than the sources.
 * Only the command's own import graph is compiled, so unfinished files elsewhere in src/
 * cannot stop the build.
 */
function buildCommandIfStale(): void {
  const built = statSync(MAIN, { throwIfNoEntry: false });
  if (built !== undefined && built.mtimeMs >= newestMtime(join(ROOT, "src"))) return;

  const dir = mkdtempSync(join(tmpdir(), "sluice-build-"));
  try {
    const config = join(dir, "tsconfig.json");
    writeFileSync(
      config,
      JSON.stringify({
        extends: join(ROOT, "tsconfig.build.json"),
        compilerOptions: {
          rootDir: join(ROOT, "src"),
          outDir: join(ROOT, "dist"),
          typeRoots: [join(ROOT, "node_modules/@types")],
        },
        files: [join(ROOT, "src/cli/main.ts")],
        include: [],
      }),
    );
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const result = spawnSync(process.execPath, [tsc, "-p", config], { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`building the command failed:\n${result.stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runMain(args: readonly string[], input?: string) {
  return spawnSync(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    input: input ?? "",
    timeout: 20_000,
  });
}

describe("sluice as a child process", () => {
  beforeAll(buildCommandIfStale);

  it("shebang on the first line", () => {
    expect(readFileSync(MAIN, "utf8").split("\n")[0]).toBe("#!/usr/bin/env node");
  });

  it("replays the bundled log", () => {
    const started = performance.now();
    const result = runMain(["replay", "examples/access.log"]);
    const elapsed = performance.now() - started;

    expect(result.status).toBe(0);
    expect(result.stdout).toContain("lines     10,000 read, 9,999 parsed, 1 malformed");
    expect(result.stderr).toMatch(/^sluice: line 8899 skipped/);
    expect(elapsed).toBeLessThan(5000);
  });

  it("reads stdin", () => {
    const input = '198.18.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5\n';
    const result = runMain(["replay", "-", "--json"], input);

    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).allowed).toBe(1);
  });

  it("missing file exits 2 without stack", () => {
    const result = runMain(["replay", "missing.log"]);

    expect(result.status).toBe(2);
    expect(result.stderr).toBe("sluice: cannot read missing.log: no such file\n");
  });

  it.skipIf(!existsSync("/dev/full"))("full disk exits 1 without stack", () => {
    const result = spawnSync(process.execPath, [MAIN, "replay", "examples/access.log"], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", openSync("/dev/full", "w"), "pipe"],
      timeout: 20_000,
    });

    expect(result.status).toBe(1);
    expect(result.stderr.trimEnd().split("\n").at(-1)).toBe(
      "sluice: cannot write the output: ENOSPC: no space left on device, write",
    );
  });
});
