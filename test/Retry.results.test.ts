/**
 * Issue 25: results as failures in Retry (`whenResult`, `failAfterMaxAttempts`).
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Data, Effect, Exit, Fiber, Random, Ref, Stream, TestClock } from "effect"
import { Errors, Policy, Retry, Timeout } from "effect-resilience"
import { counterValue } from "./utils/metrics.js"

interface Response {
  readonly status: number
}
class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

let names = 0
const fresh = () => `retry-results-${++names}`

/** A dependency answering the given statuses in turn (the last one forever), counting calls. */
const answering = (statuses: ReadonlyArray<number | "fail">) =>
  Effect.gen(function*() {
    const calls = yield* Ref.make(0)
    const call: Effect.Effect<Response, Unavailable> = Effect.flatMap(
      Ref.updateAndGet(calls, (n) => n + 1),
      (n) => {
        const s = statuses[Math.min(n, statuses.length) - 1]!
        return s === "fail" ? Effect.fail(new Unavailable()) : Effect.succeed({ status: s })
      }
    )
    return { call, calls: Ref.get(calls) }
  })

const is503 = (r: Response) => r.status === 503
const ok503: Response = { status: 503 }

/** Runs `effect` with the test clock moved on until it ends. */
const drive = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust("1 hour")
    return yield* Fiber.await(fiber)
  })

