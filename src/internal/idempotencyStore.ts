/**
 * The bounded in-memory `IdempotencyStore`.
 *
 * - An execution in flight is a `Deferred` per key: `acquire` on a free key
 *   makes the caller its executor (released when the acquisition's scope
 *   closes without a result), later callers await the `Deferred`.
 * - Stored `Exit`s expire after their TTL. They are kept in insertion order,
 *   which is expiry order for one TTL, so expired ones are dropped from the
 *   front as new ones arrive, and a periodic sweep removes the rest; at most
 *   `maxKeys` are kept (the oldest is dropped first). Executions in flight
 *   are never dropped.
 * - `Exit`s are kept as they are (no encoding): their size is the user's;
 *   keys are validated by the policy (at most `maxKeyLength` code units), so
 *   key strings take at most `maxKeys × (maxKeyLength + name) × 2` bytes.
 *   Time is the caller's `Clock`.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { InvalidOptionsError } from "../Errors.js"
import type * as Idempotency from "../Idempotency.js"
import { LinkedMap } from "./linkedMap.js"
import { monotonicMillis, sleep } from "./time.js"
import * as validate from "./validate.js"

/** @internal */
export const MemoryStoreTypeId: Idempotency.MemoryStoreTypeId = Symbol.for(
  "effect-resilience/Idempotency/MemoryStore"
) as Idempotency.MemoryStoreTypeId

/** @internal */
export const DEFAULT_MAX_KEYS = 100_000

/** @internal */
export const DEFAULT_SWEEP_INTERVAL_MILLIS = 60_000

/** How many expired entries at the front are dropped per insertion (amortized cleanup). */
const SWEEP_PER_INSERT = 4

class Running {
  settled = false
  readonly deferred = Deferred.unsafeMake<Option.Option<Exit.Exit<unknown, unknown>>>(FiberId.none)
}

class Stored {
  constructor(readonly exit: Exit.Exit<unknown, unknown>, readonly expiresAt: number) {}
}

/** @internal */
export class MemoryCore {
  readonly running = new Map<string, Running>()
  // a LinkedMap: its oldest entry is O(1) to reach whatever was deleted (a plain Map's
  // iterator walks the holes its deletions leave at the front: O(keys held) per insert)
  readonly stored = new LinkedMap<string, Stored>()
  expired = 0
  evicted = 0

  constructor(readonly maxKeys: number) {}

  size(): number {
    return this.running.size + this.stored.size
  }

  /** The stored `Exit` of `key`, if it has not expired. */
  lookup(now: number, key: string): Stored | undefined {
    const s = this.stored.get(key)
    if (s === undefined) return undefined
    if (s.expiresAt > now) return s
    this.stored.delete(key)
    this.expired++
    return undefined
  }

  store(now: number, key: string, exit: Exit.Exit<unknown, unknown>, ttlMillis: number): void {
    this.stored.delete(key)
    // drop expired entries from the front (insertion order is expiry order for one TTL)
    let budget = SWEEP_PER_INSERT
    for (const [k, s] of this.stored) {
      if (budget-- <= 0 || s.expiresAt > now) break
      this.stored.delete(k)
      this.expired++
    }
    while (this.stored.size >= this.maxKeys) {
      const first = this.stored.keys().next()
      // Stryker disable next-line ConditionalExpression: equivalent: unreachable: maxKeys >= 1, so the map is not empty inside this loop
      if (first.done) break
      this.stored.delete(first.value)
      this.evicted++
    }
    this.stored.set(key, new Stored(exit, now + ttlMillis))
  }

  sweep(now: number): number {
    let removed = 0
    for (const [k, s] of this.stored) {
      if (s.expiresAt <= now) {
        this.stored.delete(k)
        removed++
      }
    }
    this.expired += removed
    return removed
  }

