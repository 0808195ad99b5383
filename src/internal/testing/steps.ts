/**
 * `Testing`'s script steps: what a scripted call does, after how long, and
 * its label for the call log.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Testing from "../../Testing.js"
import { showValue } from "../errors.js"
import * as options_ from "./options.js"

type Step<A, E> = Testing.Step<A, E>

const step = <A, E>(_tag: Step<A, E>["_tag"], effect: Effect.Effect<A, E>, label: string): Step<A, E> => ({
  _tag,
  delay: Duration.zero,
  effect,
  label
})

/** A tagged error's tag, an `Error`'s name, or the value shown. */
const labelOf = (u: unknown): string => {
  if (u instanceof Error || (typeof u === "object" && u !== null && "_tag" in u)) {
    const tag = (u as { _tag?: unknown })._tag
    return typeof tag === "string" ? tag : (u as Error).name
  }
  return showValue(u)
}

export { isStep } from "./options.js"

/** @internal */
export const ok = <A>(value: A): Step<A, never> => step("Succeed", Effect.succeed(value), `ok(${showValue(value)})`)

/** @internal */
export const fail = <E>(error: E): Step<never, E> => step("Fail", Effect.fail(error), `fail(${labelOf(error)})`)

/** @internal */
export const die = (defect: unknown): Step<never, never> => step("Die", Effect.die(defect), `die(${labelOf(defect)})`)

/** @internal */
export const never: Step<never, never> = step("Never", Effect.never, "never")

/** @internal */
export const interrupt: Step<never, never> = step("Interrupt", Effect.interrupt, "interrupt")

/** @internal */
export const effect = <A, E>(effect: Effect.Effect<A, E>, label?: string): Step<A, E> => {
  const r = options_.effectSpec.resolve({ effect, label })
  return step("Effect", effect, r.label)
}

/** @internal */
export const delay = <A, E>(duration: Duration.DurationInput, step: Step<A, E>): Step<A, E> => {
  const d = options_.delaySpec.resolve({ duration, step }).duration
  return { ...step, delay: Duration.sum(step.delay, d), label: `delay(${Duration.format(d)}, ${step.label})` }
}
