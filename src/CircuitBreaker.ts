/**
 * Circuit breakers: stop calling a dependency that keeps failing, give it
 * time to recover, then let a few probe calls test it before letting
 * everything through again.
 *
 * - A breaker is a policy for one circuit (`effect.pipe(breaker)`) and has
 *   `execute(effect, { key })` for one circuit per key (per host, per
 *   tenant…). Idle keys expire — never one whose state still decides what
 *   the next call gets (a long break is never forgotten); memory stays
 *   bounded (when full of such circuits, a new key runs untracked).
 * - Trip policies are values: {@link consecutive}, {@link rate} (the last N
 *   calls), {@link timeRate} (a sliding time window). `slowCall` counts slow
 *   calls too. Below `minimumCalls` a rate never trips.
 * - `openDuration` is a duration or a `Schedule` whose delays grow across
 *   consecutive openings, capped by `maxOpenDuration`; the count of openings
 *   starts over only once the circuit has stayed closed for
 *   `openDurationResetAfter`.
 * - Half-open lets at most `halfOpen.probes` calls through at once; callers
 *   beyond them fail fast with `CircuitHalfOpen` (they never queue; its
 *   `retryAfter` says when the earliest probe's lease ends). A probe slot is
 *   a lease: a probe that is interrupted frees it at once, one that hangs
 *   longer than `probeTimeout` is a failed probe (the circuit reopens from
 *   the lease's end). `halfOpen.failureRateThreshold` decides on the probes'
 *   failure rate instead (half-open sampling).
 * - {@link CircuitBreaker.setMode} switches a breaker, all its keys, to
 *   `"MetricsOnly"` (never rejects, records what it would do) or
 *   `"Disabled"` (runs every call, records nothing) and back, shared with its
 *   replicas through the store.
 * - What counts is decided by `classify(exit)`, on the error channel, never
 *   on messages. Interruptions and the library's own rejections (an inner
 *   bulkhead, rate limiter or circuit: `Errors.isRejection`) are ignored
 *   before `classify` is consulted.
 * - Late results are fenced by generation numbers: a call admitted before
 *   the circuit opened cannot extend the break or move the state.
 * - The state lives behind the {@link CircuitBreakerStore} service, a
 *   `Context.Reference` whose default is an in-memory store; the Redis store
 *   of `effect-resilience/redis` swaps it.
 *
 * Time comes from the `Clock` in scope when the breaker is made (`TestClock`
 * in tests); the move to half-open is computed from it, so {@link
 * CircuitBreaker.state} reports it without waiting for a call.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { InvalidKeyError, InvalidOptionsError } from "./Errors.js"
import * as internal from "./internal/circuitBreaker/breaker.js"
import * as classifiers from "./internal/circuitBreaker/classify.js"
import * as errors from "./internal/circuitBreaker/errors.js"
import * as memory from "./internal/circuitBreaker/memoryStore.js"
import * as options_ from "./internal/circuitBreaker/options.js"
import type { Policy } from "./Policy.js"

// ---------------------------------------------------------------------------
// Type IDs

/**
 * The type id every circuit breaker carries (see {@link isCircuitBreaker}).
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

// ---------------------------------------------------------------------------
// Errors

export {
  /**
   * The breaker rejected the call (it was not made); `reason` says why:
   * `CircuitOpen` (with `retryAfter`, the time left in the break),
   * `CircuitHalfOpen` (every probe slot taken; with `retryAfter`, the time
   * until the earliest probe's lease ends) or `CircuitBreakerStoreError`
   * (the store failed and `onStoreError` is `"fail"`). `CircuitOpen` and
   * `CircuitHalfOpen` are load-shedding rejections (`Errors.isRejection`), so
   * `Retry` never retries them and no other breaker counts them. Built
   * without a stack trace.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "effect-resilience"
   * import { Duration, Effect } from "effect"
   *
   * const program = Effect.gen(function*() {
   *   const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration: "30 seconds" })
   *   return yield* Effect.succeed("ok").pipe(
   *     breaker,
   *     Effect.catchTag("CircuitBreakerError", (e) =>
   *       // CircuitOpen and CircuitHalfOpen both say when to come back (e.g. a 503's Retry-After)
   *       Effect.succeed(e.retryAfter !== undefined ? `retry after ${Duration.format(e.retryAfter)}` : e.message))
   *   )
   * })
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  CircuitBreakerError,
  /**
   * The store behind the breaker failed (e.g. Redis unreachable). Stores fail
   * with it; the breaker then admits the call (`onStoreError: "allow"`) or
   * rejects it with a {@link CircuitBreakerError} carrying it (`"fail"`).
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "effect-resilience"
   *
   * const e = new CircuitBreaker.CircuitBreakerStoreError({ operation: "admit", detail: "connection refused" })
   * e.message // "Circuit breaker store failed on admit: connection refused"
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  CircuitBreakerStoreError,
  /**
   * The reason of a {@link CircuitBreakerError} when the circuit was open:
   * `retryAfter` is the time left in the break (infinite while `isolated`).
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "effect-resilience"
   * import { Duration } from "effect"
   *
   * const reason = new CircuitBreaker.CircuitOpen({ retryAfter: Duration.seconds(3), isolated: false })
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  CircuitOpen,
  /**
   * The reason of a {@link CircuitBreakerError} when the circuit was
   * half-open and all of its `probes` slots were taken. `retryAfter` is the
   * time until the earliest running probe's lease ends (`probeTimeout` after
   * it started): an upper bound, as a probe that answers sooner frees its
   * slot or decides the circuit sooner.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "effect-resilience"
   * import { Duration } from "effect"
   *
   * const reason = new CircuitBreaker.CircuitHalfOpen({ probes: 1, retryAfter: Duration.seconds(20) })
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  CircuitHalfOpen
} from "./internal/circuitBreaker/errors.js"

export {
  /**
   * A key the breaker refused (`execute`, `state`, `isolate`, `reset`,
   * `metrics`): not a string, not well-formed Unicode, or longer than
   * `maxKeyLength`. Raised before admission: the breaker never counts it.
   * Not a rejection; `Retry` never retries it. See `Errors.InvalidKeyError`.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const program = Effect.gen(function*() {
   *   const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration: "30 seconds" })
   *   return yield* Effect.succeed("ok").pipe(
   *     breaker.execute({ key: "x".repeat(2_000) }),
   *     Effect.catchTag("InvalidKeyError", (e) => Effect.succeed(e.reason)) // "TooLong"
   *   )
   * }).pipe(Effect.scoped)
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  InvalidKeyError
} from "./Errors.js"

type CircuitBreakerError = errors.CircuitBreakerError
type CircuitBreakerStoreError = errors.CircuitBreakerStoreError

// ---------------------------------------------------------------------------
// Models

/**
 * A circuit breaker. Callable for its own circuit (`effect.pipe(breaker)`),
 * with {@link CircuitBreaker.execute} for one circuit per key. It adds
 * exactly {@link CircuitBreakerError} to the errors of what it wraps and
 * nothing to its requirements.
 *
 * @since 0.1.0
 * @category Models
 */
