/**
 * Parsing of the HTTP `Retry-After` header, in both of its forms
 * (RFC 9110 §10.2.3): a number of seconds, or an HTTP-date.
 *
 * Parsing is strict, because a lax parser turns garbage into dates
 * (`Date.parse("abc 5")` is a date in 2001): seconds are digits only, and
 * dates must be one of the three HTTP-date formats, in GMT. Anything else is
 * ignored (`None`), and every value is capped, so a hostile or broken server
 * cannot park a caller for days.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as internal from "./internal/retryAfter/retryAfter.js"

/**
 * Parses an HTTP-date (IMF-fixdate, RFC 850 or asctime) to epoch
 * milliseconds; `None` for anything else. A two-digit RFC 850 year more than
 * 50 years after `now`'s is taken in the previous century (RFC 9110).
 *
 * @example
 * ```ts
 * import { RetryAfter } from "effect-resilience/http"
 *
 * RetryAfter.parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", 0) // Some(784111777000)
 * RetryAfter.parseHttpDate("Mon 2020", 0) // None
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const parseHttpDate: (value: string, now: number) => Option.Option<number> = internal.parseHttpDate

/**
 * Parses a `Retry-After` header value: either a number of seconds
 * (`"120"`) or an HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`), relative to
 * `now` (epoch millis, from `Clock`). Garbage (negative or fractional
 * numbers, other text, dates in another format or time zone) gives `None`;
 * dates in the past give zero; everything is capped at `max` (default
 * 1 hour), so a far-future value cannot park a caller for days. An invalid
 * `max` (negative, NaN, infinite) throws `InvalidOptionsError`.
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
export const parse: (
  value: string | null | undefined,
  now: number,
  max?: Duration.DurationInput
) => Option.Option<Duration.Duration> = internal.parse

/**
 * Reads `Retry-After` from response headers (lower-cased keys, as
 * `@effect/platform` gives them) relative to the `Clock`'s time.
 *
 * @example
 * ```ts
 * import { RetryAfter } from "effect-resilience/http"
 * import { Effect } from "effect"
 *
 * const wait = RetryAfter.fromHeaders({ "retry-after": "2" }) // Effect<Option<Duration>>
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const fromHeaders: (
  headers: Readonly<Record<string, string | undefined>>,
  max?: Duration.DurationInput
) => Effect.Effect<Option.Option<Duration.Duration>> = internal.fromHeaders
