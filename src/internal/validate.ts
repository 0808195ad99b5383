/**
 * Option validation shared by every constructor. Each check names the module,
 * the option and the allowed range; pure constructors throw, scoped ones fail.
 *
 * @internal
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { InvalidOptionsError } from "./errors.js"

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

/** The spelling of an infinite duration in a string (from `Config` or JSON): `"Infinity"`, any case. */
const INFINITY = /^\s*infinity\s*$/i

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
    d = typeof value === "string" && INFINITY.test(value) ? Duration.infinity : Duration.decode(value as Duration.DurationInput)
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
  /** Exclusive maximum. */
  readonly lt?: number
  readonly integer?: boolean
  readonly allowInfinite?: boolean
}

const describeNumber = (b: NumberBounds): string => {
  const kind = b.integer ? "an integer" : "a number"
  const parts: Array<string> = []
  if (b.gt !== undefined) parts.push(`> ${b.gt}`)
  if (b.min !== undefined) parts.push(`>= ${b.min}`)
  if (b.max !== undefined) parts.push(`<= ${b.max}`)
  if (b.lt !== undefined) parts.push(`< ${b.lt}`)
  const text = parts.length === 0 ? kind : `${kind} ${parts.join(" and ")}`
  return b.allowInfinite ? `${text}, or Infinity` : text
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
  if (bounds.lt !== undefined && value >= bounds.lt) throw invalid(module, option, value, expected)
  // an integer past 2^53 - 1 is no longer exact (n + 1 === n): a count that large is a mistake
  if (bounds.integer && Number.isFinite(value) && !Number.isSafeInteger(value)) {
    throw invalid(module, option, value, describeNumber({ ...bounds, max: Number.MAX_SAFE_INTEGER }))
  }
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

const isOptionsObject = (value: unknown): value is object =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !Duration.isDuration(value) &&
  !Effect.isEffect(value)

/**
 * An options argument, or a group of options inside one (`halfOpen`,
 * `retry`, …). `undefined` is `{}` (every option takes its default); an
 * object is itself; anything else — `null` (what JSON and `Config` give for
 * an absent value), a number, a string, a boolean, an array, a function, a
 * `Duration` or an `Effect` — throws `InvalidOptionsError` naming the
 * constructor, the argument (`option`, `"options"` by default) and the value
 * received. Every public constructor that takes options calls it first.
 * @internal
 */
export const options = <A extends object>(module: string, value: A | null | undefined, option: string = "options"): A => {
  if (value === undefined) return {} as A
  if (isOptionsObject(value)) return value as A
  throw invalid(module, option, value, "an object")
}

/**
 * An optional group of options: `undefined` stays `undefined`; otherwise as
 * {@link options}.
 * @internal
 */
export const optionalOptions = <A extends object>(module: string, option: string, value: A | null | undefined): A | undefined =>
  value === undefined ? undefined : options(module, value, option)

/** @internal */
export const optionalBoolean = (module: string, option: string, value: unknown): boolean | undefined => {
  if (value === undefined || typeof value === "boolean") return value
  throw invalid(module, option, value, "a boolean")
}

/**
 * A policy argument (of `Policy.compose`, `Policy.pipeline`, …): a policy, a
 * transform or a plain function from Effect to Effect.
 * @internal
 */
export const policy = <A>(module: string, option: string, value: unknown): A => {
  if (typeof value === "function") return value as A
  throw invalid(module, option, value, "a policy (a function from Effect to Effect)")
}

/**
 * Runs `f`, renaming an `InvalidOptionsError` it throws as one of `module`'s
 * own options: `prefix` + the option (e.g. `"timeout"` for the duration a
 * pipeline hands to `Timeout.make`, `"circuitBreaker.halfOpen.probes"` for
 * the options a client hands to `CircuitBreaker.make`), so the error names
 * what the caller wrote.
 * @internal
 */
export const nested = <A>(module: string, rename: (option: string) => string, f: () => A): A => {
  try {
    return f()
  } catch (e) {
    if (e instanceof InvalidOptionsError) throw invalid(module, rename(e.option), e.value, e.expected)
    throw e
  }
}

/**
 * The options a `layerConfig` reads: `Config.unwrap` of the record of
 * Configs, suspended (nothing is read until the layer is built). Also for an
 * empty record (every option at its default), on which effect 3.22's
 * `Config.unwrap` throws a `TypeError`; anything but a record of Configs (or
 * a Config of the whole options) fails with `InvalidOptionsError` naming the
 * argument `config`.
 * @internal
 */
export const fromConfig = <A>(
  module: string,
  config: Config.Config.Wrap<A>
): Effect.Effect<A, InvalidOptionsError | ConfigError.ConfigError> =>
  Effect.suspend((): Effect.Effect<A, InvalidOptionsError | ConfigError.ConfigError> => {
    if (Config.isConfig(config)) return config as Config.Config<A>
    if (!isOptionsObject(config)) return Effect.fail(invalid(module, "config", config, "a record of Configs"))
    if (Object.keys(config).length === 0) return Effect.succeed({} as A)
    return Config.unwrap(config)
  })
