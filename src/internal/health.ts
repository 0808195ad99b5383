/**
 * The health monitor: a registry of checks, each run in the background on its
 * own `Schedule`, with the last result of each cached and the aggregate
 * published to subscribers when a status changes.
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { InvalidOptionsError } from "../Errors.js"
import type * as Health from "../Health.js"
import * as TimeoutModule from "../Timeout.js"
import { DEFAULT_MAX_MESSAGE_LENGTH, errorMessage, sanitize } from "./healthMessage.js"
import * as validate from "./validate.js"
import { monotonicMillis, withLongSleeps } from "./time.js"

/** @internal */
export const OutcomeTypeId: Health.OutcomeTypeId = Symbol.for("effect-resilience/Health/Outcome") as Health.OutcomeTypeId

/** @internal */
export const DEFAULT_INTERVAL_MILLIS = 10_000
/** @internal */
export const DEFAULT_TIMEOUT_MILLIS = 2_000

const STATUSES: ReadonlyArray<Health.Status> = ["healthy", "degraded", "unhealthy"]

/** @internal */
export const makeOutcome = (status: Health.Status, message?: string): Health.Outcome => ({
  [OutcomeTypeId]: OutcomeTypeId,
  status,
  message
})

/** @internal */
export const isOutcome = (u: unknown): u is Health.Outcome => Predicate.hasProperty(u, OutcomeTypeId)

/** @internal */
export const isCritical = (critical: boolean | Health.Criticality | undefined): boolean =>
  critical === undefined || critical === true || critical === "critical"

/**
 * The aggregate of some check results: a critical check that is unhealthy
 * makes it unhealthy; a non-critical unhealthy check, or any degraded one,
 * makes it degraded. No checks: healthy.
 *
 * @internal
 */
export const aggregate = (checks: ReadonlyArray<Health.CheckResult>): Health.Status => {
  let status: Health.Status = "healthy"
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
  result: Health.CheckResult
  readonly first: Deferred.Deferred<void>
  /** Completes when the run in flight finishes. */
  current: Deferred.Deferred<void> | undefined
  /** Completes when the run queued behind it finishes. */
  next: Deferred.Deferred<void> | undefined
}

