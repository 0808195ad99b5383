import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Config,
  ConfigProvider,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Equal,
  Exit,
  Fiber,
  Layer,
  Metric,
  Option,
  Queue,
  Ref,
  Schedule,
  Stream,
  TestClock
} from "effect"
import { CircuitBreaker, Errors, Policy, Retry } from "effect-resilience"
import { ok, tagOf } from "./utils/breaker.js"

class Boom extends Data.TaggedError("Boom")<{}> {}
class NotFound extends Data.TaggedError("NotFound")<{}> {}
class TooMany extends Data.TaggedError("TooMany")<{ readonly retryAfter: Duration.Duration }> {}

const fail = Effect.fail(new Boom())

const failTimes = (breaker: CircuitBreaker.CircuitBreaker, n: number, key?: string) =>
  Effect.forEach(
    Array.from({ length: n }),
    () => Effect.exit(key === undefined ? breaker(fail) : breaker.execute(fail, { key })),
    { discard: true }
  )

const rejectionOf = <A, E>(effect: Effect.Effect<A, E | CircuitBreaker.CircuitBreakerError>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) return "admitted"
    const error = Cause.failureOption(exit.cause)
    if (Option.isSome(error) && (error.value as any)?._tag === "CircuitBreakerError") {
      return (error.value as CircuitBreaker.CircuitBreakerError).reason._tag
    }
    return "admitted"
  })

/** A call that runs until its gate is opened with an Exit; `started` resolves when it begins. */
const gated = <A = string, E = Boom>() =>
  Effect.gen(function*() {
    const gate = yield* Deferred.make<A, E>()
    const started = yield* Deferred.make<void>()
    const call = Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate))
    return { gate, started, call }
  })

/** The value of a counter or gauge in the global registry, found by name and exact labels. */
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

/** Lets a forked stream consumer subscribe before events are emitted. */
const subscribed = Effect.repeatN(Effect.yieldNow(), 20)

const transitionsOf = (m: CircuitBreaker.Metrics) => m.transitions.map((t) => `${t.from}->${t.to}`)

describe("CircuitBreaker: consecutive", () => {
  it.scoped("opens after n failures in a row, rejects while open, probes after openDuration, closes on success", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(3), openDuration: "10 seconds" })
      yield* failTimes(breaker, 2)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      yield* failTimes(breaker, 1)
      const open = yield* breaker.state()
      assert.strictEqual(open._tag, "Open")
      const rejected = yield* Effect.flip(breaker(ok))
      assert.strictEqual(rejected._tag, "CircuitBreakerError")
      assert.strictEqual(rejected.reason._tag, "CircuitOpen")
      assert.isTrue(Errors.isRejection(rejected))
      assert.isTrue(Errors.isResilienceError(rejected))
      assert.deepStrictEqual(rejected.retryAfter, Duration.seconds(10))
      assert.include(rejected.message, "is open: retry after 10s")
      yield* TestClock.adjust("4 seconds")
      const later = yield* Effect.flip(breaker(ok))
      assert.deepStrictEqual(later.retryAfter, Duration.seconds(6))
      yield* TestClock.adjust("6 seconds")
      assert.strictEqual(yield* breaker(ok), "ok")
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      const m = yield* breaker.metrics()
      assert.deepStrictEqual(transitionsOf(m), ["Closed->Open", "Open->HalfOpen", "HalfOpen->Closed"])
      assert.strictEqual(m.failures, 3)
      assert.strictEqual(m.rejections, 2)
      assert.strictEqual(m.successes, 1)
      assert.strictEqual(m.store, "memory")
    }))

  it.scoped("a success resets the count of failures in a row", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(3), openDuration: "1 second" })
      for (let i = 0; i < 5; i++) {
        yield* failTimes(breaker, 2)
        yield* breaker(ok)
      }
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      assert.strictEqual((yield* breaker.metrics()).consecutiveFailures, 0)
    }))

  it.scoped("a probe failure reopens the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("1 second")
      yield* failTimes(breaker, 1)
      const state = yield* breaker.state()
      assert.strictEqual(state._tag, "Open")
      const m = yield* breaker.metrics()
      assert.deepStrictEqual(transitionsOf(m), ["Closed->Open", "Open->HalfOpen", "HalfOpen->Open"])
      assert.deepStrictEqual(m.transitions.map((t) => t.reason), ["Tripped", "OpenElapsed", "ProbeFailed"])
    }))
})

describe("CircuitBreaker: rate (last N calls)", () => {
  it.scoped("opens when the failure rate over the last `size` calls reaches the threshold", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 4 }),
        openDuration: "1 second"
      })
      // S F S F: 2 of 4 = 0.5
      yield* breaker(ok)
      yield* failTimes(breaker, 1)
      yield* breaker(ok)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      yield* failTimes(breaker, 1)
      assert.strictEqual(yield* tagOf(breaker), "Open")
    }))

  it.scoped("old calls leave the window", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 0.75, size: 4 }),
        openDuration: "1 second"
      })
      // F F S S S S F F: the first two failures have left the window when the last two arrive
      yield* failTimes(breaker, 2)
      for (let i = 0; i < 4; i++) yield* breaker(ok)
      yield* failTimes(breaker, 2)
      const m = yield* breaker.metrics()
      assert.strictEqual(m.state._tag, "Closed")
      assert.strictEqual(m.windowCalls, 4)
      assert.strictEqual(m.failureRate, 0.5)
    }))

  it.scoped("small samples never trip: below minimumCalls the rate is not evaluated", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 10, minimumCalls: 5 }),
        openDuration: "1 second"
      })
      yield* failTimes(breaker, 4) // 100% failures, but only 4 calls
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      yield* failTimes(breaker, 1)
      assert.strictEqual(yield* tagOf(breaker), "Open")
    }))

  it.scoped("a success can trip it too once minimumCalls is reached (resilience4j evaluates after every call)", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 4, minimumCalls: 4 }),
        openDuration: "1 second"
      })
      yield* failTimes(breaker, 2)
      yield* breaker(ok)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      yield* breaker(ok) // 4th call: 2/4 failed
      assert.strictEqual(yield* tagOf(breaker), "Open")
    }))

  it.scoped("minimumCalls defaults to size", () =>
    Effect.gen(function*() {
      const policy = CircuitBreaker.rate({ threshold: 0.1, size: 20 })
      assert.strictEqual(policy.minimumCalls, 20)
      const breaker = yield* CircuitBreaker.make({ tripPolicy: policy, openDuration: "1 second" })
      yield* failTimes(breaker, 19)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      yield* failTimes(breaker, 1)
      assert.strictEqual(yield* tagOf(breaker), "Open")
    }))
})

