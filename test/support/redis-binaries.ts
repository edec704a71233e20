import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { LOOPBACK_HOST } from "./free-port.js";

/** Redis executables found on `PATH`, and the server's version. */
export interface RedisBinaries {
  readonly server: string;
  readonly cli: string;
  /** Version of `redis-server`, e.g. `"7.0.15"`. */
  readonly version: string;
  readonly major: number;
  readonly minor: number;
  /**
   * Path of util-linux `setpriv` when it supports `--pdeathsig`. Servers are started through it
   * so the kernel kills them when the test worker dies, even by SIGKILL.
   */
  readonly setpriv: string | undefined;
}

const INSTALL_HINT = "Install Redis >= 6.2 (on Debian: apt-get install redis-server).";

let cachedBinaries: RedisBinaries | undefined;

/**
 * Finds `redis-server`, `redis-cli` and `setpriv` on `PATH` and checks the Redis version.
 * The result is cached for the process.
 *
 * @throws Error when a Redis executable is missing or older than 6.2.
 */
export function findRedisBinaries(): RedisBinaries {
  if (cachedBinaries !== undefined) {
    return cachedBinaries;
  }

  const server = findOnPath("redis-server");
  const cli = findOnPath("redis-cli");
  if (server === undefined || cli === undefined) {
    const missing = server === undefined ? "redis-server" : "redis-cli";
    throw new Error(`${missing} not found on PATH (${process.env.PATH ?? ""}). ${INSTALL_HINT}`);
  }

  const output = spawnSync(server, ["--version"], { encoding: "utf8" }).stdout ?? "";
  const match = /v=(\d+)\.(\d+)\.(\d+)/.exec(output);
  if (match === null) {
    throw new Error(
      `Could not read the version from "${server} --version", which printed "${output.trim()}".`,
    );
  }
  const version = `${match[1]}.${match[2]}.${match[3]}`;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major < 6 || (major === 6 && minor < 2)) {
    throw new Error(`${server} is version ${version}, expected >= 6.2. ${INSTALL_HINT}`);
  }

  cachedBinaries = {
    server,
    cli,
    version,
    major,
    minor,
    setpriv: findPdeathsigWrapper(server),
  };
  return cachedBinaries;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") {
      continue;
    }
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this PATH entry; try the next one.
    }
  }
  return undefined;
}

function findPdeathsigWrapper(server: string): string | undefined {
  const setpriv = findOnPath("setpriv");
  if (setpriv === undefined) {
    return undefined;
  }
  // util-linux before 2.33 has no --pdeathsig, so probe it once instead of trusting its presence.
  const probe = spawnSync(setpriv, ["--pdeathsig", "KILL", server, "--version"], {
    stdio: "ignore",
  });
  return probe.status === 0 ? setpriv : undefined;
}

/**
 * Returns the arguments every harness-started server gets: loopback only, the given port, no
 * persistence, and logs on stdout (captured in `redis.log` in `dir`). Replication skips the
 * default 5 s diskless-sync delay, and on Redis >= 7 `DEBUG` is allowed from loopback so tests
 * can run `DEBUG SLEEP`.
 */
export function baseServerArgs(port: number, dir: string): string[] {
  const args = [
    "--port",
    String(port),
    "--bind",
    LOOPBACK_HOST,
    "--protected-mode",
    "yes",
    "--daemonize",
    "no",
    "--dir",
    dir,
    "--logfile",
    "",
    "--save",
    "",
    "--appendonly",
    "no",
    "--repl-diskless-sync",
    "yes",
    "--repl-diskless-sync-delay",
    "0",
  ];
  if (findRedisBinaries().major >= 7) {
    args.push("--enable-debug-command", "local");
  }
  return args;
}
