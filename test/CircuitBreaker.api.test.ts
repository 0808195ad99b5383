/**
 * The breaker's surface around its state machine: what it publishes (Effect
 * metrics, totals, rates, events), how it runs over a store without the
 * synchronous fast path (a remote store), what a failing or interrupted
 * store does to a call, and how a shared store's subscription merges the
 * transitions of other replicas (each published once).
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Data, Deferred, Duration, Effect, Exit, Fiber, Metric, Queue, Ref, Stream, TestClock } from "effect"
import { CircuitBreaker } from "effect-resilience"
import { ok } from "./utils/breaker.js"
import { settle } from "./utils/fibers.js"

class Boom extends Data.TaggedError("Boom")<{}> {}
class NotFound extends Data.TaggedError("NotFound")<{}> {}

type Transition = CircuitBreaker.Transition
type Operation = "admit" | "record" | "snapshot" | "isolate" | "reset"

const fail = Effect.fail(new Boom())


/** A call that runs until its gate is opened; `started` resolves when it begins. */
const gated = Effect.gen(function*() {
  const gate = yield* Deferred.make<string, Boom>()
  const started = yield* Deferred.make<void>()
  return { gate, started, call: Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate)) }
})

/** `took` long, then `outcome`. */
const slow = <A, E>(took: Duration.DurationInput, outcome: Effect.Effect<A, E>) => Effect.zipRight(Effect.sleep(took), outcome)

/** Runs `effect` on a fork while the TestClock moves by `by`. */
const during = <A, E>(by: Duration.DurationInput, effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.exit(effect))
    yield* TestClock.adjust(by)
    return yield* Fiber.join(fiber)
  })

/**
 * Every metric series of one breaker (by its `policy` tag) as
 * `name{tags} value`, sorted: exactly what a dashboard would see.
 */
const seriesOf = (policy: string) =>
  Effect.map(Metric.snapshot, (pairs) =>
    pairs
      .filter((p) => p.metricKey.tags.some((t) => t.key === "policy" && t.value === policy))
      .map((p) => {
        const tags = p.metricKey.tags
          .filter((t) => t.key !== "policy")
          .map((t) => `${t.key}=${t.value}`)
          .sort()
          .join(",")
        const state = p.metricState as unknown as { readonly count?: number; readonly value?: number }
        return `${p.metricKey.name}{${tags}} ${Number(state.count ?? state.value)}`
      })
      .sort())

/** Events in a comparable form (durations in milliseconds, transitions as from->to, store errors by operation and message). */
const describeEvent = (e: CircuitBreaker.Event) => {
  switch (e._tag) {
    case "Transition":
      return `Transition ${e.transition.key} ${e.transition.from}->${e.transition.to}`
    case "SlowCall":
      return { ...e, duration: Duration.toMillis(e.duration) }
    case "Rejected":
      return { ...e, retryAfter: e.retryAfter === undefined ? undefined : Duration.toMillis(e.retryAfter) }
    case "StoreError":
      return { ...e, error: `${e.error.operation}: ${e.error.message}` }
    default:
      return e
  }
}

/** Subscribes to a breaker's events; `take` returns what was published so far. */
const recordEvents = (breaker: CircuitBreaker.CircuitBreaker) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make<Array<CircuitBreaker.Event>>([])
    yield* breaker.events.pipe(
      Stream.runForEach((e) => Ref.update(seen, (es) => [...es, e])),
      Effect.forkScoped
    )
    yield* settle
    return { take: Effect.zipRight(settle, Effect.map(Ref.get(seen), (es) => es.map(describeEvent))) }
  })

