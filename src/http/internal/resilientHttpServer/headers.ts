/**
 * The header fields the server middleware writes and reads:
 *
 * - `RateLimit-Policy` and `RateLimit`, as draft-ietf-httpapi-ratelimit-headers-10
 *   defines them: Structured Field Lists (RFC 9651) of Items whose value is
 *   the policy's name as an SF String, with Integer parameters —
 *   `"default";q=100;w=60` (quota `q`, window `w` in seconds) and
 *   `"default";r=99;t=1` (remaining `r`, reset `t` in seconds). A response
 *   may carry several items (one per policy): each middleware appends its
 *   own item to the list already there.
 * - The deadline header: a relative duration in whole milliseconds (a
 *   non-negative integer of at most 15 digits); anything else is ignored.
 *
 * @internal
 */
import type * as Headers from "@effect/platform/Headers"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { secondsOf } from "./errors.js"

/** The name of the quota policy field (lower case, as `@effect/platform` keeps header names). @internal */
export const RATE_LIMIT_POLICY = "ratelimit-policy"

/** The name of the service limit field. @internal */
export const RATE_LIMIT = "ratelimit"

/** The largest SF Integer (RFC 9651: at most 15 digits). @internal */
export const MAX_SF_INTEGER = 999_999_999_999_999

/** Characters an SF String may hold: printable ASCII (0x20-0x7E). @internal */
export const isSfStringSafe = (s: string): boolean => /^[\x20-\x7e]*$/.test(s)

/** An SF String: quoted, with `\` and `"` escaped (RFC 9651 §4.1.6). @internal */
export const sfString = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`

/** An SF Integer: a whole number, clamped to the SF range. */
const sfInteger = (n: number): string => String(Math.min(MAX_SF_INTEGER, Math.max(0, Math.floor(n))))

/**
 * A Quota Policy Item: `"<name>";q=<limit>;w=<seconds>`. `w` must be a whole
 * number of seconds > 0 (the draft has no sub-second windows): a window that
 * is not one is left out (the parameter is optional).
 *
 * @internal
 */
export const policyItem = (name: string, quota: number, windowMillis: number): string => {
  const w = windowMillis >= 1000 && windowMillis % 1000 === 0 ? `;w=${sfInteger(windowMillis / 1000)}` : ""
  return `${sfString(name)};q=${sfInteger(quota)}${w}`
}

/**
 * A Service Limit Item: `"<name>";r=<remaining>;t=<seconds>` (`t` rounded up
 * to whole seconds; left out when the store cannot tell when quota comes back).
 *
 * @internal
 */
export const limitItem = (name: string, remaining: number, resetMillis: number | undefined): string =>
  `${sfString(name)};r=${sfInteger(remaining)}${resetMillis === undefined ? "" : `;t=${secondsOf(resetMillis)}`}`

/** Adds `item` to the SF List in header `name` (after the items already there). */
const appendItem = (headers: Headers.Headers, name: string, item: string): string => {
  const existing = headers[name]
  return existing === undefined || existing === "" ? item : `${existing}, ${item}`
}

/**
 * `response` with the rate limit fields: `policy` appended to
 * `RateLimit-Policy`, `limit` (when given) to `RateLimit`.
 *
 * @internal
 */
export const withRateLimitHeaders = (
  response: HttpServerResponse.HttpServerResponse,
  policy: string,
  limit: string | undefined
): HttpServerResponse.HttpServerResponse => {
  const headers: Record<string, string> = { [RATE_LIMIT_POLICY]: appendItem(response.headers, RATE_LIMIT_POLICY, policy) }
  if (limit !== undefined) headers[RATE_LIMIT] = appendItem(response.headers, RATE_LIMIT, limit)
  return HttpServerResponse.setHeaders(response, headers)
}

/**
 * A deadline header's value in milliseconds: a non-negative integer of at
 * most 15 digits (surrounding whitespace allowed); `undefined` for anything
 * else (absent, empty, negative, fractional, with a unit, several values).
 *
 * @internal
 */
export const parseDeadline = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const match = /^[ \t]*(\d{1,15})[ \t]*$/.exec(value)
  return match === null ? undefined : Number(match[1])
}

/** True for a valid header field name (an RFC 9110 token). @internal */
export const isHeaderName = (s: string): boolean => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(s)
