/**
 * Sliding windows of call outcomes for the trip policies. Each does O(1)
 * work per call and holds memory bounded by its size (a count window) or its
 * bucket count (a time window), whatever the traffic.
 *
 * @internal
 */
import type * as CircuitBreaker from "../../CircuitBreaker.js"

/** Rates over a window, for metrics. @internal */
export interface WindowStats {
  /** Calls currently in the window (successes and failures; ignored calls never enter). */
  readonly calls: number
  readonly failures: number
  readonly slowCalls: number
  /** Failures in a row (consecutive policy), or failures in the window. */
  readonly consecutiveFailures: number
}

/** @internal */
export interface Window {
  /** Adds one call and says whether the trip condition now holds. */
  readonly add: (failure: boolean, slow: boolean, now: number) => boolean
  readonly stats: (now: number) => WindowStats
}

/** What a window needs from the configuration: the trip policy and the slow-call threshold. @internal */
export type WindowConfig = Pick<CircuitBreaker.CircuitBreakerStore.Config, "trip" | "slowCallThreshold">

/** Tolerance for float rates (0.1 + 0.2 style) when comparing with a threshold. */
const EPSILON = 1e-9

/** Whether `count` of `calls` reaches the rate `threshold` (with the float tolerance). @internal */
export const reaches = (count: number, calls: number, threshold: number): boolean =>
  count > 0 && count / calls + EPSILON >= threshold

/**
 * `consecutive(n)`: trips after `n` failures in a row. With `slowCall`, the
 * slow-call rate is measured over the last `n` calls (and needs `n` calls).
 */
class ConsecutiveWindow implements Window {
  consecutive = 0
  // slow-call ring, only with slowCall
  readonly ring: Uint8Array | undefined
  pos = 0
  count = 0
  slows = 0
  constructor(readonly failures: number, readonly slowThreshold: number | undefined) {
    this.ring = slowThreshold === undefined ? undefined : new Uint8Array(failures)
  }
  add(failure: boolean, slow: boolean, _now: number): boolean {
    this.consecutive = failure ? this.consecutive + 1 : 0
    let trip = this.consecutive >= this.failures
    const ring = this.ring
    if (ring !== undefined) {
      const size = ring.length
      if (this.count === size) this.slows -= ring[this.pos]!
      else this.count++
      const bit = slow ? 1 : 0
      ring[this.pos] = bit
      this.slows += bit
      this.pos = this.pos + 1 === size ? 0 : this.pos + 1
      if (this.count >= size && reaches(this.slows, this.count, this.slowThreshold!)) trip = true
    }
    return trip
  }
  stats(): WindowStats {
    return {
      calls: this.ring === undefined ? this.consecutive : this.count,
      failures: this.consecutive,
      slowCalls: this.slows,
      consecutiveFailures: this.consecutive
    }
  }
}

const FAILURE_BIT = 1
const SLOW_BIT = 2

/**
 * `rate`: the last `size` calls; trips once `minimumCalls` are in and a rate
 * reaches its threshold. The ring of outcomes is allocated on the first
 * failure or slow call: until then every call in it was a plain success (a
 * zero), so an idle or healthy circuit costs no ring.
 */
