/**
 * Adaptive concurrency limits: a bulkhead's `maxConcurrent` that finds itself
 * from the latency and the drops it measures, instead of a number tuned for
 * one day's capacity. A fixed limit that was right becomes a queue that
 * amplifies latency when the dependency slows down, and wastes capacity when
 * it grows; an adaptive limit follows it.
 *
 * Three algorithms, ported from Netflix's concurrency-limits (Java;
 * `AIMDLimit`, `VegasLimit`, `Gradient2Limit`), with the same parameters,
 * update rules and defaults:
 *
 * - {@link aimd}: loss-based. Grows by one per call while calls succeed (and
 *   at least half the limit is in use), shrinks by `backoffRatio` on a drop
 *   or a call slower than `timeout`. Needs losses to find the limit: use it
 *   when the dependency sheds load (timeouts, 503s) rather than slowing down.
 * - {@link vegas}: latency-based, TCP Vegas's estimate. Takes the fastest
 *   latency seen as the no-load latency and estimates the queue at the
 *   dependency as `limit × (1 − noLoad / latency)`; grows while that queue is
 *   small, shrinks when it is large. Use it when latency grows with load
 *   before anything fails (most services) and the no-load latency is stable.
 * - {@link gradient2}: latency-based, comparing each call's latency with a
 *   long-term average (`longWindow` calls): shrinks when the current latency
 *   exceeds `rttTolerance` × the average, grows by `queueSize` otherwise. More
 *   tolerant of noisy, bursty latencies than Vegas's minimum.
 *
 * A description (what these constructors return) is data: give it to a
 * bulkhead as `maxConcurrent` (`Bulkhead.make({ maxConcurrent:
 * AdaptiveLimit.vegas() })`), which keeps one state per partition and feeds
 * it every call. The state machine itself is pure and synchronous —
 * {@link initial} and {@link step}, a {@link AdaptiveLimit.Sample} in and the
 * next {@link AdaptiveLimit.State} out — to simulate or test an algorithm
 * without a bulkhead.
 *
 * **What is measured.** A call's latency runs from the moment it holds a
 * permit to the moment it gives it back, on monotonic time (the fiber's
 * `Clock`, so `TestClock` drives it): the time it waited in the bulkhead's
 * queue is excluded. Its in-flight count is the permits held when it was
 * admitted, itself included. It is a drop when it timed out (a `Timeout` of
 * the library cut it, or it failed with a `TimeoutError` or any error
 * carrying `Cause.TimeoutExceptionTypeId`) or failed with an error the
 * limit's `isDrop` accepts (a 503 from the dependency). A call interrupted by
 * its caller, a defect and the library's own rejections from inner policies
 * are not samples. The bulkhead's own rejections (queue full, `maxWait`) are
 * never losses: they say the offered load exceeds the limit, not that the
 * dependency is overloaded, and counting them would drive the limit down
 * exactly when more capacity is needed.
 *
 * @since 0.2.0
 */
import type * as Duration from "effect/Duration"
import * as internal from "./internal/adaptiveLimit/adaptiveLimit.js"

// ---------------------------------------------------------------------------
// Type IDs

/**
 * @since 0.2.0
 * @category Type IDs
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * @since 0.2.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

// ---------------------------------------------------------------------------
// Models

/**
 * An adaptive limit: the description of an algorithm and its parameters
 * (every default filled in), made by {@link aimd}, {@link vegas} or
 * {@link gradient2}. Immutable data; the state lives where the limit is used
 * (each bulkhead partition keeps its own).
 *
 * @example
 * ```ts
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * const limit: AdaptiveLimit.AdaptiveLimit = AdaptiveLimit.vegas({ initialLimit: 10, maxLimit: 200 })
 * limit._tag // "Vegas"
 * limit.minLimit // 1 (the default)
 * ```
 *
 * @since 0.2.0
 * @category Models
 */
export type AdaptiveLimit = AdaptiveLimit.Aimd | AdaptiveLimit.Vegas | AdaptiveLimit.Gradient2

/**
 * @since 0.2.0
 */
