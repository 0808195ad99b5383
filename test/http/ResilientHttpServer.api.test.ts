/**
 * ResilientHttpServer with `HttpApi`, on a real server: globally through
 * `HttpApiBuilder.middleware`, and per endpoint as an `HttpApiMiddleware`
 * (rate limit, concurrency and deadline, answered with the Schema errors
 * annotated with their status).
 */
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpClient,
  HttpServer
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Option, Ref, Schema, TestClock } from "effect"
import { CircuitBreaker } from "effect-resilience"
import { ResilientHttpServer } from "effect-resilience/http"
import { createServer } from "node:http"
import { pollUntil, undici } from "./server.js"

class Protect extends HttpApiMiddleware.Tag<Protect>()("Protect", { failure: ResilientHttpServer.ApiError }) {}

const api = HttpApi.make("api").add(
  HttpApiGroup.make("items")
    .add(HttpApiEndpoint.get("list", "/items").addSuccess(Schema.Array(Schema.String)))
    .add(HttpApiEndpoint.get("slow", "/slow").addSuccess(Schema.String).middleware(Protect))
    .add(HttpApiEndpoint.get("quote", "/quote").addSuccess(Schema.Number).addError(ResilientHttpServer.ApiError))
)

interface Fixture {
  readonly gate: Deferred.Deferred<void>
  readonly started: Ref.Ref<number>
  readonly interrupted: Ref.Ref<number>
}

const handlers = (fixture: Fixture, breaker: CircuitBreaker.CircuitBreaker) =>
  HttpApiBuilder.group(api, "items", (h) =>
    h.handle("list", () => Effect.succeed(["a", "b"]))
      .handle("slow", () =>
        Effect.zipRight(Ref.update(fixture.started, (n) => n + 1), Effect.as(Deferred.await(fixture.gate), "done")).pipe(
          Effect.onInterrupt(() => Ref.update(fixture.interrupted, (n) => n + 1))
        ))
      .handle("quote", () =>
        Effect.succeed(42).pipe(
          breaker,
          // the library's errors, answered as the endpoint declares them
          Effect.catchAll((error) =>
            Option.match(ResilientHttpServer.toApiError(error), { onNone: () => Effect.die(error), onSome: Effect.fail })
          )
        )))

/** Serves the API (with `extra` layers: middleware) on 127.0.0.1:0; its URL. */
const serveApi = (fixture: Fixture, breaker: CircuitBreaker.CircuitBreaker, extra: Layer.Layer<any, any, any>) =>
  Effect.gen(function*() {
    const ApiLive = HttpApiBuilder.api(api).pipe(Layer.provide(handlers(fixture, breaker)), Layer.provide(extra))
    const ctx = yield* Layer.build(
      HttpApiBuilder.serve().pipe(
        Layer.provide(ApiLive),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
      )
    )
    const address = Context.get(ctx, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.die("expected a TCP address")
    return `http://127.0.0.1:${address.port}`
  })

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    Effect.flatMap(client.get(url, { headers }), (response) =>
      Effect.map(response.text, (body) => ({ status: response.status, headers: response.headers, body }))))

const fixture = Effect.gen(function*() {
  return {
    gate: yield* Deferred.make<void>(),
    started: yield* Ref.make(0),
    interrupted: yield* Ref.make(0)
  } satisfies Fixture
})


const openBreaker = Effect.gen(function*() {
  const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "30 seconds" })
  yield* Effect.exit(breaker(Effect.fail("boom")))
  return breaker
})

