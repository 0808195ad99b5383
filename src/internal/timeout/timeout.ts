/**
 * Timeouts: `make` builds the policy (a callable around a `TimeoutImpl`),
 * which runs the work under a deadline with the fast path (fastPath.ts) or,
 * for tests, Effect's race; `remaining`, the layers and `durationConfig`.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type { InvalidOptionsError } from "../../Errors.js"
import { TimeoutError } from "../errors.js"
import type * as Timeout from "../../Timeout.js"
import { active, currentDeadline, type Deadline, type DeadlineOwner, expired, reportExpired, timeoutInterruptor } from "../deadline.js"
import { detached } from "../detached.js"
import * as EventHub from "../events.js"
import * as metricKeys from "../metricKeys.js"
import { unsafeMakeCallable } from "../policy.js"
import { currentMonotonicMillis, monotonicMillis, sleep } from "../time.js"
import * as Spec from "../spec.js"
import * as validate from "../validate.js"
import * as options_ from "./options.js"
import { type FastTimeout, makeFastTimeout } from "./fastPath.js"

/** @internal */
export const TypeId: Timeout.TypeId = Symbol.for("effect-resilience/Timeout") as Timeout.TypeId

/** @internal */
export const isTimeout = (u: unknown): u is Timeout.Timeout => typeof u === "function" && Predicate.hasProperty(u, TypeId)

const M = "Timeout.make"

// the tags are put in the metric key itself (metricKeys.ts): a `Metric.tagged` wrapper re-derives its key on every update
const timeoutsKey = MetricKey.counter("resilience_timeout_timeouts", {
  description: "Calls a timeout policy's deadline ended with a TimeoutError",
  incremental: true
})

/**
 * One timeout policy: its duration, options, deadline list (the fast path's
 * timers), and what it reports when its deadline ends a call (events, the
 * metric): only then, never on a success.
 */
class TimeoutImpl implements DeadlineOwner {
  readonly millis: number
  readonly name: string | undefined
  readonly disconnect: boolean
  readonly scope: "overall" | "attempt" | undefined
  /** `"general"`: Effect's race instead of the fast path (tests prove them equal). */
  readonly general: boolean
  readonly fast: FastTimeout = makeFastTimeout()
  readonly hub = EventHub.make<Timeout.TimeoutEvent>()
  /** Made at the first timeout of each scope (a pure constructor registers no metric). */
  private readonly counters = new Map<string, Metric.Metric.Counter<number>>()
  timeouts = 0

  constructor(readonly duration: Duration.Duration, options: options_.Resolved) {
    this.millis = Duration.toMillis(duration)
    this.name = options.name
    this.disconnect = options.disconnect
    this.scope = options.scope
    this.general = options.implementation === "general"
  }

  /** Its deadline ended a call with `error` (once per call: see deadline.ts): count and report it. */
  readonly timedOut = (_deadline: Deadline, error: TimeoutError): void => {
    this.timeouts++
    const policy = this.name ?? options_.DEFAULT_NAME
    const scope = error.scope
    const tag = scope ?? "none"
    let counter = this.counters.get(tag)
    if (counter === undefined) this.counters.set(tag, counter = metricKeys.tagged(timeoutsKey, [["policy", policy], ["scope", tag]]))
    counter.unsafeUpdate(1, [])
    this.hub.emitWith((): Timeout.TimeoutEvent => ({ _tag: "TimedOut", policy, scope, duration: this.duration }))
  }

  /** The counters, as a snapshot. */
  unsafeStats(): Timeout.Timeout.Stats {
    return { timeouts: this.timeouts }
  }

  /** This timeout's own error. */
  readonly ownError = (): TimeoutError => TimeoutError.make({ duration: this.duration, policy: this.name, scope: this.scope })

  /** What an inner policy fails with when this deadline comes first (as an inner timeout always did). */
  readonly deadlineError = (): TimeoutError =>
    TimeoutError.make({ duration: this.duration, policy: this.name, scope: "overall" })

  /** Bounds `self`: by this timeout, or by an enclosing deadline that comes first (with its error). */
  apply<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | TimeoutError, R> {
    return Effect.withFiberRuntime((parent) => {
      const clock = Context.get(parent.currentDefaultServices, Clock.Clock)
      const outer = active(parent.getFiberRef(currentDeadline))
      const now = monotonicMillis(clock)
      // an enclosing deadline that comes first wins: fire at it, with its error
      if (outer !== undefined && outer.at <= now + this.millis) {
        const budget = Math.max(0, outer.at - now)
        if (budget <= 0) return Effect.failSync(() => expired(outer))
        return this.run(self, budget, outer, outer, outer.error)
      }
      // an infinite timeout is none: the work runs as it would without it
      if (this.millis === Infinity) return self
      const deadline: Deadline = {
        at: now + this.millis,
        duration: this.duration,
        policy: this.name,
        error: this.deadlineError,
        active: true,
        owner: this,
        reported: false
      }
      return this.run(self, this.millis, deadline, outer, this.ownError)
    })
  }

