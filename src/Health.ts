/**
 * Health checks as Effect services.
 *
 * - The {@link Health} service holds named checks. Each has a timeout, a
 *   criticality and an optional interval (a duration or a `Schedule`); a
 *   background monitor, forked in the layer's scope, runs each on its
 *   schedule and caches its last result: status, latency, last-check time
 *   (from `Clock`), consecutive failures and a bounded, secret-free error
 *   message.
 * - {@link Service.report} aggregates them into `"healthy" | "degraded" |
 *   "unhealthy"`: a failing critical check makes the service unhealthy, a
 *   failing non-critical one (or any check reporting `degraded`) degraded.
 *   {@link Service.changes} is a `Stream` of reports, one per status change.
 * - Liveness and readiness are two views of the same checks: a check is in
 *   the readiness view unless `readiness: false`, and in the liveness view
 *   only with `liveness: true` (a dependency being down must not get the
 *   process restarted).
 * - A circuit breaker is a health source ({@link fromCircuitBreaker}): open →
 *   degraded or unhealthy, your choice, re-evaluated on every transition.
 * - The {@link PolicyRegistry} (provided by {@link layer} too) holds named
 *   policies for the admin routes of `effect-resilience/http` (list, isolate,
 *   reset, resize) and feeds the health report with their checks.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Bulkhead } from "./Bulkhead.js"
import type { CircuitBreaker, CircuitBreakerError } from "./CircuitBreaker.js"
import type { InvalidKeyError, InvalidOptionsError, ResilienceError } from "./Errors.js"
import * as internal from "./internal/health/health.js"
import * as registry from "./internal/health/registry.js"
import * as sources from "./internal/health/sources.js"
import type { PolicyRegistryError } from "./internal/health/registry.js"

export {
  /**
   * An admin operation named a policy the registry does not hold
   * (`reason: "NotFound"`), or one that does not support the operation
   * (`reason: "Unsupported"`).
   *
   * @since 0.1.0
   * @category Errors
   */
  PolicyRegistryError
} from "./internal/health/registry.js"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * The health of a check or of a whole service.
 *
 * @since 0.1.0
 * @category Models
 */
export type Status = "healthy" | "degraded" | "unhealthy"

/**
 * How much a check matters: a failing `"critical"` check makes the service
 * unhealthy, a failing `"non-critical"` one only degraded. `true` is
 * `"critical"`, `false` is `"non-critical"`.
 *
 * @since 0.1.0
 * @category Models
 */
export type Criticality = "critical" | "non-critical"

/**
 * The type id carried by the {@link Health} service.
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

/**
 * The unique symbol that marks the values of this module (`OutcomeTypeId in value`).
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const OutcomeTypeId: unique symbol = internal.OutcomeTypeId

/**
 * The type of {@link OutcomeTypeId}.
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type OutcomeTypeId = typeof OutcomeTypeId

/**
 * What a check may succeed with to report something other than healthy
 * (see {@link degraded}, {@link unhealthy}). Any other success value means
 * healthy; a failure (or a timeout, or a defect) means unhealthy.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Outcome {
  readonly [OutcomeTypeId]: OutcomeTypeId
  readonly status: Status
  readonly message?: string | undefined
}

/**
 * A health check: a name, the effect that checks, and how to run it.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Check<E = unknown, R = never> {
  /** A unique name, shown in reports. */
  readonly name: string
  /**
   * The check. Succeeds: healthy (or the status of an {@link Outcome}).
   * Fails, dies or times out: unhealthy.
   */
  readonly check: Effect.Effect<unknown, E, R>
  /** Bounds each run; the run is interrupted after it. Defaults to the layer's (2 seconds). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Defaults to `"critical"`. */
  readonly critical?: boolean | Criticality | undefined
  /**
   * When to run again after each run: a duration (`Schedule.spaced`) or any
   * `Schedule`. Defaults to the layer's (10 seconds). The first run starts
   * as soon as the check is registered.
   */
  readonly interval?: Duration.DurationInput | Schedule.Schedule<unknown, unknown> | undefined
  /** Include in the liveness view. Defaults to `false`. */
  readonly liveness?: boolean | undefined
  /** Include in the readiness view. Defaults to `true`. */
  readonly readiness?: boolean | undefined
  /** Each element runs the check at once (e.g. a breaker's `transitions`). */
  readonly trigger?: Stream.Stream<unknown> | undefined
}

