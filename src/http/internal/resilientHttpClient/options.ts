/**
 * The resilient HTTP client's options: validation (an `InvalidOptionsError`
 * naming the option) and defaults, resolved once at construction into a
 * {@link Config}; and the settings of {@link ResilientHttpClient.streaming}.
 *
 * @internal
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as EffectConfig from "effect/Config"
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type * as Bulkhead from "../../../Bulkhead.js"
import type * as CircuitBreaker from "../../../CircuitBreaker.js"
import * as breaker_ from "../../../internal/circuitBreaker/breaker.js"
import * as breakerOptions_ from "../../../internal/circuitBreaker/options.js"
import * as bulkheadOptions_ from "../../../internal/bulkhead/options.js"
import type * as Health from "../../../Health.js"
import * as healthOptions_ from "../../../internal/health/options.js"
import * as Spec from "../../../internal/spec.js"
import * as userCode from "../../../internal/userCode.js"
import * as validate from "../../../internal/validate.js"
import type * as Retry from "../../../Retry.js"
import * as retryOptions_ from "../../../internal/retry/options.js"
import * as retrySchedule_ from "../../../internal/retry/schedule.js"
import type * as Timeout from "../../../Timeout.js"
import * as timeout_ from "../../../internal/timeout/timeout.js"
import type * as ResilientHttpClient from "../../ResilientHttpClient.js"
import { IDEMPOTENCY_KEY, IDEMPOTENT_METHODS, RETRYABLE_STATUSES } from "./classify.js"
import * as propagation_ from "./propagation.js"

/** The name of a client made without one. @internal */
export const DEFAULT_NAME = "http"
/** @internal */
export const DEFAULT_TIMEOUT = Duration.seconds(30)
/** @internal */
export const DEFAULT_ATTEMPT_TIMEOUT = Duration.seconds(10)
/** @internal */
export const DEFAULT_TIMES = 2
/** @internal */
export const DEFAULT_MAX_RETRY_AFTER = Duration.seconds(30)
/** @internal */
export const DEFAULT_MAX_BUFFER_BYTES = 10 * 1024 * 1024
/** @internal */
export const DEFAULT_BODY_TIMEOUT = Duration.seconds(60)
/** @internal */
export const DEFAULT_DRAIN_BYTES = 64 * 1024
/** @internal */
export const DEFAULT_DRAIN_TIMEOUT = Duration.seconds(1)
/** @internal */
export const DEFAULT_MAX_ORIGINS = 50

/** The break of the breaker made for a client that brings none (from `Config` too). @internal */
export const DEFAULT_OPEN_DURATION = Duration.seconds(10)

/** The breaker made for a client that brings none (merged under its options). @internal */
export const DEFAULT_BREAKER: CircuitBreaker.CircuitBreaker.Options = {
  tripPolicy: breakerOptions_.consecutive(5),
  openDuration: DEFAULT_OPEN_DURATION
}

/** The bulkhead made for a client that brings none (merged under its options). @internal */
export const DEFAULT_BULKHEAD: Bulkhead.Bulkhead.Options = { maxConcurrent: 100, maxQueue: 1000 }

let defaultSchedule: Schedule.Schedule<unknown, unknown> | undefined

/** The retry settings, resolved. @internal */
export interface RetryConfig {
  readonly times: number
  readonly schedule: Schedule.Schedule<unknown, unknown>
  readonly maxRetryAfter: Duration.Duration
  readonly budget: Retry.Budget | undefined
  readonly methods: ReadonlySet<string>
  readonly nonIdempotent: boolean
  readonly idempotencyKeyHeader: string
  readonly statuses: ReadonlySet<number>
  readonly maxRetryAfterMillis: number
}

/** The options, validated, with their defaults. @internal */
export interface Config {
  readonly name: string
  readonly timeout: Timeout.Timeout | undefined
  readonly attemptTimeout: Timeout.Timeout | undefined
  readonly bodyTimeout: Duration.Duration | undefined
  readonly bufferBody: (request: HttpClientRequest.HttpClientRequest) => boolean
  readonly maxBufferBytes: number
  readonly retry: RetryConfig | undefined
  readonly statuses: ReadonlySet<number>
  readonly circuitBreaker: CircuitBreaker.CircuitBreaker | Partial<CircuitBreaker.CircuitBreaker.Options> | undefined
  readonly bulkhead: Bulkhead.Bulkhead | Partial<Bulkhead.Bulkhead.Options> | undefined
  readonly register: boolean
  readonly health: Omit<Health.CircuitBreakerCheckOptions, "keys" | "name"> | undefined
  readonly drainBytes: number
  readonly drainTimeout: Duration.Duration
  readonly maxOrigins: number
  readonly spans: boolean
  /** Deadline propagation (`propagateDeadline`): off when undefined. */
  readonly propagateDeadline: propagation_.Propagation | undefined
}

