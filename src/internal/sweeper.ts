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
import { sleep } from "./time.js"

/** @internal */
export const forkSweeper = (intervalMillis: number, sweep: Effect.Effect<unknown>): Effect.Effect<void, never, Scope.Scope> =>
  Number.isFinite(intervalMillis)
    ? Effect.asVoid(Effect.forkScoped(Effect.interruptible(Effect.forever(Effect.zipRight(sleep(intervalMillis), sweep)))))
    : Effect.void
