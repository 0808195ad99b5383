/**
 * The errors effect-resilience produces, and the guards that classify them.
 *
 * Every library error carries {@link ResilienceErrorTypeId} (see
 * {@link isResilienceError}); the load-shedding rejections the library makes on
 * its own (an open circuit, a full bulkhead, an exceeded rate limit, a full
 * idempotency store refusing a new key) also carry
 * {@link RejectionTypeId} (see {@link isRejection}). Retry never retries a
 * rejection and a circuit breaker never counts one as a failure of the
 * dependency.
 *
 * Any error — the library's or the user's (a 429 from an API, say) — may carry
 * an optional `retryAfter: Duration`; `Retry` reads it (see {@link retryAfterOf}).
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type { RejectionTypeId, ResilienceErrorTypeId } from "./internal/errors.js"

export {
  /**
   * The unique symbol that marks the values of this module (`ResilienceErrorTypeId in value`).
   *
   * @since 0.1.0
   * @category Type IDs
   */
  ResilienceErrorTypeId
} from "./internal/errors.js"

export {
  /**
   * The unique symbol that marks the values of this module (`RejectionTypeId in value`).
   *
   * @since 0.1.0
   * @category Type IDs
   */
  RejectionTypeId
} from "./internal/errors.js"

export {
  /**
   * True for every error made by effect-resilience.
   *
   * @example
   * ```ts
   * import { Errors } from "effect-resilience"
   * import { Duration } from "effect"
   *
   * Errors.isResilienceError(new Errors.TimeoutError({ duration: Duration.seconds(1) })) // true
   * Errors.isResilienceError(new Error("boom")) // false
   * ```
   *
   * @since 0.1.0
   * @category Guards
   */
  isResilienceError
} from "./internal/errors.js"

export {
  /**
   * True for the library's own load-shedding rejections (open or half-open
   * circuit, full bulkhead, exceeded rate limit, a full idempotency store
   * refusing a new key). Decided by TypeId, never by tag or message.
   *
   * @example
   * ```ts
   * import { Errors } from "effect-resilience"
   *
   * const full = Errors.BulkheadFullError.make({ name: "db", maxConcurrent: 10, maxQueue: 0, reason: "QueueFull" })
   * Errors.isRejection(full) // true
   * ```
   *
   * @since 0.1.0
   * @category Guards
   */
  isRejection
} from "./internal/errors.js"

export {
  /**
   * The `retryAfter` hint carried by an error, if any: a `Duration`, or a number
   * of milliseconds. Works for the library's errors and for user errors that
   * follow the same convention (e.g. a 429 with `Retry-After`).
   *
   * @example
   * ```ts
   * import { Errors } from "effect-resilience"
   * import { Duration, Option } from "effect"
   *
   * Errors.retryAfterOf({ _tag: "TooManyRequests", retryAfter: Duration.seconds(2) }) // Option.some(2 seconds)
   * Errors.retryAfterOf(new Error("x")) // Option.none()
   * ```
   *
   * @since 0.1.0
   * @category Accessors
   */
  retryAfterOf
} from "./internal/errors.js"

