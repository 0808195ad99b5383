/**
 * The options spec (src/internal/spec.ts, issue 21): one description gives
 * the checks, the defaults, the `Config` and the docs rows. These tests pin
 * the machinery on a spec that uses every kind of field; each module's
 * config test pins its own spec.
 */
import { assert, describe, it } from "@effect/vitest"
import { Errors } from "effect-resilience"
import { Config, ConfigProvider, Duration, Effect, Exit, FastCheck as fc } from "effect"
import * as Spec from "../../src/internal/spec.js"
import * as validate from "../../src/internal/validate.js"

interface Options {
  readonly size: number
  readonly ratio?: number | undefined
  readonly wait?: Duration.DurationInput | undefined
  readonly mode?: "a" | "b" | undefined
  readonly name?: string | undefined
  readonly on?: boolean | undefined
  readonly hook?: (() => void) | undefined
  readonly delay?: Duration.DurationInput | ((n: number) => Duration.DurationInput) | undefined
  readonly inner?: { readonly count?: number | undefined; readonly limit?: number | undefined } | undefined
  readonly flat?: { readonly probes?: number | undefined } | undefined
  readonly slow?: { readonly duration: Duration.DurationInput } | undefined
  readonly built?: { readonly total: number } | undefined
}

const made: Array<unknown> = []
const spec = Spec.struct<Options>()("Toy.make", {
  size: Spec.integer({ min: 1, max: 100 }).required(),
  ratio: Spec.number({ gt: 0, max: 1 }).default(0.5),
  wait: Spec.millis({ allowInfinite: true }).default("2 seconds"),
  mode: Spec.literal("a", "b").default("a"),
  name: Spec.string().default("toy"),
  on: Spec.boolean().default(false),
  hook: Spec.func<() => void>(),
  delay: Spec.duration({ allowZero: true }).orFunction<(n: number) => Duration.DurationInput>(),
  inner: Spec.group({ count: Spec.integer({ min: 0 }).default(3), limit: Spec.integer({ min: 1 }) }),
  flat: Spec.group({ probes: Spec.integer({ min: 1 }).default(1).key("flatProbes") }, { flat: true }),
  slow: Spec.optionalGroup({ duration: Spec.millis().required().key("slowDuration") }, { flat: true }),
  built: Spec.code<{ readonly total: number }>("a built thing", (u) => typeof u === "object" && u !== null)
    .fromConfig({ left: Spec.integer({ min: 0 }), right: Spec.integer({ min: 0 }) }, (d) => {
      made.push(d)
      const total = ((d.left as number | undefined) ?? 0) + ((d.right as number | undefined) ?? 0)
      if (total > 10) throw validate.invalid("Toy.built", "right", d.right, "left + right <= 10")
      return { total }
    })
}, (r, o, m) => {
  if (r.mode === "b" && r.inner.limit === undefined) throw validate.invalid(m, "inner.limit", o.inner, "a limit in mode b")
}).readFrom("Toy.config")

const invalid = (f: () => unknown): Errors.InvalidOptionsError => {
  try {
    f()
  } catch (e) {
    assert.instanceOf(e, Errors.InvalidOptionsError)
    return e as Errors.InvalidOptionsError
  }
  return assert.fail("expected InvalidOptionsError")
}

const fromMap = (values: Record<string, string>) => <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.withConfigProvider(effect, ConfigProvider.fromMap(new Map(Object.entries(values))))

