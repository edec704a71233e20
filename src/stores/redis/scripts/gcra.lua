--[[
GCRA (generic cell rate algorithm): one theoretical arrival time (TAT) per key, the time at
which the key's bucket is full again. Same decisions as src/algorithms/gcra.ts: the TAT is
whole ms plus a remainder in ticks of 1/units ms, so nothing is rounded between requests,
and times are added and compared in that split form so no value passes 2^53. A request
stamped earlier than the key's last admission is decided at that admission's time, so
out-of-order stamps never refund quota.

Reads no KEYS or ARGV; consume.lua passes in:
  policy        { limit, window = ms, burst = capacity in requests,
                  units = ticks per ms, interval = ticks one request adds }
  state         nil for no state, else { tatMs (epoch ms), tatTicks (1/units ms),
                lastAdmitted (epoch ms) }
  requested_at  epoch ms
  cost          cost units; 0 decides without consuming

Writes the verdict into `out`, a table reused across requests: { allowed, remaining,
reset_at (epoch ms), retry_after (ms), ttl (ms), now (epoch ms), next0, next1, next2 (the
state after admitting the request) }.
Stored by write_fixed_state in common.lua with tag "g".
]]

local function decide_gcra(policy, state, requested_at, cost, out)
  local ticks_per_ms = policy.units
  -- The burst tolerance in ticks; parsePolicy keeps it a safe integer.
  local tolerance = policy.burst * policy.interval

  local now = requested_at
  local base_ms = now
  local base_ticks = 0
  if state then
    now = math.max(requested_at, state[3])
    base_ms = now
    local tat_ms = state[1]
    local tat_ticks = state[2]
    -- A remainder too large for a changed rate rounds the TAT up to the next whole ms.
    if tat_ticks >= ticks_per_ms then
      tat_ms = tat_ms + 1
      tat_ticks = 0
    end
    if tat_ms > now or (tat_ms == now and tat_ticks > 0) then
      base_ms = tat_ms
      base_ticks = tat_ticks
    end
  end

  -- The request passes when its new TAT (base + increment) is at most `tolerance` ahead of
  -- now, that is when base − slack ≤ now.
  local increment = cost * policy.interval
  local slack = tolerance - increment
  local allow_ms = base_ms - math.floor(slack / ticks_per_ms)
  -- math.fmod is JavaScript's %. Lua's % computes a − floor(a / b) × b, which loses
  -- precision on large operands.
  local allow_ticks = base_ticks - math.fmod(slack, ticks_per_ms)
  if allow_ticks < 0 then
    allow_ticks = allow_ticks + ticks_per_ms
    allow_ms = allow_ms - 1
  end
  local allow_at = allow_ms
  if allow_ticks > 0 then
    allow_at = allow_ms + 1
  end
  local allowed = allow_at <= now

  local after_ms = base_ms
  local after_ticks = base_ticks
  if allowed then
    local increment_ticks = math.fmod(increment, ticks_per_ms)
    after_ms = after_ms + math.floor(increment / ticks_per_ms)
    -- base_ticks + increment_ticks, carried without a sum that may pass 2^53.
    after_ticks = increment_ticks - (ticks_per_ms - base_ticks)
    if after_ticks >= 0 then
      after_ms = after_ms + 1
    else
      after_ticks = after_ticks + ticks_per_ms
    end
  end

  -- Room left in ticks is tolerance − (after − now). It is zero once the TAT is at least
  -- `tolerance` ahead, because a policy change or an earlier stamp can push it that far.
  local ahead_ms = after_ms - now
  local room = 0
  if ahead_ms <= math.floor(tolerance / ticks_per_ms) then
    room = tolerance - ahead_ms * ticks_per_ms - after_ticks
  end
  local until_full = ahead_ms
  if after_ticks > 0 then
    until_full = ahead_ms + 1
  end
  local remaining = 0
  if room > 0 then
    remaining = math.floor(room / policy.interval)
  end
  local retry_after = 0
  if not allowed then
    retry_after = allow_at - now
  end

  out.allowed = allowed
  out.remaining = remaining
  out.reset_at = now + until_full
  out.retry_after = retry_after
  out.ttl = math.max(1, until_full)
  out.now = now
  out.next0 = after_ms
  out.next1 = after_ticks
  out.next2 = now
end

local gcra = {
  bucket = true,
  tag = string.byte('g'),
  read = read_fixed_state,
  decide = decide_gcra,
  commit = write_fixed_state,
}
