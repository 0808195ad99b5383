/**
 * The Redis connection (see `Redis.ts`): the `RedisError`, the service tag,
 * and `make`: the ioredis client with its timeouts, the command runner
 * (`use`, `eval`) and the data-format check.
 *
 * @internal
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { Redis as IORedis, type RedisOptions } from "ioredis"
import { background } from "../../internal/detached.js"
import type { InvalidOptionsError } from "../../Errors.js"
import { ResilienceErrorTypeId } from "../../internal/errors.js"
import * as metricKeys from "../../internal/metricKeys.js"
import { liveClock, sleep } from "../../internal/time.js"
import { makeFastTimeout } from "../../internal/timeout/fastPath.js"
import * as Spec from "../../internal/spec.js"
import * as validate from "../../internal/validate.js"
import { DEFAULT_KEY_PREFIX } from "./constants.js"
import { timePrelude } from "./lua.js"
import type { CodeOptions, ConfigOptions, Options, RedisConnection, Script } from "../Redis.js"

/** @internal */
export class RedisError extends Data.TaggedError("RedisError")<{
  /** What was being done, e.g. `"EVALSHA breaker.admit"`. */
  readonly operation: string
  readonly cause: unknown
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `Redis ${this.operation} failed: ${reason}`
  }
}

/** @internal */
export class Redis extends Context.Tag("effect-resilience/redis/Redis")<Redis, RedisConnection>() {}

/** @internal */
export const FORMAT_VERSION = 1

/**
 * Announces this replica's format and returns the other live formats (Redis TIME; expired entries
 * dropped). KEYS[1] is the format hash (field: a format, value: the instant its announcement ends),
 * KEYS[2] the hash's high-water mark (lua.ts `stepBack`/`mark`, as the stores keep theirs): the latest
 * `now` a check recorded. A `now` behind it is a step back of the Redis host's wall clock by the difference; every other format's announcement then
 * moves back by as much (what remained of it remains), so a replica gone before the step is not
 * taken for live, and commands refused, for the length of the step. Replicas without the mark
 * (older releases of this format) ignore KEYS[2]; the hash keeps the layout they read.
 */
const FORMAT_SCRIPT = timePrelude(3) + `
local ttl = tonumber(ARGV[2])
local back = stepBack(KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], num(now + ttl))
redis.call('PEXPIRE', KEYS[1], ttl)
mark(KEYS[2], now + ttl)
local all = redis.call('HGETALL', KEYS[1])
local others = {}
for i = 1, #all, 2 do
  if all[i] ~= ARGV[1] then
    local ends = tonumber(all[i + 1])
    if ends == nil or ends - back <= now then
      redis.call('HDEL', KEYS[1], all[i])
    else
      if back > 0 then redis.call('HSET', KEYS[1], all[i], num(ends - back)) end
      table.insert(others, all[i])
    end
  end
end
return others
`

/**
 * Runs {@link FORMAT_SCRIPT}: announces `version` under `prefix` for `ttlMillis` of Redis time and
 * returns the other live formats. @internal
 */
export const announceFormat = (
  client: IORedis,
  prefix: string,
  version: string,
  ttlMillis: number
): Promise<Array<string>> =>
  // ARGV[3] -1: Redis TIME (timePrelude)
  client.eval(FORMAT_SCRIPT, 2, `${prefix}format`, `${prefix}format:t`, version, ttlMillis, -1) as Promise<Array<string>>

/**
 * What `CONFIG GET maxmemory*` (name, value pairs) says about eviction: a warning when Redis evicts
 * keys under memory pressure (a `maxmemory` set and a policy other than `noeviction`), else
 * `undefined` (no limit, `noeviction`, or not told). Every policy but `noeviction` can evict what
 * the stores keep: `volatile-*` the keys with a TTL (idempotency records, leases, limits, closed
 * circuits), `allkeys-*` any (open circuits and modes too). @internal
 */
