/**
 * The health monitor: a registry of checks, each run in the background on its
 * own `Schedule`, with the last result of each cached and the aggregate
 * published to subscribers when a status changes.
 *
 * The code of `Health.ts`: the service's Tag, `HealthImpl` (its state and
 * members), `make`, the layers and the accessors.
 *
 * @internal
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { background } from "../detached.js"
import type { InvalidOptionsError } from "../../Errors.js"
import type * as Api from "../../Health.js"
import type * as TimeoutModule from "../../Timeout.js"
import * as timeout_ from "../timeout/timeout.js"
import { errorMessage, sanitize } from "./message.js"
import * as options_ from "./options.js"
import * as registry from "./registry.js"
import * as Spec from "../spec.js"
import * as validate from "../validate.js"
import { monotonicMillis, withLongSleeps } from "../time.js"

/** @internal */
export const TypeId: Api.TypeId = Symbol.for("effect-resilience/Health") as Api.TypeId

/** @internal */
export const OutcomeTypeId: Api.OutcomeTypeId = Symbol.for("effect-resilience/Health/Outcome") as Api.OutcomeTypeId

const STATUSES: ReadonlyArray<Api.Status> = ["healthy", "degraded", "unhealthy"]

/** @internal */
export const makeOutcome = (status: Api.Status, message?: string): Api.Outcome => ({
  [OutcomeTypeId]: OutcomeTypeId,
  status,
  message
})

/** @internal */
export const isOutcome = (u: unknown): u is Api.Outcome => Predicate.hasProperty(u, OutcomeTypeId)

/** @internal */
export const isHealth = (u: unknown): u is Api.Service => Predicate.hasProperty(u, TypeId)

/** @internal */
export const isCritical = (critical: boolean | Api.Criticality | undefined): boolean =>
  critical === undefined || critical === true || critical === "critical"

/**
 * The aggregate of some check results: a critical check that is unhealthy
 * makes it unhealthy; a non-critical unhealthy check, or any degraded one,
 * makes it degraded. No checks: healthy.
 *
 * @internal
 */
export const aggregate = (checks: ReadonlyArray<Api.CheckResult>): Api.Status => {
  let status: Api.Status = "healthy"
  for (const c of checks) {
    if (c.status === "unhealthy") {
      if (c.critical) return "unhealthy"
      status = "degraded"
    } else if (c.status === "degraded") {
      status = "degraded"
    }
  }
  return status
}

interface Definition {
  readonly name: string
  readonly run: Effect.Effect<unknown, unknown>
  readonly timeout: TimeoutModule.Timeout
  readonly critical: boolean
  readonly liveness: boolean
  readonly readiness: boolean
  readonly schedule: Schedule.Schedule<unknown>
  readonly trigger: Stream.Stream<unknown> | undefined
}

interface Entry {
  readonly def: Definition
  result: Api.CheckResult
  readonly first: Deferred.Deferred<void>
  /** Completes when the run in flight finishes. */
  current: Deferred.Deferred<void> | undefined
  /** Completes when the run queued behind it finishes. */
  next: Deferred.Deferred<void> | undefined
}

const pendingResult = (def: Definition): Api.CheckResult => ({
  name: def.name,
  status: "unhealthy",
  critical: def.critical,
  liveness: def.liveness,
  readiness: def.readiness,
  pending: true,
  latencyMillis: 0,
  lastCheckedAt: undefined,
  consecutiveFailures: 0,
  message: "not checked yet"
})

const signature = (report: Api.Report): string => {
  let s = report.status
  for (const c of report.checks) s += `|${c.name}:${c.status}:${c.pending ? 1 : 0}`
  return s
}

const validateCheck = <E, R>(
  check: Api.Check<E, R>,
  defaults: { readonly interval: Schedule.Schedule<unknown>; readonly timeout: Duration.Duration }
) =>
  validate.validated(() => {
    const r = options_.resolveCheck(check)
    return {
      name: r.name,
      timeout: timeout_.make(r.timeout ?? defaults.timeout, { name: `health:${r.name}` }),
      critical: isCritical(r.critical),
      liveness: r.liveness,
      readiness: r.readiness,
      schedule: r.interval ?? defaults.interval,
      trigger: r.trigger
    }
  })

/**
 * The service's Tag (re-exported as `Health.Health`).
 *
 * @internal
 */
export class Health extends Context.Tag("effect-resilience/Health")<Health, Api.Service>() {}

type Defaults = options_.Resolved

const resolveOptions = (options: Api.Options | undefined): Effect.Effect<Defaults, InvalidOptionsError> =>
  options_.spec.resolveEffect(options)