export interface CircuitBreaker extends Policy<CircuitBreakerError> {
  readonly [TypeId]: TypeId
  /** The breaker's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  /** The options the breaker was made with. */
  readonly options: CircuitBreaker.Options
  /**
   * Runs `self` through the circuit of `key` (one circuit per key, created on
   * first use, dropped after `idleTimeToLive` idle). `classify` overrides the
   * breaker's classifier for this call. Data-first or data-last.
   *
   * The key must be a well-formed string of at most `maxKeyLength` UTF-16
   * code units (1,024 by default); any other key fails with
   * `InvalidKeyError` before admission (never counted). A keyed circuit is
   * never the breaker's own circuit, whatever its key (see "Keys" in the
   * docs).
   */
  readonly execute: {
    <A, E>(options: CircuitBreaker.ExecuteOptions<A, E>): <R>(
      self: Effect.Effect<A, E, R>
    ) => Effect.Effect<A, E | CircuitBreakerError | InvalidKeyError, R>
    <A, E, R>(
      self: Effect.Effect<A, E, R>,
      options: CircuitBreaker.ExecuteOptions<A, E>
    ): Effect.Effect<A, E | CircuitBreakerError | InvalidKeyError, R>
  }
  /**
   * The state of the circuit of `key` (the breaker's own circuit without a
   * key, or with `undefined`), as of now on the breaker's `Clock`: an `Open`
   * circuit whose break has elapsed reads as `HalfOpen` without waiting for a
   * call. A key the breaker refuses fails with `InvalidKeyError`, as for
   * `isolate`, `reset` and `metrics`.
   */
  readonly state: {
    (): Effect.Effect<State, CircuitBreakerError>
    (key: string | undefined): Effect.Effect<State, CircuitBreakerError | InvalidKeyError>
  }
  /** Forces the circuit of `key` open (state `Isolated`) until {@link CircuitBreaker.reset}. */
  readonly isolate: {
    (): Effect.Effect<void, CircuitBreakerError>
    (key: string | undefined): Effect.Effect<void, CircuitBreakerError | InvalidKeyError>
  }
  /** Closes the circuit of `key` with empty windows and the open durations started over. */
  readonly reset: {
    (): Effect.Effect<void, CircuitBreakerError>
    (key: string | undefined): Effect.Effect<void, CircuitBreakerError | InvalidKeyError>
  }
  /** Counts, rates, state and transition history of the circuit of `key`, and totals over every key. */
  readonly metrics: {
    (): Effect.Effect<Metrics, CircuitBreakerError>
    (key: string | undefined): Effect.Effect<Metrics, CircuitBreakerError | InvalidKeyError>
  }
  /**
   * Switches the breaker's {@link Mode} for all its keys, at run time:
   * `"Enforcing"` (the default), `"MetricsOnly"` (records, publishes rates
   * and the transitions it would make, never rejects) or `"Disabled"` (admits
   * every call, records nothing). The mode lives in the store, so breakers of
   * the same name (replicas on a shared store) switch together. The circuits'
   * states are kept underneath: back in `"Enforcing"`, a circuit that
   * `"MetricsOnly"` saw open rejects at once. A value that is not a mode fails
   * with `InvalidOptionsError`; a store failure with `CircuitBreakerError`.
   *
   * @example
   * ```ts
   * import { CircuitBreaker } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const program = Effect.gen(function*() {
   *   const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration: "30 seconds" })
   *   yield* breaker.setMode("MetricsOnly") // tune the thresholds on production traffic before enforcing them
   *   const state = yield* breaker.state()
   *   return state.mode // "MetricsOnly"
   * }).pipe(Effect.scoped)
   * ```
   */
  readonly setMode: (mode: Mode) => Effect.Effect<void, CircuitBreakerError | InvalidOptionsError>
  /** Every state transition of every key (one buffer per subscriber, oldest dropped when full). */
  readonly transitions: Stream.Stream<Transition>
  /** Everything the breaker did, transitions included (the equivalent of resilience4j's event publisher). */
  readonly events: Stream.Stream<Event>
}

/**
 * How a breaker applies its circuits, for all its keys ({@link
 * CircuitBreaker.setMode}; resilience4j's `DISABLED` and `METRICS_ONLY`
 * states, kept here as a field of its own beside each circuit's state):
 *
 * - `"Enforcing"` (the default): circuits open, probe and reject.
 * - `"MetricsOnly"`: every call runs. The circuits still record results and
 *   make the transitions an enforcing breaker would make (published on
 *   `transitions`; `state()` shows that would-be state), and the calls an
 *   enforcing breaker would have rejected are counted as rejections
 *   (`Rejected` events with `enforced: false`) and run without being
 *   recorded, as an enforcing breaker would not have seen them. For tuning
 *   thresholds on production traffic before enforcing them.
 * - `"Disabled"`: every call runs as if there were no breaker; nothing is
 *   recorded (for an incident). The states underneath stay as they were.
 *
 * @since 0.1.0
 * @category Models
 */
export type Mode = "Enforcing" | "MetricsOnly" | "Disabled"

/**
 * The types that go with {@link CircuitBreaker}.
 *
 * @since 0.1.0
 */
