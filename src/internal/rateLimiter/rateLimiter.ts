/**
 * The rate limiter policy: one {@link RateLimiterImpl} per limiter, the
 * callable built around it.
 *
 * With a store that implements the atomic extension (our memory store), one
 * `reserve` per call decides and charges; in-process stores are called
 * synchronously on the hot path (`unsafeReserve`). With a plain experimental
 * store the decision is `plainReserve`'s protocol (see `store.ts`).
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type { InvalidKeyError, InvalidOptionsError } from "../../Errors.js"
import type * as RL from "../../RateLimiter.js"
import { active, currentDeadline, type Deadline } from "../deadline.js"
import * as EventHub from "../events.js"
import * as Keys from "../keys.js"
import * as metricKeys from "../metricKeys.js"
import { unsafeMakeCallable } from "../policy.js"
import * as Spec from "../spec.js"
import { monotonicMillis, sleepOn } from "../time.js"
import * as validate from "../validate.js"
import { RateLimiterStoreError, RateLimitExceededError } from "./errors.js"
import { storeFor } from "./memoryStore.js"
import * as Options from "./options.js"
import { costOf, resolve } from "./options.js"
import { AtomicStoreTypeId, plainReserve, type PlainStore } from "./store.js"

/** The same symbol as `RateLimiter.TypeId` (`Symbol.for`). @internal */
export const TypeId: RL.TypeId = Symbol.for("effect-resilience/RateLimiter") as RL.TypeId

/** @internal */
export const isRateLimiter = (u: unknown): u is RL.RateLimiter =>
  typeof u === "function" && Predicate.hasProperty(u, TypeId)

/**
 * A delayed call must start strictly before the enclosing deadline: one that
 * would start within this margin of it (in ms) is rejected instead.
 */
const DEADLINE_MARGIN_MILLIS = 0.001

const rejectedKey = MetricKey.counter("resilience_rate_limiter_rejected", {
  description: "Calls a rate limiter rejected",
  incremental: true
})
const delayedKey = MetricKey.counter("resilience_rate_limiter_delayed", {
  description: "Calls a rate limiter made wait for their slot",
  incremental: true
})
const permittedKey = MetricKey.counter("resilience_rate_limiter_permitted", {
  description: "Calls a rate limiter ran at once (published in batches, at most once per metricsInterval)",
  incremental: true
})
const storeErrorKey = MetricKey.counter("resilience_rate_limiter_store_errors", {
  description: "Rate limiter store failures",
  incremental: true
})

type Rejections = RateLimitExceededError | RateLimiterStoreError

/**
 * The state and behaviour of one limiter. Counters are plain numbers on the
 * success path; `permitted` is published to its metric in batches
 * ({@link RateLimiterImpl.publish}).
 *
 * @internal
 */
export class RateLimiterImpl {
  readonly windowMillis: number
  /** 0 in `"fail"` mode, `Infinity` when unbounded. */
  readonly maxDelayMillis: number
  readonly atomic: RL.AtomicStore[RL.AtomicStoreTypeId] | undefined
  readonly unsafeReserve: ((now: number, request: RL.ReserveRequest) => RL.Reservation) | undefined
  readonly unsafeRefund: ((now: number, request: RL.ReserveRequest, reservation: RL.Reservation) => void) | undefined
  readonly hub = EventHub.make<RL.RateLimiterEvent>()
  readonly rejectedMetrics: Record<RL.RejectionReason, Metric.Metric.Counter<number>>
  readonly delayedMetric: Metric.Metric.Counter<number>
  readonly storeErrorMetric: Metric.Metric.Counter<number>
  readonly permittedMetric: Metric.Metric.Counter<number>
  /** How often the permitted count is published (ms): by the first call permitted after each interval. */
  readonly publishEvery: number
  /** The store key of the limiter's own limit (no key): never a keyed one (see `Keys.namespaced`). */
  readonly ownKey: string
  readonly keyPolicy: Keys.KeyPolicy
  /** The unkeyed, default-cost request of `"fail"` mode never changes: made once. */
  readonly defaultFailRequest: RL.ReserveRequest
  permitted = 0
  published = 0
  nextPublishAt: number
  delayed = 0
  rejections = 0
  storeErrors = 0

