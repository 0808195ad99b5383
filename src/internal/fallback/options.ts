/**
 * The options of the fallbacks (`Fallback.value`, `effect`, `chain`), of
 * `Fallback.staleIfError` and of the memory `StaleStore`, described once:
 * checks, defaults, `Config` and the docs' table. `parse` turns the
 * stale-if-error options into the {@link Config} the policy runs on (the
 * store it finds in the environment is checked there too).
 *
 * @internal
 */
import * as EffectConfig from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { InvalidOptionsError } from "../../Errors.js"
import type * as Fallback from "../../Fallback.js"
import * as Keys from "../keys.js"
import * as Spec from "../spec.js"
import * as validate from "../validate.js"
import * as classify from "./classify.js"

/** The default name of `value`/`effect`/`chain`. @internal */
export const DEFAULT_FALLBACK_NAME = "fallback"
/** The default key of the callable form. @internal */
export const DEFAULT_STALE_KEY = "default"
/** @internal */
export const DEFAULT_NAME = "stale-if-error"
/** The default `maxPendingWrites`. @internal */
export const DEFAULT_MAX_PENDING_WRITES = 1_000
/** The memory store's default `maxEntries`. @internal */
export const DEFAULT_MAX_ENTRIES = 100_000

const DEFECTS = "a boolean or a predicate"

/** `defects`: a boolean (data, from `Config`) or a predicate on the defect (code). Defaults to false. */
const defectsField = new Spec.Field<boolean | ((defect: unknown) => boolean)>({
  ...Spec.boolean().default(false).props,
  expected: DEFECTS,
  parse: (m, o, v) => {
    if (typeof v === "boolean" || typeof v === "function") return v as boolean | ((defect: unknown) => boolean)
    throw validate.invalid(m, o, v, DEFECTS)
  }
})

/**
 * The options of `Fallback.value`, `Fallback.effect` and `Fallback.chain`
 * (the same for the three; errors name the constructor called).
 *
 * @internal
 */
export const fallbackSpec = Spec.struct<Fallback.Options>()("Fallback.chain", {
  name: Spec.string().default(DEFAULT_FALLBACK_NAME),
  defects: defectsField,
  interruptions: Spec.boolean().default(false),
  whenResult: Spec.func<(value: unknown) => boolean>()
})

/** A policy's validated options. @internal */
export interface Config {
  readonly ttl: number
  readonly maxEntries: number
  readonly key: string
  readonly name: string
  /** Whether a name was given: a named policy shares its entries with the policies of its name. */
  readonly named: boolean
  readonly maxKeyLength: number
  readonly maxPendingWrites: number
  readonly schema: Schema.Schema<any, any> | undefined
  readonly classify: classify.Classifier
  readonly on: boolean
  readonly defects: boolean
  readonly interruptions: boolean
}

/**
 * The options of `Fallback.staleIfError`, described once. From `Config`
 * (`Fallback.staleIfErrorConfig`): every option but `schema` and `on`, and
 * `defects` as a boolean; those are code (the `code` argument).
 *
 * @internal
 */
export const staleSpec = Spec.struct<Fallback.StaleIfError.Options<any, any>>()("Fallback.staleIfError", {
  ttl: Spec.millis().required(),
  maxEntries: Spec.integer({ min: 1 }).required(),
  name: Spec.string().default(DEFAULT_NAME),
  maxKeyLength: Keys.maxKeyLengthField,
  key: Spec.string().default(DEFAULT_STALE_KEY),
  maxPendingWrites: Spec.integer({ min: 1 }).default(DEFAULT_MAX_PENDING_WRITES),
  schema: Spec.code<Schema.Schema<any, any>>("a Schema", Schema.isSchema),
  on: Spec.func<(error: any) => boolean>(),
  defects: defectsField,
  interruptions: Spec.boolean().default(false)
}, (r, _, m) => {
  if (!Keys.isValid({ kind: "StaleIfError", name: r.name, maxKeyLength: r.maxKeyLength }, r.key)) {
    throw validate.invalid(m, "key", r.key, `a well-formed string of at most ${r.maxKeyLength} UTF-16 code units (maxKeyLength)`)
  }
}).readFrom("Fallback.staleIfErrorConfig")

