/**
 * The `BulkheadStore` service and its in-memory default.
 *
 * Every call first takes a permit of its partition's herd-free FIFO
 * semaphore, in this process: that is where callers queue and where
 * `maxQueue`, `maxWait` and the enclosing deadline apply. The in-memory
 * store keeps the permits there and nowhere else: the semaphore counts them,
 * synchronously, on the call path (the bulkhead's fast path takes nothing
 * from the store). A shared store (Redis) adds leases: a call holding a
 * local permit then takes one of the `maxConcurrent` leases of its partition,
 * shared by every process using the store.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type * as Bulkhead from "../../Bulkhead.js"

type Store = Bulkhead.BulkheadStore

/** The in-memory store: the permits are the bulkhead's own semaphores. @internal */
export const memory: Store = { kind: "memory", leases: undefined }

/** @internal */
export const BulkheadStore: Context.Reference<Store, Store> = Context.Reference<Store>()(
  "effect-resilience/Bulkhead/BulkheadStore",
  { defaultValue: (): Store => memory }
)

/** @internal */
export const layerStoreMemory = (): Layer.Layer<Store> => Layer.succeed(BulkheadStore, memory)
