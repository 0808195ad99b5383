/**
 * Bulkheads: limit how many calls run at once, queue a bounded number of
 * callers in FIFO order, and shed the rest with {@link BulkheadFullError}.
 *
 * A bulkhead is a semaphore — a herd-free FIFO one: a release hands the permit
 * to exactly the caller at the head of the queue, in O(1), however many are
 * waiting (Effect 3.22's own `Semaphore` wakes every waiter on each release,
 * so thousands of queued callers take seconds and gigabytes).
 *
 * - Calls beyond `maxConcurrent` wait in a FIFO queue of at most `maxQueue`
 *   callers (default 0: no queue, as in Polly, resilience4j and cockatiel);
 *   beyond it they are rejected at once with reason `"QueueFull"`.
 * - A queued caller waits at most `maxWait`, then is rejected with reason
 *   `"MaxWaitExceeded"`.
 * - Inside a timeout (an overall `Timeout` or `Policy.pipeline`'s `timeout`) a
 *   queued caller never waits past the enclosing deadline: its wait is bounded
 *   by the earlier of `maxWait` and the deadline, and when the deadline comes
 *   first (or at the same instant) it leaves the queue and fails with the
 *   outer timeout's own `TimeoutError` — the real cause, never a
 *   `BulkheadFullError`. The bulkhead's own timer does it, so the bound holds
 *   inside `Effect.uninterruptible` too, where the timeout cannot interrupt
 *   the caller. A caller in a fork that outlived its timeout is bounded by its
 *   `maxWait` only.
 * - Permits are always released: on success, failure, defect and
 *   interruption; a caller interrupted while queued leaves the queue, one
 *   interrupted just after being handed a permit gives it back.
 * - `execute(self, { key })` partitions the bulkhead: one queue and one set of
 *   `maxConcurrent` permits per key (per host, per tenant). A partition exists
 *   only while it has running or queued calls: it is dropped as soon as it
 *   becomes idle, so memory is bounded by the calls in flight, whatever the
 *   number of keys (key strings: at most calls in flight × `maxKeyLength` ×
 *   2 bytes). A key must be a well-formed string of at most `maxKeyLength`
 *   UTF-16 code units (1,024 by default); any other key fails with
 *   `InvalidKeyError` before a permit is taken. A keyed partition is never
 *   the default one, whatever its key.
 * - The permits live behind the {@link BulkheadStore} service, a
 *   `Context.Reference` whose default keeps them in the process (the
 *   semaphore itself, taken and given back synchronously on the call path);
 *   the Redis store of `effect-resilience/redis` shares them with every
 *   replica that makes a bulkhead of the same name. Callers queue, and
 *   `stats`, `totals` and `events` are counted, in the process, whatever the
 *   store.
 * - `maxConcurrent` may be an adaptive limit (`AdaptiveLimit.aimd`, `vegas`,
 *   `gradient2`): each partition then finds its own limit from the latency
 *   and drops of its calls (measured from permit to release, the queue
 *   excluded), moved through the same path as {@link Bulkhead.resize}. The
 *   limit is observable in `stats` (`maxConcurrent`, `adaptive`), as
 *   `LimitChanged` events and as the `resilience_bulkhead_limit`,
 *   `resilience_bulkhead_latency_ms` and `resilience_bulkhead_drops`
 *   metrics; a rejection carries `retryAfter`, estimated from the latency.
 *   In-process permits only (a shared store refuses it).
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
import type * as Stream from "effect/Stream"
import type { AdaptiveLimit } from "./AdaptiveLimit.js"
import type { BulkheadFullError, BulkheadRejectionReason, InvalidKeyError, InvalidOptionsError } from "./Errors.js"
import * as internal from "./internal/bulkhead/bulkhead.js"
import { BulkheadStoreError } from "./internal/bulkhead/errors.js"
import * as store from "./internal/bulkhead/store.js"
import type { Policy } from "./Policy.js"

export {
  /**
   * @since 0.1.0
   * @category Errors
   */
  BulkheadFullError,
  /**
   * @since 0.1.0
   * @category Models
   */
  type BulkheadRejectionReason,
  /**
   * A partition key the bulkhead refused (see `Errors.InvalidKeyError`):
   * raised before any permit is taken.
   *
   * @since 0.1.0
   * @category Errors
   */
  InvalidKeyError
} from "./Errors.js"

