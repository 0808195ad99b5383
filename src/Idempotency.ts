/**
 * Idempotent execution: an effect runs once per key, and every caller with
 * that key gets the same `Exit`.
 *
 * `Idempotency.make({ ttl, success?, failure?, keepFailures?, name? })` gives
 * `run(key, effect)` (also `execute(effect, { key })`):
 *
 * - **Once per key.** The first caller of a key starts the execution; callers
 *   that arrive while it runs share it (1,000 concurrent callers, one
 *   execution); callers that arrive later get the stored `Exit` until `ttl`
 *   has passed.
 * - **What is kept.** A success is kept for `ttl`. A typed failure is kept
 *   only with `keepFailures` (`true`, or a predicate on the error), so a
 *   transient failure can be retried with the same key; concurrent sharers get
 *   it either way. Defects are never kept (they reach the sharers). An
 *   interrupted execution keeps nothing.
 * - **Interruption.** The execution runs detached from its callers, in the
 *   scope of the `Idempotency` value: when the first caller (or any caller)
 *   is interrupted, the execution **continues** for the others, and its
 *   result is stored for the callers that retry with the same key — an
 *   operation that may have had effects is never abandoned half-way and run
 *   again. Only closing the `Idempotency`'s scope interrupts executions; a
 *   caller waiting on an interrupted execution then stops too. If an
 *   execution ends without a result (it interrupted itself, or — with a
 *   distributed store — its replica died and its lease expired), the next
 *   waiting caller takes over and runs its own effect. No caller hangs and no
 *   result is lost.
 * - **Deadlines.** A caller's `Timeout` bounds its own wait, not the shared
 *   execution; bound the execution with a `Timeout` inside `run`.
 * - **Keys.** A key is a well-formed string of at most `maxKeyLength` UTF-16
 *   code units (1,024 by default). Anything else — `undefined` from a missing
 *   header, an object, a lone surrogate, a longer string — fails with
 *   `InvalidKeyError` before the store is asked: it never shares an entry
 *   with another caller. Store keys are `<name.length>:<name>:<key>`, so
 *   policies sharing a store never share an entry by accident.
 * - **Under pressure.** A store never forgets a live record to make room:
 *   a full memory store refuses new keys with `IdempotencyError` (reason
 *   `"StoreFull"`, a rejection carrying `retryAfter`: when its earliest record
 *   expires), while stored and in-flight keys are still served; a
 *   `StoreHighWater` event and the `resilience_idempotency_store_high_water`
 *   counter fire when it reaches 90% (`highWater`). Scope keys per tenant
 *   (`${tenantId}:${requestId}`) and give noisy tenants their own store or
 *   policy, so one tenant cannot fill the store for all. Eviction of the
 *   oldest record is only an explicit option (`whenFull: "evictOldest"`).
 *
 * State lives behind the {@link IdempotencyStore} reference: a bounded memory
 * store ({@link layerStoreMemory}; without a layer, a private one per
 * policy); a Redis store (in `effect-resilience/redis`) for many replicas,
 * which needs the `success` and `failure` Schemas to store the `Exit`.
 *
 * `@effect/experimental`'s `Persistence`/`ResultPersistence` is not used: it
 * stores results by `PrimaryKey` requests with no notion of an execution in
 * flight (no lock, no waiting for it), which is the heart of this module.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { InvalidKeyError, InvalidOptionsError } from "./Errors.js"
import { IdempotencyError } from "./internal/idempotency/errors.js"
import * as internal from "./internal/idempotency/idempotency.js"
import * as memory from "./internal/idempotency/memoryStore.js"
import { IdempotencyStore } from "./internal/idempotency/memoryStore.js"

export {
  /**
   * A key `run`, `execute` or `invalidate` refused (see
   * `Errors.InvalidKeyError`): raised before the store is asked, so nothing
   * runs and nothing is stored or shared.
   *
   * @since 0.1.0
   * @category Errors
   */
  InvalidKeyError
} from "./Errors.js"

