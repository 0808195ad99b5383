/**
 * The idempotency policy's options: validation and defaults.
 *
 * @internal
 */
import type * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type * as I from "../../Idempotency.js"
import * as Keys from "../keys.js"
import * as validate from "../validate.js"

/** @internal */
export const DEFAULT_NAME = "idempotency"

/** A policy's options, resolved: what it reports, the failures it keeps, its `Exit` codec. @internal */
export interface Config<A, E> {
  readonly resolved: I.Idempotency.Resolved
  readonly keep: (error: E) => boolean
  readonly codec: Schema.Schema<Exit.Exit<A, E>, any> | undefined
}

/** Validates `Idempotency.make`'s options and applies the defaults; throws `InvalidOptionsError`. @internal */
export const resolve = <A, E>(options: I.Idempotency.Options<A, E>): Config<A, E> => {
  const m = "Idempotency.make"
  options = validate.options(m, options)
  const ttl = validate.duration(m, "ttl", options.ttl)
  const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
  const keepFailures = options.keepFailures
  let keep: (error: E) => boolean
  // Stryker disable next-line ArrowFunction: equivalent: keep's result is only read as a condition, where undefined is false too
  if (keepFailures === undefined || keepFailures === false) keep = () => false
  else if (keepFailures === true) keep = () => true
  else if (typeof keepFailures === "function") keep = keepFailures
  else throw validate.invalid(m, "keepFailures", keepFailures, "a boolean or a predicate on the error")
  if (options.success !== undefined && !Schema.isSchema(options.success)) {
    throw validate.invalid(m, "success", options.success, "a Schema")
  }
  if (options.failure !== undefined && !Schema.isSchema(options.failure)) {
    throw validate.invalid(m, "failure", options.failure, "a Schema")
  }
  const codec = options.success !== undefined || options.failure !== undefined
    ? Schema.Exit({
      success: (options.success ?? Schema.Unknown) as Schema.Schema<A, any>,
      failure: (options.failure ?? Schema.Unknown) as Schema.Schema<E, any>,
      defect: Schema.Defect
    })
    : undefined
  return {
    resolved: {
      ttl,
      keepFailures: typeof keepFailures === "function" ? "predicate" : keepFailures === true,
      hasSchemas: options.success !== undefined && options.failure !== undefined,
      name,
      maxKeyLength: Keys.maxKeyLengthOption(m, options.maxKeyLength)
    },
    keep,
    codec
  }
}
