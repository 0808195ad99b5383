/**
 * The Redis `IdempotencyStore` (see the public module for the semantics).
 *
 * Keys, after `<connection prefix><prefix>` (default `idem:`), for a store
 * key `k` (the policy's `<name.length>:<name>:<key>`, see `Keys.namespaced`):
 * - `r:k` — the kept `Exit`: `"<expiresAt>|<encoded Exit JSON>"`, `PX` ttl;
 * - `l:k` — the lock of the execution in flight: `"<expiresAt>|<lease id>"`,
 *   `PX` lockTtl, renewed every third of it by a fiber in the acquisition's
 *   scope;
 * - `h:k:<lease id>` — the `Exit` handed to the waiters of that execution
 *   (also when it is not kept), for a short while.
 *
 * Expiries are also written in the values, so that with the caller's clock
 * (`TestClock`) a lock or result expires by that clock; the `PX` is then only
 * garbage collection (at least a minute of Redis time).
 *
 * One Lua script serves every operation (`ARGV[1]` names it): a release or a
 * completion sent while Redis is paused then never finds the script missing
 * from Redis's cache once the acquire has run.
 *
 * Waiting callers of one replica share one poller per execution (a fiber in
 * the store's scope, polling with a growing backoff); an execution run by the
 * same replica hands its `Exit` to them directly.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import type { InvalidOptionsError } from "../../Errors.js"
import type * as I from "../../Idempotency.js"
import { IdempotencyError } from "../../Idempotency.js"
import * as validate from "../../internal/validate.js"
import type * as IdempotencyStore from "../IdempotencyStore.js"
import { Redis, RedisError, type RedisConnection, type Script } from "../Redis.js"
import { sleep } from "../../internal/time.js"
import { bounded } from "./bounded.js"
import { timePrelude } from "./lua.js"

/** @internal */
export const TypeId: IdempotencyStore.TypeId = Symbol.for(
  "effect-resilience/redis/IdempotencyStore"
) as IdempotencyStore.TypeId

/** @internal */
export const DEFAULT_PREFIX = "idem:"
/** @internal */
export const DEFAULT_LOCK_TTL = Duration.seconds(30)
/** @internal */
export const DEFAULT_POLL_INTERVAL = Duration.millis(100)
/** The first pause of a polling waiter, doubled up to `pollInterval`. */
const MIN_POLL_MILLIS = 5
/** How long a handed-off `Exit` stays readable at least. */
const MIN_HANDOFF_MILLIS = 5_000

const storeErrorsCounter = Metric.counter("resilience_redis_store_errors", {
  description: "Failed or timed-out Redis operations of the effect-resilience/redis stores",
  incremental: true
})

/**
 * KEYS: result, lock, handoff. ARGV: op, now, lease id, then per op.
 * - acquire (ARGV[4] lockTtl): { 'C', exit } | { 'F', holder } | { 'A' }
 * - peek: { 'C', exit } (handed off or kept) | { 'F' } (still running) | { 'N' } (ended without a result, or taken over)
 * - renew (ARGV[4] lockTtl): 1 renewed, 2 taken back (it had expired, nobody else held it), 0 lost
 * - complete (ARGV[4] exit, ARGV[5] ttl or -1, ARGV[6] handoff ttl): 1, or 0 when a result was already kept
 * - release: 1 when the lock was ours
 * - invalidate: 1
 */
