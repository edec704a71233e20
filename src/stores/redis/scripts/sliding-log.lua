--[[
Sliding log: remembers the time and cost of every admitted request and admits a new one
when the costs admitted in the last `window` ms, plus its own, stay within `limit`. Same
decisions as src/algorithms/sliding-log.ts. An entry admitted at `t` counts while
`now < t + window`; requests admitted in the same ms share one entry.

The key is a Redis list: element 0 is "<activeCost>:<newest>" (cost units, epoch ms), then
one pair of elements per entry, time (epoch ms) and cost, oldest first. Element 0 may count
entries that have expired since; they are dropped when a request is next admitted.

Reads no KEYS or ARGV; consume.lua passes in:
  policy        { limit = cost units per window, window = ms, burst, units, interval }
  state         nil for no state, else { activeCost, newest (epoch ms), key = the list's key,
                head = the list's first elements }
  requested_at  epoch ms
  cost          cost units; 0 decides without consuming

Writes the verdict into `out`, a table reused across requests: { allowed, remaining,
reset_at (epoch ms), retry_after (ms), ttl (ms), now (epoch ms), cost, next0 = activeCost
after, next1 = newest after, next2 = list index of the oldest entry still counting,
merge = true when the request joins the newest entry, replace = true when the key held no
state of this algorithm }.
]]

-- Entries read per LRANGE at first; each further read doubles, up to SLIDING_LOG_CHUNK_MAX.
local SLIDING_LOG_CHUNK = 4
local SLIDING_LOG_CHUNK_MAX = 1024

-- Reads the state stored at `key` into `into` and returns it, or returns nil when the key
-- has no state of this algorithm. The same LRANGE reads the oldest entries, for the expiry
-- walk in decide_sliding_log.
local function read_sliding_log(key, _, into)
  local head = redis.pcall('LRANGE', key, 0, 2 * SLIDING_LOG_CHUNK)
  if type(head[1]) ~= 'string' then
    return nil
  end
  local active, newest = string.match(head[1], '^(%d+):(%d+)$')
  if active == nil then
    return nil
  end
  into[1] = tonumber(active)
  into[2] = tonumber(newest)
  into.key = key
  into.head = head
  return into
end

-- Returns a function that gives the time and cost of the entry whose time is at list index
-- `index` (1, 3, 5, …), or nil past the end. Starts from `buffer`, the list's elements from
-- index 0, and reads on in growing chunks, forward only.
local function sliding_log_entries(key, buffer)
  local first = 0
  local size = SLIDING_LOG_CHUNK
  return function(index)
    local offset = index - first
    if offset >= #buffer then
      size = math.min(size * 2, SLIDING_LOG_CHUNK_MAX)
      buffer = redis.call('LRANGE', key, index, index + 2 * size - 1)
      first = index
      offset = 0
    end
    local time = buffer[offset + 1]
    if time == nil then
      return nil, nil
    end
    return tonumber(time), tonumber(buffer[offset + 2])
  end
end

local function decide_sliding_log(policy, state, requested_at, cost, out)
  local window = policy.window
  local limit = policy.limit

  local newest = requested_at
  local active = 0
  if state then
    active = state[1]
    newest = state[2]
  end
  local now = math.max(requested_at, newest)

  -- head: list index of the oldest entry that still counts.
  local head = 1
  local entry_at = nil
  if state then
    entry_at = sliding_log_entries(state.key, state.head)
    local time, entry_cost = entry_at(head)
    while time ~= nil and time + window <= now do
      active = active - entry_cost
      head = head + 2
      time, entry_cost = entry_at(head)
    end
  end

  local allowed = active + cost <= limit
  local used = active
  local newest_after = newest
  if allowed then
    used = active + cost
    if cost > 0 then
      newest_after = now
    end
  end

  local reset_at = newest_after + window
  if used == 0 then
    reset_at = now
  end

  local retry_after = 0
  if not allowed then
    -- Wait until entries worth the excess have expired. Expiring every entry frees all
    -- active cost and cost ≤ limit, so the loop finds one unless the limit was lowered.
    retry_after = window
    local excess = active + cost - limit
    local freed = 0
    local index = head
    local time, entry_cost = nil, nil
    if entry_at then
      time, entry_cost = entry_at(index)
    end
    while time ~= nil do
      freed = freed + entry_cost
      if freed >= excess then
        retry_after = time + window - now
        break
      end
      index = index + 2
      time, entry_cost = entry_at(index)
    end
  end

  out.allowed = allowed
  -- A limit lowered under a key that already used more leaves `used` above it.
  out.remaining = math.max(0, limit - used)
  out.reset_at = reset_at
  out.retry_after = retry_after
  out.ttl = math.max(1, newest_after + window - now)
  out.now = now
  out.cost = cost
  out.next0 = used
  out.next1 = newest_after
  out.next2 = head
  out.merge = state ~= nil and newest == now
  out.replace = state == nil
end

-- Drops the expired entries, appends the admitted request and sets the TTL.
local function commit_sliding_log(key, _, verdict)
  local summary = int_text(verdict.next0) .. ':' .. int_text(verdict.next1)

  if verdict.replace then
    redis.call('DEL', key)
    redis.call('RPUSH', key, summary, int_text(verdict.now), int_text(verdict.cost))
    redis.call('PEXPIRE', key, ttl_ms(verdict.ttl))
    return
  end

  -- The summary overwrites the last expired element, then everything before it goes.
  local kept_from = verdict.next2 - 1
  redis.call('LSET', key, kept_from, summary)
  if kept_from > 0 then
    redis.call('LTRIM', key, kept_from, -1)
  end

  if verdict.merge then
    local newest_cost = tonumber(redis.call('LINDEX', key, -1))
    redis.call('LSET', key, -1, int_text(newest_cost + verdict.cost))
  else
    redis.call('RPUSH', key, int_text(verdict.now), int_text(verdict.cost))
  end
  redis.call('PEXPIRE', key, ttl_ms(verdict.ttl))
end

local sliding_log = {
  bucket = false,
  tag = 'L',
  read = read_sliding_log,
  decide = decide_sliding_log,
  commit = commit_sliding_log,
}