export declare namespace AdaptiveLimit {
  /**
   * What every algorithm has: its limits and what counts as a drop.
   *
   * @since 0.2.0
   * @category Models
   */
  export interface Base {
    readonly [TypeId]: TypeId
    /** The limit before any sample. */
    readonly initialLimit: number
    /** The limit never goes below it. */
    readonly minLimit: number
    /** The limit never goes above it (concurrency-limits' `maxConcurrency` for Vegas and Gradient2). */
    readonly maxLimit: number
    /** Typed failures to count as drops besides timeouts (e.g. a 503 or 429 from the dependency). */
    readonly isDrop: ((error: unknown) => boolean) | undefined
  }

  /**
   * An AIMD limit (see {@link aimd}).
   *
   * @since 0.2.0
   * @category Models
   */
  export interface Aimd extends Base {
    readonly _tag: "Aimd"
    readonly backoffRatio: number
    readonly timeout: Duration.Duration
  }

  /**
   * A Vegas limit (see {@link vegas}).
   *
   * @since 0.2.0
   * @category Models
   */
  export interface Vegas extends Base {
    readonly _tag: "Vegas"
    readonly smoothing: number
    readonly probeMultiplier: number
    /** `undefined`: the default function of the limit. */
    readonly alpha: number | ((limit: number) => number) | undefined
    readonly beta: number | ((limit: number) => number) | undefined
    readonly threshold: number | ((limit: number) => number) | undefined
  }

  /**
   * A Gradient2 limit (see {@link gradient2}).
   *
   * @since 0.2.0
   * @category Models
   */
  export interface Gradient2 extends Base {
    readonly _tag: "Gradient2"
    readonly smoothing: number
    readonly rttTolerance: number
    readonly longWindow: number
    readonly queueSize: number | ((limit: number) => number)
  }

