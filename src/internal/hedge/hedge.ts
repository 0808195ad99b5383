/**
 * The hedging policy (`Hedge.make`): {@link HedgeImpl} holds a policy's
 * configuration, counters, metrics and events; each hedged call is a
 * {@link HedgeCall}, which launches attempts, arms the delay between them,
 * settles the winner (or the failure) and interrupts the losers.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { FailedResultError, type InvalidOptionsError, isRejection } from "../errors.js"
import type * as Hedge from "../../Hedge.js"
import { waitWithin } from "../deadline.js"
import { detached } from "../detached.js"
import * as EventHub from "../events.js"
import * as metricKeys from "../metricKeys.js"
import { unsafeMakeCallable } from "../policy.js"
import * as Spec from "../spec.js"
import { sleep } from "../time.js"
import * as userCode from "../userCode.js"
import * as validate from "../validate.js"
import { Mailbox } from "./mailbox.js"
import * as options_ from "./options.js"

type HedgeEvent = Hedge.HedgeEvent
type FailReason = "Exhausted" | "NotHedgeable" | "Rejected"
type StartReason = "Delay" | "Failure"

/** @internal */
export const TypeId: Hedge.TypeId = Symbol.for("effect-resilience/Hedge") as Hedge.TypeId

/** @internal */
export const isHedge = (u: unknown): u is Hedge.Hedge<any> => Predicate.hasProperty(u, TypeId)

// the parent keeps its own attempt number when it inherits the winner's FiberRefs
const attemptRef: FiberRef.FiberRef<number> = FiberRef.unsafeMake(1, { join: (parent) => parent })

/** @internal */
export const currentAttempt: Effect.Effect<number> = FiberRef.get(attemptRef)

const startedKey = MetricKey.counter("resilience_hedge_started", {
  description: "Hedged attempts started (attempts beyond the first), tagged with why: delay or failure",
  incremental: true
})
const wonKey = MetricKey.frequency("resilience_hedge_won", {
  description: "Which attempt won, for calls that started at least one hedge"
})
const failedKey = MetricKey.counter("resilience_hedge_failed", {
  description: "Hedged calls that failed (every attempt failed, or a final error)",
  incremental: true
})

/** What the hedging fiber of a call takes from its mailbox. */
type Signal<A, E> =
  | {
    readonly _tag: "Done"
    readonly attempt: number
    readonly fiber: Fiber.RuntimeFiber<A, E>
    readonly exit: Exit.Exit<A, E>
  }
  | { readonly _tag: "Tick"; readonly generation: number }

/** What a failed attempt left: its failure, or a value `whenResult` rejected (with its fiber, to inherit from). */
type Failed<A, E> =
  | { readonly _tag: "Cause"; readonly attempt: number; readonly cause: Cause.Cause<E> }
  | { readonly _tag: "Result"; readonly attempt: number; readonly value: A; readonly fiber: Fiber.RuntimeFiber<A, E> | undefined }

/** The typed failure of a cause, unless it is a defect (or has none). */
const typedFailure = <E>(cause: Cause.Cause<E>): Option.Option<E> =>
  Cause.isDie(cause) ? Option.none() : Cause.failureOption(cause)

/**
 * A hedging policy's state and behaviour, shared by its calls: the validated
 * options, the counters behind `stats()`, the metrics and the event hub.
 *
 * @internal
 */
