/**
 * Options described once. A module declares its options as a {@link Spec}:
 * one {@link Field} per option, saying what the option accepts, its default
 * and how it is read from `Config`. From that one description come:
 *
 * - validation into `InvalidOptionsError` naming the constructor, the option
 *   and the allowed range ({@link Spec.resolve}, the constructors' only check);
 * - the defaults (a field's default goes through the same check, once);
 * - the `Config` of the module's data options ({@link Spec.config}: every
 *   option that is data, under its name; groups nested or flat; options that
 *   are code — classifiers, hooks, `Schedule`s — have no `Config`, except
 *   where a field says how to build the code from data, as `Retry`'s
 *   schedule from an exponential backoff's options);
 * - the turning of config data into options ({@link Spec.fromConfigOptions});
 * - the options table of the docs ({@link Spec.rows}, see
 *   `scripts/options-docs.ts`).
 *
 * The TypeScript interface of a module's options stays hand-written in its
 * public module (it carries the JSDoc an editor shows on hover); the spec is
 * checked against it at compile time: {@link struct} requires a field for
 * every option of the interface and no other.
 *
 * Construction stays cheap: {@link Spec.resolve} is a loop over the fields
 * with the same checks a hand-written ladder made; no decoding, no Effect.
 *
 * @internal
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidOptionsError } from "./errors.js"
import * as validate from "./validate.js"

/** What kind of value an option takes (the docs' "Accepts" column says it in words). @internal */
export type Kind = "duration" | "integer" | "number" | "boolean" | "literal" | "string" | "code" | "group"

/** How a code option is built from data read from `Config` (e.g. a backoff schedule from its base and factor). @internal */
export interface Build {
  /** The data fields read from `Config` (at the level of the option itself: flat). */
  readonly fields: Fields
  /** Makes the option's value from the data present (each already checked by its field); throws `InvalidOptionsError`. */
  readonly make: (data: Readonly<Record<string, unknown>>) => unknown
}

interface Props<A> {
  readonly kind: Kind
  readonly expected: string
  /** Checks a given (not undefined) value; throws `InvalidOptionsError` naming `module` and `option`. */
  readonly parse: (module: string, option: string, value: unknown) => A
  readonly required: boolean
  /** The input given when the option is absent (goes through `parse` once), if any. */
  readonly default: Option.Option<unknown>
  /** The default as the docs state it (else the default input, shown). */
  readonly defaultDoc: string | undefined
  /** The option's name in `Config` (its own name by default). */
  readonly configKey: string | undefined
  /** Reads the raw value of a data option from `Config`; undefined for code. */
  readonly read: ((key: string) => Config.Config<unknown>) | undefined
  /** A group's fields. */
  readonly group: Spec<Fields> | undefined
  /** A group whose options are read from `Config` at its parent's level (under their config keys). */
  readonly flat: boolean
  /** A code option that can be built from data. */
  readonly build: Build | undefined
  /** An absent group stays absent (`undefined`) instead of taking its fields' defaults. */
  readonly optionalGroup: boolean
  /** Not part of the documented options: checked when given, never read from `Config`, not in the docs' table. */
  readonly hidden?: boolean | undefined  /** What the docs' table says it accepts, when more than its error's `expected` says. */
  readonly acceptsDoc?: string | undefined
}

/**
 * One option: what it accepts, its default, its name in `Config`. Immutable:
 * each modifier returns a new field.
 * @internal
 */
export class Field<A> {
  declare readonly _A: (_: never) => A
  constructor(readonly props: Props<A>) {}

  /** The value when the option is absent: `input` goes through this field's check (once, on first use). */
  default<const D>(input: D, doc?: string): Field<Exclude<A, undefined>> {
    return new Field<Exclude<A, undefined>>({
      ...(this.props as unknown as Props<Exclude<A, undefined>>),
      default: Option.some(input),
      defaultDoc: doc
    })
  }

  /** States the default in the docs where the code computes it (e.g. from another option). */
  doc(defaultDoc: string): Field<A> {
    return new Field<A>({ ...this.props, defaultDoc })
  }

  /** The option must be given. */
  required(): Field<Exclude<A, undefined>> {
    return new Field<Exclude<A, undefined>>({ ...(this.props as unknown as Props<Exclude<A, undefined>>), required: true })
  }

