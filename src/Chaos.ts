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
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import type * as Stream from "effect/Stream"
import * as EventHub from "./internal/events.js"
import * as userCode from "./internal/userCode.js"
import * as validate from "./internal/validate.js"
import type { Policy, Transform } from "./Policy.js"
import { unsafeMakeCallable, unsafeMakeTransformCallable } from "./internal/policy.js"
import { sleep } from "./internal/time.js"

// ---------------------------------------------------------------------------
// Switch
// ---------------------------------------------------------------------------

/**
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
export const SwitchTypeId: unique symbol = Symbol.for("effect-resilience/Chaos/Switch")

/**
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
 *   return yield* chaos.isEnabled // true
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Switch {
  readonly [SwitchTypeId]: SwitchTypeId
  readonly isEnabled: Effect.Effect<boolean>
  readonly enable: Effect.Effect<void>
  readonly disable: Effect.Effect<void>
  readonly set: (enabled: boolean) => Effect.Effect<void>
}

const switchFromRef = (ref: Ref.Ref<boolean>): Switch => ({
  [SwitchTypeId]: SwitchTypeId,
  isEnabled: Ref.get(ref),
  enable: Ref.set(ref, true),
  disable: Ref.set(ref, false),
  set: (enabled) => Ref.set(ref, enabled)
})

/**
 * Makes a {@link Switch}, on unless `initial` is `false`.
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
export const makeSwitch = (initial: boolean = true): Effect.Effect<Switch> =>
  Effect.map(Ref.make(initial), switchFromRef)

/**
 * Makes a {@link Switch} outside an Effect, e.g. for a module-level pipeline.
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
export const unsafeMakeSwitch = (initial: boolean = true): Switch => switchFromRef(Ref.unsafeMake(initial))

/**
 * Makes a {@link Switch} whose initial state is read from `Config` (e.g. the
 * environment); it can still be flipped afterwards.
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
export const switchFromConfig = (config: Config.Config<boolean>): Effect.Effect<Switch, ConfigError.ConfigError> =>
  Effect.flatMap(config, makeSwitch)

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
export const isSwitch = (u: unknown): u is Switch => Predicate.hasProperty(u, SwitchTypeId)

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
 *   return faults.stats() // { calls: 1, injected: 1 }
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface ChaosMembers {
  /** The policy's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  readonly kind: Kind
  readonly rate: number
  /** Whether the policy is on right now. */
  readonly isEnabled: Effect.Effect<boolean>
  /** The injections, as a `Stream` (one buffer per subscriber). */
  readonly events: Stream.Stream<ChaosEvent>
  /** Counts since creation. */
  readonly stats: () => { readonly calls: number; readonly injected: number }
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
}

const injectedCounter = Metric.counter("resilience_chaos_injected", {
  description: "Injections made by a chaos policy, tagged with the kind",
  incremental: true
})

interface Core {
  readonly name: string
  readonly rate: number
  readonly roll: Effect.Effect<boolean>
  readonly isEnabled: Effect.Effect<boolean>
  readonly descriptorEnabled: string | boolean
}

const makeCore = (m: string, options: Chaos.Options): Core => {
  const rate = validate.number(m, "rate", options.rate, { min: 0, max: 1 })
  const name = options.name === undefined ? "chaos" : validate.nonEmptyString(m, "name", options.name)
  const enabled = options.enabled === undefined ? true : options.enabled
  let isEnabled: Effect.Effect<boolean>
  let descriptorEnabled: string | boolean
  if (typeof enabled === "boolean") {
    isEnabled = Effect.succeed(enabled)
    descriptorEnabled = enabled
  } else if (isSwitch(enabled)) {
    isEnabled = enabled.isEnabled
    descriptorEnabled = "switch"
  } else if (Effect.isEffect(enabled)) {
    // user code: an `enabled` Effect that fails, dies, answers a non-boolean or runs past
    // DEFAULT_HOOK_TIMEOUT_MILLIS is reported and answers false (nothing injected)
    const enabledSite = userCode.site("Chaos", name, "enabled", "nothing injected")
    isEnabled = userCode.awaitHook(
      enabledSite,
      enabled,
      userCode.DEFAULT_HOOK_TIMEOUT_MILLIS,
      Predicate.isBoolean,
      () => false
    )
    descriptorEnabled = "effect"
  } else {
    throw validate.invalid(m, "enabled", enabled, "a boolean, a Chaos.Switch or an Effect<boolean>")
  }
  const draw: Effect.Effect<boolean> = rate >= 1
    ? Effect.succeed(true)
    : rate <= 0
    ? Effect.succeed(false)
    : Effect.map(Random.next, (r) => r < rate)
  // Stryker disable next-line ConditionalExpression,BooleanLiteral: equivalent: fast paths for a constant `enabled`; the general path over `Effect.succeed(enabled)` gives the same results and the same Random draws
  const roll = enabled === true ? draw : enabled === false ? Effect.succeed(false) : Effect.flatMap(
    isEnabled,
    (on) => (on ? draw : Effect.succeed(false))
  )
  return { name, rate, roll, isEnabled, descriptorEnabled }
}

