/**
 * The Redis connection the stores of `effect-resilience/redis` share: an
 * `ioredis` client as a scoped service (closed with its scope), with connect
 * and command timeouts, from options or from `Config` (`REDIS_URL`).
 *
 * Commands never queue while Redis is unreachable (`enableOfflineQueue:
 * false`) and never retry on their own: a store decides, through its
 * `onStoreError` mode, whether to fail open or closed, and nothing hangs
 * beyond the command timeout.
 *
 * **Starting while Redis is down.** By default (`connect: "eager"`) the
 * connection is made at start and a Redis that does not answer within the
 * connect timeout fails the layer: the replica does not start. A deployment
 * whose stores all fail open can start anyway with `connect: "background"`:
 * the layer is built at once, the first connection and the reconnections are
 * made in the background (with the capped backoff of `retryStrategy`), every
 * command meanwhile fails at once with a `RedisError` (each store then acts
 * in its documented mode: fail open or closed), and the replica joins Redis
 * when it answers. `isReady()` tells whether it is connected.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Redis as IORedis, RedisOptions } from "ioredis"
import type { InvalidOptionsError } from "../Errors.js"
import * as internal from "./internal/redis.js"

export {
  /**
   * A Redis command failed, timed out, or Redis was unreachable.
   *
   * @since 0.1.0
   * @category Errors
   */
  RedisError,
  /**
   * The service.
   *
   * @since 0.1.0
   * @category Models
   */
  Redis
} from "./internal/redis.js"

type RedisError = internal.RedisError

/**
 * The shared connection.
 *
 * @since 0.1.0
 * @category Models
 */
export interface RedisConnection {
  /** The `ioredis` client. */
  readonly client: IORedis
  /** Prefix of every key the stores write (isolates applications sharing a Redis). */
  readonly prefix: string
  /** The command timeout in effect. */
  readonly commandTimeout: Duration.Duration
  /**
   * True while the client is connected and ready for commands. With
   * `connect: "background"`, false until Redis first answers, and again
   * while it reconnects; commands fail at once meanwhile.
   */
  readonly isReady: () => boolean
  /** How the connection was made (see {@link Options.connect}). */
  readonly connectMode: "eager" | "background"
  /**
   * The data format another replica sharing this prefix writes, when it
   * differs from this one's ({@link FORMAT_VERSION}); `undefined` while none
   * does. While set, every command fails at once with a `RedisError` naming
   * both formats, so each store acts in its `onStoreError` mode instead of
   * silently misreading the other replicas' data (see {@link Options.formatCheckInterval}).
   */
  readonly formatMismatch: () => string | undefined
  /**
   * Runs a command through the client, failing with {@link RedisError};
   * bounded by the command timeout (enforced here too, so a paused server
   * cannot hang a caller). `signal` is aborted when the caller gives up
   * (timeout or interruption): a function chaining several commands checks
   * it before sending the next one.
   */
  readonly use: <A>(
    operation: string,
    f: (client: IORedis, signal: AbortSignal) => Promise<A>
  ) => Effect.Effect<A, RedisError>
  /**
   * Runs a Lua script atomically (EVALSHA, falling back to EVAL when the
   * server does not have it cached, e.g. after a restart).
   */
  readonly eval: (
    script: Script,
    keys: ReadonlyArray<string>,
    args: ReadonlyArray<string | number>
  ) => Effect.Effect<unknown, RedisError>
}

/**
 * A Lua script with its SHA1, loaded on demand.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Script {
  readonly name: string
  readonly source: string
}

/**
 * Options of the connection.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** `redis://[user:password@]host:port[/db]`. Defaults to `redis://127.0.0.1:6379`. */
  readonly url?: string | undefined
  /** Extra `ioredis` options (they win over the ones derived here). */
  readonly redis?: RedisOptions | undefined
  /** Prefix of every key. Defaults to `"effect-resilience:"`. */
  readonly prefix?: string | undefined
  /** Connect timeout, finite and at most 2^31 − 1 ms (ioredis arms a Node timer with it). Defaults to 2 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Timeout of every command, finite and at most 2^31 − 1 ms (as `connectTimeout`). Defaults to 500 millis. */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /**
   * When the connection is made:
   * - `"eager"` (the default): at start; a Redis that does not answer within
   *   `connectTimeout` fails with a `RedisError` (the layer fails, the
   *   replica does not start);
   * - `"background"`: the start never waits for Redis nor fails because of
   *   it; the client connects (and reconnects) in the background, commands
   *   fail at once with a `RedisError` until it is ready, and each store acts
   *   in its `onStoreError` mode. For deployments whose stores fail open (and
   *   that accept failing closed for the others until Redis answers).
   */
  readonly connect?: "eager" | "background" | undefined
  /**
   * How often the connection announces its data format
   * ({@link FORMAT_VERSION}) and checks the formats announced by the other
   * replicas sharing the prefix (a hash `<prefix>format`, entries kept on
   * Redis time for three intervals). Defaults to 10 seconds. Also checked
   * once at start (with `connect: "eager"`) and whenever the client becomes
   * ready.
   */
  readonly formatCheckInterval?: Duration.DurationInput | undefined
}

