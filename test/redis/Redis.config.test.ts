/**
 * The Redis connection's options from `Config` (issue 21): every option
 * read through a `ConfigProvider` (under a prefix, or the default `REDIS_*`
 * names of `layerConfig()`), each seen to take effect on a real
 * redis-server, ioredis options given as code, and bad values rejected
 * naming the config key before any connection is made.
 */
import { assert, describe, it } from "@effect/vitest"
import { Redis } from "effect-resilience/redis"
import { Config, Context, Duration, Effect, Layer, Schedule } from "effect"
import { assertConfigError, assertInvalidOption, withConfig } from "../utils/config.js"
import { hasRedis, startRedis } from "../utils/redis-server.js"

/** What the connection runs with. */
const inspect = (redis: Redis.RedisConnection) =>
  Effect.gen(function*() {
    const name = yield* redis.use("CLIENT GETNAME", (c) => c.client("GETNAME"))
    // the format announcement expires after three check intervals
    const formatTtl = yield* redis.use("PTTL", (c) => c.pttl(`${redis.prefix}format`))
    return {
      prefix: redis.prefix,
      commandTimeout: Duration.toMillis(redis.commandTimeout),
      connectTimeout: redis.client.options.connectTimeout,
      connectMode: redis.connectMode,
      name,
      formatTtl
    }
  })

/** Builds the layer with its `Config` from `values`; returns the exit. */
const build = (layer: Layer.Layer<Redis.Redis, unknown>, values: Record<string, string>) =>
  Layer.build(layer).pipe(Effect.scoped, withConfig(values), Effect.exit)

describe.skipIf(!hasRedis)("Redis from Config (real redis-server)", () => {
  it.live("reads every option under a prefix; ioredis options come as code", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* Redis.fromConfig(Config.nested(Redis.config, "cache"), { redis: { connectionName: "from-config" } }).pipe(
        withConfig({
          "cache.url": server.url,
          "cache.prefix": "cache:",
          "cache.connectTimeout": "3 seconds",
          "cache.commandTimeout": "700 millis",
          "cache.connect": "eager",
          "cache.formatCheckInterval": "1 second"
        })
      )
      const seen = yield* inspect(redis)
      assert.deepStrictEqual({ ...seen, formatTtl: undefined }, {
        prefix: "cache:",
        commandTimeout: 700,
        connectTimeout: 3000,
        connectMode: "eager",
        name: "from-config",
        formatTtl: undefined
      })
      // three intervals of 1 second (the default interval would give 30 seconds)
      assert.isTrue(seen.formatTtl > 0 && seen.formatTtl <= 3000, String(seen.formatTtl))
    }).pipe(Effect.scoped))

  it.live("layerConfig() reads REDIS_URL, REDIS_PREFIX, REDIS_CONNECT_TIMEOUT, REDIS_COMMAND_TIMEOUT, REDIS_CONNECT, REDIS_FORMAT_CHECK_INTERVAL", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const context = yield* Layer.build(Redis.layerConfig()).pipe(
        withConfig({
          REDIS_URL: server.url,
          REDIS_PREFIX: "env:",
          REDIS_CONNECT_TIMEOUT: "4 seconds",
          REDIS_COMMAND_TIMEOUT: "600 millis",
          REDIS_CONNECT: "background",
          REDIS_FORMAT_CHECK_INTERVAL: "2 seconds"
        })
      )
      const redis = Context.get(context, Redis.Redis)
      assert.strictEqual(redis.connectMode, "background")
      // background: the first connection is made after the start
      yield* Effect.repeat(Effect.sync(() => redis.isReady()), {
        until: (ready) => ready,
        schedule: Schedule.spaced("20 millis"),
        times: 250
      })
      yield* redis.use("PING", (c) => c.ping())
      const seen = yield* inspect(redis)
      assert.strictEqual(seen.prefix, "env:")
      assert.strictEqual(seen.commandTimeout, 600)
      assert.strictEqual(seen.connectTimeout, 4000)
      assert.isNull(seen.name)
    }).pipe(Effect.scoped))

  it.live("a record of Configs may give the ioredis options too (code wins)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const fromRecord = yield* Redis.fromConfig({
        url: Config.succeed(server.url),
        redis: Config.succeed({ connectionName: "record" })
      })
      assert.strictEqual(yield* fromRecord.use("CLIENT GETNAME", (c) => c.client("GETNAME")), "record")
      const codeWins = yield* Redis.fromConfig({
        url: Config.succeed(server.url),
        redis: Config.succeed({ connectionName: "record" })
      }, { redis: { connectionName: "code" } })
      assert.strictEqual(yield* codeWins.use("CLIENT GETNAME", (c) => c.client("GETNAME")), "code")
    }).pipe(Effect.scoped))
})

describe("Redis from Config: bad values", () => {
  const bad: ReadonlyArray<readonly [key: string, value: string, range: string]> = [
    ["url", "", "a non-empty string"],
    ["prefix", "", "a non-empty string"],
    ["connectTimeout", "0 millis", "a finite duration > 0"],
    ["connectTimeout", "25 days", "a finite duration > 0 and <= 2147483647 millis (Node's timer cap)"],
    ["commandTimeout", "30 days", "<= 2147483647 millis (Node's timer cap)"],
    ["connect", "lazy", "one of \"eager\", \"background\""],
    ["formatCheckInterval", "soon", "a finite duration > 0"]
  ]
  for (const [key, value, range] of bad) {
    it.effect(`${key}=${JSON.stringify(value)} is InvalidOptionsError naming the key`, () =>
      Effect.gen(function*() {
        const nested = yield* build(Redis.layerConfig(Config.nested(Redis.config, "cache")), { [`cache.${key}`]: value })
        assertInvalidOption(nested, "Redis.layerConfig", key, range)
        const direct = yield* Redis.fromConfig(Redis.config).pipe(Effect.scoped, withConfig({ [key]: value }), Effect.exit)
        assertInvalidOption(direct, "Redis.fromConfig", key, range)
      }))
  }

  it.effect("layerConfig() names the REDIS_* keys; REDIS_URL is required there", () =>
    Effect.gen(function*() {
      const url = { REDIS_URL: "redis://127.0.0.1:1" }
      assertInvalidOption(
        yield* build(Redis.layerConfig(), { ...url, REDIS_COMMAND_TIMEOUT: "0 millis" }),
        "Redis.layerConfig",
        "REDIS_COMMAND_TIMEOUT",
        "> 0"
      )
      assertInvalidOption(yield* build(Redis.layerConfig(), { ...url, REDIS_CONNECT: "lazy" }), "Redis.layerConfig", "REDIS_CONNECT", "one of")
      assertConfigError(yield* build(Redis.layerConfig(), {}), "REDIS_URL")
    }))

  it.effect("ioredis options must be an object, from the record or as code; the config argument itself is checked", () =>
    Effect.gen(function*() {
      const url = Config.succeed("redis://127.0.0.1:1")
      const record = yield* build(Redis.layerConfig({ url, redis: Config.succeed(null as any) }), {})
      assertInvalidOption(record, "Redis.layerConfig", "redis", "an object")
      const code = yield* build(Redis.layerConfig({ url }, { redis: 42 as any }), {})
      assertInvalidOption(code, "Redis.layerConfig", "redis", "an object")
      assertInvalidOption(yield* build(Redis.layerConfig(42 as any), {}), "Redis.layerConfig", "config", "a record of Configs")
      assertConfigError(yield* build(Redis.layerConfig({ url: Config.string("CACHE_URL") }), {}), "CACHE_URL")
    }))
})
