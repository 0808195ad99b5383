/**
 * The bounded memory store on its own: the atomic extension's exact answers
 * (waits, retry-after, remaining, refunds), the sweep and eviction bounds, and
 * the second-chance order in which keys make room.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, FastCheck as fc, TestClock } from "effect"
import { RateLimiter } from "effect-resilience"
import { numRuns } from "./utils/props.js"

type Request = RateLimiter.ReserveRequest

const makeStore = (maxKeys = 100) => RateLimiter.makeStoreMemory({ maxKeys, sweepInterval: Duration.infinity })

/** A reservation without `resetMillis` (checked on its own, below). */
const reserve = (store: RateLimiter.MemoryStore, request: Request): Effect.Effect<RateLimiter.Reservation, unknown> =>
  Effect.map(store[RateLimiter.AtomicStoreTypeId].reserve(request), ({ resetMillis: _, ...rest }) => rest)

const resetOf = (store: RateLimiter.MemoryStore, request: Request) =>
  Effect.map(store[RateLimiter.AtomicStoreTypeId].reserve(request), (r) => [r.admitted, r.remaining, r.resetMillis] as const)

const refund = (store: RateLimiter.MemoryStore, request: Request, reservation: RateLimiter.Reservation) =>
  store[RateLimiter.AtomicStoreTypeId].refund(request, reservation)

/** A reservation without its generation (an opaque number). */
const answer = ({ generation: _, ...rest }: RateLimiter.Reservation) => rest

/** Token bucket of 3 tokens, one refilled every 100 ms. */
const bucket = (key: string, tokens: number, maxDelayMillis = 0): Request => ({
  key,
  algorithm: "token-bucket",
  tokens,
  limit: 3,
  windowMillis: 300,
  maxDelayMillis
})

/** Fixed window of 2 tokens per second (a counter slot frees every 500 ms). */
const window = (key: string, tokens: number, maxDelayMillis = 0): Request => ({
  key,
  algorithm: "fixed-window",
  tokens,
  limit: 2,
  windowMillis: 1_000,
  maxDelayMillis
})

const at = (millis: number) => TestClock.setTime(millis)

describe("RateLimiter memory store: reserve", () => {
  it.scoped("resetMillis: until the bucket's next token, or until the fixed-window counter resets", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      // a token every 100 ms, counted from the last refill
      assert.deepStrictEqual(yield* resetOf(store, bucket("a", 1)), [true, 2, 100])
      yield* at(30)
      assert.deepStrictEqual(yield* resetOf(store, bucket("a", 2)), [true, 0, 70])
      assert.deepStrictEqual(yield* resetOf(store, bucket("a", 1)), [false, 0, 70])
      yield* at(100)
      assert.deepStrictEqual(yield* resetOf(store, bucket("a", 1)), [true, 0, 100])
      // a counter lasts window / limit per token taken (experimental's semantics): 500 ms per token
      yield* at(1_000)
      assert.deepStrictEqual(yield* resetOf(store, window("w", 1)), [true, 1, 500])
      yield* at(1_200)
      assert.deepStrictEqual(yield* resetOf(store, window("w", 1)), [true, 0, 800])
      assert.deepStrictEqual(yield* resetOf(store, window("w", 1)), [false, 0, 800])
    }))

  it.scoped("token bucket: admitted at once, waiting for the missing tokens, or rejected with the exact retry-after", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const first = yield* reserve(store, bucket("a", 1))
      assert.deepStrictEqual(answer(first), { admitted: true, delayMillis: 0, retryAfterMillis: 0, remaining: 2 })
      assert.isTrue(typeof first.generation === "number" && first.generation > 0)
      // 2 tokens left, 3 wanted: the third arrives in 100 ms
      assert.deepStrictEqual(yield* reserve(store, bucket("a", 3)), {
        admitted: false,
        delayMillis: 100,
        retryAfterMillis: 100,
        remaining: 2
      })
      assert.deepStrictEqual(
        answer(yield* reserve(store, bucket("a", 3, 100))),
        { admitted: true, delayMillis: 100, retryAfterMillis: 0, remaining: 0 }
      )
      // at 250 ms two tokens were refilled (the last at 200 ms): one is owed, one is there
      yield* at(250)
      assert.deepStrictEqual(
        answer(yield* reserve(store, bucket("a", 1))),
        { admitted: true, delayMillis: 0, retryAfterMillis: 0, remaining: 0 }
      )
      // a new key admitted without a wait leaves the rest of its tokens
      assert.deepStrictEqual(
        answer(yield* reserve(store, bucket("b", 2, 1_000))),
        { admitted: true, delayMillis: 0, retryAfterMillis: 0, remaining: 1 }
      )
    }))

  it.scoped("a rejected reservation charges nothing and creates no key", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      assert.isFalse((yield* reserve(store, bucket("a", 4))).admitted)
      assert.isFalse((yield* reserve(store, window("w", 3))).admitted)
      assert.strictEqual(store.unsafeSize(), 0)
    }))

  it.scoped("fixed window: a call never straddles two windows; waits, retry-after and remaining are exact", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      assert.deepStrictEqual(
        answer(yield* reserve(store, window("f", 1))),
        { admitted: true, delayMillis: 0, retryAfterMillis: 0, remaining: 1 }
      )
      yield* at(100)
      // 2 tokens would straddle the first and second window: the call waits for the second (at 1000 ms);
      // the counter, though, would reset at 500 ms (its one slot freed), when the call is admitted at once
      assert.deepStrictEqual(yield* reserve(store, window("f", 2)), {
        admitted: false,
        delayMillis: 900,
        retryAfterMillis: 400,
        remaining: 1
      })
      // admitted into the second window, skipping the first window's last slot
      assert.deepStrictEqual(
        answer(yield* reserve(store, window("f", 2, 900))),
        { admitted: true, delayMillis: 900, retryAfterMillis: 0, remaining: 0 }
      )
      // the third window starts at 2000 ms: 1900 ms away, 1600 ms more than allowed
      assert.deepStrictEqual(yield* reserve(store, window("f", 1, 300)), {
        admitted: false,
        delayMillis: 1_900,
        retryAfterMillis: 1_600,
        remaining: 0
      })
      assert.deepStrictEqual(
        answer(yield* reserve(store, window("f", 1, Infinity))),
        { admitted: true, delayMillis: 1_900, retryAfterMillis: 0, remaining: 1 }
      )
    }))

  it.scoped("fixed window: a counter that expires exactly now starts afresh", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      yield* reserve(store, window("f", 1)) // expires at 500 ms
      yield* at(500)
      assert.deepStrictEqual(
        answer(yield* reserve(store, window("f", 1))),
        { admitted: true, delayMillis: 0, retryAfterMillis: 0, remaining: 1 }
      )
      assert.deepStrictEqual(
        answer(yield* reserve(store, window("f", 1))),
        { admitted: true, delayMillis: 0, retryAfterMillis: 0, remaining: 0 }
      )
    }))
})

