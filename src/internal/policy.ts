/**
 * The run-time pieces of `Policy.ts` that the pattern modules need to build
 * their policies: the type ids, the phantom variance values and the callables
 * (`unsafeMakeCallable`, `unsafeMakeTransformCallable`). They live here so
 * that every module imports them from internal code, never from the public
 * `Policy.ts` (which imports `Timeout.ts` for `pipeline`): no import cycle.
 *
 * @internal
 */
import type * as Policy from "../Policy.js"

/** The same symbol as `Policy.PolicyTypeId` (`Symbol.for`). */
export const PolicyTypeId: Policy.PolicyTypeId = Symbol.for("effect-resilience/Policy") as Policy.PolicyTypeId

/** The same symbol as `Policy.TransformTypeId` (`Symbol.for`). */
export const TransformTypeId: Policy.TransformTypeId = Symbol.for("effect-resilience/Transform") as Policy.TransformTypeId

/** The same symbol as `Policy.DescriptorTypeId` (`Symbol.for`). */
export const DescriptorTypeId: Policy.DescriptorTypeId = Symbol.for(
  "effect-resilience/Descriptor"
) as Policy.DescriptorTypeId

/** The value of a policy's phantom `[PolicyTypeId]` member. */
export const variance = {
  _E: (_: never) => _,
  _R: (_: never) => _,
  _In: (_: unknown) => undefined,
  _AIn: (_: unknown) => undefined
}

/** The value of a transform's phantom `[TransformTypeId]` member. */
export const transformVariance = {
  _A: (_: never) => _,
  _H: (_: unknown) => _,
  _E: (_: never) => _,
  _R: (_: never) => _,
  _In: (_: unknown) => undefined,
  _AIn: (_: unknown) => undefined
}

export const attachDescriptor = (f: Function, descriptor: Policy.Descriptor | undefined): void => {
  if (descriptor !== undefined) {
    Object.defineProperty(f, DescriptorTypeId, { value: descriptor, enumerable: false, configurable: true })
  }
}

export const normalize = (d: Partial<Policy.Descriptor> & { readonly kind: string }): Policy.Descriptor => ({
  kind: d.kind,
  name: d.name,
  options: d.options ?? {},
  children: d.children ?? []
})

/**
 * Attaches the policy type id and a descriptor to an existing function
 * (mutates it). Used by the modules to make callables with extra members.
 */
export const unsafeMakeCallable = <P extends Function>(
  f: P,
  descriptor: Partial<Policy.Descriptor> & { readonly kind: string }
): P => {
  Object.defineProperty(f, PolicyTypeId, { value: variance, enumerable: false })
  attachDescriptor(f, normalize(descriptor))
  return f
}

/** {@link unsafeMakeCallable} for transforms. */
export const unsafeMakeTransformCallable = <P extends Function>(
  f: P,
  descriptor: Partial<Policy.Descriptor> & { readonly kind: string }
): P => {
  Object.defineProperty(f, TransformTypeId, { value: transformVariance, enumerable: false })
  attachDescriptor(f, normalize(descriptor))
  return f
}
