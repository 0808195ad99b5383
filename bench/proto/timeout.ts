/**
 * Prototype: a timeout with one fiber per call, no per-call timer, and no
 * scheduler hop when the work completes synchronously. Measured against
 * `Effect.timeout` and `Timeout.make` in `bench/cases/proto.ts`; behaviour
 * checked against `Effect.timeout` by `bench/proto/timeout-check.ts`
 * (`npx tsx bench/proto/timeout-check.ts`). Not used by src/ — a proposal for
 * the owner of `Timeout.ts` (see bench/README.md, "Fast path notes").
 *
 * Where `Effect.timeout` costs (per call, on the success path):
 * - `raceFibersWith` forks TWO child fibers (the work and `Effect.sleep`), and
 *   a forked fiber does not start at once: it is queued on the scheduler, so
 *   the caller suspends, the scheduler runs the work fiber and the sleep fiber
 *   on a later microtask, and the caller is resumed on a third;
 * - the sleep fiber arms a `setTimeout` through the Clock, and the loser's
 *   interruption (`interruptAsFiber`) is awaited: one more fiber round trip
 *   and a `clearTimeout`;
 * - `winner.inheritAll` joins the FiberRefs of the work fiber.
 *
 * What this prototype does instead:
 * 1. The work runs in ONE new fiber started with `Runtime.runFork`, whose
 *    default `immediate: true` starts it synchronously on the caller's stack.
 *    If the work completes without suspending (a cache hit, a sync call, a
 *    rejection by an inner policy), its `Exit` is read with `unsafePoll()` and
 *    returned at once: no timer, no scheduler hop.
 * 2. Otherwise the call registers in a per-policy deadline list (sorted; with
 *    one duration per policy, appends are O(1)) and suspends until the work
 *    fiber's observer fires. ONE timer per policy (not per call) watches the
 *    earliest deadline:
 *    - with Effect's live `Clock` (detected by identity with
 *      `DefaultServices.liveServices`), a Node timer that is re-armed only when
 *      the earliest deadline moves earlier, and `unref`'d while no call is
 *      pending (it never keeps the process alive for nothing);
 *    - with any other `Clock` (`TestClock`), a daemon fiber sleeping with
 *      `clock.sleep`, so `TestClock.adjust` drives it exactly as it drives
 *      `Effect.timeout`.
 * 3. At the deadline the timer interrupts the work fiber and the caller fails
 *    with `TimeoutError` once the work has been interrupted (its finalizers
 *    have run), like `Effect.timeout`; with `disconnect` it fails at once.
 * 4. If the caller is interrupted, the work fiber is interrupted and awaited.
 * 5. FiberRefs changed by the work are inherited on success (as
 *    `Effect.timeout` does); the join (~4 µs) is skipped when the work changed
 *    none (compared by value, see `unchanged`).
 *
 * The deadline of an enclosing timeout (`currentDeadline`) is honoured as
 * `Timeout.make` does, and set for the work in the new fiber's FiberRefs
 * (no `Effect.locally`).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import { TimeoutError } from "../../src/Errors.js"
import { currentDeadline, type Deadline } from "../../src/internal/deadline.js"
import { type Policy, unsafeMakeCallable } from "../../src/Policy.js"

/** Effect's live clock: when the fiber's clock is this one, a Node timer is equivalent to `clock.sleep`. */
const liveClock: Clock.Clock = Context.get(DefaultServices.liveServices, Clock.Clock)

/** A pending call. */
interface Entry {
  readonly deadline: number
  readonly fiber: Fiber.RuntimeFiber<any, any>
  /** Set by the timer when it interrupts the work. */
  timedOut: boolean
  /** Called by the timer, with `disconnect`, to fail the caller at once. */
  onTimeout: (() => void) | undefined
  prev: Entry | undefined
  next: Entry | undefined
  linked: boolean
}

/** Pending calls sorted by deadline (a doubly linked list: O(1) removal, O(1) append in the common case). */
abstract class Deadlines {
  head: Entry | undefined = undefined
  tail: Entry | undefined = undefined
  constructor(readonly interruptor: FiberId.FiberId) {}

  /** Inserts; true if the entry is the new head. */
  protected link(e: Entry): boolean {
    e.linked = true
    let after = this.tail
    while (after !== undefined && after.deadline > e.deadline) after = after.prev
    e.prev = after
    e.next = after === undefined ? this.head : after.next
    if (e.next === undefined) this.tail = e
    else e.next.prev = e
    if (after === undefined) this.head = e
    else after.next = e
    return after === undefined
  }

