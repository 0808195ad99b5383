/**
 * A resilient `@effect/platform` `HttpClient`: the library's pipeline with
 * HTTP-aware defaults, as a transform over any client and as a Layer that
 * replaces the default client.
 *
 * Per call, outermost first: overall timeout → bulkhead (per origin) →
 * circuit breaker (per origin) → retry → attempt timeout → attempt.
 *
 * - **Origins.** Breakers, bulkheads, stats and metrics are kept per origin
 *   (scheme + host + port): one failing upstream never opens the circuit of
 *   another.
 * - **Retries** only for idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE,
 *   TRACE); POST and PATCH only with an `Idempotency-Key` header or with
 *   `retry.nonIdempotent: true`. Retried: transport errors, attempt
 *   timeouts, and 408, 429, 500, 502, 503, 504 responses; never another 4xx.
 *   A request with a streamed body is never retried (the stream is consumed
 *   by the first attempt).
 * - **`Retry-After`** (seconds or HTTP-date) on a retried response sets the
 *   next delay (the larger of it and the backoff). A hint longer than
 *   `retry.maxRetryAfter` is not waited for: the response is returned at
 *   once. Garbage values are ignored (the backoff applies).
 * - **Breaker classification.** 5xx responses, transport errors,
 *   timeouts and cut bodies count as failures of the origin; 4xx responses
 *   (408 and 429 included) as successes: a client error is not the
 *   server's fault.
 * - **Bodies are read inside the call** by default (`bufferBody`): the whole
 *   body, at most `maxBufferBytes`, is read into memory before the call
 *   returns, so `timeout` bounds the whole exchange and a stalled or cut
 *   body is a failed attempt (timed out, retried, counted by the breaker).
 *   Streaming is explicit, per request ({@link streaming}) or per client
 *   (`bufferBody: false`): the call returns at the response head and the
 *   body's reads are bounded by `bodyTimeout` (between chunks) and by the
 *   time the call's deadline had left.
 * - **No socket leaks.** The body of a response that is discarded for a
 *   retry is read (up to `drain.maxBytes`, within `drain.timeout`) or the
 *   connection closed, before the next attempt.
 * - Apply `HttpClient.filterStatusOk` *after* the transform
 *   (`client.pipe(resilience, HttpClient.filterStatusOk)`): then `Retry-After`
 *   is honoured. Applied before, the statuses it turns into errors are still
 *   classified, retried and drained the same way, without `Retry-After`.
 * - When retries are exhausted on a retryable status, the last response is
 *   returned (as the plain client would); errors are typed:
 *   `TimeoutError`, `BulkheadFullError`, `CircuitBreakerError`.
 *
 * # Timeouts and the Node clients
 *
 * `@effect/platform` clients expose no connect, headers or body timeout of
 * their own; `@effect/platform-node`'s undici client even sets undici's
 * `headersTimeout` to one hour and `bodyTimeout` to none on every request
 * ("leave timeouts to Effect"), so undici's own settings cannot be used for
 * them. What each timeout maps to:
 *
 * - `attemptTimeout` bounds one attempt: connecting, sending, the response
 *   head and (buffered, the default) the body; streaming, up to the head
 *   (the **headers timeout**).
 * - `bodyTimeout` is the **body timeout** of streaming mode, in undici's
 *   sense: the longest wait for the next chunk of the body.
 * - The **connect timeout** is the only one the Node clients expose:
 *   undici's `Agent({ connect: { timeout } })` (default 10 s), provided as
 *   `NodeHttpClient.Dispatcher`. Node's `http.Agent` has none (its `timeout`
 *   is an idle-socket timeout that aborts nothing); `attemptTimeout` bounds
 *   connecting there.
 * - `timeout` bounds the whole call (retries, backoff, queueing in the
 *   bulkhead, and the body when it is buffered); its deadline propagates
 *   inward, so retry never sleeps past it. A streamed body is bounded by the
 *   time it had left when the response was returned.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Bulkhead from "../Bulkhead.js"
import * as CircuitBreaker from "../CircuitBreaker.js"
import {
  type BulkheadFullError,
  type InvalidKeyError,
  type InvalidOptionsError,
  isRejection,
  ResilienceErrorTypeId,
  TimeoutError
} from "../Errors.js"
import * as Health from "../Health.js"
import { active, currentDeadline } from "../internal/deadline.js"
import { LinkedMap } from "../internal/linkedMap.js"
import * as userCode from "../internal/userCode.js"
import * as validate from "../internal/validate.js"
import * as Retry from "../Retry.js"
import * as Timeout from "../Timeout.js"
import * as RetryAfter from "./RetryAfter.js"
import { BodyTooLargeError, buffer, drain, StreamingResponse } from "./internal/response.js"

export {
  /**
   * The body of a response ended before it was whole: its connection was
   * reset or closed before or while it was read, or it was shorter than its
   * `Content-Length`. The `cause` of a `ResponseError` (reason `"Decode"`);
   * its own `cause` is the HTTP client's error, when it gave one. Buffered
   * (the default), it is a failed attempt: retried, and counted by the
   * breaker. A cut before the caller reads a streamed body is reported as
   * one too (never as an empty body, never as a read that waits forever).
   *
   * @example
   * ```ts
   * import { ResilientHttpClient } from "effect-resilience/http"
   * import { HttpClient } from "@effect/platform"
   * import { Effect } from "effect"
   *
   * const program = HttpClient.get("http://127.0.0.1:8080/items").pipe(
   *   Effect.flatMap((response) => response.text),
   *   Effect.catchTag("ResponseError", (e) =>
   *     e.cause instanceof ResilientHttpClient.BodyCutError ? Effect.succeed("cut") : Effect.fail(e))
   * )
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  BodyCutError,
  /**
   * The body of a response was larger than `maxBufferBytes` (it names the
   * limit, and the `Content-Length` when there was one). The `cause` of a
   * `ResponseError` (reason `"Decode"`); neither retried nor counted by the
   * breaker. The rest of the body is not read: its connection is closed.
   *
   * @example
   * ```ts
   * import { ResilientHttpClient } from "effect-resilience/http"
   * import { HttpClient } from "@effect/platform"
   * import { Effect } from "effect"
   *
   * const program = Effect.gen(function*() {
   *   const client = yield* ResilientHttpClient.make({ maxBufferBytes: 1024 * 1024 })
   *   return yield* client.get("http://127.0.0.1:8080/report").pipe(
   *     Effect.catchTag("ResponseError", (e) =>
   *       e.cause instanceof ResilientHttpClient.BodyTooLargeError ? Effect.succeed(e.cause.message) : Effect.fail(e))
   *   )
   * })
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  BodyTooLargeError
} from "./internal/response.js"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * The errors the resilient client adds to the client's own.
 *
 * @since 0.1.0
 * @category Models
 */