  /** Transforms the checked value (the default's too), e.g. a duration into milliseconds. */
  map<B>(f: (a: A) => B): Field<B> {
    const parse = this.props.parse
    return new Field<B>({ ...(this.props as unknown as Props<B>), parse: (m, o, v) => f(parse(m, o, v)) })
  }

  /** Its name in `Config` when it differs from the option's. */
  key(configKey: string): Field<A> {
    return new Field<A>({ ...this.props, configKey })
  }

  /** Also accepts a function (kept as is), e.g. a delay computed per attempt. */
  orFunction<F extends (...args: ReadonlyArray<any>) => any>(): Field<A | F> {
    const parse = this.props.parse
    const expected = `${this.props.expected} or a function`
    return new Field<A | F>({
      ...(this.props as unknown as Props<A | F>),
      expected,
      parse: (m, o, v) => {
        if (typeof v === "function") return v as F
        try {
          return parse(m, o, v)
        } catch (e) {
          if (e instanceof InvalidOptionsError) throw validate.invalid(e.module, e.option, e.value, expected)
          throw e
        }
      }
    })
  }

  /**
   * Also accepts a value of another kind (kept as is) where `is` holds, e.g.
   * a bulkhead's `maxConcurrent` given as an `AdaptiveLimit`. The docs say
   * `expected`; errors about any other value keep this field's own wording
   * (the alternative is a code value that `Config` never gives).
   */
  orValue<B>(expected: string, is: (u: unknown) => u is B): Field<A | B> {
    const parse = this.props.parse
    return new Field<A | B>({
      ...(this.props as unknown as Props<A | B>),
      expected,
      parse: (m, o, v) => is(v) ? v : parse(m, o, v)
    })
  }

  /** What the options table says the option accepts (its errors keep their own `expected`). */
  accepts(text: string): Field<A> {
    return new Field<A>({ ...this.props, acceptsDoc: text })
  }

  /** An `@internal` option: checked when given, but not read from `Config` nor shown in the options table. */
  internal(): Field<A> {
    return new Field<A>({ ...this.props, read: undefined, hidden: true })
  }

  /** For a code option: how to build it from data read from `Config`. */
  fromConfig(fields: Fields, make: (data: Readonly<Record<string, unknown>>) => unknown): Field<A> {
    return new Field<A>({ ...this.props, build: { fields, make } })
  }

  /** The checked default, computed once. */
  private cachedDefault: { readonly value: A } | undefined
  /** @internal */
  defaultValue(module: string, option: string): A {
    if (this.cachedDefault !== undefined) return this.cachedDefault.value
    const input = this.props.default
    const value = Option.isSome(input) ? this.props.parse(module, option, input.value) : undefined as A
    this.cachedDefault = { value }
    return value
  }
}

const field = <A>(props: Partial<Props<A>> & Pick<Props<A>, "kind" | "expected" | "parse">): Field<A> =>
  new Field<A>({
    required: false,
    default: Option.none(),
    defaultDoc: undefined,
    configKey: undefined,
    read: undefined,
    group: undefined,
    flat: false,
    build: undefined,
    optionalGroup: false,
    ...props
  })

/** Any field. @internal */
export type Fields = { readonly [K in string]: Field<any> }

/** The checked options of a spec: each field's value (its default when absent). @internal */
export type Resolved<F extends Fields> = { readonly [K in keyof F]: F[K] extends Field<infer A> ? A : never }

const describeDuration = (b: validate.DurationBounds): string =>
  `a ${b.allowInfinite ? "" : "finite "}duration ${b.allowZero ? ">= 0" : "> 0"}`

/**
 * A duration (any `DurationInput`; from `Config`, a string such as
 * `"5 seconds"` or `"Infinity"`).
 * @internal
 */
export const duration = (bounds: validate.DurationBounds = {}): Field<Duration.Duration | undefined> =>
  field({
    kind: "duration",
    expected: describeDuration(bounds),
    parse: (m, o, v) => validate.duration(m, o, v, bounds),
    read: (key) => Config.string(key)
  })

