import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Config,
  ConfigProvider,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  FastCheck as fc,
  Fiber,
  Layer,
  Metric,
  MetricState,
  Option,
  Ref,
  Schema,
  Scope,
  Stream,
  TestClock
} from "effect"
import { Errors, Idempotency, Retry, Timeout } from "effect-resilience"
import { settle } from "./utils/fibers.js"
import { numRuns } from "./utils/props.js"

class Declined extends Schema.TaggedError<Declined>()("Declined", { reason: Schema.String }) {}
class Unavailable extends Data.TaggedError("Unavailable")<{}> {}


/** A dependency that counts its executions and answers `answer(n)` after `latency`. */
const counted = <A, E>(answer: (n: number) => Effect.Effect<A, E>, latency: Duration.DurationInput = "1 second") =>
  Effect.gen(function*() {
    const runs = yield* Ref.make(0)
    const call = Effect.flatMap(Ref.updateAndGet(runs, (n) => n + 1), (n) =>
      Effect.zipRight(Effect.sleep(latency), answer(n)))
    return { call, runs: Ref.get(runs) }
  })

describe("Idempotency options", () => {
  it.scoped("applies the defaults", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 hour" })
      assert.deepStrictEqual(idem.options, {
        ttl: Duration.hours(1),
        keepFailures: false,
        hasSchemas: false,
        name: "idempotency",
        maxKeyLength: 1024
      })
      assert.strictEqual(idem.policyName, "idempotency")
      const withPredicate = yield* Idempotency.make({ ttl: "1 hour", keepFailures: (e: Declined) => e.reason === "x" })
      assert.strictEqual(withPredicate.options.keepFailures, "predicate")
    }))

  it.scoped("keepFailures: false is accepted and keeps no failure, as the default does", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 hour", keepFailures: false })
      assert.strictEqual(idem.options.keepFailures, false)
      const dep = yield* counted(() => Effect.fail(new Declined({ reason: "no" })), "0 millis")
      yield* Effect.flip(idem.run("k", dep.call))
      yield* Effect.flip(idem.run("k", dep.call))
      assert.strictEqual(yield* dep.runs, 2)
    }))

  it.scoped("hasSchemas needs both Schemas", () =>
    Effect.gen(function*() {
      const successOnly = yield* Idempotency.make({ ttl: "1 hour", success: Schema.Number })
      assert.isFalse(successOnly.options.hasSchemas)
      const failureOnly = yield* Idempotency.make({ ttl: "1 hour", failure: Schema.String })
      assert.isFalse(failureOnly.options.hasSchemas)
      const both = yield* Idempotency.make({ ttl: "1 hour", success: Schema.Number, failure: Schema.String })
      assert.isTrue(both.options.hasSchemas)
    }))

  const invalid: ReadonlyArray<readonly [string, string, unknown]> = [
    ["options", "an object", null],
    ["options", "an object", 42],
    ["ttl", "a finite duration > 0", {}],
    ["ttl", "a finite duration > 0", { ttl: 0 }],
    ["ttl", "a finite duration > 0", { ttl: "-1 seconds" }],
    ["ttl", "a finite duration > 0", { ttl: Duration.infinity }],
    ["keepFailures", "a boolean or a predicate on the error", { ttl: "1 hour", keepFailures: "yes" }],
    ["success", "a Schema", { ttl: "1 hour", success: { not: "a schema" } }],
    ["failure", "a Schema", { ttl: "1 hour", failure: 42 }],
    ["name", "a non-empty string", { ttl: "1 hour", name: "" }]
  ]
  for (const [option, expected, options] of invalid) {
    it.scoped(`rejects an invalid ${option}: ${JSON.stringify(options)}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Idempotency.make(options as any))
        assert.strictEqual(error._tag, "InvalidOptionsError")
        assert.strictEqual(error.module, "Idempotency.make")
        assert.strictEqual(error.option, option)
        assert.strictEqual(error.expected, expected)
      }))
  }

  it.scoped("memory store options are validated", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Idempotency.makeStoreMemory({ maxKeys: 0 }))
      assert.strictEqual(error.option, "maxKeys")
      const fractional = yield* Effect.flip(Idempotency.makeStoreMemory({ maxKeys: 1.5 }))
      assert.strictEqual(fractional.option, "maxKeys")
      assert.strictEqual(fractional.expected, "an integer >= 1")
      const interval = yield* Effect.flip(Layer.build(Idempotency.layerStoreMemory({ sweepInterval: -5 })))
      assert.strictEqual(interval.option, "sweepInterval")
      assert.strictEqual(interval.expected, "a duration > 0")
    }))

  it.scoped("an infinite sweepInterval is accepted and starts no sweeper", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ sweepInterval: Duration.infinity })
      yield* settle
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* TestClock.sleeps()), [])
      assert.strictEqual(store.unsafeStats().maxKeys, 100_000)
    }))

  it("IdempotencyError's message names the key, the reason and the cause", () => {
    assert.strictEqual(
      new Idempotency.IdempotencyError({ key: "order-1", reason: "StoreError" }).message,
      "Idempotency store failed for key order-1 (StoreError)"
    )
    assert.strictEqual(
      new Idempotency.IdempotencyError({ key: "order-1", reason: "StoreError", cause: new Error("ECONNREFUSED") }).message,
      "Idempotency store failed for key order-1 (StoreError): ECONNREFUSED"
    )
    assert.strictEqual(
      new Idempotency.IdempotencyError({ key: "k", reason: "DecodeError", cause: "bad json" }).message,
      "Idempotency store failed for key k (DecodeError): bad json"
    )
  })
})

describe("Idempotency.run", () => {
  it.scoped("runs the effect once per key and replays its Exit until ttl has passed", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      const dep = yield* counted((n) => Effect.succeed(`result ${n}`), "0 millis")
      assert.strictEqual(yield* idem.run("a", dep.call), "result 1")
      assert.strictEqual(yield* idem.run("a", dep.call), "result 1")
      assert.strictEqual(yield* idem.execute(dep.call, { key: "a" }), "result 1")
      assert.strictEqual(yield* dep.call.pipe(idem.execute({ key: "a" })), "result 1")
      assert.strictEqual(yield* dep.runs, 1)
      // another key is another execution
      assert.strictEqual(yield* idem.run("b", dep.call), "result 2")
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual(yield* idem.run("a", dep.call), "result 1")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* idem.run("a", dep.call), "result 3")
      assert.deepStrictEqual(idem.unsafeStats(), { executions: 3, joined: 0, replayed: 4, storeErrors: 0, refused: 0 })
    }))

  it.scoped("1,000 concurrent callers with the same key share one execution", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      const dep = yield* counted((n) => Effect.succeed({ execution: n }))
      const fibers = yield* Effect.forEach(
        Array.from({ length: 1_000 }, (_, i) => i),
        () => Effect.fork(idem.run("order-1", dep.call))
      )
      yield* settle
      yield* TestClock.adjust("1 second")
      const results = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(yield* dep.runs, 1)
      // the very same value for everyone
      assert.isTrue(results.every((r) => r === results[0]))
      assert.deepStrictEqual(results[0], { execution: 1 })
      assert.deepStrictEqual(idem.unsafeStats(), { executions: 1, joined: 999, replayed: 0, storeErrors: 0, refused: 0 })
    }))

  it.scoped("a typed failure reaches the sharers but is not kept by default", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      const dep = yield* counted((n) => (n === 1 ? Effect.fail(new Unavailable()) : Effect.succeed(n)))
      const a = yield* Effect.fork(Effect.either(idem.run("k", dep.call)))
      const b = yield* Effect.fork(Effect.either(idem.run("k", dep.call)))
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.isTrue(Either.isLeft(yield* Fiber.join(a)))
      const shared = yield* Fiber.join(b)
      assert.isTrue(Either.isLeft(shared) && shared.left._tag === "Unavailable")
      // the next call runs again
      const next = yield* Effect.fork(idem.run("k", dep.call))
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(next), 2)
      assert.strictEqual(yield* dep.runs, 2)
    }))

  it.scoped("keepFailures: true keeps typed failures; a predicate keeps the ones it accepts", () =>
    Effect.gen(function*() {
      const keepAll = yield* Idempotency.make({ ttl: "1 minute", keepFailures: true, name: "all" })
      const declined = yield* counted(() => Effect.fail(new Declined({ reason: "insufficient funds" })), "0 millis")
      const first = yield* Effect.flip(keepAll.run("k", declined.call))
      const again = yield* Effect.flip(keepAll.run("k", declined.call))
      assert.strictEqual(first, again)
      assert.strictEqual(yield* declined.runs, 1)

      const keepDeclined = yield* Idempotency.make({
        ttl: "1 minute",
        keepFailures: (e: Declined | Unavailable) => e._tag === "Declined",
        name: "some"
      })
      const mixed = yield* counted(
        (n): Effect.Effect<never, Declined | Unavailable> =>
          n === 1 ? Effect.fail(new Unavailable()) : Effect.fail(new Declined({ reason: "stolen card" })),
        "0 millis"
      )
      assert.strictEqual((yield* Effect.flip(keepDeclined.run("k", mixed.call)))._tag, "Unavailable")
      assert.strictEqual((yield* Effect.flip(keepDeclined.run("k", mixed.call)))._tag, "Declined")
      assert.strictEqual((yield* Effect.flip(keepDeclined.run("k", mixed.call)))._tag, "Declined")
      assert.strictEqual(yield* mixed.runs, 2)
    }))

  it.scoped("defects reach the sharers but are never kept", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute", keepFailures: true })
      const dep = yield* counted((n) => (n === 1 ? Effect.die("boom") : Effect.succeed(n)))
      const a = yield* Effect.fork(Effect.exit(idem.run("k", dep.call)))
      const b = yield* Effect.fork(Effect.exit(idem.run("k", dep.call)))
      yield* settle
      yield* TestClock.adjust("1 second")
      const exitA = yield* Fiber.join(a)
      const exitB = yield* Fiber.join(b)
      assert.isTrue(Exit.isFailure(exitA) && Cause.isDie(exitA.cause))
      assert.isTrue(Exit.isFailure(exitB) && Cause.isDie(exitB.cause))
      const next = yield* Effect.fork(idem.run("k", dep.call))
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(next), 2)
    }))

  it.scoped("invalidate forgets a stored Exit", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 hour" })
      const dep = yield* counted((n) => Effect.succeed(n), "0 millis")
      yield* idem.run("k", dep.call)
      yield* idem.invalidate("k")
      assert.strictEqual(yield* idem.run("k", dep.call), 2)
    }))
})

describe("Idempotency and interruption", () => {
  it.scoped("the first caller interrupted: the execution continues for the others, and its result is kept", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      const dep = yield* counted((n) => Effect.succeed(`charge ${n}`))
      const first = yield* Effect.fork(idem.run("order", dep.call))
      yield* settle
      const second = yield* Effect.fork(idem.run("order", dep.call))
      yield* settle
      yield* TestClock.adjust("500 millis")
      yield* Fiber.interrupt(first)
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* Fiber.join(second), "charge 1")
      assert.strictEqual(yield* idem.run("order", dep.call), "charge 1")
      assert.strictEqual(yield* dep.runs, 1)
    }))

  it.scoped("every caller interrupted: the execution still completes once and a retry gets its result", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      const dep = yield* counted((n) => Effect.succeed(n))
      const callers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(idem.run("k", dep.call)))
      yield* settle
      yield* Effect.forEach(callers, Fiber.interrupt)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* idem.run("k", dep.call), 1)
      assert.strictEqual(yield* dep.runs, 1)
    }))

  it.scoped("an execution that ends without a result (it interrupted itself): the next waiter takes over", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      const dep = yield* counted((n) => (n === 1 ? Effect.interrupt : Effect.succeed(n)))
      const owner = yield* Effect.fork(idem.run("k", dep.call))
      yield* settle
      const waiter = yield* Effect.fork(idem.run("k", dep.call))
      yield* settle
      yield* TestClock.adjust("1 second")
      const ownerExit = yield* Fiber.await(owner)
      assert.isTrue(Exit.isInterrupted(ownerExit))
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(waiter), 2)
      assert.strictEqual(yield* idem.run("k", dep.call), 2)
      assert.strictEqual(idem.unsafeStats().executions, 2)
    }))

  it.effect("closing the policy's scope interrupts executions in flight and their callers: nobody hangs", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const idem = yield* Idempotency.make({ ttl: "1 minute" }).pipe(Scope.extend(scope))
      const started = yield* Deferred.make<void>()
      const slow = Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)
      const owner = yield* Effect.fork(idem.run("k", slow))
      yield* Deferred.await(started)
      const waiters = yield* Effect.forEach([1, 2], () => Effect.fork(idem.run("k", slow)))
      yield* settle
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(owner)))
      for (const w of waiters) assert.isTrue(Exit.isInterrupted(yield* Fiber.await(w)))
      // and a closed policy runs nothing
      assert.isTrue(Exit.isInterrupted(yield* Effect.exit(idem.run("other", Effect.succeed(1)))))
      // the waiters stopped instead of taking over, and "other" never started an execution
      assert.deepStrictEqual(idem.unsafeStats(), { executions: 1, joined: 2, replayed: 0, storeErrors: 0, refused: 0 })
    }))

  it.scoped("a caller's Timeout bounds its wait, not the shared execution (which sees no deadline)", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      const seen = yield* Ref.make<Option.Option<Duration.Duration>>(Option.some(Duration.zero))
      const work = Effect.zipRight(
        Effect.flatMap(Timeout.remaining, (r) => Ref.set(seen, r)),
        Effect.as(Effect.sleep("5 seconds"), "done")
      )
      const impatient = yield* Effect.fork(Effect.either(idem.run("k", work).pipe(Timeout.make("1 second"))))
      yield* settle
      yield* TestClock.adjust("1 second")
      const timedOut = yield* Fiber.join(impatient)
      assert.isTrue(Either.isLeft(timedOut) && timedOut.left._tag === "TimeoutError")
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual(yield* idem.run("k", work), "done")
      assert.isTrue(Option.isNone(yield* Ref.get(seen)))
    }))

  it.scoped("only the execution loses the deadline: its caller, a replay and a joiner keep theirs afterwards", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      const gate = yield* Deferred.make<void>()
      const inside = yield* Ref.make<Option.Option<Duration.Duration>>(Option.some(Duration.zero))
      const work = Effect.zipRight(
        Effect.flatMap(Timeout.remaining, (r) => Ref.set(inside, r)),
        Effect.as(Deferred.await(gate), "done")
      )
      // each caller reads its own remaining time once its call returned (10 s: the clock does not move)
      const afterwards = (effect: Effect.Effect<string, unknown>) =>
        Effect.zipRight(effect, Timeout.remaining).pipe(Timeout.make("10 seconds"))
      const executor = yield* Effect.fork(afterwards(idem.run("k", work)))
      yield* settle
      const joiner = yield* Effect.fork(afterwards(idem.run("k", work)))
      yield* settle
      yield* Deferred.succeed(gate, undefined)
      yield* settle
      const replay = yield* afterwards(idem.run("k", work))
      assert.isTrue(Option.isNone(yield* Ref.get(inside)))
      for (const remaining of [yield* Fiber.join(executor), yield* Fiber.join(joiner), replay]) {
        assert.deepStrictEqual(remaining, Option.some(Duration.seconds(10)))
      }
      assert.deepStrictEqual(idem.unsafeStats(), { executions: 1, joined: 1, replayed: 1, storeErrors: 0, refused: 0 })
    }))

  it.effect.prop(
    "whatever the arrivals and interruptions, each key executes once and every caller that is not interrupted gets its result",
    [
      fc.array(
        fc.record({
          key: fc.constantFrom("a", "b", "c"),
          gap: fc.integer({ min: 0, max: 400 }),
          interruptAfter: fc.option(fc.integer({ min: 0, max: 1500 }), { nil: undefined })
        }),
        { minLength: 1, maxLength: 40 }
      )
    ],
    ([calls]) =>
      Effect.gen(function*() {
        const idem = yield* Idempotency.make({ ttl: "1 hour" })
        const runs = new Map<string, number>()
        const work = (key: string) =>
          Effect.suspend(() => {
            const n = (runs.get(key) ?? 0) + 1
            runs.set(key, n)
            return Effect.as(Effect.sleep("1 second"), `${key}#${n}`)
          })
        const fibers: Array<
          { key: string; fiber: Fiber.RuntimeFiber<string, Idempotency.IdempotencyError | Errors.InvalidKeyError> }
        > = []
        for (const call of calls) {
          if (call.gap > 0) yield* TestClock.adjust(Duration.millis(call.gap))
          const fiber = yield* Effect.fork(idem.run(call.key, work(call.key)))
          fibers.push({ key: call.key, fiber })
          if (call.interruptAfter !== undefined) {
            yield* Effect.fork(Effect.zipRight(Effect.sleep(Duration.millis(call.interruptAfter)), Fiber.interrupt(fiber)))
          }
          yield* Effect.yieldNow()
        }
        yield* TestClock.adjust("1 minute")
        for (const { fiber, key } of fibers) {
          const exit = yield* Fiber.await(fiber)
          if (Exit.isSuccess(exit)) assert.strictEqual(exit.value, `${key}#1`)
          else assert.isTrue(Exit.isInterrupted(exit))
        }
        for (const [key, n] of runs) assert.strictEqual(n, 1, `key ${key} executed ${n} times`)
      }).pipe(Effect.scoped),
    { fastCheck: { numRuns: numRuns(100) } }
  )

  // The policy hands its own memory store the call's lease directly; any other store finds it in
  // its context (`Scope.extend`). The same scenario through both must answer the same, call by call.
  it.effect.prop(
    "the memory store's direct path answers exactly as the general store path (a wrapped memory store)",
    [
      fc.array(
        fc.record({
          key: fc.constantFrom("a", "b", "c", "d"),
          gap: fc.integer({ min: 0, max: 700 }),
          outcome: fc.constantFrom("succeed" as const, "fail" as const, "die" as const, "interrupt" as const),
          interruptAfter: fc.option(fc.integer({ min: 0, max: 1500 }), { nil: undefined }),
          invalidate: fc.boolean()
        }),
        { minLength: 1, maxLength: 30 }
      ),
      fc.integer({ min: 1, max: 4 }),
      fc.boolean()
    ],
    ([calls, maxKeys, keepFailures]) =>
      Effect.gen(function*() {
        const scenario = (wrap: boolean) =>
          Effect.gen(function*() {
            const memory = yield* Idempotency.makeStoreMemory({ maxKeys, sweepInterval: Duration.infinity })
            const store: Context.Tag.Service<Idempotency.IdempotencyStore> = wrap
              ? { persistent: false, acquire: (k, o) => memory.acquire(k, o), invalidate: (k) => memory.invalidate(k) }
              : memory
            const idem = yield* Idempotency.make({ ttl: "2 seconds", keepFailures }).pipe(
              Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
            )
            const runs: Array<string> = []
            const work = (key: string, outcome: "succeed" | "fail" | "die" | "interrupt") =>
              Effect.suspend(() => {
                runs.push(key)
                const n = runs.length
                return Effect.zipRight(
                  Effect.sleep("1 second"),
                  outcome === "succeed"
                    ? Effect.succeed(`${key}#${n}`)
                    : outcome === "fail"
                    ? Effect.fail(new Declined({ reason: `${key}#${n}` }))
                    : outcome === "die"
                    ? Effect.die(`${key}#${n}`)
                    : Effect.interrupt
                )
              })
            const fibers: Array<Fiber.RuntimeFiber<string, unknown>> = []
            for (const call of calls) {
              if (call.gap > 0) yield* TestClock.adjust(Duration.millis(call.gap))
              if (call.invalidate) yield* idem.invalidate(call.key)
              const fiber = yield* Effect.fork(idem.run(call.key, work(call.key, call.outcome)))
              fibers.push(fiber)
              if (call.interruptAfter !== undefined) {
                yield* Effect.fork(Effect.zipRight(Effect.sleep(Duration.millis(call.interruptAfter)), Fiber.interrupt(fiber)))
              }
              yield* Effect.yieldNow()
            }
            yield* TestClock.adjust("1 minute")
            const answers: Array<unknown> = []
            for (const fiber of fibers) {
              // polled, not awaited: a caller left waiting is an answer that differs, not a hang
              const polled = yield* Fiber.poll(fiber)
              if (Option.isNone(polled)) {
                answers.push("still waiting")
                continue
              }
              const exit = polled.value
              answers.push(
                Exit.isSuccess(exit)
                  ? exit.value
                  : Exit.isInterrupted(exit)
                  ? "interrupted"
                  : Cause.squash(exit.cause) instanceof Idempotency.IdempotencyError
                  ? `refused ${Duration.toMillis((Cause.squash(exit.cause) as Idempotency.IdempotencyError).retryAfter ?? 0)}`
                  : String(Cause.squash(exit.cause) instanceof Declined ? (Cause.squash(exit.cause) as Declined).reason : Cause.squash(exit.cause))
              )
            }
            return { answers, runs, stats: idem.unsafeStats(), store: memory.unsafeStats() }
          }).pipe(Effect.scoped)
        const direct = yield* scenario(false)
        const general = yield* scenario(true)
        assert.deepStrictEqual(direct, general)
      }),
    { fastCheck: { numRuns: numRuns(50) } }
  )
})

