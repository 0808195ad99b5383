/**
 * The options of the Redis `CircuitBreakerStore`, described once: checks,
 * defaults, `Config` and the docs' table.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Spec from "../../../internal/spec.js"
import type * as PublicStore from "../../CircuitBreakerStore.js"

/** @internal */
export const DEFAULT_IDLE_TIME_TO_LIVE = Duration.hours(1)
/** @internal */
export const DEFAULT_CLOCK = "redis" as const

/** The options of `CircuitBreakerStore.make` (and `layer`, `layerConfig`). @internal */
export const spec = Spec.struct<PublicStore.Options>()("CircuitBreakerStore.make", {
  timeout: Spec.duration().doc("the connection's command timeout"),
  clock: Spec.literal("redis", "caller").default(DEFAULT_CLOCK),
  // a key's TTL in whole milliseconds, at least 1
  idleTimeToLive: Spec.duration().map((d) => Math.max(1, Math.ceil(Duration.toMillis(d!)))).default(
    DEFAULT_IDLE_TIME_TO_LIVE,
    "1 hour"
  )
}).readFrom("CircuitBreakerStore.config")

/** The options, validated, with their defaults (`idleTimeToLive` in milliseconds). @internal */
export type Resolved = Spec.Resolved<typeof spec.fields>

/**
 * The default `Config` of `CircuitBreakerStore.layerConfig()`: the options
 * under `CIRCUIT_BREAKER_STORE_CLOCK`, `CIRCUIT_BREAKER_STORE_IDLE_TTL` and
 * `CIRCUIT_BREAKER_STORE_TIMEOUT`.
 * @internal
 */
export const envSpec: Spec.Spec<any> = (() => {
  const env = Spec.withEnvKeys(spec, "CIRCUIT_BREAKER_STORE")
  return new Spec.Spec(
    env.module,
    { ...env.fields, idleTimeToLive: env.fields.idleTimeToLive.key("CIRCUIT_BREAKER_STORE_IDLE_TTL") },
    env.refine,
    env.configName
  )
})()

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec]
