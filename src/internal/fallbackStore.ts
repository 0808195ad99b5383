/**
 * The bounded in-memory store behind `Fallback.staleIfError`: an LRU map
 * (a JavaScript `Map` keeps insertion order; a hit re-inserts the key) whose
 * entries also expire at `expiresAt`, read against the caller's clock.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** @internal */
export interface Entry {
  readonly value: unknown
  /** Epoch millis (from the caller's `Clock`) at which the value was stored. */
  readonly storedAt: number
  /** Epoch millis after which the value must not be served. */
  readonly expiresAt: number
}

/** @internal */
export interface MemoryStore {
  readonly get: (key: string, now: number) => Effect.Effect<Option.Option<Entry>>
  readonly set: (key: string, entry: Entry) => Effect.Effect<void>
  readonly delete: (key: string) => Effect.Effect<void>
  /** Entries currently held (expired ones included until touched or evicted). */
  readonly size: () => number
}

/** @internal */
export const unsafeMakeMemoryStore = (maxEntries: number): MemoryStore => {
  const entries = new Map<string, Entry>()
  const get = (key: string, now: number): Option.Option<Entry> => {
    const entry = entries.get(key)
    if (entry === undefined) return Option.none()
    entries.delete(key)
    if (entry.expiresAt <= now) return Option.none()
    entries.set(key, entry) // most recently used goes last
    return Option.some(entry)
  }
  const set = (key: string, entry: Entry): void => {
    entries.delete(key)
    entries.set(key, entry)
    while (entries.size > maxEntries) {
      const oldest = entries.keys().next()
      // Stryker disable next-line ConditionalExpression: equivalent: unreachable, the map is non-empty while its size exceeds maxEntries (validated >= 1)
      if (oldest.done === true) break
      entries.delete(oldest.value)
    }
  }
  return {
    get: (key, now) => Effect.sync(() => get(key, now)),
    set: (key, entry) => Effect.sync(() => set(key, entry)),
    delete: (key) =>
      Effect.sync(() => {
        entries.delete(key)
      }),
    size: () => entries.size
  }
}
