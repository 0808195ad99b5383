/**
 * The Redis `RateLimiterStore`: `@effect/experimental`'s interface and the
 * library's atomic extension (`reserve`/`refund`), each one Lua script.
 *
 * The scripts are a line-by-line port of the memory store
 * (`src/internal/rateLimiterStore.ts`, `MemoryCore`), so both stores give the
 * same answers for the same calls at the same times (the tests check this
 * model-based). Every number crosses the Lua boundary as a string formatted
 * with `%.17g` (Lua numbers returned to Redis are truncated to integers, and
 * `tostring` keeps only 14 digits).
 *
 * - Time is Redis `TIME` (`now = -1`) or the caller's `Clock` (passed in).
 * - A token bucket is one hash (`t` tokens, `r` last refill, `c` latest
 *   charge); a fixed-window counter one hash (`n` count, `e` expiry, `f`
 *   start, `c` latest charge, `d` what it added). Each expires (`PEXPIRE`)
 *   when it becomes idle: a refilled bucket, an expired counter — forgetting
 *   it then changes nothing observable, so memory is bounded by the active
 *   keys. With the caller's clock the expiry is at least a minute of Redis
 *   time (that clock need not run at Redis's pace, e.g. `TestClock`).
 * - Charges are numbered by one counter key (`seq`, `INCR`), so a refund
 *   only gives back the latest charge of its key.
 *
 * @internal
 */
import * as RateLimiterExperimental from "@effect/experimental/RateLimiter"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { InvalidOptionsError } from "../../Errors.js"
import * as validate from "../../internal/validate.js"
import type * as RL from "../../RateLimiter.js"
import { AtomicStoreTypeId } from "../../RateLimiter.js"
import { Redis, RedisError, type RedisConnection, type Script } from "../Redis.js"
import type * as RateLimiterStore from "../RateLimiterStore.js"
import { bounded } from "./bounded.js"
import { timePrelude } from "./lua.js"

/** @internal */
export const TypeId: RateLimiterStore.TypeId = Symbol.for(
  "effect-resilience/redis/RateLimiterStore"
) as RateLimiterStore.TypeId

/** @internal */
export const DEFAULT_PREFIX = "rl:"

const storeErrorsCounter = Metric.counter("resilience_redis_store_errors", {
  description: "Failed or timed-out Redis operations of the effect-resilience/redis stores",
  incremental: true
})

const PREAMBLE = timePrelude(1)

const REFILL = `
local function refillBucket(tokens, last, limit, refill)
  local add = math.floor((now - last) / refill)
  if add > 0 then
    tokens = math.min(limit, tokens + add)
    last = last + add * refill
  end
  return tokens, last
end
`

const expireAt = (at: string) => `redis.call('PEXPIRE', KEYS[1], math.max(minTtl, math.ceil(${at} - now)))`

/**
 * experimental's `tokenBucket`.
 * ARGV: now, tokens, limit, refillMillis, allowOverflow (1/0). Returns the tokens left after the take.
 */
const tokenBucketScript: Script = {
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
const fixedWindowScript: Script = {
  name: "rateLimiter.fixedWindow",
  source: PREAMBLE + `
local tokens = tonumber(ARGV[2])
local refill = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'n', 'e', 'f')
local count, exp, first
if h[1] == false or tonumber(h[2]) <= now then
  if limit > 0 and tokens > limit then return { num(tokens), '0' } end
  count, exp, first = 0, now, now
else
  count, exp, first = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
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
 * ARGV: now, algorithm ("tb"/"fw"), tokens, limit, windowMillis, maxDelayMillis (-1: unbounded).
 * Returns { admitted (1/0), delay, retryAfter, remaining, generation }.
 */
const reserveScript: Script = {
  name: "rateLimiter.reserve",
  source: PREAMBLE + REFILL + `
local algorithm = ARGV[2]
local tokens = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local windowMillis = tonumber(ARGV[5])
local maxDelay = tonumber(ARGV[6])
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
  if tooLong(delay) then return { '0', num(delay), num(delay - maxDelay), num(math.max(0, b)), '0' } end
  b = b - tokens
  local gen = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], 't', num(b), 'r', num(last), 'c', gen)
  ${expireAt("last + (limit - b) * refill")}
  return { '1', num(delay), '0', num(math.max(0, b)), tostring(gen) }
