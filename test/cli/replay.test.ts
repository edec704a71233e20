import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/limiter.js";
import { ALGORITHMS } from "../../src/types.js";
import { runCli } from "./run-cli.js";

const LOG = "examples/access.log";

interface Reference {
  parsed: number;
  malformed: number;
  allowed: number;
  rejected: number;
  distinctKeys: number;
  rejectedKeys: number;
  rejectedByKey: Map<string, number>;
}

/**
 * Replays the bundled log without the CLI: a plainer parse (split on the brackets, time
 * through Date.parse) and one `checkSync` per line in file order.
 */
function replayReference(policy: string): Reference {
  const limiter = new RateLimiter({ policy });
  const rejectedByKey = new Map<string, number>();
  const keys = new Set<string>();
  let parsed = 0;
  let malformed = 0;
  let allowed = 0;

  for (const line of readFileSync(LOG, "utf8").split("\n")) {
    if (line === "") continue;
    // A complete Combined line ends with the closing quote of its user agent.
    const open = line.indexOf("[");
    const close = line.indexOf("]");
    if (open < 0 || close < open || !line.endsWith('"') || line.split('"').length !== 7) {
      malformed++;
      continue;
    }

    const ip = line.slice(0, line.indexOf(" "));
    const [date, time] = [line.slice(open + 1, open + 12), line.slice(open + 13, close)];
    const at = Date.parse(`${date.replaceAll("/", " ")} ${time.replace(" ", " GMT")}`);
    parsed++;
    keys.add(ip);
    if (limiter.checkSync(ip, { at }).allowed) {
      allowed++;
    } else {
      rejectedByKey.set(ip, (rejectedByKey.get(ip) ?? 0) + 1);
    }
  }

  return {
    parsed,
    malformed,
    allowed,
    rejected: parsed - allowed,
    distinctKeys: keys.size,
    rejectedKeys: rejectedByKey.size,
    rejectedByKey,
  };
}