export declare namespace CircuitBreaker {
  /**
   * Options of {@link make}.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Options {
    /** When the circuit opens: {@link consecutive}, {@link rate} or {@link timeRate}. */
    readonly tripPolicy: TripPolicy
    /**
     * How long the circuit stays open before it lets probes through: a
     * duration, or a `Schedule` whose successive delays are the breaks of
     * the 1st, 2nd, … consecutive opening (e.g.
     * `Schedule.exponential("5 seconds")`). The schedule is stepped at
     * construction for up to 64 openings; later openings repeat the last
     * break. A failure classified with `retryAfter` lengthens the break to
     * at least that.
     */
    readonly openDuration: Duration.DurationInput | Schedule.Schedule<unknown>
    /**
     * Caps every break (growing schedules and `retryAfter` hints alike).
     * Defaults to 10 minutes, or to `openDuration` when a fixed one is
     * longer: a dependency's own `retryAfter` (a 503's `Retry-After`)
     * lengthens a break up to 10 minutes by default, and a hostile or broken
     * hint (`Retry-After: 86400`) cannot hold the circuit open longer.
     */
    readonly maxOpenDuration?: Duration.DurationInput | undefined
    /**
     * How long the circuit must stay closed before the count of consecutive
     * openings starts over (and the next break is the first one again).
     * Until then, closing after a successful probe keeps the count, so a
     * flapping dependency cannot escape a growing break. Defaults to
     * `maxOpenDuration`.
     */
    readonly openDurationResetAfter?: Duration.DurationInput | undefined
    /** Half-open probing. */
    readonly halfOpen?: HalfOpenOptions | undefined
    /**
     * Calls slower than `duration` (successful or not) count as slow; the
     * circuit trips when the slow-call rate in the trip policy's window
     * reaches `threshold` (for `consecutive(n)`, over the last `n` calls). A
     * slow probe counts as a failed probe.
     */
    readonly slowCall?: SlowCallOptions | undefined
    /**
     * Decides what a call's `Exit` counts as. Interruptions and the
     * library's own rejections are ignored before it is consulted. Defaults
     * to {@link defaultClassify}: typed failures and defects are failures.
     */
    readonly classify?: Classifier<unknown, unknown> | undefined
    /**
     * What to do when the store fails on admission: `"allow"` (fail open:
     * run the call as if the circuit were closed) or `"fail"` (fail closed:
     * reject with `CircuitBreakerStoreError`). A failure to record a result
     * never changes the call's result. Defaults to `"allow"`.
     */
    readonly onStoreError?: "allow" | "fail" | undefined
    /**
     * The breaker's name: the `policy` label of its metrics, the namespace
     * of its circuits in the store (breakers with the same name share
     * circuits — that is how replicas share them through Redis — while
     * unnamed breakers never share). Defaults to `"circuit-breaker"`.
     */
    readonly name?: string | undefined
    /**
     * Adds a `key` label to the failure-path metrics (failures, rejections,
     * transitions). Off by default: keys are unbounded, labels must not be.
     */
    readonly labelMetricsByKey?: boolean | undefined
    /**
     * A span per call (`resilience.circuit_breaker`, attributes `policy`,
     * `key`, and on a rejection `rejected` with its reason). Off by default:
     * a span costs 9–14 µs, far more than the breaker itself.
     */
    readonly spans?: boolean | undefined
    /**
     * The longest key accepted, in UTF-16 code units: an integer in
     * [1, 16,383]. Defaults to 1,024. Longer keys fail with `InvalidKeyError`
     * (they are refused, never digested).
     */
    readonly maxKeyLength?: number | undefined
  }

  /**
   * @since 0.1.0
   * @category Models
   */
  export interface HalfOpenOptions {
    /**
     * Probe calls let through at once (an integer in [1, 10,000]). Defaults
     * to 1. With `failureRateThreshold`, also the number of probes a half-open
     * period samples.
     */
    readonly probes?: number | undefined
    /**
     * Successful probes needed to close the circuit (a failed probe reopens
     * it). Defaults to 1. Not with `failureRateThreshold`.
     */
    readonly successThreshold?: number | undefined
    /**
     * Half-open sampling (cockatiel's `halfOpenSampling`, resilience4j's
     * `permittedNumberOfCallsInHalfOpenState` judged as a rate): a failure
     * rate in (0, 1]. Each half-open period admits `probes` probes in all
     * (an ignored or interrupted probe gives its slot back) and decides on
     * their failure rate instead of reopening on the first failed probe: it
     * reopens once the failed probes reach `failureRateThreshold × probes`,
     * and closes once enough probes succeeded that the rate can no longer
     * reach it (so it decides as early as the outcome is known). Off by
     * default (one failed probe reopens).
     */
    readonly failureRateThreshold?: number | undefined
    /**
     * How long a probe may run: a probe still running after it counts as a
     * failed probe, at the moment its lease ends (the circuit reopens then,
     * with the next break counted from that moment; under sampling it is a
     * failed sample), and its late result is fenced. So a hung dependency
     * gets no new probes before the next break ends (resilience4j's
     * `maxWaitDurationInHalfOpenState`). Defaults to 1 minute.
     */
    readonly probeTimeout?: Duration.DurationInput | undefined
  }

  /**
   * @since 0.1.0
   * @category Models
   */
  export interface SlowCallOptions {
    /** Calls taking longer than this are slow. */
    readonly duration: Duration.DurationInput
    /** The slow-call rate, in (0, 1], at which the circuit trips. */
    readonly threshold: number
  }

  /**
   * Options of {@link CircuitBreaker.execute}.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface ExecuteOptions<A, E> {
    /**
     * The circuit's key, e.g. a host or a tenant: a well-formed string of at
     * most `maxKeyLength` code units, else the call fails with
     * `InvalidKeyError`.
     */
    readonly key: string
    /** Overrides the breaker's classifier for this call. */
    readonly classify?: Classifier<A, E> | undefined
  }
}

/**
 * A trip policy: when a closed circuit opens.
 *
 * @since 0.1.0
 * @category Models
 */
export type TripPolicy = TripPolicy.Consecutive | TripPolicy.Rate | TripPolicy.TimeRate

/**
 * The types that go with {@link TripPolicy}.
 *
 * @since 0.1.0
 */
export declare namespace TripPolicy {
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Consecutive {
    readonly _tag: "Consecutive"
    /** Failures in a row that open the circuit. */
    readonly failures: number
  }
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Rate {
    readonly _tag: "Rate"
    /** Failure rate in (0, 1] that opens the circuit. */
    readonly threshold: number
    /** The window: the last `size` calls. */
    readonly size: number
    /** Calls needed in the window before the rate is evaluated. */
    readonly minimumCalls: number
  }
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface TimeRate {
    readonly _tag: "TimeRate"
    /** Failure rate in (0, 1] that opens the circuit. */
    readonly threshold: number
    /** The window: the calls of the last `window`. */
    readonly window: Duration.Duration
    /** The window advances one bucket (`window / buckets`) at a time. */
    readonly buckets: number
    /** Calls needed in the window before the rate is evaluated. */
    readonly minimumCalls: number
  }
}

/**
 * What a call counts as for the breaker.
 *
 * @since 0.1.0
 * @category Models
 */
export type Outcome = Outcome.Success | Outcome.Failure | Outcome.Ignored

/**
 * The types that go with {@link Outcome}.
 *
 * @since 0.1.0
 */
export declare namespace Outcome {
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Success {
    readonly _tag: "Success"
  }
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Failure {
    readonly _tag: "Failure"
    /** If this failure opens the circuit, the break lasts at least this long (capped by `maxOpenDuration`). */
    readonly retryAfter?: Duration.Duration | undefined
  }
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Ignored {
    readonly _tag: "Ignored"
  }
}

