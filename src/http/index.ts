/**
 * effect-resilience/http: HTTP-aware resilience for `@effect/platform`.
 *
 * @since 0.1.0
 */
export * as RetryAfter from "./RetryAfter.js"
