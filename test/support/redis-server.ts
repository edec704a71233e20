import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis, type RedisOptions } from "ioredis";
import { findFreePort, LOOPBACK_HOST, releasePort } from "./free-port.js";
import { baseServerArgs, findRedisBinaries } from "./redis-binaries.js";
import { parseInfo, redisCommand } from "./redis-command.js";
import {
  createServerDirectory,
  recordServerPid,
  removeServerDirectory,
} from "./redis-directory.js";

/** How to launch one kind of server; used by {@link RedisServer}. */
export interface RedisServerSpec {
  /** Name used in messages, e.g. `"redis-server"` or `"cluster node"`. */
  readonly kind: string;
  /** Whether the port's cluster bus port (`port + 10000`) must be free too. */
  readonly busPort: boolean;
  /** Time in milliseconds one start may take before it fails. */
  readonly startTimeoutMs: number;
  /** Returns the arguments after the executable for a start on `port`; may write config files into `dir`. */
  readonly buildArgs: (port: number, dir: string) => readonly string[];
}

/** Lifecycle of a {@link RedisServer}: `down` means killed or not started; `stopped` is final. */
export type RedisServerState = "new" | "running" | "paused" | "down" | "stopped";

/** Options of {@link RedisServer.client}; the address is always the server's own. */
export type RedisClientOptions = Omit<
  RedisOptions,
  "host" | "port" | "path" | "sentinels" | "name"
>;

/** Time in milliseconds between SIGTERM and SIGKILL in {@link RedisServer.stop}. */
const STOP_GRACE_MS = 2000;

/** New ports tried when another process takes the chosen port first. */
const MAX_PORT_ATTEMPTS = 5;

/** Retries, 250 ms apart, of a restart on a port that is briefly held by someone else. */
const SAME_PORT_ATTEMPTS = 20;

class PortInUseError extends Error {
  override readonly name = "PortInUseError";
}

/**
 * One `redis-server` process (standalone, cluster node or sentinel) on 127.0.0.1 with its own
 * temporary directory, owned by the test that started it.
 *
 * Every instance is registered until {@link RedisServer.stop}; a process `exit` hook kills the
 * ones still running, and on Linux `setpriv --pdeathsig` kills them if the worker dies.
 */
export class RedisServer {
  static readonly #live = new Set<RedisServer>();

  /** Always `127.0.0.1`. */
  readonly host = LOOPBACK_HOST;
  /** Temporary directory holding the log, config files and any data files. */
  readonly dir: string;

  readonly #spec: RedisServerSpec;
  readonly #clients = new Set<Redis>();
  #port: number | undefined;
  #child: ChildProcess | undefined;
  #exit: Promise<void> = Promise.resolve();
  #exited = true;
  #exitStatus = "";
  #state: RedisServerState = "new";
  #stopping: Promise<void> | undefined;

  /** Creates the handle and its directory without starting a process; call {@link start} next. */
  constructor(spec: RedisServerSpec) {
    this.#spec = spec;
    this.dir = createServerDirectory();
    RedisServer.#register(this);
  }

