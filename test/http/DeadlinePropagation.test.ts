/**
 * Deadline propagation between services: the resilient client sends the
 * time its call still has (per attempt, only to the origins configured for
 * it), ResilientHttpServer reads it, and the service called stops when the
 * first caller's deadline passes — without any breaker counting it.
 */
import { HttpClient, HttpServerResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Deferred, Duration, Effect, Exit, Fiber, Option, TestClock } from "effect"
import { CircuitBreaker, Errors, Retry, Timeout } from "effect-resilience"
import { ResilientHttpClient, ResilientHttpServer } from "effect-resilience/http"
import { pollUntil, script, serve, undici } from "./server.js"


const HEADER = ResilientHttpServer.DEADLINE_HEADER

describe("ResilientHttpClient: propagateDeadline", () => {
  it.scoped("off by default; only to the configured origins; the attempt's time left, per attempt", () =>
    Effect.gen(function*() {
      const a = yield* serve(script([503, 200]))
      const b = yield* serve(script([200]))
      const base = yield* HttpClient.HttpClient

      // off by default
      const plain = base.pipe(yield* ResilientHttpClient.makeTransform({ name: "plain", register: false }))
      yield* plain.get(`${b.url}/off`)
      assert.isUndefined(b.requests[0]!.headers[HEADER])

      const client = base.pipe(
        yield* ResilientHttpClient.makeTransform({
          name: "propagating",
          register: false,
          timeout: "4 seconds",
          attemptTimeout: "3 seconds",
          retry: { times: 1, schedule: Retry.constant("2 seconds") },
          propagateDeadline: { origins: [`${a.url}/`] } // normalised to the origin
        })
      )
      // another origin: never told
      yield* client.get(`${b.url}/x`)
      assert.isUndefined(b.requests[1]!.headers[HEADER])

      const call = yield* Effect.fork(client.get(`${a.url}/y`))
      yield* pollUntil(Effect.sync(() => a.count("/y") === 1))
      // the first attempt: its attempt timeout (3 s) is the innermost deadline
      assert.strictEqual(a.requests.at(-1)!.headers[HEADER], "3000")
      yield* TestClock.adjust("2 seconds")
      const response = yield* Fiber.join(call)
      assert.strictEqual(response.status, 200)
      // the retry, 2 s later: the call's timeout has 2 s left, less than a new attempt's 3 s
      assert.strictEqual(a.requests.at(-1)!.headers[HEADER], "2000")
    }).pipe(Effect.provide(undici)))

  it.scoped("a predicate chooses the origins, and a custom header", () =>
    Effect.gen(function*() {
      const a = yield* serve(script([200]))
      const client = (yield* HttpClient.HttpClient).pipe(
        yield* ResilientHttpClient.makeTransform({
          register: false,
          timeout: "5 seconds",
          attemptTimeout: false,
          propagateDeadline: { origins: (origin) => origin.startsWith("http://127.0.0.1:"), header: "X-Deadline-Ms" }
        })
      )
      yield* client.get(`${a.url}/p`)
      assert.strictEqual(a.requests[0]!.headers["x-deadline-ms"], "5000")
    }).pipe(Effect.provide(undici)))

  it.scoped("end to end: the caller's deadline reaches the inner service through the client, which stops at it", () =>
    Effect.gen(function*() {
      const seen = yield* Deferred.make<Option.Option<Duration.Duration>>()
      const stopped = yield* Deferred.make<void>()
      const inner = yield* ResilientHttpServer.make({ name: "inner", deadline: { max: "1 minute", trustHeader: true } })
      const innerUpstream = yield* serve(() =>
        inner(Effect.gen(function*() {
          yield* Deferred.succeed(seen, yield* Timeout.remaining)
          return yield* Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(stopped, undefined)))
        }))
      )
      const resilience = yield* ResilientHttpClient.makeTransform({
        name: "to-inner",
        register: false,
        retry: false,
        circuitBreaker: { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" },
        propagateDeadline: { origins: [innerUpstream.url] }
      })
      const client = (yield* HttpClient.HttpClient).pipe(resilience)
      const outer = yield* ResilientHttpServer.make({ name: "outer", deadline: { max: "1 minute", trustHeader: true } })
      const outerUpstream = yield* serve(() =>
        // a proxy: the inner answer is the outer one (at the deadline either service may answer first)
        outer(Effect.map(client.get(`${innerUpstream.url}/work`), (r) => HttpServerResponse.text("inner", { status: r.status })))
      )

      const call = yield* Effect.fork((yield* HttpClient.HttpClient).get(`${outerUpstream.url}/start`, { headers: { [HEADER]: "2500" } }))
      // the inner service works under the first caller's deadline
      assert.deepStrictEqual(yield* Deferred.await(seen), Option.some(Duration.millis(2500)))
      assert.strictEqual(innerUpstream.requests[0]!.headers[HEADER], "2500")
      yield* TestClock.adjust("2500 millis")
      yield* Deferred.await(stopped)
      assert.strictEqual((yield* Fiber.join(call)).status, 504)
      // the caller's deadline is not the inner origin's failure
      assert.strictEqual((yield* resilience.circuitBreaker!.state(innerUpstream.url))._tag, "Closed")
    }).pipe(Effect.provide(undici)))

  it.scoped("bad options fail at construction; origins read from Config as a list", () =>
    Effect.gen(function*() {
      for (
        const [propagateDeadline, option] of [
          [{ origins: "https://a" }, "propagateDeadline.origins"],
          [{ origins: ["not a url"] }, "propagateDeadline.origins"],
          [{ origins: ["https://a.example/path"] }, "propagateDeadline.origins"],
          [{ origins: ["https://user:pw@a.example"] }, "propagateDeadline.origins"],
          [{}, "propagateDeadline.origins"],
          [{ origins: [], header: "bad header" }, "propagateDeadline.header"],
          [42, "propagateDeadline"]
        ] as const
      ) {
        const exit = yield* Effect.exit(ResilientHttpClient.makeTransform({ register: false, propagateDeadline: propagateDeadline as any }))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
          assert.instanceOf(exit.cause.error, Errors.InvalidOptionsError)
          assert.strictEqual((exit.cause.error as Errors.InvalidOptionsError).option, option)
        } else assert.fail(`expected an InvalidOptionsError for ${option}`)
      }
      const a = yield* serve(script([200]))
      const provider = ConfigProvider.fromMap(
        new Map([["http.propagateDeadline.origins", `https://elsewhere.example,${a.url}`], ["http.timeout", "7 seconds"]])
      )
      const client = yield* ResilientHttpClient.fromConfig(Config.nested(ResilientHttpClient.config, "http")).pipe(
        Effect.withConfigProvider(provider)
      )
      yield* client.get(`${a.url}/c`)
      assert.strictEqual(a.requests[0]!.headers[HEADER], "7000")
    }).pipe(Effect.provide(undici)))
})
