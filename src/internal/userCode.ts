/**
 * Calling user code: every function a user hands the library (hooks,
 * predicates, classifiers, key functions, selectors, factories) is called
 * through this module, so that a throw, a malformed answer or an effectful
 * hook that never ends is reported and replaced by the documented safe
 * default of that option — never a defect in the caller's call, never a
 * hang, never a wedged state.
 *
 * - **Cheap success path.** {@link predicate} and {@link call} are a
 *   `try`/`catch` around a direct call and one type check of the answer: no
 *   allocation, no Effect, when the user's function behaves.
 * - **Reported.** Each failure counts one in the counter
 *   `resilience_user_code_failures` (labels `module`, `policy` = the policy's
 *   name, `hook` = the option, `kind` = `throw` | `failure` | `malformed` |
 *   `timeout`) and logs a warning through the calling fiber's Effect loggers
 *   (annotated with the same labels; never `console`). The log is written
 *   synchronously through the current fiber's loggers, so a guard needs no
 *   Effect of its own; to bound log volume a site logs its 1st, 2nd, 4th,
 *   8th, … failure (the metric counts every one).
 * - **Bounded hooks.** An effectful hook ({@link awaitHook}, {@link alongside})
 *   runs in a fiber of its own, started on the caller's stack (a hook that
 *   completes without suspending costs no timer and no scheduler hop),
 *   interruptible whatever the caller's region, bounded by the caller's bound
 *   on the caller's clock; at the bound it is interrupted in the background
 *   (never awaited: an uninterruptible hook cannot hold the caller) and reported
 *   as a `timeout`. Interrupting the caller interrupts the hook.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as RuntimeFlags from "effect/RuntimeFlags"
import { background } from "./detached.js"
import * as time from "./time.js"

/** How user code failed. @internal */
export type FailureKind = "throw" | "failure" | "malformed" | "timeout"

/**
 * The bound of an effectful hook that has no option of its own (an effectful
 * `classify`, a `Chaos` `enabled` Effect, a registry entry's `info`): 1 second.
 * @internal
 */
export const DEFAULT_HOOK_TIMEOUT_MILLIS = 1_000

/** The name of the counter of user-code failures. @internal */
export const METRIC_NAME = "resilience_user_code_failures"

const failures = Metric.counter(METRIC_NAME, {
  description: "Calls into user code (hooks, predicates, classifiers) that threw, failed, answered nonsense or timed out",
  incremental: true
})

/** One place the library calls user code. @internal */
export interface Site {
  readonly module: string
  readonly policy: string
  readonly hook: string
  /** What the library does instead (the safe default), for the log. */
  readonly otherwise: string
  /** Failures so far (for log throttling). */
  count: number
}

/**
 * A call site: `module` (`"Retry"`), the policy's name, the option
 * (`"while"`), and the safe default in words (`"not retried"`).
 * @internal
 */
export const site = (module: string, policy: string, hook: string, otherwise: string): Site => ({
  module,
  policy,
  hook,
  otherwise,
  count: 0
})

const KIND_TEXT: Record<FailureKind, string> = {
  throw: "threw",
  failure: "failed",
  malformed: "answered a value of the wrong type",
  timeout: "did not complete within its bound"
}

const describe = (u: unknown): string => {
  if (u === null) return "null"
  if (Effect.isEffect(u)) return "an Effect"
  if (typeof u === "object") return Array.isArray(u) ? "an array" : "an object"
  return typeof u
}

/**
 * Counts a failure of user code and logs a warning through the current
 * fiber's loggers (nothing is logged outside a fiber; the metric still
 * counts). Never throws.
 * @internal
 */
