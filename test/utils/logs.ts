/**
 * Captures what is logged through Effect's logger.
 */
import { Effect, Logger } from "effect"

/**
 * A logger that keeps each message (an array's parts joined by spaces) in `lines`, and its level
 * label (`"WARN"`, `"ERROR"`, …) at the same index in `levels`; `provide` runs an effect with it in
 * place of the default logger.
 */
export const captureLogs = () => {
  const lines: Array<string> = []
  const levels: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(Array.isArray(message) ? message.join(" ") : String(message))
    levels.push(logLevel.label)
  })
  return { lines, levels, provide: Effect.provide(Logger.replace(Logger.defaultLogger, logger)) }
}
