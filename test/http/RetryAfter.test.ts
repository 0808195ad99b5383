import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, FastCheck, Option, TestClock } from "effect"
import { RetryAfter } from "effect-resilience/http"
import { numRuns } from "../utils/props.js"

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0) // Tue, 01 Jan 2030 12:00:00 GMT

const millis = (o: Option.Option<Duration.Duration>) => Option.map(o, Duration.toMillis)

describe("RetryAfter.parse", () => {
  it("seconds: digits only, whitespace trimmed, capped", () => {
    assert.deepStrictEqual(millis(RetryAfter.parse("0", NOW)), Option.some(0))
    assert.deepStrictEqual(millis(RetryAfter.parse("3", NOW)), Option.some(3000))
    assert.deepStrictEqual(millis(RetryAfter.parse("  120 ", NOW)), Option.some(120_000))
    assert.deepStrictEqual(millis(RetryAfter.parse("007", NOW)), Option.some(7000))
    assert.deepStrictEqual(millis(RetryAfter.parse("86400", NOW)), Option.some(3_600_000), "capped at 1 hour by default")
    assert.deepStrictEqual(millis(RetryAfter.parse("86400", NOW, "30 seconds")), Option.some(30_000))
    assert.deepStrictEqual(millis(RetryAfter.parse("99999999999999999999999", NOW)), Option.some(3_600_000), "not a safe integer: the cap")
  })

  it("garbage is ignored", () => {
    for (const garbage of [null, undefined, "", "   ", "-5", "+5", "1.5", "1e3", "0x10", "soon", "5 seconds", "Infinity", "NaN", "abc 5", "Mon 2020", "Jan", "2030-01-01T12:00:05Z", "Tue, 01 Jan 2030 12:00:05 +0200", "Tue, 01 Jan 2030 12:00:05", "Tue, 31 Feb 2030 12:00:05 GMT", "Tue, 01 Jan 2030 25:00:00 GMT"]) {
      assert.isTrue(Option.isNone(RetryAfter.parse(garbage, NOW)), JSON.stringify(garbage))
    }
  })

  it("HTTP-dates in the three formats, relative to now; past dates give zero; far future is capped", () => {
    assert.deepStrictEqual(millis(RetryAfter.parse("Tue, 01 Jan 2030 12:00:05 GMT", NOW)), Option.some(5000))
    assert.deepStrictEqual(millis(RetryAfter.parse("Tuesday, 01-Jan-30 12:00:05 GMT", NOW)), Option.some(5000))
    assert.deepStrictEqual(millis(RetryAfter.parse("Tue Jan  1 12:00:05 2030", NOW)), Option.some(5000))
    assert.deepStrictEqual(millis(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", NOW)), Option.some(0))
    assert.deepStrictEqual(millis(RetryAfter.parse("Fri, 31 Dec 9999 23:59:59 GMT", NOW)), Option.some(3_600_000))
  })

  it("RFC 850 two-digit years: more than 50 years ahead means the previous century", () => {
    assert.deepStrictEqual(RetryAfter.parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", NOW), Option.some(Date.UTC(1994, 10, 6, 8, 49, 37)))
    assert.deepStrictEqual(RetryAfter.parseHttpDate("Thursday, 01-Jan-70 00:00:00 GMT", NOW), Option.some(Date.UTC(2070, 0, 1)))
  })

  it("never negative, never above the cap, for any input", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.string(), FastCheck.integer({ min: 0, max: 4_000_000_000_000 }), (value, now) => {
        const result = RetryAfter.parse(value, now, "1 minute")
        return Option.isNone(result) || (Duration.toMillis(result.value) >= 0 && Duration.toMillis(result.value) <= 60_000)
      }),
      { numRuns: numRuns(500) }
    )
  })

  it.effect("fromHeaders reads the Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const hint = yield* RetryAfter.fromHeaders({ "retry-after": "Tue, 01 Jan 2030 12:00:30 GMT" })
      assert.deepStrictEqual(millis(hint), Option.some(30_000))
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(millis(yield* RetryAfter.fromHeaders({ "retry-after": "Tue, 01 Jan 2030 12:00:30 GMT" })), Option.some(20_000))
      assert.isTrue(Option.isNone(yield* RetryAfter.fromHeaders({})))
    }))
})
