import { createHash } from "node:crypto";

/** Maximum key length, in UTF-8 bytes, kept verbatim in a Redis key. Longer keys become a digest. */
export const MAX_RAW_KEY_BYTES = 256;

/**
 * A UTF-16 code unit takes at most 3 UTF-8 bytes, so a key of up to this many code units
 * fits within {@link MAX_RAW_KEY_BYTES} without measuring it.
 */
const SURELY_SHORT = Math.floor(MAX_RAW_KEY_BYTES / 3);

/** `String.prototype.isWellFormed` exists from Node 20; the ES2022 typings lack it. */
type MaybeWellFormed = { isWellFormed?: () => boolean };

/**
 * Encodes a key as the hash tag part of its Redis keys, braces included:
 *
 * - `{k:<key>}` for a well-formed key of at most 256 UTF-8 bytes, kept verbatim;
 * - `{d:<sha256 of the UTF-8 bytes, hex>}` for a longer well-formed key;
 * - `{u:<sha256 of the UTF-16 code units, hex>}` for a key with a lone surrogate, which
 *   UTF-8 cannot encode: ioredis would send U+FFFD for it, so two such keys could collide.
 *
 * The kinds never collide: the letter after `{` distinguishes them, and a verbatim key is
 * followed only by the closing brace. Redis Cluster hashes the text between the first `{`
 * and the first `}` after it; every policy of one key shares that text, so all of them land
 * in one slot even when the key itself contains braces.
 */
export function encodeKey(key: string): string {
  if (!isWellFormed(key)) {
    return `{u:${createHash("sha256").update(key, "utf16le").digest("hex")}}`;
  }
  if (key.length <= SURELY_SHORT || Buffer.byteLength(key, "utf8") <= MAX_RAW_KEY_BYTES) {
    return `{k:${key}}`;
  }
  return `{d:${createHash("sha256").update(key, "utf8").digest("hex")}}`;
}

/**
 * Builds the Redis key of one (policy, key) pair: `<prefix>:<policy name>:<encoded key>`.
 * Policy names cannot contain `:`, so the name ends at the first `:` after the prefix.
 */
export function redisKey(prefix: string, policyName: string, encodedKey: string): string {
  return `${prefix}:${policyName}:${encodedKey}`;
}

function isWellFormed(key: string): boolean {
  const check = (key as MaybeWellFormed).isWellFormed;
  if (check !== undefined) return check.call(key);
  return !LONE_SURROGATE.test(key);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
