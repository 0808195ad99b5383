/**
 * A breaker's options, described once (see spec.ts): the specs of
 * `CircuitBreaker.make` and of its trip policies, their checks and
 * defaults, the breaker read from `Config`, and the translation into the
 * store's plain configuration.
 *
 * @internal
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as CircuitBreaker from "../../CircuitBreaker.js"
import { InvalidOptionsError } from "../errors.js"
import * as Keys from "../keys.js"
import * as Spec from "../spec.js"
import * as validate from "../validate.js"
import { outcomeFailureSpec } from "./classify.js"
import { DEFAULT_KEY } from "./errors.js"
import { memoryOptionsSpec } from "./memoryStore.js"

type Options = CircuitBreaker.CircuitBreaker.Options
type StoreConfig = CircuitBreaker.CircuitBreakerStore.Config
type HalfOpenOptions = CircuitBreaker.CircuitBreaker.HalfOpenOptions

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
/** A window's size or a count of failures: memory per circuit stays bounded. */
const WINDOW = { min: 1, max: MAX_WINDOW_SIZE } as const
/** A time window's buckets. */
const BUCKETS = { min: 1, max: 1000 } as const
/** Probes and successes of a half-open period. */
const PROBES = { min: 1, max: 10_000 } as const

/** The trip policy of a breaker read from `Config` without `failures`: `consecutive(5)`. @internal */
export const DEFAULT_CONFIG_FAILURES = 5
/** The failure rate of a rate policy read from `Config` without `threshold`. @internal */
export const DEFAULT_CONFIG_THRESHOLD = 0.5
/** The window of a `rate` policy read from `Config` without `size`. @internal */
export const DEFAULT_CONFIG_SIZE = 100
/** The window of a `timeRate` policy read from `Config` without `window`. @internal */
export const DEFAULT_CONFIG_WINDOW = Duration.seconds(30)
/** The break of a breaker read from `Config` without `openDuration`. @internal */
export const DEFAULT_CONFIG_OPEN_DURATION = Duration.seconds(30)
/** The growth of the breaks read from `Config` without `openDurationFactor`: none (a fixed break). @internal */
export const DEFAULT_CONFIG_OPEN_DURATION_FACTOR = 1
/** The slow-call rate of a breaker read from `Config` with `slowCallDuration` but no `slowCallThreshold`. @internal */
export const DEFAULT_CONFIG_SLOW_CALL_THRESHOLD = 1

/** The options of `CircuitBreaker.rate`. @internal */
export interface RateOptions {
  readonly threshold: number
  readonly size: number
  readonly minimumCalls?: number | undefined
}

/** The options of `CircuitBreaker.timeRate`. @internal */
export interface TimeRateOptions {
  readonly threshold: number
  readonly window: Duration.DurationInput
  readonly buckets?: number | undefined
  readonly minimumCalls?: number | undefined
}

/** The argument of `CircuitBreaker.consecutive`, as options. */
interface ConsecutiveOptions {
  readonly failures: number
}

/**
 * An option whose range depends on another one (`minimumCalls <= size`):
 * taken as given here, checked by its spec's `refine` with the range it
 * states (`expected`).
 */
const checkedByRefine = (expected: string): Spec.Field<number | undefined> =>
  new Spec.Field<number | undefined>({ ...Spec.integer().props, expected, parse: (_m, _o, v) => v as number })

/**
 * `field`, its errors about the value itself (not about an option inside
 * it) stating `expected` instead.
 */
const expecting = <A>(field: Spec.Field<A>, expected: string): Spec.Field<A> => {
  const parse = field.props.parse
  return new Spec.Field<A>({
    ...field.props,
    expected,
    parse: (m, o, v) => {
      try {
        return parse(m, o, v)
      } catch (e) {
        if (e instanceof InvalidOptionsError && e.option === o) throw validate.invalid(m, o, v, expected)
        throw e
      }
    }
  })
}

const millis = (d: Duration.Duration): number => Math.min(Duration.toMillis(d), MAX_DURATION)

/** A duration a breaker keeps, in milliseconds (at most {@link MAX_DURATION}). */
const breakMillis = (bounds?: validate.DurationBounds): Spec.Field<number | undefined> =>
  Spec.duration(bounds).map((d) => d === undefined ? undefined : millis(d))

