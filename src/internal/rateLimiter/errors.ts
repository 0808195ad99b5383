/**
 * The rate limiter's errors (re-exported by `RateLimiter.ts` with their
 * documentation) and their guard.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import { RejectionTypeId, ResilienceErrorTypeId } from "../errors.js"
import type * as RL from "../../RateLimiter.js"
import { withoutStack } from "../errors.js"

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
export const isRateLimitExceededError = (u: unknown): u is RateLimitExceededError =>
  Predicate.isTagged(u, "RateLimitExceededError") && Predicate.hasProperty(u, RejectionTypeId)
