/**
 * The Redis `RateLimiterStore` against a real redis-server: the same answers
 * as the memory store (model-based, under TestClock with the caller's clock),
 * limits shared by replicas (Redis TIME), uncharged rejections and refunds in
 * "delay" mode, keys that expire, and what happens when Redis is paused,
 * killed and restarted.
 */
import * as RateLimiterRedis from "@effect/experimental/RateLimiter/Redis"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Either, Exit, Fiber, Layer, Random, Schedule, TestClock } from "effect"
import { Policy, RateLimiter } from "effect-resilience"
import { RateLimiterStore, Redis } from "effect-resilience/redis"
import { MemoryCore } from "../../src/internal/rateLimiter/memoryStore.js"
import { hasRedis, restartableRedis, startRedis } from "../utils/redis-server.js"
import { counterTotal } from "../utils/metrics.js"
import { pollUntil } from "../utils/realTime.js"

let prefixes = 0
const uniquePrefix = () => `rl-test-${process.pid}-${++prefixes}:`

/** A connection that reconnects quickly (tests restart the server). */
const connect = (url: string, prefix: string, commandTimeout: Duration.DurationInput = "1 second") =>
  Redis.make({ url, prefix, commandTimeout, redis: { retryStrategy: () => 20 } })

const tb = (key: string, tokens: number, limit: number, windowMillis: number, maxDelayMillis: number): RateLimiter.ReserveRequest => ({
  key,
  algorithm: "token-bucket",
  tokens,
  limit,
  windowMillis,
  maxDelayMillis
})

