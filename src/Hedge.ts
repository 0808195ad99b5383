/**
 * Hedged requests: while no attempt has succeeded, start another one every
 * `delay`, up to `maxAttempts` in total (the first included); the first
 * success wins and the other attempts are interrupted and awaited.
 *
 * Hedging trades extra load for lower tail latency: a slow replica or a lost
 * packet no longer decides the latency of the call. Use it only for
 * idempotent work.
 *
 * - A hedgeable failure (every typed failure except the library's own
 *   rejections, or those matched by `while`) starts the next attempt at once.
 * - An attempt rejected by the library itself (`Errors.isRejection`: a full
 *   bulkhead, an open circuit, a rate limit) and not made hedgeable by
 *   `while` is dropped: it starts no hedge and ends nothing while other
 *   attempts run; when it was the last one running, the caller gets it.
 * - Anything else — a success, a non-hedgeable failure, a defect, an
 *   interruption coming from inside an attempt — is final: the caller gets it
 *   at once and the other attempts are interrupted (Polly's hedging treats
 *   unhandled outcomes the same way).
 * - With `whenResult`, a success whose value the predicate accepts is a
 *   failed attempt (as a hedgeable failure: the next attempt starts at once).
 * - If every attempt fails (hedgeable errors or rejected values), the caller
 *   gets the outcome of the attempt that failed last — or first, with
 *   `failWith: "first"`: its failure, or its rejected value as a success
 *   (a `FailedResultError` with `failAfterMaxAttempts: true`, as `Retry`).
 *   Without `failAfterMaxAttempts` a hedge adds no error type.
 * - `delay: 0` starts every attempt at once; an infinite `delay` starts a new
 *   attempt only when one fails ("fallback mode"). `delay` may be a function
 *   of the attempt number (Polly's `DelayGenerator`).
 *
 * Losers are interrupted and awaited (no leaked fibers): like `Effect.race`,
 * an attempt that runs uninterruptibly delays the result until it ends, and
 * the winner's `FiberRef` changes are kept. Each attempt can read its number
 * with {@link currentAttempt}.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import type { FailedResultError, InvalidOptionsError } from "./Errors.js"
import * as internal from "./internal/hedge/hedge.js"
import * as options_ from "./internal/hedge/options.js"
import type { Policy } from "./Policy.js"

// ---------------------------------------------------------------------------
// Type IDs

/**
 * The type id every hedge carries (see {@link isHedge}).
 *
 * @example
 * ```ts
 * import { Hedge } from "effect-resilience"
 *
 * Hedge.TypeId in Hedge.make({ delay: "100 millis", maxAttempts: 2 }) // true
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @example
 * ```ts
 * import type { Hedge } from "effect-resilience"
 *
 * type Id = Hedge.TypeId
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

// ---------------------------------------------------------------------------
// Models

/**
 * A hedging policy. It adds no error (but `E2`, the `FailedResultError` of
 * `failAfterMaxAttempts`): if every attempt fails, the caller gets the last
 * (or first) attempt's failure. `AIn` is the value type a `whenResult`
 * predicate reads (`unknown` without one).
 *
 * @example
 * ```ts
 * import { Hedge } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const hedge: Hedge.Hedge = Hedge.make({ delay: "100 millis", maxAttempts: 3, name: "search" })
 * const program = Effect.gen(function*() {
 *   yield* Effect.succeed("results").pipe(hedge)
 *   return yield* hedge.stats() // { calls: 1, hedges: 0, wins: [1, 0, 0], failures: 0 }
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Hedge<EIn = unknown, AIn = unknown, E2 = never> extends Policy<E2, never, EIn, AIn> {
  readonly [TypeId]: TypeId
  /** The policy's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  /** The validated delay between attempts, or the function of the attempt number that gives it. */
  readonly delay: Duration.Duration | ((attempt: number) => Duration.DurationInput)
  readonly maxAttempts: number
  /** What the policy did, as a `Stream` (one buffer per subscriber). */
  readonly events: Stream.Stream<HedgeEvent>
  /** Counts since creation, as a snapshot (kept in plain counters, cheap on the fast path). */
  readonly stats: () => Effect.Effect<Hedge.Stats>
  /** `stats()` read synchronously: the form for hot paths and plain functions. */
  readonly unsafeStats: () => Hedge.Stats
}

