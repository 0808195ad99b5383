/**
 * Issue 17 §4 (regression tests): every Redis store keeps its own bounds.
 *
 * - While Redis is paused, every store operation ends with the store's own
 *   `timeout` (150 ms here), not the connection's command timeout (a minute
 *   here: an operation that waited for it would not end within the test),
 *   whether the caller is interruptible or not, in its documented mode. No
 *   duration is measured: what ended each call is asserted.
 * - The stale store stamps entries with Redis `TIME`, not the writer's clock.
 * - A fail-open deployment starts while Redis is down (`Redis.layer` with
 *   `connect: "background"`), serves in its mode, and joins Redis when it
 *   comes back.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Duration, Effect, Exit, Layer, Option, Predicate, Schema, Stream } from "effect"
import { Bulkhead, CircuitBreaker, Fallback, Idempotency, RateLimiter } from "effect-resilience"
import { BulkheadStore, CircuitBreakerStore, IdempotencyStore, RateLimiterStore, Redis, StaleStore } from "effect-resilience/redis"
import { hasRedis, restartableRedis, startRedis } from "../utils/redis-server.js"
import { collect } from "../utils/streams.js"

let prefixes = 0
const uniquePrefix = () => `bounds-test-${process.pid}-${++prefixes}:`

/**
 * The connection's command timeout: the bound the stores used to wait for. Far beyond the test's own
 * timeout, so that an operation that waited for it would hang the test (see `mustEnd`).
 */
const COMMAND_TIMEOUT = 60_000
/** The stores' own timeout. */
const STORE_TIMEOUT = 150

const connect = (url: string, prefix = uniquePrefix(), commandTimeout = COMMAND_TIMEOUT) =>
  Redis.make({ url, prefix, commandTimeout: Duration.millis(commandTimeout), redis: { retryStrategy: () => 20 } })

/**
 * Runs `effect` and returns its exit. A guard against a hang, not a measure: an operation still running after
 * 10 s waits for the connection's command timeout (a minute), and fails the test with `label`.
 */
const mustEnd = <A, E>(label: string, effect: Effect.Effect<A, E>) =>
  Effect.exit(effect).pipe(
    Effect.disconnect,
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => `${label}: waited for the connection's command timeout` }),
    Effect.orDie
  )

/** The innermost cause of the failure in `exit` (its errors' `cause`s followed): what ended the call. */
const rootCause = (exit: Exit.Exit<unknown, unknown>): string => {
  let e: unknown = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
  while (Predicate.hasProperty(e, "cause") && e.cause !== undefined) e = e.cause
  return e instanceof Error ? e.message : String(e)
}

/** The error of the store's own timeout (`bounded`), not the connection's `command timeout (…)`. */
const STORE_TIMED_OUT = `timeout (${Duration.format(Duration.millis(STORE_TIMEOUT))})`

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

