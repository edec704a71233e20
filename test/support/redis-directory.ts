import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Prefix of every server directory under `os.tmpdir()`. */
const DIRECTORY_PREFIX = "sluice-redis-";

/** File naming the pid of the test process that owns the directory. */
const OWNER_FILE = "owner.pid";

/** File naming the pid of the server process last started in the directory. */
const SERVER_FILE = "server.pid";

let sweptOrphans = false;

/**
 * Creates a fresh directory under `os.tmpdir()` for one server and marks it with this
 * process's pid. The first call in a process also removes directories left by test processes
 * that died without cleaning up (see {@link sweepOrphans}).
 */
export function createServerDirectory(): string {
  if (!sweptOrphans) {
    sweptOrphans = true;
    sweepOrphans();
  }

  const dir = mkdtempSync(join(tmpdir(), DIRECTORY_PREFIX));
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  return dir;
}

/** Records the pid of the server process started in `dir`, for {@link sweepOrphans}. */
export function recordServerPid(dir: string, pid: number): void {
  writeFileSync(join(dir, SERVER_FILE), String(pid));
}

/** Removes a server directory and everything in it; a missing directory is fine. */
export function removeServerDirectory(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Removes the directories whose owning test process no longer exists, first SIGKILLing the
 * server recorded in each if it still runs. A test worker killed by SIGKILL or SIGTERM runs no
 * exit hook, and without `setpriv --pdeathsig` its servers outlive it. A server is killed only
 * when `/proc/<pid>/cwd` is that directory, so a reused pid never hits an unrelated process.
 * On systems without `/proc` orphaned servers are left running and only reported by the OS.
 */
function sweepOrphans(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((name) => name.startsWith(DIRECTORY_PREFIX));
  } catch {
    return;
  }

  for (const name of entries) {
    const dir = join(tmpdir(), name);
    const owner = readPid(join(dir, OWNER_FILE));
    // No owner file yet means another process is creating the directory right now.
    if (owner === undefined || processExists(owner)) {
      continue;
    }

    const server = readPid(join(dir, SERVER_FILE));
    if (server !== undefined && isRunningIn(server, dir)) {
      try {
        process.kill(server, "SIGKILL");
      } catch {
        // Exited in the meantime.
      }
    }
    removeServerDirectory(dir);
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Returns whether a process with this pid exists (zombies included). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function isRunningIn(pid: number, dir: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(dir);
  } catch {
    return false;
  }
}
