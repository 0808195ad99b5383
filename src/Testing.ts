/**
 * Helpers to test resilience pipelines without a network, in milliseconds
 * (tower-test's scripted service and Polly.Testing's pipeline descriptor are
 * the models):
 *
 * - {@link scripted}: a fake dependency that plays a script of outcomes and
 *   latencies ({@link ok}, {@link fail}, {@link die}, {@link never},
 *   {@link interrupt}, {@link effect}, {@link delay}) and keeps a call log
 *   (start and end times from `Clock`, status, interruptions).
 * - {@link render}, {@link kinds}, {@link flatten}: what a composed policy is
 *   made of, in order, from `Policy.describe`.
 * - {@link withSeed}: a seeded `Random` (Effect 3 has no `TestRandom`).
 *
 * Framework-agnostic: nothing here imports a test runner.
 *
 * @since 0.1.0
 */
import type * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { InvalidOptionsError } from "./Errors.js"
import * as describe_ from "./internal/testing/describe.js"
import * as environment from "./internal/testing/environment.js"
import * as scripted_ from "./internal/testing/scripted.js"
import * as steps from "./internal/testing/steps.js"
import type { Descriptor } from "./Policy.js"

// ---------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------

/**
 * One scripted call: what it does (`effect`), after how long (`delay`), and
 * a label for the call log.
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 *
 * const step: Testing.Step<number, never> = Testing.delay("1 second", Testing.ok(1))
 * step.label // "delay(1s, ok(1))"
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Step<out A, out E> {
  readonly _tag: "Succeed" | "Fail" | "Die" | "Never" | "Interrupt" | "Effect"
  /** Waited (with `Clock`, so `TestClock` controls it) before `effect` runs. */
  readonly delay: Duration.Duration
  readonly effect: Effect.Effect<A, E>
  readonly label: string
}

/**
 * A step that succeeds with `value`.
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 *
 * const script = [Testing.ok(1), Testing.ok(2)]
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const ok: <A>(value: A) => Step<A, never> = steps.ok

/**
 * A step that fails with `error`.
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 * import { Data } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 * const script = [Testing.fail(new Unavailable()), Testing.ok("recovered")]
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const fail: <E>(error: E) => Step<never, E> = steps.fail

/**
 * A step that dies with `defect`.
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 *
 * const script = [Testing.die(new Error("bug"))]
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const die: (defect: unknown) => Step<never, never> = steps.die

/**
 * A step that never completes (until interrupted): a hung dependency.
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 *
 * const script = [Testing.never, Testing.ok("second attempt")]
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const never: Step<never, never> = steps.never

/**
 * A step that interrupts itself (as a cancelled inner call would).
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 *
 * const script = [Testing.interrupt]
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const interrupt: Step<never, never> = steps.interrupt

/**
 * A step that runs any effect (with no requirements).
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const script = [Testing.effect(Effect.log("called").pipe(Effect.as(1)), "logs")]
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const effect: <A, E>(effect: Effect.Effect<A, E>, label?: string) => Step<A, E> = steps.effect

/**
 * Delays a step: the call waits `duration` (on `Clock`, so `TestClock`
 * controls it), then does what `step` does. Delays add up when nested.
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 *
 * const script = [Testing.delay("1 second", Testing.ok(2))]
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const delay: <A, E>(duration: Duration.DurationInput, step: Step<A, E>) => Step<A, E> = steps.delay

// ---------------------------------------------------------------------------
// Scripted dependency
// ---------------------------------------------------------------------------

/**
 * How a call ended (or `"Running"`).
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const dep = yield* Testing.scripted([Testing.ok(1)])
 *   yield* dep.call
 *   const statuses: ReadonlyArray<Testing.CallStatus> = (yield* dep.calls()).map((c) => c.status) // ["Succeeded"]
 *   return statuses
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type CallStatus = "Running" | "Succeeded" | "Failed" | "Died" | "Interrupted"

/**
 * One entry of a scripted dependency's call log.
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const dep = yield* Testing.scripted([Testing.ok("a")])
 *   yield* dep.call
 *   const [first]: ReadonlyArray<Testing.CallRecord> = yield* dep.calls()
 *   return first // { call: 1, step: 1, label: 'ok("a")', startedAt: 0, endedAt: 0, status: "Succeeded" }
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface CallRecord {
  /** The call's number, from 1. */
  readonly call: number
  /** The position of the step played, from 1. */
  readonly step: number
  /** The step's label, e.g. `"delay(1s, ok(2))"`. */
  readonly label: string
  /** Epoch millis from `Clock` when the call started. */
  readonly startedAt: number
  /** Epoch millis from `Clock` when it ended; `undefined` while running. */
  readonly endedAt: number | undefined
  readonly status: CallStatus
}

