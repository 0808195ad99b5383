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
import * as Option from "effect/Option"
import { type InvalidOptionsError, TimeoutError } from "./Errors.js"
import { active, currentDeadline, type Deadline, timeoutInterruptor } from "./internal/deadline.js"
import { currentMonotonicMillis, monotonicMillis, sleep } from "./internal/time.js"
import { makeFastTimeout } from "./internal/timeout.js"
import * as validate from "./internal/validate.js"
import type { Policy } from "./Policy.js"
import { unsafeMakeCallable } from "./internal/policy.js"

export {
  /**
   * @since 0.1.0
   * @category Errors
   */
  TimeoutError
} from "./Errors.js"

/**
 * A timeout policy.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Timeout extends Policy<TimeoutError> {
  /** The configured duration. */
  readonly duration: Duration.Duration
  readonly options: Timeout.Options
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
    /** A name for errors, metrics and descriptors. */
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
export const make = (duration: Duration.DurationInput, options: Timeout.Options = {}): Timeout => {
  const d = validate.duration("Timeout.make", "duration", duration, { allowInfinite: true })
  const millis = Duration.toMillis(d)
  const m = "Timeout.make"
  options = validate.options(m, options)
  const name = options.name === undefined ? undefined : validate.nonEmptyString(m, "name", options.name)
  if (options.disconnect !== undefined && typeof options.disconnect !== "boolean") {
    throw validate.invalid(m, "disconnect", options.disconnect, "a boolean")
  }
  const disconnect = options.disconnect === true
  const scope = options.scope === undefined ? undefined : validate.oneOf(m, "scope", options.scope, ["overall", "attempt"])
  const general =
    (options.implementation === undefined ? "fast" : validate.oneOf(m, "implementation", options.implementation, [
      "fast",
      "general"
    ])) === "general"
  const ownError = () => new TimeoutError({ duration: d, policy: name, scope })
  // what an inner policy fails with when this deadline comes first (as an inner timeout always did)
  const deadlineError = () => new TimeoutError({ duration: d, policy: name, scope: "overall" })

  const fast = makeFastTimeout()

  const timeout = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | TimeoutError, R> =>
    Effect.withFiberRuntime((parent) => {
      const clock = Context.get(parent.currentDefaultServices, Clock.Clock)
      const outer = active(parent.getFiberRef(currentDeadline))
      const now = monotonicMillis(clock)
      // an enclosing deadline that comes first wins: fire at it, with its error
      if (outer !== undefined && outer.at <= now + millis) {
        const budget = Math.max(0, outer.at - now)
        if (budget <= 0) return Effect.fail(outer.error())
        return run(self, budget, outer, outer, outer.error)
      }
      // an infinite timeout is none: the work runs as it would without it
      if (millis === Infinity) return self
      const deadline: Deadline = { at: now + millis, duration: d, policy: name, error: deadlineError, active: true }
      return run(self, millis, deadline, outer, ownError)
    })

  /** Runs the work under `deadline` for at most `budget` ms; the deadline ends with the region if it is ours. */
  const run = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    budget: number,
    deadline: Deadline,
    outer: Deadline | undefined,
    error: () => TimeoutError
  ): Effect.Effect<A, E | TimeoutError, R> => {
    const own = deadline !== outer
    if (!general) return fast.run(self, { budget, deadline, outer, error, disconnect })
    // Effect.timeoutFail's race, interrupting the work with the library's timeout marker (deadline.ts)
    const timed = Effect.uninterruptibleMask((restore) =>
      Effect.raceWith(restore(Effect.locally(self, currentDeadline, deadline)), Effect.interruptible(sleep(budget)), {
        onSelfDone: (exit, sleeper) => Effect.zipRight(Fiber.interrupt(sleeper), exit),
        onOtherDone: (_, work) =>
          disconnect
            ? Effect.zipRight(work.interruptAsFork(timeoutInterruptor), Effect.failSync(error))
            : Effect.zipRight(Effect.zipRight(work.interruptAsFork(timeoutInterruptor), Fiber.await(work)), Effect.failSync(error))
      })
    )
    return own ? Effect.ensuring(timed, Effect.sync(() => { deadline.active = false })) : timed
  }

  const policy = Object.assign(timeout, { duration: d, options })
  return unsafeMakeCallable(policy, {
    kind: "Timeout",
    name,
    options: { duration: Duration.format(d), disconnect, ...(scope === undefined ? {} : { scope }) }
  }) as unknown as Timeout
}

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
export const remaining: Effect.Effect<Option.Option<Duration.Duration>> = Effect.flatMap(
  Effect.map(FiberRef.get(currentDeadline), active),
  (deadline) =>
    deadline === undefined
      ? Effect.succeed(Option.none())
      : Effect.map(currentMonotonicMillis, (now) => Option.some(Duration.millis(Math.max(0, deadline.at - now))))
)

/**
 * Provides a timeout under your own `Context.Tag` (see `Policy.fromTag`).
 * Fails with `InvalidOptionsError` for an invalid duration.
 *
 * @example
 * ```ts
 * import { Policy, Timeout } from "effect-resilience"
 * import { Context } from "effect"
 *
 * class DbTimeout extends Context.Tag("app/DbTimeout")<DbTimeout, Policy.Policy<Timeout.TimeoutError>>() {}
 * const live = Timeout.layer(DbTimeout, "2 seconds")
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer = <I, S>(
  tag: Context.Tag<I, S>,
  duration: Duration.DurationInput & ([Timeout] extends [S] ? unknown : never),
  options?: Timeout.Options
): Layer.Layer<I, InvalidOptionsError> =>
  Layer.effect(tag, validate.validated(() => make(duration, options) as unknown as S))

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
 * const live = Timeout.layerConfig(DbTimeout, Timeout.durationConfig("DB_TIMEOUT").pipe(Config.withDefault("2 seconds")))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
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

/**
 * Provides a timeout under your own `Context.Tag` with its duration read from
 * `Config` (e.g. `Config.duration("DB_TIMEOUT")`, or {@link durationConfig},
 * which also reads `"Infinity"`: no timeout).
 *
 * @example
 * ```ts
 * import { Policy, Timeout } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class DbTimeout extends Context.Tag("app/DbTimeout")<DbTimeout, Policy.Policy<Timeout.TimeoutError>>() {}
 * const live = Timeout.layerConfig(DbTimeout, Config.duration("DB_TIMEOUT").pipe(Config.withDefault("2 seconds")))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  duration: Config.Config<Duration.DurationInput> & ([Timeout] extends [S] ? unknown : never),
  options?: Timeout.Options
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.effect(
    tag,
    Effect.flatMap(duration as Config.Config<Duration.DurationInput>, (d) => validate.validated(() => make(d, options) as unknown as S))
  )