const all = () => true
const isLive = (c: Api.CheckResult) => c.liveness
const isReady = (c: Api.CheckResult) => c.readiness

/**
 * The health service: the registered checks (`entries`), a monitor fiber per
 * check forked in the scope the service was made in, and the last published
 * report. Its public members are bound once (arrow properties or effects
 * built in the constructor).
 *
 * @internal
 */
export class HealthImpl implements Api.Service {
  readonly [TypeId]: Api.TypeId = TypeId
  private readonly entries = new Map<string, Entry>()
  private closed = false
  private lastSignature: string
  /** Publishes the report when a check's status or the aggregate changed. */
  private readonly publish: Effect.Effect<void>
  readonly report: Effect.Effect<Api.Report>
  readonly liveness: Effect.Effect<Api.Report>
  readonly readiness: Effect.Effect<Api.Report>
  readonly changes: Stream.Stream<Api.Report>
  readonly names: Effect.Effect<ReadonlyArray<string>>

  constructor(
    private readonly defaults: Defaults,
    /** Where the monitors run: the scope the service was made in. */
    private readonly layerScope: Scope.Scope,
    private readonly clock: Clock.Clock,
    private readonly published: SubscriptionRef.SubscriptionRef<Api.Report>
  ) {
    this.lastSignature = signature(this.snapshot(all))
    this.publish = Effect.suspend(() => {
      const report = this.snapshot(all)
      const sig = signature(report)
      if (sig === this.lastSignature) return Effect.void
      this.lastSignature = sig
      return SubscriptionRef.set(this.published, report)
    })
    this.report = this.view(all)
    this.liveness = this.view(isLive)
    this.readiness = this.view(isReady)
    this.changes = published.changes
    this.names = Effect.sync(() => [...this.entries.keys()])
  }

  private snapshot(filter: (c: Api.CheckResult) => boolean): Api.Report {
    const checks: Array<Api.CheckResult> = []
    for (const e of this.entries.values()) if (filter(e.result)) checks.push(e.result)
    return { status: aggregate(checks), checkedAt: this.clock.unsafeCurrentTimeMillis(), checks }
  }

  // --- running checks -------------------------------------------------------

