/**
 * The breaker's helpers, pinned one by one: option validation and the
 * translation of the flat config options (`fromConfig`), the outcomes and classifiers, the
 * messages of its errors, and the in-memory store (which circuit `maxKeys`
 * drops, results of circuits dropped while their call ran, reads and resets
 * of circuits the store does not hold).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Config, Data, Deferred, Duration, Effect, Exit, Fiber, FiberId, Layer, Queue, Schedule, Stream, TestClock } from "effect"
import { CircuitBreaker, Errors, Policy } from "effect-resilience"
import { ignoredBeforeClassify } from "../src/internal/circuitBreaker/classify.js"
import { tagOf } from "./utils/breaker.js"

class Boom extends Data.TaggedError("Boom")<{}> {}
class NotFound extends Data.TaggedError("NotFound")<{}> {}
class TooMany extends Data.TaggedError("TooMany")<{ readonly retryAfter: Duration.Duration }> {}

const any = (u: unknown): any => u

/** The InvalidOptionsError `f` throws (fails the test when it throws nothing or something else). */
const thrown = (f: () => unknown): Errors.InvalidOptionsError => {
  try {
    f()
  } catch (e) {
    assert.instanceOf(e, Errors.InvalidOptionsError)
    return e as Errors.InvalidOptionsError
  }
  return assert.fail("did not throw")
}

const full = Errors.BulkheadFullError.make({ name: "db", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" })

// ---------------------------------------------------------------------------
// Trip policies and make

describe("CircuitBreaker options: trip policies", () => {
  it("rate and timeRate called without options (from JavaScript) throw InvalidOptionsError naming threshold", () => {
    const r = thrown(() => CircuitBreaker.rate(any(undefined)))
    assert.strictEqual(r.module, "CircuitBreaker.rate")
    assert.strictEqual(r.option, "threshold")
    const t = thrown(() => CircuitBreaker.timeRate(any(undefined)))
    assert.strictEqual(t.module, "CircuitBreaker.timeRate")
    assert.strictEqual(t.option, "threshold")
  })

  it("rate: minimumCalls must be an integer", () => {
    const e = thrown(() => CircuitBreaker.rate({ threshold: 0.5, size: 10, minimumCalls: 2.5 }))
    assert.strictEqual(e.option, "minimumCalls")
    assert.strictEqual(e.expected, "an integer >= 1 and <= 10")
  })

  it("timeRate: minimumCalls must be an integer >= 1 (and defaults to 100, buckets to 10)", () => {
    for (const v of [0, 1.5, -3]) {
      const e = thrown(() => CircuitBreaker.timeRate({ threshold: 0.5, window: "10 seconds", minimumCalls: v }))
      assert.strictEqual(e.message, `CircuitBreaker.timeRate: invalid option "minimumCalls": expected an integer >= 1, got ${v}`)
    }
    const t = CircuitBreaker.timeRate({ threshold: 0.5, window: "10 seconds" })
    assert.strictEqual(t.minimumCalls, 100)
    assert.strictEqual(t.buckets, 10)
    assert.strictEqual(CircuitBreaker.timeRate({ threshold: 0.5, window: "10 seconds", minimumCalls: 1 }).minimumCalls, 1)
  })
})

describe("CircuitBreaker options: make", () => {
  const base = { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" } as const

  it.effect("null options and a null slowCall are rejected as invalid options, not a crash", () =>
    Effect.gen(function*() {
      const options = yield* Effect.flip(Effect.scoped(CircuitBreaker.make(any(null))))
      assert.instanceOf(options, Errors.InvalidOptionsError)
      assert.strictEqual(options.message, "CircuitBreaker.make: invalid option \"options\": expected an object, got null")
      const e = yield* Effect.flip(Effect.scoped(CircuitBreaker.make({ ...base, slowCall: any(null) })))
      assert.instanceOf(e, Errors.InvalidOptionsError)
      assert.strictEqual(e.message, "CircuitBreaker.make: invalid option \"slowCall\": expected { duration, threshold }, got null")
    }))

  it.effect("an openDuration Schedule with a zero delay among its first ones is rejected, with the exact message", () =>
    Effect.gen(function*() {
      const expected = "CircuitBreaker.make: invalid option \"openDuration\": expected a Schedule whose first delays are > 0 " +
        "(e.g. Schedule.exponential(\"5 seconds\")), got \"Schedule\""
      for (
        const openDuration of [
          Schedule.fromDelays("1 second", "0 millis"), // the second break would be 0
          Schedule.fromDelays("0 millis", "1 second"),
          Schedule.recurs(0) // no break at all
        ]
      ) {
        const e = yield* Effect.flip(Effect.scoped(CircuitBreaker.make({ ...base, openDuration })))
        assert.strictEqual(e.module, "CircuitBreaker.make")
        assert.strictEqual(e.option, "openDuration")
        assert.strictEqual(e.value, "Schedule")
        assert.strictEqual(e.message, expected)
      }
      // positive delays only: accepted
      const ok = yield* Effect.scoped(
        Effect.map(
          CircuitBreaker.make({ ...base, openDuration: Schedule.fromDelays("1 second", "2 seconds") }),
          (b) => Policy.describe(b).options.openDurations
        )
      )
      assert.deepStrictEqual(ok, [1000, 2000])
    }))

  it.scoped("a never-ending Schedule is stepped for exactly 64 openings; later openings repeat the 64th break", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: "options-64-openings",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: Schedule.spaced("1 second").pipe(Schedule.addDelay((n) => Duration.seconds(n)))
      })
      const durations = Policy.describe(breaker).options.openDurations as ReadonlyArray<number>
      assert.strictEqual(durations.length, 64)
      assert.deepStrictEqual(durations.slice(0, 3), [1000, 2000, 3000])
      assert.strictEqual(durations[63], 64_000)
      // open the circuit 65 times in a row (each probe fails): the 65th break is the 64th again
      const breaks: Array<number> = []
      for (let i = 0; i < 65; i++) {
        yield* Effect.exit(breaker(Effect.fail(new Boom())))
        const state = yield* breaker.state()
        breaks.push(state._tag === "Open" ? Duration.toMillis(state.retryAfter) : -1)
        yield* TestClock.adjust(Duration.millis(breaks[i]!))
      }
      assert.deepStrictEqual(breaks.slice(62), [63_000, 64_000, 64_000])
    }))
})

