/**
 * A Redis `RateLimiterStore` for `RateLimiter`: replicas that make a limiter
 * with the same `name` share its limits.
 *
 * It implements `@effect/experimental`'s `RateLimiterStore` interface *and*
 * the library's atomic extension (`RateLimiter.AtomicStore`): one Lua script
 * per decision, the same algorithms as the memory store (same answers for the
 * same calls at the same times). It replaces experimental's
 * `RateLimiter/Redis` store, which
 *
 * - reads the replica's clock for its token buckets (`Date.now()` through the
 *   `Clock`), so replicas with skewed clocks disagree about refills;
 * - never expires a token bucket's keys (memory grows with every key ever
 *   used);
 * - cannot take tokens *only if* the resulting wait fits a bound, so the
 *   limiter's `"delay"` mode needs several round trips and may overshoot its
 *   `maxDelay` under races between replicas, and an interrupted waiter's
 *   tokens are never given back.
 *
 * Here a rejected call is never charged, a `"delay"` call is admitted only
 * if its wait fits `maxDelay` (and the caller's deadline) in one atomic step,
 * an interrupted waiter gets its tokens back when no later call reserved
 * after it, every key expires once it is idle (a refilled bucket, an expired
 * counter), and time is Redis `TIME` — or the caller's `Clock`
 * (`clock: "caller"`), which is how tests run it under `TestClock`.
 *
 * When Redis fails or a command times out, the store fails with
 * experimental's `RateLimitStoreError` and the limiter applies its
 * `onStoreError`: `"fail"` (the default) rejects the call with
 * `RateLimiterStoreError`, `"allow"` runs it unlimited. Both count the
 * failure (`storeErrors` in the `stats()` of the limiter and of the store,
 * `resilience_rate_limiter_store_errors` and `resilience_redis_store_errors`).
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { InvalidOptionsError } from "../Errors.js"
import type * as RateLimiter from "../RateLimiter.js"
import * as internal from "./internal/rateLimiter/store.js"
import type { Redis } from "./Redis.js"

/**
 * The unique symbol that marks the values of this module (`TypeId in value`).
 *
 * @example
 * ```ts
 * import { RateLimiterStore } from "effect-resilience/redis"
 * import { Predicate } from "effect"
 *
 * const isRedisStore = (u: unknown) => Predicate.hasProperty(u, RateLimiterStore.TypeId)
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @example
 * ```ts
 * import type { RateLimiterStore } from "effect-resilience/redis"
 *
 * type Id = RateLimiterStore.TypeId
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

/**
 * Options of {@link make}.
 *
 * @example
 * ```ts
 * import type { RateLimiterStore } from "effect-resilience/redis"
 *
 * const options: RateLimiterStore.Options = {
 *   clock: "redis", // default: Redis TIME
 *   timeout: "200 millis", // default: the connection's command timeout
 *   prefix: "rl:" // default
 * }
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /**
   * Where time comes from: `"redis"` (the default) reads Redis `TIME` inside
   * each script, so every replica agrees whatever its own clock says;
   * `"caller"` passes the caller's `Clock` (`TestClock` in tests — all
   * replicas must then share one clock); idle keys are then kept at least a
   * minute of Redis time, since that clock need not run at Redis's pace.
   */
  readonly clock?: "redis" | "caller" | undefined
  /**
   * Bound on each script call, below the connection's command timeout (which
   * always applies). Defaults to the connection's.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Namespace of the store's keys, after the connection's prefix: a key is
   * `<connection prefix><prefix>tb:<limiter name>:<key>` (`fw:` for fixed
   * windows). Defaults to `"rl:"`.
   */
  readonly prefix?: string | undefined
}

/**
 * The store: experimental's interface, the atomic extension, and counters.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { RateLimiterStore } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store: RateLimiterStore.RedisRateLimiterStore = yield* RateLimiterStore.make()
 *   return RateLimiter.isAtomicStore(store) // true
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface RedisRateLimiterStore extends RateLimiter.RateLimiterStore, RateLimiter.AtomicStore {
  readonly [TypeId]: TypeId
  /** Where the store's time comes from. */
  readonly clock: "redis" | "caller"
  /** Failed or timed-out script calls since the store was made. */
  readonly stats: () => Effect.Effect<RedisRateLimiterStore.Stats>
  /** The synchronous twin of `stats`. */
  readonly unsafeStats: () => RedisRateLimiterStore.Stats
}

/**
 * The types that go with {@link RedisRateLimiterStore}.
 *
 * @example
 * ```ts
 * import type { RateLimiterStore } from "effect-resilience/redis"
 *
 * const errors = (stats: RateLimiterStore.RedisRateLimiterStore.Stats) => stats.storeErrors
 * ```
 *
 * @since 0.1.0
 */
