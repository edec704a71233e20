import { readFile } from "node:fs/promises";
import { CliError, EXIT_FAILURE, EXIT_USAGE } from "./cli-error.js";
import { MAIN_HELP, REPLAY_HELP } from "./help.js";
import type { CliIo } from "./io.js";
import { replay } from "./replay.js";
import { parseReplayOptions } from "./replay-options.js";
import { formatSummaryText, summaryToJson } from "./report.js";

const COMMANDS: Readonly<Record<string, string>> = { replay: REPLAY_HELP };

/**
 * Runs the `sluice` command with `argv` (the arguments after the program name) and
 * resolves with the exit code. Every failure ends as one `sluice: …` line on stderr, never
 * a stack trace.
 *
 * @example
 * process.exitCode = await main(["replay", "examples/access.log"], process);
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr.write(`sluice: ${error.message}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`sluice: unexpected error: ${message}\n`);
    return EXIT_FAILURE;
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case undefined:
      io.stderr.write(MAIN_HELP);
      return EXIT_USAGE;
    case "-h":
    case "--help":
      io.stdout.write(MAIN_HELP);
      return 0;
    case "-V":
    case "--version":
      io.stdout.write(`${await readVersion()}\n`);
      return 0;
    case "help":
      return showHelp(args[0], io);
    case "replay":
      return runReplay(args, io);
    default:
      if (command.startsWith("-")) {
        throw new CliError(`unknown option ${command}; see sluice --help`);
      }
      throw new CliError(
        `unknown command "${command}"; the commands are: ${Object.keys(COMMANDS).join(", ")} (see sluice --help)`,
      );
  }
}

async function runReplay(args: readonly string[], io: CliIo): Promise<number> {
  const options = parseReplayOptions(args);
  if (options === "help") {
    io.stdout.write(REPLAY_HELP);
    return 0;
  }

  const summary = await replay(options, io);
  io.stdout.write(
    options.json
      ? `${JSON.stringify(summaryToJson(summary, options.compare), null, 2)}\n`
      : formatSummaryText(summary),
  );
  return 0;
}

function showHelp(command: string | undefined, io: CliIo): number {
  if (command === undefined) {
    io.stdout.write(MAIN_HELP);
    return 0;
  }
  const help = COMMANDS[command];
  if (help === undefined) throw new CliError(`no help for unknown command "${command}"`);
  io.stdout.write(help);
  return 0;
}

/** Reads the version from the package's `package.json`, two levels above this module. */
async function readVersion(): Promise<string> {
  const text = await readFile(new URL("../../package.json", import.meta.url), "utf8");
  const version: unknown = (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === "string" ? version : "unknown";
}
