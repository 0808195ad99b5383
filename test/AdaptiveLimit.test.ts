/**
 * Adaptive limits (issue 24): the algorithms as pure state machines (their
 * options, the update rules ported from Netflix's concurrency-limits, and
 * properties over arbitrary samples), then a bulkhead driven by one: what it
 * measures (permit to release, the queue excluded, on the TestClock), what
 * counts as a drop, how the limit moves the semaphore, and where it is
 * observable (stats, events, metrics, rejections). The convergence of each
 * algorithm on a simulated server is test/AdaptiveLimit.simulation.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Data, Deferred, Duration, Effect, Exit, FastCheck as fc, Fiber, Metric, MetricState, Option, Stream, TestClock } from "effect"
import { AdaptiveLimit, Bulkhead, Errors, Policy, Testing, Timeout } from "effect-resilience"
import { until } from "./utils/fibers.js"
import { counterValue } from "./utils/metrics.js"
import { numRuns } from "./utils/props.js"

type Limit = AdaptiveLimit.AdaptiveLimit
type Sample = AdaptiveLimit.AdaptiveLimit.Sample

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly status: number }> {}

const invalid = (f: () => unknown): Errors.InvalidOptionsError => {
  try {
    f()
  } catch (e) {
    if (e instanceof Errors.InvalidOptionsError) return e
    throw e
  }
  return assert.fail("expected InvalidOptionsError")
}

/** Feeds samples one after another; returns every state (the initial one first). */
const run = (limit: Limit, samples: ReadonlyArray<Sample>, seed = 0) => {
  const states = [AdaptiveLimit.initial(limit, seed)]
  for (const sample of samples) states.push(AdaptiveLimit.step(limit, states[states.length - 1]!, sample))
  return states
}

// --- arbitraries ----------------------------------------------------------------------

const limitsArb = fc.integer({ min: 1, max: 300 }).chain((min) =>
  fc.integer({ min, max: 400 }).chain((max) =>
    fc.integer({ min, max }).map((initialLimit) => ({ minLimit: min, maxLimit: max, initialLimit }))
  )
)

const limitArb: fc.Arbitrary<Limit> = fc.oneof(
  fc.tuple(limitsArb, fc.double({ min: 0.5, max: 0.99, noNaN: true }), fc.integer({ min: 1, max: 10_000 })).map((
    [l, backoffRatio, timeout]
  ) => AdaptiveLimit.aimd({ ...l, backoffRatio, timeout })),
  fc.tuple(limitsArb, fc.double({ min: 0.01, max: 1, noNaN: true }), fc.integer({ min: 1, max: 100 })).map((
    [l, smoothing, probeMultiplier]
  ) => AdaptiveLimit.vegas({ ...l, smoothing, probeMultiplier })),
  fc.tuple(limitsArb, fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 1, max: 3, noNaN: true }), fc.integer({ min: 1, max: 1000 }))
    .map(([l, smoothing, rttTolerance, longWindow]) => AdaptiveLimit.gradient2({ ...l, smoothing, rttTolerance, longWindow }))
)

/** Samples in time order: each starts some time after the previous one. */
const samplesArb = fc.array(
  fc.record({
    gap: fc.integer({ min: 0, max: 50 }),
    latency: fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.double({ min: 0, max: 5_000, noNaN: true })),
    inflight: fc.integer({ min: 0, max: 500 }),
    dropped: fc.boolean()
  }),
  { maxLength: 300 }
).map((raw) => {
  let t = 0
  return raw.map(({ dropped, gap, inflight, latency }): Sample => {
    t += gap
    return { startedAt: t, latency, inflight, dropped }
  })
})

// --- the descriptions ---------------------------------------------------------------

