/**
 * Promises of the circuit breaker that the mutation run found unguarded
 * (reports/mutation/CircuitBreaker.json): each group pins what a user sees —
 * admission, rejection, recorded outcomes, events, metrics, state, deadline
 * cuts, keyed circuits, modes, classification — in the way production breaks
 * it (a classifier answering nonsense, a wall clock an hour off, a caller or a
 * timeout cutting the call, a store without some optional member, a second
 * breaker of the same name).
 */
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Duration,
  Effect,
  Exit,
  Fiber,
  Metric,
  Queue,
  Ref,
  Stream,
  TestClock
} from "effect"
import { CircuitBreaker, Errors, Timeout } from "effect-resilience"
import { currentDeadline, type Deadline } from "../src/internal/deadline.js"
import { Boom, decisionOf, ok, tagOf } from "./utils/breaker.js"
import { settle } from "./utils/fibers.js"
import { captureLogs } from "./utils/logs.js"
import { counterValue } from "./utils/metrics.js"

const fail = Effect.fail(new Boom())

let names = 0
const nameOf = (what: string) => `mutants-${what}-${++names}`

/** A breaker (own name unless given) on `store` (a fresh memory store unless given). */
const breakerOn = (
  store: CircuitBreaker.CircuitBreakerStore,
  options: Partial<CircuitBreaker.CircuitBreaker.Options> = {}
) =>
  CircuitBreaker.make({
    name: nameOf("breaker"),
    tripPolicy: CircuitBreaker.consecutive(1),
    openDuration: "1 second",
    ...options
  }).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))

const breakerOf = (options: Partial<CircuitBreaker.CircuitBreaker.Options> = {}) =>
  Effect.flatMap(CircuitBreaker.makeStoreMemory(), (store) => breakerOn(store, options))

/** Subscribes to a breaker's events; `take` returns what was published so far. */
const recordEvents = (breaker: CircuitBreaker.CircuitBreaker) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make<Array<CircuitBreaker.Event>>([])
    yield* breaker.events.pipe(Stream.runForEach((e) => Ref.update(seen, (es) => [...es, e])), Effect.forkScoped)
    yield* settle
    return { take: Effect.zipRight(settle, Ref.get(seen)) }
  })

/** Runs `effect` on a fork while the TestClock moves by `by`; its exit. */
const during = <A, E>(by: Duration.DurationInput, effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.exit(effect))
    yield* TestClock.adjust(by)
    return yield* Fiber.join(fiber)
  })

/** The value of a gauge of one breaker (by its `policy` tag and no other tag). */
const gaugeOf = (metric: string, policy: string) =>
  Effect.map(Metric.snapshot, (pairs) => {
    for (const p of pairs) {
      if (p.metricKey.name !== metric) continue
      const tags = p.metricKey.tags
      if (tags.length === 1 && tags[0]!.key === "policy" && tags[0]!.value === policy) {
        return Number((p.metricState as unknown as { readonly value: number }).value)
      }
    }
    return undefined
  })

/**
 * The TestClock with its wall time `offset.millis` away from its monotonic
 * time (an NTP step, a VM resumed): what the breaker measures breaks with
 * (monotonic) and shows instants in (wall) then differ, as in production.
 */
const steppedClock = (offset: { millis: number }) =>
  Effect.map(Effect.clock, (test): Clock.Clock => ({
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => test.unsafeCurrentTimeMillis() + offset.millis,
    currentTimeMillis: Effect.sync(() => test.unsafeCurrentTimeMillis() + offset.millis),
    unsafeCurrentTimeNanos: () => test.unsafeCurrentTimeNanos(),
    currentTimeNanos: test.currentTimeNanos,
    sleep: (duration) => test.sleep(duration)
  }))

const HOUR = 3_600_000

