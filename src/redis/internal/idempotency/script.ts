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
 * KEYS: result, lock, handoff, mark. ARGV: op, now, lease id, then per op.
 * - acquire (ARGV[4] lockTtl): { 'C', exit } | { 'F', holder } | { 'A' }
 * - peek: { 'C', exit } (handed off or kept) | { 'F' } (still running) | { 'N' } (ended without a result, or taken over)
 * - renew (ARGV[4] lockTtl): 1 renewed, 2 taken back (it had expired, nobody else held it), 0 lost
 * - complete (ARGV[4] exit, ARGV[5] ttl or -1, ARGV[6] handoff ttl): 1, or 0 when a result was already kept
 * - release: 1 when the lock was ours
 * - invalidate: 1
 *
 * The result and the lock are `expiresAt|rest`. The mark (see `stepBack` in `../lua.ts`) is kept
 * as long as the later of the two, and deleted when neither is left.
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
local function px(ttl) return math.max(minTtl, math.ceil(ttl)) end
-- The result's (1) and the lock's (2) stored expiry and rest. After a step back of Redis's wall
-- clock (the mark, KEYS[4]: see stepBack), each expiry moves back by it: what remained of it remains.
local at, rest = {}, {}
local back = stepBack(KEYS[4])
for i = 1, 2 do
  local v = redis.call('GET', KEYS[i])
  if v then
    at[i], rest[i] = split(v)
    if back > 0 then
      at[i] = at[i] - back
      redis.call('SET', KEYS[i], num(at[i]) .. '|' .. rest[i], 'PX', px(at[i] - now))
    end
  end
end
-- The value of the result (1) or the lock (2) while it lives.
local function live(i)
  if at[i] and at[i] > now then return rest[i] end
  return nil
end
local function set(i, ttl, value)
  at[i], rest[i] = now + ttl, value
  redis.call('SET', KEYS[i], num(at[i]) .. '|' .. value, 'PX', px(ttl))
end
local function del(i)
  at[i] = nil
  redis.call('DEL', KEYS[i])
end
local function handle()
  if op == 'acquire' then
    local r = live(1)
    if r then return { 'C', r } end
    local holder = live(2)
    if holder then return { 'F', holder } end
    set(2, tonumber(ARGV[4]), lease)
    return { 'A' }
  elseif op == 'peek' then
    local h = redis.call('GET', KEYS[3])
    if h then return { 'C', h } end
    local r = live(1)
    if r then return { 'C', r } end
    if live(2) == lease then return { 'F' } end
    return { 'N' }
  elseif op == 'renew' then
    local holder = live(2)
    if holder == lease then
      set(2, tonumber(ARGV[4]), lease)
      return 1
    end
    if holder then return 0 end
    set(2, tonumber(ARGV[4]), lease)
    return 2
  elseif op == 'complete' then
    local kept = 1
    local ttl = tonumber(ARGV[5])
    if ttl >= 0 then
      if live(1) then
        kept = 0
      else
        set(1, ttl, ARGV[4])
      end
    end
    redis.call('SET', KEYS[3], ARGV[4], 'PX', px(tonumber(ARGV[6])))
    if live(2) == lease then del(2) end
    return kept
  elseif op == 'release' then
    if live(2) == lease then
      del(2)
      return 1
    end
    return 0
  elseif op == 'invalidate' then
    del(1)
    return 1
  end
  return redis.error_reply('unknown op ' .. op)
end
local reply = handle()
-- the mark records now while the result or the lock is kept (else the next step back goes unseen)
local untilAt = at[1]
if at[2] and (not untilAt or at[2] > untilAt) then untilAt = at[2] end
mark(KEYS[4], untilAt)
return reply
`
}

/** @internal */
export const scripts = { script }
