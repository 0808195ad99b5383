/**
 * ResilientHttpServer attacked the way production breaks its promises
 * (docs/Server.md; DESIGN.md "Guarantees"; STYLE.md §12), written from the
 * promises, not from the code:
 *
 * 1. **Redis paused (SIGSTOP).** The rate limit's store stops answering:
 *    `onStoreError: "allow"` (the default) serves the request once the
 *    store's own timeout passes, `"fail"` answers 503 `Unavailable`; nothing
 *    hangs; after SIGCONT the limits hold again. The time the paused store
 *    took counts against the request's deadline.
 * 2. **The wall clock steps by hours** (NTP, VM resume) while a request
 *    runs: its deadline (the trusted `Request-Timeout-Ms`, or the server's
 *    `max`) is kept on monotonic time, to the millisecond, both ways; the
 *    time spent before the handler (a slow key lookup) counts against it;
 *    a client that goes away stops its handler under a deadline too.
 * 3. **A key flood**: 20,000 distinct client keys through a memory store of
 *    `maxKeys: 1,000`: the store never holds more, full means eviction as
 *    documented (counted), a key in active use keeps its limit; a
 *    100,000-character key is never stored and shares the one limit of
 *    refused keys.
 * 4. **A key function that misbehaves** (throws, fails, answers nonsense,
 *    never answers): the request is not rate limited, and the misuse is
 *    reported (`resilience_user_code_failures`, a warning through the
 *    fiber's loggers).
 *
 * Requests run in memory (`test/utils/http-server.ts`: what a platform
 * server runs per request, without a socket) so that the TestClock, a
 * stepped clock and the test's loggers reach them; the Redis tests use real
 * time, as a stopped process needs, with the store's timeouts kept small.
 */
import { HttpClient, HttpServerResponse } from "@effect/platform"
import type { HttpApp } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, HashMap, Logger, LogLevel, Option, Ref, TestClock } from "effect"
import { RateLimiter, Testing, Timeout } from "effect-resilience"
import { ResilientHttpServer } from "effect-resilience/http"
import { RateLimiterStore, Redis } from "effect-resilience/redis"
import { type Answer, type Call, handle, serveApp } from "../utils/http-server.js"
import { counterValue } from "../utils/metrics.js"
import { hasRedis, startRedis } from "../utils/redis-server.js"
import { pollUntil, undici } from "./server.js"

// --- helpers ---------------------------------------------------------------------------------

const ok = HttpServerResponse.text("ok")

let names = 0
const unique = (prefix: string) => `${prefix}-${process.pid}-${++names}`

const isDone = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isSome)

/** The answer of a request that must have ended by now (asserted: a request still running fails the test, never hangs it). */
const answerNow = <A, E>(fiber: Fiber.Fiber<A, E>, label: string) =>
  Effect.zipRight(Effect.flatMap(isDone(fiber), (done) => Effect.sync(() => assert.isTrue(done, label))), Fiber.join(fiber))

/** A handler that counts its runs and answers 200 at once. */
const counting = Effect.map(Ref.make(0), (runs) => ({
  runs,
  app: Effect.as(Ref.update(runs, (n) => n + 1), ok)
}))

const DEADLINE_BODY = `{"_tag":"DeadlineExceeded"}`


// --- 1. Redis paused -------------------------------------------------------------------------

/**
 * A request that must end: a hang fails the test with a message (a guard far
 * above the store's bound, never a measurement of how long it took).
 */
const mustEnd = <E, R>(label: string, effect: Effect.Effect<Answer, E, R>) =>
  effect.pipe(
    Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => `${label}: the request hung` }),
    Effect.orDie
  )