/** A duration in milliseconds (`Infinity` for an infinite one, when allowed). @internal */
export const millis = (bounds: validate.DurationBounds = {}): Field<number | undefined> =>
  duration(bounds).map((d) => d === undefined ? undefined : Duration.isFinite(d) ? Duration.toMillis(d) : Infinity)

/** An integer (`Infinity` when `allowInfinite`). @internal */
export const integer = (bounds: Omit<validate.NumberBounds, "integer"> = {}): Field<number | undefined> =>
  number({ ...bounds, integer: true })

/** A number. @internal */
export const number = (bounds: validate.NumberBounds = {}): Field<number | undefined> =>
  field({
    kind: bounds.integer ? "integer" : "number",
    expected: expectedNumber(bounds),
    parse: (m, o, v) => validate.number(m, o, v, bounds),
    read: (key) => Config.number(key)
  })

const expectedNumber = (bounds: validate.NumberBounds): string => {
  try {
    validate.number("", "", undefined, bounds)
  } catch (e) {
    if (e instanceof InvalidOptionsError) return e.expected
  }
  return "a number"
}

/** `true` or `false`. @internal */
export const boolean = (): Field<boolean | undefined> =>
  field({
    kind: "boolean",
    expected: "a boolean",
    parse: (m, o, v) => {
      if (typeof v !== "boolean") throw validate.invalid(m, o, v, "a boolean")
      return v
    },
    read: (key) => Config.boolean(key)
  })

/** One of the given strings. @internal */
export const literal = <const L extends string>(...values: ReadonlyArray<L>): Field<L | undefined> =>
  field({
    kind: "literal",
    expected: `one of ${values.map((a) => JSON.stringify(a)).join(", ")}`,
    parse: (m, o, v) => validate.oneOf(m, o, v, values),
    read: (key) => Config.string(key)
  })

/** A non-empty string. @internal */
export const string = (): Field<string | undefined> =>
  field({
    kind: "string",
    expected: "a non-empty string",
    parse: (m, o, v) => validate.nonEmptyString(m, o, v),
    read: (key) => Config.string(key)
  })

/** A function (code: never read from `Config`). @internal */
export const func = <F = (...args: ReadonlyArray<any>) => any>(expected = "a function"): Field<F | undefined> =>
  code<F>(expected, (u) => typeof u === "function")

/**
 * Code of any other shape (a `Schedule`, a budget, a store): accepted where
 * `is` holds, else rejected as not `expected`. Never read from `Config`
 * unless built from data ({@link Field.fromConfig}).
 * @internal
 */
export const code = <A>(expected: string, is: (u: unknown) => boolean): Field<A | undefined> =>
  field({
    kind: "code",
    expected,
    parse: (m, o, v) => {
      if (!is(v)) throw validate.invalid(m, o, v, expected)
      return v as A
    }
  })

/**
 * A group of options (an object inside the options, e.g. `halfOpen`). An
 * absent group takes its fields' defaults; with `optional`, it stays
 * `undefined`. In `Config`, a group is nested under its name, or with `flat`
 * its options sit at the parent's level under their config keys.
 * @internal
 */
export const group = <F extends Fields>(
  fields: F,
  options: { readonly flat?: boolean; readonly optional?: false } = {}
): Field<Resolved<F>> =>
  groupField(fields, options.flat === true, false) as Field<Resolved<F>>

/** {@link group}, absent unless given. @internal */
export const optionalGroup = <F extends Fields>(
  fields: F,
  options: { readonly flat?: boolean } = {}
): Field<Resolved<F> | undefined> => groupField(fields, options.flat === true, true) as Field<Resolved<F> | undefined>

const groupField = <F extends Fields>(fields: F, flat: boolean, optional: boolean): Field<Resolved<F> | undefined> => {
  const spec = new Spec("", fields)
  return field<Resolved<F> | undefined>({
    kind: "group",
    expected: "an object",
    parse: (m, o, v) => spec.resolveAt(m, validate.options(m, v as Record<string, unknown>, o), `${o}.`),
    group: spec as unknown as Spec<Fields>,
    flat,
    optionalGroup: optional
  })
}

/** One row of a module's options table. @internal */
export interface Row {
  /** The option's path in the options (`halfOpen.probes`); `schedule ← base` for data a code option is built from. */
  readonly option: string
  /** Its name in `Config` (path segments joined by `.`), or undefined for code. */
  readonly configKey: string | undefined
  readonly kind: Kind
  /** What it accepts. */
  readonly accepts: string
  readonly required: boolean
  /** The default, as the docs state it. */
  readonly default: string | undefined
}

