/**
 * Every public constructor that takes a Scope or is a Layer, built inside an uninterruptible
 * region, then used, then its scope closed: the whole program must END (STYLE.md §12: how the
 * world breaks a promise — here, the region the user happens to build in).
 *
 * The defect class: in Effect 3 a forked fiber (`forkScoped`, `forkIn`, `forkDaemon`,
 * `Runtime.runFork` with a runtime captured by `Effect.runtime()`) takes the runtime flags of the
 * fiber that forks it. A policy or a layer built inside `Effect.uninterruptible(…)`, the acquire of
 * `Effect.acquireRelease`, or a Layer provided from inside one (`Effect.uninterruptible(Effect.provide(
 * eff, layer))` builds the layer with interruption off) starts its background loops (publishers,
 * sweepers, pollers, health monitors, subscription retries, format checks) uninterruptible; the
 * scope's close interrupts such a loop and waits for it — for ever. The library's background fibers
 * must be interruptible whatever region forked them.
 *
 * Each constructor runs in the same program three or four ways (test/utils/scopeClose.ts):
 * - the control, with no region: it must end, so a failure below means the region, not the case;
 * - built (and used) inside `Effect.uninterruptible`;
 * - built in `Effect.acquireRelease`'s acquire, used after (a scoped constructor);
 * - a Layer provided inside `Effect.uninterruptible`, provided inside `Effect.acquireRelease`'s
 *   acquire, or built there with `Layer.build` and used after.
 * The program uses the policy until its background fibers run (a call, a failure that opens a
 * breaker, a queued caller, a rate-limited call, a health check and its trigger, an idempotent
 * execution and its waiter, a keyed call, the TestClock moved past the publication, sweep and
 * refresh intervals), then its scope closes. Each run must end within a bounded poll (a hang
 * becomes a failure naming the fibers left and whether they are uninterruptible), leave no fiber
 * it forked running (a `Supervisor` around the program), and answer what the control answered.
 * Time is the TestClock; the HTTP cases use a fake upstream or a real server on 127.0.0.1.
 */
import * as RateLimiterExperimental from "@effect/experimental/RateLimiter"
import { HttpClient, HttpClientResponse, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import {
  ConfigProvider,
  Context,
  Deferred,
  Effect,
  Either,
  Fiber,
  Layer,
  Option,
  Queue,
  Ref,
  Stream,
  TestClock
} from "effect"
import {
  AdaptiveLimit,
  Bulkhead,
  Chaos,
  CircuitBreaker,
  Fallback,
  Health,
  Hedge,
  Idempotency,
  Policy,
  RateLimiter,
  Retry,
  Timeout
} from "effect-resilience"
import { ResilientHttpClient, ResilientHttpServer } from "effect-resilience/http"
import { handle, serveApp } from "../utils/http-server.js"
import { type Case, check, modesFor } from "../utils/scopeClose.js"
import { undici } from "../http/server.js"
import { realSleep } from "../utils/realTime.js"

// --- answers ---------------------------------------------------------------------------------

const tagOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "_tag" in e ? String((e as { _tag: unknown })._tag) : String(e)

/** What a call answered, as plain data (errors by tag: their messages carry the run's names). */
const outcome = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<string, never, R> =>
  Effect.map(Effect.either(self), Either.match({ onLeft: (e) => `error ${tagOf(e)}`, onRight: (a) => `ok ${String(a)}` }))

const boom = Effect.fail("boom")

/** Lets forked callers reach their wait (no time passes). */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

const configLayer = (values: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(values)), { pathDelim: "." }))
const withConfig = (values: Record<string, string>) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.withConfigProvider(self, ConfigProvider.fromMap(new Map(Object.entries(values)), { pathDelim: "." }))

// --- tags ----------------------------------------------------------------------------------

class BreakerTag extends Context.Tag("test/UninterruptibleScope/Breaker")<BreakerTag, CircuitBreaker.CircuitBreaker>() {}
class BulkheadTag extends Context.Tag("test/UninterruptibleScope/Bulkhead")<BulkheadTag, Bulkhead.Bulkhead<any>>() {}
class LimiterTag extends Context.Tag("test/UninterruptibleScope/Limiter")<LimiterTag, RateLimiter.RateLimiter>() {}
class IdemTag extends Context.Tag("test/UninterruptibleScope/Idem")<IdemTag, Idempotency.Idempotency>() {}
class StaleTag extends Context.Tag("test/UninterruptibleScope/Stale")<StaleTag, Fallback.StaleIfError<number>>() {}
class RetryTag extends Context.Tag("test/UninterruptibleScope/Retry")<RetryTag, Retry.Retry>() {}
class TimeoutTag extends Context.Tag("test/UninterruptibleScope/Timeout")<TimeoutTag, Timeout.Timeout>() {}
class HedgeTag extends Context.Tag("test/UninterruptibleScope/Hedge")<HedgeTag, Hedge.Hedge>() {}
class ChaosTag extends Context.Tag("test/UninterruptibleScope/Chaos")<ChaosTag, Policy.Policy<string>>() {}
class ServerTag extends Context.Tag("test/UninterruptibleScope/Server")<ServerTag, ResilientHttpServer.ResilientHttpServer>() {}
class ApiTag extends Context.Tag("test/UninterruptibleScope/Api")<
  ApiTag,
  Effect.Effect<void, ResilientHttpServer.ApiError, HttpRouter.HttpRouter.Provided>
>() {}

// --- uses ----------------------------------------------------------------------------------

/**
 * A breaker (2 consecutive failures open it, 10 s break): a success, two failures that open it,
 * a rejection, the clock past the publication interval (1 s) and the break, a probe that closes it;
 * a keyed circuit opened and the clock moved past the store's sweep.
 */