export class HedgeImpl<EIn> {
  readonly name: string
  /** The constant delay in milliseconds; `undefined` when `delay` is a function of the attempt. */
  readonly delayMillis: number | undefined
  readonly maxAttempts: number
  readonly hub = EventHub.make<HedgeEvent>()
  calls = 0
  hedges = 0
  failures = 0
  /** `wins[i]` counts calls won by attempt `i + 1`. */
  readonly wins: Array<number>
  /** The constant wait between attempts (an interruptible sleep on the fiber's clock). */
  readonly sleep: Effect.Effect<void>
  readonly startedOnDelay: Metric.Metric.Counter<number>
  readonly startedOnFailure: Metric.Metric.Counter<number>
  readonly won: Metric.Metric.Frequency<string>
  readonly failed: Metric.Metric.Counter<number>
  // user code: a `while` that throws or answers a non-boolean is reported and answers false
  private readonly whileSite: userCode.Site
  // a `whenResult` that throws or answers a non-boolean: the value is accepted (it wins)
  private readonly whenResultSite: userCode.Site
  // a `delay` function that throws or answers an invalid duration: no delayed hedge after that attempt
  private readonly delaySite: userCode.Site
  /** The `HedgeWon` event of a one-attempt call, built once (no closure per call). */
  private readonly wonAlone: () => HedgeEvent
  /** A one-attempt call's handlers, built once. */
  private readonly alone: {
    readonly onSuccess: (a: unknown) => Effect.Effect<unknown>
    readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<never, unknown>
  }

  constructor(readonly config: options_.Config<EIn>) {
    const name = config.name
    this.name = name
    this.delayMillis = config.delayMillis
    this.maxAttempts = config.maxAttempts
    this.wins = new Array(config.maxAttempts).fill(0)
    this.sleep = Effect.interruptible(sleep(config.delayMillis ?? 0))
    this.startedOnDelay = metricKeys.tagged(startedKey, [["policy", name], ["reason", "delay"]])
    this.startedOnFailure = metricKeys.tagged(startedKey, [["policy", name], ["reason", "failure"]])
    this.won = metricKeys.tagged(wonKey, [["policy", name]])
    this.failed = metricKeys.tagged(failedKey, [["policy", name]])
    this.whileSite = userCode.site("Hedge", name, "while", "not hedgeable")
    this.whenResultSite = userCode.site("Hedge", name, "whenResult", "the value is accepted (it wins)")
    this.delaySite = userCode.site("Hedge", name, "delay", "no delayed hedge after this attempt (only a failure starts one)")
    this.wonAlone = () => ({ _tag: "HedgeWon", policy: name, attempt: 1, started: 1 })
    this.alone = {
      onSuccess: (a) => {
        if (config.whenResult !== undefined && this.rejects(a)) return this.allFailed({ _tag: "Result", attempt: 1, value: a, fiber: undefined }, 1)
        this.wins[0]!++
        this.hub.emitWith(this.wonAlone)
        return Effect.succeed(a)
      },
      onFailure: (cause) => {
        this.failures++
        this.hub.emitWith(() => ({
          _tag: "HedgeFailed",
          policy: name,
          attempt: 1,
          started: 1,
          reason: this.onlyAttemptFailed(cause),
          cause
        }))
        return Effect.failCause(cause)
      }
    }
  }

  /** Whether `whenResult` treats `value` as a failed attempt (a throw or a non-boolean answer: no, reported). */
  rejects(value: unknown): boolean {
    return userCode.predicate(this.whenResultSite, this.config.whenResult!, value, false)
  }

  /**
   * How long to wait after attempt `n` started before starting attempt
   * `n + 1`, in milliseconds (`Infinity`: only a failure starts it).
   */
  delayAfter(n: number): number {
    if (this.delayMillis !== undefined) return this.delayMillis
    const f = this.config.delay as (attempt: number) => Duration.DurationInput
    const d = userCode.call(this.delaySite, f, n, options_.isDelay, () => Infinity)
    return options_.delayMillisOf(d)
  }