async function replayJson(args: readonly string[]): Promise<Record<string, unknown>> {
  const result = await runCli(["replay", ...args, "--json"]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

describe("sluice replay on the bundled log", () => {
  const reference = replayReference("60/1m");

  it("reference sees the log as expected", () => {
    expect(reference.parsed).toBe(9999);
    expect(reference.malformed).toBe(1);
  });

  it("totals match the reference replay", async () => {
    const summary = await replayJson([LOG, "--policy", "60/1m", "--algorithm", "gcra"]);

    expect(summary.lines).toEqual({ read: 10_000, parsed: 9999, malformed: 1, blank: 0 });
    expect(summary.allowed).toBe(reference.allowed);
    expect(summary.rejected).toBe(reference.rejected);
    expect(summary.distinctKeys).toBe(reference.distinctKeys);
    expect(summary.rejectedKeys).toBe(reference.rejectedKeys);
  });

  it("top keys match the reference replay", async () => {
    const summary = await replayJson([LOG, "--top", "5"]);
    const top = summary.top as { key: string; rejected: number }[];

    expect(top).toHaveLength(Math.min(5, reference.rejectedKeys));
    for (const entry of top) {
      expect(entry.rejected, entry.key).toBe(reference.rejectedByKey.get(entry.key));
    }
    const most = Math.max(...reference.rejectedByKey.values());
    expect(top[0]?.rejected).toBe(most);
  });

  it("json summary fields", async () => {
    const summary = await replayJson([LOG]);

    expect(summary).toMatchObject({
      file: LOG,
      format: "clf",
      keyFields: ["ip"],
      store: "memory",
      requests: 9999,
      policy: { name: "60-per-1m-gcra", limit: 60, window: 60_000, algorithm: "gcra", burst: 60 },
    });
    expect(summary.rejectionRate).toBeCloseTo(reference.rejected / 9999, 6);
    expect(summary.decisionsPerSecond).toBeGreaterThan(0);
  });

  it("default policy is 60/1m gcra", async () => {
    const summary = await replayJson([LOG]);

    expect(summary.rejected).toBe(reference.rejected);
  });

  it("text summary lists totals", async () => {
    const result = await runCli(["replay", LOG]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain("lines     10,000 read, 9,999 parsed, 1 malformed");
    expect(result.stdout).toContain(
      `requests  9,999: ${reference.allowed.toLocaleString("en-US")} allowed, ${reference.rejected} rejected`,
    );
    expect(result.stdout).toContain(
      `keys      1,753 distinct, ${reference.rejectedKeys} with rejections`,
    );
    expect(result.stdout).toContain(`top ${Math.min(10, reference.rejectedKeys)} rejected keys`);
  });

  it("malformed line shown with its number", async () => {
    const result = await runCli(["replay", LOG]);

    expect(result.stderr).toMatch(
      /^sluice: line 8899 skipped, not a Common or Combined Log Format line: 198\.18\.4\.44 - - \[20\/May/,
    );
  });

  it("compare prints six rows", async () => {
    const result = await runCli(["replay", LOG, "--compare"]);
    const lines = result.stdout.trimEnd().split("\n");
    const rows = lines.slice(lines.findIndex((line) => line.startsWith("algorithm ")) + 1);

    expect(result.code).toBe(0);
    expect(rows.map((line) => line.split(" ")[0])).toEqual([...ALGORITHMS]);
  });

  it("compare gcra row equals single run", async () => {
    const summary = await replayJson([LOG, "--compare"]);
    const runs = summary.runs as { policy: { algorithm: string }; rejected: number }[];

    expect(runs.find((run) => run.policy.algorithm === "gcra")?.rejected).toBe(reference.rejected);
  });

  it.each(ALGORITHMS.map((algorithm) => [algorithm]))(
    "compare %s row matches reference",
    async (algorithm) => {
      const summary = await replayJson([LOG, "--compare"]);
      const runs = summary.runs as { policy: { algorithm: string }; rejected: number }[];
      const single = await replayJson([LOG, "--algorithm", algorithm]);

      expect(runs.find((run) => run.policy.algorithm === algorithm)?.rejected).toBe(
        single.rejected,
      );
    },
  );

  it("compare applies burst to buckets only", async () => {
    const summary = await replayJson([LOG, "--compare", "--burst", "5"]);
    const bursts = (summary.runs as { policy: { algorithm: string; burst: number } }[]).map(
      (run) => [run.policy.algorithm, run.policy.burst],
    );

    expect(bursts).toEqual([
      ["fixed-window", 60],
      ["sliding-window", 60],
      ["sliding-log", 60],
      ["token-bucket", 5],
      ["leaky-bucket", 5],
      ["gcra", 5],
    ]);
  });

  it("key field path changes keys", async () => {
    const summary = await replayJson([LOG, "--key-field", "path"]);

    expect(summary.keyFields).toEqual(["path"]);
    expect(summary.distinctKeys).not.toBe(reference.distinctKeys);
  });

  it("combined key fields", async () => {
    const byIp = await replayJson([LOG, "--key-field", "ip"]);
    const byIpAndAgent = await replayJson([LOG, "--key-field", "ip,agent"]);

    expect(byIpAndAgent.distinctKeys as number).toBeGreaterThan(byIp.distinctKeys as number);
  });

  it("top zero lists no keys", async () => {
    const result = await runCli(["replay", LOG, "--top", "0"]);

    expect(result.stdout).not.toContain("rejected keys");
  });
});

describe("sluice replay input", () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "sluice-replay-"));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const line = (ip: string, second: number) =>
    `${ip} - - [17/May/2015:10:05:${String(second).padStart(2, "0")} +0000] "GET / HTTP/1.1" 200 5`;

  it("stdin input", async () => {
    const stdin = [line("a", 1), line("a", 2), line("a", 3), line("b", 3)].join("\n");
    const result = await runCli(["replay", "-", "--policy", "2/1m", "--json"], { stdin });
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;

    expect(summary.file).toBe("stdin");
    expect(summary.allowed).toBe(3);
    expect(summary.rejected).toBe(1);
  });

  it("malformed and blank lines counted", async () => {
    const stdin = [
      "garbage 1",
      line("a", 1),
      "",
      "   ",
      "garbage 2",
      "garbage 3",
      "garbage 4",
    ].join("\n");
    const result = await runCli(["replay", "-", "--json"], { stdin });
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;

    expect(summary.lines).toEqual({ read: 7, parsed: 1, malformed: 4, blank: 2 });
  });

  it("first three malformed lines shown", async () => {
    const stdin = ["garbage 1", line("a", 1), "", "garbage 2", "garbage 3", "garbage 4"].join("\n");
    const result = await runCli(["replay", "-"], { stdin });

    expect(result.stderr.split("\n")).toEqual([
      "sluice: line 1 skipped, not a Common or Combined Log Format line: garbage 1",
      "sluice: line 4 skipped, not a Common or Combined Log Format line: garbage 2",
      "sluice: line 5 skipped, not a Common or Combined Log Format line: garbage 3",
      "sluice: 1 more malformed lines skipped",
      "",
    ]);
  });

  it("CRLF line endings", async () => {
    const stdin = `${line("a", 1)}\r\n${line("a", 2)}\r\n`;
    const summary = JSON.parse((await runCli(["replay", "-", "--json"], { stdin })).stdout);

    expect(summary.lines).toEqual({ read: 2, parsed: 2, malformed: 0, blank: 0 });
  });

  it("older line does not refund quota", async () => {
    // The request at second 30 uses the one-per-minute quota. The line stamped 20 s earlier
    // is decided at the key's state time instead of its own, so it finds no room.
    const stdin = [line("a", 30), line("a", 10)].join("\n");
    const result = await runCli(
      ["replay", "-", "--policy", "1/1m", "--algorithm", "token-bucket", "--json"],
      {
        stdin,
      },
    );

    expect(JSON.parse(result.stdout).rejected).toBe(1);
  });

  it("json lines auto-detected", async () => {
    const stdin = [
      '{"user":{"id":"u1"},"ts":"2015-05-17T10:05:01Z"}',
      '{"user":{"id":"u1"},"ts":1431857102}',
      '{"user":{"id":"u1"},"ts":1431857103000}',
      '{"user":{"id":"u2"},"ts":1431857103000}',
    ].join("\n");
    const result = await runCli(
      ["replay", "-", "--key-field", "user.id", "--time-field", "ts", "--policy", "2/1m", "--json"],
      { stdin },
    );
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;

    expect(summary.format).toBe("json");
    expect(summary.allowed).toBe(3);
    expect(summary.rejected).toBe(1);
  });

  it("json lines forced with --format", async () => {
    const stdin = ' {"ip":"a","time":1431857103}\n';
    const summary = JSON.parse(
      (await runCli(["replay", "-", "--format", "json", "--json"], { stdin })).stdout,
    );

    expect(summary.lines.parsed).toBe(1);
  });

  it("empty input", async () => {
    const summary = JSON.parse((await runCli(["replay", "-", "--json"], { stdin: "" })).stdout);

    expect(summary.lines).toEqual({ read: 0, parsed: 0, malformed: 0, blank: 0 });
  });

  it("file path input", async () => {
    const file = join(dir, "two.log");
    writeFileSync(file, `${line("a", 1)}\n${line("a", 2)}\n`);
    const summary = JSON.parse(
      (await runCli(["replay", file, "--policy", "1/1m", "--json"])).stdout,
    );

    expect(summary.rejected).toBe(1);
  });

  it("no progress when not requested", async () => {
    const result = await runCli(["replay", LOG, "--top", "0"]);

    expect(result.stderr).not.toContain("replayed");
  });
});

describe("openLogInput", () => {
  it("no lines lost before iteration starts", async () => {
    const { openLogInput } = await import("../../src/cli/log-input.js");
    const input = await openLogInput(LOG, process.stdin);
    // Opening a Redis connection sits between opening the log and reading it; the file
    // stream must not emit lines in the meantime.
    await new Promise((resolve) => setTimeout(resolve, 50));

    let count = 0;
    for await (const _line of input.lines) count++;
    await input.close();

    expect(count).toBe(10_000);
  });
});

describe("sluice replay interrupt", () => {
  it("abort stops reading with exit 130", async () => {
    const stdin = new PassThrough();
    const interrupt = new AbortController();
    stdin.write('198.18.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5\n');
    const running = runCli(["replay", "-"], { stdin, signal: interrupt.signal });

    // The log never ends, as with a tail -f; only the abort can stop the replay.
    setImmediate(() => interrupt.abort());
    const result = await running;

    expect(result.code).toBe(130);
    expect(result.stderr).toBe("sluice: interrupted\n");
  });
});

describe("sluice replay byte order mark", () => {
  it("first line keeps its key", async () => {
    const stdin = '\uFEFF{"ip":"a","time":1431857103}\n{"ip":"a","time":1431857104}\n';
    const summary = JSON.parse((await runCli(["replay", "-", "--json"], { stdin })).stdout);

    expect(summary.format).toBe("json");
    expect(summary.distinctKeys).toBe(1);
  });
});