// ---------------------------------------------------------------------------
// fromConfig (the flat config options)

/** The breaker `fromConfig` makes of these config options (scoped). */
const fromConfigOf = (options: CircuitBreaker.ConfigOptions) => CircuitBreaker.fromConfig(Config.succeed(options))

describe("CircuitBreaker options: fromConfig", () => {
  it.scoped("timeRate: window defaults to 30 seconds and is kept when given", () =>
    Effect.gen(function*() {
      const byDefault = Policy.describe(yield* fromConfigOf({ tripPolicy: "timeRate" })).options.tripPolicy
      assert.deepStrictEqual(byDefault, { _tag: "TimeRate", threshold: 0.5, window: 30_000, buckets: 10, minimumCalls: 100 })
      const given = Policy.describe(yield* fromConfigOf({ tripPolicy: "timeRate", window: "1 minute", buckets: 6 })).options.tripPolicy
      assert.deepStrictEqual(given, { _tag: "TimeRate", threshold: 0.5, window: 60_000, buckets: 6, minimumCalls: 100 })
    }))

  it.scoped("openDuration is a plain duration (30 seconds by default) unless openDurationFactor grows it", () =>
    Effect.gen(function*() {
      const byDefault = Policy.describe(yield* fromConfigOf({})).options
      assert.deepStrictEqual(byDefault.tripPolicy, { _tag: "Consecutive", failures: 5 })
      assert.deepStrictEqual(byDefault.openDurations, [30_000])
      const fixed = Policy.describe(yield* fromConfigOf({ openDuration: "5 seconds", openDurationFactor: 1 })).options
      assert.deepStrictEqual(fixed.openDurations, [5000])
      const grows = Policy.describe(
        yield* fromConfigOf({ openDuration: "5 seconds", openDurationFactor: 2, maxOpenDuration: "30 seconds" })
      ).options
      assert.deepStrictEqual(grows.openDurations, [5000, 10_000, 20_000, 30_000])
    }))

  it.scoped("a growing break from openDurationFactor doubles per opening", () =>
    Effect.gen(function*() {
      const breaker = yield* fromConfigOf({
        openDuration: "1 second",
        openDurationFactor: 2,
        maxOpenDuration: "10 seconds",
        name: "options-config-factor"
      })
      assert.deepStrictEqual(Policy.describe(breaker).options.openDurations, [1000, 2000, 4000, 8000, 10_000])
      const fixed = yield* fromConfigOf({ openDuration: "1 second", name: "options-config-fixed" })
      assert.deepStrictEqual(Policy.describe(fixed).options.openDurations, [1000])
    }))

  it.effect("an invalid openDuration and a slowCallThreshold without slowCallDuration name the config key", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.scoped(fromConfigOf({ openDuration: 0 })))
      assert.strictEqual(e.message, "CircuitBreaker.fromConfig: invalid option \"openDuration\": expected a finite duration > 0, got 0")
      const slow = yield* Effect.flip(Effect.scoped(fromConfigOf({ slowCallThreshold: 0.5 })))
      assert.strictEqual(
        slow.message,
        "CircuitBreaker.fromConfig: invalid option \"slowCallDuration\": expected a duration > 0 when slowCallThreshold is set, got undefined"
      )
    }))
})

