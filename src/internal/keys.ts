/**
 * The one key mechanism of every keyed API (keyed circuit breakers and
 * bulkheads, rate limiter keys, idempotency keys, stale-if-error keys, the
 * HTTP client's per-origin state) and of the stores behind them:
 *
 * - **Validation** ({@link check}): a key is a `string`, well-formed Unicode
 *   (`String.prototype.isWellFormed`: a lone surrogate becomes U+FFFD in
 *   UTF-8, so two distinct keys would share one record in Redis), and at most
 *   `maxKeyLength` UTF-16 code units — 1,024 by default, configurable per
 *   policy up to 16,383, below V8's hashing limit (V8 hashes longer strings by
 *   their length alone, so equal-length long keys turn every `Map` lookup
 *   into a scan). Longer keys are refused, not digested. Anything else fails
 *   with `InvalidKeyError` before the policy admits the call.
 * - **Namespacing** ({@link namespaced}): the store key of a policy's key is
 *   `<name.length>:<name>:<key>`, and of a call without a key
 *   `<name.length>:<name>` — length-prefixed, so that no two (name, key)
 *   pairs, keyed or not, give the same string (policy `orders` with key
 *   `refund:42` is `6:orders:refund:42`, policy `orders:refund` with key `42`
 *   is `13:orders:refund:42`). It is the shape the Redis breaker store has
 *   always used for its circuits.
 *
 * With keys bounded, a store bounded by a count of keys is bounded in key
 * bytes: at most `maxKeys × maxKeyLength × 2` bytes of key strings.
 *
 * @internal
 */
import { InvalidKeyError } from "./errors.js"
import * as Spec from "./spec.js"

/** The default `maxKeyLength`: 1,024 UTF-16 code units. @internal */
export const DEFAULT_MAX_KEY_LENGTH = 1_024

/**
 * The largest `maxKeyLength` a policy accepts: V8 hashes a string of more
 * than 16,383 characters by its length only. @internal
 */
export const MAX_KEY_LENGTH_LIMIT = 16_383

/** How many UTF-16 code units of a refused key its error shows. @internal */
export const PREVIEW_LENGTH = 40

/** What a keyed policy knows to check its keys. @internal */
export interface KeyPolicy {
  /** `"CircuitBreaker"`, `"Bulkhead"`, `"RateLimiter"`, `"Idempotency"`, `"StaleIfError"`. */
  readonly kind: string
  readonly name: string
  readonly maxKeyLength: number
}

// lib ES2022 does not type them; Node 20 has both
interface WellFormed {
  isWellFormed(): boolean
  toWellFormed(): string
}

/** True for a string that is well-formed Unicode (no lone surrogate). @internal */
export const isWellFormed = (s: string): boolean => (s as unknown as WellFormed).isWellFormed()

const typeName = (u: unknown): string => u === null ? "null" : Array.isArray(u) ? "array" : typeof u

/** The error for a key that {@link check} refused. @internal */
export const refuse = (policy: KeyPolicy, key: unknown): InvalidKeyError => {
  const policyId = { kind: policy.kind, name: policy.name }
  if (typeof key !== "string") {
    return InvalidKeyError.make({ policy: policyId, reason: "NotAString", preview: typeName(key), maxKeyLength: policy.maxKeyLength })
  }
  const preview = (key.slice(0, PREVIEW_LENGTH) as unknown as WellFormed).toWellFormed()
  return InvalidKeyError.make({
    policy: policyId,
    reason: key.length > policy.maxKeyLength ? "TooLong" : "NotWellFormed",
    preview,
    length: key.length,
    maxKeyLength: policy.maxKeyLength
  })
}

/** True when `key` is a key `policy` accepts. @internal */
export const isValid = (policy: KeyPolicy, key: unknown): key is string =>
  typeof key === "string" && key.length <= policy.maxKeyLength && isWellFormed(key)

/**
 * `undefined` when `policy` accepts `key`, else the error to fail with
 * (length is checked before well-formedness: a huge key is never scanned).
 * @internal
 */
export const check = (policy: KeyPolicy, key: unknown): InvalidKeyError | undefined =>
  isValid(policy, key) ? undefined : refuse(policy, key)

/**
 * The store key of `key` under the policy `name`, or of a call without a key
 * (`key` undefined): `<name.length>:<name>:<key>` and `<name.length>:<name>`.
 * Injective over (name, key | undefined).
 * @internal
 */
export const namespaced = (name: string, key: string | undefined): string =>
  key === undefined ? `${name.length}:${name}` : `${name.length}:${name}:${key}`

/** The `maxKeyLength` option of every keyed policy and store. @internal */
export const maxKeyLengthField = Spec.integer({ min: 1, max: MAX_KEY_LENGTH_LIMIT }).default(DEFAULT_MAX_KEY_LENGTH)

/**
 * Validates a `maxKeyLength` option (an integer in [1, 16,383]; defaults to
 * 1,024); throws `InvalidOptionsError`.
 * @internal
 */
export const maxKeyLengthOption = (module: string, value: unknown): number =>
  value === undefined ? DEFAULT_MAX_KEY_LENGTH : maxKeyLengthField.props.parse(module, "maxKeyLength", value)
