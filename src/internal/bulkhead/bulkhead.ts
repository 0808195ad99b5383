/**
 * The bulkhead (see the public module for the semantics): one class,
 * {@link BulkheadImpl}, whose state is its fields and whose behaviour is its
 * members, and `make`.
 *
 * - Partitions: one per key, each a herd-free FIFO semaphore (`semaphore.ts`)
 *   where callers take a local permit or queue. A keyed partition exists only
 *   while it has running or queued calls.
 * - In-process permits (the memory store, `store.ts`): the semaphore is the
 *   limit. A free permit is taken synchronously in the caller's
 *   uninterruptible region and given back by one exit handler (`admit`); a
 *   caller that finds none queues (`enqueueThen`) and is handed a permit by
 *   the release that frees it (`granted`). Queued callers share one timer
 *   fiber for `maxWait` and enclosing deadlines (`linkTimed`, `timerLoop`,
 *   `expire`).
 * - Leased permits (a shared store: Redis): the call path is
 *   {@link LeasedCalls} (`leased.ts`), on the same partitions, events,
 *   rejections and readers.
 * - An adaptive limit (`maxConcurrent: AdaptiveLimit.…`, in-process permits
 *   only): {@link AdaptiveCalls} (`adaptive.ts`) measures each call and
 *   resizes its partition's semaphore; `admit` and the queued path hand the
 *   call to it (one branch each).
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import { background } from "../detached.js"
import type * as AdaptiveLimit from "../../AdaptiveLimit.js"
import type * as Bulkhead from "../../Bulkhead.js"
import type { BulkheadRejectionReason, InvalidKeyError, InvalidOptionsError } from "../../Errors.js"
import { isAdaptiveLimit } from "../adaptiveLimit/adaptiveLimit.js"
import { BulkheadFullError } from "../errors.js"
import { active as activeDeadline, currentDeadline, type Deadline, expired } from "../deadline.js"
import * as EventHub from "../events.js"
import * as ExitFrame from "../exitFrame.js"
import * as Keys from "../keys.js"
import * as metricKeys from "../metricKeys.js"
import { unsafeMakeCallable } from "../policy.js"
import * as Spec from "../spec.js"
import { monotonicMillis, sleepOn } from "../time.js"
import * as validate from "../validate.js"
import { AdaptiveCalls } from "./adaptive.js"
import type { BulkheadStoreError } from "./errors.js"
import { LeasedCalls } from "./leased.js"
import * as Options from "./options.js"
import { FifoSemaphore, Waiter } from "./semaphore.js"
import { BulkheadStore } from "./store.js"

/** @internal */
export const TypeId: Bulkhead.TypeId = Symbol.for("effect-resilience/Bulkhead") as Bulkhead.TypeId

/** @internal */
export const isBulkhead = (u: unknown): u is Bulkhead.Bulkhead<unknown> =>
  typeof u === "function" && Predicate.hasProperty(u, TypeId)

type Event = Bulkhead.BulkheadEvent
type Leases = Bulkhead.BulkheadStore.Leases
/** @internal */
export type Restore = <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>

const activeKey = MetricKey.gauge("resilience_bulkhead_active", {
  description: "Calls holding a permit of a bulkhead (all partitions), polled"
})
const queuedKey = MetricKey.gauge("resilience_bulkhead_queued", {
  description: "Callers waiting for a permit of a bulkhead (all partitions), polled"
})
const rejectionsKey = MetricKey.counter("resilience_bulkhead_rejections", {
  description: "Calls rejected by a bulkhead",
  incremental: true
})

interface Releaser {
  readonly onFailure: (cause: Cause.Cause<any>) => Effect.Effect<never, any>
  readonly onSuccess: (a: any) => Effect.Effect<any>
}