describe("Retry whenResult (issue 25)", () => {
  it.effect("retries a rejected value like a failure and returns the first accepted one", () =>
    Effect.gen(function*() {
      const dep = yield* answering([503, 503, 200])
      const retry = Retry.policy({ schedule: Retry.constant("100 millis"), times: 3, whenResult: is503, name: fresh() })
      const exit = yield* drive(dep.call.pipe(retry))
      assert.deepStrictEqual(exit, Exit.succeed({ status: 200 }))
      assert.strictEqual(yield* dep.calls, 3)
      assert.deepStrictEqual(yield* retry.stats(), { failedCalls: 1, retries: 2, gaveUp: 0 })
    }))

  it.effect("waits the schedule's delay between rejected values (TestClock)", () =>
    Effect.gen(function*() {
      const dep = yield* answering([503, 200])
      const retry = Retry.policy({ schedule: Retry.constant("1 second"), times: 3, whenResult: is503, name: fresh() })
      const fiber = yield* Effect.fork(dep.call.pipe(retry))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(yield* dep.calls, 1)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(fiber), { status: 200 })
      assert.strictEqual(yield* dep.calls, 2)
    }))

  it.effect("when retries run out on a rejected value, the caller gets the last value (default)", () =>
    Effect.gen(function*() {
      const dep = yield* answering([503])
      const name = fresh()
      const retry = Retry.policy({ schedule: Retry.constant("10 millis"), times: 2, whenResult: is503, name })
      const events: Array<Retry.RetryEvent> = []
      const collector = yield* retry.events.pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e))), Effect.fork)
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      const exit = yield* drive(dep.call.pipe(retry))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(collector)
      assert.deepStrictEqual(exit, Exit.succeed({ status: 503 }))
      assert.strictEqual(yield* dep.calls, 3)
      assert.deepStrictEqual(events.map((e) => [e._tag, e.attempt, e.error, e.result]), [
        ["RetryScheduled", 1, undefined, { value: { status: 503 } }],
        ["RetryScheduled", 2, undefined, { value: { status: 503 } }],
        ["GaveUp", 3, undefined, { value: { status: 503 } }]
      ])
      assert.strictEqual(events[2]!._tag === "GaveUp" && events[2]!.reason, "Exhausted")
      assert.deepStrictEqual(yield* retry.stats(), { failedCalls: 1, retries: 2, gaveUp: 1 })
      assert.strictEqual(yield* counterValue("resilience_retry_retries", { policy: name }), 2)
      assert.strictEqual(yield* counterValue("resilience_retry_gave_up", { policy: name }), 1)
    }))

  it.effect("failAfterMaxAttempts: a typed FailedResultError with the last value and the attempts", () =>
    Effect.gen(function*() {
      const dep = yield* answering([503, 504, 503])
      const retry = Retry.policy({
        schedule: Retry.constant("10 millis"),
        times: 2,
        whenResult: (r: Response) => r.status >= 500,
        failAfterMaxAttempts: true,
        name: "r503"
      })
      const exit = yield* drive(dep.call.pipe(retry))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause : undefined
      const failure = error === undefined ? undefined : (error as any).error
      assert.instanceOf(failure, Retry.FailedResultError)
      assert.instanceOf(failure, Errors.FailedResultError)
      assert.strictEqual(failure._tag, "FailedResultError")
      assert.deepStrictEqual(failure.value, { status: 503 })
      assert.strictEqual(failure.attempts, 3)
      assert.strictEqual(failure.module, "Retry")
      assert.strictEqual(failure.policy, "r503")
      assert.isTrue(Errors.isResilienceError(failure))
      assert.isTrue(Errors.isFailedResultError(failure))
      assert.isFalse(Errors.isRejection(failure))
      assert.include(failure.message, "3 attempt(s)")
      assert.include(failure.message, "503")
    }))

  it.effect("failures and rejected values share one count: error, rejected value, success", () =>
    Effect.gen(function*() {
      const dep = yield* answering(["fail", 503, 200])
      const retry = Retry.policy({ schedule: Retry.constant("10 millis"), times: 2, whenResult: is503, name: fresh() })
      assert.deepStrictEqual(yield* drive(dep.call.pipe(retry)), Exit.succeed({ status: 200 }))
      const dep2 = yield* answering([503, "fail", "fail"])
      // the last attempt failed: the caller gets its error, as without whenResult
      assert.deepStrictEqual(yield* drive(dep2.call.pipe(retry)), Exit.fail(new Unavailable()))
      assert.strictEqual(yield* dep2.calls, 3)
    }))

  it.effect("an accepted value on the first attempt costs no retry and no count", () =>
    Effect.gen(function*() {
      const dep = yield* answering([200])
      const retry = Retry.policy({ times: 2, whenResult: is503, name: fresh() })
      assert.deepStrictEqual(yield* dep.call.pipe(retry), { status: 200 })
      assert.deepStrictEqual(yield* retry.stats(), { failedCalls: 0, retries: 0, gaveUp: 0 })
    }))

  it.effect("a predicate that throws or answers a non-boolean: the value is accepted, and it is reported", () =>
    Effect.gen(function*() {
      for (const [kind, whenResult] of [
        ["throw", () => {
          throw new Error("boom")
        }],
        ["malformed", () => "yes" as unknown as boolean]
      ] as const) {
        const name = fresh()
        const dep = yield* answering([503, 200])
        const retry = Retry.policy({ times: 3, whenResult, name })
        assert.deepStrictEqual(yield* dep.call.pipe(retry), { status: 503 })
        assert.strictEqual(yield* dep.calls, 1)
        assert.strictEqual(
          yield* counterValue("resilience_user_code_failures", { module: "Retry", policy: name, hook: "whenResult", kind }),
          1
        )
      }
    }))

  it.effect("the budget is spent by rejected values as by failures (BudgetExhausted returns the value)", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.budget({ ratio: 0.1, minRetriesPerSecond: 1, window: "10 seconds" })
      const dep = yield* answering([503])
      const retry = Retry.policy({ schedule: Retry.constant("1 millis"), times: 100, whenResult: is503, budget, name: fresh() })
      const exit = yield* drive(dep.call.pipe(retry))
      assert.deepStrictEqual(exit, Exit.succeed({ status: 503 }))
      const calls = yield* dep.calls
      assert.isBelow(calls, 100)
      const stats = yield* retry.stats()
      assert.strictEqual(stats.retries, calls - 1)
      assert.strictEqual(stats.gaveUp, 1)
    }))

  it.effect("never sleeps past an enclosing deadline: gives up with the value (reason Deadline)", () =>
    Effect.gen(function*() {
      const dep = yield* answering([503])
      const retry = Retry.policy({ schedule: Retry.constant("1 second"), times: 10, whenResult: is503, name: fresh() })
      const events: Array<Retry.RetryEvent> = []
      const collector = yield* retry.events.pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e))), Effect.fork)
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      const exit = yield* drive(dep.call.pipe(retry, Timeout.make("2500 millis")))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(collector)
      assert.deepStrictEqual(exit, Exit.succeed({ status: 503 }))
      assert.strictEqual(yield* dep.calls, 3)
      const last = events[events.length - 1]!
      assert.strictEqual(last._tag === "GaveUp" && last.reason, "Deadline")
    }))

  it.effect("onRetry sees the rejected value", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const dep = yield* answering([503, 200])
      const retry = Retry.policy({
        schedule: Retry.constant("10 millis"),
        whenResult: is503,
        onRetry: (e) => Effect.sync(() => seen.push(e.result?.value)),
        name: fresh()
      })
      yield* drive(dep.call.pipe(retry))
      assert.deepStrictEqual(seen, [{ status: 503 }])
    }))

  it.effect("interrupted while waiting to retry a rejected value: no further attempt", () =>
    Effect.gen(function*() {
      const dep = yield* answering([503])
      const retry = Retry.policy({ schedule: Retry.constant("1 second"), times: 5, whenResult: is503, name: fresh() })
      const fiber = yield* Effect.fork(dep.call.pipe(retry))
      yield* TestClock.adjust("500 millis")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* dep.calls, 1)
    }))

  it.effect("interrupted during a retried attempt: the attempt is interrupted, nothing more runs", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const call = Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) =>
        n === 1 ? Effect.succeed({ status: 503 }) : Effect.never)
      const retry = Retry.policy({ schedule: Retry.constant("10 millis"), times: 5, whenResult: is503, name: fresh() })
      const fiber = yield* Effect.fork(call.pipe(retry))
      yield* TestClock.adjust("20 millis")
      assert.strictEqual(yield* Ref.get(calls), 2)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(fiber)))
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* Ref.get(calls), 2)
    }))

  it.effect("jittered backoff over rejected values is reproducible under a seeded Random", () =>
    Effect.gen(function*() {
      const run = Effect.gen(function*() {
        const dep = yield* answering([503, 503, 503, 200])
        const retry = Retry.policy({
          schedule: Retry.exponential({ base: "100 millis", jitter: "full" }),
          whenResult: is503,
          name: fresh()
        })
        const delays: Array<number> = []
        const collector = yield* retry.events.pipe(
          Stream.runForEach((e) => Effect.sync(() => e._tag === "RetryScheduled" && delays.push(e.delay.value as any))),
          Effect.fork
        )
        yield* Effect.yieldNow()
        yield* drive(dep.call.pipe(retry))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(collector)
        return delays
      })
      const a = yield* run.pipe(Effect.withRandom(Random.make(7)))
      const b = yield* run.pipe(Effect.withRandom(Random.make(7)))
      assert.strictEqual(a.length, 3)
      assert.deepStrictEqual(a, b)
    }))

  it("failAfterMaxAttempts without whenResult is an invalid option", () => {
    assert.throws(
      () => Retry.policy({ failAfterMaxAttempts: true } as any),
      /Retry\.policy: invalid option "failAfterMaxAttempts"/
    )
    assert.throws(() => Retry.policy({ whenResult: 3 as any }), /invalid option "whenResult"/)
    assert.throws(
      () => Retry.policy({ whenResult: is503, failAfterMaxAttempts: "yes" as any }),
      /invalid option "failAfterMaxAttempts"/
    )
  })

  it("the descriptor shows the options", () => {
    const retry = Retry.policy({ whenResult: is503, failAfterMaxAttempts: true })
    const { options } = Policy.describe(retry)
    assert.strictEqual(options.whenResult, true)
    assert.strictEqual(options.failAfterMaxAttempts, true)
    assert.strictEqual(Policy.describe(Retry.policy()).options.whenResult, false)
  })

  it("types: a value predicate constrains the policy's value type; failAfterMaxAttempts adds its error", () => {
    const retry503 = Retry.policy({ whenResult: is503 })
    const strict = Retry.policy({ whenResult: is503, failAfterMaxAttempts: true })
    const call = Effect.succeed({ status: 200 }) as Effect.Effect<Response, Unavailable>
    expectTypeOf(call.pipe(retry503)).toEqualTypeOf<Effect.Effect<Response, Unavailable>>()
    expectTypeOf(call.pipe(strict)).toEqualTypeOf<
      Effect.Effect<Response, Unavailable | Errors.FailedResultError<Response>>
    >()
    // a subtype of the predicate's type is accepted
    const sub = Effect.succeed({ status: 200, body: "x" })
    expectTypeOf(sub.pipe(retry503)).toEqualTypeOf<Effect.Effect<{ status: number; body: string }>>()
    // @ts-expect-error a policy over Response values does not accept an Effect of strings
    Effect.succeed("x").pipe(retry503)
    // @ts-expect-error nor does the failing variant
    strict(Effect.succeed(1))
    // with an error predicate too: both constraints
    const both = Retry.policy({ whenResult: is503, while: (e: Unavailable) => e._tag === "Unavailable", times: 2 })
    expectTypeOf(call.pipe(both)).toEqualTypeOf<Effect.Effect<Response, Unavailable>>()
    // @ts-expect-error an error type the `while` predicate does not read
    Effect.fail("boom" as const).pipe(Effect.as(ok503), both)
    // the constraint survives compose and pipeline
    const pipeline = Policy.pipeline({ retry: strict, timeout: "1 second" })
    expectTypeOf(call.pipe(pipeline)).toEqualTypeOf<
      Effect.Effect<Response, Unavailable | Errors.FailedResultError<Response> | Errors.TimeoutError>
    >()
    // @ts-expect-error a pipeline with a retry over Response values does not accept an Effect of numbers
    Effect.succeed(1).pipe(pipeline)
    // a plain policy accepts anything and adds nothing
    expectTypeOf(Effect.succeed("x").pipe(Retry.policy())).toEqualTypeOf<Effect.Effect<string>>()
  })
})
