/**
 * Local elapsed time, measured the one way the library measures it.
 *
 * - **Monotonic.** Every bound the library keeps in one process (timeouts,
 *   breaks, `maxWait`, refills, leases, windows) is measured on the fiber's
 *   `Clock` nanos: under Effect's live clock they come from `process.hrtime`
 *   (never step with NTP, VM resume or a manual change of the system time);
 *   under `TestClock` they follow `TestClock.adjust`. Wall-clock millis
 *   (`Date.now()`, `clock.unsafeCurrentTimeMillis()`) are read only for an
 *   instant shared between processes or shown to people, each such place
 *   documented where it reads them.
 * - **Any duration.** Node timers, and Effect's scheduler with them, cap a
 *   wait at 2^31−1 ms (~24.8 days): Effect's live `Clock.sleep` silently
 *   never fires past it. {@link sleep} and {@link timeoutFail} wait any finite
 *   duration in chunks, and an infinite one forever.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Option from "effect/Option"
import { detached } from "./detached.js"

/** The longest wait a Node timer (and Effect's scheduler) honours, in milliseconds. @internal */
export const MAX_TIMER_MILLIS = 2 ** 31 - 1

/** Effect's live clock. @internal */
export const liveClock: Clock.Clock = Context.get(DefaultServices.liveServices, Clock.Clock)

/**
 * Monotonic milliseconds of `clock`: under Effect's live clock,
 * `performance.now()` (monotonic, the same source as the live clock's nanos,
 * without the bigint); under any other clock (`TestClock`, a `Testing`
 * clock), its nanos. Comparable only within one process and one clock.
 *
 * @internal
 */
export const monotonicMillis = (clock: Clock.Clock): number =>
  clock === liveClock ? performance.now() : Number(clock.unsafeCurrentTimeNanos()) / 1_000_000

/** {@link monotonicMillis} of the fiber's clock, as an Effect. @internal */
export const currentMonotonicMillis: Effect.Effect<number> = Effect.clockWith((clock) =>
  Effect.sync(() => monotonicMillis(clock))
)

/**
 * Sleeps `millis` on `clock`, any duration: up to {@link MAX_TIMER_MILLIS} one
 * sleep; longer, in chunks re-measured on monotonic time; `Infinity`, forever.
 * Non-positive: returns at once.
 *
 * @internal
 */
export const sleepOn = (clock: Clock.Clock, millis: number): Effect.Effect<void> => {
  // (NaN and negatives: at once)
  if (!(millis > 0)) return clock.sleep(Duration.zero)
  if (millis <= MAX_TIMER_MILLIS) return clock.sleep(Duration.millis(millis))
  if (millis === Infinity) return Effect.never
  // the end is read when the sleep runs (each run of the effect sleeps its whole duration)
  return Effect.suspend(() => {
    const until = monotonicMillis(clock) + millis
    const chunk: Effect.Effect<void> = Effect.suspend(() => {
      const left = until - monotonicMillis(clock)
      if (left <= 0) return Effect.void
      return left <= MAX_TIMER_MILLIS
        ? clock.sleep(Duration.millis(left))
        : Effect.zipRight(clock.sleep(Duration.millis(MAX_TIMER_MILLIS)), chunk)
    })
    return chunk
  })
}

/**
 * Sleeps `duration` (any `DurationInput`, infinity included) on the fiber's
 * clock: see {@link sleepOn}.
 *
 * @internal
 */
export const sleep = (duration: Duration.DurationInput): Effect.Effect<void> => {
  const millis = Duration.toMillis(duration)
  return !(millis > MAX_TIMER_MILLIS)
    ? Effect.sleep(Duration.millis(millis > 0 ? millis : 0))
    : Effect.clockWith((clock) => sleepOn(clock, millis))
}

/**
 * `Effect.timeoutFail` for any duration: an infinite one is no timeout; one
 * past {@link MAX_TIMER_MILLIS} races the work against a chunked sleep (the
 * work interrupted and awaited when the sleep wins, as `Effect.timeoutFail`
 * does). Inside an uninterruptible region the race runs on a fiber of its
 * own ({@link detached}): the caller's interruption neither kills the timer
 * (read as a timeout) nor cuts work made interruptible for the bound.
 *
 * @internal
 */
export const timeoutFail = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  options: { readonly duration: Duration.DurationInput; readonly onTimeout: () => E2 }
): Effect.Effect<A, E | E2, R> => {
  const millis = Duration.toMillis(options.duration)
  if (millis === Infinity) return self
  if (millis <= MAX_TIMER_MILLIS) return detached(Effect.timeoutFail(self, { duration: Duration.millis(millis), onTimeout: options.onTimeout }))
  return detached(Effect.raceWith(self, Effect.interruptible(sleep(millis)), {
    onSelfDone: (exit, sleeper) => Effect.zipRight(Fiber.interrupt(sleeper), exit),
    onOtherDone: (_, work) => Effect.zipRight(Fiber.interrupt(work), Exit.fail(options.onTimeout()))
  }))
}

/** `clock` with sleeps of any duration (see {@link sleepOn}); everything else is `clock`'s. */
class LongSleepClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  constructor(readonly base: Clock.Clock) {}
  unsafeCurrentTimeMillis(): number {
    return this.base.unsafeCurrentTimeMillis()
  }
  unsafeCurrentTimeNanos(): bigint {
    return this.base.unsafeCurrentTimeNanos()
  }
  get currentTimeMillis(): Effect.Effect<number> {
    return this.base.currentTimeMillis
  }
  get currentTimeNanos(): Effect.Effect<bigint> {
    return this.base.currentTimeNanos
  }
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return sleepOn(this.base, Duration.toMillis(duration))
  }
}
const longSleepClocks = new WeakMap<Clock.Clock, Clock.Clock>()

/**
 * Runs `self` (Effect machinery that sleeps through `Clock`, such as
 * `Effect.repeat` with a user's `Schedule`) with sleeps of any duration on
 * `clock`. Wrap only the machinery: user code inside should run under `clock`
 * itself (`Effect.withClock(userCode, clock)`).
 *
 * @internal
 */
export const withLongSleeps = <A, E, R>(clock: Clock.Clock, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  let long = longSleepClocks.get(clock)
  if (long === undefined) longSleepClocks.set(clock, long = new LongSleepClock(clock))
  return Effect.withClock(self, long)
}

const TimedOut: unique symbol = Symbol.for("effect-resilience/time/TimedOut")

/**
 * `Effect.timeoutOption` for any duration (see {@link timeoutFail}): `None`
 * when `duration` passes first.
 *
 * @internal
 */
export const timeoutOption = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.DurationInput
): Effect.Effect<Option.Option<A>, E, R> =>
  Effect.catchIf(
    timeoutFail(Effect.asSome(self), { duration, onTimeout: (): E | typeof TimedOut => TimedOut }),
    (e): e is typeof TimedOut => e === TimedOut,
    () => Effect.succeedNone
  ) as Effect.Effect<Option.Option<A>, E, R>
