/**
 * A Redis `Idempotency.IdempotencyStore`: an idempotency key executes once
 * across every replica that makes an `Idempotency` policy with the same
 * `name`, and they all get the same `Exit`.
 *
 * - **Once across replicas.** `acquire` is one Lua script: it returns the
 *   kept `Exit`, or the execution in flight, or takes the key's lock (a lease
 *   with a TTL, `lockTtl`) for the caller. The executor's replica renews the
 *   lock every third of its TTL while the effect runs.
 * - **Waiters.** Callers that find an execution in flight on another replica
 *   wait for its `Exit` by polling Redis with a growing backoff (5 ms up to
 *   `pollInterval`) — one poller per execution per replica, however many
 *   callers wait; callers on the executor's own replica get the `Exit`
 *   directly. An `Exit` that is not kept (a failure without `keepFailures`)
 *   is still handed to the waiters of that execution.
 * - **A dead executor.** If the executor's replica dies, its lock is no
 *   longer renewed and expires after `lockTtl`; a waiter then sees the
 *   execution ended without a result and takes over (runs the effect).
 * - **Encoding.** The `Exit` is stored encoded with
 *   `Schema.Exit({ success, failure, defect: Schema.Defect })` from the
 *   policy's `success` and `failure` Schemas (`Idempotency.make` requires
 *   them with this store) as JSON.
 * - **Time.** Expiries of locks and kept `Exit`s are Redis `TIME` (the
 *   default) or the caller's `Clock` (`clock: "caller"`, for tests under
 *   `TestClock`).
 *
 * # When Redis fails
 *
 * Every Redis call is bounded by `timeout` (default: the connection's command
 * timeout). With `onStoreError: "fail"` (the default), a call whose key
 * cannot be acquired fails with `IdempotencyError` (reason `"StoreError"`)
 * without running, and so does a waiter whose poll fails: at-most-once.
 * With `"allow"`, such a call runs its effect without protection (fail open:
 * at-least-once; its `Exit` is not stored). A failure to store the `Exit` or
 * release the lock never fails the call that ran: it is counted, and the lock
 * expires after `lockTtl`. Failures are counted in the store's `stats()` and
 * `resilience_redis_store_errors`; the policy also counts those it sees
 * (`resilience_idempotency_store_errors`).
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { InvalidOptionsError } from "../Errors.js"
import type * as Idempotency from "../Idempotency.js"
import * as internal from "./internal/idempotency/store.js"
import type { Redis } from "./Redis.js"

/**
 * The unique symbol that marks the values of this module (`TypeId in value`).
 *
 * @example
 * ```ts
 * import { IdempotencyStore } from "effect-resilience/redis"
 * import { Predicate } from "effect"
 *
 * const isRedisStore = (u: unknown) => Predicate.hasProperty(u, IdempotencyStore.TypeId)
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
 * import type { IdempotencyStore } from "effect-resilience/redis"
 *
 * type Id = IdempotencyStore.TypeId
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
 * import type { IdempotencyStore } from "effect-resilience/redis"
 *
 * const options: IdempotencyStore.Options = {
 *   lockTtl: "30 seconds", // default
 *   pollInterval: "100 millis", // default
 *   onStoreError: "fail", // default
 *   clock: "redis", // default
 *   timeout: "200 millis", // default: the connection's command timeout
 *   prefix: "idem:" // default
 * }
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /**
   * How long an execution's lock lives without renewal: the time after which
   * a waiter takes over the key of a replica that died. Renewed every third
   * of it while the execution runs. Defaults to 30 seconds.
   */
  readonly lockTtl?: Duration.DurationInput | undefined
  /**
   * The longest pause between two polls of a waiter (the backoff starts at
   * 5 ms and doubles up to it). Defaults to 100 millis.
   */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * When Redis fails or times out: `"fail"` (the default) fails the call with
   * `IdempotencyError` without running it; `"allow"` runs it unprotected.
   */
  readonly onStoreError?: "allow" | "fail" | undefined
  /** Where expiries are measured: Redis `TIME` (`"redis"`, the default) or the caller's `Clock`. */
  readonly clock?: "redis" | "caller" | undefined
  /** Bound on each Redis call, below the connection's command timeout. Defaults to the connection's. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Namespace of the keys after the connection's prefix. Defaults to `"idem:"`. */
  readonly prefix?: string | undefined
  /**
   * The most bytes (UTF-8) an encoded `Exit` may take in Redis. A larger one
   * is not stored: the completion fails with `IdempotencyError` (reason
   * `"EncodeError"`), which the policy reports (`StoreError` event and
   * metric) without failing the call, and the lock is released, so the next
   * call with the key runs again. An integer >= 1. Defaults to 1 MiB
   * (1,048,576). With keys of at most `maxKeyLength` code units (the
   * policy's), a record takes at most its Redis key (prefixes, name and
   * 3 × `maxKeyLength` bytes) plus this.
   */
  readonly maxValueBytes?: number | undefined
}