describe.skipIf(!hasRedis)("attack 1: the rate limit's Redis store paused with SIGSTOP", () => {
  /** Two middlewares on one Redis store (store timeout 150 ms): fail open (the default) and fail closed. */
  const setup = Effect.gen(function*() {
    const redisServer = yield* startRedis
    const redis = yield* Redis.make({ url: redisServer.url, prefix: `${unique("attack-rl")}:`, commandTimeout: "300 millis" })
    const store = yield* RateLimiterStore.make({ timeout: "150 millis" }).pipe(Effect.provideService(Redis.Redis, redis))
    const make = (options: ResilientHttpServer.ResilientHttpServer.Options) =>
      ResilientHttpServer.make(options).pipe(Effect.provideService(RateLimiter.RateLimiterStore, store))
    const rateLimit = { limit: 2, window: "1 hour", key: ResilientHttpServer.keyByHeader("x-api-key") } as const
    const open = yield* make({ name: unique("paused-open"), rateLimit, deadline: { max: "1 minute", trustHeader: true } })
    const closed = yield* make({ name: unique("paused-closed"), rateLimit: { ...rateLimit, onStoreError: "fail" } })
    return { redisServer, store, open, closed }
  })

  it.live("fail open serves, fail closed answers 503 Unavailable, nothing hangs; after SIGCONT the limits hold again", () =>
    Effect.gen(function*() {
      const { closed, open, redisServer, store } = yield* setup
      const a = yield* counting
      const b = yield* counting
      const openApp = open(a.app)
      const closedApp = closed(b.app)
      const key = (k: string): Call => ({ headers: { "x-api-key": k } })

      // Redis answering: both charge their keys (the scripts are loaded now, not while paused)
      assert.strictEqual((yield* handle(openApp, key("alice"))).headers["ratelimit"], `"default";r=1;t=1800`)
      assert.strictEqual((yield* handle(closedApp, key("alice"))).headers["ratelimit"], `"default";r=1;t=1800`)

      // SIGSTOP, and SIGCONT whatever happens next
      yield* Effect.acquireRelease(redisServer.pause, () => redisServer.resume)

      // fail open: served once the store's timeout passes, without the rate limit fields (nothing was counted)
      const served = yield* mustEnd("fail open", handle(openApp, key("bob")))
      assert.strictEqual(served.status, 200)
      assert.strictEqual(served.body, "ok")
      assert.isUndefined(served.headers["ratelimit"])
      assert.strictEqual(yield* a.runs, 2)
      assert.strictEqual(open.rateLimiter!.unsafeStats().storeErrors, 1)

      // fail closed: 503 with the documented body and headers, the handler not run
      const refused = yield* mustEnd("fail closed", handle(closedApp, key("bob")))
      assert.strictEqual(refused.status, 503)
      assert.strictEqual(refused.body, `{"_tag":"Unavailable"}`)
      assert.strictEqual(refused.headers["cache-control"], "no-store")
      assert.strictEqual(refused.headers["content-type"], "application/json")
      assert.isUndefined(refused.headers["retry-after"], "a store failure does not know when it ends")
      assert.isUndefined(refused.headers["ratelimit"])
      assert.strictEqual(yield* b.runs, 1)
      assert.strictEqual(closed.rateLimiter!.unsafeStats().storeErrors, 1)
      assert.strictEqual(
        yield* counterValue("resilience_http_server_rejections", { policy: closed.policyName, reason: "unavailable" }),
        1
      )
      assert.strictEqual((yield* closed.stats()).rateLimited, 0)
      // both were the store's failures (its own 150 ms timeout comes before the connection's 300 ms)
      assert.strictEqual(store.unsafeStats().storeErrors, 2)

      // SIGCONT: alice's quota (charged before the pause, untouched while paused) is enforced again
      yield* redisServer.resume
      for (const [server, app] of [[open, openApp], [closed, closedApp]] as const) {
        const last = yield* mustEnd("after SIGCONT", handle(app, key("alice")))
        assert.strictEqual(last.status, 200, server.policyName)
        assert.strictEqual(last.headers["ratelimit"], `"default";r=0;t=1800`)
        const over = yield* mustEnd("after SIGCONT", handle(app, key("alice")))
        assert.strictEqual(over.status, 429, server.policyName)
        assert.strictEqual(over.headers["retry-after"], "1800")
        assert.strictEqual(over.body, `{"_tag":"RateLimited","retryAfterSeconds":1800}`)
      }
      assert.strictEqual(store.unsafeStats().storeErrors, 2)
    }).pipe(Effect.scoped))

  // Finding, not fixed (the fix belongs to the Redis store and is not small): a request answered 503
  // because the paused store timed out (`onStoreError: "fail"`) is charged anyway once Redis resumes.
  // Its EVALSHA was already in the socket; SIGCONT runs it, after the client was told the store failed.
  // RateLimiter.md: "A rejected call is never charged", and a `RateLimiterStoreError` "is a rejection too:
  // the dependency was not called". Fixing it needs the script to know the caller gave up (e.g. a
  // per-charge expiry checked against Redis TIME, or a refund once the late reply comes back).
  it.live("a request refused 503 while Redis was paused is not charged when Redis resumes", () =>
    Effect.gen(function*() {
      const { closed, redisServer } = yield* setup
      const app = closed(Effect.succeed(ok))
      const bob: Call = { headers: { "x-api-key": "bob" } }
      // (loads the script while Redis answers)
      assert.strictEqual((yield* handle(app, { headers: { "x-api-key": "alice" } })).status, 200)
      yield* Effect.acquireRelease(redisServer.pause, () => redisServer.resume)
      assert.strictEqual((yield* mustEnd("fail closed", handle(app, bob))).status, 503)
      yield* redisServer.resume
      // bob was refused, never served: his whole quota of 2 is left (the late charge was cancelled)
      const first = yield* mustEnd("after SIGCONT", handle(app, bob))
      assert.strictEqual(first.status, 200)
      assert.strictEqual(first.headers["ratelimit"], `"default";r=1;t=1800`)
    }).pipe(Effect.scoped))

  it.live("the time the paused store took counts against the request's deadline: 504, the handler not run", () =>
    Effect.gen(function*() {
      const { open, redisServer } = yield* setup
      const a = yield* counting
      const app = open(a.app)
      assert.strictEqual((yield* handle(app, { headers: { "x-api-key": "alice" } })).status, 200)
      yield* Effect.acquireRelease(redisServer.pause, () => redisServer.resume)
      // the caller gives the request 50 ms; the store cannot answer before its 150 ms timeout
      const late = yield* mustEnd(
        "deadline",
        handle(app, { headers: { "x-api-key": "bob", [ResilientHttpServer.DEADLINE_HEADER]: "50" } })
      )
      assert.strictEqual(late.status, 504)
      assert.strictEqual(late.body, DEADLINE_BODY)
      assert.strictEqual(yield* a.runs, 1, "a request whose deadline passed is not run")
      assert.strictEqual((yield* open.stats()).deadlineExceeded, 1)
      // without a deadline header (the server's 1 minute), the same wait leaves time: served
      const served = yield* mustEnd("no header", handle(app, { headers: { "x-api-key": "bob" } }))
      assert.strictEqual(served.status, 200)
      assert.strictEqual(yield* a.runs, 2)
    }).pipe(Effect.scoped))
})

