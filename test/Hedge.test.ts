import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Data,
  Deferred,
  Duration,
  Effect,
  Equal,
  Exit,
  FastCheck,
  Fiber,
  Metric,
  MetricState,
  Option,
  Ref,
  Stream,
  TestClock
} from "effect"
import { expectTypeOf } from "vitest"
import { Errors, Hedge, Policy, Retry, Timeout } from "../src/index.js"
import { expectInvalidOption } from "./utils/errors.js"
import { counterValue } from "./utils/metrics.js"
import { collect } from "./utils/streams.js"
import { numRuns } from "./utils/props.js"

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly attempt: number }> {}
class BadRequest extends Data.TaggedError("BadRequest")<{ readonly attempt: number }> {}

type Outcome = "ok" | "unavailable" | "bad" | "die" | "never"
interface Plan {
  readonly latency: number
  readonly outcome: Outcome
}

/**
 * A fake dependency whose behaviour depends on the hedge attempt running it
 * (read from `Hedge.currentAttempt`), so the script does not depend on fiber
 * scheduling. Records starts, ends and interruptions.
 */
const makeFake = (plans: ReadonlyArray<Plan>) =>
  Effect.gen(function*() {
    const started = yield* Ref.make<Array<number>>([])
    const latches = yield* Effect.forEach(Array.from({ length: 8 }), () => Deferred.make<void>())
    const ended = yield* Ref.make<Array<number>>([])
    const interrupted = yield* Ref.make<Array<number>>([])
    const call: Effect.Effect<string, Unavailable | BadRequest> = Effect.gen(function*() {
      const n = yield* Hedge.currentAttempt
      const plan = plans[n - 1] ?? { latency: 0, outcome: "never" as const }
      yield* Ref.update(started, (xs) => [...xs, n])
      if (latches[n - 1] !== undefined) yield* Deferred.succeed(latches[n - 1]!, undefined)
      if (plan.latency > 0) yield* Effect.sleep(plan.latency)
      switch (plan.outcome) {
        case "ok":
          return `attempt ${n}`
        case "unavailable":
          return yield* Effect.fail(new Unavailable({ attempt: n }))
        case "bad":
          return yield* Effect.fail(new BadRequest({ attempt: n }))
        case "die":
          return yield* Effect.die(`attempt ${n} crashed`)
        case "never":
          return yield* Effect.never
      }
    }).pipe(
      Effect.onExit((exit) =>
        Effect.flatMap(Hedge.currentAttempt, (n) =>
          Exit.isInterrupted(exit)
            ? Ref.update(interrupted, (xs) => [...xs, n]).pipe(Effect.zipRight(Ref.update(ended, (xs) => [...xs, n])))
            : Ref.update(ended, (xs) => [...xs, n]))
      )
    )
    return {
      call,
      started: Ref.get(started),
      /** Waits until attempt `n` has started (and registered its sleep). */
      whenStarted: (n: number) => Deferred.await(latches[n - 1]!),
      ended: Ref.get(ended),
      interrupted: Ref.get(interrupted)
    }
  })

const sorted = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)

/** Subscribes to `stream`; the returned effect reads, without blocking, the events received so far. */
const record = <A>(stream: Stream.Stream<A>) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make<ReadonlyArray<A>>([])
    yield* Effect.fork(Stream.runForEach(stream, (a) => Ref.update(seen, (xs) => [...xs, a])))
    for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
    return Effect.zipRight(Effect.repeatN(Effect.yieldNow(), 9), Ref.get(seen))
  })

const frequencyOf = (name: string, policy: string) =>
  Effect.map(Metric.snapshot, (pairs) => {
    for (const pair of pairs) {
      if (pair.metricKey.name !== name) continue
      if (!pair.metricKey.tags.some((t) => t.key === "policy" && t.value === policy)) continue
      if (MetricState.isFrequencyState(pair.metricState)) return Object.fromEntries(pair.metricState.occurrences)
    }
    return {}
  })

/** What failed in a `HedgeFailed` event's cause, comparable (errors are compared by name and message only). */
const failedWith = (cause: Cause.Cause<unknown>): string => {
  if (Cause.isInterruptedOnly(cause)) return "interrupted"
  const e = Cause.squash(cause)
  if (e instanceof Unavailable || e instanceof BadRequest) return `${e._tag} ${e.attempt}`
  return Errors.isRejection(e) ? (e as { readonly _tag: string })._tag : String(e)
}

const comparable = (events: ReadonlyArray<Hedge.HedgeEvent>) =>
  events.map((e) => e._tag === "HedgeFailed" ? { ...e, cause: failedWith(e.cause) } : e)

/** Runs `self`, then reports its exit and the fibers it left running in the calling fiber. */
const leftBehind = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.exit(self), (exit) =>
    Effect.map(Effect.withFiberRuntime<Array<Fiber.RuntimeFiber<unknown, unknown>>>(Fiber.children), (children) => ({ exit, children: children.length })))

