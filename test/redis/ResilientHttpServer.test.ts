/**
 * ResilientHttpServer's rate limits shared by two server instances through a
 * real redis-server: one quota per client key, whichever instance serves
 * the request, with the exact RateLimit fields (TestClock, the Redis store
 * reading the caller's clock).
 */
import { HttpClient, HttpServerResponse } from "@effect/platform"
import type { HttpApp } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import type { Scope } from "effect"
import { RateLimiter } from "effect-resilience"
import { ResilientHttpServer } from "effect-resilience/http"
import { RateLimiterStore, Redis } from "effect-resilience/redis"
import { createServer, type Server } from "node:http"
import { undici } from "../http/server.js"
import { hasRedis, startRedis } from "../utils/redis-server.js"

const serveApp = (app: HttpApp.Default): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function*() {
    let node: Server | undefined
    const server = yield* NodeHttpServer.make(() => (node = createServer()), { port: 0, host: "127.0.0.1" }).pipe(
      Effect.orDie
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => node?.closeAllConnections()))
    yield* server.serve(app)
    const address = server.address
    if (address._tag !== "TcpAddress") return yield* Effect.die("expected a TCP address")
    return `http://127.0.0.1:${address.port}`
  })

const get = (url: string, headers: Record<string, string>) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    Effect.flatMap(client.get(url, { headers }), (response) =>
      Effect.map(response.text, () => ({
        status: response.status,
        limit: response.headers["ratelimit"],
        retryAfter: response.headers["retry-after"]
      }))))

describe.skipIf(!hasRedis)("ResilientHttpServer with the Redis RateLimiterStore (real redis-server)", () => {
  it.scoped("two instances share one limit per key", () =>
    Effect.gen(function*() {
      const redisServer = yield* startRedis
      const prefix = `server-test-${process.pid}:`
      /** One instance: its own connection and store, the same name (so the same store keys). */
      const instance = Effect.gen(function*() {
        const redis = yield* Redis.make({ url: redisServer.url, prefix })
        const store = Layer.effect(RateLimiter.RateLimiterStore, RateLimiterStore.make({ clock: "caller" })).pipe(
          Layer.provide(Layer.succeed(Redis.Redis, redis))
        )
        const server = yield* ResilientHttpServer.make({
          name: "api",
          rateLimit: { limit: 3, window: "30 seconds", key: ResilientHttpServer.keyByHeader("x-api-key") }
        }).pipe(Effect.provide(store))
        return yield* serveApp(server(Effect.succeed(HttpServerResponse.text("ok"))))
      })
      const a = yield* instance
      const b = yield* instance
      const alice = { "x-api-key": "alice" }

      assert.deepStrictEqual(yield* get(a, alice), { status: 200, limit: `"default";r=2;t=10`, retryAfter: undefined })
      assert.deepStrictEqual(yield* get(b, alice), { status: 200, limit: `"default";r=1;t=10`, retryAfter: undefined })
      assert.deepStrictEqual(yield* get(a, alice), { status: 200, limit: `"default";r=0;t=10`, retryAfter: undefined })
      assert.deepStrictEqual(yield* get(b, alice), { status: 429, limit: `"default";r=0;t=10`, retryAfter: "10" })
      assert.deepStrictEqual(yield* get(a, alice), { status: 429, limit: `"default";r=0;t=10`, retryAfter: "10" })
      // another key, on either instance, has its own quota
      assert.deepStrictEqual(yield* get(b, { "x-api-key": "bob" }), { status: 200, limit: `"default";r=2;t=10`, retryAfter: undefined })
      // a token comes back for both instances at once
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* get(b, alice), { status: 200, limit: `"default";r=0;t=10`, retryAfter: undefined })
      assert.deepStrictEqual(yield* get(a, alice), { status: 429, limit: `"default";r=0;t=10`, retryAfter: "10" })
    }).pipe(Effect.provide(undici)))
})
