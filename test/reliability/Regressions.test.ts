/**
 * Regression tests named after bug classes reported against the anchors
 * (Polly, resilience4j, cockatiel, opossum). Each test fails if the bug were
 * reintroduced here. Issue numbers are the upstream threads.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Duration, Effect, Exit, Fiber, Random, Ref, Schedule, Stream, TestClock } from "effect"
import { Bulkhead, CircuitBreaker, Retry, Timeout } from "effect-resilience"

class Boom {
  readonly _tag = "Boom"
}
const boom = Effect.fail(new Boom())

let names = 0
const breaker = (options: Partial<CircuitBreaker.CircuitBreaker.Options> = {}) =>
  CircuitBreaker.make({
    name: `regressions-${++names}`,
    tripPolicy: CircuitBreaker.consecutive(1),
    openDuration: "1 second",
    ...options
  })

const tripped = (cb: CircuitBreaker.CircuitBreaker) =>
  Effect.gen(function*() {
    yield* Effect.exit(cb(boom))
    assert.strictEqual((yield* cb.state())._tag, "Open")
  })

describe("regressions from the anchors' issue trackers", () => {
  it.scoped(
    "opossum #45 / cockatiel #115: a full bulkhead's rejections (load shedding) never trip the breaker around it",
    () =>
      Effect.gen(function*() {
        const cb = yield* breaker({ tripPolicy: CircuitBreaker.consecutive(2) })
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 0 })
        const gate = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(cb(bulkhead(Deferred.await(gate))))
        yield* Effect.yieldNow()
        const rejected = yield* Effect.forEach(
          Array.from({ length: 10 }, () => cb(bulkhead(Effect.void))),
          (e) => Effect.flip(e),
          { concurrency: "unbounded" }
        )
        assert.isTrue(rejected.every((e) => e._tag === "BulkheadFullError"))
        assert.strictEqual((yield* cb.state())._tag, "Closed")
        yield* Deferred.succeed(gate, void 0)
        yield* Fiber.join(holder)
        assert.strictEqual((yield* cb.state())._tag, "Closed")
      })
  )

  it.scoped(
    "resilience4j #1432 (half-open stampede): OPEN→HALF_OPEN admits exactly `probes` concurrent calls",
    () =>
      Effect.gen(function*() {
        const cb = yield* breaker({ halfOpen: { probes: 2 } })
        yield* tripped(cb)
        yield* TestClock.adjust("1 second")
        const entered = yield* Ref.make(0)
        const gate = yield* Deferred.make<void>()
        const call = cb(Effect.zipRight(Ref.update(entered, (n) => n + 1), Deferred.await(gate)))
        const fibers = yield* Effect.forEach(Array.from({ length: 50 }, () => call), Effect.fork)
        yield* Effect.yieldNow()
        assert.strictEqual(yield* Ref.get(entered), 2)
        yield* Deferred.succeed(gate, void 0)
        const exits = yield* Effect.forEach(fibers, Fiber.await)
        assert.strictEqual(exits.filter(Exit.isSuccess).length, 2)
        assert.strictEqual((yield* cb.state())._tag, "Closed")
      })
  )

  it.scoped(
    "resilience4j #903, #935 / opossum #57 (stuck half-open): an interrupted probe frees its slot",
    () =>
      Effect.gen(function*() {
        const cb = yield* breaker()
        yield* tripped(cb)
        yield* TestClock.adjust("1 second")
        const probe = yield* Effect.fork(cb(Effect.never))
        yield* Effect.yieldNow()
        assert.strictEqual((yield* cb.state())._tag, "HalfOpen")
        // while the probe runs, others are rejected…
        assert.strictEqual((yield* Effect.flip(cb(Effect.void)))._tag, "CircuitBreakerError")
        // …and once it is interrupted (no result), the next caller probes at once
        yield* Fiber.interrupt(probe)
        yield* cb(Effect.void)
        assert.strictEqual((yield* cb.state())._tag, "Closed")
      })
  )

  it.scoped(
    "resilience4j #935 (stuck half-open): a probe that never returns is a failed probe after probeTimeout (maxWaitDurationInHalfOpenState): reopened, probed again after the break",
    () =>
      Effect.gen(function*() {
        const cb = yield* breaker({ halfOpen: { probeTimeout: "5 seconds" } })
        yield* tripped(cb)
        yield* TestClock.adjust("1 second")
        yield* Effect.fork(cb(Effect.never))
        yield* Effect.yieldNow()
        assert.strictEqual((yield* Effect.flip(cb(Effect.void)))._tag, "CircuitBreakerError")
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual((yield* cb.state())._tag, "Open")
        yield* TestClock.adjust("1 second")
        yield* cb(Effect.void)
        assert.strictEqual((yield* cb.state())._tag, "Closed")
      })
  )

  it.effect(
    "opossum #673 (timeout that does not cancel the work): the timed-out effect is interrupted and its finalizers run",
    () =>
      Effect.gen(function*() {
        const finished = yield* Ref.make(false)
        const finalized = yield* Ref.make(false)
        const work = Effect.sleep("10 seconds").pipe(
          Effect.zipRight(Ref.set(finished, true)),
          Effect.onInterrupt(() => Ref.set(finalized, true))
        )
        const fiber = yield* Effect.fork(Timeout.make("100 millis")(work))
        yield* TestClock.adjust("100 millis")
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.strictEqual(error._tag, "TimeoutError")
        assert.isTrue(yield* Ref.get(finalized))
        yield* TestClock.adjust("20 seconds")
        assert.isFalse(yield* Ref.get(finished))
      })
  )

  it.effect(
    "Polly #2163, #1866 (exponential backoff overflow): delays stay finite, non-negative and capped at 10,000 attempts",
    () =>
      Effect.gen(function*() {
        const inputs = Array.from({ length: 10_000 }, (_, i) => i)
        for (const jitter of ["none", "full", "equal", "decorrelated"] as const) {
          const capped = yield* Schedule.run(
            Retry.exponential({ base: "2 seconds", max: "30 seconds", jitter }),
            0,
            inputs
          )
          const delays = Chunk.toReadonlyArray(capped).map(Duration.toMillis)
          assert.strictEqual(delays.length, inputs.length, jitter)
          for (const d of delays) assert.isTrue(Number.isFinite(d) && d >= 0 && d <= 30_000, `${jitter}: ${d}`)
          if (jitter === "none") assert.strictEqual(delays[delays.length - 1], 30_000)
          // with no max, the cap is the largest timer delay (2^31-1 ms), never Infinity or negative
          const uncapped = yield* Schedule.run(Retry.exponential({ base: "2 seconds", factor: 10, jitter }), 0, inputs)
          for (const d of Chunk.toReadonlyArray(uncapped).map(Duration.toMillis)) {
            assert.isTrue(Number.isFinite(d) && d >= 0 && d <= Retry.MAX_DELAY_MILLIS, `${jitter} uncapped: ${d}`)
          }
        }
      }).pipe(Effect.withRandom(Random.make(2163)))
  )

  it.scoped(
    "resilience4j #650, #703 (unbounded per-key growth): 20,000 keys through a keyed breaker and bulkhead stay bounded",
    () =>
      Effect.gen(function*() {
        const store = yield* CircuitBreaker.makeStoreMemory({ maxKeys: 1_000 })
        const cb = yield* breaker({ tripPolicy: CircuitBreaker.consecutive(3) }).pipe(
          Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
        )
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2 })
        for (let i = 0; i < 20_000; i++) {
          const key = `tenant-${i}`
          yield* Effect.exit(cb.execute(bulkhead.execute(i % 2 === 0 ? Effect.void : boom, { key }), { key }))
        }
        const size = (store as unknown as { readonly size: () => number }).size()
        assert.isAtMost(size, 1_000)
        assert.isAbove(size, 0)
        // idle partitions are dropped: nothing is kept for keys with no call in flight
        assert.strictEqual(bulkhead.unsafeTotals().partitions, 0)
      })
  )

  it.scoped(
    "resilience4j #3/#892 (callbacks run under a lock): a transition subscriber may call back into the breaker",
    () =>
      Effect.gen(function*() {
        const cb = yield* breaker()
        const seen = yield* Ref.make<ReadonlyArray<string>>([])
        const ready = yield* Deferred.make<void>()
        // on every opening, the listener reads the state and resets the circuit: re-entrant calls
        // that would deadlock if listeners ran while the breaker held its state lock
        const listener = yield* cb.transitions.pipe(
          Stream.onStart(Deferred.succeed(ready, void 0)),
          Stream.tap((t) =>
            Effect.gen(function*() {
              yield* Ref.update(seen, (s) => [...s, `${t.from}->${t.to}`])
              if (t.to === "Open") {
                yield* cb.state()
                yield* cb.reset()
              }
            })
          ),
          Stream.take(2),
          Stream.runDrain,
          Effect.fork
        )
        yield* Deferred.await(ready)
        yield* Effect.exit(cb(boom))
        const done = yield* Fiber.join(listener).pipe(Effect.timeout("1 second"), Effect.fork)
        yield* TestClock.adjust("1 second")
        assert.isTrue(Exit.isSuccess(yield* Fiber.await(done)))
        assert.deepStrictEqual((yield* Ref.get(seen)).slice(0, 2), ["Closed->Open", "Open->Closed"])
        assert.strictEqual((yield* cb.state())._tag, "Closed")
      })
  )
})
