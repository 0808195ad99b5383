/**
 * A Redis `Fallback.StaleStore`: the last good values of
 * `Fallback.staleIfError`, shared by every replica. Provide it with
 * {@link layer} (it replaces the in-memory default of the
 * `Fallback.StaleStore` reference): every policy made under it keeps its
 * values in Redis, and policies with the same `name` on any replica share
 * them.
 *
 * - **Entries.** Each entry is one Redis string
 *   (`<prefix>stale:<name.length>:<policy>:<key>`, the policy's
 *   length-prefixed store key) holding `<storedAt>|<expiresAt>|<JSON
 *   value>`, written by one Lua script with a `PX` TTL so Redis drops it on
 *   its own. A write older than the entry held (an earlier `storedAt`) is
 *   ignored: an older value never overwrites a newer one.
 * - **Time.** With `clock: "redis"` (the default) entries are stamped and
 *   expired by Redis `TIME`, the one clock every replica shares (as the other
 *   Redis stores): a replica whose clock is off neither ages nor expires
 *   other replicas' entries. The caller's times are then a frame only: a
 *   write is stamped `TIME − (now − storedAt)` (the time the value spent in
 *   the policy's write queue counts), and a read returns the entry in the
 *   caller's frame (`storedAt = now − its age by Redis`). `clock: "caller"`
 *   uses the caller's times as they are (for tests under `TestClock`). The
 *   store is a `"wall"` store (see `Fallback.StaleStore.time`).
 * - **Plain JSON.** The store keeps plain JSON values only — strings, finite
 *   numbers, booleans, `null`, arrays and plain objects of them; anything
 *   else (a `Date`, a class instance, a `bigint`, `undefined`) is refused
 *   when written (a `StaleStoreError`, reported by the policy), so a value
 *   never comes back as something else. A policy whose values are not plain
 *   JSON gives itself a `schema` (`Fallback.staleIfError({ schema })`): it
 *   encodes its values for the store and decodes what it reads back.
 * - **Bounded in bytes.** An entry's Redis key takes at most the prefixes,
 *   the policy's name and 3 × its `maxKeyLength` bytes (UTF-8), and its
 *   JSON value at most `maxValueBytes` (1 MiB by default). A larger value
 *   is not stored: the write fails with a `StaleStoreError`, which
 *   `staleIfError` reports without failing the call.
 * - **Bounded in time.** Every operation ends within `timeout` (default: the
 *   connection's command timeout), wherever it is called from. The store
 *   fails open: a failing Redis never fails a call (`staleIfError` reports
 *   the error and carries on without the store), and its writes run off the
 *   callers' path, so a paused Redis never slows a fresh answer.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { InvalidOptionsError } from "../Errors.js"
import type * as Fallback from "../Fallback.js"
import * as internal from "./internal/staleStore/store.js"
import type { Redis } from "./Redis.js"

/**
 * The type id the Redis stale store carries.
 *
 * @example
 * ```ts
 * import { StaleStore } from "effect-resilience/redis"
 * import { Predicate } from "effect"
 *
 * const isRedisStore = (u: unknown) => Predicate.hasProperty(u, StaleStore.TypeId)
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
 * import type { StaleStore } from "effect-resilience/redis"
 *
 * type Id = StaleStore.TypeId
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

/**
 * Options of {@link make} and {@link layer}.
 *
 * @example
 * ```ts
 * import type { StaleStore } from "effect-resilience/redis"
 *
 * const options: StaleStore.Options = {
 *   timeout: "100 millis", // default: the connection's command timeout
 *   clock: "redis", // default
 *   maxValueBytes: 1_048_576 // default (1 MiB)
 * }
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /**
   * Bound on each Redis call, below the connection's command timeout: every
   * operation ends within it (a failure the policy reports). Defaults to the
   * connection's command timeout.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Whose time stamps and expires the entries: `"redis"` (the default, Redis
   * `TIME`, shared by every replica) or `"caller"` (the times the policy
   * passes, from its `Clock`: for tests under `TestClock`; entries are then
   * kept in Redis for at least a minute of Redis time).
   */
  readonly clock?: "redis" | "caller" | undefined
  /**
   * The most bytes (UTF-8) one entry's JSON value may take. A larger value is
   * not stored (the write fails with a `StaleStoreError`, reported by
   * `staleIfError` as a `StoreError` event; the call is not failed). An
   * integer >= 1. Defaults to 1 MiB (1,048,576).
   */
  readonly maxValueBytes?: number | undefined
}