const full = Errors.BulkheadFullError.make({ name: "db", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" })

describe("Hedge.make", () => {
  it.effect("fast path: the first attempt finishes before delay, no hedge starts", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([{ latency: 50, outcome: "ok" }])
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 3 })
      const fiber = yield* Effect.fork(fake.call.pipe(hedge))
      yield* TestClock.adjust("50 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "attempt 1")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* fake.started, [1])
      assert.deepStrictEqual(yield* hedge.stats(), { calls: 1, hedges: 0, wins: [1, 0, 0], failures: 0 })
    }))

  it.effect("starts another attempt every delay; the first success wins and losers are interrupted", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 1000, outcome: "ok" },
        { latency: 1000, outcome: "ok" },
        { latency: 50, outcome: "ok" }
      ])
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 3, name: "search" })
      const events = yield* collect(hedge.events, 3)
      const fiber = yield* Effect.fork(fake.call.pipe(hedge))
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(yield* fake.started, [1, 2])
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(yield* fake.started, [1, 2, 3])
      yield* TestClock.adjust("50 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "attempt 3")
      assert.deepStrictEqual(sorted(yield* fake.interrupted), [1, 2])
      assert.deepStrictEqual(sorted(yield* fake.ended), [1, 2, 3])
      assert.deepStrictEqual(yield* events, [
        { _tag: "HedgeStarted", policy: "search", attempt: 2, reason: "Delay" },
        { _tag: "HedgeStarted", policy: "search", attempt: 3, reason: "Delay" },
        { _tag: "HedgeWon", policy: "search", attempt: 3, started: 3 }
      ])
      assert.deepStrictEqual(yield* hedge.stats(), { calls: 1, hedges: 2, wins: [0, 0, 1], failures: 0 })
    }))

  it.effect("never starts more than maxAttempts", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([])
      const hedge = Hedge.make({ delay: "10 millis", maxAttempts: 4 })
      const fiber = yield* Effect.fork(fake.call.pipe(hedge))
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* fake.started, [1, 2, 3, 4])
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(sorted(yield* fake.interrupted), [1, 2, 3, 4])
    }))

  it.effect("a timer that fires after the last attempt has started starts nothing", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 10, outcome: "unavailable" },
        { latency: 0, outcome: "never" }
      ])
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 2 })
      const fiber = yield* Effect.fork(fake.call.pipe(hedge))
      yield* TestClock.adjust("10 millis") // attempt 1 fails: attempt 2, the last, starts at once
      assert.deepStrictEqual(yield* fake.started, [1, 2])
      yield* TestClock.adjust("1 second") // the delay armed for attempt 1 elapses at 100
      assert.deepStrictEqual(yield* fake.started, [1, 2])
      assert.deepStrictEqual(yield* hedge.stats(), { calls: 1, hedges: 1, wins: [0, 0], failures: 0 })
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a hedgeable failure of the last attempt to start waits for the attempts still running", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 300, outcome: "ok" },
        { latency: 10, outcome: "unavailable" }
      ])
      const fiber = yield* Effect.fork(fake.call.pipe(Hedge.make({ delay: "100 millis", maxAttempts: 2 })))
      yield* TestClock.adjust("110 millis") // attempt 2 has failed; attempt 1 still runs
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("190 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "attempt 1")
    }))

  it.effect("a hedgeable failure starts the next attempt at once", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 0, outcome: "unavailable" },
        { latency: 0, outcome: "ok" }
      ])
      const hedge = Hedge.make({ delay: "1 minute", maxAttempts: 2 })
      const events = yield* collect(hedge.events, 1)
      // no clock adjustment: attempt 2 starts because attempt 1 failed
      assert.strictEqual(yield* fake.call.pipe(hedge), "attempt 2")
      const [started] = yield* events
      assert.deepStrictEqual(started, {
        _tag: "HedgeStarted",
        policy: "hedge",
        attempt: 2,
        reason: "Failure",
        error: new Unavailable({ attempt: 1 })
      })
    }))

  it.effect("the delay restarts from the latest attempt", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 60, outcome: "unavailable" },
        { latency: 1000, outcome: "ok" },
        { latency: 0, outcome: "ok" }
      ])
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 3 })
      const fiber = yield* Effect.fork(fake.call.pipe(hedge))
      yield* TestClock.adjust("60 millis") // attempt 1 fails, attempt 2 starts at 60
      assert.deepStrictEqual(yield* fake.started, [1, 2])
      yield* TestClock.adjust("50 millis") // 110: the first timer (due at 100) was replaced
      assert.deepStrictEqual(yield* fake.started, [1, 2])
      yield* TestClock.adjust("50 millis") // 160: attempt 3
      assert.strictEqual(yield* Fiber.join(fiber), "attempt 3")
    }))

  it.effect("a non-hedgeable failure is final and interrupts the other attempts", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 1000, outcome: "ok" },
        { latency: 10, outcome: "bad" }
      ])
      const hedge = Hedge.make({
        delay: "100 millis",
        maxAttempts: 3,
        while: (e: Unavailable | BadRequest) => e._tag === "Unavailable"
      })
      const fiber = yield* Effect.fork(Effect.flip(fake.call.pipe(hedge)))
      yield* TestClock.adjust("110 millis")
      const e = yield* Fiber.join(fiber)
      assert.deepStrictEqual([e._tag, e.attempt], ["BadRequest", 2])
      assert.deepStrictEqual(yield* fake.interrupted, [1])
      assert.deepStrictEqual(yield* fake.started, [1, 2])
      assert.strictEqual((yield* hedge.stats()).failures, 1)
    }))

  it.effect("when every attempt fails, the caller gets the failure of the last one to fail", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 300, outcome: "unavailable" },
        { latency: 10, outcome: "unavailable" },
        { latency: 10, outcome: "unavailable" }
      ])
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 3, name: "exhaust" })
      const fiber = yield* Effect.fork(Effect.flip(fake.call.pipe(hedge)))
      yield* TestClock.adjust("1 second")
      const e = yield* Fiber.join(fiber)
      assert.deepStrictEqual([e._tag, e.attempt], ["Unavailable", 1])
      assert.strictEqual(yield* counterValue("resilience_hedge_failed", { policy: "exhaust" }), 1)
    }))

  it.effect("a defect in one attempt is final and never retried by hedging", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 1000, outcome: "ok" },
        { latency: 0, outcome: "die" }
      ])
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 3 })
      const fiber = yield* Effect.fork(Effect.exit(fake.call.pipe(hedge)))
      yield* TestClock.adjust("100 millis")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.deepStrictEqual(yield* fake.started, [1, 2])
      assert.deepStrictEqual(yield* fake.interrupted, [1])
    }))

  it.effect("a rejection of the only running attempt is the caller's, without a hedge", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const rejected = Effect.zipRight(
        Ref.update(calls, (n) => n + 1),
        Effect.fail(Errors.BulkheadFullError.make({ name: "db", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" }))
      )
      const e = yield* Effect.flip(rejected.pipe(Hedge.make({ delay: "10 millis", maxAttempts: 3 })))
      assert.isTrue(Errors.isRejection(e))
      assert.strictEqual(yield* Ref.get(calls), 1)
    }))

  it.effect("a rejected hedge is dropped: it neither hedges again nor interrupts the attempt in flight", () =>
    Effect.gen(function*() {
      const started = yield* Ref.make<Array<number>>([])
      const call = Effect.flatMap(Hedge.currentAttempt, (n) =>
        Effect.zipRight(
          Ref.update(started, (xs) => [...xs, n]),
          n === 1 ? Effect.as(Effect.sleep("250 millis"), "attempt 1") : Effect.fail(full)
        ))
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 3 })
      const fiber = yield* Effect.fork(call.pipe(hedge))
      yield* TestClock.adjust("100 millis") // attempt 2 is rejected at once
      assert.deepStrictEqual(yield* Ref.get(started), [1, 2])
      yield* TestClock.adjust("100 millis") // attempt 3 waits for the timer, and is rejected too
      assert.deepStrictEqual(yield* Ref.get(started), [1, 2, 3])
      yield* TestClock.adjust("50 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "attempt 1")
    }))

  it.effect("delay 0 starts every attempt at once", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 30, outcome: "ok" },
        { latency: 20, outcome: "ok" },
        { latency: 10, outcome: "ok" }
      ])
      const fiber = yield* Effect.fork(fake.call.pipe(Hedge.make({ delay: 0, maxAttempts: 3 })))
      yield* TestClock.adjust("10 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "attempt 3")
      assert.deepStrictEqual(sorted(yield* fake.started), [1, 2, 3])
      assert.deepStrictEqual(sorted(yield* fake.interrupted), [1, 2])
    }))

  it.effect("delay 0 starts every attempt even when the first succeeds at once", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([{ latency: 0, outcome: "ok" }])
      const hedge = Hedge.make({ delay: 0, maxAttempts: 3, name: "all-at-once" })
      const events = yield* record(hedge.events)
      assert.strictEqual(yield* fake.call.pipe(hedge), "attempt 1")
      assert.deepStrictEqual(yield* events, [
        { _tag: "HedgeStarted", policy: "all-at-once", attempt: 2, reason: "Delay" },
        { _tag: "HedgeStarted", policy: "all-at-once", attempt: 3, reason: "Delay" },
        { _tag: "HedgeWon", policy: "all-at-once", attempt: 1, started: 3 }
      ])
      assert.deepStrictEqual(yield* hedge.stats(), { calls: 1, hedges: 2, wins: [1, 0, 0], failures: 0 })
      assert.strictEqual(yield* counterValue("resilience_hedge_started", { policy: "all-at-once", reason: "delay" }), 2)
      assert.strictEqual(yield* counterValue("resilience_hedge_started", { policy: "all-at-once", reason: "failure" }), 0)
    }))

  it.effect("an infinite delay hedges only on failure", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 500, outcome: "unavailable" },
        { latency: 10, outcome: "ok" }
      ])
      const hedge = Hedge.make({ delay: Duration.infinity, maxAttempts: 2 })
      const fiber = yield* Effect.fork(fake.call.pipe(hedge))
      yield* TestClock.adjust("499 millis")
      assert.deepStrictEqual(yield* fake.started, [1])
      yield* TestClock.adjust("11 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "attempt 2")
    }))

  it.effect("maxAttempts 1 counts a success as a win of attempt 1; stats() returns snapshots", () =>
    Effect.gen(function*() {
      const hedge = Hedge.make({ delay: "1 millis", maxAttempts: 1 })
      assert.strictEqual(yield* Effect.succeed("ok").pipe(hedge), "ok")
      const first = yield* hedge.stats()
      assert.deepStrictEqual(first, { calls: 1, hedges: 0, wins: [1], failures: 0 })
      yield* Effect.succeed("ok").pipe(hedge)
      assert.deepStrictEqual(yield* hedge.stats(), { calls: 2, hedges: 0, wins: [2], failures: 0 })
      assert.deepStrictEqual(first.wins, [1], "an earlier snapshot does not change")
    }))

  it.effect("unsafeStats() is stats() read synchronously: the same snapshot", () =>
    Effect.gen(function*() {
      const hedge = Hedge.make({ delay: "10 millis", maxAttempts: 2 })
      const stats = hedge.stats()
      assert.deepStrictEqual(hedge.unsafeStats(), { calls: 0, hedges: 0, wins: [0, 0], failures: 0 })
      yield* Effect.flatMap(Hedge.currentAttempt, (n) => n === 1 ? Effect.fail(new Unavailable({ attempt: n })) : Effect.succeed(n)).pipe(hedge)
      const snapshot = hedge.unsafeStats()
      assert.deepStrictEqual(snapshot, { calls: 1, hedges: 1, wins: [0, 1], failures: 0 })
      assert.deepStrictEqual(yield* stats, snapshot, "the Effect reads the counters when it runs")
      yield* Effect.succeed(1).pipe(hedge)
      assert.deepStrictEqual(snapshot.wins, [0, 1], "an earlier snapshot does not change")
      assert.deepStrictEqual(yield* stats, { calls: 2, hedges: 1, wins: [1, 1], failures: 0 })
    }))

  it.effect("maxAttempts 1 consults `while` only to report a failure to a listener", () =>
    Effect.gen(function*() {
      let consulted = 0
      const hedge = Hedge.make({
        delay: "1 millis",
        maxAttempts: 1,
        while: (e: Unavailable) => {
          consulted++
          return e.attempt > 0
        }
      })
      yield* Effect.flip(Effect.fail(new Unavailable({ attempt: 1 })).pipe(hedge))
      assert.strictEqual(consulted, 0, "nobody listens: the failure is passed on as is")
      const events = yield* record(hedge.events)
      yield* Effect.flip(Effect.fail(new Unavailable({ attempt: 1 })).pipe(hedge))
      assert.strictEqual((yield* events).length, 1)
      assert.strictEqual(consulted, 1)
    }))

  it.effect("maxAttempts 1 runs the effect in the caller's fiber (no fork)", () =>
    Effect.gen(function*() {
      const caller = yield* Effect.fiberId
      const inside = yield* Effect.fiberId.pipe(Hedge.make({ delay: "1 millis", maxAttempts: 1 }))
      assert.isTrue(Equal.equals(inside, caller))
      const forked = yield* Effect.fiberId.pipe(Hedge.make({ delay: "1 millis", maxAttempts: 2 }))
      assert.isFalse(Equal.equals(forked, caller))
    }))

  it.effect("maxAttempts 1 runs the effect once", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([{ latency: 0, outcome: "unavailable" }])
      const hedge = Hedge.make({ delay: "1 millis", maxAttempts: 1 })
      const e = yield* Effect.flip(fake.call.pipe(hedge))
      assert.deepStrictEqual(e, new Unavailable({ attempt: 1 }))
      assert.deepStrictEqual(yield* hedge.stats(), { calls: 1, hedges: 0, wins: [0], failures: 1 })
    }))
})