/**
 * The unique symbol that marks the values of this module (`TypeId in value`).
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(Idempotency.make({ ttl: "1 hour" }), (idem) => Idempotency.TypeId in idem).pipe(Effect.scoped) // true
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
 * import type { Idempotency } from "effect-resilience"
 *
 * type Id = Idempotency.Idempotency[Idempotency.TypeId]
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

/**
 * The unique symbol that marks the values of this module (`MemoryStoreTypeId in value`).
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Effect, Predicate } from "effect"
 *
 * const program = Effect.map(Idempotency.makeStoreMemory(), (store) => Predicate.hasProperty(store, Idempotency.MemoryStoreTypeId)) // true
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const MemoryStoreTypeId: unique symbol = memory.MemoryStoreTypeId

/**
 * The type of {@link MemoryStoreTypeId}.
 *
 * @example
 * ```ts
 * import type { Idempotency } from "effect-resilience"
 *
 * type Tagged = Idempotency.MemoryStore[Idempotency.MemoryStoreTypeId]
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type MemoryStoreTypeId = typeof MemoryStoreTypeId

/**
 * Why an {@link IdempotencyError} happened: the store failed, an `Exit`
 * could not be encoded for it or decoded from it (with the `success` and
 * `failure` Schemas), or the store was full and refused a new key
 * (`"StoreFull"`).
 *
 * @example
 * ```ts
 * import type { Idempotency } from "effect-resilience"
 *
 * const retryable = (reason: Idempotency.IdempotencyErrorReason) => reason === "StoreError"
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type IdempotencyErrorReason = "StoreError" | "EncodeError" | "DecodeError" | "StoreFull"

/**
 * What an `acquire` found for a key:
 * - `Completed`: a stored `Exit` (replay it);
 * - `InFlight`: an execution is running; `await` gives its `Exit` when it
 *   ends (`Some`), or `None` when it ended without one (interrupted, lease
 *   expired): then acquire again;
 * - `Acquired`: the caller runs the effect and calls `complete` with its
 *   `Exit` and how long to keep it (`undefined`: hand it to the waiters but
 *   keep nothing). Closing the acquisition's scope without completing
 *   releases the key (waiters get `None`). `highWater` is set on the
 *   acquisition that took a bounded store to its high-water mark (the policy
 *   reports it).
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Effect, Exit } from "effect"
 *
 * // what a store answers, seen from a caller (the policy does this for you)
 * const program = Effect.gen(function*() {
 *   const store = yield* Idempotency.IdempotencyStore
 *   const acquisition = yield* store.acquire("jobs:42", { codec: undefined })
 *   if (acquisition._tag === "Acquired") yield* acquisition.complete(Exit.succeed("done"), undefined)
 *   return acquisition._tag // "Acquired"
 * }).pipe(Effect.scoped, Effect.provide(Idempotency.layerStoreMemory()))
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type Acquisition =
  | { readonly _tag: "Completed"; readonly exit: Exit.Exit<unknown, unknown> }
  | {
    readonly _tag: "InFlight"
    readonly await: Effect.Effect<Option.Option<Exit.Exit<unknown, unknown>>, IdempotencyError>
  }
  | {
    readonly _tag: "Acquired"
    readonly complete: (
      exit: Exit.Exit<unknown, unknown>,
      ttl: Duration.Duration | undefined
    ) => Effect.Effect<void, IdempotencyError>
    /** Keys held (this one included) and the bound, when this acquisition reached the high-water mark. */
    readonly highWater?: { readonly size: number; readonly maxKeys: number } | undefined
  }

