/**
 * Adaptive limits (see the public module): the descriptions made by
 * `aimd`, `vegas` and `gradient2`, the pure state machine over them
 * (`algorithm.ts`), and how a finished call becomes a sample (`outcome`).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
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

/** A frozen description: the algorithm's tag and its checked options (every one, defaults applied). */
const describe = <L extends Limit>(tag: L["_tag"], resolved: object): L =>
  Object.freeze({ [TypeId]: TypeId, _tag: tag, ...resolved }) as unknown as L

/** @internal */
export const aimd = (options?: AdaptiveLimit.AdaptiveLimit.AimdOptions): AdaptiveLimit.AdaptiveLimit.Aimd =>
  describe("Aimd", Options.aimdSpec.resolve(options))

/** @internal */
export const vegas = (options?: AdaptiveLimit.AdaptiveLimit.VegasOptions): AdaptiveLimit.AdaptiveLimit.Vegas =>
  describe("Vegas", Options.vegasSpec.resolve(options))

/** @internal */
export const gradient2 = (options?: AdaptiveLimit.AdaptiveLimit.Gradient2Options): AdaptiveLimit.AdaptiveLimit.Gradient2 =>
  describe("Gradient2", Options.gradient2Spec.resolve(options))

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
