import type { Readable } from "node:stream";

/** Text output of a command: `process.stdout`, `process.stderr`, or a test double. */
export interface TextSink {
  write(text: string): unknown;
  /** True when the sink is a terminal, which enables progress and in-place updates. */
  readonly isTTY?: boolean;
}

/** The process streams a command uses, passed in so tests can run commands in process. */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Read by `sluice replay -`. */
  readonly stdin: Readable;
  /** Aborted on an interrupt; a replay then stops reading, cleans up and exits with 130. */
  readonly signal?: AbortSignal;
}
