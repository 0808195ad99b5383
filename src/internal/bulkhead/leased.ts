/**
 * The call path of a bulkhead whose store is shared (Redis): {@link LeasedCalls}.
 *
 * A call first takes a local permit of its partition (the bulkhead's
 * herd-free semaphore, `localMaxConcurrent` permits), then a lease from the
 * store (`run`). When the store is full it queues behind the callers of this
 * process already waiting for a lease, and only the first of them polls the
 * store (`queueLeased`, `poll`), with a growing backoff, woken early when a
 * call of the process ends; `maxWait` and the enclosing deadline bound the
 * whole wait. A running call's lease is renewed by a fiber in the bulkhead's
 * scope and released when it ends (`hold`, `renewLoop`). When the store
 * fails, the call runs without a lease (`onStoreError: "allow"`) or is
 * rejected with `BulkheadStoreError` (`"fail"`); every failure is counted.
 *
 * @internal
 */
import type * as Bulkhead from "../../Bulkhead.js"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type { BulkheadFullError, InvalidKeyError, TimeoutError } from "../../Errors.js"
import { active as activeDeadline, currentDeadline, expired } from "../deadline.js"
import { background, detached } from "../detached.js"
import * as metricKeys from "../metricKeys.js"
import { monotonicMillis, sleep, sleepOn, timeoutOption } from "../time.js"
import type { BulkheadImpl, Partition, Restore } from "./bulkhead.js"
import { BulkheadStoreError } from "./errors.js"
import { Waiter } from "./semaphore.js"

type Leases = Bulkhead.BulkheadStore.Leases
type StoreOperation = "acquire" | "renew" | "release" | "held"
/** What a caller waiting for a lease ends with: a lease, or `undefined` (the store failed: running without one). */
type Grant = string | undefined

/** The first pause of a caller polling a shared store, doubled up to the store's `pollInterval`. */
const MIN_POLL_MILLIS = 5

const leasesLostKey = MetricKey.counter("resilience_bulkhead_leases_lost", {
  description: "Leases of a distributed bulkhead found gone while their call ran (expired or lost by Redis)",
  incremental: true
})
const allowedKey = MetricKey.counter("resilience_bulkhead_allowed_without_lease", {
  description: "Calls a distributed bulkhead ran without a lease because Redis failed (onStoreError: allow)",
  incremental: true
})

/** @internal */
export class LeasedCalls {
  // the store's counters (reported by `totals`)
  storeErrors = 0
  allowedWithoutLease = 0
  leasesLost = 0
  leasesRecovered = 0
  readonly leaseLostMetric: Effect.Effect<void>
  readonly allowedMetric: Effect.Effect<void>

  constructor(readonly impl: BulkheadImpl, readonly leases: Leases) {
    this.leaseLostMetric = Metric.increment(metricKeys.tagged(leasesLostKey, [["policy", impl.name]]))
    this.allowedMetric = Metric.increment(metricKeys.tagged(allowedKey, [["policy", impl.name]]))
  }

  run<A, E, R>(self: Effect.Effect<A, E, R>, key: string | undefined): Effect.Effect<A, E | BulkheadFullError | BulkheadStoreError, R> {
    return Effect.uninterruptibleMask((restore) => {
      const p = this.impl.partitionOf(key)
      const start = monotonicMillis(this.impl.clock)
      if (!p.semaphore.unsafeTryTake(1)) {
        if (p.queued() >= this.impl.maxQueue) return Effect.suspend(() => this.impl.reject(p, "QueueFull"))
        return this.queueLeased(p, false, start, restore, self)
      }
      if (p.waitingGlobal > 0) {
        // callers of this process already wait for a lease: queue behind them
        if (p.queued() >= this.impl.maxQueue) {
          this.releaseLocal(p)
          return this.impl.reject(p, "QueueFull")
        }
        return this.queueLeased(p, true, start, restore, self)
      }
      return Effect.matchEffect(p.leases!.acquire(this.impl.maxConcurrent), {
        onFailure: (error) =>
          Effect.matchEffect(this.onAcquireError(p, error), {
            onFailure: (e) => {
              this.releaseLocal(p)
              return Effect.fail(e)
            },
            onSuccess: (grant) => this.hold(p, grant, 0, restore, self)
          }),
        onSuccess: (a) => {
          if (a._tag === "Acquired") return this.hold(p, a.lease, 0, restore, self)
          if (p.queued() >= this.impl.maxQueue) {
            this.releaseLocal(p)
            return this.impl.reject(p, "QueueFull")
          }
          return this.queueLeased(p, true, start, restore, self)
        }
      })
    })
  }