/**
 * What to do when the script is played out: fail loudly (`"die"` with a
 * {@link ScriptExhaustedError} defect), repeat the last step, or start over.
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 *
 * const after: Testing.AfterScript = "repeatLast"
 * const alwaysUp = Testing.scripted([Testing.ok("up")], { after })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type AfterScript = "die" | "repeatLast" | "cycle"

/**
 * A fake dependency that plays a script.
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 * import { Data, Effect } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 * const program = Effect.gen(function*() {
 *   const dep: Testing.Scripted<string, Unavailable> = yield* Testing.scripted([
 *     Testing.fail(new Unavailable()),
 *     Testing.ok("ok")
 *   ])
 *   return yield* Effect.either(dep.call) // Left(Unavailable)
 * })
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Scripted<out A, out E> {
  /** Plays the next step: the effect to wrap in the policy under test. */
  readonly call: Effect.Effect<A, E>
  /** The call log so far, oldest first (a snapshot taken when the effect runs). */
  readonly calls: () => Effect.Effect<ReadonlyArray<CallRecord>>
  /** {@link Scripted.calls} read synchronously. */
  readonly unsafeCalls: () => ReadonlyArray<CallRecord>
  /** How many calls were made. */
  readonly count: () => Effect.Effect<number>
  /** {@link Scripted.count} read synchronously. */
  readonly unsafeCount: () => number
  /** The calls still running (started, not ended). */
  readonly running: () => Effect.Effect<number>
  /** {@link Scripted.running} read synchronously. */
  readonly unsafeRunning: () => number
}

export {
  /**
   * The script was played out and `after` is `"die"` (the default): the
   * dependency was called more often than the test expected.
   *
   * @example
   * ```ts
   * import { Testing } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const program = Effect.gen(function*() {
   *   const dep = yield* Testing.scripted([Testing.ok(1)], { name: "payments" })
   *   yield* dep.call
   *   yield* dep.call // dies: Scripted dependency payments was called 2 times but scripted for 1
   * })
   * ```
   *
   * @since 0.1.0
   * @category Errors
   */
  ScriptExhaustedError
} from "./internal/testing/errors.js"

