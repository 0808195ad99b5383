/**
 * The three limit algorithms as pure, synchronous state machines: a
 * {@link State} and a {@link Sample} in, the next {@link State} out. No
 * Effect, no clock, no randomness from outside (Vegas's probe jitter comes
 * from a small PRNG whose seed is in the state), so a step is cheap (a few
 * arithmetic operations and one small object) and the algorithms can be
 * property-tested and simulated directly.
 *
 * Each is a port of Netflix's concurrency-limits (Java, Apache-2.0,
 * `concurrency-limits-core/src/main/java/com/netflix/concurrency/limits/limit/`
 * at 78a74b9), with the same parameters, defaults and update rules:
 *
 * - **AIMD** (`AIMDLimit.java`): on a drop, or a sample slower than
 *   `timeout`, `limit = floor(limit × backoffRatio)`; otherwise, when at
 *   least half the limit is in use (`inflight × 2 >= limit`), `limit + 1`.
 * - **Vegas** (`VegasLimit.java`): the no-load latency is the smallest
 *   latency seen (re-probed every `probeMultiplier × limit × jitter(0.5, 1)`
 *   samples); the queue is estimated as
 *   `ceil(limit × (1 − noLoad / latency))` and compared with thresholds that
 *   grow with log10 of the limit (`Log10RootIntFunction`: `max(1,
 *   floor(log10(limit)))`): at or below `threshold` (log10) the limit grows by
 *   `beta` (6·log10), below `alpha` (3·log10) by log10, above `beta` it shrinks
 *   by log10; a drop shrinks it by log10. The new estimate is smoothed:
 *   `(1 − smoothing) × old + smoothing × new`.
 * - **Gradient2** (`Gradient2Limit.java`): a long-term latency (an
 *   exponential average over `longWindow` samples, after a warm-up of 10
 *   plain averages: `ExpAvgMeasurement`) against the sample's latency:
 *   `gradient = clamp(rttTolerance × long / short, 0.5, 1)`,
 *   `new = limit × gradient + queueSize`, smoothed by `smoothing`. When the
 *   long-term latency is more than twice the sample's, it decays by 5% per
 *   sample (recovery after a long overload).
 *
 * Common to all (as in concurrency-limits): a sample taken while less than
 * half the limit is in use does not raise the limit ("app-limited": the
 * limit was not what bounded the calls; AIMD and Vegas skip the increase,
 * Gradient2 skips the update).
 *
 * Where ours differs, and why (each found on the simulated server of
 * test/AdaptiveLimit.simulation.test.ts, where concurrency-limits' rules
 * collapsed to the minimum or drifted to the maximum):
 *
 * - **One decrease per round trip.** A loss (AIMD, Gradient2) or queueing
 *   (Gradient2) shrinks the limit only for a call admitted at or after the
 *   last decrease ({@link State.decreasedAt}): the calls admitted before it
 *   ran under the old limit, and their losses are the congestion that
 *   decrease already answered — as TCP reduces its window once per window of
 *   data (RFC 5681 §3.2). concurrency-limits shrinks on every such sample: a
 *   burst of timeouts multiplies the limit by 0.9 once per call, down to the
 *   minimum. Vegas keeps its per-sample additive decrease (by log10(limit),
 *   gentle enough).
 * - **Shrink the calls in use.** A decrease applies to the calls in flight
 *   when the lost call was admitted, when fewer than the limit (TCP's
 *   `ssthresh = FlightSize / 2`, RFC 5681 §3.1): a limit far above the load
 *   comes down in one step instead of many.
 * - **Gradient2 counts drops.** concurrency-limits' Gradient2 ignores
 *   `didDrop`, so when calls time out at a steady latency its limit grows to
 *   the maximum (its issue #137); a drop here is gradient 0.5 (as its open
 *   PR #134 proposes), and its latency (cut short) stays out of the
 *   long-term average. Its queue allowance is added only while the gradient
 *   is 1 (PR #134: with it added under a gradient slightly below 1 the limit
 *   creeps up for ever), and a decrease, once per round trip, is the
 *   gradient itself, not smoothed.
 * - Every algorithm has a `minLimit` (Vegas has none there: 1); the limit is
 *   always within `[minLimit, maxLimit]`; a sample whose latency, in-flight
 *   count or start is not a finite number (latency and in-flight >= 0) is
 *   ignored; Vegas and Gradient2 take no latency information from a sample
 *   of 0 ms (concurrency-limits throws on it; under a `TestClock` an instant
 *   call measures 0).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as AdaptiveLimit from "../../AdaptiveLimit.js"
import * as userCode from "../userCode.js"

type State = AdaptiveLimit.AdaptiveLimit.State
type Sample = AdaptiveLimit.AdaptiveLimit.Sample
type Limit = AdaptiveLimit.AdaptiveLimit

/**
 * `max(1, floor(log10(n)))`, concurrency-limits' `Log10RootIntFunction`
 * (despite its name: no root).
 * @internal
 */
