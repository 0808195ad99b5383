/**
 * A Redis `BulkheadStore` for `Bulkhead`: at most `maxConcurrent` calls run
 * at once across every replica that makes a bulkhead with the same `name`
 * (per `key`). The bulkhead is the same policy as in one process —
 * `Bulkhead.make`, callable, `execute(self, { key })`, `BulkheadFullError`,
 * `stats`, `events` — made under this store's layer.
 *
 * - **Leases.** A running call holds a lease: a member of a Redis sorted set
 *   scored by its expiry. One Lua script drops the expired leases and admits
 *   the call if fewer than `maxConcurrent` remain; a fiber in the
 *   bulkhead's scope renews the lease every `leaseTtl / 3` while the call
 *   runs; the lease is released when the call ends — success, failure,
 *   defect or interruption. A replica that dies holding leases stops
 *   renewing them, and they expire after `leaseTtl`.
 * - **Local queue.** Calls that find no global permit wait in a FIFO queue
 *   per key on their replica (`maxQueue` callers at most, `maxWait` at
 *   most); only the head of that queue polls Redis, with a growing backoff
 *   (capped by `pollInterval`, never past the expiry of the oldest lease),
 *   and is woken at once when a call of its own replica releases. Waiting
 *   callers never poll Redis in a herd. A replica never runs more than
 *   `localMaxConcurrent` calls of a partition at once (default
 *   `maxConcurrent`), whatever Redis says.
 * - **Time.** Lease expiries are Redis `TIME` (the default), so replicas'
 *   clocks do not matter; `clock: "caller"` uses the bulkhead's `Clock`
 *   instead (`TestClock` in tests).
 * - **When Redis fails** (unreachable, or a command outlasts `timeout`): the
 *   bulkhead's `onStoreError` decides: `"allow"` (the default) runs the call
 *   without a lease, still within the local limit (fail open: each replica
 *   enforces `localMaxConcurrent` on its own); `"fail"` rejects it with
 *   `Bulkhead.BulkheadStoreError` (fail closed). A failed release or renewal
 *   is counted and the lease expires on its own. Every failure is counted in
 *   `resilience_redis_store_errors` (and the bulkhead's `totals().storeErrors`).
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Bulkhead from "../Bulkhead.js"
import type { InvalidOptionsError } from "../Errors.js"
import * as internal from "./internal/bulkhead/store.js"
import type { Redis } from "./Redis.js"

/**
 * Options of {@link make} and {@link layer}: the store's own. The limits
 * (`maxConcurrent`, `maxQueue`, `maxWait`, `name`, `onStoreError`) are the
 * bulkhead's options (`Bulkhead.make`).
 *
 * @example
 * ```ts
 * import type { BulkheadStore } from "effect-resilience/redis"
 *
 * const options: BulkheadStore.Options = {
 *   leaseTtl: "10 seconds", // default
 *   pollInterval: "100 millis", // default
 *   localMaxConcurrent: 5, // default: the bulkhead's maxConcurrent
 *   clock: "redis", // default
 *   prefix: "bulkhead:" // default
 * }
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /**
   * How long a lease lives without renewal: the time after which the permits
   * of a replica that died are free again. Renewed every third of it while
   * the call runs. Finite, at most 2^53 − 1 ms (its expiry must stay an exact
   * integer in Redis). Defaults to 10 seconds.
   */
  readonly leaseTtl?: Duration.DurationInput | undefined
  /**
   * The longest pause between two polls of a waiting caller (the backoff
   * starts at 5 ms and doubles up to it). Defaults to 100 millis.
   */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * Calls of a partition this replica runs at once at most, whatever Redis
   * says (it is the only limit while Redis fails and the bulkhead fails
   * open), for every bulkhead made under the store: an integer >= 1.
   * Defaults to each bulkhead's `maxConcurrent`.
   */
  readonly localMaxConcurrent?: number | undefined
  /** Where lease expiries are measured: Redis `TIME` (`"redis"`, the default) or the bulkhead's `Clock`. */
  readonly clock?: "redis" | "caller" | undefined
  /** Bound on each Redis call, below the connection's command timeout. Defaults to the connection's. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Namespace of the keys after the connection's prefix. Defaults to `"bulkhead:"`. */
  readonly prefix?: string | undefined
}