/**
 * The cached result of a check.
 *
 * @since 0.1.0
 * @category Models
 */
export interface CheckResult {
  readonly name: string
  /** This check's own status (a pending check counts as unhealthy). */
  readonly status: Status
  readonly critical: boolean
  readonly liveness: boolean
  readonly readiness: boolean
  /** True until the first run finished. */
  readonly pending: boolean
  /** How long the last run took, in milliseconds. */
  readonly latencyMillis: number
  /** When the last run finished, epoch milliseconds from `Clock`. */
  readonly lastCheckedAt: number | undefined
  /** Runs in a row that were not healthy. */
  readonly consecutiveFailures: number
  /** Why it is not healthy: bounded, with URLs' query strings, credentials and tokens removed. */
  readonly message: string | undefined
}

/**
 * The aggregate of some checks.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Report {
  readonly status: Status
  /** When the report was made, epoch milliseconds from `Clock`. */
  readonly checkedAt: number
  readonly checks: ReadonlyArray<CheckResult>
}

/**
 * The health service.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Service {
  readonly [TypeId]: TypeId
  /**
   * Registers a check and starts monitoring it; closing the scope
   * unregisters it. Fails with `InvalidOptionsError` for invalid options or
   * a name already registered.
   */
  readonly register: <E, R>(check: Check<E, R>) => Effect.Effect<void, InvalidOptionsError, R | Scope.Scope>
  /** Every check (waits for the first run of the checks not run yet). */
  readonly report: Effect.Effect<Report>
  /** The checks marked `liveness: true`. */
  readonly liveness: Effect.Effect<Report>
  /** The checks not marked `readiness: false`. */
  readonly readiness: Effect.Effect<Report>
  /** The current report, then a new one each time a check's status or the aggregate changes. */
  readonly changes: Stream.Stream<Report>
  /** Runs one check (by name) or all of them now and returns the report. */
  readonly refresh: (name?: string) => Effect.Effect<Report>
  /** The cached result of a check. */
  readonly result: (name: string) => Effect.Effect<Option.Option<CheckResult>>
  /** The registered checks' names. */
  readonly names: Effect.Effect<ReadonlyArray<string>>
}

/**
 * The health service's Tag. Provided by {@link layer}.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const health = yield* Health.Health
 *   yield* health.register({ name: "db", check: Effect.void, timeout: "1 second" })
 *   return yield* health.report
 * }).pipe(Effect.scoped, Effect.provide(Health.layer()))
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export const Health: typeof internal.Health = internal.Health

/**
 * The identifier of the {@link Health} service in an effect's requirements.
 *
 * @since 0.1.0
 * @category Models
 */
export type Health = internal.Health

/**
 * Options of {@link make} and {@link layer}: defaults for the checks.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** Default interval between runs of a check. Defaults to 10 seconds. */
  readonly interval?: Duration.DurationInput | Schedule.Schedule<unknown, unknown> | undefined
  /** Default timeout of a run. Defaults to 2 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Messages longer than this are cut, in `[16, ∞)`. Defaults to 200 characters. */
  readonly maxMessageLength?: number | undefined
}

// ---------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------

