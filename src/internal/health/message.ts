/**
 * Bounded, secret-free messages for health reports: an error shown on a
 * `/health` endpoint must not leak what the failing request carried (tokens
 * in query strings, credentials in URLs, `Authorization` headers, cookies,
 * JWTs) and must not grow without bound.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Predicate from "effect/Predicate"

/** @internal */
export const DEFAULT_MAX_MESSAGE_LENGTH = 200

const REDACTED = "[redacted]"

// scheme://userinfo@host/path?query#fragment → scheme://host/path (query and fragment dropped)
const URL_PATTERN = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*@)?([^\s/?#]*)([^\s?#]*)(\?[^\s#]*)?(#\S*)?/gi
const AUTH_SCHEME_PATTERN = /\b(Bearer|Basic|Digest|Token|ApiKey|Negotiate)\s+[A-Za-z0-9._~+/=-]+/gi
const COOKIE_PATTERN = /\b(set-cookie|cookie)\s*[:=]\s*(?:[^\s;=]+=[^\s;]*(?:;\s*)?)+/gi
const SECRET_PAIR_PATTERN =
  /\b([\w-]*(?:token|secret|password|passwd|pwd|api[_-]?key|apikey|access[_-]?key|authorization|auth|session|signature|sig|credential|private[_-]?key)s?)(["']?\s*[=:]\s*)(?!(?:Bearer|Basic|Digest|Token|ApiKey|Negotiate)\s|\[redacted\])("[^"]*"|'[^']*'|[^\s&,;)}\]]+)/gi
const JWT_PATTERN = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g
const CONTROL_PATTERN = /[\u0000-\u001f\u007f]+/g

/**
 * Removes secrets from `text` and bounds it to `maxLength` characters.
 *
 * @internal
 */
export const sanitize = (text: string, maxLength: number = DEFAULT_MAX_MESSAGE_LENGTH): string => {
  // bound the work first: a huge message is cut before the regexes run
  let s = text.length > maxLength * 8 ? text.slice(0, maxLength * 8) : text
  s = s
    .replace(CONTROL_PATTERN, " ")
    .replace(URL_PATTERN, (_m, scheme: string, _user, host: string, path: string, query: string | undefined) =>
      `${scheme}${host}${path}${query === undefined ? "" : "?…"}`)
    .replace(COOKIE_PATTERN, (_m, name: string) => `${name}: ${REDACTED}`)
    .replace(AUTH_SCHEME_PATTERN, (_m, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(SECRET_PAIR_PATTERN, (_m, name: string, sep: string) => `${name}${sep}${REDACTED}`)
    .replace(JWT_PATTERN, REDACTED)
    .replace(/\s+/g, " ")
    .trim()
  if (s.length > maxLength) s = s.slice(0, Math.max(0, maxLength - 1)) + "…"
  return s
}

/**
 * A short description of an error, cause or value, before sanitizing: the
 * tag and message of an error, the squashed failure of a `Cause`.
 *
 * @internal
 */
export const describeError = (u: unknown): string => {
  if (Cause.isCause(u)) {
    if (Cause.isInterruptedOnly(u)) return "interrupted"
    return describeError(Cause.squash(u))
  }
  // Stryker disable next-line StringLiteral: equivalent: without this fast path a string reaches `typeof u !== "object"` below and String(u) returns it unchanged
  if (typeof u === "string") return u
  if (u === null || u === undefined) return String(u)
  if (typeof u !== "object") return String(u)
  const tag = Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" ? u._tag : undefined
  const message = Predicate.hasProperty(u, "message") && typeof u.message === "string" ? u.message : undefined
  if (message !== undefined && message.length > 0) {
    return tag !== undefined && !message.startsWith(tag) ? `${tag}: ${message}` : message
  }
  if (tag !== undefined) return tag
  if (u instanceof Error) return u.name
  return "error"
}

/**
 * {@link describeError}, then {@link sanitize}.
 *
 * @internal
 */
export const errorMessage = (u: unknown, maxLength: number = DEFAULT_MAX_MESSAGE_LENGTH): string =>
  sanitize(describeError(u), maxLength)
