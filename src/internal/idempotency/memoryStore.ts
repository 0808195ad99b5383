/**
 * The bounded in-memory `IdempotencyStore`.
 *
 * - An execution in flight is a `Deferred` per key: `acquire` on a free key
 *   makes the caller its executor (released when the acquisition's scope
 *   closes without a result), later callers await the `Deferred`.
 * - Stored `Exit`s expire after their TTL. They are kept in one list per
 *   TTL, in insertion order — which is expiry order within one TTL (times are
 *   monotonic) — so expired ones are dropped from the fronts as new ones
 *   arrive, and a periodic sweep removes the rest. The earliest expiry is the
 *   earliest of the lists' fronts: O(number of TTLs), whatever the number of
 *   keys held.
 * - At most `maxKeys` keys are held, stored and in flight together. A full
 *   store first drops the records that have expired; then, with
 *   `whenFull: "refuse"` (the default), it refuses a new key (an
 *   `IdempotencyError` with reason `"StoreFull"` and `retryAfter` until the
 *   earliest record expires) rather than forget a live record — a forgotten
 *   record would let its key run twice within its TTL; with
 *   `whenFull: "evictOldest"` it drops the oldest stored record instead.
 *   Stored and in-flight keys are always served. Executions in flight are
 *   never dropped.
 * - The acquisition that takes the store to its high-water mark (90% of
 *   `maxKeys` by default) says so (`highWater`), once per crossing: the policy
 *   reports it (an event and a metric) before the store is full.
 * - `Exit`s are kept as they are (no encoding): their size is the user's;
 *   keys are validated by the policy (at most `maxKeyLength` code units), so
 *   key strings take at most `maxKeys × (maxKeyLength + name) × 2` bytes.
 *   Time is the caller's `Clock`.
 *
 * The store service is the `Context.Reference` `IdempotencyStore` (its
 * default: a memory store; see `storeFor` for what a policy uses when nothing
 * is provided).
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { InvalidOptionsError } from "../../Errors.js"
import type * as I from "../../Idempotency.js"
import { withoutStack } from "../errors.js"
import { LinkedMap } from "../linkedMap.js"
import { forkSweeper } from "../sweeper.js"
import { monotonicMillis } from "../time.js"
import * as validate from "../validate.js"
import {
  DEFAULT_HIGH_WATER,
  DEFAULT_MAX_KEYS,
  DEFAULT_SWEEP_INTERVAL_MILLIS,
  DEFAULT_WHEN_FULL,
  type MemoryOptions,
  memoryStoreSpec
} from "./options.js"
import { IdempotencyError } from "./errors.js"

/** The same symbol as `Idempotency.MemoryStoreTypeId` (`Symbol.for`). @internal */
export const MemoryStoreTypeId: I.MemoryStoreTypeId = Symbol.for(
  "effect-resilience/Idempotency/MemoryStore"
) as I.MemoryStoreTypeId

/**
 * The service of the `IdempotencyStore` reference (see its documentation in
 * `Idempotency.ts`).
 *
 * @internal
 */
export interface Service {
  readonly persistent: boolean
  readonly acquire: (
    key: string,
    options: I.AcquireOptions
  ) => Effect.Effect<I.Acquisition, IdempotencyError, Scope.Scope>
  readonly invalidate: (key: string) => Effect.Effect<void, IdempotencyError>
}

/** How many expired entries at the front are dropped per insertion (amortized cleanup). */
const SWEEP_PER_INSERT = 4

type Result = Option.Option<Exit.Exit<unknown, unknown>>

/** An execution in flight. Its `Deferred` is made for the first waiter: most keys have none, and one costs microseconds. */
class Running {
  settled = false
  deferred: Deferred.Deferred<Result> | undefined = undefined

  /**
   * Waits for the execution's `Exit` (`None`: it ended without a result). Asked only of the entry
   * in flight under its key (`settle` takes it out of `running` first), so the `Deferred` made here
   * is completed by that `settle`.
   */
  await(): Effect.Effect<Result> {
    if (this.deferred === undefined) this.deferred = Deferred.unsafeMake<Result>(FiberId.none)
    return Deferred.await(this.deferred)
  }
}

class Stored {
  constructor(
    readonly exit: Exit.Exit<unknown, unknown>,
    readonly storedAt: number,
    readonly expiresAt: number,
    readonly ttl: number,
    readonly bucket: LinkedMap<string, Stored>
  ) {}
}

