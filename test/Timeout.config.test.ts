/**
 * Timeout options from `Config` (issue 21): every option set through a
 * `ConfigProvider`, nested under a prefix, "Infinity" for no timeout, and
 * bad values rejected naming the config key.
 */
import { assert, describe, it } from "@effect/vitest"
import { Errors, Policy, Timeout } from "effect-resilience"
import { Cause, Config, Context, Duration, Effect, Exit, Fiber, Option, TestClock } from "effect"
import { assertConfigError, assertInvalidOption, buildWithConfig, withConfig } from "./utils/config.js"

class Db extends Context.Tag("test/DbTimeout")<Db, Policy.Policy<Timeout.TimeoutError>>() {}

const every = {
  "db.duration": "2 seconds",
  "db.name": "db-timeout",
  "db.disconnect": "true",
  "db.scope": "attempt"
}

describe("Timeout from Config", () => {
  it.effect("the @internal implementation option is not read from Config", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.fromConfig(Timeout.config).pipe(
        withConfig({ duration: "1 second", implementation: "sometimes" })
      )
      assert.deepStrictEqual(timeout.options, {})
    }))

  it.effect("reads every option under a prefix", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.fromConfig(Config.nested(Timeout.config, "db")).pipe(withConfig(every))
      assert.isTrue(Duration.equals(timeout.duration, Duration.seconds(2)))
      assert.strictEqual(timeout.policyName, "db-timeout")
      assert.deepStrictEqual(timeout.options, { name: "db-timeout", disconnect: true, scope: "attempt" })
      assert.deepStrictEqual(Policy.describe(timeout).options, { duration: "2s", disconnect: true, scope: "attempt" })
      // the duration, name and scope reach the error
      const fiber = yield* Effect.never.pipe(timeout, Effect.exit, Effect.fork)
      yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const error = Option.getOrUndefined(Cause.failureOption((exit as Exit.Failure<never, Timeout.TimeoutError>).cause))
      assert.instanceOf(error, Errors.TimeoutError)
      assert.strictEqual(error!.policy, "db-timeout")
      assert.strictEqual(error!.scope, "attempt")
      assert.strictEqual(timeout.unsafeStats().timeouts, 1)
    }))

  it.effect("\"Infinity\" is no timeout", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.fromConfig(Timeout.config).pipe(withConfig({ duration: "Infinity" }))
      assert.isFalse(Duration.isFinite(timeout.duration))
      const fiber = yield* Effect.sleep("1 hour").pipe(Effect.as("done"), timeout, Effect.fork)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* Fiber.join(fiber), "done")
    }))

  it.effect("layerConfig provides it under a tag; absent options take their defaults", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.flatMap(Db, (timeout) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.never.pipe(timeout, Effect.exit, Effect.fork)
          yield* TestClock.adjust("500 millis")
          return yield* Fiber.join(fiber)
        })).pipe(
          Effect.provide(Timeout.layerConfig(Db, Timeout.config)),
          withConfig({ duration: "500 millis" })
        )
      assert.isTrue(Exit.isFailure(exit))
      const error = Option.getOrUndefined(Cause.failureOption((exit as Exit.Failure<never, Timeout.TimeoutError>).cause))
      assert.instanceOf(error, Errors.TimeoutError)
      assert.strictEqual(error!.policy, undefined)
      assert.strictEqual(error!.scope, undefined)
    }))

  it.effect("a missing duration is a ConfigError naming its key", () =>
    Effect.gen(function*() {
      const exit = yield* buildWithConfig(Timeout.layerConfig(Db, Config.nested(Timeout.config, "db")), { "db.name": "db" })
      assertConfigError(exit, "duration")
    }))

  it.effect("a malformed boolean is a ConfigError", () =>
    Effect.gen(function*() {
      const exit = yield* buildWithConfig(Timeout.layerConfig(Db, Timeout.config), { duration: "1 second", disconnect: "maybe" })
      assertConfigError(exit, "disconnect")
    }))

  const bad: ReadonlyArray<readonly [string, string, string]> = [
    ["duration", "0 millis", "duration > 0"],
    ["duration", "-1 seconds", "duration > 0"],
    ["duration", "soon", "duration > 0"],
    ["name", "", "non-empty string"],
    ["scope", "global", "one of \"overall\", \"attempt\""]
  ]
  for (const [key, value, range] of bad) {
    it.effect(`${key}=${JSON.stringify(value)} is InvalidOptionsError naming the key`, () =>
      Effect.gen(function*() {
        const values = { duration: "1 second", [key]: value }
        const exit = yield* buildWithConfig(Timeout.layerConfig(Db, Timeout.config), values)
        assertInvalidOption(exit, "Timeout.layerConfig", key, range)
        const direct = yield* Timeout.fromConfig(Timeout.config).pipe(withConfig(values), Effect.exit)
        assertInvalidOption(direct, "Timeout.fromConfig", key, range)
      }))
  }

  it.effect("a hand-written record of Configs still works (custom variable names)", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.fromConfig({ duration: Timeout.durationConfig("DB_TIMEOUT"), name: Config.string("DB_NAME") }).pipe(
        withConfig({ DB_TIMEOUT: "3 seconds", DB_NAME: "db" })
      )
      assert.isTrue(Duration.equals(timeout.duration, Duration.seconds(3)))
      assert.strictEqual(timeout.policyName, "db")
    }))
})
