/**
 * The Redis connection and every Redis store, built inside an uninterruptible region, used, then
 * their scope closed, against a real redis-server: the whole program must END, leave no fiber it
 * forked running, and answer what the same program answers without the region (the control).
 * The in-process constructors are in test/reliability/UninterruptibleScope.test.ts, which says
 * why (a forked fiber takes the flags of the fiber that forks it; a background loop forked
 * uninterruptible makes the scope's close, which interrupts it and waits, hang for good).
 *
 * Here the loops are the connection's data-format check (and its check on every reconnection,
 * run with a runtime captured at construction), the breaker store's pub/sub subscription (and its
 * retry while Redis is unreachable, `connect: "background"`), the breaker's mode refresh, a
 * bulkhead's lease renewals and poll pauses, an idempotent execution's lock renewal and another
 * replica's poller, the stale store's background writes. Each store is built with the connection
 * made below the region (so a failure names the store), and the connection on its own.
 *
 * Real time (`it.live`): the stores run on Redis TIME and real sockets; the durations are short
 * and every wait is bounded (a hang becomes a failure naming the fibers left, within ~10 s).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Deferred, Effect, Either, Exit, Fiber, Layer, Schema, Scope } from "effect"
import { Bulkhead, CircuitBreaker, Fallback, Idempotency, RateLimiter } from "effect-resilience"
import { BulkheadStore, CircuitBreakerStore, IdempotencyStore, RateLimiterStore, Redis, StaleStore } from "effect-resilience/redis"
import { realSleep } from "../utils/realTime.js"
import { freePort, hasRedis, type RedisServer, startRedis } from "../utils/redis-server.js"
import { type Case, check, modesFor } from "../utils/scopeClose.js"

// --- one redis-server for the file -------------------------------------------------------------

let serverScope: Scope.CloseableScope | undefined
let server: RedisServer | undefined
/** A loopback port nothing listens on (a Redis that is down). */
let deadPort = 1

beforeAll(async () => {
  if (!hasRedis) return
  serverScope = await Effect.runPromise(Scope.make())
  server = await Effect.runPromise(Scope.extend(startRedis, serverScope))
  deadPort = await freePort()
}, 30_000)

afterAll(async () => {
  if (serverScope !== undefined) await Effect.runPromise(Scope.close(serverScope, Exit.void))
})

const url = (): string => {
  if (server === undefined) throw new Error("redis-server not started")
  return server.url
}

/** Real time each run may take: round trips on a loaded machine; a hang guard, not a timing assertion. */
const GUARD_MILLIS = 8_000

// --- answers ---------------------------------------------------------------------------------

const tagOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "_tag" in e ? String((e as { _tag: unknown })._tag) : String(e)

const outcome = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<string, never, R> =>
  Effect.map(Effect.either(self), Either.match({ onLeft: (e) => `error ${tagOf(e)}`, onRight: (a) => `ok ${String(a)}` }))

const boom = Effect.fail("boom")

const withConfig = (values: Record<string, string>) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.withConfigProvider(self, ConfigProvider.fromMap(new Map(Object.entries(values)), { pathDelim: "." }))
const configLayer = (values: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(values)), { pathDelim: "." }))

/** A connection made below the region (the case's `outside`): the region holds the store only. */
const connectionBelow = (): Layer.Layer<Redis.Redis, unknown> =>
  Layer.suspend(() => Redis.layer({ url: url(), prefix: `uninterruptible-scope-${process.pid}:`, commandTimeout: "2 seconds" }))

// --- uses ----------------------------------------------------------------------------------

/** The connection: a command and a script, real time past several format checks (every 20 ms). */
const useConnection = (redis: Redis.RedisConnection) =>
  Effect.gen(function*() {
    const answers: Array<string> = []
    answers.push(yield* outcome(redis.use("PING", (c) => c.ping())))
    answers.push(yield* outcome(redis.eval({ name: "one", source: "return 1" }, [], [])))
    yield* realSleep(100)
    answers.push(yield* outcome(redis.use("PING", (c) => c.ping())))
    return answers
  })