/**
 * A check's success value that reports healthy, with a note.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const check = Effect.succeed(Health.healthy("3 replicas"))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const healthy: (message?: string) => Outcome = internal.healthy

/**
 * A check's success value that reports degraded: working, but not fully
 * (serving stale data, a replica down).
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const lag = Effect.succeed(12)
 * const check = Effect.map(lag, (seconds) => seconds > 10 ? Health.degraded(`replica lag ${seconds}s`) : Health.healthy())
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const degraded: (message?: string) => Outcome = internal.degraded

/**
 * A check's success value that reports unhealthy without failing.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const check = Effect.succeed(Health.unhealthy("disk full"))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const unhealthy: (message?: string) => Outcome = internal.unhealthy

/**
 * True for {@link Outcome}s.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 *
 * Health.isOutcome(Health.degraded()) // true
 * Health.isOutcome("ok") // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isOutcome: (u: unknown) => u is Outcome = internal.isOutcome

/**
 * True for a {@link Health} service (made by {@link make} or {@link layer}).
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(Health.make(), Health.isHealth).pipe(Effect.scoped) // true
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isHealth: (u: unknown) => u is Service = internal.isHealth

/**
 * The aggregate status of check results: unhealthy if a critical check is
 * unhealthy; degraded if a non-critical check is unhealthy or any check is
 * degraded; healthy otherwise (and with no checks).
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 *
 * const result = (name: string, status: Health.Status, critical: boolean): Health.CheckResult => ({
 *   name, status, critical, liveness: false, readiness: true, pending: false,
 *   latencyMillis: 1, lastCheckedAt: 0, consecutiveFailures: status === "healthy" ? 0 : 1, message: undefined
 * })
 * Health.aggregate([result("db", "healthy", true), result("cache", "unhealthy", false)]) // "degraded"
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const aggregate: (checks: ReadonlyArray<CheckResult>) => Status = internal.aggregate

// ---------------------------------------------------------------------------
// Constructors and layers
// ---------------------------------------------------------------------------

/**
 * Makes a health service whose monitors run in the current scope. Fails with
 * `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const health = yield* Health.make({ interval: "5 seconds", timeout: "1 second" })
 *   yield* health.register({ name: "cache", check: Effect.void, critical: "non-critical" })
 *   return (yield* health.report).status // "healthy"
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (options?: Options) => Effect.Effect<Service, InvalidOptionsError, Scope.Scope> = internal.make

// ---------------------------------------------------------------------------
// Policy registry
// ---------------------------------------------------------------------------

/**
 * An operation the admin routes may perform on a registered policy.
 *
 * @since 0.1.0
 * @category Models
 */
export type PolicyControl = "isolate" | "reset" | "resize" | "setMode"

/**
 * A named policy in the {@link PolicyRegistry}: how to describe it and, when
 * it supports them, how to isolate, reset or resize it. Keyed policies take
 * the key as an optional argument (all keys, or the single circuit, without
 * it).
 *
 * @since 0.1.0
 * @category Models
 */
export interface PolicyEntry {
  readonly name: string
  /** `"CircuitBreaker"`, `"Bulkhead"`, … */
  readonly kind: string
  /**
   * Its state and stats, JSON-serializable. If it fails, dies, answers
   * something that is not an object or runs longer than 1 second, the policy
   * is listed with `{ error: "unavailable" }` (reported; see "User code" in the
   * docs).
   */
  readonly info?: Effect.Effect<Readonly<Record<string, unknown>>> | undefined
  readonly isolate?: ((key?: string) => Effect.Effect<void, ResilienceError>) | undefined
  readonly reset?: ((key?: string) => Effect.Effect<void, ResilienceError>) | undefined
  readonly resize?: ((size: number, key?: string) => Effect.Effect<void, ResilienceError>) | undefined
  /**
   * Switches the policy's mode (a circuit breaker's `setMode`: `"Enforcing"`,
   * `"MetricsOnly"`, `"Disabled"`, for all its keys); an unknown mode fails
   * with `InvalidOptionsError`.
   */
  readonly setMode?: ((mode: string) => Effect.Effect<void, ResilienceError>) | undefined
  /** A check registered with the {@link Health} service next to the entry. */
  readonly health?: Check<unknown> | undefined
}

/**
 * A registered policy as the registry describes it: `name`, `kind`, the
 * controls it supports, and what its `info` returned.
 *
 * @since 0.1.0
 * @category Models
 */
export interface PolicyInfo extends Readonly<Record<string, unknown>> {
  readonly name: string
  readonly kind: string
  readonly controls: ReadonlyArray<PolicyControl>
}

/**
 * The types that go with {@link PolicyRegistry}.
 *
 * @since 0.1.0
 */
export declare namespace PolicyRegistry {
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Service {
    /**
     * Adds a policy until the scope closes (and its `health` check to the
     * {@link Health} service the registry feeds). Fails with
     * `InvalidOptionsError` for a missing or duplicate name.
     */
    readonly register: (entry: PolicyEntry) => Effect.Effect<void, InvalidOptionsError, Scope.Scope>
    readonly list: Effect.Effect<ReadonlyArray<PolicyInfo>>
    readonly get: (name: string) => Effect.Effect<PolicyInfo, PolicyRegistryError>
    /** Isolates (forces open) a breaker, or one of its keys. */
    readonly isolate: (name: string, key?: string) => Effect.Effect<PolicyInfo, PolicyRegistryError | ResilienceError>
    /** Resets (closes) a breaker, or one of its keys. */
    readonly reset: (name: string, key?: string) => Effect.Effect<PolicyInfo, PolicyRegistryError | ResilienceError>
    /** Sets a bulkhead's `maxConcurrent` (an integer >= 1; `InvalidOptionsError` otherwise). */
    readonly resize: (
      name: string,
      size: number,
      key?: string
    ) => Effect.Effect<PolicyInfo, PolicyRegistryError | ResilienceError>
    /**
     * Switches a breaker's mode for all its keys (`"Enforcing"`, `"MetricsOnly"`
     * or `"Disabled"`; `InvalidOptionsError` otherwise), shared with its
     * replicas through its store.
     */
    readonly setMode: (name: string, mode: string) => Effect.Effect<PolicyInfo, PolicyRegistryError | ResilienceError>
  }
}