export const evictionWarning = (config: ReadonlyArray<unknown>, prefix: string): string | undefined => {
  let maxmemory: string | undefined
  let policy: string | undefined
  for (let i = 0; i + 1 < config.length; i += 2) {
    if (config[i] === "maxmemory") maxmemory = String(config[i + 1])
    else if (config[i] === "maxmemory-policy") policy = String(config[i + 1])
  }
  if (policy === undefined || policy === "noeviction" || maxmemory === undefined || !(Number(maxmemory) > 0)) {
    return undefined
  }
  return `Redis evicts keys under memory pressure (maxmemory ${maxmemory} bytes, maxmemory-policy ${policy}): ` +
    `what the stores under prefix ${JSON.stringify(prefix)} keep may be forgotten — idempotency records (their keys ` +
    `run again within their ttl), bulkhead leases and rate limits (over-admission), ` +
    (policy.startsWith("allkeys") ? "circuits (open ones included) and breaker modes" : "closed circuits") +
    `, stale values. Run this Redis with maxmemory-policy noeviction: a full Redis then refuses writes, and each ` +
    `store acts in its onStoreError mode.`
}

const formatMismatchKey = MetricKey.gauge("resilience_redis_format_mismatch", {
  description: "1 while another replica sharing the key prefix writes a different Redis data format (every command then fails)"
})

/** Node's timer cap: ioredis arms its connect and command timers with `setTimeout`, which fires at once past it. */
const MAX_TIMER_MILLIS = 2_147_483_647

const TIMER = `a finite duration > 0 and <= ${MAX_TIMER_MILLIS} millis (Node's timer cap)`

/** A duration ioredis (or the connection) arms a Node timer with: finite, > 0, at most {@link MAX_TIMER_MILLIS}. */
const timerField = (): Spec.Field<Duration.Duration | undefined> => {
  const f = Spec.duration()
  const parse = f.props.parse
  return new Spec.Field<Duration.Duration | undefined>({
    ...f.props,
    expected: TIMER,
    parse: (m, o, v) => {
      const d = parse(m, o, v)
      if (d !== undefined && Duration.toMillis(d) > MAX_TIMER_MILLIS) throw validate.invalid(m, o, v, TIMER)
      return d
    }
  })
}

/** @internal */
export const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(2)
/** @internal */
export const DEFAULT_COMMAND_TIMEOUT = Duration.millis(500)
/** @internal */
export const DEFAULT_FORMAT_CHECK_INTERVAL = Duration.seconds(10)
/** @internal */
export const DEFAULT_CONNECT = "eager" as const

/** ioredis options: an object (what `validate.options` accepts). */
const isRedisOptions = (u: unknown): boolean =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !Duration.isDuration(u) && !Effect.isEffect(u)

/**
 * The options of `Redis.make`, described once: checks, defaults, `Config`
 * and the docs' table. `redis` (ioredis options) is code.
 *
 * @internal
 */
export const spec = Spec.struct<Options>()("Redis.make", {
  url: Spec.string().doc("redis://127.0.0.1:6379"),
  redis: Spec.code<RedisOptions>("an object", isRedisOptions),
  connect: Spec.literal("eager", "background").default(DEFAULT_CONNECT),
  connectTimeout: timerField().default(DEFAULT_CONNECT_TIMEOUT),
  commandTimeout: timerField().default(DEFAULT_COMMAND_TIMEOUT),
  prefix: Spec.string().default(DEFAULT_KEY_PREFIX),
  formatCheckInterval: timerField().default(DEFAULT_FORMAT_CHECK_INTERVAL)
}).readFrom("Redis.config")

/**
 * The options of `Redis.layerConfig()` under environment-style names:
 * `REDIS_URL`, `REDIS_PREFIX`, `REDIS_CONNECT_TIMEOUT`,
 * `REDIS_COMMAND_TIMEOUT`, `REDIS_CONNECT` and `REDIS_FORMAT_CHECK_INTERVAL`.
 * @internal
 */
export const envSpec = Spec.withEnvKeys(spec, "REDIS")

/** The default `Config` of `Redis.layerConfig()`: {@link envSpec}'s, with `REDIS_URL` required. @internal */
export const envConfig: Config.Config<Record<string, unknown>> = Config.map(
  Config.all([envSpec.config, Config.string("REDIS_URL")]),
  ([options, url]) => ({ ...options, REDIS_URL: url })
)

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec]

