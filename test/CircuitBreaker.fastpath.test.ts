/**
 * The breaker's call as one Effect primitive (src/internal/circuitBreaker/fastCall.ts):
 * one call effect may be run many times, by several fibers at once, interrupted, inspected —
 * each run is admitted and recorded exactly once, as on the general path (public combinators
 * only), which the breaker takes when the runtime does not run the primitive as expected.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, TestClock } from "effect"
import { CircuitBreaker } from "effect-resilience"
import { FastCall, setSupported, supported } from "../src/internal/circuitBreaker/fastCall.js"
import { Boom, decisionOf, ok, tagOf } from "./utils/breaker.js"

const consecutive = (failures: number) =>
  CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(failures), openDuration: "1 minute" })

/** Runs `run` with the breaker's general path forced (the runtime check answering false). */
const generalPath = <A, E, R>(run: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Effect.sync(() => setSupported(false)), () => run, () => Effect.sync(() => setSupported(undefined)))

/** Forks `n` runs of the same effect and waits until each one is in flight (blocked on `gate`). */
const inFlight = <A, E>(n: number, gate: Deferred.Deferred<void>, started: () => Effect.Effect<void>, call: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fibers: Array<Fiber.RuntimeFiber<Exit.Exit<A, E>>> = []
    for (let i = 0; i < n; i++) {
      fibers.push(yield* Effect.fork(Effect.exit(call)))
      yield* started()
    }
    return fibers
  })

