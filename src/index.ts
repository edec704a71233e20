export {
  ClosedError,
  INVALID_ARGUMENT,
  SluiceError,
  StoreError,
  StoreTimeoutError,
} from "./errors.js";
export { type CheckOptions, RateLimiter, type RateLimiterOptions } from "./limiter.js";
export { formatDuration, parseDuration } from "./policy/duration.js";
export {
  DEFAULT_ALGORITHM,
  type Policy,
  type PolicyInput,
  type PolicyOptions,
  parsePolicy,
} from "./policy/policy.js";
export { MemoryStore, type MemoryStoreOptions } from "./stores/memory/memory-store.js";
export type { ConsumeRequest, Outcome, Store, SyncStore } from "./stores/store.js";
export {
  ALGORITHMS,
  type AlgorithmName,
  type Decision,
  type DecisionReason,
  type FailureMode,
  type Logger,
} from "./types.js";
