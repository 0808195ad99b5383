/**
 * The distributed bulkhead (see the public module for the semantics).
 *
 * Per key, on each replica, a partition holds:
 * - `local`: a herd-free FIFO semaphore of `localMaxConcurrent` permits —
 *   a call holds one from admission until its lease is released;
 * - `turn`: a FIFO semaphore of one permit — callers that hold a local
 *   permit but found Redis full queue on it, so only its holder polls Redis
 *   (with backoff, woken early by a local release).
 *
 * A call: takes a local permit (or queues for one); if nobody of its
 * partition is polling, tries the acquire script once; if Redis is full, it
 * queues on `turn` and polls. `maxWait` bounds the whole wait. Leases are
 * renewed by a fiber forked in the bulkhead's scope and interrupted when the
 * call ends; the release script runs uninterruptibly after it.
 *
 * Redis keys: one sorted set per key, `<prefix>bulkhead:<name.length>:<name>:<key>`
 * (the default partition: `<prefix>bulkhead:<name.length>:<name>`; see
 * `Keys.namespaced`: no two (name, key) pairs, keyed or not, share a set),
 * members are lease ids (`<replica id>:<n>`), scores their expiry. The set
 * expires (PEXPIRE) with its last lease. Keys are validated first (a
 * well-formed string of at most `maxKeyLength` code units, else
 * `InvalidKeyError`): a Redis key takes at most the prefixes + the name +
 * 3 × `maxKeyLength` bytes.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import {
  BulkheadFullError,
  type BulkheadRejectionReason,
  type InvalidKeyError,
  type InvalidOptionsError,
  RejectionTypeId,
  ResilienceErrorTypeId,
  type TimeoutError
} from "../../Errors.js"
import { withoutStack } from "../../internal/errors.js"
import * as EventHub from "../../internal/events.js"
import * as Keys from "../../internal/keys.js"
import { FifoSemaphore, Waiter } from "../../internal/semaphore.js"
import * as validate from "../../internal/validate.js"
import { unsafeMakeCallable } from "../../internal/policy.js"
import type * as B from "../Bulkhead.js"
import { Redis, RedisError, type RedisConnection, type Script } from "../Redis.js"
import { active as activeDeadline, currentDeadline } from "../../internal/deadline.js"
import { monotonicMillis, sleep, sleepOn, timeoutOption } from "../../internal/time.js"
import { bounded } from "./bounded.js"

// The error is defined here (re-exported by `redis/Bulkhead.ts`) so that the
// internal code builds it without importing its public module at run time.

/**
 * Redis failed (or timed out) while a distributed bulkhead admitted a call,
 * and the bulkhead fails closed (`onStoreError: "fail"`): the call was not
 * run. A rejection (`Errors.isRejection`): breakers never count it as a
 * failure of the dependency, and `Retry` does not retry it.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience/redis"
 *
 * const e = Bulkhead.BulkheadStoreError.make({ name: "payments", operation: "acquire", cause: new Error("ECONNREFUSED") })
 * e.message // "Bulkhead payments: Redis failed (acquire): ECONNREFUSED"
 * ```
 *
 * @since 0.1.0
 * @category Errors
 */
export class BulkheadStoreError extends Data.TaggedError("BulkheadStoreError")<{
  readonly name: string
  readonly key?: string | undefined
  /** `"acquire"`. */
  readonly operation: string
  readonly cause: unknown
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  readonly [RejectionTypeId]: RejectionTypeId = RejectionTypeId
  /** Creates the error without a stack trace. */
  static make(args: ConstructorParameters<typeof BulkheadStoreError>[0]): BulkheadStoreError {
    return withoutStack(() => new BulkheadStoreError(args))
  }
  override get message(): string {
    const where = this.key === undefined ? this.name : `${this.name}[${this.key}]`
    const cause = Predicate.hasProperty(this.cause, "message") ? String(this.cause.message) : String(this.cause)
    return `Bulkhead ${where}: Redis failed (${this.operation}): ${cause}`
  }
}
import { timePrelude } from "./lua.js"

/** @internal */
export const DEFAULT_NAME = "bulkhead"
/** @internal */
export const DEFAULT_PREFIX = "bulkhead:"
/** @internal */
export const DEFAULT_LEASE_TTL = Duration.seconds(10)
/** @internal */
export const DEFAULT_POLL_INTERVAL = Duration.millis(100)
const DEFAULT_METRICS_INTERVAL = Duration.seconds(1)
/** The first pause of a polling caller, doubled up to `pollInterval`. */
const MIN_POLL_MILLIS = 5

