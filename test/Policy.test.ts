import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Context, Data, Effect, Exit, Layer, Ref } from "effect"
import { Errors, Policy, Retry, Timeout } from "effect-resilience"
import { runWithClock } from "./utils/clock.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
class NotFound extends Data.TaggedError("NotFound")<{}> {}
class Extra extends Data.TaggedError("Extra")<{}> {}
class Dep extends Context.Tag("test/Dep")<Dep, { readonly n: number }>() {}

/** A policy that records its name when entered and left, to observe order. */
const tracing = (log: Ref.Ref<ReadonlyArray<string>>, name: string) =>
  Policy.make((self) =>
    Ref.update(log, (l) => [...l, `enter ${name}`]).pipe(
      Effect.zipRight(self),
      Effect.ensuring(Ref.update(log, (l) => [...l, `exit ${name}`]))
    ), { kind: name })

describe("Policy.compose", () => {
  it.effect("applies the first policy outermost", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const p = Policy.compose(tracing(log, "a"), tracing(log, "b"), tracing(log, "c"))
      yield* Effect.succeed(1).pipe(p)
      assert.deepStrictEqual(yield* Ref.get(log), ["enter a", "enter b", "enter c", "exit c", "exit b", "exit a"])
      assert.deepStrictEqual(Policy.describe(p).children.map((c) => c.kind), ["a", "b", "c"])
    }))

  it.effect("accepts transforms (fallbacks) and the types follow", () =>
    Effect.gen(function*() {
      const orDefault = Policy.makeTransform<string, NotFound>(
        (self) => Effect.catchIf(self, (e): e is any => (e as any)?._tag === "NotFound", () => Effect.succeed("default")) as any,
        { kind: "Fallback" }
      )
      const p = Policy.compose(orDefault, Timeout.make("1 second"))
      const call: Effect.Effect<number, NotFound | Unavailable> = Effect.fail(new NotFound())
      const result = call.pipe(p)
      expectTypeOf(result).toEqualTypeOf<Effect.Effect<number | string, Unavailable | Errors.TimeoutError>>()
      assert.strictEqual(yield* result, "default")
    }))

  it("types: errors and requirements of compose are the unions of the parts", () => {
    const extra = Policy.make<Extra, Dep>((self) => Effect.zipLeft(self, Dep))
    const p = Policy.compose(Timeout.make("1 second"), extra, Retry.policy())
    expectTypeOf(p).toEqualTypeOf<Policy.Policy<Errors.TimeoutError | Extra, Dep, unknown>>()
    const call: Effect.Effect<number, Unavailable> = Effect.fail(new Unavailable())
    expectTypeOf(call.pipe(p)).toEqualTypeOf<Effect.Effect<number, Unavailable | Errors.TimeoutError | Extra, Dep>>()
    expectTypeOf(p(call)).toEqualTypeOf<Effect.Effect<number, Unavailable | Errors.TimeoutError | Extra, Dep>>()
  })

  it("types: a retry with a typed predicate only accepts matching effects", () => {
    const retry = Retry.policy({ while: (e: Unavailable) => e._tag === "Unavailable" })
    const ok: Effect.Effect<number, Unavailable> = Effect.fail(new Unavailable())
    expectTypeOf(ok.pipe(retry)).toEqualTypeOf<Effect.Effect<number, Unavailable>>()
    const other: Effect.Effect<number, NotFound> = Effect.fail(new NotFound())
    // @ts-expect-error NotFound is not an Unavailable
    retry(other)
  })
})

describe("Policy.fromTag", () => {
  class PaymentsPolicy extends Context.Tag("test/PaymentsPolicy")<PaymentsPolicy, Policy.Policy<Errors.TimeoutError>>() {}

  it.effect("looks the policy up when the effect runs", () =>
    Effect.gen(function*() {
      const payments = Policy.fromTag(PaymentsPolicy)
      const charge = Effect.never.pipe(payments)
      expectTypeOf(charge).toEqualTypeOf<Effect.Effect<never, Errors.TimeoutError, PaymentsPolicy>>()
      const exit = yield* runWithClock(charge.pipe(Effect.provide(Layer.succeed(PaymentsPolicy, Timeout.make("1 second")))))
      assert.isTrue(Exit.isFailure(exit))
    }))
})

describe("Policy.pipeline", () => {
  it.effect("applies the canonical order whatever order the keys are written in", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const p = Policy.pipeline({
        attemptTimeout: Timeout.make("1 second", { name: "attempt" }),
        retry: tracing(log, "retry"),
        circuitBreaker: tracing(log, "breaker"),
        bulkhead: tracing(log, "bulkhead"),
        timeout: "10 seconds",
        fallback: tracing(log, "fallback")
      })
      yield* Effect.succeed(1).pipe(p)
      assert.deepStrictEqual(
        (yield* Ref.get(log)).filter((l) => l.startsWith("enter")),
        ["enter fallback", "enter bulkhead", "enter breaker", "enter retry"]
      )
      const d = Policy.describe(p)
      assert.strictEqual(d.kind, "Pipeline")
      assert.deepStrictEqual(d.children.map((c) => c.kind), ["fallback", "Timeout", "bulkhead", "breaker", "retry", "Timeout"])
      assert.deepStrictEqual(d.children.map((c) => c.name), [undefined, undefined, undefined, undefined, undefined, "attempt"])
    }))

  it.effect("overall timeout bounds retries; attempt timeout bounds each attempt", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const hangs = Ref.update(attempts, (n) => n + 1).pipe(Effect.zipRight(Effect.never))
      const p = Policy.pipeline({
        timeout: "2 seconds",
        retry: Retry.policy({ schedule: Retry.constant("100 millis"), times: 100 }),
        attemptTimeout: "500 millis"
      })
      const exit = yield* runWithClock(hangs.pipe(p))
      assert.isTrue(Exit.isFailure(exit))
      // attempts start at 0, 600, 1200, 1800 (the last clipped to 200ms by the deadline)
      assert.strictEqual(yield* Ref.get(attempts), 4)
    }))

  it("types: the pipeline's error is the union of its parts'", () => {
    const p = Policy.pipeline({ timeout: "1 second", retry: Retry.policy(), attemptTimeout: "100 millis" })
    expectTypeOf(p).toEqualTypeOf<Policy.Policy<Errors.TimeoutError, never, unknown>>()
    const withDep = Policy.pipeline({ bulkhead: Policy.make<Extra, Dep>((self) => Effect.zipLeft(self, Dep)) })
    expectTypeOf(withDep).toEqualTypeOf<Policy.Policy<Extra, Dep, unknown>>()
  })
})

describe("Policy.isPolicy and identity", () => {
  it.effect("identity runs the effect unchanged", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Effect.succeed(3).pipe(Policy.identity), 3)
      assert.isTrue(Policy.isPolicy(Policy.identity))
      assert.isTrue(Policy.isPolicy(Retry.policy()))
      assert.isFalse(Policy.isPolicy(() => 1))
      assert.strictEqual(Policy.describe(() => 1).kind, "Function")
    }))
})
