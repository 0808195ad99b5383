/**
 * Loading options from `Config` in tests: a `ConfigProvider.fromMap` of
 * string values (as environment variables give them), and the failure a
 * config-driven constructor ends with.
 */
import { assert } from "@effect/vitest"
import { Errors } from "effect-resilience"
import { Cause, ConfigError, ConfigProvider, Effect, Exit, Layer, Option } from "effect"

/** Runs `effect` with its `Config` read from `values` (path segments joined by "."). */
export const withConfig = (values: Readonly<Record<string, string>>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.withConfigProvider(effect, ConfigProvider.fromMap(new Map(Object.entries(values)), { pathDelim: "." }))

/** Builds `layer` with its `Config` read from `values`; returns the exit. */
export const buildWithConfig = <E>(layer: Layer.Layer<any, E, never>, values: Readonly<Record<string, string>>) =>
  Layer.build(layer).pipe(Effect.scoped, withConfig(values), Effect.exit)

/** Asserts `exit` failed with `InvalidOptionsError` from `module` naming `option`, whose message mentions `range`. */
export const assertInvalidOption = (
  exit: Exit.Exit<unknown, unknown>,
  module: string,
  option: string,
  range?: string
) => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Option.getOrUndefined(Cause.failureOption((exit as Exit.Failure<unknown, unknown>).cause))
  assert.instanceOf(error, Errors.InvalidOptionsError, String(error))
  const e = error as Errors.InvalidOptionsError
  assert.strictEqual(e.module, module)
  assert.strictEqual(e.option, option)
  if (range !== undefined) assert.include(e.message, range)
}

/** Asserts `exit` failed with a `ConfigError` whose message mentions `text` (the key, usually). */
export const assertConfigError = (exit: Exit.Exit<unknown, unknown>, text: string) => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Option.getOrUndefined(Cause.failureOption((exit as Exit.Failure<unknown, unknown>).cause))
  assert.isTrue(ConfigError.isConfigError(error), `expected a ConfigError, got ${String(error)}`)
  assert.include(String(error), text)
}