describe("AdaptiveLimit constructors", () => {
  it("take concurrency-limits' defaults", () => {
    const a = AdaptiveLimit.aimd()
    assert.deepStrictEqual(
      [a._tag, a.initialLimit, a.minLimit, a.maxLimit, a.backoffRatio, Duration.toMillis(a.timeout)],
      ["Aimd", 20, 20, 200, 0.9, 5_000]
    )
    const v = AdaptiveLimit.vegas()
    assert.deepStrictEqual(
      [v._tag, v.initialLimit, v.minLimit, v.maxLimit, v.smoothing, v.probeMultiplier, v.alpha, v.beta, v.threshold],
      ["Vegas", 20, 1, 1000, 1, 30, undefined, undefined, undefined]
    )
    const g = AdaptiveLimit.gradient2()
    assert.deepStrictEqual(
      [g._tag, g.initialLimit, g.minLimit, g.maxLimit, g.smoothing, g.rttTolerance, g.longWindow, g.queueSize],
      ["Gradient2", 20, 20, 200, 0.2, 1.5, 600, 4]
    )
    assert.isTrue(AdaptiveLimit.isAdaptiveLimit(v))
    assert.isFalse(AdaptiveLimit.isAdaptiveLimit({ _tag: "Vegas", initialLimit: 20 }))
    assert.isFalse(AdaptiveLimit.isAdaptiveLimit(20))
  })

  it("throw InvalidOptionsError naming the option and its range", () => {
    const cases: ReadonlyArray<readonly [() => unknown, string, string, string]> = [
      [() => AdaptiveLimit.aimd({ backoffRatio: 1 }), "AdaptiveLimit.aimd", "backoffRatio", "a number >= 0.5 and < 1"],
      [() => AdaptiveLimit.aimd({ backoffRatio: 0.4 }), "AdaptiveLimit.aimd", "backoffRatio", "a number >= 0.5 and < 1"],
      [() => AdaptiveLimit.aimd({ timeout: 0 }), "AdaptiveLimit.aimd", "timeout", "a finite duration > 0"],
      [() => AdaptiveLimit.aimd({ minLimit: 0 }), "AdaptiveLimit.aimd", "minLimit", "an integer >= 1 and <= 1000000"],
      [() => AdaptiveLimit.aimd({ initialLimit: 5 }), "AdaptiveLimit.aimd", "initialLimit", "an integer >= minLimit (20) and <= maxLimit (200)"],
      [() => AdaptiveLimit.vegas({ minLimit: 50, maxLimit: 10 }), "AdaptiveLimit.vegas", "minLimit", "an integer <= maxLimit (10)"],
      [() => AdaptiveLimit.vegas({ smoothing: 0 }), "AdaptiveLimit.vegas", "smoothing", "a number > 0 and <= 1"],
      [() => AdaptiveLimit.vegas({ probeMultiplier: 1.5 }), "AdaptiveLimit.vegas", "probeMultiplier", "an integer >= 1"],
      [() => AdaptiveLimit.vegas({ alpha: -1 }), "AdaptiveLimit.vegas", "alpha", "a number >= 0 or a function"],
      [() => AdaptiveLimit.vegas({ isDrop: true as never }), "AdaptiveLimit.vegas", "isDrop", "a function"],
      [() => AdaptiveLimit.gradient2({ rttTolerance: 0.9 }), "AdaptiveLimit.gradient2", "rttTolerance", "a number >= 1"],
      [() => AdaptiveLimit.gradient2({ longWindow: 0 }), "AdaptiveLimit.gradient2", "longWindow", "an integer >= 1"],
      [() => AdaptiveLimit.gradient2({ maxLimit: 2_000_000 }), "AdaptiveLimit.gradient2", "maxLimit", "an integer >= 1 and <= 1000000"],
      [() => AdaptiveLimit.gradient2(null as never), "AdaptiveLimit.gradient2", "options", "an object"]
    ]
    for (const [f, module, option, expected] of cases) {
      const e = invalid(f)
      assert.deepStrictEqual([e.module, e.option, e.expected], [module, option, expected])
    }
    assert.strictEqual(
      invalid(() => AdaptiveLimit.aimd({ initialLimit: 5 })).message,
      "AdaptiveLimit.aimd: invalid option \"initialLimit\": expected an integer >= minLimit (20) and <= maxLimit (200), got 5"
    )
  })
})

// --- the state machines --------------------------------------------------------------

