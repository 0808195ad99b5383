/**
 * The deadline of the innermost enclosing timeout, propagated to inner
 * policies through a FiberRef: retry never sleeps past it, and an attempt
 * timeout never outlives it.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as FiberRef from "effect/FiberRef"

/** @internal */
export interface Deadline {
  /** Epoch millis (from `Clock`) at which the enclosing timeout fires. */
  readonly at: number
  /** The enclosing timeout's configured duration (for its error). */
  readonly duration: Duration.Duration
  readonly policy: string | undefined
}

/**
 * Joining a child's FiberRefs (`Fiber.join`, `inheritAll`) keeps the
 * parent's deadline: a deadline is scoped to the region a timeout wraps and
 * must never leak out of it into the caller.
 *
 * @internal
 */
export const currentDeadline: FiberRef.FiberRef<Deadline | undefined> = FiberRef.unsafeMake<Deadline | undefined>(
  undefined,
  { join: (parent) => parent }
)
