/**
 * Retries with backoff and jitter, typed classification, `retryAfter` and a
 * shared retry budget.
 *
 * - Schedules: {@link exponential}, {@link linear}, {@link constant}, with
 *   jitter drawn from Effect's `Random` (a seeded `Random` reproduces a run).
 * - {@link policy} retries typed failures (never defects or interruption).
 *   By default every typed failure is retried except the library's own
 *   load-shedding rejections (`Errors.isRejection`: an open circuit, a full
 *   bulkhead); `while`/`until` narrow it by the typed error.
 * - An error's `retryAfter` is honoured: the next delay is the larger of the
 *   backoff and `retryAfter`, capped by `maxRetryAfter`.
 * - Inside a timeout, retry never starts a sleep that would end after the
 *   enclosing deadline: it gives up at once with the last error.
 * - A {@link Budget} shared across calls caps retries to a ratio of calls.
 *
 * The success path does no schedule work: the schedule is stepped only after
 * the first failure.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleInterval from "effect/ScheduleInterval"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as Stream from "effect/Stream"
import { type InvalidOptionsError, isInvalidKeyError, isRejection, type Rejection, retryAfterOf } from "./Errors.js"
import { active, currentDeadline } from "./internal/deadline.js"
import { monotonicMillis, sleepOn } from "./internal/time.js"
import * as EventHub from "./internal/events.js"
import * as userCode from "./internal/userCode.js"
import * as validate from "./internal/validate.js"
import type { Policy } from "./Policy.js"
import { unsafeMakeCallable } from "./internal/policy.js"

/**
 * The largest delay a schedule produces: 2^31 - 1 ms (~24.8 days), Node's
 * timer limit. Larger delays (or overflowing backoff) are clamped to it, so
 * a high attempt count never produces `Infinity`, `NaN` or a negative delay.
 *
 * @since 0.1.0
 * @category Models
 */
export const MAX_DELAY_MILLIS = 2_147_483_647

/**
 * How random noise is added to a delay `d`:
 * - `"none"`: `d`;
 * - `"full"`: uniform in `[0, d]`;
 * - `"equal"`: `d/2` + uniform in `[0, d/2]`;
 * - `"decorrelated"` (exponential only): AWS's decorrelated jitter,
 *   `min(max, uniform(base, previous * 3))`.
 *
 * @since 0.1.0
 * @category Models
 */
export type Jitter = "none" | "full" | "equal" | "decorrelated"

const JITTERS: ReadonlyArray<Jitter> = ["none", "full", "equal", "decorrelated"]

const applyJitter = (jitter: Jitter, d: number, random: number): number => {
  switch (jitter) {
    case "full":
      return random * d
    case "equal":
      return d / 2 + random * (d / 2)
    default:
      return d
  }
}

const clampDelay = (d: number): number => (Number.isFinite(d) ? Math.min(Math.max(0, d), MAX_DELAY_MILLIS) : MAX_DELAY_MILLIS)

const delaySchedule = <S>(
  initial: S,
  next: (state: S, random: number) => readonly [S, number],
  needsRandom: boolean
): Schedule.Schedule<Duration.Duration> =>
  Schedule.makeWithState<S, unknown, Duration.Duration>(initial, (now, _input, state) => {
    const step = (random: number) => {
      const [nextState, raw] = next(state, random)
      const delay = clampDelay(raw)
      return [
        nextState,
        Duration.millis(delay),
        ScheduleDecision.continueWith(ScheduleInterval.after(now + delay))
      ] as const
    }
    return needsRandom ? Effect.map(Random.next, step) : Effect.succeed(step(0))
  })

/**
 * The cap of each delay: `max` (which must be >= `base`, both compared as
 * given), else {@link MAX_DELAY_MILLIS}; never more than MAX_DELAY_MILLIS,
 * and never less than `base` (a `base` beyond it is clamped like every delay).
 */
const cappedMax = (m: string, base: number, max: unknown): number => {
  if (max === undefined) return Math.max(base, MAX_DELAY_MILLIS)
  const given = Duration.toMillis(validate.duration(m, "max", max))
  if (given < base) throw validate.invalid(m, "max", max, `a duration >= base (${Duration.format(Duration.millis(base))})`)
  return given
}

