import { type ParseArgsConfig, parseArgs } from "node:util";
import { type CliError, usageError } from "./cli-error.js";

type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/** Values and positionals of a command line parsed against `options`. */
export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/**
 * Parses `args` with `node:util` `parseArgs` in strict mode. Its errors become one-line
 * usage errors for `command`.
 *
 * @throws {CliError} with exit code 2 for an unknown option or a missing or extra value.
 */
export function parseCommandLine(
  command: string,
  args: readonly string[],
  options: OptionsConfig,
): ParsedArgs {
  try {
    const parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    return {
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    };
  } catch (error) {
    throw describeParseError(command, error);
  }
}

/** Rewrites a `parseArgs` error, whose text spans several lines, as one line. */
function describeParseError(command: string, error: unknown): CliError | unknown {
  if (!(error instanceof Error) || !("code" in error)) return error;

  const quoted = /'([^']+)'/.exec(error.message)?.[1] ?? "";
  const option = quoted.replace(/ <value>$/, "");
  switch (error.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return usageError(`unknown option ${option}`, command);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (error.message.includes("does not take an argument")) {
        return usageError(`option ${option} takes no value`, command);
      }
      if (error.message.includes("ambiguous")) {
        return usageError(
          `option ${option} needs a value; write ${option}=-VALUE for a value that starts with "-"`,
          command,
        );
      }
      return usageError(`option ${option} needs a value`, command);
    default:
      return usageError(error.message.split("\n")[0] ?? "invalid arguments", command);
  }
}
