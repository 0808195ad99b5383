/**
 * Prototypes from bench/proto/ (the "Fast path notes" of bench/README.md),
 * measured next to what they would replace.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { Policy, Retry } from "../../src/index.js"
import * as ProtoTimeout from "../proto/timeout.js"
import type * as Scope from "effect/Scope"
import { async1, type Case, effectCase, type EffectCall, optionalModule, scopedCase, succeed1, type Target } from "./_lib.js"
import { PEER } from "./peers.js"

const timeoutTargets = (effectTimeout: string): ReadonlyArray<Target> => [
  { kind: "ratio", of: effectTimeout, max: 1 / 3 },
  { kind: "ratio", of: PEER.cockatielTimeoutCoop, max: 1 },
  { kind: "ratio", of: PEER.cockatielTimeoutAggr, max: 1 }
]

const proto = ProtoTimeout.make("1 second")
const protoFiberTimer = ProtoTimeout.make("1 second", { timer: "fiber" })
const protoAlwaysInherit = ProtoTimeout.make("1 second", { skipUnchangedRefs: false })

const retry = () => Retry.policy({ schedule: Retry.exponential({ base: "100 millis" }), times: 3 })
const protoPipeline = Policy.compose(ProtoTimeout.make("10 seconds"), retry(), ProtoTimeout.make("1 second"))

const Bulkhead = await optionalModule("Bulkhead")
const CircuitBreaker = await optionalModule("CircuitBreaker")

const protoFullPipeline: ReadonlyArray<Case> = Bulkhead === undefined || CircuitBreaker === undefined ? [] : [false, true].map((isAsync) =>
  scopedCase({
    name: `proto: compose(timeout, bulkhead, breaker, retry, attemptTimeout) with the prototype${isAsync ? ", async work" : ""}`,
    group: "pipeline",
    lib: "proto",
    path: isAsync ? "async" : "success",
    peers: [PEER.cockatielWrap, isAsync ? PEER.effectPipelineAsync : PEER.effectPipeline],
    targets: [
      { kind: "ratio", of: PEER.cockatielWrap, max: 1 },
      { kind: "ratio", of: PEER.cockatielWrap, max: 0.5, stretch: true }
    ],
    note: "the full pipeline of issue 8 with both timeouts replaced by the prototype",
    make: Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 100 })
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration: "10 seconds" })
      // the order Policy.pipeline applies
      const policy: (self: Effect.Effect<number>) => Effect.Effect<unknown, unknown> = Policy.compose(
        ProtoTimeout.make("10 seconds"),
        bulkhead,
        breaker,
        retry(),
        ProtoTimeout.make("1 second")
      ) as any
      const work = isAsync ? async1 : succeed1
      return () => policy(work)
    }) as Effect.Effect<EffectCall, unknown, Scope.Scope>
  })
)

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

export const cases: ReadonlyArray<Case> = [
  effectCase({
    name: "proto: timeout, one fiber + shared timer",
    group: "timeout",
    lib: "proto",
    path: "success",
    peers: [PEER.cockatielTimeoutCoop, PEER.effectTimeout],
    targets: timeoutTargets(PEER.effectTimeout),
    note: "bench/proto/timeout.ts: the work completes while started synchronously, so no timer is touched",
    call: () => proto(succeed1)
  }),
  effectCase({
    name: "proto: timeout, one fiber + shared timer, async work",
    group: "timeout",
    lib: "proto",
    path: "async",
    peers: [PEER.cockatielTimeoutCoop, PEER.effectTimeoutAsync],
    targets: timeoutTargets(PEER.effectTimeoutAsync),
    note: "bench/proto/timeout.ts: registers in the policy's deadline list, one Node timer per policy (live clock)",
    call: () => proto(async1)
  }),
  effectCase({
    name: "proto: timeout, shared timer FIBER (TestClock path), async work",
    group: "timeout",
    lib: "proto",
    path: "async",
    peers: [PEER.cockatielTimeoutCoop, PEER.effectTimeoutAsync],
    note: "the path taken with a non-live Clock, forced here on the live clock: the timer fiber is started and stopped per call when calls do not overlap",
    call: () => protoFiberTimer(async1)
  }),
  effectCase({
    name: "proto: timeout, always inheritAll",
    group: "timeout",
    lib: "proto",
    path: "success",
    peers: [PEER.effectTimeout],
    note: "as the first prototype, but joining the work's FiberRefs even when it changed none",
    call: () => protoAlwaysInherit(succeed1)
  }),
  ...[false, true].map((isAsync) =>
    effectCase({
      name: `proto: compose(timeout, Retry, timeout) with the prototype${isAsync ? ", async work" : ""}`,
      group: "pipeline",
      lib: "proto",
      path: isAsync ? "async" : "success",
      peers: [PEER.cockatielWrap, isAsync ? PEER.effectPipelineAsync : PEER.effectPipeline],
      note: "today's pipeline (overall timeout 10 s → Retry → attempt timeout 1 s) with both timeouts replaced by the prototype",
      call: () => protoPipeline(isAsync ? async1 : succeed1)
    })
  ),
  ...protoFullPipeline,
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
