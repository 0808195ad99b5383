/**
 * The resilient HTTP client: `ResilienceImpl` holds a client's state (its
 * per-origin stats and metric labels, its breaker, bulkhead and retry
 * policy) and runs each call through the pipeline (overall timeout →
 * bulkhead → circuit breaker → retry → attempt timeout → attempt); the
 * transform, `make` and `layer` are built around it.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type * as Bulkhead from "../../../Bulkhead.js"
import * as bulkhead_ from "../../../internal/bulkhead/bulkhead.js"
import type * as CircuitBreaker from "../../../CircuitBreaker.js"
import * as breaker_ from "../../../internal/circuitBreaker/breaker.js"
import type { InvalidKeyError, InvalidOptionsError } from "../../../Errors.js"
import { isRejection } from "../../../internal/errors.js"
import type * as Health from "../../../Health.js"
import { active, currentDeadline, isCutByTimeout } from "../../../internal/deadline.js"
import { ownIO } from "../../../internal/detached.js"
import { LinkedMap } from "../../../internal/linkedMap.js"
import * as metricKeys from "../../../internal/metricKeys.js"
import * as registry from "../../../internal/health/registry.js"
import * as sources from "../../../internal/health/sources.js"
import * as Spec from "../../../internal/spec.js"
import * as validate from "../../../internal/validate.js"
import type * as Retry from "../../../Retry.js"
import * as retry_ from "../../../internal/retry/retry.js"
import type * as ResilientHttpClient from "../../ResilientHttpClient.js"
import * as RetryAfter from "../retryAfter/retryAfter.js"
import { classify, failureReason, isOriginFailure, isRetryable, originOf, statusResponse } from "./classify.js"
import { HttpStatusError } from "./errors.js"
import type { StreamingSettings } from "./options.js"
import * as options_ from "./options.js"
import { DEFAULT_BREAKER, DEFAULT_BULKHEAD, DEFAULT_STREAMING, resolve, resolveStreaming } from "./options.js"
import * as propagation_ from "./propagation.js"
import { buffer, drain, StreamingResponse } from "./response.js"

/** @internal */
export const TypeId: ResilientHttpClient.TypeId = Symbol.for(
  "effect-resilience/ResilientHttpClient"
) as ResilientHttpClient.TypeId

/** @internal */
export const isResilientHttpClient = (u: unknown): u is ResilientHttpClient.Resilience =>
  typeof u === "function" && Predicate.hasProperty(u, TypeId)

type Response = HttpClientResponse.HttpClientResponse
type ResilienceError = ResilientHttpClient.ResilienceError

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

// The keys, untagged. Every metric carries the tags `policy` (the client's name), `origin` (the
// origin's label) and, for failures and rejections, `reason`, in that order. Each tagged metric is
// made once per client, label (and reason) and kept (`OriginMetrics`), its tags in its key
// (metricKeys.ts): a `Metric.tagged` wrapper would derive a new key (and hash it) on every update.
const failuresKey = MetricKey.counter("resilience_http_failures", {
  description: "Attempts counted as failures of an origin (5xx, transport errors, timeouts)",
  incremental: true
})
const retriesKey = MetricKey.counter("resilience_http_retries", {
  description: "Retries scheduled by the resilient HTTP client",
  incremental: true
})
const rejectionsKey = MetricKey.counter("resilience_http_rejections", {
  description: "Calls rejected by the library (open circuit, full bulkhead) before reaching an origin",
  incremental: true
})
const durationKey = MetricKey.histogram(
  "resilience_http_duration_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 16 }),
  "Duration of calls through the resilient HTTP client (retries included), in milliseconds"
)

/** The metrics of one origin label of one client, made at its first use. */
class OriginMetrics {
  readonly duration: Metric.Metric.Histogram<number>
  readonly retries: Metric.Metric.Counter<number>
  private readonly failures = new Map<string, Metric.Metric.Counter<number>>()
  private readonly rejections = new Map<string, Metric.Metric.Counter<number>>()
  private readonly tags: metricKeys.Tags

  constructor(policy: string, label: string) {
    this.tags = [["policy", policy], ["origin", label]]
    this.duration = metricKeys.tagged(durationKey, this.tags)
    this.retries = metricKeys.tagged(retriesKey, this.tags)
  }

