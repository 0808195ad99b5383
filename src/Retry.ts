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
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Stream from "effect/Stream"
import type { FailedResultError, InvalidOptionsError, Rejection } from "./Errors.js"
import * as budget_ from "./internal/retry/budget.js"
import * as internal from "./internal/retry/retry.js"
import * as schedule from "./internal/retry/schedule.js"
import type { Policy } from "./Policy.js"

export {
  /**
   * What a retry policy with `whenResult` and `failAfterMaxAttempts: true`
   * fails with when it stops retrying on a rejected value (the same class
   * as `Errors.FailedResultError`).
   *
   * @example
   * ```ts
   * import { Retry } from "effect-resilience"
   *
   * const e = new Retry.FailedResultError({ module: "Retry", policy: "api", value: 503, attempts: 4 })
   * e.message // 'Retry "api": the result of each of 4 attempt(s) was treated as a failure …'
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  FailedResultError
} from "./Errors.js"

// ---------------------------------------------------------------------------
// Type IDs

/**
 * The type id every retry policy carries (see {@link isRetry}).
 *
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 *
 * Retry.TypeId in Retry.policy({ times: 2 }) // true
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @example
 * ```ts
 * import type { Retry } from "effect-resilience"
 *
 * type Id = Retry.TypeId
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

// ---------------------------------------------------------------------------
// Schedules

/**
 * The largest delay a schedule produces: 2^31 - 1 ms (~24.8 days), Node's
 * timer limit. Larger delays (or overflowing backoff) are clamped to it, so
 * a high attempt count never produces `Infinity`, `NaN` or a negative delay.
 *
 * @since 0.1.0
 * @category Models
 */
export const MAX_DELAY_MILLIS: 2_147_483_647 = schedule.MAX_DELAY_MILLIS as 2_147_483_647

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
export const exponential: (options: ExponentialOptions) => Schedule.Schedule<Duration.Duration> = schedule.exponential

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
export const linear: (options: LinearOptions) => Schedule.Schedule<Duration.Duration> = schedule.linear

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
export const constant: (
  delay: Duration.DurationInput,
  options?: { readonly jitter?: Exclude<Jitter, "decorrelated"> | undefined }
) => Schedule.Schedule<Duration.Duration> = schedule.constant

// ---------------------------------------------------------------------------
// Budget

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
  readonly available: () => Effect.Effect<number>
  /** {@link Budget.available} read synchronously: the form for hot paths and plain functions. */
  readonly unsafeAvailable: () => number
  readonly options: Budget.Options
}

/**
 * The types that go with {@link Budget}.
 *
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
export const budget: (options?: Budget.Options) => Effect.Effect<Budget, InvalidOptionsError> = budget_.make

// ---------------------------------------------------------------------------
// Models

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
    /** The attempt's typed error (`undefined` when its result was rejected: see `result`). */
    readonly error: unknown
    /**
     * Present when the attempt succeeded with a value that `whenResult`
     * treated as a failure: `{ value }`.
     */
    readonly result?: { readonly value: unknown } | undefined
  }
  | {
    readonly _tag: "GaveUp"
    readonly policy: string
    readonly attempt: number
    readonly reason: GiveUpReason
    /** The last typed error (`undefined` when the last result was rejected: see `result`). */
    readonly error: unknown
    /**
     * Present when the last attempt succeeded with a value that `whenResult`
     * treated as a failure: the caller gets that value (or, with
     * `failAfterMaxAttempts`, a `FailedResultError`).
     */
    readonly result?: { readonly value: unknown } | undefined
  }

