import { assert, describe, it } from "@effect/vitest"
import {
  FetchHttpClient,
  HttpBody,
  HttpClient,
  HttpClientError,
  HttpClientRequest,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, Option, Stream, TestClock, Tracer } from "effect"
import { CircuitBreaker, Errors, Health, Retry } from "effect-resilience"
import { ResilientHttpClient } from "effect-resilience/http"
import { Readable } from "node:stream"
import { collect } from "../utils/streams.js"
import { nodeKeepAlive, pollUntil, resetConnection, script, serve, slowBody, undici } from "./server.js"

/**
 * A client whose next retry delay can be observed: `nextDelay` subscribes to
 * the retry policy's events (call it before sending) and yields the delay of
 * the first retry scheduled.
 */
const observedClient = (options: ResilientHttpClient.Options) =>
  Effect.gen(function*() {
    const resilience = yield* ResilientHttpClient.makeTransform({ timeout: false, attemptTimeout: false, ...options })
    const client = (yield* HttpClient.HttpClient).pipe(resilience)
    // `collect` returns once the subscriber is registered (its fiber waits for the first event)
    const nextDelay = Effect.map(
      collect(Stream.filter(resilience.retry!.events, (e) => e._tag === "RetryScheduled"), 1),
      (first) => Effect.map(first, ([e]) => Duration.toMillis(e!.delay))
    )
    return { client, nextDelay }
  })

const fast = { schedule: Retry.constant("1 millis") }

describe("ResilientHttpClient: retries", () => {
  it.scopedLive("a flaky endpoint (503 twice, then 200) succeeds on the third attempt", () =>
    Effect.gen(function*() {
      const server = yield* serve(script([503, 503, 200]))
      const resilience = yield* ResilientHttpClient.makeTransform({ retry: fast })
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      const response = yield* client.get(`${server.url}/flaky`)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(yield* response.text, "response 3 (200)")
      assert.strictEqual(server.count("/flaky"), 3)
      const [stats] = yield* resilience.stats()
      assert.deepStrictEqual(stats, {
        origin: server.url,
        calls: 1,
        attempts: 3,
        retries: 2,
        failures: 2,
        rejections: 0,
        drained: 2
      })
    }).pipe(Effect.provide(undici)))

  it.scopedLive("when retries run out, the last response is returned with its body", () =>
    Effect.gen(function*() {
      const server = yield* serve(script([503]))
      const client = yield* ResilientHttpClient.make({ retry: { ...fast, times: 2 } })
      const response = yield* client.get(`${server.url}/down`)
      assert.strictEqual(response.status, 503)
      assert.strictEqual(yield* response.text, "response 3 (503)")
      assert.strictEqual(server.count("/down"), 3)
    }).pipe(Effect.provide(undici)))

  it.scopedLive("never retries other 4xx", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => Effect.succeed(HttpServerResponse.text("no", { status: Number(request.path.slice(1)) })))
      const client = yield* ResilientHttpClient.make({ retry: fast })
      for (const status of [400, 401, 403, 404, 409, 422]) {
        const response = yield* client.get(`${server.url}/${status}`)
        assert.strictEqual(response.status, status)
        assert.strictEqual(server.count(`/${status}`), 1, `${status} is not retried`)
      }
      for (const status of [408, 429, 500, 502, 503, 504]) {
        yield* client.get(`${server.url}/${status}`)
        assert.strictEqual(server.count(`/${status}`), 3, `${status} is retried`)
      }
      yield* client.get(`${server.url}/501`)
      assert.strictEqual(server.count("/501"), 1, "a 5xx outside the list is not retried")
    }).pipe(Effect.provide(undici)))

  it.scopedLive("POST is not retried without an Idempotency-Key; with one, or with nonIdempotent, it is", () =>
    Effect.gen(function*() {
      const server = yield* serve(script([503, 200]))
      const client = yield* ResilientHttpClient.make({ retry: fast })
      const plain = yield* client.execute(HttpClientRequest.post(`${server.url}/plain`).pipe(HttpClientRequest.bodyText("x")))
      assert.strictEqual(plain.status, 503)
      assert.strictEqual(server.count("/plain"), 1)
      const patch = yield* client.execute(HttpClientRequest.patch(`${server.url}/patch`))
      assert.strictEqual(patch.status, 503)
      assert.strictEqual(server.count("/patch"), 1)

      const keyed = yield* client.execute(
        HttpClientRequest.post(`${server.url}/keyed`).pipe(
          HttpClientRequest.setHeader("Idempotency-Key", "order-42"),
          HttpClientRequest.bodyText("x")
        )
      )
      assert.strictEqual(keyed.status, 200)
      assert.strictEqual(server.count("/keyed"), 2)
      assert.deepStrictEqual(server.requests.filter((r) => r.path === "/keyed").map((r) => r.headers["idempotency-key"]), ["order-42", "order-42"])

      const optIn = yield* ResilientHttpClient.make({ retry: { ...fast, nonIdempotent: true } })
      const opted = yield* optIn.execute(HttpClientRequest.post(`${server.url}/opted`))
      assert.strictEqual(opted.status, 200)
      assert.strictEqual(server.count("/opted"), 2)

      const put = yield* client.execute(HttpClientRequest.put(`${server.url}/put`))
      assert.strictEqual(put.status, 200, "PUT is idempotent")
      assert.strictEqual(server.count("/put"), 2)
    }).pipe(Effect.provide(undici)))

  it.scopedLive("a connection reset is a transport error: retried, counted as a failure", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => request.n === 1 ? resetConnection : Effect.succeed(HttpServerResponse.text("ok")))
      const resilience = yield* ResilientHttpClient.makeTransform({ retry: fast })
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      const response = yield* client.get(`${server.url}/reset`)
      assert.strictEqual(yield* response.text, "ok")
      assert.strictEqual(server.count("/reset"), 2)
      assert.strictEqual(resilience.unsafeStats()[0]!.failures, 1)

      const noRetry = yield* ResilientHttpClient.make({ retry: false })
      const error = yield* Effect.flip(noRetry.execute(HttpClientRequest.post(`${server.url}/reset-post`)))
      assert.strictEqual(server.count("/reset-post"), 1)
      assert.isTrue(error._tag === "RequestError" && error.reason === "Transport")
    }).pipe(Effect.provide(nodeKeepAlive)))
})

