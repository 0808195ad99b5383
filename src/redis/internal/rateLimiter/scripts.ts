/**
 * The Lua scripts of the Redis rate limiter store: a line-by-line port of
 * the memory store (`src/internal/rateLimiter/memoryStore.ts`, `MemoryCore`).
 * Every number crosses the Lua boundary as a string formatted with `%.17g`.
 *
 * @internal
 */
import type { Script } from "../../Redis.js"
import { timePrelude } from "../lua.js"

const PREAMBLE = timePrelude(1)

const REFILL = `
local function refillBucket(tokens, last, limit, refill)
  -- a last refill after now (Redis's wall clock stepped back) is now: stored so, else no call would
  -- ever refill while the step lasts (each would move it along with now)
  if ahead(last, 0) > 0 then
    last = now
    redis.call('HSET', KEYS[1], 'r', num(last))
  end
  local add = math.floor((now - last) / refill)
  if add > 0 then
    tokens = math.min(limit, tokens + add)
    last = last + add * refill
  end
  return tokens, last
end
`

/** A fixed window's counter, read: nil when there is none (or it ended), else count, end, start. */
const WINDOW = `
local function readWindow(h)
  if h[1] == false or tonumber(h[2]) <= now then return nil end
  local count, exp, first = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
  -- a window that starts after now (Redis's wall clock stepped back) starts now, with its own
  -- length: stored so, else every call would move it along with now
  local d = ahead(first, 0)
  if d > 0 then
    first, exp = first - d, exp - d
    redis.call('HSET', KEYS[1], 'e', num(exp), 'f', num(first))
  end
  return count, exp, first
end
`

const expireAt = (at: string) => `redis.call('PEXPIRE', KEYS[1], math.max(minTtl, math.ceil(${at} - now)))`

/**
 * experimental's `tokenBucket`.
 * @internal
 * ARGV: now, tokens, limit, refillMillis, allowOverflow (1/0). Returns the tokens left after the take.
 */
export const tokenBucketScript: Script = {
  name: "rateLimiter.tokenBucket",
  source: PREAMBLE + REFILL + `
local tokens = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local refill = tonumber(ARGV[4])
local overflow = ARGV[5] == '1'
local h = redis.call('HMGET', KEYS[1], 't', 'r', 'c')
local b, last, charge
if h[1] == false then
  b, last, charge = limit, now, '0'
else
  b, last = refillBucket(tonumber(h[1]), tonumber(h[2]), limit, refill)
  charge = h[3] or '0'
end
local nextTokens = b - tokens
if overflow or nextTokens >= 0 then
  b = nextTokens
  charge = '0'
end
redis.call('HSET', KEYS[1], 't', num(b), 'r', num(last), 'c', charge)
${expireAt("last + (limit - b) * refill")}
return num(nextTokens)
`
}

/**
 * experimental's `fixedWindow`.
 * ARGV: now, tokens, refillMillis, limit (0: none). Returns { count, ttl }.
 */
export const fixedWindowScript: Script = {
  name: "rateLimiter.fixedWindow",
  source: PREAMBLE + WINDOW + `
local tokens = tonumber(ARGV[2])
local refill = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local count, exp, first = readWindow(redis.call('HMGET', KEYS[1], 'n', 'e', 'f'))
if count == nil then
  if limit > 0 and tokens > limit then return { num(tokens), '0' } end
  count, exp, first = 0, now, now
end
if limit > 0 and count + tokens > limit then return { num(count + tokens), num(exp - now) } end
count = count + tokens
exp = exp + refill * tokens
redis.call('HSET', KEYS[1], 'n', num(count), 'e', num(exp), 'f', num(first), 'c', '0', 'd', '0')
${expireAt("exp")}
return { num(count), num(exp - now) }
`
}

/**
 * The atomic `reserve` (see `MemoryCore.reserve`).
 * KEYS: the bucket or counter, the charge counter.
 * ARGV: now, algorithm ("tb"/"fw"), tokens, limit, windowMillis, maxDelayMillis (-1: unbounded),
 * the reservation's id (kept as the key's latest charge `u`, for a cancel: see `refundScript`).
 * Returns { admitted (1/0), delay, retryAfter, remaining, generation, reset } (reset: until the
 * bucket's next token, or until the counter resets).
 */
