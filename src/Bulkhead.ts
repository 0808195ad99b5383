/**
 * Bulkheads: limit how many calls run at once, queue a bounded number of
 * callers in FIFO order, and shed the rest with {@link BulkheadFullError}.
 *
 * A bulkhead is a semaphore — a herd-free FIFO one: a release hands the permit
 * to exactly the caller at the head of the queue, in O(1), however many are
 * waiting (Effect 3.22's own `Semaphore` wakes every waiter on each release,
 * so thousands of queued callers take seconds and gigabytes).
 *
 * - Calls beyond `maxConcurrent` wait in a FIFO queue of at most `maxQueue`
 *   callers (default 0: no queue, as in Polly, resilience4j and cockatiel);
 *   beyond it they are rejected at once with reason `"QueueFull"`.
 * - A queued caller waits at most `maxWait`, then is rejected with reason
 *   `"MaxWaitExceeded"`.
 * - Inside a timeout (an overall `Timeout` or `Policy.pipeline`'s `timeout`) a
 *   queued caller never waits past the enclosing deadline: its wait is bounded
 *   by the earlier of `maxWait` and the deadline, and when the deadline comes
 *   first (or at the same instant) it leaves the queue and fails with the
 *   outer timeout's own `TimeoutError` — the real cause, never a
 *   `BulkheadFullError`. The bulkhead's own timer does it, so the bound holds
 *   inside `Effect.uninterruptible` too, where the timeout cannot interrupt
 *   the caller. A caller in a fork that outlived its timeout is bounded by its
 *   `maxWait` only.
 * - Permits are always released: on success, failure, defect and
 *   interruption; a caller interrupted while queued leaves the queue, one
 *   interrupted just after being handed a permit gives it back.
 * - `execute(self, { key })` partitions the bulkhead: one queue and one set of
 *   `maxConcurrent` permits per key (per host, per tenant). A partition exists
 *   only while it has running or queued calls: it is dropped as soon as it
 *   becomes idle, so memory is bounded by the calls in flight, whatever the
 *   number of keys (key strings: at most calls in flight × `maxKeyLength` ×
 *   2 bytes). A key must be a well-formed string of at most `maxKeyLength`
 *   UTF-16 code units (1,024 by default); any other key fails with
 *   `InvalidKeyError` before a permit is taken. A keyed partition is never
 *   the default one, whatever its key.
 *
 * @since 0.1.0
 */
import type * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { BulkheadRejectionReason, InvalidKeyError, InvalidOptionsError } from "./Errors.js"
import { BulkheadFullError } from "./Errors.js"
import { active as activeDeadline, currentDeadline, type Deadline } from "./internal/deadline.js"
import { monotonicMillis, sleepOn } from "./internal/time.js"
import * as EventHub from "./internal/events.js"
import * as Keys from "./internal/keys.js"
import { FifoSemaphore, Waiter } from "./internal/semaphore.js"
import * as validate from "./internal/validate.js"
import type { Policy } from "./Policy.js"
import { unsafeMakeCallable } from "./internal/policy.js"

export {
  /**
   * @since 0.1.0
   * @category Errors
   */
  BulkheadFullError,
  /**
   * @since 0.1.0
   * @category Models
   */
  type BulkheadRejectionReason,
  /**
   * A partition key the bulkhead refused (see `Errors.InvalidKeyError`):
   * raised before any permit is taken.
   *
   * @since 0.1.0
   * @category Errors
   */
  InvalidKeyError
} from "./Errors.js"

