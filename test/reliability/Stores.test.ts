/**
 * Issue 17 §3 and §5 (regression tests), written from the promises:
 *
 * - §3 "Once per key": a full idempotency memory store refuses new keys
 *   (fail closed, `retryAfter` until its earliest record expires) rather than
 *   forget a live record; stored and in-flight keys are still served; a
 *   high-water event and metric fire before it is full; eviction only when
 *   asked (`whenFull: "evictOldest"`).
 * - §5 "Stale-if-error never slows a fresh answer": writes to a store other
 *   than memory run off the caller's path — bounded, coalesced per key (an
 *   older value never overwrites a newer one), never lost in silence; the
 *   policy is over one value type, tied to its store's at compile time.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberId,
  Layer,
  Option,
  Ref,
  Schema,
  Stream,
  TestClock
} from "effect"
import { Errors, Fallback, Idempotency } from "../../src/index.js"
import { counterValue } from "../utils/metrics.js"
import { settle } from "../utils/fibers.js"
import { collect } from "../utils/streams.js"

let names = 0
const unique = (name: string) => `${name}-${++names}`

/** A policy on its own memory store. */
const idempotency = (name: string, store: Idempotency.MemoryStoreOptions, ttl: Duration.DurationInput = "1 minute") =>
  Effect.gen(function*() {
    const memory = yield* Idempotency.makeStoreMemory({ sweepInterval: Duration.infinity, ...store })
    const idem = yield* Idempotency.make({ ttl, name }).pipe(Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, memory)))
    return { memory, idem }
  })

