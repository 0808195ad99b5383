/**
 * ResilientHttpServer on real servers (127.0.0.1, @effect/platform-node):
 * shedding a burst, per-key rate limits with the exact RateLimit fields of
 * draft-ietf-httpapi-ratelimit-headers-10, request deadlines across two
 * services, the mapping of every rejection, interruption by a client that
 * goes away, and bad options.
 */
import { HttpClient, HttpRouter, HttpServerResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Deferred, Duration, Effect, Exit, Fiber, Option, Ref, TestClock } from "effect"
import { AdaptiveLimit, Bulkhead, CircuitBreaker, Errors, RateLimiter, Timeout } from "effect-resilience"
import { ResilientHttpServer } from "effect-resilience/http"
import { handle, serveApp } from "../utils/http-server.js"
import { pollUntil, undici } from "./server.js"

interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    Effect.flatMap(
      client.get(url, { headers }),
      (response) => Effect.map(response.text, (body): Answer => ({ status: response.status, headers: response.headers, body }))
    ))


const ok = HttpServerResponse.text("ok")

describe("ResilientHttpServer: concurrency", () => {
  it.scopedLive("sheds a burst: 2 run, 1 waits, the other 7 get 503 with Retry-After, then the 3 complete", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({ concurrency: { maxConcurrent: 2, maxQueue: 1 } })
      const gate = yield* Deferred.make<void>()
      const started = yield* Ref.make(0)
      const app = Effect.zipRight(Ref.update(started, (n) => n + 1), Effect.as(Deferred.await(gate), ok))
      const url = yield* serveApp(server(app))

      const calls = yield* Effect.forEach(Array.from({ length: 10 }), () => Effect.fork(get(url)))
      yield* pollUntil(Effect.map(server.stats(), (s) => s.requests === 10 && s.shed === 7))
      assert.strictEqual(yield* Ref.get(started), 2)
      assert.deepStrictEqual(yield* server.bulkhead!.stats(), { active: 2, queued: 1, maxConcurrent: 2, maxQueue: 1 })

      yield* Deferred.succeed(gate, undefined)
      const answers = yield* Fiber.joinAll(calls)
      const shed = answers.filter((a) => a.status === 503)
      assert.strictEqual(answers.filter((a) => a.status === 200).length, 3)
      assert.strictEqual(shed.length, 7)
      for (const a of shed) {
        assert.strictEqual(a.headers["retry-after"], "1")
        assert.strictEqual(a.headers["cache-control"], "no-store")
        assert.strictEqual(a.body, `{"_tag":"Unavailable","retryAfterSeconds":1}`)
      }
      assert.strictEqual(yield* Ref.get(started), 3)
      assert.deepStrictEqual(yield* server.stats(), {
        requests: 10,
        shed: 7,
        rateLimited: 0,
        deadlineExceeded: 0,
        ignoredDeadlineHeaders: 0,
        mapped: 0
      })
    }).pipe(Effect.provide(undici)))

  it.scopedLive("an adaptive limit (issues 23 + 24): the burst is shed at the limit in force, which moves with the latency measured", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({
        concurrency: { maxConcurrent: AdaptiveLimit.aimd({ initialLimit: 3, minLimit: 1, maxLimit: 10 }), maxQueue: 0 }
      })
      const gate = yield* Deferred.make<void>()
      const app = Effect.as(Deferred.await(gate), ok)
      const url = yield* serveApp(server(app))

      const calls = yield* Effect.forEach(Array.from({ length: 10 }), () => Effect.fork(get(url)))
      yield* pollUntil(Effect.map(server.stats(), (s) => s.requests === 10 && s.shed === 7))
      const during = yield* server.bulkhead!.stats()
      assert.strictEqual(during.active, 3)
      assert.strictEqual(during.maxConcurrent, 3)
      assert.isDefined(during.adaptive)
      yield* Deferred.succeed(gate, undefined)
      const answers = yield* Fiber.joinAll(calls)
      assert.strictEqual(answers.filter((a) => a.status === 200).length, 3)
      const shed = answers.filter((a) => a.status === 503)
      assert.strictEqual(shed.length, 7)
      // Retry-After: the bulkhead's estimate from the latency measured, else the configured hint (1 s)
      for (const a of shed) assert.isAtLeast(Number(a.headers["retry-after"]), 1)
      // the 3 successes were measured: the algorithm has seen them (shed callers are not losses)
      const after = yield* server.bulkhead!.stats()
      assert.strictEqual(after.active, 0)
      assert.isAtLeast(after.maxConcurrent, 3)
      const bad = yield* Effect.flip(ResilientHttpServer.make({ concurrency: { maxConcurrent: 0 } }))
      assert.strictEqual(bad.option, "concurrency.maxConcurrent")
      assert.include(bad.expected, ">= 1")
    }).pipe(Effect.provide(undici)))

  it.scoped("an adaptive limit's shed Retry-After: the configured hint before any call was measured, then the estimate from the latency measured (TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({
        concurrency: {
          maxConcurrent: AdaptiveLimit.aimd({ initialLimit: 2, minLimit: 1, maxLimit: 10 }),
          maxQueue: 0,
          retryAfter: "5 seconds"
        }
      })
      // every call takes 2.4 s of the TestClock
      const app = server(Effect.as(Effect.sleep("2400 millis"), ok))
      const hold = (n: number) => Effect.forEach(Array.from({ length: n }), () => Effect.fork(handle(app)))
      const settle = Effect.repeatN(Effect.yieldNow(), 50)

      const first = yield* hold(2)
      yield* settle
      // nothing measured yet: the hint
      const early = yield* handle(app)
      assert.strictEqual(early.status, 503)
      assert.strictEqual(early.headers["retry-after"], "5")
      yield* TestClock.adjust("2400 millis")
      for (const f of first) assert.strictEqual((yield* Fiber.join(f)).status, 200)

      // measured: 2.4 s per call; a shed caller (no queue: one round) is told ceil(2.4) = 3 s
      const limit = (yield* server.bulkhead!.stats()).maxConcurrent
      const busy = yield* hold(limit)
      yield* settle
      assert.strictEqual((yield* server.bulkhead!.stats()).active, limit)
      const late = yield* handle(app)
      assert.strictEqual(late.status, 503)
      assert.strictEqual(late.headers["retry-after"], "3")
      yield* TestClock.adjust("2400 millis")
      for (const f of busy) assert.strictEqual((yield* Fiber.join(f)).status, 200)
    }))

  it.scopedLive("partition \"route\" (HttpRouter.use): each route has its own limit", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({
        concurrency: { maxConcurrent: 1, partition: "route", retryAfter: "3 seconds" }
      })
      const gate = yield* Deferred.make<void>()
      const slow = Effect.as(Deferred.await(gate), ok)
      const router = HttpRouter.empty.pipe(HttpRouter.get("/a", slow), HttpRouter.get("/b", slow), HttpRouter.use(server))
      const url = yield* serveApp(router)
      const a1 = yield* Effect.fork(get(`${url}/a`))
      const b1 = yield* Effect.fork(get(`${url}/b`))
      yield* pollUntil(Effect.map(server.bulkhead!.stats("GET /b"), (s) => s.active === 1))
      yield* pollUntil(Effect.map(server.bulkhead!.stats("GET /a"), (s) => s.active === 1))
      const a2 = yield* get(`${url}/a`)
      assert.strictEqual(a2.status, 503)
      assert.strictEqual(a2.headers["retry-after"], "3")
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual((yield* Fiber.join(a1)).status, 200)
      assert.strictEqual((yield* Fiber.join(b1)).status, 200)
    }).pipe(Effect.provide(undici)))

  it.scopedLive("a client that disconnects mid-request interrupts its handler and releases the permit", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({ concurrency: { maxConcurrent: 1 } })
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const calls = yield* Ref.make(0)
      const app = Effect.flatMap(Ref.getAndUpdate(calls, (n) => n + 1), (n) =>
        n === 0
          ? Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
            Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
          )
          : Effect.succeed(ok))
      const url = yield* serveApp(server(app))
      const first = yield* Effect.fork(get(url))
      yield* Deferred.await(started)
      assert.strictEqual((yield* server.bulkhead!.stats()).active, 1)
      // the client goes away: undici aborts the request, the server interrupts the handler
      yield* Fiber.interrupt(first)
      yield* Deferred.await(interrupted)
      yield* pollUntil(Effect.map(server.bulkhead!.stats(), (s) => s.active === 0))
      assert.strictEqual((yield* get(url)).status, 200)
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpServer: concurrency (queue)", () => {
  it.scopedLive("a queued client that disconnects leaves the queue at once", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({ concurrency: { maxConcurrent: 1, maxQueue: 1 } })
      const gate = yield* Deferred.make<void>()
      const url = yield* serveApp(server(Effect.as(Deferred.await(gate), ok)))
      const first = yield* Effect.fork(get(url))
      yield* pollUntil(Effect.map(server.bulkhead!.stats(), (s) => s.active === 1))
      const queued = yield* Effect.fork(get(url))
      yield* pollUntil(Effect.map(server.bulkhead!.stats(), (s) => s.queued === 1))
      yield* Fiber.interrupt(queued)
      yield* pollUntil(Effect.map(server.bulkhead!.stats(), (s) => s.queued === 0))
      // its place is free: the next one queues instead of being shed
      const next = yield* Effect.fork(get(url))
      yield* pollUntil(Effect.map(server.bulkhead!.stats(), (s) => s.queued === 1))
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual((yield* Fiber.join(first)).status, 200)
      assert.strictEqual((yield* Fiber.join(next)).status, 200)
      assert.strictEqual((yield* server.stats()).shed, 0)
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpServer: rate limits (draft-ietf-httpapi-ratelimit-headers-10)", () => {
  it.scoped("per key, token bucket: exact RateLimit / RateLimit-Policy / Retry-After values", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({
        rateLimit: { limit: 2, window: "10 seconds", key: ResilientHttpServer.keyByHeader("x-api-key") }
      })
      const url = yield* serveApp(server(Effect.succeed(ok)))
      const a = { "x-api-key": "a" }

      let r = yield* get(url, a)
      assert.strictEqual(r.status, 200)
      assert.strictEqual(r.headers["ratelimit-policy"], `"default";q=2;w=10`)
      // one token left; the next one comes 10 s / 2 = 5 s after the last refill
      assert.strictEqual(r.headers["ratelimit"], `"default";r=1;t=5`)
      r = yield* get(url, a)
      assert.strictEqual(r.headers["ratelimit"], `"default";r=0;t=5`)
      r = yield* get(url, a)
      assert.strictEqual(r.status, 429)
      assert.strictEqual(r.headers["retry-after"], "5")
      assert.strictEqual(r.headers["ratelimit"], `"default";r=0;t=5`)
      assert.strictEqual(r.headers["ratelimit-policy"], `"default";q=2;w=10`)
      assert.strictEqual(r.body, `{"_tag":"RateLimited","retryAfterSeconds":5}`)

      // another key has its own limit
      r = yield* get(url, { "x-api-key": "b" })
      assert.strictEqual(r.status, 200)
      assert.strictEqual(r.headers["ratelimit"], `"default";r=1;t=5`)

      // 2 s later the wait is 3 s
      yield* TestClock.adjust("2 seconds")
      r = yield* get(url, a)
      assert.strictEqual(r.status, 429)
      assert.strictEqual(r.headers["retry-after"], "3")
      assert.strictEqual(r.headers["ratelimit"], `"default";r=0;t=3`)
      // a token came back
      yield* TestClock.adjust("3 seconds")
      r = yield* get(url, a)
      assert.strictEqual(r.status, 200)
      assert.strictEqual(r.headers["ratelimit"], `"default";r=0;t=5`)

      // no key: not rate limited, no fields
      r = yield* get(url)
      assert.strictEqual(r.status, 200)
      assert.isUndefined(r.headers["ratelimit"])
      assert.isUndefined(r.headers["ratelimit-policy"])

      assert.strictEqual((yield* server.stats()).rateLimited, 2)
      assert.deepStrictEqual(server.rateLimiter!.unsafeStats(), { permitted: 4, delayed: 0, rejected: 2, storeErrors: 0 })
    }).pipe(Effect.provide(undici)))

  it.scoped("fixed window, named policy, cost: t is when the counter resets, Retry-After never earlier", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({
        rateLimit: { limit: 4, window: "1 minute", algorithm: "fixed-window", cost: 2, policy: "per \"ip\"" }
      })
      const url = yield* serveApp(server(Effect.succeed(ok)))
      let r = yield* get(url)
      // the policy's name as an SF String: quotes escaped
      assert.strictEqual(r.headers["ratelimit-policy"], `"per \\"ip\\"";q=4;w=60`)
      // 2 of 4 units taken; experimental's counter lasts window / limit per unit: 30 s
      assert.strictEqual(r.headers["ratelimit"], `"per \\"ip\\"";r=2;t=30`)
      r = yield* get(url)
      assert.strictEqual(r.headers["ratelimit"], `"per \\"ip\\"";r=0;t=60`)
      r = yield* get(url)
      assert.strictEqual(r.status, 429)
      assert.strictEqual(r.headers["retry-after"], "60")
      assert.strictEqual(r.headers["ratelimit"], `"per \\"ip\\"";r=0;t=60`)
    }).pipe(Effect.provide(undici)))

  it.scoped("headers: \"rejected\" and \"never\"; a sub-second window has no w", () =>
    Effect.gen(function*() {
      const rejectedOnly = yield* ResilientHttpServer.make({
        name: "r",
        rateLimit: { limit: 1, window: "500 millis", headers: "rejected" }
      })
      const never = yield* ResilientHttpServer.make({ name: "n", rateLimit: { limit: 1, window: "2 seconds", headers: "never" } })
      const url1 = yield* serveApp(rejectedOnly(Effect.succeed(ok)))
      const url2 = yield* serveApp(never(Effect.succeed(ok)))
      let r = yield* get(url1)
      assert.strictEqual(r.status, 200)
      assert.isUndefined(r.headers["ratelimit"])
      r = yield* get(url1)
      assert.strictEqual(r.status, 429)
      assert.strictEqual(r.headers["ratelimit-policy"], `"default";q=1`)
      assert.strictEqual(r.headers["ratelimit"], `"default";r=0;t=1`)
      assert.strictEqual(r.headers["retry-after"], "1")
      yield* get(url2)
      r = yield* get(url2)
      assert.strictEqual(r.status, 429)
      assert.strictEqual(r.headers["retry-after"], "2")
      assert.isUndefined(r.headers["ratelimit"])
      assert.isUndefined(r.headers["ratelimit-policy"])
    }).pipe(Effect.provide(undici)))

  it.scoped("two middlewares stacked: each appends its item to the lists", () =>
    Effect.gen(function*() {
      const burst = yield* ResilientHttpServer.make({ name: "burst", rateLimit: { limit: 10, window: "1 second", policy: "burst" } })
      const daily = yield* ResilientHttpServer.make({ name: "daily", rateLimit: { limit: 1000, window: "1 day", policy: "daily" } })
      const url = yield* serveApp(daily(burst(Effect.succeed(ok))))
      const r = yield* get(url)
      // the outer middleware's item first
      assert.strictEqual(r.headers["ratelimit-policy"], `"daily";q=1000;w=86400, "burst";q=10;w=1`)
      assert.strictEqual(r.headers["ratelimit"], `"daily";r=999;t=87, "burst";r=9;t=1`)
    }).pipe(Effect.provide(undici)))

  it.scoped("hostile keys: a key function that throws exempts the request; an over-long key shares one limit", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({
        rateLimit: {
          limit: 1,
          window: "1 minute",
          maxKeyLength: 16,
          key: (request) => {
            if (request.headers["x-boom"] !== undefined) throw new Error("boom")
            return request.headers["x-api-key"]
          }
        }
      })
      const url = yield* serveApp(server(Effect.succeed(ok)))
      assert.strictEqual((yield* get(url, { "x-boom": "1" })).status, 200)
      assert.strictEqual((yield* get(url, { "x-boom": "1" })).status, 200)
      const long1 = "k".repeat(17)
      const long2 = "j".repeat(5_000)
      assert.strictEqual((yield* get(url, { "x-api-key": long1 })).status, 200)
      // another over-long key: the same shared limit, already taken
      assert.strictEqual((yield* get(url, { "x-api-key": long2 })).status, 429)
      // a valid key is unaffected
      assert.strictEqual((yield* get(url, { "x-api-key": "short" })).status, 200)
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpServer: deadlines", () => {
  it.scoped("a deadline travels from the outer caller through two services; the inner one stops when it passes", () =>
    Effect.gen(function*() {
      const seen = yield* Deferred.make<Option.Option<Duration.Duration>>()
      const stopped = yield* Deferred.make<void>()
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })

      // the inner service: trusts the header, calls a dependency that never answers through a breaker
      const inner = yield* ResilientHttpServer.make({ name: "inner", deadline: { max: "1 minute", trustHeader: true } })
      const innerApp = Effect.gen(function*() {
        yield* Deferred.succeed(seen, yield* Timeout.remaining)
        return yield* Effect.never.pipe(breaker, Effect.onInterrupt(() => Deferred.succeed(stopped, undefined)))
      })
      const innerUrl = yield* serveApp(inner(innerApp))

      // the outer service: passes on the time it has left
      const outer = yield* ResilientHttpServer.make({ name: "outer", deadline: { max: "1 minute", trustHeader: true } })
      const outerApp = Effect.gen(function*() {
        const left = Option.getOrThrow(yield* Timeout.remaining)
        const answer = yield* get(innerUrl, { [ResilientHttpServer.DEADLINE_HEADER]: String(Duration.toMillis(left)) })
        // a proxy: the inner answer is the outer one (at the deadline either service may answer first)
        return HttpServerResponse.text(answer.body, { status: answer.status, contentType: "application/json" })
      }).pipe(Effect.orDie)
      const outerUrl = yield* serveApp(outer(outerApp))

      // the caller gives the whole exchange 2 s
      const call = yield* Effect.fork(get(outerUrl, { "Request-Timeout-Ms": "2000" }))
      // the inner handler runs under the caller's deadline (no time has passed under TestClock)
      assert.deepStrictEqual(yield* Deferred.await(seen), Option.some(Duration.millis(2000)))
      yield* TestClock.adjust("2 seconds")
      yield* Deferred.await(stopped)
      const answer = yield* Fiber.join(call)
      assert.strictEqual(answer.status, 504)
      assert.strictEqual(answer.body, `{"_tag":"DeadlineExceeded"}`)
      // the caller's deadline is not the dependency's failure
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
      // one of them answered 504 at the deadline (the other was cut: its caller had gone)
      assert.strictEqual((yield* outer.stats()).deadlineExceeded + (yield* inner.stats()).deadlineExceeded, 1)
    }).pipe(Effect.provide(undici)))

  it.scoped("the server's own maximum cuts a hung dependency like any Timeout: the breaker counts it", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      const server = yield* ResilientHttpServer.make({ deadline: { max: "10 seconds" } })
      const url = yield* serveApp(server(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never.pipe(breaker))))
      const call = yield* Effect.fork(get(url))
      yield* Deferred.await(started)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* Fiber.join(call)).status, 504)
      assert.strictEqual((yield* breaker.state())._tag, "Open")
    }).pipe(Effect.provide(undici)))

  it.scoped("a shorter header deadline is never the dependency's failure, even cut through an inner Timeout", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      const server = yield* ResilientHttpServer.make({ deadline: { max: "1 minute", trustHeader: true } })
      // breaker outside an attempt timeout (the pipeline's order): the timeout fires at the header's deadline
      const dependency = Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
        Timeout.make("30 seconds"),
        breaker
      )
      const url = yield* serveApp(server(Effect.as(dependency, ok)))
      const call = yield* Effect.fork(get(url, { "request-timeout-ms": "5000" }))
      yield* Deferred.await(started)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* Fiber.join(call)).status, 504)
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
      assert.deepStrictEqual((yield* breaker.metrics()).failures, 0)
    }).pipe(Effect.provide(undici)))

  it.scoped("untrusted, malformed and longer headers leave the server's maximum; 0 is answered at once, not charged", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<Array<number>>([])
      const handler = Effect.flatMap(Timeout.remaining, (left) =>
        Effect.as(Ref.update(seen, (xs) => [...xs, Duration.toMillis(Option.getOrThrow(left))]), ok))
      const untrusted = yield* ResilientHttpServer.make({ name: "u", deadline: { max: "8 seconds" } })
      const trusted = yield* ResilientHttpServer.make({
        name: "t",
        deadline: { max: "8 seconds", trustHeader: (request) => request.headers["x-internal"] === "1" },
        rateLimit: { limit: 10, window: "1 second" }
      })
      const url1 = yield* serveApp(untrusted(handler))
      const url2 = yield* serveApp(trusted(handler))
      yield* get(url1, { "request-timeout-ms": "100" }) // not trusted
      yield* get(url2, { "request-timeout-ms": "100" }) // not trusted by the predicate
      yield* get(url2, { "request-timeout-ms": "100", "x-internal": "1" })
      yield* get(url2, { "request-timeout-ms": "1.5", "x-internal": "1" }) // malformed: ignored
      yield* get(url2, { "request-timeout-ms": "-3", "x-internal": "1" }) // malformed: ignored
      yield* get(url2, { "request-timeout-ms": "60000", "x-internal": "1" }) // capped
      assert.deepStrictEqual(yield* Ref.get(seen), [8000, 8000, 100, 8000, 8000, 8000])
      assert.strictEqual((yield* trusted.stats()).ignoredDeadlineHeaders, 2)

      const permitted = trusted.rateLimiter!.unsafeStats().permitted
      const r = yield* get(url2, { "request-timeout-ms": "0", "x-internal": "1" })
      assert.strictEqual(r.status, 504)
      assert.strictEqual((yield* Ref.get(seen)).length, 6, "the handler did not run")
      assert.strictEqual(trusted.rateLimiter!.unsafeStats().permitted, permitted, "not charged")
    }).pipe(Effect.provide(undici)))

  it.scoped("a queued request leaves the queue when its deadline passes (504), the running one keeps its permit", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const server = yield* ResilientHttpServer.make({
        concurrency: { maxConcurrent: 1, maxQueue: 5 },
        deadline: { max: "1 minute", trustHeader: true }
      })
      const url = yield* serveApp(server(Effect.as(Deferred.await(gate), ok)))
      const first = yield* Effect.fork(get(url))
      yield* pollUntil(Effect.map(server.bulkhead!.stats(), (s) => s.active === 1))
      const second = yield* Effect.fork(get(url, { "request-timeout-ms": "3000" }))
      yield* pollUntil(Effect.map(server.bulkhead!.stats(), (s) => s.queued === 1))
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual((yield* Fiber.join(second)).status, 504)
      assert.deepStrictEqual(yield* server.bulkhead!.stats(), { active: 1, queued: 0, maxConcurrent: 1, maxQueue: 5 })
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual((yield* Fiber.join(first)).status, 200)
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpServer: the library's errors answered", () => {
  it.scoped("each rejection maps to its status, Retry-After and a JSON body without names or keys", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: "payments-breaker",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "30 seconds"
      })
      yield* Effect.exit(breaker.execute(Effect.fail("boom"), { key: "tenant-secret" }))
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, name: "db-bulkhead" })
      yield* Effect.forkScoped(bulkhead(Effect.never))
      yield* Effect.yieldNow()
      const limiter = yield* RateLimiter.make({ limit: 1, window: "10 seconds", name: "upstream-quota" })
      yield* limiter(Effect.void)
      const server = yield* ResilientHttpServer.make({})
      const router = HttpRouter.empty.pipe(
        HttpRouter.get("/open", Effect.as(breaker.execute(Effect.void, { key: "tenant-secret" }), ok)),
        HttpRouter.get("/full", Effect.as(bulkhead(Effect.void), ok)),
        HttpRouter.get("/limited", Effect.as(limiter(Effect.void), ok)),
        HttpRouter.get("/timeout", Effect.as(Effect.never.pipe(Timeout.make("1 second", { name: "slow-db" })), ok)),
        HttpRouter.get("/other", Effect.fail(new Error("not ours")))
      )
      const url = yield* serveApp(server(router))

      const open = yield* get(`${url}/open`)
      assert.strictEqual(open.status, 503)
      assert.strictEqual(open.headers["retry-after"], "30")
      assert.strictEqual(open.body, `{"_tag":"Unavailable","retryAfterSeconds":30}`)

      const full = yield* get(`${url}/full`)
      assert.strictEqual(full.status, 503)
      assert.isUndefined(full.headers["retry-after"], "a full bulkhead cannot know when a permit frees")
      assert.strictEqual(full.body, `{"_tag":"Unavailable"}`)

      const limited = yield* get(`${url}/limited`)
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers["retry-after"], "10")
      assert.strictEqual(limited.body, `{"_tag":"RateLimited","retryAfterSeconds":10}`)

      const slow = yield* Effect.fork(get(`${url}/timeout`))
      yield* pollUntil(Effect.map(TestClock.sleeps(), (sleeps) => sleeps.length > 0))
      yield* TestClock.adjust("1 second")
      const timeout = yield* Fiber.join(slow)
      assert.strictEqual(timeout.status, 504)
      assert.strictEqual(timeout.body, `{"_tag":"DeadlineExceeded"}`)

      assert.strictEqual((yield* get(`${url}/other`)).status, 500)
      for (const a of [open, full, limited, timeout]) {
        for (const secret of ["payments", "tenant", "db-bulkhead", "upstream", "slow-db"]) assert.notInclude(a.body, secret)
        assert.strictEqual(a.headers["content-type"], "application/json")
      }
      assert.strictEqual((yield* server.stats()).mapped, 4)
    }).pipe(Effect.provide(undici)))

  it.effect("toApiError / toResponse: the table, for every error", () =>
    Effect.gen(function*() {
      const statusOf = (e: unknown) => Option.map(ResilientHttpServer.toResponse(e), (r) => r.status)
      assert.deepStrictEqual(statusOf(new Errors.TimeoutError({ duration: Duration.seconds(1) })), Option.some(504))
      assert.deepStrictEqual(
        statusOf(Errors.BulkheadFullError.make({ name: "x", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" })),
        Option.some(503)
      )
      assert.deepStrictEqual(statusOf(new Error("x")), Option.none())
      assert.deepStrictEqual(statusOf("x"), Option.none())
      assert.deepStrictEqual(statusOf(new ResilientHttpServer.RateLimited({ retryAfterSeconds: 2 })), Option.some(429))
      const response = Option.getOrThrow(ResilientHttpServer.toResponse(new ResilientHttpServer.Unavailable({ retryAfterSeconds: 7 })))
      assert.strictEqual(response.headers["retry-after"], "7")
      // the answers carry their hint as a Duration, for Retry
      assert.deepStrictEqual(
        Errors.retryAfterOf(new ResilientHttpServer.RateLimited({ retryAfterSeconds: 3 })),
        Option.some(Duration.seconds(3))
      )
      // a limiter's rejection rounds its retryAfter up to whole seconds
      const limiter = yield* RateLimiter.make({ limit: 3, window: "1 second" })
      yield* Effect.replicateEffect(limiter(Effect.void), 3)
      const error = yield* Effect.flip(limiter(Effect.void))
      assert.deepStrictEqual(
        ResilientHttpServer.toApiError(error),
        Option.some(new ResilientHttpServer.RateLimited({ retryAfterSeconds: 1 }))
      )
    }).pipe(Effect.scoped))

  it.scoped("mapErrors: false leaves the handler's failures alone", () =>
    Effect.gen(function*() {
      const server = yield* ResilientHttpServer.make({ mapErrors: false })
      const url = yield* serveApp(server(Effect.fail(new Errors.TimeoutError({ duration: Duration.seconds(1) }))))
      assert.strictEqual((yield* get(url)).status, 500)
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpServer: options", () => {
  const invalid = (options: unknown, option: string) =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(ResilientHttpServer.make(options as ResilientHttpServer.ResilientHttpServer.Options))
      assert.isTrue(Exit.isFailure(exit), `expected ${option} to be refused`)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        const error = exit.cause.error
        assert.instanceOf(error, Errors.InvalidOptionsError)
        assert.strictEqual(error.option, option)
        assert.strictEqual(error.module, "ResilientHttpServer.make")
      } else {
        assert.fail(`expected an InvalidOptionsError for ${option}`)
      }
    })

  it.scoped("bad options fail at construction with InvalidOptionsError naming the option", () =>
    Effect.gen(function*() {
      yield* invalid({ concurrency: { maxConcurrent: 0 } }, "concurrency.maxConcurrent")
      yield* invalid({ concurrency: {} }, "concurrency.maxConcurrent")
      yield* invalid({ concurrency: { maxConcurrent: 1, maxQueue: -1 } }, "concurrency.maxQueue")
      yield* invalid({ concurrency: { maxConcurrent: 1, partition: "host" } }, "concurrency.partition")
      yield* invalid({ concurrency: { maxConcurrent: 1, retryAfter: "soon" } }, "concurrency.retryAfter")
      yield* invalid({ rateLimit: { limit: 0, window: "1 second" } }, "rateLimit.limit")
      yield* invalid({ rateLimit: { limit: 1e15, window: "1 second" } }, "rateLimit.limit")
      yield* invalid({ rateLimit: { limit: 1, window: "Infinity" } }, "rateLimit.window")
      yield* invalid({ rateLimit: { limit: 1 } }, "rateLimit.window")
      yield* invalid({ rateLimit: { limit: 2, window: "1 second", cost: 3 } }, "rateLimit.cost")
      yield* invalid({ rateLimit: { limit: 2, window: "1 second", key: "ip" } }, "rateLimit.key")
      yield* invalid({ rateLimit: { limit: 2, window: "1 second", policy: "dé" } }, "rateLimit.policy")
      yield* invalid({ rateLimit: { limit: 2, window: "1 second", policy: "a\nb" } }, "rateLimit.policy")
      yield* invalid({ rateLimit: { limit: 2, window: "1 second", headers: true } }, "rateLimit.headers")
      yield* invalid({ rateLimit: { limit: 2, window: "1 second", maxKeyLength: 0 } }, "rateLimit.maxKeyLength")
      yield* invalid({ deadline: { max: 0 } }, "deadline.max")
      yield* invalid({ deadline: { max: "Infinity" } }, "deadline.max")
      yield* invalid({ deadline: { header: "request timeout" } }, "deadline.header")
      yield* invalid({ deadline: { trustHeader: "yes" } }, "deadline.trustHeader")
      yield* invalid({ mapErrors: 1 }, "mapErrors")
      yield* invalid({ name: "" }, "name")
      yield* invalid(42, "options")
      assert.throws(() => ResilientHttpServer.keyByHeader("x api key"), Errors.InvalidOptionsError)
    }))

  it.scoped("defaults, and options from Config with code merged into their groups", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromMap(
        new Map([
          ["server.concurrency.maxConcurrent", "7"],
          ["server.rateLimit.limit", "5"],
          ["server.rateLimit.window", "1 minute"],
          ["server.deadline.trustHeader", "true"]
        ])
      )
      const server = yield* ResilientHttpServer.fromConfig(Config.nested(ResilientHttpServer.config, "server"), {
        rateLimit: { key: ResilientHttpServer.keyByHeader("x-api-key") }
      }).pipe(Effect.withConfigProvider(provider))
      assert.strictEqual(server.bulkhead!.options.maxConcurrent, 7)
      assert.strictEqual(server.rateLimiter!.options.limit, 5)
      assert.strictEqual(server.rateLimiter!.options.name, "http-server")
      assert.isTrue(ResilientHttpServer.isResilientHttpServer(server))

      const bad = ConfigProvider.fromMap(new Map([["server.concurrency.maxConcurrent", "0"]]))
      const exit = yield* Effect.exit(
        ResilientHttpServer.fromConfig(Config.nested(ResilientHttpServer.config, "server")).pipe(Effect.withConfigProvider(bad))
      )
      assert.isTrue(Exit.isFailure(exit))
    }))
})
