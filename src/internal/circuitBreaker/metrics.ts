/**
 * What a breaker counts, and how it publishes the counts to Effect `Metric`s.
 *
 * Counts are plain numbers (this process, every key of one breaker),
 * published to the Effect metrics in batches: every `PUBLISH_EVERY_CALLS`
 * calls, `PUBLISH_EVERY_MILLIS` after the last publication, on every
 * transition, and when `metrics()` is read. (Updating a tagged Effect metric
 * costs microseconds; a rejection must cost less.) With `labelMetricsByKey`,
 * failures and rejections are published per call instead, with a `key` label.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"
import type * as CircuitBreaker from "../../CircuitBreaker.js"
import * as metricKeys from "../metricKeys.js"
import { DEFAULT_KEY } from "./errors.js"

const callsKey = MetricKey.counter("resilience_circuit_breaker_calls", {
  description: "Calls a circuit breaker let through, by outcome (success, failure, ignored); published in batches",
  incremental: true
})
const slowCallsKey = MetricKey.counter("resilience_circuit_breaker_slow_calls", {
  description: "Calls slower than the breaker's slowCall.duration",
  incremental: true
})
const rejectionsKey = MetricKey.counter("resilience_circuit_breaker_rejections", {
  description: "Calls a circuit breaker rejected, by reason (CircuitOpen, CircuitHalfOpen, CircuitBreakerStoreError)",
  incremental: true
})
const transitionsKey = MetricKey.counter("resilience_circuit_breaker_transitions", {
  description: "State transitions of a circuit breaker's circuits, by from and to state",
  incremental: true
})
const fencedKey = MetricKey.counter("resilience_circuit_breaker_fenced", {
  description: "Results that arrived after their circuit had moved on (late results, fenced by generation)",
  incremental: true
})
const storeErrorsKey = MetricKey.counter("resilience_circuit_breaker_store_errors", {
  description: "Failures of the circuit breaker's store",
  incremental: true
})
const stateKey = MetricKey.gauge("resilience_circuit_breaker_state", {
  description: "State of the breaker's own circuit: 0 closed, 1 half-open, 2 open, 3 isolated"
})
const modeKey = MetricKey.gauge("resilience_circuit_breaker_mode", {
  description: "Mode of the circuit breaker: 0 enforcing, 1 metrics only, 2 disabled"
})
const untrackedKey = MetricKey.counter("resilience_circuit_breaker_untracked", {
  description: "Calls that ran untracked because the store was full of circuits it must keep",
  incremental: true
})

const STATE_VALUE: Record<CircuitBreaker.State["_tag"], number> = { Closed: 0, HalfOpen: 1, Open: 2, Isolated: 3 }
const MODE_VALUE: Record<CircuitBreaker.Mode, number> = { Enforcing: 0, MetricsOnly: 1, Disabled: 2 }

/** Publish batched counts after this many calls, or this long after the last publication. @internal */
export const PUBLISH_EVERY_CALLS = 256
/** @internal */
export const PUBLISH_EVERY_MILLIS = 1_000

const NO_LABELS: ReadonlyArray<MetricLabel.MetricLabel> = []

/** One plain count and the part of it already published. @internal */
export class Count {
  count = 0
  published = 0
  /** `keyed`: published at once, one update per event, with a `key` label (labelMetricsByKey). */
  constructor(readonly metric: Metric.Metric.Counter<number>, readonly keyed: boolean) {}
}

/**
 * A breaker's counts and gauges (tagged `policy=<name>`), and their batched
 * publication. Time is read through `now` (the breaker's clock).
 * @internal
 */
export class Counters {
  readonly successes: Count
  readonly failures: Count
  readonly ignored: Count
  readonly slowCalls: Count
  readonly rejectedOpen: Count
  readonly rejectedHalfOpen: Count
  readonly rejectedStore: Count
  readonly fenced: Count
  readonly storeErrors: Count
  readonly untracked: Count
  private readonly all: ReadonlyArray<Count>
  private readonly state: Metric.Metric.Gauge<number>
  private readonly mode: Metric.Metric.Gauge<number>
  /**
   * One metric per (from, to), tagged `policy`, `from`, `to` in its key, made at the first such
   * transition. Bounded: `from` and `to` are state tags (4 × 4 pairs at most).
   */
  private readonly transitionMetrics = new Map<string, Metric.Metric.Counter<number>>()
  private sincePublish = 0
  private nextPublishAt = 0
  /** Counts left unpublished by calls that read no time: the publisher loop waits for them. */
  private dirty = false
  private wakePublisher: (() => void) | undefined = undefined