/** One partition: its local semaphore (and, with a shared store, its leases). @internal */
export class Partition {
  readonly semaphore: FifoSemaphore
  /** Gives back the local permit of an in-process call (one pair of handlers per partition, not per call). */
  readonly releaser: Releaser
  /** The same, as the frame the one-step call path pushes under the call (`BulkheadCall`). */
  readonly exitFrame: ExitFrame.ExitFrame
  // --- with a shared store only ---
  /** One permit: callers holding a local permit but no lease queue on it, so only its holder polls the store. */
  readonly turn: FifoSemaphore | undefined
  /** Callers holding a local permit and waiting for a lease (queued on `turn` or polling). */
  waitingGlobal = 0
  /** Calls running (with or without a lease). */
  running = 0
  /** Wakes the polling caller early (a call of this process ended). */
  wake: Deferred.Deferred<void> | undefined = undefined
  // --- with an adaptive limit only ---
  /** The partition's adaptive limit: its algorithm's state (`adaptive.ts`). */
  limit: AdaptiveLimit.AdaptiveLimit.State | undefined = undefined

  constructor(
    readonly key: string | undefined,
    permits: number,
    onRelease: (partition: Partition) => void,
    readonly leases: Bulkhead.BulkheadStore.PartitionLeases | undefined
  ) {
    this.semaphore = new FifoSemaphore(permits)
    this.turn = leases === undefined ? undefined : new FifoSemaphore(1)
    this.exitFrame = new ExitFrame.ExitFrame(() => onRelease(this))
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

  /** Callers waiting: for a local permit, or (with a shared store) for a lease. */
  queued(): number {
    return this.semaphore.waiters + this.waitingGlobal
  }

  idle(): boolean {
    return this.semaphore.taken === 0 && this.semaphore.waiters === 0 && this.waitingGlobal === 0
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
    private readonly onGranted: (waiter: BulkheadWaiter) => void
  ) {
    super(1)
  }
  override onGrant(): void {
    this.onGranted(this)
  }
}

/**
 * A call through a bulkhead with a fixed limit and in-process permits, as
 * ONE step of the fiber's run loop: its `commit` takes a free permit and
 * hands the runtime the call over the partition's exit frame
 * (`../exitFrame.ts`), or takes the general path. Stateless: the same call
 * may be run many times, by several fibers at once, each run on its own
 * permit.
 * @internal
 */
export class BulkheadCall<A, E, R> extends Effectable.Class<A, E | BulkheadFullError, R> {
  constructor(readonly impl: BulkheadImpl, readonly self: Effect.Effect<A, E, R>, readonly key: string | undefined) {
    super()
  }
  commit(): Effect.Effect<A, E | BulkheadFullError, R> {
    return this.impl.runFast(this.self, this.key)
  }
  toJSON(): unknown {
    return { _id: "Effect", _op: "Bulkhead", policy: this.impl.name, key: this.key, self: this.self }
  }
}

/** @internal */
export class BulkheadImpl {
  readonly name: string
  readonly maxQueue: number
  readonly maxWait: Duration.Duration | undefined
  readonly maxWaitMillis: number | undefined
  readonly onStoreError: "allow" | "fail"
  /** Changed by `resize`. */
  maxConcurrent: number
  readonly keyPolicy: Keys.KeyPolicy
  readonly hub = EventHub.make<Event>()

  readonly partitions = new Map<string, Partition>()
  readonly defaultPartition: Partition

  // timed waiters (maxWait and deadlines), in expiry order, served by one timer fiber
  timedHead: BulkheadWaiter | undefined = undefined
  timedTail: BulkheadWaiter | undefined = undefined
  wakeTimer: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  timerStarted = false

  readonly rejectQueueFull: Effect.Effect<void>
  readonly rejectMaxWait: Effect.Effect<void>
  readonly activeMetric: Metric.Metric.Gauge<number>
  readonly queuedMetric: Metric.Metric.Gauge<number>
  /** The call path with a shared store (`undefined`: permits in this process only). */
  readonly leased: LeasedCalls | undefined
  /** The adaptive limit's measurements (`undefined`: a fixed `maxConcurrent`). */
  readonly adaptive: AdaptiveCalls | undefined

