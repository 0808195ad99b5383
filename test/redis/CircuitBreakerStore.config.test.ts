/**
 * The Redis CircuitBreakerStore's options from `Config` (issue 21): every
 * option read through a `ConfigProvider` (under a prefix, or the default
 * `CIRCUIT_BREAKER_STORE_*` names of `layerConfig()`), each seen to take
 * effect on a real redis-server, and bad values rejected naming the config
 * key before any command.
 */
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker } from "effect-resilience"
import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
import { Config, Effect, Layer } from "effect"
import { assertConfigError, assertInvalidOption, withConfig } from "../utils/config.js"
import { hasRedis, startRedis } from "../utils/redis-server.js"

const ok = Effect.succeed("ok")

/** Never used: bad options are refused before the store touches the connection. */
const noRedis = Layer.succeed(Redis.Redis, {} as Redis.RedisConnection)

const buildStore = (config: Parameters<typeof CircuitBreakerStore.layerConfig>[0], values: Record<string, string>) =>
  Layer.build(CircuitBreakerStore.layerConfig(config).pipe(Layer.provide(noRedis))).pipe(
    Effect.scoped,
    withConfig(values),
    Effect.exit
  )

describe.skipIf(!hasRedis)("CircuitBreakerStore from Config (real redis-server)", () => {
  it.effect("reads every option under a prefix: the caller's clock, the idle TTL", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const context = yield* Layer.build(
        CircuitBreakerStore.layerConfig(Config.nested(CircuitBreakerStore.config, "breakers")).pipe(
          Layer.provideMerge(Redis.layer({ url: server.url, prefix: "cfg:" }))
        )
      ).pipe(
        withConfig({ "breakers.clock": "caller", "breakers.idleTimeToLive": "10 minutes", "breakers.timeout": "5 seconds" })
      )
      const breaker = yield* CircuitBreaker.make({ name: "cfg", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" }).pipe(
        Effect.provide(context)
      )
      yield* Effect.exit(breaker(Effect.fail("boom")))
      const state = yield* breaker.state()
      // clock "caller": TestClock's 0, not Redis TIME
      assert.isTrue(state._tag === "Open" && state.since === 0)
      const pttl = Effect.flatMap(Redis.Redis, (redis) => redis.use("PTTL", (c) => c.pttl("cfg:cb:{3:cfg}"))).pipe(
        Effect.provide(context)
      )
      // open: kept; closed again, it carries the idle TTL read from Config (10 minutes)
      assert.strictEqual(yield* pttl, -1)
      yield* breaker.reset()
      const ttl = yield* pttl
      assert.isTrue(ttl > 540_000 && ttl <= 600_000, String(ttl))
    }).pipe(Effect.scoped))

  it.live("timeout from Config bounds each script call below the connection's command timeout", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const context = yield* Layer.build(
        CircuitBreakerStore.fromConfig(CircuitBreakerStore.config).pipe(
          Effect.map((store) => Layer.succeed(CircuitBreaker.CircuitBreakerStore, store)),
          Layer.unwrapScoped,
          Layer.provide(Redis.layer({ url: server.url, commandTimeout: "30 seconds" }))
        )
      ).pipe(withConfig({ timeout: "50 millis" }))
      const breaker = yield* CircuitBreaker.make({
        name: "cfg-timeout",
        tripPolicy: CircuitBreaker.consecutive(2),
        openDuration: "1 minute",
        onStoreError: "fail"
      }).pipe(Effect.provide(context))
      yield* breaker(ok)
      yield* server.pause
      // without the store's timeout, the call would wait for the connection's 30 seconds
      const error = yield* Effect.flip(breaker(ok)).pipe(Effect.ensuring(server.resume))
      assert.strictEqual(error._tag, "CircuitBreakerError")
      assert.isTrue(error._tag === "CircuitBreakerError" && error.reason._tag === "CircuitBreakerStoreError")
      assert.include(error.message, "timeout")
    }).pipe(Effect.scoped), 15_000)
})

describe("CircuitBreakerStore from Config: bad values", () => {
  const bad: ReadonlyArray<readonly [key: string, value: string, range: string]> = [
    ["clock", "wall", "one of \"redis\", \"caller\""],
    ["idleTimeToLive", "0 millis", "a finite duration > 0"],
    ["idleTimeToLive", "soon", "a finite duration > 0"],
    ["timeout", "Infinity", "a finite duration > 0"]
  ]
  for (const [key, value, range] of bad) {
    it.effect(`${key}=${JSON.stringify(value)} is InvalidOptionsError naming the key`, () =>
      Effect.gen(function*() {
        const nested = yield* buildStore(Config.nested(CircuitBreakerStore.config, "breakers"), { [`breakers.${key}`]: value })
        assertInvalidOption(nested, "CircuitBreakerStore.layerConfig", key, range)
        const direct = yield* CircuitBreakerStore.fromConfig(CircuitBreakerStore.config).pipe(
          Effect.provide(noRedis),
          Effect.scoped,
          withConfig({ [key]: value }),
          Effect.exit
        )
        assertInvalidOption(direct, "CircuitBreakerStore.fromConfig", key, range)
      }))
  }

  it.effect("layerConfig() reads CIRCUIT_BREAKER_STORE_*: errors name those keys", () =>
    Effect.gen(function*() {
      const env: ReadonlyArray<readonly [string, string, string]> = [
        ["CIRCUIT_BREAKER_STORE_CLOCK", "wall", "one of"],
        ["CIRCUIT_BREAKER_STORE_IDLE_TTL", "0 millis", "> 0"],
        ["CIRCUIT_BREAKER_STORE_TIMEOUT", "-1 seconds", "> 0"]
      ]
      for (const [key, value, range] of env) {
        assertInvalidOption(yield* buildStore(undefined, { [key]: value }), "CircuitBreakerStore.layerConfig", key, range)
      }
    }))

  it.effect("a missing required Config is a ConfigError naming its key; the config argument itself is checked", () =>
    Effect.gen(function*() {
      assertConfigError(yield* buildStore({ timeout: Config.duration("BREAKER_STORE_TIMEOUT") }, {}), "BREAKER_STORE_TIMEOUT")
      const wrong = yield* buildStore(42 as any, {})
      assertInvalidOption(wrong, "CircuitBreakerStore.layerConfig", "config", "a record of Configs")
    }))
})
