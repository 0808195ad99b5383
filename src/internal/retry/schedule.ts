/**
 * The backoff schedules of `Retry` (`exponential`, `linear`, `constant`):
 * each is a `Schedule` whose state steps only when a retry asks for the next
 * delay, draws its jitter from `Random`, and clamps every delay into
 * `[0, MAX_DELAY_MILLIS]` (never `Infinity`, `NaN` or negative).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleInterval from "effect/ScheduleInterval"
import type * as Retry from "../../Retry.js"
import * as validate from "../validate.js"

/** @internal */
export const MAX_DELAY_MILLIS = 2_147_483_647

type Jitter = Retry.Jitter

const JITTERS: ReadonlyArray<Jitter> = ["none", "full", "equal", "decorrelated"]

const applyJitter = (jitter: Jitter, d: number, random: number): number => {
  switch (jitter) {
    case "full":
      return random * d
    case "equal":
      return d / 2 + random * (d / 2)
    default:
      return d
  }
}

const clampDelay = (d: number): number => (Number.isFinite(d) ? Math.min(Math.max(0, d), MAX_DELAY_MILLIS) : MAX_DELAY_MILLIS)

const delaySchedule = <S>(
  initial: S,
  next: (state: S, random: number) => readonly [S, number],
  needsRandom: boolean
): Schedule.Schedule<Duration.Duration> =>
  Schedule.makeWithState<S, unknown, Duration.Duration>(initial, (now, _input, state) => {
    const step = (random: number) => {
      const [nextState, raw] = next(state, random)
      const delay = clampDelay(raw)
      return [
        nextState,
        Duration.millis(delay),
        ScheduleDecision.continueWith(ScheduleInterval.after(now + delay))
      ] as const
    }
    return needsRandom ? Effect.map(Random.next, step) : Effect.succeed(step(0))
  })

/**
 * The cap of each delay: `max` (which must be >= `base`, both compared as
 * given), else {@link MAX_DELAY_MILLIS}; never more than MAX_DELAY_MILLIS,
 * and never less than `base` (a `base` beyond it is clamped like every delay).
 */
const cappedMax = (m: string, base: number, max: unknown): number => {
  if (max === undefined) return Math.max(base, MAX_DELAY_MILLIS)
  const given = Duration.toMillis(validate.duration(m, "max", max))
  if (given < base) throw validate.invalid(m, "max", max, `a duration >= base (${Duration.format(Duration.millis(base))})`)
  return given
}

/** @internal */
export const exponential = (options: Retry.ExponentialOptions): Schedule.Schedule<Duration.Duration> => {
  const m = "Retry.exponential"
  options = validate.options(m, options)
  const base = Duration.toMillis(validate.duration(m, "base", options.base))
  const factor = validate.optionalNumber(m, "factor", options.factor, { min: 1 }) ?? 2
  const max = cappedMax(m, base, options.max)
  const jitter = options.jitter === undefined ? "none" : validate.oneOf(m, "jitter", options.jitter, JITTERS)
  if (jitter === "decorrelated") {
    return delaySchedule<number>(base, (previous, random) => {
      const upper = Math.min(max, Math.max(base, previous * 3))
      const d = Math.min(max, base + random * (upper - base))
      return [d, d] as const
    }, true)
  }
  return delaySchedule<number>(0, (n, random) => {
    const raw = base * Math.pow(factor, n)
    const capped = Number.isFinite(raw) ? Math.min(raw, max) : max
    // stop growing the exponent once capped: no overflow at any attempt count
    const nextN = capped >= max ? n : n + 1
    return [nextN, applyJitter(jitter, capped, random)] as const
  }, jitter !== "none")
}

/** @internal */
export const linear = (options: Retry.LinearOptions): Schedule.Schedule<Duration.Duration> => {
  const m = "Retry.linear"
  options = validate.options(m, options)
  const base = Duration.toMillis(validate.duration(m, "base", options.base))
  const step = options.step === undefined
    ? base
    : Duration.toMillis(validate.duration(m, "step", options.step, { allowZero: true }))
  const max = cappedMax(m, base, options.max)
  const jitter = options.jitter === undefined ? "none" : validate.oneOf(m, "jitter", options.jitter, ["none", "full", "equal"])
  return delaySchedule<number>(0, (n, random) => {
    const capped = Math.min(max, base + n * step)
    return [capped >= max ? n : n + 1, applyJitter(jitter, capped, random)] as const
  }, jitter !== "none")
}

/** @internal */
export const constant = (
  delay: Duration.DurationInput,
  options: { readonly jitter?: Exclude<Jitter, "decorrelated"> | undefined } = {}
): Schedule.Schedule<Duration.Duration> => {
  const m = "Retry.constant"
  const d = Duration.toMillis(validate.duration(m, "delay", delay, { allowZero: true }))
  options = validate.options(m, options)
  const jitter = options.jitter === undefined ? "none" : validate.oneOf(m, "jitter", options.jitter, ["none", "full", "equal"])
  return delaySchedule<number>(0, (n, random) => [n, applyJitter(jitter, d, random)] as const, jitter !== "none")
}
