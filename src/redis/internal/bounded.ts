/**
 * The one way a Redis store bounds its own operations.
 *
 * A store operation often runs inside an uninterruptible region (its outcome
 * must not be lost: an acquired lease, a completion, a release), or is
 * called by an uninterruptible caller. There, `Effect.timeoutFail(command)`
 * cannot cut the command: the timeout interrupts the command's fiber, which
 * inherited the region's uninterruptibility, and waits for it — i.e. for the
 * connection's command timeout (500 ms by default) instead of the store's own
 * `timeout`. {@link bounded} runs the command and its timeout in a fiber of
 * its own, made interruptible, and joins it: the store's timeout cuts the
 * command wherever it is called from, while a caller's interruption still
 * waits for the outcome when the caller is uninterruptible (as the breaker's
 * `shielded` does).
 *
 * That fiber is a daemon, not a child ({@link ownIO}): Effect 3 sends a fiber's interruption
 * to its children at once, even while the fiber itself is uninterruptible, so
 * a child would be cut when its caller is interrupted and the outcome the
 * uninterruptible region protects (a lease taken in Redis, say) would be
 * lost. An interruptible caller needs no extra fiber: the timeout cuts the
 * command directly, and the caller's interruption interrupts it.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { ownIO } from "../../internal/detached.js"
import { timeoutFail } from "../../internal/time.js"
import { RedisError } from "./redis.js"

/**
 * Runs `command` bounded by `timeout` (the store's own; `undefined`: only the
 * connection's command timeout bounds it), failing with a `RedisError` for
 * `operation` when it passes — in every region, uninterruptible included.
 *
 * @internal
 */
export const bounded = <A>(
  operation: string,
  timeout: Duration.Duration | undefined,
  command: Effect.Effect<A, RedisError>
): Effect.Effect<A, RedisError> => {
  const timed = timeout === undefined ? command : timeoutFail(command, {
    duration: timeout,
    onTimeout: () => new RedisError({ operation, cause: new Error(`timeout (${Duration.format(timeout)})`) })
  })
  return ownIO(timed)
}
