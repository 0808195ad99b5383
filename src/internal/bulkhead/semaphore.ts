/**
 * A herd-free FIFO semaphore with the interface of Effect's `Semaphore`.
 *
 * Effect 3.22's own `Semaphore` keeps its waiters in a `Set` of observers and,
 * on every release, schedules a task that calls each of them in turn; every
 * waiter that finds a free permit re-runs `take`, and under contention the
 * work per release grows with the number of waiters (thousands of callers
 * pile up for seconds and gigabytes). This one keeps its waiters in a
 * doubly-linked FIFO list: a release hands the freed permits to exactly the
 * waiters at the head of the queue that they satisfy, each resumed once,
 * in O(1) per wake-up.
 *
 * - The uncontended path allocates no `Deferred` and forks nothing: when the
 *   queue is empty and enough permits are free, `withPermits` takes them
 *   synchronously and installs one release handler.
 * - Strict FIFO: a caller never overtakes a queued one (not even
 *   `withPermitsIfAvailable`), and a waiter asking for more permits than are
 *   free holds back the ones behind it, so large requests do not starve.
 * - Interruption-safe: a waiter interrupted while queued leaves the queue (and
 *   the waiters behind it are re-examined); a waiter interrupted just after
 *   being granted its permits, before it could use them, gives them back.
 *
 * The `unsafe*` methods and {@link Waiter} are the low-level interface the
 * bulkhead builds on (it adds queue limits and wait timeouts).
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"

/** The waiter is queued. @internal */
export const PENDING = 0
/** The waiter was handed its permits. @internal */
export const GRANTED = 1
/** The waiter left the queue without permits, or gave back the permits it was granted. @internal */
export const CANCELLED = 2

/** @internal */
export type WaiterState = typeof PENDING | typeof GRANTED | typeof CANCELLED

/**
 * A queued request for `permits` permits.
 *
 * The semaphore calls {@link Waiter.onGrant} exactly once, synchronously, when
 * it hands the waiter its permits (the permits are already counted as taken);
 * the default settles the waiter with `Exit.succeed(permits)`. Subclasses may
 * override it to do more (the bulkhead unlinks the waiter from its timer
 * list), but must settle the waiter.
 *
 * The waiting fiber suspends in {@link Waiter.await}; {@link Waiter.settle}
 * resumes it (or, if it has not suspended yet, hands it the outcome when it
 * does). The waiter is enqueued in the same synchronous section that found no
 * free permit, inside the caller's uninterruptible region, and the caller
 * cancels it (`unsafeCancel`) from its own failure handler when the wait is
 * interrupted — no canceler effect and no `onInterrupt` per waiter.
 *
 * @internal
 */
export class Waiter {
  /** Links of the semaphore's queue (owned by the semaphore). */
  prev: Waiter | undefined = undefined
  next: Waiter | undefined = undefined
  state: WaiterState = PENDING
  private callback: ((effect: Effect.Effect<any, any>) => void) | undefined = undefined
  private outcome: Effect.Effect<any, any> | undefined = undefined
  constructor(readonly permits: number) {}

  /** Resumes the waiting fiber with `effect` (once; later calls are ignored). */
  settle(effect: Effect.Effect<any, any>): void {
    const callback = this.callback
    if (callback !== undefined) {
      this.callback = undefined
      callback(effect)
    } else if (this.outcome === undefined) {
      this.outcome = effect
    }
  }

  /** Suspends until the waiter is settled. */
  await<A, E>(): Effect.Effect<A, E> {
    return Effect.async<A, E>((resume) => {
      const outcome = this.outcome
      if (outcome !== undefined) resume(outcome)
      else this.callback = resume
    })
  }

  onGrant(): void {
    this.settle(Exit.succeed(this.permits))
  }
}

interface Releaser {
  readonly onFailure: (cause: Cause.Cause<any>) => Effect.Effect<never, any>
  readonly onSuccess: (a: any) => Effect.Effect<any>
}

const makeReleaser = (semaphore: FifoSemaphore, permits: number): Releaser => ({
  onFailure: (cause) => {
    semaphore.unsafeRelease(permits)
    return Exit.failCause(cause)
  },
  onSuccess: (a) => {
    semaphore.unsafeRelease(permits)
    return Exit.succeed(a)
  }
})

const succeedNone = Effect.succeed(Option.none())

const isPermitCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0

const invalidPermits = (operation: string, n: number): Effect.Effect<never> =>
  Effect.dieMessage(`Semaphore.${operation}: permits must be a non-negative integer, got ${String(n)}`)

