/**
 * The bounded in-memory `RateLimiterStore`.
 *
 * It implements `@effect/experimental`'s `RateLimiterStore` interface with
 * exactly the semantics of experimental's memory and Redis stores (same
 * results for the same calls), so it is a drop-in replacement for
 * `RateLimiter.layerStoreMemory` of `@effect/experimental`, and it adds:
 *
 * - bounded memory: at most `maxKeys` keys; a periodic sweep deletes idle keys
 *   (a token bucket that has refilled, a fixed-window counter that expired:
 *   deleting a counter changes nothing observable; deleting a bucket only
 *   restarts its refill phase at its next use, so a token may come up to one
 *   refill interval later, never sooner), and when the store is full a
 *   new key evicts an old one (second-chance approximation of LRU; an evicted
 *   key that was still limiting starts afresh, which is counted), in O(1)
 *   whatever the number of keys (the maps are `LinkedMap`s: a plain `Map`'s
 *   oldest entry costs O(deleted entries) to reach); keys are validated by
 *   the limiter (at most `maxKeyLength` code units), so the key strings
 *   held take at most `maxKeys × (maxKeyLength + name) × 2` bytes;
 * - the atomic extension (`AtomicStoreTypeId`): `reserve` charges a call only
 *   if it is admitted within its allowed delay, in one synchronous step (and
 *   never lets a fixed-window call straddle two windows), and `refund` gives
 *   back the tokens of a waiting call that was interrupted, when no later
 *   call has reserved after it.
 *
 * Time is the caller's `Clock` (read per call), so `TestClock` drives it.
 *
 * The store service is the `Context.Reference` `RateLimiterStore` (its
 * default: a memory store; see `storeFor` for what a limiter uses when
 * nothing is provided).
 *
 * @internal
 */
import * as RateLimiterExperimental from "@effect/experimental/RateLimiter"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { InvalidOptionsError } from "../../Errors.js"
import type * as RL from "../../RateLimiter.js"
import { LinkedMap } from "../linkedMap.js"
import { forkSweeper } from "../sweeper.js"
import { monotonicMillis } from "../time.js"
import * as validate from "../validate.js"
import { DEFAULT_MAX_KEYS, DEFAULT_SWEEP_INTERVAL_MILLIS, memoryStoreSpec } from "./options.js"
import { AtomicStoreTypeId } from "./store.js"

/** The same symbol as `RateLimiter.MemoryStoreTypeId` (`Symbol.for`). @internal */
export const MemoryStoreTypeId: RL.MemoryStoreTypeId = Symbol.for(
  "effect-resilience/RateLimiter/MemoryStore"
) as RL.MemoryStoreTypeId

/** How many front entries `makeRoom` examines before evicting one unconditionally. */
const MAX_PROBES = 8

class Bucket {
  /**
   * Used again since it was stored or last examined by `makeRoom` (its second chance). A new key
   * starts without it: a flood of keys used once each is evicted before the keys in use.
   */
  touched = false
  /** The sequence number of the latest charge (0: none that can be refunded). */
  lastCharge = 0
  constructor(
    public tokens: number,
    public lastRefill: number,
    /** When the bucket is full again (and can be forgotten). */
    public idleAt: number
  ) {}
}

class Counter {
  /** As `Bucket.touched`. */
  touched = false
  /** The sequence number of the latest charge (0: none that can be refunded). */
  lastCharge = 0
  /** What the latest charge added to `count` (its tokens, plus the slots it skipped). */
  lastCharged = 0
  constructor(
    public count: number,
    /** When the counter resets: `first + count * refill`. */
    public expiresAt: number,
    /** When the counter started (its first window starts then). */
    public first: number
  ) {}
}

const refillBucket = (b: Bucket, now: number, limit: number, refillMillis: number): void => {
  const tokensToAdd = Math.floor((now - b.lastRefill) / refillMillis)
  if (tokensToAdd > 0) {
    b.tokens = Math.min(limit, b.tokens + tokensToAdd)
    b.lastRefill += tokensToAdd * refillMillis
  }
}

const admitted = (delayMillis: number, remaining: number, generation: number, resetMillis: number): RL.Reservation => ({
  admitted: true,
  delayMillis,
  retryAfterMillis: 0,
  remaining,
  generation,
  resetMillis: Math.max(0, resetMillis)
})

const rejected = (delayMillis: number, retryAfterMillis: number, remaining: number, resetMillis: number): RL.Reservation => ({
  admitted: false,
  delayMillis,
  retryAfterMillis: Math.max(0, retryAfterMillis),
  remaining,
  resetMillis: Math.max(0, resetMillis)
})

