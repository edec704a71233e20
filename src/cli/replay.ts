import type { Policy } from "../policy/policy.js";
import { ACCESS_LOG_FIELDS, createAccessLogParser, isAccessLogField } from "./access-log.js";
import { KeyTable, RequestBatch } from "./batch.js";
import { CliError, EXIT_INTERRUPTED } from "./cli-error.js";
import type { CliIo } from "./io.js";
import { createJsonLinesParser } from "./json-lines.js";
import { type LineParser, type LogFormat, type ParsedRequest, sniffFormat } from "./line-parser.js";
import { type LogInput, openLogInput } from "./log-input.js";
import { Progress } from "./progress.js";
import { connectRedisBackend } from "./redis-backend.js";
import type { ReplayOptions } from "./replay-options.js";
import {
  createMemoryBackend,
  type RedisCleanup,
  type ReplayBackend,
  type ReplayRun,
} from "./replay-run.js";
import type { KeyCount } from "./tally.js";

/** Line counts of a replayed log. */
export interface LineCounts {
  /** Every line, blank and malformed ones included. */
  read: number;
  parsed: number;
  /** Non-blank lines that could not be parsed; they are skipped. */
  malformed: number;
  blank: number;
}

/** The result of one policy over the log. */
export interface RunSummary {
  readonly policy: Policy;
  readonly allowed: number;
  readonly rejected: number;
  /** `rejected / requests`, 0 for an empty log. */
  readonly rejectionRate: number;
  /** Keys with at least one rejected request. */
  readonly rejectedKeys: number;
  /** The most rejected keys, most first. */
  readonly top: readonly KeyCount[];
  /** Milliseconds spent deciding, parsing excluded. */
  readonly decideMs: number;
  readonly decisionsPerSecond: number;
}

/** Everything `sluice replay` reports. */
export interface ReplaySummary {
  /** The path, or `stdin`. */
  readonly source: string;
  /** The format read; `auto` only when the log had no non-blank line. */
  readonly format: LogFormat | "auto";
  readonly keyFields: readonly string[];
  readonly store: "memory" | "redis";
  /** Prefix and cleanup of a Redis replay. */
  readonly redis: RedisCleanup | undefined;
  readonly lines: LineCounts;
  readonly distinctKeys: number;
  /** Milliseconds from opening the log to the end of cleanup. */
  readonly elapsedMs: number;
  readonly runs: readonly RunSummary[];
}

/** Requests parsed before they are decided; bounds memory and sets the progress step. */
const BATCH_SIZE = 8192;
/** Malformed lines shown on stderr; the rest are only counted. */
const MALFORMED_SHOWN = 3;
/** Characters of a malformed line shown on stderr. */
const EXCERPT_LENGTH = 120;
const DEFAULT_KEY_FIELD = "ip";
const DEFAULT_TIME_FIELD = "time";

/**
 * Replays a log: parses each line, decides it under each policy with the line's own time
 * as the request time, and returns the totals. Lines are decided in log order without
 * sorting, and a line older than its key's state never regains quota that the key used.
 *
 * @throws {CliError} for an unreadable log, an invalid key or time field, a Redis failure
 * or an interrupt.
 */
export async function replay(options: ReplayOptions, io: CliIo): Promise<ReplaySummary> {
  const started = performance.now();
  const input = await openLogInput(options.file, io.stdin);
  const onAbort = () => void input.close();
  io.signal?.addEventListener("abort", onAbort, { once: true });

  let backend: ReplayBackend | undefined;
  let runs: ReplayRun[] = [];
  let closed = false;
  try {
    const opened =
      options.redis === undefined
        ? createMemoryBackend()
        : await connectRedisBackend(options.redis, io.stderr);
    backend = opened;
    runs = options.policies.map((policy) => opened.createRun(policy));

    const result = await decideLog(input, runs, options, io);
    if (io.signal?.aborted === true) throw new CliError("interrupted", EXIT_INTERRUPTED);

    // Marked first, so that a failed cleanup is not attempted a second time below.
    closed = true;
    await Promise.all(runs.map((run) => run.close()));
    const redis = await opened.close();

    return {
      source: input.name,
      format: result.format,
      keyFields: result.keyFields,
      store: opened.store,
      redis,
      lines: result.lines,
      distinctKeys: result.keys.size,
      elapsedMs: performance.now() - started,
      runs: runs.map((run) => summarizeRun(run, result.lines.parsed, result.keys, options.top)),
    };
  } finally {
    io.signal?.removeEventListener("abort", onAbort);
    await input.close();
    if (!closed) await closeAfterFailure(runs, backend, io);
  }
}

