import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Context, Data, Effect, Exit, Layer, Ref } from "effect"
import { Errors, Policy, Retry, Timeout } from "effect-resilience"
import { runWithClock } from "./utils/clock.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
class ApiRetry extends Context.Tag("test/ApiRetry")<ApiRetry, Policy.Policy>() {}
class DbTimeout extends Context.Tag("test/DbTimeout")<DbTimeout, Policy.Policy<Errors.TimeoutError>>() {}

const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("Retry.layer / layerConfig", () => {
  it.effect("provides a retry policy under the user's Tag", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const call = Ref.update(attempts, (n) => n + 1).pipe(Effect.zipRight(Effect.fail(new Unavailable())))
      const program = call.pipe(Policy.fromTag(ApiRetry))
      const live = Retry.layer(ApiRetry, { schedule: Retry.constant("10 millis"), times: 2 })
      yield* runWithClock(Effect.provide(program, live))
      assert.strictEqual(yield* Ref.get(attempts), 3)
    }))

  it.effect("reads options from Config", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const call = Ref.update(attempts, (n) => n + 1).pipe(Effect.zipRight(Effect.fail(new Unavailable())))
      const live = Retry.layerConfig(ApiRetry, {
        times: Config.integer("RETRY_TIMES"),
        base: Config.duration("RETRY_BASE"),
        jitter: Config.literal("none", "full", "equal", "decorrelated")("RETRY_JITTER")
      }).pipe(Layer.provide(withEnv({ RETRY_TIMES: "4", RETRY_BASE: "5 millis", RETRY_JITTER: "none" })))
      yield* runWithClock(Effect.provide(call.pipe(Policy.fromTag(ApiRetry)), live))
      assert.strictEqual(yield* Ref.get(attempts), 5)
    }))

  it.effect("invalid values from the environment fail the layer with InvalidOptionsError", () =>
    Effect.gen(function*() {
      const live = Retry.layerConfig(ApiRetry, { times: Config.integer("RETRY_TIMES") }).pipe(
        Layer.provide(withEnv({ RETRY_TIMES: "-2" }))
      )
      const exit = yield* Effect.exit(Effect.provide(Effect.void.pipe(Policy.fromTag(ApiRetry)), live))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Effect.provide(Effect.void.pipe(Policy.fromTag(ApiRetry)), live))
      assert.strictEqual((error as Errors.InvalidOptionsError)._tag, "InvalidOptionsError")
      assert.strictEqual((error as Errors.InvalidOptionsError).option, "times")
      const wrongType = Retry.layerConfig(ApiRetry, { times: Config.integer("RETRY_TIMES") }).pipe(
        Layer.provide(withEnv({ RETRY_TIMES: "many" }))
      )
      const configError = yield* Effect.flip(Effect.provide(Effect.void.pipe(Policy.fromTag(ApiRetry)), wrongType))
      assert.notStrictEqual((configError as any)._tag, "InvalidOptionsError")
    }))
})

describe("Timeout.layer / layerConfig", () => {
  it.effect("provides a timeout from code or from Config", () =>
    Effect.gen(function*() {
      const program = Effect.never.pipe(Policy.fromTag(DbTimeout))
      const fromCode = yield* runWithClock(Effect.provide(program, Timeout.layer(DbTimeout, { duration: "1 second" })))
      assert.isTrue(Exit.isFailure(fromCode))
      const live = Timeout.layerConfig(DbTimeout, { duration: Config.duration("DB_TIMEOUT") }).pipe(
        Layer.provide(withEnv({ DB_TIMEOUT: "250 millis" }))
      )
      const exit = yield* runWithClock(Effect.provide(program.pipe(Effect.flip), live))
      assert.isTrue(Exit.isSuccess(exit) && exit.value.message === "Timed out after 250ms")
      const bad = Timeout.layerConfig(DbTimeout, { duration: Config.duration("DB_TIMEOUT") }).pipe(
        Layer.provide(withEnv({ DB_TIMEOUT: "0 millis" }))
      )
      const error = yield* Effect.flip(Effect.provide(program, bad))
      assert.strictEqual((error as Errors.InvalidOptionsError).option, "duration")
    }))
})
