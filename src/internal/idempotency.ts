/**
 * The idempotency policy (see the public module for the semantics).
 *
 * A call acquires its key in a scope of its own (the "lease"). If it becomes
 * the executor, the effect runs in a fiber forked into the policy's
 * execution scope, which owns the lease from then on: the caller only joins
 * that fiber, so interrupting the caller never interrupts the execution, and
 * the lease is released (waiters told to take over) only if the execution
 * ends without a result.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type { InvalidKeyError, InvalidOptionsError } from "../Errors.js"
import type * as I from "../Idempotency.js"
import { currentDeadline, waitWithin } from "./deadline.js"
import * as EventHub from "./events.js"
import * as Keys from "./keys.js"
import { IdempotencyError, IdempotencyStore, makeMemoryStore } from "./idempotencyStore.js"
import * as userCode from "./userCode.js"
import * as validate from "./validate.js"

/** The same symbol as `Idempotency.TypeId` (`Symbol.for`). */
export const TypeId: I.TypeId = Symbol.for("effect-resilience/Idempotency") as I.TypeId

/** @internal */
export const DEFAULT_NAME = "idempotency"

const executionsCounter = Metric.counter("resilience_idempotency_executions", {
  description: "Executions started by an idempotency policy",
  incremental: true
})
const joinedCounter = Metric.counter("resilience_idempotency_joined", {
  description: "Callers that shared an execution in flight",
  incremental: true
})
const replayedCounter = Metric.counter("resilience_idempotency_replayed", {
  description: "Callers served a stored Exit",
  incremental: true
})
const storeErrorCounter = Metric.counter("resilience_idempotency_store_errors", {
  description: "Idempotency store failures",
  incremental: true
})
const refusedCounter = Metric.counter("resilience_idempotency_refused", {
  description: "New keys refused by a full idempotency store (nothing ran)",
  incremental: true
})
const highWaterCounter = Metric.counter("resilience_idempotency_store_high_water", {
  description: "Times a caller's key took a bounded idempotency store to its high-water mark",
  incremental: true
})

interface Config<A, E> {
  readonly resolved: I.Idempotency.Resolved
  readonly keep: (error: E) => boolean
  readonly codec: Schema.Schema<Exit.Exit<A, E>, any> | undefined
}

const resolve = <A, E>(options: I.Idempotency.Options<A, E>): Config<A, E> => {
  const m = "Idempotency.make"
  options = validate.options(m, options)
  const ttl = validate.duration(m, "ttl", options.ttl)
  const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
  const keepFailures = options.keepFailures
  let keep: (error: E) => boolean
  // Stryker disable next-line ArrowFunction: equivalent: keep's result is only read as a condition, where undefined is false too
  if (keepFailures === undefined || keepFailures === false) keep = () => false
  else if (keepFailures === true) keep = () => true
  else if (typeof keepFailures === "function") keep = keepFailures
  else throw validate.invalid(m, "keepFailures", keepFailures, "a boolean or a predicate on the error")
  if (options.success !== undefined && !Schema.isSchema(options.success)) {
    throw validate.invalid(m, "success", options.success, "a Schema")
  }
  if (options.failure !== undefined && !Schema.isSchema(options.failure)) {
    throw validate.invalid(m, "failure", options.failure, "a Schema")
  }
  const codec = options.success !== undefined || options.failure !== undefined
    ? Schema.Exit({
      success: (options.success ?? Schema.Unknown) as Schema.Schema<A, any>,
      failure: (options.failure ?? Schema.Unknown) as Schema.Schema<E, any>,
      defect: Schema.Defect
    })
    : undefined
  return {
    resolved: {
      ttl,
      keepFailures: typeof keepFailures === "function" ? "predicate" : keepFailures === true,
      hasSchemas: options.success !== undefined && options.failure !== undefined,
      name,
      maxKeyLength: Keys.maxKeyLengthOption(m, options.maxKeyLength)
    },
    keep,
    codec
  }
}

type Outcome = "Success" | "Failure" | "Defect" | "Interrupted"

const outcomeOf = <A, E>(exit: Exit.Exit<A, E>): Outcome => {
  if (Exit.isSuccess(exit)) return "Success"
  if (Cause.isInterruptedOnly(exit.cause)) return "Interrupted"
  return Option.isSome(Cause.failureOption(exit.cause)) ? "Failure" : "Defect"
}