describe("events and metrics", () => {
  it.effect("HedgeFailed Exhausted: every attempt failed; the event names the last one to fail", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 300, outcome: "unavailable" },
        { latency: 10, outcome: "unavailable" }
      ])
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 2, name: "exhausted" })
      const events = yield* record(hedge.events)
      const fiber = yield* Effect.fork(Effect.flip(fake.call.pipe(hedge)))
      yield* TestClock.adjust("300 millis")
      assert.strictEqual((yield* Fiber.join(fiber)).attempt, 1)
      assert.deepStrictEqual(comparable(yield* events), [
        { _tag: "HedgeStarted", policy: "exhausted", attempt: 2, reason: "Delay" },
        { _tag: "HedgeFailed", policy: "exhausted", attempt: 1, started: 2, reason: "Exhausted", cause: "Unavailable 1" }
      ])
      assert.strictEqual(yield* counterValue("resilience_hedge_failed", { policy: "exhausted" }), 1)
    }))

  it.effect("HedgeFailed NotHedgeable: a non-hedgeable typed error or a defect ends the call", () =>
    Effect.gen(function*() {
      for (const outcome of ["bad", "die"] as const) {
        const fake = yield* makeFake([{ latency: 1000, outcome: "ok" }, { latency: 10, outcome }])
        const hedge = Hedge.make({
          delay: "100 millis",
          maxAttempts: 3,
          name: `final-${outcome}`,
          while: (e: Unavailable | BadRequest) => e._tag === "Unavailable"
        })
        const events = yield* record(hedge.events)
        const fiber = yield* Effect.fork(Effect.exit(fake.call.pipe(hedge)))
        yield* TestClock.adjust("110 millis")
        assert.isTrue(Exit.isFailure(yield* Fiber.join(fiber)))
        assert.deepStrictEqual(comparable(yield* events), [
          { _tag: "HedgeStarted", policy: `final-${outcome}`, attempt: 2, reason: "Delay" },
          {
            _tag: "HedgeFailed",
            policy: `final-${outcome}`,
            attempt: 2,
            started: 2,
            reason: "NotHedgeable",
            cause: outcome === "bad" ? "BadRequest 2" : "attempt 2 crashed"
          }
        ])
        assert.strictEqual(yield* counterValue("resilience_hedge_failed", { policy: `final-${outcome}` }), 1)
      }
    }))

  it.effect("a hedgeable failure that comes with a defect (its finalizer died) is final", () =>
    Effect.gen(function*() {
      const call = Effect.flatMap(Hedge.currentAttempt, (n) =>
        Effect.fail(new Unavailable({ attempt: n })).pipe(Effect.ensuring(Effect.die(`attempt ${n} cleanup crashed`))))
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 3, name: "crashed-cleanup" })
      const events = yield* record(hedge.events)
      const exit = yield* Effect.exit(call.pipe(hedge))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.deepStrictEqual(comparable(yield* events), [
        {
          _tag: "HedgeFailed",
          policy: "crashed-cleanup",
          attempt: 1,
          started: 1,
          reason: "NotHedgeable",
          cause: "Unavailable 1" // and the defect
        }
      ])
      assert.deepStrictEqual(yield* hedge.stats(), { calls: 1, hedges: 0, wins: [0, 0, 0], failures: 1 })
    }))

  it.effect("currentAttempt inside a nested hedge is the inner hedge's attempt, with one attempt or more", () =>
    Effect.gen(function*() {
      // the outer hedge's attempt 1 fails, its attempt 2 runs the inner hedge: inside it, the attempt is the inner one's
      for (const maxAttempts of [1, 2]) {
        const inner = Hedge.make({ delay: "100 millis", maxAttempts, name: "inner" })
        const outer = Hedge.make({ delay: "100 millis", maxAttempts: 2, name: "outer" })
        const seen: Array<readonly [number, number]> = []
        const call = Effect.flatMap(Hedge.currentAttempt, (outerAttempt) =>
          outerAttempt === 1
            ? Effect.fail(new Unavailable({ attempt: 1 }))
            : Effect.flatMap(Hedge.currentAttempt, (innerAttempt) => {
              seen.push([outerAttempt, innerAttempt])
              return Effect.succeed(innerAttempt)
            }).pipe(inner, Effect.zipLeft(Effect.flatMap(Hedge.currentAttempt, (after) => Effect.sync(() => seen.push([outerAttempt, after]))))))
        assert.strictEqual(yield* call.pipe(outer), 1, `maxAttempts ${maxAttempts}`)
        // inside the inner hedge: its attempt 1; after it: the outer attempt again
        assert.deepStrictEqual(seen, [[2, 1], [2, 2]], `maxAttempts ${maxAttempts}`)
      }
    }))

  it.effect("HedgeFailed Rejected: the last attempt running was rejected by the library", () =>
    Effect.gen(function*() {
      // attempt 1 fails (hedgeable), attempt 2 starts at once and is rejected: nothing else runs
      const call = Effect.flatMap(
        Hedge.currentAttempt,
        (n): Effect.Effect<never, Unavailable | Errors.BulkheadFullError> =>
          n === 1 ? Effect.fail(new Unavailable({ attempt: 1 })) : Effect.fail(full)
      )
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 3, name: "rejected" })
      const events = yield* record(hedge.events)
      const e = yield* Effect.flip(call.pipe(hedge))
      assert.strictEqual(e._tag, "BulkheadFullError")
      assert.deepStrictEqual(comparable(yield* events).slice(1), [
        { _tag: "HedgeFailed", policy: "rejected", attempt: 2, started: 2, reason: "Rejected", cause: "BulkheadFullError" }
      ])
      assert.strictEqual(yield* counterValue("resilience_hedge_failed", { policy: "rejected" }), 1)
    }))

  it.effect("a call that started no hedge reports its failure as an event but updates no metric", () =>
    Effect.gen(function*() {
      const hedge = Hedge.make({
        delay: "100 millis",
        maxAttempts: 3,
        name: "quiet",
        while: (e: Unavailable | BadRequest | Errors.BulkheadFullError) => e._tag === "Unavailable"
      })
      const events = yield* record(hedge.events)
      const fake = yield* makeFake([{ latency: 10, outcome: "bad" }])
      const bad = yield* Effect.fork(Effect.flip(fake.call.pipe(hedge)))
      yield* TestClock.adjust("10 millis")
      assert.strictEqual((yield* Fiber.join(bad))._tag, "BadRequest")
      assert.strictEqual((yield* Effect.flip(Effect.fail(full).pipe(hedge)))._tag, "BulkheadFullError")
      assert.strictEqual(yield* Effect.succeed("fast").pipe(hedge), "fast")
      assert.deepStrictEqual(comparable(yield* events), [
        { _tag: "HedgeFailed", policy: "quiet", attempt: 1, started: 1, reason: "NotHedgeable", cause: "BadRequest 1" },
        { _tag: "HedgeFailed", policy: "quiet", attempt: 1, started: 1, reason: "Rejected", cause: "BulkheadFullError" },
        { _tag: "HedgeWon", policy: "quiet", attempt: 1, started: 1 }
      ])
      assert.strictEqual(yield* counterValue("resilience_hedge_failed", { policy: "quiet" }), 0)
      assert.deepStrictEqual(yield* frequencyOf("resilience_hedge_won", "quiet"), {})
      assert.deepStrictEqual(yield* hedge.stats(), { calls: 3, hedges: 0, wins: [1, 0, 0], failures: 2 })
    }))

  it.effect("maxAttempts 1 reports the call's outcome as events, as a hedge whose only attempt ended does", () =>
    Effect.gen(function*() {
      const hedge = Hedge.make({
        delay: "100 millis",
        maxAttempts: 1,
        name: "single",
        while: (e: Unavailable | BadRequest | Errors.BulkheadFullError) => e._tag === "Unavailable"
      })
      const events = yield* record(hedge.events)
      const outcomes = ["ok", "unavailable", "bad", "die"] as const
      for (const outcome of outcomes) {
        const fake = yield* makeFake([{ latency: 0, outcome }])
        yield* Effect.exit(fake.call.pipe(hedge))
      }
      yield* Effect.exit(Effect.fail(full).pipe(hedge))
      yield* Effect.exit(Effect.interrupt.pipe(hedge))
      yield* Effect.exit(Effect.fail(new Unavailable({ attempt: 1 })).pipe(Effect.ensuring(Effect.die("cleanup crashed")), hedge))
      const failed = { _tag: "HedgeFailed", policy: "single", attempt: 1, started: 1 } as const
      assert.deepStrictEqual(comparable(yield* events), [
        { _tag: "HedgeWon", policy: "single", attempt: 1, started: 1 },
        { ...failed, reason: "Exhausted", cause: "Unavailable 1" },
        { ...failed, reason: "NotHedgeable", cause: "BadRequest 1" },
        { ...failed, reason: "NotHedgeable", cause: "attempt 1 crashed" },
        { ...failed, reason: "Rejected", cause: "BulkheadFullError" },
        { ...failed, reason: "NotHedgeable", cause: "interrupted" },
        { ...failed, reason: "NotHedgeable", cause: "Unavailable 1" } // and a defect
      ])
      assert.deepStrictEqual(yield* hedge.stats(), { calls: 7, hedges: 0, wins: [1], failures: 6 })
    }))
})

