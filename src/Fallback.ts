/**
 * Fallbacks: when an effect fails with an error you chose, serve something
 * else — a value, another effect (which receives the error), the first
 * success of a chain of sources (primary → cache → secondary → default), or
 * the last good value, marked as stale ({@link staleIfError}).
 *
 * - Only the typed errors you select are handled: every typed error with
 *   {@link value}, {@link effect} and {@link chain}; some with a
 *   {@link Selector} first — `Fallback.tags("NotFound").value(null)`,
 *   `Fallback.instanceOf(Unavailable).effect(…)`, `Fallback.when(pred).chain(…)`.
 *   Defects and interruptions are never swallowed unless asked with
 *   `defects` / `interruptions`.
 * - Those fallbacks are `Transform`s: the handled errors leave the error
 *   channel (`Fallback.tags("NotFound")` removes exactly `{ _tag: "NotFound" }`
 *   from `E`; a catch-all removes every typed error), and the fallback's
 *   success type joins `A`. `Policy.compose`
 *   and `Policy.pipeline({ fallback })` compute the resulting types.
 * - {@link staleIfError} is a fallback over one value type `A`: it accepts
 *   effects of `A` only (it may answer with a remembered `A`) and keeps their
 *   errors (a cold or expired cache re-raises the error); its `serve` method
 *   tells fresh from stale. It remembers values off the caller's path: a slow
 *   or paused store never slows a fresh answer.
 *
 * Effect's `ExecutionPlan` (`Effect.withExecutionPlan`) covers the other kind
 * of fallback — switching *providers* (one `Layer` after another, with
 * retries per step). Use it for "OpenAI, then Anthropic"; use `Fallback` for
 * values, caches and defaults, typically outside the plan (see the README).
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type { InvalidKeyError, InvalidOptionsError } from "./Errors.js"
import type * as errors from "./internal/fallback/errors.js"
import * as internal from "./internal/fallback/fallback.js"
import * as memoryStore from "./internal/fallback/memoryStore.js"
import * as staleOptions from "./internal/fallback/options.js"
import * as stale from "./internal/fallback/staleIfError.js"
import type { Transform } from "./Policy.js"

// ---------------------------------------------------------------------------
// Type IDs

/**
 * The type id every fallback made by {@link value}, {@link effect} and
 * {@link chain} (and a selector's) carries (see {@link isFallback}).
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 *
 * Fallback.TypeId in Fallback.value(0) // true
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
 * import type { Fallback } from "effect-resilience"
 *
 * type Id = Fallback.TypeId
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

/**
 * The type id every {@link staleIfError} policy carries (see
 * {@link isStaleIfError}).
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(
 *   Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 100 }),
 *   (cache) => Fallback.StaleIfErrorTypeId in cache // true
 * )
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const StaleIfErrorTypeId: unique symbol = stale.TypeId

/**
 * The type of {@link StaleIfErrorTypeId}.
 *
 * @example
 * ```ts
 * import type { Fallback } from "effect-resilience"
 *
 * type Id = Fallback.StaleIfErrorTypeId
 * ```
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type StaleIfErrorTypeId = typeof StaleIfErrorTypeId

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * A fallback: a `Transform` that handles the errors `Handled` (they leave the
 * error channel), may succeed with `A2`, and may fail with `E2` (the error of
 * its last source) and require `R2`.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const orZero: Fallback.Fallback<number, unknown> = Fallback.value(0, { name: "orZero" })
 * const program = Effect.gen(function*() {
 *   const n = yield* Effect.fail("boom").pipe(orZero) // 0
 *   return { n, stats: yield* orZero.stats() } // { calls: 1, handled: 1, served: 1, exhausted: 0 }
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Fallback<out A2, in out Handled, out E2 = never, out R2 = never, in AIn = unknown>
  extends Transform<A2, Handled, E2, R2, unknown, AIn>
{
  readonly [TypeId]: TypeId
  /** The policy's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  /** What the fallback did, as a `Stream` (one buffer per subscriber). */
  readonly events: Stream.Stream<FallbackEvent>
  /** Counts since creation, as a snapshot (kept in plain counters, cheap on the fast path). */
  readonly stats: () => Effect.Effect<Fallback.Stats>
  /** {@link Fallback.stats} read synchronously: the form for hot paths and plain functions. */
  readonly unsafeStats: () => Fallback.Stats
}

type FallbackOptions = Options

/**
 * The types that go with {@link Fallback}.
 *
 * @since 0.1.0
 */
export declare namespace Fallback {
  /**
   * Options of the fallbacks (the same type as the module-level
   * {@link Options}, here beside the fallback's other types).
   *
   * @example
   * ```ts
   * import type { Fallback } from "effect-resilience"
   *
   * const options: Fallback.Fallback.Options = { name: "prices" }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export type Options = FallbackOptions
  /**
   * Counts kept by a fallback.
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    /** Calls that went through the fallback. */
    readonly calls: number
    /** Failures the fallback handled (the primary failed with a selected error). */
    readonly handled: number
    /** Calls answered by a fallback source. */
    readonly served: number
    /** Calls on which every fallback source failed too. */
    readonly exhausted: number
  }

  /**
   * A fallback source: an effect, or a function of the handled error that
   * returns one.
   *
   * @since 0.1.0
   * @category Models
   */
  export type Source<In> = Effect.Effect<any, any, any> | ((error: In) => Effect.Effect<any, any, any>)

  /**
   * What a fallback source receives: the handled error `P` (typed by the
   * selector), or an {@link Unexpected} when the options `O` enable
   * `defects` or `interruptions`.
   *
   * @since 0.1.0
   * @category Models
   */
  export type Input<P, O> =
    | P
    | (true extends Flag<O, "defects"> | Flag<O, "interruptions"> ? Unexpected : never)
    | (O extends { readonly whenResult: (value: infer A) => any } ? RejectedResult<A> : never)

  /**
   * The value type a fallback with options `O` accepts: the parameter of its
   * `whenResult` predicate, `unknown` without one.
   *
   * @since 0.1.0
   * @category Models
   */
  export type ValueOf<O> = O extends { readonly whenResult: (value: infer A) => any } ? A : unknown

  /**
   * Whether the option `K` of `O` is set to something other than
   * `false`/`undefined`.
   *
   * @since 0.1.0
   * @category Models
   */
  export type Flag<O, K extends string> = O extends { readonly [P in K]: infer X }
    ? [X] extends [false | undefined] ? false : true
    : false

  /**
   * The success types of a chain's sources.
   *
   * @since 0.1.0
   * @category Models
   */
  export type SuccessOf<S extends ReadonlyArray<unknown>> = {
    [K in keyof S]: S[K] extends Effect.Effect<infer A, any, any> ? A
      : S[K] extends (...args: any) => Effect.Effect<infer A, any, any> ? A
      : never
  }[number]

  /**
   * The requirements of a chain's sources.
   *
   * @since 0.1.0
   * @category Models
   */
  export type ContextOf<S extends ReadonlyArray<unknown>> = {
    [K in keyof S]: S[K] extends Effect.Effect<any, any, infer R> ? R
      : S[K] extends (...args: any) => Effect.Effect<any, any, infer R> ? R
      : never
  }[number]

  /**
   * The error of a chain: the error of its last source (the earlier sources'
   * failures move on to the next source).
   *
   * @since 0.1.0
   * @category Models
   */
  export type LastError<S extends ReadonlyArray<unknown>> = S extends readonly [...Array<unknown>, infer L]
    ? L extends Effect.Effect<any, infer E, any> ? E
    : L extends (...args: any) => Effect.Effect<any, infer E, any> ? E
    : never
    : never
}

