/**
 * Property tests are deterministic: every fast-check run uses one fixed seed
 * (override with FC_SEED to explore). effect/FastCheck (what @effect/vitest's
 * `it.prop` uses) and the fast-check package may be different copies, so both
 * are configured.
 */
import { Either, Exit, FastCheck, Option } from "effect"
import * as fc from "fast-check"
import { assert } from "vitest"

const seed = Number(process.env.FC_SEED ?? 20261123)
FastCheck.configureGlobal({ ...FastCheck.readConfigureGlobal(), seed })
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed })

/**
 * `assert.deepStrictEqual` (chai's deep-eql) compares iterables by their entries, and Effect's
 * `Option`, `Either` and `Exit` are iterable (for `yield*`) with a single opaque entry: without
 * this, `deepStrictEqual(Option.some(1), Option.none())` passes. Both sides are rewritten to
 * plain tagged objects first, at any depth, so those comparisons mean what they say.
 */
const plain = (u: unknown, seen: Set<unknown>): unknown => {
  if (u === null || typeof u !== "object") return u
  if (seen.has(u)) return u
  if (Option.isOption(u)) return Option.isSome(u) ? { _tag: "Some", value: plain(u.value, seen) } : { _tag: "None" }
  if (Either.isEither(u)) {
    return Either.isRight(u) ? { _tag: "Right", right: plain(u.right, seen) } : { _tag: "Left", left: plain(u.left, seen) }
  }
  if (Exit.isExit(u)) return Exit.isSuccess(u) ? { _tag: "Success", value: plain(u.value, seen) } : { _tag: "Failure", cause: u.cause }
  seen.add(u)
  try {
    if (Array.isArray(u)) return u.map((x) => plain(x, seen))
    const proto = Object.getPrototypeOf(u)
    if (proto !== Object.prototype && proto !== null) return u
    const out: Record<PropertyKey, unknown> = {}
    for (const key of Reflect.ownKeys(u)) out[key] = plain((u as Record<PropertyKey, unknown>)[key], seen)
    return out
  } finally {
    seen.delete(u)
  }
}

const deepStrictEqual = assert.deepStrictEqual
assert.deepStrictEqual = <T>(actual: T, expected: T, message?: string) =>
  deepStrictEqual(plain(actual, new Set()), plain(expected, new Set()), message)
const deepEqual = assert.deepEqual
assert.deepEqual = <T>(actual: T, expected: T, message?: string) =>
  deepEqual(plain(actual, new Set()), plain(expected, new Set()), message)
