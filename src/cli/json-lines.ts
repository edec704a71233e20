import { joinKey, type LineParser, type ParsedRequest } from "./line-parser.js";
import { parseLogTime } from "./timestamps.js";

/**
 * Reads the value at a dotted path such as `client.ip` from parsed JSON. A field name that
 * itself contains a dot is found too, because the whole path is tried first at each level.
 * Returns `undefined` when any step is missing or not an object.
 */
export function readPath(value: unknown, path: string): unknown {
  if (typeof value !== "object" || value === null) return undefined;

  const record = value as Record<string, unknown>;
  if (Object.hasOwn(record, path)) return record[path];

  const dot = path.indexOf(".");
  if (dot < 0) return undefined;
  const head = path.slice(0, dot);
  if (!Object.hasOwn(record, head)) return undefined;
  return readPath(record[head], path.slice(dot + 1));
}

/**
 * Creates a parser for JSON lines (one object per line). The key is the value at each of
 * `keyFields`, which must be a string or a finite number. The time is the value at
 * `timeField`: epoch seconds or milliseconds, an ISO 8601 string, or an access-log stamp.
 */
export function createJsonLinesParser(keyFields: readonly string[], timeField: string): LineParser {
  const values: string[] = [];

  return (line: string, out: ParsedRequest): string | undefined => {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return "invalid JSON";
    }
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      return "not a JSON object";
    }

    values.length = keyFields.length;
    for (let i = 0; i < keyFields.length; i++) {
      const field = keyFields[i] as string;
      const value = readPath(record, field);
      if (typeof value === "string") {
        values[i] = value;
      } else if (typeof value === "number" && Number.isFinite(value)) {
        values[i] = String(value);
      } else if (value === undefined) {
        return `no key field "${field}"`;
      } else {
        return `key field "${field}" is not a string or a number`;
      }
    }

    const time = readPath(record, timeField);
    if (time === undefined) return `no time field "${timeField}"`;
    const at = parseLogTime(time);
    if (at === undefined) {
      return `time field "${timeField}" is not epoch seconds, epoch milliseconds or an ISO 8601 time from 1970 to the year 285 000`;
    }

    out.key = joinKey(values);
    out.at = at;
    return undefined;
  };
}