export const log10Root = (n: number): number => (n < 10 ? 1 : Math.max(1, Math.floor(Math.log10(n))))

/** @internal */
export const clamp = (n: number, min: number, max: number): number => (n < min ? min : n > max ? max : n)

/** The warm-up of Gradient2's long-term average (plain average of the first samples), as concurrency-limits'. @internal */
export const GRADIENT2_WARMUP = 10

// --- a small deterministic PRNG for Vegas's probe jitter (mulberry32) ----------------

/** The next PRNG state. */
const nextSeed = (seed: number): number => (seed + 0x6d2b79f5) | 0

/** A number in [0, 1) from a PRNG state. */
const unit = (seed: number): number => {
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** concurrency-limits draws the probe jitter in [0.5, 1). */
const jitterOf = (seed: number): number => 0.5 + unit(seed) / 2

// --- user functions (Vegas's alpha/beta/threshold, Gradient2's queueSize) -------------

const isFiniteNumber = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u)

/** Sites reporting misbehaving user functions, per policy name and option. */
const sites = new Map<string, userCode.Site>()
const siteOf = (policy: string, hook: string): userCode.Site => {
  const id = `${policy}\u0000${hook}`
  let site = sites.get(id)
  if (site === undefined) {
    // bounded: one site per (policy name, option); names are the user's own, few
    if (sites.size >= 1024) sites.clear()
    site = userCode.site("AdaptiveLimit", policy, hook, "the default function of the option is used")
    sites.set(id, site)
  }
  return site
}

/**
 * The value of a numeric option that may be a function of the limit: a
 * function that throws or answers something other than a finite number is
 * reported (`resilience_user_code_failures`) and replaced by `fallback`.
 */
const ofLimit = (
  policy: string,
  hook: string,
  option: number | ((limit: number) => number) | undefined,
  limit: number,
  fallback: (limit: number) => number
): number => {
  if (option === undefined) return fallback(limit)
  if (typeof option === "number") return option
  return userCode.call(siteOf(policy, hook), option, limit, isFiniteNumber, fallback)
}

const alphaDefault = (limit: number): number => 3 * log10Root(limit)
const betaDefault = (limit: number): number => 6 * log10Root(limit)
const queueSizeDefault = (): number => 4

// --- states -------------------------------------------------------------------------------

/**
 * A state: a class with every field set by its constructor (one allocation of
 * a fixed shape per step; an object spread costs several times more).
 * @internal
 */
export class LimitState implements State {
  constructor(
    readonly algorithm: State["algorithm"],
    readonly limit: number,
    readonly estimate: number,
    readonly latency: number,
    readonly baseline: number,
    readonly samples: number,
    readonly drops: number,
    readonly probeCount: number,
    readonly seed: number,
    readonly longCount: number,
    readonly decreasedAt: number
  ) {}
}

/** The state before any sample. @internal */
export const initial = (limit: Limit, seed: number = 0): State =>
  new LimitState(limit._tag, limit.initialLimit, limit.initialLimit, 0, 0, 0, 0, 0, seed | 0, 0, -Infinity)

/** `state` with its limit (and estimate) set to `n` (a resize). @internal */
export const withEstimate = (state: State, n: number): State =>
  new LimitState(
    state.algorithm,
    Math.floor(n),
    n,
    state.latency,
    state.baseline,
    state.samples,
    state.drops,
    state.probeCount,
    state.seed,
    state.longCount,
    state.decreasedAt
  )

/** The state after `sample`, with the new estimate and what the algorithm measured. */
const withLimit = (
  state: State,
  estimate: number,
  sample: Sample,
  baseline: number,
  probeCount: number = state.probeCount,
  seed: number = state.seed,
  longCount: number = state.longCount,
  decreasedAt: number = state.decreasedAt
): State =>
  new LimitState(
    state.algorithm,
    Math.floor(estimate),
    estimate,
    sample.latency,
    baseline,
    state.samples + 1,
    sample.dropped ? state.drops + 1 : state.drops,
    probeCount,
    seed,
    longCount,
    decreasedAt
  )

