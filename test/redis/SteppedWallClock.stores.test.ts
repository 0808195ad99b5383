/**
 * The Redis bulkhead, rate limiter, idempotency and stale stores under a stepped wall clock on the
 * Redis host (an NTP step, a VM resume), with the default `clock: "redis"` (the scripts read Redis
 * `TIME`). A real redis-server runs with its wall clock stepped by test/utils/native/wallclock-shim.c
 * (its monotonic clock runs on). Leases, refills and windows are short and real time passes: the
 * tests wait for it, never assert on it.
 *
 * The promise (DESIGN "Bounded time"): after a step back, what remains of each stored instant is at
 * most its own length (a lease ends within its TTL, a bucket refills, a window ends within its
 * length); a step forward may end things early (over-admission, characterised here), it never
 * wedges anything. The bulkhead and idempotency stores see a step by a key's mark (the latest Redis
 * `TIME` their scripts saw for it), never by the caller's configured length: replicas running
 * different lengths (the last describe, no step) must not shorten each other's leases or locks.
 * The connection's data-format announcement sees a step the same way (the format hash's mark).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Option, Schema, Scope } from "effect"
import { Idempotency, RateLimiter } from "effect-resilience"
import { BulkheadStore, IdempotencyStore, RateLimiterStore, Redis, StaleStore } from "effect-resilience/redis"
import { hasRedis, startRedis, startSteppableRedis, wallClockShim } from "../utils/redis-server.js"
import { announceFormat } from "../../src/redis/internal/redis.js"
import { realSleep } from "./fixtures/breaker-redis.js"

const HOUR = 3_600_000

const canStep = hasRedis && wallClockShim !== undefined

const connect = (url: string, prefix: string) => Redis.make({ url, prefix, commandTimeout: "2 seconds" })

// --- bulkhead -----------------------------------------------------------------------------

/** One partition's leases of a Redis bulkhead store (the store's own API: a lease never released is a crashed holder's). */
const bulkheadLeases = (url: string, leaseTtl: Duration.DurationInput) =>
  Effect.gen(function*() {
    const redis = yield* connect(url, "step-bh:")
    const store = yield* BulkheadStore.make({ leaseTtl, pollInterval: "20 millis" }).pipe(Effect.provideService(Redis.Redis, redis))
    // a Redis store always shares its leases
    const leases = yield* store.leases!("wall")
    return leases.partition(undefined)
  })

const acquired = (a: { readonly _tag: string }) => a._tag === "Acquired"
const retryAfter = (a: { readonly _tag: "Acquired"; readonly lease: string } | { readonly _tag: "Full"; readonly retryAfter: number }) =>
  a._tag === "Full" ? a.retryAfter : -1

// --- rate limiter -------------------------------------------------------------------------

const rateLimiterStore = (url: string) =>
  Effect.gen(function*() {
    const redis = yield* connect(url, "step-rl:")
    const store = yield* RateLimiterStore.make().pipe(Effect.provideService(Redis.Redis, redis))
    return { store, atomic: store[RateLimiter.AtomicStoreTypeId] }
  })

const request = (
  algorithm: "token-bucket" | "fixed-window",
  key: string,
  tokens: number,
  limit: number,
  windowMillis: number
): RateLimiter.ReserveRequest => ({ key, algorithm, tokens, limit, windowMillis, maxDelayMillis: 0 })

// --- idempotency ---------------------------------------------------------------------------

const idempotencyStore = (url: string, lockTtl: Duration.DurationInput) =>
  Effect.flatMap(connect(url, "step-idem:"), (redis) =>
    IdempotencyStore.make({ lockTtl, pollInterval: "20 millis" }).pipe(Effect.provideService(Redis.Redis, redis)))

/** A policy keeping Exits for `ttl` on its own store; `runs` counts the executions. */
const idempotent = (url: string, ttl: Duration.DurationInput) =>
  Effect.gen(function*() {
    const store = yield* idempotencyStore(url, "30 seconds")
    const policy = yield* Idempotency.make({ ttl, success: Schema.Number, failure: Schema.Never, name: "wall" }).pipe(
      Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
    )
    let runs = 0
    const run = policy.run("k", Effect.sync(() => ++runs))
    return { run, runs: () => runs }
  })