  /**
   * The options every algorithm takes.
   *
   * @example
   * ```ts
   * import type { AdaptiveLimit } from "effect-resilience"
   *
   * const common: AdaptiveLimit.AdaptiveLimit.CommonOptions = {
   *   initialLimit: 10,
   *   minLimit: 2,
   *   maxLimit: 100,
   *   isDrop: (e) => typeof e === "object" && e !== null && "status" in e && e.status === 503
   * }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface CommonOptions {
    /** The limit before any sample: an integer in `[minLimit, maxLimit]`. Defaults to 20. */
    readonly initialLimit?: number | undefined
    /** The lowest limit, an integer >= 1 (and <= `maxLimit`). Defaults: AIMD 20, Vegas 1, Gradient2 20. */
    readonly minLimit?: number | undefined
    /** The highest limit, an integer in [1, 1,000,000]. Defaults: AIMD 200, Vegas 1,000, Gradient2 200. */
    readonly maxLimit?: number | undefined
    /**
     * Typed failures to count as drops, besides timeouts (which always are).
     * Called with each typed failure of a call that held a permit; a throw or
     * a non-boolean answer is reported (`resilience_user_code_failures`) and
     * counts as `false`. Defaults to none.
     */
    readonly isDrop?: ((error: unknown) => boolean) | undefined
  }

  /**
   * Options of {@link aimd}.
   *
   * @example
   * ```ts
   * import type { AdaptiveLimit } from "effect-resilience"
   *
   * const options: AdaptiveLimit.AdaptiveLimit.AimdOptions = { backoffRatio: 0.8, timeout: "2 seconds" }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface AimdOptions extends CommonOptions {
    /** The factor a drop multiplies the limit by: a number in [0.5, 1). Defaults to 0.9. */
    readonly backoffRatio?: number | undefined
    /** A call slower than this counts as a drop. Defaults to 5 seconds. */
    readonly timeout?: Duration.DurationInput | undefined
  }

  /**
   * Options of {@link vegas}. `alpha`, `beta` and `threshold` are queue
   * sizes (calls), each a number >= 0 or a function of the current limit; a
   * function that throws or answers something other than a finite number is
   * reported and replaced by the default for that call.
   *
   * @example
   * ```ts
   * import type { AdaptiveLimit } from "effect-resilience"
   *
   * // classic TCP Vegas thresholds
   * const options: AdaptiveLimit.AdaptiveLimit.VegasOptions = { alpha: 3, beta: 6, smoothing: 0.5 }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface VegasOptions extends CommonOptions {
    /**
     * The weight of a new estimate: `limit = (1 − smoothing) × limit +
     * smoothing × estimate`, a number in (0, 1]. Defaults to 1 (no smoothing).
     */
    readonly smoothing?: number | undefined
    /**
     * The no-load latency is measured afresh every `probeMultiplier × limit`
     * samples (times a jitter in [0.5, 1)), so a lasting change of the
     * dependency's speed is found: an integer >= 1. Defaults to 30.
     */
    readonly probeMultiplier?: number | undefined
    /** Below this estimated queue the limit grows by log10(limit). Defaults to 3 × log10(limit). */
    readonly alpha?: number | ((limit: number) => number) | undefined
    /** Above this estimated queue the limit shrinks by log10(limit). Defaults to 6 × log10(limit). */
    readonly beta?: number | ((limit: number) => number) | undefined
    /** At or below this estimated queue the limit grows by `beta` (fast start). Defaults to log10(limit). */
    readonly threshold?: number | ((limit: number) => number) | undefined
  }

  /**
   * Options of {@link gradient2}.
   *
   * @example
   * ```ts
   * import type { AdaptiveLimit } from "effect-resilience"
   *
   * const options: AdaptiveLimit.AdaptiveLimit.Gradient2Options = { minLimit: 5, rttTolerance: 2, longWindow: 300 }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface Gradient2Options extends CommonOptions {
    /** The weight of a new estimate, a number in (0, 1]. Defaults to 0.2. */
    readonly smoothing?: number | undefined
    /**
     * How much slower than the long-term average a call may be before the
     * limit shrinks: a number >= 1 (2: twice as slow). Defaults to 1.5.
     */
    readonly rttTolerance?: number | undefined
    /** The calls the long-term average latency spans (an exponential average): an integer >= 1. Defaults to 600. */
    readonly longWindow?: number | undefined
    /** What the limit grows by while latency stays within tolerance: a number >= 0, or a function of the limit. Defaults to 4. */
    readonly queueSize?: number | ((limit: number) => number) | undefined
  }

  /**
   * One finished call, as the algorithms see it (concurrency-limits'
   * `onSample(startTime, rtt, inflight, didDrop)`).
   *
   * @example
   * ```ts
   * import type { AdaptiveLimit } from "effect-resilience"
   *
   * const sample: AdaptiveLimit.AdaptiveLimit.Sample = { startedAt: 1_000, latency: 120, inflight: 8, dropped: false }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface Sample {
    /**
     * When the call was admitted, in monotonic milliseconds (any origin; the
     * same clock as `latency`): only a call admitted at or after the last
     * decrease shrinks the limit again (one decrease per round trip).
     */
    readonly startedAt: number
    /** Milliseconds from permit acquisition to release (monotonic). A sample whose latency is not a finite number >= 0 is ignored. */
    readonly latency: number
    /** Calls holding a permit when this one was admitted, itself included. */
    readonly inflight: number
    /** A loss: the call timed out, or failed with an error `isDrop` accepts. */
    readonly dropped: boolean
  }

  /**
   * An algorithm's state: what {@link step} maps to the next one. `limit` is
   * the limit in force; the rest is what the algorithm measured.
   *
   * @example
   * ```ts
   * import { AdaptiveLimit } from "effect-resilience"
   *
   * const show = (s: AdaptiveLimit.AdaptiveLimit.State) =>
   *   `${s.algorithm}: limit ${s.limit}, latency ${s.latency} ms (baseline ${s.baseline} ms), ${s.drops} drops in ${s.samples} samples`
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface State {
    readonly algorithm: "Aimd" | "Vegas" | "Gradient2"
    /** The limit in force: an integer in `[minLimit, maxLimit]` (the estimate, rounded down). */
    readonly limit: number
    /** The algorithm's estimate, a real number (AIMD: the limit itself). */
    readonly estimate: number
    /** The last sample's latency, in milliseconds (0 before any). */
    readonly latency: number
    /**
     * The latency the algorithm compares against, in milliseconds: Vegas's
     * no-load latency (the fastest seen since the last probe), Gradient2's
     * long-term average; 0 for AIMD and before any sample.
     */
    readonly baseline: number
    /** Samples taken (invalid ones excluded). */
    readonly samples: number
    /** Samples that were drops. */
    readonly drops: number
    /** Vegas: samples since the no-load latency was last probed. */
    readonly probeCount: number
    /** Vegas: the state of the probe jitter's random generator. */
    readonly seed: number
    /** Gradient2: samples in the long-term average's warm-up (at most 10). */
    readonly longCount: number
    /**
     * When a loss (AIMD, Gradient2) or queueing (Gradient2) last shrank the
     * limit: the end of that call, in monotonic milliseconds (`-Infinity`
     * before any). Calls admitted earlier do not shrink it again.
     */
    readonly decreasedAt: number
  }
}

