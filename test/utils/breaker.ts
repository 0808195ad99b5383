/**
 * Calls and readers shared by the circuit breaker tests (in-process and Redis store).
 */
import { Data, Deferred, Effect } from "effect"
import { CircuitBreaker } from "effect-resilience"

export class Boom extends Data.TaggedError("Boom")<{}> {}

export const ok = Effect.succeed("ok")

/** The circuit's state tag (of `key`, or the breaker's single circuit). */
export const tagOf = (breaker: CircuitBreaker.CircuitBreaker, key?: string) => Effect.map(breaker.state(key), (s) => s._tag)

/** The rejection's reason, or "admitted". */
export const decisionOf = <A, E>(effect: Effect.Effect<A, E | CircuitBreaker.CircuitBreakerError>) =>
  Effect.match(effect, {
    onFailure: (e) => e instanceof CircuitBreaker.CircuitBreakerError ? e.reason._tag : "admitted",
    onSuccess: () => "admitted"
  })

/**
 * Starts a call through `run` that runs until its `gate` is completed, and
 * waits until it runs; `fiber` ends with the call's exit.
 */
export const hold = <E>(run: (call: Effect.Effect<string, Boom>) => Effect.Effect<string, E>) =>
  Effect.gen(function*() {
    const gate = yield* Deferred.make<string, Boom>()
    const started = yield* Deferred.make<void>()
    const call = Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate))
    const fiber = yield* Effect.fork(Effect.exit(run(call)))
    yield* Deferred.await(started)
    return { gate, started, call, fiber }
  })

/** A store configuration for driving the state machine directly: consecutive(1), a 1 s break, 2 probes of 10 s. */
export const storeConfig = (
  overrides: Partial<CircuitBreaker.CircuitBreakerStore.Config> = {}
): CircuitBreaker.CircuitBreakerStore.Config => ({
  trip: { _tag: "Consecutive", failures: 1 },
  slowCallThreshold: undefined,
  openDurations: [1000],
  maxOpenDuration: 1000,
  openDurationResetAfter: 1000,
  probes: 2,
  successThreshold: 1,
  probeTimeout: 10_000,
  ...overrides
})