describe("AdaptiveLimit.step (pure)", () => {
  it("AIMD: +1 per success with at least half the limit in use, × backoffRatio per loss, once per round trip", () => {
    const limit = AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 10, timeout: "1 second" })
    const states = run(limit, [
      { startedAt: 0, latency: 50, inflight: 10, dropped: false }, // 11
      { startedAt: 1, latency: 50, inflight: 4, dropped: false }, // app-limited: 11
      { startedAt: 2, latency: 50, inflight: 11, dropped: true }, // floor(11 × 0.9) = 9, fence at 52
      { startedAt: 3, latency: 60, inflight: 11, dropped: true }, // admitted before the decrease: 9
      { startedAt: 10, latency: 1_500, inflight: 9, dropped: false }, // slower than timeout: same event (10 < 52): 9
      { startedAt: 60, latency: 1_500, inflight: 9, dropped: false }, // slower than timeout, fresh: floor(8.1) = 8
      { startedAt: 70, latency: 30, inflight: 8, dropped: false } // 9
    ])
    assert.deepStrictEqual(states.map((s) => s.limit), [10, 11, 11, 9, 9, 9, 8, 9])
    assert.strictEqual(states.at(-1)!.drops, 2)
    assert.strictEqual(states.at(-1)!.samples, 7)
  })

  it("Vegas: sets the no-load latency, grows fast without a queue, shrinks by log10 above beta and on drops", () => {
    const limit = AdaptiveLimit.vegas({ initialLimit: 20, probeMultiplier: 1_000 })
    const states = run(limit, [
      { startedAt: 0, latency: 100, inflight: 20, dropped: false }, // no-load = 100, no update
      { startedAt: 1, latency: 100, inflight: 20, dropped: false }, // queue 0 <= threshold 1: + beta (6) = 26
      { startedAt: 2, latency: 104, inflight: 26, dropped: false }, // queue ceil(26 × 0.038) = 1 <= 1: + 6 = 32
      { startedAt: 3, latency: 110, inflight: 32, dropped: false }, // queue ceil(32 × 0.091) = 3: not < alpha 3, not > beta 6: 32
      { startedAt: 4, latency: 200, inflight: 32, dropped: false }, // queue 16 > 6: - log10(32) = 31
      { startedAt: 5, latency: 50, inflight: 31, dropped: true }, // drop: -1 = 30
      { startedAt: 6, latency: 100, inflight: 5, dropped: false } // app-limited: 30
    ])
    assert.deepStrictEqual(states.map((s) => s.limit), [20, 20, 26, 32, 32, 31, 30, 30])
    assert.strictEqual(states.at(-1)!.baseline, 100)
  })

  it("Vegas: alpha, beta and threshold may be numbers or functions; a throwing one falls back to the default", () => {
    const classic = AdaptiveLimit.vegas({ initialLimit: 20, alpha: 2, beta: 4, threshold: 0, probeMultiplier: 1_000 })
    // queue ceil(20 × (1 - 100/110)) = 2: not <= 0, not < 2, not > 4: unchanged; with the defaults (threshold 1, alpha 3) +1
    const samples: Array<Sample> = [
      { startedAt: 0, latency: 100, inflight: 20, dropped: false },
      { startedAt: 1, latency: 110, inflight: 20, dropped: false }
    ]
    assert.strictEqual(run(classic, samples).at(-1)!.limit, 20)
    assert.strictEqual(run(AdaptiveLimit.vegas({ initialLimit: 20, probeMultiplier: 1_000 }), samples).at(-1)!.limit, 21)
    const throwing = AdaptiveLimit.vegas({
      initialLimit: 20,
      probeMultiplier: 1_000,
      alpha: () => {
        throw new Error("boom")
      },
      beta: () => Number.NaN
    })
    assert.strictEqual(run(throwing, samples).at(-1)!.limit, 21)
  })

  it("Vegas: probes the no-load latency afresh every probeMultiplier × limit × jitter samples", () => {
    const limit = AdaptiveLimit.vegas({ initialLimit: 10, probeMultiplier: 2 })
    // the dependency got slower for good: 100 ms, then 300 ms; the no-load latency must follow
    const samples: Array<Sample> = []
    for (let i = 0; i < 100; i++) samples.push({ startedAt: i, latency: i === 0 ? 100 : 300, inflight: 1, dropped: false })
    const states = run(limit, samples)
    assert.strictEqual(states[1]!.baseline, 100)
    assert.strictEqual(states.at(-1)!.baseline, 300)
    // within 2 × 10 samples (jitter < 1)
    assert.isTrue(states.findIndex((s) => s.baseline === 300) <= 21)
  })

  it("Gradient2: grows by queueSize while latency stays within tolerance, shrinks past it and halves on a drop, once per round trip", () => {
    const limit = AdaptiveLimit.gradient2({ minLimit: 1, initialLimit: 20, smoothing: 1 })
    let state = AdaptiveLimit.initial(limit)
    for (let i = 0; i < 10; i++) state = AdaptiveLimit.step(limit, state, { startedAt: i, latency: 100, inflight: 1, dropped: false })
    assert.strictEqual(state.limit, 20) // app-limited during the warm-up
    assert.strictEqual(state.baseline, 100)
    state = AdaptiveLimit.step(limit, state, { startedAt: 10, latency: 100, inflight: 20, dropped: false })
    assert.strictEqual(state.limit, 24) // gradient 1: 20 + 4
    state = AdaptiveLimit.step(limit, state, { startedAt: 11, latency: 300, inflight: 24, dropped: false })
    // long ≈ 100.7, gradient = 1.5 × 100.7 / 300 ≈ 0.503: 24 × 0.503 (no queue allowance below 1)
    assert.strictEqual(state.limit, 12)
    // a decrease answers the load its calls saw: calls admitted before it (at 11 + 300 ms) do not decrease again
    state = AdaptiveLimit.step(limit, state, { startedAt: 12, latency: 5_000, inflight: 12, dropped: true })
    assert.strictEqual(state.limit, 12)
    state = AdaptiveLimit.step(limit, state, { startedAt: 400, latency: 5_000, inflight: 12, dropped: true })
    assert.strictEqual(state.limit, 6) // a fresh drop: gradient 0.5 on the calls in use
    state = AdaptiveLimit.step(limit, state, { startedAt: 500, latency: 5_000, inflight: 6, dropped: true })
    assert.strictEqual(state.limit, 6) // the same congestion event
  })

  it.prop("the limit is always an integer within [minLimit, maxLimit]", [limitArb, samplesArb, fc.integer()], ([limit, samples, seed]) => {
    for (const s of run(limit, samples, seed)) {
      assert.isTrue(Number.isInteger(s.limit), `integer: ${s.limit}`)
      assert.isTrue(s.limit >= limit.minLimit && s.limit <= limit.maxLimit, `${s.limit} in [${limit.minLimit}, ${limit.maxLimit}]`)
      assert.isTrue(s.estimate >= limit.minLimit && s.estimate <= limit.maxLimit)
      assert.strictEqual(s.limit, Math.floor(s.estimate))
    }
  }, { fastCheck: { numRuns: numRuns(300) } })

  it.prop("AIMD: a fresh loss never raises the limit and lowers it above minLimit; a success with the limit in use raises it below maxLimit", [
    limitArb.filter((l) => l._tag === "Aimd"),
    samplesArb
  ], ([limit, samples]) => {
    const aimd = limit as AdaptiveLimit.AdaptiveLimit.Aimd
    let state = AdaptiveLimit.initial(limit)
    for (const sample of samples) {
      const next = AdaptiveLimit.step(limit, state, sample)
      const loss = sample.dropped || sample.latency > Duration.toMillis(aimd.timeout)
      if (loss) {
        assert.isAtMost(next.limit, state.limit)
        if (sample.startedAt >= state.decreasedAt && state.limit > limit.minLimit) assert.isBelow(next.limit, state.limit)
        if (sample.startedAt < state.decreasedAt) assert.strictEqual(next.limit, state.limit)
      } else if (sample.inflight * 2 >= state.limit) {
        assert.strictEqual(next.limit, Math.min(state.limit + 1, limit.maxLimit))
      } else {
        assert.strictEqual(next.limit, state.limit)
      }
      state = next
    }
  }, { fastCheck: { numRuns: numRuns(200) } })

  it.prop("every algorithm: a drop never raises the limit; an app-limited success never raises it", [limitArb, samplesArb], ([limit, samples]) => {
    let state = AdaptiveLimit.initial(limit)
    for (const sample of samples) {
      const next = AdaptiveLimit.step(limit, state, sample)
      if (sample.dropped || sample.inflight * 2 < state.estimate) assert.isAtMost(next.limit, state.limit)
      state = next
    }
  }, { fastCheck: { numRuns: numRuns(300) } })

  it.prop("sustained queueing (latency 6× the no-load one) with the limit in use: Gradient2 goes to minLimit, Vegas to its sweet spot", [
    limitArb.filter((l) =>
      l._tag === "Vegas" && l.maxLimit <= 300 || l._tag === "Gradient2" && l.longWindow >= 10 && l.rttTolerance <= 3
    )
  ], ([limit]) => {
    let state = AdaptiveLimit.initial(limit)
    // the no-load latency (Vegas) or the long-term average (Gradient2, its warm-up) at 100 ms
    for (let i = 0; i < 10; i++) state = AdaptiveLimit.step(limit, state, { startedAt: 0, latency: 100, inflight: 0, dropped: false })
    for (let i = 1; i < 20_000 && state.limit > limit.minLimit; i++) {
      // no probe of Vegas's no-load latency (it would see the queue too); Gradient2's average held at 100 ms
      // (with this sample in it, at worst 100 × 0.82 + 600 × 0.18 = 190 ms: 600 > rttTolerance × 190)
      // each call admitted after the previous one ended: every decrease is a new round trip
      state = AdaptiveLimit.step(limit, { ...state, probeCount: 0 }, { startedAt: i * 600, latency: 600, inflight: state.limit, dropped: false })
      if (state.algorithm === "Gradient2") state = { ...state, baseline: 100 }
    }
    if (limit._tag === "Gradient2") {
      assert.strictEqual(state.limit, limit.minLimit)
    } else {
      // Vegas stops shrinking where its queue estimate, ceil(limit × 5/6), is within [alpha, beta]: beta is
      // 6 × log10(limit) (6 below 100, 12 up to 300)
      assert.isAtMost(state.limit, Math.max(limit.minLimit, 15))
    }
  }, { fastCheck: { numRuns: numRuns(100) } })

  it.prop("an invalid sample leaves the state unchanged", [
    limitArb,
    fc.oneof(
      fc.constant<Sample>({ startedAt: 0, latency: Number.NaN, inflight: 1, dropped: false }),
      fc.constant<Sample>({ startedAt: 0, latency: -1, inflight: 1, dropped: true }),
      fc.constant<Sample>({ startedAt: 0, latency: Infinity, inflight: 1, dropped: false }),
      fc.constant<Sample>({ startedAt: 0, latency: 5, inflight: Number.NaN, dropped: false }),
      fc.constant<Sample>({ startedAt: Number.NaN, latency: 5, inflight: 1, dropped: true })
    )
  ], ([limit, sample]) => {
    const state = AdaptiveLimit.initial(limit)
    assert.strictEqual(AdaptiveLimit.step(limit, state, sample), state)
  })

  it.prop("deterministic: the same seed and samples give the same states", [limitArb, samplesArb, fc.integer()], ([limit, samples, seed]) => {
    assert.deepStrictEqual(run(limit, samples, seed), run(limit, samples, seed))
  }, { fastCheck: { numRuns: numRuns(50) } })
})

