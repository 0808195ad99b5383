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
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { Redis as IORedis, type RedisOptions } from "ioredis"
import type { InvalidOptionsError } from "../../Errors.js"
import { ResilienceErrorTypeId } from "../../internal/errors.js"
import { liveClock, sleep } from "../../internal/time.js"
import { makeFastTimeout } from "../../internal/timeout/fastPath.js"
import * as validate from "../../internal/validate.js"
import { DEFAULT_KEY_PREFIX } from "./constants.js"
import type { Options, RedisConnection, Script } from "../Redis.js"

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

/** Announces this replica's format and returns the other live formats (Redis TIME; expired entries dropped). */
const FORMAT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
local all = redis.call('HGETALL', KEYS[1])
local others = {}
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[1] then
    table.insert(others, all[i])
  end
end
return others
`

const formatMismatchGauge = Metric.gauge("resilience_redis_format_mismatch", {
  description: "1 while another replica sharing the key prefix writes a different Redis data format (every command then fails)"
})

/** Node's timer cap: ioredis arms its connect and command timers with `setTimeout`, which fires at once past it. */
const MAX_TIMER_MILLIS = 2_147_483_647

const timerDuration = (m: string, option: string, value: unknown): Duration.Duration | undefined => {
  const d = validate.optionalDuration(m, option, value)
  if (d !== undefined && Duration.toMillis(d) > MAX_TIMER_MILLIS) {
    throw validate.invalid(m, option, value, `a finite duration > 0 and <= ${MAX_TIMER_MILLIS} millis (Node's timer cap)`)
  }
  return d
}

/** @internal */
export const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(2)
/** @internal */
export const DEFAULT_COMMAND_TIMEOUT = Duration.millis(500)
const DEFAULT_FORMAT_CHECK_INTERVAL = Duration.seconds(10)

const sha1 = async (source: string): Promise<string> => {
  const { createHash } = await import("node:crypto")
  return createHash("sha1").update(source).digest("hex")
}

/** @internal */
export const make = (
  options: Options = {}
): Effect.Effect<RedisConnection, InvalidOptionsError | RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    const m = "Redis.make"
    options = yield* validate.validated(() => validate.options(m, options))
    const { commandTimeout, connect, connectTimeout, formatCheckInterval, prefix } = yield* validate.validated(() => {
      if (options.url !== undefined) validate.nonEmptyString(m, "url", options.url)
      validate.optionalOptions(m, "redis", options.redis)
      return {
        connect: options.connect === undefined ? "eager" : validate.oneOf(m, "connect", options.connect, ["eager", "background"]),
        connectTimeout: timerDuration(m, "connectTimeout", options.connectTimeout) ?? DEFAULT_CONNECT_TIMEOUT,
        commandTimeout: timerDuration(m, "commandTimeout", options.commandTimeout) ?? DEFAULT_COMMAND_TIMEOUT,
        prefix: options.prefix === undefined ? DEFAULT_KEY_PREFIX : validate.nonEmptyString(m, "prefix", options.prefix),
        formatCheckInterval: timerDuration(m, "formatCheckInterval", options.formatCheckInterval) ?? DEFAULT_FORMAT_CHECK_INTERVAL
      }
    })
    const commandMillis = Duration.toMillis(commandTimeout)
    const redisOptions: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: Duration.toMillis(connectTimeout),
      commandTimeout: commandMillis,
      // reconnect in the background with a capped backoff; commands fail fast meanwhile
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      ...options.redis
    }
    const client = yield* Effect.acquireRelease(
      Effect.sync(() =>
        options.url === undefined ? new IORedis(redisOptions) : new IORedis(options.url, redisOptions)
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
    const checkFormat: Effect.Effect<void> = Effect.tryPromise({
      try: () => client.eval(FORMAT_SCRIPT, 1, `${prefix}format`, String(FORMAT_VERSION), 3 * intervalMillis) as Promise<Array<string>>,
      catch: (cause) => cause
    }).pipe(
      Effect.timeout(commandTimeout),
      Effect.withClock(liveClock),
      Effect.flatMap((others) => {
        const other = others.length === 0 ? undefined : others.join(", ")
        if (other === mismatch) return Effect.void
        mismatch = other
        return Effect.zipRight(
          Metric.set(Metric.tagged(formatMismatchGauge, "prefix", prefix), other === undefined ? 0 : 1),
          other === undefined
            ? Effect.logInfo(`Redis data format: no other format under prefix ${JSON.stringify(prefix)} any more`)
            : Effect.logError(mismatchError("format check", other).message)
        )
      }),
      // Redis unreachable: nothing learnt (commands fail on their own)
      Effect.ignore
    )
    // (re)connected: check at once, with the layer's runtime (its loggers)
    const runtime = yield* Effect.runtime<never>()
    // (an eager start connected above, before this listener: its first check is the one below)
    client.on("ready", () => {
      Runtime.runFork(runtime)(checkFormat)
    })
    if (connect === "eager") yield* checkFormat
    // on real time whatever the Clock (the entries expire on Redis TIME; a TestClock moved by hours
    // must not replay thousands of checks)
    yield* Effect.forkScoped(
      Effect.withClock(Effect.forever(Effect.zipRight(sleep(formatCheckInterval), checkFormat)), liveClock)
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
export const layerConfig = (
  config: Config.Config.Wrap<Options> = {
    url: Config.string("REDIS_URL"),
    prefix: Config.string("REDIS_PREFIX").pipe(Config.withDefault(DEFAULT_KEY_PREFIX)),
    connectTimeout: Config.duration("REDIS_CONNECT_TIMEOUT").pipe(Config.withDefault(DEFAULT_CONNECT_TIMEOUT)),
    commandTimeout: Config.duration("REDIS_COMMAND_TIMEOUT").pipe(Config.withDefault(DEFAULT_COMMAND_TIMEOUT)),
    connect: Config.literal("eager", "background")("REDIS_CONNECT").pipe(Config.withDefault("eager" as const))
  }
): Layer.Layer<Redis, InvalidOptionsError | RedisError | ConfigError.ConfigError> =>
  Layer.scoped(Redis, Effect.flatMap(validate.fromConfig("Redis.layerConfig", config), make))
