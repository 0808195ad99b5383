/**
 * The breaker's call as one Effect primitive (src/internal/circuitBreaker/fastCall.ts):
 * one call effect may be run many times, by several fibers at once, interrupted, inspected —
 * each run is admitted and recorded exactly once, as on the general path (public combinators
 * only), which the breaker takes when the runtime does not run the primitive as expected.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, TestClock } from "effect"
import { CircuitBreaker } from "effect-resilience"
import { FastCall, probe, type Runner, setSupported, supported } from "../src/internal/circuitBreaker/fastCall.js"
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

/** How the probe builds its calls. */
type Make = Parameters<typeof probe>[0]
const fastCall: Make = (self, runner, key, classify) => new FastCall(self, runner, key, classify)

/** Where Effect's runtime keeps the fiber running now (what `Fiber.getCurrentFiber()` reads). */
const CURRENT_FIBER = "effect/FiberCurrent"
const globals = globalThis as unknown as Record<string, unknown>
/** Runs `f` with `fiber` shown as the fiber running now. */
const asCurrent = <A>(fiber: unknown, f: () => A): A => {
  const saved = globals[CURRENT_FIBER]
  globals[CURRENT_FIBER] = fiber
  try {
    return f()
  } finally {
    globals[CURRENT_FIBER] = saved
  }
}

/** Calls whose breaker (`runner`) is reached through `wrap`: what a runtime would hand it instead. */
const viaRunner = (wrap: (runner: Runner) => Runner): Make => (self, runner, key, classify) =>
  new FastCall(self, wrap(runner), key, classify)

/** A run with no run in flight: the phase of a FastCall nobody ran. */
const IDLE = new FastCall(Effect.void, undefined as unknown as Runner, undefined, undefined).phase

