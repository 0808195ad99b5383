/**
 * The retry policy (`Retry.policy`): {@link RetryImpl} holds a policy's
 * configuration, counters, metrics and events; the retries of one failed
 * call are a {@link RetryRun}, which classifies each error, steps the
 * schedule, honours `retryAfter`, the enclosing deadline and the budget,
 * sleeps and tries again.
 *
 * The success path is one `catchAllCause` frame (which a success skips): no
 * schedule, no clock, no counter. The schedule is stepped only after the
 * first failure.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type { InvalidOptionsError } from "../../Errors.js"
import { FailedResultError, isInvalidKeyError, isRejection, retryAfterOf } from "../errors.js"
import type * as Retry from "../../Retry.js"
import { active, currentDeadline, type Deadline } from "../deadline.js"
import * as EventHub from "../events.js"
import * as metricKeys from "../metricKeys.js"
import { unsafeMakeCallable } from "../policy.js"
import * as Spec from "../spec.js"
import { monotonicMillis, sleepOn } from "../time.js"
import * as userCode from "../userCode.js"
import * as validate from "../validate.js"
import * as options_ from "./options.js"
import { MAX_DELAY_MILLIS } from "./schedule.js"

type RetryEvent = Retry.RetryEvent
type GiveUpReason = Retry.GiveUpReason
type RetryScheduled = Extract<RetryEvent, { _tag: "RetryScheduled" }>

/** @internal */
export const TypeId: Retry.TypeId = Symbol.for("effect-resilience/Retry") as Retry.TypeId

/** @internal */
export const isRetry = (u: unknown): u is Retry.Retry<unknown, unknown> => Predicate.hasProperty(u, TypeId)

// the policy's name is put in the metric key itself (metricKeys.ts): a `Metric.tagged` wrapper
// re-derives its key (and misses its hook cache) on every update, ~3 µs each (bench/README.md, note (c))
const retriesKey = MetricKey.counter("resilience_retry_retries", {
  description: "Retries scheduled by a retry policy",
  incremental: true
})
const gaveUpKey = MetricKey.counter("resilience_retry_gave_up", {
  description: "Calls on which a retry policy stopped retrying and surfaced the error",
  incremental: true
})

const spanErrorLabel = (error: unknown): string =>
  Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" ? error._tag : typeof error

/**
 * A retry policy: its configuration, its user-code sites, its counters,
 * metrics and events.
 *
 * @internal
 */
class RetryImpl<EIn, R> {
  readonly hub = EventHub.make<RetryEvent>()
  readonly retries: Metric.Metric.Counter<number>
  readonly gaveUp: Metric.Metric.Counter<number>
  // user code: a throw or a non-boolean answer is reported and answered by the safe default
  readonly whileSite: userCode.Site
  readonly untilSite: userCode.Site
  readonly rejectionsSite: userCode.Site
  readonly onRetrySite: userCode.Site
  readonly whenResultSite: userCode.Site
  failedCalls = 0
  retryCount = 0
  gaveUpCount = 0

  constructor(readonly config: options_.Config<EIn, R>) {
    const name = config.name
    this.retries = metricKeys.tagged(retriesKey, [["policy", name]])
    this.gaveUp = metricKeys.tagged(gaveUpKey, [["policy", name]])
    this.whileSite = userCode.site("Retry", name, "while", "not retried")
    this.untilSite = userCode.site("Retry", name, "until", "not retried")
    this.rejectionsSite = userCode.site("Retry", name, "retryRejections", "the rejection is not retried")
    this.onRetrySite = userCode.site("Retry", name, "onRetry", "ignored, the retry proceeds")
    this.whenResultSite = userCode.site("Retry", name, "whenResult", "the value is accepted (not retried)")
  }

  /** Runs `self`; its first typed failure starts a {@link RetryRun}. Defects and interruptions pass. */
  run<A, E extends EIn, Rx>(self: Effect.Effect<A, E, Rx>): Effect.Effect<A, E, Rx | R> {
    // The success path is one `catchAllCause` frame (which a success skips): no schedule, no
    // clock, no counter. `catchAll` would cost a second frame and an extra step per success.
    return Effect.catchAllCause(self, (cause) => this.firstFailed(self, cause))
  }

  /** The first attempt of a call failed with `cause`: its typed failure starts a {@link RetryRun}. */
  private firstFailed<A, E extends EIn, Rx>(self: Effect.Effect<A, E, Rx>, cause: Cause.Cause<E>): Effect.Effect<A, E, Rx | R> {
    const failure = Cause.failureOrCause(cause)
    if (Either.isRight(failure)) return Effect.failCause(failure.right) // defects, interruptions
    this.failedCalls++
    return Effect.clockWith((clock) =>
      Effect.flatMap(
        FiberRef.get(currentDeadline),
        (inherited) => new RetryRun<A, E, Rx, EIn, R>(this, self, clock, inherited).loop(failure.left)
      )
    )
  }