  constructor(private readonly name: string, readonly labelKeys: boolean, private readonly now: () => number) {
    const policy: metricKeys.Tags = [["policy", name]]
    const call = (outcome: string) => metricKeys.tagged(callsKey, [["policy", name], ["outcome", outcome]])
    const rejection = (reason: string) => metricKeys.tagged(rejectionsKey, [["policy", name], ["reason", reason]])
    this.successes = new Count(call("success"), false)
    this.failures = new Count(call("failure"), labelKeys)
    this.ignored = new Count(call("ignored"), false)
    this.slowCalls = new Count(metricKeys.tagged(slowCallsKey, policy), false)
    this.rejectedOpen = new Count(rejection("CircuitOpen"), labelKeys)
    this.rejectedHalfOpen = new Count(rejection("CircuitHalfOpen"), labelKeys)
    this.rejectedStore = new Count(rejection("CircuitBreakerStoreError"), labelKeys)
    this.fenced = new Count(metricKeys.tagged(fencedKey, policy), false)
    this.storeErrors = new Count(metricKeys.tagged(storeErrorsKey, policy), false)
    this.untracked = new Count(metricKeys.tagged(untrackedKey, policy), false)
    this.all = [
      this.successes,
      this.failures,
      this.ignored,
      this.slowCalls,
      this.rejectedOpen,
      this.rejectedHalfOpen,
      this.rejectedStore,
      this.fenced,
      this.storeErrors,
      this.untracked
    ]
    this.state = metricKeys.tagged(stateKey, policy)
    this.state.unsafeUpdate(0, NO_LABELS)
    this.mode = metricKeys.tagged(modeKey, policy)
    this.mode.unsafeUpdate(0, NO_LABELS)
  }

  /** Publishes every count's unpublished part (keyed counts are published as they happen). */
  readonly publish = (): void => {
    this.dirty = false
    this.sincePublish = 0
    this.nextPublishAt = this.now() + PUBLISH_EVERY_MILLIS
    for (const count of this.all) {
      if (count.keyed || count.count === count.published) continue
      count.metric.unsafeUpdate(count.count - count.published, NO_LABELS)
      count.published = count.count
    }
  }

  /** One call done at `now` (NaN: a call that read no time, see {@link successWithoutTime}). */
  tick(now: number): void {
    if (++this.sincePublish >= PUBLISH_EVERY_CALLS || now >= this.nextPublishAt) this.publish()
  }

  /** Counts one event; with a key label (labelMetricsByKey) it is published at once. */
  add(count: Count, key: string | undefined): void {
    count.count++
    if (count.keyed) count.metric.unsafeUpdate(1, [MetricLabel.make("key", key ?? DEFAULT_KEY)])
  }

  /**
   * A success of a call that read no time (a closed `consecutive` circuit):
   * published after `PUBLISH_EVERY_CALLS` calls, or by the publisher loop
   * within `PUBLISH_EVERY_MILLIS` (see {@link unpublished}).
   */
  successWithoutTime(): void {
    this.successes.count++
    if (++this.sincePublish >= PUBLISH_EVERY_CALLS) this.publish()
    if (!this.dirty) this.markDirty()
  }

  private markDirty(): void {
    this.dirty = true
    const wake = this.wakePublisher
    this.wakePublisher = undefined
    wake?.()
  }

  /** Completes once a count is left unpublished by a call that read no time. */
  readonly unpublished: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.dirty) return resume(Effect.void)
    this.wakePublisher = () => resume(Effect.void)
    return Effect.sync(() => {
      this.wakePublisher = undefined
    })
  })

  /** A transition this breaker made (counted by the replica that made it only). */
  transition(t: CircuitBreaker.Transition): void {
    const id = `${t.from}>${t.to}`
    let metric = this.transitionMetrics.get(id)
    // Stryker disable next-line ConditionalExpression: equivalent as `true`: a cache; a metric built again with the same tags updates the same registry entry
    if (metric === undefined) {
      metric = metricKeys.tagged(transitionsKey, [["policy", this.name], ["from", t.from], ["to", t.to]])
      this.transitionMetrics.set(id, metric)
    }
    metric.unsafeUpdate(1, this.labelKeys ? [MetricLabel.make("key", t.key)] : NO_LABELS)
  }

  /** The own circuit's state gauge. */
  ownState(state: CircuitBreaker.State["_tag"]): void {
    this.state.unsafeUpdate(STATE_VALUE[state], NO_LABELS)
  }

  modeChanged(mode: CircuitBreaker.Mode): void {
    this.mode.unsafeUpdate(MODE_VALUE[mode], NO_LABELS)
  }

  /** The totals of `metrics()`. */
  totals(): CircuitBreaker.Metrics["totals"] {
    return {
      successes: this.successes.count,
      failures: this.failures.count,
      ignored: this.ignored.count,
      rejections: this.rejectedOpen.count + this.rejectedHalfOpen.count + this.rejectedStore.count,
      slowCalls: this.slowCalls.count,
      fenced: this.fenced.count,
      storeErrors: this.storeErrors.count,
      untracked: this.untracked.count
    }
  }
}