export type ResilienceError = TimeoutError | BulkheadFullError | CircuitBreaker.CircuitBreakerError

/**
 * A response with a status the pipeline treats as a failure (a retryable
 * status or any 5xx), carried through retry and breaker as a typed error.
 * The client never fails with it: when retrying stops, the response itself
 * is returned. Seen in `Retry` events and by `onRetry`.
 *
 * @since 0.1.0
 * @category Errors
 */
export class HttpStatusError extends Data.TaggedError("HttpStatusError")<{
  readonly response: HttpClientResponse.HttpClientResponse
  readonly status: number
  readonly origin: string
  /** From the response's `Retry-After` header, when it had a valid one. */
  readonly retryAfter?: Duration.Duration | undefined
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    const hint = this.retryAfter === undefined ? "" : `, retry after ${Duration.format(this.retryAfter)}`
    return `HTTP ${this.status} from ${this.origin} (${this.response.request.method} ${pathOf(this.response.request)}${hint})`
  }
}

/**
 * Per-origin counts kept by the client (plain counters: no cost on the
 * success path).
 *
 * @since 0.1.0
 * @category Models
 */
export interface OriginStats {
  readonly origin: string
  /** Calls made (one per `execute`, whatever the attempts). */
  readonly calls: number
  /** Attempts sent (calls + retries). */
  readonly attempts: number
  /** Retries scheduled. */
  readonly retries: number
  /** Attempts counted as failures of the origin (5xx, transport, timeout). */
  readonly failures: number
  /** Calls rejected by the library (open circuit, full bulkhead). */
  readonly rejections: number
  /** Responses drained (or closed) before a retry. */
  readonly drained: number
}

/**
 * The resilient transform: applied to an `HttpClient` (`client.pipe(r)` or
 * `r(client)`), it returns the resilient client. Its state (breakers,
 * bulkheads, stats) is shared by every client it is applied to.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Resilience<EX = ResilienceError> {
  <E, R>(client: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E | EX, R>
  /** The name used in metrics, spans and the policy registry. */
  readonly policyName: string
  /** Counts per origin (the most recently used `maxOrigins`). */
  readonly stats: () => ReadonlyArray<OriginStats>
  /** The retry policy (undefined when retries are off). */
  readonly retry: Retry.Retry | undefined
  /** The circuit breaker, one circuit per origin (undefined when off). */
  readonly circuitBreaker: CircuitBreaker.CircuitBreaker | undefined
  /** The bulkhead, one partition per origin (undefined when off). */
  readonly bulkhead: Bulkhead.Bulkhead | undefined
  /**
   * Runs one call through the pipeline: `effect` sends `request` once (an
   * attempt) and is re-run for each retry. What `HttpClient.transform`
   * receives; the transform itself is `HttpClient.transform(client, execute)`.
   */
  readonly execute: <E, R>(
    effect: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, E | EX, R>
}

/**
 * Retry settings of the resilient client.
 *
 * @since 0.1.0
 * @category Models
 */
export interface RetryOptions {
  /** Retries at most (not attempts). Defaults to 2. */
  readonly times?: number | undefined
  /** The backoff. Defaults to `Retry.exponential({ base: "100 millis", max: "5 seconds", jitter: "full" })`. */
  readonly schedule?: Schedule.Schedule<unknown, unknown> | undefined
  /**
   * The longest `Retry-After` waited for. A longer hint is not waited for:
   * the response is returned at once. Defaults to 30 seconds.
   */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** A retry budget shared across calls (see `Retry.budget`). */
  readonly budget?: Retry.Budget | undefined
  /** Methods retried. Defaults to GET, HEAD, OPTIONS, PUT, DELETE, TRACE. */
  readonly methods?: ReadonlyArray<string> | undefined
  /** Retry every method, POST and PATCH included, key or not. Defaults to false. */
  readonly nonIdempotent?: boolean | undefined
  /** The header that makes a POST/PATCH retryable. Defaults to `"idempotency-key"`. */
  readonly idempotencyKeyHeader?: string | undefined
  /** Statuses retried. Defaults to 408, 429, 500, 502, 503, 504. */
  readonly statuses?: ReadonlyArray<number> | undefined
}