/**
 * The types that go with {@link Hedge}.
 *
 * @since 0.1.0
 */
export declare namespace Hedge {
  /**
   * Options of {@link make}.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Options<EIn = unknown, A = unknown> {
    /**
     * How long to wait for the latest attempt before starting the next one:
     * a duration >= 0, or infinite (new attempts start only when one fails).
     *
     * Or a function of the attempt number (Polly's `DelayGenerator`):
     * `delay(n)` is asked once attempt `n` (from 1) has started, and says
     * how long to wait before starting attempt `n + 1`
     * (`(n) => n === 1 ? "50 millis" : "200 millis"`). If it throws or
     * answers anything but a duration >= 0 (or infinite), no attempt is
     * started by delay after attempt `n` (a failure still starts one): the
     * safe default adds no load; the failure is reported (see "User code").
     */
    readonly delay: Duration.DurationInput | ((attempt: number) => Duration.DurationInput)
    /** Attempts in total, the first included: an integer in [1, 100]. */
    readonly maxAttempts: number
    /**
     * Which typed errors are hedgeable (start the next attempt at once).
     * Defaults to every typed error except the library's own rejections
     * (`Errors.isRejection`), which are dropped while other attempts run. Any
     * other non-hedgeable error is final. If it throws or answers anything but
     * a boolean, the error is not hedgeable (reported; see "User code" in the
     * docs).
     */
    readonly while?: ((error: EIn) => boolean) | undefined
    /**
     * Treat a success as a failed attempt where this holds (cockatiel's
     * `handleWhenResult`, Polly's `ShouldHandle` with `HandleResult`): the
     * next attempt starts at once, as after a hedgeable failure. The policy
     * is then typed on `A`: it accepts only effects whose success type is
     * assignable to `A`. If it throws or answers anything but a boolean, the
     * value is accepted (it wins); the failure is reported. Without it no
     * value is checked.
     */
    readonly whenResult?: ((value: A) => boolean) | undefined
    /**
     * When every attempt fails, the caller gets the outcome of the attempt
     * that failed `"last"` (the default) or `"first"` (the first hedgeable
     * failure or rejected value: often the most telling one, as later
     * attempts may fail for the load the earlier ones made).
     */
    readonly failWith?: "last" | "first" | undefined
    /**
     * With `whenResult`: when the outcome the caller gets is a rejected
     * value, fail with a `FailedResultError` carrying it (and the attempts
     * started) instead of returning it. Defaults to `false`. Invalid without
     * `whenResult`.
     */
    readonly failAfterMaxAttempts?: boolean | undefined
    /** A name for metrics, events and descriptors. Defaults to `"hedge"`. */
    readonly name?: string | undefined
  }

  /**
   * Options of {@link make} with a `whenResult` predicate over values of
   * type `A` (`failAfterMaxAttempts` is written, as a literal, in the call
   * to {@link make}, where it decides the hedge's error type).
   *
   * @example
   * ```ts
   * import { Hedge } from "effect-resilience"
   *
   * const options: Hedge.Hedge.ResultOptions<unknown, ReadonlyArray<string>> = {
   *   delay: "100 millis",
   *   maxAttempts: 3,
   *   whenResult: (hits) => hits.length === 0 // an empty answer: ask another replica
   * }
   * const hedge = Hedge.make(options)
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface ResultOptions<EIn = unknown, A = unknown> extends Omit<Options<EIn, A>, "failAfterMaxAttempts"> {
    readonly whenResult: (value: A) => boolean
  }

  /**
   * What a hedge did since it was made.
   *
   * @example
   * ```ts
   * import { Hedge } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 2 })
   * const program = Effect.gen(function*() {
   *   yield* Effect.succeed("ok").pipe(hedge)
   *   const stats: Hedge.Hedge.Stats = yield* hedge.stats()
   *   return stats.hedges / stats.calls // the share of calls that hedged
   * })
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    /** Calls made through the policy. */
    readonly calls: number
    /** Attempts started beyond the first. */
    readonly hedges: number
    /** `wins[i]` counts calls won by attempt `i + 1`. */
    readonly wins: ReadonlyArray<number>
    /** Calls that failed (every attempt failed, or one failed with a final error). */
    readonly failures: number
  }
}

