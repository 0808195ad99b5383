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
import * as Spec from "./spec.js"
import * as timeoutOptions from "./timeout/options.js"
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

/** An object (not an array, a `Duration`, an `Effect`, …): what `validate.options` accepts. */
const isObject = (u: unknown): boolean => {
  try {
    validate.options("", u as object)
    return u !== undefined
  } catch {
    return false
  }
}

/**
 * The arguments of `Policy.make` and `Policy.makeTransform`: the function,
 * and the descriptor that `Policy.describe` returns.
 *
 * @internal
 */
export const makeSpec = Spec.struct<{
  readonly f: Function
  readonly descriptor?: Partial<Descriptor> & { readonly kind: string }
}>()("Policy.make", {
  f: Spec.func<Function>("a function from Effect to Effect").required(),
  descriptor: Spec.optionalGroup({
    kind: Spec.string().required(),
    name: Spec.string(),
    options: Spec.code<Readonly<Record<string, unknown>>>("an object", isObject).doc("{}"),
    children: Spec.code<ReadonlyArray<Descriptor>>("an array of descriptors", Array.isArray).doc("[]")
  })
})

/** Checks the arguments of {@link make} and {@link makeTransform}; throws `InvalidOptionsError`. */
const checkMake = (m: string, f: unknown, descriptor: unknown): void => {
  makeSpec.resolve({ f, descriptor }, m)
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

/** A part of a pipeline given as a policy. */
const part = Spec.code<Policy.Policy.Like>(
  "a policy (a function from Effect to Effect)",
  (u) => typeof u === "function"
)

/** A pipeline's timeout: a policy (a `Timeout`) as is, or a duration `Timeout.make` accepts (checked as it checks it). */
const timeoutPart: Spec.Field<Policy.Policy.Like | Duration.Duration | undefined> = new Spec.Field<
  Policy.Policy.Like | Duration.Duration | undefined
>({
  ...(timeoutOptions.duration.props as Spec.Field<any>["props"]),
  required: false,
  expected: `a Timeout or ${timeoutOptions.duration.props.expected}`,
  parse: (m: string, o: string, v: unknown) => {
    if (isPolicy(v)) return v
    try {
      return timeoutOptions.duration.props.parse(m, o, v)
    } catch (e) {
      // name the pipeline's option, not the duration Timeout.make would be handed
      if (e instanceof InvalidOptionsError) throw validate.invalid(m, o, v, `a Timeout or ${e.expected}`)
      throw e
    }
  }
})

/**
 * The options of `Policy.pipeline`: its parts, policies (code) and the
 * timeouts' durations. No `Config`: the parts are policy instances, each
 * read from `Config` by its own module (`Timeout.layerConfig`, …).
 *
 * @internal
 */
export const pipelineSpec = Spec.struct<Policy.PipelineOptions>()("Policy.pipeline", {
  fallback: part,
  timeout: timeoutPart,
  bulkhead: part,
  circuitBreaker: part,
  retry: part,
  attemptTimeout: timeoutPart
})

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [pipelineSpec, makeSpec]

/**
 * `Policy.pipeline`, with `makeTimeout` turning the `timeout` and
 * `attemptTimeout` durations into timeouts.
 */
export const pipelineWith = (
  makeTimeout: (duration: Duration.DurationInput, options: Timeout.Timeout.Options) => Timeout.Timeout
) =>
<const O extends Policy.PipelineOptions>(options: O): Policy.Pipeline<O> => {
  const o = pipelineSpec.resolve(options)
  const asTimeout = (
    value: Policy.Policy.Like | Duration.Duration | undefined,
    scope: "overall" | "attempt"
  ): Policy.Policy.Like | undefined =>
    value === undefined || isPolicy(value) ? value as Policy.Policy.Like | undefined :
    makeTimeout(value as Duration.Duration, { scope })
  const parts = [
    o.fallback,
    asTimeout(o.timeout, "overall"),
    o.bulkhead,
    o.circuitBreaker,
    o.retry,
    asTimeout(o.attemptTimeout, "attempt")
  ].filter((p): p is Policy.Policy.Like => p !== undefined)
  const composed = compose(...parts) as any
  Object.defineProperty(composed, DescriptorTypeId, {
    value: { kind: "Pipeline", name: undefined, options: {}, children: parts.map(describe) },
    enumerable: false,
    configurable: true
  })
  return composed
}
