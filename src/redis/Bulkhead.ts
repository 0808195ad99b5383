/**
 * A distributed bulkhead: at most `maxConcurrent` calls run at once across
 * every replica that makes a bulkhead with the same `name` (per `key`), with
 * the same callable shape as the local `Bulkhead` (`BulkheadFullError`
 * rejections, `execute(self, { key })`, `stats`).
 *
 * - **Leases.** A running call holds a lease: a member of a Redis sorted set
 *   scored by its expiry. One Lua script drops the expired leases and admits
 *   the call if fewer than `maxConcurrent` remain; a fiber in the call's
 *   scope renews the lease every `leaseTtl / 3` while the call runs; the
 *   lease is released when the call ends — success, failure, defect or
 *   interruption. A replica that dies holding leases stops renewing them, and
 *   they expire after `leaseTtl`.
 * - **Local queue.** Calls that find no global permit wait in a FIFO queue
 *   per key on their replica (`maxQueue` callers at most, `maxWait` at
 *   most); only the head of that queue polls Redis, with a growing backoff
 *   (capped by `pollInterval`, never past the expiry of the oldest lease),
 *   and is woken at once when a call of its own replica releases. Waiting
 *   callers never poll Redis in a herd. A replica never runs more than
 *   `localMaxConcurrent` calls at once (default `maxConcurrent`), whatever
 *   Redis says.
 * - **Time.** Lease expiries are Redis `TIME` (the default), so replicas'
 *   clocks do not matter; `clock: "caller"` uses the caller's `Clock`
 *   instead (`TestClock` in tests).
 * - **When Redis fails** (unreachable, or a command outlasts `timeout`):
 *   with `onStoreError: "allow"` (the default) the call runs without a
 *   lease, still within the local limit (fail open: each replica enforces
 *   `localMaxConcurrent` on its own); with `"fail"` it is rejected with
 *   {@link BulkheadStoreError} (fail closed). A failed release or renewal is
 *   counted and the lease expires on its own. Every failure is counted in
 *   `totals().storeErrors` and `resilience_redis_store_errors`.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Local from "../Bulkhead.js"
import type { BulkheadFullError } from "../Errors.js"
import type { InvalidKeyError, InvalidOptionsError } from "../Errors.js"
import type { Policy } from "../Policy.js"

export {
  /**
   * A partition key the distributed bulkhead refused (see
   * `Errors.InvalidKeyError`): raised before a local permit or a lease is
   * taken, and before Redis is asked.
   *
   * @since 0.1.0
   * @category Errors
   */
  InvalidKeyError
} from "../Errors.js"
import * as internal from "./internal/bulkhead.js"
import { BulkheadStoreError } from "./internal/bulkhead.js"
import type { Redis } from "./Redis.js"

export {
  /**
   * Redis failed (or timed out) while a distributed bulkhead admitted a call,
   * and the bulkhead fails closed (`onStoreError: "fail"`): the call was not
   * run. A rejection.
   *
   * @since 0.1.0
   * @category Errors
   */
  BulkheadStoreError
}

/**
 * Options of {@link make}.
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "effect-resilience/redis"
 *
 * const options: Bulkhead.Options = {
 *   maxConcurrent: 20, // required: across all replicas
 *   maxQueue: 100, // default 0: no queue
 *   maxWait: "2 seconds", // default: no limit
 *   name: "payments", // default "bulkhead"
 *   leaseTtl: "10 seconds", // default
 *   pollInterval: "100 millis", // default
 *   onStoreError: "allow", // default
 *   clock: "redis" // default
 * }
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** Calls running at once across all replicas (per key), an integer >= 1. */
  readonly maxConcurrent: number
  /**
   * Callers that may wait for a permit on this replica (per key), an
   * integer >= 0 or `Infinity`. Defaults to 0: a call that finds no free
   * permit is rejected at once with reason `"QueueFull"`.
   */
  readonly maxQueue?: number | undefined
  /**
   * How long a queued caller waits before it is rejected with reason
   * `"MaxWaitExceeded"`. Defaults to no limit (an enclosing timeout still
   * interrupts the wait).
   */
  readonly maxWait?: Duration.DurationInput | undefined
  /**
   * Names the bulkhead in errors, metrics and events, and in its Redis keys:
   * replicas share permits through bulkheads of the same name (and key).
   * Defaults to `"bulkhead"`.
   */
  readonly name?: string | undefined
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
   * Calls this replica runs at once at most, whatever Redis says (it is the
   * only limit while Redis fails and `onStoreError` is `"allow"`). Defaults
   * to `maxConcurrent`.
   */
  readonly localMaxConcurrent?: number | undefined
  /**
   * When Redis fails or times out while admitting a call: `"allow"` (the
   * default) runs it without a lease (fail open, local limit only);
   * `"fail"` rejects it with {@link BulkheadStoreError} (fail closed).
   */
  readonly onStoreError?: "allow" | "fail" | undefined
  /** Where lease expiries are measured: Redis `TIME` (`"redis"`, the default) or the caller's `Clock`. */
  readonly clock?: "redis" | "caller" | undefined
  /** Bound on each Redis call, below the connection's command timeout. Defaults to the connection's. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Namespace of the keys after the connection's prefix. Defaults to `"bulkhead:"`. */
  readonly prefix?: string | undefined
  /**
   * The longest partition key accepted, in UTF-16 code units: an integer in
   * [1, 16,383]. Defaults to 1,024. Other keys (not strings, not well-formed
   * Unicode, longer) fail with `InvalidKeyError` before anything is taken.
   */
  readonly maxKeyLength?: number | undefined
  /**
   * How often the `resilience_bulkhead_active` and `_queued` gauges (this
   * replica's calls) are published. Defaults to 1 second; an infinite
   * duration turns them off.
   */
  readonly metricsInterval?: Duration.DurationInput | undefined
}