/** The options of `CircuitBreaker.consecutive` (its argument, `failures`). @internal */
export const consecutiveSpec = Spec.struct<ConsecutiveOptions>()("CircuitBreaker.consecutive", {
  failures: Spec.integer(WINDOW).required()
})

/** The options of `CircuitBreaker.rate`. @internal */
export const rateSpec = Spec.struct<RateOptions>()("CircuitBreaker.rate", {
  threshold: Spec.number(THRESHOLD).required(),
  size: Spec.integer(WINDOW).required(),
  // its range is up to `size`: checked below, naming the size
  minimumCalls: checkedByRefine("an integer >= 1 and <= size").doc("size")
}, (r, o, m) => {
  if (o.minimumCalls !== undefined) validate.number(m, "minimumCalls", o.minimumCalls, { min: 1, max: r.size, integer: true })
})

/** The options of `CircuitBreaker.timeRate`. @internal */
export const timeRateSpec = Spec.struct<TimeRateOptions>()("CircuitBreaker.timeRate", {
  threshold: Spec.number(THRESHOLD).required(),
  window: Spec.duration().required(),
  buckets: Spec.integer(BUCKETS).default(DEFAULT_TIME_RATE_BUCKETS),
  minimumCalls: Spec.integer({ min: 1 }).default(DEFAULT_TIME_RATE_MINIMUM_CALLS)
}, (r, o, m) => {
  if (Duration.toMillis(r.window) < r.buckets) {
    throw validate.invalid(m, "window", o.window, `a duration of at least 1 millisecond per bucket (${r.buckets} ms)`)
  }
})

/** @internal */
export const consecutive = (failures: number): CircuitBreaker.TripPolicy.Consecutive => ({
  _tag: "Consecutive",
  failures: consecutiveSpec.resolve({ failures }).failures
})

/** @internal */
export const rate = (options: RateOptions): CircuitBreaker.TripPolicy.Rate => {
  const r = rateSpec.resolve(options)
  return { _tag: "Rate", threshold: r.threshold, size: r.size, minimumCalls: r.minimumCalls ?? r.size }
}

/** @internal */
export const timeRate = (options: TimeRateOptions): CircuitBreaker.TripPolicy.TimeRate => {
  const r = timeRateSpec.resolve(options)
  return { _tag: "TimeRate", threshold: r.threshold, window: r.window, buckets: r.buckets, minimumCalls: r.minimumCalls }
}

const TRIP_TAGS: ReadonlyArray<unknown> = ["Consecutive", "Rate", "TimeRate"]

const isTripPolicy = (u: unknown): boolean => Predicate.hasProperty(u, "_tag") && TRIP_TAGS.includes(u._tag)

/** The trip policy as the store sees it (validated again: a policy may be a hand-written object). */
const tripToStore = (t: CircuitBreaker.TripPolicy): CircuitBreaker.CircuitBreakerStore.Trip => {
  switch (t._tag) {
    case "Consecutive":
      return consecutive(t.failures)
    case "Rate":
      return rate(t)
    case "TimeRate": {
      const r = timeRate(t)
      return { ...r, window: Duration.toMillis(r.window) }
    }
  }
}

/**
 * The trip policy a breaker read from `Config` opens on: `tripPolicy`
 * (`"consecutive"` by default) with its options, each defaulted as the docs
 * say. Every option given was checked already, even one the policy chosen
 * does not use (a wrong value in the environment is a mistake whatever it is
 * for).
 */
const tripFromConfig = (d: Readonly<Record<string, unknown>>): CircuitBreaker.TripPolicy => {
  const threshold = (d.threshold as number | undefined) ?? DEFAULT_CONFIG_THRESHOLD
  const minimumCalls = d.minimumCalls as number | undefined
  switch (d.tripPolicy) {
    case "rate":
      return rate({ threshold, size: (d.size as number | undefined) ?? DEFAULT_CONFIG_SIZE, minimumCalls })
    case "timeRate":
      return timeRate({
        threshold,
        window: (d.window as Duration.Duration | undefined) ?? DEFAULT_CONFIG_WINDOW,
        buckets: d.buckets as number | undefined,
        minimumCalls
      })
    default:
      return consecutive((d.failures as number | undefined) ?? DEFAULT_CONFIG_FAILURES)
  }
}

