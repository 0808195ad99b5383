/**
 * The Lua scripts of the Redis `BulkheadStore`.
 *
 * A partition's leases are one sorted set: members are lease ids, scores
 * their expiry. Every script drops the expired leases first, and keeps the
 * set (PEXPIRE) until its last lease expires, so an abandoned set goes on its
 * own.
 *
 * @internal
 */
import type { Script } from "../../Redis.js"
import { timePrelude } from "../lua.js"

const PREAMBLE = `${timePrelude(1)}local function keep()
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', KEYS[1], math.max(minTtl, math.ceil(tonumber(last[2]) - now))) end
end
`

/**
 * ARGV: now, limit, lease id, ttl. Drops expired leases, admits if there is room.
 * Returns { 1, held } or { 0, held, millis until the oldest lease expires }.
 *
 * @internal
 */
export const acquireScript: Script = {
  name: "bulkhead.acquire",
  source: PREAMBLE + `
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', num(now))
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], num(now + tonumber(ARGV[4])), ARGV[3])
  keep()
  return { 1, n + 1 }
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { 0, n, num(tonumber(first[2]) - now) }
`
}

/**
 * ARGV: now, limit, lease id, ttl. Returns 1 (renewed), 2 (the lease was gone and is
 * taken back: there was room) or 0 (gone, and no room: lost).
 *
 * @internal
 */
export const renewScript: Script = {
  name: "bulkhead.renew",
  source: PREAMBLE + `
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', num(now))
local expiry = num(now + tonumber(ARGV[4]))
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[3])
  keep()
  return 1
end
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], expiry, ARGV[3])
  keep()
  return 2
end
return 0
`
}

/** ARGV: now. Leases not expired. @internal */
export const heldScript: Script = {
  name: "bulkhead.held",
  source: `
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.17g', now), '+inf')
`
}

