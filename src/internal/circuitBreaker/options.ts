/**
 * Validation of a breaker's options, and their translation into the store's
 * plain configuration.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as CircuitBreaker from "../../CircuitBreaker.js"
import type { InvalidOptionsError } from "../../Errors.js"
import * as Keys from "../keys.js"
import * as validate from "../validate.js"
import { DEFAULT_KEY } from "./errors.js"

type Options = CircuitBreaker.CircuitBreaker.Options
type StoreConfig = CircuitBreaker.CircuitBreakerStore.Config

/** @internal */
export const DEFAULT_NAME = "circuit-breaker"
/** @internal */
export const DEFAULT_PROBES = 1
/** @internal */
export const DEFAULT_SUCCESS_THRESHOLD = 1
/** @internal */
export const DEFAULT_PROBE_TIMEOUT = 60_000
/**
 * The cap of every break without `maxOpenDuration` (or `openDuration` when a
 * fixed one is longer): long enough for a dependency's realistic
 * `Retry-After` hints, short enough to bound a hostile one. @internal
 */
export const DEFAULT_MAX_OPEN_DURATION = 10 * 60_000
/** @internal */
export const DEFAULT_TIME_RATE_BUCKETS = 10
/** @internal */
export const DEFAULT_TIME_RATE_MINIMUM_CALLS = 100
/** Openings the schedule is stepped for; later openings repeat the last break. @internal */
export const MAX_SCHEDULED_OPENINGS = 64
/** The longest window size / bucket count accepted (memory per circuit stays bounded). @internal */
export const MAX_WINDOW_SIZE = 100_000
/**
 * The longest duration a breaker keeps (a break, a window, a lease): 100
 * years, "forever" in practice. No timer waits for it (a break ends when a call
 * observes it), so Node's 2^31−1 ms timer cap does not apply; the bound keeps
 * `now + duration` an exact integer. @internal
 */
export const MAX_DURATION = 100 * 365 * 24 * 60 * 60 * 1000

const THRESHOLD = { gt: 0, max: 1 } as const

/** @internal */
export const consecutive = (failures: number): CircuitBreaker.TripPolicy.Consecutive => ({
  _tag: "Consecutive",
  failures: validate.number("CircuitBreaker.consecutive", "failures", failures, {
    min: 1,
    max: MAX_WINDOW_SIZE,
    integer: true
  })
})

/** @internal */
export const rate = (options: {
  readonly threshold: number
  readonly size: number
  readonly minimumCalls?: number | undefined
}): CircuitBreaker.TripPolicy.Rate => {
  const m = "CircuitBreaker.rate"
  options = validate.options(m, options)
  const threshold = validate.number(m, "threshold", options.threshold, THRESHOLD)
  const size = validate.number(m, "size", options.size, { min: 1, max: MAX_WINDOW_SIZE, integer: true })
  const minimumCalls = validate.optionalNumber(m, "minimumCalls", options.minimumCalls, {
    min: 1,
    max: size,
    integer: true
  }) ?? size
  return { _tag: "Rate", threshold, size, minimumCalls }
}

/** @internal */
export const timeRate = (options: {
  readonly threshold: number
  readonly window: Duration.DurationInput
  readonly buckets?: number | undefined
  readonly minimumCalls?: number | undefined
}): CircuitBreaker.TripPolicy.TimeRate => {
  const m = "CircuitBreaker.timeRate"
  options = validate.options(m, options)
  const threshold = validate.number(m, "threshold", options.threshold, THRESHOLD)
  const window = validate.duration(m, "window", options.window)
  const buckets = validate.optionalNumber(m, "buckets", options.buckets, { min: 1, max: 1000, integer: true }) ??
    DEFAULT_TIME_RATE_BUCKETS
  if (Duration.toMillis(window) < buckets) {
    throw validate.invalid(m, "window", options.window, `a duration of at least 1 millisecond per bucket (${buckets} ms)`)
  }
  const minimumCalls = validate.optionalNumber(m, "minimumCalls", options.minimumCalls, { min: 1, integer: true }) ??
    DEFAULT_TIME_RATE_MINIMUM_CALLS
  return { _tag: "TimeRate", threshold, window, buckets, minimumCalls }
}

