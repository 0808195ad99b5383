/**
 * The idempotency policy (see the public module for the semantics): one
 * {@link IdempotencyImpl} per policy.
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
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Scope from "effect/Scope"
import type { InvalidKeyError, InvalidOptionsError } from "../../Errors.js"
import type * as I from "../../Idempotency.js"
import { currentDeadline, waitWithin } from "../deadline.js"
import * as EventHub from "../events.js"
import * as Keys from "../keys.js"
import * as metricKeys from "../metricKeys.js"
import * as Spec from "../spec.js"
import * as userCode from "../userCode.js"
import * as validate from "../validate.js"
import type { IdempotencyError } from "./errors.js"
import { MemoryStoreImpl, type Service, storeFor } from "./memoryStore.js"
import * as Options from "./options.js"
import { type Config as Resolved, resolve } from "./options.js"

/** The same symbol as `Idempotency.TypeId` (`Symbol.for`). @internal */
export const TypeId: I.TypeId = Symbol.for("effect-resilience/Idempotency") as I.TypeId

/** @internal */
export const isIdempotency = (u: unknown): u is I.Idempotency<unknown, unknown> => Predicate.hasProperty(u, TypeId)

const executionsKey = MetricKey.counter("resilience_idempotency_executions", {
  description: "Executions started by an idempotency policy",
  incremental: true
})
const joinedKey = MetricKey.counter("resilience_idempotency_joined", {
  description: "Callers that shared an execution in flight",
  incremental: true
})
const replayedKey = MetricKey.counter("resilience_idempotency_replayed", {
  description: "Callers served a stored Exit",
  incremental: true
})
const storeErrorKey = MetricKey.counter("resilience_idempotency_store_errors", {
  description: "Idempotency store failures",
  incremental: true
})
const refusedKey = MetricKey.counter("resilience_idempotency_refused", {
  description: "New keys refused by a full idempotency store (nothing ran)",
  incremental: true
})
const highWaterKey = MetricKey.counter("resilience_idempotency_store_high_water", {
  description: "Times a caller's key took a bounded idempotency store to its high-water mark",
  incremental: true
})

type Outcome = "Success" | "Failure" | "Defect" | "Interrupted"

const outcomeOf = <A, E>(exit: Exit.Exit<A, E>): Outcome => {
  if (Exit.isSuccess(exit)) return "Success"
  if (Cause.isInterruptedOnly(exit.cause)) return "Interrupted"
  return Option.isSome(Cause.failureOption(exit.cause)) ? "Failure" : "Defect"
}

type Acquired = Extract<I.Acquisition, { _tag: "Acquired" }>

/**
 * The state and behaviour of one policy. Counters are plain numbers;
 * `closed` is set first when the policy's scope closes, so callers whose
 * execution is being interrupted stop instead of taking over.
 *
 * @internal
 */
export class IdempotencyImpl<A, E> {
  readonly name: string
  readonly ttl: Duration.Duration
  readonly keyPolicy: Keys.KeyPolicy
  readonly acquireOptions: I.AcquireOptions
  readonly hub = EventHub.make<I.IdempotencyEvent>()
  readonly executionsMetric: Metric.Metric.Counter<number>
  readonly joinedMetric: Metric.Metric.Counter<number>
  readonly replayedMetric: Metric.Metric.Counter<number>
  readonly storeErrorMetric: Metric.Metric.Counter<number>
  readonly refusedMetric: Metric.Metric.Counter<number>
  readonly highWaterMetric: Metric.Metric.Counter<number>
  /** User code: a keepFailures predicate that throws or answers a non-boolean is reported and answers false. */
  readonly keepSite: userCode.Site
  executions = 0
  joined = 0
  replayed = 0
  storeErrors = 0
  refused = 0
  closed = false