/**
 * The store, with counters.
 *
 * @example
 * ```ts
 * import { IdempotencyStore, Redis } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store: IdempotencyStore.RedisIdempotencyStore = yield* IdempotencyStore.make()
 *   return yield* store.stats() // { storeErrors: 0, allowedWithoutLock: 0, locksLost: 0, waiting: 0 }
 * }).pipe(Effect.scoped, Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface RedisIdempotencyStore extends Context.Tag.Service<Idempotency.IdempotencyStore> {
  readonly [TypeId]: TypeId
  /** Counts since the store was made, and the executions waited for now. */
  readonly stats: () => Effect.Effect<RedisIdempotencyStore.Stats>
  /** The synchronous twin of `stats`. */
  readonly unsafeStats: () => RedisIdempotencyStore.Stats
}

/**
 * The types that go with {@link RedisIdempotencyStore}.
 *
 * @example
 * ```ts
 * import type { IdempotencyStore } from "effect-resilience/redis"
 *
 * const waiting = (stats: IdempotencyStore.RedisIdempotencyStore.Stats) => stats.waiting
 * ```
 *
 * @since 0.1.0
 */
export declare namespace RedisIdempotencyStore {
  /**
   * What {@link RedisIdempotencyStore} `stats` reports.
   *
   * @example
   * ```ts
   * import type { IdempotencyStore } from "effect-resilience/redis"
   *
   * const degraded = (stats: IdempotencyStore.RedisIdempotencyStore.Stats) => stats.storeErrors > 0 || stats.locksLost > 0
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    /** Failed or timed-out Redis calls. */
    readonly storeErrors: number
    /** Calls run unprotected because Redis failed (`onStoreError: "allow"`). */
    readonly allowedWithoutLock: number
    /** Renewals that found the lock taken over by another executor (the effect ran on). */
    readonly locksLost: number
    /** Executions this replica waits for or runs, with local waiters. */
    readonly waiting: number
  }
}