  /** The caller's failure when `deadline` ends the work: its error, reported. */
  private failWith(deadline: Deadline, error: () => TimeoutError): Effect.Effect<never, TimeoutError> {
    return Effect.failSync(() => {
      const e = error()
      reportExpired(deadline, e)
      return e
    })
  }

  /** Runs the work under `deadline` for at most `budget` ms; the deadline ends with the region if it is ours. */
  private run<A, E, R>(
    self: Effect.Effect<A, E, R>,
    budget: number,
    deadline: Deadline,
    outer: Deadline | undefined,
    error: () => TimeoutError
  ): Effect.Effect<A, E | TimeoutError, R> {
    const disconnect = this.disconnect
    if (!this.general) return this.fast.run(self, { budget, deadline, outer, error, disconnect })
    // Effect.timeoutFail's race, interrupting the work with the library's timeout marker (deadline.ts)
    // detached: inside an uninterruptible caller, the caller's interruption must not kill the race's timer
    const timed = detached(Effect.uninterruptibleMask((restore) =>
      Effect.raceWith(restore(Effect.locally(self, currentDeadline, deadline)), Effect.interruptible(sleep(budget)), {
        onSelfDone: (exit, sleeper) => Effect.zipRight(Fiber.interrupt(sleeper), exit),
        onOtherDone: (_, work) =>
          disconnect
            ? Effect.zipRight(work.interruptAsFork(timeoutInterruptor), this.failWith(deadline, error))
            : Effect.zipRight(
              Effect.zipRight(work.interruptAsFork(timeoutInterruptor), Fiber.await(work)),
              this.failWith(deadline, error)
            )
      })
    ))
    return deadline !== outer
      ? Effect.ensuring(timed, Effect.sync(() => {
        deadline.active = false
      }))
      : timed
  }
}

/** @internal */
export const make = (duration: Duration.DurationInput, options: Timeout.Timeout.Options = {}): Timeout.Timeout => {
  const d = options_.duration.props.parse(M, "duration", duration)
  const resolved = options_.spec.resolve(options, M)
  const impl = new TimeoutImpl(d, resolved)
  const stats = Effect.sync(() => impl.unsafeStats())
  const policy = Object.assign(<A, E, R>(self: Effect.Effect<A, E, R>) => impl.apply(self), {
    [TypeId]: TypeId,
    duration: d,
    options,
    policyName: impl.name ?? options_.DEFAULT_NAME,
    events: impl.hub.stream,
    stats: () => stats,
    unsafeStats: () => impl.unsafeStats()
  })
  return unsafeMakeCallable(policy, {
    kind: "Timeout",
    name: impl.name,
    options: { duration: Duration.format(d), disconnect: impl.disconnect, ...(impl.scope === undefined ? {} : { scope: impl.scope }) }
  }) as unknown as Timeout.Timeout
}

/** @internal */
export const remaining: Effect.Effect<Option.Option<Duration.Duration>> = Effect.flatMap(
  Effect.map(FiberRef.get(currentDeadline), active),
  (deadline) =>
    deadline === undefined
      ? Effect.succeed(Option.none())
      : Effect.map(currentMonotonicMillis, (now) => Option.some(Duration.millis(Math.max(0, deadline.at - now))))
)

/** `make` from the options of a layer (`duration` with the policy's options). */
const fromLayerOptions = (m: string, options: Timeout.Timeout.LayerOptions): Timeout.Timeout => {
  const { duration, ...rest } = validate.options(m, options)
  return make(duration, rest)
}

/** @internal */
export const layer = <I, S>(tag: Context.Tag<I, S>, options: Timeout.Timeout.LayerOptions): Layer.Layer<I, InvalidOptionsError> =>
  Layer.effect(tag, validate.validated(() => fromLayerOptions("Timeout.layer", options) as unknown as S))

/** @internal */
export const config: Config.Config<Timeout.Timeout.LayerOptions> = options_.layerSpec.config as Config.Config<any>

/** @internal */
export const fromConfig = (
  config: Config.Config.Wrap<Timeout.Timeout.LayerOptions>,
  module = "Timeout.fromConfig"
): Effect.Effect<Timeout.Timeout, InvalidOptionsError | ConfigError.ConfigError> =>
  Effect.flatMap(
    Spec.readConfig<Timeout.Timeout.LayerOptions>(options_.layerSpec, module, config),
    (options) => validate.validated(() => fromLayerOptions(module, options))
  )

/** @internal */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<Timeout.Timeout.LayerOptions>
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.effect(tag, fromConfig(config, "Timeout.layerConfig") as unknown as Effect.Effect<S, InvalidOptionsError | ConfigError.ConfigError>)

/** @internal */
export const durationConfig = (name?: string): Config.Config<Duration.Duration> =>
  Config.string(name).pipe(
    Config.mapOrFail((text) =>
      /^\s*infinity\s*$/i.test(text)
        ? Either.right(Duration.infinity)
        : Option.match(Duration.decodeUnknown(text.trim()), {
          onNone: () => Either.left(ConfigError.InvalidData([], `Expected a duration or "Infinity" but received ${text}`)),
          onSome: Either.right
        })
    )
  )