/**
 * Makes the store on the {@link Redis} connection. Fails with
 * `InvalidOptionsError` for invalid options; does not touch Redis until a
 * call comes. Provide it as `Bulkhead.BulkheadStore` (or use {@link layer}).
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { BulkheadStore, Redis } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* BulkheadStore.make({ leaseTtl: "5 seconds" })
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 20, name: "payments" }).pipe(
 *     Effect.provideService(Bulkhead.BulkheadStore, store)
 *   )
 *   return yield* Effect.succeed("charged").pipe(bulkhead)
 * }).pipe(Effect.scoped, Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (options?: Options) => Effect.Effect<Bulkhead.BulkheadStore, InvalidOptionsError, Redis> = internal.make

/**
 * Provides the store as the `Bulkhead.BulkheadStore` (replacing the
 * in-memory default): every bulkhead made under it shares its permits with
 * the bulkheads of the same `name` on every replica.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { BulkheadStore, Redis } from "effect-resilience/redis"
 * import { Effect, Layer } from "effect"
 *
 * const StoreLive = BulkheadStore.layer({ leaseTtl: "10 seconds" }).pipe(
 *   Layer.provide(Redis.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 *
 * const program = Effect.gen(function*() {
 *   // 20 calls at once to the payment provider, across all replicas
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 20, maxQueue: 100, maxWait: "2 seconds", name: "payments", onStoreError: "fail" })
 *   return yield* bulkhead.execute(Effect.succeed("charged"), { key: "provider-a" }) // Effect<string, BulkheadFullError | BulkheadStoreError | InvalidKeyError>
 * }).pipe(Effect.scoped, Effect.provide(StoreLive))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: (options?: Options) => Layer.Layer<Bulkhead.BulkheadStore, InvalidOptionsError, Redis> = internal.layer

/**
 * The `Config` of the store's options, each under its own name (`leaseTtl`,
 * `pollInterval`, `localMaxConcurrent`, `clock`, `timeout`, `prefix`; the
 * table in docs/Options.md#redis). Nest it to give it a prefix:
 * `Config.nested(BulkheadStore.config, "pool")` reads `pool.leaseTtl`
 * (`POOL_LEASE_TTL` with `ConfigProvider.constantCase`).
 *
 * @example
 * ```ts
 * import { BulkheadStore } from "effect-resilience/redis"
 * import { Config } from "effect"
 *
 * const StoreLive = BulkheadStore.layerConfig(Config.nested(BulkheadStore.config, "pool"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<Options> = internal.config

/**
 * Makes the store (as {@link make}) with its options read from `Config`:
 * {@link config}, a `Config` of the options or a record of `Config`s; by
 * default the environment-style keys `BULKHEAD_STORE_LEASE_TTL`,
 * `BULKHEAD_STORE_POLL_INTERVAL`, `BULKHEAD_STORE_LOCAL_MAX_CONCURRENT`,
 * `BULKHEAD_STORE_CLOCK`, `BULKHEAD_STORE_TIMEOUT` and
 * `BULKHEAD_STORE_PREFIX` (each optional). Missing or malformed values fail
 * with a `ConfigError`; out-of-range ones with `InvalidOptionsError` naming
 * the config key.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { BulkheadStore, Redis } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * // BULKHEAD_STORE_LEASE_TTL="5 seconds"
 * const program = Effect.gen(function*() {
 *   const store = yield* BulkheadStore.fromConfig()
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 20, name: "payments" }).pipe(
 *     Effect.provideService(Bulkhead.BulkheadStore, store)
 *   )
 *   return yield* Effect.succeed("charged").pipe(bulkhead)
 * }).pipe(Effect.scoped, Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config?: Config.Config.Wrap<Options>
) => Effect.Effect<Bulkhead.BulkheadStore, InvalidOptionsError | ConfigError.ConfigError, Redis> = internal.fromConfig

/**
 * Provides the store (as {@link layer}: the `Bulkhead.BulkheadStore`) with
 * its options read from `Config`; by default `BULKHEAD_STORE_LEASE_TTL`,
 * `BULKHEAD_STORE_TIMEOUT`, … (see {@link fromConfig}).
 *
 * @example
 * ```ts
 * import { BulkheadStore, Redis } from "effect-resilience/redis"
 * import { Config, Layer } from "effect"
 *
 * // REDIS_URL=redis://127.0.0.1:6379 BULKHEAD_STORE_LEASE_TTL="5 seconds"
 * const StoreLive = BulkheadStore.layerConfig().pipe(Layer.provide(Redis.layerConfig()))
 *
 * // or with your own names
 * const Custom = BulkheadStore.layerConfig({ leaseTtl: Config.duration("LEASE_TTL") })
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const layerConfig: (
  config?: Config.Config.Wrap<Options>
) => Layer.Layer<Bulkhead.BulkheadStore, InvalidOptionsError | ConfigError.ConfigError, Redis> = internal.layerConfig
