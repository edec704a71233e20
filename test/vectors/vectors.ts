import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PolicyInput } from "../../src/policy/policy.js";
import type { Decision } from "../../src/types.js";

/**
 * A test vector: a sequence of checks against fresh state, with the decision each must
 * return. Every store runs the same files and must return identical decisions.
 *
 * Times in `at` are epoch ms. Keep them small (from 0) and aligned: the sliding window
 * aligns its windows to the epoch, so `at: 0` starts a window for every window length.
 */
export interface VectorCase {
  readonly name: string;
  readonly policies: readonly PolicyInput[];
  readonly steps: readonly VectorStep[];
}

export interface VectorStep {
  readonly at: number;
  /** @default "k" */
  readonly key?: string;
  /** @default 1 */
  readonly cost?: number;
  /** Decide without consuming. */
  readonly peek?: boolean;
  /** The decision's fields that must match; fields left out are not compared. */
  readonly expect: Partial<
    Pick<Decision, "allowed" | "remaining" | "resetAt" | "retryAfter" | "reason" | "policy">
  >;
}

export interface VectorFile {
  readonly description: string;
  readonly cases: readonly VectorCase[];
}

const folder = dirname(fileURLToPath(import.meta.url));

/** Loads every `*.json` vector file in this folder, keyed by file name. */
export function loadVectors(): Map<string, VectorFile> {
  const files = new Map<string, VectorFile>();
  for (const name of readdirSync(folder)
    .filter((file) => file.endsWith(".json"))
    .sort()) {
    files.set(name, JSON.parse(readFileSync(join(folder, name), "utf8")) as VectorFile);
  }
  return files;
}

/** The decision fields a step compares, in a stable order for readable diffs. */
export function pickExpected(decision: Decision, step: VectorStep): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const field of Object.keys(step.expect).sort()) {
    picked[field] = decision[field as keyof Decision];
  }
  return picked;
}
