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
import * as Spec from "../spec.js"
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

/** The cap of each delay: `max` when given, else {@link MAX_DELAY_MILLIS} (never below `base`). */
const cappedMax = (base: number, max: number | undefined): number => max ?? Math.max(base, MAX_DELAY_MILLIS)

/** `max` (as given) is at least `base`. */
const maxAtLeastBase = (
  r: { readonly base: number; readonly max: number | undefined },
  o: Readonly<Record<string, unknown>>,
  m: string
): void => {
  if (r.max !== undefined && r.max < r.base) {
    throw validate.invalid(m, "max", o.max, `a duration >= base (${Duration.format(Duration.millis(r.base))})`)
  }
}

/** The options of `Retry.exponential`. @internal */
export const exponentialSpec = Spec.struct<Retry.ExponentialOptions>()("Retry.exponential", {
  base: Spec.millis().required(),
  factor: Spec.number({ min: 1 }).default(2),
  max: Spec.millis().doc("no cap (2^31 − 1 ms)"),
  jitter: Spec.literal(...JITTERS).default("none")
}, maxAtLeastBase)

/** The options of `Retry.linear`. @internal */
export const linearSpec = Spec.struct<Retry.LinearOptions>()("Retry.linear", {
  base: Spec.millis().required(),
  step: Spec.millis({ allowZero: true }).doc("base"),
  max: Spec.millis().doc("no cap (2^31 − 1 ms)"),
  jitter: Spec.literal("none", "full", "equal").default("none")
}, maxAtLeastBase)

/** The options of `Retry.constant` (its delay is the first argument). @internal */
export const constantSpec = Spec.struct<{ readonly jitter?: Exclude<Jitter, "decorrelated"> | undefined }>()(
  "Retry.constant",
  { jitter: Spec.literal("none", "full", "equal").default("none") }
)

const constantDelay = Spec.millis({ allowZero: true }).required()

/** @internal */
export const exponential = (options: Retry.ExponentialOptions): Schedule.Schedule<Duration.Duration> => {
  const { base, factor, jitter, ...rest } = exponentialSpec.resolve(options)
  const max = cappedMax(base, rest.max)
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
  const { base, jitter, ...rest } = linearSpec.resolve(options)
  const step = rest.step ?? base
  const max = cappedMax(base, rest.max)
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
  const d = constantDelay.props.parse("Retry.constant", "delay", delay)
  const { jitter } = constantSpec.resolve(options)
  return delaySchedule<number>(0, (n, random) => [n, applyJitter(jitter, d, random)] as const, jitter !== "none")
}