  /** Removes; true if the list became empty. */
  protected unlink(e: Entry): boolean {
    if (!e.linked) return false
    e.linked = false
    if (e.prev === undefined) this.head = e.next
    else e.prev.next = e.next
    if (e.next === undefined) this.tail = e.prev
    else e.next.prev = e.prev
    e.prev = e.next = undefined
    return this.head === undefined
  }

  /** Times out every entry whose deadline has passed. */
  protected expire(now: number): void {
    let e = this.head
    while (e !== undefined && e.deadline <= now) {
      const next = e.next
      this.unlink(e)
      e.timedOut = true
      e.fiber.unsafeInterruptAsFork(this.interruptor)
      e.onTimeout?.()
      e = next
    }
  }

  abstract add(e: Entry, now: number, runtime: () => Runtime.Runtime<never>): void
  abstract remove(e: Entry): void
}

/** With the live clock: one Node timer for the whole policy. */
class NodeTimer extends Deadlines {
  private handle: ReturnType<typeof setTimeout> | undefined = undefined
  private armedAt = Infinity
  private refed = false

  add(e: Entry, now: number): void {
    const first = this.head === undefined
    this.link(e)
    if (this.handle === undefined || e.deadline < this.armedAt) this.arm(e.deadline, now)
    else if (first && !this.refed) {
      this.handle.ref()
      this.refed = true
    }
  }

  remove(e: Entry): void {
    if (this.unlink(e) && this.handle !== undefined && this.refed) {
      // no call pending: the armed timer must not keep the process alive
      this.handle.unref()
      this.refed = false
    }
  }

  private arm(at: number, now: number): void {
    if (this.handle !== undefined) clearTimeout(this.handle)
    this.armedAt = at
    this.refed = true
    this.handle = setTimeout(this.fire, Math.max(0, at - now))
  }

  private readonly fire = (): void => {
    this.handle = undefined
    this.armedAt = Infinity
    const now = liveClock.unsafeCurrentTimeMillis()
    this.expire(now)
    if (this.head !== undefined) this.arm(this.head.deadline, now)
  }
}

/** With any other clock (TestClock): a daemon fiber sleeping on `clock.sleep` until the earliest deadline. */
class FiberTimer extends Deadlines {
  private fiber: Fiber.RuntimeFiber<void> | undefined = undefined
  private sleepingUntil = Infinity
  constructor(interruptor: FiberId.FiberId, readonly clock: Clock.Clock) {
    super(interruptor)
  }

  add(e: Entry, _now: number, runtime: () => Runtime.Runtime<never>): void {
    this.link(e)
    if (this.fiber === undefined || e.deadline < this.sleepingUntil) this.restart(runtime())
  }

  remove(e: Entry): void {
    if (this.unlink(e) && this.fiber !== undefined) {
      this.fiber.unsafeInterruptAsFork(this.interruptor)
      this.fiber = undefined
      this.sleepingUntil = Infinity
    }
  }

  private restart(runtime: Runtime.Runtime<never>): void {
    this.fiber?.unsafeInterruptAsFork(this.interruptor)
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      const head = this.head
      if (head === undefined) {
        this.fiber = undefined
        this.sleepingUntil = Infinity
        return Effect.void
      }
      this.sleepingUntil = head.deadline
      const now = this.clock.unsafeCurrentTimeMillis()
      return Effect.zipRight(
        this.clock.sleep(Duration.millis(Math.max(0, head.deadline - now))),
        Effect.suspend(() => {
          this.expire(this.clock.unsafeCurrentTimeMillis())
          return loop
        })
      )
    })
    this.fiber = Runtime.runFork(runtime)(loop)
  }
}

/**
 * True when the work left every FiberRef as it found it (same value on top of
 * each stack), so that joining its FiberRefs would change nothing. Compared by
 * value because `getFiberRefs()` always returns a fresh `FiberRefs` (it
 * records the runtime flags first). The runtime flags are compared as
 * `inheritAll` joins them: a finished fiber has `WindDown` set, and
 * `Interruption` is never inherited. O(number of FiberRefs), no allocation.
 */
const unchanged = (initial: FiberRefs.FiberRefs, final: FiberRefs.FiberRefs): boolean => {
  if (initial.locals.size !== final.locals.size) return false
  for (const [ref, stack] of final.locals) {
    const before = initial.locals.get(ref)
    if (before === undefined) return false
    const a = before[0][1]
    const b = stack[0][1]
    if (a === b) continue
    if (ref === FiberRef.currentRuntimeFlags && ((a ^ b) & ~IGNORED_FLAGS) === 0) continue
    return false
  }
  return true
}
const IGNORED_FLAGS = RuntimeFlags.WindDown | RuntimeFlags.Interruption