const storeErrorsCounter = Metric.counter("resilience_redis_store_errors", {
  description: "Failed or timed-out Redis operations of the effect-resilience/redis stores",
  incremental: true
})
const rejectionsCounter = Metric.counter("resilience_bulkhead_rejections", {
  description: "Calls rejected by a bulkhead",
  incremental: true
})
const leasesLostCounter = Metric.counter("resilience_bulkhead_leases_lost", {
  description: "Leases of a distributed bulkhead found gone while their call ran (expired or lost by Redis)",
  incremental: true
})
const allowedCounter = Metric.counter("resilience_bulkhead_allowed_without_lease", {
  description: "Calls a distributed bulkhead ran without a lease because Redis failed (onStoreError: allow)",
  incremental: true
})
const activeGauge = Metric.gauge("resilience_bulkhead_active", {
  description: "Calls holding a permit of a bulkhead (all partitions), polled"
})
const queuedGauge = Metric.gauge("resilience_bulkhead_queued", {
  description: "Callers waiting for a permit of a bulkhead (all partitions), polled"
})

// --- scripts ---------------------------------------------------------------------

const PREAMBLE = `${timePrelude(1)}local function keep()
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', KEYS[1], math.max(minTtl, math.ceil(tonumber(last[2]) - now))) end
end
`

/**
 * ARGV: now, limit, lease id, ttl. Drops expired leases, admits if there is room.
 * Returns { 1, held } or { 0, held, millis until the oldest lease expires }.
 */