/**
 * What a hedge did.
 *
 * - `HedgeStarted`: attempt `attempt` (>= 2) started, because `delay`
 *   elapsed or because an attempt failed with a hedgeable `error`.
 * - `HedgeWon`: attempt `attempt` succeeded first; `started` attempts had
 *   been started.
 * - `HedgeFailed`: the call failed, because every attempt failed
 *   (`"Exhausted"`), one failed with a final error (`"NotHedgeable"`: a
 *   non-hedgeable typed error, a defect or an interruption), or the last
 *   attempt left was rejected by the library (`"Rejected"`).
 *
 * @example
 * ```ts
 * import { Hedge } from "effect-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 3 })
 * const logHedges = hedge.events.pipe(
 *   Stream.filter((e: Hedge.HedgeEvent) => e._tag === "HedgeStarted"),
 *   Stream.runForEach((e) => Effect.log(`hedge ${e.attempt} started`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type HedgeEvent =
  | {
    readonly _tag: "HedgeStarted"
    readonly policy: string
    readonly attempt: number
    readonly reason: "Delay" | "Failure"
    /** The hedgeable error that started it (reason `"Failure"`). */
    readonly error?: unknown
    /** The value `whenResult` rejected that started it (reason `"Failure"`). */
    readonly result?: { readonly value: unknown } | undefined
  }
  | {
    readonly _tag: "HedgeWon"
    readonly policy: string
    readonly attempt: number
    readonly started: number
  }
  | {
    readonly _tag: "HedgeFailed"
    readonly policy: string
    readonly attempt: number
    readonly started: number
    readonly reason: "Exhausted" | "NotHedgeable" | "Rejected"
    /** The failure the caller gets (empty when it gets a rejected value: see `result`). */
    readonly cause: Cause.Cause<unknown>
    /** The rejected value the caller gets (or that its `FailedResultError` carries). */
    readonly result?: { readonly value: unknown } | undefined
  }

