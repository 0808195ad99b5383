/**
 * The timeout's fast path.
 *
 * `Effect.timeout` races two forked fibers (the work and a sleep) and costs
 * ~50 µs per successful call here. This path forks only the work and waits
 * for it with an observer; the deadline is a shared timer:
 *
 * - under the live `Clock`, one `setTimeout` per process armed for the
 *   earliest deadline, over FIFO lists of entries per duration (entries of one
 *   duration expire in insertion order), so adding and cancelling an entry is
 *   O(1) and no timer object is made per call. When no entry is pending the
 *   timer is `unref`'d, so it never keeps the process alive;
 * - under any other `Clock` (`TestClock`), a forked fiber sleeping on that
 *   clock, so tests drive it exactly as they drive `Effect.sleep`.
 *
 * Semantics are those of `Effect.timeoutFail` (tested side by side): on
 * success the work's FiberRefs are inherited; on timeout the work is
 * interrupted and awaited (or, with `disconnect`, interrupted in the
 * background); when the caller is interrupted the work is interrupted too.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"

const LiveClock = (Clock.make() as object).constructor

/** @internal */
export const isLiveClock = (clock: Clock.Clock): boolean => (clock as object).constructor === LiveClock

interface Entry {
  readonly at: number
  readonly fire: () => void
  list: List | undefined
  prev: Entry | undefined
  next: Entry | undefined
}

interface List {
  readonly duration: number
  head: Entry | undefined
  tail: Entry | undefined
}

/** One process-wide wheel for the live clock. @internal */
class LiveWheel {
  private readonly lists = new Map<number, List>()
  private timer: ReturnType<typeof setTimeout> | undefined
  private armedAt = Infinity
  private pending = 0

  add(duration: number, at: number, fire: () => void): Entry {
    let list = this.lists.get(duration)
    if (list === undefined) {
      list = { duration, head: undefined, tail: undefined }
      this.lists.set(duration, list)
    }
    const entry: Entry = { at, fire, list, prev: list.tail, next: undefined }
    if (list.tail === undefined) list.head = entry
    else list.tail.next = entry
    list.tail = entry
    this.pending++
    if (this.timer === undefined || at < this.armedAt) this.arm(at)
    else if (this.pending === 1) this.timer.ref()
    return entry
  }

  remove(entry: Entry): void {
    const list = entry.list
    if (list === undefined) return
    entry.list = undefined
    if (entry.prev === undefined) list.head = entry.next
    else entry.prev.next = entry.next
    if (entry.next === undefined) list.tail = entry.prev
    else entry.next.prev = entry.prev
    entry.prev = entry.next = undefined
    if (list.head === undefined) this.lists.delete(list.duration)
    this.pending--
    // nothing pending: let the process exit; the timer stays armed and fires harmlessly
    if (this.pending === 0 && this.timer !== undefined) this.timer.unref()
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.armedAt = at
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - Date.now()))
  }

  private tick(): void {
    this.timer = undefined
    this.armedAt = Infinity
    const now = Date.now()
    let next = Infinity
    for (const list of [...this.lists.values()]) {
      while (list.head !== undefined && list.head.at <= now) {
        const entry = list.head
        this.remove(entry)
        entry.fire()
      }
      if (list.head !== undefined && list.head.at < next) next = list.head.at
    }
    if (next !== Infinity) this.arm(next)
  }
}

const wheel = new LiveWheel()

const TIMED_OUT = Symbol.for("effect-resilience/Timeout/TimedOut")

/**
 * Runs `self` with a deadline `millis` from now on `clock`; on expiry fails
 * with `onTimeout()`.
 *
 * @internal
 */
export const timeoutFast = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  clock: Clock.Clock,
  millis: number,
  onTimeout: () => E2,
  disconnect: boolean
): Effect.Effect<A, E | E2, R> =>
  Effect.flatten(Effect.uninterruptibleMask((restore) =>
    // a daemon: its lifetime is managed here (interrupted on timeout and when the caller is
    // interrupted), and with `disconnect` the caller must not wait for it on exit
    Effect.flatMap(Effect.forkDaemon(restore(self)), (child) => {
      // settled by whichever comes first: the work's exit or the deadline
      let settled: Exit.Exit<A, E> | typeof TIMED_OUT | undefined
      let resume: ((effect: Effect.Effect<Exit.Exit<A, E> | typeof TIMED_OUT>) => void) | undefined
      const settle = (value: Exit.Exit<A, E> | typeof TIMED_OUT) => {
        if (settled !== undefined) return
        settled = value
        if (resume !== undefined) resume(Effect.succeed(value))
      }
      const onExit = (exit: Exit.Exit<A, E>) => settle(exit)
      const live = isLiveClock(clock)
      const entry = live ? wheel.add(millis, clock.unsafeCurrentTimeMillis() + millis, () => settle(TIMED_OUT)) : undefined
      const startTimer: Effect.Effect<Fiber.RuntimeFiber<void> | undefined> = live
        ? Effect.succeed(undefined)
        : Effect.forkDaemon(Effect.interruptible(Effect.zipRight(clock.sleep(Duration.millis(millis)), Effect.sync(() => settle(TIMED_OUT)))))
      return Effect.flatMap(startTimer, (sleeper) => {
        const cleanup: Effect.Effect<void> = Effect.suspend(() => {
          if (entry !== undefined) wheel.remove(entry)
          child.removeObserver(onExit)
          return sleeper === undefined ? Effect.void : Effect.asVoid(Fiber.interrupt(sleeper))
        })
        child.addObserver(onExit)
        const wait = Effect.async<Exit.Exit<A, E> | typeof TIMED_OUT>((cb) => {
          if (settled !== undefined) return cb(Effect.succeed(settled))
          resume = cb
        })
        // like Effect.timeoutTo: success and timeout are returned as effects and run after the
        // uninterruptible region (so an interruption that arrived meanwhile wins), failures inside it
        const onResult = (
          result: Exit.Exit<A, E> | typeof TIMED_OUT
        ): Effect.Effect<Effect.Effect<A, E2>, E> => {
          if (result === TIMED_OUT) {
            const stop = disconnect
              ? Effect.asVoid(Effect.forkDaemon(Fiber.interrupt(child)))
              : Effect.asVoid(Fiber.interrupt(child))
            return Effect.as(Effect.zipRight(cleanup, stop), Effect.failSync(onTimeout))
          }
          if (Exit.isSuccess(result)) {
            return Effect.as(Effect.zipRight(cleanup, Fiber.inheritAll(child)), Effect.succeed(result.value))
          }
          return Effect.zipRight(cleanup, Effect.map(result, (a) => Effect.succeed(a)))
        }
        return Effect.flatMap(
          Effect.onInterrupt(
            restore(wait),
            () => Effect.zipRight(cleanup, disconnect ? Fiber.interruptFork(child) : Effect.asVoid(Fiber.interrupt(child)))
          ),
          onResult
        )
      })
    })
  ))
