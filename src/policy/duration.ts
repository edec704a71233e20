import { invalidType, outOfRange } from "../errors.js";

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  d: 86_400_000,
};

const DURATION = /^(?:(\d+)(?:\.(\d+))?)?\s*(ms|s|sec|m|min|h|hr|d)$/;

/**
 * Parses a duration into whole milliseconds: a positive integer, or a string such as
 * `"500ms"`, `"1.5s"`, `"1m"`, `"h"` (one hour) or `"30d"`.
 *
 * @throws {TypeError} when `value` is neither a number nor a duration string.
 * @throws {RangeError} when the duration is not a positive whole number of milliseconds.
 */
export function parseDuration(value: unknown, name: string): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw outOfRange(name, "a positive whole number of milliseconds", value);
    }
    return value;
  }
  if (typeof value !== "string") {
    throw invalidType(name, 'milliseconds or a duration string such as "1m"', value);
  }

  const match = DURATION.exec(value.trim());
  const unit = match?.[3];
  if (match === null || unit === undefined) {
    throw invalidType(name, 'a duration such as "500ms", "10s", "1m", "1h" or "1d"', value);
  }

  // Decimal digits are scaled as integers, because binary floating point turns "1.15h"
  // into 4139999.9999999995 ms.
  const whole = match[1] ?? "1";
  const fraction = match[2] ?? "";
  const scaled = BigInt(whole + fraction) * BigInt(UNIT_MS[unit] ?? 0);
  const divisor = 10n ** BigInt(fraction.length);
  const ms = scaled / divisor;
  if (scaled % divisor !== 0n || ms < 1n || ms > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw outOfRange(name, "a positive whole number of milliseconds", value);
  }
  return Number(ms);
}

/** Formats milliseconds as the shortest exact duration string: `60000` → `"1m"`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
