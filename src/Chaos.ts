/**
 * Chaos engineering as policies (Polly's Simmy is the model): inject faults,
 * latency, outcomes and extra behaviour into a fraction of calls, to check
 * that the rest of a pipeline copes.
 *
 * - {@link fault}: fail with your error instead of calling (adds its type).
 * - {@link latency}: wait before calling (a fixed delay or a random range).
 * - {@link outcome}: succeed with your value instead of calling (a
 *   `Transform`: the value's type joins the success type).
 * - {@link behavior}: run an effect before calling (e.g. drop a cache).
 *
 * Every chaos policy injects into a `rate` of the calls, decided by Effect's
 * `Random` — so `Effect.withRandom(Random.make(seed))` reproduces a run — and
 * only while `enabled`: a constant, a {@link Switch} flipped at run time, an
 * `Effect<boolean>` read per call (a `Ref`, a `FiberRef`), or a switch read
 * from `Config` ({@link switchFromConfig}).
 *
 * Chaos belongs innermost, next to the call, so that every policy outside it
 * sees the injected trouble as if the dependency caused it:
 * `Policy.compose(Policy.pipeline({ … }), Chaos.fault({ … }))`.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import type { InvalidOptionsError } from "./Errors.js"
import * as internal from "./internal/chaos/chaos.js"
import * as switch_ from "./internal/chaos/switch.js"
import type { Policy, Transform } from "./Policy.js"

// ---------------------------------------------------------------------------
// Type IDs
// ---------------------------------------------------------------------------

/**
 * The type id every chaos policy and transform carries (see {@link isChaos}).
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 *
 * Chaos.TypeId in Chaos.fault({ rate: 0.1, error: "boom" }) // true
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
 * import type { Chaos } from "effect-resilience"
 *
 * type Id = Chaos.TypeId
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

// ---------------------------------------------------------------------------
// Switch
// ---------------------------------------------------------------------------

/**
 * The unique symbol that marks the values of this module (`SwitchTypeId in value`).
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 *
 * const s = Chaos.unsafeMakeSwitch()
 * Chaos.SwitchTypeId in s // true
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const SwitchTypeId: unique symbol = switch_.SwitchTypeId

/**
 * The type of {@link SwitchTypeId}.
 *
 * @example
 * ```ts
 * import type { Chaos } from "effect-resilience"
 *
 * type Id = Chaos.SwitchTypeId
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type SwitchTypeId = typeof SwitchTypeId

/**
 * Turns chaos policies on and off at run time. One switch can drive many
 * policies (pass it as their `enabled`).
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const chaos: Chaos.Switch = yield* Chaos.makeSwitch(false)
 *   yield* chaos.set(true)
 *   return yield* chaos.isEnabled() // true
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Switch {
  readonly [SwitchTypeId]: SwitchTypeId
  /** Whether the switch is on now. */
  readonly isEnabled: () => Effect.Effect<boolean>
  /** {@link Switch.isEnabled} read synchronously: the form for hot paths and plain functions. */
  readonly unsafeIsEnabled: () => boolean
  readonly enable: Effect.Effect<void>
  readonly disable: Effect.Effect<void>
  readonly set: (enabled: boolean) => Effect.Effect<void>
}