  /**
   * Every attempt failed (reason `"Exhausted"`): the caller gets `failed`'s
   * outcome — its failure, or its rejected value (a `FailedResultError`
   * with `failAfterMaxAttempts`); counted, reported, the metric for a call
   * that hedged.
   */
  allFailed<A, E>(failed: Failed<A, E>, started: number): Effect.Effect<A, E> {
    this.failures++
    const name = this.name
    const attempt = failed.attempt
    if (failed._tag === "Cause") {
      const cause = failed.cause
      this.hub.emitWith((): HedgeEvent => ({ _tag: "HedgeFailed", policy: name, attempt, started, reason: "Exhausted", cause }))
      return started > 1 ? Effect.zipRight(Metric.increment(this.failed), Effect.failCause(cause)) : Effect.failCause(cause)
    }
    const value = failed.value
    this.hub.emitWith((): HedgeEvent => ({
      _tag: "HedgeFailed",
      policy: name,
      attempt,
      started,
      reason: "Exhausted",
      cause: Cause.empty,
      result: { value }
    }))
    // with failAfterMaxAttempts the policy's type (Hedge.make) carries FailedResultError
    let outcome = (this.config.failAfterMaxAttempts
      ? Effect.fail(new FailedResultError({ module: "Hedge", policy: name, value, attempts: started }))
      : Effect.succeed(value)) as Effect.Effect<A, E>
    // like a winner: the chosen attempt's FiberRef changes are kept
    if (failed.fiber !== undefined) outcome = Effect.zipRight(failed.fiber.inheritAll, outcome)
    return started > 1 ? Effect.zipRight(Metric.increment(this.failed), outcome) : outcome
  }

  /** Whether a typed error starts the next attempt at once. */
  hedgeable(error: unknown): boolean {
    const f = this.config.while
    return f === undefined ? !isRejection(error) : userCode.predicate(this.whileSite, f, error as EIn, false)
  }

  /**
   * `maxAttempts: 1`: the effect runs in the caller's fiber, as attempt 1 of
   * this hedge (also inside an attempt of an outer one, as the general path
   * sets it); the call is only counted.
   */
  runAlone<A, E extends EIn, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.withFiberRuntime((fiber) => {
      this.calls++
      // the attempt number is set only where it says otherwise (inside a later attempt of an outer
      // hedge): `Effect.locally` is an acquire-use-release on every call
      const work = fiber.getFiberRef(attemptRef) === 1 ? self : Effect.locally(self, attemptRef, 1)
      return Effect.matchCauseEffect(work, this.alone) as Effect.Effect<A, E, R>
    })
  }

  /** `maxAttempts` > 1: attempts in their own fibers, raced by a {@link HedgeCall}. */
  runHedged<A, E extends EIn, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    // detached: inside an uninterruptible caller, the caller's interruption must not kill the attempts' timer
    return detached(Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        this.calls++
        return new HedgeCall<A, E, R>(this, self, restore).run()
      })
    ))
  }

  /** maxAttempts 1: why the call failed, as the general path says when its only attempt fails. */
  onlyAttemptFailed(cause: Cause.Cause<unknown>): FailReason {
    const failure = typedFailure(cause)
    if (Option.isNone(failure)) return "NotHedgeable"
    if (this.hedgeable(failure.value)) return "Exhausted"
    return isRejection(failure.value) ? "Rejected" : "NotHedgeable"
  }

  /** Counts attempt `n` (>= 2) as a hedge and reports it; the effect updates the metric. */
  hedgeStarted(n: number, reason: StartReason, error: unknown, result: { readonly value: unknown } | undefined): Effect.Effect<void> {
    this.hedges++
    const name = this.name
    this.hub.emitWith((): HedgeEvent =>
      reason === "Delay"
        ? { _tag: "HedgeStarted", policy: name, attempt: n, reason }
        : result === undefined
        ? { _tag: "HedgeStarted", policy: name, attempt: n, reason, error }
        : { _tag: "HedgeStarted", policy: name, attempt: n, reason, result }
    )
    return Metric.increment(reason === "Delay" ? this.startedOnDelay : this.startedOnFailure)
  }

  /** The counters, as a snapshot (the hot-path form of `stats()`). */
  unsafeStats(): Hedge.Hedge.Stats {
    return { calls: this.calls, hedges: this.hedges, wins: this.wins.slice(), failures: this.failures }
  }
}

/**
 * One hedged call: its attempts' fibers, its timer, and the mailbox where
 * both post. The hedging fiber (the caller's, uninterruptible but for
 * `restore`) takes one signal at a time and decides.
 *
 * @internal
 */
