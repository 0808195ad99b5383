/**
 * Rate limiting as a policy, on `@effect/experimental`'s `RateLimiterStore`
 * interface — so the same limiter runs on this library's bounded memory store,
 * its Redis store (`effect-resilience/redis`) or experimental's stores,
 * swapped by Layer.
 *
 * - `RateLimiter.make({ limit, window, algorithm?, onExceeded?, cost?, maxDelay?, name? })`
 *   is callable (one limit) and has `execute(self, { key })` (one limit per key).
 * - `onExceeded: "fail"` (the default) rejects a call over the limit with
 *   {@link RateLimitExceededError}, which carries `retryAfter`;
 *   `onExceeded: "delay"` reserves the call's slot and waits for it — but only
 *   when the wait fits within `maxDelay` and before the deadline of an
 *   enclosing `Timeout`; otherwise the call is rejected **without being
 *   charged** (experimental's delay mode charges first and never refunds).
 *   With the memory store, a waiting call that is interrupted gives its
 *   tokens back (when no later call has reserved after it).
 * - The memory store ({@link layerStoreMemory}) is bounded (`maxKeys`) and
 *   forgets idle keys, so per-user or per-request keys do not grow memory
 *   (experimental's memory store never deletes a key).
 * - The store is found through the {@link RateLimiterStore} reference, in
 *   this order: the one provided ({@link layerStoreMemory}, the Redis
 *   store's layer, {@link layerStoreExperimental}); else
 *   `@effect/experimental`'s `RateLimiterStore` when one is provided (its
 *   memory or Redis layer: honoured as {@link layerStoreExperimental} would,
 *   never ignored); else a private memory store for the limiter alone (it
 *   lives as long as the limiter's scope).
 * - Keys: `execute(self, { key })` takes a well-formed string of at most
 *   `maxKeyLength` UTF-16 code units (1,024 by default); any other key fails
 *   with `InvalidKeyError` before the store is asked (nothing charged). The
 *   store key is `<name.length>:<name>:<key>`, and `<name.length>:<name>` for
 *   the callable form: no two limiters' keys, keyed or not, ever share a
 *   limit by accident.
 *
 * # Algorithms
 *
 * The semantics are experimental's, identical in memory and in Redis:
 *
 * - `"token-bucket"` (the default): a bucket of `limit` tokens per key, refilled
 *   one token every `window / limit`. `limit` is both the burst and the
 *   refill per window: over any interval of length `T` at most
 *   `limit + T / (window / limit)` tokens are admitted.
 * - `"fixed-window"`: a counter per key that starts with the key's first call
 *   and lasts `window / limit` per token taken; at most `limit` tokens are
 *   admitted while it lasts (at most `window`). In `"delay"` mode the `n`-th
 *   token of a counter waits for the start of window `⌊(n - 1) / limit⌋`
 *   (counted from the counter's start); with the memory store a call of
 *   several tokens never straddles two windows (it skips what is left of the
 *   earlier one), with experimental's stores it may, and the later window
 *   then takes up to `cost - 1` tokens more than `limit`.
 *
 * # Rejections and Retry
 *
 * {@link RateLimitExceededError} is one of the library's rejections
 * (`Errors.isRejection`): a circuit breaker never counts it as a failure of
 * the dependency, and `Retry` does not retry it by default. To wait for
 * capacity, prefer `onExceeded: "delay"`: it reserves the slot, so the wait is
 * exact even when many callers compete (retrying after `retryAfter` sends
 * them all back at once to race for the same tokens). `retryAfter` is for
 * callers that decide themselves — e.g. an HTTP handler answering `429` with
 * `Retry-After` — and for `Retry.policy({ retryRejections:
 * RateLimiter.isRateLimitExceededError })`, which opts in to retrying it and
 * then waits at least `retryAfter`.
 *
 * @since 0.1.0
 */
import type * as RateLimiterExperimental from "@effect/experimental/RateLimiter"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { InvalidKeyError, InvalidOptionsError } from "./Errors.js"
import * as errors from "./internal/rateLimiter/errors.js"
import { RateLimiterStoreError, RateLimitExceededError } from "./internal/rateLimiter/errors.js"
import * as memory from "./internal/rateLimiter/memoryStore.js"
import * as internal from "./internal/rateLimiter/rateLimiter.js"
import * as store from "./internal/rateLimiter/store.js"
import type { Policy } from "./Policy.js"

