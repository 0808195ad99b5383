/**
 * src/internal/time.ts: the library's one way to measure elapsed time and to wait any duration.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Fiber, Option, TestClock } from "effect"
import { MAX_TIMER_MILLIS, monotonicMillis, sleep, sleepOn, timeoutFail, timeoutOption } from "../../src/internal/time.js"

const DAY = 86_400_000

describe("internal/time", () => {
  it.effect("monotonicMillis follows TestClock (its nanos), not a wall-clock read", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const before = monotonicMillis(clock)
      yield* TestClock.adjust("1500 millis")
      assert.strictEqual(monotonicMillis(clock) - before, 1500)
    }))

  it.effect("sleepOn: NaN, negative and zero return at once; a duration past the timer cap sleeps in chunks, exactly", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      for (const millis of [NaN, -5, 0]) {
        const f = yield* Effect.fork(sleepOn(clock, millis))
        yield* TestClock.adjust(0)
        assert.isNotNull(f.unsafePoll(), String(millis))
      }
      const long = yield* Effect.fork(sleepOn(clock, 30 * DAY))
      yield* Effect.yieldNow()
      // never a single sleep past the cap
      for (const at of Chunk.toReadonlyArray(yield* TestClock.sleeps())) {
        assert.isAtMost(at - (yield* TestClock.currentTimeMillis), MAX_TIMER_MILLIS)
      }
      yield* TestClock.adjust(30 * DAY - 1)
      assert.isNull(long.unsafePoll())
      yield* TestClock.adjust(1)
      assert.isNotNull(long.unsafePoll())
    }))

  it.effect("sleep(Infinity) never returns; sleep of a long duration returns at it", () =>
    Effect.gen(function*() {
      const forever = yield* Effect.fork(sleep(Duration.infinity))
      const long = yield* Effect.fork(sleep(Duration.days(40)))
      yield* TestClock.adjust(Duration.days(40))
      assert.isNotNull(long.unsafePoll())
      assert.isNull(forever.unsafePoll())
      yield* Fiber.interrupt(forever)
    }))

  it.effect("timeoutFail and timeoutOption work past the timer cap and treat infinity as no timeout", () =>
    Effect.gen(function*() {
      const cut = yield* Effect.fork(timeoutFail(Effect.never, { duration: Duration.days(30), onTimeout: () => "late" }))
      const none = yield* Effect.fork(timeoutOption(Effect.never, Duration.days(30)))
      const unbounded = yield* Effect.fork(timeoutFail(Effect.as(Effect.sleep(Duration.days(400)), "done"), {
        duration: Duration.infinity,
        onTimeout: () => "never"
      }))
      yield* TestClock.adjust(Duration.days(30))
      assert.strictEqual(yield* Effect.flip(Fiber.join(cut)), "late")
      assert.isTrue(Option.isNone(yield* Fiber.join(none)))
      yield* TestClock.adjust(Duration.days(370))
      assert.strictEqual(yield* Fiber.join(unbounded), "done")
    }))
})
