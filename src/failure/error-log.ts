import type { Logger } from "../types.js";

/**
 * Logs store failures at most once per interval, with how many occurred since the last
 * line, so an outage produces a few lines instead of one per request.
 */
export class ErrorLog {
  #logger: Logger;
  #interval: number;
  #lastLoggedAt = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(logger: Logger, interval: number) {
    this.#logger = logger;
    this.#interval = interval;
  }

  /** Records one failure at `now` and logs it unless a line went out within the interval. */
  record(message: string, error: unknown, details: Record<string, unknown>, now: number): void {
    if (now - this.#lastLoggedAt < this.#interval) {
      this.#suppressed++;
      return;
    }

    const count = this.#suppressed + 1;
    this.#suppressed = 0;
    this.#lastLoggedAt = now;
    this.#logger.error(message, { ...details, count, error });
  }
}