export {
  /**
   * A key `execute` refused (see `Errors.InvalidKeyError`): raised before the
   * store is asked, so nothing is charged.
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
 * import { RateLimiter } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(RateLimiter.make({ limit: 1, window: "1 second" }), (limiter) => RateLimiter.TypeId in limiter) // true
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
 * import type { RateLimiter } from "effect-resilience"
 *
 * const hasId = (u: { readonly [RateLimiter.TypeId]?: unknown }) => u
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

/**
 * The key of the optional atomic extension of a store (see {@link AtomicStore}).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(RateLimiter.makeStoreMemory(), (store) => RateLimiter.AtomicStoreTypeId in store) // true
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const AtomicStoreTypeId: unique symbol = store.AtomicStoreTypeId

/**
 * The type of {@link AtomicStoreTypeId}.
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "effect-resilience"
 *
 * type Methods = RateLimiter.AtomicStore[RateLimiter.AtomicStoreTypeId] // reserve, refund, …
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type AtomicStoreTypeId = typeof AtomicStoreTypeId

/**
 * The unique symbol that marks the values of this module (`MemoryStoreTypeId in value`).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect, Predicate } from "effect"
 *
 * const isMemoryStore = (store: RateLimiter.RateLimiterStore) => Predicate.hasProperty(store, RateLimiter.MemoryStoreTypeId)
 * const program = Effect.map(RateLimiter.makeStoreMemory(), isMemoryStore) // true
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
 * import type { RateLimiter } from "effect-resilience"
 *
 * type Tagged = RateLimiter.MemoryStore[RateLimiter.MemoryStoreTypeId]
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type MemoryStoreTypeId = typeof MemoryStoreTypeId

/**
 * The store service, a `Context.Reference`. A limiter uses, in this order:
 *
 * 1. the store provided under this reference: {@link layerStoreMemory},
 *    the Redis store's layer (`effect-resilience/redis`),
 *    {@link layerStoreExperimental}, or
 *    `Layer.succeed(RateLimiter.RateLimiterStore, store)`;
 * 2. else `@effect/experimental`'s `RateLimiterStore` when one is provided
 *    (experimental's `layerStoreMemory`, or its `RateLimiter/Redis`
 *    `layerStore`): honoured as {@link layerStoreExperimental} would, never
 *    ignored;
 * 3. else a private memory store (default options) for that limiter alone,
 *    which lives as long as the limiter's scope: limiters share limits only
 *    through a store they are given.
 *
 * Read directly without a layer, the reference gives its default value: a
 * memory store of default options without a sweeper.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.make({ limit: 10, window: "1 second", name: "api" })
 *   return yield* Effect.succeed("ok").pipe(limiter)
 * }).pipe(Effect.scoped, Effect.provide(RateLimiter.layerStoreMemory({ maxKeys: 50_000 })))
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export const RateLimiterStore: Context.Reference<RateLimiterStore, RateLimiterStore> = memory.RateLimiterStore

/**
 * The service of {@link RateLimiterStore}: `fixedWindow` and `tokenBucket`,
 * as `@effect/experimental` defines them (any of experimental's stores is
 * one), optionally with the library's atomic extension ({@link AtomicStore}),
 * which this library's memory and Redis stores implement.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Duration, Effect } from "effect"
 *
 * // the interface experimental's stores implement (its Redis store, or this library's memory store)
 * const take = (store: RateLimiter.RateLimiterStore) =>
 *   store.tokenBucket({ key: "k", tokens: 1, limit: 10, refillRate: Duration.millis(100), allowOverflow: false })
 * const program = Effect.flatMap(RateLimiter.RateLimiterStore, take).pipe(Effect.provide(RateLimiter.layerStoreMemory()))
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type RateLimiterStore = Context.Tag.Service<typeof RateLimiterExperimental.RateLimiterStore>

/**
 * How a limiter counts: `"token-bucket"` or `"fixed-window"` (see the module
 * documentation).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 *
 * const algorithm: RateLimiter.Algorithm = "fixed-window"
 * const limiter = RateLimiter.make({ limit: 100, window: "1 minute", algorithm })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type Algorithm = "token-bucket" | "fixed-window"

/**
 * What a limiter does with a call over the limit: `"fail"` rejects it at
 * once; `"delay"` makes it wait for its slot (within `maxDelay` and the
 * enclosing deadline).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 *
 * const onExceeded: RateLimiter.OnExceeded = "delay"
 * const limiter = RateLimiter.make({ limit: 10, window: "1 second", onExceeded, maxDelay: "2 seconds" })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type OnExceeded = "delay" | "fail"

/**
 * Why a call was rejected:
 * - `"LimitExceeded"`: over the limit in `"fail"` mode;
 * - `"MaxDelayExceeded"`: in `"delay"` mode, it would have waited longer than `maxDelay`;
 * - `"Deadline"`: in `"delay"` mode, its wait would have reached the deadline
 *   of an enclosing `Timeout`.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 *
 * const describe = (e: RateLimiter.RateLimitExceededError) =>
 *   e.reason === "Deadline" ? "no time left to wait" : e.reason === "MaxDelayExceeded" ? "queue too long" : "over the limit"
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type RejectionReason = "LimitExceeded" | "MaxDelayExceeded" | "Deadline"

export {
  /**
   * A call was over the rate limit and was not run (nor charged): a
   * rejection with `retryAfter` (see {@link isRateLimitExceededError}).
   *
   * @since 0.1.0
   * @category Errors
   */
  RateLimitExceededError,
  /**
   * The store failed and the limiter fails closed (`onStoreError: "fail"`):
   * the call was not run. A rejection.
   *
   * @since 0.1.0
   * @category Errors
   */
  RateLimiterStoreError
}

