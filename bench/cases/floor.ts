/**
 * The floor: what observing the end of a call costs in Effect 3's runtime
 * when nothing is decided and nothing is recorded. Each case is the shape
 * of one of our hot paths with its bookkeeping taken out, so that
 * `ours − floor` is what the policy itself adds, and `floor − bare` is what
 * any Effect policy that sees a call's result must pay (issue 20: the closed
 * breaker and the uncontended bulkhead are judged against cockatiel, whose
 * whole breaker costs about one such frame). `bench/targets.ts` measures them
 * beside the targets.
 */
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Exit from "effect/Exit"
import * as FastCall from "../../src/internal/circuitBreaker/fastCall.js"
import * as ExitFrame from "../../src/internal/exitFrame.js"
import { type Case, effectCase, succeed1 } from "./_lib.js"
import { PEER } from "./peers.js"

/** The breaker's shape: one FastCall primitive, admitting every run, recording nothing. */
export const FLOOR_FAST_CALL = "floor: one FastCall frame, nothing decided or recorded (the breaker's shape)"
/** The bulkhead's shape: a `commit` that pushes an exit frame whose hook does nothing. */
export const FLOOR_EXIT_FRAME = "floor: commit + exit frame, no-op hook (the bulkhead's shape)"
/** Effect's public way to see a result: `matchCauseEffect` with fixed handlers. */
export const FLOOR_MATCH = "floor: Effect.matchCauseEffect, fixed handlers"
/** A `commit` that answers the call: the step a policy adds without observing the end. */
export const FLOOR_COMMIT = "floor: commit returning the call (no frame)"

const TICKET = { _tag: "Admitted", generation: 1, lease: 0, transitions: [] } as const

const runner: FastCall.Runner = {
  begin: (_fiber, call) => {
    call.admitted(TICKET, NaN)
    return call.self
  },
  general: (call) => call.self,
  succeeded: (value) => Exit.succeed(value),
  failed: (cause) => Exit.failCause(cause)
}

const noop = () => {}
const frame = new ExitFrame.ExitFrame(noop)

class FrameCall<A, E> extends Effectable.Class<A, E> {
  constructor(readonly self: Effect.Effect<A, E>) {
    super()
  }
  commit(): Effect.Effect<A, E> {
    ExitFrame.push(frame)
    return this.self
  }
}

class CommitCall<A, E> extends Effectable.Class<A, E> {
  constructor(readonly self: Effect.Effect<A, E>) {
    super()
  }
  commit(): Effect.Effect<A, E> {
    return this.self
  }
}

const handlers = { onFailure: Effect.failCause, onSuccess: Effect.succeed }

export const cases: ReadonlyArray<Case> = [
  effectCase({
    name: FLOOR_FAST_CALL,
    group: "floor",
    lib: "proto",
    path: "success",
    peers: [PEER.cockatielBreaker],
    note: "src/internal/circuitBreaker/fastCall.ts with a runner that admits every run and records nothing",
    call: () => {
      if (!FastCall.supported()) throw new Error("FastCall not supported by this runtime")
      return FastCall.asEffect(new FastCall.FastCall(succeed1, runner, undefined, undefined))
    }
  }),
  effectCase({
    name: FLOOR_EXIT_FRAME,
    group: "floor",
    lib: "proto",
    path: "success",
    peers: [PEER.cockatielBulkhead],
    note: "src/internal/exitFrame.ts: the frame pushed in a commit, its hook a no-op",
    call: () => {
      if (!ExitFrame.supported()) throw new Error("ExitFrame not supported by this runtime")
      return new FrameCall(succeed1)
    }
  }),
  effectCase({
    name: FLOOR_MATCH,
    group: "floor",
    lib: "proto",
    path: "success",
    call: () => Effect.matchCauseEffect(succeed1, handlers)
  }),
  effectCase({
    name: FLOOR_COMMIT,
    group: "floor",
    lib: "proto",
    path: "success",
    call: () => new CommitCall(succeed1)
  })
]