  /** Servers created and not yet stopped in this process. */
  static liveServers(): readonly RedisServer[] {
    return [...RedisServer.#live];
  }

  /** The client port; fixed after the first successful start. */
  get port(): number {
    if (this.#port === undefined) {
      throw new Error(`${this.#spec.kind} has no port yet; call start() first.`);
    }
    return this.#port;
  }

  /** `redis://127.0.0.1:PORT`. */
  get url(): string {
    return `redis://${LOOPBACK_HOST}:${this.port}`;
  }

  /** Process id of the current process, or of the last one after kill(). */
  get pid(): number {
    const pid = this.#child?.pid;
    if (pid === undefined) {
      throw new Error(`${this.#spec.kind} has no process id; it was never started.`);
    }
    return pid;
  }

  /** Current lifecycle state. */
  get state(): RedisServerState {
    return this.#state;
  }

  /** Path of the file receiving the server's stdout and stderr. */
  get logFile(): string {
    return join(this.dir, "redis.log");
  }

  /**
   * Starts the process and waits until it replies to `INFO` on its port. The first start picks
   * a free port, retrying with another one when a parallel worker takes it first; later starts
   * reuse the same port. Does nothing when the process is already running or paused.
   *
   * @throws Error with the log tail when the server exits or does not reply within the spec's
   * timeout.
   */
  async start(): Promise<void> {
    this.#assertNotStopped("start");
    if (this.#state === "running" || this.#state === "paused") {
      return;
    }

    const reusePort = this.#port !== undefined;
    for (let attempt = 1; ; attempt++) {
      this.#port ??= await findFreePort({ busPort: this.#spec.busPort });
      if (this.#stopping !== undefined) {
        throw new Error(`${this.#spec.kind} was stopped while it was starting.`);
      }
      try {
        await this.#spawnUntilReady(this.#port);
        this.#state = "running";
        return;
      } catch (error) {
        this.#state = "down";
        if (!(error instanceof PortInUseError)) {
          throw error;
        }
        if (reusePort ? attempt >= SAME_PORT_ATTEMPTS : attempt >= MAX_PORT_ATTEMPTS) {
          throw new Error(`${error.message} Gave up after ${attempt} attempts.`);
        }
        if (reusePort) {
          await sleep(250);
        } else {
          releasePort(this.#port);
          this.#port = undefined;
        }
      }
    }
  }

  /** Kills the process with SIGKILL, like a crash, and waits until it is gone. The port and directory stay. */
  async kill(): Promise<void> {
    this.#assertNotStopped("kill");
    if (!this.#exited) {
      this.#signal("SIGKILL");
      await this.#awaitExit();
    }
    this.#state = "down";
  }

  /** Stops the process with SIGSTOP: TCP connections stay open but the server sends no replies. */
  pause(): void {
    if (this.#state === "paused") {
      return;
    }
    this.#assertState("pause", "running");
    this.#signal("SIGSTOP");
    this.#state = "paused";
  }

  /** Continues a paused process with SIGCONT. */
  resume(): void {
    if (this.#state === "running") {
      return;
    }
    this.#assertState("resume", "paused");
    this.#signal("SIGCONT");
    this.#state = "running";
  }

  /**
   * Stops the process (if running or paused) and starts a new one on the same port. With the
   * default arguments nothing is persisted, so the new process has no data and no cached scripts.
   */
  async restart(): Promise<void> {
    this.#assertNotStopped("restart");
    await this.#terminate();
    this.#state = "down";
    await this.start();
  }

  /**
   * Disconnects the clients made by {@link client}, stops the process (SIGTERM, then SIGKILL
   * after 2 s) and removes the directory. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /**
   * Creates an ioredis client for this server: `lazyConnect` (it connects on the first command,
   * so creating an unused client opens nothing) and an `error` listener, so a killed server
   * surfaces as rejected commands rather than "Unhandled error event" output. {@link stop}
   * disconnects it if the test did not.
   */
  client(options: RedisClientOptions = {}): Redis {
    const client = new Redis({
      lazyConnect: true,
      ...options,
      host: LOOPBACK_HOST,
      port: this.port,
    });
    client.on("error", ignoreError);
    this.#clients.add(client);
    client.once("end", () => this.#clients.delete(client));
    return client;
  }

  /** Last `lines` lines of the server log, for error messages. */
  logTail(lines = 40): string {
    return readLogFrom(this.logFile, 0).split("\n").slice(-lines).join("\n");
  }

  async #spawnUntilReady(port: number): Promise<void> {
    const address = `${LOOPBACK_HOST}:${port}`;
    const logOffset = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    const pid = this.#spawn(port);

    const deadline = Date.now() + this.#spec.startTimeoutMs;
    for (;;) {
      if (this.#exited) {
        const log = readLogFrom(this.logFile, logOffset);
        const message = `${this.#spec.kind} on ${address} exited during start (${this.#exitStatus}).`;
        if (log.includes("Address already in use")) {
          throw new PortInUseError(`${message} The port was taken by another process.`);
        }
        throw new Error(`${message} Log tail:\n${tailLines(log)}`);
      }

      // The deadline is checked before each probe, so a probe that starts late never counts.
      if (Date.now() < deadline && (await isOwnProcessReplying(port, pid))) {
        this.#child?.unref();
        return;
      }

      if (Date.now() >= deadline) {
        this.#signal("SIGKILL");
        await this.#awaitExit();
        const log = tailLines(readLogFrom(this.logFile, logOffset));
        throw new Error(
          `${this.#spec.kind} on ${address} timed out starting: no reply to INFO within ${this.#spec.startTimeoutMs} ms. Log tail:\n${log}`,
        );
      }
      await Promise.race([sleep(50), this.#exit]);
    }
  }

  /** Spawns the server with stdout and stderr appended to the log file; returns its pid (0 if spawn failed). */
  #spawn(port: number): number {
    const binaries = findRedisBinaries();
    const serverArgs = [...this.#spec.buildArgs(port, this.dir)];
    const command = binaries.setpriv ?? binaries.server;
    const args =
      binaries.setpriv === undefined
        ? serverArgs
        : ["--pdeathsig", "KILL", binaries.server, ...serverArgs];

    const logFd = openSync(this.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(command, args, { cwd: this.dir, stdio: ["ignore", logFd, logFd] });
    } finally {
      closeSync(logFd);
    }

    this.#child = child;
    this.#exited = false;
    this.#exitStatus = "";
    this.#exit = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.#exitStatus = signal === null ? `exit code ${code}` : `signal ${signal}`;
        this.#exited = true;
        // A server that crashed on its own is down; kill(), restart() and stop() set their own state.
        if (this.#state === "running" || this.#state === "paused") {
          this.#state = "down";
        }
        resolve();
      });
      child.once("error", (error) => {
        this.#exitStatus = `spawn failed: ${error.message}`;
        this.#exited = true;
        resolve();
      });
    });
    if (child.pid !== undefined) {
      recordServerPid(this.dir, child.pid);
    }
    return child.pid ?? 0;
  }

