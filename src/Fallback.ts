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
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Stream from "effect/Stream"
import { type InvalidKeyError, type InvalidOptionsError, ResilienceErrorTypeId } from "./Errors.js"
import * as EventHub from "./internal/events.js"
import * as Keys from "./internal/keys.js"
import * as userCode from "./internal/userCode.js"
import { currentDeadline } from "./internal/deadline.js"
import { unsafeMakeMemoryStore } from "./internal/fallbackStore.js"
import { LinkedMap } from "./internal/linkedMap.js"
import { monotonicMillis } from "./internal/time.js"
import * as validate from "./internal/validate.js"
import type { Transform } from "./Policy.js"
import { unsafeMakeTransformCallable } from "./internal/policy.js"

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
 *   return { n, stats: orZero.stats() } // { calls: 1, handled: 1, served: 1, exhausted: 0 }
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Fallback<out A2, in out Handled, out E2 = never, out R2 = never>
  extends Transform<A2, Handled, E2, R2>
{
  /** The policy's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  /** What the fallback did, as a `Stream` (one buffer per subscriber). */
  readonly events: Stream.Stream<FallbackEvent>
  /** Counts since creation. */
  readonly stats: () => Fallback.Stats
}

/**
 * @since 0.1.0
 */
export declare namespace Fallback {
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
  export type Input<P, O> = P | (true extends Flag<O, "defects"> | Flag<O, "interruptions"> ? Unexpected : never)

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
}

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
export class Unexpected extends Data.TaggedError("Unexpected")<{
  readonly reason: "Defect" | "Interrupted"
  /** The defect (squashed from the cause) when `reason` is `"Defect"`. */
  readonly defect?: unknown
  readonly cause: Cause.Cause<unknown>
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    return this.reason === "Defect"
      ? `Fallback handled a defect: ${Cause.pretty(this.cause).split("\n")[0] ?? ""}`
      : "Fallback handled an interruption"
  }
}

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
  readonly value: <A2, const O extends Options = {}>(value: A2, options?: O & Options) => Fallback<A2, H>
  /** Falls back to another effect, which receives the error. See {@link effect}. */
  readonly effect: <A2, E2 = never, R2 = never, const O extends Options = {}>(
    fallback: Effect.Effect<A2, E2, R2> | ((error: Fallback.Input<P, O>) => Effect.Effect<A2, E2, R2>),
    options?: O & Options
  ) => Fallback<A2, H, E2, R2>
  /** Falls back through sources in order, first success wins. See {@link chain}. */
  readonly chain: <
    const Sources extends readonly [Fallback.Source<Fallback.Input<P, O>>, ...Array<Fallback.Source<Fallback.Input<P, O>>>],
    const O extends Options = {}
  >(
    sources: Sources,
    options?: O & Options
  ) => Fallback<Fallback.SuccessOf<Sources>, H, Fallback.LastError<Sources>, Fallback.ContextOf<Sources>>
}

const makeSelector = <H, P = H, In = unknown>(
  test: ((error: any) => boolean) | undefined,
  description: string
): Selector<H, P, In> => {
  const selector = (test === undefined ? () => true : (error: In) => test(error)) as Selector<H, P, In>
  return Object.assign(selector, {
    value: (value: unknown, options?: Options) =>
      makeChain("Fallback.value", "value", [Effect.succeed(value)], options, test, description),
    effect: (fallback: unknown, options?: Options) =>
      makeChain("Fallback.effect", "effect", [fallback], options, test, description),
    chain: (sources: ReadonlyArray<unknown>, options?: Options) =>
      makeChain("Fallback.chain", "chain", sources, options, test, description)
  }) as any
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
export const tags = <const Tags extends readonly [string, ...Array<string>]>(
  ...tags: Tags
): Selector<{ readonly _tag: Tags[number] }> => {
  validateStrings("Fallback.tags", tags)
  const set = new Set<string>(tags)
  return makeSelector(
    (error: unknown) => Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" && set.has(error._tag),
    `tags(${tags.join(", ")})`
  )
}

const validateStrings = (m: string, tags: ReadonlyArray<unknown>) => {
  if (tags.length === 0) throw validate.invalid(m, "tags", tags, "at least one tag")
  tags.forEach((t, i) => validate.nonEmptyString(m, `tags[${i}]`, t))
}

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
export const instanceOf = <const Ctors extends readonly [abstract new(...args: any) => any, ...Array<abstract new(...args: any) => any>]>(
  ...ctors: Ctors
): Selector<InstanceType<Ctors[number]>> => {
  if (ctors.length === 0) throw validate.invalid("Fallback.instanceOf", "classes", ctors, "at least one class")
  ctors.forEach((c, i) => {
    if (typeof c !== "function") throw validate.invalid("Fallback.instanceOf", `classes[${i}]`, c, "a class")
  })
  return makeSelector((error: unknown) => {
    for (let i = 0; i < ctors.length; i++) if (error instanceof ctors[i]!) return true
    return false
  }, `instanceOf(${ctors.map((c) => c.name).join(", ")})`)
}

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
} = ((predicate: (error: any) => boolean) => {
  if (typeof predicate !== "function") throw validate.invalid("Fallback.when", "predicate", predicate, "a function")
  return makeSelector(predicate, "predicate")
}) as any

