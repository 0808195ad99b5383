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
 * Health endpoints for `@effect/platform` servers: `/health`, `/health/live`,
 * `/health/ready` (200 or 503 with a JSON report).
 *
 * @since 0.1.0
 */
export * as HealthRoutes from "./HealthRoutes.js"

/**
 * Admin endpoints over the policy registry (list, isolate/reset, mode, resize),
 * mounted only explicitly and always behind a guard you supply.
 *
 * @since 0.1.0
 */
export * as AdminRoutes from "./AdminRoutes.js"

/**
 * Parsing of the `Retry-After` header, in both of its forms.
 *
 * @since 0.1.0
 */
export * as RetryAfter from "./RetryAfter.js"

/**
 * Server protection for `@effect/platform` servers: load shedding, per-client
 * rate limits with the IETF `RateLimit` header fields, request deadlines, and
 * the library's errors answered with their HTTP status.
 *
 * @since 0.2.0
 */
export * as ResilientHttpServer from "./ResilientHttpServer.js"
