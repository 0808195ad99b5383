/**
 * A Redis `CircuitBreakerStore` for `CircuitBreaker`: replicas that make a
 * breaker with the same `name` share its circuits — all of them open
 * together, only `halfOpen.probes` calls probe at once across the fleet, and
 * every replica's `transitions` stream sees every transition.
 *
 * - **Atomic.** Each store operation (admit, record, snapshot, isolate,
 *   reset) is ONE Lua script: the state machine of the in-memory store —
 *   the trip policies (`consecutive`, `rate`, `timeRate`, slow calls), the
 *   growing open durations, the half-open probes — runs inside Redis.
 * - **Time from Redis.** The scripts read Redis `TIME` (`clock: "redis"`,
 *   the default), so replicas whose clocks drift still agree on when a break
 *   ends; `clock: "caller"` passes the breaker's `Clock` instead (that is how
 *   tests run the store under `TestClock`).
 * - **Probe leases.** A half-open probe holds a lease that expires after
 *   `halfOpen.probeTimeout`: a replica that dies while probing never wedges
 *   the circuit.
 * - **Fencing.** Every admission carries the circuit's generation; a late
 *   result from an earlier period (another replica's call admitted before
 *   the circuit opened) is counted but cannot move the state.
 * - **Never forgotten while it matters.** Every write refreshes a closed
 *   circuit's TTL (`idleTimeToLive`). A circuit whose state still decides
 *   what the next call gets never expires: an open one (even after its
 *   break, until a call observes it and probes), a half-open or isolated
 *   one, and a closed one whose count of consecutive openings still picks
 *   the next (growing) break, until that count resets. Keys are
 *   `<prefix>cb:{<name length>:<name>:<key>}…` under the connection's
 *   `prefix`.
 * - **Modes.** `breaker.setMode` keeps the mode of a breaker's name in one
 *   key beside its own circuit (`…:m`) and publishes the change; every
 *   replica applies it at once, and reads it again every minute in case
 *   a message was lost.
 * - **Transitions.** The scripts `PUBLISH` each transition in the same
 *   atomic step; the store subscribes on a duplicate connection (scoped) and
 *   hands them to the breakers of this process (pub/sub is at-most-once: a
 *   transition published while a replica is disconnected does not reach its
 *   stream, but its state is always read from Redis).
 *
 * When Redis fails or a command times out, the breaker applies its
 * `onStoreError`: `"allow"` (the default) runs the call untracked, `"fail"`
 * rejects it with `CircuitBreakerError` (reason `CircuitBreakerStoreError`);
 * both count the failure (`metrics().totals.storeErrors`,
 * `resilience_circuit_breaker_store_errors`).
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type { InvalidOptionsError } from "../Errors.js"
import * as internal from "./internal/circuitBreaker/store.js"
import type { Redis, RedisError } from "./Redis.js"

/**
 * Options of {@link make}.
 *
 * @example
 * ```ts
 * import type { CircuitBreakerStore } from "effect-resilience/redis"
 *
 * const options: CircuitBreakerStore.Options = {
 *   clock: "redis", // default: Redis TIME
 *   idleTimeToLive: "1 hour", // default
 *   timeout: "100 millis" // default: the connection's command timeout
 * }
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /**
   * Where time comes from: `"redis"` (the default) reads Redis `TIME` inside
   * each script, so every replica agrees whatever its own clock says (state
   * and transition times are then Redis's); `"caller"` passes the breaker's
   * `Clock` (`TestClock` in tests — all replicas must then share one clock).
   */
  readonly clock?: "redis" | "caller" | undefined
  /**
   * A closed circuit unused for this long is dropped by Redis (its keys
   * expire; every write refreshes the TTL). Open, half-open and isolated
   * circuits never expire (their state decides what the next call gets),
   * nor a closed one before its count of consecutive openings resets.
   * Defaults to 1 hour.
   */
  readonly idleTimeToLive?: Duration.DurationInput | undefined
  /**
   * Bound on each script call, below the connection's command timeout
   * (which always applies). Defaults to the connection's.
   */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * Makes the store on the {@link Redis} connection, with its subscriber
 * connection for transitions (closed with the scope). Fails with
 * `InvalidOptionsError` for invalid options, `RedisError` when the
 * subscriber cannot connect.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* CircuitBreakerStore.make({ idleTimeToLive: "10 minutes" })
 *   const breaker = yield* CircuitBreaker.make({ name: "payments", tripPolicy: CircuitBreaker.consecutive(5), openDuration: "30 seconds" }).pipe(
 *     Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
 *   )
 *   return yield* Effect.succeed("charged").pipe(breaker)
 * }).pipe(Effect.scoped, Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<CircuitBreaker.CircuitBreakerStore, InvalidOptionsError | RedisError, Redis | Scope.Scope> =
  internal.make

/**
 * Provides the store as the `CircuitBreaker.CircuitBreakerStore` (replacing
 * the in-memory default): every breaker made under it keeps its circuits in
 * Redis, and breakers with the same `name` on any replica share them.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
 * import { Effect, Layer } from "effect"
 *
 * const StoreLive = CircuitBreakerStore.layer().pipe(Layer.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({
 *     name: "payments",
 *     tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 50, minimumCalls: 20 }),
 *     openDuration: "30 seconds",
 *     onStoreError: "allow"
 *   })
 *   return yield* Effect.succeed("charged").pipe(breaker.execute({ key: "eu-west" }))
 * }).pipe(Effect.scoped, Effect.provide(StoreLive))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: (
  options?: Options
) => Layer.Layer<CircuitBreaker.CircuitBreakerStore, InvalidOptionsError | RedisError, Redis> = internal.layer

/**
 * The `Config` of the store's options ({@link Options}), each under its own
 * name (`clock`, `idleTimeToLive`, `timeout`; the table in
 * docs/Options.md#redis), all optional. Nest it to give it a prefix; with
 * `ConfigProvider.constantCase`, `Config.nested(CircuitBreakerStore.config, "breakers")`
 * reads `BREAKERS_CLOCK`, `BREAKERS_IDLE_TIME_TO_LIVE` and `BREAKERS_TIMEOUT`.
 *
 * @example
 * ```ts
 * import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
 * import { Config, Layer } from "effect"
 *
 * const StoreLive = CircuitBreakerStore.layerConfig(Config.nested(CircuitBreakerStore.config, "breakers")).pipe(
 *   Layer.provide(Redis.layerConfig())
 * )
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<Options> = internal.config

/**
 * Makes the store on the {@link Redis} connection with its options read from
 * `Config`: by default (no argument) `CIRCUIT_BREAKER_STORE_CLOCK` (`redis`
 * or `caller`, default `redis`), `CIRCUIT_BREAKER_STORE_IDLE_TTL` (default
 * 1 hour) and `CIRCUIT_BREAKER_STORE_TIMEOUT` (optional); else
 * {@link config}, a `Config` of {@link Options} or a record of `Config`s.
 * Missing or malformed values fail with a `ConfigError`; out-of-range ones
 * with `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 * import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* CircuitBreakerStore.fromConfig()
 *   const breaker = yield* CircuitBreaker.make({ name: "payments", tripPolicy: CircuitBreaker.consecutive(5), openDuration: "30 seconds" }).pipe(
 *     Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
 *   )
 *   return yield* Effect.succeed("charged").pipe(breaker)
 * }).pipe(Effect.scoped, Effect.provide(Redis.layerConfig()))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config?: Config.Config.Wrap<Options>
) => Effect.Effect<
  CircuitBreaker.CircuitBreakerStore,
  InvalidOptionsError | RedisError | ConfigError.ConfigError,
  Redis | Scope.Scope
> = internal.fromConfig

/**
 * Provides the store from `Config` (as {@link fromConfig}): by default
 * `CIRCUIT_BREAKER_STORE_CLOCK` (`redis` or `caller`, default `redis`),
 * `CIRCUIT_BREAKER_STORE_IDLE_TTL` (default 1 hour) and
 * `CIRCUIT_BREAKER_STORE_TIMEOUT` (optional).
 *
 * @example
 * ```ts
 * import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
 * import { Config, Layer } from "effect"
 *
 * // REDIS_URL=redis://127.0.0.1:6379 CIRCUIT_BREAKER_STORE_IDLE_TTL="15 minutes"
 * const StoreLive = CircuitBreakerStore.layerConfig().pipe(Layer.provide(Redis.layerConfig()))
 *
 * // or with your own names
 * const Custom = CircuitBreakerStore.layerConfig({ idleTimeToLive: Config.duration("BREAKER_TTL") })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig: (
  config?: Config.Config.Wrap<Options>
) => Layer.Layer<
  CircuitBreaker.CircuitBreakerStore,
  InvalidOptionsError | RedisError | ConfigError.ConfigError,
  Redis
> = internal.layerConfig
