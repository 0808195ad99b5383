/**
 * The trip policies' sliding windows against naive references that keep
 * every call: same counts, same trip decision, after every call, over random
 * sequences of outcomes and time steps.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import * as Windows from "../src/internal/circuitBreaker/windows.js"
import { numRuns } from "./utils/props.js"

interface Call {
  readonly failure: boolean
  readonly slow: boolean
  readonly at: number
}

const EPSILON = 1e-9
const reaches = (n: number, calls: number, threshold: number) => n > 0 && n / calls + EPSILON >= threshold

const callArb = fc.record({
  failure: fc.boolean(),
  slow: fc.boolean(),
  advance: fc.constantFrom(0, 0, 1, 7, 99, 100, 250, 999, 5000)
})

/** The failures in a row at the end of `seen`. */
const inARow = (seen: ReadonlyArray<Call>) => {
  let run = 0
  for (let i = seen.length - 1; i >= 0 && seen[i]!.failure; i--) run++
  return run
}

describe("CircuitBreaker windows", () => {
  it.effect.prop(
    "rate: the last `size` calls, evaluated from minimumCalls on",
    [
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 12 }),
      fc.constantFrom(0.2, 0.5, 1),
      fc.option(fc.constantFrom(0.3, 1), { nil: undefined }),
      fc.array(callArb, { maxLength: 60 })
    ],
    ([size, min, threshold, slowThreshold, calls]) =>
      Effect.sync(() => {
        const minimumCalls = Math.min(min, size)
        const window = Windows.make({ trip: { _tag: "Rate", threshold, size, minimumCalls }, slowCallThreshold: slowThreshold })
        const seen: Array<Call> = []
        let now = 0
        for (const call of calls) {
          now += call.advance
          seen.push({ ...call, at: now })
          const tripped = window.add(call.failure, call.slow, now)
          const last = seen.slice(-size)
          const failures = last.filter((c) => c.failure).length
          const slows = last.filter((c) => c.slow).length
          const expected = last.length >= minimumCalls &&
            (reaches(failures, last.length, threshold) ||
              (slowThreshold !== undefined && reaches(slows, last.length, slowThreshold)))
          assert.strictEqual(tripped, expected)
          const stats = window.stats(now)
          assert.deepStrictEqual([stats.calls, stats.failures, stats.slowCalls], [last.length, failures, slows])
        }
      }),
    { fastCheck: { numRuns: numRuns(200) } }
  )

  it.effect.prop(
    "timeRate with slowCall: calls, failures, slow calls and failures in a row of the last window; both rates trip",
    [
      fc.constantFrom(100, 1000, 3000),
      fc.constantFrom(1, 2, 5, 10),
      fc.integer({ min: 1, max: 8 }),
      fc.constantFrom(0.25, 0.5, 1),
      // without slowCall in half the runs
      fc.option(fc.constantFrom(0.3, 0.5, 1), { nil: undefined, freq: 2 }),
      fc.array(callArb, { maxLength: 80 })
    ],
    ([windowMillis, buckets, minimumCalls, threshold, slowThreshold, calls]) =>
      Effect.sync(() => {
        const window = Windows.make({
          trip: { _tag: "TimeRate", threshold, window: windowMillis, buckets, minimumCalls },
          slowCallThreshold: slowThreshold
        })
        const width = windowMillis / buckets
        const seen: Array<Call> = []
        let now = 0
        for (const call of calls) {
          now += call.advance
          seen.push({ ...call, at: now })
          const tripped = window.add(call.failure, call.slow, now)
          const slot = Math.floor(now / width)
          const inWindow = seen.filter((c) => Math.floor(c.at / width) > slot - buckets)
          const failures = inWindow.filter((c) => c.failure).length
          const slows = inWindow.filter((c) => c.slow).length
          const expected = inWindow.length >= minimumCalls &&
            (reaches(failures, inWindow.length, threshold) ||
              (slowThreshold !== undefined && reaches(slows, inWindow.length, slowThreshold)))
          assert.strictEqual(tripped, expected)
          const stats = window.stats(now)
          assert.strictEqual(
            `${stats.calls} ${stats.failures} ${stats.slowCalls} ${stats.consecutiveFailures}`,
            `${inWindow.length} ${failures} ${slows} ${inARow(seen)}`
          )
        }
      }),
    { fastCheck: { numRuns: numRuns(200) } }
  )

  it.effect.prop(
    "consecutive: failures in a row; the slow-call rate over the last n calls",
    [fc.integer({ min: 1, max: 6 }), fc.constantFrom(0.5, 1), fc.array(callArb, { maxLength: 40 })],
    ([n, slowThreshold, calls]) =>
      Effect.sync(() => {
        const window = Windows.make({ trip: { _tag: "Consecutive", failures: n }, slowCallThreshold: slowThreshold })
        const seen: Array<Call> = []
        for (const call of calls) {
          seen.push({ ...call, at: 0 })
          const tripped = window.add(call.failure, call.slow, 0)
          let run = 0
          for (let i = seen.length - 1; i >= 0 && seen[i]!.failure; i--) run++
          const last = seen.slice(-n)
          const slows = last.filter((c) => c.slow).length
          assert.strictEqual(tripped, run >= n || (last.length >= n && reaches(slows, last.length, slowThreshold)))
        }
      }),
    { fastCheck: { numRuns: numRuns(200) } }
  )

  it.effect.prop(
    "rate and consecutive: the failures in a row and, for consecutive, the calls it measures",
    [fc.integer({ min: 1, max: 6 }), fc.option(fc.constantFrom(0.5, 1), { nil: undefined }), fc.array(callArb, { maxLength: 40 })],
    ([n, slowThreshold, calls]) =>
      Effect.sync(() => {
        const rate = Windows.make({ trip: { _tag: "Rate", threshold: 1, size: n, minimumCalls: n }, slowCallThreshold: slowThreshold })
        const consecutive = Windows.make({ trip: { _tag: "Consecutive", failures: n }, slowCallThreshold: slowThreshold })
        const seen: Array<Call> = []
        for (const call of calls) {
          seen.push({ ...call, at: 0 })
          rate.add(call.failure, call.slow, 0)
          consecutive.add(call.failure, call.slow, 0)
          const run = inARow(seen)
          const last = seen.slice(-n)
          assert.strictEqual(rate.stats(0).consecutiveFailures, run)
          const stats = consecutive.stats(0)
          // without slowCall the window is the run of failures; with it, the last n calls
          assert.strictEqual(
            `${stats.calls} ${stats.failures} ${stats.consecutiveFailures}`,
            `${slowThreshold === undefined ? run : last.length} ${run} ${run}`
          )
          if (slowThreshold !== undefined) assert.strictEqual(stats.slowCalls, last.filter((c) => c.slow).length)
        }
      }),
    { fastCheck: { numRuns: numRuns(50) } }
  )
})