/**
 * A bulkhead: a policy that runs at most `maxConcurrent` calls at once and
 * adds {@link BulkheadFullError} to the error channel (nothing to the
 * requirements).
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 10, maxQueue: 100, maxWait: "2 seconds" })
 *   const user = yield* Effect.succeed({ id: 1 }).pipe(bulkhead) // Effect<{ id: number }, BulkheadFullError>
 *   const perHost = yield* bulkhead.execute(Effect.succeed("ok"), { key: "api.example.com" })
 *   return bulkhead.stats() // { active: 0, queued: 0, maxConcurrent: 10, maxQueue: 100 }
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export interface Bulkhead extends Policy<BulkheadFullError> {
  /** The policy's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  /** The options the bulkhead was made with. */
  readonly options: Bulkhead.Options
  /**
   * Runs `self` in the partition of `key` (its own permits and queue, with the
   * same limits); without a key (or with `key: undefined`), in the default
   * partition the callable form uses. A key the bulkhead refuses (not a
   * well-formed string of at most `maxKeyLength` code units) fails with
   * `InvalidKeyError` before any permit is taken.
   */
  readonly execute: {
    <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFullError, R>
    <A, E, R>(
      self: Effect.Effect<A, E, R>,
      options: Bulkhead.ExecuteOptions | undefined
    ): Effect.Effect<A, E | BulkheadFullError | InvalidKeyError, R>
  }
  /** Running and queued calls of a partition right now (the default one without a key). */
  readonly stats: (key?: string | undefined) => Bulkhead.Stats
  /** Running and queued calls across all partitions right now. */
  readonly totals: () => Bulkhead.Totals
  /**
   * Sets `maxConcurrent` for every partition, present and future. Growing
   * admits queued callers at once; shrinking never interrupts running calls:
   * new callers wait until enough of them finish.
   */
  readonly resize: (maxConcurrent: number) => Effect.Effect<void, InvalidOptionsError>
  /** What the bulkhead did, as a `Stream` (one bounded buffer per subscriber). */
  readonly events: Stream.Stream<BulkheadEvent>
}

/**
 * @since 0.1.0
 */
export declare namespace Bulkhead {
  /**
   * Options of {@link make}.
   *
   * @example
   * ```ts
   * import { Bulkhead } from "effect-resilience"
   *
   * const options: Bulkhead.Bulkhead.Options = {
   *   maxConcurrent: 10, // required
   *   maxQueue: 100, // default 0: no queue
   *   maxWait: "2 seconds", // default: no limit
   *   name: "payments" // default "bulkhead"
   * }
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Options {
    /** Calls running at once (per partition), an integer >= 1. */
    readonly maxConcurrent: number
    /**
     * Callers that may wait for a permit (per partition), an integer >= 0 or
     * `Infinity`. Defaults to 0: no queue, a call that finds no free permit is
     * rejected at once (as in Polly, resilience4j and cockatiel).
     */
    readonly maxQueue?: number | undefined
    /**
     * How long a queued caller waits for a permit before it is rejected with
     * reason `"MaxWaitExceeded"`. Defaults to no limit (an enclosing timeout
     * still bounds the wait).
     */
    readonly maxWait?: Duration.DurationInput | undefined
    /** A name for errors, metrics, events and descriptors. Defaults to `"bulkhead"`. */
    readonly name?: string | undefined
    /**
     * How often the `resilience_bulkhead_active` and `_queued` gauges are
     * published (they are polled, so the call path pays nothing for them).
     * Defaults to 1 second; `Duration.infinity` turns the gauges off.
     */
    readonly metricsInterval?: Duration.DurationInput | undefined
    /**
     * The longest partition key accepted, in UTF-16 code units: an integer in
     * [1, 16,383]. Defaults to 1,024. Longer keys fail with `InvalidKeyError`.
     */
    readonly maxKeyLength?: number | undefined
  }

  /**
   * Options of `execute`.
   *
   * @example
   * ```ts
   * import { Bulkhead } from "effect-resilience"
   * import { Effect } from "effect"
   *
   * const perHost = (bulkhead: Bulkhead.Bulkhead, host: string) =>
   *   bulkhead.execute(Effect.succeed(`GET https://${host}/`), { key: host })
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface ExecuteOptions {
    /**
     * The partition: calls with different keys never share permits or queues,
     * nor with the default partition. A well-formed string of at most
     * `maxKeyLength` code units; `undefined` is the default partition.
     */
    readonly key?: string | undefined
  }

  /**
   * A partition's state.
   *
   * @example
   * ```ts
   * import type { Bulkhead } from "effect-resilience"
   *
   * const saturated = (stats: Bulkhead.Bulkhead.Stats) => stats.active >= stats.maxConcurrent && stats.queued > 0
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Stats {
    /** Permits held: calls running (or admitted and about to run). */
    readonly active: number
    /** Callers waiting for a permit. */
    readonly queued: number
    readonly maxConcurrent: number
    readonly maxQueue: number
  }

  /**
   * The state of the whole bulkhead.
   *
   * @example
   * ```ts
   * import type { Bulkhead } from "effect-resilience"
   *
   * const describe = (t: Bulkhead.Bulkhead.Totals) => `${t.active} running, ${t.queued} queued, ${t.partitions} keys`
   * ```
   *
   * @since 0.1.0
   * @category Models
   */
  export interface Totals {
    readonly active: number
    readonly queued: number
    /** Keyed partitions alive (with running or queued calls), the default one excluded. */
    readonly partitions: number
  }
}

