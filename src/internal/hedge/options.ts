/**
 * `Hedge.make`'s options: validation, defaults and `Config`, described once.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as Hedge from "../../Hedge.js"
import * as Spec from "../spec.js"
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

/** The failure kept when every attempt fails, by default. */
export const DEFAULT_FAIL_WITH = "last" as const

/** A delay: a duration >= 0, or infinite (attempts start only when one fails). */
const delayBounds = { allowZero: true, allowInfinite: true } as const

/**
 * The options of `Hedge.make`, described once: checks, defaults, `Config`
 * (the data options; `while` and `whenResult` are code, `fromConfig`'s
 * second argument) and the docs' table.
 *
 * @internal
 */
export const spec = Spec.struct<Hedge.Hedge.Options<any, any>>()("Hedge.make", {
  delay: Spec.duration(delayBounds).orFunction<(attempt: number) => Duration.DurationInput>().required(),
  maxAttempts: Spec.integer({ min: 1, max: MAX_ATTEMPTS }).required(),
  while: Spec.func<(error: unknown) => boolean>(),
  whenResult: Spec.func<(value: unknown) => boolean>(),
  failWith: Spec.literal("last", "first").default(DEFAULT_FAIL_WITH),
  failAfterMaxAttempts: Spec.boolean().default(false),
  name: Spec.string().default(DEFAULT_NAME)
}, (r, _, m) => {
  if (r.failAfterMaxAttempts && r.whenResult === undefined) {
    throw validate.invalid(m, "failAfterMaxAttempts", true, "false or absent without whenResult (it applies to rejected results)")
  }
}).readFrom("Hedge.config")

/** Validates `Hedge.make`'s options; throws `InvalidOptionsError`. */
export const parse = <EIn>(options: Hedge.Hedge.Options<EIn, any>): Config<EIn> => {
  const r = spec.resolve(options)
  const delay = r.delay
  const delayMillis = typeof delay === "function" ? undefined : Duration.isFinite(delay) ? Duration.toMillis(delay) : Infinity
  return {
    name: r.name,
    delay,
    delayMillis,
    maxAttempts: r.maxAttempts,
    while: r.while as ((error: EIn) => boolean) | undefined,
    whenResult: r.whenResult,
    failWith: r.failWith,
    failAfterMaxAttempts: r.failAfterMaxAttempts
  }
}

/** Whether `u` is a valid answer of a `delay` function: a duration >= 0, or infinite. */
export const isDelay = (u: unknown): u is Duration.DurationInput => {
  try {
    validate.duration("Hedge.make", "delay(attempt)", u, delayBounds)
    return true
  } catch {
    return false
  }
}

/** A valid answer of a `delay` function, in milliseconds (`Infinity` for an infinite one). */
export const delayMillisOf = (d: Duration.DurationInput): number => {
  const decoded = validate.duration("Hedge.make", "delay(attempt)", d, delayBounds)
  return Duration.isFinite(decoded) ? Duration.toMillis(decoded) : Infinity
}

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec]
