/**
 * `Testing`'s errors, built by the scripted dependency.
 *
 * @internal
 */
import * as Data from "effect/Data"

/** @internal */
export class ScriptExhaustedError extends Data.TaggedError("ScriptExhaustedError")<{
  readonly name: string
  readonly steps: number
  readonly call: number
}> {
  override get message(): string {
    return `Scripted dependency ${this.name} was called ${this.call} times but scripted for ${this.steps}`
  }
}