const build = <A, E>(
  config: Config<A, E>,
  store: I.IdempotencyStore["Type"],
  executionScope: Scope.Scope,
  isClosed: () => boolean
): I.Idempotency<A, E> => {
  const { name, ttl } = config.resolved
  const keyPolicy: Keys.KeyPolicy = { kind: "Idempotency", name, maxKeyLength: config.resolved.maxKeyLength }
  const acquireOptions: I.AcquireOptions = { codec: config.codec }
  const hub = EventHub.make<I.IdempotencyEvent>()
  const executionsMetric = executionsCounter.pipe(Metric.tagged("policy", name))
  const joinedMetric = joinedCounter.pipe(Metric.tagged("policy", name))
  const replayedMetric = replayedCounter.pipe(Metric.tagged("policy", name))
  const storeErrorMetric = storeErrorCounter.pipe(Metric.tagged("policy", name))
  const refusedMetric = refusedCounter.pipe(Metric.tagged("policy", name))
  const highWaterMetric = highWaterCounter.pipe(Metric.tagged("policy", name))
  let executions = 0
  let joined = 0
  let replayed = 0
  let storeErrors = 0
  let refused = 0

  const onStoreError = (key: string, error: IdempotencyError): Effect.Effect<void> => {
    if (error.reason === "StoreFull") {
      // a refusal (a rejection), not a failure of the store
      refused++
      // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
      if (hub.hasSubscribers()) hub.emit({ _tag: "Refused", policy: name, key, error })
      return Metric.increment(refusedMetric)
    }
    storeErrors++
    // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
    if (hub.hasSubscribers()) hub.emit({ _tag: "StoreError", policy: name, key, error })
    return Metric.increment(storeErrorMetric)
  }

  // user code: a keepFailures predicate that throws or answers a non-boolean is reported and answers false
  const keepSite = userCode.site("Idempotency", name, "keepFailures", "the failure is not kept")

  /** How long to keep an `Exit`: `undefined` to hand it to the waiters only. */
  const ttlFor = (exit: Exit.Exit<A, E>): Duration.Duration | undefined => {
    if (Exit.isSuccess(exit)) return ttl
    const failure = Cause.failureOption(exit.cause)
    // typed failures only when asked; defects never (they reach the sharers, but the next call runs again)
    return Option.isSome(failure) && !Cause.isDie(exit.cause) && userCode.predicate(keepSite, config.keep, failure.value, false)
      ? ttl
      : undefined
  }

  const execute = <A2 extends A, E2 extends E, R>(
    key: string,
    storeKey: string,
    effect: Effect.Effect<A2, E2, R>,
    lease: Scope.CloseableScope,
    complete: Extract<I.Acquisition, { _tag: "Acquired" }>["complete"]
  ): Effect.Effect<Exit.Exit<A2, E2>, never, R> =>
    Effect.ensuring(
      Effect.interruptible(Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          // detached from the callers: their deadlines bound their waits, not the execution
          Effect.exit(restore(Effect.locally(effect, currentDeadline, undefined))),
          (exit) => {
            const outcome = outcomeOf(exit)
            if (outcome === "Interrupted") {
              // no result: closing the lease releases the key, and a waiter takes over
              // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
              if (hub.hasSubscribers()) hub.emit({ _tag: "Completed", policy: name, key, outcome, kept: false })
              return Effect.succeed(exit)
            }
            const keepFor = ttlFor(exit)
            // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
            if (hub.hasSubscribers()) {
              hub.emit({ _tag: "Completed", policy: name, key, outcome, kept: keepFor !== undefined })
            }
            return Effect.as(
              Effect.catchAll(complete(exit, keepFor), (error) => onStoreError(storeKey, error)),
              exit
            )
          }
        )
      )),
      Scope.close(lease, Exit.void)
    )

  const run = <A2 extends A, E2 extends E, R>(
    key: string,
    effect: Effect.Effect<A2, E2, R>
  ): Effect.Effect<A2, E2 | IdempotencyError | InvalidKeyError, R> => {
    // refused before the store is asked: an undefined or object key never shares an entry
    if (!Keys.isValid(keyPolicy, key)) return Effect.fail(Keys.refuse(keyPolicy, key))
    const storeKey = Keys.namespaced(name, key)
    const attempt: Effect.Effect<A2, E2 | IdempotencyError, R> = Effect.uninterruptibleMask((restore) => {
      if (isClosed()) return Effect.interrupt
      return Effect.flatMap(Scope.make(), (lease) =>
        Effect.matchCauseEffect(Scope.extend(store.acquire(storeKey, acquireOptions), lease), {
          onFailure: (cause) =>
            Effect.zipRight(
              Scope.close(lease, Exit.void),
              Effect.zipRight(
                Option.match(Cause.failureOption(cause), {
                  onNone: () => Effect.void,
                  onSome: (error) => onStoreError(storeKey, error)
                }),
                Effect.failCause(cause)
              )
            ),
          onSuccess: (acquisition): Effect.Effect<A2, E2 | IdempotencyError, R> => {
            switch (acquisition._tag) {
              case "Completed": {
                replayed++
                // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
                if (hub.hasSubscribers()) hub.emit({ _tag: "Replayed", policy: name, key })
                return Effect.zipRight(
                  Effect.zipRight(Scope.close(lease, Exit.void), Metric.increment(replayedMetric)),
                  acquisition.exit as Exit.Exit<A2, E2>
                )
              }
              case "InFlight": {
                joined++
                // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
                if (hub.hasSubscribers()) hub.emit({ _tag: "Joined", policy: name, key })
                return Effect.zipRight(
                  Effect.zipRight(Scope.close(lease, Exit.void), Metric.increment(joinedMetric)),
                  // bounded by the caller's deadline, whatever its interruptibility
                  Effect.flatMap(restore(waitWithin(acquisition.await)), (result) =>
                    // None: the execution ended without a result; try again (and maybe take over)
                    Option.isSome(result) ? (result.value as Exit.Exit<A2, E2>) : attempt)
                )
              }
              case "Acquired": {
                executions++
                // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
                if (hub.hasSubscribers()) hub.emit({ _tag: "Executed", policy: name, key })
                const execution = execute(key, storeKey, effect, lease, acquisition.complete)
                const highWater = acquisition.highWater
                if (highWater !== undefined && hub.hasSubscribers()) {
                  hub.emit({ _tag: "StoreHighWater", policy: name, key, size: highWater.size, maxKeys: highWater.maxKeys })
                }
                return Effect.zipRight(
                  highWater === undefined
                    ? Metric.increment(executionsMetric)
                    : Effect.zipRight(Metric.increment(executionsMetric), Metric.increment(highWaterMetric)),
                  Effect.flatMap(
                    Effect.forkIn(execution, executionScope),
                    // the caller's wait is bounded by its deadline; the execution goes on, detached
                    (fiber) => Effect.flatten(restore(waitWithin(Fiber.join(fiber))))
                  )
                )
              }
            }
          }
        }))
    })
    return attempt
  }

  const execute_ = (<A2 extends A, E2 extends E, R>(
    selfOrOptions: Effect.Effect<A2, E2, R> | { readonly key: string },
    options?: { readonly key: string }
  ) =>
    options !== undefined
      ? run(options.key, selfOrOptions as Effect.Effect<A2, E2, R>)
      : <A3 extends A, E3 extends E, R3>(self: Effect.Effect<A3, E3, R3>) =>
        run((selfOrOptions as { readonly key: string } | undefined)?.key as string, self)) as I.Idempotency<A, E>["execute"]

  return {
    [TypeId]: TypeId,
    policyName: name,
    options: config.resolved,
    run,
    execute: execute_,
    invalidate: (key) =>
      Keys.isValid(keyPolicy, key) ? store.invalidate(Keys.namespaced(name, key)) : Effect.fail(Keys.refuse(keyPolicy, key)),
    events: hub.stream,
    stats: () => ({ executions, joined, replayed, storeErrors, refused })
  }
}

