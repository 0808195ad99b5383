/**
 * The library's metrics as a Prometheus server scrapes them, through the route
 * docs/Dashboards.md documents: `@effect/opentelemetry` (NodeSdk, reading
 * Effect's metric registry) and `@opentelemetry/exporter-prometheus` serving
 * `/metrics` on a free loopback port. Each test drives one policy until each of
 * its metric families moves (an open circuit, retries, bulkhead and rate-limit
 * rejections), scrapes the endpoint over HTTP and checks the exact exported
 * names, types, labels and values; the last one checks that the Grafana
 * dashboard (examples/dashboards/) queries only names that the exporter emits.
 *
 * Policies run on the TestClock; the exporter is a real HTTP server on 127.0.0.1.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import { Data, Deferred, Effect, Either, Fiber, Layer, TestClock } from "effect"
import { Bulkhead, CircuitBreaker, RateLimiter, Retry, Timeout } from "effect-resilience"
import { readFileSync } from "node:fs"
import { createServer } from "node:net"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

// --- the exporter --------------------------------------------------------------

/** A free TCP port on the loopback interface (the OS picks it; closed again before this resolves). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

interface Scrape {
  readonly samples: ReadonlyArray<Sample>
  /** `# TYPE` of each metric family. */
  readonly types: ReadonlyMap<string, string>
  readonly body: string
}

const unescape = (s: string) => s.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c))

/** Parses Prometheus' text exposition format (the subset the exporter writes). */
const parse = (body: string): Scrape => {
  const samples: Array<Sample> = []
  const types = new Map<string, string>()
  for (const line of body.split("\n")) {
    if (line === "") continue
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) types.set(type[1]!, type[2]!)
    if (line.startsWith("#")) continue
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    assert.isNotNull(sample, `unparsed line: ${line}`)
    const labels: Record<string, string> = {}
    for (const m of (sample![2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[m[1]!] = unescape(m[2]!)
    }
    samples.push({ name: sample![1]!, labels, value: Number(sample![3]) })
  }
  return { samples, types, body }
}

const SCOPE = "@effect/opentelemetry/Metrics"

/**
 * The value of the one series of `name` whose labels are exactly `labels` (plus
 * the `otel_scope_name` label the exporter adds to every series).
 */
const valueOf = (scrape: Scrape, name: string, labels: Record<string, string>): number => {
  const wanted = JSON.stringify(Object.entries({ ...labels, otel_scope_name: SCOPE }).sort())
  const found = scrape.samples.filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === wanted)
  assert.strictEqual(
    found.length,
    1,
    `${name}${JSON.stringify(labels)}: ${found.length} series; scraped:\n${
      scrape.samples.filter((s) => s.name.startsWith("resilience_")).map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`).join("\n")
    }`
  )
  return found[0]!.value
}

/** Every series of a policy: `name{labels}` (without `otel_scope_name`) → value. */
const seriesOf = (scrape: Scrape, policy: string): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const s of scrape.samples) {
    if (s.labels.policy !== policy) continue
    const { otel_scope_name: _, ...labels } = s.labels
    const rendered = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",")
    out[`${s.name}{${rendered}}`] = s.value
  }
  return out
}

/**
 * Starts the exporter as docs/Dashboards.md wires it (NodeSdk with a
 * PrometheusExporter as its metric reader) on a free loopback port, for the
 * test's scope, and returns a scrape of its `/metrics` over HTTP.
 */
const exporter = Effect.gen(function*() {
  const port = yield* Effect.promise(freePort)
  let reader: PrometheusExporter | undefined
  yield* Layer.buildWithScope(
    NodeSdk.layer(() => ({
      resource: { serviceName: "metrics-export-test" },
      metricReader: (reader = new PrometheusExporter({ host: "127.0.0.1", port }))
    })),
    yield* Effect.scope
  )
  yield* Effect.promise(() => reader!.startServer()) // started by the layer: waits until it listens
  return Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`)
    assert.strictEqual(response.status, 200)
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain/)
    return parse(await response.text())
  })
})