describe("CircuitBreaker: timeRate (sliding time window)", () => {
  it.scoped("counts only the calls of the last window, advancing one bucket at a time", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.timeRate({ threshold: 0.5, window: "10 seconds", buckets: 10, minimumCalls: 4 }),
        openDuration: "1 second"
      })
      yield* failTimes(breaker, 3) // t=0
      yield* TestClock.adjust("10 seconds") // the three failures leave the window
      yield* failTimes(breaker, 1)
      let m = yield* breaker.metrics()
      assert.strictEqual(m.windowCalls, 1)
      assert.strictEqual(m.state._tag, "Closed")
      yield* TestClock.adjust("5 seconds")
      yield* breaker(ok)
      yield* breaker(ok)
      yield* failTimes(breaker, 1) // 2 failures of 4 within 10 s
      m = yield* breaker.metrics()
      assert.strictEqual(m.state._tag, "Open")
    }))

  it.scoped("below minimumCalls in the window it never trips; defaults: 10 buckets, minimumCalls 100", () =>
    Effect.gen(function*() {
      const policy = CircuitBreaker.timeRate({ threshold: 0.5, window: "1 minute" })
      assert.strictEqual(policy.buckets, 10)
      assert.strictEqual(policy.minimumCalls, 100)
      const breaker = yield* CircuitBreaker.make({ tripPolicy: policy, openDuration: "1 second" })
      yield* failTimes(breaker, 99)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      yield* failTimes(breaker, 1)
      assert.strictEqual(yield* tagOf(breaker), "Open")
    }))

  it.scoped("partial bucket expiry: calls older than the window drop out bucket by bucket", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.timeRate({ threshold: 1, window: "4 seconds", buckets: 4, minimumCalls: 1000 }),
        openDuration: "1 second"
      })
      for (let i = 0; i < 4; i++) {
        yield* breaker(ok)
        yield* TestClock.adjust("1 second")
      }
      // calls at t=0,1,2,3; now t=4: the bucket of t=0 has left
      assert.strictEqual((yield* breaker.metrics()).windowCalls, 3)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* breaker.metrics()).windowCalls, 1)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual((yield* breaker.metrics()).windowCalls, 0)
    }))
})

describe("CircuitBreaker: slowCall", () => {
  it.scoped("calls slower than duration count as slow; the slow-call rate trips the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 1, size: 4 }),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 0.5 }
      })
      const slow = Effect.sleep("2 seconds").pipe(Effect.as("slow"))
      yield* breaker(ok)
      yield* breaker(ok)
      const f1 = yield* Effect.fork(breaker(slow))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* Fiber.join(f1), "slow")
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      const f2 = yield* Effect.fork(breaker(slow))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(f2)
      const m = yield* breaker.metrics()
      assert.strictEqual(m.state._tag, "Open")
      assert.strictEqual(m.slowCalls, 2)
      assert.strictEqual(m.successes, 4)
    }))

  it.scoped("a call of exactly `duration` is not slow; slow failures count as slow too", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 1, size: 10 }),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 1 }
      })
      const f1 = yield* Effect.fork(breaker(Effect.sleep("1 second")))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(f1)
      const f2 = yield* Effect.fork(Effect.exit(breaker(Effect.zipRight(Effect.sleep("3 seconds"), fail))))
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(f2)
      const m = yield* breaker.metrics()
      assert.strictEqual(m.slowCalls, 1)
      assert.strictEqual(m.slowCallRate, 0.5)
    }))

  it.scoped("with consecutive(n) the slow-call rate is measured over the last n calls", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(2),
        openDuration: "1 second",
        slowCall: { duration: "100 millis", threshold: 1 }
      })
      for (let i = 0; i < 2; i++) {
        const f = yield* Effect.fork(breaker(Effect.sleep("1 second")))
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(f)
      }
      assert.strictEqual(yield* tagOf(breaker), "Open")
    }))

  it.scoped("a slow probe counts as a failed probe", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        slowCall: { duration: "100 millis", threshold: 1 }
      })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("1 second")
      const f = yield* Effect.fork(breaker(Effect.sleep("1 second")))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(f)
      assert.strictEqual(yield* tagOf(breaker), "Open")
    }))
})

describe("CircuitBreaker: openDuration", () => {
  it.scoped("a Schedule grows the break across consecutive openings, capped by maxOpenDuration", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: Schedule.exponential("1 second"),
        maxOpenDuration: "5 seconds"
      })
      const breaks: Array<number> = []
      for (let i = 0; i < 5; i++) {
        yield* failTimes(breaker, 1) // trips (or fails the probe)
        const state = yield* breaker.state()
        assert.strictEqual(state._tag, "Open")
        if (state._tag === "Open") {
          breaks.push(Duration.toMillis(state.retryAfter))
          assert.strictEqual(state.openings, i + 1)
        }
        yield* TestClock.adjust(Duration.millis(breaks[i]!))
      }
      assert.deepStrictEqual(breaks, [1000, 2000, 4000, 5000, 5000])
    }))

  it.scoped("the openings count survives a short closed period and starts over after openDurationResetAfter", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: Schedule.exponential("1 second"),
        maxOpenDuration: "1 minute",
        openDurationResetAfter: "30 seconds"
      })
      const nextBreak = Effect.gen(function*() {
        yield* failTimes(breaker, 1)
        const state = yield* breaker.state()
        assert.strictEqual(state._tag, "Open")
        const ms = state._tag === "Open" ? Duration.toMillis(state.retryAfter) : -1
        yield* TestClock.adjust(Duration.millis(ms))
        yield* breaker(ok) // probe succeeds: closed
        return ms
      })
      assert.strictEqual(yield* nextBreak, 1000)
      yield* TestClock.adjust("10 seconds") // flapping: fails again soon after closing
      assert.strictEqual(yield* nextBreak, 2000)
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual(yield* nextBreak, 4000)
      assert.strictEqual(((yield* breaker.state()) as CircuitBreaker.State.Closed).openings, 3)
      yield* TestClock.adjust("30 seconds") // stayed closed long enough
      assert.strictEqual(((yield* breaker.state()) as CircuitBreaker.State.Closed).openings, 0)
      assert.strictEqual(yield* nextBreak, 1000)
    }))

  it.scoped("a fixed duration stays fixed; a finite Schedule repeats its last break", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: Schedule.spaced("2 seconds").pipe(Schedule.intersect(Schedule.recurs(1)))
      })
      const desc = Policy.describe(breaker)
      assert.deepStrictEqual(desc.options.openDurations, [2000])
      for (let i = 0; i < 3; i++) {
        yield* failTimes(breaker, 1)
        const s = yield* breaker.state()
        assert.strictEqual(s._tag === "Open" && Duration.toMillis(s.retryAfter), 2000)
        yield* TestClock.adjust("2 seconds")
      }
    }))

  it.scoped("failure({ retryAfter }) lengthens the break to at least retryAfter, capped by maxOpenDuration", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        maxOpenDuration: "20 seconds"
      })
      // the default classifier reads the error's retryAfter
      yield* Effect.exit(breaker(Effect.fail(new TooMany({ retryAfter: Duration.seconds(7) }))))
      let s = yield* breaker.state()
      assert.strictEqual(s._tag === "Open" && Duration.toMillis(s.retryAfter), 7000)
      yield* breaker.reset()
      yield* Effect.exit(breaker(Effect.fail(new TooMany({ retryAfter: Duration.minutes(5) }))))
      s = yield* breaker.state()
      assert.strictEqual(s._tag === "Open" && Duration.toMillis(s.retryAfter), 20000)
    }))
})