/**
 * What a fallback did — the equivalent of Polly's `OnFallback`.
 *
 * - `FallbackServed`: a source answered (`source` is its 1-based position
 *   in the chain, or `"stale"` for {@link staleIfError}, with `key` and
 *   `age`); `error` is what made the primary fail.
 * - `FallbackExhausted`: every source failed; `error` is the last one's.
 * - `StaleMiss`: {@link staleIfError} had nothing fresh enough to serve.
 * - `StoreError`: the stale store failed (the call goes on without it).
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const prices = Fallback.chain([Effect.fail("cache miss"), Effect.succeed(41)], { name: "prices" })
 * const logEvents = prices.events.pipe(
 *   Stream.runForEach((e: Fallback.FallbackEvent) =>
 *     Effect.log(e._tag === "FallbackServed" ? `served by source ${e.source}` : e._tag)
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type FallbackEvent =
  | {
    readonly _tag: "FallbackServed"
    readonly policy: string
    readonly source: number | "stale"
    readonly error: unknown
    readonly key?: string | undefined
    readonly age?: Duration.Duration | undefined
  }
  | {
    readonly _tag: "FallbackExhausted"
    readonly policy: string
    readonly sources: number
    readonly error: unknown
  }
  | {
    readonly _tag: "StaleMiss"
    readonly policy: string
    readonly key: string
    readonly error: unknown
  }
  | {
    readonly _tag: "StoreError"
    readonly policy: string
    readonly key: string
    readonly error: StaleStoreError
  }

/**
 * Options of {@link value}, {@link effect} and {@link chain} (and of the same
 * methods on a {@link Selector}).
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 *
 * const options: Fallback.Options = {
 *   defects: (defect) => defect instanceof RangeError, // also these defects
 *   interruptions: true, // and inner interruptions
 *   name: "lenient"
 * }
 * const lenient = Fallback.value("default", options)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /**
   * Also fall back on defects (all of them with `true`, or those matched by
   * the predicate). The source then receives an {@link Unexpected}. Defaults
   * to `false`: defects are never swallowed. A predicate that throws or
   * answers anything but a boolean does not handle the defect (reported; see
   * "User code" in the docs).
   */
  readonly defects?: boolean | ((defect: unknown) => boolean) | undefined
  /**
   * Also fall back when the effect failed with an interruption only (an inner
   * fiber was interrupted, e.g. `Effect.interrupt`). The caller's own
   * interruption can never be caught: an interrupted fiber runs no handlers.
   * The source receives an {@link Unexpected}. Defaults to `false`.
   */
  readonly interruptions?: boolean | undefined
  /** A name for metrics, events and descriptors. Defaults to `"fallback"`. */
  readonly name?: string | undefined
  /**
   * Also fall back when the primary succeeds with a value this predicate
   * treats as a failure (cockatiel's `handleWhenResult`, Polly's fallback
   * `ShouldHandle` with `HandleResult`): e.g. `(r: Response) => r.status ===
   * 503`. The source then receives a {@link RejectedResult} carrying the
   * value (as it receives an {@link Unexpected} for a defect). The fallback
   * is typed on the predicate's parameter: it accepts only effects whose
   * success type is assignable to it (annotate the parameter). If the
   * predicate throws or answers anything but a boolean, the value is
   * accepted (returned; reported, see "User code"). Without it the primary's
   * success path checks nothing.
   */
  readonly whenResult?: ((value: any) => boolean) | undefined
}