/**
 * Options of {@link IdempotencyStore} `acquire`.
 *
 * @example
 * ```ts
 * import type { Idempotency } from "effect-resilience"
 * import { Schema } from "effect"
 *
 * const options: Idempotency.AcquireOptions = {
 *   codec: Schema.Exit({ success: Schema.Number, failure: Schema.String, defect: Schema.Defect })
 * }
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface AcquireOptions {
  /**
   * `Schema.Exit({ success, failure, defect: Schema.Defect })` built from the
   * policy's Schemas, when it has them. Persisting stores encode and decode
   * the `Exit` with it; the memory store keeps `Exit`s as they are.
   */
  readonly codec: Schema.Schema<Exit.Exit<any, any>, any> | undefined
}

export {
  /**
   * The store could not be used for a key (`"StoreError"`, `"EncodeError"`,
   * `"DecodeError"`), or a full memory store refused a new one
   * (`"StoreFull"`, a rejection with `retryAfter`). See
   * {@link IdempotencyErrorReason}.
   *
   * @since 0.1.0
   * @category Errors
   */
  IdempotencyError,
  /**
   * Where executions and their `Exit`s live (`acquire`, `invalidate`,
   * `persistent`), designed so a Redis store can implement it: a
   * `Context.Reference`. A policy uses the store provided under it
   * ({@link layerStoreMemory}, the Redis store's layer, or
   * `Layer.succeed(Idempotency.IdempotencyStore, store)`), else a private
   * memory store (default options) for that policy alone, which lives as
   * long as the policy's scope. Read directly without a layer, it gives its
   * default value: a memory store of default options without a sweeper.
   *
   * @since 0.1.0
   * @category Models
   */
  IdempotencyStore
}

/**
 * What an idempotency policy did. Emitted only while someone subscribes to
 * `events`.
 *
 * - `Executed`: this caller started the execution of its key;
 * - `Joined`: this caller shares an execution in flight;
 * - `Replayed`: this caller got a stored `Exit`;
 * - `Completed`: an execution ended (`kept`: its `Exit` is stored for `ttl`);
 * - `StoreError`: the store failed;
 * - `Refused`: a full store refused this caller's new key (nothing ran; the
 *   caller got `IdempotencyError` with reason `"StoreFull"`);
 * - `StoreHighWater`: this caller's key took the store to its high-water
 *   mark (`size` keys held of `maxKeys`): it will refuse new keys when full.
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const idem = yield* Idempotency.make({ ttl: "1 hour", name: "webhooks" })
 *   yield* idem.events.pipe(
 *     Stream.filter((e) => e._tag === "Replayed"),
 *     Stream.runForEach((e) => Effect.log(`duplicate delivery of ${e.key}`)),
 *     Effect.forkScoped
 *   )
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type IdempotencyEvent =
  | { readonly _tag: "Executed"; readonly policy: string; readonly key: string }
  | { readonly _tag: "Joined"; readonly policy: string; readonly key: string }
  | { readonly _tag: "Replayed"; readonly policy: string; readonly key: string }
  | {
    readonly _tag: "Completed"
    readonly policy: string
    readonly key: string
    readonly outcome: "Success" | "Failure" | "Defect" | "Interrupted"
    readonly kept: boolean
  }
  | { readonly _tag: "StoreError"; readonly policy: string; readonly key: string; readonly error: IdempotencyError }
  | { readonly _tag: "Refused"; readonly policy: string; readonly key: string; readonly error: IdempotencyError }
  | {
    readonly _tag: "StoreHighWater"
    readonly policy: string
    readonly key: string
    readonly size: number
    readonly maxKeys: number
  }

/**
 * An idempotency policy for effects that succeed with `A` and fail with `E`
 * (anything, without Schemas).
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const idem: Idempotency.Idempotency = yield* Idempotency.make({ ttl: "10 minutes" })
 *   const send = Effect.succeed("sent")
 *   yield* idem.run("message-1", send)
 *   yield* send.pipe(idem.execute({ key: "message-1" })) // replayed: not sent twice
 *   return yield* idem.stats() // { executions: 1, joined: 0, replayed: 1, storeErrors: 0, refused: 0 }
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Idempotency<in out A = unknown, in out E = unknown> {
  readonly [TypeId]: TypeId
  readonly policyName: string
  /** The options in effect, defaults applied. */
  readonly options: Idempotency.Resolved
  /**
   * Runs `effect` once for `key` (see the module documentation): the first
   * caller executes it, concurrent callers share that execution, later ones
   * get its stored `Exit` until `ttl` has passed. A key that is not a
   * well-formed string of at most `maxKeyLength` code units fails with
   * `InvalidKeyError` (the effect does not run).
   */
  readonly run: <A2 extends A, E2 extends E, R>(
    key: string,
    effect: Effect.Effect<A2, E2, R>
  ) => Effect.Effect<A2, E2 | IdempotencyError | InvalidKeyError, R>
  /** `run` as a keyed policy, data-first or data-last: `execute(effect, { key })` or `effect.pipe(execute({ key }))`. */
  readonly execute: {
    (options: { readonly key: string }): <A2 extends A, E2 extends E, R>(
      self: Effect.Effect<A2, E2, R>
    ) => Effect.Effect<A2, E2 | IdempotencyError | InvalidKeyError, R>
    <A2 extends A, E2 extends E, R>(
      self: Effect.Effect<A2, E2, R>,
      options: { readonly key: string }
    ): Effect.Effect<A2, E2 | IdempotencyError | InvalidKeyError, R>
  }
  /** Forgets the stored `Exit` of `key` (an execution in flight is not affected); a refused key fails with `InvalidKeyError`. */
  readonly invalidate: (key: string) => Effect.Effect<void, IdempotencyError | InvalidKeyError>
  /** Everything the policy did, as a `Stream` (one bounded buffer per subscriber). */
  readonly events: Stream.Stream<IdempotencyEvent>
  /** Counts since creation. */
  readonly stats: () => Effect.Effect<Idempotency.Stats>
  /** The synchronous twin of `stats`, for hot paths and tests. */
  readonly unsafeStats: () => Idempotency.Stats
}

