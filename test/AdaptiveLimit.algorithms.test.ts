/**
 * Adaptive limits, pinned at their boundaries: each algorithm's update rule
 * fed exact samples (threshold comparisons, smoothing, the warm-up and decay of
 * Gradient2's long-term average, Vegas's probe jitter with fixed seeds, one
 * decrease per round trip, invalid samples), how misbehaving option functions
 * are reported, and what a bulkhead with an adaptive limit measures and
 * publishes (gauges over keyed partitions, retryAfter, resize bounds, what an
 * idle key keeps). test/AdaptiveLimit.test.ts pins the main behaviour; this
 * file pins the edges it leaves open.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Data, Deferred, Duration, Effect, FastCheck as fc, Fiber, Logger, Metric, MetricState, Stream, TestClock } from "effect"
import { AdaptiveLimit, Bulkhead, Errors, Timeout } from "effect-resilience"
import * as algorithm from "../src/internal/adaptiveLimit/algorithm.js"
import { until } from "./utils/fibers.js"
import { counterValue } from "./utils/metrics.js"
import { numRuns } from "./utils/props.js"

type Limit = AdaptiveLimit.AdaptiveLimit
type Sample = AdaptiveLimit.AdaptiveLimit.Sample
type State = AdaptiveLimit.AdaptiveLimit.State

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly status: number }> {}

let names = 0
const uniqueName = (prefix: string) => `${prefix}-${++names}`

const sample = (startedAt: number, latency: number, inflight: number, dropped = false): Sample => ({
  startedAt,
  latency,
  inflight,
  dropped
})

/** Feeds samples one after another; returns every state (the initial one first). */
const run = (limit: Limit, samples: ReadonlyArray<Sample>, seed = 0, policy?: string) => {
  const states: Array<State> = [algorithm.initial(limit, seed)]
  for (const s of samples) states.push(algorithm.step(limit, states[states.length - 1]!, s, policy))
  return states
}

const invalid = (f: () => unknown): Errors.InvalidOptionsError => {
  try {
    f()
  } catch (e) {
    if (e instanceof Errors.InvalidOptionsError) return e
    throw e
  }
  return assert.fail("expected InvalidOptionsError")
}

/** Runs `f` in a fiber whose only logger records the messages logged. */
const withLogs = <A>(f: (logs: Array<string>) => A) =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => {
      logs.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
    })
    const a = yield* Effect.sync(() => f(logs)).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return [a, logs] as const
  })

const failures = (policy: string, hook: string, kind: string, module = "AdaptiveLimit") =>
  counterValue("resilience_user_code_failures", { module, policy, hook, kind })

const gaugeValue = (name: string, tags: Record<string, string>) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const wanted = Object.entries(tags).map(([k, v]) => `${k}=${v}`).sort().join(",")
    for (const pair of pairs) {
      if (pair.metricKey.name !== name) continue
      const got = pair.metricKey.tags.map((t) => `${t.key}=${t.value}`).sort().join(",")
      if (got === wanted && MetricState.isGaugeState(pair.metricState)) return Number(pair.metricState.value)
    }
    return undefined
  })

const quiet = { metricsInterval: Duration.infinity } as const
const takes = (millis: number) => Effect.sleep(Duration.millis(millis))

// --- options -----------------------------------------------------------------------------

describe("AdaptiveLimit options: the limits' order", () => {
  it("an initialLimit above maxLimit is refused", () => {
    const e = invalid(() => AdaptiveLimit.vegas({ minLimit: 1, initialLimit: 50, maxLimit: 10 }))
    assert.deepStrictEqual([e.option, e.expected], ["initialLimit", "an integer >= minLimit (1) and <= maxLimit (10)"])
    assert.strictEqual(AdaptiveLimit.vegas({ minLimit: 1, initialLimit: 10, maxLimit: 10 }).initialLimit, 10)
  })

  it("a defaulted minLimit or initialLimit out of order is reported with its default value", () => {
    // minLimit defaults to 20 (AIMD): above a maxLimit of 10
    const min = invalid(() => AdaptiveLimit.aimd({ maxLimit: 10, initialLimit: 10 }))
    assert.strictEqual(min.message, "AdaptiveLimit.aimd: invalid option \"minLimit\": expected an integer <= maxLimit (10), got 20")
    // initialLimit defaults to 20: below a minLimit of 30
    const initial = invalid(() => AdaptiveLimit.gradient2({ minLimit: 30 }))
    assert.strictEqual(
      initial.message,
      "AdaptiveLimit.gradient2: invalid option \"initialLimit\": expected an integer >= minLimit (30) and <= maxLimit (200), got 20"
    )
  })
})

