/**
 * Timeouts as policies.
 *
 * `Timeout.make(duration)` fails with {@link TimeoutError} when the work takes
 * longer than `duration`, and interrupts the work. Where it sits decides what
 * it bounds: outside a retry it is an overall timeout, inside it a
 * per-attempt one.
 *
 * A timeout's deadline propagates inward: an inner `Retry` never starts a
 * sleep that would end after it, and an inner timeout never outlives it (it
 * fires at the outer deadline, with the outer timeout's error).
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type { InvalidOptionsError, TimeoutError } from "./Errors.js"
import * as internal from "./internal/timeout/timeout.js"
import type { Policy } from "./Policy.js"

export {
  /**
   * @since 0.1.0
   * @category Errors
   */
  TimeoutError
} from "./Errors.js"

/**
 * The unique symbol that marks the values of this module (`TypeId in value`).
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

/**
 * What a timeout did: its deadline ended a call with a `TimeoutError`
 * (cockatiel's `onTimeout`). Emitted once per call, whether this policy's
 * own timer cut the work, an inner timeout fired at this deadline (`scope`
 * `"overall"`), or an inner policy's wait (a bulkhead queue, a hedge) ended
 * at it. Never on a success.
 *
 * @example
 * ```ts
 * import { Timeout } from "effect-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const timeout = Timeout.make("1 second", { name: "db" })
 * const log = timeout.events.pipe(
 *   Stream.runForEach((e: Timeout.TimeoutEvent) => Effect.logWarning(`${e.policy} timed out (${e.scope ?? "unscoped"})`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type TimeoutEvent = {
  readonly _tag: "TimedOut"
  /** The policy's name (`"timeout"` when it has none). */
  readonly policy: string
  /** The scope of the error the caller got (`"overall"` when an inner policy ended at this deadline). */
  readonly scope: "overall" | "attempt" | undefined
  /** The policy's configured duration. */
  readonly duration: Duration.Duration
}

/**
 * A timeout policy. Besides bounding calls it reports its timeouts:
 * `events` (a {@link TimeoutEvent} per call its deadline ended), `stats()`
 * and the counter `resilience_timeout_timeouts` (tags `policy`, and `scope`:
 * `"overall"`, `"attempt"` or `"none"`), updated only when a timeout fires.
 *
 * @example
 * ```ts
 * import { Timeout } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const timeout: Timeout.Timeout = Timeout.make("1 second", { name: "db", scope: "attempt" })
 * const program = Effect.gen(function*() {
 *   yield* Effect.never.pipe(timeout, Effect.ignore)
 *   return yield* timeout.stats() // { timeouts: 1 }
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Timeout extends Policy<TimeoutError> {
  readonly [TypeId]: TypeId
  /** The configured duration. */
  readonly duration: Duration.Duration
  readonly options: Timeout.Options
  /** The policy's name (`"timeout"` when it has none; a callable's own `name` is read-only). */
  readonly policyName: string
  /** The calls this timeout's deadline ended, as a `Stream` (one buffer per subscriber). */
  readonly events: Stream.Stream<TimeoutEvent>
  /** Counts since creation, as a snapshot. */
  readonly stats: () => Effect.Effect<Timeout.Stats>
  /** `stats()` read synchronously: the form for hot paths and plain functions. */
  readonly unsafeStats: () => Timeout.Stats
}

/**
 * @since 0.1.0
 */
export declare namespace Timeout {
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Options {
    /** A name for errors, events, metrics and descriptors (`"timeout"` in events and metrics when absent). */
    readonly name?: string | undefined
    /**
     * Return at the deadline without waiting for the interrupted work to
     * finish (Effect's `disconnect`): the work is interrupted in the
     * background. Use it for uninterruptible work you cannot wait for.
     * Defaults to `false` (wait until the work has been interrupted).
     */
    readonly disconnect?: boolean | undefined
    /** Marks the errors as an `"overall"` or `"attempt"` timeout. */
    readonly scope?: "overall" | "attempt" | undefined
    /**
     * Which implementation runs the deadline: `"fast"` (the default: one
     * fork and a shared timer) or `"general"` (`Effect.timeoutFail`, two
     * fibers per call). Both have the same semantics; the option exists so
     * that tests can prove it.
     * @internal
     */
    readonly implementation?: "fast" | "general" | undefined
  }