  constructor(
    readonly config: Resolved<A, E>,
    readonly store: Service,
    readonly executionScope: Scope.Scope
  ) {
    const name = config.resolved.name
    this.name = name
    this.ttl = config.resolved.ttl
    this.keyPolicy = { kind: "Idempotency", name, maxKeyLength: config.resolved.maxKeyLength }
    this.acquireOptions = { codec: config.codec }
    const tags: metricKeys.Tags = [["policy", name]]
    this.executionsMetric = metricKeys.tagged(executionsKey, tags)
    this.joinedMetric = metricKeys.tagged(joinedKey, tags)
    this.replayedMetric = metricKeys.tagged(replayedKey, tags)
    this.storeErrorMetric = metricKeys.tagged(storeErrorKey, tags)
    this.refusedMetric = metricKeys.tagged(refusedKey, tags)
    this.highWaterMetric = metricKeys.tagged(highWaterKey, tags)
    this.keepSite = userCode.site("Idempotency", name, "keepFailures", "the failure is not kept")
  }

  unsafeStats(): I.Idempotency.Stats {
    return {
      executions: this.executions,
      joined: this.joined,
      replayed: this.replayed,
      storeErrors: this.storeErrors,
      refused: this.refused
    }
  }

  onStoreError(key: string, error: IdempotencyError): Effect.Effect<void> {
    const name = this.name
    if (error.reason === "StoreFull") {
      // a refusal (a rejection), not a failure of the store
      this.refused++
      this.hub.emitWith(() => ({ _tag: "Refused", policy: name, key, error }))
      return Metric.increment(this.refusedMetric)
    }
    this.storeErrors++
    this.hub.emitWith(() => ({ _tag: "StoreError", policy: name, key, error }))
    return Metric.increment(this.storeErrorMetric)
  }

  /** How long to keep an `Exit`: `undefined` to hand it to the waiters only. */
  ttlFor(exit: Exit.Exit<A, E>): Duration.Duration | undefined {
    if (Exit.isSuccess(exit)) return this.ttl
    const failure = Cause.failureOption(exit.cause)
    // typed failures only when asked; defects never (they reach the sharers, but the next call runs again)
    return Option.isSome(failure) && !Cause.isDie(exit.cause) &&
        userCode.predicate(this.keepSite, this.config.keep, failure.value, false)
      ? this.ttl
      : undefined
  }

