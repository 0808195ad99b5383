/**
 * Policy.pipeline / Policy.compose: what a user's `paymentsPolicy` costs.
 *
 * Today (Retry and Timeout only) the pipeline is overall timeout → retry →
 * attempt timeout. When Bulkhead and CircuitBreaker exist in src/, the full
 * pipeline of issue 8 is added: timeout → bulkhead → breaker → retry →
 * attempt timeout, next to cockatiel's `wrap(retry, breaker, timeout, bulkhead)`.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Policy, Retry, Timeout } from "../../src/index.js"
import { async1, type Case, effectCase, type EffectCall, optionalModule, scopedCase, succeed1, type Target } from "./_lib.js"
import { PEER } from "./peers.js"

const Bulkhead = await optionalModule("Bulkhead")
const CircuitBreaker = await optionalModule("CircuitBreaker")

const retry = () => Retry.policy({ schedule: Retry.exponential({ base: "100 millis" }), times: 3 })

const partial = Policy.pipeline({ timeout: "10 seconds", retry: retry(), attemptTimeout: "1 second" })
const composed = Policy.compose(Timeout.make("10 seconds"), retry(), Timeout.make("1 second"))
const retryOnly = Policy.pipeline({ retry: retry() })

const fullTargets: ReadonlyArray<Target> = [
  { kind: "ratio", of: PEER.cockatielWrap, max: 1 },
  { kind: "ratio", of: PEER.cockatielWrap, max: 0.5, stretch: true }
]

const full: ReadonlyArray<Case> = Bulkhead === undefined || CircuitBreaker === undefined ? [] : [false, true].map((isAsync) =>
  scopedCase({
    name: `ours: Policy.pipeline(timeout, bulkhead, breaker, retry, attemptTimeout)${isAsync ? " async work" : ""}`,
    group: "pipeline",
    lib: "ours",
    path: isAsync ? "async" : "success",
    peers: [PEER.cockatielWrap, isAsync ? PEER.effectPipelineAsync : PEER.effectPipeline],
    targets: fullTargets,
    note: "timeout 10 s, Bulkhead(100), CircuitBreaker(consecutive 5), Retry(exponential, 3), attempt timeout 1 s",
    make: Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 100 })
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(5),
        openDuration: "10 seconds"
      })
      const policy: (self: Effect.Effect<number>) => Effect.Effect<unknown, unknown> = Policy.pipeline({
        timeout: "10 seconds",
        bulkhead,
        circuitBreaker: breaker,
        retry: retry(),
        attemptTimeout: "1 second"
      }) as any
      const work = isAsync ? async1 : succeed1
      return () => policy(work)
    }) as Effect.Effect<EffectCall, unknown, Scope.Scope>
  })
)

export const cases: ReadonlyArray<Case> = [
  effectCase({
    name: "ours: Policy.pipeline(retry)",
    group: "pipeline",
    lib: "ours",
    path: "success",
    peers: [PEER.cockatielRetry, PEER.effectRetry],
    note: "a pipeline of one policy: what the composition itself adds over Retry.policy",
    call: () => retryOnly(succeed1)
  }),
  ...[false, true].map((isAsync) =>
    effectCase({
      name: `ours: Policy.pipeline(timeout, retry, attemptTimeout)${isAsync ? " async work" : ""}`,
      group: "pipeline",
      lib: "ours",
      path: isAsync ? "async" : "success",
      peers: [PEER.cockatielWrap, isAsync ? PEER.effectPipelineAsync : PEER.effectPipeline],
      note: "the pipeline that can be built today: timeout 10 s → Retry(exponential, 3) → attempt timeout 1 s",
      call: () => partial(isAsync ? async1 : succeed1)
    })
  ),
  effectCase({
    name: "ours: Policy.compose(Timeout, Retry, Timeout)",
    group: "pipeline",
    lib: "ours",
    path: "success",
    peers: [PEER.cockatielWrap, PEER.effectPipeline],
    note: "the same three policies through compose (pipeline is compose in a fixed order)",
    call: () => composed(succeed1)
  }),
  ...full
]
