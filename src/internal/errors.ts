/**
 * The code of `Errors.ts` (its type ids, guards and error classes, documented
 * there) and the helpers the policies use to build errors, which are not
 * part of the package's API.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type { BulkheadRejectionReason, InvalidKeyReason, Rejection, ResilienceError } from "../Errors.js"

/**
 * Builds an error without capturing a stack trace. Rejections are created on
 * hot paths (every call against an open circuit or a full bulkhead), and a
 * stack capture costs microseconds; a rejection's stack says nothing useful.
 *
 * @internal
 */
export const withoutStack = <A>(f: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return f()
  } finally {
    Error.stackTraceLimit = limit
  }
}

/**
 * A value as shown in an error message: JSON where it has one (cut at 200
 * characters), `String(value)` otherwise; numbers and durations as written.
 *
 * @internal
 */
export const showValue = (value: unknown): string => {
  // NaN and ±Infinity, which JSON would show as null
  if (typeof value === "number") return String(value)
  if (Duration.isDuration(value)) return Duration.format(value)
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch {
    return String(value) // bigint, circular structures
  }
  // undefined, functions and symbols have no JSON
  if (json === undefined) return String(value)
  return json.length > 200 ? json.slice(0, 200) + "…" : json
}

/** @internal */
export const ResilienceErrorTypeId: unique symbol = Symbol.for("effect-resilience/ResilienceError")

/** @internal */
export type ResilienceErrorTypeId = typeof ResilienceErrorTypeId

/** @internal */
export const RejectionTypeId: unique symbol = Symbol.for("effect-resilience/Rejection")

/** @internal */
export type RejectionTypeId = typeof RejectionTypeId

/** @internal */
export const isResilienceError = (u: unknown): u is ResilienceError => Predicate.hasProperty(u, ResilienceErrorTypeId)

/** @internal */
export const isRejection = (u: unknown): u is Rejection => Predicate.hasProperty(u, RejectionTypeId)

/** @internal */
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

/** @internal */
export class TimeoutError extends Data.TaggedError("TimeoutError")<{
  /** The timeout that expired. */
  readonly duration: Duration.Duration
  /** The name of the policy, when it has one. */
  readonly policy?: string | undefined
  /** `"overall"` when the deadline of an enclosing pipeline expired, `"attempt"` otherwise. */
  readonly scope?: "overall" | "attempt" | undefined
  /**
   * True when the deadline came with the request being served (a deadline
   * header trusted by `ResilientHttpServer`): the caller's budget ran out.
   * Circuit breakers never count it as a failure of the dependency.
   */
  readonly fromRequest?: boolean | undefined
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  readonly [Cause.TimeoutExceptionTypeId]: Cause.TimeoutExceptionTypeId = Cause.TimeoutExceptionTypeId
  /**
   * Creates the error without a stack trace: it is built by a timer, whose
   * stack says nothing about the call (the fiber's spans do), and capturing
   * one costs ~7 µs per timeout, when timeouts come by thousands.
   */
  static make(args: ConstructorParameters<typeof TimeoutError>[0]): TimeoutError {
    return withoutStack(() => new TimeoutError(args))
  }
  override get message(): string {
    const who = this.policy === undefined ? "" : ` (${this.policy})`
    return this.fromRequest === true
      ? `The request's deadline of ${formatDuration(this.duration)} passed${who}`
      : `Timed out after ${formatDuration(this.duration)}${who}`
  }
}

/**
 * True for a {@link TimeoutError} of a request's deadline (`fromRequest`).
 *
 * @internal
 */
export const isRequestDeadlineError = (u: unknown): boolean => u instanceof TimeoutError && u.fromRequest === true

/** @internal */
export class BulkheadFullError extends Data.TaggedError("BulkheadFullError")<{
  readonly name: string
  readonly maxConcurrent: number
  readonly maxQueue: number
  readonly reason: BulkheadRejectionReason
  readonly key?: string | undefined
  readonly maxWait?: Duration.Duration | undefined
  /**
   * When a permit is likely to be free for a new caller, where the bulkhead
   * can estimate it (an adaptive limit: from the latency it measures).
   */
  readonly retryAfter?: Duration.Duration | undefined
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

/** @internal */
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

/** @internal */
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

/** @internal */
export const isInvalidKeyError = (u: unknown): u is InvalidKeyError => u instanceof InvalidKeyError

/** @internal */
export class FailedResultError<A = unknown> extends Data.TaggedError("FailedResultError")<{
  /** The policy that gave up: `"Retry"` or `"Hedge"`. */
  readonly module: "Retry" | "Hedge"
  /** The policy's name. */
  readonly policy: string
  /** The last value the policy's `whenResult` predicate treated as a failure. */
  readonly value: A
  /** Attempts made, the first included. */
  readonly attempts: number
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    return `${this.module} ${JSON.stringify(this.policy)}: the result of each of ${this.attempts} attempt(s) was ` +
      `treated as a failure (whenResult); the last one was ${showValue(this.value)}`
  }
}

/** @internal */
export const isFailedResultError = (u: unknown): u is FailedResultError => u instanceof FailedResultError
