/**
 * Reading metrics back from the global registry in tests.
 */
import { Effect, Metric, MetricState } from "effect"

/** The count of the counter `name` whose tags are exactly `tags` (0 if absent). */
export const counterValue = (name: string, tags: Record<string, string>) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const wanted = Object.entries(tags).map(([k, v]) => `${k}=${v}`).sort().join(",")
    for (const pair of pairs) {
      if (pair.metricKey.name !== name) continue
      const got = pair.metricKey.tags.map((t) => `${t.key}=${t.value}`).sort().join(",")
      if (got === wanted && MetricState.isCounterState(pair.metricState)) return Number(pair.metricState.count)
    }
    return 0
  })

/** The sum of the counters named `name` whose tags include `tags` (other tags may differ; 0 if none). */
export const counterTotal = (name: string, tags: Record<string, string>) =>
  Effect.map(Metric.snapshot, (pairs) => {
    let total = 0
    for (const pair of pairs) {
      if (pair.metricKey.name !== name || !MetricState.isCounterState(pair.metricState)) continue
      const keyTags = new Map(pair.metricKey.tags.map((t) => [t.key, t.value]))
      if (Object.entries(tags).every(([k, v]) => keyTags.get(k) === v)) total += Number(pair.metricState.count)
    }
    return total
  })