describe("CircuitBreaker: a classifier's answer is checked before it is recorded", () => {
  /** Captures the warnings the breaker logs about its classifier. */
  const logged = Effect.sync(captureLogs)

  // Pins: whatever a classify answers that is not an Outcome (nothing, a number, an unknown tag, a
  // Failure whose retryAfter is not a finite Duration), the call's own result is returned, it is
  // recorded as the default classifier would record it, and the bad answer is reported.
  it.scoped("an answer that is not an Outcome: the default classification, the caller's result as it is, reported", () =>
    Effect.gen(function*() {
      const answers: ReadonlyArray<unknown> = [
        null,
        undefined,
        42,
        "Failure",
        { _tag: "Bogus" },
        { _tag: "Failure", retryAfter: Duration.infinity },
        { _tag: "Failure", retryAfter: 5_000 },
        { _tag: "Failure", retryAfter: "5 seconds" }
      ]
      for (const answer of answers) {
        const name = nameOf("classify")
        const log = yield* logged
        const breaker = yield* breakerOf({ name, classify: () => answer as CircuitBreaker.Outcome })
        const exit = yield* Effect.exit(breaker(ok)).pipe(log.provide)
        assert.deepStrictEqual(exit, Exit.succeed("ok"), String(answer))
        const m = yield* breaker.metrics()
        assert.deepStrictEqual([m.successes, m.failures, m.state._tag], [1, 0, "Closed"], String(answer))
        assert.strictEqual(
          yield* counterValue("resilience_user_code_failures", { module: "CircuitBreaker", policy: name, hook: "classify", kind: "malformed" }),
          1
        )
        assert.lengthOf(log.lines, 1)
        assert.match(log.lines[0]!, new RegExp(`^CircuitBreaker "${name}": classify answered a value of the wrong type .*; classified by the default classifier$`))
      }
    }))

  // Pins: a valid Failure with a finite retryAfter is taken as it is: the call counts as a failure
  // and the break lasts at least retryAfter (the dependency's own hint).
  it.scoped("a Failure with a finite retryAfter is recorded as it is: the break lasts the hint", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf({ classify: () => CircuitBreaker.Outcome.failure({ retryAfter: "30 seconds" }) })
      assert.strictEqual(yield* breaker(ok), "ok")
      assert.strictEqual(yield* tagOf(breaker), "Open")
      const rejected = yield* Effect.flip(breaker(ok))
      assert.deepStrictEqual(rejected.retryAfter, Duration.seconds(30))
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
    }))
})

describe("CircuitBreaker: a failure whose cause is sequential (a failing finalizer)", () => {
  // Pins: the caller gets the whole cause (the failure and the finalizer's defect), and the
  // breaker records the failure (it trips), on the fast path as on any other.
  it.scoped("is handed back whole and recorded", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf()
      const call = fail.pipe(Effect.ensuring(Effect.die("cleanup failed")))
      const exit = yield* Effect.exit(breaker(call))
      assert.isTrue(Exit.isFailure(exit))
      const cause = (exit as Exit.Failure<unknown, unknown>).cause
      assert.deepStrictEqual(Cause.failures(cause).pipe((c) => Array.from(c)), [new Boom()])
      assert.deepStrictEqual(Array.from(Cause.defects(cause)), ["cleanup failed"])
      const m = yield* breaker.metrics()
      assert.deepStrictEqual([m.failures, m.state._tag], [1, "Open"])
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
    }))
})

describe("CircuitBreaker: events say which circuit, whether enforced, whether a probe", () => {
  // Pins: a rejection of the own circuit is published under the key "default", enforced; in
  // MetricsOnly mode the same rejection is published with enforced false and the call runs.
  it.scoped("Rejected: key default, enforced true; MetricsOnly: enforced false, and the call runs", () =>
    Effect.gen(function*() {
      const name = nameOf("rejected")
      const breaker = yield* breakerOf({ name })
      yield* Effect.exit(breaker(fail))
      const events = yield* recordEvents(breaker)
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
      yield* breaker.setMode("MetricsOnly")
      assert.strictEqual(yield* breaker(ok), "ok")
      const rejected = (yield* events.take).filter((e) => e._tag === "Rejected")
      assert.deepStrictEqual(rejected, [
        { _tag: "Rejected", breaker: name, key: "default", reason: "CircuitOpen", retryAfter: Duration.seconds(1), enforced: true },
        { _tag: "Rejected", breaker: name, key: "default", reason: "CircuitOpen", retryAfter: Duration.seconds(1), enforced: false }
      ])
    }))

  // Pins: a consecutive breaker without slow calls (admitted without reading the time) still says
  // that a closed circuit's failure is not a probe, and a half-open probe's failure is one.
  it.scoped("Failure events of a consecutive breaker without slowCall: probe false while closed, true for a probe", () =>
    Effect.gen(function*() {
      const name = nameOf("failures")
      const breaker = yield* breakerOf({ name, tripPolicy: CircuitBreaker.consecutive(2) })
      const events = yield* recordEvents(breaker)
      yield* Effect.exit(breaker(fail))
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("1 second")
      yield* Effect.exit(breaker(fail))
      const failures = (yield* events.take).filter((e) => e._tag === "Failure")
      assert.deepStrictEqual(failures, [
        { _tag: "Failure", breaker: name, key: "default", slow: false, probe: false },
        { _tag: "Failure", breaker: name, key: "default", slow: false, probe: false },
        { _tag: "Failure", breaker: name, key: "default", slow: false, probe: true }
      ])
    }))
})