describe("RateLimiter memory store: refund", () => {
  it.scoped("token bucket: the latest reservation's tokens come back; the bucket is forgotten once refilled", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      yield* reserve(store, bucket("a", 1))
      const latest = yield* reserve(store, bucket("a", 2))
      yield* refund(store, bucket("a", 2), latest)
      // 2 tokens again: full in 100 ms, not before
      yield* at(99)
      assert.strictEqual(yield* store.sweep, 0)
      yield* at(100)
      assert.strictEqual(yield* store.sweep, 1)
    }))

  it.scoped("token bucket: a refunded reservation's tokens can be reserved again at once", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      yield* reserve(store, bucket("a", 1))
      const latest = yield* reserve(store, bucket("a", 2))
      yield* refund(store, bucket("a", 2), latest)
      assert.deepStrictEqual(
        answer(yield* reserve(store, bucket("a", 2))),
        { admitted: true, delayMillis: 0, retryAfterMillis: 0, remaining: 0 }
      )
    }))

  it.scoped("an earlier reservation is not refunded: a later one keeps its place", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const earlier = yield* reserve(store, bucket("a", 1))
      yield* reserve(store, bucket("a", 1))
      yield* refund(store, bucket("a", 1), earlier)
      assert.deepStrictEqual(yield* reserve(store, bucket("a", 2)), {
        admitted: false,
        delayMillis: 100,
        retryAfterMillis: 100,
        remaining: 1
      })
      const earlierWindow = yield* reserve(store, window("f", 1))
      yield* reserve(store, window("f", 1))
      yield* refund(store, window("f", 1), earlierWindow)
      assert.deepStrictEqual(
        yield* store.fixedWindow({ key: "f", tokens: 1, refillRate: Duration.millis(500), limit: 2 }),
        [3, 1_000]
      )
    }))

  it.scoped("a reservation that was not admitted is never refunded", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const taken = yield* reserve(store, bucket("a", 3))
      yield* refund(store, bucket("a", 3), { ...taken, admitted: false })
      assert.isFalse((yield* reserve(store, bucket("a", 1))).admitted)
      const counted = yield* reserve(store, window("f", 2))
      yield* refund(store, window("f", 2), { ...counted, admitted: false })
      assert.isFalse((yield* reserve(store, window("f", 1))).admitted)
    }))

  it.scoped("fixed window: the latest reservation's count and expiry are given back, skipped slots included", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      yield* reserve(store, window("f", 1)) // count 1, expires at 500 ms
      const latest = yield* reserve(store, window("f", 2, Infinity)) // skips a slot: count 4, expires at 2000 ms
      assert.strictEqual(latest.delayMillis, 1_000)
      yield* refund(store, window("f", 2, Infinity), latest)
      assert.deepStrictEqual(
        yield* store.fixedWindow({ key: "f", tokens: 1, refillRate: Duration.millis(500), limit: 2 }),
        [2, 1_000]
      )
    }))

  it.scoped("refunding a key that was evicted meanwhile does nothing", () =>
    Effect.gen(function*() {
      const store = yield* makeStore(1)
      const a = yield* reserve(store, bucket("a", 3))
      const w = yield* reserve(store, window("w", 2)) // evicts "a"
      yield* reserve(store, bucket("b", 1)) // evicts "w"
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(refund(store, bucket("a", 3), a))))
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(refund(store, window("w", 2), w))))
      assert.deepStrictEqual(store.unsafeStats(), { keys: 1, maxKeys: 1, expired: 0, evicted: 2 })
      assert.deepStrictEqual(yield* reserve(store, bucket("b", 3)), {
        admitted: false,
        delayMillis: 100,
        retryAfterMillis: 100,
        remaining: 2
      })
    }))

  it.scoped("a charge through experimental's interface after a reservation means it can no longer be refunded", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      yield* reserve(store, bucket("t", 1))
      const counted = yield* reserve(store, window("f", 1))
      assert.deepStrictEqual(
        yield* store.fixedWindow({ key: "f", tokens: 1, refillRate: Duration.millis(500), limit: 2 }),
        [2, 1_000]
      )
      yield* refund(store, window("f", 1), counted)
      assert.deepStrictEqual(
        yield* store.fixedWindow({ key: "f", tokens: 1, refillRate: Duration.millis(500), limit: 2 }),
        [3, 1_000]
      )
    }))

  it.scoped("the same holds when the bucket's reservation is the second charge of the store", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      yield* reserve(store, window("f", 1))
      const taken = yield* reserve(store, bucket("t", 1))
      const options = { key: "t", tokens: 1, limit: 3, refillRate: Duration.millis(100), allowOverflow: false } as const
      assert.strictEqual(yield* store.tokenBucket(options), 1)
      yield* refund(store, bucket("t", 1), taken)
      assert.strictEqual(yield* store.tokenBucket(options), 0)
    }))

  it.effect.prop(
    "a reservation refunded at once leaves its key as a reservation of no tokens would: later answers are the same",
    [
      fc.array(
        fc.record({
          gap: fc.integer({ min: 0, max: 400 }),
          key: fc.constantFrom("a", "b"),
          algorithm: fc.constantFrom("token-bucket" as const, "fixed-window" as const),
          tokens: fc.integer({ min: 1, max: 3 }),
          maxDelayMillis: fc.constantFrom(0, 150, 1_000, Infinity),
          undone: fc.boolean()
        }),
        { minLength: 1, maxLength: 40 }
      )
    ],
    ([ops]) =>
      Effect.gen(function*() {
        const withRefunds = yield* makeStore()
        const without = yield* makeStore()
        for (const op of ops) {
          if (op.gap > 0) yield* TestClock.adjust(Duration.millis(op.gap))
          const request: Request = { ...op, limit: 3, windowMillis: 300 }
          if (op.undone) {
            const reservation = yield* reserve(withRefunds, request)
            yield* refund(withRefunds, request, reservation)
            // (an admitted reservation creates its key, and a token bucket's refills are counted from then)
            if (reservation.admitted) yield* reserve(without, { ...request, tokens: 0 })
          } else {
            assert.deepStrictEqual(answer(yield* reserve(withRefunds, request)), answer(yield* reserve(without, request)))
          }
        }
      }).pipe(Effect.scoped),
    { fastCheck: { numRuns: numRuns(100) } }
  )
})

