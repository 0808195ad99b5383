/**
 * Parsing of the HTTP `Retry-After` header, in both of its forms.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/**
 * Parses a `Retry-After` header value: either a number of seconds
 * (`"120"`) or an HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`), relative to
 * `now` (epoch millis, from `Clock`). Garbage (negative, fractional noise,
 * non-numeric, unparseable dates) gives `None`; dates in the past give zero;
 * everything is capped at `max` (default 1 hour), so a far-future value
 * cannot park a caller for days.
 *
 * @example
 * ```ts
 * import { RetryAfter } from "effect-resilience/http"
 *
 * RetryAfter.parse("3", 0) // Some(3 seconds)
 * RetryAfter.parse("soon", 0) // None
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const parse = (
  value: string | null | undefined,
  now: number,
  max: Duration.DurationInput = "1 hour"
): Option.Option<Duration.Duration> => {
  if (value === null || value === undefined) return Option.none()
  const trimmed = value.trim()
  if (trimmed.length === 0) return Option.none()
  const maxMillis = Duration.toMillis(Duration.decode(max))
  if (/^\d+$/.test(trimmed)) {
    const seconds = Number(trimmed)
    if (!Number.isSafeInteger(seconds)) return Option.some(Duration.millis(maxMillis))
    return Option.some(Duration.millis(Math.min(seconds * 1000, maxMillis)))
  }
  // HTTP-date (IMF-fixdate, RFC 850 or asctime); must name a weekday or month to avoid numeric garbage
  if (!/[A-Za-z]{3}/.test(trimmed)) return Option.none()
  const at = Date.parse(trimmed)
  if (Number.isNaN(at)) return Option.none()
  return Option.some(Duration.millis(Math.min(Math.max(0, at - now), maxMillis)))
}