  /** Caches the result of a run that started at `started` (monotonic) and publishes. */
  private record(entry: Entry, exit: Exit.Exit<unknown, unknown>, started: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      const clock = this.clock
      const maxMessageLength = this.defaults.maxMessageLength
      // latency on monotonic time; the check's instant in wall time (shown to people)
      const finished = monotonicMillis(clock)
      let status: Api.Status
      let message: string | undefined
      if (Exit.isSuccess(exit)) {
        if (isOutcome(exit.value)) {
          status = STATUSES.includes(exit.value.status) ? exit.value.status : "unhealthy"
          message = exit.value.message === undefined ? undefined : sanitize(exit.value.message, maxMessageLength)
        } else {
          status = "healthy"
          message = undefined
        }
      } else {
        status = "unhealthy"
        message = errorMessage(exit.cause, maxMessageLength)
      }
      const previous = entry.result
      entry.result = {
        name: entry.def.name,
        status,
        critical: entry.def.critical,
        liveness: entry.def.liveness,
        readiness: entry.def.readiness,
        pending: false,
        latencyMillis: Math.max(0, finished - started),
        lastCheckedAt: clock.unsafeCurrentTimeMillis(),
        consecutiveFailures: status === "healthy" ? 0 : previous.consecutiveFailures + 1,
        message
      }
      return Effect.zipRight(Deferred.succeed(entry.first, undefined), this.publish)
    })
  }

  // One run at a time per check. A run asked for while one is in flight (a
  // trigger firing during a scheduled run, a refresh) is queued once and
  // happens right after it; the caller waits for that run.
  private execute(entry: Entry, done: Deferred.Deferred<void>): Effect.Effect<void> {
    return Effect.suspend(() => {
      entry.current = done
      const started = monotonicMillis(this.clock)
      return entry.def.run.pipe(
        entry.def.timeout,
        Effect.exit,
        Effect.flatMap((exit) => this.record(entry, exit, started)),
        Effect.onExit((exit) =>
          Effect.suspend(() => {
            entry.current = undefined
            const next = entry.next
            entry.next = undefined
            const finish = Deferred.succeed(done, undefined)
            if (next === undefined) return finish
            if (Exit.isSuccess(exit) && this.entries.get(entry.def.name) === entry) {
              return Effect.zipRight(finish, this.execute(entry, next))
            }
            return Effect.zipRight(finish, Deferred.succeed(next, undefined))
          })
        )
      )
    })
  }

  private runOnce(entry: Entry): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (entry.current !== undefined) {
        entry.next ??= Deferred.unsafeMake<void>(FiberId.none)
        return Deferred.await(entry.next)
      }
      return this.execute(entry, Deferred.unsafeMake<void>(FiberId.none))
    })
  }

  // --- registering ----------------------------------------------------------

  readonly register = <E, R>(check: Api.Check<E, R>): Effect.Effect<void, InvalidOptionsError, R | Scope.Scope> => {
    return Effect.gen(this, function*() {
      const base = yield* validateCheck(check, this.defaults)
      const context = yield* Effect.context<R>()
      const def: Definition = {
        ...base,
        run: Effect.provide(check.check, context as Context.Context<R>) as Effect.Effect<unknown, unknown>
      }
      if (this.closed) {
        return yield* Effect.fail(validate.invalid("Health.register", "name", def.name, "a live Health service (it was closed)"))
      }
      if (this.entries.has(def.name)) {
        return yield* Effect.fail(validate.invalid("Health.register", "name", def.name, "a name not already registered"))
      }
      const entry: Entry = {
        def,
        result: pendingResult(def),
        first: yield* Deferred.make<void>(),
        current: undefined,
        next: undefined
      }
      // from here to the finalizer, nothing interruptible: an interruption in between would leave
      // the name taken for good (no finalizer to give it back)
      yield* Effect.uninterruptible(Effect.gen(this, function*() {
        this.entries.set(def.name, entry)
        yield* this.publish
        const fibers = yield* this.monitor(entry)
        yield* Effect.addFinalizer(() => this.unregister(entry, fibers))
      }))
    })
  }

  /** Forks the check's monitor (on its schedule) and its trigger, if any, in the service's scope. */
  private monitor(entry: Entry): Effect.Effect<Array<Fiber.RuntimeFiber<unknown, unknown>>> {
    return Effect.gen(this, function*() {
      const def = entry.def
      const clock = this.clock
      // a schedule's sleeps of any length (Effect's live sleep never fires past 2^31-1 ms): see time.ts
      const monitor = withLongSleeps(clock, Effect.repeat(Effect.withClock(this.runOnce(entry), clock), def.schedule))
      const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = [yield* Effect.forkIn(background(monitor), this.layerScope)]
      if (def.trigger !== undefined) {
        const trigger = yield* Effect.forkIn(background(Stream.runForEach(def.trigger, () => this.runOnce(entry))), this.layerScope)
        fibers.push(trigger)
        // let the trigger's stream start and subscribe to its source (the fiber
        // suspends waiting for the first element) before registering returns,
        // so that nothing emitted after `register` is missed
        // Stryker disable next-line UpdateOperator: equivalent: the loop always ends at the break (the trigger fiber stops being Running as soon as it has run once, even for a stream that never waits); the bound of 100 is a defensive cap never reached
        for (let i = 0; i < 100; i++) {
          const status = yield* Fiber.status(trigger)
          if (status._tag !== "Running") break
          yield* Effect.yieldNow()
        }
      }
      return fibers
    })
  }

  private unregister(entry: Entry, fibers: ReadonlyArray<Fiber.RuntimeFiber<unknown, unknown>>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.entries.get(entry.def.name) === entry) this.entries.delete(entry.def.name)
      return Fiber.interruptAll(fibers).pipe(
        Effect.zipRight(Deferred.succeed(entry.first, undefined)),
        Effect.zipRight(this.publish)
      )
    })
  }

  // --- reading --------------------------------------------------------------

  private awaitFirst(filter: (c: Api.CheckResult) => boolean): Effect.Effect<void> {
    return Effect.suspend(() => {
      const waits: Array<Effect.Effect<void>> = []
      for (const e of this.entries.values()) if (e.result.pending && filter(e.result)) waits.push(Deferred.await(e.first))
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent: the result of Effect.all is discarded by the zipRight in view either way
      return waits.length === 0 ? Effect.void : Effect.all(waits, { discard: true })
    })
  }

  private view(filter: (c: Api.CheckResult) => boolean): Effect.Effect<Api.Report> {
    return Effect.zipRight(this.awaitFirst(filter), Effect.sync(() => this.snapshot(filter)))
  }

  readonly refresh = (name?: string): Effect.Effect<Api.Report> =>
    Effect.suspend(() => {
      const targets = [...this.entries.values()].filter((e) => name === undefined || e.def.name === name)
      return Effect.zipRight(
        // Stryker disable next-line BooleanLiteral: equivalent: the result of forEach is discarded by the zipRight
        Effect.forEach(targets, (entry) => this.runOnce(entry), { concurrency: "unbounded", discard: true }),
        Effect.sync(() => this.snapshot(all))
      )
    })

  readonly result = (name: string): Effect.Effect<Option.Option<Api.CheckResult>> =>
    Effect.sync(() => Option.map(Option.fromNullable(this.entries.get(name)), (e) => e.result))

  /** Closes the service (its scope's finalizer): no more registrations; every first run awaited is over. */
  close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closed = true
      const firsts = [...this.entries.values()].map((e) => Deferred.succeed(e.first, undefined))
      this.entries.clear()
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent: a finalizer's result is discarded
      return Effect.all(firsts, { discard: true })
    })
  }
}