describe("CircuitBreaker: modes", () => {
  // Pins: a mode change is published once, with where it came from and when (wall time); setting
  // the mode in force again publishes nothing.
  it.scoped("ModeChanged: from, to and when, once per change; the mode in force again changes nothing", () =>
    Effect.gen(function*() {
      const name = nameOf("mode-event")
      const offset = { millis: HOUR }
      const clock = yield* steppedClock(offset)
      const breaker = yield* Effect.withClock(breakerOf({ name }), clock)
      yield* TestClock.adjust("5 seconds")
      const events = yield* recordEvents(breaker)
      yield* breaker.setMode("MetricsOnly")
      yield* breaker.setMode("MetricsOnly")
      yield* breaker.setMode("Enforcing")
      const wall = 5_000 + HOUR
      assert.deepStrictEqual(yield* events.take, [
        { _tag: "ModeChanged", breaker: name, from: "Enforcing", to: "MetricsOnly", at: wall },
        { _tag: "ModeChanged", breaker: name, from: "MetricsOnly", to: "Enforcing", at: wall }
      ])
    }))

  // Pins: setMode refuses what is not a mode (InvalidOptionsError naming the option), and the mode stays.
  it.scoped("setMode with something that is not a mode fails with InvalidOptionsError; the mode stays", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf()
      const error = yield* Effect.flip(breaker.setMode("Off" as CircuitBreaker.Mode))
      assert.instanceOf(error, Errors.InvalidOptionsError)
      assert.strictEqual(error._tag, "InvalidOptionsError")
      assert.strictEqual((error as Errors.InvalidOptionsError).module, "CircuitBreaker.setMode")
      assert.strictEqual((error as Errors.InvalidOptionsError).option, "mode")
      assert.strictEqual((yield* breaker.state()).mode, "Enforcing")
      yield* Effect.exit(breaker(fail))
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
    }))

  // Pins: the breakers of one name on one store share the mode: a change made through one reaches
  // every other at once (also after a third one came and went), and a breaker made later starts in it.
  it.scoped("breakers of one name on one store follow each other's mode changes, and a new one starts in the mode in force", () =>
    Effect.gen(function*() {
      const store = yield* CircuitBreaker.makeStoreMemory()
      const name = nameOf("peers")
      const a = yield* breakerOn(store, { name })
      const b = yield* breakerOn(store, { name })
      yield* a.setMode("Disabled")
      assert.strictEqual((yield* b.state()).mode, "Disabled")
      yield* Effect.exit(b(fail))
      assert.strictEqual(yield* b(ok), "ok") // disabled: not tripped
      const late = yield* breakerOn(store, { name })
      assert.strictEqual((yield* late.state()).mode, "Disabled")
      // a third breaker comes and goes: the others still follow each other
      yield* Effect.scoped(breakerOn(store, { name }))
      yield* a.setMode("Enforcing")
      assert.strictEqual((yield* b.state()).mode, "Enforcing")
      assert.strictEqual((yield* late.state()).mode, "Enforcing")
      yield* Effect.exit(b(fail))
      assert.strictEqual(yield* decisionOf(b(ok)), "CircuitOpen")
      assert.strictEqual(yield* decisionOf(a(ok)), "CircuitOpen")
    }))

  // Pins: with a store that keeps no mode (no setMode/getMode), setMode changes this breaker's mode
  // alone, every time it is called.
  it.scoped("a store that keeps no mode: setMode applies to the breaker it is called on, alone, each time", () =>
    Effect.gen(function*() {
      const { getMode: _getMode, setMode: _setMode, ...base } = yield* CircuitBreaker.makeStoreMemory()
      const store: CircuitBreaker.CircuitBreakerStore = base
      const name = nameOf("no-mode")
      const a = yield* breakerOn(store, { name })
      const b = yield* breakerOn(store, { name })
      const events = yield* recordEvents(a)
      yield* a.setMode("Disabled")
      assert.strictEqual((yield* a.state()).mode, "Disabled")
      assert.strictEqual((yield* b.state()).mode, "Enforcing")
      yield* a.setMode("MetricsOnly")
      yield* a.setMode("MetricsOnly") // the mode in force: nothing changes, nothing published
      yield* a.setMode("Enforcing")
      assert.deepStrictEqual((yield* events.take).map((e) => e._tag === "ModeChanged" ? `${e.from}->${e.to}` : e._tag), [
        "Enforcing->Disabled",
        "Disabled->MetricsOnly",
        "MetricsOnly->Enforcing"
      ])
      assert.strictEqual((yield* a.state()).mode, "Enforcing")
    }))

  // Pins: a caller interrupted during a call of a MetricsOnly breaker is never counted (neither a
  // failure nor an ignored call): the caller's interruption says nothing about the dependency.
  it.scoped("MetricsOnly: a call interrupted by its caller is not counted at all", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf()
      yield* breaker.setMode("MetricsOnly")
      const fiber = yield* Effect.fork(breaker(Effect.never))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.interrupt(fiber)
      const m = yield* breaker.metrics()
      assert.deepStrictEqual([m.successes, m.failures, m.ignored, m.state._tag], [0, 0, 0, "Closed"])
    }))
})