  private static withReason(
    cache: Map<string, Metric.Metric.Counter<number>>,
    key: MetricKey.MetricKey.Counter<number>,
    tags: metricKeys.Tags,
    reason: string
  ): Metric.Metric.Counter<number> {
    let metric = cache.get(reason)
    if (metric === undefined) {
      metric = metricKeys.tagged(key, [...tags, ["reason", reason]])
      cache.set(reason, metric)
    }
    return metric
  }

  /** `resilience_http_failures` for `reason` (a few reasons: `failureReason`). */
  failure(reason: string): Metric.Metric.Counter<number> {
    return OriginMetrics.withReason(this.failures, failuresKey, this.tags, reason)
  }

  /** `resilience_http_rejections` for `reason` (a rejection's `_tag`). */
  rejection(reason: string): Metric.Metric.Counter<number> {
    return OriginMetrics.withReason(this.rejections, rejectionsKey, this.tags, reason)
  }
}

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

/** What an attempt cut by the call's overall timeout counts as (it ends interrupted, with no error of its own). */
const TIMED_OUT: unique symbol = Symbol.for("effect-resilience/http/attemptTimedOut")

/** Set by {@link streaming} around the calls whose bodies are streamed. */
const currentStreaming = FiberRef.unsafeMake<StreamingSettings | undefined>(undefined)

/** @internal */
export const streaming: {
  (options?: ResilientHttpClient.StreamingOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, options?: ResilientHttpClient.StreamingOptions): Effect.Effect<A, E, R>
} = (...args: ReadonlyArray<any>): any => {
  // options are validated (InvalidOptionsError, thrown) and resolved once, when `streaming` is called
  if (Effect.isEffect(args[0])) return Effect.locally(args[0], currentStreaming, resolveStreaming(args[1]))
  const settings = resolveStreaming(args[0])
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.locally(self, currentStreaming, settings)
}

// ---------------------------------------------------------------------------
// The implementation
// ---------------------------------------------------------------------------

/** The counts of one origin, its metric label and that label's metrics. */
interface MutableStats {
  origin: string
  label: string
  metrics: OriginMetrics
  calls: number
  attempts: number
  retries: number
  failures: number
  rejections: number
  drained: number
}

const isStatusError = (e: unknown): e is HttpStatusError => e instanceof HttpStatusError
// a 4xx status that stopped the retries (408, 429) is a success for the breaker: a client error
// is not the server's fault
const isClientStatusError = (e: unknown): e is HttpStatusError => e instanceof HttpStatusError && e.status < 500

/**
 * A resilient client's state and pipeline. Its members are bound once (they
 * are arrow properties): `execute`, `stats` and `unsafeStats` are handed out
 * as they are.
 *
 * @internal
 */
export class ResilienceImpl {
  /** Metric labels: the first `maxOrigins` origins keep their own for good (bounded cardinality). */
  private readonly labels = new Map<string, string>()
  /** The metrics of each label (at most `maxOrigins` + 1: "other"). */
  private readonly metrics = new Map<string, OriginMetrics>()
  /**
   * Stats: the `maxOrigins` most recently used origins (a LinkedMap: O(1) to move and evict
   * whatever maxOrigins is; a plain Map's oldest entry costs O(deleted entries) to reach).
   */
  private readonly origins = new LinkedMap<string, MutableStats>()
  /** The call in flight, for `onRetry` (which only sees the error). */
  private readonly currentCall = FiberRef.unsafeMake<MutableStats | undefined>(undefined)
  readonly retryPolicy: Retry.Retry | undefined
  private readonly statsEffect: Effect.Effect<ReadonlyArray<ResilientHttpClient.OriginStats>>

  constructor(
    readonly config: options_.Config,
    readonly breaker: CircuitBreaker.CircuitBreaker | undefined,
    readonly bulkhead: Bulkhead.Bulkhead<any> | undefined
  ) {
    const r = config.retry
    this.retryPolicy = r === undefined ? undefined : retry_.make<unknown>({
      name: config.name,
      times: r.times,
      schedule: r.schedule,
      maxRetryAfter: r.maxRetryAfter,
      budget: r.budget,
      while: (error) => isRetryable(error, r.statuses, r.maxRetryAfterMillis),
      onRetry: (event) => this.onRetry(event.error),
      // the hook is the client's drain, bounded by `drain.timeout` (and the deadline): not cut at
      // Retry's default hook bound (1 s), which would ignore a longer `drain.timeout` and count the
      // cut as a user hook timing out
      onRetryTimeout: Duration.infinity
    })
    this.statsEffect = Effect.sync(() => this.unsafeStats())
  }