/** The trip policy as the store sees it (validated again: a policy may be a hand-written object). */
const tripToStore = (m: string, trip: unknown): CircuitBreaker.CircuitBreakerStore.Trip => {
  const t = trip as CircuitBreaker.TripPolicy | undefined
  switch (t?._tag) {
    case "Consecutive":
      return consecutive(t.failures)
    case "Rate":
      return rate(t)
    case "TimeRate": {
      const r = timeRate(t)
      return { ...r, window: Duration.toMillis(r.window) }
    }
    default:
      throw validate.invalid(m, "tripPolicy", trip, "CircuitBreaker.consecutive(n), rate({ … }) or timeRate({ … })")
  }
}

/** The validated options, with the open durations still to compute when a Schedule is given. @internal */
export interface Parsed {
  readonly name: string
  readonly named: boolean
  readonly config: Omit<StoreConfig, "openDurations" | "maxOpenDuration" | "openDurationResetAfter">
  readonly openDuration: number | Schedule.Schedule<unknown>
  readonly maxOpenDuration: number | undefined
  readonly openDurationResetAfter: number | undefined
  readonly slowCallDuration: number | undefined
  readonly classify: CircuitBreaker.Classifier<unknown, unknown> | undefined
  readonly onStoreError: "allow" | "fail"
  readonly labelMetricsByKey: boolean
  readonly spans: boolean
  /** The longest key `execute`, `state`, `isolate`, `reset` and `metrics` accept. */
  readonly maxKeyLength: number
}

const millis = (d: Duration.Duration): number => Math.min(Duration.toMillis(d), MAX_DURATION)

/** Throws `InvalidOptionsError`. @internal */
export const parse = (options: Options): Parsed => {
  const m = "CircuitBreaker.make"
  options = validate.options(m, options)
  const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
  const trip = tripToStore(m, options.tripPolicy)
  const openDuration = Schedule.isSchedule(options.openDuration)
    ? options.openDuration
    : millis(validate.duration(m, "openDuration", options.openDuration))
  const maxOpenDuration = options.maxOpenDuration === undefined
    ? undefined
    : millis(validate.duration(m, "maxOpenDuration", options.maxOpenDuration))
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent: the first two checks only narrow the types; `<` with an undefined maxOpenDuration or a Schedule openDuration is false anyway
  if (maxOpenDuration !== undefined && typeof openDuration === "number" && maxOpenDuration < openDuration) {
    throw validate.invalid(
      m,
      "maxOpenDuration",
      options.maxOpenDuration,
      `a duration >= openDuration (${Duration.format(Duration.millis(openDuration))})`
    )
  }
  const openDurationResetAfter = options.openDurationResetAfter === undefined
    ? undefined
    : millis(validate.duration(m, "openDurationResetAfter", options.openDurationResetAfter, { allowZero: true }))
  const halfOpen = validate.options(m, options.halfOpen, "halfOpen")
  const probes = validate.optionalNumber(m, "halfOpen.probes", halfOpen.probes, { min: 1, max: 10_000, integer: true }) ??
    DEFAULT_PROBES
  const successThreshold = validate.optionalNumber(m, "halfOpen.successThreshold", halfOpen.successThreshold, {
    min: 1,
    max: 10_000,
    integer: true
  }) ?? DEFAULT_SUCCESS_THRESHOLD
  const probeTimeout = halfOpen.probeTimeout === undefined
    ? DEFAULT_PROBE_TIMEOUT
    : millis(validate.duration(m, "halfOpen.probeTimeout", halfOpen.probeTimeout))
  const probeFailureRateThreshold = validate.optionalNumber(
    m,
    "halfOpen.failureRateThreshold",
    halfOpen.failureRateThreshold,
    THRESHOLD
  )
  if (probeFailureRateThreshold !== undefined && halfOpen.successThreshold !== undefined) {
    throw validate.invalid(
      m,
      "halfOpen.successThreshold",
      halfOpen.successThreshold,
      "no successThreshold with halfOpen.failureRateThreshold (the circuit then closes on the failure rate of its `probes` probes)"
    )
  }
  let slowCallDuration: number | undefined
  let slowCallThreshold: number | undefined
  if (options.slowCall !== undefined) {
    if (options.slowCall === null || typeof options.slowCall !== "object" || Array.isArray(options.slowCall)) {
      throw validate.invalid(m, "slowCall", options.slowCall, "{ duration, threshold }")
    }
    slowCallDuration = millis(validate.duration(m, "slowCall.duration", options.slowCall.duration))
    slowCallThreshold = validate.number(m, "slowCall.threshold", options.slowCall.threshold, THRESHOLD)
  }
  const classify = validate.predicate<CircuitBreaker.Classifier<unknown, unknown>>(m, "classify", options.classify)
  const onStoreError = options.onStoreError === undefined
    ? "allow"
    : validate.oneOf(m, "onStoreError", options.onStoreError, ["allow", "fail"])
  return {
    name,
    named: options.name !== undefined,
    config: {
      trip,
      slowCallThreshold,
      probes,
      successThreshold,
      probeTimeout,
      ...(probeFailureRateThreshold === undefined ? {} : { probeFailureRateThreshold })
    },
    openDuration,
    maxOpenDuration,
    openDurationResetAfter,
    slowCallDuration,
    classify,
    onStoreError,
    labelMetricsByKey: validate.optionalBoolean(m, "labelMetricsByKey", options.labelMetricsByKey) === true,
    spans: validate.optionalBoolean(m, "spans", options.spans) === true,
    maxKeyLength: Keys.maxKeyLengthOption(m, options.maxKeyLength)
  }
}