describe("issue 17 §3: a full idempotency store refuses, it does not forget", () => {
  it.scoped("a retried payment never runs twice after a flood of other keys (default: refuse)", () =>
    Effect.gen(function*() {
      const { idem, memory } = yield* idempotency(unique("payments"), { maxKeys: 100 })
      const charges = yield* Ref.make(0)
      const charge = Effect.as(Ref.update(charges, (n) => n + 1), "charged")
      assert.strictEqual(yield* idem.run("payment-1", charge), "charged")
      // a flood of other keys: 99 fit, the rest are refused (nothing runs for them)
      let refused = 0
      for (let i = 0; i < 1_000; i++) {
        const exit = yield* Effect.exit(idem.run(`flood-${i}`, Effect.succeed(i)))
        if (Exit.isFailure(exit)) {
          const e = Cause.failureOption(exit.cause)
          assert.isTrue(Option.isSome(e) && e.value._tag === "IdempotencyError" && e.value.reason === "StoreFull")
          refused++
        }
      }
      assert.strictEqual(refused, 901)
      // the retry within the ttl is replayed: charged once
      assert.strictEqual(yield* idem.run("payment-1", charge), "charged")
      assert.strictEqual(yield* Ref.get(charges), 1)
      assert.strictEqual(memory.unsafeStats().evicted, 0)
      assert.strictEqual(memory.unsafeStats().refused, 901)
      assert.strictEqual(idem.unsafeStats().refused, 901)
      assert.strictEqual(idem.unsafeStats().storeErrors, 0)
    }))

  it.scoped("the refusal is a typed rejection with retryAfter until the earliest record expires", () =>
    Effect.gen(function*() {
      const name = unique("refusal")
      const { idem } = yield* idempotency(name, { maxKeys: 2 })
      const events = yield* collect(idem.events, 6)
      yield* idem.run("a", Effect.succeed(1))
      yield* TestClock.adjust("10 seconds")
      yield* idem.run("b", Effect.succeed(2))
      let ran = false
      const error = yield* Effect.flip(idem.run("c", Effect.sync(() => (ran = true))))
      assert.isFalse(ran)
      if (error._tag !== "IdempotencyError") return assert.fail(`expected IdempotencyError, got ${error._tag}`)
      assert.strictEqual(error.reason, "StoreFull")
      assert.isTrue(Errors.isRejection(error))
      assert.isTrue(Errors.isResilienceError(error))
      assert.isTrue(Duration.equals(error.retryAfter!, Duration.seconds(50)))
      assert.isTrue(Option.isSome(Errors.retryAfterOf(error)))
      assert.strictEqual(error.message, `Idempotency store is full (2 keys): key ${name.length}:${name}:c refused; retry after 50s`)
      // a Refused event (not a StoreError) and the refusal counter
      const seen = yield* events
      assert.deepStrictEqual(seen.map((e) => e._tag), ["Executed", "Completed", "Executed", "StoreHighWater", "Completed", "Refused"])
      assert.strictEqual(yield* counterValue("resilience_idempotency_refused", { policy: name }), 1)
      // once "a" has expired, a new key is admitted (the expired record is dropped to make room)
      yield* TestClock.adjust("50 seconds")
      assert.strictEqual(yield* idem.run("c", Effect.succeed(3)), 3)
      // "b" is still live: replayed
      assert.strictEqual(yield* idem.run("b", Effect.succeed(-1)), 2)
    }))

  it.scoped("when full, stored keys are replayed and in-flight keys are shared; only new keys are refused", () =>
    Effect.gen(function*() {
      const { idem, memory } = yield* idempotency(unique("served"), { maxKeys: 3 })
      yield* idem.run("stored-1", Effect.succeed("s1"))
      yield* idem.run("stored-2", Effect.succeed("s2"))
      const gate = yield* Deferred.make<void>()
      const runs = yield* Ref.make(0)
      const slow = Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.as(Deferred.await(gate), "slow"))
      const first = yield* Effect.fork(idem.run("in-flight", slow))
      yield* Effect.yieldNow()
      assert.strictEqual(memory.unsafeSize(), 3)
      const refused = yield* Effect.flip(idem.run("new", Effect.succeed("new")))
      assert.strictEqual(refused._tag === "IdempotencyError" && refused.reason, "StoreFull")
      assert.strictEqual(yield* idem.run("stored-1", Effect.succeed("x")), "s1")
      const second = yield* Effect.fork(idem.run("in-flight", slow))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(yield* Fiber.join(first), "slow")
      assert.strictEqual(yield* Fiber.join(second), "slow")
      assert.strictEqual(yield* Ref.get(runs), 1)
    }))

  it.scoped("with only executions in flight, a new key is refused without retryAfter (even with evictOldest)", () =>
    Effect.gen(function*() {
      const { idem } = yield* idempotency(unique("in-flight-only"), { maxKeys: 1, whenFull: "evictOldest" })
      const fiber = yield* Effect.fork(idem.run("running", Effect.never))
      yield* Effect.yieldNow()
      const e = yield* Effect.flip(idem.run("new", Effect.succeed(1)))
      assert.isTrue(e._tag === "IdempotencyError" && e.reason === "StoreFull" && e.retryAfter === undefined)
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("policies with different ttls share a store: an expired short-ttl record behind a long-ttl one makes room", () =>
    Effect.gen(function*() {
      const memory = yield* Idempotency.makeStoreMemory({ maxKeys: 2, sweepInterval: Duration.infinity })
      const provide = Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, memory))
      const long = yield* Idempotency.make({ ttl: "1 hour", name: "long" }).pipe(provide)
      const short = yield* Idempotency.make({ ttl: "1 minute", name: "short" }).pipe(provide)
      yield* long.run("l", Effect.succeed(1))
      yield* short.run("s", Effect.succeed(2))
      const full = yield* Effect.flip(short.run("s2", Effect.succeed(3)))
      // retryAfter: the earliest expiry (the short record), not the oldest record's
      assert.isTrue(full._tag === "IdempotencyError" && Duration.equals(full.retryAfter!, Duration.minutes(1)))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* short.run("s2", Effect.succeed(3)), 3)
      assert.strictEqual(yield* long.run("l", Effect.succeed(-1)), 1)
      assert.strictEqual(memory.unsafeStats().expired, 1)
    }))

  it.scoped("a high-water event and metric fire before the store is full (at 90% by default), once per crossing", () =>
    Effect.gen(function*() {
      const name = unique("high-water")
      const { idem, memory } = yield* idempotency(name, { maxKeys: 10 })
      const events = idem.events.pipe(Stream.filter((e) => e._tag === "StoreHighWater"))
      const first = yield* collect(events, 1)
      for (let i = 0; i < 9; i++) yield* idem.run(`k${i}`, Effect.succeed(i))
      assert.deepStrictEqual(yield* first, [{ _tag: "StoreHighWater", policy: name, key: "k8", size: 9, maxKeys: 10 }])
      assert.strictEqual(yield* counterValue("resilience_idempotency_store_high_water", { policy: name }), 1)
      // not again while it stays above the mark
      yield* idem.run("k9", Effect.succeed(9))
      assert.strictEqual(memory.unsafeStats().highWaterCrossings, 1)
      // below the mark again (expired), then up again: reported again
      yield* TestClock.adjust("1 minute")
      yield* memory.sweep
      for (let i = 0; i < 9; i++) yield* idem.run(`again-${i}`, Effect.succeed(i))
      assert.strictEqual(memory.unsafeStats().highWaterCrossings, 2)
      assert.strictEqual(yield* counterValue("resilience_idempotency_store_high_water", { policy: name }), 2)
    }))

  it.scoped("highWater is configurable; whenFull and highWater are validated", () =>
    Effect.gen(function*() {
      const { idem, memory } = yield* idempotency(unique("half"), { maxKeys: 10, highWater: 0.5 })
      for (let i = 0; i < 5; i++) yield* idem.run(`k${i}`, Effect.succeed(i))
      assert.strictEqual(memory.unsafeStats().highWaterCrossings, 1)
      for (const bad of [{ whenFull: "drop" }, { highWater: 0 }, { highWater: 1.5 }, { highWater: Number.NaN }]) {
        const e = yield* Effect.flip(Idempotency.makeStoreMemory(bad as Idempotency.MemoryStoreOptions))
        assert.instanceOf(e, Errors.InvalidOptionsError)
      }
    }))
})