/** Waits until a forked fiber is suspended (in a queue, a sleep or a latch); fails after 10,000 yields. */
const suspended = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      if ((yield* Fiber.status(fiber))._tag === "Suspended") return
      yield* Effect.yieldNow()
    }
    assert.fail("the fiber never suspended")
  })

// --- traffic, one policy at a time ---------------------------------------------

/** 2 failures open the circuit (consecutive(2)); 3 calls are then rejected; the circuit stays open 10 s. */
const openCircuit = (name: string) =>
  Effect.gen(function*() {
    const breaker = yield* CircuitBreaker.make({ name, tripPolicy: CircuitBreaker.consecutive(2), openDuration: "10 seconds" })
    for (let i = 0; i < 5; i++) yield* Effect.either(breaker(Effect.fail(new Unavailable())))
    // rejections are published in batches: at the next transition, within a second, or when metrics() is read
    yield* breaker.metrics()
    return breaker
  })

/** One call recovers on its 2nd attempt (1 retry); one fails every attempt (2 retries, then gives up). */
const retryTraffic = (name: string) =>
  Effect.gen(function*() {
    const retry = Retry.policy({ name, times: 2, schedule: Retry.constant("100 millis") })
    let attempts = 0
    const flaky = Effect.suspend(() => (++attempts === 1 ? Effect.fail(new Unavailable()) : Effect.succeed("ok")))
    const recovered = yield* Effect.fork(retry(flaky))
    const gaveUp = yield* Effect.fork(Effect.either(retry(Effect.fail(new Unavailable()))))
    yield* TestClock.adjust("1 second")
    assert.strictEqual(yield* Fiber.join(recovered), "ok")
    assert.isTrue(Either.isLeft(yield* Fiber.join(gaveUp)))
  })

/**
 * A bulkhead of 1 with a queue of 1 (waiting at most 2 s): one call runs, one
 * waits, a third is rejected (QueueFull); the gauges are polled (every 500 ms);
 * later the waiting call gives up (MaxWaitExceeded).
 */
const bulkheadTraffic = (name: string, scrape: Effect.Effect<Scrape>) =>
  Effect.gen(function*() {
    const bulkhead = yield* Bulkhead.make({ name, maxConcurrent: 1, maxQueue: 1, maxWait: "2 seconds", metricsInterval: "500 millis" })
    const gate = yield* Deferred.make<void>()
    const running = yield* Effect.fork(bulkhead(Deferred.await(gate)))
    yield* suspended(running) // holds the permit
    const waiting = yield* Effect.fork(Effect.either(bulkhead(Effect.void)))
    yield* suspended(waiting) // in the queue
    const shed = yield* Effect.either(bulkhead(Effect.void))
    assert.isTrue(Either.isLeft(shed) && shed.left._tag === "BulkheadFullError" && shed.left.reason === "QueueFull")
    yield* TestClock.adjust("500 millis") // the gauges' poll
    const busy = yield* scrape
    yield* TestClock.adjust("2 seconds") // the waiting call's maxWait; the poll again
    const timedOut = yield* Fiber.join(waiting)
    assert.isTrue(Either.isLeft(timedOut) && timedOut.left._tag === "BulkheadFullError" && timedOut.left.reason === "MaxWaitExceeded")
    yield* Deferred.succeed(gate, void 0)
    yield* Fiber.join(running)
    yield* TestClock.adjust("500 millis") // the poll once idle
    return busy
  })

/**
 * 2 calls per second in "fail" mode: of 4 calls, 2 are rejected (LimitExceeded);
 * a 5th call a second later publishes the permitted count (3). In "delay" mode,
 * a call over the limit waits for its slot (delayed) and one that would wait
 * longer than maxDelay is rejected (MaxDelayExceeded).
 */
