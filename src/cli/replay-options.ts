import { type PolicyOptions, parsePolicy } from "../policy/policy.js";
import { ALGORITHMS, type AlgorithmName } from "../types.js";
import { parseCommandLine } from "./args.js";
import { CliError, usageError } from "./cli-error.js";
import type { LogFormat } from "./line-parser.js";
import { splitFieldList } from "./line-parser.js";

/** Options of `sluice replay`, validated. */
export interface ReplayOptions {
  /** Path of the log, or `-` for stdin. */
  readonly file: string;
  readonly format: LogFormat | "auto";
  /** Fields that form the key, or `undefined` for the format's default (`ip`). */
  readonly keyFields: readonly string[] | undefined;
  /** Dotted path of the time in JSON lines, or `undefined` for the default (`time`). */
  readonly timeField: string | undefined;
  /**
   * One policy, or one per algorithm with `--compare` in `ALGORITHMS` order; each already
   * accepted by `parsePolicy`.
   */
  readonly policies: readonly PolicyOptions[];
  readonly compare: boolean;
  /** How many of the most rejected keys to list; 0 lists none. */
  readonly top: number;
  readonly json: boolean;
  /** Show progress on stderr even when stderr is not a terminal. */
  readonly progress: boolean;
  /** Replay against Redis instead of memory; `undefined` for memory. */
  readonly redis: RedisReplayOptions | undefined;
}

/** Connection and key settings of `sluice replay --redis`. */
export interface RedisReplayOptions {
  /** `redis://` or `rediss://` URL with an explicit host. */
  readonly url: string;
  /** Key prefix given with `--prefix`, or `undefined` to generate a unique one. */
  readonly prefix: string | undefined;
  /** Maximum number of checks in flight at once. */
  readonly concurrency: number;
  /** Leave the keys written under the prefix in Redis after the replay. */
  readonly keepKeys: boolean;
  /** Connect to a Redis Cluster, with `url` as its startup node. */
  readonly cluster: boolean;
}

/** Flags of `sluice replay`, in the form `node:util` `parseArgs` takes. */
export const REPLAY_FLAGS = {
  format: { type: "string" },
  "key-field": { type: "string", short: "k" },
  "time-field": { type: "string" },
  policy: { type: "string", short: "p" },
  algorithm: { type: "string", short: "a" },
  burst: { type: "string" },
  compare: { type: "boolean" },
  top: { type: "string" },
  json: { type: "boolean" },
  progress: { type: "boolean" },
  redis: { type: "string" },
  prefix: { type: "string" },
  concurrency: { type: "string" },
  "keep-keys": { type: "boolean" },
  cluster: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const FORMATS: readonly (LogFormat | "auto")[] = ["auto", "clf", "json"];
/** Algorithms that take `--burst`: the others have no bucket. */
export const BUCKET_ALGORITHMS: readonly AlgorithmName[] = ["token-bucket", "leaky-bucket", "gcra"];
const REDIS_ONLY = ["prefix", "concurrency", "keep-keys", "cluster"] as const;

/** Default policy of a replay: 60 requests per minute. */
export const DEFAULT_REPLAY_POLICY = "60/1m";
const DEFAULT_TOP = 10;
const DEFAULT_CONCURRENCY = 64;

/**
 * Parses the arguments after `sluice replay`. Returns `"help"` when `--help` is given.
 *
 * @throws {CliError} with exit code 2 for an unknown flag, a missing file argument or an
 * invalid value.
 */
export function parseReplayOptions(args: readonly string[]): ReplayOptions | "help" {
  const { values, positionals } = parseCommandLine("replay", args, REPLAY_FLAGS);
  if (values.help === true) return "help";

  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === "string" ? value : undefined;
  };

  const file = positionals[0];
  if (file === undefined) throw usageError("replay needs a log file, or - to read stdin");
  if (positionals.length > 1) {
    throw usageError(`replay takes one log file; received ${positionals.length}`);
  }

  const format = text("format") ?? "auto";
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw usageError(`--format must be auto, clf or json; received "${format}"`);
  }

  const keyFieldText = text("key-field");
  const keyFields = keyFieldText === undefined ? undefined : splitFieldList(keyFieldText);
  if (keyFieldText !== undefined && keyFields === undefined) {
    throw usageError(
      `--key-field must be field names separated by commas; received "${keyFieldText}"`,
    );
  }

  const timeField = text("time-field");
  if (timeField !== undefined && timeField.trim() === "") {
    throw usageError("--time-field must be a field name or a dotted path; received an empty value");
  }

  const compare = values.compare === true;
  const algorithm = text("algorithm");
  if (compare && algorithm !== undefined) {
    throw usageError("--compare runs every algorithm, so it takes no --algorithm");
  }

  const redisUrl = text("redis");
  for (const name of REDIS_ONLY) {
    if (redisUrl === undefined && values[name] !== undefined) {
      throw usageError(`--${name} applies only with --redis`);
    }
  }

  return {
    file,
    format: format as LogFormat | "auto",
    keyFields,
    timeField: timeField?.trim(),
    policies: buildPolicies(
      text("policy") ?? DEFAULT_REPLAY_POLICY,
      algorithm,
      text("burst"),
      compare,
    ),
    compare,
    top: parseCount("--top", text("top"), DEFAULT_TOP, 0),
    json: values.json === true,
    progress: values.progress === true,
    redis:
      redisUrl === undefined
        ? undefined
        : {
            url: checkRedisUrl(redisUrl),
            prefix: checkPrefix(text("prefix")),
            concurrency: parseCount("--concurrency", text("concurrency"), DEFAULT_CONCURRENCY, 1),
            keepKeys: values["keep-keys"] === true,
            cluster: values.cluster === true,
          },
  };
}

