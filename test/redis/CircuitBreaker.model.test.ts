/**
 * The model-based test of test/CircuitBreaker.model.test.ts, run against the
 * Redis store (real redis-server) with `clock: "caller"` under TestClock:
 * random sequences of calls (held open and completed in any order),
 * outcomes, interruptions, clock moves and manual control; after every step
 * the breaker on Redis must agree with the reference state machine, and
 * half-open must never have more than `probes` probes running.
 *
 * The reference model is shared with it (test/utils/breakerModel.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, FastCheck as fc, Fiber, Layer, Schedule, TestClock } from "effect"
import { CircuitBreaker } from "effect-resilience"
import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
import { hasRedis } from "../utils/redis-server.js"
import { sharedResource } from "./fixtures/breaker-redis.js"

import {
  Boom,
  NotFound,
  Decision,
  Result,
  Model,
  Command,
  commandArb,
  configArb,
  ConfigArb,
  Running,
  decisionOf
} from "../utils/breakerModel.js"

let runs = 0

const runModel = (
  cfg: ConfigArb,
  commands: ReadonlyArray<Command>,
  store: CircuitBreaker.CircuitBreakerStore
) =>
  Effect.gen(function*() {
    const durations = cfg.growing ? [1000, 2000, 4000, 8000] : [3000]
    const breaker = yield* CircuitBreaker.make({
      tripPolicy: CircuitBreaker.consecutive(cfg.failures),
      openDuration: cfg.growing ? Schedule.exponential("1 second") : "3 seconds",
      maxOpenDuration: cfg.growing ? "8 seconds" : undefined,
      openDurationResetAfter: Duration.millis(cfg.resetAfter),
      halfOpen: { probes: cfg.probes, successThreshold: cfg.successThreshold, probeTimeout: Duration.millis(cfg.probeTimeout) },
      classify: CircuitBreaker.ignoreTags("NotFound"),
      name: `model-${++runs}`
    }).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))
    const model = new Model({
      failures: cfg.failures,
      durations,
      cap: cfg.growing ? 8000 : 3000,
      resetAfter: cfg.resetAfter,
      probes: cfg.probes,
      successThreshold: cfg.successThreshold,
      probeTimeout: cfg.probeTimeout
    }, yield* TestClock.currentTimeMillis)
    const running: Array<Running> = []
    const now = TestClock.currentTimeMillis

    const start = Effect.gen(function*() {
      const gate = yield* Deferred.make<string, Boom | NotFound>()
      const started = yield* Deferred.make<void>()
      const call = Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate))
      const fiber = yield* Effect.fork(Effect.map(Effect.exit(breaker(call)), decisionOf))
      // wait until the call reached its admission (a Redis round trip): it either starts (admitted) or ends (rejected)
      yield* Effect.raceFirst(Deferred.await(started), Effect.asVoid(Fiber.await(fiber)))
      const [expected, ticket] = model.admit(yield* now)
      const admitted = yield* Deferred.isDone(started)
      const actual: Decision = admitted ? "admitted" : yield* Fiber.join(fiber)
      assert.strictEqual(actual, expected, "admission")
      if (!admitted) return undefined
      const r: Running = { fiber, gate, ticket: ticket!, probe: ticket!.lease !== 0 }
      running.push(r)
      return r
    })

    const complete = (r: Running, result: Result) =>
      Effect.gen(function*() {
        if (result === "interrupt") yield* Fiber.interrupt(r.fiber)
        else if (result === "success") yield* Deferred.succeed(r.gate, "ok")
        else yield* Deferred.fail(r.gate, result === "failure" ? new Boom() : new NotFound())
        yield* Fiber.await(r.fiber)
        model.record(r.ticket, result, yield* now)
      })

    const check = Effect.gen(function*() {
      const t = yield* now
      const expected = model.view(t)
      const state = yield* breaker.state()
      assert.strictEqual(state._tag, expected.tag, "state")
      if (state._tag === "Open") assert.strictEqual(state.until, expected.until, "until")
      if (state._tag === "HalfOpen") {
        assert.strictEqual(state.probes, expected.probes, "probes in flight")
        assert.isAtMost(state.probes, cfg.probes)
        // probes actually running and still holding a live lease
        const s = model.state
        const live = running.filter((r) =>
          r.probe && s._tag === "HalfOpen" && (s.leases.get(r.ticket.lease) ?? -Infinity) > t
        ).length
        assert.isAtMost(live, cfg.probes, "half-open never admits more than probes")
      }
    })

    for (const command of commands) {
      switch (command._tag) {
        case "Start":
          yield* start
          break
        case "Call": {
          const r = yield* start
          if (r !== undefined) {
            running.splice(running.indexOf(r), 1)
            yield* complete(r, command.result)
          }
          break
        }
        case "Complete": {
          if (running.length === 0) break
          const [r] = running.splice(command.index % running.length, 1)
          yield* complete(r!, command.result)
          break
        }
        case "Advance":
          yield* TestClock.adjust(Duration.millis(command.millis))
          break
        case "Isolate":
          yield* breaker.isolate()
          model.isolate(yield* now)
          break
        case "Reset":
          yield* breaker.reset()
          model.reset(yield* now)
          break
      }
      yield* check
    }
    // drain: every remaining call completes, the model still agrees
    while (running.length > 0) {
      yield* complete(running.shift()!, "success")
      yield* check
    }
  }).pipe(Effect.scoped)

describe.skipIf(!hasRedis)("CircuitBreaker on the Redis store: model-based (real redis-server, clock \"caller\")", () => {
  const env = sharedResource((server) =>
    Effect.flatMap(
      Layer.build(Redis.layer({ url: server.url, prefix: "cbmodel:" })),
      (context) => CircuitBreakerStore.make({ clock: "caller" }).pipe(Effect.provide(context))
    )
  )

  it.effect.prop(
    "agrees with the reference machine",
    [configArb, fc.array(commandArb, { minLength: 10, maxLength: 60, size: "max" })],
    ([cfg, commands]) => runModel(cfg, commands, env.get()),
    { fastCheck: { numRuns: 30 } }
  )
})