/**
 * Options of the resilient client. Every part is optional; `false` turns a
 * part off.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** A name for metrics, spans and the policy registry. Defaults to `"http"`. */
  readonly name?: string | undefined
  /**
   * Bounds the whole call: queueing in the bulkhead, every attempt, backoff,
   * and the body when it is buffered (the default). Defaults to 30 seconds.
   * `false` or an infinite duration (`"Infinity"` from `Config`): none.
   * Measured on monotonic time. A body returned for streaming is bounded by
   * the time this deadline had left when the response was returned (see
   * {@link streaming}).
   */
  readonly timeout?: Duration.DurationInput | false | undefined
  /**
   * Bounds each attempt: up to the end of the body when it is buffered (the
   * default), up to the response head when it is streamed (the headers
   * timeout). Defaults to 10 seconds. `false` or an infinite duration: none.
   */
  readonly attemptTimeout?: Duration.DurationInput | false | undefined
  /**
   * Streaming mode only: the longest wait for the next chunk of a body read
   * after the call returned (undici's `bodyTimeout`: idle time between
   * chunks, not the whole read). Defaults to 60 seconds, the idle timeout of
   * common proxies (nginx's `proxy_read_timeout`, AWS ALB): a longer silence
   * is a dead connection. `false` or an infinite duration: none. A read that
   * waits longer fails with a `ResponseError` whose `cause` is a
   * `TimeoutError`. {@link streaming} can set it per request.
   */
  readonly bodyTimeout?: Duration.DurationInput | false | undefined
  /**
   * Read the whole body inside the call, before it returns (defaults to
   * true): `timeout` and `attemptTimeout` bound it, a stalled or cut body is
   * a failed attempt (retried, counted by the breaker), and a body larger
   * than `maxBufferBytes` fails with a `BodyTooLargeError` cause. `false`,
   * or a predicate answering false for a request, returns its response in
   * streaming mode (see {@link streaming}, which also turns it on per
   * request). A predicate that throws or answers anything but a boolean
   * buffers (reported; see "User code" in the docs).
   */
  readonly bufferBody?: boolean | ((request: HttpClientRequest.HttpClientRequest) => boolean) | undefined
  /**
   * Largest body read into memory when buffering, in bytes. Defaults to
   * 10 MiB: far above an API's JSON, small enough that a runaway or hostile
   * body cannot exhaust memory. Stream larger bodies.
   */
  readonly maxBufferBytes?: number | undefined
  /** Retry settings, or `false` for none. */
  readonly retry?: RetryOptions | false | undefined
  /**
   * The circuit breaker, one circuit per origin: a breaker to use (shared
   * with whoever else uses it), options for a new one (merged over the
   * defaults: `tripPolicy: CircuitBreaker.consecutive(5)`,
   * `openDuration: "10 seconds"`, named after the client), or `false`.
   * Its `classify` is replaced by the HTTP classification (see
   * {@link isOriginFailure}).
   */
  readonly circuitBreaker?: CircuitBreaker.CircuitBreaker | Partial<CircuitBreaker.CircuitBreaker.Options> | false | undefined
  /**
   * The bulkhead, one partition per origin: a bulkhead to use, options for a
   * new one (merged over the defaults: `maxConcurrent: 100`,
   * `maxQueue: 1000`, named after the client), or `false`.
   */
  readonly bulkhead?: Bulkhead.Bulkhead | Partial<Bulkhead.Bulkhead.Options> | false | undefined
  /**
   * Register the client with the `Health.PolicyRegistry` in context, if
   * there is one (listed with its origins; isolate/reset an origin's
   * circuit; resize the bulkhead), and its health check with the `Health`
   * service the registry feeds. Defaults to true.
   */
  readonly register?: boolean | undefined
  /**
   * The client's health check (`"http:<name>"`): an origin whose circuit is
   * open makes it `whenOpen`. Defaults to `{ whenOpen: "degraded" }`;
   * `false` for none.
   */
  readonly health?: Omit<Health.CircuitBreakerCheckOptions, "keys" | "name"> | false | undefined
  /** Discarded bodies: read at most `maxBytes` (default 64 KiB) within `timeout` (default 1 second), else close. */
  readonly drain?: {
    readonly maxBytes?: number | undefined
    readonly timeout?: Duration.DurationInput | undefined
  } | undefined
  /**
   * Origins with their own metric label and stats; later ones share the
   * label `"other"` (bounded cardinality). Defaults to 50.
   */
  readonly maxOrigins?: number | undefined
  /** A span per attempt (`resilience.http.attempt`). Defaults to false. */
  readonly spans?: boolean | undefined
}

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

/**
 * Options of {@link streaming}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface StreamingOptions {
  /**
   * The longest wait for the next chunk of the body. Defaults to the
   * client's `bodyTimeout` (60 seconds). `false` or an infinite duration:
   * none.
   */
  readonly bodyTimeout?: Duration.DurationInput | false | undefined
  /**
   * Bound the body by the call's deadline: the time the client's `timeout`
   * (or an enclosing timeout) had left when the response was returned.
   * Defaults to true. `false` lets a healthy stream outlive the call's
   * timeout; `bodyTimeout` still ends one that stalls.
   */
  readonly deadline?: boolean | undefined
}

interface StreamingSettings {
  /** `undefined`: the client's `bodyTimeout`; `null`: none. */
  readonly bodyTimeout: Duration.Duration | null | undefined
  readonly deadline: boolean
}

const DEFAULT_STREAMING: StreamingSettings = { bodyTimeout: undefined, deadline: true }

/** Set by {@link streaming} around the calls whose bodies are streamed. */
const currentStreaming = FiberRef.unsafeMake<StreamingSettings | undefined>(undefined)

const resolveStreaming = (options: StreamingOptions | undefined): StreamingSettings => {
  if (options === undefined) return DEFAULT_STREAMING
  const m = "ResilientHttpClient.streaming"
  options = validate.options(m, options)
  const bodyTimeout = options.bodyTimeout === undefined
    ? undefined
    : optionalTimeout(m, "bodyTimeout", options.bodyTimeout, undefined) ?? null
  return { bodyTimeout, deadline: validate.optionalBoolean(m, "deadline", options.deadline) !== false }
}