const all: Selector<unknown, unknown> = makeSelector<unknown, unknown>(undefined, "all")

// ---------------------------------------------------------------------------
// Classification (shared by every fallback)
// ---------------------------------------------------------------------------

const NOT_HANDLED: unique symbol = Symbol.for("effect-resilience/Fallback/NotHandled")

interface Classifier {
  /** The source's input for a cause, or NOT_HANDLED. */
  (cause: Cause.Cause<unknown>): unknown
}

const makeClassifier = (
  m: string,
  on: ((error: any) => boolean) | undefined,
  options: {
    readonly defects?: unknown
    readonly interruptions?: unknown
  },
  where: { readonly module: string; readonly name: string; readonly on: string }
): Classifier => {
  const defects = options.defects
  if (defects !== undefined && typeof defects !== "boolean" && typeof defects !== "function") {
    throw validate.invalid(m, "defects", defects, "a boolean or a predicate")
  }
  const defectFilter: ((defect: unknown) => boolean) | undefined = defects === true
    ? () => true
    : typeof defects === "function"
    ? (defects as (defect: unknown) => boolean)
    : undefined
  const interruptions = options.interruptions
  if (interruptions !== undefined && typeof interruptions !== "boolean") {
    throw validate.invalid(m, "interruptions", interruptions, "a boolean")
  }
  // user code: a selector or `defects` predicate that throws or answers a non-boolean is
  // reported and answers false (not handled: the original failure surfaces)
  const onSite = userCode.site(where.module, where.name, where.on, "not handled (the failure surfaces)")
  const defectsSite = userCode.site(where.module, where.name, "defects", "not handled (the defect surfaces)")
  return (cause) => {
    if (Cause.isDie(cause)) {
      if (defectFilter === undefined) return NOT_HANDLED
      const defect = Cause.squash(cause)
      return userCode.predicate(defectsSite, defectFilter, defect, false)
        ? new Unexpected({ reason: "Defect", defect, cause })
        : NOT_HANDLED
    }
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      return on === undefined || userCode.predicate(onSite, on, failure.value, false) ? failure.value : NOT_HANDLED
    }
    if (interruptions === true && Cause.isInterruptedOnly(cause)) {
      return new Unexpected({ reason: "Interrupted", cause })
    }
    return NOT_HANDLED
  }
}

const servedCounter = Metric.counter("resilience_fallback_served", {
  description: "Calls answered by a fallback source (tagged with the source: its position in the chain, or \"stale\")",
  incremental: true
})
const exhaustedCounter = Metric.counter("resilience_fallback_exhausted", {
  description: "Calls on which every fallback source failed too",
  incremental: true
})

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
export const chain: Selector<unknown, unknown>["chain"] = all.chain

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
export const value: Selector<unknown, unknown>["value"] = all.value

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
 * declare const readReplica: (region: string) => Effect.Effect<string>
 *
 * const primary: Effect.Effect<string, Unavailable> = Effect.fail(new Unavailable({ region: "eu" }))
 * const program = primary.pipe(Fallback.instanceOf(Unavailable).effect((e) => readReplica(e.region))) // Effect<string>
 * const anyError = primary.pipe(Fallback.effect(readReplica("us")))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const effect: Selector<unknown, unknown>["effect"] = all.effect

