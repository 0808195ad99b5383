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
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { showValue, withoutStack } from "./internal/errors.js"

/**
 * @since 0.1.0
 * @category Type IDs
 */
export const ResilienceErrorTypeId: unique symbol = Symbol.for("effect-resilience/ResilienceError")

/**
 * @since 0.1.0
 * @category Type IDs
 */
export type ResilienceErrorTypeId = typeof ResilienceErrorTypeId

/**
 * @since 0.1.0
 * @category Type IDs
 */
export const RejectionTypeId: unique symbol = Symbol.for("effect-resilience/Rejection")

/**
 * @since 0.1.0
 * @category Type IDs
 */
export type RejectionTypeId = typeof RejectionTypeId

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
export const isResilienceError = (u: unknown): u is ResilienceError => Predicate.hasProperty(u, ResilienceErrorTypeId)

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
export const isRejection = (u: unknown): u is Rejection => Predicate.hasProperty(u, RejectionTypeId)

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
export const retryAfterOf = (u: unknown): Option.Option<Duration.Duration> => {
  if (!Predicate.hasProperty(u, "retryAfter")) return none
  const value = u.retryAfter
  if (Duration.isDuration(value)) {
    return Duration.isFinite(value) ? someOf(value) : none
  }
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return someOf(Duration.millis(value))
  return none
}

const none = Option.none<Duration.Duration>()
const someOf = (d: Duration.Duration): Option.Option<Duration.Duration> => Option.some(d)

const formatDuration = (d: Duration.Duration): string => Duration.format(d)

/**
 * The work did not finish within the allotted time and was interrupted.
 *
 * Carries `Cause.TimeoutExceptionTypeId`, so `@effect/platform`'s transient
 * checks (and `Retry.isTransient`) treat it as transient.
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
export class TimeoutError extends Data.TaggedError("TimeoutError")<{
  /** The timeout that expired. */
  readonly duration: Duration.Duration
  /** The name of the policy, when it has one. */
  readonly policy?: string | undefined
  /** `"overall"` when the deadline of an enclosing pipeline expired, `"attempt"` otherwise. */
  readonly scope?: "overall" | "attempt" | undefined
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  readonly [Cause.TimeoutExceptionTypeId]: Cause.TimeoutExceptionTypeId = Cause.TimeoutExceptionTypeId
  override get message(): string {
    const who = this.policy === undefined ? "" : ` (${this.policy})`
    return `Timed out after ${formatDuration(this.duration)}${who}`
  }
}

/**
 * Why a bulkhead rejected a call.
 *
 * @since 0.1.0
 * @category Models
 */
export type BulkheadRejectionReason = "QueueFull" | "MaxWaitExceeded"

/**
 * The bulkhead had no free permit and either its queue was full or the call
 * waited longer than `maxWait`. A rejection ({@link isRejection}).
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
export class BulkheadFullError extends Data.TaggedError("BulkheadFullError")<{
  readonly name: string
  readonly maxConcurrent: number
  readonly maxQueue: number
  readonly reason: BulkheadRejectionReason
  readonly key?: string | undefined
  readonly maxWait?: Duration.Duration | undefined
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  readonly [RejectionTypeId]: RejectionTypeId = RejectionTypeId
  /** Creates the error without a stack trace (cheap on hot paths). */
  static make(args: ConstructorParameters<typeof BulkheadFullError>[0]): BulkheadFullError {
    return withoutStack(() => new BulkheadFullError(args))
  }
  override get message(): string {
    const where = this.key === undefined ? this.name : `${this.name}[${this.key}]`
    return this.reason === "QueueFull"
      ? `Bulkhead ${where} is full: ${this.maxConcurrent} running, queue of ${this.maxQueue} full`
      : `Bulkhead ${where} is full: waited longer than ${
        this.maxWait === undefined ? "maxWait" : formatDuration(this.maxWait)
      } for one of ${this.maxConcurrent} permits`
  }
}

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
export class InvalidOptionsError extends Data.TaggedError("InvalidOptionsError")<{
  /** The module whose constructor rejected the options, e.g. `"Retry.exponential"`. */
  readonly module: string
  /** The option's path, e.g. `"base"` or `"halfOpen.probes"`. */
  readonly option: string
  /** The value given. */
  readonly value: unknown
  /** What is allowed, e.g. `"a finite duration > 0"`. */
  readonly expected: string
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    return `${this.module}: invalid option "${this.option}": expected ${this.expected}, got ${showValue(this.value)}`
  }
}

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
export class InvalidKeyError extends Data.TaggedError("InvalidKeyError")<{
  /** The keyed policy that refused the key: its kind (`"CircuitBreaker"`, `"Bulkhead"`, …) and name. */
  readonly policy: { readonly kind: string; readonly name: string }
  readonly reason: InvalidKeyReason
  /**
   * A short, safe view of the key: its type for a non-string (`"undefined"`,
   * `"null"`, `"number"`, `"object"`, `"array"`…), else its first 40 UTF-16
   * code units (lone surrogates shown as U+FFFD).
   */
  readonly preview: string
  /** The key's length in UTF-16 code units (string keys only). */
  readonly length?: number | undefined
  /** The longest key the policy accepts, in UTF-16 code units. */
  readonly maxKeyLength: number
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  /** Creates the error without a stack trace. */
  static make(args: ConstructorParameters<typeof InvalidKeyError>[0]): InvalidKeyError {
    return withoutStack(() => new InvalidKeyError(args))
  }
  override get message(): string {
    const who = `${this.policy.kind} ${JSON.stringify(this.policy.name)} refused a key`
    switch (this.reason) {
      case "NotAString":
        return `${who}: expected a string, got ${this.preview}`
      case "NotWellFormed":
        return `${who}: not well-formed Unicode (a lone surrogate), got ${JSON.stringify(this.preview)}${
          this.length !== undefined && this.length > this.preview.length ? "…" : ""
        }`
      case "TooLong":
        return `${who}: longer than ${this.maxKeyLength} UTF-16 code units (${this.length}), got ${
          JSON.stringify(this.preview)
        }…`
    }
  }
}

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
export const isInvalidKeyError = (u: unknown): u is InvalidKeyError => u instanceof InvalidKeyError

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