class CountWindow implements Window {
  ring: Uint8Array | undefined = undefined
  pos = 0
  count = 0
  failures = 0
  slows = 0
  consecutive = 0
  constructor(
    readonly size: number,
    readonly threshold: number,
    readonly minimumCalls: number,
    readonly slowThreshold: number | undefined
  ) {}
  add(failure: boolean, slow: boolean, _now: number): boolean {
    const size = this.size
    const bits = (failure ? FAILURE_BIT : 0) | (slow ? SLOW_BIT : 0)
    let ring = this.ring
    // Stryker disable next-line ConditionalExpression: equivalent: allocating the ring before the first failure or slow call only stores zeros, which is what plain successes are
    if (ring === undefined && bits !== 0) ring = this.ring = new Uint8Array(size)
    if (ring !== undefined) {
      // Stryker disable next-line ConditionalExpression: equivalent: until the ring is full, the slot at pos was never written (pos === count), so it holds 0 and nothing is taken out
      if (this.count === size) {
        const old = ring[this.pos]!
        if (old & FAILURE_BIT) this.failures--
        if (old & SLOW_BIT) this.slows--
      }
      ring[this.pos] = bits
    }
    if (this.count < size) this.count++
    if (failure) this.failures++
    if (slow) this.slows++
    this.consecutive = failure ? this.consecutive + 1 : 0
    this.pos = this.pos + 1 === size ? 0 : this.pos + 1
    if (this.count < this.minimumCalls) return false
    return reaches(this.failures, this.count, this.threshold) ||
      // Stryker disable next-line ConditionalExpression: equivalent: without slowCall, reaches(…, undefined) is false anyway (n >= undefined is false)
      (this.slowThreshold !== undefined && reaches(this.slows, this.count, this.slowThreshold))
  }
  stats(): WindowStats {
    return { calls: this.count, failures: this.failures, slowCalls: this.slows, consecutiveFailures: this.consecutive }
  }
}

/**
 * `timeRate`: a sliding time window of `window` ms split into `buckets`
 * buckets of `window / buckets` ms; the window advances one bucket at a time.
 * Bucket `slot % buckets` holds the counts of time slot `slot`
 * (`floor(now / width)`); when time moves on, the buckets of the new slots
 * are cleared (at most `buckets` of them: O(1) per call).
 */
class TimeWindow implements Window {
  readonly width: number
  // calls, failures, slow calls per bucket, interleaved
  readonly counts: Int32Array
  calls = 0
  failures = 0
  slows = 0
  consecutive = 0
  current = -1
  constructor(
    window: number,
    readonly buckets: number,
    readonly threshold: number,
    readonly minimumCalls: number,
    readonly slowThreshold: number | undefined
  ) {
    this.width = window / buckets
    this.counts = new Int32Array(buckets * 3)
  }
  advance(now: number): void {
    const slot = Math.floor(now / this.width)
    // Stryker disable next-line EqualityOperator: equivalent: at slot === current the loop clears min(0, buckets) = 0 buckets and current stays the same
    if (slot <= this.current) return
    const buckets = this.buckets
    // the buckets of slots current+1 … slot (at most all of them) start empty
    const steps = Math.min(slot - this.current, buckets)
    const counts = this.counts
    for (let i = 0; i < steps; i++) {
      const base = ((slot - i) % buckets) * 3
      this.calls -= counts[base]!
      this.failures -= counts[base + 1]!
      this.slows -= counts[base + 2]!
      counts[base] = 0
      counts[base + 1] = 0
      counts[base + 2] = 0
    }
    this.current = slot
  }
  add(failure: boolean, slow: boolean, now: number): boolean {
    this.advance(now)
    const counts = this.counts
    const base = (this.current % this.buckets) * 3
    counts[base]!++
    this.calls++
    if (failure) {
      counts[base + 1]!++
      this.failures++
    }
    if (slow) {
      counts[base + 2]!++
      this.slows++
    }
    this.consecutive = failure ? this.consecutive + 1 : 0
    if (this.calls < this.minimumCalls) return false
    return reaches(this.failures, this.calls, this.threshold) ||
      // Stryker disable next-line ConditionalExpression: equivalent: without slowCall, reaches(…, undefined) is false anyway (n >= undefined is false)
      (this.slowThreshold !== undefined && reaches(this.slows, this.calls, this.slowThreshold))
  }
  stats(now: number): WindowStats {
    this.advance(now)
    return { calls: this.calls, failures: this.failures, slowCalls: this.slows, consecutiveFailures: this.consecutive }
  }
}

/** A fresh window for a circuit entering Closed. @internal */
export const make = (config: WindowConfig): Window => {
  const trip = config.trip
  switch (trip._tag) {
    case "Consecutive":
      return new ConsecutiveWindow(trip.failures, config.slowCallThreshold)
    case "Rate":
      return new CountWindow(trip.size, trip.threshold, trip.minimumCalls, config.slowCallThreshold)
    case "TimeRate":
      return new TimeWindow(trip.window, trip.buckets, trip.threshold, trip.minimumCalls, config.slowCallThreshold)
  }
}
