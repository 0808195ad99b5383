/**
 * Issue 25: `Fallback` falls back on a predicate over the primary's value
 * (`whenResult`); the source receives a `RejectedResult`.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Data, Effect, Exit, Fiber, Ref, TestClock } from "effect"
import { Errors, Fallback, Policy, Retry } from "effect-resilience"
import { counterValue } from "./utils/metrics.js"
import { collect } from "./utils/streams.js"

interface Response {
  readonly status: number
  readonly body: string
}
class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

let names = 0
const fresh = () => `fallback-results-${++names}`
const is503 = (r: Response) => r.status === 503
const ok: Response = { status: 200, body: "ok" }
const down: Response = { status: 503, body: "down" }
const cached: Response = { status: 200, body: "cached" }

describe("Fallback whenResult (issue 25)", () => {
  it.effect("value: a rejected value is replaced; an accepted one passes; errors are handled as before", () =>
    Effect.gen(function*() {
      const fallback = Fallback.value(cached, { whenResult: is503, name: fresh() })
      assert.deepStrictEqual(yield* Effect.succeed(down).pipe(fallback), cached)
      assert.deepStrictEqual(yield* Effect.succeed(ok).pipe(fallback), ok)
      assert.deepStrictEqual(yield* (Effect.fail(new Unavailable()) as Effect.Effect<Response, Unavailable>).pipe(fallback), cached)
      assert.deepStrictEqual(yield* fallback.stats(), { calls: 3, handled: 2, served: 2, exhausted: 0 })
    }))

  it.effect("effect: the source receives the rejected value wrapped in a RejectedResult", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const fallback = Fallback.tags("Unavailable").effect(
        (e) =>
          Effect.sync(() => {
            seen.push(e)
            return e instanceof Fallback.RejectedResult ? { status: 200, body: `was ${e.value.status}` } : cached
          }),
        { whenResult: is503 }
      )
      assert.deepStrictEqual(yield* Effect.succeed(down).pipe(fallback), { status: 200, body: "was 503" })
      const e = seen[0] as Fallback.RejectedResult<Response>
      assert.strictEqual(e._tag, "RejectedResult")
      assert.deepStrictEqual(e.value, down)
      assert.isTrue(Errors.isResilienceError(e))
      assert.isFalse(Errors.isRejection(e))
    }))

  it.effect("chain: sources in order; every source failing surfaces the last one's error", () =>
    Effect.gen(function*() {
      const name = fresh()
      const chain = Fallback.chain(
        [Effect.fail("cache miss" as const), (e: unknown) => Effect.fail({ again: e })],
        { whenResult: is503, name }
      )
      const exit = yield* Effect.exit(Effect.succeed(down).pipe(chain))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(yield* counterValue("resilience_fallback_exhausted", { policy: name }), 1)
      const served = Fallback.chain([Effect.fail("miss"), Effect.succeed(cached)], { whenResult: is503, name: fresh() })
      assert.deepStrictEqual(yield* Effect.succeed(down).pipe(served), cached)
    }))

  it.effect("the FallbackServed event's error is the RejectedResult", () =>
    Effect.gen(function*() {
      const fallback = Fallback.value(cached, { whenResult: is503 })
      const take = yield* collect(fallback.events, 1)
      yield* Effect.succeed(down).pipe(fallback)
      const events = yield* take
      assert.strictEqual(events.length, 1)
      const served = events[0]!
      assert.isTrue(served._tag === "FallbackServed" && served.error instanceof Fallback.RejectedResult)
    }))

  it.effect("a predicate that throws or answers a non-boolean: the value is returned, and it is reported", () =>
    Effect.gen(function*() {
      for (const [kind, whenResult] of [
        ["throw", (_: Response): boolean => {
          throw new Error("boom")
        }],
        ["malformed", (_: Response) => null as unknown as boolean]
      ] as const) {
        const name = fresh()
        const fallback = Fallback.value(cached, { whenResult, name })
        assert.deepStrictEqual(yield* Effect.succeed(down).pipe(fallback), down)
        assert.strictEqual(
          yield* counterValue("resilience_user_code_failures", { module: "Fallback", policy: name, hook: "whenResult", kind }),
          1
        )
      }
    }))

  it.effect("interrupted while the source runs for a rejected value: the caller is interrupted, nothing served", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make(0)
      const fallback = Fallback.effect(
        Effect.zipRight(Ref.update(ran, (n) => n + 1), Effect.as(Effect.sleep("1 second"), cached)),
        { whenResult: is503 }
      )
      const fiber = yield* Effect.fork(Effect.succeed(down).pipe(fallback))
      yield* TestClock.adjust("500 millis")
      assert.isTrue(Exit.isInterrupted(yield* Fiber.interrupt(fiber)))
      assert.strictEqual(yield* Ref.get(ran), 1)
      assert.strictEqual((yield* fallback.stats()).served, 0)
    }))

  it.effect("composes with a Retry over the same values (retry inside, fallback outside)", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const get = Effect.as(Ref.update(calls, (n) => n + 1), down)
      const policy = Policy.compose(
        Fallback.value(cached, { whenResult: is503 }),
        Retry.policy({ schedule: Retry.constant("10 millis"), times: 2, whenResult: is503 })
      )
      const fiber = yield* Effect.fork(get.pipe(policy))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(fiber), cached)
      assert.strictEqual(yield* Ref.get(calls), 3)
    }))

  it("whenResult is validated and described", () => {
    assert.throws(() => Fallback.value(0, { whenResult: 1 as any }), /Fallback\.value: invalid option "whenResult"/)
    assert.strictEqual(Policy.describe(Fallback.value(0, { whenResult: () => true })).options.whenResult, true)
    assert.strictEqual(Policy.describe(Fallback.value(0)).options.whenResult, false)
  })

  it("types: the predicate constrains the value type; the source's input includes RejectedResult", () => {
    const fallback = Fallback.value(cached, { whenResult: is503 })
    const call = Effect.succeed(ok) as Effect.Effect<Response, Unavailable>
    expectTypeOf(call.pipe(fallback)).toEqualTypeOf<Effect.Effect<Response>>()
    // @ts-expect-error a fallback over Response values does not accept an Effect of strings
    Effect.succeed("x").pipe(fallback)
    // @ts-expect-error nor through compose
    Effect.succeed(1).pipe(Policy.compose(fallback))
    Fallback.tags("Unavailable").effect((e) => {
      expectTypeOf(e).toEqualTypeOf<{ readonly _tag: "Unavailable" } | Fallback.RejectedResult<Response>>()
      return Effect.succeed(cached)
    }, { whenResult: is503 })
    // without whenResult nothing changes
    expectTypeOf(Effect.succeed("x").pipe(Fallback.value(0))).toEqualTypeOf<Effect.Effect<string | number>>()
  })
})