/**
 * The synchronous state of a memory store. Every method takes `now` (epoch
 * millis from the caller's `Clock`).
 *
 * @internal
 */
export class MemoryCore {
  readonly buckets = new LinkedMap<string, Bucket>()
  readonly counters = new LinkedMap<string, Counter>()
  /** Idle keys deleted by sweeps or to make room. */
  expired = 0
  /** Keys that were still limiting, evicted because the store was full. */
  evicted = 0
  /** Numbers the charges made by `reserve`, so that only the latest charge of a key is refunded. */
  private seq = 0

  constructor(readonly maxKeys: number) {}

  size(): number {
    return this.buckets.size + this.counters.size
  }

  private insert<V extends Bucket | Counter>(map: LinkedMap<string, V>, key: string, value: V, now: number): void {
    if (this.size() >= this.maxKeys) this.makeRoom(now)
    map.set(key, value)
  }

  /** Frees one slot: an idle key if one is found near the front, else the least recently used (approximately). */
  private makeRoom(now: number): void {
    // Stryker disable next-line EqualityOperator: equivalent: every pass returns by probe MAX_PROBES - 1 (which evicts unconditionally), so the bound is never reached
    for (let probe = 0; probe < MAX_PROBES; probe++) {
      const map: LinkedMap<string, Bucket | Counter> = this.buckets.size >= this.counters.size ? this.buckets : this.counters
      // O(1): the oldest entry of a LinkedMap, whatever was deleted before
      const entry = map.firstValue()
      // Stryker disable next-line ConditionalExpression: equivalent: unreachable: makeRoom runs only when size >= maxKeys >= 1, and the larger map is taken, so it is never empty
      if (entry === undefined) return
      const key = map.firstKey()!
      const idleAt = entry instanceof Bucket ? entry.idleAt : entry.expiresAt
      if (idleAt <= now) {
        map.delete(key)
        this.expired++
        return
      }
      if (entry.touched && probe < MAX_PROBES - 1) {
        // second chance: used since it was last examined, move it to the back
        entry.touched = false
        map.moveToBack(key)
        continue
      }
      map.delete(key)
      this.evicted++
      return
    }
  }

  /** Deletes every idle key; returns how many. */
  sweep(now: number): number {
    let removed = 0
    for (const [key, b] of this.buckets) {
      if (b.idleAt <= now) {
        this.buckets.delete(key)
        removed++
      }
    }
    for (const [key, c] of this.counters) {
      if (c.expiresAt <= now) {
        this.counters.delete(key)
        removed++
      }
    }
    this.expired += removed
    return removed
  }

  // --- @effect/experimental's interface, with the same results ---

  tokenBucket(
    now: number,
    key: string,
    tokens: number,
    limit: number,
    refillMillis: number,
    allowOverflow: boolean
  ): number {
    let b = this.buckets.get(key)
    if (b === undefined) {
      b = new Bucket(limit, now, now)
      this.insert(this.buckets, key, b, now)
    } else {
      b.touched = true
      refillBucket(b, now, limit, refillMillis)
    }
    const next = b.tokens - tokens
    if (allowOverflow || next >= 0) {
      b.tokens = next
      b.lastCharge = 0 // a charge made outside `reserve`: nothing before it can be refunded
    }
    b.idleAt = b.lastRefill + (limit - b.tokens) * refillMillis
    return next
  }

  fixedWindow(
    now: number,
    key: string,
    tokens: number,
    refillMillis: number,
    limit: number | undefined
  ): readonly [count: number, ttl: number] {
    let c = this.counters.get(key)
    if (c !== undefined) c.touched = true
    if (c === undefined || c.expiresAt <= now) {
      if (limit && tokens > limit) return [tokens, 0] as const
      if (c === undefined) {
        c = new Counter(0, now, now)
        this.insert(this.counters, key, c, now)
      } else {
        c.count = 0
        c.expiresAt = now
        c.first = now
      }
    }
    if (limit && c.count + tokens > limit) return [c.count + tokens, c.expiresAt - now] as const
    c.lastCharge = 0
    c.count += tokens
    c.expiresAt += refillMillis * tokens
    return [c.count, c.expiresAt - now] as const
  }

  // --- the atomic extension ---

