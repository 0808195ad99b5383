/**
 * The Redis stores' options from `Config` (issue 21), against a real
 * redis-server: every option of `RateLimiterStore`, `IdempotencyStore`,
 * `BulkheadStore` and `StaleStore` set through a `ConfigProvider` (nested
 * under a prefix), each taking effect; `layerConfig()` reading the
 * environment-style default keys (`RATE_LIMITER_STORE_TIMEOUT`, …); bad
 * values rejected naming the config key.
 *
 * The class-based stores keep their resolved options as `cfg` (not public):
 * read here to check the options that have no cheap observable effect
 * (poll intervals); the others are checked by their effect on Redis.
 */
import { assert, describe, it } from "@effect/vitest"
import { Bulkhead, Errors, Fallback, Idempotency, RateLimiter } from "effect-resilience"
import { BulkheadStore, IdempotencyStore, RateLimiterStore, Redis, StaleStore } from "effect-resilience/redis"
import { Cause, Config, ConfigProvider, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Ref, Schema } from "effect"
import { assertConfigError, assertInvalidOption, withConfig } from "../utils/config.js"
import { hasRedis, type RedisServer, startRedis } from "../utils/redis-server.js"

/** A connection whose own command timeout (5 s) is far above the stores' (100 ms): a timeout error names the store's. */
const connect = (server: RedisServer) => Redis.make({ url: server.url, commandTimeout: "5 seconds" })

const keys = (redis: Redis.RedisConnection) => redis.use("KEYS", (c) => c.keys("*"))

/** Builds `layer` on `redis` with its `Config` read from `values` (`pathDelim` "."); returns the exit. */
const build = <E>(layer: Layer.Layer<any, E, Redis.Redis>, redis: Redis.RedisConnection, values: Record<string, string>) =>
  Layer.build(layer).pipe(Effect.scoped, Effect.provideService(Redis.Redis, redis), withConfig(values), Effect.exit)