/**
 * The registry of named policies behind the admin routes of
 * `effect-resilience/http`. {@link layer} provides it (feeding the health
 * report); {@link layerPolicyRegistry} provides it alone.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const registry = yield* Health.PolicyRegistry
 *   yield* registry.register({ name: "payments", kind: "Custom", info: Effect.succeed({ state: "ok" }) })
 *   return yield* registry.list
 * }).pipe(Effect.scoped, Effect.provide(Health.layerPolicyRegistry))
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export const PolicyRegistry: typeof registry.PolicyRegistry = registry.PolicyRegistry

/**
 * The identifier of the {@link PolicyRegistry} in an effect's requirements.
 *
 * @since 0.1.0
 * @category Models
 */
export type PolicyRegistry = registry.PolicyRegistry

/**
 * Provides the {@link Health} service and a {@link PolicyRegistry} that
 * feeds it. The monitors run in the layer's scope and stop with it.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Effect, Layer } from "effect"
 *
 * const HealthLive = Health.layer({ interval: "15 seconds", timeout: "2 seconds" })
 * const DbCheck = Health.layerCheck({ name: "db", check: Effect.void, critical: true })
 * const AppLive = DbCheck.pipe(Layer.provideMerge(HealthLive))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: (options?: Options) => Layer.Layer<Health | PolicyRegistry, InvalidOptionsError> = internal.layer

/**
 * The options of the {@link Health} service that are data, as read from
 * `Config` (the environment): the checks' default `interval` and `timeout`
 * (strings such as `"15 seconds"`; `"Infinity"` for no timeout) and
 * `maxMessageLength`. The checks themselves are code. Defaults and ranges:
 * docs/Options.md#health.
 *
 * @since 0.2.0
 * @category Models
 */
export interface ConfigOptions {
  /** Default interval between runs of a check. Defaults to 10 seconds. */
  readonly interval?: Duration.DurationInput | undefined
  /** Default timeout of a run. Defaults to 2 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Messages longer than this are cut, in `[16, ∞)`. Defaults to 200 characters. */
  readonly maxMessageLength?: number | undefined
}

/**
 * The options of the {@link Health} service that are code, given beside its
 * {@link ConfigOptions} to {@link fromConfig} and {@link layerConfig}: an
 * `interval` given as a `Schedule` replaces the one read from `Config`.
 *
 * @since 0.2.0
 * @category Models
 */
export interface CodeOptions {
  readonly interval?: Schedule.Schedule<unknown, unknown> | undefined
}