export {
  /**
   * The work did not finish within the allotted time and was interrupted.
   *
   * Carries `Cause.TimeoutExceptionTypeId`, so `@effect/platform`'s transient
   * checks (and `Retry.isTransient`) treat it as transient. `fromRequest` is
   * true when the deadline came with the request being served (a deadline
   * header `ResilientHttpServer` trusts): the caller's budget ran out, and no
   * circuit breaker counts it as a failure of its dependency.
   *
   * @example
   * ```ts
   * import { Timeout } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const program = Effect.never.pipe(Timeout.make("1 second"), Effect.catchTag("TimeoutError", (e) => Effect.succeed(e.message)))
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  TimeoutError
} from "./internal/errors.js"

/**
 * Why a bulkhead rejected a call.
 *
 * @since 0.1.0
 * @category Models
 */
export type BulkheadRejectionReason = "QueueFull" | "MaxWaitExceeded"

export {
  /**
   * The bulkhead had no free permit and either its queue was full or the call
   * waited longer than `maxWait`. A rejection ({@link isRejection}). With an
   * adaptive limit (`AdaptiveLimit`), `maxConcurrent` is the limit in force and
   * `retryAfter` estimates when a permit frees up (the queue ahead over the
   * limit, times the latency measured); a fixed bulkhead measures no latency
   * and leaves it out.
   *
   * @example
   * ```ts
   * import { Errors } from "effect-resilience"
   *
   * const e = Errors.BulkheadFullError.make({ name: "db", maxConcurrent: 10, maxQueue: 100, reason: "QueueFull" })
   * e.message // "Bulkhead db is full: 10 running, queue of 100 full"
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  BulkheadFullError
} from "./internal/errors.js"

export {
  /**
   * Options given to a constructor were invalid. Names the module, the option,
   * the value given and what is allowed.
   *
   * Scoped constructors fail with it; pure constructors (schedules) throw it, as
   * `Duration.decode` throws on bad input.
   *
   * @example
   * ```ts
   * import { Retry, Errors } from "effect-resilience"
   *
   * const describe = (): string => {
   *   try {
   *     Retry.exponential({ base: "-1 second" })
   *     return "accepted"
   *   } catch (e) {
   *     // Retry.exponential: invalid option "base": expected a finite duration > 0, got "-1 second"
   *     return e instanceof Errors.InvalidOptionsError ? e.message : String(e)
   *   }
   * }
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  InvalidOptionsError
} from "./internal/errors.js"

/**
 * Why a key was refused (see {@link InvalidKeyError}):
 * - `"NotAString"`: the key is not a string (`undefined`, `null`, a number,
 *   an object…);
 * - `"NotWellFormed"`: the string is not well-formed Unicode (it holds a lone
 *   surrogate), so it would not survive UTF-8 on the wire: two such keys
 *   could become one;
 * - `"TooLong"`: longer than the policy's `maxKeyLength` (UTF-16 code units).
 *
 * @since 0.1.0
 * @category Models
 */
export type InvalidKeyReason = "NotAString" | "NotWellFormed" | "TooLong"

export {
  /**
   * A keyed API was given a key it refuses: not a string, not well-formed
   * Unicode, or longer than the policy's `maxKeyLength` (1,024 UTF-16 code
   * units by default). Every keyed API fails with it — keyed circuit breakers,
   * bulkheads and rate limiters, idempotency and stale-if-error keys — before
   * the policy admits the call: a breaker never counts it, a bulkhead never
   * takes a permit, a limiter never charges, nothing is stored.
   *
   * It is the caller's bug, not a load-shedding rejection (`isRejection` is
   * false); `Retry` never retries it, and circuit breakers ignore it when it
   * comes out of an inner policy. Built without a stack trace. `preview` shows
   * at most the first 40 code units of a string key (the type for anything
   * else), so logging the error never logs a huge or hostile key.
   *
   * @example
   * ```ts
   * import { Errors } from "effect-resilience"
   *
   * const e = Errors.InvalidKeyError.make({
   *   policy: { kind: "Idempotency", name: "payments" },
   *   reason: "NotAString",
   *   preview: "undefined",
   *   maxKeyLength: 1024
   * })
   * e.message // 'Idempotency "payments" refused a key: expected a string, got undefined'
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  InvalidKeyError
} from "./internal/errors.js"

export {
  /**
   * True for {@link InvalidKeyError}.
   *
   * @example
   * ```ts
   * import { Errors } from "effect-resilience"
   *
   * Errors.isInvalidKeyError(new Error("x")) // false
   * ```
   *
   * @since 0.1.0
   * @category Guards
   */
  isInvalidKeyError
} from "./internal/errors.js"

/**
 * Every error the library makes.
 *
 * @since 0.1.0
 * @category Models
 */
export interface ResilienceError {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId
  readonly _tag: string
  readonly message: string
}

/**
 * A load-shedding rejection made by the library itself.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Rejection extends ResilienceError {
  readonly [RejectionTypeId]: RejectionTypeId
  readonly retryAfter?: Duration.Duration | undefined
}


export {
  /**
   * A `Retry` or `Hedge` with a `whenResult` predicate and
   * `failAfterMaxAttempts: true` gave up while the predicate still rejected
   * the result: the error carries the last rejected `value` and the number of
   * `attempts` (resilience4j's `MaxRetriesExceededException`). Without
   * `failAfterMaxAttempts` the caller gets that last value as a success
   * (cockatiel's and Polly's behaviour). Not a rejection (`isRejection` is
   * false): the dependency answered.
   *
   * @example
   * ```ts
   * import { Errors, Retry } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const retry = Retry.policy({
   *   schedule: Retry.constant("10 millis"),
   *   times: 2,
   *   whenResult: (status: number) => status === 503,
   *   failAfterMaxAttempts: true
   * })
   * const program = Effect.succeed(503).pipe(
   *   retry,
   *   Effect.catchTag("FailedResultError", (e: Errors.FailedResultError<number>) => Effect.succeed(e.value))
   * )
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  FailedResultError
} from "./internal/errors.js"

export {
  /**
   * True for {@link FailedResultError}.
   *
   * @example
   * ```ts
   * import { Errors } from "effect-resilience"
   *
   * Errors.isFailedResultError(new Errors.FailedResultError({ module: "Retry", policy: "api", value: 503, attempts: 3 })) // true
   * ```
   *
   * @since 0.1.0
   * @category Guards
   */
  isFailedResultError
} from "./internal/errors.js"