  reserve(now: number, r: RL.ReserveRequest): RL.Reservation {
    const refillMillis = r.windowMillis / r.limit
    if (r.algorithm === "token-bucket") {
      let b = this.buckets.get(r.key)
      let fresh = false
      if (b === undefined) {
        b = new Bucket(r.limit, now, now)
        fresh = true
      } else {
        b.touched = true
        refillBucket(b, now, r.limit, refillMillis)
      }
      const available = b.tokens
      // the tokens still missing arrive one per refill interval, counted from the last refill
      const delay = available >= r.tokens ? 0 : b.lastRefill + (r.tokens - available) * refillMillis - now
      // the next token comes one refill interval after the last refill
      const reset = b.lastRefill + refillMillis - now
      if (delay > r.maxDelayMillis) return rejected(delay, delay - r.maxDelayMillis, Math.max(0, available), reset)
      b.tokens = available - r.tokens
      b.idleAt = b.lastRefill + (r.limit - b.tokens) * refillMillis
      b.lastCharge = ++this.seq
      if (fresh) this.insert(this.buckets, r.key, b, now)
      return admitted(delay, Math.max(0, b.tokens), b.lastCharge, reset)
    }
    let c = this.counters.get(r.key)
    let fresh = false
    if (c !== undefined) c.touched = true
    if (c === undefined || c.expiresAt <= now) {
      if (c === undefined) {
        c = new Counter(0, now, now)
        fresh = true
      } else {
        c.count = 0
        c.expiresAt = now
        c.first = now
      }
    }
    // the n-th token of a counter belongs to window floor((n - 1) / limit); a call never straddles
    // two windows: when its tokens would, it skips what is left of the earlier one
    const windowNumber = Math.floor((c.count + r.tokens - 1) / r.limit)
    const count = Math.floor(c.count / r.limit) < windowNumber ? windowNumber * r.limit + r.tokens : c.count + r.tokens
    const delay = Math.max(0, c.first + windowNumber * r.windowMillis - now)
    if (delay > r.maxDelayMillis) {
      // the counter resets when it expires; then the call is admitted at once
      const retryAfter = Math.min(c.expiresAt - now, delay - r.maxDelayMillis)
      return rejected(delay, retryAfter, Math.max(0, r.limit - c.count), c.expiresAt - now)
    }
    c.lastCharged = count - c.count
    c.count = count
    c.expiresAt += refillMillis * c.lastCharged
    c.lastCharge = ++this.seq
    if (fresh) this.insert(this.counters, r.key, c, now)
    // the counter resets when it expires
    return admitted(delay, r.limit * (windowNumber + 1) - count, c.lastCharge, c.expiresAt - now)
  }

  /**
   * Gives back an admitted reservation, if it is still the latest charge of
   * its key: a later reservation keeps its place in the queue, so refunding
   * an earlier one would let a newcomer start together with it.
   */
  refund(now: number, r: RL.ReserveRequest, reservation: RL.Reservation): void {
    if (!reservation.admitted || reservation.generation === undefined) return
    const refillMillis = r.windowMillis / r.limit
    if (r.algorithm === "token-bucket") {
      const b = this.buckets.get(r.key)
      if (b === undefined || b.lastCharge !== reservation.generation) return
      refillBucket(b, now, r.limit, refillMillis)
      b.tokens = Math.min(r.limit, b.tokens + r.tokens)
      b.idleAt = b.lastRefill + (r.limit - b.tokens) * refillMillis
      b.lastCharge = 0
      return
    }
    const c = this.counters.get(r.key)
    if (c === undefined || c.lastCharge !== reservation.generation || c.expiresAt <= now) return
    c.count -= c.lastCharged
    c.expiresAt -= refillMillis * c.lastCharged
    c.lastCharge = 0
  }
}

/**
 * The memory store service: experimental's interface, the atomic extension
 * (with its synchronous twins, which the limiter uses on its hot path) and
 * the readers, over one {@link MemoryCore}. Members are bound once, at
 * construction: they may be passed around detached.
 *
 * @internal
 */
export class MemoryStoreImpl implements RL.MemoryStore {
  readonly [MemoryStoreTypeId]: RL.MemoryStoreTypeId = MemoryStoreTypeId
  readonly [AtomicStoreTypeId]: RL.AtomicStore[RL.AtomicStoreTypeId]
  /** Deletes the idle keys now; returns how many. */
  readonly sweep: Effect.Effect<number>

  constructor(readonly core: MemoryCore) {
    this[AtomicStoreTypeId] = {
      reserve: (request) => Effect.clockWith((clock) => Effect.sync(() => core.reserve(monotonicMillis(clock), request))),
      refund: (request, reservation) =>
        Effect.clockWith((clock) => Effect.sync(() => core.refund(monotonicMillis(clock), request, reservation))),
      unsafeReserve: (now, request) => core.reserve(now, request),
      unsafeRefund: (now, request, reservation) => core.refund(now, request, reservation)
    }
    this.sweep = Effect.clockWith((clock) => Effect.sync(() => core.sweep(monotonicMillis(clock))))
  }