describe.skipIf(!hasRedis)("issue 17 §4: Redis stores keep their own timeout while Redis is paused", () => {
  it.live("bulkhead (fail closed and open), interruptible or not", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url)
      const onStore = Effect.provide(BulkheadStore.layer({ timeout: Duration.millis(STORE_TIMEOUT) }).pipe(Layer.provide(Layer.succeed(Redis.Redis, redis))))
      const closed = yield* Bulkhead.make({ maxConcurrent: 2, name: "closed", onStoreError: "fail" }).pipe(onStore)
      const open = yield* Bulkhead.make({ maxConcurrent: 2, name: "open" }).pipe(onStore)
      assert.strictEqual(yield* closed(Effect.succeed("warm")), "warm")
      yield* server.pause
      for (const wrap of [<A, E>(e: Effect.Effect<A, E>) => e, Effect.uninterruptible]) {
        const c = yield* mustEnd("closed", wrap(closed(Effect.succeed("no"))))
        assert.strictEqual(rootCause(c), STORE_TIMED_OUT)
        const o = yield* mustEnd("open", wrap(open(Effect.succeed("yes"))))
        assert.deepStrictEqual(o, Exit.succeed("yes"))
        const h = yield* mustEnd("held", closed.held())
        assert.strictEqual(rootCause(h), STORE_TIMED_OUT)
      }
      yield* server.resume
    }).pipe(Effect.scoped), { timeout: 20_000 })

  it.live("idempotency store (fail closed: nothing runs; fail open: runs unprotected)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url)
      const provide = Effect.provideService(Redis.Redis, redis)
      const make = (onStoreError: "fail" | "allow", name: string) =>
        Effect.flatMap(
          IdempotencyStore.make({ onStoreError, timeout: Duration.millis(STORE_TIMEOUT) }).pipe(provide),
          (store) =>
            Idempotency.make({ ttl: "1 minute", success: Schema.String, failure: Schema.String, name }).pipe(
              Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
            )
        )
      const closed = yield* make("fail", "closed")
      const open = yield* make("allow", "open")
      assert.strictEqual(yield* closed.run("warm", Effect.succeed("warm")), "warm")
      yield* server.pause
      let ran = 0
      const work = Effect.sync(() => `ran ${++ran}`)
      const c = yield* mustEnd("closed", closed.run("k1", work))
      assert.strictEqual(rootCause(c), STORE_TIMED_OUT)
      assert.strictEqual(ran, 0)
      // fail open: acquire times out, the effect runs, its completion is not awaited beyond the timeout
      const o = yield* mustEnd("open", open.run("k2", work))
      assert.deepStrictEqual(o, Exit.succeed("ran 1"))
      const i = yield* mustEnd("invalidate", closed.invalidate("k1"))
      assert.strictEqual(rootCause(i), STORE_TIMED_OUT)
      yield* server.resume
    }).pipe(Effect.scoped), { timeout: 20_000 })

  it.live("idempotency: an execution that completes while Redis is paused returns within the store's timeout", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url)
      const store = yield* IdempotencyStore.make({ timeout: Duration.millis(STORE_TIMEOUT) }).pipe(Effect.provideService(Redis.Redis, redis))
      const idem = yield* Idempotency.make({ ttl: "1 minute", success: Schema.String, failure: Schema.String }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      // acquired while Redis answers; Redis pauses while the effect runs: the completion must not hold the caller
      const result = yield* mustEnd("completion", idem.run("k", Effect.zipRight(server.pause, Effect.succeed("done"))))
      yield* server.resume
      assert.deepStrictEqual(result, Exit.succeed("done"))
    }).pipe(Effect.scoped), { timeout: 20_000 })

  it.live("rate limiter store (fail closed), interruptible or not", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url)
      const store = yield* RateLimiterStore.make({ timeout: Duration.millis(STORE_TIMEOUT) }).pipe(Effect.provideService(Redis.Redis, redis))
      const limiter = yield* RateLimiter.make({ limit: 10, window: "1 second", name: "bounded" }).pipe(
        Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
      )
      assert.strictEqual(yield* limiter(Effect.succeed("warm")), "warm")
      yield* server.pause
      for (const wrap of [<A, E>(e: Effect.Effect<A, E>) => e, Effect.uninterruptible]) {
        const r = yield* mustEnd("reserve", wrap(limiter(Effect.succeed("no"))))
        assert.strictEqual(rootCause(r), STORE_TIMED_OUT)
      }
      yield* server.resume
    }).pipe(Effect.scoped), { timeout: 20_000 })

  it.live("stale store: get, set and delete end within its timeout", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url)
      const store = yield* StaleStore.make({ timeout: Duration.millis(STORE_TIMEOUT) }).pipe(Effect.provideService(Redis.Redis, redis))
      yield* server.pause
      const now = Date.now()
      for (const wrap of [<A, E>(e: Effect.Effect<A, E>) => e, Effect.uninterruptible]) {
        for (const op of [store.get("k", now), store.set("k", { value: 1, storedAt: now, expiresAt: now + 60_000 }, now), store.delete("k")]) {
          const r = yield* mustEnd("stale store", wrap(op as Effect.Effect<unknown, Fallback.StaleStoreError>))
          assert.strictEqual(rootCause(r), STORE_TIMED_OUT)
        }
      }
      yield* server.resume
    }).pipe(Effect.scoped), { timeout: 20_000 })
})

describe.skipIf(!hasRedis)("issue 17 §4: the Redis stale store's time is Redis TIME", () => {
  it.live("a writer whose clock is an hour behind stamps entries with Redis's time: other replicas see them fresh", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const writerRedis = yield* connect(server.url, prefix)
      const readerRedis = yield* connect(server.url, prefix)
      const writer = yield* StaleStore.make().pipe(Effect.provideService(Redis.Redis, writerRedis))
      const reader = yield* StaleStore.make().pipe(Effect.provideService(Redis.Redis, readerRedis))
      const hour = 3_600_000
      const writerNow = Date.now() - hour
      // an entry with a 10-minute ttl, stamped by a writer an hour behind
      yield* writer.set("k", { value: 42, storedAt: writerNow, expiresAt: writerNow + 600_000 }, writerNow)
      const readerNow = Date.now()
      const entry = yield* reader.get("k", readerNow)
      assert.isTrue(Option.isSome(entry), "the entry is fresh for Redis: it must be served")
      const e = Option.getOrThrow(entry)
      assert.strictEqual(e.value, 42)
      // its times are shown in the reader's frame: stored just now, expiring in ~10 minutes
      assert.isAtMost(readerNow - e.storedAt, 5_000)
      assert.isAtLeast(readerNow - e.storedAt, 0)
      assert.isAbove(e.expiresAt - readerNow, 590_000)
      assert.strictEqual(writer.time, "wall")
    }).pipe(Effect.scoped), { timeout: 20_000 })

  it.live("an older value never overwrites a newer one (with the caller's clock)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url)
      const store = yield* StaleStore.make({ clock: "caller" }).pipe(Effect.provideService(Redis.Redis, redis))
      const now = Date.now()
      yield* store.set("k", { value: "new", storedAt: now, expiresAt: now + 60_000 }, now)
      yield* store.set("k", { value: "old", storedAt: now - 1_000, expiresAt: now + 59_000 }, now)
      const entry = yield* store.get("k", now)
      assert.strictEqual(Option.getOrThrow(entry).value, "new")
    }).pipe(Effect.scoped), { timeout: 20_000 })
})