// ---------------------------------------------------------------------------
// The spec
// ---------------------------------------------------------------------------

/**
 * A field whose value is checked by `parse` (the other properties: `base`'s,
 * e.g. how it is read from `Config`).
 */
const withParse = <A>(
  base: Spec.Field<any>,
  props: { readonly parse: (m: string, o: string, v: unknown) => A; readonly expected?: string; readonly group?: Spec.Spec<any> }
): Spec.Field<A> => new Spec.Field<A>({ ...(base.props as Spec.Field<any>["props"]), ...props })

/**
 * A timeout option: a duration > 0; `false` or an infinite duration is none
 * (`undefined`), absent its default.
 */
const timeoutField = (fallback: Duration.Duration): Spec.Field<Duration.Duration | undefined> =>
  withParse<Duration.Duration | undefined>(Spec.duration({ allowInfinite: true }), {
    expected: "a duration > 0, or false (none)",
    parse: (m, o, v) => {
      if (v === false) return undefined
      // an infinite timeout is none, as `false` (the spelling that works through Config)
      const d = validate.duration(m, o, v, { allowInfinite: true })
      return Duration.isFinite(d) ? d : undefined
    }
  }).default(fallback)

const BUFFER_BODY = "a boolean or a predicate on the request"

/** `bufferBody`: a boolean (from `Config` too) or a predicate on the request (code). */
const bufferBodyField = withParse<boolean | ((request: HttpClientRequest.HttpClientRequest) => boolean) | undefined>(
  Spec.boolean(),
  {
    expected: BUFFER_BODY,
    parse: (m, o, v) => {
      if (typeof v !== "boolean" && typeof v !== "function") throw validate.invalid(m, o, v, BUFFER_BODY)
      return v as boolean | ((request: HttpClientRequest.HttpClientRequest) => boolean)
    }
  }
).default(true)

const METHODS = "an array of HTTP methods"
const STATUSES = "an array of status codes in [100, 599]"

/** An array option, read from `Config` as a list (`"GET,HEAD"`). */
const arrayField = <A>(
  item: EffectConfig.Config<A>,
  expected: string,
  is: (u: unknown) => boolean
): Spec.Field<ReadonlyArray<A> | undefined> =>
  new Spec.Field<ReadonlyArray<A> | undefined>({
    ...(Spec.code<ReadonlyArray<A>>(expected, (u) => Array.isArray(u) && u.every(is)).props as Spec.Field<any>["props"]),
    read: (key: string) => EffectConfig.array(item, key)
  })

/** The default backoff of the client's retries: exponential, 100 millis to 5 seconds, full jitter (made once). */
const theDefaultSchedule = (): Schedule.Schedule<unknown, unknown> =>
  defaultSchedule ??= retrySchedule_.exponential({ base: "100 millis", max: "5 seconds", jitter: "full" })

/** The default base of a backoff read from `Config`. @internal */
export const DEFAULT_CONFIG_BASE = Duration.millis(100)
/** The default cap of a backoff read from `Config` (or its base, when longer). @internal */
export const DEFAULT_CONFIG_MAX = Duration.seconds(5)

/** The backoff of retries read from `Config`: an exponential one from its options, with the client's defaults. */
const scheduleFromConfig = (d: Readonly<Record<string, unknown>>): Schedule.Schedule<unknown, unknown> => {
  const base = (d.base as Duration.Duration | undefined) ?? DEFAULT_CONFIG_BASE
  return retrySchedule_.exponential({
    base,
    factor: d.factor as number | undefined,
    max: (d.max as Duration.Duration | undefined) ?? Duration.max(base, DEFAULT_CONFIG_MAX),
    jitter: (d.jitter as Retry.Jitter | undefined) ?? "full"
  })
}

const retryFields = retryOptions_.spec.fields

