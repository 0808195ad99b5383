/**
 * The chaos policies: {@link ChaosImpl} decides per call whether to inject
 * (the switch, then a draw from `Random` against the rate), counts and
 * reports injections; each kind ({@link Fault}, {@link FaultFrom},
 * {@link Latency}, {@link Outcome}, {@link Behavior}) says what an injection
 * does.
 *
 * @internal
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import type * as Chaos from "../../Chaos.js"
import type { InvalidOptionsError } from "../errors.js"
import * as EventHub from "../events.js"
import * as metricKeys from "../metricKeys.js"
import { unsafeMakeCallable, unsafeMakeTransformCallable } from "../policy.js"
import * as Spec from "../spec.js"
import { sleep } from "../time.js"
import * as userCode from "../userCode.js"
import * as validate from "../validate.js"
import * as options_ from "./options.js"
import { isSwitch } from "./switch.js"

type Kind = Chaos.Kind
type ChaosEvent = Chaos.ChaosEvent
type AnyEffect = Effect.Effect<any, any, any>

/** @internal */
export const TypeId: Chaos.TypeId = Symbol.for("effect-resilience/Chaos") as Chaos.TypeId

/** @internal */
export const isChaos = (u: unknown): u is Chaos.Chaos<unknown, unknown> | Chaos.ChaosTransform<unknown> =>
  Predicate.hasProperty(u, TypeId)

const injectedKey = MetricKey.counter("resilience_chaos_injected", {
  description: "Injections made by a chaos policy, tagged with the kind",
  incremental: true
})

/**
 * What every chaos policy shares: whether a call is injected into, and the
 * counters, metric and events of its injections. A subclass says what an
 * injection does ({@link ChaosImpl.inject}).
 *
 * @internal
 */
export abstract class ChaosImpl {
  readonly name: string
  readonly rate: number
  readonly hub = EventHub.make<ChaosEvent>()
  calls = 0
  injected = 0
  /** Whether the policy is on right now (`enabled`, read as the policy reads it). */
  readonly isEnabled: Effect.Effect<boolean>
  /** How `enabled` is given, for the descriptor. */
  readonly describedEnabled: string | boolean
  /** Whether this call is injected into: the switch, then a draw against `rate`. */
  readonly roll: Effect.Effect<boolean>
  /** Counts and reports an injection (no delay). */
  readonly report: Effect.Effect<void>
  private readonly counter: Metric.Metric.Counter<number>
  /** The event of an injection without a delay, built once (no closure per injection). */
  private readonly event: () => ChaosEvent

  constructor(readonly kind: Kind, common: options_.Common) {
    const name = common.name
    const enabled = common.enabled
    this.name = name
    this.rate = common.rate
    this.counter = metricKeys.tagged(injectedKey, [["policy", name], ["kind", kind]])
    this.event = () => ({ _tag: "ChaosInjected", policy: name, kind })
    this.report = Effect.suspend(() => this.count(this.event))
    if (typeof enabled === "boolean") {
      this.isEnabled = Effect.succeed(enabled)
      this.describedEnabled = enabled
    } else if (isSwitch(enabled)) {
      this.isEnabled = enabled.isEnabled()
      this.describedEnabled = "switch"
    } else {
      // user code: an `enabled` Effect that fails, dies, answers a non-boolean or runs past
      // DEFAULT_HOOK_TIMEOUT_MILLIS is reported and answers false (nothing injected)
      const enabledSite = userCode.site("Chaos", name, "enabled", "nothing injected")
      this.isEnabled = userCode.awaitHook(
        enabledSite,
        enabled,
        userCode.DEFAULT_HOOK_TIMEOUT_MILLIS,
        Predicate.isBoolean,
        () => false
      )
      this.describedEnabled = "effect"
    }
    const rate = common.rate
    const draw: Effect.Effect<boolean> = rate >= 1
      ? Effect.succeed(true)
      : rate <= 0
      ? Effect.succeed(false)
      : Effect.map(Random.next, (r) => r < rate)
    // Stryker disable next-line ConditionalExpression,BooleanLiteral: equivalent: fast paths for a constant `enabled`; the general path over `Effect.succeed(enabled)` gives the same results and the same Random draws
    this.roll = enabled === true ? draw : enabled === false ? Effect.succeed(false) : Effect.flatMap(
      this.isEnabled,
      (on) => (on ? draw : Effect.succeed(false))
    )
  }

