/**
 * Issue 16 (§1, §3, §4, §5), in-process store: a failing dependency is
 * always isolated. Each test is written from the promise and failed on the
 * code before the issue:
 *
 * - §1 a long break is never forgotten: the idle sweep and a full store keep
 *   every circuit whose state still decides what the next call gets (a key
 *   flood runs untracked instead: fail open, counted, observable);
 * - §3 a hung half-open probe is a failed probe at its lease's end;
 * - §4 rejections say when to come back (`CircuitHalfOpen` too), and a
 *   dependency's own `retryAfter` lengthens a break with default options;
 * - §5 half-open sampling, and the Disabled and MetricsOnly modes.
 *
 * The Redis store's side is test/redis/CircuitBreaker.issue16.test.ts; the
 * model-based tests (test/utils/breakerModel.ts) check the same rules on
 * random schedules.
 */
import { assert, describe, it } from "@effect/vitest"
import { HttpClient, HttpServerResponse } from "@effect/platform"
import { Chunk, Config, Data, Deferred, Duration, Effect, Fiber, Metric, Queue, Schedule, Stream, TestClock } from "effect"
import { CircuitBreaker, Health, Policy } from "effect-resilience"
import { ResilientHttpClient } from "effect-resilience/http"
import { serve, undici } from "./http/server.js"
import { Boom, decisionOf, hold, ok } from "./utils/breaker.js"
import { settle } from "./utils/fibers.js"

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly retryAfter: Duration.Duration }> {}

const fail = Effect.fail(new Boom())

let names = 0
const breakerOf = (options: Partial<CircuitBreaker.CircuitBreaker.Options> = {}) =>
  CircuitBreaker.make({
    name: `issue16-${++names}`,
    tripPolicy: CircuitBreaker.consecutive(1),
    openDuration: "1 second",
    ...options
  })

/** Collects a stream's elements (subscribed before it returns). */
const collect = <A>(stream: Stream.Stream<A>) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<A>()
    yield* stream.pipe(Stream.runForEach((a) => Queue.offer(queue, a)), Effect.forkScoped)
    yield* settle
    return Effect.zipRight(settle, Effect.map(Queue.takeAll(queue), Chunk.toReadonlyArray))
  })

/** The values of a metric's series of one breaker. */
const seriesOf = (metric: string, policy: string) =>
  Effect.map(Metric.snapshot, (pairs) =>
    pairs
      .filter((p) => p.metricKey.name === metric && p.metricKey.tags.some((t) => t.key === "policy" && t.value === policy))
      .map((p) => {
        const state = p.metricState as unknown as { readonly count?: number; readonly value?: number }
        return Number(state.count ?? state.value)
      }))

interface MemoryStoreInternals {
  readonly size: () => number
  readonly evictions: () => number
  readonly untracked: () => number
}

const memoryStore = (options: CircuitBreaker.CircuitBreakerStore.MemoryOptions) =>
  Effect.map(CircuitBreaker.makeStoreMemory(options), (store) => store as CircuitBreaker.CircuitBreakerStore & MemoryStoreInternals)

const withStore = (store: CircuitBreaker.CircuitBreakerStore) => Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)

