/**
 * The options of `Fallback.staleIfError`: validated once at construction,
 * with their defaults, into the {@link Config} the policy runs on (the store
 * it finds in the environment is checked here too).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import type * as Fallback from "../../Fallback.js"
import * as Keys from "../keys.js"
import * as validate from "../validate.js"
import * as classify from "./classify.js"

/** The default key of the callable form. @internal */
export const DEFAULT_STALE_KEY = "default"
/** @internal */
export const DEFAULT_NAME = "stale-if-error"
/** The default `maxPendingWrites`. @internal */
export const DEFAULT_MAX_PENDING_WRITES = 1_000

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

const isStore = (u: unknown): u is Fallback.StaleStore =>
  typeof u === "object" && u !== null && typeof (u as Fallback.StaleStore).get === "function" &&
  typeof (u as Fallback.StaleStore).set === "function" && typeof (u as Fallback.StaleStore).delete === "function"

/** Validates `Fallback.staleIfError`'s options and its store (throws `InvalidOptionsError`). @internal */
export const parse = (options: Fallback.StaleIfError.Options<any, any>, store: unknown): Config => {
  const m = "Fallback.staleIfError"
  options = validate.options(m, options)
  const ttl = validate.duration(m, "ttl", options.ttl)
  const maxEntries = validate.number(m, "maxEntries", options.maxEntries, { min: 1, integer: true })
  const named = options.name !== undefined
  const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
  const maxKeyLength = Keys.maxKeyLengthOption(m, options.maxKeyLength)
  const key = options.key === undefined ? DEFAULT_STALE_KEY : validate.nonEmptyString(m, "key", options.key)
  if (!Keys.isValid({ kind: "StaleIfError", name, maxKeyLength }, key)) {
    throw validate.invalid(m, "key", key, `a well-formed string of at most ${maxKeyLength} UTF-16 code units (maxKeyLength)`)
  }
  // the store in the environment (Fallback.StaleStore): a user's Layer may provide anything
  if (!isStore(store)) throw validate.invalid(m, "store", store, "a StaleStore (get, set, delete)")
  if (store.unsafe !== undefined && (typeof store.unsafe !== "object" || typeof store.unsafe?.partition !== "function")) {
    throw validate.invalid(m, "store", store, "a StaleStore whose unsafe handle has a partition function")
  }
  const maxPendingWrites = validate.optionalNumber(m, "maxPendingWrites", options.maxPendingWrites, {
    min: 1,
    integer: true
  }) ?? DEFAULT_MAX_PENDING_WRITES
  const schema = options.schema
  if (schema !== undefined && !Schema.isSchema(schema)) throw validate.invalid(m, "schema", schema, "a Schema")
  const on = validate.predicate<(error: unknown) => boolean>(m, "on", options.on)
  const classifier = classify.make(m, on, options, { module: "StaleIfError", name, on: "on" })
  return {
    ttl: Duration.toMillis(ttl),
    maxEntries,
    key,
    name,
    named,
    maxKeyLength,
    maxPendingWrites,
    schema,
    classify: classifier,
    on: on !== undefined,
    defects: classify.handlesDefects(options.defects),
    interruptions: options.interruptions === true
  }
}