/**
 * The outcomes a classifier returns: `Outcome.success`,
 * `Outcome.failure({ retryAfter? })` and `Outcome.ignored` (neither: the call
 * says nothing about the dependency's health; a probe that is ignored frees
 * its slot).
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { Exit } from "effect"
 *
 * const classify = (exit: Exit.Exit<unknown, unknown>) =>
 *   Exit.isSuccess(exit) ? CircuitBreaker.Outcome.success : CircuitBreaker.Outcome.failure({ retryAfter: "10 seconds" })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const Outcome: {
  readonly success: Outcome.Success
  readonly failure: (options?: { readonly retryAfter?: Duration.DurationInput | undefined }) => Outcome.Failure
  readonly ignored: Outcome.Ignored
} = classifiers.Outcome

/**
 * Decides what a call's `Exit` counts as, synchronously or with an effect.
 * It sees successes too, so a value can count as a failure of the
 * dependency (resilience4j's `recordResult`, cockatiel's `handleWhenResult`):
 * the caller still gets the value, only the circuit counts it.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { Effect, Exit } from "effect"
 *
 * interface Response { readonly status: number }
 * declare const get: Effect.Effect<Response, Error>
 *
 * // an HTTP 503 response value is a failure; other values are successes
 * const byStatus: CircuitBreaker.Classifier<Response, Error> = (exit) =>
 *   Exit.isSuccess(exit) && exit.value.status === 503 ? CircuitBreaker.Outcome.failure() : CircuitBreaker.defaultClassify(exit)
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration: "30 seconds" })
 *   return yield* breaker.execute(get, { key: "api", classify: byStatus })
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type Classifier<A, E> = (exit: Exit.Exit<A, E>) => Outcome | Effect.Effect<Outcome>

/**
 * A circuit's state. Times are epoch milliseconds from the breaker's `Clock`;
 * `openings` counts consecutive openings (it picks the next break).
 *
 * @since 0.1.0
 * @category Models
 */
export type State = State.Closed | State.Open | State.HalfOpen | State.Isolated

/**
 * A circuit's state as a store reports it: a {@link State} without its
 * `mode` (the breaker adds it).
 *
 * @since 0.1.0
 * @category Models
 */
export type StoredState =
  | Omit<State.Closed, "mode">
  | Omit<State.Open, "mode">
  | Omit<State.HalfOpen, "mode">
  | Omit<State.Isolated, "mode">

/**
 * The types that go with {@link State}.
 *
 * @since 0.1.0
 */
export declare namespace State {
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Closed {
    readonly _tag: "Closed"
    readonly key: string
    readonly since: number
    readonly openings: number
    /** The breaker's mode (see {@link Mode}); in `"MetricsOnly"` the state is the one an enforcing breaker would be in. */
    readonly mode: Mode
  }
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Open {
    readonly _tag: "Open"
    readonly key: string
    readonly since: number
    /** When the break ends and probes are let through. */
    readonly until: number
    /** The time left in the break. */
    readonly retryAfter: Duration.Duration
    readonly openings: number
    readonly mode: Mode
  }
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface HalfOpen {
    readonly _tag: "HalfOpen"
    readonly key: string
    readonly since: number
    /** Probes running now. */
    readonly probes: number
    /** Successful probes so far. */
    readonly successes: number
    /** Failed probes so far (only under half-open sampling: otherwise one failed probe reopens the circuit). */
    readonly failures: number
    readonly openings: number
    readonly mode: Mode
  }
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Isolated {
    readonly _tag: "Isolated"
    readonly key: string
    readonly since: number
    readonly openings: number
    readonly mode: Mode
  }
}

/**
 * Why a circuit changed state. `ProbeTimedOut`: a probe outlived
 * `probeTimeout` (the transition is stamped with the end of its lease).
 *
 * @since 0.1.0
 * @category Models
 */
export type TransitionReason =
  | "Tripped"
  | "OpenElapsed"
  | "ProbeFailed"
  | "ProbeTimedOut"
  | "ProbesSucceeded"
  | "Isolated"
  | "Reset"

/**
 * A state transition of one circuit. `at` is epoch milliseconds from the
 * breaker's `Clock`: the move to half-open is published when the next call
 * (or `isolate`/`reset`) observes it, stamped with the time the break ended.
 * `generation` is the circuit's new generation.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Transition {
  readonly key: string
  readonly from: State["_tag"]
  readonly to: State["_tag"]
  readonly at: number
  readonly generation: number
  readonly reason: TransitionReason
}

/**
 * What a breaker did, as published on {@link CircuitBreaker.events}.
 *
 * @since 0.1.0
 * @category Models
 */
export type Event =
  | { readonly _tag: "Transition"; readonly breaker: string; readonly transition: Transition }
  | {
    readonly _tag: "Rejected"
    readonly breaker: string
    readonly key: string
    readonly reason: "CircuitOpen" | "CircuitHalfOpen" | "CircuitBreakerStoreError"
    readonly retryAfter: Duration.Duration | undefined
    /** False in `"MetricsOnly"` mode: the call would have been rejected, and ran. */
    readonly enforced: boolean
  }
  | {
    readonly _tag: "ModeChanged"
    readonly breaker: string
    readonly from: Mode
    readonly to: Mode
    /** Epoch milliseconds (the store's time of the change). */
    readonly at: number
  }
  | {
    /** The store was full of circuits it must keep: the call ran untracked (as if closed, not recorded). */
    readonly _tag: "Untracked"
    readonly breaker: string
    readonly key: string
  }
  | {
    readonly _tag: "Failure"
    readonly breaker: string
    readonly key: string
    readonly slow: boolean
    readonly probe: boolean
  }
  | { readonly _tag: "SlowCall"; readonly breaker: string; readonly key: string; readonly duration: Duration.Duration }
  | {
    readonly _tag: "Fenced"
    readonly breaker: string
    readonly key: string
    readonly outcome: "success" | "failure" | "ignored"
  }
  | {
    readonly _tag: "StoreError"
    readonly breaker: string
    readonly key: string
    readonly error: CircuitBreakerStoreError
    readonly allowed: boolean
  }

/**
 * Counts since a circuit was created (they are kept by the store, so with a
 * shared store they cover every replica).
 *
 * @since 0.1.0
 * @category Models
 */
export interface Counters {
  readonly successes: number
  readonly failures: number
  /** Calls classified as ignored (and inner rejections); interrupted calls are not counted at all. */
  readonly ignored: number
  /** Calls the circuit rejected (open, half-open full, isolated), or in `"MetricsOnly"` mode would have rejected. */
  readonly rejections: number
  readonly slowCalls: number
  /** Results that arrived after the circuit had moved on (counted above, but they did not move the state). */
  readonly fenced: number
}

/**
 * What {@link CircuitBreaker.metrics} returns.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Metrics extends Counters {
  readonly breaker: string
  readonly key: string
  /** The store in use (`"memory"`, `"redis"`, …): a forgotten Redis layer shows here. */
  readonly store: string
  readonly state: State
  /** The breaker's mode (also `state.mode`). */
  readonly mode: Mode
  /** Calls in the trip policy's current window (closed circuits only). */
  readonly windowCalls: number
  /** Failure rate in the current window, `undefined` for `consecutive` or an empty window. */
  readonly failureRate: number | undefined
  /** Slow-call rate in the current window, `undefined` without `slowCall` or with an empty window. */
  readonly slowCallRate: number | undefined
  readonly consecutiveFailures: number
  /** The latest transitions of this key seen by this breaker, oldest first (at most 100 per breaker). */
  readonly transitions: ReadonlyArray<Transition>
  /**
   * Totals over every key of this breaker, in this process. `untracked`:
   * calls that ran untracked because the store was full of circuits it must
   * keep (the memory store's `maxKeys`).
   */
  readonly totals: Counters & { readonly storeErrors: number; readonly untracked: number }
}

