/**
 * The timeout's fast path (adapted from the prototype measured in
 * `bench/proto/timeout.ts`, since removed; see bench/README.md, "Fast path notes").
 *
 * `Effect.timeout` races two forked fibers (the work and a sleep), each
 * started on a later scheduler tick, plus a `setTimeout` per call and a
 * FiberRefs join: ~20–45 µs per successful call here. This path:
 *
 * 1. runs the work in ONE fiber started synchronously on the caller's stack
 *    (`Runtime.runFork`, `immediate`), under the caller's context, FiberRefs
 *    and interruptibility; if it completes without suspending, its `Exit` is
 *    returned at once (no timer, no scheduler hop);
 * 2. otherwise registers the call in the policy's deadline list (sorted,
 *    doubly linked: O(1) append for one duration, O(1) removal) watched by
 *    ONE timer per policy: under Effect's live `Clock` a Node timer re-armed
 *    only when the earliest deadline moves earlier and `unref`'d while nothing
 *    is pending (never keeps the process alive); under any other `Clock`
 *    (`TestClock`) a daemon fiber sleeping on that clock, so `TestClock`
 *    drives it exactly as it drives `Effect.timeout`;
 * 3. at the deadline interrupts the work and fails the caller once the work
 *    has stopped (at once with `disconnect`); a caller that is interrupted
 *    interrupts the work (and awaits it unless disconnected);
 * 4. on success inherits the work's FiberRefs, skipping the join when the
 *    work changed none.
 *
 * The semantics are `Effect.timeoutFail`'s: a property test runs random
 * scenarios through both (test/Timeout.fastpath.test.ts).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import { background } from "../detached.js"
import type { TimeoutError } from "../errors.js"
import { currentDeadline, type Deadline, reportExpired, timeoutInterruptor } from "../deadline.js"
// when the fiber's clock is Effect's live clock, a Node timer is equivalent to `clock.sleep`
import { liveClock, MAX_TIMER_MILLIS, monotonicMillis, sleepOn } from "../time.js"


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
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: no caller reads the result (add() compares deadlines itself)
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
  // Stryker disable next-line BooleanLiteral: equivalent: read only while a handle exists, and arm() sets it when it creates one
  private refed = false

  add(e: Entry, now: number): void {
    const first = this.head === undefined
    this.link(e)
    if (this.handle === undefined || e.deadline < this.armedAt) {
      this.arm(e.deadline, now)
    } else if (
      // Stryker disable next-line LogicalOperator: equivalent: the timer is unref'd only while no call is pending, so `!this.refed` implies `first`
      first && !this.refed
    ) {
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
    // a deadline past Node's timer cap is reached in steps: fire() re-arms while it is not due
    this.handle = setTimeout(this.fire, Math.min(MAX_TIMER_MILLIS, Math.max(0, at - now)))
  }

  private readonly fire = (): void => {
    this.handle = undefined
    this.armedAt = Infinity
    const now = monotonicMillis(liveClock)
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
      const now = monotonicMillis(this.clock)
      return Effect.zipRight(
        // yield once after waking, so that work due at the same instant completes first
        // (at a tie the work wins, as with Effect.timeout, whose work is registered first)
        Effect.zipRight(sleepOn(this.clock, head.deadline - now), Effect.yieldNow()),
        Effect.suspend(() => {
          this.expire(monotonicMillis(this.clock))
          return loop
        })
      )
    })
    // interruptible: the runtime carries the caller's flags, and an uninterruptible timer could not be stopped
    this.fiber = Runtime.runFork(runtime)(background(loop))
  }
}

/**
 * True when the work's FiberRefs hold the caller's values (same value on top
 * of each stack), so that joining them would change nothing. Compared with the
 * caller's FiberRefs, not the work's initial ones: a FiberRef with a `fork`
 * function starts the work with a forked value, which `inheritAll` joins back
 * (as `Effect.timeout` does) even when the work never touches it. The deadline
 * the work ran under is skipped (never joined back: see deadline.ts); a
 * FiberRef the work deleted is not (joining never deletes). Compared by value
 * because `getFiberRefs()` always returns a fresh `FiberRefs` (it records the
 * runtime flags first). The runtime flags are compared as `inheritAll` joins
 * them: a finished fiber has `WindDown` set, and `Interruption` is never
 * inherited. O(number of FiberRefs), no allocation.
 */
// Stryker disable next-line BlockStatement: equivalent: returning undefined only makes every call join the work's FiberRefs, a no-op when they did not change
const unchanged = (caller: FiberRefs.FiberRefs, final: FiberRefs.FiberRefs): boolean => {
  for (const [ref, stack] of final.locals) {
    if (ref === currentDeadline) continue
    const before = caller.locals.get(ref)
    // Stryker disable next-line EqualityOperator: equivalent: the work's FiberRefs start as a copy of the caller's (the runtime flags always among them), so the first ref visited is the caller's and `!==` returns false there: every call joins, a no-op when nothing changed
    if (before === undefined) return false
    const a = before[0][1]
    const b = stack[0][1]
    if (a === b) continue
    // Stryker disable next-line UnaryOperator: equivalent: with the mask inverted the runtime flags always differ (WindDown), so every call joins the work's FiberRefs: the same result, without the shortcut
    if (ref === FiberRef.currentRuntimeFlags && ((a ^ b) & ~IGNORED_FLAGS) === 0) continue
    return false
  }
  // Stryker disable next-line BooleanLiteral: equivalent: false only makes every call join the work's FiberRefs, a no-op when they did not change
  return true
}
const IGNORED_FLAGS = RuntimeFlags.WindDown | RuntimeFlags.Interruption


