/**
 * Bulkhead, uncontended (included once src/Bulkhead.ts exists). The contention
 * benchmark (10k/100k callers) is `bench/contention.ts`, run by
 * `npm run bench -- --filter contention`.
 */
import * as Effect from "effect/Effect"
import { type Case, optionalModule, scopedCase, succeed1 } from "./_lib.js"
import { PEER } from "./peers.js"

const Bulkhead = await optionalModule("Bulkhead")

/** The uncontended case (a target of issue 20: `bench/targets.ts`). */
export const UNCONTENDED = "ours: Bulkhead.make({ maxConcurrent: 100 })"

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
  })
]
