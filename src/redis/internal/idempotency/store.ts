/**
 * The Redis `IdempotencyStore` (see the public module for the semantics).
 *
 * Keys, after `<connection prefix><prefix>` (default `idem:`), for a store
 * key `k` (the policy's `<name.length>:<name>:<key>`, see `Keys.namespaced`):
 * - `r:k` — the kept `Exit`: `"<expiresAt>|<encoded Exit JSON>"`, `PX` ttl;
 * - `l:k` — the lock of the execution in flight: `"<expiresAt>|<lease id>"`,
 *   `PX` lockTtl, renewed every third of it by a fiber in the acquisition's
 *   scope;
 * - `h:k:<lease id>` — the `Exit` handed to the waiters of that execution
 *   (also when it is not kept), for a short while;
 * - `t:k` — the mark: the latest Redis `TIME` a script saw for `k`, to tell a
 *   step back of that wall clock (see `stepBack` in `../lua.ts`); kept as long
 *   as the later of `r:k` and `l:k`, deleted when neither is left.
 *
 * Expiries are also written in the values, so that with the caller's clock
 * (`TestClock`) a lock or result expires by that clock; the `PX` is then only
 * garbage collection (at least a minute of Redis time).
 *
 * One Lua script serves every operation (`script.ts`); every call goes
 * through `bounded` (the store's own timeout, in every region).
 *
 * Waiting callers of one replica share one poller per execution (a fiber in
 * the store's scope, polling with a growing backoff); an execution run by the
 * same replica hands its `Exit` to them directly.
 *
 * @internal
 */
import type * as Config from "effect/Config"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import { background } from "../../../internal/detached.js"
import type { InvalidOptionsError } from "../../../Errors.js"
import type * as I from "../../../Idempotency.js"
import { IdempotencyError } from "../../../internal/idempotency/errors.js"
import { IdempotencyStore } from "../../../internal/idempotency/memoryStore.js"
import * as metricKeys from "../../../internal/metricKeys.js"
import { sleep } from "../../../internal/time.js"
import * as validate from "../../../internal/validate.js"
import type * as PublicStore from "../../IdempotencyStore.js"
import type { RedisConnection } from "../../Redis.js"
import { Redis } from "../redis.js"
import { bounded } from "../bounded.js"
import { storeConfig } from "../storeConfig.js"
import * as Options from "./options.js"
import { script } from "./script.js"

/** The same symbol as `IdempotencyStore.TypeId` of `effect-resilience/redis` (`Symbol.for`). @internal */
export const TypeId: PublicStore.TypeId = Symbol.for(
  "effect-resilience/redis/IdempotencyStore"
) as PublicStore.TypeId

/** The first pause of a polling waiter, doubled up to `pollInterval`. */
const MIN_POLL_MILLIS = 5
/** How long a handed-off `Exit` stays readable at least. */
const MIN_HANDOFF_MILLIS = 5_000

const storeErrorsKey = MetricKey.counter("resilience_redis_store_errors", {
  description: "Failed or timed-out Redis operations of the effect-resilience/redis stores",
  incremental: true
})

// --- options ---------------------------------------------------------------------

/** @internal */
export type Resolved = Options.Resolved

/** @internal */
export const resolve = (options: PublicStore.Options | undefined): Resolved => Options.spec.resolve(options)

// --- the store -----------------------------------------------------------------------

type AnyExit = Exit.Exit<unknown, unknown>
type Codec = I.AcquireOptions["codec"]
type Operation = "acquire" | "peek" | "renew" | "complete" | "release" | "invalidate"

/** The waiters of one execution on this replica. */
interface Watch {
  readonly deferred: Deferred.Deferred<Option.Option<AnyExit>, IdempotencyError>
  /** Callers awaiting it. */
  refs: number
  /** The poller (none when this replica runs the execution). */
  poller: Fiber.RuntimeFiber<void> | undefined
}

/** The id of the watch of execution `lease` of `key`. */
const watchId = (key: string, lease: string): string => `${key}\u0000${lease}`

/**
 * The store. `acquire` and `invalidate` are bound at construction (they may
 * be passed around detached); the rest are methods.
 *
 * @internal
 */