interface TestStore {
  readonly store: CircuitBreaker.CircuitBreakerStore
  /** An operation with a fault fails (or dies, or is interrupted) with it instead of running. */
  readonly faults: { [K in Operation]?: Effect.Effect<never, unknown> }
  /** Runs `effect` with `operation` failing with `fault`, and takes the fault away afterwards. */
  readonly withFault: (
    operation: Operation,
    fault: Effect.Effect<never, unknown>
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The namespaces breakers registered, in order. */
  readonly registered: Array<string>
  /** Transitions made through the store, in order. */
  readonly made: Array<Transition>
  /** Delivers a transition to every subscription (what a shared store's channel does). */
  readonly deliver: (t: Transition) => Effect.Effect<void>
}

/**
 * The memory store without its synchronous fast path, so breakers use the
 * effectful store API as with a remote store. With `shared`, it has a
 * subscription; with `echo`, every transition made through it is delivered
 * to the subscriptions before the operation answers (as a Redis script
 * publishing on its channel would), else the test delivers with `deliver`.
 */
const testStore = (options: { readonly shared?: boolean; readonly echo?: boolean } = {}) =>
  Effect.gen(function*() {
    const base = yield* CircuitBreaker.makeStoreMemory()
    const faults: TestStore["faults"] = {}
    const registered: Array<string> = []
    const made: Array<Transition> = []
    const subscriptions = new Set<Queue.Queue<Transition>>()
    const deliver = (t: Transition) => Effect.forEach(subscriptions, (q) => Queue.offer(q, t), { discard: true })
    const run = <A>(
      operation: Operation,
      effect: Effect.Effect<A, CircuitBreaker.CircuitBreakerStoreError>,
      transitionsOf: (a: A) => ReadonlyArray<Transition>
    ): Effect.Effect<A, CircuitBreaker.CircuitBreakerStoreError> =>
      Effect.suspend(() => {
        const fault = faults[operation]
        if (fault !== undefined) return fault as Effect.Effect<never, CircuitBreaker.CircuitBreakerStoreError>
        return Effect.tap(effect, (a) => {
          const ts = transitionsOf(a)
          made.push(...ts)
          // the copy reaches the subscriber first: it is handled before the answer
          return options.echo === true ? Effect.zipRight(Effect.forEach(ts, deliver, { discard: true }), settle) : Effect.void
        })
      })
    const none = () => []
    const store: CircuitBreaker.CircuitBreakerStore = {
      kind: "test",
      register: (namespace, config) => Effect.zipRight(Effect.sync(() => registered.push(namespace)), base.register(namespace, config)),
      admit: (ns, key, config, now) => run("admit", base.admit(ns, key, config, now), (a) => a.transitions),
      record: (ns, key, config, ticket, result, now) =>
        run("record", base.record(ns, key, config, ticket, result, now), (r) => r.transitions),
      snapshot: (ns, key, config, now) => run("snapshot", base.snapshot(ns, key, config, now), none),
      isolate: (ns, key, config, now) => run("isolate", base.isolate(ns, key, config, now), (ts) => ts),
      reset: (ns, key, config, now) => run("reset", base.reset(ns, key, config, now), (ts) => ts),
      subscribe: options.shared === true
        ? () =>
          Effect.map(
            Effect.acquireRelease(
              Effect.tap(Queue.unbounded<Transition>(), (q) => Effect.sync(() => subscriptions.add(q))),
              (q) => Effect.sync(() => subscriptions.delete(q))
            ),
            (q) => Stream.fromQueue(q)
          )
        : undefined
    }
    const withFault: TestStore["withFault"] = (operation, fault) => (effect) =>
      Effect.acquireUseRelease(
        Effect.sync(() => (faults[operation] = fault)),
        () => effect,
        () => Effect.sync(() => delete faults[operation])
      )
    return { store, faults, withFault, registered, made, deliver } satisfies TestStore
  })

const withStore = (t: TestStore) => Effect.provideService(CircuitBreaker.CircuitBreakerStore, t.store)

const transitionsOf = (m: CircuitBreaker.Metrics) => m.transitions.map((t) => `${t.from}->${t.to}`)

describe("CircuitBreaker API: identity", () => {
  it.scoped("isCircuitBreaker: true for a breaker, false for a plain object or another function", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "api-guard", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      assert.isTrue(CircuitBreaker.isCircuitBreaker(breaker))
      // a breaker is callable: an object that merely carries the TypeId is not one
      assert.isFalse(CircuitBreaker.isCircuitBreaker({ [CircuitBreaker.TypeId]: CircuitBreaker.TypeId }))
      assert.isFalse(CircuitBreaker.isCircuitBreaker(() => "ok"))
      assert.isFalse(CircuitBreaker.isCircuitBreaker(null))
    }))

