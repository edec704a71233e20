/**
 * Base class of every error sluice raises on its own account. Callers test `instanceof` or
 * `code`, never the message text.
 */
export class SluiceError extends Error {
  override readonly name: string = "SluiceError";
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A store call failed: the connection dropped, the server returned an error, or a script failed. */
export class StoreError extends SluiceError {
  override readonly name = "StoreError";

  constructor(message: string, options?: { cause?: unknown }) {
    super("SLUICE_STORE_ERROR", message, options);
  }
}

/** A store call missed its deadline. */
export class StoreTimeoutError extends SluiceError {
  override readonly name = "StoreTimeoutError";
  /** The deadline that was missed, in milliseconds. */
  readonly timeout: number;

  constructor(timeout: number, options?: { cause?: unknown }) {
    super("SLUICE_STORE_TIMEOUT", `store call timed out after ${timeout} ms`, options);
    this.timeout = timeout;
  }
}

/** The limiter or store was used after `close()`. */
export class ClosedError extends SluiceError {
  override readonly name = "ClosedError";

  constructor(what: string) {
    super("SLUICE_CLOSED", `${what} is closed; create a new one to keep limiting`);
  }
}

/** Code carried by every `TypeError` and `RangeError` that rejects an option or argument. */
export const INVALID_ARGUMENT = "SLUICE_INVALID_ARGUMENT";

/** Formats a received value for an error message: strings quoted, long values cut. */
export function describeValue(value: unknown): string {
  let text: string;
  if (typeof value === "string") {
    text = JSON.stringify(value);
  } else if (typeof value === "bigint") {
    text = `${value}n`;
  } else if (typeof value === "function") {
    text = "a function";
  } else if (typeof value === "object" && value !== null) {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  } else {
    text = Object.is(value, -0) ? "-0" : String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Creates a `TypeError` for `name` naming what was expected and the value received. */
export function invalidType(name: string, expected: string, value: unknown): TypeError {
  const error = new TypeError(`${name} must be ${expected}; received ${describeValue(value)}`);
  return Object.assign(error, { code: INVALID_ARGUMENT });
}

/** Creates a `RangeError` for `name` naming what was expected and the value received. */
export function outOfRange(name: string, expected: string, value: unknown): RangeError {
  const error = new RangeError(`${name} must be ${expected}; received ${describeValue(value)}`);
  return Object.assign(error, { code: INVALID_ARGUMENT });
}

/**
 * Rejects an options object that is not a plain object or that has a property outside
 * `known`, so a misspelt option (`failuremode`, `timout`) fails loudly instead of silently
 * taking its default.
 *
 * @throws {TypeError} naming the first unknown property and the accepted ones.
 */
export function checkOptionNames(name: string, options: unknown, known: readonly string[]): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidType(name, "an options object", options);
  }
  for (const property in options) {
    if (!known.includes(property)) {
      throw invalidType(
        `${name}.${property}`,
        `absent: the options are ${known.join(", ")}`,
        property,
      );
    }
  }
}
