import { joinKey, type LineParser, type ParsedRequest } from "./line-parser.js";
import { parseClfTime } from "./timestamps.js";

/** Fields of a Common or Combined Log Format line that can form the key. */
export const ACCESS_LOG_FIELDS = [
  "ip",
  "user",
  "method",
  "path",
  "status",
  "referer",
  "agent",
] as const;

/** A field of an access-log line usable in `--key-field`. */
export type AccessLogField = (typeof ACCESS_LOG_FIELDS)[number];

/** The fields of one access-log line, as written in the log. */
export interface AccessLogRecord {
  /** Client address (`%h`). */
  ip: string;
  /** Authenticated user (`%u`), `-` when none. */
  user: string;
  /** The timestamp between the brackets, e.g. `17/May/2015:10:05:03 +0000`. */
  time: string;
  /** First word of the request line, or `-` when the request line has none. */
  method: string;
  /** Second word of the request line, query string included, or `-` when absent. */
  path: string;
  /** Status code as written, or `-`. */
  status: string;
  /** `-` on a Common Log Format line. */
  referer: string;
  /** `-` on a Common Log Format line. */
  agent: string;
}

/**
 * `%h %l %u [%t] "%r" %>s %b`, optionally followed by `"%{Referer}i" "%{User-agent}i"`.
 * Quoted fields may contain backslash escapes such as `\"`. Each quoted field is matched
 * as runs of plain characters between escapes, because that backtracks far less than one
 * alternation per character. Groups: 1 address, 2 user, 3 time, 4 request line,
 * 5 status, 6 referer, 7 user agent.
 */
const ACCESS_LINE =
  /^(\S+) \S+ (\S+) \[([^\]]+)\] "([^"\\]*(?:\\.[^"\\]*)*)" (\d{3}|-) (?:\d+|-)(?: "([^"\\]*(?:\\.[^"\\]*)*)" "([^"\\]*(?:\\.[^"\\]*)*)")?[ \t\r]*$/;

/** Index of the timestamp group in {@link ACCESS_LINE}. */
const TIME = 3;

/**
 * Splits a Common or Combined Log Format line into its fields, telling the two formats
 * apart by whether referer and user agent follow. Returns `undefined` when the line is
 * neither.
 */
export function parseAccessLogLine(line: string): AccessLogRecord | undefined {
  const match = ACCESS_LINE.exec(line);
  if (match === null) return undefined;

  return {
    ip: readField(match, "ip"),
    user: readField(match, "user"),
    time: match[TIME] as string,
    method: readField(match, "method"),
    path: readField(match, "path"),
    status: readField(match, "status"),
    referer: readField(match, "referer"),
    agent: readField(match, "agent"),
  };
}

/** Returns whether `name` is a field of {@link ACCESS_LOG_FIELDS}. */
export function isAccessLogField(name: string): name is AccessLogField {
  return (ACCESS_LOG_FIELDS as readonly string[]).includes(name);
}

/** Most distinct timestamps remembered by one parser before the memory is cleared. */
const TIME_CACHE_SIZE = 4096;

/**
 * Creates a parser for access-log lines that keys each request by `keyFields` and stamps
 * it with the line's own time.
 */
export function createAccessLogParser(keyFields: readonly AccessLogField[]): LineParser {
  const values: string[] = [];
  // A log repeats each second's stamp on many nearby lines, even when it is not sorted, so
  // converting each distinct stamp once saves most of the date arithmetic.
  const times = new Map<string, number>();

  return (line: string, out: ParsedRequest): string | undefined => {
    const match = ACCESS_LINE.exec(line);
    if (match === null) return "not a Common or Combined Log Format line";

    const text = match[TIME] as string;
    let time = times.get(text);
    if (time === undefined) {
      time = parseClfTime(text);
      if (time === undefined) return `invalid timestamp [${text}]`;
      if (time < 0) return `timestamp [${text}] is before 1970`;
      if (times.size >= TIME_CACHE_SIZE) times.clear();
      times.set(text, time);
    }

    values.length = keyFields.length;
    for (let i = 0; i < keyFields.length; i++) {
      values[i] = readField(match, keyFields[i] as AccessLogField);
    }
    out.key = joinKey(values);
    out.at = time;
    return undefined;
  };
}

/** Reads one field from a match of {@link ACCESS_LINE}. */
function readField(match: RegExpExecArray, field: AccessLogField): string {
  switch (field) {
    case "ip":
      return match[1] as string;
    case "user":
      return match[2] as string;
    case "method":
      return requestWord(match[4] as string, 0);
    case "path":
      return requestWord(match[4] as string, 1);
    case "status":
      return match[5] as string;
    case "referer":
      return match[6] ?? "-";
    case "agent":
      return match[7] ?? "-";
  }
}

/** Returns word `index` of a request line such as `GET /a HTTP/1.1`, or `-` when absent. */
function requestWord(request: string, index: number): string {
  return request.split(" ")[index] || "-";
}