/**
 * The success type of a script.
 *
 * @example
 * ```ts
 * import type { Testing } from "effect-resilience"
 *
 * type A = Testing.SuccessOf<[Testing.Step<number, never>, Testing.Step<string, Error>]> // number | string
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type SuccessOf<S extends ReadonlyArray<Step<any, any>>> = S[number] extends Step<infer A, any> ? A : never

/**
 * The error type of a script.
 *
 * @example
 * ```ts
 * import type { Testing } from "effect-resilience"
 *
 * type E = Testing.ErrorOf<[Testing.Step<number, never>, Testing.Step<string, Error>]> // Error
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type ErrorOf<S extends ReadonlyArray<Step<any, any>>> = S[number] extends Step<any, infer E> ? E : never

/**
 * Makes a scripted dependency: its n-th call plays the n-th step (waits the
 * step's delay on `Clock`, then succeeds, fails, dies, hangs or is
 * interrupted), and every call is logged with its start and end time and how
 * it ended. Past the script, `after` decides (default `"die"`). Fails with
 * `InvalidOptionsError` for an empty script or an invalid option.
 *
 * @example
 * ```ts
 * import { Retry, Testing } from "effect-resilience"
 * import { Data, Effect, Fiber, TestClock, TestContext } from "effect"
 *
 * class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
 *
 * const test = Effect.gen(function*() {
 *   const dep = yield* Testing.scripted([
 *     Testing.fail(new Unavailable()),
 *     Testing.delay("1 second", Testing.ok(2))
 *   ])
 *   const retry = Retry.policy({ schedule: Retry.constant("100 millis"), times: 3 })
 *   const fiber = yield* Effect.fork(dep.call.pipe(retry))
 *   yield* TestClock.adjust("1100 millis")
 *   const value = yield* Fiber.join(fiber) // 2
 *   const calls = yield* dep.calls() // [{ call: 1, status: "Failed", … }, { call: 2, startedAt: 100, endedAt: 1100, … }]
 *   return { value, calls }
 * }).pipe(Effect.provide(TestContext.TestContext))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const scripted: <const Steps extends readonly [Step<any, any>, ...Array<Step<any, any>>]>(
  steps: Steps,
  options?: { readonly after?: AfterScript | undefined; readonly name?: string | undefined }
) => Effect.Effect<Scripted<SuccessOf<Steps>, ErrorOf<Steps>>, InvalidOptionsError> = scripted_.scripted

// ---------------------------------------------------------------------------
// Pipeline description
// ---------------------------------------------------------------------------

/**
 * The policies a composed policy is made of, outermost first, with
 * compositions (`Policy.compose`, `Policy.pipeline`) flattened away.
 *
 * @example
 * ```ts
 * import { Policy, Retry, Testing, Timeout } from "effect-resilience"
 *
 * const p = Policy.pipeline({ retry: Retry.policy({ times: 2 }), timeout: "5 seconds" })
 * Testing.flatten(p).map((d) => d.kind) // ["Timeout", "Retry"]
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const flatten: (policy: Function | Descriptor) => ReadonlyArray<Descriptor> = describe_.flatten

/**
 * The kinds of the policies a composed policy is made of, outermost first —
 * the quickest way to assert a pipeline's order.
 *
 * @example
 * ```ts
 * import { Fallback, Policy, Retry, Testing } from "effect-resilience"
 *
 * const p = Policy.pipeline({
 *   retry: Retry.policy({ times: 2 }),
 *   fallback: Fallback.value("default"),
 *   attemptTimeout: "1 second"
 * })
 * Testing.kinds(p) // ["Fallback", "Retry", "Timeout"]
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const kinds: (policy: Function | Descriptor) => ReadonlyArray<string> = describe_.kinds

/**
 * Renders what a policy is made of as a tree, outermost first, one policy
 * per line with its name and options — for snapshots, logs and diagnostics.
 *
 * @example
 * ```ts
 * import { Policy, Retry, Testing } from "effect-resilience"
 *
 * const p = Policy.pipeline({ timeout: "5 seconds", retry: Retry.policy({ times: 2, name: "db" }) })
 * Testing.render(p)
 * // Pipeline
 * // ├─ Timeout { duration: 5s, disconnect: false, scope: overall }
 * // └─ Retry "db" { times: 2, maxRetryAfter: 1m, while: false, until: false, whenResult: false, failAfterMaxAttempts: false }
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const render: (policy: Function | Descriptor) => string = describe_.render

/**
 * Runs `self` with Effect's `Random` seeded with `seed`, so that jitter and
 * chaos injection are the same on every run (Effect 3 has no `TestRandom`).
 * A fresh generator is made each time the effect runs, so running it twice
 * draws the same numbers twice — unlike
 * `Effect.withRandom(self, Random.make(seed))` evaluated once, whose
 * generator keeps its state between runs.
 *
 * @example
 * ```ts
 * import { Chaos, Testing } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const faults = Chaos.fault({ rate: 0.5, error: "boom" })
 * const program = Effect.succeed(1).pipe(faults, Effect.either, Effect.replicateEffect(10), Testing.withSeed(42))
 * ```
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withSeed: (seed: unknown) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  environment.withSeed

// ---------------------------------------------------------------------------
// A wall clock that steps
// ---------------------------------------------------------------------------

/**
 * Control over the stepping wall clock of {@link withSteppedWallClock}.
 *
 * @example
 * ```ts
 * import { Testing } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const test = Testing.withSteppedWallClock((wall: Testing.WallClockSteps) =>
 *   Effect.gen(function*() {
 *     yield* wall.back("1 hour")
 *     return yield* wall.offset() // -3600000
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface WallClockSteps {
  /** Steps the wall clock back by `duration` (as NTP or a manual change of the system time may). */
  readonly back: (duration: Duration.DurationInput) => Effect.Effect<void>
  /** Steps the wall clock forward by `duration` (as a VM resumed after a pause, or NTP, may). */
  readonly forward: (duration: Duration.DurationInput) => Effect.Effect<void>
  /** The wall clock's current offset from the clock it wraps, in milliseconds. */
  readonly offset: () => Effect.Effect<number>
  /** {@link WallClockSteps.offset} read synchronously. */
  readonly unsafeOffset: () => number
  /** The stepping clock itself (provided to the effect already). */
  readonly clock: Clock.Clock
}

/**
 * Runs `f` under a clock whose wall time (`Clock.currentTimeMillis`,
 * `Date`-like instants) can be stepped back and forward, while its monotonic
 * time (`Clock.currentTimeNanos`) and its sleeps stay those of the clock it
 * wraps (`TestClock` in tests, which `TestClock.adjust` still drives). Use it
 * to check that a bound holds when the system clock steps — NTP corrections,
 * a VM resumed after a pause, a manual change: every bound of this library
 * is measured on monotonic time, so stepping the wall clock an hour either way
 * changes none of them.
 *
 * @example
 * ```ts
 * import { Testing, Timeout } from "effect-resilience"
 * import { Effect, Fiber, TestClock } from "effect"
 *
 * const test = Testing.withSteppedWallClock((wall) =>
 *   Effect.gen(function*() {
 *     const call = yield* Effect.fork(Effect.never.pipe(Timeout.make("1 second")))
 *     yield* wall.back("1 hour") // the timeout still fires after one second
 *     yield* TestClock.adjust("1 second")
 *     return yield* Fiber.await(call)
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category Combinators
 */
export const withSteppedWallClock: <A, E, R>(
  f: (wall: WallClockSteps) => Effect.Effect<A, E, R>
) => Effect.Effect<A, E, R> = environment.withSteppedWallClock