describe("CircuitBreaker: half-open", () => {
  it.scoped("no stampede: callers beyond `probes` fail fast with CircuitHalfOpen, never queue", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probes: 2, successThreshold: 2 }
      })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("1 second")
      const calls = yield* Effect.forEach(Array.from({ length: 10 }), () => gated<string, Boom>())
      const fibers = yield* Effect.forEach(calls, (c) => Effect.fork(rejectionOf(breaker(c.call))))
      yield* Effect.yieldNow()
      const state = yield* breaker.state()
      assert.strictEqual(state._tag === "HalfOpen" && state.probes, 2)
      // eight callers were rejected at once, without waiting
      const rejected = yield* Effect.forEach(fibers.slice(2), Fiber.join)
      assert.deepStrictEqual(rejected, Array(8).fill("CircuitHalfOpen"))
      const first = yield* Effect.flip(breaker(ok))
      assert.include(first.message, "half-open")
      // probes complete: 2 successes close it
      yield* Deferred.succeed(calls[0]!.gate, "a")
      yield* Deferred.succeed(calls[1]!.gate, "b")
      assert.deepStrictEqual(yield* Effect.forEach(fibers.slice(0, 2), Fiber.join), ["admitted", "admitted"])
      assert.strictEqual(yield* tagOf(breaker), "Closed")
    }))

  it.scoped("successThreshold: the circuit closes after that many successful probes, one slot at a time", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probes: 1, successThreshold: 3 }
      })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("1 second")
      yield* breaker(ok)
      yield* breaker(ok)
      const s = yield* breaker.state()
      assert.strictEqual(s._tag === "HalfOpen" && s.successes, 2)
      yield* breaker(ok)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
    }))

  it.scoped("stuck half-open: an interrupted probe frees its slot at once", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("1 second")
      const probe = yield* gated()
      const fiber = yield* Effect.fork(breaker(probe.call))
      yield* Deferred.await(probe.started)
      assert.strictEqual(yield* rejectionOf(breaker(ok)), "CircuitHalfOpen")
      yield* Fiber.interrupt(fiber)
      const s = yield* breaker.state()
      assert.strictEqual(s._tag === "HalfOpen" && s.probes, 0)
      // the interruption was not a failure: the next probe succeeds and closes
      assert.strictEqual(yield* breaker(ok), "ok")
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      assert.strictEqual((yield* breaker.metrics()).failures, 1)
    }))

  it.scoped("issue 16 §3: a hung probe is a failed probe at probeTimeout: reopened from its lease's end, no new probe before the next break; its late result is fenced", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probeTimeout: "5 seconds" }
      })
      const transitions = yield* Queue.unbounded<CircuitBreaker.Transition>()
      yield* breaker.transitions.pipe(Stream.runForEach((t) => Queue.offer(transitions, t)), Effect.forkScoped)
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("1 second")
      const hung = yield* gated()
      const fiber = yield* Effect.fork(Effect.exit(breaker(hung.call)))
      yield* Deferred.await(hung.started)
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual(yield* rejectionOf(breaker(ok)), "CircuitHalfOpen")
      yield* TestClock.adjust("1 millis")
      // 6 s: the lease ended with the probe still running: reopened then, for the next break (1 s, until 7 s)
      const s = yield* breaker.state()
      assert.deepStrictEqual(s._tag === "Open" && [s.since, s.until, s.openings], [6000, 7000, 2])
      const rejected = yield* Effect.flip(breaker(ok))
      assert.strictEqual(rejected.reason._tag, "CircuitOpen")
      assert.deepStrictEqual(rejected.retryAfter, Duration.seconds(1))
      // the hung probe finally fails: fenced, it cannot move the circuit again
      yield* Deferred.fail(hung.gate, new Boom())
      yield* Fiber.join(fiber)
      assert.strictEqual(yield* tagOf(breaker), "Open")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* breaker(ok), "ok")
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      const m = yield* breaker.metrics()
      assert.strictEqual(m.fenced, 1)
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      const published = Chunk.toReadonlyArray(yield* Queue.takeAll(transitions)).map((t) => [t.from, t.to, t.at, t.reason])
      assert.deepStrictEqual(published, [
        ["Closed", "Open", 0, "Tripped"],
        ["Open", "HalfOpen", 1000, "OpenElapsed"],
        ["HalfOpen", "Open", 6000, "ProbeTimedOut"],
        ["Open", "HalfOpen", 7000, "OpenElapsed"],
        ["HalfOpen", "Closed", 7000, "ProbesSucceeded"]
      ])
    }))

  it.scoped("probeTimeout defaults to 1 minute", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("1 second")
      const hung = yield* gated()
      yield* Effect.fork(breaker(hung.call))
      yield* Deferred.await(hung.started)
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual(yield* rejectionOf(breaker(ok)), "CircuitHalfOpen")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* rejectionOf(breaker(ok)), "CircuitOpen")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* rejectionOf(breaker(ok)), "admitted")
    }))

  it.scoped("an ignored probe frees its slot without moving the state", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        classify: CircuitBreaker.ignoreTags("NotFound")
      })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("1 second")
      yield* Effect.exit(breaker(Effect.fail(new NotFound())))
      const s = yield* breaker.state()
      assert.strictEqual(s._tag === "HalfOpen" && s.probes, 0)
    }))
})

describe("CircuitBreaker: state from the Clock", () => {
  it.scoped("state() reports the move to half-open when the break ends, without a call", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "3 seconds" })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("2999 millis")
      const open = yield* breaker.state()
      assert.strictEqual(open._tag, "Open")
      assert.deepStrictEqual(open._tag === "Open" && open.retryAfter, Duration.millis(1))
      yield* TestClock.adjust("1 millis")
      const half = yield* breaker.state()
      assert.strictEqual(half._tag, "HalfOpen")
      assert.strictEqual(half.since, 3000)
    }))

  it.scoped("transitions (a Stream) publishes every move of every key, with the time it happened", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      const collected = yield* breaker.transitions.pipe(Stream.take(5), Stream.runCollect, Effect.fork)
      yield* subscribed
      yield* failTimes(breaker, 1, "a")
      yield* TestClock.adjust("5 seconds")
      yield* breaker.execute(ok, { key: "a" }) // half-open observed at t=5s, stamped 1s; closes
      yield* breaker.isolate("b")
      yield* breaker.reset("b")
      const ts = Chunk.toReadonlyArray(yield* Fiber.join(collected))
      assert.deepStrictEqual(
        ts.map((t) => [t.key, t.from, t.to, t.at]),
        [
          ["a", "Closed", "Open", 0],
          ["a", "Open", "HalfOpen", 1000],
          ["a", "HalfOpen", "Closed", 5000],
          ["b", "Closed", "Isolated", 5000],
          ["b", "Isolated", "Closed", 5000]
        ]
      )
      // generations increase with every transition
      for (let i = 1; i < 3; i++) assert.isTrue(ts[i]!.generation > ts[i - 1]!.generation)
    }))

  it.scoped("events publish failures, slow calls, transitions and rejections", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: "events",
        tripPolicy: CircuitBreaker.consecutive(2),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 1 }
      })
      const collected = yield* breaker.events.pipe(Stream.take(5), Stream.runCollect, Effect.fork)
      yield* subscribed
      const slow = yield* Effect.fork(Effect.exit(breaker(Effect.zipRight(Effect.sleep("2 seconds"), fail))))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(slow)
      yield* failTimes(breaker, 1)
      yield* Effect.exit(breaker(ok))
      const events = Chunk.toReadonlyArray(yield* Fiber.join(collected))
      assert.deepStrictEqual(events.map((e) => e._tag), ["Failure", "SlowCall", "Failure", "Transition", "Rejected"])
      const first = events[0]!
      assert.isTrue(first._tag === "Failure" && first.slow && !first.probe)
      const rejected = events[4]!
      assert.strictEqual(rejected._tag === "Rejected" && rejected.reason, "CircuitOpen")
      assert.strictEqual(rejected.breaker, "events")
    }))

  it.scoped("events publish fenced (late) results", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      const late = yield* gated()
      const fiber = yield* Effect.fork(breaker(late.call))
      yield* Deferred.await(late.started)
      yield* failTimes(breaker, 1)
      const collected = yield* breaker.events.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* subscribed
      yield* Deferred.succeed(late.gate, "late")
      yield* Fiber.join(fiber)
      const [event] = Chunk.toReadonlyArray(yield* Fiber.join(collected))
      assert.deepStrictEqual(event, { _tag: "Fenced", breaker: "circuit-breaker", key: "default", outcome: "success" })
    }))
})

