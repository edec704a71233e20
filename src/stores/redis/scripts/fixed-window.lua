--[[
Fixed window: counts requests in a window that opens at the key's first request and
closes `window` ms later. Same decisions as src/algorithms/fixed-window.ts.

Reads no KEYS or ARGV; consume.lua passes in:
  policy        { limit = requests per window, window = ms, burst, units, interval }
  state         nil for no state, else { windowStart (epoch ms), count (cost units), 0 }
  requested_at  epoch ms
  cost          cost units; 0 decides without consuming

Writes the verdict into `out`, a table reused across requests: { allowed, remaining,
reset_at (epoch ms), retry_after (ms), ttl (ms), now (epoch ms), next0, next1, next2 (the
state after admitting the request) }.
Stored by write_fixed_state in common.lua with tag "f".
]]

local function decide_fixed_window(policy, state, requested_at, cost, out)
  local start = requested_at
  local count = 0
  if state then
    start = state[1]
    count = state[2]
  end
  local now = math.max(requested_at, start)

  if now >= start + policy.window then
    start = now
    count = 0
  end

  local allowed = count + cost <= policy.limit
  local used = count
  if allowed then
    used = count + cost
  end
  local window_end = start + policy.window
  local reset_at = window_end
  if used == 0 then
    reset_at = now
  end
  local retry_after = 0
  if not allowed then
    retry_after = window_end - now
  end

  out.allowed = allowed
  -- A limit lowered under a key that already used more leaves `used` above it.
  out.remaining = math.max(0, policy.limit - used)
  out.reset_at = reset_at
  out.retry_after = retry_after
  out.ttl = window_end - now
  out.now = now
  out.next0 = start
  out.next1 = used
  out.next2 = 0
end

local fixed_window = {
  bucket = false,
  tag = string.byte('f'),
  read = read_fixed_state,
  decide = decide_fixed_window,
  commit = write_fixed_state,
}
