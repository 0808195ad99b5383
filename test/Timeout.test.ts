import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  ConfigProvider,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  FastCheck,
  Fiber,
  FiberRef,
  Option,
  Predicate,
  Ref,
  TestClock
} from "effect"
import { Errors, Retry, Testing, Timeout } from "effect-resilience"
import { runWithClock } from "./utils/clock.js"
import { numRuns } from "./utils/props.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

describe("Timeout.make", () => {
  it.effect("passes results and errors through when the work finishes in time", () =>
    Effect.gen(function*() {
      const t = Timeout.make("1 second")
      assert.strictEqual(yield* Effect.succeed(1).pipe(t), 1)
      const exit = yield* runWithClock(Effect.fail(new Unavailable()).pipe(Effect.delay("999 millis"), t))
      assert.deepStrictEqual(exit, Exit.fail(new Unavailable()))
    }))

  it.effect("fails with TimeoutError naming the duration and interrupts the work", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const work = Effect.never.pipe(Effect.onInterrupt(() => Ref.set(interrupted, true)))
      const fiber = yield* Effect.fork(work.pipe(Timeout.make("2 seconds", { name: "db" })))
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const error = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<never, Errors.TimeoutError>).cause))
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual(Duration.toMillis(error.duration), 2000)
      assert.strictEqual(error.message, "Timed out after 2s (db)")
      assert.isTrue(yield* Ref.get(interrupted))
    }))

  it("TimeoutError carries Cause.TimeoutExceptionTypeId and is a resilience error, not a rejection", () => {
    const e = new Errors.TimeoutError({ duration: Duration.seconds(1) })
    assert.isTrue(Predicate.hasProperty(e, Cause.TimeoutExceptionTypeId))
    assert.isTrue(Errors.isResilienceError(e))
    assert.isFalse(Errors.isRejection(e))
    assert.isTrue(Retry.isTransient(e))
  })

  it.effect("waits for the interrupted work to finish unless disconnect is set", () =>
    Effect.gen(function*() {
      // uninterruptible work that takes 5 seconds
      const work = Effect.sleep("5 seconds").pipe(Effect.uninterruptible)
      const attached = yield* Effect.fork(work.pipe(Timeout.make("1 second")))
      yield* TestClock.adjust("1 second")
      assert.isTrue(Option.isNone(yield* Fiber.poll(attached)), "waits for the uninterruptible work")
      const disconnected = yield* Effect.fork(work.pipe(Timeout.make("1 second", { disconnect: true })))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(disconnected)
      assert.isTrue(Exit.isFailure(exit), "returns at the deadline")
      yield* TestClock.adjust("5 seconds")
      assert.isTrue(Exit.isFailure(yield* Fiber.await(attached)))
    }))

  it("rejects invalid durations with InvalidOptionsError", () => {
    for (const bad of [-1, 0, NaN, -Infinity, "-1 second", "soon", "Infinityy"] as const) {
      try {
        Timeout.make(bad as any)
        assert.fail(`accepted ${String(bad)}`)
      } catch (e) {
        assert.instanceOf(e, Errors.InvalidOptionsError)
        assert.strictEqual((e as Errors.InvalidOptionsError).option, "duration")
        assert.include((e as Errors.InvalidOptionsError).message, "Timeout.make")
      }
    }
  })
})

