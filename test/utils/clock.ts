import { Chunk, Duration, Effect, Exit, Fiber, TestClock } from "effect"

/**
 * Runs `effect` on a fork and drives the TestClock until it completes: each
 * step jumps to the earliest pending sleep (or by `step` when nothing sleeps),
 * so long backoffs cost a handful of steps, not one per millisecond.
 */
export const runWithClock = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly step?: Duration.DurationInput; readonly maxSteps?: number } = {}
): Effect.Effect<Exit.Exit<A, E>, never, R> =>
  Effect.gen(function*() {
    const step = Duration.decode(options.step ?? "1 millis")
    const maxSteps = options.maxSteps ?? 1_000_000
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < maxSteps; i++) {
      yield* Effect.yieldNow()
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") return done.value
      const sleeps = yield* TestClock.sleeps()
      if (Chunk.isNonEmpty(sleeps)) {
        const now = yield* TestClock.currentTimeMillis
        const next = Math.min(...Chunk.toReadonlyArray(sleeps))
        yield* TestClock.adjust(Duration.millis(Math.max(next - now, 0)))
      } else {
        yield* TestClock.adjust(step)
      }
    }
    return yield* Fiber.await(fiber)
  })