/** What a full store does with a new key. @internal */
export type WhenFull = "refuse" | "evictOldest"

/** The answer of {@link MemoryCore.admit} for a new key. @internal */
export type Admission =
  | { readonly _tag: "Admitted"; readonly highWater: boolean }
  | { readonly _tag: "Full"; readonly retryAfterMillis: number | undefined }

/** @internal */
export class MemoryCore {
  readonly running = new Map<string, Running>()
  /** Every stored record by key. */
  readonly stored = new Map<string, Stored>()
  /**
   * The stored records per TTL (millis), each in insertion order = expiry order. LinkedMaps:
   * their oldest entry is O(1) to reach whatever was deleted (a plain Map's iterator walks the
   * holes its deletions leave at the front: O(keys held) per insert).
   */
  readonly buckets = new Map<number, LinkedMap<string, Stored>>()
  /** Keys held (stored and in flight) from which an acquisition reports the high-water mark. */
  readonly highWaterKeys: number
  /** Armed when the store is below its high-water mark: the next crossing is reported. */
  private armed = true
  expired = 0
  evicted = 0
  refused = 0
  highWaterCrossings = 0

  constructor(readonly maxKeys: number, readonly whenFull: WhenFull = "refuse", highWater: number = DEFAULT_HIGH_WATER) {
    this.highWaterKeys = Math.max(1, Math.ceil(maxKeys * highWater))
  }

  size(): number {
    return this.running.size + this.stored.size
  }

  /** Forgets the stored record of `key`, if any. */
  remove(key: string): boolean {
    const s = this.stored.get(key)
    if (s === undefined) return false
    this.stored.delete(key)
    s.bucket.delete(key)
    if (s.bucket.size === 0) this.buckets.delete(s.ttl)
    return true
  }

  /** The stored `Exit` of `key`, if it has not expired. */
  lookup(now: number, key: string): Stored | undefined {
    const s = this.stored.get(key)
    if (s === undefined) return undefined
    if (s.expiresAt > now) return s
    this.remove(key)
    this.expired++
    return undefined
  }

  /** Drops up to `budget` expired records from the front of `bucket`. */
  private dropExpired(bucket: LinkedMap<string, Stored>, now: number, budget: number): void {
    while (budget-- > 0 && bucket.size > 0) {
      const first = bucket.firstValue()!
      if (first.expiresAt > now) return
      this.remove(bucket.firstKey()!)
      this.expired++
    }
  }

  /**
   * Whether a new key may be held now: always below `maxKeys`; when full, after dropping the
   * expired records (each dropped once: amortized O(1)), by evicting the oldest record
   * (`evictOldest`), else refused with the time until the earliest record expires. Counts the
   * key as held when admitted (the caller marks it in flight at once).
   */
  admit(now: number): Admission {
    if (this.size() >= this.maxKeys) {
      for (const bucket of this.buckets.values()) this.dropExpired(bucket, now, Infinity)
      if (this.size() >= this.maxKeys) {
        const oldest = this.oldest("storedAt")
        if (this.whenFull === "evictOldest" && oldest !== undefined) {
          this.remove(oldest.key)
          this.evicted++
        } else {
          this.refused++
          const earliest = this.oldest("expiresAt")
          return { _tag: "Full", retryAfterMillis: earliest === undefined ? undefined : Math.max(0, earliest.stored.expiresAt - now) }
        }
      }
    }
    // the key about to be held counts: it is reported when it takes the store to its mark
    const held = this.size() + 1
    if (held < this.highWaterKeys) {
      this.armed = true
      return ADMITTED
    }
    if (!this.armed) return ADMITTED
    this.armed = false
    this.highWaterCrossings++
    return ADMITTED_HIGH_WATER
  }

  /** The stored record with the smallest `field` among the buckets' fronts (each bucket's smallest). */
  private oldest(field: "storedAt" | "expiresAt"): { readonly key: string; readonly stored: Stored } | undefined {
    let found: { key: string; stored: Stored } | undefined
    for (const bucket of this.buckets.values()) {
      if (bucket.size === 0) continue
      const s = bucket.firstValue()!
      if (found === undefined || s[field] < found.stored[field]) found = { key: bucket.firstKey()!, stored: s }
    }
    return found
  }