/** Options of the prototype. */
export interface Options {
  readonly name?: string | undefined
  readonly disconnect?: boolean | undefined
  /** `"auto"` (default): a Node timer with the live clock, a fiber otherwise. `"fiber"`: always a fiber. */
  readonly timer?: "auto" | "fiber" | undefined
  /** Inherit the work's FiberRefs only when it changed them (default true). For measurement. */
  readonly skipUnchangedRefs?: boolean | undefined
}

/** The prototype timeout: same contract as `Timeout.make`. */
export const make = (duration: Duration.DurationInput, options: Options = {}): Policy<TimeoutError> => {
  const d = Duration.decode(duration)
  const millis = Duration.toMillis(d)
  const name = options.name
  const disconnect = options.disconnect === true
  const forceFiber = options.timer === "fiber"
  const skipUnchanged = options.skipUnchangedRefs !== false
  const interruptor = FiberId.make(-1, 0)
  let nodeTimer: NodeTimer | undefined
  const fiberTimers = new WeakMap<Clock.Clock, FiberTimer>()
  const timerFor = (clock: Clock.Clock): Deadlines => {
    if (clock === liveClock && !forceFiber) return (nodeTimer ??= new NodeTimer(interruptor))
    let t = fiberTimers.get(clock)
    if (t === undefined) fiberTimers.set(clock, t = new FiberTimer(interruptor, clock))
    return t
  }

  const timeout = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | TimeoutError, R> =>
    Effect.withFiberRuntime<A, E | TimeoutError, R>((parent, status) => {
      const clock = Context.get(parent.currentDefaultServices, Clock.Clock)
      const now = clock.unsafeCurrentTimeMillis()
      const outer = parent.getFiberRef(currentDeadline)
      let budget = millis
      let deadline: Deadline = { at: now + millis, duration: d, policy: name }
      let error = (): TimeoutError => new TimeoutError({ duration: d, policy: name })
      if (outer !== undefined && outer.at <= now + millis) {
        budget = Math.max(0, outer.at - now)
        deadline = outer
        error = () => new TimeoutError({ duration: outer.duration, policy: outer.policy, scope: "overall" })
      }
      if (budget <= 0) return Effect.fail(error())

      const context = parent.currentContext as Context.Context<R>
      const runtime = Runtime.make({ context, runtimeFlags: status.runtimeFlags, fiberRefs: parent.getFiberRefs() })
      let initialRefs: FiberRefs.FiberRefs | undefined
      const fiber = Runtime.runFork(runtime)(self, {
        updateRefs: (refs, fiberId) => {
          const withDeadline = outer === deadline ? refs : FiberRefs.updateAs(refs, { fiberId, fiberRef: currentDeadline, value: deadline })
          initialRefs = withDeadline
          return withDeadline
        }
      })

      const succeed = (value: A): Effect.Effect<A> =>
        skipUnchanged && unchanged(initialRefs!, fiber.getFiberRefs())
          ? Exit.succeed(value)
          // inherit what the work changed, but not the deadline it ran under
          : Effect.as(Effect.zipRight(fiber.inheritAll, FiberRef.set(currentDeadline, outer)), value)

      // 1. completed synchronously: no timer, no hop
      const done = fiber.unsafePoll()
      if (done !== null) return done._tag === "Success" ? succeed(done.value) : done

      // 2. suspended: register with the policy's timer and wait for the work
      const timer = timerFor(clock)
      const entry: Entry = {
        deadline: now + budget,
        fiber,
        timedOut: false,
        onTimeout: undefined,
        prev: undefined,
        next: undefined,
        linked: false
      }
      timer.add(entry, now, () => runtime as Runtime.Runtime<never>)
      return Effect.async<A, E | TimeoutError>((resume) => {
        let resumed = false
        const finish = (effect: Effect.Effect<A, E | TimeoutError>) => {
          if (!resumed) {
            resumed = true
            resume(effect)
          }
        }
        if (disconnect) entry.onTimeout = () => finish(Effect.fail(error()))
        fiber.addObserver((exit) => {
          timer.remove(entry)
          if (exit._tag === "Success") finish(succeed(exit.value))
          else if (entry.timedOut && Cause.isInterruptedOnly(exit.cause)) finish(Effect.fail(error()))
          else finish(exit)
        })
        // 4. the caller is interrupted: interrupt the work (and wait for it, unless disconnected)
        return Effect.suspend(() => {
          timer.remove(entry)
          if (disconnect) {
            fiber.unsafeInterruptAsFork(parent.id())
            return Effect.void
          }
          return Effect.asVoid(fiber.interruptAsFork(parent.id()).pipe(Effect.zipRight(fiber.await)))
        })
      })
    })

  return unsafeMakeCallable(timeout, {
    kind: "Timeout",
    name,
    options: { duration: Duration.format(d), disconnect, prototype: true }
  }) as unknown as Policy<TimeoutError>
}