end
local h = redis.call('HMGET', KEYS[1], 'n', 'e', 'f')
local count, exp, first
if h[1] == false or tonumber(h[2]) <= now then
  count, exp, first = 0, now, now
else
  count, exp, first = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
end
-- the n-th token of a counter belongs to window floor((n - 1) / limit); a call never straddles two windows
local win = math.floor((count + tokens - 1) / limit)
local newCount = count + tokens
if math.floor(count / limit) < win then newCount = win * limit + tokens end
local delay = math.max(0, first + win * windowMillis - now)
if tooLong(delay) then
  local retry = math.min(exp - now, delay - maxDelay)
  return { '0', num(delay), num(retry), num(math.max(0, limit - count)), '0' }
end
local charged = newCount - count
exp = exp + refill * charged
local gen = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'n', num(newCount), 'e', num(exp), 'f', num(first), 'c', gen, 'd', num(charged))
${expireAt("exp")}
return { '1', num(delay), '0', num(limit * (win + 1) - newCount), tostring(gen) }
`
}

/**
 * The atomic `refund` (see `MemoryCore.refund`): gives back the latest charge of a key.
 * ARGV: now, algorithm, tokens, limit, windowMillis, generation. Returns 1 when refunded.
 */
const refundScript: Script = {
  name: "rateLimiter.refund",
  source: PREAMBLE + REFILL + `
local algorithm = ARGV[2]
local tokens = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local refill = tonumber(ARGV[5]) / limit
local gen = ARGV[6]
if algorithm == 'tb' then
  local h = redis.call('HMGET', KEYS[1], 't', 'r', 'c')
  if h[1] == false or h[3] ~= gen then return 0 end
  local b, last = refillBucket(tonumber(h[1]), tonumber(h[2]), limit, refill)
  b = math.min(limit, b + tokens)
  redis.call('HSET', KEYS[1], 't', num(b), 'r', num(last), 'c', '0')
  ${expireAt("last + (limit - b) * refill")}
  return 1
end
local h = redis.call('HMGET', KEYS[1], 'n', 'e', 'c', 'd')
if h[1] == false or h[3] ~= gen or tonumber(h[2]) <= now then return 0 end
local charged = tonumber(h[4])
local exp = tonumber(h[2]) - refill * charged
redis.call('HSET', KEYS[1], 'n', num(tonumber(h[1]) - charged), 'e', num(exp), 'c', '0')
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

/** @internal */
export interface Resolved {
  readonly prefix: string
  readonly clock: "redis" | "caller"
  readonly timeout: Duration.Duration | undefined
}

/** @internal */
export const resolve = (options: RateLimiterStore.Options | undefined): Resolved => {
  const m = "RateLimiterStore.make"
  options = validate.options(m, options)
  return {
    prefix: options.prefix === undefined ? DEFAULT_PREFIX : validate.nonEmptyString(m, "prefix", options.prefix),
    clock: options.clock === undefined ? "redis" : validate.oneOf(m, "clock", options.clock, ["redis", "caller"]),
    timeout: validate.optionalDuration(m, "timeout", options.timeout)
  }
}

const toNumber = (u: unknown): number => typeof u === "number" ? u : Number(u)