/**
 * Options of `execute`.
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "effect-resilience/redis"
 *
 * const perTenant: Bulkhead.ExecuteOptions = { key: "tenant-a" }
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type ExecuteOptions = Local.Bulkhead.ExecuteOptions

/**
 * This replica's view of a partition (the local bulkhead's `Stats`):
 * `active` counts its calls running (with a lease, or without one after a
 * store error), `queued` its callers waiting for a permit.
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "effect-resilience/redis"
 *
 * const busy = (s: Bulkhead.Stats) => s.active > 0 || s.queued > 0
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type Stats = Local.Bulkhead.Stats

/**
 * This replica's counters, across partitions.
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "effect-resilience/redis"
 *
 * const degraded = (t: Bulkhead.Totals) => t.allowedWithoutLease > 0 || t.leasesLost > 0
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Totals extends Local.Bulkhead.Totals {
  /** Failed or timed-out Redis calls (acquire, renew, release). */
  readonly storeErrors: number
  /** Calls run without a lease because Redis failed (`onStoreError: "allow"`). */
  readonly allowedWithoutLease: number
  /** Renewals that found the lease gone with no room to take it back (the call ran on). */
  readonly leasesLost: number
  /** Renewals that found the lease gone (expired, or Redis restarted) and took it back. */
  readonly leasesRecovered: number
}

/**
 * What a distributed bulkhead did: the local bulkhead's events
 * (`Permitted`, `Queued`, `Rejected`) plus `StoreError` and `LeaseLost`.
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "effect-resilience/redis"
 *
 * const describe = (e: Bulkhead.Event) => e._tag === "StoreError" ? `Redis failed during ${e.operation}` : e._tag
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type Event =
  | {
    readonly _tag: "Permitted"
    readonly policy: string
    readonly key: string | undefined
    /** How long the call waited (locally and for a global permit). */
    readonly waited: Duration.Duration
    /** False when the call runs without a lease (Redis failed, `onStoreError: "allow"`). */
    readonly leased: boolean
  }
  | { readonly _tag: "Queued"; readonly policy: string; readonly key: string | undefined; readonly queued: number }
  | Extract<Local.BulkheadEvent, { readonly _tag: "Rejected" }>
  | {
    readonly _tag: "StoreError"
    readonly policy: string
    readonly key: string | undefined
    readonly operation: "acquire" | "renew" | "release" | "held"
    readonly error: unknown
    /** True when the call went on (`"allow"`, or a renewal/release failure). */
    readonly allowed: boolean
  }
  | { readonly _tag: "LeaseLost"; readonly policy: string; readonly key: string | undefined }

