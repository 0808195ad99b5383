import { assert, describe, it } from "@effect/vitest"
import {
  Clock,
  ConfigError,
  ConfigProvider,
  Config,
  Context,
  Data,
  Duration,
  Effect,
  Exit,
  FastCheck,
  Fiber,
  FiberRef,
  Option,
  Random,
  Ref,
  TestClock
} from "effect"
import { expectTypeOf } from "vitest"
import { Chaos, Errors, Policy, Retry, Timeout } from "../src/index.js"
import { expectInvalidOption } from "./utils/errors.js"
import { counterValue } from "./utils/metrics.js"
import { collect } from "./utils/streams.js"
import { numRuns } from "./utils/props.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

const seeded = (seed: number) => Effect.withRandom(Random.make(seed))

/** A dependency that counts its calls. */
const makeDependency = <A>(value: A) =>
  Effect.map(Ref.make(0), (calls) => ({
    call: Effect.as(Ref.update(calls, (n) => n + 1), value),
    calls: Ref.get(calls)
  }))

/** Runs `effect` n times and returns which runs failed (true) or succeeded. */
const pattern = <A, E>(effect: Effect.Effect<A, E>, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => Effect.map(Effect.either(effect), (e) => e._tag === "Left"))

describe("Chaos.fault", () => {
  it.effect("rate 1 always fails with the error and never calls the dependency", () =>
    Effect.gen(function*() {
      const dep = yield* makeDependency("ok")
      const faults = Chaos.fault({ rate: 1, error: new Unavailable() })
      const e = yield* Effect.flip(dep.call.pipe(faults))
      assert.instanceOf(e, Unavailable)
      assert.strictEqual(yield* dep.calls, 0)
      assert.deepStrictEqual(yield* faults.stats(), { calls: 1, injected: 1 })
    }))

  it.effect("rate 0 never injects", () =>
    Effect.gen(function*() {
      const dep = yield* makeDependency("ok")
      const faults = Chaos.fault({ rate: 0, error: new Unavailable() })
      const results = yield* pattern(dep.call.pipe(faults), 50)
      assert.isTrue(results.every((failed) => !failed))
      assert.strictEqual(yield* dep.calls, 50)
    }))

  it.effect("a function error is called per injection", () =>
    Effect.gen(function*() {
      let made = 0
      const faults = Chaos.fault({
        rate: 1,
        error: () => {
          made++
          return new Unavailable()
        }
      })
      yield* Effect.flip(Effect.void.pipe(faults))
      yield* Effect.flip(Effect.void.pipe(faults))
      assert.strictEqual(made, 2)
    }))

  it.effect("a seeded Random reproduces the same injections; another seed differs", () =>
    Effect.gen(function*() {
      const faults = Chaos.fault({ rate: 0.5, error: "boom" })
      const call = Effect.succeed(1).pipe(faults)
      const a = yield* seeded(7)(pattern(call, 40))
      const b = yield* seeded(7)(pattern(call, 40))
      const c = yield* seeded(8)(pattern(call, 40))
      assert.deepStrictEqual(a, b)
      assert.notDeepEqual(a, c)
    }))

  it.effect("emits ChaosInjected and counts resilience_chaos_injected", () =>
    Effect.gen(function*() {
      const faults = Chaos.fault({ rate: 1, error: "boom", name: "fault-metrics" })
      const events = yield* collect(faults.events, 1)
      yield* Effect.either(Effect.void.pipe(faults))
      yield* Effect.either(Effect.void.pipe(faults))
      assert.deepStrictEqual(yield* events, [{ _tag: "ChaosInjected", policy: "fault-metrics", kind: "Fault" }])
      assert.strictEqual(yield* counterValue("resilience_chaos_injected", { policy: "fault-metrics", kind: "Fault" }), 2)
    }))

  it.effect("rate 1 and rate 0 decide without drawing from Random", () =>
    Effect.gen(function*() {
      for (const rate of [0, 1]) {
        const faults = Chaos.fault({ rate, error: "boom" })
        const afterCall = yield* seeded(5)(Effect.zipRight(Effect.either(Effect.succeed(1).pipe(faults)), Random.next))
        assert.strictEqual(afterCall, yield* seeded(5)(Random.next), `rate ${rate}`)
        assert.strictEqual((yield* faults.stats()).injected, rate)
      }
    }))

  it.effect("a call is injected only when its random draw is strictly below the rate", () =>
    Effect.gen(function*() {
      // the draw this seed gives the first call, used as the rate itself: [0, rate) has measure rate
      const draw = yield* seeded(21)(Random.next)
      assert.isTrue(draw > 0 && draw < 1)
      const atDraw = Chaos.fault({ rate: draw, error: "boom" })
      assert.strictEqual(yield* seeded(21)(Effect.succeed(1).pipe(atDraw)), 1)
      const aboveDraw = Chaos.fault({ rate: Math.min(1, draw + 1e-9), error: "boom" })
      assert.strictEqual(yield* seeded(21)(Effect.flip(Effect.succeed(1).pipe(aboveDraw))), "boom")
    }))
})