/**
 * What a bulkhead did: admitted a call (`waited` is zero unless it queued),
 * queued one, or rejected one.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 5, maxQueue: 50 })
 *   yield* bulkhead.events.pipe(
 *     Stream.filter((e) => e._tag === "Rejected"),
 *     Stream.runForEach((e) => Effect.logWarning(`shed a call: ${e._tag === "Rejected" ? e.reason : ""}`)),
 *     Effect.forkScoped
 *   )
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export type BulkheadEvent =
  | {
    readonly _tag: "Permitted"
    readonly policy: string
    readonly key: string | undefined
    /** How long the call waited in the queue. */
    readonly waited: Duration.Duration
    readonly active: number
    readonly queued: number
  }
  | {
    readonly _tag: "Queued"
    readonly policy: string
    readonly key: string | undefined
    readonly active: number
    /** Queue length including this caller. */
    readonly queued: number
  }
  | {
    readonly _tag: "Rejected"
    readonly policy: string
    readonly key: string | undefined
    readonly reason: BulkheadRejectionReason
    readonly error: BulkheadFullError
  }

const DEFAULT_MAX_QUEUE = 0
const DEFAULT_NAME = "bulkhead"
const DEFAULT_METRICS_INTERVAL = Duration.seconds(1)

const activeGauge = Metric.gauge("resilience_bulkhead_active", {
  description: "Calls holding a permit of a bulkhead (all partitions), polled"
})
const queuedGauge = Metric.gauge("resilience_bulkhead_queued", {
  description: "Callers waiting for a permit of a bulkhead (all partitions), polled"
})
const rejectionsCounter = Metric.counter("resilience_bulkhead_rejections", {
  description: "Calls rejected by a bulkhead",
  incremental: true
})

interface Releaser {
  readonly onFailure: (cause: any) => Effect.Effect<never, any>
  readonly onSuccess: (a: any) => Effect.Effect<any>
}

/** One partition: a semaphore and the handlers that release its permit. */
class Partition {
  readonly semaphore: FifoSemaphore
  readonly releaser: Releaser
  constructor(readonly key: string | undefined, permits: number, onRelease: (partition: Partition) => void) {
    this.semaphore = new FifoSemaphore(permits)
    this.releaser = {
      onFailure: (cause) => {
        onRelease(this)
        return Exit.failCause(cause)
      },
      onSuccess: (a) => {
        onRelease(this)
        return Exit.succeed(a)
      }
    }
  }
}

/** A queued caller; also linked into the bulkhead's list of timed waiters. */
class BulkheadWaiter extends Waiter {
  /** Links of the timed list (only when `timed`). */
  tprev: BulkheadWaiter | undefined = undefined
  tnext: BulkheadWaiter | undefined = undefined
  constructor(
    readonly partition: Partition,
    readonly enqueuedAt: number,
    /** When the wait runs out, in monotonic millis (only meaningful when `timed`). */
    public expiresAt: number,
    public timed: boolean,
    /** The enclosing deadline, when it runs out before `maxWait` (the wait then fails with its error). */
    public deadline: Deadline | undefined,
    /** When `maxWait` runs out (Infinity without one). */
    readonly ownExpiry: number,
    private readonly granted: (waiter: BulkheadWaiter) => void
  ) {
    super(1)
  }
  override onGrant(): void {
    this.granted(this)
  }
}

