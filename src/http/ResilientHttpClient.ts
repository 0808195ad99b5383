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
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Bulkhead from "../Bulkhead.js"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type { BulkheadFullError, InvalidOptionsError, TimeoutError } from "../Errors.js"
import type * as Health from "../Health.js"
import type * as Retry from "../Retry.js"
import * as classify from "./internal/resilientHttpClient/classify.js"
import * as internal from "./internal/resilientHttpClient/resilientHttpClient.js"

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
  BodyTooLargeError,
  /**
   * A response with a status the pipeline treats as a failure (a retryable
   * status or any 5xx), carried through retry and breaker as a typed error.
   * The client never fails with it: when retrying stops, the response itself
   * is returned. Seen in `Retry` events and by `onRetry`.
   *
   * @since 0.1.0
   * @category Errors
   */
  HttpStatusError
} from "./internal/resilientHttpClient/errors.js"

// ---------------------------------------------------------------------------
// Type IDs
// ---------------------------------------------------------------------------

/**
 * The type id of the resilient transform ({@link Resilience}).
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

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
  /** Attempts counted as failures of the origin (5xx, transport, timeout — the client's own `timeout` cutting an attempt included). */
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
  readonly [TypeId]: TypeId
  /** The name used in metrics, spans and the policy registry. */
  readonly policyName: string
  /** Counts per origin (the most recently used `maxOrigins`). */
  stats(): Effect.Effect<ReadonlyArray<OriginStats>>
  /**
   * The synchronous twin of `stats`: the counts, read now (for hot paths
   * and synchronous code, such as a metrics exporter's callback).
   */
  unsafeStats(): ReadonlyArray<OriginStats>
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
   * Dual: `execute(effect, request)` or `effect.pipe(resilience.execute(request))`.
   */
  readonly execute: {
    (
      request: HttpClientRequest.HttpClientRequest
    ): <E, R>(
      effect: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>
    ) => Effect.Effect<HttpClientResponse.HttpClientResponse, E | EX, R>
    <E, R>(
      effect: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
      request: HttpClientRequest.HttpClientRequest
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, E | EX, R>
  }
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
   * `maxQueue: 1000`, named after the client), or `false`. On a shared
   * (Redis) `BulkheadStore` the client's bulkhead fails open when the store
   * fails (`onStoreError: "allow"`): the client's errors do not include
   * `BulkheadStoreError`, so a fail-closed bulkhead is refused (at compile
   * time, and with `InvalidOptionsError` at run time).
   */
  readonly bulkhead?:
    | Bulkhead.Bulkhead
    | Partial<Bulkhead.Bulkhead.Options> & { readonly onStoreError?: "allow" | undefined }
    | false
    | undefined
  /**
   * Register the client with the `Health.PolicyRegistry` in context, if
   * there is one (listed with its origins; isolate/reset an origin's
   * circuit; switch the breaker's mode; resize the bulkhead), and its health
   * check with the `Health` service the registry feeds. Without a registry in
   * context nothing is registered. Defaults to true.
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
  /**
   * Deadline propagation: each attempt to one of `origins` carries the time
   * the call still has — the remaining time of the innermost deadline the
   * attempt runs under (`attemptTimeout`, `timeout`, or an enclosing one,
   * such as the request a `ResilientHttpServer` is serving) — in whole
   * milliseconds, in `header` (`request-timeout-ms` by default: what
   * `ResilientHttpServer` reads), so the service called stops when this
   * caller stops waiting. Off by default (absent): deadlines never leak to
   * third parties. `origins`: a list of origins (`"https://payments.internal"`,
   * `"http://127.0.0.1:8080"`: scheme, host and port, as
   * {@link originOf} writes them) or a predicate on the origin (one that
   * throws sends nothing).
   */
  readonly propagateDeadline?: {
    readonly origins: ReadonlyArray<string> | ((origin: string) => boolean)
    readonly header?: string | undefined
  } | undefined
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
} = internal.streaming

// ---------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------

/**
 * The methods retried by default.
 *
 * @since 0.1.0
 * @category Models
 */
export const IDEMPOTENT_METHODS: ReadonlyArray<string> = classify.IDEMPOTENT_METHODS

/**
 * The statuses retried by default.
 *
 * @since 0.1.0
 * @category Models
 */
export const RETRYABLE_STATUSES: ReadonlyArray<number> = classify.RETRYABLE_STATUSES

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
export const originOf: (request: HttpClientRequest.HttpClientRequest) => string = classify.originOf

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
export const isOriginFailure: (error: unknown) => boolean = classify.isOriginFailure

