import { MAX_REQUEST_TIME } from "../limiter.js";

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/** `17/May/2015:10:05:03 +0000`, the `%d/%b/%Y:%H:%M:%S %z` stamp of access logs. */
const CLF_TIME =
  /^(\d{1,2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/** ISO 8601 date or date-time, with `T` or a space between, optional fraction and zone. */
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?$/;

const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Epoch values below this are seconds, the rest milliseconds: 1e11 ms is March 1973 while
 * 1e11 s is the year 5138, so no plausible log time is ambiguous.
 */
const SECONDS_BELOW = 100_000_000_000;

/**
 * Parses an access-log stamp such as `17/May/2015:10:05:03 +0000` (any offset) into epoch
 * milliseconds, or returns `undefined` when it is not one or names an impossible date.
 */
export function parseClfTime(text: string): number | undefined {
  const match = CLF_TIME.exec(text);
  if (match === null) return undefined;

  const [, day, monthName, year, hour, minute, second, sign, offsetHours, offsetMinutes] = match;
  const month = MONTHS[monthName as string];
  if (month === undefined) return undefined;

  const local = utcMilliseconds(
    Number(year),
    month,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
    0,
  );
  const offset = zoneOffset(sign, offsetHours, offsetMinutes);
  if (local === undefined || offset === undefined) return undefined;
  return local - offset;
}

/**
 * Parses an ISO 8601 date-time such as `2015-05-17T10:05:03.250Z` or
 * `2015-05-17 10:05:03+02:00` into epoch milliseconds. A time without a zone is read as
 * UTC, so a replay gives the same result on every machine. Digits past milliseconds are
 * dropped. Returns `undefined` for anything else.
 */
export function parseIsoTime(text: string): number | undefined {
  const match = ISO_TIME.exec(text);
  if (match === null) return undefined;

  const [, year, month, day, hour, minute, second, fraction, zulu, sign, offHours, offMinutes] =
    match;
  const milliseconds = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, "0"));
  const local = utcMilliseconds(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour ?? 0),
    Number(minute ?? 0),
    Number(second ?? 0),
    milliseconds,
  );
  if (local === undefined) return undefined;
  if (zulu !== undefined || sign === undefined) return local;

  const offset = zoneOffset(sign, offHours, offMinutes ?? "00");
  return offset === undefined ? undefined : local - offset;
}

/**
 * Converts an epoch number to milliseconds: values below 1e11 are seconds (fractions
 * kept to the millisecond), larger ones milliseconds (fractions dropped). Returns
 * `undefined` for a negative or non-finite value.
 */
export function epochToMilliseconds(value: number): number | undefined {
  if (!Number.isFinite(value) || value < 0) return undefined;
  if (value < SECONDS_BELOW) return Math.round(value * 1000);
  return Math.floor(value);
}

/**
 * Parses a log time given as epoch seconds or milliseconds (a number or a numeric
 * string), an ISO 8601 string or an access-log stamp. Returns epoch milliseconds, or
 * `undefined` when the value has another form, lies before 1970, or lies beyond the
 * latest request time the limiter accepts.
 */
export function parseLogTime(value: unknown): number | undefined {
  const time = parseAnyLogTime(value);
  return time !== undefined && time <= MAX_REQUEST_TIME ? time : undefined;
}

function parseAnyLogTime(value: unknown): number | undefined {
  if (typeof value === "number") return epochToMilliseconds(value);
  if (typeof value !== "string") return undefined;

  const text = value.trim();
  if (NUMERIC.test(text)) return epochToMilliseconds(Number(text));
  const time = parseIsoTime(text) ?? parseClfTime(text);
  return time === undefined || time < 0 ? undefined : time;
}

/** Returns epoch ms for a UTC date-time, or `undefined` when a field is out of range. */
function utcMilliseconds(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  milliseconds: number,
): number | undefined {
  if (month < 0 || month > 11 || day < 1 || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }

  const date = new Date(Date.UTC(year, month, day, hour, minute, second, milliseconds));
  // Date.UTC rolls 31 April over into 1 May; a changed month means the day did not exist.
  if (date.getUTCMonth() !== month || date.getUTCDate() !== day) return undefined;
  return date.getTime();
}

/** Returns a zone offset in ms (east of UTC positive), or `undefined` beyond ±23:59. */
function zoneOffset(
  sign: string | undefined,
  hours: string | undefined,
  minutes: string | undefined,
): number | undefined {
  const h = Number(hours);
  const m = Number(minutes);
  if (!(h <= 23 && m <= 59)) return undefined;
  const offset = (h * 60 + m) * 60_000;
  return sign === "-" ? -offset : offset;
}
