/**
 * Issue 10, "faults": chaos policies injected into each policy's dependency
 * (not mocks): the policies keep their promises under injected faults and
 * latency — no retry storm past the budget, the breaker opens and recovers,
 * fallbacks serve. Seeded `Random`, TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Exit, Fiber, Random, Ref, TestClock } from "effect"
import { Chaos, CircuitBreaker, Fallback, Retry, Timeout } from "effect-resilience"
import { runWithClock } from "../utils/clock.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

/** The "real" dependency: counts its runs; chaos sits between it and the policy. */
const dependency = (runs: Ref.Ref<number>) => Effect.as(Ref.update(runs, (n) => n + 1), "fresh")

describe("policies under chaos", () => {
  it.effect("retry with a budget: a 100% fault rate causes no retry storm past the budget", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const budget = yield* Retry.budget({ ratio: 0.1, minRetriesPerSecond: 0, window: "10 seconds" })
      const retry = Retry.policy({ times: 5, schedule: Retry.constant("10 millis"), budget })
      const chaos = Chaos.fault({ rate: 1, error: () => new Unavailable() })
      const CALLS = 200
      const call = retry(chaos(dependency(runs)))
      const exit = yield* runWithClock(Effect.forEach(Array.from({ length: CALLS }), () => Effect.exit(call)))
      assert.isTrue(Exit.isSuccess(exit))
      const attempts = (yield* chaos.stats()).injected
      const retries = attempts - CALLS
      // without the budget this would be 200 × 5 = 1,000 retries
      assert.isAtMost(retries, Math.ceil(CALLS * 0.1) + 1, `retries ${retries}`)
      assert.isAbove(retries, 0)
      assert.strictEqual(yield* Ref.get(runs), 0, "the fault replaces the call: the dependency never ran")
    }))

  it.effect("breaker: opens under injected faults, recovers once the chaos switch is off", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const outage = yield* Chaos.makeSwitch(true)
      const chaos = Chaos.fault({ rate: 0.9, error: () => new Unavailable(), enabled: outage })
      const cb = yield* CircuitBreaker.make({
        name: "chaos-breaker",
        tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 20, minimumCalls: 10 }),
        openDuration: "5 seconds"
      })
      const call = cb(chaos(dependency(runs)))
      for (let i = 0; i < 50; i++) yield* Effect.exit(call)
      assert.strictEqual((yield* cb.state())._tag, "Open")
      const rejected = yield* Effect.flip(call)
      assert.strictEqual(rejected._tag, "CircuitBreakerError")
      // the dependency recovers
      yield* outage.disable
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* call, "fresh")
      assert.strictEqual((yield* cb.state())._tag, "Closed")
      for (let i = 0; i < 20; i++) assert.strictEqual(yield* call, "fresh")
    }).pipe(Effect.withRandom(Random.make(42)), Effect.scoped))

  it.effect("fallback: serves on every injected fault and on timeouts caused by injected latency", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const faults = Chaos.fault({ rate: 0.5, error: () => new Unavailable() })
      const slow = Chaos.latency({ rate: 0.5, delay: "10 seconds" })
      const fallback = Fallback.value("cached")
      const call = fallback(Timeout.make("1 second")(faults(slow(dependency(runs)))))
      const fiber = yield* Effect.fork(Effect.forEach(Array.from({ length: 100 }), () => call, { concurrency: 10 }))
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("1 second")
      const results = yield* Fiber.join(fiber)
      const cached = results.filter((r) => r === "cached").length
      const fresh = results.filter((r) => r === "fresh").length
      assert.strictEqual(cached + fresh, 100)
      assert.isAbove(cached, 50, "about 3 in 4 calls hit a fault or the injected latency")
      assert.isAbove(fresh, 0)
      assert.strictEqual(fresh, yield* Ref.get(runs), "a timed-out call never completes the dependency")
    }).pipe(Effect.withRandom(Random.make(7))))
})