export class RedisIdempotencyStoreImpl implements PublicStore.RedisIdempotencyStore {
  readonly [TypeId]: PublicStore.TypeId = TypeId
  readonly persistent = true
  /** `<connection prefix><prefix>`. */
  readonly base: string
  readonly lockTtlMillis: number
  readonly renewEvery: Duration.Duration
  readonly maxPollMillis: number
  readonly handoffMillis: number
  /** Identifies this replica's leases. */
  readonly replicaId = randomUUID()
  readonly allowOnError: boolean
  /**
   * One failure counter per operation (tags `store`, `prefix`, `operation` in its key), made at the
   * operation's first failure. Bounded: `Operation` has six members.
   */
  private readonly errorMetrics = new Map<Operation, Effect.Effect<void>>()
  /** Redis time (`-1`: the script reads `TIME`) or the caller's `Clock`. */
  readonly now: Effect.Effect<number>
  /** The executions this replica's callers wait for, by {@link watchId}. */
  readonly watches = new Map<string, Watch>()
  /** Redis failed while acquiring and the store fails open: the caller runs the effect unprotected. */
  readonly unprotected: I.Acquisition = { _tag: "Acquired", complete: () => Effect.void }
  leaseCounter = 0
  storeErrors = 0
  allowed = 0
  locksLost = 0

  constructor(
    readonly cfg: Resolved,
    readonly redis: RedisConnection,
    /** Where pollers and cleanups run. */
    readonly storeScope: Scope.Scope
  ) {
    this.base = `${redis.prefix}${cfg.prefix}`
    this.lockTtlMillis = Duration.toMillis(cfg.lockTtl)
    this.renewEvery = Duration.millis(Math.max(1, this.lockTtlMillis / 3))
    this.maxPollMillis = Duration.toMillis(cfg.pollInterval)
    this.handoffMillis = Math.max(MIN_HANDOFF_MILLIS, 10 * this.maxPollMillis)
    this.allowOnError = cfg.onStoreError === "allow"
    this.now = cfg.clock === "redis"
      ? Effect.succeed(-1)
      : Effect.clockWith((clock) => Effect.sync(() => clock.unsafeCurrentTimeMillis()))
  }

  readonly unsafeStats = (): PublicStore.RedisIdempotencyStore.Stats => ({
    storeErrors: this.storeErrors,
    allowedWithoutLock: this.allowed,
    locksLost: this.locksLost,
    waiting: this.watches.size
  })

  readonly stats = (): Effect.Effect<PublicStore.RedisIdempotencyStore.Stats> => Effect.sync(this.unsafeStats)

  /** Runs one operation of the script; failures are counted and become `IdempotencyError`s. */
  run(
    operation: Operation,
    key: string,
    lease: string,
    args: ReadonlyArray<string | number> = []
  ): Effect.Effect<unknown, IdempotencyError> {
    const base = this.base
    return Effect.flatMap(this.now, (t) =>
      bounded(
        `EVALSHA idempotency.${operation}`,
        this.cfg.timeout,
        this.redis.eval(script, [`${base}r:${key}`, `${base}l:${key}`, `${base}h:${key}:${lease}`, `${base}t:${key}`], [
          operation,
          t,
          lease,
          ...args
        ])
      )).pipe(
        Effect.catchAll((cause) => {
          this.storeErrors++
          return Effect.zipRight(
            this.errorMetric(operation),
            Effect.fail(new IdempotencyError({ key, reason: "StoreError", cause }))
          )
        })
      )
  }

  /** Counts a failure of `operation`. */
  private errorMetric(operation: Operation): Effect.Effect<void> {
    let metric = this.errorMetrics.get(operation)
    if (metric === undefined) {
      const tags: metricKeys.Tags = [["store", "idempotency"], ["prefix", this.cfg.prefix], ["operation", operation]]
      metric = Metric.increment(metricKeys.tagged(storeErrorsKey, tags))
      this.errorMetrics.set(operation, metric)
    }
    return metric
  }

  encode(key: string, codec: Codec, exit: AnyExit): Effect.Effect<string, IdempotencyError> {
    if (codec === undefined) {
      return Effect.fail(new IdempotencyError({ key, reason: "EncodeError", cause: new Error("no success/failure Schemas") }))
    }
    const maxValueBytes = this.cfg.maxValueBytes
    return Effect.flatMap(
      Effect.mapError(Schema.encode(codec)(exit), (cause) => new IdempotencyError({ key, reason: "EncodeError", cause })),
      (encoded) => {
        const payload = JSON.stringify(encoded)
        // bounded in bytes: a larger Exit is not stored (the completion fails, which the policy reports)
        const bytes = Buffer.byteLength(payload, "utf8")
        return bytes > maxValueBytes
          ? Effect.fail(
            new IdempotencyError({
              key,
              reason: "EncodeError",
              cause: new Error(`the encoded Exit takes ${bytes} bytes, more than maxValueBytes (${maxValueBytes})`)
            })
          )
          : Effect.succeed(payload)
      }
    )
  }

