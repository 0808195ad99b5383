/**
 * The options of `Retry.policy`: validated once at construction, with their
 * defaults, into the {@link Config} the policy runs on.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type { Rejection } from "../../Errors.js"
import type * as Retry from "../../Retry.js"
import * as validate from "../validate.js"
import { exponential } from "./schedule.js"

/** @internal */
export const DEFAULT_TIMES = 3
/** @internal */
export const DEFAULT_MAX_RETRY_AFTER = 60_000
/** @internal */
export const DEFAULT_ON_RETRY_TIMEOUT = 1_000
/** @internal */
export const DEFAULT_NAME = "retry"

let defaultSchedule: Schedule.Schedule<Duration.Duration> | undefined

/** The default backoff: `exponential({ base: "100 millis", max: "30 seconds", jitter: "full" })`, made once. */
const theDefaultSchedule = (): Schedule.Schedule<Duration.Duration> =>
  defaultSchedule ??= exponential({ base: "100 millis", max: "30 seconds", jitter: "full" })

/** A policy's validated options. @internal */
export interface Config<EIn, R> {
  readonly name: string
  readonly forever: boolean
  /** Retries at most (`Infinity` with `forever`). */
  readonly times: number
  readonly schedule: Schedule.Schedule<unknown, EIn, R>
  readonly while: ((e: EIn) => boolean) | undefined
  readonly until: ((e: EIn) => boolean) | undefined
  readonly retryRejections: ((e: Rejection) => boolean) | undefined
  readonly maxRetryAfter: number
  readonly budget: Retry.Budget | undefined
  readonly onRetry: Retry.Options<EIn, R>["onRetry"]
  /** Treat a success as a failure where this holds (undefined: the success path checks nothing). */
  readonly whenResult: ((value: unknown) => boolean) | undefined
  /** When retrying stops on a rejected value: fail with `FailedResultError` instead of returning it. */
  readonly failAfterMaxAttempts: boolean
  readonly onRetryTimeout: number
  readonly spans: boolean
}

/** Validates `Retry.policy`'s options (throws `InvalidOptionsError`). @internal */
export const parse = <EIn, R>(options: Retry.Options<EIn, R, any>): Config<EIn, R> => {
  const m = "Retry.policy"
  options = validate.options(m, options)
  const forever = validate.optionalBoolean(m, "forever", options.forever) === true
  const times = forever
    ? Infinity
    : (validate.optionalNumber(m, "times", options.times, { min: 0, integer: true }) ?? DEFAULT_TIMES)
  const whilePredicate = validate.predicate<(e: EIn) => boolean>(m, "while", options.while)
  const untilPredicate = validate.predicate<(e: EIn) => boolean>(m, "until", options.until)
  const retryRejections = validate.predicate<(e: Rejection) => boolean>(m, "retryRejections", options.retryRejections)
  const maxRetryAfter = options.maxRetryAfter === undefined
    ? DEFAULT_MAX_RETRY_AFTER
    : Duration.toMillis(validate.duration(m, "maxRetryAfter", options.maxRetryAfter, { allowZero: true }))
  if (options.schedule !== undefined && !Schedule.isSchedule(options.schedule)) {
    throw validate.invalid(m, "schedule", options.schedule, "a Schedule")
  }
  const schedule: Schedule.Schedule<unknown, EIn, R> = options.schedule ?? theDefaultSchedule()
  const budget = options.budget
  if (
    budget !== undefined &&
    (!Predicate.isObject(budget) || typeof budget.deposit !== "function" || typeof budget.tryWithdraw !== "function")
  ) {
    throw validate.invalid(m, "budget", budget, "a Retry.budget")
  }
  const name = options.name === undefined ? DEFAULT_NAME : validate.nonEmptyString(m, "name", options.name)
  const onRetry = validate.predicate<NonNullable<Retry.Options<EIn, R>["onRetry"]>>(m, "onRetry", options.onRetry)
  const onRetryTimeout = options.onRetryTimeout === undefined
    ? DEFAULT_ON_RETRY_TIMEOUT
    : Duration.toMillis(validate.duration(m, "onRetryTimeout", options.onRetryTimeout, { allowInfinite: true }))
  const spans = validate.optionalBoolean(m, "spans", options.spans) === true
  const whenResult = validate.predicate<(value: unknown) => boolean>(m, "whenResult", options.whenResult)
  const failAfterMaxAttempts = validate.optionalBoolean(m, "failAfterMaxAttempts", options.failAfterMaxAttempts) === true
  if (failAfterMaxAttempts && whenResult === undefined) {
    throw validate.invalid(m, "failAfterMaxAttempts", true, "false or absent without whenResult (it applies to rejected results)")
  }
  return {
    name,
    forever,
    times,
    schedule,
    while: whilePredicate,
    until: untilPredicate,
    retryRejections,
    maxRetryAfter,
    budget,
    onRetry,
    onRetryTimeout,
    spans,
    whenResult,
    failAfterMaxAttempts
  }
}
