/**
 * Tests written against the Timeout module's surviving mutants (reports/mutation/Timeout.json):
 * each group pins one promise that no other test checked, so that the mutant breaking it fails here.
 * Equivalent mutants are not tested: where every mutant of a mutator on a line is equivalent, a
 * Stryker-disable comment in src/internal says why.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Clock,
  ConfigError,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberRef,
  Metric,
  MetricKeyType,
  Option,
  TestClock
} from "effect"
import { Errors, Timeout } from "effect-resilience"
import { vi } from "vitest"
import { currentDeadline, type Deadline, type DeadlineOwner, expired, reportExpired, waitWithin } from "../src/internal/deadline.js"
import { MAX_TIMER_MILLIS, monotonicMillis, sleep, sleepOn, timeoutFail, withLongSleeps } from "../src/internal/time.js"
import { makeFastTimeout } from "../src/internal/timeout/fastPath.js"
import { withConfig } from "./utils/config.js"

const DAY = 86_400_000

/** The sleeps registered with the TestClock, as millis from now. */
const pendingSleeps = Effect.gen(function*() {
  const now = yield* TestClock.currentTimeMillis
  return Chunk.toReadonlyArray(yield* TestClock.sleeps()).map((at) => at - now)
})

/** A deadline at `at` (monotonic millis), told to `owner`. */
const deadlineAt = (at: number, owner?: DeadlineOwner): Deadline => ({
  at,
  duration: Duration.millis(100),
  policy: "p",
  error: () => new Errors.TimeoutError({ duration: Duration.millis(100), policy: "p", scope: "overall" }),
  active: true,
  owner,
  reported: false
})

describe("internal/time: an effect of sleepOn is a description, each run sleeping the whole duration", () => {
  // pins sleepOn's one-sleep branch (up to the timer cap, the cap itself included): the wait is measured
  // from when the effect runs, not from when it was built (the chunked branch measures from its construction)
  for (const millis of [1000, MAX_TIMER_MILLIS]) {
    it.effect(`sleepOn(clock, ${millis === MAX_TIMER_MILLIS ? "MAX_TIMER_MILLIS" : millis}) run twice sleeps twice`, () =>
      Effect.gen(function*() {
        const clock = yield* Effect.clock
        const once = sleepOn(clock, millis)
        const fiber = yield* Effect.fork(Effect.zipRight(once, once))
        yield* TestClock.adjust(millis)
        assert.isNull(fiber.unsafePoll(), "the second run sleeps too")
        yield* TestClock.adjust(millis - 1)
        assert.isNull(fiber.unsafePoll())
        yield* TestClock.adjust(1)
        assert.isNotNull(fiber.unsafePoll())
      }))
  }

  // FIXED (latent; no caller of the library built sleepOn's effect before running it): past the timer
  // cap, `until` was computed when sleepOn was called, so a second run of the same effect returned at once
  it.effect("sleepOn(clock, 30 days) run twice sleeps twice", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const once = sleepOn(clock, 30 * DAY)
      const fiber = yield* Effect.fork(Effect.zipRight(once, once))
      yield* TestClock.adjust(30 * DAY)
      assert.isNull(fiber.unsafePoll(), "the second run sleeps too")
      yield* Fiber.interrupt(fiber)
    }))
})

describe("internal/time: an infinite wait arms no timer, and no wait arms one past the cap", () => {
  // pins sleepOn's Infinity branch (Effect.never, not an endless chain of capped sleeps) and sleep's choice
  // of the chunked path past the cap (a single Effect.sleep of 40 days would never fire under Node)
  it.effect("sleepOn(clock, Infinity) registers no sleep and never returns", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const fiber = yield* Effect.fork(sleepOn(clock, Infinity))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(yield* pendingSleeps, [])
      yield* TestClock.adjust(Duration.days(400))
      assert.isNull(fiber.unsafePoll())
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("sleep(40 days) never registers a single sleep past the timer cap", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(sleep(Duration.days(40)))
      yield* Effect.yieldNow()
      const sleeps = yield* pendingSleeps
      assert.isAbove(sleeps.length, 0)
      for (const left of sleeps) assert.isAtMost(left, MAX_TIMER_MILLIS)
      yield* TestClock.adjust(Duration.days(40))
      assert.isNotNull(fiber.unsafePoll())
    }))

  it.effect("sleep of a short duration (or a negative one) is one sleep of it", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(sleep(Duration.millis(250)))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(yield* pendingSleeps, [250])
      yield* TestClock.adjust(250)
      assert.isNotNull(fiber.unsafePoll())
      const negative = yield* Effect.fork(sleep(-5))
      yield* TestClock.adjust(0)
      assert.isNotNull(negative.unsafePoll())
    }))

  it.effect("timeoutFail past the timer cap never registers a sleep past the cap", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(timeoutFail(Effect.never, { duration: Duration.days(30), onTimeout: () => "late" }))
      yield* TestClock.adjust(1)
      const sleeps = yield* pendingSleeps
      assert.isAbove(sleeps.length, 0)
      for (const left of sleeps) assert.isAtMost(left, MAX_TIMER_MILLIS)
      yield* TestClock.adjust(30 * DAY - 1)
      assert.strictEqual(yield* Effect.flip(Fiber.join(fiber)), "late")
    }))
})