class HedgeCall<A, E, R> {
  private readonly box = new Mailbox<Signal<A, E>>()
  private readonly fibers: Array<Fiber.RuntimeFiber<A, E>> = []
  private timer: Fiber.RuntimeFiber<void> | undefined = undefined
  /** The latest timer's number: a tick from an older one is stale. */
  private generation = 0
  private started = 0
  private running = 0
  /** The attempt that failed last (its failure or rejected value). */
  private last: Failed<A, E> | undefined = undefined
  /** The first hedgeable failure or rejected value (for `failWith: "first"`). */
  private first: Failed<A, E> | undefined = undefined
  /** Waits for the next signal and handles it. */
  private readonly next: Effect.Effect<A, E, R>
  /** (Re)arms the timer for the next attempt. */
  private readonly armTimer: Effect.Effect<void>
  /** Interrupts (and awaits) every attempt and the timer. */
  private readonly cleanup: Effect.Effect<void>

  constructor(
    private readonly policy: HedgeImpl<any>,
    private readonly self: Effect.Effect<A, E, R>,
    private readonly restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>
  ) {
    // bounded by the caller's deadline, whatever its interruptibility (the attempts are interrupted on the way out)
    this.next = Effect.flatMap(restore(waitWithin(this.box.take)), (signal) => this.onSignal(signal))
    this.armTimer = Effect.suspend(() => this.arm())
    this.cleanup = Effect.suspend(() => this.interruptAll())
  }

  /** Starts the first attempt (every attempt, for `delay: 0`), then handles signals until one settles the call. */
  run(): Effect.Effect<A, E, R> {
    // Stryker disable next-line StringLiteral: equivalent: the first attempt reports no reason (only hedges, attempts >= 2, do)
    const start = this.policy.delayMillis === 0
      ? this.launchAll()
      : Effect.zipRight(this.launch("Delay", undefined, undefined), this.armTimer)
    return Effect.ensuring(Effect.zipRight(start, this.next), this.cleanup)
  }

  /** Forks the timer for the next attempt, replacing (interrupting) the previous one. */
  private arm(): Effect.Effect<void> {
    const policy = this.policy
    if (this.started >= policy.maxAttempts || policy.delayMillis === Infinity) return Effect.void
    // a delay per attempt: asked once the latest attempt (number `started`) has started
    const millis = policy.delayMillis === undefined ? policy.delayAfter(this.started) : policy.delayMillis
    // Stryker disable next-line UpdateOperator: equivalent: generations are only compared for equality with the latest one, so decreasing values serve as well
    const gen = ++this.generation
    const previous = this.timer
    if (millis === Infinity) {
      // no delayed hedge after this attempt: the previous timer (if any) is stale
      this.timer = undefined
      return previous === undefined ? Effect.void : Fiber.interrupt(previous)
    }
    const wait = policy.delayMillis === undefined ? Effect.interruptible(sleep(millis)) : policy.sleep
    const arm = Effect.map(Effect.fork(wait), (fiber) => {
      this.timer = fiber
      fiber.addObserver((exit) => {
        // Stryker disable next-line ConditionalExpression: equivalent: a timer is interrupted only when replaced (after `generation` moved on, so its tick is stale and ignored) or when the call is over
        if (Exit.isSuccess(exit)) this.box.offer({ _tag: "Tick", generation: gen })
      })
    })
    return previous === undefined ? arm : Effect.zipRight(Fiber.interrupt(previous), arm)
  }

  /** Starts the next attempt (a hedge, past the first: counted and reported). */
  private launch(reason: StartReason, error: unknown, result: { readonly value: unknown } | undefined): Effect.Effect<void, never, R> {
    return Effect.suspend(() => {
      const n = ++this.started
      this.running++
      const start = Effect.map(
        Effect.fork(Effect.zipRight(FiberRef.set(attemptRef, n), this.restore(this.self))),
        (fiber) => this.watch(n, fiber)
      )
      if (n === 1) return start
      return Effect.zipRight(this.policy.hedgeStarted(n, reason, error, result), start)
    })
  }

