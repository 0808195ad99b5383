/**
 * The error the bulkhead builds when its store fails (re-exported, with its
 * documentation, by `Bulkhead.ts`): defined here so that the internal code
 * builds it without importing its public module at run time.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"
import { RejectionTypeId, ResilienceErrorTypeId } from "../errors.js"
import { withoutStack } from "../errors.js"

/**
 * A shared store (Redis) failed, or timed out, while a bulkhead admitted a
 * call (or read `held`), and the bulkhead fails closed (`onStoreError:
 * "fail"`): the call was not run. A rejection (`Errors.isRejection`):
 * breakers never count it as a failure of the dependency, and `Retry` does
 * not retry it.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 *
 * const e = Bulkhead.BulkheadStoreError.make({ name: "payments", operation: "acquire", store: "redis", cause: new Error("ECONNREFUSED") })
 * e.message // "Bulkhead payments: the redis store failed (acquire): ECONNREFUSED"
 * ```
 *
 * @since 0.1.0
 * @category Errors
 */
export class BulkheadStoreError extends Data.TaggedError("BulkheadStoreError")<{
  readonly name: string
  readonly key?: string | undefined
  /** `"acquire"` or `"held"`. */
  readonly operation: string
  /** The store's kind (`"redis"`). */
  readonly store?: string | undefined
  readonly cause: unknown
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  readonly [RejectionTypeId]: RejectionTypeId = RejectionTypeId
  /** Creates the error without a stack trace. */
  static make(args: ConstructorParameters<typeof BulkheadStoreError>[0]): BulkheadStoreError {
    return withoutStack(() => new BulkheadStoreError(args))
  }
  override get message(): string {
    const where = this.key === undefined ? this.name : `${this.name}[${this.key}]`
    const store = this.store === undefined ? "the store" : `the ${this.store} store`
    const cause = Predicate.hasProperty(this.cause, "message") ? String(this.cause.message) : String(this.cause)
    return `Bulkhead ${where}: ${store} failed (${this.operation}): ${cause}`
  }
}
