/**
 * Bulkhead, uncontended (included once src/Bulkhead.ts exists). The contention
 * benchmark (10k/100k callers) is `bench/contention.ts`, run by
 * `npm run bench -- --filter contention`.
 */
import * as Effect from "effect/Effect"
import { async1, type Case, optionalModule, scopedCase, succeed1 } from "./_lib.js"
import { PEER } from "./peers.js"

const Bulkhead = await optionalModule("Bulkhead")
const AdaptiveLimit = await optionalModule("AdaptiveLimit")

/** The uncontended case (a target of issue 20: `bench/targets.ts`). */
export const UNCONTENDED = "ours: Bulkhead.make({ maxConcurrent: 100 })"
/** The same with an adaptive limit (issue 24: its overhead within 1.5× the fixed one's). */
export const ADAPTIVE = "ours: Bulkhead.make({ maxConcurrent: AdaptiveLimit.vegas() })"
const UNCONTENDED_ASYNC = "ours: Bulkhead.make({ maxConcurrent: 100 }), async work"

export const cases: ReadonlyArray<Case> = Bulkhead === undefined ? [] : [
  scopedCase({
    name: UNCONTENDED,
    group: "bulkhead",
    lib: "ours",
    path: "success",
    peers: [PEER.cockatielBulkhead, PEER.effectSemaphore],
    targets: [
      { kind: "overhead", max: 1000 },
      { kind: "ratio", of: PEER.effectSemaphore, max: 1 / 7 }
    ],
    note: "uncontended: a permit is always free",
    make: Effect.map(Bulkhead.make({ maxConcurrent: 100 }), (bulkhead: any) => () => bulkhead(succeed1))
  }),
  ...(AdaptiveLimit === undefined ? [] : [
    scopedCase({
      name: ADAPTIVE,
      group: "bulkhead",
      lib: "ours",
      path: "success",
      peers: [UNCONTENDED],
      targets: [{ kind: "ratio", of: UNCONTENDED, max: 1.5 }],
      note: "uncontended, an adaptive limit: each call read on the clock twice and fed to Vegas",
      make: Effect.map(
        Bulkhead.make({ maxConcurrent: AdaptiveLimit.vegas({ initialLimit: 100 }) }),
        (bulkhead: any) => () => bulkhead(succeed1)
      )
    }),
    scopedCase({
      name: UNCONTENDED_ASYNC,
      group: "bulkhead",
      lib: "ours",
      path: "async",
      note: "uncontended, the work completes a microtask later",
      make: Effect.map(Bulkhead.make({ maxConcurrent: 100 }), (bulkhead: any) => () => bulkhead(async1))
    }),
    scopedCase({
      name: `${ADAPTIVE}, async work`,
      group: "bulkhead",
      lib: "ours",
      path: "async",
      peers: [UNCONTENDED_ASYNC],
      targets: [{ kind: "ratio", of: UNCONTENDED_ASYNC, max: 1.5 }],
      note: "uncontended, an adaptive limit, the work completes a microtask later",
      make: Effect.map(
        Bulkhead.make({ maxConcurrent: AdaptiveLimit.vegas({ initialLimit: 100 }) }),
        (bulkhead: any) => () => bulkhead(async1)
      )
    })
  ])
]