/**
 * Makes a bulkhead in the current scope. Fails with `InvalidOptionsError`
 * (naming the option and its range) for invalid options.
 *
 * The call path keeps plain counters: no `Metric` update, no fork, no
 * `Deferred` and no timer when a permit is free. Queued callers share one
 * timer fiber per bulkhead for `maxWait` and enclosing deadlines (kept in
 * expiry order), and the `active`/`queued` gauges are published by a polling fiber;
 * both live in the scope: use the bulkhead within it (once the scope closes,
 * calls still run and release their permits, but `maxWait` is no longer
 * enforced and the gauges are no longer published). Rejections increment
 * `resilience_bulkhead_rejections` (tagged `policy` and `reason`).
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 10, maxWait: "1 second", name: "db" })
 *   const query = (id: number) => Effect.sleep("100 millis").pipe(Effect.as(id), bulkhead)
 *   // 5 queries, at most 2 at a time; the rest wait in FIFO order
 *   return yield* Effect.all([1, 2, 3, 4, 5].map(query), { concurrency: "unbounded" })
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = (options: Bulkhead.Options): Effect.Effect<Bulkhead, InvalidOptionsError, Scope.Scope> =>
  Effect.flatMap(
    validate.validated(() => {
      const m = "Bulkhead.make"
      options = validate.options(m, options)
      const maxConcurrent = validate.number(m, "maxConcurrent", options.maxConcurrent, { integer: true, min: 1 })
      const maxQueue = validate.optionalNumber(m, "maxQueue", options.maxQueue, {
        integer: true,
        min: 0,
        allowInfinite: true
      }) ?? DEFAULT_MAX_QUEUE
      const maxWait = validate.optionalDuration(m, "maxWait", options.maxWait, { allowInfinite: true })
      const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
      const metricsInterval = validate.optionalDuration(m, "metricsInterval", options.metricsInterval, {
        allowInfinite: true
      }) ?? DEFAULT_METRICS_INTERVAL
      return {
        maxConcurrent,
        maxQueue,
        maxWait: maxWait !== undefined && Duration.isFinite(maxWait) ? maxWait : undefined,
        name,
        metricsInterval,
        maxKeyLength: Keys.maxKeyLengthOption(m, options.maxKeyLength)
      }
    }),
    (resolved) => Effect.flatMap(Effect.clock, (clock) => makeWith(clock, resolved, options))
  )

interface Resolved {
  readonly maxConcurrent: number
  readonly maxQueue: number
  readonly maxWait: Duration.Duration | undefined
  readonly name: string
  readonly metricsInterval: Duration.Duration
  readonly maxKeyLength: number
}

const makeWith = (
  clock: Clock.Clock,
  resolved: Resolved,
  options: Bulkhead.Options
): Effect.Effect<Bulkhead, never, Scope.Scope> => {
  const { maxQueue, maxWait, metricsInterval, name } = resolved
  const keyPolicy: Keys.KeyPolicy = { kind: "Bulkhead", name, maxKeyLength: resolved.maxKeyLength }
  let maxConcurrent = resolved.maxConcurrent
  const maxWaitMillis = maxWait === undefined ? undefined : Duration.toMillis(maxWait)
  const hub = EventHub.make<BulkheadEvent>()
  const rejections = Metric.tagged(rejectionsCounter, "policy", name)
  const rejectQueueFullMetric = Metric.increment(Metric.tagged(rejections, "reason", "QueueFull"))
  const rejectMaxWaitMetric = Metric.increment(Metric.tagged(rejections, "reason", "MaxWaitExceeded"))
  const active = activeGauge.pipe(Metric.tagged("policy", name))
  const queued = queuedGauge.pipe(Metric.tagged("policy", name))

  // --- partitions ------------------------------------------------------------

  const partitions = new Map<string, Partition>()

  /** Drops a keyed partition once nothing runs or waits in it. */
  const evictIfIdle = (partition: Partition): void => {
    if (
      partition.key !== undefined && partition.semaphore.taken === 0 && partition.semaphore.waiters === 0 &&
      partitions.get(partition.key) === partition
    ) {
      partitions.delete(partition.key)
    }
  }

  const release = (partition: Partition): void => {
    partition.semaphore.unsafeRelease(1)
    // Stryker disable next-line ConditionalExpression: equivalent: evictIfIdle never drops the default partition (its key is undefined, and the map never holds that key); the guard only skips the call
    if (partition.key !== undefined) evictIfIdle(partition)
  }

  const defaultPartition = new Partition(undefined, maxConcurrent, release)

  const partitionOf = (key: string | undefined): Partition => {
    if (key === undefined) return defaultPartition
    let partition = partitions.get(key)
    if (partition === undefined) {
      partition = new Partition(key, maxConcurrent, release)
      partitions.set(key, partition)
    }
    return partition
  }

  // --- events and rejections -------------------------------------------------

  const emitPermitted = (partition: Partition, waited: number): void => {
    hub.emit({
      _tag: "Permitted",
      policy: name,
      key: partition.key,
      // Stryker disable next-line ConditionalExpression: equivalent: Duration.millis(0) equals Duration.zero (Equal and field by field); the branch only reuses the constant
      waited: waited === 0 ? Duration.zero : Duration.millis(waited),
      active: partition.semaphore.taken,
      queued: partition.semaphore.waiters
    })
  }

  const reject = (partition: Partition, reason: BulkheadRejectionReason): Effect.Effect<never, BulkheadFullError> => {
    const error = BulkheadFullError.make({
      name,
      maxConcurrent: partition.semaphore.permits,
      maxQueue,
      reason,
      ...(partition.key === undefined ? {} : { key: partition.key }),
      ...(maxWait === undefined ? {} : { maxWait })
    })
    // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
    if (hub.hasSubscribers()) hub.emit({ _tag: "Rejected", policy: name, key: partition.key, reason, error })
    return Effect.zipRight(reason === "QueueFull" ? rejectQueueFullMetric : rejectMaxWaitMetric, Exit.fail(error))
  }

  // --- timed waiters (maxWait and deadlines) ------------------------------------
  // A timed waiter expires at the earlier of `maxWait` after it queued and the
  // enclosing deadline. The list is kept in expiry order: an insertion walks
  // back from the tail, O(1) when expiries come in queue order (as with
  // maxWait alone). One timer fiber serves all of them, sleeping until the
  // head expires, woken early when a new waiter becomes the head.

  let timedHead: BulkheadWaiter | undefined = undefined
  let timedTail: BulkheadWaiter | undefined = undefined
  let wakeTimer: ((effect: Effect.Effect<void>) => void) | undefined = undefined

  const linkTimed = (waiter: BulkheadWaiter): void => {
    let after = timedTail
    while (after !== undefined && after.expiresAt > waiter.expiresAt) after = after.tprev
    waiter.tprev = after
    waiter.tnext = after === undefined ? timedHead : after.tnext
    if (waiter.tnext === undefined) timedTail = waiter
    else waiter.tnext.tprev = waiter
    if (after === undefined) timedHead = waiter
    else after.tnext = waiter
    // a new head: the timer (idle, or sleeping until a later expiry) must look again
    if (after === undefined && wakeTimer !== undefined) {
      const wake = wakeTimer
      wakeTimer = undefined
      wake(Exit.void)
    }
  }

  const unlinkTimed = (waiter: BulkheadWaiter): void => {
    const { tnext, tprev } = waiter
    if (tprev === undefined) {
      if (timedHead !== waiter) return // not linked
      timedHead = tnext
    } else {
      tprev.tnext = tnext
    }
    if (tnext === undefined) timedTail = tprev
    else tnext.tprev = tprev
    waiter.tprev = undefined
    waiter.tnext = undefined
  }

  const expire = (waiter: BulkheadWaiter): void => {
    unlinkTimed(waiter)
    if (waiter.deadline !== undefined && !waiter.deadline.active) {
      // the deadline's region ended while the caller waited (a fork that outlived its timeout):
      // only its own maxWait bounds it now
      waiter.deadline = undefined
      waiter.expiresAt = waiter.ownExpiry
      waiter.timed = waiter.ownExpiry !== Infinity
      if (waiter.timed) linkTimed(waiter)
      return
    }
    const partition = waiter.partition
    if (partition.semaphore.unsafeRemove(waiter)) {
      // the deadline came first: fail with its own error (no maxWait rejection: the bulkhead rejected nothing)
      waiter.settle(waiter.deadline === undefined ? reject(partition, "MaxWaitExceeded") : Exit.fail(waiter.deadline.error()))
      evictIfIdle(partition)
    }
  }

  const idle: Effect.Effect<void> = Effect.async<void>((resume) => {
    // Stryker disable next-line ConditionalExpression,BlockStatement: equivalent: unreachable: timerLoop checks timedHead and registers here in one run of a few operations, far below the scheduler's 2048-operation preemption budget, so no waiter can be linked in between
    if (timedHead !== undefined) {
      resume(Exit.void)
      return
    }
    wakeTimer = resume
    // Stryker disable next-line BlockStatement: equivalent: the canceler runs only when the scope closes and interrupts the timer; a stale wakeTimer then resumes an already interrupted wait, which Effect ignores
    return Effect.sync(() => {
      wakeTimer = undefined
    })
  })

  let timerStarted = false
  let timerScope: Scope.Scope | undefined = undefined
  const startTimer = (): Effect.Effect<void> => {
    timerStarted = true
    return Effect.asVoid(Effect.forkIn(Effect.interruptible(timerLoop), timerScope!))
  }

  const timerLoop: Effect.Effect<void> = Effect.suspend(() => {
    const now = monotonicMillis(clock)
    while (timedHead !== undefined && timedHead.expiresAt <= now) expire(timedHead)
    if (timedHead === undefined) return Effect.zipRight(idle, timerLoop)
    // sleep until the head expires, or until linkTimed makes an earlier waiter the head (the signal
    // is registered here, before the race forks, so no new head can slip in unseen)
    const signal = Deferred.unsafeMake<void>(FiberId.none)
    const wake = () => Deferred.unsafeDone(signal, Exit.void)
    wakeTimer = wake
    return Effect.zipRight(
      Effect.ensuring(
        Effect.raceFirst(sleepOn(clock, timedHead.expiresAt - now), Deferred.await(signal)),
        Effect.sync(() => {
          if (wakeTimer === wake) wakeTimer = undefined
        })
      ),
      timerLoop
    )
  })

  // --- the call path -----------------------------------------------------------

  const granted = (waiter: BulkheadWaiter): void => {
    if (waiter.timed) unlinkTimed(waiter)
    // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
    if (hub.hasSubscribers()) emitPermitted(waiter.partition, monotonicMillis(clock) - waiter.enqueuedAt)
    waiter.settle(Exit.succeed(waiter.partition))
  }

  const cancel = (waiter: BulkheadWaiter): void => {
    if (waiter.timed) unlinkTimed(waiter)
    waiter.partition.semaphore.unsafeCancel(waiter)
    evictIfIdle(waiter.partition)
  }

  type Restore = <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>

  const admit = <A, E, R>(partition: Partition, restore: Restore, self: Effect.Effect<A, E, R>) => {
    // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
    if (hub.hasSubscribers()) emitPermitted(partition, 0)
    return Effect.matchCauseEffect(restore(self), partition.releaser) as Effect.Effect<A, E, R>
  }

  /**
   * Queues the caller in `partition` and runs `self` once admitted. Called in
   * the synchronous section that found no free permit and room in the queue,
   * inside the caller's uninterruptible region: only the wait and `self` are
   * interruptible. An interrupted wait leaves the queue, or gives back the
   * permit it was just granted; no canceler effect per waiter.
   */
  const enqueueThen = <A, E, R>(
    partition: Partition,
    deadline: Deadline | undefined,
    restore: Restore,
    self: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | BulkheadFullError, R> => {
    const semaphore = partition.semaphore
    const now = monotonicMillis(clock)
    const ownExpiry = maxWaitMillis === undefined ? Infinity : now + maxWaitMillis
    // the wait is bounded by the earlier of maxWait and the enclosing deadline, and never relies
    // on the deadline's timeout interrupting it (the caller may be in an uninterruptible region)
    // (at a tie the deadline's error: the call was cut by its timeout, not rejected by the bulkhead)
    const byDeadline = deadline !== undefined && deadline.at <= ownExpiry
    const expiresAt = byDeadline ? deadline.at : ownExpiry
    const timed = expiresAt !== Infinity
    const waiter = new BulkheadWaiter(partition, now, expiresAt, timed, byDeadline ? deadline : undefined, ownExpiry, granted)
    semaphore.unsafeEnqueue(waiter)
    if (timed) linkTimed(waiter)
    // without a finite maxWait the timer starts with the first wait a deadline bounds
    const start = timed && !timerStarted ? startTimer() : undefined
    // Stryker disable next-line ConditionalExpression: equivalent: emit is a no-op without subscribers; the guard only skips building the event
    if (hub.hasSubscribers()) {
      hub.emit({ _tag: "Queued", policy: name, key: partition.key, active: semaphore.taken, queued: semaphore.waiters })
    }
    const waited = Effect.matchCauseEffect(restore(waiter.await<Partition, BulkheadFullError>()), {
      onFailure: (cause) => {
        cancel(waiter)
        return Exit.failCause(cause)
      },
      onSuccess: () => Effect.matchCauseEffect(restore(self), partition.releaser)
    })
    return start === undefined ? waited : Effect.zipRight(start, waited)
  }

  const run = <A, E, R>(self: Effect.Effect<A, E, R>, key: string | undefined): Effect.Effect<A, E | BulkheadFullError, R> =>
    Effect.uninterruptibleMask((restore) => {
      const partition = partitionOf(key)
      const semaphore = partition.semaphore
      if (semaphore.unsafeTryTake(1)) return admit(partition, restore, self)
      if (semaphore.waiters >= maxQueue) return reject(partition, "QueueFull")
      // the wait's bound depends on the enclosing deadline, read from the fiber;
      // permits may have been freed (and the partition dropped) in between: check again
      return Effect.withFiberRuntime<A, E | BulkheadFullError, R>((fiber) => {
        const current = partitionOf(key)
        if (current.semaphore.unsafeTryTake(1)) return admit(current, restore, self)
        if (current.semaphore.waiters >= maxQueue) return reject(current, "QueueFull")
        return enqueueThen(current, activeDeadline(fiber.getFiberRef(currentDeadline)), restore, self)
      })
    })

  // --- accessors -----------------------------------------------------------------

  const stats = (key?: string | undefined): Bulkhead.Stats => {
    const partition = key === undefined ? defaultPartition : partitions.get(key)
    return {
      active: partition === undefined ? 0 : partition.semaphore.taken,
      queued: partition === undefined ? 0 : partition.semaphore.waiters,
      maxConcurrent,
      maxQueue
    }
  }

  const totals = (): Bulkhead.Totals => {
    let activeCount = defaultPartition.semaphore.taken
    let queuedCount = defaultPartition.semaphore.waiters
    for (const partition of partitions.values()) {
      activeCount += partition.semaphore.taken
      queuedCount += partition.semaphore.waiters
    }
    return { active: activeCount, queued: queuedCount, partitions: partitions.size }
  }

  const resize = (permits: number): Effect.Effect<void, InvalidOptionsError> =>
    Effect.flatMap(
      validate.validated(() => validate.number("Bulkhead.resize", "maxConcurrent", permits, { integer: true, min: 1 })),
      (n) =>
        Effect.sync(() => {
          maxConcurrent = n
          defaultPartition.semaphore.unsafeResize(n)
          for (const partition of partitions.values()) partition.semaphore.unsafeResize(n)
        })
    )

  const publish: Effect.Effect<void> = Effect.suspend(() => {
    const t = totals()
    return Effect.zipRight(Metric.set(active, t.active), Metric.set(queued, t.queued))
  })

  const bulkhead = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFullError, R> =>
    run(self, undefined)

  const value = Object.assign(bulkhead, {
    policyName: name,
    options,
    execute: <A, E, R>(
      self: Effect.Effect<A, E, R>,
      executeOptions?: Bulkhead.ExecuteOptions | undefined
    ): Effect.Effect<A, E | BulkheadFullError | InvalidKeyError, R> => {
      const key: unknown = executeOptions?.key
      // refused before a permit is taken
      if (key !== undefined && !Keys.isValid(keyPolicy, key)) return Effect.fail(Keys.refuse(keyPolicy, key))
      return run(self, key as string | undefined)
    },
    stats,
    totals,
    resize,
    events: hub.stream
  })
  const policy = unsafeMakeCallable(value, {
    kind: "Bulkhead",
    name,
    options: {
      maxConcurrent,
      maxQueue,
      ...(maxWait === undefined ? {} : { maxWait: Duration.format(maxWait) })
    }
  }) as unknown as Bulkhead

  return Effect.gen(function*() {
    // the timer serves maxWait and enclosing deadlines alike (it idles while no waiter is timed)
    timerScope = yield* Effect.scope
    if (maxWaitMillis !== undefined) yield* startTimer()
    if (Duration.isFinite(metricsInterval)) {
      const publishLoop: Effect.Effect<void> = Effect.zipRight(
        publish,
        Effect.suspend(() => Effect.zipRight(sleepOn(clock, Duration.toMillis(metricsInterval)), publishLoop))
      )
      yield* Effect.forkScoped(publishLoop)
      yield* Effect.addFinalizer(() => publish)
    }
    return policy
  })
}