const makeChain = (
  m: string,
  mode: string,
  sources: ReadonlyArray<unknown>,
  options: Options | undefined,
  on: ((error: any) => boolean) | undefined,
  selector: string
): Fallback<unknown, unknown, unknown, unknown> => {
  options = validate.options(m, options)
  if (!Array.isArray(sources) || sources.length === 0) {
    throw validate.invalid(m, "sources", sources, "a non-empty array of effects or functions returning effects")
  }
  sources.forEach((s, i) => {
    if (!Effect.isEffect(s) && typeof s !== "function") {
      throw validate.invalid(m, mode === "chain" ? `sources[${i}]` : "fallback", s, "an effect or a function returning an effect")
    }
  })
  const name = options.name === undefined ? "fallback" : validate.nonEmptyString(m, "name", options.name)
  const classify = makeClassifier(m, on, options, { module: "Fallback", name, on: "when" })
  const hub = EventHub.make<FallbackEvent>()
  const counters = sources.map((_, i) =>
    servedCounter.pipe(Metric.tagged("policy", name), Metric.tagged("source", String(i + 1)))
  )
  const exhausted = exhaustedCounter.pipe(Metric.tagged("policy", name))
  const runSource = (i: number, input: unknown): Effect.Effect<unknown, unknown, unknown> => {
    const s = sources[i]
    if (Effect.isEffect(s)) return s
    return Effect.suspend(() => (s as (input: unknown) => Effect.Effect<unknown, unknown, unknown>)(input))
  }
  let calls = 0
  let handled = 0
  let served = 0
  let exhaustedCount = 0

  const fromSource = (i: number, input: unknown): Effect.Effect<unknown, unknown, unknown> =>
    Effect.matchCauseEffect(runSource(i, input), {
      onSuccess: (a) => {
        served++
        // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
        if (hub.hasSubscribers()) hub.emit({ _tag: "FallbackServed", policy: name, source: i + 1, error: input })
        return Effect.as(Metric.increment(counters[i]!), a)
      },
      onFailure: (cause) => {
        // a source's typed failure moves on; its defects and interruptions never do
        const typed = !Cause.isDie(cause) && Option.isSome(Cause.failureOption(cause))
        if (!typed) return Effect.failCause(cause)
        if (i < sources.length - 1) return fromSource(i + 1, input)
        exhaustedCount++
        // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
        if (hub.hasSubscribers()) {
          hub.emit({ _tag: "FallbackExhausted", policy: name, sources: sources.length, error: Cause.squash(cause) })
        }
        return Effect.zipRight(Metric.increment(exhausted), Effect.failCause(cause))
      }
    })

  const run = (self: Effect.Effect<unknown, unknown, unknown>) =>
    Effect.suspend(() => {
      calls++
      return Effect.catchAllCause(self, (cause) => {
        const input = classify(cause)
        if (input === NOT_HANDLED) return Effect.failCause(cause)
        handled++
        return fromSource(0, input)
      })
    })

  const fallback = Object.assign(run, {
    policyName: name,
    events: hub.stream,
    stats: (): Fallback.Stats => ({ calls, handled, served, exhausted: exhaustedCount })
  })
  return unsafeMakeTransformCallable(fallback, {
    kind: "Fallback",
    name,
    options: {
      mode,
      on: selector,
      sources: sources.length,
      defects: options.defects === undefined || options.defects === false ? false : true,
      interruptions: options.interruptions === true
    }
  }) as any
}

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

