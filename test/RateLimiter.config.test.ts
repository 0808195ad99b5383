/**
 * RateLimiter options from `Config` (issue 21): every option set through a
 * `ConfigProvider`, nested under a prefix, and bad values rejected naming the
 * config key; the memory store's options described by their spec.
 */
import * as RateLimiterExperimental from "@effect/experimental/RateLimiter"
import { assert, describe, it } from "@effect/vitest"
import { Errors, Policy, RateLimiter } from "effect-resilience"
import { Config, ConfigProvider, Context, Duration, Effect, Exit, Layer } from "effect"
import { assertConfigError, assertInvalidOption, buildWithConfig, withConfig } from "./utils/config.js"

class Api extends Context.Tag("test/Api")<Api, RateLimiter.RateLimiter>() {}

const every = {
  "api.limit": "7",
  "api.window": "2 seconds",
  "api.algorithm": "fixed-window",
  "api.onExceeded": "delay",
  "api.cost": "2",
  "api.maxDelay": "500 millis",
  "api.onStoreError": "allow",
  "api.name": "api-limiter",
  "api.metricsInterval": "Infinity",
  "api.maxKeyLength": "64"
}

describe("RateLimiter from Config", () => {
  it.scoped("reads every option under a prefix, and each takes effect", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.fromConfig(Config.nested(RateLimiter.config, "api")).pipe(withConfig(every))
      const o = limiter.options
      assert.strictEqual(o.limit, 7)
      assert.strictEqual(Duration.toMillis(o.window), 2_000)
      assert.strictEqual(o.algorithm, "fixed-window")
      assert.strictEqual(o.onExceeded, "delay")
      assert.strictEqual(o.cost, 2)
      assert.strictEqual(Duration.toMillis(o.maxDelay), 500)
      assert.strictEqual(o.onStoreError, "allow")
      assert.strictEqual(o.name, "api-limiter")
      assert.isFalse(Duration.isFinite(o.metricsInterval))
      assert.strictEqual(o.maxKeyLength, 64)
      assert.strictEqual(limiter.policyName, "api-limiter")
      // cost 2 of 7 per fixed window: 3 calls fit; the 4th would wait for the next window (2 seconds), more than
      // maxDelay (500 millis): rejected at once, without waiting
      for (let i = 0; i < 3; i++) yield* Effect.succeed(i).pipe(limiter)
      const error = yield* Effect.flip(Effect.succeed(3).pipe(limiter))
      assert.strictEqual(error._tag, "RateLimitExceededError")
      assert.strictEqual((error as RateLimiter.RateLimitExceededError).reason, "MaxDelayExceeded")
      assert.strictEqual((error as RateLimiter.RateLimitExceededError).cost, 2)
      // maxKeyLength: a 65-unit key is refused
      const refused = yield* Effect.flip(Effect.succeed(1).pipe(limiter.execute({ key: "k".repeat(65) })))
      assert.instanceOf(refused, Errors.InvalidKeyError)
    }))

  it.scoped("environment variables in constant case (path delimiter _)", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.constantCase(
        ConfigProvider.fromMap(
          new Map([["API_LIMIT", "3"], ["API_WINDOW", "1 second"], ["API_ON_EXCEEDED", "delay"], ["API_MAX_DELAY", "Infinity"]]),
          { pathDelim: "_" }
        )
      )
      const limiter = yield* RateLimiter.fromConfig(Config.nested(RateLimiter.config, "api")).pipe(
        Effect.withConfigProvider(provider)
      )
      assert.strictEqual(limiter.options.limit, 3)
      assert.strictEqual(limiter.options.onExceeded, "delay")
      assert.isFalse(Duration.isFinite(limiter.options.maxDelay))
    }))

  it.effect("layerConfig provides it under a tag; absent options take their defaults", () =>
    Effect.gen(function*() {
      const options = yield* Effect.map(Api, (l) => l.options).pipe(
        Effect.provide(RateLimiter.layerConfig(Api, RateLimiter.config)),
        withConfig({ limit: "5", window: "1 second" })
      )
      assert.strictEqual(options.limit, 5)
      assert.strictEqual(options.algorithm, "token-bucket")
      assert.strictEqual(options.onExceeded, "fail")
      assert.strictEqual(options.cost, 1)
      assert.strictEqual(options.onStoreError, "fail")
      assert.strictEqual(options.name, "rate-limiter")
      assert.strictEqual(options.maxKeyLength, 1024)
    }))

  it.scoped("a limiter made from Config still uses @effect/experimental's store when that is the one provided", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.fromConfig(RateLimiter.config).pipe(
        withConfig({ limit: "2", window: "1 second" }),
        Effect.provide(RateLimiterExperimental.layerStoreMemory)
      )
      assert.strictEqual(Policy.describe(limiter).options.store, "plain")
    }))

  it.effect("a missing required option is a ConfigError naming its key", () =>
    Effect.gen(function*() {
      const exit = yield* buildWithConfig(RateLimiter.layerConfig(Api, Config.nested(RateLimiter.config, "api")), {
        "api.window": "1 second"
      })
      assertConfigError(exit, "limit")
      const noWindow = yield* buildWithConfig(RateLimiter.layerConfig(Api, RateLimiter.config), { limit: "1" })
      assertConfigError(noWindow, "window")
    }))

  it.effect("a malformed number is a ConfigError", () =>
    Effect.gen(function*() {
      const exit = yield* buildWithConfig(RateLimiter.layerConfig(Api, RateLimiter.config), { limit: "many", window: "1 second" })
      assertConfigError(exit, "limit")
    }))

  const base = { limit: "10", window: "1 second" }
  const bad: ReadonlyArray<readonly [Record<string, string>, string, string]> = [
    [{ limit: "0" }, "limit", ">= 1"],
    [{ limit: "1.5" }, "limit", "an integer"],
    [{ window: "0 millis" }, "window", "duration > 0"],
    [{ window: "Infinity" }, "window", "finite duration"],
    [{ window: "soon" }, "window", "duration > 0"],
    [{ algorithm: "leaky" }, "algorithm", "one of \"token-bucket\", \"fixed-window\""],
    [{ onExceeded: "drop" }, "onExceeded", "one of \"fail\", \"delay\""],
    [{ cost: "11" }, "cost", "an integer >= 1 and <= 10"],
    [{ cost: "0" }, "cost", "<= 10"],
    [{ maxDelay: "1 second" }, "maxDelay", "no maxDelay unless onExceeded is \"delay\""],
    [{ onExceeded: "delay", maxDelay: "-1 seconds" }, "maxDelay", "duration >= 0"],
    [{ onStoreError: "ignore" }, "onStoreError", "one of \"fail\", \"allow\""],
    [{ name: "" }, "name", "non-empty string"],
    [{ metricsInterval: "0 millis" }, "metricsInterval", "duration > 0"],
    [{ maxKeyLength: "100000" }, "maxKeyLength", "<= 16383"]
  ]
  for (const [values, key, range] of bad) {
    it.effect(`${JSON.stringify(values)} is InvalidOptionsError naming ${key}`, () =>
      Effect.gen(function*() {
        const exit = yield* buildWithConfig(RateLimiter.layerConfig(Api, RateLimiter.config), { ...base, ...values })
        assertInvalidOption(exit, "RateLimiter.layerConfig", key, range)
        const direct = yield* RateLimiter.fromConfig(RateLimiter.config).pipe(
          Effect.scoped,
          withConfig({ ...base, ...values }),
          Effect.exit
        )
        assertInvalidOption(direct, "RateLimiter.fromConfig", key, range)
      }))
  }

  it.effect("a hand-written record of Configs still works (custom variable names); errors name its key", () =>
    Effect.gen(function*() {
      const config = { limit: Config.integer("RL_LIMIT"), window: Config.duration("RL_WINDOW") }
      const limit = yield* Effect.map(Api, (l) => l.options.limit).pipe(
        Effect.provide(RateLimiter.layerConfig(Api, config)),
        withConfig({ RL_LIMIT: "4", RL_WINDOW: "1 second" })
      )
      assert.strictEqual(limit, 4)
      const exit = yield* buildWithConfig(RateLimiter.layerConfig(Api, config), { RL_LIMIT: "0", RL_WINDOW: "1 second" })
      assertInvalidOption(exit, "RateLimiter.layerConfig", "limit", ">= 1")
    }))

  it.effect("the memory store's options: the same checks as before (maxKeys, sweepInterval)", () =>
    Effect.gen(function*() {
      const stats = yield* Effect.flatMap(RateLimiter.makeStoreMemory({ maxKeys: 3, sweepInterval: Duration.infinity }), (s) => s.stats()).pipe(
        Effect.scoped
      )
      assert.strictEqual(stats.maxKeys, 3)
      const exit = yield* Effect.exit(Effect.scoped(RateLimiter.makeStoreMemory({ sweepInterval: 0 })))
      assertInvalidOption(exit, "RateLimiter.makeStoreMemory", "sweepInterval", "duration > 0")
      const layerExit = yield* Effect.exit(Layer.build(RateLimiter.layerStoreMemory({ maxKeys: 0 })).pipe(Effect.scoped))
      assertInvalidOption(layerExit, "RateLimiter.makeStoreMemory", "maxKeys", ">= 1")
      assert.isTrue(Exit.isFailure(layerExit))
    }))
})