/**
 * Steps the open-duration schedule (time fixed at 0; each delay is the start
 * of the next interval) for up to {@link MAX_SCHEDULED_OPENINGS} openings,
 * stopping once the cap is reached or the schedule is done.
 */
const scheduledDurations = (
  schedule: Schedule.Schedule<unknown>,
  cap: number
): Effect.Effect<ReadonlyArray<number>, InvalidOptionsError> =>
  Effect.gen(function*() {
    const out: Array<number> = []
    let state = schedule.initial
    for (let i = 0; i < MAX_SCHEDULED_OPENINGS; i++) {
      const [next, _out, decision] = yield* schedule.step(0, undefined, state)
      if (ScheduleDecision.isDone(decision)) break
      state = next
      const start = ScheduleIntervals.start(decision.intervals)
      const delay = Number.isFinite(start) ? Math.min(Math.max(0, start), cap) : cap
      out.push(delay)
      if (delay >= cap) break
    }
    if (out.length === 0 || out.some((d) => d <= 0)) {
      return yield* Effect.fail(
        validate.invalid(
          "CircuitBreaker.make",
          "openDuration",
          "Schedule",
          "a Schedule whose first delays are > 0 (e.g. Schedule.exponential(\"5 seconds\"))"
        )
      )
    }
    return out
  })

/** The store configuration, with the open durations computed. @internal */
export const toStoreConfig = (parsed: Parsed): Effect.Effect<StoreConfig, InvalidOptionsError> => {
  const fixed = typeof parsed.openDuration === "number" ? parsed.openDuration : undefined
  // a dependency's retryAfter lengthens a fixed break too: the default cap is not the break itself
  const maxOpenDuration = parsed.maxOpenDuration ?? Math.max(DEFAULT_MAX_OPEN_DURATION, fixed ?? 0)
  const durations: Effect.Effect<ReadonlyArray<number>, InvalidOptionsError> = fixed !== undefined
    ? Effect.succeed([fixed])
    : scheduledDurations(parsed.openDuration as Schedule.Schedule<unknown>, maxOpenDuration)
  return Effect.map(durations, (openDurations) => ({
    ...parsed.config,
    openDurations,
    maxOpenDuration,
    openDurationResetAfter: parsed.openDurationResetAfter ?? maxOpenDuration
  }))
}

/** The config key of each breaker option it sets, for errors. */
const CONFIG_KEYS: Readonly<Record<string, string>> = {
  "halfOpen.probes": "probes",
  "halfOpen.successThreshold": "successThreshold",
  "halfOpen.probeTimeout": "probeTimeout",
  "halfOpen.failureRateThreshold": "probeFailureRateThreshold",
  "slowCall.duration": "slowCallDuration",
  "slowCall.threshold": "slowCallThreshold"
}

