/**
 * Issue 25: `Timeout` reports its timeouts like every other policy (events,
 * stats and `resilience_timeout_timeouts`), only when a timeout fires.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Metric, Stream } from "effect"
import { Bulkhead, Errors, Retry, Timeout } from "effect-resilience"
import { runWithClock } from "./utils/clock.js"
import { counterValue } from "./utils/metrics.js"

let names = 0
const fresh = () => `timeout-events-${++names}`

/** Runs `effect` while collecting `timeout`'s events. */
const eventsDuring = <A, E>(timeout: Timeout.Timeout, effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const events: Array<Timeout.TimeoutEvent> = []
    const collector = yield* timeout.events.pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e))), Effect.fork)
    for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
    const exit = yield* runWithClock(effect)
    yield* Effect.yieldNow()
    yield* Fiber.interrupt(collector)
    return { exit, events }
  })

const timeouts = (policy: string, scope: string) => counterValue("resilience_timeout_timeouts", { policy, scope })

describe("Timeout events and metrics (issue 25)", () => {
  for (const implementation of ["fast", "general"] as const) {
    for (const disconnect of [false, true]) {
      it.effect(`a timeout emits TimedOut, counts it and updates the metric (${implementation}, disconnect ${disconnect})`, () =>
        Effect.gen(function*() {
          const name = fresh()
          const timeout = Timeout.make("1 second", { name, scope: "attempt", implementation, disconnect })
          const { events, exit } = yield* eventsDuring(timeout, Effect.never.pipe(timeout))
          assert.isTrue(Exit.isFailure(exit))
          assert.deepStrictEqual(events, [{ _tag: "TimedOut", policy: name, scope: "attempt", duration: Duration.seconds(1) }])
          assert.deepStrictEqual(yield* timeout.stats(), { timeouts: 1 })
          assert.deepStrictEqual(timeout.unsafeStats(), { timeouts: 1 })
          assert.strictEqual(yield* timeouts(name, "attempt"), 1)
        }))
    }
  }

  it.effect("successes and failures in time report nothing and touch no metric", () =>
    Effect.gen(function*() {
      const name = fresh()
      const timeout = Timeout.make("1 second", { name })
      const { events } = yield* eventsDuring(
        timeout,
        Effect.gen(function*() {
          yield* Effect.succeed(1).pipe(timeout) // synchronous
          yield* Effect.sleep("999 millis").pipe(timeout) // suspended
          yield* Effect.fail("boom").pipe(Effect.delay("10 millis"), timeout, Effect.ignore)
        })
      )
      assert.deepStrictEqual(events, [])
      assert.deepStrictEqual(yield* timeout.stats(), { timeouts: 0 })
      const registered = (yield* Metric.snapshot).some((p) =>
        p.metricKey.name === "resilience_timeout_timeouts" && p.metricKey.tags.some((t) => t.value === name)
      )
      assert.isFalse(registered)
    }))

  it.effect("an unnamed timeout reports as policy \"timeout\", an unscoped one with scope \"none\"", () =>
    Effect.gen(function*() {
      const timeout = Timeout.make("1 second")
      assert.strictEqual(timeout.policyName, "timeout")
      const before = yield* timeouts("timeout", "none")
      const { events } = yield* eventsDuring(timeout, Effect.never.pipe(timeout))
      assert.deepStrictEqual(events.map((e) => [e.policy, e.scope]), [["timeout", undefined]])
      assert.strictEqual((yield* timeouts("timeout", "none")) - before, 1)
    }))

  it.effect("an inner timeout cut at the outer deadline: the outer reports it (scope overall), once; the inner not", () =>
    Effect.gen(function*() {
      const outerName = fresh()
      const innerName = fresh()
      const outer = Timeout.make("1 second", { name: outerName, scope: "overall" })
      const inner = Timeout.make("5 seconds", { name: innerName, scope: "attempt" })
      const innerEvents: Array<Timeout.TimeoutEvent> = []
      const collector = yield* inner.events.pipe(Stream.runForEach((e) => Effect.sync(() => innerEvents.push(e))), Effect.fork)
      const { events, exit } = yield* eventsDuring(outer, Effect.never.pipe(inner, outer))
      yield* Fiber.interrupt(collector)
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(events.map((e) => [e.policy, e.scope]), [[outerName, "overall"]])
      assert.deepStrictEqual(innerEvents, [])
      assert.deepStrictEqual(yield* inner.stats(), { timeouts: 0 })
      assert.deepStrictEqual(yield* outer.stats(), { timeouts: 1 })
      assert.strictEqual(yield* timeouts(outerName, "overall"), 1)
      assert.strictEqual(yield* timeouts(innerName, "attempt"), 0)
    }))

  it.effect("an inner timeout that fires first reports itself; the outer nothing", () =>
    Effect.gen(function*() {
      const outer = Timeout.make("10 seconds", { name: fresh() })
      const inner = Timeout.make("1 second", { name: fresh(), scope: "attempt" })
      const retry = Retry.policy({ schedule: Retry.constant("100 millis"), times: 2 })
      const exit = yield* runWithClock(Effect.never.pipe(inner, retry, outer))
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(yield* inner.stats(), { timeouts: 3 }) // one per attempt
      assert.deepStrictEqual(yield* outer.stats(), { timeouts: 0 })
    }))

  it.scoped("a bulkhead wait ended by the deadline is the timeout's: reported once", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 10, name: fresh() })
      const timeout = Timeout.make("1 second", { name: fresh() })
      const holder = yield* Effect.fork(Effect.never.pipe(bulkhead))
      yield* Effect.yieldNow()
      const { events, exit } = yield* eventsDuring(timeout, Effect.void.pipe(bulkhead, timeout))
      yield* Fiber.interrupt(holder)
      assert.isTrue(Exit.isFailure(exit) && Exit.isFailure(exit) && Errors.isResilienceError((exit.cause as any).error))
      assert.strictEqual(events.length, 1)
      assert.deepStrictEqual(yield* timeout.stats(), { timeouts: 1 })
    }))

  it.effect("a deadline already passed when an inner timeout starts is reported to the outer", () =>
    Effect.gen(function*() {
      const outer = Timeout.make("1 second", { name: fresh(), implementation: "general" })
      const inner = Timeout.make("5 seconds")
      // the work is uninterruptible past the outer deadline, then starts an inner timeout
      const work = Effect.uninterruptible(Effect.sleep("2 seconds")).pipe(Effect.zipRight(Effect.void.pipe(inner)))
      const exit = yield* runWithClock(work.pipe(outer))
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(yield* outer.stats(), { timeouts: 1 })
      assert.deepStrictEqual(yield* inner.stats(), { timeouts: 0 })
    }))

  it("Timeout.make stays pure: no Effect to construct, no metric registered", () => {
    const timeout = Timeout.make("1 second", { name: "pure-probe" })
    assert.isTrue(Timeout.isTimeout(timeout))
    assert.deepStrictEqual(timeout.unsafeStats(), { timeouts: 0 })
  })
})