describe("Chaos.latency", () => {
  it.effect("delays the call by delay (TestClock)", () =>
    Effect.gen(function*() {
      const call = Effect.map(Clock.currentTimeMillis, (t) => t)
      const fiber = yield* Effect.fork(call.pipe(Chaos.latency({ rate: 1, delay: "1 second" })))
      yield* TestClock.adjust("999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), 1000)
    }))

  it.effect("a range draws each delay from Random, within [min, max]", () =>
    Effect.gen(function*() {
      const slow = Chaos.latency({ rate: 1, delay: { min: "100 millis", max: "300 millis" }, name: "range" })
      const events = yield* collect(slow.events, 20)
      const fiber = yield* Effect.fork(
        seeded(3)(Effect.forEach(Array.from({ length: 20 }), () => Effect.void.pipe(slow), { concurrency: "unbounded" }))
      )
      yield* TestClock.adjust("300 millis")
      yield* Fiber.join(fiber)
      const delays = (yield* events).map((e) => Duration.toMillis(e.delay!))
      assert.strictEqual(delays.length, 20)
      assert.isTrue(delays.every((d) => d >= 100 && d <= 300))
      assert.isAbove(new Set(delays).size, 10)
    }))

  it.effect("emits ChaosInjected with the injected delay and counts the injection", () =>
    Effect.gen(function*() {
      const slow = Chaos.latency({ rate: 1, delay: "1 second", name: "latency-events" })
      const events = yield* collect(slow.events, 1)
      const fiber = yield* Effect.fork(Effect.void.pipe(slow))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* events, [
        { _tag: "ChaosInjected", policy: "latency-events", kind: "Latency", delay: Duration.seconds(1) }
      ])
      assert.strictEqual(yield* counterValue("resilience_chaos_injected", { policy: "latency-events", kind: "Latency" }), 1)
    }))

  it.effect("a range with min = max waits exactly that long and draws nothing from Random", () =>
    Effect.gen(function*() {
      const slow = Chaos.latency({ rate: 1, delay: { min: "250 millis", max: "250 millis" } })
      const fiber = yield* Effect.fork(seeded(9)(Effect.zipRight(Effect.void.pipe(slow), Random.next)))
      yield* TestClock.adjust("249 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(fiber), yield* seeded(9)(Random.next))
    }))

  it.effect("the injected wait is interruptible and the call then never runs", () =>
    Effect.gen(function*() {
      const dep = yield* makeDependency("ok")
      const fiber = yield* Effect.fork(dep.call.pipe(Chaos.latency({ rate: 1, delay: "1 hour" })))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.strictEqual(yield* dep.calls, 0)
    }))

  it.effect("under a timeout, injected latency becomes a TimeoutError", () =>
    Effect.gen(function*() {
      const policy = Policy.compose(Timeout.make("500 millis"), Chaos.latency({ rate: 1, delay: "2 seconds" }))
      const fiber = yield* Effect.fork(Effect.flip(Effect.succeed(1).pipe(policy)))
      yield* TestClock.adjust("500 millis")
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "TimeoutError")
    }))
})