describe("CircuitBreaker: what counts (classify)", () => {
  it.scoped("interruptions are never counted as failures", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      for (let i = 0; i < 5; i++) {
        const call = yield* gated()
        const fiber = yield* Effect.fork(breaker(call.call))
        yield* Deferred.await(call.started)
        yield* Fiber.interrupt(fiber)
      }
      // an interruption inside the call (e.g. an inner timeout's child), not of the caller
      yield* Effect.exit(breaker(Effect.interrupt))
      const m = yield* breaker.metrics()
      assert.strictEqual(m.state._tag, "Closed")
      assert.strictEqual(m.failures, 0)
    }))

  it.scoped("the library's own rejections (an inner bulkhead, another open circuit) are ignored before classify", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make(0)
      const outer = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        classify: (exit) => Effect.as(Ref.update(seen, (n) => n + 1), CircuitBreaker.defaultClassify(exit))
      })
      const inner = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      yield* inner.isolate()
      const full = Errors.BulkheadFullError.make({ name: "db", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" })
      for (let i = 0; i < 3; i++) {
        yield* Effect.exit(outer(inner(ok)))
        yield* Effect.exit(outer(Effect.fail(full)))
      }
      const m = yield* outer.metrics()
      assert.strictEqual(m.state._tag, "Closed")
      assert.strictEqual(m.failures, 0)
      assert.strictEqual(m.ignored, 6)
      assert.strictEqual(yield* Ref.get(seen), 0)
    }))

  it.scoped("defects count as failures by default; onlyDefects counts nothing else", () =>
    Effect.gen(function*() {
      const a = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      yield* Effect.exit(a(Effect.die("bug")))
      assert.strictEqual(yield* tagOf(a), "Open")
      const b = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        classify: CircuitBreaker.onlyDefects
      })
      yield* failTimes(b, 3)
      assert.strictEqual((yield* b.metrics()).successes, 3)
      yield* Effect.exit(b(Effect.die("bug")))
      assert.strictEqual(yield* tagOf(b), "Open")
    }))

  it.scoped("ignoreTags, countTags, classifyError, classifyCause", () =>
    Effect.gen(function*() {
      const make = (classify: CircuitBreaker.Classifier<unknown, any>) =>
        CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 second", classify })
      const ignoring = yield* make(CircuitBreaker.ignoreTags("NotFound"))
      yield* Effect.exit(ignoring(Effect.fail(new NotFound())))
      yield* Effect.exit(ignoring(Effect.fail(new NotFound())))
      assert.strictEqual((yield* ignoring.metrics()).ignored, 2)
      assert.strictEqual(yield* tagOf(ignoring), "Closed")

      const counting = yield* make(CircuitBreaker.countTags("Boom"))
      yield* Effect.exit(counting(Effect.fail(new NotFound())))
      yield* Effect.exit(counting(Effect.fail(new NotFound())))
      assert.strictEqual(yield* tagOf(counting), "Closed")
      yield* failTimes(counting, 2)
      assert.strictEqual(yield* tagOf(counting), "Open")

      const byError = yield* make(
        CircuitBreaker.classifyError((e: { readonly status: number }) =>
          e.status >= 500 ? CircuitBreaker.Outcome.failure() : CircuitBreaker.Outcome.success
        )
      )
      yield* Effect.exit(byError(Effect.fail({ status: 404 })))
      yield* Effect.exit(byError(Effect.fail({ status: 404 })))
      assert.strictEqual(yield* tagOf(byError), "Closed")
      yield* Effect.exit(byError(Effect.fail({ status: 503 })))
      yield* Effect.exit(byError(Effect.fail({ status: 503 })))
      assert.strictEqual(yield* tagOf(byError), "Open")

      const byCause = yield* make(
        CircuitBreaker.classifyCause((cause) =>
          Cause.isDie(cause) ? CircuitBreaker.Outcome.ignored : CircuitBreaker.Outcome.failure()
        )
      )
      yield* Effect.exit(byCause(Effect.die("x")))
      yield* Effect.exit(byCause(Effect.die("x")))
      assert.strictEqual(yield* tagOf(byCause), "Closed")
    }))

  it.scoped("classify sees successes too (a 503 returned as a value can count as a failure), sync or effectful", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 second" })
      const response = Effect.succeed({ status: 503 })
      const classify = (exit: Exit.Exit<{ readonly status: number }, never>) =>
        Exit.isSuccess(exit) && exit.value.status >= 500
          ? Effect.succeed(CircuitBreaker.Outcome.failure())
          : CircuitBreaker.Outcome.success
      const r = yield* breaker.execute(response, { key: "k", classify })
      assert.strictEqual(r.status, 503)
      yield* response.pipe(breaker.execute({ key: "k", classify }))
      assert.strictEqual(yield* tagOf(breaker, "k"), "Open")
      // the per-call classifier applied to key "k" only
      assert.strictEqual(yield* tagOf(breaker), "Closed")
    }))

  it.scoped("a classifier that throws or dies falls back to the default", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        classify: () => {
          throw new Error("classifier bug")
        }
      })
      assert.strictEqual(yield* breaker(ok), "ok")
      yield* failTimes(breaker, 1)
      assert.strictEqual(yield* tagOf(breaker), "Open")
    }))
})

describe("CircuitBreaker: late results are fenced", () => {
  it.scoped("a call admitted before the circuit opened cannot extend the break", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "10 seconds" })
      const late = yield* gated()
      const fiber = yield* Effect.fork(Effect.exit(breaker(late.call)))
      yield* Deferred.await(late.started)
      yield* failTimes(breaker, 1) // opens at t=0 until t=10
      yield* TestClock.adjust("5 seconds")
      yield* Deferred.fail(late.gate, new Boom())
      yield* Fiber.join(fiber)
      const s = yield* breaker.state()
      assert.strictEqual(s._tag === "Open" && s.until, 10_000)
      assert.strictEqual((yield* breaker.metrics()).fenced, 1)
      assert.strictEqual((yield* breaker.metrics()).failures, 2)
    }))

  it.scoped("a late failure from an old closed period cannot reopen a recovered circuit; a late success cannot close it", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      const lateFailure = yield* gated()
      const f1 = yield* Effect.fork(Effect.exit(breaker(lateFailure.call)))
      yield* Deferred.await(lateFailure.started)
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("1 second")
      yield* breaker(ok) // recovered: closed again
      yield* Deferred.fail(lateFailure.gate, new Boom())
      yield* Fiber.join(f1)
      assert.strictEqual(yield* tagOf(breaker), "Closed")

      const lateSuccess = yield* gated()
      const f2 = yield* Effect.fork(breaker(lateSuccess.call))
      yield* Deferred.await(lateSuccess.started)
      yield* failTimes(breaker, 1)
      yield* Deferred.succeed(lateSuccess.gate, "late")
      yield* Fiber.join(f2)
      assert.strictEqual(yield* tagOf(breaker), "Open")
    }))
})