/**
 * True when a sample may shrink the limit: the call was admitted at or after
 * the last decrease (calls admitted before it ran under the old limit: their
 * losses and queueing are the congestion that decrease answered; one
 * reduction per round trip, as TCP makes one per window of data, RFC 5681
 * §3.2).
 */
const fresh = (state: State, sample: Sample): boolean => sample.startedAt >= state.decreasedAt

/**
 * What a loss shrinks: the limit, or the calls in flight when the lost call
 * was admitted if fewer (the limit was not what bounded them). TCP does the
 * same: after a loss, `ssthresh = FlightSize / 2` (RFC 5681 §3.1), not half
 * the window; concurrency-limits shrinks the limit, so a limit far above the
 * load takes many losses to come down.
 */
const inUse = (estimate: number, sample: Sample): number => Math.min(estimate, Math.max(1, sample.inflight))

/** After a decrease: calls admitted before now (the sample's end) do not shrink the limit again. */
const fence = (sample: Sample): number => sample.startedAt + sample.latency

const aimd = (limit: AdaptiveLimit.AdaptiveLimit.Aimd, state: State, sample: Sample): State => {
  const current = state.limit
  if (sample.dropped || sample.latency > Duration.toMillis(limit.timeout)) {
    if (!fresh(state, sample)) return withLimit(state, current, sample, 0)
    const next = clamp(Math.floor(inUse(current, sample) * limit.backoffRatio), limit.minLimit, limit.maxLimit)
    return withLimit(state, next, sample, 0, state.probeCount, state.seed, state.longCount, fence(sample))
  }
  const next = sample.inflight * 2 >= current ? current + 1 : current
  return withLimit(state, clamp(next, limit.minLimit, limit.maxLimit), sample, 0)
}

const vegas = (limit: AdaptiveLimit.AdaptiveLimit.Vegas, state: State, sample: Sample, policy: string): State => {
  const rtt = sample.latency
  const estimate = state.estimate
  if (sample.dropped) {
    // a drop shrinks the limit by log10(limit) (an additive decrease: on every drop, as concurrency-limits
    // does); its latency, cut short, says nothing of the queue
    return vegasUpdate(limit, state, sample, estimate - log10Root(Math.floor(estimate)), state.baseline, state.probeCount)
  }
  // no latency information (an instant call, under a TestClock)
  if (!(rtt > 0)) return withLimit(state, estimate, sample, state.baseline)
  // periodically forget the no-load latency, so a lasting change of the dependency's speed is found
  const probeCount = state.probeCount + 1
  if (jitterOf(state.seed) * limit.probeMultiplier * estimate <= probeCount) {
    return withLimit(state, estimate, sample, rtt, 0, nextSeed(state.seed))
  }
  const noLoad = state.baseline
  if (noLoad === 0 || rtt < noLoad) return withLimit(state, estimate, sample, rtt, probeCount)
  const current = Math.floor(estimate)
  const queueSize = Math.ceil(estimate * (1 - noLoad / rtt))
  const step = log10Root(current)
  // app-limited: the limit did not bound the calls
  if (sample.inflight * 2 < estimate) return withLimit(state, estimate, sample, noLoad, probeCount)
  const alpha = ofLimit(policy, "alpha", limit.alpha, current, alphaDefault)
  const beta = ofLimit(policy, "beta", limit.beta, current, betaDefault)
  const threshold = ofLimit(policy, "threshold", limit.threshold, current, log10Root)
  let next: number
  if (queueSize <= threshold) next = estimate + beta
  else if (queueSize < alpha) next = estimate + step
  else if (queueSize > beta) next = estimate - step
  else return withLimit(state, estimate, sample, noLoad, probeCount)
  return vegasUpdate(limit, state, sample, next, noLoad, probeCount)
}

const vegasUpdate = (
  limit: AdaptiveLimit.AdaptiveLimit.Vegas,
  state: State,
  sample: Sample,
  raw: number,
  noLoad: number,
  probeCount: number
): State => {
  const next = clamp(raw, limit.minLimit, limit.maxLimit)
  const smoothed = (1 - limit.smoothing) * state.estimate + limit.smoothing * next
  return withLimit(state, clamp(smoothed, limit.minLimit, limit.maxLimit), sample, noLoad, probeCount)
}

