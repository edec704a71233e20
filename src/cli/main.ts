#!/usr/bin/env node
/**
 * Entry point of the `sluice` command. The work happens in `main`; this file wires it to
 * the process.
 */
import { main } from "./program.js";

// A reader that closes the pipe early, as in `sluice replay log | head -3`, is a normal way
// to stop. Any other write error, such as a full disk, ends the command with exit code 1.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  process.stderr.write(`sluice: cannot write the output: ${error.message}\n`);
  process.exit(1);
});

// The first interrupt lets a replay stop and delete its Redis keys; a second one kills.
const interrupt = new AbortController();
process.once("SIGINT", () => interrupt.abort());

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  // Touched only by `replay -`: creating process.stdin can keep the process waiting on it.
  get stdin() {
    return process.stdin;
  },
  signal: interrupt.signal,
});