const connectionOptions = (id: string): Redis.Options => ({
  url: url(),
  prefix: `${id}:`,
  commandTimeout: "2 seconds",
  formatCheckInterval: "20 millis"
})

/** A breaker on the store: a success, two failures that open it, a rejection, the break (200 ms), a probe; a keyed call. */
const useBreaker = (b: CircuitBreaker.CircuitBreaker) =>
  Effect.gen(function*() {
    const answers: Array<string> = []
    answers.push(yield* outcome(b(Effect.succeed(1))))
    answers.push(yield* outcome(b(boom)))
    answers.push(yield* outcome(b(boom)))
    answers.push(yield* outcome(b(Effect.succeed(2))))
    answers.push((yield* b.state())._tag)
    yield* realSleep(300)
    answers.push(yield* outcome(b(Effect.succeed(3))))
    answers.push((yield* b.state())._tag)
    answers.push(yield* outcome(b.execute(Effect.succeed(4), { key: "tenant-a" })))
    yield* b.setMode("MetricsOnly")
    yield* b.setMode("Enforcing")
    return answers
  })

const breakerOptions = (id: string): CircuitBreaker.CircuitBreaker.Options => ({
  name: id,
  tripPolicy: CircuitBreaker.consecutive(2),
  openDuration: "200 millis"
})

/** A bulkhead on the store (1 lease): a holder (its lease renewed), a caller queued behind it, both run. */
const useBulkhead = (b: Bulkhead.Bulkhead<any>) =>
  Effect.gen(function*() {
    const gate = yield* Deferred.make<void>()
    const started = yield* Deferred.make<void>()
    const holder = yield* Effect.fork(b(Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Deferred.await(gate), "held"))))
    yield* Deferred.await(started)
    const queued = yield* Effect.fork(b(Effect.succeed("queued")))
    // real time for renewals (leaseTtl 300 ms) and the queued caller's polls
    yield* realSleep(400)
    yield* Deferred.succeed(gate, undefined)
    const answers = [yield* outcome(Fiber.join(holder)), yield* outcome(Fiber.join(queued))]
    answers.push(yield* outcome(b.execute(Effect.succeed("keyed"), { key: "tenant-a" })))
    return answers
  })

const bulkheadOptions = (id: string): Bulkhead.Bulkhead.Options => ({ name: id, maxConcurrent: 1, maxQueue: 2, maxWait: "5 seconds" })
const bulkheadStoreOptions: BulkheadStore.Options = { pollInterval: "10 millis", leaseTtl: "300 millis" }

/** A limiter on the store (1 per 200 ms, delay mode): a call, a delayed call, keyed calls. */
const useLimiter = (rl: RateLimiter.RateLimiter) =>
  Effect.gen(function*() {
    const answers: Array<string> = []
    answers.push(yield* outcome(rl(Effect.succeed(1))))
    answers.push(yield* outcome(rl(Effect.succeed(2))))
    answers.push(yield* outcome(rl.execute(Effect.succeed(3), { key: "tenant-a" })))
    answers.push(yield* outcome(rl.execute(Effect.succeed(4), { key: "tenant-a" })))
    return answers
  })

const limiterOptions = (id: string): RateLimiter.RateLimiter.Options => ({
  name: id,
  limit: 1,
  window: "200 millis",
  onExceeded: "delay",
  maxDelay: "2 seconds"
})

/**
 * Idempotency on the store: an execution held long enough for its lock to be renewed (lockTtl
 * 300 ms), a waiter on the same key (on another replica when there are two: it polls Redis), the
 * stored result served, a failure.
 */