  /** Ends an execution: hands its `Exit` (or `None`) to the waiters and frees the key. */
  settle(key: string, entry: Running, result: Option.Option<Exit.Exit<unknown, unknown>>): boolean {
    // Stryker disable next-line ConditionalExpression,BooleanLiteral: equivalent: the result is unused, and a second settle finds its key deleted (or re-acquired by another entry) and its Deferred done, which unsafeDone leaves as it is
    if (entry.settled) return false
    entry.settled = true
    // Stryker disable next-line ConditionalExpression: equivalent: an unsettled entry is always the key's running entry (only its own settle deletes it, and acquire sets a key only when it is free)
    if (this.running.get(key) === entry) this.running.delete(key)
    Deferred.unsafeDone(entry.deferred, Effect.succeed(result))
    // Stryker disable next-line BooleanLiteral: equivalent: no caller reads the result
    return true
  }
}

/** @internal */
export const makeService = (core: MemoryCore): Idempotency.MemoryStore => {
  const acquire = (key: string): Effect.Effect<Idempotency.Acquisition, never, Scope.Scope> =>
    Effect.clockWith((clock) =>
      Effect.suspend((): Effect.Effect<Idempotency.Acquisition, never, Scope.Scope> => {
        const now = monotonicMillis(clock)
        const stored = core.lookup(now, key)
        if (stored !== undefined) return Effect.succeed({ _tag: "Completed", exit: stored.exit })
        const running = core.running.get(key)
        if (running !== undefined) {
          return Effect.succeed({ _tag: "InFlight", await: Deferred.await(running.deferred) })
        }
        const entry = new Running()
        core.running.set(key, entry)
        const acquired: Idempotency.Acquisition = {
          _tag: "Acquired",
          complete: (exit, ttl) =>
            Effect.clockWith((clock) =>
              Effect.sync(() => {
                if (entry.settled) return
                if (ttl !== undefined) core.store(monotonicMillis(clock), key, exit, Duration.toMillis(ttl))
                core.settle(key, entry, Option.some(exit))
              })
            )
        }
        // closing the acquisition's scope without a result releases the key
        return Effect.as(Effect.addFinalizer(() => Effect.sync(() => core.settle(key, entry, Option.none()))), acquired)
      })
    )
  return {
    persistent: false,
    acquire,
    invalidate: (key) =>
      Effect.sync(() => {
        core.stored.delete(key)
      }),
    [MemoryStoreTypeId]: MemoryStoreTypeId,
    size: () => core.size(),
    sweep: Effect.clockWith((clock) => Effect.sync(() => core.sweep(monotonicMillis(clock)))),
    stats: () => ({
      stored: core.stored.size,
      inFlight: core.running.size,
      maxKeys: core.maxKeys,
      expired: core.expired,
      evicted: core.evicted
    })
  }
}

/** @internal */
export const makeMemoryStore = (
  options?: Idempotency.MemoryStoreOptions
): Effect.Effect<Idempotency.MemoryStore, InvalidOptionsError, Scope.Scope> =>
  Effect.flatMap(
    validate.validated(() => {
      const m = "Idempotency.makeStoreMemory"
      options = validate.options(m, options)
      const maxKeys = validate.optionalNumber(m, "maxKeys", options.maxKeys, { min: 1, integer: true }) ??
        DEFAULT_MAX_KEYS
      const sweepInterval = options.sweepInterval === undefined
        ? DEFAULT_SWEEP_INTERVAL_MILLIS
        : Duration.toMillis(validate.duration(m, "sweepInterval", options.sweepInterval, { allowInfinite: true }))
      return { maxKeys, sweepInterval }
    }),
    ({ maxKeys, sweepInterval }) => {
      const service = makeService(new MemoryCore(maxKeys))
      if (!Number.isFinite(sweepInterval)) return Effect.succeed(service)
      const sweeper = Effect.forever(Effect.zipRight(sleep(sweepInterval), service.sweep))
      return Effect.as(Effect.forkScoped(Effect.interruptible(sweeper)), service)
    }
  )
