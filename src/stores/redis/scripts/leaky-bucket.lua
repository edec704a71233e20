--[[
Leaky bucket as a meter: each request pours `cost` into a bucket of size `burst` that leaks
at `limit` per `window`; a request that would overflow it is rejected. Same decisions as
src/algorithms/leaky-bucket.ts: the level is kept in units of 1/interval request, so
leaking `units` per ms is exact integer arithmetic.

Reads no KEYS or ARGV; consume.lua passes in:
  policy        { limit, window = ms, burst = bucket size in requests,
                  units = leak per ms in 1/interval requests, interval = ms }
  state         nil for no state, else { level (1/scale requests), lastLeak (epoch ms), scale }
  requested_at  epoch ms
  cost          cost units; 0 decides without consuming

Writes the verdict into `out`, a table reused across requests: { allowed, remaining,
reset_at (epoch ms), retry_after (ms), ttl (ms), now (epoch ms), next0, next1, next2 (the
state after admitting the request) }.
Stored by write_fixed_state in common.lua with tag "l".
]]

local function decide_leaky_bucket(policy, state, requested_at, cost, out)
  local scale = policy.interval
  local leak_per_ms = policy.units
  local capacity = policy.burst * scale

  local level = 0
  local now = requested_at
  if state then
    local last_leak = state[2]
    now = math.max(requested_at, last_leak)
    -- A bucket that a policy change made smaller spills what it cannot hold.
    local stored = math.min(capacity, rescale(state[1], state[3], scale, math.ceil))
    local elapsed = now - last_leak
    if elapsed < ceil_div(stored, leak_per_ms) then
      level = stored - elapsed * leak_per_ms
    end
  end

  -- Comparing the cost with the room keeps every value within the capacity.
  local room = capacity - level
  local poured = cost * scale
  local allowed = poured <= room
  local filled = level
  if allowed then
    filled = level + poured
  end
  local until_empty = ceil_div(filled, leak_per_ms)
  local retry_after = 0
  if not allowed then
    retry_after = ceil_div(poured - room, leak_per_ms)
  end

  out.allowed = allowed
  out.remaining = math.floor((capacity - filled) / scale)
  out.reset_at = now + until_empty
  out.retry_after = retry_after
  out.ttl = math.max(1, until_empty)
  out.now = now
  out.next0 = filled
  out.next1 = now
  out.next2 = scale
end

local leaky_bucket = {
  bucket = true,
  tag = string.byte('l'),
  read = read_fixed_state,
  decide = decide_leaky_bucket,
  commit = write_fixed_state,
}