// ---------------------------------------------------------------------------
// Outcomes and classifiers

describe("CircuitBreaker options: outcomes and classifiers", () => {
  it("Outcome.failure carries retryAfter (0 allowed); without it, a plain failure", () => {
    const later = CircuitBreaker.Outcome.failure({ retryAfter: "5 seconds" })
    assert.strictEqual(later._tag, "Failure")
    assert.strictEqual(later.retryAfter && Duration.toMillis(later.retryAfter), 5000)
    const now = CircuitBreaker.Outcome.failure({ retryAfter: 0 })
    assert.strictEqual(now._tag, "Failure")
    assert.isTrue(now.retryAfter !== undefined && Duration.toMillis(now.retryAfter) === 0)
    assert.deepStrictEqual(CircuitBreaker.Outcome.failure(), { _tag: "Failure" })
    assert.deepStrictEqual(CircuitBreaker.Outcome.failure({}), { _tag: "Failure" })
    const e = thrown(() => CircuitBreaker.Outcome.failure({ retryAfter: -1 }))
    assert.strictEqual(e.message, "CircuitBreaker.Outcome.failure: invalid option \"retryAfter\": expected a finite duration >= 0, got -1")
  })

  it("defaultClassify: success, failures (with the error's retryAfter), defects", () => {
    assert.deepStrictEqual(CircuitBreaker.defaultClassify(Exit.succeed(1)), { _tag: "Success" })
    assert.deepStrictEqual(CircuitBreaker.defaultClassify(Exit.fail(new Boom())), { _tag: "Failure" })
    assert.deepStrictEqual(CircuitBreaker.defaultClassify(Exit.die("bug")), { _tag: "Failure" })
    const hinted = CircuitBreaker.defaultClassify(Exit.fail(new TooMany({ retryAfter: Duration.seconds(7) })))
    assert.strictEqual(hinted._tag, "Failure")
    assert.isTrue(hinted._tag === "Failure" && hinted.retryAfter !== undefined && Duration.toMillis(hinted.retryAfter) === 7000)
  })

  it("classifyCause passes the failed call's cause to f; a success is a success without asking f", () => {
    const seen: Array<Cause.Cause<unknown>> = []
    const classify = CircuitBreaker.classifyCause((cause: Cause.Cause<unknown>) => {
      seen.push(cause)
      return Cause.isDie(cause) ? CircuitBreaker.Outcome.failure() : CircuitBreaker.Outcome.ignored
    })
    assert.deepStrictEqual(classify(Exit.succeed("ok")), { _tag: "Success" })
    assert.strictEqual(seen.length, 0)
    assert.deepStrictEqual(classify(Exit.die("bug")), { _tag: "Failure" })
    assert.deepStrictEqual(classify(Exit.fail(new Boom())), { _tag: "Ignored" })
    assert.strictEqual(seen.length, 2)
    assert.isTrue(Cause.isDie(seen[0]!))
  })

  it("classifyError passes the first error to f; a success or a defect never reaches f", () => {
    const seen: Array<unknown> = []
    const classify = CircuitBreaker.classifyError((error: unknown) => {
      seen.push(error)
      return CircuitBreaker.Outcome.ignored
    })
    assert.deepStrictEqual(classify(Exit.succeed("ok")), { _tag: "Success" })
    assert.deepStrictEqual(classify(Exit.die("bug")), { _tag: "Failure" })
    assert.strictEqual(seen.length, 0)
    const boom = new Boom()
    assert.deepStrictEqual(classify(Exit.fail(boom)), { _tag: "Ignored" })
    assert.deepStrictEqual(seen, [boom])
  })

  it("ignoreTags ignores only the listed tags; anything else is a failure", () => {
    const classify = CircuitBreaker.ignoreTags("NotFound")
    assert.deepStrictEqual(classify(Exit.succeed(1)), { _tag: "Success" })
    assert.deepStrictEqual(classify(Exit.fail(new NotFound())), { _tag: "Ignored" })
    assert.deepStrictEqual(classify(Exit.fail(new Boom())), { _tag: "Failure" })
    assert.deepStrictEqual(classify(Exit.fail("no tag")), { _tag: "Failure" })
    assert.deepStrictEqual(classify(Exit.die("bug")), { _tag: "Failure" })
    const hinted = classify(Exit.fail(new TooMany({ retryAfter: Duration.seconds(3) }))) as CircuitBreaker.Outcome
    assert.isTrue(hinted._tag === "Failure" && hinted.retryAfter !== undefined && Duration.toMillis(hinted.retryAfter) === 3000)
  })

  it("countTags counts only the listed tags (other errors are successes); a defect is a failure", () => {
    const classify = CircuitBreaker.countTags("Boom", "TooMany")
    assert.deepStrictEqual(classify(Exit.succeed(1)), { _tag: "Success" })
    assert.deepStrictEqual(classify(Exit.fail(new Boom())), { _tag: "Failure" })
    assert.deepStrictEqual(classify(Exit.fail(new NotFound())), { _tag: "Success" })
    assert.deepStrictEqual(classify(Exit.fail("no tag")), { _tag: "Success" })
    assert.deepStrictEqual(classify(Exit.die("bug")), { _tag: "Failure" })
    const hinted = classify(Exit.fail(new TooMany({ retryAfter: Duration.seconds(3) }))) as CircuitBreaker.Outcome
    assert.isTrue(hinted._tag === "Failure" && hinted.retryAfter !== undefined && Duration.toMillis(hinted.retryAfter) === 3000)
  })

  it("ignoredBeforeClassify: interrupted only, or nothing but the library's rejections (no defect)", () => {
    const interrupted = Cause.interrupt(FiberId.make(1, 0))
    assert.isTrue(ignoredBeforeClassify(interrupted))
    assert.isTrue(ignoredBeforeClassify(Cause.fail(full)))
    assert.isTrue(ignoredBeforeClassify(Cause.parallel(Cause.fail(full), interrupted)))
    assert.isFalse(ignoredBeforeClassify(Cause.parallel(Cause.fail(full), Cause.fail(new Boom()))))
    assert.isFalse(ignoredBeforeClassify(Cause.parallel(Cause.fail(new Boom()), Cause.fail(full))))
    assert.isFalse(ignoredBeforeClassify(Cause.parallel(Cause.fail(full), Cause.die("bug"))))
    assert.isFalse(ignoredBeforeClassify(Cause.die("bug")))
    assert.isFalse(ignoredBeforeClassify(Cause.fail(new Boom())))
  })

  it.scoped("a call failing with a rejection and an error of its own counts as a failure", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: "options-mixed-rejection",
        tripPolicy: CircuitBreaker.consecutive(2),
        openDuration: "1 minute"
      })
      yield* Effect.exit(breaker(Effect.failCause(Cause.parallel(Cause.fail(full), Cause.fail(new Boom())))))
      yield* Effect.exit(breaker(Effect.failCause(Cause.fail(full)))) // ignored: nothing but a rejection
      const m = yield* breaker.metrics()
      assert.strictEqual(m.failures, 1)
      assert.strictEqual(m.ignored, 1)
      assert.strictEqual(m.consecutiveFailures, 1)
    }))
})