// ---------------------------------------------------------------------------
// Store

/**
 * Where circuits live. Every operation gets the time (`now`, epoch
 * milliseconds from the breaker's `Clock`) and the circuit's configuration
 * as arguments, so each can be one atomic script on a remote store (a Redis
 * Lua script) that reads no clock of its own and needs no prior setup; the
 * store runs the trip policy itself.
 *
 * - `admit` admits a call (returning the circuit's generation and, for a
 *   half-open probe, a lease) or rejects it; it moves an open circuit whose
 *   break has elapsed to half-open.
 * - `record` records an admitted call's result with its ticket; a ticket
 *   from an older generation (or an expired lease) is fenced: counted, but
 *   it cannot move the state.
 * - `snapshot` reads a circuit without changing it; `isolate` and `reset`
 *   are the manual controls.
 * - `register` runs for the lifetime of each breaker using a namespace
 *   (the memory store sweeps idle circuits and drops the namespace after the
 *   last breaker leaves).
 * - `unsafe`, for in-process stores only, is a synchronous twin of `admit`
 *   and `record` that the breaker uses on its hot path; it must behave
 *   exactly like them.
 * - `subscribe`, for stores shared by processes (Redis), delivers the
 *   transitions other replicas make, so every replica's `transitions` stream
 *   sees them, and the breaker's mode changes.
 * - `getMode` and `setMode` keep the breaker's {@link Mode}, one per
 *   namespace (a store without them: each breaker keeps its mode alone).
 *
 * Circuits are kept while their state still decides what the next call
 * gets: an open circuit (even once its break has ended, until a call
 * observes it), a half-open or isolated one, and a closed one whose count of
 * consecutive openings still picks the next break. Only other circuits
 * expire when idle or are dropped to make room; a store that is full of
 * circuits it must keep admits a new key `untracked` rather than forget one.
 *
 * Circuits are namespaced by breaker name, so breakers sharing a store never
 * collide. Within a namespace, `key` is the circuit's key, or `undefined`
 * for the breaker's own circuit (its callable form): the two never share a
 * circuit, whatever the key — a store that serialises keys keeps them apart
 * (the Redis store stores the own circuit under the namespace alone,
 * `<namespace.length>:<namespace>`, and a keyed one under
 * `<namespace.length>:<namespace>:<key>`). Transitions and states report the
 * own circuit under the key `"default"`. Keys reach the store validated
 * (well-formed strings of at most the breaker's `maxKeyLength`).
 *
 * @since 0.1.0
 * @category Models
 */
export interface CircuitBreakerStore {
  /** What kind of store this is (`"memory"`, `"redis"`); reported by `metrics()`. */
  readonly kind: string
  /**
   * Which time the store is given as `now`: `"monotonic"` for an in-process
   * store (never steps with the system clock; the breaker shows the instants
   * it reports — `at`, `since`, `until` — in wall time), `"wall"` (the
   * default) for a shared store, whose instants are compared across
   * processes (the Redis store reads Redis `TIME` instead, by default).
   */
  readonly time?: "monotonic" | "wall" | undefined
  readonly register: (namespace: string, config: CircuitBreakerStore.Config) => Effect.Effect<void, never, Scope.Scope>
  readonly admit: (
    namespace: string,
    key: string | undefined,
    config: CircuitBreakerStore.Config,
    now: number
  ) => Effect.Effect<CircuitBreakerStore.Admission, CircuitBreakerStoreError>
  readonly record: (
    namespace: string,
    key: string | undefined,
    config: CircuitBreakerStore.Config,
    ticket: CircuitBreakerStore.Ticket,
    result: CircuitBreakerStore.CallResult,
    now: number
  ) => Effect.Effect<CircuitBreakerStore.Recorded, CircuitBreakerStoreError>
  readonly snapshot: (
    namespace: string,
    key: string | undefined,
    config: CircuitBreakerStore.Config,
    now: number
  ) => Effect.Effect<CircuitBreakerStore.Snapshot, CircuitBreakerStoreError>
  readonly isolate: (
    namespace: string,
    key: string | undefined,
    config: CircuitBreakerStore.Config,
    now: number
  ) => Effect.Effect<ReadonlyArray<Transition>, CircuitBreakerStoreError>
  readonly reset: (
    namespace: string,
    key: string | undefined,
    config: CircuitBreakerStore.Config,
    now: number
  ) => Effect.Effect<ReadonlyArray<Transition>, CircuitBreakerStoreError>
  readonly unsafe?: CircuitBreakerStore.Unsafe | undefined
  /**
   * For shared stores: subscribes, in the scope, to the transitions of the
   * circuits of `namespace` made by every user of the store (other replicas,
   * other breakers, this one too), and to the namespace's mode changes; the
   * subscription is active once the effect completes. Each breaker merges the
   * stream into its `transitions` and `events`, skipping the transitions it
   * made itself.
   */
  readonly subscribe?:
    | ((
      namespace: string
    ) => Effect.Effect<Stream.Stream<Transition | CircuitBreakerStore.ModeSetting>, never, Scope.Scope>)
    | undefined
  /** The mode of the breakers of `namespace` (`"Enforcing"` with generation 0 until one is set). */
  readonly getMode?:
    | ((namespace: string) => Effect.Effect<CircuitBreakerStore.ModeSetting, CircuitBreakerStoreError>)
    | undefined
  /**
   * Sets the mode of the breakers of `namespace` (a new generation when it
   * changes; shared stores publish it to their subscribers) and returns the
   * setting now in force. `after` is the latest generation the caller has
   * applied: a store whose own is lower (it lost the setting: Redis
   * restarted empty, or restored an older copy) writes the setting with a
   * generation above `after`, even when its mode is the one it reports, so
   * that every breaker applies it.
   */
  readonly setMode?:
    | ((
      namespace: string,
      mode: Mode,
      now: number,
      after?: number
    ) => Effect.Effect<CircuitBreakerStore.ModeSetting, CircuitBreakerStoreError>)
    | undefined
  /**
   * Writes back `setting` as it is (mode, since, generation) when the
   * store's own generation is lower: it lost the setting (Redis restarted
   * empty, or restored an older copy) while breakers still apply it. A
   * breaker calls it when `getMode` answers an older setting than the one
   * it applied, so that breakers made since follow the setting in force. A
   * store whose setting is as new or newer keeps it (a `setMode` made
   * meanwhile wins). Shared stores publish what they write back. Returns the
   * setting now in force.
   */
  readonly restoreMode?:
    | ((
      namespace: string,
      setting: CircuitBreakerStore.ModeSetting
    ) => Effect.Effect<CircuitBreakerStore.ModeSetting, CircuitBreakerStoreError>)
    | undefined
}

