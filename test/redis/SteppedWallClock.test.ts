/**
 * The Redis stores under a stepped wall clock on the Redis host (an NTP step, a VM resume).
 *
 * In production the stores' scripts read Redis `TIME` (`clock: "redis"`, the default): the one
 * instant every replica shares. It is a wall clock, and the Redis host's can step. A real
 * redis-server runs here with its wall clock stepped by test/utils/native/wallclock-shim.c (its
 * monotonic clock runs on, as on a real host). Breaks, probe leases, bulkhead leases and refills
 * are short and real time passes (the server's clock is real): the tests wait for it, never assert
 * on it.
 *
 * The promise (DESIGN.md "Bounded time"): a step of the shared clock never stretches a break, a
 * lease or a refill beyond its own length; time measured across the step counts at most one
 * length, and a step forward ends things early, never never.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Clock, type Context, Data, Deferred, Duration, Effect, Either, Exit, Fiber, Layer, type Scope } from "effect"
import { CircuitBreaker } from "effect-resilience"
import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
import { hasRedis, startSteppableRedis, wallClockShim } from "../utils/redis-server.js"
import { breakerOn, realSleep, replicaContext } from "./fixtures/breaker-redis.js"

class Boom extends Data.TaggedError("Boom")<{}> {}
const boom = Effect.fail(new Boom())

const HOUR = 3_600_000

/** `base` shifted by `millis` (a replica whose clock disagrees with the others'). */
const offsetClock = (base: Clock.Clock, millis: number): Clock.Clock => {
  const clock: Clock.Clock = Object.create(base)
  const nanos = () => base.unsafeCurrentTimeNanos() + BigInt(millis) * 1_000_000n
  return Object.assign(clock, {
    unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() + millis,
    currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() + millis),
    unsafeCurrentTimeNanos: nanos,
    currentTimeNanos: Effect.sync(nanos)
  })
}

const canStep = hasRedis && wallClockShim !== undefined
if (hasRedis && !canStep) console.warn("no C compiler: skipping the stepped-wall-clock Redis tests (apt-get install -y gcc)")

