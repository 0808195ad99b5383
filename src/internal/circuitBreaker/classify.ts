/**
 * Outcomes and classifiers.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as CircuitBreaker from "../../CircuitBreaker.js"
import { isInvalidKeyError, isRejection, isRequestDeadlineError, retryAfterOf } from "../errors.js"
import * as Spec from "../spec.js"

type Outcome = CircuitBreaker.Outcome

const success: CircuitBreaker.Outcome.Success = { _tag: "Success" }
const ignored: CircuitBreaker.Outcome.Ignored = { _tag: "Ignored" }
const plainFailure: CircuitBreaker.Outcome.Failure = { _tag: "Failure" }

/** The options of `CircuitBreaker.Outcome.failure`. @internal */
export const outcomeFailureSpec = Spec.struct<{ readonly retryAfter?: Duration.DurationInput | undefined }>()(
  "CircuitBreaker.Outcome.failure",
  { retryAfter: Spec.duration({ allowZero: true }).doc("none") }
)

const failure = (
  options?: { readonly retryAfter?: Duration.DurationInput | undefined }
): CircuitBreaker.Outcome.Failure => {
  // a classifier may call it per call: nothing allocated without a hint
  if (options === undefined) return plainFailure
  const retryAfter = outcomeFailureSpec.resolve(options).retryAfter
  return retryAfter === undefined ? plainFailure : { _tag: "Failure", retryAfter }
}

/** The function a classifier is made from. */
const classifierFunction = Spec.func().required()
/** A tag of `ignoreTags`/`countTags`. */
const tagName = Spec.string().required()

/** @internal */
export const Outcome = { success, failure, ignored } as const

const failureFromError = (error: unknown): CircuitBreaker.Outcome.Failure => {
  const hint = retryAfterOf(error)
  return Option.isSome(hint) ? { _tag: "Failure", retryAfter: hint.value } : plainFailure
}

/** @internal */
export const defaultClassify = (exit: Exit.Exit<unknown, unknown>): Outcome => {
  if (Exit.isSuccess(exit)) return success
  const first = Cause.failureOption(exit.cause)
  return Option.isSome(first) ? failureFromError(first.value) : plainFailure
}

// a request's deadline (from its header) running out is the caller's budget, never the dependency's failure
const notTheDependency = (error: unknown): boolean =>
  isRejection(error) || isInvalidKeyError(error) || isRequestDeadlineError(error)

/**
 * True when the breaker must ignore a failed call before any classifier
 * sees it: interrupted only, or every typed failure is one of the library's
 * own rejections, a key an inner keyed policy refused (`InvalidKeyError`:
 * the dependency was never called) or a request's deadline from its header
 * (a `TimeoutError` with `fromRequest`), and there is no defect.
 * @internal
 */
export const ignoredBeforeClassify = (cause: Cause.Cause<unknown>): boolean => {
  if (Cause.isInterruptedOnly(cause)) return true
  const failures = Cause.failures(cause)
  // Stryker disable next-line ConditionalExpression: equivalent: reached only with a cause that is not interrupted-only, so without typed failures it holds a defect and the lines below return false too
  if (Chunk.isEmpty(failures)) return false
  if (!Chunk.every(failures, notTheDependency)) return false
  return Chunk.isEmpty(Cause.defects(cause))
}

/** @internal */
export const classifyCause = <E>(
  f: (cause: Cause.Cause<E>) => Outcome | Effect.Effect<Outcome>
): CircuitBreaker.Classifier<unknown, E> => {
  classifierFunction.props.parse("CircuitBreaker.classifyCause", "f", f)
  return (exit) => Exit.isSuccess(exit) ? success : f(exit.cause)
}

/** @internal */
export const classifyError = <E>(
  f: (error: E) => Outcome | Effect.Effect<Outcome>
): CircuitBreaker.Classifier<unknown, E> => {
  classifierFunction.props.parse("CircuitBreaker.classifyError", "f", f)
  return (exit) => {
    if (Exit.isSuccess(exit)) return success
    const first = Cause.failureOption(exit.cause)
    return Option.isSome(first) ? f(first.value) : plainFailure
  }
}

const tagOf = (error: unknown): string | undefined =>
  Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" ? error._tag : undefined

/** @internal */
export const ignoreTags = (...tags: ReadonlyArray<string>): CircuitBreaker.Classifier<unknown, unknown> => {
  tags.forEach((tag, i) => tagName.props.parse("CircuitBreaker.ignoreTags", `tags[${i}]`, tag))
  const set = new Set(tags)
  return (exit) => {
    if (Exit.isSuccess(exit)) return success
    const first = Cause.failureOption(exit.cause)
    if (Option.isSome(first)) {
      const tag = tagOf(first.value)
      if (tag !== undefined && set.has(tag)) return ignored
      return failureFromError(first.value)
    }
    return plainFailure
  }
}

/** @internal */
export const countTags = (...tags: ReadonlyArray<string>): CircuitBreaker.Classifier<unknown, unknown> => {
  tags.forEach((tag, i) => tagName.props.parse("CircuitBreaker.countTags", `tags[${i}]`, tag))
  const set = new Set(tags)
  return (exit) => {
    if (Exit.isSuccess(exit)) return success
    const first = Cause.failureOption(exit.cause)
    if (Option.isSome(first)) {
      const tag = tagOf(first.value)
      return tag !== undefined && set.has(tag) ? failureFromError(first.value) : success
    }
    return plainFailure
  }
}

/** @internal */
export const onlyDefects: CircuitBreaker.Classifier<unknown, unknown> = (exit) =>
  Exit.isSuccess(exit) ? success : Cause.isDie(exit.cause) ? plainFailure : success
