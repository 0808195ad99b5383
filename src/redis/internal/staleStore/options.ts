/**
 * The options of the Redis `StaleStore`, described once: checks, defaults,
 * `Config` and the docs' table.
 *
 * @internal
 */
import * as Spec from "../../../internal/spec.js"
import type * as PublicStore from "../../StaleStore.js"

/** The default `maxValueBytes`: 1 MiB. @internal */
export const DEFAULT_MAX_VALUE_BYTES = 1_048_576
/** @internal */
export const DEFAULT_CLOCK = "redis" as const

/** The options of `StaleStore.make` (and `layer`, `layerConfig`). @internal */
export const spec = Spec.struct<PublicStore.Options>()("StaleStore.make", {
  maxValueBytes: Spec.integer({ min: 1 }).default(DEFAULT_MAX_VALUE_BYTES),
  timeout: Spec.duration().doc("the connection's command timeout"),
  clock: Spec.literal("redis", "caller").default(DEFAULT_CLOCK)
}).readFrom("StaleStore.config")

/** The options, validated, with their defaults. @internal */
export type Resolved = Spec.Resolved<typeof spec.fields>

/**
 * The default `Config` of `StaleStore.layerConfig()`: the options under
 * `STALE_STORE_MAX_VALUE_BYTES`, `STALE_STORE_TIMEOUT` and
 * `STALE_STORE_CLOCK`.
 * @internal
 */
export const envSpec = Spec.withEnvKeys(spec, "STALE_STORE")

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec]
