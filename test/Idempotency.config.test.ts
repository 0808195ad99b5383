/**
 * Idempotency options from `Config` (issue 21): every data option set through
 * a `ConfigProvider`, nested under a prefix; the Schemas and a keepFailures
 * predicate given in code; bad values rejected naming the config key; the
 * memory store's options described by their spec.
 */
import { assert, describe, it } from "@effect/vitest"
import { Errors, Idempotency } from "effect-resilience"
import { Config, ConfigProvider, Context, Duration, Effect, Layer, Ref, Schema, TestClock } from "effect"
import { assertConfigError, assertInvalidOption, buildWithConfig, withConfig } from "./utils/config.js"

class Payments extends Context.Tag("test/Payments")<Payments, Idempotency.Idempotency>() {}

const every = {
  "payments.ttl": "2 hours",
  "payments.keepFailures": "true",
  "payments.name": "payments",
  "payments.maxKeyLength": "32"
}

describe("Idempotency from Config", () => {
  it.scoped("reads every data option under a prefix, and each takes effect", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.fromConfig(Config.nested(Idempotency.config, "payments")).pipe(withConfig(every))
      assert.strictEqual(Duration.toMillis(idem.options.ttl), 2 * 60 * 60 * 1000)
      assert.strictEqual(idem.options.keepFailures, true)
      assert.strictEqual(idem.options.name, "payments")
      assert.strictEqual(idem.options.maxKeyLength, 32)
      assert.strictEqual(idem.policyName, "payments")
      const runs = yield* Ref.make(0)
      const declined = Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.fail("declined"))
      // keepFailures: the failure is kept and replayed for ttl
      assert.strictEqual(yield* Effect.flip(idem.run("order-1", declined)), "declined")
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* Effect.flip(idem.run("order-1", declined)), "declined")
      assert.strictEqual(yield* Ref.get(runs), 1)
      // ttl: 2 hours after it was stored, the key runs again
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* Effect.flip(idem.run("order-1", declined)), "declined")
      assert.strictEqual(yield* Ref.get(runs), 2)
      // maxKeyLength: a 33-unit key is refused
      const refused = yield* Effect.flip(idem.run("k".repeat(33), Effect.succeed(1)))
      assert.instanceOf(refused, Errors.InvalidKeyError)
    }))

  it.scoped("the Schemas and a keepFailures predicate are code; the predicate replaces the boolean read", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.fromConfig(Config.nested(Idempotency.config, "payments"), {
        success: Schema.Number,
        failure: Schema.String,
        keepFailures: (e) => e === "declined"
      }).pipe(withConfig(every))
      assert.strictEqual(idem.options.hasSchemas, true)
      assert.strictEqual(idem.options.keepFailures, "predicate")
      const runs = yield* Ref.make(0)
      const timeout = Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.fail("timeout"))
      yield* Effect.flip(idem.run("a", timeout))
      yield* Effect.flip(idem.run("a", timeout))
      assert.strictEqual(yield* Ref.get(runs), 2)
    }))

  it.scoped("environment variables in constant case (path delimiter _)", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.constantCase(
        ConfigProvider.fromMap(new Map([["PAYMENTS_TTL", "1 hour"], ["PAYMENTS_KEEP_FAILURES", "true"]]), { pathDelim: "_" })
      )
      const idem = yield* Idempotency.fromConfig(Config.nested(Idempotency.config, "payments")).pipe(
        Effect.withConfigProvider(provider)
      )
      assert.strictEqual(Duration.toMillis(idem.options.ttl), 3_600_000)
      assert.strictEqual(idem.options.keepFailures, true)
    }))

  it.effect("layerConfig provides it under a tag; absent options take their defaults", () =>
    Effect.gen(function*() {
      const options = yield* Effect.map(Payments, (i) => i.options).pipe(
        Effect.provide(Idempotency.layerConfig(Payments, Idempotency.config)),
        withConfig({ ttl: "1 minute" })
      )
      assert.deepStrictEqual(options, {
        ttl: Duration.minutes(1),
        keepFailures: false,
        hasSchemas: false,
        name: "idempotency",
        maxKeyLength: 1024
      })
    }))

  it.effect("a missing ttl is a ConfigError naming its key; so is a malformed boolean", () =>
    Effect.gen(function*() {
      const exit = yield* buildWithConfig(Idempotency.layerConfig(Payments, Config.nested(Idempotency.config, "payments")), {})
      assertConfigError(exit, "ttl")
      const malformed = yield* buildWithConfig(Idempotency.layerConfig(Payments, Idempotency.config), {
        ttl: "1 minute",
        keepFailures: "maybe"
      })
      assertConfigError(malformed, "keepFailures")
    }))

  const bad: ReadonlyArray<readonly [string, string, string]> = [
    ["ttl", "0 millis", "duration > 0"],
    ["ttl", "Infinity", "finite duration"],
    ["ttl", "soon", "duration > 0"],
    ["name", "", "non-empty string"],
    ["maxKeyLength", "0", ">= 1"],
    ["maxKeyLength", "100000", "<= 16383"]
  ]
  for (const [key, value, range] of bad) {
    it.effect(`${key}=${JSON.stringify(value)} is InvalidOptionsError naming the key`, () =>
      Effect.gen(function*() {
        const values = { ttl: "1 minute", [key]: value }
        const exit = yield* buildWithConfig(Idempotency.layerConfig(Payments, Idempotency.config), values)
        assertInvalidOption(exit, "Idempotency.layerConfig", key, range)
        const direct = yield* Idempotency.fromConfig(Idempotency.config).pipe(Effect.scoped, withConfig(values), Effect.exit)
        assertInvalidOption(direct, "Idempotency.fromConfig", key, range)
      }))
  }

  it.effect("bad code options: the argument itself (named schemas by layerConfig, as before) and each option", () =>
    Effect.gen(function*() {
      const values = { ttl: "1 minute" }
      const layerExit = yield* buildWithConfig(
        Idempotency.layerConfig(Payments, Idempotency.config, 42 as any),
        values
      )
      assertInvalidOption(layerExit, "Idempotency.layerConfig", "schemas", "an object")
      const direct = yield* Idempotency.fromConfig(Idempotency.config, 42 as any).pipe(Effect.scoped, withConfig(values), Effect.exit)
      assertInvalidOption(direct, "Idempotency.fromConfig", "code", "an object")
      const notSchema = yield* Idempotency.fromConfig(Idempotency.config, { success: "x" as any }).pipe(
        Effect.scoped,
        withConfig(values),
        Effect.exit
      )
      assertInvalidOption(notSchema, "Idempotency.fromConfig", "success", "a Schema")
      const notPredicate = yield* Idempotency.fromConfig(Idempotency.config, { keepFailures: 1 as any }).pipe(
        Effect.scoped,
        withConfig(values),
        Effect.exit
      )
      assertInvalidOption(notPredicate, "Idempotency.fromConfig", "keepFailures", "a boolean or a predicate on the error")
    }))

  it.effect("a hand-written record of Configs still works (custom variable names)", () =>
    Effect.gen(function*() {
      const ttl = yield* Effect.map(Payments, (i) => i.options.ttl).pipe(
        Effect.provide(Idempotency.layerConfig(Payments, { ttl: Config.duration("IDEM_TTL") })),
        withConfig({ IDEM_TTL: "5 minutes" })
      )
      assert.strictEqual(Duration.toMillis(ttl), 300_000)
    }))

  it.effect("the memory store's options: the same checks as before", () =>
    Effect.gen(function*() {
      const stats = yield* Effect.flatMap(
        Idempotency.makeStoreMemory({ maxKeys: 5, whenFull: "evictOldest", highWater: 1, sweepInterval: Duration.infinity }),
        (s) => s.stats()
      ).pipe(Effect.scoped)
      assert.strictEqual(stats.maxKeys, 5)
      const rows: ReadonlyArray<readonly [Idempotency.MemoryStoreOptions, string, string]> = [
        [{ whenFull: "drop" as any }, "whenFull", "one of \"refuse\", \"evictOldest\""],
        [{ highWater: 0 }, "highWater", "a number in (0, 1]"],
        [{ highWater: 1.5 }, "highWater", "a number >= 0 and <= 1"],
        [{ maxKeys: 0 }, "maxKeys", "an integer >= 1"]
      ]
      for (const [options, option, expected] of rows) {
        const exit = yield* Effect.exit(Layer.build(Idempotency.layerStoreMemory(options)).pipe(Effect.scoped))
        assertInvalidOption(exit, "Idempotency.makeStoreMemory", option, expected)
      }
    }))
})