/**
 * The types that go with {@link Idempotency}.
 *
 * @example
 * ```ts
 * import type { Idempotency } from "effect-resilience"
 *
 * const options: Idempotency.Idempotency.Options = { ttl: "1 hour" }
 * ```
 *
 * @since 0.1.0
 */
export declare namespace Idempotency {
  /**
   * Options of {@link make}.
   *
   * @example
   * ```ts
   * import type { Idempotency } from "effect-resilience"
   * import { Schema } from "effect"
   *
   * const options: Idempotency.Idempotency.Options<number, string> = {
   *   ttl: "24 hours", // required
   *   success: Schema.Number, // optional in memory
   *   failure: Schema.String, // optional in memory
   *   keepFailures: (e) => e === "declined", // default false
   *   name: "payments" // default "idempotency"
   * }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Options<A = unknown, E = unknown> {
    /** How long an `Exit` is kept: a finite duration > 0. */
    readonly ttl: Duration.DurationInput
    /** Encodes successes for persisting stores (required by them, optional in memory). */
    readonly success?: Schema.Schema<A, any> | Schema.Schema<A, never> | undefined
    /** Encodes typed failures for persisting stores (required by them, optional in memory). */
    readonly failure?: Schema.Schema<E, any> | Schema.Schema<E, never> | undefined
    /**
     * Whether a typed failure is kept for `ttl` (`true`, or a predicate on
     * the error: keep a `"CardDeclined"`, not a timeout). Defaults to
     * `false`: the next call with the key runs the effect again. A predicate
     * that throws or answers anything but a boolean keeps nothing (the callers
     * still get the failure; reported, see "User code" in the docs).
     */
    readonly keepFailures?: boolean | ((error: E) => boolean) | undefined
    /**
     * Names the policy in events and metrics and prefixes its store keys:
     * policies with the same name share executions in a shared store (that is
     * how replicas share them). Defaults to `"idempotency"`.
     */
    readonly name?: string | undefined
    /**
     * The longest key accepted, in UTF-16 code units: an integer in
     * [1, 16,383]. Defaults to 1,024. Longer keys fail with `InvalidKeyError`
     * (they are refused, never digested).
     */
    readonly maxKeyLength?: number | undefined
  }

  /**
   * The options of a policy that are data, as read from `Config`
   * ({@link config}, {@link fromConfig}, {@link layerConfig}): `ttl`,
   * `keepFailures` (a boolean), `name` and `maxKeyLength`. From `Config`,
   * durations are strings such as `"24 hours"` (or `Duration`s, from
   * `Config.duration`). Defaults and ranges: docs/Options.md#idempotency.
   *
   * @example
   * ```ts
   * import type { Idempotency } from "effect-resilience"
   * import { Config } from "effect"
   *
   * const config: Config.Config.Wrap<Idempotency.Idempotency.ConfigOptions> = {
   *   ttl: Config.duration("IDEMPOTENCY_TTL"),
   *   keepFailures: Config.boolean("IDEMPOTENCY_KEEP_FAILURES").pipe(Config.withDefault(false))
   * }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface ConfigOptions {
    /** How long an `Exit` is kept: a finite duration > 0. */
    readonly ttl: Duration.DurationInput
    /** Whether typed failures are kept for `ttl`. Defaults to false. */
    readonly keepFailures?: boolean | undefined
    /** Defaults to `"idempotency"`. */
    readonly name?: string | undefined
    /** The longest key accepted: an integer in [1, 16,383]. Defaults to 1,024. */
    readonly maxKeyLength?: number | undefined
  }

  /**
   * The options of a policy that are code, given beside its
   * {@link ConfigOptions} to {@link fromConfig} and {@link layerConfig}: the
   * Schemas, and a `keepFailures` predicate (which replaces the boolean read
   * from `Config`).
   *
   * @example
   * ```ts
   * import type { Idempotency } from "effect-resilience"
   * import { Schema } from "effect"
   *
   * const code: Idempotency.Idempotency.CodeOptions<number, string> = {
   *   success: Schema.Number,
   *   failure: Schema.String,
   *   keepFailures: (e) => e === "declined"
   * }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export type CodeOptions<A = unknown, E = unknown> = Pick<Options<A, E>, "success" | "failure" | "keepFailures">

  /**
   * The options of a policy, defaults applied.
   *
   * @example
   * ```ts
   * import { Idempotency } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const program = Effect.map(Idempotency.make({ ttl: "1 hour" }), (idem) => idem.options.keepFailures).pipe(Effect.scoped) // false
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Resolved {
    readonly ttl: Duration.Duration
    readonly keepFailures: boolean | "predicate"
    readonly hasSchemas: boolean
    readonly name: string
    readonly maxKeyLength: number
  }

  /**
   * @example
   * ```ts
   * import type { Idempotency } from "effect-resilience"
   *
   * const duplicates = (stats: Idempotency.Idempotency.Stats) => stats.joined + stats.replayed
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    /** Executions started. */
    readonly executions: number
    /** Callers that shared an execution in flight. */
    readonly joined: number
    /** Callers served a stored `Exit`. */
    readonly replayed: number
    readonly storeErrors: number
    /** Callers refused by a full store (nothing ran). */
    readonly refused: number
  }
}