describe("internal/time: timeoutFail past the cap ends with the work when the work ends first", () => {
  // pins the long race's onSelfDone: the caller gets the work's own exit (success or failure)
  it.effect("success and failure before a 30-day bound are the work's own", () =>
    Effect.gen(function*() {
      const ok = yield* Effect.fork(
        timeoutFail(Effect.as(Effect.sleep(Duration.days(1)), "done"), { duration: Duration.days(30), onTimeout: () => "late" })
      )
      const failed = yield* Effect.fork(
        timeoutFail(Effect.zipRight(Effect.sleep(Duration.days(2)), Effect.fail("boom")), {
          duration: Duration.days(30),
          onTimeout: () => "late"
        })
      )
      yield* TestClock.adjust(Duration.days(2))
      assert.strictEqual(yield* Fiber.join(ok), "done")
      assert.strictEqual(yield* Effect.flip(Fiber.join(failed)), "boom")
    }))

  // pins timeoutFail's Infinity branch: no race, the work runs as it is, on the caller's own fiber
  it.effect("an infinite bound runs the work on the caller's fiber", () =>
    Effect.gen(function*() {
      const caller = yield* Effect.fiberId
      const inner = yield* timeoutFail(Effect.fiberId, { duration: Duration.infinity, onTimeout: () => "never" })
      assert.deepStrictEqual(inner, caller)
    }))
})

describe("internal/time: withLongSleeps only changes sleeps", () => {
  // pins LongSleepClock's delegation (every reading is its base clock's) and its cache (one wrapper per clock)
  it.effect("the wrapped clock reads the base clock's time, and one clock gets one wrapper", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      yield* TestClock.adjust(1234)
      const read = Effect.clockWith((c) =>
        Effect.gen(function*() {
          return {
            clock: c,
            millis: c.unsafeCurrentTimeMillis(),
            nanos: c.unsafeCurrentTimeNanos(),
            effMillis: yield* c.currentTimeMillis,
            effNanos: yield* c.currentTimeNanos
          }
        })
      )
      const a = yield* withLongSleeps(clock, read)
      const b = yield* withLongSleeps(clock, read)
      assert.notStrictEqual(a.clock, clock)
      assert.strictEqual(a.clock, b.clock, "one wrapper per clock")
      assert.strictEqual(a.millis, 1234)
      assert.strictEqual(a.nanos, 1_234_000_000n)
      assert.strictEqual(a.effMillis, 1234)
      assert.strictEqual(a.effNanos, 1_234_000_000n)
      // and its sleeps are the base clock's, any duration
      const fiber = yield* Effect.fork(withLongSleeps(clock, Clock.sleep(Duration.days(30))))
      yield* Effect.yieldNow()
      for (const left of yield* pendingSleeps) assert.isAtMost(left, MAX_TIMER_MILLIS)
      yield* TestClock.adjust(Duration.days(30))
      assert.isNotNull(fiber.unsafePoll())
    }))
})