// ---------------------------------------------------------------------------
// Error messages

describe("CircuitBreaker options: error messages", () => {
  it("a store error says which operation failed and why (detail, the cause's message, or nothing)", () => {
    const message = (args: { readonly cause?: unknown; readonly detail?: string }) =>
      new CircuitBreaker.CircuitBreakerStoreError({ operation: "record", ...args }).message
    assert.strictEqual(message({}), "Circuit breaker store failed on record")
    assert.strictEqual(message({ cause: new Error("ECONNRESET") }), "Circuit breaker store failed on record: ECONNRESET")
    assert.strictEqual(message({ cause: "timed out" }), "Circuit breaker store failed on record: timed out")
    assert.strictEqual(message({ cause: 42 }), "Circuit breaker store failed on record: 42")
    assert.strictEqual(message({ cause: new Error("x"), detail: "script missing" }), "Circuit breaker store failed on record: script missing")
    assert.strictEqual(message({ cause: new Error("") }), "Circuit breaker store failed on record")
  })

  it("a half-open rejection says how many probe slots are taken, in the singular or the plural", () => {
    const message = (key: string, probes: number) =>
      new CircuitBreaker.CircuitBreakerError({
        breaker: "api",
        key,
        reason: new CircuitBreaker.CircuitHalfOpen({ probes, retryAfter: Duration.seconds(20) })
      }).message
    assert.strictEqual(message("default", 1), "Circuit api is half-open and its 1 probe slot is taken: retry after 20s")
    assert.strictEqual(message("tenant", 3), "Circuit api[tenant] is half-open and its 3 probe slots are taken: retry after 20s")
  })

  it.scoped("a call beyond the probes of a half-open circuit is rejected with that message", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: "options-half-open-message",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probes: 2 }
      })
      yield* Effect.exit(breaker(Effect.fail(new Boom())))
      yield* TestClock.adjust("1 second")
      // two probes hold both slots
      const gate = yield* Deferred.make<void>()
      const first = yield* Deferred.make<void>()
      const second = yield* Deferred.make<void>()
      const probe = (started: Deferred.Deferred<void>) => breaker(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate)))
      const probes = yield* Effect.fork(Effect.all([probe(first), probe(second)], { concurrency: 2 }))
      yield* Deferred.await(first)
      yield* Deferred.await(second)
      yield* TestClock.adjust("15 seconds")
      const e = yield* Effect.flip(breaker(Effect.void))
      // retry after: until the earliest probe's lease ends (probeTimeout, 1 minute, from 1 s)
      assert.strictEqual(e.message, "Circuit options-half-open-message is half-open and its 2 probe slots are taken: retry after 45s")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(probes)
    }))
})

