import { ACCESS_LOG_FIELDS } from "./access-log.js";

/** Help of `sluice` itself. */
export const MAIN_HELP = `Usage: sluice <command> [options]

Rate limiting tools for sluice.

Commands:
  replay <file>    Run a request log through a rate-limit policy and report what
                   it would have allowed and rejected.

Options:
  -h, --help       Show this help; sluice <command> --help shows a command's help.
  -V, --version    Show the version of sluice.

Example:
  sluice replay examples/access.log --policy 60/1m --compare
`;

/** Help of `sluice replay`. */
export const REPLAY_HELP = `Usage: sluice replay <file> [options]

Replays a request log through a policy, using each line's own timestamp as the
request time so that results are reproducible, and prints what the limiter
would have allowed and rejected. <file> is a path, or - to read stdin. Lines
are decided in log order; a line older than its key's state counts at the
state's time and never refunds quota.

Input:
      --format <f>        auto, clf or json (default auto: JSON lines when the
                          first non-blank line starts with "{", else clf).
                          clf reads the Common and the Combined Log Format,
                          told apart line by line, with any time zone offset.
  -k, --key-field <f>     What the key is (default ip). For clf one of
                          ${ACCESS_LOG_FIELDS.join(", ")};
                          for JSON lines a field or dotted path such as
                          client.ip. Join several with commas (ip,agent): the
                          key is then a JSON array of their values.
      --time-field <f>    JSON lines only: the field or dotted path that holds
                          the request time (default time), as epoch seconds
                          (below 1e11), epoch milliseconds, or an ISO 8601
                          string; ISO times without a zone are read as UTC.

Policy:
  -p, --policy <spec>     Requests per window, e.g. 60/1m, 10/s, 5/500ms
                          (default 60/1m).
  -a, --algorithm <name>  fixed-window, sliding-window, sliding-log,
                          token-bucket, leaky-bucket or gcra (default gcra).
      --burst <n>         Bucket capacity of token-bucket, leaky-bucket and
                          gcra (default: the limit).
      --compare           Replay the log under all six algorithms, each on a
                          fresh limiter, and print one row per algorithm.
                          --burst then applies to the bucket algorithms only.

Output:
      --top <n>           List the n keys with the most rejected requests
                          (default 10; 0 lists none). With --compare the
                          lists appear in the --json output only.
      --json              Print the summary as one JSON object.
      --progress          Report progress on stderr even when stderr is not a
                          terminal. Progress starts after one second.

Redis:
      --redis <url>       Replay against Redis instead of memory, e.g.
                          redis://127.0.0.1:6380 (needs the ioredis package).
      --prefix <p>        Key prefix in Redis (default sluice-replay:<random>).
                          It must have no keys yet.
      --concurrency <n>   Checks in flight at once (default 64). Requests of
                          one key still go one after another, so decisions
                          equal those of a memory replay.
      --keep-keys         Leave the replay's keys in Redis. By default every
                          key under the prefix is deleted afterwards.
      --cluster           Connect to a Redis Cluster, with the --redis URL as
                          its startup node. Checking and deleting the
                          prefix's keys then runs on every master.

  -h, --help              Show this help.

Malformed lines are counted and skipped; the first 3 are shown on stderr.
Exit status: 0 on success, 1 when Redis or reading fails midway, 2 for
invalid usage or an unreadable file, 130 when interrupted.

Examples:
  sluice replay examples/access.log
  sluice replay examples/access.log --policy 100/1m --compare
  sluice replay requests.jsonl --key-field user.id --time-field ts --json
  zcat access.log.gz | sluice replay - --key-field ip,agent
`;