  /** The execution of an acquired key, detached from the callers; completes (or releases) the key. */
  execute<A2 extends A, E2 extends E, R>(
    key: string,
    storeKey: string,
    effect: Effect.Effect<A2, E2, R>,
    lease: Scope.CloseableScope,
    complete: Acquired["complete"]
  ): Effect.Effect<Exit.Exit<A2, E2>, never, R> {
    const name = this.name
    // detached from the callers: their deadlines bound their waits, not the execution. This runs as
    // the execution's own fiber, and joining it keeps the joiner's deadline (the FiberRef's `join`),
    // so the deadline is cleared for good, not `Effect.locally` (an acquire-use-release per key)
    return Effect.zipRight(
      FiberRef.set(currentDeadline, undefined),
      Effect.ensuring(
        Effect.interruptible(Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(
            Effect.exit(restore(effect)),
            (exit) => {
              const outcome = outcomeOf(exit)
              if (outcome === "Interrupted") {
                // no result: closing the lease releases the key, and a waiter takes over
                this.hub.emitWith(() => ({ _tag: "Completed", policy: name, key, outcome, kept: false }))
                return Effect.succeed(exit)
              }
              const keepFor = this.ttlFor(exit)
              this.hub.emitWith(() => ({ _tag: "Completed", policy: name, key, outcome, kept: keepFor !== undefined }))
              return Effect.as(
                Effect.catchAll(complete(exit, keepFor), (error) => this.onStoreError(key, error)),
                exit
              )
            }
          )
        )),
        Scope.close(lease, Exit.void)
      )
    )
  }

  /**
   * Asks the store for `storeKey` under `lease`. The policy's own memory store takes the lease as
   * an argument; any other store finds it in its context (`Scope.extend`, which costs an
   * acquire-use-release per call). Both answer the same (test/Idempotency.test.ts checks it).
   */
  acquireIn(storeKey: string, lease: Scope.Scope): Effect.Effect<I.Acquisition, IdempotencyError> {
    const store = this.store
    return store instanceof MemoryStoreImpl
      ? store.acquireIn(storeKey, lease)
      : Scope.extend(store.acquire(storeKey, this.acquireOptions), lease)
  }

  /** `run`: a refused key fails before the store is asked (it never shares an entry). */
  run<A2 extends A, E2 extends E, R>(
    key: string,
    effect: Effect.Effect<A2, E2, R>
  ): Effect.Effect<A2, E2 | IdempotencyError | InvalidKeyError, R> {
    if (!Keys.isValid(this.keyPolicy, key)) return Effect.fail(Keys.refuse(this.keyPolicy, key))
    return this.attempt(key, Keys.namespaced(this.name, key), effect)
  }

  /** Acquires the key and replays, joins or executes; again when a joined execution ended without a result. */
  attempt<A2 extends A, E2 extends E, R>(
    key: string,
    storeKey: string,
    effect: Effect.Effect<A2, E2, R>
  ): Effect.Effect<A2, E2 | IdempotencyError, R> {
    return Effect.uninterruptibleMask((restore) => {
      if (this.closed) return Effect.interrupt
      return Effect.flatMap(Scope.make(), (lease) =>
        Effect.matchCauseEffect(this.acquireIn(storeKey, lease), {
          onFailure: (cause) =>
            Effect.zipRight(
              Scope.close(lease, Exit.void),
              Effect.zipRight(
                Option.match(Cause.failureOption(cause), {
                  onNone: () => Effect.void,
                  onSome: (error) => this.onStoreError(key, error)
                }),
                Effect.failCause(cause)
              )
            ),
          onSuccess: (acquisition): Effect.Effect<A2, E2 | IdempotencyError, R> => {
            switch (acquisition._tag) {
              case "Completed":
                return this.replay(key, lease, acquisition.exit as Exit.Exit<A2, E2>)
              case "InFlight":
                return this.join(key, storeKey, effect, lease, acquisition.await, restore)
              case "Acquired":
                return this.executeAcquired(key, storeKey, effect, lease, acquisition, restore)
            }
          }
        }))
    })
  }

  replay<A2, E2>(key: string, lease: Scope.CloseableScope, exit: Exit.Exit<A2, E2>): Effect.Effect<A2, E2> {
    this.replayed++
    this.hub.emitWith(() => ({ _tag: "Replayed", policy: this.name, key }))
    return Effect.zipRight(Effect.zipRight(Scope.close(lease, Exit.void), Metric.increment(this.replayedMetric)), exit)
  }

  join<A2 extends A, E2 extends E, R>(
    key: string,
    storeKey: string,
    effect: Effect.Effect<A2, E2, R>,
    lease: Scope.CloseableScope,
    wait: Effect.Effect<Option.Option<Exit.Exit<unknown, unknown>>, IdempotencyError>,
    restore: <AX, EX, RX>(self: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>
  ): Effect.Effect<A2, E2 | IdempotencyError, R> {
    this.joined++
    this.hub.emitWith(() => ({ _tag: "Joined", policy: this.name, key }))
    return Effect.zipRight(
      Effect.zipRight(Scope.close(lease, Exit.void), Metric.increment(this.joinedMetric)),
      // bounded by the caller's deadline, whatever its interruptibility
      Effect.flatMap(restore(waitWithin(wait)), (result) =>
        // None: the execution ended without a result; try again (and maybe take over), restored: the
        // next attempt's mask must see the caller's interruptibility, not this region's
        Option.isSome(result) ? (result.value as Exit.Exit<A2, E2>) : restore(this.attempt(key, storeKey, effect)))
    )
  }

  executeAcquired<A2 extends A, E2 extends E, R>(
    key: string,
    storeKey: string,
    effect: Effect.Effect<A2, E2, R>,
    lease: Scope.CloseableScope,
    acquisition: Acquired,
    restore: <AX, EX, RX>(self: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>
  ): Effect.Effect<A2, E2, R> {
    const name = this.name
    this.executions++
    this.hub.emitWith(() => ({ _tag: "Executed", policy: name, key }))
    const execution = this.execute(key, storeKey, effect, lease, acquisition.complete)
    const highWater = acquisition.highWater
    if (highWater !== undefined) {
      this.hub.emitWith(() => ({
        _tag: "StoreHighWater",
        policy: name,
        key,
        size: highWater.size,
        maxKeys: highWater.maxKeys
      }))
    }
    return Effect.zipRight(
      highWater === undefined
        ? Metric.increment(this.executionsMetric)
        : Effect.zipRight(Metric.increment(this.executionsMetric), Metric.increment(this.highWaterMetric)),
      Effect.flatMap(
        // the user's work: it keeps the caller's flags (not `background`)
        // eslint-disable-next-line no-restricted-syntax
        Effect.forkIn(execution, this.executionScope),
        // the caller's wait is bounded by its deadline; the execution goes on, detached
        (fiber) => Effect.flatten(restore(waitWithin(Fiber.join(fiber))))
      )
    )
  }

  invalidate(key: string): Effect.Effect<void, IdempotencyError | InvalidKeyError> {
    return Keys.isValid(this.keyPolicy, key)
      ? this.store.invalidate(Keys.namespaced(this.name, key))
      : Effect.fail(Keys.refuse(this.keyPolicy, key))
  }
}

/** The policy value around an implementation. @internal */
export const unsafeMakePolicy = <A, E>(impl: IdempotencyImpl<A, E>): I.Idempotency<A, E> => {
  const run: I.Idempotency<A, E>["run"] = (key, effect) => impl.run(key, effect)
  const execute: I.Idempotency<A, E>["execute"] = dual(
    2,
    <A2 extends A, E2 extends E, R>(self: Effect.Effect<A2, E2, R>, options: { readonly key: string }) =>
      impl.run(options?.key, self)
  )
  const unsafeStats = () => impl.unsafeStats()
  return {
    [TypeId]: TypeId,
    policyName: impl.name,
    options: impl.config.resolved,
    run,
    execute,
    invalidate: (key) => impl.invalidate(key),
    events: impl.hub.stream,
    stats: () => Effect.sync(unsafeStats),
    unsafeStats
  }
}

/** @internal */
export const make = <A, E>(
  options: I.Idempotency.Options<A, E>
): Effect.Effect<I.Idempotency<A, E>, InvalidOptionsError, Scope.Scope> =>
  Effect.flatMap(validate.validated(() => resolve(options)), (config) =>
    Effect.flatMap(storeFor, (store) => {
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
          const impl = new IdempotencyImpl(config, store, executionScope)
          // added after the execution scope, so it runs first when the scope closes: callers
          // whose execution is being interrupted then stop instead of taking over
          return Effect.as(
            Scope.addFinalizer(scope, Effect.sync(() => {
              impl.closed = true
            })),
            unsafeMakePolicy(impl)
          )
        }))
    }))