/**
 * Options of the memory store.
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 *
 * const options: Idempotency.MemoryStoreOptions = {
 *   maxKeys: 10_000, // keys held, stored and in flight (default 100,000)
 *   whenFull: "refuse", // the default: refuse new keys, never forget a live record
 *   highWater: 0.9, // the default: report when 9,000 keys are held
 *   sweepInterval: "30 seconds"
 * }
 * const store = Idempotency.layerStoreMemory(options)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface MemoryStoreOptions {
  /**
   * The most keys held, stored `Exit`s and executions in flight together (an
   * integer >= 1); see {@link MemoryStoreOptions.whenFull} for what happens
   * when it is reached. Defaults to 100,000. Keys are at most
   * `maxKeyLength` code units plus the policy's name, so the key strings held
   * take at most about `maxKeys × maxKeyLength × 2` bytes: 204.8 MB at the
   * defaults (100,000 × 1,024 × 2 B). The `Exit`s are kept as they are: their
   * size is yours (keep results small, or store a reference). Size it for
   * the keys live within your `ttl` (requests per second × ttl), and scope
   * keys per tenant so that one tenant cannot fill it for all.
   */
  readonly maxKeys?: number | undefined
  /**
   * What a full store does with a new key, once the expired records are
   * dropped:
   * - `"refuse"` (the default): fail closed. The new key fails with
   *   `IdempotencyError` (reason `"StoreFull"`, with `retryAfter` until the
   *   earliest record expires) and nothing runs; `stats().refused` counts
   *   it. No live record is forgotten, so no key ever runs twice within its
   *   `ttl`. Stored and in-flight keys are still served.
   * - `"evictOldest"`: drop the oldest stored record (its key may then run
   *   again within its `ttl`), which `stats().evicted` counts. For effects
   *   that are safe to repeat, where availability matters more than
   *   exactly-once. In-flight executions are never dropped: with only those
   *   held, a new key is refused either way.
   */
  readonly whenFull?: "refuse" | "evictOldest" | undefined
  /**
   * The fraction of `maxKeys` at which the store reports that it is filling
   * up: the acquisition that takes it there makes its policy emit a
   * `StoreHighWater` event and count `resilience_idempotency_store_high_water`
   * (once per crossing: again after it fell below). A number in (0, 1];
   * defaults to 0.9.
   */
  readonly highWater?: number | undefined
  /**
   * How often expired `Exit`s are deleted (they are ignored once expired
   * anyway). Defaults to 1 minute; an infinite duration disables the sweep.
   */
  readonly sweepInterval?: Duration.DurationInput | undefined
}

