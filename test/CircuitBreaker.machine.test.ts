/**
 * The circuit's state machine and its windows, at their edges: what a closed
 * circuit counts, the window figures `metrics()` reports, probes at their
 * timeout, the reasons transitions carry, what the memory store's `admit`
 * and `record` answer (the contract a remote store follows), and which idle
 * circuits the store may drop. The windows' own counts (with slow calls too)
 * are checked against references in CircuitBreaker.windows.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Deferred, Duration, Effect, Fiber, Schedule, TestClock } from "effect"
import { CircuitBreaker } from "effect-resilience"
import { Boom, decisionOf, hold, ok, storeConfig, tagOf } from "./utils/breaker.js"

class NotFound extends Data.TaggedError("NotFound")<{}> {}
class TooMany extends Data.TaggedError("TooMany")<{ readonly retryAfter: Duration.Duration }> {}

const fail = Effect.fail(new Boom())

type StoreConfig = CircuitBreaker.CircuitBreakerStore.Config
type Ticket = CircuitBreaker.CircuitBreakerStore.Ticket

const failOnce = (breaker: CircuitBreaker.CircuitBreaker, key?: string) =>
  Effect.exit(key === undefined ? breaker(fail) : breaker.execute(fail, { key }))

interface MemoryStoreInternals {
  readonly size: () => number
}

const memoryStore = (options: CircuitBreaker.CircuitBreakerStore.MemoryOptions) =>
  Effect.map(CircuitBreaker.makeStoreMemory(options), (store) => store as CircuitBreaker.CircuitBreakerStore & MemoryStoreInternals)

const SUCCESS = { outcome: "success", slow: false, retryAfter: undefined } as const
const FAILURE = { outcome: "failure", slow: false, retryAfter: undefined } as const


describe("CircuitBreaker machine: what a closed circuit counts", () => {
  it.scoped("an ignored call neither breaks nor extends a run of failures", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(2),
        openDuration: "1 second",
        classify: CircuitBreaker.ignoreTags("NotFound")
      })
      yield* failOnce(breaker)
      yield* Effect.exit(breaker(Effect.fail(new NotFound())))
      const m = yield* breaker.metrics()
      assert.strictEqual(m.state._tag, "Closed")
      assert.strictEqual(m.consecutiveFailures, 1)
      assert.strictEqual(m.ignored, 1)
      yield* failOnce(breaker)
      assert.strictEqual(yield* tagOf(breaker), "Open")
    }))

  it.scoped("a break is never shorter than openDuration: failure({ retryAfter }) below it is ignored", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "5 seconds" })
      yield* Effect.exit(breaker(Effect.fail(new TooMany({ retryAfter: Duration.seconds(1) }))))
      const s = yield* breaker.state()
      assert.strictEqual(s._tag === "Open" && s.until, 5000)
    }))

  it.scoped("a threshold below the float tolerance still needs one failure to trip", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 1e-10, size: 2 }),
        openDuration: "1 second"
      })
      for (let i = 0; i < 5; i++) yield* breaker(ok)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      yield* failOnce(breaker)
      assert.strictEqual(yield* tagOf(breaker), "Open")
    }))

  it.scoped("rates are compared with a 1e-9 tolerance, inclusive: 3/10 reaches 0.1 + 0.2, and 1/2 reaches 0.5 + 1e-9", () =>
    Effect.gen(function*() {
      const float = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 0.1 + 0.2, size: 10 }),
        openDuration: "1 second"
      })
      for (let i = 0; i < 7; i++) yield* float(ok)
      yield* failOnce(float)
      yield* failOnce(float)
      assert.strictEqual(yield* tagOf(float), "Closed")
      yield* failOnce(float)
      assert.strictEqual(yield* tagOf(float), "Open")

      const edge = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 0.5 + 1e-9, size: 2 }),
        openDuration: "1 second"
      })
      yield* edge(ok)
      yield* failOnce(edge)
      assert.strictEqual(yield* tagOf(edge), "Open")
    }))
})

describe("CircuitBreaker machine: the window metrics() reports", () => {
  it.scoped("consecutive(n): the failures in a row; with slowCall, the calls among the last n", () =>
    Effect.gen(function*() {
      const plain = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(3), openDuration: "1 second" })
      yield* plain(ok)
      yield* failOnce(plain)
      yield* failOnce(plain)
      let m = yield* plain.metrics()
      assert.deepStrictEqual([m.windowCalls, m.consecutiveFailures, m.failureRate, m.slowCallRate], [2, 2, undefined, undefined])

      const slow = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(3),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 1 }
      })
      yield* slow(ok)
      yield* slow(ok)
      m = yield* slow.metrics()
      assert.deepStrictEqual([m.windowCalls, m.consecutiveFailures, m.slowCallRate], [2, 0, 0])
      const late = yield* Effect.fork(slow(Effect.zipRight(Effect.sleep("2 seconds"), ok)))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(late)
      yield* failOnce(slow)
      m = yield* slow.metrics()
      // the last 3 calls: ok, slow ok, failure
      assert.deepStrictEqual([m.windowCalls, m.consecutiveFailures, m.slowCallRate], [3, 1, 1 / 3])
    }))

  it.scoped("rate and timeRate also report the failures in a row", () =>
    Effect.gen(function*() {
      for (
        const tripPolicy of [
          CircuitBreaker.rate({ threshold: 1, size: 10 }),
          CircuitBreaker.timeRate({ threshold: 1, window: "10 seconds", minimumCalls: 10 })
        ]
      ) {
        const breaker = yield* CircuitBreaker.make({ tripPolicy, openDuration: "1 second" })
        yield* breaker(ok)
        yield* failOnce(breaker)
        yield* failOnce(breaker)
        let m = yield* breaker.metrics()
        assert.deepStrictEqual([m.windowCalls, m.consecutiveFailures, m.failureRate], [3, 2, 2 / 3], tripPolicy._tag)
        yield* breaker(ok)
        m = yield* breaker.metrics()
        assert.deepStrictEqual([m.windowCalls, m.consecutiveFailures], [4, 0], tripPolicy._tag)
      }
    }))

  it.scoped("a circuit that is not closed reports an empty window", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 2 }),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 1 }
      })
      yield* failOnce(breaker)
      yield* failOnce(breaker)
      const m = yield* breaker.metrics()
      assert.strictEqual(m.state._tag, "Open")
      assert.deepStrictEqual(
        [m.windowCalls, m.consecutiveFailures, m.failureRate, m.slowCallRate],
        [0, 0, undefined, undefined]
      )
    }))

  it.scoped("timeRate: a clock that steps back never drops the calls of the window", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.timeRate({ threshold: 1, window: "1 second", buckets: 10, minimumCalls: 100 }),
        openDuration: "1 second"
      })
      yield* TestClock.setTime(2500)
      yield* breaker(ok)
      yield* TestClock.setTime(500) // a wall clock may step back (NTP)
      yield* breaker(ok)
      yield* TestClock.setTime(2600)
      yield* breaker(ok)
      assert.strictEqual((yield* breaker.metrics()).windowCalls, 3)
    }))
})

describe("CircuitBreaker machine: half-open", () => {
  it.scoped("with slowCall set, a fast successful probe closes the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 1 }
      })
      yield* failOnce(breaker)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* breaker(ok), "ok")
      assert.strictEqual(yield* tagOf(breaker), "Closed")
    }))

  it.scoped("a probe admitted while others run (probes > 1) frees its slot when interrupted", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probes: 2, successThreshold: 2 }
      })
      yield* failOnce(breaker)
      yield* TestClock.adjust("1 second")
      const first = yield* hold(breaker) // moves the circuit to half-open
      const second = yield* hold(breaker) // a probe of a circuit already half-open
      let s = yield* breaker.state()
      assert.strictEqual(s._tag === "HalfOpen" && s.probes, 2)
      yield* Fiber.interrupt(second.fiber)
      s = yield* breaker.state()
      assert.strictEqual(s._tag === "HalfOpen" && s.probes, 1)
      const third = yield* hold(breaker)
      yield* Deferred.succeed(first.gate, "a")
      yield* Deferred.succeed(third.gate, "c")
      yield* Fiber.join(first.fiber)
      yield* Fiber.join(third.fiber)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
    }))

  it.scoped("a probe ending exactly at probeTimeout is a failed probe at its lease's end (issue 16 §3); 1 ms earlier it counts", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probeTimeout: "5 seconds" }
      })
      yield* failOnce(breaker, "late")
      yield* failOnce(breaker, "in-time")
      yield* TestClock.adjust("1 second")
      const late = yield* hold((call) => breaker.execute(call, { key: "late" }))
      const inTime = yield* hold((call) => breaker.execute(call, { key: "in-time" }))
      yield* TestClock.adjust("4999 millis")
      yield* Deferred.succeed(inTime.gate, "in time")
      yield* Fiber.join(inTime.fiber)
      assert.strictEqual(yield* tagOf(breaker, "in-time"), "Closed")
      yield* TestClock.adjust("1 millis")
      yield* Deferred.succeed(late.gate, "too late")
      yield* Fiber.join(late.fiber)
      // its lease ended at 6 s while it still ran: the circuit reopened then (the next break from 6 s)
      const s = yield* breaker.state("late")
      assert.deepStrictEqual(s._tag === "Open" && [s.since, s.until, s.openings], [6000, 7000, 2])
      const m = yield* breaker.metrics("late")
      assert.deepStrictEqual([m.successes, m.fenced], [1, 1])
      assert.deepStrictEqual(m.transitions.slice(-1).map((t) => [t.from, t.to, t.at, t.reason]), [
        ["HalfOpen", "Open", 6000, "ProbeTimedOut"]
      ])
    }))

  it.scoped("a probe that outlived probeTimeout reopens the circuit for good, even if the clock then steps back", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probeTimeout: "5 seconds" }
      })
      yield* failOnce(breaker)
      yield* TestClock.adjust("1 second")
      const late = yield* hold(breaker) // its slot expires at 6 s
      yield* TestClock.adjust("5 seconds")
      yield* Deferred.succeed(late.gate, "too late")
      yield* Fiber.join(late.fiber)
      assert.strictEqual((yield* breaker.metrics()).fenced, 1)
      yield* TestClock.setTime(5000) // a wall clock may step back (NTP)
      // reopened at 6 s (its lease's end) for a 1 s break: no probe before 7 s on the clock
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
      yield* TestClock.setTime(7000)
      assert.strictEqual(yield* decisionOf(breaker(ok)), "admitted")
      assert.strictEqual(yield* tagOf(breaker), "Closed")
    }))

  it.scoped("transitions carry their reason; closing on probes fences nothing", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      yield* failOnce(breaker)
      yield* TestClock.adjust("1 second")
      yield* failOnce(breaker) // a failed probe
      yield* TestClock.adjust("1 second")
      yield* breaker(ok)
      yield* breaker.isolate()
      yield* breaker.reset()
      const m = yield* breaker.metrics()
      assert.deepStrictEqual(m.transitions.map((t) => [t.from, t.to, t.at, t.reason]), [
        ["Closed", "Open", 0, "Tripped"],
        ["Open", "HalfOpen", 1000, "OpenElapsed"],
        ["HalfOpen", "Open", 1000, "ProbeFailed"],
        ["Open", "HalfOpen", 2000, "OpenElapsed"],
        ["HalfOpen", "Closed", 2000, "ProbesSucceeded"],
        ["Closed", "Isolated", 2000, "Isolated"],
        ["Isolated", "Closed", 2000, "Reset"]
      ])
      assert.deepStrictEqual([m.fenced, m.totals.fenced], [0, 0])
    }))

  it.scoped("isolate or reset after the break ended first publish the move to half-open, stamped when the break ended", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      yield* failOnce(breaker, "a")
      yield* failOnce(breaker, "b")
      yield* TestClock.adjust("3 seconds")
      yield* breaker.isolate("a")
      yield* breaker.reset("b")
      const moves = (key: string) =>
        Effect.map(breaker.metrics(key), (m) => m.transitions.map((t) => [t.from, t.to, t.at, t.reason]))
      assert.deepStrictEqual(yield* moves("a"), [
        ["Closed", "Open", 0, "Tripped"],
        ["Open", "HalfOpen", 1000, "OpenElapsed"],
        ["HalfOpen", "Isolated", 3000, "Isolated"]
      ])
      assert.deepStrictEqual(yield* moves("b"), [
        ["Closed", "Open", 0, "Tripped"],
        ["Open", "HalfOpen", 1000, "OpenElapsed"],
        ["HalfOpen", "Closed", 3000, "Reset"]
      ])
    }))

  it.scoped("metrics count every rejection: open, half-open with its probes taken, isolated", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      yield* failOnce(breaker)
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
      yield* TestClock.adjust("1 second")
      const probe = yield* hold(breaker)
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitHalfOpen")
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitHalfOpen")
      yield* Deferred.succeed(probe.gate, "ok")
      yield* Fiber.join(probe.fiber)
      yield* breaker.isolate()
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
      const m = yield* breaker.metrics()
      assert.deepStrictEqual([m.rejections, m.totals.rejections], [4, 4])
    }))
})

describe("CircuitBreaker machine: the memory store's answers", () => {
  it.effect("admit: an open circuit's rejection, a probe's lease, and when a full half-open frees its earliest slot", () =>
    Effect.gen(function*() {
      const store = yield* CircuitBreaker.makeStoreMemory()
      const config = storeConfig()
      const closed = yield* store.admit("answers", "k", config, 0)
      assert.strictEqual(closed._tag, "Admitted")
      const tripped = yield* store.record("answers", "k", config, closed as Ticket, FAILURE, 0)
      assert.deepStrictEqual(tripped.transitions.map((t) => [t.from, t.to, t.reason]), [["Closed", "Open", "Tripped"]])
      assert.deepStrictEqual(yield* store.admit("answers", "k", config, 400), {
        _tag: "Rejected",
        state: "Open",
        retryAfter: 600,
        transitions: []
      })
      const probe1 = yield* store.admit("answers", "k", config, 1000)
      assert.strictEqual(probe1._tag, "Admitted")
      const elapsed = probe1.transitions[0]!
      assert.deepStrictEqual(probe1, {
        _tag: "Admitted",
        generation: elapsed.generation,
        lease: (probe1 as Ticket).lease,
        transitions: [{ key: "k", from: "Open", to: "HalfOpen", at: 1000, generation: elapsed.generation, reason: "OpenElapsed" }]
      })
      assert.notStrictEqual((probe1 as Ticket).lease, 0)
      const probe2 = yield* store.admit("answers", "k", config, 1500)
      assert.strictEqual(probe2._tag, "Admitted")
      // both slots taken: the first frees at 1000 + 10 s
      assert.deepStrictEqual(yield* store.admit("answers", "k", config, 2000), {
        _tag: "Rejected",
        state: "HalfOpen",
        retryAfter: 9000,
        transitions: []
      })
      assert.strictEqual((yield* store.snapshot("answers", "k", config, 2000)).counters.rejections, 2)
    }))

  it.effect("record: a ticket the current state did not hand out moves nothing", () =>
    Effect.gen(function*() {
      const store = yield* CircuitBreaker.makeStoreMemory()
      const config = storeConfig()
      // a probe's lease on a closed circuit is not counted in its window
      const closed = (yield* store.admit("tickets", "closed", config, 0)) as Ticket
      const leased = yield* store.record("tickets", "closed", config, { generation: closed.generation, lease: 7 }, FAILURE, 0)
      assert.deepStrictEqual(leased, { transitions: [], fenced: false })
      assert.strictEqual((yield* store.snapshot("tickets", "closed", config, 0)).state._tag, "Closed")

      // an open circuit's own generation: the result is fenced, the break stays
      const first = (yield* store.admit("tickets", "open", config, 0)) as Ticket
      const [opened] = (yield* store.record("tickets", "open", config, first, FAILURE, 0)).transitions
      for (const result of [SUCCESS, FAILURE]) {
        const recorded = yield* store.record("tickets", "open", config, { generation: opened!.generation, lease: 0 }, result, 500)
        assert.deepStrictEqual(recorded, { transitions: [], fenced: true })
      }
      let snap = yield* store.snapshot("tickets", "open", config, 500)
      assert.strictEqual(snap.state._tag === "Open" && snap.state.until, 1000)
      assert.strictEqual(snap.counters.fenced, 2)

      // an isolated circuit's own generation: fenced too
      const [isolated] = yield* store.isolate("tickets", "isolated", config, 0)
      const recorded = yield* store.record("tickets", "isolated", config, { generation: isolated!.generation, lease: 0 }, SUCCESS, 0)
      assert.deepStrictEqual(recorded, { transitions: [], fenced: true })
      snap = yield* store.snapshot("tickets", "isolated", config, 0)
      assert.deepStrictEqual([snap.state._tag, snap.counters.fenced], ["Isolated", 1])
    }))

  it.effect("record: a slow probe fails only when the configuration has a slow-call threshold", () =>
    Effect.gen(function*() {
      const store = yield* CircuitBreaker.makeStoreMemory()
      const reasons = (config: StoreConfig, key: string) =>
        Effect.gen(function*() {
          const first = (yield* store.admit("slow", key, config, 0)) as Ticket
          yield* store.record("slow", key, config, first, FAILURE, 0)
          const probe = (yield* store.admit("slow", key, config, 1000)) as Ticket
          const recorded = yield* store.record("slow", key, config, probe, { outcome: "success", slow: true, retryAfter: undefined }, 1000)
          return recorded.transitions.map((t) => [t.to, t.reason])
        })
      assert.deepStrictEqual(yield* reasons(storeConfig(), "without"), [["Closed", "ProbesSucceeded"]])
      assert.deepStrictEqual(yield* reasons(storeConfig({ slowCallThreshold: 1 }), "with"), [["Open", "ProbeFailed"]])
    }))
})

describe("CircuitBreaker machine: which idle circuits the store drops (issue 16 §1: never one whose state decides the next call)", () => {
  // idleTimeToLive 1 minute: the store sweeps every 30 s (at 30 s, 60 s, 90 s, 120 s, ...)
  it.scoped("an open circuit is kept long after its break ended: the next call is a probe, and the move is published", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ idleTimeToLive: "1 minute" })
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "2 minutes"
      }).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))
      yield* failOnce(breaker) // open until 120 s
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(store.size(), 1)
      assert.strictEqual(yield* tagOf(breaker), "HalfOpen")
      const probe = yield* hold(breaker)
      const s = yield* breaker.state()
      assert.strictEqual(s._tag === "HalfOpen" && s.probes, 1)
      assert.deepStrictEqual((yield* breaker.metrics()).transitions.map((t) => [t.to, t.at, t.reason]), [
        ["Open", 0, "Tripped"],
        ["HalfOpen", 120_000, "OpenElapsed"]
      ])
      yield* Deferred.succeed(probe.gate, "back")
      yield* Fiber.join(probe.fiber)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
    }))

  it.scoped("a half-open circuit is kept while a probe runs, and after its lease ended (a failed probe: reopened)", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ idleTimeToLive: "1 minute" })
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probeTimeout: "119 seconds" }
      }).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))
      yield* failOnce(breaker)
      yield* TestClock.adjust("1 second")
      const probe = yield* hold(breaker) // its lease ends at 1 s + 119 s = 120 s
      yield* TestClock.adjust("118999 millis") // idle since 1 s, swept at 30, 60, 90 s
      assert.strictEqual(store.size(), 1)
      const s = yield* breaker.state()
      assert.strictEqual(s._tag === "HalfOpen" && s.probes, 1)
      yield* TestClock.adjust("1 millis") // 120 s: the lease has ended, the probe still runs
      assert.strictEqual(store.size(), 1)
      const reopened = yield* breaker.state()
      assert.deepStrictEqual(reopened._tag === "Open" && [reopened.since, reopened.until], [120_000, 121_000])
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(store.size(), 1)
      assert.strictEqual(yield* tagOf(breaker), "HalfOpen")
      yield* Fiber.interrupt(probe.fiber)
    }))

  it.scoped("a half-open circuit whose probes all ended is kept when idle: the next call is still a probe", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ idleTimeToLive: "1 minute" })
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { successThreshold: 2 }
      }).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))
      yield* failOnce(breaker)
      yield* TestClock.adjust("1 second")
      yield* breaker(ok) // one success of two: still half-open, no probe running
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(store.size(), 1)
      const s = yield* breaker.state()
      assert.strictEqual(s._tag === "HalfOpen" && s.successes, 1)
      yield* breaker(ok)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
    }))

  it.scoped("a closed circuit is dropped when idle, but not while its count of openings still picks the next (growing) break", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ idleTimeToLive: "1 minute" })
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: Schedule.exponential("1 second"), // 1 s, 2 s, 4 s … for consecutive openings
        openDurationResetAfter: "10 minutes"
      }).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))
      yield* breaker.execute(ok, { key: "never-opened" })
      yield* failOnce(breaker, "flapping") // opening 1: 1 s
      yield* TestClock.adjust("1 second")
      yield* breaker.execute(ok, { key: "flapping" }) // closed again, with 1 opening counted
      yield* TestClock.adjust("5 minutes")
      assert.strictEqual(store.size(), 1) // never-opened is dropped; flapping is kept
      const kept = yield* breaker.state("flapping")
      assert.deepStrictEqual(kept._tag === "Closed" && kept.openings, 1)
      yield* failOnce(breaker, "flapping")
      const open = yield* breaker.state("flapping")
      assert.deepStrictEqual(open._tag === "Open" && [open.openings, open.until - open.since], [2, 2000])
      yield* TestClock.adjust("2 seconds")
      yield* breaker.execute(ok, { key: "flapping" })
      yield* TestClock.adjust("11 minutes") // closed for longer than openDurationResetAfter: the count no longer matters
      assert.strictEqual(store.size(), 0)
    }))
})