describe.skipIf(!hasRedis)("issue 17 §5: stale-if-error on Redis never slows a fresh answer", () => {
  it.live("a fresh answer does not wait for its write with Redis paused; the failed write is reported", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      // no store timeout: a write with Redis paused ends at the connection's command timeout (500 ms)
      const redis = yield* connect(server.url, uniquePrefix(), 500)
      const store = yield* StaleStore.make().pipe(Effect.provideService(Redis.Redis, redis))
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, schema: Schema.Number, name: "paused" }).pipe(
        Effect.provideService(Fallback.StaleStore, store)
      )
      const errors = yield* collect(Stream.filter(cache.events, (e) => e._tag === "StoreError"), 1) // returns once subscribed
      assert.deepStrictEqual(yield* Effect.exit(Effect.succeed(1).pipe(cache)), Exit.succeed(1))
      yield* cache.flush
      yield* server.pause
      // the caller's answer does not wait for the write: it comes while no write has ended yet (a write can
      // only end at the command timeout, failing, and is counted then)
      for (const wrap of [<A, E>(e: Effect.Effect<A, E>) => e, Effect.uninterruptible]) {
        const paused = yield* Effect.exit(wrap(Effect.succeed(2).pipe(cache)))
        assert.deepStrictEqual(paused, Exit.succeed(2))
        assert.strictEqual((yield* cache.stats()).storeErrors, 0, "the answer came before its write ended")
      }
      // the newest value is served from memory while its write waits
      assert.strictEqual(yield* Effect.fail(new Unavailable()).pipe(Effect.as(0), cache), 2)
      // the write fails after the command timeout: reported (event and counter), never the caller's
      yield* cache.flush
      const [error] = yield* errors
      assert.strictEqual(error?._tag === "StoreError" && error.error.operation, "set")
      assert.isAtLeast((yield* cache.stats()).storeErrors, 1)
      yield* server.resume
    }).pipe(Effect.scoped), { timeout: 20_000 })

  it.live("without a schema, a value that does not survive JSON (a Date) is refused, never served mistyped", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url)
      const store = yield* StaleStore.make().pipe(Effect.provideService(Redis.Redis, redis))
      const withStore = Effect.provideService(Fallback.StaleStore, store)
      const cache = yield* Fallback.staleIfError<{ readonly at: Date }>({ ttl: "1 minute", maxEntries: 10, name: "dates" }).pipe(withStore)
      yield* Effect.succeed({ at: new Date(0) }).pipe(cache)
      yield* cache.flush
      assert.strictEqual((yield* cache.stats()).storeErrors, 1)
      const served = yield* Effect.either(cache.serve(Effect.fail(new Unavailable()), { key: "default" }))
      assert.isTrue(served._tag === "Left", "nothing stored: the failure surfaces")
      // plain JSON is kept
      const plain = yield* Fallback.staleIfError<{ readonly n: number; readonly tags: ReadonlyArray<string> }>({
        ttl: "1 minute",
        maxEntries: 10,
        name: "plain"
      }).pipe(withStore)
      yield* Effect.succeed({ n: 1, tags: ["a"] }).pipe(plain)
      yield* plain.flush
      assert.deepStrictEqual(yield* Effect.fail(new Unavailable()).pipe(Effect.as({ n: 0, tags: [] }), plain), { n: 1, tags: ["a"] })
    }).pipe(Effect.scoped), { timeout: 20_000 })

  it("types: a policy made with a schema accepts only effects of its type", () => {
    interface Quote {
      readonly price: number
    }
    const program = Effect.gen(function*() {
      // @ts-expect-error: a schema of numbers cannot type a policy of quotes
      yield* Fallback.staleIfError<Quote>({ ttl: "1 minute", maxEntries: 1, schema: Schema.Number })
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 1, schema: Schema.Number })
      // @ts-expect-error: the policy keeps numbers
      yield* Effect.succeed({ price: 1 }).pipe(cache)
      return yield* Effect.succeed(1).pipe(cache)
    }).pipe(Effect.provide(StaleStore.layer()))
    assert.isDefined(program)
  })

  it.live("with a schema, a value another policy of the same name stored as another type is never served: reported", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url)
      const store = yield* StaleStore.make().pipe(Effect.provideService(Redis.Redis, redis))
      const withStore = Effect.provideService(Fallback.StaleStore, store)
      // an older version of the service kept strings under the same name
      const strings = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, schema: Schema.String, name: "shared" }).pipe(withStore)
      yield* Effect.succeed("forty-two").pipe(strings)
      yield* strings.flush
      const numbers = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, schema: Schema.Number, name: "shared" }).pipe(withStore)
      const failing: Effect.Effect<number, Unavailable> = Effect.fail(new Unavailable())
      const served = yield* Effect.either(numbers.serve(failing))
      assert.isTrue(served._tag === "Left", "a string must not be served as a number")
      const stats = yield* numbers.stats()
      assert.strictEqual(stats.storeErrors, 1)
      assert.strictEqual(stats.served, 0)
    }).pipe(Effect.scoped), { timeout: 20_000 })
})

