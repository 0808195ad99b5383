/**
 * Option validation shared by every constructor. Each check names the module,
 * the option and the allowed range; pure constructors throw, scoped ones fail.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { InvalidOptionsError } from "../Errors.js"

/** @internal */
export const invalid = (module: string, option: string, value: unknown, expected: string): InvalidOptionsError =>
  new InvalidOptionsError({ module, option, value, expected })

/** @internal */
export interface DurationBounds {
  /** Allow a zero duration (default false). */
  readonly allowZero?: boolean
  /** Allow an infinite duration (default false). */
  readonly allowInfinite?: boolean
}

/**
 * Decodes a `DurationInput` and checks it; throws `InvalidOptionsError`.
 * @internal
 */
export const duration = (
  module: string,
  option: string,
  value: unknown,
  bounds: DurationBounds = {}
): Duration.Duration => {
  const expected = `a ${bounds.allowInfinite ? "" : "finite "}duration ${bounds.allowZero ? ">= 0" : "> 0"}`
  let d: Duration.Duration
  try {
    if (typeof value === "number" && (Number.isNaN(value) || value < 0)) throw new Error()
    if (typeof value === "bigint" && value < BigInt(0)) throw new Error()
    if (typeof value === "string" && value.startsWith("-")) throw new Error()
    if (Array.isArray(value) && value.some((x) => !(x >= 0))) throw new Error()
    d = Duration.decode(value as Duration.DurationInput)
  } catch {
    throw invalid(module, option, value, expected)
  }
  if (!Duration.isFinite(d)) {
    if (bounds.allowInfinite) return d
    throw invalid(module, option, value, expected)
  }
  const ms = Duration.toMillis(d)
  if (!bounds.allowZero && ms === 0) throw invalid(module, option, value, expected)
  return d
}

/** @internal */
export const optionalDuration = (
  module: string,
  option: string,
  value: unknown,
  bounds: DurationBounds = {}
): Duration.Duration | undefined => value === undefined ? undefined : duration(module, option, value, bounds)

/** @internal */
export interface NumberBounds {
  readonly min?: number
  readonly max?: number
  /** Exclusive minimum. */
  readonly gt?: number
  readonly integer?: boolean
  readonly allowInfinite?: boolean
}

const describeNumber = (b: NumberBounds): string => {
  const kind = b.integer ? "an integer" : "a number"
  const parts: Array<string> = []
  if (b.gt !== undefined) parts.push(`> ${b.gt}`)
  if (b.min !== undefined) parts.push(`>= ${b.min}`)
  if (b.max !== undefined) parts.push(`<= ${b.max}`)
  return parts.length === 0 ? kind : `${kind} ${parts.join(" and ")}`
}

/** @internal */
export const number = (module: string, option: string, value: unknown, bounds: NumberBounds = {}): number => {
  const expected = describeNumber(bounds)
  if (typeof value !== "number") throw invalid(module, option, value, expected)
  if (!Number.isFinite(value) && !(bounds.allowInfinite && value === Infinity)) {
    throw invalid(module, option, value, expected)
  }
  if (bounds.integer && Number.isFinite(value) && !Number.isInteger(value)) throw invalid(module, option, value, expected)
  if (value < (bounds.min ?? -Infinity)) throw invalid(module, option, value, expected)
  if (value > (bounds.max ?? Infinity)) throw invalid(module, option, value, expected)
  if (value <= (bounds.gt ?? -Infinity)) throw invalid(module, option, value, expected)
  return value
}

/** @internal */
export const optionalNumber = (
  module: string,
  option: string,
  value: unknown,
  bounds: NumberBounds = {}
): number | undefined => value === undefined ? undefined : number(module, option, value, bounds)

/** @internal */
export const oneOf = <const A extends string>(
  module: string,
  option: string,
  value: unknown,
  allowed: ReadonlyArray<A>
): A => {
  if ((allowed as ReadonlyArray<unknown>).includes(value)) return value as A
  throw invalid(module, option, value, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`)
}

/** @internal */
export const predicate = <A>(module: string, option: string, value: unknown): A | undefined => {
  if (value === undefined) return undefined
  if (typeof value !== "function") throw invalid(module, option, value, "a function")
  return value as A
}

/** @internal */
export const nonEmptyString = (module: string, option: string, value: unknown): string => {
  if (typeof value !== "string" || value.length === 0) throw invalid(module, option, value, "a non-empty string")
  return value
}

/**
 * Runs a throwing validation inside an Effect, turning `InvalidOptionsError`
 * into a typed failure (defects stay defects).
 * @internal
 */
export const validated = <A>(f: () => A): Effect.Effect<A, InvalidOptionsError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (e) {
      if (e instanceof InvalidOptionsError) return Effect.fail(e)
      return Effect.die(e)
    }
  })
