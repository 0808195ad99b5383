import { assert, describe, it } from "@effect/vitest"
import { HttpClient, HttpClientRequest, HttpRouter } from "@effect/platform"
import { Context, Data, Effect, Layer, Redacted, Ref } from "effect"
import { Bulkhead, CircuitBreaker, Health } from "effect-resilience"
import { AdminRoutes, HealthRoutes } from "effect-resilience/http"
import { serve, undici } from "./server.js"

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly detail: string }> {
  override get message() {
    return this.detail
  }
}

const SECRET = "tok-8c1f2e"

/** A Health service with three switchable checks: db (critical), cache (non-critical), loop (liveness). */
const healthFixture = Effect.gen(function*() {
  const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
  const health = Context.get(ctx, Health.Health)
  const db = yield* Ref.make(true)
  const cache = yield* Ref.make(true)
  const check = (ref: Ref.Ref<boolean>, detail: string) =>
    Effect.flatMap(Ref.get(ref), (up) => (up ? Effect.void : Effect.fail(new Unavailable({ detail }))))
  yield* health.register({
    name: "db",
    check: check(db, `connect ECONNREFUSED postgres://app:${SECRET}@db:5432/orders?sslkey=${SECRET}`),
    critical: true
  })
  yield* health.register({ name: "cache", check: check(cache, "redis timeout"), critical: "non-critical" })
  yield* health.register({ name: "loop", check: Effect.void, liveness: true, readiness: false })
  return { ctx, health, db, cache }
})

const getJson = (client: HttpClient.HttpClient, url: string) =>
  Effect.flatMap(client.get(url), (response) => Effect.map(response.json, (body) => ({ status: response.status, body: body as any })))

describe("HealthRoutes", () => {
  it.scopedLive("GET /health, /health/live and /health/ready: 200 or 503 with a JSON report", () =>
    Effect.gen(function*() {
      const { ctx, health, db, cache } = yield* healthFixture
      const server = yield* serve(() => HealthRoutes.router()).pipe(Effect.provide(ctx))
      const client = yield* HttpClient.HttpClient

      let all = yield* getJson(client, `${server.url}/health`)
      assert.strictEqual(all.status, 200)
      assert.strictEqual(all.body.status, "healthy")
      assert.deepStrictEqual(Object.keys(all.body.checks).sort(), ["cache", "db", "loop"])
      assert.strictEqual(all.body.checks.db.status, "healthy")
      assert.strictEqual(all.body.checks.db.critical, true)
      assert.strictEqual(all.body.checks.db.consecutiveFailures, 0)
      assert.isNumber(all.body.checks.db.latencyMs)
      assert.isString(all.body.checks.db.lastCheckedAt)
      const response = yield* client.get(`${server.url}/health`)
      assert.strictEqual(response.headers["cache-control"], "no-store")
      assert.strictEqual(response.headers["content-type"], "application/json")

      // a non-critical failure: degraded, still 200
      yield* Ref.set(cache, false)
      yield* health.refresh()
      all = yield* getJson(client, `${server.url}/health`)
      assert.strictEqual(all.status, 200)
      assert.strictEqual(all.body.status, "degraded")
      assert.strictEqual(all.body.checks.cache.message, "Unavailable: redis timeout")

      // a critical failure: unhealthy, 503 on /health and /health/ready, live stays 200
      yield* Ref.set(db, false)
      yield* health.refresh()
      all = yield* getJson(client, `${server.url}/health`)
      assert.strictEqual(all.status, 503)
      assert.strictEqual(all.body.status, "unhealthy")
      assert.strictEqual(all.body.checks.db.consecutiveFailures, 1)
      const message: string = all.body.checks.db.message
      assert.notInclude(message, SECRET, "no secrets from the failing request")
      assert.include(message, "postgres://db:5432/orders?…")
      assert.isAtMost(message.length, 200)
      const ready = yield* getJson(client, `${server.url}/health/ready`)
      assert.strictEqual(ready.status, 503)
      assert.deepStrictEqual(Object.keys(ready.body.checks).sort(), ["cache", "db"])
      const live = yield* getJson(client, `${server.url}/health/live`)
      assert.strictEqual(live.status, 200)
      assert.deepStrictEqual(live.body, { status: "healthy", checkedAt: live.body.checkedAt, checks: { loop: live.body.checks.loop } })

      yield* Ref.set(db, true)
      yield* Ref.set(cache, true)
      yield* health.refresh()
      assert.strictEqual((yield* getJson(client, `${server.url}/health/ready`)).status, 200)
    }).pipe(Effect.provide(undici)))

  it.scopedLive("details: false, a custom path and degradedStatus: 503", () =>
    Effect.gen(function*() {
      const { ctx, health, cache } = yield* healthFixture
      const server = yield* serve(() => HealthRoutes.router({ path: "/status", details: false, degradedStatus: 503 })).pipe(
        Effect.provide(ctx)
      )
      const client = yield* HttpClient.HttpClient
      assert.deepStrictEqual(yield* getJson(client, `${server.url}/status`), { status: 200, body: { status: "healthy" } })
      yield* Ref.set(cache, false)
      yield* health.refresh()
      assert.deepStrictEqual(yield* getJson(client, `${server.url}/status/ready`), { status: 503, body: { status: "degraded" } })
      assert.strictEqual((yield* client.get(`${server.url}/health`)).status, 404)
    }).pipe(Effect.provide(undici)))

  it("statusCode and invalid options", () => {
    assert.strictEqual(HealthRoutes.statusCode("healthy"), 200)
    assert.strictEqual(HealthRoutes.statusCode("degraded"), 200)
    assert.strictEqual(HealthRoutes.statusCode("degraded", 503), 503)
    assert.strictEqual(HealthRoutes.statusCode("unhealthy"), 503)
    assert.throws(() => HealthRoutes.router({ path: "health" as any }), /path/)
    assert.throws(() => HealthRoutes.router({ degradedStatus: 500 as any }), /degradedStatus/)
  })
})