/**
 * The memory store, with accessors.
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store: Idempotency.MemoryStore = yield* Idempotency.makeStoreMemory({ maxKeys: 1_000 })
 *   return yield* store.stats() // { stored: 0, inFlight: 0, maxKeys: 1000, expired: 0, evicted: 0, refused: 0, highWaterCrossings: 0 }
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface MemoryStore extends Context.Tag.Service<IdempotencyStore> {
  readonly [MemoryStoreTypeId]: MemoryStoreTypeId
  /** Stored `Exit`s plus executions in flight. */
  readonly size: () => Effect.Effect<number>
  /** The synchronous twin of `size`. */
  readonly unsafeSize: () => number
  /** Deletes the expired `Exit`s now; returns how many. */
  readonly sweep: Effect.Effect<number>
  /** What the store holds and what it dropped or refused since it was made. */
  readonly stats: () => Effect.Effect<MemoryStore.Stats>
  /** The synchronous twin of `stats`. */
  readonly unsafeStats: () => MemoryStore.Stats
}

/**
 * The types that go with {@link MemoryStore}.
 *
 * @example
 * ```ts
 * import type { Idempotency } from "effect-resilience"
 *
 * const nearlyFull = (stats: Idempotency.MemoryStore.Stats) => stats.stored + stats.inFlight >= 0.9 * stats.maxKeys
 * ```
 *
 * @since 0.1.0
 */