const pendingResult = (def: Definition): Health.CheckResult => ({
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

const signature = (report: Health.Report): string => {
  let s = report.status
  for (const c of report.checks) s += `|${c.name}:${c.status}:${c.pending ? 1 : 0}`
  return s
}

const validateCheck = <E, R>(
  check: Health.Check<E, R>,
  defaults: { readonly interval: Schedule.Schedule<unknown>; readonly timeout: Duration.Duration }
) =>
  validate.validated(() => {
    const m = "Health.register"
    if (check === null || typeof check !== "object" || Array.isArray(check)) {
      throw validate.invalid(m, "check", check, "a check object")
    }
    const name = validate.nonEmptyString(m, "name", check.name)
    if (!Effect.isEffect(check.check)) throw validate.invalid(m, "check", check.check, "an Effect")
    const timeout = check.timeout === undefined ? defaults.timeout : validate.duration(m, "timeout", check.timeout, { allowInfinite: true })
    let schedule = defaults.interval
    if (check.interval !== undefined) {
      schedule = Schedule.isSchedule(check.interval)
        ? (check.interval as Schedule.Schedule<unknown>)
        : Schedule.spaced(validate.duration(m, "interval", check.interval))
    }
    if (
      check.critical !== undefined && typeof check.critical !== "boolean" && check.critical !== "critical" &&
      check.critical !== "non-critical"
    ) {
      throw validate.invalid(m, "critical", check.critical, `a boolean, "critical" or "non-critical"`)
    }
    if (check.trigger !== undefined && !Predicate.hasProperty(check.trigger, Stream.StreamTypeId)) {
      throw validate.invalid(m, "trigger", check.trigger, "a Stream")
    }
    const liveness = validate.optionalBoolean(m, "liveness", check.liveness)
    const readiness = validate.optionalBoolean(m, "readiness", check.readiness)
    return {
      name,
      timeout: TimeoutModule.make(timeout, { name: `health:${name}` }),
      critical: isCritical(check.critical),
      liveness: liveness === true,
      readiness: readiness !== false,
      schedule,
      trigger: check.trigger as Stream.Stream<unknown> | undefined
    }
  })

/** @internal */
export const make = (options: Health.Options = {}): Effect.Effect<Health.Service, InvalidOptionsError, Scope.Scope> =>
  Effect.gen(function*() {
    const defaults = yield* validate.validated(() => {
      const m = "Health.make"
      options = validate.options(m, options)
      const interval = options.interval === undefined
        ? Schedule.spaced(Duration.millis(DEFAULT_INTERVAL_MILLIS))
        : Schedule.isSchedule(options.interval)
        ? (options.interval as Schedule.Schedule<unknown>)
        : Schedule.spaced(validate.duration(m, "interval", options.interval))
      const timeout = options.timeout === undefined
        ? Duration.millis(DEFAULT_TIMEOUT_MILLIS)
        : validate.duration(m, "timeout", options.timeout, { allowInfinite: true })
      const maxMessageLength =
        validate.optionalNumber(m, "maxMessageLength", options.maxMessageLength, { min: 16, integer: true }) ??
          DEFAULT_MAX_MESSAGE_LENGTH
      return { interval, timeout, maxMessageLength }
    })
    const layerScope = yield* Effect.scope
    const clock = yield* Effect.clock
    const entries = new Map<string, Entry>()
    let closed = false

    const snapshot = (filter: (c: Health.CheckResult) => boolean): Health.Report => {
      const checks: Array<Health.CheckResult> = []
      for (const e of entries.values()) if (filter(e.result)) checks.push(e.result)
      return { status: aggregate(checks), checkedAt: clock.unsafeCurrentTimeMillis(), checks }
    }
    const all = () => true
    const published = yield* SubscriptionRef.make<Health.Report>(snapshot(all))
    let lastSignature = signature(snapshot(all))

    const publish = Effect.suspend(() => {
      const report = snapshot(all)
      const sig = signature(report)
      if (sig === lastSignature) return Effect.void
      lastSignature = sig
      return SubscriptionRef.set(published, report)
    })

    const record = (entry: Entry, exit: Exit.Exit<unknown, unknown>, started: number) =>
      Effect.suspend(() => {
        // latency on monotonic time; the check's instant in wall time (shown to people)
        const finished = monotonicMillis(clock)
        let status: Health.Status
        let message: string | undefined
        if (Exit.isSuccess(exit)) {
          if (isOutcome(exit.value)) {
            status = STATUSES.includes(exit.value.status) ? exit.value.status : "unhealthy"
            message = exit.value.message === undefined ? undefined : sanitize(exit.value.message, defaults.maxMessageLength)
          } else {
            status = "healthy"
            message = undefined
          }
        } else {
          status = "unhealthy"
          message = errorMessage(exit.cause, defaults.maxMessageLength)
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
        return Effect.zipRight(Deferred.succeed(entry.first, undefined), publish)
      })

    // One run at a time per check. A run asked for while one is in flight (a
    // trigger firing during a scheduled run, a refresh) is queued once and
    // happens right after it; the caller waits for that run.
    const execute = (entry: Entry, done: Deferred.Deferred<void>): Effect.Effect<void> =>
      Effect.suspend(() => {
        entry.current = done
        const started = monotonicMillis(clock)
        return entry.def.run.pipe(
          entry.def.timeout,
          Effect.exit,
          Effect.flatMap((exit) => record(entry, exit, started)),
          Effect.onExit((exit) =>
            Effect.suspend(() => {
              entry.current = undefined
              const next = entry.next
              entry.next = undefined
              const finish = Deferred.succeed(done, undefined)
              if (next === undefined) return finish
              if (Exit.isSuccess(exit) && entries.get(entry.def.name) === entry) {
                return Effect.zipRight(finish, execute(entry, next))
              }
              return Effect.zipRight(finish, Deferred.succeed(next, undefined))
            })
          )
        )
      })

    const runOnce = (entry: Entry): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (entry.current !== undefined) {
          entry.next ??= Deferred.unsafeMake<void>(FiberId.none)
          return Deferred.await(entry.next)
        }
        return execute(entry, Deferred.unsafeMake<void>(FiberId.none))
      })

    const register = <E, R>(check: Health.Check<E, R>): Effect.Effect<void, InvalidOptionsError, R | Scope.Scope> =>
      Effect.gen(function*() {
        const base = yield* validateCheck(check, defaults)
        const context = yield* Effect.context<R>()
        const def: Definition = {
          ...base,
          run: Effect.provide(check.check, context as Context.Context<R>) as Effect.Effect<unknown, unknown>
        }
        if (closed) return yield* Effect.fail(validate.invalid("Health.register", "name", def.name, "a live Health service (it was closed)"))
        if (entries.has(def.name)) {
          return yield* Effect.fail(validate.invalid("Health.register", "name", def.name, "a name not already registered"))
        }
        const entry: Entry = {
          def,
          result: pendingResult(def),
          first: yield* Deferred.make<void>(),
          current: undefined,
          next: undefined
        }
        entries.set(def.name, entry)
        yield* publish
        // a schedule's sleeps of any length (Effect's live sleep never fires past 2^31-1 ms): see time.ts
        const monitor = withLongSleeps(clock, Effect.repeat(Effect.withClock(runOnce(entry), clock), def.schedule))
        const fibers = [yield* Effect.forkIn(monitor, layerScope)]
        if (def.trigger !== undefined) {
          const trigger = yield* Effect.forkIn(Stream.runForEach(def.trigger, () => runOnce(entry)), layerScope)
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
        yield* Effect.addFinalizer(() =>
          Effect.suspend(() => {
            if (entries.get(def.name) === entry) entries.delete(def.name)
            return Fiber.interruptAll(fibers).pipe(
              Effect.zipRight(Deferred.succeed(entry.first, undefined)),
              Effect.zipRight(publish)
            )
          })
        )
      })

    const awaitFirst = (filter: (c: Health.CheckResult) => boolean) =>
      Effect.suspend(() => {
        const waits: Array<Effect.Effect<void>> = []
        for (const e of entries.values()) if (e.result.pending && filter(e.result)) waits.push(Deferred.await(e.first))
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent: the result of Effect.all is discarded by the zipRight in view either way
        return waits.length === 0 ? Effect.void : Effect.all(waits, { discard: true })
      })

    const view = (filter: (c: Health.CheckResult) => boolean): Effect.Effect<Health.Report> =>
      Effect.zipRight(awaitFirst(filter), Effect.sync(() => snapshot(filter)))

    const refresh = (name?: string): Effect.Effect<Health.Report> =>
      Effect.suspend(() => {
        const targets = [...entries.values()].filter((e) => name === undefined || e.def.name === name)
        return Effect.zipRight(
          // Stryker disable next-line BooleanLiteral: equivalent: the result of forEach is discarded by the zipRight
          Effect.forEach(targets, runOnce, { concurrency: "unbounded", discard: true }),
          Effect.sync(() => snapshot(all))
        )
      })

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        const firsts = [...entries.values()].map((e) => Deferred.succeed(e.first, undefined))
        entries.clear()
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent: a finalizer's result is discarded
        return Effect.all(firsts, { discard: true })
      })
    )

    const service: Health.Service = {
      register,
      report: view(all),
      liveness: view((c) => c.liveness),
      readiness: view((c) => c.readiness),
      changes: published.changes,
      refresh,
      result: (name) => Effect.sync(() => Option.map(Option.fromNullable(entries.get(name)), (e) => e.result)),
      names: Effect.sync(() => [...entries.keys()])
    }
    return service
  })