  // --- stats ----------------------------------------------------------------

  /** The counts per origin, now (the `maxOrigins` most recently used). */
  readonly unsafeStats = (): ReadonlyArray<ResilientHttpClient.OriginStats> =>
    [...this.origins.values()].map(({ label: _label, metrics: _metrics, ...stats }) => ({ ...stats }))

  /** {@link unsafeStats} as an `Effect` (one value, built once). */
  readonly stats = (): Effect.Effect<ReadonlyArray<ResilientHttpClient.OriginStats>> => this.statsEffect

  private labelFor(origin: string): string {
    const label = this.labels.get(origin)
    if (label !== undefined) return label
    if (this.labels.size >= this.config.maxOrigins) return "other"
    this.labels.set(origin, origin)
    return origin
  }

  /** The stats of `origin`, made most recently used (created, evicting the oldest, when new). */
  private statsFor(origin: string): MutableStats {
    let stats = this.origins.get(origin)
    if (stats !== undefined) {
      // most recently used last
      this.origins.moveToBack(origin)
      return stats
    }
    const label = this.labelFor(origin)
    let metrics = this.metrics.get(label)
    if (metrics === undefined) this.metrics.set(label, metrics = new OriginMetrics(this.config.name, label))
    stats = {
      origin,
      label,
      metrics,
      calls: 0,
      attempts: 0,
      retries: 0,
      failures: 0,
      rejections: 0,
      drained: 0
    }
    this.origins.set(origin, stats)
    if (this.origins.size > this.config.maxOrigins) {
      this.origins.delete(this.origins.firstKey()!)
    }
    return stats
  }

  // --- retries --------------------------------------------------------------

  /** Drains the discarded response and counts the retry; runs before the backoff sleep. */
  private onRetry(error: unknown): Effect.Effect<void> {
    return Effect.flatMap(FiberRef.get(this.currentCall), (call) => {
      if (call === undefined) return Effect.void
      call.retries++
      const count = Metric.increment(call.metrics.retries)
      const response = statusResponse(error)
      if (response === undefined) return count
      call.drained++
      return Effect.zipRight(count, drain(response, this.config.drainBytes, this.config.drainTimeout))
    })
  }

  private retryAllowed(request: HttpClientRequest.HttpClientRequest): boolean {
    const r = this.config.retry
    if (r === undefined) return false
    // a streamed body is consumed by the first attempt: it cannot be sent again
    if (request.body._tag === "Stream") return false
    if (r.nonIdempotent) return true
    if (r.methods.has(request.method)) return true
    return (request.method === "POST" || request.method === "PATCH") &&
      request.headers[r.idempotencyKeyHeader] !== undefined
  }

  // --- responses ------------------------------------------------------------

  private toStatusError(response: Response, origin: string, now: number): HttpStatusError {
    const retryAfter = RetryAfter.parse(response.headers["retry-after"], now)
    return new HttpStatusError({
      response,
      status: response.status,
      origin,
      retryAfter: Option.getOrUndefined(retryAfter)
    })
  }

  /**
   * What an attempt's response becomes: an `HttpStatusError` for a retryable
   * status or a 5xx; otherwise the response, its body read first when buffered.
   */
  private inspect(
    response: Response,
    origin: string,
    bufferBody: boolean
  ): Effect.Effect<Response, HttpStatusError | HttpClientError.ResponseError> {
    return Effect.clockWith((clock): Effect.Effect<Response, HttpStatusError | HttpClientError.ResponseError> => {
      if (response.status >= 500 || this.config.statuses.has(response.status)) {
        return Effect.fail(this.toStatusError(response, origin, clock.unsafeCurrentTimeMillis()))
      }
      return bufferBody ? buffer(response, this.config.maxBufferBytes) : Effect.succeed(response)
    })
  }

