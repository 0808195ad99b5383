/**
 * effect-resilience: resilience policies for Effect.
 *
 * @since 0.1.0
 */

/**
 * The errors the library produces and the guards that classify them.
 *
 * @since 0.1.0
 */
export * as Errors from "./Errors.js"

/**
 * Policies and their composition (`compose`, `pipeline`, `fromTag`).
 *
 * @since 0.1.0
 */
export * as Policy from "./Policy.js"

/**
 * Retries with backoff, jitter, typed classification and a retry budget.
 *
 * @since 0.1.0
 */
export * as Retry from "./Retry.js"

/**
 * Timeouts that interrupt the work and propagate their deadline inward.
 *
 * @since 0.1.0
 */
export * as Timeout from "./Timeout.js"

/**
 * Circuit breakers: consecutive, count-window and time-window trip policies,
 * slow calls, growing breaks, bounded half-open probing, keyed circuits that
 * expire when idle, late results fenced by generation, state in a swappable
 * `CircuitBreakerStore` (in memory by default).
 *
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/**
 * Bulkheads on a herd-free FIFO semaphore: bounded concurrency and queue,
 * `maxWait`, keyed partitions, rejections with `BulkheadFullError`; permits
 * in the process, or shared by replicas under the Redis `BulkheadStore`.
 *
 * @since 0.1.0
 */
export * as Bulkhead from "./Bulkhead.js"

/**
 * Adaptive concurrency limits for the bulkhead (AIMD, Vegas, Gradient2, after
 * Netflix's concurrency-limits): a `maxConcurrent` found from measured
 * latency and drops; the algorithms as pure state machines.
 *
 * @since 0.2.0
 */
export * as AdaptiveLimit from "./AdaptiveLimit.js"

/**
 * Fallbacks on chosen typed errors: a value, another effect, a chain of
 * sources, or the last good value served stale (stale-if-error).
 *
 * @since 0.1.0
 */
export * as Fallback from "./Fallback.js"

/**
 * Hedged requests: start another attempt every `delay` while none has
 * succeeded; the first success wins, the losers are interrupted and awaited.
 *
 * @since 0.1.0
 */
export * as Hedge from "./Hedge.js"

/**
 * Health checks as services: timeouts, criticality, background monitoring on
 * a `Schedule`, an aggregate healthy/degraded/unhealthy report, liveness and
 * readiness views, circuit breakers as health sources, a registry of named
 * policies.
 *
 * @since 0.1.0
 */
export * as Health from "./Health.js"

/**
 * Rate limits as policies on `@effect/experimental`'s `RateLimiterStore`
 * (bounded memory store, or Redis): token bucket or fixed window, fail or
 * delay within `maxDelay` and the enclosing deadline, never charging a
 * rejected call; one limit per key with `execute(self, { key })`.
 *
 * @since 0.1.0
 */
export * as RateLimiter from "./RateLimiter.js"

/**
 * Chaos engineering as policies: fault, latency, outcome and behaviour
 * injection at a rate, reproducible with a seeded `Random`, switchable at run
 * time.
 *
 * @since 0.1.0
 */
export * as Chaos from "./Chaos.js"

/**
 * Idempotent execution: an effect runs once per key, concurrent callers share
 * that execution and later ones get its stored `Exit` for a TTL (memory store
 * by default, Redis for many replicas).
 *
 * @since 0.1.0
 */
export * as Idempotency from "./Idempotency.js"

/**
 * Testing helpers: a scripted fake dependency with a call log, pipeline
 * descriptions (`render`, `kinds`) and a seeded `Random`.
 *
 * @since 0.1.0
 */
export * as Testing from "./Testing.js"
