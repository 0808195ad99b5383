/**
 * The options of the health module, described once: the service's
 * (`Health.make`: timings and a threshold, read from `Config` by
 * `Health.config`), a check's (`Health.register`), the circuit breaker
 * sources', the policy registry's entries, and `Health.toJson`'s. Checks are
 * code; what comes from `Config` is the service's defaults.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type * as Health from "../../Health.js"
import * as Spec from "../spec.js"
import * as validate from "../validate.js"
import { DEFAULT_MAX_MESSAGE_LENGTH } from "./message.js"

/** @internal */
export const DEFAULT_INTERVAL_MILLIS = 10_000
/** @internal */
export const DEFAULT_TIMEOUT_MILLIS = 2_000
/** @internal */
export const DEFAULT_WHEN_OPEN = "degraded" as const

/**
 * A check interval: a finite duration > 0 (a `Schedule.spaced` of it), or a
 * `Schedule` (code). From `Config`, a duration.
 */
const interval = new Spec.Field<Schedule.Schedule<unknown> | undefined>({
  ...(Spec.duration().props as Spec.Field<any>["props"]),
  expected: "a finite duration > 0 or a Schedule",
  // a bad duration keeps the duration's own message
  parse: (m: string, o: string, v: unknown) =>
    Schedule.isSchedule(v) ? v as Schedule.Schedule<unknown> : Schedule.spaced(validate.duration(m, o, v))
})

/** A check's timeout: a duration > 0; an infinite one is none. */
const timeout = Spec.duration({ allowInfinite: true })

const CRITICAL = `a boolean, "critical" or "non-critical"`

/** The options of `Health.make` (and `Health.layer`). @internal */
export const spec = Spec.struct<Health.Options>()("Health.make", {
  interval: interval.default(Duration.millis(DEFAULT_INTERVAL_MILLIS), "10 seconds"),
  timeout: timeout.default(Duration.millis(DEFAULT_TIMEOUT_MILLIS)),
  maxMessageLength: Spec.integer({ min: 16 }).default(DEFAULT_MAX_MESSAGE_LENGTH)
}).readFrom("Health.config")

/** The service's options, validated, with their defaults. @internal */
export type Resolved = Spec.Resolved<typeof spec.fields>

/** The options of a check that a source passes on to `Health.register` (checked where they are written). */
const checkOptions = {
  // defaults: the service's (`Health.make`'s interval and timeout)
  timeout: timeout.doc("the service's timeout (2 seconds)"),
  critical: Spec.code<boolean | Health.Criticality>(
    CRITICAL,
    (u) => typeof u === "boolean" || u === "critical" || u === "non-critical"
  ).doc("\"critical\""),
  interval: interval.doc("the service's interval (10 seconds)"),
  liveness: Spec.boolean().default(false),
  readiness: Spec.boolean().default(true)
}

/**
 * A check (`Health.register`): its name and effect (code), and the options
 * that override the service's defaults.
 *
 * @internal
 */
export const checkSpec = Spec.struct<Health.Check<unknown, unknown>>()("Health.register", {
  name: Spec.string().required(),
  check: Spec.code<Effect.Effect<unknown, unknown, unknown>>("an Effect", Effect.isEffect).required(),
  timeout: checkOptions.timeout,
  interval: checkOptions.interval,
  critical: checkOptions.critical,
  trigger: Spec.code<Stream.Stream<unknown>>("a Stream", (u) => Predicate.hasProperty(u, Stream.StreamTypeId)),
  liveness: checkOptions.liveness,
  readiness: checkOptions.readiness
})

/**
 * Checks a check (throws `InvalidOptionsError` naming `Health.register`):
 * an object, with valid options.
 *
 * @internal
 */
export const resolveCheck = (check: unknown) => {
  const m = checkSpec.module
  if (check === null || typeof check !== "object" || Array.isArray(check)) {
    throw validate.invalid(m, "check", check, "a check object")
  }
  return checkSpec.resolve(check, m)
}

/** A circuit breaker's keys to watch: an iterable of keys, or a function returning one (read at each check). */
const keys = Spec.code<Iterable<string> | (() => Iterable<string>)>(
  "an iterable of keys or a function returning one",
  (u) => typeof u === "function" || (Predicate.isIterable(u) && typeof u !== "string")
)

/** The options of `Health.fromCircuitBreaker`. @internal */
export const breakerCheckSpec = Spec.struct<Health.CircuitBreakerCheckOptions>()("Health.fromCircuitBreaker", {
  keys,
  name: Spec.string().doc("\"circuit:<breaker name>\""),
  whenOpen: Spec.literal("degraded", "unhealthy").default(DEFAULT_WHEN_OPEN),
  ...checkOptions
})

/** The check options a circuit breaker's entry passes on (all of `Health.fromCircuitBreaker`'s but `keys`). */
const breakerHealthSpec = new Spec.Spec("Health.registerCircuitBreaker", (({ keys: _, ...fields }) => fields)(breakerCheckSpec.fields))

/** `health` of `Health.registerCircuitBreaker`: the options of its check (checked, named `health.<option>`, kept as given), or `false`. */
const breakerHealth = new Spec.Field<Omit<Health.CircuitBreakerCheckOptions, "keys"> | false | undefined>({
  ...(Spec.code("an object or false", () => true).props as Spec.Field<any>["props"]),
  parse: (m: string, o: string, v: unknown) => {
    if (v === false) return false
    breakerHealthSpec.resolveAt(m, validate.options(m, v as Record<string, unknown>, o), `${o}.`)
    return v as Omit<Health.CircuitBreakerCheckOptions, "keys">
  }
})

/** The options of `Health.registerCircuitBreaker`. @internal */
export const registerBreakerSpec = Spec.struct<Health.RegisterCircuitBreakerOptions>()("Health.registerCircuitBreaker", {
  keys,
  name: Spec.string().doc("the breaker's name"),
  health: breakerHealth.doc("a check with whenOpen \"degraded\"")
})

/** The options of `Health.registerBulkhead`. @internal */
export const registerBulkheadSpec = Spec.struct<{ readonly name?: string | undefined }>()("Health.registerBulkhead", {
  name: Spec.string().doc("the bulkhead's name")
})

/** A new size of a policy in the registry (`PolicyRegistry.resize`). @internal */
export const size = Spec.integer({ min: 1 }).required()

/** A policy registry entry (`PolicyRegistry.register`): its name, kind and controls (code). @internal */
export const entrySpec = Spec.struct<Health.PolicyEntry>()("Health.PolicyRegistry.register", {
  isolate: Spec.func<NonNullable<Health.PolicyEntry["isolate"]>>(),
  reset: Spec.func<NonNullable<Health.PolicyEntry["reset"]>>(),
  resize: Spec.func<NonNullable<Health.PolicyEntry["resize"]>>(),
  setMode: Spec.func<NonNullable<Health.PolicyEntry["setMode"]>>(),
  info: Spec.code<Effect.Effect<Readonly<Record<string, unknown>>>>("an Effect", Effect.isEffect),
  name: Spec.string().required(),
  kind: Spec.string().required(),
  // checked by `Health.register`, when the registry feeds a Health service
  health: Spec.code<Health.Check<unknown>>("a health check", () => true)
})

/** The options of `Health.toJson`. @internal */
export const toJsonSpec = Spec.struct<{ readonly details?: boolean | undefined }>()("Health.toJson", {
  details: Spec.boolean().default(true)
})

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [
  spec,
  checkSpec,
  breakerCheckSpec,
  registerBreakerSpec,
  registerBulkheadSpec,
  entrySpec,
  toJsonSpec
]