describe("issue 16 §1: a long break is never forgotten", () => {
  it.scoped("the reproduction: consecutive(1), a 2-hour break, one failure, 2 hours later: not Closed; the next call is a probe, the move published", () =>
    Effect.gen(function*() {
      // the default store: idle circuits are swept after 1 hour
      const breaker = yield* breakerOf({ openDuration: "2 hours" })
      const transitions = yield* collect(breaker.transitions)
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("2 hours")
      // the break has just ended: the state reads HalfOpen (the next call probes), never Closed
      const state = yield* breaker.state()
      assert.deepStrictEqual(state._tag === "HalfOpen" && [state.since, state.probes, state.openings], [7_200_000, 0, 1])
      const probe = yield* hold(breaker)
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitHalfOpen") // not full traffic at once
      assert.deepStrictEqual((yield* transitions).map((t) => [t.from, t.to, t.at, t.reason]), [
        ["Closed", "Open", 0, "Tripped"],
        ["Open", "HalfOpen", 7_200_000, "OpenElapsed"]
      ])
      yield* Deferred.succeed(probe.gate, "back")
      yield* Fiber.join(probe.fiber)
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
    }))

  it.scoped("just before its end a 2-hour break reads Open; idle for days past it, it still reads HalfOpen", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({ openDuration: "2 hours" })
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust(Duration.millis(7_199_999))
      const open = yield* breaker.state()
      assert.deepStrictEqual(open._tag === "Open" && Duration.toMillis(open.retryAfter), 1)
      yield* TestClock.adjust("3 days")
      assert.strictEqual((yield* breaker.state())._tag, "HalfOpen")
    }))

  it.scoped("a growing break's count of openings survives a long idle closed period until openDurationResetAfter", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({
        openDuration: Schedule.exponential("1 second"), // 1 s, 2 s, 4 s … for consecutive openings
        maxOpenDuration: "1 hour",
        openDurationResetAfter: "3 hours"
      })
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("1 second")
      yield* breaker(ok) // closed again: 1 opening counted
      yield* TestClock.adjust("2 hours") // idle past the store's 1 hour
      yield* Effect.exit(breaker(fail))
      const state = yield* breaker.state()
      // the second consecutive opening: 2 s (the count was not lost with the circuit)
      assert.deepStrictEqual(state._tag === "Open" && [state.openings, state.until - state.since], [2, 2000])
    }))

  it.scoped("a key flood never evicts an open circuit: new keys run untracked, counted in metrics, a metric and events", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({ maxKeys: 10 })
      const breaker = yield* breakerOf({ openDuration: "1 hour" }).pipe(withStore(store))
      const events = yield* collect(breaker.events)
      for (let i = 0; i < 10; i++) yield* Effect.exit(breaker.execute(fail, { key: `down-${i}` }))
      // the flood: 1,000 new keys, all run (fail open), none evicts a circuit that is open
      for (let i = 0; i < 1000; i++) {
        assert.strictEqual(yield* breaker.execute(Effect.succeed(i), { key: `flood-${i}` }), i)
      }
      for (let i = 0; i < 10; i++) assert.strictEqual(yield* decisionOf(breaker.execute(ok, { key: `down-${i}` })), "CircuitOpen")
      assert.deepStrictEqual([store.size(), store.evictions(), store.untracked()], [10, 0, 1000])
      const m = yield* breaker.metrics()
      assert.strictEqual(m.totals.untracked, 1000)
      const untracked = (yield* events).filter((e) => e._tag === "Untracked")
      assert.strictEqual(untracked.length, 1000)
      assert.deepStrictEqual(yield* seriesOf("resilience_circuit_breaker_untracked", breaker.policyName), [1000])
    }))
})

describe("issue 16 §3: a hung half-open probe reopens the circuit", () => {
  it.scoped("a dependency that hangs gets one probe per break, not `probes` new calls every probeTimeout", () =>
    Effect.gen(function*() {
      let reached = 0
      const hang = Effect.suspend(() => {
        reached++
        return Effect.never
      })
      const breaker = yield* breakerOf({ openDuration: "10 seconds", halfOpen: { probes: 2, probeTimeout: "5 seconds" } })
      yield* Effect.exit(breaker(fail))
      const fibers = []
      // one call every second for two minutes
      for (let t = 0; t < 120; t++) {
        yield* TestClock.adjust("1 second")
        fibers.push(yield* Effect.fork(breaker(hang)))
        yield* settle
      }
      // breaks of 10 s, each followed by 5 s of probing (2 probes), reopened at the probes' lease end
      assert.isAtMost(reached, 2 * Math.ceil(120 / 15))
      assert.strictEqual((yield* breaker.metrics()).transitions.filter((t) => t.reason === "ProbeTimedOut").length >= 7, true)
      for (const f of fibers) yield* Fiber.interrupt(f)
    }))

  it.scoped("with probeTimeout shorter than slowCall.duration, a slow probe still reopens the circuit (at its lease's end)", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({
        slowCall: { duration: "30 seconds", threshold: 1 },
        halfOpen: { probeTimeout: "5 seconds" }
      })
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("1 second")
      const slow = yield* hold(breaker)
      yield* TestClock.adjust("5 seconds")
      const s = yield* breaker.state()
      assert.deepStrictEqual(s._tag === "Open" && [s.since, s.until], [6000, 7000])
      yield* Deferred.succeed(slow.gate, "late")
      yield* Fiber.join(slow.fiber)
      assert.strictEqual((yield* breaker.metrics()).fenced, 1)
    }))

  it.scoped("under half-open sampling a hung probe is one failed sample", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({ halfOpen: { probes: 4, failureRateThreshold: 0.5, probeTimeout: "5 seconds" } })
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("1 second")
      const hung = yield* hold(breaker)
      yield* TestClock.adjust("5 seconds")
      const s = yield* breaker.state()
      assert.deepStrictEqual(s._tag === "HalfOpen" && [s.failures, s.probes], [1, 0])
      // 1 of 4 failed: three more probes, and three successes close it (1/4 < 0.5)
      yield* breaker(ok)
      yield* breaker(ok)
      assert.strictEqual((yield* breaker.state())._tag, "HalfOpen")
      yield* breaker(ok)
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
      yield* Fiber.interrupt(hung.fiber)
    }))
})

