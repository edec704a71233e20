import type { Logger } from "./types.js";

/** Logs through `console`. */
export const defaultLogger: Logger = {
  warn: (message, details) => console.warn(message, details ?? ""),
  error: (message, details) => console.error(message, details ?? ""),
};
