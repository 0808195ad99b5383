/**
 * Model-based test: random sequences of calls (held open and completed in
 * any order, so several run at once), outcomes, interruptions, clock moves
 * (up to an hour: long breaks and idle periods past the store's idle time to
 * live, with its sweeps modelled), manual control and modes, run against the
 * breaker and against a small reference state machine (test/utils/breakerModel.ts,
 * issue 16's rules included: a break is never forgotten, a hung probe is a
 * failed probe at its lease's end, half-open sampling, Disabled and
 * MetricsOnly). After every step the breaker's state and mode must equal the
 * model's, every admission decision (and its retryAfter) must agree, and
 * half-open must never have more than `probes` probes running.
 *
 * Runs against the in-memory store's synchronous fast path and against the
 * same store through its Effect API only (the path a Redis store takes), so
 * the fast path is shown to behave exactly like the slow one.
 */
import { describe, it } from "@effect/vitest"
import { Deferred, Effect, FastCheck as fc, Fiber, Option } from "effect"
import { CircuitBreaker } from "effect-resilience"
import { type Command, commandArb, configArb, type ConfigArb, runModel } from "./utils/breakerModel.js"
import { numRuns } from "./utils/props.js"

const run = (cfg: ConfigArb, commands: ReadonlyArray<Command>, storeVariant: "fast" | "effect") =>
  runModel(
    cfg,
    commands,
    (options) =>
      CircuitBreaker.make(options).pipe(
        Effect.provideServiceEffect(
          CircuitBreaker.CircuitBreakerStore,
          Effect.map(
            CircuitBreaker.makeStoreMemory({ idleTimeToLive: cfg.idleTimeToLive }),
            (store) => storeVariant === "fast" ? store : { ...store, unsafe: undefined }
          )
        )
      ),
    // the in-memory store admits within a few steps: yield until the call started or ended
    (started, fiber) =>
      Effect.gen(function*() {
        for (let i = 0; i < 200; i++) {
          if ((yield* Deferred.isDone(started)) || Option.isSome(yield* Fiber.poll(fiber))) return
          yield* Effect.yieldNow()
        }
      }),
    true
  )

describe("CircuitBreaker: model-based", () => {
  it.effect.prop(
    "agrees with the reference machine (in-memory store, synchronous fast path)",
    [configArb, fc.array(commandArb, { minLength: 1, maxLength: 80, size: "max" })],
    ([cfg, commands]) => run(cfg, commands, "fast"),
    { fastCheck: { numRuns: numRuns(100) } }
  )

  it.effect.prop(
    "agrees with the reference machine (the same store through its Effect API, as a remote store is used)",
    [configArb, fc.array(commandArb, { minLength: 1, maxLength: 80, size: "max" })],
    ([cfg, commands]) => run(cfg, commands, "effect"),
    { fastCheck: { numRuns: numRuns(60) } }
  )
})