// --- the state machines at their boundaries -------------------------------------------------

describe("AdaptiveLimit.step at the boundaries", () => {
  it("AIMD: a call exactly at timeout is no loss; a loss admitted exactly at the last decrease is a new round trip", () => {
    const limit = AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 10, timeout: "1 second" })
    const states = run(limit, [
      sample(0, 1_000, 10), // not slower than timeout: +1 = 11
      sample(10, 1_001, 11), // slower: floor(11 × 0.9) = 9, fence at 1011
      sample(1_010, 50, 9, true), // admitted before the fence: 9
      sample(1_011, 50, 9, true) // admitted at the fence: floor(9 × 0.9) = 8
    ])
    assert.deepStrictEqual(states.map((s) => s.limit), [10, 11, 9, 9, 8])
    assert.deepStrictEqual(states.map((s) => s.decreasedAt), [-Infinity, -Infinity, 1_011, 1_011, 1_061])
  })

  it("Vegas: an instant call carries no latency; half the limit in use is not app-limited; a queue of exactly beta is kept", () => {
    const limit = AdaptiveLimit.vegas({ initialLimit: 20, probeMultiplier: 1_000 })
    const states = run(limit, [
      sample(0, 100, 20), // no-load latency 100
      sample(1, 0, 20), // instant: nothing learned, no probe counted
      sample(2, 138, 20), // queue ceil(20 × (1 − 100/138)) = 6 = beta: kept
      sample(3, 100, 10) // 10 × 2 = 20 in use: queue 0 <= threshold: + beta = 26
    ])
    assert.deepStrictEqual(states.map((s) => s.limit), [20, 20, 20, 20, 26])
    assert.deepStrictEqual(states.map((s) => s.baseline), [0, 100, 100, 100, 100])
    assert.deepStrictEqual(states.map((s) => s.probeCount), [0, 1, 1, 2, 3])
  })

  it("Vegas: above a limit of 100 the thresholds are log10-scaled (threshold 2, alpha 6, beta 12, steps of 2)", () => {
    const limit = AdaptiveLimit.vegas({ initialLimit: 200, probeMultiplier: 100_000 })
    const states = run(limit, [
      sample(0, 100, 200), // no-load latency 100
      sample(1, 105, 200), // queue ceil(200 × 0.0476) = 10: within [alpha 6, beta 12]: kept
      sample(2, 101.8, 200), // queue ceil(200 × 0.0177) = 4: below alpha 6: + 2
      sample(3, 100, 202), // queue 0 <= threshold 2: + beta 12
      sample(4, 120, 214) // queue ceil(214 × 0.1667) = 36 > 12: − 2
    ])
    assert.deepStrictEqual(states.map((s) => s.limit), [200, 200, 200, 202, 214, 212])
  })

  it("Vegas: smoothing weighs the new estimate against the old one", () => {
    const limit = AdaptiveLimit.vegas({ initialLimit: 20, smoothing: 0.5, probeMultiplier: 1_000 })
    const states = run(limit, [sample(0, 100, 20), sample(1, 100, 20)])
    // 0.5 × 20 + 0.5 × (20 + 6)
    assert.strictEqual(states[2]!.estimate, 23)
    assert.strictEqual(states[2]!.limit, 23)
  })

  it("Vegas: probes when the samples counted reach jitter × probeMultiplier × limit (jitter 0.5 for seed 0)", () => {
    const limit = AdaptiveLimit.vegas({ initialLimit: 10, probeMultiplier: 2 })
    const samples = [sample(0, 100, 1), ...Array.from({ length: 30 }, (_, i) => sample(i + 1, 300, 1))]
    const states = run(limit, samples, 0)
    // unit(0) = 0: jitter 0.5, the probe at the 0.5 × 2 × 10 = 10th sample counted
    assert.strictEqual(states[9]!.baseline, 100)
    assert.strictEqual(states[10]!.baseline, 300)
    assert.strictEqual(states[10]!.probeCount, 0)
    // the next seed: mulberry32's increment
    assert.strictEqual(states[10]!.seed, 0x6d2b79f5)
  })

  /** The index of the first sample (1-based, after the one that sets the no-load latency) that probes. */
  const firstProbe = (seed: number, probeMultiplier: number, limitValue: number) => {
    const limit = AdaptiveLimit.vegas({ initialLimit: limitValue, maxLimit: 1_000, probeMultiplier })
    let state = AdaptiveLimit.initial(limit, seed)
    state = AdaptiveLimit.step(limit, state, sample(0, 100, 0))
    for (let i = 1; i <= 4 * probeMultiplier * limitValue; i++) {
      state = AdaptiveLimit.step(limit, state, sample(i, 300, 0)) // app-limited: the limit stays
      if (state.baseline === 300) return { at: i + 1, seed: state.seed }
    }
    return { at: Infinity, seed: state.seed }
  }

  it.prop("Vegas: for any seed the probe comes after jitter × probeMultiplier × limit samples, jitter in [0.5, 1)", [
    fc.integer(),
    // (a product of at least 4: the sample that sets the no-load latency is not itself a probe)
    fc.integer({ min: 2, max: 20 }),
    fc.integer({ min: 2, max: 20 })
  ], ([seed, probeMultiplier, limitValue]) => {
    const { at } = firstProbe(seed, probeMultiplier, limitValue)
    // the sample setting the no-load latency counts as the first
    assert.isAtLeast(at, Math.ceil(0.5 * probeMultiplier * limitValue))
    assert.isAtMost(at, probeMultiplier * limitValue)
  }, { fastCheck: { numRuns: numRuns(200), seed: 24 } })

  it("Vegas: the probe jitter is a fixed function of the seed (golden values)", () => {
    // a regression pin of the PRNG (mulberry32): jitter = 0.5 + unit(seed) / 2, the next seed = seed + 0x6d2b79f5
    // (small seeds hash to a jitter close to 0.5: the unit draw hashes the state itself)
    const seeds = [1, 42, 0x12345678, -123456789, 987654321]
    const got = seeds.map((seed) => firstProbe(seed, 10, 100))
    assert.deepStrictEqual(got.map((g) => g.seed), seeds.map((s) => (s + 0x6d2b79f5) | 0))
    assert.deepStrictEqual(got.map((g) => g.at), [501, 501, 808, 913, 933])
    // the probe after: drawn from the next seed
    assert.strictEqual(firstProbe((0x12345678 + 0x6d2b79f5) | 0, 10, 100).at, 554)
  })

  it("Vegas: alpha, beta and threshold functions are used when they answer a finite number, else the default", () => {
    const base = { initialLimit: 20, probeMultiplier: 1_000 }
    // queue 6 (latency 138 over 100): kept by the defaults (within [3, 6])
    const samples = [sample(0, 100, 20), sample(1, 138, 20)]
    assert.strictEqual(run(AdaptiveLimit.vegas(base), samples).at(-1)!.limit, 20)
    // a threshold of the limit (20): a queue of 6 is at or below it: + beta
    assert.strictEqual(run(AdaptiveLimit.vegas({ ...base, threshold: (l) => l }), samples).at(-1)!.limit, 26)
    // answers that are not finite numbers: the defaults
    const policy = uniqueName("vegas-malformed")
    assert.strictEqual(run(AdaptiveLimit.vegas({ ...base, threshold: () => Infinity }), samples, 0, policy).at(-1)!.limit, 20)
    assert.strictEqual(run(AdaptiveLimit.vegas({ ...base, threshold: () => Number.NaN }), samples, 0, policy).at(-1)!.limit, 20)
    assert.strictEqual(run(AdaptiveLimit.vegas({ ...base, threshold: () => "9" as never }), samples, 0, policy).at(-1)!.limit, 20)
    assert.strictEqual(run(AdaptiveLimit.vegas({ ...base, alpha: () => -Infinity }), samples, 0, policy).at(-1)!.limit, 20)
  })

  it.effect("misbehaving option functions are reported per policy and option, and the default is used", () =>
    Effect.gen(function*() {
      const policy = uniqueName("vegas-reported")
      const limit = AdaptiveLimit.vegas({
        initialLimit: 20,
        probeMultiplier: 1_000,
        alpha: () => {
          throw new Error("boom")
        },
        beta: () => Infinity,
        threshold: () => "1" as never
      })
      const [states, logs] = yield* withLogs(() => run(limit, [sample(0, 100, 20), sample(1, 104, 20)], 0, policy))
      // queue ceil(20 × 0.038) = 1 <= threshold 1 (the default): + beta 6 (the default)
      assert.strictEqual(states.at(-1)!.limit, 26)
      assert.strictEqual(yield* failures(policy, "alpha", "throw"), 1)
      assert.strictEqual(yield* failures(policy, "beta", "malformed"), 1)
      assert.strictEqual(yield* failures(policy, "threshold", "malformed"), 1)
      assert.deepStrictEqual(logs, [
        `AdaptiveLimit "${policy}": alpha threw; the default function of the option is used`,
        `AdaptiveLimit "${policy}": beta answered a value of the wrong type (number); the default function of the option is used`,
        `AdaptiveLimit "${policy}": threshold answered a value of the wrong type (string); the default function of the option is used`
      ])
    }))

  it.effect("the public step reports under the policy name AdaptiveLimit", () =>
    Effect.gen(function*() {
      const limit = AdaptiveLimit.vegas({
        initialLimit: 20,
        probeMultiplier: 1_000,
        alpha: () => {
          throw new Error("boom")
        }
      })
      const before = yield* failures("AdaptiveLimit", "alpha", "throw")
      let state = AdaptiveLimit.initial(limit)
      state = AdaptiveLimit.step(limit, state, sample(0, 100, 20))
      AdaptiveLimit.step(limit, state, sample(1, 110, 20))
      assert.strictEqual((yield* failures("AdaptiveLimit", "alpha", "throw")) - before, 1)
    }))

  /** A Vegas limit whose alpha throws: each non-app-limited step reports one failure of `alpha` for `policy`. */
  const throwingAlpha = AdaptiveLimit.vegas({
    initialLimit: 20,
    probeMultiplier: 1_000_000,
    alpha: () => {
      throw new Error("boom")
    }
  })
  const primed = run(throwingAlpha, [sample(0, 100, 20)])[1]!
  /** One failure of `policy`'s alpha; true when it was logged. */
  const failOnce = (logs: Array<string>, policy: string) => {
    const n = logs.length
    algorithm.step(throwingAlpha, primed, sample(1, 110, 20), policy)
    return logs.length > n
  }

  it.effect("a site logs its 1st, 2nd, 4th… failure: the site is kept between steps", () =>
    Effect.gen(function*() {
      const p = uniqueName("site-p")
      const q = uniqueName("site-q")
      const [logged] = yield* withLogs((logs) => [failOnce(logs, p), failOnce(logs, p), failOnce(logs, q), failOnce(logs, p), failOnce(logs, p)])
      assert.deepStrictEqual(logged, [true, true, true, false, true])
      assert.strictEqual(yield* failures(p, "alpha", "throw"), 4)
      assert.strictEqual(yield* failures(q, "alpha", "throw"), 1)
    }))

  it.effect("the sites are bounded: 1,024 kept, all forgotten on the next one", () =>
    Effect.gen(function*() {
      const prefix = uniqueName("bound")
      const [result] = yield* withLogs((logs) => {
        // find a forgetting: a sentinel failed twice (count 2) is logged again only if its site was forgotten
        let sentinel: string | undefined
        for (let i = 0; i < 2_000 && sentinel === undefined; i++) {
          const s = `${prefix}-s${i}`
          failOnce(logs, s)
          failOnce(logs, s)
          failOnce(logs, `${prefix}-x${i}`)
          if (failOnce(logs, s)) sentinel = s
        }
        if (sentinel === undefined) return "never forgotten"
        // now kept: the site of x (whose creation forgot the others) and the sentinel's new one (count 1)
        failOnce(logs, sentinel) // count 2
        for (let i = 0; i < 1_022; i++) failOnce(logs, `${prefix}-y${i}`) // 1,024 kept
        const stillKept = !failOnce(logs, sentinel) // count 3: not logged
        failOnce(logs, sentinel) // count 4
        failOnce(logs, `${prefix}-z`) // the 1,025th: forgets them all
        const forgotten = failOnce(logs, sentinel) // a new site: logged
        return { stillKept, forgotten }
      })
      assert.deepStrictEqual(result, { stillKept: true, forgotten: true })
    }))

  it("Gradient2: an instant call leaves the long-term average alone", () => {
    const limit = AdaptiveLimit.gradient2({ minLimit: 1, initialLimit: 20 })
    const states = run(limit, [sample(0, 100, 1), sample(1, 0, 1), sample(2, 50, 1)])
    assert.deepStrictEqual(states.map((s) => [s.baseline, s.longCount]), [[0, 0], [100, 1], [100, 1], [75, 2]])
  })

  it("Gradient2: a plain average over the first 10 samples, then an exponential one over longWindow", () => {
    const limit = AdaptiveLimit.gradient2({ minLimit: 1, initialLimit: 20 })
    const states = run(limit, [...Array.from({ length: 10 }, (_, i) => sample(i, 100, 1)), sample(10, 200, 1)])
    assert.strictEqual(states[10]!.baseline, 100)
    assert.strictEqual(states[10]!.longCount, 10)
    // 100 × (1 − 2/601) + 200 × 2/601
    assert.closeTo(states[11]!.baseline, 100 + 200 / 601, 1e-9)
    assert.strictEqual(states[11]!.longCount, 10)
  })

  it("Gradient2: the long-term average decays by 5% when above twice the latency, not at twice", () => {
    const limit = AdaptiveLimit.gradient2({ minLimit: 1, initialLimit: 20 })
    // (250 + 50) / 2 = 150: 3 × 50, decayed to 142.5
    assert.closeTo(run(limit, [sample(0, 250, 1), sample(1, 50, 1)])[2]!.baseline, 142.5, 1e-9)
    // (150 + 50) / 2 = 100: exactly 2 × 50, kept
    assert.strictEqual(run(limit, [sample(0, 150, 1), sample(1, 50, 1)])[2]!.baseline, 100)
  })

  /** The warm-up of Gradient2's long-term average: 10 app-limited samples of 100 ms. */
