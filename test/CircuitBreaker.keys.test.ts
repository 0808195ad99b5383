/**
 * Keyed circuits: idle keys expire, the number of circuits is bounded, and
 * a namespace's circuits are dropped when the last breaker using it goes.
 * (Memory per key is measured in bench/, not asserted here.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Exit, Scope, TestClock } from "effect"
import { CircuitBreaker } from "effect-resilience"

class Boom extends Data.TaggedError("Boom")<{}> {}

interface MemoryStoreInternals {
  readonly size: () => number
  readonly namespaces: () => number
  readonly evictions: () => number
}

const memoryStore = (options: CircuitBreaker.CircuitBreakerStore.MemoryOptions) =>
  Effect.map(CircuitBreaker.makeStoreMemory(options), (store) => store as CircuitBreaker.CircuitBreakerStore & MemoryStoreInternals)

const withStore = (store: CircuitBreaker.CircuitBreakerStore) =>
  Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)

describe("CircuitBreaker: many keys", () => {
  it.scoped("100,000 keys created and left idle are evicted after idleTimeToLive", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ idleTimeToLive: "10 minutes", maxKeys: 200_000 })
      const breaker = yield* CircuitBreaker.make({
        name: "many",
        tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 10 }),
        openDuration: "1 second"
      }).pipe(withStore(store))
      const ok = Effect.void
      for (let i = 0; i < 100_000; i++) yield* breaker.execute(ok, { key: `tenant-${i}` })
      assert.strictEqual(store.size(), 100_000)
      yield* TestClock.adjust("5 minutes")
      // one key stays in use
      yield* breaker.execute(ok, { key: "tenant-7" })
      assert.strictEqual(store.size(), 100_000)
      yield* TestClock.adjust("6 minutes") // swept every 5 minutes (idleTimeToLive / 2)
      assert.strictEqual(store.size(), 1)
      assert.strictEqual(store.evictions(), 99_999)
      const kept = yield* breaker.metrics("tenant-7")
      assert.strictEqual(kept.successes, 2)
      // an evicted key starts over, closed and with no counts
      const gone = yield* breaker.metrics("tenant-8")
      assert.strictEqual(gone.state._tag, "Closed")
      assert.strictEqual(gone.successes, 0)
    }), { timeout: 120_000 })

  it.scoped("idle circuits whose state decides the next call are kept: isolated ones, open ones (even past their break)", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ idleTimeToLive: "1 minute" })
      const breaker = yield* CircuitBreaker.make({
        name: "keep",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "10 minutes",
        halfOpen: { probeTimeout: "1 hour" }
      }).pipe(withStore(store))
      yield* breaker.isolate("isolated")
      yield* Effect.exit(breaker.execute(Effect.fail(new Boom()), { key: "open" }))
      yield* breaker.execute(Effect.void, { key: "closed" })
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual(store.size(), 2)
      assert.strictEqual(yield* Effect.map(breaker.state("isolated"), (s) => s._tag), "Isolated")
      assert.strictEqual(yield* Effect.map(breaker.state("open"), (s) => s._tag), "Open")
      yield* TestClock.adjust("10 minutes") // the break is over, but the next call must be a probe (issue 16 §1)
      assert.strictEqual(store.size(), 2)
      assert.strictEqual(yield* Effect.map(breaker.state("open"), (s) => s._tag), "HalfOpen")
    }))

  it.scoped("maxKeys bounds the store: the oldest circuit holding nothing is dropped first", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ maxKeys: 3 })
      const breaker = yield* CircuitBreaker.make({
        name: "bounded",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 hour"
      }).pipe(withStore(store))
      yield* Effect.exit(breaker.execute(Effect.fail(new Boom()), { key: "a" })) // open: kept
      yield* breaker.execute(Effect.void, { key: "b" })
      yield* breaker.execute(Effect.void, { key: "c" })
      yield* breaker.execute(Effect.void, { key: "d" }) // drops b
      assert.strictEqual(store.size(), 3)
      assert.strictEqual(store.evictions(), 1)
      assert.strictEqual(yield* Effect.map(breaker.state("a"), (s) => s._tag), "Open")
      assert.strictEqual((yield* breaker.metrics("b")).successes, 0)
      assert.strictEqual((yield* breaker.metrics("c")).successes, 1)
    }))

  it.effect("a namespace's circuits are dropped when the last breaker using it is closed", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({})
      const options = { name: "shared", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" } as const
      const scope1 = yield* Scope.make()
      const scope2 = yield* Scope.make()
      const a = yield* CircuitBreaker.make(options).pipe(withStore(store), Scope.extend(scope1))
      yield* CircuitBreaker.make(options).pipe(withStore(store), Scope.extend(scope2))
      yield* a.execute(Effect.void, { key: "x" })
      yield* a.execute(Effect.void, { key: "y" })
      assert.strictEqual(store.size(), 2)
      yield* Scope.close(scope1, Exit.void)
      assert.strictEqual(store.size(), 2)
      yield* Scope.close(scope2, Exit.void)
      assert.strictEqual(store.size(), 0)
      assert.strictEqual(store.namespaces(), 0)
      // resetting a circuit of the closed breaker is a no-op that leaves no namespace behind
      yield* a.reset("x")
      assert.strictEqual(store.namespaces(), 0)
    }))
})
