/**
 * The breaker on the Redis store when Redis misbehaves (real redis-server,
 * real time, short timeouts; no timing is asserted — a hang would fail the
 * test by its timeout): a paused server (SIGSTOP: commands hang until the
 * command timeout), a killed server, a restarted one (state lost). In every
 * case: no hang beyond the timeout, no crash, `onStoreError` decides
 * ("allow" runs the call untracked, "fail" rejects it with the store error),
 * store errors are counted, probe leases never leak for longer than
 * `probeTimeout`, and everything recovers once Redis is back.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Data, Effect, Exit, Fiber, Stream } from "effect"
import { CircuitBreaker, Errors } from "effect-resilience"
import { Redis } from "effect-resilience/redis"
import { hasRedis } from "../utils/redis-server.js"
import { breakerOn, eventually, realSleep, replicaContext, restartableRedis } from "./fixtures/breaker-redis.js"
import { ok } from "../utils/breaker.js"
import { counterValue } from "../utils/metrics.js"

class Boom extends Data.TaggedError("Boom")<{}> {}

const boom = Effect.fail(new Boom())

/** True once the store answers again (a state read succeeds). */
const reachable = (breaker: CircuitBreaker.CircuitBreaker) => Effect.map(Effect.exit(breaker.state()), Exit.isSuccess)

const TIMEOUT = { commandTimeout: "80 millis", connectTimeout: "200 millis" } as const

/** Calls `effect` through the breaker until its circuit reads `tag` (a call may be untracked after a timeout). */
const callUntil = <A, E>(breaker: CircuitBreaker.CircuitBreaker, effect: Effect.Effect<A, E>, tag: CircuitBreaker.State["_tag"]) =>
  eventually(Effect.gen(function*() {
    yield* Effect.exit(breaker(effect))
    return (yield* breaker.state())._tag === tag
  }))

