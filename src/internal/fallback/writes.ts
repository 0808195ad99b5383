/**
 * The write queue of a stale-if-error policy whose store is not in memory
 * (Redis, a user's store): values are written off the callers' path.
 *
 * - coalesced per key: a newer value of a key replaces the one still waiting
 *   (only the latest matters), and a key's writes run one at a time, in
 *   order, so an older value never overwrites a newer one;
 * - bounded: at most {@link STALE_WRITE_CONCURRENCY} writes at a time, and at
 *   most `maxPendingWrites` values waiting (past it the oldest is dropped and
 *   reported);
 * - read through: a value waiting (or being written) is newer than the
 *   store's, and is served from here.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import { background } from "../detached.js"
import type * as Fallback from "../../Fallback.js"
import { currentDeadline } from "../deadline.js"
import { LinkedMap } from "../linkedMap.js"
import { StaleStoreError } from "./errors.js"

/** Writes to a store other than the memory store run at most this many at a time per policy. @internal */
export const STALE_WRITE_CONCURRENCY = 4

/** A value waiting to be written (or being written). */
interface StaleWrite {
  /** The policy's key (for events). */
  readonly key: string
  /** The value as the policy has it (encoded when it is written). */
  readonly entry: Fallback.StaleEntry
  /** Completed when the write has ended (set once it starts). */
  done: Deferred.Deferred<void> | undefined
}

/** What the queue needs from its policy. @internal */
export interface Writer {
  /** Writes one entry of the policy's `key` under the store key `sk` (counted; failures reported). */
  readonly write: (key: string, sk: string, entry: Fallback.StaleEntry) => Effect.Effect<void>
  /** Reports a write that was dropped. */
  readonly dropped: (key: string, error: StaleStoreError) => Effect.Effect<void>
}

/** @internal */
export class StaleWrites {
  /** The latest value of each key not yet sent, oldest key first. */
  private readonly pending = new LinkedMap<string, StaleWrite>()
  /** The write in flight of each key (one at a time per key, so they land in order). */
  private readonly writing = new Map<string, StaleWrite>()
  private idle: Array<Deferred.Deferred<void>> = []

  constructor(private readonly writer: Writer, private readonly maxPendingWrites: number) {}

  /** Values waiting to be written, or being written. */
  get size(): number {
    return this.pending.size + this.writing.size
  }

  /** Queues `entry` for the store key `sk` (of the policy's `key`) and starts what may start. */
  enqueue(sk: string, key: string, entry: Fallback.StaleEntry): Effect.Effect<void> {
    return Effect.suspend(() => {
      const w: StaleWrite = { key, entry, done: undefined }
      if (this.pending.has(sk)) {
        // coalesced: the newer value replaces the one waiting (its place in the queue is kept)
        this.pending.set(sk, w)
        return this.pump
      }
      let dropped: Effect.Effect<void> = Effect.void
      if (this.pending.size >= this.maxPendingWrites) {
        const oldestKey = this.pending.firstKey()!
        const oldest = this.pending.get(oldestKey)!
        this.pending.delete(oldestKey)
        dropped = this.writer.dropped(
          oldest.key,
          new StaleStoreError({
            operation: "set",
            key: oldestKey,
            cause: new Error(`the write queue is full (maxPendingWrites: ${this.maxPendingWrites}): the value was not stored`)
          })
        )
      }
      this.pending.set(sk, w)
      return Effect.zipRight(dropped, this.pump)
    })
  }

  /** The value of `sk` still waiting to be written, or being written: newer than the store's. */
  unwritten(sk: string): Fallback.StaleEntry | undefined {
    return (this.pending.get(sk) ?? this.writing.get(sk))?.entry
  }

  /**
   * Drops the value of `sk` waiting (it would bring back what is being
   * invalidated); the write of `sk` in flight, if any, to await first.
   */
  cancel(sk: string): Deferred.Deferred<void> | undefined {
    this.pending.delete(sk)
    this.settleIdle()
    return this.writing.get(sk)?.done
  }

  /** Waits until the writes queued so far have ended. */
  readonly flush: Effect.Effect<void> = Effect.suspend(() => {
    if (this.pending.size === 0 && this.writing.size === 0) return Effect.void
    const d = Deferred.unsafeMake<void>(FiberId.none)
    this.idle.push(d)
    return Deferred.await(d)
  })

  private settleIdle(): void {
    if (this.pending.size > 0 || this.writing.size > 0 || this.idle.length === 0) return
    const waiters = this.idle
    this.idle = []
    for (const d of waiters) Deferred.unsafeDone(d, Effect.void)
  }

  /** Writes one value, then frees its key and starts the next ones. */
  private writeOne(sk: string, w: StaleWrite): Effect.Effect<void> {
    return Effect.ensuring(
      this.writer.write(w.key, sk, w.entry),
      Effect.suspend(() => {
        this.writing.delete(sk)
        Deferred.unsafeDone(w.done!, Effect.void)
        this.settleIdle()
        return this.pump
      })
    )
  }

  /** Starts waiting writes, up to the concurrency, skipping keys whose previous write is in flight. */
  private readonly pump: Effect.Effect<void> = Effect.suspend(() => {
    let started: Effect.Effect<void> = Effect.void
    while (this.writing.size < STALE_WRITE_CONCURRENCY) {
      let next: string | undefined
      // at most STALE_WRITE_CONCURRENCY keys are skipped (each has a write in flight)
      for (const k of this.pending.keys()) {
        if (!this.writing.has(k)) {
          next = k
          break
        }
      }
      if (next === undefined) break
      const w = this.pending.get(next)!
      this.pending.delete(next)
      w.done = Deferred.unsafeMake<void>(FiberId.none)
      this.writing.set(next, w)
      // detached from the caller: its interruption and deadline do not reach the write
      started = Effect.zipRight(
        started,
        Effect.forkDaemon(background(Effect.locally(this.writeOne(next, w), currentDeadline, undefined)))
      )
    }
    return Effect.asVoid(started)
  })
}
