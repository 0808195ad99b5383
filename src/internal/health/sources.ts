/**
 * Health sources and registry entries for the library's own policies:
 * circuit breakers (open → degraded or unhealthy) and bulkheads, and the
 * accessors that register them.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Bulkhead } from "../../Bulkhead.js"
import type { CircuitBreaker, CircuitBreakerError, Mode, State } from "../../CircuitBreaker.js"
import type * as Scope from "effect/Scope"
import type { InvalidKeyError, InvalidOptionsError } from "../../Errors.js"
import type * as Health from "../../Health.js"
import { makeOutcome } from "./health.js"
import { type PolicyRegistry, registerPolicy } from "./registry.js"
import * as userCode from "../userCode.js"
import { LinkedMap } from "../linkedMap.js"
import * as validate from "../validate.js"
import * as options_ from "./options.js"

/** Circuits remembered from transitions (beyond it, the oldest are forgotten). @internal */
export const MAX_TRACKED_KEYS = 1000
const MAX_KEYS_IN_MESSAGE = 3

/** @internal */
export interface CircuitTracker {
  /** Keys seen in transitions that were not closed at the time. */
  readonly keys: () => ReadonlyArray<string>
  /** The transitions, recording keys as they pass. */
  readonly stream: Stream.Stream<unknown>
}

/** @internal */
export const trackCircuits = (breaker: CircuitBreaker): CircuitTracker => {
  // a LinkedMap: evicting the oldest is O(1) (a plain Map's oldest entry costs O(deleted entries))
  const open = new LinkedMap<string, true>()
  return {
    keys: () => [...open.keys()],
    stream: Stream.tap(breaker.transitions, (t) =>
      Effect.sync(() => {
        open.delete(t.key)
        if (t.to !== "Closed") {
          // Stryker disable next-line BooleanLiteral: equivalent: the map is an insertion-ordered set; its values are never read
          open.set(t.key, true)
          if (open.size > MAX_TRACKED_KEYS) {
            open.delete(open.firstKey()!)
          }
        }
      }))
  }
}

const isBreaker = (u: unknown): u is CircuitBreaker =>
  typeof u === "function" && typeof (u as any).state === "function" && (u as any).transitions !== undefined

const readKeys = (option: Iterable<string> | (() => Iterable<string>)): ReadonlyArray<unknown> => [
  ...(typeof option === "function" ? option() : option)
]
const isKeys = (u: unknown): u is ReadonlyArray<string> => Array.isArray(u) && u.every((k) => typeof k === "string")
const noKeys = (): ReadonlyArray<string> => []

const keysSites = new WeakMap<CircuitBreaker, userCode.Site>()

/** The keys option, read now (user code: a throw, a non-iterable or a non-string key is reported and means no keys). */
const keysOf = (
  option: Health.CircuitBreakerCheckOptions["keys"],
  breaker: CircuitBreaker
): ReadonlyArray<string> => {
  if (option === undefined) return []
  let site = keysSites.get(breaker)
  if (site === undefined) {
    site = userCode.site("Health", breaker.policyName, "keys", "no extra keys")
    keysSites.set(breaker, site)
  }
  return userCode.call(site, readKeys, option, isKeys, noKeys)
}

/** @internal */
export const fromCircuitBreaker = (
  breaker: CircuitBreaker,
  options: Health.CircuitBreakerCheckOptions = {}
): Health.Check<CircuitBreakerError | InvalidKeyError> => {
  const m = "Health.fromCircuitBreaker"
  if (!isBreaker(breaker)) throw validate.invalid(m, "breaker", breaker, "a CircuitBreaker")
  const { whenOpen } = options_.breakerCheckSpec.resolve(options, m)
  const tracker = trackCircuits(breaker)
  // the breaker's own circuit, then the keys given and the keys seen in transitions (sorted)
  const check = Effect.flatMap(breaker.state(), (own) => {
    const keys = new Set<string>([...keysOf(options.keys, breaker), ...tracker.keys()])
    keys.delete(own.key)
    return Effect.map(
      Effect.forEach(
        [...keys].sort(),
        (key) => Effect.map(breaker.state(key), (state): readonly [string, State] => [key, state]),
        { concurrency: 8 }
      ),
      (states) => [[own.key, own] as const, ...states]
    )
  }).pipe(
    Effect.map((states) => {
      const open = states.filter(([, s]) => s._tag === "Open" || s._tag === "Isolated")
      const halfOpen = states.filter(([, s]) => s._tag === "HalfOpen")
      const list = (xs: ReadonlyArray<readonly [string, State]>) => {
        const shown = xs.slice(0, MAX_KEYS_IN_MESSAGE).map(([key, s]) =>
          s._tag === "Open"
            ? `${key} (retry in ${Duration.format(s.retryAfter)})`
            : s._tag === "Isolated"
            ? `${key} (isolated)`
            : key
        )
        const more = xs.length > MAX_KEYS_IN_MESSAGE ? ` (+${xs.length - MAX_KEYS_IN_MESSAGE} more)` : ""
        return shown.join(", ") + more
      }
      // the breaker's mode (the same for all its keys)
      const mode = states[0]![1].mode
      if (mode === "Disabled") return makeOutcome("degraded", "circuit breaker disabled: every call runs, nothing is recorded")
      if (mode === "MetricsOnly") {
        // nothing is rejected: what would be open only degrades
        if (open.length > 0) return makeOutcome("degraded", `metrics only: circuit would be open: ${list(open)}`)
        if (halfOpen.length > 0) return makeOutcome("degraded", `metrics only: circuit would be half-open: ${list(halfOpen)}`)
        return makeOutcome("healthy", "metrics only: nothing is rejected")
      }
      if (open.length > 0) return makeOutcome(whenOpen, `circuit open: ${list(open)}`)
      if (halfOpen.length > 0) return makeOutcome("degraded", `circuit half-open: ${list(halfOpen)}`)
      return makeOutcome("healthy")
    })
  )
  return {
    name: options.name ?? `circuit:${breaker.policyName}`,
    check,
    timeout: options.timeout,
    critical: options.critical,
    interval: options.interval,
    liveness: options.liveness,
    readiness: options.readiness,
    // again on each transition and each change of the breaker's mode
    trigger: Stream.merge(tracker.stream, Stream.filter(breaker.events, (e) => e._tag === "ModeChanged"))
  }
}