describe("Idempotency composition", () => {
  it.scoped("Retry around run: an unkept transient failure is retried as a new execution, then the success is kept", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      const dep = yield* counted((n) => (n < 3 ? Effect.fail(new Unavailable()) : Effect.succeed(n)), "0 millis")
      const retry = Retry.policy({ schedule: Retry.constant("100 millis"), times: 5 })
      const fiber = yield* Effect.fork(idem.run("k", dep.call).pipe(retry))
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), 3)
      assert.strictEqual(yield* idem.run("k", dep.call), 3)
      assert.strictEqual(yield* dep.runs, 3)
    }))

  it.scoped("Retry around run with a kept failure replays it instead of running again", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute", keepFailures: true })
      const dep = yield* counted(() => Effect.fail(new Declined({ reason: "no" })), "0 millis")
      const retry = Retry.policy({ schedule: Retry.constant("100 millis"), times: 2 })
      const fiber = yield* Effect.fork(Effect.flip(idem.run("k", dep.call).pipe(retry)))
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "Declined")
      assert.strictEqual(yield* dep.runs, 1)
      assert.strictEqual(idem.unsafeStats().replayed, 2)
    }))
})

describe("Idempotency stores", () => {
  it.effect("policies with the same name share a provided store; other names and private stores do not", () =>
    Effect.gen(function*() {
      const a = yield* Idempotency.make({ ttl: "1 minute", name: "emails" })
      const b = yield* Idempotency.make({ ttl: "1 minute", name: "emails" })
      const c = yield* Idempotency.make({ ttl: "1 minute", name: "sms" })
      assert.strictEqual(yield* a.run("k", Effect.succeed("a")), "a")
      assert.strictEqual(yield* b.run("k", Effect.succeed("b")), "a")
      assert.strictEqual(yield* c.run("k", Effect.succeed("c")), "c")
      const store = yield* Idempotency.IdempotencyStore
      assert.isFalse(store.persistent)
    }).pipe(Effect.scoped, Effect.provide(Idempotency.layerStoreMemory())))

  it.scoped("without a provided store each policy has a private one", () =>
    Effect.gen(function*() {
      const a = yield* Idempotency.make({ ttl: "1 minute" })
      const b = yield* Idempotency.make({ ttl: "1 minute" })
      yield* a.run("k", Effect.succeed("a"))
      assert.strictEqual(yield* b.run("k", Effect.succeed("b")), "b")
    }))

  it.effect("the store reference's default value, read directly, is a memory store", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.IdempotencyStore
      assert.isFalse(store.persistent)
      assert.isTrue(Idempotency.MemoryStoreTypeId in store)
      assert.strictEqual((yield* (store as Idempotency.MemoryStore).stats()).maxKeys, 100_000)
    }))

  it.scoped("readers: stats, size are Effects; unsafeStats, unsafeSize their synchronous twins", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ maxKeys: 10 })
      const idem = yield* Idempotency.make({ ttl: "1 minute" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      yield* idem.run("k", Effect.succeed(1))
      yield* idem.run("k", Effect.succeed(2))
      assert.deepStrictEqual(yield* idem.stats(), { executions: 1, joined: 0, replayed: 1, storeErrors: 0, refused: 0 })
      assert.deepStrictEqual(yield* idem.stats(), idem.unsafeStats())
      assert.deepStrictEqual(yield* store.stats(), {
        stored: 1,
        inFlight: 0,
        maxKeys: 10,
        expired: 0,
        evicted: 0,
        refused: 0,
        highWaterCrossings: 0
      })
      assert.deepStrictEqual(yield* store.stats(), store.unsafeStats())
      assert.strictEqual(yield* store.size(), 1)
      assert.strictEqual(store.unsafeSize(), 1)
      expectTypeOf(idem.stats()).toEqualTypeOf<Effect.Effect<Idempotency.Idempotency.Stats>>()
    }))

  it.scoped("isIdempotency: true for policies only; a policy carries its TypeId", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      assert.isTrue(Idempotency.isIdempotency(idem))
      assert.strictEqual(idem[Idempotency.TypeId], Idempotency.TypeId)
      assert.isFalse(Idempotency.isIdempotency({}))
      assert.isFalse(Idempotency.isIdempotency(undefined))
      assert.isFalse(Idempotency.isIdempotency(Timeout.make("1 second")))
    }))

  it.scoped("whenFull: \"evictOldest\": the memory store keeps at most maxKeys Exits (the oldest dropped) and sweeps expired ones", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ maxKeys: 100, sweepInterval: "1 minute", whenFull: "evictOldest" })
      const idem = yield* Idempotency.make({ ttl: "30 seconds" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      for (let i = 0; i < 1_000; i++) yield* idem.run(`request-${i}`, Effect.succeed(i))
      assert.strictEqual(store.unsafeSize(), 100)
      assert.strictEqual(store.unsafeStats().evicted, 900)
      // the newest are kept
      assert.strictEqual(yield* idem.run("request-999", Effect.succeed(-1)), 999)
      assert.strictEqual(yield* idem.run("request-0", Effect.succeed(-1)), -1)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(store.unsafeSize(), 0)
      assert.deepStrictEqual(store.unsafeStats(), { stored: 0, inFlight: 0, maxKeys: 100, expired: 100, evicted: 901, refused: 0, highWaterCrossings: 1 })
    }))

  it.scoped("a stored Exit is replayed until exactly ttl has passed, then the key runs again", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ sweepInterval: Duration.infinity })
      const idem = yield* Idempotency.make({ ttl: "1 minute" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      const dep = yield* counted((n) => Effect.succeed(n), "0 millis")
      yield* idem.run("k", dep.call)
      yield* TestClock.adjust(Duration.millis(59_999))
      assert.strictEqual(yield* idem.run("k", dep.call), 1)
      yield* TestClock.adjust("1 millis")
      // expired on lookup (no sweep ran): dropped and counted
      assert.strictEqual(yield* idem.run("k", dep.call), 2)
      assert.deepStrictEqual(store.unsafeStats(), { stored: 1, inFlight: 0, maxKeys: 100_000, expired: 1, evicted: 0, refused: 0, highWaterCrossings: 0 })
    }))

  it.scoped("each insertion drops up to 4 expired Exits from the front, expired at exactly their ttl", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ sweepInterval: Duration.infinity })
      const idem = yield* Idempotency.make({ ttl: "10 seconds" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      for (let i = 0; i < 10; i++) yield* idem.run(`old-${i}`, Effect.succeed(i))
      yield* TestClock.adjust("5 seconds")
      yield* idem.run("fresh", Effect.succeed(-1))
      assert.deepStrictEqual([store.unsafeStats().stored, store.unsafeStats().expired], [11, 0])
      yield* TestClock.adjust("5 seconds")
      yield* idem.run("new-1", Effect.succeed(1))
      assert.deepStrictEqual([store.unsafeStats().stored, store.unsafeStats().expired], [8, 4])
      yield* idem.run("new-2", Effect.succeed(2))
      assert.deepStrictEqual([store.unsafeStats().stored, store.unsafeStats().expired], [5, 8])
      // the last two expired ones, then "fresh" (not expired) stops the drop
      yield* idem.run("new-3", Effect.succeed(3))
      assert.deepStrictEqual([store.unsafeStats().stored, store.unsafeStats().expired], [4, 10])
      assert.strictEqual(yield* idem.run("fresh", Effect.succeed(-2)), -1)
    }))

  it.scoped("the sweep removes the Exits expired by now (at exactly their ttl) and keeps the others", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ sweepInterval: Duration.infinity })
      const idem = yield* Idempotency.make({ ttl: "10 seconds" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      yield* idem.run("a", Effect.succeed(1))
      yield* TestClock.adjust("5 seconds")
      yield* idem.run("b", Effect.succeed(2))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* store.sweep, 1)
      assert.deepStrictEqual([store.unsafeStats().stored, store.unsafeStats().expired], [1, 1])
      assert.strictEqual(yield* idem.run("b", Effect.succeed(-1)), 2)
    }))

  it.scoped("complete after the acquisition's scope has closed is ignored: the key was released", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory()
      const lease = yield* Scope.make()
      const acquisition = yield* store.acquire("k", { codec: undefined }).pipe(Scope.extend(lease))
      assert.strictEqual(acquisition._tag, "Acquired")
      yield* Scope.close(lease, Exit.void)
      if (acquisition._tag === "Acquired") yield* acquisition.complete(Exit.succeed("late"), Duration.minutes(1))
      assert.deepStrictEqual(store.unsafeStats(), { stored: 0, inFlight: 0, maxKeys: 100_000, expired: 0, evicted: 0, refused: 0, highWaterCrossings: 0 })
      const next = yield* store.acquire("k", { codec: undefined }).pipe(Effect.scoped)
      assert.strictEqual(next._tag, "Acquired")
    }))

  it.scoped("100,000 per-request keys: memory drains back to zero once their ttl has passed", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ sweepInterval: "10 seconds" })
      const idem = yield* Idempotency.make({ ttl: "5 seconds" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      for (let i = 0; i < 100_000; i++) yield* idem.run(`request-${i}`, Effect.void)
      assert.strictEqual(store.unsafeSize(), 100_000)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(store.unsafeSize(), 0)
    }))

  /**
   * A store that persists encoded Exits (as a Redis store would): the policy must give it the Schemas' codec,
   * and an Exit goes through `Schema.encode` and back.
   */
  const persistingStore = Effect.gen(function*() {
    const memory = yield* Idempotency.makeStoreMemory()
    const encoded = new Map<string, unknown>()
    const store: Context.Tag.Service<Idempotency.IdempotencyStore> = {
      persistent: true,
      invalidate: memory.invalidate,
      acquire: (key, options) =>
        Effect.gen(function*() {
          const codec = options.codec!
          const acquisition = yield* memory.acquire(key, options)
          if (acquisition._tag === "Completed") {
            const exit = yield* Schema.decodeUnknown(codec)(JSON.parse(JSON.stringify(encoded.get(key)))).pipe(
              Effect.mapError((cause) => new Idempotency.IdempotencyError({ key, reason: "DecodeError", cause }))
            )
            return { _tag: "Completed" as const, exit }
          }
          if (acquisition._tag === "InFlight") return acquisition
          return {
            _tag: "Acquired" as const,
            complete: (exit: Exit.Exit<unknown, unknown>, ttl: Duration.Duration | undefined) =>
              Effect.gen(function*() {
                if (ttl !== undefined) {
                  encoded.set(
                    key,
                    yield* Schema.encode(codec)(exit).pipe(
                      Effect.mapError((cause) => new Idempotency.IdempotencyError({ key, reason: "EncodeError", cause }))
                    )
                  )
                }
                yield* acquisition.complete(exit, ttl)
              })
          }
        })
    }
    return { store, encoded }
  })

  it.scoped("a persisting store requires the success and failure Schemas", () =>
    Effect.gen(function*() {
      const { store } = yield* persistingStore
      const provide = Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      const missing = yield* Effect.flip(Idempotency.make({ ttl: "1 minute" }).pipe(provide))
      assert.strictEqual(missing.option, "success")
      assert.include(missing.message, "Schema")
      const missingFailure = yield* Effect.flip(
        Idempotency.make({ ttl: "1 minute", success: Schema.Number }).pipe(provide)
      )
      assert.strictEqual(missingFailure.option, "failure")
      const missingSuccess = yield* Effect.flip(
        Idempotency.make({ ttl: "1 minute", failure: Schema.String }).pipe(provide)
      )
      assert.strictEqual(missingSuccess.module, "Idempotency.make")
      assert.strictEqual(missingSuccess.option, "success")
    }))

  /** A memory store that is not persistent and records the codec each `acquire` is given. */
  const recordingStore = Effect.gen(function*() {
    const memory = yield* Idempotency.makeStoreMemory()
    const codecs: Array<Idempotency.AcquireOptions["codec"]> = []
    const store: Context.Tag.Service<Idempotency.IdempotencyStore> = {
      persistent: false,
      invalidate: memory.invalidate,
      acquire: (key, options) => Effect.suspend(() => {
        codecs.push(options.codec)
        return memory.acquire(key, options)
      })
    }
    return { store, codecs }
  })

  it.scoped("the store is given the Exit codec of the Schemas there are (Unknown for a missing one), none without", () =>
    Effect.gen(function*() {
      const { codecs, store } = yield* recordingStore
      const provide = Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      const none = yield* Idempotency.make({ ttl: "1 minute", name: "none" }).pipe(provide)
      yield* none.run("k", Effect.succeed(1))
      assert.isUndefined(codecs[0])

      const successOnly = yield* Idempotency.make({ ttl: "1 minute", name: "success", success: Schema.NumberFromString })
        .pipe(provide)
      yield* successOnly.run("k", Effect.succeed(1))
      const successCodec = codecs[1]!
      assert.deepStrictEqual(yield* Schema.encode(successCodec)(Exit.succeed(1)), { _tag: "Success", value: "1" })
      assert.deepStrictEqual(yield* Schema.encode(successCodec)(Exit.fail({ any: "thing" })), {
        _tag: "Failure",
        cause: { _tag: "Fail", error: { any: "thing" } }
      })

      const failureOnly = yield* Idempotency.make({ ttl: "1 minute", name: "failure", failure: Schema.NumberFromString })
        .pipe(provide)
      yield* failureOnly.run("k", Effect.succeed(1))
      const failureCodec = codecs[2]!
      assert.deepStrictEqual(yield* Schema.encode(failureCodec)(Exit.fail(2)), {
        _tag: "Failure",
        cause: { _tag: "Fail", error: "2" }
      })
      assert.deepStrictEqual(yield* Schema.encode(failureCodec)(Exit.succeed(true)), { _tag: "Success", value: true })
    }))

  it.effect("a store that cannot save the Exit: the callers still get it, the failure is reported, nothing is kept", () =>
    Effect.gen(function*() {
      const memory = yield* Idempotency.makeStoreMemory()
      const store: Context.Tag.Service<Idempotency.IdempotencyStore> = {
        persistent: false,
        invalidate: memory.invalidate,
        acquire: (key, options) =>
          Effect.map(memory.acquire(key, options), (acquisition) =>
            acquisition._tag === "Acquired"
              ? {
                _tag: "Acquired" as const,
                complete: () => Effect.fail(new Idempotency.IdempotencyError({ key, reason: "EncodeError" }))
              }
              : acquisition)
      }
      const idem = yield* Idempotency.make({ ttl: "1 minute", name: "unsaved" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      const events = yield* idem.events.pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      yield* settle
      assert.strictEqual(yield* idem.run("k", Effect.succeed("charged")), "charged")
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(events)), [
        { _tag: "Executed", policy: "unsaved", key: "k" },
        { _tag: "Completed", policy: "unsaved", key: "k", outcome: "Success", kept: true },
        {
          _tag: "StoreError",
          policy: "unsaved",
          key: "k", // the caller's key, as in the other events; the store's error names the store's key
          error: new Idempotency.IdempotencyError({ key: "7:unsaved:k", reason: "EncodeError" })
        }
      ])
      assert.deepStrictEqual(idem.unsafeStats(), { executions: 1, joined: 0, replayed: 0, storeErrors: 1, refused: 0 })
    }).pipe(Effect.scoped))

  it.scoped("a store that dies in acquire: the caller gets that defect, and it is not counted as a store error", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, {
          persistent: false,
          acquire: () => Effect.die("store bug"),
          invalidate: () => Effect.void
        }))
      )
      const exit = yield* Effect.exit(idem.run("k", Effect.succeed(1)))
      assert.deepStrictEqual(exit, Exit.die("store bug"))
      assert.deepStrictEqual(idem.unsafeStats(), { executions: 0, joined: 0, replayed: 0, storeErrors: 0, refused: 0 })
    }))

  it.scoped("with Schemas, Exits are encoded for a persisting store and decoded when replayed", () =>
    Effect.gen(function*() {
      const { encoded, store } = yield* persistingStore
      const Charge = Schema.Struct({ id: Schema.String, at: Schema.DateFromString })
      const idem = yield* Idempotency.make({
        ttl: "1 minute",
        success: Charge,
        failure: Declined,
        keepFailures: true,
        name: "payments"
      }).pipe(Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store)))
      assert.isTrue(idem.options.hasSchemas)
      const at = new Date(0)
      yield* idem.run("ok", Effect.succeed({ id: "ch_1", at }))
      assert.deepStrictEqual(encoded.get("8:payments:ok"), { _tag: "Success", value: { id: "ch_1", at: at.toISOString() } })
      const replayed = yield* idem.run("ok", Effect.succeed({ id: "other", at: new Date(1) }))
      assert.strictEqual(replayed.id, "ch_1")
      assert.isTrue(replayed.at instanceof Date && replayed.at.getTime() === 0)
      yield* Effect.flip(idem.run("declined", Effect.fail(new Declined({ reason: "no" }))))
      const again = yield* Effect.flip(idem.run("declined", Effect.succeed({ id: "x", at })))
      assert.isTrue(again instanceof Declined)
      assert.strictEqual((again as unknown as Declined).reason, "no")
    }))

  it.effect("store failures fail the call with IdempotencyError and are reported", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute", success: Schema.Number, failure: Schema.Never })
      const events = yield* idem.events.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* settle
      const error = yield* Effect.flip(idem.run("k", Effect.succeed(1)))
      assert.strictEqual(error._tag, "IdempotencyError")
      assert.strictEqual(error.reason, "StoreError")
      assert.isTrue(Errors.isResilienceError(error))
      assert.isFalse(Errors.isRejection(error))
      assert.include(error.message, "connection refused")
      const [event] = Chunk.toReadonlyArray(yield* Fiber.join(events))
      assert.strictEqual(event?._tag, "StoreError")
      assert.strictEqual(idem.unsafeStats().storeErrors, 1)
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, {
        persistent: true,
        acquire: (key) =>
          Effect.fail(new Idempotency.IdempotencyError({ key, reason: "StoreError", cause: new Error("connection refused") })),
        invalidate: () => Effect.void
      }))
    ))
})