describe("timers and fibers", () => {
  it.effect("no timer is armed once the last attempt has started", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([])
      const fiber = yield* Effect.fork(fake.call.pipe(Hedge.make({ delay: "100 millis", maxAttempts: 2 })))
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(yield* fake.started, [1, 2])
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* TestClock.sleeps()), [])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("an infinite delay arms no timer", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([])
      const fiber = yield* Effect.fork(fake.call.pipe(Hedge.make({ delay: Duration.infinity, maxAttempts: 3 })))
      yield* fake.whenStarted(1)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* fake.started, [1])
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* TestClock.sleeps()), [])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a call leaves no fiber running: attempts, the timer and timers it replaced are stopped", () =>
    Effect.gen(function*() {
      // the first attempt wins before the delay: the pending timer is stopped
      const fast = yield* makeFake([{ latency: 50, outcome: "ok" }])
      const first = yield* Effect.fork(leftBehind(fast.call.pipe(Hedge.make({ delay: "100 millis", maxAttempts: 3 }))))
      yield* TestClock.adjust("50 millis")
      assert.deepStrictEqual(yield* Fiber.join(first), { exit: Exit.succeed("attempt 1"), children: 0 })
      // attempt 1 fails at 10 and replaces the timer due at 100; attempt 2 wins at 20
      const failover = yield* makeFake([{ latency: 10, outcome: "unavailable" }, { latency: 10, outcome: "ok" }])
      const second = yield* Effect.fork(leftBehind(failover.call.pipe(Hedge.make({ delay: "100 millis", maxAttempts: 3 }))))
      yield* TestClock.adjust("20 millis")
      assert.deepStrictEqual(yield* Fiber.join(second), { exit: Exit.succeed("attempt 2"), children: 0 })
    }))

  it.effect("a call completes wherever its fiber yields (an attempt may post while it registers as a waiter)", () =>
    Effect.gen(function*() {
      // Effect.withMaxOpsBeforeYield(n): the hedging fiber yields every n operations, so across n
      // it yields at every point of a call, e.g. between checking its mailbox and waiting on it
      // (below 12 the runtime itself makes no progress)
      for (let maxOps = 12; maxOps <= 64; maxOps++) {
        for (const delay of [0, Infinity]) {
          for (const failures of [0, 1]) {
            const call = Effect.flatMap(Hedge.currentAttempt, (n) =>
              n <= failures ? Effect.fail(new Unavailable({ attempt: n })) : Effect.succeed(n))
            const hedge = Hedge.make({ delay, maxAttempts: 3 })
            const fiber = yield* Effect.fork(Effect.withMaxOpsBeforeYield(call.pipe(hedge), maxOps))
            let polled = yield* Fiber.poll(fiber)
            for (let i = 0; i < 100 && Option.isNone(polled); i++) {
              yield* Effect.yieldNow()
              polled = yield* Fiber.poll(fiber)
            }
            const outcome = Option.isSome(polled) && Exit.isSuccess(polled.value) ? polled.value.value : "pending"
            if (outcome === "pending") yield* Fiber.interruptFork(fiber)
            const scenario = `maxOps ${maxOps}, delay ${delay}, ${failures} failures`
            assert.notStrictEqual(outcome, "pending", scenario)
            assert.isAbove(Number(outcome), failures, scenario)
          }
        }
      }
    }))
})