export const reserveScript: Script = {
  name: "rateLimiter.reserve",
  source: PREAMBLE + REFILL + WINDOW + `
local algorithm = ARGV[2]
local tokens = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local windowMillis = tonumber(ARGV[5])
local maxDelay = tonumber(ARGV[6])
local id = ARGV[7]
local refill = windowMillis / limit
local function tooLong(delay) return maxDelay >= 0 and delay > maxDelay end
if algorithm == 'tb' then
  local h = redis.call('HMGET', KEYS[1], 't', 'r')
  local b, last
  if h[1] == false then
    b, last = limit, now
  else
    b, last = refillBucket(tonumber(h[1]), tonumber(h[2]), limit, refill)
  end
  local delay = 0
  if b < tokens then delay = last + (tokens - b) * refill - now end
  local reset = last + refill - now
  if tooLong(delay) then return { '0', num(delay), num(delay - maxDelay), num(math.max(0, b)), '0', num(reset) } end
  b = b - tokens
  local gen = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], 't', num(b), 'r', num(last), 'c', gen, 'u', id)
  ${expireAt("last + (limit - b) * refill")}
  return { '1', num(delay), '0', num(math.max(0, b)), tostring(gen), num(reset) }
end
local count, exp, first = readWindow(redis.call('HMGET', KEYS[1], 'n', 'e', 'f'))
if count == nil then count, exp, first = 0, now, now end
-- the n-th token of a counter belongs to window floor((n - 1) / limit); a call never straddles two windows
local win = math.floor((count + tokens - 1) / limit)
local newCount = count + tokens
if math.floor(count / limit) < win then newCount = win * limit + tokens end
local delay = math.max(0, first + win * windowMillis - now)
if tooLong(delay) then
  local retry = math.min(exp - now, delay - maxDelay)
  return { '0', num(delay), num(retry), num(math.max(0, limit - count)), '0', num(exp - now) }
end
local charged = newCount - count
exp = exp + refill * charged
local gen = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'n', num(newCount), 'e', num(exp), 'f', num(first), 'c', gen, 'd', num(charged), 'u', id)
${expireAt("exp")}
return { '1', num(delay), '0', num(limit * (win + 1) - newCount), tostring(gen), num(exp - now) }
`
}

/**
 * The atomic `refund` (see `MemoryCore.refund`): gives back the latest charge of a key, when it
 * is the one named: by its generation (`field` "c", a refund), or by its reservation's id (`field`
 * "u", the cancel of a reserve whose caller gave up on it: see the store's `reserve`).
 * ARGV: now, algorithm, tokens, limit, windowMillis, generation or id, field. Returns 1 when refunded.
 */
export const refundScript: Script = {
  name: "rateLimiter.refund",
  source: PREAMBLE + REFILL + `
local algorithm = ARGV[2]
local tokens = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local refill = tonumber(ARGV[5]) / limit
local charge = ARGV[6]
local field = ARGV[7]
if algorithm == 'tb' then
  local h = redis.call('HMGET', KEYS[1], 't', 'r', field)
  if h[1] == false or h[3] ~= charge then return 0 end
  local b, last = refillBucket(tonumber(h[1]), tonumber(h[2]), limit, refill)
  b = math.min(limit, b + tokens)
  redis.call('HSET', KEYS[1], 't', num(b), 'r', num(last), 'c', '0', 'u', '')
  ${expireAt("last + (limit - b) * refill")}
  return 1
end
local h = redis.call('HMGET', KEYS[1], 'n', 'e', field, 'd')
if h[1] == false or h[3] ~= charge or tonumber(h[2]) <= now then return 0 end
local charged = tonumber(h[4])
local exp = tonumber(h[2]) - refill * charged
redis.call('HSET', KEYS[1], 'n', num(tonumber(h[1]) - charged), 'e', num(exp), 'c', '0', 'u', '')
if exp <= now then
  redis.call('DEL', KEYS[1])
else
  ${expireAt("exp")}
end
return 1
`
}

/** @internal */
export const scripts = { tokenBucketScript, fixedWindowScript, reserveScript, refundScript }
