/**
 * Issue 17 §1–2 against a real redis-server (the memory half is in
 * test/reliability/Keys.test.ts):
 *
 * - every keyed API backed by a Redis store refuses what is not a key with
 *   `InvalidKeyError` before it talks to Redis: nothing is written (a lone
 *   surrogate would become U+FFFD on the wire, so two distinct keys would
 *   share one record);
 * - names and keys are namespaced unambiguously in Redis: policy `orders`
 *   with key `refund:42` is not policy `orders:refund` with key `42`, and a
 *   keyed call never shares the record of the call without a key;
 * - stores that serialise are bounded in bytes: a value larger than
 *   `maxValueBytes` is not stored, reported, and never fails the call.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Duration, Effect, Exit, Fiber, Layer, Option, Schema } from "effect"
import { Bulkhead, CircuitBreaker, Errors, Fallback, Idempotency, RateLimiter } from "effect-resilience"
import {
  BulkheadStore,
  CircuitBreakerStore,
  IdempotencyStore,
  RateLimiterStore,
  Redis,
  StaleStore
} from "effect-resilience/redis"
import { hasRedis, startRedis } from "../utils/redis-server.js"
import { collect } from "../utils/streams.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

let prefixes = 0
const uniquePrefix = () => `keys-test-${process.pid}-${++prefixes}:`

const connect = (url: string, prefix: string) =>
  Redis.make({ url, prefix, commandTimeout: "2 seconds", redis: { retryStrategy: () => 20 } })

/** Every Redis key under `prefix`. */
const keysUnder = (redis: Redis.RedisConnection) =>
  Effect.map(
    redis.use("KEYS", (c) => c.keys(`${redis.prefix}*`)),
    // the connection's own data-format announcement (and its clock mark) is no store's key
    (keys) => keys.filter((k) => k !== `${redis.prefix}format` && k !== `${redis.prefix}format:t`).sort()
  )

const BAD_KEYS: ReadonlyArray<readonly [string, unknown, Errors.InvalidKeyReason]> = [
  ["undefined", undefined, "NotAString"],
  ["null", null, "NotAString"],
  ["a number", 42, "NotAString"],
  ["an object", { id: 1 }, "NotAString"],
  ["a lone surrogate", "a\uD800", "NotWellFormed"],
  ["another lone surrogate", "a\uD801", "NotWellFormed"],
  ["1,025 characters", "k".repeat(1025), "TooLong"],
  ["16,000 characters", "z".repeat(16_000), "TooLong"]
]

/** The policies of one replica, each on its Redis store. */
const replica = (url: string, prefix: string) =>
  Effect.gen(function*() {
    const redis = yield* connect(url, prefix)
    const provideRedis = Effect.provideService(Redis.Redis, redis)
    const breakerStore = yield* CircuitBreakerStore.make().pipe(provideRedis)
    const breaker = (name: string) =>
      CircuitBreaker.make({ name, tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" }).pipe(
        Effect.provideService(CircuitBreaker.CircuitBreakerStore, breakerStore)
      )
    const limiterStore = yield* RateLimiterStore.make().pipe(provideRedis)
    const limiter = (name: string) =>
      RateLimiter.make({ limit: 1, window: "1 hour", name }).pipe(
        Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, limiterStore))
      )
    const idemStore = yield* IdempotencyStore.make({ pollInterval: "20 millis" }).pipe(provideRedis)
    const idempotency = (name: string) =>
      Idempotency.make({ ttl: "1 hour", name, success: Schema.String, failure: Schema.String }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, idemStore))
      )
    const staleStore = yield* StaleStore.make().pipe(provideRedis)
    const stale = (name: string) =>
      Fallback.staleIfError({ ttl: "1 hour", maxEntries: 10, name }).pipe(Effect.provideService(Fallback.StaleStore, staleStore))
    const bulkheadStore = yield* BulkheadStore.make().pipe(provideRedis)
    const bulkhead = (name: string) =>
      Bulkhead.make({ maxConcurrent: 1, name, metricsInterval: Duration.infinity }).pipe(
        Effect.provideService(Bulkhead.BulkheadStore, bulkheadStore)
      )
    return { redis, breaker, limiter, idempotency, stale, bulkhead }
  })

