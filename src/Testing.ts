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
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import type { InvalidOptionsError } from "./Errors.js"
import { showValue } from "./internal/errors.js"
import * as validate from "./internal/validate.js"
import type { Descriptor } from "./Policy.js"
import { describe as describePolicy } from "./Policy.js"
import { sleep } from "./internal/time.js"

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

const step = <A, E>(
  _tag: Step<A, E>["_tag"],
  effect: Effect.Effect<A, E>,
  label: string
): Step<A, E> => ({ _tag, delay: Duration.zero, effect, label })

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
export const ok = <A>(value: A): Step<A, never> => step("Succeed", Effect.succeed(value), `ok(${showValue(value)})`)

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
export const fail = <E>(error: E): Step<never, E> => step("Fail", Effect.fail(error), `fail(${labelOf(error)})`)

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
export const die = (defect: unknown): Step<never, never> => step("Die", Effect.die(defect), `die(${labelOf(defect)})`)

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
export const never: Step<never, never> = step("Never", Effect.never, "never")

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
export const interrupt: Step<never, never> = step("Interrupt", Effect.interrupt, "interrupt")

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
export const effect = <A, E>(effect: Effect.Effect<A, E>, label: string = "effect"): Step<A, E> => {
  if (!Effect.isEffect(effect)) throw validate.invalid("Testing.effect", "effect", effect, "an Effect")
  validate.nonEmptyString("Testing.effect", "label", label)
  return step("Effect", effect, label)
}

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
export const delay = <A, E>(duration: Duration.DurationInput, step: Step<A, E>): Step<A, E> => {
  const d = validate.duration("Testing.delay", "duration", duration, { allowZero: true })
  if (typeof step !== "object" || step === null || !Effect.isEffect((step as Step<unknown, unknown>).effect)) {
    throw validate.invalid("Testing.delay", "step", step, "a step (Testing.ok, Testing.fail, …)")
  }
  return { ...step, delay: Duration.sum(step.delay, d), label: `delay(${Duration.format(d)}, ${step.label})` }
}

const labelOf = (u: unknown): string => {
  if (u instanceof Error || (typeof u === "object" && u !== null && "_tag" in u)) {
    const tag = (u as { _tag?: unknown })._tag
    return typeof tag === "string" ? tag : (u as Error).name
  }
  return showValue(u)
}

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
 *   const statuses: ReadonlyArray<Testing.CallStatus> = (yield* dep.calls).map((c) => c.status) // ["Succeeded"]
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
 *   const [first]: ReadonlyArray<Testing.CallRecord> = yield* dep.calls
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
  /** The call log so far, oldest first (a snapshot). */
  readonly calls: Effect.Effect<ReadonlyArray<CallRecord>>
  /** How many calls were made. */
  readonly count: Effect.Effect<number>
  /** The calls still running (started, not ended). */
  readonly running: Effect.Effect<number>
}

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
export class ScriptExhaustedError extends Data.TaggedError("ScriptExhaustedError")<{
  readonly name: string
  readonly steps: number
  readonly call: number
}> {
  override get message(): string {
    return `Scripted dependency ${this.name} was called ${this.call} times but scripted for ${this.steps}`
  }
}

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
 *   const calls = yield* dep.calls // [{ call: 1, status: "Failed", … }, { call: 2, startedAt: 100, endedAt: 1100, … }]
 *   return { value, calls }
 * }).pipe(Effect.provide(TestContext.TestContext))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const scripted = <const Steps extends readonly [Step<any, any>, ...Array<Step<any, any>>]>(
  steps: Steps,
  options: { readonly after?: AfterScript | undefined; readonly name?: string | undefined } = {}
): Effect.Effect<Scripted<SuccessOf<Steps>, ErrorOf<Steps>>, InvalidOptionsError> =>
  Effect.map(
    validate.validated(() => {
      const m = "Testing.scripted"
      options = validate.options(m, options)
      if (!Array.isArray(steps) || steps.length === 0) throw validate.invalid(m, "steps", steps, "a non-empty array of steps")
      steps.forEach((s, i) => {
        if (typeof s !== "object" || s === null || !Effect.isEffect((s as Step<unknown, unknown>).effect)) {
          throw validate.invalid(m, `steps[${i}]`, s, "a step (Testing.ok, Testing.fail, …)")
        }
      })
      const after = options.after === undefined ? "die" : validate.oneOf(m, "after", options.after, ["die", "repeatLast", "cycle"])
      const name = options.name === undefined ? "scripted" : validate.nonEmptyString(m, "name", options.name)
      return { after, name }
    }),
    ({ after, name }) => makeScripted(steps, after, name)
  ) as any

interface MutableRecord {
  call: number
  step: number
  label: string
  startedAt: number
  endedAt: number | undefined
  status: CallStatus
}

const statusOf = (exit: Exit.Exit<unknown, unknown>): CallStatus => {
  if (Exit.isSuccess(exit)) return "Succeeded"
  if (Cause.isDie(exit.cause)) return "Died"
  if (Cause.isInterruptedOnly(exit.cause)) return "Interrupted"
  return "Failed"
}