describe("CircuitBreaker: manual control", () => {
  it.scoped("isolate forces the circuit open until reset; the rejection says so", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "api", tripPolicy: CircuitBreaker.consecutive(5), openDuration: "1 second" })
      yield* breaker.isolate()
      assert.strictEqual(yield* tagOf(breaker), "Isolated")
      yield* TestClock.adjust("1 day")
      const e = yield* Effect.flip(breaker(ok))
      assert.strictEqual(e.reason._tag, "CircuitOpen")
      assert.isTrue(e.reason._tag === "CircuitOpen" && e.reason.isolated)
      assert.isUndefined(e.retryAfter)
      assert.strictEqual(e.message, "Circuit api is isolated: calls are rejected until it is reset")
      yield* breaker.reset()
      assert.strictEqual(yield* breaker(ok), "ok")
    }))

  it.scoped("reset closes an open circuit, empties its window and starts the open durations over", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(2),
        openDuration: Schedule.exponential("1 second"),
        maxOpenDuration: "1 minute"
      })
      yield* failTimes(breaker, 2)
      yield* TestClock.adjust("1 second")
      yield* failTimes(breaker, 1) // probe fails: 2nd opening
      yield* breaker.reset()
      const s = yield* breaker.state()
      assert.strictEqual(s._tag === "Closed" && s.openings, 0)
      yield* failTimes(breaker, 1)
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      yield* failTimes(breaker, 1)
      const open = yield* breaker.state()
      assert.strictEqual(open._tag === "Open" && Duration.toMillis(open.retryAfter), 1000)
    }))

  it.scoped("isolate and reset work per key", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration: "1 second" })
      yield* breaker.isolate("a")
      assert.strictEqual(yield* rejectionOf(breaker.execute(ok, { key: "a" })), "CircuitOpen")
      assert.strictEqual(yield* rejectionOf(breaker.execute(ok, { key: "b" })), "admitted")
      assert.strictEqual(yield* rejectionOf(breaker(ok)), "admitted")
      yield* breaker.reset("a")
      assert.strictEqual(yield* rejectionOf(breaker.execute(ok, { key: "a" })), "admitted")
    }))
})

describe("CircuitBreaker: keys and namespaces", () => {
  it.scoped("one circuit per key; the callable's own circuit is none of them (not even the key \"default\")", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      yield* failTimes(breaker, 1, "host-a")
      assert.strictEqual(yield* tagOf(breaker, "host-a"), "Open")
      assert.strictEqual(yield* tagOf(breaker, "host-b"), "Closed")
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      const e = yield* Effect.flip(breaker.execute(ok, { key: "host-a" }))
      assert.strictEqual(e._tag, "CircuitBreakerError")
      assert.strictEqual((e as CircuitBreaker.CircuitBreakerError).key, "host-a")
      assert.include(e.message, "circuit-breaker[host-a]")
      // issue 17: a keyed call never shares the own circuit (it is reported as "default")
      yield* failTimes(breaker, 1, "default")
      assert.strictEqual(yield* tagOf(breaker, "default"), "Open")
      assert.strictEqual(yield* tagOf(breaker), "Closed")
      yield* failTimes(breaker, 1)
      assert.strictEqual(yield* tagOf(breaker), "Open")
      assert.strictEqual((yield* breaker.state()).key, "default")
    }))

  it.scoped("breakers sharing a store never collide: unnamed breakers get their own namespace; same name shares", () =>
    Effect.gen(function*() {
      const options = { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" } as const
      const a = yield* CircuitBreaker.make(options)
      const b = yield* CircuitBreaker.make(options)
      yield* failTimes(a, 1)
      assert.strictEqual(yield* tagOf(a), "Open")
      assert.strictEqual(yield* tagOf(b), "Closed")
      const c = yield* CircuitBreaker.make({ ...options, name: "shared" })
      const d = yield* CircuitBreaker.make({ ...options, name: "shared" })
      yield* failTimes(c, 1)
      assert.strictEqual(yield* tagOf(d), "Open")
    }))

  it.scoped("a store provided by layerStoreMemory is used instead of the default", () =>
    Effect.gen(function*() {
      const options = { name: "iso", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" } as const
      const a = yield* CircuitBreaker.make(options)
      const b = yield* CircuitBreaker.make(options).pipe(Effect.provide(CircuitBreaker.layerStoreMemory({ maxKeys: 10 })))
      yield* failTimes(a, 1)
      assert.strictEqual(yield* tagOf(a), "Open")
      assert.strictEqual(yield* tagOf(b), "Closed")
    }))
})

describe("CircuitBreaker: store errors", () => {
  const failingStore = (base: CircuitBreaker.CircuitBreakerStore, failing: Ref.Ref<boolean>): CircuitBreaker.CircuitBreakerStore => {
    const guard = <A>(operation: string, effect: Effect.Effect<A, CircuitBreaker.CircuitBreakerStoreError>) =>
      Effect.flatMap(Ref.get(failing), (f) =>
        f ? Effect.fail(new CircuitBreaker.CircuitBreakerStoreError({ operation, detail: "store down" })) : effect)
    return {
      kind: "flaky",
      register: base.register,
      admit: (ns, key, config, now) => guard("admit", base.admit(ns, key, config, now)),
      record: (ns, key, config, ticket, result, now) => guard("record", base.record(ns, key, config, ticket, result, now)),
      snapshot: (ns, key, config, now) => guard("snapshot", base.snapshot(ns, key, config, now)),
      isolate: (ns, key, config, now) => guard("isolate", base.isolate(ns, key, config, now)),
      reset: (ns, key, config, now) => guard("reset", base.reset(ns, key, config, now))
    }
  }

  it.scoped("onStoreError: \"allow\" (default) runs the call as if closed; \"fail\" rejects with CircuitBreakerStoreError", () =>
    Effect.gen(function*() {
      const failing = yield* Ref.make(true)
      const store = failingStore(yield* CircuitBreaker.makeStoreMemory(), failing)
      const options = { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" } as const
      const allow = yield* CircuitBreaker.make(options).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))
      const deny = yield* CircuitBreaker.make({ ...options, onStoreError: "fail" }).pipe(
        Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
      )
      assert.strictEqual(yield* allow(ok), "ok")
      yield* failTimes(allow, 3) // not recorded: the store is down
      const e = yield* Effect.flip(deny(ok))
      assert.strictEqual(e.reason._tag, "CircuitBreakerStoreError")
      assert.isFalse(Errors.isRejection(e))
      assert.include(e.message, "store down")
      const stateError = yield* Effect.flip(allow.state())
      assert.strictEqual(stateError.reason._tag, "CircuitBreakerStoreError")
      yield* Ref.set(failing, false)
      const m = yield* allow.metrics()
      assert.strictEqual(m.state._tag, "Closed")
      assert.strictEqual(m.store, "flaky")
      assert.strictEqual(m.totals.storeErrors, 5)
      assert.strictEqual(m.totals.failures, 3)
      // with the store back, the breaker works through the effectful store API
      yield* failTimes(allow, 1)
      assert.strictEqual(yield* tagOf(allow), "Open")
    }))

  it.scoped("a store failure while recording never changes the call's result", () =>
    Effect.gen(function*() {
      const failing = yield* Ref.make(false)
      const store = failingStore(yield* CircuitBreaker.makeStoreMemory(), failing)
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second", onStoreError: "fail" }).pipe(
        Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
      )
      const result = yield* breaker(Effect.zipRight(Ref.set(failing, true), ok))
      assert.strictEqual(result, "ok")
    }))
})