describe.skipIf(!hasRedis)("CircuitBreaker on the Redis store when Redis misbehaves (real redis-server)", () => {
  it.live("paused (SIGSTOP): calls end after the command timeout — allowed or rejected per onStoreError — and it recovers", () =>
    Effect.gen(function*() {
      const redis = yield* restartableRedis
      const context = yield* replicaContext(redis.url, { redis: TIMEOUT })
      const allow = yield* breakerOn(context, { name: "paused-allow", tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 minute" })
      const fail = yield* breakerOn(context, {
        name: "paused-fail",
        tripPolicy: CircuitBreaker.consecutive(2),
        openDuration: "1 minute",
        onStoreError: "fail"
      })
      const storeErrorEvent = yield* allow.events.pipe(
        Stream.filter((e) => e._tag === "StoreError"),
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      yield* allow(ok) // the circuits exist
      yield* fail(ok)
      yield* redis.pause
      // "allow": the call runs (untracked): its result and its own failure come through
      assert.strictEqual(yield* allow(ok), "ok")
      const own = yield* Effect.flip(allow(boom))
      assert.strictEqual(own._tag, "Boom")
      // "fail": rejected with the store error, which is not a load-shedding rejection
      const rejected = yield* Effect.flip(fail(ok))
      assert.strictEqual(rejected._tag, "CircuitBreakerError")
      assert.strictEqual(rejected.reason._tag, "CircuitBreakerStoreError")
      assert.isFalse(Errors.isRejection(rejected))
      // reads fail the same way instead of hanging
      const read = yield* Effect.flip(allow.state())
      assert.strictEqual(read.reason._tag, "CircuitBreakerStoreError")
      // an interrupted call whose admission hangs ends too
      const hanging = yield* Effect.fork(allow(Effect.never))
      yield* Fiber.interrupt(hanging)
      yield* redis.resume
      yield* eventually(reachable(allow))
      const event = yield* Fiber.join(storeErrorEvent)
      assert.isTrue([...event].every((e) => e._tag === "StoreError" && e.allowed))
      const m = yield* allow.metrics()
      assert.isAtLeast(m.totals.storeErrors, 3)
      assert.strictEqual(m.failures, 0) // the failure while paused was not recorded (untracked)
      assert.isAtLeast(yield* counterValue("resilience_circuit_breaker_store_errors", { policy: "paused-allow" }), 3)
      assert.strictEqual(yield* counterValue("resilience_circuit_breaker_rejections", { policy: "paused-fail", reason: "CircuitBreakerStoreError" }), 0)
      yield* fail.metrics() // publishes the batched counts
      assert.strictEqual(yield* counterValue("resilience_circuit_breaker_rejections", { policy: "paused-fail", reason: "CircuitBreakerStoreError" }), 1)
      // back to normal: failures are counted and open the circuit
      yield* callUntil(allow, boom, "Open")
      yield* eventually(Effect.map(Effect.flip(fail(boom)), (e) => e._tag === "Boom")) // "fail" lets calls through again
    }).pipe(Effect.scoped))

  it.live("a store timeout below the connection's bounds each script call", () =>
    Effect.gen(function*() {
      const redis = yield* restartableRedis
      const context = yield* replicaContext(redis.url, {
        redis: { commandTimeout: "5 seconds" },
        store: { timeout: "30 millis" }
      })
      const breaker = yield* breakerOn(context, { name: "store-timeout", tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 minute", onStoreError: "fail" })
      yield* breaker(ok)
      yield* redis.pause
      const error = yield* Effect.flip(breaker(ok))
      yield* redis.resume
      assert.strictEqual(error.reason._tag, "CircuitBreakerStoreError")
      assert.include(error.message, "timeout")
      yield* eventually(reachable(breaker))
    }).pipe(Effect.scoped))

  it.live("killed mid-run: calls go on (allow) or fail with the store error (fail); after a restart (state lost) it works again", () =>
    Effect.gen(function*() {
      const redis = yield* restartableRedis
      const contextA = yield* replicaContext(redis.url, { redis: TIMEOUT })
      const contextB = yield* replicaContext(redis.url, { redis: TIMEOUT })
      const options = { name: "killed", tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 minute" } as const
      const a = yield* breakerOn(contextA, options)
      const b = yield* breakerOn(contextB, { ...options, onStoreError: "fail" })
      // the circuit is open before the crash
      yield* Effect.exit(a(boom))
      yield* Effect.exit(b(boom))
      assert.strictEqual((yield* a.state())._tag, "Open")
      // a workload runs on A (a call every 5 ms) while Redis is killed and started again: calls before,
      // during and after (each phase waits until one more call of the workload started in it has ended)
      const call = Effect.exit(a(ok))
      const exits: Array<Effect.Effect.Success<typeof call>> = []
      let stopped = false
      const workload = yield* Effect.fork(
        Effect.repeat(Effect.zipLeft(Effect.map(call, (exit) => void exits.push(exit)), realSleep(5)), { until: () => stopped })
      )
      /** Waits until `n` more calls of the workload have ended (one after another: the last started in this phase). */
      const moreCalls = (n: number) =>
        Effect.suspend(() => {
          const before = exits.length
          return eventually(Effect.sync(() => exits.length >= before + n))
        })
      yield* moreCalls(1)
      yield* redis.kill
      const duringA = yield* a(ok) // allowed, untracked
      assert.strictEqual(duringA, "ok")
      const duringB = yield* Effect.flip(b(ok))
      assert.strictEqual(duringB.reason._tag, "CircuitBreakerStoreError")
      yield* moreCalls(2)
      yield* redis.start
      yield* moreCalls(2)
      stopped = true
      yield* Fiber.join(workload)
      // nothing crashed: every call either ran or was rejected by the open circuit
      for (const exit of exits) {
        if (Exit.isFailure(exit)) {
          const error = yield* Effect.flip(exit)
          assert.strictEqual(error.reason._tag, "CircuitOpen")
        }
      }
      // both replicas reconnect (EVALSHA falls back to EVAL: the script cache was lost with the state)
      yield* eventually(reachable(a), 500)
      yield* eventually(reachable(b), 500)
      assert.strictEqual((yield* b.state())._tag, "Closed") // the state was lost with the server
      yield* Effect.exit(a(boom))
      yield* callUntil(b, boom, "Open")
      yield* eventually(Effect.map(Effect.flip(b(ok)), (e) => e.reason._tag === "CircuitOpen"))
      assert.isAtLeast((yield* a.metrics()).totals.storeErrors, 1)
    }).pipe(Effect.scoped))

  it.live("after a restart the subscriber re-subscribes: transitions reach the other replica again", () =>
    Effect.gen(function*() {
      const redis = yield* restartableRedis
      const contextA = yield* replicaContext(redis.url, { redis: TIMEOUT })
      const contextB = yield* replicaContext(redis.url, { redis: TIMEOUT })
      const options = { name: "resubscribe", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" } as const
      const a = yield* breakerOn(contextA, options)
      const b = yield* breakerOn(contextB, options)
      yield* redis.kill
      yield* redis.start
      yield* eventually(reachable(a), 500)
      // the subscriber reconnects on its own schedule: publish until one reaches B
      let key = 0
      yield* eventually(
        Effect.gen(function*() {
          yield* Effect.exit(a.execute(boom, { key: `k${++key}` }))
          return (yield* b.metrics(`k${key}`)).transitions.length > 0
        }),
        500
      )
      assert.strictEqual((yield* b.metrics(`k${key}`)).transitions[0]!.to, "Open")
    }).pipe(Effect.scoped))

  it.live("no leaked lease: a lost record holds the probe slot at most probeTimeout; a timed-out admission's lease is removed", () =>
    Effect.gen(function*() {
      const redis = yield* restartableRedis
      const context = yield* replicaContext(redis.url, { redis: TIMEOUT })
      const breaker = yield* breakerOn(context, {
        name: "leases",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "100 millis",
        halfOpen: { probeTimeout: "300 millis" }
      })
      const halfOpenWithProbe = Effect.map(breaker.state(), (s) => s._tag === "HalfOpen" && s.probes === 1)
      // 1. the probe's result never reaches Redis: the replica's connection drops while the probe runs
      yield* callUntil(breaker, boom, "Open")
      yield* eventually(Effect.map(breaker.state(), (s) => s._tag === "HalfOpen"))
      const client = Context.get(context, Redis.Redis).client
      assert.strictEqual(yield* breaker(Effect.zipLeft(ok, Effect.sync(() => client.disconnect(true)))), "ok")
      yield* eventually(reachable(breaker))
      yield* eventually(halfOpenWithProbe) // the lease is still held…
      yield* eventually(Effect.map(Effect.flip(breaker(ok)), (e) => e.reason._tag === "CircuitHalfOpen"))
      yield* callUntil(breaker, ok, "Closed") // …until it expires; a new probe closes it
      // 2. the admission times out on the client but runs once Redis resumes: the store then removes
      // the lease it took (a ZREM sent right after it), so the slot is free at once, not after probeTimeout
      const patient = yield* breakerOn(context, {
        name: "leases-late-admission",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "100 millis",
        halfOpen: { probeTimeout: "1 minute" }
      })
      yield* callUntil(patient, boom, "Open")
      yield* eventually(Effect.map(patient.state(), (s) => s._tag === "HalfOpen"))
      yield* redis.pause
      assert.strictEqual(yield* patient(ok), "ok") // allowed (untracked) after the timeout
      yield* redis.resume
      yield* eventually(reachable(patient))
      const half = yield* patient.state()
      assert.isTrue(half._tag === "HalfOpen" && half.probes === 0, JSON.stringify(half))
      yield* callUntil(patient, ok, "Closed") // a probe gets the slot well within probeTimeout
      assert.isAtLeast((yield* patient.metrics()).totals.storeErrors, 1)
    }).pipe(Effect.scoped))
})
