/**
 * Fallback.staleIfError options from `Config` (issue 21): every data option
 * set through a `ConfigProvider`, nested under a prefix; the schema and the
 * predicates given in code; bad values rejected naming the config key; the
 * options of value/effect/chain and of the memory store described by their
 * specs, with the same errors as before.
 */
import { assert, describe, it } from "@effect/vitest"
import { Errors, Fallback, Policy } from "effect-resilience"
import { Config, ConfigProvider, Context, Data, Effect, Option, Schema, TestClock } from "effect"
import { assertConfigError, assertInvalidOption, buildWithConfig, withConfig } from "./utils/config.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
class NotFound extends Data.TaggedError("NotFound")<{}> {}
const unavailable = new Unavailable()

class Prices extends Context.Tag("test/Prices")<Prices, Fallback.StaleIfError<number>>() {}

const failWith = <E>(e: E): Effect.Effect<number, E> => Effect.fail(e)

const every = {
  "prices.ttl": "10 minutes",
  "prices.maxEntries": "2",
  "prices.key": "all",
  "prices.maxKeyLength": "16",
  "prices.defects": "true",
  "prices.interruptions": "true",
  "prices.maxPendingWrites": "1",
  "prices.name": "prices"
}

/** A store that is not the memory store, whose writes never complete (so writes pile up). */
const stuckStore: Fallback.StaleStore = {
  get: () => Effect.succeed(Option.none()),
  set: () => Effect.never,
  delete: () => Effect.void
}