  constructor(
    readonly cfg: RL.RateLimiter.Resolved,
    readonly store: PlainStore,
    readonly clock: Clock.Clock
  ) {
    const name = cfg.name
    this.windowMillis = Duration.toMillis(cfg.window)
    this.maxDelayMillis = Duration.toMillis(cfg.maxDelay)
    this.atomic = AtomicStoreTypeId in store ? (store as unknown as RL.AtomicStore)[AtomicStoreTypeId] : undefined
    this.unsafeReserve = this.atomic?.unsafeReserve
    this.unsafeRefund = this.atomic?.unsafeRefund
    this.rejectedMetrics = {
      LimitExceeded: metricKeys.tagged(rejectedKey, [["policy", name], ["reason", "LimitExceeded"]]),
      MaxDelayExceeded: metricKeys.tagged(rejectedKey, [["policy", name], ["reason", "MaxDelayExceeded"]]),
      Deadline: metricKeys.tagged(rejectedKey, [["policy", name], ["reason", "Deadline"]])
    }
    this.delayedMetric = metricKeys.tagged(delayedKey, [["policy", name]])
    this.storeErrorMetric = metricKeys.tagged(storeErrorKey, [["policy", name]])
    this.permittedMetric = metricKeys.tagged(permittedKey, [["policy", name]])
    this.publishEvery = Duration.toMillis(cfg.metricsInterval)
    this.nextPublishAt = monotonicMillis(clock) + this.publishEvery
    this.ownKey = Keys.namespaced(name, undefined)
    this.keyPolicy = { kind: "RateLimiter", name, maxKeyLength: cfg.maxKeyLength }
    this.defaultFailRequest = this.request(this.ownKey, cfg.cost, 0)
  }

  /** Adds the calls permitted since the last publication to the `permitted` counter. */
  readonly publish: Effect.Effect<void> = Effect.suspend(() => {
    const delta = this.permitted - this.published
    this.published = this.permitted
    return delta === 0 ? Effect.void : Metric.incrementBy(this.permittedMetric, delta)
  })

  unsafeStats(): RL.RateLimiter.Stats {
    return { permitted: this.permitted, delayed: this.delayed, rejected: this.rejections, storeErrors: this.storeErrors }
  }

  request(key: string, tokens: number, maxDelay: number): RL.ReserveRequest {
    const cfg = this.cfg
    return {
      key,
      algorithm: cfg.algorithm,
      tokens,
      limit: cfg.limit,
      windowMillis: this.windowMillis,
      maxDelayMillis: maxDelay
    }
  }

  /** The longest a call may wait now: `maxDelay`, shortened by the enclosing deadline. */
  effectiveMaxDelay(now: number, deadline: Deadline | undefined): number {
    return deadline === undefined
      ? this.maxDelayMillis
      : Math.min(this.maxDelayMillis, Math.max(0, deadline.at - now - DEADLINE_MARGIN_MILLIS))
  }

  /** Gives back an interrupted waiter's tokens; plain stores get no refund (see `store.ts`). */
  refund(req: RL.ReserveRequest, reservation: RL.Reservation): Effect.Effect<void> {
    const unsafeRefund = this.unsafeRefund
    if (unsafeRefund !== undefined) {
      return Effect.sync(() => unsafeRefund(monotonicMillis(this.clock), req, reservation))
    }
    const atomic = this.atomic
    return atomic !== undefined ? Effect.catchAllCause(atomic.refund(req, reservation), () => Effect.void) : Effect.void
  }