/**
 * The types that go with {@link CircuitBreakerStore}.
 *
 * @since 0.1.0
 */
export declare namespace CircuitBreakerStore {
  /**
   * A circuit's configuration as the store sees it: plain numbers (all
   * durations in milliseconds), serializable, so a remote store can pass it
   * to a script.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Config {
    /** The trip policy (a `timeRate`'s `window` in milliseconds). */
    readonly trip: Trip
    /** Slow-call rate that trips the circuit; `undefined` without `slowCall` (the caller flags slow calls). */
    readonly slowCallThreshold: number | undefined
    /** The break of the n-th consecutive opening is `openDurations[n - 1]` (the last repeats). */
    readonly openDurations: ReadonlyArray<number>
    readonly maxOpenDuration: number
    readonly openDurationResetAfter: number
    readonly probes: number
    readonly successThreshold: number
    readonly probeTimeout: number
    /**
     * Half-open sampling: the probes' failure rate in (0, 1] that reopens the
     * circuit, each half-open period sampling `probes` probes; `undefined`
     * (the default): one failed probe reopens it.
     */
    readonly probeFailureRateThreshold?: number | undefined
  }

  /**
   * A {@link TripPolicy} as the store sees it: the same values, with a
   * `timeRate`'s `window` in milliseconds (plain numbers, serializable).
   *
   * @since 0.1.0
   * @category Models
   */
  export type Trip =
    | TripPolicy.Consecutive
    | TripPolicy.Rate
    | Omit<TripPolicy.TimeRate, "window"> & { readonly window: number }

  /**
   * The mode of the breakers of one namespace, as a store keeps it.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface ModeSetting {
    readonly _tag: "ModeSetting"
    readonly mode: Mode
    /** When it was set (the store's time; 0 if never set). */
    readonly since: number
    /** Increases with every change, so a breaker applies each setting once and never an older one. */
    readonly generation: number
  }

  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Ticket {
    /** The circuit's generation when the call was admitted. */
    readonly generation: number
    /** The probe's lease id in half-open, 0 for a call admitted while closed. */
    readonly lease: number
  }

  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Admitted extends Ticket {
    readonly _tag: "Admitted"
    /** Transitions the admission made (Open → HalfOpen, or a timed-out probe's reopening). */
    readonly transitions: ReadonlyArray<Transition>
    /**
     * The store holds no circuit for the key and could not make room without
     * dropping one it must keep: the call runs as if closed and is not
     * recorded (the breaker counts it as `untracked`).
     */
    readonly untracked?: boolean | undefined
  }

  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Rejected {
    readonly _tag: "Rejected"
    readonly state: "Open" | "HalfOpen" | "Isolated"
    /** Milliseconds until the break ends (Open) or the earliest probe lease ends (HalfOpen). */
    readonly retryAfter: number | undefined
    readonly transitions: ReadonlyArray<Transition>
  }

  /**
   * @since 0.1.0
   * @category Models
   */
  export type Admission = Admitted | Rejected

  /**
   * @since 0.1.0
   * @category Models
   */
  export interface CallResult {
    readonly outcome: "success" | "failure" | "ignored"
    /** Slower than `slowCall.duration` (decided by the breaker). */
    readonly slow: boolean
    /** A failure's `retryAfter`, in milliseconds. */
    readonly retryAfter: number | undefined
  }

  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Recorded {
    readonly transitions: ReadonlyArray<Transition>
    /** The ticket was stale: the result was counted but did not move the state. */
    readonly fenced: boolean
  }

  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Snapshot {
    readonly state: StoredState
    readonly counters: Counters
    readonly window: {
      readonly calls: number
      readonly failures: number
      readonly slowCalls: number
      readonly consecutiveFailures: number
    }
  }

  /**
   * The synchronous fast path of an in-process store.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Unsafe {
    readonly namespace: (namespace: string) => UnsafeNamespace
  }

  /**
   * @since 0.1.0
   * @category Models
   */
  export interface UnsafeNamespace {
    /**
     * Like `admit`, but with `allowProbe` false it returns `undefined` and
     * changes nothing when the call would take a probe slot (or move the
     * circuit to half-open).
     */
    readonly admit: (key: string | undefined, config: Config, now: number, allowProbe: boolean) => Admission | undefined
    readonly record: (key: string | undefined, config: Config, ticket: Ticket, result: CallResult, now: number) => Recorded
    /**
     * Optional: admits a call without the time when the circuit is closed
     * and nothing of it depends on time (the breaker asks only with a
     * `consecutive` trip policy and no slow-call accounting); `undefined`
     * otherwise.
     */
    readonly admitClosed?: ((key: string | undefined) => Admitted | undefined) | undefined
    /**
     * Optional, with `admitClosed`: records the success of a call it
     * admitted, without the time; false (nothing changed) when the circuit
     * has moved on since.
     */
    readonly recordClosedSuccess?: ((key: string | undefined, ticket: Ticket) => boolean) | undefined
  }

  /**
   * Options of {@link layerStoreMemory}.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface MemoryOptions {
    /**
     * Closed circuits unused for this long are dropped. Circuits whose state
     * still decides what the next call gets are never dropped: open ones
     * (even after their break, until a call observes it), half-open and
     * isolated ones, and closed ones whose count of consecutive openings
     * still picks the next (growing) break. Defaults to 1 hour.
     */
    readonly idleTimeToLive?: Duration.DurationInput | undefined
    /**
     * At most this many circuits over every namespace; when full, the oldest
     * circuit that can be dropped (as by `idleTimeToLive`, idle or not) is
     * dropped. When none can (a flood of keys whose circuits are all open),
     * a new key runs untracked instead: as if closed, not recorded, counted
     * (`metrics().totals.untracked`, the `resilience_circuit_breaker_untracked`
     * metric, an `Untracked` event). Defaults to 100,000. With keys of at most `maxKeyLength`
     * code units, the key strings held take at most
     * `maxKeys × maxKeyLength × 2` bytes: 204.8 MB at the defaults
     * (100,000 × 1,024 × 2 B), besides ~0.4–0.6 KB of state per circuit.
     */
    readonly maxKeys?: number | undefined
  }
}