  constructor(
    resolved: Options.Resolved,
    readonly clock: Clock.Clock,
    /** The bulkhead's scope: its timer, gauge and renewal fibers live there. */
    readonly scope: Scope.Scope,
    readonly storeKind: string,
    /** The shared store's leases (`undefined`: permits in this process only). */
    readonly leases: Leases | undefined,
    /** Seeds an adaptive limit's random draws (Vegas's probe jitter). */
    seed: number = 0
  ) {
    this.name = resolved.name
    this.maxQueue = resolved.maxQueue
    this.maxWait = resolved.maxWait
    this.maxWaitMillis = resolved.maxWait === undefined ? undefined : Duration.toMillis(resolved.maxWait)
    this.onStoreError = resolved.onStoreError
    const maxConcurrent = resolved.maxConcurrent
    this.adaptive = isAdaptiveLimit(maxConcurrent) ? new AdaptiveCalls(this, maxConcurrent, seed) : undefined
    this.maxConcurrent = isAdaptiveLimit(maxConcurrent) ? maxConcurrent.initialLimit : maxConcurrent
    this.keyPolicy = { kind: "Bulkhead", name: this.name, maxKeyLength: resolved.maxKeyLength }
    this.rejectQueueFull = Metric.increment(metricKeys.tagged(rejectionsKey, [["policy", this.name], ["reason", "QueueFull"]]))
    this.rejectMaxWait = Metric.increment(metricKeys.tagged(rejectionsKey, [["policy", this.name], ["reason", "MaxWaitExceeded"]]))
    this.activeMetric = metricKeys.tagged(activeKey, [["policy", this.name]])
    this.queuedMetric = metricKeys.tagged(queuedKey, [["policy", this.name]])
    this.release = this.release.bind(this)
    this.granted = this.granted.bind(this)
    this.defaultPartition = this.makePartition(undefined)
    this.leased = leases === undefined ? undefined : new LeasedCalls(this, leases)
  }

  // --- partitions --------------------------------------------------------------

  /** Local permits of a partition: `maxConcurrent`, or the shared store's own cap per process. */
  localPermits(): number {
    const local = this.leases?.localMaxConcurrent
    return local === undefined ? this.maxConcurrent : local
  }

  makePartition(key: string | undefined): Partition {
    const partition = new Partition(key, this.localPermits(), this.release, this.leases?.partition(key))
    if (this.adaptive !== undefined) this.adaptive.attach(partition)
    return partition
  }

  partitionOf(key: string | undefined): Partition {
    if (key === undefined) return this.defaultPartition
    let partition = this.partitions.get(key)
    if (partition === undefined) {
      partition = this.makePartition(key)
      this.partitions.set(key, partition)
    }
    return partition
  }

  /** Drops a keyed partition once nothing runs or waits in it. */
  evictIfIdle(partition: Partition): void {
    if (partition.key !== undefined && partition.idle() && this.partitions.get(partition.key) === partition) {
      this.partitions.delete(partition.key)
      if (this.adaptive !== undefined) this.adaptive.detach(partition)
    }
  }

  /** Gives back a local permit (and drops the partition if it is now idle). */
  release(partition: Partition): void {
    partition.semaphore.unsafeRelease(1)
    // Stryker disable next-line ConditionalExpression: equivalent: evictIfIdle never drops the default partition (its key is undefined, and the map never holds that key); the guard only skips the call
    if (partition.key !== undefined) this.evictIfIdle(partition)
  }

  // --- events and rejections -------------------------------------------------------

  /** Calls running in a partition: permits held in process, or calls admitted (with or without a lease). */
  activeOf(partition: Partition): number {
    return this.leased === undefined ? partition.semaphore.taken : partition.running
  }

  permitted(partition: Partition, waited: number, leased: boolean | undefined): Event {
    const event = {
      _tag: "Permitted" as const,
      policy: this.name,
      key: partition.key,
      // Stryker disable next-line ConditionalExpression: equivalent: Duration.millis(0) equals Duration.zero (Equal and field by field); the branch only reuses the constant
      waited: waited <= 0 ? Duration.zero : Duration.millis(waited),
      active: this.activeOf(partition),
      queued: partition.queued()
    }
    return leased === undefined ? event : { ...event, leased }
  }