export declare namespace RedisRateLimiterStore {
  /**
   * What {@link RedisRateLimiterStore} `stats` reports.
   *
   * @example
   * ```ts
   * import type { RateLimiterStore } from "effect-resilience/redis"
   *
   * const failing = (stats: RateLimiterStore.RedisRateLimiterStore.Stats) => stats.storeErrors > 0
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    /** Failed or timed-out script calls since the store was made. */
    readonly storeErrors: number
  }
}

/**
 * Makes the store on the {@link Redis} connection. Fails with
 * `InvalidOptionsError` for invalid options; never touches Redis until used.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Redis, RateLimiterStore } from "effect-resilience/redis"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* RateLimiterStore.make({ timeout: "200 millis" })
 *   const limiter = yield* RateLimiter.make({ limit: 100, window: "1 minute", name: "api" }).pipe(
 *     Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
 *   )
 *   return yield* Effect.succeed("ok").pipe(limiter.execute({ key: "tenant-a" }))
 * }).pipe(Effect.scoped, Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (options?: Options) => Effect.Effect<RedisRateLimiterStore, InvalidOptionsError, Redis> =
  internal.make

/**
 * Provides the store as the `RateLimiter.RateLimiterStore` reference: every
 * limiter made under it keeps its limits in Redis (limiters with the same
 * `name` on any replica share them).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Redis, RateLimiterStore } from "effect-resilience/redis"
 * import { Effect, Layer } from "effect"
 *
 * const StoreLive = RateLimiterStore.layer().pipe(Layer.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.make({ limit: 10, window: "1 second", onExceeded: "delay", maxDelay: "2 seconds", name: "llm" })
 *   return yield* Effect.succeed("completion").pipe(limiter)
 * }).pipe(Effect.scoped, Effect.provide(StoreLive))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: (
  options?: Options
) => Layer.Layer<RateLimiter.RateLimiterStore, InvalidOptionsError, Redis> = internal.layer

/**
 * The `Config` of the store's options, each under its own name (`prefix`,
 * `clock`, `timeout`; the table in docs/Options.md#redis). Nest it to give
 * it a prefix: `Config.nested(RateLimiterStore.config, "limits")` reads
 * `limits.timeout` (`LIMITS_TIMEOUT` with `ConfigProvider.constantCase`).
 *
 * @example
 * ```ts
 * import { RateLimiterStore } from "effect-resilience/redis"
 * import { Config } from "effect"
 *
 * const StoreLive = RateLimiterStore.layerConfig(Config.nested(RateLimiterStore.config, "limits"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<Options> = internal.config

/**
 * Makes the store (as {@link make}) with its options read from `Config`:
 * {@link config}, a `Config` of the options or a record of `Config`s; by
 * default the environment-style keys `RATE_LIMITER_STORE_PREFIX`,
 * `RATE_LIMITER_STORE_CLOCK` and `RATE_LIMITER_STORE_TIMEOUT` (each
 * optional). Missing or malformed values fail with a `ConfigError`;
 * out-of-range ones with `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { RateLimiterStore, Redis } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * // RATE_LIMITER_STORE_TIMEOUT="200 millis"
 * const program = Effect.gen(function*() {
 *   const store = yield* RateLimiterStore.fromConfig()
 *   return yield* store.stats()
 * }).pipe(Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config?: Config.Config.Wrap<Options>
) => Effect.Effect<RedisRateLimiterStore, InvalidOptionsError | ConfigError.ConfigError, Redis> = internal.fromConfig

/**
 * Provides the store (as {@link layer}: the `RateLimiter.RateLimiterStore`)
 * with its options read from `Config`; by default `RATE_LIMITER_STORE_PREFIX`,
 * `RATE_LIMITER_STORE_CLOCK` and `RATE_LIMITER_STORE_TIMEOUT` (each
 * optional). A limiter made under it uses it; `@effect/experimental`'s own
 * store, when provided instead, is still used as {@link layer} documents.
 *
 * @example
 * ```ts
 * import { RateLimiterStore, Redis } from "effect-resilience/redis"
 * import { Config, Layer } from "effect"
 *
 * // REDIS_URL=redis://127.0.0.1:6379 RATE_LIMITER_STORE_TIMEOUT="200 millis"
 * const StoreLive = RateLimiterStore.layerConfig().pipe(Layer.provide(Redis.layerConfig()))
 *
 * // or under a prefix of your own: limits_timeout="200 millis"
 * const Custom = RateLimiterStore.layerConfig(Config.nested(RateLimiterStore.config, "limits"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const layerConfig: (
  config?: Config.Config.Wrap<Options>
) => Layer.Layer<RateLimiter.RateLimiterStore, InvalidOptionsError | ConfigError.ConfigError, Redis> =
  internal.layerConfig