/**
 * The layout of the data the stores keep in Redis (keys, scripts, encodings,
 * time source). A release that changes it bumps this number. Replicas
 * sharing a prefix announce their format; a replica that meets another one
 * fails every command loudly (a `RedisError`, an error log, the
 * `resilience_redis_format_mismatch` gauge) so that each store acts in its
 * documented `onStoreError` mode instead of diverging in silence — during a
 * rolling deploy across a format change, deploy under a new `prefix` (see
 * docs/Redis.md, "Upgrading").
 *
 * @since 0.1.0
 * @category Models
 */
export const FORMAT_VERSION: typeof internal.FORMAT_VERSION = internal.FORMAT_VERSION

/**
 * Makes a connection in a scope: connects (bounded by the connect timeout)
 * and quits when the scope closes.
 *
 * @example
 * ```ts
 * import { Redis } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const redis = yield* Redis.make({ url: "redis://127.0.0.1:6379" })
 *   return yield* redis.use("PING", (client) => client.ping())
 * }))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<RedisConnection, InvalidOptionsError | RedisError, Scope.Scope> = internal.make

/**
 * Provides the {@link Redis} service. With `connect: "background"` the layer
 * never fails because Redis is down (see {@link Options.connect}).
 *
 * @example
 * ```ts
 * import { Redis } from "effect-resilience/redis"
 *
 * const RedisLive = Redis.layer({ url: "redis://127.0.0.1:6379", prefix: "payments:" })
 * // a replica whose stores fail open starts even while Redis is down, and joins it when it answers
 * const RedisLazy = Redis.layer({ url: "redis://127.0.0.1:6379", connect: "background" })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: (options?: Options) => Layer.Layer<internal.Redis, InvalidOptionsError | RedisError> = internal.layer

/**
 * The options of the connection that can come from configuration (the
 * environment): every option but `redis` (ioredis options are code, see
 * {@link CodeOptions}).
 *
 * @since 0.2.0
 * @category Models
 */
export type ConfigOptions = Omit<Options, "redis">

/**
 * The options of the connection that are code, given beside the
 * {@link ConfigOptions} to {@link fromConfig} and {@link layerConfig}: extra
 * `ioredis` options.
 *
 * @since 0.2.0
 * @category Models
 */
export type CodeOptions = Pick<Options, "redis">

/**
 * The `Config` of the connection's data options ({@link ConfigOptions}),
 * each under its own name (`url`, `prefix`, `connectTimeout`,
 * `commandTimeout`, `connect`, `formatCheckInterval`; the table in
 * docs/Options.md#redis), all optional. Nest it to give it a prefix; with
 * `ConfigProvider.constantCase`, `Config.nested(Redis.config, "cache")`
 * reads `CACHE_URL`, `CACHE_PREFIX`, `CACHE_COMMAND_TIMEOUT`, … from the
 * environment.
 *
 * @example
 * ```ts
 * import { Redis } from "effect-resilience/redis"
 * import { Config } from "effect"
 *
 * const CacheRedis = Redis.layerConfig(Config.nested(Redis.config, "cache"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<ConfigOptions> = internal.config

/**
 * Makes a connection in a scope with its options read from `Config`: by
 * default (no argument) `REDIS_URL` (required), `REDIS_PREFIX`,
 * `REDIS_CONNECT_TIMEOUT`, `REDIS_COMMAND_TIMEOUT`, `REDIS_CONNECT` (`eager`
 * or `background`) and `REDIS_FORMAT_CHECK_INTERVAL`; else {@link config},
 * a `Config` of the options or a record of `Config`s (which may give
 * `redis`, ioredis options, too). `code` adds ioredis options. Missing or
 * malformed values fail with a `ConfigError`; out-of-range ones with
 * `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { Redis } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const redis = yield* Redis.fromConfig() // REDIS_URL=redis://127.0.0.1:6379
 *   return yield* redis.use("PING", (client) => client.ping())
 * }))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config?: Config.Config.Wrap<Options>,
  code?: CodeOptions
) => Effect.Effect<RedisConnection, InvalidOptionsError | RedisError | ConfigError.ConfigError, Scope.Scope> =
  internal.fromConfig

/**
 * Provides the {@link Redis} service from `Config`: by default (no
 * argument) `REDIS_URL` (required), `REDIS_PREFIX`,
 * `REDIS_CONNECT_TIMEOUT`, `REDIS_COMMAND_TIMEOUT`, `REDIS_CONNECT` (`eager`
 * or `background`) and `REDIS_FORMAT_CHECK_INTERVAL`; else {@link config},
 * a `Config` of the options or a record of `Config`s. `code` adds ioredis
 * options.
 *
 * @example
 * ```ts
 * import { Redis } from "effect-resilience/redis"
 * import { Config } from "effect"
 *
 * const RedisLive = Redis.layerConfig() // REDIS_URL=redis://127.0.0.1:6379
 * // or under your own names, with ioredis options in code
 * const Custom = Redis.layerConfig({ url: Config.string("CACHE_URL") }, { redis: { tls: {} } })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig: (
  config?: Config.Config.Wrap<Options>,
  code?: CodeOptions
) => Layer.Layer<internal.Redis, InvalidOptionsError | RedisError | ConfigError.ConfigError> = internal.layerConfig