describe("Chaos.outcome and Chaos.behavior", () => {
  it.effect("outcome replaces the result without calling", () =>
    Effect.gen(function*() {
      const dep = yield* makeDependency(["a", "b"] as ReadonlyArray<string>)
      const empty = Chaos.outcome({ rate: 1, value: [] as ReadonlyArray<string> })
      assert.deepStrictEqual(yield* dep.call.pipe(empty), [])
      assert.strictEqual(yield* dep.calls, 0)
    }))

  it.effect("behavior runs its effect before the call, and the call still runs", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<Array<string>>([])
      const say = (s: string) => Ref.update(log, (l) => [...l, s])
      const policy = Chaos.behavior({ rate: 1, effect: say("chaos") })
      assert.strictEqual(yield* say("call").pipe(Effect.as(1), policy), 1)
      assert.deepStrictEqual(yield* Ref.get(log), ["chaos", "call"])
    }))

  it.effect("a failing behavior surfaces and the call does not run", () =>
    Effect.gen(function*() {
      const dep = yield* makeDependency("ok")
      const policy = Chaos.behavior({ rate: 1, effect: Effect.fail(new Unavailable()) })
      assert.instanceOf(yield* Effect.flip(dep.call.pipe(policy)), Unavailable)
      assert.strictEqual(yield* dep.calls, 0)
    }))
})

describe("enabled", () => {
  it.effect("a Switch turns injection on and off at run time", () =>
    Effect.gen(function*() {
      const chaos = yield* Chaos.makeSwitch(false)
      const faults = Chaos.fault({ rate: 1, error: "boom", enabled: chaos })
      assert.strictEqual(yield* Effect.succeed(1).pipe(faults), 1)
      assert.isFalse(yield* faults.isEnabled())
      yield* chaos.enable
      assert.strictEqual(yield* Effect.flip(Effect.succeed(1).pipe(faults)), "boom")
      yield* chaos.set(false)
      assert.strictEqual(yield* Effect.succeed(1).pipe(faults), 1)
      assert.deepStrictEqual(yield* faults.stats(), { calls: 3, injected: 1 })
    }))

  it.effect("enabled: false never injects; an Effect<boolean> is read per call", () =>
    Effect.gen(function*() {
      const off = Chaos.fault({ rate: 1, error: "boom", enabled: false })
      assert.strictEqual(yield* Effect.succeed(1).pipe(off), 1)
      const flag = FiberRef.unsafeMake(false)
      const byFiberRef = Chaos.fault({ rate: 1, error: "boom", enabled: FiberRef.get(flag) })
      assert.strictEqual(yield* Effect.succeed(1).pipe(byFiberRef), 1)
      assert.strictEqual(yield* Effect.flip(Effect.succeed(1).pipe(byFiberRef, Effect.locally(flag, true))), "boom")
    }))

  it.effect("a disabled policy draws nothing from Random", () =>
    Effect.gen(function*() {
      const chaos = Chaos.unsafeMakeSwitch(false)
      const faults = Chaos.fault({ rate: 0.5, error: "boom", enabled: chaos })
      const withChaosOff = yield* seeded(11)(Effect.zipRight(Effect.succeed(1).pipe(faults), Random.next))
      const untouched = yield* seeded(11)(Random.next)
      assert.strictEqual(withChaosOff, untouched)
    }))

  it.effect("a switch starts on unless told otherwise", () =>
    Effect.gen(function*() {
      const made = yield* Chaos.makeSwitch()
      assert.isTrue(yield* made.isEnabled())
      const unsafe = Chaos.unsafeMakeSwitch()
      assert.isTrue(yield* unsafe.isEnabled())
      yield* unsafe.disable
      assert.isFalse(yield* unsafe.isEnabled())
      assert.isFalse(yield* Chaos.unsafeMakeSwitch(false).isEnabled())
      const faults = Chaos.fault({ rate: 1, error: "boom", enabled: Chaos.unsafeMakeSwitch() })
      assert.strictEqual(yield* Effect.flip(Effect.succeed(1).pipe(faults)), "boom")
    }))

  it.effect("switchFromConfig reads the initial state from Config", () =>
    Effect.gen(function*() {
      const fromEnv = yield* Chaos.switchFromConfig(Config.boolean("CHAOS_ENABLED")).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["CHAOS_ENABLED", "true"]])))
      )
      assert.isTrue(yield* fromEnv.isEnabled())
      assert.isTrue(Chaos.isSwitch(fromEnv))
      const missing = yield* Effect.flip(
        Chaos.switchFromConfig(Config.boolean("CHAOS_ENABLED")).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
        )
      )
      assert.isTrue(ConfigError.isConfigError(missing))
      if (ConfigError.isConfigError(missing)) assert.strictEqual(missing._op, "MissingData")
    }))
})

