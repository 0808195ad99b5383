/**
 * Issue 25: Hedge's peer parity — `whenResult` (a rejected value is a failed
 * attempt), `delay` as a function of the attempt (Polly's DelayGenerator),
 * `failWith: "first" | "last"`, `failAfterMaxAttempts`.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Data, Duration, Effect, Exit, Fiber, FiberRef, Option, Ref, Stream, TestClock } from "effect"
import { Errors, Hedge, Policy } from "effect-resilience"
import { counterValue } from "./utils/metrics.js"

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly attempt: number }> {}

let names = 0
const fresh = () => `hedge-results-${++names}`

type Step = { readonly after: number; readonly answer: number | "fail" | "never" }

/** A dependency whose answer depends on the attempt (`Hedge.currentAttempt`); records when each attempt started. */
const replicas = (steps: ReadonlyArray<Step>) =>
  Effect.gen(function*() {
    const starts = yield* Ref.make<ReadonlyArray<[number, number]>>([])
    const call: Effect.Effect<number, Unavailable> = Effect.gen(function*() {
      const n = yield* Hedge.currentAttempt
      const now = yield* TestClock.currentTimeMillis
      yield* Ref.update(starts, (xs) => [...xs, [n, now] as [number, number]])
      const step = steps[n - 1] ?? { after: 0, answer: "never" as const }
      if (step.after > 0) yield* Effect.sleep(step.after)
      if (step.answer === "never") return yield* Effect.never
      if (step.answer === "fail") return yield* Effect.fail(new Unavailable({ attempt: n }))
      return step.answer
    })
    return { call, starts: Ref.get(starts) }
  })

const drive = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 50; i++) {
      yield* TestClock.adjust("10 millis")
      if (Option.isSome(yield* Fiber.poll(fiber))) break
    }
    return yield* Fiber.await(fiber)
  })

const isEmpty = (n: number) => n === 0

