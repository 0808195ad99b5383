/**
 * The two clients the demo compares: a naive `HttpClient` call with no
 * policies, and the same call through effect-resilience.
 */
import { HttpClient, type HttpClientError } from "@effect/platform"
import { Data, Duration, Effect, Option, Stream } from "effect"
import { AdaptiveLimit, CircuitBreaker, Fallback, Retry } from "effect-resilience"
import { ResilientHttpClient, RetryAfter } from "effect-resilience/http"

export class UpstreamError extends Data.TaggedError("UpstreamError")<{
  readonly status: number
  readonly retryAfter?: Duration.Duration | undefined
}> {
  override get message() {
    return `upstream answered ${this.status}`
  }
}

export interface Quote {
  readonly price: number
  readonly phase: string
}

/** One GET of a quote: 200 → the quote; anything else → a typed error carrying `Retry-After`. */
export const fetchQuote = <E>(http: HttpClient.HttpClient.With<E>, base: string, client: string, id: number) =>
  http.get(`${base}/quote/${id}`, { headers: { "x-demo-client": client } }).pipe(
    Effect.flatMap((response): Effect.Effect<Quote, UpstreamError | HttpClientError.ResponseError> => {
      if (response.status === 200) return response.json as Effect.Effect<Quote, HttpClientError.ResponseError>
      const retryAfter = RetryAfter.parse(response.headers["retry-after"], Date.now())
      // drain the body of a response we discard, so the socket goes back to the pool
      return Effect.zipRight(
        Effect.ignore(response.text),
        Effect.fail(new UpstreamError({ status: response.status, retryAfter: Option.getOrUndefined(retryAfter) }))
      )
    })
  )

export interface ResilientClient {
  readonly get: (id: number) => Effect.Effect<{ readonly quote: Quote; readonly degraded: boolean }, unknown>
  readonly retries: () => number
  readonly breakerState: () => Effect.Effect<string>
  /** The breaker's state changes: `to` is the new state's tag. */
  readonly transitions: Stream.Stream<{ readonly to: string }>
  /** The bulkhead's limit for the upstream's origin and the calls holding a permit. */
  readonly limit: () => { readonly limit: number; readonly active: number }
  readonly description: string
}

/**
 * The resilient client, from `effect-resilience/http` plus a stale-if-error
 * fallback: fallback (last good quote, marked degraded) → overall timeout →
 * bulkhead → circuit breaker → retry with a budget → attempt timeout.
 */
export const makeResilientClient = (
  base: string,
  options: {
    /** Where the breaker keeps its circuits: in memory (default) or a shared store (Redis). */
    readonly store?: CircuitBreaker.CircuitBreakerStore | undefined
    /** The client's name (the upstream counts requests per name). Defaults to `"resilient"`. */
    readonly name?: string | undefined
    /** The bulkhead's limit adapts (Vegas) instead of the fixed 20. */
    readonly adaptive?: boolean | undefined
  } = {}
) =>
  Effect.gen(function*() {
    const budget = yield* Retry.budget({ ratio: 0.2, minRetriesPerSecond: 2, window: "5 seconds" })
    const makeTransform = (o: ResilientHttpClient.Options) =>
      options.store === undefined
        ? ResilientHttpClient.makeTransform(o)
        : ResilientHttpClient.makeTransform(o).pipe(
          Effect.provideService(CircuitBreaker.CircuitBreakerStore, options.store)
        )
    const resilience = yield* makeTransform({
      name: "quotes",
      timeout: "1500 millis",
      attemptTimeout: "400 millis",
      retry: {
        times: 2,
        schedule: Retry.exponential({ base: "50 millis", max: "1 second", jitter: "full" }),
        budget,
        maxRetryAfter: "1 second"
      },
      circuitBreaker: {
        tripPolicy: CircuitBreaker.timeRate({ threshold: 0.5, window: "2 seconds", minimumCalls: 10 }),
        openDuration: "1500 millis",
        halfOpen: { probes: 2, successThreshold: 2 }
      },
      bulkhead: {
        // Vegas per origin: from 10, between 2 and 40, fed by the latency of each call
        maxConcurrent: options.adaptive === true ? AdaptiveLimit.vegas({ initialLimit: 10, minLimit: 2, maxLimit: 40 }) : 20,
        maxQueue: 40,
        maxWait: "500 millis"
      },
      // the upstream (ResilientHttpServer, trusting the header) stops working on an attempt this client gave up on
      propagateDeadline: { origins: [new URL(base).origin] }
    })
    const http = resilience(yield* HttpClient.HttpClient)
    // stale-if-error: the last good quote per instrument, served (marked degraded) when the call fails
    // each client (a replica) keeps its own last good quotes, as a separate process would
    const stale = yield* Fallback.staleIfError<Quote>({ ttl: "30 seconds", maxEntries: 1_000, name: "quotes" }).pipe(
      Effect.provideServiceEffect(Fallback.StaleStore, Fallback.makeStoreMemory())
    )
    const origin = new URL(base).origin
    const name = options.name ?? "resilient"
    const client: ResilientClient = {
      get: (id) =>
        stale.serve(fetchQuote(http, base, name, id), {
          key: `instrument-${id % 10}`
        }).pipe(Effect.map((served) => ({ quote: served.value, degraded: served.stale }))),
      retries: () => resilience.retry?.unsafeStats().retries ?? 0,
      breakerState: () =>
        resilience.circuitBreaker === undefined
          ? Effect.succeed("n/a")
          : resilience.circuitBreaker.state(origin).pipe(
            Effect.map((state) => state._tag),
            Effect.orElseSucceed(() => "n/a")
          ),
      transitions: resilience.circuitBreaker === undefined ? Stream.empty : resilience.circuitBreaker.transitions,
      limit: () => {
        const stats = resilience.bulkhead?.unsafeStats(origin)
        return { limit: stats?.maxConcurrent ?? 0, active: stats?.active ?? 0 }
      },
      description: `stale-if-error → timeout 1.5s → bulkhead ${
        options.adaptive === true ? "Vegas 10 (2–40)" : "20"
      } (+40 queued) → breaker (50% of 2s, ≥10 calls; open 1.5s) → retry ×2 (budget 20%) → attempt timeout 400ms`
    }
    return client
  })