export {
  /**
   * A shared store (Redis) failed, or timed out, while the bulkhead admitted
   * a call and the bulkhead fails closed (`onStoreError: "fail"`), or while
   * it read {@link Bulkhead.held}: the call was not run. A rejection
   * (`Errors.isRejection`): breakers never count it as a failure of the
   * dependency, and `Retry` does not retry it. The in-memory store never
   * fails.
   *
   * @example
   * ```ts
   * import { Bulkhead } from "effect-resilience"
   *
   * const e = Bulkhead.BulkheadStoreError.make({ name: "payments", operation: "acquire", store: "redis", cause: new Error("ECONNREFUSED") })
   * e.message // "Bulkhead payments: the redis store failed (acquire): ECONNREFUSED"
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  BulkheadStoreError
}

// ---------------------------------------------------------------------------
// Type IDs

/**
 * The type id every bulkhead carries (see {@link isBulkhead}).
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

// ---------------------------------------------------------------------------
// Models

/**
 * A bulkhead: a policy that runs at most `maxConcurrent` calls at once and
 * adds {@link BulkheadFullError} to the error channel (nothing to the
 * requirements), and `E`: {@link BulkheadStoreError} when it may fail closed
 * on a shared store (`onStoreError: "fail"`), `never` otherwise.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 10, maxQueue: 100, maxWait: "2 seconds" })
 *   const user = yield* Effect.succeed({ id: 1 }).pipe(bulkhead) // Effect<{ id: number }, BulkheadFullError>
 *   const perHost = yield* bulkhead.execute(Effect.succeed("ok"), { key: "api.example.com" })
 *   return yield* bulkhead.stats() // { active: 0, queued: 0, maxConcurrent: 10, maxQueue: 100 }
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Bulkhead<E = never> extends Policy<BulkheadFullError | E> {
  readonly [TypeId]: TypeId
  /** The policy's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  /** The options the bulkhead was made with. */
  readonly options: Bulkhead.Options
  /**
   * Runs `self` in the partition of `key` (its own permits and queue, with the
   * same limits); without a key (or with `key: undefined`), in the default
   * partition the callable form uses. A key the bulkhead refuses (not a
   * well-formed string of at most `maxKeyLength` code units) fails with
   * `InvalidKeyError` before any permit is taken. Data-first
   * (`bulkhead.execute(self, { key })`) or data-last
   * (`self.pipe(bulkhead.execute({ key }))`).
   */
  readonly execute: {
    <A, E2, R>(self: Effect.Effect<A, E2, R>): Effect.Effect<A, E2 | BulkheadFullError | E, R>
    <A, E2, R>(
      self: Effect.Effect<A, E2, R>,
      options: Bulkhead.ExecuteOptions | undefined
    ): Effect.Effect<A, E2 | BulkheadFullError | E | InvalidKeyError, R>
    (
      options: Bulkhead.ExecuteOptions | undefined
    ): <A, E2, R>(self: Effect.Effect<A, E2, R>) => Effect.Effect<A, E2 | BulkheadFullError | E | InvalidKeyError, R>
  }
  /** Running and queued calls of a partition (the default one without a key), in this process. */
  readonly stats: (key?: string | undefined) => Effect.Effect<Bulkhead.Stats>
  /** {@link Bulkhead.stats}, read synchronously: the form for hot paths and callbacks. */
  readonly unsafeStats: (key?: string | undefined) => Bulkhead.Stats
  /** Running and queued calls across all partitions, in this process (and a shared store's counters). */
  readonly totals: () => Effect.Effect<Bulkhead.Totals>
  /** {@link Bulkhead.totals}, read synchronously: the form for hot paths and callbacks. */
  readonly unsafeTotals: () => Bulkhead.Totals
  /**
   * Permits of a partition held right now (the default partition without a
   * key): by this process with the in-memory store, by every process with a
   * shared store (expired leases excluded; a store failure is a
   * {@link BulkheadStoreError}). A refused key fails with `InvalidKeyError`
   * before the store is asked.
   */
  readonly held: {
    (): Effect.Effect<number, BulkheadStoreError>
    (key: string | undefined): Effect.Effect<number, BulkheadStoreError | InvalidKeyError>
  }
  /**
   * Sets `maxConcurrent` for every partition, present and future. Growing
   * admits queued callers at once; shrinking never interrupts running calls:
   * new callers wait until enough of them finish. With an adaptive limit,
   * `maxConcurrent` must be within its `[minLimit, maxLimit]`: every
   * partition's limit is set to it and the algorithm goes on from there (what
   * idle keys learned is forgotten).
   */
  readonly resize: (maxConcurrent: number) => Effect.Effect<void, InvalidOptionsError>
  /** What the bulkhead did, as a `Stream` (one bounded buffer per subscriber). */
  readonly events: Stream.Stream<BulkheadEvent>
}

