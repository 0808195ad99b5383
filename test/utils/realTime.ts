/**
 * Waiting on real time, for what only real I/O advances (a real socket, a real
 * redis-server) — under any `Clock`, `TestClock` included. Never a way to let
 * fibers reach a point: signal that with a `Deferred` instead.
 */
import { Effect } from "effect"

/** Waits `millis` of real time (whatever the Clock): for polling real I/O under TestClock. */
export const realSleep = (millis: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

/**
 * Polls `condition` every 5 ms of real time until it holds: for state reached through real sockets
 * or processes. Fails after `attempts` polls (10 s by default) instead of hanging the test.
 */
export const pollUntil = <E, R>(condition: Effect.Effect<boolean, E, R>, attempts = 2_000): Effect.Effect<void, E, R> =>
  Effect.flatMap(condition, (ok) =>
    ok
      ? Effect.void
      : attempts <= 1
      ? Effect.dieMessage("pollUntil: the condition did not hold within its polls")
      : Effect.zipRight(realSleep(5), pollUntil(condition, attempts - 1)))