// ---------------------------------------------------------------------------
// Constructors

/**
 * A loss-based limit: additive increase, multiplicative decrease
 * (concurrency-limits' `AIMDLimit`). After each call: on a drop or a call
 * slower than `timeout`, `limit = floor(min(limit, inflight) ×
 * backoffRatio)`, once per round trip (a loss of a call admitted before the
 * last decrease is the same congestion); otherwise, if at least half the
 * limit was in use, `limit + 1`; always within `[minLimit, maxLimit]`.
 *
 * Defaults (concurrency-limits'): `initialLimit` 20, `minLimit` 20,
 * `maxLimit` 200, `backoffRatio` 0.9, `timeout` 5 seconds. Throws
 * `InvalidOptionsError` naming the option and its range.
 *
 * Use it when the dependency signals overload by failing (timeouts, 503,
 * 429 through `isDrop`); a dependency that only slows down never makes it
 * shrink until calls exceed `timeout`.
 *
 * @example
 * ```ts
 * import { AdaptiveLimit, Bulkhead } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({
 *     maxConcurrent: AdaptiveLimit.aimd({ minLimit: 5, initialLimit: 10, maxLimit: 100, timeout: "1 second" }),
 *     maxQueue: 100
 *   })
 *   yield* Effect.succeed("ok").pipe(bulkhead)
 *   return (yield* bulkhead.stats()).maxConcurrent // the limit in force
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category Constructors
 */
export const aimd: (options?: AdaptiveLimit.AimdOptions) => AdaptiveLimit.Aimd = internal.aimd

/**
 * A latency-based limit after TCP Vegas (concurrency-limits' `VegasLimit`).
 * The no-load latency is the fastest call seen (measured afresh every
 * `probeMultiplier × limit` calls); the queue at the dependency is estimated
 * as `ceil(limit × (1 − noLoad / latency))`. When at least half the limit was
 * in use: at or below `threshold` the limit grows by `beta`, below `alpha` by
 * log10(limit), above `beta` it shrinks by log10(limit); a drop shrinks it by
 * log10(limit). The result is smoothed (`smoothing`) and kept within
 * `[minLimit, maxLimit]`.
 *
 * Defaults (concurrency-limits'): `initialLimit` 20, `minLimit` 1,
 * `maxLimit` 1,000, `smoothing` 1, `probeMultiplier` 30, `alpha` 3 ×
 * log10(limit), `beta` 6 × log10(limit), `threshold` log10(limit) (log10
 * rounded down, at least 1). Throws `InvalidOptionsError` naming the option
 * and its range.
 *
 * @example
 * ```ts
 * import { AdaptiveLimit, Bulkhead } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.vegas({ initialLimit: 10 }), maxQueue: 50, name: "search" })
 *   return yield* Effect.succeed(42).pipe(bulkhead)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category Constructors
 */
export const vegas: (options?: AdaptiveLimit.VegasOptions) => AdaptiveLimit.Vegas = internal.vegas