describe("interruption", () => {
  // Losers clean up slowly (a 1-second finalizer under TestClock). What the
  // caller's next step sees tells whether the hedge awaited them (a fiber's
  // own exit would await its children anyway, so look from inside it).
  const slowLoser = (cleaned: Ref.Ref<number>) =>
    Effect.onInterrupt(Effect.never, () => Effect.zipRight(Effect.sleep("1 second"), Ref.update(cleaned, (n) => n + 1)))

  it.effect("interrupting the caller interrupts and awaits every attempt", () =>
    Effect.gen(function*() {
      const cleaned = yield* Ref.make(0)
      const seenOnInterrupt = yield* Ref.make(-1)
      const fiber = yield* Effect.fork(
        slowLoser(cleaned).pipe(
          Hedge.make({ delay: "10 millis", maxAttempts: 3 }),
          Effect.onInterrupt(() => Effect.flatMap(Ref.get(cleaned), (n) => Ref.set(seenOnInterrupt, n)))
        )
      )
      yield* TestClock.adjust("20 millis")
      const interrupter = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(interrupter)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.strictEqual(yield* Ref.get(seenOnInterrupt), 3, "every attempt had finished when the hedge returned")
    }))

  it.effect("losers are awaited: the winner's result comes after their finalizers", () =>
    Effect.gen(function*() {
      const cleaned = yield* Ref.make(0)
      const call = Effect.flatMap(Hedge.currentAttempt, (n) => n === 3 ? Effect.succeed("winner") : slowLoser(cleaned))
      const fiber = yield* Effect.fork(
        call.pipe(
          Hedge.make({ delay: "10 millis", maxAttempts: 3 }),
          Effect.flatMap((winner) => Effect.map(Ref.get(cleaned), (n) => [winner, n] as const))
        )
      )
      yield* TestClock.adjust("20 millis") // attempt 3 has won; the losers are cleaning up
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "the result waits for the losers")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(fiber), ["winner", 2])
    }))

  it.effect("a winner does not leave the timer or any fiber running", () =>
    Effect.gen(function*() {
      const running = yield* Ref.make(0)
      const latch = yield* Deferred.make<void>()
      const call = Effect.acquireUseRelease(
        Ref.update(running, (n) => n + 1),
        () => Effect.flatMap(Hedge.currentAttempt, (n) => n === 2 ? Effect.as(Deferred.await(latch), "2") : Effect.never),
        () => Ref.update(running, (n) => n - 1)
      )
      const fiber = yield* Effect.fork(call.pipe(Hedge.make({ delay: "10 millis", maxAttempts: 2 })))
      yield* TestClock.adjust("10 millis")
      yield* Deferred.succeed(latch, undefined)
      assert.strictEqual(yield* Fiber.join(fiber), "2")
      assert.strictEqual(yield* Ref.get(running), 0)
    }))
})

