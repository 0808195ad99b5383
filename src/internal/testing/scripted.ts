/**
 * `Testing.scripted`: a fake dependency that plays a script and keeps a call
 * log.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { InvalidOptionsError } from "../../Errors.js"
import type * as Testing from "../../Testing.js"
import { sleep } from "../time.js"
import * as validate from "../validate.js"
import { ScriptExhaustedError } from "./errors.js"
import * as options_ from "./options.js"

type Step = Testing.Step<unknown, unknown>
type CallStatus = Testing.CallStatus

/** A call log entry, updated when the call ends. */
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

/**
 * A scripted dependency: the script, what to do past it, and the call log.
 *
 * @internal
 */
export class ScriptedImpl {
  private readonly records: Array<MutableRecord> = []
  /** Plays the next step (the dependency's `call`). */
  readonly call: Effect.Effect<unknown, unknown> = Effect.clockWith((clock) => Effect.suspend(() => this.play(clock)))

  constructor(
    private readonly steps: ReadonlyArray<Step>,
    private readonly after: Testing.AfterScript,
    private readonly name: string
  ) {}

  /** The step call `n` (from 0) plays, or `undefined` past the script when `after` is `"die"`. */
  private pick(n: number): number | undefined {
    if (n < this.steps.length) return n
    switch (this.after) {
      case "repeatLast":
        return this.steps.length - 1
      case "cycle":
        return n % this.steps.length
      default:
        return undefined
    }
  }

  /** Logs a call, waits its step's delay, runs its step and logs how it ended. */
  private play(clock: Clock.Clock): Effect.Effect<unknown, unknown> {
    const n = this.records.length
    const index = this.pick(n)
    if (index === undefined) {
      return Effect.die(new ScriptExhaustedError({ name: this.name, steps: this.steps.length, call: n + 1 }))
    }
    const s = this.steps[index]!
    const record: MutableRecord = {
      call: n + 1,
      step: index + 1,
      label: s.label,
      startedAt: clock.unsafeCurrentTimeMillis(),
      endedAt: undefined,
      status: "Running"
    }
    this.records.push(record)
    const run = Duration.toMillis(s.delay) > 0 ? Effect.zipRight(sleep(s.delay), s.effect) : s.effect
    return Effect.onExit(run, (exit) =>
      Effect.sync(() => {
        record.endedAt = clock.unsafeCurrentTimeMillis()
        record.status = statusOf(exit)
      }))
  }

  unsafeCalls(): ReadonlyArray<Testing.CallRecord> {
    return this.records.map((r) => ({ ...r }))
  }

  unsafeCount(): number {
    return this.records.length
  }

  unsafeRunning(): number {
    return this.records.filter((r) => r.status === "Running").length
  }
}

/** The dependency around `impl`: its readers bound once. */
const scriptedOf = (impl: ScriptedImpl): Testing.Scripted<unknown, unknown> => {
  const calls = Effect.sync(() => impl.unsafeCalls())
  const count = Effect.sync(() => impl.unsafeCount())
  const running = Effect.sync(() => impl.unsafeRunning())
  return {
    call: impl.call,
    calls: () => calls,
    unsafeCalls: () => impl.unsafeCalls(),
    count: () => count,
    unsafeCount: () => impl.unsafeCount(),
    running: () => running,
    unsafeRunning: () => impl.unsafeRunning()
  }
}

/** @internal */
export const scripted = <const Steps extends readonly [Testing.Step<any, any>, ...Array<Testing.Step<any, any>>]>(
  steps: Steps,
  options: { readonly after?: Testing.AfterScript | undefined; readonly name?: string | undefined } = {}
): Effect.Effect<Testing.Scripted<Testing.SuccessOf<Steps>, Testing.ErrorOf<Steps>>, InvalidOptionsError> =>
  Effect.map(
    validate.validated(() => {
      const m = options_.scriptedSpec.module
      const o = validate.options(m, options)
      if (!Array.isArray(steps) || steps.length === 0) throw validate.invalid(m, "steps", steps, "a non-empty array of steps")
      steps.forEach((s, i) => {
        if (!options_.isStep(s)) throw validate.invalid(m, `steps[${i}]`, s, options_.STEP)
      })
      return options_.scriptedSpec.resolve(o)
    }),
    ({ after, name }) => scriptedOf(new ScriptedImpl(steps, after, name))
  ) as any