/**
 * Options of {@link exponential}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface ExponentialOptions {
  /** The first delay. */
  readonly base: Duration.DurationInput
  /** Growth factor per retry, `>= 1`. Defaults to 2. */
  readonly factor?: number | undefined
  /** Caps each delay (not the total). Defaults to {@link MAX_DELAY_MILLIS}. */
  readonly max?: Duration.DurationInput | undefined
  /** Defaults to `"none"`. */
  readonly jitter?: Jitter | undefined
}

/**
 * Exponential backoff: `base * factor^n` for the n-th retry (n from 0),
 * capped by `max`, with optional jitter. Outputs the delay. Never overflows:
 * past the cap every delay is the cap. Throws `InvalidOptionsError` for
 * invalid options.
 *
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 *
 * // 100ms, 200ms, 400ms, … capped at 5s, each drawn uniformly from [0, d]
 * const schedule = Retry.exponential({ base: "100 millis", max: "5 seconds", jitter: "full" })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const exponential = (options: ExponentialOptions): Schedule.Schedule<Duration.Duration> => {
  const m = "Retry.exponential"
  options = validate.options(m, options)
  const base = Duration.toMillis(validate.duration(m, "base", options.base))
  const factor = validate.optionalNumber(m, "factor", options.factor, { min: 1 }) ?? 2
  const max = cappedMax(m, base, options.max)
  const jitter = options.jitter === undefined ? "none" : validate.oneOf(m, "jitter", options.jitter, JITTERS)
  if (jitter === "decorrelated") {
    return delaySchedule<number>(base, (previous, random) => {
      const upper = Math.min(max, Math.max(base, previous * 3))
      const d = Math.min(max, base + random * (upper - base))
      return [d, d] as const
    }, true)
  }
  return delaySchedule<number>(0, (n, random) => {
    const raw = base * Math.pow(factor, n)
    const capped = Number.isFinite(raw) ? Math.min(raw, max) : max
    // stop growing the exponent once capped: no overflow at any attempt count
    const nextN = capped >= max ? n : n + 1
    return [nextN, applyJitter(jitter, capped, random)] as const
  }, jitter !== "none")
}

/**
 * Options of {@link linear}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface LinearOptions {
  /** The first delay. */
  readonly base: Duration.DurationInput
  /** Added per retry. Defaults to `base`. */
  readonly step?: Duration.DurationInput | undefined
  /** Caps each delay. */
  readonly max?: Duration.DurationInput | undefined
  /** `"none"`, `"full"` or `"equal"`. Defaults to `"none"`. */
  readonly jitter?: Exclude<Jitter, "decorrelated"> | undefined
}

/**
 * Linear backoff: `base + n * step` for the n-th retry, capped by `max`.
 *
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 *
 * const schedule = Retry.linear({ base: "100 millis", step: "50 millis", max: "1 second" }) // 100, 150, 200, …
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const linear = (options: LinearOptions): Schedule.Schedule<Duration.Duration> => {
  const m = "Retry.linear"
  options = validate.options(m, options)
  const base = Duration.toMillis(validate.duration(m, "base", options.base))
  const step = options.step === undefined
    ? base
    : Duration.toMillis(validate.duration(m, "step", options.step, { allowZero: true }))
  const max = cappedMax(m, base, options.max)
  const jitter = options.jitter === undefined ? "none" : validate.oneOf(m, "jitter", options.jitter, ["none", "full", "equal"])
  return delaySchedule<number>(0, (n, random) => {
    const capped = Math.min(max, base + n * step)
    return [capped >= max ? n : n + 1, applyJitter(jitter, capped, random)] as const
  }, jitter !== "none")
}

/**
 * The same delay before every retry, with optional jitter.
 *
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 *
 * const schedule = Retry.constant("200 millis", { jitter: "equal" }) // each in [100ms, 200ms]
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const constant = (
  delay: Duration.DurationInput,
  options: { readonly jitter?: Exclude<Jitter, "decorrelated"> | undefined } = {}
): Schedule.Schedule<Duration.Duration> => {
  const m = "Retry.constant"
  const d = Duration.toMillis(validate.duration(m, "delay", delay, { allowZero: true }))
  options = validate.options(m, options)
  const jitter = options.jitter === undefined ? "none" : validate.oneOf(m, "jitter", options.jitter, ["none", "full", "equal"])
  return delaySchedule<number>(0, (n, random) => [n, applyJitter(jitter, d, random)] as const, jitter !== "none")
}

/**
 * A retry budget shared across calls: retries may add at most `ratio` of the
 * calls made within the last `window`, plus a floor of `minRetriesPerSecond`
 * (tower's and Finagle's retry budgets are the model). Every call through a
 * policy that uses the budget deposits; every retry withdraws one. When the
 * budget is empty the original error surfaces at once, so a fleet does not
 * multiply its load on a failing dependency.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Budget {
  /** Records a call (first attempt). */
  readonly deposit: () => void
  /** Takes one retry from the budget; false when it is empty. */
  readonly tryWithdraw: () => boolean
  /** Retries the budget allows right now. */
  readonly available: () => number
  readonly options: Budget.Options
}