const warm: ReadonlyArray<Sample> = Array.from({ length: 10 }, (_, i) => sample(i, 100, 1))

  it("Gradient2: half the limit in use is not app-limited", () => {
    const limit = AdaptiveLimit.gradient2({ minLimit: 1, initialLimit: 20, smoothing: 1 })
    const states = run(limit, [...warm, sample(10, 100, 10)])
    assert.strictEqual(states.at(-1)!.limit, 24) // gradient 1: 20 + 4
  })

  it("Gradient2: a call admitted before the last decrease still grows the limit when it saw no queueing", () => {
    const limit = AdaptiveLimit.gradient2({ minLimit: 1, initialLimit: 20, smoothing: 1 })
    const states = run(limit, [
      ...warm,
      sample(1_000, 500, 20, true), // a fresh drop: 20 × 0.5 = 10, fence at 1500
      sample(1_200, 100, 10), // admitted before the fence, gradient 1: 10 + 4 = 14
      sample(1_300, 400, 14) // admitted before the fence, queueing: no second decrease
    ])
    assert.deepStrictEqual(states.slice(10).map((s) => s.limit), [20, 10, 14, 14])
  })

  it.effect("Gradient2: queueSize is consulted only when the limit grows (a throwing one is reported there, and 4 used)", () =>
    Effect.gen(function*() {
      const policy = uniqueName("gradient2-queueSize")
      const limit = AdaptiveLimit.gradient2({
        minLimit: 1,
        initialLimit: 20,
        smoothing: 1,
        queueSize: () => {
          throw new Error("boom")
        }
      })
      const [states] = yield* withLogs(() =>
        run(limit, [
          ...warm,
          sample(10, 400, 20) // queueing: 1.5 × 130 / 400 < 1: a decrease, no allowance
        ], 0, policy)
      )
      assert.isBelow(states.at(-1)!.limit, 20)
      assert.strictEqual(yield* failures(policy, "queueSize", "throw"), 0)
      const [grown] = yield* withLogs(() => run(limit, [...warm, sample(10, 100, 20)], 0, policy))
      assert.strictEqual(grown.at(-1)!.limit, 24)
      assert.strictEqual(yield* failures(policy, "queueSize", "throw"), 1)
    }))

  it("an infinite latency or in-flight count is no sample, for every algorithm, dropped or not", () => {
    const limits: ReadonlyArray<Limit> = [
      AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 10 }),
      AdaptiveLimit.vegas({ initialLimit: 10 }),
      AdaptiveLimit.gradient2({ minLimit: 1, initialLimit: 10 })
    ]
    for (const limit of limits) {
      const state = AdaptiveLimit.initial(limit)
      for (const dropped of [false, true]) {
        assert.strictEqual(AdaptiveLimit.step(limit, state, sample(0, Infinity, 10, dropped)), state, `${limit._tag} latency`)
        assert.strictEqual(AdaptiveLimit.step(limit, state, sample(0, 50, Infinity, dropped)), state, `${limit._tag} inflight`)
      }
    }
  })
})