/**
 * @since 0.1.0
 */
export declare namespace Bulkhead {
  /**
   * Options of {@link make}.
   *
   * @example
   * ```ts
   * import { Bulkhead } from "effect-resilience"
   *
   * const options: Bulkhead.Bulkhead.Options = {
   *   maxConcurrent: 10, // required
   *   maxQueue: 100, // default 0: no queue
   *   maxWait: "2 seconds", // default: no limit
   *   name: "payments" // default "bulkhead"
   * }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Options {
    /**
     * Calls running at once (per partition; across every process with a
     * shared store), an integer >= 1; or an adaptive limit
     * (`AdaptiveLimit.aimd(…)`, `vegas(…)`, `gradient2(…)`): each partition
     * then starts at its `initialLimit` and moves it after every call, within
     * its `minLimit` and `maxLimit` (in-process permits only; from `Config`,
     * an integer).
     */
    readonly maxConcurrent: number | AdaptiveLimit
    /**
     * Callers that may wait for a permit (per partition, in this process), an
     * integer >= 0 or `Infinity`. Defaults to 0: no queue, a call that finds
     * no free permit is rejected at once (as in Polly, resilience4j and
     * cockatiel).
     */
    readonly maxQueue?: number | undefined
    /**
     * How long a queued caller waits for a permit before it is rejected with
     * reason `"MaxWaitExceeded"`. Defaults to no limit (an enclosing timeout
     * still bounds the wait).
     */
    readonly maxWait?: Duration.DurationInput | undefined
    /**
     * A name for errors, metrics, events and descriptors; with a shared
     * store, bulkheads of the same name (and key) share their permits.
     * Defaults to `"bulkhead"`.
     */
    readonly name?: string | undefined
    /**
     * How often the `resilience_bulkhead_active` and `_queued` gauges are
     * published (they are polled, so the call path pays nothing for them).
     * Defaults to 1 second; `Duration.infinity` turns the gauges off.
     */
    readonly metricsInterval?: Duration.DurationInput | undefined
    /**
     * The longest partition key accepted, in UTF-16 code units: an integer in
     * [1, 16,383]. Defaults to 1,024. Longer keys fail with `InvalidKeyError`.
     */
    readonly maxKeyLength?: number | undefined
    /**
     * When a shared store (Redis) fails or times out while admitting a call:
     * `"allow"` (the default) runs it without a lease, within the store's
     * limit per process (fail open); `"fail"` rejects it with
     * {@link BulkheadStoreError} (fail closed), which the bulkhead's type
     * then carries. The in-memory store never fails.
     */
    readonly onStoreError?: "allow" | "fail" | undefined
  }

  /**
   * The errors a bulkhead made with options `O` adds besides
   * `BulkheadFullError`: {@link BulkheadStoreError} unless it surely fails
   * open.
   *
   * @example
   * ```ts
   * import type { Bulkhead } from "effect-resilience"
   *
   * type Closed = Bulkhead.Bulkhead.StoreErrorOf<{ maxConcurrent: 1; onStoreError: "fail" }> // BulkheadStoreError
   * type Open = Bulkhead.Bulkhead.StoreErrorOf<{ maxConcurrent: 1 }> // never
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export type StoreErrorOf<O> = "onStoreError" extends keyof O
    ? O[keyof O & "onStoreError"] extends "allow" | undefined ? never : BulkheadStoreError
    : never

  /**
   * Options of `execute`.
   *
   * @example
   * ```ts
   * import { Bulkhead } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const perHost = (bulkhead: Bulkhead.Bulkhead, host: string) =>
   *   bulkhead.execute(Effect.succeed(`GET https://${host}/`), { key: host })
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface ExecuteOptions {
    /**
     * The partition: calls with different keys never share permits or queues,
     * nor with the default partition. A well-formed string of at most
     * `maxKeyLength` code units; `undefined` is the default partition.
     */
    readonly key?: string | undefined
  }

  /**
   * A partition's state in this process.
   *
   * @example
   * ```ts
   * import type { Bulkhead } from "effect-resilience"
   *
   * const saturated = (stats: Bulkhead.Bulkhead.Stats) => stats.active >= stats.maxConcurrent && stats.queued > 0
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    /** Calls running (or admitted and about to run): the in-flight count. */
    readonly active: number
    /** Callers waiting for a permit (with a shared store: for a local permit or for a lease). */
    readonly queued: number
    /** The limit in force (with an adaptive limit: the partition's current one). */
    readonly maxConcurrent: number
    readonly maxQueue: number
    /**
     * With an adaptive limit only: the partition's algorithm state — its
     * `limit`, the last measured `latency` and the `baseline` it compares
     * against (milliseconds), `samples` and `drops`. For a key with no
     * partition now: what it learned, or the state a new partition starts
     * from.
     */
    readonly adaptive?: AdaptiveLimit.State | undefined
  }

  /**
   * The state of the whole bulkhead in this process; with a shared store,
   * its counters too.
   *
   * @example
   * ```ts
   * import type { Bulkhead } from "effect-resilience"
   *
   * const describe = (t: Bulkhead.Bulkhead.Totals) => `${t.active} running, ${t.queued} queued, ${t.partitions} keys`
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Totals {
    readonly active: number
    readonly queued: number
    /** Keyed partitions alive (with running or queued calls), the default one excluded. */
    readonly partitions: number
    /** With a shared store: failed or timed-out store calls (acquire, renew, release, held). */
    readonly storeErrors?: number
    /** With a shared store: calls run without a lease because the store failed (`onStoreError: "allow"`). */
    readonly allowedWithoutLease?: number
    /** With a shared store: renewals that found the lease gone with no room to take it back (the call ran on). */
    readonly leasesLost?: number
    /** With a shared store: renewals that found the lease gone (expired, or the store restarted) and took it back. */
    readonly leasesRecovered?: number
  }
}