// --- 2. a stepped wall clock -----------------------------------------------------------------

type Direction = "back" | "forward"
const DIRECTIONS: ReadonlyArray<Direction> = ["back", "forward"]

/** Controls of the TestClock captured outside `Testing.withSteppedWallClock` (as test/reliability/Time.test.ts does). */
interface Ops {
  /** Lets forked fibers run up to their next wait without moving time. */
  readonly settle: Effect.Effect<void>
  readonly adjust: (millis: number) => Effect.Effect<void>
}

/** Runs `f` with a wall clock that steps on demand while monotonic time (TestClock's) does not. */
const stepped = <A, E, R>(f: (wall: Testing.WallClockSteps, t: Ops) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(TestClock.testClock(), (tc) =>
    Testing.withSteppedWallClock((wall) => f(wall, { settle: tc.adjust(0), adjust: (millis) => tc.adjust(millis) })))

const stepWall = (wall: Testing.WallClockSteps, direction: Direction) =>
  direction === "back" ? wall.back("3 hours") : wall.forward("3 hours")

describe("attack 2: request deadlines while the wall clock steps by hours", () => {
  for (const direction of DIRECTIONS) {
    it.scoped(`a trusted header deadline: not cut 1 ms early, cut at the deadline (wall stepped ${direction} 3 hours)`, () =>
      stepped((wall, t) =>
        Effect.gen(function*() {
          // made under the stepping clock: the middleware's own clock is the one that steps
          const server = yield* ResilientHttpServer.make({
            name: unique("stepped-header"),
            deadline: { max: "1 minute", trustHeader: true }
          })
          const interrupted = yield* Deferred.make<void>()
          const app = server(Effect.as(Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))), ok))
          const call = yield* Effect.fork(handle(app, { headers: { [ResilientHttpServer.DEADLINE_HEADER]: "1000" } }))
          yield* t.settle
          yield* t.adjust(500)
          yield* stepWall(wall, direction)
          yield* t.adjust(499)
          assert.isFalse(yield* isDone(call), "not cut 1 ms before the deadline")
          assert.isFalse(yield* Deferred.isDone(interrupted))
          yield* t.adjust(1)
          const answer = yield* answerNow(call, "cut at the deadline")
          assert.strictEqual(answer.status, 504)
          assert.strictEqual(answer.body, DEADLINE_BODY)
          assert.isTrue(yield* Deferred.isDone(interrupted), "the handler was interrupted")
        })
      ))

    it.scoped(`a handler that ends 1 ms before the deadline is answered, and sees the time left on monotonic time (wall stepped ${direction})`, () =>
      stepped((wall, t) =>
        Effect.gen(function*() {
          const server = yield* ResilientHttpServer.make({
            name: unique("stepped-ends"),
            deadline: { max: "1 minute", trustHeader: true }
          })
          const steppedNow = yield* Deferred.make<void>()
          const seen = yield* Ref.make<Array<Option.Option<Duration.Duration>>>([])
          const record = Effect.flatMap(Timeout.remaining, (left) => Ref.update(seen, (xs) => [...xs, left]))
          const handler = Effect.gen(function*() {
            yield* record
            yield* Effect.sleep("500 millis")
            yield* Deferred.await(steppedNow)
            yield* record
            yield* Effect.sleep("499 millis")
            return ok
          })
          const call = yield* Effect.fork(handle(server(handler), { headers: { [ResilientHttpServer.DEADLINE_HEADER]: "1000" } }))
          yield* t.settle
          yield* t.adjust(500)
          yield* stepWall(wall, direction)
          yield* Deferred.succeed(steppedNow, undefined)
          yield* t.adjust(499)
          const answer = yield* answerNow(call, "the handler ended")
          assert.strictEqual(answer.status, 200)
          assert.strictEqual(answer.body, "ok")
          assert.deepStrictEqual(yield* Ref.get(seen), [Option.some(Duration.millis(1000)), Option.some(Duration.millis(500))])
          assert.strictEqual((yield* server.stats()).deadlineExceeded, 0)
        })
      ))

    it.scoped(`the server's own max: not cut 1 ms early, cut at max (wall stepped ${direction} 3 hours)`, () =>
      stepped((wall, t) =>
        Effect.gen(function*() {
          const server = yield* ResilientHttpServer.make({ name: unique("stepped-max"), deadline: { max: "2 seconds" } })
          // an untrusted header changes nothing
          const call = yield* Effect.fork(
            handle(server(Effect.as(Effect.never, ok)), { headers: { [ResilientHttpServer.DEADLINE_HEADER]: "100" } })
          )
          yield* t.settle
          yield* t.adjust(1_000)
          yield* stepWall(wall, direction)
          yield* t.adjust(999)
          assert.isFalse(yield* isDone(call), "not cut 1 ms before max")
          yield* t.adjust(1)
          assert.strictEqual((yield* answerNow(call, "cut at max")).status, 504)
        })
      ))

    it.scoped(`a wall step refills no rate limit token, and t / Retry-After stay exact (wall stepped ${direction})`, () =>
      stepped((wall, t) =>
        Effect.gen(function*() {
          const server = yield* ResilientHttpServer.make({ name: unique("stepped-rl"), rateLimit: { limit: 1, window: "10 seconds" } })
          const app = server(Effect.succeed(ok))
          assert.strictEqual((yield* handle(app)).status, 200)
          yield* t.adjust(4_000)
          yield* stepWall(wall, direction)
          const over = yield* handle(app)
          assert.strictEqual(over.status, 429)
          assert.strictEqual(over.headers["retry-after"], "6")
          assert.strictEqual(over.headers["ratelimit"], `"default";r=0;t=6`)
          yield* t.adjust(5_999)
          assert.strictEqual((yield* handle(app)).status, 429)
          yield* t.adjust(1)
          assert.strictEqual((yield* handle(app)).status, 200)
        })
      ))
  }

  it.scoped("the time spent before the handler (a slow key lookup) counts against the deadline: 504 at once, not run", () =>
    stepped((wall, t) =>
      Effect.gen(function*() {
        const server = yield* ResilientHttpServer.make({
          name: unique("slow-key"),
          deadline: { max: "1 minute", trustHeader: true },
          // a key looked up somewhere slow (within the key function's 1 s bound)
          rateLimit: { limit: 10, window: "1 minute", key: () => Effect.as(Effect.sleep("300 millis"), "alice") }
        })
        const a = yield* counting
        const call = yield* Effect.fork(handle(server(a.app), { headers: { [ResilientHttpServer.DEADLINE_HEADER]: "100" } }))
        yield* t.settle
        yield* t.adjust(100)
        yield* stepWall(wall, "back")
        yield* t.adjust(199)
        assert.isFalse(yield* isDone(call), "the key lookup is still running")
        yield* t.adjust(1)
        // the 100 ms ran out while the key was looked up: the handler is not given a fresh 100 ms
        const answer = yield* answerNow(call, "answered when the lookup ends")
        assert.strictEqual(answer.status, 504)
        assert.strictEqual(answer.body, DEADLINE_BODY)
        assert.strictEqual(yield* a.runs, 0)
        assert.strictEqual((yield* server.stats()).deadlineExceeded, 1)
      })
    ))

  it.scoped("a slow key lookup leaves the handler only what is left of the deadline (Timeout.remaining, and the cut)", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({
        name: unique("slow-key-left"),
        deadline: { max: "1 minute", trustHeader: true },
        rateLimit: { limit: 10, window: "1 minute", key: () => Effect.as(Effect.sleep("300 millis"), "alice") }
      })
      const seen = yield* Deferred.make<Option.Option<Duration.Duration>>()
      const handler = Effect.zipRight(Effect.flatMap(Timeout.remaining, (left) => Deferred.succeed(seen, left)), Effect.never)
      const call = yield* Effect.fork(
        handle(server(Effect.as(handler, ok)), { headers: { [ResilientHttpServer.DEADLINE_HEADER]: "1000" } })
      )
      yield* TestClock.adjust(300)
      assert.deepStrictEqual(yield* Deferred.await(seen), Option.some(Duration.millis(700)))
      yield* TestClock.adjust(699)
      assert.isFalse(yield* isDone(call), "not cut 1 ms before the caller's deadline")
      yield* TestClock.adjust(1)
      assert.strictEqual((yield* answerNow(call, "cut 1,000 ms after arrival, not 1,000 ms after the lookup")).status, 504)
    }))

  // Found by this file: with `deadline` set, the wait for the handler ran in the request's uninterruptible
  // region, so a client that went away interrupted nothing until the deadline (30 s by default) — the
  // handler kept running and kept its bulkhead permit. docs/Server.md: "When the client disconnects,
  // @effect/platform interrupts it too, and its permit is released."
  it.scoped("a client that disconnects interrupts its handler at once under a deadline too, and the permit is released", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({
        name: unique("disconnect"),
        concurrency: { maxConcurrent: 1 },
        deadline: { max: "1 minute", trustHeader: true }
      })
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const runs = yield* Ref.make(0)
      const app = Effect.flatMap(Ref.getAndUpdate(runs, (n) => n + 1), (n) =>
        n > 0
          ? Effect.succeed(ok)
          : Effect.as(
            Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
              Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
            ),
            ok
          ))
      const url = yield* serveApp(server(app))
      const get = (headers: Record<string, string>) =>
        Effect.flatMap(HttpClient.HttpClient, (client) => Effect.flatMap(client.get(url, { headers }), (r) => Effect.as(r.text, r.status)))
      // under TestClock the deadline (the server's minute, the caller's 30 s) never comes: only the disconnect can stop it
      const first = yield* Effect.fork(get({ [ResilientHttpServer.DEADLINE_HEADER]: "30000" }))
      yield* Deferred.await(started)
      assert.strictEqual((yield* server.bulkhead!.stats()).active, 1)
      yield* Fiber.interrupt(first)
      yield* Deferred.await(interrupted)
      yield* pollUntil(Effect.map(server.bulkhead!.stats(), (s) => s.active === 0))
      assert.strictEqual(yield* get({}), 200)
      assert.strictEqual((yield* server.stats()).deadlineExceeded, 0)
    }).pipe(Effect.provide(undici)))

  it.scoped("HttpApiMiddleware form: a slow key lookup counts against the deadline too (504, the handler not run)", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({
        name: unique("slow-key-api"),
        deadline: { max: "1 minute", trustHeader: true },
        rateLimit: { limit: 10, window: "1 minute", key: () => Effect.as(Effect.sleep("300 millis"), "alice") }
      })
      const a = yield* counting
      // the endpoint's middleware, then its handler, in the request's fiber (as HttpApiBuilder runs them)
      const endpoint = Effect.zipRight(server.apiMiddleware, a.app) as unknown as HttpApp.Default
      const call = yield* Effect.fork(handle(endpoint, { headers: { [ResilientHttpServer.DEADLINE_HEADER]: "100" } }))
      yield* TestClock.adjust(300)
      const answer = yield* answerNow(call, "answered when the lookup ends")
      assert.strictEqual(answer.status, 504)
      assert.strictEqual(answer.body, DEADLINE_BODY)
      assert.strictEqual(yield* a.runs, 0)
    }))
})

