import * as RateLimiterExperimental from "@effect/experimental/RateLimiter"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Config,
  ConfigProvider,
  Context,
  Data,
  Duration,
  Effect,
  Either,
  Exit,
  FastCheck as fc,
  Fiber,
  Layer,
  Metric,
  Option,
  Predicate,
  Ref,
  Scope,
  Stream,
  TestClock
} from "effect"
import { Bulkhead, CircuitBreaker, Errors, Policy, RateLimiter, Retry, Timeout } from "effect-resilience"
import { plainReserve } from "../src/internal/rateLimiter/store.js"
import { counterValue } from "./utils/metrics.js"
import { settle } from "./utils/fibers.js"
import { numRuns } from "./utils/props.js"

type StoreVariant = {
  readonly label: string
  /** Ours, or experimental's (which a limiter finds and uses when none of ours is provided). */
  readonly layer: Layer.Layer<never, unknown>
  /** Whether the store has the atomic extension (exact waits, refunds for both algorithms). */
  readonly atomic: boolean
}

/** An atomic store with only the effectful `reserve`/`refund` (as a remote store has), over our memory store. */
const asyncAtomicStore: Layer.Layer<RateLimiter.RateLimiterStore, unknown> = Layer.scoped(
  RateLimiter.RateLimiterStore,
  Effect.map(RateLimiter.makeStoreMemory(), (inner): RateLimiter.RateLimiterStore & RateLimiter.AtomicStore => ({
    tokenBucket: inner.tokenBucket,
    fixedWindow: inner.fixedWindow,
    [RateLimiter.AtomicStoreTypeId]: {
      reserve: inner[RateLimiter.AtomicStoreTypeId].reserve,
      refund: inner[RateLimiter.AtomicStoreTypeId].refund
    }
  }))
)

const stores: ReadonlyArray<StoreVariant> = [
  { label: "our memory store (atomic)", layer: RateLimiter.layerStoreMemory(), atomic: true },
  { label: "an atomic store without the synchronous methods", layer: asyncAtomicStore, atomic: true },
  { label: "experimental's memory store (plain protocol)", layer: RateLimiterExperimental.layerStoreMemory, atomic: false }
]

/** The (TestClock) time at which an effect starts. */
const now = Effect.clockWith((clock) => clock.currentTimeMillis)

/** Forks `n` calls of `limited(now)` one after the other at the current time, then runs the clock until all are done. */
const startTimes = <E>(
  n: number,
  limited: (self: Effect.Effect<number>) => Effect.Effect<number, E>,
  advance: Duration.DurationInput = "1 hour"
) =>
  Effect.gen(function*() {
    const fibers: Array<Fiber.RuntimeFiber<Either.Either<number, E>>> = []
    for (let i = 0; i < n; i++) {
      fibers.push(yield* Effect.fork(Effect.either(limited(now))))
      yield* Effect.yieldNow()
    }
    yield* TestClock.adjust(advance)
    const out: Array<Either.Either<number, E>> = []
    for (const f of fibers) out.push(yield* Fiber.join(f))
    return out
  })


const rights = <E>(results: ReadonlyArray<Either.Either<number, E>>) =>
  results.map((r) => (Either.isRight(r) ? r.right : -1))

const expectRejected = <A>(either: Either.Either<A, unknown>): RateLimiter.RateLimitExceededError => {
  assert.isTrue(Either.isLeft(either), "expected a rejection")
  const error = (either as Either.Left<unknown, A>).left
  assert.isTrue(RateLimiter.isRateLimitExceededError(error), `expected RateLimitExceededError, got ${String(error)}`)
  return error as RateLimiter.RateLimitExceededError
}