/**
 * What a bulkhead did: admitted a call (`waited` is zero unless it queued),
 * queued one, or rejected one; with a shared store, also a failure of the
 * store and a lease found gone while its call ran; with an adaptive limit,
 * each change of a partition's limit (`LimitChanged`).
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 5, maxQueue: 50 })
 *   yield* bulkhead.events.pipe(
 *     Stream.filter((e) => e._tag === "Rejected"),
 *     Stream.runForEach((e) => Effect.logWarning(`shed a call: ${e._tag === "Rejected" ? e.reason : ""}`)),
 *     Effect.forkScoped
 *   )
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type BulkheadEvent =
  | {
    readonly _tag: "Permitted"
    readonly policy: string
    readonly key: string | undefined
    /** How long the call waited (in the queue, and for a lease). */
    readonly waited: Duration.Duration
    readonly active: number
    readonly queued: number
    /** With a shared store: false when the call runs without a lease (the store failed, `onStoreError: "allow"`). */
    readonly leased?: boolean
  }
  | {
    readonly _tag: "Queued"
    readonly policy: string
    readonly key: string | undefined
    readonly active: number
    /** Queue length including this caller. */
    readonly queued: number
  }
  | {
    readonly _tag: "Rejected"
    readonly policy: string
    readonly key: string | undefined
    readonly reason: BulkheadRejectionReason
    readonly error: BulkheadFullError
  }
  | {
    readonly _tag: "StoreError"
    readonly policy: string
    readonly key: string | undefined
    readonly operation: "acquire" | "renew" | "release" | "held"
    readonly error: unknown
    /** True when the call went on (`"allow"`, or a renewal or release failure). */
    readonly allowed: boolean
  }
  | { readonly _tag: "LeaseLost"; readonly policy: string; readonly key: string | undefined }
  | {
    /** An adaptive limit moved after a call (not emitted by `resize`). */
    readonly _tag: "LimitChanged"
    readonly policy: string
    readonly key: string | undefined
    readonly from: number
    readonly to: number
    /** The latency of the call that moved it (permit to release, the queue excluded). */
    readonly latency: Duration.Duration
    /** What the algorithm compares against: Vegas's no-load latency, Gradient2's long-term average (zero for AIMD). */
    readonly baseline: Duration.Duration
    /** Calls holding a permit when that call was admitted, itself included. */
    readonly inflight: number
    /** Whether the call was a drop (a timeout, or an error the limit's `isDrop` accepts). */
    readonly dropped: boolean
  }

