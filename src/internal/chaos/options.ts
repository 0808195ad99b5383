/**
 * The chaos constructors' options: validation and defaults.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import type * as Chaos from "../../Chaos.js"
import * as validate from "../validate.js"
import { isSwitch } from "./switch.js"

/** The name of a chaos policy made without one. */
export const DEFAULT_NAME = "chaos"

/** The options every chaos policy takes, validated. */
export interface Common {
  readonly name: string
  readonly rate: number
  readonly enabled: Chaos.Enabled
}

/** Validates `rate`, `name` and `enabled` (on by default); throws `InvalidOptionsError`. */
export const common = (m: string, options: Chaos.Chaos.Options): Common => {
  const rate = validate.number(m, "rate", options.rate, { min: 0, max: 1 })
  const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
  const enabled = options.enabled === undefined ? true : options.enabled
  if (typeof enabled !== "boolean" && !isSwitch(enabled) && !Effect.isEffect(enabled)) {
    throw validate.invalid(m, "enabled", enabled, "a boolean, a Chaos.Switch or an Effect<boolean>")
  }
  return { name, rate, enabled }
}

/** A latency's delay, validated: fixed, or a uniform range in milliseconds. */
export type Delay =
  | { readonly _tag: "Fixed"; readonly delay: Duration.Duration }
  | { readonly _tag: "Range"; readonly min: number; readonly max: number }

/** Validates `Chaos.latency`'s `delay`: a duration >= 0, or `{ min, max }` with `min <= max`. */
export const delay = (m: string, delay: Duration.DurationInput | Chaos.Chaos.Range): Delay => {
  // a range: { min, max } (either missing is named as missing)
  if (Predicate.isObject(delay) && ("min" in delay || "max" in delay) && !Duration.isDuration(delay)) {
    const range = delay as Partial<Chaos.Chaos.Range>
    const min = Duration.toMillis(validate.duration(m, "delay.min", range.min, { allowZero: true }))
    const max = Duration.toMillis(validate.duration(m, "delay.max", range.max, { allowZero: true }))
    if (max < min) throw validate.invalid(m, "delay.max", range.max, `a duration >= delay.min (${Duration.format(Duration.millis(min))})`)
    return { _tag: "Range", min, max }
  }
  return { _tag: "Fixed", delay: validate.duration(m, "delay", delay, { allowZero: true }) }
}