describe("issue 15: infinite and long timeouts", () => {
  it.effect("an infinite duration (Duration.infinity, Infinity, \"Infinity\") is no timeout: the work runs as without it", () =>
    Effect.gen(function*() {
      for (const infinite of [Duration.infinity, Infinity, "Infinity", "infinity"] as const) {
        const timeout = Timeout.make(infinite as Duration.DurationInput)
        assert.isFalse(Duration.isFinite(timeout.duration))
        const fiber = yield* Effect.fork(Effect.sleep("400 days").pipe(Effect.as("done"), timeout))
        yield* TestClock.adjust("400 days")
        assert.strictEqual(yield* Fiber.join(fiber), "done")
        // and it sets no deadline of its own
        assert.isTrue(Option.isNone(yield* Timeout.remaining.pipe(timeout)))
      }
    }))

  it.effect("an infinite timeout inside a finite one: the enclosing deadline still applies", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(
        Effect.never.pipe(Timeout.make(Duration.infinity), Timeout.make("1 second", { name: "outer" }))
      )
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error.policy, "outer")
    }))

  it.effect("a duration past Node's 2^31-1 ms timer cap fires exactly at it (fast and general paths)", () =>
    Effect.gen(function*() {
      for (const implementation of ["fast", "general"] as const) {
        const fiber = yield* Effect.fork(Effect.never.pipe(Timeout.make("30 days", { implementation })))
        yield* TestClock.adjust(Duration.subtract(Duration.days(30), Duration.millis(1)))
        assert.isNull(fiber.unsafePoll(), implementation)
        yield* TestClock.adjust("1 millis")
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.strictEqual(error._tag, "TimeoutError")
      }
    }))

  it("durationConfig reads \"Infinity\" (Config.duration does not) and any duration", () => {
    const read = (value: string) =>
      Effect.runSync(
        Effect.either(
          Effect.withConfigProvider(Timeout.durationConfig("T"), ConfigProvider.fromMap(new Map([["T", value]])))
        )
      )
    const infinite = read("Infinity")
    assert.isTrue(infinite._tag === "Right" && !Duration.isFinite(infinite.right))
    const two = read("2 seconds")
    assert.isTrue(two._tag === "Right" && Duration.toMillis(two.right) === 2000)
    assert.strictEqual(read("soon")._tag, "Left")
  })
})

describe("issue 15: wall-clock steps never move a bound (property)", () => {
  const stepArb = FastCheck.record({
    at: FastCheck.integer({ min: 0, max: 9_999 }),
    by: FastCheck.integer({ min: -7_200_000, max: 7_200_000 })
  })
  it.effect.prop(
    "a timeout and a retry backoff end exactly at their bounds whatever the wall clock does meanwhile",
    [FastCheck.integer({ min: 1, max: 10_000 }), FastCheck.array(stepArb, { maxLength: 5 }), FastCheck.constantFrom<"fast" | "general">("fast", "general")],
    ([budget, steps, implementation]) =>
      Testing.withSteppedWallClock((wall) =>
        Effect.gen(function*() {
          const timed = yield* Effect.fork(Effect.never.pipe(Timeout.make(budget, { implementation })))
          const retried = yield* Effect.fork(
            Effect.fail("e").pipe(Retry.policy({ schedule: Retry.constant(Duration.millis(budget)), times: 1 }), Effect.either)
          )
          yield* Effect.yieldNow()
          let now = 0
          for (const step of [...steps].filter((s) => s.at < budget).sort((a, b) => a.at - b.at)) {
            yield* TestClock.adjust(step.at - now)
            now = step.at
            yield* step.by < 0 ? wall.back(-step.by) : wall.forward(step.by)
          }
          yield* TestClock.adjust(budget - 1 - now)
          const early = timed.unsafePoll() === null && retried.unsafePoll() === null
          yield* TestClock.adjust(1)
          const timedOut = yield* Effect.either(Fiber.join(timed))
          const retriedOut = yield* Fiber.join(retried)
          return early && timedOut._tag === "Left" && timedOut.left._tag === "TimeoutError" && retriedOut._tag === "Left"
        })
      ),
    { fastCheck: { numRuns: numRuns(60), seed: 20261207 } }
  )
})

describe("issue 15: a deadline lives as long as its timeout's region", () => {
  it.effect("a daemon forked inside a timeout sees the deadline while the region runs, and none after it", () =>
    Effect.gen(function*() {
      for (const implementation of ["fast", "general"] as const) {
        const inside = yield* Deferred.make<Option.Option<Duration.Duration>>()
        const after = yield* Deferred.make<Option.Option<Duration.Duration>>()
        const regionDone = yield* Deferred.make<void>()
        yield* Effect.gen(function*() {
          yield* Effect.forkDaemon(Effect.gen(function*() {
            yield* Deferred.succeed(inside, yield* Timeout.remaining)
            yield* Deferred.await(regionDone)
            yield* Deferred.succeed(after, yield* Timeout.remaining)
          }))
          yield* Deferred.await(inside)
        }).pipe(Timeout.make("10 seconds", { implementation }))
        yield* Deferred.succeed(regionDone, void 0)
        assert.deepStrictEqual(yield* Deferred.await(inside), Option.some(Duration.seconds(10)), implementation)
        assert.isTrue(Option.isNone(yield* Deferred.await(after)), implementation)
      }
    }))
})