  /** Runs `self` at once, after its wait, or fails it, as the store's answer says. */
  onReservation<A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    req: RL.ReserveRequest,
    reservation: RL.Reservation
  ): Effect.Effect<A, E | RateLimitExceededError, R> {
    if (reservation.admitted) {
      if (reservation.delayMillis <= 0) return this.permit(self, key, req)
      return this.delay(self, key, req, reservation)
    }
    return this.reject(key, req, reservation)
  }

  permit<A, E, R>(self: Effect.Effect<A, E, R>, key: string | undefined, req: RL.ReserveRequest): Effect.Effect<A, E, R> {
    this.permitted++
    this.hub.emitWith(() => ({ _tag: "Permitted", policy: this.cfg.name, key, cost: req.tokens }))
    // Stryker disable next-line ConditionalExpression: equivalent: with an infinite interval nextPublishAt is Infinity, which no clock reaches; the guard only skips reading the clock
    if (this.publishEvery !== Infinity) {
      const now = monotonicMillis(this.clock)
      if (now >= this.nextPublishAt) {
        this.nextPublishAt = now + this.publishEvery
        return Effect.zipRight(this.publish, self)
      }
    }
    return self
  }

  delay<A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    req: RL.ReserveRequest,
    reservation: RL.Reservation
  ): Effect.Effect<A, E, R> {
    this.delayed++
    const delay = Duration.millis(reservation.delayMillis)
    this.hub.emitWith(() => ({ _tag: "Delayed", policy: this.cfg.name, key, cost: req.tokens, delay }))
    // interrupted while waiting: the slot is given back (when the store can do so safely)
    // Stryker disable next-line ConditionalExpression: equivalent: a plain store's refund is Effect.void, so onInterrupt would add nothing
    const wait = this.atomic === undefined
      ? sleepOn(this.clock, reservation.delayMillis)
      : Effect.onInterrupt(sleepOn(this.clock, reservation.delayMillis), () => this.refund(req, reservation))
    return Effect.zipRight(Effect.zipRight(Metric.increment(this.delayedMetric), wait), self)
  }

  reject(
    key: string | undefined,
    req: RL.ReserveRequest,
    reservation: RL.Reservation
  ): Effect.Effect<never, RateLimitExceededError> {
    this.rejections++
    const cfg = this.cfg
    const reason: RL.RejectionReason = cfg.onExceeded === "fail"
      ? "LimitExceeded"
      // a plain store's second take may be refused for a wait that fits maxDelay, when others took the slot
      // meanwhile: that is still maxDelay's rejection unless a deadline tightened the bound
      : reservation.delayMillis > this.maxDelayMillis || req.maxDelayMillis === this.maxDelayMillis
      ? "MaxDelayExceeded"
      : "Deadline"
    // whole milliseconds, rounded up (ignoring float noise such as 599.999999)
    const retryAfter = Duration.millis(Math.max(0, Math.ceil(reservation.retryAfterMillis - 1e-6)))
    const error = RateLimitExceededError.make({
      policy: cfg.name,
      key,
      reason,
      retryAfter,
      limit: cfg.limit,
      window: cfg.window,
      cost: req.tokens,
      remaining: reservation.remaining,
      maxDelay: cfg.onExceeded === "delay" ? cfg.maxDelay : undefined
    })
    this.hub.emitWith(() => ({ _tag: "Rejected", policy: cfg.name, key, cost: req.tokens, reason, retryAfter }))
    return Effect.zipRight(Metric.increment(this.rejectedMetrics[reason]), Effect.fail(error))
  }

  onStoreFailure<A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    error: unknown
  ): Effect.Effect<A, E | RateLimiterStoreError, R> {
    this.storeErrors++
    const name = this.cfg.name
    const allowed = this.cfg.onStoreError === "allow"
    this.hub.emitWith(() => ({ _tag: "StoreError", policy: name, key, error, allowed }))
    const next: Effect.Effect<A, E | RateLimiterStoreError, R> = allowed
      ? self
      : Effect.fail(new RateLimiterStoreError({ policy: name, key, cause: error }))
    return Effect.zipRight(Metric.increment(this.storeErrorMetric), next)
  }

  /** Asks an effectful store (atomic or plain), then runs or rejects `self`. */
  reserveAndRun<A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    req: RL.ReserveRequest
  ): Effect.Effect<A, E | Rejections, R> {
    const atomic = this.atomic
    return Effect.matchEffect(atomic !== undefined ? atomic.reserve(req) : plainReserve(this.store, req), {
      onFailure: (error) => this.onStoreFailure(self, key, error),
      onSuccess: (reservation) => this.onReservation(self, key, req, reservation)
    })
  }

  /** Runs `self` under the limit of `key` (`undefined`: the limiter's own limit), taking `cost` tokens. */
  run<A, E, R>(self: Effect.Effect<A, E, R>, key: string | undefined, cost: number): Effect.Effect<A, E | Rejections, R> {
    const storeKey = key === undefined ? this.ownKey : Keys.namespaced(this.cfg.name, key)
    const unsafeReserve = this.unsafeReserve
    if (unsafeReserve !== undefined) {
      // in-process store: decide synchronously, with the limiter's clock
      // Stryker disable next-line ConditionalExpression,BlockStatement: equivalent: the general path below asks with effectiveMaxDelay, min(0, ...) = 0 in fail mode, at the same clock time: the same request
      if (this.maxDelayMillis === 0) {
        return Effect.suspend(() => {
          // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: an unkeyed call always has the default cost (execute requires a key), and request(storeKey, cost, 0) equals defaultFailRequest field by field; the branch only reuses the object
          const req = key === undefined && cost === this.cfg.cost ? this.defaultFailRequest : this.request(storeKey, cost, 0)
          return this.onReservation(self, key, req, unsafeReserve(monotonicMillis(this.clock), req))
        })
      }
      return Effect.withFiberRuntime((fiber) => {
        const now = monotonicMillis(this.clock)
        const req = this.request(storeKey, cost, this.effectiveMaxDelay(now, active(fiber.getFiberRef(currentDeadline))))
        return this.onReservation(self, key, req, unsafeReserve(now, req))
      })
    }
    // Stryker disable next-line ConditionalExpression: equivalent: the general path below asks with effectiveMaxDelay, min(0, ...) = 0 in fail mode: the same request
    if (this.maxDelayMillis === 0) return Effect.suspend(() => this.reserveAndRun(self, key, this.request(storeKey, cost, 0)))
    return Effect.withFiberRuntime((fiber) =>
      this.reserveAndRun(
        self,
        key,
        this.request(
          storeKey,
          cost,
          this.effectiveMaxDelay(monotonicMillis(this.clock), active(fiber.getFiberRef(currentDeadline)))
        )
      )
    )
  }

  /** `execute`: a refused key fails before the store is asked (nothing charged, nothing stored). */
  runKeyed<A, E, R>(
    self: Effect.Effect<A, E, R>,
    options: RL.RateLimiter.ExecuteOptions
  ): Effect.Effect<A, E | Rejections | InvalidKeyError, R> {
    const key: unknown = options?.key
    if (!Keys.isValid(this.keyPolicy, key)) return Effect.fail(Keys.refuse(this.keyPolicy, key))
    const cost = costOf(this.cfg, options.cost)
    // a cost no call can ever get is a programming error, not a rejection
    return typeof cost === "number" ? this.run(self, key, cost) : Effect.die(cost)
  }
}