  decode(key: string, codec: Codec, payload: string): Effect.Effect<AnyExit, IdempotencyError> {
    return Effect.suspend(() => {
      if (codec === undefined) {
        return Effect.fail(new IdempotencyError({ key, reason: "DecodeError", cause: new Error("no success/failure Schemas") }))
      }
      let json: unknown
      try {
        json = JSON.parse(payload)
      } catch (cause) {
        return Effect.fail(new IdempotencyError({ key, reason: "DecodeError", cause }))
      }
      return Effect.mapError(
        Schema.decodeUnknown(codec)(json),
        (cause) => new IdempotencyError({ key, reason: "DecodeError", cause })
      )
    })
  }

  // --- waiting -------------------------------------------------------------------------

  settle(id: string, watch: Watch, result: Effect.Effect<Option.Option<AnyExit>, IdempotencyError>): void {
    if (this.watches.get(id) === watch) this.watches.delete(id)
    Deferred.unsafeDone(watch.deferred, result)
  }

  /** Polls the execution `lease` of `key` until it ends; settles the watch. */
  pollLoop(id: string, watch: Watch, key: string, lease: string, codec: Codec): Effect.Effect<void> {
    const loop = (backoff: number): Effect.Effect<void> =>
      Effect.matchEffect(this.run("peek", key, lease), {
        onFailure: (error) => {
          // "allow": stop waiting, the caller acquires again (and runs the effect if Redis still fails)
          this.settle(id, watch, this.allowOnError ? Effect.succeed(Option.none()) : Effect.fail(error))
          return Effect.void
        },
        onSuccess: (reply) => {
          const [tag, payload] = reply as [string, string | undefined]
          if (tag === "C") {
            return Effect.map(Effect.either(this.decode(key, codec, payload!)), (exit) => {
              this.settle(id, watch, exit._tag === "Right" ? Effect.succeed(Option.some(exit.right)) : Effect.fail(exit.left))
            })
          }
          if (tag === "N") {
            this.settle(id, watch, Effect.succeed(Option.none()))
            return Effect.void
          }
          return Effect.flatMap(Random.nextRange(0.5, 1), (jitter) =>
            Effect.zipRight(
              sleep(Duration.millis(Math.max(1, backoff * jitter))),
              loop(Math.min(this.maxPollMillis, backoff * 2))
            ))
        }
      })
    return loop(Math.min(MIN_POLL_MILLIS, this.maxPollMillis))
  }

