--[[
Sliding-window counter: counts requests in windows aligned to the epoch and weighs the
previous window's count by its overlap with the rolling window. Same decisions as
src/algorithms/sliding-window.ts. The test
`previous × (window − elapsed) + (current + cost) × window ≤ limit × window` is evaluated
as `ceil(previous × (window − elapsed) / window) ≤ limit − current − cost`, with an exact
multiply-divide (common.lua) where a product passes 2^53.

Reads no KEYS or ARGV; consume.lua passes in:
  policy        { limit = requests per window, window = ms, burst, units, interval }
  state         nil for no state, else { lastSeen (epoch ms), current, previous (cost units) }
  requested_at  epoch ms
  cost          cost units; 0 decides without consuming

Writes the verdict into `out`, a table reused across requests: { allowed, remaining,
reset_at (epoch ms), retry_after (ms), ttl (ms), now (epoch ms), next0, next1, next2 (the
state after admitting the request) }.
Stored by write_fixed_state in common.lua with tag "s".
]]

-- Returns the ms from `elapsed` (into the current window) until `cost` fits: first as the
-- previous window's weight fades, else in the next window once the current count has
-- become the previous one. Called only for a rejected request, which bounds each quotient
-- below `window`. As waitForRoom in sliding-window.ts.
local function sliding_window_wait(limit, window, elapsed, current, previous, cost)
  local room = limit - current - cost
  if room >= 0 and previous > 0 then
    local fits_at = window - mul_div_floor(room, window, previous)
    if fits_at < window then
      return fits_at - elapsed
    end
  end

  local until_next_window = window - elapsed
  if limit - cost >= current then
    return until_next_window
  end
  local fits_at_next = window - mul_div_floor(limit - cost, window, current)
  return until_next_window + fits_at_next
end

local function decide_sliding_window(policy, state, requested_at, cost, out)
  local window = policy.window
  local limit = policy.limit

  local last_seen = requested_at
  local current = 0
  local previous = 0
  if state then
    last_seen = state[1]
    current = state[2]
    previous = state[3]
  end
  local now = math.max(requested_at, last_seen)

  local index = math.floor(now / window)
  local windows_passed = index - math.floor(last_seen / window)
  if windows_passed == 1 then
    previous = current
    current = 0
  elseif windows_passed > 1 then
    previous = 0
    current = 0
  end

  local window_start = index * window
  local elapsed = now - window_start
  -- Units of the previous window still inside the rolling window, rounded up.
  local previous_weight = mul_div_ceil(previous, window - elapsed, window)
  local room = limit - current - previous_weight
  local allowed = cost <= room
  local used = current
  local remaining = room
  if allowed then
    used = current + cost
    remaining = room - cost
  end

  local reset_at = now
  if used > 0 then
    reset_at = window_start + 2 * window
  elseif previous > 0 then
    reset_at = window_start + window
  end
  local retry_after = 0
  if not allowed then
    retry_after = sliding_window_wait(limit, window, elapsed, current, previous, cost)
  end

  out.allowed = allowed
  out.remaining = math.max(0, remaining)
  out.reset_at = reset_at
  out.retry_after = retry_after
  out.ttl = math.max(1, window_start + 2 * window - now)
  out.now = now
  out.next0 = now
  out.next1 = used
  out.next2 = previous
end

local sliding_window = {
  bucket = false,
  tag = string.byte('s'),
  read = read_fixed_state,
  decide = decide_sliding_window,
  commit = write_fixed_state,
}
