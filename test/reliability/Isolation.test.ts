/**
 * Issue 16 §2: a hung dependency opens the breaker under every composition the
 * library builds. A call that the library's own deadline cut after the breaker
 * admitted it (and after it ran long enough in the dependency) is a failure of
 * the dependency; an interruption by the caller is not.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, TestClock } from "effect"
import { Bulkhead, CircuitBreaker, Policy, Retry, Timeout } from "effect-resilience"

const breakerOf = (name: string, options: Partial<CircuitBreaker.CircuitBreaker.Options> = {}) =>
  CircuitBreaker.make({ name, tripPolicy: CircuitBreaker.consecutive(3), openDuration: "1 minute", ...options })

/** Runs `n` calls of a hung dependency through `policy`, one after the other, each cut by its deadline. */
const hungCalls = (n: number, policy: (self: Effect.Effect<never>) => Effect.Effect<unknown, unknown>, each: Duration.DurationInput) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      const fiber = yield* Effect.fork(policy(Effect.never))
      yield* TestClock.adjust(each)
      yield* Fiber.await(fiber)
    }
  })

describe("issue 16 §2: a hung dependency opens the breaker under any composition", () => {
  for (const implementation of ["fast", "general"] as const) {
    it.scoped(`pipeline({ timeout, circuitBreaker }) without an attempt timeout (${implementation})`, () =>
      Effect.gen(function*() {
        const breaker = yield* breakerOf(`no-attempt-${implementation}`)
        const pipeline = Policy.pipeline({ timeout: Timeout.make("2 seconds", { implementation }), circuitBreaker: breaker })
        yield* hungCalls(3, pipeline, "2 seconds")
        assert.strictEqual((yield* breaker.state())._tag, "Open")
        assert.strictEqual((yield* breaker.metrics()).failures, 3)
      }))
  }

  it.scoped("pipeline with an attempt timeout not shorter than the overall timeout (the HTTP client's shape)", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf("long-attempt")
      const pipeline = Policy.pipeline({ timeout: "2 seconds", circuitBreaker: breaker, attemptTimeout: "10 seconds" })
      yield* hungCalls(3, pipeline, "2 seconds")
      assert.strictEqual((yield* breaker.state())._tag, "Open")
    }))

  it.scoped("pipeline with a retry inside the breaker: the cut call is one failure", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf("with-retry")
      const pipeline = Policy.pipeline({
        timeout: "2 seconds",
        circuitBreaker: breaker,
        retry: Retry.policy({ schedule: Retry.constant("100 millis"), times: 3 })
      })
      yield* hungCalls(3, pipeline, "2 seconds")
      assert.strictEqual((yield* breaker.metrics()).failures, 3)
      assert.strictEqual((yield* breaker.state())._tag, "Open")
    }))

  it.scoped("compose(timeout, breaker) and compose(breaker, timeout) both open", () =>
    Effect.gen(function*() {
      const outside = yield* breakerOf("timeout-outside")
      yield* hungCalls(3, Policy.compose(Timeout.make("1 second"), outside), "1 second")
      assert.strictEqual((yield* outside.state())._tag, "Open")
      const inside = yield* breakerOf("timeout-inside")
      yield* hungCalls(3, Policy.compose(inside, Timeout.make("1 second")), "1 second")
      assert.strictEqual((yield* inside.state())._tag, "Open")
    }))

  it.scoped("an interruption by the caller is never counted", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf("caller")
      const pipeline = Policy.pipeline({ timeout: "2 seconds", circuitBreaker: breaker })
      for (let i = 0; i < 5; i++) {
        const fiber = yield* Effect.fork(pipeline(Effect.never))
        yield* TestClock.adjust("1900 millis")
        yield* Fiber.interrupt(fiber)
      }
      const metrics = yield* breaker.metrics()
      assert.strictEqual(metrics.failures, 0)
      assert.strictEqual(metrics.state._tag, "Closed")
    }))

  it.scoped("a call that spent its budget queued before the breaker, then was cut soon after admission, is not counted", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf("queued")
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 10 })
      const pipeline = Policy.pipeline({ timeout: "2 seconds", bulkhead, circuitBreaker: breaker })
      for (let i = 0; i < 3; i++) {
        const gate = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(bulkhead(Deferred.await(gate)))
        yield* Effect.yieldNow()
        const call = yield* Effect.fork(pipeline(Effect.never))
        yield* TestClock.adjust("1900 millis")
        yield* Deferred.succeed(gate, void 0)
        yield* Fiber.join(holder)
        // admitted with 100 ms left: cut at the deadline, 100 ms after admission (< 1 s: not the dependency's fault)
        yield* TestClock.adjust("100 millis")
        yield* Fiber.await(call)
      }
      assert.strictEqual((yield* breaker.metrics()).failures, 0)
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
    }))

  it.scoped("with slowCall set, its duration is the minimum a cut call must have run", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf("slow-minimum", { slowCall: { duration: "3 seconds", threshold: 1 } })
      yield* hungCalls(3, Policy.pipeline({ timeout: "2 seconds", circuitBreaker: breaker }), "2 seconds")
      // cut at 2 s < 3 s: not counted
      assert.strictEqual((yield* breaker.metrics()).failures, 0)
      yield* hungCalls(3, Policy.pipeline({ timeout: "3 seconds", circuitBreaker: breaker }), "3 seconds")
      assert.strictEqual((yield* breaker.state())._tag, "Open")
    }))

  it.scoped("a half-open probe cut by the deadline is a failed probe: the circuit reopens", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf("probe", { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "10 seconds" })
      const pipeline = Policy.pipeline({ timeout: "2 seconds", circuitBreaker: breaker })
      yield* hungCalls(1, pipeline, "2 seconds")
      assert.strictEqual((yield* breaker.state())._tag, "Open")
      yield* TestClock.adjust("10 seconds")
      yield* hungCalls(1, pipeline, "2 seconds")
      assert.strictEqual((yield* breaker.state())._tag, "Open")
    }))
})
