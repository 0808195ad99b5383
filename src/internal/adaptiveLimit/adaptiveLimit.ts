/**
 * Adaptive limits (see the public module): the descriptions made by
 * `aimd`, `vegas` and `gradient2`, the pure state machine over them
 * (`algorithm.ts`), and how a finished call becomes a sample (`outcome`).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import type * as AdaptiveLimit from "../../AdaptiveLimit.js"
import { isCutByTimeout } from "../deadline.js"
import { isInvalidKeyError, isRejection } from "../errors.js"
import * as userCode from "../userCode.js"
import * as algorithm from "./algorithm.js"
import * as Options from "./options.js"

type Limit = AdaptiveLimit.AdaptiveLimit

/** @internal */
export const TypeId: AdaptiveLimit.TypeId = Symbol.for("effect-resilience/AdaptiveLimit") as AdaptiveLimit.TypeId

/** @internal */
export const isAdaptiveLimit = (u: unknown): u is Limit => Predicate.hasProperty(u, TypeId)

/** @internal */
export const aimd = (options?: AdaptiveLimit.AdaptiveLimit.AimdOptions): AdaptiveLimit.AdaptiveLimit.Aimd => {
  const r = Options.aimdSpec.resolve(options)
  return Object.freeze({
    [TypeId]: TypeId as AdaptiveLimit.TypeId,
    _tag: "Aimd" as const,
    initialLimit: r.initialLimit,
    minLimit: r.minLimit,
    maxLimit: r.maxLimit,
    backoffRatio: r.backoffRatio,
    timeout: r.timeout as Duration.Duration,
    isDrop: r.isDrop
  })
}

/** @internal */
export const vegas = (options?: AdaptiveLimit.AdaptiveLimit.VegasOptions): AdaptiveLimit.AdaptiveLimit.Vegas => {
  const r = Options.vegasSpec.resolve(options)
  return Object.freeze({
    [TypeId]: TypeId as AdaptiveLimit.TypeId,
    _tag: "Vegas" as const,
    initialLimit: r.initialLimit,
    minLimit: r.minLimit,
    maxLimit: r.maxLimit,
    smoothing: r.smoothing,
    probeMultiplier: r.probeMultiplier,
    alpha: r.alpha,
    beta: r.beta,
    threshold: r.threshold,
    isDrop: r.isDrop
  })
}

/** @internal */
export const gradient2 = (options?: AdaptiveLimit.AdaptiveLimit.Gradient2Options): AdaptiveLimit.AdaptiveLimit.Gradient2 => {
  const r = Options.gradient2Spec.resolve(options)
  return Object.freeze({
    [TypeId]: TypeId as AdaptiveLimit.TypeId,
    _tag: "Gradient2" as const,
    initialLimit: r.initialLimit,
    minLimit: r.minLimit,
    maxLimit: r.maxLimit,
    smoothing: r.smoothing,
    rttTolerance: r.rttTolerance,
    longWindow: r.longWindow,
    queueSize: r.queueSize,
    isDrop: r.isDrop
  })
}

/** @internal */
export const initial = (limit: Limit, seed?: number): AdaptiveLimit.AdaptiveLimit.State => algorithm.initial(limit, seed)

/** @internal */
export const step = (
  limit: Limit,
  state: AdaptiveLimit.AdaptiveLimit.State,
  sample: AdaptiveLimit.AdaptiveLimit.Sample
): AdaptiveLimit.AdaptiveLimit.State => algorithm.step(limit, state, sample)

/** What a finished call tells the limit. @internal */
export const SAMPLE = 0
/** @internal */
export const DROP = 1
/** @internal */
export const IGNORE = 2
/** @internal */
export type Outcome = typeof SAMPLE | typeof DROP | typeof IGNORE

const isTimeout = (error: unknown): boolean => Predicate.hasProperty(error, Cause.TimeoutExceptionTypeId)

/**
 * What a failed call tells the limit:
 *
 * - a drop: cut by a timeout of the library (its deadline interrupted the
 *   work), or failed with a timeout (`TimeoutError`, `Cause.TimeoutException`
 *   or any error carrying `Cause.TimeoutExceptionTypeId`), or with an error
 *   the limit's `isDrop` accepts;
 * - ignored (no sample): interrupted by its caller, a defect, or failed only
 *   with the library's own rejections (an inner breaker or rate limiter) or a
 *   refused key: the dependency did not answer, its latency says nothing;
 * - otherwise a sample: the dependency answered (with an error) and its
 *   latency counts.
 *
 * A throwing or non-boolean `isDrop` is reported and answered `false`.
 *
 * @internal
 */
export const outcomeOfFailure = (
  cause: Cause.Cause<unknown>,
  isDrop: ((error: unknown) => boolean) | undefined,
  site: userCode.Site | undefined
): Outcome => {
  if (Cause.isInterruptedOnly(cause)) return isCutByTimeout(cause) ? DROP : IGNORE
  const failures = Cause.failures(cause)
  if (Chunk.isEmpty(failures)) return isCutByTimeout(cause) ? DROP : IGNORE
  let answered = false
  for (const error of failures) {
    if (isTimeout(error)) return DROP
    if (isRejection(error) || isInvalidKeyError(error)) continue
    if (isDrop !== undefined && site !== undefined && userCode.predicate(site, isDrop, error, false)) return DROP
    answered = true
  }
  return answered ? SAMPLE : IGNORE
}