/**
 * Provides a bulkhead under your own `Context.Tag`, made in the layer's scope.
 * Use it with `Policy.fromTag` so that module-level code can write
 * `effect.pipe(dbBulkhead)` and the Layer decides the instance.
 *
 * @example
 * ```ts
 * import { Bulkhead, Policy } from "effect-resilience"
 * import { Context, Effect } from "effect"
 *
 * class DbBulkhead extends Context.Tag("app/DbBulkhead")<DbBulkhead, Bulkhead.Bulkhead>() {}
 * const dbBulkhead = Policy.fromTag(DbBulkhead)
 *
 * const query = Effect.succeed([1, 2, 3]).pipe(dbBulkhead) // requires DbBulkhead
 * const program = query.pipe(Effect.provide(Bulkhead.layer(DbBulkhead, { maxConcurrent: 20, maxQueue: 200 })))
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layer = <I>(
  tag: Context.Tag<I, Bulkhead>,
  options: Bulkhead.Options
): Layer.Layer<I, InvalidOptionsError> => Layer.scoped(tag, make(options))

/**
 * Provides a bulkhead under your own `Context.Tag`, with options read from
 * Effect `Config` (environment variables by default). Missing or malformed
 * values fail with a `ConfigError`; out-of-range ones with
 * `InvalidOptionsError`.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 * import { Config, Context } from "effect"
 *
 * class DbBulkhead extends Context.Tag("app/DbBulkhead")<DbBulkhead, Bulkhead.Bulkhead>() {}
 *
 * // DB_MAX_CONCURRENT=20 DB_MAX_QUEUE=200 DB_MAX_WAIT="2 seconds"
 * const live = Bulkhead.layerConfig(DbBulkhead, {
 *   maxConcurrent: Config.integer("DB_MAX_CONCURRENT"),
 *   maxQueue: Config.integer("DB_MAX_QUEUE").pipe(Config.withDefault(0)),
 *   maxWait: Config.duration("DB_MAX_WAIT"),
 *   name: Config.succeed("db")
 * })
 * ```
 *
 * @since 0.1.0
 * @category Layers
 */
export const layerConfig = <I>(
  tag: Context.Tag<I, Bulkhead>,
  config: Config.Config.Wrap<Bulkhead.Options>
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.scoped(tag, Effect.flatMap(validate.fromConfig("Bulkhead.layerConfig", config), make))
