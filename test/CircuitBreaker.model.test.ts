/**
 * Model-based test: random sequences of calls (held open and completed in
 * any order, so several run at once), outcomes, interruptions, clock moves
 * and manual control, run against the breaker and against a small reference
 * state machine written independently here. After every step the breaker's
 * state must equal the model's, every admission decision must agree, and
 * half-open must never have more than `probes` probes running.
 *
 * Runs against the in-memory store's synchronous fast path and against the
 * same store through its Effect API only (the path a Redis store takes), so
 * the fast path is shown to behave exactly like the slow one.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, FastCheck as fc, Fiber, Option, Schedule, TestClock } from "effect"
import { CircuitBreaker } from "effect-resilience"

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
} from "./utils/breakerModel.js"

const runModel = (
  cfg: ConfigArb,
  commands: ReadonlyArray<Command>,
  storeVariant: "fast" | "effect"
) =>
  Effect.gen(function*() {
    const durations = cfg.growing ? [1000, 2000, 4000, 8000] : [3000]
    const breaker = yield* CircuitBreaker.make({
      tripPolicy: CircuitBreaker.consecutive(cfg.failures),
      openDuration: cfg.growing ? Schedule.exponential("1 second") : "3 seconds",
      maxOpenDuration: cfg.growing ? "8 seconds" : undefined,
      openDurationResetAfter: Duration.millis(cfg.resetAfter),
      halfOpen: { probes: cfg.probes, successThreshold: cfg.successThreshold, probeTimeout: Duration.millis(cfg.probeTimeout) },
      classify: CircuitBreaker.ignoreTags("NotFound")
    }).pipe(
      storeVariant === "fast" ? (x) => x : Effect.provideServiceEffect(
        CircuitBreaker.CircuitBreakerStore,
        Effect.map(CircuitBreaker.makeStoreMemory(), (store) => ({ ...store, unsafe: undefined }))
      )
    )
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
      // let the call reach its admission: it either starts (admitted) or ends (rejected)
      for (let i = 0; i < 200; i++) {
        if ((yield* Deferred.isDone(started)) || Option.isSome(yield* Fiber.poll(fiber))) break
        yield* Effect.yieldNow()
      }
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

describe("CircuitBreaker: model-based", () => {
  it.effect.prop(
    "agrees with the reference machine (in-memory store, synchronous fast path)",
    [configArb, fc.array(commandArb, { minLength: 1, maxLength: 80 })],
    ([cfg, commands]) => runModel(cfg, commands, "fast"),
    { fastCheck: { numRuns: 150 } }
  )

  it.effect.prop(
    "agrees with the reference machine (the same store through its Effect API, as a remote store is used)",
    [configArb, fc.array(commandArb, { minLength: 1, maxLength: 80 })],
    ([cfg, commands]) => runModel(cfg, commands, "effect"),
    { fastCheck: { numRuns: 100 } }
  )
})