describe("CircuitBreaker: the call as one Effect", () => {
  it("the fiber runtime runs it as the breaker expects (checked once per process)", () => {
    assert.isTrue(supported())
  })

  it.scoped("on this runtime (Effect 3.22) a fresh check passes, and a default breaker's calls, own and keyed, are FastCalls", () =>
    Effect.gen(function*() {
      assert.isTrue(probe(fastCall))
      // a subclass that changes nothing passes too (the broken variants below fail for their own reason)
      assert.isTrue(probe((self, runner, key, classify) => new (class extends FastCall {})(self, runner, key, classify)))
      setSupported(undefined)
      assert.isTrue(supported())
      const breaker = yield* consecutive(5)
      assert.instanceOf(breaker(ok), FastCall)
      assert.instanceOf(breaker.execute(ok, { key: "k" }), FastCall)
      assert.strictEqual(yield* breaker.execute(ok, { key: "k" }), "ok")
    }))

  // The probe is what keeps a breaker off the FastCall path on a runtime that would run it wrongly
  // (a later Effect): each check it makes, broken on purpose, must make it answer false.
  describe("the probe answers false for a call the runtime would not run as expected (one variant per check)", () => {
    it("admission: the effect read with no fiber current (the breaker could not read the fiber's deadline)", () => {
      class NoFiber extends FastCall {
        override get effect_instruction_i0(): Effect.Effect<unknown, unknown, unknown> {
          return asCurrent(undefined, () => super.effect_instruction_i0)
        }
      }
      assert.isFalse(probe((self, runner, key, classify) => new NoFiber(self, runner, key, classify)))
    })

    it("admission: decided with another fiber than the one running the call", () => {
      const other = Effect.runFork(Effect.void)
      assert.isFalse(probe(viaRunner((runner) => ({ ...runner, begin: (_fiber, call) => runner.begin(other, call) }))))
    })

    it("admission: decided with a current 'fiber' that is not a runtime fiber", () => {
      const notAFiber = { _tag: "NotAFiber" } as unknown as Fiber.RuntimeFiber<unknown, unknown>
      assert.isFalse(probe(viaRunner((runner) => ({
        ...runner,
        begin: (_fiber, call) => asCurrent(notAFiber, () => runner.begin(notAFiber, call))
      }))))
    })

    it("admission: the run decided without the breaker (the effect read is the call itself)", () => {
      class NoBegin extends FastCall {
        override get effect_instruction_i0(): Effect.Effect<unknown, unknown, unknown> {
          return this.self
        }
      }
      assert.isFalse(probe((self, runner, key, classify) => new NoBegin(self, runner, key, classify)))
    })

    it("the success continuation's result not used (the record, or a classification, dropped)", () => {
      class SuccessDropped extends FastCall {
        override effect_instruction_i2(value: unknown): Effect.Effect<unknown, unknown, unknown> {
          super.effect_instruction_i2(value)
          return Exit.succeed(value)
        }
      }
      assert.isFalse(probe((self, runner, key, classify) => new SuccessDropped(self, runner, key, classify)))
    })

    it("the failure continuation's result not used", () => {
      class FailureDropped extends FastCall {
        override effect_instruction_i1(cause: Cause.Cause<unknown>): Effect.Effect<unknown, unknown, unknown> {
          super.effect_instruction_i1(cause)
          return Exit.failCause(cause)
        }
      }
      assert.isFalse(probe((self, runner, key, classify) => new FailureDropped(self, runner, key, classify)))
    })

    it("the failure continuation handed another cause than the run's", () => {
      class OtherCause extends FastCall {
        override effect_instruction_i1(cause: Cause.Cause<unknown>): Effect.Effect<unknown, unknown, unknown> {
          return super.effect_instruction_i1(Cause.isFailType(cause) ? Cause.fail("other") : cause)
        }
      }
      assert.isFalse(probe((self, runner, key, classify) => new OtherCause(self, runner, key, classify)))
    })

    it("a run's end not seen: the next run of the same call looks overlapping", () => {
      class EndNotSeen extends FastCall {
        override effect_instruction_i2(value: unknown): Effect.Effect<unknown, unknown, unknown> {
          const phase = this.phase
          const next = super.effect_instruction_i2(value)
          this.phase = phase
          return next
        }
      }
      assert.isFalse(probe((self, runner, key, classify) => new EndNotSeen(self, runner, key, classify)))
    })

    it("an overlapping run not marked: its result taken for the run in flight's", () => {
      class Unmarked extends FastCall {
        override get effect_instruction_i0(): Effect.Effect<unknown, unknown, unknown> {
          return this.phase === IDLE ? super.effect_instruction_i0 : this.runner.general(this)
        }
      }
      assert.isFalse(probe((self, runner, key, classify) => new Unmarked(self, runner, key, classify)))
    })

    it("an overlapping run's success handed back with its mark", () => {
      class MarkKept extends FastCall {
        override effect_instruction_i2(value: unknown): Effect.Effect<unknown, unknown, unknown> {
          return typeof value === "object" ? Exit.succeed(value) : super.effect_instruction_i2(value)
        }
      }
      assert.isFalse(probe((self, runner, key, classify) => new MarkKept(self, runner, key, classify)))
    })

    it("an overlapping run's failure handed back with its mark", () => {
      class MarkKept extends FastCall {
        override effect_instruction_i1(cause: Cause.Cause<unknown>): Effect.Effect<unknown, unknown, unknown> {
          return cause._tag === "Sequential" ? Exit.failCause(cause) : super.effect_instruction_i1(cause)
        }
      }
      assert.isFalse(probe((self, runner, key, classify) => new MarkKept(self, runner, key, classify)))
    })

    it("a runtime that cannot run it at all (throws)", () => {
      class Throws extends FastCall {
        override get effect_instruction_i0(): Effect.Effect<unknown, unknown, unknown> {
          throw new Error("not a primitive this runtime knows")
        }
      }
      assert.isFalse(probe((self, runner, key, classify) => new Throws(self, runner, key, classify)))
    })
  })

  it.scoped("a call is one FastCall on an in-process store, and an Effect; inspecting it admits nothing", () =>
    Effect.gen(function*() {
      const breaker = yield* consecutive(1)
      const call = breaker(ok)
      assert.instanceOf(call, FastCall)
      assert.isTrue(Effect.isEffect(call))
      assert.include(JSON.stringify(call), "CircuitBreaker")
      // shown as Effect shows its own effects: an Effect of op CircuitBreaker, around the call
      assert.deepStrictEqual(JSON.parse(JSON.stringify(call)), { _id: "Effect", _op: "CircuitBreaker", self: JSON.parse(JSON.stringify(ok)) })
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

  // Pins: which path the own calls take follows the own circuit alone (a keyed circuit's rejection
  // does not send them to the general path, a keyed admission does not bring them back to FastCalls).
  it.scoped("the own calls' path follows the own circuit, not a keyed one", () =>
    Effect.gen(function*() {
      const breaker = yield* consecutive(1)
      yield* Effect.exit(breaker.execute(Effect.fail(new Boom()), { key: "k" }))
      assert.strictEqual(yield* decisionOf(breaker.execute(ok, { key: "k" })), "CircuitOpen")
      assert.instanceOf(breaker(ok), FastCall)
      yield* Effect.exit(breaker(Effect.fail(new Boom())))
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
      assert.strictEqual(yield* breaker.execute(ok, { key: "other" }), "ok")
      assert.notInstanceOf(breaker(ok), FastCall)
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