describe("ResilientHttpClient: Retry-After", () => {
  it.scoped("429 with Retry-After in seconds sets the next delay", () =>
    Effect.gen(function*() {
      const server = yield* serve(script([429, 200], () => ({ "retry-after": "2" })))
      const { client, nextDelay } = yield* observedClient({ retry: { schedule: Retry.constant("10 millis") } })
      const delay = yield* nextDelay
      const fiber = yield* Effect.fork(client.get(`${server.url}/limited`))
      assert.strictEqual(yield* delay, 2000)
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(server.count("/limited"), 1)
      yield* TestClock.adjust("1 millis")
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(server.count("/limited"), 2)
    }).pipe(Effect.provide(undici)))

  it.scoped("503 with Retry-After as an HTTP-date sets the next delay from the Clock", () =>
    Effect.gen(function*() {
      const now = Date.UTC(2030, 0, 1, 12, 0, 0)
      yield* TestClock.setTime(now)
      const at = new Date(now + 3000).toUTCString() // "Tue, 01 Jan 2030 12:00:03 GMT"
      const server = yield* serve(script([503, 200], () => ({ "retry-after": at })))
      const { client, nextDelay } = yield* observedClient({ retry: { schedule: Retry.constant("10 millis") } })
      const delay = yield* nextDelay
      const fiber = yield* Effect.fork(client.get(`${server.url}/date`))
      assert.strictEqual(yield* delay, 3000)
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
    }).pipe(Effect.provide(undici)))

  it.scoped("garbage Retry-After values are ignored: the backoff applies", () =>
    Effect.gen(function*() {
      for (const garbage of ["soon", "-5", "1.5", "", "Tomorrow-ish 99:99"]) {
        const path = `/garbage-${encodeURIComponent(garbage)}`
        const server = yield* serve(script([503, 200], () => ({ "retry-after": garbage })))
        const { client, nextDelay } = yield* observedClient({ retry: { schedule: Retry.constant("10 millis") } })
        const delay = yield* nextDelay
        const fiber = yield* Effect.fork(client.get(`${server.url}${path}`))
        assert.strictEqual(yield* delay, 10, `Retry-After: ${JSON.stringify(garbage)}`)
        yield* TestClock.adjust("10 millis")
        assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
      }
    }).pipe(Effect.provide(undici)))

  it.scoped("a Retry-After beyond maxRetryAfter (or far in the future) is not waited for: the response is returned", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => {
        const path = request.path
        const value = path === "/far-date" ? "Fri, 31 Dec 9999 23:59:59 GMT" : path === "/huge" ? "99999999999999999999" : "120"
        return Effect.succeed(HttpServerResponse.text("busy", { status: 429, headers: { "retry-after": value } }))
      })
      yield* TestClock.setTime(Date.UTC(2030, 0, 1))
      const client = yield* ResilientHttpClient.make({ retry: { maxRetryAfter: "1 minute" }, timeout: false, attemptTimeout: false })
      for (const path of ["/two-minutes", "/far-date", "/huge"]) {
        const response = yield* client.get(`${server.url}${path}`)
        assert.strictEqual(response.status, 429)
        assert.strictEqual(server.count(path), 1, path)
      }
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpClient: timeouts", () => {
  it.scopedLive("slow headers: the attempt times out and is retried", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.n <= 2
          ? Effect.sleep("2 seconds").pipe(Effect.as(HttpServerResponse.text("late")))
          : Effect.succeed(HttpServerResponse.text("fast"))
      )
      // a loaded machine may time out a fast attempt too: allow spare retries, assert no timings
      const resilience = yield* ResilientHttpClient.makeTransform({ attemptTimeout: "50 millis", retry: { ...fast, times: 6 } })
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      const response = yield* client.get(`${server.url}/slow-headers`)
      assert.strictEqual(yield* response.text, "fast")
      assert.isAtLeast(server.count("/slow-headers"), 3)
      assert.isAtLeast(resilience.unsafeStats()[0]!.failures, 2)
    }).pipe(Effect.provide(undici)))

  it.scopedLive("the overall timeout bounds the call; its error is a typed TimeoutError", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => Effect.sleep("2 seconds").pipe(Effect.as(HttpServerResponse.text("late"))))
      // the attempt timeout is longer: the overall deadline cuts the first attempt, whatever the machine's load
      // (with a shorter attempt timeout, a late retry may give up on the deadline with the attempt's error)
      const client = yield* ResilientHttpClient.make({ timeout: "60 millis", attemptTimeout: "400 millis", retry: fast })
      const error = yield* Effect.flip(client.get(`${server.url}/hang`))
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual((error as Errors.TimeoutError).scope, "overall")
    }).pipe(Effect.provide(undici)))

  it.scopedLive("slow body, streamed (bufferBody: false): bodyTimeout bounds the wait for each chunk of the returned body", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => Effect.succeed(slowBody(2000)))
      const client = yield* ResilientHttpClient.make({ bodyTimeout: "40 millis", bufferBody: false })
      const response = yield* client.get(`${server.url}/slow-body`)
      assert.strictEqual(response.status, 200, "the head arrived")
      const error = yield* Effect.flip(response.text)
      assert.strictEqual(error.reason, "Decode")
      assert.instanceOf(error.cause, Errors.TimeoutError)
      const streamed = yield* Effect.flip((yield* client.get(`${server.url}/slow-body`)).stream.pipe(Stream.runDrain))
      assert.instanceOf(streamed.cause, Errors.TimeoutError)
    }).pipe(Effect.provide(undici)))

  it.scopedLive("slow body with bufferBody: read inside the attempt, so it times out and is retried", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        Effect.succeed(request.n === 1 ? slowBody(2000) : HttpServerResponse.text("whole body"))
      )
      const resilience = yield* ResilientHttpClient.makeTransform({ bufferBody: true, attemptTimeout: "60 millis", retry: { ...fast, times: 6 } })
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      const response = yield* client.get(`${server.url}/buffered`)
      assert.strictEqual(yield* response.text, "whole body")
      assert.strictEqual(yield* response.text, "whole body", "a buffered body can be read again")
      assert.isAtLeast(server.count("/buffered"), 2)
      assert.isAtLeast(resilience.unsafeStats()[0]!.failures, 1)
    }).pipe(Effect.provide(undici)))

  it.scopedLive("bufferBody refuses bodies over maxBufferBytes without retrying", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => Effect.succeed(HttpServerResponse.text("x".repeat(4096))))
      const client = yield* ResilientHttpClient.make({ bufferBody: true, maxBufferBytes: 1024, retry: fast })
      const error = yield* Effect.flip(client.get(`${server.url}/big`))
      assert.strictEqual(error._tag, "ResponseError")
      assert.strictEqual(server.count("/big"), 1)
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpClient: connections", () => {
  it.scopedLive("keep-alive: discarded bodies are drained, so every attempt reuses the connection", () =>
    Effect.gen(function*() {
      const body = "e".repeat(32 * 1024)
      const server = yield* serve((request) =>
        Effect.succeed(HttpServerResponse.text(request.n <= 2 ? body : "ok", { status: request.n <= 2 ? 503 : 200 }))
      )
      const raw = yield* HttpClient.HttpClient
      // control: the plain client, discarding unread 503 bodies, needs a new connection each time
      for (let i = 0; i < 3; i++) yield* raw.get(`${server.url}/control`)
      const controlPorts = server.requests.filter((r) => r.path === "/control").map((r) => r.remotePort)
      assert.strictEqual(new Set(controlPorts).size, 3, "an unread body holds its connection")

      const client = raw.pipe(yield* ResilientHttpClient.makeTransform({ retry: fast }))
      const response = yield* client.get(`${server.url}/drained`)
      assert.strictEqual(yield* response.text, "ok")
      const ports = server.requests.filter((r) => r.path === "/drained").map((r) => r.remotePort)
      assert.strictEqual(ports.length, 3)
      assert.strictEqual(new Set(ports).size, 1, "one connection for the three attempts")
    }).pipe(Effect.provide(nodeKeepAlive)))

  it.scopedLive("keep-alive with undici too", () =>
    Effect.gen(function*() {
      const server = yield* serve(script([503, 503, 200]))
      const client = yield* ResilientHttpClient.make({ retry: fast })
      yield* client.get(`${server.url}/u`)
      const ports = server.requests.map((r) => r.remotePort)
      assert.strictEqual(new Set(ports).size, 1)
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpClient.layer", () => {
  it.scopedLive("replaces the default HttpClient; library errors arrive as RequestError causes", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/hang"
          ? Effect.sleep("2 seconds").pipe(Effect.as(HttpServerResponse.text("late")))
          : script([503, 200])(request)
      )
      const live = ResilientHttpClient.layer({ retry: fast, timeout: "150 millis", attemptTimeout: "100 millis" }).pipe(
        Layer.provide(undici)
      )
      const program = Effect.gen(function*() {
        const ok = yield* HttpClient.get(`${server.url}/flaky`)
        assert.strictEqual(ok.status, 200)
        const error = yield* Effect.flip(HttpClient.get(`${server.url}/hang`))
        assert.strictEqual(error._tag, "RequestError")
        const cause = ResilientHttpClient.resilienceErrorOf(error)
        assert.isTrue(Option.isSome(cause) && cause.value._tag === "TimeoutError")
        assert.isTrue(Option.isNone(ResilientHttpClient.resilienceErrorOf(new HttpClientError.RequestError({ request: HttpClientRequest.get("/"), reason: "Transport" }))))
      })
      yield* Effect.provide(program, live)
      assert.isAtLeast(server.count("/flaky"), 2)
    }))

  it.effect("invalid options fail with InvalidOptionsError naming the option", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ResilientHttpClient.Options, string]> = [
        [{ timeout: "-1 second" }, "timeout"],
        [{ attemptTimeout: 0 }, "attemptTimeout"],
        [{ retry: { times: -1 } }, "retry.times"],
        [{ retry: { statuses: [99] } }, "retry.statuses"],
        [{ maxOrigins: 0 }, "maxOrigins"],
        [{ bulkhead: 5 as any }, "bulkhead"],
        // the client's errors do not include BulkheadStoreError: a fail-closed bulkhead is refused
        [{ bulkhead: { onStoreError: "fail" } as any }, "bulkhead.onStoreError"],
        [{ circuitBreaker: "on" as any }, "circuitBreaker"],
        [{ health: { whenOpen: "down" as any } }, "health.whenOpen"]
      ]
      for (const [options, option] of cases) {
        const exit = yield* Effect.exit(Effect.scoped(ResilientHttpClient.makeTransform(options)))
        assert.isTrue(Exit.isFailure(exit))
        const error = yield* Effect.flip(Effect.scoped(ResilientHttpClient.makeTransform(options)))
        assert.strictEqual(error.option, option)
      }
    }))
})

