/**
 * An HTTP service that calls an upstream through the resilient HttpClient
 * (the seeds' FastAPI integration, done the Effect way):
 *
 * - `GET /quote/:symbol` fetches a quote from the upstream; when the upstream
 *   fails or its circuit is open, it serves the last good quote marked
 *   `degraded` (Fallback.staleIfError), and answers 503 when it has none;
 * - `GET /health`, `/health/live`, `/health/ready` report the service's
 *   health, fed by the client's per-origin circuit breaker;
 * - the admin routes, behind a bearer token, list the client's origins.
 *
 * The upstream runs in-process; both listen on 127.0.0.1 on ephemeral ports.
 * The script sends a few requests to the service, switching the upstream
 * off and on, prints what it gets back and exits.
 */
import { HttpClient, HttpRouter, HttpServerResponse } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import * as Undici from "@effect/platform-node/Undici"
import { Cause, Duration, Effect, Layer, Redacted } from "effect"
import { CircuitBreaker, Fallback, Health, Retry } from "effect-resilience"
import { AdminRoutes, HealthRoutes, ResilientHttpClient } from "effect-resilience/http"
import { createServer } from "node:http"

// -- the upstream: a quote server that the script switches off and on --------

let upstreamDown = false
let upstreamCalls = 0
const upstream = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/quotes/:symbol",
    Effect.gen(function*() {
      upstreamCalls++
      const { symbol } = yield* HttpRouter.params
      if (upstreamDown) return HttpServerResponse.text("maintenance", { status: 503 })
      return HttpServerResponse.unsafeJson({ symbol, price: 100 + upstreamCalls })
    })
  )
)

// -- the service ---------------------------------------------------------------

interface Quote {
  readonly symbol: string
  readonly price: number
}

const makeService = (upstreamUrl: string) =>
  Effect.gen(function*() {
    // the resilient client: timeouts, retries with backoff, a breaker and a
    // bulkhead per origin; registered with the Health service in context
    const client = (yield* ResilientHttpClient.make({
      name: "quotes",
      timeout: "1 second",
      attemptTimeout: "200 millis",
      retry: { times: 1, schedule: Retry.constant("20 millis") },
      circuitBreaker: { tripPolicy: CircuitBreaker.consecutive(2), openDuration: "300 millis" }
    })).pipe(HttpClient.filterStatusOk)
    // the last good quote per symbol, served when the upstream fails
    const lastGood = yield* Fallback.staleIfError<Quote>({ ttl: "10 minutes", maxEntries: 10_000, name: "quotes" })

    const quote = Effect.gen(function*() {
      const { symbol = "" } = yield* HttpRouter.params
      const fetch = client.get(`${upstreamUrl}/quotes/${encodeURIComponent(symbol)}`).pipe(
        Effect.flatMap((response) => response.json),
        Effect.map((json) => json as Quote)
      )
      return yield* lastGood.serve(fetch, { key: symbol }).pipe(
        Effect.map((served) =>
          served.stale
            ? HttpServerResponse.unsafeJson({
              ...served.value,
              degraded: true,
              reason: reasonOf(Cause.squash(served.cause)),
              ageMs: Math.round(Duration.toMillis(served.age))
            })
            : HttpServerResponse.unsafeJson({ ...served.value, degraded: false })
        ),
        // nothing cached: say so
        Effect.catchAll((error) =>
          Effect.succeed(HttpServerResponse.unsafeJson({ error: reasonOf(error) }, { status: 503 }))
        )
      )
    })

    return HttpRouter.empty.pipe(
      HttpRouter.get("/quote/:symbol", quote),
      HttpRouter.concat(HealthRoutes.router()),
      HttpRouter.concat(AdminRoutes.router({ guard: AdminRoutes.bearerToken(Redacted.make(ADMIN_TOKEN)) }))
    )
  })

const reasonOf = (error: unknown): string => {
  const e = error as { _tag?: string; reason?: unknown; response?: { status: number }; message?: string }
  if (e._tag === "CircuitBreakerError") return "circuit open"
  if (e._tag === "ResponseError" && e.response !== undefined) return `upstream answered ${e.response.status}`
  return e.message ?? String(error)
}

const ADMIN_TOKEN = "example-admin-token"

// -- the script ------------------------------------------------------------------

const listen = <E, R>(app: HttpRouter.HttpRouter<E, R>) =>
  Effect.gen(function*() {
    const node = createServer()
    const server = yield* NodeHttpServer.make(() => node, { port: 0, host: "127.0.0.1" })
    // on exit, close keep-alive connections too, instead of waiting for them to idle out
    yield* Effect.addFinalizer(() => Effect.sync(() => node.closeAllConnections()))
    yield* server.serve(app)
    const address = server.address
    return address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
  })

const program = Effect.gen(function*() {
  const upstreamUrl = yield* listen(upstream)
  const serviceUrl = yield* listen(yield* makeService(upstreamUrl))
  const plain = yield* HttpClient.HttpClient // to call the service itself

  const call = (label: string, path: string, headers: Record<string, string> = {}) =>
    Effect.gen(function*() {
      const response = yield* plain.get(`${serviceUrl}${path}`, { headers })
      const body = yield* response.json
      console.log(`${label.padEnd(34)} GET ${path.padEnd(16)} → ${response.status} ${JSON.stringify(body)}`)
    })

  yield* call("upstream up:", "/quote/ACME")
  upstreamDown = true
  console.log("-- upstream goes down (503)")
  yield* call("upstream 503, served from cache:", "/quote/ACME")
  yield* call("second failure opens the circuit:", "/quote/ACME")
  yield* call("circuit open, served from cache:", "/quote/ACME")
  yield* call("circuit open, nothing cached:", "/quote/NEWCO")
  const health = yield* plain.get(`${serviceUrl}/health/ready`)
  const report = (yield* health.json) as { status: string; checks: Record<string, { message?: string }> }
  console.log(`readiness: ${health.status} ${report.status} (${report.checks["http:quotes"]?.message})`)
  yield* call("admin:", "/admin/resilience/policies/quotes", { authorization: `Bearer ${ADMIN_TOKEN}` })

  upstreamDown = false
  console.log("-- upstream recovers; the break (300 ms) ends")
  yield* Effect.sleep("350 millis")
  yield* call("probe succeeds, circuit closes:", "/quote/ACME")
  const after = yield* plain.get(`${serviceUrl}/health`)
  console.log(`health: ${after.status} ${((yield* after.json) as { status: string }).status}`)
  console.log(`upstream received ${upstreamCalls} requests`)
})

// undici's connect timeout is the one Node-level timeout @effect/platform-node
// leaves configurable (it overrides headersTimeout/bodyTimeout per request):
// set it on the dispatcher; timeout and attemptTimeout do the rest (the body
// is read inside the call), bodyTimeout for streamed bodies
const HttpClientLive = NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
  Layer.provide(
    Layer.scoped(
      NodeHttpClient.Dispatcher,
      Effect.acquireRelease(
        Effect.sync(() => new Undici.Agent({ connect: { timeout: 1_000 } })),
        (agent) => Effect.promise(() => agent.destroy())
      )
    )
  )
)

program.pipe(
  Effect.scoped,
  Effect.provide(Layer.mergeAll(Health.layer(), HttpClientLive)),
  NodeRuntime.runMain
)