describe("Fallback.staleIfError from Config", () => {
  it.effect("reads every data option under a prefix, and each takes effect", () =>
    Effect.gen(function*() {
      const prices = yield* Fallback.staleIfErrorFromConfig<number>(Config.nested(Fallback.staleIfErrorConfig, "prices")).pipe(
        withConfig(every)
      )
      assert.strictEqual(prices.policyName, "prices")
      assert.strictEqual(prices.key, "all")
      assert.deepStrictEqual(Policy.describe(prices).options, {
        ttl: "10m",
        maxEntries: 2,
        key: "all",
        store: "memory",
        on: "all",
        defects: true,
        interruptions: true
      })
      // defects and interruptions serve the stale value
      yield* Effect.succeed(1).pipe(prices)
      assert.strictEqual(yield* Effect.die("boom").pipe(Effect.as(0), prices), 1)
      assert.strictEqual(yield* Effect.interrupt.pipe(Effect.as(0), prices), 1)
      // maxEntries 2: a third key evicts the least recently used
      yield* prices.execute(Effect.succeed(2), { key: "b" })
      yield* prices.execute(Effect.succeed(3), { key: "c" })
      assert.strictEqual(yield* Effect.flip(prices.execute(failWith(unavailable), { key: "all" })), unavailable)
      // maxKeyLength 16: a 17-unit key is refused
      const refused = yield* Effect.flip(prices.execute(Effect.succeed(4), { key: "k".repeat(17) }))
      assert.instanceOf(refused, Errors.InvalidKeyError)
      // ttl 10 minutes: past it, the failure surfaces
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(yield* Effect.flip(prices.execute(failWith(unavailable), { key: "c" })), unavailable)
    }))

  it.effect("maxPendingWrites from Config bounds the writes waiting for a slow store", () =>
    Effect.gen(function*() {
      const run = (values: Record<string, string>) =>
        Effect.gen(function*() {
          const prices = yield* Fallback.staleIfErrorFromConfig<number>(Config.nested(Fallback.staleIfErrorConfig, "prices")).pipe(
            withConfig(values),
            Effect.provideService(Fallback.StaleStore, stuckStore)
          )
          for (let i = 0; i < 20; i++) yield* prices.execute(Effect.succeed(i), { key: `k${i}` })
          return yield* prices.stats()
        })
      const bounded = yield* run({ "prices.ttl": "1 minute", "prices.maxEntries": "100", "prices.maxPendingWrites": "1" })
      const unbounded = yield* run({ "prices.ttl": "1 minute", "prices.maxEntries": "100" })
      assert.isAbove(bounded.storeErrors, 0)
      assert.isBelow(bounded.pendingWrites, 20)
      assert.strictEqual(unbounded.storeErrors, 0)
      assert.strictEqual(unbounded.pendingWrites, 20)
    }))

  it.effect("the schema and the predicates are code; a defects predicate replaces the boolean read", () =>
    Effect.gen(function*() {
      const prices = yield* Fallback.staleIfErrorFromConfig<number, Unavailable | NotFound>(
        Config.nested(Fallback.staleIfErrorConfig, "prices"),
        { schema: Schema.Number, on: (e) => e._tag === "Unavailable", defects: (d) => d === "boom" }
      ).pipe(withConfig(every))
      yield* Effect.succeed(1).pipe(prices)
      assert.strictEqual(yield* failWith(unavailable).pipe(prices), 1)
      assert.strictEqual((yield* Effect.flip(failWith(new NotFound()).pipe(prices)))._tag, "NotFound")
      assert.strictEqual(yield* Effect.die("boom").pipe(Effect.as(0), prices), 1)
      const exit = yield* Effect.exit(Effect.die("other").pipe(Effect.as(0), prices))
      assert.isTrue(exit._tag === "Failure")
      assert.strictEqual(Policy.describe(prices).options.on, "predicate")
    }))

  it.effect("environment variables in constant case (path delimiter _)", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.constantCase(
        ConfigProvider.fromMap(new Map([["PRICES_TTL", "1 minute"], ["PRICES_MAX_ENTRIES", "5"], ["PRICES_NAME", "p"]]), {
          pathDelim: "_"
        })
      )
      const prices = yield* Fallback.staleIfErrorFromConfig(Config.nested(Fallback.staleIfErrorConfig, "prices")).pipe(
        Effect.withConfigProvider(provider)
      )
      assert.strictEqual(prices.policyName, "p")
      assert.strictEqual(Policy.describe(prices).options.maxEntries, 5)
    }))

  it.effect("layerStaleIfErrorConfig provides it under a tag (a bare Schema as code, as before); absent options take their defaults", () =>
    Effect.gen(function*() {
      const prices = yield* Prices.pipe(
        Effect.provide(Fallback.layerStaleIfErrorConfig(Prices, Fallback.staleIfErrorConfig, Schema.Number)),
        withConfig({ ttl: "1 minute", maxEntries: "10" })
      )
      assert.strictEqual(prices.policyName, "stale-if-error")
      assert.strictEqual(prices.key, "default")
      assert.deepStrictEqual(Policy.describe(prices).options, {
        ttl: "1m",
        maxEntries: 10,
        key: "default",
        store: "memory",
        on: "all",
        defects: false,
        interruptions: false
      })
    }))

  it.effect("missing required options are ConfigErrors naming their keys; so is a malformed boolean", () =>
    Effect.gen(function*() {
      const layer = Fallback.layerStaleIfErrorConfig(Prices, Config.nested(Fallback.staleIfErrorConfig, "prices"))
      assertConfigError(yield* buildWithConfig(layer, { "prices.maxEntries": "1" }), "ttl")
      assertConfigError(yield* buildWithConfig(layer, { "prices.ttl": "1 minute" }), "maxEntries")
      assertConfigError(
        yield* buildWithConfig(layer, { "prices.ttl": "1 minute", "prices.maxEntries": "1", "prices.defects": "maybe" }),
        "defects"
      )
    }))

  const base = { ttl: "1 minute", maxEntries: "10" }
  const bad: ReadonlyArray<readonly [Record<string, string>, string, string]> = [
    [{ ttl: "0 millis" }, "ttl", "duration > 0"],
    [{ ttl: "Infinity" }, "ttl", "finite duration"],
    [{ maxEntries: "0" }, "maxEntries", ">= 1"],
    [{ maxEntries: "1.5" }, "maxEntries", "an integer"],
    [{ key: "" }, "key", "non-empty string"],
    [{ key: "abcdef", maxKeyLength: "3" }, "key", "at most 3 UTF-16 code units"],
    [{ maxKeyLength: "0" }, "maxKeyLength", ">= 1"],
    [{ maxPendingWrites: "0" }, "maxPendingWrites", ">= 1"],
    [{ name: "" }, "name", "non-empty string"]
  ]
  for (const [values, key, range] of bad) {
    it.effect(`${JSON.stringify(values)} is InvalidOptionsError naming ${key}`, () =>
      Effect.gen(function*() {
        const exit = yield* buildWithConfig(
          Fallback.layerStaleIfErrorConfig(Prices, Fallback.staleIfErrorConfig),
          { ...base, ...values }
        )
        assertInvalidOption(exit, "Fallback.layerStaleIfErrorConfig", key, range)
        const direct = yield* Fallback.staleIfErrorFromConfig(Fallback.staleIfErrorConfig).pipe(
          withConfig({ ...base, ...values }),
          Effect.exit
        )
        assertInvalidOption(direct, "Fallback.staleIfErrorFromConfig", key, range)
      }))
  }

  it.effect("code given through a record of Configs is still checked (as before); bad code arguments", () =>
    Effect.gen(function*() {
      const viaConfig = yield* buildWithConfig(
        Fallback.layerStaleIfErrorConfig(Prices, {
          ttl: Config.succeed("1 minute"),
          maxEntries: Config.succeed(10),
          on: Config.succeed("x")
        } as any),
        {}
      )
      assertInvalidOption(viaConfig, "Fallback.layerStaleIfErrorConfig", "on", "a function")
      const notSchema = yield* Fallback.staleIfErrorFromConfig(Fallback.staleIfErrorConfig, { schema: 42 as any }).pipe(
        withConfig(base),
        Effect.exit
      )
      assertInvalidOption(notSchema, "Fallback.staleIfErrorFromConfig", "schema", "a Schema")
      const notObject = yield* Fallback.staleIfErrorFromConfig(Fallback.staleIfErrorConfig, 42 as any).pipe(
        withConfig(base),
        Effect.exit
      )
      assertInvalidOption(notObject, "Fallback.staleIfErrorFromConfig", "code", "an object")
    }))
})

