/**
 * The fallbacks `value`, `effect` and `chain`, and the selectors that build
 * them (`tags`, `instanceOf`, `when`): {@link FallbackImpl} holds a
 * fallback's sources, classifier, counters, metrics and events; a handled
 * failure runs the sources in order until one succeeds.
 *
 * The primary's success path is one `catchAllCause` frame (inside one
 * `suspend` that counts the call); nothing else runs until it fails.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Fallback from "../../Fallback.js"
import * as EventHub from "../events.js"
import * as metricKeys from "../metricKeys.js"
import { unsafeMakeTransformCallable } from "../policy.js"
import * as userCode from "../userCode.js"
import * as validate from "../validate.js"
import * as classify from "./classify.js"
import { RejectedResult } from "./errors.js"
import { fallbackSpec } from "./options.js"

type FallbackEvent = Fallback.FallbackEvent
type Selector<H, P, In> = Fallback.Selector<H, P, In>
type AnyEffect = Effect.Effect<unknown, unknown, unknown>

/** @internal */
export const TypeId: Fallback.TypeId = Symbol.for("effect-resilience/Fallback") as Fallback.TypeId

/** @internal */
export const isFallback = (u: unknown): u is Fallback.Fallback<unknown, unknown, unknown, unknown> =>
  Predicate.hasProperty(u, TypeId)

/** @internal */
export const servedKey = MetricKey.counter("resilience_fallback_served", {
  description: "Calls answered by a fallback source (tagged with the source: its position in the chain, or \"stale\")",
  incremental: true
})
const exhaustedKey = MetricKey.counter("resilience_fallback_exhausted", {
  description: "Calls on which every fallback source failed too",
  incremental: true
})

/**
 * A fallback's state: its sources (each an effect, or a function of the
 * handled error), its classifier, its counters, metrics and events.
 *
 * @internal
 */
class FallbackImpl {
  readonly hub = EventHub.make<FallbackEvent>()
  readonly served: ReadonlyArray<Metric.Metric.Counter<number>>
  readonly exhausted: Metric.Metric.Counter<number>
  calls = 0
  handled = 0
  servedCount = 0
  exhaustedCount = 0

  /** A `whenResult` that throws or answers a non-boolean: the value is accepted (reported). */
  private readonly whenResultSite: userCode.Site
  /** The handlers of a primary whose values are checked (`whenResult`), built once. */
  private readonly checked: {
    readonly onFailure: (cause: Cause.Cause<unknown>) => AnyEffect
    readonly onSuccess: (value: unknown) => AnyEffect
  }

  constructor(
    readonly name: string,
    readonly sources: ReadonlyArray<unknown>,
    readonly classify: classify.Classifier,
    readonly whenResult: ((value: unknown) => boolean) | undefined
  ) {
    this.whenResultSite = userCode.site("Fallback", name, "whenResult", "the value is accepted (no fallback)")
    this.checked = {
      onFailure: (cause) => this.onFailure(cause),
      onSuccess: (value) => {
        if (!userCode.predicate(this.whenResultSite, this.whenResult!, value, false)) return Effect.succeed(value)
        this.handled++
        return this.fromSource(0, new RejectedResult({ value }))
      }
    }
    this.served = sources.map((_, i) => metricKeys.tagged(servedKey, [["policy", name], ["source", String(i + 1)]]))
    this.exhausted = metricKeys.tagged(exhaustedKey, [["policy", name]])
  }

  /** Runs `self`; a handled failure goes to the first source. */
  run(self: AnyEffect): AnyEffect {
    return Effect.suspend(() => {
      this.calls++
      return Effect.catchAllCause(self, (cause) => this.onFailure(cause))
    })
  }

  /**
   * {@link run} for a fallback with `whenResult`: a value it rejects goes to
   * the first source too, wrapped in a `RejectedResult` (only this path checks values).
   */
  runChecked(self: AnyEffect): AnyEffect {
    return Effect.suspend(() => {
      this.calls++
      return Effect.matchCauseEffect(self, this.checked)
    })
  }

  /** The primary failed with `cause`: to the first source if handled, else surfaced. */
  private onFailure(cause: Cause.Cause<unknown>): AnyEffect {
    const input = this.classify(cause)
    if (input === classify.NOT_HANDLED) return Effect.failCause(cause)
    this.handled++
    return this.fromSource(0, input)
  }

  /** Source `i`'s effect, given the handled error `input`. */
  private source(i: number, input: unknown): AnyEffect {
    const s = this.sources[i]
    if (Effect.isEffect(s)) return s as AnyEffect
    return Effect.suspend(() => (s as (input: unknown) => AnyEffect)(input))
  }

  /** Runs source `i`: its success answers; its typed failure moves on (the last one's is the caller's). */
  private fromSource(i: number, input: unknown): AnyEffect {
    return Effect.matchCauseEffect(this.source(i, input), {
      onSuccess: (a) => {
        this.servedCount++
        const policy = this.name
        this.hub.emitWith((): FallbackEvent => ({ _tag: "FallbackServed", policy, source: i + 1, error: input }))
        return Effect.as(Metric.increment(this.served[i]!), a)
      },
      onFailure: (cause) => {
        // a source's typed failure moves on; its defects and interruptions never do
        const typed = !Cause.isDie(cause) && Option.isSome(Cause.failureOption(cause))
        if (!typed) return Effect.failCause(cause)
        if (i < this.sources.length - 1) return this.fromSource(i + 1, input)
        return this.exhaust(cause)
      }
    })
  }