/**
 * Makes a {@link Switch}, on unless `initial` is `false`. Fails with
 * `InvalidOptionsError` when `initial` is given and is not a boolean.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 * import { Data, Effect } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 *
 * const program = Effect.gen(function*() {
 *   const chaos = yield* Chaos.makeSwitch(false)
 *   const faults = Chaos.fault({ rate: 0.2, error: new Unavailable(), enabled: chaos })
 *   const call = Effect.succeed("ok").pipe(faults)
 *   yield* call // never injected: the switch is off
 *   yield* chaos.enable
 *   yield* call // now 20% of calls fail
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const makeSwitch: (initial?: boolean | undefined) => Effect.Effect<Switch, InvalidOptionsError> = switch_.makeSwitch

/**
 * Makes a {@link Switch} outside an Effect, e.g. for a module-level pipeline.
 * Throws `InvalidOptionsError` when `initial` is given and is not a boolean.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 *
 * export const chaosSwitch = Chaos.unsafeMakeSwitch(false)
 * export const slowDown = Chaos.latency({ rate: 0.1, delay: "2 seconds", enabled: chaosSwitch })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const unsafeMakeSwitch: (initial?: boolean | undefined) => Switch = switch_.unsafeMakeSwitch

/**
 * Makes a {@link Switch} whose initial state is read from `Config` (e.g. the
 * environment); it can still be flipped afterwards. Fails with the
 * `ConfigError`, or with `InvalidOptionsError` for a value that is not a
 * boolean.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 * import { Config } from "effect"
 *
 * const chaosSwitch = Chaos.switchFromConfig(Config.boolean("CHAOS_ENABLED").pipe(Config.withDefault(false)))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const switchFromConfig: (
  config: Config.Config<boolean>
) => Effect.Effect<Switch, ConfigError.ConfigError | InvalidOptionsError> = switch_.switchFromConfig

/**
 * True for a {@link Switch}.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 *
 * Chaos.isSwitch(Chaos.unsafeMakeSwitch()) // true
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isSwitch: (u: unknown) => u is Switch = switch_.isSwitch

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * What decides whether a chaos policy is on: a constant, a {@link Switch},
 * or an effect read on every call (a `Ref`, a `FiberRef`, …). An effect that
 * fails, dies, answers anything but a boolean or runs longer than 1 second
 * means "off" for that call (reported; see "User code" in the docs). An
 * effect costs a fiber per call: prefer a {@link Switch} on hot paths.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 * import { FiberRef } from "effect"
 *
 * const inChaosTest = FiberRef.unsafeMake(false)
 * const enabled: Chaos.Enabled = FiberRef.get(inChaosTest)
 * const faults = Chaos.fault({ rate: 0.5, error: "boom", enabled })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type Enabled = boolean | Switch | Effect.Effect<boolean>

/**
 * The kinds of injection.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 *
 * const kind: Chaos.Kind = Chaos.latency({ rate: 0.1, delay: "1 second" }).kind // "Latency"
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type Kind = "Fault" | "Latency" | "Outcome" | "Behavior"

/**
 * An injection, as seen on a policy's `events`.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const slow = Chaos.latency({ rate: 0.1, delay: { min: "100 millis", max: "1 second" } })
 * const logInjections = slow.events.pipe(
 *   Stream.runForEach((e: Chaos.ChaosEvent) => Effect.log(`${e.kind} injected`, e.delay))
 * )
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface ChaosEvent {
  readonly _tag: "ChaosInjected"
  readonly policy: string
  readonly kind: Kind
  /** The injected delay, for latency. */
  readonly delay?: Duration.Duration | undefined
}

/**
 * What every chaos policy and transform offers besides being callable.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const faults = Chaos.fault({ rate: 1, error: "boom", name: "always" })
 * const program = Effect.gen(function*() {
 *   yield* Effect.either(Effect.void.pipe(faults))
 *   return yield* faults.stats() // { calls: 1, injected: 1 }
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface ChaosMembers {
  readonly [TypeId]: TypeId
  /** The policy's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  readonly kind: Kind
  readonly rate: number
  /** Whether the policy is on right now (its `enabled`, read as a call reads it). */
  readonly isEnabled: () => Effect.Effect<boolean>
  /** The injections, as a `Stream` (one buffer per subscriber). */
  readonly events: Stream.Stream<ChaosEvent>
  /** Counts since creation, as a snapshot. */
  readonly stats: () => Effect.Effect<Chaos.Stats>
  /** {@link ChaosMembers.stats} read synchronously: the form for hot paths and plain functions. */
  readonly unsafeStats: () => Chaos.Stats
}

/**
 * A chaos policy: may add the errors `E2` and the requirements `R2`.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 * import { Data } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 * const faults: Chaos.Chaos<Unavailable> = Chaos.fault({ rate: 0.1, error: new Unavailable() })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Chaos<out E2 = never, out R2 = never> extends Policy<E2, R2>, ChaosMembers {}

/**
 * A chaos transform: may replace the call's result with an `A2`.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 *
 * const fake: Chaos.ChaosTransform<string> = Chaos.outcome({ rate: 0.1, value: "fake" })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface ChaosTransform<out A2> extends Transform<A2, never>, ChaosMembers {}

/**
 * The types that go with {@link Chaos}.
 *
 * @since 0.1.0
 */
export declare namespace Chaos {
  /**
   * Options shared by every chaos policy.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Options {
    /** The fraction of calls to inject into: a number in [0, 1]. */
    readonly rate: number
    /** Whether to inject at all (see {@link Enabled}). Defaults to `true`. */
    readonly enabled?: Enabled | undefined
    /** A name for metrics, events and descriptors. Defaults to `"chaos"`. */
    readonly name?: string | undefined
  }

  /**
   * A random delay, uniform in `[min, max]`.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Range {
    readonly min: Duration.DurationInput
    readonly max: Duration.DurationInput
  }

  /**
   * What a chaos policy did since it was made.
   *
   * @example
   * ```ts
   * import { Chaos } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const faults = Chaos.fault({ rate: 0.5, error: "boom" })
   * const program = Effect.gen(function*() {
   *   yield* Effect.either(Effect.void.pipe(faults))
   *   const stats: Chaos.Chaos.Stats = yield* faults.stats()
   *   return stats.injected / stats.calls
   * })
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    /** Calls made through the policy. */
    readonly calls: number
    /** Calls injected into. */
    readonly injected: number
  }
}

