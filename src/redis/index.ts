/**
 * effect-resilience/redis: Redis-backed stores, so that replicas share state.
 * Core never imports `ioredis`; this subpath does (an optional peer
 * dependency).
 *
 * @since 0.1.0
 */

/**
 * The shared Redis connection (scoped, with connect and command timeouts).
 *
 * @since 0.1.0
 */
export * as Redis from "./Redis.js"

/**
 * A Redis store for `Fallback.staleIfError`: last good values shared by replicas.
 *
 * @since 0.1.0
 */
export * as StaleStore from "./StaleStore.js"

/**
 * A Redis `CircuitBreakerStore` for `CircuitBreaker`: circuits shared by
 * replicas, one Lua script per operation, time from Redis `TIME`, probe
 * leases, generation fencing, transitions published to every replica.
 *
 * @since 0.1.0
 */
export * as CircuitBreakerStore from "./CircuitBreakerStore.js"

/**
 * A Redis `RateLimiterStore` for `RateLimiter`: limits shared by replicas,
 * one Lua script per decision, time from Redis `TIME`, idle keys expire.
 *
 * @since 0.1.0
 */
export * as RateLimiterStore from "./RateLimiterStore.js"

/**
 * A Redis `BulkheadStore` for `Bulkhead`: a global concurrency limit across
 * replicas, with leases that are renewed while a call runs and expire if its
 * replica dies.
 *
 * @since 0.1.0
 */
export * as BulkheadStore from "./BulkheadStore.js"

/**
 * A Redis `IdempotencyStore` for `Idempotency`: a key executes once across
 * replicas (a lock with a TTL, renewed while the effect runs); waiters on
 * other replicas get the stored `Exit`.
 *
 * @since 0.1.0
 */
export * as IdempotencyStore from "./IdempotencyStore.js"

export {
  /**
   * The prefix of every key the Redis stores write when none is given
   * (`Redis.make({ prefix })` overrides it).
   *
   * @since 0.1.0
   * @category Models
   */
  DEFAULT_KEY_PREFIX
} from "./internal/constants.js"
