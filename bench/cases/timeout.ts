/**
 * Timeout.make on the success path: sync work (`Effect.succeed`) and async
 * work (resumed one microtask later, as I/O is).
 */
import { Timeout } from "../../src/index.js"
import { async1, type Case, effectCase, succeed1, type Target } from "./_lib.js"
import { PEER } from "./peers.js"

const timeout = Timeout.make("1 second")
// the path Timeout.make took before its fast path (Effect.timeoutFail: two forked fibers per call);
// `implementation` is an internal option of Timeout.make, ignored if it goes away
const general = Timeout.make("1 second", { implementation: "general" } as Timeout.Timeout.Options)

const targets = (effectTimeout: string): ReadonlyArray<Target> => [
  { kind: "ratio", of: effectTimeout, max: 1 / 3 },
  { kind: "ratio", of: PEER.cockatielTimeoutCoop, max: 1 },
  { kind: "ratio", of: PEER.cockatielTimeoutAggr, max: 1 }
]

export const cases: ReadonlyArray<Case> = [
  effectCase({
    name: "ours: Timeout.make(\"1 second\")",
    group: "timeout",
    lib: "ours",
    path: "success",
    peers: [PEER.cockatielTimeoutCoop, PEER.effectTimeout],
    targets: targets(PEER.effectTimeout),
    call: () => timeout(succeed1)
  }),
  effectCase({
    name: "ours: Timeout.make(\"1 second\") async work",
    group: "timeout",
    lib: "ours",
    path: "async",
    peers: [PEER.cockatielTimeoutCoop, PEER.effectTimeoutAsync],
    targets: targets(PEER.effectTimeoutAsync),
    call: () => timeout(async1)
  }),
  effectCase({
    name: "ours: Timeout.make(\"1 second\") built per request",
    group: "timeout",
    lib: "ours",
    path: "success",
    peers: [PEER.cockatielTimeoutCoop, PEER.effectTimeout],
    note: "the policy built in each call (`Timeout.make(d)(work)`, as with a per-request duration): its options checked through the spec every time",
    call: () => Timeout.make("1 second")(succeed1)
  }),
  effectCase({
    name: "ours: Timeout.make(\"1 second\"), general path (Effect.timeoutFail)",
    group: "timeout",
    lib: "ours",
    path: "success",
    peers: [PEER.cockatielTimeoutCoop, PEER.effectTimeout],
    note: "`implementation: \"general\"`: what Timeout.make cost before its fast path (two forks per call)",
    call: () => general(succeed1)
  })
]