// --- a bulkhead with an adaptive limit --------------------------------------------------

describe("Bulkhead with an adaptive limit: edges", () => {
  it.scoped("the limit gauge sums the partitions in use: the default one when no key is in use or it ran a call", () =>
    Effect.gen(function*() {
      const name = uniqueName("gauge-partitions")
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 3 }),
        name,
        metricsInterval: "1 second"
      })
      const limitGauge = () => gaugeValue("resilience_bulkhead_limit", { policy: name })
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* limitGauge(), 3) // no key in use: the default partition
      const gate = yield* Deferred.make<void>()
      const held = yield* Effect.fork(
        Effect.all([bulkhead.execute(Deferred.await(gate), { key: "a" }), bulkhead.execute(Deferred.await(gate), { key: "b" })], {
          concurrency: 2
        })
      )
      yield* until(() => bulkhead.unsafeTotals().active === 2)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* limitGauge(), 6) // keys a and b; the default partition never ran a call
      yield* Effect.void.pipe(bulkhead)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* limitGauge(), 9) // and now the default partition too
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(held)
    }))

  it.scoped("the latency gauge keeps its last mean through a poll without calls", () =>
    Effect.gen(function*() {
      const name = uniqueName("gauge-latency")
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 3 }),
        name,
        metricsInterval: "1 second"
      })
      const call = yield* Effect.fork(takes(100).pipe(bulkhead))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(call)
      yield* TestClock.adjust("900 millis")
      assert.strictEqual(yield* gaugeValue("resilience_bulkhead_latency_ms", { policy: name }), 100)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* gaugeValue("resilience_bulkhead_latency_ms", { policy: name }), 100)
      assert.strictEqual(yield* counterValue("resilience_bulkhead_drops", { policy: name }), 0)
    }))

  it.scoped("retryAfter is absent until a call measured a latency above 0 ms", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.aimd({ minLimit: 2, initialLimit: 2, maxLimit: 2 }), ...quiet })
      const rejected = Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const held = yield* Effect.fork(Effect.all([Deferred.await(gate).pipe(bulkhead), Deferred.await(gate).pipe(bulkhead)], { concurrency: 2 }))
        yield* until(() => bulkhead.unsafeStats().active === 2)
        const e = yield* Effect.flip(Effect.void.pipe(bulkhead))
        yield* Deferred.succeed(gate, void 0)
        yield* Fiber.join(held)
        return e
      })
      assert.strictEqual((yield* rejected).retryAfter, undefined) // nothing measured
      // the held calls above ended instantly (TestClock): samples, of 0 ms
      assert.strictEqual(bulkhead.unsafeStats().adaptive?.samples, 2)
      assert.strictEqual((yield* rejected).retryAfter, undefined)
      const slow = yield* Effect.fork(takes(200).pipe(bulkhead))
      yield* TestClock.adjust("200 millis")
      yield* Fiber.join(slow)
      // one caller (itself) over a limit of 2: one round of 200 ms
      assert.deepStrictEqual((yield* rejected).retryAfter, Duration.millis(200))
    }))

  it.scoped("resize accepts exactly minLimit and maxLimit, and refuses just outside", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.vegas({ minLimit: 2, maxLimit: 50 }), ...quiet })
      yield* bulkhead.resize(2)
      assert.strictEqual(bulkhead.unsafeStats().maxConcurrent, 2)
      yield* bulkhead.resize(50)
      assert.strictEqual(bulkhead.unsafeStats().maxConcurrent, 50)
      const low = yield* Effect.flip(bulkhead.resize(1))
      assert.strictEqual(low.expected, "an integer >= 2 and <= 50 (the adaptive limit's minLimit and maxLimit)")
      const high = yield* Effect.flip(bulkhead.resize(51))
      assert.strictEqual(high.expected, "an integer >= 2 and <= 50 (the adaptive limit's minLimit and maxLimit)")
      assert.strictEqual(bulkhead.unsafeStats().maxConcurrent, 50)
    }))

  it.scoped("after resize a new key's partition starts from the size set", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 2, maxLimit: 50 }), ...quiet })
      yield* bulkhead.resize(7)
      const gate = yield* Deferred.make<void>()
      const held = yield* Effect.fork(bulkhead.execute(Deferred.await(gate), { key: "new" }))
      yield* until(() => bulkhead.unsafeTotals().active === 1)
      assert.strictEqual(bulkhead.unsafeTotals().partitions, 1)
      assert.strictEqual(bulkhead.unsafeStats("new").maxConcurrent, 7)
      assert.strictEqual(bulkhead.unsafeStats("new").adaptive?.estimate, 7)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(held)
    }))

  it.scoped("a call that leaves the limit where it was emits no LimitChanged", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 4 }), ...quiet })
      const events = yield* bulkhead.events.pipe(
        Stream.filter((e) => e._tag === "LimitChanged"),
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      yield* TestClock.adjust("1 millis")
      yield* Effect.void.pipe(bulkhead) // 1 in flight of 4: app-limited, the limit stays
      assert.strictEqual(bulkhead.unsafeStats().adaptive?.samples, 1)
      yield* Effect.exit(Effect.fail(new Cause.TimeoutException()).pipe(bulkhead)) // a loss: the 1 in use × 0.9, floored to minLimit
      const got = Chunk.toReadonlyArray(yield* Fiber.join(events))
      assert.deepStrictEqual(got.map((e) => e._tag === "LimitChanged" ? [e.from, e.to, e.dropped] : []), [[4, 1, true]])
    }))

  it.scoped("an idle key that measured nothing takes no place among the learned limits", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 2 }), ...quiet })
      yield* Effect.exit(bulkhead.execute(Effect.fail(new Cause.TimeoutException()), { key: "kept" }))
      assert.strictEqual(bulkhead.unsafeStats("kept").maxConcurrent, 1)
      // 1,024 other keys, each with one call that is no sample (a defect)
      for (let i = 0; i < 1_024; i++) yield* Effect.exit(bulkhead.execute(Effect.die("bug"), { key: `defect-${i}` }))
      assert.strictEqual(bulkhead.unsafeTotals().partitions, 0)
      assert.strictEqual(bulkhead.unsafeStats("kept").maxConcurrent, 1)
    }))

  it.scoped("without isDrop a typed failure is a sample, and nothing is reported", () =>
    Effect.gen(function*() {
      const name = uniqueName("no-isDrop")
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.vegas(), name, ...quiet })
      yield* Effect.exit(Effect.fail(new Unavailable({ status: 503 })).pipe(bulkhead))
      assert.deepStrictEqual([bulkhead.unsafeStats().adaptive?.samples, bulkhead.unsafeStats().adaptive?.drops], [1, 0])
      for (const kind of ["throw", "malformed"]) {
        assert.strictEqual(yield* failures(name, "maxConcurrent.isDrop", kind, "Bulkhead"), 0)
      }
    }))

  it.scoped("an isDrop that throws is logged with what the bulkhead does instead", () =>
    Effect.gen(function*() {
      const name = uniqueName("isDrop-log")
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: AdaptiveLimit.vegas({
          isDrop: () => {
            throw new Error("boom")
          }
        }),
        name,
        ...quiet
      })
      const logs: Array<string> = []
      const logger = Logger.make(({ message }) => {
        logs.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
      })
      yield* Effect.exit(Effect.fail(new Unavailable({ status: 503 })).pipe(bulkhead)).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      assert.deepStrictEqual(logs, [`Bulkhead "${name}": maxConcurrent.isDrop threw; not a drop`])
    }))

  it.scoped("a call cut by a library Timeout is a drop even when its finalizer dies", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.vegas(), ...quiet })
      const work = takes(1_000).pipe(Effect.onInterrupt(() => Effect.die("finalizer bug")))
      const timed = yield* Effect.fork(Effect.exit(work.pipe(bulkhead, Timeout.make("100 millis"))))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(timed)
      assert.deepStrictEqual([bulkhead.unsafeStats().adaptive?.samples, bulkhead.unsafeStats().adaptive?.drops], [1, 1])
    }))
})