describe("switches", () => {
  it.effect("unsafeIsEnabled reads the switch synchronously; set, enable and disable flip it", () =>
    Effect.gen(function*() {
      const chaos = yield* Chaos.makeSwitch(false)
      assert.isFalse(chaos.unsafeIsEnabled())
      const isEnabled = chaos.isEnabled()
      yield* chaos.enable
      assert.isTrue(chaos.unsafeIsEnabled())
      assert.isTrue(yield* isEnabled, "the Effect reads the state when it runs")
      const { set } = chaos
      yield* set(false)
      assert.isFalse(chaos.unsafeIsEnabled())
      assert.isFalse(yield* isEnabled)
    }))

  it.effect("makeSwitch, unsafeMakeSwitch and switchFromConfig reject an initial state that is not a boolean", () =>
    Effect.gen(function*() {
      for (const initial of ["yes", 1, 0, null, {}] as ReadonlyArray<any>) {
        const e = yield* Effect.flip(Chaos.makeSwitch(initial))
        assert.instanceOf(e, Errors.InvalidOptionsError)
        assert.deepStrictEqual([e.module, e.option, e.expected], ["Chaos.makeSwitch", "initial", "a boolean"])
        expectInvalidOption(() => Chaos.unsafeMakeSwitch(initial), "initial")
        const fromConfig = yield* Effect.flip(Chaos.switchFromConfig(Config.succeed(initial)))
        assert.instanceOf(fromConfig, Errors.InvalidOptionsError)
        if (fromConfig instanceof Errors.InvalidOptionsError) {
          assert.deepStrictEqual([fromConfig.module, fromConfig.option], ["Chaos.switchFromConfig", "initial"])
        }
      }
      assert.isTrue((yield* Chaos.makeSwitch(undefined)).unsafeIsEnabled())
      assert.isTrue(Chaos.unsafeMakeSwitch(undefined).unsafeIsEnabled())
    }))

  it("types: makeSwitch can fail with InvalidOptionsError; switchFromConfig with a ConfigError too", () => {
    expectTypeOf(Chaos.makeSwitch(true)).toEqualTypeOf<Effect.Effect<Chaos.Switch, Errors.InvalidOptionsError>>()
    expectTypeOf(Chaos.switchFromConfig(Config.boolean("X"))).toEqualTypeOf<
      Effect.Effect<Chaos.Switch, ConfigError.ConfigError | Errors.InvalidOptionsError>
    >()
  })
})