describe("composition", () => {
  it.effect("inside a timeout: the timeout interrupts every attempt", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([])
      const policy = Policy.compose(Timeout.make("1 second"), Hedge.make({ delay: "300 millis", maxAttempts: 3 }))
      const fiber = yield* Effect.fork(Effect.flip(fake.call.pipe(policy)))
      yield* TestClock.adjust("1 second")
      const e = yield* Fiber.join(fiber)
      assert.strictEqual(e._tag, "TimeoutError")
      assert.deepStrictEqual(sorted(yield* fake.interrupted), [1, 2, 3])
    }))

  it.effect("per-attempt timeouts inside a hedge make slow attempts hedgeable failures", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 10_000, outcome: "ok" },
        { latency: 10, outcome: "ok" }
      ])
      const policy = Policy.compose(Hedge.make({ delay: Duration.infinity, maxAttempts: 2 }), Timeout.make("200 millis"))
      const fiber = yield* Effect.fork(fake.call.pipe(policy))
      yield* TestClock.adjust("200 millis") // attempt 1 times out: a hedgeable TimeoutError
      yield* fake.whenStarted(2)
      yield* TestClock.adjust("10 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "attempt 2")
    }))

  it.effect("retry outside a hedge retries an exhausted hedge", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const call = Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) =>
        n <= 2 ? Effect.fail(new Unavailable({ attempt: n })) : Effect.succeed(`call ${n}`))
      const policy = Policy.compose(
        Retry.policy({ schedule: Retry.constant("1 second"), times: 2 }),
        Hedge.make({ delay: "100 millis", maxAttempts: 2 })
      )
      const fiber = yield* Effect.fork(call.pipe(policy))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "call 3")
      assert.strictEqual(yield* Ref.get(calls), 3)
    }))

  it.effect("metrics: hedges started by reason, and which attempt won", () =>
    Effect.gen(function*() {
      const fake = yield* makeFake([
        { latency: 0, outcome: "unavailable" },
        { latency: 1000, outcome: "ok" },
        { latency: 10, outcome: "ok" }
      ])
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 3, name: "metrics" })
      const fiber = yield* Effect.fork(fake.call.pipe(hedge))
      yield* TestClock.adjust("110 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "attempt 3")
      assert.strictEqual(yield* counterValue("resilience_hedge_started", { policy: "metrics", reason: "failure" }), 1)
      assert.strictEqual(yield* counterValue("resilience_hedge_started", { policy: "metrics", reason: "delay" }), 1)
      assert.deepStrictEqual(yield* frequencyOf("resilience_hedge_won", "metrics"), { "3": 1 })
    }))

  it("types: a hedge adds no error; while constrains the errors it accepts", () => {
    const call = Effect.fail(new Unavailable({ attempt: 1 })) as Effect.Effect<number, Unavailable | BadRequest>
    expectTypeOf(call.pipe(Hedge.make({ delay: "1 second", maxAttempts: 2 }))).toEqualTypeOf<
      Effect.Effect<number, Unavailable | BadRequest>
    >()
    const typed = Hedge.make({ delay: "1 second", maxAttempts: 2, while: (e: Unavailable | BadRequest) => e._tag === "Unavailable" })
    expectTypeOf(call.pipe(typed)).toEqualTypeOf<Effect.Effect<number, Unavailable | BadRequest>>()
    // @ts-expect-error: the predicate reads `_tag`, so effects failing with strings are rejected
    Effect.fail("boom").pipe(typed)
    const composed = Policy.compose(Timeout.make("1 second"), typed)
    expectTypeOf(call.pipe(composed)).toEqualTypeOf<Effect.Effect<number, Unavailable | BadRequest | Errors.TimeoutError>>()
  })

  it("carries its TypeId: isHedge tells a hedge from other policies", () => {
    const hedge = Hedge.make({ delay: "50 millis", maxAttempts: 1 })
    assert.isTrue(Hedge.isHedge(hedge))
    assert.isTrue(Hedge.isHedge(Hedge.make({ delay: "50 millis", maxAttempts: 3 })))
    assert.strictEqual(hedge[Hedge.TypeId], Hedge.TypeId)
    assert.strictEqual(Hedge.TypeId, Symbol.for("effect-resilience/Hedge"))
    for (const other of [Timeout.make("1 second"), Retry.policy({ times: 1 }), (self: Effect.Effect<number>) => self, {}, null, undefined]) {
      assert.isFalse(Hedge.isHedge(other))
    }
  })

  it("describes itself for Policy.describe", () => {
    assert.deepStrictEqual(Policy.describe(Hedge.make({ delay: "50 millis", maxAttempts: 3, name: "h" })), {
      kind: "Hedge",
      name: "h",
      options: { delay: "50ms", maxAttempts: 3, while: false, whenResult: false, failWith: "last", failAfterMaxAttempts: false },
      children: []
    })
  })
})