const sha1 = async (source: string): Promise<string> => {
  const { createHash } = await import("node:crypto")
  return createHash("sha1").update(source).digest("hex")
}

/** @internal */
export const make = (
  options: Options = {}
): Effect.Effect<RedisConnection, InvalidOptionsError | RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    const { commandTimeout, connect, connectTimeout, formatCheckInterval, prefix, redis, url } = yield* spec.resolveEffect(
      options
    )
    const commandMillis = Duration.toMillis(commandTimeout)
    const redisOptions: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: Duration.toMillis(connectTimeout),
      commandTimeout: commandMillis,
      // reconnect in the background with a capped backoff; commands fail fast meanwhile
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      ...redis
    }
    const client = yield* Effect.acquireRelease(
      Effect.sync(() =>
        url === undefined ? new IORedis(redisOptions) : new IORedis(url, redisOptions)
      ),
      (client) =>
        Effect.promise(() => client.quit().then(() => undefined, () => undefined)).pipe(
          Effect.timeout(commandTimeout),
          Effect.ignore,
          Effect.ensuring(Effect.sync(() => client.disconnect()))
        )
    )
    // errors are surfaced per command; an unhandled "error" event would crash the process
    client.on("error", () => {})
    if (connect === "eager") {
      yield* Effect.tryPromise({
        try: () => client.connect(),
        catch: (cause) => new RedisError({ operation: "CONNECT", cause })
      }).pipe(
        Effect.timeoutFail({
          duration: connectTimeout,
          onTimeout: () => new RedisError({ operation: "CONNECT", cause: new Error("connect timeout") })
        })
      )
    } else {
      // the first attempt now; after a failure ioredis reconnects on its own (retryStrategy)
      client.connect().catch(() => {})
    }
    // ioredis already fails each command after `commandTimeout`; this bound is the safety net for a
    // function that chains several commands, on the library's cheap timeout path (one fiber, a shared
    // timer) rather than Effect.timeoutFail (two fibers and a timer per command, ~0.6 ms here)
    const guard = makeFastTimeout()
    // another replica's data format, seen by the last check (see FORMAT_VERSION)
    let mismatch: string | undefined = undefined
    const mismatchError = (operation: string, other: string) =>
      new RedisError({
        operation,
        cause: new Error(
          `Redis data format mismatch under prefix ${JSON.stringify(prefix)}: this replica writes format ${FORMAT_VERSION}, ` +
            `another writes format ${other}; commands are refused (each store acts in its onStoreError mode)`
        )
      })
    const use = <A>(
      operation: string,
      f: (client: IORedis, signal: AbortSignal) => Promise<A>
    ): Effect.Effect<A, RedisError> =>
      Effect.suspend(() =>
        mismatch !== undefined ? Effect.fail(mismatchError(operation, mismatch)) : guard.run(
          Effect.tryPromise({ try: (signal) => f(client, signal), catch: (cause) => new RedisError({ operation, cause }) }),
          {
            budget: commandMillis,
            // a Promise inside: no enclosing deadline to propagate to it
            deadline: undefined,
            outer: undefined,
            error: () =>
              new RedisError({ operation, cause: new Error(`command timeout (${Duration.format(commandTimeout)})`) }),
            disconnect: false
          }
        )
      )
    const shas = new Map<string, string>()
    const evalScript = (script: Script, keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>) =>
      use(`EVALSHA ${script.name}`, async (client, signal) => {
        let sha = shas.get(script.source)
        if (sha === undefined) {
          sha = await sha1(script.source)
          shas.set(script.source, sha)
        }
        try {
          return await client.evalsha(sha, keys.length, ...keys, ...args)
        } catch (e) {
          // a caller that gave up (timeout, interruption) while EVALSHA was on its way sends no EVAL:
          // the script would run after the caller was told it failed
          if (e instanceof Error && e.message.startsWith("NOSCRIPT") && !signal.aborted) {
            return await client.eval(script.source, keys.length, ...keys, ...args)
          }
          throw e
        }
      })
    const intervalMillis = Duration.toMillis(formatCheckInterval)
    const formatMismatchGauge = metricKeys.tagged(formatMismatchKey, [["prefix", prefix]])
    const checkFormat: Effect.Effect<void> = Effect.tryPromise({
      try: () => announceFormat(client, prefix, String(FORMAT_VERSION), 3 * intervalMillis),
      catch: (cause) => cause
    }).pipe(
      Effect.timeout(commandTimeout),
      Effect.withClock(liveClock),
      Effect.flatMap((others) => {
        const other = others.length === 0 ? undefined : others.join(", ")
        if (other === mismatch) return Effect.void
        mismatch = other
        return Effect.zipRight(
          Metric.set(formatMismatchGauge, other === undefined ? 0 : 1),
          other === undefined
            ? Effect.logInfo(`Redis data format: no other format under prefix ${JSON.stringify(prefix)} any more`)
            : Effect.logError(mismatchError("format check", other).message)
        )
      }),
      // Redis unreachable: nothing learnt (commands fail on their own)
      Effect.ignore
    )
    // whether Redis may evict what the stores keep: warned once per connection (CONFIG may be
    // disabled, as on some managed services: then nothing is said)
    const checkEviction: Effect.Effect<void> = Effect.tryPromise({
      try: () => client.config("GET", "maxmemory*") as Promise<Array<unknown>>,
      catch: (cause) => cause
    }).pipe(
      Effect.timeout(commandTimeout),
      Effect.withClock(liveClock),
      Effect.flatMap((config) => {
        const warning = evictionWarning(config, prefix)
        return warning === undefined ? Effect.void : Effect.logWarning(warning)
      }),
      Effect.ignore
    )
    const onConnect = Effect.zipRight(checkFormat, checkEviction)
    // (re)connected: check at once, with the layer's runtime (its loggers)
    const runtime = yield* Effect.runtime<never>()
    // (an eager start connected above, before this listener: its first check is the one below)
    client.on("ready", () => {
      Runtime.runFork(runtime)(background(onConnect))
    })
    if (connect === "eager") yield* onConnect
    // on real time whatever the Clock (the entries expire on Redis TIME; a TestClock moved by hours
    // must not replay thousands of checks)
    yield* Effect.forkScoped(
      background(Effect.withClock(Effect.forever(Effect.zipRight(sleep(formatCheckInterval), checkFormat)), liveClock))
    )
    return {
      client,
      prefix,
      commandTimeout,
      isReady: () => client.status === "ready",
      connectMode: connect,
      formatMismatch: () => mismatch,
      use,
      eval: evalScript
    }
  })