/**
 * Builds the policy of each run: one from `--policy`, `--algorithm` and `--burst`, or with
 * `compare` one per algorithm. `--burst` then applies to the bucket algorithms only,
 * because the window algorithms have no bucket.
 */
function buildPolicies(
  spec: string,
  algorithm: string | undefined,
  burstText: string | undefined,
  compare: boolean,
): PolicyOptions[] {
  const burst = burstText === undefined ? undefined : parseCount("--burst", burstText, 0, 1);
  if (algorithm !== undefined && !(ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw usageError(
      `--algorithm must be one of ${ALGORITHMS.join(", ")}; received "${algorithm}"`,
    );
  }

  const base = toCliError("invalid --policy: ", () => parsePolicy(spec));
  const algorithms = compare ? ALGORITHMS : [(algorithm ?? "gcra") as AlgorithmName];
  return algorithms.map((name) => {
    const options: PolicyOptions = { limit: base.limit, window: base.window, algorithm: name };
    const withBurst = burst !== undefined && (!compare || BUCKET_ALGORITHMS.includes(name));
    const policy = withBurst ? { ...options, burst } : options;
    toCliError("", () => parsePolicy(policy));
    return policy;
  });
}

/** Runs `parse`, turning the `TypeError` or `RangeError` of a rejected option into exit 2. */
function toCliError<T>(context: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      throw new CliError(`${context}${error.message}`);
    }
    throw error;
  }
}

/** Parses a whole number flag of at least `min`, or returns `fallback` when absent. */
function parseCount(flag: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;

  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    const expected = min === 0 ? "a whole number" : `a whole number of at least ${min}`;
    throw usageError(`${flag} must be ${expected}; received "${text}"`);
  }
  return value;
}

function checkRedisUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`--redis must be a URL such as redis://127.0.0.1:6380; received "${text}"`);
  }

  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw usageError(`--redis must be a redis:// or rediss:// URL; received "${text}"`);
  }
  // A URL without a host would make ioredis connect to localhost, which the user did not name.
  if (url.hostname === "") {
    throw usageError(`--redis must name a host, as in redis://127.0.0.1:6380; received "${text}"`);
  }
  return text;
}

/**
 * Rejects a prefix with the glob characters of `SCAN MATCH`, so that the pattern
 * `<prefix>:*` used for cleanup matches exactly the keys under the prefix.
 */
function checkPrefix(prefix: string | undefined): string | undefined {
  if (prefix === undefined) return undefined;
  if (prefix === "" || /[\s*?[\]\\]/.test(prefix)) {
    throw usageError(
      `--prefix must be non-empty, without spaces or the pattern characters * ? [ ] \\; received "${prefix}"`,
    );
  }
  return prefix;
}
