/**
 * The Lua scripts of the Redis `BulkheadStore`.
 *
 * A partition's leases are one sorted set: members are lease ids, scores
 * their expiry. Every script drops the expired leases first, and keeps the
 * set (PEXPIRE) until its last lease expires, so an abandoned set goes on its
 * own. KEYS[2] is the partition's mark (see `stepBack` in `../lua.ts`): kept
 * as long as the set's last lease (deleted when none is left).
 *
 * @internal
 */
import type { Script } from "../../Redis.js"
import { timePrelude } from "../lua.js"

const PREAMBLE = `${timePrelude(1)}
-- The latest lease expiry (nil: none). After a step back of Redis's wall clock (KEYS[2], the mark:
-- see stepBack), every expiry first moves back by it, so each lease keeps what remained of it.
local function latest()
  local back = stepBack(KEYS[2])
  if back > 0 then
    local leases = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
    for i = 1, #leases, 2 do
      redis.call('ZADD', KEYS[1], 'XX', num(tonumber(leases[i + 1]) - back), leases[i])
    end
  end
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  return last[2] and tonumber(last[2])
end
-- keeps the set, and its mark, until its last lease expires (last: the latest expiry read, at: the one just written)
local function keep(last, at)
  if last and last > at then at = last end
  redis.call('PEXPIRE', KEYS[1], math.max(minTtl, math.ceil(at - now)))
  mark(KEYS[2], at)
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
local ttl = tonumber(ARGV[4])
local last = latest()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', num(now))
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], num(now + ttl), ARGV[3])
  keep(last, now + ttl)
  return { 1, n + 1 }
end
mark(KEYS[2], last)
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
local ttl = tonumber(ARGV[4])
local last = latest()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', num(now))
local expiry = num(now + ttl)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[3])
  keep(last, now + ttl)
  return 1
end
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], expiry, ARGV[3])
  keep(last, now + ttl)
  return 2
end
mark(KEYS[2], last)
return 0
`
}

/** ARGV: now. Leases not expired (moved back first after a step back, as above). @internal */
export const heldScript: Script = {
  name: "bulkhead.held",
  source: PREAMBLE + `
mark(KEYS[2], latest())
return redis.call('ZCOUNT', KEYS[1], '(' .. num(now), '+inf')
`
}
