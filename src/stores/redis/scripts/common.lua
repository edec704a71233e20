--[[
Helpers shared by the algorithm files and consume.lua; included by the build step.

Reads no KEYS or ARGV. Every number here is a Lua double holding an integer, exactly like
the JavaScript numbers of src/algorithms, so the same operations give the same results.

Replies: none; `reply_number` prepares a number for a script reply.
]]

-- Largest TTL written, in ms: 2^53, about 285,000 years. Redis rejects an expiry whose
-- absolute time overflows a 64-bit integer, and a longer TTL changes nothing in practice.
local MAX_TTL_MS = 9007199254740992

-- Largest integer a double represents exactly. Redis truncates Lua numbers in replies to 64-bit
-- integers, so a larger value is sent as a decimal string instead.
local MAX_SAFE_INTEGER = 9007199254740991

-- Divides two non-negative integers and rounds up, as ceilDiv in algorithm.ts.
local function ceil_div(numerator, denominator)
  return math.ceil(numerator / denominator)
end

-- Rescales an amount kept in units of 1/from to units of 1/to after a policy change, as
-- rescale in algorithm.ts. `round` is math.floor for free quota, math.ceil for used quota.
local function rescale(amount, from, to, round)
  if from == to then
    return amount
  end
  return round((amount * to) / from)
end

-- Returns q and r with a × b = q × divisor + r and 0 ≤ r < divisor, for non-negative
-- integers a, b and divisor below 2^53 whose quotient q is below 2^53, even when a × b is
-- not. Binary long multiplication over the bits of a keeps r below divisor, so every
-- intermediate value stays below 2^54 and even, or below 2^53: all exact in doubles.
local function mul_div_exact(a, b, divisor)
  local whole = math.floor(b / divisor)
  local rest = math.fmod(b, divisor)

  local bit = 1
  while bit * 2 <= a do
    bit = bit * 2
  end
  local quotient = 0
  local remainder = 0
  local left = a
  while bit >= 1 do
    quotient = quotient * 2
    remainder = remainder * 2
    if remainder >= divisor then
      remainder = remainder - divisor
      quotient = quotient + 1
    end
    if left >= bit then
      left = left - bit
      if remainder >= divisor - rest then
        remainder = remainder - (divisor - rest)
        quotient = quotient + 1
      else
        remainder = remainder + rest
      end
    end
    bit = bit / 2
  end
  return a * whole + quotient, remainder
end

-- Returns floor(a × b / divisor) exactly for non-negative integers below 2^53, as
-- mulDivFloor in sliding-window.ts.
local function mul_div_floor(a, b, divisor)
  local product = a * b
  -- Below 2^53 the product is exact and a rounded quotient never crosses an integer.
  if product <= MAX_SAFE_INTEGER then
    return math.floor(product / divisor)
  end
  local quotient = mul_div_exact(a, b, divisor)
  return quotient
end

-- Returns ceil(a × b / divisor) exactly for non-negative integers below 2^53.
local function mul_div_ceil(a, b, divisor)
  local product = a * b
  if product <= MAX_SAFE_INTEGER then
    return math.ceil(product / divisor)
  end
  local quotient, remainder = mul_div_exact(a, b, divisor)
  if remainder > 0 then
    return quotient + 1
  end
  return quotient
end

-- Formats an integer-valued double as decimal digits. tostring would keep only 14
-- significant digits, and Redis's own conversion may use an exponent.
local function int_text(value)
  return string.format('%.0f', value)
end

-- Prepares a number for the reply: an integer reply when a double represents it
-- exactly, a decimal string beyond that.
local function reply_number(value)
  if value <= MAX_SAFE_INTEGER then
    return value
  end
  return int_text(value)
end

-- Returns a TTL in ms for SET PX or PEXPIRE: at least 1, at most MAX_TTL_MS. It goes to
-- Redis as a number, which Redis formats with up to 17 significant digits: exact for every
-- integer up to MAX_TTL_MS.
local function ttl_ms(ttl)
  return math.min(math.max(ttl, 1), MAX_TTL_MS)
end

--[[
Fixed state: the five algorithms with three numbers of state keep them in one 25-byte
string, struct.pack('<Bddd', tag, n0, n1, n2): a tag byte naming the algorithm, then the
three numbers as little-endian doubles. Doubles hold every integer up to 2^53 exactly and
round-trip without formatting, which costs less than decimal text in the script. A key
holding another algorithm's state (its policy changed algorithm under the same name) or
another type reads as empty, and the next admitted request overwrites it.
]]
local FIXED_STATE_FORMAT = '<Bddd'
local FIXED_STATE_BYTES = 25

-- Reads the three numbers stored at `key` for the algorithm tagged `tag` into `into` and
-- returns it, or returns nil when the key has no such state.
local function read_fixed_state(key, tag, into)
  local value = redis.pcall('GET', key)
  if type(value) ~= 'string' or #value ~= FIXED_STATE_BYTES or string.byte(value) ~= tag then
    return nil
  end
  local _
  _, into[1], into[2], into[3] = struct.unpack(FIXED_STATE_FORMAT, value)
  return into
end

-- Writes the verdict's next state to `key` with the verdict's TTL, replacing any type.
local function write_fixed_state(key, tag, verdict)
  local value = struct.pack(FIXED_STATE_FORMAT, tag, verdict.next0, verdict.next1, verdict.next2)
  redis.call('SET', key, value, 'PX', ttl_ms(verdict.ttl))
end