/**
 * Streaming mode for the calls of resilient clients that `self` makes: each
 * call returns as soon as the response head is in (`attemptTimeout` is then
 * the headers timeout) and its body is left for the caller to read —
 * server-sent events, LLM token streams, downloads. The body is not read
 * whole by the client, so it is not capped by `maxBufferBytes`, and every
 * read of it (`stream`, or a whole read) is bounded by
 *
 * - `bodyTimeout`: the longest wait for the next chunk (default: the
 *   client's, 60 seconds), and
 * - the call's deadline: the time the client's `timeout` had left when the
 *   response was returned (`deadline: false` to let a healthy stream
 *   outlive it).
 *
 * A read that outlasts either fails with a `ResponseError` (reason
 * `"Decode"`) whose `cause` is a `TimeoutError`; a body cut before or
 * while it is read, with a `BodyCutError` cause. The retries and the circuit
 * breaker see the call up to the response head: what happens to the body
 * afterwards is the caller's to handle (it is not retried, and a stream that
 * stalls or is cut does not count as a failure of the origin).
 *
 * The Effect-idiomatic per-request setting, as `HttpClient.withTracerPropagation`
 * is: a FiberRef set around the call. `bufferBody: false` (or a predicate)
 * streams a whole client's responses.
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "effect-resilience/http"
 * import { HttpClient } from "@effect/platform"
 * import { Effect, Stream } from "effect"
 *
 * const tokens = Effect.gen(function*() {
 *   const client = yield* ResilientHttpClient.make({ timeout: "10 seconds" })
 *   const response = yield* client.get("http://127.0.0.1:8080/completions").pipe(
 *     // a long answer may outlive the call's 10 s; 30 s of silence ends it
 *     ResilientHttpClient.streaming({ bodyTimeout: "30 seconds", deadline: false })
 *   )
 *   return response.stream.pipe(Stream.decodeText())
 * })
 * ```
 *
 * @since 0.1.0
 * @category Combinators
 */
export const streaming: {
  (options?: StreamingOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, options?: StreamingOptions): Effect.Effect<A, E, R>
} = (...args: ReadonlyArray<any>): any => {
  // options are validated (InvalidOptionsError, thrown) and resolved once, when `streaming` is called
  if (Effect.isEffect(args[0])) return Effect.locally(args[0], currentStreaming, resolveStreaming(args[1]))
  const settings = resolveStreaming(args[0])
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.locally(self, currentStreaming, settings)
}

// ---------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------

/**
 * The methods retried by default.
 *
 * @since 0.1.0
 * @category Models
 */
export const IDEMPOTENT_METHODS: ReadonlyArray<string> = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]

/**
 * The statuses retried by default.
 *
 * @since 0.1.0
 * @category Models
 */
export const RETRYABLE_STATUSES: ReadonlyArray<number> = [408, 429, 500, 502, 503, 504]

/**
 * The origin of a request, `scheme://host[:port]` (default ports omitted, as
 * `URL.origin` does), or `"invalid"` for a URL that does not parse.
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "effect-resilience/http"
 * import { HttpClientRequest } from "@effect/platform"
 *
 * ResilientHttpClient.originOf(HttpClientRequest.get("https://api.example.com:8443/v1?q=1")) // "https://api.example.com:8443"
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const originOf = (request: HttpClientRequest.HttpClientRequest): string => {
  try {
    const origin = new URL(request.url).origin
    return origin === "null" ? "invalid" : origin
  } catch {
    return "invalid"
  }
}

const pathOf = (request: HttpClientRequest.HttpClientRequest): string => {
  try {
    return new URL(request.url).pathname
  } catch {
    return "?"
  }
}

/**
 * Whether an error (or a response turned into an `HttpStatusError`) counts
 * as a failure of the origin for the circuit breaker: 5xx statuses,
 * transport errors, timeouts and a cut buffered body (`BodyCutError`) do;
 * 4xx statuses, invalid URLs, encoding errors, a body over
 * `maxBufferBytes` and the library's rejections do not.
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "effect-resilience/http"
 * import { HttpClientError, HttpClientRequest } from "@effect/platform"
 *
 * const request = HttpClientRequest.get("http://127.0.0.1:1/")
 * ResilientHttpClient.isOriginFailure(new HttpClientError.RequestError({ request, reason: "Transport" })) // true
 * ResilientHttpClient.isOriginFailure(new HttpClientError.RequestError({ request, reason: "InvalidUrl" })) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isOriginFailure = (error: unknown): boolean => {
  if (error instanceof HttpStatusError) return error.status >= 500
  if (isRejection(error)) return false
  if (error instanceof TimeoutError) return true
  if (HttpClientError.isHttpClientError(error)) {
    if (error._tag === "RequestError") return error.reason === "Transport"
    // a status turned into an error by the client itself (`HttpClient.filterStatusOk` inside the transform)
    if (error.reason === "StatusCode") return error.response.status >= 500
    return error.reason === "Decode" && !(error.cause instanceof BodyTooLargeError)
  }
  return false
}

/** The response a status error carries, ours or `@effect/platform`'s. */
const statusResponse = (error: unknown): HttpClientResponse.HttpClientResponse | undefined => {
  if (error instanceof HttpStatusError) return error.response
  if (HttpClientError.isHttpClientError(error) && error._tag === "ResponseError" && error.reason === "StatusCode") {
    return error.response
  }
  return undefined
}

const IDEMPOTENCY_KEY = "idempotency-key"

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

