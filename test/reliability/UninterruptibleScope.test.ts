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
 * The cases are a table (test/utils/scopeClose.ts): a family per module (its constructors — make,
 * fromConfig, on a store, layer, layerConfig — sharing one use), crossed with the ways to run each:
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
 * Time is the TestClock, and the hang guard only yields (no real time: a program hangs when none of
 * its fibers runs any more); the HTTP cases use a fake upstream, or a real server on 127.0.0.1 (those
 * two cases, on real sockets, keep a real-time guard).
 */
import * as RateLimiterExperimental from "@effect/experimental/RateLimiter"
import { HttpClient, HttpClientResponse, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Option, Queue, Ref, Stream, TestClock } from "effect"
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
import { undici } from "../http/server.js"
import { handle, serveApp } from "../utils/http-server.js"
import { realSleep } from "../utils/realTime.js"
import {
  boom,
  type Case,
  check,
  configLayer,
  describeCases,
  family,
  layerCase,
  layered,
  made,
  makeCase,
  modesFor,
  onStore,
  outcome,
  withConfig
} from "../utils/scopeClose.js"

/** Lets forked callers reach their wait (no time passes). */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

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

/** The fake upstream's base URL (in memory: nothing to wait for in real time). */
const fake = "http://upstream.test"

/**
 * Moves the TestClock by small steps until `fiber` ends, with a real 1-ms wait between steps only
 * when the upstream is a real socket (it answers in real time); bounded (a hang guard: runToEnd
 * reports it).
 */
const drive = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, base: string) =>
  Effect.gen(function*() {
    const pause = base === fake ? Effect.yieldNow() : realSleep(1)
    for (let i = 0; i < 2_000 && fiber.unsafePoll() === null; i++) {
      yield* TestClock.adjust("10 millis")
      yield* pause
    }
    return yield* Fiber.join(fiber)
  })