  it.scoped("unnamed breakers get their own namespace in the store (a process token and a number: never a name, never another replica's); a named breaker uses its name", () =>
    Effect.gen(function*() {
      const t = yield* testStore()
      const options = { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" } as const
      yield* CircuitBreaker.make(options).pipe(withStore(t))
      yield* CircuitBreaker.make(options).pipe(withStore(t))
      yield* CircuitBreaker.make({ ...options, name: "api-namespace" }).pipe(withStore(t))
      const [first, second, named] = t.registered
      const n = /^circuit-breaker#anonymous-([0-9a-f-]{36})-(\d+)$/.exec(first!)
      assert.isNotNull(n, first)
      assert.strictEqual(second, `circuit-breaker#anonymous-${n![1]}-${Number(n![2]) + 1}`)
      assert.strictEqual(named, "api-namespace")
    }))
})

describe("CircuitBreaker API: published metrics and totals", () => {
  it.scoped("one series per thing that happened, tagged by outcome, reason or transition; no key label by default", () =>
    Effect.gen(function*() {
      const name = "api-series"
      const breaker = yield* CircuitBreaker.make({ name, tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 second" })
      yield* breaker(ok)
      yield* breaker(ok)
      yield* Effect.exit(breaker(fail))
      yield* Effect.exit(breaker(fail))
      yield* Effect.exit(breaker(ok))
      yield* breaker.metrics()
      // nothing for what never happened (ignored, slow, fenced, other reasons), no per-key series
      assert.deepStrictEqual(yield* seriesOf(name), [
        "resilience_circuit_breaker_calls{outcome=failure} 2",
        "resilience_circuit_breaker_calls{outcome=success} 2",
        "resilience_circuit_breaker_mode{} 0",
        "resilience_circuit_breaker_rejections{reason=CircuitOpen} 1",
        "resilience_circuit_breaker_state{} 2",
        "resilience_circuit_breaker_transitions{from=Closed,to=Open} 1"
      ])
    }))

  it.scoped("ignored calls, slow calls and late (fenced) results are published and totalled; each transition in its own series", () =>
    Effect.gen(function*() {
      const name = "api-published"
      const breaker = yield* CircuitBreaker.make({
        name,
        tripPolicy: CircuitBreaker.rate({ threshold: 1, size: 10 }),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 1 },
        classify: CircuitBreaker.ignoreTags("NotFound")
      })
      yield* during("2 seconds", breaker(slow("2 seconds", ok)))
      const late = yield* gated
      const lateFiber = yield* Effect.fork(breaker(late.call))
      yield* Deferred.await(late.started)
      yield* Effect.exit(breaker(Effect.fail(new NotFound())))
      yield* Effect.exit(breaker(Effect.fail(new NotFound())))
      yield* breaker.isolate()
      yield* Deferred.succeed(late.gate, "late")
      yield* Fiber.join(lateFiber)
      yield* breaker.reset()
      const m = yield* breaker.metrics()
      assert.deepStrictEqual(m.totals, { successes: 2, failures: 0, ignored: 2, rejections: 0, slowCalls: 1, fenced: 1, storeErrors: 0, untracked: 0 })
      assert.deepStrictEqual(yield* seriesOf(name), [
        "resilience_circuit_breaker_calls{outcome=ignored} 2",
        "resilience_circuit_breaker_calls{outcome=success} 2",
        "resilience_circuit_breaker_fenced{} 1",
        "resilience_circuit_breaker_mode{} 0",
        "resilience_circuit_breaker_slow_calls{} 1",
        "resilience_circuit_breaker_state{} 0",
        "resilience_circuit_breaker_transitions{from=Closed,to=Isolated} 1",
        "resilience_circuit_breaker_transitions{from=Isolated,to=Closed} 1"
      ])
    }))

  it.scoped("rejections by reason (open, half-open, store failure) are published; totals.rejections adds them up", () =>
    Effect.gen(function*() {
      const name = "api-rejections"
      const t = yield* testStore()
      const breaker = yield* CircuitBreaker.make({
        name,
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        onStoreError: "fail"
      }).pipe(withStore(t))
      yield* Effect.exit(breaker(fail))
      const open = yield* Effect.flip(breaker(ok))
      assert.strictEqual(open.reason._tag, "CircuitOpen")
      yield* TestClock.adjust("1 second")
      const probe = yield* gated
      const probeFiber = yield* Effect.fork(breaker(probe.call))
      yield* Deferred.await(probe.started)
      const halfOpen = yield* Effect.flip(breaker(ok))
      // retryAfter: until the probe's lease ends (probeTimeout, 1 minute by default)
      assert.deepStrictEqual(halfOpen.reason, new CircuitBreaker.CircuitHalfOpen({ probes: 1, retryAfter: Duration.minutes(1) }))
      assert.deepStrictEqual(halfOpen.retryAfter, Duration.minutes(1))
      assert.strictEqual(halfOpen.message, `Circuit ${name} is half-open and its 1 probe slot is taken: retry after 1m`)
      // the store's own error is the rejection's reason, as it is
      const down = new CircuitBreaker.CircuitBreakerStoreError({ operation: "admit", detail: "store down" })
      const storeFailed = yield* Effect.flip(breaker(ok)).pipe(t.withFault("admit", Effect.fail(down)))
      assert.strictEqual(storeFailed.reason, down)
      yield* Deferred.succeed(probe.gate, "fine")
      yield* Fiber.join(probeFiber)
      const m = yield* breaker.metrics()
      assert.strictEqual(m.state._tag, "Closed")
      assert.deepStrictEqual(m.totals, { successes: 1, failures: 1, ignored: 0, rejections: 3, slowCalls: 0, fenced: 0, storeErrors: 1, untracked: 0 })
      assert.deepStrictEqual(yield* seriesOf(name), [
        "resilience_circuit_breaker_calls{outcome=failure} 1",
        "resilience_circuit_breaker_calls{outcome=success} 1",
        "resilience_circuit_breaker_mode{} 0",
        "resilience_circuit_breaker_rejections{reason=CircuitBreakerStoreError} 1",
        "resilience_circuit_breaker_rejections{reason=CircuitHalfOpen} 1",
        "resilience_circuit_breaker_rejections{reason=CircuitOpen} 1",
        "resilience_circuit_breaker_state{} 0",
        "resilience_circuit_breaker_store_errors{} 1",
        "resilience_circuit_breaker_transitions{from=Closed,to=Open} 1",
        "resilience_circuit_breaker_transitions{from=HalfOpen,to=Closed} 1",
        "resilience_circuit_breaker_transitions{from=Open,to=HalfOpen} 1"
      ])
    }))

  it.scoped("failureRate: undefined for consecutive and for an empty window; slowCallRate: undefined without slowCall or calls", () =>
    Effect.gen(function*() {
      const consecutive = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(3), openDuration: "1 second" })
      yield* consecutive(ok)
      yield* Effect.exit(consecutive(fail))
      const c = yield* consecutive.metrics()
      assert.strictEqual(c.windowCalls, 1) // consecutive's window: the failures in a row
      assert.strictEqual(c.consecutiveFailures, 1)
      assert.isUndefined(c.failureRate)
      assert.isUndefined(c.slowCallRate)

      const rated = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.rate({ threshold: 1, size: 10 }),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 1 }
      })
      const empty = yield* rated.metrics()
      assert.strictEqual(empty.windowCalls, 0)
      assert.isUndefined(empty.failureRate)
      assert.isUndefined(empty.slowCallRate)
      yield* rated(ok)
      yield* Effect.exit(rated(fail))
      const two = yield* rated.metrics()
      assert.strictEqual(two.failureRate, 0.5)
      assert.strictEqual(two.slowCallRate, 0)
    }))
})