describe("ResilientHttpClient: classification", () => {
  it("originOf: scheme, host and port", () => {
    assert.strictEqual(ResilientHttpClient.originOf(HttpClientRequest.get("http://127.0.0.1:8080/a?b=c")), "http://127.0.0.1:8080")
    assert.strictEqual(ResilientHttpClient.originOf(HttpClientRequest.get("https://example.com/a")), "https://example.com")
    assert.strictEqual(ResilientHttpClient.originOf(HttpClientRequest.get("https://example.com:8443/")), "https://example.com:8443")
    assert.strictEqual(ResilientHttpClient.originOf(HttpClientRequest.get("/relative")), "invalid")
  })

  it("isOriginFailure: 5xx, transport errors and timeouts; not 4xx, bad URLs or rejections", () => {
    const request = HttpClientRequest.get("http://127.0.0.1:1/")
    assert.isTrue(ResilientHttpClient.isOriginFailure(new HttpClientError.RequestError({ request, reason: "Transport" })))
    assert.isFalse(ResilientHttpClient.isOriginFailure(new HttpClientError.RequestError({ request, reason: "InvalidUrl" })))
    assert.isTrue(ResilientHttpClient.isOriginFailure(new Errors.TimeoutError({ duration: Duration.seconds(1) })))
    assert.isFalse(ResilientHttpClient.isOriginFailure(Errors.BulkheadFullError.make({ name: "b", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" })))
  })
})

describe("ResilientHttpClient: circuit breaker and bulkhead per origin", () => {
  it.scopedLive("per-origin isolation: one origin's circuit opens, the other keeps working", () =>
    Effect.gen(function*() {
      const down = yield* serve(() => Effect.succeed(HttpServerResponse.text("down", { status: 503 })))
      const up = yield* serve(() => Effect.succeed(HttpServerResponse.text("up")))
      const resilience = yield* ResilientHttpClient.makeTransform({
        retry: false,
        circuitBreaker: { tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 minute" }
      })
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      assert.strictEqual((yield* client.get(`${down.url}/x`)).status, 503)
      assert.strictEqual((yield* client.get(`${down.url}/x`)).status, 503)
      const rejected = yield* Effect.flip(client.get(`${down.url}/x`))
      assert.strictEqual(rejected._tag, "CircuitBreakerError")
      assert.isTrue(Errors.isRejection(rejected))
      assert.strictEqual(down.count("/x"), 2, "the open circuit kept the call from the origin")

      for (let i = 0; i < 5; i++) assert.strictEqual((yield* client.get(`${up.url}/y`)).status, 200)
      const breaker = resilience.circuitBreaker!
      assert.strictEqual((yield* breaker.state(down.url))._tag, "Open")
      assert.strictEqual((yield* breaker.state(up.url))._tag, "Closed")
      const stats = Object.fromEntries(resilience.unsafeStats().map((s) => [s.origin, s]))
      assert.strictEqual(stats[down.url]!.rejections, 1)
      assert.strictEqual(stats[up.url]!.rejections, 0)
    }).pipe(Effect.provide(undici)))

  it.scopedLive("4xx responses (408 and 429 included) count as successes; retries never retry a rejection", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => Effect.succeed(HttpServerResponse.text("no", { status: Number(request.path.slice(1)) })))
      const resilience = yield* ResilientHttpClient.makeTransform({
        retry: fast,
        circuitBreaker: { tripPolicy: CircuitBreaker.consecutive(2), openDuration: "1 minute" }
      })
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      for (const status of [404, 400, 429, 408, 404, 429]) assert.strictEqual((yield* client.get(`${server.url}/${status}`)).status, status)
      const metrics = yield* resilience.circuitBreaker!.metrics(server.url)
      assert.strictEqual(metrics.state._tag, "Closed")
      assert.strictEqual(metrics.failures, 0)
      assert.strictEqual(metrics.successes, 6)

      yield* client.get(`${server.url}/500`)
      yield* client.get(`${server.url}/502`)
      assert.strictEqual((yield* resilience.circuitBreaker!.state(server.url))._tag, "Open")
      const before = server.requests.length
      const rejected = yield* Effect.flip(client.get(`${server.url}/503`))
      assert.strictEqual(rejected._tag, "CircuitBreakerError")
      assert.strictEqual(server.requests.length, before, "not retried, not sent")
    }).pipe(Effect.provide(undici)))

  it.scopedLive("a bulkhead partition per origin: a full origin rejects, another is unaffected", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const arrived = yield* Deferred.make<void>()
      const slow = yield* serve(() =>
        Effect.zipRight(Deferred.succeed(arrived, undefined), Effect.as(Deferred.await(release), HttpServerResponse.text("slow")))
      )
      const fastOrigin = yield* serve(() => Effect.succeed(HttpServerResponse.text("fast")))
      const resilience = yield* ResilientHttpClient.makeTransform({ retry: false, bulkhead: { maxConcurrent: 1, maxQueue: 0 } })
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      const first = yield* Effect.fork(client.get(`${slow.url}/a`))
      yield* Deferred.await(arrived) // the first call holds the origin's permit: its request reached the server
      const full = yield* Effect.flip(client.get(`${slow.url}/a`))
      assert.strictEqual(full._tag, "BulkheadFullError")
      assert.strictEqual(slow.count("/a"), 1)
      assert.strictEqual(yield* (yield* client.get(`${fastOrigin.url}/b`)).text, "fast")
      assert.deepStrictEqual(resilience.bulkhead!.unsafeStats(slow.url).active, 1)
      yield* Deferred.succeed(release, undefined)
      assert.strictEqual(yield* (yield* Fiber.join(first)).text, "slow")
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpClient: registry and health", () => {
  it.scopedLive("registers with the policy registry and feeds the health report", () =>
    Effect.gen(function*() {
      const down = yield* serve(() => Effect.succeed(HttpServerResponse.text("down", { status: 503 })))
      const up = yield* serve(() => Effect.succeed(HttpServerResponse.text("up")))
      const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
      const registry = Context.get(ctx, Health.PolicyRegistry)
      const health = Context.get(ctx, Health.Health)
      const resilience = yield* ResilientHttpClient.makeTransform({
        name: "upstreams",
        retry: false,
        circuitBreaker: { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" }
      }).pipe(Effect.provide(ctx))
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      /** The client's check in the first published report (the current one, then each change) where it has `status`. */
      const checkWith = (status: Health.Status) =>
        health.changes.pipe(
          Stream.flatMap((report) => Stream.fromIterable(report.checks)),
          Stream.filter((check) => check.name === "http:upstreams" && check.status === status),
          Stream.runHead,
          Effect.map(Option.getOrThrow)
        )
      yield* client.get(`${up.url}/`)
      assert.strictEqual((yield* health.report).status, "healthy")

      yield* client.get(`${down.url}/`)
      const result = yield* checkWith("degraded")
      assert.match(result.message!, new RegExp(`^circuit open: ${down.url} \\(retry in `))
      assert.strictEqual((yield* health.report).status, "degraded")

      const info = yield* registry.get("upstreams")
      assert.strictEqual(info.kind, "HttpClient")
      assert.deepStrictEqual(info.controls, ["isolate", "reset", "resize", "setMode"])
      const origins = (info.origins as ReadonlyArray<any>).map((o) => [o.origin, o.circuit, o.calls])
      assert.deepStrictEqual(origins, [[up.url, "Closed", 1], [down.url, "Open", 1]])

      yield* registry.isolate("upstreams", up.url)
      assert.strictEqual((yield* Effect.flip(client.get(`${up.url}/`)))._tag, "CircuitBreakerError")
      yield* registry.reset("upstreams")
      assert.strictEqual((yield* client.get(`${up.url}/`)).status, 200)
      yield* checkWith("healthy")
      yield* registry.resize("upstreams", 3)
      assert.strictEqual(resilience.bulkhead!.unsafeStats().maxConcurrent, 3)
      // issue 20: the client's breaker has a mode switch in the registry too, as a registered breaker has
      const switched = yield* registry.setMode("upstreams", "MetricsOnly")
      assert.strictEqual(switched.kind, "HttpClient")
      assert.strictEqual((yield* resilience.circuitBreaker!.state(up.url)).mode, "MetricsOnly")
      assert.strictEqual((yield* Effect.flip(registry.setMode("upstreams", "Sometimes")))._tag, "InvalidOptionsError")
      yield* registry.setMode("upstreams", "Enforcing")
      assert.strictEqual((yield* resilience.circuitBreaker!.state(up.url)).mode, "Enforcing")
    }).pipe(Effect.provide(undici)))

  it.scoped("issue 20: without a breaker the entry has no isolate, reset or mode switch; without a registry nothing is registered", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
      const registry = Context.get(ctx, Health.PolicyRegistry)
      yield* ResilientHttpClient.makeTransform({ name: "plain", circuitBreaker: false }).pipe(Effect.provide(ctx))
      assert.deepStrictEqual((yield* registry.get("plain")).controls, ["resize"])
      // no registry in context: the client is made all the same
      const alone = yield* ResilientHttpClient.makeTransform({ name: "alone" })
      assert.isTrue(ResilientHttpClient.isResilientHttpClient(alone))
      assert.strictEqual((yield* Effect.flip(registry.get("alone")))._tag, "PolicyRegistryError")
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpClient: shape (issue 20)", () => {
  it.scoped("the transform carries TypeId; stats() is an Effect, unsafeStats() its synchronous twin", () =>
    Effect.gen(function*() {
      const server = yield* serve(script([200, 200]))
      const resilience = yield* ResilientHttpClient.makeTransform({ retry: false })
      assert.isTrue(ResilientHttpClient.isResilientHttpClient(resilience))
      assert.strictEqual(resilience[ResilientHttpClient.TypeId], ResilientHttpClient.TypeId)
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      assert.isFalse(ResilientHttpClient.isResilientHttpClient(client))
      assert.isFalse(ResilientHttpClient.isResilientHttpClient(CircuitBreaker.consecutive(1)))
      assert.isFalse(ResilientHttpClient.isResilientHttpClient(null))
      const before = resilience.stats()
      assert.isTrue(Effect.isEffect(before))
      assert.deepStrictEqual(yield* before, [])
      yield* client.get(`${server.url}/a`)
      // the same Effect reads the state when it runs, not when it was made
      assert.deepStrictEqual((yield* before).map((s) => [s.origin, s.calls]), [[server.url, 1]])
      yield* client.get(`${server.url}/b`)
      assert.deepStrictEqual(yield* resilience.stats(), resilience.unsafeStats())
      assert.strictEqual(resilience.unsafeStats()[0]!.calls, 2)
      // what `unsafeStats` returns is a copy: mutating it changes nothing
      ;(resilience.unsafeStats()[0] as { calls: number }).calls = 99
      assert.strictEqual(resilience.unsafeStats()[0]!.calls, 2)
      // `execute` is dual: data-first (what `HttpClient.transform` calls) and data-last
      const plain = yield* HttpClient.HttpClient
      const request = HttpClientRequest.get(`${server.url}/c`)
      assert.strictEqual((yield* resilience.execute(plain.execute(request), request)).status, 200)
      assert.strictEqual((yield* plain.execute(request).pipe(resilience.execute(request))).status, 200)
      assert.strictEqual(resilience.unsafeStats()[0]!.calls, 4)
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpClient: observability", () => {
  const counterValue = (name: string, tags: Record<string, string>) =>
    Effect.map(Metric.snapshot, (pairs) => {
      const pair = pairs.find((p) =>
        p.metricKey.name === name &&
        Object.entries(tags).every(([k, v]) => p.metricKey.tags.some((t) => t.key === k && t.value === v)) &&
        p.metricKey.tags.length === Object.keys(tags).length
      )
      return pair === undefined ? 0 : Number((pair.metricState as any).count)
    })

  it.scopedLive("metrics per origin, with labels bounded by maxOrigins (later origins share \"other\")", () =>
    Effect.gen(function*() {
      const servers = yield* Effect.all([1, 2, 3].map(() => serve(() => Effect.succeed(HttpServerResponse.text("down", { status: 503 })))))
      const resilience = yield* ResilientHttpClient.makeTransform({ name: "metrics-test", maxOrigins: 2, retry: fast, circuitBreaker: false })
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      for (const server of servers) yield* client.get(`${server.url}/`)
      const [a, b] = servers.map((s) => s.url)
      for (const origin of [a!, b!]) {
        assert.strictEqual(yield* counterValue("resilience_http_failures", { policy: "metrics-test", origin, reason: "status_5xx" }), 3)
        assert.strictEqual(yield* counterValue("resilience_http_retries", { policy: "metrics-test", origin }), 2)
      }
      assert.strictEqual(yield* counterValue("resilience_http_failures", { policy: "metrics-test", origin: "other", reason: "status_5xx" }), 3)
      const durations = (yield* Metric.snapshot).filter((p) =>
        p.metricKey.name === "resilience_http_duration_ms" && p.metricKey.tags.some((t) => t.key === "policy" && t.value === "metrics-test")
      )
      assert.deepStrictEqual(durations.map((p) => p.metricKey.tags.find((t) => t.key === "origin")!.value).sort(), [a!, b!, "other"].sort())
      assert.deepStrictEqual(resilience.unsafeStats().map((s) => s.origin), [b, servers[2]!.url], "stats keep the most recent maxOrigins origins")
    }).pipe(Effect.provide(undici)))

  it.scopedLive("spans per attempt, when asked for", () =>
    Effect.gen(function*() {
      const server = yield* serve(script([503, 503, 200]))
      const recorded: Array<Tracer.Span> = []
      const base = yield* Effect.tracer
      const tracer = Tracer.make({
        span: (...args) => {
          const span = base.span(...args)
          recorded.push(span)
          return span
        },
        context: (f, fiber) => base.context(f, fiber)
      })
      const traced = yield* ResilientHttpClient.make({ retry: fast, spans: true })
      yield* traced.get(`${server.url}/a`).pipe(Effect.withTracer(tracer))
      const attempts = recorded.filter((s) => s.name === "resilience.http.attempt")
      assert.deepStrictEqual(attempts.map((s) => s.attributes.get("resilience.attempt")), [1, 2, 3])
      assert.strictEqual(attempts[0]!.attributes.get("server.origin"), server.url)

      recorded.length = 0
      const untraced = yield* ResilientHttpClient.make({ retry: fast })
      yield* untraced.get(`${server.url}/b`).pipe(Effect.withTracer(tracer))
      assert.strictEqual(recorded.filter((s) => s.name === "resilience.http.attempt").length, 0, "off by default")
    }).pipe(Effect.provide(undici)))
})

describe("ResilientHttpClient: request and client shapes", () => {
  it.scopedLive("statuses turned into errors by an inner filterStatusOk are classified, retried and drained alike", () =>
    Effect.gen(function*() {
      const server = yield* serve(script([503, 503, 200]))
      const resilience = yield* ResilientHttpClient.makeTransform({ retry: fast })
      const client = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk, resilience)
      const response = yield* client.get(`${server.url}/inner`)
      assert.strictEqual(yield* response.text, "response 3 (200)")
      assert.deepStrictEqual(
        [resilience.unsafeStats()[0]!.failures, resilience.unsafeStats()[0]!.retries, resilience.unsafeStats()[0]!.drained],
        [2, 2, 2]
      )
      const notFound = yield* serve(() => Effect.succeed(HttpServerResponse.text("no", { status: 404 })))
      const error = yield* Effect.flip(client.get(`${notFound.url}/missing`))
      assert.strictEqual(error._tag, "ResponseError")
      assert.strictEqual(notFound.count("/missing"), 1)
    }).pipe(Effect.provide(undici)))

  it.scopedLive("a request with a streamed body is never retried", () =>
    Effect.gen(function*() {
      const server = yield* serve(script([503, 200]))
      const client = yield* ResilientHttpClient.make({ retry: { ...fast, nonIdempotent: true } })
      const body = HttpBody.stream(Stream.make(new TextEncoder().encode("chunk")), "text/plain")
      const streamed = yield* client.execute(HttpClientRequest.put(`${server.url}/stream`).pipe(HttpClientRequest.setBody(body)))
      assert.strictEqual(streamed.status, 503)
      assert.strictEqual(server.count("/stream"), 1)
      const buffered = yield* client.execute(HttpClientRequest.put(`${server.url}/buffered`).pipe(HttpClientRequest.bodyText("chunk")))
      assert.strictEqual(buffered.status, 200)
      assert.strictEqual(server.count("/buffered"), 2)
    }).pipe(Effect.provide(undici)))
})

describe("issue 16 §2: the HTTP client's defaults against a silent server", () => {
  for (const [label, layer] of [["undici", undici], ["node:http", nodeKeepAlive]] as const) {
    it.scopedLive(`only \`timeout\` set: a server that never answers opens the origin's breaker (${label})`, () =>
      Effect.gen(function*() {
        const server = yield* serve(() => Effect.never)
        const resilience = yield* ResilientHttpClient.makeTransform({ timeout: "200 millis" })
        const client = (yield* HttpClient.HttpClient).pipe(resilience)
        // the default breaker: consecutive(5)
        for (let i = 0; i < 5; i++) {
          const error = yield* Effect.flip(client.get(`${server.url}/silent`))
          assert.strictEqual(error._tag, "TimeoutError")
        }
        const breaker = resilience.circuitBreaker!
        assert.strictEqual((yield* breaker.state(server.url))._tag, "Open")
        // the next call is rejected at once, without reaching the server
        const before = server.count("/silent")
        const rejected = yield* Effect.flip(client.get(`${server.url}/silent`))
        assert.strictEqual(rejected._tag, "CircuitBreakerError")
        assert.strictEqual(server.count("/silent"), before)
      }).pipe(Effect.provide(layer)))
  }
})

describe("issue 18: the overall timeout bounds the whole exchange, body included", () => {
  const CHUNK = new TextEncoder().encode("x".repeat(64))

  /** `count` chunks of 64 bytes: the first with the head, then one every `everyMillis` (real time). */
  const drip = (count: number, everyMillis: number) =>
    HttpServerResponse.stream(
      Stream.range(1, count).pipe(
        Stream.mapEffect((i) => (i === 1 ? Effect.succeed(CHUNK) : Effect.as(Effect.sleep(everyMillis), CHUNK)))
      ),
      { contentType: "text/plain" }
    )

  /**
   * The head and one chunk (chunked, no Content-Length), written on Node's response itself; the connection
   * is destroyed once they are flushed to the socket (the write's callback): the client gets them, then the cut.
   */
  const cutAfterHead = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.zipRight(
      Effect.sync(() => {
        const response = NodeHttpServerRequest.toServerResponse(request)
        response.writeHead(200, { "content-type": "text/plain" })
        response.write(CHUNK, () => response.socket?.destroy())
      }),
      Effect.never
    ))

  /**
   * The Node readable holding the body of a response of @effect/platform-node's clients (`node:http`'s
   * `IncomingMessage`, or undici's body), under the resilient client's wrappers (`original`).
   */
  const nodeBodyOf = (response: unknown): Readable => {
    let r = response as { readonly source?: unknown; readonly original?: unknown } | undefined
    for (let depth = 0; depth < 4 && typeof r === "object"; depth++) {
      const source = r.source as { readonly body?: unknown } | undefined
      if (source instanceof Readable) return source
      if (source?.body instanceof Readable) return source.body
      r = r.original as typeof r
    }
    return assert.fail("no Node readable under the response")
  }

  /** What a read failed with: the `ResponseError`'s reason and its cause's tag. */
  const bodyFailure = (error: unknown) => {
    const e = error as HttpClientError.HttpClientError
    return { error: e._tag, reason: e.reason, cause: (e as { cause?: { _tag?: string } }).cause?._tag }
  }

  for (const [label, layer] of [["undici", undici], ["node:http", nodeKeepAlive]] as const) {
    describe(label, () => {
      it.scopedLive("issue 18: only `timeout` set, a body stalled after the head fails with that timeout within it, and the breaker opens", () =>
        Effect.gen(function*() {
          const server = yield* serve(() => Effect.succeed(slowBody(10_000)))
          const resilience = yield* ResilientHttpClient.makeTransform({ timeout: "300 millis" })
          const client = (yield* HttpClient.HttpClient).pipe(resilience)
          // the default breaker is consecutive(5): five stalled calls at once
          const errors = yield* Effect.all(
            Array.from({ length: 5 }, () => Effect.flip(client.get(`${server.url}/stalled`))),
            { concurrency: 5 }
          )
          // bounded by the 300 ms timeout, body included: the body stalls for 10 s, the calls end with that timeout
          for (const error of errors) {
            assert.strictEqual(error._tag, "TimeoutError")
            assert.strictEqual((error as Errors.TimeoutError).scope, "overall")
            assert.strictEqual(Duration.toMillis((error as Errors.TimeoutError).duration), 300)
          }
          assert.strictEqual((yield* resilience.circuitBreaker!.state(server.url))._tag, "Open")
          const before = server.count("/stalled")
          assert.strictEqual((yield* Effect.flip(client.get(`${server.url}/stalled`)))._tag, "CircuitBreakerError")
          assert.strictEqual(server.count("/stalled"), before, "the open circuit keeps the call from the stalling upstream")
        }).pipe(Effect.provide(layer)))

      it.scopedLive("issue 18: a slow drip that outlasts the deadline fails at the deadline", () =>
        Effect.gen(function*() {
          // 100 chunks, one every 20 ms: 2 s of a body that never stops arriving
          const server = yield* serve(() => Effect.succeed(drip(100, 20)))
          const client = yield* ResilientHttpClient.make({ timeout: "300 millis" })
          const error = yield* Effect.flip(client.get(`${server.url}/drip`))
          // the call's 300 ms timeout, not a body that ends (2 s later) nor the idle timeout (each chunk comes in time)
          assert.strictEqual(error._tag, "TimeoutError")
          assert.strictEqual((error as Errors.TimeoutError).scope, "overall")
          assert.strictEqual(Duration.toMillis((error as Errors.TimeoutError).duration), 300)
        }).pipe(Effect.provide(layer)))

      it.scopedLive("issue 18: a body cut after the head, read at once: a typed BodyCutError, retried like a failed attempt", () =>
        Effect.gen(function*() {
          const server = yield* serve((request) =>
            request.path === "/flaky" && request.n > 1 ? Effect.succeed(HttpServerResponse.text("whole")) : cutAfterHead
          )
          const resilience = yield* ResilientHttpClient.makeTransform({ timeout: "300 millis" })
          const client = (yield* HttpClient.HttpClient).pipe(resilience)
          // a POST is not retried: the cut is the call's error (a BodyCutError: the cut, not the timeout)
          const error = yield* Effect.flip(client.post(`${server.url}/cut`))
          assert.deepStrictEqual(bodyFailure(error), { error: "ResponseError", reason: "Decode", cause: "BodyCutError" })
          // a GET is retried: the second attempt is served whole
          const response = yield* client.get(`${server.url}/flaky`)
          assert.strictEqual(yield* response.text, "whole")
          const stats = resilience.unsafeStats()[0]!
          assert.deepStrictEqual([stats.attempts, stats.retries, stats.failures], [3, 1, 2], "both cuts were failed attempts")
          const metrics = yield* resilience.circuitBreaker!.metrics(server.url)
          assert.strictEqual(metrics.failures, 1, "the unretried cut POST counted by the breaker")
        }).pipe(Effect.provide(layer)))

      it.scopedLive("issue 18: a streamed body cut, read after the cut reached the client: a typed BodyCutError, no hang, never an empty body", () =>
        Effect.gen(function*() {
          const server = yield* serve(() => cutAfterHead)
          const client = yield* ResilientHttpClient.make({ timeout: "300 millis" })
          for (const read of ["text", "stream"] as const) {
            const response = yield* client.get(`${server.url}/cut`).pipe(ResilientHttpClient.streaming())
            assert.strictEqual(response.status, 200)
            // the connection is closed on both sides: the client has destroyed the body's readable
            yield* pollUntil(Effect.sync(() => nodeBodyOf(response).destroyed))
            const body = read === "text" ? response.text : Stream.runDrain(response.stream)
            const error = yield* Effect.flip(body)
            assert.deepStrictEqual(bodyFailure(error), { error: "ResponseError", reason: "Decode", cause: "BodyCutError" }, read)
            // at once: the cut was seen before anything was read (a read that waited would not say so)
            assert.isTrue(((error as HttpClientError.ResponseError).cause as ResilientHttpClient.BodyCutError).beforeRead, read)
          }
        }).pipe(Effect.provide(layer)))

      it.scopedLive("issue 18: an oversized body fails typed, naming the limit; not retried, not counted", () =>
        Effect.gen(function*() {
          const big = "y".repeat(4096)
          const server = yield* serve((request) =>
            Effect.succeed(
              request.path === "/announced"
                ? HttpServerResponse.text(big)
                : HttpServerResponse.stream(Stream.make(new TextEncoder().encode(big)), { contentType: "text/plain" })
            )
          )
          const resilience = yield* ResilientHttpClient.makeTransform({ timeout: "300 millis", maxBufferBytes: 1024 })
          const client = (yield* HttpClient.HttpClient).pipe(resilience)
          for (const path of ["/announced", "/chunked"]) {
            const error = yield* Effect.flip(client.get(`${server.url}${path}`))
            assert.deepStrictEqual(bodyFailure(error), { error: "ResponseError", reason: "Decode", cause: "BodyTooLargeError" }, path)
            const cause = (error as HttpClientError.ResponseError).cause as ResilientHttpClient.BodyTooLargeError
            assert.strictEqual(cause.maxBytes, 1024)
            assert.match(cause.message, /maxBufferBytes \(1024 bytes\)/)
            assert.strictEqual(server.count(path), 1, `${path}: not retried`)
          }
          assert.strictEqual((yield* resilience.circuitBreaker!.metrics(server.url)).failures, 0)
        }).pipe(Effect.provide(layer)))

      it.scopedLive("issue 18: bodiless responses (HEAD, 304) announcing a Content-Length read as empty, not as cut", () =>
        Effect.gen(function*() {
          const server = yield* serve((request) =>
            Effect.succeed(
              request.path === "/head"
                ? HttpServerResponse.text("hello")
                : HttpServerResponse.empty({ status: Number(request.path.slice(1)), headers: { "content-length": "5" } })
            )
          )
          const client = yield* ResilientHttpClient.make({ timeout: "300 millis" })
          const head = yield* client.head(`${server.url}/head`)
          assert.deepStrictEqual([head.status, head.headers["content-length"], yield* head.text], [200, "5", ""])
          // undici itself rejects a 204 or 304 with a Content-Length (UND_ERR_RES_CONTENT_LENGTH_MISMATCH)
          if (label === "node:http") {
            const notModified = yield* client.get(`${server.url}/304`)
            assert.deepStrictEqual([notModified.status, yield* notModified.text], [304, ""])
          }
        }).pipe(Effect.provide(layer)))

      it.scopedLive("issue 18: streaming, a stream that stalls between chunks fails with the idle timeout (bodyTimeout)", () =>
        Effect.gen(function*() {
          const server = yield* serve(() => Effect.succeed(slowBody(10_000)))
          const client = yield* ResilientHttpClient.make({ timeout: "300 millis" })
          const response = yield* client.get(`${server.url}/stall`).pipe(ResilientHttpClient.streaming({ bodyTimeout: "100 millis" }))
          let chunks = 0
          const error = yield* Effect.flip(Stream.runForEach(response.stream, () => Effect.sync(() => chunks++)))
          assert.strictEqual(chunks, 1, "the first chunk was read")
          assert.deepStrictEqual(bodyFailure(error), { error: "ResponseError", reason: "Decode", cause: "TimeoutError" })
          // the idle timeout, before the deadline (whose error would be the call's: scope "overall", 300 ms)
          assert.strictEqual((error.cause as Errors.TimeoutError).scope, "attempt")
          assert.strictEqual(Duration.toMillis((error.cause as Errors.TimeoutError).duration), 100)
          assert.match(error.message, /no data for 100ms \(bodyTimeout\)/)
        }).pipe(Effect.provide(layer)))

      it.scopedLive("issue 18: streaming, a long healthy stream fails at the call's deadline, and completes when opted out", () =>
        Effect.gen(function*() {
          // 12 chunks, one every 50 ms: 550 ms of healthy stream
          const server = yield* serve(() => Effect.succeed(drip(12, 50)))
          const client = yield* ResilientHttpClient.make({ timeout: "200 millis" })
          const bounded = yield* client.get(`${server.url}/long`).pipe(ResilientHttpClient.streaming())
          let chunks = 0
          const error = yield* Effect.flip(Stream.runForEach(bounded.stream, () => Effect.sync(() => chunks++)))
          assert.deepStrictEqual(bodyFailure(error), { error: "ResponseError", reason: "Decode", cause: "TimeoutError" })
          // at the deadline the call had left: the call's own timeout, while the body was still arriving
          assert.strictEqual((error.cause as Errors.TimeoutError).scope, "overall")
          assert.strictEqual(Duration.toMillis((error.cause as Errors.TimeoutError).duration), 200)
          assert.isBelow(chunks, 12, "the body had not ended")

          // opted out, the same 550 ms stream is read whole: it outlived the 200 ms timeout
          const free = yield* client.get(`${server.url}/long`).pipe(ResilientHttpClient.streaming({ deadline: false }))
          const text = yield* free.text
          assert.strictEqual(text.length, 12 * 64, "every chunk")
        }).pipe(Effect.provide(layer)))
    })
  }

  it.scopedLive("issue 18: FetchHttpClient (a web Response) too: whole, cut, oversized and stalled bodies, default options", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => {
        switch (request.path) {
          case "/ok":
            return Effect.succeed(HttpServerResponse.stream(Stream.make(CHUNK, CHUNK), { contentType: "text/plain" }))
          case "/big":
            return Effect.succeed(HttpServerResponse.stream(Stream.make(new Uint8Array(4096)), { contentType: "text/plain" }))
          case "/stall":
            return Effect.succeed(slowBody(10_000))
          default:
            return cutAfterHead
        }
      })
      const resilience = yield* ResilientHttpClient.makeTransform({ timeout: "300 millis", maxBufferBytes: 1024, retry: false })
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      assert.strictEqual((yield* (yield* client.get(`${server.url}/ok`)).text).length, 128)
      assert.strictEqual(bodyFailure(yield* Effect.flip(client.get(`${server.url}/cut`))).cause, "BodyCutError")
      assert.strictEqual(bodyFailure(yield* Effect.flip(client.get(`${server.url}/big`))).cause, "BodyTooLargeError")
      // the body stalls for 10 s: the call ends with its own 300 ms timeout
      const stalled = yield* Effect.flip(client.get(`${server.url}/stall`))
      assert.strictEqual(stalled._tag, "TimeoutError")
      assert.strictEqual((stalled as Errors.TimeoutError).scope, "overall")
      assert.strictEqual(Duration.toMillis((stalled as Errors.TimeoutError).duration), 300)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it("issue 18: streaming's invalid options throw InvalidOptionsError naming the option, when streaming is called", () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ bodyTimeout: "-1 seconds" }, "bodyTimeout"],
      [{ bodyTimeout: 0 }, "bodyTimeout"],
      [{ deadline: "yes" }, "deadline"]
    ]
    for (const [options, option] of cases) {
      try {
        ResilientHttpClient.streaming(options as ResilientHttpClient.StreamingOptions)
        assert.fail(`${JSON.stringify(options)} accepted`)
      } catch (e) {
        assert.strictEqual((e as Errors.InvalidOptionsError)._tag, "InvalidOptionsError")
        assert.strictEqual((e as Errors.InvalidOptionsError).option, option)
      }
    }
    // false and an infinite duration are "none"
    ResilientHttpClient.streaming({ bodyTimeout: false, deadline: false })
    ResilientHttpClient.streaming({ bodyTimeout: Duration.infinity })
  })

  it.scopedLive("issue 18: the default maxBufferBytes is 10 MiB", () =>
    Effect.gen(function*() {
      const mib = new Uint8Array(1024 * 1024)
      const server = yield* serve((request) =>
        Effect.succeed(HttpServerResponse.stream(Stream.range(1, request.path === "/ten" ? 10 : 11).pipe(Stream.as(mib))))
      )
      const client = yield* ResilientHttpClient.make({})
      const ten = yield* client.get(`${server.url}/ten`)
      assert.strictEqual((yield* ten.arrayBuffer).byteLength, 10 * 1024 * 1024)
      const error = yield* Effect.flip(client.get(`${server.url}/eleven`))
      assert.strictEqual(bodyFailure(error).cause, "BodyTooLargeError")
      assert.strictEqual(((error as HttpClientError.ResponseError).cause as ResilientHttpClient.BodyTooLargeError).maxBytes, 10 * 1024 * 1024)
    }).pipe(Effect.provide(undici)))
})