  store(now: number, key: string, exit: Exit.Exit<unknown, unknown>, ttlMillis: number): void {
    this.remove(key)
    const existing = this.buckets.get(ttlMillis)
    // drop expired entries from the front (insertion order is expiry order for one TTL)
    if (existing !== undefined) this.dropExpired(existing, now, SWEEP_PER_INSERT)
    // (a list emptied by that drop is gone from `buckets`: look it up again)
    let bucket = this.buckets.get(ttlMillis)
    if (bucket === undefined) this.buckets.set(ttlMillis, bucket = new LinkedMap())
    const s = new Stored(exit, now, now + ttlMillis, ttlMillis, bucket)
    bucket.set(key, s)
    this.stored.set(key, s)
  }

  sweep(now: number): number {
    let removed = 0
    for (const [ttl, bucket] of this.buckets) {
      for (const [k, s] of bucket) {
        // a list is in expiry order: the first live record ends its walk
        if (s.expiresAt > now) break
        bucket.delete(k)
        this.stored.delete(k)
        removed++
      }
      if (bucket.size === 0) this.buckets.delete(ttl)
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
    if (entry.deferred !== undefined) Deferred.unsafeDone(entry.deferred, Effect.succeed(result))
    // Stryker disable next-line BooleanLiteral: equivalent: no caller reads the result
    return true
  }
}

const ADMITTED: Admission = { _tag: "Admitted", highWater: false }
const ADMITTED_HIGH_WATER: Admission = { _tag: "Admitted", highWater: true }

/**
 * The memory store service over one {@link MemoryCore}. Members are bound
 * once, at construction: they may be passed around detached.
 *
 * @internal
 */
export class MemoryStoreImpl implements I.MemoryStore {
  readonly [MemoryStoreTypeId]: I.MemoryStoreTypeId = MemoryStoreTypeId
  readonly persistent = false
  /** Deletes the expired `Exit`s now; returns how many. */
  readonly sweep: Effect.Effect<number>

  constructor(readonly core: MemoryCore) {
    this.sweep = Effect.clockWith((clock) => Effect.sync(() => core.sweep(monotonicMillis(clock))))
  }

  readonly acquire = (key: string): Effect.Effect<I.Acquisition, IdempotencyError, Scope.Scope> =>
    Effect.scopeWith((lease) => this.acquireIn(key, lease))

  /**
   * `acquire` with its lease given, not read from the context: the policy's path for its own
   * memory store (providing a scope is an `Effect.locally`, an acquire-use-release per call).
   */
  readonly acquireIn = (key: string, lease: Scope.Scope): Effect.Effect<I.Acquisition, IdempotencyError> =>
    Effect.clockWith((clock) => Effect.suspend(() => this.acquireAt(monotonicMillis(clock), key, lease)))

  /** The stored `Exit`, the execution in flight, or the key for the caller (released when `lease` closes). */
  acquireAt(now: number, key: string, lease: Scope.Scope): Effect.Effect<I.Acquisition, IdempotencyError> {
    const core = this.core
    const stored = core.lookup(now, key)
    if (stored !== undefined) return Effect.succeed({ _tag: "Completed", exit: stored.exit })
    const running = core.running.get(key)
    if (running !== undefined) {
      return Effect.succeed({ _tag: "InFlight", await: running.await() })
    }
    const admission = core.admit(now)
    if (admission._tag === "Full") {
      // fail closed: a live record is never forgotten to make room (its key would run twice)
      // a rejection, made under load: no stack (its capture costs microseconds and says nothing)
      return Effect.fail(withoutStack(() =>
        new IdempotencyError({
          key,
          reason: "StoreFull",
          maxKeys: core.maxKeys,
          ...(admission.retryAfterMillis === undefined ? {} : { retryAfter: Duration.millis(admission.retryAfterMillis) })
        })
      ))
    }
    const entry = new Running()
    core.running.set(key, entry)
    const acquired: I.Acquisition = {
      _tag: "Acquired",
      ...(admission.highWater ? { highWater: { size: core.size(), maxKeys: core.maxKeys } } : {}),
      complete: (exit, ttl) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            if (entry.settled) return
            if (ttl !== undefined) core.store(monotonicMillis(clock), key, exit, Duration.toMillis(ttl))
            core.settle(key, entry, Option.some(exit))
          })
        )
    }
    // closing the acquisition's scope without a result releases the key (`Scope.addFinalizer`, not
    // `Effect.addFinalizer`: the release reads no FiberRef, and carrying the acquirer's over costs
    // two FiberRefs diffs per key)
    return Effect.as(Scope.addFinalizer(lease, Effect.sync(() => core.settle(key, entry, Option.none()))), acquired)
  }

  readonly invalidate = (key: string): Effect.Effect<void> =>
    Effect.sync(() => {
      this.core.remove(key)
    })

  readonly unsafeSize = (): number => this.core.size()

  readonly size = (): Effect.Effect<number> => Effect.sync(this.unsafeSize)

  readonly unsafeStats = (): I.MemoryStore.Stats => {
    const core = this.core
    return {
      stored: core.stored.size,
      inFlight: core.running.size,
      maxKeys: core.maxKeys,
      expired: core.expired,
      evicted: core.evicted,
      refused: core.refused,
      highWaterCrossings: core.highWaterCrossings
    }
  }

  readonly stats = (): Effect.Effect<I.MemoryStore.Stats> => Effect.sync(this.unsafeStats)
}

