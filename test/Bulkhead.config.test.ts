/**
 * Bulkhead options from `Config` (issue 21): every option set through a
 * `ConfigProvider`, nested under a prefix, and bad values rejected naming the
 * config key.
 */
import { assert, describe, it } from "@effect/vitest"
import { Bulkhead } from "effect-resilience"
import { Config, ConfigProvider, Context, Effect } from "effect"
import { assertConfigError, assertInvalidOption, buildWithConfig, withConfig } from "./utils/config.js"

// from Config, onStoreError may be "fail": the bulkhead may fail with BulkheadStoreError
class Db extends Context.Tag("test/Db")<Db, Bulkhead.Bulkhead<Bulkhead.BulkheadStoreError>>() {}

const every = {
  "db.maxConcurrent": "7",
  "db.maxQueue": "30",
  "db.maxWait": "2 seconds",
  "db.name": "db-pool",
  "db.metricsInterval": "500 millis",
  "db.maxKeyLength": "64",
  "db.onStoreError": "fail"
}

describe("Bulkhead from Config", () => {
  it.scoped("reads every option under a prefix", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.fromConfig(Config.nested(Bulkhead.config, "db")).pipe(withConfig(every))
      assert.deepStrictEqual(bulkhead.options, {
        maxConcurrent: 7,
        maxQueue: 30,
        maxWait: "2 seconds",
        name: "db-pool",
        metricsInterval: "500 millis",
        maxKeyLength: 64,
        onStoreError: "fail"
      })
      assert.strictEqual(bulkhead.policyName, "db-pool")
      const stats = yield* bulkhead.stats()
      assert.strictEqual(stats.maxConcurrent, 7)
      assert.strictEqual(stats.maxQueue, 30)
    }))

  it.scoped("environment variables (path delimiter _) in constant case, Infinity for no limit", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.constantCase(
        ConfigProvider.fromMap(new Map([["DB_MAX_CONCURRENT", "3"], ["DB_MAX_QUEUE", "Infinity"], ["DB_MAX_WAIT", "Infinity"]]), {
          pathDelim: "_"
        })
      )
      const bulkhead = yield* Bulkhead.fromConfig(Config.nested(Bulkhead.config, "db")).pipe(
        Effect.withConfigProvider(provider)
      )
      const stats = yield* bulkhead.stats()
      assert.strictEqual(stats.maxConcurrent, 3)
      assert.strictEqual(stats.maxQueue, Infinity)
    }))

  it.effect("layerConfig provides it under a tag; absent options take their defaults", () =>
    Effect.gen(function*() {
      const stats = yield* Effect.flatMap(Db, (b) => b.stats()).pipe(
        Effect.provide(Bulkhead.layerConfig(Db, Bulkhead.config)),
        withConfig({ maxConcurrent: "2" })
      )
      assert.strictEqual(stats.maxConcurrent, 2)
      assert.strictEqual(stats.maxQueue, 0)
    }))

  it.effect("a missing required option is a ConfigError naming its key", () =>
    Effect.gen(function*() {
      const exit = yield* buildWithConfig(Bulkhead.layerConfig(Db, Config.nested(Bulkhead.config, "db")), {})
      assertConfigError(exit, "maxConcurrent")
    }))

  it.effect("a malformed number is a ConfigError", () =>
    Effect.gen(function*() {
      const exit = yield* buildWithConfig(Bulkhead.layerConfig(Db, Bulkhead.config), { maxConcurrent: "many" })
      assertConfigError(exit, "maxConcurrent")
    }))

  const bad: ReadonlyArray<readonly [string, string, string]> = [
    ["maxConcurrent", "0", ">= 1"],
    ["maxConcurrent", "1.5", "an integer"],
    ["maxQueue", "-1", ">= 0"],
    ["maxWait", "-1 seconds", "duration > 0"],
    ["maxWait", "soon", "duration > 0"],
    ["name", "", "non-empty string"],
    ["metricsInterval", "0 millis", "duration > 0"],
    ["maxKeyLength", "100000", "<= 16383"],
    ["onStoreError", "explode", "one of \"allow\", \"fail\""]
  ]
  for (const [key, value, range] of bad) {
    it.effect(`${key}=${JSON.stringify(value)} is InvalidOptionsError naming the key`, () =>
      Effect.gen(function*() {
        const exit = yield* buildWithConfig(Bulkhead.layerConfig(Db, Bulkhead.config), { maxConcurrent: "2", [key]: value })
        assertInvalidOption(exit, "Bulkhead.layerConfig", key, range)
        const direct = yield* Bulkhead.fromConfig(Bulkhead.config).pipe(
          Effect.scoped,
          withConfig({ maxConcurrent: "2", [key]: value }),
          Effect.exit
        )
        assertInvalidOption(direct, "Bulkhead.fromConfig", key, range)
      }))
  }

  it.effect("a hand-written record of Configs still works (custom variable names)", () =>
    Effect.gen(function*() {
      const stats = yield* Effect.flatMap(Db, (b) => b.stats()).pipe(
        Effect.provide(Bulkhead.layerConfig(Db, { maxConcurrent: Config.integer("POOL"), maxWait: Config.duration("WAIT") })),
        withConfig({ POOL: "4", WAIT: "1 second" })
      )
      assert.strictEqual(stats.maxConcurrent, 4)
    }))
})