  reject(partition: Partition, reason: BulkheadRejectionReason): Effect.Effect<never, BulkheadFullError> {
    const adaptive = this.adaptive
    const retryAfter = adaptive === undefined ? undefined : adaptive.retryAfter(partition)
    const error = BulkheadFullError.make({
      name: this.name,
      // an adaptive limit: the partition's limit in force
      maxConcurrent: adaptive === undefined ? this.maxConcurrent : partition.semaphore.permits,
      maxQueue: this.maxQueue,
      reason,
      ...(partition.key === undefined ? {} : { key: partition.key }),
      ...(this.maxWait === undefined ? {} : { maxWait: this.maxWait }),
      ...(retryAfter === undefined ? {} : { retryAfter })
    })
    this.hub.emitWith(() => ({ _tag: "Rejected", policy: this.name, key: partition.key, reason, error }))
    return Effect.zipRight(reason === "QueueFull" ? this.rejectQueueFull : this.rejectMaxWait, Exit.fail(error))
  }

  // --- the in-process call path ------------------------------------------------------

  run<A, E, R>(self: Effect.Effect<A, E, R>, key: string | undefined): Effect.Effect<A, E | BulkheadFullError, R> {
    return Effect.uninterruptibleMask((restore) => {
      const partition = this.partitionOf(key)
      const semaphore = partition.semaphore
      if (semaphore.unsafeTryTake(1)) return this.admit(partition, restore, self)
      if (semaphore.waiters >= this.maxQueue) return this.reject(partition, "QueueFull")
      // the wait's bound depends on the enclosing deadline, read from the fiber;
      // permits may have been freed (and the partition dropped) in between: check again
      return Effect.withFiberRuntime<A, E | BulkheadFullError, R>((fiber) => {
        const current = this.partitionOf(key)
        if (current.semaphore.unsafeTryTake(1)) return this.admit(current, restore, self)
        if (current.semaphore.waiters >= this.maxQueue) return this.reject(current, "QueueFull")
        return this.enqueueThen(current, activeDeadline(fiber.getFiberRef(currentDeadline)), restore, self)
      })
    })
  }

  /**
   * The one-step call path (`BulkheadCall`, a fixed limit with in-process
   * permits): a free permit is taken and `self` runs over the partition's
   * exit frame, which gives the permit back however the call ends; otherwise
   * (no free permit) the general path, {@link run}.
   */
  runFast<A, E, R>(self: Effect.Effect<A, E, R>, key: string | undefined): Effect.Effect<A, E | BulkheadFullError, R> {
    const partition = this.partitionOf(key)
    if (!partition.semaphore.unsafeTryTake(1)) return this.run(self, key)
    // Stryker disable next-line ConditionalExpression: equivalent: the runtime always runs a commit on a current fiber
    if (!ExitFrame.push(partition.exitFrame)) {
      this.release(partition)
      return this.run(self, key)
    }
    this.hub.emitWith(() => this.permitted(partition, 0, undefined))
    return self
  }

  /** Runs `self` holding the permit just taken; its exit handler gives it back. */
  admit<A, E, R>(partition: Partition, restore: Restore, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    this.hub.emitWith(() => this.permitted(partition, 0, undefined))
    // an adaptive limit measures the call (the one branch a fixed bulkhead pays for it)
    if (this.adaptive !== undefined) return this.adaptive.measure(partition, restore, self)
    return Effect.matchCauseEffect(restore(self), partition.releaser) as Effect.Effect<A, E, R>
  }

