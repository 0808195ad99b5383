/**
 * The chaos constructors' options, described once: checks, defaults,
 * `Config` (`Chaos.config`: the rate, the switch's initial state, the name
 * and a latency's delay; what to inject otherwise is code) and the docs'
 * tables.
 *
 * @internal
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Chaos from "../../Chaos.js"
import * as Spec from "../spec.js"
import * as validate from "../validate.js"
import { isSwitch } from "./switch.js"

/** The name of a chaos policy made without one. */
export const DEFAULT_NAME = "chaos"

/** A chaos policy is on unless told otherwise. */
export const DEFAULT_ENABLED = true

/** The options every chaos policy takes, validated. */
export interface Common {
  readonly name: string
  readonly rate: number
  readonly enabled: Chaos.Enabled
}

/** A latency's delay, validated: fixed, or a uniform range in milliseconds. */
export type Delay =
  | { readonly _tag: "Fixed"; readonly delay: Duration.Duration }
  | { readonly _tag: "Range"; readonly min: number; readonly max: number }

const ENABLED = "a boolean, a Chaos.Switch or an Effect<boolean>"

/** `enabled`: a boolean (from `Config` too), a `Chaos.Switch` or an `Effect<boolean>` (code). */
const enabled: Spec.Field<Chaos.Enabled> = new Spec.Field<Chaos.Enabled | undefined>({
  ...(Spec.boolean().props as Spec.Field<any>["props"]),
  expected: ENABLED,
  parse: (m, o, v) => {
    if (typeof v !== "boolean" && !isSwitch(v) && !Effect.isEffect(v)) throw validate.invalid(m, o, v, ENABLED)
    return v as Chaos.Enabled
  }
}).default(DEFAULT_ENABLED)

const common = {
  rate: Spec.number({ min: 0, max: 1 }).required(),
  enabled,
  name: Spec.string().default(DEFAULT_NAME)
}

const DELAY = { allowZero: true } as const

const parseDelay = (m: string, o: string, v: unknown): Delay => {
  // a range: { min, max } (either missing is named as missing)
  if (Predicate.isObject(v) && ("min" in v || "max" in v) && !Duration.isDuration(v)) {
    const range = v as Partial<Chaos.Chaos.Range>
    const min = Duration.toMillis(validate.duration(m, `${o}.min`, range.min, DELAY))
    const max = Duration.toMillis(validate.duration(m, `${o}.max`, range.max, DELAY))
    if (max < min) {
      throw validate.invalid(m, `${o}.max`, range.max, `a duration >= ${o}.min (${Duration.format(Duration.millis(min))})`)
    }
    return { _tag: "Range", min, max }
  }
  return { _tag: "Fixed", delay: validate.duration(m, o, v, DELAY) }
}

/**
 * `Config` of a delay: a duration under its key (`delay="2 seconds"`), or a
 * range under its key's `min` and `max` (`delay.min`, `delay.max`; either
 * alone is read, and named as missing by the check).
 */
const readDelay = (key: string): Config.Config<unknown> =>
  Config.orElse(Config.string(key), () =>
    Config.nested(
      Config.all({ min: Config.option(Config.string("min")), max: Config.option(Config.string("max")) }).pipe(
        Config.mapOrFail(({ max, min }) =>
          Option.isNone(min) && Option.isNone(max)
            ? Either.left(ConfigError.MissingData([], "Expected a duration, or its min and max"))
            : Either.right({
              ...(Option.isSome(min) ? { min: min.value } : {}),
              ...(Option.isSome(max) ? { max: max.value } : {})
            })
        )
      ),
      key
    ))

/**
 * `Chaos.latency`'s `delay`: a duration >= 0, or `{ min, max }` with
 * `min <= max` (its `expected` stays the duration's: the message of a
 * missing delay is unchanged).
 */
const delay: Spec.Field<Delay | undefined> = new Spec.Field<Delay | undefined>({
  ...(Spec.duration(DELAY).props as Spec.Field<any>["props"]),
  parse: parseDelay,
  read: readDelay
})

/** The options of `Chaos.fault`: `error` is checked for presence first (an explicit `undefined` is an error value). @internal */
export const faultSpec = Spec.struct<Chaos.Chaos.Options & { readonly error: unknown }>()("Chaos.fault", {
  error: Spec.code<unknown>("an error or a function returning one", () => true).doc("required"),
  ...common
})

