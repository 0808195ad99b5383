/**
 * The library's metrics on a Prometheus endpoint (docs/Dashboards.md):
 * `@effect/opentelemetry` reads Effect's metric registry and
 * `@opentelemetry/exporter-prometheus` serves it on `/metrics`. A breaker, a
 * retry, a bulkhead and a rate limiter see some traffic; then the program
 * scrapes its own endpoint once and prints the `resilience_*` series — the
 * names the Grafana dashboard in `dashboards/` queries.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import { Data, Effect, Either, Fiber } from "effect"
import { Bulkhead, CircuitBreaker, RateLimiter, Retry } from "effect-resilience"
import { createServer } from "node:net"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

// A service listens on a fixed port (9464 is the exporter's default); the
// example takes a free loopback port so that it runs anywhere.
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(address)))
    })
  })

const traffic = Effect.gen(function*() {
  // a breaker that opens after 3 consecutive failures, then rejects
  const breaker = yield* CircuitBreaker.make({
    name: "inventory",
    tripPolicy: CircuitBreaker.consecutive(3),
    openDuration: "10 seconds"
  })
  for (let i = 0; i < 5; i++) yield* Effect.either(breaker(Effect.fail(new Unavailable())))
  yield* breaker.metrics() // publishes the breaker's batched counts now (else within a second)
  console.log("inventory breaker: 5 failing calls, 3 failed and opened the circuit, 2 rejected")

  // a retry: one call recovers on its 2nd attempt, one gives up after 2 retries
  const retry = Retry.policy({ name: "pricing", times: 2, schedule: Retry.constant("5 millis") })
  let attempts = 0
  yield* retry(Effect.suspend(() => (++attempts === 1 ? Effect.fail(new Unavailable()) : Effect.succeed("ok"))))
  yield* Effect.either(retry(Effect.fail(new Unavailable())))
  console.log("pricing retry: one call recovered after 1 retry, one gave up after 2")

  // a bulkhead of 1 with no queue: while a call runs, the next one is shed
  const bulkhead = yield* Bulkhead.make({ name: "db", maxConcurrent: 1, maxQueue: 0, metricsInterval: "20 millis" })
  const running = yield* Effect.fork(bulkhead(Effect.never))
  yield* Effect.sleep("5 millis")
  const shed = yield* Effect.either(bulkhead(Effect.void))
  console.log(`db bulkhead: 1 call running, the next ${Either.isLeft(shed) ? `rejected (${shed.left.reason})` : "ran"}`)

  // a rate limiter of 2 calls per second: of 4 calls at once, 2 are rejected
  const limiter = yield* RateLimiter.make({ name: "api", limit: 2, window: "1 second" })
  let rejected = 0
  for (let i = 0; i < 4; i++) if (Either.isLeft(yield* Effect.either(limiter(Effect.void)))) rejected++
  console.log(`api rate limiter: 4 calls, ${rejected} rejected`)

  yield* Effect.sleep("40 millis") // the bulkhead's gauges are polled every metricsInterval
  return running
})

const program = Effect.gen(function*() {
  const port = yield* Effect.promise(freePort)
  // the exporter starts its server here (below), so that the example knows when it listens
  const exporter = new PrometheusExporter({ host: "127.0.0.1", port, preventServerStart: true })
  const MetricsLive = NodeSdk.layer(() => ({
    resource: { serviceName: "metrics-example" },
    metricReader: exporter // stopped with the layer
  }))

  yield* Effect.gen(function*() {
    yield* Effect.promise(() => exporter.startServer())
    const running = yield* traffic
    const body = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()))
    yield* Fiber.interrupt(running)
    const lines = body.split("\n").filter((line) => line.startsWith("resilience_"))
    console.log(`\nscraped http://127.0.0.1:${port}/metrics: ${lines.length} resilience_* series`)
    for (const line of lines) console.log(`  ${line}`)
  }).pipe(Effect.scoped, Effect.provide(MetricsLive))
})

Effect.runPromise(program).catch((e) => {
  console.error(e)
  process.exit(1)
})
