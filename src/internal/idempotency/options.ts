/**
 * The idempotency policy's options and its memory store's, described once:
 * checks, defaults, `Config` and the docs' table.
 *
 * @internal
 */
import type * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type * as I from "../../Idempotency.js"
import * as Keys from "../keys.js"
import * as Spec from "../spec.js"
import { maxKeysField, sweepIntervalField } from "../sweeper.js"
import * as validate from "../validate.js"

/** @internal */
export const DEFAULT_NAME = "idempotency"
/** @internal */
export const DEFAULT_KEEP_FAILURES = false

/** The memory store's default `maxKeys`. @internal */
export const DEFAULT_MAX_KEYS = 100_000
/** The memory store's default `sweepInterval` (1 minute). @internal */
export const DEFAULT_SWEEP_INTERVAL_MILLIS = 60_000
/** The memory store's default `highWater`: 90% of `maxKeys`. @internal */
export const DEFAULT_HIGH_WATER = 0.9
/** @internal */
export const DEFAULT_WHEN_FULL = "refuse" as const

/** A policy's options, resolved: what it reports, the failures it keeps, its `Exit` codec. @internal */
export interface Config<A, E> {
  readonly resolved: I.Idempotency.Resolved
  readonly keep: (error: E) => boolean
  readonly codec: Schema.Schema<Exit.Exit<A, E>, any> | undefined
}

const KEEP_FAILURES = "a boolean or a predicate on the error"

/** `keepFailures`: a boolean (data, from `Config`) or a predicate on the error (code). */
const keepFailuresField = new Spec.Field<boolean | ((error: any) => boolean)>({
  ...Spec.boolean().default(DEFAULT_KEEP_FAILURES).props,
  expected: KEEP_FAILURES,
  parse: (m, o, v) => {
    if (typeof v === "boolean" || typeof v === "function") return v as boolean | ((error: any) => boolean)
    throw validate.invalid(m, o, v, KEEP_FAILURES)
  }
})

/**
 * The options of `Idempotency.make`, described once. From `Config`:
 * `ttl`, `keepFailures` (a boolean), `name` and `maxKeyLength`; the Schemas
 * (and a `keepFailures` predicate) are code (`layerConfig`'s third argument).
 *
 * @internal
 */
export const spec = Spec.struct<I.Idempotency.Options<any, any>>()("Idempotency.make", {
  ttl: Spec.duration().required(),
  name: Spec.string().default(DEFAULT_NAME),
  keepFailures: keepFailuresField,
  success: Spec.code<Schema.Schema<any, any>>("a Schema", Schema.isSchema),
  failure: Spec.code<Schema.Schema<any, any>>("a Schema", Schema.isSchema),
  maxKeyLength: Keys.maxKeyLengthField
}).readFrom("Idempotency.config")

/** Validates `Idempotency.make`'s options and applies the defaults; throws `InvalidOptionsError`. @internal */
export const resolve = <A, E>(options: I.Idempotency.Options<A, E>): Config<A, E> => {
  const r = spec.resolve(options)
  const keepFailures = r.keepFailures
  // Stryker disable next-line ArrowFunction: equivalent: keep's result is only read as a condition, where undefined is false too
  const keep: (error: E) => boolean = keepFailures === false
    ? () => false
    : keepFailures === true
    ? () => true
    : keepFailures
  const codec = r.success !== undefined || r.failure !== undefined
    ? Schema.Exit({
      success: (r.success ?? Schema.Unknown) as Schema.Schema<A, any>,
      failure: (r.failure ?? Schema.Unknown) as Schema.Schema<E, any>,
      defect: Schema.Defect
    })
    : undefined
  return {
    resolved: {
      ttl: r.ttl,
      keepFailures: typeof keepFailures === "function" ? "predicate" : keepFailures,
      hasSchemas: r.success !== undefined && r.failure !== undefined,
      name: r.name,
      maxKeyLength: r.maxKeyLength
    },
    keep,
    codec
  }
}

const HIGH_WATER = "a number in (0, 1]"

/** `highWater`: a fraction in (0, 1]. */
const highWaterField = new Spec.Field<number>({
  ...Spec.number({ min: 0, max: 1 }).default(DEFAULT_HIGH_WATER).props,
  expected: HIGH_WATER,
  parse: (m, o, v) => {
    const highWater = validate.number(m, o, v, { min: 0, max: 1 })
    if (highWater === 0) throw validate.invalid(m, o, highWater, HIGH_WATER)
    return highWater
  }
})

/**
 * The options of the memory store (`Idempotency.makeStoreMemory`,
 * `Idempotency.layerStoreMemory`).
 *
 * @internal
 */
export const memoryStoreSpec = Spec.struct<I.MemoryStoreOptions>()("Idempotency.makeStoreMemory", {
  maxKeys: maxKeysField(DEFAULT_MAX_KEYS),
  sweepInterval: sweepIntervalField(DEFAULT_SWEEP_INTERVAL_MILLIS),
  whenFull: Spec.literal("refuse", "evictOldest").default(DEFAULT_WHEN_FULL),
  highWater: highWaterField
})

/** The memory store's options, validated, with their defaults. @internal */
export type MemoryOptions = Spec.Resolved<typeof memoryStoreSpec.fields>

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec, memoryStoreSpec]
