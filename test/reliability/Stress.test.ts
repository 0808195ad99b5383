/**
 * Issue 10, "stress under random interruption": STRESS_N calls (default
 * 10,000; `npm run soak` runs 100,000) through the whole pipeline with
 * seeded random failures, latencies, outages and interruptions, on a fake
 * clock (./stress.ts `VirtualClock`), and a smaller run on Effect's TestClock.
 * See ./stress.ts for the scenario.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { runStress, type StressResult } from "./stress.js"

const N = Number(process.env.STRESS_N ?? 10_000)
/** Under Effect's own TestClock every wake costs a real setTimeout: kept small. */
const N_TEST_CLOCK = Number(process.env.STRESS_N_TEST_CLOCK ?? 150)
const SEED = Number(process.env.STRESS_SEED ?? 20261123)

const ALLOWED = new Set([
  "success",
  "interrupted",
  "DependencyError",
  "TimeoutError",
  "BulkheadFullError",
  "CircuitBreakerError",
  "RateLimitExceededError"
])

describe("stress", () => {
  const check = (r: StressResult, n: number, options: { readonly coverage: boolean }) => {
    const summary = JSON.stringify(r)
    // every call completed exactly once, with a success or a typed error (or the interruption we sent)
    assert.strictEqual(r.notExactlyOnce, 0, summary)
    assert.strictEqual(Object.values(r.outcomes).reduce((a, b) => a + b, 0), n, summary)
    for (const kind of Object.keys(r.outcomes)) assert.isTrue(ALLOWED.has(kind), `unexpected outcome ${kind}: ${summary}`)
    assert.strictEqual(r.unexpectedInterruptions, 0, summary)
    // nothing held, nothing queued, nothing still running
    assert.deepStrictEqual(r.bulkhead, { active: 0, queued: 0 }, summary)
    assert.strictEqual(r.dependencyInFlight, 0, summary)
    assert.strictEqual(r.fibersLeft, 0, summary)
    // half-open never admitted more than its probes at once
    assert.isAtMost(r.maxConcurrentHalfOpen, r.probes, summary)
    if (options.coverage) {
      // the scenario really exercised every path (not a vacuous pass)
      assert.isAbove(r.breakerOpenings, 0, summary)
      assert.isAbove(r.halfOpenAdmissions, 0, summary)
      for (const kind of ["success", "interrupted", "DependencyError", "TimeoutError", "CircuitBreakerError", "BulkheadFullError"]) {
        assert.isAbove(r.outcomes[kind] ?? 0, 0, `no ${kind}: ${summary}`)
      }
    }
    if (process.env.STRESS_VERBOSE) console.log(summary)
  }

  it.scoped(`${N} calls through limiter + timeout + bulkhead + breaker + retry + attempt timeout, randomly interrupted`, () =>
    Effect.gen(function*() {
      check(yield* runStress({ n: N, seed: SEED }), N, { coverage: N >= 2_000 })
    }))

  it.scoped(`${N_TEST_CLOCK} calls, same scenario, on Effect's TestClock`, () =>
    Effect.gen(function*() {
      check(yield* runStress({ n: N_TEST_CLOCK, seed: SEED, clock: "test" }), N_TEST_CLOCK, { coverage: false })
    }))

  it.scoped("the same seed gives the same outcomes", () =>
    Effect.gen(function*() {
      const a = yield* runStress({ n: 1_000, seed: 7 })
      const b = yield* runStress({ n: 1_000, seed: 7 })
      assert.deepStrictEqual(a.outcomes, b.outcomes)
    }))
})