/**
 * The `Config` of the {@link Health} service's data options
 * ({@link ConfigOptions}), each under its own name (`interval`, `timeout`,
 * `maxMessageLength`; all optional). Nest it to give it a prefix; with
 * `ConfigProvider.constantCase`, `Config.nested(Health.config, "health")`
 * reads `HEALTH_INTERVAL`, `HEALTH_TIMEOUT` and `HEALTH_MAX_MESSAGE_LENGTH`.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Config } from "effect"
 *
 * // health.interval="15 seconds" health.timeout="1 second"
 * const HealthLive = Health.layerConfig(Config.nested(Health.config, "health"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<ConfigOptions> = internal.config

/**
 * Makes the {@link Health} service (its monitors run in the current scope)
 * with its options read from `Config` ({@link config}, a `Config` of
 * {@link ConfigOptions} or a record of `Config`s), and its code options
 * given. Missing or malformed values fail with a `ConfigError`;
 * out-of-range ones with `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Config, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const health = yield* Health.fromConfig(Config.nested(Health.config, "health"))
 *   yield* health.register({ name: "db", check: Effect.void })
 *   return yield* health.report
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config: Config.Config.Wrap<ConfigOptions>,
  code?: CodeOptions
) => Effect.Effect<Service, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> = internal.fromConfig

/**
 * Provides the {@link Health} service and a {@link PolicyRegistry} that
 * feeds it, as {@link layer} does, with the service's options read from
 * `Config` ({@link config}, a `Config` of {@link ConfigOptions}, or a record
 * of `Config`s with your own names) and its code options given. Invalid
 * values fail the layer with `InvalidOptionsError`; missing or malformed
 * config with a `ConfigError`.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Config, Schedule } from "effect"
 *
 * const HealthLive = Health.layerConfig(
 *   { timeout: Config.duration("HEALTH_CHECK_TIMEOUT").pipe(Config.withDefault("2 seconds")) },
 *   { interval: Schedule.spaced("30 seconds") }
 * )
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const layerConfig: (
  config: Config.Config.Wrap<ConfigOptions>,
  code?: CodeOptions
) => Layer.Layer<Health | PolicyRegistry, InvalidOptionsError | ConfigError.ConfigError> = internal.layerConfig

/**
 * Provides a {@link PolicyRegistry} on its own (no health checks are
 * registered for its entries).
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerPolicyRegistry: Layer.Layer<PolicyRegistry> = registry.layerPolicyRegistry

// ---------------------------------------------------------------------------
// Accessors
// ---------------------------------------------------------------------------

/**
 * Registers a check with the {@link Health} service in context until the
 * scope closes.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Health.register({ name: "db", check: Effect.void, timeout: "500 millis" }).pipe(
 *   Effect.zipRight(Health.report),
 *   Effect.scoped,
 *   Effect.provide(Health.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const register: <E, R>(
  check: Check<E, R>
) => Effect.Effect<void, InvalidOptionsError, Health | R | Scope.Scope> = internal.register

/**
 * A layer that registers a check with the {@link Health} service for its
 * lifetime.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Effect, Layer } from "effect"
 *
 * const Checks = Layer.mergeAll(
 *   Health.layerCheck({ name: "db", check: Effect.void }),
 *   Health.layerCheck({ name: "search", check: Effect.void, critical: "non-critical", interval: "30 seconds" })
 * ).pipe(Layer.provideMerge(Health.layer()))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerCheck: <E, R>(check: Check<E, R>) => Layer.Layer<never, InvalidOptionsError, Health | R> =
  internal.layerCheck

/**
 * The report of every check, from the {@link Health} service in context.
 *
 * @since 0.1.0
 * @category Accessors
 */
export const report: Effect.Effect<Report, never, Health> = internal.report

/**
 * The liveness view, from the {@link Health} service in context.
 *
 * @since 0.1.0
 * @category Accessors
 */
export const liveness: Effect.Effect<Report, never, Health> = internal.liveness

/**
 * The readiness view, from the {@link Health} service in context.
 *
 * @since 0.1.0
 * @category Accessors
 */
export const readiness: Effect.Effect<Report, never, Health> = internal.readiness

/**
 * Registers a policy with the {@link PolicyRegistry} in context until the
 * scope closes.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * let size = 10
 * const program = Health.registerPolicy({
 *   name: "exports",
 *   kind: "Custom",
 *   info: Effect.sync(() => ({ size })),
 *   resize: (n) => Effect.sync(() => { size = n })
 * }).pipe(Effect.scoped, Effect.provide(Health.layerPolicyRegistry))
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const registerPolicy: (
  entry: PolicyEntry
) => Effect.Effect<void, InvalidOptionsError, PolicyRegistry | Scope.Scope> = registry.registerPolicy

// ---------------------------------------------------------------------------
// Circuit breakers and bulkheads
// ---------------------------------------------------------------------------

/**
 * Options of {@link fromCircuitBreaker}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface CircuitBreakerCheckOptions {
  /** What an open (or isolated) circuit makes the check. Defaults to `"degraded"`. A half-open one is always degraded. */
  readonly whenOpen?: "degraded" | "unhealthy" | undefined
  /** The check's name. Defaults to `"circuit:<breaker name>"`. */
  readonly name?: string | undefined
  /**
   * The keyed circuits to watch, besides the breaker's own circuit and the
   * keys seen in its transitions since the check was registered (e.g. the
   * origins of an HTTP client). Read at each check: a function that throws, or
   * an answer that is not an iterable of strings, adds no keys (reported; see
   * "User code" in the docs).
   */
  readonly keys?: Iterable<string> | (() => Iterable<string>) | undefined
  /** Defaults to `"critical"`: with `whenOpen: "degraded"` an open circuit degrades the report whatever the criticality. */
  readonly critical?: boolean | Criticality | undefined
  readonly interval?: Duration.DurationInput | Schedule.Schedule<unknown, unknown> | undefined
  readonly timeout?: Duration.DurationInput | undefined
  readonly liveness?: boolean | undefined
  readonly readiness?: boolean | undefined
}