describe("Idempotency observability", () => {
  it.scoped("events: Executed, Joined, Completed, Replayed", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute", name: "ev" })
      const collected = yield* idem.events.pipe(Stream.take(4), Stream.runCollect, Effect.fork)
      yield* settle
      const a = yield* Effect.fork(idem.run("k", Effect.as(Effect.sleep("1 second"), 1)))
      yield* settle
      const b = yield* Effect.fork(idem.run("k", Effect.succeed(2)))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(a)
      yield* Fiber.join(b)
      yield* idem.run("k", Effect.succeed(3))
      const events = Chunk.toReadonlyArray(yield* Fiber.join(collected))
      assert.deepStrictEqual(events, [
        { _tag: "Executed", policy: "ev", key: "k" },
        { _tag: "Joined", policy: "ev", key: "k" },
        { _tag: "Completed", policy: "ev", key: "k", outcome: "Success", kept: true },
        { _tag: "Replayed", policy: "ev", key: "k" }
      ])
    }))
})

describe("Idempotency outcomes", () => {
  it.scoped("Completed reports each execution's outcome and whether its Exit was kept", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({
        ttl: "1 minute",
        keepFailures: (e: Declined | Unavailable) => e._tag === "Declined",
        name: "outcomes"
      })
      const collected: Array<Idempotency.IdempotencyEvent> = []
      yield* idem.events.pipe(
        Stream.runForEach((e) => Effect.sync(() => e._tag === "Executed" || collected.push(e))),
        Effect.forkScoped
      )
      yield* settle
      const declined = new Declined({ reason: "no" })
      yield* idem.run("ok", Effect.succeed(1))
      yield* Effect.flip(idem.run("declined", Effect.fail(declined)))
      yield* Effect.flip(idem.run("unavailable", Effect.fail(new Unavailable())))
      yield* Effect.exit(idem.run("defect", Effect.die("boom")))
      const interrupted = yield* Effect.fork(idem.run("interrupted", Effect.interrupt))
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(interrupted)))
      // a failure whose cleanup died carries a defect: not kept, even though the predicate accepts it
      const cleanupDied = Effect.fail(declined).pipe(Effect.ensuring(Effect.die("cleanup failed")))
      yield* Effect.exit(idem.run("cleanup", cleanupDied))
      const completed = (
        key: string,
        outcome: "Success" | "Failure" | "Defect" | "Interrupted",
        kept: boolean
      ): Idempotency.IdempotencyEvent => ({
        _tag: "Completed",
        policy: "outcomes",
        key,
        outcome,
        kept
      })
      yield* settle
      assert.deepStrictEqual(collected, [
        completed("ok", "Success", true),
        completed("declined", "Failure", true),
        completed("unavailable", "Failure", false),
        completed("defect", "Defect", false),
        completed("interrupted", "Interrupted", false),
        completed("cleanup", "Failure", false)
      ])
      const ran = yield* Ref.make(0)
      const again = Effect.zipRight(Ref.update(ran, (n) => n + 1), Effect.succeed(2))
      for (const key of ["ok", "declined", "unavailable", "defect", "interrupted", "cleanup"]) {
        yield* Effect.exit(idem.run(key, again))
      }
      // only the kept ones are replayed
      assert.strictEqual(yield* Ref.get(ran), 4)
      assert.deepStrictEqual(idem.unsafeStats(), { executions: 10, joined: 0, replayed: 2, storeErrors: 0, refused: 0 })
    }))
})

