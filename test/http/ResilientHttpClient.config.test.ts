/**
 * The resilient HTTP client's options from one `Config` (issue 21): its own
 * options and its parts' — `retry.*`, `circuitBreaker.*`, `bulkhead.*`,
 * `health.*`, `drain.*` — set through a `ConfigProvider` (what took ~15
 * hand-written `Config` entries), code options given beside, and bad values
 * rejected naming the config key. The upstream is a fake `HttpClient`
 * answering scripted statuses; time is the `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Config, ConfigProvider, Effect, Exit, Fiber, Layer, Ref, TestClock } from "effect"
import { Errors, Health, Retry } from "effect-resilience"
import { ResilientHttpClient } from "effect-resilience/http"
import { assertConfigError, assertInvalidOption, buildWithConfig, withConfig } from "../utils/config.js"
import { eventually } from "../utils/fibers.js"

/** A fake upstream: answers each request with the next status of `statuses` (the last one repeated); `hang` never answers. */
const fakeUpstream = (statuses: ReadonlyArray<number | "hang">) =>
  Effect.gen(function*() {
    const requests = yield* Ref.make<ReadonlyArray<string>>([])
    const client = HttpClient.make((request) =>
      Effect.gen(function*() {
        const n = (yield* Ref.getAndUpdate(requests, (xs) => [...xs, `${request.method} ${request.url}`])).length
        const status = statuses[Math.min(n, statuses.length - 1)]!
        if (status === "hang") return yield* Effect.never
        return HttpClientResponse.fromWeb(request, new Response(`response ${n + 1}`, { status }))
      })
    )
    return { requests: Ref.get(requests), layer: Layer.succeed(HttpClient.HttpClient, client) }
  })


const every = {
  "http.name": "api",
  "http.timeout": "20 seconds",
  "http.attemptTimeout": "2 seconds",
  "http.bodyTimeout": "30 seconds",
  "http.bufferBody": "true",
  "http.maxBufferBytes": "4096",
  "http.retry.times": "3",
  "http.retry.base": "10 millis",
  "http.retry.factor": "2",
  "http.retry.max": "30 millis",
  "http.retry.jitter": "none",
  "http.retry.maxRetryAfter": "5 seconds",
  "http.retry.methods": "GET,POST",
  "http.retry.nonIdempotent": "false",
  "http.retry.idempotencyKeyHeader": "x-request-key",
  "http.retry.statuses": "503",
  "http.circuitBreaker.failures": "6",
  "http.circuitBreaker.openDuration": "1 minute",
  "http.circuitBreaker.probes": "2",
  "http.bulkhead.maxConcurrent": "7",
  "http.bulkhead.maxQueue": "3",
  "http.bulkhead.maxWait": "1 second",
  "http.health.whenOpen": "unhealthy",
  "http.health.timeout": "1 second",
  "http.drain.maxBytes": "100",
  "http.drain.timeout": "500 millis",
  "http.maxOrigins": "5",
  "http.register": "true",
  "http.spans": "false"
}

const http = Config.nested(ResilientHttpClient.config, "http")