export {
  /**
   * What a fallback source receives when it was asked (with `defects` or
   * `interruptions`) to handle a defect or an interruption: the reason and the
   * full `Cause`. Never surfaces in the error channel.
   *
   * @example
   * ```ts
   * import { Fallback } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const safe = Fallback.effect(
   *   (e) => Effect.succeed(e instanceof Fallback.Unexpected ? `crashed: ${e.reason}` : "failed"),
   *   { defects: true }
   * )
   * const program = Effect.die("boom").pipe(safe) // succeeds with "crashed: Defect"
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  Unexpected
} from "./internal/fallback/errors.js"

type Unexpected = errors.Unexpected

export {
  /**
   * What a fallback source receives when the primary succeeded with a value
   * the `whenResult` option treated as a failure: the value, wrapped (as
   * {@link Unexpected} wraps a defect). Never surfaces in the error channel.
   *
   * @example
   * ```ts
   * import { Fallback } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * interface Response { readonly status: number; readonly body: string }
   * declare const get: Effect.Effect<Response>
   *
   * const maintenance = Fallback.effect(
   *   (e) => Effect.succeed({ status: 200, body: e instanceof Fallback.RejectedResult ? "maintenance" : "error" }),
   *   { whenResult: (r: Response) => r.status === 503 }
   * )
   * const program = get.pipe(maintenance) // Effect<Response>
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  RejectedResult
} from "./internal/fallback/errors.js"

type RejectedResult<A> = errors.RejectedResult<A>

// ---------------------------------------------------------------------------
// Selectors
// ---------------------------------------------------------------------------

/**
 * Selects the typed errors a fallback handles. It is a predicate (usable as
 * `on` in {@link staleIfError}, or anywhere a predicate is expected) with the
 * fallback constructors as methods:
 *
 * - `H` is what leaves the error channel (`Exclude<E, H>`): the refined type
 *   for {@link tags}, {@link instanceOf} and a refinement given to
 *   {@link when}; nothing (`never`) for a plain predicate, whose type cannot
 *   say what it matches;
 * - `P` is what the fallback source receives;
 * - `In` is what the predicate accepts (`unknown` for {@link tags} and
 *   {@link instanceOf}).
 *
 * The selector comes first so that TypeScript knows the error's type before
 * it checks your source function.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 *
 * const notFound: Fallback.Selector<{ readonly _tag: "NotFound" }> = Fallback.tags("NotFound")
 * const orNull = notFound.value(null)
 * const matches = notFound({ _tag: "NotFound" }) // true: a selector is also a predicate
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Selector<H, P = H, In = unknown> {
  (error: In): boolean
  /** Falls back to a constant value. See {@link value}. */
  readonly value: <A2, const O extends Options = {}>(
    value: A2,
    options?: O & Options
  ) => Fallback<A2, H, never, never, Fallback.ValueOf<O>>
  /** Falls back to another effect, which receives the error. See {@link effect}. */
  readonly effect: <A2, E2 = never, R2 = never, const O extends Options = {}>(
    fallback: Effect.Effect<A2, E2, R2> | ((error: Fallback.Input<P, O>) => Effect.Effect<A2, E2, R2>),
    options?: O & Options
  ) => Fallback<A2, H, E2, R2, Fallback.ValueOf<O>>
  /** Falls back through sources in order, first success wins. See {@link chain}. */
  readonly chain: <
    const Sources extends readonly [Fallback.Source<Fallback.Input<P, O>>, ...Array<Fallback.Source<Fallback.Input<P, O>>>],
    const O extends Options = {}
  >(
    sources: Sources,
    options?: O & Options
  ) => Fallback<
    Fallback.SuccessOf<Sources>,
    H,
    Fallback.LastError<Sources>,
    Fallback.ContextOf<Sources>,
    Fallback.ValueOf<O>
  >
}

/**
 * Selects errors by `_tag`: `Fallback.tags("NotFound", "Gone").value(null)`
 * removes exactly `{ _tag: "NotFound" | "Gone" }` from the error channel.
 * The source receives `{ _tag }`; use {@link instanceOf} to receive the
 * error class with its fields.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Data, Effect } from "effect"
 *
 * class NotFound extends Data.TaggedError("NotFound")<{}> {}
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 *
 * const load: Effect.Effect<string, NotFound | Unavailable> = Effect.fail(new NotFound())
 * const program = load.pipe(Fallback.tags("NotFound").value(null)) // Effect<string | null, Unavailable>
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const tags: <const Tags extends readonly [string, ...Array<string>]>(
  ...tags: Tags
) => Selector<{ readonly _tag: Tags[number] }> = internal.tags

/**
 * Selects errors that are instances of one of the classes: they leave the
 * error channel, and the source receives the instance with its fields.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Data, Effect } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{ readonly region: string }> {}
 *
 * const fetchPrice: Effect.Effect<number, Unavailable> = Effect.fail(new Unavailable({ region: "eu" }))
 * const fromOtherRegion = Fallback.instanceOf(Unavailable).effect((e) => Effect.succeed(e.region === "eu" ? 41 : 42))
 * const program = fetchPrice.pipe(fromOtherRegion) // Effect<number>
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const instanceOf: <
  const Ctors extends readonly [abstract new(...args: any) => any, ...Array<abstract new(...args: any) => any>]
>(
  ...ctors: Ctors
) => Selector<InstanceType<Ctors[number]>> = internal.instanceOf


/**
 * Selects errors with a predicate. A refinement (`(e): e is NotFound => …`,
 * or a predicate TypeScript infers as one) removes the refined type from the
 * error channel; a plain predicate handles what it matches but removes
 * nothing from the type. The source receives the refined type (or the
 * predicate's parameter type).
 *
 * The predicate sees every typed error of the effect the fallback wraps; if
 * you type its parameter narrowly, apply the fallback only to effects whose
 * errors have that type. A predicate that throws or answers anything but a
 * boolean does not handle the error (the failure surfaces; reported, see
 * "User code" in the docs).
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Data, Effect } from "effect"
 *
 * class HttpError extends Data.TaggedError("HttpError")<{ readonly status: number }> {}
 *
 * const get: Effect.Effect<string, HttpError> = Effect.fail(new HttpError({ status: 503 }))
 * const onServerErrors = Fallback.when((e: HttpError) => e.status >= 500).value("maintenance page")
 * const program = get.pipe(onServerErrors) // Effect<string, HttpError>: 4xx still fail
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const when: {
  <X, H extends X>(refinement: (error: X) => error is H): Selector<H, H, X>
  <X>(predicate: (error: X) => boolean): Selector<never, X, X>
} = internal.when

// ---------------------------------------------------------------------------
// value / effect / chain
// ---------------------------------------------------------------------------

/**
 * Falls back through `sources` in order when the effect fails with a typed
 * error; the first success wins (primary → cache → secondary → default).
 * Each source is an effect, or a function that receives the primary's error
 * and returns one. A source's typed failure moves on to the next source; the
 * last source's failure is the caller's (its error type is the chain's
 * `E2`). A source's defect or interruption is never swallowed.
 *
 * Handles every typed error (they all leave the error channel); select some
 * with {@link tags}, {@link instanceOf} or {@link when}:
 * `Fallback.tags("Unavailable").chain([...])`.
 *
 * The primary's success path costs one `catchAllCause` frame; nothing else
 * runs until it fails.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Data, Effect } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 * class CacheMiss extends Data.TaggedError("CacheMiss")<{}> {}
 *
 * const primary: Effect.Effect<number, Unavailable> = Effect.fail(new Unavailable())
 * const cache: Effect.Effect<number, CacheMiss> = Effect.fail(new CacheMiss())
 * const secondary: Effect.Effect<number, Unavailable> = Effect.succeed(41)
 *
 * const resilient = Fallback.tags("Unavailable").chain([cache, secondary, Effect.succeed(0)], { name: "prices" })
 * const program = primary.pipe(resilient) // Effect<number>: 41
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const chain: Selector<unknown, unknown>["chain"] = internal.all.chain

/**
 * Falls back to a constant value when the effect fails with a typed error
 * (any; select some with {@link tags}, {@link instanceOf} or {@link when}:
 * `Fallback.tags("NotFound").value(null)`).
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Data, Effect } from "effect"
 *
 * class NotFound extends Data.TaggedError("NotFound")<{}> {}
 * class Forbidden extends Data.TaggedError("Forbidden")<{}> {}
 *
 * const user: Effect.Effect<{ name: string }, NotFound | Forbidden> = Effect.fail(new NotFound())
 * const program = user.pipe(Fallback.value({ name: "anonymous" })) // Effect<{ name: string }>
 * const onlyNotFound = user.pipe(Fallback.tags("NotFound").value({ name: "anonymous" })) // Effect<…, Forbidden>
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const value: Selector<unknown, unknown>["value"] = internal.all.value

/**
 * Falls back to another effect when the effect fails with a typed error (any;
 * select some with {@link tags}, {@link instanceOf} or {@link when}). A
 * function receives the error. The fallback's own failure is the caller's.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Data, Effect } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{ readonly region: string }> {}
 * const readReplica = (region: string): Effect.Effect<string> => Effect.succeed(`replica ${region}`)
 *
 * const primary: Effect.Effect<string, Unavailable> = Effect.fail(new Unavailable({ region: "eu" }))
 * const program = primary.pipe(Fallback.instanceOf(Unavailable).effect((e) => readReplica(e.region))) // Effect<string>
 * const anyError = primary.pipe(Fallback.effect(readReplica("us")))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const effect: Selector<unknown, unknown>["effect"] = internal.all.effect

/**
 * True for the fallbacks made by {@link value}, {@link effect} and
 * {@link chain} (and a selector's).
 *
 * @example
 * ```ts
 * import { Fallback, Timeout } from "effect-resilience"
 *
 * Fallback.isFallback(Fallback.value(0)) // true
 * Fallback.isFallback(Timeout.make("1 second")) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isFallback: (u: unknown) => u is Fallback<unknown, unknown, unknown, unknown> = internal.isFallback

// ---------------------------------------------------------------------------
// staleIfError
// ---------------------------------------------------------------------------

export {
  /**
   * A key `staleIfError`'s `execute`, `serve` or `invalidate` refused (see
   * `Errors.InvalidKeyError`): the source does not run, nothing is stored or
   * served.
   *
   * @since 0.1.0
   * @category Errors
   */
  InvalidKeyError
} from "./Errors.js"

