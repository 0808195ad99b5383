/**
 * Helpers shared by the error classes and the policies that build them; not
 * part of the package's API.
 *
 * @internal
 */
import * as Duration from "effect/Duration"

/**
 * Builds an error without capturing a stack trace. Rejections are created on
 * hot paths (every call against an open circuit or a full bulkhead), and a
 * stack capture costs microseconds; a rejection's stack says nothing useful.
 *
 * @internal
 */
export const withoutStack = <A>(f: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return f()
  } finally {
    Error.stackTraceLimit = limit
  }
}

/**
 * A value as shown in an error message: JSON where it has one (cut at 200
 * characters), `String(value)` otherwise; numbers and durations as written.
 *
 * @internal
 */
export const showValue = (value: unknown): string => {
  // NaN and ±Infinity, which JSON would show as null
  if (typeof value === "number") return String(value)
  if (Duration.isDuration(value)) return Duration.format(value)
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch {
    return String(value) // bigint, circular structures
  }
  // undefined, functions and symbols have no JSON
  if (json === undefined) return String(value)
  return json.length > 200 ? json.slice(0, 200) + "…" : json
}
