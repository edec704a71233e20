import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run-cli.js";

const LOG = "examples/access.log";

describe("sluice usage errors", () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "sluice-cli-"));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("missing file", async () => {
    const result = await runCli(["replay", "no/such.log"]);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe("sluice: cannot read no/such.log: no such file\n");
  });

  it("directory instead of file", async () => {
    const result = await runCli(["replay", dir]);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`sluice: cannot read ${dir}: it is a directory\n`);
  });

  it.each([
    [["replay", LOG, "--nope"], "sluice: unknown option --nope; see sluice replay --help"],
    [
      ["replay", LOG, "--policy"],
      "sluice: option -p, --policy needs a value; see sluice replay --help",
    ],
    [
      ["replay", LOG, "--json=yes"],
      "sluice: option --json takes no value; see sluice replay --help",
    ],
    [["replay"], "sluice: replay needs a log file, or - to read stdin; see sluice replay --help"],
    [
      ["replay", LOG, "other.log"],
      "sluice: replay takes one log file; received 2; see sluice replay --help",
    ],
    [
      ["replay", LOG, "--policy", "sixty"],
      'sluice: invalid --policy: policy must be a string such as "100/1m", "10/s" or "5/500ms"; received "sixty"',
    ],
    [
      ["replay", LOG, "--policy", "0/1m"],
      "sluice: invalid --policy: policy limit must be a positive integer; received 0",
    ],
    [
      ["replay", LOG, "--algorithm", "fastest"],
      'sluice: --algorithm must be one of fixed-window, sliding-window, sliding-log, token-bucket, leaky-bucket, gcra; received "fastest"; see sluice replay --help',
    ],
    [
      ["replay", LOG, "--algorithm", "fixed-window", "--burst", "5"],
      "sluice: policy burst must be absent (or equal to the limit) for fixed-window, which has no bucket; received 5",
    ],
    [
      ["replay", LOG, "--burst", "1.5"],
      'sluice: --burst must be a whole number of at least 1; received "1.5"; see sluice replay --help',
    ],
    [
      ["replay", LOG, "--top=-1"],
      'sluice: --top must be a whole number; received "-1"; see sluice replay --help',
    ],
    [
      ["replay", LOG, "--format", "xml"],
      'sluice: --format must be auto, clf or json; received "xml"; see sluice replay --help',
    ],
    [
      ["replay", LOG, "--compare", "--algorithm", "gcra"],
      "sluice: --compare runs every algorithm, so it takes no --algorithm; see sluice replay --help",
    ],
    [
      ["replay", LOG, "--prefix", "p"],
      "sluice: --prefix applies only with --redis; see sluice replay --help",
    ],
    [
      ["replay", LOG, "--key-field", "ip,,agent"],
      'sluice: --key-field must be field names separated by commas; received "ip,,agent"; see sluice replay --help',
    ],
    [
      ["replay", LOG, "--key-field", "host"],
      'sluice: --key-field "host" is not a field of access-log lines; use ip, user, method, path, status, referer, agent',
    ],
    [
      ["replay", LOG, "--time-field", "ts"],
      "sluice: --time-field applies only to JSON lines; access-log lines carry their own timestamp",
    ],
    [
      ["replay", LOG, "--redis", "localhost:6380"],
      'sluice: --redis must be a redis:// or rediss:// URL; received "localhost:6380"; see sluice replay --help',
    ],
    [
      ["replay", LOG, "--redis", "redis://"],
      'sluice: --redis must name a host, as in redis://127.0.0.1:6380; received "redis://"; see sluice replay --help',
    ],
    [
      ["replay", LOG, "--redis", "redis://127.0.0.1:1", "--prefix", "a*"],
      'sluice: --prefix must be non-empty, without spaces or the pattern characters * ? [ ] \\; received "a*"; see sluice replay --help',
    ],
    [
      ["frobnicate"],
      'sluice: unknown command "frobnicate"; the commands are: replay (see sluice --help)',
    ],
    [["--nope"], "sluice: unknown option --nope; see sluice --help"],
  ])("%j", async (args, message) => {
    const result = await runCli(args);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`${message}\n`);
    expect(result.stdout).toBe("");
  });

  it("no arguments prints usage", async () => {
    const result = await runCli([]);

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^Usage: sluice <command>/);
  });
});

describe("sluice help and version", () => {
  it("main help", async () => {
    const result = await runCli(["--help"]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain("replay <file>");
  });

  it("replay help", async () => {
    const result = await runCli(["replay", "--help"]);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: sluice replay <file> \[options\]/);
  });

  it("help names every replay flag", async () => {
    const { REPLAY_FLAGS } = await import("../../src/cli/replay-options.js");
    const help = (await runCli(["help", "replay"])).stdout;

    for (const flag of Object.keys(REPLAY_FLAGS)) {
      expect(help, flag).toContain(`--${flag}`);
    }
  });

  it("version from package.json", async () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    const result = await runCli(["--version"]);

    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${version}\n`);
  });
});
