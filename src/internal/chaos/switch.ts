/**
 * `Chaos.Switch`: an on/off state that chaos policies read on every call.
 *
 * @internal
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import type * as Chaos from "../../Chaos.js"
import type { InvalidOptionsError } from "../../Errors.js"
import * as Spec from "../spec.js"
import * as validate from "../validate.js"

/** @internal */
export const SwitchTypeId: Chaos.SwitchTypeId = Symbol.for("effect-resilience/Chaos/Switch") as Chaos.SwitchTypeId

/** A switch made without an initial state is on. @internal */
export const DEFAULT_INITIAL = true

/** @internal */
export class SwitchImpl implements Chaos.Switch {
  readonly [SwitchTypeId]: Chaos.SwitchTypeId = SwitchTypeId
  private readonly read: Effect.Effect<boolean> = Effect.sync(() => this.on)
  readonly enable: Effect.Effect<void> = Effect.sync(() => {
    this.on = true
  })
  readonly disable: Effect.Effect<void> = Effect.sync(() => {
    this.on = false
  })

  constructor(private on: boolean) {}

  // arrow members: they keep working when taken off the switch (`const { set } = chaos`)
  readonly isEnabled = (): Effect.Effect<boolean> => this.read
  readonly unsafeIsEnabled = (): boolean => this.on
  readonly set = (enabled: boolean): Effect.Effect<void> =>
    Effect.sync(() => {
      this.on = enabled
    })
}

/** A switch's initial state: a boolean, on when absent. */
const initialField = Spec.boolean().default(DEFAULT_INITIAL)

const initialOf = (module: string, value: unknown): boolean =>
  value === undefined ? initialField.defaultValue(module, "initial") : initialField.props.parse(module, "initial", value)

/** @internal */
export const makeSwitch = (initial?: boolean | undefined): Effect.Effect<Chaos.Switch, InvalidOptionsError> =>
  Effect.map(validate.validated(() => initialOf("Chaos.makeSwitch", initial)), (on) => new SwitchImpl(on))

/** @internal */
export const unsafeMakeSwitch = (initial?: boolean | undefined): Chaos.Switch =>
  new SwitchImpl(initialOf("Chaos.unsafeMakeSwitch", initial))

/** @internal */
export const switchFromConfig = (
  config: Config.Config<boolean>
): Effect.Effect<Chaos.Switch, ConfigError.ConfigError | InvalidOptionsError> =>
  Effect.flatMap(config, (initial) =>
    Effect.map(validate.validated(() => initialOf("Chaos.switchFromConfig", initial)), (on) => new SwitchImpl(on)))

/** @internal */
export const isSwitch = (u: unknown): u is Chaos.Switch => Predicate.hasProperty(u, SwitchTypeId)
