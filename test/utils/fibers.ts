/**
 * Waiting for forked fibers in tests.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"

/** Yields until `condition` holds (a fiber we forked has reached a known point); fails after 10,000 yields. */
export const until = (condition: () => boolean, label = "condition") =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      if (condition()) return
      yield* Effect.yieldNow()
    }
    assert.fail(`timed out waiting for ${label}`)
  })

/** Re-reads `read` until `done` holds, yielding in between (no time passes); fails after 1,000 reads. */
export const eventually = <A>(read: Effect.Effect<A>, done: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      const a = yield* read
      if (done(a)) return a
      yield* Effect.yieldNow()
    }
    return assert.fail("condition not reached")
  })

/** Lets forked fibers get going: 20 yields (no time passes). */
export const settle = Effect.repeatN(Effect.yieldNow(), 20)
