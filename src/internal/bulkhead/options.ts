/**
 * The bulkhead's options: validation and defaults.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as Bulkhead from "../../Bulkhead.js"
import * as Keys from "../keys.js"
import * as validate from "../validate.js"

/** @internal */
export const DEFAULT_MAX_QUEUE = 0
/** @internal */
export const DEFAULT_NAME = "bulkhead"
/** @internal */
export const DEFAULT_METRICS_INTERVAL = Duration.seconds(1)
/** @internal */
export const DEFAULT_ON_STORE_ERROR = "allow"

/** The options, validated, with their defaults. @internal */
export interface Resolved {
  readonly maxConcurrent: number
  readonly maxQueue: number
  /** `undefined`: no limit (a finite duration otherwise). */
  readonly maxWait: Duration.Duration | undefined
  readonly name: string
  readonly metricsInterval: Duration.Duration
  readonly maxKeyLength: number
  readonly onStoreError: "allow" | "fail"
}

/**
 * Validates the options of `Bulkhead.make`; throws `InvalidOptionsError`
 * naming the option and its range.
 *
 * @internal
 */
export const resolve = (options: Bulkhead.Bulkhead.Options): Resolved => {
  const m = "Bulkhead.make"
  options = validate.options(m, options)
  const maxConcurrent = validate.number(m, "maxConcurrent", options.maxConcurrent, { integer: true, min: 1 })
  const maxQueue = validate.optionalNumber(m, "maxQueue", options.maxQueue, {
    integer: true,
    min: 0,
    allowInfinite: true
  }) ?? DEFAULT_MAX_QUEUE
  const maxWait = validate.optionalDuration(m, "maxWait", options.maxWait, { allowInfinite: true })
  const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
  const metricsInterval = validate.optionalDuration(m, "metricsInterval", options.metricsInterval, {
    allowInfinite: true
  }) ?? DEFAULT_METRICS_INTERVAL
  const maxKeyLength = Keys.maxKeyLengthOption(m, options.maxKeyLength)
  const onStoreError = options.onStoreError === undefined
    ? DEFAULT_ON_STORE_ERROR
    : validate.oneOf(m, "onStoreError", options.onStoreError, ["allow", "fail"])
  return {
    maxConcurrent,
    maxQueue,
    maxWait: maxWait !== undefined && Duration.isFinite(maxWait) ? maxWait : undefined,
    name,
    metricsInterval,
    maxKeyLength,
    onStoreError
  }
}

/**
 * Validates a new `maxConcurrent` (`resize`); throws `InvalidOptionsError`.
 *
 * @internal
 */
export const resized = (permits: number): number =>
  validate.number("Bulkhead.resize", "maxConcurrent", permits, { integer: true, min: 1 })