/** The retry settings (`retry.*`): `Retry.policy`'s fields where they are the same, the client's defaults. */
const retrySpec = new Spec.Spec("ResilientHttpClient.make", {
  times: retryFields.times.default(DEFAULT_TIMES),
  schedule: Spec.code<Schedule.Schedule<unknown, unknown>>("a Schedule", Schedule.isSchedule)
    .doc("exponential: base 100 millis, max 5 seconds, full jitter")
    .fromConfig({
      ...retryFields.schedule.props.build!.fields,
      max: Spec.duration().doc("5 seconds (or base, when longer)")
    }, scheduleFromConfig),
  maxRetryAfter: Spec.duration({ allowZero: true }).default(DEFAULT_MAX_RETRY_AFTER),
  budget: retryFields.budget,
  methods: arrayField(EffectConfig.string(), METHODS, (x) => typeof x === "string").doc(IDEMPOTENT_METHODS.join(", ")),
  nonIdempotent: Spec.boolean().default(false),
  idempotencyKeyHeader: Spec.string().default(IDEMPOTENCY_KEY),
  statuses: arrayField(EffectConfig.integer(), STATUSES, (s) => Number.isInteger(s) && (s as number) >= 100 && (s as number) <= 599)
    .doc(RETRYABLE_STATUSES.join(", "))
} satisfies { readonly [K in keyof Required<ResilientHttpClient.RetryOptions>]: Spec.Field<any> })

/** The retry settings, or `false` (none); an absent `retry` takes every default. */
const retryField = withParse<Spec.Resolved<typeof retrySpec.fields> | false>(Spec.code("an object or false", () => true), {
  group: retrySpec,
  // a group's own check: an object (named `retry`), then each option (named `retry.<option>`)
  parse: (m, o, v) => v === false ? false : retrySpec.resolveAt(m, validate.options(m, v as Record<string, unknown>, o), `${o}.`)
}).default({})

/**
 * The options of a part the client makes unless given one (its breaker,
 * its bulkhead): the module's own fields, none required (the client's
 * defaults are merged under them). Read from `Config` nested under the
 * part's name (`circuitBreaker.failures`, `bulkhead.maxConcurrent`).
 */
const partial = <F extends Spec.Fields>(fields: F): F =>
  Object.fromEntries(
    Object.entries(fields).map(([k, f]) => [k, new Spec.Field({ ...(f.props as Spec.Field<any>["props"]), required: false })])
  ) as unknown as F

const BREAKER = "a CircuitBreaker, its options, or false"
const BULKHEAD = "a Bulkhead, its options, or false"
const HEALTH = "health check options or false"

/** The client's breaker options: `CircuitBreaker.make`'s, over the client's defaults (named after the client). */
const breakerSpec = (() => {
  const fields = partial(breakerOptions_.spec.fields)
  const build = fields.openDuration.props.build!
  return new Spec.Spec("CircuitBreaker.make", {
    ...fields,
    name: fields.name.doc("the client's name"),
    openDuration: fields.openDuration.doc("10 seconds").fromConfig(
      { ...build.fields, openDuration: Spec.duration().doc("10 seconds") },
      (d) => build.make({ openDuration: DEFAULT_OPEN_DURATION, ...d })
    )
  })
})()

/**
 * A part given as an instance, its options (checked now as its module
 * checks them, over the client's defaults; errors named `<part>.<option>`)
 * or `false`.
 */
const partField = <A>(
  expected: string,
  group: Spec.Spec<any>,
  isInstance: (u: unknown) => boolean,
  check: (m: string, v: Record<string, unknown>) => void
): Spec.Field<A | false | undefined> =>
  withParse<A | false | undefined>(Spec.code(expected, () => true), {
    group,
    parse: (m, o, v) => {
      if (v === false || isInstance(v)) return v as A | false
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw validate.invalid(m, o, v, expected)
      validate.nested(m, (option) => `${o}.${option}`, () => check(m, v as Record<string, unknown>))
      return v as A
    }
  })

const isBulkheadInstance = (u: unknown): boolean =>
  typeof u === "function" && Predicate.hasProperty(u, "execute") && Predicate.hasProperty(u, "resize")