describe("ResilientHttpServer with HttpApi", () => {
  it.scoped("globally (HttpApiBuilder.middleware): rate limits with their fields, the endpoints' rejections with Retry-After", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const breaker = yield* openBreaker
      const url = yield* serveApi(
        f,
        breaker,
        Layer.mergeAll(
          HttpApiBuilder.middleware(ResilientHttpServer.make({
            rateLimit: { limit: 2, window: "10 seconds", key: ResilientHttpServer.keyByHeader("x-api-key") }
          })),
          Layer.succeed(Protect, Effect.void)
        )
      )
      const key = { "x-api-key": "k" }
      let r = yield* get(`${url}/items`, key)
      assert.strictEqual(r.status, 200)
      assert.strictEqual(r.body, `["a","b"]`)
      assert.strictEqual(r.headers["ratelimit"], `"default";r=1;t=5`)
      assert.strictEqual(r.headers["ratelimit-policy"], `"default";q=2;w=10`)
      r = yield* get(`${url}/quote`, key)
      // the handler failed with Unavailable: 503 (its annotation), with the breaker's Retry-After
      assert.strictEqual(r.status, 503)
      assert.strictEqual(r.headers["retry-after"], "30")
      assert.strictEqual(r.body, `{"_tag":"Unavailable","retryAfterSeconds":30}`)
      assert.strictEqual(r.headers["ratelimit"], `"default";r=0;t=5`)
      r = yield* get(`${url}/items`, key)
      assert.strictEqual(r.status, 429)
      assert.strictEqual(r.headers["retry-after"], "5")
      assert.strictEqual(r.body, `{"_tag":"RateLimited","retryAfterSeconds":5}`)
    }).pipe(Effect.provide(undici)))

  it.scoped("per endpoint (HttpApiMiddleware): concurrency, rate limit and deadline, encoded by the API", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const breaker = yield* openBreaker
      const server = yield* ResilientHttpServer.make({
        concurrency: { maxConcurrent: 1, retryAfter: "2 seconds" },
        rateLimit: { limit: 3, window: "30 seconds" },
        deadline: { max: "5 seconds" }
      })
      const url = yield* serveApi(f, breaker, Layer.succeed(Protect, server.apiMiddleware))

      // one request holds the permit; the next is shed
      const first = yield* Effect.fork(get(`${url}/slow`))
      yield* pollUntil(Effect.map(Ref.get(f.started), (n) => n === 1))
      let r = yield* get(`${url}/slow`)
      assert.strictEqual(r.status, 503)
      assert.strictEqual(r.headers["retry-after"], "2")
      // encoded by the API (its field order)
      assert.deepStrictEqual(JSON.parse(r.body), { _tag: "Unavailable", retryAfterSeconds: 2 })
      assert.strictEqual(r.headers["ratelimit"], `"default";r=1;t=10`)
      // endpoints without the middleware are not limited
      assert.strictEqual((yield* get(`${url}/items`)).status, 200)

      // the running one reaches its deadline: interrupted, 504, the permit released
      yield* TestClock.adjust("5 seconds")
      r = yield* Fiber.join(first)
      assert.strictEqual(r.status, 504)
      assert.deepStrictEqual(JSON.parse(r.body), { _tag: "DeadlineExceeded" })
      assert.strictEqual(yield* Ref.get(f.interrupted), 1)
      yield* pollUntil(Effect.map(server.bulkhead!.stats(), (s) => s.active === 0))

      // the third request of the quota runs; the fourth is over it
      yield* Deferred.succeed(f.gate, undefined)
      r = yield* get(`${url}/slow`)
      assert.strictEqual(r.status, 200)
      assert.strictEqual(r.body, `"done"`)
      assert.strictEqual(r.headers["ratelimit"], `"default";r=0;t=5`)
      r = yield* get(`${url}/slow`)
      assert.strictEqual(r.status, 429)
      assert.strictEqual(r.headers["retry-after"], "5")
      assert.strictEqual(r.headers["ratelimit"], `"default";r=0;t=5`)
      assert.deepStrictEqual(JSON.parse(r.body), { _tag: "RateLimited", retryAfterSeconds: 5 })
      assert.deepStrictEqual(yield* server.stats(), {
        requests: 4,
        shed: 1,
        rateLimited: 1,
        deadlineExceeded: 1,
        ignoredDeadlineHeaders: 0,
        mapped: 0
      })
    }).pipe(Effect.provide(undici)))

  it.scoped("layerApiMiddleware provides the tag", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const breaker = yield* openBreaker
      const url = yield* serveApi(
        f,
        breaker,
        ResilientHttpServer.layerApiMiddleware(Protect, { rateLimit: { limit: 1, window: "1 minute" } })
      )
      yield* Deferred.succeed(f.gate, undefined)
      assert.strictEqual((yield* get(`${url}/slow`)).status, 200)
      assert.strictEqual((yield* get(`${url}/slow`)).status, 429)
    }).pipe(Effect.provide(undici)))
})
