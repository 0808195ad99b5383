import { assert, describe, it } from "@effect/vitest"
import { Data, Effect } from "effect"
import { CircuitBreaker } from "effect-resilience"
import { recordingTracer } from "./utils/tracer.js"

class Boom extends Data.TaggedError("Boom")<{}> {}

describe("CircuitBreaker spans", () => {
  it.scoped("off by default; with spans: true one span per call, rejections annotated", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const quiet = yield* CircuitBreaker.make({ name: "quiet-spans", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      yield* Effect.succeed(1).pipe(quiet, Effect.withTracer(tracer))
      assert.strictEqual(spans.length, 0)

      const breaker = yield* CircuitBreaker.make({
        name: "traced-spans",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 minute",
        spans: true
      })
      yield* Effect.succeed(1).pipe(breaker.execute({ key: "k" }), Effect.withTracer(tracer))
      yield* Effect.either(Effect.fail(new Boom()).pipe(breaker.execute({ key: "k" }), Effect.withTracer(tracer)))
      yield* Effect.either(Effect.succeed(1).pipe(breaker.execute({ key: "k" }), Effect.withTracer(tracer)))
      assert.deepStrictEqual(spans.map((s) => s.name), [
        "resilience.circuit_breaker",
        "resilience.circuit_breaker",
        "resilience.circuit_breaker"
      ])
      assert.strictEqual(spans[0]!.attributes.get("policy"), "traced-spans")
      assert.strictEqual(spans[0]!.attributes.get("key"), "k")
      assert.isFalse(spans[1]!.attributes.has("rejected"))
      assert.strictEqual(spans[2]!.attributes.get("rejected"), "CircuitOpen")
    }))
})