describe("CircuitBreaker: modes on a shared store (subscribe)", () => {
  type Message = CircuitBreaker.Transition | CircuitBreaker.CircuitBreakerStore.ModeSetting

  /** The memory store as a shared one: a subscription the test delivers on, the mode read from the store. */
  const sharedStore = Effect.gen(function*() {
    const base = yield* CircuitBreaker.makeStoreMemory()
    const queues = new Set<Queue.Queue<Message>>()
    const store: CircuitBreaker.CircuitBreakerStore = {
      ...base,
      kind: "shared-test",
      // shared between processes: wall-clock instants, no synchronous handle
      time: "wall",
      unsafe: undefined,
      subscribe: () =>
        Effect.map(
          Effect.acquireRelease(
            Effect.tap(Queue.unbounded<Message>(), (q) => Effect.sync(() => queues.add(q))),
            (q) => Effect.sync(() => queues.delete(q))
          ),
          (q) => Stream.fromQueue(q)
        )
    }
    const deliver = (m: Message) => Effect.zipRight(Effect.forEach(queues, (q) => Queue.offer(q, m), { discard: true }), settle)
    return { base, store, deliver }
  })

  const setting = (mode: CircuitBreaker.Mode, generation: number): CircuitBreaker.CircuitBreakerStore.ModeSetting => ({
    _tag: "ModeSetting",
    mode,
    since: 1_000 * generation,
    generation
  })

  // Pins: a mode change from another replica (through the subscription) is applied once, in
  // order: a newer setting wins, an older one or another of the same generation is ignored, and
  // a mode setting is never taken for a transition.
  it.scoped("mode settings from the subscription: newer ones applied, older or same-generation ones ignored", () =>
    Effect.gen(function*() {
      const { deliver, store } = yield* sharedStore
      const name = nameOf("shared-settings")
      const breaker = yield* breakerOn(store, { name })
      yield* settle
      const events = yield* recordEvents(breaker)
      yield* deliver(setting("Disabled", 10))
      assert.strictEqual((yield* breaker.state()).mode, "Disabled")
      yield* deliver(setting("MetricsOnly", 9))
      assert.strictEqual((yield* breaker.state()).mode, "Disabled")
      yield* deliver(setting("Enforcing", 10))
      assert.strictEqual((yield* breaker.state()).mode, "Disabled")
      yield* deliver(setting("MetricsOnly", 11))
      assert.strictEqual((yield* breaker.state()).mode, "MetricsOnly")
      const m = yield* breaker.metrics()
      assert.deepStrictEqual(m.transitions, [])
      // published once each, at the store's instant of the change (wall time already)
      assert.deepStrictEqual(yield* events.take, [
        { _tag: "ModeChanged", breaker: name, from: "Enforcing", to: "Disabled", at: 10_000 },
        { _tag: "ModeChanged", breaker: name, from: "Disabled", to: "MetricsOnly", at: 11_000 }
      ])
    }))

  // Pins: a breaker on a shared store reads the mode in force when it starts (in the background),
  // and reads it again every minute (a change the subscription lost is caught up).
  it.scoped("the mode in force is read at start, and again every minute", () =>
    Effect.gen(function*() {
      const { base, store } = yield* sharedStore
      const name = nameOf("shared-mode")
      yield* base.setMode!(name, "Disabled", 0)
      const breaker = yield* breakerOn(store, { name })
      yield* settle
      assert.strictEqual((yield* breaker.state()).mode, "Disabled")
      // changed behind its back (the message lost): read within a minute
      yield* base.setMode!(name, "MetricsOnly", 0)
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* breaker.state()).mode, "Disabled")
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual((yield* breaker.state()).mode, "MetricsOnly")
    }))
})

describe("CircuitBreaker: a store failing a control names the operation", () => {
  // Pins: isolate, reset and setMode failing in the store fail with a CircuitBreakerError whose
  // reason names the operation that failed (what an operator reads first).
  it.scoped("isolate, reset and setMode", () =>
    Effect.gen(function*() {
      const base = yield* CircuitBreaker.makeStoreMemory()
      const down = Effect.die(new Error("ECONNRESET"))
      const store: CircuitBreaker.CircuitBreakerStore = { ...base, isolate: () => down, reset: () => down, setMode: () => down }
      const breaker = yield* breakerOn(store)
      for (const [operation, control] of [["isolate", breaker.isolate()], ["reset", breaker.reset()], ["setMode", breaker.setMode("Disabled")]] as const) {
        const error = yield* Effect.flip(control)
        assert.instanceOf(error, CircuitBreaker.CircuitBreakerError, operation)
        const reason = (error as CircuitBreaker.CircuitBreakerError).reason
        assert.strictEqual(reason._tag === "CircuitBreakerStoreError" && reason.operation, operation)
      }
      assert.strictEqual((yield* breaker.metrics()).totals.storeErrors, 3)
    }))
})

