/**
 * Shapes measured for the "Fast path notes" of bench/README.md, next to what
 * they would replace. (The timeout prototype that was here has been ported
 * into src/internal/timeout.ts: its figures are now Timeout.make's.)
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { type Case, effectCase, succeed1 } from "./_lib.js"
import { PEER } from "./peers.js"

// The success-path shapes of Retry.policy (the failure handler is never run here)
const neverRun = (): Effect.Effect<never> => Effect.die("not on the success path")
let _calls = 0
const shapes: ReadonlyArray<readonly [string, (self: Effect.Effect<number>) => Effect.Effect<number>]> = [
  ["suspend + catchAll (today's shape)", (self) => {
    const run = Effect.catchAll(self, neverRun)
    return Effect.suspend(() => {
      _calls++
      return run
    })
  }],
  ["suspend + catchAllCause", (self) => {
    const run = Effect.catchAllCause(self, (cause) => Cause.isFailType(cause) ? neverRun() : Effect.failCause(cause))
    return Effect.suspend(() => {
      _calls++
      return run
    })
  }],
  ["catchAllCause alone", (self) => Effect.catchAllCause(self, (cause) => Cause.isFailType(cause) ? neverRun() : Effect.failCause(cause))],
  ["catchAll alone", (self) => Effect.catchAll(self, neverRun)]
]

// A closed consecutive(5) breaker with the least bookkeeping, on Effect.suspend + matchCauseEffect
// (issue 20: what the breaker target leaves room for): the admission reads one flag when the run starts, a success counts itself
// and resets the count, a failure counts and may open. No generation, no deadline cut, no metrics.
const leanBreaker = (() => {
  let open = false
  let consecutive = 0
  let successes = 0
  let failures = 0
  const handlers = {
    onSuccess: (a: number) => {
      successes++
      if (consecutive !== 0) consecutive = 0
      return Effect.succeed(a)
    },
    onFailure: (cause: Cause.Cause<never>) => {
      failures++
      if (++consecutive >= 5) open = true
      return Effect.failCause(cause)
    }
  }
  const rejected = Effect.die("open")
  // admission when the run starts (a built effect run twice is two calls), as the breaker decides it
  return (self: Effect.Effect<number>): Effect.Effect<number> => {
    const observed = Effect.matchCauseEffect(self, handlers)
    return Effect.suspend(() => open || successes < 0 || failures < 0 ? rejected : observed)
  }
})()

export const cases: ReadonlyArray<Case> = [
  effectCase({
    name: "proto: a lean closed consecutive breaker (Effect.suspend + matchCauseEffect)",
    group: "circuit-breaker",
    lib: "proto",
    path: "success",
    peers: [PEER.cockatielBreaker],
    note: "admission read when the run starts (suspend), a success counted and the count reset: the least a closed breaker does (issue 20)",
    call: () => leanBreaker(succeed1)
  }),
  ...shapes.map(([label, shape]) =>
    effectCase({
      name: `proto: retry shape, ${label}`,
      group: "retry",
      lib: "proto",
      path: "success",
      peers: [PEER.cockatielRetry],
      note: "the success path of Retry.policy reduced to its Effect operators, applied per call",
      call: () => shape(succeed1)
    })
  ),
  effectCase({
    name: "proto: Effect.sleep(0) (what a zero-delay retry waits)",
    group: "retry",
    lib: "proto",
    path: "success",
    note: "Retry.policy sleeps even when the delay is 0; the live Clock turns it into setTimeout(0), ≥ 1 ms in Node",
    smokeOps: 1,
    call: () => Effect.sleep(0)
  }),
  effectCase({
    name: "proto: Effect.yieldNow() (the alternative for a zero delay)",
    group: "retry",
    lib: "proto",
    path: "success",
    call: () => Effect.yieldNow()
  })
]
