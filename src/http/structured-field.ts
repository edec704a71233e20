/**
 * Serializers for the subset of HTTP Structured Field Values (RFC 8941, revised as RFC 9651)
 * that the RateLimit fields use: a List of Items whose value is a String and whose parameters
 * are Integers.
 */

/** Largest magnitude an sf-integer may have: 15 decimal digits (RFC 8941, section 3.3.1). */
export const MAX_SF_INTEGER = 999_999_999_999_999;

/** Parameter keys: a lowercase letter or `*`, then lowercase letters, digits, `_`, `-`, `.`, `*`. */
const KEY = /^[a-z*][a-z0-9_.*-]*$/;

/** One List member: a String value with Integer parameters, serialized in the given order. */
export interface StringItem {
  readonly value: string;
  readonly parameters: ReadonlyArray<readonly [key: string, value: number]>;
}

/**
 * Serializes an sf-integer.
 *
 * @throws {RangeError} when `value` is not an integer within ±999,999,999,999,999.
 */
export function serializeInteger(value: number): string {
  if (!Number.isInteger(value) || Math.abs(value) > MAX_SF_INTEGER) {
    throw new RangeError(
      `structured field integer must be an integer within ±${MAX_SF_INTEGER}; received ${value}`,
    );
  }

  // String(-0) is "0", so negative zero serializes as 0.
  return String(value);
}

/**
 * Serializes an sf-string: wraps `value` in double quotes and escapes `"` and `\` with a
 * backslash.
 *
 * @throws {TypeError} when `value` contains a character outside printable ASCII (0x20 to 0x7E),
 * which an sf-string cannot carry.
 */
export function serializeString(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) {
      throw new TypeError(
        `structured field string must contain only printable ASCII; received ${JSON.stringify(value)}`,
      );
    }
    if (code === 0x22 || code === 0x5c) out += "\\";
    out += value[i];
  }
  return `${out}"`;
}

/**
 * Serializes a parameter key.
 *
 * @throws {TypeError} when `key` is not a valid sf key.
 */
export function serializeKey(key: string): string {
  if (!KEY.test(key)) {
    throw new TypeError(
      `structured field key must be a lowercase letter or "*" followed by a-z, 0-9, "_", "-", "." or "*"; received ${JSON.stringify(key)}`,
    );
  }
  return key;
}

/** Serializes one String Item with its Integer parameters, e.g. `"burst";q=100;w=60`. */
export function serializeItem(item: StringItem): string {
  let out = serializeString(item.value);
  for (const [key, value] of item.parameters) {
    out += `;${serializeKey(key)}=${serializeInteger(value)}`;
  }
  return out;
}

/**
 * Serializes an sf-list: members joined by a comma and a space, as RFC 8941 section 4.1.1
 * writes them.
 *
 * @throws {RangeError} when `items` is empty, because an empty List must not be sent.
 */
export function serializeList(items: readonly StringItem[]): string {
  if (items.length === 0) {
    throw new RangeError("structured field list must not be empty; received 0 items");
  }
  return items.map(serializeItem).join(", ");
}

/** Clamps a non-negative safe integer to the sf-integer range, so huge limits stay valid. */
export function clampToSfInteger(value: number): number {
  return Math.min(value, MAX_SF_INTEGER);
}