describe("deadline propagation", () => {
  it.effect("an inner timeout never outlives the outer deadline and fails with the outer's error", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        yield* Effect.sleep("700 millis")
        // 300ms left of the outer deadline: the inner 1s timeout is clipped to it
        return yield* Effect.never.pipe(Timeout.make("1 second", { name: "attempt" }))
      }).pipe(Timeout.make("1 second", { name: "overall" }))
      const fiber = yield* Effect.fork(program)
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(fiber)
      const error = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<never, Errors.TimeoutError>).cause))
      assert.strictEqual(error.policy, "overall")
      assert.strictEqual(Duration.toMillis(error.duration), 1000)
    }))

  it.effect("a shorter inner timeout fires with its own error", () =>
    Effect.gen(function*() {
      const program = Effect.never.pipe(Timeout.make("100 millis", { name: "attempt" }), Timeout.make("1 second", { name: "overall" }))
      const exit = yield* runWithClock(program)
      const error = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<never, Errors.TimeoutError>).cause))
      assert.strictEqual(error.policy, "attempt")
    }))

  it.effect("remaining reports the time left before the innermost deadline", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isNone(yield* Timeout.remaining))
      const inside = yield* Effect.gen(function*() {
        yield* Effect.sleep("400 millis")
        return yield* Timeout.remaining
      }).pipe(Timeout.make("1 second"), runWithClock)
      assert.deepStrictEqual(inside, Exit.succeed(Option.some(Duration.millis(600))))
    }))

  it.effect("per-attempt and overall timeouts with retry in between", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const hangs = Ref.update(attempts, (n) => n + 1).pipe(Effect.zipRight(Effect.never))
      const program = hangs.pipe(
        Timeout.make("300 millis", { scope: "attempt" }),
        Retry.policy({ schedule: Retry.constant("100 millis"), times: 10 }),
        Timeout.make("1 second", { scope: "overall" })
      )
      const exit = yield* runWithClock(program)
      // attempts start at 0, 400, 800: the third is clipped to the deadline (200ms left)
      assert.strictEqual(yield* Ref.get(attempts), 3)
      const error = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<never, Errors.TimeoutError>).cause))
      assert.strictEqual(error.scope, "overall")
    }))
})

describe("deadline scoping", () => {
  it.effect("a deadline never leaks out of the region its timeout wraps (even when FiberRefs are joined)", () =>
    Effect.gen(function*() {
      const marker = FiberRef.unsafeMake(0)
      // the work changes a FiberRef, so its FiberRefs are joined back into the caller
      yield* FiberRef.set(marker, 1).pipe(Timeout.make("1 second"))
      assert.strictEqual(yield* FiberRef.get(marker), 1)
      assert.isTrue(Option.isNone(yield* Timeout.remaining))
      // same through a forked fiber joined by the caller
      const fiber = yield* Effect.fork(Timeout.remaining.pipe(Timeout.make("1 second")))
      assert.isTrue(Option.isSome(yield* Fiber.join(fiber)))
      assert.isTrue(Option.isNone(yield* Timeout.remaining))
    }))
})