/**
 * The semaphore. Implements Effect's `Semaphore` interface, so it can replace
 * it anywhere; adds `available`, `waiting` and their synchronous `unsafe*`
 * forms.
 *
 * Permit counts must be non-negative integers; anything else is a defect
 * (Effect's own semaphore silently corrupts its count instead).
 *
 * @internal
 */
export class FifoSemaphore implements Effect.Semaphore {
  /** The capacity (changed by `resize`). */
  permits: number
  /** Permits held, including those granted to waiters not yet resumed. */
  taken = 0
  /** Waiters in the queue. */
  waiters = 0
  /** Permits the queued waiters ask for in total. */
  waitingPermits = 0
  /**
   * Waiters handed their permits (each resumed exactly once). A herd-free
   * semaphore resumes exactly one queued waiter per wake-up, so this equals
   * the number of callers that had to queue and were admitted.
   */
  wakeups = 0
  private head: Waiter | undefined = undefined
  private tail: Waiter | undefined = undefined
  private readonly releaseOne: Releaser

  constructor(permits: number) {
    this.permits = permits
    this.releaseOne = makeReleaser(this, 1)
  }

  // ---------------------------------------------------------------------------
  // synchronous core (call only from inside a running fiber or a callback that
  // cannot interleave with another fiber: JavaScript is single-threaded)
  // ---------------------------------------------------------------------------

  /** Permits free right now (negative after a shrinking resize). */
  unsafeAvailable(): number {
    return this.permits - this.taken
  }

  /** Queued waiters right now. */
  unsafeWaiting(): number {
    return this.waiters
  }

  /** Takes `n` permits if nobody is queued and they are free. */
  unsafeTryTake(n: number): boolean {
    if (this.head === undefined && this.permits - this.taken >= n) {
      this.taken += n
      return true
    }
    return false
  }

  /**
   * Appends a waiter to the queue. Call only after {@link unsafeTryTake}
   * failed in the same synchronous section; the waiter is granted by a later
   * release.
   */
  unsafeEnqueue(waiter: Waiter): void {
    waiter.state = PENDING
    waiter.next = undefined
    waiter.prev = this.tail
    if (this.tail === undefined) this.head = waiter
    else this.tail.next = waiter
    this.tail = waiter
    this.waiters++
    this.waitingPermits += waiter.permits
  }

  /**
   * Removes a queued waiter (it timed out or was interrupted). Returns false
   * when it is no longer queued. Waiters behind it may be admitted.
   */
  unsafeRemove(waiter: Waiter): boolean {
    if (waiter.state !== PENDING) return false
    this.unlink(waiter)
    waiter.state = CANCELLED
    this.drain()
    return true
  }

  /**
   * Called when the fiber of `waiter` was interrupted while waiting: a queued
   * waiter leaves the queue; a waiter granted its permits but interrupted
   * before it resumed gives them back.
   */
  unsafeCancel(waiter: Waiter): void {
    if (waiter.state === PENDING) {
      this.unsafeRemove(waiter)
    } else if (waiter.state === GRANTED) {
      waiter.state = CANCELLED
      this.unsafeRelease(waiter.permits)
    }
  }

  /** Returns `n` permits and admits the waiters at the head that they satisfy. */
  unsafeRelease(n: number): number {
    this.taken -= n
    this.drain()
    return this.permits - this.taken
  }

  /** Sets the capacity and admits the waiters it now satisfies. */
  unsafeResize(permits: number): void {
    this.permits = permits
    this.drain()
  }

  private unlink(waiter: Waiter): void {
    const { next, prev } = waiter
    if (prev === undefined) this.head = next
    else prev.next = next
    if (next === undefined) this.tail = prev
    else next.prev = prev
    waiter.prev = undefined
    waiter.next = undefined
    this.waiters--
    this.waitingPermits -= waiter.permits
  }

  /** Hands free permits to the waiters at the head, in order, one wake-up each. */
  private drain(): void {
    let waiter = this.head
    while (waiter !== undefined && this.permits - this.taken >= waiter.permits) {
      this.unlink(waiter)
      this.taken += waiter.permits
      waiter.state = GRANTED
      this.wakeups++
      waiter.onGrant()
      waiter = this.head
    }
  }

  // ---------------------------------------------------------------------------
  // Effect's Semaphore interface
  // ---------------------------------------------------------------------------

