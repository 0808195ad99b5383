/**
 * Lua shared by the Redis stores' scripts.
 *
 * @internal
 */

/**
 * The start of a store script: `num(x)` (a number as Redis keeps it), `now`
 * from `ARGV[nowArg]` — the caller's clock (`clock: "caller"`, for tests) or,
 * when negative, Redis `TIME` — and `minTtl`: with the caller's clock, keys
 * are kept at least a minute of Redis time (that clock may not run at Redis's
 * pace).
 *
 * Redis `TIME` is a wall clock: it can step back (an NTP step, a VM resume). Evidence of a step:
 *
 * - `ahead(at, length)`: how far a stored instant `at` lies beyond `now + length` (0 when it does
 *   not). The rate limiter and the stale store ask it with length 0 about instants that were `now`
 *   when written (a refill, a window's start, an entry's storedAt): one after `now` is a step.
 * - `stepBack(markKey)` and `mark(markKey, untilAt)`: a key group's high-water mark, the latest
 *   `now` a script recorded for it. `stepBack` returns how far `now` is behind it (0: no step, or
 *   the caller's clock, whose replicas may simply disagree); the script then moves the group's
 *   stored instants back by that much (what remained of each remains) and must call `mark`, which
 *   records `now` until `untilAt` (the group's last stored expiry: it lives as long as the group),
 *   or deletes the mark when nothing is left (`untilAt` nil or past). No configured length is
 *   involved, so replicas running different lengths never disturb each other. Replicas without
 *   this code do not write the mark; what they write after a step, before a replica with it runs,
 *   is moved back with the rest.
 *
 * @internal
 */
export const timePrelude = (nowArg: number): string => `
local function num(x) return string.format('%.17g', x) end
local now = tonumber(ARGV[${nowArg}])
local minTtl = 60000
local redisTime = now < 0
if redisTime then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
  minTtl = 1
end
local function ahead(at, length) return math.max(0, at - now - length) end
-- A now behind a group's mark (the latest now recorded for it) is evidence of a step back of Redis's
-- wall clock, by the difference. Not with the caller's clock: replicas' clocks may simply disagree.
local function stepBack(markKey)
  if not redisTime then return 0 end
  local seen = tonumber(redis.call('GET', markKey))
  if seen and seen > now then return seen - now end
  return 0
end
local function mark(markKey, untilAt)
  if not redisTime then return end
  if untilAt and untilAt > now then
    redis.call('SET', markKey, num(now), 'PX', math.ceil(untilAt - now))
  else
    redis.call('DEL', markKey)
  end
end
`
