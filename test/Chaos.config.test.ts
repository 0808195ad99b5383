/**
 * Chaos options from `Config` (issue 21): the rate, the initial state, the
 * name and a latency's delay (a duration or a range) set through a
 * `ConfigProvider`, what to inject given as code, and bad values rejected
 * naming the config key.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chaos, Policy } from "effect-resilience"
import { Config, Context, Data, Effect, Fiber, Ref, TestClock } from "effect"
import { assertConfigError, assertInvalidOption, buildWithConfig, withConfig } from "./utils/config.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
class Slow extends Context.Tag("test/Slow")<Slow, Policy.Policy>() {}

const every = {
  "chaos.rate": "1",
  "chaos.enabled": "true",
  "chaos.name": "slow-db",
  "chaos.delay": "2 seconds"
}

describe("Chaos from Config", () => {
  it.effect("reads every data option under a prefix: a latency of the delay read", () =>
    Effect.gen(function*() {
      const slow = yield* Chaos.fromConfig(Config.nested(Chaos.config, "chaos")).pipe(withConfig(every))
      assert.strictEqual(slow.kind, "Latency")
      assert.strictEqual(slow.rate, 1)
      assert.strictEqual(slow.policyName, "slow-db")
      assert.deepStrictEqual(Policy.describe(slow).options, { kind: "Latency", rate: 1, enabled: true, delay: "2s" })
      const fiber = yield* Effect.succeed("ok").pipe(slow, Effect.fork)
      yield* TestClock.adjust("1999 millis")
      assert.isTrue((yield* Fiber.poll(fiber))._tag === "None")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.deepStrictEqual(yield* slow.stats(), { calls: 1, injected: 1 })
    }))

  it.effect("a range of delays from delay.min and delay.max", () =>
    Effect.gen(function*() {
      const slow = yield* Chaos.fromConfig(Config.nested(Chaos.config, "chaos")).pipe(
        withConfig({ "chaos.rate": "0.5", "chaos.delay.min": "100 millis", "chaos.delay.max": "3 seconds" })
      )
      assert.deepStrictEqual(Policy.describe(slow).options, {
        kind: "Latency",
        rate: 0.5,
        enabled: true,
        delay: { min: "100ms", max: "3s" }
      })
    }))

  it.effect("code says what to inject: an error (fault), a value (outcome), an effect (behavior)", () =>
    Effect.gen(function*() {
      const values = { rate: "1", name: "faults" }
      const faults = yield* Chaos.fromConfig(Chaos.config, { error: () => new Unavailable() }).pipe(withConfig(values))
      assert.strictEqual(faults.kind, "Fault")
      const error = yield* Effect.flip(Effect.succeed("ok").pipe(faults))
      assert.instanceOf(error, Unavailable)
      const empty = yield* Chaos.fromConfig(Chaos.config, { value: [] as ReadonlyArray<string> }).pipe(withConfig(values))
      assert.strictEqual(empty.kind, "Outcome")
      assert.deepStrictEqual(yield* Effect.succeed(["a"]).pipe(empty), [])
      const ran = yield* Ref.make(0)
      const behavior = yield* Chaos.fromConfig(Chaos.config, { effect: Ref.update(ran, (n) => n + 1) }).pipe(withConfig(values))
      assert.strictEqual(behavior.kind, "Behavior")
      yield* Effect.void.pipe(behavior)
      assert.strictEqual(yield* Ref.get(ran), 1)
    }))

  it.effect("enabled=false from Config: nothing injected; a Switch in code replaces it", () =>
    Effect.gen(function*() {
      const off = yield* Chaos.fromConfig(Chaos.config, { error: "boom" }).pipe(
        withConfig({ rate: "1", enabled: "false" })
      )
      assert.strictEqual(yield* Effect.succeed("ok").pipe(off), "ok")
      const chaosSwitch = yield* Chaos.makeSwitch(true)
      const switched = yield* Chaos.fromConfig(Chaos.config, { error: "boom", enabled: chaosSwitch }).pipe(
        withConfig({ rate: "1", enabled: "false" })
      )
      assert.strictEqual(yield* Effect.flip(Effect.succeed("ok").pipe(switched)), "boom")
      yield* chaosSwitch.disable
      assert.strictEqual(yield* Effect.succeed("ok").pipe(switched), "ok")
    }))

  it.effect("layerConfig provides it under a tag; absent options take their defaults", () =>
    Effect.gen(function*() {
      const described = yield* Effect.map(Slow, (slow) => Policy.describe(slow)).pipe(
        Effect.provide(Chaos.layerConfig(Slow, Chaos.config)),
        withConfig({ rate: "0.1", delay: "1 second" })
      )
      assert.strictEqual(described.name, "chaos")
      assert.deepStrictEqual(described.options, { kind: "Latency", rate: 0.1, enabled: true, delay: "1s" })
    }))

  it.effect("a missing rate is a ConfigError naming its key; a malformed boolean too", () =>
    Effect.gen(function*() {
      const missing = yield* buildWithConfig(Chaos.layerConfig(Slow, Config.nested(Chaos.config, "chaos")), {
        "chaos.delay": "1 second"
      })
      assertConfigError(missing, "rate")
      const malformed = yield* buildWithConfig(Chaos.layerConfig(Slow, Chaos.config), { rate: "1", delay: "1 second", enabled: "maybe" })
      assertConfigError(malformed, "enabled")
    }))

  const bad: ReadonlyArray<readonly [Record<string, string>, string, string]> = [
    [{ rate: "2", delay: "1 second" }, "rate", "<= 1"],
    [{ rate: "-0.5", delay: "1 second" }, "rate", ">= 0"],
    [{ rate: "0.5", delay: "1 second", name: "" }, "name", "non-empty string"],
    [{ rate: "0.5", delay: "-1 seconds" }, "delay", "duration >= 0"],
    [{ rate: "0.5", delay: "soon" }, "delay", "duration >= 0"],
    [{ rate: "0.5", "delay.min": "1 second", "delay.max": "10 millis" }, "delay.max", ">= delay.min"],
    [{ rate: "0.5", "delay.min": "1 second" }, "delay.max", "duration >= 0"],
    // a latency needs its delay
    [{ rate: "0.5" }, "delay", "a finite duration >= 0 (a latency's"]
  ]
  for (const [values, key, range] of bad) {
    it.effect(`${JSON.stringify(values)} is InvalidOptionsError naming ${key}`, () =>
      Effect.gen(function*() {
        const exit = yield* buildWithConfig(Chaos.layerConfig(Slow, Chaos.config), values)
        assertInvalidOption(exit, "Chaos.layerConfig", key, range)
        const direct = yield* Chaos.fromConfig(Chaos.config).pipe(withConfig(values), Effect.exit)
        assertInvalidOption(direct, "Chaos.fromConfig", key, range)
      }))
  }

  it.effect("a delay beside an error in code, or two kinds in code, is InvalidOptionsError", () =>
    Effect.gen(function*() {
      const delayed = yield* Chaos.fromConfig(Chaos.config, { error: "boom" }).pipe(
        withConfig({ rate: "1", delay: "1 second" }),
        Effect.exit
      )
      assertInvalidOption(delayed, "Chaos.fromConfig", "delay", "absent beside error")
      const both = yield* Chaos.fromConfig(Chaos.config, { error: "boom", value: 1 } as any).pipe(
        withConfig({ rate: "1" }),
        Effect.exit
      )
      assertInvalidOption(both, "Chaos.fromConfig", "value", "absent beside error")
    }))
})