describe("readers and guards", () => {
  it.effect("stats() reads the counters when it runs; unsafeStats() is the synchronous twin", () =>
    Effect.gen(function*() {
      const faults = Chaos.fault({ rate: 1, error: "boom" })
      const stats = faults.stats()
      assert.deepStrictEqual(faults.unsafeStats(), { calls: 0, injected: 0 })
      yield* Effect.either(Effect.void.pipe(faults))
      const snapshot = faults.unsafeStats()
      assert.deepStrictEqual(snapshot, { calls: 1, injected: 1 })
      assert.deepStrictEqual(yield* stats, snapshot)
      yield* Effect.either(Effect.void.pipe(faults))
      assert.deepStrictEqual(snapshot, { calls: 1, injected: 1 }, "an earlier snapshot does not change")
      assert.deepStrictEqual(yield* stats, { calls: 2, injected: 2 })
    }))

  it("every kind carries the Chaos TypeId; isChaos tells chaos from other policies", () => {
    const all = [
      Chaos.fault({ rate: 0.5, error: "boom" }),
      Chaos.fault({ rate: 0.5, error: () => "boom" }),
      Chaos.latency({ rate: 0.5, delay: "1 second" }),
      Chaos.outcome({ rate: 0.5, value: 1 }),
      Chaos.behavior({ rate: 0.5, effect: Effect.void })
    ]
    for (const p of all) {
      assert.isTrue(Chaos.isChaos(p), p.kind)
      assert.strictEqual(p[Chaos.TypeId], Chaos.TypeId)
    }
    assert.strictEqual(Chaos.TypeId, Symbol.for("effect-resilience/Chaos"))
    for (const other of [Timeout.make("1 second"), Chaos.unsafeMakeSwitch(), (self: Effect.Effect<number>) => self, {}, null]) {
      assert.isFalse(Chaos.isChaos(other))
    }
  })
})

