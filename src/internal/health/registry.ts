/**
 * The registry of named policies: what the admin routes list and control,
 * and a source of health checks: its Tag, `PolicyRegistryImpl`, its layer
 * and `registerPolicy`.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { InvalidOptionsError, ResilienceError } from "../../Errors.js"
import { ResilienceErrorTypeId } from "../errors.js"
import type * as Health from "../../Health.js"
import * as userCode from "../userCode.js"
import * as validate from "../validate.js"
import * as options_ from "./options.js"

/**
 * An admin operation named a policy the registry does not hold, or one that
 * does not support the operation.
 *
 * @internal
 */
export class PolicyRegistryError extends Data.TaggedError("PolicyRegistryError")<{
  readonly name: string
  readonly operation: Health.PolicyControl | "get"
  readonly reason: "NotFound" | "Unsupported"
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    return this.reason === "NotFound"
      ? `No policy named ${JSON.stringify(this.name)} is registered`
      : `Policy ${JSON.stringify(this.name)} does not support ${this.operation}`
  }
}

const isInfo = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null && !Array.isArray(u)
const unavailable = (): Readonly<Record<string, unknown>> => ({ error: "unavailable" })

/** @internal */
export const CONTROLS: ReadonlyArray<Health.PolicyControl> = ["isolate", "reset", "resize", "setMode"]

/**
 * The registry's Tag (re-exported as `Health.PolicyRegistry`).
 *
 * @internal
 */
export class PolicyRegistry extends Context.Tag("effect-resilience/Health/PolicyRegistry")<
  PolicyRegistry,
  Health.PolicyRegistry.Service
>() {}

type Control = (name: string, ...args: Array<any>) => Effect.Effect<Health.PolicyInfo, PolicyRegistryError | ResilienceError>

/**
 * The registry: named entries, described on demand (their `info` is user
 * code, bounded and reported), controlled through their optional members.
 * Registering an entry with a `health` check registers it with `health`,
 * when the registry feeds one.
 *
 * @internal
 */
export class PolicyRegistryImpl implements Health.PolicyRegistry.Service {
  private readonly entries = new Map<string, Health.PolicyEntry>()
  readonly list: Effect.Effect<ReadonlyArray<Health.PolicyInfo>>
  readonly isolate: (name: string, key?: string) => Effect.Effect<Health.PolicyInfo, PolicyRegistryError | ResilienceError>
  readonly reset: (name: string, key?: string) => Effect.Effect<Health.PolicyInfo, PolicyRegistryError | ResilienceError>
  readonly resize: (
    name: string,
    size: number,
    key?: string
  ) => Effect.Effect<Health.PolicyInfo, PolicyRegistryError | ResilienceError>
  readonly setMode: (name: string, mode: string) => Effect.Effect<Health.PolicyInfo, PolicyRegistryError | ResilienceError>

  constructor(private readonly health: Option.Option<Health.Service>) {
    this.list = Effect.suspend(() => Effect.forEach([...this.entries.values()], (entry) => this.describe(entry)))
    this.isolate = this.control("isolate", (entry, key?: string) => entry.isolate?.(key))
    this.reset = this.control("reset", (entry, key?: string) => entry.reset?.(key))
    this.resize = this.control("resize", (entry, size: number, key?: string) => {
      if (entry.resize === undefined) return undefined
      return Effect.flatMap(
        validate.validated(() => options_.size.props.parse("Health.PolicyRegistry.resize", "size", size)),
        (n) => entry.resize!(n, key)
      )
    })
    this.setMode = this.control("setMode", (entry, mode: string) => entry.setMode?.(mode))
  }

  private describe(entry: Health.PolicyEntry): Effect.Effect<Health.PolicyInfo> {
    return Effect.map(
      // user code: an info that fails, dies, answers a non-object or runs past
      // DEFAULT_HOOK_TIMEOUT_MILLIS is reported and described as unavailable
      entry.info === undefined ? Effect.succeed({}) : userCode.awaitHook(
        userCode.site("Health", entry.name, "info", "described as unavailable"),
        entry.info,
        userCode.DEFAULT_HOOK_TIMEOUT_MILLIS,
        isInfo,
        unavailable
      ),
      (info) => ({
        ...info,
        name: entry.name,
        kind: entry.kind,
        controls: CONTROLS.filter((c) => entry[c] !== undefined)
      })
    )
  }

  readonly register = (entry: Health.PolicyEntry): Effect.Effect<void, InvalidOptionsError, Scope.Scope> => {
    return Effect.gen(this, function*() {
      const m = "Health.PolicyRegistry.register"
      const name = yield* validate.validated(() => {
        if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
          throw validate.invalid(m, "entry", entry, "a policy entry ({ name, kind, … })")
        }
        return options_.entrySpec.resolve(entry, m).name
      })
      // the health check first, and nothing interruptible after the checks: a refused check (a
      // name Health already has) or an interruption leaves nothing registered half-way
      return yield* Effect.uninterruptible(Effect.gen(this, function*() {
        if (this.entries.has(name)) {
          return yield* Effect.fail(validate.invalid(m, "name", name, "a name not already registered"))
        }
        if (entry.health !== undefined && Option.isSome(this.health)) {
          yield* this.health.value.register(entry.health)
        }
        this.entries.set(name, entry)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (this.entries.get(name) === entry) this.entries.delete(name)
          })
        )
      }))
    })
  }

  private lookup(name: string, operation: Health.PolicyControl | "get"): Effect.Effect<Health.PolicyEntry, PolicyRegistryError> {
    return Effect.suspend(() => {
      const entry = this.entries.get(name)
      return entry === undefined
        ? Effect.fail(new PolicyRegistryError({ name, operation, reason: "NotFound" }))
        : Effect.succeed(entry)
    })
  }

  readonly get = (name: string): Effect.Effect<Health.PolicyInfo, PolicyRegistryError> =>
    Effect.flatMap(this.lookup(name, "get"), (entry) => this.describe(entry))

  /** An operation on a named entry: `run` answers `undefined` when the entry does not support it. */
  private control<A extends Array<any>>(
    operation: Health.PolicyControl,
    run: (entry: Health.PolicyEntry, ...args: A) => Effect.Effect<void, ResilienceError> | undefined
  ): Control {
    return (name: string, ...args: A): Effect.Effect<Health.PolicyInfo, PolicyRegistryError | ResilienceError> =>
      Effect.flatMap(
        this.lookup(name, operation),
        (entry): Effect.Effect<Health.PolicyInfo, PolicyRegistryError | ResilienceError> => {
          const effect = run(entry, ...args)
          if (effect === undefined) {
            return Effect.fail(new PolicyRegistryError({ name, operation, reason: "Unsupported" }))
          }
          return Effect.zipRight(effect, this.describe(entry))
        }
      )
  }
}

/** @internal */
export const make = (health: Option.Option<Health.Service>): Effect.Effect<Health.PolicyRegistry.Service> =>
  Effect.sync(() => new PolicyRegistryImpl(health))

/** @internal */
export const layerPolicyRegistry: Layer.Layer<PolicyRegistry> = Layer.effect(
  PolicyRegistry,
  Effect.suspend(() => make(Option.none()))
)

/** @internal */
export const registerPolicy = (
  entry: Health.PolicyEntry
): Effect.Effect<void, InvalidOptionsError, PolicyRegistry | Scope.Scope> =>
  Effect.flatMap(PolicyRegistry, (r) => r.register(entry))