/** The code options of `staleIfError` a `Config` may still carry (`Config.succeed(predicate)`): kept, as before. */
const CODE_KEYS: ReadonlyArray<string> = ["schema", "on"]

/**
 * The options `Fallback.staleIfErrorFromConfig` and
 * `Fallback.layerStaleIfErrorConfig` read: the data from `config`, the code
 * options given (`code`; a bare `Schema` is `{ schema }`, the argument's
 * former shape), checked, with errors naming `module` and the config key.
 *
 * @internal
 */
export const readStaleConfig = (
  module: string,
  config: unknown,
  code: unknown
): Effect.Effect<Fallback.StaleIfError.Options<any, any>, InvalidOptionsError | ConfigError.ConfigError> =>
  Effect.flatMap(validate.fromConfig<Record<string, unknown>>(module, config as any), (data) =>
    Effect.flatMap(
      validate.validated(() => {
        const given: Record<string, unknown> = {}
        if (typeof data === "object" && data !== null) {
          for (const key of CODE_KEYS) if (data[key] !== undefined) given[key] = data[key]
        }
        const codeOptions = Schema.isSchema(code) ? { schema: code } : code
        return codeOptions === undefined ? given : { ...given, ...validate.options(module, codeOptions as object, "code") }
      }),
      (codeOptions) =>
        Spec.readConfig<Fallback.StaleIfError.Options<any, any>>(staleSpec, module, EffectConfig.succeed(data), codeOptions)
    ))

const isStore = (u: unknown): u is Fallback.StaleStore =>
  typeof u === "object" && u !== null && typeof (u as Fallback.StaleStore).get === "function" &&
  typeof (u as Fallback.StaleStore).set === "function" && typeof (u as Fallback.StaleStore).delete === "function"

/** Validates `Fallback.staleIfError`'s options and its store (throws `InvalidOptionsError`). @internal */
export const parse = (options: Fallback.StaleIfError.Options<any, any>, store: unknown): Config => {
  const m = "Fallback.staleIfError"
  const r = staleSpec.resolve(options, m)
  // the store in the environment (Fallback.StaleStore): a user's Layer may provide anything
  if (!isStore(store)) throw validate.invalid(m, "store", store, "a StaleStore (get, set, delete)")
  if (store.unsafe !== undefined && (typeof store.unsafe !== "object" || typeof store.unsafe?.partition !== "function")) {
    throw validate.invalid(m, "store", store, "a StaleStore whose unsafe handle has a partition function")
  }
  const classifier = classify.make(r.on, r.defects, r.interruptions, { module: "StaleIfError", name: r.name, on: "on" })
  return {
    ttl: r.ttl,
    maxEntries: r.maxEntries,
    key: r.key,
    name: r.name,
    named: options.name !== undefined,
    maxKeyLength: r.maxKeyLength,
    maxPendingWrites: r.maxPendingWrites,
    schema: r.schema,
    classify: classifier,
    on: r.on !== undefined,
    defects: classify.handlesDefects(r.defects),
    interruptions: r.interruptions
  }
}

/**
 * The options of the memory `StaleStore` (`Fallback.makeStoreMemory`,
 * `Fallback.layerStoreMemory`).
 *
 * @internal
 */
export const memoryStoreSpec = Spec.struct<Fallback.StaleStore.MemoryOptions>()("Fallback.makeStoreMemory", {
  maxEntries: Spec.integer({ min: 1 }).default(DEFAULT_MAX_ENTRIES)
})

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [fallbackSpec, staleSpec, memoryStoreSpec]
