/**
 * The rate limiter policy.
 *
 * With a store that implements the atomic extension (our memory store), one
 * `reserve` per call decides and charges; in-process stores are called
 * synchronously on the hot path. With a plain experimental store (e.g.
 * experimental's Redis store) the decision is a short protocol on
 * `tokenBucket`/`fixedWindow` that never leaves a rejected call charged:
 *
 * - `"fail"`: one capped call (`allowOverflow: false` / `limit`), which the
 *   store only charges when it admits;
 * - `"delay"` without a bound: one uncapped call (experimental's own delay);
 * - `"delay"` with a bound (`maxDelay` or a deadline), token bucket: a capped
 *   take; if short, the wait is estimated and the call rejected uncharged when
 *   it is too long; otherwise an overdraft take. If a concurrent caller took
 *   capacity in between, the wait may come out longer than the bound: the
 *   call then waits anyway (it was charged, so it runs) — refunding it would
 *   leave a hole in the queue that the next caller cannot fill, letting it
 *   start together with the last one;
 * - `"delay"` with a bound, fixed window: a take capped at the count the
 *   bound allows (conservatively, assuming the counter just started); if
 *   refused, the exact wait is computed from the answer and, when it fits,
 *   one more take capped by the exact count. A refused take charges nothing.
 *
 * Plain stores get no refunds (an interrupted waiter's slot is lost, never
 * shared): the interface cannot tell whether a later call reserved after it.
 *
 * @internal
 */
import * as RateLimiterExperimental from "@effect/experimental/RateLimiter"
import type * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import {
  type InvalidKeyError,
  type InvalidOptionsError,
  RejectionTypeId,
  ResilienceErrorTypeId
} from "../Errors.js"
import { withoutStack } from "./errors.js"
import { unsafeMakeCallable } from "./policy.js"
import type * as RL from "../RateLimiter.js"
import { active, currentDeadline, type Deadline } from "./deadline.js"
import { monotonicMillis, sleepOn } from "./time.js"
import * as EventHub from "./events.js"
import * as Keys from "./keys.js"
import { AtomicStoreTypeId, makeMemoryStore, type PlainStore } from "./rateLimiterStore.js"
import * as validate from "./validate.js"

/** The same symbol as `RateLimiter.TypeId` (`Symbol.for`). */
export const TypeId: RL.TypeId = Symbol.for("effect-resilience/RateLimiter") as RL.TypeId

// The errors are defined here (re-exported by `RateLimiter.ts`) so that the
// internal code builds them without importing its public module at run time.

/**
 * A call was over the rate limit and was not run (nor charged). A rejection
 * (`Errors.isRejection`): breakers never count it, `Retry` does not retry it
 * unless given `retryRejections: RateLimiter.isRateLimitExceededError` (then
 * it waits at least `retryAfter`). Built without a stack trace (cheap on hot
 * paths).
 *
 * `retryAfter` is how long until the same call would be admitted (within its
 * allowed wait), if no other caller takes the capacity first, rounded up to
 * whole milliseconds.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second" })
 *   yield* Effect.succeed(1).pipe(limiter)
 *   return yield* Effect.succeed(2).pipe(
 *     limiter,
 *     Effect.catchTag("RateLimitExceededError", (e) => Effect.succeed(`retry after ${e.retryAfter}`))
 *   )
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Errors
 */
export class RateLimitExceededError extends Data.TaggedError("RateLimitExceededError")<{
  /** The limiter's name. */
  readonly policy: string
  /** The key, for `execute(self, { key })`. */
  readonly key?: string | undefined
  readonly reason: RL.RejectionReason
  /** How long until the call would be admitted, if nobody else takes the capacity first. */
  readonly retryAfter: Duration.Duration
  readonly limit: number
  readonly window: Duration.Duration
  /** The tokens the call asked for. */
  readonly cost: number
  /** Tokens left when the call was rejected. */
  readonly remaining: number
  /** The limiter's `maxDelay`, in `"delay"` mode. */
  readonly maxDelay?: Duration.Duration | undefined
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  readonly [RejectionTypeId]: RejectionTypeId = RejectionTypeId
  /** Creates the error without a stack trace (cheap on hot paths). */
  static make(args: ConstructorParameters<typeof RateLimitExceededError>[0]): RateLimitExceededError {
    return withoutStack(() => new RateLimitExceededError(args))
  }
  override get message(): string {
    const where = this.key === undefined ? this.policy : `${this.policy}[${this.key}]`
    const rate = `${this.limit} per ${Duration.format(this.window)}`
    const after = `retry after ${Duration.format(this.retryAfter)}`
    switch (this.reason) {
      case "LimitExceeded":
        return `Rate limit of ${where} exceeded (${rate}): ${after}`
      case "MaxDelayExceeded":
        return `Rate limit of ${where} exceeded (${rate}): the wait would exceed maxDelay ${
          this.maxDelay === undefined ? "" : Duration.format(this.maxDelay)
        }, ${after}`
      case "Deadline":
        return `Rate limit of ${where} exceeded (${rate}): the wait would outlast the enclosing deadline, ${after}`
    }
  }
}