describe.skipIf(!hasRedis)("Keys (issue 17) with Redis stores (real redis-server)", () => {
  it.live("every Redis-backed keyed API × every bad key: InvalidKeyError before Redis is touched", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const r = yield* replica(server.url, uniquePrefix())
      const breaker = yield* r.breaker("keys")
      const limiter = yield* r.limiter("keys")
      const idem = yield* r.idempotency("keys")
      const cache = yield* r.stale("keys")
      const bulkhead = yield* r.bulkhead("keys")
      let runs = 0
      const work = Effect.sync(() => ++runs).pipe(Effect.as("ran"))
      const apis: ReadonlyArray<readonly [string, string, (key: any) => Effect.Effect<unknown, unknown>]> = [
        ["CircuitBreaker.execute", "CircuitBreaker", (key) => breaker.execute(work, { key })],
        ["CircuitBreaker.isolate", "CircuitBreaker", (key) => breaker.isolate(key)],
        ["RateLimiter.execute", "RateLimiter", (key) => limiter.execute(work, { key })],
        ["Idempotency.run", "Idempotency", (key) => idem.run(key, work)],
        ["Idempotency.invalidate", "Idempotency", (key) => idem.invalidate(key)],
        ["StaleIfError.execute", "StaleIfError", (key) => cache.execute(work, { key })],
        ["Bulkhead (redis).execute", "Bulkhead", (key) => bulkhead.execute(work, { key })],
        ["Bulkhead (redis).held", "Bulkhead", (key) => bulkhead.held(key)]
      ]
      const wrong: Array<string> = []
      for (const [api, kind, call] of apis) {
        for (const [label, key, reason] of BAD_KEYS) {
          // undefined is the unkeyed form where the key is optional (isolate, a bulkhead's execute and
          // held: the own circuit, the default partition): documented, not refused
          if (key === undefined && (api.endsWith(".isolate") || api.startsWith("Bulkhead"))) continue
          const exit = yield* Effect.exit(call(key))
          const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
          if (Option.isNone(error) || !Errors.isInvalidKeyError(error.value)) {
            wrong.push(`${api} × ${label}: ${Exit.isSuccess(exit) ? "accepted" : Cause.pretty(exit.cause)}`)
          } else if (error.value.reason !== reason || error.value.policy.kind !== kind) {
            wrong.push(`${api} × ${label}: ${error.value.reason} ${JSON.stringify(error.value.policy)}`)
          }
        }
      }
      assert.deepStrictEqual(wrong, [])
      assert.strictEqual(runs, 0)
      // nothing reached Redis: no circuit, bucket, lock, result, entry or lease
      assert.deepStrictEqual(yield* keysUnder(r.redis), [])
    }).pipe(Effect.scoped))

  it.live("names and keys never collide in Redis: orders + refund:42 vs orders:refund + 42, keyed vs unkeyed", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const r = yield* replica(server.url, uniquePrefix())

      // idempotency: two executions, each its own result (both were "orders:refund:42")
      const orders = yield* r.idempotency("orders")
      const refunds = yield* r.idempotency("orders:refund")
      assert.strictEqual(yield* orders.run("refund:42", Effect.succeed("order")), "order")
      assert.strictEqual(yield* refunds.run("42", Effect.succeed("refund")), "refund")

      // stale-if-error: another policy's value is never served
      const ordersCache = yield* r.stale("orders")
      const refundsCache = yield* r.stale("orders:refund")
      yield* ordersCache.execute(Effect.succeed("an order"), { key: "refund:42" })
      const failing: Effect.Effect<string, Unavailable> = Effect.fail(new Unavailable())
      const served = yield* Effect.either(refundsCache.execute(failing, { key: "42" }))
      assert.isTrue(served._tag === "Left" && served.left._tag === "Unavailable", "served another policy's value")

      // rate limits (limit 1): independent, keyed or not
      const ordersLimit = yield* r.limiter("orders")
      const refundsLimit = yield* r.limiter("orders:refund")
      yield* ordersLimit.execute(Effect.void, { key: "refund:42" })
      yield* refundsLimit.execute(Effect.void, { key: "42" })
      yield* ordersLimit.execute(Effect.void, { key: "refund" })
      yield* refundsLimit(Effect.void)

      // distributed bulkheads (1 permit): a held permit of one never fills the other
      const ordersBulkhead = yield* r.bulkhead("orders")
      const refundsBulkhead = yield* r.bulkhead("orders:refund")
      const held = yield* Effect.fork(ordersBulkhead.execute(Effect.never, { key: "refund:42" }))
      const heldDefault = yield* Effect.fork(refundsBulkhead(Effect.never))
      yield* Effect.repeat(ordersBulkhead.held("refund:42"), { until: (n) => n === 1 })
      yield* Effect.repeat(refundsBulkhead.held(), { until: (n) => n === 1 })
      assert.strictEqual(yield* refundsBulkhead.execute(Effect.succeed("admitted"), { key: "42" }), "admitted")
      assert.strictEqual(yield* ordersBulkhead.execute(Effect.succeed("admitted"), { key: "refund" }), "admitted")
      yield* Fiber.interrupt(held)
      yield* Fiber.interrupt(heldDefault)

      // circuit breakers: the own circuit is not the key "default"
      const breaker = yield* r.breaker("payments")
      yield* Effect.exit(breaker.execute(Effect.fail("down"), { key: "default" }))
      assert.strictEqual((yield* breaker.state("default"))._tag, "Open")
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
      assert.strictEqual(yield* breaker(Effect.succeed("own circuit")), "own circuit")
      // and a replica sees the same: its own circuit closed, the keyed one open
      const other = yield* replica(server.url, r.redis.prefix)
      const otherBreaker = yield* other.breaker("payments")
      assert.strictEqual((yield* otherBreaker.state())._tag, "Closed")
      assert.strictEqual((yield* otherBreaker.state("default"))._tag, "Open")

      // the Redis keys say so: length-prefixed, the unkeyed forms without a key part
      const keys = yield* keysUnder(r.redis)
      const p = r.redis.prefix
      for (
        const expected of [
          `${p}idem:r:6:orders:refund:42`,
          `${p}idem:r:13:orders:refund:42`,
          `${p}stale:6:orders:refund:42`,
          `${p}rl:tb:6:orders:refund:42`,
          `${p}rl:tb:13:orders:refund:42`,
          `${p}rl:tb:6:orders:refund`,
          `${p}rl:tb:13:orders:refund`,
          `${p}cb:{8:payments:default}`,
          `${p}cb:{8:payments}`
        ]
      ) assert.include(keys, expected)
    }).pipe(Effect.scoped))

  it.live("bounded by bytes: a value over maxValueBytes is not stored, is reported, and never fails the call", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url, uniquePrefix())
      const provideRedis = Effect.provideService(Redis.Redis, redis)
      const big = "x".repeat(2_000)

      // the stale store: the fresh answer is served, the write reported, nothing kept
      const staleStore = yield* StaleStore.make({ maxValueBytes: 1_000 }).pipe(provideRedis)
      const cache = yield* Fallback.staleIfError({ ttl: "1 hour", maxEntries: 10, name: "big" }).pipe(
        Effect.provideService(Fallback.StaleStore, staleStore)
      )
      const events = yield* collect(cache.events, 1) // returns once subscribed
      assert.strictEqual(yield* cache.execute(Effect.succeed(big), { key: "k" }), big)
      const [event] = yield* events
      assert.isTrue(event?._tag === "StoreError" && event.error.operation === "set", JSON.stringify(event))
      assert.strictEqual((yield* cache.stats()).storeErrors, 1)
      yield* cache.execute(Effect.succeed("small"), { key: "k" })
      const failing: Effect.Effect<string, Unavailable> = Effect.fail(new Unavailable())
      assert.strictEqual(yield* cache.execute(failing, { key: "k" }), "small")

      // the idempotency store: callers get the Exit, the failure is reported, nothing kept, the lock released
      const idemStore = yield* IdempotencyStore.make({ maxValueBytes: 1_000 }).pipe(provideRedis)
      const idem = yield* Idempotency.make({ ttl: "1 hour", name: "big", success: Schema.String, failure: Schema.String }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, idemStore))
      )
      assert.strictEqual(yield* idem.run("k", Effect.succeed(big)), big)
      assert.strictEqual(idem.unsafeStats().storeErrors, 1)
      const keys = yield* keysUnder(redis)
      assert.deepStrictEqual(keys.filter((k) => k.includes("idem:")), [])
      // not kept: the next call runs again (reported, not silent)
      assert.strictEqual(yield* idem.run("k", Effect.succeed("again")), "again")
      assert.strictEqual(idem.unsafeStats().executions, 2)
    }).pipe(Effect.scoped))
})