const acquireScript: Script = {
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
 */
const renewScript: Script = {
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

/** ARGV: now. Leases not expired. */
const heldScript: Script = {
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

/** @internal */
export const scripts = { acquireScript, renewScript, heldScript }

// --- options -------------------------------------------------------------------------

interface Resolved {
  readonly maxConcurrent: number
  readonly maxQueue: number
  readonly maxWait: Duration.Duration | undefined
  readonly name: string
  readonly leaseTtl: Duration.Duration
  readonly pollInterval: Duration.Duration
  readonly localMaxConcurrent: number
  readonly onStoreError: "allow" | "fail"
  readonly clock: "redis" | "caller"
  readonly timeout: Duration.Duration | undefined
  readonly prefix: string
  readonly metricsInterval: Duration.Duration
  readonly maxKeyLength: number
}

/** The longest lease: its expiry (now + ttl, in ms) must stay an exact integer for the scripts' PEXPIRE and ZADD. */
const MAX_LEASE_TTL_MILLIS = Number.MAX_SAFE_INTEGER

const leaseTtlOf = (m: string, value: unknown): Duration.Duration => {
  const ttl = validate.optionalDuration(m, "leaseTtl", value) ?? DEFAULT_LEASE_TTL
  if (Duration.toMillis(ttl) > MAX_LEASE_TTL_MILLIS) {
    throw validate.invalid(m, "leaseTtl", value, `a finite duration > 0 and <= ${MAX_LEASE_TTL_MILLIS} millis`)
  }
  return ttl
}

const resolve = (options: B.Options): Resolved => {
  const m = "Bulkhead.make (redis)"
  options = validate.options(m, options)
  const maxConcurrent = validate.number(m, "maxConcurrent", options.maxConcurrent, { integer: true, min: 1 })
  const maxQueue = validate.optionalNumber(m, "maxQueue", options.maxQueue, { integer: true, min: 0, allowInfinite: true }) ??
    0
  const maxWait = validate.optionalDuration(m, "maxWait", options.maxWait, { allowInfinite: true })
  return {
    maxConcurrent,
    maxQueue,
    maxWait: maxWait !== undefined && Duration.isFinite(maxWait) ? maxWait : undefined,
    name: options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name),
    leaseTtl: leaseTtlOf(m, options.leaseTtl),
    pollInterval: validate.optionalDuration(m, "pollInterval", options.pollInterval) ?? DEFAULT_POLL_INTERVAL,
    localMaxConcurrent: validate.optionalNumber(m, "localMaxConcurrent", options.localMaxConcurrent, {
      integer: true,
      min: 1
    }) ?? maxConcurrent,
    onStoreError: options.onStoreError === undefined
      ? "allow"
      : validate.oneOf(m, "onStoreError", options.onStoreError, ["allow", "fail"]),
    clock: options.clock === undefined ? "redis" : validate.oneOf(m, "clock", options.clock, ["redis", "caller"]),
    timeout: validate.optionalDuration(m, "timeout", options.timeout),
    prefix: options.prefix === undefined ? DEFAULT_PREFIX : validate.nonEmptyString(m, "prefix", options.prefix),
    metricsInterval: validate.optionalDuration(m, "metricsInterval", options.metricsInterval, { allowInfinite: true }) ??
      DEFAULT_METRICS_INTERVAL,
    maxKeyLength: Keys.maxKeyLengthOption(m, options.maxKeyLength)
  }
}

// --- partitions ----------------------------------------------------------------------

class Partition {
  readonly local: FifoSemaphore
  readonly turn = new FifoSemaphore(1)
  /** Callers holding a local permit and waiting for a global one (queued on `turn` or polling). */
  waitingGlobal = 0
  /** Calls running (with or without a lease). */
  active = 0
  /** Wakes the polling caller early (a call of this replica released its lease). */
  wake: Deferred.Deferred<void> | undefined = undefined
  constructor(readonly key: string | undefined, readonly redisKey: string, localPermits: number) {
    this.local = new FifoSemaphore(localPermits)
  }
  queued(): number {
    return this.local.waiters + this.waitingGlobal
  }
  idle(): boolean {
    return this.local.taken === 0 && this.local.waiters === 0 && this.waitingGlobal === 0
  }
}

type Attempt =
  | { readonly _tag: "Acquired"; readonly lease: string }
  | { readonly _tag: "Full"; readonly retryInMillis: number }

/** What a waiting caller ends with: a lease, or `undefined` (Redis failed, running without one). */
type Grant = string | undefined

// --- the bulkhead ------------------------------------------------------------------------

/** @internal */
export const make = (
  options: B.Options
): Effect.Effect<B.DistributedBulkhead<any>, InvalidOptionsError, Redis | Scope.Scope> =>
  Effect.flatMap(validate.validated(() => resolve(options)), (cfg) =>
    Effect.flatMap(Redis, (redis) =>
      Effect.flatMap(Effect.clock, (clock) =>
        Effect.flatMap(Effect.scope, (scope) => build(cfg, options, redis, clock, scope)))))

const build = (
  cfg: Resolved,
  options: B.Options,
  redis: RedisConnection,
  clock: Clock.Clock,
  scope: Scope.Scope
): Effect.Effect<B.DistributedBulkhead<any>, never, Scope.Scope> => {
  const { maxConcurrent, maxQueue, maxWait, name, onStoreError } = cfg
  const ttlMillis = Duration.toMillis(cfg.leaseTtl)
  const renewEvery = Duration.millis(Math.max(1, ttlMillis / 3))
  const maxPollMillis = Duration.toMillis(cfg.pollInterval)
  const maxWaitMillis = maxWait === undefined ? undefined : Duration.toMillis(maxWait)
  const replicaId = randomUUID()
  let leaseCounter = 0
  const keyBase = `${redis.prefix}${cfg.prefix}`
  const redisKeyOf = (key: string | undefined): string => `${keyBase}${Keys.namespaced(name, key)}`
  const keyPolicy: Keys.KeyPolicy = { kind: "Bulkhead", name, maxKeyLength: cfg.maxKeyLength }
  const hub = EventHub.make<B.Event>()

  let storeErrors = 0
  let allowedWithoutLease = 0
  let leasesLost = 0
  let leasesRecovered = 0

  const rejections = Metric.tagged(rejectionsCounter, "policy", name)
  const rejectionMetric = {
    QueueFull: Metric.increment(Metric.tagged(rejections, "reason", "QueueFull")),
    MaxWaitExceeded: Metric.increment(Metric.tagged(rejections, "reason", "MaxWaitExceeded"))
  }
  const storeErrorMetrics = Metric.tagged(Metric.tagged(storeErrorsCounter, "store", "bulkhead"), "policy", name)
  const storeErrorMetric = {
    acquire: Metric.increment(Metric.tagged(storeErrorMetrics, "operation", "acquire")),
    renew: Metric.increment(Metric.tagged(storeErrorMetrics, "operation", "renew")),
    release: Metric.increment(Metric.tagged(storeErrorMetrics, "operation", "release")),
    held: Metric.increment(Metric.tagged(storeErrorMetrics, "operation", "held"))
  }
  const leaseLostMetric = Metric.increment(Metric.tagged(leasesLostCounter, "policy", name))
  const allowedMetric = Metric.increment(Metric.tagged(allowedCounter, "policy", name))

  // --- Redis calls ---------------------------------------------------------------------

  const nowArg = (): number => cfg.clock === "redis" ? -1 : clock.unsafeCurrentTimeMillis()

  // bounded by the store's own timeout wherever it is called from (uninterruptible regions included)
  const timed = <A>(operation: string, effect: Effect.Effect<A, RedisError>): Effect.Effect<A, RedisError> =>
    bounded(operation, cfg.timeout, effect)

  const call = (script: Script, redisKey: string, args: () => ReadonlyArray<string | number>) =>
    timed(`EVALSHA ${script.name}`, Effect.suspend(() => redis.eval(script, [redisKey], args())))

  const storeFailed = (
    partition: Partition,
    operation: "acquire" | "renew" | "release" | "held",
    error: unknown,
    allowed: boolean
  ): Effect.Effect<void> => {
    storeErrors++
    if (hub.hasSubscribers()) {
      hub.emit({ _tag: "StoreError", policy: name, key: partition.key, operation, error, allowed })
    }
    return storeErrorMetric[operation]
  }

  /**
   * A plain `ZREM` (atomic on its own; an empty set expires with its last lease): unlike a
   * script, it never depends on Redis's script cache, so a release sent while Redis is
   * paused still runs when it resumes, in order after the commands sent before it.
   */
  const release = (partition: Partition, lease: string): Effect.Effect<void> =>
    Effect.catchAll(
      Effect.asVoid(timed("ZREM", redis.use("ZREM", (c) => c.zrem(partition.redisKey, lease)))),
      // the lease expires on its own
      (error) => storeFailed(partition, "release", error, true)
    )

  /**
   * One acquire attempt, uninterruptible (bounded by the timeout) so its outcome is never
   * lost. When it fails — typically a timeout while Redis is paused — the script may still
   * run later (it was sent): a release of the same lease is sent after it, in the
   * background, so that no lease is left behind for a caller that never got it.
   */
  const attempt = (partition: Partition): Effect.Effect<Attempt, RedisError> => {
    const lease = `${replicaId}:${++leaseCounter}`
    return Effect.uninterruptible(Effect.matchEffect(
      call(acquireScript, partition.redisKey, () => [nowArg(), maxConcurrent, lease, ttlMillis]),
      {
        onFailure: (error) => Effect.zipRight(Effect.forkIn(release(partition, lease), scope), Effect.fail(error)),
        onSuccess: (reply): Effect.Effect<Attempt> => {
          const [ok, , retryIn] = reply as [number, number, string | undefined]
          return Effect.succeed(
            ok === 1
              ? { _tag: "Acquired", lease }
              : { _tag: "Full", retryInMillis: retryIn === undefined ? maxPollMillis : Number(retryIn) }
          )
        }
      }
    ))
  }

  const renewLoop = (partition: Partition, lease: string): Effect.Effect<void> => {
    const renew = Effect.matchEffect(call(renewScript, partition.redisKey, () => [nowArg(), maxConcurrent, lease, ttlMillis]), {
      onFailure: (error) => storeFailed(partition, "renew", error, true),
      onSuccess: (reply) => {
        if (reply === 2) leasesRecovered++
        if (reply !== 0) return Effect.void
        leasesLost++
        if (hub.hasSubscribers()) hub.emit({ _tag: "LeaseLost", policy: name, key: partition.key })
        return leaseLostMetric
      }
    })
    return Effect.forever(Effect.zipRight(sleep(renewEvery), renew))
  }

  // --- partitions ------------------------------------------------------------------------

  const partitions = new Map<string, Partition>()
  const defaultPartition = new Partition(undefined, redisKeyOf(undefined), cfg.localMaxConcurrent)
  const partitionOf = (key: string | undefined): Partition => {
    if (key === undefined) return defaultPartition
    let p = partitions.get(key)
    if (p === undefined) {
      p = new Partition(key, redisKeyOf(key), cfg.localMaxConcurrent)
      partitions.set(key, p)
    }
    return p
  }
  const evictIfIdle = (p: Partition): void => {
    if (p.key !== undefined && p.idle() && partitions.get(p.key) === p) partitions.delete(p.key)
  }
  const wake = (p: Partition): void => {
    const w = p.wake
    if (w !== undefined) {
      p.wake = undefined
      Deferred.unsafeDone(w, Exit.void)
    }
  }
  const releaseLocal = (p: Partition): void => {
    p.local.unsafeRelease(1)
    evictIfIdle(p)
  }

  // --- rejections --------------------------------------------------------------------------

  const reject = (p: Partition, reason: BulkheadRejectionReason): Effect.Effect<never, BulkheadFullError> => {
    const error = BulkheadFullError.make({
      name,
      maxConcurrent,
      maxQueue,
      reason,
      ...(p.key === undefined ? {} : { key: p.key }),
      ...(maxWait === undefined ? {} : { maxWait })
    })
    if (hub.hasSubscribers()) hub.emit({ _tag: "Rejected", policy: name, key: p.key, reason, error })
    return Effect.zipRight(rejectionMetric[reason], Exit.fail(error))
  }

  /** Redis failed while admitting: run without a lease ("allow") or reject ("fail"). */
  const onAcquireError = (p: Partition, error: RedisError): Effect.Effect<Grant, BulkheadStoreError> => {
    const allowed = onStoreError === "allow"
    const counted = storeFailed(p, "acquire", error, allowed)
    if (allowed) {
      allowedWithoutLease++
      return Effect.as(Effect.zipRight(counted, allowedMetric), undefined)
    }
    return Effect.zipRight(
      counted,
      Effect.fail(BulkheadStoreError.make({ name, key: p.key, operation: "acquire", cause: error }))
    )
  }

  // --- the call path ---------------------------------------------------------------------------

  type Restore = <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>

  /** Runs `self` holding `grant` (and a local permit); releases both when it ends, whatever the outcome. */
  const hold = <A, E, R>(
    p: Partition,
    grant: Grant,
    waited: number,
    restore: Restore,
    self: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> => {
    p.active++
    if (hub.hasSubscribers()) {
      hub.emit({
        _tag: "Permitted",
        policy: name,
        key: p.key,
        waited: waited <= 0 ? Duration.zero : Duration.millis(waited),
        leased: grant !== undefined
      })
    }
    const finish = (renewal: Fiber.RuntimeFiber<void> | undefined) => {
      const stopRenewal = renewal === undefined ? Effect.void : Fiber.interrupt(renewal)
      const releaseLease = grant === undefined ? Effect.void : release(p, grant)
      return Effect.ensuring(
        Effect.zipRight(stopRenewal, releaseLease),
        Effect.sync(() => {
          p.active--
          releaseLocal(p)
          wake(p)
        })
      )
    }
    const run = (renewal: Fiber.RuntimeFiber<void> | undefined) =>
      Effect.matchCauseEffect(restore(self), {
        onFailure: (cause) => Effect.zipRight(finish(renewal), Exit.failCause(cause)),
        onSuccess: (a) => Effect.as(finish(renewal), a)
      })
    if (grant === undefined) return run(undefined)
    return Effect.flatMap(Effect.forkIn(Effect.interruptible(renewLoop(p, grant)), scope), run)
  }

  /**
   * Polls Redis until a lease is granted (as the only poller of the partition on this
   * replica). `got` receives the lease the moment it is acquired, so a caller interrupted
   * right after can give it back.
   */
  const poll = (p: Partition, got: (lease: string) => void): Effect.Effect<Grant, BulkheadStoreError> => {
    const loop = (backoff: number): Effect.Effect<Grant, BulkheadStoreError> =>
      Effect.flatMap(
        Effect.either(Effect.tap(attempt(p), (a) => {
          if (a._tag === "Acquired") got(a.lease)
        })),
        (result): Effect.Effect<Grant, BulkheadStoreError> => {
          if (result._tag === "Left") return onAcquireError(p, result.left)
          const a = result.right
          if (a._tag === "Acquired") return Effect.succeed(a.lease)
          return Effect.flatMap(Random.nextRange(0.5, 1), (jitter) => {
            const pause = Math.max(1, Math.min(backoff * jitter, a.retryInMillis))
            const signal = Deferred.unsafeMake<void>(FiberId.none)
            p.wake = signal
            return Effect.zipRight(
              Effect.raceFirst(Effect.sleep(Duration.millis(pause)), Deferred.await(signal)),
              Effect.suspend(() => {
                if (p.wake === signal) p.wake = undefined
                return loop(Math.min(maxPollMillis, backoff * 2))
              })
            )
          })
        }
      )
    return loop(Math.min(MIN_POLL_MILLIS, maxPollMillis))
  }

  /**
   * The slow path: waits for a local permit (unless it holds one already), then for the
   * turn to poll, then polls; all within `maxWait`. Everything taken is given back if the
   * wait fails, times out or is interrupted.
   */
  const queue = <A, E, R>(
    p: Partition,
    holdsLocal: boolean,
    start: number,
    restore: Restore,
    self: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | BulkheadFullError | BulkheadStoreError, R> => {
    let waiter: Waiter | undefined = undefined
    let local = holdsLocal
    let counted = false
    let lease: string | undefined = undefined
    const enterGlobal = () => {
      local = true
      counted = true
      p.waitingGlobal++
    }
    const leaveGlobal = () => {
      if (counted) {
        counted = false
        p.waitingGlobal--
      }
    }
    let waitLocal: Effect.Effect<void> = Effect.void
    if (holdsLocal) {
      enterGlobal()
    } else {
      const w = new Waiter(1)
      waiter = w
      p.local.unsafeEnqueue(w)
      waitLocal = Effect.map(w.await<number, never>(), () => {
        waiter = undefined
        enterGlobal()
      })
    }
    if (hub.hasSubscribers()) hub.emit({ _tag: "Queued", policy: name, key: p.key, queued: p.queued() })
    const waitGlobal = p.turn.withPermits(1)(poll(p, (l) => {
      lease = l
    }))
    const wait = Effect.zipRight(waitLocal, waitGlobal)
    // bounded by the earlier of maxWait and the enclosing deadline (at a tie, the deadline), failing
    // with the deadline's own error when it comes first: never relies on being interrupted
    const timedWait: Effect.Effect<Option.Option<Grant>, BulkheadStoreError> = Effect.withFiberRuntime((fiber) => {
      const deadline = activeDeadline(fiber.getFiberRef(currentDeadline))
      const ownExpiry = maxWaitMillis === undefined ? Infinity : start + maxWaitMillis
      const now = monotonicMillis(clock)
      if (deadline !== undefined && deadline.at <= ownExpiry) {
        // at the deadline: its error if its region still runs; else (a fork that outlived its
        // timeout) only the caller's own maxWait bounds the wait
        const bound: Effect.Effect<Option.Option<Grant>, TimeoutError> = Effect.zipRight(
          sleepOn(clock, deadline.at - now),
          Effect.suspend(() =>
            deadline.active
              ? Effect.fail(deadline.error())
              : ownExpiry === Infinity
              ? Effect.never
              : Effect.as(sleepOn(clock, ownExpiry - monotonicMillis(clock)), Option.none())
          )
        )
        // the enclosing timeout's type carries its TimeoutError
        return Effect.raceFirst(Effect.asSome(Effect.interruptible(wait)), bound) as Effect.Effect<
          Option.Option<Grant>,
          BulkheadStoreError
        >
      }
      // interruptible: the bound holds inside an uninterruptible caller too
      return ownExpiry === Infinity ? Effect.asSome(wait) : timeoutOption(Effect.interruptible(wait), Math.max(0, ownExpiry - now))
    })
    const giveBack = (): Effect.Effect<void> => {
      leaveGlobal()
      if (waiter !== undefined) {
        p.local.unsafeCancel(waiter)
        waiter = undefined
        evictIfIdle(p)
      } else if (local) {
        local = false
        releaseLocal(p)
      }
      const l = lease
      lease = undefined
      return l === undefined ? Effect.void : release(p, l)
    }
    return Effect.matchCauseEffect(restore(timedWait), {
      onFailure: (cause) => Effect.zipRight(giveBack(), Exit.failCause(cause)),
      onSuccess: (granted): Effect.Effect<A, E | BulkheadFullError | BulkheadStoreError, R> => {
        if (Option.isNone(granted)) return Effect.zipRight(giveBack(), reject(p, "MaxWaitExceeded"))
        leaveGlobal()
        wake(p) // the next poller of this replica may try at once
        return hold(p, granted.value, monotonicMillis(clock) - start, restore, self)
      }
    })
  }

  const run = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined
  ): Effect.Effect<A, E | BulkheadFullError | BulkheadStoreError, R> =>
    Effect.uninterruptibleMask((restore) => {
      const p = partitionOf(key)
      const start = monotonicMillis(clock)
      if (!p.local.unsafeTryTake(1)) {
        if (p.queued() >= maxQueue) return Effect.suspend(() => reject(p, "QueueFull"))
        return queue(p, false, start, restore, self)
      }
      if (p.waitingGlobal > 0) {
        // callers of this replica already wait for a global permit: queue behind them
        if (p.queued() >= maxQueue) {
          releaseLocal(p)
          return reject(p, "QueueFull")
        }
        return queue(p, true, start, restore, self)
      }
      return Effect.matchEffect(attempt(p), {
        onFailure: (error) =>
          Effect.matchEffect(onAcquireError(p, error), {
            onFailure: (e) => {
              releaseLocal(p)
              return Effect.fail(e)
            },
            onSuccess: (grant) => hold(p, grant, 0, restore, self)
          }),
        onSuccess: (a) => {
          if (a._tag === "Acquired") return hold(p, a.lease, 0, restore, self)
          if (p.queued() >= maxQueue) {
            releaseLocal(p)
            return reject(p, "QueueFull")
          }
          return queue(p, true, start, restore, self)
        }
      })
    })

  // --- accessors ---------------------------------------------------------------------------

  const stats = (key?: string | undefined): B.Stats => {
    const p = key === undefined ? defaultPartition : partitions.get(key)
    return { active: p?.active ?? 0, queued: p === undefined ? 0 : p.queued(), maxConcurrent, maxQueue }
  }

  const totals = (): B.Totals => {
    let active = defaultPartition.active
    let queued = defaultPartition.queued()
    for (const p of partitions.values()) {
      active += p.active
      queued += p.queued()
    }
    return { active, queued, partitions: partitions.size, storeErrors, allowedWithoutLease, leasesLost, leasesRecovered }
  }

  const held = (key?: string | undefined): Effect.Effect<number, BulkheadStoreError | InvalidKeyError> => {
    if (key !== undefined && !Keys.isValid(keyPolicy, key)) return Effect.fail(Keys.refuse(keyPolicy, key))
    const p = key === undefined ? defaultPartition : new Partition(key, redisKeyOf(key), 1)
    return Effect.catchAll(
      Effect.map(call(heldScript, p.redisKey, () => [nowArg()]), Number),
      (error) =>
        Effect.zipRight(
          storeFailed(p, "held", error, false),
          Effect.fail(BulkheadStoreError.make({ name, key, operation: "held", cause: error }))
        )
    )
  }

  const active = activeGauge.pipe(Metric.tagged("policy", name))
  const queuedMetric = queuedGauge.pipe(Metric.tagged("policy", name))
  const publish = Effect.suspend(() => {
    const t = totals()
    return Effect.zipRight(Metric.set(active, t.active), Metric.set(queuedMetric, t.queued))
  })

  const bulkhead = <A, E, R>(self: Effect.Effect<A, E, R>) => run(self, undefined)
  const value = Object.assign(bulkhead, {
    policyName: name,
    options,
    execute: <A, E, R>(self: Effect.Effect<A, E, R>, executeOptions?: B.ExecuteOptions | undefined) => {
      const key: unknown = executeOptions?.key
      // refused before a local permit or a lease is taken
      if (key !== undefined && !Keys.isValid(keyPolicy, key)) return Effect.fail(Keys.refuse(keyPolicy, key))
      return run(self, key as string | undefined)
    },
    stats,
    totals,
    held,
    events: hub.stream as Stream.Stream<B.Event>
  })
  const policy = unsafeMakeCallable(value, {
    kind: "Bulkhead",
    name,
    options: {
      maxConcurrent,
      maxQueue,
      ...(maxWait === undefined ? {} : { maxWait: Duration.format(maxWait) }),
      store: "redis",
      leaseTtl: Duration.format(cfg.leaseTtl),
      onStoreError
    }
  }) as unknown as B.DistributedBulkhead<any>

  if (!Duration.isFinite(cfg.metricsInterval)) return Effect.succeed(policy)
  const publishLoop: Effect.Effect<void> = Effect.zipRight(
    publish,
    Effect.suspend(() => Effect.zipRight(sleep(cfg.metricsInterval), publishLoop))
  )
  return Effect.as(Effect.zipRight(Effect.forkScoped(Effect.interruptible(publishLoop)), Effect.addFinalizer(() => publish)), policy)
}
