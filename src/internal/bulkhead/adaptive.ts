/**
 * A bulkhead whose `maxConcurrent` is an adaptive limit (`AdaptiveLimit`):
 * {@link AdaptiveCalls}, the part of the bulkhead that measures calls and
 * moves each partition's limit.
 *
 * - Each partition keeps its own algorithm state (`Partition.limit`), so a
 *   keyed bulkhead (the HTTP client's, per origin) learns one limit per key.
 *   A keyed partition is dropped when idle; its learned state is kept in a
 *   bounded map ({@link MAX_LEARNED}, oldest forgotten first) and taken back
 *   when the key returns.
 * - A call is measured from the moment it holds a permit to the moment it
 *   gives it back (the queue excluded), on the bulkhead's clock, monotonic
 *   (`time.ts`). Its exit becomes a sample (`outcomeOfFailure`), the state
 *   steps (pure, synchronous: `algorithm.ts`), and a new limit resizes the
 *   partition's semaphore — the same path as `resize`: growing admits queued
 *   callers at once, shrinking never interrupts running calls. The sample is
 *   taken before the permit is given back, as concurrency-limits'
 *   `SimpleLimiter` does.
 * - The call path of a fixed bulkhead is unchanged but for one branch in
 *   `admit` (and one on the queued path).
 * - Vegas's probe jitter draws from a seed per partition: the bulkhead's
 *   (from `Random`) mixed with the key ({@link seedFor}), so the partitions
 *   of one bulkhead do not probe in step.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import type * as AdaptiveLimit from "../../AdaptiveLimit.js"
import { DROP, IGNORE, outcomeOfFailure, SAMPLE } from "../adaptiveLimit/adaptiveLimit.js"
import type { Outcome } from "../adaptiveLimit/adaptiveLimit.js"
import * as algorithm from "../adaptiveLimit/algorithm.js"
import { LinkedMap } from "../linkedMap.js"
import * as metricKeys from "../metricKeys.js"
import { monotonicMillis } from "../time.js"
import * as userCode from "../userCode.js"
import * as validate from "../validate.js"
import type { BulkheadImpl, Partition, Restore } from "./bulkhead.js"

type State = AdaptiveLimit.AdaptiveLimit.State

/** Learned states of idle keyed partitions kept at most (each ~200 bytes plus its key). @internal */
export const MAX_LEARNED = 1024

const limitKey = MetricKey.gauge("resilience_bulkhead_limit", {
  description: "The adaptive limit of a bulkhead: the sum over its partitions in use, polled"
})
const latencyKey = MetricKey.gauge("resilience_bulkhead_latency_ms", {
  description: "Mean latency (ms, permit held to release, queue excluded) of the calls a bulkhead with an adaptive limit ran since the last poll"
})
const dropsKey = MetricKey.counter("resilience_bulkhead_drops", {
  description: "Calls a bulkhead with an adaptive limit counted as drops (timeouts, isDrop)",
  incremental: true
})

/**
 * The probe-jitter seed of a partition: the bulkhead's own for the default
 * partition, mixed with the key (FNV-1a over its UTF-16 units) for a keyed one.
 *
 * @internal
 */
export const seedFor = (seed: number, key: string | undefined): number => {
  if (key === undefined) return seed
  let h = (0x811c9dc5 ^ seed) | 0
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return h | 0
}

/** @internal */
export class AdaptiveCalls {
  /** Latencies measured since the gauges were last published. */
  latencySum = 0
  latencyCount = 0
  /** Drops since the counter was last published. */
  dropsUnpublished = 0
  /** The limit new partitions start from (`resize` moves it). */
  startLimit: number
  readonly learned = new LinkedMap<string, State>()
  readonly isDropSite: userCode.Site
  readonly limitMetric: Metric.Metric.Gauge<number>
  readonly latencyMetric: Metric.Metric.Gauge<number>
  readonly dropsMetric: Metric.Metric.Counter<number>
  /** The sample handed to the algorithm, reused (steps are synchronous and keep no reference to it). */
  private readonly sample: { startedAt: number; latency: number; inflight: number; dropped: boolean } = {
    startedAt: 0,
    latency: 0,
    inflight: 0,
    dropped: false
  }

  constructor(readonly impl: BulkheadImpl, readonly limit: AdaptiveLimit.AdaptiveLimit, readonly seed: number) {
    this.startLimit = limit.initialLimit
    this.isDropSite = userCode.site("Bulkhead", impl.name, "maxConcurrent.isDrop", "not a drop")
    const tags: metricKeys.Tags = [["policy", impl.name]]
    this.limitMetric = metricKeys.tagged(limitKey, tags)
    this.latencyMetric = metricKeys.tagged(latencyKey, tags)
    this.dropsMetric = metricKeys.tagged(dropsKey, tags)
  }

  /** The state a new partition starts from: the key's learned one, else the start limit. */
  stateFor(key: string | undefined): State {
    if (key !== undefined) {
      const learned = this.learned.get(key)
      if (learned !== undefined) {
        this.learned.delete(key)
        return learned
      }
    }
    const state = algorithm.initial(this.limit, seedFor(this.seed, key))
    return this.startLimit === state.limit ? state : algorithm.withEstimate(state, this.startLimit)
  }

  /** Gives a new partition its state and sizes its semaphore to its limit. */
  attach(partition: Partition): void {
    const state = this.stateFor(partition.key)
    partition.limit = state
    partition.semaphore.unsafeResize(state.limit)
  }