/**
 * A distributed bulkhead: a policy that adds `BulkheadFullError` (and
 * {@link BulkheadStoreError} when it fails closed) to the error channel.
 *
 * @example
 * ```ts
 * import { Bulkhead, Redis } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead: Bulkhead.DistributedBulkhead = yield* Bulkhead.make({ maxConcurrent: 10, maxQueue: 50, name: "db" })
 *   const rows = yield* Effect.succeed([1, 2]).pipe(bulkhead) // Effect<number[], BulkheadFullError>
 *   return yield* bulkhead.held() // leases held across replicas right now
 * }).pipe(Effect.scoped, Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface DistributedBulkhead<E = never> extends Policy<BulkheadFullError | E> {
  readonly policyName: string
  readonly options: Options
  /**
   * Runs `self` in the partition of `key` (the default partition without one,
   * or with `key: undefined`). A key the bulkhead refuses fails with
   * `InvalidKeyError` before a local permit or a lease is taken.
   */
  readonly execute: {
    <A, E2, R>(self: Effect.Effect<A, E2, R>): Effect.Effect<A, E2 | BulkheadFullError | E, R>
    <A, E2, R>(
      self: Effect.Effect<A, E2, R>,
      options: ExecuteOptions | undefined
    ): Effect.Effect<A, E2 | BulkheadFullError | E | InvalidKeyError, R>
  }
  /** This replica's running and queued calls in a partition. */
  readonly stats: (key?: string | undefined) => Stats
  /** This replica's counters. */
  readonly totals: () => Totals
  /**
   * Leases held in Redis right now for a partition, by every replica (expired
   * ones excluded); the default partition without a key. A refused key fails
   * with `InvalidKeyError` before Redis is asked.
   */
  readonly held: {
    (): Effect.Effect<number, BulkheadStoreError>
    (key: string | undefined): Effect.Effect<number, BulkheadStoreError | InvalidKeyError>
  }
  /** What the bulkhead did, as a `Stream` (one bounded buffer per subscriber). */
  readonly events: Stream.Stream<Event>
}

/**
 * The errors a bulkhead made with options `O` adds: `BulkheadStoreError`
 * unless it surely fails open.
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "effect-resilience/redis"
 *
 * type Closed = Bulkhead.StoreErrorOf<{ maxConcurrent: 1; onStoreError: "fail" }> // BulkheadStoreError
 * type Open = Bulkhead.StoreErrorOf<{ maxConcurrent: 1 }> // never
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type StoreErrorOf<O> = "onStoreError" extends keyof O
  ? O[keyof O & "onStoreError"] extends "allow" | undefined ? never : BulkheadStoreError
  : never

/**
 * Makes a distributed bulkhead on the {@link Redis} connection, in the
 * current scope (its renewal fibers and gauges live there). Fails with
 * `InvalidOptionsError` for invalid options; does not touch Redis until a
 * call comes.
 *
 * Defaults: `maxQueue: 0`, no `maxWait`, `name: "bulkhead"`,
 * `leaseTtl: "10 seconds"`, `pollInterval: "100 millis"`,
 * `localMaxConcurrent: maxConcurrent`, `onStoreError: "allow"`,
 * `clock: "redis"`, `prefix: "bulkhead:"`.
 *
 * @example
 * ```ts
 * import { Bulkhead, Redis } from "effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   // 20 calls at once to the payment provider, across all replicas
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 20, maxQueue: 100, maxWait: "2 seconds", name: "payments", onStoreError: "fail" })
 *   return yield* bulkhead.execute(Effect.succeed("charged"), { key: "provider-a" }) // Effect<string, BulkheadFullError | BulkheadStoreError>
 * }).pipe(Effect.scoped, Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: <const O extends Options>(
  options: O
) => Effect.Effect<DistributedBulkhead<StoreErrorOf<O>>, InvalidOptionsError, Redis | Scope.Scope> = internal.make as any

/**
 * Provides a distributed bulkhead under your own `Context.Tag` (use it with
 * `Policy.fromTag`).
 *
 * @example
 * ```ts
 * import { Policy } from "effect-resilience"
 * import { Bulkhead, Redis } from "effect-resilience/redis"
 * import { Context, Effect, Layer } from "effect"
 *
 * class DbBulkhead extends Context.Tag("app/DbBulkhead")<DbBulkhead, Bulkhead.DistributedBulkhead>() {}
 * const live = Bulkhead.layer(DbBulkhead, { maxConcurrent: 50, maxQueue: 500, name: "db" }).pipe(
 *   Layer.provide(Redis.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 * const query = Effect.succeed([1, 2, 3]).pipe(Policy.fromTag(DbBulkhead))
 * const program = query.pipe(Effect.provide(live))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer = <I, const O extends Options>(
  tag: Context.Tag<I, DistributedBulkhead<StoreErrorOf<O>>>,
  options: O
): Layer.Layer<I, InvalidOptionsError, Redis> => Layer.scoped(tag, make(options))