/** The callable policy around an implementation. @internal */
export const unsafeMakeLimiter = (impl: RateLimiterImpl): RL.RateLimiter => {
  const cfg = impl.cfg
  const cost = cfg.cost
  const limiter = <A, E, R>(self: Effect.Effect<A, E, R>) => impl.run(self, undefined, cost)
  const execute: RL.RateLimiter["execute"] = dual(
    2,
    <A, E, R>(self: Effect.Effect<A, E, R>, options: RL.RateLimiter.ExecuteOptions) => impl.runKeyed(self, options)
  )
  const unsafeStats = () => impl.unsafeStats()
  const members = {
    [TypeId]: TypeId,
    policyName: cfg.name,
    options: cfg,
    execute,
    events: impl.hub.stream,
    stats: () => Effect.sync(unsafeStats),
    unsafeStats
  }
  return unsafeMakeCallable(Object.assign(limiter, members), {
    kind: "RateLimiter",
    name: cfg.name,
    options: {
      limit: cfg.limit,
      window: Duration.format(cfg.window),
      algorithm: cfg.algorithm,
      onExceeded: cfg.onExceeded,
      cost,
      maxDelay: cfg.onExceeded === "delay" ? Duration.format(cfg.maxDelay) : undefined,
      onStoreError: cfg.onStoreError,
      store: impl.atomic !== undefined ? "atomic" : "plain"
    }
  }) as unknown as RL.RateLimiter
}

/** @internal */
export const make = (
  options: RL.RateLimiter.Options
): Effect.Effect<RL.RateLimiter, InvalidOptionsError, Scope.Scope> =>
  Effect.flatMap(validate.validated(() => resolve(options)), (cfg) =>
    Effect.flatMap(Effect.clock, (clock) =>
      Effect.flatMap(storeFor, (store) => {
        const impl = new RateLimiterImpl(cfg, store, clock)
        // what is left to publish when the limiter goes away
        return Effect.as(Effect.addFinalizer(() => impl.publish), unsafeMakeLimiter(impl))
      })))

/** @internal */
export const layer = <I, S>(
  tag: Context.Tag<I, S>,
  options: RL.RateLimiter.Options
): Layer.Layer<I, InvalidOptionsError> =>
  Layer.scoped(tag, make(options) as unknown as Effect.Effect<S, InvalidOptionsError, Scope.Scope>)

/** @internal */
export const config: Config.Config<RL.RateLimiter.ConfigOptions> = Options.spec.config as Config.Config<any>

/** @internal */
export const fromConfig = (
  config: Config.Config.Wrap<RL.RateLimiter.ConfigOptions>,
  module = "RateLimiter.fromConfig"
): Effect.Effect<RL.RateLimiter, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> =>
  Effect.flatMap(Spec.readConfig<RL.RateLimiter.Options>(Options.spec, module, config), make)

/** @internal */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<RL.RateLimiter.ConfigOptions>
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.scoped(
    tag,
    fromConfig(config, "RateLimiter.layerConfig") as unknown as Effect.Effect<
      S,
      InvalidOptionsError | ConfigError.ConfigError,
      Scope.Scope
    >
  )