/**
 * True for the resilient transform ({@link Resilience}, from
 * {@link makeTransform}), which carries the client's state (breakers,
 * bulkheads, stats). The clients that {@link make} and {@link layer} return
 * are plain `HttpClient`s.
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "effect-resilience/http"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(ResilientHttpClient.makeTransform(), ResilientHttpClient.isResilientHttpClient) // true
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isResilientHttpClient: (u: unknown) => u is Resilience = internal.isResilientHttpClient

// ---------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------

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
export const makeTransform: (options?: Options) => Effect.Effect<Resilience, InvalidOptionsError, Scope.Scope> =
  internal.makeTransform

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
export const make: (
  options?: Options
) => Effect.Effect<
  HttpClient.HttpClient.With<HttpClientError.HttpClientError | ResilienceError>,
  InvalidOptionsError,
  HttpClient.HttpClient | Scope.Scope
> = internal.make

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
export const resilienceErrorOf: (error: unknown) => Option.Option<ResilienceError> = classify.resilienceErrorOf

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
export const layer: (
  options?: Options
) => Layer.Layer<HttpClient.HttpClient, InvalidOptionsError, HttpClient.HttpClient> = internal.layer

// ---------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------

/**
 * The options of the resilient client that are data, as read from `Config`
 * (the environment) by {@link config}: each under its name, its parts
 * nested — `retry.*` (the backoff from `retry.base`, `retry.factor`,
 * `retry.max`, `retry.jitter`; lists such as `retry.statuses` as
 * `"502,503"`), `circuitBreaker.*` (the flat options of
 * `CircuitBreaker.config`: `failures`, `openDuration`, `probes`, …),
 * `bulkhead.*` (`Bulkhead.config`'s), `health.*` and `drain.*`. Timeouts
 * are strings such as `"2 seconds"`, or `"Infinity"` for none. Defaults and
 * ranges: docs/Options.md#resilienthttpclient.
 *
 * @since 0.2.0
 * @category Models
 */
export interface ConfigOptions {
  readonly name?: string | undefined
  readonly timeout?: Duration.DurationInput | undefined
  readonly attemptTimeout?: Duration.DurationInput | undefined
  readonly bodyTimeout?: Duration.DurationInput | undefined
  readonly bufferBody?: boolean | undefined
  readonly maxBufferBytes?: number | undefined
  readonly retry?: {
    readonly times?: number | undefined
    /** The first delay of the exponential backoff. Defaults to 100 millis. */
    readonly base?: Duration.DurationInput | undefined
    /** Defaults to 2. */
    readonly factor?: number | undefined
    /** Caps each delay. Defaults to 5 seconds (or `base`, when longer). */
    readonly max?: Duration.DurationInput | undefined
    /** Defaults to `"full"`. */
    readonly jitter?: Retry.Jitter | undefined
    readonly maxRetryAfter?: Duration.DurationInput | undefined
    readonly methods?: ReadonlyArray<string> | undefined
    readonly nonIdempotent?: boolean | undefined
    readonly idempotencyKeyHeader?: string | undefined
    readonly statuses?: ReadonlyArray<number> | undefined
  } | undefined
  readonly circuitBreaker?: CircuitBreaker.ConfigOptions | undefined
  readonly bulkhead?: Omit<Partial<Bulkhead.Bulkhead.Options>, "onStoreError"> & {
    readonly onStoreError?: "allow" | undefined
  } | undefined
  readonly health?: {
    readonly whenOpen?: "degraded" | "unhealthy" | undefined
    readonly timeout?: Duration.DurationInput | undefined
    readonly interval?: Duration.DurationInput | undefined
    readonly liveness?: boolean | undefined
    readonly readiness?: boolean | undefined
  } | undefined
  readonly drain?: Options["drain"]
  readonly maxOrigins?: number | undefined
  readonly register?: boolean | undefined
  readonly spans?: boolean | undefined
  /** From `Config`, `origins` is a list (`"https://a.internal,https://b.internal"`). */
  readonly propagateDeadline?: {
    readonly origins?: ReadonlyArray<string> | undefined
    readonly header?: string | undefined
  } | undefined
}