  /** Every source failed: counted, reported, and the last source's failure surfaces. */
  private exhaust(cause: Cause.Cause<unknown>): AnyEffect {
    this.exhaustedCount++
    const policy = this.name
    const sources = this.sources.length
    this.hub.emitWith((): FallbackEvent => ({ _tag: "FallbackExhausted", policy, sources, error: Cause.squash(cause) }))
    return Effect.zipRight(Metric.increment(this.exhausted), Effect.failCause(cause))
  }

  /** The counters, as a snapshot (the hot-path form of `stats()`). */
  unsafeStats(): Fallback.Fallback.Stats {
    return { calls: this.calls, handled: this.handled, served: this.servedCount, exhausted: this.exhaustedCount }
  }
}

const makeChain = (
  m: string,
  mode: string,
  sources: ReadonlyArray<unknown>,
  options: Fallback.Options | undefined,
  on: ((error: any) => boolean) | undefined,
  selector: string
): Fallback.Fallback<unknown, unknown, unknown, unknown> => {
  // the options object first, then the sources, then each option
  validate.options(m, options)
  if (!Array.isArray(sources) || sources.length === 0) {
    throw validate.invalid(m, "sources", sources, "a non-empty array of effects or functions returning effects")
  }
  sources.forEach((s, i) => {
    if (!Effect.isEffect(s) && typeof s !== "function") {
      throw validate.invalid(m, mode === "chain" ? `sources[${i}]` : "fallback", s, "an effect or a function returning an effect")
    }
  })
  const { defects, interruptions, name, whenResult } = fallbackSpec.resolve(options, m)
  const classifier = classify.make(on, defects, interruptions, { module: "Fallback", name, on: "when" })
  const impl = new FallbackImpl(name, sources, classifier, whenResult)
  // bound once: the policy calls the implementation directly (values are checked only with whenResult)
  const run = whenResult === undefined
    ? (self: AnyEffect): AnyEffect => impl.run(self)
    : (self: AnyEffect): AnyEffect => impl.runChecked(self)
  const stats = Effect.sync(() => impl.unsafeStats())
  const fallback = Object.assign(run, {
    [TypeId]: TypeId,
    policyName: name,
    events: impl.hub.stream,
    stats: () => stats,
    unsafeStats: () => impl.unsafeStats()
  })
  return unsafeMakeTransformCallable(fallback, {
    kind: "Fallback",
    name,
    options: {
      mode,
      on: selector,
      sources: sources.length,
      defects: classify.handlesDefects(defects),
      interruptions,
      whenResult: whenResult !== undefined
    }
  }) as any
}

const makeSelector = <H, P = H, In = unknown>(
  test: ((error: any) => boolean) | undefined,
  description: string
): Selector<H, P, In> => {
  const selector = (test === undefined ? () => true : (error: In) => test(error)) as Selector<H, P, In>
  return Object.assign(selector, {
    value: (value: unknown, options?: Fallback.Options) =>
      makeChain("Fallback.value", "value", [Effect.succeed(value)], options, test, description),
    effect: (fallback: unknown, options?: Fallback.Options) =>
      makeChain("Fallback.effect", "effect", [fallback], options, test, description),
    chain: (sources: ReadonlyArray<unknown>, options?: Fallback.Options) =>
      makeChain("Fallback.chain", "chain", sources, options, test, description)
  }) as any
}

const validateStrings = (m: string, tags: ReadonlyArray<unknown>) => {
  if (tags.length === 0) throw validate.invalid(m, "tags", tags, "at least one tag")
  tags.forEach((t, i) => validate.nonEmptyString(m, `tags[${i}]`, t))
}

/** @internal */
export const tags = <const Tags extends readonly [string, ...Array<string>]>(
  ...tags: Tags
): Selector<{ readonly _tag: Tags[number] }, { readonly _tag: Tags[number] }, unknown> => {
  validateStrings("Fallback.tags", tags)
  const set = new Set<string>(tags)
  return makeSelector(
    (error: unknown) => Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" && set.has(error._tag),
    `tags(${tags.join(", ")})`
  )
}

/** @internal */
export const instanceOf = <
  const Ctors extends readonly [abstract new(...args: any) => any, ...Array<abstract new(...args: any) => any>]
>(
  ...ctors: Ctors
): Selector<InstanceType<Ctors[number]>, InstanceType<Ctors[number]>, unknown> => {
  if (ctors.length === 0) throw validate.invalid("Fallback.instanceOf", "classes", ctors, "at least one class")
  ctors.forEach((c, i) => {
    if (typeof c !== "function") throw validate.invalid("Fallback.instanceOf", `classes[${i}]`, c, "a class")
  })
  return makeSelector((error: unknown) => {
    for (let i = 0; i < ctors.length; i++) if (error instanceof ctors[i]!) return true
    return false
  }, `instanceOf(${ctors.map((c) => c.name).join(", ")})`)
}

/** @internal */
export const when: {
  <X, H extends X>(refinement: (error: X) => error is H): Selector<H, H, X>
  <X>(predicate: (error: X) => boolean): Selector<never, X, X>
} = ((predicate: (error: any) => boolean) => {
  if (typeof predicate !== "function") throw validate.invalid("Fallback.when", "predicate", predicate, "a function")
  return makeSelector(predicate, "predicate")
}) as any

/** The catch-all selector: `Fallback.value`, `effect` and `chain`. @internal */
export const all: Selector<unknown, unknown, unknown> = makeSelector<unknown, unknown>(undefined, "all")