describe("CircuitBreaker API: events and classification", () => {
  it.scoped("Failure events say whether the call was a probe; SlowCall events carry the call's duration", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: "api-events",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 1 }
      })
      yield* TestClock.adjust("5 seconds") // calls start at t > 0
      const events = yield* recordEvents(breaker)
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("1 second")
      yield* during("2 seconds", breaker(slow("2 seconds", fail)))
      const breakerName = "api-events"
      assert.deepStrictEqual(yield* events.take, [
        { _tag: "Failure", breaker: breakerName, key: "default", slow: false, probe: false },
        "Transition default Closed->Open",
        "Transition default Open->HalfOpen",
        { _tag: "Failure", breaker: breakerName, key: "default", slow: true, probe: true },
        { _tag: "SlowCall", breaker: breakerName, key: "default", duration: 2000 },
        "Transition default HalfOpen->Open"
      ])
    }))

  it.scoped("an effectful classifier that dies falls back to the default classifier", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(2),
        openDuration: "1 second",
        classify: (exit) => Effect.die(Exit.isSuccess(exit) ? "classifier bug on a success" : "classifier bug on a failure")
      })
      assert.strictEqual(yield* breaker(ok), "ok")
      yield* Effect.exit(breaker(fail))
      yield* Effect.exit(breaker(fail))
      const m = yield* breaker.metrics()
      assert.strictEqual(m.state._tag, "Open")
      assert.strictEqual(m.successes, 1)
      assert.strictEqual(m.failures, 2)
    }))
})

