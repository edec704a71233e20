import type { TextSink } from "./io.js";

/** A replay shorter than this shows no progress at all. */
const QUIET_MS = 1000;
/** Time between two updates on a terminal, which rewrites one line. */
const TERMINAL_INTERVAL_MS = 250;
/** Time between two updates written as separate lines, as to a file. */
const LINE_INTERVAL_MS = 1000;

/**
 * Reports how far a replay got on stderr, starting once it has run for a second. On a
 * terminal one line is rewritten in place; elsewhere each update is a line of its own.
 */
export class Progress {
  readonly #sink: TextSink;
  readonly #enabled: boolean;
  readonly #terminal: boolean;
  readonly #totalBytes: number | undefined;
  readonly #clock: () => number;
  #nextUpdate: number;
  #shown = false;

  /**
   * @param enabled whether to report at all: stderr is a terminal, or `--progress` was given.
   * @param totalBytes size of the input, or `undefined` when unknown (stdin).
   * @param clock monotonic time in milliseconds.
   */
  constructor(
    sink: TextSink,
    enabled: boolean,
    totalBytes: number | undefined,
    clock: () => number = () => performance.now(),
  ) {
    this.#sink = sink;
    this.#enabled = enabled;
    this.#terminal = sink.isTTY === true;
    this.#totalBytes = totalBytes;
    this.#clock = clock;
    this.#nextUpdate = clock() + QUIET_MS;
  }

  /** Reports `lines` lines and `bytes` bytes read, when an update is due. */
  update(lines: number, bytes: number): void {
    if (!this.#enabled) return;
    const now = this.#clock();
    if (now < this.#nextUpdate) return;

    this.#nextUpdate = now + (this.#terminal ? TERMINAL_INTERVAL_MS : LINE_INTERVAL_MS);
    this.#shown = true;
    const text = `sluice: replayed ${lines.toLocaleString("en-US")} lines${this.#share(bytes)}`;
    this.#sink.write(this.#terminal ? `\r${text}\x1b[K` : `${text}\n`);
  }

  /** Clears the progress line from a terminal before the summary is printed. */
  finish(): void {
    if (this.#shown && this.#terminal) this.#sink.write("\r\x1b[K");
  }

  #share(bytes: number): string {
    if (this.#totalBytes === undefined || this.#totalBytes === 0) return "";
    const percent = Math.min(100, Math.floor((bytes / this.#totalBytes) * 100));
    return ` (${percent}% of ${formatBytes(this.#totalBytes)})`;
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}