const useIdempotency = (idem: Idempotency.Idempotency<any, any>, other: Idempotency.Idempotency<any, any> = idem) =>
  Effect.gen(function*() {
    const gate = yield* Deferred.make<void>()
    const started = yield* Deferred.make<void>()
    const first = yield* Effect.fork(
      outcome(idem.run("k", Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Deferred.await(gate), "first"))))
    )
    yield* Deferred.await(started)
    const waiter = yield* Effect.fork(outcome(other.run("k", Effect.succeed("second"))))
    yield* realSleep(400)
    yield* Deferred.succeed(gate, undefined)
    const answers = [yield* Fiber.join(first), yield* Fiber.join(waiter)]
    answers.push(yield* outcome(idem.run("k", Effect.succeed("third"))))
    answers.push(yield* outcome(idem.run("failing", boom)))
    return answers
  })

/** The Redis store persists Exits: the success and failure Schemas. */
const idemOptions = (id: string): Idempotency.Idempotency.Options<string, string> => ({ name: id, ttl: "10 seconds", success: Schema.String, failure: Schema.String })

const idempotencyStoreOptions: IdempotencyStore.Options = { lockTtl: "300 millis", pollInterval: "10 millis" }

/** A stale-if-error policy on the store: a value written in the background (flushed), served stale, invalidated. */
const useStale = (policy: Fallback.StaleIfError<number>) =>
  Effect.gen(function*() {
    const answers: Array<string> = []
    const fresh = yield* policy.serve(Effect.succeed(42), { key: "sku" })
    answers.push(`fresh ${fresh.value} stale ${fresh.stale}`)
    yield* policy.flush
    const served = yield* policy.serve(Effect.fail("down"), { key: "sku" })
    answers.push(`served ${served.value} stale ${served.stale}`)
    yield* policy.serve(Effect.succeed(43), { key: "other" })
    yield* policy.invalidate("sku")
    answers.push(yield* outcome(policy.serve(Effect.fail("down"), { key: "sku" })))
    return answers
  })

class BreakerTag extends Context.Tag("test/redis/UninterruptibleScope/Breaker")<BreakerTag, CircuitBreaker.CircuitBreaker>() {}
class BulkheadTag extends Context.Tag("test/redis/UninterruptibleScope/Bulkhead")<BulkheadTag, Bulkhead.Bulkhead<any>>() {}
class LimiterTag extends Context.Tag("test/redis/UninterruptibleScope/Limiter")<LimiterTag, RateLimiter.RateLimiter>() {}
class IdemTag extends Context.Tag("test/redis/UninterruptibleScope/Idem")<IdemTag, Idempotency.Idempotency<string, string>>() {}
class StaleTag extends Context.Tag("test/redis/UninterruptibleScope/Stale")<StaleTag, Fallback.StaleIfError<number>>() {}

// --- the cases -----------------------------------------------------------------------------