/**
 * True for {@link RateLimitExceededError}. Pass it to `Retry.policy`'s
 * `retryRejections` to retry rate-limit rejections after their `retryAfter`.
 *
 * @example
 * ```ts
 * import { RateLimiter, Retry } from "effect-resilience"
 *
 * RateLimiter.isRateLimitExceededError(new Error("x")) // false
 *
 * const retry = Retry.policy({
 *   schedule: Retry.constant("50 millis"),
 *   retryRejections: RateLimiter.isRateLimitExceededError // waits max(50 ms, retryAfter)
 * })
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isRateLimitExceededError: (u: unknown) => u is RateLimitExceededError = errors.isRateLimitExceededError

/**
 * What a limiter did: the equivalent of resilience4j's rate limiter events.
 * Emitted only while someone subscribes to `events`.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.make({ limit: 10, window: "1 second" })
 *   yield* limiter.events.pipe(
 *     Stream.filter((e): e is Extract<RateLimiter.RateLimiterEvent, { _tag: "Rejected" }> => e._tag === "Rejected"),
 *     Stream.runForEach((e) => Effect.log(`rejected ${e.key}: retry after ${e.retryAfter}`)),
 *     Effect.forkScoped
 *   )
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type RateLimiterEvent =
  | {
    readonly _tag: "Permitted"
    readonly policy: string
    readonly key: string | undefined
    readonly cost: number
  }
  | {
    readonly _tag: "Delayed"
    readonly policy: string
    readonly key: string | undefined
    readonly cost: number
    readonly delay: Duration.Duration
  }
  | {
    readonly _tag: "Rejected"
    readonly policy: string
    readonly key: string | undefined
    readonly cost: number
    readonly reason: RejectionReason
    readonly retryAfter: Duration.Duration
  }
  | {
    readonly _tag: "StoreError"
    readonly policy: string
    readonly key: string | undefined
    readonly error: unknown
    /** True when the call was let through (`onStoreError: "allow"`). */
    readonly allowed: boolean
  }