describe("CircuitBreaker: the call as one Effect", () => {
  it("the fiber runtime runs it as the breaker expects (checked once per process)", () => {
    assert.isTrue(supported())
  })

  it.scoped("a call is one FastCall on an in-process store, and an Effect; inspecting it admits nothing", () =>
    Effect.gen(function*() {
      const breaker = yield* consecutive(1)
      const call = breaker(ok)
      assert.instanceOf(call, FastCall)
      assert.isTrue(Effect.isEffect(call))
      assert.include(JSON.stringify(call), "CircuitBreaker")
      assert.include(String(call), "CircuitBreaker")
      const m = yield* breaker.metrics()
      assert.strictEqual(m.successes + m.failures + m.rejections, 0)
      assert.strictEqual(yield* call, "ok")
      assert.strictEqual((yield* breaker.metrics()).successes, 1)
    }))

  it.scoped("while the own circuit is not closed, calls take the general path; once it closes, FastCalls again", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      yield* Effect.exit(breaker(Effect.fail(new Boom())))
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
      const whileOpen = breaker(ok)
      assert.notInstanceOf(whileOpen, FastCall)
      yield* TestClock.adjust("1 second")
      // the probe (general path) closes the circuit; the next call sees it closed
      assert.strictEqual(yield* whileOpen, "ok")
      assert.strictEqual(yield* breaker(ok), "ok")
      assert.instanceOf(breaker(ok), FastCall)
      const m = yield* breaker.metrics()
      assert.deepStrictEqual([m.successes, m.failures, m.rejections, m.state._tag], [2, 1, 1, "Closed"])
    }))

  it.scoped("one call effect run by several fibers at once: every run is admitted and recorded once", () =>
    Effect.gen(function*() {
      const breaker = yield* consecutive(3)
      const gate = yield* Deferred.make<void>()
      let begun = 0
      const call = Effect.zipRight(
        Effect.sync(() => begun++),
        Effect.zipRight(Deferred.await(gate), Effect.fail(new Boom()))
      ).pipe(breaker)
      const fibers = yield* inFlight(3, gate, () => Effect.yieldNow(), call)
      assert.strictEqual(begun, 3)
      yield* Deferred.succeed(gate, undefined)
      for (const fiber of fibers) assert.isTrue(Exit.isFailure(yield* Fiber.join(fiber)))
      const m = yield* breaker.metrics()
      assert.strictEqual(m.failures, 3)
      assert.strictEqual(m.state._tag, "Open")
      // and successes the same way
      const again = yield* consecutive(3)
      const gate2 = yield* Deferred.make<void>()
      const success = Effect.zipRight(Deferred.await(gate2), ok).pipe(again)
      const runs = yield* inFlight(4, gate2, () => Effect.yieldNow(), success)
      yield* Deferred.succeed(gate2, undefined)
      for (const fiber of runs) assert.deepStrictEqual(yield* Fiber.join(fiber), Exit.succeed("ok"))
      assert.strictEqual((yield* again.metrics()).successes, 4)
    }))

  it.scoped("a run that starts once the circuit opened, while an earlier run of the same effect is in flight, is rejected; the late result is fenced", () =>
    Effect.gen(function*() {
      const breaker = yield* consecutive(1)
      const gate = yield* Deferred.make<void>()
      const held = Effect.zipRight(Deferred.await(gate), Effect.succeed("late")).pipe(breaker)
      const [first] = yield* inFlight(1, gate, () => Effect.yieldNow(), held)
      yield* Effect.exit(breaker(Effect.fail(new Boom())))
      assert.strictEqual(yield* tagOf(breaker), "Open")
      assert.strictEqual(yield* decisionOf(held), "CircuitOpen")
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* Fiber.join(first!), Exit.succeed("late"))
      const m = yield* breaker.metrics()
      assert.strictEqual(m.state._tag, "Open")
      assert.strictEqual(m.fenced, 1)
      assert.strictEqual(m.rejections, 1)
      assert.strictEqual(m.failures, 1)
    }))

  it.scoped("the same call effect run again and again records every run", () =>
    Effect.gen(function*() {
      const breaker = yield* consecutive(3)
      const call = breaker(ok)
      for (let i = 0; i < 10; i++) assert.strictEqual(yield* call, "ok")
      yield* Effect.repeatN(call, 9)
      const failing = breaker(Effect.fail(new Boom()))
      for (let i = 0; i < 3; i++) yield* Effect.exit(failing)
      const m = yield* breaker.metrics()
      assert.strictEqual(m.successes, 20)
      assert.strictEqual(m.failures, 3)
      assert.strictEqual(yield* decisionOf(failing), "CircuitOpen")
    }))

  it.scoped("a run interrupted in flight is not recorded, and later runs of the same effect still are", () =>
    Effect.gen(function*() {
      const breaker = yield* consecutive(2)
      const gate = yield* Deferred.make<void>()
      const call = Effect.zipRight(Deferred.await(gate), Effect.fail(new Boom())).pipe(breaker)
      const [fiber] = yield* inFlight(1, gate, () => Effect.yieldNow(), call)
      yield* Fiber.interrupt(fiber!)
      assert.strictEqual((yield* breaker.metrics()).failures, 0)
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.exit(call)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      yield* Effect.exit(call)
      assert.strictEqual(yield* tagOf(breaker), "Open")
      assert.strictEqual(yield* decisionOf(call), "CircuitOpen")
      const m = yield* breaker.metrics()
      assert.strictEqual(m.failures, 2)
      assert.strictEqual(m.rejections, 1)
    }))

  it.scoped("the general path (public combinators only) decides and records the same", () =>
    generalPath(Effect.gen(function*() {
      const breaker = yield* consecutive(2)
      const call = breaker(ok)
      assert.notInstanceOf(call, FastCall)
      assert.strictEqual(yield* call, "ok")
      const failing = breaker(Effect.fail(new Boom()))
      yield* Effect.exit(failing)
      yield* Effect.exit(failing)
      assert.strictEqual(yield* decisionOf(failing), "CircuitOpen")
      const keyed = yield* decisionOf(ok.pipe(breaker.execute({ key: "k" })))
      assert.strictEqual(keyed, "admitted")
      const m = yield* breaker.metrics()
      assert.deepStrictEqual([m.successes, m.failures, m.rejections, m.state._tag], [1, 2, 1, "Open"])
    })))
})