/** The break of a breaker read from `Config`: `openDuration`, growing by `openDurationFactor` per opening when not 1. */
const openDurationFromConfig = (d: Readonly<Record<string, unknown>>): Duration.Duration | Schedule.Schedule<unknown> => {
  const base = (d.openDuration as Duration.Duration | undefined) ?? DEFAULT_CONFIG_OPEN_DURATION
  const factor = (d.openDurationFactor as number | undefined) ?? DEFAULT_CONFIG_OPEN_DURATION_FACTOR
  return factor === 1 ? base : Schedule.exponential(base, factor)
}

/** A break: a duration (in milliseconds here) or a `Schedule` of breaks. */
const openDurationField = ((): Spec.Field<number | Schedule.Schedule<unknown> | undefined> => {
  const fixed = breakMillis()
  return new Spec.Field<number | Schedule.Schedule<unknown> | undefined>({
    ...fixed.props,
    expected: "a finite duration > 0 or a Schedule",
    // code from `Config`: built from openDuration and openDurationFactor (below)
    read: undefined,
    parse: (m, o, v) => Schedule.isSchedule(v) ? v as Schedule.Schedule<unknown> : fixed.props.parse(m, o, v)
  })
})()

/** `slowCall`: an optional group, its options flat in `Config` (`slowCallDuration`, `slowCallThreshold`). */
const slowCallField = expecting(
  Spec.optionalGroup({
    duration: breakMillis().required().key("slowCallDuration"),
    threshold: Spec.number(THRESHOLD).required().key("slowCallThreshold")
  }, { flat: true }),
  "{ duration, threshold }"
)

/**
 * The options of `CircuitBreaker.make`, described once. From `Config` the
 * options are flat (`CircuitBreaker.ConfigOptions`): the trip policy is
 * built from `tripPolicy` and its options, the break from `openDuration` and
 * `openDurationFactor`, `halfOpen` and `slowCall` read at the top level
 * (`probes`, `probeFailureRateThreshold`, `slowCallDuration`, …); the
 * classifier is code (`layerConfig`'s third argument).
 *
 * @internal
 */
export const spec = Spec.struct<Options>()("CircuitBreaker.make", {
  name: Spec.string().default(DEFAULT_NAME),
  tripPolicy: Spec.code<CircuitBreaker.TripPolicy>(
    "CircuitBreaker.consecutive(n), rate({ … }) or timeRate({ … })",
    isTripPolicy
  ).map((t) => tripToStore(t!)).required().fromConfig({
    tripPolicy: Spec.literal("consecutive", "rate", "timeRate").doc("\"consecutive\""),
    failures: Spec.integer(WINDOW).doc(`${DEFAULT_CONFIG_FAILURES} (consecutive)`),
    threshold: Spec.number(THRESHOLD).doc(`${DEFAULT_CONFIG_THRESHOLD} (rate, timeRate)`),
    size: Spec.integer(WINDOW).doc(`${DEFAULT_CONFIG_SIZE} (rate)`),
    window: Spec.duration().doc("30 seconds (timeRate)"),
    buckets: Spec.integer(BUCKETS).doc(`${DEFAULT_TIME_RATE_BUCKETS} (timeRate)`),
    minimumCalls: Spec.integer({ min: 1 }).doc(`size (rate), ${DEFAULT_TIME_RATE_MINIMUM_CALLS} (timeRate)`)
  }, tripFromConfig),
  openDuration: openDurationField.required().fromConfig({
    openDuration: Spec.duration().doc("30 seconds"),
    openDurationFactor: Spec.number({ min: 1, max: 100 }).doc("1 (a fixed break)")
  }, openDurationFromConfig),
  maxOpenDuration: breakMillis().doc("10 minutes (or openDuration, when a fixed one is longer)"),
  openDurationResetAfter: breakMillis({ allowZero: true }).doc("maxOpenDuration"),
  halfOpen: Spec.group({
    probes: Spec.integer(PROBES).default(DEFAULT_PROBES),
    successThreshold: Spec.integer(PROBES).default(DEFAULT_SUCCESS_THRESHOLD),
    probeTimeout: breakMillis().default(Duration.millis(DEFAULT_PROBE_TIMEOUT)),
    failureRateThreshold: Spec.number(THRESHOLD).key("probeFailureRateThreshold").doc("off (one failed probe reopens)")
  }, { flat: true }),
  slowCall: slowCallField,
  classify: Spec.func<CircuitBreaker.Classifier<unknown, unknown>>().doc("CircuitBreaker.defaultClassify"),
  onStoreError: Spec.literal("allow", "fail").default("allow"),
  labelMetricsByKey: Spec.boolean().default(false),
  spans: Spec.boolean().default(false),
  maxKeyLength: Keys.maxKeyLengthField
}, (r, o, m) => {
  if (r.maxOpenDuration !== undefined && typeof r.openDuration === "number" && r.maxOpenDuration < r.openDuration) {
    throw validate.invalid(
      m,
      "maxOpenDuration",
      o.maxOpenDuration,
      `a duration >= openDuration (${Duration.format(Duration.millis(r.openDuration))})`
    )
  }
  if (r.halfOpen.failureRateThreshold !== undefined && (o.halfOpen as HalfOpenOptions).successThreshold !== undefined) {
    throw validate.invalid(
      m,
      "halfOpen.successThreshold",
      (o.halfOpen as HalfOpenOptions).successThreshold,
      "no successThreshold with halfOpen.failureRateThreshold (the circuit then closes on the failure rate of its `probes` probes)"
    )
  }
}).readFrom("CircuitBreaker.config")

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

