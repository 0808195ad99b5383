/**
 * The options of the Redis `IdempotencyStore`, described once: checks,
 * defaults, `Config` and the docs' table.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Spec from "../../../internal/spec.js"
import type * as PublicStore from "../../IdempotencyStore.js"

/** @internal */
export const DEFAULT_PREFIX = "idem:"
/** @internal */
export const DEFAULT_LOCK_TTL = Duration.seconds(30)
/** @internal */
export const DEFAULT_POLL_INTERVAL = Duration.millis(100)
/** @internal */
export const DEFAULT_ON_STORE_ERROR = "fail" as const
/** @internal */
export const DEFAULT_CLOCK = "redis" as const
/** The default `maxValueBytes`: 1 MiB. @internal */
export const DEFAULT_MAX_VALUE_BYTES = 1_048_576

/** The options of `IdempotencyStore.make` (and `layer`, `layerConfig`). @internal */
export const spec = Spec.struct<PublicStore.Options>()("IdempotencyStore.make", {
  lockTtl: Spec.duration().default(DEFAULT_LOCK_TTL),
  pollInterval: Spec.duration().default(DEFAULT_POLL_INTERVAL),
  onStoreError: Spec.literal("allow", "fail").default(DEFAULT_ON_STORE_ERROR),
  clock: Spec.literal("redis", "caller").default(DEFAULT_CLOCK),
  timeout: Spec.duration().doc("the connection's command timeout"),
  prefix: Spec.string().default(DEFAULT_PREFIX),
  maxValueBytes: Spec.integer({ min: 1 }).default(DEFAULT_MAX_VALUE_BYTES)
}).readFrom("IdempotencyStore.config")

/** The options, validated, with their defaults. @internal */
export type Resolved = Spec.Resolved<typeof spec.fields>

/**
 * The default `Config` of `IdempotencyStore.layerConfig()`: the options under
 * `IDEMPOTENCY_STORE_LOCK_TTL`, `IDEMPOTENCY_STORE_POLL_INTERVAL`, …
 * @internal
 */
export const envSpec = Spec.withEnvKeys(spec, "IDEMPOTENCY_STORE")

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec]