const useBreaker = (b: CircuitBreaker.CircuitBreaker) =>
  Effect.gen(function*() {
    const answers: Array<string> = []
    answers.push(yield* outcome(b(Effect.succeed(1))))
    answers.push(yield* outcome(b(boom)))
    answers.push(yield* outcome(b(boom)))
    answers.push(yield* outcome(b(Effect.succeed(2))))
    answers.push((yield* b.state())._tag)
    yield* TestClock.adjust("2 seconds")
    yield* TestClock.adjust("10 seconds")
    answers.push(yield* outcome(b(Effect.succeed(3))))
    answers.push((yield* b.state())._tag)
    answers.push(yield* outcome(b.execute(boom, { key: "tenant-a" })))
    answers.push(yield* outcome(b.execute(Effect.succeed(4), { key: "tenant-b" })))
    // past the sweep of idle keyed circuits (default store: an hour's idle time to live)
    yield* TestClock.adjust("2 hours")
    answers.push(yield* outcome(b.execute(Effect.succeed(5), { key: "tenant-b" })))
    return answers
  })

const breakerOptions = (id: string, extra: Partial<CircuitBreaker.CircuitBreaker.Options> = {}): CircuitBreaker.CircuitBreaker.Options => ({
  name: id,
  tripPolicy: CircuitBreaker.consecutive(2),
  openDuration: "10 seconds",
  ...extra
})

const breakerConfig = { failures: "2", openDuration: "10 seconds" }

/**
 * A bulkhead (1 permit, queue of 2, 5 s maxWait, gauges published every second): a holder, a
 * queued caller, the clock past the publication, a third caller that waits out maxWait (the
 * timer), the holder released, the queued caller run; keyed partitions too.
 */
const useBulkhead = (b: Bulkhead.Bulkhead<any>) =>
  Effect.gen(function*() {
    const gate = yield* Deferred.make<void>()
    const holder = yield* Effect.fork(b(Effect.as(Deferred.await(gate), "held")))
    yield* settle
    const queued = yield* Effect.fork(b(Effect.succeed("queued")))
    yield* settle
    yield* TestClock.adjust("1 second")
    const late = yield* Effect.fork(outcome(b(Effect.succeed("late"))))
    yield* settle
    yield* TestClock.adjust("6 seconds")
    const lateAnswer = yield* Fiber.join(late)
    yield* Deferred.succeed(gate, undefined)
    const answers = [yield* outcome(Fiber.join(holder)), yield* outcome(Fiber.join(queued)), lateAnswer]
    answers.push(yield* outcome(b.execute(Effect.succeed("keyed"), { key: "tenant-a" })))
    yield* TestClock.adjust("2 seconds")
    const s = b.unsafeStats()
    answers.push(`active ${s.active}, queued ${s.queued}`)
    return answers
  })

const bulkheadOptions = (id: string): Bulkhead.Bulkhead.Options => ({
  name: id,
  maxConcurrent: 1,
  maxQueue: 2,
  maxWait: "5 seconds",
  metricsInterval: "1 second"
})

/** An adaptive bulkhead: calls of measured latency (the limit moves), its gauges published. */
const useAdaptiveBulkhead = (b: Bulkhead.Bulkhead<any>) =>
  Effect.gen(function*() {
    const answers: Array<string> = []
    for (let i = 0; i < 5; i++) {
      const call = yield* Effect.fork(outcome(b(Effect.as(Effect.sleep("10 millis"), i))))
      yield* TestClock.adjust("10 millis")
      answers.push(yield* Fiber.join(call))
    }
    yield* TestClock.adjust("2 seconds")
    answers.push(`maxConcurrent ${(yield* b.stats()).maxConcurrent}`)
    return answers
  })

/**
 * A limiter (1 per second, delay mode up to 5 s, metrics every second): a call, a delayed call,
 * keyed calls, one rejected for want of delay budget, the clock past the publication and the sweep.
 */
const useLimiter = (rl: RateLimiter.RateLimiter) =>
  Effect.gen(function*() {
    const answers: Array<string> = []
    answers.push(yield* outcome(rl(Effect.succeed(1))))
    const delayed = yield* Effect.fork(outcome(rl(Effect.succeed(2))))
    yield* settle
    yield* TestClock.adjust("1 second")
    answers.push(yield* Fiber.join(delayed))
    answers.push(yield* outcome(rl.execute(Effect.succeed(3), { key: "tenant-a" })))
    answers.push(yield* outcome(rl.execute(Effect.succeed(4), { key: "tenant-b" })))
    yield* TestClock.adjust("3 minutes")
    answers.push(yield* outcome(rl.execute(Effect.succeed(5), { key: "tenant-a" })))
    return answers
  })

const limiterOptions = (id: string): RateLimiter.RateLimiter.Options => ({
  name: id,
  limit: 1,
  window: "1 second",
  onExceeded: "delay",
  maxDelay: "5 seconds",
  metricsInterval: "1 second"
})

/**
 * An idempotency policy: an execution with a waiter on the same key, the stored result served,
 * the clock past the ttl (and the store's sweep), a fresh execution.
 */
const useIdempotency = (idem: Idempotency.Idempotency<any, any>) =>
  Effect.gen(function*() {
    const runs = yield* Ref.make(0)
    const gate = yield* Deferred.make<void>()
    const work = (v: string) => Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.as(Deferred.await(gate), v))
    const first = yield* Effect.fork(outcome(idem.run("k", work("first"))))
    yield* settle
    const waiter = yield* Effect.fork(outcome(idem.run("k", work("second"))))
    yield* settle
    yield* Deferred.succeed(gate, undefined)
    const answers = [yield* Fiber.join(first), yield* Fiber.join(waiter)]
    answers.push(yield* outcome(idem.run("k", work("third"))))
    yield* TestClock.adjust("2 minutes")
    answers.push(yield* outcome(idem.run("k", work("fourth"))))
    answers.push(`runs ${yield* Ref.get(runs)}`)
    return answers
  })