/**
 * @since 0.1.0
 */
export declare namespace Budget {
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Options {
    /** Retries allowed per call, in `[0, 1000]`; e.g. 0.2 = one retry per five calls. Defaults to 0.2. */
    readonly ratio?: number | undefined
    /** Retries always allowed per second, whatever the traffic. Defaults to 10. */
    readonly minRetriesPerSecond?: number | undefined
    /** How long a deposit counts. Defaults to 10 seconds. */
    readonly window?: Duration.DurationInput | undefined
  }
}

const BUDGET_SLOTS = 10

/**
 * Makes a retry {@link Budget}. Time is read from the `Clock` in scope when
 * the budget is made (`TestClock` in tests). Fails with
 * `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* Retry.budget({ ratio: 0.1, minRetriesPerSecond: 5, window: "10 seconds" })
 *   const retry = Retry.policy({ schedule: Retry.exponential({ base: "100 millis" }), budget })
 *   return yield* Effect.succeed("ok").pipe(retry)
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const budget = (options: Budget.Options = {}): Effect.Effect<Budget, InvalidOptionsError> =>
  Effect.flatMap(
    validate.validated(() => {
      const m = "Retry.budget"
      options = validate.options(m, options)
      return {
        ratio: validate.optionalNumber(m, "ratio", options.ratio, { min: 0, max: 1000 }) ?? 0.2,
        minPerSecond: validate.optionalNumber(m, "minRetriesPerSecond", options.minRetriesPerSecond, { min: 0 }) ?? 10,
        window: Duration.toMillis(
          validate.optionalDuration(m, "window", options.window) ?? Duration.seconds(10)
        )
      }
    }),
    ({ minPerSecond, ratio, window }) =>
      Effect.map(Effect.clock, (clock) => makeBudget(clock, ratio, minPerSecond, window, options))
  )

const makeBudget = (
  clock: Clock.Clock,
  ratio: number,
  minPerSecond: number,
  windowMillis: number,
  options: Budget.Options
): Budget => {
  const slotMillis = windowMillis / BUDGET_SLOTS
  const deposits = new Float64Array(BUDGET_SLOTS)
  const withdrawals = new Float64Array(BUDGET_SLOTS)
  const reserve = minPerSecond * (windowMillis / 1000)
  // Stryker disable next-line ArithmeticOperator: equivalent: every deposit/withdraw/read rotates first, and a wrong start slot only makes that first rotate clear slots that are all still zero
  let currentSlot = Math.floor(monotonicMillis(clock) / slotMillis)
  let depositSum = 0
  let withdrawSum = 0
  const rotate = () => {
    const slot = Math.floor(monotonicMillis(clock) / slotMillis)
    if (slot === currentSlot) return
    const steps = Math.min(slot - currentSlot, BUDGET_SLOTS)
    for (let i = 1; i <= steps; i++) {
      const idx = (currentSlot + i) % BUDGET_SLOTS
      depositSum -= deposits[idx]!
      withdrawSum -= withdrawals[idx]!
      deposits[idx] = 0
      withdrawals[idx] = 0
    }
    currentSlot = slot
  }
  const available = () => {
    rotate()
    return Math.max(0, Math.floor(reserve + depositSum * ratio - withdrawSum + 1e-9))
  }
  return {
    options,
    deposit: () => {
      rotate()
      deposits[currentSlot % BUDGET_SLOTS]! += 1
      depositSum += 1
    },
    tryWithdraw: () => {
      if (available() < 1) return false
      withdrawals[currentSlot % BUDGET_SLOTS]! += 1
      withdrawSum += 1
      return true
    },
    available
  }
}

/**
 * Why a retry policy stopped retrying and surfaced the error.
 *
 * @since 0.1.0
 * @category Models
 */