  /**
   * Queues the caller in `partition` and runs `self` once admitted. Called in
   * the synchronous section that found no free permit and room in the queue,
   * inside the caller's uninterruptible region: only the wait and `self` are
   * interruptible. An interrupted wait leaves the queue, or gives back the
   * permit it was just granted; no canceler effect per waiter.
   */
  enqueueThen<A, E, R>(
    partition: Partition,
    deadline: Deadline | undefined,
    restore: Restore,
    self: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | BulkheadFullError, R> {
    const semaphore = partition.semaphore
    const now = monotonicMillis(this.clock)
    const ownExpiry = this.maxWaitMillis === undefined ? Infinity : now + this.maxWaitMillis
    // the wait is bounded by the earlier of maxWait and the enclosing deadline, and never relies
    // on the deadline's timeout interrupting it (the caller may be in an uninterruptible region)
    // (at a tie the deadline's error: the call was cut by its timeout, not rejected by the bulkhead)
    const byDeadline = deadline !== undefined && deadline.at <= ownExpiry
    const expiresAt = byDeadline ? deadline.at : ownExpiry
    const timed = expiresAt !== Infinity
    const waiter = new BulkheadWaiter(partition, now, expiresAt, timed, byDeadline ? deadline : undefined, ownExpiry, this.granted)
    semaphore.unsafeEnqueue(waiter)
    if (timed) this.linkTimed(waiter)
    // without a finite maxWait the timer starts with the first wait a deadline bounds
    const start = timed && !this.timerStarted ? this.startTimer() : undefined
    this.hub.emitWith(() => ({
      _tag: "Queued",
      policy: this.name,
      key: partition.key,
      active: semaphore.taken,
      queued: semaphore.waiters
    }))
    const waited = Effect.matchCauseEffect(restore(waiter.await<Partition, BulkheadFullError>()), {
      onFailure: (cause) => {
        this.cancel(waiter)
        return Exit.failCause(cause)
      },
      onSuccess: () =>
        this.adaptive === undefined
          ? Effect.matchCauseEffect(restore(self), partition.releaser)
          : this.adaptive.measure(partition, restore, self)
    })
    return start === undefined ? waited : Effect.zipRight(start, waited)
  }

  /** The semaphore handed `waiter` its permit (synchronously, in the release that freed it). */
  granted(waiter: BulkheadWaiter): void {
    if (waiter.timed) this.unlinkTimed(waiter)
    this.hub.emitWith(() => this.permitted(waiter.partition, monotonicMillis(this.clock) - waiter.enqueuedAt, undefined))
    waiter.settle(Exit.succeed(waiter.partition))
  }

  /** The waiting caller was interrupted: it leaves the queue, or gives back the permit it was just granted. */
  cancel(waiter: BulkheadWaiter): void {
    if (waiter.timed) this.unlinkTimed(waiter)
    waiter.partition.semaphore.unsafeCancel(waiter)
    this.evictIfIdle(waiter.partition)
  }

  // --- timed waiters (maxWait and deadlines) ------------------------------------
  // A timed waiter expires at the earlier of `maxWait` after it queued and the
  // enclosing deadline. The list is kept in expiry order: an insertion walks
  // back from the tail, O(1) when expiries come in queue order (as with
  // maxWait alone). One timer fiber serves all of them, sleeping until the
  // head expires, woken early when a new waiter becomes the head.

  linkTimed(waiter: BulkheadWaiter): void {
    let after = this.timedTail
    while (after !== undefined && after.expiresAt > waiter.expiresAt) after = after.tprev
    waiter.tprev = after
    waiter.tnext = after === undefined ? this.timedHead : after.tnext
    if (waiter.tnext === undefined) this.timedTail = waiter
    else waiter.tnext.tprev = waiter
    if (after === undefined) this.timedHead = waiter
    else after.tnext = waiter
    // a new head: the timer (idle, or sleeping until a later expiry) must look again
    if (after === undefined && this.wakeTimer !== undefined) {
      const wake = this.wakeTimer
      this.wakeTimer = undefined
      wake(Exit.void)
    }
  }

  unlinkTimed(waiter: BulkheadWaiter): void {
    const { tnext, tprev } = waiter
    if (tprev === undefined) {
      if (this.timedHead !== waiter) return // not linked
      this.timedHead = tnext
    } else {
      tprev.tnext = tnext
    }
    if (tnext === undefined) this.timedTail = tprev
    else tnext.tprev = tprev
    waiter.tprev = undefined
    waiter.tnext = undefined
  }

  /** The wait of the timer list's head ran out (called by the timer fiber). */
  expire(waiter: BulkheadWaiter): void {
    this.unlinkTimed(waiter)
    if (waiter.deadline !== undefined && !waiter.deadline.active) {
      // the deadline's region ended while the caller waited (a fork that outlived its timeout):
      // only its own maxWait bounds it now
      waiter.deadline = undefined
      waiter.expiresAt = waiter.ownExpiry
      waiter.timed = waiter.ownExpiry !== Infinity
      if (waiter.timed) this.linkTimed(waiter)
      return
    }
    const partition = waiter.partition
    if (partition.semaphore.unsafeRemove(waiter)) {
      // the deadline came first: fail with its own error (no maxWait rejection: the bulkhead rejected nothing)
      waiter.settle(waiter.deadline === undefined ? this.reject(partition, "MaxWaitExceeded") : Exit.fail(expired(waiter.deadline)))
      this.evictIfIdle(partition)
    }
  }

  /** Suspends the timer fiber until a timed waiter is linked. */
  readonly idle: Effect.Effect<void> = Effect.async<void>((resume) => {
    // Stryker disable next-line ConditionalExpression,BlockStatement: equivalent: unreachable: timerLoop checks timedHead and registers here in one run of a few operations, far below the scheduler's 2048-operation preemption budget, so no waiter can be linked in between
    if (this.timedHead !== undefined) {
      resume(Exit.void)
      return
    }
    this.wakeTimer = resume
    // Stryker disable next-line BlockStatement: equivalent: the canceler runs only when the scope closes and interrupts the timer; a stale wakeTimer then resumes an already interrupted wait, which Effect ignores
    return Effect.sync(() => {
      this.wakeTimer = undefined
    })
  })

  /** Expires the waiters whose wait ran out, then sleeps until the next expiry (or idles). */
  readonly timerLoop: Effect.Effect<void> = Effect.suspend(() => {
    const now = monotonicMillis(this.clock)
    while (this.timedHead !== undefined && this.timedHead.expiresAt <= now) this.expire(this.timedHead)
    if (this.timedHead === undefined) return Effect.zipRight(this.idle, this.timerLoop)
    // sleep until the head expires, or until linkTimed makes an earlier waiter the head (the signal
    // is registered here, before the race forks, so no new head can slip in unseen)
    const signal = Deferred.unsafeMake<void>(FiberId.none)
    const wake = () => Deferred.unsafeDone(signal, Exit.void)
    this.wakeTimer = wake
    return Effect.zipRight(
      Effect.ensuring(
        Effect.raceFirst(sleepOn(this.clock, this.timedHead.expiresAt - now), Deferred.await(signal)),
        Effect.sync(() => {
          if (this.wakeTimer === wake) this.wakeTimer = undefined
        })
      ),
      this.timerLoop
    )
  })

  startTimer(): Effect.Effect<void> {
    this.timerStarted = true
    return Effect.asVoid(Effect.forkIn(background(this.timerLoop), this.scope))
  }

  // --- readers ---------------------------------------------------------------------------

  unsafeStats(key?: string | undefined): Bulkhead.Bulkhead.Stats {
    const partition = key === undefined ? this.defaultPartition : this.partitions.get(key)
    const stats = {
      active: partition === undefined ? 0 : this.activeOf(partition),
      queued: partition === undefined ? 0 : partition.queued(),
      maxConcurrent: this.maxConcurrent,
      maxQueue: this.maxQueue
    }
    if (this.adaptive === undefined) return stats
    // an idle key: what it learned, or where a new partition starts
    const state = partition?.limit ?? this.adaptive.peek(key!)
    return { ...stats, maxConcurrent: state.limit, adaptive: state }
  }

  unsafeTotals(): Bulkhead.Bulkhead.Totals {
    let active = this.activeOf(this.defaultPartition)
    let queued = this.defaultPartition.queued()
    for (const partition of this.partitions.values()) {
      active += this.activeOf(partition)
      queued += partition.queued()
    }
    const totals = { active, queued, partitions: this.partitions.size }
    return this.leased === undefined ? totals : this.leased.totals(totals)
  }

  /** Permits held right now in a partition: in this process, or (a shared store) by every process. */
  held(key?: string | undefined): Effect.Effect<number, BulkheadStoreError | InvalidKeyError> {
    if (key !== undefined && !Keys.isValid(this.keyPolicy, key)) return Effect.fail(Keys.refuse(this.keyPolicy, key))
    return this.leased === undefined ? Effect.sync(() => this.unsafeStats(key).active) : this.leased.held(key)
  }

  resize(permits: number): Effect.Effect<void, InvalidOptionsError> {
    const adaptive = this.adaptive
    if (adaptive !== undefined) {
      // the algorithms go on from the limit set
      return validate.validated(() => {
        const n = Options.resized(permits)
        adaptive.resize(n)
        this.maxConcurrent = n
      })
    }
    return Effect.flatMap(validate.validated(() => Options.resized(permits)), (n) =>
      Effect.sync(() => {
        this.maxConcurrent = n
        const local = this.localPermits()
        this.defaultPartition.semaphore.unsafeResize(local)
        for (const partition of this.partitions.values()) partition.semaphore.unsafeResize(local)
      }))
  }

  /** Publishes the gauges. */
  readonly publish: Effect.Effect<void> = Effect.suspend(() => {
    const t = this.unsafeTotals()
    const gauges = Effect.zipRight(Metric.set(this.activeMetric, t.active), Metric.set(this.queuedMetric, t.queued))
    return this.adaptive === undefined ? gauges : Effect.zipRight(gauges, this.adaptive.publish)
  })

  /** Starts the scoped fibers: the timer (with a finite maxWait) and the gauges' publisher. */
  start(metricsInterval: Duration.Duration): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      // the timer serves maxWait and enclosing deadlines alike (it idles while no waiter is timed)
      if (this.maxWaitMillis !== undefined && this.leased === undefined) yield* this.startTimer()
      if (Duration.isFinite(metricsInterval)) {
        const interval = Duration.toMillis(metricsInterval)
        const publishLoop: Effect.Effect<void> = Effect.zipRight(
          this.publish,
          Effect.suspend(() => Effect.zipRight(sleepOn(this.clock, interval), publishLoop))
        )
        yield* Effect.forkIn(background(publishLoop), this.scope)
        yield* Scope.addFinalizer(this.scope, this.publish)
      }
    })
  }
}

