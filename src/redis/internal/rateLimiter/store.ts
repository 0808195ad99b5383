/**
 * The Redis `RateLimiterStore`: `@effect/experimental`'s interface and the
 * library's atomic extension (`reserve`/`refund`), each one Lua script
 * (`scripts.ts`).
 *
 * The scripts are a line-by-line port of the memory store
 * (`src/internal/rateLimiter/memoryStore.ts`, `MemoryCore`), so both stores
 * give the same answers for the same calls at the same times (the tests
 * check this model-based). Every number crosses the Lua boundary as a string
 * formatted with `%.17g` (Lua numbers returned to Redis are truncated to
 * integers, and `tostring` keeps only 14 digits).
 *
 * - Time is Redis `TIME` (`now = -1`) or the caller's `Clock` (passed in).
 * - A token bucket is one hash (`t` tokens, `r` last refill, `c` latest
 *   charge); a fixed-window counter one hash (`n` count, `e` expiry, `f`
 *   start, `c` latest charge, `d` what it added). Each expires (`PEXPIRE`)
 *   when it becomes idle: a refilled bucket, an expired counter — forgetting
 *   it then changes nothing observable, so memory is bounded by the active
 *   keys. With the caller's clock the expiry is at least a minute of Redis
 *   time (that clock need not run at Redis's pace, e.g. `TestClock`).
 * - Charges are numbered by one counter key (`seq`, `INCR`), so a refund
 *   only gives back the latest charge of its key.
 * - A reserve that fails (the store's timeout: Redis paused, slow, far) may
 *   still run later — its command is already on the connection. Its caller
 *   was answered without a charge (rejected, or served unlimited), so the
 *   store cancels it: each reserve carries an id, and on failure a cancel
 *   naming that id follows it on the same connection (Redis runs a
 *   connection's commands in order): a late charge is given back as soon as
 *   it lands, unless another charge of the key came in between.
 * - Every script call goes through `bounded` (the store's own timeout, in
 *   every region).
 *
 * @internal
 */
import * as RateLimiterExperimental from "@effect/experimental/RateLimiter"
import type * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import { randomUUID } from "node:crypto"
import type { InvalidOptionsError } from "../../../Errors.js"
import { RateLimiterStore } from "../../../internal/rateLimiter/memoryStore.js"
import * as metricKeys from "../../../internal/metricKeys.js"
import { AtomicStoreTypeId } from "../../../internal/rateLimiter/store.js"
import * as validate from "../../../internal/validate.js"
import type * as RL from "../../../RateLimiter.js"
import type * as PublicStore from "../../RateLimiterStore.js"
import type { RedisConnection, Script } from "../../Redis.js"
import { Redis } from "../redis.js"
import { bounded } from "../bounded.js"
import { storeConfig } from "../storeConfig.js"
import * as Options from "./options.js"
import { fixedWindowScript, refundScript, reserveScript, tokenBucketScript } from "./scripts.js"

/** The same symbol as `RateLimiterStore.TypeId` of `effect-resilience/redis` (`Symbol.for`). @internal */
export const TypeId: PublicStore.TypeId = Symbol.for(
  "effect-resilience/redis/RateLimiterStore"
) as PublicStore.TypeId

const storeErrorsKey = MetricKey.counter("resilience_redis_store_errors", {
  description: "Failed or timed-out Redis operations of the effect-resilience/redis stores",
  incremental: true
})

/** @internal */
export type Resolved = Options.Resolved

/** @internal */
export const resolve = (options: PublicStore.Options | undefined): Resolved => Options.spec.resolve(options)

const toNumber = (u: unknown): number => typeof u === "number" ? u : Number(u)

const algorithmArg = (r: RL.ReserveRequest): "tb" | "fw" => r.algorithm === "token-bucket" ? "tb" : "fw"

/**
 * The store. Its service members are bound at construction (they may be
 * passed around detached).
 *
 * @internal
 */
export class RedisRateLimiterStoreImpl implements PublicStore.RedisRateLimiterStore {
  readonly [TypeId]: PublicStore.TypeId = TypeId
  readonly [AtomicStoreTypeId]: RL.AtomicStore[RL.AtomicStoreTypeId]
  readonly clock: "redis" | "caller"
  /** `<connection prefix><prefix>`. */
  readonly base: string
  readonly seqKey: string
  readonly storeErrorMetric: Effect.Effect<void>
  /** Redis time (`-1`: the script reads `TIME`) or the caller's `Clock`. */
  readonly now: Effect.Effect<number>
  storeErrors = 0
  /** Names this store's reservations (with `reservations`): unique across processes and stores. */
  readonly instance = randomUUID()
  reservations = 0

  constructor(readonly redis: RedisConnection, readonly cfg: Resolved) {
    this.clock = cfg.clock
    this.base = `${redis.prefix}${cfg.prefix}`
    this.seqKey = `${this.base}seq`
    this.storeErrorMetric = Metric.increment(
      metricKeys.tagged(storeErrorsKey, [["store", "rate-limiter"], ["prefix", cfg.prefix]])
    )
    this.now = cfg.clock === "redis"
      ? Effect.succeed(-1)
      : Effect.clockWith((clock) => Effect.sync(() => clock.unsafeCurrentTimeMillis()))
    this[AtomicStoreTypeId] = {
      reserve: (request) => this.reserve(request),
      refund: (request, reservation) => this.refund(request, reservation)
    }
  }

  bucketKey(key: string): string {
    return `${this.base}tb:${key}`
  }

  counterKey(key: string): string {
    return `${this.base}fw:${key}`
  }

  keyOf(r: RL.ReserveRequest): string {
    return r.algorithm === "token-bucket" ? this.bucketKey(r.key) : this.counterKey(r.key)
  }

