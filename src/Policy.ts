/**
 * Policies and their composition.
 *
 * A policy is a function from an Effect to an Effect, like `effect/RateLimiter`:
 * `effect.pipe(policy)`, `policy(effect)` and `Policy.compose(a, b, c)` all work.
 *
 * # Order
 *
 * `compose(a, b, c)` applies `a` outermost: `compose(a, b, c)(effect)` is
 * `a(b(c(effect)))`. A call enters `a` first and reaches the effect last.
 * `pipeline` applies the recommended order whatever order its keys are written
 * in: fallback → overall timeout → bulkhead → circuit breaker → retry →
 * attempt timeout → call. See the README for the trade-offs.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/policy.js"
import * as timeout from "./internal/timeout/timeout.js"
import type { Timeout } from "./Timeout.js"

/**
 * The unique symbol that marks the values of this module (`PolicyTypeId in value`).
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const PolicyTypeId: unique symbol = internal.PolicyTypeId

/**
 * The type of {@link PolicyTypeId}.
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type PolicyTypeId = typeof PolicyTypeId

/**
 * The unique symbol that marks the values of this module (`TransformTypeId in value`).
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const TransformTypeId: unique symbol = internal.TransformTypeId

/**
 * The type of {@link TransformTypeId}.
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type TransformTypeId = typeof TransformTypeId

/**
 * The unique symbol that marks the values of this module (`DescriptorTypeId in value`).
 *
 * @since 0.1.0
 * @category Type IDs
 */
export const DescriptorTypeId: unique symbol = internal.DescriptorTypeId

/**
 * The type of {@link DescriptorTypeId}.
 *
 * @since 0.1.0
 * @category Type IDs
 */
export type DescriptorTypeId = typeof DescriptorTypeId

/**
 * A policy: wraps an effect, may add the errors `E2` and the requirements
 * `R2`, never changes the success type and never removes the effect's own
 * errors.
 *
 * `In` constrains the errors of the effects it accepts (it is `unknown`, i.e.
 * anything, unless the policy inspects errors with a typed predicate, as
 * `Retry.policy({ while: (e: MyError) => … })` does).
 *
 * `AIn` constrains their success values the same way: `unknown` unless the
 * policy inspects or keeps values of one type (a predicate on results, a
 * store of values). Applying it to an effect of another success type does
 * not compile. Both constraints are carried by `compose`, `pipeline` and
 * `fromTag`.
 *
 * The phantom member `[PolicyTypeId]` lets TypeScript infer `E2` and `R2` for a
 * callable value that also carries properties (without it, it infers
 * `unknown`).
 *
 * @example
 * ```ts
 * import { Policy } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * // a policy that reads the values it sees: it accepts effects of numbers only
 * const logged: Policy.Policy<never, never, unknown, number> = Policy.make<never, never, unknown, number>(
 *   (self) => Effect.tap(self, (n) => Effect.log(n.toFixed(2))),
 *   { kind: "Logged" }
 * )
 * const ok = Effect.succeed(1).pipe(logged) // Effect<number>
 * // Effect.succeed("one").pipe(logged) // does not compile
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Policy<out E2 = never, out R2 = never, in In = unknown, in AIn = unknown> {
  <A extends AIn, E extends In, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R | R2>
  readonly [PolicyTypeId]: Policy.Variance<E2, R2, In, AIn>
}

/**
 * The types that go with {@link Policy}.
 *
 * @since 0.1.0
 */
