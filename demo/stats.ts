/**
 * What the demo records: every request's outcome and latency, per client and
 * per second, plus samples of the breaker state and the upstream's counts.
 */

export type ClientName = "naive" | "resilient" | "adaptive"
export type Outcome = "ok" | "degraded" | "failed"

export interface Sample {
  readonly client: ClientName
  /** Milliseconds since the start of the run, when the request started. */
  readonly at: number
  readonly latency: number
  readonly outcome: Outcome
}

export interface SecondStats {
  readonly second: number
  readonly ok: number
  readonly degraded: number
  readonly failed: number
  readonly p50: number
  readonly p99: number
}

export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (sorted.length === 0) return 0
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index]!
}

export class Recorder {
  readonly samples: Array<Sample> = []
  /** The breaker's state over time, per replica of the resilient client. */
  readonly breakerStates: Array<{ readonly at: number; readonly state: string; readonly replica: string }> = []
  /** The bulkhead's limit (and calls in flight) over time, per client that has one (the `adaptive` scenario). */
  readonly limits: Array<{ readonly at: number; readonly client: ClientName; readonly limit: number; readonly active: number }> = []
  retries = 0
  record(sample: Sample) {
    this.samples.push(sample)
  }
  totals(client: ClientName) {
    const mine = this.samples.filter((s) => s.client === client)
    const latencies = mine.map((s) => s.latency).sort((a, b) => a - b)
    return {
      requests: mine.length,
      ok: mine.filter((s) => s.outcome === "ok").length,
      degraded: mine.filter((s) => s.outcome === "degraded").length,
      failed: mine.filter((s) => s.outcome === "failed").length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99)
    }
  }
  /** Samples completed within the last `windowMillis` before `now`. */
  recent(client: ClientName, now: number, windowMillis: number) {
    const mine = this.samples.filter((s) => s.client === client && s.at + s.latency >= now - windowMillis)
    const latencies = mine.map((s) => s.latency).sort((a, b) => a - b)
    return {
      ok: mine.filter((s) => s.outcome === "ok").length,
      degraded: mine.filter((s) => s.outcome === "degraded").length,
      failed: mine.filter((s) => s.outcome === "failed").length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99)
    }
  }
  perSecond(client: ClientName, seconds: number): ReadonlyArray<SecondStats> {
    const rows: Array<SecondStats> = []
    for (let second = 0; second < seconds; second++) {
      const mine = this.samples.filter((s) => s.client === client && Math.floor(s.at / 1000) === second)
      const latencies = mine.map((s) => s.latency).sort((a, b) => a - b)
      rows.push({
        second,
        ok: mine.filter((s) => s.outcome === "ok").length,
        degraded: mine.filter((s) => s.outcome === "degraded").length,
        failed: mine.filter((s) => s.outcome === "failed").length,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99)
      })
    }
    return rows
  }
}