describe("Hedge whenResult (issue 25)", () => {
  it.effect("a rejected value starts the next attempt at once, like a hedgeable failure; an accepted one wins", () =>
    Effect.gen(function*() {
      const dep = yield* replicas([{ after: 10, answer: 0 }, { after: 10, answer: 7 }])
      const hedge = Hedge.make({ delay: "1 second", maxAttempts: 3, whenResult: isEmpty, name: fresh() })
      const exit = yield* drive(dep.call.pipe(hedge))
      assert.deepStrictEqual(exit, Exit.succeed(7))
      assert.deepStrictEqual(yield* dep.starts, [[1, 0], [2, 10]])
      const stats = yield* hedge.stats()
      assert.deepStrictEqual([stats.hedges, stats.wins, stats.failures], [1, [0, 1, 0], 0])
    }))

  it.effect("every attempt rejected: the caller gets the last rejected value (default), counted as a failure", () =>
    Effect.gen(function*() {
      const dep = yield* replicas([{ after: 10, answer: 0 }, { after: 30, answer: 0 }, { after: 5, answer: 0 }])
      const name = fresh()
      const hedge = Hedge.make({ delay: "20 millis", maxAttempts: 3, whenResult: (n: number) => n <= 0, name })
      const events: Array<Hedge.HedgeEvent> = []
      const collector = yield* hedge.events.pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e))), Effect.fork)
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      const exit = yield* drive(dep.call.pipe(hedge))
      yield* Fiber.interrupt(collector)
      assert.deepStrictEqual(exit, Exit.succeed(0))
      assert.strictEqual((yield* hedge.stats()).failures, 1)
      const failed = events.find((e) => e._tag === "HedgeFailed")!
      assert.strictEqual(failed._tag === "HedgeFailed" && failed.reason, "Exhausted")
      assert.deepStrictEqual(failed._tag === "HedgeFailed" && failed.result, { value: 0 })
      const started = events.filter((e) => e._tag === "HedgeStarted")
      assert.deepStrictEqual(started.map((e) => e._tag === "HedgeStarted" && [e.attempt, e.reason, e.result]), [
        [2, "Failure", { value: 0 }],
        [3, "Delay", undefined]
      ])
      assert.strictEqual(yield* counterValue("resilience_hedge_failed", { policy: name }), 1)
    }))

  it.effect("failAfterMaxAttempts: a FailedResultError with the chosen value and the attempts started", () =>
    Effect.gen(function*() {
      const dep = yield* replicas([{ after: 10, answer: -1 }, { after: 10, answer: -2 }])
      const hedge = Hedge.make({
        delay: "1 second",
        maxAttempts: 2,
        whenResult: (n: number) => n < 0,
        failAfterMaxAttempts: true,
        name: "h"
      })
      const exit = yield* drive(dep.call.pipe(hedge))
      assert.deepStrictEqual(
        exit,
        Exit.fail(new Errors.FailedResultError({ module: "Hedge", policy: "h", value: -2, attempts: 2 }))
      )
    }))

  it.effect("failWith first: the first failure or rejected value, not the last", () =>
    Effect.gen(function*() {
      const dep = yield* replicas([{ after: 10, answer: -1 }, { after: 10, answer: "fail" }])
      const first = Hedge.make({ delay: "1 second", maxAttempts: 2, whenResult: (n: number) => n < 0, failWith: "first" })
      assert.deepStrictEqual(yield* drive(dep.call.pipe(first)), Exit.succeed(-1))
      const last = Hedge.make({ delay: "1 second", maxAttempts: 2, whenResult: (n: number) => n < 0 })
      assert.deepStrictEqual(yield* drive(dep.call.pipe(last)), Exit.fail(new Unavailable({ attempt: 2 })))
    }))

  it.effect("maxAttempts 1: a rejected value is the outcome of the only attempt", () =>
    Effect.gen(function*() {
      const hedge = Hedge.make({ delay: "1 second", maxAttempts: 1, whenResult: isEmpty, failAfterMaxAttempts: true, name: "one" })
      const exit = yield* Effect.exit(Effect.succeed(0).pipe(hedge))
      assert.deepStrictEqual(exit, Exit.fail(new Errors.FailedResultError({ module: "Hedge", policy: "one", value: 0, attempts: 1 })))
      assert.strictEqual(yield* Effect.succeed(3).pipe(hedge), 3)
      assert.strictEqual((yield* hedge.stats()).failures, 1)
    }))

  it.effect("the chosen rejected attempt's FiberRef changes are kept, like a winner's", () =>
    Effect.gen(function*() {
      const ref = FiberRef.unsafeMake(0)
      const hedge = Hedge.make({ delay: 0, maxAttempts: 2, whenResult: isEmpty })
      const call = Effect.flatMap(Hedge.currentAttempt, (n) => Effect.as(FiberRef.set(ref, n * 10), 0))
      yield* call.pipe(hedge)
      assert.include([10, 20], yield* FiberRef.get(ref))
    }))

  it.effect("a predicate that throws or answers a non-boolean: the value wins, and it is reported", () =>
    Effect.gen(function*() {
      for (const [kind, whenResult] of [
        ["throw", () => {
          throw new Error("boom")
        }],
        ["malformed", () => 1 as unknown as boolean]
      ] as const) {
        const name = fresh()
        const dep = yield* replicas([{ after: 10, answer: 0 }, { after: 10, answer: 5 }])
        const hedge = Hedge.make({ delay: "1 second", maxAttempts: 2, whenResult, name })
        assert.deepStrictEqual(yield* drive(dep.call.pipe(hedge)), Exit.succeed(0))
        assert.deepStrictEqual((yield* dep.starts).length, 1)
        assert.strictEqual(
          yield* counterValue("resilience_user_code_failures", { module: "Hedge", policy: name, hook: "whenResult", kind }),
          1
        )
      }
    }))

  it.effect("interrupting the caller while a hedged attempt runs after a rejected value interrupts every attempt", () =>
    Effect.gen(function*() {
      const dep = yield* replicas([{ after: 10, answer: 0 }, { after: 0, answer: "never" }, { after: 0, answer: "never" }])
      const hedge = Hedge.make({ delay: "50 millis", maxAttempts: 3, whenResult: isEmpty })
      const fiber = yield* Effect.fork(dep.call.pipe(hedge))
      yield* TestClock.adjust("20 millis")
      assert.strictEqual((yield* dep.starts).length, 2)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(fiber)))
      yield* TestClock.adjust("1 hour")
      assert.strictEqual((yield* dep.starts).length, 2)
    }))

  it("failWith and whenResult are validated", () => {
    assert.throws(() => Hedge.make({ delay: 1, maxAttempts: 2, failWith: "middle" as any }), /invalid option "failWith"/)
    assert.throws(() => Hedge.make({ delay: 1, maxAttempts: 2, whenResult: "x" as any }), /invalid option "whenResult"/)
    assert.throws(
      () => Hedge.make({ delay: 1, maxAttempts: 2, failAfterMaxAttempts: true } as any),
      /invalid option "failAfterMaxAttempts"/
    )
  })

  it("types: a value predicate constrains the value type; failAfterMaxAttempts adds its error", () => {
    const hedge = Hedge.make({ delay: 10, maxAttempts: 2, whenResult: isEmpty })
    const strict = Hedge.make({ delay: 10, maxAttempts: 2, whenResult: isEmpty, failAfterMaxAttempts: true })
    const call = Effect.succeed(1) as Effect.Effect<number, Unavailable>
    expectTypeOf(call.pipe(hedge)).toEqualTypeOf<Effect.Effect<number, Unavailable>>()
    expectTypeOf(call.pipe(strict)).toEqualTypeOf<Effect.Effect<number, Unavailable | Errors.FailedResultError<number>>>()
    // @ts-expect-error a hedge over numbers does not accept an Effect of strings
    Effect.succeed("x").pipe(hedge)
    // @ts-expect-error nor through compose
    Effect.succeed("x").pipe(Policy.compose(strict))
    expectTypeOf(Effect.succeed("x").pipe(Hedge.make({ delay: 10, maxAttempts: 2 }))).toEqualTypeOf<Effect.Effect<string>>()
  })
})