describe("CircuitBreaker: metrics", () => {
  it.scoped("metrics(key) counts per key; totals cover every key; Effect Metrics are published with bounded labels", () =>
    Effect.gen(function*() {
      const name = "metrics-test"
      const breaker = yield* CircuitBreaker.make({ name, tripPolicy: CircuitBreaker.rate({ threshold: 1, size: 4 }), openDuration: "1 second" })
      yield* breaker.execute(ok, { key: "a" })
      yield* breaker.execute(ok, { key: "b" })
      yield* failTimes(breaker, 4, "b")
      yield* Effect.exit(breaker.execute(ok, { key: "b" }))
      const a = yield* breaker.metrics("a")
      const b = yield* breaker.metrics("b")
      assert.strictEqual(a.successes, 1)
      assert.strictEqual(b.successes, 1)
      assert.strictEqual(b.failures, 4)
      assert.strictEqual(b.rejections, 1)
      assert.deepStrictEqual(transitionsOf(b), ["Closed->Open"])
      assert.deepStrictEqual(transitionsOf(a), [])
      assert.strictEqual(b.totals.successes, 2)
      assert.strictEqual(b.totals.failures, 4)
      const counter = (metric: string, labels: Record<string, string>) => readMetric(metric, labels)
      assert.strictEqual(yield* counter("resilience_circuit_breaker_calls", { policy: name, outcome: "success" }), 2)
      assert.strictEqual(yield* counter("resilience_circuit_breaker_calls", { policy: name, outcome: "failure" }), 4)
      assert.strictEqual(yield* counter("resilience_circuit_breaker_rejections", { policy: name, reason: "CircuitOpen" }), 1)
      assert.strictEqual(
        yield* counter("resilience_circuit_breaker_transitions", { policy: name, from: "Closed", to: "Open" }),
        1
      )
    }))

  it.scoped("success counts are published in batches, not per call", () =>
    Effect.gen(function*() {
      const name = "batched"
      const breaker = yield* CircuitBreaker.make({ name, tripPolicy: CircuitBreaker.consecutive(5), openDuration: "1 second" })
      const published = readMetric("resilience_circuit_breaker_calls", { policy: name, outcome: "success" })
      // consecutive without slow calls: successes read no time; a publisher loop publishes them within a second
      yield* Effect.yieldNow()
      const sleepsBefore = Chunk.size(yield* TestClock.sleeps()) // the store's sweeper
      yield* breaker(ok) // the first call makes the circuit (with the time) and publishes
      for (let i = 0; i < 10; i++) yield* breaker(ok)
      assert.strictEqual(yield* published, 1, "batched: nothing published per call")
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* published, 11, "published within a second")
      yield* breaker(ok)
      assert.strictEqual(yield* published, 11)
      for (let i = 0; i < 256; i++) yield* breaker(ok)
      assert.isAtLeast(yield* published, 256, "or every 256 calls")
      // idle: no timer runs while nothing is left to publish
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* published, 268)
      assert.strictEqual(Chunk.size(yield* TestClock.sleeps()), sleepsBefore)
    }))

  it.scoped("issue 15: a closed breaker without time-dependent accounting reads no time on its success path", () =>
    Effect.gen(function*() {
      let reads = 0
      const base = yield* Effect.clock
      const counting = new Proxy(base, {
        get(target, property) {
          const value = Reflect.get(target, property, target)
          if (property === "unsafeCurrentTimeNanos" || property === "unsafeCurrentTimeMillis") {
            return () => {
              reads++
              return (value as () => number | bigint).call(target)
            }
          }
          return typeof value === "function" ? value.bind(target) : value
        }
      })
      yield* Effect.gen(function*() {
        const consecutive = yield* CircuitBreaker.make({ name: "timeless", tripPolicy: CircuitBreaker.consecutive(3), openDuration: "1 second" })
        yield* consecutive(ok) // makes the circuit
        reads = 0
        for (let i = 0; i < 100; i++) yield* consecutive(ok)
        assert.strictEqual(reads, 0, "consecutive: no clock read")
        // a failure reads it (it may trip the circuit); successes after it still read none
        yield* Effect.exit(consecutive(fail))
        assert.isAbove(reads, 0)
        reads = 0
        for (let i = 0; i < 10; i++) yield* consecutive(ok)
        assert.strictEqual(reads, 0)
        const timed = yield* CircuitBreaker.make({
          name: "timed",
          tripPolicy: CircuitBreaker.consecutive(3),
          openDuration: "1 second",
          slowCall: { duration: "1 second", threshold: 1 }
        })
        yield* timed(ok)
        reads = 0
        yield* timed(ok)
        assert.isAbove(reads, 0, "slow-call accounting needs the time")
      }).pipe(Effect.withClock(counting))
    }))

  it.scoped("with a time-dependent trip policy (timeRate) the first call publishes, then at most once a second or every 256 calls", () =>
    Effect.gen(function*() {
      const name = "batched-timed"
      const breaker = yield* CircuitBreaker.make({
        name,
        tripPolicy: CircuitBreaker.timeRate({ threshold: 0.5, window: "10 seconds", minimumCalls: 5 }),
        openDuration: "1 second"
      })
      const published = readMetric("resilience_circuit_breaker_calls", { policy: name, outcome: "success" })
      yield* breaker(ok) // first call publishes (no publication yet)
      for (let i = 0; i < 10; i++) yield* breaker(ok)
      assert.strictEqual(yield* published, 1)
      yield* TestClock.adjust("1 second")
      yield* breaker(ok)
      assert.strictEqual(yield* published, 12)
      for (let i = 0; i < 256; i++) yield* breaker(ok)
      assert.isAtLeast(yield* published, 256)
    }))

  it.scoped("labelMetricsByKey adds a key label to failures, rejections and transitions (never to successes)", () =>
    Effect.gen(function*() {
      const name = "labelled"
      const breaker = yield* CircuitBreaker.make({
        name,
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        labelMetricsByKey: true
      })
      yield* breaker.execute(ok, { key: "tenant-1" })
      yield* failTimes(breaker, 1, "tenant-1")
      yield* Effect.exit(breaker.execute(ok, { key: "tenant-1" }))
      yield* breaker.metrics("tenant-1")
      assert.strictEqual(yield* readMetric("resilience_circuit_breaker_calls", { policy: name, outcome: "failure", key: "tenant-1" }), 1)
      assert.strictEqual(
        yield* readMetric("resilience_circuit_breaker_rejections", { policy: name, reason: "CircuitOpen", key: "tenant-1" }),
        1
      )
      assert.strictEqual(
        yield* readMetric("resilience_circuit_breaker_transitions", { policy: name, from: "Closed", to: "Open", key: "tenant-1" }),
        1
      )
      assert.strictEqual(yield* readMetric("resilience_circuit_breaker_calls", { policy: name, outcome: "success" }), 1)
      assert.strictEqual(yield* readMetric("resilience_circuit_breaker_calls", { policy: name, outcome: "failure" }), 0)
    }))

  it.scoped("the state gauge follows the breaker's own circuit", () =>
    Effect.gen(function*() {
      const name = "gauge-test"
      const breaker = yield* CircuitBreaker.make({ name, tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      const gauge = readMetric("resilience_circuit_breaker_state", { policy: name })
      assert.strictEqual(yield* gauge, 0)
      yield* failTimes(breaker, 1)
      assert.strictEqual(yield* gauge, 2)
      yield* breaker.isolate()
      assert.strictEqual(yield* gauge, 3)
    }))
})

