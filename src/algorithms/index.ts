import type { AlgorithmName } from "../types.js";
import type { Algorithm } from "./algorithm.js";
import { fixedWindow } from "./fixed-window.js";
import { gcra } from "./gcra.js";
import { leakyBucket } from "./leaky-bucket.js";
import { slidingLog } from "./sliding-log.js";
import { slidingWindow } from "./sliding-window.js";
import { tokenBucket } from "./token-bucket.js";

/** The algorithm implementations by name. */
export const algorithms: Readonly<Record<AlgorithmName, Algorithm>> = {
  "fixed-window": fixedWindow,
  "sliding-window": slidingWindow,
  "sliding-log": slidingLog,
  "token-bucket": tokenBucket,
  "leaky-bucket": leakyBucket,
  gcra,
};