describe("composition", () => {
  it.effect("innermost under a retry: injected faults are retried like real ones", () =>
    Effect.gen(function*() {
      const dep = yield* makeDependency("ok")
      const faults = Chaos.fault({ rate: 0.5, error: new Unavailable() })
      const policy = Policy.compose(Retry.policy({ schedule: Retry.constant("10 millis"), times: 10 }), faults)
      const fiber = yield* Effect.fork(seeded(1)(Effect.forEach(Array.from({ length: 20 }), () => dep.call.pipe(policy))))
      yield* TestClock.adjust("1 second")
      const results = yield* Fiber.join(fiber)
      assert.deepStrictEqual(results, Array.from({ length: 20 }, () => "ok"))
      assert.strictEqual(yield* dep.calls, 20)
      assert.isAbove((yield* faults.stats()).injected, 0)
    }))

  it.effect("chaos innermost in a pipeline: the attempt timeout and retry handle injected latency", () =>
    Effect.gen(function*() {
      const pipeline = Policy.compose(
        Policy.pipeline({
          retry: Retry.policy({ schedule: Retry.constant("10 millis"), times: 5 }),
          attemptTimeout: "100 millis"
        }),
        Chaos.latency({ rate: 0.5, delay: "1 second" })
      )
      const fiber = yield* Effect.fork(seeded(5)(Effect.succeed("ok").pipe(pipeline)))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
    }))

  it("types: each kind adds what it says", () => {
    const call = Effect.succeed(1) as Effect.Effect<number, "E">
    expectTypeOf(call.pipe(Chaos.fault({ rate: 0.1, error: new Unavailable() }))).toEqualTypeOf<
      Effect.Effect<number, "E" | Unavailable>
    >()
    expectTypeOf(call.pipe(Chaos.fault({ rate: 0.1, error: () => new Unavailable() }))).toEqualTypeOf<
      Effect.Effect<number, "E" | Unavailable>
    >()
    expectTypeOf(call.pipe(Chaos.latency({ rate: 0.1, delay: "1 second" }))).toEqualTypeOf<Effect.Effect<number, "E">>()
    expectTypeOf(call.pipe(Chaos.outcome({ rate: 0.1, value: "fake" }))).toEqualTypeOf<Effect.Effect<number | string, "E">>()
    class Cache extends Context.Tag("Cache")<Cache, { readonly clear: Effect.Effect<void> }>() {}
    const dropCache = Chaos.behavior({ rate: 0.1, effect: Effect.flatMap(Cache, (c) => c.clear) })
    expectTypeOf(call.pipe(dropCache)).toEqualTypeOf<Effect.Effect<number, "E", Cache>>()
    const composed = Policy.compose(Timeout.make("1 second"), Chaos.fault({ rate: 0.1, error: new Unavailable() }))
    expectTypeOf(call.pipe(composed)).toEqualTypeOf<Effect.Effect<number, "E" | Unavailable | Errors.TimeoutError>>()
  })

  it("describes itself for Policy.describe", () => {
    assert.deepStrictEqual(Policy.describe(Chaos.latency({ rate: 0.25, delay: { min: 10, max: "1 second" }, name: "slow" })), {
      kind: "Chaos",
      name: "slow",
      options: { kind: "Latency", rate: 0.25, enabled: true, delay: { min: "10ms", max: "1s" } },
      children: []
    })
    assert.strictEqual(Policy.describe(Chaos.fault({ rate: 1, error: 1, enabled: Chaos.unsafeMakeSwitch() })).options.enabled, "switch")
    assert.strictEqual(Policy.describe(Chaos.fault({ rate: 1, error: 1, enabled: Effect.succeed(true) })).options.enabled, "effect")
    assert.strictEqual(Policy.describe(Chaos.fault({ rate: 1, error: 1, enabled: false })).options.enabled, false)
  })

  it.effect("defaults: named \"chaos\" and enabled", () =>
    Effect.gen(function*() {
      const faults = Chaos.fault({ rate: 1, error: "boom" })
      assert.strictEqual(faults.policyName, "chaos")
      assert.isTrue(yield* faults.isEnabled())
      assert.deepStrictEqual(Policy.describe(faults), {
        kind: "Chaos",
        name: "chaos",
        options: { kind: "Fault", rate: 1, enabled: true },
        children: []
      })
      const events = yield* collect(faults.events, 1)
      yield* Effect.either(Effect.void.pipe(faults))
      assert.deepStrictEqual(yield* events, [{ _tag: "ChaosInjected", policy: "chaos", kind: "Fault" }])
    }))

  it("fault, latency and behavior are policies; outcome is a transform", () => {
    const policies = [
      Chaos.fault({ rate: 0.5, error: "boom" }),
      Chaos.latency({ rate: 0.5, delay: "1 second" }),
      Chaos.behavior({ rate: 0.5, effect: Effect.void })
    ]
    assert.deepStrictEqual(policies.map((p) => p.kind), ["Fault", "Latency", "Behavior"])
    for (const p of policies) {
      assert.isTrue(Policy.PolicyTypeId in p, p.kind)
      assert.isFalse(Policy.TransformTypeId in p, p.kind)
      assert.strictEqual(Policy.describe(p).options.kind, p.kind)
    }
    const fake = Chaos.outcome({ rate: 0.5, value: "fake" })
    assert.strictEqual(fake.kind, "Outcome")
    assert.strictEqual(Policy.describe(fake).options.kind, "Outcome")
    assert.isTrue(Policy.TransformTypeId in fake)
    assert.isFalse(Policy.PolicyTypeId in fake)
  })
})