/**
 * A stale store failed (or a value could not be written: see
 * {@link StaleIfError.Options.maxPendingWrites}). Never reaches the caller:
 * {@link staleIfError} reports it as a `StoreError` event and in the
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
export class StaleStoreError extends Data.TaggedError("StaleStoreError")<{
  readonly operation: "get" | "set" | "delete"
  readonly key: string
  readonly cause: unknown
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    return `Stale store ${this.operation} failed for key ${this.key}`
  }
}

/**
 * One remembered value of type `A`.
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
 * Where {@link staleIfError} remembers good values of type `A`. The default
 * is a bounded in-memory LRU ({@link makeMemoryStore}); a shared store (the
 * Redis `StaleStore` of `effect-resilience/redis`) implements the same three
 * operations.
 *
 * - **Type.** A store that encodes values with a `Schema` is a
 *   `StaleStore<A>` of that Schema's type, and a policy over another type does
 *   not accept it (it does not compile). A store that keeps values as they
 *   are (memory) or only plain JSON (checked when written) is a
 *   `StaleStore<unknown>`: any policy accepts it, and reads back, under its
 *   own keys, only what it wrote.
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
 * - **Keys** reach the store validated (well-formed, at most the policy's
 *   `maxKeyLength` code units) and namespaced by the policy's name,
 *   length-prefixed (`<name.length>:<name>:<key>`), so one store can serve
 *   several policies without two of them ever sharing an entry.
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
 * const cache = Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 100, store })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface StaleStore<in out A = unknown> {
  /**
   * Which time the policy stamps entries with and passes as `now`:
   * `"monotonic"` for an in-process store (never steps with the system
   * clock; `storedAt` is shown in wall time), `"wall"` (the default) for a
   * store shared between processes (wall-clock epoch millis of the caller's
   * `Clock`; a store with a time of its own, such as Redis `TIME`, uses them
   * as a frame only, see above).
   */
  readonly time?: "monotonic" | "wall" | undefined
  readonly get: (key: string, now: number) => Effect.Effect<Option.Option<StaleEntry<A>>, StaleStoreError>
  readonly set: (key: string, entry: StaleEntry<A>, now: number) => Effect.Effect<void, StaleStoreError>
  readonly delete: (key: string) => Effect.Effect<void, StaleStoreError>
}

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
 * with a `Quote` (applying it to an effect of another type does not compile)
 * and its store must hold `Quote`s (a `StaleStore<Quote>`, or an untyped
 * store). Without a type argument (nor a typed store) `A` is `unknown`.
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
 *   return yield* Effect.fail("down").pipe(Effect.as(2), cache) // 1, served stale
 *   // Effect.succeed("one").pipe(cache) does not compile: the policy keeps numbers
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface StaleIfError<in out A = unknown, in In = unknown> extends Transform<A, never, never, never, In, A> {
  /** The policy's name. */
  readonly policyName: string
  /** The key of the callable form. */
  readonly key: string
  /**
   * Runs `self`; remembers its success under `key`, or serves the remembered
   * value if it fails. A key that is not a well-formed string of at most
   * `maxKeyLength` code units fails with `InvalidKeyError` (`self` does not
   * run, nothing is stored or served).
   */
  readonly execute: <E extends In, R>(
    self: Effect.Effect<A, E, R>,
    options: { readonly key: string }
  ) => Effect.Effect<A, E | InvalidKeyError, R>
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
   * the memory store, writes are immediate and this returns at once.
   */
  readonly flush: Effect.Effect<void>
  /** What the policy did, as a `Stream`. */
  readonly events: Stream.Stream<FallbackEvent>
  /** Counts since creation. */
  readonly stats: () => StaleIfError.Stats
}

/**
 * @since 0.1.0
 */
