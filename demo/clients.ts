/**
 * The two clients the demo compares: a naive `HttpClient` call with no
 * policies, and the same call through effect-resilience.
 */
import { HttpClient, type HttpClientError } from "@effect/platform"
import { Data, Duration, Effect, Option } from "effect"
import { Fallback, Policy, Retry } from "effect-resilience"
import { RetryAfter } from "effect-resilience/http"

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
export const fetchQuote = (base: string, client: string, id: number) =>
  Effect.flatMap(HttpClient.HttpClient, (http) =>
    http.get(`${base}/quote/${id}`, { headers: { "x-demo-client": client } }).pipe(
      Effect.flatMap((response): Effect.Effect<Quote, UpstreamError | HttpClientError.HttpClientError> => {
        if (response.status === 200) return response.json as Effect.Effect<Quote, HttpClientError.ResponseError>
        const retryAfter = RetryAfter.parse(response.headers["retry-after"], Date.now())
        // drain the body of a response we discard, so the socket goes back to the pool
        return Effect.zipRight(
          Effect.ignore(response.text),
          Effect.fail(new UpstreamError({ status: response.status, retryAfter: Option.getOrUndefined(retryAfter) }))
        )
      })
    ))

export interface ResilientClient {
  readonly get: (id: number) => Effect.Effect<{ readonly quote: Quote; readonly degraded: boolean }, unknown, HttpClient.HttpClient>
  readonly retries: () => number
  readonly breakerState: () => Effect.Effect<string>
  readonly description: string
}

/**
 * The resilient client: overall timeout → bulkhead → circuit breaker → retry
 * with a budget → attempt timeout, with the last good quote served (marked
 * degraded) when everything else fails.
 */
export const makeResilientClient = (base: string) =>
  Effect.gen(function*() {
    const budget = yield* Retry.budget({ ratio: 0.2, minRetriesPerSecond: 2, window: "5 seconds" })
    const retry = Retry.policy({
      schedule: Retry.exponential({ base: "50 millis", max: "1 second", jitter: "full" }),
      times: 2,
      budget,
      maxRetryAfter: "1 second",
      name: "quotes"
    })
    const policy = Policy.pipeline({ timeout: "1500 millis", retry, attemptTimeout: "400 millis" })
    // stale-if-error: the last good quote per instrument, served (marked degraded) when the call fails
    const stale = yield* Fallback.staleIfError({ ttl: "30 seconds", maxEntries: 1_000, name: "quotes" })
    const client: ResilientClient = {
      get: (id) =>
        stale.serve(fetchQuote(base, "resilient", id).pipe(policy), { key: `instrument-${id % 10}` }).pipe(
          Effect.map((served) => ({ quote: served.value, degraded: served.stale }))
        ),
      retries: () => retry.stats().retries,
      breakerState: () => Effect.succeed("n/a"),
      description: "fallback (stale) → timeout 1.5s → retry ×2 (budget 20%) → attempt timeout 400ms"
    }
    return client
  })