const failuresCounter = Metric.counter("resilience_http_failures", {
  description: "Attempts counted as failures of an origin (5xx, transport errors, timeouts)",
  incremental: true
})
const retriesCounter = Metric.counter("resilience_http_retries", {
  description: "Retries scheduled by the resilient HTTP client",
  incremental: true
})
const rejectionsCounter = Metric.counter("resilience_http_rejections", {
  description: "Calls rejected by the library (open circuit, full bulkhead) before reaching an origin",
  incremental: true
})
const durationHistogram = Metric.histogram(
  "resilience_http_duration_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 16 }),
  "Duration of calls through the resilient HTTP client (retries included), in milliseconds"
)

const failureReason = (error: unknown): string => {
  if (statusResponse(error) !== undefined) return "status_5xx"
  if (error instanceof TimeoutError) return "timeout"
  if (HttpClientError.isHttpClientError(error)) return error._tag === "RequestError" ? "transport" : "body"
  return "other"
}

// ---------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------

interface MutableStats {
  origin: string
  label: string
  calls: number
  attempts: number
  retries: number
  failures: number
  rejections: number
  drained: number
}

let defaultSchedule: Schedule.Schedule<unknown, unknown> | undefined

const DEFAULT_TIMEOUT = Duration.seconds(30)
const DEFAULT_ATTEMPT_TIMEOUT = Duration.seconds(10)
const DEFAULT_TIMES = 2
const DEFAULT_MAX_RETRY_AFTER = Duration.seconds(30)
const DEFAULT_MAX_BUFFER_BYTES = 10 * 1024 * 1024
const DEFAULT_BODY_TIMEOUT = Duration.seconds(60)
const DEFAULT_DRAIN_BYTES = 64 * 1024
const DEFAULT_DRAIN_TIMEOUT = Duration.seconds(1)
const DEFAULT_MAX_ORIGINS = 50