describe("validation", () => {
  it("rejects invalid options, naming the option", () => {
    const invalid = (options: any, option: string) => expectInvalidOption(() => Hedge.make(options), option)
    invalid({ delay: "-1 second", maxAttempts: 2 }, "delay")
    invalid({ delay: Number.NaN, maxAttempts: 2 }, "delay")
    invalid({ maxAttempts: 2 }, "delay")
    invalid(undefined, "delay")
    invalid({ delay: "1 second", maxAttempts: 0 }, "maxAttempts")
    invalid({ delay: "1 second", maxAttempts: 2.5 }, "maxAttempts")
    invalid({ delay: "1 second", maxAttempts: 101 }, "maxAttempts")
    invalid({ delay: "1 second", maxAttempts: 2, while: "x" }, "while")
    invalid({ delay: "1 second", maxAttempts: 2, name: "" }, "name")
  })
})

describe("properties", () => {
  const plan = FastCheck.record({
    latency: FastCheck.integer({ min: 0, max: 500 }),
    outcome: FastCheck.constantFrom<Outcome>("ok", "unavailable", "bad", "never")
  })

  it.effect.prop(
    "never runs more than maxAttempts, and no attempt outlives the call",
    [
      FastCheck.array(plan, { minLength: 1, maxLength: 6 }),
      FastCheck.integer({ min: 1, max: 6 }),
      FastCheck.integer({ min: 0, max: 300 })
    ],
    ([plans, maxAttempts, delay]) =>
      Effect.gen(function*() {
        const fake = yield* makeFake(plans)
        const hedge = Hedge.make({
          delay,
          maxAttempts,
          while: (e: Unavailable | BadRequest) => e._tag === "Unavailable"
        })
        // read the log from inside the calling fiber, right after the hedge returns
        const fiber = yield* Effect.fork(
          Effect.flatMap(Effect.exit(fake.call.pipe(hedge)), (exit) => Effect.map(fake.ended, (ended) => ({ exit, ended })))
        )
        yield* TestClock.adjust("10 seconds")
        const polled = yield* Fiber.poll(fiber)
        if (Option.isNone(polled)) yield* Fiber.interrupt(fiber) // every attempt hangs: the caller gives up
        const started = yield* fake.started
        assert.isAtMost(started.length, maxAttempts)
        assert.deepStrictEqual(sorted(started), Array.from({ length: started.length }, (_, i) => i + 1))
        // every started attempt has ended (finished or interrupted) once the call is over
        assert.deepStrictEqual(sorted(yield* fake.ended), sorted(started))
        if (Option.isSome(polled) && Exit.isSuccess(polled.value)) {
          const { ended, exit } = polled.value.value
          assert.deepStrictEqual(sorted(ended), sorted(started), "attempts had ended when the hedge returned")
          if (Exit.isSuccess(exit)) {
            const winner = Number(exit.value.replace("attempt ", ""))
            assert.strictEqual(plans[winner - 1]?.outcome, "ok")
          }
        }
      }),
    { fastCheck: { numRuns: numRuns(80), seed: 4242 } }
  )
})