describe("RateLimiter options", () => {
  it.scoped("applies and exposes the defaults", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 10, window: "1 second" })
      assert.deepStrictEqual(limiter.options, {
        limit: 10,
        window: Duration.seconds(1),
        algorithm: "token-bucket",
        onExceeded: "fail",
        cost: 1,
        maxDelay: Duration.zero,
        onStoreError: "fail",
        name: "rate-limiter",
        metricsInterval: Duration.seconds(1),
        maxKeyLength: 1024
      })
      assert.strictEqual(limiter.policyName, "rate-limiter")
      const delay = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay" })
      assert.isTrue(Duration.equals(delay.options.maxDelay, Duration.infinity))
      const described = Policy.describe(limiter)
      assert.strictEqual(described.kind, "RateLimiter")
      assert.strictEqual(described.options.store, "atomic")
    }))

  const invalid: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
    ["limit", { limit: 0, window: "1 second" }],
    ["limit", { limit: 1.5, window: "1 second" }],
    ["limit", { limit: Infinity, window: "1 second" }],
    ["window", { limit: 1, window: 0 }],
    ["window", { limit: 1, window: "-1 seconds" }],
    ["window", { limit: 1, window: Duration.infinity }],
    ["algorithm", { limit: 1, window: "1 second", algorithm: "sliding-log" }],
    ["onExceeded", { limit: 1, window: "1 second", onExceeded: "queue" }],
    ["cost", { limit: 2, window: "1 second", cost: 3 }],
    ["cost", { limit: 2, window: "1 second", cost: 0 }],
    ["cost", { limit: 2, window: "1 second", cost: 1.5 }],
    ["maxDelay", { limit: 1, window: "1 second", maxDelay: "1 second" }],
    ["maxDelay", { limit: 1, window: "1 second", onExceeded: "delay", maxDelay: "-1 seconds" }],
    ["onStoreError", { limit: 1, window: "1 second", onStoreError: "ignore" }],
    ["name", { limit: 1, window: "1 second", name: "" }],
    ["metricsInterval", { limit: 1, window: "1 second", metricsInterval: "0 millis" }]
  ]
  for (const [option, options] of invalid) {
    it.scoped(`rejects an invalid ${option}: ${JSON.stringify(options)}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(RateLimiter.make(options as any))
        assert.strictEqual(error._tag, "InvalidOptionsError")
        assert.strictEqual(error.option, option)
        assert.strictEqual(error.module, "RateLimiter.make")
        assert.include(error.message, option)
      }))
  }

  it.scoped("memory store options are validated", () =>
    Effect.gen(function*() {
      const e1 = yield* Effect.flip(RateLimiter.makeStoreMemory({ maxKeys: 0 }))
      assert.strictEqual(e1.option, "maxKeys")
      const e2 = yield* Effect.flip(RateLimiter.makeStoreMemory({ sweepInterval: "0 millis" }))
      assert.strictEqual(e2.option, "sweepInterval")
      const e3 = yield* Effect.flip(Layer.build(RateLimiter.layerStoreMemory({ maxKeys: -1 })))
      assert.strictEqual(e3._tag, "InvalidOptionsError")
    }))
})

for (const variant of stores) {
  describe(`RateLimiter on ${variant.label}`, () => {
    const withStore = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
      effect.pipe(Effect.scoped, Effect.provide(variant.layer))

    it.effect("fail + token bucket: admits the burst, then rejects with retryAfter until a token refills", () =>
      withStore(Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 3, window: "300 millis", name: "tb" })
        for (let i = 0; i < 3; i++) assert.strictEqual(yield* Effect.succeed(i).pipe(limiter), i)
        const error = expectRejected(yield* Effect.either(Effect.succeed(3).pipe(limiter)))
        assert.strictEqual(error.reason, "LimitExceeded")
        assert.strictEqual(Duration.toMillis(error.retryAfter), 100)
        assert.strictEqual(error.limit, 3)
        assert.strictEqual(error.remaining, 0)
        assert.strictEqual(error.policy, "tb")
        assert.isUndefined(error.key)
        yield* TestClock.adjust("99 millis")
        expectRejected(yield* Effect.either(Effect.succeed(3).pipe(limiter)))
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(yield* Effect.succeed(4).pipe(limiter), 4)
        assert.deepStrictEqual(limiter.unsafeStats(), { permitted: 4, delayed: 0, rejected: 2, storeErrors: 0 })
      })))

    it.effect("fail + fixed window: at most limit per counter, retryAfter is the counter's remaining life", () =>
      withStore(Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 3, window: "1 second", algorithm: "fixed-window" })
        for (let i = 0; i < 3; i++) yield* limiter(Effect.void)
        yield* TestClock.adjust("400 millis")
        const error = expectRejected(yield* Effect.either(limiter(Effect.void)))
        assert.strictEqual(error.reason, "LimitExceeded")
        assert.strictEqual(Duration.toMillis(error.retryAfter), 600)
        yield* TestClock.adjust("600 millis")
        for (let i = 0; i < 3; i++) yield* limiter(Effect.void)
        expectRejected(yield* Effect.either(limiter(Effect.void)))
      })))

    it.effect("delay + token bucket: calls over the limit start one refill interval apart", () =>
      withStore(Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 2, window: "1 second", onExceeded: "delay" })
        const results = yield* startTimes(5, limiter)
        assert.deepStrictEqual(rights(results), [0, 0, 500, 1000, 1500])
        assert.deepStrictEqual(limiter.unsafeStats(), { permitted: 2, delayed: 3, rejected: 0, storeErrors: 0 })
      })))

    it.effect("delay + fixed window: the n-th call waits for the start of window floor((n-1)/limit)", () =>
      withStore(Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({
          limit: 2,
          window: "1 second",
          algorithm: "fixed-window",
          onExceeded: "delay"
        })
        yield* TestClock.adjust("250 millis")
        const results = yield* startTimes(5, limiter)
        assert.deepStrictEqual(rights(results), [250, 250, 1250, 1250, 2250])
      })))

    for (const algorithm of ["token-bucket", "fixed-window"] as const) {
      it.effect(`delay + ${algorithm}: a call that would wait longer than maxDelay is rejected and not charged`, () =>
        withStore(Effect.gen(function*() {
          const limiter = yield* RateLimiter.make({
            limit: 2,
            window: "1 second",
            algorithm,
            onExceeded: "delay",
            maxDelay: "1200 millis"
          })
          // four calls at t=0: two at once, two waiting (token bucket: 500, 1000; fixed window: 1000, 1000)
          const admitted: Array<Fiber.RuntimeFiber<number, unknown>> = []
          for (let i = 0; i < 4; i++) {
            admitted.push(yield* Effect.fork(limiter(now)))
            yield* Effect.yieldNow()
          }
          // the fifth would wait 1.5 s (2 s): rejected, ten times over, and none of them takes a token
          for (let i = 0; i < 10; i++) {
            const error = expectRejected(yield* Effect.either(limiter(Effect.void)))
            assert.strictEqual(error.reason, "MaxDelayExceeded")
            // it fits maxDelay once the wait is 1.2 s: in 300 ms (token bucket), 800 ms (fixed window)
            assert.strictEqual(Duration.toMillis(error.retryAfter), algorithm === "token-bucket" ? 300 : 800)
            assert.strictEqual(error.remaining, 0)
          }
          assert.strictEqual(limiter.unsafeStats().rejected, 10)
          // later, the next call gets exactly the slot it would have had without the rejected calls
          yield* TestClock.adjust(algorithm === "token-bucket" ? "500 millis" : "1 second")
          const next = yield* Effect.fork(limiter(now))
          yield* Effect.yieldNow()
          yield* TestClock.adjust("10 seconds")
          assert.deepStrictEqual(
            yield* Effect.forEach(admitted, Fiber.join),
            algorithm === "token-bucket" ? [0, 0, 500, 1000] : [0, 0, 1000, 1000]
          )
          assert.strictEqual(yield* Fiber.join(next), algorithm === "token-bucket" ? 1500 : 2000)
        })))
    }

    it.effect("rejections in delay mode name the reason, maxDelay and retryAfter", () =>
      withStore(Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({
          limit: 1,
          window: "1 second",
          onExceeded: "delay",
          maxDelay: "1500 millis",
          name: "api"
        })
        yield* limiter(Effect.void) // t=0
        const waiting = yield* Effect.fork(limiter(now)) // waits 1 s
        yield* Effect.yieldNow()
        const rejected = expectRejected(yield* Effect.either(limiter(Effect.void))) // would wait 2 s
        assert.strictEqual(rejected.reason, "MaxDelayExceeded")
        assert.strictEqual(Duration.toMillis(rejected.retryAfter), 500)
        assert.isTrue(Duration.equals(rejected.maxDelay!, Duration.millis(1500)))
        assert.include(rejected.message, "maxDelay")
        assert.include(rejected.message, "api")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Fiber.join(waiting), 1000)
      })))

    it.effect("inside a Timeout, delay mode never waits into the deadline: it rejects at once, uncharged", () =>
      withStore(Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay" })
        yield* limiter(Effect.void)
        const bounded = limiter(now).pipe(Timeout.make("700 millis"))
        const error = expectRejected(yield* Effect.either(bounded))
        assert.strictEqual(error.reason, "Deadline")
        assert.include(error.message, "deadline")
        // a deadline exactly at the slot is still too tight: the work would start as it fires
        expectRejected(yield* Effect.either(limiter(now).pipe(Timeout.make("1 second"))))
        // the rejections took nothing: the next call still gets the slot at 1 s
        const ok = yield* Effect.fork(limiter(now).pipe(Timeout.make("1001 millis")))
        yield* Effect.yieldNow()
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Fiber.join(ok), 1000)
      })))

    it.effect("a waiting call that is interrupted gives its tokens back (atomic store; a plain store keeps them)", () =>
      withStore(Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay" })
        yield* limiter(Effect.void) // t=0, bucket empty
        const ran = yield* Ref.make(false)
        const waiting = yield* Effect.fork(limiter(Ref.set(ran, true))) // reserved for t=1000
        yield* Effect.yieldNow()
        yield* TestClock.adjust("100 millis")
        yield* Fiber.interrupt(waiting)
        assert.isFalse(yield* Ref.get(ran))
        const next = yield* Effect.fork(limiter(now))
        yield* Effect.yieldNow()
        yield* TestClock.adjust("5 seconds")
        // the interrupted call's slot is reused instead of queueing behind it (t=2000); on a plain
        // store the slot is lost (and the wait is estimated from the call's own time, not the last refill)
        assert.strictEqual(yield* Fiber.join(next), variant.atomic ? 1000 : 2100)
      })))

    for (const algorithm of ["token-bucket", "fixed-window"] as const) {
      it.effect(`${algorithm}: a rejection reports the tokens left, and maxDelay only in delay mode`, () =>
        withStore(Effect.gen(function*() {
          const failing = yield* RateLimiter.make({ limit: 3, window: "3 seconds", algorithm, name: "left-fail" })
          yield* failing.execute(Effect.void, { key: "k" })
          const failed = expectRejected(yield* Effect.either(failing.execute(Effect.void, { key: "k", cost: 3 })))
          assert.strictEqual(failed.reason, "LimitExceeded")
          assert.strictEqual(failed.cost, 3)
          assert.strictEqual(failed.remaining, 2)
          assert.strictEqual(Duration.toMillis(failed.retryAfter), 1000)
          assert.isUndefined(failed.maxDelay)
          const delaying = yield* RateLimiter.make({
            limit: 3,
            window: "3 seconds",
            algorithm,
            onExceeded: "delay",
            maxDelay: "500 millis",
            name: "left-delay"
          })
          yield* delaying.execute(Effect.void, { key: "k" })
          const delayed = expectRejected(yield* Effect.either(delaying.execute(Effect.void, { key: "k", cost: 3 })))
          assert.strictEqual(delayed.reason, "MaxDelayExceeded")
          assert.strictEqual(delayed.remaining, 2)
          assert.isTrue(Duration.equals(delayed.maxDelay!, Duration.millis(500)))
        })))
    }

    it.effect("token-bucket: a wait of exactly maxDelay is admitted", () =>
      withStore(Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay", maxDelay: "1 second" })
        assert.deepStrictEqual(rights(yield* startTimes(3, limiter)), [0, 1000, -1])
      })))

    it.effect("fixed-window: a wait of exactly maxDelay is admitted, also once the counter has run a while", () =>
      withStore(Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({
          limit: 1,
          window: "1 second",
          algorithm: "fixed-window",
          onExceeded: "delay",
          maxDelay: "1500 millis"
        })
        yield* limiter(Effect.void) // t=0
        yield* TestClock.adjust("500 millis")
        // at t=500 the next two windows start in 500 ms and 1500 ms; the third in 2500 ms is too far
        assert.deepStrictEqual(rights(yield* startTimes(3, limiter)), [1000, 2000, -1])
      })))

    it.effect("a wait of exactly maxDelay that reaches the enclosing deadline is rejected for the deadline", () =>
      withStore(Effect.gen(function*() {
        const name = `deadline-reason ${variant.label}`
        const rejections = (reason: string) => counterValue("resilience_rate_limiter_rejected", { policy: name, reason })
        yield* TestClock.adjust("10 seconds")
        const limiter = yield* RateLimiter.make({
          limit: 1,
          window: "1 second",
          onExceeded: "delay",
          maxDelay: "1 second",
          name
        })
        yield* limiter(Effect.void)
        const error = expectRejected(yield* Effect.either(limiter(Effect.void).pipe(Timeout.make("1 second"))))
        assert.strictEqual(error.reason, "Deadline")
        assert.strictEqual(yield* rejections("Deadline"), 1)
        // a deadline far enough lets it wait (the bound is the deadline's distance from now, not the instant)
        const ok = yield* Effect.fork(limiter(now).pipe(Timeout.make("1500 millis")))
        yield* Effect.yieldNow()
        const tooFar = expectRejected(yield* Effect.either(limiter(Effect.void).pipe(Timeout.make("1 minute"))))
        assert.strictEqual(tooFar.reason, "MaxDelayExceeded")
        // a wait past maxDelay is maxDelay's rejection, even when a closer deadline would also reject it
        const both = expectRejected(yield* Effect.either(limiter(Effect.void).pipe(Timeout.make("500 millis"))))
        assert.strictEqual(both.reason, "MaxDelayExceeded")
        assert.strictEqual(yield* rejections("MaxDelayExceeded"), 2)
        assert.strictEqual(yield* rejections("Deadline"), 1)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Fiber.join(ok), 11_000)
      })))

    it.effect("execute: one limit per key, per-call cost, data-first and data-last", () =>
      withStore(Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 3, window: "1 second", name: "users" })
        yield* Effect.void.pipe(limiter.execute({ key: "alice", cost: 3 }))
        const error = expectRejected(yield* Effect.either(limiter.execute(Effect.void, { key: "alice" })))
        assert.strictEqual(error.key, "alice")
        assert.strictEqual(error.cost, 1)
        assert.include(error.message, "users[alice]")
        // other keys and the unkeyed limit are independent
        yield* limiter.execute(Effect.void, { key: "bob", cost: 2 })
        yield* limiter.execute(Effect.void, { key: "bob" })
        yield* limiter(Effect.void)
        const tooBig = yield* Effect.exit(limiter.execute(Effect.void, { key: "carol", cost: 4 }))
        assert.isTrue(Exit.isFailure(tooBig) && tooBig.cause._tag === "Die")
      })))
  })
}

describe("RateLimiter stores and sharing", () => {
  it.effect("limiters with the same name share a provided store's limit; different names do not", () =>
    Effect.gen(function*() {
      const a = yield* RateLimiter.make({ limit: 2, window: "1 second", name: "shared" })
      const b = yield* RateLimiter.make({ limit: 2, window: "1 second", name: "shared" })
      const c = yield* RateLimiter.make({ limit: 2, window: "1 second", name: "other" })
      yield* a(Effect.void)
      yield* b(Effect.void)
      expectRejected(yield* Effect.either(a(Effect.void)))
      yield* c(Effect.void)
      yield* c(Effect.void)
    }).pipe(Effect.scoped, Effect.provide(RateLimiter.layerStoreMemory())))

  it.scoped("without a provided store each limiter has a private one", () =>
    Effect.gen(function*() {
      const a = yield* RateLimiter.make({ limit: 1, window: "1 second" })
      const b = yield* RateLimiter.make({ limit: 1, window: "1 second" })
      yield* a(Effect.void)
      yield* b(Effect.void)
      expectRejected(yield* Effect.either(a(Effect.void)))
    }))

  it.effect("experimental's RateLimiterStore provided without the adapter is used, never ignored", () =>
    Effect.gen(function*() {
      const a = yield* RateLimiter.make({ limit: 1, window: "1 second", name: "theirs" })
      const b = yield* RateLimiter.make({ limit: 1, window: "1 second", name: "theirs" })
      assert.strictEqual(Policy.describe(a).options.store, "plain")
      yield* a(Effect.void)
      // the same provided store (not a private one): same name, same limit
      expectRejected(yield* Effect.either(b(Effect.void)))
      // and it is experimental's: its bucket for the limiter's key is empty
      const theirs = yield* RateLimiterExperimental.RateLimiterStore
      const left = yield* theirs.tokenBucket({
        key: "6:theirs",
        tokens: 1,
        limit: 1,
        refillRate: Duration.seconds(1),
        allowOverflow: false
      })
      assert.strictEqual(left, -1)
    }).pipe(Effect.scoped, Effect.provide(RateLimiterExperimental.layerStoreMemory)))

  it.effect("layerStoreExperimental provides experimental's store as ours", () =>
    Effect.gen(function*() {
      const theirs = yield* RateLimiterExperimental.RateLimiterStore
      const ours = yield* RateLimiter.RateLimiterStore
      assert.strictEqual(ours, theirs)
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second" })
      assert.strictEqual(Policy.describe(limiter).options.store, "plain")
      yield* limiter(Effect.void)
      expectRejected(yield* Effect.either(limiter(Effect.void)))
    }).pipe(
      Effect.scoped,
      Effect.provide(RateLimiter.layerStoreExperimental.pipe(Layer.provideMerge(RateLimiterExperimental.layerStoreMemory)))
    ))

  it.effect("a store of ours takes precedence over experimental's when both are provided", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second", name: "both" })
      assert.strictEqual(Policy.describe(limiter).options.store, "atomic")
      yield* limiter(Effect.void)
      expectRejected(yield* Effect.either(limiter(Effect.void)))
    }).pipe(
      Effect.scoped,
      Effect.provide(RateLimiter.layerStoreMemory()),
      // experimental's store, never to be asked
      Effect.provide(Layer.succeed(RateLimiterExperimental.RateLimiterStore, {
        tokenBucket: () => Effect.die("experimental's store was asked"),
        fixedWindow: () => Effect.die("experimental's store was asked")
      }))
    ))

  it.effect("the store reference's default value, read directly, is a memory store", () =>
    Effect.gen(function*() {
      const store = yield* RateLimiter.RateLimiterStore
      assert.isTrue(RateLimiter.isAtomicStore(store))
      assert.isTrue(Predicate.hasProperty(store, RateLimiter.MemoryStoreTypeId))
      const memory = store as RateLimiter.MemoryStore
      assert.strictEqual((yield* memory.stats()).maxKeys, 100_000)
    }))

  it.scoped("readers: stats, size are Effects; unsafeStats, unsafeSize their synchronous twins", () =>
    Effect.gen(function*() {
      const store = yield* RateLimiter.makeStoreMemory({ maxKeys: 10 })
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second" }).pipe(
        Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
      )
      yield* limiter(Effect.void)
      yield* Effect.either(limiter(Effect.void))
      assert.deepStrictEqual(yield* limiter.stats(), { permitted: 1, delayed: 0, rejected: 1, storeErrors: 0 })
      assert.deepStrictEqual(yield* limiter.stats(), limiter.unsafeStats())
      assert.deepStrictEqual(yield* store.stats(), { keys: 1, maxKeys: 10, expired: 0, evicted: 0 })
      assert.deepStrictEqual(yield* store.stats(), store.unsafeStats())
      assert.strictEqual(yield* store.size(), 1)
      assert.strictEqual(store.unsafeSize(), 1)
    }))

  it.scoped("isRateLimiter: true for limiters only; a limiter carries its TypeId", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second" })
      assert.isTrue(RateLimiter.isRateLimiter(limiter))
      assert.strictEqual(limiter[RateLimiter.TypeId], RateLimiter.TypeId)
      assert.isFalse(RateLimiter.isRateLimiter(Timeout.make("1 second")))
      assert.isFalse(RateLimiter.isRateLimiter({ [RateLimiter.TypeId]: RateLimiter.TypeId }))
      assert.isFalse(RateLimiter.isRateLimiter(undefined))
    }))

  it.scoped("execute is dual: data-first and data-last", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 2, window: "1 second" })
      assert.strictEqual(yield* limiter.execute(Effect.succeed(1), { key: "k" }), 1)
      assert.strictEqual(yield* Effect.succeed(2).pipe(limiter.execute({ key: "k" })), 2)
      expectRejected(yield* Effect.either(limiter.execute(Effect.succeed(3), { key: "k" })))
    }))
})

describe("RateLimiter observability and errors", () => {
  it.scoped("events: Permitted, Delayed, Rejected, in order", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({
        limit: 1,
        window: "1 second",
        onExceeded: "delay",
        maxDelay: "1 second",
        name: "ev"
      })
      const collected = yield* limiter.events.pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      yield* settle
      yield* limiter.execute(Effect.void, { key: "k" })
      const waiting = yield* Effect.fork(limiter.execute(Effect.void, { key: "k" }))
      yield* Effect.yieldNow()
      yield* Effect.either(limiter.execute(Effect.void, { key: "k" }))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(waiting)
      const events = Chunk.toReadonlyArray(yield* Fiber.join(collected))
      assert.deepStrictEqual(events.map((e) => e._tag), ["Permitted", "Delayed", "Rejected"])
      assert.deepStrictEqual(events[0], { _tag: "Permitted", policy: "ev", key: "k", cost: 1 })
      const delayed = events[1]!
      assert.isTrue(delayed._tag === "Delayed" && Duration.toMillis(delayed.delay) === 1000)
      const rejected = events[2]!
      assert.isTrue(
        rejected._tag === "Rejected" && rejected.reason === "MaxDelayExceeded" &&
          Duration.toMillis(rejected.retryAfter) === 1000
      )
      assert.deepStrictEqual(limiter.unsafeStats(), { permitted: 1, delayed: 1, rejected: 1, storeErrors: 0 })
    }))

  it.scoped("metrics: rejections by reason and delays, labelled with the limiter's name", () =>
    Effect.gen(function*() {
      const name = "metrics-test-limiter"
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second", name })
      yield* limiter(Effect.void)
      yield* Effect.either(limiter(Effect.void))
      yield* Effect.either(limiter(Effect.void))
      assert.strictEqual(
        yield* counterValue("resilience_rate_limiter_rejected", { policy: name, reason: "LimitExceeded" }),
        2
      )
      const delayedName = "metrics-test-delay"
      const delaying = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay", name: delayedName })
      yield* delaying(Effect.void)
      const f = yield* Effect.fork(delaying(Effect.void))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(f)
      assert.strictEqual(yield* counterValue("resilience_rate_limiter_delayed", { policy: delayedName }), 1)
    }))

  it.effect("metrics: calls run at once are published in batches, at most once per metricsInterval, and when the scope closes", () =>
    Effect.gen(function*() {
      const name = "metrics-test-permitted"
      const permitted = counterValue("resilience_rate_limiter_permitted", { policy: name })
      const scope = yield* Scope.make()
      const limiter = yield* RateLimiter.make({ limit: 100, window: "1 second", name, metricsInterval: "10 seconds" }).pipe(
        Scope.extend(scope)
      )
      for (let i = 0; i < 7; i++) yield* limiter(Effect.void)
      assert.strictEqual(yield* permitted, 0) // the success path only counts
      yield* TestClock.adjust("10 seconds")
      yield* limiter(Effect.void) // the first call after the interval publishes
      assert.strictEqual(yield* permitted, 8)
      yield* limiter(Effect.void)
      yield* limiter(Effect.void)
      assert.strictEqual(yield* permitted, 8)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* permitted, 10)
    }))

  it.scoped("the rejection is a library rejection with retryAfter, built without a stack trace", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 1, window: "2 seconds" })
      yield* limiter(Effect.void)
      const error = expectRejected(yield* Effect.either(limiter(Effect.void)))
      assert.isTrue(Errors.isRejection(error))
      assert.isTrue(Errors.isResilienceError(error))
      assert.deepStrictEqual(Errors.retryAfterOf(error), Option.some(Duration.seconds(2)))
      assert.notInclude(error.stack ?? "", "\n    at ")
      assert.strictEqual(error.message, "Rate limit of rate-limiter exceeded (1 per 2s): retry after 2s")
      assert.isFalse(RateLimiter.isRateLimitExceededError(new Error("x")))
      assert.isFalse(Retry.isTransient(error))
    }))

  const failingStore = Layer.succeed(RateLimiterExperimental.RateLimiterStore, {
    fixedWindow: () => Effect.fail(new RateLimiterExperimental.RateLimitStoreError({ message: "connection refused" })),
    tokenBucket: () => Effect.fail(new RateLimiterExperimental.RateLimitStoreError({ message: "connection refused" }))
  })

  it.effect("a failing store rejects the call with RateLimiterStoreError by default (fail closed)", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 5, window: "1 second", name: "redis-backed" })
      const ran = yield* Ref.make(false)
      const error = yield* Effect.flip(limiter(Ref.set(ran, true)))
      assert.strictEqual(error._tag, "RateLimiterStoreError")
      assert.isTrue(Errors.isRejection(error))
      assert.include(error.message, "connection refused")
      assert.isFalse(yield* Ref.get(ran))
      assert.strictEqual(limiter.unsafeStats().storeErrors, 1)
      assert.strictEqual(yield* counterValue("resilience_rate_limiter_store_errors", { policy: "redis-backed" }), 1)
      assert.strictEqual(Policy.describe(limiter).options.store, "plain")
    }).pipe(Effect.scoped, Effect.provide(failingStore)))

  it.effect("onStoreError: \"allow\" lets the call through (fail open) and reports it", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({
        limit: 5,
        window: "1 second",
        onExceeded: "delay",
        maxDelay: "1 second",
        onStoreError: "allow"
      })
      const events = yield* limiter.events.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* settle
      assert.strictEqual(yield* limiter.execute(Effect.succeed("ran"), { key: "k" }), "ran")
      const [event] = Chunk.toReadonlyArray(yield* Fiber.join(events))
      assert.isTrue(event?._tag === "StoreError" && event.allowed && event.key === "k")
    }).pipe(Effect.scoped, Effect.provide(failingStore)))
})

describe("RateLimiter composition", () => {
  it.scoped("Retry does not retry a rate-limit rejection by default (it is a rejection)", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second" })
      const retry = Retry.policy({ schedule: Retry.constant("10 millis"), times: 3 })
      const calls = yield* Ref.make(0)
      const call = Ref.update(calls, (n) => n + 1)
      yield* call.pipe(limiter, retry)
      const error = expectRejected(yield* Effect.either(call.pipe(limiter, retry)))
      assert.strictEqual(error.reason, "LimitExceeded")
      assert.strictEqual(yield* Ref.get(calls), 1)
      assert.strictEqual((yield* retry.stats()).retries, 0)
      assert.strictEqual((yield* retry.stats()).gaveUp, 1)
    }))

  it.scoped("with Retry's retryRejections opt-in, the rejection's retryAfter sets the next retry's delay exactly", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 2, window: "1 second" }) // one token every 500 ms
      const retry = Retry.policy({
        schedule: Retry.constant("10 millis"),
        times: 3,
        retryRejections: RateLimiter.isRateLimitExceededError
      })
      const delays = yield* retry.events.pipe(
        Stream.filter((e) => e._tag === "RetryScheduled"),
        Stream.map((e) => (e._tag === "RetryScheduled" ? Duration.toMillis(e.delay) : -1)),
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      yield* settle
      yield* limiter(Effect.void)
      yield* TestClock.adjust("200 millis")
      yield* limiter(Effect.void) // the bucket is empty; the next token comes at t=500
      const fiber = yield* Effect.fork(limiter(now).pipe(retry))
      yield* settle
      yield* TestClock.adjust("300 millis")
      // rejected at t=200 with retryAfter 300 ms (not the 10 ms backoff), admitted at t=500
      assert.strictEqual(yield* Fiber.join(fiber), 500)
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(delays)), [300])
    }))

  it.scoped("a circuit breaker around the limiter never counts its rejections as failures of the dependency", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 minute" })
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 minute" })
      yield* Effect.void.pipe(limiter, breaker)
      for (let i = 0; i < 5; i++) {
        const error = yield* Effect.flip(Effect.void.pipe(limiter, breaker))
        assert.strictEqual(error._tag, "RateLimitExceededError")
      }
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
    }))

  it.scoped("in delay mode retries of failed calls pass through the limiter and wait exactly for their slot", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay" })
      const retry = Retry.policy({ schedule: Retry.constant("10 millis"), times: 3 })
      const attempts = yield* Ref.make<ReadonlyArray<number>>([])
      const flaky = Effect.gen(function*() {
        const t = yield* now
        const seen = yield* Ref.updateAndGet(attempts, (ts) => [...ts, t])
        if (seen.length < 3) return yield* Effect.fail("unavailable" as const)
        return "ok"
      })
      const fiber = yield* Effect.fork(flaky.pipe(limiter, retry))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      // each retry (after 10 ms of backoff) waits for the next token: one attempt per second
      assert.deepStrictEqual(yield* Ref.get(attempts), [0, 1000, 2000])
    }))

  it.scoped("Timeout outside a delayed call bounds the wait and the work together", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay" })
      yield* limiter(Effect.void)
      const fiber = yield* Effect.fork(
        Effect.either(limiter(Effect.sleep("1500 millis")).pipe(Timeout.make("2 seconds")))
      )
      yield* Effect.yieldNow()
      yield* TestClock.adjust("2 seconds")
      const result = yield* Fiber.join(fiber)
      assert.isTrue(Either.isLeft(result) && result.left._tag === "TimeoutError")
    }))
})

describe("RateLimiter layers", () => {
  class ApiLimiter extends Context.Tag("test/ApiLimiter")<ApiLimiter, RateLimiter.RateLimiter>() {}

  it.effect("layer provides a limiter under a Tag, usable through Policy.fromTag", () =>
    Effect.gen(function*() {
      const limit = Policy.fromTag(ApiLimiter)
      yield* Effect.void.pipe(limit)
      const error = yield* Effect.flip(Effect.void.pipe(limit))
      assert.strictEqual(error._tag, "RateLimitExceededError")
      const limiter = yield* ApiLimiter
      assert.strictEqual(limiter.policyName, "api")
    }).pipe(Effect.provide(RateLimiter.layer(ApiLimiter, { limit: 1, window: "1 second", name: "api" }))))

  it.effect("layer fails with InvalidOptionsError for invalid options", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(RateLimiter.layer(ApiLimiter, { limit: -1, window: "1 second" })))
      assert.strictEqual(error._tag, "InvalidOptionsError")
    }).pipe(Effect.scoped))

  const fromConfig = RateLimiter.layerConfig(ApiLimiter, {
    limit: Config.integer("LIMIT"),
    window: Config.duration("WINDOW"),
    algorithm: Config.literal("token-bucket", "fixed-window")("ALGORITHM").pipe(
      Config.withDefault("token-bucket" as const)
    ),
    name: Config.string("NAME").pipe(Config.withDefault("from-config"))
  })
  const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromJson(env))

  it.effect("layerConfig reads the options from Config", () =>
    Effect.gen(function*() {
      const limiter = yield* ApiLimiter
      assert.strictEqual(limiter.options.limit, 2)
      assert.strictEqual(limiter.options.algorithm, "fixed-window")
      assert.isTrue(Duration.equals(limiter.options.window, Duration.seconds(10)))
      assert.strictEqual(limiter.policyName, "from-config")
    }).pipe(
      Effect.provide(fromConfig),
      withEnv({ LIMIT: "2", WINDOW: "10 seconds", ALGORITHM: "fixed-window" })
    ))

  it.effect("layerConfig: invalid values fail with InvalidOptionsError, missing ones with ConfigError", () =>
    Effect.gen(function*() {
      const invalid = yield* Effect.flip(Layer.build(fromConfig).pipe(withEnv({ LIMIT: "0", WINDOW: "1 second" })))
      assert.strictEqual(invalid._tag, "InvalidOptionsError")
      const missing = yield* Effect.flip(Layer.build(fromConfig).pipe(withEnv({ LIMIT: "3" })))
      assert.notStrictEqual(missing._tag, "InvalidOptionsError")
    }).pipe(Effect.scoped))
})

/** One arrival of a property-test run: after `gap` ms, a call of `cost` tokens (interrupted at the next arrival when `cancel`). */
interface Arrival {
  readonly gap: number
  readonly cost: number
  readonly cancel?: boolean
}

/**
 * Plays `arrivals` against `limiter` under the TestClock, each call forked at its arrival time;
 * returns each call's start time (`undefined` when rejected).
 */
const play = (limiter: RateLimiter.RateLimiter, arrivals: ReadonlyArray<Arrival>) =>
  Effect.gen(function*() {
    const t0 = yield* now
    const fibers: Array<Fiber.RuntimeFiber<Either.Either<number, unknown>>> = []
    let toCancel: Fiber.RuntimeFiber<Either.Either<number, unknown>> | undefined
    for (const arrival of arrivals) {
      if (arrival.gap > 0) yield* TestClock.adjust(Duration.millis(arrival.gap))
      if (toCancel !== undefined) yield* Fiber.interrupt(toCancel)
      const fiber = yield* Effect.fork(Effect.either(limiter.execute(now, { key: "k", cost: arrival.cost })))
      fibers.push(fiber)
      toCancel = arrival.cancel === true ? fiber : undefined
      yield* Effect.yieldNow()
    }
    yield* TestClock.adjust("1 day")
    return yield* Effect.forEach(fibers, (f) =>
      Effect.map(Fiber.await(f), (exit) =>
        Exit.isSuccess(exit) && Either.isRight(exit.value) ? exit.value.right - t0 : undefined))
  })

const scenario = fc
  .record({
    limit: fc.integer({ min: 1, max: 5 }),
    refill: fc.constantFrom(10, 20, 50, 100),
    algorithm: fc.constantFrom("token-bucket" as const, "fixed-window" as const),
    mode: fc.constantFrom("fail" as const, "delay" as const, "delay-bounded" as const),
    maxDelayWindows: fc.double({ min: 0, max: 4, noNaN: true }),
    atomic: fc.boolean(),
    arrivals: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 300 }), cost: fc.integer({ min: 1, max: 5 }) }), {
      minLength: 1,
      maxLength: 30
    })
  })
  .map((s) => ({ ...s, arrivals: s.arrivals.map((a) => ({ gap: a.gap, cost: Math.min(a.cost, s.limit) })) }))

/** The same, with some waiting calls interrupted (their slots given back by the atomic store). */
const scenarioWithCancellations = fc
  .tuple(scenario, fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }))
  .map(([s, cancels]) => ({ ...s, arrivals: s.arrivals.map((a, i) => ({ ...a, cancel: cancels[i]! && i % 3 === 0 })) }))

type Scenario = typeof scenario extends fc.Arbitrary<infer A> ? A : never

const limiterFor = (s: Scenario) =>
  RateLimiter.make({
    limit: s.limit,
    window: Duration.millis(s.limit * s.refill),
    algorithm: s.algorithm,
    onExceeded: s.mode === "fail" ? "fail" : "delay",
    ...(s.mode === "delay-bounded" ? { maxDelay: Duration.millis(s.maxDelayWindows * s.limit * s.refill) } : {})
  }).pipe(
    Effect.provide<never, Errors.InvalidOptionsError, never>(
      s.atomic ? RateLimiter.layerStoreMemory() : RateLimiterExperimental.layerStoreMemory
    )
  )

describe("RateLimiter properties", () => {
  it.effect.prop(
    "never admits more than limit plus what refills: over any interval of length T, at most limit + ceil(T / (window / limit)) tokens start (so at most 2·limit per window, and limit at any instant), interruptions included",
    [scenarioWithCancellations],
    ([s]) =>
      Effect.gen(function*() {
        const limiter = yield* limiterFor(s)
        const starts = yield* play(limiter, s.arrivals)
        const admitted = starts
          .map((t, i) => ({ t, cost: s.arrivals[i]!.cost }))
          .filter((x): x is { t: number; cost: number } => x.t !== undefined)
          .sort((a, b) => a.t - b.t)
        for (let i = 0; i < admitted.length; i++) {
          let tokens = 0
          for (let j = i; j < admitted.length; j++) {
            tokens += admitted[j]!.cost
            const span = admitted[j]!.t - admitted[i]!.t
            // experimental's stores let a fixed-window call of several tokens straddle two windows
            const straddle = !s.atomic && s.algorithm === "fixed-window" && s.mode !== "fail"
              ? Math.max(...s.arrivals.map((a) => a.cost)) - 1
              : 0
            const bound = s.limit + Math.ceil(span / s.refill - 1e-9) + straddle
            assert.isAtMost(tokens, bound, `${tokens} tokens started within ${span} ms (bound ${bound})`)
          }
        }
        // and in "fail" mode nothing waits
        if (s.mode === "fail") {
          let t = 0
          starts.forEach((start, i) => {
            t += s.arrivals[i]!.gap
            if (start !== undefined) assert.strictEqual(start, t)
          })
        }
      }).pipe(Effect.scoped),
    { fastCheck: { numRuns: numRuns(100) } }
  )

  it.effect.prop(
    "a rejected call never charges: replaying only the admitted calls gives each the same start time",
    [scenario],
    ([s]) =>
      Effect.gen(function*() {
        const all = yield* play(yield* limiterFor(s), s.arrivals)
        // the admitted calls alone, at the same times (gaps of rejected calls carried over)
        const replay: Array<Arrival> = []
        let carried = 0
        s.arrivals.forEach((a, i) => {
          carried += a.gap
          if (all[i] !== undefined) {
            replay.push({ gap: carried, cost: a.cost })
            carried = 0
          }
        })
        const alone = yield* play(yield* limiterFor(s), replay)
        assert.deepStrictEqual(alone, all.filter((t) => t !== undefined))
      }).pipe(Effect.scoped),
    { fastCheck: { numRuns: numRuns(100) } }
  )

  it.effect.prop(
    "our memory store gives experimental's memory store's results for the same calls",
    [
      fc.array(
        fc.record({
          gap: fc.integer({ min: 0, max: 120 }),
          key: fc.constantFrom("a", "b"),
          op: fc.constantFrom("tokenBucket", "fixedWindow"),
          tokens: fc.integer({ min: -2, max: 4 }),
          overflow: fc.boolean(),
          capped: fc.boolean()
        }),
        { minLength: 1, maxLength: 60 }
      )
    ],
    ([ops]) =>
      Effect.gen(function*() {
        const ours = yield* RateLimiter.makeStoreMemory()
        const theirs = yield* Effect.provide(RateLimiterExperimental.RateLimiterStore, RateLimiterExperimental.layerStoreMemory)
        const refillRate = Duration.millis(25)
        for (const op of ops) {
          if (op.gap > 0) yield* TestClock.adjust(Duration.millis(op.gap))
          if (op.op === "tokenBucket") {
            if (op.tokens < 0 && !op.overflow) continue
            const options = { key: op.key, tokens: op.tokens, limit: 3, refillRate, allowOverflow: op.overflow }
            assert.strictEqual(yield* ours.tokenBucket(options), yield* theirs.tokenBucket(options))
          } else {
            if (op.tokens <= 0) continue
            const options = { key: op.key, tokens: op.tokens, refillRate, limit: op.capped ? 3 : undefined }
            assert.deepStrictEqual(yield* ours.fixedWindow(options), yield* theirs.fixedWindow(options))
          }
        }
      }).pipe(Effect.scoped),
    { fastCheck: { numRuns: numRuns(100) } }
  )
})

describe("RateLimiter memory store", () => {
  const limiterOn = (store: RateLimiter.MemoryStore, options: RateLimiter.RateLimiter.Options) =>
    RateLimiter.make(options).pipe(Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store)))

  for (const algorithm of ["token-bucket", "fixed-window"] as const) {
    it.scoped(`forgets idle keys: 100,000 per-call keys (${algorithm}) are swept once idle`, () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.makeStoreMemory({ sweepInterval: "1 minute" })
        const limiter = yield* limiterOn(store, { limit: 5, window: "10 seconds", algorithm })
        for (let i = 0; i < 100_000; i++) yield* limiter.execute(Effect.void, { key: `request-${i}` })
        assert.strictEqual(store.unsafeSize(), 100_000)
        // idle after 2 s (one token refilled / the counter expired), swept at the next sweep
        yield* TestClock.adjust("59 seconds")
        assert.strictEqual(store.unsafeSize(), 100_000)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(store.unsafeSize(), 0)
        assert.deepStrictEqual(store.unsafeStats(), { keys: 0, maxKeys: 100_000, expired: 100_000, evicted: 0 })
      }))
  }

  it.scoped("keys that are still limiting are not swept", () =>
    Effect.gen(function*() {
      const store = yield* RateLimiter.makeStoreMemory({ sweepInterval: "1 second" })
      const limiter = yield* limiterOn(store, { limit: 2, window: "1 minute" })
      yield* limiter.execute(Effect.void, { key: "busy", cost: 2 })
      yield* limiter.execute(Effect.void, { key: "light" })
      yield* TestClock.adjust("31 seconds") // "light" refilled; "busy" still short of one token
      assert.strictEqual(store.unsafeSize(), 1)
      expectRejected(yield* Effect.either(limiter.execute(Effect.void, { key: "busy", cost: 2 })))
      assert.strictEqual(yield* store.sweep, 0)
    }))

  it.scoped("memory stays bounded by maxKeys with per-call keys; idle keys make room first", () =>
    Effect.gen(function*() {
      const store = yield* RateLimiter.makeStoreMemory({ maxKeys: 1_000, sweepInterval: Duration.infinity })
      const limiter = yield* limiterOn(store, { limit: 5, window: "1 second" })
      for (let i = 0; i < 1_000; i++) yield* limiter.execute(Effect.void, { key: `a-${i}` })
      yield* TestClock.adjust("1 second") // all idle now
      for (let i = 0; i < 1_000; i++) yield* limiter.execute(Effect.void, { key: `b-${i}` })
      assert.deepStrictEqual(store.unsafeStats(), { keys: 1_000, maxKeys: 1_000, expired: 1_000, evicted: 0 })
      // 10,000 more live keys at once: the oldest live keys are evicted (and counted)
      for (let i = 0; i < 10_000; i++) yield* limiter.execute(Effect.void, { key: `c-${i}` })
      assert.strictEqual(store.unsafeSize(), 1_000)
      assert.strictEqual(store.unsafeStats().evicted, 10_000)
    }))

  it.scoped("a recently used key gets a second chance over an untouched one when room is needed", () =>
    Effect.gen(function*() {
      const store = yield* RateLimiter.makeStoreMemory({ maxKeys: 3, sweepInterval: Duration.infinity })
      const limiter = yield* limiterOn(store, { limit: 1, window: "1 minute" })
      yield* limiter.execute(Effect.void, { key: "a" })
      yield* limiter.execute(Effect.void, { key: "b" })
      yield* limiter.execute(Effect.void, { key: "c" })
      // a new key: every key has been used since it was inserted, so each gets a second chance in turn, and "a" goes
      yield* limiter.execute(Effect.void, { key: "d" })
      // "b" is used again; the next new key evicts "c", not "b"
      yield* Effect.either(limiter.execute(Effect.void, { key: "b" }))
      yield* limiter.execute(Effect.void, { key: "e" })
      expectRejected(yield* Effect.either(limiter.execute(Effect.void, { key: "b" })))
      assert.strictEqual(store.unsafeSize(), 3)
    }))
})

describe("RateLimiter types", () => {
  class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
  class Db extends Context.Tag("test/Db")<Db, { readonly query: Effect.Effect<number> }>() {}
  type Rejections = RateLimiter.RateLimitExceededError | RateLimiter.RateLimiterStoreError

  it.scoped("keeps the effect's success, errors and requirements and adds its own errors", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second" })
      const call: Effect.Effect<number, Unavailable, Db> = Effect.flatMap(Db, (db) => db.query).pipe(
        Effect.zipRight(Effect.fail(new Unavailable()))
      )
      expectTypeOf(limiter(call)).toEqualTypeOf<Effect.Effect<number, Unavailable | Rejections, Db>>()
      expectTypeOf(call.pipe(limiter)).toEqualTypeOf<Effect.Effect<number, Unavailable | Rejections, Db>>()
      // a keyed call may also refuse its key
      expectTypeOf(call.pipe(limiter.execute({ key: "k" }))).toEqualTypeOf<
        Effect.Effect<number, Unavailable | Rejections | Errors.InvalidKeyError, Db>
      >()
      expectTypeOf(limiter.execute(call, { key: "k", cost: 2 })).toEqualTypeOf<
        Effect.Effect<number, Unavailable | Rejections | Errors.InvalidKeyError, Db>
      >()
      expectTypeOf<Policy.Policy.Error<typeof limiter>>().toEqualTypeOf<Rejections>()
      expectTypeOf(Policy.compose(limiter, Timeout.make("1 second"))(call)).toEqualTypeOf<
        Effect.Effect<number, Unavailable | Rejections | Timeout.TimeoutError, Db>
      >()
      expectTypeOf(RateLimiter.make).returns.toEqualTypeOf<
        Effect.Effect<RateLimiter.RateLimiter, Errors.InvalidOptionsError, Scope.Scope>
      >()
      expectTypeOf(RateLimiter.layerStoreMemory()).toEqualTypeOf<
        Layer.Layer<RateLimiter.RateLimiterStore, Errors.InvalidOptionsError>
      >()
      expectTypeOf(RateLimiter.layerStoreExperimental).toEqualTypeOf<
        Layer.Layer<RateLimiter.RateLimiterStore, never, RateLimiterExperimental.RateLimiterStore>
      >()
      expectTypeOf(limiter.stats()).toEqualTypeOf<Effect.Effect<RateLimiter.RateLimiter.Stats>>()
      // @ts-expect-error: the options are required
      RateLimiter.make({ limit: 1 })
      // @ts-expect-error: not an algorithm
      RateLimiter.make({ limit: 1, window: "1 second", algorithm: "sliding" })
    }))
})

describe("Queue-based load leveling: the limiter's delay mode in front of a bulkhead", () => {
  /**
   * The recipe (docs/RateLimiter.md): `Policy.compose(limiter, bulkhead)`. The limiter in "delay" mode is
   * the queue: a burst is admitted at a steady rate, each call reserving its slot, and what would wait
   * longer than `maxDelay` is rejected at once, uncharged, with `retryAfter`; so at most
   * `limit + maxDelay / (window / limit)` calls wait. The bulkhead bounds the calls running at once
   * and queues a few when the dependency slows down, rejecting the rest.
   */
  const leveled = Effect.gen(function*() {
    const limiter = yield* RateLimiter.make({
      limit: 5,
      window: "500 millis", // a burst of 5, then one call every 100 ms
      onExceeded: "delay",
      maxDelay: "2 seconds",
      name: "ingest"
    })
    const bulkhead = yield* Bulkhead.make({ maxConcurrent: 5, maxQueue: 3, name: "ingest" })
    return { limiter, bulkhead, policy: Policy.compose(limiter, bulkhead) }
  })

  /**
   * Fires `n` calls at once through `policy`; records when each call's work starts, how many run at
   * once, and how many calls are still in flight once the burst has been sorted out (before any time passes).
   */
  const burst = <E>(
    n: number,
    policy: (self: Effect.Effect<void>) => Effect.Effect<void, E>,
    work: Duration.DurationInput
  ) =>
    Effect.gen(function*() {
      let running = 0
      let maxRunning = 0
      const starts: Array<number> = []
      const job = Effect.gen(function*() {
        running++
        maxRunning = Math.max(maxRunning, running)
        starts.push(yield* now)
        yield* Effect.sleep(work)
        running--
      })
      const fibers = yield* Effect.forEach(Array.from({ length: n }), () => Effect.fork(Effect.either(policy(job))))
      // let every call reach its decision (run, wait for its slot, queue, or be rejected) before time moves
      yield* Effect.repeatN(Effect.yieldNow(), 10 * n)
      const inFlight = (yield* Effect.forEach(fibers, Fiber.poll)).filter(Option.isNone).length
      yield* TestClock.adjust("1 minute")
      const results = yield* Effect.forEach(fibers, Fiber.join)
      return { results, starts, maxRunning, inFlight }
    })

  it.scoped("a burst of 100 drains at the steady rate; what would wait more than maxDelay is rejected at once", () =>
    Effect.gen(function*() {
      const { limiter, policy } = yield* leveled
      const { inFlight, maxRunning, results, starts } = yield* burst(100, policy, "50 millis")
      const ok = results.filter(Either.isRight).length
      const rejected = results.filter(Either.isLeft).map((r) => r.left)
      // the burst of 5, then one slot every 100 ms for 2 s
      assert.strictEqual(ok, 25)
      assert.deepStrictEqual(starts, [0, 0, 0, 0, 0, ...Array.from({ length: 20 }, (_, i) => (i + 1) * 100)])
      assert.strictEqual(rejected.length, 75)
      for (const error of rejected) {
        assert.isTrue(RateLimiter.isRateLimitExceededError(error) && error.reason === "MaxDelayExceeded")
      }
      // bounded memory: of the 100 calls, only the 25 admitted ones stay (5 running, 20 waiting for their slot)
      assert.strictEqual(inFlight, 25)
      assert.isAtMost(maxRunning, 5)
      assert.deepStrictEqual(limiter.unsafeStats(), { permitted: 5, delayed: 20, rejected: 75, storeErrors: 0 })
      // the rejected calls took nothing: right after the drain, the bucket is where 25 calls left it
      const next = yield* Effect.fork(limiter(now))
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(next), 60_000)
    }))

  it.scoped("when the dependency slows down, the bulkhead bounds what runs and queues, and sheds the rest", () =>
    Effect.gen(function*() {
      const { bulkhead, policy } = yield* leveled
      // each call takes 1 s: the limiter releases 10 calls per second, the bulkhead holds 5 running + 3 queued
      const { maxRunning, results } = yield* burst(100, policy, "1 second")
      const errors = results.filter(Either.isLeft).map((r) => r.left)
      const full = errors.filter((e) => e._tag === "BulkheadFullError")
      assert.isTrue(full.every((e) => e._tag === "BulkheadFullError" && e.reason === "QueueFull"))
      const limited = errors.filter(RateLimiter.isRateLimitExceededError)
      assert.strictEqual(maxRunning, 5)
      assert.strictEqual(limited.length, 75)
      assert.isAbove(full.length, 0)
      assert.strictEqual(results.filter(Either.isRight).length + full.length, 25)
      assert.deepStrictEqual(bulkhead.unsafeStats(), { active: 0, queued: 0, maxConcurrent: 5, maxQueue: 3 })
    }))
})

describe("RateLimiter error messages", () => {
  it("a MaxDelayExceeded rejection names the key and maxDelay; without maxDelay it leaves it blank", () => {
    const args = {
      policy: "api",
      reason: "MaxDelayExceeded" as const,
      retryAfter: Duration.millis(500),
      limit: 1,
      window: Duration.seconds(1),
      cost: 1,
      remaining: 0
    }
    assert.strictEqual(
      RateLimiter.RateLimitExceededError.make({ ...args, key: "k", maxDelay: Duration.millis(1500) }).message,
      "Rate limit of api[k] exceeded (1 per 1s): the wait would exceed maxDelay 1s 500ms, retry after 500ms"
    )
    assert.strictEqual(
      RateLimiter.RateLimitExceededError.make(args).message,
      "Rate limit of api exceeded (1 per 1s): the wait would exceed maxDelay , retry after 500ms"
    )
    assert.strictEqual(
      RateLimiter.RateLimitExceededError.make({ ...args, reason: "Deadline" }).message,
      "Rate limit of api exceeded (1 per 1s): the wait would outlast the enclosing deadline, retry after 500ms"
    )
  })

  it("a store error names the key and the cause's message (or the cause itself)", () => {
    assert.strictEqual(
      new RateLimiter.RateLimiterStoreError({ policy: "api", key: "k", cause: new Error("ECONNREFUSED") }).message,
      "Rate limiter api[k]: store failed: ECONNREFUSED"
    )
    assert.strictEqual(
      new RateLimiter.RateLimiterStoreError({ policy: "api", cause: "timeout" }).message,
      "Rate limiter api: store failed: timeout"
    )
  })
})

describe("RateLimiter options and costs", () => {
  it.scoped("options that are not an object are rejected with InvalidOptionsError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(RateLimiter.make(null as any))
      assert.strictEqual(error._tag, "InvalidOptionsError")
      assert.strictEqual(error.option, "options")
      assert.strictEqual(error.module, "RateLimiter.make")
    }))

  it.effect("metricsInterval may be infinite: the permitted count is published only when the scope closes", () =>
    Effect.gen(function*() {
      const name = "metrics-test-infinite-interval"
      const permitted = counterValue("resilience_rate_limiter_permitted", { policy: name })
      const scope = yield* Scope.make()
      const limiter = yield* RateLimiter.make({
        limit: 100,
        window: "1 second",
        name,
        metricsInterval: Duration.infinity
      }).pipe(Scope.extend(scope))
      assert.isTrue(Duration.equals(limiter.options.metricsInterval, Duration.infinity))
      yield* limiter(Effect.void)
      yield* TestClock.adjust("10 minutes")
      yield* limiter(Effect.void)
      assert.strictEqual(yield* permitted, 0)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* permitted, 2)
    }))

  it.effect("a limiter that never ran a call at once publishes no permitted series", () =>
    Effect.gen(function*() {
      const name = "metrics-test-never-permitted"
      // another limiter of the same name (never closed, never publishing) takes the only token
      const other = yield* RateLimiter.make({ limit: 1, window: "1 second", name, metricsInterval: Duration.infinity })
      yield* other(Effect.void)
      const scope = yield* Scope.make()
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay", name }).pipe(
        Scope.extend(scope)
      )
      const waiting = yield* Effect.fork(limiter(Effect.void))
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(waiting)
      assert.deepStrictEqual(limiter.unsafeStats(), { permitted: 0, delayed: 1, rejected: 0, storeErrors: 0 })
      yield* Scope.close(scope, Exit.void)
      const series = (yield* Metric.snapshot).filter((pair) =>
        pair.metricKey.name === "resilience_rate_limiter_permitted" &&
        pair.metricKey.tags.some((t) => t.key === "policy" && t.value === name)
      )
      assert.deepStrictEqual(series.length, 0)
    }).pipe(Effect.scoped, Effect.provide(RateLimiter.layerStoreMemory())))

  it.scoped("execute's cost: an integer from 1 to the limit, else the call dies with InvalidOptionsError", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 3, window: "1 second", name: "costs" })
      for (const cost of [0, 1.5, 4, -1, Number.NaN, "2" as unknown as number]) {
        const exit = yield* Effect.exit(limiter.execute(Effect.void, { key: `k${String(cost)}`, cost }))
        assert.isTrue(Exit.isFailure(exit), `cost ${String(cost)} accepted`)
        const defect = Exit.isFailure(exit) && exit.cause._tag === "Die" ? exit.cause.defect : undefined
        assert.isTrue(defect instanceof Errors.InvalidOptionsError, `cost ${String(cost)}: ${String(defect)}`)
        const error = defect as Errors.InvalidOptionsError
        assert.strictEqual(error.module, "RateLimiter.execute")
        assert.strictEqual(error.option, "cost")
        assert.strictEqual(error.expected, "an integer >= 1 and <= 3 (the limit)")
      }
      // the edges are accepted
      yield* limiter.execute(Effect.void, { key: "one", cost: 1 })
      yield* limiter.execute(Effect.void, { key: "one", cost: 2 })
      expectRejected(yield* Effect.either(limiter.execute(Effect.void, { key: "one", cost: 1 })))
      yield* limiter.execute(Effect.void, { key: "three", cost: 3 })
    }))
})

describe("RateLimiter store protocol", () => {
  /**
   * experimental's memory store, logging each call a limiter makes (key, tokens, overdraft or cap);
   * `before` runs before the n-th fixed-window call (1-based), e.g. as another replica and some latency.
   */
  const recordingPlainStore = (
    log: Array<string>,
    before?: (inner: RateLimiter.RateLimiterStore, n: number) => Effect.Effect<unknown, unknown>
  ) =>
    Layer.effect(
      RateLimiterExperimental.RateLimiterStore,
      Effect.map(
        Effect.provide(RateLimiterExperimental.RateLimiterStore, RateLimiterExperimental.layerStoreMemory),
        (inner): RateLimiter.RateLimiterStore => {
          let fixedWindowCalls = 0
          return {
            tokenBucket: (o) =>
              Effect.suspend(() => {
                log.push(`tokenBucket ${o.key} ${o.tokens}${o.allowOverflow ? " overdraft" : ""}`)
                return inner.tokenBucket(o)
              }),
            fixedWindow: (o) =>
              Effect.suspend(() => {
                const hook = before === undefined ? Effect.void : Effect.orDie(before(inner, ++fixedWindowCalls))
                return Effect.zipRight(
                  hook,
                  Effect.suspend(() => {
                    log.push(`fixedWindow ${o.key} ${o.tokens} cap ${o.limit}`)
                    return inner.fixedWindow(o)
                  })
                )
              })
          }
        }
      )
    )

  it.effect("plain store, fixed window: a bounded call makes at most two takes, even when another replica and store latency make a third look worthwhile", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      // before the 4th take (the rejected call's second one), another replica takes a token and 1 s goes by
      const race = (inner: RateLimiter.RateLimiterStore, n: number) =>
        n === 4
          ? Effect.zipRight(
            // the limiter's store key for "b": Keys.namespaced("b", undefined)
            inner.fixedWindow({ key: "1:b", tokens: 1, refillRate: Duration.seconds(1), limit: undefined }),
            TestClock.adjust("1 second")
          )
          : Effect.void
      yield* Effect.gen(function*() {
        const bounded = yield* RateLimiter.make({
          limit: 1,
          window: "1 second",
          algorithm: "fixed-window",
          onExceeded: "delay",
          maxDelay: "1500 millis",
          name: "b"
        })
        yield* bounded(Effect.void) // t=0
        yield* TestClock.adjust("500 millis")
        const second = yield* Effect.fork(bounded(Effect.void)) // waits until t=1000
        yield* Effect.yieldNow()
        // at t=500 it would wait 1500 ms: a second take, capped by the counter's age; the replica got there first,
        // and by the time it answers (t=1500) the next free window would again be 1500 ms away: rejected anyway
        const error = expectRejected(yield* Effect.either(bounded(Effect.void)))
        assert.strictEqual(error.reason, "MaxDelayExceeded")
        yield* Fiber.join(second)
      }).pipe(Effect.scoped, Effect.provide(recordingPlainStore(log, race)))
      assert.deepStrictEqual(log, [
        "fixedWindow 1:b 1 cap 2",
        "fixedWindow 1:b 1 cap 2",
        "fixedWindow 1:b 1 cap 2",
        "fixedWindow 1:b 1 cap 3"
      ])
    }))

  /** Our memory store, logging the atomic calls; without the synchronous methods unless `sync`. */
  const recordingAtomicStore = (log: Array<string>, sync: boolean) =>
    Layer.scoped(
      RateLimiterExperimental.RateLimiterStore,
      Effect.map(RateLimiter.makeStoreMemory(), (inner): RateLimiter.RateLimiterStore & RateLimiter.AtomicStore => {
        const atomic = inner[RateLimiter.AtomicStoreTypeId]
        const unsafeReserve = atomic.unsafeReserve!
        const unsafeRefund = atomic.unsafeRefund!
        return {
          tokenBucket: (o) => Effect.suspend(() => (log.push("tokenBucket"), inner.tokenBucket(o))),
          fixedWindow: (o) => Effect.suspend(() => (log.push("fixedWindow"), inner.fixedWindow(o))),
          [RateLimiter.AtomicStoreTypeId]: {
            reserve: (req) => Effect.suspend(() => (log.push(`reserve ${req.key} ${req.maxDelayMillis}`), atomic.reserve(req))),
            refund: (req, r) => Effect.suspend(() => (log.push(`refund ${req.key}`), atomic.refund(req, r))),
            ...(sync
              ? {
                unsafeReserve: (now: number, req: RateLimiter.ReserveRequest) => (
                  log.push(`unsafeReserve ${req.key} ${req.maxDelayMillis}`), unsafeReserve(now, req)
                ),
                unsafeRefund: (now: number, req: RateLimiter.ReserveRequest, r: RateLimiter.Reservation) => (
                  log.push(`unsafeRefund ${req.key}`), unsafeRefund(now, req, r)
                )
              }
              : {})
          }
        }
      })
    )

  it.effect("plain store, token bucket: one capped take in fail mode, one overdraft take when unbounded, a capped take then an overdraft one when bounded", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      yield* Effect.gen(function*() {
        const failing = yield* RateLimiter.make({ limit: 1, window: "1 second", name: "f" })
        yield* failing(Effect.void)
        yield* Effect.either(failing.execute(Effect.void, { key: "k" }))
        const unbounded = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay", name: "u" })
        yield* startTimes(2, unbounded)
        const bounded = yield* RateLimiter.make({
          limit: 1,
          window: "1 second",
          onExceeded: "delay",
          maxDelay: "1 second",
          name: "b"
        })
        const t0 = yield* now
        assert.deepStrictEqual(rights(yield* startTimes(3, bounded)).map((t) => t - t0), [0, 1000, -1 - t0])
      }).pipe(Effect.scoped, Effect.provide(recordingPlainStore(log)))
      assert.deepStrictEqual(log, [
        "tokenBucket 1:f 1",
        "tokenBucket 1:f:k 1",
        "tokenBucket 1:u 1 overdraft",
        "tokenBucket 1:u 1 overdraft",
        "tokenBucket 1:b 1",
        "tokenBucket 1:b 1",
        "tokenBucket 1:b 1 overdraft",
        "tokenBucket 1:b 1" // would wait 2 s: rejected after the capped take, uncharged
      ])
    }))

  it.effect("plain store, fixed window: capped at the limit in fail mode, uncapped when unbounded, at most two capped takes when bounded", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      yield* Effect.gen(function*() {
        const failing = yield* RateLimiter.make({ limit: 1, window: "1 second", algorithm: "fixed-window", name: "f" })
        yield* failing(Effect.void)
        const unbounded = yield* RateLimiter.make({
          limit: 1,
          window: "1 second",
          algorithm: "fixed-window",
          onExceeded: "delay",
          name: "u"
        })
        yield* unbounded(Effect.void)
        const bounded = yield* RateLimiter.make({
          limit: 1,
          window: "1 second",
          algorithm: "fixed-window",
          onExceeded: "delay",
          maxDelay: "1500 millis",
          name: "b"
        })
        yield* bounded(Effect.void)
        yield* TestClock.adjust("500 millis")
        // waits 500 ms (first take, capped for a counter just started), 1500 ms (a second take, capped by the
        // counter's age), and 2500 ms (too long: rejected after one take, however many the cap would allow)
        const t0 = yield* now
        assert.deepStrictEqual(rights(yield* startTimes(3, bounded)).map((t) => t - t0), [500, 1500, -1 - t0])
      }).pipe(Effect.scoped, Effect.provide(recordingPlainStore(log)))
      assert.deepStrictEqual(log, [
        "fixedWindow 1:f 1 cap 1",
        "fixedWindow 1:u 1 cap undefined",
        "fixedWindow 1:b 1 cap 2",
        "fixedWindow 1:b 1 cap 2",
        "fixedWindow 1:b 1 cap 2",
        "fixedWindow 1:b 1 cap 3",
        "fixedWindow 1:b 1 cap 2"
      ])
    }))

  it.effect("a refund the store fails is ignored: the interrupted call just ends interrupted", () =>
    Effect.gen(function*() {
      const failingRefund = Layer.scoped(
        RateLimiterExperimental.RateLimiterStore,
        Effect.map(RateLimiter.makeStoreMemory(), (inner): RateLimiter.RateLimiterStore & RateLimiter.AtomicStore => ({
          tokenBucket: inner.tokenBucket,
          fixedWindow: inner.fixedWindow,
          [RateLimiter.AtomicStoreTypeId]: {
            reserve: inner[RateLimiter.AtomicStoreTypeId].reserve,
            refund: () => Effect.fail(new RateLimiterExperimental.RateLimitStoreError({ message: "connection reset" }))
          }
        }))
      )
      yield* Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay" })
        yield* limiter(Effect.void)
        const waiting = yield* Effect.fork(limiter(Effect.void))
        yield* Effect.yieldNow()
        const exit = yield* Fiber.interrupt(waiting)
        assert.isTrue(Exit.isInterrupted(exit))
        assert.isTrue(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause), String(exit))
        // the slot was not given back: the next call queues behind it
        const next = yield* Effect.fork(limiter(now))
        yield* Effect.yieldNow()
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* Fiber.join(next), 2000)
      }).pipe(Effect.scoped, Effect.provide(failingRefund))
    }))

  for (const sync of [true, false]) {
    it.effect(`an atomic store is asked through ${sync ? "unsafeReserve/unsafeRefund when it offers them" : "reserve/refund when it has no synchronous methods"}, never through the plain methods`, () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const [reserve, refund] = sync ? ["unsafeReserve", "unsafeRefund"] : ["reserve", "refund"]
        yield* Effect.gen(function*() {
          const failing = yield* RateLimiter.make({ limit: 1, window: "1 second", name: "f" })
          yield* failing(Effect.void)
          yield* Effect.either(failing.execute(Effect.void, { key: "k" }))
          const delaying = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay", name: "d" })
          yield* delaying(Effect.void)
          const waiting = yield* Effect.fork(delaying(Effect.void))
          yield* Effect.yieldNow()
          yield* Fiber.interrupt(waiting)
          // the refund gave the slot back: the next call gets it
          const next = yield* Effect.fork(delaying(now))
          yield* Effect.yieldNow()
          yield* TestClock.adjust("1 second")
          assert.strictEqual(yield* Fiber.join(next), 1000)
        }).pipe(Effect.scoped, Effect.provide(recordingAtomicStore(log, sync)))
        assert.deepStrictEqual(log, [
          // store keys are Keys.namespaced(name, key): length-prefixed
          `${reserve} 1:f 0`,
          `${reserve} 1:f:k 0`,
          `${reserve} 1:d Infinity`,
          `${reserve} 1:d Infinity`,
          `${refund} 1:d`,
          `${reserve} 1:d Infinity`
        ])
      }))
  }
})

describe("RateLimiter plain protocol reservations", () => {
  const reserveOn = (requests: ReadonlyArray<Partial<RateLimiter.ReserveRequest>>) =>
    Effect.gen(function*() {
      const store = yield* Effect.provide(RateLimiterExperimental.RateLimiterStore, RateLimiterExperimental.layerStoreMemory)
      const out: Array<RateLimiter.Reservation> = []
      for (const r of requests) {
        out.push(
          yield* plainReserve(store, {
            key: "k",
            algorithm: "token-bucket",
            tokens: 1,
            limit: 3,
            windowMillis: 3000,
            maxDelayMillis: 0,
            ...r
          })
        )
      }
      return out.map((r) =>
        r.admitted ? [r.admitted, r.delayMillis, r.remaining] : [r.admitted, r.delayMillis, r.retryAfterMillis, r.remaining]
      )
    })

  it.effect("an admitted reservation reports the tokens left (never below 0) and its wait (0: at once)", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* reserveOn([{}, { tokens: 2 }, { maxDelayMillis: Infinity }]), [
        [true, 0, 2],
        [true, 0, 0],
        [true, 1000, 0]
      ])
      const unbounded = { maxDelayMillis: Infinity }
      assert.deepStrictEqual(yield* reserveOn([unbounded, { ...unbounded, tokens: 2 }]), [[true, 0, 2], [true, 0, 0]])
      for (const maxDelayMillis of [0, Infinity, 5000]) {
        const fixed = { algorithm: "fixed-window" as const, maxDelayMillis }
        assert.deepStrictEqual(
          yield* reserveOn([fixed, { ...fixed, tokens: 2 }]),
          [[true, 0, 2], [true, 0, 0]],
          `maxDelayMillis ${maxDelayMillis}`
        )
      }
      // the next window's calls: what is left of it
      const fixed = { algorithm: "fixed-window" as const, maxDelayMillis: Infinity }
      assert.deepStrictEqual(yield* reserveOn([{ ...fixed, tokens: 3 }, fixed, fixed]), [
        [true, 0, 0],
        [true, 3000, 2],
        [true, 3000, 1]
      ])
    }))

  it.effect("a rejected reservation reports how long the call would have waited, when to retry, and the tokens left", () =>
    Effect.gen(function*() {
      // token bucket, fail: one token short, refilled in 1 s
      assert.deepStrictEqual(yield* reserveOn([{ tokens: 3 }, {}]), [[true, 0, 0], [false, 1000, 1000, 0]])
      // fixed window, fail: the counter (one token old) lives 1 s more
      const fixed = { algorithm: "fixed-window" as const }
      assert.deepStrictEqual(yield* reserveOn([fixed, { ...fixed, tokens: 3 }]), [[true, 0, 2], [false, 1000, 1000, 2]])
    }))
})