/** @internal */
export const make = <A, E>(
  options: I.Idempotency.Options<A, E>
): Effect.Effect<I.Idempotency<A, E>, InvalidOptionsError, Scope.Scope> =>
  Effect.flatMap(validate.validated(() => resolve(options)), (config) =>
    Effect.flatMap(Effect.serviceOption(IdempotencyStore), (provided) =>
      Effect.flatMap(
        Option.isSome(provided) ? Effect.succeed(provided.value) : makeMemoryStore(),
        (store) => {
          if (store.persistent && (options.success === undefined || options.failure === undefined)) {
            return Effect.fail(
              validate.invalid(
                "Idempotency.make",
                options.success === undefined ? "success" : "failure",
                undefined,
                "a Schema: the IdempotencyStore in use persists Exits, which needs the success and failure Schemas"
              )
            )
          }
          return Effect.flatMap(Effect.scope, (scope) =>
            Effect.flatMap(Scope.fork(scope, ExecutionStrategy.sequential), (executionScope) => {
              let closed = false
              // added after the execution scope, so it runs first when the scope closes: callers
              // whose execution is being interrupted then stop instead of taking over
              return Effect.as(
                Scope.addFinalizer(scope, Effect.sync(() => {
                  closed = true
                })),
                build(config, store, executionScope, () => closed)
              )
            }))
        }
      )))

/** @internal */
export const makeFromConfig = <A, E>(
  config: Config.Config.Wrap<I.Idempotency.ConfigOptions>,
  schemas?: {
    readonly success?: Schema.Schema<A, any> | Schema.Schema<A, never> | undefined
    readonly failure?: Schema.Schema<E, any> | Schema.Schema<E, never> | undefined
  }
) =>
  Effect.flatMap(
    validate.validated(() => validate.options("Idempotency.layerConfig", schemas, "schemas")),
    (s) => Effect.flatMap(validate.fromConfig("Idempotency.layerConfig", config), (options) => make<A, E>({ ...options, success: s.success, failure: s.failure }))
  )