describe("CircuitBreaker: the memory store's answers", () => {
  // Pins: isolating a new key in a store full of circuits it must keep fails, saying so, and
  // isolates nothing (no circuit is forgotten to make room).
  it.scoped("isolate in a store full of circuits it must keep: a store error naming isolate and why", () =>
    Effect.gen(function*() {
      const store = yield* CircuitBreaker.makeStoreMemory({ maxKeys: 1 })
      const breaker = yield* breakerOn(store)
      yield* Effect.exit(breaker.execute(fail, { key: "open" }))
      assert.strictEqual(yield* tagOf(breaker, "open"), "Open")
      const error = yield* Effect.flip(breaker.isolate("new"))
      assert.instanceOf(error, CircuitBreaker.CircuitBreakerError)
      const reason = (error as CircuitBreaker.CircuitBreakerError).reason
      assert.strictEqual(reason._tag, "CircuitBreakerStoreError")
      assert.strictEqual(reason._tag === "CircuitBreakerStoreError" && reason.operation, "isolate")
      assert.strictEqual(
        reason._tag === "CircuitBreakerStoreError" && reason.detail,
        "the store is full (maxKeys 1) of circuits it must keep (open, half-open, isolated)"
      )
      assert.strictEqual(yield* tagOf(breaker, "open"), "Open")
    }))

  // Pins: the mode the store keeps is a ModeSetting; setting the mode in force again is no new
  // generation (nothing to publish, nothing for a peer to apply).
  it.scoped("setMode answers the ModeSetting in force; the same mode again is the same setting", () =>
    Effect.gen(function*() {
      const store = yield* CircuitBreaker.makeStoreMemory()
      const first = yield* store.setMode!("ns", "Disabled", 5)
      assert.deepStrictEqual({ ...first, generation: 0 }, { _tag: "ModeSetting", mode: "Disabled", since: 5, generation: 0 })
      assert.deepStrictEqual(yield* store.setMode!("ns", "Disabled", 9), first)
      assert.deepStrictEqual(yield* store.getMode!("ns"), first)
    }))
})

describe("CircuitBreaker: a mode the store lost", () => {
  // Pins: the in-memory store honours `after` (a generation above what the caller applied).
  it.effect("the in-memory store's setMode: the same mode is kept as it is; a caller that applied a later generation gets one above it", () =>
    Effect.gen(function*() {
      const store = yield* CircuitBreaker.makeStoreMemory()
      const disabled = yield* store.setMode!("ns", "Disabled", 5)
      assert.deepStrictEqual(yield* store.setMode!("ns", "Disabled", 6, disabled.generation), disabled)
      assert.deepStrictEqual(yield* store.setMode!("ns", "Disabled", 6), disabled)
      // a generation this store never gave (a breaker moved between stores): the same mode is written above it
      const again = yield* store.setMode!("ns", "Disabled", 7, disabled.generation + 100)
      assert.deepStrictEqual([again.mode, again.since, again.generation], ["Disabled", 7, disabled.generation + 101])
      const enforcing = yield* store.setMode!("ns", "Enforcing", 8)
      assert.isTrue(enforcing.generation > again.generation)
      assert.deepStrictEqual(yield* store.getMode!("ns"), enforcing)
    }))

  /**
   * A shared store (it has `subscribe`, so breakers read its mode every minute) over a memory store,
   * which can lose its mode: `getMode` then answers `answer` (never set, by default), and
   * `restoreMode` (when `restores`) is recorded and writes the setting back. `setMode`'s `after` and
   * answer are recorded too.
   */
  const losingStore = (restores: boolean) =>
    Effect.gen(function*() {
      const base = yield* CircuitBreaker.makeStoreMemory()
      const log = {
        lost: false,
        answer: { _tag: "ModeSetting", mode: "Enforcing", since: 0, generation: 0 } as CircuitBreaker.CircuitBreakerStore.ModeSetting,
        restored: [] as Array<CircuitBreaker.CircuitBreakerStore.ModeSetting>,
        set: [] as Array<CircuitBreaker.CircuitBreakerStore.ModeSetting>,
        newer: undefined as CircuitBreaker.CircuitBreakerStore.ModeSetting | undefined,
        after: [] as Array<number | undefined>
      }
      const store: CircuitBreaker.CircuitBreakerStore = {
        ...base,
        subscribe: () => Effect.succeed(Stream.never),
        getMode: (namespace) => Effect.suspend(() => log.lost ? Effect.succeed(log.answer) : base.getMode!(namespace)),
        setMode: (namespace, mode, now, after) => {
          log.after.push(after)
          return Effect.tap(base.setMode!(namespace, mode, now, after), (setting) => void log.set.push(setting))
        },
        restoreMode: restores
          ? (_namespace, setting) =>
            Effect.sync(() => {
              log.restored.push(setting)
              log.lost = false
              // a setMode made meanwhile (newer) is kept and answered instead
              return log.newer ?? setting
            })
          : undefined
      }
      return { store, log }
    })

  // Pins: a breaker whose periodic read finds an older setting than the one it applied writes its
  // own back, as it was (mode, since, generation), and keeps it; one as new or newer is applied.
  it.scoped("the periodic read writes back the setting applied (as it was) when the store answers an older one", () =>
    Effect.gen(function*() {
      const { log, store } = yield* losingStore(true)
      const breaker = yield* breakerOn(store)
      yield* settle
      yield* TestClock.adjust("5 seconds")
      yield* breaker.setMode("Disabled")
      // setMode passed what it had applied (the store's initial setting: generation 0)
      assert.deepStrictEqual(log.after, [0])
      const applied = log.set[0]!
      assert.deepStrictEqual([applied.mode, applied.since], ["Disabled", 5_000])
      log.lost = true
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.deepStrictEqual(log.restored, [applied])
      assert.strictEqual((yield* breaker.state()).mode, "Disabled")
      // the store answers the setting applied again: nothing written back
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.lengthOf(log.restored, 1)
      // a newer setting than the one applied: applied, nothing written back
      log.lost = true
      log.answer = { _tag: "ModeSetting", mode: "MetricsOnly", since: 7, generation: applied.generation + 5 }
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.strictEqual((yield* breaker.state()).mode, "MetricsOnly")
      assert.lengthOf(log.restored, 1)
      // the next setMode passes the generation now applied
      yield* breaker.setMode("Enforcing")
      assert.deepStrictEqual(log.after, [0, applied.generation + 5])
    }))

  // Pins: what restoreMode answers is applied (a setMode another breaker made meanwhile wins).
  it.scoped("the setting restoreMode answers is applied: a newer one made meanwhile wins over the one written back", () =>
    Effect.gen(function*() {
      const { log, store } = yield* losingStore(true)
      const breaker = yield* breakerOn(store)
      yield* settle
      yield* breaker.setMode("Disabled")
      log.lost = true
      log.newer = { _tag: "ModeSetting", mode: "MetricsOnly", since: 9, generation: log.set[0]!.generation + 1 }
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.lengthOf(log.restored, 1)
      assert.strictEqual((yield* breaker.state()).mode, "MetricsOnly")
    }))

  // Pins: a store without restoreMode: an older answer is ignored (the breaker keeps its mode).
  it.scoped("a store without restoreMode: an older answer changes nothing", () =>
    Effect.gen(function*() {
      const { log, store } = yield* losingStore(false)
      const breaker = yield* breakerOn(store)
      yield* settle
      yield* breaker.setMode("Disabled")
      log.lost = true
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.strictEqual((yield* breaker.state()).mode, "Disabled")
      assert.deepStrictEqual(log.restored, [])
      // and it still reads the store: a newer setting is applied at the next read
      log.answer = { _tag: "ModeSetting", mode: "MetricsOnly", since: 7, generation: log.set[0]!.generation + 1 }
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.strictEqual((yield* breaker.state()).mode, "MetricsOnly")
    }))
})