  /** Awaits the execution `lease` of `key`: with the replica's other waiters, one poller for all. */
  awaitExecution(key: string, lease: string, codec: Codec): Effect.Effect<Option.Option<AnyExit>, IdempotencyError> {
    const watches = this.watches
    return Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        const id = watchId(key, lease)
        let watch = watches.get(id)
        const start = watch !== undefined ? Effect.void : Effect.suspend(() => {
          const created: Watch = {
            deferred: Deferred.unsafeMake(FiberId.none),
            refs: 0,
            poller: undefined
          }
          watch = created
          watches.set(id, created)
          return Effect.map(
            Effect.forkIn(background(this.pollLoop(id, created, key, lease, codec)), this.storeScope),
            (fiber) => {
              created.poller = fiber
            }
          )
        })
        return Effect.zipRight(
          start,
          Effect.suspend(() => {
            const w = watch!
            w.refs++
            return Effect.ensuring(
              restore(Deferred.await(w.deferred)),
              Effect.suspend(() => {
                w.refs--
                // the last waiter left: stop polling for nobody
                if (w.refs === 0 && w.poller !== undefined && watches.get(id) === w) {
                  watches.delete(id)
                  return Fiber.interruptFork(w.poller)
                }
                return Effect.void
              })
            )
          })
        )
      })
    )
  }

  // --- acquiring ---------------------------------------------------------------------------

  /** The key is this caller's: renew its lock while the scope lasts; complete or release it once. */
  acquired(key: string, lease: string, codec: Codec): Effect.Effect<I.Acquisition, never, Scope.Scope> {
    // local waiters of this execution are handed its Exit directly
    const id = watchId(key, lease)
    const watch: Watch = { deferred: Deferred.unsafeMake(FiberId.none), refs: 0, poller: undefined }
    this.watches.set(id, watch)
    let done = false
    const renew = Effect.matchEffect(this.run("renew", key, lease, [this.lockTtlMillis]), {
      onFailure: () => Effect.void, // counted; the next renewal tries again, the lock expires if they all fail
      onSuccess: (reply) => {
        if (reply === 0) this.locksLost++
        return Effect.void
      }
    })
    const complete = (exit: AnyExit, ttl: Duration.Duration | undefined): Effect.Effect<void, IdempotencyError> =>
      Effect.suspend(() => {
        if (done) return Effect.void
        done = true
        this.settle(id, watch, Effect.succeed(Option.some(exit)))
        return Effect.matchEffect(this.encode(key, codec, exit), {
          // nothing can be stored or handed off: free the lock at once (waiters elsewhere take over
          // now rather than after lockTtl); the failure is reported by the policy
          onFailure: (error) => Effect.zipRight(Effect.ignore(this.run("release", key, lease)), Effect.fail(error)),
          onSuccess: (payload) =>
            Effect.asVoid(
              this.run("complete", key, lease, [
                payload,
                ttl === undefined ? -1 : Duration.toMillis(ttl),
                this.handoffMillis
              ])
            )
        })
      })
    const release = Effect.suspend(() => {
      if (done) return Effect.void
      done = true
      this.settle(id, watch, Effect.succeed(Option.none()))
      // counted on failure; the lock then expires after lockTtl
      return Effect.ignore(this.run("release", key, lease))
    })
    const acquisition: I.Acquisition = { _tag: "Acquired", complete }
    return Effect.zipRight(
      // `Scope.addFinalizer`, not `Effect.addFinalizer`: the release reads no FiberRef, and carrying
      // the acquirer's over costs two FiberRefs diffs per key
      Effect.scopeWith((scope) => Scope.addFinalizer(scope, release)),
      // added after the release, so it stops first when the scope closes
      Effect.as(
        Effect.forkScoped(background(Effect.forever(Effect.zipRight(sleep(this.renewEvery), renew)))),
        acquisition
      )
    )
  }

  readonly acquire = (key: string, options: I.AcquireOptions): Effect.Effect<I.Acquisition, IdempotencyError, Scope.Scope> => {
    const lease = `${this.replicaId}:${++this.leaseCounter}`
    const codec = options.codec
    return Effect.uninterruptible(Effect.matchEffect(this.run("acquire", key, lease, [this.lockTtlMillis]), {
      onFailure: (error) => {
        // the script may still run later (sent before a timeout): release what it would take
        const cleanup = Effect.forkIn(background(Effect.ignore(this.run("release", key, lease))), this.storeScope)
        if (!this.allowOnError) return Effect.zipRight(cleanup, Effect.fail(error))
        this.allowed++
        return Effect.as(cleanup, this.unprotected)
      },
      onSuccess: (reply): Effect.Effect<I.Acquisition, IdempotencyError, Scope.Scope> => {
        const [tag, payload] = reply as [string, string | undefined]
        if (tag === "C") return Effect.map(this.decode(key, codec, payload!), (exit) => ({ _tag: "Completed", exit }))
        if (tag === "F") return Effect.succeed({ _tag: "InFlight", await: this.awaitExecution(key, payload!, codec) })
        return this.acquired(key, lease, codec)
      }
    }))
  }

  readonly invalidate = (key: string): Effect.Effect<void, IdempotencyError> =>
    Effect.asVoid(this.run("invalidate", key, "-"))
}

/** @internal */
export const make = (
  options?: PublicStore.Options
): Effect.Effect<PublicStore.RedisIdempotencyStore, InvalidOptionsError, Redis | Scope.Scope> =>
  Effect.flatMap(validate.validated(() => resolve(options)), (cfg) =>
    Effect.flatMap(Redis, (redis) => Effect.map(Effect.scope, (scope) => new RedisIdempotencyStoreImpl(cfg, redis, scope))))

/** @internal */
export const layer = (options?: PublicStore.Options): Layer.Layer<IdempotencyStore, InvalidOptionsError, Redis> =>
  Layer.scoped(IdempotencyStore, make(options))

const configured = storeConfig({ name: "IdempotencyStore", spec: Options.spec, envSpec: Options.envSpec, make, tag: IdempotencyStore })

/** @internal */
export const config: Config.Config<PublicStore.Options> = configured.config

/** @internal */
export const fromConfig = configured.fromConfig

/** @internal */
export const layerConfig = configured.layerConfig