/**
 * A rate limiter: a policy (callable, one limit) with `execute(self, { key })`
 * (one limit per key).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const limiter: RateLimiter.RateLimiter = yield* RateLimiter.make({ limit: 5, window: "1 second", name: "api" })
 *   yield* Effect.succeed(1).pipe(limiter) // one limit
 *   yield* Effect.succeed(2).pipe(limiter.execute({ key: "tenant-a" })) // one limit per key
 *   return yield* limiter.stats() // { permitted: 2, delayed: 0, rejected: 0, storeErrors: 0 }
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface RateLimiter extends Policy<RateLimitExceededError | RateLimiterStoreError> {
  readonly [TypeId]: TypeId
  /** The limiter's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  /** The options in effect, defaults applied. */
  readonly options: RateLimiter.Resolved
  /**
   * Runs `self` under the limit of `key` (keys are independent, and
   * independent of the callable form's limit; the store key is
   * `<name.length>:<name>:<key>`). `cost` overrides the limiter's cost for
   * this call. Data-first or data-last. A key that is not a well-formed
   * string of at most `maxKeyLength` code units fails with `InvalidKeyError`
   * before the store is asked: nothing is charged.
   */
  readonly execute: {
    (options: RateLimiter.ExecuteOptions): <A, E, R>(
      self: Effect.Effect<A, E, R>
    ) => Effect.Effect<A, E | RateLimitExceededError | RateLimiterStoreError | InvalidKeyError, R>
    <A, E, R>(
      self: Effect.Effect<A, E, R>,
      options: RateLimiter.ExecuteOptions
    ): Effect.Effect<A, E | RateLimitExceededError | RateLimiterStoreError | InvalidKeyError, R>
  }
  /** Everything the limiter did, as a `Stream` (one bounded buffer per subscriber). */
  readonly events: Stream.Stream<RateLimiterEvent>
  /** Counts since creation: calls run at once, run after a wait, rejected, store errors. */
  readonly stats: () => Effect.Effect<RateLimiter.Stats>
  /** The synchronous twin of `stats`, for hot paths and tests. */
  readonly unsafeStats: () => RateLimiter.Stats
}

/**
 * The types that go with {@link RateLimiter}.
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "effect-resilience"
 *
 * const options: RateLimiter.RateLimiter.Options = { limit: 10, window: "1 second" }
 * ```
 *
 * @since 0.1.0
 */
export declare namespace RateLimiter {
  /**
   * Options of {@link make}.
   *
   * @example
   * ```ts
   * import type { RateLimiter } from "effect-resilience"
   *
   * const options: RateLimiter.RateLimiter.Options = {
   *   limit: 100, // required
   *   window: "1 minute", // required
   *   algorithm: "token-bucket", // default
   *   onExceeded: "delay", // default "fail"
   *   maxDelay: "5 seconds", // default: unbounded ("delay" only)
   *   cost: 1, // default
   *   onStoreError: "fail", // default
   *   metricsInterval: "1 second", // default
   *   name: "api" // default "rate-limiter"
   * }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Options {
    /** Tokens per `window`: an integer >= 1. With a token bucket it is also the burst. */
    readonly limit: number
    /** A finite duration > 0. */
    readonly window: Duration.DurationInput
    /** Defaults to `"token-bucket"`. */
    readonly algorithm?: Algorithm | undefined
    /** Defaults to `"fail"`. */
    readonly onExceeded?: OnExceeded | undefined
    /** Tokens each call takes: an integer in `[1, limit]`. Defaults to 1. */
    readonly cost?: number | undefined
    /**
     * In `"delay"` mode, the longest a call may wait for its slot (>= 0, may
     * be infinite); a call that would wait longer is rejected without being
     * charged. The deadline of an enclosing `Timeout` also bounds the wait.
     * Defaults to no bound other than that deadline. Only with `"delay"`.
     */
    readonly maxDelay?: Duration.DurationInput | undefined
    /**
     * When the store fails: `"fail"` rejects the call with
     * {@link RateLimiterStoreError} (fail closed, the default); `"allow"` runs
     * it (fail open).
     */
    readonly onStoreError?: "fail" | "allow" | undefined
    /**
     * How often the `resilience_rate_limiter_permitted` counter is published:
     * the success path only bumps a plain counter, and the first call
     * permitted after each interval adds it to the metric (as does closing
     * the limiter's scope); no fiber, no timer. Defaults to 1 second; an
     * infinite duration turns it off.
     */
    readonly metricsInterval?: Duration.DurationInput | undefined
    /**
     * Names the limiter in errors, metrics and events, and prefixes its store
     * keys: limiters with the same name and key share their limit in a shared
     * store (that is how replicas share it through Redis). Defaults to
     * `"rate-limiter"`.
     */
    readonly name?: string | undefined
    /**
     * The longest key `execute` accepts, in UTF-16 code units: an integer in
     * [1, 16,383]. Defaults to 1,024. Longer keys fail with `InvalidKeyError`.
     */
    readonly maxKeyLength?: number | undefined
  }

  /**
   * The options of a limiter as read from `Config` ({@link config},
   * {@link fromConfig}, {@link layerConfig}): every option is data, so they
   * are the {@link Options} themselves. From `Config`, durations are strings
   * such as `"1 second"` or `"Infinity"` (or `Duration`s, from
   * `Config.duration`). Defaults and ranges: docs/Options.md#ratelimiter.
   *
   * @example
   * ```ts
   * import { RateLimiter } from "effect-resilience"
   * import { Config } from "effect"
   *
   * const config: Config.Config.Wrap<RateLimiter.RateLimiter.ConfigOptions> = {
   *   limit: Config.integer("API_LIMIT"),
   *   window: Config.duration("API_WINDOW")
   * }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export type ConfigOptions = Options

  /**
   * The options of a limiter, defaults applied.
   *
   * @example
   * ```ts
   * import { RateLimiter } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const program = Effect.map(RateLimiter.make({ limit: 10, window: "1 second" }), (l) => l.options.algorithm) // "token-bucket"
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Resolved {
    readonly limit: number
    readonly window: Duration.Duration
    readonly algorithm: Algorithm
    readonly onExceeded: OnExceeded
    readonly cost: number
    /** `Duration.infinity` when unbounded; zero in `"fail"` mode. */
    readonly maxDelay: Duration.Duration
    readonly onStoreError: "fail" | "allow"
    readonly name: string
    readonly metricsInterval: Duration.Duration
    readonly maxKeyLength: number
  }

  /**
   * Options of `execute`.
   *
   * @example
   * ```ts
   * import { RateLimiter } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * // an LLM call costs as many tokens as it uses
   * const complete = (limiter: RateLimiter.RateLimiter, tenant: string, tokens: number) =>
   *   Effect.succeed("…").pipe(limiter.execute({ key: tenant, cost: tokens }))
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface ExecuteOptions {
    /** The limit's key: a well-formed string of at most `maxKeyLength` code units. */
    readonly key: string
    /** Tokens this call takes, an integer in `[1, limit]`. Defaults to the limiter's `cost`. */
    readonly cost?: number | undefined
  }

  /**
   * @example
   * ```ts
   * import { RateLimiter } from "effect-resilience"
   *
   * const rejectionRate = (stats: RateLimiter.RateLimiter.Stats) =>
   *   stats.rejected / Math.max(1, stats.permitted + stats.delayed + stats.rejected)
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    /** Calls run at once. */
    readonly permitted: number
    /** Calls run after waiting for their slot. */
    readonly delayed: number
    readonly rejected: number
    readonly storeErrors: number
  }
}

