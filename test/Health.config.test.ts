/**
 * Health service options from `Config` (issue 21): the checks' default
 * interval and timeout and the message bound set through a
 * `ConfigProvider`, a `Schedule` given as code, and bad values rejected
 * naming the config key. The checks themselves are code.
 */
import { assert, describe, it } from "@effect/vitest"
import { Health } from "effect-resilience"
import { Config, Effect, Ref, Schedule, TestClock } from "effect"
import { assertConfigError, assertInvalidOption, buildWithConfig, withConfig } from "./utils/config.js"
import { eventually } from "./utils/fibers.js"

const every = {
  "health.interval": "15 seconds",
  "health.timeout": "1 second",
  "health.maxMessageLength": "20"
}


describe("Health from Config", () => {
  it.scoped("reads every option under a prefix: the checks' interval, timeout and message bound", () =>
    Effect.gen(function*() {
      const health = yield* Health.fromConfig(Config.nested(Health.config, "health")).pipe(withConfig(every))
      const runs = yield* Ref.make(0)
      yield* health.register({ name: "db", check: Ref.update(runs, (n) => n + 1) })
      // a check that never answers: unhealthy at the timeout read (1 second)
      yield* health.register({ name: "stuck", check: Effect.never, critical: false })
      // a failing check whose message is cut at 20 characters
      yield* health.register({ name: "noisy", check: Effect.fail("x".repeat(100)), critical: false })
      yield* eventually(Ref.get(runs), (n) => n === 1)
      yield* TestClock.adjust("1 second")
      const report = yield* health.report
      const stuck = report.checks.find((c) => c.name === "stuck")!
      assert.strictEqual(stuck.status, "unhealthy")
      assert.isFalse(stuck.pending)
      const noisy = report.checks.find((c) => c.name === "noisy")!
      assert.strictEqual(noisy.message!.length, 20)
      // the next run of "db" at the interval read (15 seconds)
      yield* TestClock.adjust("13 seconds")
      assert.strictEqual(yield* Ref.get(runs), 1)
      yield* TestClock.adjust("1 second")
      yield* eventually(Ref.get(runs), (n) => n === 2)
    }))

  it.scoped("a Schedule given as code replaces the interval read", () =>
    Effect.gen(function*() {
      const health = yield* Health.fromConfig(Health.config, { interval: Schedule.spaced("1 second") }).pipe(
        withConfig({ interval: "1 hour" })
      )
      const runs = yield* Ref.make(0)
      yield* health.register({ name: "db", check: Ref.update(runs, (n) => n + 1) })
      yield* eventually(Ref.get(runs), (n) => n === 1)
      yield* TestClock.adjust("1 second")
      yield* eventually(Ref.get(runs), (n) => n === 2)
    }))

  it.effect("layerConfig provides the service and its policy registry; absent options take their defaults", () =>
    Effect.gen(function*() {
      const report = yield* Effect.gen(function*() {
        const runs = yield* Ref.make(0)
        yield* Health.register({ name: "db", check: Ref.update(runs, (n) => n + 1) })
        yield* eventually(Ref.get(runs), (n) => n === 1)
        // the default interval: 10 seconds
        yield* TestClock.adjust("10 seconds")
        yield* eventually(Ref.get(runs), (n) => n === 2)
        const registry = yield* Health.PolicyRegistry
        assert.deepStrictEqual(yield* registry.list, [])
        return yield* Health.report
      }).pipe(Effect.scoped, Effect.provide(Health.layerConfig(Health.config)), withConfig({}))
      assert.strictEqual(report.status, "healthy")
    }))

  it.effect("\"Infinity\" is no timeout", () =>
    Effect.gen(function*() {
      const result = yield* Effect.gen(function*() {
        const health = yield* Health.Health
        yield* health.register({ name: "slow", check: Effect.sleep("1 hour") })
        yield* TestClock.adjust("1 hour")
        return yield* health.report
      }).pipe(Effect.scoped, Effect.provide(Health.layerConfig(Health.config)), withConfig({ timeout: "Infinity" }))
      assert.strictEqual(result.checks[0]!.status, "healthy")
    }))

  it.effect("a malformed number is a ConfigError naming its key", () =>
    Effect.gen(function*() {
      const exit = yield* buildWithConfig(Health.layerConfig(Config.nested(Health.config, "health")), {
        "health.maxMessageLength": "long"
      })
      assertConfigError(exit, "maxMessageLength")
    }))

  const bad: ReadonlyArray<readonly [string, string, string]> = [
    ["interval", "0 millis", "finite duration > 0"],
    ["interval", "Infinity", "finite duration > 0"],
    ["interval", "often", "finite duration > 0"],
    ["timeout", "0 millis", "duration > 0"],
    ["timeout", "-1 seconds", "duration > 0"],
    ["maxMessageLength", "15", ">= 16"],
    ["maxMessageLength", "20.5", "an integer"]
  ]
  for (const [key, value, range] of bad) {
    it.effect(`${key}=${JSON.stringify(value)} is InvalidOptionsError naming the key`, () =>
      Effect.gen(function*() {
        const exit = yield* buildWithConfig(Health.layerConfig(Health.config), { [key]: value })
        assertInvalidOption(exit, "Health.layerConfig", key, range)
        const direct = yield* Health.fromConfig(Health.config).pipe(Effect.scoped, withConfig({ [key]: value }), Effect.exit)
        assertInvalidOption(direct, "Health.fromConfig", key, range)
      }))
  }

  it.effect("a bad code option is InvalidOptionsError naming it", () =>
    Effect.gen(function*() {
      const exit = yield* Health.fromConfig(Health.config, { interval: "soon" as any }).pipe(
        Effect.scoped,
        withConfig({}),
        Effect.exit
      )
      assertInvalidOption(exit, "Health.fromConfig", "interval", "duration > 0")
    }))
})