  /**
   * {@link run} for a policy with `whenResult`: a success whose value the
   * predicate rejects starts a {@link RetryRun} too (only this path checks values).
   */
  runOnResult<A, E extends EIn, Rx>(self: Effect.Effect<A, E, Rx>): Effect.Effect<A, E, Rx | R> {
    return Effect.matchCauseEffect(self, {
      onFailure: (cause) => this.firstFailed(self, cause),
      onSuccess: (value) => {
        if (!this.rejects(value)) return Effect.succeed(value)
        this.failedCalls++
        return Effect.clockWith((clock) =>
          Effect.flatMap(
            FiberRef.get(currentDeadline),
            (inherited) => new RetryRun<A, E, Rx, EIn, R>(this, self, clock, inherited).loopResult(value)
          )
        )
      }
    })
  }

  /** Whether `whenResult` treats `value` as a failure (a throw or a non-boolean answer: no, reported). */
  rejects(value: unknown): boolean {
    return userCode.predicate(this.whenResultSite, this.config.whenResult!, value, false)
  }
  /** {@link run} for a policy with a budget: every call deposits (its deposits are what retries may spend). */
  runWithBudget<A, E extends EIn, Rx>(self: Effect.Effect<A, E, Rx>): Effect.Effect<A, E, Rx | R> {
    const run = this.config.whenResult === undefined ? this.run(self) : this.runOnResult(self)
    const budget = this.config.budget!
    return Effect.suspend(() => {
      budget.deposit()
      return run
    })
  }

  /**
   * Why `error` is not retried at all (before the count, the schedule, the
   * deadline and the budget), or undefined: the library's rejections (unless
   * `retryRejections` accepts them), a refused key, then `while`/`until`.
   */
  notRetried(error: EIn): GiveUpReason | undefined {
    const c = this.config
    if (
      isRejection(error) &&
      (c.retryRejections === undefined || !userCode.predicate(this.rejectionsSite, c.retryRejections, error, false))
    ) {
      return "Rejection"
    }
    // a key the policy refused is the caller's bug: retrying cannot fix it
    if (isInvalidKeyError(error)) return "NotRetryable"
    if (c.while !== undefined && !userCode.predicate(this.whileSite, c.while, error, false)) return "NotRetryable"
    if (c.until !== undefined && userCode.predicate(this.untilSite, c.until, error, true)) return "NotRetryable"
    return undefined
  }

  /** Surfaces `error`: counted, reported, and the metric. */
  giveUp<E>(attempt: number, reason: GiveUpReason, error: E): Effect.Effect<never, E> {
    this.gaveUpCount++
    const policy = this.config.name
    this.hub.emitWith((): RetryEvent => ({ _tag: "GaveUp", policy, attempt, reason, error }))
    return Effect.zipRight(Metric.increment(this.gaveUp), Effect.fail(error))
  }

  /**
   * Stops on a value `whenResult` rejected: counted, reported and the metric,
   * as for an error; the caller gets the value, or with
   * `failAfterMaxAttempts` a `FailedResultError` carrying it.
   */
  giveUpResult<A>(attempt: number, reason: GiveUpReason, value: A): Effect.Effect<A, never> {
    this.gaveUpCount++
    const config = this.config
    const policy = config.name
    this.hub.emitWith((): RetryEvent => ({ _tag: "GaveUp", policy, attempt, reason, error: undefined, result: { value } }))
    // with failAfterMaxAttempts the policy's type (Retry.policy) carries FailedResultError
    const outcome = (config.failAfterMaxAttempts
      ? Effect.fail(new FailedResultError({ module: "Retry", policy, value, attempts: attempt }))
      : Effect.succeed(value)) as Effect.Effect<A>
    return Effect.zipRight(Metric.increment(this.gaveUp), outcome)
  }

  /** The counters, as a snapshot (the hot-path form of `stats()`). */
  unsafeStats(): Retry.Retry.Stats {
    return { failedCalls: this.failedCalls, retries: this.retryCount, gaveUp: this.gaveUpCount }
  }
}

/**
 * The retries of one call whose first attempt failed: the schedule's state
 * and the attempt number, on the caller's clock, under the deadline the
 * call inherited.
 *
 * @internal
 */
class RetryRun<A, E extends EIn, Rx, EIn, R> {
  private state: unknown
  private attempt = 1

  constructor(
    private readonly policy: RetryImpl<EIn, R>,
    private readonly self: Effect.Effect<A, E, Rx>,
    private readonly clock: Clock.Clock,
    private readonly inherited: Deadline | undefined
  ) {
    this.state = policy.config.schedule.initial
  }