/**
 * A request to reserve `tokens` for `key` (see {@link AtomicStore}).
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "effect-resilience"
 *
 * const request: RateLimiter.ReserveRequest = {
 *   key: "3:api:tenant-a",
 *   algorithm: "token-bucket",
 *   tokens: 1,
 *   limit: 10,
 *   windowMillis: 1_000,
 *   maxDelayMillis: 500
 * }
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface ReserveRequest {
  readonly key: string
  readonly algorithm: Algorithm
  readonly tokens: number
  readonly limit: number
  readonly windowMillis: number
  /** The longest the call may wait: 0 admits only calls that can run at once; `Infinity` admits all. */
  readonly maxDelayMillis: number
}

/**
 * The answer to a {@link ReserveRequest}.
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "effect-resilience"
 *
 * const explain = (r: RateLimiter.Reservation) =>
 *   r.admitted ? `run in ${r.delayMillis} ms` : `rejected, retry in ${r.retryAfterMillis} ms`
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Reservation {
  /** True when the tokens were taken. A rejected request is never charged. */
  readonly admitted: boolean
  /** Admitted: how long to wait before running (0: at once). Rejected: how long it would have waited. */
  readonly delayMillis: number
  /** Rejected: how long until the request would be admitted within its `maxDelayMillis`. */
  readonly retryAfterMillis: number
  /** Tokens left (>= 0). */
  readonly remaining: number
  /** Admitted: identifies the charge, for `refund` (which only gives back the latest charge of a key). */
  readonly generation?: number | undefined
  /**
   * How long until the key's quota next grows, when the store can tell: with
   * a token bucket, until its next token; with a fixed window, until the
   * counter resets. This library's memory and Redis stores give it (and a
   * plain experimental store for a fixed window); `ResilientHttpServer`
   * sends it as the reset (`t`) of its `RateLimit` header.
   */
  readonly resetMillis?: number | undefined
}

