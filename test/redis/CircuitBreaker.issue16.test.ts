/**
 * Issue 16 (§1, §3, §4, §5) on the Redis store (real redis-server): a long
 * break outlives the idle TTL, a hung probe reopens the circuit from its
 * lease's end, half-open rejections say when to come back, half-open
 * sampling, and the modes shared by replicas through Redis. Each test failed
 * on the code before the issue. The in-process side is
 * test/CircuitBreaker.issue16.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, type Context, Deferred, Duration, Effect, Fiber, Queue, Schedule, Stream, TestClock } from "effect"
import { CircuitBreaker } from "effect-resilience"
import type { Redis as IORedis } from "ioredis"
import { Redis } from "effect-resilience/redis"
import { hasRedis } from "../utils/redis-server.js"
import { breakerOn, eventually, realSleep, replicaContext, sharedServer } from "./fixtures/breaker-redis.js"
import { Boom, decisionOf, hold, ok } from "../utils/breaker.js"
import { settle } from "../utils/fibers.js"

const fail = Effect.fail(new Boom())

let names = 0

describe.skipIf(!hasRedis)("issue 16 on the Redis store (real redis-server)", () => {
  const server = sharedServer()

  describe("§1: a long break outlives the idle TTL", () => {
    it.scopedLive("an open circuit's keys do not expire when its break ends: after it, the next call is a probe", () =>
      Effect.gen(function*() {
        // Redis TIME (the default clock), an idle TTL shorter than the break
        const context = yield* replicaContext(server().url, { store: { idleTimeToLive: "100 millis" } })
        const breaker = yield* breakerOn(context, {
          name: `issue16-ttl-${++names}`,
          tripPolicy: CircuitBreaker.consecutive(1),
          openDuration: "300 millis"
        })
        const seen = yield* Queue.unbounded<CircuitBreaker.Transition>()
        yield* breaker.transitions.pipe(Stream.runForEach((t) => Queue.offer(seen, t)), Effect.forkScoped)
        yield* settle
        yield* Effect.exit(breaker(fail))
        yield* realSleep(700) // past the break and the idle TTL
        assert.strictEqual((yield* breaker.state())._tag, "HalfOpen")
        const probe = yield* hold(breaker)
        assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitHalfOpen")
        yield* Deferred.succeed(probe.gate, "back")
        yield* Fiber.join(probe.fiber)
        yield* eventually(Effect.map(Queue.size(seen), (n) => n >= 3))
        const reasons = Chunk.toReadonlyArray(yield* Queue.takeAll(seen)).map((t) => t.reason)
        assert.deepStrictEqual(reasons, ["Tripped", "OpenElapsed", "ProbesSucceeded"])
      }))

    it.scopedLive("a closed circuit is kept while its count of openings still picks the next (growing) break", () =>
      Effect.gen(function*() {
        const context = yield* replicaContext(server().url, { store: { idleTimeToLive: "100 millis" } })
        const breaker = yield* breakerOn(context, {
          name: `issue16-growing-${++names}`,
          tripPolicy: CircuitBreaker.consecutive(1),
          openDuration: Schedule.exponential("200 millis"), // 200 ms, 400 ms … for consecutive openings
          openDurationResetAfter: "1 minute"
        })
        yield* Effect.exit(breaker(fail))
        yield* realSleep(250)
        yield* breaker(ok) // closed again: 1 opening counted
        yield* realSleep(400) // idle past the TTL
        yield* Effect.exit(breaker(fail))
        const state = yield* breaker.state()
        assert.deepStrictEqual(state._tag === "Open" && [state.openings, state.until - state.since], [2, 400])
      }))

    it.scopedLive("the keys of an open circuit carry no TTL; closed again, they do", () =>
      Effect.gen(function*() {
        const context = yield* replicaContext(server().url, { store: { idleTimeToLive: "1 minute" } })
        const name = `issue16-pttl-${++names}`
        const breaker = yield* breakerOn(context, { name, tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" })
        const client = (yield* Effect.provide(Redis.Redis, context)).client as IORedis
        const key = `cbtest:cb:{${name.length}:${name}}`
        yield* Effect.exit(breaker(fail))
        assert.strictEqual(yield* Effect.promise(() => client.pttl(key)), -1)
        yield* breaker.reset()
        const ttl = yield* Effect.promise(() => client.pttl(key))
        assert.isTrue(ttl > 0 && ttl <= 60_000, `pttl ${ttl}`)
      }))
  })

  describe("§3 and §4: hung probes and half-open rejections", () => {
    const make = (options: Partial<CircuitBreaker.CircuitBreaker.Options>) =>
      Effect.flatMap(replicaContext(server().url, { store: { clock: "caller" } }), (context) =>
        breakerOn(context, {
          name: `issue16-probe-${++names}`,
          tripPolicy: CircuitBreaker.consecutive(1),
          openDuration: "1 second",
          ...options
        }))

    it.scoped("a probe that outlives probeTimeout is a failed probe: reopened from its lease's end; its late result is fenced", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ halfOpen: { probeTimeout: "5 seconds" } })
        yield* Effect.exit(breaker(fail))
        yield* TestClock.adjust("1 second")
        const hung = yield* hold(breaker)
        yield* TestClock.adjust("5 seconds")
        const s = yield* breaker.state()
        assert.deepStrictEqual(s._tag === "Open" && [s.since, s.until, s.openings], [6000, 7000, 2])
        assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* decisionOf(breaker(ok)), "admitted") // 7 s: the next break is over
        yield* Deferred.succeed(hung.gate, "late")
        yield* Fiber.join(hung.fiber)
        const m = yield* breaker.metrics()
        assert.strictEqual(m.fenced, 1)
        assert.strictEqual(m.state._tag, "Closed")
        assert.deepStrictEqual(m.transitions.map((t) => [t.to, t.at, t.reason]), [
          ["Open", 0, "Tripped"],
          ["HalfOpen", 1000, "OpenElapsed"],
          ["Open", 6000, "ProbeTimedOut"],
          ["HalfOpen", 7000, "OpenElapsed"],
          ["Closed", 7000, "ProbesSucceeded"]
        ])
      }))

    it.scoped("CircuitHalfOpen carries retryAfter: until the earliest probe's lease ends", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ halfOpen: { probes: 2, probeTimeout: "30 seconds" } })
        yield* Effect.exit(breaker(fail))
        yield* TestClock.adjust("1 second")
        const first = yield* hold(breaker)
        yield* TestClock.adjust("10 seconds")
        const second = yield* hold(breaker)
        yield* TestClock.adjust("5 seconds")
        const rejected = yield* Effect.flip(breaker(ok))
        assert.strictEqual(rejected.reason._tag, "CircuitHalfOpen")
        assert.deepStrictEqual(rejected.retryAfter, Duration.seconds(15))
        yield* Fiber.interrupt(first.fiber)
        yield* Fiber.interrupt(second.fiber)
      }))

    it.scoped("half-open sampling: one failed probe of four does not reopen; two do", () =>
      Effect.gen(function*() {
        const breaker = yield* make({ halfOpen: { probes: 4, failureRateThreshold: 0.5 } })
        yield* Effect.exit(breaker(fail))
        yield* TestClock.adjust("1 second")
        yield* Effect.exit(breaker(fail))
        const s = yield* breaker.state()
        assert.deepStrictEqual(s._tag === "HalfOpen" && s.failures, 1)
        yield* breaker(ok)
        yield* Effect.exit(breaker(fail))
        assert.strictEqual((yield* breaker.state())._tag, "Open")
        yield* TestClock.adjust("1 second")
        yield* breaker(ok)
        yield* breaker(ok)
        yield* breaker(ok) // 3 of 4 succeeded: 1/4 < 0.5 whatever the last one does
        assert.strictEqual((yield* breaker.state())._tag, "Closed")
      }))
  })

  describe("§5: modes shared by replicas", () => {
    const replicas = (n: number, options: Omit<CircuitBreaker.CircuitBreaker.Options, "name">, name: string) =>
      Effect.forEach(Array.from({ length: n }), () =>
        Effect.flatMap(replicaContext(server().url, { store: { clock: "caller" } }), (context) =>
          breakerOn(context, { ...options, name })))

    it.scoped("setMode on one replica switches every replica (pub/sub); a replica made later reads it; the events say so", () =>
      Effect.gen(function*() {
        const name = `issue16-modes-${++names}`
        const options = { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" } as const
        const [a, b] = yield* replicas(2, options, name)
        const changes = yield* Queue.unbounded<CircuitBreaker.Event>()
        yield* b!.events.pipe(Stream.runForEach((e) => e._tag === "ModeChanged" ? Queue.offer(changes, e) : Effect.void), Effect.forkScoped)
        yield* settle
        yield* Effect.exit(a!.execute(fail, { key: "tenant" }))
        assert.strictEqual(yield* decisionOf(b!.execute(ok, { key: "tenant" })), "CircuitOpen")
        yield* a!.setMode("MetricsOnly")
        yield* eventually(Effect.map(b!.state("tenant"), (s) => s.mode === "MetricsOnly"))
        // never rejects, counts what it would reject; the would-be state stays underneath
        assert.strictEqual(yield* decisionOf(b!.execute(ok, { key: "tenant" })), "admitted")
        const m = yield* b!.metrics("tenant")
        assert.deepStrictEqual([m.state._tag, m.mode, m.rejections], ["Open", "MetricsOnly", 2])
        yield* a!.setMode("Disabled")
        yield* eventually(Effect.map(b!.state(), (s) => s.mode === "Disabled"))
        const [c] = yield* replicas(1, options, name)
        yield* eventually(Effect.map(c!.state(), (s) => s.mode === "Disabled"))
        assert.strictEqual(yield* decisionOf(c!.execute(ok, { key: "tenant" })), "admitted")
        yield* b!.setMode("Enforcing")
        yield* eventually(Effect.map(a!.state(), (s) => s.mode === "Enforcing"))
        assert.strictEqual(yield* decisionOf(a!.execute(ok, { key: "tenant" })), "CircuitOpen")
        yield* eventually(Effect.map(Queue.size(changes), (n) => n >= 3))
        const seen = Chunk.toReadonlyArray(yield* Queue.takeAll(changes))
        assert.deepStrictEqual(seen.map((e) => e._tag === "ModeChanged" && [e.from, e.to]), [
          ["Enforcing", "MetricsOnly"],
          ["MetricsOnly", "Disabled"],
          ["Disabled", "Enforcing"]
        ])
      }))

    /** Redis loses the namespace's mode (restarted empty, failed over to a copy without it). */
    const loseMode = (context: Context.Context<Redis.Redis>, name: string) =>
      Effect.flatMap(Effect.provide(Redis.Redis, context), (redis) =>
        Effect.promise(() => (redis.client as IORedis).del(`cbtest:cb:{${name.length}:${name}}:m`)))

    it.scoped("after Redis lost the mode, setMode switches every replica again, even back to the mode Redis now reports", () =>
      Effect.gen(function*() {
        const name = `issue16-forgot-${++names}`
        const context = yield* replicaContext(server().url, { store: { clock: "caller" } })
        const [a, b] = yield* replicas(2, { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" }, name)
        yield* a!.setMode("Disabled")
        yield* eventually(Effect.map(b!.state(), (s) => s.mode === "Disabled"))
        yield* loseMode(context, name)
        // Redis now says Enforcing (never set): asking for it must still reach the replicas that are not
        yield* a!.setMode("Enforcing")
        assert.strictEqual((yield* a!.state()).mode, "Enforcing")
        yield* eventually(Effect.map(b!.state(), (s) => s.mode === "Enforcing"))
        yield* b!.setMode("MetricsOnly")
        yield* eventually(Effect.map(a!.state(), (s) => s.mode === "MetricsOnly"))
      }))

    it.scoped("after Redis lost the mode, the replicas that hold it write it back within a minute: a replica made since follows", () =>
      Effect.gen(function*() {
        const name = `issue16-restore-${++names}`
        const context = yield* replicaContext(server().url, { store: { clock: "caller" } })
        const [a, b] = yield* replicas(2, { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" }, name)
        yield* a!.setMode("Disabled")
        yield* eventually(Effect.map(b!.state(), (s) => s.mode === "Disabled"))
        yield* loseMode(context, name)
        const [c] = yield* replicas(1, { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" }, name)
        yield* settle
        assert.strictEqual((yield* c!.state()).mode, "Enforcing", "Redis forgot: a new replica starts enforcing")
        yield* TestClock.adjust("1 minute")
        yield* eventually(Effect.map(c!.state(), (s) => s.mode === "Disabled"))
        assert.strictEqual((yield* a!.state()).mode, "Disabled")
        assert.strictEqual((yield* b!.state()).mode, "Disabled")
        // written back once, as it was: no replica saw a change
        const modes = yield* Effect.provide(Effect.flatMap(Redis.Redis, (redis) =>
          Effect.promise(() => (redis.client as IORedis).hget(`cbtest:cb:{${name.length}:${name}}:m`, "mode"))), context)
        assert.strictEqual(modes, "Disabled")
      }))

    it.scoped("a mode change whose message was lost is read again within a minute", () =>
      Effect.gen(function*() {
        const name = `issue16-lost-${++names}`
        const context = yield* replicaContext(server().url, { store: { clock: "caller" } })
        const breaker = yield* breakerOn(context, { name, tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" })
        yield* eventually(Effect.map(breaker.state(), (s) => s.mode === "Enforcing"))
        // another replica's change whose pub/sub message never arrived: written to Redis directly
        const client = (yield* Effect.provide(Redis.Redis, context)).client as IORedis
        yield* Effect.promise(() =>
          client.hset(`cbtest:cb:{${name.length}:${name}}:m`, "mode", "Disabled", "gen", String(Date.now() * 1000), "since", "0")
        )
        yield* Effect.exit(breaker(fail))
        assert.strictEqual(yield* decisionOf(breaker(ok)), "CircuitOpen")
        yield* TestClock.adjust("1 minute")
        yield* eventually(Effect.map(breaker.state(), (s) => s.mode === "Disabled"))
        assert.strictEqual(yield* decisionOf(breaker(ok)), "admitted")
      }))
  })
})