/**
 * The largest `maxAttempts` accepted.
 *
 * @example
 * ```ts
 * import { Hedge } from "effect-resilience"
 *
 * const widest = Hedge.make({ delay: "10 millis", maxAttempts: Hedge.MAX_ATTEMPTS })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export const MAX_ATTEMPTS = options_.MAX_ATTEMPTS

/**
 * The number of the hedge attempt running this effect (1 for the first
 * attempt, and outside any hedge). Lets an attempt pick another replica.
 *
 * @example
 * ```ts
 * import { Hedge } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const replicas = ["a", "b", "c"]
 * const callReplica = (replica: string): Effect.Effect<string> => Effect.succeed(`answer from ${replica}`)
 *
 * const call = Effect.flatMap(Hedge.currentAttempt, (n) => callReplica(replicas[(n - 1) % replicas.length]!))
 * const program = call.pipe(Hedge.make({ delay: "50 millis", maxAttempts: 3 }))
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const currentAttempt: Effect.Effect<number> = internal.currentAttempt

/**
 * Makes a hedging policy. Throws `InvalidOptionsError` for invalid options.
 *
 * Cost: with `maxAttempts: 1` a hedge runs the effect in the caller's fiber
 * and only counts the call (about 1 µs; its `HedgeWon`/`HedgeFailed` event is
 * built only when someone listens).
 * Otherwise every call forks its first attempt and a timer fiber, even when
 * the first attempt finishes before `delay`: the fast path costs about what
 * `Effect.race` or `Effect.timeout` cost (they fork two fibers too) — measured
 * at 50–70 µs per call against 35–50 µs for `Effect.race` on the 2-core
 * development machine under load, where the bare effect costs 0.3 µs. No
 * `Metric` is updated on that path (counts go to `stats()`); a call that
 * started a hedge also updates `resilience_hedge_started` and
 * `resilience_hedge_won`. Hedge calls that take milliseconds, not
 * microseconds.
 *
 * @example
 * ```ts
 * import { Hedge } from "effect-resilience"
 * import { Data, Effect } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 * class BadRequest extends Data.TaggedError("BadRequest")<{}> {}
 * const search: Effect.Effect<ReadonlyArray<string>, Unavailable | BadRequest> = Effect.succeed(["result"])
 *
 * const hedge = Hedge.make({
 *   delay: "100 millis", // about the p95 latency
 *   maxAttempts: 3,
 *   while: (e: Unavailable | BadRequest) => e._tag === "Unavailable" // a BadRequest is final
 * })
 * const program = search.pipe(hedge) // Effect<ReadonlyArray<string>, Unavailable | BadRequest>
 *
 * // a delay per attempt, an empty answer as a failed attempt, the first failure when all fail
 * const eager = Hedge.make({
 *   delay: (attempt) => (attempt === 1 ? "50 millis" : "200 millis"),
 *   maxAttempts: 3,
 *   whenResult: (hits: ReadonlyArray<string>) => hits.length === 0,
 *   failWith: "first"
 * })
 * const hits = search.pipe(eager)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: {
  <A, EIn = unknown>(
    options: Hedge.ResultOptions<EIn, A> & { readonly failAfterMaxAttempts: true }
  ): Hedge<EIn, A, FailedResultError<A>>
  <A, EIn = unknown>(
    options: Hedge.ResultOptions<EIn, A> & { readonly failAfterMaxAttempts?: false | undefined }
  ): Hedge<EIn, A>
  <EIn = unknown>(options: Hedge.Options<EIn> & { readonly failAfterMaxAttempts?: false | undefined }): Hedge<EIn>
} = internal.makeTyped

/**
 * True for a hedge made by {@link make}.
 *
 * @example
 * ```ts
 * import { Hedge, Timeout } from "effect-resilience"
 *
 * Hedge.isHedge(Hedge.make({ delay: "100 millis", maxAttempts: 2 })) // true
 * Hedge.isHedge(Timeout.make("1 second")) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isHedge: (u: unknown) => u is Hedge<any> = internal.isHedge

// ---------------------------------------------------------------------------
// Config

/**
 * The options of a hedge that are data, as read from `Config` (the
 * environment): a constant `delay` (a string such as `"100 millis"`, or
 * `"Infinity"`: new attempts only when one fails), `maxAttempts`,
 * `failWith`, `failAfterMaxAttempts` and `name`. Defaults and ranges:
 * docs/Options.md#hedge.
 *
 * @since 0.2.0
 * @category Models
 */
export interface ConfigOptions {
  /** How long to wait for the latest attempt before starting the next one: a duration >= 0, or infinite. */
  readonly delay: Duration.DurationInput
  /** Attempts in total, the first included: an integer in [1, 100]. */
  readonly maxAttempts: number
  /** When every attempt fails, the outcome of the one that failed `"last"` (the default) or `"first"`. */
  readonly failWith?: "last" | "first" | undefined
  /** Fail with `FailedResultError` when the outcome is a rejected value (needs `whenResult` in code). Defaults to false. */
  readonly failAfterMaxAttempts?: boolean | undefined
  /** Defaults to `"hedge"`. */
  readonly name?: string | undefined
}