/**
 * The optional atomic extension of a `RateLimiterStore`. experimental's
 * interface cannot take tokens *only if* the resulting wait fits a bound, so
 * with a plain store the limiter's bounded `"delay"` mode takes several store
 * calls (and under a race between replicas a call may end up waiting longer
 * than `maxDelay`), an interrupted waiter's tokens are not given back, and a
 * fixed-window call of several tokens may straddle two windows. A store that
 * also implements this extension (this library's memory store; a Redis store
 * as one Lua script) answers in one atomic step and has none of these limits.
 *
 * - `reserve` takes the tokens if the call is admitted within
 *   `maxDelayMillis`, and nothing otherwise; a fixed-window call never
 *   straddles two windows;
 * - `refund` gives back the tokens of an admitted reservation whose caller
 *   was interrupted while waiting, if it is still the latest charge of its
 *   key (giving back an earlier one would let a newcomer start together with
 *   a later reservation);
 * - in-process stores may offer the synchronous `unsafeReserve`/`unsafeRefund`
 *   (given the `Clock`'s time), which the limiter then uses on its hot path.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* RateLimiter.makeStoreMemory()
 *   const reservation = yield* store[RateLimiter.AtomicStoreTypeId].reserve({
 *     key: "k", algorithm: "token-bucket", tokens: 1, limit: 1, windowMillis: 1_000, maxDelayMillis: 0
 *   })
 *   return reservation.admitted // true: the bucket was full
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface AtomicStore {
  readonly [AtomicStoreTypeId]: {
    readonly reserve: (
      request: ReserveRequest
    ) => Effect.Effect<Reservation, RateLimiterExperimental.RateLimiterError>
    readonly refund: (
      request: ReserveRequest,
      reservation: Reservation
    ) => Effect.Effect<void, RateLimiterExperimental.RateLimiterError>
    readonly unsafeReserve?: ((now: number, request: ReserveRequest) => Reservation) | undefined
    readonly unsafeRefund?: ((now: number, request: ReserveRequest, reservation: Reservation) => void) | undefined
  }
}

/**
 * True for stores that implement the {@link AtomicStore} extension.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(RateLimiter.makeStoreMemory(), RateLimiter.isAtomicStore) // true
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isAtomicStore: (u: unknown) => u is AtomicStore = store.isAtomicStore

/**
 * Options of the memory store.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 *
 * const options: RateLimiter.MemoryStoreOptions = { maxKeys: 50_000, sweepInterval: "30 seconds" }
 * const store = RateLimiter.layerStoreMemory(options)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface MemoryStoreOptions {
  /**
   * The most keys kept (an integer >= 1). When full, a new key evicts an old
   * one (idle keys first, then roughly the least recently used), in O(1)
   * whatever the number held; an evicted key that was still limiting starts
   * afresh, which `stats()`'s `evicted` counts. Defaults to 100,000. Keys are at
   * most `maxKeyLength` code units plus the limiter's name, so key strings
   * take at most about `maxKeys × maxKeyLength × 2` bytes: 204.8 MB at the
   * defaults (100,000 × 1,024 × 2 B), besides ~100 B of state per key.
   */
  readonly maxKeys?: number | undefined
  /**
   * How often idle keys (refilled buckets, expired counters) are deleted.
   * Forgetting one changes only the phase of a bucket's refill: used again,
   * it refills from that use, so its next token may come up to one refill
   * interval later than if it had been kept (never sooner). Defaults to 1 minute;
   * an infinite duration disables the sweep (the `maxKeys` bound still holds).
   */
  readonly sweepInterval?: Duration.DurationInput | undefined
}

/**
 * The memory store: experimental's `RateLimiterStore` interface (same
 * results as experimental's memory store) with the {@link AtomicStore}
 * extension, bounded memory and accessors.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store: RateLimiter.MemoryStore = yield* RateLimiter.makeStoreMemory({ maxKeys: 1_000 })
 *   yield* store.sweep
 *   return yield* store.stats() // { keys: 0, maxKeys: 1000, expired: 0, evicted: 0 }
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface MemoryStore extends RateLimiterStore, AtomicStore {
  readonly [MemoryStoreTypeId]: MemoryStoreTypeId
  /** Keys held now. */
  readonly size: () => Effect.Effect<number>
  /** The synchronous twin of `size`. */
  readonly unsafeSize: () => number
  /** Deletes the idle keys now; returns how many. */
  readonly sweep: Effect.Effect<number>
  /** Keys held, the bound, and the keys deleted since the store was made. */
  readonly stats: () => Effect.Effect<MemoryStore.Stats>
  /** The synchronous twin of `stats`. */
  readonly unsafeStats: () => MemoryStore.Stats
}

