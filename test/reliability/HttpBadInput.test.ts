/**
 * Issue 10, "bad input", HTTP part: malformed `Retry-After` headers never
 * yield a negative, NaN or unbounded delay — they are ignored (`None`) or
 * clamped to `max`. (Huge bodies on discarded responses and resets mid-body
 * are not covered yet: see docs/Reliability.md.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import { Errors } from "effect-resilience"
import { RetryAfter } from "effect-resilience/http"

const NOW = Date.UTC(2026, 10, 23, 22, 0, 0)
const HOUR = 3_600_000

const ignored = [
  "-1", "1.5", "abc", "1e3", "", "   ", "NaN", "Infinity", "-Infinity", "0x10", "1,2", "+5", "５", "5 ", "\t",
  "Wed, 32 Oct 2026 07:28:00 GMT", "Mon, 23 Nov 2026 25:61:61 GMT", "Feb 30 2026", "Sun, 06 Nov 1994 08:49:37",
  "tomorrow", "null", "undefined", "[]", "{}"
]

describe("http bad input", () => {
  it("malformed Retry-After values are ignored or clamped, never negative, NaN or past max", () => {
    const problems: Array<string> = []
    for (const value of ignored) {
      const r = RetryAfter.parse(value, NOW)
      if (Option.isSome(r)) {
        const ms = Duration.toMillis(r.value)
        if (!(Number.isFinite(ms) && ms >= 0 && ms <= HOUR)) problems.push(`${JSON.stringify(value)} → ${ms} ms`)
      }
    }
    // "5 " is trimmed to "5": a valid value, kept
    assert.deepStrictEqual(problems, [])
    // huge integers and far-future dates clamp to max; dates in the past are 0
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(RetryAfter.parse("99999999999999999999", NOW))), HOUR)
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(RetryAfter.parse("Fri, 01 Jan 2100 00:00:00 GMT", NOW))), HOUR)
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", NOW))), 0)
    for (const value of ["-1", "abc", "NaN", "", "1.5"]) assert.isTrue(Option.isNone(RetryAfter.parse(value, NOW)), value)
    assert.isTrue(Option.isNone(RetryAfter.parse(null, NOW)))
    assert.isTrue(Option.isNone(RetryAfter.parse(undefined, NOW)))
  })

  it("an invalid `max` is rejected with InvalidOptionsError naming it (was a finding: it turned every Retry-After into 0)", () => {
    for (const max of [-1000, Number.NaN, "-5 seconds", Infinity]) {
      try {
        RetryAfter.parse("120", NOW, max as any)
        assert.fail(`max=${String(max)} accepted`)
      } catch (e) {
        assert.strictEqual((e as Errors.InvalidOptionsError)._tag, "InvalidOptionsError", String(max))
        assert.strictEqual((e as Errors.InvalidOptionsError).option, "max")
      }
    }
  })
})