/** A duration as the docs write it: `100 millis`, `30 seconds`, `1 minute`. */
const showDuration = (d: Duration.Duration): string => {
  if (!Duration.isFinite(d)) return "Infinity"
  const ms = Duration.toMillis(d)
  const unit = (n: number, name: string) => `${n} ${name}${n === 1 ? "" : "s"}`
  if (ms >= 60_000 && ms % 60_000 === 0) return unit(ms / 60_000, "minute")
  if (ms >= 1_000 && ms % 1_000 === 0) return unit(ms / 1_000, "second")
  return `${ms} millis`
}

const showDefault = (kind: Kind, input: unknown): string => {
  if (Duration.isDuration(input)) return showDuration(input)
  if (kind === "duration" && typeof input === "number") return showDuration(Duration.millis(input))
  if (typeof input === "string" && kind !== "duration") return JSON.stringify(input)
  return String(input)
}

/**
 * A module's options: its fields, and checks across fields (`refine`, run
 * after every field is checked; throws `InvalidOptionsError`).
 * @internal
 */
export class Spec<F extends Fields> {
  private readonly entries: ReadonlyArray<readonly [string, Field<unknown>]>
  constructor(
    readonly module: string,
    readonly fields: F,
    readonly refine?: (resolved: Resolved<F>, options: Readonly<Record<string, unknown>>, module: string) => void,
    /** The public `Config` these options are read from (e.g. `"Bulkhead.config"`), for the docs; none for pure constructors. */
    readonly configName?: string
  ) {
    this.entries = Object.entries(fields)
  }

  /** This spec, documented as read from `Config` by `name` (e.g. `"Bulkhead.config"`). */
  readFrom(name: string): Spec<F> {
    return new Spec(this.module, this.fields, this.refine, name)
  }

  /**
   * Checks `options` (an object, or undefined for all defaults) and returns
   * every option's value; throws `InvalidOptionsError` naming `module` (the
   * spec's by default) and the option.
   */
  resolve(options: unknown, module: string = this.module): Resolved<F> {
    return this.resolveAt(module, validate.options(module, options as Record<string, unknown>), "")
  }

  /** @internal */
  resolveAt(module: string, options: Readonly<Record<string, unknown>>, prefix: string): Resolved<F> {
    const out: Record<string, unknown> = {}
    for (const [key, f] of this.entries) {
      const value = options[key]
      const option = prefix + key
      if (value !== undefined) {
        out[key] = f.props.parse(module, option, value)
      } else if (f.props.required) {
        throw validate.invalid(module, option, undefined, f.props.expected)
      } else if (f.props.kind === "group" && !f.props.optionalGroup) {
        out[key] = f.props.parse(module, option, {})
      } else {
        out[key] = f.defaultValue(module, option)
      }
    }
    const resolved = out as Resolved<F>
    if (this.refine !== undefined) this.refine(resolved, options, module)
    return resolved
  }

  /** {@link resolve} in an Effect: `InvalidOptionsError` as a typed failure. */
  resolveEffect(options: unknown, module: string = this.module): Effect.Effect<Resolved<F>, InvalidOptionsError> {
    return validate.validated(() => this.resolve(options, module))
  }

  /** Every data option (and data that code options are built from), by config key, in `Config` order. */
  /** Every data option by config key, and whether it is one of this spec's own (not inside a group or a build). */
  private configFields(): ReadonlyArray<readonly [string, Field<unknown>, boolean]> {
    const out: Array<readonly [string, Field<unknown>, boolean]> = []
    const inner = (fields: ReadonlyArray<readonly [string, Field<unknown>, boolean]>) =>
      fields.map(([key, f]) => [key, f, false] as const)
    for (const [key, f] of this.entries) {
      const p = f.props
      if (p.read !== undefined) out.push([p.configKey ?? key, f, true])
      else if (p.group !== undefined && p.flat) out.push(...inner(p.group.configFields()))
      else if (p.group !== undefined) out.push([p.configKey ?? key, f, true])
      else if (p.build !== undefined) out.push(...inner(new Spec("", p.build.fields).configFields()))
    }
    return out
  }