/** The client's bulkhead options: `Bulkhead.make`'s, failing open on a store failure only. */
const bulkheadFields = partial(bulkheadOptions_.spec.fields)
const bulkheadSpec = new Spec.Spec("Bulkhead.make", {
  ...bulkheadFields,
  maxConcurrent: bulkheadFields.maxConcurrent.doc(String(DEFAULT_BULKHEAD.maxConcurrent)),
  maxQueue: bulkheadFields.maxQueue.doc(String(DEFAULT_BULKHEAD.maxQueue)),
  name: bulkheadFields.name.doc("the client's name"),
  // the client's errors do not include BulkheadStoreError: its bulkhead fails open on a store failure
  onStoreError: Spec.literal("allow").default("allow")
})

/** The client's health check: `Health.fromCircuitBreaker`'s options but its name and keys (the client's). */
const healthSpec = new Spec.Spec(
  "Health.fromCircuitBreaker",
  (({ keys: _k, name: _n, ...fields }) => fields)(healthOptions_.breakerCheckSpec.fields)
)

/**
 * The options of the resilient client, described once: checks, defaults,
 * `Config` (every data option, its parts' nested: `retry.*`,
 * `circuitBreaker.*`, `bulkhead.*`, `health.*`, `drain.*`) and the docs'
 * table. Code (a `bufferBody` predicate, a retry `schedule` or `budget`, a
 * breaker or bulkhead instance, `false` for a part) is `fromConfig`'s
 * second argument.
 *
 * @internal
 */
export const spec = Spec.struct<ResilientHttpClient.Options>()("ResilientHttpClient.make", {
  name: Spec.string().default(DEFAULT_NAME),
  timeout: timeoutField(DEFAULT_TIMEOUT),
  attemptTimeout: timeoutField(DEFAULT_ATTEMPT_TIMEOUT),
  bodyTimeout: timeoutField(DEFAULT_BODY_TIMEOUT),
  bufferBody: bufferBodyField,
  maxBufferBytes: Spec.integer({ min: 0 }).default(DEFAULT_MAX_BUFFER_BYTES, "10 MiB"),
  drain: Spec.group({
    maxBytes: Spec.integer({ min: 0 }).default(DEFAULT_DRAIN_BYTES, "64 KiB"),
    timeout: Spec.duration().default(DEFAULT_DRAIN_TIMEOUT)
  }),
  maxOrigins: Spec.integer({ min: 1 }).default(DEFAULT_MAX_ORIGINS),
  circuitBreaker: partField<CircuitBreaker.CircuitBreaker | Partial<CircuitBreaker.CircuitBreaker.Options>>(
    BREAKER,
    breakerSpec,
    breaker_.isCircuitBreaker,
    (m, v) => breakerOptions_.spec.resolve({ ...DEFAULT_BREAKER, ...v }, m)
  ).doc("consecutive(5) failures, openDuration 10 seconds"),
  bulkhead: partField<Bulkhead.Bulkhead | Partial<Bulkhead.Bulkhead.Options>>(
    BULKHEAD,
    bulkheadSpec,
    isBulkheadInstance,
    (m, v) => bulkheadSpec.resolveAt(m, { ...DEFAULT_BULKHEAD, ...v }, "")
  ).doc("maxConcurrent 100, maxQueue 1000"),
  health: partField<Omit<Health.CircuitBreakerCheckOptions, "keys" | "name">>(
    HEALTH,
    healthSpec,
    () => false,
    (m, v) => healthSpec.resolveAt(m, v, "")
  ).doc("whenOpen \"degraded\""),
  retry: retryField,
  register: Spec.boolean().default(true),
  spans: Spec.boolean().default(false),
  propagateDeadline: propagation_.field
}).readFrom("ResilientHttpClient.config")

/**
 * Validates the options (throws `InvalidOptionsError`, naming `m`) and
 * applies the defaults.
 *
 * @internal
 */