  /** Decides on `error`: gives up, or steps the schedule and retries. */
  loop(error: E): Effect.Effect<A, E, Rx | R> {
    const policy = this.policy
    const notRetried = policy.notRetried(error)
    if (notRetried !== undefined) return policy.giveUp(this.attempt, notRetried, error)
    if (this.attempt > policy.config.times) return policy.giveUp(this.attempt, "Exhausted", error)
    // monotonic: a step of the wall clock neither lengthens nor shortens a backoff (time.ts)
    const now = monotonicMillis(this.clock)
    // read at each step: the deadline ends with its timeout's region (a daemon outliving it sees none)
    const deadline = active(this.inherited)
    return Effect.flatMap(
      policy.config.schedule.step(now, error, this.state),
      ([nextState, _out, decision]) => {
        if (ScheduleDecision.isDone(decision)) return policy.giveUp(this.attempt, "ScheduleDone", error)
        this.state = nextState
        return this.retryAfter(error, false, now, deadline, ScheduleIntervals.start(decision.intervals) - now)
      }
    )
  }

  /**
   * Decides on a value `whenResult` rejected, as {@link loop} decides on an
   * error (the count, the schedule — which sees the value —, the deadline
   * and the budget; not `while`/`until`, which read errors).
   */
  loopResult(value: A): Effect.Effect<A, E, Rx | R> {
    const policy = this.policy
    if (this.attempt > policy.config.times) return policy.giveUpResult(this.attempt, "Exhausted", value)
    const now = monotonicMillis(this.clock)
    const deadline = active(this.inherited)
    return Effect.flatMap(
      policy.config.schedule.step(now, value as unknown as EIn, this.state),
      ([nextState, _out, decision]) => {
        if (ScheduleDecision.isDone(decision)) return policy.giveUpResult(this.attempt, "ScheduleDone", value)
        this.state = nextState
        return this.retryAfter(value, true, now, deadline, ScheduleIntervals.start(decision.intervals) - now)
      }
    )
  }

  /** Stops with `input`: an error, or a rejected value. */
  private stop(reason: GiveUpReason, input: unknown, isResult: boolean): Effect.Effect<A, E, R> {
    return isResult
      ? this.policy.giveUpResult(this.attempt, reason, input as A)
      : this.policy.giveUp(this.attempt, reason, input as E)
  }

  /**
   * Retries after the schedule's `delay` (or the `retryAfter` of the error or
   * rejected value), unless the deadline or the budget forbids it.
   */
  private retryAfter(
    input: unknown,
    isResult: boolean,
    now: number,
    deadline: Deadline | undefined,
    scheduled: number
  ): Effect.Effect<A, E, Rx | R> {
    const policy = this.policy
    const config = policy.config
    let delay = Math.max(0, scheduled)
    const hinted = retryAfterOf(input)
    if (Option.isSome(hinted)) delay = Math.max(delay, Math.min(Duration.toMillis(hinted.value), config.maxRetryAfter))
    // any finite delay is slept (in chunks past the timer cap); a non-finite one is capped
    if (!Number.isFinite(delay)) delay = MAX_DELAY_MILLIS
    if (deadline !== undefined && now + delay >= deadline.at) return this.stop("Deadline", input, isResult)
    if (config.budget !== undefined && !config.budget.tryWithdraw()) {
      return this.stop("BudgetExhausted", input, isResult)
    }
    policy.retryCount++
    const event: RetryScheduled = isResult
      ? {
        _tag: "RetryScheduled",
        policy: config.name,
        attempt: this.attempt,
        delay: Duration.millis(delay),
        error: undefined,
        result: { value: input }
      }
      : {
        _tag: "RetryScheduled",
        policy: config.name,
        attempt: this.attempt,
        delay: Duration.millis(delay),
        error: input
      }
    policy.hub.emitWith(() => event)
    this.attempt++
    // a zero delay only yields: a zero sleep is a timer (≥ 1 ms under the live clock)
    const wait = delay <= 0 ? Effect.yieldNow() : sleepOn(this.clock, delay)
    // onRetry runs alongside the sleep, given at most onRetryTimeout and never past the deadline
    const onRetry = config.onRetry
    const hookBound = deadline === undefined ? config.onRetryTimeout : Math.min(config.onRetryTimeout, deadline.at - now)
    const again = Effect.zipRight(
      Effect.zipRight(
        Metric.increment(policy.retries),
        onRetry === undefined ? wait : userCode.alongside(policy.onRetrySite, () => onRetry(event), hookBound, wait)
      ),
      Effect.either(this.self)
    )
    const traced = config.spans
      ? Effect.withSpan(again, "resilience.retry", {
        attributes: {
          policy: config.name,
          attempt: event.attempt + 1,
          delay_ms: delay,
          error: isResult ? "result" : spanErrorLabel(input)
        }
      })
      : again
    return Effect.flatMap(traced, this.settle)
  }

