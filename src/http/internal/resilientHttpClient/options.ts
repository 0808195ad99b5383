/**
 * The resilient HTTP client's options: validation (an `InvalidOptionsError`
 * naming the option) and defaults, resolved once at construction into a
 * {@link Config}; and the settings of {@link ResilientHttpClient.streaming}.
 *
 * @internal
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type * as Bulkhead from "../../../Bulkhead.js"
import type * as CircuitBreaker from "../../../CircuitBreaker.js"
import * as breaker_ from "../../../internal/circuitBreaker/breaker.js"
import * as breakerOptions_ from "../../../internal/circuitBreaker/options.js"
import type * as Health from "../../../Health.js"
import * as userCode from "../../../internal/userCode.js"
import * as validate from "../../../internal/validate.js"
import type * as Retry from "../../../Retry.js"
import * as retrySchedule_ from "../../../internal/retry/schedule.js"
import type * as Timeout from "../../../Timeout.js"
import * as timeout_ from "../../../internal/timeout/timeout.js"
import type * as ResilientHttpClient from "../../ResilientHttpClient.js"
import { IDEMPOTENCY_KEY, IDEMPOTENT_METHODS, RETRYABLE_STATUSES } from "./classify.js"

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

/** The breaker made for a client that brings none (merged under its options). @internal */
export const DEFAULT_BREAKER: CircuitBreaker.CircuitBreaker.Options = {
  tripPolicy: breakerOptions_.consecutive(5),
  openDuration: "10 seconds"
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
}

/**
 * A timeout option: `false` or an infinite duration is none, `undefined`
 * the `fallback`.
 *
 * @internal
 */
export const optionalTimeout = (
  m: string,
  option: string,
  value: Duration.DurationInput | false | undefined,
  fallback: Duration.Duration | undefined
): Duration.Duration | undefined => {
  if (value === false) return undefined
  if (value === undefined) return fallback
  // an infinite timeout is none, as `false` (the spelling that works through Config)
  const d = validate.duration(m, option, value, { allowInfinite: true })
  return Duration.isFinite(d) ? d : undefined
}

/**
 * Validates the options (throws `InvalidOptionsError`, naming `m`) and
 * applies the defaults.
 *
 * @internal
 */
export const resolve = (options: ResilientHttpClient.Options | undefined, m: string): Config => {
  options = validate.options(m, options)
  const name = options.name === undefined ? "http" : validate.nonEmptyString(m, "name", options.name)
  const timeout = optionalTimeout(m, "timeout", options.timeout, DEFAULT_TIMEOUT)
  const attemptTimeout = optionalTimeout(m, "attemptTimeout", options.attemptTimeout, DEFAULT_ATTEMPT_TIMEOUT)
  const bodyTimeout = optionalTimeout(m, "bodyTimeout", options.bodyTimeout, DEFAULT_BODY_TIMEOUT)
  const bufferBody = resolveBufferBody(m, name, options.bufferBody)
  const maxBufferBytes = validate.optionalNumber(m, "maxBufferBytes", options.maxBufferBytes, { min: 0, integer: true }) ??
    DEFAULT_MAX_BUFFER_BYTES
  const drain = validate.options(m, options.drain, "drain")
  const drainBytes = validate.optionalNumber(m, "drain.maxBytes", drain.maxBytes, { min: 0, integer: true }) ??
    DEFAULT_DRAIN_BYTES
  const drainTimeout = validate.optionalDuration(m, "drain.timeout", drain.timeout) ?? DEFAULT_DRAIN_TIMEOUT
  const maxOrigins = validate.optionalNumber(m, "maxOrigins", options.maxOrigins, { min: 1, integer: true }) ??
    DEFAULT_MAX_ORIGINS
  const breakerOption = options.circuitBreaker
  if (
    breakerOption !== undefined && breakerOption !== false && !breaker_.isCircuitBreaker(breakerOption) &&
    (breakerOption === null || typeof breakerOption !== "object" || Array.isArray(breakerOption))
  ) {
    throw validate.invalid(m, "circuitBreaker", breakerOption, "a CircuitBreaker, its options, or false")
  }
  const bulkheadOption = options.bulkhead
  const isBulkhead = typeof bulkheadOption === "function" && Predicate.hasProperty(bulkheadOption, "execute") &&
    Predicate.hasProperty(bulkheadOption, "resize")
  if (
    bulkheadOption !== undefined && bulkheadOption !== false && !isBulkhead &&
    (bulkheadOption === null || typeof bulkheadOption !== "object" || Array.isArray(bulkheadOption))
  ) {
    throw validate.invalid(m, "bulkhead", bulkheadOption, "a Bulkhead, its options, or false")
  }
  // the client's errors do not include BulkheadStoreError: its bulkhead fails open on a store failure
  if (!isBulkhead && bulkheadOption !== undefined && bulkheadOption !== false) {
    const onStoreError = (bulkheadOption as { readonly onStoreError?: unknown }).onStoreError
    if (onStoreError !== undefined) validate.oneOf(m, "bulkhead.onStoreError", onStoreError, ["allow"])
  }
  if (options.health !== undefined && options.health !== false) {
    if (options.health === null || typeof options.health !== "object" || Array.isArray(options.health)) {
      throw validate.invalid(m, "health", options.health, "health check options or false")
    }
    if (options.health.whenOpen !== undefined) {
      validate.oneOf(m, "health.whenOpen", options.health.whenOpen, ["degraded", "unhealthy"])
    }
  }
  const retry = options.retry === false ? undefined : resolveRetry(m, options.retry)
  return {
    name,
    timeout: timeout === undefined ? undefined : timeout_.make(timeout, { name, scope: "overall" }),
    attemptTimeout: attemptTimeout === undefined ? undefined : timeout_.make(attemptTimeout, { name, scope: "attempt" }),
    bodyTimeout,
    bufferBody,
    maxBufferBytes,
    retry,
    statuses: retry === undefined ? new Set(RETRYABLE_STATUSES) : retry.statuses,
    circuitBreaker: breakerOption === false ? undefined : breakerOption ?? {},
    bulkhead: bulkheadOption === false ? undefined : bulkheadOption ?? {},
    register: validate.optionalBoolean(m, "register", options.register) !== false,
    health: options.health === false ? undefined : options.health ?? {},
    drainBytes,
    drainTimeout,
    maxOrigins,
    spans: validate.optionalBoolean(m, "spans", options.spans) === true
  }
}

