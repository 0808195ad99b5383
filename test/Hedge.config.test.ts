/**
 * Hedge options from `Config` (issue 21): every data option set through a
 * `ConfigProvider`, nested under a prefix, code options (`while`,
 * `whenResult`) given beside, and bad values rejected naming the config key.
 */
import { assert, describe, it } from "@effect/vitest"
import { Errors, Hedge, Policy } from "effect-resilience"
import { Cause, Config, Context, Data, Duration, Effect, Exit, Fiber, Option, Ref, TestClock } from "effect"
import { assertConfigError, assertInvalidOption, buildWithConfig, withConfig } from "./utils/config.js"

class Search extends Context.Tag("test/SearchHedge")<Search, Policy.Policy>() {}
class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

const every = {
  "search.delay": "100 millis",
  "search.maxAttempts": "3",
  "search.failWith": "first",
  "search.failAfterMaxAttempts": "true",
  "search.name": "search-hedge"
}

describe("Hedge from Config", () => {
  it.effect("reads every data option under a prefix; whenResult comes as code", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.fromConfig(Config.nested(Hedge.config, "search"), {
        whenResult: (hits: ReadonlyArray<string>) => hits.length === 0
      }).pipe(withConfig(every))
      assert.strictEqual(hedge.policyName, "search-hedge")
      assert.strictEqual(hedge.maxAttempts, 3)
      assert.isTrue(Duration.equals(hedge.delay as Duration.Duration, Duration.millis(100)))
      assert.deepStrictEqual(Policy.describe(hedge).options, {
        delay: "100ms",
        maxAttempts: 3,
        while: false,
        whenResult: true,
        failWith: "first",
        failAfterMaxAttempts: true
      })
      // every attempt answers an empty list: a hedge every 100 millis, then a FailedResultError
      const calls = yield* Ref.make(0)
      const fiber = yield* Ref.updateAndGet(calls, (n) => n + 1).pipe(
        Effect.zipRight(Effect.sleep("1 second")),
        Effect.as([] as ReadonlyArray<string>),
        hedge,
        Effect.exit,
        Effect.fork
      )
      yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(yield* Ref.get(calls), 3)
      assert.isTrue(Exit.isFailure(exit))
      const error = Option.getOrUndefined(Cause.failureOption((exit as Exit.Failure<unknown, unknown>).cause))
      assert.instanceOf(error, Errors.FailedResultError)
      const stats = yield* hedge.stats()
      assert.strictEqual(stats.hedges, 2)
    }))

  it.effect("\"Infinity\" delays: a new attempt only when one fails", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.fromConfig(Hedge.config).pipe(withConfig({ delay: "Infinity", maxAttempts: "2" }))
      assert.isFalse(Duration.isFinite(hedge.delay as Duration.Duration))
      const fiber = yield* Effect.sleep("1 hour").pipe(Effect.as("slow"), hedge, Effect.fork)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* Fiber.join(fiber), "slow")
      assert.strictEqual((yield* hedge.stats()).hedges, 0)
    }))

  it.effect("layerConfig provides it under a tag, with while as code; absent options take their defaults", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const exit = yield* Effect.flatMap(Search, (hedge) =>
        Ref.update(calls, (n) => n + 1).pipe(Effect.zipRight(Effect.fail(new Unavailable())), hedge, Effect.exit)).pipe(
          Effect.provide(Hedge.layerConfig(Search, Hedge.config, { while: () => false })),
          withConfig({ delay: "10 millis", maxAttempts: "3" })
        )
      // while says no failure is hedgeable: one attempt only
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(yield* Ref.get(calls), 1)
      const defaults = yield* Hedge.fromConfig(Hedge.config).pipe(withConfig({ delay: "0 millis", maxAttempts: "1" }))
      assert.strictEqual(defaults.policyName, "hedge")
      assert.strictEqual(Policy.describe(defaults).options.failWith, "last")
    }))

  it.effect("a missing required option is a ConfigError naming its key", () =>
    Effect.gen(function*() {
      const missingDelay = yield* buildWithConfig(Hedge.layerConfig(Search, Config.nested(Hedge.config, "search")), {
        "search.maxAttempts": "2"
      })
      assertConfigError(missingDelay, "delay")
      const missingAttempts = yield* buildWithConfig(Hedge.layerConfig(Search, Hedge.config), { delay: "10 millis" })
      assertConfigError(missingAttempts, "maxAttempts")
    }))

  const bad: ReadonlyArray<readonly [string, string, string]> = [
    ["delay", "-1 seconds", "a duration >= 0"],
    ["delay", "soon", "a duration >= 0"],
    ["maxAttempts", "0", ">= 1"],
    ["maxAttempts", "101", "<= 100"],
    ["maxAttempts", "1.5", "an integer"],
    ["failWith", "middle", "one of \"last\", \"first\""],
    // without whenResult in code
    ["failAfterMaxAttempts", "true", "without whenResult"],
    ["name", "", "non-empty string"]
  ]
  for (const [key, value, range] of bad) {
    it.effect(`${key}=${JSON.stringify(value)} is InvalidOptionsError naming the key`, () =>
      Effect.gen(function*() {
        const values = { delay: "10 millis", maxAttempts: "2", [key]: value }
        const exit = yield* buildWithConfig(Hedge.layerConfig(Search, Hedge.config), values)
        assertInvalidOption(exit, "Hedge.layerConfig", key, range)
        const direct = yield* Hedge.fromConfig(Hedge.config).pipe(withConfig(values), Effect.exit)
        assertInvalidOption(direct, "Hedge.fromConfig", key, range)
      }))
  }

  it.effect("a bad code option is InvalidOptionsError naming it", () =>
    Effect.gen(function*() {
      const exit = yield* Hedge.fromConfig(Hedge.config, { while: "yes" as any }).pipe(
        withConfig({ delay: "10 millis", maxAttempts: "2" }),
        Effect.exit
      )
      assertInvalidOption(exit, "Hedge.fromConfig", "while", "a function")
    }))
})