// ---------------------------------------------------------------------------
// The memory store

interface MemoryStoreInternals {
  readonly size: () => number
  readonly namespaces: () => number
  readonly evictions: () => number
  readonly untracked: () => number
  readonly sweep: (namespace: string, now: number) => number
}

const memoryStore = (options: CircuitBreaker.CircuitBreakerStore.MemoryOptions) =>
  Effect.map(CircuitBreaker.makeStoreMemory(options), (store) => store as CircuitBreaker.CircuitBreakerStore & MemoryStoreInternals)

const withStore = (store: CircuitBreaker.CircuitBreakerStore) => Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)

const config: CircuitBreaker.CircuitBreakerStore.Config = {
  trip: { _tag: "Consecutive", failures: 1 },
  slowCallThreshold: undefined,
  openDurations: [1000],
  maxOpenDuration: 1000,
  openDurationResetAfter: 1000,
  probes: 1,
  successThreshold: 1,
  probeTimeout: 60_000
}

describe("CircuitBreaker options: memory store", () => {
  it.effect("layerStoreMemory's errors name layerStoreMemory, makeStoreMemory's name makeStoreMemory", () =>
    Effect.gen(function*() {
      const layer = yield* Effect.flip(Effect.scoped(Layer.build(CircuitBreaker.layerStoreMemory({ maxKeys: 0 }))))
      assert.strictEqual(layer.module, "CircuitBreaker.layerStoreMemory")
      assert.strictEqual(layer.option, "maxKeys")
      const make = yield* Effect.flip(CircuitBreaker.makeStoreMemory({ maxKeys: 0 }))
      assert.strictEqual(make.module, "CircuitBreaker.makeStoreMemory")
    }))

  it.effect("reading, resetting or sweeping what the store does not hold creates nothing", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({})
      const snapshot = yield* store.snapshot("options-never-registered", "k", config, 5000)
      assert.strictEqual(snapshot.state._tag, "Closed")
      assert.strictEqual(snapshot.counters.successes, 0)
      assert.deepStrictEqual(yield* store.reset("options-never-registered", "k", config, 5000), [])
      assert.strictEqual(store.sweep("options-never-registered-either", 5000), 0)
      assert.strictEqual(store.size(), 0)
    }))

  it.scoped("resetting a key that has no circuit makes no transition", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({})
      const breaker = yield* CircuitBreaker.make({
        name: "options-reset-unknown",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second"
      }).pipe(withStore(store))
      yield* breaker.reset("nobody")
      assert.deepStrictEqual((yield* breaker.metrics("nobody")).transitions, [])
      assert.strictEqual(store.size(), 0)
    }))

  it.scoped("issue 16 §1: when full of circuits it must keep (isolated, open), a new key runs untracked: nothing dropped, counted", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ maxKeys: 3 })
      const breaker = yield* CircuitBreaker.make({
        name: "options-evict-none",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 hour"
      }).pipe(withStore(store))
      const events = yield* Queue.unbounded<CircuitBreaker.Event>()
      yield* breaker.events.pipe(Stream.runForEach((e) => Queue.offer(events, e)), Effect.forkScoped)
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      yield* breaker.isolate("isolated") // the oldest, but kept
      yield* Effect.exit(breaker.execute(Effect.fail(new Boom()), { key: "open-1" }))
      yield* Effect.exit(breaker.execute(Effect.fail(new Boom()), { key: "open-2" }))
      // fails open: the call runs (as if closed), is not recorded, and is counted
      assert.strictEqual(yield* breaker.execute(Effect.succeed("ran"), { key: "new" }), "ran")
      assert.strictEqual(yield* Effect.flip(breaker.execute(Effect.fail(new Boom()), { key: "new" })).pipe(Effect.map((e) => e._tag)), "Boom")
      assert.strictEqual(store.size(), 3)
      assert.strictEqual(store.evictions(), 0)
      assert.strictEqual(store.untracked(), 2)
      assert.strictEqual(yield* tagOf(breaker, "isolated"), "Isolated")
      assert.strictEqual(yield* tagOf(breaker, "open-1"), "Open")
      assert.strictEqual(yield* tagOf(breaker, "open-2"), "Open")
      const m = yield* breaker.metrics("new")
      assert.deepStrictEqual([m.state._tag, m.successes, m.failures], ["Closed", 0, 0])
      assert.deepStrictEqual([m.totals.untracked, m.totals.successes, m.totals.failures], [2, 1, 3])
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      const untracked = Chunk.toReadonlyArray(yield* Queue.takeAll(events)).filter((e) => e._tag === "Untracked")
      assert.deepStrictEqual(untracked, [
        { _tag: "Untracked", breaker: "options-evict-none", key: "new" },
        { _tag: "Untracked", breaker: "options-evict-none", key: "new" }
      ])
      // isolating a key the store has no room for fails (it would have to drop a circuit it must keep)
      const full = yield* Effect.flip(breaker.isolate("another"))
      assert.strictEqual(full._tag === "CircuitBreakerError" && full.reason._tag, "CircuitBreakerStoreError")
    }))

  it.scoped("isolated circuits are never dropped, and maxKeys holds: the new key runs untracked", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ maxKeys: 2 })
      const breaker = yield* CircuitBreaker.make({
        name: "options-evict-isolated",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second"
      }).pipe(withStore(store))
      yield* breaker.isolate("a")
      yield* breaker.isolate("b")
      yield* breaker.execute(Effect.void, { key: "c" })
      assert.strictEqual(store.size(), 2)
      assert.strictEqual(store.evictions(), 0)
      assert.strictEqual(store.untracked(), 1)
      assert.strictEqual(yield* tagOf(breaker, "a"), "Isolated")
      assert.strictEqual(yield* tagOf(breaker, "b"), "Isolated")
    }))

  it.scoped("each search for room examines at most 64 circuits; those kept go to the back, so the next search reaches the others", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ maxKeys: 65 })
      const breaker = yield* CircuitBreaker.make({
        name: "options-evict-scan",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 hour"
      }).pipe(withStore(store))
      for (let i = 0; i < 64; i++) yield* Effect.exit(breaker.execute(Effect.fail(new Boom()), { key: `open-${i}` }))
      yield* breaker.execute(Effect.void, { key: "idle" }) // the 65th: beyond the first search
      yield* breaker.execute(Effect.void, { key: "new" })
      assert.strictEqual(store.untracked(), 1) // the 64 examined are open: kept
      yield* breaker.execute(Effect.void, { key: "new" })
      assert.strictEqual(store.untracked(), 1) // the second search reached "idle", now dropped
      assert.strictEqual(store.size(), 65)
      assert.strictEqual(store.evictions(), 1)
      assert.strictEqual((yield* breaker.metrics("idle")).successes, 0)
      assert.strictEqual((yield* breaker.metrics("new")).successes, 1)
      for (let i = 0; i < 64; i++) assert.strictEqual(yield* tagOf(breaker, `open-${i}`), "Open")
    }))

  it.scoped("an open circuit is never dropped to make room, however long ago its break ended; once closed it can be", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ maxKeys: 1 })
      const breaker = yield* CircuitBreaker.make({
        name: "options-evict-open",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second"
      }).pipe(withStore(store))
      yield* Effect.exit(breaker.execute(Effect.fail(new Boom()), { key: "a" }))
      yield* TestClock.adjust("1 day")
      yield* breaker.execute(Effect.void, { key: "b" })
      assert.deepStrictEqual([store.size(), store.evictions(), store.untracked()], [1, 0, 1])
      yield* breaker.execute(Effect.void, { key: "a" }) // the probe closes it
      assert.strictEqual(yield* tagOf(breaker, "a"), "Closed")
      yield* breaker.execute(Effect.void, { key: "b" })
      assert.deepStrictEqual([store.size(), store.evictions(), store.untracked()], [1, 1, 1])
      assert.strictEqual((yield* breaker.metrics("b")).successes, 1)
    }))

  it.scoped("a breaker with no circuits of its own makes room by dropping another breaker's circuit", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ maxKeys: 2 })
      const options = { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" } as const
      const a = yield* CircuitBreaker.make({ ...options, name: "options-evict-other-a" }).pipe(withStore(store))
      const b = yield* CircuitBreaker.make({ ...options, name: "options-evict-other-b" }).pipe(withStore(store))
      yield* a.execute(Effect.void, { key: "a1" })
      yield* a.execute(Effect.void, { key: "a2" })
      yield* b.execute(Effect.void, { key: "b1" })
      assert.strictEqual(store.size(), 2)
      assert.strictEqual(store.evictions(), 1)
      assert.strictEqual((yield* a.metrics("a1")).successes, 0)
      assert.strictEqual((yield* a.metrics("a2")).successes, 1)
      assert.strictEqual((yield* b.metrics("b1")).successes, 1)
    }))

  it.scoped("a breaker with circuits of its own drops its own oldest, not another breaker's", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ maxKeys: 2 })
      const options = { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" } as const
      const a = yield* CircuitBreaker.make({ ...options, name: "options-evict-own-a" }).pipe(withStore(store))
      const b = yield* CircuitBreaker.make({ ...options, name: "options-evict-own-b" }).pipe(withStore(store))
      yield* a.execute(Effect.void, { key: "a1" })
      yield* b.execute(Effect.void, { key: "b1" })
      yield* b.execute(Effect.void, { key: "b2" })
      assert.strictEqual(store.size(), 2)
      assert.strictEqual((yield* a.metrics("a1")).successes, 1)
      assert.strictEqual((yield* b.metrics("b1")).successes, 0)
      assert.strictEqual((yield* b.metrics("b2")).successes, 1)
    }))

  it.scoped("the result of a call whose circuit was dropped while it ran is fenced; the call keeps its own result", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ maxKeys: 1 })
      const breaker = yield* CircuitBreaker.make({
        name: "options-dropped-while-running",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 minute"
      }).pipe(withStore(store))
      const gate = yield* Deferred.make<void, Boom>()
      const started = yield* Deferred.make<void>()
      const running = yield* Effect.fork(
        Effect.exit(breaker.execute(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate)), { key: "a" }))
      )
      yield* Deferred.await(started)
      yield* breaker.execute(Effect.void, { key: "b" }) // the store is full: "a" (closed) is dropped
      assert.strictEqual(store.evictions(), 1)
      yield* Deferred.fail(gate, new Boom())
      const exit = yield* Fiber.join(running)
      assert.deepStrictEqual(exit, Exit.fail(new Boom()))
      const m = yield* breaker.metrics("a")
      assert.strictEqual(m.state._tag, "Closed") // the failure did not open a circuit that is gone
      assert.strictEqual(m.totals.fenced, 1)
      assert.strictEqual(m.totals.failures, 1)
      assert.strictEqual(store.size(), 1)
    }))
})
