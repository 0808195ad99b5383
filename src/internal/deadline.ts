/**
 * The deadline of the innermost enclosing timeout, propagated to inner
 * policies through a FiberRef: retry never sleeps past it, an attempt timeout
 * never outlives it, and every consumer that waits (bulkhead queue, rate
 * limiter delay, idempotency join, …) bounds its wait by the smaller of its
 * own bound and the deadline, failing with the deadline's own error when the
 * deadline comes first — so no bound depends on being interrupted (a caller
 * inside `Effect.uninterruptible` is bounded too).
 *
 * A deadline lives as long as its timeout's region: the timeout clears
 * `active` when the work it wraps ends, so fibers forked inside the region
 * that outlive it (daemons, forks into another scope) see no deadline
 * ({@link active}).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import type { TimeoutError } from "../Errors.js"
import { monotonicMillis, timeoutFail } from "./time.js"

/** @internal */
export interface Deadline {
  /** Monotonic millis (see time.ts) at which the enclosing timeout fires. */
  readonly at: number
  /** The enclosing timeout's configured duration (for its error). */
  readonly duration: Duration.Duration
  readonly policy: string | undefined
  /** The error a consumer fails with when the deadline comes first. */
  readonly error: () => TimeoutError
  /** False once the timeout's region has ended. */
  active: boolean
  /** The timeout that set the deadline: told (once per region) when the deadline ends a call. */
  readonly owner?: DeadlineOwner | undefined
  /** Set once the owner has been told. */
  reported?: boolean | undefined
  /**
   * True for a deadline that came with a request (`ResilientHttpServer`: a
   * deadline header it trusts): the caller's budget, not the library's. A
   * circuit breaker never counts a call it cuts as a failure of the
   * dependency.
   */
  readonly fromRequest?: boolean | undefined
}

/**
 * What a deadline's timeout is told when the deadline ends a call with a
 * `TimeoutError` (its events and metrics).
 *
 * @internal
 */
export interface DeadlineOwner {
  readonly timedOut: (deadline: Deadline, error: TimeoutError) => void
}

/**
 * Tells the deadline's timeout that it ended a call with `error` (once per
 * region: a deadline shared by several waits is one timeout).
 *
 * @internal
 */
export const reportExpired = (deadline: Deadline, error: TimeoutError): void => {
  if (deadline.owner !== undefined && deadline.reported !== true) {
    deadline.reported = true
    deadline.owner.timedOut(deadline, error)
  }
}

/**
 * The deadline's error, for a consumer that fails with it because the
 * deadline came first (reported to the deadline's timeout).
 *
 * @internal
 */
export const expired = (deadline: Deadline): TimeoutError => {
  const error = deadline.error()
  reportExpired(deadline, error)
  return error
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

/**
 * The deadline a fiber runs under, if its region is still running.
 *
 * @internal
 */
export const active = (deadline: Deadline | undefined): Deadline | undefined =>
  deadline !== undefined && deadline.active ? deadline : undefined

/**
 * Bounds a wait that is safe to interrupt (a join, a `Deferred`, a poll) by
 * the fiber's active deadline (use it inside `restore`, around the bare wait:
 * `restore(waitWithin(wait))`, so that the wait itself is interruptible): when the deadline comes first the wait is
 * interrupted and the caller fails with the deadline's error — inside an
 * uninterruptible region too (the wait itself is made interruptible), so the
 * bound never depends on the enclosing timeout interrupting the caller.
 * Without a deadline, `wait` as it is.
 *
 * The error type is the wait's: the deadline's `TimeoutError` is carried by
 * the enclosing timeout's type.
 *
 * @internal
 */
export const waitWithin = <A, E, R>(wait: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const deadline = active(fiber.getFiberRef(currentDeadline))
    if (deadline === undefined) return wait
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    const left = Math.max(0, deadline.at - monotonicMillis(clock))
    return timeoutFail(Effect.interruptible(wait), { duration: left, onTimeout: () => expired(deadline) }) as Effect.Effect<
      A,
      E,
      R
    >
  })

/**
 * The fiber id every timeout of the library interrupts its work with: the
 * explicit marker by which a policy inside the work (the circuit breaker)
 * tells a call cut by the library's own deadline from one interrupted by its
 * caller. No real fiber has it (real ids are positive, with a start time).
 *
 * @internal
 */
export const timeoutInterruptor: FiberId.FiberId = FiberId.make(-1, 0)

/**
 * The fiber id a request's deadline interrupts its handler with
 * (`ResilientHttpServer`, a deadline read from a header): never
 * {@link timeoutInterruptor}, so no circuit breaker takes the cut for a
 * timeout of its dependency. No real fiber has it.
 *
 * @internal
 */
export const requestDeadlineInterruptor: FiberId.FiberId = FiberId.make(-2, 0)

/**
 * True when `cause` is an interruption by a timeout of the library
 * ({@link timeoutInterruptor}).
 *
 * @internal
 */
export const isCutByTimeout = (cause: Cause.Cause<unknown>): boolean => {
  // the very id the timeouts interrupt with (a cause keeps the interruptor it was given)
  for (const id of Cause.interruptors(cause)) if (id === timeoutInterruptor) return true
  return false
}