  /** A keyed partition is dropped: keep what it learned (bounded, oldest forgotten). */
  detach(partition: Partition): void {
    const state = partition.limit
    if (partition.key === undefined || state === undefined || state.samples === 0) return
    this.learned.delete(partition.key)
    this.learned.set(partition.key, state)
    if (this.learned.size > MAX_LEARNED) {
      const oldest = this.learned.firstKey()
      if (oldest !== undefined) this.learned.delete(oldest)
    }
  }

  /** A state for a key with no partition now (stats of an idle key). */
  peek(key: string): State {
    return this.learned.get(key) ?? algorithm.withEstimate(algorithm.initial(this.limit, seedFor(this.seed, key)), this.startLimit)
  }

  /**
   * Runs `self` holding the permit just taken (or handed over), measuring it;
   * its exit handler feeds the limit, then gives the permit back.
   */
  measure<A, E, R>(partition: Partition, restore: Restore, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    const startedAt = monotonicMillis(this.impl.clock)
    const inflight = partition.semaphore.taken
    return Effect.matchCauseEffect(restore(self), {
      onFailure: (cause: Cause.Cause<E>) => {
        this.record(partition, startedAt, inflight, outcomeOfFailure(cause, this.limit.isDrop, this.isDropSite))
        this.impl.release(partition)
        return Exit.failCause(cause)
      },
      onSuccess: (a: A) => {
        this.record(partition, startedAt, inflight, SAMPLE)
        this.impl.release(partition)
        return Exit.succeed(a)
      }
    })
  }

  /** Steps the partition's limit with one finished call (synchronously, in its exit handler). */
  record(partition: Partition, startedAt: number, inflight: number, outcome: Outcome): void {
    const before = partition.limit
    if (outcome === IGNORE || before === undefined) return
    const latency = monotonicMillis(this.impl.clock) - startedAt
    const dropped = outcome === DROP
    const sample = this.sample
    sample.startedAt = startedAt
    sample.latency = latency
    sample.inflight = inflight
    sample.dropped = dropped
    const after = algorithm.step(this.limit, before, sample, this.impl.name)
    partition.limit = after
    if (after.samples !== before.samples) {
      this.latencySum += latency
      this.latencyCount++
      if (dropped) this.dropsUnpublished++
    }
    if (after.limit !== before.limit) {
      // the resize path: growing admits queued callers now, shrinking interrupts nothing
      partition.semaphore.unsafeResize(after.limit)
      this.impl.hub.emitWith(() => ({
        _tag: "LimitChanged",
        policy: this.impl.name,
        key: partition.key,
        from: before.limit,
        to: after.limit,
        latency: Duration.millis(latency),
        baseline: Duration.millis(after.baseline),
        inflight,
        dropped
      }))
    }
  }

  /**
   * When a permit is likely free for a caller arriving now in `partition`:
   * the callers ahead (queued, plus this one) over the limit, in rounds of
   * the latency last measured. Unknown before any sample.
   */
  retryAfter(partition: Partition): Duration.Duration | undefined {
    const state = partition.limit
    if (state === undefined || state.samples === 0 || !(state.latency > 0)) return undefined
    const rounds = Math.ceil((partition.semaphore.waiters + 1) / Math.max(1, state.limit))
    return Duration.millis(Math.ceil(rounds * state.latency))
  }

  /**
   * Sets every partition's limit (and the limit new ones start from), which
   * must be within the algorithm's `[minLimit, maxLimit]`; the algorithms go
   * on from there. Learned states of idle keys are forgotten.
   */
  resize(n: number): void {
    if (n < this.limit.minLimit || n > this.limit.maxLimit) {
      throw validate.invalid(
        "Bulkhead.resize",
        "maxConcurrent",
        n,
        `an integer >= ${this.limit.minLimit} and <= ${this.limit.maxLimit} (the adaptive limit's minLimit and maxLimit)`
      )
    }
    this.startLimit = n
    this.learned.clear()
    this.setLimit(this.impl.defaultPartition, n)
    for (const partition of this.impl.partitions.values()) this.setLimit(partition, n)
  }

  private setLimit(partition: Partition, n: number): void {
    const state = partition.limit
    if (state !== undefined) partition.limit = algorithm.withEstimate(state, n)
    partition.semaphore.unsafeResize(n)
  }

  /** The limits of the partitions in use: keyed ones, and the default one when it ran a call or no key is in use. */
  totalLimit(): number {
    const impl = this.impl
    let total = 0
    let keyed = false
    for (const partition of impl.partitions.values()) {
      total += partition.semaphore.permits
      keyed = true
    }
    const d = impl.defaultPartition
    if (!keyed || (d.limit !== undefined && d.limit.samples > 0)) total += d.semaphore.permits
    return total
  }

  /** Publishes the limit and latency gauges and the drops counter (with the bulkhead's other gauges). */
  readonly publish: Effect.Effect<void> = Effect.suspend(() => {
    const limit = Metric.set(this.limitMetric, this.totalLimit())
    const latency = this.latencyCount === 0 ? Effect.void : Metric.set(this.latencyMetric, this.latencySum / this.latencyCount)
    const drops = this.dropsUnpublished === 0 ? Effect.void : Metric.incrementBy(this.dropsMetric, this.dropsUnpublished)
    this.latencySum = 0
    this.latencyCount = 0
    this.dropsUnpublished = 0
    return Effect.zipRight(limit, Effect.zipRight(latency, drops))
  })
}