describe("CircuitBreaker API: a store without the synchronous path (remote)", () => {
  it.scoped("every call is accounted: counts, probe flags, slow calls measured from the call's start", () =>
    Effect.gen(function*() {
      const t = yield* testStore()
      const breaker = yield* CircuitBreaker.make({
        name: "api-remote",
        tripPolicy: CircuitBreaker.consecutive(2),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 1 }
      }).pipe(withStore(t))
      yield* TestClock.adjust("5 seconds")
      const events = yield* recordEvents(breaker)
      assert.strictEqual(yield* breaker(ok), "ok") // fast: not slow
      yield* during("2 seconds", breaker(slow("2 seconds", ok)))
      yield* Effect.exit(breaker(fail))
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("1 second")
      yield* Effect.exit(breaker(fail)) // the probe
      assert.deepStrictEqual(yield* events.take, [
        { _tag: "SlowCall", breaker: "api-remote", key: "default", duration: 2000 },
        { _tag: "Failure", breaker: "api-remote", key: "default", slow: false, probe: false },
        { _tag: "Failure", breaker: "api-remote", key: "default", slow: false, probe: false },
        "Transition default Closed->Open",
        "Transition default Open->HalfOpen",
        { _tag: "Failure", breaker: "api-remote", key: "default", slow: false, probe: true },
        "Transition default HalfOpen->Open"
      ])
      const m = yield* breaker.metrics()
      assert.strictEqual(m.store, "test")
      assert.deepStrictEqual(m.totals, { successes: 2, failures: 3, ignored: 0, rejections: 0, slowCalls: 1, fenced: 0, storeErrors: 0, untracked: 0 })
    }))

  it.scoped("a store failure while recording: a StoreError event (allowed), and the call still counts, as a probe if it was one", () =>
    Effect.gen(function*() {
      const t = yield* testStore()
      const breaker = yield* CircuitBreaker.make({
        name: "api-record-fault",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 1 }
      }).pipe(withStore(t))
      yield* TestClock.adjust("5 seconds")
      const events = yield* recordEvents(breaker)
      const recordFails = t.withFault("record", Effect.die(new Error("ECONNRESET")))
      yield* during("2 seconds", breaker(slow("2 seconds", fail))).pipe(recordFails)
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("1 second")
      yield* Effect.exit(breaker(fail)).pipe(recordFails) // the probe
      const storeError = {
        _tag: "StoreError" as const,
        breaker: "api-record-fault",
        key: "default",
        error: "record: Circuit breaker store failed on record: ECONNRESET",
        allowed: true
      }
      assert.deepStrictEqual(yield* events.take, [
        storeError,
        { _tag: "Failure", breaker: "api-record-fault", key: "default", slow: true, probe: false },
        { _tag: "SlowCall", breaker: "api-record-fault", key: "default", duration: 2000 },
        { _tag: "Failure", breaker: "api-record-fault", key: "default", slow: false, probe: false },
        "Transition default Closed->Open",
        "Transition default Open->HalfOpen",
        storeError,
        { _tag: "Failure", breaker: "api-record-fault", key: "default", slow: false, probe: true }
      ])
      const m = yield* breaker.metrics()
      assert.deepStrictEqual(m.totals, { successes: 0, failures: 3, ignored: 0, rejections: 0, slowCalls: 1, fenced: 0, storeErrors: 2, untracked: 0 })
    }))

  it.scoped("a store failure at admission (onStoreError allow): the call runs untracked, never as a probe, timed from its start", () =>
    Effect.gen(function*() {
      const t = yield* testStore()
      const breaker = yield* CircuitBreaker.make({
        name: "api-admit-fault",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        slowCall: { duration: "1 second", threshold: 1 }
      }).pipe(withStore(t))
      yield* Effect.exit(breaker(fail))
      yield* TestClock.adjust("5 seconds") // the break is over: a tracked call would be a probe
      const events = yield* recordEvents(breaker)
      const down = new CircuitBreaker.CircuitBreakerStoreError({ operation: "admit", detail: "store down" })
      const exit = yield* during("2 seconds", breaker(slow("2 seconds", fail))).pipe(t.withFault("admit", Effect.fail(down)))
      assert.deepStrictEqual(exit, Exit.fail(new Boom()))
      const published = yield* events.take
      assert.deepStrictEqual(published, [
        { _tag: "StoreError", breaker: "api-admit-fault", key: "default", error: "admit: Circuit breaker store failed on admit: store down", allowed: true },
        { _tag: "Failure", breaker: "api-admit-fault", key: "default", slow: true, probe: false },
        { _tag: "SlowCall", breaker: "api-admit-fault", key: "default", duration: 2000 }
      ])
      const m = yield* breaker.metrics()
      assert.strictEqual(m.state._tag, "HalfOpen") // not recorded: the circuit did not move
      assert.strictEqual(m.totals.failures, 2)
      assert.strictEqual(m.totals.storeErrors, 1)
    }))

  it.scoped("store failures: the store's own error is kept; a defect or another failure is wrapped, naming the operation", () =>
    Effect.gen(function*() {
      const name = "api-wrap"
      const t = yield* testStore()
      const breaker = yield* CircuitBreaker.make({
        name,
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        onStoreError: "fail"
      }).pipe(withStore(t))
      const events = yield* recordEvents(breaker)
      const reset = new Error("ECONNRESET")
      const died = yield* Effect.flip(breaker(ok)).pipe(t.withFault("admit", Effect.die(reset)))
      assert.instanceOf(died.reason, CircuitBreaker.CircuitBreakerStoreError)
      assert.strictEqual(died.reason._tag === "CircuitBreakerStoreError" && died.reason.operation, "admit")
      assert.strictEqual(died.reason._tag === "CircuitBreakerStoreError" && died.reason.cause, reset)
      assert.strictEqual(died.message, `Circuit ${name}: Circuit breaker store failed on admit: ECONNRESET`)
      const untyped = new Error("not a store error")
      const failed = yield* Effect.flip(breaker(ok)).pipe(t.withFault("admit", Effect.fail(untyped)))
      assert.instanceOf(failed.reason, CircuitBreaker.CircuitBreakerStoreError)
      assert.strictEqual(failed.reason._tag === "CircuitBreakerStoreError" && failed.reason.cause, untyped)
      const snapshot = yield* Effect.flip(breaker.state()).pipe(t.withFault("snapshot", Effect.die("gone")))
      assert.strictEqual(snapshot.message, `Circuit ${name}: Circuit breaker store failed on snapshot: gone`)
      assert.deepStrictEqual(yield* events.take, [
        { _tag: "StoreError", breaker: name, key: "default", error: "admit: Circuit breaker store failed on admit: ECONNRESET", allowed: false },
        { _tag: "StoreError", breaker: name, key: "default", error: "admit: Circuit breaker store failed on admit: not a store error", allowed: false },
        { _tag: "StoreError", breaker: name, key: "default", error: "snapshot: Circuit breaker store failed on snapshot: gone", allowed: false }
      ])
      assert.strictEqual((yield* breaker.metrics()).totals.storeErrors, 3)
    }))

  it.scoped("an interrupted store operation interrupts the call: nothing runs, nothing counts as a store error", () =>
    Effect.gen(function*() {
      const t = yield* testStore()
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" }).pipe(
        withStore(t)
      )
      const ran = yield* Ref.make(0)
      const call = yield* Effect.exit(breaker(Ref.update(ran, (n) => n + 1))).pipe(t.withFault("admit", Effect.interrupt))
      assert.isTrue(Exit.isInterrupted(call))
      assert.strictEqual(yield* Ref.get(ran), 0)
      assert.isTrue(Exit.isInterrupted(yield* Effect.exit(breaker.state()).pipe(t.withFault("snapshot", Effect.interrupt))))
      assert.strictEqual((yield* breaker.metrics()).totals.storeErrors, 0)
    }))
})

