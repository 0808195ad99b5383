/**
 * The bulkhead's options: validation and defaults.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as AdaptiveLimit from "../../AdaptiveLimit.js"
import type * as Bulkhead from "../../Bulkhead.js"
import { isAdaptiveLimit } from "../adaptiveLimit/adaptiveLimit.js"
import * as Keys from "../keys.js"
import * as Spec from "../spec.js"

/** @internal */
export const DEFAULT_MAX_QUEUE = 0
/** @internal */
export const DEFAULT_NAME = "bulkhead"
/** @internal */
export const DEFAULT_METRICS_INTERVAL = Duration.seconds(1)
/** @internal */
export const DEFAULT_ON_STORE_ERROR = "allow" as const

/** A fixed `maxConcurrent`. */
const permits = Spec.integer({ min: 1 }).required()

/**
 * The options of `Bulkhead.make`, described once: checks, defaults, `Config`
 * and the docs' table.
 *
 * @internal
 */
export const spec = Spec.struct<Bulkhead.Bulkhead.Options>()("Bulkhead.make", {
  // a fixed limit, or an adaptive one (code: from Config, an integer)
  maxConcurrent: permits.orValue<AdaptiveLimit.AdaptiveLimit>("an integer >= 1 or an AdaptiveLimit", isAdaptiveLimit),
  maxQueue: Spec.integer({ min: 0, allowInfinite: true }).default(DEFAULT_MAX_QUEUE),
  // an infinite wait is no limit: undefined
  maxWait: Spec.duration({ allowInfinite: true }).map((d) => d !== undefined && Duration.isFinite(d) ? d : undefined),
  name: Spec.string().default(DEFAULT_NAME),
  metricsInterval: Spec.duration({ allowInfinite: true }).default(DEFAULT_METRICS_INTERVAL),
  maxKeyLength: Keys.maxKeyLengthField,
  onStoreError: Spec.literal("allow", "fail").default(DEFAULT_ON_STORE_ERROR)
}).readFrom("Bulkhead.config")

/** The options, validated, with their defaults. @internal */
export type Resolved = Spec.Resolved<typeof spec.fields>

/**
 * Validates the options of `Bulkhead.make`; throws `InvalidOptionsError`
 * naming the option and its range.
 *
 * @internal
 */
export const resolve = (options: Bulkhead.Bulkhead.Options): Resolved => spec.resolve(options)

/**
 * Validates a new `maxConcurrent` (`resize`); throws `InvalidOptionsError`.
 *
 * @internal
 */
export const resized = (n: number): number => permits.props.parse("Bulkhead.resize", "maxConcurrent", n)

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec]