export {
  /**
   * A stale store failed (or a value could not be written: see
   * {@link StaleIfError.Options.maxPendingWrites}; or not encoded or decoded
   * by the policy's `schema`). Never reaches the caller: {@link staleIfError}
   * reports it as a `StoreError` event and in the
   * `resilience_fallback_stale_store_errors` counter, and carries on without
   * the store.
   *
   * @example
   * ```ts
   * import { Fallback } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * declare const redisGet: (key: string) => Promise<string | null>
   * const get = (key: string) =>
   *   Effect.tryPromise({
   *     try: () => redisGet(key),
   *     catch: (cause) => new Fallback.StaleStoreError({ operation: "get", key, cause })
   *   })
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  StaleStoreError
} from "./internal/fallback/errors.js"

type StaleStoreError = errors.StaleStoreError

/**
 * One remembered value, as a {@link StaleStore} holds it: of the policy's
 * type `A`, or encoded by its `schema`.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 *
 * const now = 1_700_000_000_000
 * const entry: Fallback.StaleEntry<{ price: number }> = { value: { price: 42 }, storedAt: now, expiresAt: now + 60_000 }
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface StaleEntry<out A = unknown> {
  readonly value: A
  /** Millis, in the store's time (see {@link StaleStore.time}), at which the value was stored. */
  readonly storedAt: number
  /** Millis, in the same time, after which it must not be served (`storedAt + ttl`). */
  readonly expiresAt: number
}

/**
 * Where {@link staleIfError} remembers good values: a service, found in the
 * environment under the {@link StaleStore} reference. Without a Layer it is
 * one bounded in-memory store per process ({@link layerStoreMemory}
 * configures it); the Redis store of `effect-resilience/redis`
 * (`StaleStore.layer`) provides the same reference, shared by replicas.
 *
 * - **Values.** A store holds what the policies give it: values as they are,
 *   or encoded by a policy's `schema` (which decodes them when they are read
 *   back: a value that does not decode is reported, never served). The store
 *   is not typed by the values: the policy is (see {@link StaleIfError}).
 * - **Keys** reach the store validated (well-formed, at most the policy's
 *   `maxKeyLength` code units) and namespaced by the policy's name,
 *   length-prefixed (`<name.length>:<name>:<key>`): policies of the same
 *   name share their entries (as replicas do through Redis), policies of
 *   different names never do.
 * - **Time.** The policy passes times in the store's frame (`now`,
 *   `storedAt`, `expiresAt`), from the caller's `Clock`, so that `TestClock`
 *   drives every store: see {@link StaleStore.time}. A store must not return an
 *   entry whose `expiresAt <= now`, and should expire entries on its own
 *   (e.g. Redis `PX`). A shared store may keep its own time instead (the
 *   Redis store uses Redis `TIME`): it then takes the caller's times as a
 *   frame only (the age of the value when written, its ttl) and returns
 *   entries in the caller's frame (`storedAt = now − age`).
 * - **Writes.** `set` gets the value's entry and the time it is written at
 *   (`now`; the value may have waited in the policy's write queue). A write
 *   of an entry older than the one held should be ignored.
 * - **In memory.** A store with an `unsafe` handle is read and written
 *   synchronously, on the caller's path; any other store is written off the
 *   caller's path (see {@link staleIfError}).
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect, Option } from "effect"
 *
 * // a plain Map, for illustration (unbounded: bound a real store)
 * const entries = new Map<string, Fallback.StaleEntry>()
 * const store: Fallback.StaleStore = {
 *   get: (key, now) =>
 *     Effect.sync(() => {
 *       const entry = entries.get(key)
 *       return entry !== undefined && entry.expiresAt > now ? Option.some(entry) : Option.none()
 *     }),
 *   set: (key, entry) =>
 *     Effect.sync(() => {
 *       const held = entries.get(key)
 *       if (held === undefined || held.storedAt <= entry.storedAt) entries.set(key, entry)
 *     }),
 *   delete: (key) => Effect.sync(() => void entries.delete(key))
 * }
 * const cache = Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 100, name: "prices" }).pipe(
 *   Effect.provideService(Fallback.StaleStore, store)
 * )
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface StaleStore {
  /** What the store is, for `Policy.describe` (`"memory"`, `"redis"`). Defaults to `"custom"`. */
  readonly kind?: string | undefined
  /**
   * Which time the policy stamps entries with and passes as `now`:
   * `"monotonic"` for an in-process store (never steps with the system
   * clock; `storedAt` is shown in wall time), `"wall"` (the default) for a
   * store shared between processes (wall-clock epoch millis of the caller's
   * `Clock`; a store with a time of its own, such as Redis `TIME`, uses them
   * as a frame only, see above).
   */
  readonly time?: "monotonic" | "wall" | undefined
  readonly get: (key: string, now: number) => Effect.Effect<Option.Option<StaleEntry>, StaleStoreError>
  readonly set: (key: string, entry: StaleEntry, now: number) => Effect.Effect<void, StaleStoreError>
  readonly delete: (key: string) => Effect.Effect<void, StaleStoreError>
  /**
   * The synchronous handle of an in-memory store: the policy reads and writes
   * its partition through it on the caller's path, with no Effect. A store
   * without one is written off the caller's path.
   */
  readonly unsafe?: StaleStore.Unsafe | undefined
}