describe("CircuitBreaker: options", () => {
  const invalid = (options: unknown) =>
    Effect.flip(CircuitBreaker.make(options as CircuitBreaker.CircuitBreaker.Options))

  it.effect("invalid options fail make with InvalidOptionsError naming the option and the range", () =>
    Effect.scoped(Effect.gen(function*() {
      const base = { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" }
      const cases: ReadonlyArray<[unknown, string, string]> = [
        [{ ...base, openDuration: "-1 seconds" }, "openDuration", "a finite duration > 0"],
        [{ ...base, tripPolicy: undefined }, "tripPolicy", "CircuitBreaker.consecutive(n)"],
        [{ ...base, openDuration: "10 seconds", maxOpenDuration: "1 second" }, "maxOpenDuration", ">= openDuration"],
        [{ ...base, halfOpen: { probes: 0 } }, "halfOpen.probes", "an integer >= 1"],
        [{ ...base, halfOpen: { successThreshold: 1.5 } }, "halfOpen.successThreshold", "an integer"],
        [{ ...base, halfOpen: { probeTimeout: 0 } }, "halfOpen.probeTimeout", "> 0"],
        [{ ...base, slowCall: { duration: "1 second", threshold: 0 } }, "slowCall.threshold", "> 0 and <= 1"],
        [{ ...base, slowCall: { duration: "x", threshold: 0.5 } }, "slowCall.duration", "duration"],
        [{ ...base, onStoreError: "ignore" }, "onStoreError", "\"allow\", \"fail\""],
        [{ ...base, name: "" }, "name", "a non-empty string"],
        [{ ...base, classify: 42 }, "classify", "a function"],
        [{ ...base, tripPolicy: { _tag: "Consecutive", failures: 0 } }, "failures", ">= 1"],
        [{ ...base, openDuration: Schedule.recurs(0) }, "openDuration", "a Schedule whose first delays are > 0"]
      ]
      for (const [options, option, expected] of cases) {
        const e = yield* invalid(options)
        assert.strictEqual(e._tag, "InvalidOptionsError")
        assert.strictEqual(e.option, option, JSON.stringify(options))
        assert.include(e.expected, expected)
        assert.include(e.message, option)
      }
    })))

  it("trip policy constructors throw InvalidOptionsError", () => {
    const check = (f: () => unknown, option: string) => {
      try {
        f()
        assert.fail("did not throw")
      } catch (e) {
        assert.instanceOf(e, Errors.InvalidOptionsError)
        assert.strictEqual((e as Errors.InvalidOptionsError).option, option)
      }
    }
    check(() => CircuitBreaker.consecutive(0), "failures")
    check(() => CircuitBreaker.consecutive(2.5), "failures")
    check(() => CircuitBreaker.rate({ threshold: 1.5, size: 10 }), "threshold")
    check(() => CircuitBreaker.rate({ threshold: 0.5, size: 0 }), "size")
    check(() => CircuitBreaker.rate({ threshold: 0.5, size: 10, minimumCalls: 11 }), "minimumCalls")
    check(() => CircuitBreaker.timeRate({ threshold: 0, window: "1 second" }), "threshold")
    check(() => CircuitBreaker.timeRate({ threshold: 0.5, window: "0 seconds" }), "window")
    check(() => CircuitBreaker.timeRate({ threshold: 0.5, window: "5 millis", buckets: 10 }), "window")
    check(() => CircuitBreaker.timeRate({ threshold: 0.5, window: "1 second", buckets: 0 }), "buckets")
    check(() => CircuitBreaker.Outcome.failure({ retryAfter: "-1 seconds" }), "retryAfter")
  })

  it.effect("layerStoreMemory validates its options", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Layer.build(CircuitBreaker.layerStoreMemory({ maxKeys: 0 })).pipe(Effect.scoped))
      assert.strictEqual(e.option, "maxKeys")
      const e2 = yield* Effect.flip(CircuitBreaker.makeStoreMemory({ idleTimeToLive: "nope" as Duration.DurationInput }))
      assert.strictEqual(e2.option, "idleTimeToLive")
    }))

  it.scoped("defaults: probes 1, successThreshold 1, probeTimeout 1 minute, maxOpenDuration 10 minutes (or a longer openDuration), onStoreError allow", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "3 seconds" })
      const d = Policy.describe(breaker)
      assert.strictEqual(d.kind, "CircuitBreaker")
      assert.strictEqual(d.name, "circuit-breaker")
      assert.deepStrictEqual(d.options.halfOpen, { probes: 1, successThreshold: 1, probeTimeout: 60_000, failureRateThreshold: undefined })
      assert.strictEqual(d.options.maxOpenDuration, 600_000)
      assert.strictEqual(d.options.openDurationResetAfter, 600_000)
      const long = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" })
      assert.strictEqual(Policy.describe(long).options.maxOpenDuration, 3_600_000)
      assert.strictEqual(d.options.onStoreError, "allow")
      const grows = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: Schedule.exponential("1 minute") })
      assert.strictEqual(Policy.describe(grows).options.maxOpenDuration, 600_000)
      assert.deepStrictEqual(Policy.describe(grows).options.openDurations, [60_000, 120_000, 240_000, 480_000, 600_000])
    }))
})