/** Throws `InvalidOptionsError`. @internal */
export const parse = (options: Options): Parsed => {
  const r = spec.resolve(options)
  const { failureRateThreshold: probeFailureRateThreshold, probeTimeout, probes, successThreshold } = r.halfOpen
  return {
    name: r.name,
    named: options.name !== undefined,
    config: {
      trip: r.tripPolicy,
      slowCallThreshold: r.slowCall?.threshold,
      probes,
      successThreshold,
      probeTimeout,
      ...(probeFailureRateThreshold === undefined ? {} : { probeFailureRateThreshold })
    },
    openDuration: r.openDuration,
    maxOpenDuration: r.maxOpenDuration,
    openDurationResetAfter: r.openDurationResetAfter,
    slowCallDuration: r.slowCall?.duration,
    classify: r.classify,
    onStoreError: r.onStoreError,
    labelMetricsByKey: r.labelMetricsByKey,
    spans: r.spans,
    maxKeyLength: r.maxKeyLength
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

/**
 * The options config data stands for (`CircuitBreaker.ConfigOptions`,
 * already moved to their places by the spec), with what the spec cannot
 * say: the trip policy and the break take their `Config` defaults when none
 * of their data is given (`consecutive(5)`, 30 seconds), and `slowCall`
 * needs its duration (its threshold defaults to 1). Throws
 * `InvalidOptionsError` naming `module` and the option's path.
 */
const fromConfigData = (data: Readonly<Record<string, unknown>>, module: string): Record<string, unknown> => {
  const options = { ...spec.fromConfigOptions(data, module) }
  const slowCall = options.slowCall as { readonly duration?: unknown; readonly threshold?: unknown } | undefined
  if (slowCall !== undefined) {
    if (slowCall.duration === undefined) {
      throw validate.invalid(module, "slowCall.duration", undefined, "a duration > 0 when slowCallThreshold is set")
    }
    if (slowCall.threshold === undefined) options.slowCall = { ...slowCall, threshold: DEFAULT_CONFIG_SLOW_CALL_THRESHOLD }
  }
  return options
}

/**
 * The options a `fromConfig`/`layerConfig` reads: `config` (the spec's own
 * `Config`, a `Config` of `ConfigOptions` or a record of `Config`s) turned
 * into options, merged with the code options given (which win), the trip
 * policy and the break defaulted, and checked, with errors naming `module`
 * and the config key.
 * @internal
 */
export const readConfig = (
  module: string,
  config: unknown,
  code: object | undefined
): Effect.Effect<Options, InvalidOptionsError | ConfigError.ConfigError> =>
  Effect.flatMap(
    validate.fromConfig<Record<string, unknown>>(module, config as Config.Config.Wrap<Record<string, unknown>>),
    (data) =>
      validate.validated(() =>
        Spec.asConfig(spec, module, () => {
          const options = { ...fromConfigData(data, module), ...validate.options(module, code, "code") }
          if (options.tripPolicy === undefined) options.tripPolicy = tripFromConfig({})
          if (options.openDuration === undefined) options.openDuration = openDurationFromConfig({})
          spec.resolve(options, module)
          return options as unknown as Options
        })
      )
  )

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

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [
  spec,
  consecutiveSpec,
  rateSpec,
  timeRateSpec,
  memoryOptionsSpec,
  outcomeFailureSpec
]
