/**
 * The options of `Testing`'s constructors, described once: `scripted`'s
 * options, the arguments of the `effect` and `delay` steps, and a stepping
 * wall clock's step. No `Config`: test helpers are set up in code.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Duration from "effect/Duration"
import type * as Testing from "../../Testing.js"
import * as Spec from "../spec.js"

/** What a scripted dependency does past its script when not told. @internal */
export const DEFAULT_AFTER: Testing.AfterScript = "die"

/** The name of a scripted dependency made without one. @internal */
export const DEFAULT_NAME = "scripted"

/** The label of an `effect` step made without one. @internal */
export const DEFAULT_LABEL = "effect"

/** Whether `u` looks like a step (an object with an `effect`). @internal */
export const isStep = (u: unknown): u is Testing.Step<unknown, unknown> =>
  typeof u === "object" && u !== null && Effect.isEffect((u as Testing.Step<unknown, unknown>).effect)

/** What a step argument must be. @internal */
export const STEP = "a step (Testing.ok, Testing.fail, …)"

/** The options of `Testing.scripted` (its steps are checked beside them). @internal */
export const scriptedSpec = Spec.struct<{
  readonly after?: Testing.AfterScript | undefined
  readonly name?: string | undefined
}>()("Testing.scripted", {
  after: Spec.literal("die", "repeatLast", "cycle").default(DEFAULT_AFTER),
  name: Spec.string().default(DEFAULT_NAME)
})

/** The arguments of `Testing.effect`. @internal */
export const effectSpec = Spec.struct<{
  readonly effect: Effect.Effect<unknown, unknown>
  readonly label?: string | undefined
}>()("Testing.effect", {
  effect: Spec.code<Effect.Effect<unknown, unknown>>("an Effect", Effect.isEffect).required(),
  label: Spec.string().default(DEFAULT_LABEL)
})

/** The arguments of `Testing.delay`. @internal */
export const delaySpec = Spec.struct<{
  readonly duration: Duration.DurationInput
  readonly step: Testing.Step<unknown, unknown>
}>()("Testing.delay", {
  duration: Spec.duration({ allowZero: true }).required(),
  step: Spec.code<Testing.Step<unknown, unknown>>(STEP, isStep).required()
})

/** A step of a stepping wall clock (`back`, `forward`): a finite duration > 0. @internal */
export const wallClockStep = Spec.duration().required()

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [scriptedSpec, effectSpec, delaySpec]