  /**
   * What a timeout counted since it was made.
   *
   * @example
   * ```ts
   * import type { Timeout } from "effect-resilience"
   *
   * const stats: Timeout.Timeout.Stats = { timeouts: 2 }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    /** Calls this timeout's deadline ended with a `TimeoutError`. */
    readonly timeouts: number
  }

  /**
   * Options of {@link layer} and {@link layerConfig}: the duration of
   * {@link make} with its options.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface LayerOptions extends Options {
    readonly duration: Duration.DurationInput
  }
}

/**
 * Bounds an effect by `duration`: after it, the effect is interrupted and the
 * call fails with {@link TimeoutError}. `duration` is any `DurationInput`;
 * invalid values (negative, NaN, zero) throw `InvalidOptionsError`. An infinite
 * duration (`Duration.infinity`, `Infinity`, `"Infinity"`) is no timeout: the
 * work runs as it would without it (an enclosing deadline still applies). Any
 * finite duration works, past Node's 2^31−1 ms timer cap too.
 *
 * The deadline is measured on monotonic time (the fiber's `Clock` nanos), so a
 * step of the system's wall clock neither lengthens nor shortens it. It lives
 * as long as the work it wraps: fibers forked inside that outlive the work
 * (daemons) no longer see it.
 *
 * @example
 * ```ts
 * import { Timeout } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const slow = Effect.sleep("10 seconds").pipe(Effect.as("done"))
 * const bounded = slow.pipe(Timeout.make("1 second")) // Effect<string, TimeoutError>
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (duration: Duration.DurationInput, options?: Timeout.Options) => Timeout = internal.make

/**
 * True for timeout policies.
 *
 * @example
 * ```ts
 * import { Retry, Timeout } from "effect-resilience"
 *
 * Timeout.isTimeout(Timeout.make("1 second")) // true
 * Timeout.isTimeout(Retry.policy()) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isTimeout: (u: unknown) => u is Timeout = internal.isTimeout

/**
 * The time left before the deadline of the innermost enclosing timeout, if
 * there is one. Useful to pass a deadline on to a remote call.
 *
 * @example
 * ```ts
 * import { Timeout } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Timeout.remaining.pipe(Timeout.make("2 seconds")) // Some(2 seconds)
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const remaining: Effect.Effect<Option.Option<Duration.Duration>> = internal.remaining

/**
 * Provides a timeout under your own `Context.Tag` (see `Policy.fromTag`).
 * Fails with `InvalidOptionsError` for an invalid duration or option.
 *
 * @example
 * ```ts
 * import { Policy, Timeout } from "effect-resilience"
 * import { Context } from "effect"
 *
 * class DbTimeout extends Context.Tag("app/DbTimeout")<DbTimeout, Policy.Policy<Timeout.TimeoutError>>() {}
 * const live = Timeout.layer(DbTimeout, { duration: "2 seconds", name: "db" })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: <I, S>(
  tag: Context.Tag<I, S>,
  options: Timeout.LayerOptions & ([Timeout] extends [S] ? unknown : never)
) => Layer.Layer<I, InvalidOptionsError> = internal.layer

/**
 * A duration read from `Config` that may also be `"Infinity"` (any case): an
 * infinite timeout-like option means "off" throughout the library, and
 * `Config.duration` itself rejects that spelling. Other values are read as
 * `Config.duration` reads them (`"2 seconds"`, `"500 millis"`).
 *
 * @example
 * ```ts
 * import { Policy, Timeout } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class DbTimeout extends Context.Tag("app/DbTimeout")<DbTimeout, Policy.Policy<Timeout.TimeoutError>>() {}
 * // DB_TIMEOUT=Infinity turns the timeout off
 * const live = Timeout.layerConfig(DbTimeout, {
 *   duration: Timeout.durationConfig("DB_TIMEOUT").pipe(Config.withDefault("2 seconds"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const durationConfig: (name?: string) => Config.Config<Duration.Duration> = internal.durationConfig

/**
 * The `Config` of a timeout's options ({@link Timeout.LayerOptions}), each
 * under its own name: `duration` (required: a `ConfigError` when missing; a
 * string such as `"2 seconds"`, or `"Infinity"` for no timeout), `name`,
 * `disconnect` and `scope` (the table in docs/Options.md#timeout). Nest it
 * to give it a prefix; with `ConfigProvider.constantCase`,
 * `Config.nested(Timeout.config, "db_timeout")` reads `DB_TIMEOUT_DURATION`,
 * `DB_TIMEOUT_NAME`, …
 *
 * @example
 * ```ts
 * import { Policy, Timeout } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class DbTimeout extends Context.Tag("app/DbTimeout")<DbTimeout, Policy.Policy<Timeout.TimeoutError>>() {}
 * // db.duration="2 seconds" db.name=db (or DB_DURATION=… with ConfigProvider.constantCase)
 * const live = Timeout.layerConfig(DbTimeout, Config.nested(Timeout.config, "db"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<Timeout.LayerOptions> = internal.config

/**
 * Makes a timeout with its options read from `Config` ({@link config}, a
 * `Config` of {@link Timeout.LayerOptions} or a record of `Config`s).
 * Missing or malformed values fail with a `ConfigError`; out-of-range ones
 * with `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { Timeout } from "effect-resilience"
 * import { Config, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const timeout = yield* Timeout.fromConfig(Config.nested(Timeout.config, "db"))
 *   return yield* Effect.succeed(1).pipe(timeout)
 * })
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config: Config.Config.Wrap<Timeout.LayerOptions>
) => Effect.Effect<Timeout, InvalidOptionsError | ConfigError.ConfigError> = internal.fromConfig

/**
 * Provides a timeout under your own `Context.Tag` with its options read from
 * `Config`: {@link config} (every option under its own name), or a record of
 * `Config`s with your own names — the duration (e.g.
 * `Config.duration("DB_TIMEOUT")`, or {@link durationConfig}, which also
 * reads `"Infinity"`: no timeout) and any option of {@link make}. Invalid
 * values fail the layer with `InvalidOptionsError`; missing or malformed
 * config with a `ConfigError`.
 *
 * @example
 * ```ts
 * import { Policy, Timeout } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class DbTimeout extends Context.Tag("app/DbTimeout")<DbTimeout, Policy.Policy<Timeout.TimeoutError>>() {}
 * const live = Timeout.layerConfig(DbTimeout, {
 *   duration: Config.duration("DB_TIMEOUT").pipe(Config.withDefault("2 seconds")),
 *   name: Config.succeed("db")
 * })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig: <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<Timeout.LayerOptions> & ([Timeout] extends [S] ? unknown : never)
) => Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> = internal.layerConfig
