import { Readable } from "node:stream";
import { main } from "../../src/cli/program.js";

/** What one in-process run of the `sluice` command wrote and returned. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** Text served as stdin, or a stream the test writes to. @default "" */
  readonly stdin?: string | Readable;
  /** Interrupt signal passed to the command. */
  readonly signal?: AbortSignal;
  /** Whether the fake stderr claims to be a terminal. @default false */
  readonly stderrIsTty?: boolean;
}

/** Runs `main` in process with collecting stdout and stderr doubles. */
export async function runCli(
  args: readonly string[],
  options: RunCliOptions = {},
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: {
      write: (text: string) => {
        stdout += text;
        return true;
      },
    },
    stderr: {
      isTTY: options.stderrIsTty ?? false,
      write: (text: string) => {
        stderr += text;
        return true;
      },
    },
    stdin: typeof options.stdin === "object" ? options.stdin : Readable.from([options.stdin ?? ""]),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { code, stdout, stderr };
}