/**
 * Makes the store on the {@link Redis} connection; its pollers live in the
 * current scope. Fails with `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { IdempotencyStore, Redis } from "effect-resilience/redis"
 * import { Effect, Layer, Schema } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* IdempotencyStore.make({ lockTtl: "1 minute" })
 *   const payments = yield* Idempotency.make({
 *     ttl: "24 hours",
 *     success: Schema.Struct({ chargeId: Schema.String }),
 *     failure: Schema.String,
 *     name: "payments"
 *   }).pipe(Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store)))
 *   return yield* payments.run("order-42", Effect.succeed({ chargeId: "ch_1" }))
 * }).pipe(Effect.scoped, Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<RedisIdempotencyStore, InvalidOptionsError, Redis | Scope.Scope> = internal.make

/**
 * Provides the store as the `Idempotency.IdempotencyStore` reference: every
 * `Idempotency` policy made under it keeps its executions in Redis (policies
 * with the same `name` on any replica share them).
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { IdempotencyStore, Redis } from "effect-resilience/redis"
 * import { Effect, Layer, Schema } from "effect"
 *
 * const StoreLive = IdempotencyStore.layer().pipe(Layer.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 *
 * const program = Effect.gen(function*() {
 *   const emails = yield* Idempotency.make({ ttl: "1 hour", success: Schema.String, failure: Schema.Never, name: "emails" })
 *   return yield* emails.run("welcome:alice", Effect.succeed("sent"))
 * }).pipe(Effect.scoped, Effect.provide(StoreLive))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: (options?: Options) => Layer.Layer<Idempotency.IdempotencyStore, InvalidOptionsError, Redis> =
  internal.layer

/**
 * The `Config` of the store's options, each under its own name (`lockTtl`,
 * `pollInterval`, `onStoreError`, `clock`, `timeout`, `prefix`,
 * `maxValueBytes`; the table in docs/Options.md#redis). Nest it to give it a
 * prefix: `Config.nested(IdempotencyStore.config, "idem")` reads
 * `idem.lockTtl` (`IDEM_LOCK_TTL` with `ConfigProvider.constantCase`).
 *
 * @example
 * ```ts
 * import { IdempotencyStore } from "effect-resilience/redis"
 * import { Config } from "effect"
 *
 * const StoreLive = IdempotencyStore.layerConfig(Config.nested(IdempotencyStore.config, "idem"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<Options> = internal.config

/**
 * Makes the store (as {@link make}, its pollers in the current scope) with
 * its options read from `Config`: {@link config}, a `Config` of the options
 * or a record of `Config`s; by default the environment-style keys
 * `IDEMPOTENCY_STORE_LOCK_TTL`, `IDEMPOTENCY_STORE_POLL_INTERVAL`,
 * `IDEMPOTENCY_STORE_ON_STORE_ERROR`, `IDEMPOTENCY_STORE_CLOCK`,
 * `IDEMPOTENCY_STORE_TIMEOUT`, `IDEMPOTENCY_STORE_PREFIX` and
 * `IDEMPOTENCY_STORE_MAX_VALUE_BYTES` (each optional). Missing or malformed
 * values fail with a `ConfigError`; out-of-range ones with
 * `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { IdempotencyStore, Redis } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * // IDEMPOTENCY_STORE_LOCK_TTL="1 minute"
 * const program = Effect.gen(function*() {
 *   const store = yield* IdempotencyStore.fromConfig()
 *   return store.unsafeStats()
 * }).pipe(Effect.scoped, Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config?: Config.Config.Wrap<Options>
) => Effect.Effect<RedisIdempotencyStore, InvalidOptionsError | ConfigError.ConfigError, Redis | Scope.Scope> =
  internal.fromConfig

/**
 * Provides the store (as {@link layer}: the `Idempotency.IdempotencyStore`)
 * with its options read from `Config`; by default the environment-style
 * keys `IDEMPOTENCY_STORE_LOCK_TTL`, `IDEMPOTENCY_STORE_TIMEOUT`, … (see
 * {@link fromConfig}).
 *
 * @example
 * ```ts
 * import { IdempotencyStore, Redis } from "effect-resilience/redis"
 * import { Config, Layer } from "effect"
 *
 * // REDIS_URL=redis://127.0.0.1:6379 IDEMPOTENCY_STORE_LOCK_TTL="1 minute"
 * const StoreLive = IdempotencyStore.layerConfig().pipe(Layer.provide(Redis.layerConfig()))
 *
 * // or with your own names
 * const Custom = IdempotencyStore.layerConfig({ lockTtl: Config.duration("LOCK_TTL") })
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const layerConfig: (
  config?: Config.Config.Wrap<Options>
) => Layer.Layer<Idempotency.IdempotencyStore, InvalidOptionsError | ConfigError.ConfigError, Redis> =
  internal.layerConfig
