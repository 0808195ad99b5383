/**
 * The circuit breaker's error and the reasons it carries.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import { RejectionTypeId, ResilienceErrorTypeId } from "../errors.js"

/** @internal */
export class CircuitOpen extends Data.TaggedClass("CircuitOpen")<{
  readonly retryAfter: Duration.Duration
  readonly isolated: boolean
}> {
  /** The same value as `new CircuitOpen(…)`, built without the constructor's generic argument copying. */
  static make(retryAfter: Duration.Duration, isolated: boolean): CircuitOpen {
    const reason = Object.create(CircuitOpen.prototype)
    reason.retryAfter = retryAfter
    reason.isolated = isolated
    reason._tag = "CircuitOpen"
    return reason
  }
}

/**
 * `retryAfter`: the time until the earliest running probe's lease ends (at
 * `probeTimeout` after it started): an upper bound, since a probe that
 * answers sooner frees its slot or decides the circuit sooner.
 * @internal
 */
export class CircuitHalfOpen extends Data.TaggedClass("CircuitHalfOpen")<{
  readonly probes: number
  readonly retryAfter: Duration.Duration
}> {
  /** The same value as `new CircuitHalfOpen(…)`, built without the constructor's generic argument copying. */
  static make(probes: number, retryAfter: Duration.Duration): CircuitHalfOpen {
    const reason = Object.create(CircuitHalfOpen.prototype)
    reason.probes = probes
    reason.retryAfter = retryAfter
    reason._tag = "CircuitHalfOpen"
    return reason
  }
}

/** @internal */
export class CircuitBreakerStoreError extends Data.TaggedError("CircuitBreakerStoreError")<{
  readonly operation: string
  readonly cause?: unknown
  readonly detail?: string | undefined
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    const detail = this.detail ??
      (this.cause instanceof Error ? this.cause.message : this.cause === undefined ? "" : String(this.cause))
    return `Circuit breaker store failed on ${this.operation}${detail === "" ? "" : `: ${detail}`}`
  }
}

/** @internal */
export type Reason = CircuitOpen | CircuitHalfOpen | CircuitBreakerStoreError

/** The key of the breaker's own circuit (its callable form). @internal */
export const DEFAULT_KEY = "default"

/** @internal */
export class CircuitBreakerError extends Data.TaggedError("CircuitBreakerError")<{
  readonly breaker: string
  readonly key: string
  readonly reason: Reason
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  declare readonly [RejectionTypeId]?: RejectionTypeId

  constructor(args: { readonly breaker: string; readonly key: string; readonly reason: Reason }) {
    super(args)
    // load-shedding rejections (open, half-open) carry RejectionTypeId, so Retry
    // never retries them and no breaker counts them; a store failure does not
    if (args.reason._tag !== "CircuitBreakerStoreError") {
      ;(this as { [RejectionTypeId]?: RejectionTypeId })[RejectionTypeId] = RejectionTypeId
    }
  }

  /**
   * Creates the error on hot paths: the same fields as the constructor, on
   * the same prototype, but without running the `Error` constructor — V8's
   * native error creation costs ~1 µs even without a stack trace, which is
   * most of an open circuit's rejection. The instance has no own `stack`
   * (the prototype's `stack` getter returns the message line).
   */
  static make(breaker: string, key: string, reason: Reason): CircuitBreakerError {
    const error = Object.create(CircuitBreakerError.prototype)
    error.breaker = breaker
    error.key = key
    error.reason = reason
    error._tag = "CircuitBreakerError"
    error[ResilienceErrorTypeId] = ResilienceErrorTypeId
    if (reason._tag !== "CircuitBreakerStoreError") error[RejectionTypeId] = RejectionTypeId
    return error
  }

  /**
   * When to come back: the time left in the break (`CircuitOpen`, not
   * isolated), or until the earliest probe's lease ends (`CircuitHalfOpen`,
   * an upper bound).
   */
  get retryAfter(): Duration.Duration | undefined {
    const reason = this.reason
    return reason._tag !== "CircuitBreakerStoreError" && reason.retryAfter !== undefined &&
        Duration.isFinite(reason.retryAfter)
      ? reason.retryAfter
      : undefined
  }

  override get message(): string {
    const where = this.key === DEFAULT_KEY ? this.breaker : `${this.breaker}[${this.key}]`
    const reason = this.reason
    switch (reason._tag) {
      case "CircuitOpen":
        return reason.isolated
          ? `Circuit ${where} is isolated: calls are rejected until it is reset`
          : `Circuit ${where} is open: retry after ${Duration.format(reason.retryAfter)}`
      case "CircuitHalfOpen":
        return `Circuit ${where} is half-open and its ${reason.probes} probe slot${
          reason.probes === 1 ? " is" : "s are"
        } taken: retry after ${Duration.format(reason.retryAfter)}`
      case "CircuitBreakerStoreError":
        return `Circuit ${where}: ${reason.message}`
    }
  }
}

// Errors made by `make` have no own `stack`: derive the one-line stack a
// stackless Error would have. (Errors made by `new` have their own.)
Object.defineProperty(CircuitBreakerError.prototype, "stack", {
  get(this: CircuitBreakerError) {
    return `${this.name}: ${this.message}`
  },
  configurable: true
})