/**
 * Validates every option given, even one the trip policy chosen does not use
 * (a wrong value in the environment is a mistake whatever it is for), then
 * the breaker options made from them; errors name this constructor and the
 * config key.
 * @internal
 */
export const fromConfigOptions = (options: CircuitBreaker.ConfigOptions): Options => {
  const m = "CircuitBreaker.fromConfigOptions"
  options = validate.options(m, options)
  return validate.nested(m, (option) => CONFIG_KEYS[option] ?? option, () => {
    if (options.failures !== undefined) consecutive(options.failures)
    if (options.threshold !== undefined) validate.number(m, "threshold", options.threshold, THRESHOLD)
    if (options.size !== undefined) validate.number(m, "size", options.size, { min: 1, max: MAX_WINDOW_SIZE, integer: true })
    if (options.window !== undefined) validate.duration(m, "window", options.window)
    if (options.buckets !== undefined) validate.number(m, "buckets", options.buckets, { min: 1, max: 1000, integer: true })
    if (options.minimumCalls !== undefined) validate.number(m, "minimumCalls", options.minimumCalls, { min: 1, integer: true })
    const result = fromConfigOptionsUnchecked(m, options)
    parse(result)
    return result
  })
}

const fromConfigOptionsUnchecked = (m: string, options: CircuitBreaker.ConfigOptions): Options => {
  const kind = options.tripPolicy === undefined
    ? "consecutive"
    : validate.oneOf(m, "tripPolicy", options.tripPolicy, ["consecutive", "rate", "timeRate"])
  const tripPolicy = kind === "consecutive"
    ? consecutive(options.failures ?? 5)
    : kind === "rate"
    ? rate({ threshold: options.threshold ?? 0.5, size: options.size ?? 100, minimumCalls: options.minimumCalls })
    : timeRate({
      threshold: options.threshold ?? 0.5,
      window: options.window ?? "30 seconds",
      buckets: options.buckets,
      minimumCalls: options.minimumCalls
    })
  const base = validate.duration(m, "openDuration", options.openDuration === undefined ? "30 seconds" : options.openDuration)
  const factor = validate.optionalNumber(m, "openDurationFactor", options.openDurationFactor, { min: 1, max: 100 }) ?? 1
  const openDuration = factor === 1 ? base : Schedule.exponential(base, factor)
  let slowCall: CircuitBreaker.CircuitBreaker.SlowCallOptions | undefined
  if (options.slowCallDuration !== undefined || options.slowCallThreshold !== undefined) {
    if (options.slowCallDuration === undefined) {
      throw validate.invalid(m, "slowCallDuration", undefined, "a duration > 0 when slowCallThreshold is set")
    }
    slowCall = {
      duration: options.slowCallDuration,
      threshold: options.slowCallThreshold === undefined ? 1 : options.slowCallThreshold
    }
  }
  return {
    tripPolicy,
    openDuration,
    maxOpenDuration: options.maxOpenDuration,
    openDurationResetAfter: options.openDurationResetAfter,
    halfOpen: {
      probes: options.probes,
      successThreshold: options.successThreshold,
      probeTimeout: options.probeTimeout,
      failureRateThreshold: options.probeFailureRateThreshold
    },
    slowCall,
    onStoreError: options.onStoreError,
    name: options.name
  }
}

/** The store namespace of a breaker: its name, or a unique one for an unnamed breaker. @internal */
export const namespaceOf = (parsed: Parsed, unique: number): string =>
  parsed.named ? parsed.name : `${DEFAULT_NAME}#anonymous-${PROCESS_TOKEN}-${unique}`

/**
 * A random token of this process: an anonymous breaker's circuits are its
 * own, never shared with a named breaker (no name can be guessed to equal it)
 * nor with another replica's anonymous breaker through a shared store.
 */
const PROCESS_TOKEN = globalThis.crypto.randomUUID()

/** @internal */
export { DEFAULT_KEY }