const optionalTimeout = (
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
 * Makes the resilient transform. Its breakers and bulkheads live in the
 * scope. Fails with `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "effect-resilience/http"
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const resilience = yield* ResilientHttpClient.makeTransform({ timeout: "5 seconds", attemptTimeout: "1 second" })
 *   const client = (yield* HttpClient.HttpClient).pipe(resilience)
 *   return yield* client.get("http://127.0.0.1:8080/health")
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const makeTransform = (options: Options = {}): Effect.Effect<Resilience, InvalidOptionsError, Scope.Scope> =>
  transformAs("ResilientHttpClient.makeTransform", options)

/** An error of the breaker's or bulkhead's constructor, named as the client's option the caller wrote. */
const asOption = (m: string, group: string) => (e: InvalidOptionsError): InvalidOptionsError =>
  validate.invalid(m, `${group}.${e.option}`, e.value, e.expected)

const transformAs = (m: string, options: Options | undefined): Effect.Effect<Resilience, InvalidOptionsError, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* validate.validated(() => resolve(options, m))
    const breaker = config.circuitBreaker === undefined
      ? undefined
      : CircuitBreaker.isCircuitBreaker(config.circuitBreaker)
      ? config.circuitBreaker
      : yield* Effect.mapError(
        CircuitBreaker.make({ ...DEFAULT_BREAKER, name: config.name, ...config.circuitBreaker }),
        asOption(m, "circuitBreaker")
      )
    const bulkhead = config.bulkhead === undefined
      ? undefined
      : typeof config.bulkhead === "function"
      ? config.bulkhead
      : yield* Effect.mapError(
        Bulkhead.make({ ...DEFAULT_BULKHEAD, name: config.name, ...config.bulkhead }),
        asOption(m, "bulkhead")
      )
    const resilience = build(config, breaker, bulkhead)
    if (config.register) {
      const registry = yield* Effect.serviceOption(Health.PolicyRegistry)
      if (registry._tag === "Some") yield* registry.value.register(registryEntry(resilience, config))
    }
    return resilience
  })

const DEFAULT_BREAKER: CircuitBreaker.CircuitBreaker.Options = {
  tripPolicy: CircuitBreaker.consecutive(5),
  openDuration: "10 seconds"
}
const DEFAULT_BULKHEAD: Bulkhead.Bulkhead.Options = { maxConcurrent: 100, maxQueue: 1000 }

interface Config {
  readonly name: string
  readonly timeout: Timeout.Timeout | undefined
  readonly attemptTimeout: Timeout.Timeout | undefined
  readonly bodyTimeout: Duration.Duration | undefined
  readonly bufferBody: (request: HttpClientRequest.HttpClientRequest) => boolean
  readonly maxBufferBytes: number
  readonly retry: {
    readonly times: number
    readonly schedule: Schedule.Schedule<unknown, unknown>
    readonly maxRetryAfter: Duration.Duration
    readonly budget: Retry.Budget | undefined
    readonly methods: ReadonlySet<string>
    readonly nonIdempotent: boolean
    readonly idempotencyKeyHeader: string
    readonly statuses: ReadonlySet<number>
    readonly maxRetryAfterMillis: number
  } | undefined
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

const resolve = (options: Options | undefined, m: string): Config => {
  options = validate.options(m, options)
  const name = options.name === undefined ? "http" : validate.nonEmptyString(m, "name", options.name)
  const timeout = optionalTimeout(m, "timeout", options.timeout, DEFAULT_TIMEOUT)
  const attemptTimeout = optionalTimeout(m, "attemptTimeout", options.attemptTimeout, DEFAULT_ATTEMPT_TIMEOUT)
  const bodyTimeout = optionalTimeout(m, "bodyTimeout", options.bodyTimeout, DEFAULT_BODY_TIMEOUT)
  const bufferOption = options.bufferBody
  if (bufferOption !== undefined && typeof bufferOption !== "boolean" && typeof bufferOption !== "function") {
    throw validate.invalid(m, "bufferBody", bufferOption, "a boolean or a predicate on the request")
  }
  // user code: a predicate that throws or answers a non-boolean is reported and answers true
  // (buffered: the default, the mode in which the call's timeouts bound the body)
  const bufferSite = userCode.site("ResilientHttpClient", name, "bufferBody", "the body is buffered (the default)")
  const bufferBody = typeof bufferOption === "function"
    ? (request: HttpClientRequest.HttpClientRequest) => userCode.predicate(bufferSite, bufferOption, request, true)
    : bufferOption === false
    ? () => false
    : () => true
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
    breakerOption !== undefined && breakerOption !== false && !CircuitBreaker.isCircuitBreaker(breakerOption) &&
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
  if (options.health !== undefined && options.health !== false) {
    if (options.health === null || typeof options.health !== "object" || Array.isArray(options.health)) {
      throw validate.invalid(m, "health", options.health, "health check options or false")
    }
    if (options.health.whenOpen !== undefined) {
      validate.oneOf(m, "health.whenOpen", options.health.whenOpen, ["degraded", "unhealthy"])
    }
  }

  let retry: Config["retry"] = undefined
  let statuses: ReadonlySet<number> = new Set(RETRYABLE_STATUSES)
  if (options.retry !== false) {
    const r = validate.options<RetryOptions>(m, options.retry, "retry")
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
    statuses = new Set(r.statuses ?? RETRYABLE_STATUSES)
    retry = {
      times,
      schedule: r.schedule ?? (defaultSchedule ??= Retry.exponential({ base: "100 millis", max: "5 seconds", jitter: "full" })),
      maxRetryAfter,
      budget: r.budget,
      methods: new Set((r.methods ?? IDEMPOTENT_METHODS).map((x) => x.toUpperCase())),
      nonIdempotent: r.nonIdempotent === true,
      idempotencyKeyHeader: (r.idempotencyKeyHeader ?? IDEMPOTENCY_KEY).toLowerCase(),
      statuses,
      maxRetryAfterMillis: Duration.toMillis(maxRetryAfter)
    }
  }
  return {
    name,
    timeout: timeout === undefined ? undefined : Timeout.make(timeout, { name, scope: "overall" }),
    attemptTimeout: attemptTimeout === undefined ? undefined : Timeout.make(attemptTimeout, { name, scope: "attempt" }),
    bodyTimeout,
    bufferBody,
    maxBufferBytes,
    retry,
    statuses,
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

const isRetryable = (error: unknown, statuses: ReadonlySet<number>, maxRetryAfterMillis: number): boolean => {
  if (error instanceof HttpStatusError) {
    if (!statuses.has(error.status)) return false
    return error.retryAfter === undefined || Duration.toMillis(error.retryAfter) <= maxRetryAfterMillis
  }
  if (error instanceof TimeoutError) return error.scope !== "overall"
  if (HttpClientError.isHttpClientError(error) && error._tag === "ResponseError" && error.reason === "StatusCode") {
    return statuses.has(error.response.status)
  }
  return isOriginFailure(error)
}

/**
 * What a call that went through the retries counts as for the breaker:
 * failures of the origin (with the `Retry-After` of a 5xx, which lengthens
 * the break if the circuit opens), or nothing (errors that are the
 * caller's, such as an invalid URL).
 */
const classify = (exit: Exit.Exit<unknown, unknown>): CircuitBreaker.Outcome => {
  if (Exit.isSuccess(exit)) return CircuitBreaker.Outcome.success
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") return CircuitBreaker.Outcome.failure()
  const error = failure.value
  if (!isOriginFailure(error)) return CircuitBreaker.Outcome.ignored
  return error instanceof HttpStatusError && error.retryAfter !== undefined
    ? CircuitBreaker.Outcome.failure({ retryAfter: error.retryAfter })
    : CircuitBreaker.Outcome.failure()
}

const registryEntry = (resilience: Resilience, config: Config): Health.PolicyEntry => {
  const breaker = resilience.circuitBreaker
  const bulkhead = resilience.bulkhead
  const origins = () => resilience.stats().map((s) => s.origin)
  const each = (f: (key: string) => Effect.Effect<void, CircuitBreaker.CircuitBreakerError | InvalidKeyError>) => (key?: string) =>
    Effect.forEach(key === undefined ? origins() : [key], f, { discard: true })
  return {
    name: config.name,
    kind: "HttpClient",
    info: Effect.gen(function*() {
      const list: Array<Record<string, unknown>> = []
      for (const stats of resilience.stats()) {
        const circuit = breaker === undefined
          ? undefined
          : yield* Effect.orElseSucceed(Effect.map(breaker.state(stats.origin), (s) => s._tag), () => "Unknown")
        const load = bulkhead === undefined ? undefined : bulkhead.stats(stats.origin)
        list.push({
          ...stats,
          ...(circuit === undefined ? {} : { circuit }),
          ...(load === undefined ? {} : { active: load.active, queued: load.queued })
        })
      }
      return {
        origins: list,
        ...(bulkhead === undefined
          ? {}
          : { bulkhead: { maxConcurrent: bulkhead.stats().maxConcurrent, maxQueue: bulkhead.stats().maxQueue } })
      }
    }),
    isolate: breaker === undefined ? undefined : each((key) => breaker.isolate(key)),
    reset: breaker === undefined ? undefined : each((key) => breaker.reset(key)),
    resize: bulkhead === undefined ? undefined : (size) => bulkhead.resize(size),
    health: breaker === undefined || config.health === undefined
      ? undefined
      : Health.fromCircuitBreaker(breaker, { ...config.health, name: `http:${config.name}`, keys: origins })
  }
}

const build = (
  config: Config,
  breaker: CircuitBreaker.CircuitBreaker | undefined,
  bulkhead: Bulkhead.Bulkhead | undefined
): Resilience => {
  // metric labels: the first `maxOrigins` origins keep their own for good (bounded cardinality)
  const labels = new Map<string, string>()
  const labelFor = (origin: string): string => {
    const label = labels.get(origin)
    if (label !== undefined) return label
    if (labels.size >= config.maxOrigins) return "other"
    labels.set(origin, origin)
    return origin
  }
  // stats: the `maxOrigins` most recently used origins (a LinkedMap: O(1) to move and evict
  // whatever maxOrigins is; a plain Map's oldest entry costs O(deleted entries) to reach)
  const origins = new LinkedMap<string, MutableStats>()
  const statsFor = (origin: string): MutableStats => {
    let stats = origins.get(origin)
    if (stats !== undefined) {
      // most recently used last
      origins.moveToBack(origin)
      return stats
    }
    stats = { origin, label: labelFor(origin), calls: 0, attempts: 0, retries: 0, failures: 0, rejections: 0, drained: 0 }
    origins.set(origin, stats)
    if (origins.size > config.maxOrigins) {
      origins.delete(origins.firstKey()!)
    }
    return stats
  }
  // every metric carries the client's name (label `policy`) and the origin's label
  const failures = Metric.tagged(failuresCounter, "policy", config.name)
  const retries = Metric.tagged(retriesCounter, "policy", config.name)
  const rejections = Metric.tagged(rejectionsCounter, "policy", config.name)
  const duration = Metric.tagged(durationHistogram, "policy", config.name)

  // the call in flight, for `onRetry` (which only sees the error)
  const currentCall = FiberRef.unsafeMake<MutableStats | undefined>(undefined)

  // drains the discarded response and counts the retry; runs before the backoff sleep
  const onRetry = (error: unknown): Effect.Effect<void> =>
    Effect.flatMap(FiberRef.get(currentCall), (call) => {
      if (call === undefined) return Effect.void
      call.retries++
      const count = Metric.increment(Metric.tagged(retries, "origin", call.label))
      const response = statusResponse(error)
      if (response === undefined) return count
      call.drained++
      return Effect.zipRight(count, drain(response, config.drainBytes, config.drainTimeout))
    })

  const r = config.retry
  const retryPolicy = r === undefined ? undefined : Retry.policy<unknown>({
    name: config.name,
    times: r.times,
    schedule: r.schedule,
    maxRetryAfter: r.maxRetryAfter,
    budget: r.budget,
    while: (error) => isRetryable(error, r.statuses, r.maxRetryAfterMillis),
    onRetry: (event) => onRetry(event.error)
  })

  const retryAllowed = (request: HttpClientRequest.HttpClientRequest): boolean => {
    if (r === undefined) return false
    // a streamed body is consumed by the first attempt: it cannot be sent again
    if (request.body._tag === "Stream") return false
    if (r.nonIdempotent) return true
    if (r.methods.has(request.method)) return true
    return (request.method === "POST" || request.method === "PATCH") && request.headers[r.idempotencyKeyHeader] !== undefined
  }

  const toStatusError = (
    response: HttpClientResponse.HttpClientResponse,
    origin: string,
    now: number
  ): HttpStatusError => {
    const retryAfter = RetryAfter.parse(response.headers["retry-after"], now)
    return new HttpStatusError({
      response,
      status: response.status,
      origin,
      retryAfter: Option.getOrUndefined(retryAfter)
    })
  }

  /** A response returned for streaming, its reads bounded by the idle timeout and the deadline active now. */
  const toStreaming = (
    response: HttpClientResponse.HttpClientResponse,
    settings: StreamingSettings
  ): Effect.Effect<HttpClientResponse.HttpClientResponse> =>
    Effect.withFiberRuntime((fiber) => {
      const deadline = settings.deadline ? active(fiber.getFiberRef(currentDeadline)) : undefined
      const idle = settings.bodyTimeout === undefined ? config.bodyTimeout : settings.bodyTimeout ?? undefined
      return Effect.succeed(
        new StreamingResponse(
          response,
          idle,
          deadline === undefined
            ? undefined
            : { at: deadline.at, clock: Context.get(fiber.currentDefaultServices, Clock.Clock), error: deadline.error },
          config.name
        )
      )
    })

  const execute = <E, R>(
    effect: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
    request: HttpClientRequest.HttpClientRequest
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, E | ResilienceError, R> =>
    Effect.withFiberRuntime((fiber) => {
      const origin = originOf(request)
      const stats = statsFor(origin)
      stats.calls++
      // buffered (the default) or streamed: per request (`streaming`), else the client's `bufferBody`
      const streamingRequested = fiber.getFiberRef(currentStreaming)
      const bufferBody = streamingRequested === undefined && config.bufferBody(request)
      let attemptNumber = 0

      const inspect = (response: HttpClientResponse.HttpClientResponse) =>
        Effect.clockWith((clock): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpStatusError | HttpClientError.ResponseError> => {
          if (response.status >= 500 || config.statuses.has(response.status)) {
            return Effect.fail(toStatusError(response, origin, clock.unsafeCurrentTimeMillis()))
          }
          return bufferBody ? buffer(response, config.maxBufferBytes) : Effect.succeed(response)
        })

      let attempt: Effect.Effect<any, any, R> = Effect.suspend(() => {
        attemptNumber++
        stats.attempts++
        return Effect.flatMap(effect, inspect)
      }) as Effect.Effect<any, any, R>
      if (config.attemptTimeout !== undefined) attempt = config.attemptTimeout(attempt)
      attempt = Effect.tapError(attempt, (error) => {
        if (!isOriginFailure(error)) return Effect.void
        stats.failures++
        return Metric.increment(
          Metric.tagged(Metric.tagged(failures, "origin", stats.label), "reason", failureReason(error))
        )
      })
      if (config.spans) {
        const inner = attempt
        attempt = Effect.suspend(() =>
          Effect.withSpan(inner, "resilience.http.attempt", {
            kind: "client",
            captureStackTrace: false,
            attributes: {
              "http.request.method": request.method,
              "server.origin": stats.label,
              "resilience.client": config.name,
              "resilience.attempt": attemptNumber + 1
            }
          })
        )
      }

      let call: Effect.Effect<any, any, R> = retryAllowed(request) ? retryPolicy!(attempt) : attempt

      // the response of a status that stopped the retries is returned: buffered, its body is
      // read first, as any other's (inside the call's timeout)
      const returned = (e: HttpStatusError): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.ResponseError> =>
        bufferBody ? buffer(e.response, config.maxBufferBytes) : Effect.succeed(e.response)

      if (breaker !== undefined) {
        // a 4xx status that stopped the retries (408, 429) is a success for
        // the breaker: a client error is not the server's fault
        const counted = Effect.catchIf(
          call,
          (e): e is HttpStatusError => e instanceof HttpStatusError && e.status < 500,
          returned
        )
        call = breaker.execute(counted, { key: origin, classify })
      }
      if (bulkhead !== undefined) call = bulkhead.execute(call, { key: origin })
      call = Effect.catchIf(call, (e): e is HttpStatusError => e instanceof HttpStatusError, returned)
      // streamed: the body's reads are bounded by the time the call's deadline has left now
      // (read inside the timeout's region: the deadline ends with it)
      if (!bufferBody) call = Effect.flatMap(call, (response) => toStreaming(response, streamingRequested ?? DEFAULT_STREAMING))
      if (config.timeout !== undefined) call = config.timeout(call)

      const final = call.pipe(
        Effect.tapError((error) => {
          if (!isRejection(error)) return Effect.void
          stats.rejections++
          return Metric.increment(
            Metric.tagged(Metric.tagged(rejections, "origin", stats.label), "reason", (error as any)._tag)
          )
        }),
        Metric.trackDurationWith(Metric.tagged(duration, "origin", stats.label), Duration.toMillis)
      )
      return Effect.locally(final, currentCall, stats)
    })

  const apply = <E, R>(client: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E | ResilienceError, R> =>
    HttpClient.transform(client, execute)

  return Object.assign(apply, {
    policyName: config.name,
    retry: retryPolicy,
    circuitBreaker: breaker,
    bulkhead,
    execute,
    stats: (): ReadonlyArray<OriginStats> =>
      [...origins.values()].map(({ label: _label, ...stats }) => ({ ...stats }))
  })
}

/**
 * Makes the resilient client from the `HttpClient` in context.
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "effect-resilience/http"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* ResilientHttpClient.make({ attemptTimeout: "2 seconds", retry: { times: 3 } })
 *   const response = yield* client.get("http://127.0.0.1:8080/items")
 *   return yield* response.json
 * })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<
  HttpClient.HttpClient.With<HttpClientError.HttpClientError | ResilienceError>,
  InvalidOptionsError,
  HttpClient.HttpClient | Scope.Scope
> =>
  Effect.zipWith(
    HttpClient.HttpClient,
    transformAs("ResilientHttpClient.make", options),
    (client, resilience) => resilience(client)
  )

/**
 * The library error carried as the `cause` of a `RequestError` by the
 * client of {@link layer}, if any.
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "effect-resilience/http"
 * import { HttpClient } from "@effect/platform"
 * import { Effect, Option } from "effect"
 *
 * const program = HttpClient.get("http://127.0.0.1:8080/").pipe(
 *   Effect.catchAll((e) => Effect.succeed(Option.map(ResilientHttpClient.resilienceErrorOf(e), (r) => r._tag)))
 * )
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const resilienceErrorOf = (error: unknown): Option.Option<ResilienceError> => {
  if (HttpClientError.isHttpClientError(error) && error._tag === "RequestError") {
    const cause = error.cause
    if (Predicate.hasProperty(cause, ResilienceErrorTypeId)) return Option.some(cause as ResilienceError)
  }
  return Option.none()
}

/**
 * Replaces the `HttpClient` in context with the resilient one.
 *
 * The `HttpClient` Tag fixes the error type to `HttpClientError`, so the
 * library's errors (timeouts, open circuits, full bulkheads) reach callers as
 * a `RequestError` with reason `"Transport"` whose `cause` is the library's
 * error (see {@link resilienceErrorOf}). Use {@link make} for a client with
 * the library's errors in its type. Do not add `HttpClient.retryTransient`
 * on top: it would retry those rejections as transport errors.
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "effect-resilience/http"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer } from "effect"
 *
 * const HttpLive = ResilientHttpClient.layer({ timeout: "10 seconds", attemptTimeout: "2 seconds" }).pipe(
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<HttpClient.HttpClient, InvalidOptionsError, HttpClient.HttpClient> =>
  Layer.scoped(
    HttpClient.HttpClient,
    Effect.zipWith(HttpClient.HttpClient, transformAs("ResilientHttpClient.layer", options), (client, resilience) =>
      HttpClient.transform(client, (effect, request) =>
        Effect.mapError(resilience.execute(effect, request), (error): HttpClientError.HttpClientError =>
          HttpClientError.isHttpClientError(error)
            ? error
            : new HttpClientError.RequestError({
              request,
              reason: "Transport",
              cause: error,
              description: error.message
            }))))
  )
