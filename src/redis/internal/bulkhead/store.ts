/**
 * The Redis `BulkheadStore`: a bulkhead's permits as leases in Redis, shared
 * by every replica that makes a bulkhead with the same name (see the public
 * module for the semantics; the bulkhead's own code, `src/internal/bulkhead/`,
 * queues, polls, renews and releases).
 *
 * Per partition, one sorted set `<connection prefix><prefix><name.length>:<name>[:<key>]`
 * (see `Keys.namespaced`: no two (name, key) pairs, keyed or not, share a
 * set): members are lease ids (`<store id>:<n>`), scores their expiry; it
 * expires (PEXPIRE) with its last lease. Next to it, the partition's mark
 * `<connection prefix><prefix>t:<name.length>:<name>[:<key>]` (the latest Redis
 * `TIME` its scripts saw, to tell a step back of that wall clock: see
 * `stepBack` in `../lua.ts`; `t:` never begins a set's key, which begins with
 * a digit), kept as long as the set's last lease. Keys reach the store validated (a
 * well-formed string of at most `maxKeyLength` code units): a Redis key takes
 * at most the prefixes + the name + 3 × `maxKeyLength` bytes.
 *
 * Every Redis call goes through `bounded` (the store's own timeout, in every
 * region) and counts its failures in `resilience_redis_store_errors`.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import { background } from "../../../internal/detached.js"
import type * as Bulkhead from "../../../Bulkhead.js"
import type { InvalidOptionsError } from "../../../Errors.js"
import { BulkheadStore } from "../../../internal/bulkhead/store.js"
import * as Keys from "../../../internal/keys.js"
import * as metricKeys from "../../../internal/metricKeys.js"
import * as validate from "../../../internal/validate.js"
import type * as PublicStore from "../../BulkheadStore.js"
import type { RedisConnection, RedisError, Script } from "../../Redis.js"
import { Redis } from "../redis.js"
import { bounded } from "../bounded.js"
import { storeConfig } from "../storeConfig.js"
import * as Options from "./options.js"
import { acquireScript, heldScript, renewScript } from "./scripts.js"

type Store = Bulkhead.BulkheadStore
type Leases = Bulkhead.BulkheadStore.Leases
type PartitionLeases = Bulkhead.BulkheadStore.PartitionLeases
type Operation = "acquire" | "renew" | "release" | "held"
/** A partition's Redis keys: its leases' sorted set, and its mark. */
interface Partition {
  readonly set: string
  readonly mark: string
}

const storeErrorsKey = MetricKey.counter("resilience_redis_store_errors", {
  description: "Failed or timed-out Redis operations of the effect-resilience/redis stores",
  incremental: true
})

/** @internal */
export type Resolved = Options.Resolved

/** @internal */
export const resolve = (options: PublicStore.Options | undefined): Resolved => Options.spec.resolve(options)

/** The leases of the bulkheads named `name`, seen from one bulkhead (its clock, its scope). */
class NameLeases implements Leases {
  readonly localMaxConcurrent: number | undefined
  readonly pollInterval: Duration.Duration
  readonly renewInterval: Duration.Duration
  readonly options: Readonly<Record<string, unknown>>
  readonly ttlMillis: number
  readonly pollMillis: number
  readonly keyBase: string
  readonly failed: Readonly<Record<Operation, Effect.Effect<void>>>

  constructor(
    readonly store: RedisStore,
    readonly name: string,
    readonly clock: Clock.Clock,
    /** The bulkhead's scope: releases sent after a failed acquire run there. */
    readonly scope: Scope.Scope
  ) {
    const cfg = store.cfg
    this.localMaxConcurrent = cfg.localMaxConcurrent
    this.pollInterval = cfg.pollInterval
    this.ttlMillis = Duration.toMillis(cfg.leaseTtl)
    this.renewInterval = Duration.millis(Math.max(1, this.ttlMillis / 3))
    this.pollMillis = Duration.toMillis(cfg.pollInterval)
    this.options = { leaseTtl: Duration.format(cfg.leaseTtl) }
    this.keyBase = `${store.redis.prefix}${cfg.prefix}`
    const failed = (operation: Operation) =>
      Metric.increment(metricKeys.tagged(storeErrorsKey, [["store", "bulkhead"], ["policy", name], ["operation", operation]]))
    this.failed = { acquire: failed("acquire"), renew: failed("renew"), release: failed("release"), held: failed("held") }
  }

  /** `now` for a script: the caller's clock, or -1 for Redis `TIME`. */
  nowArg(): number {
    return this.store.cfg.clock === "redis" ? -1 : this.clock.unsafeCurrentTimeMillis()
  }

