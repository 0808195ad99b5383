import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Effect, Exit, Fiber, Option, Random, TestClock } from "effect"
import { expectTypeOf } from "vitest"
import { Chaos, Errors, Fallback, Hedge, Policy, Retry, Testing, Timeout } from "../src/index.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
class NotFound extends Data.TaggedError("NotFound")<{}> {}

describe("Testing.scripted", () => {
  it.effect("plays the script in order and logs every call with Clock times", () =>
    Effect.gen(function*() {
      const dep = yield* Testing.scripted([
        Testing.ok(1),
        Testing.fail(new Unavailable()),
        Testing.delay("1 second", Testing.ok(2)),
        Testing.die("bug")
      ])
      assert.strictEqual(yield* dep.call, 1)
      assert.instanceOf(yield* Effect.flip(dep.call), Unavailable)
      const fiber = yield* Effect.fork(dep.call)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), 2)
      const exit = yield* Effect.exit(dep.call)
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.deepStrictEqual(yield* dep.calls(), [
        { call: 1, step: 1, label: "ok(1)", startedAt: 0, endedAt: 0, status: "Succeeded" },
        { call: 2, step: 2, label: "fail(Unavailable)", startedAt: 0, endedAt: 0, status: "Failed" },
        { call: 3, step: 3, label: "delay(1s, ok(2))", startedAt: 0, endedAt: 1000, status: "Succeeded" },
        { call: 4, step: 4, label: "die(\"bug\")", startedAt: 1000, endedAt: 1000, status: "Died" }
      ])
      assert.strictEqual(yield* dep.count(), 4)
    }))

  it.effect("logs hung calls as running, then interrupted", () =>
    Effect.gen(function*() {
      const dep = yield* Testing.scripted([Testing.never, Testing.interrupt])
      const fiber = yield* Effect.fork(dep.call)
      yield* Effect.yieldNow()
      assert.strictEqual(yield* dep.running(), 1)
      assert.strictEqual((yield* dep.calls())[0]?.status, "Running")
      yield* Fiber.interrupt(fiber)
      const self = yield* Effect.exit(dep.call)
      assert.isTrue(Exit.isInterrupted(self))
      assert.deepStrictEqual((yield* dep.calls()).map((c) => c.status), ["Interrupted", "Interrupted"])
      assert.strictEqual(yield* dep.running(), 0)
    }))

  it.effect("the readers are Effects read when they run; unsafeCalls, unsafeCount and unsafeRunning are their synchronous twins", () =>
    Effect.gen(function*() {
      const dep = yield* Testing.scripted([Testing.ok(1), Testing.never])
      const calls = dep.calls()
      const count = dep.count()
      const running = dep.running()
      assert.deepStrictEqual([dep.unsafeCalls(), dep.unsafeCount(), dep.unsafeRunning()], [[], 0, 0])
      yield* dep.call
      const fiber = yield* Effect.fork(dep.call)
      yield* Effect.yieldNow()
      const snapshot = dep.unsafeCalls()
      assert.deepStrictEqual(snapshot.map((c) => c.status), ["Succeeded", "Running"])
      assert.deepStrictEqual(yield* calls, snapshot)
      assert.deepStrictEqual([yield* count, dep.unsafeCount()], [2, 2])
      assert.deepStrictEqual([yield* running, dep.unsafeRunning()], [1, 1])
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(snapshot[1]?.status, "Running", "an earlier snapshot does not change")
      assert.deepStrictEqual((yield* calls).map((c) => c.status), ["Succeeded", "Interrupted"])
      assert.deepStrictEqual([yield* running, dep.unsafeRunning()], [0, 0])
    }))

  it.effect("past the script: dies by default, or repeats the last step, or cycles", () =>
    Effect.gen(function*() {
      const strict = yield* Testing.scripted([Testing.ok("a")], { name: "payments" })
      yield* strict.call
      const exit = yield* Effect.exit(strict.call)
      assert.isTrue(Exit.isFailure(exit))
      const defect = Exit.isFailure(exit) ? Cause.dieOption(exit.cause) : Option.none()
      assert.isTrue(Option.isSome(defect) && defect.value instanceof Testing.ScriptExhaustedError)
      if (Option.isSome(defect)) {
        assert.strictEqual(
          (defect.value as Testing.ScriptExhaustedError).message,
          "Scripted dependency payments was called 2 times but scripted for 1"
        )
      }
      const repeat = yield* Testing.scripted([Testing.ok("a"), Testing.ok("b")], { after: "repeatLast" })
      assert.deepStrictEqual(yield* Effect.replicateEffect(repeat.call, 4), ["a", "b", "b", "b"])
      const cycle = yield* Testing.scripted([Testing.ok("a"), Testing.ok("b")], { after: "cycle" })
      assert.deepStrictEqual(yield* Effect.replicateEffect(cycle.call, 5), ["a", "b", "a", "b", "a"])
    }))

  it.effect("Testing.effect runs any effect as a step", () =>
    Effect.gen(function*() {
      const dep = yield* Testing.scripted([Testing.effect(Effect.map(Random.nextIntBetween(0, 10), (n) => n * 2), "random")])
      const n = yield* dep.call.pipe(Testing.withSeed(1))
      assert.strictEqual(n % 2, 0)
      assert.strictEqual((yield* dep.calls())[0]?.label, "random")
    }))

  it("types: the script's success and error types", () => {
    const made = Testing.scripted([Testing.ok(1), Testing.fail(new Unavailable()), Testing.delay("1 second", Testing.ok("two"))])
    expectTypeOf(made).toEqualTypeOf<
      Effect.Effect<Testing.Scripted<number | string, Unavailable>, Errors.InvalidOptionsError>
    >()
    expectTypeOf<Testing.Scripted<number, Unavailable>["call"]>().toEqualTypeOf<Effect.Effect<number, Unavailable>>()
  })

  it.effect("rejects an invalid script", () =>
    Effect.gen(function*() {
      const e1 = yield* Effect.flip(Testing.scripted([] as any))
      assert.strictEqual(e1.option, "steps")
      const e2 = yield* Effect.flip(Testing.scripted([Testing.ok(1), 2] as any))
      assert.strictEqual(e2.option, "steps[1]")
      const e3 = yield* Effect.flip(Testing.scripted([Testing.ok(1)], { after: "loop" as any }))
      assert.strictEqual(e3.option, "after")
      assert.throws(() => Testing.delay("-1 second", Testing.ok(1)), Errors.InvalidOptionsError)
      assert.throws(() => Testing.effect(42 as any), Errors.InvalidOptionsError)
    }))
})