/**
 * A latency-based limit from the gradient between a long-term average
 * latency and the current one (concurrency-limits' `Gradient2Limit`). After
 * each call (when at least half the limit was in use): `gradient =
 * clamp(rttTolerance × long / latency, 0.5, 1)`; at 1 the limit grows by
 * `queueSize`, smoothed by `smoothing`; below 1 it shrinks to
 * `min(limit, inflight) × gradient`, once per round trip; a drop shrinks it
 * to `min(limit, inflight) × 0.5`, once per round trip. Always within
 * `[minLimit, maxLimit]`. The long-term average spans `longWindow` calls
 * (drops excluded); when it is more than twice the current latency
 * (recovery after a long overload) it decays by 5% per call.
 *
 * Defaults (concurrency-limits'): `initialLimit` 20, `minLimit` 20,
 * `maxLimit` 200, `smoothing` 0.2, `rttTolerance` 1.5, `longWindow` 600,
 * `queueSize` 4. Throws `InvalidOptionsError` naming the option and its
 * range.
 *
 * Unlike concurrency-limits' Gradient2, drops count (there, a limit whose
 * calls all time out at a steady latency grows to the maximum), and a burst
 * of slow calls shrinks the limit once, not once per call. It trusts its
 * long-term average: under a lasting overload the average follows the
 * queueing latency and the limit drifts up until calls time out — use a
 * `longWindow` spanning more calls than an overload lasts, a `rttTolerance`
 * close to 1, and a timeout (see docs/AdaptiveLimit.md).
 *
 * @example
 * ```ts
 * import { AdaptiveLimit, Bulkhead } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.gradient2({ minLimit: 4, initialLimit: 8 }), maxQueue: 100 })
 *   return yield* Effect.succeed(42).pipe(bulkhead)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category Constructors
 */
export const gradient2: (options?: AdaptiveLimit.Gradient2Options) => AdaptiveLimit.Gradient2 = internal.gradient2

// ---------------------------------------------------------------------------
// Guards

/**
 * True for adaptive limits.
 *
 * @example
 * ```ts
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * AdaptiveLimit.isAdaptiveLimit(AdaptiveLimit.aimd()) // true
 * AdaptiveLimit.isAdaptiveLimit(20) // false
 * ```
 *
 * @since 0.2.0
 * @category Guards
 */
export const isAdaptiveLimit: (u: unknown) => u is AdaptiveLimit = internal.isAdaptiveLimit

// ---------------------------------------------------------------------------
// The state machine

/**
 * The state of `limit` before any sample: its `initialLimit`. `seed` seeds
 * Vegas's probe jitter (the only randomness; default 0), so a run is
 * reproducible; a bulkhead draws it from the fiber's `Random`.
 *
 * @example
 * ```ts
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * const state = AdaptiveLimit.initial(AdaptiveLimit.vegas({ initialLimit: 10 }))
 * state.limit // 10
 * ```
 *
 * @since 0.2.0
 * @category State machine
 */
export const initial: (limit: AdaptiveLimit, seed?: number) => AdaptiveLimit.State = internal.initial

/**
 * The state after one finished call: pure and synchronous (a few arithmetic
 * operations), so an algorithm can be simulated or property-tested without a
 * bulkhead or a clock. The result's `limit` is always an integer in
 * `[minLimit, maxLimit]`; an invalid sample (latency or in-flight count not a
 * finite number >= 0) leaves the state unchanged.
 *
 * @example
 * ```ts
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * const limit = AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 10 })
 * let state = AdaptiveLimit.initial(limit)
 * state = AdaptiveLimit.step(limit, state, { startedAt: 0, latency: 50, inflight: 10, dropped: false })
 * state.limit // 11: a success with the limit in use
 * state = AdaptiveLimit.step(limit, state, { startedAt: 10, latency: 50, inflight: 10, dropped: true })
 * state.limit // 9: floor(11 × 0.9)
 * state = AdaptiveLimit.step(limit, state, { startedAt: 20, latency: 50, inflight: 9, dropped: true })
 * state.limit // 9: admitted before the last decrease (at 60 ms), the same congestion event
 * ```
 *
 * @since 0.2.0
 * @category State machine
 */
export const step: (limit: AdaptiveLimit, state: AdaptiveLimit.State, sample: AdaptiveLimit.Sample) => AdaptiveLimit.State =
  internal.step
