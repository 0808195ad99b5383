/**
 * The breaker's call as ONE Effect: the closed circuit's hot path.
 *
 * A call through a breaker must decide admission when it starts and record
 * its result when it ends. Built from Effect's public combinators that is two
 * steps of the fiber's run loop besides the call itself
 * (`withFiberRuntime(… matchCauseEffect(self, …))`), and each step of the run
 * loop costs about as much as cockatiel's whole breaker. A {@link FastCall}
 * is one step: an Effect primitive of the same kind as `matchCauseEffect`'s
 * (its `_op`, prototype and variance are taken from a real one), whose
 * effect is read when the run starts (a getter: the breaker decides
 * admission there and answers the call itself, a rejection, or the general
 * path) and whose two continuations are methods, so the result is recorded
 * without a closure per call.
 *
 * It leans on how Effect 3's fiber runtime runs that primitive: it pushes
 * the primitive as the continuation frame, then reads its effect; on
 * completion it calls the frame's continuations as methods. {@link supported}
 * checks exactly that once per process, on a probe run, and the breaker
 * takes its general path (public combinators only) if the check fails.
 *
 * One FastCall may be run more than once, and at the same time by several
 * fibers (`Effect.all([call, call])`, a hedge): its fields hold the run in
 * flight (`phase`, `ticket`, `start`). A run that starts while another is in
 * flight takes the general path inside a wrapper that marks its result
 * (`Overlapping`), so that the shared frame hands it back untouched. A run
 * interrupted before its frame is reached leaves `phase` set: later runs of
 * that FastCall then take the marked general path (correct, slower).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as CircuitBreaker from "../../CircuitBreaker.js"

type Admitted = CircuitBreaker.CircuitBreakerStore.Admitted
type Classifier = CircuitBreaker.Classifier<any, any>

/** No run in flight. */
const IDLE = 0
/** A run admitted by the frame (its ticket and start are in the frame). */
const ADMITTED = 1
/** A run the breaker handles on its general path (the frame hands its result back). */
const GENERAL = 2

/** What a {@link FastCall} needs from its breaker. @internal */
export interface Runner {
  /**
   * A run of `call` starts on `fiber`: decides admission. Returns what runs
   * next: `call.self` once it called `call.admitted(…)`, otherwise the
   * general path's effect (a rejection, a probe, …).
   */
  begin(fiber: Fiber.RuntimeFiber<unknown, unknown>, call: FastCall): Effect.Effect<unknown, unknown, unknown>
  /** The general path: for a run that cannot use the frame (overlapping runs, no fiber). */
  general(call: FastCall): Effect.Effect<unknown, unknown, unknown>
  /**
   * An admitted run of `call` succeeded or failed: records it, returns what
   * the caller gets. Reads the run's `ticket` and `start` at once (another
   * run of `call` may start while what it returns still runs).
   */
  succeeded(value: unknown, call: FastCall): Effect.Effect<unknown, unknown, unknown>
  failed(cause: Cause.Cause<unknown>, call: FastCall): Effect.Effect<unknown, unknown, unknown>
}

/** The success of an overlapping run (on the general path), handed back by the frame as it is. */
class Overlapping {
  constructor(readonly value: unknown) {}
}

/** Appended to the failure of an overlapping run (removed by the frame; `stripFailures` removes it too). */
const OVERLAPPING: Cause.Cause<unknown> = Cause.fail(new Overlapping(undefined))

/** The failure of an overlapping run: only {@link markOverlapping} puts the mark on the right of a cause. */
const isMarked = (cause: Cause.Cause<unknown>): cause is Cause.Sequential<unknown> =>
  (cause as { readonly right?: unknown }).right === OVERLAPPING

const markOverlapping = {
  onSuccess: (value: unknown) => Exit.succeed(new Overlapping(value)),
  onFailure: (cause: Cause.Cause<unknown>) => Exit.failCause(Cause.sequential(cause, OVERLAPPING))
}

/**
 * The fiber running now: what `Fiber.getCurrentFiber()` reads, without the
 * `Option` (the runtime sets it while a fiber runs; checked by `supported`).
 */
const currentFiber = (): Fiber.RuntimeFiber<unknown, unknown> | undefined =>
  (globalThis as unknown as Record<string, Fiber.RuntimeFiber<unknown, unknown> | undefined>)[CURRENT_FIBER]
const CURRENT_FIBER = "effect/FiberCurrent"

const sample = Effect.matchCauseEffect(Effect.void, { onFailure: Effect.failCause, onSuccess: Effect.succeed })
const primitive = sample as unknown as { readonly _op: string }

/**
 * One call through a breaker, as one Effect primitive (see the module
 * documentation). `self` is the effect the breaker wraps.
 * @internal
 */
export class FastCall {
  declare readonly _op: string
  phase = IDLE
  ticket: Admitted | undefined = undefined
  start = NaN
  constructor(
    readonly self: Effect.Effect<unknown, unknown, unknown>,
    readonly runner: Runner,
    readonly key: string | undefined,
    readonly classify: Classifier | undefined
  ) {}

  /** Called by the breaker from `begin`: the run is admitted with `ticket` at `start` (NaN: without the time). */
  admitted(ticket: Admitted, start: number): void {
    this.phase = ADMITTED
    this.ticket = ticket
    this.start = start
  }