/**
 * The Redis stale store: a `Fallback.StaleStore` of plain JSON values, in
 * wall time.
 *
 * @example
 * ```ts
 * import { Redis, StaleStore } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store: StaleStore.RedisStaleStore = yield* StaleStore.make({ timeout: "100 millis" })
 *   return store.kind // "redis"
 * }).pipe(Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface RedisStaleStore extends Fallback.StaleStore {
  readonly [TypeId]: TypeId
  readonly kind: "redis"
  readonly time: "wall"
}

/**
 * Makes a Redis stale store on the {@link Redis} connection. Provide it as
 * the `Fallback.StaleStore` (or use {@link layer}). Fails with
 * `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Redis, StaleStore } from "effect-resilience/redis"
 * import { Effect, Schema } from "effect"
 *
 * const Quote = Schema.Struct({ symbol: Schema.String, price: Schema.Number, at: Schema.Date })
 * declare const fetchQuote: (symbol: string) => Effect.Effect<typeof Quote.Type, Error>
 *
 * const program = Effect.gen(function*() {
 *   // every replica reads the quotes the others stored; Redis TIME ages and expires them
 *   const store = yield* StaleStore.make({ timeout: "100 millis" })
 *   const quotes = yield* Fallback.staleIfError({ ttl: "10 minutes", maxEntries: 10_000, schema: Quote, name: "quotes" }).pipe(
 *     Effect.provideService(Fallback.StaleStore, store)
 *   )
 *   return yield* quotes.execute(fetchQuote("ACME"), { key: "ACME" })
 * }).pipe(Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (options?: Options) => Effect.Effect<RedisStaleStore, InvalidOptionsError, Redis> = internal.make

/**
 * Provides the Redis store as the `Fallback.StaleStore`: every
 * `Fallback.staleIfError` policy made under it keeps its values in Redis
 * (policies with the same `name` on any replica share them). Fails with
 * `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Redis, StaleStore } from "effect-resilience/redis"
 * import { Effect, Layer, Schema } from "effect"
 *
 * const Quote = Schema.Struct({ symbol: Schema.String, price: Schema.Number, at: Schema.Date })
 * declare const fetchQuote: (symbol: string) => Effect.Effect<typeof Quote.Type, Error>
 *
 * const StoreLive = StaleStore.layer({ timeout: "100 millis" }).pipe(Layer.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 *
 * const program = Effect.gen(function*() {
 *   const quotes = yield* Fallback.staleIfError({ ttl: "10 minutes", maxEntries: 10_000, schema: Quote, name: "quotes" })
 *   return yield* quotes.execute(fetchQuote("ACME"), { key: "ACME" })
 * }).pipe(Effect.provide(StoreLive))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: (options?: Options) => Layer.Layer<Fallback.StaleStore, InvalidOptionsError, Redis> = internal.layer

/**
 * The `Config` of the store's options, each under its own name
 * (`maxValueBytes`, `timeout`, `clock`; the table in docs/Options.md#redis).
 * Nest it to give it a prefix: `Config.nested(StaleStore.config, "stale")`
 * reads `stale.timeout` (`STALE_TIMEOUT` with `ConfigProvider.constantCase`).
 *
 * @example
 * ```ts
 * import { StaleStore } from "effect-resilience/redis"
 * import { Config } from "effect"
 *
 * const StoreLive = StaleStore.layerConfig(Config.nested(StaleStore.config, "stale"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<Options> = internal.config

/**
 * Makes the store (as {@link make}) with its options read from `Config`:
 * {@link config}, a `Config` of the options or a record of `Config`s; by
 * default the environment-style keys `STALE_STORE_MAX_VALUE_BYTES`,
 * `STALE_STORE_TIMEOUT` and `STALE_STORE_CLOCK` (each optional). Missing or
 * malformed values fail with a `ConfigError`; out-of-range ones with
 * `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Redis, StaleStore } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * // STALE_STORE_TIMEOUT="100 millis"
 * const program = Effect.gen(function*() {
 *   const store = yield* StaleStore.fromConfig()
 *   return yield* Fallback.staleIfError<number>({ ttl: "10 minutes", maxEntries: 1_000, name: "prices" }).pipe(
 *     Effect.provideService(Fallback.StaleStore, store)
 *   )
 * }).pipe(Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config?: Config.Config.Wrap<Options>
) => Effect.Effect<RedisStaleStore, InvalidOptionsError | ConfigError.ConfigError, Redis> = internal.fromConfig

/**
 * Provides the store (as {@link layer}: the `Fallback.StaleStore`) with its
 * options read from `Config`; by default `STALE_STORE_MAX_VALUE_BYTES`,
 * `STALE_STORE_TIMEOUT` and `STALE_STORE_CLOCK` (each optional).
 *
 * @example
 * ```ts
 * import { Redis, StaleStore } from "effect-resilience/redis"
 * import { Config, Layer } from "effect"
 *
 * // REDIS_URL=redis://127.0.0.1:6379 STALE_STORE_TIMEOUT="100 millis"
 * const StoreLive = StaleStore.layerConfig().pipe(Layer.provide(Redis.layerConfig()))
 *
 * // or with your own names
 * const Custom = StaleStore.layerConfig({ maxValueBytes: Config.integer("STALE_MAX_BYTES") })
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const layerConfig: (
  config?: Config.Config.Wrap<Options>
) => Layer.Layer<Fallback.StaleStore, InvalidOptionsError | ConfigError.ConfigError, Redis> = internal.layerConfig