export type GiveUpReason = "Rejection" | "NotRetryable" | "Exhausted" | "ScheduleDone" | "Deadline" | "BudgetExhausted"

/**
 * What a retry policy did: the equivalent of Polly's `OnRetry`.
 *
 * @since 0.1.0
 * @category Models
 */
export type RetryEvent =
  | {
    readonly _tag: "RetryScheduled"
    readonly policy: string
    /** The attempt that failed, from 1. */
    readonly attempt: number
    readonly delay: Duration.Duration
    readonly error: unknown
  }
  | {
    readonly _tag: "GaveUp"
    readonly policy: string
    readonly attempt: number
    readonly reason: GiveUpReason
    readonly error: unknown
  }

/**
 * Options of {@link policy}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options<EIn = unknown, R = never> {
  /**
   * The backoff. Its output is ignored; its delays are used. Defaults to
   * `exponential({ base: "100 millis", max: "30 seconds", jitter: "full" })`.
   */
  readonly schedule?: Schedule.Schedule<unknown, EIn, R> | undefined
  /** Retries (not attempts) at most. Defaults to 3. Ignored with `forever`. */
  readonly times?: number | undefined
  /** Retry without a count limit (the schedule, budget and deadline still apply). */
  readonly forever?: boolean | undefined
  /**
   * Retry only errors for which this holds. If it throws or answers anything
   * but a boolean, the error is not retried (it propagates, reason
   * `"NotRetryable"`); the failure is reported (see "User code" in the docs).
   */
  readonly while?: ((error: EIn) => boolean) | undefined
  /**
   * Stop retrying at the first error for which this holds. If it throws or
   * answers anything but a boolean, retrying stops (the error propagates,
   * reason `"NotRetryable"`); the failure is reported.
   */
  readonly until?: ((error: EIn) => boolean) | undefined
  /** Caps the wait a `retryAfter` may impose. Defaults to 1 minute. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /**
   * The library's own rejections (`Errors.isRejection`: open circuit, full
   * bulkhead, exceeded rate limit) are never retried, unless this predicate
   * accepts them — e.g. `RateLimiter.isRateLimitExceededError`, so that a
   * rate-limit rejection's `retryAfter` sets the next delay. Accepted
   * rejections then go through `while`/`until` like any error. If it throws
   * or answers anything but a boolean, the rejection is not retried (reported).
   */
  readonly retryRejections?: ((rejection: Rejection) => boolean) | undefined
  /** A budget shared across calls (see {@link budget}). */
  readonly budget?: Budget | undefined
  /** A name for metrics, events and descriptors. Defaults to `"retry"`. */
  readonly name?: string | undefined
  /**
   * A span per retry (`resilience.retry`, attributes `policy`, `attempt`,
   * `delay_ms`, `error`), around the sleep and the new attempt. Off by
   * default; never on the success path (a span costs 9–14 µs here).
   */
  readonly spans?: boolean | undefined
  /**
   * Runs at each retry (Polly's `OnRetry`), alongside the backoff sleep: the
   * next attempt starts when both the sleep and the hook have ended. The hook
   * cannot break the call: a synchronous throw, an answer that is not an
   * Effect, a failure or a defect of its Effect is reported and ignored (the
   * retry proceeds), and an Effect still running after `onRetryTimeout` is
   * interrupted (in the background: it never holds the retry) and reported.
   */
  readonly onRetry?: ((event: Extract<RetryEvent, { _tag: "RetryScheduled" }>) => Effect.Effect<void>) | undefined
  /**
   * How long the next attempt waits for `onRetry` (from the moment it
   * starts, concurrently with the backoff): a duration > 0, or infinite to
   * wait for the hook however long it runs. Never past an enclosing
   * `Timeout`'s deadline. Defaults to 1 second.
   */
  readonly onRetryTimeout?: Duration.DurationInput | undefined
}

