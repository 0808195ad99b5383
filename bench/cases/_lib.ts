/**
 * The shape of a benchmark case, shared by every file in `bench/cases/`.
 *
 * Each `bench/cases/<module>.ts` (files starting with `_` are helpers, not
 * case lists) exports `cases: ReadonlyArray<Case>`; `bench/run.ts` discovers
 * the files, so a policy's owner adds a file and nothing else.
 *
 * How a case is measured (see bench/README.md):
 * - `effect` cases give `make`, a scoped Effect that builds the policy once and
 *   returns `call`, a thunk that builds the effect of one call (the policy is
 *   applied per call, as `fetch(id).pipe(policy)` does in an app). The harness
 *   runs `n` calls back to back in ONE fiber (`Effect.whileLoop`) inside one
 *   `Runtime.runPromise`, and mitata times that loop; ns/op = time / n.
 * - `promise` cases (cockatiel, opossum) run `n` awaited calls in one async
 *   function, timed the same way.
 * - Failure-path cases are wrapped in `Effect.exit` (effect) or `try/catch`
 *   (promise), and so is their baseline.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** Which library a case exercises. */
export type Lib = "baseline" | "effect" | "cockatiel" | "opossum" | "ours" | "proto"

/**
 * What the call does: `success` (the work is `Effect.succeed(1)` / an async
 * function returning 1), `async` (the work completes asynchronously, one
 * microtask later: what an I/O call looks like), `failure` (the work fails
 * every time, or the policy rejects).
 */
export type Path = "success" | "async" | "failure"

/**
 * A target from issue 8, checked on the measured figures.
 * - `overhead`: overhead over the baseline ≤ `max` ns.
 * - `ratio`: overhead ≤ `max` × the overhead of case `of` (`max: 1` reads
 *   "cheaper than", `1/3` reads "≤ ⅓ of").
 */
export type Target =
  | { readonly kind: "overhead"; readonly max: number; readonly stretch?: boolean }
  | { readonly kind: "ratio"; readonly of: string; readonly max: number; readonly stretch?: boolean }

/** One call of an Effect case. */
export type EffectCall = () => Effect.Effect<unknown, unknown>

/** One call of a Promise case, plus an optional teardown. */
export interface PromiseRunner {
  readonly call: () => Promise<unknown>
  readonly close?: (() => void | Promise<void>) | undefined
}

interface CaseBase {
  /** Unique; `--filter` matches it (and the group). Prefix with the library. */
  readonly name: string
  /** `baseline`, `retry`, `timeout`, `bulkhead`, `circuit-breaker`, `rate-limiter`, `pipeline`, … */
  readonly group: string
  readonly lib: Lib
  readonly path: Path
  /** Cases whose overhead this one is compared with ("ratio to the peer"). */
  readonly peers?: ReadonlyArray<string> | undefined
  readonly targets?: ReadonlyArray<Target> | undefined
  /** One line for the README/table footnotes. */
  readonly note?: string | undefined
  /** Marks the bare baseline of its kind and path (one per kind × path). */
  readonly isBaseline?: boolean | undefined
  /** Calls per timed sample when the harness cannot calibrate (smoke). */
  readonly smokeOps?: number | undefined
}

/** A case run inside the Effect runtime. */
export interface EffectCase extends CaseBase {
  readonly kind: "effect"
  readonly make: Effect.Effect<EffectCall, unknown, Scope.Scope>
}

/** A case run as plain async JavaScript (the Promise-based peers). */
export interface PromiseCase extends CaseBase {
  readonly kind: "promise"
  readonly make: () => PromiseRunner | Promise<PromiseRunner>
}

/** A benchmark case. */
export type Case = EffectCase | PromiseCase

/** Builds an Effect case whose policy needs no setup. */
export const effectCase = (c: Omit<EffectCase, "kind" | "make"> & { readonly call: EffectCall }): EffectCase => {
  const { call, ...rest } = c
  return { ...rest, kind: "effect", make: Effect.succeed(call) }
}

/** Builds an Effect case whose policy is made by a (scoped) effect. */
export const scopedCase = (c: Omit<EffectCase, "kind">): EffectCase => ({ ...c, kind: "effect" })

/** Builds a Promise case. */
export const promiseCase = (c: Omit<PromiseCase, "kind">): PromiseCase => ({ ...c, kind: "promise" })

// ---------------------------------------------------------------------------
// The work each call does (shared so that every case runs the same thing).

/** The work on the success path: a pre-built `Effect.succeed(1)`. */
export const succeed1: Effect.Effect<number> = Effect.succeed(1)

/**
 * Work that completes asynchronously one microtask later (an I/O call that
 * answers at once): the fiber suspends and is resumed, as it is for real I/O.
 */
export const async1: Effect.Effect<number> = Effect.async<number>((resume) => {
  queueMicrotask(() => resume(succeed1))
})

/** A typed failure, made once (no stack capture per call). */
export class Boom {
  readonly _tag = "Boom"
}
export const boom = new Boom()

/** The work on the failure path: a pre-built `Effect.fail(boom)`. */
export const fail1: Effect.Effect<never, Boom> = Effect.fail(boom)

/** The Promise peers' work: an async function returning 1. */
export const op = async (): Promise<number> => 1

/** The Promise peers' failing work (the error is made once). */
const opError = new Error("boom")
export const opFail = async (): Promise<number> => {
  throw opError
}

// ---------------------------------------------------------------------------
// Modules of src/ that may not exist yet.

/**
 * Imports `src/<name>.ts` if it exists, `undefined` otherwise. Policies being
 * written right now (Bulkhead, CircuitBreaker, RateLimiter) are benchmarked
 * only once they land; the specifier is computed so that the type check does
 * not depend on their presence either. A module that exists but fails to load
 * is an error (the harness reports it), not a silent skip.
 */
export const optionalModule = async (name: string): Promise<any> => {
  // `.ts` under tsx; `.js` when the harness runs its transpiled copy
  const exists = [".ts", ".js"].some((ext) => existsSync(fileURLToPath(new URL(`../../src/${name}${ext}`, import.meta.url))))
  if (!exists) return undefined
  const specifier = `../../src/${name}.js`
  return await import(specifier)
}