/**
 * The types that go with {@link StaleStore}.
 *
 * @since 0.1.0
 */
export declare namespace StaleStore {
  /**
   * The synchronous handle of an in-memory {@link StaleStore}.
   *
   * @example
   * ```ts
   * import { Fallback } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const program = Effect.gen(function*() {
   *   const store = yield* Fallback.makeStoreMemory()
   *   const prices = store.unsafe?.partition("prices", 1_000) // what a policy named "prices" uses
   *   prices?.set("6:prices:sku-1", { value: 42, storedAt: 0, expiresAt: 60_000 })
   *   return prices?.get("6:prices:sku-1", 1_000)?.value // 42
   * })
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Unsafe {
    /**
     * The partition of a policy: for a `name`, that name's share of the store
     * (every policy of that name reads and writes it), bounded by
     * `maxEntries` as well as by the store's own bound; for `undefined` (an
     * unnamed policy), entries of its own that no other policy reads.
     */
    readonly partition: (name: string | undefined, maxEntries: number) => Partition
  }

  /**
   * A policy's entries in an in-memory store, read and written synchronously
   * (by store key).
   *
   * @example
   * ```ts
   * import type { Fallback } from "effect-resilience"
   *
   * const served = (partition: Fallback.StaleStore.Partition, now: number) =>
   *   partition.get("6:prices:sku-1", now)?.value
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Partition {
    /** The entry of `key`, unless it has expired at `now`. */
    readonly get: (key: string, now: number) => StaleEntry | undefined
    readonly set: (key: string, entry: StaleEntry) => void
    readonly delete: (key: string) => void
  }

  /**
   * Options of {@link makeStoreMemory} and {@link layerStoreMemory}.
   *
   * @example
   * ```ts
   * import type { Fallback } from "effect-resilience"
   *
   * const options: Fallback.StaleStore.MemoryOptions = { maxEntries: 50_000 } // default 100,000
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface MemoryOptions {
    /**
     * The most entries the store holds for the named policies using it, all
     * names together (least recently used evicted first, in O(1)); each
     * policy also keeps at most its own `maxEntries`. An unnamed policy's
     * entries are its own, bounded by its `maxEntries` only. An integer >= 1.
     * Defaults to 100,000.
     */
    readonly maxEntries?: number | undefined
  }
}

/**
 * The stale store service, a `Context.Reference`: without a Layer every
 * {@link staleIfError} policy uses one in-memory store per process (at most
 * 100,000 entries). {@link layerStoreMemory} configures it; the Redis store
 * of `effect-resilience/redis` (`StaleStore.layer`) replaces it.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* Fallback.StaleStore
 *   return store.kind // "memory"
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export const StaleStore: Context.Reference<StaleStore, StaleStore> = memoryStore.StaleStore

/**
 * A bounded in-memory {@link StaleStore}: least recently used entries are
 * evicted beyond `maxEntries`, and expired entries are never returned (and
 * dropped when read). Values are kept as the policies give them. Policies of
 * the same name share their entries in it; an unnamed policy keeps its own.
 * Fails with `InvalidOptionsError` if `maxEntries` is not an integer >= 1.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* Fallback.makeStoreMemory({ maxEntries: 10_000 })
 *   const prices = yield* Fallback.staleIfError<number>({ ttl: "10 minutes", maxEntries: 10_000, name: "prices" }).pipe(
 *     Effect.provideService(Fallback.StaleStore, store)
 *   )
 *   return prices
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const makeStoreMemory: (
  options?: StaleStore.MemoryOptions
) => Effect.Effect<StaleStore, InvalidOptionsError> = memoryStore.makeEffect

/**
 * Provides an in-memory {@link StaleStore} with its own options, for the
 * policies made under it.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 1_000, name: "prices" }).pipe(
 *   Effect.provide(Fallback.layerStoreMemory({ maxEntries: 500_000 }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerStoreMemory: (
  options?: StaleStore.MemoryOptions
) => Layer.Layer<StaleStore, InvalidOptionsError> = memoryStore.layer

/**
 * The answer of {@link StaleIfError.serve}: a fresh value, or a remembered
 * one served because the source failed, with its age and the failure.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Duration } from "effect"
 *
 * const describe = (served: Fallback.Served<number>) =>
 *   served._tag === "Fresh" ? `${served.value}` : `${served.value} (${Duration.format(served.age)} old)`
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type Served<A, E = unknown> =
  | {
    readonly _tag: "Fresh"
    readonly value: A
    readonly stale: false
  }
  | {
    readonly _tag: "Stale"
    readonly value: A
    readonly stale: true
    /** How old the value is (now − the time it was stored). */
    readonly age: Duration.Duration
    /** Epoch millis (from `Clock`) at which it was stored. */
    readonly storedAt: number
    /** Why the source failed. */
    readonly cause: Cause.Cause<E>
  }