/**
 * A retry policy.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Retry<EIn = unknown, R = never> extends Policy<never, R, EIn> {
  /** The policy's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  /** Everything the policy did, as a `Stream` (one buffer per subscriber). */
  readonly events: Stream.Stream<RetryEvent>
  /** Counts since creation. */
  readonly stats: () => {
    /** Calls whose first attempt failed (successes are not counted: they cost nothing here). */
    readonly failedCalls: number
    /** Retries made. */
    readonly retries: number
    /** Calls on which the policy stopped retrying and surfaced the error. */
    readonly gaveUp: number
  }
}

const spanErrorLabel = (error: unknown): string =>
  Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" ? error._tag : typeof error

const DEFAULT_TIMES = 3
const DEFAULT_MAX_RETRY_AFTER = 60_000
const DEFAULT_ON_RETRY_TIMEOUT = 1_000
let defaultSchedule: Schedule.Schedule<Duration.Duration> | undefined

// the policy's name is put in the metric key itself: a `Metric.tagged` wrapper re-derives its key
// (and misses its hook cache) on every update, ~3 µs each (bench/README.md, note (c))
const retriesCounter = (policy: string) =>
  Metric.fromMetricKey(
    MetricKey.counter("resilience_retry_retries", {
      description: "Retries scheduled by a retry policy",
      incremental: true
    }).pipe(MetricKey.tagged("policy", policy))
  )
const gaveUpCounter = (policy: string) =>
  Metric.fromMetricKey(
    MetricKey.counter("resilience_retry_gave_up", {
      description: "Calls on which a retry policy stopped retrying and surfaced the error",
      incremental: true
    }).pipe(MetricKey.tagged("policy", policy))
  )