describe("issue 16 §4: rejections say when to come back", () => {
  it.scoped("CircuitHalfOpen carries retryAfter: until the earliest running probe's lease ends", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({ halfOpen: { probes: 2, probeTimeout: "30 seconds" } })
      const events = yield* collect(breaker.events)
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("1 second")
      const first = yield* hold(breaker) // lease ends at 31 s
      yield* TestClock.adjust("10 seconds")
      const second = yield* hold(breaker) // lease ends at 41 s
      yield* TestClock.adjust("5 seconds")
      const rejected = yield* Effect.flip(breaker(ok))
      assert.strictEqual(rejected.reason._tag, "CircuitHalfOpen")
      assert.deepStrictEqual(rejected.retryAfter, Duration.seconds(15))
      assert.deepStrictEqual(rejected.reason._tag === "CircuitHalfOpen" && rejected.reason.retryAfter, Duration.seconds(15))
      const rejections = (yield* events).filter((e) => e._tag === "Rejected")
      assert.deepStrictEqual(rejections.map((e) => e._tag === "Rejected" && [e.reason, e.retryAfter, e.enforced]), [
        ["CircuitHalfOpen", Duration.seconds(15), true]
      ])
      yield* Fiber.interrupt(first.fiber)
      yield* Fiber.interrupt(second.fiber)
    }))

  it.scoped("with default options a dependency's retryAfter lengthens a fixed break, up to 10 minutes", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({ openDuration: "10 seconds" })
      yield* Effect.exit(breaker(Effect.fail(new Unavailable({ retryAfter: Duration.seconds(25) }))))
      const s = yield* breaker.state()
      assert.deepStrictEqual(s._tag === "Open" && s.until - s.since, 25_000)
      const short = yield* breakerOf({ openDuration: "200 millis" })
      yield* Effect.exit(short(Effect.fail(new Unavailable({ retryAfter: Duration.seconds(5) }))))
      const t = yield* short.state()
      assert.deepStrictEqual(t._tag === "Open" && t.until - t.since, 5000)
      // a hostile hint is capped
      const hostile = yield* breakerOf({ openDuration: "10 seconds" })
      yield* Effect.exit(hostile(Effect.fail(new Unavailable({ retryAfter: Duration.days(1) }))))
      const u = yield* hostile.state()
      assert.deepStrictEqual(u._tag === "Open" && u.until - u.since, 600_000)
    }))

  it.scoped("the HTTP client's default breaker turns a 503's Retry-After: 25 into a 25 s break", () =>
    Effect.gen(function*() {
      const server = yield* serve(() =>
        Effect.succeed(HttpServerResponse.text("busy", { status: 503, headers: { "retry-after": "25" } }))
      )
      // the client's defaults (its breaker: consecutive(5), openDuration 10 seconds), without retries
      const resilience = yield* ResilientHttpClient.makeTransform({ retry: false })
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      for (let i = 0; i < 5; i++) yield* Effect.exit(client.get(`${server.url}/busy`))
      const state = yield* resilience.circuitBreaker!.state(server.url)
      assert.deepStrictEqual(state._tag === "Open" && state.until - state.since, 25_000)
    }).pipe(Effect.provide(undici)))
})