export declare namespace MemoryStore {
  /**
   * Options of the memory store (the same type as {@link MemoryStoreOptions}).
   *
   * @example
   * ```ts
   * import type { Idempotency } from "effect-resilience"
   *
   * const options: Idempotency.MemoryStore.Options = { maxKeys: 10_000 }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export type Options = MemoryStoreOptions
  /**
   * What {@link MemoryStore} `stats` reports.
   *
   * @example
   * ```ts
   * import type { Idempotency } from "effect-resilience"
   *
   * const held = (stats: Idempotency.MemoryStore.Stats) => stats.stored + stats.inFlight
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    readonly stored: number
    readonly inFlight: number
    readonly maxKeys: number
    readonly expired: number
    /** Stored records dropped to make room (`whenFull: "evictOldest"` only). */
    readonly evicted: number
    /** New keys refused because the store was full. */
    readonly refused: number
    /** Times the store reached its high-water mark. */
    readonly highWaterCrossings: number
  }
}

/**
 * Makes an idempotency policy. Uses the {@link IdempotencyStore} provided,
 * else a private memory store (default options) that lives as long as the
 * scope. Executions run in the
 * scope: closing it interrupts those still running. Fails with
 * `InvalidOptionsError` for invalid options — including a persisting store
 * without `success` and `failure` Schemas.
 *
 * Defaults: `keepFailures: false`, `name: "idempotency"`.
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Effect, Schema } from "effect"
 *
 * class CardDeclined extends Schema.TaggedError<CardDeclined>()("CardDeclined", {}) {}
 *
 * const program = Effect.gen(function*() {
 *   const payments = yield* Idempotency.make({
 *     ttl: "24 hours",
 *     success: Schema.Struct({ chargeId: Schema.String }),
 *     failure: CardDeclined,
 *     keepFailures: true,
 *     name: "payments"
 *   })
 *   const charge = Effect.succeed({ chargeId: "ch_1" })
 *   const first = yield* payments.run("order-42", charge)
 *   const again = yield* payments.run("order-42", charge) // not charged twice: the stored result
 *   return first.chargeId === again.chargeId
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: <A = unknown, E = unknown>(
  options: Idempotency.Options<A, E>
) => Effect.Effect<Idempotency<A, E>, InvalidOptionsError, Scope.Scope> = internal.make

/**
 * True for an idempotency policy made by {@link make}.
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(Idempotency.make({ ttl: "1 hour" }), Idempotency.isIdempotency).pipe(Effect.scoped) // true
 * Idempotency.isIdempotency({}) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isIdempotency: (u: unknown) => u is Idempotency<unknown, unknown> = internal.isIdempotency

/**
 * Makes a memory store (see {@link MemoryStoreOptions}); its sweep fiber
 * lives as long as the scope. Provide it with
 * `Layer.succeed(Idempotency.IdempotencyStore, store)` when you need its
 * accessors, or use {@link layerStoreMemory}.
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* Idempotency.makeStoreMemory({ maxKeys: 10_000 })
 *   const idem = yield* Idempotency.make({ ttl: "1 hour" }).pipe(
 *     Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
 *   )
 *   yield* idem.run("a", Effect.succeed(1))
 *   return yield* store.size() // 1
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const makeStoreMemory: (
  options?: MemoryStoreOptions
) => Effect.Effect<MemoryStore, InvalidOptionsError, Scope.Scope> = memory.makeMemoryStore

/**
 * Provides a bounded memory store as the {@link IdempotencyStore}: policies
 * made under it share it (their keys are prefixed by their names).
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const idem = yield* Idempotency.make({ ttl: "10 minutes", name: "emails" })
 *   return yield* idem.run("welcome:alice", Effect.succeed("sent"))
 * }).pipe(Effect.scoped, Effect.provide(Idempotency.layerStoreMemory({ maxKeys: 50_000 })))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerStoreMemory: (
  options?: MemoryStoreOptions
) => Layer.Layer<IdempotencyStore, InvalidOptionsError> = memory.layerStoreMemory

/**
 * Provides an idempotency policy under your own `Context.Tag`. It uses the
 * {@link IdempotencyStore} given to the layer, if any. Fails with
 * `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Context, Effect } from "effect"
 *
 * class Payments extends Context.Tag("app/Payments")<Payments, Idempotency.Idempotency>() {}
 * const live = Idempotency.layer(Payments, { ttl: "24 hours", name: "payments" })
 *
 * const charge = (orderId: string) =>
 *   Effect.flatMap(Payments, (idem) => idem.run(orderId, Effect.succeed(`charged ${orderId}`)))
 * const program = charge("order-1").pipe(Effect.provide(live))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: <I, S, A = unknown, E = unknown>(
  tag: Context.Tag<I, S>,
  options: Idempotency.Options<A, E> & ([Idempotency<A, E>] extends [S] ? unknown : never)
) => Layer.Layer<I, InvalidOptionsError> = internal.layer

/**
 * Provides an idempotency policy under your own `Context.Tag` with its data
 * options (`ttl`, `keepFailures`, `name`, `maxKeyLength`) read from `Config`
 * ({@link config}, a `Config` of {@link Idempotency.ConfigOptions}, or a
 * record of `Config`s with your own names) and its code options given: the
 * Schemas, when needed, and a `keepFailures` predicate. Invalid values fail
 * the layer with `InvalidOptionsError` naming the config key, missing or
 * malformed config with a `ConfigError`.
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Config, Context, Schema } from "effect"
 *
 * class Payments extends Context.Tag("app/Payments")<Payments, Idempotency.Idempotency<string, string>>() {}
 * // PAYMENTS_IDEMPOTENCY_TTL="24 hours"
 * const live = Idempotency.layerConfig(Payments, {
 *   ttl: Config.duration("PAYMENTS_IDEMPOTENCY_TTL"),
 *   name: Config.succeed("payments")
 * }, { success: Schema.String, failure: Schema.String })
 *
 * // or every data option under a prefix: emails_ttl="10 minutes"
 * class Emails extends Context.Tag("app/Emails")<Emails, Idempotency.Idempotency>() {}
 * const emails = Idempotency.layerConfig(Emails, Config.nested(Idempotency.config, "emails"))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig: <I, S, A = unknown, E = unknown>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<Idempotency.ConfigOptions> & ([Idempotency<A, E>] extends [S] ? unknown : never),
  code?: Idempotency.CodeOptions<A, E>
) => Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> = internal.layerConfig

/**
 * The `Config` of an idempotency policy's data options
 * ({@link Idempotency.ConfigOptions}), each under its own name (`ttl`,
 * `keepFailures`, `name`, `maxKeyLength`; the table in
 * docs/Options.md#idempotency). Nest it to give it a prefix; with
 * `ConfigProvider.constantCase`, `Config.nested(Idempotency.config,
 * "payments")` reads `PAYMENTS_TTL`, `PAYMENTS_KEEP_FAILURES`, … `ttl` is
 * required (a `ConfigError` when missing).
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class Emails extends Context.Tag("app/Emails")<Emails, Idempotency.Idempotency>() {}
 * // emails_ttl="10 minutes" (or EMAILS_TTL with ConfigProvider.constantCase)
 * const live = Idempotency.layerConfig(Emails, Config.nested(Idempotency.config, "emails"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<Idempotency.ConfigOptions> = internal.config

/**
 * Makes an idempotency policy (in the current scope, with the store in the
 * context, as {@link make} does) with its data options read from `Config`
 * ({@link config}, a `Config` of {@link Idempotency.ConfigOptions} or a
 * record of `Config`s) and its code options given. Missing or malformed
 * values fail with a `ConfigError`; out-of-range ones with
 * `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Config, Effect, Schema } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const idem = yield* Idempotency.fromConfig(Config.nested(Idempotency.config, "emails"), {
 *     success: Schema.String,
 *     failure: Schema.Never
 *   })
 *   return yield* idem.run("welcome:alice", Effect.succeed("sent"))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: <A = unknown, E = unknown>(
  config: Config.Config.Wrap<Idempotency.ConfigOptions>,
  code?: Idempotency.CodeOptions<A, E>
) => Effect.Effect<Idempotency<A, E>, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> = internal.fromConfig