const rateLimiterTraffic = (name: string, smoothName: string) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.make({ name, limit: 2, window: "1 second" })
    for (let i = 0; i < 4; i++) yield* Effect.either(limiter(Effect.void))
    yield* TestClock.adjust("1 second")
    yield* limiter(Effect.void)

    const smooth = yield* RateLimiter.make({
      name: smoothName,
      limit: 1,
      window: "1 second",
      onExceeded: "delay",
      maxDelay: "1500 millis"
    })
    yield* smooth(Effect.void)
    const delayed = yield* Effect.fork(smooth(Effect.void)) // waits for the next window's slot
    yield* suspended(delayed)
    const tooLong = yield* Effect.either(smooth(Effect.void)) // its slot is 2 s away
    assert.isTrue(Either.isLeft(tooLong) && tooLong.left._tag === "RateLimitExceededError")
    yield* TestClock.adjust("1 second")
    yield* Fiber.join(delayed)
  })

// --- tests -----------------------------------------------------------------------

describe("metrics on a Prometheus endpoint (@effect/opentelemetry + exporter-prometheus)", () => {
  it.scoped("circuit breaker: state, mode, calls, rejections and transitions", () =>
    Effect.gen(function*() {
      const scrape = yield* exporter
      const breaker = yield* openCircuit("inventory")
      const open = yield* scrape
      assert.deepStrictEqual(seriesOf(open, "inventory"), {
        "resilience_circuit_breaker_state{policy=\"inventory\"}": 2,
        "resilience_circuit_breaker_mode{policy=\"inventory\"}": 0,
        "resilience_circuit_breaker_calls_total{policy=\"inventory\",outcome=\"failure\"}": 2,
        "resilience_circuit_breaker_transitions_total{policy=\"inventory\",from=\"Closed\",to=\"Open\"}": 1,
        "resilience_circuit_breaker_rejections_total{policy=\"inventory\",reason=\"CircuitOpen\"}": 3
      })
      assert.strictEqual(open.types.get("resilience_circuit_breaker_state"), "gauge")
      assert.strictEqual(open.types.get("resilience_circuit_breaker_mode"), "gauge")
      assert.strictEqual(open.types.get("resilience_circuit_breaker_calls_total"), "counter")
      assert.strictEqual(open.types.get("resilience_circuit_breaker_transitions_total"), "counter")
      assert.strictEqual(open.types.get("resilience_circuit_breaker_rejections_total"), "counter")

      // after the break a probe succeeds: Open -> HalfOpen -> Closed (each transition publishes at once)
      yield* TestClock.adjust("10 seconds")
      yield* breaker(Effect.succeed("ok"))
      const closed = yield* scrape
      assert.strictEqual(valueOf(closed, "resilience_circuit_breaker_state", { policy: "inventory" }), 0)
      assert.strictEqual(
        valueOf(closed, "resilience_circuit_breaker_transitions_total", { policy: "inventory", from: "Open", to: "HalfOpen" }),
        1
      )
      assert.strictEqual(
        valueOf(closed, "resilience_circuit_breaker_transitions_total", { policy: "inventory", from: "HalfOpen", to: "Closed" }),
        1
      )
      assert.strictEqual(
        valueOf(closed, "resilience_circuit_breaker_calls_total", { policy: "inventory", outcome: "success" }),
        1
      )
      // the resource's attributes come as target_info
      assert.include(closed.body, "target_info{service_name=\"metrics-export-test\"")
    }))

  it.scoped("retry: retries and gave-up counters", () =>
    Effect.gen(function*() {
      const scrape = yield* exporter
      yield* retryTraffic("pricing")
      const after = yield* scrape
      assert.deepStrictEqual(seriesOf(after, "pricing"), {
        "resilience_retry_retries_total{policy=\"pricing\"}": 3,
        "resilience_retry_gave_up_total{policy=\"pricing\"}": 1
      })
      assert.strictEqual(after.types.get("resilience_retry_retries_total"), "counter")
      assert.strictEqual(after.types.get("resilience_retry_gave_up_total"), "counter")
    }))

  it.scoped("timeout: timeouts by policy and scope (issue 25)", () =>
    Effect.gen(function*() {
      const scrape = yield* exporter
      const timeout = Timeout.make("1 second", { name: "search", scope: "attempt" })
      const cut = yield* Effect.fork(Effect.either(Effect.never.pipe(timeout)))
      assert.strictEqual(yield* Effect.succeed("fast").pipe(timeout), "fast")
      yield* TestClock.adjust("1 second")
      assert.isTrue(Either.isLeft(yield* Fiber.join(cut)))
      const after = yield* scrape
      assert.deepStrictEqual(seriesOf(after, "search"), {
        "resilience_timeout_timeouts_total{policy=\"search\",scope=\"attempt\"}": 1
      })
      assert.strictEqual(after.types.get("resilience_timeout_timeouts_total"), "counter")
    }))

  it.scoped("bulkhead: active and queued gauges, rejections by reason", () =>
    Effect.gen(function*() {
      const scrape = yield* exporter
      const busy = yield* bulkheadTraffic("db", scrape)
      assert.deepStrictEqual(seriesOf(busy, "db"), {
        "resilience_bulkhead_active{policy=\"db\"}": 1,
        "resilience_bulkhead_queued{policy=\"db\"}": 1,
        "resilience_bulkhead_rejections_total{policy=\"db\",reason=\"QueueFull\"}": 1
      })
      assert.strictEqual(busy.types.get("resilience_bulkhead_active"), "gauge")
      assert.strictEqual(busy.types.get("resilience_bulkhead_queued"), "gauge")
      assert.strictEqual(busy.types.get("resilience_bulkhead_rejections_total"), "counter")
      const idle = yield* scrape
      assert.deepStrictEqual(seriesOf(idle, "db"), {
        "resilience_bulkhead_active{policy=\"db\"}": 0,
        "resilience_bulkhead_queued{policy=\"db\"}": 0,
        "resilience_bulkhead_rejections_total{policy=\"db\",reason=\"QueueFull\"}": 1,
        "resilience_bulkhead_rejections_total{policy=\"db\",reason=\"MaxWaitExceeded\"}": 1
      })
    }))

  it.scoped("rate limiter: rejected by reason, delayed, permitted", () =>
    Effect.gen(function*() {
      const scrape = yield* exporter
      yield* rateLimiterTraffic("api", "smooth")
      const after = yield* scrape
      assert.deepStrictEqual(seriesOf(after, "api"), {
        "resilience_rate_limiter_rejected_total{policy=\"api\",reason=\"LimitExceeded\"}": 2,
        "resilience_rate_limiter_permitted_total{policy=\"api\"}": 3
      })
      assert.deepStrictEqual(seriesOf(after, "smooth"), {
        "resilience_rate_limiter_delayed_total{policy=\"smooth\"}": 1,
        "resilience_rate_limiter_rejected_total{policy=\"smooth\",reason=\"MaxDelayExceeded\"}": 1
      })
      assert.strictEqual(after.types.get("resilience_rate_limiter_rejected_total"), "counter")
      assert.strictEqual(after.types.get("resilience_rate_limiter_delayed_total"), "counter")
      assert.strictEqual(after.types.get("resilience_rate_limiter_permitted_total"), "counter")
    }))

  it.scoped("the Grafana dashboard queries only metric names the exporter emits", () =>
    Effect.gen(function*() {
      const scrape = yield* exporter
      const breaker = yield* openCircuit("dash-breaker")
      yield* TestClock.adjust("10 seconds")
      yield* breaker(Effect.succeed("ok"))
      yield* retryTraffic("dash-retry")
      yield* bulkheadTraffic("dash-bulkhead", scrape)
      yield* rateLimiterTraffic("dash-limiter", "dash-smooth")
      const emitted = new Set((yield* scrape).samples.map((s) => s.name))

      const dashboard = JSON.parse(
        readFileSync(new URL("../examples/dashboards/grafana-effect-resilience.json", import.meta.url), "utf8")
      ) as { readonly panels: ReadonlyArray<{ readonly title: string; readonly targets?: ReadonlyArray<{ readonly expr: string }> }> }
      const queried = new Set<string>()
      for (const panel of dashboard.panels) {
        for (const target of panel.targets ?? []) {
          for (const m of target.expr.matchAll(/resilience_[a-z_]+/g)) queried.add(m[0])
        }
      }
      assert.isAtLeast(queried.size, 10)
      const missing = [...queried].filter((name) => !emitted.has(name))
      assert.deepStrictEqual(missing, [], `queried by the dashboard but not exported: ${missing.join(", ")}`)
    }))
})