describe.skipIf(!hasRedis)("issue 17 §4: a fail-open deployment starts while Redis is down and joins it when it is back", () => {
  it.live("Redis.layer({ connect: \"background\" }) starts with Redis down; fail-open stores serve; then Redis is used", () =>
    Effect.gen(function*() {
      const server = yield* restartableRedis
      yield* server.kill
      const prefix = uniquePrefix()
      // the eager default fails at start
      const eager = yield* Effect.exit(Effect.scoped(Layer.build(Redis.layer({ url: server.url, connectTimeout: "300 millis" }))))
      assert.isTrue(Exit.isFailure(eager))
      const live = Redis.layer({
        url: server.url,
        prefix,
        connect: "background",
        commandTimeout: Duration.millis(COMMAND_TIMEOUT),
        redis: { retryStrategy: () => 20 }
      })
      yield* Effect.gen(function*() {
        const redis = yield* Redis.Redis
        assert.isFalse(redis.isReady())
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, name: "lazy" }).pipe(
          Effect.provide(BulkheadStore.layer({ timeout: Duration.millis(STORE_TIMEOUT) }))
        )
        const stale = yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10, name: "lazy" }).pipe(
          Effect.provide(StaleStore.layer())
        )
        // the Redis breaker store too: it subscribes to the other replicas' transitions once Redis answers
        const breaker = yield* CircuitBreaker.make({
          name: "lazy-breaker",
          tripPolicy: CircuitBreaker.consecutive(1),
          openDuration: "1 minute",
          onStoreError: "allow"
        }).pipe(Effect.provide(CircuitBreakerStore.layer({ timeout: Duration.millis(STORE_TIMEOUT) })))
        assert.strictEqual(yield* breaker(Effect.succeed("untracked")), "untracked")
        // down: the fail-open bulkhead runs without a lease (after its store's timeout), stale-if-error answers fresh, nothing hangs
        const down = yield* mustEnd("down", bulkhead(Effect.succeed("ran")))
        assert.deepStrictEqual(down, Exit.succeed("ran"))
        assert.strictEqual(bulkhead.unsafeTotals().allowedWithoutLease, 1)
        assert.strictEqual(yield* stale(Effect.succeed("fresh")), "fresh")
        // Redis comes back: the connection joins it in the background
        yield* server.restart
        yield* waitReady(redis)
        assert.strictEqual(yield* bulkhead(Effect.succeed("leased")), "leased")
        assert.strictEqual(bulkhead.unsafeTotals().allowedWithoutLease, 1)
        assert.strictEqual(yield* bulkhead.held(), 0)
        // the breaker now shares its circuit through Redis: a failure opens it
        yield* Effect.exit(breaker(Effect.fail(new Unavailable())))
        assert.strictEqual((yield* breaker.state())._tag, "Open")
        yield* stale(Effect.succeed("cached"))
        yield* stale.flush
        assert.strictEqual(yield* stale(Effect.fail(new Unavailable())), "cached")
      }).pipe(Effect.provide(live))
    }).pipe(Effect.scoped), { timeout: 30_000 })
})

/** Waits (real time) until the connection is ready, at most ~10 s. */
const waitReady = (redis: Redis.RedisConnection) =>
  Effect.promise(async () => {
    for (let i = 0; i < 400 && !redis.isReady(); i++) await new Promise((r) => setTimeout(r, 25))
    if (!redis.isReady()) throw new Error("Redis did not come back")
  })