/**
 * A stale-if-error policy over values of type `A`: remembers the last good
 * value per key for `ttl` and serves it when the source fails with a handled
 * error. The callable form and {@link StaleIfError.execute} return the value
 * (fresh or stale, as `A`); {@link StaleIfError.serve} says which.
 *
 * **One value type.** A key holds values of one type, so the policy is made
 * for one: `Fallback.staleIfError<Quote>(…)` accepts effects that succeed
 * with a `Quote` (applying it to an effect of another type does not compile).
 * A `schema` fixes `A` when no type argument is given, and must be a schema
 * of `A` (`staleIfError<Quote>({ schema: Schema.Number, … })` does not
 * compile). Without either, `A` is `unknown`.
 *
 * **Type.** It is a `Transform<A, never, never, never, In, A>` (a fallback
 * that handles no error): with nothing fresh enough to serve (a cold or
 * expired key) the original failure surfaces, so no error leaves the type;
 * the success type is the policy's `A`. `In` constrains the errors when `on`
 * is a typed predicate. `Policy.compose` and `Policy.pipeline` (as its
 * `fallback`) carry both constraints.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const cache: Fallback.StaleIfError<number> = yield* Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 100 })
 *   yield* Effect.succeed(1).pipe(cache) // remembered under cache.key
 *   const n = yield* Effect.fail("down").pipe(Effect.as(2), cache) // 1, served stale
 *   // Effect.succeed("one").pipe(cache) does not compile: the policy keeps numbers
 *   return { n, stats: yield* cache.stats() } // { calls: 2, stored: 1, served: 1, … }
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface StaleIfError<in out A = unknown, in In = unknown> extends Transform<A, never, never, never, In, A> {
  readonly [StaleIfErrorTypeId]: StaleIfErrorTypeId
  /** The policy's name. */
  readonly policyName: string
  /** The key of the callable form. */
  readonly key: string
  /**
   * Runs `self`; remembers its success under `key`, or serves the remembered
   * value if it fails. A key that is not a well-formed string of at most
   * `maxKeyLength` code units fails with `InvalidKeyError` (`self` does not
   * run, nothing is stored or served). Data-first
   * (`cache.execute(self, { key })`) or data-last
   * (`self.pipe(cache.execute({ key }))`).
   */
  readonly execute: {
    (options: { readonly key: string }): <E extends In, R>(
      self: Effect.Effect<A, E, R>
    ) => Effect.Effect<A, E | InvalidKeyError, R>
    <E extends In, R>(
      self: Effect.Effect<A, E, R>,
      options: { readonly key: string }
    ): Effect.Effect<A, E | InvalidKeyError, R>
  }
  /**
   * Like {@link execute}, but tells a fresh value from a stale one. Without a
   * key (or with `key: undefined`), the callable form's key.
   */
  readonly serve: {
    <E extends In, R>(self: Effect.Effect<A, E, R>): Effect.Effect<Served<A, E>, E, R>
    <E extends In, R>(
      self: Effect.Effect<A, E, R>,
      options: { readonly key?: string | undefined } | undefined
    ): Effect.Effect<Served<A, E>, E | InvalidKeyError, R>
  }
  /**
   * Forgets the value remembered under `key` (the callable form's key by
   * default, or with `undefined`); a refused key fails with `InvalidKeyError`.
   * A write of that key still queued is dropped, and one in flight is
   * awaited first, so the value does not come back.
   */
  readonly invalidate: {
    (): Effect.Effect<void>
    (key: string | undefined): Effect.Effect<void, InvalidKeyError>
  }
  /**
   * Waits until the writes queued so far have ended (written, or failed and
   * reported). Writes to the store run off the callers' path (see
   * {@link staleIfError}); each is bounded by the store's own timeout. With
   * a memory store, writes are immediate and this returns at once.
   */
  readonly flush: Effect.Effect<void>
  /** What the policy did, as a `Stream`. */
  readonly events: Stream.Stream<FallbackEvent>
  /** Counts since creation, as a snapshot (kept in plain counters, cheap on the fast path). */
  readonly stats: () => Effect.Effect<StaleIfError.Stats>
  /** {@link StaleIfError.stats} read synchronously: the form for hot paths and plain functions. */
  readonly unsafeStats: () => StaleIfError.Stats
}

/**
 * The types that go with {@link StaleIfError}.
 *
 * @since 0.1.0
 */