describe.skipIf(!canStep)("Redis stores under a stepped wall clock on the Redis host (real redis-server)", () => {
  describe("BulkheadStore (clock: \"redis\")", () => {
    it.scopedLive("a crashed holder's lease is not stretched by a step back: its slot frees after leaseTtl", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const leases = yield* bulkheadLeases(server.url, "300 millis")
        // a holder that crashed: its lease is never released
        assert.isTrue(acquired(yield* leases.acquire(1)))
        yield* server.stepWallClock(-HOUR)
        const full = yield* leases.acquire(1)
        assert.strictEqual(full._tag, "Full")
        assert.isAtMost(retryAfter(full), 300)
        assert.isAtMost(yield* leases.held, 1)
        yield* realSleep(450)
        assert.strictEqual(yield* leases.held, 0)
        assert.isTrue(acquired(yield* leases.acquire(1)))
      }))

    it.scopedLive("held counts no lease of a crashed holder past leaseTtl after a step back", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const leases = yield* bulkheadLeases(server.url, "300 millis")
        assert.isTrue(acquired(yield* leases.acquire(1)))
        yield* server.stepWallClock(-HOUR)
        assert.strictEqual(yield* leases.held, 1)
        yield* realSleep(450)
        assert.strictEqual(yield* leases.held, 0)
      }))

    it.scopedLive("a step back leaves a live holder's lease renewable and bounded by leaseTtl", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const leases = yield* bulkheadLeases(server.url, "300 millis")
        const first = yield* leases.acquire(2)
        const crashed = yield* leases.acquire(2)
        assert.isTrue(acquired(first) && acquired(crashed))
        yield* server.stepWallClock(-HOUR)
        // the live holder renews every third of leaseTtl: renewed, not lost
        for (let i = 0; i < 5; i++) {
          yield* realSleep(100)
          assert.strictEqual(yield* leases.renew(first._tag === "Acquired" ? first.lease : "", 2), "Renewed")
        }
        // the crashed holder's lease ended after leaseTtl: its slot is free again
        assert.isTrue(acquired(yield* leases.acquire(2)))
        assert.strictEqual(yield* leases.held, 2)
      }))

    it.scopedLive("a step forward expires the leases early: a full partition admits up to maxConcurrent more (never wedged)", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const leases = yield* bulkheadLeases(server.url, "1 hour")
        const live = yield* leases.acquire(1)
        assert.isTrue(acquired(live))
        assert.strictEqual((yield* leases.acquire(1))._tag, "Full")
        yield* server.stepWallClock(HOUR + 1_000)
        // the live holder's lease expired: a second call is admitted while the first still runs
        const second = yield* leases.acquire(1)
        assert.isTrue(acquired(second))
        // the first holder's renewal finds its lease gone and no room: lost
        assert.strictEqual(yield* leases.renew(live._tag === "Acquired" ? live.lease : "", 1), "Lost")
        if (second._tag === "Acquired") yield* leases.release(second.lease)
        assert.isTrue(acquired(yield* leases.acquire(1)))
      }))
  })

  describe("RateLimiterStore (clock: \"redis\")", () => {
    for (const algorithm of ["token-bucket", "fixed-window"] as const) {
      it.scopedLive(`${algorithm}: a step back does not stop refills; rejected calls meanwhile do not postpone them`, () =>
        Effect.gen(function*() {
          const server = yield* startSteppableRedis
          const { atomic } = yield* rateLimiterStore(server.url)
          // limit 2 per 400 ms: a token every 200 ms
          const take = (tokens: number) => atomic.reserve(request(algorithm, "k", tokens, 2, 400))
          assert.isTrue((yield* take(2)).admitted)
          yield* server.stepWallClock(-HOUR)
          const rejected = yield* take(1)
          assert.isFalse(rejected.admitted)
          assert.isAtMost(rejected.retryAfterMillis, 400)
          assert.isAtMost(rejected.resetMillis ?? Infinity, 400)
          // rejected calls while waiting (they must not move the refill along with them)
          yield* realSleep(150)
          yield* take(1)
          yield* realSleep(150)
          yield* take(1)
          yield* realSleep(150)
          assert.isTrue((yield* take(1)).admitted)
        }))
    }

    it.scopedLive("experimental's tokenBucket and fixedWindow: a step back does not stop refills, nor stretch a window's TTL", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const { store } = yield* rateLimiterStore(server.url)
        const bucket = (tokens: number) =>
          store.tokenBucket({ key: "tb", tokens, limit: 2, refillRate: Duration.millis(200), allowOverflow: false })
        const window = (tokens: number) => store.fixedWindow({ key: "fw", tokens, refillRate: Duration.millis(200), limit: 2 })
        assert.strictEqual(yield* bucket(2), 0)
        assert.deepStrictEqual((yield* window(2))[0], 2)
        yield* server.stepWallClock(-HOUR)
        assert.isBelow(yield* bucket(1), 0)
        const [count, ttl] = yield* window(1)
        assert.strictEqual(count, 3)
        assert.isAtMost(ttl, 400)
        yield* realSleep(150)
        yield* bucket(1)
        yield* window(1)
        yield* realSleep(150)
        yield* bucket(1)
        yield* window(1)
        yield* realSleep(150)
        assert.isAtLeast(yield* bucket(1), 0)
        // a new window (the old one would count 6 now): 1, or 2 when a loaded machine slept the
        // calls above past the window's end (real time)
        assert.isAtMost((yield* window(1))[0], 2)
      }))

    for (const algorithm of ["token-bucket", "fixed-window"] as const) {
      it.scopedLive(`${algorithm}: a step forward refills at once (up to one limit admitted early), never wedges`, () =>
        Effect.gen(function*() {
          const server = yield* startSteppableRedis
          const { atomic } = yield* rateLimiterStore(server.url)
          // limit 2 per hour
          const take = (tokens: number) => atomic.reserve(request(algorithm, "k", tokens, 2, HOUR))
          assert.isTrue((yield* take(2)).admitted)
          assert.isFalse((yield* take(1)).admitted)
          yield* server.stepWallClock(HOUR + 1_000)
          // a whole limit more, within the hour of real time
          assert.isTrue((yield* take(2)).admitted)
          assert.isFalse((yield* take(1)).admitted)
          // and a step back afterwards stretches nothing beyond one window
          yield* server.stepWallClock(-2 * HOUR)
          const rejected = yield* take(1)
          assert.isFalse(rejected.admitted)
          assert.isAtMost(rejected.retryAfterMillis, HOUR)
        }))
    }
  })

  describe("IdempotencyStore (clock: \"redis\")", () => {
    it.scopedLive("a dead executor's lock is not stretched by a step back: a waiter takes over after lockTtl", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        // the executor: its process dies (its connection closes) while it holds the lock, unreleased
        const executor = yield* Scope.make()
        const dying = yield* idempotencyStore(server.url, "300 millis").pipe(Scope.extend(executor))
        assert.strictEqual((yield* dying.acquire("k", { codec: undefined }))._tag, "Acquired")
        yield* Scope.close(executor, Exit.void)
        yield* server.stepWallClock(-HOUR)
        const store = yield* idempotencyStore(server.url, "300 millis")
        const inFlight = yield* store.acquire("k", { codec: undefined })
        assert.strictEqual(inFlight._tag, "InFlight")
        if (inFlight._tag !== "InFlight") return
        // the execution ended without an Exit (its lock expired after lockTtl): acquire again
        const ended = yield* Effect.timeout(inFlight.await, "2 seconds")
        assert.isTrue(Option.isNone(ended))
        assert.strictEqual((yield* store.acquire("k", { codec: undefined }))._tag, "Acquired")
      }))

    it.scopedLive("a step back keeps a running execution's lock (renewed): no second execution", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const running = yield* idempotencyStore(server.url, "300 millis")
        assert.strictEqual((yield* running.acquire("k", { codec: undefined }))._tag, "Acquired")
        yield* server.stepWallClock(-HOUR)
        const other = yield* idempotencyStore(server.url, "300 millis")
        for (let i = 0; i < 4; i++) {
          yield* realSleep(150)
          assert.strictEqual((yield* other.acquire("k", { codec: undefined }))._tag, "InFlight")
        }
      }))

    it.scopedLive("characterised: a step forward past lockTtl expires a running execution's lock: a second execution starts", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const codec = Schema.Exit({ success: Schema.Number, failure: Schema.String, defect: Schema.Defect })
        const running = yield* idempotencyStore(server.url, "30 seconds")
        const first = yield* running.acquire("k", { codec })
        assert.strictEqual(first._tag, "Acquired")
        yield* server.stepWallClock(HOUR)
        // Redis drops the lock key (PX) and the script finds it expired: the key runs twice at once
        const other = yield* idempotencyStore(server.url, "30 seconds")
        const second = yield* other.acquire("k", { codec })
        assert.strictEqual(second._tag, "Acquired")
        // the first to complete keeps its Exit; the other's is not kept (its lock was lost)
        if (first._tag === "Acquired" && second._tag === "Acquired") {
          yield* second.complete(Exit.succeed(2), Duration.minutes(1))
          yield* first.complete(Exit.succeed(1), Duration.minutes(1))
        }
        const kept = yield* running.acquire("k", { codec })
        assert.isTrue(kept._tag === "Completed" && Exit.isSuccess(kept.exit) && kept.exit.value === 2)
      }))

    it.scopedLive("characterised: a step forward past the TTL drops a kept Exit: the next call runs again", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const { run, runs } = yield* idempotent(server.url, "1 hour")
        assert.strictEqual(yield* run, 1)
        assert.strictEqual(yield* run, 1)
        yield* server.stepWallClock(HOUR + 1_000)
        assert.strictEqual(yield* run, 2)
        assert.strictEqual(runs(), 2)
      }))

    it.scopedLive("a step back does not keep a kept Exit past its TTL: the next call after it runs again", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const { run, runs } = yield* idempotent(server.url, "300 millis")
        assert.strictEqual(yield* run, 1)
        yield* server.stepWallClock(-HOUR)
        // within its TTL: replayed (the script sees the step by the key's mark, and moves the expiry back by it)
        assert.strictEqual(yield* run, 1)
        yield* realSleep(450)
        assert.strictEqual(yield* run, 2)
        assert.strictEqual(runs(), 2)
      }))

    it.scopedLive("characterised: real time between the last call and the step is not seen: a kept Exit lives up to its TTL more, not the step", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const { run, runs } = yield* idempotent(server.url, "300 millis")
        assert.strictEqual(yield* run, 1)
        yield* server.stepWallClock(-HOUR)
        yield* realSleep(450)
        // past its TTL of real time, but what remained of it at the last call (before the step) remains
        assert.strictEqual(yield* run, 1)
        yield* realSleep(450)
        assert.strictEqual(yield* run, 2)
        assert.strictEqual(runs(), 2)
      }))
  })

  describe("StaleStore (clock: \"redis\")", () => {
    const staleStore = (url: string) =>
      Effect.flatMap(connect(url, "step-stale:"), (redis) => StaleStore.make().pipe(Effect.provideService(Redis.Redis, redis)))
    const entry = (value: number, ttl: number) => {
      const now = Date.now()
      return { value, storedAt: now, expiresAt: now + ttl }
    }

    it.scopedLive("a step back does not keep an entry past its TTL", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const store = yield* staleStore(server.url)
        yield* store.set("k", entry(1, 300), Date.now())
        yield* server.stepWallClock(-HOUR)
        // what is read is bounded by its TTL
        const read = Option.getOrThrow(yield* store.get("k", Date.now()))
        assert.strictEqual(read.value, 1)
        assert.isAtMost(read.expiresAt - Date.now(), 300)
        assert.isAtMost(read.storedAt, Date.now())
        yield* realSleep(450)
        assert.isTrue(Option.isNone(yield* store.get("k", Date.now())))
      }))

    it.scopedLive("a step back does not refuse fresh writes over an entry stored before it", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const store = yield* staleStore(server.url)
        yield* store.set("j", entry(1, 60_000), Date.now())
        yield* server.stepWallClock(-2 * HOUR)
        yield* store.set("j", entry(2, 60_000), Date.now())
        assert.strictEqual(Option.getOrThrow(yield* store.get("j", Date.now())).value, 2)
      }))

    it.scopedLive("characterised: a step forward past the TTL drops an entry", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const store = yield* staleStore(server.url)
        yield* store.set("k", entry(1, HOUR), Date.now())
        assert.isTrue(Option.isSome(yield* store.get("k", Date.now())))
        yield* server.stepWallClock(HOUR + 1_000)
        assert.isTrue(Option.isNone(yield* store.get("k", Date.now())))
      }))
  })

  describe("the data-format announcement (Redis.make)", () => {
    /** A replica of another release (format 999) announcing as a real one does: 3 × its 100 ms interval. */
    const otherRelease = (raw: Redis.RedisConnection) =>
      Effect.promise(() => announceFormat(raw.client, "step-fmt:", "999", 300))

    /**
     * A connection (every 100 ms check) that met the other release's format, then the Redis host's
     * clock stepped an hour back; `raw` is a connection under another prefix.
     */
    const steppedAfterOtherRelease = Effect.gen(function*() {
      const server = yield* startSteppableRedis
      const raw = yield* connect(server.url, "step-raw:")
      yield* otherRelease(raw)
      const redis = yield* Redis.make({ url: server.url, prefix: "step-fmt:", formatCheckInterval: "100 millis" })
      assert.strictEqual(redis.formatMismatch(), "999")
      yield* server.stepWallClock(-HOUR)
      return { raw, redis }
    })

    /** Polls `condition` every 25 ms of real time for up to `millis`; the last answer. */
    const within = (millis: number, condition: () => boolean) =>
      Effect.gen(function*() {
        for (let waited = 0; waited < millis && !condition(); waited += 25) yield* realSleep(25)
        return condition()
      })

    it.scopedLive("a step back does not keep a departed replica's other format live (every command refused) for the step", () =>
      Effect.gen(function*() {
        // the other release stops (its announcement had 300 ms left at most), then the Redis host's clock steps back
        const { raw, redis } = yield* steppedAfterOtherRelease
        // what remained of its announcement remains, not an hour more: commands work again
        assert.isTrue(yield* within(5_000, () => redis.formatMismatch() === undefined), "the other format stayed live")
        assert.strictEqual(yield* redis.use("PING", (c) => c.ping()), "PONG")
        const announced = yield* raw.use("HGETALL", (c) => c.hgetall("step-fmt:format"))
        assert.deepStrictEqual(Object.keys(announced), [String(Redis.FORMAT_VERSION)])
      }))

    it.scopedLive("a replica of another format still announcing is seen across a step back, in either order of the checks", () =>
      Effect.gen(function*() {
        const { raw, redis } = yield* steppedAfterOtherRelease
        // the other release runs on (it checks every 100 ms): for a second, never taken for gone
        for (let i = 0; i < 20; i++) {
          assert.deepStrictEqual(yield* otherRelease(raw), [String(Redis.FORMAT_VERSION)], "the other release sees this one")
          assert.strictEqual(redis.formatMismatch(), "999")
          yield* realSleep(50)
        }
        // its announcement lasts 300 ms of the new time: stopped, it is gone within that and a check
        assert.isTrue(yield* within(5_000, () => redis.formatMismatch() === undefined))
      }))
  })
})