// ---------------------------------------------------------------------------
// Store

/**
 * Where a bulkhead's permits live.
 *
 * Every call first takes a permit of its partition's local semaphore, a
 * herd-free FIFO semaphore in this process: that is where callers queue,
 * where `maxQueue`, `maxWait` and the enclosing deadline apply, and where
 * `stats`, `totals` and the events come from, whatever the store.
 *
 * - The in-memory store (the default) keeps the permits there and nowhere
 *   else: `leases` is `undefined`, and the semaphore, taken and given back
 *   synchronously on the call path, is the bulkhead's whole limit. Each
 *   bulkhead has its own permits, whatever its name.
 * - A shared store (`effect-resilience/redis`'s `BulkheadStore`) gives
 *   `leases`: a call holding a local permit then takes one of the
 *   `maxConcurrent` leases of its partition, shared by every process using
 *   the store under the bulkhead's name; the bulkhead renews it while the
 *   call runs and releases it when the call ends.
 *
 * @since 0.1.0
 * @category Models
 */
export interface BulkheadStore {
  /** What kind of store this is (`"memory"`, `"redis"`); in `Policy.describe` and errors. */
  readonly kind: string
  /**
   * A shared store's leases for the bulkhead `name`, for the bulkhead's
   * lifetime (the scope it is made in); `undefined` for an in-process store.
   */
  readonly leases: ((name: string) => Effect.Effect<BulkheadStore.Leases, never, Scope.Scope>) | undefined
}

/**
 * @since 0.1.0
 */
export declare namespace BulkheadStore {
  /**
   * A shared store's leases for one bulkhead.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Leases {
    /**
     * Calls of a partition this process runs at once at most, whatever the
     * store says (the only limit while the store fails and the bulkhead fails
     * open); `undefined`: `maxConcurrent`.
     */
    readonly localMaxConcurrent: number | undefined
    /** The longest pause between two polls of a caller waiting for a lease. */
    readonly pollInterval: Duration.Duration
    /** How often a running call's lease is renewed. */
    readonly renewInterval: Duration.Duration
    /** What `Policy.describe` shows of the store's options. */
    readonly options: Readonly<Record<string, unknown>>
    /** The leases of a partition (`undefined`: the default one, never a keyed one). */
    readonly partition: (key: string | undefined) => PartitionLeases
  }

  /**
   * The leases of one partition. Every operation may fail (the store is
   * unreachable or slow): the bulkhead counts the failure and applies its
   * `onStoreError`.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface PartitionLeases {
    /** Takes a lease if fewer than `maxConcurrent` are held (expired ones dropped). */
    readonly acquire: (maxConcurrent: number) => Effect.Effect<Acquisition, unknown>
    /** Extends a lease; takes it back if it was lost and there is room. */
    readonly renew: (lease: string, maxConcurrent: number) => Effect.Effect<Renewal, unknown>
    readonly release: (lease: string) => Effect.Effect<void, unknown>
    /** Leases held right now, by every process. */
    readonly held: Effect.Effect<number, unknown>
  }

  /**
   * A lease, or no room: `retryAfter` milliseconds until the oldest lease
   * expires.
   *
   * @since 0.1.0
   * @category Models
   */
  export type Acquisition =
    | { readonly _tag: "Acquired"; readonly lease: string }
    | { readonly _tag: "Full"; readonly retryAfter: number }

  /**
   * `"Renewed"`; `"Recovered"`: the lease was gone and is taken back;
   * `"Lost"`: gone, and no room to take it back.
   *
   * @since 0.1.0
   * @category Models
   */
  export type Renewal = "Renewed" | "Recovered" | "Lost"
}

