/**
 * A synchronous "on exit" hook as ONE frame of the fiber's stack: the hot
 * path of a permit that must be given back however its call ends.
 *
 * Giving a permit back when the call is interrupted takes, with Effect's
 * public combinators, an uninterruptible region around the acquisition and
 * an exit handler (`uninterruptibleMask(restore => matchCauseEffect(restore(self), …))`):
 * five steps of the fiber's run loop besides the call, each about as costly as
 * cockatiel's whole bulkhead. An {@link ExitFrame} is pushed on the running
 * fiber's stack just before the call starts, in the same synchronous step as
 * the acquisition; the runtime pops it when the call ends, on success, on
 * failure and on interruption alike, and calls its hook then.
 *
 * It leans on how Effect 3's fiber runtime treats a `RevertFlags` frame (the
 * frame `Effect.uninterruptible` and `interruptible` push to restore the
 * runtime flags): it is popped on the success path and on the failure path
 * (interruption included — unlike `OnFailure` frames, which an interrupted
 * fiber skips), and both read its `patch` exactly once. The frame's `patch`
 * is a getter that runs the hook and answers the empty patch, so the flags
 * are left as they are. {@link supported} checks exactly that once per
 * process on probe runs (success, typed failure, defect, a run that
 * suspends, an interrupted suspended run, a self-interruption, an
 * uninterruptible caller); callers take their general path (public
 * combinators only) when it fails.
 *
 * A frame is stateless apart from its hook: one frame may be pushed on many
 * fibers at once, each pop runs the hook once.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"

/** The empty runtime-flags patch (`RuntimeFlagsPatch.empty`): reverting it changes nothing. */
const EMPTY_PATCH = 0

/**
 * A continuation frame whose hook runs once each time the fiber runtime pops
 * it (the effect under it ended, however). Push it with {@link push}.
 * @internal
 */
export class ExitFrame {
  readonly _op = "RevertFlags"
  constructor(readonly onExit: () => void) {}
  /** Read by the fiber runtime exactly once when it pops the frame. */
  get patch(): number {
    this.onExit()
    return EMPTY_PATCH
  }
}

/** The fiber's methods this module relies on (not part of `Fiber.RuntimeFiber`'s interface). */
interface Stack {
  pushStack(frame: unknown): void
}

/** The fiber running now, as `Fiber.getCurrentFiber()` reads it, without the `Option`. */
const currentFiber = (): Stack | undefined => (globalThis as unknown as Record<string, Stack | undefined>)[CURRENT_FIBER]
const CURRENT_FIBER = "effect/FiberCurrent"

/**
 * Pushes `frame` on the running fiber's stack: the effect the caller hands
 * the runtime next (in the same synchronous step) runs above it. Only from
 * code the runtime runs on the fiber (a `commit`), and only when
 * {@link supported}. False when no fiber is running (nothing pushed).
 * @internal
 */
export const push = (frame: ExitFrame): boolean => {
  const fiber = currentFiber()
  // Stryker disable next-line ConditionalExpression: equivalent: the runtime always runs a fiber's effects with the fiber current
  if (fiber === undefined) return false
  fiber.pushStack(frame)
  return true
}

let checked: boolean | undefined

/**
 * True when the fiber runtime pops an {@link ExitFrame} as this module
 * expects (checked once per process); false makes callers take their general
 * path.
 * @internal
 */
export const supported = (): boolean => (checked ??= probe(defaultFrame))

/** Overrides {@link supported} (tests of the general path); `undefined` checks again. @internal */
export const setSupported = (value: boolean | undefined): void => {
  checked = value
}

/** A probe run: pushes the frame, then runs `self` on it. */
class ProbeCall<A, E> extends Effectable.Class<A, E> {
  constructor(readonly frame: ExitFrame, readonly self: Effect.Effect<A, E>) {
    super()
  }
  commit(): Effect.Effect<A, E> {
    if (!push(this.frame)) throw new Error("no current fiber")
    return this.self
  }
}

const defaultFrame = (hook: () => void): ExitFrame => new ExitFrame(hook)

/**
 * The probe behind {@link supported}, with the frame `makeFrame` builds around its hook (tests
 * give it frames a runtime would mishandle, and see it answer false).
 * @internal
 */
export const probe = (makeFrame: (hook: () => void) => ExitFrame): boolean => {
  try {
    let exits = 0
    const frame = makeFrame(() => {
      exits++
    })
    const call = <A, E>(self: Effect.Effect<A, E>) => Effect.exit(new ProbeCall(frame, self))
    const interrupted = Effect.gen(function*() {
      const started = yield* Effect.makeLatch(false)
      const fiber = yield* Effect.fork(new ProbeCall(frame, Effect.zipRight(started.open, Effect.never)))
      yield* started.await
      return yield* Fiber.interrupt(fiber)
    })
    const results = Effect.runSync(Effect.all([
      call(Effect.succeed("ok")),
      call(Effect.fail("boom")),
      call(Effect.die("defect")),
      call(Effect.async<string>((resume) => resume(Effect.succeed("async")))),
      interrupted,
      call(Effect.interrupt),
      // an uninterruptible caller: the frame still pops once, the flags are left as they were
      Effect.exit(Effect.uninterruptible(new ProbeCall(frame, Effect.map(Effect.checkInterruptible(Effect.succeed), String))))
    ]))
    const shape = results.map((exit) =>
      Exit.match(exit, {
        onSuccess: (a) => `ok:${a}`,
        onFailure: (cause) =>
          cause._tag === "Fail" ? `fail:${cause.error}` : Cause.isInterruptedOnly(cause) ? "Interrupt" : cause._tag
      })
    )
    return exits === 7 &&
      shape.join(",") === "ok:ok,fail:boom,Die,ok:async,Interrupt,Interrupt,ok:false"
  } catch {
    return false
  }
}