describe.skipIf(!hasRedis)("Redis RateLimiterStore (real redis-server)", () => {
  it.scoped("gives the memory store's answers, call for call (model-based, caller's clock under TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      for (let seed = 1; seed <= 6; seed++) {
        const redis = yield* connect(server.url, uniquePrefix())
        const store = yield* RateLimiterStore.make({ clock: "caller" }).pipe(Effect.provideService(Redis.Redis, redis))
        const atomic = store[RateLimiter.AtomicStoreTypeId]
        const model = new MemoryCore(1_000)
        const run = Effect.gen(function*() {
          const limit = yield* Random.nextIntBetween(1, 6)
          const windowMillis = (yield* Random.nextIntBetween(1, 4)) * 1_000 + (seed % 3 === 0 ? 1 : 0) // fractional refills too
          const admitted: Array<[RateLimiter.ReserveRequest, RateLimiter.Reservation]> = []
          for (let step = 0; step < 40; step++) {
            yield* TestClock.adjust(Duration.millis(yield* Random.nextIntBetween(0, Math.ceil((2 * windowMillis) / limit))))
            const now = yield* TestClock.currentTimeMillis
            const key = (yield* Random.nextBoolean) ? "a" : "b"
            const tokens = yield* Random.nextIntBetween(1, limit + 1)
            const op = yield* Random.nextIntBetween(0, 10)
            const refill = Duration.millis(windowMillis / limit)
            if (op <= 5) {
              const kind = yield* Random.nextIntBetween(0, 3)
              const maxDelay = kind === 0 ? 0 : kind === 1 ? Infinity : yield* Random.nextIntBetween(0, 2 * windowMillis)
              const algorithm = (yield* Random.nextBoolean) ? "token-bucket" : "fixed-window"
              const request: RateLimiter.ReserveRequest = { ...tb(key, tokens, limit, windowMillis, maxDelay), algorithm }
              const expected = model.reserve(now, request)
              const actual = yield* atomic.reserve(request)
              const { generation: _g1, ...e } = expected
              const { generation: _g2, ...a } = actual
              assert.deepStrictEqual(a, e, `seed ${seed} step ${step}: reserve ${JSON.stringify(request)}`)
              if (actual.admitted) admitted.push([request, actual])
              if (expected.admitted) admitted[admitted.length - 1]!.push(expected)
            } else if (op === 6 && admitted.length > 0) {
              // refund one of the admitted reservations: only the latest charge of its key is given back
              const i = yield* Random.nextIntBetween(0, admitted.length)
              const [request, actual, expected] = admitted[i] as unknown as [
                RateLimiter.ReserveRequest,
                RateLimiter.Reservation,
                RateLimiter.Reservation
              ]
              model.refund(now, request, expected)
              yield* atomic.refund(request, actual)
            } else if (op <= 8) {
              const allowOverflow = yield* Random.nextBoolean
              const expected = model.tokenBucket(now, `tb-${key}`, tokens, limit, Duration.toMillis(refill), allowOverflow)
              const actual = yield* store.tokenBucket({ key: `tb-${key}`, tokens, limit, refillRate: refill, allowOverflow })
              assert.strictEqual(actual, expected, `seed ${seed} step ${step}: tokenBucket`)
            } else {
              const capped = yield* Random.nextBoolean
              const expected = model.fixedWindow(now, `fw-${key}`, tokens, Duration.toMillis(refill), capped ? limit : undefined)
              const actual = yield* store.fixedWindow({ key: `fw-${key}`, tokens, refillRate: refill, limit: capped ? limit : undefined })
              assert.deepStrictEqual(actual, expected, `seed ${seed} step ${step}: fixedWindow`)
            }
          }
        })
        yield* Effect.withRandom(run, Random.make(seed))
      }
    }))

  it.live("replicas share one limit (time from Redis TIME)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const replica = Effect.gen(function*() {
        const redis = yield* connect(server.url, prefix)
        const store = yield* RateLimiterStore.make().pipe(Effect.provideService(Redis.Redis, redis))
        return yield* RateLimiter.make({ limit: 5, window: "1 minute", name: "shared" }).pipe(
          Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
        )
      })
      const a = yield* replica
      const b = yield* replica
      const calls = Array.from({ length: 16 }, (_, i) => Effect.either(Effect.succeed(i).pipe(i % 2 === 0 ? a : b)))
      const results = yield* Effect.all(calls, { concurrency: "unbounded" })
      const admitted = results.filter(Either.isRight).length
      assert.strictEqual(admitted, 5)
      for (const r of results) {
        if (Either.isLeft(r)) {
          assert.strictEqual(r.left._tag, "RateLimitExceededError")
          if (r.left._tag === "RateLimitExceededError") assert.isTrue(Duration.toMillis(r.left.retryAfter) > 0)
        }
      }
      // per key, across replicas, with the fixed-window algorithm too
      const fw = (redisUrl: string) =>
        Effect.gen(function*() {
          const redis = yield* connect(redisUrl, prefix)
          const store = yield* RateLimiterStore.make().pipe(Effect.provideService(Redis.Redis, redis))
          return yield* RateLimiter.make({ limit: 3, window: "1 minute", algorithm: "fixed-window", name: "fw" }).pipe(
            Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
          )
        })
      const c = yield* fw(server.url)
      const d = yield* fw(server.url)
      const keyed = yield* Effect.all(
        Array.from({ length: 10 }, (_, i) => Effect.either(Effect.succeed(i).pipe((i % 2 === 0 ? c : d).execute({ key: "tenant" })))),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(keyed.filter(Either.isRight).length, 3)
      const other = yield* Effect.either(Effect.succeed(0).pipe(c.execute({ key: "other-tenant" })))
      assert.isTrue(Either.isRight(other))
    }).pipe(Effect.scoped))

  it.live("experimental's Redis store works under the policy too (plain protocol), but its token buckets never expire", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const port = Number(new URL(server.url).port)
      // each replica: its own experimental store (own connection), open for the test's scope
      const replica = Effect.flatMap(
        RateLimiterRedis.make({ host: "127.0.0.1", port, prefix }),
        (store) =>
          RateLimiter.make({ limit: 3, window: "1 minute", name: "exp" }).pipe(
            Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
          )
      )
      const a = yield* replica
      const b = yield* replica
      const results = yield* Effect.all(
        Array.from({ length: 8 }, (_, i) => Effect.either((i % 2 === 0 ? a : b)(Effect.succeed(i)))),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter(Either.isRight).length, 3)
      const redis = yield* connect(server.url, prefix)
      // why this library has its own store: experimental's bucket (and its refill key) are kept forever
      // (the limiter's store key: `<name.length>:<name>`)
      assert.strictEqual(yield* redis.use("PTTL", (c) => c.pttl(`${prefix}3:exp`)), -1)
      assert.strictEqual(yield* redis.use("PTTL", (c) => c.pttl(`${prefix}3:exp:refill`)), -1)
    }).pipe(Effect.scoped))

  it.live("experimental's Redis layer is honoured: alone (no adapter), through layerStoreExperimental, and second to ours", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const port = Number(new URL(server.url).port)
      const theirs = RateLimiterRedis.layerStore({ host: "127.0.0.1", port, prefix })
      const redis = yield* connect(server.url, prefix)
      const exists = (key: string) => redis.use("EXISTS", (c) => c.exists(key))
      const limited = (name: string) =>
        Effect.gen(function*() {
          const limiter = yield* RateLimiter.make({ limit: 1, window: "1 minute", name })
          const first = yield* Effect.either(limiter(Effect.void))
          const second = yield* Effect.either(limiter(Effect.void))
          return [Policy.describe(limiter).options.store, Either.isRight(first), Either.isRight(second)]
        }).pipe(Effect.scoped)
      // experimental's layer alone, as a user of its RateLimiter provides it: used (plain protocol), in Redis
      assert.deepStrictEqual(yield* limited("alone").pipe(Effect.provide(theirs)), ["plain", true, false])
      assert.strictEqual(yield* exists(`${prefix}5:alone`), 1)
      // through the adapter
      const adapted = RateLimiter.layerStoreExperimental.pipe(Layer.provide(theirs))
      assert.deepStrictEqual(yield* limited("adapted").pipe(Effect.provide(adapted)), ["plain", true, false])
      assert.strictEqual(yield* exists(`${prefix}7:adapted`), 1)
      // ours provided too: ours is used, experimental's store is not touched
      const ours = RateLimiterStore.layer().pipe(Layer.provide(Layer.succeed(Redis.Redis, redis)))
      assert.deepStrictEqual(yield* limited("both").pipe(Effect.provide(Layer.merge(ours, theirs))), ["atomic", true, false])
      assert.strictEqual(yield* exists(`${prefix}4:both`), 0)
      assert.strictEqual(yield* exists(`${prefix}rl:tb:4:both`), 1)
    }).pipe(Effect.scoped))

  it.scoped("\"delay\" mode: a rejected call is never charged, an interrupted waiter gets its tokens back", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url, uniquePrefix())
      const store = yield* RateLimiterStore.make({ clock: "caller" }).pipe(Effect.provideService(Redis.Redis, redis))
      const limiter = yield* RateLimiter.make({
        limit: 2,
        window: "1 second",
        onExceeded: "delay",
        maxDelay: "600 millis",
        name: "delay"
      }).pipe(Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store)))
      const bucket = `${redis.prefix}rl:tb:5:delay`
      const tokens = redis.use("HGET", (c) => c.hget(bucket, "t"))
      yield* limiter(Effect.void)
      yield* limiter(Effect.void)
      assert.strictEqual(yield* tokens, "0")
      // the third call waits 500 ms for its token
      const waiting = yield* Effect.fork(limiter(Effect.succeed("third")))
      // its reserve reaches Redis (real I/O): the bucket goes to -1
      yield* pollUntil(Effect.map(tokens, (t) => t === "-1"))
      // a fourth would wait 1000 ms > maxDelay: rejected, and nothing taken
      const fourth = yield* Effect.flip(limiter(Effect.succeed("fourth")))
      assert.strictEqual(fourth._tag, "RateLimitExceededError")
      if (fourth._tag === "RateLimitExceededError") {
        assert.strictEqual(fourth.reason, "MaxDelayExceeded")
        assert.strictEqual(Duration.toMillis(fourth.retryAfter), 400)
      }
      assert.strictEqual(yield* tokens, "-1")
      // the waiter is interrupted: its token comes back
      yield* Fiber.interrupt(waiting)
      assert.strictEqual(yield* tokens, "0")
      // a later waiter runs once its slot comes (TestClock drives the wait)
      const later = yield* Effect.fork(limiter(Effect.succeed("later")))
      // reserved in Redis (real I/O), then asleep on the TestClock until its slot
      yield* pollUntil(Effect.map(TestClock.sleeps(), (sleeps) => Chunk.size(sleeps) > 0))
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* Fiber.join(later), "later")
      assert.deepStrictEqual(limiter.unsafeStats(), { permitted: 2, delayed: 2, rejected: 1, storeErrors: 0 })
    }))

  it.live("every key expires once it is idle (bounded memory)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url, uniquePrefix())
      const store = yield* RateLimiterStore.make().pipe(Effect.provideService(Redis.Redis, redis))
      const limiter = yield* RateLimiter.make({ limit: 10, window: "10 seconds", name: "ttl" }).pipe(
        Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
      )
      const fixed = yield* RateLimiter.make({ limit: 10, window: "10 seconds", algorithm: "fixed-window", name: "ttl" }).pipe(
        Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
      )
      yield* Effect.succeed(1).pipe(limiter.execute({ key: "k", cost: 3 }))
      yield* Effect.succeed(1).pipe(fixed.execute({ key: "k", cost: 2 }))
      yield* store.tokenBucket({ key: "plain", tokens: 1, limit: 10, refillRate: Duration.seconds(1), allowOverflow: false })
      yield* store.fixedWindow({ key: "plain", tokens: 1, refillRate: Duration.seconds(1), limit: undefined })
      const ttl = (key: string) => redis.use("PTTL", (c) => c.pttl(`${redis.prefix}rl:${key}`))
      const tbTtl = yield* ttl("tb:3:ttl:k") // 3 tokens missing: full again in 3 s
      assert.isTrue(tbTtl > 2_000 && tbTtl <= 3_000, `token bucket ttl ${tbTtl}`)
      const fwTtl = yield* ttl("fw:3:ttl:k") // 2 tokens of 1 s each
      assert.isTrue(fwTtl > 1_000 && fwTtl <= 2_000, `fixed window ttl ${fwTtl}`)
      assert.isTrue((yield* ttl("tb:plain")) > 0)
      assert.isTrue((yield* ttl("fw:plain")) > 0)
      // nothing is written without an expiry
      const keys = yield* redis.use("KEYS", (c) => c.keys(`${redis.prefix}*`))
      for (const key of keys) {
        const pttl = yield* redis.use("PTTL", (c) => c.pttl(key))
        assert.isTrue(key.endsWith(":seq") || pttl > 0, `${key} has no expiry`)
      }
    }).pipe(Effect.scoped))

  it.live("Redis paused, killed, restarted: no hang beyond the timeout, fail or allow as configured, then recovery", () =>
    Effect.gen(function*() {
      const server = yield* restartableRedis
      const redis = yield* connect(server.url, uniquePrefix(), "100 millis")
      const store = yield* RateLimiterStore.make({ timeout: "80 millis" }).pipe(Effect.provideService(Redis.Redis, redis))
      const provide = Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
      const closed = yield* RateLimiter.make({ limit: 2, window: "1 minute", name: "closed" }).pipe(provide)
      const open = yield* RateLimiter.make({ limit: 2, window: "1 minute", name: "open", onStoreError: "allow" }).pipe(provide)
      yield* closed(Effect.void)
      yield* open(Effect.void)

      // paused: commands hang; the timeout ends them
      yield* server.pause
      const pausedClosed = yield* Effect.flip(closed(Effect.succeed("ran")))
      assert.strictEqual(pausedClosed._tag, "RateLimiterStoreError")
      assert.strictEqual(yield* open(Effect.succeed("ran")), "ran")
      yield* server.resume

      // killed: commands fail fast
      yield* server.kill
      const killed = yield* Effect.exit(closed(Effect.succeed("ran")))
      assert.isTrue(Exit.isFailure(killed))
      assert.strictEqual(yield* open(Effect.succeed("ran anyway")), "ran anyway")

      // restarted empty: once reconnected, limits apply again (from scratch: the state was lost)
      yield* server.restart
      const recovered = yield* closed(Effect.succeed("ok")).pipe(
        Effect.retry({ while: (e) => e._tag === "RateLimiterStoreError", times: 200, schedule: Schedule.spaced("20 millis") })
      )
      assert.strictEqual(recovered, "ok")
      yield* closed(Effect.void)
      const over = yield* Effect.flip(closed(Effect.void))
      assert.strictEqual(over._tag, "RateLimitExceededError")

      assert.strictEqual(closed.unsafeStats().storeErrors >= 2, true)
      assert.strictEqual(open.unsafeStats().storeErrors, 2)
      assert.isTrue(store.unsafeStats().storeErrors >= 4)
      assert.strictEqual(yield* counterTotal("resilience_rate_limiter_store_errors", { policy: "open" }), 2)
      assert.isTrue((yield* counterTotal("resilience_redis_store_errors", { store: "rate-limiter", prefix: "rl:" })) >= 4)
    }).pipe(Effect.scoped))

  it.live("a reserve that timed out while Redis was paused charges nothing when Redis resumes (token bucket and fixed window)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      // the store under test times out at 100 ms (its reserves while Redis is paused fail); its connection
      // and a second store that reads the keys afterwards wait long enough for a loaded machine
      const redis = yield* connect(server.url, prefix, "10 seconds")
      const store = yield* RateLimiterStore.make({ timeout: "100 millis" }).pipe(Effect.provideService(Redis.Redis, redis))
      const reader = yield* RateLimiterStore.make({ timeout: "10 seconds" }).pipe(
        Effect.provideService(Redis.Redis, yield* connect(server.url, prefix, "10 seconds"))
      )
      const atomic = store[RateLimiter.AtomicStoreTypeId]
      const read = reader[RateLimiter.AtomicStoreTypeId]
      const fw = (key: string): RateLimiter.ReserveRequest => ({ ...tb(key, 1, 3, 60_000, 0), algorithm: "fixed-window" })
      // the reserve script loaded while Redis answers (the script cache is the server's)
      assert.isTrue((yield* read.reserve(tb("warm", 1, 3, 60_000, 0))).admitted)
      yield* Effect.acquireRelease(server.pause, () => server.resume)
      const late = yield* Effect.all([Effect.flip(atomic.reserve(tb("bucket", 1, 3, 60_000, 0))), Effect.flip(atomic.reserve(fw("window")))])
      assert.deepStrictEqual(late.map((e) => e._tag), ["RateLimiterError", "RateLimiterError"])
      yield* server.resume
      // the late reserves run, and their cancels right behind them (a PING behind those: all done)
      yield* Effect.promise(() => redis.client.ping())
      const bucket = yield* read.reserve(tb("bucket", 1, 3, 60_000, 0))
      const window = yield* read.reserve(fw("window"))
      assert.deepStrictEqual([bucket.admitted, bucket.remaining], [true, 2])
      assert.deepStrictEqual([window.admitted, window.remaining], [true, 2])
    }).pipe(Effect.scoped))

  it.live("the cancel of a late reserve gives back that charge only: not a later one, not a refused one", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      // (generous timeouts: nothing here is meant to time out)
      const redis = yield* connect(server.url, uniquePrefix(), "10 seconds")
      const store = yield* RateLimiterStore.make({ timeout: "10 seconds" }).pipe(Effect.provideService(Redis.Redis, redis))
      const atomic = store[RateLimiter.AtomicStoreTypeId]
      const impl = store as unknown as { cancelLate: (r: RateLimiter.ReserveRequest, id: string) => Effect.Effect<void>; instance: string; reservations: number }
      const request = tb("k", 1, 2, 60_000, 0)
      /** Cancels the reservation made `back` reserves ago, and waits until Redis has run it (a PING behind it). */
      const cancel = (back: number) =>
        Effect.zipRight(
          impl.cancelLate(request, `${impl.instance}:${impl.reservations - back}`),
          Effect.promise(() => redis.client.ping())
        )
      assert.isTrue((yield* atomic.reserve(request)).admitted) // #1
      assert.isTrue((yield* atomic.reserve(request)).admitted) // #2
      // #1 is no longer the key's latest charge: its cancel changes nothing
      yield* cancel(1)
      assert.isFalse((yield* atomic.reserve(request)).admitted) // #3, refused: charges nothing
      // #3 was refused: its cancel changes nothing either
      yield* cancel(0)
      assert.isFalse((yield* atomic.reserve(request)).admitted) // #4
      // the latest charge (#2) is given back by its cancel, once
      yield* cancel(2)
      yield* cancel(2)
      const after = yield* atomic.reserve(request) // #5
      assert.deepStrictEqual([after.admitted, after.remaining], [true, 0])
    }).pipe(Effect.scoped))
})