export declare namespace Policy {
  /**
   * @since 0.1.0
   * @category Models
   */
  export interface Variance<out E2, out R2, in In, in AIn = unknown> {
    readonly _E: (_: never) => E2
    readonly _R: (_: never) => R2
    readonly _In: (_: In) => void
    readonly _AIn: (_: AIn) => void
  }
  /**
   * Any policy.
   * @since 0.1.0
   * @category Models
   */
  export type Any = Policy<any, any, any, any> | Transform<any, any, any, any, any, any>
  /**
   * A policy or transform, as a constraint that does not steer the inference
   * of generic constructors written inline (`retry: Retry.policy()`).
   * @since 0.1.0
   * @category Models
   */
  export type Like =
    | ((self: any) => any) & { readonly [PolicyTypeId]: unknown }
    | ((self: any) => any) & { readonly [TransformTypeId]: unknown }
  /**
   * The errors a policy or transform adds.
   * @since 0.1.0
   * @category Models
   */
  export type Error<P> = P extends { readonly [PolicyTypeId]: Variance<infer E, any, any> } ? E
    : P extends { readonly [TransformTypeId]: { readonly _E: (_: never) => infer E } } ? E
    : never
  /**
   * The requirements a policy or transform adds.
   * @since 0.1.0
   * @category Models
   */
  export type Context<P> = P extends { readonly [PolicyTypeId]: Variance<any, infer R, any> } ? R
    : P extends { readonly [TransformTypeId]: { readonly _R: (_: never) => infer R } } ? R
    : never
  /**
   * The error constraint of a policy's input (`unknown` unless it inspects errors).
   * @since 0.1.0
   * @category Models
   */
  export type Input<P> = P extends { readonly [PolicyTypeId]: Variance<any, any, infer In, any> } ? In
    : P extends { readonly [TransformTypeId]: { readonly _In: (_: infer In) => void } } ? In
    : unknown
  /**
   * The success-value constraint of a policy's input (`unknown` unless it
   * inspects or keeps values, see {@link Policy}).
   * @since 0.1.0
   * @category Models
   */
  export type ValueInput<P> = P extends { readonly [PolicyTypeId]: Variance<any, any, any, infer AIn> } ? AIn
    : P extends { readonly [TransformTypeId]: { readonly _AIn: (_: infer AIn) => void } } ? AIn
    : unknown
}

/**
 * A transform: like a policy, but it may widen the success type with `A2`
 * and handle (remove) the errors `Handled` — a fallback is one.
 *
 * `In` and `AIn` constrain the errors and the success values of the effects
 * it accepts, as for a {@link Policy}. A transform that serves values of its
 * own type accepts only effects of that type: `Fallback.staleIfError<A>` is
 * a `Transform<A, never, never, never, In, A>` (it may answer with a
 * remembered `A`, so it takes an `Effect<A>` and gives an `Effect<A>`).
 *
 * @since 0.1.0
 * @category Models
 */
export interface Transform<out A2, in out Handled, out E2 = never, out R2 = never, in In = unknown, in AIn = unknown> {
  <A extends AIn, E extends In, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | A2, Exclude<E, Handled> | E2, R | R2>
  readonly [TransformTypeId]: {
    readonly _A: (_: never) => A2
    readonly _H: (_: Handled) => Handled
    readonly _E: (_: never) => E2
    readonly _R: (_: never) => R2
    readonly _In: (_: In) => void
    readonly _AIn: (_: AIn) => void
  }
}

/**
 * What a policy is made of, for tests and diagnostics (Polly.Testing's
 * pipeline descriptor is the model): its kind, name, options and, for a
 * composition, the policies inside it, outermost first.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Descriptor {
  readonly kind: string
  readonly name?: string | undefined
  readonly options: Readonly<Record<string, unknown>>
  readonly children: ReadonlyArray<Descriptor>
}

/**
 * Makes a policy from a function. The function must keep the effect's success
 * type and errors; it may add `E2` and `R2`.
 *
 * @example
 * ```ts
 * import { Policy } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const logged = Policy.make((self) => Effect.tap(self, () => Effect.log("done")), { kind: "Logged" })
 * const program = Effect.succeed(1).pipe(logged)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: <E2 = never, R2 = never, In = unknown, AIn = unknown>(
  f: <A extends AIn, E extends In, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | E2, R | R2>,
  descriptor?: Partial<Descriptor> & { readonly kind: string }
) => Policy<E2, R2, In, AIn> = internal.make

/**
 * Makes a transform (a policy that may change the success type or handle
 * errors, such as a fallback) from a function.
 *
 * @example
 * ```ts
 * import { Policy } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const orZero = Policy.makeTransform<number, unknown>((self) => Effect.orElseSucceed(self, () => 0), { kind: "OrZero" })
 * const n = Effect.fail("boom").pipe(orZero) // Effect<number, never>
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const makeTransform: <A2, Handled, E2 = never, R2 = never, In = unknown, AIn = unknown>(
  f: <A extends AIn, E extends In, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, Exclude<E, Handled> | E2, R | R2>,
  descriptor?: Partial<Descriptor> & { readonly kind: string }
) => Transform<A2, Handled, E2, R2, In, AIn> = internal.makeTransform

/**
 * True for policies and transforms.
 *
 * @example
 * ```ts
 * import { Policy, Timeout } from "effect-resilience"
 *
 * Policy.isPolicy(Timeout.make("1 second")) // true
 * Policy.isPolicy((x: unknown) => x) // false
 * ```
 *
 * @since 0.1.0
 * @category Guards
 */