/** @internal */
export const circuitBreakerEntry = (
  breaker: CircuitBreaker,
  options: Health.RegisterCircuitBreakerOptions = {}
): Health.PolicyEntry => {
  const m = "Health.registerCircuitBreaker"
  if (!isBreaker(breaker)) throw validate.invalid(m, "breaker", breaker, "a CircuitBreaker")
  const r = options_.registerBreakerSpec.resolve(options, m)
  const name = r.name ?? breaker.policyName
  const healthOptions = r.health === false ? undefined : r.health ?? {}
  const health = healthOptions === undefined
    ? undefined
    : validate.nested(m, (option) => `health.${option}`, () =>
      fromCircuitBreaker(breaker, { name: `circuit:${name}`, keys: options.keys, ...healthOptions }))
  const keys = () => new Set<string>([...keysOf(options.keys, breaker)])
  return {
    name,
    kind: "CircuitBreaker",
    info: Effect.gen(function*() {
      const metrics = yield* breaker.metrics()
      const circuits: Record<string, unknown> = {}
      for (const key of keys()) {
        const state = yield* breaker.state(key)
        circuits[key] = state._tag
      }
      return {
        state: metrics.state._tag,
        mode: metrics.mode,
        circuits,
        stats: {
          successes: metrics.totals.successes,
          failures: metrics.totals.failures,
          ignored: metrics.totals.ignored,
          rejections: metrics.totals.rejections,
          slowCalls: metrics.totals.slowCalls
        }
      }
    }).pipe(Effect.orElseSucceed(() => ({ error: "store unavailable" }))),
    isolate: (key) => breaker.isolate(key),
    reset: (key) => breaker.reset(key),
    setMode: (mode) => breaker.setMode(mode as Mode),
    health
  }
}

/** @internal */
export const bulkheadEntry = (bulkhead: Bulkhead<unknown>, options: { readonly name?: string | undefined } = {}): Health.PolicyEntry => {
  const m = "Health.registerBulkhead"
  if (typeof bulkhead !== "function" || typeof (bulkhead as any).stats !== "function" || typeof (bulkhead as any).resize !== "function") {
    throw validate.invalid(m, "bulkhead", bulkhead, "a Bulkhead")
  }
  return bulkheadEntryOf(bulkhead, options_.registerBulkheadSpec.resolve(options, m).name ?? bulkhead.policyName)
}

const bulkheadEntryOf = (bulkhead: Bulkhead<unknown>, name: string): Health.PolicyEntry => ({
  name,
  kind: "Bulkhead",
  info: Effect.sync(() => {
    const stats = bulkhead.unsafeStats()
    const totals = bulkhead.unsafeTotals()
    const adaptive = stats.adaptive
    return {
      maxConcurrent: stats.maxConcurrent,
      maxQueue: stats.maxQueue,
      active: totals.active,
      queued: totals.queued,
      partitions: totals.partitions,
      // an adaptive limit (the unkeyed partition's): its algorithm, limit in force and latencies (ms)
      ...(adaptive === undefined ? {} : {
        adaptive: {
          algorithm: adaptive.algorithm,
          limit: adaptive.limit,
          latencyMillis: adaptive.latency,
          baselineMillis: adaptive.baseline,
          samples: adaptive.samples,
          drops: adaptive.drops
        }
      })
    }
  }),
  resize: (size) => bulkhead.resize(size)
})

/** @internal */
export const registerCircuitBreaker = (
  breaker: CircuitBreaker,
  options?: Health.RegisterCircuitBreakerOptions
): Effect.Effect<void, InvalidOptionsError, PolicyRegistry | Scope.Scope> =>
  Effect.flatMap(validate.validated(() => circuitBreakerEntry(breaker, options)), registerPolicy)

/** @internal */
export const registerBulkhead = (
  bulkhead: Bulkhead<unknown>,
  options?: { readonly name?: string | undefined }
): Effect.Effect<void, InvalidOptionsError, PolicyRegistry | Scope.Scope> =>
  Effect.flatMap(validate.validated(() => bulkheadEntry(bulkhead, options)), registerPolicy)