/**
 * The store service, a `Context.Reference`: without a Layer every breaker
 * uses one in-memory store per process (idle circuits expire after an hour,
 * at most 100,000 circuits). {@link layerStoreMemory} configures it; the
 * Redis layer of `effect-resilience/redis` replaces it.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* CircuitBreaker.CircuitBreakerStore
 *   return store.kind // "memory"
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export const CircuitBreakerStore: Context.Reference<CircuitBreakerStore, CircuitBreakerStore> =
  memory.CircuitBreakerStore

/**
 * An in-memory {@link CircuitBreakerStore}: one state value per circuit,
 * replaced atomically on every transition; idle circuits are swept by the
 * breakers using the store. Fails with `InvalidOptionsError` for invalid
 * options.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const store = CircuitBreaker.makeStoreMemory({ idleTimeToLive: "10 minutes", maxKeys: 10_000 })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const makeStoreMemory: (
  options?: CircuitBreakerStore.MemoryOptions
) => Effect.Effect<CircuitBreakerStore, InvalidOptionsError> = memory.makeEffect

/**
 * Provides an in-memory {@link CircuitBreakerStore} with its own options,
 * for the breakers made under it.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration: "30 seconds" }).pipe(
 *   Effect.provide(CircuitBreaker.layerStoreMemory({ idleTimeToLive: "15 minutes", maxKeys: 50_000 }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerStoreMemory: (
  options?: CircuitBreakerStore.MemoryOptions
) => Layer.Layer<CircuitBreakerStore, InvalidOptionsError> = memory.layer

// ---------------------------------------------------------------------------
// Trip policies

/**
 * Opens the circuit after `failures` failures in a row (a success resets the
 * count). Polly's and cockatiel's `ConsecutiveBreaker`. Throws
 * `InvalidOptionsError` unless `failures` is an integer >= 1.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const tripPolicy = CircuitBreaker.consecutive(5)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const consecutive: (failures: number) => TripPolicy.Consecutive = options_.consecutive

/**
 * Opens the circuit when the failure rate over the last `size` calls reaches
 * `threshold` (in (0, 1]), once at least `minimumCalls` calls are in the
 * window (defaults to `size`): a small sample never trips it.
 * resilience4j's count-based sliding window.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 *
 * // open when half of the last 20 calls failed, judged from 10 calls on
 * const tripPolicy = CircuitBreaker.rate({ threshold: 0.5, size: 20, minimumCalls: 10 })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const rate: (options: {
  readonly threshold: number
  readonly size: number
  readonly minimumCalls?: number | undefined
}) => TripPolicy.Rate = options_.rate

/**
 * Opens the circuit when the failure rate over the calls of the last
 * `window` reaches `threshold` (in (0, 1]), once at least `minimumCalls`
 * (defaults to 100) are in the window. The window is split into `buckets`
 * (defaults to 10) and advances one bucket at a time: O(1) work per call and
 * memory bounded by the bucket count. Polly's `SamplingDuration` with
 * `MinimumThroughput`, resilience4j's time-based window.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const tripPolicy = CircuitBreaker.timeRate({ threshold: 0.25, window: "30 seconds", minimumCalls: 20 })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const timeRate: (options: {
  readonly threshold: number
  readonly window: Duration.DurationInput
  readonly buckets?: number | undefined
  readonly minimumCalls?: number | undefined
}) => TripPolicy.TimeRate = options_.timeRate

// ---------------------------------------------------------------------------
// Classifiers

/**
 * The default classifier: success is a success; a typed failure or a defect
 * is a failure (with the error's `retryAfter`, if it carries one).
 * (Interruptions and library rejections never reach a classifier.)
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { Exit } from "effect"
 *
 * CircuitBreaker.defaultClassify(Exit.fail("boom")) // Outcome.failure()
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const defaultClassify: (exit: Exit.Exit<unknown, unknown>) => Outcome = classifiers.defaultClassify

/**
 * A classifier from the failure's `Cause` (a success is a success), so you
 * need not dig into the `Exit`.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { Cause } from "effect"
 *
 * // only defects count; typed failures mean the dependency answered
 * const classify = CircuitBreaker.classifyCause((cause) =>
 *   Cause.isDie(cause) ? CircuitBreaker.Outcome.failure() : CircuitBreaker.Outcome.success
 * )
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const classifyCause: <E>(
  f: (cause: Cause.Cause<E>) => Outcome | Effect.Effect<Outcome>
) => Classifier<unknown, E> = classifiers.classifyCause

/**
 * A classifier from the typed error: `f` decides for typed failures; a
 * success is a success and a defect a failure.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 *
 * type ApiError = { readonly _tag: "ApiError"; readonly status: number }
 * const classify = CircuitBreaker.classifyError((e: ApiError) =>
 *   e.status >= 500 ? CircuitBreaker.Outcome.failure() : CircuitBreaker.Outcome.success
 * )
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const classifyError: <E>(
  f: (error: E) => Outcome | Effect.Effect<Outcome>
) => Classifier<unknown, E> = classifiers.classifyError

/**
 * Typed failures whose `_tag` is one of `tags` are ignored (neither success
 * nor failure: e.g. a validation error says nothing about the dependency);
 * everything else is classified by {@link defaultClassify}.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const classify = CircuitBreaker.ignoreTags("NotFound", "BadRequest")
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const ignoreTags: (...tags: ReadonlyArray<string>) => Classifier<unknown, unknown> = classifiers.ignoreTags

/**
 * Only typed failures whose `_tag` is one of `tags` (and defects) count as
 * failures; other typed failures count as successes — the dependency
 * answered (resilience4j's `recordExceptions`).
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const classify = CircuitBreaker.countTags("Unavailable", "TimeoutError")
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const countTags: (...tags: ReadonlyArray<string>) => Classifier<unknown, unknown> = classifiers.countTags

/**
 * Only defects count as failures; typed failures count as successes (the
 * dependency answered, with an error the caller handles).
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const options = { tripPolicy: CircuitBreaker.consecutive(3), openDuration: "10 seconds", classify: CircuitBreaker.onlyDefects }
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const onlyDefects: Classifier<unknown, unknown> = classifiers.onlyDefects

// ---------------------------------------------------------------------------
// Constructors

/**
 * Makes a circuit breaker in the current scope, with its state in the
 * {@link CircuitBreakerStore} in context (in memory by default). Fails with
 * `InvalidOptionsError` naming the option and the allowed range.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { Effect, Schedule } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({
 *     name: "payments",
 *     tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 20, minimumCalls: 10 }),
 *     openDuration: Schedule.exponential("5 seconds"),
 *     maxOpenDuration: "5 minutes",
 *     halfOpen: { probes: 2, successThreshold: 2, probeTimeout: "10 seconds" },
 *     slowCall: { duration: "2 seconds", threshold: 0.8 }
 *   })
 *   const charge = Effect.succeed("charged").pipe(breaker) // one circuit
 *   const perHost = Effect.succeed("ok").pipe(breaker.execute({ key: "api.example.com" })) // one per key
 *   return [yield* charge, yield* perHost]
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (
  options: CircuitBreaker.Options
) => Effect.Effect<CircuitBreaker, InvalidOptionsError, Scope.Scope> = internal.make

/**
 * True for circuit breakers.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Timeout } from "effect-resilience"
 *
 * CircuitBreaker.isCircuitBreaker(Timeout.make("1 second")) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isCircuitBreaker: (u: unknown) => u is CircuitBreaker = internal.isCircuitBreaker

/**
 * Provides a circuit breaker under your own `Context.Tag` (see
 * `Policy.fromTag`); it lives as long as the layer. Fails with
 * `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Policy } from "effect-resilience"
 * import { Context } from "effect"
 *
 * class PaymentsBreaker extends Context.Tag("app/PaymentsBreaker")<PaymentsBreaker, CircuitBreaker.CircuitBreaker>() {}
 * const live = CircuitBreaker.layer(PaymentsBreaker, { tripPolicy: CircuitBreaker.consecutive(5), openDuration: "30 seconds" })
 * const guarded = Policy.fromTag(PaymentsBreaker)
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: <I, S>(
  tag: Context.Tag<I, S>,
  options: CircuitBreaker.Options & ([CircuitBreaker] extends [S] ? unknown : never)
) => Layer.Layer<I, InvalidOptionsError> = internal.layer

/**
 * The options of a breaker that can come from configuration (the
 * environment): the data options of {@link CircuitBreaker.Options}, flat.
 * The trip policy is `tripPolicy` (`"consecutive"`, `"rate"` or
 * `"timeRate"`) with its options (`failures`; `threshold`, `size`,
 * `minimumCalls`; `threshold`, `window`, `buckets`, `minimumCalls`): every
 * one given is checked, even one the policy chosen does not use. The break
 * is `openDuration`, growing by `openDurationFactor` per consecutive opening
 * (`Schedule.exponential`) when not 1, up to `maxOpenDuration`. `probes`,
 * `successThreshold`, `probeTimeout` and `probeFailureRateThreshold` are
 * `halfOpen`'s options; `slowCallDuration` and `slowCallThreshold` are
 * `slowCall`'s (the threshold defaults to 1; a threshold without a duration
 * is an error).
 *
 * Defaults: `tripPolicy` `"consecutive"` with `failures` 5; `threshold`
 * 0.5, `size` 100, `window` 30 seconds for the rate policies;
 * `openDuration` 30 seconds with `openDurationFactor` 1 (a fixed break);
 * the others as in {@link CircuitBreaker.Options}. The table in
 * docs/Options.md#circuitbreaker lists them all.
 *
 * @since 0.1.0
 * @category Models
 */
