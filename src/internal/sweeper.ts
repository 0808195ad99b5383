/**
 * The periodic sweep of a bounded in-memory store (the rate limiter's and
 * the idempotency policy's): a fiber in the current scope that runs `sweep`
 * every `intervalMillis` on the fiber's `Clock` (`TestClock` in tests). An
 * infinite interval starts no fiber. Never on a hot path.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Duration from "effect/Duration"
import { sleep } from "./time.js"
import * as validate from "./validate.js"

/** @internal */
export const forkSweeper = (intervalMillis: number, sweep: Effect.Effect<unknown>): Effect.Effect<void, never, Scope.Scope> =>
  Number.isFinite(intervalMillis)
    ? Effect.asVoid(Effect.forkScoped(Effect.interruptible(Effect.forever(Effect.zipRight(sleep(intervalMillis), sweep)))))
    : Effect.void

/**
 * The bounds every keyed memory store takes (`maxKeys`, `sweepInterval`),
 * validated for `module` (an infinite `sweepInterval` never sweeps).
 * @internal
 */
export const memoryBounds = (
  module: string,
  options: { readonly maxKeys?: number | undefined; readonly sweepInterval?: Duration.DurationInput | undefined },
  defaults: { readonly maxKeys: number; readonly sweepIntervalMillis: number }
): { readonly maxKeys: number; readonly sweepInterval: number } => ({
  maxKeys: validate.optionalNumber(module, "maxKeys", options.maxKeys, { min: 1, integer: true }) ?? defaults.maxKeys,
  sweepInterval: options.sweepInterval === undefined
    ? defaults.sweepIntervalMillis
    : Duration.toMillis(validate.duration(module, "sweepInterval", options.sweepInterval, { allowInfinite: true }))
})
