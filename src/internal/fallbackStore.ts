/**
 * The bounded in-memory store behind `Fallback.staleIfError`: an LRU map
 * (a `LinkedMap` keeps insertion order; a hit moves the key to the back) whose
 * entries also expire at `expiresAt`, read against the caller's clock. Every
 * operation is O(1) (see `LinkedMap`). Keys are validated by the policy (at
 * most `maxKeyLength` code units), so the key strings held take at most
 * `maxEntries × (maxKeyLength + name) × 2` bytes; values are kept as they
 * are (their size is the user's).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { LinkedMap } from "./linkedMap.js"

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
  // a LinkedMap: moving an entry to the back and reaching the oldest are O(1) (a plain
  // Map's iterator walks the holes its deletions leave: O(entries held) per eviction)
  const entries = new LinkedMap<string, Entry>()
  const get = (key: string, now: number): Option.Option<Entry> => {
    const entry = entries.get(key)
    if (entry === undefined) return Option.none()
    if (entry.expiresAt <= now) {
      entries.delete(key)
      return Option.none()
    }
    entries.moveToBack(key) // most recently used goes last
    return Option.some(entry)
  }
  const set = (key: string, entry: Entry): void => {
    entries.delete(key)
    entries.set(key, entry)
    while (entries.size > maxEntries) {
      // Stryker disable next-line ConditionalExpression: equivalent: unreachable, the map is non-empty while its size exceeds maxEntries (validated >= 1)
      if (entries.size === 0) break
      entries.delete(entries.firstKey()!)
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
