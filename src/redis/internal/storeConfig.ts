/**
 * The `config` / `fromConfig` / `layerConfig` trio of every Redis store: its
 * options read from a given `Config`, or, without one, from the store's own
 * environment keys (`<STORE>_*`, the store's `envSpec`), checked as `make`
 * checks them, errors naming `<Store>.fromConfig` / `<Store>.layerConfig`
 * and the config key.
 *
 * @internal
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { InvalidOptionsError } from "../../Errors.js"
import * as Spec from "../../internal/spec.js"

/** @internal */
export const storeConfig = <O, I, T, S extends T, E, R>(store: {
  /** The public module's name: `"BulkheadStore"`. */
  readonly name: string
  readonly spec: Spec.Spec<any>
  readonly envSpec: Spec.Spec<any>
  readonly make: (options?: O) => Effect.Effect<S, E, R>
  /** The Tag its layer provides. */
  readonly tag: Context.Tag<I, T>
}) => {
  const fromConfig = (
    config?: Config.Config.Wrap<O>,
    module = `${store.name}.fromConfig`
  ): Effect.Effect<S, E | InvalidOptionsError | ConfigError.ConfigError, R> =>
    Effect.flatMap(Spec.readConfigOrEnv<O>(store.spec, store.envSpec, module, config), store.make)
  const layerConfig = (
    config?: Config.Config.Wrap<O>
  ): Layer.Layer<I, E | InvalidOptionsError | ConfigError.ConfigError, Exclude<R, Scope.Scope>> =>
    Layer.scoped(store.tag, fromConfig(config, `${store.name}.layerConfig`))
  return { config: store.spec.config as Config.Config<O>, fromConfig, layerConfig }
}
