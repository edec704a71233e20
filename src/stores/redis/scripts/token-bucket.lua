--[[
Token bucket: a bucket of `burst` tokens refills continuously at `limit` tokens per
`window`. Same decisions as src/algorithms/token-bucket.ts: tokens are kept in units of
1/interval token, so a refill of `units` per ms is exact integer arithmetic.

Reads no KEYS or ARGV; consume.lua passes in:
  policy        { limit, window = ms, burst = capacity in tokens,
                  units = refill per ms in 1/interval tokens, interval = ms }
  state         nil for no state, else { tokens (1/scale tokens), lastRefill (epoch ms), scale }
  requested_at  epoch ms
  cost          tokens; 0 decides without consuming

Writes the verdict into `out`, a table reused across requests: { allowed, remaining,
reset_at (epoch ms), retry_after (ms), ttl (ms), now (epoch ms), next0, next1, next2 (the
state after admitting the request) }.
Stored by write_fixed_state in common.lua with tag "t".
]]

local function decide_token_bucket(policy, state, requested_at, cost, out)
  local scale = policy.interval
  local refill_per_ms = policy.units
  local capacity = policy.burst * scale

  local tokens = capacity
  local now = requested_at
  if state then
    local last_refill = state[2]
    now = math.max(requested_at, last_refill)
    local stored = rescale(state[1], state[3], scale, math.floor)
    local missing = capacity - stored
    local elapsed = now - last_refill
    if elapsed >= ceil_div(missing, refill_per_ms) then
      tokens = capacity
    else
      tokens = stored + elapsed * refill_per_ms
    end
  end

  local needed = cost * scale
  local allowed = tokens >= needed
  local left = tokens
  if allowed then
    left = tokens - needed
  end
  local until_full = ceil_div(capacity - left, refill_per_ms)
  local retry_after = 0
  if not allowed then
    retry_after = ceil_div(needed - tokens, refill_per_ms)
  end

  out.allowed = allowed
  out.remaining = math.floor(left / scale)
  out.reset_at = now + until_full
  out.retry_after = retry_after
  out.ttl = math.max(1, until_full)
  out.now = now
  out.next0 = left
  out.next1 = now
  out.next2 = scale
end

local token_bucket = {
  bucket = true,
  tag = string.byte('t'),
  read = read_fixed_state,
  decide = decide_token_bucket,
  commit = write_fixed_state,
}