  /**
   * The response of a status that stopped the retries is returned: buffered,
   * its body is read first, as any other's (inside the call's timeout).
   */
  private readonly returnBuffered = (e: HttpStatusError): Effect.Effect<Response, HttpClientError.ResponseError> =>
    buffer(e.response, this.config.maxBufferBytes)

  private readonly returnStreamed = (e: HttpStatusError): Effect.Effect<Response> => Effect.succeed(e.response)

  /** A response returned for streaming, its reads bounded by the idle timeout and the deadline active now. */
  private toStreaming(response: Response, settings: StreamingSettings): Effect.Effect<Response> {
    return Effect.withFiberRuntime((fiber) => {
      const deadline = settings.deadline ? active(fiber.getFiberRef(currentDeadline)) : undefined
      const idle = settings.bodyTimeout === undefined ? this.config.bodyTimeout : settings.bodyTimeout ?? undefined
      return Effect.succeed(
        new StreamingResponse(
          response,
          idle,
          deadline === undefined
            ? undefined
            : { at: deadline.at, clock: Context.get(fiber.currentDefaultServices, Clock.Clock), error: deadline.error },
          this.config.name
        )
      )
    })
  }

  // --- the request path -----------------------------------------------------

  /**
   * Runs one call through the pipeline: `effect` sends `request` once (an
   * attempt) and is re-run for each retry.
   */
  readonly execute = <E, R>(
    effect: Effect.Effect<Response, E, R>,
    request: HttpClientRequest.HttpClientRequest
  ): Effect.Effect<Response, E | ResilienceError, R> =>
    Effect.withFiberRuntime((fiber) => this.call(fiber, effect, request))

  private call<E, R>(
    fiber: Fiber.RuntimeFiber<any, any>,
    effect: Effect.Effect<Response, E, R>,
    request: HttpClientRequest.HttpClientRequest
  ): Effect.Effect<Response, E | ResilienceError, R> {
    const origin = originOf(request)
    const stats = this.statsFor(origin)
    stats.calls++
    // buffered (the default) or streamed: per request (`streaming`), else the client's `bufferBody`
    const streamingRequested = fiber.getFiberRef(currentStreaming)
    const bufferBody = streamingRequested === undefined && this.config.bufferBody(request)

    const attempt = this.attempt(effect, request, origin, stats, bufferBody)
    let call: Effect.Effect<any, any, R> = this.retryAllowed(request) ? this.retryPolicy!(attempt) : attempt
    call = this.guard(call, origin, bufferBody)
    // streamed: the body's reads are bounded by the time the call's deadline has left now
    // (read inside the timeout's region: the deadline ends with it)
    if (!bufferBody) {
      const settings = streamingRequested ?? DEFAULT_STREAMING
      call = Effect.flatMap(call, (response: Response) => this.toStreaming(response, settings))
    }
    if (this.config.timeout !== undefined) call = this.config.timeout(call)
    // the exchange is the library's own I/O: inside an uninterruptible caller its timeouts must still
    // cut it (a stalled server would hold the call and its permit for as long as it stalls)
    return ownIO(this.measure(call, stats))
  }

  /** One attempt: sent, inspected, bounded by `attemptTimeout`, its origin failures counted. */
  private attempt<E, R>(
    effect: Effect.Effect<Response, E, R>,
    request: HttpClientRequest.HttpClientRequest,
    origin: string,
    stats: MutableStats,
    bufferBody: boolean
  ): Effect.Effect<any, any, R> {
    let attemptNumber = 0
    const inspect = (response: Response) => this.inspect(response, origin, bufferBody)
    let attempt: Effect.Effect<any, any, R> = Effect.suspend(() => {
      attemptNumber++
      stats.attempts++
      return Effect.flatMap(effect, inspect)
    }) as Effect.Effect<any, any, R>
    if (this.config.attemptTimeout !== undefined) attempt = this.config.attemptTimeout(attempt)
    // an attempt cut by the call's overall timeout ends interrupted (by the library's timeout marker):
    // a timeout of the origin, counted as the breaker counts it (onExit: an interruption skips tapError)
    attempt = Effect.onExit(attempt, (exit) => {
      if (exit._tag === "Success") return Effect.void
      const failure = Cause.failureOption(exit.cause)
      const error = Option.isSome(failure) ? failure.value : isCutByTimeout(exit.cause) ? TIMED_OUT : undefined
      if (error === undefined || (error !== TIMED_OUT && !isOriginFailure(error))) return Effect.void
      stats.failures++
      return Metric.increment(stats.metrics.failure(error === TIMED_OUT ? "timeout" : failureReason(error)))
    })
    if (this.config.spans) {
      const inner = attempt
      const name = this.config.name
      attempt = Effect.suspend(() =>
        Effect.withSpan(inner, "resilience.http.attempt", {
          kind: "client",
          captureStackTrace: false,
          attributes: {
            "http.request.method": request.method,
            "server.origin": stats.label,
            "resilience.client": name,
            "resilience.attempt": attemptNumber + 1
          }
        })
      )
    }
    return attempt
  }