  /** Keeps attempt `n`'s fiber (to interrupt it) and posts its exit to the mailbox. */
  private watch(n: number, fiber: Fiber.RuntimeFiber<A, E>): void {
    this.fibers.push(fiber)
    // Stryker disable next-line StringLiteral: equivalent: signals are told apart by `_tag === "Tick"` only
    fiber.addObserver((exit) => this.box.offer({ _tag: "Done", attempt: n, fiber, exit }))
  }

  /** `delay: 0`: every attempt starts at once. */
  private launchAll(): Effect.Effect<void, never, R> {
    return Effect.suspend(() => {
      // Stryker disable next-line StringLiteral: equivalent: the first attempt reports no reason (only hedges, attempts >= 2, do)
      let all: Effect.Effect<void, never, R> = this.launch("Delay", undefined, undefined)
      for (let n = 2; n <= this.policy.maxAttempts; n++) all = Effect.zipRight(all, this.launch("Delay", undefined, undefined))
      return all
    })
  }

  private onSignal(signal: Signal<A, E>): Effect.Effect<A, E, R> {
    if (signal._tag === "Tick") return this.onTick(signal.generation)
    this.running--
    const { attempt: n, exit, fiber } = signal
    if (Exit.isFailure(exit)) return this.onAttemptFailed(n, exit.cause)
    const value = exit.value
    return this.policy.config.whenResult !== undefined && this.policy.rejects(value)
      ? this.onAttemptRejected(n, fiber, value)
      : this.settleWinner(n, fiber, value)
  }

  /** The delay elapsed: the next attempt starts, unless the tick is stale or every attempt has started. */
  private onTick(generation: number): Effect.Effect<A, E, R> {
    if (generation !== this.generation || this.started >= this.policy.maxAttempts) return this.next
    return Effect.zipRight(Effect.zipRight(this.launch("Delay", undefined, undefined), this.armTimer), this.next)
  }

  /**
   * Attempt `n` succeeded with a value `whenResult` rejected: a failed
   * attempt, as a hedgeable failure is (the next attempt starts at once, or
   * the call settles when it was the last one running).
   */
  private onAttemptRejected(n: number, fiber: Fiber.RuntimeFiber<A, E>, value: A): Effect.Effect<A, E, R> {
    const failed: Failed<A, E> = { _tag: "Result", attempt: n, value, fiber }
    this.last = failed
    this.first ??= failed
    if (this.started < this.policy.maxAttempts) {
      return Effect.zipRight(Effect.zipRight(this.launch("Failure", undefined, { value }), this.armTimer), this.next)
    }
    if (this.running === 0) return this.exhausted()
    return this.next
  }

  /** Every attempt failed: the outcome `failWith` chooses. */
  private exhausted(): Effect.Effect<A, E, R> {
    const chosen = this.policy.config.failWith === "first" && this.first !== undefined ? this.first : this.last!
    return this.policy.allFailed(chosen, this.started)
  }

  /** Attempt `n` succeeded first: it wins (the losers are interrupted on the way out). */
  private settleWinner(n: number, fiber: Fiber.RuntimeFiber<A, E>, value: A): Effect.Effect<A, E, R> {
    const policy = this.policy
    policy.wins[n - 1]!++
    const started = this.started
    policy.hub.emitWith((): HedgeEvent => ({ _tag: "HedgeWon", policy: policy.name, attempt: n, started }))
    // like Effect.race: the winner's FiberRef changes are kept
    const result = Effect.as(fiber.inheritAll, value)
    return started > 1 ? Effect.zipRight(Metric.update(policy.won, String(n)), result) : result
  }