export const isPolicy: (u: unknown) => u is Policy.Any = internal.isPolicy

/**
 * Describes a policy: its kind, name, options and (for compositions) the
 * policies inside it, outermost first. Plain functions are described as
 * `{ kind: "Function" }`.
 *
 * @example
 * ```ts
 * import { Policy, Retry, Timeout } from "effect-resilience"
 *
 * const p = Policy.compose(Timeout.make("5 seconds"), Retry.policy({ schedule: Retry.constant("100 millis") }))
 * Policy.describe(p).children.map((c) => c.kind) // ["Timeout", "Retry"]
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const describe: (policy: Function) => Descriptor = internal.describe

/**
 * The identity policy: runs the effect unchanged.
 *
 * @since 0.1.0
 * @category Constructors
 */
export const identity: Policy = internal.identity

type Parts = readonly [success: any, handled: any, error: any, context: any, input: any, valueInput: any]

type PartsOf<P> = P extends undefined ? readonly [never, never, never, never, unknown, unknown]
  : P extends { readonly [PolicyTypeId]: Policy.Variance<infer E, infer R, infer In, infer AIn> } ?
    readonly [never, never, E, R, In, AIn]
  : P extends {
    readonly [TransformTypeId]: {
      readonly _A: (_: never) => infer A
      readonly _H: (_: infer H) => any
      readonly _E: (_: never) => infer E
      readonly _R: (_: never) => infer R
      readonly _In: (_: infer In) => void
      readonly _AIn: (_: infer AIn) => void
    }
  } ? readonly [A, H, E, R, In, AIn]
  : never

/** Applies `Outer` around the already composed `Inner`. */
type Combine<Inner extends Parts, Outer extends Parts> = readonly [
  Inner[0] | Outer[0],
  Inner[1] | Outer[1],
  Exclude<Inner[2], Outer[1]> | Outer[2],
  Inner[3] | Outer[3],
  Inner[4] & Outer[4],
  Inner[5] & Outer[5]
]

type Fold<Ps extends ReadonlyArray<unknown>, Acc extends Parts> = Ps extends readonly [...infer Init, infer Last]
  ? Fold<Init, Combine<Acc, PartsOf<Last>>>
  : Acc

type FromParts<P extends Parts> = [P[0]] extends [never] ? [P[1]] extends [never] ? Policy<P[2], P[3], P[4], P[5]>
  : Transform<P[0], P[1], P[2], P[3], P[4], P[5]>
  : Transform<P[0], P[1], P[2], P[3], P[4], P[5]>

/**
 * The policy (or transform) made by composing `Ps`, outermost first.
 *
 * @since 0.1.0
 * @category Models
 */
export type Composed<Ps extends ReadonlyArray<unknown>> = FromParts<
  Fold<Ps, readonly [never, never, never, never, unknown, unknown]>
>

/**
 * Composes policies, the first outermost: `compose(a, b, c)(effect)` is
 * `a(b(c(effect)))`. Accepts transforms (fallbacks) too; the result is a
 * policy when every part is one, a transform otherwise. A part that is not a
 * function throws `InvalidOptionsError` naming its position (`policies[i]`).
 *
 * @example
 * ```ts
 * import { Policy, Retry, Timeout } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const resilient = Policy.compose(
 *   Timeout.make("10 seconds"), // overall
 *   Retry.policy({ schedule: Retry.exponential({ base: "100 millis" }), times: 3 }),
 *   Timeout.make("2 seconds") // per attempt
 * )
 * const program = Effect.succeed("ok").pipe(resilient)
 * ```
 *
 * @since 0.1.0
 * @category Combinators
 */