/**
 * The store failed (e.g. Redis unreachable) and the limiter was configured to
 * fail closed (`onStoreError: "fail"`, the default): the call was not run. A
 * rejection (`Errors.isRejection`): breakers never count it.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 *
 * const e = new RateLimiter.RateLimiterStoreError({ policy: "api", cause: new Error("ECONNREFUSED") })
 * e.message // "Rate limiter api: store failed: ECONNREFUSED"
 * ```
 *
 * @since 0.1.0
 * @category Errors
 */
export class RateLimiterStoreError extends Data.TaggedError("RateLimiterStoreError")<{
  readonly policy: string
  readonly key?: string | undefined
  readonly cause: unknown
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  readonly [RejectionTypeId]: RejectionTypeId = RejectionTypeId
  override get message(): string {
    const where = this.key === undefined ? this.policy : `${this.policy}[${this.key}]`
    const cause = Predicate.hasProperty(this.cause, "message") ? String(this.cause.message) : String(this.cause)
    return `Rate limiter ${where}: store failed: ${cause}`
  }
}


/** @internal */
export const DEFAULT_NAME = "rate-limiter"

/** @internal */
export const DEFAULT_METRICS_INTERVAL = Duration.seconds(1)

/**
 * A delayed call must start strictly before the enclosing deadline: one that
 * would start within this margin of it (in ms) is rejected instead.
 */
const DEADLINE_MARGIN_MILLIS = 0.001

const ALGORITHMS: ReadonlyArray<RL.Algorithm> = ["token-bucket", "fixed-window"]
const ON_EXCEEDED: ReadonlyArray<RL.OnExceeded> = ["fail", "delay"]
const ON_STORE_ERROR: ReadonlyArray<"fail" | "allow"> = ["fail", "allow"]

const rejectedCounter = Metric.counter("resilience_rate_limiter_rejected", {
  description: "Calls a rate limiter rejected",
  incremental: true
})
const delayedCounter = Metric.counter("resilience_rate_limiter_delayed", {
  description: "Calls a rate limiter made wait for their slot",
  incremental: true
})
const permittedCounter = Metric.counter("resilience_rate_limiter_permitted", {
  description: "Calls a rate limiter ran at once (published in batches, at most once per metricsInterval)",
  incremental: true
})
const storeErrorCounter = Metric.counter("resilience_rate_limiter_store_errors", {
  description: "Rate limiter store failures",
  incremental: true
})

/** @internal */
export const resolve = (options: RL.RateLimiter.Options): RL.RateLimiter.Resolved => {
  const m = "RateLimiter.make"
  options = validate.options(m, options)
  const limit = validate.number(m, "limit", options.limit, { min: 1, integer: true })
  const window = validate.duration(m, "window", options.window)
  const algorithm = options.algorithm === undefined
    ? "token-bucket"
    : validate.oneOf(m, "algorithm", options.algorithm, ALGORITHMS)
  const onExceeded = options.onExceeded === undefined
    ? "fail"
    : validate.oneOf(m, "onExceeded", options.onExceeded, ON_EXCEEDED)
  const cost = validate.optionalNumber(m, "cost", options.cost, { min: 1, max: limit, integer: true }) ?? 1
  if (options.maxDelay !== undefined && onExceeded !== "delay") {
    throw validate.invalid(m, "maxDelay", options.maxDelay, "no maxDelay unless onExceeded is \"delay\"")
  }
  const maxDelay = onExceeded === "fail"
    ? Duration.zero
    : options.maxDelay === undefined
    ? Duration.infinity
    : validate.duration(m, "maxDelay", options.maxDelay, { allowZero: true, allowInfinite: true })
  const onStoreError = options.onStoreError === undefined
    ? "fail"
    : validate.oneOf(m, "onStoreError", options.onStoreError, ON_STORE_ERROR)
  const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
  const metricsInterval = options.metricsInterval === undefined
    ? DEFAULT_METRICS_INTERVAL
    : validate.duration(m, "metricsInterval", options.metricsInterval, { allowInfinite: true })
  const maxKeyLength = Keys.maxKeyLengthOption(m, options.maxKeyLength)
  return { limit, window, algorithm, onExceeded, cost, maxDelay, onStoreError, name, metricsInterval, maxKeyLength }
}