describe.skipIf(!canStep)("Redis stores under a stepped wall clock on the Redis host (real redis-server)", () => {
  /** A server whose wall clock steps, and a breaker on the Redis store over it (`clock: "redis"`). */
  const onSteppableRedis = (options: CircuitBreaker.CircuitBreaker.Options) =>
    Effect.gen(function*() {
      const server = yield* startSteppableRedis
      const context = yield* Layer.build(
        CircuitBreakerStore.layer().pipe(Layer.provideMerge(Redis.layer({ url: server.url, prefix: "step:" })))
      )
      const breaker = yield* CircuitBreaker.make(options).pipe(Effect.provide(context))
      return { server, breaker }
    })

  /** A breaker (break 100 ms, one probe, probeTimeout 300 ms) half-open with a probe that never answers holding the one slot. */
  const withHungProbe = (name: string) =>
    Effect.gen(function*() {
      const steppable = yield* onSteppableRedis({
        name,
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "100 millis",
        halfOpen: { probes: 1, probeTimeout: "300 millis" }
      })
      yield* Effect.exit(steppable.breaker(boom))
      yield* realSleep(150)
      yield* Effect.forkScoped(steppable.breaker(Effect.never))
      yield* realSleep(50)
      return steppable
    })

  describe("CircuitBreakerStore (clock: \"redis\")", () => {
    it.scopedLive("an open circuit's break is not stretched by a step back: it ends after its own length", () =>
      Effect.gen(function*() {
        const { breaker, server } = yield* onSteppableRedis({
          name: "break-back",
          tripPolicy: CircuitBreaker.consecutive(1),
          openDuration: "300 millis"
        })
        yield* Effect.exit(breaker(boom))
        assert.strictEqual((yield* breaker.state())._tag, "Open")
        yield* server.stepWallClock(-HOUR)
        // while it is open, what it says about when to come back is bounded by the break
        const rejected = yield* Effect.flip(breaker(Effect.succeed(1)))
        assert.strictEqual(rejected instanceof CircuitBreaker.CircuitBreakerError && rejected.reason._tag, "CircuitOpen")
        assert.isAtMost(Duration.toMillis(rejected.retryAfter ?? Duration.infinity), 300)
        yield* realSleep(450)
        assert.strictEqual(yield* breaker(Effect.succeed("probe")), "probe")
        assert.strictEqual((yield* breaker.state())._tag, "Closed")
      }))

    it.scopedLive("a half-open probe's lease is not stretched by a step back: another probe goes after probeTimeout", () =>
      Effect.gen(function*() {
        const { breaker, server } = yield* withHungProbe("lease-back")
        assert.strictEqual((yield* breaker.state())._tag, "HalfOpen")
        yield* server.stepWallClock(-HOUR)
        const rejected = yield* Effect.flip(breaker(Effect.succeed(1)))
        assert.isAtMost(Duration.toMillis(rejected.retryAfter ?? Duration.infinity), 300)
        yield* realSleep(450)
        // the lost probe's lease ended after probeTimeout: it counted as a failed probe (open again,
        // a break of 100 ms), and after that break the next probe goes
        yield* realSleep(150)
        assert.strictEqual(yield* breaker(Effect.succeed("probe")), "probe")
      }))

    it.scopedLive("reads alone after a step back (no call) show the probe's lease ending after probeTimeout, not frozen", () =>
      Effect.gen(function*() {
        const { breaker, server } = yield* withHungProbe("lease-read")
        const running = yield* breaker.state()
        assert.isTrue(running._tag === "HalfOpen" && running.probes === 1, JSON.stringify(running))
        yield* server.stepWallClock(-HOUR)
        // the first read after the step finds it (and writes it: else each read would find it again
        // and the lease would look as far ahead forever, until a call)
        assert.strictEqual((yield* breaker.state())._tag, "HalfOpen")
        // once: a second read does not move it back again (what remained of the lease still runs)
        yield* realSleep(100)
        const still = yield* breaker.state()
        assert.isTrue(still._tag === "HalfOpen" && still.probes === 1, JSON.stringify(still))
        yield* realSleep(350)
        const state = yield* breaker.state()
        assert.isFalse(state._tag === "HalfOpen" && state.probes > 0, JSON.stringify(state))
      }))

    it.scopedLive("a timeRate window is not stretched by a step back: its failures leave it within one window", () =>
      Effect.gen(function*() {
        const { breaker, server } = yield* onSteppableRedis({
          name: "window-back",
          tripPolicy: CircuitBreaker.timeRate({ threshold: 0.5, window: "400 millis", buckets: 4, minimumCalls: 4 }),
          openDuration: "1 minute"
        })
        for (let i = 0; i < 3; i++) yield* Effect.exit(breaker(boom))
        assert.strictEqual((yield* breaker.metrics()).windowCalls, 3)
        yield* server.stepWallClock(-HOUR)
        // counts of an age no one can tell: a read already shows the window started over
        assert.strictEqual((yield* breaker.metrics()).windowCalls, 0)
        // more than one window later (in the server's time), the three failures are out of it
        yield* realSleep(600)
        yield* Effect.exit(breaker(boom))
        assert.strictEqual((yield* breaker.state())._tag, "Closed")
        const m = yield* breaker.metrics()
        assert.strictEqual(m.windowCalls, 1)
      }))

    it.scopedLive("without a step, replicas with different probeTimeouts never cut each other's probes (no length is assumed)", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        const replica = (probeTimeout: Duration.DurationInput) =>
          Effect.flatMap(replicaContext(server.url, { redis: { prefix: "mixed:" } }), (context) =>
            breakerOn(context, {
              name: "mixed-probe-timeouts",
              tripPolicy: CircuitBreaker.consecutive(1),
              openDuration: "100 millis",
              halfOpen: { probes: 1, probeTimeout }
            }))
        const patient = yield* replica("5 seconds")
        const hasty = yield* replica("150 millis")
        yield* Effect.exit(patient(boom))
        yield* realSleep(150)
        // the patient replica's probe runs for 600 ms: four of the hasty one's probeTimeouts
        const gate = yield* Deferred.make<void>()
        const probe = yield* Effect.fork(patient(Effect.as(Deferred.await(gate), "probe")))
        yield* realSleep(50)
        for (let i = 0; i < 6; i++) {
          const rejected = yield* Effect.flip(hasty(Effect.succeed(1)))
          assert.strictEqual(rejected instanceof CircuitBreaker.CircuitBreakerError && rejected.reason._tag, "CircuitHalfOpen")
          yield* realSleep(100)
        }
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* Fiber.join(probe), "probe")
        assert.strictEqual((yield* hasty.state())._tag, "Closed")
      }))

    it.scoped("with clock: \"caller\", replicas' clocks that disagree are not taken for steps: the break is not shortened", () =>
      Effect.gen(function*() {
        const server = yield* startSteppableRedis
        // one replica's clock runs 100 ms ahead of the other's (the shared TestClock)
        const ahead = yield* Effect.clockWith((clock) => Effect.succeed(offsetClock(clock, 100)))
        const replica = (context: Effect.Effect<Context.Context<any>, unknown, Scope.Scope>) =>
          Effect.flatMap(context, (ctx) =>
            breakerOn(ctx, { name: "skewed", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" }))
        const store = { store: { clock: "caller" as const }, redis: { prefix: "skew:" } }
        const behind = yield* replica(replicaContext(server.url, store))
        const before = yield* replica(replicaContext(server.url, store)).pipe(Effect.withClock(ahead))
        yield* Effect.exit(behind(boom))
        // twenty calls, alternating: each "behind" call sees the circuit last written 100 ms later
        for (let i = 0; i < 10; i++) {
          for (const [call, clock] of [[before, ahead], [behind, undefined]] as const) {
            const answer = yield* Effect.either(
              clock === undefined ? call(Effect.succeed("admitted")) : call(Effect.succeed("admitted")).pipe(Effect.withClock(clock))
            )
            assert.isTrue(Either.isLeft(answer) && answer.left.reason._tag === "CircuitOpen", `call ${i}: ${JSON.stringify(answer)}`)
          }
        }
        const state = yield* behind.state()
        assert.isTrue(state._tag === "Open" && state.until === 1_000, JSON.stringify(state))
      }))

    it.scopedLive("setMode after Redis lost the mode and its clock stepped back: the new setting is not older than the one applied", () =>
      Effect.gen(function*() {
        const { breaker, server } = yield* onSteppableRedis({ name: "mode-back", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" })
        yield* breaker.setMode("Disabled")
        // Redis restarted empty (the mode's generation is gone) and its host's clock stepped back
        const redis = yield* Redis.make({ url: server.url, prefix: "step:" })
        yield* redis.use("DEL", (c) => c.del("step:cb:{9:mode-back}:m"))
        yield* server.stepWallClock(-HOUR)
        yield* breaker.setMode("MetricsOnly")
        assert.strictEqual((yield* breaker.state()).mode, "MetricsOnly")
      }))

    it.scopedLive("a step forward ends a break early (a probe goes), it never wedges the circuit", () =>
      Effect.gen(function*() {
        const { breaker, server } = yield* onSteppableRedis({
          name: "break-forward",
          tripPolicy: CircuitBreaker.consecutive(1),
          openDuration: "1 hour"
        })
        yield* Effect.exit(breaker(boom))
        yield* server.stepWallClock(HOUR + 1_000)
        assert.strictEqual(yield* breaker(Effect.succeed("probe")), "probe")
        assert.strictEqual((yield* breaker.state())._tag, "Closed")
        // and a step back afterwards leaves a closed circuit closed
        yield* server.stepWallClock(-2 * HOUR)
        assert.isTrue(Exit.isSuccess(yield* Effect.exit(breaker(Effect.succeed(1)))))
      }))
  })
})