export const report = (s: Site, kind: FailureKind, detail: unknown): void => {
  try {
    failures.unsafeUpdate(1, [
      MetricLabel.make("module", s.module),
      MetricLabel.make("policy", s.policy),
      MetricLabel.make("hook", s.hook),
      MetricLabel.make("kind", kind)
    ])
    const n = ++s.count
    // the 1st, 2nd, 4th, 8th, … failure of a site is logged
    if ((n & (n - 1)) !== 0) return
    const current = Fiber.getCurrentFiber()
    if (Option.isNone(current)) return
    const fiber = current.value
    if (LogLevel.greaterThan(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), LogLevel.Warning)) return
    const loggers = fiber.getFiberRef(FiberRef.currentLoggers)
    if (HashSet.size(loggers) === 0) return
    const what = kind === "malformed" ? ` (${describe(detail)})` : ""
    const message = `${s.module} ${JSON.stringify(s.policy)}: ${s.hook} ${KIND_TEXT[kind]}${what}; ${s.otherwise}` +
      (n > 1 ? ` (failure ${n} of this ${s.hook})` : "")
    const annotations = fiber.getFiberRef(FiberRef.currentLogAnnotations).pipe(
      HashMap.set("module", s.module as unknown),
      HashMap.set("policy", s.policy as unknown),
      HashMap.set("hook", s.hook as unknown),
      HashMap.set("kind", kind as unknown)
    )
    const cause = kind === "throw" ? Cause.die(detail) : kind === "failure" ? Cause.fail(detail) : Cause.empty
    // a reported timestamp (shown to people): wall time, as Effect's own loggers use
    const clock = Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock)
    const options = {
      fiberId: fiber.id(),
      logLevel: LogLevel.Warning,
      message,
      cause,
      context: fiber.getFiberRefs(),
      spans: fiber.getFiberRef(FiberRef.currentLogSpan),
      annotations,
      date: new Date(clock.unsafeCurrentTimeMillis())
    }
    for (const logger of loggers) logger.log(options)
  } catch {
    // a failing logger must not break the call either
  }
}

/**
 * Calls a user predicate. A throw or an answer that is not a boolean is
 * reported and answered by `fallback` (the option's safe default).
 * @internal
 */
export const predicate = <A>(s: Site, f: (a: A) => unknown, a: A, fallback: boolean): boolean => {
  let answer: unknown
  try {
    answer = f(a)
  } catch (e) {
    report(s, "throw", e)
    return fallback
  }
  if (answer === true || answer === false) return answer
  report(s, "malformed", answer)
  return fallback
}

/**
 * Calls a user function whose answer must satisfy `isValid`. A throw or an
 * invalid answer is reported and replaced by `fallback(a)`.
 * @internal
 */
export const call = <A, B>(
  s: Site,
  f: (a: A) => unknown,
  a: A,
  isValid: (u: unknown) => u is B,
  fallback: (a: A) => B
): B => {
  let answer: unknown
  try {
    answer = f(a)
  } catch (e) {
    report(s, "throw", e)
    return fallback(a)
  }
  if (isValid(answer)) return answer
  report(s, "malformed", answer)
  return fallback(a)
}

/** The verdict on a hook's exit (reported when it is not a valid answer). */
const answer = <A>(s: Site, exit: Exit.Exit<unknown, unknown>, isValid: (u: unknown) => u is A, fallback: () => A): A => {
  if (Exit.isSuccess(exit)) {
    if (isValid(exit.value)) return exit.value
    report(s, "malformed", exit.value)
    return fallback()
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && !Cause.isDie(exit.cause)) report(s, "failure", failure.value)
  else report(s, "throw", Cause.squash(exit.cause))
  return fallback()
}

interface Started<A> {
  /** The hook's answer (or the fallback), once it has completed or reached its bound. */
  readonly await: Effect.Effect<A>
  /** Interrupts the hook (in the background) if it is still running. */
  readonly interrupt: () => void
}

/**
 * Starts a hook now, on the caller's stack, in a fiber of its own (the
 * caller's context and FiberRefs, interruptible whatever the caller's
 * region). A hook that completes without suspending costs no timer and no
 * scheduler hop; one that suspends is bounded by a timer on the caller's
 * clock, at which it is interrupted in the background (never awaited).
 */