  /**
   * The breaker and the bulkhead of `origin` around the retries; a status
   * that stopped the retries becomes its response again.
   */
  private guard<R>(call: Effect.Effect<any, any, R>, origin: string, bufferBody: boolean): Effect.Effect<any, any, R> {
    const returned = bufferBody ? this.returnBuffered : this.returnStreamed
    if (this.breaker !== undefined) {
      call = this.breaker.execute(Effect.catchIf(call, isClientStatusError, returned), { key: origin, classify })
    }
    if (this.bulkhead !== undefined) call = this.bulkhead.execute(call, { key: origin })
    return Effect.catchIf(call, isStatusError, returned)
  }

  /**
   * Runs the call with `currentCall` set to its stats (restored after it, as
   * `Effect.locally` does), counts the library's rejections (as
   * `Effect.tapError`) and records the duration of a success (as
   * `Metric.trackDurationWith`: the clock's nanoseconds at the start and at
   * the success), in two frames instead of `locally`'s acquire/use/release
   * and two more.
   */
  private measure<R>(call: Effect.Effect<any, any, R>, stats: MutableStats): Effect.Effect<any, any, R> {
    const currentCall = this.currentCall
    return Effect.uninterruptibleMask((restore) =>
      Effect.withFiberRuntime<any, any, R>((fiber) => {
        const previous = fiber.getFiberRef(currentCall)
        const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        const reset = FiberRef.set(currentCall, previous)
        const start = clock.unsafeCurrentTimeNanos()
        // the counting runs where the call runs (the caller's interruptibility), as tapError and tap do
        const measured = Effect.matchCauseEffect(call, {
          onFailure: (cause) => {
            const failure = Cause.failureOrCause(cause)
            if (failure._tag === "Right" || !isRejection(failure.left)) return Effect.failCause(cause)
            stats.rejections++
            return Effect.zipRight(Metric.increment(stats.metrics.rejection((failure.left as any)._tag)), Effect.failCause(cause))
          },
          onSuccess: (response) =>
            Effect.as(
              Metric.update(stats.metrics.duration, Duration.toMillis(Duration.nanos(clock.unsafeCurrentTimeNanos() - start))),
              response
            )
        })
        return Effect.zipRight(
          FiberRef.set(currentCall, stats),
          Effect.matchCauseEffect(restore(measured), {
            onFailure: (cause) => Effect.zipRight(reset, Effect.failCause(cause)),
            onSuccess: (response) => Effect.as(reset, response)
          })
        )
      })
    )
  }

  // --- the registry ---------------------------------------------------------

  private readonly originNames = (): ReadonlyArray<string> => this.unsafeStats().map((s) => s.origin)

  /** For every origin (no key) or one, runs `f`. */
  private each(
    f: (key: string) => Effect.Effect<void, CircuitBreaker.CircuitBreakerError | InvalidKeyError | InvalidOptionsError>
  ) {
    return (key?: string) => Effect.forEach(key === undefined ? this.originNames() : [key], f, { discard: true })
  }

