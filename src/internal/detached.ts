/**
 * Effects that an uninterruptible caller's interruption must not cut.
 *
 * Effect 3 interrupts a fiber's children as soon as the fiber is
 * interrupted, even while the fiber itself is uninterruptible (it defers
 * only its own interruption). So anything a policy forks on the caller's
 * fiber — a race's timer, a timeout's work, a hedge's attempts and timer, a
 * wait made interruptible so that its bound can cut it — is cut from under
 * an uninterruptible caller the moment the caller is interrupted: a dead
 * timer read as "time is up" (a `TimeoutError` for a call that succeeded in
 * time), a bounded wait ended early with an interruption, a hedge never
 * started. {@link detached} runs such an effect on a fiber of its own
 * there, so the region gets the answer it would have had without the
 * interruption, as Effect's own `Effect.timeout` does for its timer.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

/**
 * Runs `self` on a daemon fiber and joins it: the daemon inherits the
 * caller's runtime flags (uninterruptible stays uninterruptible) and
 * FiberRefs, hands its FiberRefs back on `join`, and is not the caller's
 * child, so the caller's interruption does not reach it; the caller waits
 * for its outcome.
 *
 * @internal
 */
export const onDaemon = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  // the caller's flags, on purpose: the caller joins it
  // eslint-disable-next-line no-restricted-syntax
  Effect.flatMap(Effect.forkDaemon(self), Fiber.join)

/**
 * `self` as it is in an interruptible region (the caller's interruption
 * interrupts it, as it should); {@link onDaemon} in an uninterruptible one.
 *
 * @internal
 */
export const detached = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.checkInterruptible((interruptible) => interruptible ? self : onDaemon(self))

/**
 * The library's own I/O (a Redis command, an HTTP exchange, a body read),
 * run so that its own bounds cut it in any region: as it is in an
 * interruptible region; in an uninterruptible one, made interruptible on a
 * daemon fiber the caller joins — its timeouts can interrupt it there, the
 * caller's interruption does not reach it (the caller waits for its outcome,
 * as an uninterruptible region asks). Never for the user's own effect, whose
 * interruptibility is the caller's to choose.
 *
 * @internal
 */
export const ownIO = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.checkInterruptible((interruptible) => interruptible ? self : onDaemon(Effect.interruptible(self)))

/**
 * A fiber of the library's own that lives as long as a scope (a publisher,
 * a sweeper, a monitor, a poller, a renewal loop): made interruptible, so
 * that closing its scope stops it whatever region forked it. A forked fiber
 * inherits the runtime flags of the fiber that forks it, and a policy or a
 * layer is often built inside an uninterruptible region — the acquire of
 * `Effect.acquireRelease`, a Layer provided from inside
 * `Effect.uninterruptible` — where a loop forked as it is could never be
 * interrupted: the scope's close, which interrupts it and waits, would hang.
 * Every `forkScoped`, `forkIn`, `forkDaemon` or `Runtime.runFork` of the
 * library's own work goes through it; the user's work keeps the caller's
 * flags.
 *
 * @internal
 */
export const background = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.interruptible(self)