describe("Idempotency metrics", () => {
  /** The counters of the registry tagged policy=`policy`, by name: `[description, count]`. */
  const countersOf = (policy: string) =>
    Effect.map(Metric.snapshot, (pairs) => {
      const out: Record<string, readonly [string | undefined, number]> = {}
      for (const pair of pairs) {
        const tags = pair.metricKey.tags.map((t) => `${t.key}=${t.value}`)
        if (tags.length !== 1 || tags[0] !== `policy=${policy}`) continue
        if (!MetricState.isCounterState(pair.metricState)) continue
        out[pair.metricKey.name] = [Option.getOrUndefined(pair.metricKey.description), Number(pair.metricState.count)]
      }
      return out
    })

  it.effect("counts executions, joined and replayed callers and store errors, tagged with the policy", () =>
    Effect.gen(function*() {
      const memory = yield* Idempotency.makeStoreMemory()
      const store: Context.Tag.Service<Idempotency.IdempotencyStore> = {
        persistent: false,
        invalidate: memory.invalidate,
        acquire: (key, options) =>
          key.endsWith(":broken")
            ? Effect.fail(new Idempotency.IdempotencyError({ key, reason: "StoreError" }))
            : memory.acquire(key, options)
      }
      // the registry is global: compare with what it held before
      const before = yield* countersOf("metered")
      const idem = yield* Idempotency.make({ ttl: "1 minute", name: "metered" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      const a = yield* Effect.fork(idem.run("k", Effect.as(Effect.sleep("1 second"), 1)))
      yield* settle
      const b = yield* Effect.fork(idem.run("k", Effect.succeed(2)))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(a)
      yield* Fiber.join(b)
      yield* idem.run("k", Effect.succeed(3))
      yield* idem.run("k", Effect.succeed(3))
      yield* Effect.flip(idem.run("broken", Effect.succeed(4)))
      const after = yield* countersOf("metered")
      const added = Object.fromEntries(
        Object.entries(after).map(([name, [description, count]]) => [name, [description, count - (before[name]?.[1] ?? 0)]])
      )
      assert.deepStrictEqual(added, {
        resilience_idempotency_executions: ["Executions started by an idempotency policy", 1],
        resilience_idempotency_joined: ["Callers that shared an execution in flight", 1],
        resilience_idempotency_replayed: ["Callers served a stored Exit", 2],
        resilience_idempotency_store_errors: ["Idempotency store failures", 1]
      })
    }).pipe(Effect.scoped))
})

describe("Idempotency layers", () => {
  class Payments extends Context.Tag("test/Payments")<Payments, Idempotency.Idempotency>() {}

  it.effect("layer provides a policy under a Tag", () =>
    Effect.gen(function*() {
      const idem = yield* Payments
      assert.strictEqual(idem.policyName, "payments")
      yield* idem.run("k", Effect.succeed(1))
      assert.strictEqual(yield* idem.run("k", Effect.succeed(2)), 1)
    }).pipe(Effect.provide(Idempotency.layer(Payments, { ttl: "1 minute", name: "payments" }))))

  const fromConfig = Idempotency.layerConfig(Payments, {
    ttl: Config.duration("TTL"),
    keepFailures: Config.boolean("KEEP_FAILURES").pipe(Config.withDefault(false)),
    name: Config.succeed("from-config")
  })
  const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromJson(env))

  it.effect("layerConfig reads ttl and keepFailures from Config", () =>
    Effect.gen(function*() {
      const idem = yield* Payments
      assert.isTrue(Duration.equals(idem.options.ttl, Duration.minutes(5)))
      assert.strictEqual(idem.options.keepFailures, true)
      assert.strictEqual(idem.policyName, "from-config")
    }).pipe(Effect.provide(fromConfig), withEnv({ TTL: "5 minutes", KEEP_FAILURES: "true" })))

  it.effect("layerConfig: an invalid ttl fails with InvalidOptionsError, a missing one with a ConfigError", () =>
    Effect.gen(function*() {
      const invalid = yield* Effect.flip(Layer.build(fromConfig).pipe(withEnv({ TTL: "0 seconds" })))
      assert.strictEqual(invalid._tag, "InvalidOptionsError")
      const missing = yield* Effect.flip(Layer.build(fromConfig).pipe(withEnv({})))
      assert.notStrictEqual(missing._tag, "InvalidOptionsError")
    }).pipe(Effect.scoped))
})

describe("Idempotency types", () => {
  it.scoped("run keeps the effect's types and adds IdempotencyError (and InvalidKeyError); Schemas constrain what may run", () =>
    Effect.gen(function*() {
      class Db extends Context.Tag("test/Db")<Db, { readonly charge: Effect.Effect<{ readonly id: string }, Declined> }>() {}
      const charge = Effect.flatMap(Db, (db) => db.charge)
      const untyped = yield* Idempotency.make({ ttl: "1 minute" })
      expectTypeOf(untyped.run("k", charge)).toEqualTypeOf<
        Effect.Effect<{ readonly id: string }, Declined | Idempotency.IdempotencyError | Errors.InvalidKeyError, Db>
      >()
      expectTypeOf(charge.pipe(untyped.execute({ key: "k" }))).toEqualTypeOf<
        Effect.Effect<{ readonly id: string }, Declined | Idempotency.IdempotencyError | Errors.InvalidKeyError, Db>
      >()
      expectTypeOf(untyped.execute(charge, { key: "k" })).toEqualTypeOf<
        Effect.Effect<{ readonly id: string }, Declined | Idempotency.IdempotencyError | Errors.InvalidKeyError, Db>
      >()

      const typed = yield* Idempotency.make({
        ttl: "1 minute",
        success: Schema.Struct({ id: Schema.String }),
        failure: Declined
      })
      expectTypeOf(typed).toEqualTypeOf<Idempotency.Idempotency<{ readonly id: string }, Declined>>()
      expectTypeOf(typed.run("k", charge)).toEqualTypeOf<
        Effect.Effect<{ readonly id: string }, Declined | Idempotency.IdempotencyError | Errors.InvalidKeyError, Db>
      >()
      // @ts-expect-error: the success must be what the Schema describes
      typed.run("k", Effect.succeed(42))
      // @ts-expect-error: so must the failure
      typed.run("k", Effect.fail(new Unavailable()))
      expectTypeOf(Idempotency.make<number, never>).returns.toEqualTypeOf<
        Effect.Effect<Idempotency.Idempotency<number, never>, Errors.InvalidOptionsError, Scope.Scope>
      >()
    }))
})

describe("Idempotency bounded memory store", () => {
  /** The counter `name` tagged policy=`policy`, or 0. */
  const counter = (name: string, policy: string) =>
    Effect.map(Metric.snapshot, (pairs) => {
      for (const pair of pairs) {
        if (pair.metricKey.name !== name) continue
        if (!pair.metricKey.tags.some((t) => t.key === "policy" && t.value === policy)) continue
        if (MetricState.isCounterState(pair.metricState)) return Number(pair.metricState.count)
      }
      return 0
    })

  it.scoped("high water: reported once per crossing (re-armed below the mark), with the size and bound, as an event and a counter", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ maxKeys: 10, highWater: 0.5, sweepInterval: Duration.infinity })
      const idem = yield* Idempotency.make({ ttl: "1 hour", name: "bounded-hw" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      const events = yield* idem.events.pipe(
        Stream.filter((e) => e._tag === "StoreHighWater"),
        Stream.take(2),
        Stream.runCollect,
        Effect.fork
      )
      yield* settle
      const before = yield* counter("resilience_idempotency_store_high_water", "bounded-hw")
      // the 5th key held is the mark (ceil(10 × 0.5))
      for (let i = 1; i <= 4; i++) yield* idem.run(`k${i}`, Effect.succeed(i))
      assert.strictEqual(store.unsafeStats().highWaterCrossings, 0)
      yield* idem.run("k5", Effect.succeed(5))
      yield* idem.run("k6", Effect.succeed(6))
      assert.strictEqual(store.unsafeStats().highWaterCrossings, 1)
      // down to 3 held: the next key (4 held) re-arms, the one after (5 held) crosses again
      for (const k of ["k4", "k5", "k6"]) yield* idem.invalidate(k)
      yield* idem.run("k7", Effect.succeed(7))
      assert.strictEqual(store.unsafeStats().highWaterCrossings, 1)
      yield* idem.run("k8", Effect.succeed(8))
      assert.strictEqual(store.unsafeStats().highWaterCrossings, 2)
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(events)), [
        { _tag: "StoreHighWater", policy: "bounded-hw", key: "k5", size: 5, maxKeys: 10 },
        { _tag: "StoreHighWater", policy: "bounded-hw", key: "k8", size: 5, maxKeys: 10 }
      ])
      assert.strictEqual((yield* counter("resilience_idempotency_store_high_water", "bounded-hw")) - before, 2)
    }))

  it.scoped("full (refuse): a new key is refused with a typed StoreFull rejection naming the bound and when room frees; counted and reported", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ maxKeys: 2, sweepInterval: Duration.infinity })
      const idem = yield* Idempotency.make({ ttl: "1 minute", name: "bounded-full" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      const refusedEvents = yield* idem.events.pipe(
        Stream.filter((e) => e._tag === "Refused"),
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      yield* settle
      const before = yield* counter("resilience_idempotency_refused", "bounded-full")
      yield* idem.run("a", Effect.succeed(1))
      yield* TestClock.adjust("10 seconds")
      yield* idem.run("b", Effect.succeed(2))
      yield* TestClock.adjust("5 seconds")
      let ran = false
      const error = yield* Effect.flip(idem.run("c", Effect.sync(() => (ran = true))))
      assert.isFalse(ran)
      if (error._tag !== "IdempotencyError") return assert.fail(`expected IdempotencyError, got ${error._tag}`)
      assert.strictEqual(error.reason, "StoreFull")
      assert.strictEqual(error.maxKeys, 2)
      // "a" expires 60 s after it was stored, 15 s ago
      assert.isTrue(Duration.equals(error.retryAfter!, Duration.seconds(45)))
      assert.isTrue(Errors.isRejection(error))
      assert.strictEqual(idem.unsafeStats().refused, 1)
      assert.strictEqual(idem.unsafeStats().storeErrors, 0)
      assert.strictEqual(store.unsafeStats().refused, 1)
      assert.strictEqual((yield* counter("resilience_idempotency_refused", "bounded-full")) - before, 1)
      const [event] = Chunk.toReadonlyArray(yield* Fiber.join(refusedEvents))
      assert.deepStrictEqual(event, { _tag: "Refused", policy: "bounded-full", key: "c", error })
      // the stored keys are still replayed, never forgotten to make room
      assert.strictEqual(yield* idem.run("a", Effect.succeed(-1)), 1)
      // once "a" has expired, "c" is admitted (the expired record dropped)
      yield* TestClock.adjust("45 seconds")
      assert.strictEqual(yield* idem.run("c", Effect.succeed(3)), 3)
      assert.strictEqual(store.unsafeStats().expired, 1)
      assert.strictEqual(yield* idem.run("b", Effect.succeed(-1)), 2)
    }))

  it.scoped("full (evictOldest) across two ttls: the record stored first goes, whichever policy stored it", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ maxKeys: 3, whenFull: "evictOldest", sweepInterval: Duration.infinity })
      const provide = Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      const long = yield* Idempotency.make({ ttl: "1 hour", name: "evict" }).pipe(provide)
      const short = yield* Idempotency.make({ ttl: "1 minute", name: "evict" }).pipe(provide)
      yield* long.run("a", Effect.succeed("a"))
      yield* TestClock.adjust("1 second")
      yield* short.run("b", Effect.succeed("b"))
      yield* TestClock.adjust("1 second")
      yield* long.run("c", Effect.succeed("c"))
      yield* TestClock.adjust("1 second")
      yield* short.run("d", Effect.succeed("d")) // evicts a (stored at 0 s), not b (the short ttl's oldest)
      yield* TestClock.adjust("1 second")
      yield* long.run("e", Effect.succeed("e")) // evicts b (1 s), not c (the long ttl's oldest, 2 s)
      assert.strictEqual(store.unsafeStats().evicted, 2)
      assert.strictEqual(store.unsafeSize(), 3)
      assert.strictEqual(yield* long.run("c", Effect.succeed("ran")), "c")
      assert.strictEqual(yield* short.run("d", Effect.succeed("ran")), "d")
      assert.strictEqual(yield* long.run("e", Effect.succeed("ran")), "e")
    }))

  it.scoped("below the bound an insertion drops at most 4 expired records (amortized), not all of them", () =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ maxKeys: 100, sweepInterval: Duration.infinity })
      const idem = yield* Idempotency.make({ ttl: "1 second" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      for (let i = 0; i < 10; i++) yield* idem.run(`old-${i}`, Effect.succeed(i))
      yield* TestClock.adjust("2 seconds")
      yield* idem.run("new", Effect.succeed(0))
      assert.strictEqual(store.unsafeStats().expired, 4)
      assert.strictEqual(store.unsafeSize(), 7)
    }))
})

