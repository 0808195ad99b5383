/**
 * The periodic sweep of a bounded in-memory store (the rate limiter's and
 * the idempotency policy's): a fiber in the current scope that runs `sweep`
 * every `intervalMillis` on the fiber's `Clock` (`TestClock` in tests). An
 * infinite interval starts no fiber. Never on a hot path. Also the options
 * every keyed memory store takes (`maxKeys`, `sweepInterval`), as fields of
 * its options spec.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { background } from "./detached.js"
import * as Spec from "./spec.js"
import { sleep } from "./time.js"

/** @internal */
export const forkSweeper = (intervalMillis: number, sweep: Effect.Effect<unknown>): Effect.Effect<void, never, Scope.Scope> =>
  Number.isFinite(intervalMillis)
    ? Effect.asVoid(Effect.forkScoped(background(Effect.forever(Effect.zipRight(sleep(intervalMillis), sweep)))))
    : Effect.void

/**
 * The `maxKeys` option of a keyed memory store: the most keys it holds, an
 * integer >= 1 (`defaultMaxKeys` when absent).
 * @internal
 */
export const maxKeysField = (defaultMaxKeys: number): Spec.Field<number> =>
  Spec.integer({ min: 1 }).default(defaultMaxKeys)

/**
 * The `sweepInterval` option of a keyed memory store, in milliseconds: how
 * often idle keys are deleted (`Infinity`: an infinite duration never
 * sweeps; `defaultMillis` when absent).
 * @internal
 */
export const sweepIntervalField = (defaultMillis: number): Spec.Field<number> =>
  Spec.millis({ allowInfinite: true }).default(Duration.millis(defaultMillis))