  /** The outcome of a retry: a success (unless `whenResult` rejects it) or the next decision. */
  private readonly settle = (result: Either.Either<A, E>): Effect.Effect<A, E, Rx | R> => {
    if (Either.isLeft(result)) return this.loop(result.left)
    const value = result.right
    return this.policy.config.whenResult !== undefined && this.policy.rejects(value)
      ? this.loopResult(value)
      : Effect.succeed(value)
  }
}

/** @internal */
export const make = <EIn = unknown, R = never>(options: Retry.Options<EIn, R> = {}): Retry.Retry<EIn, R> => {
  const config = options_.parse(options)
  const impl = new RetryImpl<EIn, R>(config)
  // bound once: the policy calls the implementation directly
  const retry = config.budget !== undefined
    ? <A, E extends EIn, Rx>(self: Effect.Effect<A, E, Rx>): Effect.Effect<A, E, Rx | R> => impl.runWithBudget(self)
    : config.whenResult === undefined
    ? <A, E extends EIn, Rx>(self: Effect.Effect<A, E, Rx>): Effect.Effect<A, E, Rx | R> => impl.run(self)
    : <A, E extends EIn, Rx>(self: Effect.Effect<A, E, Rx>): Effect.Effect<A, E, Rx | R> => impl.runOnResult(self)
  const stats = Effect.sync(() => impl.unsafeStats())
  const value = Object.assign(retry, {
    [TypeId]: TypeId,
    policyName: config.name,
    events: impl.hub.stream,
    stats: () => stats,
    unsafeStats: () => impl.unsafeStats()
  })
  return unsafeMakeCallable(value, {
    kind: "Retry",
    name: config.name,
    options: {
      times: config.forever ? "forever" : config.times,
      maxRetryAfter: Duration.format(Duration.millis(config.maxRetryAfter)),
      budget: config.budget === undefined ? undefined : config.budget.options,
      while: config.while !== undefined,
      until: config.until !== undefined,
      whenResult: config.whenResult !== undefined,
      failAfterMaxAttempts: config.failAfterMaxAttempts
    }
  }) as unknown as Retry.Retry<EIn, R>
}

/** `Retry.policy`: {@link make}, typed on the values of a `whenResult` and on `failAfterMaxAttempts`' error. @internal */
export const policy: typeof Retry.policy = make as typeof Retry.policy

/** @internal */
export const tags = <const Tags extends ReadonlyArray<string>>(
  ...tags: Tags
): (error: unknown) => error is { readonly _tag: Tags[number] } => {
  tags.forEach((tag, i) => validate.nonEmptyString("Retry.tags", `tags[${i}]`, tag))
  const set = new Set<string>(tags)
  return (error): error is { readonly _tag: Tags[number] } =>
    Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" && set.has(error._tag)
}

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504])

/** @internal */
export const isTransient = (error: unknown): boolean => {
  if (isRejection(error)) return false
  if (Predicate.hasProperty(error, Cause.TimeoutExceptionTypeId)) return true
  if (Option.isSome(retryAfterOf(error))) return true
  if (Predicate.isTagged(error, "RequestError")) return (error as any).reason === "Transport"
  if (Predicate.isTagged(error, "ResponseError")) {
    const status = (error as any).response?.status
    return typeof status === "number" && TRANSIENT_STATUS.has(status)
  }
  return false
}

/** @internal */
export const config: Config.Config<Retry.ConfigOptions> = options_.spec.config as Config.Config<any>

/** @internal */
export const fromConfig = (
  config: Config.Config.Wrap<Retry.ConfigOptions>,
  code?: Retry.CodeOptions<any, any>,
  module = "Retry.fromConfig"
): Effect.Effect<Retry.Retry<any, any>, InvalidOptionsError | ConfigError.ConfigError> =>
  Effect.flatMap(
    Spec.readConfig<Retry.Options<any, any>>(options_.spec, module, config, code),
    (options) => validate.validated(() => make(options))
  )

/** @internal */
export const layer = <I, S, EIn = unknown, R = never>(
  tag: Context.Tag<I, S>,
  options: Retry.Options<EIn, R> & ([Retry.Retry<EIn, R>] extends [S] ? unknown : never)
): Layer.Layer<I, InvalidOptionsError> => Layer.effect(tag, validate.validated(() => make(options) as unknown as S))

/** @internal */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<Retry.ConfigOptions>,
  code?: Retry.CodeOptions<any, any>
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.effect(tag, fromConfig(config, code, "Retry.layerConfig") as unknown as Effect.Effect<S, InvalidOptionsError | ConfigError.ConfigError>)
