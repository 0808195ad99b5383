/**
 * The rate limiter's options: validation and defaults.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type { InvalidOptionsError } from "../../Errors.js"
import type * as RL from "../../RateLimiter.js"
import * as Keys from "../keys.js"
import * as validate from "../validate.js"

/** @internal */
export const DEFAULT_NAME = "rate-limiter"

/** @internal */
export const DEFAULT_METRICS_INTERVAL = Duration.seconds(1)

const ALGORITHMS: ReadonlyArray<RL.Algorithm> = ["token-bucket", "fixed-window"]
const ON_EXCEEDED: ReadonlyArray<RL.OnExceeded> = ["fail", "delay"]
const ON_STORE_ERROR: ReadonlyArray<"fail" | "allow"> = ["fail", "allow"]

/** Validates `RateLimiter.make`'s options and applies the defaults; throws `InvalidOptionsError`. @internal */
export const resolve = (options: RL.RateLimiter.Options): RL.RateLimiter.Resolved => {
  const m = "RateLimiter.make"
  options = validate.options(m, options)
  const limit = validate.number(m, "limit", options.limit, { min: 1, integer: true })
  const window = validate.duration(m, "window", options.window)
  const algorithm = options.algorithm === undefined
    ? "token-bucket"
    : validate.oneOf(m, "algorithm", options.algorithm, ALGORITHMS)
  const onExceeded = options.onExceeded === undefined
    ? "fail"
    : validate.oneOf(m, "onExceeded", options.onExceeded, ON_EXCEEDED)
  const cost = validate.optionalNumber(m, "cost", options.cost, { min: 1, max: limit, integer: true }) ?? 1
  if (options.maxDelay !== undefined && onExceeded !== "delay") {
    throw validate.invalid(m, "maxDelay", options.maxDelay, "no maxDelay unless onExceeded is \"delay\"")
  }
  const maxDelay = onExceeded === "fail"
    ? Duration.zero
    : options.maxDelay === undefined
    ? Duration.infinity
    : validate.duration(m, "maxDelay", options.maxDelay, { allowZero: true, allowInfinite: true })
  const onStoreError = options.onStoreError === undefined
    ? "fail"
    : validate.oneOf(m, "onStoreError", options.onStoreError, ON_STORE_ERROR)
  const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
  const metricsInterval = options.metricsInterval === undefined
    ? DEFAULT_METRICS_INTERVAL
    : validate.duration(m, "metricsInterval", options.metricsInterval, { allowInfinite: true })
  const maxKeyLength = Keys.maxKeyLengthOption(m, options.maxKeyLength)
  return { limit, window, algorithm, onExceeded, cost, maxDelay, onStoreError, name, metricsInterval, maxKeyLength }
}

/**
 * The cost of one `execute` call: the limiter's when not given, else an
 * integer in `[1, limit]`; anything else is returned as the error to die
 * with (a cost no call can ever get is a programming error, not a
 * rejection).
 *
 * @internal
 */
export const costOf = (cfg: RL.RateLimiter.Resolved, cost: number | undefined): number | InvalidOptionsError => {
  if (cost === undefined) return cfg.cost
  if (typeof cost === "number" && Number.isInteger(cost) && cost >= 1 && cost <= cfg.limit) return cost
  return validate.invalid("RateLimiter.execute", "cost", cost, `an integer >= 1 and <= ${cfg.limit} (the limit)`)
}
