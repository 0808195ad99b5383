/**
 * Policies: the type ids, the phantom variance values and the callable
 * builders every pattern module uses to make its policy
 * (`unsafeMakeCallable`, `unsafeMakeTransformCallable`: not API), and the
 * code of the `Policy` module (`make`, `compose`, `pipeline`, `fromTag`, …).
 *
 * `pipeline` turns durations into timeouts: it is made by `pipelineWith`
 * from the timeout constructor, which `Policy.ts` passes in, so this module
 * (imported by every policy, `Timeout` included) imports no policy: no
 * import cycle.
 *
 * @internal
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { InvalidOptionsError } from "./errors.js"
import type * as Policy from "../Policy.js"
import type * as Timeout from "../Timeout.js"
import * as validate from "./validate.js"

type Descriptor = Policy.Descriptor
type Any = (self: Effect.Effect<any, any, any>) => Effect.Effect<any, any, any>

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

/** Checks the arguments of {@link make} and {@link makeTransform}; throws `InvalidOptionsError`. */
const checkMake = (m: string, f: unknown, descriptor: unknown): void => {
  if (typeof f !== "function") throw validate.invalid(m, "f", f, "a function from Effect to Effect")
  if (descriptor === undefined) return
  const d = validate.options<Partial<Descriptor>>(m, descriptor as Partial<Descriptor>, "descriptor")
  validate.nonEmptyString(m, "descriptor.kind", d.kind)
  if (d.name !== undefined) validate.nonEmptyString(m, "descriptor.name", d.name)
  validate.optionalOptions(m, "descriptor.options", d.options)
  if (d.children !== undefined && !Array.isArray(d.children)) {
    throw validate.invalid(m, "descriptor.children", d.children, "an array of descriptors")
  }
}

/** `Policy.make`. */
export const make = <E2 = never, R2 = never, In = unknown, AIn = unknown>(
  f: <A extends AIn, E extends In, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | E2, R | R2>,
  descriptor?: Partial<Descriptor> & { readonly kind: string }
): Policy.Policy<E2, R2, In, AIn> => {
  checkMake("Policy.make", f, descriptor)
  const policy = ((self: Effect.Effect<any, any, any>) => f(self)) as unknown as Policy.Policy<E2, R2, In, AIn>
  Object.defineProperty(policy, PolicyTypeId, { value: variance, enumerable: false })
  attachDescriptor(policy, descriptor && normalize(descriptor))
  return policy
}

/** `Policy.makeTransform`. */
export const makeTransform = <A2, Handled, E2 = never, R2 = never, In = unknown, AIn = unknown>(
  f: <A extends AIn, E extends In, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, Exclude<E, Handled> | E2, R | R2>,
  descriptor?: Partial<Descriptor> & { readonly kind: string }
): Policy.Transform<A2, Handled, E2, R2, In, AIn> => {
  checkMake("Policy.makeTransform", f, descriptor)
  const t = ((self: Effect.Effect<any, any, any>) => f(self)) as unknown as Policy.Transform<A2, Handled, E2, R2, In, AIn>
  Object.defineProperty(t, TransformTypeId, { value: transformVariance, enumerable: false })
  attachDescriptor(t, descriptor && normalize(descriptor))
  return t
}

/** `Policy.isPolicy`. */
export const isPolicy = (u: unknown): u is Policy.Policy.Any =>
  typeof u === "function" && (PolicyTypeId in u || TransformTypeId in u)

/** `Policy.describe`. */
export const describe = (policy: Function): Descriptor => {
  const d = (policy as any)[DescriptorTypeId] as Descriptor | undefined
  return d ?? { kind: "Function", name: undefined, options: {}, children: [] }
}

/** `Policy.identity`. */
export const identity: Policy.Policy = make((self) => self, { kind: "Identity" })

/** `Policy.compose`. */
export const compose = <const Ps extends ReadonlyArray<Policy.Policy.Like>>(...policies: Ps): Policy.Composed<Ps> => {
  policies.forEach((p, i) => validate.policy("Policy.compose", `policies[${i}]`, p))
  const fs = policies as unknown as ReadonlyArray<Any>
  const run = (self: Effect.Effect<any, any, any>) => {
    let current = self
    for (let i = fs.length - 1; i >= 0; i--) current = fs[i]!(current)
    return current
  }
  const descriptor = { kind: "Compose", children: policies.map(describe) }
  const isTransform = policies.some((p) => TransformTypeId in p)
  return (isTransform ? unsafeMakeTransformCallable(run, descriptor) : unsafeMakeCallable(run, descriptor)) as any
}

/** `Policy.fromTag`. */
export const fromTag = <I, S extends Policy.Policy<any, any, any, any>>(
  tag: Context.Tag<I, S>
): Policy.Policy<Policy.Policy.Error<S>, Policy.Policy.Context<S> | I, Policy.Policy.Input<S>, Policy.Policy.ValueInput<S>> => {
  if (!Context.isTag(tag)) throw validate.invalid("Policy.fromTag", "tag", tag, "a Context.Tag")
  return make<any, any, any>((self) => Effect.flatMap(tag, (policy) => (policy as any)(self)) as any, {
    kind: "FromTag",
    name: tag.key,
    options: { tag: tag.key }
  }) as any
}

/**
 * `Policy.pipeline`, with `makeTimeout` turning the `timeout` and
 * `attemptTimeout` durations into timeouts.
 */
export const pipelineWith = (
  makeTimeout: (duration: Duration.DurationInput, options: Timeout.Timeout.Options) => Timeout.Timeout
) =>
<const O extends Policy.PipelineOptions>(options: O): Policy.Pipeline<O> => {
  const m = "Policy.pipeline"
  const o: Policy.PipelineOptions = validate.options<Policy.PipelineOptions>(m, options)
  const part = (key: "fallback" | "bulkhead" | "circuitBreaker" | "retry"): Policy.Policy.Like | undefined =>
    o[key] === undefined ? undefined : validate.policy<Policy.Policy.Like>(m, key, o[key])
  const asTimeout = (key: "timeout" | "attemptTimeout", scope: "overall" | "attempt"): Policy.Policy.Like | undefined => {
    const value = o[key]
    if (value === undefined) return undefined
    if (isPolicy(value)) return value
    try {
      return makeTimeout(value as Duration.DurationInput, { scope })
    } catch (e) {
      // name the pipeline's option, not the duration Timeout.make was handed
      if (e instanceof InvalidOptionsError) throw validate.invalid(m, key, value, `a Timeout or ${e.expected}`)
      throw e
    }
  }
  const parts = [
    part("fallback"),
    asTimeout("timeout", "overall"),
    part("bulkhead"),
    part("circuitBreaker"),
    part("retry"),
    asTimeout("attemptTimeout", "attempt")
  ].filter((p): p is Policy.Policy.Like => p !== undefined)
  const composed = compose(...parts) as any
  Object.defineProperty(composed, DescriptorTypeId, {
    value: { kind: "Pipeline", name: undefined, options: {}, children: parts.map(describe) },
    enumerable: false,
    configurable: true
  })
  return composed
}
