import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Context, Data, Effect, Exit, Layer, Ref } from "effect"
import { Errors, Policy, Retry, Timeout } from "effect-resilience"
import { runWithClock } from "./utils/clock.js"
import { unsafeMakeCallable, unsafeMakeTransformCallable } from "../src/internal/policy.js"

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

describe("Policy brands and descriptors", () => {
  const brandOf = (f: Function, id: symbol) => Object.getOwnPropertyDescriptor(f, id)

  it("a policy carries its brand (with its variance) and its descriptor as hidden properties only", () => {
    const withDescriptor = Policy.make((self) => self, { kind: "Mine", name: "m" })
    const bare = Policy.make((self) => self)
    const callable = unsafeMakeCallable((self: Effect.Effect<unknown>) => self, { kind: "Callable" })
    for (const p of [withDescriptor, bare, callable]) {
      const brand = brandOf(p, Policy.PolicyTypeId)
      assert.isDefined(brand)
      assert.isFalse(brand!.enumerable)
      assert.deepStrictEqual(Object.keys(brand!.value).sort(), ["_AIn", "_E", "_In", "_R"])
      // nothing shows up when a policy is spread, logged or serialised
      assert.deepStrictEqual(Object.keys(p), [])
      assert.isFalse(Policy.TransformTypeId in p)
    }
    // a policy made without a descriptor carries only its brand
    assert.deepStrictEqual(Object.getOwnPropertySymbols(bare), [Policy.PolicyTypeId])
    assert.deepStrictEqual(Policy.describe(bare), { kind: "Function", name: undefined, options: {}, children: [] })
    const descriptor = brandOf(withDescriptor, Policy.DescriptorTypeId)!
    assert.isFalse(descriptor.enumerable)
    assert.isTrue(descriptor.configurable)
    assert.deepStrictEqual(Policy.describe(withDescriptor), { kind: "Mine", name: "m", options: {}, children: [] })
    assert.deepStrictEqual(Policy.describe(callable), { kind: "Callable", name: undefined, options: {}, children: [] })
  })

  it("a transform carries the transform brand, normalised descriptor or none", () => {
    const described = Policy.makeTransform<never, never>((self) => self, { kind: "Recover", options: { n: 1 } })
    const bare = Policy.makeTransform<never, never>((self) => self)
    const callable = unsafeMakeTransformCallable((self: Effect.Effect<unknown>) => self, { kind: "T" })
    for (const t of [described, bare, callable]) {
      const brand = brandOf(t, Policy.TransformTypeId)
      assert.isDefined(brand)
      assert.isFalse(brand!.enumerable)
      assert.deepStrictEqual(Object.keys(brand!.value).sort(), ["_A", "_AIn", "_E", "_H", "_In", "_R"])
      assert.deepStrictEqual(Object.keys(t), [])
      assert.isTrue(Policy.isPolicy(t))
    }
    assert.deepStrictEqual(Policy.describe(described), { kind: "Recover", name: undefined, options: { n: 1 }, children: [] })
    assert.deepStrictEqual(Object.getOwnPropertySymbols(bare), [Policy.TransformTypeId])
    assert.strictEqual(Policy.describe(bare).kind, "Function")
    assert.deepStrictEqual(Policy.describe(callable), { kind: "T", name: undefined, options: {}, children: [] })
  })

  it("compose is a transform as soon as one part is, and describes itself as Compose", () => {
    const p = Policy.make((self) => self, { kind: "P" })
    const t = Policy.makeTransform<never, never>((self) => self, { kind: "T" })
    const policies = Policy.compose(p, p)
    assert.isTrue(Policy.PolicyTypeId in policies)
    assert.isFalse(Policy.TransformTypeId in policies)
    for (const mixed of [Policy.compose(p, t), Policy.compose(t, p), Policy.compose(t, t)]) {
      assert.isTrue(Policy.TransformTypeId in mixed)
      assert.isFalse(Policy.PolicyTypeId in mixed)
    }
    const d = Policy.describe(Policy.compose(p, t))
    assert.strictEqual(d.kind, "Compose")
    assert.deepStrictEqual(d.children.map((c) => c.kind), ["P", "T"])
    assert.deepStrictEqual(Object.keys(Policy.compose(p, t)), [])
  })

  it("pipeline's own descriptor is hidden and can be replaced, like every descriptor", () => {
    const p = Policy.pipeline({ timeout: "1 second" })
    const descriptor = brandOf(p, Policy.DescriptorTypeId)!
    assert.isFalse(descriptor.enumerable)
    assert.isTrue(descriptor.configurable)
    assert.deepStrictEqual(Object.keys(p), [])
  })

  it.effect("pipeline's durations become timeouts scoped overall and per attempt", () =>
    Effect.gen(function*() {
      const p = Policy.pipeline({ timeout: "1 second", attemptTimeout: "100 millis" })
      assert.deepStrictEqual(Policy.describe(p).children.map((c) => c.options.scope), ["overall", "attempt"])
      const attempt = yield* runWithClock(Effect.never.pipe(Policy.pipeline({ attemptTimeout: "100 millis" })))
      const overall = yield* runWithClock(Effect.never.pipe(Policy.pipeline({ timeout: "100 millis" })))
      for (const [exit, scope] of [[attempt, "attempt"], [overall, "overall"]] as const) {
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          assert.instanceOf(error, Errors.TimeoutError)
          assert.strictEqual((error as Errors.TimeoutError).scope, scope)
        }
      }
    }))
})