// --- 3. a key flood --------------------------------------------------------------------------

describe("attack 3: a flood of distinct keys, and a huge key", () => {
  it.scoped("20,000 distinct keys, maxKeys 1,000: never more than 1,000 held, full evicts (counted), an active key keeps its limit", () =>
    Effect.gen(function*() {
      const MAX_KEYS = 1_000
      const FLOOD = 20_000
      const store = yield* RateLimiter.makeStoreMemory({ maxKeys: MAX_KEYS })
      const server = yield* ResilientHttpServer.make({
        name: unique("flood"),
        rateLimit: { limit: 1, window: "1 hour", key: ResilientHttpServer.keyByHeader("x-client") }
      }).pipe(Effect.provideService(RateLimiter.RateLimiterStore, store))
      const app = server(Effect.succeed(ok))
      const as = (client: string) => handle(app, { headers: { "x-client": client }, readBody: false })

      // two clients spend their quota: "active" keeps calling during the flood, "idle" does not
      assert.strictEqual((yield* as("active")).status, 200)
      assert.strictEqual((yield* as("idle")).status, 200)
      assert.strictEqual((yield* as("active")).status, 429)
      assert.strictEqual((yield* as("idle")).status, 429)

      let maxHeld = 0
      let admitted = 0
      const activeAnswers: Array<number> = []
      for (let i = 0; i < FLOOD; i++) {
        const answer = yield* as(`flood-${i}`)
        if (answer.status === 200 && answer.headers["ratelimit"] === `"default";r=0;t=3600`) admitted++
        maxHeld = Math.max(maxHeld, store.unsafeSize())
        // the active client calls once every 100 flood keys (a tenth of the store)
        if (i % 100 === 99) activeAnswers.push((yield* as("active")).status)
      }
      // memory stays bounded, whatever the number of keys
      assert.strictEqual(maxHeld, MAX_KEYS)
      // each new key gets its own quota (a full store makes room, it does not refuse)
      assert.strictEqual(admitted, FLOOD)
      // a key in active use is not the one evicted: its limit held through the flood
      assert.deepStrictEqual(activeAnswers, Array.from({ length: FLOOD / 100 }, () => 429))
      // full: every key beyond maxKeys evicted one that was still limiting (nothing was idle), each counted
      assert.deepStrictEqual(yield* store.stats(), { keys: MAX_KEYS, maxKeys: MAX_KEYS, expired: 0, evicted: FLOOD + 2 - MAX_KEYS })
      // the documented cost of eviction: the idle client's key was evicted, so it starts afresh
      const idle = yield* as("idle")
      assert.strictEqual(idle.status, 200)
      assert.strictEqual(idle.headers["ratelimit"], `"default";r=0;t=3600`)
      assert.strictEqual((yield* as("active")).status, 429)
      assert.strictEqual(store.unsafeSize(), MAX_KEYS)
    }))

  it.scoped("a 100,000-character key is never stored: it shares the one limit of refused keys (429 RateLimited), uncounted by size", () =>
    Effect.gen(function*() {
      const store = yield* RateLimiter.makeStoreMemory({ maxKeys: 100 })
      const server = yield* ResilientHttpServer.make({
        name: unique("huge-key"),
        rateLimit: { limit: 1, window: "1 hour", key: ResilientHttpServer.keyByHeader("x-client") }
      }).pipe(Effect.provideService(RateLimiter.RateLimiterStore, store))
      const a = yield* counting
      const app = server(a.app)
      const as = (client: string) => handle(app, { headers: { "x-client": client } })

      // the longest key accepted (maxKeyLength 1,024 by default) has its own limit
      assert.strictEqual((yield* as("m".repeat(1_024))).status, 200)
      assert.strictEqual(store.unsafeSize(), 1)

      const first = yield* as("k".repeat(100_000))
      assert.strictEqual(first.status, 200)
      // one more key: the shared one, not the 100,000 characters
      assert.strictEqual(store.unsafeSize(), 2)

      // another huge key, and one just over the bound: the same shared limit, already spent
      for (const key of ["j".repeat(100_000), "n".repeat(1_025)]) {
        const refused = yield* as(key)
        assert.strictEqual(refused.status, 429)
        assert.strictEqual(refused.body, `{"_tag":"RateLimited","retryAfterSeconds":3600}`)
        assert.strictEqual(refused.headers["retry-after"], "3600")
        assert.strictEqual(refused.headers["ratelimit"], `"default";r=0;t=3600`)
        assert.strictEqual(refused.headers["cache-control"], "no-store")
        assert.notInclude(refused.body, key.slice(0, 16), "the key is never echoed")
      }
      assert.strictEqual(store.unsafeSize(), 2)
      assert.strictEqual(yield* a.runs, 2)
      // a valid key is unaffected by the refused ones
      assert.strictEqual((yield* as("alice")).status, 200)
      assert.strictEqual(store.unsafeSize(), 3)
      assert.strictEqual((yield* server.stats()).rateLimited, 2)
    }))
})

