/**
 * The retry budget (`Retry.budget`): deposits (calls) and withdrawals
 * (retries) counted in `BUDGET_SLOTS` slots of a sliding window, read on the
 * monotonic time of the `Clock` the budget was made under.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { InvalidOptionsError } from "../../Errors.js"
import type * as Retry from "../../Retry.js"
import { monotonicMillis } from "../time.js"
import * as Spec from "../spec.js"

/** The slots of a budget's window. @internal */
export const BUDGET_SLOTS = 10

/** @internal */
export const DEFAULT_RATIO = 0.2
/** @internal */
export const DEFAULT_MIN_RETRIES_PER_SECOND = 10
/** @internal */
export const DEFAULT_WINDOW_MILLIS = 10_000

/**
 * A budget's sliding window. Its members are arrow functions: a budget is
 * handed around as a plain object (`budget.tryWithdraw` may be called
 * detached).
 *
 * @internal
 */
class BudgetImpl implements Retry.Budget {
  private readonly slotMillis: number
  private readonly deposits = new Float64Array(BUDGET_SLOTS)
  private readonly withdrawals = new Float64Array(BUDGET_SLOTS)
  private readonly reserve: number
  private currentSlot: number
  private depositSum = 0
  private withdrawSum = 0

  constructor(
    private readonly clock: Clock.Clock,
    private readonly ratio: number,
    minPerSecond: number,
    windowMillis: number,
    readonly options: Retry.Budget.Options
  ) {
    this.slotMillis = windowMillis / BUDGET_SLOTS
    this.reserve = minPerSecond * (windowMillis / 1000)
    // Stryker disable next-line ArithmeticOperator: equivalent: every deposit/withdraw/read rotates first, and a wrong start slot only makes that first rotate clear slots that are all still zero
    this.currentSlot = Math.floor(monotonicMillis(clock) / this.slotMillis)
  }

  /** Clears the slots that have left the window since the last rotation. */
  private rotate(): void {
    const slot = Math.floor(monotonicMillis(this.clock) / this.slotMillis)
    if (slot === this.currentSlot) return
    const steps = Math.min(slot - this.currentSlot, BUDGET_SLOTS)
    for (let i = 1; i <= steps; i++) {
      const idx = (this.currentSlot + i) % BUDGET_SLOTS
      this.depositSum -= this.deposits[idx]!
      this.withdrawSum -= this.withdrawals[idx]!
      this.deposits[idx] = 0
      this.withdrawals[idx] = 0
    }
    this.currentSlot = slot
  }

  readonly unsafeAvailable = (): number => {
    this.rotate()
    return Math.max(0, Math.floor(this.reserve + this.depositSum * this.ratio - this.withdrawSum + 1e-9))
  }

  readonly available = (): Effect.Effect<number> => Effect.sync(this.unsafeAvailable)

  readonly deposit = (): void => {
    this.rotate()
    this.deposits[this.currentSlot % BUDGET_SLOTS]! += 1
    this.depositSum += 1
  }

  readonly tryWithdraw = (): boolean => {
    if (this.unsafeAvailable() < 1) return false
    this.withdrawals[this.currentSlot % BUDGET_SLOTS]! += 1
    this.withdrawSum += 1
    return true
  }
}

/**
 * The options of `Retry.budget`, described once (checks, defaults, the
 * docs' table). A budget is code for the policies that share it, so it has
 * no `Config` of its own.
 *
 * @internal
 */
export const budgetSpec = Spec.struct<Retry.Budget.Options>()("Retry.budget", {
  ratio: Spec.number({ min: 0, max: 1000 }).default(DEFAULT_RATIO),
  minRetriesPerSecond: Spec.number({ min: 0 }).default(DEFAULT_MIN_RETRIES_PER_SECOND),
  window: Spec.millis().default(Duration.millis(DEFAULT_WINDOW_MILLIS))
})

/** @internal */
export const make = (options: Retry.Budget.Options = {}): Effect.Effect<Retry.Budget, InvalidOptionsError> =>
  Effect.flatMap(
    budgetSpec.resolveEffect(options),
    ({ minRetriesPerSecond, ratio, window }) =>
      Effect.map(Effect.clock, (clock): Retry.Budget => new BudgetImpl(clock, ratio, minRetriesPerSecond, window, options))
  )