/**
 * Options of {@link policy}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options<EIn = unknown, R = never, A = unknown> {
  /**
   * The backoff. Its output is ignored; its delays are used. Its input is
   * the attempt's error, or the rejected value after a `whenResult`
   * rejection. Defaults to
   * `exponential({ base: "100 millis", max: "30 seconds", jitter: "full" })`.
   */
  readonly schedule?: Schedule.Schedule<unknown, EIn, R> | undefined
  /**
   * Treat a success as a failure to retry where this holds (cockatiel's
   * `handleWhenResult`, resilience4j's `retryOnResult`, Polly's
   * `ShouldHandle` with `HandleResult`): e.g. `(r) => r.status === 503`. A
   * rejected value is retried exactly as a failure is (the count, schedule,
   * budget, deadline, `onRetry`, events and metrics apply; `while`/`until`
   * and `retryRejections`, which read errors, do not). When retrying stops
   * on a rejected value the caller gets that last value as a success,
   * unless `failAfterMaxAttempts` is set. The policy is then typed on `A`:
   * it accepts only effects whose success type is assignable to `A`.
   * If the predicate throws or answers anything but a boolean, the value is
   * accepted (returned, not retried); the failure is reported. Without it
   * the success path checks nothing.
   */
  readonly whenResult?: ((value: A) => boolean) | undefined
  /**
   * With `whenResult`: when retrying stops on a rejected value, fail with a
   * `FailedResultError` carrying that value and the attempts made
   * (resilience4j's `failAfterMaxAttempts`) instead of returning the value.
   * Defaults to `false`. Invalid without `whenResult`.
   */
  readonly failAfterMaxAttempts?: boolean | undefined
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
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const retry: Retry.Retry = Retry.policy({ schedule: Retry.constant("100 millis"), times: 2, name: "api" })
 * const program = Effect.gen(function*() {
 *   yield* Effect.succeed("ok").pipe(retry)
 *   return yield* retry.stats() // { failedCalls: 0, retries: 0, gaveUp: 0 }
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Retry<EIn = unknown, R = never, AIn = unknown, E2 = never> extends Policy<E2, R, EIn, AIn> {
  readonly [TypeId]: TypeId
  /** The policy's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  /** Everything the policy did, as a `Stream` (one buffer per subscriber). */
  readonly events: Stream.Stream<RetryEvent>
  /** Counts since creation, as a snapshot (kept in plain counters: successes cost nothing). */
  readonly stats: () => Effect.Effect<Retry.Stats>
  /** {@link Retry.stats} read synchronously: the form for hot paths and plain functions. */
  readonly unsafeStats: () => Retry.Stats
}

type RetryOptions<EIn, R, A> = Options<EIn, R, A>

/**
 * The types that go with {@link Retry}.
 *
 * @since 0.1.0
 */
export declare namespace Retry {
  /**
   * Options of {@link policy} (the same type as the module-level
   * {@link Options}, here beside the policy's other types).
   *
   * @example
   * ```ts
   * import { Retry } from "effect-resilience"
   *
   * const options: Retry.Retry.Options = { times: 3, schedule: Retry.exponential({ base: "100 millis" }) }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export type Options<EIn = unknown, R = never, A = unknown> = RetryOptions<EIn, R, A>
  /**
   * Options of {@link policy} with a `whenResult` predicate over values of
   * type `A`: the schedule also sees the rejected values.
   * `failAfterMaxAttempts` is not part of it: write it (as a literal) in the
   * call to {@link policy}, where it decides the policy's error type.
   *
   * @example
   * ```ts
   * import { Retry } from "effect-resilience"
   *
   * const options: Retry.Retry.ResultOptions<unknown, never, { status: number }> = {
   *   whenResult: (r) => r.status === 503,
   *   times: 2
   * }
   * const retry = Retry.policy(options)
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface ResultOptions<EIn = unknown, R = never, A = unknown>
    extends Omit<RetryOptions<EIn, R, A>, "schedule" | "whenResult" | "failAfterMaxAttempts">
  {
    readonly schedule?: Schedule.Schedule<unknown, EIn | A, R> | undefined
    readonly whenResult: (value: A) => boolean
  }
  /**
   * Counts kept by a retry policy.
   *
   * @example
   * ```ts
   * import type { Retry } from "effect-resilience"
   *
   * const stats: Retry.Retry.Stats = { failedCalls: 2, retries: 3, gaveUp: 1 }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    /**
     * Calls whose first attempt failed, or succeeded with a value
     * `whenResult` rejected (successes are not counted: they cost nothing here).
     */
    readonly failedCalls: number
    /** Retries made. */
    readonly retries: number
    /** Calls on which the policy stopped retrying and surfaced the error (or the rejected value). */
    readonly gaveUp: number
  }
}

// ---------------------------------------------------------------------------
// Constructors

/**
 * Makes a retry policy. `times` counts retries, not attempts (default 3: up
 * to 4 attempts). Unbounded retrying needs `forever: true`.
 *
 * Classification: rejections made by the library (`Errors.isRejection`) are
 * never retried, nor is `Errors.InvalidKeyError` (a key a keyed policy
 * refused: the caller's bug); then `while`/`until` decide. Defects and
 * interruptions are never retried.
 *
 * Results as failures: with `whenResult` a success whose value the
 * predicate accepts is retried like a failure; when retrying stops, the
 * caller gets the last value, or with `failAfterMaxAttempts: true` a
 * {@link FailedResultError} (its error type is then part of the policy's).
 * Such a policy only accepts effects whose value type fits the predicate.
 *
 * ```ts
 * import { Retry } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * interface Response { readonly status: number }
 * declare const get: Effect.Effect<Response>
 *
 * const retry503 = Retry.policy({
 *   schedule: Retry.exponential({ base: "100 millis" }),
 *   times: 3,
 *   whenResult: (r: Response) => r.status === 503,
 *   failAfterMaxAttempts: true
 * })
 * const program = get.pipe(retry503) // Effect<Response, Retry.FailedResultError<Response>>
 * ```
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
export const policy: {
  <A, EIn = unknown, R = never>(
    options: Retry.ResultOptions<EIn, R, A> & { readonly failAfterMaxAttempts: true }
  ): Retry<EIn, R, A, FailedResultError<A>>
  <A, EIn = unknown, R = never>(
    options: Retry.ResultOptions<EIn, R, A> & { readonly failAfterMaxAttempts?: false | undefined }
  ): Retry<EIn, R, A>
  <EIn = unknown, R = never>(
    options?: Options<EIn, R, unknown> & { readonly failAfterMaxAttempts?: false | undefined }
  ): Retry<EIn, R>
} = internal.policy

/**
 * True for retry policies.
 *
 * @example
 * ```ts
 * import { Retry, Timeout } from "effect-resilience"
 *
 * Retry.isRetry(Retry.policy({ times: 2 })) // true
 * Retry.isRetry(Timeout.make("1 second")) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isRetry: (u: unknown) => u is Retry<unknown, unknown> = internal.isRetry

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
export const tags: <const Tags extends ReadonlyArray<string>>(
  ...tags: Tags
) => (error: unknown) => error is { readonly _tag: Tags[number] } = internal.tags

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
export const isTransient: (error: unknown) => boolean = internal.isTransient

/**
 * The options of a retry policy that are data, as read from `Config` (the
 * environment): the counts, the limits and an exponential backoff
 * (`base`, `factor`, `max`, `jitter`) that becomes the policy's `schedule`.
 * Defaults and ranges: docs/Options.md#retry.
 *
 * @since 0.1.0
 * @category Models
 */
export interface ConfigOptions {
  /** Retries at most. Defaults to 3. */
  readonly times?: number | undefined
  /** Retry until the schedule or a predicate stops (ignores `times`). Defaults to false. */
  readonly forever?: boolean | undefined
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
  /** Fail with `FailedResultError` when retries of a rejected value run out (needs `whenResult` in code). */
  readonly failAfterMaxAttempts?: boolean | undefined
  readonly name?: string | undefined
  /** Defaults to false. */
  readonly spans?: boolean | undefined
  /** Bounds each `onRetry` hook. Defaults to 1 second. */
  readonly onRetryTimeout?: Duration.DurationInput | undefined
}

/**
 * The options of a retry policy that are code, given beside its
 * {@link ConfigOptions} to {@link fromConfig} and {@link layerConfig}. A
 * `schedule` given here replaces the backoff read from `Config`.
 *
 * @since 0.2.0
 * @category Models
 */
export type CodeOptions<EIn = unknown, R = never> = Pick<
  Options<EIn, R>,
  "schedule" | "while" | "until" | "retryRejections" | "budget" | "onRetry" | "whenResult"
>

/**
 * The `Config` of a retry policy's data options ({@link ConfigOptions}),
 * each under its own name (`times`, `base`, `factor`, `max`, `jitter`, …;
 * the table in docs/Options.md#retry). Nest it to give it a prefix; with
 * `ConfigProvider.constantCase`, `Config.nested(Retry.config, "api")` reads
 * `API_TIMES`, `API_BASE`, …
 *
 * @example
 * ```ts
 * import { Policy, Retry } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class ApiRetry extends Context.Tag("app/ApiRetry")<ApiRetry, Policy.Policy>() {}
 * // api_times=5 api_base="200 millis"
 * const live = Retry.layerConfig(ApiRetry, Config.nested(Retry.config, "api"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<ConfigOptions> = internal.config

/**
 * Makes a retry policy with its data options read from `Config`
 * ({@link config}, a `Config` of {@link ConfigOptions} or a record of
 * `Config`s) and its code options given. Missing or malformed values fail
 * with a `ConfigError`; out-of-range ones with `InvalidOptionsError` naming
 * the config key.
 *
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 * import { Config, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const retry = yield* Retry.fromConfig(Config.nested(Retry.config, "api"), { while: Retry.isTransient })
 *   return yield* Effect.succeed(1).pipe(retry)
 * })
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: <EIn = unknown, R = never>(
  config: Config.Config.Wrap<ConfigOptions>,
  code?: CodeOptions<EIn, R>
) => Effect.Effect<Retry<EIn, R>, InvalidOptionsError | ConfigError.ConfigError> = internal.fromConfig

// ---------------------------------------------------------------------------
// Layers

/**
 * Provides a retry policy under your own `Context.Tag` (see
 * `Policy.fromTag`). Fails with `InvalidOptionsError` when the options are
 * invalid. (A policy typed on its values — `whenResult` over a type — is
 * provided with `Layer.succeed(tag, Retry.policy(…))` under a tag of its
 * exact type.)
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
export const layer: <I, S, EIn = unknown, R = never>(
  tag: Context.Tag<I, S>,
  options: Options<EIn, R> & { readonly failAfterMaxAttempts?: false | undefined } & ([Retry<EIn, R>] extends [S] ? unknown : never)
) => Layer.Layer<I, InvalidOptionsError> = internal.layer

/**
 * Provides a retry policy under your own `Context.Tag` with its data options
 * read from `Config` ({@link config}, a `Config` of {@link ConfigOptions}, or
 * a record of `Config`s with your own names) and its code options given.
 * Invalid values fail the layer with `InvalidOptionsError`; missing or
 * malformed config with a `ConfigError`.
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
 * }, { while: Retry.isTransient })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig: <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<ConfigOptions> & ([Retry] extends [S] ? unknown : never),
  code?: CodeOptions
) => Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> = internal.layerConfig