/**
 * The caller's failure at a timeout: the error, reported to the deadline's
 * timeout (its events and metric). Built only on the timeout path.
 */
const timedOutWith = <E2>(error: () => E2, deadline: Deadline | undefined): Effect.Effect<never, E2> =>
  deadline === undefined ? Effect.failSync(error) : Effect.failSync(() => {
    const e = error()
    reportExpired(deadline, e as TimeoutError)
    return e
  })

/**
 * The per-policy state of the fast path: its timers (one per clock).
 * @internal
 */
export interface FastTimeout {
  readonly run: <A, E, R, E2>(
    self: Effect.Effect<A, E, R>,
    options: {
      readonly budget: number
      /** The deadline the work runs under (`undefined` with `outer` undefined: leave it unset). */
      readonly deadline: Deadline | undefined
      readonly outer: Deadline | undefined
      readonly error: () => E2
      readonly disconnect: boolean
    }
  ) => Effect.Effect<A, E | E2, R>
}

/**
 * The fast path's timers, interrupting timed-out work with `interruptor`:
 * the library's timeout marker by default (a breaker inside the work counts
 * a call it cut: deadline.ts); a request's deadline uses its own marker.
 *
 * @internal
 */
export const makeFastTimeout = (interruptor: FiberId.FiberId = timeoutInterruptor): FastTimeout => {
  let nodeTimer: NodeTimer | undefined
  // made at the first call under another clock (TestClock): a policy made per request under the live clock makes none
  let fiberTimers: WeakMap<Clock.Clock, FiberTimer> | undefined
  const timerFor = (clock: Clock.Clock): Deadlines => {
    if (clock === liveClock) return (nodeTimer ??= new NodeTimer(interruptor))
    fiberTimers ??= new WeakMap()
    let t = fiberTimers.get(clock)
    if (t === undefined) fiberTimers.set(clock, t = new FiberTimer(interruptor, clock))
    return t
  }

  const run = <A, E, R, E2>(
    self: Effect.Effect<A, E, R>,
    { budget, deadline, disconnect, error, outer }: {
      readonly budget: number
      /** The deadline the work runs under (`undefined` with `outer` undefined: leave it unset). */
      readonly deadline: Deadline | undefined
      readonly outer: Deadline | undefined
      readonly error: () => E2
      readonly disconnect: boolean
    }
  ): Effect.Effect<A, E | E2, R> =>
    Effect.withFiberRuntime<A, E | E2, R>((parent, status) => {
      const clock = Context.get(parent.currentDefaultServices, Clock.Clock)
      const now = monotonicMillis(clock)
      const context = parent.currentContext as Context.Context<R>
      const callerRefs = parent.getFiberRefs()
      const runtime = Runtime.make({ context, runtimeFlags: status.runtimeFlags, fiberRefs: callerRefs })
      // the user's work, with the caller's flags on purpose (it runs as the caller would run it)
      // eslint-disable-next-line no-restricted-syntax
      const fiber = Runtime.runFork(runtime)(self, {
        updateRefs: (refs, fiberId) =>
          outer === deadline ? refs : FiberRefs.updateAs(refs, { fiberId, fiberRef: currentDeadline, value: deadline })
      })

      // the deadline ends with the work it bounds (forks that outlive the work see none): see deadline.ts
      const end = deadline === undefined || deadline === outer ? undefined : deadline
      const succeed = (value: A): Effect.Effect<A> =>
        unchanged(callerRefs, fiber.getFiberRefs())
          ? Exit.succeed(value)
          // inherit what the work changed (the deadline it ran under is never joined back: see deadline.ts)
          : Effect.as(fiber.inheritAll, value)

      // 1. completed synchronously: no timer, no hop
      const done = fiber.unsafePoll()
      if (done !== null) {
        if (end !== undefined) end.active = false
        return done._tag === "Success" ? succeed(done.value) : done
      }

      // 2. suspended: register with the policy's timer and wait for the work
      const timer = timerFor(clock)
      const entry: Entry = {
        deadline: now + budget,
        fiber,
        timedOut: false,
        onTimeout: undefined,
        prev: undefined,
        next: undefined,
        // Stryker disable next-line BooleanLiteral: equivalent: link() sets it before anything reads it
        linked: false
      }
      timer.add(entry, now, () => runtime as Runtime.Runtime<never>)
      return Effect.async<A, E | E2>((resume) => {
        let resumed = false
        const finish = (effect: Effect.Effect<A, E | E2>) => {
          if (!resumed) {
            // Stryker disable next-line BooleanLiteral: equivalent: Effect's async resume already ignores every call after the first
            resumed = true
            resume(effect)
          }
        }
        if (disconnect) entry.onTimeout = () => finish(timedOutWith(error, deadline))
        fiber.addObserver((exit) => {
          if (end !== undefined) end.active = false
          timer.remove(entry)
          // 3. timed out: the caller fails once the work has stopped, whatever its exit
          if (entry.timedOut) finish(timedOutWith(error, deadline))
          else if (exit._tag === "Success") finish(succeed(exit.value))
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
  return { run }
}