describe("CircuitBreaker: keys of readers, controls and execute", () => {
  // Pins: the readers and controls refuse a key the breaker would refuse for a call (not a
  // string, too long), with an InvalidKeyError naming the breaker, and create nothing.
  it.scoped("state, metrics, isolate and reset refuse an invalid key with InvalidKeyError", () =>
    Effect.gen(function*() {
      const name = nameOf("keys")
      const breaker = yield* breakerOf({ name, maxKeyLength: 8 })
      for (const key of [42 as unknown as string, "much-too-long-a-key"]) {
        for (const reader of [breaker.state(key), breaker.metrics(key), breaker.isolate(key), breaker.reset(key)]) {
          const error = yield* Effect.flip(reader as Effect.Effect<unknown, unknown>)
          assert.isTrue(Errors.isInvalidKeyError(error), String(key))
          assert.deepStrictEqual((error as Errors.InvalidKeyError).policy, { kind: "CircuitBreaker", name })
        }
      }
      // nothing was isolated
      assert.strictEqual(yield* breaker.execute(ok, { key: "k" }), "ok")
    }))

  // Pins: execute without options (a call from untyped code) is refused as a call without a
  // valid key, as an Effect failure, never a throw.
  it.scoped("execute without options fails with InvalidKeyError instead of throwing", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf()
      const execute = breaker.execute as unknown as (opts: unknown) => (self: Effect.Effect<string>) => Effect.Effect<string, unknown>
      const error = yield* Effect.flip(Effect.suspend(() => execute(undefined)(ok)))
      assert.isTrue(Errors.isInvalidKeyError(error))
      assert.strictEqual((error as Errors.InvalidKeyError).reason, "NotAString")
    }))
})

describe("CircuitBreaker: transition history and the state gauge", () => {
  // Pins: metrics().transitions keeps exactly the last 100 transitions.
  it.scoped("metrics().transitions holds the last 100", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf()
      for (let i = 0; i < 60; i++) {
        yield* breaker.isolate()
        yield* breaker.reset()
      }
      const history = (yield* breaker.metrics()).transitions
      assert.lengthOf(history, 100)
      assert.strictEqual(`${history[0]!.from}->${history[0]!.to}`, "Closed->Isolated")
      assert.strictEqual(`${history[99]!.from}->${history[99]!.to}`, "Isolated->Closed")
    }))

  // Pins: the breaker's state gauge shows its own circuit: a keyed circuit's transitions leave it.
  it.scoped("a keyed circuit's transitions do not move the own circuit's state gauge", () =>
    Effect.gen(function*() {
      const name = nameOf("gauge")
      const breaker = yield* breakerOf({ name })
      yield* breaker.isolate("tenant")
      yield* Effect.exit(breaker.execute(fail, { key: "other" }))
      assert.strictEqual(yield* tagOf(breaker, "tenant"), "Isolated")
      assert.strictEqual(yield* gaugeOf("resilience_circuit_breaker_state", name), 0)
      yield* breaker.isolate()
      assert.notStrictEqual(yield* gaugeOf("resilience_circuit_breaker_state", name), 0)
    }))
})