  /** What the admin routes show of the client: per origin its counts, circuit and load. */
  private info(): Effect.Effect<Readonly<Record<string, unknown>>> {
    const breaker = this.breaker
    const bulkhead = this.bulkhead
    return Effect.gen(this, function*() {
      const list: Array<Record<string, unknown>> = []
      for (const stats of this.unsafeStats()) {
        const circuit = breaker === undefined
          ? undefined
          : yield* Effect.orElseSucceed(Effect.map(breaker.state(stats.origin), (s) => s._tag), () => "Unknown")
        const load = bulkhead === undefined ? undefined : bulkhead.unsafeStats(stats.origin)
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
          : { bulkhead: { maxConcurrent: bulkhead.unsafeStats().maxConcurrent, maxQueue: bulkhead.unsafeStats().maxQueue } })
      }
    })
  }

  /**
   * The client's entry in the `Health.PolicyRegistry`: its origins, isolate
   * and reset (an origin's circuit, or all), the breaker's mode, resize (the
   * bulkhead), and the health check fed by its breaker.
   */
  registryEntry(): Health.PolicyEntry {
    const breaker = this.breaker
    const bulkhead = this.bulkhead
    const config = this.config
    return {
      name: config.name,
      kind: "HttpClient",
      info: this.info(),
      isolate: breaker === undefined ? undefined : this.each((key) => breaker.isolate(key)),
      reset: breaker === undefined ? undefined : this.each((key) => breaker.reset(key)),
      resize: bulkhead === undefined ? undefined : (size) => bulkhead.resize(size),
      setMode: breaker === undefined ? undefined : (mode) => breaker.setMode(mode as CircuitBreaker.Mode),
      health: breaker === undefined || config.health === undefined
        ? undefined
        : sources.fromCircuitBreaker(breaker, { ...config.health, name: `http:${config.name}`, keys: this.originNames })
    }
  }

  /** The transform: `apply(client)` is the resilient client. */
  toResilience(): ResilientHttpClient.Resilience {
    const execute = this.execute
    // the transform calls `execute` itself, not its dual form (one call less per request)
    const apply = <E, R>(client: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E | ResilienceError, R> =>
      propagation_.transform(client, execute, this.config.propagateDeadline)
    return Object.assign(apply, {
      [TypeId]: TypeId as ResilientHttpClient.TypeId,
      policyName: this.config.name,
      retry: this.retryPolicy,
      circuitBreaker: this.breaker,
      // a bulkhead failing closed on a shared store (`onStoreError: "fail"`) adds `BulkheadStoreError`,
      // which `ResilienceError` does not list (see the changeset)
      bulkhead: this.bulkhead as Bulkhead.Bulkhead | undefined,
      execute: dual<
        (
          request: HttpClientRequest.HttpClientRequest
        ) => <E, R>(effect: Effect.Effect<Response, E, R>) => Effect.Effect<Response, E | ResilienceError, R>,
        <E, R>(
          effect: Effect.Effect<Response, E, R>,
          request: HttpClientRequest.HttpClientRequest
        ) => Effect.Effect<Response, E | ResilienceError, R>
      >(2, execute),
      stats: this.stats,
      unsafeStats: this.unsafeStats
    })
  }
}

// ---------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------

/** An error of the breaker's or bulkhead's constructor, named as the client's option the caller wrote. */
const asOption = (m: string, group: string) => (e: InvalidOptionsError): InvalidOptionsError =>
  validate.invalid(m, `${group}.${e.option}`, e.value, e.expected)

/** Validates the options, makes the breaker and bulkhead (in the scope) and registers the client. */
const build = (
  m: string,
  options: ResilientHttpClient.Options | undefined
): Effect.Effect<ResilienceImpl, InvalidOptionsError, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* validate.validated(() => resolve(options, m))
    const breaker = config.circuitBreaker === undefined
      ? undefined
      : breaker_.isCircuitBreaker(config.circuitBreaker)
      ? config.circuitBreaker
      : yield* Effect.mapError(
        breaker_.make({ ...DEFAULT_BREAKER, name: config.name, ...config.circuitBreaker }),
        asOption(m, "circuitBreaker")
      )
    const bulkhead = config.bulkhead === undefined
      ? undefined
      : typeof config.bulkhead === "function"
      ? config.bulkhead
      : yield* Effect.mapError(
        bulkhead_.make({ ...DEFAULT_BULKHEAD, name: config.name, ...config.bulkhead }),
        asOption(m, "bulkhead")
      )
    const impl = new ResilienceImpl(config, breaker, bulkhead)
    if (config.register) {
      // optional: a client is listed by the admin routes only where a registry is provided
      const provided = yield* Effect.serviceOption(registry.PolicyRegistry)
      if (provided._tag === "Some") yield* provided.value.register(impl.registryEntry())
    }
    return impl
  })