describe("ResilientHttpClient from Config", () => {
  it.scoped("reads every option under a prefix, the parts' nested: name, bulkhead, retries and their backoff", () =>
    Effect.gen(function*() {
      const upstream = yield* fakeUpstream([503])
      const client = yield* ResilientHttpClient.fromConfig(http).pipe(Effect.provide(upstream.layer), withConfig(every))
      // registered under its name, with its bulkhead's limits
      const registry = yield* Health.PolicyRegistry
      const info = yield* registry.get("api")
      assert.strictEqual(info.kind, "HttpClient")
      assert.deepStrictEqual(info.bulkhead, { maxConcurrent: 7, maxQueue: 3 })
      assert.deepStrictEqual(info.controls, ["isolate", "reset", "resize", "setMode"])
      // 503 is retried 3 times, after 10, 20 and 30 (capped) millis; then the last response is returned
      const fiber = yield* client.get("http://upstream.test/items").pipe(Effect.fork)
      yield* eventually(upstream.requests, (xs) => xs.length === 1)
      yield* TestClock.adjust("9 millis")
      assert.strictEqual((yield* upstream.requests).length, 1)
      yield* TestClock.adjust("1 millis")
      yield* eventually(upstream.requests, (xs) => xs.length === 2)
      yield* TestClock.adjust("20 millis")
      yield* eventually(upstream.requests, (xs) => xs.length === 3)
      yield* TestClock.adjust("30 millis")
      yield* eventually(upstream.requests, (xs) => xs.length === 4)
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.status, 503)
      // POST is retried too (retry.methods)
      const post = yield* client.execute(HttpClientRequest.post("http://upstream.test/orders")).pipe(Effect.fork)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(post)).status, 503)
      assert.deepStrictEqual((yield* upstream.requests).filter((r) => r.startsWith("POST")).length, 4)
    }).pipe(Effect.provide(Health.layer())))

  it.scoped("only the statuses read are retried; the breaker opens at the failures read and its health check says whenOpen", () =>
    Effect.gen(function*() {
      const upstream = yield* fakeUpstream([502])
      const client = yield* ResilientHttpClient.fromConfig(http).pipe(
        Effect.provide(upstream.layer),
        withConfig({ ...every, "http.circuitBreaker.failures": "2" })
      )
      // 502 is not in retry.statuses: one attempt per call; a 5xx is a failure of the origin
      for (let i = 0; i < 2; i++) assert.strictEqual((yield* client.get("http://upstream.test/a")).status, 502)
      assert.strictEqual((yield* upstream.requests).length, 2)
      const rejected = yield* Effect.flip(client.get("http://upstream.test/a"))
      assert.strictEqual(rejected._tag, "CircuitBreakerError")
      assert.strictEqual((yield* upstream.requests).length, 2)
      const report = yield* Effect.flatMap(Health.Health, (health) => health.refresh())
      const check = report.checks.find((c) => c.name === "http:api")
      assert.strictEqual(check?.status, "unhealthy")
    }).pipe(Effect.provide(Health.layer())))

  it.scoped("the attempt timeout read bounds each attempt; \"Infinity\" turns the overall one off", () =>
    Effect.gen(function*() {
      const upstream = yield* fakeUpstream(["hang"])
      const client = yield* ResilientHttpClient.fromConfig(http).pipe(
        Effect.provide(upstream.layer),
        withConfig({ "http.timeout": "Infinity", "http.attemptTimeout": "2 seconds", "http.retry.times": "0" })
      )
      const fiber = yield* client.get("http://upstream.test/slow").pipe(Effect.exit, Effect.fork)
      yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      assert.instanceOf(error, Errors.TimeoutError)
      assert.strictEqual((error as Errors.TimeoutError).scope, "attempt")
    }))

  it.scoped("code options: a retry budget merged with the retries read; false turns a part off", () =>
    Effect.gen(function*() {
      const upstream = yield* fakeUpstream([503])
      const budget = yield* Retry.budget({ ratio: 0, minRetriesPerSecond: 0 })
      const client = yield* ResilientHttpClient.fromConfig(http, { retry: { budget }, bulkhead: false }).pipe(
        Effect.provide(upstream.layer),
        withConfig({ "http.name": "budgeted", "http.retry.times": "5", "http.bulkhead.maxConcurrent": "1" })
      )
      // an empty budget: no retry at all, whatever retry.times says
      assert.strictEqual((yield* client.get("http://upstream.test/b")).status, 503)
      assert.strictEqual((yield* upstream.requests).length, 1)
      const info = yield* Effect.flatMap(Health.PolicyRegistry, (r) => r.get("budgeted"))
      assert.isUndefined(info.bulkhead)
      assert.deepStrictEqual(info.controls, ["isolate", "reset", "setMode"])
    }).pipe(Effect.provide(Health.layerPolicyRegistry)))

  it.scoped("environment variables in constant case (HTTP_RETRY_TIMES, HTTP_CIRCUIT_BREAKER_FAILURES, …)", () =>
    Effect.gen(function*() {
      const upstream = yield* fakeUpstream([503, 200])
      const provider = ConfigProvider.constantCase(
        ConfigProvider.fromMap(
          new Map([
            ["HTTP_NAME", "env"],
            ["HTTP_RETRY_TIMES", "1"],
            ["HTTP_RETRY_BASE", "5 millis"],
            ["HTTP_RETRY_JITTER", "none"],
            ["HTTP_CIRCUIT_BREAKER_FAILURES", "3"],
            ["HTTP_BULKHEAD_MAX_CONCURRENT", "2"]
          ]),
          { pathDelim: "_" }
        )
      )
      const client = yield* ResilientHttpClient.fromConfig(http).pipe(
        Effect.provide(upstream.layer),
        Effect.withConfigProvider(provider)
      )
      const fiber = yield* client.get("http://upstream.test/c").pipe(Effect.fork)
      yield* eventually(upstream.requests, (xs) => xs.length === 1)
      yield* TestClock.adjust("5 millis")
      assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
      const info = yield* Effect.flatMap(Health.PolicyRegistry, (r) => r.get("env"))
      assert.deepStrictEqual(info.bulkhead, { maxConcurrent: 2, maxQueue: 1000 })
    }).pipe(Effect.provide(Health.layerPolicyRegistry)))

  it.effect("layerConfig replaces the HttpClient in context; absent options take their defaults", () =>
    Effect.gen(function*() {
      const upstream = yield* fakeUpstream([200])
      const status = yield* Effect.flatMap(HttpClient.HttpClient, (client) => client.get("http://upstream.test/d")).pipe(
        Effect.map((response) => response.status),
        Effect.scoped,
        Effect.provide(ResilientHttpClient.layerConfig(ResilientHttpClient.config).pipe(Layer.provide(upstream.layer))),
        withConfig({})
      )
      assert.strictEqual(status, 200)
    }))

  it.effect("a malformed value is a ConfigError naming its key", () =>
    Effect.gen(function*() {
      const upstream = yield* fakeUpstream([200])
      const exit = yield* buildWithConfig(
        ResilientHttpClient.layerConfig(http).pipe(Layer.provide(upstream.layer)),
        { "http.retry.times": "many" }
      )
      assertConfigError(exit, "times")
    }))

  const bad: ReadonlyArray<readonly [string, string, string]> = [
    ["name", "", "non-empty string"],
    ["timeout", "0 millis", "duration > 0"],
    ["attemptTimeout", "soon", "duration > 0"],
    ["maxBufferBytes", "-1", ">= 0"],
    ["maxOrigins", "0", ">= 1"],
    ["retry.times", "-1", ">= 0"],
    ["retry.base", "0 millis", "duration > 0"],
    ["retry.max", "1 millis", ">= base"],
    ["retry.jitter", "wild", "one of"],
    ["retry.maxRetryAfter", "-1 seconds", "duration >= 0"],
    ["retry.idempotencyKeyHeader", "", "non-empty string"],
    ["retry.statuses", "503,99", "status codes in [100, 599]"],
    ["circuitBreaker.failures", "0", ">= 1"],
    ["circuitBreaker.tripPolicy", "sometimes", "one of"],
    ["circuitBreaker.openDuration", "0 millis", "duration > 0"],
    // the client's default break is 10 seconds: a shorter cap is the caller's mistake
    ["circuitBreaker.maxOpenDuration", "1 second", ">= openDuration"],
    ["circuitBreaker.probes", "0", ">= 1"],
    ["bulkhead.maxConcurrent", "0", ">= 1"],
    ["bulkhead.maxWait", "-1 seconds", "duration > 0"],
    // the client's errors do not include BulkheadStoreError: its bulkhead fails open
    ["bulkhead.onStoreError", "fail", "one of \"allow\""],
    ["health.whenOpen", "sometimes", "one of \"degraded\", \"unhealthy\""],
    ["health.interval", "0 millis", "duration > 0"],
    ["drain.maxBytes", "-1", ">= 0"],
    ["drain.timeout", "Infinity", "finite duration > 0"]
  ]
  for (const [key, value, range] of bad) {
    it.effect(`${key}=${JSON.stringify(value)} is InvalidOptionsError naming the key`, () =>
      Effect.gen(function*() {
        const upstream = yield* fakeUpstream([200])
        const exit = yield* buildWithConfig(
          ResilientHttpClient.layerConfig(ResilientHttpClient.config).pipe(Layer.provide(upstream.layer)),
          { [key]: value }
        )
        assertInvalidOption(exit, "ResilientHttpClient.layerConfig", key, range)
        const direct = yield* ResilientHttpClient.fromConfig(ResilientHttpClient.config).pipe(
          Effect.provide(upstream.layer),
          Effect.scoped,
          withConfig({ [key]: value }),
          Effect.exit
        )
        assertInvalidOption(direct, "ResilientHttpClient.fromConfig", key, range)
      }))
  }

  it.effect("a bad code option is InvalidOptionsError naming it", () =>
    Effect.gen(function*() {
      const upstream = yield* fakeUpstream([200])
      const exit = yield* ResilientHttpClient.fromConfig(ResilientHttpClient.config, { retry: { schedule: "soon" as any } }).pipe(
        Effect.provide(upstream.layer),
        Effect.scoped,
        withConfig({ "retry.times": "1" }),
        Effect.exit
      )
      assertInvalidOption(exit, "ResilientHttpClient.fromConfig", "retry.schedule", "a Schedule")
    }))
})