/**
 * The types that go with {@link MemoryStore}.
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "effect-resilience"
 *
 * const evictedShare = (stats: RateLimiter.MemoryStore.Stats) => stats.evicted / Math.max(1, stats.keys)
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
   * import type { RateLimiter } from "effect-resilience"
   *
   * const options: RateLimiter.MemoryStore.Options = { maxKeys: 10_000 }
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
   * import type { RateLimiter } from "effect-resilience"
   *
   * const full = (stats: RateLimiter.MemoryStore.Stats) => stats.keys === stats.maxKeys
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    readonly keys: number
    readonly maxKeys: number
    /** Idle keys deleted. */
    readonly expired: number
    /** Keys still limiting that were evicted because the store was full. */
    readonly evicted: number
  }
}

/**
 * Makes a rate limiter. Uses the store {@link RateLimiterStore} describes:
 * the one provided, else experimental's when provided, else a private memory
 * store (default options) that lives as long as the scope. Time comes from the `Clock` in scope when the limiter is made
 * (`TestClock` in tests), as for the library's other policies. Fails with
 * `InvalidOptionsError` for invalid options.
 *
 * Defaults: `algorithm: "token-bucket"`, `onExceeded: "fail"`, `cost: 1`,
 * `maxDelay` unbounded (only with `"delay"`), `onStoreError: "fail"`,
 * `name: "rate-limiter"`, `metricsInterval: "1 second"`.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   // 100 calls per second per user; a call waits at most 2 seconds for its slot
 *   const limiter = yield* RateLimiter.make({
 *     limit: 100,
 *     window: "1 second",
 *     onExceeded: "delay",
 *     maxDelay: "2 seconds",
 *     name: "api"
 *   })
 *   const call = Effect.succeed("ok")
 *   yield* call.pipe(limiter) // one shared limit
 *   return yield* call.pipe(limiter.execute({ key: "user-42" })) // one limit per key
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: (options: RateLimiter.Options) => Effect.Effect<RateLimiter, InvalidOptionsError, Scope.Scope> =
  internal.make

/**
 * True for a rate limiter made by {@link make}.
 *
 * @example
 * ```ts
 * import { RateLimiter, Timeout } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(RateLimiter.make({ limit: 1, window: "1 second" }), RateLimiter.isRateLimiter) // true
 * RateLimiter.isRateLimiter(Timeout.make("1 second")) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isRateLimiter: (u: unknown) => u is RateLimiter = internal.isRateLimiter

/**
 * Makes a bounded memory store (see {@link MemoryStoreOptions}); its sweep
 * fiber lives as long as the scope. Provide it with
 * `Layer.succeed(RateLimiter.RateLimiterStore, store)` when you need its
 * accessors, or use {@link layerStoreMemory}.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* RateLimiter.makeStoreMemory({ maxKeys: 10_000 })
 *   const limiter = yield* RateLimiter.make({ limit: 5, window: "1 second" }).pipe(
 *     Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
 *   )
 *   yield* Effect.succeed(1).pipe(limiter.execute({ key: "a" }))
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
 * Provides the bounded memory store as the {@link RateLimiterStore}: limiters
 * made under it share it (a limiter's keys are prefixed by its name).
 * Replaces experimental's `layerStoreMemory`, which never deletes a key.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.make({ limit: 10, window: "1 minute", name: "login" })
 *   return yield* Effect.succeed("signed in").pipe(limiter.execute({ key: "alice@example.com" }))
 * }).pipe(Effect.scoped, Effect.provide(RateLimiter.layerStoreMemory({ maxKeys: 100_000, sweepInterval: "30 seconds" })))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerStoreMemory: (
  options?: MemoryStoreOptions
) => Layer.Layer<RateLimiterStore, InvalidOptionsError> = memory.layerStoreMemory

/**
 * Provides `@effect/experimental`'s `RateLimiterStore` (its memory store, or
 * its `RateLimiter/Redis` `layerStore`) as the {@link RateLimiterStore}: the
 * explicit form of what a limiter does when it finds experimental's store and
 * none of this library's. The limiter then talks experimental's interface (a
 * "plain" store: see {@link AtomicStore} for what that costs).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import * as RateLimiterExperimental from "@effect/experimental/RateLimiter"
 * import { Effect, Layer } from "effect"
 *
 * const StoreLive = RateLimiter.layerStoreExperimental.pipe(Layer.provide(RateLimiterExperimental.layerStoreMemory))
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.make({ limit: 10, window: "1 second", name: "api" })
 *   return yield* Effect.succeed("ok").pipe(limiter)
 * }).pipe(Effect.scoped, Effect.provide(StoreLive))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerStoreExperimental: Layer.Layer<RateLimiterStore, never, RateLimiterExperimental.RateLimiterStore> =
  memory.layerStoreExperimental

/**
 * Provides a rate limiter under your own `Context.Tag` (see
 * `Policy.fromTag`). The limiter uses the store given to the layer, as
 * {@link RateLimiterStore} describes. Fails with `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Policy, RateLimiter } from "effect-resilience"
 * import { Context, Effect } from "effect"
 *
 * class ApiLimiter extends Context.Tag("app/ApiLimiter")<ApiLimiter, RateLimiter.RateLimiter>() {}
 * const live = RateLimiter.layer(ApiLimiter, { limit: 50, window: "1 second", name: "api" })
 *
 * const apiLimit = Policy.fromTag(ApiLimiter)
 * const program = Effect.succeed("ok").pipe(apiLimit, Effect.provide(live))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer: <I, S>(
  tag: Context.Tag<I, S>,
  options: RateLimiter.Options & ([RateLimiter] extends [S] ? unknown : never)
) => Layer.Layer<I, InvalidOptionsError> = internal.layer

/**
 * Provides a rate limiter under your own `Context.Tag` with its options read
 * from `Config` ({@link config}, a `Config` of the options, or a record of
 * `Config`s with your own names). Invalid values fail the layer with
 * `InvalidOptionsError` naming the config key; missing or malformed config
 * with a `ConfigError`.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class ApiLimiter extends Context.Tag("app/ApiLimiter")<ApiLimiter, RateLimiter.RateLimiter>() {}
 * // API_LIMIT=50 API_WINDOW="1 second"
 * const live = RateLimiter.layerConfig(ApiLimiter, {
 *   limit: Config.integer("API_LIMIT"),
 *   window: Config.duration("API_WINDOW"),
 *   onExceeded: Config.literal("fail", "delay")("API_ON_EXCEEDED").pipe(Config.withDefault("fail" as const)),
 *   name: Config.succeed("api")
 * })
 * // or every option under a prefix: api_limit=50 api_window="1 second"
 * const nested = RateLimiter.layerConfig(ApiLimiter, Config.nested(RateLimiter.config, "api"))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig: <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<RateLimiter.ConfigOptions> & ([RateLimiter] extends [S] ? unknown : never)
) => Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> = internal.layerConfig

/**
 * The `Config` of a rate limiter's options, each under its own name
 * (`limit`, `window`, `algorithm`, `onExceeded`, `cost`, `maxDelay`,
 * `onStoreError`, `name`, `metricsInterval`, `maxKeyLength`; the table in
 * docs/Options.md#ratelimiter). Nest it to give it a prefix; with
 * `ConfigProvider.constantCase`, `Config.nested(RateLimiter.config, "api")`
 * reads `API_LIMIT`, `API_WINDOW`, `API_ON_EXCEEDED`, … `limit` and `window`
 * are required (a `ConfigError` when missing); durations are strings such as
 * `"1 second"` or `"Infinity"`.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class ApiLimiter extends Context.Tag("app/ApiLimiter")<ApiLimiter, RateLimiter.RateLimiter>() {}
 * // api_limit=50 api_window="1 second" (or API_LIMIT=50 with ConfigProvider.constantCase)
 * const live = RateLimiter.layerConfig(ApiLimiter, Config.nested(RateLimiter.config, "api"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<RateLimiter.ConfigOptions> = internal.config

/**
 * Makes a rate limiter (in the current scope, with the store in the context,
 * as {@link make} does) with its options read from `Config`: {@link config},
 * a `Config` of the options or a record of `Config`s. Missing or malformed
 * values fail with a `ConfigError`; out-of-range ones with
 * `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-resilience"
 * import { Config, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.fromConfig(Config.nested(RateLimiter.config, "api"))
 *   return yield* Effect.succeed("ok").pipe(limiter)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config: Config.Config.Wrap<RateLimiter.ConfigOptions>
) => Effect.Effect<RateLimiter, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> = internal.fromConfig