describe("validation", () => {
  it("rejects invalid options, naming the option", () => {
    expectInvalidOption(() => Chaos.fault({ rate: -0.1, error: 1 }), "rate")
    expectInvalidOption(() => Chaos.fault({ rate: 1.5, error: 1 }), "rate")
    expectInvalidOption(() => Chaos.fault({ rate: Number.NaN, error: 1 }), "rate")
    expectInvalidOption(() => Chaos.fault({ rate: 0.5 } as any), "error")
    expectInvalidOption(() => Chaos.fault({ rate: 0.5, error: 1, enabled: "yes" as any }), "enabled")
    expectInvalidOption(() => Chaos.fault({ rate: 0.5, error: 1, name: "" }), "name")
    expectInvalidOption(() => Chaos.latency({ rate: 0.5, delay: "-1 second" }), "delay")
    expectInvalidOption(() => Chaos.latency({ rate: 0.5, delay: { min: "2 seconds", max: "1 second" } }), "delay.max")
    expectInvalidOption(() => Chaos.latency({ rate: 0.5, delay: { min: -1, max: "1 second" } }), "delay.min")
    expectInvalidOption(() => Chaos.outcome({ rate: 0.5 } as any), "value")
    expectInvalidOption(() => Chaos.behavior({ rate: 0.5, effect: "nope" as any }), "effect")
    expectInvalidOption(() => Chaos.latency({ rate: 0.5, delay: { min: "1 second", max: "-1 second" } }), "delay.max")
  })

  it("without options, each constructor names its required option", () => {
    const cases: ReadonlyArray<readonly [() => unknown, string]> = [
      [() => Chaos.fault(undefined as any), "Chaos.fault: invalid option \"error\": expected an error or a function returning one, got undefined"],
      [() => Chaos.latency(undefined as any), "Chaos.latency: invalid option \"delay\": expected a finite duration >= 0, got undefined"],
      [() => Chaos.outcome(undefined as any), "Chaos.outcome: invalid option \"value\": expected a value, got undefined"],
      [() => Chaos.behavior(undefined as any), "Chaos.behavior: invalid option \"effect\": expected an Effect, got undefined"]
    ]
    for (const [f, message] of cases) {
      assert.throws(f, Errors.InvalidOptionsError, message)
    }
  })

  it("a behavior without an Effect names the module, the option and what is allowed", () => {
    try {
      Chaos.behavior({ rate: 0.5, effect: "nope" as any })
      assert.fail("expected InvalidOptionsError")
    } catch (e) {
      assert.instanceOf(e, Errors.InvalidOptionsError)
      assert.strictEqual((e as Errors.InvalidOptionsError).message, "Chaos.behavior: invalid option \"effect\": expected an Effect, got \"nope\"")
    }
  })
})

describe("properties", () => {
  it.effect.prop(
    "with a seeded Random, the injection rate stays within statistical bounds",
    [FastCheck.integer({ min: 0, max: 1_000_000 }), FastCheck.double({ min: 0.01, max: 0.99, noNaN: true })],
    ([seed, rate]) =>
      Effect.gen(function*() {
        const n = 2000
        const faults = Chaos.fault({ rate, error: "boom" })
        const results = yield* seeded(seed)(pattern(Effect.succeed(1).pipe(faults), n))
        const injected = results.filter((failed) => failed).length
        const sigma = Math.sqrt(n * rate * (1 - rate))
        // 5 standard deviations: a false alarm has probability < 1e-6 per run
        assert.isAtMost(Math.abs(injected - n * rate), 5 * sigma + 1)
        assert.strictEqual((yield* faults.stats()).injected, injected)
      }),
    { fastCheck: { numRuns: numRuns(30), seed: 1234 } }
  )

  it.effect.prop(
    "the same seed always gives the same injections",
    [FastCheck.integer({ min: 0, max: 1_000_000 })],
    ([seed]) =>
      Effect.gen(function*() {
        const faults = Chaos.fault({ rate: 0.3, error: "boom" })
        const call = Effect.succeed(1).pipe(faults)
        assert.deepStrictEqual(yield* seeded(seed)(pattern(call, 50)), yield* seeded(seed)(pattern(call, 50)))
      }),
    { fastCheck: { numRuns: numRuns(20), seed: 99 } }
  )
})