/**
 * A health check fed by a circuit breaker: closed → healthy, half-open →
 * degraded, open or isolated → `whenOpen` (`"degraded"` or `"unhealthy"`,
 * your choice per breaker). A breaker whose mode is `"Disabled"` is
 * degraded (nothing protects the dependency); in `"MetricsOnly"` it rejects
 * nothing, so a circuit that would be open or half-open is only degraded
 * (the message says so). It watches the breaker's own circuit, the `keys`
 * given and every key seen in the breaker's `transitions`, and runs again on
 * each transition and mode change, so the report follows the breaker at once.
 * Throws `InvalidOptionsError` for an invalid `whenOpen`.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "payments", tripPolicy: CircuitBreaker.consecutive(5), openDuration: "30 seconds" })
 *   yield* Health.register(Health.fromCircuitBreaker(breaker, { whenOpen: "unhealthy" }))
 *   return yield* Health.report
 * }).pipe(Effect.scoped, Effect.provide(Health.layer()))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const fromCircuitBreaker: (
  breaker: CircuitBreaker,
  options?: CircuitBreakerCheckOptions
) => Check<CircuitBreakerError | InvalidKeyError> =
  sources.fromCircuitBreaker

/**
 * Options of {@link registerCircuitBreaker}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface RegisterCircuitBreakerOptions {
  /** The name in the registry. Defaults to the breaker's name. */
  readonly name?: string | undefined
  /** Keyed circuits to list (and watch for health). See {@link CircuitBreakerCheckOptions.keys}. */
  readonly keys?: Iterable<string> | (() => Iterable<string>) | undefined
  /** The health check registered with it (see {@link fromCircuitBreaker}), or `false` for none. */
  readonly health?: Omit<CircuitBreakerCheckOptions, "keys"> | false | undefined
}

/**
 * Registers a circuit breaker with the {@link PolicyRegistry} in context
 * (listed with its state, circuits and counts; isolate and reset by key)
 * and, when the registry feeds a {@link Health} service, its health check.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "payments", tripPolicy: CircuitBreaker.consecutive(5), openDuration: "30 seconds" })
 *   yield* Health.registerCircuitBreaker(breaker, { health: { whenOpen: "degraded" } })
 *   const registry = yield* Health.PolicyRegistry
 *   yield* registry.isolate("payments")
 *   return (yield* Health.report).status // "degraded"
 * }).pipe(Effect.scoped, Effect.provide(Health.layer()))
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const registerCircuitBreaker: (
  breaker: CircuitBreaker,
  options?: RegisterCircuitBreakerOptions
) => Effect.Effect<void, InvalidOptionsError, PolicyRegistry | Scope.Scope> = sources.registerCircuitBreaker

/**
 * Registers a bulkhead with the {@link PolicyRegistry} in context: listed
 * with its limits and load, resizable.
 *
 * @example
 * ```ts
 * import { Bulkhead, Health } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "exports", maxConcurrent: 4 })
 *   yield* Health.registerBulkhead(bulkhead)
 *   const registry = yield* Health.PolicyRegistry
 *   return yield* registry.resize("exports", 8)
 * }).pipe(Effect.scoped, Effect.provide(Health.layerPolicyRegistry))
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const registerBulkhead: (
  bulkhead: Bulkhead<unknown>,
  options?: { readonly name?: string | undefined }
) => Effect.Effect<void, InvalidOptionsError, PolicyRegistry | Scope.Scope> = sources.registerBulkhead

/**
 * A report as plain JSON for an HTTP endpoint: status, time (ISO-8601) and
 * each check's status, criticality, latency, last-check time, consecutive
 * failures and message. With `details: false`, only the status.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 *
 * Health.toJson({ status: "healthy", checkedAt: 0, checks: [] })
 * // { status: "healthy", checkedAt: "1970-01-01T00:00:00.000Z", checks: {} }
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const toJson: (
  report: Report,
  options?: { readonly details?: boolean | undefined }
) => Record<string, unknown> = internal.toJson
