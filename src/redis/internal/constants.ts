/**
 * Constants shared by the Redis stores.
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
