/**
 * The idempotency policy's error (re-exported by `Idempotency.ts` with its
 * documentation).
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import { RejectionTypeId, ResilienceErrorTypeId } from "../errors.js"
import type * as Idempotency from "../../Idempotency.js"

/**
 * The store could not be used for a key:
 * - `"StoreError"`, `"EncodeError"`, `"DecodeError"`: Redis unreachable, or
 *   an `Exit` that does not encode or no longer decodes. Not a rejection: the
 *   call may or may not have run elsewhere.
 * - `"StoreFull"`: the memory store holds `maxKeys` live keys and refused a
 *   new one rather than forget a live record (see
 *   `Idempotency.MemoryStoreOptions.whenFull`). Nothing ran. A rejection
 *   (`Errors.isRejection`: not retried by `Retry`, not counted by a breaker)
 *   with `retryAfter`, the time until the earliest record expires (absent
 *   when every key held is in flight).
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Duration } from "effect"
 *
 * const e = new Idempotency.IdempotencyError({ key: "order-1", reason: "StoreError", cause: new Error("ECONNREFUSED") })
 * e.message // "Idempotency store failed for key order-1 (StoreError): ECONNREFUSED"
 * const full = new Idempotency.IdempotencyError({ key: "order-2", reason: "StoreFull", maxKeys: 100_000, retryAfter: Duration.seconds(30) })
 * full.message // "Idempotency store is full (100000 keys): key order-2 refused; retry after 30s"
 * ```
 *
 * @since 0.1.0
 * @category Errors
 */
export class IdempotencyError extends Data.TaggedError("IdempotencyError")<{
  readonly key: string
  readonly reason: Idempotency.IdempotencyErrorReason
  readonly cause?: unknown
  /** `"StoreFull"`: when the earliest record expires, from the refusal. */
  readonly retryAfter?: Duration.Duration | undefined
  /** `"StoreFull"`: the store's bound. */
  readonly maxKeys?: number | undefined
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  constructor(args: {
    readonly key: string
    readonly reason: Idempotency.IdempotencyErrorReason
    readonly cause?: unknown
    readonly retryAfter?: Duration.Duration | undefined
    readonly maxKeys?: number | undefined
  }) {
    super(args)
    // a refusal of a full store is a load-shedding rejection; the other reasons are not
    if (args.reason === "StoreFull") Object.defineProperty(this, RejectionTypeId, { value: RejectionTypeId, enumerable: false })
  }
  override get message(): string {
    if (this.reason === "StoreFull") {
      const after = this.retryAfter === undefined ? "" : `; retry after ${Duration.format(this.retryAfter)}`
      const bound = this.maxKeys === undefined ? "" : ` (${this.maxKeys} keys)`
      return `Idempotency store is full${bound}: key ${this.key} refused${after}`
    }
    const cause = this.cause === undefined
      ? ""
      : `: ${Predicate.hasProperty(this.cause, "message") ? String(this.cause.message) : String(this.cause)}`
    return `Idempotency store failed for key ${this.key} (${this.reason})${cause}`
  }
}