export declare namespace StaleIfError {
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Options<A = unknown, In = unknown> {
    /** How long after it was stored a value may still be served. A finite duration > 0. */
    readonly ttl: Duration.DurationInput
    /**
     * Bounds the default memory store (least recently used evicted first, in
     * O(1)). An integer >= 1. Its key strings take at most
     * `maxEntries × (maxKeyLength + name) × 2` bytes (20.5 MB for 10,000
     * entries at the default 1,024); values are kept as they are: their size
     * is yours.
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
     * Where values are kept. Defaults to a memory store bounded by
     * `maxEntries`. A store typed by a `Schema` must hold the policy's `A`
     * (it fixes `A` when no type argument is given); an untyped store (memory,
     * plain JSON) suits any `A`.
     */
    readonly store?: StaleStore<A> | StaleStore<unknown> | undefined
    /**
     * The most values waiting to be written to a store other than the memory
     * store (one per key: a newer value of a key replaces the one waiting).
     * Past it, the oldest waiting value is dropped and reported (a
     * `StoreError` event and metric). An integer >= 1. Defaults to 1,000.
     */
    readonly maxPendingWrites?: number | undefined
    /** A name for metrics, events, descriptors and store keys. Defaults to `"stale-if-error"`. */
    readonly name?: string | undefined
  }

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
export const DEFAULT_STALE_KEY = "default"

/**
 * A bounded in-memory {@link StaleStore}: least recently used entries are
 * evicted beyond `maxEntries`, and expired entries are never returned (and
 * dropped when read). Values are kept as they are, so it is untyped
 * (`StaleStore<unknown>`): policies of any value type can share it, each
 * reading only its own keys. Writes to it are immediate (a map update).
 * Fails with `InvalidOptionsError` if `maxEntries` is not an integer >= 1.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* Fallback.makeMemoryStore({ maxEntries: 10_000 })
 *   const prices = yield* Fallback.staleIfError<number>({ ttl: "10 minutes", maxEntries: 10_000, store, name: "prices" })
 *   const users = yield* Fallback.staleIfError<{ readonly name: string }>({ ttl: "1 hour", maxEntries: 10_000, store, name: "users" })
 *   return [prices, users] as const
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const makeMemoryStore = (
  options: { readonly maxEntries: number }
): Effect.Effect<StaleStore<unknown>, InvalidOptionsError> =>
  Effect.map(
    validate.validated(() =>
      validate.number(
        "Fallback.makeMemoryStore",
        "maxEntries",
        validate.options("Fallback.makeMemoryStore", options).maxEntries,
        { min: 1, integer: true }
      )
    ),
    (maxEntries): StaleStore<unknown> => memoryStaleStore(maxEntries)
  )

/** Marks the library's memory stores: their writes are immediate, so they are made on the caller's path. */
const MemoryStaleStoreId: unique symbol = Symbol.for("effect-resilience/Fallback/MemoryStaleStore")

const memoryStaleStore = (maxEntries: number): StaleStore<unknown> => {
  const store = unsafeMakeMemoryStore(maxEntries)
  return { time: "monotonic", get: store.get, set: store.set, delete: store.delete, [MemoryStaleStoreId]: true } as StaleStore<
    unknown
  >
}

const storeServedCounter = servedCounter.pipe(Metric.tagged("source", "stale"))
const staleMissCounter = Metric.counter("resilience_fallback_stale_miss", {
  description: "Handled failures for which stale-if-error had nothing fresh enough to serve",
  incremental: true
})
const staleStoreErrorCounter = Metric.counter("resilience_fallback_stale_store_errors", {
  description: "Stale store operations that failed, and values dropped from a full write queue (tagged with the operation)",
  incremental: true
})

/** Writes to a store other than the memory store run at most this many at a time per policy. */
const STALE_WRITE_CONCURRENCY = 4
/** The default `maxPendingWrites`. */
const DEFAULT_MAX_PENDING_WRITES = 1_000

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
 * **A fresh answer never waits for the store.** With the memory store a
 * success is remembered at once (a map update). With any other store (Redis)
 * the write runs off the caller's path, in the background:
 * - coalesced per key: a newer value of a key replaces the one still waiting
 *   (only the latest matters), and a key's writes run one at a time, in
 *   order, so an older value never overwrites a newer one;
 * - bounded: at most 4 writes at a time per policy, each bounded by the
 *   store's own timeout, and at most `maxPendingWrites` values waiting (past
 *   it the oldest is dropped and reported);
 * - never lost in silence: a failed or dropped write is a `StoreError` event
 *   and metric; `stats().pendingWrites` counts the writes not yet done, and
 *   `flush` waits for them;
 * - read through: a value waiting to be written (or being written) is served
 *   from memory if the source fails meanwhile.
 *
 * **Type.** `A` is given as a type argument, or fixed by a typed store (a
 * `StaleStore<A>` made with a `Schema`); see {@link StaleIfError}.
 *
 * Memory is bounded: the default store keeps at most `maxEntries` keys (LRU)
 * and never serves an expired one. Fails with `InvalidOptionsError` for
 * invalid options.
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
export const staleIfError = <A = unknown, In = unknown>(
  options: StaleIfError.Options<A, In>
): Effect.Effect<StaleIfError<A, In>, InvalidOptionsError> =>
  Effect.flatMap(
    validate.validated(() => {
      const m = "Fallback.staleIfError"
      options = validate.options(m, options)
      const ttl = validate.duration(m, "ttl", options.ttl)
      const maxEntries = validate.number(m, "maxEntries", options.maxEntries, { min: 1, integer: true })
      const name = options.name === undefined ? "stale-if-error" : validate.nonEmptyString(m, "name", options.name)
      const maxKeyLength = Keys.maxKeyLengthOption(m, options.maxKeyLength)
      const key = options.key === undefined ? DEFAULT_STALE_KEY : validate.nonEmptyString(m, "key", options.key)
      if (!Keys.isValid({ kind: "StaleIfError", name, maxKeyLength }, key)) {
        throw validate.invalid(m, "key", key, `a well-formed string of at most ${maxKeyLength} UTF-16 code units (maxKeyLength)`)
      }
      const store = options.store as StaleStore<unknown> | undefined
      if (
        store !== undefined &&
        (typeof store !== "object" || store === null || typeof store.get !== "function" ||
          typeof store.set !== "function" || typeof store.delete !== "function")
      ) {
        throw validate.invalid(m, "store", store, "a StaleStore (get, set, delete)")
      }
      const maxPendingWrites = validate.optionalNumber(m, "maxPendingWrites", options.maxPendingWrites, {
        min: 1,
        integer: true
      }) ?? DEFAULT_MAX_PENDING_WRITES
      const classify = makeClassifier(m, validate.predicate(m, "on", options.on), options, {
        module: "StaleIfError",
        name,
        on: "on"
      })
      return { ttl: Duration.toMillis(ttl), maxEntries, key, name, store, classify, maxKeyLength, maxPendingWrites }
    }),
    (config) => Effect.sync(() => makeStaleIfError<A, In>(config, options))
  )