describe("RateLimiter memory store: experimental's interface", () => {
  it.scoped("a fixed-window counter that expires exactly now starts afresh", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const options = { key: "f", tokens: 1, refillRate: Duration.millis(500), limit: undefined } as const
      assert.deepStrictEqual(yield* store.fixedWindow(options), [1, 500])
      yield* at(500)
      assert.deepStrictEqual(yield* store.fixedWindow(options), [1, 500])
    }))

  it.scoped("a fixed-window call of more tokens than the limit is refused without creating a key", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      assert.deepStrictEqual(yield* store.fixedWindow({ key: "f", tokens: 3, refillRate: Duration.millis(500), limit: 2 }), [3, 0])
      assert.strictEqual(store.unsafeSize(), 0)
    }))
})

describe("RateLimiter memory store: sweep", () => {
  it.scoped("a token bucket is swept exactly when it has refilled", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const options = { key: "t", tokens: 2, limit: 3, refillRate: Duration.millis(100), allowOverflow: false } as const
      assert.strictEqual(yield* store.tokenBucket(options), 1)
      yield* at(199)
      assert.strictEqual(yield* store.sweep, 0)
      yield* at(200)
      assert.strictEqual(yield* store.sweep, 1)
      assert.deepStrictEqual(store.unsafeStats(), { keys: 0, maxKeys: 100, expired: 1, evicted: 0 })
    }))

  it.scoped("a fixed-window counter is swept exactly when it expires", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      assert.deepStrictEqual(yield* store.fixedWindow({ key: "f", tokens: 2, refillRate: Duration.millis(100), limit: 3 }), [2, 200])
      yield* at(199)
      assert.strictEqual(yield* store.sweep, 0)
      yield* at(200)
      assert.strictEqual(yield* store.sweep, 1)
      assert.strictEqual(store.unsafeSize(), 0)
    }))

  it.scoped("an infinite sweepInterval starts no sweeper", () =>
    Effect.gen(function*() {
      yield* makeStore()
      yield* Effect.repeatN(Effect.yieldNow(), 5) // a forked sweeper would be asleep by now
      assert.isTrue(Chunk.isEmpty(yield* TestClock.sleeps()))
    }))
})

