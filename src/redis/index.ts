/**
 * effect-resilience/redis: Redis-backed stores, so replicas share state.
 *
 * The stores arrive with the distributed issue; this entry point already
 * resolves so that imports can be written against it. Core never imports
 * `ioredis`; this subpath is where it will be used.
 *
 * @since 0.1.0
 */

/**
 * The default key prefix of every key the Redis stores write, so that
 * applications sharing a Redis can be isolated by choosing another prefix.
 *
 * @since 0.1.0
 * @category Models
 */
export const DEFAULT_KEY_PREFIX = "effect-resilience:"
