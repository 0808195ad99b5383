/**
 * The Lua script of the Redis idempotency store: one script serves every
 * operation, so a release or a completion sent while Redis is paused never
 * finds the script missing from Redis's cache once the acquire has run.
 *
 * @internal
 */
import type { Script } from "../../Redis.js"
import { timePrelude } from "../lua.js"

/**
 * The one script of the store (`ARGV[1]` names the operation).
 *
 * KEYS: result, lock, handoff. ARGV: op, now, lease id, then per op.
 * - acquire (ARGV[4] lockTtl): { 'C', exit } | { 'F', holder } | { 'A' }
 * - peek: { 'C', exit } (handed off or kept) | { 'F' } (still running) | { 'N' } (ended without a result, or taken over)
 * - renew (ARGV[4] lockTtl): 1 renewed, 2 taken back (it had expired, nobody else held it), 0 lost
 * - complete (ARGV[4] exit, ARGV[5] ttl or -1, ARGV[6] handoff ttl): 1, or 0 when a result was already kept
 * - release: 1 when the lock was ours
 * - invalidate: 1
 *
 * @internal
 */
export const script: Script = {
  name: "idempotency",
  source: `
${timePrelude(2)}local op = ARGV[1]
local lease = ARGV[3]
local function split(v)
  local sep = string.find(v, '|', 1, true)
  return tonumber(string.sub(v, 1, sep - 1)), string.sub(v, sep + 1)
end
local function live(key)
  local v = redis.call('GET', key)
  if not v then return nil end
  local expiresAt, rest = split(v)
  if expiresAt > now then return rest end
  return nil
end
local function px(ttl) return math.max(minTtl, math.ceil(ttl)) end
local function lock(ttl)
  redis.call('SET', KEYS[2], num(now + ttl) .. '|' .. lease, 'PX', px(ttl))
end
if op == 'acquire' then
  local r = live(KEYS[1])
  if r then return { 'C', r } end
  local holder = live(KEYS[2])
  if holder then return { 'F', holder } end
  lock(tonumber(ARGV[4]))
  return { 'A' }
elseif op == 'peek' then
  local h = redis.call('GET', KEYS[3])
  if h then return { 'C', h } end
  local r = live(KEYS[1])
  if r then return { 'C', r } end
  if live(KEYS[2]) == lease then return { 'F' } end
  return { 'N' }
elseif op == 'renew' then
  local holder = live(KEYS[2])
  if holder == lease then
    lock(tonumber(ARGV[4]))
    return 1
  end
  if holder then return 0 end
  lock(tonumber(ARGV[4]))
  return 2
elseif op == 'complete' then
  local kept = 1
  local ttl = tonumber(ARGV[5])
  if ttl >= 0 then
    if live(KEYS[1]) then
      kept = 0
    else
      redis.call('SET', KEYS[1], num(now + ttl) .. '|' .. ARGV[4], 'PX', px(ttl))
    end
  end
  redis.call('SET', KEYS[3], ARGV[4], 'PX', px(tonumber(ARGV[6])))
  if live(KEYS[2]) == lease then redis.call('DEL', KEYS[2]) end
  return kept
elseif op == 'release' then
  if live(KEYS[2]) == lease then
    redis.call('DEL', KEYS[2])
    return 1
  end
  return 0
elseif op == 'invalidate' then
  redis.call('DEL', KEYS[1])
  return 1
end
return redis.error_reply('unknown op ' .. op)
`
}

/** @internal */
export const scripts = { script }
