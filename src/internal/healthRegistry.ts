/**
 * The registry of named policies: what the admin routes list and control,
 * and a source of health checks.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { InvalidOptionsError, ResilienceError } from "../Errors.js"
import * as Data from "effect/Data"
import { ResilienceErrorTypeId } from "../Errors.js"
import type * as Health from "../Health.js"
import * as userCode from "./userCode.js"
import * as validate from "./validate.js"

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

/** @internal */
export const make = (health: Option.Option<Health.Service>): Effect.Effect<Health.PolicyRegistry.Service> =>
  Effect.sync(() => {
    const entries = new Map<string, Health.PolicyEntry>()

    const describe = (entry: Health.PolicyEntry): Effect.Effect<Health.PolicyInfo> =>
      Effect.map(
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

    const register = (entry: Health.PolicyEntry): Effect.Effect<void, InvalidOptionsError, Scope.Scope> =>
      Effect.gen(function*() {
        const m = "Health.PolicyRegistry.register"
        const name = yield* validate.validated(() => {
          if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
            throw validate.invalid(m, "entry", entry, "a policy entry ({ name, kind, … })")
          }
          for (const c of CONTROLS) {
            if (entry[c] !== undefined && typeof entry[c] !== "function") throw validate.invalid(m, c, entry[c], "a function")
          }
          if (entry.info !== undefined && !Effect.isEffect(entry.info)) throw validate.invalid(m, "info", entry.info, "an Effect")
          return validate.nonEmptyString(m, "name", entry.name)
        })
        yield* validate.validated(() => validate.nonEmptyString(m, "kind", entry.kind))
        if (entries.has(name)) {
          return yield* Effect.fail(validate.invalid(m, "name", name, "a name not already registered"))
        }
        entries.set(name, entry)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (entries.get(name) === entry) entries.delete(name)
          })
        )
        if (entry.health !== undefined && Option.isSome(health)) {
          yield* health.value.register(entry.health)
        }
      })

    const lookup = (name: string, operation: Health.PolicyControl | "get") =>
      Effect.suspend(() => {
        const entry = entries.get(name)
        return entry === undefined
          ? Effect.fail(new PolicyRegistryError({ name, operation, reason: "NotFound" }))
          : Effect.succeed(entry)
      })

    const control = <A extends Array<any>>(
      operation: Health.PolicyControl,
      run: (entry: Health.PolicyEntry, ...args: A) => Effect.Effect<void, ResilienceError> | undefined
    ) =>
    (name: string, ...args: A): Effect.Effect<Health.PolicyInfo, PolicyRegistryError | ResilienceError> =>
      Effect.flatMap(lookup(name, operation), (entry): Effect.Effect<Health.PolicyInfo, PolicyRegistryError | ResilienceError> => {
        const effect = run(entry, ...args)
        if (effect === undefined) {
          return Effect.fail(new PolicyRegistryError({ name, operation, reason: "Unsupported" }))
        }
        return Effect.zipRight(effect, describe(entry))
      })

    const service: Health.PolicyRegistry.Service = {
      register,
      list: Effect.suspend(() => Effect.forEach([...entries.values()], describe)),
      get: (name) => Effect.flatMap(lookup(name, "get"), describe),
      isolate: control("isolate", (entry, key?: string) => entry.isolate?.(key)),
      reset: control("reset", (entry, key?: string) => entry.reset?.(key)),
      resize: control("resize", (entry, size: number, key?: string) => {
        if (entry.resize === undefined) return undefined
        return Effect.flatMap(
          validate.validated(() =>
            validate.number("Health.PolicyRegistry.resize", "size", size, { min: 1, integer: true })
          ),
          (n) => entry.resize!(n, key)
        )
      }),
      setMode: control("setMode", (entry, mode: string) => entry.setMode?.(mode))
    }
    return service
  })