  readonly fixedWindow: RL.RateLimiterStore["fixedWindow"] = (options) =>
    Effect.clockWith((clock) =>
      Effect.sync(() =>
        this.core.fixedWindow(
          monotonicMillis(clock),
          options.key,
          options.tokens,
          Duration.toMillis(options.refillRate),
          options.limit
        )
      )
    )

  readonly tokenBucket: RL.RateLimiterStore["tokenBucket"] = (options) =>
    Effect.clockWith((clock) =>
      Effect.sync(() =>
        this.core.tokenBucket(
          monotonicMillis(clock),
          options.key,
          options.tokens,
          options.limit,
          Duration.toMillis(options.refillRate),
          options.allowOverflow
        )
      )
    )

  readonly unsafeSize = (): number => this.core.size()

  readonly size = (): Effect.Effect<number> => Effect.sync(this.unsafeSize)

  readonly unsafeStats = (): RL.MemoryStore.Stats => ({
    keys: this.core.size(),
    expired: this.core.expired,
    evicted: this.core.evicted,
    maxKeys: this.core.maxKeys
  })

  readonly stats = (): Effect.Effect<RL.MemoryStore.Stats> => Effect.sync(this.unsafeStats)
}

/** A memory store whose idle keys are swept every `sweepInterval` (millis) by a fiber in the current scope. */
const startMemoryStore = (maxKeys: number, sweepInterval: number): Effect.Effect<MemoryStoreImpl, never, Scope.Scope> =>
  Effect.suspend(() => {
    const service = new MemoryStoreImpl(new MemoryCore(maxKeys))
    return Effect.as(forkSweeper(sweepInterval, service.sweep), service)
  })

/**
 * A memory store whose idle keys are swept every `sweepInterval` by a fiber
 * that lives in the current scope.
 *
 * @internal
 */
export const makeMemoryStore = (
  options?: RL.MemoryStoreOptions
): Effect.Effect<RL.MemoryStore, InvalidOptionsError, Scope.Scope> =>
  Effect.flatMap(
    validate.validated(() => memoryStoreSpec.resolve(options)),
    ({ maxKeys, sweepInterval }) => startMemoryStore(maxKeys, sweepInterval)
  )

/**
 * The store service. Its default value is a memory store of default options
 * without a sweeper (for those who read the reference directly); a limiter
 * made where no store is provided gets a private memory store instead (see
 * {@link storeFor}).
 *
 * @internal
 */
export const RateLimiterStore: Context.Reference<RL.RateLimiterStore, RL.RateLimiterStore> = Context.Reference<
  RL.RateLimiterStore
>()("effect-resilience/RateLimiter/RateLimiterStore", {
  defaultValue: (): RL.RateLimiterStore => new MemoryStoreImpl(new MemoryCore(DEFAULT_MAX_KEYS))
})

/** @internal */
export const layerStoreMemory = (
  options?: RL.MemoryStoreOptions
): Layer.Layer<RL.RateLimiterStore, InvalidOptionsError> => Layer.scoped(RateLimiterStore, makeMemoryStore(options))

/** @internal */
export const layerStoreExperimental: Layer.Layer<
  RL.RateLimiterStore,
  never,
  RateLimiterExperimental.RateLimiterStore
> = Layer.effect(RateLimiterStore, RateLimiterExperimental.RateLimiterStore)

/**
 * The store of a limiter made in the current context, in this order:
 *
 * 1. the {@link RateLimiterStore} provided (this library's layers, or
 *    `Layer.succeed(RateLimiter.RateLimiterStore, store)`);
 * 2. else `@effect/experimental`'s `RateLimiterStore`, when one is provided
 *    (its memory or Redis layer): used as {@link layerStoreExperimental}
 *    would, never ignored;
 * 3. else a private memory store (default options) for this limiter alone,
 *    swept by a fiber in the limiter's scope: limiters share limits only
 *    through a store they are given.
 *
 * @internal
 */
export const storeFor: Effect.Effect<RL.RateLimiterStore, never, Scope.Scope> = Effect.contextWithEffect(
  (context: Context.Context<never>) => {
    const provided: RL.RateLimiterStore | undefined = context.unsafeMap.get(RateLimiterStore.key)
    if (provided !== undefined) return Effect.succeed(provided)
    const experimental = Context.getOption(context, RateLimiterExperimental.RateLimiterStore)
    if (experimental._tag === "Some") return Effect.succeed(experimental.value)
    return startMemoryStore(DEFAULT_MAX_KEYS, DEFAULT_SWEEP_INTERVAL_MILLIS)
  }
)
