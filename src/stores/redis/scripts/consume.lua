--[[
Decides a batch of requests, each against every policy of its key, in order. A request
consumes its cost from all its policies only when all of them allow it; nothing is
written for a rejected request or a dry run. Each request is atomic on its own, and a
later request in the batch sees what an earlier one consumed.

KEYS        the state keys of every request in order, one per policy of the request:
            "<prefix>:<policy name>:{<encoded key>}". All keys of one request share the
            hash tag, so they live in one Cluster slot. A batch sent to a Cluster holds
            requests of one slot only.

ARGV, in four parts read in order:
  policies  P, then six values per policy:
              algorithm name ("fixed-window", "sliding-window", "sliding-log",
              "token-bucket", "leaky-bucket" or "gcra"),
              limit (units per window), window (ms),
              burst (the bucket algorithms' capacity), rate units and rate interval
              (ms): the refill rate as two integers
  A request's cost is at most the policy's capacity, which is burst for the bucket
  algorithms and limit for the window algorithms.
  shapes    S, then per shape (what requests of one limiter share):
              cost in units, a positive integer;
              "1" to decide without consuming (dry run), "0" to consume;
              n, then n policy numbers (1 to P): the policies of the request, matching its
              n keys in KEYS
  stamped   "1" when requests carry their own time, "0" when all use the server's TIME
  requests  per request, only what varies: its shape number (1 to S) when S > 1, then
            its time in epoch ms ("" for the server's TIME) when stamped is "1". With
            S = 1 and stamped "0" this part is empty, and KEYS alone counts the requests.

Reply: an array of integers:
  [1]   the server's TIME in epoch ms, read once for the batch
  then per request and per policy of the request, four values: allowed (1 or 0),
  remaining (units), resetAt (epoch ms), retryAfter (ms). A number beyond 2^53 − 1 arrives
  as a decimal string instead.
A cost above a policy's capacity decides that policy as a read of cost 0 and rejects it.
]]

--- @include "common.lua"
--- @include "fixed-window.lua"
--- @include "sliding-window.lua"
--- @include "sliding-log.lua"
--- @include "token-bucket.lua"
--- @include "leaky-bucket.lua"
--- @include "gcra.lua"

local ALGORITHMS = {
  ['fixed-window'] = fixed_window,
  ['sliding-window'] = sliding_window,
  ['sliding-log'] = sliding_log,
  ['token-bucket'] = token_bucket,
  ['leaky-bucket'] = leaky_bucket,
  ['gcra'] = gcra,
}
local POLICY_ARGS = 6

local clock = redis.call('TIME')
local server_now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local arg = 1
local policies = {}
local policy_count = tonumber(ARGV[arg])
arg = arg + 1
for j = 1, policy_count do
  local algorithm = ALGORITHMS[ARGV[arg]]
  if algorithm == nil then
    return redis.error_reply('ERR sluice: unknown algorithm "' .. tostring(ARGV[arg]) .. '"')
  end
  policies[j] = {
    algorithm = algorithm,
    limit = tonumber(ARGV[arg + 1]),
    window = tonumber(ARGV[arg + 2]),
    burst = tonumber(ARGV[arg + 3]),
    units = tonumber(ARGV[arg + 4]),
    interval = tonumber(ARGV[arg + 5]),
  }
  arg = arg + POLICY_ARGS
end

local shapes = {}
local shape_count = tonumber(ARGV[arg])
arg = arg + 1
for s = 1, shape_count do
  local count = tonumber(ARGV[arg + 2])
  local shape_policies = {}
  for i = 1, count do
    shape_policies[i] = policies[tonumber(ARGV[arg + 2 + i])]
  end
  shapes[s] = {
    cost = tonumber(ARGV[arg]),
    dry_run = ARGV[arg + 1] == '1',
    policies = shape_policies,
  }
  arg = arg + 3 + count
end

local stamped = ARGV[arg] == '1'
arg = arg + 1

local reply = { server_now }
local reply_length = 1
-- Verdicts and state views by policy position in a request, reused across requests.
local verdicts = {}
local states = {}
local key_index = 0
local key_count = #KEYS
local shape = shapes[1]

while key_index < key_count do
  if shape_count > 1 then
    shape = shapes[tonumber(ARGV[arg])]
    arg = arg + 1
  end
  local requested_at = server_now
  if stamped then
    if ARGV[arg] ~= '' then
      requested_at = tonumber(ARGV[arg])
    end
    arg = arg + 1
  end

  local cost = shape.cost
  local request_policies = shape.policies
  local count = #request_policies
  local all_allowed = true
  for i = 1, count do
    local policy = request_policies[i]
    local algorithm = policy.algorithm
    local capacity = policy.limit
    if algorithm.bucket then
      capacity = policy.burst
    end
    local fits = cost <= capacity
    local decided_cost = 0
    if fits then
      decided_cost = cost
    end

    local verdict = verdicts[i]
    if verdict == nil then
      verdict = {}
      verdicts[i] = verdict
      states[i] = {}
    end
    local state = algorithm.read(KEYS[key_index + i], algorithm.tag, states[i])
    algorithm.decide(policy, state, requested_at, decided_cost, verdict)
    if not fits then
      verdict.allowed = false
    end
    all_allowed = all_allowed and verdict.allowed

    reply[reply_length + 1] = verdict.allowed and 1 or 0
    reply[reply_length + 2] = reply_number(verdict.remaining)
    reply[reply_length + 3] = reply_number(verdict.reset_at)
    reply[reply_length + 4] = reply_number(verdict.retry_after)
    reply_length = reply_length + 4
  end

  if all_allowed and not shape.dry_run then
    for i = 1, count do
      local algorithm = request_policies[i].algorithm
      algorithm.commit(KEYS[key_index + i], algorithm.tag, verdicts[i])
    end
  end
  key_index = key_index + count
end

return reply