describe("Fallback options (value, effect, chain; the memory store): described once, same errors", () => {
  it("each constructor names itself", () => {
    for (
      const [make, module] of [
        [(o: any) => Fallback.value(1, o), "Fallback.value"],
        [(o: any) => Fallback.effect(Effect.succeed(1), o), "Fallback.effect"],
        [(o: any) => Fallback.chain([Effect.succeed(1)], o), "Fallback.chain"]
      ] as const
    ) {
      const rows: ReadonlyArray<readonly [unknown, string, string]> = [
        [null, "options", "an object"],
        [{ name: "" }, "name", "a non-empty string"],
        [{ defects: 1 }, "defects", "a boolean or a predicate"],
        [{ interruptions: "yes" }, "interruptions", "a boolean"],
        [{ whenResult: 1 }, "whenResult", "a function"]
      ]
      for (const [options, option, expected] of rows) {
        try {
          make(options)
          assert.fail(`${module} accepted ${JSON.stringify(options)}`)
        } catch (e) {
          assert.instanceOf(e, Errors.InvalidOptionsError)
          const error = e as Errors.InvalidOptionsError
          assert.strictEqual(error.module, module)
          assert.strictEqual(error.option, option)
          assert.strictEqual(error.expected, expected)
        }
      }
    }
    assert.deepStrictEqual(Policy.describe(Fallback.value(1)).options, {
      mode: "value",
      on: "all",
      sources: 1,
      defects: false,
      interruptions: false,
      whenResult: false
    })
    assert.strictEqual(Fallback.value(1).policyName, "fallback")
  })

  it.effect("the memory store's maxEntries", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Fallback.makeStoreMemory({ maxEntries: 0 }))
      assert.strictEqual(e.module, "Fallback.makeStoreMemory")
      assert.strictEqual(e.expected, "an integer >= 1")
      const store = yield* Fallback.makeStoreMemory({ maxEntries: 3 })
      assert.strictEqual(store.kind, "memory")
    }))
})
