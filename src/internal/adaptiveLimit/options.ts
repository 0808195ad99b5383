/**
 * The options of `AdaptiveLimit.aimd`, `vegas` and `gradient2`, described
 * once (checks, defaults, the docs' table). The defaults are
 * concurrency-limits' (`AIMDLimit.Builder`, `VegasLimit.Builder`,
 * `Gradient2Limit.Builder` at 78a74b9), except Vegas's `minLimit` (it has
 * none there: 1).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as AdaptiveLimit from "../../AdaptiveLimit.js"
import * as Spec from "../spec.js"
import * as validate from "../validate.js"

/** @internal */
export const AIMD_DEFAULTS = { initialLimit: 20, minLimit: 20, maxLimit: 200, backoffRatio: 0.9, timeout: Duration.seconds(5) }
/** @internal */
export const VEGAS_DEFAULTS = { initialLimit: 20, minLimit: 1, maxLimit: 1000, smoothing: 1, probeMultiplier: 30 }
/** @internal */
export const GRADIENT2_DEFAULTS = {
  initialLimit: 20,
  minLimit: 20,
  maxLimit: 200,
  smoothing: 0.2,
  rttTolerance: 1.5,
  longWindow: 600,
  queueSize: 4
}

/** The largest limit accepted: far beyond any concurrency a process runs, small enough for exact arithmetic. @internal */
export const MAX_LIMIT = 1_000_000

const limitField = () => Spec.integer({ min: 1, max: MAX_LIMIT })

/** `minLimit <= initialLimit <= maxLimit`. */
const limits = (
  r: { readonly initialLimit: number; readonly minLimit: number; readonly maxLimit: number },
  o: Readonly<Record<string, unknown>>,
  m: string
): void => {
  if (r.minLimit > r.maxLimit) {
    throw validate.invalid(m, "minLimit", o.minLimit ?? r.minLimit, `an integer <= maxLimit (${r.maxLimit})`)
  }
  if (r.initialLimit < r.minLimit || r.initialLimit > r.maxLimit) {
    throw validate.invalid(
      m,
      "initialLimit",
      o.initialLimit ?? r.initialLimit,
      `an integer >= minLimit (${r.minLimit}) and <= maxLimit (${r.maxLimit})`
    )
  }
}

const isDrop = () => Spec.func<(error: unknown) => boolean>()

/** @internal */
export const aimdSpec = Spec.struct<AdaptiveLimit.AdaptiveLimit.AimdOptions>()("AdaptiveLimit.aimd", {
  initialLimit: limitField().default(AIMD_DEFAULTS.initialLimit),
  minLimit: limitField().default(AIMD_DEFAULTS.minLimit),
  maxLimit: limitField().default(AIMD_DEFAULTS.maxLimit),
  // [0.5, 1): as concurrency-limits checks it
  backoffRatio: Spec.number({ min: 0.5, lt: 1 }).default(AIMD_DEFAULTS.backoffRatio),
  timeout: Spec.duration().default(AIMD_DEFAULTS.timeout),
  isDrop: isDrop()
}, limits)

/** A number >= 0, or a function of the current limit. */
const ofLimit = () => Spec.number({ min: 0 }).orFunction<(limit: number) => number>()

/** @internal */
export const vegasSpec = Spec.struct<AdaptiveLimit.AdaptiveLimit.VegasOptions>()("AdaptiveLimit.vegas", {
  initialLimit: limitField().default(VEGAS_DEFAULTS.initialLimit),
  minLimit: limitField().default(VEGAS_DEFAULTS.minLimit),
  maxLimit: limitField().default(VEGAS_DEFAULTS.maxLimit),
  smoothing: Spec.number({ gt: 0, max: 1 }).default(VEGAS_DEFAULTS.smoothing),
  probeMultiplier: Spec.integer({ min: 1 }).default(VEGAS_DEFAULTS.probeMultiplier),
  alpha: ofLimit().doc("3 × log10(limit)"),
  beta: ofLimit().doc("6 × log10(limit)"),
  threshold: ofLimit().doc("log10(limit)"),
  isDrop: isDrop()
}, limits)

/** @internal */
export const gradient2Spec = Spec.struct<AdaptiveLimit.AdaptiveLimit.Gradient2Options>()("AdaptiveLimit.gradient2", {
  initialLimit: limitField().default(GRADIENT2_DEFAULTS.initialLimit),
  minLimit: limitField().default(GRADIENT2_DEFAULTS.minLimit),
  maxLimit: limitField().default(GRADIENT2_DEFAULTS.maxLimit),
  smoothing: Spec.number({ gt: 0, max: 1 }).default(GRADIENT2_DEFAULTS.smoothing),
  rttTolerance: Spec.number({ min: 1 }).default(GRADIENT2_DEFAULTS.rttTolerance),
  longWindow: Spec.integer({ min: 1 }).default(GRADIENT2_DEFAULTS.longWindow),
  queueSize: ofLimit().default(GRADIENT2_DEFAULTS.queueSize),
  isDrop: isDrop()
}, limits)

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [aimdSpec, vegasSpec, gradient2Spec]
