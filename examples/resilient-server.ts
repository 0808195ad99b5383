/**
 * A service that protects itself (ResilientHttpServer) and its upstream
 * (ResilientHttpClient):
 *
 * - `GET /quote/:symbol` calls an upstream through the resilient client (a
 *   circuit breaker per origin); when the upstream fails or its circuit is
 *   open it serves the last good quote marked `degraded` (stale-if-error,
 *   `Fallback.staleIfError`); with nothing cached the breaker's error is
 *   answered by the middleware: 503 with `Retry-After` (the time left in the
 *   break);
 * - `GET /report` is slow: at most 2 run at once, the rest are shed with 503
 *   and `Retry-After`; a caller's `Request-Timeout-Ms` header bounds it
 *   (504 when it passes);
 * - every client (its `x-api-key`) gets 20 requests per minute: 429 with
 *   `Retry-After` and the `RateLimit`/`RateLimit-Policy` fields beyond.
 *
 * The upstream runs in-process; both listen on 127.0.0.1 on ephemeral ports.
 * The script sends requests, switching the upstream off, prints what it gets
 * back and exits.
 */
import { HttpClient, HttpRouter, HttpServerResponse } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Duration, Effect } from "effect"
import { CircuitBreaker, Fallback } from "effect-resilience"
import { ResilientHttpClient, ResilientHttpServer } from "effect-resilience/http"
import { createServer } from "node:http"

// -- the upstream: a quote server that the script switches off ----------------

let upstreamDown = false
const upstream = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/quotes/:symbol",
    Effect.gen(function*() {
      const { symbol } = yield* HttpRouter.params
      if (upstreamDown) return HttpServerResponse.text("maintenance", { status: 503 })
      return HttpServerResponse.unsafeJson({ symbol, price: 101 })
    })
  )
)

// -- the service -------------------------------------------------------------------

interface Quote {
  readonly symbol: string
  readonly price: number
}

const makeService = (upstreamUrl: string) =>
  Effect.gen(function*() {
    const client = (yield* ResilientHttpClient.make({
      name: "quotes",
      timeout: "1 second",
      retry: { times: 0 },
      circuitBreaker: { tripPolicy: CircuitBreaker.consecutive(2), openDuration: "30 seconds" }
    })).pipe(HttpClient.filterStatusOk)
    const lastGood = yield* Fallback.staleIfError<Quote>({ ttl: "10 minutes", maxEntries: 10_000, name: "quotes" })

    const quote = Effect.gen(function*() {
      const { symbol = "" } = yield* HttpRouter.params
      const fetch = client.get(`${upstreamUrl}/quotes/${encodeURIComponent(symbol)}`).pipe(
        Effect.flatMap((response) => response.json),
        Effect.map((json) => json as Quote)
      )
      // nothing cached: the error goes to the middleware, which answers it (503 + Retry-After for an open circuit)
      const served = yield* lastGood.serve(fetch, { key: symbol })
      return HttpServerResponse.unsafeJson(
        served.stale ? { ...served.value, degraded: true, ageMs: Math.round(Duration.toMillis(served.age)) } : served.value
      )
    })
    const report = Effect.as(Effect.sleep("300 millis"), HttpServerResponse.text("report ready"))

    // load shedding, per-client rate limits, deadlines, the library's errors answered
    const protect = yield* ResilientHttpServer.make({
      name: "quotes-service",
      concurrency: { maxConcurrent: 2, partition: "route" },
      rateLimit: { limit: 20, window: "1 minute", key: ResilientHttpServer.keyByHeader("x-api-key") },
      deadline: { max: "5 seconds", trustHeader: true }
    })
    return HttpRouter.empty.pipe(
      HttpRouter.get("/quote/:symbol", quote),
      HttpRouter.get("/report", report),
      // per route: each route its own concurrency limit
      HttpRouter.use(protect)
    )
  })

// -- the script --------------------------------------------------------------------------

const serve = <E, R>(app: HttpRouter.HttpRouter<E, R>) =>
  Effect.gen(function*() {
    const server = yield* NodeHttpServer.make(() => createServer(), { port: 0, host: "127.0.0.1" })
    yield* server.serve(app)
    const address = server.address
    return address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
  })

const program = Effect.gen(function*() {
  const upstreamUrl = yield* serve(upstream)
  const serviceUrl = yield* serve(yield* makeService(upstreamUrl))
  const plain = yield* HttpClient.HttpClient
  const show = (label: string, path: string, headers: Record<string, string> = {}) =>
    Effect.gen(function*() {
      const response = yield* plain.get(`${serviceUrl}${path}`, { headers: { "x-api-key": "demo", ...headers } })
      const body = yield* response.text
      const h = response.headers
      const extra = [
        h["retry-after"] === undefined ? "" : `retry-after: ${h["retry-after"]}`,
        h["ratelimit"] === undefined ? "" : `ratelimit: ${h["ratelimit"]}`
      ].filter((s) => s !== "").join("; ")
      console.log(`${label.padEnd(36)} GET ${path.padEnd(12)} → ${response.status} ${body}${extra === "" ? "" : `  [${extra}]`}`)
      return response.status
    })

  yield* show("upstream up:", "/quote/ACME")
  upstreamDown = true
  console.log("-- upstream goes down (503)")
  yield* show("served from cache (stale-if-error):", "/quote/ACME")
  yield* show("second failure opens the circuit:", "/quote/ACME")
  yield* show("circuit open, served from cache:", "/quote/ACME")
  yield* show("circuit open, nothing cached:", "/quote/NEWCO")

  console.log("-- a burst of 5 reports: 2 run at once")
  const burst = yield* Effect.all(Array.from({ length: 5 }, () => show("burst:", "/report")), { concurrency: "unbounded" })
  console.log(`   ${burst.filter((s) => s === 200).length} served, ${burst.filter((s) => s === 503).length} shed`)

  console.log("-- the caller gives the report 100 ms")
  yield* show("deadline from the caller:", "/report", { "request-timeout-ms": "100" })

  console.log("-- the client's quota (20 per minute) runs out")
  let status = 200
  while (status !== 429) status = yield* plain.get(`${serviceUrl}/quote/ACME`, { headers: { "x-api-key": "demo" } }).pipe(
    Effect.map((response) => response.status)
  )
  yield* show("over the limit:", "/quote/ACME")
  yield* show("another client:", "/quote/ACME", { "x-api-key": "other" })
})

program.pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici), NodeRuntime.runMain)