  private cachedConfig: Config.Config<Record<string, unknown>> | undefined
  /**
   * The `Config` of the data options: each under its config key (absent
   * ones left out), nested groups under theirs. Values are raw (a duration
   * is its string): {@link fromConfigOptions} and {@link resolve} check them.
   * A required option (at the top level) missing from the config is the
   * config's error: a `ConfigError` naming its key.
   */
  get config(): Config.Config<Record<string, unknown>> {
    return this.cachedConfig ??= this.configOf(true)
  }

  private configOf(topLevel: boolean): Config.Config<Record<string, unknown>> {
    const configs: Record<string, Config.Config<Option.Option<unknown>>> = {}
    for (const [key, f, own] of this.configFields()) {
      const p = f.props
      if (p.read !== undefined) {
        // inside a group (which may be absent), every option is optional here; resolve checks them
        const required = topLevel && own && p.required
        configs[key] = required ? Config.map(p.read(key), Option.some) : Config.option(p.read(key))
      } else if (p.group !== undefined) {
        configs[key] = Config.map(
          Config.nested(p.group.configOf(false), key),
          (o) => Object.keys(o).length === 0 ? Option.none() : Option.some(o)
        )
      }
    }
    return Config.map(Config.all(configs), (record) => {
      const out: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(record)) {
        if (Option.isSome(value)) out[key] = value.value
      }
      return out
    })
  }

  /**
   * The options that config data stands for: data options moved to their
   * paths, code options built from their data. Errors name `module` and the
   * config key.
   */
  fromConfigOptions(data: Readonly<Record<string, unknown>>, module: string): Record<string, unknown> {
    const options = validate.options(module, data as Record<string, unknown>)
    const out: Record<string, unknown> = {}
    for (const [key, f] of this.entries) {
      const p = f.props
      const configKey = p.configKey ?? key
      if (p.read !== undefined) {
        if (options[configKey] !== undefined) out[key] = options[configKey]
      } else if (p.group !== undefined && p.flat) {
        const inner = p.group.fromConfigOptions(options, module)
        if (Object.keys(inner).length > 0) out[key] = inner
      } else if (p.group !== undefined) {
        if (options[configKey] !== undefined) {
          out[key] = validate.nested(
            module,
            (option) => `${configKey}.${option}`,
            () => p.group!.fromConfigOptions(options[configKey] as Record<string, unknown>, module)
          )
        }
      } else if (p.build !== undefined) {
        const built = buildFromConfig(module, p.build, options)
        if (built !== undefined) out[key] = built
      }
    }
    return out
  }

  /** The map from an option's path to its config key, for errors about config data. */
  configKeyOf(path: string): string {
    const [head = "", ...rest] = path.split(".")
    const f = this.fields[head] as Field<unknown> | undefined
    if (f === undefined) return path
    const p = f.props
    if (p.group !== undefined && rest.length > 0) {
      const inner = p.group.configKeyOf(rest.join("."))
      return p.flat ? inner : `${p.configKey ?? head}.${inner}`
    }
    return p.configKey ?? head
  }

  /** The rows of this spec's options table. */
  rows(prefix = "", configPrefix = ""): ReadonlyArray<Row> {
    const out: Array<Row> = []
    for (const [key, f] of this.entries) {
      const p = f.props
      const option = prefix + key
      if (p.hidden === true) continue
      if (p.group !== undefined) {
        out.push(...p.group.rows(`${option}.`, p.flat ? configPrefix : `${configPrefix}${p.configKey ?? key}.`))
        continue
      }
      out.push({
        option,
        configKey: p.read === undefined ? undefined : configPrefix + (p.configKey ?? key),
        kind: p.kind,
        accepts: p.acceptsDoc ?? p.expected,
        required: p.required,
        default: p.defaultDoc ?? (Option.isSome(p.default) ? showDefault(p.kind, p.default.value) : undefined)
      })
      if (p.build !== undefined) {
        for (const row of new Spec("", p.build.fields).rows("", configPrefix)) {
          out.push({ ...row, option: `${option} ← ${row.option}` })
        }
      }
    }
    return out
  }
}

