/**
 * Turns a {@link Case} into something that runs `ops` calls back to back:
 * shared by `bench/run.ts` (the full suite) and `bench/targets.ts` (the
 * targets of issue 20), so that both measure a case the same way.
 *
 * - Effect cases: the policy is built once (`make`, in a `Scope` closed by
 *   `close`); `runOps(n)` is ONE `Runtime.runPromise` of a fiber that runs
 *   `n` calls back to back (`Effect.whileLoop`). Failure-path calls are
 *   wrapped in `Effect.exit`.
 * - Promise cases: `runOps(n)` awaits `n` calls in one plain async loop
 *   (`try/catch` around each call on the failure path).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import type { Case, EffectCall } from "./cases/_lib.js"

/** A case ready to run. */
export interface Prepared {
  /** Runs `ops` calls; resolves when done. */
  readonly runOps: (ops: number) => Promise<void>
  /** Runs one call and reports whether it failed (to check the case's path). */
  readonly probe: () => Promise<boolean>
  readonly close: () => Promise<void>
}

const runtime = Runtime.defaultRuntime
/** `Runtime.runPromise` of the default runtime (what every Effect case runs on). */
export const runPromise = Runtime.runPromise(runtime)

/** Builds the case's policy and returns its runner. */
export const prepare = async (c: Case): Promise<Prepared> => {
  if (c.kind === "effect") {
    const scope = await runPromise(Scope.make())
    let call: EffectCall
    try {
      call = await runPromise(Scope.extend(c.make, scope) as Effect.Effect<EffectCall, unknown>)
    } catch (error) {
      await runPromise(Scope.close(scope, Exit.void))
      throw error
    }
    const body: EffectCall = c.path === "failure" ? () => Effect.exit(call()) : call
    const loops = new Map<number, Effect.Effect<void, unknown>>()
    const loopOf = (ops: number) => {
      let loop = loops.get(ops)
      if (loop === undefined) {
        loop = Effect.suspend(() => {
          let i = 0
          return Effect.whileLoop({ while: () => i < ops, body, step: () => { i++ } })
        })
        loops.set(ops, loop)
      }
      return loop
    }
    return {
      runOps: (ops) => runPromise(loopOf(ops)),
      probe: () => runPromise(Effect.map(Effect.exit(call()), Exit.isFailure)),
      close: () => runPromise(Scope.close(scope, Exit.void))
    }
  }
  const runner = await c.make()
  const call = runner.call
  const runOps = c.path === "failure"
    ? async (ops: number) => {
      for (let i = 0; i < ops; i++) {
        try {
          await call()
        } catch {
          // the failure path: expected
        }
      }
    }
    : async (ops: number) => {
      for (let i = 0; i < ops; i++) await call()
    }
  return {
    runOps,
    probe: () => call().then(() => false, () => true),
    close: async () => {
      await runner.close?.()
    }
  }
}

/** Prepares the case and checks once that a call succeeds (or fails, on the failure path). */
export const prepareChecked = async (c: Case): Promise<Prepared> => {
  const p = await prepare(c)
  try {
    const failed = await p.probe()
    if (failed !== (c.path === "failure")) {
      throw new Error(`${c.name}: expected the call to ${c.path === "failure" ? "fail" : "succeed"}, it did not`)
    }
    return p
  } catch (error) {
    await p.close()
    throw error
  }
}