/** @internal */
export const make = (options: Api.Options = {}): Effect.Effect<Api.Service, InvalidOptionsError, Scope.Scope> =>
  Effect.gen(function*() {
    const defaults = yield* resolveOptions(options)
    const layerScope = yield* Effect.scope
    const clock = yield* Effect.clock
    const published = yield* SubscriptionRef.make<Api.Report>({
      status: "healthy",
      checkedAt: clock.unsafeCurrentTimeMillis(),
      checks: []
    })
    const health = new HealthImpl(defaults, layerScope, clock, published)
    yield* Effect.addFinalizer(() => health.close())
    return health
  })

// ---------------------------------------------------------------------------
// Layers and accessors
// ---------------------------------------------------------------------------

/** The service `made` and a policy registry feeding it. */
const layerOf = <E>(
  made: Effect.Effect<Api.Service, E, Scope.Scope>
): Layer.Layer<Health | registry.PolicyRegistry, E> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const health = yield* made
      const policies = yield* registry.make(Option.some(health))
      return Context.make(Health, health).pipe(Context.add(registry.PolicyRegistry, policies))
    })
  )

/** @internal */
export const layer = (options?: Api.Options): Layer.Layer<Health | registry.PolicyRegistry, InvalidOptionsError> =>
  layerOf(make(options))

/** @internal */
export const config: Config.Config<Api.ConfigOptions> = options_.spec.config as Config.Config<any>

/** @internal */
export const fromConfig = (
  config: Config.Config.Wrap<Api.ConfigOptions>,
  code?: Api.CodeOptions,
  module = "Health.fromConfig"
): Effect.Effect<Api.Service, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> =>
  Effect.flatMap(Spec.readConfig<Api.Options>(options_.spec, module, config, code), make)

/** @internal */
export const layerConfig = (
  config: Config.Config.Wrap<Api.ConfigOptions>,
  code?: Api.CodeOptions
): Layer.Layer<Health | registry.PolicyRegistry, InvalidOptionsError | ConfigError.ConfigError> =>
  layerOf(fromConfig(config, code, "Health.layerConfig"))

/** @internal */
export const register = <E, R>(
  check: Api.Check<E, R>
): Effect.Effect<void, InvalidOptionsError, Health | R | Scope.Scope> =>
  Effect.flatMap(Health, (health) => health.register(check))

/** @internal */
export const layerCheck = <E, R>(check: Api.Check<E, R>): Layer.Layer<never, InvalidOptionsError, Health | R> =>
  Layer.scopedDiscard(register(check))

/** @internal */
export const report: Effect.Effect<Api.Report, never, Health> = Effect.flatMap(Health, (h) => h.report)

/** @internal */
export const liveness: Effect.Effect<Api.Report, never, Health> = Effect.flatMap(Health, (h) => h.liveness)

/** @internal */
export const readiness: Effect.Effect<Api.Report, never, Health> = Effect.flatMap(Health, (h) => h.readiness)

/** @internal */
export const toJson = (
  report: Api.Report,
  options: { readonly details?: boolean | undefined } = {}
): Record<string, unknown> => {
  if (!options_.toJsonSpec.resolve(options).details) return { status: report.status }
  const checks: Record<string, unknown> = {}
  for (const c of report.checks) {
    checks[c.name] = {
      status: c.status,
      critical: c.critical,
      ...(c.pending ? { pending: true } : {}),
      latencyMs: c.latencyMillis,
      lastCheckedAt: c.lastCheckedAt === undefined ? null : new Date(c.lastCheckedAt).toISOString(),
      consecutiveFailures: c.consecutiveFailures,
      ...(c.message === undefined ? {} : { message: c.message })
    }
  }
  return { status: report.status, checkedAt: new Date(report.checkedAt).toISOString(), checks }
}

/** @internal */
export const healthy = (message?: string): Api.Outcome => makeOutcome("healthy", message)

/** @internal */
export const degraded = (message?: string): Api.Outcome => makeOutcome("degraded", message)

/** @internal */
export const unhealthy = (message?: string): Api.Outcome => makeOutcome("unhealthy", message)
