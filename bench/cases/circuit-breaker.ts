/**
 * CircuitBreaker (included once src/CircuitBreaker.ts exists): the closed
 * success path, and the rejection of an open circuit.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { Boom, type Case, fail1, optionalModule, scopedCase, succeed1 } from "./_lib.js"
import { PEER } from "./peers.js"

const CircuitBreaker = await optionalModule("CircuitBreaker")

/** The closed-breaker case (a target of issue 20: `bench/targets.ts`). */
export const CLOSED = "ours: CircuitBreaker(consecutive 5) closed"

const make = (openDuration: string) =>
  CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration }) as Effect.Effect<any, unknown, any>

export const cases: ReadonlyArray<Case> = CircuitBreaker === undefined ? [] : [
  scopedCase({
    name: CLOSED,
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
      // checked by a call, not by a reader (`state()`), whose shape may change: the work must not
      // run (it would succeed) and the failure must be the breaker's, not Boom
      let ran = false
      const exit = yield* Effect.exit(breaker(Effect.sync(() => {
        ran = true
        return 1
      })))
      if (ran || Exit.isSuccess(exit)) return yield* Effect.dieMessage("breaker did not open after 5 failures")
      const error = Cause.squash(exit.cause)
      if (error instanceof Boom) return yield* Effect.dieMessage("breaker did not open: the failure is the work's")
      return () => breaker(succeed1)
    })
  })
]