const admitted = (delayMillis: number, remaining: number): RL.Reservation => ({
  admitted: true,
  delayMillis,
  retryAfterMillis: 0,
  remaining: Math.max(0, remaining)
})

const rejected = (delayMillis: number, retryAfterMillis: number, remaining: number): RL.Reservation => ({
  admitted: false,
  delayMillis,
  retryAfterMillis: Math.max(0, retryAfterMillis),
  remaining: Math.max(0, remaining)
})

/**
 * Reserves on a plain experimental store (see the module documentation).
 * @internal
 */
export const plainReserve = (
  store: PlainStore,
  req: RL.ReserveRequest
): Effect.Effect<RL.Reservation, RateLimiterExperimental.RateLimiterError> => {
  const { key, limit, maxDelayMillis: maxDelay, tokens, windowMillis } = req
  const refillMillis = windowMillis / limit
  const refillRate = Duration.millis(refillMillis)
  if (req.algorithm === "token-bucket") {
    const take = (n: number, allowOverflow: boolean) =>
      store.tokenBucket({ key, tokens: n, limit, refillRate, allowOverflow })
    // Stryker disable next-line ConditionalExpression,BlockStatement: equivalent: without this fast path maxDelay 0 takes the bounded path below, which makes the same single capped take and, since every estimate is > 0, rejects with the same delay, retryAfter and remaining
    if (maxDelay === 0) {
      return Effect.map(
        take(tokens, false),
        (r) => r >= 0 ? admitted(0, r) : rejected(-r * refillMillis, -r * refillMillis, r + tokens)
      )
    }
    if (maxDelay === Infinity) {
      return Effect.map(take(tokens, true), (r) => admitted(r >= 0 ? 0 : -r * refillMillis, r))
    }
    return Effect.flatMap(take(tokens, false), (r) => {
      if (r >= 0) return Effect.succeed(admitted(0, r))
      const estimate = -r * refillMillis
      if (estimate > maxDelay) return Effect.succeed(rejected(estimate, estimate - maxDelay, r + tokens))
      // charged from here on: the call runs, even if a concurrent caller made its wait longer than the bound
      // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: the limiter runs any admitted reservation whose delay is <= 0 at once, and -r2 * refillMillis <= 0 exactly when r2 >= 0
      return Effect.map(take(tokens, true), (r2) => admitted(r2 >= 0 ? 0 : -r2 * refillMillis, r2))
    })
  }
  const hit = (cap: number | undefined) => store.fixedWindow({ key, tokens, refillRate, limit: cap })
  const windowOf = (count: number) => Math.floor((count - 1) / limit)
  const delayOf = (count: number, ttl: number) => Math.max(0, windowOf(count) * windowMillis - (count * refillMillis - ttl))
  const remainingOf = (count: number) => limit * (windowOf(count) + 1) - count
  if (maxDelay === 0) {
    return Effect.map(hit(limit), ([count, ttl]) =>
      count <= limit ? admitted(0, limit - count) : rejected(ttl, ttl, limit - (count - tokens)))
  }
  if (maxDelay === Infinity) {
    return Effect.map(hit(undefined), ([count, ttl]) => admitted(delayOf(count, ttl), remainingOf(count)))
  }
  // the largest count whose wait fits maxDelay, given how long the counter has run
  const capFor = (elapsed: number) => limit * (Math.floor((maxDelay + elapsed) / windowMillis) + 1)
  const attempt = (
    cap: number,
    again: boolean
  ): Effect.Effect<RL.Reservation, RateLimiterExperimental.RateLimiterError> =>
    Effect.flatMap(hit(cap), ([count, ttl]) => {
      if (count <= cap) return Effect.succeed(admitted(delayOf(count, ttl), remainingOf(count)))
      // refused, nothing taken: `count` includes this call's tokens, `ttl` is the counter's
      const prior = count - tokens
      const elapsed = prior * refillMillis - ttl
      const delay = Math.max(0, windowOf(count) * windowMillis - elapsed)
      if (again && delay <= maxDelay) return attempt(capFor(elapsed), false)
      return Effect.succeed(rejected(delay, Math.min(ttl, delay - maxDelay), limit - prior))
    })
  return attempt(capFor(0), true)
}