  /** Read by the fiber runtime when a run starts (after pushing this frame). */
  get effect_instruction_i0(): Effect.Effect<unknown, unknown, unknown> {
    if (this.phase !== IDLE) return Effect.matchCauseEffect(this.runner.general(this), markOverlapping)
    const fiber = currentFiber()
    this.phase = GENERAL
    // Stryker disable next-line ConditionalExpression: equivalent: the runtime always runs a fiber's effects with the fiber current
    return fiber !== undefined ? this.runner.begin(fiber, this) : this.runner.general(this)
  }

  /** The failure continuation, called by the fiber runtime as a method. */
  effect_instruction_i1(cause: Cause.Cause<unknown>): Effect.Effect<unknown, unknown, unknown> {
    if (isMarked(cause)) return Exit.failCause(cause.left)
    if (this.phase !== ADMITTED) {
      this.phase = IDLE
      return Exit.failCause(cause)
    }
    this.phase = IDLE
    return this.runner.failed(cause, this)
  }

  /** The success continuation, called by the fiber runtime as a method. */
  effect_instruction_i2(value: unknown): Effect.Effect<unknown, unknown, unknown> {
    if (value instanceof Overlapping) return Exit.succeed(value.value)
    if (this.phase !== ADMITTED) {
      this.phase = IDLE
      return Exit.succeed(value)
    }
    this.phase = IDLE
    return this.runner.succeeded(value, this)
  }

  toJSON(): unknown {
    return { _id: "Effect", _op: "CircuitBreaker", self: this.self }
  }
}

Object.setPrototypeOf(FastCall.prototype, Object.getPrototypeOf(sample))
Object.defineProperty(FastCall.prototype, "_op", { value: primitive._op })
// the variance (and Effect version) the runtime checks, shared by every call
Object.defineProperty(FastCall.prototype, Effect.EffectTypeId, { value: (sample as any)[Effect.EffectTypeId] })

/** The effect a FastCall is, for the type checker. @internal */
export const asEffect = <A, E, R>(call: FastCall): Effect.Effect<A, E, R> => call as unknown as Effect.Effect<A, E, R>

let checked: boolean | undefined

/**
 * True when the fiber runtime runs a {@link FastCall} as this module expects
 * (checked once per process on probe runs: admission read on the fiber,
 * both continuations called on the frame, their results used, overlapping
 * and repeated runs handed back); false makes breakers take their general
 * path.
 * @internal
 */
export const supported = (): boolean => (checked ??= probe(defaultCall))

/** Overrides {@link supported} (tests of the general path); `undefined` checks again. @internal */
export const setSupported = (value: boolean | undefined): void => {
  checked = value
}

const defaultCall = (
  self: Effect.Effect<unknown, unknown, unknown>,
  runner: Runner,
  key: string | undefined,
  classify: Classifier | undefined
): FastCall => new FastCall(self, runner, key, classify)

/**
 * The probe behind {@link supported}, on the calls `make` builds (tests give
 * it FastCalls a runtime would mishandle, and see it answer false).
 * @internal
 */
export const probe = (
  make: (
    self: Effect.Effect<unknown, unknown, unknown>,
    runner: Runner,
    key: string | undefined,
    classify: Classifier | undefined
  ) => FastCall
): boolean => {
  try {
    let begun = 0
    const runner: Runner = {
      begin: (fiber, call) => {
        if (Fiber.isRuntimeFiber(fiber) && Option.getOrUndefined(Fiber.getCurrentFiber()) === fiber) begun++
        // Stryker disable next-line StringLiteral,ArrayDeclaration: equivalent: the probe's runner reads only the ticket's generation
        call.admitted({ _tag: "Admitted", generation: 1, lease: 0, transitions: [] }, 0)
        return call.self
      },
      general: (call) => Effect.mapBoth(call.self, { onFailure: (e) => `general ${e}`, onSuccess: (a) => `general ${a}` }),
      succeeded: (value, call) => Exit.succeed(`${value} ${call.ticket!.generation}`),
      failed: (cause) => Exit.succeed(`failed ${Cause.squash(cause)}`)
    }
    const call = (self: Effect.Effect<unknown, unknown>, inFlight = false) => {
      const fast = make(self, runner, undefined, undefined)
      if (inFlight) fast.phase = ADMITTED
      return asEffect<string, string, never>(fast)
    }
    const twice = call(Effect.succeed("twice"))
    const results = Effect.runSync(Effect.all([
      call(Effect.succeed("ok")),
      call(Effect.fail("boom")),
      Effect.gen(function*() {
        return yield* call(Effect.succeed("gen"))
      }),
      call(Effect.async<string>((resume) => resume(Effect.succeed("async")))),
      Effect.zipWith(twice, twice, (a, b) => `${a}|${b}`),
      call(Effect.succeed("overlap"), true),
      // the failure handed back whole: the mark removed (every failure of the cause, in order)
      Effect.map(Effect.flip(Effect.sandbox(call(Effect.fail("overlap"), true))), (cause) => Array.from(Cause.failures(cause)).join())
    ]))
    return begun === 6 && results.join(",") ===
      "ok 1,failed boom,gen 1,async 1,twice 1|twice 1,general overlap,general overlap"
  } catch {
    return false
  }
}
