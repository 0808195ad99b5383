/**
 * CircuitBreaker (included once src/CircuitBreaker.ts exists): the closed
 * success path, and the rejection of an open circuit.
 */
import * as Effect from "effect/Effect"
import { type Case, fail1, optionalModule, scopedCase, succeed1 } from "./_lib.js"
import { PEER } from "./peers.js"

const CircuitBreaker = await optionalModule("CircuitBreaker")

const make = (openDuration: string) =>
  CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration }) as Effect.Effect<any, unknown, any>

export const cases: ReadonlyArray<Case> = CircuitBreaker === undefined ? [] : [
  scopedCase({
    name: "ours: CircuitBreaker(consecutive 5) closed",
    group: "circuit-breaker",
    lib: "ours",
    path: "success",
    peers: [PEER.cockatielBreaker, PEER.opossumNoTimeout],
    targets: [
      { kind: "overhead", max: 800 },
      { kind: "ratio", of: PEER.opossumNoTimeout, max: 1 }
    ],
    make: Effect.map(make("10 seconds"), (breaker) => () => breaker(succeed1))
  }),
  scopedCase({
    name: "ours: CircuitBreaker open rejection",
    group: "circuit-breaker",
    lib: "ours",
    path: "failure",
    peers: [PEER.cockatielBreakerOpen, PEER.opossumOpen],
    targets: [{ kind: "overhead", max: 1500 }],
    note: "tripped by 5 failures, open for an hour; the call fails with CircuitBreakerError(CircuitOpen)",
    make: Effect.gen(function*() {
      const breaker = yield* make("1 hour")
      for (let i = 0; i < 5; i++) yield* Effect.exit(breaker(fail1))
      const state = yield* (breaker.state() as Effect.Effect<{ readonly _tag: string }>)
      if (state._tag !== "Open") return yield* Effect.dieMessage(`breaker did not open: ${state._tag}`)
      return () => breaker(succeed1)
    })
  })
]
