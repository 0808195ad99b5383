/**
 * Retry.policy: the success path (one attempt, no schedule touched) and the
 * failure path (every attempt fails; three retries with zero delay).
 */
import { Retry } from "../../src/index.js"
import { type Case, effectCase, fail1, succeed1 } from "./_lib.js"
import { PEER } from "./peers.js"

const exponential = Retry.policy({ schedule: Retry.exponential({ base: "100 millis" }), times: 3 })
const zeroDelay = Retry.policy({ schedule: Retry.constant(0), times: 3 })
const prebuilt = exponential(succeed1)

export const cases: ReadonlyArray<Case> = [
  effectCase({
    name: "ours: Retry.policy(exponential, times 3)",
    group: "retry",
    lib: "ours",
    path: "success",
    peers: [PEER.cockatielRetry, PEER.effectRetry],
    targets: [
      { kind: "overhead", max: 500 },
      { kind: "ratio", of: PEER.effectRetry, max: 1 / 20 },
      { kind: "ratio", of: PEER.cockatielRetry, max: 2 }
    ],
    note: "the policy is applied per call (`retry(work)` inside the loop)",
    call: () => exponential(succeed1)
  }),
  effectCase({
    name: "ours: Retry.policy, pre-applied effect",
    group: "retry",
    lib: "ours",
    path: "success",
    peers: [PEER.cockatielRetry, PEER.effectRetry],
    note: "`retry(work)` built once and run per call: the cost of running it without building it",
    call: () => prebuilt
  }),
  effectCase({
    name: "ours: Retry.policy(constant 0, times 3) failing",
    group: "retry",
    lib: "ours",
    path: "failure",
    peers: [PEER.cockatielRetryFail, PEER.effectRetryFail],
    note: "4 attempts, then the original error",
    smokeOps: 1,
    call: () => zeroDelay(fail1)
  })
]
