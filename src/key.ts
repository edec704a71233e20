import { invalidType } from "./errors.js";

/**
 * Converts a key to the string stores use. Strings pass unchanged, so keys that differ only
 * in Unicode normalisation (NFC and NFD forms) are different keys. Finite numbers become
 * `String(n)`, so `1` and `"1"` are the same key.
 *
 * @throws {TypeError} for any other value.
 */
export function normalizeKey(key: unknown): string {
  if (typeof key === "string") return key;
  if (typeof key === "number" && Number.isFinite(key)) return String(key);
  throw invalidType("key", "a string or a finite number", key);
}