const describe = (impl: BulkheadImpl): Record<string, unknown> => ({
  maxConcurrent: impl.adaptive === undefined ? impl.maxConcurrent : adaptiveDescription(impl.adaptive.limit),
  maxQueue: impl.maxQueue,
  ...(impl.maxWait === undefined ? {} : { maxWait: Duration.format(impl.maxWait) }),
  ...(impl.leases === undefined ? {} : { store: impl.storeKind, ...impl.leases.options, onStoreError: impl.onStoreError })
})

/** What `Policy.describe` shows of an adaptive limit. */
const adaptiveDescription = (limit: AdaptiveLimit.AdaptiveLimit): Record<string, unknown> => ({
  adaptive: limit._tag,
  initialLimit: limit.initialLimit,
  minLimit: limit.minLimit,
  maxLimit: limit.maxLimit
})

/** Builds the callable policy around an instance. */
const callable = (impl: BulkheadImpl, options: Bulkhead.Bulkhead.Options): Bulkhead.Bulkhead<any> => {
  const leased = impl.leased
  // a fixed limit with in-process permits: each call is one step (`BulkheadCall`) when the runtime allows
  const oneStep = leased === undefined && impl.adaptive === undefined && ExitFrame.supported()
  const run: <A, E, R>(self: Effect.Effect<A, E, R>, key: string | undefined) => Effect.Effect<A, E | BulkheadFullError | BulkheadStoreError, R> =
    leased !== undefined
      ? (self, key) => leased.run(self, key)
      : oneStep
      ? (self, key) => new BulkheadCall(impl, self, key)
      : (self, key) => impl.run(self, key)
  const keyPolicy = impl.keyPolicy
  // the callable form is the hot path: one call into the instance, nothing else allocated here
  const bulkhead = leased !== undefined
    ? <A, E, R>(self: Effect.Effect<A, E, R>) => leased.run(self, undefined)
    : oneStep
    ? <A, E, R>(self: Effect.Effect<A, E, R>) => new BulkheadCall(impl, self, undefined)
    : <A, E, R>(self: Effect.Effect<A, E, R>) => impl.run(self, undefined)
  const execute = dual(
    (args) => Effect.isEffect(args[0]),
    <A, E, R>(self: Effect.Effect<A, E, R>, executeOptions?: Bulkhead.Bulkhead.ExecuteOptions | undefined) => {
      const key: unknown = executeOptions?.key
      // refused before a permit (or a lease) is taken
      if (key !== undefined && !Keys.isValid(keyPolicy, key)) return Effect.fail(Keys.refuse(keyPolicy, key))
      return run(self, key as string | undefined)
    }
  )
  const unsafeStats = (key?: string | undefined) => impl.unsafeStats(key)
  const unsafeTotals = () => impl.unsafeTotals()
  const value = Object.assign(bulkhead, {
    [TypeId]: TypeId,
    policyName: impl.name,
    options,
    execute,
    stats: (key?: string | undefined) => Effect.sync(() => impl.unsafeStats(key)),
    unsafeStats,
    totals: () => Effect.sync(unsafeTotals),
    unsafeTotals,
    held: (key?: string | undefined) => impl.held(key),
    resize: (permits: number) => impl.resize(permits),
    events: impl.hub.stream
  })
  return unsafeMakeCallable(value, { kind: "Bulkhead", name: impl.name, options: describe(impl) }) as unknown as Bulkhead.Bulkhead<any>
}