/** Takes one token of `key` through one of the store's four ways in (limit 1, long window); true when admitted. */
type Take = (store: RateLimiter.MemoryStore, key: string) => Effect.Effect<boolean, unknown>

const takes: ReadonlyArray<readonly [string, Take]> = [
  [
    "reserve (token bucket)",
    (store, key) =>
      Effect.map(
        reserve(store, { key, algorithm: "token-bucket", tokens: 1, limit: 1, windowMillis: 60_000, maxDelayMillis: 0 }),
        (r) => r.admitted
      )
  ],
  [
    "reserve (fixed window)",
    (store, key) =>
      Effect.map(
        reserve(store, { key, algorithm: "fixed-window", tokens: 1, limit: 1, windowMillis: 60_000, maxDelayMillis: 0 }),
        (r) => r.admitted
      )
  ],
  [
    "tokenBucket",
    (store, key) =>
      Effect.map(
        store.tokenBucket({ key, tokens: 1, limit: 1, refillRate: Duration.minutes(1), allowOverflow: false }),
        (left) => left >= 0
      )
  ],
  [
    "fixedWindow",
    (store, key) =>
      Effect.map(store.fixedWindow({ key, tokens: 1, refillRate: Duration.minutes(1), limit: 1 }), ([count]) => count <= 1)
  ]
]