// --- 4. a key function that misbehaves -------------------------------------------------------

interface Logged {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** Effect's loggers replaced by one that records, for `effect`. */
const capturingLogs = <A, E, R>(logs: Array<Logged>, effect: Effect.Effect<A, E, R>) =>
  Effect.provide(
    effect,
    Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ annotations, logLevel, message }) => {
        const text = Array.isArray(message) ? message.join(" ") : String(message)
        logs.push({ level: logLevel, message: text, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
      })
    )
  )

const failuresOf = (policy: string, kind: string) =>
  counterValue("resilience_user_code_failures", { module: "ResilientHttpServer", policy, hook: "rateLimit.key", kind })

describe("attack 4: a key function that throws, fails, answers nonsense or never answers", () => {
  it.scoped("throws: the request is served without a rate limit, uncharged, and the misuse is reported (metric, warning)", () =>
    Effect.gen(function*() {
      const name = unique("key-throws")
      const server = yield* ResilientHttpServer.make({
        name,
        rateLimit: {
          limit: 1,
          window: "1 hour",
          key: (request) => {
            if (request.headers["x-boom"] !== undefined) throw new Error("the key store is down")
            return request.headers["x-api-key"]
          }
        }
      })
      const a = yield* counting
      const app = server(a.app)
      const logs: Array<Logged> = []
      for (let i = 0; i < 4; i++) {
        const answer = yield* capturingLogs(logs, handle(app, { headers: { "x-boom": "1", "x-api-key": "alice" } }))
        assert.strictEqual(answer.status, 200, `request ${i + 1} served`)
        assert.isUndefined(answer.headers["ratelimit"], "not rate limited: no fields")
        assert.isUndefined(answer.headers["ratelimit-policy"])
      }
      assert.strictEqual(yield* a.runs, 4)
      // nothing was charged: alice's own quota is whole, then enforced (the limiter is not wedged)
      assert.deepStrictEqual(server.rateLimiter!.unsafeStats(), { permitted: 0, delayed: 0, rejected: 0, storeErrors: 0 })
      assert.strictEqual((yield* handle(app, { headers: { "x-api-key": "alice" } })).status, 200)
      assert.strictEqual((yield* handle(app, { headers: { "x-api-key": "alice" } })).status, 429)

      // reported: every failure counted; the 1st, 2nd and 4th logged as warnings through the fiber's loggers
      assert.strictEqual(yield* failuresOf(name, "throw"), 4)
      assert.strictEqual(logs.length, 3)
      for (const log of logs) {
        assert.strictEqual(log.level, LogLevel.Warning)
        assert.include(log.message, `ResilientHttpServer ${JSON.stringify(name)}: rateLimit.key threw; the request is not rate limited`)
        assert.deepInclude(log.annotations, { module: "ResilientHttpServer", policy: name, hook: "rateLimit.key", kind: "throw" })
      }
      assert.notInclude(logs[0]!.message, "(failure")
      assert.include(logs[1]!.message, "(failure 2 of this rateLimit.key)")
      assert.include(logs[2]!.message, "(failure 4 of this rateLimit.key)")
    }))

  it.scoped("fails, or answers a number: served without a rate limit, each reported with its kind", () =>
    Effect.gen(function*() {
      const failing = unique("key-fails")
      const malformed = unique("key-malformed")
      const make = (name: string, key: ResilientHttpServer.ResilientHttpServer.KeyFunction) =>
        ResilientHttpServer.make({ name, rateLimit: { limit: 1, window: "1 hour", key } })
      const fails = yield* make(failing, () => Effect.fail("no key") as unknown as Effect.Effect<string>)
      const nonsense = yield* make(malformed, () => 42 as unknown as string)
      const logs: Array<Logged> = []
      for (const server of [fails, nonsense]) {
        for (let i = 0; i < 2; i++) {
          const answer = yield* capturingLogs(logs, handle(server(Effect.succeed(ok))))
          assert.strictEqual(answer.status, 200)
          assert.isUndefined(answer.headers["ratelimit"])
        }
        assert.strictEqual(server.rateLimiter!.unsafeStats().permitted, 0)
      }
      assert.strictEqual(yield* failuresOf(failing, "failure"), 2)
      assert.strictEqual(yield* failuresOf(malformed, "malformed"), 2)
      assert.deepStrictEqual(logs.map((l) => [l.level, l.annotations["kind"]]), [
        [LogLevel.Warning, "failure"],
        [LogLevel.Warning, "failure"],
        [LogLevel.Warning, "malformed"],
        [LogLevel.Warning, "malformed"]
      ])
      assert.include(logs[0]!.message, "rateLimit.key failed; the request is not rate limited")
      assert.include(logs[2]!.message, "rateLimit.key answered a value of the wrong type (number); the request is not rate limited")
    }))

  it.scoped("never answers: the request does not hang, it is served unlimited at the key's 1 s bound (not 1 ms sooner), reported as a timeout", () =>
    Effect.gen(function*() {
      const name = unique("key-never")
      const server = yield* ResilientHttpServer.make({ name, rateLimit: { limit: 1, window: "1 hour", key: () => Effect.never } })
      const a = yield* counting
      const logs: Array<Logged> = []
      const call = yield* Effect.fork(capturingLogs(logs, handle(server(a.app))))
      yield* TestClock.adjust(999)
      assert.isFalse(yield* isDone(call))
      yield* TestClock.adjust(1)
      const answer = yield* answerNow(call, "served at the key's bound")
      assert.strictEqual(answer.status, 200)
      assert.isUndefined(answer.headers["ratelimit"])
      assert.strictEqual(yield* a.runs, 1)
      assert.strictEqual(server.rateLimiter!.unsafeStats().permitted, 0)
      assert.strictEqual(yield* failuresOf(name, "timeout"), 1)
      assert.deepStrictEqual(logs.map((l) => l.annotations["kind"]), ["timeout"])
      assert.include(logs[0]!.message, "rateLimit.key did not complete within its bound; the request is not rate limited")
    }))
})