/** A value waiting to be written (or being written) to a background store. */
interface StaleWrite {
  /** The policy's key (for events). */
  readonly key: string
  readonly entry: StaleEntry<unknown>
  /** Completed when the write has ended (set once it starts). */
  done: Deferred.Deferred<void> | undefined
}

const makeStaleIfError = <A, In>(
  config: {
    readonly ttl: number
    readonly maxEntries: number
    readonly key: string
    readonly name: string
    readonly store: StaleStore<unknown> | undefined
    readonly classify: Classifier
    readonly maxKeyLength: number
    readonly maxPendingWrites: number
  },
  options: StaleIfError.Options<A, In>
): StaleIfError<A, In> => {
  const { classify, key: defaultKey, maxEntries, maxPendingWrites, name, ttl } = config
  const store: StaleStore<unknown> = config.store ?? memoryStaleStore(maxEntries)
  // the library's memory store is written at once (a map update); any other store off the caller's path
  const immediate = MemoryStaleStoreId in store
  // an in-process store is stamped on monotonic time (time.ts); a shared one on wall time
  const monotonic = store.time === "monotonic"
  const nowOf = (clock: Clock.Clock) => monotonic ? monotonicMillis(clock) : clock.unsafeCurrentTimeMillis()
  const hub = EventHub.make<FallbackEvent>()
  const served = storeServedCounter.pipe(Metric.tagged("policy", name))
  const misses = staleMissCounter.pipe(Metric.tagged("policy", name))
  const storeErrorMetrics = Metric.tagged(staleStoreErrorCounter, "policy", name)
  const storeErrorMetric = {
    get: Metric.increment(Metric.tagged(storeErrorMetrics, "operation", "get")),
    set: Metric.increment(Metric.tagged(storeErrorMetrics, "operation", "set")),
    delete: Metric.increment(Metric.tagged(storeErrorMetrics, "operation", "delete"))
  }
  let calls = 0
  let stored = 0
  let servedCount = 0
  let missCount = 0
  let storeErrors = 0

  // `<name.length>:<name>:<key>`: policies sharing a store never share an entry by accident
  const storeKey = (key: string) => Keys.namespaced(name, key)
  const keyPolicy: Keys.KeyPolicy = { kind: "StaleIfError", name, maxKeyLength: config.maxKeyLength }
  const refused = (key: unknown) => Effect.fail(Keys.refuse(keyPolicy, key))
  const onStoreError = (key: string) => (error: StaleStoreError) =>
    Effect.suspend(() => {
      storeErrors++
      // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
      if (hub.hasSubscribers()) hub.emit({ _tag: "StoreError", policy: name, key, error })
      return storeErrorMetric[error.operation]
    })
  /** A store operation's failure, defects included (a user's store that throws): reported, never the caller's. */
  const reported = <X>(
    key: string,
    operation: StaleStoreError["operation"],
    storeKeyOf: string,
    effect: Effect.Effect<X, StaleStoreError>
  ): Effect.Effect<X | undefined> =>
    Effect.catchAllCause(effect, (cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.succeed(undefined)
      const failure = Cause.failureOption(cause)
      const error = Option.isSome(failure)
        ? failure.value
        : new StaleStoreError({ operation, key: storeKeyOf, cause: Cause.squash(cause) })
      return Effect.as(onStoreError(key)(error), undefined)
    })

  // --- writes off the caller's path (stores other than memory) ------------------------------
  /** The latest value of each key not yet sent, oldest key first. */
  const pending = new LinkedMap<string, StaleWrite>()
  /** The write in flight of each key (one at a time per key, so they land in order). */
  const writing = new Map<string, StaleWrite>()
  let idle: Array<Deferred.Deferred<void>> = []

  const settleIdle = () => {
    if (pending.size > 0 || writing.size > 0 || idle.length === 0) return
    const waiters = idle
    idle = []
    for (const d of waiters) Deferred.unsafeDone(d, Effect.void)
  }

  const writeOne = (sk: string, w: StaleWrite): Effect.Effect<void> =>
    Effect.clockWith((clock) =>
      Effect.ensuring(
        Effect.flatMap(
          reported(w.key, "set", sk, Effect.as(Effect.suspend(() => store.set(sk, w.entry, nowOf(clock))), true)),
          (ok) =>
            Effect.sync(() => {
              if (ok === true) stored++
            })
        ),
        Effect.suspend(() => {
          writing.delete(sk)
          Deferred.unsafeDone(w.done!, Effect.void)
          settleIdle()
          return pump
        })
      )
    )

  /** Starts waiting writes, up to the concurrency, skipping keys whose previous write is in flight. */
  const pump: Effect.Effect<void> = Effect.suspend(() => {
    let started: Effect.Effect<void> = Effect.void
    while (writing.size < STALE_WRITE_CONCURRENCY) {
      let next: string | undefined
      // at most STALE_WRITE_CONCURRENCY keys are skipped (each has a write in flight)
      for (const k of pending.keys()) {
        if (!writing.has(k)) {
          next = k
          break
        }
      }
      if (next === undefined) break
      const w = pending.get(next)!
      pending.delete(next)
      w.done = Deferred.unsafeMake<void>(FiberId.none)
      writing.set(next, w)
      // detached from the caller: its interruption and deadline do not reach the write
      started = Effect.zipRight(
        started,
        Effect.forkDaemon(Effect.locally(writeOne(next, w), currentDeadline, undefined))
      )
    }
    return Effect.asVoid(started)
  })

  const enqueue = (sk: string, key: string, entry: StaleEntry<unknown>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const w: StaleWrite = { key, entry, done: undefined }
      if (pending.has(sk)) {
        // coalesced: the newer value replaces the one waiting (its place in the queue is kept)
        pending.set(sk, w)
        return pump
      }
      let dropped: Effect.Effect<void> = Effect.void
      if (pending.size >= maxPendingWrites) {
        const oldestKey = pending.firstKey()!
        const oldest = pending.get(oldestKey)!
        pending.delete(oldestKey)
        dropped = onStoreError(oldest.key)(
          new StaleStoreError({
            operation: "set",
            key: oldestKey,
            cause: new Error(`the write queue is full (maxPendingWrites: ${maxPendingWrites}): the value was not stored`)
          })
        )
      }
      pending.set(sk, w)
      return Effect.zipRight(dropped, pump)
    })

  /** The value of `sk` still waiting to be written, or being written: newer than the store's. */
  const unwritten = (sk: string): StaleEntry<unknown> | undefined => (pending.get(sk) ?? writing.get(sk))?.entry

  const flush: Effect.Effect<void> = Effect.suspend(() => {
    if (pending.size === 0 && writing.size === 0) return Effect.void
    const d = Deferred.unsafeMake<void>(FiberId.none)
    idle.push(d)
    return Deferred.await(d)
  })

  const remember = (clock: Clock.Clock, key: string, value: unknown): Effect.Effect<void> => {
    const now = nowOf(clock)
    const entry: StaleEntry<unknown> = { value, storedAt: now, expiresAt: now + ttl }
    const sk = storeKey(key)
    if (!immediate) return enqueue(sk, key, entry)
    return Effect.asVoid(
      reported(
        key,
        "set",
        sk,
        Effect.zipRight(
          store.set(sk, entry, now),
          Effect.sync(() => {
            stored++
          })
        )
      )
    )
  }

  const run = <E, R>(self: Effect.Effect<A, E, R>, key: string): Effect.Effect<Served<A, E>, E, R> =>
    Effect.clockWith((clock) =>
      Effect.suspend(() => {
        calls++
        return Effect.matchCauseEffect(self, {
          onSuccess: (value) => Effect.as(remember(clock, key, value), { _tag: "Fresh", value, stale: false } as Served<A, E>),
          onFailure: (cause) => {
            const input = classify(cause)
            if (input === NOT_HANDLED) return Effect.failCause(cause)
            const now = nowOf(clock)
            const sk = storeKey(key)
            const local = unwritten(sk)
            const lookup: Effect.Effect<Option.Option<StaleEntry<unknown>>, StaleStoreError> = local === undefined
              ? Effect.suspend(() => store.get(sk, now))
              : Effect.succeed(Option.some(local))
            return Effect.flatMap(
              reported(key, "get", sk, lookup),
              (entry) => {
                if (entry === undefined) return Effect.failCause(cause) // the store failed: reported
                if (Option.isNone(entry) || entry.value.expiresAt <= now) {
                  missCount++
                  // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
                  if (hub.hasSubscribers()) hub.emit({ _tag: "StaleMiss", policy: name, key, error: input })
                  return Effect.zipRight(Metric.increment(misses), Effect.failCause(cause))
                }
                servedCount++
                const age = Duration.millis(Math.max(0, now - entry.value.storedAt))
                // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
                if (hub.hasSubscribers()) {
                  hub.emit({ _tag: "FallbackServed", policy: name, source: "stale", error: input, key, age })
                }
                return Effect.as(Metric.increment(served), {
                  _tag: "Stale",
                  value: entry.value.value as A,
                  stale: true,
                  age,
                  // shown in wall time
                  storedAt: monotonic ? Math.round(entry.value.storedAt + clock.unsafeCurrentTimeMillis() - now) : entry.value.storedAt,
                  cause
                } as Served<A, E>)
              }
            )
          }
        })
      })
    )

  const valueOf = <E>(s: Served<A, E>): A => s.value
  const callable = <E extends In, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.map(run(self, defaultKey), valueOf)

  const policy = Object.assign(callable, {
    policyName: name,
    key: defaultKey,
    execute: <E extends In, R>(self: Effect.Effect<A, E, R>, opts: { readonly key: string }) => {
      const key: unknown = opts?.key
      // refused before `self` runs: nothing stored, nothing served
      return Keys.isValid(keyPolicy, key) ? Effect.map(run(self, key), valueOf) : refused(key)
    },
    serve: <E extends In, R>(
      self: Effect.Effect<A, E, R>,
      opts?: { readonly key?: string | undefined } | undefined
    ) => {
      // only `undefined` means "no key" (the callable form's); `null` is a bad key
      const given: unknown = opts?.key
      const key = given === undefined ? defaultKey : given
      return Keys.isValid(keyPolicy, key) ? run(self, key) : refused(key)
    },
    invalidate: (k?: string) => {
      const key: unknown = k === undefined ? defaultKey : k
      if (!Keys.isValid(keyPolicy, key)) return refused(key)
      const sk = storeKey(key)
      return Effect.suspend(() => {
        // a waiting write would bring the value back: drop it; one in flight lands first, then the delete
        pending.delete(sk)
        settleIdle()
        const inFlight = writing.get(sk)?.done
        const del = Effect.asVoid(reported(key, "delete", sk, Effect.suspend(() => store.delete(sk))))
        return inFlight === undefined ? del : Effect.zipRight(Deferred.await(inFlight), del)
      })
    },
    flush,
    events: hub.stream,
    stats: (): StaleIfError.Stats => ({
      calls,
      stored,
      served: servedCount,
      misses: missCount,
      storeErrors,
      pendingWrites: pending.size + writing.size
    })
  })
  return unsafeMakeTransformCallable(policy, {
    kind: "StaleIfError",
    name,
    options: {
      ttl: Duration.format(Duration.millis(ttl)),
      maxEntries,
      key: defaultKey,
      store: config.store === undefined ? "memory" : "custom",
      on: options.on === undefined ? "all" : "predicate",
      defects: options.defects === undefined || options.defects === false ? false : true,
      interruptions: options.interruptions === true
    }
  }) as unknown as StaleIfError<A, In>
}

