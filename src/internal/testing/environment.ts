/**
 * `Testing.withSeed` and `Testing.withSteppedWallClock`: a seeded `Random`,
 * and a wall clock that steps while monotonic time and sleeps do not.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import type * as Testing from "../../Testing.js"
import { wallClockStep } from "./options.js"

/** @internal */
export const withSeed = (seed: unknown) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => Effect.withRandom(self, Random.make(seed)))

/**
 * A clock whose wall time is the wrapped clock's plus an offset; nanos,
 * sleeps and everything else (`TestClock`'s `adjust`, `sleeps`, … included)
 * are the wrapped clock's, called on it.
 */
const steppedClock = (base: Clock.Clock, offset: () => number): Clock.Clock => {
  const currentTimeMillis = Effect.sync(() => base.unsafeCurrentTimeMillis() + offset())
  const unsafeCurrentTimeMillis = () => base.unsafeCurrentTimeMillis() + offset()
  return new Proxy(base, {
    get(target, property) {
      if (property === "unsafeCurrentTimeMillis") return unsafeCurrentTimeMillis
      if (property === "currentTimeMillis") return currentTimeMillis
      const value = Reflect.get(target, property, target)
      return typeof value === "function" ? value.bind(target) : value
    }
  })
}

/**
 * The stepping wall clock's state (its offset from the clock it wraps) and
 * the controls handed to the test.
 *
 * @internal
 */
class SteppedWallClock implements Testing.WallClockSteps {
  private millis = 0
  private readonly read: Effect.Effect<number> = Effect.sync(() => this.millis)
  readonly clock: Clock.Clock

  constructor(base: Clock.Clock) {
    this.clock = steppedClock(base, () => this.millis)
  }

  // arrow members: they keep working when taken off the controls (`({ back }) => …`)
  readonly back = (duration: Duration.DurationInput): Effect.Effect<void> => this.step(-1, duration)
  readonly forward = (duration: Duration.DurationInput): Effect.Effect<void> => this.step(1, duration)
  readonly offset = (): Effect.Effect<number> => this.read
  readonly unsafeOffset = (): number => this.millis

  // an invalid step throws InvalidOptionsError where it is written, as pure constructors do
  private step(sign: 1 | -1, duration: Duration.DurationInput): Effect.Effect<void> {
    const millis = Duration.toMillis(wallClockStep.props.parse("Testing.withSteppedWallClock", "step", duration))
    return Effect.sync(() => {
      this.millis += sign * millis
    })
  }
}

/** @internal */
export const withSteppedWallClock = <A, E, R>(
  f: (wall: Testing.WallClockSteps) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.clockWith((base) => {
    const wall = new SteppedWallClock(base)
    return Effect.withClock(Effect.suspend(() => f(wall)), wall.clock)
  })