describe("CircuitBreaker: instants shown in wall time, breaks measured on monotonic time", () => {
  // Pins: with the wall clock an hour off the monotonic clock, state(), metrics(), transitions and
  // events show wall-clock instants (a Closed state has no `until`), and the break is measured on
  // monotonic time: a step of the wall clock neither shortens nor lengthens it.
  it.scoped("state, transitions and the break, with the wall clock an hour ahead, then stepped two hours back", () =>
    Effect.gen(function*() {
      const offset = { millis: HOUR }
      const clock = yield* steppedClock(offset)
      const breaker = yield* Effect.withClock(breakerOf({ openDuration: "10 seconds" }), clock)
      yield* TestClock.adjust("5 seconds")
      const transitions = yield* breaker.transitions.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* settle
      const closed = yield* breaker.state()
      assert.deepStrictEqual(closed, { ...closed, _tag: "Closed" })
      assert.isFalse("until" in closed)
      yield* Effect.exit(breaker(fail))
      const wall = 5_000 + HOUR
      const open = yield* breaker.state()
      assert.strictEqual(open._tag, "Open")
      assert.deepStrictEqual(
        open._tag === "Open" ? [open.since, open.until] : [],
        [wall, wall + 10_000]
      )
      assert.deepStrictEqual((yield* breaker.metrics()).transitions.map((t) => t.at), [wall])
      assert.deepStrictEqual(Array.from(yield* Fiber.join(transitions)).map((t) => t.at), [wall])
      // the wall clock steps two hours back: the break still ends 10 seconds after it began
      offset.millis = -HOUR
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* decisionOf(breaker(ok)), "admitted")
      const state = yield* breaker.state()
      assert.strictEqual(state.since, 15_000 - HOUR)
    }))

  // Pins: a store that keeps wall time (shared between processes) is given wall-clock instants.
  it.scoped("a store keeping wall time is given wall-clock instants", () =>
    Effect.gen(function*() {
      const offset = { millis: HOUR }
      const clock = yield* steppedClock(offset)
      const base = yield* CircuitBreaker.makeStoreMemory()
      const told: Array<number> = []
      const store: CircuitBreaker.CircuitBreakerStore = {
        ...base,
        time: "wall",
        unsafe: undefined,
        admit: (ns, key, config, now) => {
          told.push(now)
          return base.admit(ns, key, config, now)
        }
      }
      const breaker = yield* Effect.withClock(breakerOn(store), clock)
      yield* TestClock.adjust("5 seconds")
      yield* breaker(ok)
      assert.deepStrictEqual(told, [5_000 + HOUR])
    }))
})

