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
  readonly delay: Duration.Duration
  /** `delay` in milliseconds (`Infinity` for an infinite delay). */
  readonly delayMillis: number
  readonly maxAttempts: number
  readonly while: ((error: EIn) => boolean) | undefined
}

/** Validates `Hedge.make`'s options; throws `InvalidOptionsError`. */
export const parse = <EIn>(options: Hedge.Hedge.Options<EIn>): Config<EIn> => {
  const m = "Hedge.make"
  options = validate.options(m, options)
  const delay = validate.duration(m, "delay", options.delay, { allowZero: true, allowInfinite: true })
  const maxAttempts = validate.number(m, "maxAttempts", options.maxAttempts, { min: 1, max: MAX_ATTEMPTS, integer: true })
  const whilePredicate = validate.predicate<(error: EIn) => boolean>(m, "while", options.while)
  const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
  const delayMillis = Duration.isFinite(delay) ? Duration.toMillis(delay) : Infinity
  return { name, delay, delayMillis, maxAttempts, while: whilePredicate }
}
