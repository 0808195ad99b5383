/**
 * The options of the Redis `BulkheadStore`, described once: checks,
 * defaults, `Config` and the docs' table.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Spec from "../../../internal/spec.js"
import * as validate from "../../../internal/validate.js"
import type * as PublicStore from "../../BulkheadStore.js"

/** @internal */
export const DEFAULT_PREFIX = "bulkhead:"
/** @internal */
export const DEFAULT_LEASE_TTL = Duration.seconds(10)
/** @internal */
export const DEFAULT_POLL_INTERVAL = Duration.millis(100)
/** @internal */
export const DEFAULT_CLOCK = "redis" as const
/** The longest lease: its expiry (now + ttl, in ms) must stay an exact integer for the scripts' PEXPIRE and ZADD. */
const MAX_LEASE_TTL_MILLIS = Number.MAX_SAFE_INTEGER

const LEASE_TTL = `a finite duration > 0 and <= ${MAX_LEASE_TTL_MILLIS} millis`

/** `leaseTtl`: a finite duration > 0 whose milliseconds stay exact. */
const leaseTtlField: Spec.Field<Duration.Duration> = (() => {
  const f = Spec.duration().default(DEFAULT_LEASE_TTL)
  const parse = f.props.parse
  return new Spec.Field<Duration.Duration>({
    ...f.props,
    expected: LEASE_TTL,
    parse: (m, o, v) => {
      const ttl = parse(m, o, v)
      if (Duration.toMillis(ttl) > MAX_LEASE_TTL_MILLIS) throw validate.invalid(m, o, v, LEASE_TTL)
      return ttl
    }
  })
})()

/** The options of `BulkheadStore.make` (and `layer`, `layerConfig`). @internal */
export const spec = Spec.struct<PublicStore.Options>()("BulkheadStore.make", {
  leaseTtl: leaseTtlField,
  pollInterval: Spec.duration().default(DEFAULT_POLL_INTERVAL),
  localMaxConcurrent: Spec.integer({ min: 1 }).doc("each bulkhead's maxConcurrent"),
  clock: Spec.literal("redis", "caller").default(DEFAULT_CLOCK),
  timeout: Spec.duration().doc("the connection's command timeout"),
  prefix: Spec.string().default(DEFAULT_PREFIX)
}).readFrom("BulkheadStore.config")

/** The options, validated, with their defaults. @internal */
export type Resolved = Spec.Resolved<typeof spec.fields>

/**
 * The default `Config` of `BulkheadStore.layerConfig()`: the options under
 * `BULKHEAD_STORE_LEASE_TTL`, `BULKHEAD_STORE_POLL_INTERVAL`, …
 * @internal
 */
export const envSpec = Spec.withEnvKeys(spec, "BULKHEAD_STORE")

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec]