  /**
   * Attempt `n` failed: a final failure settles the call; a rejection is
   * dropped while other attempts run; a hedgeable one starts the next attempt
   * at once, or settles the call when it was the last one running.
   */
  private onAttemptFailed(n: number, cause: Cause.Cause<E>): Effect.Effect<A, E, R> {
    const failure = typedFailure(cause)
    if (Option.isNone(failure)) return this.fail(n, "NotHedgeable", cause)
    if (!this.policy.hedgeable(failure.value)) {
      if (!isRejection(failure.value)) return this.fail(n, "NotHedgeable", cause)
      // a rejected attempt is dropped: it neither starts a hedge nor ends the call
      this.last = { _tag: "Cause", attempt: n, cause }
      return this.running > 0 ? this.next : this.fail(n, "Rejected", cause)
    }
    const failed: Failed<A, E> = { _tag: "Cause", attempt: n, cause }
    this.last = failed
    this.first ??= failed
    if (this.started < this.policy.maxAttempts) {
      return Effect.zipRight(Effect.zipRight(this.launch("Failure", failure.value, undefined), this.armTimer), this.next)
    }
    if (this.running === 0) return this.exhausted()
    return this.next
  }

  /** The call fails with `cause` (counted, reported; the metric only for a call that hedged). */
  private fail(attempt: number, reason: FailReason, cause: Cause.Cause<E>): Effect.Effect<never, E> {
    const policy = this.policy
    policy.failures++
    const started = this.started
    policy.hub.emitWith((): HedgeEvent => ({ _tag: "HedgeFailed", policy: policy.name, attempt, started, reason, cause }))
    return started > 1 ? Effect.zipRight(Metric.increment(policy.failed), Effect.failCause(cause)) : Effect.failCause(cause)
  }

  /** Interrupts the losers and the timer, and awaits them. */
  private interruptAll(): Effect.Effect<void> {
    return this.timer === undefined ? Fiber.interruptAll(this.fibers) : Fiber.interruptAll([...this.fibers, this.timer])
  }
}

/** @internal */
export const make = <EIn = unknown>(options: Hedge.Hedge.Options<EIn, any>): Hedge.Hedge<EIn> => {
  const config = options_.parse(options)
  const impl = new HedgeImpl<EIn>(config)
  // bound once: the policy calls the implementation directly
  const hedge = config.maxAttempts === 1
    ? <A, E extends EIn, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => impl.runAlone(self)
    : <A, E extends EIn, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => impl.runHedged(self)
  const stats = Effect.sync(() => impl.unsafeStats())
  const policy = Object.assign(hedge, {
    [TypeId]: TypeId,
    policyName: config.name,
    delay: config.delay,
    maxAttempts: config.maxAttempts,
    events: impl.hub.stream,
    stats: () => stats,
    unsafeStats: () => impl.unsafeStats()
  })
  return unsafeMakeCallable(policy, {
    kind: "Hedge",
    name: config.name,
    options: {
      delay: typeof config.delay === "function" ? "function" : Duration.format(config.delay),
      maxAttempts: config.maxAttempts,
      while: config.while !== undefined,
      whenResult: config.whenResult !== undefined,
      failWith: config.failWith,
      failAfterMaxAttempts: config.failAfterMaxAttempts
    }
  }) as unknown as Hedge.Hedge<EIn>
}

/** `Hedge.make`: {@link make}, typed on the values of a `whenResult` and on `failAfterMaxAttempts`' error. @internal */
export const makeTyped: typeof Hedge.make = make as typeof Hedge.make

/** @internal */
export const config: Config.Config<Hedge.ConfigOptions> = options_.spec.config as Config.Config<any>

/** @internal */
export const fromConfig = (
  config: Config.Config.Wrap<Hedge.ConfigOptions>,
  code?: Hedge.CodeOptions<any, any>,
  module = "Hedge.fromConfig"
): Effect.Effect<Hedge.Hedge<any, any, any>, InvalidOptionsError | ConfigError.ConfigError> =>
  Effect.flatMap(
    Spec.readConfig<Hedge.Hedge.Options<any, any>>(options_.spec, module, config, code),
    (options) => validate.validated(() => make(options))
  )

/** @internal */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<Hedge.ConfigOptions>,
  code?: Hedge.CodeOptions<any, any>
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.effect(
    tag,
    fromConfig(config, code, "Hedge.layerConfig") as unknown as Effect.Effect<S, InvalidOptionsError | ConfigError.ConfigError>
  )
