/**
 * The rate limiter's options and its memory store's, described once:
 * checks, defaults, `Config` and the docs' table.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type { InvalidOptionsError } from "../../Errors.js"
import type * as RL from "../../RateLimiter.js"
import * as Keys from "../keys.js"
import * as Spec from "../spec.js"
import { maxKeysField, sweepIntervalField } from "../sweeper.js"
import * as validate from "../validate.js"

/** @internal */
export const DEFAULT_NAME = "rate-limiter"
/** @internal */
export const DEFAULT_ALGORITHM = "token-bucket" as const
/** @internal */
export const DEFAULT_ON_EXCEEDED = "fail" as const
/** @internal */
export const DEFAULT_COST = 1
/** @internal */
export const DEFAULT_ON_STORE_ERROR = "fail" as const
/** @internal */
export const DEFAULT_METRICS_INTERVAL = Duration.seconds(1)

/** The memory store's default `maxKeys`. @internal */
export const DEFAULT_MAX_KEYS = 100_000
/** The memory store's default `sweepInterval` (1 minute). @internal */
export const DEFAULT_SWEEP_INTERVAL_MILLIS = 60_000

/**
 * `cost`: an integer in `[1, limit]`, so it is checked with `limit`, after
 * every field (in the spec's `refine`); the field only carries its default,
 * its `Config` and its docs.
 */
const costField: Spec.Field<number> = (() => {
  const f = Spec.integer({ min: 1 }).default(DEFAULT_COST)
  return new Spec.Field<number>({ ...f.props, expected: "an integer >= 1 and <= limit", parse: (_m, _o, v) => v as number })
})()

/**
 * The options of `RateLimiter.make`, described once. Every option is data:
 * `RateLimiter.config` reads them all (the store comes from the context).
 *
 * @internal
 */
export const spec = Spec.struct<RL.RateLimiter.Options>()("RateLimiter.make", {
  limit: Spec.integer({ min: 1 }).required(),
  window: Spec.duration().required(),
  algorithm: Spec.literal("token-bucket", "fixed-window").default(DEFAULT_ALGORITHM),
  onExceeded: Spec.literal("fail", "delay").default(DEFAULT_ON_EXCEEDED),
  cost: costField,
  // absent: unbounded in "delay" mode (Duration.infinity), zero in "fail" mode
  maxDelay: Spec.duration({ allowZero: true, allowInfinite: true }).doc("unbounded (\"delay\" only)"),
  onStoreError: Spec.literal("fail", "allow").default(DEFAULT_ON_STORE_ERROR),
  name: Spec.string().default(DEFAULT_NAME),
  metricsInterval: Spec.duration({ allowInfinite: true }).default(DEFAULT_METRICS_INTERVAL),
  maxKeyLength: Keys.maxKeyLengthField
}, (r, options, m) => {
  validate.number(m, "cost", r.cost, { min: 1, max: r.limit, integer: true })
  if (r.maxDelay !== undefined && r.onExceeded !== "delay") {
    throw validate.invalid(m, "maxDelay", options.maxDelay, "no maxDelay unless onExceeded is \"delay\"")
  }
}).readFrom("RateLimiter.config")

/** Validates `RateLimiter.make`'s options and applies the defaults; throws `InvalidOptionsError`. @internal */
export const resolve = (options: RL.RateLimiter.Options): RL.RateLimiter.Resolved => {
  const r = spec.resolve(options)
  return {
    limit: r.limit,
    window: r.window,
    algorithm: r.algorithm,
    onExceeded: r.onExceeded,
    cost: r.cost,
    maxDelay: r.onExceeded === "fail" ? Duration.zero : r.maxDelay ?? Duration.infinity,
    onStoreError: r.onStoreError,
    name: r.name,
    metricsInterval: r.metricsInterval,
    maxKeyLength: r.maxKeyLength
  }
}

/**
 * The options of the memory store (`RateLimiter.makeStoreMemory`,
 * `RateLimiter.layerStoreMemory`).
 *
 * @internal
 */
export const memoryStoreSpec = Spec.struct<RL.MemoryStoreOptions>()("RateLimiter.makeStoreMemory", {
  maxKeys: maxKeysField(DEFAULT_MAX_KEYS),
  sweepInterval: sweepIntervalField(DEFAULT_SWEEP_INTERVAL_MILLIS)
})

/**
 * The cost of one `execute` call: the limiter's when not given, else an
 * integer in `[1, limit]`; anything else is returned as the error to die
 * with (a cost no call can ever get is a programming error, not a
 * rejection).
 *
 * @internal
 */
export const costOf = (cfg: RL.RateLimiter.Resolved, cost: number | undefined): number | InvalidOptionsError => {
  if (cost === undefined) return cfg.cost
  if (typeof cost === "number" && Number.isInteger(cost) && cost >= 1 && cost <= cfg.limit) return cost
  return validate.invalid("RateLimiter.execute", "cost", cost, `an integer >= 1 and <= ${cfg.limit} (the limit)`)
}

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec, memoryStoreSpec]