/**
 * The options of a hedge that are code, given beside its
 * {@link ConfigOptions} to {@link fromConfig} and {@link layerConfig}.
 *
 * @since 0.2.0
 * @category Models
 */
export type CodeOptions<EIn = unknown, A = unknown> = Pick<Hedge.Options<EIn, A>, "while" | "whenResult">

/**
 * The `Config` of a hedge's data options ({@link ConfigOptions}), each under
 * its own name (`delay` and `maxAttempts` required: a `ConfigError` when
 * missing; the table in docs/Options.md#hedge). Nest it to give it a prefix;
 * with `ConfigProvider.constantCase`, `Config.nested(Hedge.config, "search")`
 * reads `SEARCH_DELAY`, `SEARCH_MAX_ATTEMPTS`, …
 *
 * @example
 * ```ts
 * import { Hedge, Policy } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class SearchHedge extends Context.Tag("app/SearchHedge")<SearchHedge, Policy.Policy>() {}
 * // search.delay="100 millis" search.maxAttempts=3
 * const live = Hedge.layerConfig(SearchHedge, Config.nested(Hedge.config, "search"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<ConfigOptions> = internal.config

/**
 * Makes a hedge with its data options read from `Config` ({@link config}, a
 * `Config` of {@link ConfigOptions} or a record of `Config`s) and its code
 * options (`while`, `whenResult`) given. Missing or malformed values fail
 * with a `ConfigError`; out-of-range ones with `InvalidOptionsError` naming
 * the config key. With `whenResult`, the config may set
 * `failAfterMaxAttempts`: the hedge's error type says so.
 *
 * @example
 * ```ts
 * import { Hedge } from "effect-resilience"
 * import { Config, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const hedge = yield* Hedge.fromConfig(Config.nested(Hedge.config, "search"), {
 *     whenResult: (hits: ReadonlyArray<string>) => hits.length === 0
 *   })
 *   return yield* Effect.succeed(["a"]).pipe(hedge)
 * })
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: {
  <A, EIn = unknown>(
    config: Config.Config.Wrap<ConfigOptions>,
    code: CodeOptions<EIn, A> & { readonly whenResult: (value: A) => boolean }
  ): Effect.Effect<Hedge<EIn, A, FailedResultError<A>>, InvalidOptionsError | ConfigError.ConfigError>
  <EIn = unknown>(
    config: Config.Config.Wrap<ConfigOptions>,
    code?: CodeOptions<EIn> & { readonly whenResult?: undefined }
  ): Effect.Effect<Hedge<EIn>, InvalidOptionsError | ConfigError.ConfigError>
} = internal.fromConfig as any

/**
 * Provides a hedge under your own `Context.Tag` (see `Policy.fromTag`) with
 * its data options read from `Config` ({@link config}, a `Config` of
 * {@link ConfigOptions}, or a record of `Config`s with your own names) and
 * its code options given. Invalid values fail the layer with
 * `InvalidOptionsError`; missing or malformed config with a `ConfigError`.
 *
 * @example
 * ```ts
 * import { Hedge, Policy } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class SearchHedge extends Context.Tag("app/SearchHedge")<SearchHedge, Policy.Policy>() {}
 * // SEARCH_HEDGE_DELAY="100 millis" SEARCH_HEDGE_ATTEMPTS=3
 * const live = Hedge.layerConfig(SearchHedge, {
 *   delay: Config.duration("SEARCH_HEDGE_DELAY"),
 *   maxAttempts: Config.integer("SEARCH_HEDGE_ATTEMPTS").pipe(Config.withDefault(2))
 * }, { while: (e) => e !== "BadRequest" })
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const layerConfig: <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<ConfigOptions> & ([Hedge] extends [S] ? unknown : never),
  code?: CodeOptions
) => Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> = internal.layerConfig