// ---------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------

/**
 * Fault injection: a `rate` of the calls fail with `error` (a value, or a
 * function called per injection) instead of running. Adds the error's type.
 * A function that throws injects nothing: the call runs (reported; see "User
 * code" in the docs).
 * Throws `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Chaos, Policy, Retry } from "effect-resilience"
 * import { Data, Effect, Random } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 *
 * const policy = Policy.compose(
 *   Retry.policy({ schedule: Retry.constant("10 millis"), times: 3 }),
 *   Chaos.fault({ rate: 0.3, error: () => new Unavailable() }) // innermost
 * )
 * const program = Effect.succeed("ok").pipe(policy, Effect.withRandom(Random.make(42))) // Effect<string, Unavailable>
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const fault: <E2>(options: Chaos.Options & { readonly error: E2 | (() => E2) }) => Chaos<E2> = internal.fault

/**
 * Latency injection: a `rate` of the calls wait `delay` (or a uniformly
 * random delay in `[min, max]`, drawn from Effect's `Random`) before running.
 * The wait is interruptible, so an outer timeout cuts it short. Throws
 * `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Chaos, Timeout, Policy } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const policy = Policy.compose(
 *   Timeout.make("1 second"),
 *   Chaos.latency({ rate: 0.1, delay: { min: "500 millis", max: "3 seconds" } })
 * )
 * const program = Effect.succeed("ok").pipe(policy) // about 6% of calls time out
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const latency: (
  options: Chaos.Options & { readonly delay: Duration.DurationInput | Chaos.Range }
) => Chaos = internal.latency

/**
 * Outcome injection: a `rate` of the calls succeed with `value` instead of
 * running (e.g. an empty result, a stale record). A `Transform`: the value's
 * type joins the success type. Throws `InvalidOptionsError` for invalid
 * options.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const emptyResults = Chaos.outcome({ rate: 0.05, value: [] as ReadonlyArray<string> })
 * const search: Effect.Effect<ReadonlyArray<string>> = Effect.succeed(["a", "b"])
 * const program = search.pipe(emptyResults) // Effect<ReadonlyArray<string>>
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const outcome: <A2>(options: Chaos.Options & { readonly value: A2 }) => ChaosTransform<A2> = internal.outcome

/**
 * Behaviour injection: a `rate` of the calls run `effect` first (e.g. drop a
 * cache, kill a connection, write a log line), then the call. If `effect`
 * fails, the call does not run and the failure is the caller's (its type is
 * added). Throws `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 * import { Effect, Ref } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const cache = yield* Ref.make(new Map<string, string>())
 *   const dropCache = Chaos.behavior({ rate: 0.01, effect: Ref.set(cache, new Map()) })
 *   return yield* Effect.succeed("ok").pipe(dropCache)
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const behavior: <E2 = never, R2 = never>(
  options: Chaos.Options & { readonly effect: Effect.Effect<unknown, E2, R2> }
) => Chaos<E2, R2> = internal.behavior

/**
 * True for a chaos policy or transform ({@link fault}, {@link latency},
 * {@link outcome}, {@link behavior}); its `kind` says which.
 *
 * @example
 * ```ts
 * import { Chaos, Timeout } from "effect-resilience"
 *
 * Chaos.isChaos(Chaos.latency({ rate: 0.1, delay: "1 second" })) // true
 * Chaos.isChaos(Timeout.make("1 second")) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isChaos: (u: unknown) => u is Chaos<unknown, unknown> | ChaosTransform<unknown> = internal.isChaos

// ---------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------

/**
 * The options of a chaos policy that are data, as read from `Config` (the
 * environment): `rate` (required), `enabled` (the initial state, a
 * boolean), `name`, and a latency's `delay` — a duration (`delay="2
 * seconds"`) or a uniform range (`delay.min`, `delay.max`). What else to
 * inject is code ({@link CodeOptions}). Defaults and ranges:
 * docs/Options.md#chaos.
 *
 * @since 0.2.0
 * @category Models
 */
export interface ConfigOptions {
  /** The fraction of calls to inject into: a number in [0, 1]. */
  readonly rate: number
  /** Whether to inject at all. Defaults to `true`. */
  readonly enabled?: boolean | undefined
  /** Defaults to `"chaos"`. */
  readonly name?: string | undefined
  /** A latency's delay (only when the code injects no error, value or effect). */
  readonly delay?: Duration.DurationInput | Chaos.Range | undefined
}