/**
 * Makes a retry policy. `times` counts retries, not attempts (default 3: up
 * to 4 attempts). Unbounded retrying needs `forever: true`.
 *
 * Classification: rejections made by the library (`Errors.isRejection`) are
 * never retried, nor is `Errors.InvalidKeyError` (a key a keyed policy
 * refused: the caller's bug); then `while`/`until` decide. Defects and
 * interruptions are never retried.
 *
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 * import { Data, Effect } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 * class BadRequest extends Data.TaggedError("BadRequest")<{}> {}
 *
 * const retry = Retry.policy({
 *   schedule: Retry.exponential({ base: "100 millis", jitter: "full" }),
 *   times: 3,
 *   while: (e: Unavailable | BadRequest) => e._tag === "Unavailable"
 * })
 * const call: Effect.Effect<string, Unavailable | BadRequest> = Effect.fail(new Unavailable())
 * const program = call.pipe(retry)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const policy = <EIn = unknown, R = never>(options: Options<EIn, R> = {}): Retry<EIn, R> => {
  const m = "Retry.policy"
  options = validate.options(m, options)
  const forever = validate.optionalBoolean(m, "forever", options.forever) === true
  const times = forever ? Infinity : (validate.optionalNumber(m, "times", options.times, { min: 0, integer: true }) ?? DEFAULT_TIMES)
  const whilePredicate = validate.predicate<(e: EIn) => boolean>(m, "while", options.while)
  const untilPredicate = validate.predicate<(e: EIn) => boolean>(m, "until", options.until)
  const retryRejections = validate.predicate<(e: Rejection) => boolean>(m, "retryRejections", options.retryRejections)
  const maxRetryAfter = options.maxRetryAfter === undefined
    ? DEFAULT_MAX_RETRY_AFTER
    : Duration.toMillis(validate.duration(m, "maxRetryAfter", options.maxRetryAfter, { allowZero: true }))
  if (options.schedule !== undefined && !Schedule.isSchedule(options.schedule)) {
    throw validate.invalid(m, "schedule", options.schedule, "a Schedule")
  }
  const schedule: Schedule.Schedule<unknown, EIn, R> = options.schedule ??
    (defaultSchedule ??= exponential({ base: "100 millis", max: "30 seconds", jitter: "full" }))
  const budget = options.budget
  if (
    budget !== undefined &&
    (!Predicate.isObject(budget) || typeof budget.deposit !== "function" || typeof budget.tryWithdraw !== "function")
  ) {
    throw validate.invalid(m, "budget", budget, "a Retry.budget")
  }
  const name = options.name === undefined ? "retry" : validate.nonEmptyString(m, "name", options.name)
  const onRetry = validate.predicate<NonNullable<Options<EIn, R>["onRetry"]>>(m, "onRetry", options.onRetry)
  const onRetryTimeout = options.onRetryTimeout === undefined
    ? DEFAULT_ON_RETRY_TIMEOUT
    : Duration.toMillis(validate.duration(m, "onRetryTimeout", options.onRetryTimeout, { allowInfinite: true }))
  // user code: a throw or a non-boolean answer is reported and answered by the safe default
  const whileSite = userCode.site("Retry", name, "while", "not retried")
  const untilSite = userCode.site("Retry", name, "until", "not retried")
  const rejectionsSite = userCode.site("Retry", name, "retryRejections", "the rejection is not retried")
  const onRetrySite = userCode.site("Retry", name, "onRetry", "ignored, the retry proceeds")
  const spans = validate.optionalBoolean(m, "spans", options.spans) === true
  const hub = EventHub.make<RetryEvent>()
  const retries = retriesCounter(name)
  const gaveUp = gaveUpCounter(name)
  let failedCalls = 0
  let retryCount = 0
  let gaveUpCount = 0

  const giveUp = <E>(attempt: number, reason: GiveUpReason, error: E): Effect.Effect<never, E> => {
    gaveUpCount++
    if (hub.hasSubscribers()) hub.emit({ _tag: "GaveUp", policy: name, attempt, reason, error })
    return Effect.zipRight(Metric.increment(gaveUp), Effect.fail(error))
  }

  const retryLoop = <A, E extends EIn, Rx>(
    self: Effect.Effect<A, E, Rx>,
    firstError: E
  ): Effect.Effect<A, E, Rx | R> =>
    Effect.clockWith((clock) =>
      Effect.flatMap(FiberRef.get(currentDeadline), (inherited) => {
        let state = schedule.initial
        let attempt = 1
        const loop = (error: E): Effect.Effect<A, E, Rx | R> => {
          if (
            isRejection(error) &&
            (retryRejections === undefined || !userCode.predicate(rejectionsSite, retryRejections, error, false))
          ) {
            return giveUp(attempt, "Rejection", error)
          }
          // a key the policy refused is the caller's bug: retrying cannot fix it
          if (isInvalidKeyError(error)) return giveUp(attempt, "NotRetryable", error)
          if (whilePredicate !== undefined && !userCode.predicate(whileSite, whilePredicate, error, false)) {
            return giveUp(attempt, "NotRetryable", error)
          }
          if (untilPredicate !== undefined && userCode.predicate(untilSite, untilPredicate, error, true)) {
            return giveUp(attempt, "NotRetryable", error)
          }
          if (attempt > times) return giveUp(attempt, "Exhausted", error)
          // monotonic: a step of the wall clock neither lengthens nor shortens a backoff (time.ts)
          const now = monotonicMillis(clock)
          // read at each step: the deadline ends with its timeout's region (a daemon outliving it sees none)
          const deadline = active(inherited)
          return Effect.flatMap(schedule.step(now, error, state), ([nextState, _out, decision]) => {
            if (ScheduleDecision.isDone(decision)) return giveUp(attempt, "ScheduleDone", error)
            state = nextState
            let delay = Math.max(0, ScheduleIntervals.start(decision.intervals) - now)
            const hinted = retryAfterOf(error)
            if (Option.isSome(hinted)) delay = Math.max(delay, Math.min(Duration.toMillis(hinted.value), maxRetryAfter))
            // any finite delay is slept (in chunks past the timer cap); a non-finite one is capped
            if (!Number.isFinite(delay)) delay = MAX_DELAY_MILLIS
            if (deadline !== undefined && now + delay >= deadline.at) return giveUp(attempt, "Deadline", error)
            if (budget !== undefined && !budget.tryWithdraw()) return giveUp(attempt, "BudgetExhausted", error)
            retryCount++
            const event = {
              _tag: "RetryScheduled" as const,
              policy: name,
              attempt,
              delay: Duration.millis(delay),
              error
            }
            if (hub.hasSubscribers()) hub.emit(event)
            attempt++
            // a zero delay only yields: a zero sleep is a timer (≥ 1 ms under the live clock)
            const wait = delay <= 0 ? Effect.yieldNow() : sleepOn(clock, delay)
            // onRetry runs alongside the sleep, given at most onRetryTimeout and never past the deadline
            const hookBound = deadline === undefined ? onRetryTimeout : Math.min(onRetryTimeout, deadline.at - now)
            const again = Effect.zipRight(
              Effect.zipRight(
                Metric.increment(retries),
                onRetry === undefined ? wait : userCode.alongside(onRetrySite, () => onRetry(event), hookBound, wait)
              ),
              Effect.either(self)
            )
            const traced = spans
              ? Effect.withSpan(again, "resilience.retry", {
                attributes: {
                  policy: name,
                  attempt: event.attempt + 1,
                  delay_ms: delay,
                  error: spanErrorLabel(error)
                }
              })
              : again
            return Effect.flatMap(traced, (result) =>
              Either.isRight(result) ? Effect.succeed(result.right) : loop(result.left))
          })
        }
        return loop(firstError)
      })
    )

  // The success path is one `catchAllCause` frame (which a success skips): no schedule, no
  // clock, no counter. `catchAll` would cost a second frame and an extra step per success.
  const retry = <A, E extends EIn, Rx>(self: Effect.Effect<A, E, Rx>): Effect.Effect<A, E, Rx | R> => {
    const run = Effect.catchAllCause(self, (cause) => {
      const failure = Cause.failureOrCause(cause)
      if (Either.isRight(failure)) return Effect.failCause(failure.right) // defects, interruptions
      failedCalls++
      return retryLoop(self, failure.left)
    })
    // a budget counts every call (its deposits are what retries may spend)
    return budget === undefined ? run : Effect.suspend(() => {
      budget.deposit()
      return run
    })
  }

  const value = Object.assign(retry, {
    policyName: name,
    events: hub.stream,
    stats: () => ({ failedCalls, retries: retryCount, gaveUp: gaveUpCount })
  })
  return unsafeMakeCallable(value, {
    kind: "Retry",
    name,
    options: {
      times: forever ? "forever" : times,
      maxRetryAfter: Duration.format(Duration.millis(maxRetryAfter)),
      budget: budget === undefined ? undefined : budget.options,
      while: whilePredicate !== undefined,
      until: untilPredicate !== undefined
    }
  }) as unknown as Retry<EIn, R>
}

/**
 * A predicate for `while`/`until` that matches errors by `_tag`.
 *
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 *
 * const retry = Retry.policy({ schedule: Retry.constant("1 second"), while: Retry.tags("Unavailable", "TimeoutError") })
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const tags = <const Tags extends ReadonlyArray<string>>(
  ...tags: Tags
): (error: unknown) => error is { readonly _tag: Tags[number] } => {
  tags.forEach((tag, i) => validate.nonEmptyString("Retry.tags", `tags[${i}]`, tag))
  const set = new Set<string>(tags)
  return (error): error is { readonly _tag: Tags[number] } =>
    Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" && set.has(error._tag)
}

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504])

/**
 * An opt-in predicate for errors that are usually worth retrying: timeouts
 * (anything carrying `Cause.TimeoutExceptionTypeId`, which includes this
 * library's `TimeoutError`), errors carrying `retryAfter`, `@effect/platform`
 * transport errors and responses with status 408, 429, 500, 502, 503 or 504.
 * Rejections made by the library are never transient.
 *
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 *
 * const retry = Retry.policy({ schedule: Retry.exponential({ base: "50 millis" }), while: Retry.isTransient })
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
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

/**
 * The options of a retry policy that can come from configuration (the
 * environment): an exponential backoff and the counts.
 *
 * @since 0.1.0
 * @category Models
 */
