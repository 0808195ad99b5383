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
 * @internal
 */
export const timePrelude = (nowArg: number): string => `
local function num(x) return string.format('%.17g', x) end
local now = tonumber(ARGV[${nowArg}])
local minTtl = 60000
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
  minTtl = 1
end
`