describe("internal/deadline: a deadline's timeout is told once, and only if there is one", () => {
  // pins reportExpired's guard: no owner, nothing told (no crash); an owner, told on the first report only
  it("reportExpired without an owner does nothing; with one, tells it once per region", () => {
    const error = new Errors.TimeoutError({ duration: Duration.millis(100) })
    const orphan = deadlineAt(0)
    assert.doesNotThrow(() => reportExpired(orphan, error))
    assert.doesNotThrow(() => expired(orphan))
    const told: Array<Errors.TimeoutError> = []
    const owned = deadlineAt(0, { timedOut: (_, e) => told.push(e) })
    reportExpired(owned, error)
    reportExpired(owned, error)
    const e = expired(owned)
    assert.instanceOf(e, Errors.TimeoutError)
    assert.deepStrictEqual(told, [error])
    assert.isTrue(owned.reported)
  })

  it("a deadline already reported is not told again", () => {
    const told: Array<Errors.TimeoutError> = []
    const owned = { ...deadlineAt(0, { timedOut: (_, e) => told.push(e) }), reported: true }
    expired(owned)
    assert.deepStrictEqual(told, [])
  })
})

describe("internal/deadline: waitWithin bounds a wait by the time left before the deadline", () => {
  // pins the time left: the deadline's instant minus now (the TestClock moved first, so that `now` is not 0)
  it.effect("a wait under a deadline 100 ms away fails with its error after 100 ms", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(1000)
      const clock = yield* Effect.clock
      const told: Array<Errors.TimeoutError> = []
      const deadline = deadlineAt(monotonicMillis(clock) + 100, { timedOut: (_, e) => told.push(e) })
      const fiber = yield* Effect.fork(Effect.locally(waitWithin(Effect.never), currentDeadline, deadline))
      yield* TestClock.adjust(99)
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust(1)
      assert.isNotNull(fiber.unsafePoll(), "ended at the deadline")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, Errors.TimeoutError)
      assert.strictEqual(told.length, 1)
    }))
})

describe("Timeout: an inner timeout bounded by the enclosing deadline leaves that deadline in force", () => {
  // pins who ends a deadline: the timeout that set it. An inner timeout whose own deadline would come later
  // runs under the outer deadline, and its call ending (synchronously or not) must not deactivate it
  for (const implementation of ["fast", "general"] as const) {
    for (const [kind, work] of [["synchronous", Effect.void], ["suspended", Effect.sleep("100 millis")]] as const) {
      it.effect(`${implementation} path, ${kind} inner work: Timeout.remaining still sees the outer deadline`, () =>
        Effect.gen(function*() {
          const outer = Timeout.make("1 second", { implementation })
          const inner = Timeout.make("10 seconds", { implementation })
          const fiber = yield* Effect.fork(
            Effect.gen(function*() {
              yield* inner(work)
              return yield* Timeout.remaining
            }).pipe(outer)
          )
          yield* TestClock.adjust("100 millis")
          const left = yield* Fiber.join(fiber)
          assert.isTrue(Option.isSome(left), "the outer deadline is still active")
          const millis = Duration.toMillis(Option.getOrThrow(left))
          assert.isAtLeast(millis, 900)
          assert.isAtMost(millis, 1000)
        }))
    }
  }
})

describe("Timeout.isTimeout: a timeout is a function carrying the Timeout type id", () => {
  // pins both halves of the guard: a plain function is not a timeout, nor is a non-function with the id
  it("accepts a timeout, rejects a function without the id and an object with it", () => {
    assert.isTrue(Timeout.isTimeout(Timeout.make("1 second")))
    assert.isFalse(Timeout.isTimeout(() => 1))
    assert.isFalse(Timeout.isTimeout({ [Symbol.for("effect-resilience/Timeout")]: Symbol.for("effect-resilience/Timeout") }))
    assert.isFalse(Timeout.isTimeout(42))
    assert.isFalse(Timeout.isTimeout(null))
  })
})

describe("Timeout metrics: the timeouts counter is described and incremental", () => {
  // pins the counter's key as exported (its help text in Prometheus, a counter that only goes up)
  it.effect("resilience_timeout_timeouts carries its description and is incremental", () =>
    Effect.gen(function*() {
      const name = "timeout-mutants-metric-key"
      const fiber = yield* Effect.fork(Effect.exit(Effect.never.pipe(Timeout.make("1 second", { name }))))
      yield* TestClock.adjust("1 second")
      assert.isTrue(Exit.isFailure(yield* Fiber.join(fiber)))
      const pairs = (yield* Metric.snapshot).filter((p) =>
        p.metricKey.name === "resilience_timeout_timeouts" && p.metricKey.tags.some((t) => t.key === "policy" && t.value === name)
      )
      assert.strictEqual(pairs.length, 1)
      const key = pairs[0]!.metricKey
      assert.deepStrictEqual(key.description, Option.some("Calls a timeout policy's deadline ended with a TimeoutError"))
      assert.isTrue(MetricKeyType.isCounterKey(key.keyType))
      assert.isTrue((key.keyType as MetricKeyType.MetricKeyType.Counter<number>).incremental)
    }))
})