const script: Script = {
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

// --- options ---------------------------------------------------------------------

interface Resolved {
  readonly lockTtl: Duration.Duration
  readonly pollInterval: Duration.Duration
  readonly onStoreError: "allow" | "fail"
  readonly clock: "redis" | "caller"
  readonly timeout: Duration.Duration | undefined
  readonly prefix: string
  readonly maxValueBytes: number
}

/** The default `maxValueBytes`: 1 MiB. @internal */
export const DEFAULT_MAX_VALUE_BYTES = 1_048_576

const resolve = (options: IdempotencyStore.Options | undefined): Resolved => {
  const m = "IdempotencyStore.make"
  options = validate.options(m, options)
  return {
    lockTtl: validate.optionalDuration(m, "lockTtl", options.lockTtl) ?? DEFAULT_LOCK_TTL,
    pollInterval: validate.optionalDuration(m, "pollInterval", options.pollInterval) ?? DEFAULT_POLL_INTERVAL,
    onStoreError: options.onStoreError === undefined
      ? "fail"
      : validate.oneOf(m, "onStoreError", options.onStoreError, ["allow", "fail"]),
    clock: options.clock === undefined ? "redis" : validate.oneOf(m, "clock", options.clock, ["redis", "caller"]),
    timeout: validate.optionalDuration(m, "timeout", options.timeout),
    prefix: options.prefix === undefined ? DEFAULT_PREFIX : validate.nonEmptyString(m, "prefix", options.prefix),
    maxValueBytes: validate.optionalNumber(m, "maxValueBytes", options.maxValueBytes, { integer: true, min: 1 }) ??
      DEFAULT_MAX_VALUE_BYTES
  }
}

// --- the store -----------------------------------------------------------------------

type AnyExit = Exit.Exit<unknown, unknown>
type Codec = I.AcquireOptions["codec"]
type Operation = "acquire" | "peek" | "renew" | "complete" | "release" | "invalidate"

/** The waiters of one execution on this replica. */
interface Watch {
  readonly deferred: Deferred.Deferred<Option.Option<AnyExit>, IdempotencyError>
  /** Callers awaiting it. */
  refs: number
  /** The poller (none when this replica runs the execution). */
  poller: Fiber.RuntimeFiber<void> | undefined
}

/** @internal */
export const make = (
  options?: IdempotencyStore.Options
): Effect.Effect<IdempotencyStore.RedisIdempotencyStore, InvalidOptionsError, Redis | Scope.Scope> =>
  Effect.flatMap(validate.validated(() => resolve(options)), (cfg) =>
    Effect.flatMap(Redis, (redis) => Effect.map(Effect.scope, (scope) => build(cfg, redis, scope))))

const build = (
  cfg: Resolved,
  redis: RedisConnection,
  storeScope: Scope.Scope
): IdempotencyStore.RedisIdempotencyStore => {
  const base = `${redis.prefix}${cfg.prefix}`
  const lockTtlMillis = Duration.toMillis(cfg.lockTtl)
  const renewEvery = Duration.millis(Math.max(1, lockTtlMillis / 3))
  const maxPollMillis = Duration.toMillis(cfg.pollInterval)
  const handoffMillis = Math.max(MIN_HANDOFF_MILLIS, 10 * maxPollMillis)
  const replicaId = randomUUID()
  let leaseCounter = 0
  const allowOnError = cfg.onStoreError === "allow"

  let storeErrors = 0
  let allowed = 0
  let locksLost = 0
  const errorMetrics = Metric.tagged(Metric.tagged(storeErrorsCounter, "store", "idempotency"), "prefix", cfg.prefix)
  const errorMetric = (operation: Operation) => Metric.increment(Metric.tagged(errorMetrics, "operation", operation))

  const watches = new Map<string, Watch>()

  const now: Effect.Effect<number> = cfg.clock === "redis"
    ? Effect.succeed(-1)
    : Effect.clockWith((clock) => Effect.sync(() => clock.unsafeCurrentTimeMillis()))

  // bounded by the store's own timeout wherever it is called from (uninterruptible regions included)
  const timed = <A>(operation: string, effect: Effect.Effect<A, RedisError>): Effect.Effect<A, RedisError> =>
    bounded(operation, cfg.timeout, effect)

  /** Runs one operation of the script; failures are counted and become `IdempotencyError`s. */
  const run = (
    operation: Operation,
    key: string,
    lease: string,
    args: ReadonlyArray<string | number> = []
  ): Effect.Effect<unknown, IdempotencyError> =>
    Effect.flatMap(now, (t) =>
      timed(
        `EVALSHA idempotency.${operation}`,
        redis.eval(script, [`${base}r:${key}`, `${base}l:${key}`, `${base}h:${key}:${lease}`], [operation, t, lease, ...args])
      )).pipe(
        Effect.catchAll((cause) => {
          storeErrors++
          return Effect.zipRight(errorMetric(operation), Effect.fail(new IdempotencyError({ key, reason: "StoreError", cause })))
        })
      )

  const encode = (key: string, codec: Codec, exit: AnyExit): Effect.Effect<string, IdempotencyError> =>
    codec === undefined
      ? Effect.fail(new IdempotencyError({ key, reason: "EncodeError", cause: new Error("no success/failure Schemas") }))
      : Effect.flatMap(
        Effect.mapError(Schema.encode(codec)(exit), (cause) => new IdempotencyError({ key, reason: "EncodeError", cause })),
        (encoded) => {
          const payload = JSON.stringify(encoded)
          // bounded in bytes: a larger Exit is not stored (the completion fails, which the policy reports)
          const bytes = Buffer.byteLength(payload, "utf8")
          return bytes > cfg.maxValueBytes
            ? Effect.fail(
              new IdempotencyError({
                key,
                reason: "EncodeError",
                cause: new Error(`the encoded Exit takes ${bytes} bytes, more than maxValueBytes (${cfg.maxValueBytes})`)
              })
            )
            : Effect.succeed(payload)
        }
      )

  const decode = (key: string, codec: Codec, payload: string): Effect.Effect<AnyExit, IdempotencyError> =>
    Effect.suspend(() => {
      if (codec === undefined) {
        return Effect.fail(new IdempotencyError({ key, reason: "DecodeError", cause: new Error("no success/failure Schemas") }))
      }
      let json: unknown
      try {
        json = JSON.parse(payload)
      } catch (cause) {
        return Effect.fail(new IdempotencyError({ key, reason: "DecodeError", cause }))
      }
      return Effect.mapError(
        Schema.decodeUnknown(codec)(json),
        (cause) => new IdempotencyError({ key, reason: "DecodeError", cause })
      )
    })

  // --- waiting -------------------------------------------------------------------------

  const settle = (id: string, watch: Watch, result: Effect.Effect<Option.Option<AnyExit>, IdempotencyError>) => {
    if (watches.get(id) === watch) watches.delete(id)
    Deferred.unsafeDone(watch.deferred, result)
  }

  /** Polls the execution `lease` of `key` until it ends; settles the watch. */
  const pollLoop = (id: string, watch: Watch, key: string, lease: string, codec: Codec): Effect.Effect<void> => {
    const loop = (backoff: number): Effect.Effect<void> =>
      Effect.matchEffect(run("peek", key, lease), {
        onFailure: (error) => {
          // "allow": stop waiting, the caller acquires again (and runs the effect if Redis still fails)
          settle(id, watch, allowOnError ? Effect.succeed(Option.none()) : Effect.fail(error))
          return Effect.void
        },
        onSuccess: (reply) => {
          const [tag, payload] = reply as [string, string | undefined]
          if (tag === "C") {
            return Effect.map(Effect.either(decode(key, codec, payload!)), (exit) => {
              settle(id, watch, exit._tag === "Right" ? Effect.succeed(Option.some(exit.right)) : Effect.fail(exit.left))
            })
          }
          if (tag === "N") {
            settle(id, watch, Effect.succeed(Option.none()))
            return Effect.void
          }
          return Effect.flatMap(Random.nextRange(0.5, 1), (jitter) =>
            Effect.zipRight(
              sleep(Duration.millis(Math.max(1, backoff * jitter))),
              loop(Math.min(maxPollMillis, backoff * 2))
            ))
        }
      })
    return loop(Math.min(MIN_POLL_MILLIS, maxPollMillis))
  }

  /** Awaits the execution `lease` of `key`: with the replica's other waiters, one poller for all. */
  const awaitExecution = (
    key: string,
    lease: string,
    codec: Codec
  ): Effect.Effect<Option.Option<AnyExit>, IdempotencyError> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        const id = `${key}\u0000${lease}`
        let watch = watches.get(id)
        const start = watch !== undefined ? Effect.void : Effect.suspend(() => {
          const created: Watch = {
            deferred: Deferred.unsafeMake(FiberId.none),
            refs: 0,
            poller: undefined
          }
          watch = created
          watches.set(id, created)
          return Effect.map(
            Effect.forkIn(Effect.interruptible(pollLoop(id, created, key, lease, codec)), storeScope),
            (fiber) => {
              created.poller = fiber
            }
          )
        })
        return Effect.zipRight(
          start,
          Effect.suspend(() => {
            const w = watch!
            w.refs++
            return Effect.ensuring(
              restore(Deferred.await(w.deferred)),
              Effect.suspend(() => {
                w.refs--
                // the last waiter left: stop polling for nobody
                if (w.refs === 0 && w.poller !== undefined && watches.get(id) === w) {
                  watches.delete(id)
                  return Fiber.interruptFork(w.poller)
                }
                return Effect.void
              })
            )
          })
        )
      })
    )

  // --- acquiring ---------------------------------------------------------------------------

  /** Redis failed while acquiring and the store fails open: the caller runs the effect unprotected. */
  const unprotected: I.Acquisition = { _tag: "Acquired", complete: () => Effect.void }

  const acquired = (key: string, lease: string, codec: Codec): Effect.Effect<I.Acquisition, never, Scope.Scope> => {
    // local waiters of this execution are handed its Exit directly
    const id = `${key}\u0000${lease}`
    const watch: Watch = { deferred: Deferred.unsafeMake(FiberId.none), refs: 0, poller: undefined }
    watches.set(id, watch)
    let done = false
    const renew = Effect.matchEffect(run("renew", key, lease, [lockTtlMillis]), {
      onFailure: () => Effect.void, // counted; the next renewal tries again, the lock expires if they all fail
      onSuccess: (reply) => {
        if (reply === 0) locksLost++
        return Effect.void
      }
    })
    const complete = (exit: AnyExit, ttl: Duration.Duration | undefined): Effect.Effect<void, IdempotencyError> =>
      Effect.suspend(() => {
        if (done) return Effect.void
        done = true
        settle(id, watch, Effect.succeed(Option.some(exit)))
        return Effect.matchEffect(encode(key, codec, exit), {
          // nothing can be stored or handed off: free the lock at once (waiters elsewhere take over
          // now rather than after lockTtl); the failure is reported by the policy
          onFailure: (error) => Effect.zipRight(Effect.ignore(run("release", key, lease)), Effect.fail(error)),
          onSuccess: (payload) =>
            Effect.asVoid(
              run("complete", key, lease, [payload, ttl === undefined ? -1 : Duration.toMillis(ttl), handoffMillis])
            )
        })
      })
    const release = Effect.suspend(() => {
      if (done) return Effect.void
      done = true
      settle(id, watch, Effect.succeed(Option.none()))
      // counted on failure; the lock then expires after lockTtl
      return Effect.ignore(run("release", key, lease))
    })
    const acquisition: I.Acquisition = { _tag: "Acquired", complete }
    return Effect.zipRight(
      Effect.addFinalizer(() => release),
      // added after the release, so it stops first when the scope closes
      Effect.as(Effect.forkScoped(Effect.interruptible(Effect.forever(Effect.zipRight(sleep(renewEvery), renew)))), acquisition)
    )
  }

  const acquire = (key: string, options: I.AcquireOptions): Effect.Effect<I.Acquisition, IdempotencyError, Scope.Scope> => {
    const lease = `${replicaId}:${++leaseCounter}`
    const codec = options.codec
    return Effect.uninterruptible(Effect.matchEffect(run("acquire", key, lease, [lockTtlMillis]), {
      onFailure: (error) => {
        // the script may still run later (sent before a timeout): release what it would take
        const cleanup = Effect.forkIn(Effect.ignore(run("release", key, lease)), storeScope)
        if (!allowOnError) return Effect.zipRight(cleanup, Effect.fail(error))
        allowed++
        return Effect.as(cleanup, unprotected)
      },
      onSuccess: (reply): Effect.Effect<I.Acquisition, IdempotencyError, Scope.Scope> => {
        const [tag, payload] = reply as [string, string | undefined]
        if (tag === "C") return Effect.map(decode(key, codec, payload!), (exit) => ({ _tag: "Completed", exit }))
        if (tag === "F") return Effect.succeed({ _tag: "InFlight", await: awaitExecution(key, payload!, codec) })
        return acquired(key, lease, codec)
      }
    }))
  }

  return {
    [TypeId]: TypeId,
    persistent: true,
    acquire,
    invalidate: (key) => Effect.asVoid(run("invalidate", key, "-")),
    stats: () => ({ storeErrors, allowedWithoutLock: allowed, locksLost, waiting: watches.size })
  }
}
