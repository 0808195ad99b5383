/**
 * The options of `Timeout.make` and of its layers, described once: checks,
 * defaults, `Config` and the docs' table.
 *
 * `Timeout.make` is pure and may be called per request (a deadline from a
 * header): {@link spec}'s `resolve` is a plain loop over four fields, the
 * checks the hand-written ladder made, nothing more.
 *
 * @internal
 */
import type * as Timeout from "../../Timeout.js"
import * as Spec from "../spec.js"

/** The `policy` tag and event field of a timeout made without a name. @internal */
export const DEFAULT_NAME = "timeout"
/** @internal */
export const DEFAULT_DISCONNECT = false
/** @internal */
export const DEFAULT_IMPLEMENTATION = "fast" as const

/**
 * The duration of a timeout (`Timeout.make`'s first argument, the layers'
 * `duration`): any duration > 0; an infinite one is no timeout.
 *
 * @internal
 */
export const duration = Spec.duration({ allowInfinite: true }).required()

/** The options of `Timeout.make`. @internal */
export const spec = Spec.struct<Timeout.Timeout.Options>()("Timeout.make", {
  // absent stays absent: errors and descriptors carry no name; events and metrics say "timeout"
  name: Spec.string().doc(`none ("${DEFAULT_NAME}" in events and metrics)`),
  disconnect: Spec.boolean().default(DEFAULT_DISCONNECT),
  scope: Spec.literal("overall", "attempt"),
  // `@internal` (the general path, for tests and benchmarks): not a documented or configurable option
  implementation: Spec.literal("fast", "general").default(DEFAULT_IMPLEMENTATION).internal()
})

/**
 * The options of `Timeout.layer` and `Timeout.layerConfig`: the duration
 * with `Timeout.make`'s options, read from `Config` by `Timeout.config`.
 *
 * @internal
 */
export const layerSpec = Spec.struct<Timeout.Timeout.LayerOptions>()("Timeout.layer", {
  duration,
  ...spec.fields
}).readFrom("Timeout.config")

/** The options, validated, with their defaults. @internal */
export type Resolved = Spec.Resolved<typeof spec.fields>

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec, layerSpec]