/** The options of `Chaos.latency`. @internal */
export const latencySpec = Spec.struct<Chaos.Chaos.Options & { readonly delay: Duration.DurationInput | Chaos.Chaos.Range }>()(
  "Chaos.latency",
  { delay: delay.required().accepts(`${delay.props.expected}, or { min, max } (durations, min <= max)`), ...common }
)

/** The options of `Chaos.outcome`: `value` is checked for presence first (`undefined` is a value to inject). @internal */
export const outcomeSpec = Spec.struct<Chaos.Chaos.Options & { readonly value: unknown }>()("Chaos.outcome", {
  value: Spec.code<unknown>("a value", () => true).doc("required (undefined is a value)"),
  ...common
})

/** The options of `Chaos.behavior`. @internal */
export const behaviorSpec = Spec.struct<Chaos.Chaos.Options & { readonly effect: Effect.Effect<unknown, unknown, unknown> }>()(
  "Chaos.behavior",
  { effect: Spec.code<Effect.Effect<unknown, unknown, unknown>>("an Effect", Effect.isEffect).required(), ...common }
)

/**
 * Checks that `key` is in `options` (an object): the options whose value may
 * be `undefined` but must be given (`Chaos.fault`'s `error`,
 * `Chaos.outcome`'s `value`). Throws `InvalidOptionsError`.
 *
 * @internal
 */
export const present = (spec: Spec.Spec<any>, options: unknown, key: string): void => {
  const o = validate.options(spec.module, options as Record<string, unknown>)
  if (!(key in o)) throw validate.invalid(spec.module, key, undefined, (spec.fields[key] as Spec.Field<unknown>).props.expected)
}

/** The options of a chaos policy read from `Config` (`Chaos.fromConfig`), data and code. */
interface FromConfigOptions extends Omit<Chaos.ConfigOptions, "enabled"> {
  readonly enabled?: Chaos.Enabled | undefined
  readonly error?: unknown
  readonly value?: unknown
  readonly effect?: Effect.Effect<unknown, unknown, unknown> | undefined
}

/** What to inject, as given in code (at most one). */
const KINDS = ["error", "value", "effect"] as const

/** The kind a policy read from `Config` injects: the one of {@link KINDS} given in code, else a latency. @internal */
export const kindOf = (options: Readonly<Record<string, unknown>>): "error" | "value" | "effect" | "delay" =>
  KINDS.find((k) => k in options) ?? "delay"

/**
 * A spec whose `delay` is a range in `Config` too: an error about `delay.min`
 * or `delay.max` names that key (the base spec knows only groups' paths).
 */
class DelaySpec<F extends Spec.Fields> extends Spec.Spec<F> {
  override configKeyOf(path: string): string {
    return path.startsWith("delay.") ? path : super.configKeyOf(path)
  }
}

/**
 * The options of `Chaos.fromConfig` and `Chaos.layerConfig`: the data read
 * from `Config` (`rate`, `enabled`, `name`, and a latency's `delay`) and the
 * code given (`error`, `value` or `effect`: what to inject; or none, for a
 * latency; and `enabled` as a `Switch` or an `Effect`).
 *
 * @internal
 */
export const configSpec = new DelaySpec(
  "Chaos.fromConfig",
  {
    ...common,
    delay: delay.doc("none: a latency's, required without error, value or effect (a duration, or delay.min and delay.max)"),
    error: faultSpec.fields.error.doc("none (a fault's: what to inject)"),
    value: outcomeSpec.fields.value.doc("none (an outcome's: what to inject)"),
    effect: Spec.code<Effect.Effect<unknown, unknown, unknown>>("an Effect", Effect.isEffect).doc("none (a behavior's: what to run)")
  } satisfies { readonly [K in keyof Required<FromConfigOptions>]: Spec.Field<any> },
  (r, o, m) => {
    const kinds = KINDS.filter((k) => k in o)
    if (kinds.length > 1) {
      throw validate.invalid(m, kinds[1]!, o[kinds[1]!], `absent beside ${kinds[0]} (a chaos policy injects one kind)`)
    }
    if (kinds.length === 1 && r.delay !== undefined) {
      throw validate.invalid(m, "delay", o.delay, `absent beside ${kinds[0]} (a delay is a latency's)`)
    }
    if (kinds.length === 0 && r.delay === undefined) {
      throw validate.invalid(m, "delay", undefined, `${delay.props.expected} (a latency's, without error, value or effect in code)`)
    }
  },
  "Chaos.config"
)

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [configSpec, faultSpec, latencySpec, outcomeSpec, behaviorSpec]
