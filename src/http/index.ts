/**
 * effect-resilience/http: HTTP-aware resilience for `@effect/platform`.
 *
 * @since 0.1.0
 */

/**
 * A resilient `HttpClient`: timeouts, retries for idempotent requests with
 * `Retry-After`, a circuit breaker and a bulkhead per origin, drained bodies,
 * metrics per origin.
 *
 * @since 0.1.0
 */
export * as ResilientHttpClient from "./ResilientHttpClient.js"

/**
 * Parsing of the `Retry-After` header, in both of its forms.
 *
 * @since 0.1.0
 */
export * as RetryAfter from "./RetryAfter.js"