const gradient2 = (limit: AdaptiveLimit.AdaptiveLimit.Gradient2, state: State, sample: Sample, policy: string): State => {
  const estimate = state.estimate
  if (sample.dropped) {
    // a drop is the strongest signal of queueing: gradient 0.5 on the calls in use, once per round trip and not
    // smoothed (a loss is no outlier to average away). concurrency-limits ignores drops (its issue #137: under
    // timeouts the limit grows to the maximum; its PR #134 proposes gradient 0.5). The drop's latency, cut
    // short, stays out of the long-term average.
    if (!fresh(state, sample)) return withLimit(state, estimate, sample, state.baseline)
    const next = inUse(estimate, sample) * 0.5
    return withLimit(state, clamp(next, limit.minLimit, limit.maxLimit), sample, state.baseline, state.probeCount, state.seed, state.longCount, fence(sample))
  }
  const shortRtt = sample.latency
  if (!(shortRtt > 0)) return withLimit(state, estimate, sample, state.baseline)
  // the long-term latency: a plain average over the warm-up, then an exponential one over longWindow samples
  let longRtt: number
  let longCount = state.longCount
  if (longCount < GRADIENT2_WARMUP) {
    longCount++
    longRtt = (state.baseline * (longCount - 1) + shortRtt) / longCount
  } else {
    const factor = 2 / (limit.longWindow + 1)
    longRtt = state.baseline * (1 - factor) + shortRtt * factor
  }
  const reported = longRtt
  // after a long overload the long-term latency can be several times the current one: decay it faster
  if (longRtt / shortRtt > 2) longRtt = longRtt * 0.95
  // app-limited
  if (sample.inflight < estimate / 2) return withLimit(state, estimate, sample, longRtt, state.probeCount, state.seed, longCount)
  // concurrency-limits computes the gradient from the long-term latency before its decay
  const gradient = clamp(limit.rttTolerance * reported / shortRtt, 0.5, 1)
  // queueing shrinks the limit once per round trip: the calls admitted before the last decrease were queued
  // by the load that decrease answered (concurrency-limits shrinks on each of them, compounding into a
  // collapse to minLimit when a burst of slow calls returns together)
  if (gradient < 1 && !fresh(state, sample)) {
    return withLimit(state, estimate, sample, longRtt, state.probeCount, state.seed, longCount)
  }
  // the queue allowance only while no queueing is seen (gradient 1): with it added under a gradient
  // slightly below 1, the limit creeps up for ever (concurrency-limits PR #134)
  const queueSize = gradient < 1 ? 0 : ofLimit(policy, "queueSize", limit.queueSize, Math.floor(estimate), queueSizeDefault)
  if (gradient < 1) {
    // once per round trip, so not smoothed: the gradient itself
    const next = inUse(estimate, sample) * gradient
    return withLimit(state, clamp(next, limit.minLimit, limit.maxLimit), sample, longRtt, state.probeCount, state.seed, longCount, fence(sample))
  }
  let next = estimate * gradient + queueSize
  next = estimate * (1 - limit.smoothing) + next * limit.smoothing
  return withLimit(state, clamp(next, limit.minLimit, limit.maxLimit), sample, longRtt, state.probeCount, state.seed, longCount)
}

/** Whether a sample carries a usable latency (a finite number >= 0) and in-flight count. */
const valid = (sample: Sample): boolean =>
  sample.latency >= 0 && sample.latency < Infinity && sample.inflight >= 0 && sample.inflight < Infinity &&
  Number.isFinite(sample.startedAt)

/**
 * The state after `sample`. `policy` names the policy in reports of a
 * misbehaving user function (Vegas's `alpha`, `beta`, `threshold`;
 * Gradient2's `queueSize`). An invalid sample (latency or in-flight count not
 * a finite number >= 0) leaves the state as it is.
 *
 * @internal
 */
export const step = (limit: Limit, state: State, sample: Sample, policy: string = "AdaptiveLimit"): State => {
  if (!valid(sample)) return state
  switch (limit._tag) {
    case "Aimd":
      return aimd(limit, state, sample)
    case "Vegas":
      return vegas(limit, state, sample, policy)
    case "Gradient2":
      return gradient2(limit, state, sample, policy)
  }
}