/**
 * The options of the resilient client that are code, given beside its
 * {@link ConfigOptions} to {@link fromConfig} and {@link layerConfig}: a
 * `bufferBody` predicate, a retry `schedule` (replacing the backoff read
 * from `Config`) or `budget`, a breaker or bulkhead to use, a check's
 * `interval` as a `Schedule` or its criticality, and `false` to turn a part
 * off. A part given as options here is merged over the one read from
 * `Config`.
 *
 * @since 0.2.0
 * @category Models
 */
export interface CodeOptions {
  readonly bufferBody?: Options["bufferBody"]
  readonly retry?: Pick<RetryOptions, "schedule" | "budget"> | false | undefined
  readonly circuitBreaker?: CircuitBreaker.CircuitBreaker | false | undefined
  readonly bulkhead?: Bulkhead.Bulkhead | false | undefined
  readonly health?: Pick<Health.CircuitBreakerCheckOptions, "interval" | "critical"> | false | undefined
}

/**
 * The `Config` of the resilient client's data options ({@link ConfigOptions}):
 * its whole configuration, parts included, from one `Config` (every option
 * is optional). Nest it to give it a prefix; with
 * `ConfigProvider.constantCase`, `Config.nested(ResilientHttpClient.config, "http")`
 * reads `HTTP_TIMEOUT`, `HTTP_RETRY_TIMES`, `HTTP_RETRY_BASE`,
 * `HTTP_CIRCUIT_BREAKER_FAILURES`, `HTTP_CIRCUIT_BREAKER_OPEN_DURATION`,
 * `HTTP_BULKHEAD_MAX_CONCURRENT`, `HTTP_HEALTH_WHEN_OPEN`,
 * `HTTP_DRAIN_MAX_BYTES`, … (the table in docs/Options.md#resilienthttpclient).
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "effect-resilience/http"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Config, ConfigProvider, Layer } from "effect"
 *
 * // HTTP_TIMEOUT="10 seconds" HTTP_RETRY_TIMES=3 HTTP_CIRCUIT_BREAKER_FAILURES=10 HTTP_BULKHEAD_MAX_CONCURRENT=20
 * const HttpLive = ResilientHttpClient.layerConfig(Config.nested(ResilientHttpClient.config, "http")).pipe(
 *   Layer.provide(FetchHttpClient.layer),
 *   Layer.provide(Layer.setConfigProvider(ConfigProvider.constantCase(ConfigProvider.fromEnv())))
 * )
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<ConfigOptions> = internal.config

/**
 * Makes the resilient client from the `HttpClient` in context, as
 * {@link make} does, with its data options read from `Config`
 * ({@link config}, a `Config` of {@link ConfigOptions} or a record of
 * `Config`s) and its code options given. Missing or malformed values fail
 * with a `ConfigError`; out-of-range ones with `InvalidOptionsError` naming
 * the config key (`retry.times`, `circuitBreaker.failures`, …).
 *
 * @example
 * ```ts
 * import { Retry } from "effect-resilience"
 * import { ResilientHttpClient } from "effect-resilience/http"
 * import { Config, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* Retry.budget()
 *   const client = yield* ResilientHttpClient.fromConfig(Config.nested(ResilientHttpClient.config, "http"), {
 *     retry: { budget }
 *   })
 *   return yield* client.get("http://127.0.0.1:8080/items")
 * })
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config: Config.Config.Wrap<ConfigOptions>,
  code?: CodeOptions
) => Effect.Effect<
  HttpClient.HttpClient.With<HttpClientError.HttpClientError | ResilienceError>,
  InvalidOptionsError | ConfigError.ConfigError,
  HttpClient.HttpClient | Scope.Scope
> = internal.fromConfig

/**
 * Replaces the `HttpClient` in context with the resilient one, as
 * {@link layer} does, with its data options read from `Config`
 * ({@link config}, a `Config` of {@link ConfigOptions}, or a record of
 * `Config`s with your own names) and its code options given. Invalid
 * values fail the layer with `InvalidOptionsError`; missing or malformed
 * config with a `ConfigError`.
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "effect-resilience/http"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Config, Layer } from "effect"
 *
 * const HttpLive = ResilientHttpClient.layerConfig(Config.nested(ResilientHttpClient.config, "http"), {
 *   bulkhead: false // no bulkhead, whatever the config says
 * }).pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const layerConfig: (
  config: Config.Config.Wrap<ConfigOptions>,
  code?: CodeOptions
) => Layer.Layer<HttpClient.HttpClient, InvalidOptionsError | ConfigError.ConfigError, HttpClient.HttpClient> =
  internal.layerConfig