/**
 * The options of a chaos policy that are code, given beside its
 * {@link ConfigOptions} to {@link fromConfig} and {@link layerConfig}: what
 * to inject — an `error` ({@link fault}), a `value` ({@link outcome}) or an
 * `effect` ({@link behavior}); with none of them, a latency of the `delay`
 * read from `Config` — and `enabled` as a {@link Switch} or an `Effect`
 * (replacing the boolean read from `Config`).
 *
 * @since 0.2.0
 * @category Models
 */
export type CodeOptions<E2 = unknown, A2 = unknown, R2 = never> =
  | { readonly error: E2 | (() => E2); readonly enabled?: Enabled | undefined }
  | { readonly value: A2; readonly enabled?: Enabled | undefined }
  | { readonly effect: Effect.Effect<unknown, E2, R2>; readonly enabled?: Enabled | undefined }
  | { readonly enabled?: Enabled | undefined }

/**
 * The `Config` of a chaos policy's data options ({@link ConfigOptions}),
 * each under its own name (`rate` required: a `ConfigError` when missing;
 * the table in docs/Options.md#chaos). Nest it to give it a prefix; with
 * `ConfigProvider.constantCase`, `Config.nested(Chaos.config, "chaos")`
 * reads `CHAOS_RATE`, `CHAOS_ENABLED`, `CHAOS_DELAY` (or `CHAOS_DELAY_MIN`
 * and `CHAOS_DELAY_MAX`), …
 *
 * @example
 * ```ts
 * import { Chaos, Policy } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class SlowDown extends Context.Tag("app/SlowDown")<SlowDown, Policy.Policy>() {}
 * // chaos.rate=0.1 chaos.delay.min="100 millis" chaos.delay.max="2 seconds"
 * const live = Chaos.layerConfig(SlowDown, Config.nested(Chaos.config, "chaos"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<ConfigOptions> = internal.config

/**
 * Makes a chaos policy with its data options read from `Config`
 * ({@link config}, a `Config` of {@link ConfigOptions} or a record of
 * `Config`s) and what to inject given as code: `{ error }` makes a
 * {@link fault}, `{ value }` an {@link outcome}, `{ effect }` a
 * {@link behavior}; without them, a {@link latency} of the `delay` read
 * from `Config`. Missing or malformed values fail with a `ConfigError`;
 * out-of-range ones with `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 * import { Config, Data, Effect } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 *
 * const program = Effect.gen(function*() {
 *   // CHAOS_RATE=0.2 CHAOS_ENABLED=false
 *   const faults = yield* Chaos.fromConfig(Config.nested(Chaos.config, "chaos"), { error: () => new Unavailable() })
 *   return yield* Effect.succeed("ok").pipe(faults) // Effect<string, Unavailable>
 * })
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: {
  <E2>(
    config: Config.Config.Wrap<ConfigOptions>,
    code: { readonly error: E2 | (() => E2); readonly enabled?: Enabled | undefined }
  ): Effect.Effect<Chaos<E2>, InvalidOptionsError | ConfigError.ConfigError>
  <A2>(
    config: Config.Config.Wrap<ConfigOptions>,
    code: { readonly value: A2; readonly enabled?: Enabled | undefined }
  ): Effect.Effect<ChaosTransform<A2>, InvalidOptionsError | ConfigError.ConfigError>
  <E2 = never, R2 = never>(
    config: Config.Config.Wrap<ConfigOptions>,
    code: { readonly effect: Effect.Effect<unknown, E2, R2>; readonly enabled?: Enabled | undefined }
  ): Effect.Effect<Chaos<E2, R2>, InvalidOptionsError | ConfigError.ConfigError>
  (
    config: Config.Config.Wrap<ConfigOptions>,
    code?: { readonly enabled?: Enabled | undefined }
  ): Effect.Effect<Chaos, InvalidOptionsError | ConfigError.ConfigError>
} = internal.fromConfig as any

/**
 * Provides a chaos policy under your own `Context.Tag` (see
 * `Policy.fromTag`) with its data options read from `Config` and what to
 * inject given as code, as {@link fromConfig} makes it. Invalid values fail
 * the layer with `InvalidOptionsError`; missing or malformed config with a
 * `ConfigError`.
 *
 * @example
 * ```ts
 * import { Chaos, Policy } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class Faults extends Context.Tag("app/Faults")<Faults, Policy.Policy<string>>() {}
 * const live = Chaos.layerConfig(Faults, {
 *   rate: Config.number("FAULT_RATE").pipe(Config.withDefault(0)),
 *   enabled: Config.boolean("CHAOS").pipe(Config.withDefault(false))
 * }, { error: "injected" })
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const layerConfig: <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<ConfigOptions>,
  code?: CodeOptions<any, any, any>
) => Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> = internal.layerConfig