describe("issue 16 §5: half-open sampling", () => {
  it.scoped("probes > 1 with failureRateThreshold: one failed probe does not reopen; the failure rate of the probes decides", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({ halfOpen: { probes: 4, failureRateThreshold: 0.5 } })
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("1 second")
      yield* Effect.exit(breaker(fail)) // 1 of 4
      assert.strictEqual((yield* breaker.state())._tag, "HalfOpen")
      yield* breaker(ok)
      yield* Effect.exit(breaker(fail)) // 2 of 4: the rate reaches 0.5 whatever the last probe does
      const s = yield* breaker.state()
      assert.deepStrictEqual(s._tag === "Open" && s.openings, 2)
      const reasons = (yield* breaker.metrics()).transitions.map((t) => t.reason)
      assert.deepStrictEqual(reasons.slice(-1), ["ProbeFailed"])
    }))

  it.scoped("it closes as soon as the rate can no longer reach the threshold; each period admits `probes` probes in all", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({ halfOpen: { probes: 4, failureRateThreshold: 0.5 } })
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("1 second")
      const a = yield* hold(breaker)
      const b = yield* hold(breaker)
      yield* breaker(ok)
      yield* Effect.exit(breaker(fail))
      // 4 probes admitted (2 running, 2 decided): a fifth caller is rejected, told when to come back
      const rejected = yield* Effect.flip(breaker(ok))
      assert.strictEqual(rejected.reason._tag, "CircuitHalfOpen")
      assert.deepStrictEqual(rejected.retryAfter, Duration.minutes(1))
      yield* Deferred.succeed(a.gate, "fine")
      yield* Fiber.join(a.fiber)
      assert.strictEqual((yield* breaker.state())._tag, "HalfOpen") // 1 failure, 2 successes: undecided
      yield* Deferred.succeed(b.gate, "fine")
      yield* Fiber.join(b.fiber)
      assert.strictEqual((yield* breaker.state())._tag, "Closed") // 1 of 4 < 0.5
    }))

  it.effect("options are validated: a rate in (0, 1], never with successThreshold", () =>
    Effect.gen(function*() {
      const base = { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" } as const
      for (const failureRateThreshold of [0, 1.5, Number.NaN]) {
        const e = yield* Effect.flip(Effect.scoped(CircuitBreaker.make({ ...base, halfOpen: { probes: 3, failureRateThreshold } })))
        assert.strictEqual(e.option, "halfOpen.failureRateThreshold")
      }
      const both = yield* Effect.flip(
        Effect.scoped(CircuitBreaker.make({ ...base, halfOpen: { probes: 3, failureRateThreshold: 0.5, successThreshold: 2 } }))
      )
      assert.strictEqual(both.option, "halfOpen.successThreshold")
      const fromConfig = yield* Effect.scoped(
        CircuitBreaker.fromConfig(Config.succeed({ probes: 5, probeFailureRateThreshold: 0.4 }))
      )
      const halfOpen = Policy.describe(fromConfig).options.halfOpen as { readonly probes: number; readonly failureRateThreshold: number }
      assert.strictEqual(halfOpen.failureRateThreshold, 0.4)
      assert.strictEqual(halfOpen.probes, 5)
    }))
})