/** @internal */
export const layer = <Id, S, A = unknown, E = unknown>(
  tag: Context.Tag<Id, S>,
  options: I.Idempotency.Options<A, E>
): Layer.Layer<Id, InvalidOptionsError> =>
  Layer.scoped(tag, make(options) as unknown as Effect.Effect<S, InvalidOptionsError, Scope.Scope>)

/** @internal */
export const config: Config.Config<I.Idempotency.ConfigOptions> = Options.spec.config as Config.Config<any>

/**
 * Reads the data options from `config`, merges the code options given
 * (`code`, named `codeOption` in errors: `layerConfig` calls it `"schemas"`,
 * its name before it took other code options) and makes the policy.
 * @internal
 */
export const fromConfig = <A, E>(
  config: Config.Config.Wrap<I.Idempotency.ConfigOptions>,
  code?: I.Idempotency.CodeOptions<A, E>,
  module = "Idempotency.fromConfig",
  codeOption = "code"
): Effect.Effect<I.Idempotency<A, E>, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> =>
  Effect.flatMap(
    validate.validated(() => validate.options(module, code, codeOption)),
    (code) =>
      Effect.flatMap(
        Spec.readConfig<I.Idempotency.Options<A, E>>(Options.spec, module, config, code),
        (options) => make<A, E>(options)
      )
  )

/** @internal */
export const layerConfig = <Id, S, A = unknown, E = unknown>(
  tag: Context.Tag<Id, S>,
  config: Config.Config.Wrap<I.Idempotency.ConfigOptions>,
  code?: I.Idempotency.CodeOptions<A, E>
): Layer.Layer<Id, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.scoped(
    tag,
    fromConfig(config, code, "Idempotency.layerConfig", "schemas") as unknown as Effect.Effect<
      S,
      InvalidOptionsError | ConfigError.ConfigError,
      Scope.Scope
    >
  )