export declare namespace StaleIfError {
  /**
   * Options of {@link staleIfError}.
   *
   * @example
   * ```ts
   * import { Fallback } from "effect-resilience"
   * import { Schema } from "effect"
   *
   * const Quote = Schema.Struct({ symbol: Schema.String, price: Schema.Number, at: Schema.Date })
   * const options: Fallback.StaleIfError.Options<typeof Quote.Type> = {
   *   ttl: "10 minutes", // required
   *   maxEntries: 10_000, // required: the policy's bound in a memory store
   *   schema: Quote, // default: values kept as they are
   *   name: "quotes" // default "stale-if-error" (unnamed: its entries are its own)
   * }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Options<A = unknown, In = unknown> {
    /** How long after it was stored a value may still be served. A finite duration > 0. */
    readonly ttl: Duration.DurationInput
    /**
     * The most entries the policy keeps in a memory store (least recently
     * used evicted first, in O(1)). An integer >= 1. Its key strings take at
     * most `maxEntries × (maxKeyLength + name) × 2` bytes (20.5 MB for 10,000
     * entries at the default 1,024); values are kept as they are: their size
     * is yours. A store that is not in memory (Redis) has bounds of its own.
     */
    readonly maxEntries: number
    /**
     * The key of the callable form. Defaults to `"default"`. A key like any
     * other (`serve(self, { key: "default" })` is the callable form's entry):
     * a well-formed string of at most `maxKeyLength` code units.
     */
    readonly key?: string | undefined
    /**
     * The longest key accepted, in UTF-16 code units: an integer in
     * [1, 16,383]. Defaults to 1,024. Longer keys fail with `InvalidKeyError`.
     */
    readonly maxKeyLength?: number | undefined
    /**
     * Which typed errors serve a stale value. Defaults to every typed error.
     * A predicate that throws or answers anything but a boolean serves
     * nothing (the failure surfaces; reported).
     */
    readonly on?: ((error: In) => boolean) | undefined
    /** Also serve a stale value on defects (see {@link Options.defects}). Defaults to `false`. */
    readonly defects?: boolean | ((defect: unknown) => boolean) | undefined
    /** Also serve a stale value on interruption-only failures. Defaults to `false`. */
    readonly interruptions?: boolean | undefined
    /**
     * Encodes the values for the store and decodes them when they are read
     * back (it fixes `A` when no type argument is given). A value that does
     * not encode is not stored, one that does not decode (another policy's of
     * the same name, another version's) is not served: both are reported as
     * a `StoreError`. Needed for a value that plain JSON does not keep (a
     * `Date`, a class) in the Redis store. Defaults to none: values reach the
     * store as they are.
     */
    readonly schema?: Schema.Schema<A, any> | undefined
    /**
     * The most values waiting to be written to a store other than the memory
     * store (one per key: a newer value of a key replaces the one waiting).
     * Past it, the oldest waiting value is dropped and reported (a
     * `StoreError` event and metric). An integer >= 1. Defaults to 1,000.
     */
    readonly maxPendingWrites?: number | undefined
    /**
     * A name for metrics, events, descriptors and store keys. Policies of the
     * same name share their entries in a store (in memory as in Redis); an
     * unnamed policy's entries in a memory store are its own. Defaults to
     * `"stale-if-error"`.
     */
    readonly name?: string | undefined
  }

  /**
   * The options of a stale-if-error policy that are data, as read from
   * `Config` ({@link staleIfErrorConfig}, {@link staleIfErrorFromConfig},
   * {@link layerStaleIfErrorConfig}): all but the `schema` and the `on`
   * predicate, with `defects` as a boolean. From `Config`, durations are
   * strings such as `"10 minutes"`. Defaults and ranges:
   * docs/Options.md#fallback.
   *
   * @example
   * ```ts
   * import type { Fallback } from "effect-resilience"
   *
   * const options: Fallback.StaleIfError.ConfigOptions = { ttl: "1 minute", maxEntries: 1_000, name: "prices" }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface ConfigOptions {
    /** How long after it was stored a value may still be served. A finite duration > 0. */
    readonly ttl: Duration.DurationInput
    /** The most entries the policy keeps in a memory store. An integer >= 1. */
    readonly maxEntries: number
    /** The key of the callable form. Defaults to `"default"`. */
    readonly key?: string | undefined
    /** The longest key accepted: an integer in [1, 16,383]. Defaults to 1,024. */
    readonly maxKeyLength?: number | undefined
    /** Also serve a stale value on defects. Defaults to `false`. */
    readonly defects?: boolean | undefined
    /** Also serve a stale value on interruption-only failures. Defaults to `false`. */
    readonly interruptions?: boolean | undefined
    /** The most values waiting to be written to a store other than the memory store. Defaults to 1,000. */
    readonly maxPendingWrites?: number | undefined
    /** Defaults to `"stale-if-error"`. */
    readonly name?: string | undefined
  }

  /**
   * The options of a stale-if-error policy that are code, given beside its
   * {@link StaleIfError.ConfigOptions} to {@link staleIfErrorFromConfig} and
   * {@link layerStaleIfErrorConfig}: the `schema`, the `on` predicate and a
   * `defects` predicate (which replaces the boolean read from `Config`).
   *
   * @example
   * ```ts
   * import type { Fallback } from "effect-resilience"
   * import { Schema } from "effect"
   *
   * const code: Fallback.StaleIfError.CodeOptions<number, Error> = {
   *   schema: Schema.Number,
   *   on: (error) => error.message !== "not found"
   * }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export type CodeOptions<A = unknown, In = unknown> = Pick<Options<A, In>, "schema" | "on" | "defects">

  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    readonly calls: number
    /** Successes remembered. */
    readonly stored: number
    /** Failures answered with a stale value. */
    readonly served: number
    /** Handled failures with nothing fresh enough to serve. */
    readonly misses: number
    /** Store operations that failed, and values dropped from a full write queue. */
    readonly storeErrors: number
    /** Values waiting to be written, or being written. */
    readonly pendingWrites: number
  }

  /**
   * The value type of a stale-if-error policy type `S` (`unknown` for a type
   * that is not one): what {@link layerStaleIfError} infers from your tag.
   *
   * @example
   * ```ts
   * import type { Fallback } from "effect-resilience"
   *
   * type N = Fallback.StaleIfError.ValueOf<Fallback.StaleIfError<number>> // number
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export type ValueOf<S> = S extends StaleIfError<infer A, any> ? A : unknown

  /**
   * The error constraint of a stale-if-error policy type `S`.
   *
   * @example
   * ```ts
   * import type { Fallback } from "effect-resilience"
   *
   * type In = Fallback.StaleIfError.InOf<Fallback.StaleIfError<number, Error>> // Error
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export type InOf<S> = S extends StaleIfError<any, infer In> ? In : unknown
}

/**
 * The default key of {@link staleIfError}'s callable form.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const cache = yield* Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 100 })
 *   return cache.key === Fallback.DEFAULT_STALE_KEY // true
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export const DEFAULT_STALE_KEY: "default" = staleOptions.DEFAULT_STALE_KEY as "default"

/**
 * Makes a stale-if-error policy (the "cache fallback") over values of type
 * `A`: every success is remembered under its key for `ttl`; when the source
 * later fails with a handled error (every typed error by default), the
 * remembered value is served instead, with its age (see
 * {@link StaleIfError.serve}). With nothing fresh enough to serve, the
 * failure surfaces unchanged. A failing store never fails a call: the error
 * is reported (a `StoreError` event and the
 * `resilience_fallback_stale_store_errors` counter).
 *
 * **The store** is the {@link StaleStore} in the environment when the policy
 * is made: one in-memory store per process by default
 * ({@link layerStoreMemory} configures it), Redis with the `StaleStore.layer`
 * of `effect-resilience/redis`. Policies of the same `name` share their
 * entries; an unnamed policy's entries in a memory store are its own.
 *
 * **A fresh answer never waits for the store.** With a memory store a
 * success is remembered at once (a map update). With any other store (Redis)
 * the write runs off the caller's path, in the background:
 * - coalesced per key: a newer value of a key replaces the one still waiting
 *   (only the latest matters), and a key's writes run one at a time, in
 *   order, so an older value never overwrites a newer one;
 * - bounded: at most 4 writes at a time per policy, each bounded by the
 *   store's own timeout, and at most `maxPendingWrites` values waiting (past
 *   it the oldest is dropped and reported);
 * - never lost in silence: a failed or dropped write is a `StoreError` event
 *   and metric; `stats()` counts the writes not yet done (`pendingWrites`),
 *   and `flush` waits for them;
 * - read through: a value waiting to be written (or being written) is served
 *   from memory if the source fails meanwhile.
 *
 * **Type.** `A` is given as a type argument, or fixed by the `schema`; see
 * {@link StaleIfError}.
 *
 * Memory is bounded: in a memory store the policy keeps at most `maxEntries`
 * keys (LRU) and never serves an expired one. Fails with
 * `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Data, Effect } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 * declare const fetchPrice: (sku: string) => Effect.Effect<number, Unavailable>
 *
 * const program = Effect.gen(function*() {
 *   const prices = yield* Fallback.staleIfError<number>({ ttl: "10 minutes", maxEntries: 10_000, name: "prices" })
 *   const served = yield* prices.serve(fetchPrice("sku-1"), { key: "sku-1" })
 *   if (served.stale) yield* Effect.log(`serving a price ${served.age.toString()} old`)
 *   return served.value
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const staleIfError: <A = unknown, In = unknown>(
  options: StaleIfError.Options<A, In>
) => Effect.Effect<StaleIfError<A, In>, InvalidOptionsError> = stale.make

/**
 * True for {@link staleIfError} policies.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(
 *   Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 100 }),
 *   (cache) => Fallback.isStaleIfError(cache) // true
 * )
 * const no = Fallback.isStaleIfError(Fallback.value(0)) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isStaleIfError: (u: unknown) => u is StaleIfError<unknown, unknown> = stale.isStaleIfError

/**
 * A Layer that provides a {@link staleIfError} policy under your own tag. The
 * policy's value type comes from the tag (or from the `schema`, which must
 * then match it); its store is the {@link StaleStore} the layer is given.
 * Fails with `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Context } from "effect"
 *
 * class PriceCache extends Context.Tag("app/PriceCache")<PriceCache, Fallback.StaleIfError<number>>() {}
 * const PriceCacheLive = Fallback.layerStaleIfError(PriceCache, { ttl: "10 minutes", maxEntries: 10_000 })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerStaleIfError: <I, S, A = StaleIfError.ValueOf<S>, In = StaleIfError.InOf<S>>(
  tag: Context.Tag<I, S>,
  options: StaleIfError.Options<A, In> & ([StaleIfError<A, In>] extends [S] ? unknown : never)
) => Layer.Layer<I, InvalidOptionsError> = stale.layer

/**
 * A Layer that provides a {@link staleIfError} policy under your own tag,
 * with its data options read from `Config` ({@link staleIfErrorConfig}, a
 * `Config` of {@link StaleIfError.ConfigOptions}, or a record of `Config`s
 * with your own names) and its code options given (`code`: the `schema`, the
 * `on` and `defects` predicates; a bare `Schema` is read as `{ schema }`).
 * Invalid values fail the layer with `InvalidOptionsError` naming the config
 * key, missing or malformed config with a `ConfigError`.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Config, Context, Schema } from "effect"
 *
 * class PriceCache extends Context.Tag("app/PriceCache")<PriceCache, Fallback.StaleIfError<number>>() {}
 * const PriceCacheLive = Fallback.layerStaleIfErrorConfig(PriceCache, {
 *   ttl: Config.duration("PRICE_CACHE_TTL"),
 *   maxEntries: Config.integer("PRICE_CACHE_MAX_ENTRIES").pipe(Config.withDefault(10_000))
 * }, { schema: Schema.Number })
 * // or every data option under a prefix: prices_ttl="10 minutes" prices_maxEntries=10000
 * const nested = Fallback.layerStaleIfErrorConfig(PriceCache, Config.nested(Fallback.staleIfErrorConfig, "prices"))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerStaleIfErrorConfig: <I, S, A = StaleIfError.ValueOf<S>, In = StaleIfError.InOf<S>>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<StaleIfError.ConfigOptions> & ([StaleIfError<A, In>] extends [S] ? unknown : never),
  code?: StaleIfError.CodeOptions<A, In> | Schema.Schema<A, any> | undefined
) => Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> = stale.layerConfig

/**
 * The `Config` of a stale-if-error policy's data options
 * ({@link StaleIfError.ConfigOptions}), each under its own name (`ttl`,
 * `maxEntries`, `key`, `maxKeyLength`, `defects`, `interruptions`,
 * `maxPendingWrites`, `name`; the table in docs/Options.md#fallback). Nest it
 * to give it a prefix; with `ConfigProvider.constantCase`,
 * `Config.nested(Fallback.staleIfErrorConfig, "prices")` reads `PRICES_TTL`,
 * `PRICES_MAX_ENTRIES`, … `ttl` and `maxEntries` are required (a
 * `ConfigError` when missing).
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class PriceCache extends Context.Tag("app/PriceCache")<PriceCache, Fallback.StaleIfError<number>>() {}
 * // prices_ttl="10 minutes" prices_maxEntries=10000 (or PRICES_TTL, PRICES_MAX_ENTRIES with ConfigProvider.constantCase)
 * const live = Fallback.layerStaleIfErrorConfig(PriceCache, Config.nested(Fallback.staleIfErrorConfig, "prices"))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const staleIfErrorConfig: Config.Config<StaleIfError.ConfigOptions> = stale.config

/**
 * Makes a {@link staleIfError} policy (over the {@link StaleStore} in the
 * environment) with its data options read from `Config`
 * ({@link staleIfErrorConfig}, a `Config` of
 * {@link StaleIfError.ConfigOptions} or a record of `Config`s) and its code
 * options given. Missing or malformed values fail with a `ConfigError`;
 * out-of-range ones with `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Config, Effect, Schema } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const prices = yield* Fallback.staleIfErrorFromConfig(Config.nested(Fallback.staleIfErrorConfig, "prices"), {
 *     schema: Schema.Number
 *   })
 *   return yield* Effect.succeed(42).pipe(prices)
 * })
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const staleIfErrorFromConfig: <A = unknown, In = unknown>(
  config: Config.Config.Wrap<StaleIfError.ConfigOptions>,
  code?: StaleIfError.CodeOptions<A, In>
) => Effect.Effect<StaleIfError<A, In>, InvalidOptionsError | ConfigError.ConfigError> = stale.fromConfig

/**
 * True when a {@link Served} value is stale.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const cache = yield* Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 100 })
 *   const served = yield* cache.serve(Effect.succeed(1))
 *   return Fallback.isStale(served) // false
 * })
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isStale: <A, E>(served: Served<A, E>) => served is Extract<Served<A, E>, { readonly stale: true }> =
  stale.isStale
