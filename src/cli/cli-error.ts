/** Exit code for a failure after the command started, such as a lost Redis connection. */
export const EXIT_FAILURE = 1;

/** Exit code for invalid usage or input: an unknown flag, a bad value, a missing file. */
export const EXIT_USAGE = 2;

/** Exit code after an interrupt (SIGINT), as shells report it: 128 + 2. */
export const EXIT_INTERRUPTED = 130;

/**
 * A failure the command reports as one line on stderr (`sluice: <message>`) before exiting
 * with `exitCode`. Anything else that escapes a command is a bug, reported the same way.
 */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT_USAGE, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** Creates the exit-2 error for invalid usage, with a pointer to the help of `command`. */
export function usageError(message: string, command = "replay"): CliError {
  return new CliError(`${message}; see sluice ${command} --help`);
}
