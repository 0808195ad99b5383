/**
 * Assertions on the errors the library throws.
 */
import { assert } from "@effect/vitest"
import { Errors } from "effect-resilience"

/** Asserts that `f` throws an `InvalidOptionsError` naming `option`. */
export const expectInvalidOption = (f: () => unknown, option: string) => {
  try {
    f()
  } catch (e) {
    assert.instanceOf(e, Errors.InvalidOptionsError)
    assert.strictEqual((e as Errors.InvalidOptionsError).option, option)
    return
  }
  assert.fail(`expected InvalidOptionsError for ${option}`)
}