const resolveBufferBody = (
  m: string,
  name: string,
  option: ResilientHttpClient.Options["bufferBody"]
): (request: HttpClientRequest.HttpClientRequest) => boolean => {
  if (option !== undefined && typeof option !== "boolean" && typeof option !== "function") {
    throw validate.invalid(m, "bufferBody", option, "a boolean or a predicate on the request")
  }
  if (typeof option === "function") {
    // user code: a predicate that throws or answers a non-boolean is reported and answers true
    // (buffered: the default, the mode in which the call's timeouts bound the body)
    const site = userCode.site("ResilientHttpClient", name, "bufferBody", "the body is buffered (the default)")
    return (request) => userCode.predicate(site, option, request, true)
  }
  return option === false ? () => false : () => true
}

const resolveRetry = (m: string, options: ResilientHttpClient.RetryOptions | undefined): RetryConfig => {
  const r = validate.options<ResilientHttpClient.RetryOptions>(m, options, "retry")
  const times = validate.optionalNumber(m, "retry.times", r.times, { min: 0, integer: true }) ?? DEFAULT_TIMES
  const maxRetryAfter = r.maxRetryAfter === undefined
    ? DEFAULT_MAX_RETRY_AFTER
    : validate.duration(m, "retry.maxRetryAfter", r.maxRetryAfter, { allowZero: true })
  if (r.schedule !== undefined && !Schedule.isSchedule(r.schedule)) {
    throw validate.invalid(m, "retry.schedule", r.schedule, "a Schedule")
  }
  if (r.methods !== undefined && (!Array.isArray(r.methods) || r.methods.some((x) => typeof x !== "string"))) {
    throw validate.invalid(m, "retry.methods", r.methods, "an array of HTTP methods")
  }
  if (
    r.statuses !== undefined &&
    (!Array.isArray(r.statuses) || r.statuses.some((s) => !Number.isInteger(s) || s < 100 || s > 599))
  ) {
    throw validate.invalid(m, "retry.statuses", r.statuses, "an array of status codes in [100, 599]")
  }
  if (
    r.budget !== undefined &&
    (!Predicate.isObject(r.budget) || typeof r.budget.deposit !== "function" ||
      typeof r.budget.tryWithdraw !== "function")
  ) {
    throw validate.invalid(m, "retry.budget", r.budget, "a Retry.budget")
  }
  validate.optionalBoolean(m, "retry.nonIdempotent", r.nonIdempotent)
  if (r.idempotencyKeyHeader !== undefined) validate.nonEmptyString(m, "retry.idempotencyKeyHeader", r.idempotencyKeyHeader)
  return {
    times,
    schedule: r.schedule ?? (defaultSchedule ??= retrySchedule_.exponential({ base: "100 millis", max: "5 seconds", jitter: "full" })),
    maxRetryAfter,
    budget: r.budget,
    methods: new Set((r.methods ?? IDEMPOTENT_METHODS).map((x) => x.toUpperCase())),
    nonIdempotent: r.nonIdempotent === true,
    idempotencyKeyHeader: (r.idempotencyKeyHeader ?? IDEMPOTENCY_KEY).toLowerCase(),
    statuses: new Set(r.statuses ?? RETRYABLE_STATUSES),
    maxRetryAfterMillis: Duration.toMillis(maxRetryAfter)
  }
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
export const resolveStreaming = (options: ResilientHttpClient.StreamingOptions | undefined): StreamingSettings => {
  if (options === undefined) return DEFAULT_STREAMING
  const m = "ResilientHttpClient.streaming"
  options = validate.options(m, options)
  const bodyTimeout = options.bodyTimeout === undefined
    ? undefined
    : optionalTimeout(m, "bodyTimeout", options.bodyTimeout, undefined) ?? null
  return { bodyTimeout, deadline: validate.optionalBoolean(m, "deadline", options.deadline) !== false }
}
