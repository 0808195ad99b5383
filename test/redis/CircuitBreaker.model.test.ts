/**
 * The model-based test of test/CircuitBreaker.model.test.ts, run against the
 * Redis store (real redis-server) with `clock: "caller"` under TestClock:
 * random sequences of calls (held open and completed in any order),
 * outcomes, interruptions, clock moves (up to an hour: long breaks), manual
 * control and modes (kept in Redis); after every step the breaker on Redis
 * must agree with the reference state machine (issue 16's rules included: a
 * hung probe is a failed probe at its lease's end, half-open sampling,
 * Disabled and MetricsOnly), and half-open must never have more than `probes`
 * probes running. (The store's idle TTLs run on Redis's real time: that a
 * break outlives them is tested in CircuitBreaker.isolation.test.ts.)
 *
 * The reference model is shared with it (test/utils/breakerModel.ts).
 */
import { describe, it } from "@effect/vitest"
import { Deferred, Effect, FastCheck as fc, Fiber, Layer } from "effect"
import { CircuitBreaker } from "effect-resilience"
import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
import { type Command, commandArb, configArb, type ConfigArb, runModel } from "../utils/breakerModel.js"
import { hasRedis } from "../utils/redis-server.js"
import { sharedResource } from "./fixtures/breaker-redis.js"
import { numRuns } from "../utils/props.js"

let runs = 0

const run = (cfg: ConfigArb, commands: ReadonlyArray<Command>, store: CircuitBreaker.CircuitBreakerStore) =>
  runModel(
    cfg,
    commands,
    (options) =>
      CircuitBreaker.make({ ...options, name: `model-${++runs}` }).pipe(
        Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
      ),
    // admission is a Redis round trip: wait until the call started or ended
    (started, fiber) => Effect.raceFirst(Deferred.await(started), Effect.asVoid(Fiber.await(fiber)))
  )

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
    ([cfg, commands]) => run(cfg, commands, env.get()),
    { fastCheck: { numRuns: numRuns(25) } }
  )
})