/** @internal */
export const layer = (options: Options = {}): Layer.Layer<Redis, InvalidOptionsError | RedisError> =>
  Layer.scoped(Redis, make(options))

/** @internal */
export const config: Config.Config<ConfigOptions> = spec.config as Config.Config<any>

/** @internal */
export const fromConfig = (
  config?: Config.Config.Wrap<Options>,
  code?: CodeOptions,
  module = "Redis.fromConfig"
): Effect.Effect<RedisConnection, InvalidOptionsError | RedisError | ConfigError.ConfigError, Scope.Scope> =>
  Effect.flatMap(
    config === undefined
      ? Spec.readConfig<Options>(envSpec, module, envConfig, code)
      : Effect.flatMap(validate.fromConfig<Options>(module, config), (data) => {
        // ioredis options are code, but a Config may give them too (a record of Configs always could)
        const redis = typeof data === "object" && data !== null ? data.redis : undefined
        return Spec.readConfig<Options>(spec, module, Config.succeed(data), redis === undefined ? code : { redis, ...code })
      }),
    make
  )

/** @internal */
export const layerConfig = (
  config?: Config.Config.Wrap<Options>,
  code?: CodeOptions
): Layer.Layer<Redis, InvalidOptionsError | RedisError | ConfigError.ConfigError> =>
  Layer.scoped(Redis, fromConfig(config, code, "Redis.layerConfig"))
