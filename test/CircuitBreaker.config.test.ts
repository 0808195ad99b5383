/**
 * CircuitBreaker options from `Config` (issue 21): every data option set
 * through a `ConfigProvider` (the flat `ConfigOptions`: the trip policy
 * built from `tripPolicy` and its options, the break from `openDuration`
 * and `openDurationFactor`, `halfOpen` and `slowCall` read at the top
 * level), code options given beside, and bad values rejected naming the
 * config key.
 */
import { assert, describe, it } from "@effect/vitest"
import { CircuitBreaker, Errors, Policy } from "effect-resilience"
import { Config, ConfigProvider, Context, Data, Effect, Exit, Metric } from "effect"
import { assertConfigError, assertInvalidOption, buildWithConfig, withConfig } from "./utils/config.js"
import { recordingTracer } from "./utils/tracer.js"

class Boom extends Data.TaggedError("Boom")<{}> {}
class Api extends Context.Tag("test/ApiBreaker")<Api, CircuitBreaker.CircuitBreaker>() {}

const boom = Effect.fail(new Boom())
const ok = Effect.succeed("ok")

/** What the breaker runs on, as `Policy.describe` shows it. */
interface Described {
  readonly tripPolicy: CircuitBreaker.CircuitBreakerStore.Trip
  readonly openDurations: ReadonlyArray<number>
  readonly maxOpenDuration: number
  readonly openDurationResetAfter: number
  readonly halfOpen: {
    readonly probes: number
    readonly successThreshold: number
    readonly probeTimeout: number
    readonly failureRateThreshold: number | undefined
  }
  readonly slowCall: { readonly duration: number; readonly threshold: number } | undefined
  readonly onStoreError: "allow" | "fail"
}

const described = (breaker: CircuitBreaker.CircuitBreaker): Described =>
  Policy.describe(breaker).options as unknown as Described

const readMetric = (name: string, labels: Record<string, string>) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const want = Object.entries(labels).sort().map(([k, v]) => `${k}=${v}`).join(",")
    for (const pair of pairs) {
      if (pair.metricKey.name !== name) continue
      const got = pair.metricKey.tags.map((t) => `${t.key}=${t.value}`).sort().join(",")
      if (got !== want) continue
      const state = pair.metricState as unknown as { readonly count?: number; readonly value?: number }
      return Number(state.count ?? state.value ?? NaN)
    }
    return 0
  })

/** Every option of a rate breaker (successThreshold excluded: not with probeFailureRateThreshold). */
const every = {
  "payments.name": "payments-config",
  "payments.tripPolicy": "rate",
  "payments.threshold": "0.4",
  "payments.size": "20",
  "payments.minimumCalls": "5",
  "payments.openDuration": "2 seconds",
  "payments.openDurationFactor": "3",
  "payments.maxOpenDuration": "1 minute",
  "payments.openDurationResetAfter": "5 minutes",
  "payments.probes": "3",
  "payments.probeTimeout": "10 seconds",
  "payments.probeFailureRateThreshold": "0.5",
  "payments.slowCallDuration": "1 second",
  "payments.slowCallThreshold": "0.8",
  "payments.onStoreError": "fail",
  "payments.labelMetricsByKey": "true",
  "payments.spans": "true",
  "payments.maxKeyLength": "8"
}