  /** Runs a script, bounded by the store's timeout; failures are counted and become experimental's store error. */
  run(
    script: Script,
    keys: ReadonlyArray<string>,
    args: (now: number) => ReadonlyArray<string | number>
  ): Effect.Effect<unknown, RateLimiterExperimental.RateLimitStoreError> {
    return Effect.flatMap(
      this.now,
      (t) => bounded(`EVALSHA ${script.name}`, this.cfg.timeout, this.redis.eval(script, keys, args(t)))
    ).pipe(
      Effect.catchAll((cause) => {
        this.storeErrors++
        return Effect.zipRight(
          this.storeErrorMetric,
          Effect.fail(
            new RateLimiterExperimental.RateLimitStoreError({ message: `Redis rate limiter store: ${cause.message}`, cause })
          )
        )
      })
    )
  }

  readonly tokenBucket: RL.RateLimiterStore["tokenBucket"] = (options) =>
    Effect.map(
      this.run(tokenBucketScript, [this.bucketKey(options.key)], (t) => [
        t,
        options.tokens,
        options.limit,
        Duration.toMillis(options.refillRate),
        options.allowOverflow ? 1 : 0
      ]),
      toNumber
    )

  readonly fixedWindow: RL.RateLimiterStore["fixedWindow"] = (options) =>
    Effect.map(
      this.run(fixedWindowScript, [this.counterKey(options.key)], (t) => [
        t,
        options.tokens,
        Duration.toMillis(options.refillRate),
        options.limit ?? 0
      ]),
      (reply) => {
        const [count, ttl] = reply as ReadonlyArray<string>
        return [toNumber(count), toNumber(ttl)] as const
      }
    )

  reserve(r: RL.ReserveRequest): Effect.Effect<RL.Reservation, RateLimiterExperimental.RateLimiterError> {
    const id = `${this.instance}:${++this.reservations}`
    return Effect.map(
      Effect.tapError(
        this.run(reserveScript, [this.keyOf(r), this.seqKey], (t) => [
          t,
          algorithmArg(r),
          r.tokens,
          r.limit,
          r.windowMillis,
          Number.isFinite(r.maxDelayMillis) ? r.maxDelayMillis : -1,
          id
        ]),
        () => this.cancelLate(r, id)
      ),
      (reply): RL.Reservation => {
        const [ok, delay, retryAfter, remaining, generation, reset] = reply as ReadonlyArray<string>
        const resetMillis = Math.max(0, toNumber(reset))
        return ok === "1"
          ? {
            admitted: true,
            delayMillis: toNumber(delay),
            retryAfterMillis: 0,
            remaining: toNumber(remaining),
            generation: toNumber(generation),
            resetMillis
          }
          : {
            admitted: false,
            delayMillis: toNumber(delay),
            retryAfterMillis: Math.max(0, toNumber(retryAfter)),
            remaining: toNumber(remaining),
            resetMillis
          }
      }
    )
  }

  refund(
    r: RL.ReserveRequest,
    reservation: RL.Reservation
  ): Effect.Effect<void, RateLimiterExperimental.RateLimiterError> {
    if (!reservation.admitted || reservation.generation === undefined) return Effect.void
    const generation = String(reservation.generation)
    return Effect.asVoid(
      this.run(refundScript, [this.keyOf(r)], (t) => [t, algorithmArg(r), r.tokens, r.limit, r.windowMillis, generation, "c"])
    )
  }

  /**
   * The reserve `id` failed (its caller was answered without it): sends the cancel of its charge
   * at once, as EVAL with the script's source (an EVALSHA of a script Redis has not seen would need
   * a second round trip, which a stopped server never answers in time), on the same connection,
   * right behind the reserve; does not wait for it (if Redis never answers, neither runs). Not
   * sent while another format writes under the prefix (commands are refused then).
   */
  cancelLate(r: RL.ReserveRequest, id: string): Effect.Effect<void> {
    return Effect.flatMap(this.now, (t) =>
      Effect.sync(() => {
        if (this.redis.formatMismatch() !== undefined) return
        this.redis.client
          .eval(refundScript.source, 1, this.keyOf(r), t, algorithmArg(r), r.tokens, r.limit, r.windowMillis, id, "u")
          .catch(() => undefined)
      }))
  }
  readonly unsafeStats = (): PublicStore.RedisRateLimiterStore.Stats => ({ storeErrors: this.storeErrors })

  readonly stats = (): Effect.Effect<PublicStore.RedisRateLimiterStore.Stats> => Effect.sync(this.unsafeStats)
}

/** @internal */
export const makeWith = (redis: RedisConnection, cfg: Resolved): PublicStore.RedisRateLimiterStore =>
  new RedisRateLimiterStoreImpl(redis, cfg)

/** @internal */
export const make = (
  options?: PublicStore.Options
): Effect.Effect<PublicStore.RedisRateLimiterStore, InvalidOptionsError, Redis> =>
  Effect.flatMap(validate.validated(() => resolve(options)), (cfg) => Effect.map(Redis, (redis) => makeWith(redis, cfg)))

/** @internal */
export const layer = (
  options?: PublicStore.Options
): Layer.Layer<RL.RateLimiterStore, InvalidOptionsError, Redis> => Layer.effect(RateLimiterStore, make(options))

const configured = storeConfig({ name: "RateLimiterStore", spec: Options.spec, envSpec: Options.envSpec, make, tag: RateLimiterStore })

/** @internal */
export const config: Config.Config<PublicStore.Options> = configured.config

/** @internal */
export const fromConfig = configured.fromConfig

/** @internal */
export const layerConfig = configured.layerConfig