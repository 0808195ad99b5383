/**
 * The bounded in-memory `Fallback.StaleStore`, and the `Fallback.StaleStore`
 * reference whose default it is (one per process).
 *
 * - **Entries** live in one LRU map (a `LinkedMap`: a hit moves the key to
 *   the back, the oldest is reached in O(1)) of at most `maxEntries` entries,
 *   keyed by the policies' store keys (`<name.length>:<name>:<key>`); each
 *   also expires at its `expiresAt`, read against the caller's time.
 * - **Partitions.** A policy reads and writes through a synchronous
 *   partition (`unsafe.partition`), with no Effect on its path. A named
 *   policy's partition is its name's share of the store (every policy of
 *   that name shares it, as a Redis store shares it between replicas),
 *   bounded by the policy's own `maxEntries` as well (a second LRU per name).
 *   An unnamed policy's partition is its own, outside the store's map (no
 *   other policy can read it, and it goes with the policy), bounded by its
 *   `maxEntries`.
 *
 * Every operation is O(1). With keys of at most `maxKeyLength` code units,
 * the key strings held take at most `maxEntries × (maxKeyLength + name) × 2`
 * bytes; values are kept as the policies give them (their size is the user's).
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { InvalidOptionsError } from "../../Errors.js"
import type * as Fallback from "../../Fallback.js"
import { LinkedMap } from "../linkedMap.js"
import * as validate from "../validate.js"
import { memoryStoreSpec } from "./options.js"

type Store = Fallback.StaleStore
type Entry = Fallback.StaleEntry
type Partition = Fallback.StaleStore.Partition

/** The entries of one policy name in a store. */
interface Namespace {
  readonly name: string
  /** Its keys, least recently used first (the values are the store's records). */
  readonly keys: LinkedMap<string, Record>
}

/** One entry held by the store, and the name it belongs to (none: written through `set`). */
interface Record {
  readonly entry: Entry
  readonly ns: Namespace | undefined
}

/** The memory store, with its size (for tests). @internal */
export interface MemoryStore extends Store {
  readonly unsafe: Fallback.StaleStore.Unsafe
  /** Entries held in the store's map (expired ones included until touched or evicted). */
  readonly size: () => number
  readonly maxEntries: number
}

/**
 * The store: one LRU map of records, and a second LRU per policy name over
 * the same records (a named policy's own bound).
 *
 * @internal
 */
class MemoryStaleStore implements MemoryStore {
  readonly kind = "memory"
  readonly time = "monotonic"
  // a LinkedMap: moving an entry to the back and reaching the oldest are O(1) (a plain
  // Map's iterator walks the holes its deletions leave: O(entries held) per eviction)
  private readonly entries = new LinkedMap<string, Record>()
  private readonly namespaces = new Map<string, Namespace>()
  readonly unsafe: Fallback.StaleStore.Unsafe

  constructor(readonly maxEntries: number) {
    this.unsafe = {
      partition: (name, maxEntries) =>
        name === undefined ? new PrivatePartition(maxEntries) : new NamedPartition(this, name, maxEntries)
    }
  }

  readonly size = (): number => this.entries.size

  /** The entry of `key` unless it has expired at `now` (then dropped); a hit is the most recently used. */
  read(key: string, now: number): Entry | undefined {
    const record = this.entries.get(key)
    if (record === undefined) return undefined
    if (record.entry.expiresAt <= now) {
      this.remove(key, record)
      return undefined
    }
    // most recently used goes last, in the store and in its name
    this.entries.moveToBack(key)
    record.ns?.keys.moveToBack(key)
    return record.entry
  }

  /** Holds `entry` under `key` (for the name `name`, bounded by `nameMax`), evicting the least recently used. */
  write(key: string, entry: Entry, name: string | undefined, nameMax: number): void {
    const held = this.entries.get(key)
    if (held !== undefined) this.remove(key, held)
    let ns: Namespace | undefined
    if (name !== undefined) {
      ns = this.namespaces.get(name)
      if (ns === undefined) {
        ns = { name, keys: new LinkedMap() }
        this.namespaces.set(name, ns)
      }
    }
    const record: Record = { entry, ns }
    this.entries.set(key, record)
    if (ns !== undefined) {
      ns.keys.set(key, record)
      while (ns.keys.size > nameMax) this.evict(ns.keys.firstKey()!)
    }
    while (this.entries.size > this.maxEntries) this.evict(this.entries.firstKey()!)
  }

  /** Forgets `key`. */
  forget(key: string): void {
    const record = this.entries.get(key)
    if (record !== undefined) this.remove(key, record)
  }

  private evict(key: string): void {
    this.remove(key, this.entries.get(key)!)
  }

  private remove(key: string, record: Record): void {
    this.entries.delete(key)
    const ns = record.ns
    if (ns === undefined) return
    ns.keys.delete(key)
    // a name without entries is forgotten (a policy's partition finds or makes it again)
    if (ns.keys.size === 0) this.namespaces.delete(ns.name)
  }

  readonly get = (key: string, now: number): Effect.Effect<Option.Option<Entry>> =>
    Effect.sync(() => Option.fromNullable(this.read(key, now)))

  readonly set = (key: string, entry: Entry): Effect.Effect<void> =>
    Effect.sync(() => {
      // a key already held keeps its name; a new one belongs to none (only the store's bound applies)
      const ns = this.entries.get(key)?.ns
      this.write(key, entry, ns?.name, Infinity)
    })

  readonly delete = (key: string): Effect.Effect<void> => Effect.sync(() => this.forget(key))
}

/** A named policy's share of a memory store. */
class NamedPartition implements Partition {
  constructor(
    private readonly store: MemoryStaleStore,
    private readonly name: string,
    private readonly maxEntries: number
  ) {}
  get(key: string, now: number): Entry | undefined {
    return this.store.read(key, now)
  }
  set(key: string, entry: Entry): void {
    this.store.write(key, entry, this.name, this.maxEntries)
  }
  delete(key: string): void {
    this.store.forget(key)
  }
}

/** An unnamed policy's own entries: an LRU of at most `maxEntries`, outside the store. */
class PrivatePartition implements Partition {
  private readonly entries = new LinkedMap<string, Entry>()
  constructor(private readonly maxEntries: number) {}
  get(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      this.entries.delete(key)
      return undefined
    }
    this.entries.moveToBack(key) // most recently used goes last
    return entry
  }
  set(key: string, entry: Entry): void {
    this.entries.delete(key)
    this.entries.set(key, entry)
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.firstKey()!)
  }
  delete(key: string): void {
    this.entries.delete(key)
  }
}

/** @internal */
export const unsafeMake = (
  options: Fallback.StaleStore.MemoryOptions | undefined = {},
  m = "Fallback.makeStoreMemory"
): MemoryStore => new MemoryStaleStore(memoryStoreSpec.resolve(options, m).maxEntries)

/** @internal */
export const makeEffect = (
  options?: Fallback.StaleStore.MemoryOptions,
  m?: string
): Effect.Effect<MemoryStore, InvalidOptionsError> => validate.validated(() => unsafeMake(options, m))

/** @internal */
export const StaleStore: Context.Reference<Store, Store> = Context.Reference<Store>()(
  "effect-resilience/Fallback/StaleStore",
  { defaultValue: (): Store => unsafeMake() }
)

/** @internal */
export const layer = (options?: Fallback.StaleStore.MemoryOptions): Layer.Layer<Store, InvalidOptionsError> =>
  Layer.effect(StaleStore, makeEffect(options, "Fallback.layerStoreMemory"))