/** @internal */
export const makeTransform = (
  options: ResilientHttpClient.Options = {}
): Effect.Effect<ResilientHttpClient.Resilience, InvalidOptionsError, Scope.Scope> =>
  Effect.map(build("ResilientHttpClient.makeTransform", options), (impl) => impl.toResilience())

/** @internal */
export const make = (
  options: ResilientHttpClient.Options = {}
): Effect.Effect<
  HttpClient.HttpClient.With<HttpClientError.HttpClientError | ResilienceError>,
  InvalidOptionsError,
  HttpClient.HttpClient | Scope.Scope
> =>
  Effect.zipWith(
    HttpClient.HttpClient,
    build("ResilientHttpClient.make", options),
    (client, impl) => propagation_.transform(client, impl.execute, impl.config.propagateDeadline)
  )

/** The client of `layer`: the library's errors as a transport `RequestError` carrying them. */
const asLayerClient = (client: HttpClient.HttpClient, impl: ResilienceImpl): HttpClient.HttpClient =>
  propagation_.transform(client, (effect, request) =>
    Effect.mapError(impl.execute(effect, request), (error): HttpClientError.HttpClientError =>
      HttpClientError.isHttpClientError(error)
        ? error
        : new HttpClientError.RequestError({
          request,
          reason: "Transport",
          cause: error,
          description: error.message
        })), impl.config.propagateDeadline)

/** @internal */
export const layer = (
  options: ResilientHttpClient.Options = {}
): Layer.Layer<HttpClient.HttpClient, InvalidOptionsError, HttpClient.HttpClient> =>
  Layer.scoped(
    HttpClient.HttpClient,
    Effect.zipWith(HttpClient.HttpClient, build("ResilientHttpClient.layer", options), asLayerClient)
  )

/** @internal */
export const config: Config.Config<ResilientHttpClient.ConfigOptions> = options_.spec.config as Config.Config<any>

/**
 * The options config data and code stand for (as `Spec.readConfig` reads
 * them, with the parts given in both merged), checked; errors name `module`
 * and the config key.
 */
const readOptions = (
  config: Config.Config.Wrap<ResilientHttpClient.ConfigOptions>,
  code: ResilientHttpClient.CodeOptions | undefined,
  module: string
): Effect.Effect<ResilientHttpClient.Options, InvalidOptionsError | ConfigError.ConfigError> =>
  Effect.flatMap(
    validate.fromConfig<Record<string, unknown>>(module, config as Config.Config.Wrap<Record<string, unknown>>),
    (data) =>
      validate.validated(() =>
        Spec.asConfig(options_.spec, module, () => {
          const options = options_.merge(
            options_.spec.fromConfigOptions(data, module),
            validate.options(module, code as Record<string, unknown> | undefined, "code")
          )
          options_.spec.resolve(options, module)
          return options as ResilientHttpClient.Options
        })
      )
  )

/** @internal */
export const fromConfig = (
  config: Config.Config.Wrap<ResilientHttpClient.ConfigOptions>,
  code?: ResilientHttpClient.CodeOptions
): Effect.Effect<
  HttpClient.HttpClient.With<HttpClientError.HttpClientError | ResilienceError>,
  InvalidOptionsError | ConfigError.ConfigError,
  HttpClient.HttpClient | Scope.Scope
> => {
  const m = "ResilientHttpClient.fromConfig"
  return Effect.zipWith(
    HttpClient.HttpClient,
    Effect.flatMap(readOptions(config, code, m), (options) => build(m, options)),
    (client: HttpClient.HttpClient, impl: ResilienceImpl) =>
      propagation_.transform(client, impl.execute, impl.config.propagateDeadline)
  )
}

/** @internal */
export const layerConfig = (
  config: Config.Config.Wrap<ResilientHttpClient.ConfigOptions>,
  code?: ResilientHttpClient.CodeOptions
): Layer.Layer<HttpClient.HttpClient, InvalidOptionsError | ConfigError.ConfigError, HttpClient.HttpClient> => {
  const m = "ResilientHttpClient.layerConfig"
  return Layer.scoped(
    HttpClient.HttpClient,
    Effect.zipWith(
      HttpClient.HttpClient,
      Effect.flatMap(readOptions(config, code, m), (options) => build(m, options)),
      asLayerClient
    )
  )
}