describe("RateLimiter memory store: making room", () => {
  for (const [label, take] of takes) {
    it.scoped(`${label}: a key used since it was last examined gets a second chance`, () =>
      Effect.gen(function*() {
        const store = yield* makeStore(3)
        for (const key of ["a", "b", "c", "d"]) assert.isTrue(yield* take(store, key))
        // no key was used again since it was stored: "a", the oldest, went at once
        assert.isFalse(yield* take(store, "b"))
        assert.isTrue(yield* take(store, "e")) // evicts "c", not "b"
        assert.deepStrictEqual(store.unsafeStats(), { keys: 3, maxKeys: 3, expired: 0, evicted: 2 })
        assert.isFalse(yield* take(store, "b"))
        assert.isFalse(yield* take(store, "d"))
        assert.isTrue(yield* take(store, "c"))
      }))

    it.scoped(`${label}: when every key was used since it was last examined, the oldest goes`, () =>
      Effect.gen(function*() {
        const store = yield* makeStore(2)
        assert.isTrue(yield* take(store, "a"))
        assert.isTrue(yield* take(store, "b"))
        assert.isFalse(yield* take(store, "a"))
        assert.isFalse(yield* take(store, "b"))
        assert.isTrue(yield* take(store, "c")) // both get their second chance, then "a" (the oldest) goes
        assert.isFalse(yield* take(store, "b"))
        assert.isTrue(yield* take(store, "a"))
      }))

    it.scoped(`${label}: using a key again does not make room`, () =>
      Effect.gen(function*() {
        const store = yield* makeStore(1)
        assert.isTrue(yield* take(store, "a"))
        assert.isFalse(yield* take(store, "a"))
        assert.deepStrictEqual(store.unsafeStats(), { keys: 1, maxKeys: 1, expired: 0, evicted: 0 })
        // expired meanwhile: reused in place, not replaced
        yield* TestClock.adjust("1 minute")
        assert.isTrue(yield* take(store, "a"))
        assert.deepStrictEqual(store.unsafeStats(), { keys: 1, maxKeys: 1, expired: 0, evicted: 0 })
      }))

    it.scoped(`${label}: a key idle exactly now is dropped as expired, not evicted`, () =>
      Effect.gen(function*() {
        const store = yield* makeStore(1)
        assert.isTrue(yield* take(store, "a"))
        yield* TestClock.adjust("1 minute")
        assert.isTrue(yield* take(store, "b"))
        assert.deepStrictEqual(store.unsafeStats(), { keys: 1, maxKeys: 1, expired: 1, evicted: 0 })
      }))
  }

  it.scoped("at most 8 keys are examined: the eighth goes even if it was used", () =>
    Effect.gen(function*() {
      const [, take] = takes[0]!
      const store = yield* makeStore(10)
      for (let i = 0; i < 10; i++) assert.isTrue(yield* take(store, `k${i}`))
      // every key used again: k0…k6 get their second chance, k7 goes
      for (let i = 0; i < 10; i++) assert.isFalse(yield* take(store, `k${i}`))
      assert.isTrue(yield* take(store, "k10"))
      assert.isFalse(yield* take(store, "k0"))
      assert.isTrue(yield* take(store, "k7"))
      assert.deepStrictEqual(store.unsafeStats(), { keys: 10, maxKeys: 10, expired: 0, evicted: 2 })
    }))

  it.scoped("a flood of new keys evicts keys used once before keys in use: a key used every 30% of maxKeys new keys keeps its state", () =>
    Effect.gen(function*() {
      const [, take] = takes[0]!
      const store = yield* makeStore(100)
      assert.isTrue(yield* take(store, "active"))
      for (let i = 0; i < 10_000; i++) {
        assert.isTrue(yield* take(store, `flood-${i}`))
        // the active key is exhausted: were it ever evicted, it would be admitted afresh
        if (i % 30 === 29) assert.isFalse(yield* take(store, "active"), `the active key was forgotten after ${i + 1} new keys`)
      }
      assert.strictEqual(store.unsafeStats().keys, 100)
    }))

  it.scoped("room is made in the larger of the two maps (token buckets when as large)", () =>
    Effect.gen(function*() {
      const [, takeBucket] = takes[2]!
      const [, takeCounter] = takes[3]!
      const store = yield* makeStore(2)
      assert.isTrue(yield* takeBucket(store, "t"))
      assert.isTrue(yield* takeCounter(store, "w"))
      assert.isTrue(yield* takeCounter(store, "w2")) // evicts the bucket "t"
      assert.isFalse(yield* takeCounter(store, "w"))
      assert.isTrue(yield* takeBucket(store, "t"))
    }))

  it.scoped("a store of counters only stays within maxKeys", () =>
    Effect.gen(function*() {
      const [, take] = takes[3]!
      const store = yield* makeStore(2)
      for (const key of ["a", "b", "c", "d"]) assert.isTrue(yield* take(store, key))
      assert.deepStrictEqual(store.unsafeStats(), { keys: 2, maxKeys: 2, expired: 0, evicted: 2 })
    }))

  it.effect.prop(
    "the store never holds more than maxKeys keys, whatever the calls",
    [
      fc.integer({ min: 1, max: 4 }),
      fc.array(
        fc.record({
          gap: fc.integer({ min: 0, max: 30_000 }),
          key: fc.integer({ min: 0, max: 6 }),
          way: fc.integer({ min: 0, max: 3 })
        }),
        { minLength: 1, maxLength: 40 }
      )
    ],
    ([maxKeys, ops]) =>
      Effect.gen(function*() {
        const store = yield* makeStore(maxKeys)
        for (const op of ops) {
          if (op.gap > 0) yield* TestClock.adjust(Duration.millis(op.gap))
          yield* takes[op.way]![1](store, `k${op.key}`)
          const stats = store.unsafeStats()
          assert.isAtMost(store.unsafeSize(), maxKeys)
          assert.strictEqual(stats.keys, store.unsafeSize())
        }
      }).pipe(Effect.scoped),
    { fastCheck: { numRuns: numRuns(100) } }
  )
})
