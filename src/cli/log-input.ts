import { open, stat } from "node:fs/promises";
import { createInterface, type Interface } from "node:readline";
import type { Readable } from "node:stream";
import { CliError, EXIT_FAILURE } from "./cli-error.js";

/** A log opened for reading line by line. */
export interface LogInput {
  /** The path, or `stdin`. */
  readonly name: string;
  /** Size in bytes, or `undefined` for stdin. */
  readonly size: number | undefined;
  /** The lines without their line endings (LF or CRLF), read on demand. */
  readonly lines: AsyncIterable<string>;
  /** Bytes read so far; 0 for stdin, whose reads are not counted. */
  bytesRead(): number;
  /** Stops reading and releases the file; later calls do nothing. */
  close(): Promise<void>;
}

const READ_CHUNK_BYTES = 64 * 1024;

/**
 * Opens `file` as a stream of lines, or `stdin` when `file` is `-`. Lines are streamed, so
 * memory stays bounded by the longest line whatever the size of the log.
 *
 * @throws {CliError} with exit code 2 when the file is missing, a directory or unreadable.
 */
export async function openLogInput(file: string, stdin: Readable): Promise<LogInput> {
  if (file === "-") {
    return { name: "stdin", size: undefined, bytesRead: () => 0, ...lineSource(stdin, "stdin") };
  }

  const info = await stat(file).catch((error: unknown) => {
    throw new CliError(`cannot read ${file}: ${describeFsError(error)}`);
  });
  if (info.isDirectory()) throw new CliError(`cannot read ${file}: it is a directory`);

  const handle = await open(file, "r").catch((error: unknown) => {
    throw new CliError(`cannot read ${file}: ${describeFsError(error)}`);
  });
  const stream = handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
  const source = lineSource(stream, file);
  return {
    name: file,
    size: info.size,
    bytesRead: () => stream.bytesRead,
    lines: source.lines,
    close: async () => {
      await source.close();
      stream.destroy();
    },
  };
}

/**
 * Splits `input` into lines. The line reader starts only when iteration starts, because a
 * reader started earlier emits lines while the caller is still busy (connecting to Redis,
 * for example), and lines emitted before iteration starts are lost.
 */
function lineSource(input: Readable, name: string): Pick<LogInput, "lines" | "close"> {
  let reader: Interface | undefined;
  let closed = false;

  async function* lines(): AsyncGenerator<string> {
    if (closed) return;
    reader = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      yield* reader;
    } catch (error) {
      throw new CliError(`reading ${name} failed: ${describeFsError(error)}`, EXIT_FAILURE, {
        cause: error,
      });
    }
  }

  return {
    lines: lines(),
    close: async () => {
      closed = true;
      reader?.close();
    },
  };
}

/** Describes a file-system error in a few words, e.g. `no such file`. */
function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a directory";
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