describe("CircuitBreaker: layers", () => {
  class PaymentsBreaker extends Context.Tag("test/PaymentsBreaker")<PaymentsBreaker, CircuitBreaker.CircuitBreaker>() {}

  it.effect("layer provides a breaker under the user's Tag; Policy.fromTag uses it", () =>
    Effect.gen(function*() {
      const policy = Policy.fromTag(PaymentsBreaker)
      const program = Effect.gen(function*() {
        for (let i = 0; i < 2; i++) yield* Effect.exit(fail.pipe(policy))
        const breaker = yield* PaymentsBreaker
        return yield* tagOf(breaker)
      })
      const state = yield* program.pipe(
        Effect.provide(CircuitBreaker.layer(PaymentsBreaker, { tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 second" }))
      )
      assert.strictEqual(state, "Open")
      const e = yield* Effect.flip(
        Layer.build(CircuitBreaker.layer(PaymentsBreaker, { tripPolicy: CircuitBreaker.consecutive(2), openDuration: "x" as Duration.DurationInput })).pipe(Effect.scoped)
      )
      assert.strictEqual(e._tag, "InvalidOptionsError")
    }))

  it.effect("layerConfig reads options from Config", () =>
    Effect.gen(function*() {
      const live = CircuitBreaker.layerConfig(PaymentsBreaker, {
        name: Config.string("CB_NAME"),
        tripPolicy: Config.literal("consecutive", "rate", "timeRate")("CB_POLICY"),
        failures: Config.integer("CB_FAILURES"),
        openDuration: Config.duration("CB_OPEN"),
        openDurationFactor: Config.number("CB_FACTOR"),
        maxOpenDuration: Config.duration("CB_MAX_OPEN")
      })
      const provider = ConfigProvider.fromMap(
        new Map([
          ["CB_NAME", "payments"],
          ["CB_POLICY", "consecutive"],
          ["CB_FAILURES", "2"],
          ["CB_OPEN", "2 seconds"],
          ["CB_FACTOR", "3"],
          ["CB_MAX_OPEN", "1 minute"]
        ])
      )
      const [name, openDurations] = yield* Effect.gen(function*() {
        const breaker = yield* PaymentsBreaker
        return [breaker.policyName, Policy.describe(breaker).options.openDurations] as const
      }).pipe(Effect.provide(live), Effect.withConfigProvider(provider))
      assert.strictEqual(name, "payments")
      assert.deepStrictEqual(openDurations, [2000, 6000, 18000, 54000, 60000])

      const bad = yield* Effect.flip(
        Layer.build(CircuitBreaker.layerConfig(PaymentsBreaker, { failures: Config.integer("CB_FAILURES") })).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["CB_FAILURES", "0"]])))
        )
      )
      assert.strictEqual(bad._tag, "InvalidOptionsError")
      const missing = yield* Effect.flip(
        Layer.build(CircuitBreaker.layerConfig(PaymentsBreaker, { failures: Config.integer("CB_FAILURES") })).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
        )
      )
      assert.isFalse(missing._tag === "InvalidOptionsError")
    }))

  it.scoped("fromConfig maps each policy kind", () =>
    Effect.gen(function*() {
      const rate = yield* CircuitBreaker.fromConfig(
        Config.succeed({ tripPolicy: "rate" as const, threshold: 0.2, size: 50, minimumCalls: 10 })
      )
      assert.deepStrictEqual(Policy.describe(rate).options.tripPolicy, { _tag: "Rate", threshold: 0.2, size: 50, minimumCalls: 10 })
      const time = yield* CircuitBreaker.fromConfig(
        Config.succeed({ tripPolicy: "timeRate" as const, window: "1 minute", slowCallDuration: "1 second" })
      )
      assert.strictEqual((Policy.describe(time).options.tripPolicy as CircuitBreaker.TripPolicy)._tag, "TimeRate")
      assert.deepStrictEqual(Policy.describe(time).options.slowCall, { duration: 1000, threshold: 1 })
      const e = yield* Effect.flip(CircuitBreaker.fromConfig(Config.succeed({ slowCallThreshold: 0.5 })))
      assert.strictEqual(e._tag, "InvalidOptionsError")
    }))
})

describe("CircuitBreaker: errors", () => {
  it.effect("a rejection built on the hot path is the same value as one built with new", () =>
    Effect.gen(function*() {
      const retryAfter = Duration.seconds(3)
      const reason = new CircuitBreaker.CircuitOpen({ retryAfter, isolated: false })
      const slow = new CircuitBreaker.CircuitBreakerError({ breaker: "b", key: "k", reason })
      const fast = (CircuitBreaker.CircuitBreakerError as any).make("b", "k", (CircuitBreaker.CircuitOpen as any).make(retryAfter, false))
      assert.isTrue(Equal.equals(fast.reason, reason))
      assert.isTrue(Equal.equals(fast, slow))
      assert.instanceOf(fast, CircuitBreaker.CircuitBreakerError)
      assert.instanceOf(fast, Error)
      assert.strictEqual(fast._tag, "CircuitBreakerError")
      assert.strictEqual(fast.name, "CircuitBreakerError")
      assert.strictEqual(fast.message, slow.message)
      assert.strictEqual(fast.message, "Circuit b[k] is open: retry after 3s")
      assert.strictEqual(fast.stack, "CircuitBreakerError: Circuit b[k] is open: retry after 3s")
      assert.isTrue(Errors.isRejection(fast) && Errors.isRejection(slow))
      assert.deepStrictEqual(Errors.retryAfterOf(fast), Option.some(retryAfter))
      assert.include(Cause.pretty(Cause.fail(fast)), "is open: retry after 3s")
      // yieldable, like any Data.TaggedError
      const exit = yield* Effect.exit(Effect.gen(function*() {
        return yield* fast
      }))
      assert.isTrue(Exit.isFailure(exit) && Equal.equals(Cause.failureOption(exit.cause), Option.some(slow)))
    }))

  it.effect("store errors are not rejections (Retry may retry them)", () =>
    Effect.sync(() => {
      const e = new CircuitBreaker.CircuitBreakerError({
        breaker: "b",
        key: "default",
        reason: new CircuitBreaker.CircuitBreakerStoreError({ operation: "admit", cause: new Error("ECONNREFUSED") })
      })
      assert.isFalse(Errors.isRejection(e))
      assert.isTrue(Errors.isResilienceError(e))
      assert.strictEqual(e.message, "Circuit b: Circuit breaker store failed on admit: ECONNREFUSED")
      assert.isTrue(Retry.isTransient(e) === false)
    }))
})

describe("CircuitBreaker: composition", () => {
  it.scoped("Retry never retries the breaker's rejections; composed outside, each attempt counts", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 minute" })
      const attempts = yield* Ref.make(0)
      const call = Effect.zipRight(Ref.update(attempts, (n) => n + 1), fail)
      const retry = Retry.policy({ schedule: Retry.constant("10 millis"), times: 5 })
      const fiber = yield* Effect.fork(Effect.exit(call.pipe(breaker, retry)))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
      // two attempts opened the circuit, the third was rejected and not retried
      assert.strictEqual(yield* Ref.get(attempts), 2)
      assert.strictEqual((yield* retry.stats()).gaveUp, 1)
    }))
})

describe("CircuitBreaker: types", () => {
  it.scoped("adds exactly CircuitBreakerError to the errors and nothing to the requirements", () =>
    Effect.gen(function*() {
      class Db extends Context.Tag("Db")<Db, { readonly query: Effect.Effect<number, Boom> }>() {}
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      const query = Effect.flatMap(Db, (db) => db.query)
      const guarded = query.pipe(breaker)
      expectTypeOf(guarded).toEqualTypeOf<Effect.Effect<number, Boom | CircuitBreaker.CircuitBreakerError, Db>>()
      // the keyed form may also refuse its key
      const keyed = breaker.execute(query, { key: "k" })
      expectTypeOf(keyed).toEqualTypeOf<
        Effect.Effect<number, Boom | CircuitBreaker.CircuitBreakerError | Errors.InvalidKeyError, Db>
      >()
      const piped = query.pipe(breaker.execute({ key: "k" }))
      expectTypeOf(piped).toEqualTypeOf<
        Effect.Effect<number, Boom | CircuitBreaker.CircuitBreakerError | Errors.InvalidKeyError, Db>
      >()
      expectTypeOf(breaker(Effect.succeed(1))).toEqualTypeOf<Effect.Effect<number, CircuitBreaker.CircuitBreakerError>>()
      expectTypeOf<Policy.Policy.Error<typeof breaker>>().toEqualTypeOf<CircuitBreaker.CircuitBreakerError>()
      expectTypeOf<Policy.Policy.Context<typeof breaker>>().toEqualTypeOf<never>()
      expectTypeOf(CircuitBreaker.make).returns.toEqualTypeOf<
        Effect.Effect<CircuitBreaker.CircuitBreaker, Errors.InvalidOptionsError, import("effect").Scope.Scope>
      >()
      assert.isTrue(CircuitBreaker.isCircuitBreaker(breaker))
      assert.isFalse(CircuitBreaker.isCircuitBreaker(Retry.policy()))
      assert.isTrue(Policy.isPolicy(breaker))
    }))
})