export interface ConfigOptions {
  readonly name?: string | undefined
  readonly tripPolicy?: "consecutive" | "rate" | "timeRate" | undefined
  readonly failures?: number | undefined
  readonly threshold?: number | undefined
  readonly size?: number | undefined
  readonly window?: Duration.DurationInput | undefined
  readonly buckets?: number | undefined
  readonly minimumCalls?: number | undefined
  readonly openDuration?: Duration.DurationInput | undefined
  readonly openDurationFactor?: number | undefined
  readonly maxOpenDuration?: Duration.DurationInput | undefined
  readonly openDurationResetAfter?: Duration.DurationInput | undefined
  readonly probes?: number | undefined
  readonly successThreshold?: number | undefined
  readonly probeTimeout?: Duration.DurationInput | undefined
  /** `halfOpen.failureRateThreshold` (half-open sampling). */
  readonly probeFailureRateThreshold?: number | undefined
  readonly slowCallDuration?: Duration.DurationInput | undefined
  readonly slowCallThreshold?: number | undefined
  readonly onStoreError?: "allow" | "fail" | undefined
  /** @since 0.2.0 */
  readonly labelMetricsByKey?: boolean | undefined
  /** @since 0.2.0 */
  readonly spans?: boolean | undefined
  /** @since 0.2.0 */
  readonly maxKeyLength?: number | undefined
}

/**
 * The options of a breaker that are code, given beside the
 * {@link ConfigOptions} to {@link fromConfig} and {@link layerConfig}: the
 * classifier, and a trip policy or a break (a `Schedule`) that replace the
 * ones read from `Config`.
 *
 * @since 0.2.0
 * @category Models
 */
export type CodeOptions =
  & Pick<CircuitBreaker.Options, "classify">
  & Partial<Pick<CircuitBreaker.Options, "tripPolicy" | "openDuration">>

/**
 * The `Config` of a breaker's data options ({@link ConfigOptions}), each
 * under its own name (`tripPolicy`, `failures`, `openDuration`, `probes`,
 * `slowCallDuration`, …; the table in docs/Options.md#circuitbreaker). Nest
 * it to give it a prefix; with `ConfigProvider.constantCase`,
 * `Config.nested(CircuitBreaker.config, "payments")` reads
 * `PAYMENTS_TRIP_POLICY`, `PAYMENTS_FAILURES`, `PAYMENTS_OPEN_DURATION`,
 * `PAYMENTS_PROBE_FAILURE_RATE_THRESHOLD`, … from the environment. Every
 * option is optional.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class Payments extends Context.Tag("app/Payments")<Payments, CircuitBreaker.CircuitBreaker>() {}
 * // payments.tripPolicy=rate payments.threshold=0.5 payments.size=50 payments.openDuration="10 seconds"
 * const live = CircuitBreaker.layerConfig(Payments, Config.nested(CircuitBreaker.config, "payments"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<ConfigOptions> = internal.config

/**
 * Makes a circuit breaker in the current scope with its data options read
 * from `Config` ({@link config}, a `Config` of {@link ConfigOptions} or a
 * record of `Config`s) and its code options given. Missing or malformed
 * values fail with a `ConfigError`; out-of-range ones with
 * `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { Config, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.fromConfig(Config.nested(CircuitBreaker.config, "payments"), {
 *     classify: CircuitBreaker.ignoreTags("NotFound")
 *   })
 *   return yield* Effect.succeed("charged").pipe(breaker)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config: Config.Config.Wrap<ConfigOptions>,
  code?: CodeOptions
) => Effect.Effect<CircuitBreaker, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> = internal.fromConfig

/**
 * Provides a circuit breaker under your own `Context.Tag` with its data
 * options read from `Config` ({@link config}, a `Config` of
 * {@link ConfigOptions}, or a record of `Config`s with your own names) and
 * its code options given. Invalid values fail the layer with
 * `InvalidOptionsError`; missing or malformed config with a `ConfigError`.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class ApiBreaker extends Context.Tag("app/ApiBreaker")<ApiBreaker, CircuitBreaker.CircuitBreaker>() {}
 * // API_BREAKER_FAILURES=5 API_BREAKER_OPEN="30 seconds"
 * const live = CircuitBreaker.layerConfig(ApiBreaker, {
 *   name: Config.succeed("api"),
 *   failures: Config.integer("API_BREAKER_FAILURES").pipe(Config.withDefault(5)),
 *   openDuration: Config.duration("API_BREAKER_OPEN").pipe(Config.withDefault("30 seconds"))
 * }, { classify: CircuitBreaker.onlyDefects })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig: <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<ConfigOptions> & ([CircuitBreaker] extends [S] ? unknown : never),
  code?: CodeOptions
) => Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> = internal.layerConfig