  /** The policy: injects into the call, or runs it as is. */
  apply(self: AnyEffect): AnyEffect {
    return Effect.flatMap(this.roll, (yes) => {
      this.calls++
      return yes ? this.inject(self) : self
    })
  }

  /** What an injected call does instead of (or before) `self`. */
  abstract inject(self: AnyEffect): AnyEffect

  /** Counts an injection and reports `event` when someone listens; the effect updates the metric. */
  protected count(event: () => ChaosEvent): Effect.Effect<void> {
    this.injected++
    this.hub.emitWith(event)
    return Metric.increment(this.counter)
  }

  /** The counters, as a snapshot (the hot-path form of `stats()`). */
  unsafeStats(): Chaos.Chaos.Stats {
    return { calls: this.calls, injected: this.injected }
  }
}

/** Fault injection with an error value: fails with it instead of calling. */
class Fault extends ChaosImpl {
  private readonly injection: AnyEffect
  constructor(common: options_.Common, error: unknown) {
    super("Fault", common)
    this.injection = Effect.zipRight(this.report, Effect.fail(error))
  }
  inject(_self: AnyEffect): AnyEffect {
    return this.injection
  }
}

const NO_FAULT: unique symbol = Symbol.for("effect-resilience/Chaos/NoFault")
const noFault = (): typeof NO_FAULT => NO_FAULT
const isAnything = (_: unknown): _ is unknown => true

/** Fault injection with an error factory, called per injection; one that throws injects nothing. */
class FaultFrom extends ChaosImpl {
  // user code: an error factory that throws is reported and nothing is injected (the call runs)
  private readonly errorSite: userCode.Site
  constructor(common: options_.Common, private readonly error: () => unknown) {
    super("Fault", common)
    this.errorSite = userCode.site("Chaos", common.name, "error", "nothing injected (the call runs)")
  }
  inject(self: AnyEffect): AnyEffect {
    return Effect.suspend(() => {
      const made = userCode.call(this.errorSite, this.error, undefined, isAnything, noFault)
      return made === NO_FAULT ? self : Effect.zipRight(this.report, Effect.fail(made))
    })
  }
}

/** Latency injection: waits a fixed or random delay (interruptibly), then calls. */
class Latency extends ChaosImpl {
  private readonly draw: Effect.Effect<Duration.Duration>
  constructor(common: options_.Common, delay: options_.Delay) {
    super("Latency", common)
    this.draw = delay._tag === "Fixed"
      ? Effect.succeed(delay.delay)
      : delay.max === delay.min
      ? Effect.succeed(Duration.millis(delay.min))
      : Effect.map(Random.nextRange(delay.min, delay.max), (ms) => Duration.millis(ms))
  }
  inject(self: AnyEffect): AnyEffect {
    return Effect.flatMap(this.draw, (d) => Effect.zipRight(Effect.zipRight(this.reportDelay(d), sleep(d)), self))
  }
  private reportDelay(delay: Duration.Duration): Effect.Effect<void> {
    const { name, kind } = this
    return Effect.suspend(() => this.count(() => ({ _tag: "ChaosInjected", policy: name, kind, delay })))
  }
}

/** Outcome injection: succeeds with a value instead of calling. */
class Outcome extends ChaosImpl {
  private readonly injection: AnyEffect
  constructor(common: options_.Common, value: unknown) {
    super("Outcome", common)
    this.injection = Effect.as(this.report, value)
  }
  inject(_self: AnyEffect): AnyEffect {
    return this.injection
  }
}