describe("Hedge delay per attempt (issue 25)", () => {
  it.effect("delay(n) is asked after attempt n starts and spaces attempt n + 1", () =>
    Effect.gen(function*() {
      const asked: Array<number> = []
      const dep = yield* replicas([])
      const hedge = Hedge.make({
        delay: (n) => {
          asked.push(n)
          return Duration.millis(100 * n)
        },
        maxAttempts: 4
      })
      const fiber = yield* Effect.fork(dep.call.pipe(hedge))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* dep.starts, [[1, 0], [2, 100], [3, 300], [4, 600]])
      assert.deepStrictEqual(asked, [1, 2, 3])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a failure starts the next attempt at once and the delay is asked again for it", () =>
    Effect.gen(function*() {
      const dep = yield* replicas([{ after: 30, answer: "fail" }, { after: 0, answer: "never" }, { after: 0, answer: "never" }])
      const hedge = Hedge.make({ delay: (n) => (n === 1 ? "1 second" : "50 millis"), maxAttempts: 3 })
      const fiber = yield* Effect.fork(dep.call.pipe(hedge))
      yield* TestClock.adjust("200 millis")
      assert.deepStrictEqual(yield* dep.starts, [[1, 0], [2, 30], [3, 80]])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("an infinite answer: no delayed hedge after that attempt (a failure still starts one)", () =>
    Effect.gen(function*() {
      const dep = yield* replicas([{ after: 500, answer: "fail" }, { after: 0, answer: "never" }])
      const hedge = Hedge.make({ delay: () => Duration.infinity, maxAttempts: 2 })
      const fiber = yield* Effect.fork(dep.call.pipe(hedge))
      yield* TestClock.adjust("499 millis")
      assert.strictEqual((yield* dep.starts).length, 1)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* dep.starts, [[1, 0], [2, 500]])
      yield* Fiber.interrupt(fiber)
    }))

  for (
    const [label, kind, delay] of [
      ["throws", "throw", () => {
        throw new Error("boom")
      }],
      ["answers a negative duration", "malformed", () => -5],
      ["answers NaN", "malformed", () => NaN],
      ["answers a non-duration", "malformed", () => ({ millis: 5 })]
    ] as const
  ) {
    it.effect(`a delay function that ${label}: no delayed hedge, reported (${kind})`, () =>
      Effect.gen(function*() {
        const name = fresh()
        const dep = yield* replicas([{ after: 100, answer: 1 }])
        const hedge = Hedge.make({ delay: delay as any, maxAttempts: 3, name })
        const exit = yield* drive(dep.call.pipe(hedge))
        assert.deepStrictEqual(exit, Exit.succeed(1))
        assert.strictEqual((yield* dep.starts).length, 1)
        assert.strictEqual(
          yield* counterValue("resilience_user_code_failures", { module: "Hedge", policy: name, hook: "delay", kind }),
          1
        )
      }))
  }

  it("the descriptor and the delay property show a function delay", () => {
    const f = (n: number) => n * 10
    const hedge = Hedge.make({ delay: f, maxAttempts: 2 })
    assert.strictEqual(hedge.delay, f)
    assert.strictEqual(Policy.describe(hedge).options.delay, "function")
  })
})