describe("Spec.resolve", () => {
  it("fills defaults (checked once), keeps given values, leaves optional code and groups absent", () => {
    const r = spec.resolve({ size: 3 })
    assert.deepStrictEqual(
      { ...r },
      {
        size: 3,
        ratio: 0.5,
        wait: 2000,
        mode: "a",
        name: "toy",
        on: false,
        hook: undefined,
        delay: undefined,
        inner: { count: 3, limit: undefined },
        flat: { probes: 1 },
        slow: undefined,
        built: undefined
      }
    )
    const f = (n: number) => Duration.millis(n)
    assert.strictEqual(spec.resolve({ size: 1, delay: f }).delay, f)
    assert.deepStrictEqual(spec.resolve({ size: 1, delay: 0 }).delay, Duration.zero)
    assert.strictEqual(spec.resolve({ size: 1, wait: Infinity }).wait, Infinity)
  })

  it("names the constructor, the option path and the range", () => {
    const e1 = invalid(() => spec.resolve({}))
    assert.strictEqual(e1.message, `Toy.make: invalid option "size": expected an integer >= 1 and <= 100, got undefined`)
    const e2 = invalid(() => spec.resolve({ size: 1, inner: { count: -1 } }))
    assert.strictEqual(e2.option, "inner.count")
    const e3 = invalid(() => spec.resolve({ size: 1, inner: 5 }))
    assert.deepStrictEqual([e3.option, e3.expected], ["inner", "an object"])
    const e4 = invalid(() => spec.resolve({ size: 1, delay: "soon" }))
    assert.strictEqual(e4.expected, "a finite duration >= 0 or a function")
    const e5 = invalid(() => spec.resolve({ size: 1, mode: "b" }))
    assert.strictEqual(e5.option, "inner.limit")
    const e6 = invalid(() => spec.resolve("size=1"))
    assert.deepStrictEqual([e6.option, e6.expected], ["options", "an object"])
    assert.strictEqual(invalid(() => spec.resolve({ size: 0 }, "Toy.other")).module, "Toy.other")
  })

  it("matches the field's own check for any number given (property)", () => {
    fc.assert(fc.property(fc.oneof(fc.double(), fc.integer(), fc.constant(Infinity)), (n) => {
      let direct: unknown
      try {
        direct = validate.number("Toy.make", "size", n, { integer: true, min: 1, max: 100 })
      } catch (e) {
        direct = (e as Errors.InvalidOptionsError).message
      }
      let viaSpec: unknown
      try {
        viaSpec = spec.resolve({ size: n }).size
      } catch (e) {
        viaSpec = (e as Errors.InvalidOptionsError).message
      }
      assert.deepStrictEqual(viaSpec, direct)
    }))
  })
})

describe("Spec.config and readConfig", () => {
  it.effect("reads every data option under its config key; builds code from data; errors name the key", () =>
    Effect.gen(function*() {
      made.length = 0
      const options = yield* Spec.readConfig<Options>(spec, "Toy.layerConfig", spec.config).pipe(fromMap({
        size: "7",
        ratio: "0.25",
        wait: "Infinity",
        mode: "b",
        name: "n",
        on: "true",
        delay: "5 millis",
        "inner.count": "4",
        "inner.limit": "9",
        flatProbes: "2",
        slowDuration: "1 second",
        left: "2",
        right: "3"
      }))
      assert.deepStrictEqual<unknown>(options, {
        size: 7,
        ratio: 0.25,
        wait: "Infinity",
        mode: "b",
        name: "n",
        on: true,
        delay: "5 millis",
        inner: { count: 4, limit: 9 },
        flat: { probes: 2 },
        slow: { duration: "1 second" },
        built: { total: 5 }
      })
      assert.strictEqual(made.length, 1)
      const r = spec.resolve(options)
      assert.strictEqual(r.wait, Infinity)
      assert.strictEqual(r.slow?.duration, 1000)
    }))

  it.effect("a missing required option is a ConfigError; absent optional ones are left out", () =>
    Effect.gen(function*() {
      const missing = yield* Spec.readConfig(spec, "Toy.layerConfig", spec.config).pipe(fromMap({}), Effect.exit)
      assert.isTrue(Exit.isFailure(missing))
      assert.include(String(Exit.isFailure(missing) ? missing.cause : ""), "size")
      const minimal = yield* Spec.readConfig(spec, "Toy.layerConfig", spec.config).pipe(fromMap({ size: "1" }))
      assert.deepStrictEqual(minimal, { size: 1 })
    }))

  it.effect("bad values name the layerConfig and the config key (flat groups and built code too)", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ size: "0" }, "size"],
        [{ size: "1", flatProbes: "0" }, "flatProbes"],
        [{ size: "1", slowDuration: "0 millis" }, "slowDuration"],
        [{ size: "1", "inner.count": "-1" }, "inner.count"],
        [{ size: "1", left: "-1" }, "left"],
        [{ size: "1", left: "6", right: "6" }, "right"],
        [{ size: "1", mode: "c" }, "mode"]
      ]
      for (const [values, key] of cases) {
        const exit = yield* Spec.readConfig(spec, "Toy.layerConfig", spec.config).pipe(fromMap(values), Effect.flip)
        assert.instanceOf(exit, Errors.InvalidOptionsError, JSON.stringify(values))
        const e = exit as Errors.InvalidOptionsError
        assert.deepStrictEqual([e.module, e.option], ["Toy.layerConfig", key], JSON.stringify(values))
      }
    }))

  it.effect("code options given beside the config win and are checked", () =>
    Effect.gen(function*() {
      const hook = () => {}
      const options = yield* Spec.readConfig<Options>(spec, "Toy.layerConfig", spec.config, { hook }).pipe(
        fromMap({ size: "1" })
      )
      assert.strictEqual(options.hook, hook)
      const bad = yield* Spec.readConfig(spec, "Toy.layerConfig", spec.config, { hook: 42 }).pipe(
        fromMap({ size: "1" }),
        Effect.flip
      )
      assert.deepStrictEqual([(bad as Errors.InvalidOptionsError).option], ["hook"])
    }))

  it.effect("a record of Configs with custom names still works", () =>
    Effect.gen(function*() {
      const options = yield* Spec.readConfig<Options>(spec, "Toy.layerConfig", { size: Config.integer("SIZE") }).pipe(
        fromMap({ SIZE: "4" })
      )
      assert.deepStrictEqual(options, { size: 4 })
    }))
})

