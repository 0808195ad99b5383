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
 * made below the region (so a failure names the store), and the connection on its own. The cases
 * are a table (test/utils/scopeClose.ts): the connection's constructors, then a family per store
 * (make, fromConfig, layer, layerConfig under the policy it serves), crossed with the ways to run each.
 *
 * Real time (`it.live`): the stores run on Redis TIME and real sockets; the durations are short
 * and every wait is bounded (a hang becomes a failure naming the fibers left, within ~10 s).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Either, Exit, Fiber, Layer, Schema, Scope } from "effect"
import { Bulkhead, CircuitBreaker, Fallback, Idempotency, RateLimiter } from "effect-resilience"
import { BulkheadStore, CircuitBreakerStore, IdempotencyStore, RateLimiterStore, Redis, StaleStore } from "effect-resilience/redis"
import { realSleep } from "../utils/realTime.js"
import { freePort, hasRedis, type RedisServer, startRedis } from "../utils/redis-server.js"
import {
  boom,
  type Case,
  configLayer,
  describeCases,
  family,
  layerCase,
  layered,
  made,
  makeCase,
  onStore,
  outcome,
  withConfig
} from "../utils/scopeClose.js"

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

/**
 * A Redis store's four constructors under the policy it serves, on a connection made below the
 * region: `<store>.make` and `.fromConfig` with the policy's scoped constructor, `.layer` and
 * `.layerConfig` under its layer (the config read from `config`).
 */
const storeFamily = <S, St>(spec: {
  readonly store: string
  /** What the `make` case exercises, in its name. */
  readonly note?: string
  readonly policy: { readonly make: string; readonly layer: string }
  readonly storeTag: Context.Tag<any, St>
  readonly make: () => Effect.Effect<St, unknown, any>
  readonly fromConfig: () => Effect.Effect<St, unknown, any>
  readonly layer: () => Layer.Layer<any, unknown, any>
  readonly layerConfig: () => Layer.Layer<any, unknown, any>
  readonly config: Record<string, string>
  readonly policyMake: (id: string) => Effect.Effect<S, unknown, any>
  readonly policyLayer: (id: string) => Layer.Layer<any, unknown, any>
  readonly tag: Context.Tag<any, S>
  readonly use: (service: S) => Effect.Effect<unknown, unknown, any>
}): Array<Case> =>
  family({ tag: spec.tag, use: spec.use, outside: connectionBelow() }, {
    [`${spec.store}.make + ${spec.policy.make}${spec.note === undefined ? "" : ` ${spec.note}`}`]: made((id) =>
      onStore(spec.make(), spec.storeTag, spec.policyMake(id))
    ),
    [`${spec.store}.fromConfig + ${spec.policy.make}`]: made((id) =>
      onStore(spec.fromConfig().pipe(withConfig(spec.config)), spec.storeTag, spec.policyMake(id))
    ),
    [`${spec.store}.layer + ${spec.policy.layer}`]: layered((id) => spec.policyLayer(id).pipe(Layer.provide(spec.layer()))),
    [`${spec.store}.layerConfig + ${spec.policy.layer}`]: layered((id) =>
      spec.policyLayer(id).pipe(Layer.provide(spec.layerConfig().pipe(Layer.provide(configLayer(spec.config)))))
    )
  })

const breakerOn = {
  policy: { make: "CircuitBreaker.make", layer: "CircuitBreaker.layer" },
  storeTag: CircuitBreaker.CircuitBreakerStore,
  policyMake: (id: string) => CircuitBreaker.make(breakerOptions(id)),
  policyLayer: (id: string) => CircuitBreaker.layer(BreakerTag, breakerOptions(id)),
  tag: BreakerTag,
  use: useBreaker
}

const connectionConfig = (id: string) => ({ url: url(), prefix: `${id}:`, formatCheckInterval: "20 millis" })

