/**
 * Keys (issue 17 §2): what a keyed call costs with short and long keys, what
 * refusing a key costs, and what a new key costs once a store is at its
 * bound (every call a key the store has never seen, so every call evicts).
 *
 * The "store near its bound" cases hold 100,000 keys (1,000 under `--smoke`,
 * whose figures are meaningless anyway) and cycle through 200,000 distinct
 * keys, so each call inserts a new key and evicts an old one: the figure must
 * not depend on the number of keys held (a plain `Map`'s oldest entry cost
 * ~46 µs to reach at 100,000 keys, 0.5 µs at 1,000 — see bench/README.md).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Case, optionalModule, scopedCase, succeed1 } from "./_lib.js"

const RateLimiter = await optionalModule("RateLimiter")
const CircuitBreaker = await optionalModule("CircuitBreaker")
const Idempotency = await optionalModule("Idempotency")
const Fallback = await optionalModule("Fallback")

const SMOKE = process.argv.includes("--smoke")
/** Keys a full store holds. */
const HELD = SMOKE ? 1_000 : 100_000

/** `n` distinct keys of `length` characters (length >= 8). */
const keysOf = (n: number, length: number): ReadonlyArray<string> =>
  Array.from({ length: n }, (_, i) => "k".repeat(length - 8) + String(i).padStart(8, "0"))

/** A call that uses the next key of `keys` each time. */
const cycling = (keys: ReadonlyArray<string>, call: (key: string) => Effect.Effect<unknown, unknown>) => {
  let i = 0
  return () => call(keys[i++ % keys.length]!)
}

const unlimited = { limit: 1_000_000_000, window: "1 second" }

const limiterOn = (maxKeys: number) =>
  Effect.gen(function*() {
    const store = yield* (RateLimiter.makeStoreMemory({ maxKeys, sweepInterval: Duration.infinity }) as Effect.Effect<any, unknown, any>)
    return yield* (RateLimiter.make({ ...unlimited, name: "keys" }).pipe(
      Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
    ) as Effect.Effect<any, unknown, any>)
  })

/** Fills a policy's store with `HELD` keys (the first half of `keys`), then cycles through all of them. */
const fullThenCycling = (
  keys: ReadonlyArray<string>,
  call: (key: string) => Effect.Effect<unknown, unknown>
) =>
  Effect.as(
    Effect.forEach(keys.slice(0, HELD), (key) => Effect.exit(call(key)), { discard: true }),
    cycling([...keys.slice(HELD), ...keys.slice(0, HELD)], call)
  )

export const cases: ReadonlyArray<Case> = RateLimiter === undefined ? [] : [
  scopedCase({
    name: "ours: RateLimiter.execute, 16-character keys",
    group: "keys",
    lib: "ours",
    path: "success",
    note: "1,000 distinct keys, never evicted: the keyed success path",
    make: Effect.map(limiterOn(10_000), (limiter) => cycling(keysOf(1_000, 16), (key) => limiter.execute(succeed1, { key })))
  }),
  scopedCase({
    name: "ours: RateLimiter.execute, 1,024-character keys (the default maxKeyLength)",
    group: "keys",
    lib: "ours",
    path: "success",
    note: "1,000 distinct keys at the default bound: validation, namespacing and hashing of a 1 KB key",
    make: Effect.map(limiterOn(10_000), (limiter) => cycling(keysOf(1_000, 1024), (key) => limiter.execute(succeed1, { key })))
  }),
  scopedCase({
    name: "ours: RateLimiter.execute, a 16,000-character key refused",
    group: "keys",
    lib: "ours",
    path: "failure",
    note: "InvalidKeyError (TooLong): the length is checked first, the key is never scanned or hashed",
    make: Effect.map(limiterOn(10_000), (limiter) => {
      const key = "z".repeat(16_000)
      return () => limiter.execute(succeed1, { key })
    })
  }),
  scopedCase({
    name: "ours: RateLimiter memory store full (100,000 keys), a new key each call",
    group: "keys",
    lib: "ours",
    path: "success",
    note: "every call inserts a key the store never saw and evicts one (second chance): O(1) whatever the keys held",
    make: Effect.flatMap(limiterOn(HELD), (limiter) =>
      fullThenCycling(keysOf(2 * HELD, 16), (key) => limiter.execute(succeed1, { key })))
  }),
  ...(CircuitBreaker === undefined ? [] : [
    scopedCase({
      name: "ours: keyed CircuitBreaker, memory store full (100,000 circuits), a new key each call",
      group: "keys",
      lib: "ours",
      path: "success",
      note: "every call creates a circuit and drops the oldest idle one",
      make: Effect.gen(function*() {
        const store = yield* (CircuitBreaker.makeStoreMemory({ maxKeys: HELD }) as Effect.Effect<any, unknown, any>)
        const breaker = yield* (CircuitBreaker.make({
          name: "keys",
          tripPolicy: CircuitBreaker.consecutive(5),
          openDuration: "10 seconds"
        }).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)) as Effect.Effect<any, unknown, any>)
        return yield* fullThenCycling(keysOf(2 * HELD, 16), (key) => breaker.execute(succeed1, { key }))
      })
    })
  ]),
  ...(Idempotency === undefined ? [] : [
    scopedCase({
      name: "ours: Idempotency memory store full (100,000 keys), a new key each call, whenFull: \"evictOldest\"",
      group: "keys",
      lib: "ours",
      path: "success",
      note: "every call runs a new key and stores its Exit, dropping the oldest (the explicit opt-in)",
      make: Effect.gen(function*() {
        const store = yield* (Idempotency.makeStoreMemory({
          maxKeys: HELD,
          sweepInterval: Duration.infinity,
          whenFull: "evictOldest"
        }) as Effect.Effect<any, unknown, any>)
        const idem = yield* (Idempotency.make({ ttl: "1 hour", name: "keys" }).pipe(
          Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
        ) as Effect.Effect<any, unknown, any>)
        return yield* fullThenCycling(keysOf(2 * HELD, 16), (key) => idem.run(key, succeed1))
      })
    }),
    scopedCase({
      name: "ours: Idempotency memory store full (100,000 live keys), a new key each call refused (the default)",
      group: "keys",
      lib: "ours",
      path: "failure",
      note: "issue 17 §3: a full store refuses a new key (IdempotencyError StoreFull with retryAfter) instead of forgetting a live one",
      make: Effect.gen(function*() {
        const store = yield* (Idempotency.makeStoreMemory({ maxKeys: HELD, sweepInterval: Duration.infinity }) as Effect.Effect<
          any,
          unknown,
          any
        >)
        const idem = yield* (Idempotency.make({ ttl: "1 hour", name: "keys" }).pipe(
          Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
        ) as Effect.Effect<any, unknown, any>)
        return yield* fullThenCycling(keysOf(2 * HELD, 16), (key) => idem.run(key, succeed1))
      })
    })
  ]),
  ...(Fallback === undefined ? [] : [
    scopedCase({
      name: "ours: staleIfError memory LRU full (100,000 entries), a new key each call",
      group: "keys",
      lib: "ours",
      path: "success",
      note: "every success stores a new key and evicts the least recently used",
      make: Effect.gen(function*() {
        const cache = yield* (Fallback.staleIfError({ ttl: "1 hour", maxEntries: HELD, name: "keys" }) as Effect.Effect<
          any,
          unknown,
          any
        >)
        return yield* fullThenCycling(keysOf(2 * HELD, 16), (key) => cache.execute(succeed1, { key }))
      })
    })
  ])
]
