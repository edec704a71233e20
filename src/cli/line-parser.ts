/** Log formats `sluice replay` reads. `clf` covers the Common and Combined Log Formats. */
export type LogFormat = "clf" | "json";

/** One request read from a log line. Parsers overwrite a reused instance. */
export interface ParsedRequest {
  /** The key the request is limited by. */
  key: string;
  /** The request's time in epoch milliseconds, never negative. */
  at: number;
}

/**
 * Parses one non-empty log line into `out` and returns `undefined`, or returns why the
 * line cannot be replayed, leaving `out` in an unspecified state.
 */
export type LineParser = (line: string, out: ParsedRequest) => string | undefined;

/** Returns the format of a log from its first non-empty line: JSON when it opens an object. */
export function sniffFormat(firstLine: string): LogFormat {
  return firstLine.trimStart().startsWith("{") ? "json" : "clf";
}

/**
 * Splits a `--key-field` value such as `ip,agent` into its field names.
 * Returns `undefined` when a name is empty.
 */
export function splitFieldList(value: string): string[] | undefined {
  const fields = value.split(",").map((field) => field.trim());
  return fields.every((field) => field.length > 0) ? fields : undefined;
}

/**
 * Joins the values of several key fields into one key. One field is its value unchanged;
 * several become a JSON array such as `["198.18.0.1","curl/8.0"]`, so two different
 * combinations never produce the same key.
 */
export function joinKey(values: readonly string[]): string {
  return values.length === 1 ? (values[0] as string) : JSON.stringify(values);
}
