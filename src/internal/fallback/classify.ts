/**
 * Which failures a fallback handles (shared by `value`/`effect`/`chain` and
 * `staleIfError`): a classifier turns a `Cause` into what the source
 * receives — the typed error, or an {@link Unexpected} for a defect or an
 * interruption the options ask to handle — or {@link NOT_HANDLED}.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import * as userCode from "../userCode.js"
import { Unexpected } from "./errors.js"

/** What a classifier answers for a failure the fallback does not handle. @internal */
export const NOT_HANDLED: unique symbol = Symbol.for("effect-resilience/Fallback/NotHandled")

/** @internal */
export interface Classifier {
  /** The source's input for a cause, or NOT_HANDLED. */
  (cause: Cause.Cause<unknown>): unknown
}

/**
 * Makes the classifier of validated options (`defects`, `interruptions`:
 * see the fields in `options.ts`).
 * @internal
 */
export const make = (
  on: ((error: any) => boolean) | undefined,
  defects: boolean | ((defect: unknown) => boolean),
  interruptions: boolean,
  where: { readonly module: string; readonly name: string; readonly on: string }
): Classifier => {
  const defectFilter: ((defect: unknown) => boolean) | undefined = defects === true
    ? () => true
    : typeof defects === "function"
    ? defects
    : undefined
  // user code: a selector or `defects` predicate that throws or answers a non-boolean is
  // reported and answers false (not handled: the original failure surfaces)
  const onSite = userCode.site(where.module, where.name, where.on, "not handled (the failure surfaces)")
  const defectsSite = userCode.site(where.module, where.name, "defects", "not handled (the defect surfaces)")
  return (cause) => {
    if (Cause.isDie(cause)) {
      if (defectFilter === undefined) return NOT_HANDLED
      const defect = Cause.squash(cause)
      return userCode.predicate(defectsSite, defectFilter, defect, false)
        ? new Unexpected({ reason: "Defect", defect, cause })
        : NOT_HANDLED
    }
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      return on === undefined || userCode.predicate(onSite, on, failure.value, false) ? failure.value : NOT_HANDLED
    }
    if (interruptions === true && Cause.isInterruptedOnly(cause)) {
      return new Unexpected({ reason: "Interrupted", cause })
    }
    return NOT_HANDLED
  }
}

/** Whether the (validated) `defects` option handles some defects (for descriptors). @internal */
export const handlesDefects = (defects: boolean | ((defect: unknown) => boolean)): boolean => defects !== false