const build = (
  m: string,
  kind: Kind,
  options: Chaos.Options,
  describe: Readonly<Record<string, unknown>>,
  inject: (
    self: Effect.Effect<any, any, any>,
    report: (delay?: Duration.Duration) => Effect.Effect<void>,
    name: string
  ) => Effect.Effect<any, any, any>,
  transform: boolean
): any => {
  const core = makeCore(m, options)
  const hub = EventHub.make<ChaosEvent>()
  const counter = injectedCounter.pipe(Metric.tagged("policy", core.name), Metric.tagged("kind", kind))
  let calls = 0
  let injected = 0
  const report = (delay?: Duration.Duration): Effect.Effect<void> =>
    Effect.suspend(() => {
      injected++
      // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
      if (hub.hasSubscribers()) {
        hub.emit(delay === undefined ? { _tag: "ChaosInjected", policy: core.name, kind } : {
          _tag: "ChaosInjected",
          policy: core.name,
          kind,
          delay
        })
      }
      return Metric.increment(counter)
    })
  const run = (self: Effect.Effect<any, any, any>) =>
    Effect.flatMap(core.roll, (yes) => {
      calls++
      return yes ? inject(self, report, core.name) : self
    })
  const members = Object.assign(run, {
    policyName: core.name,
    kind,
    rate: core.rate,
    isEnabled: core.isEnabled,
    events: hub.stream,
    stats: () => ({ calls, injected })
  })
  const descriptor = {
    kind: "Chaos",
    name: core.name,
    options: { kind, rate: core.rate, enabled: core.descriptorEnabled, ...describe }
  }
  return transform ? unsafeMakeTransformCallable(members, descriptor) : unsafeMakeCallable(members, descriptor)
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
export const fault = <E2>(
  options: Chaos.Options & { readonly error: E2 | (() => E2) }
): Chaos<E2> => {
  const m = "Chaos.fault"
  options = validate.options(m, options)
  if (!("error" in options)) throw validate.invalid(m, "error", undefined, "an error or a function returning one")
  const error = options.error
  if (typeof error !== "function") {
    return build(m, "Fault", options, {}, (_self, report) => Effect.zipRight(report(), Effect.fail(error)), false)
  }
  // user code: an error factory that throws is reported and nothing is injected (the call runs)
  let errorSite: userCode.Site | undefined
  return build(m, "Fault", options, {}, (self, report, name) =>
    Effect.suspend(() => {
      errorSite ??= userCode.site("Chaos", name, "error", "nothing injected (the call runs)")
      const made = userCode.call(errorSite, error as () => unknown, undefined, isAnything, noFault)
      return made === NO_FAULT ? self : Effect.zipRight(report(), Effect.fail(made as E2))
    }), false)
}

const NO_FAULT: unique symbol = Symbol.for("effect-resilience/Chaos/NoFault")
const noFault = (): typeof NO_FAULT => NO_FAULT
const isAnything = (_: unknown): _ is unknown => true

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
export const latency = (
  options: Chaos.Options & { readonly delay: Duration.DurationInput | Chaos.Range }
): Chaos => {
  const m = "Chaos.latency"
  options = validate.options(m, options)
  const delay = options.delay
  let draw: Effect.Effect<Duration.Duration>
  let described: unknown
  // a range: { min, max } (either missing is named as missing)
  if (Predicate.isObject(delay) && ("min" in delay || "max" in delay) && !Duration.isDuration(delay)) {
    const range = delay as Partial<Chaos.Range>
    const min = Duration.toMillis(validate.duration(m, "delay.min", range.min, { allowZero: true }))
    const max = Duration.toMillis(validate.duration(m, "delay.max", range.max, { allowZero: true }))
    if (max < min) throw validate.invalid(m, "delay.max", range.max, `a duration >= delay.min (${Duration.format(Duration.millis(min))})`)
    draw = max === min
      ? Effect.succeed(Duration.millis(min))
      : Effect.map(Random.nextRange(min, max), (ms) => Duration.millis(ms))
    described = { min: Duration.format(Duration.millis(min)), max: Duration.format(Duration.millis(max)) }
  } else {
    const d = validate.duration(m, "delay", delay, { allowZero: true })
    draw = Effect.succeed(d)
    described = Duration.format(d)
  }
  return build(
    m,
    "Latency",
    options,
    { delay: described },
    (self, report) => Effect.flatMap(draw, (d) => Effect.zipRight(Effect.zipRight(report(d), sleep(d)), self)),
    false
  )
}

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
export const outcome = <A2>(options: Chaos.Options & { readonly value: A2 }): ChaosTransform<A2> => {
  const m = "Chaos.outcome"
  options = validate.options(m, options)
  if (!("value" in options)) throw validate.invalid(m, "value", undefined, "a value")
  const value = options.value
  return build(m, "Outcome", options, {}, (_self, report) => Effect.as(report(), value), true)
}

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
export const behavior = <E2 = never, R2 = never>(
  options: Chaos.Options & { readonly effect: Effect.Effect<unknown, E2, R2> }
): Chaos<E2, R2> => {
  const m = "Chaos.behavior"
  options = validate.options(m, options)
  const effect = options.effect
  if (!Effect.isEffect(effect)) throw validate.invalid(m, "effect", effect, "an Effect")
  return build(m, "Behavior", options, {}, (self, report) => Effect.zipRight(Effect.zipRight(report(), effect), self), false)
}