describe("IdempotencyError", () => {
  it("StoreFull is a load-shedding rejection; its message names what it knows", () => {
    const bare = new Idempotency.IdempotencyError({ key: "k", reason: "StoreFull" })
    assert.isTrue(Errors.isRejection(bare))
    assert.strictEqual(bare.message, "Idempotency store is full: key k refused")
    const full = new Idempotency.IdempotencyError({ key: "k", reason: "StoreFull", maxKeys: 7, retryAfter: Duration.seconds(3) })
    assert.strictEqual(full.message, "Idempotency store is full (7 keys): key k refused; retry after 3s")
  })

  it("the other reasons are failures of the store, not rejections", () => {
    const plain = new Idempotency.IdempotencyError({ key: "k", reason: "StoreError" })
    assert.isFalse(Errors.isRejection(plain))
    assert.isTrue(Errors.isResilienceError(plain))
    assert.strictEqual(plain.message, "Idempotency store failed for key k (StoreError)")
    const withCause = new Idempotency.IdempotencyError({ key: "k", reason: "StoreError", cause: new Error("connection reset") })
    assert.strictEqual(withCause.message, "Idempotency store failed for key k (StoreError): connection reset")
    assert.strictEqual(
      new Idempotency.IdempotencyError({ key: "k", reason: "StoreError", cause: "gone" }).message,
      "Idempotency store failed for key k (StoreError): gone"
    )
  })
})