  /** Permits free right now. */
  readonly available: Effect.Effect<number> = Effect.sync(() => this.unsafeAvailable())

  /** Callers queued right now. */
  readonly waiting: Effect.Effect<number> = Effect.sync(() => this.waiters)

  /**
   * Waits for `n` permits in the queue, inside the caller's uninterruptible
   * region: enqueues at once (no free permit was found in this same
   * synchronous section), then suspends interruptibly. Interrupted, the waiter
   * leaves the queue, or gives back the permits it was just granted.
   */
  private waitThen<A, E, R>(
    n: number,
    restore: <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>,
    then: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> {
    const waiter = new Waiter(n)
    this.unsafeEnqueue(waiter)
    return Effect.matchCauseEffect(restore(waiter.await<number, never>()), {
      onFailure: (cause) => {
        this.unsafeCancel(waiter)
        return Exit.failCause(cause)
      },
      onSuccess: () => then
    })
  }

  /**
   * Takes `n` permits, waiting in FIFO order if needed; succeeds with `n`
   * (as Effect's does). The caller must release them.
   */
  take(n: number): Effect.Effect<number> {
    if (!isPermitCount(n)) return invalidPermits("take", n)
    const taken = Exit.succeed(n)
    return Effect.uninterruptibleMask((restore) =>
      this.unsafeTryTake(n) ? taken : this.waitThen(n, restore, taken)
    )
  }

  /** Returns `n` permits; succeeds with the permits now available. */
  release(n: number): Effect.Effect<number> {
    if (!isPermitCount(n)) return invalidPermits("release", n)
    return Effect.sync(() => this.unsafeRelease(n))
  }

  /**
   * Releases every permit held and succeeds with the permits now available.
   * As with Effect's, effects still running under `withPermits` release theirs
   * again when they finish, so `available` may exceed the capacity.
   */
  readonly releaseAll: Effect.Effect<number> = Effect.sync(() => {
    this.taken = 0
    this.drain()
    return this.permits - this.taken
  })

  /**
   * Sets the capacity. Growing admits queued waiters at once; shrinking never
   * interrupts holders: new callers wait until enough permits are released.
   */
  resize(permits: number): Effect.Effect<void> {
    if (!isPermitCount(permits)) return invalidPermits("resize", permits)
    return Effect.sync(() => this.unsafeResize(permits))
  }

  /**
   * Runs `self` holding `n` permits, released on success, failure, defect and
   * interruption. Waits (interruptibly) in FIFO order when they are not free.
   */
  withPermits(n: number): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> {
    if (!isPermitCount(n)) return () => invalidPermits("withPermits", n)
    // Stryker disable next-line ConditionalExpression: equivalent: releaseOne is makeReleaser(this, 1), shared to save an allocation per call
    const releaser = n === 1 ? this.releaseOne : makeReleaser(this, n)
    return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.uninterruptibleMask((restore) => {
        const run = Effect.matchCauseEffect(restore(self), releaser)
        return this.unsafeTryTake(n) ? run : this.waitThen(n, restore, run)
      })
  }

  /**
   * Runs `self` holding `n` permits if they are free right now and nobody is
   * queued (a caller never overtakes a queued one); otherwise succeeds with
   * `Option.none()` without running it.
   */
  withPermitsIfAvailable(n: number): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E, R> {
    if (!isPermitCount(n)) return () => invalidPermits("withPermitsIfAvailable", n)
    return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R> =>
      Effect.uninterruptibleMask((restore) => {
        if (!this.unsafeTryTake(n)) return succeedNone
        return Effect.matchCauseEffect(restore(self), {
          onFailure: (cause) => {
            this.unsafeRelease(n)
            return Exit.failCause(cause)
          },
          onSuccess: (a) => {
            this.unsafeRelease(n)
            return Exit.succeed(Option.some(a))
          }
        })
      })
  }
}

/**
 * Makes a semaphore with `permits` permits (a non-negative integer; throws a
 * `RangeError` otherwise).
 *
 * @internal
 */
export const unsafeMake = (permits: number): FifoSemaphore => {
  if (!isPermitCount(permits)) throw new RangeError(`Semaphore: permits must be a non-negative integer, got ${String(permits)}`)
  return new FifoSemaphore(permits)
}

/**
 * Makes a semaphore with `permits` permits, like `Effect.makeSemaphore`.
 *
 * @internal
 */
export const make = (permits: number): Effect.Effect<FifoSemaphore> => Effect.sync(() => unsafeMake(permits))