interface DecidedLog {
  format: LogFormat | "auto";
  keyFields: readonly string[];
  lines: LineCounts;
  keys: KeyTable;
}

async function decideLog(
  input: LogInput,
  runs: readonly ReplayRun[],
  options: ReplayOptions,
  io: CliIo,
): Promise<DecidedLog> {
  const lines: LineCounts = { read: 0, parsed: 0, malformed: 0, blank: 0 };
  const keys = new KeyTable();
  const batch = new RequestBatch(BATCH_SIZE);
  const request: ParsedRequest = { key: "", at: 0 };
  const progress = new Progress(
    io.stderr,
    options.progress || io.stderr.isTTY === true,
    input.size,
  );
  let format: LogFormat | "auto" = options.format;
  let parser: LineParser | undefined;

  const flush = async (): Promise<void> => {
    for (const run of runs) {
      const start = performance.now();
      await run.decide(batch, keys.names);
      run.tally.decideMs += performance.now() - start;
    }
    batch.clear();
    progress.update(lines.read, input.bytesRead());
  };

  for await (const text of input.lines) {
    lines.read++;
    const line = lines.read === 1 ? stripByteOrderMark(text) : text;
    if (isBlank(line)) {
      lines.blank++;
      continue;
    }

    if (parser === undefined) {
      if (format === "auto") format = sniffFormat(line);
      parser = createParser(format, options);
    }
    const reason = parser(line, request);
    if (reason !== undefined) {
      lines.malformed++;
      if (lines.malformed <= MALFORMED_SHOWN) {
        io.stderr.write(`sluice: line ${lines.read} skipped, ${reason}: ${excerpt(line)}\n`);
      }
      continue;
    }

    lines.parsed++;
    batch.push(keys.intern(request.key), request.at);
    if (batch.full) await flush();
  }
  if (batch.length > 0) await flush();
  progress.finish();

  const unshown = lines.malformed - MALFORMED_SHOWN;
  if (unshown > 0) {
    io.stderr.write(`sluice: ${unshown} more malformed lines skipped\n`);
  }
  return { format, keyFields: options.keyFields ?? [DEFAULT_KEY_FIELD], lines, keys };
}

/**
 * Creates the parser of `format` with the key and time fields of `options`.
 *
 * @throws {CliError} with exit code 2 when a field does not fit the format.
 */
function createParser(format: LogFormat, options: ReplayOptions): LineParser {
  const keyFields = options.keyFields ?? [DEFAULT_KEY_FIELD];
  if (format === "json") {
    return createJsonLinesParser(keyFields, options.timeField ?? DEFAULT_TIME_FIELD);
  }

  if (options.timeField !== undefined) {
    throw new CliError(
      "--time-field applies only to JSON lines; access-log lines carry their own timestamp",
    );
  }
  const unknown = keyFields.find((field) => !isAccessLogField(field));
  if (unknown !== undefined) {
    throw new CliError(
      `--key-field "${unknown}" is not a field of access-log lines; use ${ACCESS_LOG_FIELDS.join(", ")}`,
    );
  }
  return createAccessLogParser(keyFields.filter(isAccessLogField));
}

function summarizeRun(run: ReplayRun, requests: number, keys: KeyTable, top: number): RunSummary {
  const { tally } = run;
  return {
    policy: run.policy,
    allowed: tally.allowed,
    rejected: tally.rejected,
    rejectionRate: requests === 0 ? 0 : tally.rejected / requests,
    rejectedKeys: tally.rejectedKeys(),
    top: tally.top(top, keys.names),
    decideMs: tally.decideMs,
    decisionsPerSecond: tally.decideMs > 0 ? Math.round((requests * 1000) / tally.decideMs) : 0,
  };
}

/** Closes what a failed or interrupted replay left open, reporting a failed cleanup. */
async function closeAfterFailure(
  runs: readonly ReplayRun[],
  backend: ReplayBackend | undefined,
  io: CliIo,
): Promise<void> {
  try {
    await Promise.all(runs.map((run) => run.close()));
    await backend?.close();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`sluice: ${message}\n`);
  }
}

/** Drops the byte order mark that some editors put at the start of a UTF-8 file. */
function stripByteOrderMark(line: string): string {
  return line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
}

function isBlank(line: string): boolean {
  return line.length === 0 || line.trim().length === 0;
}

/** Returns the start of a line for a message, with control characters shown as `?`. */
function excerpt(line: string): string {
  const cut = line.length > EXCERPT_LENGTH ? `${line.slice(0, EXCERPT_LENGTH)}…` : line;
  return cut.replace(/\p{Cc}/gu, "?");
}
