/**
 * Parsing of the HTTP `Retry-After` header (RFC 9110 §10.2.3): strict, capped.
 * See `RetryAfter.ts` for the contract.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Spec from "../../../internal/spec.js"

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
const MONTH = `(${MONTHS.join("|")})`
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})"
// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC_850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
// Sun Nov  6 08:49:37 1994
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`)

const utc = (
  year: number,
  month: string,
  day: string,
  hours: string,
  minutes: string,
  seconds: string
): number | undefined => {
  const m = MONTHS.indexOf(month)
  const d = Number(day)
  const h = Number(hours)
  const min = Number(minutes)
  const s = Number(seconds)
  if (d < 1 || d > 31 || h > 23 || min > 59 || s > 60) return undefined
  const at = Date.UTC(year, m, d, h, min, Math.min(s, 59))
  // reject dates that roll over (31 Feb)
  return new Date(at).getUTCDate() === d ? at : undefined
}

/** @internal */
export const parseHttpDate = (value: string, now: number): Option.Option<number> => {
  let match = IMF_FIXDATE.exec(value)
  if (match !== null) {
    const [, day, month, year, h, m, s] = match
    return Option.fromNullable(utc(Number(year), month!, day!, h!, m!, s!))
  }
  match = RFC_850.exec(value)
  if (match !== null) {
    const [, day, month, yy, h, m, s] = match
    const currentYear = new Date(now).getUTCFullYear()
    let year = Math.floor(currentYear / 100) * 100 + Number(yy)
    if (year > currentYear + 50) year -= 100
    return Option.fromNullable(utc(year, month!, day!, h!, m!, s!))
  }
  match = ASCTIME.exec(value)
  if (match !== null) {
    const [, month, day, h, m, s, year] = match
    return Option.fromNullable(utc(Number(year), month!, day!.trim(), h!, m!, s!))
  }
  return Option.none()
}

/** The longest hint taken, by default. @internal */
export const DEFAULT_MAX = Duration.hours(1)

/** `parse`'s `max`: a finite duration >= 0 (one hour by default). */
const maxField = Spec.millis({ allowZero: true }).default(DEFAULT_MAX)

/** @internal */
export const parse = (
  value: string | null | undefined,
  now: number,
  max?: Duration.DurationInput
): Option.Option<Duration.Duration> => {
  if (value === null || value === undefined) return Option.none()
  const trimmed = value.trim()
  if (trimmed.length === 0) return Option.none()
  const maxMillis = max === undefined
    ? maxField.defaultValue("RetryAfter.parse", "max")
    : maxField.props.parse("RetryAfter.parse", "max", max)
  if (/^\d+$/.test(trimmed)) {
    const seconds = Number(trimmed)
    if (!Number.isSafeInteger(seconds)) return Option.some(Duration.millis(maxMillis))
    return Option.some(Duration.millis(Math.min(seconds * 1000, maxMillis)))
  }
  return Option.map(
    parseHttpDate(trimmed, now),
    (at) => Duration.millis(Math.min(Math.max(0, at - now), maxMillis))
  )
}

/** @internal */
export const fromHeaders = (
  headers: Readonly<Record<string, string | undefined>>,
  max?: Duration.DurationInput
): Effect.Effect<Option.Option<Duration.Duration>> =>
  Effect.map(Clock.currentTimeMillis, (now) => parse(headers["retry-after"], now, max))