describe("CircuitBreaker API: a shared store (subscribe)", () => {
  const options = { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" } as const

  it.scoped("each replica publishes every transition once, its own and the other's; only the maker counts it in the metric", () =>
    Effect.gen(function*() {
      const name = "api-replicas"
      const t = yield* testStore({ shared: true, echo: true })
      const a = yield* CircuitBreaker.make({ ...options, name }).pipe(withStore(t))
      const b = yield* CircuitBreaker.make({ ...options, name }).pipe(withStore(t))
      const fromA = yield* a.transitions.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      const eventsOfA = yield* recordEvents(a)
      yield* settle
      yield* Effect.exit(b(fail)) // b trips the shared circuit
      yield* settle
      yield* a.isolate() // a isolates it
      yield* settle
      const both = ["Closed->Open", "Open->Isolated"]
      assert.deepStrictEqual(transitionsOf(yield* a.metrics()), both)
      assert.deepStrictEqual(transitionsOf(yield* b.metrics()), both)
      assert.deepStrictEqual(
        Chunk.toReadonlyArray(yield* Fiber.join(fromA)).map((tr) => `${tr.from}->${tr.to}`),
        both
      )
      assert.deepStrictEqual(yield* eventsOfA.take, ["Transition default Closed->Open", "Transition default Open->Isolated"])
      const series = (yield* seriesOf(name)).filter((s) => s.startsWith("resilience_circuit_breaker_transitions"))
      assert.deepStrictEqual(series, [
        "resilience_circuit_breaker_transitions{from=Closed,to=Open} 1",
        "resilience_circuit_breaker_transitions{from=Open,to=Isolated} 1"
      ])
    }))

  it.scoped("copies of its own transitions arriving after the answers are skipped, however many come first", () =>
    Effect.gen(function*() {
      const t = yield* testStore({ shared: true })
      const breaker = yield* CircuitBreaker.make(options).pipe(withStore(t))
      yield* breaker.isolate("k")
      yield* breaker.reset("k")
      for (const tr of t.made) yield* t.deliver(tr)
      yield* settle
      assert.deepStrictEqual(transitionsOf(yield* breaker.metrics("k")), ["Closed->Isolated", "Isolated->Closed"])
      // a transition another replica made is published
      yield* t.deliver({ key: "k", from: "Closed", to: "Open", at: 0, generation: 1_000_000, reason: "Tripped" })
      yield* settle
      assert.deepStrictEqual(transitionsOf(yield* breaker.metrics("k")), ["Closed->Isolated", "Isolated->Closed", "Closed->Open"])
    }))

  it.scoped("the last 4096 of its own transitions are remembered to skip their copies; an older copy is published again", () =>
    Effect.gen(function*() {
      const t = yield* testStore({ shared: true })
      const breaker = yield* CircuitBreaker.make(options).pipe(withStore(t))
      for (let i = 0; i <= 4096; i++) yield* breaker.isolate(`k${i}`)
      assert.strictEqual(t.made.length, 4097)
      // k1's copy is among the last 4096: skipped (k1's own transition has left the history of 100)
      yield* t.deliver(t.made[1]!)
      yield* settle
      assert.deepStrictEqual(transitionsOf(yield* breaker.metrics("k1")), [])
      // k0's was forgotten: published again
      yield* t.deliver(t.made[0]!)
      yield* settle
      assert.deepStrictEqual(transitionsOf(yield* breaker.metrics("k0")), ["Closed->Isolated"])
    }))
})