/** A stale-if-error policy: a fresh value written (flushed), a failure served stale, then invalidated. */
const useStale = (policy: Fallback.StaleIfError<number>) =>
  Effect.gen(function*() {
    const answers: Array<string> = []
    const fresh = yield* policy.serve(Effect.succeed(42), { key: "sku" })
    answers.push(`fresh ${fresh.value} stale ${fresh.stale}`)
    yield* policy.flush
    const served = yield* policy.serve(Effect.fail("down"), { key: "sku" })
    answers.push(`served ${served.value} stale ${served.stale}`)
    yield* policy.invalidate("sku")
    answers.push(yield* outcome(policy.serve(Effect.fail("down"), { key: "sku" })))
    yield* TestClock.adjust("2 minutes")
    return answers
  })

/** A Health service: a check registered with an interval and a trigger; its monitor runs, the trigger fires. */
const registerChecked = (register: (check: Health.Check<never, never>) => Effect.Effect<void, unknown, any>) =>
  Effect.gen(function*() {
    const up = yield* Ref.make(true)
    const trigger = yield* Queue.unbounded<void>()
    yield* register({
      name: "db",
      check: Effect.flatMap(Ref.get(up), (ok) => ok ? Effect.void : Effect.fail("down")) as Effect.Effect<void>,
      interval: "1 second",
      trigger: Stream.fromQueue(trigger)
    })
    return { up, trigger }
  })

const useHealth = (health: Health.Service, probe: { readonly up: Ref.Ref<boolean>; readonly trigger: Queue.Queue<void> }) =>
  Effect.gen(function*() {
    const answers: Array<string> = []
    answers.push((yield* health.report).status)
    yield* Ref.set(probe.up, false)
    yield* Queue.offer(probe.trigger, undefined)
    yield* settle
    yield* TestClock.adjust("3 seconds")
    answers.push((yield* health.report).status)
    yield* Ref.set(probe.up, true)
    yield* TestClock.adjust("3 seconds")
    answers.push((yield* health.report).status)
    return answers
  })

/** A fake upstream HttpClient: 503 for /down, 200 otherwise. */
const fakeUpstream = Layer.succeed(
  HttpClient.HttpClient,
  HttpClient.make((request) =>
    Effect.succeed(
      HttpClientResponse.fromWeb(request, new Response("upstream", { status: request.url.endsWith("/down") ? 503 : 200 }))
    )
  )
)

const clientOptions = (id: string): ResilientHttpClient.Options => ({
  name: id,
  retry: { times: 1, schedule: Retry.constant("10 millis") },
  circuitBreaker: { tripPolicy: CircuitBreaker.consecutive(2), openDuration: "10 seconds" },
  bulkhead: { maxConcurrent: 2, maxQueue: 2, maxWait: "5 seconds" }
})

/**
 * Moves the TestClock by small steps (with real 1-ms waits: a real socket answers in real time)
 * until `fiber` ends; bounded (a hang guard: runToEnd reports it).
 */
const drive = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2_000 && fiber.unsafePoll() === null; i++) {
      yield* TestClock.adjust("10 millis")
      yield* realSleep(1)
    }
    return yield* Fiber.join(fiber)
  })

/** Calls through a resilient client: 200s, 503s that open its breaker, the clock past the break. */
const useClient = (client: HttpClient.HttpClient.With<any, any>, base: string) =>
  Effect.gen(function*() {
    const get = (path: string) =>
      outcome(Effect.scoped(Effect.flatMap(client.get(`${base}${path}`), (r) => Effect.as(r.text, r.status))))
    const answers: Array<string> = []
    answers.push(yield* drive(yield* Effect.fork(get("/up"))))
    answers.push(...(yield* drive(yield* Effect.fork(Effect.all([get("/down"), get("/down"), get("/up")])))))
    yield* TestClock.adjust("11 seconds")
    answers.push(yield* drive(yield* Effect.fork(get("/up"))))
    yield* TestClock.adjust("2 seconds")
    return answers
  })

const useClientWithHealth = (client: HttpClient.HttpClient.With<any, any>, base: string) =>
  Effect.gen(function*() {
    const answers = yield* useClient(client, base)
    const health = yield* Health.Health
    answers.push((yield* health.report).status)
    return answers
  })

const serverOptions: ResilientHttpServer.ResilientHttpServer.Options = {
  concurrency: { maxConcurrent: 1, maxQueue: 1, maxWait: "5 seconds" },
  rateLimit: { limit: 2, window: "1 second" },
  deadline: { max: "10 seconds" }
}

const ok = HttpServerResponse.text("ok")

/** Requests through the server middleware (in memory): answered, rate limited, a slow one under its deadline. */
const useServer = (server: ResilientHttpServer.ResilientHttpServer) =>
  Effect.gen(function*() {
    const answers: Array<string> = []
    const app = server(Effect.succeed(ok))
    answers.push(String((yield* handle(app)).status))
    answers.push(String((yield* handle(app)).status))
    answers.push(String((yield* handle(app)).status))
    yield* TestClock.adjust("2 seconds")
    const slow = yield* Effect.fork(handle(server(Effect.as(Effect.sleep("20 seconds"), ok))))
    yield* settle
    yield* TestClock.adjust("11 seconds")
    answers.push(String((yield* Fiber.join(slow)).status))
    yield* TestClock.adjust("2 seconds")
    return answers
  })