describe("scripted dependencies under policies", () => {
  it.effect("retry: the log shows each attempt and when it ran", () =>
    Effect.gen(function*() {
      const dep = yield* Testing.scripted([
        Testing.fail(new Unavailable()),
        Testing.fail(new Unavailable()),
        Testing.delay("50 millis", Testing.ok("done"))
      ])
      const retry = Retry.policy({ schedule: Retry.constant("100 millis"), times: 3 })
      const fiber = yield* Effect.fork(dep.call.pipe(retry))
      yield* TestClock.adjust("250 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "done")
      assert.deepStrictEqual((yield* dep.calls()).map((c) => [c.startedAt, c.status]), [
        [0, "Failed"],
        [100, "Failed"],
        [200, "Succeeded"]
      ])
    }))

  it.effect("hedge: the loser shows up as interrupted", () =>
    Effect.gen(function*() {
      const dep = yield* Testing.scripted([Testing.delay("1 second", Testing.ok("slow")), Testing.delay("10 millis", Testing.ok("fast"))])
      const fiber = yield* Effect.fork(dep.call.pipe(Hedge.make({ delay: "100 millis", maxAttempts: 2 })))
      yield* TestClock.adjust("110 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "fast")
      assert.deepStrictEqual((yield* dep.calls()).map((c) => [c.startedAt, c.endedAt, c.status]), [
        [0, 110, "Interrupted"],
        [100, 110, "Succeeded"]
      ])
    }))

  it.effect("timeout + fallback: a hung call is interrupted and the fallback served", () =>
    Effect.gen(function*() {
      const dep = yield* Testing.scripted([Testing.never])
      const policy = Policy.pipeline({ fallback: Fallback.tags("TimeoutError").value("cached"), timeout: "2 seconds" })
      const fiber = yield* Effect.fork(dep.call.pipe(policy))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "cached")
      assert.deepStrictEqual((yield* dep.calls()).map((c) => c.status), ["Interrupted"])
    }))
})

describe("pipeline description", () => {
  const pipeline = Policy.pipeline({
    retry: Retry.policy({ times: 2, name: "db" }),
    fallback: Fallback.tags("NotFound").value(null, { name: "users" }),
    timeout: "5 seconds",
    attemptTimeout: "1 second"
  })

  it("kinds lists the policies outermost first, whatever the key order", () => {
    assert.deepStrictEqual(Testing.kinds(pipeline), ["Fallback", "Timeout", "Retry", "Timeout"])
    assert.deepStrictEqual(Testing.flatten(pipeline).map((d) => d.name), ["users", undefined, "db", undefined])
    assert.deepStrictEqual(Testing.flatten(pipeline).map((d) => d.options.scope), [undefined, "overall", undefined, "attempt"])
  })

  it("flattens nested compositions and describes plain functions", () => {
    const nested = Policy.compose(
      Policy.compose(Timeout.make("1 second"), Chaos.latency({ rate: 0.1, delay: "1 second" })),
      Policy.make((self) => self, { kind: "Custom" })
    )
    assert.deepStrictEqual(Testing.kinds(nested), ["Timeout", "Chaos", "Custom"])
    assert.deepStrictEqual(Testing.kinds((self: Effect.Effect<number>) => self), ["Function"])
  })

  it("render draws the tree with names and options", () => {
    assert.strictEqual(
      Testing.render(pipeline),
      [
        "Pipeline",
        "├─ Fallback \"users\" { mode: value, on: tags(NotFound), sources: 1, defects: false, interruptions: false, whenResult: false }",
        "├─ Timeout { duration: 5s, disconnect: false, scope: overall }",
        "├─ Retry \"db\" { times: 2, maxRetryAfter: 1m, while: false, until: false, whenResult: false, failAfterMaxAttempts: false }",
        "└─ Timeout { duration: 1s, disconnect: false, scope: attempt }"
      ].join("\n")
    )
    const nested = Policy.compose(Timeout.make("1 second"), Policy.compose(Hedge.make({ delay: 10, maxAttempts: 2 })))
    assert.strictEqual(
      Testing.render(nested),
      [
        "Compose",
        "├─ Timeout { duration: 1s, disconnect: false }",
        "└─ Compose",
        "   └─ Hedge \"hedge\" { delay: 10ms, maxAttempts: 2, while: false, whenResult: false, failWith: last, failAfterMaxAttempts: false }"
      ].join("\n")
    )
  })
})

describe("Testing.withSteppedWallClock", () => {
  it.effect("offset() and unsafeOffset() read the wall clock's offset; the controls work taken off the object", () =>
    Testing.withSteppedWallClock(({ back, forward, offset, unsafeOffset }) =>
      Effect.gen(function*() {
        const read = offset()
        assert.deepStrictEqual([yield* read, unsafeOffset()], [0, 0])
        yield* back("1 hour")
        assert.deepStrictEqual([yield* read, unsafeOffset()], [-3_600_000, -3_600_000])
        yield* forward("90 minutes")
        assert.deepStrictEqual([yield* offset(), unsafeOffset()], [1_800_000, 1_800_000])
        assert.throws(() => back("-1 second"), Errors.InvalidOptionsError)
      })
    ))
})

describe("Testing.withSeed", () => {
  it.effect("makes Random reproducible", () =>
    Effect.gen(function*() {
      const draw = Effect.replicateEffect(Random.nextInt, 5)
      assert.deepStrictEqual(yield* draw.pipe(Testing.withSeed("s")), yield* draw.pipe(Testing.withSeed("s")))
      const faults = Chaos.fault({ rate: 0.5, error: new NotFound() })
      const run = Effect.replicateEffect(Effect.either(Effect.succeed(1).pipe(faults)), 20).pipe(Testing.withSeed(3))
      assert.deepStrictEqual(yield* run, yield* run)
    }))
})