/** Environment-style keys (one path segment each), as `ConfigProvider.fromEnv` would read them. */
const withEnv = (values: Record<string, string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.withConfigProvider(effect, ConfigProvider.fromMap(new Map(Object.entries(values)), { pathDelim: "_" }))

const failureOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

describe.skipIf(!hasRedis)("Redis stores from Config (real redis-server)", () => {
  it.live("RateLimiterStore: every option under a prefix, the default environment keys, bad values", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server)
      const store = yield* RateLimiterStore.fromConfig(Config.nested(RateLimiterStore.config, "limits")).pipe(
        Effect.provideService(Redis.Redis, redis),
        withConfig({ "limits.prefix": "lim:", "limits.clock": "caller", "limits.timeout": "100 millis" })
      )
      assert.deepStrictEqual((store as any).cfg, { prefix: "lim:", clock: "caller", timeout: Duration.millis(100) })
      // clock
      assert.strictEqual(store.clock, "caller")
      // prefix: the limiter's keys are under it
      const limiter = yield* RateLimiter.make({ limit: 5, window: "1 minute", name: "api" }).pipe(
        Effect.provideService(RateLimiter.RateLimiterStore, store)
      )
      yield* Effect.succeed(1).pipe(limiter.execute({ key: "tenant" }))
      assert.isTrue((yield* keys(redis)).some((k) => k.startsWith(`${redis.prefix}lim:tb:`)))

      // layerConfig() reads RATE_LIMITER_STORE_*
      const fromEnv = yield* Effect.gen(function*() {
        const l = yield* RateLimiter.make({ limit: 5, window: "1 minute", name: "env" })
        yield* Effect.succeed(1).pipe(l.execute({ key: "t" }))
      }).pipe(
        Effect.provide(RateLimiterStore.layerConfig()),
        Effect.provideService(Redis.Redis, redis),
        withEnv({ RATE_LIMITER_STORE_PREFIX: "envlim:", RATE_LIMITER_STORE_CLOCK: "caller" }),
        Effect.scoped,
        Effect.exit
      )
      assert.isTrue(Exit.isSuccess(fromEnv))
      assert.isTrue((yield* keys(redis)).some((k) => k.startsWith(`${redis.prefix}envlim:tb:`)))
      const badEnv = yield* Layer.build(RateLimiterStore.layerConfig()).pipe(
        Effect.scoped,
        Effect.provideService(Redis.Redis, redis),
        withEnv({ RATE_LIMITER_STORE_CLOCK: "sundial" }),
        Effect.exit
      )
      assertInvalidOption(badEnv, "RateLimiterStore.layerConfig", "RATE_LIMITER_STORE_CLOCK", "one of \"redis\", \"caller\"")

      // bad values name the config key
      const rows: ReadonlyArray<readonly [string, string, string]> = [
        ["prefix", "", "non-empty string"],
        ["clock", "sundial", "one of \"redis\", \"caller\""],
        ["timeout", "0 millis", "duration > 0"],
        ["timeout", "Infinity", "finite duration"]
      ]
      for (const [key, value, range] of rows) {
        assertInvalidOption(
          yield* build(RateLimiterStore.layerConfig(RateLimiterStore.config), redis, { [key]: value }),
          "RateLimiterStore.layerConfig",
          key,
          range
        )
        const direct = yield* RateLimiterStore.fromConfig(RateLimiterStore.config).pipe(
          Effect.provideService(Redis.Redis, redis),
          withConfig({ [key]: value }),
          Effect.exit
        )
        assertInvalidOption(direct, "RateLimiterStore.fromConfig", key, range)
      }
      assertConfigError(
        yield* build(RateLimiterStore.layerConfig({ timeout: Config.duration("RL_TIMEOUT") }), redis, {}),
        "RL_TIMEOUT"
      )

      // timeout: with Redis paused, the store's own timeout (100 millis) cuts the call, not the connection's
      yield* server.pause
      const exit = yield* Effect.exit(Effect.succeed(1).pipe(limiter.execute({ key: "tenant" })))
      const error = failureOf(exit) as RateLimiter.RateLimiterStoreError
      assert.strictEqual(error._tag, "RateLimiterStoreError")
      assert.include(String((error.cause as Error).message), "timeout (100ms)")
      yield* server.resume
    }).pipe(Effect.scoped), 30_000)

  it.live("IdempotencyStore: every option under a prefix, the default environment keys, bad values", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server)
      const values = {
        "idem.lockTtl": "20 seconds",
        "idem.pollInterval": "50 millis",
        "idem.onStoreError": "allow",
        "idem.clock": "caller",
        "idem.timeout": "100 millis",
        "idem.prefix": "idem2:",
        "idem.maxValueBytes": "256"
      }
      const store = yield* IdempotencyStore.fromConfig(Config.nested(IdempotencyStore.config, "idem")).pipe(
        Effect.provideService(Redis.Redis, redis),
        withConfig(values)
      )
      assert.deepStrictEqual((store as any).cfg, {
        lockTtl: Duration.seconds(20),
        pollInterval: Duration.millis(50),
        onStoreError: "allow",
        clock: "caller",
        timeout: Duration.millis(100),
        prefix: "idem2:",
        maxValueBytes: 256
      })
      const idem = yield* Idempotency.make({ ttl: "1 minute", success: Schema.String, failure: Schema.String, name: "p" }).pipe(
        Effect.provideService(Idempotency.IdempotencyStore, store)
      )
      const runs = yield* Ref.make(0)
      const counted = (value: string) => Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.succeed(value))
      // prefix: the record is under it
      yield* idem.run("small", counted("ok"))
      yield* idem.run("small", counted("ok"))
      assert.strictEqual(yield* Ref.get(runs), 1)
      assert.isTrue((yield* keys(redis)).some((k) => k.startsWith(`${redis.prefix}idem2:`)))
      // maxValueBytes: a larger Exit is not stored (the call still succeeds; the next one runs again)
      yield* idem.run("large", counted("x".repeat(1_000)))
      yield* idem.run("large", counted("x".repeat(1_000)))
      assert.strictEqual(yield* Ref.get(runs), 3)

      // layerConfig() reads IDEMPOTENCY_STORE_*
      const fromEnv = yield* Effect.gen(function*() {
        const store = yield* Idempotency.IdempotencyStore
        return (store as any).cfg
      }).pipe(
        Effect.provide(IdempotencyStore.layerConfig()),
        Effect.provideService(Redis.Redis, redis),
        withEnv({ IDEMPOTENCY_STORE_LOCK_TTL: "1 minute", IDEMPOTENCY_STORE_MAX_VALUE_BYTES: "100" })
      )
      assert.deepStrictEqual(fromEnv.lockTtl, Duration.minutes(1))
      assert.strictEqual(fromEnv.maxValueBytes, 100)
      assert.strictEqual(fromEnv.prefix, "idem:")
      const badEnv = yield* Layer.build(IdempotencyStore.layerConfig()).pipe(
        Effect.scoped,
        Effect.provideService(Redis.Redis, redis),
        withEnv({ IDEMPOTENCY_STORE_POLL_INTERVAL: "0 millis" }),
        Effect.exit
      )
      assertInvalidOption(badEnv, "IdempotencyStore.layerConfig", "IDEMPOTENCY_STORE_POLL_INTERVAL", "duration > 0")

      const rows: ReadonlyArray<readonly [string, string, string]> = [
        ["lockTtl", "Infinity", "finite duration"],
        ["pollInterval", "0 millis", "duration > 0"],
        ["onStoreError", "ignore", "one of \"allow\", \"fail\""],
        ["clock", "sundial", "one of \"redis\", \"caller\""],
        ["timeout", "-1 seconds", "duration > 0"],
        ["prefix", "", "non-empty string"],
        ["maxValueBytes", "0", ">= 1"]
      ]
      for (const [key, value, range] of rows) {
        assertInvalidOption(
          yield* build(IdempotencyStore.layerConfig(IdempotencyStore.config), redis, { [key]: value }),
          "IdempotencyStore.layerConfig",
          key,
          range
        )
        const direct = yield* IdempotencyStore.fromConfig(IdempotencyStore.config).pipe(
          Effect.provideService(Redis.Redis, redis),
          withConfig({ [key]: value }),
          Effect.scoped,
          Effect.exit
        )
        assertInvalidOption(direct, "IdempotencyStore.fromConfig", key, range)
      }
      assertConfigError(
        yield* build(IdempotencyStore.layerConfig({ maxValueBytes: Config.integer("BYTES") }), redis, { BYTES: "many" }),
        "BYTES"
      )

      // onStoreError "allow" and timeout: with Redis paused, the call runs unprotected once the store's 100 millis pass
      yield* server.pause
      assert.strictEqual(yield* idem.run("paused", counted("ran")), "ran")
      assert.strictEqual(store.unsafeStats().allowedWithoutLock, 1)
      yield* server.resume
    }).pipe(Effect.scoped), 30_000)

  it.live("BulkheadStore: every option under a prefix, the default environment keys, bad values", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server)
      const values = {
        "pool.leaseTtl": "4 seconds",
        "pool.pollInterval": "50 millis",
        "pool.localMaxConcurrent": "2",
        "pool.clock": "caller",
        "pool.timeout": "100 millis",
        "pool.prefix": "bh2:"
      }
      const store = yield* BulkheadStore.fromConfig(Config.nested(BulkheadStore.config, "pool")).pipe(
        Effect.provideService(Redis.Redis, redis),
        withConfig(values)
      )
      assert.deepStrictEqual((store as any).cfg, {
        leaseTtl: Duration.seconds(4),
        pollInterval: Duration.millis(50),
        localMaxConcurrent: 2,
        clock: "caller",
        timeout: Duration.millis(100),
        prefix: "bh2:"
      })
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 5, name: "db", onStoreError: "fail" }).pipe(
        Effect.provideService(Bulkhead.BulkheadStore, store)
      )
      // a call in flight holds a lease under the prefix, expiring within leaseTtl
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(release)).pipe(bulkhead)
      )
      yield* Deferred.await(started)
      const leaseKeys = (yield* keys(redis)).filter((k) => k.startsWith(`${redis.prefix}bh2:`))
      assert.strictEqual(leaseKeys.length, 1)
      // leaseTtl: the lease expires (its score, in the caller's clock) within 4 seconds
      const [, score] = yield* redis.use("ZRANGE", (c) => c.zrange(leaseKeys[0]!, 0, -1, "WITHSCORES"))
      const left = Number(score) - Date.now()
      assert.isTrue(left > 0 && left <= 4_000, `lease expires in ${left} ms`)
      // clock "caller": the set itself is kept at least a minute of Redis time (that clock need not run at Redis's pace)
      const pttl = yield* redis.use("PTTL", (c) => c.pttl(leaseKeys[0]!))
      assert.isAbove(pttl, 4_000)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(fiber)

      // layerConfig() reads BULKHEAD_STORE_*
      const fromEnv = yield* Effect.map(Bulkhead.BulkheadStore, (s) => (s as any).cfg).pipe(
        Effect.provide(BulkheadStore.layerConfig()),
        Effect.provideService(Redis.Redis, redis),
        withEnv({ BULKHEAD_STORE_LEASE_TTL: "3 seconds", BULKHEAD_STORE_LOCAL_MAX_CONCURRENT: "7" })
      )
      assert.deepStrictEqual(fromEnv.leaseTtl, Duration.seconds(3))
      assert.strictEqual(fromEnv.localMaxConcurrent, 7)
      assert.strictEqual(fromEnv.prefix, "bulkhead:")

      const rows: ReadonlyArray<readonly [string, string, string]> = [
        ["leaseTtl", "Infinity", "finite duration > 0"],
        ["leaseTtl", "0 millis", "duration > 0"],
        ["pollInterval", "0 millis", "duration > 0"],
        ["localMaxConcurrent", "0", ">= 1"],
        ["localMaxConcurrent", "1.5", "an integer"],
        ["clock", "sundial", "one of \"redis\", \"caller\""],
        ["timeout", "Infinity", "finite duration"],
        ["prefix", "", "non-empty string"]
      ]
      for (const [key, value, range] of rows) {
        assertInvalidOption(
          yield* build(BulkheadStore.layerConfig(BulkheadStore.config), redis, { [key]: value }),
          "BulkheadStore.layerConfig",
          key,
          range
        )
        const direct = yield* BulkheadStore.fromConfig(BulkheadStore.config).pipe(
          Effect.provideService(Redis.Redis, redis),
          withConfig({ [key]: value }),
          Effect.exit
        )
        assertInvalidOption(direct, "BulkheadStore.fromConfig", key, range)
      }
      // a lease so long its expiry would not be exact, from the environment
      const huge = yield* Layer.build(BulkheadStore.layerConfig()).pipe(
        Effect.scoped,
        Effect.provideService(Redis.Redis, redis),
        withEnv({ BULKHEAD_STORE_LEASE_TTL: "1000000000 days" }),
        Effect.exit
      )
      assertInvalidOption(huge, "BulkheadStore.layerConfig", "BULKHEAD_STORE_LEASE_TTL", "<= 9007199254740991 millis")

      // timeout: with Redis paused, the store's own timeout (100 millis) cuts the acquisition (onStoreError "fail")
      yield* server.pause
      const exit = yield* Effect.exit(Effect.void.pipe(bulkhead))
      const error = failureOf(exit) as Bulkhead.BulkheadStoreError
      assert.strictEqual(error._tag, "BulkheadStoreError")
      assert.include(JSON.stringify(String((error.cause as Error).message)), "timeout (100ms)")
      yield* server.resume
    }).pipe(Effect.scoped), 30_000)

  it.live("StaleStore: every option under a prefix, the default environment keys, bad values", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server)
      const store = yield* StaleStore.fromConfig(Config.nested(StaleStore.config, "stale")).pipe(
        Effect.provideService(Redis.Redis, redis),
        withConfig({ "stale.maxValueBytes": "16", "stale.timeout": "100 millis", "stale.clock": "caller" })
      )
      // maxValueBytes: a larger value is not stored
      const big = yield* Effect.flip(store.set("big", { value: "x".repeat(100), storedAt: 1_000, expiresAt: 61_000 }, 1_000))
      assert.include(big.message + String((big.cause as Error).message), "maxValueBytes (16)")
      // clock "caller": the entry expires by the caller's times
      yield* store.set("small", { value: 1, storedAt: 1_000, expiresAt: 61_000 }, 1_000)
      assert.isTrue(Option.isSome(yield* store.get("small", 1_000)))
      assert.isTrue(Option.isNone(yield* store.get("small", 61_001)))

      // layerConfig() reads STALE_STORE_*; a policy made under it uses it
      const fromEnv = yield* Effect.gen(function*() {
        const s = yield* Fallback.StaleStore
        return yield* Effect.flip(s.set("big", { value: "x".repeat(100), storedAt: 1_000, expiresAt: 61_000 }, 1_000))
      }).pipe(
        Effect.provide(StaleStore.layerConfig()),
        Effect.provideService(Redis.Redis, redis),
        withEnv({ STALE_STORE_MAX_VALUE_BYTES: "10" })
      )
      assert.include(String((fromEnv.cause as Error).message), "maxValueBytes (10)")

      const rows: ReadonlyArray<readonly [string, string, string]> = [
        ["maxValueBytes", "0", ">= 1"],
        ["maxValueBytes", "1.5", "an integer"],
        ["timeout", "0 millis", "duration > 0"],
        ["clock", "sundial", "one of \"redis\", \"caller\""]
      ]
      for (const [key, value, range] of rows) {
        assertInvalidOption(
          yield* build(StaleStore.layerConfig(StaleStore.config), redis, { [key]: value }),
          "StaleStore.layerConfig",
          key,
          range
        )
        const direct = yield* StaleStore.fromConfig(StaleStore.config).pipe(
          Effect.provideService(Redis.Redis, redis),
          withConfig({ [key]: value }),
          Effect.exit
        )
        assertInvalidOption(direct, "StaleStore.fromConfig", key, range)
      }
      const badEnv = yield* Layer.build(StaleStore.layerConfig()).pipe(
        Effect.scoped,
        Effect.provideService(Redis.Redis, redis),
        withEnv({ STALE_STORE_TIMEOUT: "soon" }),
        Effect.exit
      )
      assertInvalidOption(badEnv, "StaleStore.layerConfig", "STALE_STORE_TIMEOUT", "duration > 0")
      // a malformed number is the config's error
      assertConfigError(
        yield* build(StaleStore.layerConfig(StaleStore.config), redis, { maxValueBytes: "many" }),
        "maxValueBytes"
      )

      // timeout: with Redis paused, the store's own timeout (100 millis) cuts the call
      yield* server.pause
      const error = yield* Effect.flip(store.get("small", 1_000))
      assert.include(String((error.cause as Error).message), "timeout (100ms)")
      yield* server.resume
    }).pipe(Effect.scoped), 30_000)
})

// keep the Errors import used when the suite is skipped (no redis-server)
void Errors