/** @internal */
export const makeWith = (redis: RedisConnection, cfg: Resolved): RateLimiterStore.RedisRateLimiterStore => {
  const base = `${redis.prefix}${cfg.prefix}`
  const bucketKey = (key: string) => `${base}tb:${key}`
  const counterKey = (key: string) => `${base}fw:${key}`
  const seqKey = `${base}seq`
  const storeErrorMetric = Metric.increment(
    Metric.tagged(Metric.tagged(storeErrorsCounter, "store", "rate-limiter"), "prefix", cfg.prefix)
  )
  let storeErrors = 0

  const now: Effect.Effect<number> = cfg.clock === "redis"
    ? Effect.succeed(-1)
    : Effect.clockWith((clock) => Effect.sync(() => clock.unsafeCurrentTimeMillis()))

  // bounded by the store's own timeout wherever it is called from (uninterruptible regions included)
  const timed = <A>(operation: string, effect: Effect.Effect<A, RedisError>): Effect.Effect<A, RedisError> =>
    bounded(operation, cfg.timeout, effect)

  const run = (
    script: Script,
    keys: ReadonlyArray<string>,
    args: (now: number) => ReadonlyArray<string | number>
  ): Effect.Effect<unknown, RateLimiterExperimental.RateLimitStoreError> =>
    Effect.flatMap(now, (t) => timed(`EVALSHA ${script.name}`, redis.eval(script, keys, args(t)))).pipe(
      Effect.catchAll((cause) => {
        storeErrors++
        return Effect.zipRight(
          storeErrorMetric,
          Effect.fail(
            new RateLimiterExperimental.RateLimitStoreError({ message: `Redis rate limiter store: ${cause.message}`, cause })
          )
        )
      })
    )

  const reserve = (r: RL.ReserveRequest): Effect.Effect<RL.Reservation, RateLimiterExperimental.RateLimiterError> =>
    Effect.map(
      run(
        reserveScript,
        [r.algorithm === "token-bucket" ? bucketKey(r.key) : counterKey(r.key), seqKey],
        (t) => [
          t,
          r.algorithm === "token-bucket" ? "tb" : "fw",
          r.tokens,
          r.limit,
          r.windowMillis,
          Number.isFinite(r.maxDelayMillis) ? r.maxDelayMillis : -1
        ]
      ),
      (reply): RL.Reservation => {
        const [ok, delay, retryAfter, remaining, generation] = reply as ReadonlyArray<string>
        return ok === "1"
          ? {
            admitted: true,
            delayMillis: toNumber(delay),
            retryAfterMillis: 0,
            remaining: toNumber(remaining),
            generation: toNumber(generation)
          }
          : {
            admitted: false,
            delayMillis: toNumber(delay),
            retryAfterMillis: Math.max(0, toNumber(retryAfter)),
            remaining: toNumber(remaining)
          }
      }
    )

  const refund = (
    r: RL.ReserveRequest,
    reservation: RL.Reservation
  ): Effect.Effect<void, RateLimiterExperimental.RateLimiterError> => {
    if (!reservation.admitted || reservation.generation === undefined) return Effect.void
    return Effect.asVoid(
      run(
        refundScript,
        [r.algorithm === "token-bucket" ? bucketKey(r.key) : counterKey(r.key)],
        (t) => [t, r.algorithm === "token-bucket" ? "tb" : "fw", r.tokens, r.limit, r.windowMillis, String(reservation.generation)]
      )
    )
  }

  return {
    [TypeId]: TypeId,
    clock: cfg.clock,
    tokenBucket: (options) =>
      Effect.map(
        run(tokenBucketScript, [bucketKey(options.key)], (t) => [
          t,
          options.tokens,
          options.limit,
          Duration.toMillis(options.refillRate),
          options.allowOverflow ? 1 : 0
        ]),
        toNumber
      ),
    fixedWindow: (options) =>
      Effect.map(
        run(fixedWindowScript, [counterKey(options.key)], (t) => [
          t,
          options.tokens,
          Duration.toMillis(options.refillRate),
          options.limit ?? 0
        ]),
        (reply) => {
          const [count, ttl] = reply as ReadonlyArray<string>
          return [toNumber(count), toNumber(ttl)] as const
        }
      ),
    [AtomicStoreTypeId]: { reserve, refund },
    stats: () => ({ storeErrors })
  }
}

/** @internal */
export const make = (
  options?: RateLimiterStore.Options
): Effect.Effect<RateLimiterStore.RedisRateLimiterStore, InvalidOptionsError, Redis> =>
  Effect.flatMap(validate.validated(() => resolve(options)), (cfg) => Effect.map(Redis, (redis) => makeWith(redis, cfg)))