  /** Gives back a local permit of a leased call, and lets the next caller of the process poll at once. */
  releaseLocal(p: Partition): void {
    p.semaphore.unsafeRelease(1)
    this.impl.evictIfIdle(p)
  }

  wakePoller(p: Partition): void {
    const w = p.wake
    if (w !== undefined) {
      p.wake = undefined
      Deferred.unsafeDone(w, Exit.void)
    }
  }

  /** Counts a failure of the store and reports it. */
  storeFailed(key: string | undefined, operation: StoreOperation, error: unknown, allowed: boolean): void {
    this.storeErrors++
    this.impl.hub.emitWith(() => ({ _tag: "StoreError", policy: this.impl.name, key, operation, error, allowed }))
  }

  /** The store failed while admitting: run without a lease ("allow") or reject ("fail"). */
  onAcquireError(p: Partition, error: unknown): Effect.Effect<Grant, BulkheadStoreError> {
    const allowed = this.impl.onStoreError === "allow"
    this.storeFailed(p.key, "acquire", error, allowed)
    if (allowed) {
      this.allowedWithoutLease++
      return Effect.as(this.allowedMetric, undefined)
    }
    return Effect.fail(BulkheadStoreError.make({ name: this.impl.name, key: p.key, operation: "acquire", store: this.impl.storeKind, cause: error }))
  }

  /** Releases a lease; a failure is counted (the lease then expires on its own). */
  releaseLease(p: Partition, lease: string): Effect.Effect<void> {
    return Effect.catchAll(p.leases!.release(lease), (error) => Effect.sync(() => this.storeFailed(p.key, "release", error, true)))
  }

  /** Renews the lease of a running call for as long as it runs. */
  renewLoop(p: Partition, lease: string): Effect.Effect<void> {
    const renew = Effect.suspend(() =>
      Effect.matchEffect(p.leases!.renew(lease, this.impl.maxConcurrent), {
        onFailure: (error) => Effect.sync(() => this.storeFailed(p.key, "renew", error, true)),
        onSuccess: (renewal) => {
          if (renewal === "Recovered") this.leasesRecovered++
          if (renewal !== "Lost") return Effect.void
          this.leasesLost++
          this.impl.hub.emitWith(() => ({ _tag: "LeaseLost", policy: this.impl.name, key: p.key }))
          return this.leaseLostMetric
        }
      })
    )
    return Effect.forever(Effect.zipRight(sleep(this.leases.renewInterval), renew))
  }

  /** Runs `self` holding `grant` (and a local permit); releases both when it ends, whatever the outcome. */
  hold<A, E, R>(p: Partition, grant: Grant, waited: number, restore: Restore, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    p.running++
    this.impl.hub.emitWith(() => this.impl.permitted(p, waited, grant !== undefined))
    const finish = (renewal: Fiber.RuntimeFiber<void> | undefined) => {
      const stopRenewal = renewal === undefined ? Effect.void : Fiber.interrupt(renewal)
      const releaseLease = grant === undefined ? Effect.void : this.releaseLease(p, grant)
      return Effect.ensuring(
        Effect.zipRight(stopRenewal, releaseLease),
        Effect.sync(() => {
          p.running--
          this.releaseLocal(p)
          this.wakePoller(p)
        })
      )
    }
    const run = (renewal: Fiber.RuntimeFiber<void> | undefined) =>
      Effect.matchCauseEffect(restore(self), {
        onFailure: (cause) => Effect.zipRight(finish(renewal), Exit.failCause(cause)),
        onSuccess: (a) => Effect.as(finish(renewal), a)
      })
    if (grant === undefined) return run(undefined)
    return Effect.flatMap(Effect.forkIn(background(this.renewLoop(p, grant)), this.impl.scope), run)
  }