export interface ConfigOptions {
  /** Retries at most. Defaults to 3. */
  readonly times?: number | undefined
  /** First delay of the exponential backoff. Defaults to 100 millis. */
  readonly base?: Duration.DurationInput | undefined
  /** Growth factor. Defaults to 2. */
  readonly factor?: number | undefined
  /** Caps each delay. Defaults to 30 seconds (or `base`, when longer). */
  readonly max?: Duration.DurationInput | undefined
  /** Defaults to `"full"`. */
  readonly jitter?: Jitter | undefined
  /** Caps the wait a `retryAfter` may impose. Defaults to 1 minute. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  readonly name?: string | undefined
}

/**
 * Makes a retry policy from {@link ConfigOptions} (exponential backoff).
 * Throws `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 *
 * const retry = Retry.fromConfigOptions({ times: 5, base: "50 millis", jitter: "equal" })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const fromConfigOptions = (options: ConfigOptions): Retry => {
  const m = "Retry.fromConfigOptions"
  options = validate.options(m, options)
  // errors name this constructor and the option as the caller wrote it
  return validate.nested(m, (option) => option, () => {
    // (`=== undefined`, not `??`: a null from JSON or Config is a wrong value, not a missing one)
    const base = validate.duration(m, "base", options.base === undefined ? "100 millis" : options.base)
    const schedule = exponential({
      base,
      factor: options.factor,
      // the default cap never undercuts the base the caller gave
      max: options.max === undefined ? Duration.max(base, Duration.seconds(30)) : options.max,
      jitter: options.jitter === undefined ? "full" : options.jitter
    })
    return policy({ schedule, times: options.times, maxRetryAfter: options.maxRetryAfter, name: options.name })
  })
}

/**
 * Provides a retry policy under your own `Context.Tag` (see
 * `Policy.fromTag`). Fails with `InvalidOptionsError` when the options are
 * invalid.
 *
 * @example
 * ```ts
 * import { Policy, Retry } from "effect-resilience"
 * import { Context } from "effect"
 *
 * class ApiRetry extends Context.Tag("app/ApiRetry")<ApiRetry, Policy.Policy>() {}
 * const live = Retry.layer(ApiRetry, { schedule: Retry.exponential({ base: "100 millis" }), times: 3 })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer = <I, S, EIn = unknown, R = never>(
  tag: Context.Tag<I, S>,
  options: Options<EIn, R> & ([Retry<EIn, R>] extends [S] ? unknown : never)
): Layer.Layer<I, InvalidOptionsError> =>
  Layer.effect(tag, validate.validated(() => policy(options) as unknown as S))

/**
 * Provides a retry policy under your own `Context.Tag` with its options read
 * from `Config` (e.g. the environment). Invalid values fail the layer with
 * `InvalidOptionsError`; missing or malformed config with a `ConfigError`.
 *
 * @example
 * ```ts
 * import { Policy, Retry } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class ApiRetry extends Context.Tag("app/ApiRetry")<ApiRetry, Policy.Policy>() {}
 * // API_RETRY_TIMES=5 API_RETRY_BASE="200 millis"
 * const live = Retry.layerConfig(ApiRetry, {
 *   times: Config.integer("API_RETRY_TIMES").pipe(Config.withDefault(3)),
 *   base: Config.duration("API_RETRY_BASE").pipe(Config.withDefault("100 millis"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<ConfigOptions> & ([Retry] extends [S] ? unknown : never)
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.effect(
    tag,
    Effect.flatMap(validate.fromConfig("Retry.layerConfig", config as Config.Config.Wrap<ConfigOptions>), (options) =>
      validate.validated(() => fromConfigOptions(options) as unknown as S))
  )