  /** A script call, bounded by the store's timeout; a failure is counted. */
  call<A>(operation: Operation, script: Script, keys: Partition, args: () => ReadonlyArray<string | number>): Effect.Effect<A, RedisError> {
    const redis = this.store.redis
    return Effect.tapError(
      bounded(`EVALSHA ${script.name}`, this.store.cfg.timeout, Effect.suspend(() => redis.eval(script, [keys.set, keys.mark], args()))),
      () => this.failed[operation]
    ) as Effect.Effect<A, RedisError>
  }

  /**
   * A plain `ZREM` (atomic on its own; an empty set expires with its last lease): unlike a
   * script, it never depends on Redis's script cache, so a release sent while Redis is
   * paused still runs when it resumes, in order after the commands sent before it.
   */
  release(redisKey: string, lease: string): Effect.Effect<void, RedisError> {
    return Effect.tapError(
      Effect.asVoid(bounded("ZREM", this.store.cfg.timeout, this.store.redis.use("ZREM", (c) => c.zrem(redisKey, lease)))),
      () => this.failed.release
    )
  }

  /**
   * One acquire attempt, uninterruptible (bounded by the timeout) so its outcome is never
   * lost. When it fails — typically a timeout while Redis is paused — the script may still
   * run later (it was sent): a release of the same lease is sent after it, in the
   * background, so that no lease is left behind for a caller that never got it.
   */
  acquire(keys: Partition, maxConcurrent: number): Effect.Effect<Bulkhead.BulkheadStore.Acquisition, RedisError> {
    return Effect.suspend(() => {
      const lease = this.store.newLease()
      return Effect.uninterruptible(Effect.matchEffect(
        this.call<[number, number, string | undefined]>("acquire", acquireScript, keys, () => [this.nowArg(), maxConcurrent, lease, this.ttlMillis]),
        {
          onFailure: (error) =>
            Effect.zipRight(
              // the lease expires on its own if this release fails too
              Effect.forkIn(background(Effect.ignore(this.release(keys.set, lease))), this.scope),
              Effect.fail(error)
            ),
          onSuccess: ([ok, , retryIn]): Effect.Effect<Bulkhead.BulkheadStore.Acquisition> =>
            Effect.succeed(
              ok === 1
                ? { _tag: "Acquired", lease }
                : { _tag: "Full", retryAfter: retryIn === undefined ? this.pollMillis : Number(retryIn) }
            )
        }
      ))
    })
  }

  renew(keys: Partition, lease: string, maxConcurrent: number): Effect.Effect<Bulkhead.BulkheadStore.Renewal, RedisError> {
    return Effect.map(
      this.call<number>("renew", renewScript, keys, () => [this.nowArg(), maxConcurrent, lease, this.ttlMillis]),
      (reply) => reply === 1 ? "Renewed" : reply === 2 ? "Recovered" : "Lost"
    )
  }

  held(keys: Partition): Effect.Effect<number, RedisError> {
    return Effect.map(this.call<unknown>("held", heldScript, keys, () => [this.nowArg()]), Number)
  }

  partition(key: string | undefined): PartitionLeases {
    const namespaced = Keys.namespaced(this.name, key)
    const keys: Partition = { set: `${this.keyBase}${namespaced}`, mark: `${this.keyBase}t:${namespaced}` }
    return {
      acquire: (maxConcurrent) => this.acquire(keys, maxConcurrent),
      renew: (lease, maxConcurrent) => this.renew(keys, lease, maxConcurrent),
      release: (lease) => this.release(keys.set, lease),
      held: Effect.suspend(() => this.held(keys))
    }
  }
}

/** The store: its options and connection, and the lease ids it hands out. */
class RedisStore implements Store {
  readonly kind = "redis"
  /** Unique per store: lease ids never collide across replicas. */
  readonly id = randomUUID()
  leaseCounter = 0

  constructor(readonly cfg: Resolved, readonly redis: RedisConnection) {}

  newLease(): string {
    return `${this.id}:${++this.leaseCounter}`
  }

  readonly leases = (name: string): Effect.Effect<Leases, never, Scope.Scope> =>
    Effect.flatMap(Effect.clock, (clock) => Effect.map(Effect.scope, (scope) => new NameLeases(this, name, clock, scope)))
}

/** @internal */
export const make = (options?: PublicStore.Options): Effect.Effect<Store, InvalidOptionsError, Redis> =>
  Effect.flatMap(validate.validated(() => resolve(options)), (cfg) => Effect.map(Redis, (redis) => new RedisStore(cfg, redis)))

/** @internal */
export const layer = (options?: PublicStore.Options): Layer.Layer<Store, InvalidOptionsError, Redis> =>
  Layer.effect(BulkheadStore, make(options))

const configured = storeConfig({ name: "BulkheadStore", spec: Options.spec, envSpec: Options.envSpec, make, tag: BulkheadStore })

/** @internal */
export const config: Config.Config<PublicStore.Options> = configured.config

/** @internal */
export const fromConfig = configured.fromConfig

/** @internal */
export const layerConfig = configured.layerConfig