  /**
   * Polls the store until a lease is granted (as the only poller of the partition in this
   * process). `got` receives the lease the moment it is acquired, so a caller interrupted
   * right after can give it back.
   */
  poll(p: Partition, got: (lease: string) => void): Effect.Effect<Grant, BulkheadStoreError> {
    const leases = this.leases
    const maxPollMillis = Duration.toMillis(leases.pollInterval)
    const loop = (backoff: number): Effect.Effect<Grant, BulkheadStoreError> =>
      Effect.flatMap(
        // uninterruptible (the store bounds it with its own timeout): a lease granted while the caller
        // is being interrupted reaches `got`, so that it is given back
        Effect.either(Effect.uninterruptible(Effect.tap(p.leases!.acquire(this.impl.maxConcurrent), (a) => {
          if (a._tag === "Acquired") got(a.lease)
        }))),
        (result): Effect.Effect<Grant, BulkheadStoreError> => {
          if (result._tag === "Left") return this.onAcquireError(p, result.left)
          const a = result.right
          if (a._tag === "Acquired") return Effect.succeed(a.lease)
          return Effect.flatMap(Random.nextRange(0.5, 1), (jitter) => {
            const pause = Math.max(1, Math.min(backoff * jitter, a.retryAfter))
            const signal = Deferred.unsafeMake<void>(FiberId.none)
            p.wake = signal
            return Effect.zipRight(
              this.pauseUntil(signal, pause),
              Effect.suspend(() => {
                if (p.wake === signal) p.wake = undefined
                return loop(Math.min(maxPollMillis, backoff * 2))
              })
            )
          })
        }
      )
    return loop(Math.min(MIN_POLL_MILLIS, maxPollMillis))
  }

  /**
   * Waits for `signal` (a call of this process ended) or `pause` ms, whichever comes first. The
   * timer is a daemon fiber, not a child: the wait forks nothing that the caller's interruption
   * would take down, so inside an uninterruptible caller it goes on until the signal or the timer
   * (a race of two children stopped for good there once the caller was interrupted).
   */
  pauseUntil(signal: Deferred.Deferred<void>, pause: number): Effect.Effect<void> {
    return Effect.flatMap(
      Effect.forkDaemon(background(Effect.zipRight(Effect.sleep(Duration.millis(pause)), Deferred.succeed(signal, undefined)))),
      (timer) => Effect.ensuring(Deferred.await(signal), Fiber.interruptFork(timer))
    )
  }