describe("CircuitBreaker: a call cut by an enclosing deadline", () => {
  /** Runs `breaker(Effect.never)` under `Timeout.make(timeout)` after waiting `admittedAfter` inside it. */
  const cut = (
    breaker: CircuitBreaker.CircuitBreaker,
    timeout: Duration.DurationInput,
    admittedAfter: Duration.DurationInput = 0
  ) => during("1 hour", Timeout.make(timeout)(Effect.zipRight(Effect.sleep(admittedAfter), breaker(Effect.never))))

  const counted = (breaker: CircuitBreaker.CircuitBreaker) =>
    Effect.map(breaker.metrics(), (m) => ({ failures: m.failures, ignored: m.ignored, successes: m.successes }))

  // Pins: a call cut by the library's own timeout after running long enough in the dependency
  // (half the timeout, at most 1 second) counts as a failure, for every trip policy.
  it.scoped("cut after running long enough: a failure (consecutive, rate, timeRate)", () =>
    Effect.gen(function*() {
      const policies = [
        CircuitBreaker.consecutive(1),
        CircuitBreaker.rate({ threshold: 1, size: 1 }),
        CircuitBreaker.timeRate({ threshold: 0.5, window: "1 minute", minimumCalls: 1 })
      ]
      for (const tripPolicy of policies) {
        const breaker = yield* breakerOf({ tripPolicy, openDuration: "1 day" })
        // a circuit that exists already (a consecutive one admits its calls without reading the time)
        assert.strictEqual(yield* breaker(ok), "ok")
        const exit = yield* cut(breaker, "4 seconds")
        assert.isTrue(Exit.isFailure(exit))
        assert.deepStrictEqual(yield* counted(breaker), { failures: 1, ignored: 0, successes: 1 }, tripPolicy._tag)
        assert.strictEqual(yield* tagOf(breaker), "Open", tripPolicy._tag)
      }
    }))

  // Pins: the minimum is half the timeout's duration (at most 1 second), inclusive: a call admitted
  // with half the budget left counts, one admitted later is not blamed on the dependency.
  it.scoped("the minimum run: half the timeout, inclusive; a call admitted later than that is not counted", () =>
    Effect.gen(function*() {
      const exactly = yield* breakerOf()
      yield* cut(exactly, "1 second", "500 millis")
      assert.deepStrictEqual(yield* counted(exactly), { failures: 1, ignored: 0, successes: 0 })
      const late = yield* breakerOf()
      yield* cut(late, "1 second", "501 millis")
      assert.deepStrictEqual(yield* counted(late), { failures: 0, ignored: 0, successes: 0 })
      // a short timeout: half of 400 ms is enough
      const short = yield* breakerOf()
      yield* cut(short, "400 millis")
      assert.deepStrictEqual(yield* counted(short), { failures: 1, ignored: 0, successes: 0 })
      // a long one: 1 second is enough
      const long = yield* breakerOf()
      yield* cut(long, "1 minute", "58 seconds")
      assert.deepStrictEqual(yield* counted(long), { failures: 1, ignored: 0, successes: 0 })
    }))

  // Pins: with slowCall, the minimum run is slowCall.duration.
  it.scoped("with slowCall, the minimum run is slowCall.duration", () =>
    Effect.gen(function*() {
      const slowCall = { duration: "3 seconds", threshold: 1 } as const
      const before = yield* breakerOf({ slowCall })
      yield* cut(before, "2500 millis")
      assert.deepStrictEqual(yield* counted(before), { failures: 0, ignored: 0, successes: 0 })
      const after = yield* breakerOf({ slowCall })
      yield* cut(after, "3 seconds")
      assert.deepStrictEqual((yield* counted(after)).failures, 1)
    }))

  // Pins: a call its caller interrupts is never counted, even under a deadline and after running
  // long: only the library's own timeout speaks for the dependency.
  it.scoped("interrupted by its caller under a deadline, after running long: not counted at all", () =>
    Effect.gen(function*() {
      for (const tripPolicy of [CircuitBreaker.consecutive(1), CircuitBreaker.rate({ threshold: 1, size: 1 })]) {
        const breaker = yield* breakerOf({ tripPolicy })
        const fiber = yield* Effect.fork(Timeout.make("1 minute")(breaker(Effect.never)))
        yield* TestClock.adjust("30 seconds")
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(yield* counted(breaker), { failures: 0, ignored: 0, successes: 0 }, tripPolicy._tag)
        assert.strictEqual(yield* tagOf(breaker), "Closed")
      }
    }))

  // Pins: a request's deadline (from its header: `fromRequest`) running out is the caller's budget,
  // never the dependency's failure, even when a library timeout inside it does the cutting.
  it.scoped("a deadline that came with a request: a cut is never counted", () =>
    Effect.gen(function*() {
      const breaker = yield* breakerOf()
      const now = yield* Clock.currentTimeMillis
      const deadline: Deadline = {
        at: now + 1_000,
        duration: Duration.seconds(1),
        policy: "request",
        error: () => new Errors.TimeoutError({ duration: Duration.seconds(1), policy: "request", scope: "overall", fromRequest: true }),
        active: true,
        fromRequest: true
      }
      const exit = yield* during(
        "1 minute",
        Effect.locally(Timeout.make("30 seconds")(breaker(Effect.never)), currentDeadline, deadline)
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(yield* counted(breaker), { failures: 0, ignored: 0, successes: 0 })
      assert.strictEqual(yield* tagOf(breaker), "Closed")
    }))
})

describe("CircuitBreaker: a store with part of the synchronous handle", () => {
  // Pins: a store whose synchronous handle can admit a closed circuit without the time, but not
  // record a success without it, still gets every call recorded (the breaker does not use the half).
  it.scoped("admitClosed without recordClosedSuccess: calls run and are recorded", () =>
    Effect.gen(function*() {
      const base = yield* CircuitBreaker.makeStoreMemory()
      const store: CircuitBreaker.CircuitBreakerStore = {
        ...base,
        unsafe: {
          namespace: (namespace) => {
            const { recordClosedSuccess: _recordClosedSuccess, ...handle } = base.unsafe!.namespace(namespace)
            return handle
          }
        }
      }
      const breaker = yield* breakerOn(store, { tripPolicy: CircuitBreaker.consecutive(2) })
      // the first call makes the circuit, the next ones find it closed
      for (let i = 0; i < 3; i++) assert.strictEqual(yield* breaker(ok), "ok")
      yield* Effect.exit(breaker(fail))
      yield* Effect.exit(breaker(fail))
      const m = yield* breaker.metrics()
      assert.deepStrictEqual([m.successes, m.failures, m.state._tag], [3, 2, "Open"])
    }))
})