const cases: ReadonlyArray<Case> = [
  // the connection
  ...family({ tag: Redis.Redis, use: useConnection }, {
    "Redis.make (its format checks)": made((id) => Effect.suspend(() => Redis.make(connectionOptions(id)))),
    "Redis.fromConfig": made((id) => Effect.suspend(() => Redis.fromConfig(Redis.config).pipe(withConfig(connectionConfig(id))))),
    "Redis.layer": layered((id) => Layer.suspend(() => Redis.layer(connectionOptions(id)))),
    "Redis.layerConfig": layered((id) =>
      Layer.suspend(() => Redis.layerConfig(Redis.config).pipe(Layer.provide(configLayer(connectionConfig(id)))))
    )
  }),
  makeCase(
    "Redis.make, connect: \"background\"",
    (id) => Effect.suspend(() => Redis.make({ ...connectionOptions(id), connect: "background" })),
    (redis: Redis.RedisConnection) =>
      Effect.gen(function*() {
        for (let i = 0; i < 400 && !redis.isReady(); i++) yield* realSleep(5)
        return yield* useConnection(redis)
      })
  ),
  // CircuitBreakerStore
  ...storeFamily({
    ...breakerOn,
    store: "CircuitBreakerStore",
    note: "(its subscription, the mode refresh)",
    make: () => CircuitBreakerStore.make(),
    fromConfig: () => CircuitBreakerStore.fromConfig(CircuitBreakerStore.config),
    layer: () => CircuitBreakerStore.layer(),
    layerConfig: () => CircuitBreakerStore.layerConfig(CircuitBreakerStore.config),
    config: { timeout: "2 seconds" }
  }),
  layerCase(
    "CircuitBreakerStore.layer over Redis.layer connect: \"background\" (the subscription's retry), both in the region",
    (id) =>
      Layer.suspend(() =>
        CircuitBreaker.layer(BreakerTag, breakerOptions(id)).pipe(
          Layer.provide(CircuitBreakerStore.layer()),
          Layer.provide(Redis.layer({ ...connectionOptions(id), connect: "background" }))
        )
      ),
    Effect.gen(function*() {
      const breaker = yield* BreakerTag
      // the store's own connection, made in the background: until it is up its commands fail
      for (let i = 0; i < 400; i++) {
        if (Either.isRight(yield* Effect.either(breaker.state()))) break
        yield* realSleep(5)
      }
      return yield* useBreaker(breaker)
    })
  ),
  makeCase(
    "CircuitBreakerStore.make + CircuitBreaker.make while Redis is unreachable (connect: \"background\": the subscription's retry loop)",
    (id) =>
      onStore(
        CircuitBreakerStore.make({ timeout: "100 millis" }),
        CircuitBreaker.CircuitBreakerStore,
        CircuitBreaker.make({ ...breakerOptions(id), onStoreError: "allow" })
      ),
    (b: CircuitBreaker.CircuitBreaker) =>
      Effect.gen(function*() {
        const answers = [yield* outcome(b(Effect.succeed(1))), yield* outcome(b(Effect.succeed(2)))]
        // past one retry of the subscription
        yield* realSleep(1_200)
        return answers
      }),
    {
      // the connection (below the region) to a port nothing listens on: the store retries its SUBSCRIBE every second
      outside: Layer.suspend(() =>
        Redis.layer({ url: `redis://127.0.0.1:${deadPort}`, connect: "background", commandTimeout: "100 millis", connectTimeout: "100 millis" })
      )
    }
  ),
  // BulkheadStore
  ...storeFamily({
    store: "BulkheadStore",
    note: "(lease renewals, a queued caller's polls)",
    policy: { make: "Bulkhead.make", layer: "Bulkhead.layer" },
    storeTag: Bulkhead.BulkheadStore,
    make: () => BulkheadStore.make(bulkheadStoreOptions),
    fromConfig: () => BulkheadStore.fromConfig(BulkheadStore.config),
    layer: () => BulkheadStore.layer(bulkheadStoreOptions),
    layerConfig: () => BulkheadStore.layerConfig(BulkheadStore.config),
    config: { pollInterval: "10 millis", leaseTtl: "300 millis" },
    policyMake: (id) => Bulkhead.make(bulkheadOptions(id)),
    policyLayer: (id) => Bulkhead.layer(BulkheadTag, bulkheadOptions(id)),
    tag: BulkheadTag,
    use: useBulkhead
  }),
  // RateLimiterStore
  ...storeFamily({
    store: "RateLimiterStore",
    policy: { make: "RateLimiter.make", layer: "RateLimiter.layer" },
    storeTag: RateLimiter.RateLimiterStore,
    make: () => RateLimiterStore.make(),
    fromConfig: () => RateLimiterStore.fromConfig(RateLimiterStore.config),
    layer: () => RateLimiterStore.layer(),
    layerConfig: () => RateLimiterStore.layerConfig(RateLimiterStore.config),
    config: { timeout: "2 seconds" },
    policyMake: (id) => RateLimiter.make(limiterOptions(id)),
    policyLayer: (id) => RateLimiter.layer(LimiterTag, limiterOptions(id)),
    tag: LimiterTag,
    use: useLimiter
  }),
  // IdempotencyStore
  ...storeFamily({
    store: "IdempotencyStore",
    note: "(lock renewal)",
    policy: { make: "Idempotency.make", layer: "Idempotency.layer" },
    storeTag: Idempotency.IdempotencyStore,
    make: () => IdempotencyStore.make(idempotencyStoreOptions),
    fromConfig: () => IdempotencyStore.fromConfig(IdempotencyStore.config),
    layer: () => IdempotencyStore.layer(idempotencyStoreOptions),
    layerConfig: () => IdempotencyStore.layerConfig(IdempotencyStore.config),
    config: { lockTtl: "300 millis", pollInterval: "10 millis" },
    policyMake: (id) => Idempotency.make(idemOptions(id)),
    policyLayer: (id) => Idempotency.layer(IdemTag, idemOptions(id)),
    tag: IdemTag,
    use: (idem: Idempotency.Idempotency<any, any>) => useIdempotency(idem)
  }),
  makeCase(
    "IdempotencyStore.make, two replicas (the waiter's poller on the other)",
    (id) =>
      Effect.gen(function*() {
        const replica = onStore(IdempotencyStore.make(idempotencyStoreOptions), Idempotency.IdempotencyStore, Idempotency.make(idemOptions(id)))
        return [yield* replica, yield* replica] as const
      }),
    ([a, b]: readonly [Idempotency.Idempotency<any, any>, Idempotency.Idempotency<any, any>]) => useIdempotency(a, b),
    { outside: connectionBelow() }
  ),
  // StaleStore
  ...storeFamily({
    store: "StaleStore",
    note: "(background writes)",
    policy: { make: "Fallback.staleIfError", layer: "Fallback.layerStaleIfError" },
    storeTag: Fallback.StaleStore,
    make: () => StaleStore.make(),
    fromConfig: () => StaleStore.fromConfig(StaleStore.config),
    layer: () => StaleStore.layer(),
    layerConfig: () => StaleStore.layerConfig(StaleStore.config),
    config: { timeout: "2 seconds" },
    policyMake: (id) => Fallback.staleIfError<number>({ name: id, ttl: "1 minute", maxEntries: 10 }),
    policyLayer: (id) => Fallback.layerStaleIfError(StaleTag, { name: id, ttl: "1 minute", maxEntries: 10 }),
    tag: StaleTag,
    use: useStale
  }),
  // everything in the region: the connection and a store
  layerCase(
    "Redis.layer + BulkheadStore.layer + Bulkhead.layer, all in the region",
    (id) =>
      Layer.suspend(() =>
        Bulkhead.layer(BulkheadTag, bulkheadOptions(id)).pipe(
          Layer.provide(BulkheadStore.layer(bulkheadStoreOptions)),
          Layer.provide(Redis.layer(connectionOptions(id)))
        )
      ),
    Effect.flatMap(BulkheadTag, useBulkhead)
  )
].map((c) => ({ ...c, guardMillis: GUARD_MILLIS }))

describe.skipIf(!hasRedis)("Redis: built inside an uninterruptible region, closing its scope ends, nothing is left (real redis-server)", () => {
  // real sockets and Redis TIME: real time, and the real-time guard (GUARD_MILLIS)
  describeCases(cases, { test: it.live, timeout: 30_000, testClock: false })

  it("covers the connection and every store", () => {
    assert.isAtLeast(cases.length, 25)
  })
})