/** The API middleware in a router (in memory). */
const useApiMiddleware = Effect.gen(function*() {
  const middleware = yield* ApiTag
  const router = HttpRouter.empty.pipe(HttpRouter.get("/", Effect.zipRight(middleware, Effect.succeed(ok))))
  const answers: Array<string> = []
  for (let i = 0; i < 3; i++) answers.push(String((yield* handle(router)).status))
  yield* TestClock.adjust("2 seconds")
  return answers
})

// --- the cases -----------------------------------------------------------------------------

const cases: ReadonlyArray<Case> = [
  // CircuitBreaker
  {
    name: "CircuitBreaker.make (consecutive: its publisher)",
    subject: (id) => ({ kind: "make", make: CircuitBreaker.make(breakerOptions(id)), use: useBreaker })
  },
  {
    name: "CircuitBreaker.make (rate trip policy, keyed circuits)",
    subject: (id) => ({
      kind: "make",
      make: CircuitBreaker.make(breakerOptions(id, { tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 4, minimumCalls: 2 }) })),
      use: useBreaker
    })
  },
  {
    name: "CircuitBreaker.make (slowCall: timed calls)",
    subject: (id) => ({
      kind: "make",
      make: CircuitBreaker.make(breakerOptions(id, { slowCall: { duration: "5 seconds", threshold: 0.5 } })),
      use: useBreaker
    })
  },
  {
    name: "CircuitBreaker.fromConfig",
    subject: (id) => ({
      kind: "make",
      make: CircuitBreaker.fromConfig(CircuitBreaker.config, { name: id } as any).pipe(withConfig(breakerConfig)),
      use: useBreaker
    })
  },
  {
    name: "CircuitBreaker.makeStoreMemory (its sweeper) + make",
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        CircuitBreaker.makeStoreMemory({ idleTimeToLive: "30 minutes" }),
        (store) => Effect.provideService(CircuitBreaker.make(breakerOptions(id)), CircuitBreaker.CircuitBreakerStore, store)
      ),
      use: useBreaker
    })
  },
  {
    name: "CircuitBreaker.layer",
    subject: (id) => ({
      kind: "layer",
      layer: CircuitBreaker.layer(BreakerTag, breakerOptions(id)),
      use: Effect.flatMap(BreakerTag, useBreaker)
    })
  },
  {
    name: "CircuitBreaker.layerConfig",
    subject: () => ({
      kind: "layer",
      layer: CircuitBreaker.layerConfig(BreakerTag, CircuitBreaker.config).pipe(Layer.provide(configLayer(breakerConfig))),
      use: Effect.flatMap(BreakerTag, useBreaker)
    })
  },
  {
    name: "CircuitBreaker.layerStoreMemory + layer",
    subject: (id) => ({
      kind: "layer",
      layer: CircuitBreaker.layer(BreakerTag, breakerOptions(id)).pipe(
        Layer.provide(CircuitBreaker.layerStoreMemory({ idleTimeToLive: "30 minutes" }))
      ),
      use: Effect.flatMap(BreakerTag, useBreaker)
    })
  },
  // Bulkhead
  {
    name: "Bulkhead.make (maxWait timer, gauges publisher)",
    subject: (id) => ({ kind: "make", make: Bulkhead.make(bulkheadOptions(id)), use: useBulkhead })
  },
  {
    name: "Bulkhead.make with an AdaptiveLimit (aimd)",
    subject: (id) => ({
      kind: "make",
      make: Bulkhead.make({
        name: id,
        maxConcurrent: AdaptiveLimit.aimd({ initialLimit: 2, minLimit: 1, maxLimit: 4 }),
        metricsInterval: "1 second"
      }),
      use: useAdaptiveBulkhead
    })
  },
  {
    name: "Bulkhead.make with an AdaptiveLimit (gradient2)",
    subject: (id) => ({
      kind: "make",
      make: Bulkhead.make({ name: id, maxConcurrent: AdaptiveLimit.gradient2({ initialLimit: 2, minLimit: 1, maxLimit: 4 }), maxWait: "1 second" }),
      use: useAdaptiveBulkhead
    })
  },
  {
    name: "Bulkhead.fromConfig",
    subject: (id) => ({
      kind: "make",
      make: Bulkhead.fromConfig(Bulkhead.config).pipe(
        withConfig({ name: id, maxConcurrent: "1", maxQueue: "2", maxWait: "5 seconds", metricsInterval: "1 second" })
      ),
      use: useBulkhead
    })
  },
  {
    name: "Bulkhead.layer",
    subject: (id) => ({ kind: "layer", layer: Bulkhead.layer(BulkheadTag, bulkheadOptions(id)), use: Effect.flatMap(BulkheadTag, useBulkhead) })
  },
  {
    name: "Bulkhead.layerConfig",
    subject: (id) => ({
      kind: "layer",
      layer: Bulkhead.layerConfig(BulkheadTag, Bulkhead.config).pipe(
        Layer.provide(configLayer({ name: id, maxConcurrent: "1", maxQueue: "2", maxWait: "5 seconds", metricsInterval: "1 second" }))
      ),
      use: Effect.flatMap(BulkheadTag, useBulkhead)
    })
  },
  {
    name: "Bulkhead.layerStoreMemory + layer",
    subject: (id) => ({
      kind: "layer",
      layer: Bulkhead.layer(BulkheadTag, bulkheadOptions(id)).pipe(Layer.provide(Bulkhead.layerStoreMemory())),
      use: Effect.flatMap(BulkheadTag, useBulkhead)
    })
  },
  // RateLimiter
  {
    name: "RateLimiter.make",
    subject: (id) => ({ kind: "make", make: RateLimiter.make(limiterOptions(id)), use: useLimiter })
  },
  {
    name: "RateLimiter.fromConfig",
    subject: (id) => ({
      kind: "make",
      make: RateLimiter.fromConfig(RateLimiter.config).pipe(
        withConfig({ name: id, limit: "1", window: "1 second", onExceeded: "delay", maxDelay: "5 seconds", metricsInterval: "1 second" })
      ),
      use: useLimiter
    })
  },
  {
    name: "RateLimiter.makeStoreMemory (its sweeper) + make",
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        RateLimiter.makeStoreMemory({ sweepInterval: "1 minute" }),
        (store) => Effect.provideService(RateLimiter.make(limiterOptions(id)), RateLimiter.RateLimiterStore, store)
      ),
      use: useLimiter
    })
  },
  {
    name: "RateLimiter.layer",
    subject: (id) => ({ kind: "layer", layer: RateLimiter.layer(LimiterTag, limiterOptions(id)), use: Effect.flatMap(LimiterTag, useLimiter) })
  },
  {
    name: "RateLimiter.layerConfig",
    subject: (id) => ({
      kind: "layer",
      layer: RateLimiter.layerConfig(LimiterTag, RateLimiter.config).pipe(
        Layer.provide(
          configLayer({ name: id, limit: "1", window: "1 second", onExceeded: "delay", maxDelay: "5 seconds", metricsInterval: "1 second" })
        )
      ),
      use: Effect.flatMap(LimiterTag, useLimiter)
    })
  },
  {
    name: "RateLimiter.layerStoreMemory (its sweeper) + layer",
    subject: (id) => ({
      kind: "layer",
      layer: RateLimiter.layer(LimiterTag, limiterOptions(id)).pipe(Layer.provide(RateLimiter.layerStoreMemory({ sweepInterval: "1 minute" }))),
      use: Effect.flatMap(LimiterTag, useLimiter)
    })
  },
  {
    name: "RateLimiter.layerStoreExperimental (over experimental's memory store) + layer",
    subject: (id) => ({
      kind: "layer",
      layer: RateLimiter.layer(LimiterTag, { name: id, limit: 1, window: "1 second", metricsInterval: "1 second" }).pipe(
        Layer.provide(RateLimiter.layerStoreExperimental.pipe(Layer.provide(RateLimiterExperimental.layerStoreMemory)))
      ),
      use: Effect.flatMap(LimiterTag, useLimiter)
    })
  },
  // Idempotency
  {
    name: "Idempotency.make",
    subject: (id) => ({ kind: "make", make: Idempotency.make({ name: id, ttl: "1 minute" }), use: useIdempotency })
  },
  {
    name: "Idempotency.fromConfig",
    subject: (id) => ({
      kind: "make",
      make: Idempotency.fromConfig(Idempotency.config).pipe(withConfig({ name: id, ttl: "1 minute" })),
      use: useIdempotency
    })
  },
  {
    name: "Idempotency.makeStoreMemory (its sweeper) + make",
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        Idempotency.makeStoreMemory({ sweepInterval: "30 seconds" } as any),
        (store) => Effect.provideService(Idempotency.make({ name: id, ttl: "1 minute" }), Idempotency.IdempotencyStore, store)
      ),
      use: useIdempotency
    })
  },
  {
    name: "Idempotency.layer",
    subject: (id) => ({ kind: "layer", layer: Idempotency.layer(IdemTag, { name: id, ttl: "1 minute" }), use: Effect.flatMap(IdemTag, useIdempotency) })
  },
  {
    name: "Idempotency.layerConfig",
    subject: (id) => ({
      kind: "layer",
      layer: Idempotency.layerConfig(IdemTag, Idempotency.config).pipe(Layer.provide(configLayer({ name: id, ttl: "1 minute" }))),
      use: Effect.flatMap(IdemTag, useIdempotency)
    })
  },
  {
    name: "Idempotency.layerStoreMemory (its sweeper) + layer",
    subject: (id) => ({
      kind: "layer",
      layer: Idempotency.layer(IdemTag, { name: id, ttl: "1 minute" }).pipe(
        Layer.provide(Idempotency.layerStoreMemory({ sweepInterval: "30 seconds" } as any))
      ),
      use: Effect.flatMap(IdemTag, useIdempotency)
    })
  },
  // Fallback (stale-if-error)
  {
    name: "Fallback.staleIfError",
    subject: (id) => ({ kind: "make", make: Fallback.staleIfError<number>({ name: id, ttl: "1 minute", maxEntries: 10 }), use: useStale })
  },
  {
    name: "Fallback.staleIfErrorFromConfig",
    subject: (id) => ({
      kind: "make",
      make: Fallback.staleIfErrorFromConfig<number>(Fallback.staleIfErrorConfig).pipe(
        withConfig({ name: id, ttl: "1 minute", maxEntries: "10" })
      ),
      use: useStale
    })
  },
  {
    name: "Fallback.makeStoreMemory + staleIfError",
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(
        Fallback.makeStoreMemory({ maxEntries: 100 }),
        (store) => Effect.provideService(Fallback.staleIfError<number>({ name: id, ttl: "1 minute", maxEntries: 10 }), Fallback.StaleStore, store)
      ),
      use: useStale
    })
  },
  {
    name: "Fallback.layerStaleIfError",
    subject: (id) => ({
      kind: "layer",
      layer: Fallback.layerStaleIfError(StaleTag, { name: id, ttl: "1 minute", maxEntries: 10 }),
      use: Effect.flatMap(StaleTag, useStale)
    })
  },
  {
    name: "Fallback.layerStaleIfErrorConfig",
    subject: (id) => ({
      kind: "layer",
      layer: Fallback.layerStaleIfErrorConfig(StaleTag, Fallback.staleIfErrorConfig).pipe(
        Layer.provide(configLayer({ name: id, ttl: "1 minute", maxEntries: "10" }))
      ),
      use: Effect.flatMap(StaleTag, useStale)
    })
  },
  {
    name: "Fallback.layerStoreMemory + layerStaleIfError",
    subject: (id) => ({
      kind: "layer",
      layer: Fallback.layerStaleIfError(StaleTag, { name: id, ttl: "1 minute", maxEntries: 10 }).pipe(
        Layer.provide(Fallback.layerStoreMemory({ maxEntries: 100 }))
      ),
      use: Effect.flatMap(StaleTag, useStale)
    })
  },
  // Health
  {
    name: "Health.make + register (a monitor and a trigger)",
    subject: () => ({
      kind: "make",
      make: Effect.gen(function*() {
        const health = yield* Health.make({ interval: "1 second" })
        const probe = yield* registerChecked(health.register)
        return { health, probe }
      }),
      use: ({ health, probe }) => useHealth(health, probe)
    })
  },
  {
    name: "Health.register (into a service made outside the region)",
    outside: Health.layer({ interval: "1 second" }),
    subject: () => ({
      kind: "make",
      // the service is made by the test's fiber below the region (only `register` runs in it)
      make: Effect.flatMap(Health.Health, (health) => Effect.map(registerChecked(health.register), (probe) => ({ health, probe }))),
      use: ({ health, probe }) => useHealth(health, probe)
    })
  },
  {
    name: "Health.fromConfig + register",
    subject: () => ({
      kind: "make",
      make: Effect.gen(function*() {
        const health = yield* Health.fromConfig(Health.config).pipe(withConfig({ interval: "1 second" }))
        const probe = yield* registerChecked(health.register)
        return { health, probe }
      }),
      use: ({ health, probe }) => useHealth(health, probe)
    })
  },
  {
    name: "Health.layer + Health.layerCheck",
    subject: () => {
      const up = Ref.unsafeMake(true)
      const trigger = Effect.runSync(Queue.unbounded<void>())
      return {
        kind: "layer",
        layer: Health.layerCheck({
          name: "db",
          check: Effect.flatMap(Ref.get(up), (ok) => ok ? Effect.void : Effect.fail("down")),
          interval: "1 second",
          trigger: Stream.fromQueue(trigger)
        }).pipe(Layer.provideMerge(Health.layer({ interval: "1 second" }))),
        use: Effect.flatMap(Health.Health, (health) => useHealth(health, { up, trigger }))
      }
    }
  },
  {
    name: "Health.layerConfig + Health.layerCheck",
    subject: () => {
      const up = Ref.unsafeMake(true)
      const trigger = Effect.runSync(Queue.unbounded<void>())
      return {
        kind: "layer",
        layer: Health.layerCheck({
          name: "db",
          check: Effect.flatMap(Ref.get(up), (ok) => ok ? Effect.void : Effect.fail("down")),
          interval: "1 second",
          trigger: Stream.fromQueue(trigger)
        }).pipe(Layer.provideMerge(Health.layerConfig(Health.config).pipe(Layer.provide(configLayer({ interval: "1 second" }))))),
        use: Effect.flatMap(Health.Health, (health) => useHealth(health, { up, trigger }))
      }
    }
  },
  {
    name: "Health.registerCircuitBreaker + registerBulkhead + registerPolicy (Health.layer's registry)",
    subject: (id) => ({
      kind: "make",
      make: Effect.gen(function*() {
        // (an interval of an hour: useBreaker moves the clock by hours, which a 1 s monitor would replay 7,200 times)
        const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
        const breaker = yield* CircuitBreaker.make(breakerOptions(id))
        // (its gauges every 10 minutes: the clock moves by hours here)
        const bulkhead = yield* Bulkhead.make({ ...bulkheadOptions(`${id}-bulkhead`), metricsInterval: "10 minutes" })
        yield* Health.registerCircuitBreaker(breaker, { health: { whenOpen: "unhealthy" } }).pipe(Effect.provide(ctx))
        yield* Health.registerBulkhead(bulkhead).pipe(Effect.provide(ctx))
        yield* Health.registerPolicy({ name: `${id}-custom`, kind: "Custom" }).pipe(Effect.provide(ctx))
        return { ctx, breaker, bulkhead }
      }),
      use: ({ breaker, bulkhead, ctx }) =>
        Effect.gen(function*() {
          const health = Context.get(ctx as Context.Context<Health.Health>, Health.Health)
          const answers = yield* useBreaker(breaker)
          answers.push(...(yield* useBulkhead(bulkhead)))
          yield* Effect.either(breaker(boom))
          yield* Effect.either(breaker(boom))
          yield* TestClock.adjust("2 seconds")
          answers.push((yield* health.report).status)
          const registry = Context.get(ctx as Context.Context<Health.PolicyRegistry>, Health.PolicyRegistry)
          answers.push((yield* registry.list).map((p) => p.kind).join(","))
          return answers
        })
    })
  },
  {
    name: "Health.layerPolicyRegistry + registerCircuitBreaker (no Health service)",
    subject: (id) => ({
      kind: "layer",
      layer: Layer.effectDiscard(Effect.void).pipe(Layer.provideMerge(Health.layerPolicyRegistry)),
      use: Effect.scoped(Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make(breakerOptions(id))
        yield* Health.registerCircuitBreaker(breaker)
        const answers = yield* useBreaker(breaker)
        const registry = yield* Health.PolicyRegistry
        answers.push((yield* registry.list).map((p) => p.kind).join(","))
        return answers
      }))
    })
  },
  // policies without a background fiber of their own, as layers
  {
    name: "Retry.layer",
    subject: () => ({
      kind: "layer",
      layer: Retry.layer(RetryTag, { times: 2, schedule: Retry.constant("1 second") }),
      use: Effect.gen(function*() {
        const call = yield* Effect.fork(outcome(boom.pipe(Policy.fromTag(RetryTag))))
        yield* TestClock.adjust("3 seconds")
        return yield* Fiber.join(call)
      })
    })
  },
  {
    name: "Retry.layerConfig",
    subject: () => ({
      kind: "layer",
      layer: Retry.layerConfig(RetryTag, Retry.config).pipe(Layer.provide(configLayer({ times: "2", base: "1 second", jitter: "none" }))),
      use: Effect.gen(function*() {
        const call = yield* Effect.fork(outcome(boom.pipe(Policy.fromTag(RetryTag))))
        yield* TestClock.adjust("10 seconds")
        return yield* Fiber.join(call)
      })
    })
  },
  {
    name: "Timeout.layer (the fast path's shared timer)",
    subject: () => ({
      kind: "layer",
      layer: Timeout.layer(TimeoutTag, { duration: "1 second" }),
      use: Effect.gen(function*() {
        const slow = yield* Effect.fork(outcome(Effect.interruptible(Effect.never).pipe(Policy.fromTag(TimeoutTag))))
        const fast = yield* outcome(Effect.succeed(1).pipe(Policy.fromTag(TimeoutTag)))
        yield* settle
        yield* TestClock.adjust("2 seconds")
        return [fast, yield* Fiber.join(slow)]
      })
    })
  },
  {
    name: "Timeout.layerConfig",
    subject: () => ({
      kind: "layer",
      layer: Timeout.layerConfig(TimeoutTag, Timeout.config).pipe(Layer.provide(configLayer({ duration: "1 second" }))),
      use: Effect.gen(function*() {
        const slow = yield* Effect.fork(outcome(Effect.interruptible(Effect.never).pipe(Policy.fromTag(TimeoutTag))))
        yield* settle
        yield* TestClock.adjust("2 seconds")
        return yield* Fiber.join(slow)
      })
    })
  },
  {
    name: "Hedge.layerConfig",
    subject: () => ({
      kind: "layer",
      layer: Hedge.layerConfig(HedgeTag, Hedge.config).pipe(Layer.provide(configLayer({ delay: "100 millis", maxAttempts: "2" }))),
      use: Effect.gen(function*() {
        const call = yield* Effect.fork(outcome(Effect.as(Effect.sleep("1 second"), "slow").pipe(Policy.fromTag(HedgeTag))))
        yield* settle
        yield* TestClock.adjust("2 seconds")
        return yield* Fiber.join(call)
      })
    })
  },
  {
    name: "Chaos.layerConfig",
    subject: () => ({
      kind: "layer",
      layer: Chaos.layerConfig(ChaosTag, Chaos.config, { error: "injected" }).pipe(Layer.provide(configLayer({ rate: "1" }))),
      use: outcome(Effect.succeed(1).pipe(Policy.fromTag(ChaosTag)))
    })
  },
  // HTTP
  {
    name: "ResilientHttpClient.makeTransform (a fake upstream)",
    subject: (id) => ({
      kind: "make",
      make: Effect.flatMap(ResilientHttpClient.makeTransform(clientOptions(id)), (resilience) =>
        Effect.map(HttpClient.HttpClient, (client) => client.pipe(resilience))).pipe(Effect.provide(fakeUpstream)),
      use: (client: HttpClient.HttpClient.With<any, any>) => useClient(client, "http://upstream.test")
    })
  },
  {
    name: "ResilientHttpClient.make registered in Health (a fake upstream; the health check's monitor)",
    subject: (id) => ({
      kind: "make",
      make: Effect.gen(function*() {
        const ctx = yield* Layer.build(Health.layer({ interval: "1 second" }))
        const client = yield* ResilientHttpClient.make({ ...clientOptions(id), health: { whenOpen: "unhealthy" } }).pipe(
          Effect.provide(fakeUpstream),
          Effect.provide(ctx)
        )
        return { client, ctx }
      }),
      use: ({ client, ctx }) => Effect.provide(useClientWithHealth(client, "http://upstream.test"), ctx)
    })
  },
  {
    name: "ResilientHttpClient.make (a real server on 127.0.0.1)",
    guardMillis: 8_000,
    subject: (id) => ({
      kind: "make",
      make: Effect.gen(function*() {
        const url = yield* serveApp(
          Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
            HttpServerResponse.text("upstream", { status: request.url.endsWith("/down") ? 503 : 200 }))
        )
        const client = yield* ResilientHttpClient.make(clientOptions(id)).pipe(Effect.provide(undici))
        return { client, url }
      }),
      use: ({ client, url }) => useClient(client, url)
    })
  },
  {
    name: "ResilientHttpClient.fromConfig (a fake upstream)",
    subject: (id) => ({
      kind: "make",
      make: ResilientHttpClient.fromConfig(ResilientHttpClient.config).pipe(
        withConfig({ name: id, "retry.times": "1", "retry.base": "10 millis", "circuitBreaker.failures": "2", "circuitBreaker.openDuration": "10 seconds" }),
        Effect.provide(fakeUpstream)
      ),
      use: (client: HttpClient.HttpClient.With<any, any>) => useClient(client, "http://upstream.test")
    })
  },
  {
    name: "ResilientHttpClient.layer (a fake upstream)",
    subject: (id) => ({
      kind: "layer",
      layer: ResilientHttpClient.layer(clientOptions(id)).pipe(Layer.provide(fakeUpstream)),
      use: Effect.flatMap(HttpClient.HttpClient, (client) => useClient(client, "http://upstream.test"))
    })
  },
  {
    name: "ResilientHttpClient.layer + Health.layer (the health check's monitor)",
    subject: (id) => ({
      kind: "layer",
      layer: ResilientHttpClient.layer({ ...clientOptions(id), health: { whenOpen: "unhealthy" } }).pipe(
        Layer.provideMerge(Layer.merge(fakeUpstream, Health.layer({ interval: "1 second" })))
      ),
      use: Effect.flatMap(HttpClient.HttpClient, (client) => useClientWithHealth(client, "http://upstream.test"))
    })
  },
  {
    name: "ResilientHttpClient.layerConfig (a fake upstream)",
    subject: (id) => ({
      kind: "layer",
      layer: ResilientHttpClient.layerConfig(ResilientHttpClient.config).pipe(
        Layer.provide(fakeUpstream),
        Layer.provide(
          configLayer({ name: id, "retry.times": "1", "retry.base": "10 millis", "circuitBreaker.failures": "2", "circuitBreaker.openDuration": "10 seconds" })
        )
      ),
      use: Effect.flatMap(HttpClient.HttpClient, (client) => useClient(client, "http://upstream.test"))
    })
  },
  {
    name: "ResilientHttpServer.make (requests in memory)",
    subject: (id) => ({ kind: "make", make: ResilientHttpServer.make({ ...serverOptions, name: id }), use: useServer })
  },
  {
    name: "ResilientHttpServer.make with an AdaptiveLimit (requests in memory)",
    subject: (id) => ({
      kind: "make",
      make: ResilientHttpServer.make({
        ...serverOptions,
        name: id,
        concurrency: { maxConcurrent: AdaptiveLimit.vegas({ initialLimit: 1, minLimit: 1, maxLimit: 4 }), maxQueue: 1, maxWait: "5 seconds" }
      }),
      use: useServer
    })
  },
  {
    name: "ResilientHttpServer.make (a real server on 127.0.0.1)",
    guardMillis: 8_000,
    subject: (id) => ({
      kind: "make",
      make: Effect.gen(function*() {
        const server = yield* ResilientHttpServer.make({ ...serverOptions, name: id })
        const url = yield* serveApp(server(Effect.succeed(ok)))
        return { server, url }
      }),
      use: ({ server, url }) =>
        Effect.gen(function*() {
          const client = yield* HttpClient.HttpClient
          const answers: Array<string> = []
          for (let i = 0; i < 3; i++) {
            answers.push(yield* outcome(Effect.scoped(Effect.map(client.get(url), (r) => r.status))))
          }
          answers.push(`requests ${(yield* server.stats()).requests}`)
          return answers
        }).pipe(Effect.provide(undici))
    })
  },
  {
    name: "ResilientHttpServer.fromConfig (requests in memory)",
    subject: (id) => ({
      kind: "make",
      make: ResilientHttpServer.fromConfig(ResilientHttpServer.config).pipe(
        withConfig({
          name: id,
          "concurrency.maxConcurrent": "1",
          "concurrency.maxQueue": "1",
          "concurrency.maxWait": "5 seconds",
          "rateLimit.limit": "2",
          "rateLimit.window": "1 second",
          "deadline.max": "10 seconds"
        })
      ),
      use: useServer
    })
  },
  {
    name: "ResilientHttpServer.layer (requests in memory)",
    subject: (id) => ({
      kind: "layer",
      layer: ResilientHttpServer.layer(ServerTag, { ...serverOptions, name: id }),
      use: Effect.flatMap(ServerTag, useServer)
    })
  },
  {
    name: "ResilientHttpServer.layerConfig (requests in memory)",
    subject: (id) => ({
      kind: "layer",
      layer: ResilientHttpServer.layerConfig(ServerTag, ResilientHttpServer.config).pipe(
        Layer.provide(configLayer({
          name: id,
          "concurrency.maxConcurrent": "1",
          "concurrency.maxQueue": "1",
          "concurrency.maxWait": "5 seconds",
          "rateLimit.limit": "2",
          "rateLimit.window": "1 second",
          "deadline.max": "10 seconds"
        }))
      ),
      use: Effect.flatMap(ServerTag, useServer)
    })
  },
  {
    name: "ResilientHttpServer.layerApiMiddleware (a router in memory)",
    subject: (id) => ({
      kind: "layer",
      layer: ResilientHttpServer.layerApiMiddleware(ApiTag, { ...serverOptions, name: id }),
      use: useApiMiddleware
    })
  }
]

describe("a constructor built inside an uninterruptible region: closing its scope ends, nothing is left", () => {
  for (const c of cases) {
    describe(c.name, () => {
      for (const mode of modesFor(c.subject("probe").kind)) {
        it.effect(
          mode.control ? `${mode.name}: ends, leaves no fiber` : `${mode.name}: ends, leaves no fiber, answers as the control`,
          () => check(c, mode),
          20_000
        )
      }
    })
  }

  it.effect("the reproduction: a breaker made and called inside Effect.uninterruptible, its scope then closed", () =>
    check(
      {
        name: "CircuitBreaker.make (the reproduction)",
        subject: (id) => ({
          kind: "make",
          make: CircuitBreaker.make({ name: id, tripPolicy: CircuitBreaker.consecutive(5), openDuration: "10 seconds" }),
          use: (b: CircuitBreaker.CircuitBreaker) => b(Effect.succeed(1))
        })
      },
      modesFor("make")[1]!
    ), 20_000)

  it("covers every constructor listed", () => {
    assert.isAtLeast(cases.length, 40)
    assert.isTrue(cases.every((c) => Option.isSome(Option.fromNullable(c.subject("probe")))))
  })
})