export const compose: <const Ps extends ReadonlyArray<Policy.Like>>(...policies: Ps) => Composed<Ps> = internal.compose

/**
 * A policy provided by a Layer: the service under `tag` (any policy, e.g. a
 * circuit breaker) is looked up when the effect runs. Lets a module-level
 * `fetchCharge(id).pipe(paymentsPolicy)` work while the Layer decides the
 * instance.
 *
 * @example
 * ```ts
 * import { Policy, Retry } from "effect-resilience"
 * import { Context, Effect, Layer } from "effect"
 *
 * class PaymentsPolicy extends Context.Tag("app/PaymentsPolicy")<PaymentsPolicy, Policy.Policy>() {}
 * const paymentsPolicy = Policy.fromTag(PaymentsPolicy)
 *
 * const charge = Effect.succeed("charged").pipe(paymentsPolicy) // requires PaymentsPolicy
 * const live = Layer.succeed(PaymentsPolicy, Retry.policy({ schedule: Retry.constant("100 millis") }))
 * const program = Effect.provide(charge, live)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const fromTag: <I, S extends Policy<any, any, any, any>>(
  tag: Context.Tag<I, S>
) => Policy<Policy.Error<S>, Policy.Context<S> | I, Policy.Input<S>, Policy.ValueInput<S>> = internal.fromTag

/**
 * The parts of a {@link pipeline}. Each is optional; `timeout` and
 * `attemptTimeout` also accept a duration.
 *
 * @since 0.1.0
 * @category Models
 */
export interface PipelineOptions {
  readonly fallback?: Policy.Like | undefined
  readonly timeout?: Timeout | Duration.DurationInput | undefined
  readonly bulkhead?: Policy.Like | undefined
  readonly circuitBreaker?: Policy.Like | undefined
  readonly retry?: Policy.Like | undefined
  readonly attemptTimeout?: Timeout | Duration.DurationInput | undefined
}

type AsPart<X> = X extends Policy.Like ? X : X extends undefined ? undefined : Timeout

/**
 * The policy made by {@link pipeline}.
 *
 * @since 0.1.0
 * @category Models
 */
export type Pipeline<O extends PipelineOptions> = Composed<
  [
    AsPart<Get<O, "fallback">>,
    AsPart<Get<O, "timeout">>,
    AsPart<Get<O, "bulkhead">>,
    AsPart<Get<O, "circuitBreaker">>,
    AsPart<Get<O, "retry">>,
    AsPart<Get<O, "attemptTimeout">>
  ]
>

type Get<O, K extends string> = O extends { readonly [P in K]: infer V } ? V : undefined

/**
 * Builds the recommended pipeline whatever order the keys are written in:
 * fallback → overall timeout → bulkhead → circuit breaker → retry → attempt
 * timeout → call. A part that is not a policy (or, for the timeouts, a
 * Timeout or a valid duration) throws `InvalidOptionsError` naming its key.
 *
 * - The overall timeout bounds everything, including time queued in the
 *   bulkhead and sleeps between retries; its deadline propagates inward, so
 *   retry never sleeps past it and an attempt timeout never outlives it.
 * - The bulkhead holds one permit for the whole call, retries included.
 * - The breaker sees one outcome per call: a half-open probe is the whole
 *   retry sequence. Compose `Retry` outside the breaker instead (as Polly and
 *   resilience4j users often do) when each attempt should count, and note
 *   that Retry never retries the breaker's own rejections.
 *
 * @example
 * ```ts
 * import { Policy, Retry } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const policy = Policy.pipeline({
 *   retry: Retry.policy({ schedule: Retry.exponential({ base: "50 millis" }), times: 2 }),
 *   timeout: "5 seconds",
 *   attemptTimeout: "1 second"
 * })
 * const program = Effect.succeed(42).pipe(policy)
 * ```
 *
 * @since 0.1.0
 * @category Combinators
 */
export const pipeline: <const O extends PipelineOptions>(options: O) => Pipeline<O> = internal.pipelineWith(timeout.make)
