/**
 * The options of the Redis `RateLimiterStore`, described once: checks,
 * defaults, `Config` and the docs' table.
 *
 * @internal
 */
import * as Spec from "../../../internal/spec.js"
import type * as PublicStore from "../../RateLimiterStore.js"

/** @internal */
export const DEFAULT_PREFIX = "rl:"
/** @internal */
export const DEFAULT_CLOCK = "redis" as const

/** The options of `RateLimiterStore.make` (and `layer`, `layerConfig`). @internal */
export const spec = Spec.struct<PublicStore.Options>()("RateLimiterStore.make", {
  prefix: Spec.string().default(DEFAULT_PREFIX),
  clock: Spec.literal("redis", "caller").default(DEFAULT_CLOCK),
  timeout: Spec.duration().doc("the connection's command timeout")
}).readFrom("RateLimiterStore.config")

/** The options, validated, with their defaults. @internal */
export type Resolved = Spec.Resolved<typeof spec.fields>

/**
 * The default `Config` of `RateLimiterStore.layerConfig()`: the options under
 * `RATE_LIMITER_STORE_PREFIX`, `RATE_LIMITER_STORE_CLOCK` and
 * `RATE_LIMITER_STORE_TIMEOUT`.
 * @internal
 */
export const envSpec = Spec.withEnvKeys(spec, "RATE_LIMITER_STORE")

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec]
