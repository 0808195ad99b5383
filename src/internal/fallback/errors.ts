/**
 * The errors the fallback code builds: {@link Unexpected} (what a source
 * receives for a defect or an interruption it was asked to handle) and
 * {@link StaleStoreError} (a stale store's failure, reported, never the
 * caller's). Re-exported, with their documentation, by `Fallback.ts`.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import { ResilienceErrorTypeId } from "../errors.js"

/** @internal */
export class Unexpected extends Data.TaggedError("Unexpected")<{
  readonly reason: "Defect" | "Interrupted"
  /** The defect (squashed from the cause) when `reason` is `"Defect"`. */
  readonly defect?: unknown
  readonly cause: Cause.Cause<unknown>
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    return this.reason === "Defect"
      ? `Fallback handled a defect: ${Cause.pretty(this.cause).split("\n")[0] ?? ""}`
      : "Fallback handled an interruption"
  }
}

/** @internal */
export class RejectedResult<A = unknown> extends Data.TaggedError("RejectedResult")<{
  /** The primary's value that `whenResult` treated as a failure. */
  readonly value: A
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    return "Fallback handled a value its whenResult predicate treated as a failure"
  }
}

/** @internal */
export class StaleStoreError extends Data.TaggedError("StaleStoreError")<{
  readonly operation: "get" | "set" | "delete"
  readonly key: string
  readonly cause: unknown
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    return `Stale store ${this.operation} failed for key ${this.key}`
  }
}