const makeScripted = (
  steps: ReadonlyArray<Step<unknown, unknown>>,
  after: AfterScript,
  name: string
): Scripted<unknown, unknown> => {
  const records: Array<MutableRecord> = []
  const pick = (n: number): number | undefined => {
    if (n < steps.length) return n
    switch (after) {
      case "repeatLast":
        return steps.length - 1
      case "cycle":
        return n % steps.length
      default:
        return undefined
    }
  }
  const call = Effect.clockWith((clock) =>
    Effect.suspend(() => {
      const n = records.length
      const index = pick(n)
      if (index === undefined) {
        return Effect.die(new ScriptExhaustedError({ name, steps: steps.length, call: n + 1 }))
      }
      const s = steps[index]!
      const record: MutableRecord = {
        call: n + 1,
        step: index + 1,
        label: s.label,
        startedAt: clock.unsafeCurrentTimeMillis(),
        endedAt: undefined,
        status: "Running"
      }
      records.push(record)
      const run = Duration.toMillis(s.delay) > 0 ? Effect.zipRight(sleep(s.delay), s.effect) : s.effect
      return Effect.onExit(run, (exit) =>
        Effect.sync(() => {
          record.endedAt = clock.unsafeCurrentTimeMillis()
          record.status = statusOf(exit)
        }))
    })
  )
  return {
    call,
    calls: Effect.sync(() => records.map((r) => ({ ...r }))),
    count: Effect.sync(() => records.length),
    running: Effect.sync(() => records.filter((r) => r.status === "Running").length)
  }
}

// ---------------------------------------------------------------------------
// Pipeline description
// ---------------------------------------------------------------------------

const isGroup = (d: Descriptor) => d.kind === "Compose" || d.kind === "Pipeline"

const asDescriptor = (p: Function | Descriptor): Descriptor =>
  typeof p === "function" ? describePolicy(p) : p

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
export const flatten = (policy: Function | Descriptor): ReadonlyArray<Descriptor> => {
  const out: Array<Descriptor> = []
  const walk = (d: Descriptor) => {
    if (isGroup(d)) d.children.forEach(walk)
    else out.push(d)
  }
  walk(asDescriptor(policy))
  return out
}

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
export const kinds = (policy: Function | Descriptor): ReadonlyArray<string> => flatten(policy).map((d) => d.kind)

const renderValue = (value: unknown): string => {
  if (typeof value === "string") return /^[\w.:()\-, ]+$/.test(value) ? value : JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(renderValue).join(", ")}]`
  if (typeof value === "object" && value !== null && !Duration.isDuration(value)) {
    return `{ ${Object.entries(value).map(([k, v]) => `${k}: ${renderValue(v)}`).join(", ")} }`
  }
  return showValue(value)
}

const renderLine = (d: Descriptor): string => {
  const name = d.name === undefined ? "" : ` "${d.name}"`
  const options = Object.entries(d.options).filter(([, v]) => v !== undefined)
  const rendered = options.length === 0 ? "" : ` { ${options.map(([k, v]) => `${k}: ${renderValue(v)}`).join(", ")} }`
  return `${d.kind}${name}${rendered}`
}

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
 * // └─ Retry "db" { times: 2, maxRetryAfter: 1m, while: false, until: false }
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const render = (policy: Function | Descriptor): string => {
  const lines: Array<string> = []
  const walk = (d: Descriptor, prefix: string, childPrefix: string) => {
    lines.push(prefix + renderLine(d))
    d.children.forEach((c, i) => {
      const last = i === d.children.length - 1
      walk(c, childPrefix + (last ? "└─ " : "├─ "), childPrefix + (last ? "   " : "│  "))
    })
  }
  walk(asDescriptor(policy), "", "")
  return lines.join("\n")
}

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
export const withSeed = (seed: unknown) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => Effect.withRandom(self, Random.make(seed)))

// ---------------------------------------------------------------------------
// A wall clock that steps
// ---------------------------------------------------------------------------

/**
 * Control over the stepping wall clock of {@link withSteppedWallClock}.
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
  readonly offset: Effect.Effect<number>
  /** The stepping clock itself (provided to the effect already). */
  readonly clock: Clock.Clock
}

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
export const withSteppedWallClock = <A, E, R>(
  f: (wall: WallClockSteps) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.clockWith((base) => {
    let offset = 0
    const clock = steppedClock(base, () => offset)
    // an invalid step throws InvalidOptionsError where it is written, as pure constructors do
    const step = (sign: 1 | -1) => (duration: Duration.DurationInput) => {
      const millis = Duration.toMillis(validate.duration("Testing.withSteppedWallClock", "step", duration))
      return Effect.sync(() => {
        offset += sign * millis
      })
    }
    return Effect.withClock(
      Effect.suspend(() => f({ back: step(-1), forward: step(1), offset: Effect.sync(() => offset), clock })),
      clock
    )
  })