describe("Spec.rows", () => {
  it("one row per option, with its config key, range and default", () => {
    const rows = spec.rows()
    const byOption = new Map(rows.map((r) => [r.option, r]))
    assert.deepStrictEqual(byOption.get("size"), {
      option: "size",
      configKey: "size",
      kind: "integer",
      accepts: "an integer >= 1 and <= 100",
      required: true,
      default: undefined
    })
    assert.strictEqual(byOption.get("wait")?.default, "2 seconds")
    assert.strictEqual(byOption.get("mode")?.default, "\"a\"")
    assert.strictEqual(byOption.get("hook")?.configKey, undefined)
    assert.strictEqual(byOption.get("inner.count")?.configKey, "inner.count")
    assert.strictEqual(byOption.get("flat.probes")?.configKey, "flatProbes")
    assert.strictEqual(byOption.get("slow.duration")?.configKey, "slowDuration")
    assert.strictEqual(byOption.get("built ← left")?.configKey, "left")
    assert.strictEqual(spec.configKeyOf("flat.probes"), "flatProbes")
    assert.strictEqual(spec.configKeyOf("inner.count"), "inner.count")
    assert.strictEqual(spec.configName, "Toy.config")
  })
})

describe("Spec.rows: defaults as the docs write them", () => {
  it("a Duration or a number of milliseconds in minutes, seconds or millis, singular or plural; Infinity; strings quoted", () => {
    const docs = Spec.struct<Record<string, unknown>>()("Docs.make", {
      hundredMillis: Spec.duration().default(Duration.millis(100)),
      oneSecond: Spec.duration().default(Duration.seconds(1)),
      thirtySeconds: Spec.duration().default(Duration.seconds(30)),
      ninetySeconds: Spec.duration().default(Duration.seconds(90)),
      oneMinute: Spec.duration().default(Duration.minutes(1)),
      twoMinutes: Spec.millis().default(120_000),
      fifteenHundred: Spec.millis().default(1_500),
      sixtyOneSeconds: Spec.millis().default(61_000),
      forever: Spec.duration({ allowInfinite: true }).default(Duration.infinity),
      asGiven: Spec.duration().default("2 seconds"),
      word: Spec.string().default("toy"),
      count: Spec.integer({ min: 0 }).default(3)
    })
    const defaults = Object.fromEntries(docs.rows().map((r) => [r.option, r.default]))
    assert.deepStrictEqual(defaults, {
      hundredMillis: "100 millis",
      oneSecond: "1 second",
      thirtySeconds: "30 seconds",
      ninetySeconds: "90 seconds",
      oneMinute: "1 minute",
      twoMinutes: "2 minutes",
      fifteenHundred: "1500 millis",
      sixtyOneSeconds: "61 seconds",
      forever: "Infinity",
      asGiven: "2 seconds",
      word: "\"toy\"",
      count: "3"
    })
  })
})