describe("AdminRoutes", () => {
  /** A registry with a breaker and a bulkhead, served with the admin routes behind a bearer token, next to the health routes. */
  const adminFixture = Effect.gen(function*() {
    const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
    const breaker = yield* CircuitBreaker.make({ name: "payments", tripPolicy: CircuitBreaker.consecutive(3), openDuration: "1 minute" })
    const bulkhead = yield* Bulkhead.make({ name: "exports", maxConcurrent: 2 })
    yield* Health.registerCircuitBreaker(breaker, { keys: ["eu", "us"], health: { whenOpen: "unhealthy" } }).pipe(Effect.provide(ctx))
    yield* Health.registerBulkhead(bulkhead).pipe(Effect.provide(ctx))
    const app = HttpRouter.empty.pipe(
      HttpRouter.concat(HealthRoutes.router()),
      HttpRouter.concat(AdminRoutes.router({ guard: AdminRoutes.bearerToken(Redacted.make(SECRET)) }))
    )
    const server = yield* serve(() => app).pipe(Effect.provide(ctx))
    const client = yield* HttpClient.HttpClient
    /** `token: null` sends no Authorization header. */
    const send = (method: "GET" | "POST", path: string, token: string | null = SECRET) =>
      Effect.flatMap(
        client.execute(
          HttpClientRequest.make(method)(`${server.url}/admin/resilience${path}`).pipe(
            token === null ? (r) => r : HttpClientRequest.bearerToken(token)
          )
        ),
        (response) => Effect.map(response.json, (body) => ({ status: response.status, body: body as any }))
      )
    return { ctx, breaker, bulkhead, server, client, send }
  })

  it.scopedLive("the guard refuses requests without the token; nothing happens", () =>
    Effect.gen(function*() {
      const { breaker, send } = yield* adminFixture
      const refused = yield* send("POST", "/policies/payments/isolate", null)
      assert.deepStrictEqual(refused, { status: 401, body: { error: "unauthorized" } })
      const wrong = yield* send("POST", "/policies/payments/isolate", "tok-8c1f2f")
      assert.strictEqual(wrong.status, 401)
      const listing = yield* send("GET", "/policies", "")
      assert.strictEqual(listing.status, 401)
      assert.strictEqual((yield* breaker.state())._tag, "Closed", "the refused isolate did not run")
    }).pipe(Effect.provide(undici)))

  it.scopedLive("lists policies, isolates and resets a breaker (or one key), resizes a bulkhead", () =>
    Effect.gen(function*() {
      const { breaker, bulkhead, client, send, server } = yield* adminFixture
      const list = yield* send("GET", "/policies")
      assert.strictEqual(list.status, 200)
      assert.deepStrictEqual(list.body.policies.map((p: any) => [p.name, p.kind, p.controls]), [
        ["payments", "CircuitBreaker", ["isolate", "reset", "setMode"]],
        ["exports", "Bulkhead", ["resize"]]
      ])
      assert.deepStrictEqual(list.body.policies[0].circuits, { eu: "Closed", us: "Closed" })

      const isolatedKey = yield* send("POST", "/policies/payments/isolate?key=eu")
      assert.strictEqual(isolatedKey.status, 200)
      assert.deepStrictEqual(isolatedKey.body.circuits, { eu: "Isolated", us: "Closed" })
      assert.strictEqual((yield* breaker.state("eu"))._tag, "Isolated")

      // the isolated circuit feeds the health report
      const health = yield* Effect.flatMap(client.get(`${server.url}/health`), (r) => Effect.map(r.json, (b: any) => [r.status, b.checks["circuit:payments"].status]))
      assert.deepStrictEqual(health, [503, "unhealthy"])

      const isolated = yield* send("POST", "/policies/payments/isolate")
      assert.strictEqual(isolated.body.state, "Isolated")
      const reset = yield* send("POST", "/policies/payments/reset?key=eu")
      assert.deepStrictEqual(reset.body.circuits, { eu: "Closed", us: "Closed" })
      yield* send("POST", "/policies/payments/reset")
      assert.strictEqual((yield* breaker.state())._tag, "Closed")

      const resized = yield* send("POST", "/policies/exports/resize?size=5")
      assert.strictEqual(resized.status, 200)
      assert.strictEqual(resized.body.maxConcurrent, 5)
      assert.strictEqual(bulkhead.unsafeStats().maxConcurrent, 5)
      const byBody = yield* Effect.flatMap(
        client.execute(
          HttpClientRequest.post(`${server.url}/admin/resilience/policies/exports/resize`).pipe(
            HttpClientRequest.bearerToken(SECRET),
            HttpClientRequest.bodyUnsafeJson({ size: 3 })
          )
        ),
        (r) => Effect.map(r.json, (b: any) => [r.status, b.maxConcurrent])
      )
      assert.deepStrictEqual(byBody, [200, 3])

      const one = yield* send("GET", "/policies/exports")
      assert.deepStrictEqual([one.status, one.body.kind], [200, "Bulkhead"])
    }).pipe(Effect.provide(undici)))

  it.scopedLive("issue 16 §5: POST /policies/:name/mode switches a breaker's mode (query or JSON body); the report and the listing show it", () =>
    Effect.gen(function*() {
      const { breaker, client, send, server } = yield* adminFixture
      const metricsOnly = yield* send("POST", "/policies/payments/mode?mode=MetricsOnly")
      assert.strictEqual(metricsOnly.status, 200)
      assert.strictEqual(metricsOnly.body.mode, "MetricsOnly")
      assert.strictEqual((yield* breaker.state()).mode, "MetricsOnly")
      // metrics only: the circuit would open, nothing is rejected, the report is degraded (never unhealthy)
      for (let i = 0; i < 3; i++) yield* Effect.exit(breaker(Effect.fail("down")))
      assert.strictEqual(yield* breaker(Effect.succeed("still called")), "still called")
      const checkOf = Effect.flatMap(
        client.get(`${server.url}/health`),
        (r) => Effect.map(r.json, (b: any) => [r.status, b.checks["circuit:payments"].status, b.checks["circuit:payments"].message])
      )
      const check = yield* checkOf
      assert.deepStrictEqual(check.slice(0, 2), [200, "degraded"])
      assert.match(check[2], /^metrics only: circuit would be open: default \(retry in /)
      const listed = yield* send("GET", "/policies/payments")
      assert.deepStrictEqual([listed.body.state, listed.body.mode], ["Open", "MetricsOnly"])
      // a JSON body works too
      const disabled = yield* Effect.flatMap(
        client.execute(
          HttpClientRequest.post(`${server.url}/admin/resilience/policies/payments/mode`).pipe(
            HttpClientRequest.bearerToken(SECRET),
            HttpClientRequest.bodyUnsafeJson({ mode: "Disabled" })
          )
        ),
        (r) => Effect.map(r.json, (body: any) => [r.status, body.mode])
      )
      assert.deepStrictEqual(disabled, [200, "Disabled"])
      assert.strictEqual((yield* checkOf)[1], "degraded")
      // back to enforcing: the circuit metrics-only saw open rejects at once
      assert.strictEqual((yield* send("POST", "/policies/payments/mode?mode=Enforcing")).status, 200)
      const rejected = yield* Effect.flip(breaker(Effect.succeed("no")))
      assert.strictEqual(rejected._tag === "CircuitBreakerError" && rejected.reason._tag, "CircuitOpen")
      // an unknown mode, a policy without modes, an unknown policy, no token
      const bad = yield* send("POST", "/policies/payments/mode?mode=Off")
      assert.strictEqual(bad.status, 400)
      assert.match(bad.body.error, /Enforcing/)
      assert.strictEqual((yield* send("POST", "/policies/payments/mode")).status, 400)
      assert.strictEqual((yield* send("POST", "/policies/exports/mode?mode=Disabled")).status, 400)
      assert.strictEqual((yield* send("POST", "/policies/nobody/mode?mode=Disabled")).status, 404)
      assert.strictEqual((yield* send("POST", "/policies/payments/mode?mode=Disabled", null)).status, 401)
      assert.strictEqual((yield* breaker.state()).mode, "Enforcing")
    }).pipe(Effect.provide(undici)))

  it.scopedLive("unknown policies, unsupported operations and invalid sizes are client errors", () =>
    Effect.gen(function*() {
      const { send } = yield* adminFixture
      const missing = yield* send("GET", "/policies/nope")
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(missing.body.error, "No policy named \"nope\" is registered")
      assert.strictEqual((yield* send("POST", "/policies/nope/reset")).status, 404)
      const unsupported = yield* send("POST", "/policies/exports/isolate")
      assert.deepStrictEqual(unsupported, { status: 400, body: { error: "Policy \"exports\" does not support isolate" } })
      for (const size of ["0", "-1", "2.5", "many"]) {
        const invalid = yield* send("POST", `/policies/exports/resize?size=${size}`)
        assert.strictEqual(invalid.status, 400, `size=${size}`)
      }
      assert.strictEqual((yield* send("POST", "/policies/exports/resize")).status, 400, "no size")
    }).pipe(Effect.provide(undici)))

  it.scopedLive("a predicate guard answers 403; the routes are not there unless mounted", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(Health.layer())
      const admin = AdminRoutes.router({
        path: "/ops",
        guard: AdminRoutes.guard((request) => Effect.succeed(request.headers["x-role"] === "admin"))
      })
      const server = yield* serve(() => HttpRouter.empty.pipe(HttpRouter.concat(admin))).pipe(Effect.provide(ctx))
      const plain = yield* serve(() => HealthRoutes.router()).pipe(Effect.provide(ctx))
      const client = yield* HttpClient.HttpClient
      assert.strictEqual((yield* client.get(`${server.url}/ops/policies`)).status, 403)
      const allowed = yield* client.get(`${server.url}/ops/policies`, { headers: { "x-role": "admin" } })
      assert.strictEqual(allowed.status, 200)
      assert.deepStrictEqual(yield* allowed.json, { policies: [] })
      assert.strictEqual((yield* client.get(`${plain.url}/admin/resilience/policies`)).status, 404)
      assert.throws(() => AdminRoutes.router({} as any), /guard/)
      assert.throws(() => AdminRoutes.bearerToken(Redacted.make("")), /token/)
    }).pipe(Effect.provide(undici)))
})
