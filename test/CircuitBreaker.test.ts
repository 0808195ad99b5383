import { assert, describe, it } from "@effect/vitest"
import { Data, Duration, Effect, TestClock } from "effect"
import { CircuitBreaker, Errors } from "effect-resilience"

class Boom extends Data.TaggedError("Boom")<{}> {}

const fail = Effect.fail(new Boom())
const ok = Effect.succeed("ok")

describe("CircuitBreaker: consecutive", () => {
  it.scoped("opens after n failures, rejects while open, probes after openDuration, closes on success", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(3), openDuration: "10 seconds" })
      for (let i = 0; i < 2; i++) yield* Effect.exit(breaker(fail))
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
      yield* Effect.exit(breaker(fail))
      const open = yield* breaker.state()
      assert.strictEqual(open._tag, "Open")
      const rejected = yield* Effect.flip(breaker(ok))
      assert.strictEqual(rejected._tag, "CircuitBreakerError")
      assert.strictEqual(rejected.reason._tag, "CircuitOpen")
      assert.isTrue(Errors.isRejection(rejected))
      assert.deepStrictEqual(rejected.retryAfter, Duration.seconds(10))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* breaker.state())._tag, "HalfOpen")
      assert.strictEqual(yield* breaker(ok), "ok")
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
      const m = yield* breaker.metrics()
      assert.deepStrictEqual(m.transitions.map((t) => `${t.from}->${t.to}`), ["Closed->Open", "Open->HalfOpen", "HalfOpen->Closed"])
      assert.strictEqual(m.failures, 3)
      assert.strictEqual(m.rejections, 1)
      assert.strictEqual(m.successes, 1)
    }))
})