/** Calls through a resilient client: 200s, 503s that open its breaker, the clock past the break. */
const useClient = (client: HttpClient.HttpClient.With<any, any>, base: string) =>
  Effect.gen(function*() {
    const get = (path: string) =>
      outcome(Effect.scoped(Effect.flatMap(client.get(`${base}${path}`), (r) => Effect.as(r.text, r.status))))
    const answers: Array<string> = []
    answers.push(yield* drive(yield* Effect.fork(get("/up")), base))
    answers.push(...(yield* drive(yield* Effect.fork(Effect.all([get("/down"), get("/down"), get("/up")])), base)))
    yield* TestClock.adjust("11 seconds")
    answers.push(yield* drive(yield* Effect.fork(get("/up")), base))
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

// --- the cases: a family per module ---------------------------------------------------------------

const bulkheadConfig = (id: string) => ({ name: id, maxConcurrent: "1", maxQueue: "2", maxWait: "5 seconds", metricsInterval: "1 second" })
const limiterConfig = (id: string) => ({
  name: id,
  limit: "1",
  window: "1 second",
  onExceeded: "delay",
  maxDelay: "5 seconds",
  metricsInterval: "1 second"
})
const idemOptions = (id: string) => ({ name: id, ttl: "1 minute" as const })
const staleOptions = (id: string) => ({ name: id, ttl: "1 minute" as const, maxEntries: 10 })
const clientConfig = (id: string) => ({
  name: id,
  "retry.times": "1",
  "retry.base": "10 millis",
  "circuitBreaker.failures": "2",
  "circuitBreaker.openDuration": "10 seconds"
})
const serverConfig = (id: string) => ({
  name: id,
  "concurrency.maxConcurrent": "1",
  "concurrency.maxQueue": "1",
  "concurrency.maxWait": "5 seconds",
  "rateLimit.limit": "2",
  "rateLimit.window": "1 second",
  "deadline.max": "10 seconds"
})

/** A Health check on `up`, on an interval and a trigger, as `Health.layerCheck` registers it. */
const checkOn = (up: Ref.Ref<boolean>, trigger: Queue.Queue<void>) =>
  Health.layerCheck({
    name: "db",
    check: Effect.flatMap(Ref.get(up), (ok) => ok ? Effect.void : Effect.fail("down")),
    interval: "1 second",
    trigger: Stream.fromQueue(trigger)
  })

/** `Health.layerCheck` over a Health service layer (the probe made per run, shared by the layer and the use). */
const healthLayerCase = (name: string, service: () => Layer.Layer<Health.Health, unknown>): Case => ({
  name,
  subject: () => {
    const up = Ref.unsafeMake(true)
    const trigger = Effect.runSync(Queue.unbounded<void>())
    return {
      kind: "layer",
      layer: checkOn(up, trigger).pipe(Layer.provideMerge(service())),
      use: Effect.flatMap(Health.Health, (health) => useHealth(health, { up, trigger }))
    }
  }
})

const madeHealth = (make: Effect.Effect<Health.Service, unknown, any>) =>
  Effect.flatMap(make, (health) => Effect.map(registerChecked(health.register), (probe) => ({ health, probe })))
const useMadeHealth = ({ health, probe }: { health: Health.Service; probe: Parameters<typeof useHealth>[1] }) => useHealth(health, probe)

const cases: ReadonlyArray<Case> = [
  ...family({ tag: BreakerTag, use: useBreaker }, {
    "CircuitBreaker.make (consecutive: its publisher)": made((id) => CircuitBreaker.make(breakerOptions(id))),
    "CircuitBreaker.make (rate trip policy, keyed circuits)": made((id) =>
      CircuitBreaker.make(breakerOptions(id, { tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 4, minimumCalls: 2 }) }))
    ),
    "CircuitBreaker.make (slowCall: timed calls)": made((id) =>
      CircuitBreaker.make(breakerOptions(id, { slowCall: { duration: "5 seconds", threshold: 0.5 } }))
    ),
    "CircuitBreaker.fromConfig": made((id) => CircuitBreaker.fromConfig(CircuitBreaker.config, { name: id } as any).pipe(withConfig(breakerConfig))),
    "CircuitBreaker.makeStoreMemory (its sweeper) + make": made((id) =>
      onStore(CircuitBreaker.makeStoreMemory({ idleTimeToLive: "30 minutes" }), CircuitBreaker.CircuitBreakerStore, CircuitBreaker.make(breakerOptions(id)))
    ),
    "CircuitBreaker.layer": layered((id) => CircuitBreaker.layer(BreakerTag, breakerOptions(id))),
    "CircuitBreaker.layerConfig": layered(() => CircuitBreaker.layerConfig(BreakerTag, CircuitBreaker.config).pipe(Layer.provide(configLayer(breakerConfig)))),
    "CircuitBreaker.layerStoreMemory + layer": layered((id) =>
      CircuitBreaker.layer(BreakerTag, breakerOptions(id)).pipe(Layer.provide(CircuitBreaker.layerStoreMemory({ idleTimeToLive: "30 minutes" })))
    )
  }),
  ...family({ tag: BulkheadTag, use: useBulkhead }, {
    "Bulkhead.make (maxWait timer, gauges publisher)": made((id) => Bulkhead.make(bulkheadOptions(id))),
    "Bulkhead.fromConfig": made((id) => Bulkhead.fromConfig(Bulkhead.config).pipe(withConfig(bulkheadConfig(id)))),
    "Bulkhead.layer": layered((id) => Bulkhead.layer(BulkheadTag, bulkheadOptions(id))),
    "Bulkhead.layerConfig": layered((id) => Bulkhead.layerConfig(BulkheadTag, Bulkhead.config).pipe(Layer.provide(configLayer(bulkheadConfig(id))))),
    "Bulkhead.layerStoreMemory + layer": layered((id) => Bulkhead.layer(BulkheadTag, bulkheadOptions(id)).pipe(Layer.provide(Bulkhead.layerStoreMemory())))
  }),
  ...family({ tag: BulkheadTag, use: useAdaptiveBulkhead }, {
    "Bulkhead.make with an AdaptiveLimit (aimd)": made((id) =>
      Bulkhead.make({ name: id, maxConcurrent: AdaptiveLimit.aimd({ initialLimit: 2, minLimit: 1, maxLimit: 4 }), metricsInterval: "1 second" })
    ),
    "Bulkhead.make with an AdaptiveLimit (gradient2)": made((id) =>
      Bulkhead.make({ name: id, maxConcurrent: AdaptiveLimit.gradient2({ initialLimit: 2, minLimit: 1, maxLimit: 4 }), maxWait: "1 second" })
    )
  }),
  ...family({ tag: LimiterTag, use: useLimiter }, {
    "RateLimiter.make": made((id) => RateLimiter.make(limiterOptions(id))),
    "RateLimiter.fromConfig": made((id) => RateLimiter.fromConfig(RateLimiter.config).pipe(withConfig(limiterConfig(id)))),
    "RateLimiter.makeStoreMemory (its sweeper) + make": made((id) =>
      onStore(RateLimiter.makeStoreMemory({ sweepInterval: "1 minute" }), RateLimiter.RateLimiterStore, RateLimiter.make(limiterOptions(id)))
    ),
    "RateLimiter.layer": layered((id) => RateLimiter.layer(LimiterTag, limiterOptions(id))),
    "RateLimiter.layerConfig": layered((id) =>
      RateLimiter.layerConfig(LimiterTag, RateLimiter.config).pipe(Layer.provide(configLayer(limiterConfig(id))))
    ),
    "RateLimiter.layerStoreMemory (its sweeper) + layer": layered((id) =>
      RateLimiter.layer(LimiterTag, limiterOptions(id)).pipe(Layer.provide(RateLimiter.layerStoreMemory({ sweepInterval: "1 minute" })))
    ),
    "RateLimiter.layerStoreExperimental (over experimental's memory store) + layer": layered((id) =>
      RateLimiter.layer(LimiterTag, { name: id, limit: 1, window: "1 second", metricsInterval: "1 second" }).pipe(
        Layer.provide(RateLimiter.layerStoreExperimental.pipe(Layer.provide(RateLimiterExperimental.layerStoreMemory)))
      )
    )
  }),
  ...family({ tag: IdemTag, use: useIdempotency }, {
    "Idempotency.make": made((id) => Idempotency.make(idemOptions(id))),
    "Idempotency.fromConfig": made((id) => Idempotency.fromConfig(Idempotency.config).pipe(withConfig(idemOptions(id)))),
    "Idempotency.makeStoreMemory (its sweeper) + make": made((id) =>
      onStore(Idempotency.makeStoreMemory({ sweepInterval: "30 seconds" } as any), Idempotency.IdempotencyStore, Idempotency.make(idemOptions(id)))
    ),
    "Idempotency.layer": layered((id) => Idempotency.layer(IdemTag, idemOptions(id))),
    "Idempotency.layerConfig": layered((id) => Idempotency.layerConfig(IdemTag, Idempotency.config).pipe(Layer.provide(configLayer(idemOptions(id))))),
    "Idempotency.layerStoreMemory (its sweeper) + layer": layered((id) =>
      Idempotency.layer(IdemTag, idemOptions(id)).pipe(Layer.provide(Idempotency.layerStoreMemory({ sweepInterval: "30 seconds" } as any)))
    )
  }),
  ...family({ tag: StaleTag, use: useStale }, {
    "Fallback.staleIfError": made((id) => Fallback.staleIfError<number>(staleOptions(id))),
    "Fallback.staleIfErrorFromConfig": made((id) =>
      Fallback.staleIfErrorFromConfig<number>(Fallback.staleIfErrorConfig).pipe(withConfig({ name: id, ttl: "1 minute", maxEntries: "10" }))
    ),
    "Fallback.makeStoreMemory + staleIfError": made((id) =>
      onStore(Fallback.makeStoreMemory({ maxEntries: 100 }), Fallback.StaleStore, Fallback.staleIfError<number>(staleOptions(id)))
    ),
    "Fallback.layerStaleIfError": layered((id) => Fallback.layerStaleIfError(StaleTag, staleOptions(id))),
    "Fallback.layerStaleIfErrorConfig": layered((id) =>
      Fallback.layerStaleIfErrorConfig(StaleTag, Fallback.staleIfErrorConfig).pipe(
        Layer.provide(configLayer({ name: id, ttl: "1 minute", maxEntries: "10" }))
      )
    ),
    "Fallback.layerStoreMemory + layerStaleIfError": layered((id) =>
      Fallback.layerStaleIfError(StaleTag, staleOptions(id)).pipe(Layer.provide(Fallback.layerStoreMemory({ maxEntries: 100 })))
    )
  }),
  // Health: the probe (its state and trigger) is made per run, with the service
  makeCase("Health.make + register (a monitor and a trigger)", () => madeHealth(Health.make({ interval: "1 second" })), useMadeHealth),
  // the service is made by the test's fiber below the region (only `register` runs in it)
  makeCase("Health.register (into a service made outside the region)", () => madeHealth(Health.Health), useMadeHealth, {
    outside: Health.layer({ interval: "1 second" })
  }),
  makeCase(
    "Health.fromConfig + register",
    () => madeHealth(Health.fromConfig(Health.config).pipe(withConfig({ interval: "1 second" }))),
    useMadeHealth
  ),
  healthLayerCase("Health.layer + Health.layerCheck", () => Health.layer({ interval: "1 second" })),
  healthLayerCase(
    "Health.layerConfig + Health.layerCheck",
    () => Health.layerConfig(Health.config).pipe(Layer.provide(configLayer({ interval: "1 second" })))
  ),
  makeCase(
    "Health.registerCircuitBreaker + registerBulkhead + registerPolicy (Health.layer's registry)",
    (id) =>
      Effect.gen(function*() {
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
    ({ breaker, bulkhead, ctx }) =>
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
  ),
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
  layerCase(
    "Retry.layer",
    () => Retry.layer(RetryTag, { times: 2, schedule: Retry.constant("1 second") }),
    Effect.gen(function*() {
      const call = yield* Effect.fork(outcome(boom.pipe(Policy.fromTag(RetryTag))))
      yield* TestClock.adjust("3 seconds")
      return yield* Fiber.join(call)
    })
  ),
  layerCase(
    "Retry.layerConfig",
    () => Retry.layerConfig(RetryTag, Retry.config).pipe(Layer.provide(configLayer({ times: "2", base: "1 second", jitter: "none" }))),
    Effect.gen(function*() {
      const call = yield* Effect.fork(outcome(boom.pipe(Policy.fromTag(RetryTag))))
      yield* TestClock.adjust("10 seconds")
      return yield* Fiber.join(call)
    })
  ),
  layerCase(
    "Timeout.layer (the fast path's shared timer)",
    () => Timeout.layer(TimeoutTag, { duration: "1 second" }),
    Effect.gen(function*() {
      const slow = yield* Effect.fork(outcome(Effect.interruptible(Effect.never).pipe(Policy.fromTag(TimeoutTag))))
      const fast = yield* outcome(Effect.succeed(1).pipe(Policy.fromTag(TimeoutTag)))
      yield* settle
      yield* TestClock.adjust("2 seconds")
      return [fast, yield* Fiber.join(slow)]
    })
  ),
  layerCase(
    "Timeout.layerConfig",
    () => Timeout.layerConfig(TimeoutTag, Timeout.config).pipe(Layer.provide(configLayer({ duration: "1 second" }))),
    Effect.gen(function*() {
      const slow = yield* Effect.fork(outcome(Effect.interruptible(Effect.never).pipe(Policy.fromTag(TimeoutTag))))
      yield* settle
      yield* TestClock.adjust("2 seconds")
      return yield* Fiber.join(slow)
    })
  ),
  layerCase(
    "Hedge.layerConfig",
    () => Hedge.layerConfig(HedgeTag, Hedge.config).pipe(Layer.provide(configLayer({ delay: "100 millis", maxAttempts: "2" }))),
    Effect.gen(function*() {
      const call = yield* Effect.fork(outcome(Effect.as(Effect.sleep("1 second"), "slow").pipe(Policy.fromTag(HedgeTag))))
      yield* settle
      yield* TestClock.adjust("2 seconds")
      return yield* Fiber.join(call)
    })
  ),
  layerCase(
    "Chaos.layerConfig",
    () => Chaos.layerConfig(ChaosTag, Chaos.config, { error: "injected" }).pipe(Layer.provide(configLayer({ rate: "1" }))),
    outcome(Effect.succeed(1).pipe(Policy.fromTag(ChaosTag)))
  ),
  // HTTP client: a fake upstream in memory
  ...family({ tag: HttpClient.HttpClient, use: (client) => useClient(client, fake) }, {
    "ResilientHttpClient.makeTransform (a fake upstream)": made((id) =>
      Effect.flatMap(ResilientHttpClient.makeTransform(clientOptions(id)), (resilience) =>
        Effect.map(HttpClient.HttpClient, (client) => client.pipe(resilience))).pipe(Effect.provide(fakeUpstream))
    ),
    "ResilientHttpClient.fromConfig (a fake upstream)": made((id) =>
      ResilientHttpClient.fromConfig(ResilientHttpClient.config).pipe(withConfig(clientConfig(id)), Effect.provide(fakeUpstream))
    ),
    "ResilientHttpClient.layer (a fake upstream)": layered((id) => ResilientHttpClient.layer(clientOptions(id)).pipe(Layer.provide(fakeUpstream))),
    "ResilientHttpClient.layerConfig (a fake upstream)": layered((id) =>
      ResilientHttpClient.layerConfig(ResilientHttpClient.config).pipe(Layer.provide(fakeUpstream), Layer.provide(configLayer(clientConfig(id))))
    )
  }),
  makeCase(
    "ResilientHttpClient.make registered in Health (a fake upstream; the health check's monitor)",
    (id) =>
      Effect.gen(function*() {
        const ctx = yield* Layer.build(Health.layer({ interval: "1 second" }))
        const client = yield* ResilientHttpClient.make({ ...clientOptions(id), health: { whenOpen: "unhealthy" } }).pipe(
          Effect.provide(fakeUpstream),
          Effect.provide(ctx)
        )
        return { client, ctx }
      }),
    ({ client, ctx }) => Effect.provide(useClientWithHealth(client, fake), ctx)
  ),
  layerCase(
    "ResilientHttpClient.layer + Health.layer (the health check's monitor)",
    (id) =>
      ResilientHttpClient.layer({ ...clientOptions(id), health: { whenOpen: "unhealthy" } }).pipe(
        Layer.provideMerge(Layer.merge(fakeUpstream, Health.layer({ interval: "1 second" })))
      ),
    Effect.flatMap(HttpClient.HttpClient, (client) => useClientWithHealth(client, fake))
  ),
  // a real socket: the real-time guard
  makeCase(
    "ResilientHttpClient.make (a real server on 127.0.0.1)",
    (id) =>
      Effect.gen(function*() {
        const url = yield* serveApp(
          Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
            HttpServerResponse.text("upstream", { status: request.url.endsWith("/down") ? 503 : 200 }))
        )
        const client = yield* ResilientHttpClient.make(clientOptions(id)).pipe(Effect.provide(undici))
        return { client, url }
      }),
    ({ client, url }) => useClient(client, url),
    { guardMillis: 8_000 }
  ),
  // HTTP server middleware: requests in memory
  ...family({ tag: ServerTag, use: useServer }, {
    "ResilientHttpServer.make (requests in memory)": made((id) => ResilientHttpServer.make({ ...serverOptions, name: id })),
    "ResilientHttpServer.make with an AdaptiveLimit (requests in memory)": made((id) =>
      ResilientHttpServer.make({
        ...serverOptions,
        name: id,
        concurrency: { maxConcurrent: AdaptiveLimit.vegas({ initialLimit: 1, minLimit: 1, maxLimit: 4 }), maxQueue: 1, maxWait: "5 seconds" }
      })
    ),
    "ResilientHttpServer.fromConfig (requests in memory)": made((id) =>
      ResilientHttpServer.fromConfig(ResilientHttpServer.config).pipe(withConfig(serverConfig(id)))
    ),
    "ResilientHttpServer.layer (requests in memory)": layered((id) => ResilientHttpServer.layer(ServerTag, { ...serverOptions, name: id })),
    "ResilientHttpServer.layerConfig (requests in memory)": layered((id) =>
      ResilientHttpServer.layerConfig(ServerTag, ResilientHttpServer.config).pipe(Layer.provide(configLayer(serverConfig(id))))
    )
  }),
  makeCase(
    "ResilientHttpServer.make (a real server on 127.0.0.1)",
    (id) =>
      Effect.gen(function*() {
        const server = yield* ResilientHttpServer.make({ ...serverOptions, name: id })
        const url = yield* serveApp(server(Effect.succeed(ok)))
        return { server, url }
      }),
    ({ server, url }) =>
      Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const answers: Array<string> = []
        for (let i = 0; i < 3; i++) {
          answers.push(yield* outcome(Effect.scoped(Effect.map(client.get(url), (r) => r.status))))
        }
        answers.push(`requests ${(yield* server.stats()).requests}`)
        return answers
      }).pipe(Effect.provide(undici)),
    { guardMillis: 8_000 }
  ),
  layerCase(
    "ResilientHttpServer.layerApiMiddleware (a router in memory)",
    (id) => ResilientHttpServer.layerApiMiddleware(ApiTag, { ...serverOptions, name: id }),
    useApiMiddleware
  )
]

describe("a constructor built inside an uninterruptible region: closing its scope ends, nothing is left", () => {
  describeCases(cases, { test: it.effect, timeout: 20_000 })

  it.effect("the reproduction: a breaker made and called inside Effect.uninterruptible, its scope then closed", () =>
    check(
      makeCase(
        "CircuitBreaker.make (the reproduction)",
        (id) => CircuitBreaker.make({ name: id, tripPolicy: CircuitBreaker.consecutive(5), openDuration: "10 seconds" }),
        (b: CircuitBreaker.CircuitBreaker) => b(Effect.succeed(1))
      ),
      modesFor("make")[1]!
    ), 20_000)

  it("covers every constructor listed", () => {
    assert.isAtLeast(cases.length, 40)
    assert.isTrue(cases.every((c) => Option.isSome(Option.fromNullable(c.subject("probe")))))
  })
})