export const resolve = (options: ResilientHttpClient.Options | undefined, m: string): Config => {
  const r = spec.resolve(options, m)
  const name = r.name
  const retry = r.retry === false ? undefined : retryConfig(r.retry)
  return {
    name,
    timeout: r.timeout === undefined ? undefined : timeout_.make(r.timeout, { name, scope: "overall" }),
    attemptTimeout: r.attemptTimeout === undefined ? undefined : timeout_.make(r.attemptTimeout, { name, scope: "attempt" }),
    bodyTimeout: r.bodyTimeout,
    bufferBody: bufferBodyOf(name, r.bufferBody),
    maxBufferBytes: r.maxBufferBytes,
    retry,
    statuses: retry === undefined ? new Set(RETRYABLE_STATUSES) : retry.statuses,
    circuitBreaker: r.circuitBreaker === false ? undefined : r.circuitBreaker ?? {},
    bulkhead: r.bulkhead === false ? undefined : r.bulkhead ?? {},
    register: r.register,
    health: r.health === false ? undefined : r.health ?? {},
    drainBytes: r.drain.maxBytes,
    drainTimeout: r.drain.timeout,
    maxOrigins: r.maxOrigins,
    spans: r.spans,
    propagateDeadline: propagation_.fromResolved(r.propagateDeadline)
  }
}

const bufferBodyOf = (
  name: string,
  option: boolean | ((request: HttpClientRequest.HttpClientRequest) => boolean)
): (request: HttpClientRequest.HttpClientRequest) => boolean => {
  if (typeof option === "function") {
    // user code: a predicate that throws or answers a non-boolean is reported and answers true
    // (buffered: the default, the mode in which the call's timeouts bound the body)
    const site = userCode.site("ResilientHttpClient", name, "bufferBody", "the body is buffered (the default)")
    return (request) => userCode.predicate(site, option, request, true)
  }
  return option === false ? () => false : () => true
}

const retryConfig = (r: Spec.Resolved<typeof retrySpec.fields>): RetryConfig => ({
  times: r.times,
  schedule: r.schedule ?? theDefaultSchedule(),
  maxRetryAfter: r.maxRetryAfter,
  budget: r.budget,
  methods: new Set((r.methods ?? IDEMPOTENT_METHODS).map((x) => x.toUpperCase())),
  nonIdempotent: r.nonIdempotent,
  idempotencyKeyHeader: r.idempotencyKeyHeader.toLowerCase(),
  statuses: new Set(r.statuses ?? RETRYABLE_STATUSES),
  maxRetryAfterMillis: Duration.toMillis(r.maxRetryAfter)
})

/** The parts of the options that may be given as code beside the config data (merged into theirs). */
const PARTS = ["retry", "circuitBreaker", "bulkhead", "health", "drain"] as const

/**
 * The options config data and code stand for: the code's options win; a
 * part given in both as options is merged (`retry.times` from `Config`,
 * `retry.budget` in code), a part given in code as an instance or `false`
 * replaces the config's.
 *
 * @internal
 */
export const merge = (
  data: Readonly<Record<string, unknown>>,
  code: Readonly<Record<string, unknown>>
): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...data, ...code }
  for (const part of PARTS) {
    const a = data[part]
    const b = code[part]
    if (Predicate.isObject(a) && Predicate.isObject(b) && typeof b !== "function") out[part] = { ...a, ...b }
  }
  return out
}

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

/** {@link ResilientHttpClient.StreamingOptions}, resolved. @internal */
export interface StreamingSettings {
  /** `undefined`: the client's `bodyTimeout`; `null`: none. */
  readonly bodyTimeout: Duration.Duration | null | undefined
  readonly deadline: boolean
}

/** @internal */
export const DEFAULT_STREAMING: StreamingSettings = { bodyTimeout: undefined, deadline: true }

/**
 * Validates the options of `streaming` (throws `InvalidOptionsError`).
 *
 * @internal
 */
export const resolveStreaming = (options: ResilientHttpClient.StreamingOptions | undefined): StreamingSettings =>
  options === undefined ? DEFAULT_STREAMING : streamingSpec.resolve(options)

/**
 * The options of `streaming` (per request: two fields, no `Config`).
 *
 * @internal
 */
export const streamingSpec = Spec.struct<ResilientHttpClient.StreamingOptions>()("ResilientHttpClient.streaming", {
  // absent: the client's; false or infinite: none (null)
  bodyTimeout: withParse<Duration.Duration | null | undefined>(Spec.duration({ allowInfinite: true }), {
    expected: "a duration > 0, or false (none)",
    parse: (m, o, v) => {
      if (v === false) return null
      const d = validate.duration(m, o, v, { allowInfinite: true })
      return Duration.isFinite(d) ? d : null
    }
  }).doc("the client's bodyTimeout"),
  deadline: Spec.boolean().default(true)
})

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec, streamingSpec]