// Replicas of one name running different lengths (a rolling deploy that lowers leaseTtl / lockTtl),
// without any clock step: no replica may shorten another's lease or lock by its own length.
describe.skipIf(!hasRedis)("Redis stores with replicas of different lengths, no clock step (real redis-server)", () => {
  it.scopedLive("bulkhead: a short-leaseTtl replica never pulls in a long-leaseTtl replica's lease (no over-admission, renewals Renewed)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const long = yield* bulkheadLeases(server.url, "3 seconds")
      const short = yield* bulkheadLeases(server.url, "300 millis")
      const held = yield* long.acquire(1)
      assert.isTrue(acquired(held))
      const lease = held._tag === "Acquired" ? held.lease : ""
      for (let i = 0; i < 3; i++) {
        assert.strictEqual((yield* short.acquire(1))._tag, "Full")
        // past the short replica's leaseTtl since its last call (within the long one's, renewed every
        // third of it): the call still holds its slot
        yield* realSleep(400)
        assert.strictEqual(yield* short.held, 1)
        yield* realSleep(400)
        assert.strictEqual((yield* short.acquire(1))._tag, "Full")
        assert.strictEqual(yield* long.renew(lease, 1), "Renewed")
      }
    }))

  it.scopedLive("idempotency: while a long-lockTtl replica's execution runs, a short-lockTtl replica waits for it, never runs the key again", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const codec = Schema.Exit({ success: Schema.Number, failure: Schema.String, defect: Schema.Defect })
      const long = yield* idempotencyStore(server.url, "3 seconds")
      const short = yield* idempotencyStore(server.url, "150 millis")
      const running = yield* long.acquire("k", { codec })
      assert.strictEqual(running._tag, "Acquired")
      const waiting = yield* short.acquire("k", { codec })
      assert.strictEqual(waiting._tag, "InFlight")
      if (running._tag !== "Acquired" || waiting._tag !== "InFlight") return
      // its poller (peek) keeps waiting past the short lockTtl
      const awaited = yield* Effect.fork(waiting.await)
      for (let i = 0; i < 3; i++) {
        yield* realSleep(250)
        assert.strictEqual((yield* short.acquire("k", { codec }))._tag, "InFlight")
      }
      yield* running.complete(Exit.succeed(7), Duration.minutes(1))
      const exit = Option.getOrThrow(yield* Effect.timeout(awaited.await, "2 seconds").pipe(Effect.flatten))
      assert.isTrue(Exit.isSuccess(exit) && exit.value === 7)
      const done = yield* short.acquire("k", { codec })
      assert.isTrue(done._tag === "Completed" && Exit.isSuccess(done.exit) && done.exit.value === 7)
    }))

  it.scopedLive("idempotency policies: a long-lockTtl replica's run is joined by a short-lockTtl replica's, run once", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      let runs = 0
      const policy = (lockTtl: Duration.DurationInput) =>
        Effect.flatMap(idempotencyStore(server.url, lockTtl), (store) =>
          Idempotency.make({ ttl: "1 minute", success: Schema.Number, failure: Schema.Never, name: "mixed" }).pipe(
            Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
          ))
      const long = yield* policy("3 seconds")
      const short = yield* policy("150 millis")
      const first = yield* Effect.fork(long.run("k", Effect.zipRight(realSleep(800), Effect.sync(() => ++runs))))
      yield* realSleep(100)
      const second = yield* short.run("k", Effect.sync(() => ++runs))
      assert.strictEqual(yield* first.await.pipe(Effect.flatten), 1)
      assert.strictEqual(second, 1)
      assert.strictEqual(runs, 1)
    }))

  it.scopedLive("the marks live as long as their group: kept until its last lease / lock / result expires, deleted when none is left", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const pttl = (redis: Redis.RedisConnection, key: string) => redis.use("PTTL", (c) => c.pttl(`${redis.prefix}${key}`))
      // bulkhead: the partition's set and its mark expire together
      const bhRedis = yield* connect(server.url, "step-bh:")
      const long = yield* bulkheadLeases(server.url, "3 seconds")
      const short = yield* bulkheadLeases(server.url, "300 millis")
      const held = yield* long.acquire(2)
      assert.isTrue(acquired(held))
      assert.isTrue(acquired(yield* short.acquire(2)))
      const setTtl = yield* pttl(bhRedis, "bulkhead:4:wall")
      const markTtl = yield* pttl(bhRedis, "bulkhead:t:4:wall")
      assert.isAbove(markTtl, 2_500)
      assert.isAtMost(Math.abs(markTtl - setTtl), 50)
      if (held._tag === "Acquired") yield* long.release(held.lease)
      yield* realSleep(400)
      assert.strictEqual(yield* short.held, 0)
      assert.strictEqual(yield* pttl(bhRedis, "bulkhead:t:4:wall"), -2)

      // idempotency: as long as the lock, then the kept result; gone with both
      const idemRedis = yield* connect(server.url, "step-idem:")
      const codec = Schema.Exit({ success: Schema.Number, failure: Schema.String, defect: Schema.Defect })
      const store = yield* idempotencyStore(server.url, "3 seconds")
      const running = yield* store.acquire("m", { codec })
      assert.strictEqual(running._tag, "Acquired")
      const lockMark = yield* pttl(idemRedis, "idem:t:m")
      assert.isTrue(lockMark > 2_500 && lockMark <= 3_000, String(lockMark))
      if (running._tag === "Acquired") yield* running.complete(Exit.succeed(1), Duration.minutes(1))
      const resultMark = yield* pttl(idemRedis, "idem:t:m")
      assert.isTrue(resultMark > 55_000 && resultMark <= 60_000, String(resultMark))
      yield* store.invalidate("m")
      assert.strictEqual(yield* pttl(idemRedis, "idem:t:m"), -2)
    }))
})