describe("CircuitBreaker from Config", () => {
  it.scoped("reads every data option under a prefix", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.fromConfig(Config.nested(CircuitBreaker.config, "payments")).pipe(
        withConfig(every)
      )
      assert.strictEqual(breaker.policyName, "payments-config")
      const d = described(breaker)
      assert.deepStrictEqual(d.tripPolicy, { _tag: "Rate", threshold: 0.4, size: 20, minimumCalls: 5 })
      // 2 seconds growing by 3 per opening, capped at 1 minute
      assert.deepStrictEqual(d.openDurations, [2000, 6000, 18_000, 54_000, 60_000])
      assert.strictEqual(d.maxOpenDuration, 60_000)
      assert.strictEqual(d.openDurationResetAfter, 300_000)
      assert.deepStrictEqual(d.halfOpen, { probes: 3, successThreshold: 1, probeTimeout: 10_000, failureRateThreshold: 0.5 })
      assert.deepStrictEqual(d.slowCall, { duration: 1000, threshold: 0.8 })
      assert.strictEqual(d.onStoreError, "fail")
      // maxKeyLength: a key of 9 code units is refused
      const long = yield* Effect.flip(ok.pipe(breaker.execute({ key: "123456789" })))
      assert.instanceOf(long, Errors.InvalidKeyError)
      // spans: one per call
      const { spans, tracer } = recordingTracer()
      yield* ok.pipe(breaker.execute({ key: "k" }), Effect.withTracer(tracer))
      assert.deepStrictEqual(spans.map((s) => s.name), ["resilience.circuit_breaker"])
      // labelMetricsByKey: the failure counter carries the key
      yield* Effect.exit(boom.pipe(breaker.execute({ key: "tenant" })))
      yield* breaker.metrics("tenant")
      assert.strictEqual(
        yield* readMetric("resilience_circuit_breaker_calls", { policy: "payments-config", outcome: "failure", key: "tenant" }),
        1
      )
    }))

  it.scoped("timeRate and consecutive policies, successThreshold; absent options take their defaults", () =>
    Effect.gen(function*() {
      const timeRate = yield* CircuitBreaker.fromConfig(CircuitBreaker.config).pipe(
        withConfig({
          tripPolicy: "timeRate",
          threshold: "0.25",
          window: "10 seconds",
          buckets: "5",
          minimumCalls: "7",
          successThreshold: "2"
        })
      )
      const t = described(timeRate)
      assert.deepStrictEqual(t.tripPolicy, { _tag: "TimeRate", threshold: 0.25, window: 10_000, buckets: 5, minimumCalls: 7 })
      assert.deepStrictEqual(t.halfOpen, { probes: 1, successThreshold: 2, probeTimeout: 60_000, failureRateThreshold: undefined })
      assert.deepStrictEqual(t.openDurations, [30_000])
      assert.isUndefined(t.slowCall)
      assert.strictEqual(t.onStoreError, "allow")
      assert.strictEqual(timeRate.policyName, "circuit-breaker")

      const consecutive = yield* CircuitBreaker.fromConfig(CircuitBreaker.config).pipe(withConfig({ failures: "2" }))
      assert.deepStrictEqual(described(consecutive).tripPolicy, { _tag: "Consecutive", failures: 2 })
      yield* Effect.exit(boom.pipe(consecutive))
      assert.strictEqual((yield* consecutive.state())._tag, "Closed")
      yield* Effect.exit(boom.pipe(consecutive))
      assert.strictEqual((yield* consecutive.state())._tag, "Open")

      const defaults = yield* CircuitBreaker.fromConfig(CircuitBreaker.config).pipe(withConfig({}))
      const d = described(defaults)
      assert.deepStrictEqual(d.tripPolicy, { _tag: "Consecutive", failures: 5 })
      assert.deepStrictEqual(d.openDurations, [30_000])
      assert.strictEqual(d.maxOpenDuration, 600_000)

      // only the slow-call duration: the threshold is 1
      const slow = yield* CircuitBreaker.fromConfig(CircuitBreaker.config).pipe(withConfig({ slowCallDuration: "3 seconds" }))
      assert.deepStrictEqual(described(slow).slowCall, { duration: 3000, threshold: 1 })
    }))

  it.scoped("environment variables in constant case (path delimiter _)", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.constantCase(
        ConfigProvider.fromMap(
          new Map([
            ["PAYMENTS_TRIP_POLICY", "rate"],
            ["PAYMENTS_THRESHOLD", "1"],
            ["PAYMENTS_SIZE", "2"],
            ["PAYMENTS_OPEN_DURATION", "1 minute"],
            ["PAYMENTS_PROBE_FAILURE_RATE_THRESHOLD", "0.5"],
            ["PAYMENTS_SLOW_CALL_DURATION", "1 second"],
            ["PAYMENTS_MAX_KEY_LENGTH", "16"]
          ]),
          { pathDelim: "_" }
        )
      )
      const breaker = yield* CircuitBreaker.fromConfig(Config.nested(CircuitBreaker.config, "payments")).pipe(
        Effect.withConfigProvider(provider)
      )
      const d = described(breaker)
      assert.deepStrictEqual(d.tripPolicy, { _tag: "Rate", threshold: 1, size: 2, minimumCalls: 2 })
      assert.deepStrictEqual(d.openDurations, [60_000])
      assert.strictEqual(d.halfOpen.failureRateThreshold, 0.5)
      assert.deepStrictEqual(d.slowCall, { duration: 1000, threshold: 1 })
      // two failures out of two calls open it
      yield* Effect.exit(boom.pipe(breaker))
      yield* Effect.exit(boom.pipe(breaker))
      assert.strictEqual((yield* breaker.state())._tag, "Open")
    }))

  it.effect("layerConfig: code options beside the config (the classifier, a trip policy replacing the one read)", () =>
    Effect.gen(function*() {
      const states = yield* Effect.gen(function*() {
        const breaker = yield* Api
        // onlyDefects: typed failures count as successes
        for (let i = 0; i < 3; i++) yield* Effect.exit(boom.pipe(breaker))
        const afterTyped = (yield* breaker.state())._tag
        yield* Effect.exit(Effect.die("bug").pipe(breaker))
        return [afterTyped, (yield* breaker.state())._tag, described(breaker).tripPolicy] as const
      }).pipe(
        Effect.provide(
          CircuitBreaker.layerConfig(Api, CircuitBreaker.config, {
            classify: CircuitBreaker.onlyDefects,
            tripPolicy: CircuitBreaker.consecutive(1)
          })
        ),
        withConfig({ failures: "4", name: "api" })
      )
      assert.deepStrictEqual(states, ["Closed", "Open", { _tag: "Consecutive", failures: 1 }])
    }))

  it.effect("a record of Configs with your own names; a missing required Config is a ConfigError naming its key", () =>
    Effect.gen(function*() {
      const live = CircuitBreaker.layerConfig(Api, {
        failures: Config.integer("CB_FAILURES"),
        openDuration: Config.duration("CB_OPEN")
      })
      const exit = yield* buildWithConfig(live, { CB_FAILURES: "3", CB_OPEN: "5 seconds" })
      assert.isTrue(Exit.isSuccess(exit))
      assertConfigError(yield* buildWithConfig(live, { CB_OPEN: "5 seconds" }), "CB_FAILURES")
      // malformed values are the config's errors too
      assertConfigError(yield* buildWithConfig(live, { CB_FAILURES: "many", CB_OPEN: "5 seconds" }), "CB_FAILURES")
      const spans = yield* buildWithConfig(CircuitBreaker.layerConfig(Api, CircuitBreaker.config), { spans: "maybe" })
      assertConfigError(spans, "spans")
      // the config argument itself
      const wrong = yield* Effect.exit(Effect.scoped(CircuitBreaker.fromConfig(42 as any)))
      assertInvalidOption(wrong, "CircuitBreaker.fromConfig", "config", "a record of Configs")
    }))

  const bad: ReadonlyArray<readonly [key: string, value: string, range: string, others?: Record<string, string>]> = [
    ["tripPolicy", "sometimes", "one of \"consecutive\", \"rate\", \"timeRate\""],
    ["failures", "0", "an integer >= 1 and <= 100000"],
    ["failures", "1.5", "an integer"],
    // checked whatever the policy: a wrong value in the environment is a mistake
    ["threshold", "2", "a number > 0 and <= 1"],
    ["size", "0", ">= 1"],
    ["window", "0 millis", "a finite duration > 0"],
    ["buckets", "1001", "<= 1000"],
    ["minimumCalls", "0", ">= 1"],
    ["minimumCalls", "20", "an integer >= 1 and <= 10", { tripPolicy: "rate", size: "10" }],
    ["window", "5 millis", "at least 1 millisecond per bucket (10 ms)", { tripPolicy: "timeRate" }],
    ["openDuration", "soon", "a finite duration > 0"],
    ["openDurationFactor", "0.5", ">= 1"],
    ["openDurationFactor", "101", "<= 100"],
    ["maxOpenDuration", "1 second", "a duration >= openDuration (30s)"],
    ["openDurationResetAfter", "-1 seconds", "a finite duration >= 0"],
    ["probes", "0", "an integer >= 1 and <= 10000"],
    ["successThreshold", "10001", "<= 10000"],
    ["successThreshold", "2", "no successThreshold with halfOpen.failureRateThreshold", { probeFailureRateThreshold: "0.5" }],
    ["probeTimeout", "0 millis", "a finite duration > 0"],
    ["probeFailureRateThreshold", "0", "a number > 0 and <= 1"],
    ["slowCallDuration", "0 millis", "a finite duration > 0"],
    ["slowCallDuration", "", "a duration > 0 when slowCallThreshold is set", { slowCallThreshold: "0.5" }],
    ["slowCallThreshold", "1.5", "a number > 0 and <= 1", { slowCallDuration: "1 second" }],
    ["onStoreError", "ignore", "one of \"allow\", \"fail\""],
    ["name", "", "a non-empty string"],
    ["maxKeyLength", "0", ">= 1"]
  ]
  for (const [key, value, range, others = {}] of bad) {
    const values = (prefix: string) =>
      Object.fromEntries([
        ...Object.entries(others).map(([k, v]) => [`${prefix}${k}`, v]),
        // an empty value stands for an absent one (the option is missing)
        ...(value === "" && key === "slowCallDuration" ? [] : [[`${prefix}${key}`, value]])
      ])
    it.effect(`${key}=${JSON.stringify(value)} ${JSON.stringify(others)} is InvalidOptionsError naming the key`, () =>
      Effect.gen(function*() {
        const exit = yield* buildWithConfig(CircuitBreaker.layerConfig(Api, Config.nested(CircuitBreaker.config, "cb")), values("cb."))
        assertInvalidOption(exit, "CircuitBreaker.layerConfig", key, range)
        const direct = yield* CircuitBreaker.fromConfig(CircuitBreaker.config).pipe(Effect.scoped, withConfig(values("")), Effect.exit)
        assertInvalidOption(direct, "CircuitBreaker.fromConfig", key, range)
      }))
  }
})
