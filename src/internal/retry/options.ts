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
import * as Spec from "../spec.js"
import * as validate from "../validate.js"
import { budgetSpec } from "./budget.js"
import { constantSpec, exponential, exponentialSpec, linearSpec } from "./schedule.js"

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

const isBudget = (u: unknown): boolean =>
  Predicate.isObject(u) && typeof (u as Retry.Budget).deposit === "function" &&
  typeof (u as Retry.Budget).tryWithdraw === "function"

/** The default base of a backoff read from `Config`. @internal */
export const DEFAULT_CONFIG_BASE = Duration.millis(100)
/** The default cap of a backoff read from `Config` (or its base, when longer). @internal */
export const DEFAULT_CONFIG_MAX = Duration.seconds(30)

/**
 * The backoff a policy read from `Config` retries with: an exponential one
 * from its options (base 100 millis, cap 30 seconds, full jitter by default).
 */
const scheduleFromConfig = (d: Readonly<Record<string, unknown>>): Schedule.Schedule<Duration.Duration> => {
  const base = (d.base as Duration.Duration | undefined) ?? DEFAULT_CONFIG_BASE
  return exponential({
    base,
    factor: d.factor as number | undefined,
    // the default cap never undercuts the base the caller gave
    max: (d.max as Duration.Duration | undefined) ?? Duration.max(base, DEFAULT_CONFIG_MAX),
    jitter: (d.jitter as Retry.Jitter | undefined) ?? "full"
  })
}

/**
 * The options of `Retry.policy`, described once. From `Config`, the
 * schedule is an exponential backoff made from `base`, `factor`, `max` and
 * `jitter`; predicates, hooks and budgets are code (`layerConfig`'s third
 * argument).
 *
 * @internal
 */
export const spec = Spec.struct<Retry.Options<any, any, any>>()("Retry.policy", {
  schedule: Spec.code<Schedule.Schedule<unknown, any, any>>("a Schedule", Schedule.isSchedule)
    .doc("exponential: base 100 millis, max 30 seconds, full jitter")
    .fromConfig({
      base: Spec.duration().doc("100 millis"),
      factor: Spec.number({ min: 1 }).doc("2"),
      max: Spec.duration().doc("30 seconds (or base, when longer)"),
      jitter: Spec.literal("none", "full", "equal", "decorrelated").doc("\"full\"")
    }, scheduleFromConfig),
  whenResult: Spec.func<(value: unknown) => boolean>(),
  failAfterMaxAttempts: Spec.boolean().default(false),
  times: Spec.integer({ min: 0 }).default(DEFAULT_TIMES),
  forever: Spec.boolean().default(false),
  while: Spec.func<(e: unknown) => boolean>(),
  until: Spec.func<(e: unknown) => boolean>(),
  maxRetryAfter: Spec.millis({ allowZero: true }).default(Duration.millis(DEFAULT_MAX_RETRY_AFTER)),
  retryRejections: Spec.func<(e: Rejection) => boolean>(),
  budget: Spec.code<Retry.Budget>("a Retry.budget", isBudget),
  name: Spec.string().default(DEFAULT_NAME),
  spans: Spec.boolean().default(false),
  onRetry: Spec.func<NonNullable<Retry.Options["onRetry"]>>(),
  onRetryTimeout: Spec.millis({ allowInfinite: true }).default(Duration.millis(DEFAULT_ON_RETRY_TIMEOUT))
}, (r, _, m) => {
  if (r.failAfterMaxAttempts && r.whenResult === undefined) {
    throw validate.invalid(m, "failAfterMaxAttempts", true, "false or absent without whenResult (it applies to rejected results)")
  }
}).readFrom("Retry.config")

/** Validates `Retry.policy`'s options (throws `InvalidOptionsError`). @internal */
export const parse = <EIn, R>(options: Retry.Options<EIn, R, any>): Config<EIn, R> => {
  const r = spec.resolve(options)
  return {
    name: r.name,
    forever: r.forever,
    times: r.forever ? Infinity : r.times,
    schedule: (r.schedule ?? theDefaultSchedule()) as Schedule.Schedule<unknown, EIn, R>,
    while: r.while,
    until: r.until,
    retryRejections: r.retryRejections,
    maxRetryAfter: r.maxRetryAfter,
    budget: r.budget,
    onRetry: r.onRetry as Retry.Options<EIn, R>["onRetry"],
    onRetryTimeout: r.onRetryTimeout,
    spans: r.spans,
    whenResult: r.whenResult,
    failAfterMaxAttempts: r.failAfterMaxAttempts
  }
}

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec, exponentialSpec, linearSpec, constantSpec, budgetSpec]