const cases: ReadonlyArray<Case> = [
  // the connection
  {
    name: "Redis.make (its format checks)",
    subject: (id) => ({ kind: "make", make: Effect.suspend(() => Redis.make(connectionOptions(id))), use: useConnection })
  },
  {
    name: "Redis.make, connect: \"background\"",
    subject: (id) => ({
      kind: "make",
      make: Effect.suspend(() => Redis.make({ ...connectionOptions(id), connect: "background" })),
      use: (redis: Redis.RedisConnection) =>
        Effect.gen(function*() {
          for (let i = 0; i < 400 && !redis.isReady(); i++) yield* realSleep(5)
          return yield* useConnection(redis)
        })
    })
  },
  {
    name: "Redis.fromConfig",
    subject: (id) => ({
      kind: "make",
      make: Effect.suspend(() =>
        Redis.fromConfig(Redis.config).pipe(withConfig({ url: url(), prefix: `${id}:`, formatCheckInterval: "20 millis" }))
      ),
      use: useConnection
    })
  },
  {
    name: "Redis.layer",
    subject: (id) => ({
      kind: "layer",
      layer: Layer.suspend(() => Redis.layer(connectionOptions(id))),
      use: Effect.flatMap(Redis.Redis, useConnection)
    })
  },
  {
    name: "Redis.layerConfig",
    subject: (id) => ({
      kind: "layer",
      layer: Layer.suspend(() =>
        Redis.layerConfig(Redis.config).pipe(
          Layer.provide(configLayer({ url: url(), prefix: `${id}:`, formatCheckInterval: "20 millis" }))
        )
      ),
      use: Effect.flatMap(Redis.Redis, useConnection)
    })
  },
  // CircuitBreakerStore
  {
    name: "CircuitBreakerStore.make + CircuitBreaker.make (its subscription, the mode refresh)",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        CircuitBreakerStore.make(),
        (store) => Effect.provideService(CircuitBreaker.make(breakerOptions(id)), CircuitBreaker.CircuitBreakerStore, store)
      ),
      use: useBreaker
    })
  },
  {
    name: "CircuitBreakerStore.fromConfig + CircuitBreaker.make",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        CircuitBreakerStore.fromConfig(CircuitBreakerStore.config).pipe(withConfig({ timeout: "2 seconds" })),
        (store) => Effect.provideService(CircuitBreaker.make(breakerOptions(id)), CircuitBreaker.CircuitBreakerStore, store)
      ),
      use: useBreaker
    })
  },
  {
    name: "CircuitBreakerStore.layer + CircuitBreaker.layer",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "layer",
      layer: CircuitBreaker.layer(BreakerTag, breakerOptions(id)).pipe(Layer.provide(CircuitBreakerStore.layer())),
      use: Effect.flatMap(BreakerTag, useBreaker)
    })
  },
  {
    name: "CircuitBreakerStore.layerConfig + CircuitBreaker.layer",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "layer",
      layer: CircuitBreaker.layer(BreakerTag, breakerOptions(id)).pipe(
        Layer.provide(CircuitBreakerStore.layerConfig(CircuitBreakerStore.config).pipe(Layer.provide(configLayer({ timeout: "2 seconds" }))))
      ),
      use: Effect.flatMap(BreakerTag, useBreaker)
    })
  },
  {
    name: "CircuitBreakerStore.layer over Redis.layer connect: \"background\" (the subscription's retry), both in the region",
    subject: (id) => ({
      kind: "layer",
      layer: Layer.suspend(() =>
        CircuitBreaker.layer(BreakerTag, breakerOptions(id)).pipe(
          Layer.provide(CircuitBreakerStore.layer()),
          Layer.provide(Redis.layer({ ...connectionOptions(id), connect: "background" }))
        )
      ),
      use: Effect.gen(function*() {
        const breaker = yield* BreakerTag
        // the store's own connection, made in the background: until it is up its commands fail
        for (let i = 0; i < 400; i++) {
          if (Either.isRight(yield* Effect.either(breaker.state()))) break
          yield* realSleep(5)
        }
        return yield* useBreaker(breaker)
      })
    })
  },
  {
    name: "CircuitBreakerStore.make + CircuitBreaker.make while Redis is unreachable (connect: \"background\": the subscription's retry loop)",
    // the connection (below the region) to a port nothing listens on: the store retries its SUBSCRIBE every second
    outside: Layer.suspend(() =>
      Redis.layer({ url: `redis://127.0.0.1:${deadPort}`, connect: "background", commandTimeout: "100 millis", connectTimeout: "100 millis" })
    ),
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        CircuitBreakerStore.make({ timeout: "100 millis" }),
        (store) =>
          Effect.provideService(
            CircuitBreaker.make({ ...breakerOptions(id), onStoreError: "allow" }),
            CircuitBreaker.CircuitBreakerStore,
            store
          )
      ),
      use: (b: CircuitBreaker.CircuitBreaker) =>
        Effect.gen(function*() {
          const answers = [yield* outcome(b(Effect.succeed(1))), yield* outcome(b(Effect.succeed(2)))]
          // past one retry of the subscription
          yield* realSleep(1_200)
          return answers
        })
    })
  },
  // BulkheadStore
  {
    name: "BulkheadStore.make + Bulkhead.make (lease renewals, a queued caller's polls)",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        BulkheadStore.make(bulkheadStoreOptions),
        (store) => Effect.provideService(Bulkhead.make(bulkheadOptions(id)), Bulkhead.BulkheadStore, store)
      ),
      use: useBulkhead
    })
  },
  {
    name: "BulkheadStore.fromConfig + Bulkhead.make",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        BulkheadStore.fromConfig(BulkheadStore.config).pipe(withConfig({ pollInterval: "10 millis", leaseTtl: "300 millis" })),
        (store) => Effect.provideService(Bulkhead.make(bulkheadOptions(id)), Bulkhead.BulkheadStore, store)
      ),
      use: useBulkhead
    })
  },
  {
    name: "BulkheadStore.layer + Bulkhead.layer",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "layer",
      layer: Bulkhead.layer(BulkheadTag, bulkheadOptions(id)).pipe(Layer.provide(BulkheadStore.layer(bulkheadStoreOptions))),
      use: Effect.flatMap(BulkheadTag, useBulkhead)
    })
  },
  {
    name: "BulkheadStore.layerConfig + Bulkhead.layer",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "layer",
      layer: Bulkhead.layer(BulkheadTag, bulkheadOptions(id)).pipe(
        Layer.provide(
          BulkheadStore.layerConfig(BulkheadStore.config).pipe(Layer.provide(configLayer({ pollInterval: "10 millis", leaseTtl: "300 millis" })))
        )
      ),
      use: Effect.flatMap(BulkheadTag, useBulkhead)
    })
  },
  // RateLimiterStore
  {
    name: "RateLimiterStore.make + RateLimiter.make",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        RateLimiterStore.make(),
        (store) => Effect.provideService(RateLimiter.make(limiterOptions(id)), RateLimiter.RateLimiterStore, store)
      ),
      use: useLimiter
    })
  },
  {
    name: "RateLimiterStore.fromConfig + RateLimiter.make",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        RateLimiterStore.fromConfig(RateLimiterStore.config).pipe(withConfig({ timeout: "2 seconds" })),
        (store) => Effect.provideService(RateLimiter.make(limiterOptions(id)), RateLimiter.RateLimiterStore, store)
      ),
      use: useLimiter
    })
  },
  {
    name: "RateLimiterStore.layer + RateLimiter.layer",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "layer",
      layer: RateLimiter.layer(LimiterTag, limiterOptions(id)).pipe(Layer.provide(RateLimiterStore.layer())),
      use: Effect.flatMap(LimiterTag, useLimiter)
    })
  },
  {
    name: "RateLimiterStore.layerConfig + RateLimiter.layer",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "layer",
      layer: RateLimiter.layer(LimiterTag, limiterOptions(id)).pipe(
        Layer.provide(RateLimiterStore.layerConfig(RateLimiterStore.config).pipe(Layer.provide(configLayer({ timeout: "2 seconds" }))))
      ),
      use: Effect.flatMap(LimiterTag, useLimiter)
    })
  },
  // IdempotencyStore
  {
    name: "IdempotencyStore.make + Idempotency.make (lock renewal)",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        IdempotencyStore.make(idempotencyStoreOptions),
        (store) => Effect.provideService(Idempotency.make(idemOptions(id)), Idempotency.IdempotencyStore, store)
      ),
      use: (idem: Idempotency.Idempotency<any, any>) => useIdempotency(idem)
    })
  },
  {
    name: "IdempotencyStore.make, two replicas (the waiter's poller on the other)",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "make",
      make: Effect.gen(function*() {
        const replica = Effect.flatMap(
          IdempotencyStore.make(idempotencyStoreOptions),
          (store) => Effect.provideService(Idempotency.make(idemOptions(id)), Idempotency.IdempotencyStore, store)
        )
        return [yield* replica, yield* replica] as const
      }),
      use: ([a, b]: readonly [Idempotency.Idempotency<any, any>, Idempotency.Idempotency<any, any>]) => useIdempotency(a, b)
    })
  },
  {
    name: "IdempotencyStore.fromConfig + Idempotency.make",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        IdempotencyStore.fromConfig(IdempotencyStore.config).pipe(withConfig({ lockTtl: "300 millis", pollInterval: "10 millis" })),
        (store) => Effect.provideService(Idempotency.make(idemOptions(id)), Idempotency.IdempotencyStore, store)
      ),
      use: (idem: Idempotency.Idempotency<any, any>) => useIdempotency(idem)
    })
  },
  {
    name: "IdempotencyStore.layer + Idempotency.layer",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "layer",
      layer: Idempotency.layer(IdemTag, idemOptions(id)).pipe(Layer.provide(IdempotencyStore.layer(idempotencyStoreOptions))),
      use: Effect.flatMap(IdemTag, (idem) => useIdempotency(idem))
    })
  },
  {
    name: "IdempotencyStore.layerConfig + Idempotency.layer",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "layer",
      layer: Idempotency.layer(IdemTag, idemOptions(id)).pipe(
        Layer.provide(
          IdempotencyStore.layerConfig(IdempotencyStore.config).pipe(Layer.provide(configLayer({ lockTtl: "300 millis", pollInterval: "10 millis" })))
        )
      ),
      use: Effect.flatMap(IdemTag, (idem) => useIdempotency(idem))
    })
  },
  // StaleStore
  {
    name: "StaleStore.make + Fallback.staleIfError (background writes)",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        StaleStore.make(),
        (store) => Effect.provideService(Fallback.staleIfError<number>({ name: id, ttl: "1 minute", maxEntries: 10 }), Fallback.StaleStore, store)
      ),
      use: useStale
    })
  },
  {
    name: "StaleStore.fromConfig + Fallback.staleIfError",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        StaleStore.fromConfig(StaleStore.config).pipe(withConfig({ timeout: "2 seconds" })),
        (store) => Effect.provideService(Fallback.staleIfError<number>({ name: id, ttl: "1 minute", maxEntries: 10 }), Fallback.StaleStore, store)
      ),
      use: useStale
    })
  },
  {
    name: "StaleStore.layer + Fallback.layerStaleIfError",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "layer",
      layer: Fallback.layerStaleIfError(StaleTag, { name: id, ttl: "1 minute", maxEntries: 10 }).pipe(Layer.provide(StaleStore.layer())),
      use: Effect.flatMap(StaleTag, useStale)
    })
  },
  {
    name: "StaleStore.layerConfig + Fallback.layerStaleIfError",
    outside: connectionBelow(),
    subject: (id) => ({
      kind: "layer",
      layer: Fallback.layerStaleIfError(StaleTag, { name: id, ttl: "1 minute", maxEntries: 10 }).pipe(
        Layer.provide(StaleStore.layerConfig(StaleStore.config).pipe(Layer.provide(configLayer({ timeout: "2 seconds" }))))
      ),
      use: Effect.flatMap(StaleTag, useStale)
    })
  },
  // everything in the region: the connection and a store
  {
    name: "Redis.layer + BulkheadStore.layer + Bulkhead.layer, all in the region",
    subject: (id) => ({
      kind: "layer",
      layer: Layer.suspend(() =>
        Bulkhead.layer(BulkheadTag, bulkheadOptions(id)).pipe(
          Layer.provide(BulkheadStore.layer(bulkheadStoreOptions)),
          Layer.provide(Redis.layer(connectionOptions(id)))
        )
      ),
      use: Effect.flatMap(BulkheadTag, useBulkhead)
    })
  }
]

describe.skipIf(!hasRedis)("Redis: built inside an uninterruptible region, closing its scope ends, nothing is left (real redis-server)", () => {
  for (const c of cases) {
    describe(c.name, () => {
      for (const mode of modesFor(c.subject("probe").kind)) {
        it.live(
          mode.control ? `${mode.name}: ends, leaves no fiber` : `${mode.name}: ends, leaves no fiber, answers as the control`,
          () => check({ ...c, guardMillis: c.guardMillis ?? GUARD_MILLIS }, mode, { testClock: false }),
          30_000
        )
      }
    })
  }

  it("covers the connection and every store", () => {
    assert.isAtLeast(cases.length, 25)
  })
})