/** @internal */
export const make = (options: Bulkhead.Bulkhead.Options): Effect.Effect<Bulkhead.Bulkhead<any>, InvalidOptionsError, Scope.Scope> =>
  Effect.flatMap(validate.validated(() => Options.resolve(options)), (resolved) =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const scope = yield* Effect.scope
      const store = yield* BulkheadStore
      if (store.leases !== undefined && isAdaptiveLimit(resolved.maxConcurrent)) {
        // an adaptive limit measures the calls of one process: it cannot bound every replica's
        return yield* Effect.fail(
          validate.invalid(
            "Bulkhead.make",
            "maxConcurrent",
            resolved.maxConcurrent,
            `an integer >= 1 with a shared store (${store.kind}): an adaptive limit is per process`
          )
        )
      }
      const leases = store.leases === undefined ? undefined : yield* store.leases(resolved.name)
      const seed = isAdaptiveLimit(resolved.maxConcurrent) ? yield* Random.nextInt : 0
      const impl = new BulkheadImpl(resolved, clock, scope, store.kind, leases, seed)
      yield* impl.start(resolved.metricsInterval)
      return callable(impl, options)
    }))

/** @internal */
export const layer = <I, S>(tag: Context.Tag<I, S>, options: Bulkhead.Bulkhead.Options): Layer.Layer<I, InvalidOptionsError> =>
  Layer.scoped(tag, make(options) as unknown as Effect.Effect<S, InvalidOptionsError, Scope.Scope>)

/** @internal */
export const config: Config.Config<Bulkhead.Bulkhead.Options> = Options.spec.config as Config.Config<any>

/** @internal */
export const fromConfig = (
  config: Config.Config.Wrap<Bulkhead.Bulkhead.Options>,
  module = "Bulkhead.fromConfig"
): Effect.Effect<Bulkhead.Bulkhead<any>, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> =>
  Effect.flatMap(Spec.readConfig<Bulkhead.Bulkhead.Options>(Options.spec, module, config), make)

/** @internal */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<Bulkhead.Bulkhead.Options>
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.scoped(
    tag,
    fromConfig(config, "Bulkhead.layerConfig") as unknown as Effect.Effect<
      S,
      InvalidOptionsError | ConfigError.ConfigError,
      Scope.Scope
    >
  )