const start = <A>(
  parent: Fiber.RuntimeFiber<unknown, unknown>,
  runtimeFlags: RuntimeFlags.RuntimeFlags,
  s: Site,
  hook: Effect.Effect<unknown, unknown>,
  boundMillis: number,
  isValid: (u: unknown) => u is A,
  fallback: () => A
): Started<A> => {
  const runtime = Runtime.make({ context: parent.currentContext, runtimeFlags, fiberRefs: parent.getFiberRefs() })
  let settled = false
  let value: A | undefined
  let waiter: ((a: A) => void) | undefined
  let timer: Fiber.RuntimeFiber<void> | undefined
  const settle = (a: A): void => {
    if (settled) return
    settled = true
    value = a
    if (timer !== undefined) timer.unsafeInterruptAsFork(parent.id())
    if (waiter !== undefined) waiter(a)
  }
  // the user's hook, made interruptible so that its bound (below) can cut it in any region
  // eslint-disable-next-line no-restricted-syntax
  const fiber = Runtime.runFork(runtime)(Effect.interruptible(hook))
  const done = fiber.unsafePoll()
  if (done !== null) {
    settle(answer(s, done, isValid, fallback))
  } else {
    fiber.addObserver((exit) => {
      if (!settled) settle(answer(s, exit, isValid, fallback))
    })
    if (boundMillis !== Infinity) {
      timer = Runtime.runFork(runtime)(background(time.sleep(Math.max(0, boundMillis))))
      timer.addObserver((exit) => {
        if (settled || !Exit.isSuccess(exit)) return
        report(s, "timeout", boundMillis)
        // interrupted in the background: an uninterruptible hook cannot hold the caller
        fiber.unsafeInterruptAsFork(parent.id())
        settle(fallback())
      })
    }
  }
  return {
    await: Effect.suspend(() =>
      settled ? Effect.succeed(value as A) : Effect.async<A>((resume) => {
        waiter = (a) => resume(Effect.succeed(a))
        return Effect.sync(() => {
          waiter = undefined
        })
      })
    ),
    interrupt: () => {
      if (settled) return
      settled = true
      fiber.unsafeInterruptAsFork(parent.id())
      if (timer !== undefined) timer.unsafeInterruptAsFork(parent.id())
    }
  }
}

const isAnything = (_: unknown): _ is unknown => true
const nothing = (): unknown => undefined

/**
 * Awaits an effectful hook's answer, at most `boundMillis` (`Infinity`: for
 * as long as it runs). The hook runs in a fiber of its own, so the bound
 * holds in an uninterruptible region too; interrupting the caller (where it
 * is interruptible) interrupts the hook. A failure, a defect, a timeout or an
 * answer that fails `isValid` is reported and answered by `fallback()`.
 * @internal
 */
export const awaitHook = <A>(
  s: Site,
  hook: Effect.Effect<unknown, unknown>,
  boundMillis: number,
  isValid: (u: unknown) => u is A,
  fallback: () => A
): Effect.Effect<A> =>
  Effect.withFiberRuntime<A>((parent, status) => {
    const started = start(parent, status.runtimeFlags, s, hook, boundMillis, isValid, fallback)
    return Effect.onInterrupt(started.await, () => Effect.sync(started.interrupt))
  })

/**
 * Runs `self` while an effectful hook runs alongside it (e.g. `onRetry` during
 * the backoff sleep), and returns when both have ended: `self`'s result, after
 * the hook has completed or reached `boundMillis` (counted from the hook's
 * start). `build` makes the hook's effect; a throw or an answer that is not an
 * Effect is reported and `self` runs alone. The hook's failures are reported
 * and ignored. When `self` fails or the caller is interrupted, the hook is
 * interrupted.
 * @internal
 */
export const alongside = <A, E, R>(
  s: Site,
  build: () => unknown,
  boundMillis: number,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    let hook: unknown
    try {
      hook = build()
    } catch (e) {
      report(s, "throw", e)
      return self
    }
    if (!Effect.isEffect(hook)) {
      report(s, "malformed", hook)
      return self
    }
    return Effect.withFiberRuntime<A, E, R>((parent, status) => {
      const started = start(parent, status.runtimeFlags, s, hook as Effect.Effect<unknown, unknown>, boundMillis, isAnything, nothing)
      return Effect.onExit(
        Effect.zipLeft(self, started.await),
        (exit) => Exit.isSuccess(exit) ? Effect.void : Effect.sync(started.interrupt)
      )
    })
  })