  /**
   * The slow path of a leased call: waits for a local permit (unless it holds one already),
   * then for the turn to poll, then polls; all within `maxWait` and the enclosing deadline.
   * Everything taken is given back if the wait fails, times out or is interrupted.
   */
  queueLeased<A, E, R>(
    p: Partition,
    holdsLocal: boolean,
    start: number,
    restore: Restore,
    self: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | BulkheadFullError | BulkheadStoreError, R> {
    let waiter: Waiter | undefined = undefined
    let local = holdsLocal
    let counted = false
    let lease: string | undefined = undefined
    const enterGlobal = () => {
      local = true
      counted = true
      p.waitingGlobal++
    }
    const leaveGlobal = () => {
      if (counted) {
        counted = false
        p.waitingGlobal--
      }
    }
    let waitLocal: Effect.Effect<void> = Effect.void
    if (holdsLocal) {
      enterGlobal()
    } else {
      const w = new Waiter(1)
      waiter = w
      p.semaphore.unsafeEnqueue(w)
      waitLocal = Effect.map(w.await<number, never>(), () => {
        waiter = undefined
        enterGlobal()
      })
    }
    this.impl.hub.emitWith(() => ({ _tag: "Queued", policy: this.impl.name, key: p.key, active: p.running, queued: p.queued() }))
    const waitGlobal = p.turn!.withPermits(1)(this.poll(p, (l) => {
      lease = l
    }))
    const wait = Effect.zipRight(waitLocal, waitGlobal)
    // bounded by the earlier of maxWait and the enclosing deadline (at a tie, the deadline), failing
    // with the deadline's own error when it comes first: never relies on being interrupted
    const timedWait: Effect.Effect<Option.Option<Grant>, BulkheadStoreError> = Effect.withFiberRuntime((fiber) => {
      const deadline = activeDeadline(fiber.getFiberRef(currentDeadline))
      const ownExpiry = this.impl.maxWaitMillis === undefined ? Infinity : start + this.impl.maxWaitMillis
      const now = monotonicMillis(this.impl.clock)
      if (deadline !== undefined && deadline.at <= ownExpiry) {
        // at the deadline: its error if its region still runs; else (a fork that outlived its
        // timeout) only the caller's own maxWait bounds the wait
        const bound: Effect.Effect<Option.Option<Grant>, TimeoutError> = Effect.zipRight(
          sleepOn(this.impl.clock, deadline.at - now),
          Effect.suspend(() =>
            deadline.active
              ? Effect.failSync(() => expired(deadline))
              : ownExpiry === Infinity
              ? Effect.never
              : Effect.as(sleepOn(this.impl.clock, ownExpiry - monotonicMillis(this.impl.clock)), Option.none())
          )
        )
        // the enclosing timeout's type carries its TimeoutError; detached: an uninterruptible caller's
        // interruption cuts neither the wait nor its bound (it waits on, as without a bound)
        // (the bound is interruptible too: the race interrupts the loser and waits for it, and an
        // uninterruptible sleep would hold a granted lease, unused, until the deadline)
        return detached(Effect.raceFirst(Effect.asSome(Effect.interruptible(wait)), Effect.interruptible(bound))) as Effect.Effect<
          Option.Option<Grant>,
          BulkheadStoreError
        >
      }
      // interruptible: the bound holds inside an uninterruptible caller too (and timeoutOption runs it
      // detached there: the caller's interruption does not cut it)
      return ownExpiry === Infinity ? Effect.asSome(wait) : timeoutOption(Effect.interruptible(wait), Math.max(0, ownExpiry - now))
    })
    const giveBack = (): Effect.Effect<void> => {
      leaveGlobal()
      if (waiter !== undefined) {
        p.semaphore.unsafeCancel(waiter)
        waiter = undefined
        this.impl.evictIfIdle(p)
      } else if (local) {
        local = false
        this.releaseLocal(p)
      }
      const l = lease
      lease = undefined
      return l === undefined ? Effect.void : this.releaseLease(p, l)
    }
    return Effect.matchCauseEffect(restore(timedWait), {
      onFailure: (cause) => Effect.zipRight(giveBack(), Exit.failCause(cause)),
      onSuccess: (granted): Effect.Effect<A, E | BulkheadFullError | BulkheadStoreError, R> => {
        if (Option.isNone(granted)) return Effect.zipRight(giveBack(), this.impl.reject(p, "MaxWaitExceeded"))
        leaveGlobal()
        this.wakePoller(p) // the next poller of this process may try at once
        return this.hold(p, granted.value, monotonicMillis(this.impl.clock) - start, restore, self)
      }
    })
  }

  /** Leases of a partition held right now by every process; a store failure is a `BulkheadStoreError`. */
  held(key: string | undefined): Effect.Effect<number, BulkheadStoreError | InvalidKeyError> {
    return Effect.catchAll(
      this.leases.partition(key).held,
      (error) =>
        Effect.suspend(() => {
          this.storeFailed(key, "held", error, false)
          return Effect.fail(BulkheadStoreError.make({ name: this.impl.name, key, operation: "held", store: this.impl.storeKind, cause: error }))
        })
    )
  }

  totals(totals: Bulkhead.Bulkhead.Totals): Bulkhead.Bulkhead.Totals {
    return {
      ...totals,
      storeErrors: this.storeErrors,
      allowedWithoutLease: this.allowedWithoutLease,
      leasesLost: this.leasesLost,
      leasesRecovered: this.leasesRecovered
    }
  }
}