/**
 * The store service, a `Context.Reference`: without a Layer every bulkhead
 * keeps its permits in this process. `effect-resilience/redis`'s
 * `BulkheadStore.layer` replaces it, so that bulkheads of the same name
 * share their permits across replicas; {@link layerStoreMemory} restores the
 * default.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* Bulkhead.BulkheadStore
 *   return store.kind // "memory"
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export const BulkheadStore: Context.Reference<BulkheadStore, BulkheadStore> = store.BulkheadStore

/**
 * Provides the in-memory {@link BulkheadStore} (the default): for the
 * bulkheads made under it, in a program that provides another store
 * elsewhere.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const local = Bulkhead.make({ maxConcurrent: 4 }).pipe(Effect.provide(Bulkhead.layerStoreMemory()))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerStoreMemory: () => Layer.Layer<BulkheadStore> = store.layerStoreMemory

// ---------------------------------------------------------------------------
// Constructors

/**
 * Makes a bulkhead in the current scope, with its permits in the
 * {@link BulkheadStore} in context (in this process by default). Fails with
 * `InvalidOptionsError` (naming the option and its range) for invalid
 * options.
 *
 * The call path keeps plain counters: no `Metric` update, no fork, no
 * `Deferred` and no timer when a permit is free. Queued callers share one
 * timer fiber per bulkhead for `maxWait` and enclosing deadlines (kept in
 * expiry order), and the `active`/`queued` gauges are published by a polling fiber;
 * both live in the scope: use the bulkhead within it (once the scope closes,
 * calls still run and release their permits, but `maxWait` is no longer
 * enforced and the gauges are no longer published). Rejections increment
 * `resilience_bulkhead_rejections` (tagged `policy` and `reason`).
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 10, maxWait: "1 second", name: "db" })
 *   const query = (id: number) => Effect.sleep("100 millis").pipe(Effect.as(id), bulkhead)
 *   // 5 queries, at most 2 at a time; the rest wait in FIFO order
 *   return yield* Effect.all([1, 2, 3, 4, 5].map(query), { concurrency: "unbounded" })
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: <const O extends Bulkhead.Options>(
  options: O
) => Effect.Effect<Bulkhead<Bulkhead.StoreErrorOf<O>>, InvalidOptionsError, Scope.Scope> = internal.make

/**
 * True for bulkheads.
 *
 * @example
 * ```ts
 * import { Bulkhead, Timeout } from "effect-resilience"
 *
 * Bulkhead.isBulkhead(Timeout.make("1 second")) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isBulkhead: (u: unknown) => u is Bulkhead<unknown> = internal.isBulkhead

/**
 * Provides a bulkhead under your own `Context.Tag`, made in the layer's scope.
 * Use it with `Policy.fromTag` so that module-level code can write
 * `effect.pipe(dbBulkhead)` and the Layer decides the instance.
 *
 * @example
 * ```ts
 * import { Bulkhead, Policy } from "effect-resilience"
 * import { Context, Effect } from "effect"
 *
 * class DbBulkhead extends Context.Tag("app/DbBulkhead")<DbBulkhead, Bulkhead.Bulkhead>() {}
 * const dbBulkhead = Policy.fromTag(DbBulkhead)
 *
 * const query = Effect.succeed([1, 2, 3]).pipe(dbBulkhead) // requires DbBulkhead
 * const program = query.pipe(Effect.provide(Bulkhead.layer(DbBulkhead, { maxConcurrent: 20, maxQueue: 200 })))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: <I, S, const O extends Bulkhead.Options>(
  tag: Context.Tag<I, S>,
  options: O & ([Bulkhead<Bulkhead.StoreErrorOf<O>>] extends [S] ? unknown : never)
) => Layer.Layer<I, InvalidOptionsError> = internal.layer

/**
 * Provides a bulkhead under your own `Context.Tag`, with options read from
 * Effect `Config` (environment variables by default). Missing or malformed
 * values fail with a `ConfigError`; out-of-range ones with
 * `InvalidOptionsError`.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class DbBulkhead extends Context.Tag("app/DbBulkhead")<DbBulkhead, Bulkhead.Bulkhead>() {}
 *
 * // DB_MAX_CONCURRENT=20 DB_MAX_QUEUE=200 DB_MAX_WAIT="2 seconds"
 * const live = Bulkhead.layerConfig(DbBulkhead, {
 *   maxConcurrent: Config.integer("DB_MAX_CONCURRENT"),
 *   maxQueue: Config.integer("DB_MAX_QUEUE").pipe(Config.withDefault(0)),
 *   maxWait: Config.duration("DB_MAX_WAIT"),
 *   name: Config.succeed("db")
 * })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig: <I, S, const C extends Config.Config.Wrap<Bulkhead.Options>>(
  tag: Context.Tag<I, S>,
  config: C & ([Bulkhead<ConfigStoreErrorOf<C>>] extends [S] ? unknown : never)
) => Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> = internal.layerConfig

/**
 * The `Config` of a bulkhead's options, each under its own name
 * (`maxConcurrent`, `maxQueue`, `maxWait`, `name`, `metricsInterval`,
 * `maxKeyLength`, `onStoreError`; the table in docs/Options.md#bulkhead).
 * Nest it to give it a prefix; with `ConfigProvider.constantCase` the
 * environment variables are `DB_MAX_CONCURRENT`, `DB_MAX_QUEUE`, …
 * `maxConcurrent` is required (a `ConfigError` when missing); durations are
 * strings such as `"2 seconds"` or `"Infinity"`.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * // from Config, onStoreError may be "fail": the bulkhead's error type says so
 * class DbBulkhead extends Context.Tag("app/DbBulkhead")<DbBulkhead, Bulkhead.Bulkhead<Bulkhead.BulkheadStoreError>>() {}
 * // db_maxConcurrent=20 db_maxQueue=200 (or DB_MAX_CONCURRENT=20 with ConfigProvider.constantCase)
 * const live = Bulkhead.layerConfig(DbBulkhead, Config.nested(Bulkhead.config, "db"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<Bulkhead.Options> = internal.config

/**
 * Makes a bulkhead (in the current scope) with options read from `Config`:
 * {@link config}, a `Config` of the options or a record of `Config`s.
 * Missing or malformed values fail with a `ConfigError`; out-of-range ones
 * with `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Config, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.fromConfig(Config.nested(Bulkhead.config, "db"))
 *   return yield* Effect.succeed(1).pipe(bulkhead)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: <const C extends Config.Config.Wrap<Bulkhead.Options>>(
  config: C
) => Effect.Effect<Bulkhead<ConfigStoreErrorOf<C>>, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> =
  internal.fromConfig as any

/**
 * The errors a bulkhead made from a `Config` adds besides
 * `BulkheadFullError`: {@link BulkheadStoreError} when the config may set
 * `onStoreError` (to `"fail"`).
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "effect-resilience"
 * import type { Config } from "effect"
 *
 * type Open = Bulkhead.ConfigStoreErrorOf<{ maxConcurrent: Config.Config<number> }> // never
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type ConfigStoreErrorOf<C> = C extends Config.Config<infer O> ? Bulkhead.StoreErrorOf<O>
  : "onStoreError" extends keyof C ? BulkheadStoreError
  : never