interface Built {
  readonly limiter: RL.RateLimiter
  /** Adds the calls permitted since the last publication to the `permitted` counter. */
  readonly publish: Effect.Effect<void>
}

const build = (cfg: RL.RateLimiter.Resolved, store: PlainStore, clock: Clock.Clock): Built => {
  const { algorithm, limit, name, onExceeded, onStoreError } = cfg
  const windowMillis = Duration.toMillis(cfg.window)
  const maxDelayMillis = Duration.toMillis(cfg.maxDelay) // 0 in "fail" mode, Infinity when unbounded
  const atomic = AtomicStoreTypeId in store ? (store as unknown as RL.AtomicStore)[AtomicStoreTypeId] : undefined
  const unsafeReserve = atomic?.unsafeReserve
  const unsafeRefund = atomic?.unsafeRefund
  const hub = EventHub.make<RL.RateLimiterEvent>()
  const rejectedMetrics = {
    LimitExceeded: rejectedCounter.pipe(Metric.tagged("policy", name), Metric.tagged("reason", "LimitExceeded")),
    MaxDelayExceeded: rejectedCounter.pipe(Metric.tagged("policy", name), Metric.tagged("reason", "MaxDelayExceeded")),
    Deadline: rejectedCounter.pipe(Metric.tagged("policy", name), Metric.tagged("reason", "Deadline"))
  }
  const delayedMetric = delayedCounter.pipe(Metric.tagged("policy", name))
  const storeErrorMetric = storeErrorCounter.pipe(Metric.tagged("policy", name))
  const permittedMetric = permittedCounter.pipe(Metric.tagged("policy", name))
  let permitted = 0
  let published = 0
  const publish = Effect.suspend(() => {
    const delta = permitted - published
    published = permitted
    return delta === 0 ? Effect.void : Metric.incrementBy(permittedMetric, delta)
  })
  // the count is published by the first call permitted after each interval (no fiber, no timer)
  const publishEvery = Duration.toMillis(cfg.metricsInterval)
  let nextPublishAt = monotonicMillis(clock) + publishEvery
  let delayed = 0
  let rejections = 0
  let storeErrors = 0

  const request = (key: string, tokens: number, maxDelay: number): RL.ReserveRequest => ({
    key,
    algorithm,
    tokens,
    limit,
    windowMillis,
    maxDelayMillis: maxDelay
  })

  const effectiveMaxDelay = (now: number, deadline: Deadline | undefined): number =>
    deadline === undefined
      ? maxDelayMillis
      : Math.min(maxDelayMillis, Math.max(0, deadline.at - now - DEADLINE_MARGIN_MILLIS))

  // plain stores get no refund (see the module documentation)
  const refund = (req: RL.ReserveRequest, reservation: RL.Reservation): Effect.Effect<void> =>
    unsafeRefund !== undefined
      ? Effect.sync(() => unsafeRefund(monotonicMillis(clock), req, reservation))
      : atomic !== undefined
      ? Effect.catchAllCause(atomic.refund(req, reservation), () => Effect.void)
      : Effect.void

  const onReservation = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    req: RL.ReserveRequest,
    reservation: RL.Reservation
  ): Effect.Effect<A, E | RateLimitExceededError, R> => {
    if (reservation.admitted) {
      if (reservation.delayMillis <= 0) {
        permitted++
        // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
        if (hub.hasSubscribers()) hub.emit({ _tag: "Permitted", policy: name, key, cost: req.tokens })
        // Stryker disable next-line ConditionalExpression: equivalent: with an infinite interval nextPublishAt is Infinity, which no clock reaches; the guard only skips reading the clock
        if (publishEvery !== Infinity) {
          const now = monotonicMillis(clock)
          if (now >= nextPublishAt) {
            nextPublishAt = now + publishEvery
            return Effect.zipRight(publish, self)
          }
        }
        return self
      }
      delayed++
      const delay = Duration.millis(reservation.delayMillis)
      // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
      if (hub.hasSubscribers()) hub.emit({ _tag: "Delayed", policy: name, key, cost: req.tokens, delay })
      // interrupted while waiting: the slot is given back (when the store can do so safely)
      // Stryker disable next-line ConditionalExpression: equivalent: a plain store's refund is Effect.void, so onInterrupt would add nothing
      const wait = atomic === undefined
        ? sleepOn(clock, reservation.delayMillis)
        : Effect.onInterrupt(sleepOn(clock, reservation.delayMillis), () => refund(req, reservation))
      return Effect.zipRight(Effect.zipRight(Metric.increment(delayedMetric), wait), self)
    }
    rejections++
    const reason: RL.RejectionReason = onExceeded === "fail"
      ? "LimitExceeded"
      // a plain store's second take may be refused for a wait that fits maxDelay, when others took the slot
      // meanwhile: that is still maxDelay's rejection unless a deadline tightened the bound
      : reservation.delayMillis > maxDelayMillis || req.maxDelayMillis === maxDelayMillis
      ? "MaxDelayExceeded"
      : "Deadline"
    // whole milliseconds, rounded up (ignoring float noise such as 599.999999)
    const retryAfter = Duration.millis(Math.max(0, Math.ceil(reservation.retryAfterMillis - 1e-6)))
    const error = RateLimitExceededError.make({
      policy: name,
      key,
      reason,
      retryAfter,
      limit,
      window: cfg.window,
      cost: req.tokens,
      remaining: reservation.remaining,
      maxDelay: onExceeded === "delay" ? cfg.maxDelay : undefined
    })
    // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
    if (hub.hasSubscribers()) {
      hub.emit({ _tag: "Rejected", policy: name, key, cost: req.tokens, reason, retryAfter })
    }
    return Effect.zipRight(Metric.increment(rejectedMetrics[reason]), Effect.fail(error))
  }

  const onStoreFailure = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    error: unknown
  ): Effect.Effect<A, E | RateLimiterStoreError, R> => {
    storeErrors++
    const allowed = onStoreError === "allow"
    // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
    if (hub.hasSubscribers()) hub.emit({ _tag: "StoreError", policy: name, key, error, allowed })
    const next: Effect.Effect<A, E | RateLimiterStoreError, R> = allowed
      ? self
      : Effect.fail(new RateLimiterStoreError({ policy: name, key, cause: error }))
    return Effect.zipRight(Metric.increment(storeErrorMetric), next)
  }

  const reserveAndRun = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    req: RL.ReserveRequest
  ): Effect.Effect<A, E | RateLimitExceededError | RateLimiterStoreError, R> =>
    Effect.matchEffect(atomic !== undefined ? atomic.reserve(req) : plainReserve(store, req), {
      onFailure: (error) => onStoreFailure(self, key, error),
      onSuccess: (reservation) => onReservation(self, key, req, reservation)
    })

  // store keys: `Keys.namespaced(name, key)`, the limiter's own limit (no key) never a keyed one
  const ownKey = Keys.namespaced(name, undefined)
  const keyPolicy: Keys.KeyPolicy = { kind: "RateLimiter", name, maxKeyLength: cfg.maxKeyLength }
  // the unkeyed, default-cost request of "fail" mode never changes: made once
  const defaultFailRequest = request(ownKey, cfg.cost, 0)

  const run = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    cost: number
  ): Effect.Effect<A, E | RateLimitExceededError | RateLimiterStoreError, R> => {
    const storeKey = key === undefined ? ownKey : Keys.namespaced(name, key)
    if (unsafeReserve !== undefined) {
      // in-process store: decide synchronously, with the limiter's clock
      // Stryker disable next-line ConditionalExpression,BlockStatement: equivalent: the general path below asks with effectiveMaxDelay, min(0, ...) = 0 in fail mode, at the same clock time: the same request
      if (maxDelayMillis === 0) {
        return Effect.suspend(() => {
        // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: an unkeyed call always has the default cost (execute requires a key), and request(storeKey, cost, 0) equals defaultFailRequest field by field; the branch only reuses the object
          const req = key === undefined && cost === cfg.cost ? defaultFailRequest : request(storeKey, cost, 0)
          return onReservation(self, key, req, unsafeReserve(monotonicMillis(clock), req))
        })
      }
      return Effect.withFiberRuntime((fiber) => {
        const now = monotonicMillis(clock)
        const req = request(storeKey, cost, effectiveMaxDelay(now, active(fiber.getFiberRef(currentDeadline))))
        return onReservation(self, key, req, unsafeReserve(now, req))
      })
    }
    // Stryker disable next-line ConditionalExpression: equivalent: the general path below asks with effectiveMaxDelay, min(0, ...) = 0 in fail mode: the same request
    if (maxDelayMillis === 0) return Effect.suspend(() => reserveAndRun(self, key, request(storeKey, cost, 0)))
    return Effect.withFiberRuntime((fiber) =>
      reserveAndRun(
        self,
        key,
        request(storeKey, cost, effectiveMaxDelay(monotonicMillis(clock), active(fiber.getFiberRef(currentDeadline))))
      )
    )
  }

  const costOf = (cost: number | undefined): number | InvalidOptionsError => {
    if (cost === undefined) return cfg.cost
    if (typeof cost === "number" && Number.isInteger(cost) && cost >= 1 && cost <= limit) return cost
    return validate.invalid("RateLimiter.execute", "cost", cost, `an integer >= 1 and <= ${limit} (the limit)`)
  }

  const runKeyed = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    options: RL.RateLimiter.ExecuteOptions
  ): Effect.Effect<A, E | RateLimitExceededError | RateLimiterStoreError | InvalidKeyError, R> => {
    const key: unknown = options?.key
    // refused before the store is asked: nothing charged, nothing stored
    if (!Keys.isValid(keyPolicy, key)) return Effect.fail(Keys.refuse(keyPolicy, key))
    const cost = costOf(options.cost)
    // a cost no call can ever get is a programming error, not a rejection
    return typeof cost === "number" ? run(self, key, cost) : Effect.die(cost)
  }

  // data-first when given an effect, data-last otherwise (a hand-written `dual`: no `arguments` object)
  const execute = (<A, E, R>(
    selfOrOptions: Effect.Effect<A, E, R> | RL.RateLimiter.ExecuteOptions,
    options?: RL.RateLimiter.ExecuteOptions
  ) =>
    options !== undefined
      ? runKeyed(selfOrOptions as Effect.Effect<A, E, R>, options)
      : <A2, E2, R2>(self: Effect.Effect<A2, E2, R2>) =>
        runKeyed(self, selfOrOptions as RL.RateLimiter.ExecuteOptions)) as RL.RateLimiter["execute"]

  const limiter = <A, E, R>(self: Effect.Effect<A, E, R>) => run(self, undefined, cfg.cost)
  const value = Object.assign(limiter, {
    [TypeId]: TypeId,
    policyName: name,
    options: cfg,
    execute,
    events: hub.stream,
    stats: (): RL.RateLimiter.Stats => ({ permitted, delayed, rejected: rejections, storeErrors })
  })
  const limiterValue = unsafeMakeCallable(value, {
    kind: "RateLimiter",
    name,
    options: {
      limit,
      window: Duration.format(cfg.window),
      algorithm,
      onExceeded,
      cost: cfg.cost,
      maxDelay: onExceeded === "delay" ? Duration.format(cfg.maxDelay) : undefined,
      onStoreError,
      store: atomic !== undefined ? "atomic" : "plain"
    }
  }) as unknown as RL.RateLimiter
  return { limiter: limiterValue, publish }
}

/** @internal */
export const make = (
  options: RL.RateLimiter.Options
): Effect.Effect<RL.RateLimiter, InvalidOptionsError, Scope.Scope> =>
  Effect.flatMap(validate.validated(() => resolve(options)), (cfg) =>
    Effect.flatMap(Effect.clock, (clock) =>
      Effect.flatMap(Effect.serviceOption(RateLimiterExperimental.RateLimiterStore), (provided) =>
        Effect.flatMap(
          Option.isSome(provided) ? Effect.succeed(provided.value) : makeMemoryStore(),
          (store) => {
            const built = build(cfg, store, clock)
            // what is left to publish when the limiter goes away
            return Effect.as(Effect.addFinalizer(() => built.publish), built.limiter)
          }
        ))))

/** @internal */
export const makeFromConfig = (
  config: Config.Config.Wrap<RL.RateLimiter.ConfigOptions>
) => Effect.flatMap(validate.fromConfig("RateLimiter.layerConfig", config), make)