// --- a bulkhead with an adaptive limit ------------------------------------------------

/** No polling fiber (tests that count sleeps), unless a test publishes the gauges itself. */
const quiet = { metricsInterval: Duration.infinity } as const

let names = 0
const uniqueName = (prefix: string) => `${prefix}-${++names}`

/** A call that takes `millis` on the clock. */
const takes = (millis: number) => Effect.sleep(Duration.millis(millis))

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

describe("Bulkhead with an adaptive limit", () => {
  it.scoped("starts at initialLimit; stats show the limit in force and the algorithm's state", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 3 }), ...quiet })
      const stats = yield* bulkhead.stats()
      assert.strictEqual(stats.maxConcurrent, 3)
      assert.strictEqual(stats.adaptive?.limit, 3)
      assert.strictEqual(stats.adaptive?.algorithm, "Aimd")
      // a fixed bulkhead's stats are what they were
      const fixed = yield* Bulkhead.make({ maxConcurrent: 3, ...quiet })
      assert.deepStrictEqual(yield* fixed.stats(), { active: 0, queued: 0, maxConcurrent: 3, maxQueue: 0 })
    }))

  it.scoped("measures from permit to release, the time queued excluded, on the TestClock", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 1, maxLimit: 1 }),
        maxQueue: 1,
        ...quiet
      })
      const first = yield* Effect.fork(takes(300).pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().active === 1)
      const second = yield* Effect.fork(takes(50).pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("300 millis")
      yield* Fiber.join(first)
      assert.strictEqual(bulkhead.unsafeStats().adaptive?.latency, 300)
      yield* TestClock.adjust("50 millis")
      yield* Fiber.join(second)
      // queued 300 ms, ran 50 ms: 50 is measured
      assert.strictEqual(bulkhead.unsafeStats().adaptive?.latency, 50)
      assert.strictEqual(bulkhead.unsafeStats().adaptive?.samples, 2)
    }))

  it.scoped("a growing limit admits queued callers at once; a shrinking one interrupts no running call", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 2, maxLimit: 10, backoffRatio: 0.5 }),
        maxQueue: 10,
        ...quiet
      })
      const gate = yield* Deferred.make<void>()
      // two long calls hold both permits, one short call queues behind them
      const long = yield* Effect.fork(Effect.all([Deferred.await(gate).pipe(bulkhead), Deferred.await(gate).pipe(bulkhead)], { concurrency: 2 }))
      yield* until(() => bulkhead.unsafeStats().active === 2)
      const queued = yield* Effect.fork(Effect.all([takes(10).pipe(bulkhead), takes(10).pipe(bulkhead)], { concurrency: 2 }))
      yield* until(() => bulkhead.unsafeStats().queued === 2)
      // a success with the limit in use: 3, and one queued caller is admitted by the resize itself
      const quick = yield* Effect.fork(Effect.void.pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().queued === 3)
      yield* Deferred.succeed(gate, void 0).pipe(Effect.zipRight(Effect.void))
      yield* Fiber.join(long)
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(queued)
      yield* Fiber.join(quick)
      assert.isAtLeast(bulkhead.unsafeStats().maxConcurrent, 3)
      // shrink: a drop halves the limit while calls run; none is interrupted
      const hold = yield* Deferred.make<void>()
      const running = yield* Effect.fork(
        Effect.all(Array.from({ length: 3 }, () => Deferred.await(hold).pipe(bulkhead)), { concurrency: 3 })
      )
      yield* until(() => bulkhead.unsafeStats().active === 3)
      const before = bulkhead.unsafeStats().maxConcurrent
      yield* Effect.exit(Effect.fail(new Cause.TimeoutException()).pipe(bulkhead))
      // the calls in use when it was admitted (3 held + itself), halved
      assert.strictEqual(bulkhead.unsafeStats().maxConcurrent, Math.max(1, Math.floor(Math.min(before, 4) * 0.5)))
      assert.strictEqual(bulkhead.unsafeStats().active, 3)
      yield* Deferred.succeed(hold, void 0)
      const done = yield* Fiber.await(running)
      assert.isTrue(Exit.isSuccess(done))
    }))

  it.scoped("drops: a library timeout, a TimeoutException, and what isDrop accepts; not a caller's interruption, a defect or an inner rejection", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: AdaptiveLimit.vegas({ isDrop: (e) => e instanceof Unavailable && e.status === 503 }),
        maxQueue: 100,
        ...quiet
      })
      const drops = () => bulkhead.unsafeStats().adaptive!.drops
      const samples = () => bulkhead.unsafeStats().adaptive!.samples
      // cut by a Timeout of the library, outside the bulkhead
      const timed = yield* Effect.fork(Effect.exit(takes(1_000).pipe(bulkhead, Timeout.make("100 millis"))))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(timed)
      assert.deepStrictEqual([samples(), drops()], [1, 1])
      yield* Effect.exit(Effect.fail(new Cause.TimeoutException()).pipe(bulkhead))
      yield* Effect.exit(Effect.fail(new Unavailable({ status: 503 })).pipe(bulkhead))
      assert.deepStrictEqual([samples(), drops()], [3, 3])
      // the dependency answered with another error: a sample, not a drop
      yield* Effect.exit(Effect.fail(new Unavailable({ status: 500 })).pipe(bulkhead))
      assert.deepStrictEqual([samples(), drops()], [4, 3])
      // interrupted by its caller, a defect, a rejection of an inner policy: nothing
      const interrupted = yield* Effect.fork(takes(1_000).pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().active === 1)
      yield* Fiber.interrupt(interrupted)
      yield* Effect.exit(Effect.die("bug").pipe(bulkhead))
      yield* Effect.exit(Effect.fail(Errors.BulkheadFullError.make({ name: "inner", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" })).pipe(bulkhead))
      assert.deepStrictEqual([samples(), drops()], [4, 3])
    }))

  it.scoped("an isDrop that throws is reported and answers false", () =>
    Effect.gen(function*() {
      const name = uniqueName("throwing-isDrop")
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: AdaptiveLimit.vegas({
          isDrop: () => {
            throw new Error("boom")
          }
        }),
        name,
        ...quiet
      })
      const exit = yield* Effect.exit(Effect.fail(new Unavailable({ status: 503 })).pipe(bulkhead))
      assert.deepStrictEqual(exit, Exit.fail(new Unavailable({ status: 503 })))
      assert.strictEqual(bulkhead.unsafeStats().adaptive?.drops, 0)
      const reported = yield* counterValue("resilience_user_code_failures", {
        module: "Bulkhead",
        policy: name,
        hook: "maxConcurrent.isDrop",
        kind: "throw"
      })
      assert.strictEqual(reported, 1)
    }))

  it.scoped("the bulkhead's own rejections are not losses: a flood of rejected callers leaves the limit where it is", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 4 }), ...quiet })
      const gate = yield* Deferred.make<void>()
      const running = yield* Effect.fork(Effect.all(Array.from({ length: 4 }, () => Deferred.await(gate).pipe(bulkhead)), { concurrency: 4 }))
      yield* until(() => bulkhead.unsafeStats().active === 4)
      const rejected = yield* Effect.all(Array.from({ length: 1_000 }, () => Effect.exit(Effect.void.pipe(bulkhead))))
      assert.isTrue(rejected.every(Exit.isFailure))
      assert.strictEqual(bulkhead.unsafeStats().maxConcurrent, 4)
      assert.strictEqual(bulkhead.unsafeStats().adaptive?.samples, 0)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
    }))

  it.scoped("rejections carry the limit in force and a retryAfter estimated from the latency measured; the message is unchanged", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: AdaptiveLimit.aimd({ minLimit: 2, initialLimit: 2, maxLimit: 2 }),
        maxQueue: 2,
        name: "db",
        ...quiet
      })
      // before any sample: no estimate
      const hold = yield* Deferred.make<void>()
      const first = yield* Effect.fork(Effect.all(Array.from({ length: 4 }, () => Deferred.await(hold).pipe(bulkhead)), { concurrency: 4 }))
      yield* until(() => bulkhead.unsafeStats().queued === 2)
      const early = yield* Effect.flip(Effect.void.pipe(bulkhead))
      assert.strictEqual(early.retryAfter, undefined)
      assert.strictEqual(early.maxConcurrent, 2)
      yield* Deferred.succeed(hold, void 0)
      yield* Fiber.join(first)
      // calls of 200 ms measured; 2 running, 2 queued: a newcomer waits about (2 + 1) / 2 → 2 rounds of 200 ms
      yield* Effect.fork(Effect.all(Array.from({ length: 2 }, () => takes(200).pipe(bulkhead)), { concurrency: 2 }))
      yield* until(() => bulkhead.unsafeStats().active === 2)
      yield* TestClock.adjust("200 millis")
      yield* until(() => bulkhead.unsafeStats().active === 0)
      const calls = yield* Effect.fork(Effect.all(Array.from({ length: 4 }, () => takes(200).pipe(bulkhead)), { concurrency: 4 }))
      yield* until(() => bulkhead.unsafeStats().queued === 2)
      const full = yield* Effect.flip(Effect.void.pipe(bulkhead))
      assert.deepStrictEqual(full.retryAfter, Duration.millis(400))
      assert.deepStrictEqual(Errors.retryAfterOf(full), Option.some(Duration.millis(400)))
      assert.strictEqual(full.message, "Bulkhead db is full: 2 running, queue of 2 full")
      assert.isTrue(Errors.isRejection(full))
      yield* TestClock.adjust("400 millis")
      yield* Fiber.join(calls)
    }))

  it.scoped("emits LimitChanged with the call that moved the limit", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 1 }), name: "events", ...quiet })
      const events = yield* bulkhead.events.pipe(
        Stream.filter((e) => e._tag === "LimitChanged"),
        Stream.take(2),
        Stream.runCollect,
        Effect.fork
      )
      yield* Effect.yieldNow()
      const call = yield* Effect.fork(takes(20).pipe(bulkhead))
      yield* TestClock.adjust("20 millis")
      yield* Fiber.join(call)
      yield* Effect.exit(Effect.fail(new Cause.TimeoutException()).pipe(bulkhead))
      const got = Chunk.toReadonlyArray(yield* Fiber.join(events))
      assert.deepStrictEqual(got, [
        {
          _tag: "LimitChanged",
          policy: "events",
          key: undefined,
          from: 1,
          to: 2,
          latency: Duration.millis(20),
          baseline: Duration.zero,
          inflight: 1,
          dropped: false
        },
        {
          _tag: "LimitChanged",
          policy: "events",
          key: undefined,
          from: 2,
          to: 1,
          latency: Duration.zero,
          baseline: Duration.zero,
          inflight: 1,
          dropped: true
        }
      ])
    }))

  it.scoped("publishes the limit and latency gauges and the drops counter", () =>
    Effect.gen(function*() {
      const name = uniqueName("adaptive-metrics")
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 5 }),
        name,
        metricsInterval: "1 second"
      })
      const calls = yield* Effect.fork(Effect.all([takes(100).pipe(bulkhead), takes(300).pipe(bulkhead)], { concurrency: 2 }))
      yield* TestClock.adjust("300 millis")
      yield* Fiber.join(calls)
      yield* Effect.exit(Effect.fail(new Cause.TimeoutException()).pipe(bulkhead))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* gaugeValue("resilience_bulkhead_limit", { policy: name }), bulkhead.unsafeStats().maxConcurrent)
      // (100 + 300 + 0) / 3
      assert.closeTo((yield* gaugeValue("resilience_bulkhead_latency_ms", { policy: name }))!, 400 / 3, 1e-9)
      assert.strictEqual(yield* counterValue("resilience_bulkhead_drops", { policy: name }), 1)
      assert.strictEqual(yield* gaugeValue("resilience_bulkhead_active", { policy: name }), 0)
    }))

  it.scoped("each key learns its own limit; an idle key's limit is kept and taken back", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 2 }), ...quiet })
      for (let i = 0; i < 5; i++) yield* bulkhead.execute(Effect.void, { key: "fast.example.com" })
      yield* Effect.exit(bulkhead.execute(Effect.fail(new Cause.TimeoutException()), { key: "slow.example.com" }))
      // sequential calls: 2 → 3, then app-limited (1 in flight of 3)
      assert.strictEqual(bulkhead.unsafeStats("fast.example.com").maxConcurrent, 3)
      assert.strictEqual(bulkhead.unsafeStats("slow.example.com").maxConcurrent, 1)
      assert.strictEqual(bulkhead.unsafeStats("new.example.com").maxConcurrent, 2)
      assert.strictEqual(bulkhead.unsafeStats().maxConcurrent, 2)
      // the partitions are gone (idle), their limits are not
      assert.strictEqual(bulkhead.unsafeTotals().partitions, 0)
      const calls = yield* Effect.fork(
        Effect.all(Array.from({ length: 2 }, () => bulkhead.execute(takes(10), { key: "fast.example.com" })), { concurrency: 2 })
      )
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(calls)
      // from 3 (not 2): the first call (1 in flight of 3) leaves it, the second (2 of 3) makes it 4
      assert.strictEqual(bulkhead.unsafeStats("fast.example.com").maxConcurrent, 4)
    }))

  it.scoped("latency is monotonic: the wall clock stepping an hour back and forward mid-call changes nothing", () =>
    Testing.withSteppedWallClock((wall) =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 2 }), ...quiet })
        const back = yield* Effect.fork(takes(100).pipe(bulkhead))
        yield* until(() => bulkhead.unsafeStats().active === 1)
        yield* wall.back("1 hour")
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(back)
        assert.strictEqual(bulkhead.unsafeStats().adaptive?.latency, 100)
        const forward = yield* Effect.fork(takes(100).pipe(bulkhead))
        yield* until(() => bulkhead.unsafeStats().active === 1)
        yield* wall.forward("2 hours")
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(forward)
        assert.strictEqual(bulkhead.unsafeStats().adaptive?.latency, 100)
        assert.strictEqual(bulkhead.unsafeStats().adaptive?.drops, 0)
      })
    ))

  it.scoped("interruption at any point leaks no permit: calls interrupted while queued, running or just admitted", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: AdaptiveLimit.vegas({ initialLimit: 3, minLimit: 1, maxLimit: 6 }),
        maxQueue: 100,
        ...quiet
      })
      const fibers = yield* Effect.forEach(
        Array.from({ length: 60 }, (_, i) => i),
        (i) => Effect.fork(takes(10 + (i % 7) * 5).pipe(bulkhead)),
        { concurrency: "unbounded" }
      )
      yield* Effect.yieldNow()
      for (let round = 0; round < 12; round++) {
        // interrupt every fifth fiber still alive, at a different point each round
        yield* Effect.forEach(fibers.filter((_, i) => (i + round) % 5 === 0), Fiber.interrupt, { discard: true })
        yield* TestClock.adjust("7 millis")
      }
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(fibers, Fiber.await, { discard: true })
      const stats = bulkhead.unsafeStats()
      assert.deepStrictEqual([stats.active, stats.queued], [0, 0])
      // every permit is free: the limit's worth of calls run at once
      const gate = yield* Deferred.make<void>()
      const full = yield* Effect.fork(
        Effect.all(Array.from({ length: stats.maxConcurrent }, () => Deferred.await(gate).pipe(bulkhead)), { concurrency: "unbounded" })
      )
      yield* until(() => bulkhead.unsafeStats().active === stats.maxConcurrent)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(full)
    }))

  it.scoped("Vegas: the keyed partitions of one bulkhead do not probe in step (each key's jitter has its own seed)", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({
        maxConcurrent: AdaptiveLimit.vegas({ initialLimit: 4, minLimit: 4, maxLimit: 4, probeMultiplier: 5 }),
        ...quiet
      })
      // each key: sequential calls until its first probe (probeCount back to 0): after jitter × 5 × 4 calls, jitter in [0.5, 1)
      const firstProbe = (key: string) =>
        Effect.gen(function*() {
          for (let call = 1; call <= 20; call++) {
            const running = yield* Effect.fork(bulkhead.execute(takes(10), { key }))
            yield* TestClock.adjust("10 millis")
            yield* Fiber.join(running)
            if (call > 1 && bulkhead.unsafeStats(key).adaptive?.probeCount === 0) return call
          }
          return Infinity
        })
      const probes = yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => `key-${i}`), firstProbe)
      for (const at of probes) assert.isTrue(at >= 10 && at <= 20, `probe within [0.5, 1) × 20 calls: ${probes}`)
      assert.isAtLeast(new Set(probes).size, 3, `the keys probe at different calls: ${probes}`)
      const seeds = Array.from({ length: 8 }, (_, i) => bulkhead.unsafeStats(`key-${i}`).adaptive!.seed)
      assert.strictEqual(new Set(seeds).size, 8)
    }))

  it.scoped("what idle keys learned is bounded: past 1,024 keys the oldest are forgotten", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.aimd({ minLimit: 1, initialLimit: 2 }), ...quiet })
      // each key learns 1 (a timeout), then goes idle
      for (let i = 0; i < 1_500; i++) {
        yield* Effect.exit(bulkhead.execute(Effect.fail(new Cause.TimeoutException()), { key: `k${i}` }))
      }
      assert.strictEqual(bulkhead.unsafeTotals().partitions, 0)
      assert.strictEqual(bulkhead.unsafeStats("k0").maxConcurrent, 2) // forgotten: a new key starts at initialLimit
      assert.strictEqual(bulkhead.unsafeStats("k1499").maxConcurrent, 1)
      assert.strictEqual(bulkhead.unsafeStats(`k${1_500 - 1_024}`).maxConcurrent, 1)
      assert.strictEqual(bulkhead.unsafeStats(`k${1_500 - 1_025}`).maxConcurrent, 2)
    }))

  it.scoped("Policy.describe shows the adaptive limit", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.gradient2({ minLimit: 4, initialLimit: 8 }), ...quiet })
      assert.deepStrictEqual(Policy.describe(bulkhead).options?.maxConcurrent, {
        adaptive: "Gradient2",
        initialLimit: 8,
        minLimit: 4,
        maxLimit: 200
      })
    }))

  it.scoped("resize sets every partition's limit within [minLimit, maxLimit]; outside it fails with InvalidOptionsError", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.vegas({ minLimit: 2, maxLimit: 50 }), ...quiet })
      yield* bulkhead.resize(30)
      assert.strictEqual(bulkhead.unsafeStats().maxConcurrent, 30)
      assert.strictEqual(bulkhead.unsafeStats().adaptive?.estimate, 30)
      assert.strictEqual(bulkhead.unsafeStats("any").maxConcurrent, 30)
      const e = yield* Effect.flip(bulkhead.resize(51))
      assert.strictEqual(
        e.message,
        "Bulkhead.resize: invalid option \"maxConcurrent\": expected an integer >= 2 and <= 50 (the adaptive limit's minLimit and maxLimit), got 51"
      )
      const f = yield* Effect.flip(bulkhead.resize(0))
      assert.strictEqual(f.expected, "an integer >= 1")
    }))

  it.scoped("a shared store refuses an adaptive limit with InvalidOptionsError", () =>
    Effect.gen(function*() {
      const store: Bulkhead.BulkheadStore = {
        kind: "fake",
        leases: () => Effect.dieMessage("not reached")
      }
      const e = yield* Effect.flip(
        Bulkhead.make({ maxConcurrent: AdaptiveLimit.vegas(), ...quiet }).pipe(Effect.provideService(Bulkhead.BulkheadStore, store))
      )
      assert.strictEqual(e._tag, "InvalidOptionsError")
      assert.strictEqual(e.option, "maxConcurrent")
      assert.strictEqual(e.expected, "an integer >= 1 with a shared store (fake): an adaptive limit is per process")
    }))

  it.scoped("maxConcurrent is still an integer >= 1 otherwise (the same message)", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Bulkhead.make({ maxConcurrent: 0 }))
      assert.strictEqual(e.message, "Bulkhead.make: invalid option \"maxConcurrent\": expected an integer >= 1, got 0")
      const fake = yield* Effect.flip(Bulkhead.make({ maxConcurrent: { _tag: "Vegas", initialLimit: 5 } as never }))
      assert.strictEqual(fake.expected, "an integer >= 1")
    }))
})