/**
 * A Layer that provides a {@link staleIfError} policy under your own tag.
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
export const layerStaleIfError = <I, A = unknown, In = unknown>(
  tag: Context.Tag<I, StaleIfError<A, In>>,
  options: StaleIfError.Options<NoInfer<A>, NoInfer<In>>
): Layer.Layer<I, InvalidOptionsError> => Layer.effect(tag, staleIfError<A, In>(options))

/**
 * A Layer that provides a {@link staleIfError} policy under your own tag,
 * with options read from `Config` (e.g. the environment).
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class PriceCache extends Context.Tag("app/PriceCache")<PriceCache, Fallback.StaleIfError<number>>() {}
 * const PriceCacheLive = Fallback.layerStaleIfErrorConfig(PriceCache, {
 *   ttl: Config.duration("PRICE_CACHE_TTL"),
 *   maxEntries: Config.integer("PRICE_CACHE_MAX_ENTRIES").pipe(Config.withDefault(10_000))
 * })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerStaleIfErrorConfig = <I, A = unknown, In = unknown>(
  tag: Context.Tag<I, StaleIfError<A, In>>,
  config: Config.Config.Wrap<StaleIfError.Options<NoInfer<A>, NoInfer<In>>>
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.effect(
    tag,
    Effect.flatMap(validate.fromConfig("Fallback.layerStaleIfErrorConfig", config), (options) => staleIfError<A, In>(options))
  )

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
export const isStale = <A, E>(served: Served<A, E>): served is Extract<Served<A, E>, { readonly stale: true }> =>
  served.stale