describe("deadline propagation into uninterruptible regions", () => {
  // An acquire runs uninterruptibly: the outer timeout cannot interrupt it, so a timeout inside it
  // (with `disconnect`, since the work it bounds is uninterruptible too) must itself end at the
  // outer deadline, with the outer timeout's error. (Daemon fibers: a fiber stuck in an acquire
  // cannot be interrupted, so a failing test must not wait for it.)
  const request = Timeout.make("1 second", { name: "request", scope: "overall" })
  const withinAcquire = <A, E>(acquire: Effect.Effect<A, E>) =>
    Effect.scoped(Effect.acquireRelease(acquire, () => Effect.void)).pipe(request)
  const failure = <A>(exit: Exit.Exit<A, Errors.TimeoutError>) =>
    Option.getOrThrow(Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none())

  it.effect("a timeout inside an acquire ends at the enclosing deadline, with the enclosing timeout's error", () =>
    Effect.gen(function*() {
      const connect = Effect.sleep("5 seconds").pipe(Timeout.make("3 seconds", { name: "connect", disconnect: true }))
      const inner = yield* Deferred.make<Exit.Exit<void, Errors.TimeoutError>>()
      const fiber = yield* Effect.forkDaemon(
        withinAcquire(Effect.sleep("400 millis").pipe(Effect.zipRight(connect), Effect.onExit((exit) => Deferred.succeed(inner, exit))))
      )
      yield* TestClock.adjust("999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      // the inner timeout fired at the outer deadline (not at its own, 3.4 s), with the outer's error
      const exit = yield* Fiber.poll(fiber)
      assert.isTrue(Option.isSome(exit), "ended at the outer deadline")
      assert.strictEqual(failure(Option.getOrThrow(exit)).policy, "request")
      const error = failure(yield* Deferred.await(inner))
      assert.deepStrictEqual([error.policy, Duration.toMillis(error.duration), error.scope], ["request", 1000, "overall"])
    }))

  it.effect("an inner deadline exactly at the enclosing one: the enclosing timeout's error wins", () =>
    Effect.gen(function*() {
      const connect = Effect.sleep("5 seconds").pipe(Timeout.make("1 second", { name: "connect", disconnect: true }))
      const inner = yield* Deferred.make<Exit.Exit<void, Errors.TimeoutError>>()
      const fiber = yield* Effect.forkDaemon(withinAcquire(connect.pipe(Effect.onExit((exit) => Deferred.succeed(inner, exit)))))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(failure(yield* Deferred.await(inner)).policy, "request")
      assert.strictEqual(failure(yield* Fiber.await(fiber)).policy, "request")
    }))

  it.effect("with no time left before the enclosing deadline, a timeout fails at once without starting the work", () =>
    Effect.gen(function*() {
      const started = yield* Ref.make(false)
      const connect = Ref.set(started, true).pipe(Timeout.make("1 second", { name: "connect" }))
      const inner = yield* Deferred.make<Exit.Exit<void, Errors.TimeoutError>>()
      const left = yield* Deferred.make<Option.Option<Duration.Duration>>()
      // the acquire overruns the deadline (1.5 s), then starts a call under a timeout
      const acquire = Effect.sleep("1500 millis").pipe(
        Effect.zipRight(Effect.flatMap(Timeout.remaining, (r) => Deferred.succeed(left, r))),
        Effect.zipRight(Effect.exit(connect)),
        Effect.flatMap((exit) => Deferred.succeed(inner, exit))
      )
      const fiber = yield* Effect.forkDaemon(withinAcquire(acquire))
      yield* TestClock.adjust("1500 millis")
      assert.deepStrictEqual(yield* Deferred.await(left), Option.some(Duration.zero))
      const error = failure(yield* Deferred.await(inner))
      assert.deepStrictEqual([error.policy, Duration.toMillis(error.duration), error.scope], ["request", 1000, "overall"])
      assert.isFalse(yield* Ref.get(started), "the work never started")
      assert.strictEqual(failure(yield* Fiber.await(fiber)).policy, "request")
    }))
})

describe("Timeout.make: the policy value", () => {
  it("exposes its duration and the options it was made with", () => {
    const options = { name: "db", disconnect: true, scope: "attempt" } as const
    const t = Timeout.make("2 seconds", options)
    assert.isTrue(Duration.equals(t.duration, Duration.seconds(2)))
    assert.strictEqual(t.options, options)
    assert.deepStrictEqual(Timeout.make(1500).options, {})
    assert.isTrue(Duration.equals(Timeout.make(1500).duration, Duration.millis(1500)))
  })
})
