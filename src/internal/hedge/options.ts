/**
 * `Hedge.make`'s options: validation and defaults.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as Hedge from "../../Hedge.js"
import * as validate from "../validate.js"

/** The largest `maxAttempts` accepted (`Hedge.MAX_ATTEMPTS`). */
export const MAX_ATTEMPTS = 100

/** The name of a hedge made without one. */
export const DEFAULT_NAME = "hedge"

/** Validated options. */
export interface Config<EIn> {
  readonly name: string
  /** The constant delay, or the function of the attempt number that gives it. */
  readonly delay: Duration.Duration | ((attempt: number) => Duration.DurationInput)
  /** A constant `delay` in milliseconds (`Infinity` for an infinite delay); `undefined` for a function. */
  readonly delayMillis: number | undefined
  readonly maxAttempts: number
  readonly while: ((error: EIn) => boolean) | undefined
  /** Treat a success as a failed attempt where this holds (undefined: values are not checked). */
  readonly whenResult: ((value: unknown) => boolean) | undefined
  /** When every attempt fails: the outcome of the attempt that failed last or first. */
  readonly failWith: "last" | "first"
  /** When the chosen outcome is a rejected value: fail with `FailedResultError` instead of returning it. */
  readonly failAfterMaxAttempts: boolean
}

/** Validates `Hedge.make`'s options; throws `InvalidOptionsError`. */
export const parse = <EIn>(options: Hedge.Hedge.Options<EIn, any>): Config<EIn> => {
  const m = "Hedge.make"
  options = validate.options(m, options)
  const delay = typeof options.delay === "function"
    ? options.delay
    : validate.duration(m, "delay", options.delay, { allowZero: true, allowInfinite: true })
  const maxAttempts = validate.number(m, "maxAttempts", options.maxAttempts, { min: 1, max: MAX_ATTEMPTS, integer: true })
  const whilePredicate = validate.predicate<(error: EIn) => boolean>(m, "while", options.while)
  const whenResult = validate.predicate<(value: unknown) => boolean>(m, "whenResult", options.whenResult)
  const failWith = options.failWith === undefined ? "last" : validate.oneOf(m, "failWith", options.failWith, ["last", "first"])
  const failAfterMaxAttempts = validate.optionalBoolean(m, "failAfterMaxAttempts", options.failAfterMaxAttempts) === true
  if (failAfterMaxAttempts && whenResult === undefined) {
    throw validate.invalid(m, "failAfterMaxAttempts", true, "false or absent without whenResult (it applies to rejected results)")
  }
  const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
  const delayMillis = typeof delay === "function" ? undefined : Duration.isFinite(delay) ? Duration.toMillis(delay) : Infinity
  return { name, delay, delayMillis, maxAttempts, while: whilePredicate, whenResult, failWith, failAfterMaxAttempts }
}

/** Whether `u` is a valid answer of a `delay` function: a duration >= 0, or infinite. */
export const isDelay = (u: unknown): u is Duration.DurationInput => {
  try {
    validate.duration("Hedge.make", "delay(attempt)", u, { allowZero: true, allowInfinite: true })
    return true
  } catch {
    return false
  }
}

/** A valid answer of a `delay` function, in milliseconds (`Infinity` for an infinite one). */
export const delayMillisOf = (d: Duration.DurationInput): number => {
  const decoded = validate.duration("Hedge.make", "delay(attempt)", d, { allowZero: true, allowInfinite: true })
  return Duration.isFinite(decoded) ? Duration.toMillis(decoded) : Infinity
}
