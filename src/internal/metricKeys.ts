/**
 * Metrics whose tags are in their key.
 *
 * A `Metric.tagged` (or `Metric.taggedWithLabels`) wrapper re-derives its
 * key on every update: it unions its tags with the update's, builds a new
 * `MetricKey`, hashes it and looks it up in the global registry, ~2–3 µs per
 * update (bench/README.md, note (c)). A metric built from a key that already
 * carries the tags finds its registry entry once and keeps it. Both update
 * the same entry (same name, tags in the same order, same value), so a
 * per-call path must use {@link tagged}, never the wrapper.
 *
 * @internal
 */
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as MetricLabel from "effect/MetricLabel"

/** Tags as `[name, value]` pairs, in order. @internal */
export type Tags = ReadonlyArray<readonly [name: string, value: string]>

/**
 * The metric of `key` with `tags` in its key, in their order (the tags of
 * `Metric.tagged(Metric.tagged(m, a, x), b, y)` are `[[a, x], [b, y]]`; a
 * fiber's `Effect.tagMetrics` labels follow them, as with the wrapper).
 * Pure: the registry entry is made at the first update or read.
 *
 * @internal
 */
export const tagged = <Type extends MetricKeyType.MetricKeyType<any, any>>(
  key: MetricKey.MetricKey<Type>,
  tags: Tags
): Metric.Metric<Type, MetricKeyType.MetricKeyType.InType<Type>, MetricKeyType.MetricKeyType.OutType<Type>> =>
  Metric.fromMetricKey(MetricKey.taggedWithLabels(key, tags.map(([name, value]) => MetricLabel.make(name, value))))
