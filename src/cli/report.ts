import { formatDuration } from "../policy/duration.js";
import type { Policy } from "../policy/policy.js";
import type { ReplaySummary, RunSummary } from "./replay.js";
import { BUCKET_ALGORITHMS } from "./replay-options.js";

const numbers = new Intl.NumberFormat("en-US");
/** Characters of a key shown in the text report; JSON shows keys whole. */
const KEY_WIDTH = 80;

/** Formats a replay summary as the text report: totals, then the most rejected keys. */
export function formatSummaryText(summary: ReplaySummary): string {
  const run = summary.runs[0];
  if (summary.runs.length !== 1 || run === undefined) return formatComparisonText(summary);

  const requests = summary.lines.parsed;
  const lines = [
    header(summary),
    row("policy", `${run.policy.name}: ${describePolicy(run.policy)}`),
    row("lines", describeLines(summary)),
    row(
      "requests",
      `${count(requests)}: ${count(run.allowed)} allowed, ${count(run.rejected)} rejected (${percent(run.rejectionRate)})`,
    ),
    row(
      "keys",
      `${count(summary.distinctKeys)} distinct, ${count(run.rejectedKeys)} with rejections`,
    ),
    row(
      "time",
      `${ms(summary.elapsedMs)} in all, ${ms(run.decideMs)} deciding (${count(run.decisionsPerSecond)} decisions/s)`,
    ),
    ...redisRows(summary),
  ];

  if (run.top.length > 0) {
    lines.push("", `top ${run.top.length} rejected keys`, "  rejected   allowed  key");
    for (const entry of run.top) {
      lines.push(
        `  ${pad(count(entry.rejected), 8)}  ${pad(count(entry.allowed), 8)}  ${showKey(entry.key)}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Headings and widths of the `--compare` table after the algorithm column. */
const COMPARISON_COLUMNS = [
  ["allowed", 10],
  ["rejected", 10],
  ["rate", 8],
  ["keys rejected", 15],
  ["decide ms", 11],
  ["decisions/s", 13],
] as const;
const ALGORITHM_WIDTH = 16;

/** Formats the summary of `--compare`: shared totals, then one row per algorithm. */
function formatComparisonText(summary: ReplaySummary): string {
  const lines = [
    header(summary),
    row("policy", describeComparedPolicy(summary.runs)),
    row("lines", describeLines(summary)),
    row("keys", `${count(summary.distinctKeys)} distinct`),
    row("time", `${ms(summary.elapsedMs)} in all`),
    ...redisRows(summary),
    "",
    tableRow(
      "algorithm",
      COMPARISON_COLUMNS.map(([heading]) => heading),
    ),
  ];
  for (const run of summary.runs) {
    lines.push(
      tableRow(run.policy.algorithm, [
        count(run.allowed),
        count(run.rejected),
        percent(run.rejectionRate),
        count(run.rejectedKeys),
        run.decideMs.toFixed(1),
        count(run.decisionsPerSecond),
      ]),
    );
  }
  return `${lines.join("\n")}\n`;
}

function tableRow(algorithm: string, cells: readonly string[]): string {
  const aligned = cells.map((cell, i) => pad(cell, COMPARISON_COLUMNS[i]?.[1] ?? 0));
  return `${algorithm.padEnd(ALGORITHM_WIDTH)}${aligned.join("")}`;
}

/**
 * Converts a replay summary to the object `--json` prints. One policy puts its results at
 * the top level; `--compare` lists them under `runs`, in algorithm order.
 */
export function summaryToJson(summary: ReplaySummary, compare: boolean): Record<string, unknown> {
  const shared = {
    file: summary.source,
    format: summary.format,
    keyFields: summary.keyFields,
    store: summary.store,
    ...(summary.redis === undefined
      ? {}
      : {
          redis: { prefix: summary.redis.prefix, deletedKeys: summary.redis.deletedKeys ?? null },
        }),
    lines: summary.lines,
    requests: summary.lines.parsed,
    distinctKeys: summary.distinctKeys,
  };
  const elapsedMs = round(summary.elapsedMs, 1);
  const runs = summary.runs.map(runToJson);

  const single = runs[0];
  if (!compare && runs.length === 1 && single !== undefined) {
    return { ...shared, ...single, elapsedMs };
  }
  return { ...shared, elapsedMs, runs };
}

function runToJson(run: RunSummary): Record<string, unknown> {
  const { policy } = run;
  return {
    policy: {
      name: policy.name,
      limit: policy.limit,
      window: policy.window,
      algorithm: policy.algorithm,
      burst: policy.burst,
    },
    allowed: run.allowed,
    rejected: run.rejected,
    rejectionRate: round(run.rejectionRate, 6),
    rejectedKeys: run.rejectedKeys,
    top: run.top,
    decideMs: round(run.decideMs, 1),
    decisionsPerSecond: run.decisionsPerSecond,
  };
}

function header(summary: ReplaySummary): string {
  const format =
    summary.format === "json"
      ? "JSON lines"
      : summary.format === "clf"
        ? "Common/Combined Log Format"
        : "no lines";
  return `replayed ${summary.source}: ${format}, key ${summary.keyFields.join(",")}, ${summary.store} store`;
}

function describeLines(summary: ReplaySummary): string {
  const { read, parsed, malformed, blank } = summary.lines;
  const blankPart = blank > 0 ? `, ${count(blank)} blank` : "";
  return `${count(read)} read, ${count(parsed)} parsed, ${count(malformed)} malformed${blankPart}`;
}

function describePolicy(policy: Policy): string {
  const burst = BUCKET_ALGORITHMS.includes(policy.algorithm)
    ? `, burst ${count(policy.burst)}`
    : "";
  return `${count(policy.limit)} per ${formatDuration(policy.window)}, ${policy.algorithm}${burst}`;
}

function describeComparedPolicy(runs: readonly RunSummary[]): string {
  const policy = runs[0]?.policy;
  if (policy === undefined) return "";
  const bucket = runs.find((run) => BUCKET_ALGORITHMS.includes(run.policy.algorithm))?.policy;
  const burst =
    bucket === undefined ? "" : `, burst ${count(bucket.burst)} for the bucket algorithms`;
  return `${count(policy.limit)} per ${formatDuration(policy.window)}${burst}`;
}

function redisRows(summary: ReplaySummary): string[] {
  const { redis } = summary;
  if (redis === undefined) return [];
  const cleanup =
    redis.deletedKeys === undefined
      ? "keys kept"
      : `${count(redis.deletedKeys)} keys deleted afterwards`;
  return [row("redis", `prefix ${redis.prefix}, ${cleanup}`)];
}

function row(label: string, text: string): string {
  return `${label.padEnd(10)}${text}`;
}

function pad(text: string, width: number): string {
  return text.padStart(width);
}

function count(value: number): string {
  return numbers.format(value);
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(2)}%`;
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Shows a key on one line: control characters as `?`, cut at {@link KEY_WIDTH}. */
function showKey(key: string): string {
  const cut = key.length > KEY_WIDTH ? `${key.slice(0, KEY_WIDTH - 1)}…` : key;
  return cut.replace(/\p{Cc}/gu, "?");
}