describe("issue 16 §5: Disabled and MetricsOnly modes", () => {
  it.scoped("Disabled: every call runs and nothing is recorded; the state underneath is kept; events, metrics and state show the mode", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({ openDuration: "1 hour" })
      const events = yield* collect(breaker.events)
      yield* Effect.exit(breaker(fail))
      yield* breaker.setMode("Disabled")
      const before = yield* breaker.metrics()
      for (let i = 0; i < 5; i++) yield* Effect.exit(breaker(fail))
      assert.strictEqual(yield* breaker(ok), "ok")
      const after = yield* breaker.metrics()
      assert.deepStrictEqual(
        [after.successes, after.failures, after.rejections, after.totals.failures],
        [before.successes, before.failures, before.rejections, before.totals.failures]
      )
      assert.deepStrictEqual([after.mode, after.state._tag, after.state.mode], ["Disabled", "Open", "Disabled"])
      yield* breaker.setMode("Enforcing")
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
      const changes = (yield* events).filter((e) => e._tag === "ModeChanged")
      assert.deepStrictEqual(changes.map((e) => e._tag === "ModeChanged" && [e.from, e.to, e.at]), [
        ["Enforcing", "Disabled", 0],
        ["Disabled", "Enforcing", 0]
      ])
      assert.deepStrictEqual(yield* seriesOf("resilience_circuit_breaker_mode", breaker.policyName), [0])
    }))

  it.scoped("MetricsOnly: never rejects; records, publishes the transitions it would make and counts what it would reject", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({ tripPolicy: CircuitBreaker.consecutive(2), openDuration: "10 seconds" })
      const events = yield* collect(breaker.events)
      yield* breaker.setMode("MetricsOnly")
      yield* Effect.exit(breaker(fail))
      yield* Effect.exit(breaker(fail)) // would open
      let reached = 0
      for (let i = 0; i < 3; i++) {
        assert.strictEqual(yield* breaker(Effect.sync(() => ++reached)), reached)
      }
      const state = yield* breaker.state()
      assert.deepStrictEqual([state._tag, state.mode], ["Open", "MetricsOnly"])
      const m = yield* breaker.metrics()
      // the would-be rejections ran, unrecorded by the circuit (an enforcing breaker would not see them)
      assert.deepStrictEqual([m.failures, m.successes, m.rejections], [2, 0, 3])
      assert.deepStrictEqual([m.totals.successes, m.totals.rejections], [3, 3])
      const seen = yield* events
      assert.deepStrictEqual(
        seen.filter((e) => e._tag === "Rejected").map((e) => e._tag === "Rejected" && [e.reason, e.enforced]),
        [["CircuitOpen", false], ["CircuitOpen", false], ["CircuitOpen", false]]
      )
      assert.deepStrictEqual(
        seen.filter((e) => e._tag === "Transition").map((e) => e._tag === "Transition" && e.transition.reason),
        ["Tripped"]
      )
      // the would-be probing goes on: after the break a successful probe closes it
      yield* TestClock.adjust("10 seconds")
      yield* breaker(ok)
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
      // enforcing again: the same circuit now rejects when it opens
      yield* Effect.exit(breaker(fail))
      yield* Effect.exit(breaker(fail))
      yield* breaker.setMode("Enforcing")
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
    }))

  it.scoped("the mode is per breaker, all its keys, shared through the store by breakers of the same name; an effect built before a switch sees it", () =>
    Effect.gen(function*() {
      const store = yield* memoryStore({})
      const name = `issue16-shared-${++names}`
      const options = { name, tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" } as const
      const a = yield* CircuitBreaker.make(options).pipe(withStore(store))
      const b = yield* CircuitBreaker.make(options).pipe(withStore(store))
      const call = b.execute(ok, { key: "tenant" }) // built now, run after the switch
      yield* Effect.exit(a.execute(fail, { key: "tenant" }))
      assert.strictEqual(yield* decisionOf(call), "CircuitOpen")
      yield* a.setMode("Disabled")
      assert.strictEqual((yield* b.state("tenant")).mode, "Disabled")
      assert.strictEqual(yield* decisionOf(call), "admitted")
      // a breaker of that name made later starts in the namespace's mode
      const c = yield* CircuitBreaker.make(options).pipe(withStore(store))
      assert.strictEqual((yield* c.state()).mode, "Disabled")
      const invalid = yield* Effect.flip(a.setMode("Off" as CircuitBreaker.Mode))
      assert.strictEqual(invalid._tag, "InvalidOptionsError")
    }))

  it.scoped("health: Disabled is degraded; MetricsOnly never unhealthy, degraded while a circuit would be open", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({ openDuration: "1 hour" })
      const check = Health.fromCircuitBreaker(breaker, { whenOpen: "unhealthy" }).check as Effect.Effect<Health.Outcome, unknown>
      yield* breaker.setMode("MetricsOnly")
      assert.deepStrictEqual(yield* Effect.map(check, (o) => [o.status, o.message]), ["healthy", "metrics only: nothing is rejected"])
      yield* Effect.exit(breaker(fail))
      const wouldOpen = yield* check
      assert.deepStrictEqual([wouldOpen.status, wouldOpen.message?.startsWith("metrics only: circuit would be open")], ["degraded", true])
      yield* breaker.setMode("Disabled")
      assert.strictEqual((yield* check).status, "degraded")
      yield* breaker.setMode("Enforcing")
      assert.strictEqual((yield* check).status, "unhealthy")
    }))
})