// --- §5 ---------------------------------------------------------------------------------------

/** A store that records its writes and holds each one until `release` is called for it. */
const gatedStore = Effect.gen(function*() {
  const memory = yield* Fallback.makeStoreMemory({ maxEntries: 100 })
  const writes: Array<string> = []
  const gates: Array<Deferred.Deferred<void>> = []
  let open = false
  const store: Fallback.StaleStore = {
    get: memory.get,
    set: (key, entry, now) =>
      Effect.suspend(() => {
        writes.push(`${key}=${String(entry.value)}`)
        if (open) return memory.set(key, entry, now)
        const gate = Deferred.unsafeMake<void>(FiberId.none)
        gates.push(gate)
        return Effect.zipRight(Deferred.await(gate), memory.set(key, entry, now))
      }),
    delete: (key) => Effect.zipRight(Effect.sync(() => writes.push(`delete ${key}`)), memory.delete(key))
  }
  const releaseAll = Effect.suspend(() => {
    open = true
    return Effect.forEach(gates.splice(0), (g) => Deferred.succeed(g, undefined), { discard: true })
  })
  return { store, writes, releaseAll, held: () => gates.length }
})

describe("issue 17 §5: stale-if-error never slows a fresh answer", () => {
  it.effect("a fresh answer returns while the store's write never ends (no time passes)", () =>
    Effect.gen(function*() {
      const memory = yield* Fallback.makeStoreMemory({ maxEntries: 10 })
      const hung: Fallback.StaleStore = { get: memory.get, set: () => Effect.never, delete: memory.delete }
      const cache = yield* Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 10, name: unique("hung") }).pipe(
        Effect.provideService(Fallback.StaleStore, hung)
      )
      // on the TestClock nothing moves: the answer must come without waiting for anything
      const call = yield* Effect.fork(Effect.succeed(42).pipe(cache))
      yield* settle
      const answer = yield* Fiber.poll(call)
      assert.isTrue(Option.isSome(answer), "the fresh answer returned while the write hangs")
      assert.strictEqual(yield* Fiber.join(call), 42)
      assert.strictEqual((yield* cache.stats()).pendingWrites, 1)
      // while its write is pending, the value is served from memory if the source fails
      assert.strictEqual(yield* Effect.fail("down").pipe(Effect.as(0), cache), 42)
    }))

  it.effect("writes are coalesced per key and land in order: an older value never overwrites a newer one", () =>
    Effect.gen(function*() {
      const { releaseAll, store, writes } = yield* gatedStore
      const cache = yield* Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 10, name: "order" }).pipe(
        Effect.provideService(Fallback.StaleStore, store)
      )
      yield* Effect.succeed(1).pipe(cache) // written at once (held by the store)
      yield* Effect.yieldNow()
      for (const v of [2, 3, 4]) yield* Effect.succeed(v).pipe(cache) // waiting: only the latest is kept
      assert.strictEqual((yield* cache.stats()).pendingWrites, 2)
      // the newest value is served while nothing has landed
      assert.strictEqual(yield* Effect.fail("down").pipe(Effect.as(0), cache), 4)
      yield* releaseAll
      yield* cache.flush
      assert.deepStrictEqual(writes, ["5:order:default=1", "5:order:default=4"])
      assert.strictEqual(yield* Effect.fail("down").pipe(Effect.as(0), cache), 4)
      assert.deepStrictEqual(yield* cache.stats(), { calls: 6, stored: 2, served: 2, misses: 0, storeErrors: 0, pendingWrites: 0 })
    }))

  it.effect("bounded: at most 4 writes at a time, at most maxPendingWrites waiting; a dropped value is reported (event and metric)", () =>
    Effect.gen(function*() {
      const name = unique("bounded")
      const { held, releaseAll, store } = yield* gatedStore
      const cache = yield* Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 10, name, maxPendingWrites: 2 }).pipe(
        Effect.provideService(Fallback.StaleStore, store)
      )
      const events = yield* collect(cache.events, 1)
      for (let i = 0; i < 7; i++) yield* cache.execute(Effect.succeed(i), { key: `k${i}` })
      yield* Effect.yieldNow()
      assert.strictEqual(held(), 4)
      // 4 writing, 2 waiting: k4 was dropped for k6
      assert.strictEqual((yield* cache.stats()).pendingWrites, 6)
      const [dropped] = yield* events
      if (dropped?._tag !== "StoreError") return assert.fail("expected a StoreError event")
      assert.strictEqual(dropped.key, "k4")
      assert.strictEqual(dropped.error.operation, "set")
      assert.strictEqual(yield* counterValue("resilience_fallback_stale_store_errors", { policy: name, operation: "set" }), 1)
      yield* releaseAll
      yield* cache.flush
      assert.strictEqual((yield* cache.stats()).stored, 6)
      assert.strictEqual((yield* cache.stats()).storeErrors, 1)
      assert.strictEqual(yield* Effect.flip(cache.execute(Effect.fail("down"), { key: "k4" })), "down")
      assert.strictEqual(yield* cache.execute(Effect.fail("down"), { key: "k6" }), 6)
    }))

  it.effect("invalidate drops a waiting write and lands after the one in flight: the value does not come back", () =>
    Effect.gen(function*() {
      const { releaseAll, store, writes } = yield* gatedStore
      const cache = yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10, name: "inv" }).pipe(
        Effect.provideService(Fallback.StaleStore, store)
      )
      yield* Effect.succeed("v1").pipe(cache)
      yield* Effect.yieldNow()
      yield* Effect.succeed("v2").pipe(cache)
      const invalidated = yield* Effect.fork(cache.invalidate())
      yield* Effect.yieldNow()
      yield* releaseAll
      yield* Fiber.join(invalidated)
      yield* cache.flush
      assert.deepStrictEqual(writes, ["3:inv:default=v1", "delete 3:inv:default"])
      assert.strictEqual(yield* Effect.flip(Effect.fail("down").pipe(Effect.as("x"), cache)), "down")
    }))

  it.effect("a store that throws is reported, never the caller's failure", () =>
    Effect.gen(function*() {
      const throwing: Fallback.StaleStore = {
        get: () => Effect.die(new Error("get threw")),
        set: () => Effect.die(new Error("set threw")),
        delete: () => Effect.die(new Error("delete threw"))
      }
      const cache = yield* Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 10, name: unique("throwing") }).pipe(
        Effect.provideService(Fallback.StaleStore, throwing)
      )
      assert.strictEqual(yield* Effect.succeed(1).pipe(cache), 1)
      yield* cache.flush
      assert.strictEqual(yield* Effect.flip(Effect.fail("down").pipe(Effect.as(0), cache)), "down")
      yield* cache.invalidate()
      assert.strictEqual((yield* cache.stats()).storeErrors, 3)
    }))

  it.effect("the memory store is written at once (no queue)", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeStoreMemory({ maxEntries: 10 })
      const cache = yield* Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 10, name: "mem" }).pipe(
        Effect.provideService(Fallback.StaleStore, store)
      )
      yield* Effect.succeed(7).pipe(cache)
      assert.strictEqual((yield* cache.stats()).pendingWrites, 0)
      assert.strictEqual((yield* cache.stats()).stored, 1)
      assert.isTrue(Option.isSome(yield* store.get("3:mem:default", 0)))
    }))

  it("types: a policy is over one value type, tied to its schema's", () => {
    interface Quote {
      readonly price: number
    }
    // @ts-expect-error: a schema of numbers cannot type a policy of quotes
    void Fallback.staleIfError<Quote>({ ttl: "1 minute", maxEntries: 1, schema: Schema.Number })
    // the schema fixes the type when none is given
    const numbers = Effect.runSync(Fallback.staleIfError({ ttl: "1 minute", maxEntries: 1, schema: Schema.Number }))
    // @ts-expect-error: the policy keeps numbers
    void Effect.succeed("one").pipe(numbers)
    // the store (memory) backs any policy
    const memory = Effect.runSync(Fallback.makeStoreMemory({ maxEntries: 1 }))
    const quotes = Effect.runSync(
      Fallback.staleIfError<Quote>({ ttl: "1 minute", maxEntries: 1 }).pipe(Effect.provideService(Fallback.StaleStore, memory))
    )
    // @ts-expect-error: the policy keeps quotes
    void Effect.succeed(1).pipe(quotes)
    // @ts-expect-error: execute and serve too
    void quotes.execute(Effect.succeed(1), { key: "k" })
    assert.isTrue(true)
  })
})
