/**
 * Replicas sharing circuits through the Redis store (real redis-server): each
 * replica is an independent layer stack (its own Redis connection, store and
 * subscriber connection, its own breaker) in this process, as another
 * process would have. Time is the shared TestClock (`clock: "caller"`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Data, Deferred, Duration, Effect, Exit, Fiber, Schedule, Stream, TestClock } from "effect"
import { CircuitBreaker, Errors } from "effect-resilience"
import { hasRedis } from "../utils/redis-server.js"
import { breakerOn, eventually, replicaContext, sharedServer } from "./fixtures/breaker-redis.js"
import { ok, tagOf } from "../utils/breaker.js"
import { counterValue } from "../utils/metrics.js"

class Boom extends Data.TaggedError("Boom")<{}> {}

const boom = Effect.fail(new Boom())

/** Lets a forked stream consumer subscribe before events are emitted. */
const subscribed = Effect.repeatN(Effect.yieldNow(), 20)

describe.skipIf(!hasRedis)("CircuitBreaker replicas on the Redis store (real redis-server)", () => {
  const server = sharedServer()

  /** `n` replicas, each with its own layer stack, each making a breaker with `options`. */
  const replicas = (n: number, options: CircuitBreaker.CircuitBreaker.Options) =>
    Effect.forEach(Array.from({ length: n }), () =>
      Effect.flatMap(replicaContext(server().url, { store: { clock: "caller" } }), (context) => breakerOn(context, options)))

  it.scoped("one replica runs the whole cycle from the caller's clock: trip, reject, half-open, a failed probe doubles the break, close", () =>
    Effect.gen(function*() {
      const [breaker] = yield* replicas(1, {
        name: "cycle",
        tripPolicy: CircuitBreaker.consecutive(3),
        openDuration: Schedule.exponential("1 second"),
        maxOpenDuration: "10 seconds"
      })
      for (let i = 0; i < 3; i++) yield* Effect.exit(breaker!(boom))
      const open = yield* breaker!.state()
      assert.strictEqual(open._tag, "Open")
      assert.strictEqual(open._tag === "Open" && open.until, 1000) // TestClock time, not Redis time
      const e = yield* Effect.flip(breaker!(Effect.succeed(1)))
      assert.strictEqual(e.reason._tag, "CircuitOpen")
      assert.strictEqual(e.retryAfter && Duration.toMillis(e.retryAfter), 1000)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* tagOf(breaker!), "HalfOpen")
      yield* Effect.exit(breaker!(boom)) // probe fails: second opening, 2 s
      const reopened = yield* breaker!.state()
      assert.strictEqual(reopened._tag === "Open" && reopened.until - reopened.since, 2000)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* breaker!(ok), "ok")
      const m = yield* breaker!.metrics()
      assert.strictEqual(m.state._tag, "Closed")
      assert.strictEqual(m.store, "redis")
      assert.deepStrictEqual(m.transitions.map((t) => `${t.from}->${t.to}@${t.at}`), [
        "Closed->Open@0",
        "Open->HalfOpen@1000",
        "HalfOpen->Open@1000",
        "Open->HalfOpen@3000",
        "HalfOpen->Closed@3000"
      ])
      assert.strictEqual(m.failures, 4)
      assert.strictEqual(m.rejections, 1)
    }))

  it.scoped("a rolling deploy lowers halfOpen.probes mid-sample: the new replica's next call decides the sample on its configuration (it was stuck half-open for good: finding 30)", () =>
    Effect.gen(function*() {
      const replica = (probes: number, threshold: number) =>
        Effect.flatMap(replicaContext(server().url, { store: { clock: "caller" } }), (context) =>
          breakerOn(context, {
            name: `rolling-${threshold}`,
            tripPolicy: CircuitBreaker.consecutive(1),
            openDuration: "1 second",
            halfOpen: { probes, failureRateThreshold: threshold }
          }))
      // passes on the new configuration: one success of 3 (undecided), then probes 1
      const before = yield* replica(3, 0.5)
      const after = yield* replica(1, 0.5)
      yield* Effect.exit(before(boom))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* before(ok), "ok")
      assert.strictEqual(yield* tagOf(after), "HalfOpen")
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* after(ok), "ok")
      assert.strictEqual(yield* tagOf(before), "Closed")
      // fails on the new configuration: one failure of 3 (under 1/2 of 3), then probes 1
      const before2 = yield* replica(3, 0.6)
      const after2 = yield* replica(1, 0.6)
      yield* Effect.exit(before2(boom))
      yield* TestClock.adjust("1 second")
      yield* Effect.exit(before2(boom))
      assert.strictEqual(yield* tagOf(after2), "HalfOpen")
      const rejected = yield* Effect.flip(after2(ok))
      assert.strictEqual(rejected instanceof CircuitBreaker.CircuitBreakerError && rejected.reason._tag, "CircuitOpen")
      const m = yield* after2.metrics()
      assert.deepStrictEqual(m.transitions.slice(-1).map((t) => `${t.from}->${t.to} ${t.reason}`), ["HalfOpen->Open ProbeFailed"])
    }))

  it.scoped("failures spread across replicas open the circuit for all of them", () =>
    Effect.gen(function*() {
      const [a, b] = yield* replicas(2, {
        name: "spread",
        tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 10, minimumCalls: 4 }),
        openDuration: "10 seconds"
      })
      yield* a!(ok)
      yield* Effect.exit(a!(boom))
      yield* Effect.exit(b!(boom))
      assert.strictEqual(yield* tagOf(a!), "Closed") // 2 of 3 failed, below minimumCalls
      yield* Effect.exit(b!(boom)) // 3 of 4: the shared window trips
      for (const replica of [a!, b!]) {
        const state = yield* replica.state()
        assert.isTrue(state._tag === "Open" && state.until === 10_000)
        const error = yield* Effect.flip(replica(ok))
        assert.strictEqual(error.reason._tag, "CircuitOpen")
        assert.isTrue(Errors.isRejection(error))
      }
      // the counts are the circuit's, over every replica
      const m = yield* a!.metrics()
      assert.deepStrictEqual([m.successes, m.failures, m.rejections], [1, 3, 2])
      // keyed circuits are shared per key
      for (let i = 0; i < 4; i++) yield* Effect.exit((i % 2 === 0 ? a! : b!).execute(boom, { key: "eu" }))
      assert.strictEqual(yield* tagOf(b!, "eu"), "Open")
      assert.strictEqual(yield* tagOf(a!, "us"), "Closed")
    }))

  it.scoped("exactly one replica probes in half-open; its success closes the circuit for all", () =>
    Effect.gen(function*() {
      const all = yield* replicas(3, {
        name: "probe",
        tripPolicy: CircuitBreaker.consecutive(2),
        openDuration: "5 seconds"
      })
      yield* Effect.exit(all[0]!(boom))
      yield* Effect.exit(all[2]!(boom))
      assert.strictEqual(yield* tagOf(all[1]!), "Open")
      yield* TestClock.adjust("5 seconds")
      // 3 replicas × 4 concurrent callers race for the one probe slot
      const gate = yield* Deferred.make<string>()
      const fibers = yield* Effect.forEach(
        all.flatMap((replica) => [replica, replica, replica, replica]),
        (replica) => Effect.fork(Effect.exit(replica(Deferred.await(gate)))),
        { concurrency: "unbounded" }
      )
      const settled = Effect.map(
        Effect.forEach(fibers, Fiber.poll),
        (polls) => polls.filter((p) => p._tag === "Some").length
      )
      yield* eventually(Effect.map(settled, (n) => n === fibers.length - 1))
      const half = yield* all[1]!.state()
      assert.isTrue(half._tag === "HalfOpen" && half.probes === 1)
      yield* Deferred.succeed(gate, "ok")
      const exits = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(exits.filter(Exit.isSuccess).length, 1)
      for (const exit of exits.filter(Exit.isFailure)) {
        const error = yield* Effect.flip(exit)
        assert.strictEqual((error as CircuitBreaker.CircuitBreakerError).reason._tag, "CircuitHalfOpen")
      }
      for (const replica of all) assert.strictEqual(yield* tagOf(replica), "Closed")
    }))

  it.scoped("with probes: 2, exactly two calls probe across replicas", () =>
    Effect.gen(function*() {
      const all = yield* replicas(2, {
        name: "probes-2",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probes: 2, successThreshold: 2 }
      })
      yield* Effect.exit(all[0]!(boom))
      yield* TestClock.adjust("1 second")
      const gate = yield* Deferred.make<string>()
      const fibers = yield* Effect.forEach(
        [...all, ...all, ...all],
        (replica) => Effect.fork(Effect.exit(replica(Deferred.await(gate)))),
        { concurrency: "unbounded" }
      )
      const settled = Effect.map(Effect.forEach(fibers, Fiber.poll), (ps) => ps.filter((p) => p._tag === "Some").length)
      yield* eventually(Effect.map(settled, (n) => n === fibers.length - 2))
      yield* Deferred.succeed(gate, "ok")
      const exits = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(exits.filter(Exit.isSuccess).length, 2)
      assert.strictEqual(yield* tagOf(all[1]!), "Closed")
    }))

  it.scoped("transitions made by one replica reach every replica's stream, each exactly once", () =>
    Effect.gen(function*() {
      const name = "transitions-shared"
      const [a, b] = yield* replicas(2, {
        name,
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second"
      })
      const onA = yield* a!.transitions.pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      const onB = yield* b!.transitions.pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      const eventsOnB = yield* b!.events.pipe(
        Stream.filter((e) => e._tag === "Transition"),
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      yield* subscribed
      yield* Effect.exit(a!(boom)) // A opens the circuit
      yield* TestClock.adjust("1 second")
      yield* b!(ok) // B moves it to half-open and closes it
      const expected = ["Closed->Open@0", "Open->HalfOpen@1000", "HalfOpen->Closed@1000"]
      const show = (ts: Chunk.Chunk<CircuitBreaker.Transition>) => Chunk.toReadonlyArray(ts).map((t) => `${t.from}->${t.to}@${t.at}`)
      assert.deepStrictEqual(show(yield* Fiber.join(onA)), expected)
      assert.deepStrictEqual(show(yield* Fiber.join(onB)), expected)
      const event = Chunk.unsafeHead(yield* Fiber.join(eventsOnB))
      assert.isTrue(event._tag === "Transition" && event.transition.to === "Open")
      // no duplicates once every copy (the store's answer and the published one) has arrived: every replica's
      // subscriber has had every earlier message once it has another replica's later one (one channel, in order)
      yield* a!.isolate("marker-a")
      yield* b!.isolate("marker-b")
      yield* eventually(Effect.map(b!.metrics("marker-a"), (m) => m.transitions.length === 1))
      yield* eventually(Effect.map(a!.metrics("marker-b"), (m) => m.transitions.length === 1))
      for (const replica of [a!, b!]) {
        const history = (yield* replica.metrics()).transitions.map((t) => `${t.from}->${t.to}@${t.at}`)
        assert.deepStrictEqual(history, expected)
      }
      // the transitions metric counts each transition once, on the replica that made it
      assert.strictEqual(yield* counterValue("resilience_circuit_breaker_transitions", { policy: name, from: "Closed", to: "Open" }), 1)
      assert.strictEqual(
        yield* counterValue("resilience_circuit_breaker_transitions", { policy: name, from: "HalfOpen", to: "Closed" }),
        1
      )
    }))

  it.scoped("a late result from another replica's earlier period is fenced by generation", () =>
    Effect.gen(function*() {
      const [a, b] = yield* replicas(2, { name: "fenced", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "10 seconds" })
      const late = yield* Deferred.make<string, Boom>()
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Effect.exit(a!(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(late)))))
      yield* Deferred.await(started)
      yield* Effect.exit(b!(boom)) // B opens the circuit until t=10s
      yield* TestClock.adjust("4 seconds")
      yield* Deferred.fail(late, new Boom()) // A's call, admitted while closed, fails late
      yield* Fiber.join(fiber)
      const state = yield* b!.state()
      assert.isTrue(state._tag === "Open" && state.until === 10_000) // the break was not extended
      assert.strictEqual((yield* a!.metrics()).fenced, 1)
      // a late success from before an opening cannot close the circuit either
      const lateOk = yield* Deferred.make<string>()
      const started2 = yield* Deferred.make<void>()
      const call = yield* Effect.fork(a!.execute(Effect.zipRight(Deferred.succeed(started2, undefined), Deferred.await(lateOk)), { key: "k2" }))
      yield* Deferred.await(started2)
      yield* Effect.exit(b!.execute(boom, { key: "k2" }))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* tagOf(a!, "k2"), "HalfOpen")
      yield* Deferred.succeed(lateOk, "ok")
      assert.strictEqual(yield* Fiber.join(call), "ok")
      assert.strictEqual(yield* tagOf(b!, "k2"), "HalfOpen")
      assert.strictEqual((yield* b!.metrics("k2")).fenced, 1)
    }))

  it.scoped("a dead prober's lease ends after probeTimeout: a failed probe (reopened then), and another replica probes after the break; its late result is fenced", () =>
    Effect.gen(function*() {
      const contextA = yield* replicaContext(server().url, { store: { clock: "caller" } })
      const options = {
        name: "dead-prober",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probeTimeout: "3 seconds" }
      } as const
      const a = yield* breakerOn(contextA, options)
      const [b] = yield* replicas(1, options)
      yield* Effect.exit(a(boom))
      yield* TestClock.adjust("1 second")
      // A's probe hangs (its replica is as good as dead)
      const hung = yield* Effect.fork(a(Effect.never))
      yield* eventually(Effect.map(b!.state(), (s) => s._tag === "HalfOpen" && s.probes === 1))
      const rejected = yield* Effect.flip(b!(ok))
      assert.strictEqual(rejected.reason._tag, "CircuitHalfOpen")
      yield* TestClock.adjust("3 seconds") // the lease ends: a failed probe, the circuit reopens from then (issue 16 §3)
      const reopened = yield* Effect.flip(b!(ok))
      assert.isTrue(reopened.reason._tag === "CircuitOpen" && Duration.toMillis(reopened.reason.retryAfter) === 1000)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* b!(ok), "ok") // B probes and closes the circuit
      assert.strictEqual(yield* tagOf(a), "Closed")
      yield* Fiber.interrupt(hung) // the hung probe ends: recorded as ignored, fenced (its lease is gone)
      assert.strictEqual(yield* tagOf(b!), "Closed")
      assert.strictEqual((yield* b!.metrics()).fenced, 1)
    }))

  it.scoped("isolate on one replica rejects on every replica; reset on another closes for all", () =>
    Effect.gen(function*() {
      const [a, b] = yield* replicas(2, { name: "manual", tripPolicy: CircuitBreaker.consecutive(3), openDuration: "1 minute" })
      yield* a!.isolate()
      const error = yield* Effect.flip(b!(ok))
      assert.isTrue(error.reason._tag === "CircuitOpen" && error.reason.isolated)
      assert.strictEqual(yield* tagOf(b!), "Isolated")
      yield* b!.reset()
      assert.strictEqual(yield* a!(ok), "ok")
      assert.strictEqual((yield* a!.metrics()).state._tag, "Closed")
    }))
})