const DEFAULT_OPTIONS: MemoryOptions = {
  maxKeys: DEFAULT_MAX_KEYS,
  sweepInterval: DEFAULT_SWEEP_INTERVAL_MILLIS,
  whenFull: DEFAULT_WHEN_FULL,
  highWater: DEFAULT_HIGH_WATER
}

/** A memory store whose expired `Exit`s are swept every `sweepInterval` by a fiber in the current scope. */
const startMemoryStore = (options: MemoryOptions): Effect.Effect<MemoryStoreImpl, never, Scope.Scope> =>
  Effect.suspend(() => {
    const service = new MemoryStoreImpl(new MemoryCore(options.maxKeys, options.whenFull, options.highWater))
    return Effect.as(forkSweeper(options.sweepInterval, service.sweep), service)
  })

/** @internal */
export const makeMemoryStore = (
  options?: I.MemoryStoreOptions
): Effect.Effect<I.MemoryStore, InvalidOptionsError, Scope.Scope> =>
  Effect.flatMap(validate.validated(() => memoryStoreSpec.resolve(options)), startMemoryStore)

// The store reference is defined here (re-exported by `Idempotency.ts`) so that the internal
// code finds it without importing its public module at run time.

/**
 * Where executions and their `Exit`s live, designed so a Redis store can
 * implement it (one Lua script per operation):
 *
 * - `acquire(key)` atomically returns the stored `Exit`, or the execution in
 *   flight, or makes the caller the key's executor (a lock/lease that lives
 *   as long as the scope it is acquired in; a distributed store renews it and
 *   lets it expire if its holder dies) — or, for a new key in a bounded store
 *   that is full, fails with reason `"StoreFull"`: a store never forgets a
 *   live record on its own;
 * - `invalidate(key)` forgets a stored `Exit`;
 * - `persistent`: true when `Exit`s leave the process — the policy then
 *   requires `success` and `failure` Schemas and passes their codec.
 *
 * A `Context.Reference`: a policy uses the store provided under it
 * (`layerStoreMemory`, the Redis store's layer, or
 * `Layer.succeed(Idempotency.IdempotencyStore, store)`), else a private
 * memory store (default options) for that policy alone, which lives as long
 * as the policy's scope: policies share executions only through a store
 * they are given. Read directly without a layer, the reference gives its
 * default value: a memory store of default options without a sweeper.
 *
 * @example
 * ```ts
 * import { Idempotency } from "effect-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* Idempotency.IdempotencyStore
 *   return store.persistent // false
 * }).pipe(Effect.provide(Idempotency.layerStoreMemory()))
 * ```
 *
 * @since 0.1.0
 * @category Models
 */
export class IdempotencyStore extends Context.Reference<IdempotencyStore>()(
  "effect-resilience/Idempotency/IdempotencyStore",
  { defaultValue: (): Service => new MemoryStoreImpl(new MemoryCore(DEFAULT_MAX_KEYS)) }
) {}

/** @internal */
export const layerStoreMemory = (
  options?: I.MemoryStoreOptions
): Layer.Layer<IdempotencyStore, InvalidOptionsError> => Layer.scoped(IdempotencyStore, makeMemoryStore(options))

/**
 * The store of a policy made in the current context: the
 * {@link IdempotencyStore} provided, else a private memory store (default
 * options) for this policy alone, swept by a fiber in the policy's scope.
 *
 * @internal
 */
export const storeFor: Effect.Effect<Service, never, Scope.Scope> = Effect.contextWithEffect(
  (context: Context.Context<never>) => {
    const provided: Service | undefined = context.unsafeMap.get(IdempotencyStore.key)
    return provided !== undefined ? Effect.succeed(provided) : startMemoryStore(DEFAULT_OPTIONS)
  }
)