const buildFromConfig = (
  module: string,
  build: Build,
  options: Readonly<Record<string, unknown>>
): unknown => {
  const data: Record<string, unknown> = {}
  let present = false
  for (const [key, f] of Object.entries(build.fields)) {
    const configKey = f.props.configKey ?? key
    const value = options[configKey]
    if (value === undefined) continue
    present = true
    data[key] = f.props.parse(module, configKey, value)
  }
  if (!present) return undefined
  const renames = new Map(Object.entries(build.fields).map(([key, f]) => [key, f.props.configKey ?? key]))
  return validate.nested(module, (option) => renames.get(option) ?? option, () => build.make(data))
}

/**
 * A module's options spec, checked against its options interface `O`: a
 * field for every option of `O` and none that `O` lacks.
 *
 * @example
 * const spec = Spec.struct<Bulkhead.Options>()("Bulkhead.make", { maxConcurrent: Spec.integer({ min: 1 }).required(), … })
 * @internal
 */
export const struct = <O>() =>
<F extends { readonly [K in keyof Required<O>]: Field<any> }>(
  module: string,
  fields: F & { readonly [K in Exclude<keyof F, keyof O>]: never },
  refine?: (resolved: Resolved<F>, options: Readonly<Record<string, unknown>>, module: string) => void
): Spec<F> => new Spec(module, fields, refine)

/**
 * The options a `layerConfig`/`fromConfig` reads: `config` (the spec's own
 * `Config`, a `Config` of the whole data options, or a record of
 * `Config`s), turned into options (code options built from their data),
 * merged with the code options given (`code`, which win) and checked, with
 * errors naming `module` and the config key.
 * @internal
 */
export const readConfig = <O = Record<string, unknown>>(
  spec: Spec<any>,
  module: string,
  config: unknown,
  code?: object | undefined
): Effect.Effect<O, InvalidOptionsError | ConfigError.ConfigError> =>
  Effect.flatMap(
    validate.fromConfig<Record<string, unknown>>(module, config as Config.Config.Wrap<Record<string, unknown>>),
    (data) =>
      validate.validated(() =>
        asConfig(spec, module, () => {
          const options = { ...spec.fromConfigOptions(data, module), ...validate.options(module, code, "code") }
          spec.resolve(options, module)
          return options as O
        })
      )
  )

/**
 * Runs `f` (a constructor given options made from config data), renaming an
 * `InvalidOptionsError` to name `module` and the config key of the option.
 * @internal
 */
export const asConfig = <A>(spec: Spec<any>, module: string, f: () => A): A =>
  validate.nested(module, (option) => spec.configKeyOf(option), f)

/** `maxValueBytes` → `MAX_VALUE_BYTES` (what `ConfigProvider.constantCase` makes of a key). */
const constantCase = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()

/**
 * `spec` read from `Config` under environment-style names: each data option
 * of a flat spec under `<prefix>_<its config key in constant case>`
 * (`withEnvKeys(spec, "RATE_LIMITER_STORE")` reads `RATE_LIMITER_STORE_TIMEOUT`),
 * whatever the `ConfigProvider`'s case; errors about config data name those
 * keys. The default `Config` of a Redis store's `layerConfig()`.
 * @internal
 */
export const withEnvKeys = <F extends Fields>(spec: Spec<F>, prefix: string): Spec<F> => {
  const fields: Record<string, Field<unknown>> = {}
  for (const [key, f] of Object.entries(spec.fields)) {
    fields[key] = f.props.read === undefined ? f : f.key(`${prefix}_${constantCase(f.props.configKey ?? key)}`)
  }
  return new Spec(spec.module, fields as unknown as F, spec.refine, spec.configName)
}

/**
 * {@link readConfig} of `config`, or, when none is given, of `spec` under
 * environment-style keys (`withEnvKeys(spec, prefix)`): what a Redis store's
 * `fromConfig(config?)`/`layerConfig(config?)` reads.
 * @internal
 */
export const readConfigOrEnv = <O>(
  spec: Spec<any>,
  envSpec: Spec<any>,
  module: string,
  config: unknown
): Effect.Effect<O, InvalidOptionsError | ConfigError.ConfigError> =>
  config === undefined ? readConfig<O>(envSpec, module, envSpec.config) : readConfig<O>(spec, module, config)