  /** Waits for the process to exit, holding the event loop open meanwhile. */
  async #awaitExit(): Promise<void> {
    this.#child?.ref();
    await this.#exit;
  }

  /** SIGCONT (a stopped process cannot handle SIGTERM), SIGTERM, then SIGKILL after the grace period. */
  async #terminate(): Promise<void> {
    if (this.#exited) {
      return;
    }
    this.#child?.ref();
    this.#signal("SIGCONT");
    this.#signal("SIGTERM");
    await Promise.race([this.#exit, sleep(STOP_GRACE_MS)]);
    if (!this.#exited) {
      this.#signal("SIGKILL");
    }
    await this.#awaitExit();
  }

  async #stop(): Promise<void> {
    for (const client of this.#clients) {
      client.disconnect();
    }
    this.#clients.clear();

    await this.#terminate();
    this.#state = "stopped";
    removeServerDirectory(this.dir);
    if (this.#port !== undefined) {
      releasePort(this.#port);
    }
    RedisServer.#live.delete(this);
    exitCleanups().delete(this.#killSync);
  }

  /** Exit-hook cleanup: only synchronous calls run in an `exit` listener, so SIGKILL and `rmSync`. */
  readonly #killSync = (): void => {
    const pid = this.#child?.pid;
    if (pid !== undefined && !this.#exited) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    removeServerDirectory(this.dir);
  };

  #signal(signal: NodeJS.Signals): void {
    const pid = this.#child?.pid;
    if (pid === undefined || this.#exited) {
      return;
    }
    try {
      process.kill(pid, signal);
    } catch (error) {
      // ESRCH: the process exited and the exit event is still on its way.
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") {
        throw error;
      }
    }
  }

  #assertNotStopped(action: string): void {
    if (this.#state === "stopped") {
      throw new Error(
        `Cannot ${action} ${this.#spec.kind}: it was stopped and its directory removed.`,
      );
    }
  }

  #assertState(action: string, expected: RedisServerState): void {
    if (this.#state !== expected) {
      const where = this.#port === undefined ? "" : ` on ${LOOPBACK_HOST}:${this.#port}`;
      throw new Error(
        `Cannot ${action} ${this.#spec.kind}${where}: it is ${this.#state}, expected ${expected}.`,
      );
    }
  }

  static #register(server: RedisServer): void {
    RedisServer.#live.add(server);
    exitCleanups().add(server.#killSync);
  }
}

/** Key on `process` of the cleanup set shared by every copy of this module in the process. */
const EXIT_CLEANUPS_KEY = Symbol.for("sluice.test.redisServerExitCleanups");

/**
 * Returns the process-wide set of exit cleanups, installing its single `exit` listener on first
 * use. A test runner may evaluate this module once per test file in one worker process, and a
 * listener per module copy would pile up on the shared `process`.
 */
function exitCleanups(): Set<() => void> {
  const holder = process as unknown as Record<symbol, Set<() => void> | undefined>;
  const existing = holder[EXIT_CLEANUPS_KEY];
  if (existing !== undefined) {
    return existing;
  }

  const cleanups = new Set<() => void>();
  holder[EXIT_CLEANUPS_KEY] = cleanups;
  process.on("exit", () => {
    for (const cleanup of cleanups) {
      cleanup();
    }
    cleanups.clear();
  });
  return cleanups;
}

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** Extra `redis-server` arguments, appended after the harness's own, e.g. `["--maxmemory", "10mb"]`. */
  readonly args?: readonly string[];
  /** Time in milliseconds a start may take. @default 10000 */
  readonly startTimeoutMs?: number;
}

/**
 * Starts a standalone `redis-server` on a free 127.0.0.1 port with no persistence.
 *
 * @throws Error with the server's log tail when it fails to start; the failed server is cleaned up.
 * @example
 * const server = await startRedis();
 * const client = server.client();
 * await client.set("k", "v");
 * await server.stop();
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const extraArgs = options.args ?? [];
  const server = new RedisServer({
    kind: "redis-server",
    busPort: false,
    startTimeoutMs: options.startTimeoutMs ?? 10_000,
    buildArgs: (port, dir) => [...baseServerArgs(port, dir), ...extraArgs],
  });
  return startOrClean(server);
}

/** Starts `server`, stopping it (and removing its directory) if the start fails. */
export async function startOrClean<T extends RedisServer>(server: T): Promise<T> {
  try {
    await server.start();
    return server;
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** Servers started in this process and not yet stopped; a test can assert it is empty after cleanup. */
export function listRedisServers(): readonly RedisServer[] {
  return RedisServer.liveServers();
}

/**
 * Returns whether the server on `port` replies and is the process `pid`, so a server started by
 * another worker that won the race for the port is never mistaken for ours.
 */
async function isOwnProcessReplying(port: number, pid: number): Promise<boolean> {
  try {
    const info = parseInfo(await redisCommand(port, ["INFO", "server"], { timeoutMs: 500 }));
    return info.get("process_id") === String(pid);
  } catch {
    return false;
  }
}

function readLogFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString("utf8");
  } catch {
    return "";
  }
}

function tailLines(text: string, lines = 40): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function ignoreError(): void {
  // Connection errors reach the test as rejected commands; the listener only keeps ioredis quiet.
}