describe("Timeout.durationConfig: a duration, or the one word Infinity, nothing else", () => {
  // pins the parse: surrounding blanks trimmed, "Infinity" only as the whole value, and the error's key and text
  const read = (value: string) => Effect.either(Effect.gen(function*() {
    return yield* Timeout.durationConfig("d")
  }).pipe(withConfig({ d: value })))

  it.effect("blanks around a duration are ignored", () =>
    Effect.gen(function*() {
      const d = yield* read("  2 seconds  ")
      assert.isTrue(Either.isRight(d))
      assert.isTrue(Duration.equals(Either.getOrThrow(d), Duration.seconds(2)))
      const inf = yield* read("  INFINITY ")
      assert.isTrue(Either.isRight(inf) && !Duration.isFinite(inf.right))
    }))

  for (const bad of ["noinfinity", "infinity seconds", "Infinityx", "soon"]) {
    it.effect(`"${bad}" is rejected under its key, with the value in the message`, () =>
      Effect.gen(function*() {
        const result = yield* read(bad)
        assert.isTrue(Either.isLeft(result), String(result))
        const error = (result as Either.Left<ConfigError.ConfigError, Duration.Duration>).left
        assert.strictEqual(error._op, "InvalidData")
        const invalid = error as ConfigError.InvalidData
        assert.deepStrictEqual(invalid.path, ["d"])
        assert.strictEqual(invalid.message, `Expected a duration or "Infinity" but received ${bad}`)
      }))
  }
})

describe("Timeout fast path, live clock: one Node timer per deadline, not per call", () => {
  // pins NodeTimer.add's re-arm test: a call whose deadline is the armed one's (not earlier) re-arms nothing
  it("two calls with one deadline arm the policy's timer once", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date", "performance"], now: 1_000_000 })
    const setTimeout = vi.spyOn(globalThis, "setTimeout")
    try {
      const fast = makeFastTimeout()
      const call = fast.run(Effect.never, {
        budget: 5000,
        deadline: undefined,
        outer: undefined,
        error: () => "timeout",
        disconnect: false
      })
      const done = Effect.runPromise(Effect.all([Effect.exit(call), Effect.exit(call)], { concurrency: "unbounded" }))
      await vi.advanceTimersByTimeAsync(1000)
      const armed = setTimeout.mock.calls.filter(([, delay]) => (delay ?? 0) >= 1000)
      assert.deepStrictEqual(armed.map(([, delay]) => delay), [5000])
      await vi.advanceTimersByTimeAsync(5000)
      const exits = await done
      for (const exit of exits) assert.deepStrictEqual(exit, Exit.fail("timeout"))
    } finally {
      setTimeout.mockRestore()
      vi.useRealTimers()
    }
  })
})

describe("Timeout fast path: the work's FiberRef changes reach the caller, whatever else the caller holds", () => {
  // pins the shortcut that skips the join: only when no FiberRef changed. A work that changes every
  // FiberRef its caller holds (a bare runtime: its context and one FiberRef) must hand every change back
  class Greeting extends Context.Tag("test/mutants/Greeting")<Greeting, string>() {}
  it("a work changing the caller's context and FiberRef hands both back (bare runtime)", async () => {
    const ref = FiberRef.unsafeMake("caller")
    const timeout = Timeout.make("1 second")
    const work = FiberRef.set(ref, "work").pipe(
      Effect.zipRight(FiberRef.update(FiberRef.currentContext, Context.add(Greeting, "hello")))
    )
    const seen = await Effect.runPromise(
      Effect.locally(
        work.pipe(timeout, Effect.zipRight(Effect.all([FiberRef.get(ref), Effect.serviceOption(Greeting)]))),
        ref,
        "caller-set"
      )
    )
    assert.strictEqual(seen[0], "work")
    assert.deepStrictEqual(seen[1], Option.some("hello"))
  })
})