/** Behaviour injection: runs an effect, then the call (not when the effect fails). */
class Behavior extends ChaosImpl {
  private readonly before: AnyEffect
  constructor(common: options_.Common, effect: AnyEffect) {
    super("Behavior", common)
    this.before = Effect.zipRight(this.report, effect)
  }
  inject(self: AnyEffect): AnyEffect {
    return Effect.zipRight(this.before, self)
  }
}

/** The callable policy (or transform) around `impl`. */
const callable = (impl: ChaosImpl, describe: Readonly<Record<string, unknown>>, transform: boolean): any => {
  // bound once: the policy calls the implementation directly
  const run = (self: AnyEffect) => impl.apply(self)
  const stats = Effect.sync(() => impl.unsafeStats())
  const members = Object.assign(run, {
    [TypeId]: TypeId,
    policyName: impl.name,
    kind: impl.kind,
    rate: impl.rate,
    isEnabled: () => impl.isEnabled,
    events: impl.hub.stream,
    stats: () => stats,
    unsafeStats: () => impl.unsafeStats()
  })
  const descriptor = {
    kind: "Chaos",
    name: impl.name,
    options: { kind: impl.kind, rate: impl.rate, enabled: impl.describedEnabled, ...describe }
  }
  return transform ? unsafeMakeTransformCallable(members, descriptor) : unsafeMakeCallable(members, descriptor)
}

/** @internal */
export const fault = <E2>(options: Chaos.Chaos.Options & { readonly error: E2 | (() => E2) }): Chaos.Chaos<E2> => {
  options_.present(options_.faultSpec, options, "error")
  const r = options_.faultSpec.resolve(options)
  const error = r.error
  const impl = typeof error === "function" ? new FaultFrom(r, error as () => unknown) : new Fault(r, error)
  return callable(impl, {}, false)
}

/** @internal */
export const latency = (
  options: Chaos.Chaos.Options & { readonly delay: Duration.DurationInput | Chaos.Chaos.Range }
): Chaos.Chaos => {
  const r = options_.latencySpec.resolve(options)
  const delay = r.delay
  const described = delay._tag === "Fixed"
    ? Duration.format(delay.delay)
    : { min: Duration.format(Duration.millis(delay.min)), max: Duration.format(Duration.millis(delay.max)) }
  return callable(new Latency(r, delay), { delay: described }, false)
}

/** @internal */
export const outcome = <A2>(options: Chaos.Chaos.Options & { readonly value: A2 }): Chaos.ChaosTransform<A2> => {
  options_.present(options_.outcomeSpec, options, "value")
  const r = options_.outcomeSpec.resolve(options)
  return callable(new Outcome(r, r.value), {}, true)
}

/** @internal */
export const behavior = <E2 = never, R2 = never>(
  options: Chaos.Chaos.Options & { readonly effect: Effect.Effect<unknown, E2, R2> }
): Chaos.Chaos<E2, R2> => {
  const r = options_.behaviorSpec.resolve(options)
  return callable(new Behavior(r, r.effect), {}, false)
}

/** @internal */
export const config: Config.Config<Chaos.ConfigOptions> = options_.configSpec.config as Config.Config<any>

/** @internal */
export const fromConfig = (
  config: Config.Config.Wrap<Chaos.ConfigOptions>,
  code?: Chaos.CodeOptions,
  module = "Chaos.fromConfig"
): Effect.Effect<any, InvalidOptionsError | ConfigError.ConfigError> =>
  Effect.flatMap(
    Spec.readConfig<any>(options_.configSpec, module, config, code),
    (options) =>
      validate.validated(() => {
        switch (options_.kindOf(options)) {
          case "error":
            return fault(options)
          case "value":
            return outcome(options)
          case "effect":
            return behavior(options)
          default:
            return latency(options)
        }
      })
  )

/** @internal */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<Chaos.ConfigOptions>,
  code?: Chaos.CodeOptions
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.effect(tag, fromConfig(config, code, "Chaos.layerConfig") as Effect.Effect<S, InvalidOptionsError | ConfigError.ConfigError>)
