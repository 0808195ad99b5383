/**
 * The stale-if-error policy (`Fallback.staleIfError`): {@link StaleIfErrorImpl}
 * remembers every success per key in the `Fallback.StaleStore` it finds in
 * the environment and serves the remembered value when the source fails with
 * a handled error.
 *
 * - **Memory store** (a store with a synchronous `unsafe` handle): the policy
 *   reads and writes its partition on the caller's path, with no Effect (a
 *   map update per success).
 * - **Other stores** (Redis, a user's): writes go through the policy's
 *   {@link StaleWrites} queue, off the callers' path; reads are Effects, and a
 *   failing store is reported, never the caller's failure.
 * - **Codec.** With a `schema`, values reach the store encoded by it and are
 *   decoded when read back: a value that does not decode (another policy's,
 *   another version's) is reported and not served.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type { InvalidKeyError, InvalidOptionsError } from "../../Errors.js"
import type * as Fallback from "../../Fallback.js"
import * as EventHub from "../events.js"
import * as Keys from "../keys.js"
import * as metricKeys from "../metricKeys.js"
import { unsafeMakeTransformCallable } from "../policy.js"
import { monotonicMillis } from "../time.js"
import * as validate from "../validate.js"
import * as classify from "./classify.js"
import { StaleStoreError } from "./errors.js"
import { servedKey } from "./fallback.js"
import { StaleStore } from "./memoryStore.js"
import * as options_ from "./options.js"
import { StaleWrites } from "./writes.js"

type Store = Fallback.StaleStore
type Entry = Fallback.StaleEntry
type FallbackEvent = Fallback.FallbackEvent
type Served<A, E> = Fallback.Served<A, E>
type Operation = StaleStoreError["operation"]

/** @internal */
export const TypeId: Fallback.StaleIfErrorTypeId = Symbol.for(
  "effect-resilience/Fallback/StaleIfError"
) as Fallback.StaleIfErrorTypeId

/** @internal */
export const isStaleIfError = (u: unknown): u is Fallback.StaleIfError<unknown, unknown> =>
  Predicate.hasProperty(u, TypeId)

const staleMissKey = MetricKey.counter("resilience_fallback_stale_miss", {
  description: "Handled failures for which stale-if-error had nothing fresh enough to serve",
  incremental: true
})
const staleStoreErrorKey = MetricKey.counter("resilience_fallback_stale_store_errors", {
  description: "Stale store operations that failed, and values dropped from a full write queue (tagged with the operation)",
  incremental: true
})

/**
 * A stale-if-error policy: its store (a partition of a memory store, or a
 * store and a write queue), its codec, its counters, metrics and events.
 *
 * @internal
 */
class StaleIfErrorImpl<A> {
  readonly hub = EventHub.make<FallbackEvent>()
  readonly name: string
  readonly keyPolicy: Keys.KeyPolicy
  /** The memory store's synchronous partition of this policy, if the store is in memory. */
  readonly partition: Fallback.StaleStore.Partition | undefined
  /** The queue of writes to a store that is not in memory. */
  readonly writes: StaleWrites | undefined
  /** An in-process store is stamped on monotonic time (time.ts); a shared one on wall time. */
  readonly monotonic: boolean
  readonly encode: ((a: unknown) => Effect.Effect<unknown, unknown>) | undefined
  readonly decode: ((u: unknown) => Effect.Effect<unknown, unknown>) | undefined
  private readonly served: Metric.Metric.Counter<number>
  private readonly misses: Metric.Metric.Counter<number>
  private readonly storeErrorMetric: { readonly [K in Operation]: Effect.Effect<void> }
  calls = 0
  stored = 0
  servedCount = 0
  missCount = 0
  storeErrors = 0

  constructor(readonly config: options_.Config, readonly store: Store) {
    const name = config.name
    this.name = name
    this.keyPolicy = { kind: "StaleIfError", name, maxKeyLength: config.maxKeyLength }
    // a named policy shares its name's entries; an unnamed one keeps its own
    this.partition = store.unsafe?.partition(config.named ? name : undefined, config.maxEntries)
    this.writes = this.partition === undefined
      ? new StaleWrites({ write: (key, sk, entry) => this.write(key, sk, entry), dropped: (key, e) => this.onStoreError(key, e) }, config.maxPendingWrites)
      : undefined
    this.monotonic = store.time === "monotonic"
    const schema = config.schema
    this.encode = schema === undefined ? undefined : Schema.encodeUnknown(schema)
    this.decode = schema === undefined ? undefined : Schema.decodeUnknown(schema)
    // `source` before `policy`, as the wrapper it replaces tagged them
    this.served = metricKeys.tagged(servedKey, [["source", "stale"], ["policy", name]])
    this.misses = metricKeys.tagged(staleMissKey, [["policy", name]])
    const storeErrors = (operation: Operation) =>
      Metric.increment(metricKeys.tagged(staleStoreErrorKey, [["policy", name], ["operation", operation]]))
    this.storeErrorMetric = {
      get: storeErrors("get"),
      set: storeErrors("set"),
      delete: storeErrors("delete")
    }
  }

  nowOf(clock: Clock.Clock): number {
    return this.monotonic ? monotonicMillis(clock) : clock.unsafeCurrentTimeMillis()
  }

  /** `<name.length>:<name>:<key>`: policies sharing a store never share an entry by accident. */
  storeKey(key: string): string {
    return Keys.namespaced(this.name, key)
  }

  refused(key: unknown): Effect.Effect<never, InvalidKeyError> {
    return Effect.fail(Keys.refuse(this.keyPolicy, key))
  }

  /** Counts and reports a store failure (never the caller's). */
  onStoreError(key: string, error: StaleStoreError): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.storeErrors++
      const policy = this.name
      this.hub.emitWith((): FallbackEvent => ({ _tag: "StoreError", policy, key, error }))
      return this.storeErrorMetric[error.operation]
    })
  }

  /** A store operation's failure, defects included (a user's store that throws): reported, never the caller's. */
  reported<X>(key: string, operation: Operation, sk: string, effect: Effect.Effect<X, unknown>): Effect.Effect<X | undefined> {
    return Effect.catchAllCause(effect, (cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.succeed(undefined)
      const failure = Cause.failureOption(cause)
      const error = Option.isSome(failure) && failure.value instanceof StaleStoreError
        ? failure.value
        : new StaleStoreError({ operation, key: sk, cause: Option.isSome(failure) ? failure.value : Cause.squash(cause) })
      return Effect.as(this.onStoreError(key, error), undefined)
    })
  }

  /** A synchronous partition operation; a throw is reported (a user's store), answered by `otherwise`. */
  private unsafely<X>(key: string, operation: Operation, sk: string, f: () => X, otherwise: X): Effect.Effect<X> {
    try {
      return Effect.succeed(f())
    } catch (cause) {
      return Effect.as(this.onStoreError(key, new StaleStoreError({ operation, key: sk, cause })), otherwise)
    }
  }

  /** The background write of one entry (the queue's writer): encoded, written, counted. */
  write(key: string, sk: string, entry: Entry): Effect.Effect<void> {
    const encoded = this.encodeEntry(entry)
    return Effect.clockWith((clock) =>
      Effect.flatMap(
        this.reported(key, "set", sk, Effect.as(Effect.flatMap(encoded, (e) => this.store.set(sk, e, this.nowOf(clock))), true)),
        (ok) =>
          Effect.sync(() => {
            if (ok === true) this.stored++
          })
      )
    )
  }

  private encodeEntry(entry: Entry): Effect.Effect<Entry, unknown> {
    const encode = this.encode
    if (encode === undefined) return Effect.succeed(entry)
    return Effect.map(encode(entry.value), (value) => ({ value, storedAt: entry.storedAt, expiresAt: entry.expiresAt }))
  }

  /** Remembers a success: in the memory partition at once, or queued for the store. */
  remember(clock: Clock.Clock, key: string, value: unknown): Effect.Effect<void> {
    const now = this.nowOf(clock)
    const entry: Entry = { value, storedAt: now, expiresAt: now + this.config.ttl }
    const sk = this.storeKey(key)
    const partition = this.partition
    if (partition === undefined) return this.writes!.enqueue(sk, key, entry)
    if (this.encode === undefined) return this.setNow(partition, key, sk, entry)
    return Effect.flatMap(
      this.reported(key, "set", sk, this.encodeEntry(entry)),
      (encoded) => encoded === undefined ? Effect.void : this.setNow(partition, key, sk, encoded)
    )
  }

  /** Writes the memory partition, on the caller's path (no Effect of its own unless it throws). */
  private setNow(partition: Fallback.StaleStore.Partition, key: string, sk: string, entry: Entry): Effect.Effect<void> {
    try {
      partition.set(sk, entry)
    } catch (cause) {
      return this.onStoreError(key, new StaleStoreError({ operation: "set", key: sk, cause }))
    }
    this.stored++
    return Effect.void
  }

  /**
   * The entry of `sk`, decoded: a value still waiting to be written (newer
   * than the store's), else the store's. Undefined when the store failed
   * (reported).
   */
  lookup(key: string, sk: string, now: number): Effect.Effect<Option.Option<Entry> | undefined> {
    const local = this.writes?.unwritten(sk)
    if (local !== undefined) return Effect.succeed(Option.some(local))
    const partition = this.partition
    const read: Effect.Effect<Option.Option<Entry> | undefined> = partition === undefined
      ? this.reported(key, "get", sk, Effect.suspend(() => this.store.get(sk, now)))
      : this.unsafely(key, "get", sk, () => Option.fromNullable(partition.get(sk, now)), undefined)
    const decode = this.decode
    if (decode === undefined) return read
    return Effect.flatMap(read, (entry) => {
      if (entry === undefined || Option.isNone(entry)) return Effect.succeed(entry)
      const held = entry.value
      return this.reported(
        key,
        "get",
        sk,
        Effect.map(decode(held.value), (value) => Option.some({ value, storedAt: held.storedAt, expiresAt: held.expiresAt }))
      )
    })
  }

  /** Runs `self`; remembers its success under `key`, or serves the remembered value if it fails. */
  run<E, R>(self: Effect.Effect<A, E, R>, key: string): Effect.Effect<Served<A, E>, E, R> {
    return Effect.clockWith((clock) =>
      Effect.suspend(() => {
        this.calls++
        return Effect.matchCauseEffect(self, {
          onSuccess: (value) => Effect.as(this.remember(clock, key, value), { _tag: "Fresh", value, stale: false } as Served<A, E>),
          onFailure: (cause) => this.onFailure(clock, key, cause)
        })
      })
    )
  }

  /** A handled failure: the remembered value, fresh enough, or the failure. */
  private onFailure<E>(clock: Clock.Clock, key: string, cause: Cause.Cause<E>): Effect.Effect<Served<A, E>, E> {
    const input = this.config.classify(cause)
    if (input === classify.NOT_HANDLED) return Effect.failCause(cause)
    const now = this.nowOf(clock)
    const sk = this.storeKey(key)
    return Effect.flatMap(this.lookup(key, sk, now), (entry) => {
      if (entry === undefined) return Effect.failCause(cause) // the store failed: reported
      if (Option.isNone(entry) || entry.value.expiresAt <= now) return this.miss(key, input, cause)
      return this.serveStale(clock, key, input, cause, now, entry.value)
    })
  }

  private miss<E>(key: string, input: unknown, cause: Cause.Cause<E>): Effect.Effect<never, E> {
    this.missCount++
    const policy = this.name
    this.hub.emitWith((): FallbackEvent => ({ _tag: "StaleMiss", policy, key, error: input }))
    return Effect.zipRight(Metric.increment(this.misses), Effect.failCause(cause))
  }

  private serveStale<E>(
    clock: Clock.Clock,
    key: string,
    input: unknown,
    cause: Cause.Cause<E>,
    now: number,
    entry: Entry
  ): Effect.Effect<Served<A, E>> {
    this.servedCount++
    const age = Duration.millis(Math.max(0, now - entry.storedAt))
    const policy = this.name
    this.hub.emitWith((): FallbackEvent => ({ _tag: "FallbackServed", policy, source: "stale", error: input, key, age }))
    return Effect.as(Metric.increment(this.served), {
      _tag: "Stale",
      value: entry.value as A,
      stale: true,
      age,
      // shown in wall time
      storedAt: this.monotonic ? Math.round(entry.storedAt + clock.unsafeCurrentTimeMillis() - now) : entry.storedAt,
      cause
    } as Served<A, E>)
  }

  /** Forgets `key` (the callable form's by default); a write of it waiting is dropped, one in flight awaited. */
  invalidate(k?: string): Effect.Effect<void, InvalidKeyError> {
    const key: unknown = k === undefined ? this.config.key : k
    if (!Keys.isValid(this.keyPolicy, key)) return this.refused(key)
    const sk = this.storeKey(key)
    const partition = this.partition
    if (partition !== undefined) return Effect.suspend(() => this.unsafely(key, "delete", sk, () => partition.delete(sk), undefined))
    const writes = this.writes!
    return Effect.suspend(() => {
      // a waiting write would bring the value back: drop it; one in flight lands first, then the delete
      const inFlight = writes.cancel(sk)
      const del = Effect.asVoid(this.reported(key, "delete", sk, Effect.suspend(() => this.store.delete(sk))))
      return inFlight === undefined ? del : Effect.zipRight(Deferred.await(inFlight), del)
    })
  }

  /** The counters, as a snapshot (the hot-path form of `stats()`). */
  unsafeStats(): Fallback.StaleIfError.Stats {
    return {
      calls: this.calls,
      stored: this.stored,
      served: this.servedCount,
      misses: this.missCount,
      storeErrors: this.storeErrors,
      pendingWrites: this.writes?.size ?? 0
    }
  }
}

const valueOf = <A, E>(s: Served<A, E>): A => s.value

/** Makes the policy over the store `store` (validated options). */
const makePolicy = <A, In>(config: options_.Config, store: Store): Fallback.StaleIfError<A, In> => {
  const impl = new StaleIfErrorImpl<A>(config, store)
  const defaultKey = config.key
  // bound once: the policy calls the implementation directly
  const callable = <E extends In, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.map(impl.run(self, defaultKey), valueOf)
  const execute = dual(
    (args) => Effect.isEffect(args[0]),
    <E extends In, R>(self: Effect.Effect<A, E, R>, opts: { readonly key: string }): Effect.Effect<A, E | InvalidKeyError, R> => {
      const key: unknown = opts?.key
      // refused before `self` runs: nothing stored, nothing served
      return Keys.isValid(impl.keyPolicy, key) ? Effect.map(impl.run(self, key), valueOf) : impl.refused(key)
    }
  )
  const serve = <E extends In, R>(
    self: Effect.Effect<A, E, R>,
    opts?: { readonly key?: string | undefined } | undefined
  ): Effect.Effect<Served<A, E>, E | InvalidKeyError, R> => {
    // only `undefined` means "no key" (the callable form's); `null` is a bad key
    const given: unknown = opts?.key
    const key = given === undefined ? defaultKey : given
    return Keys.isValid(impl.keyPolicy, key) ? impl.run(self, key) : impl.refused(key)
  }
  const stats = Effect.sync(() => impl.unsafeStats())
  const policy = Object.assign(callable, {
    [TypeId]: TypeId,
    policyName: config.name,
    key: defaultKey,
    execute,
    serve,
    invalidate: (key?: string) => impl.invalidate(key),
    flush: impl.writes === undefined ? Effect.void : impl.writes.flush,
    events: impl.hub.stream,
    stats: () => stats,
    unsafeStats: () => impl.unsafeStats()
  })
  return unsafeMakeTransformCallable(policy, {
    kind: "StaleIfError",
    name: config.name,
    options: {
      ttl: Duration.format(Duration.millis(config.ttl)),
      maxEntries: config.maxEntries,
      key: defaultKey,
      store: typeof store.kind === "string" ? store.kind : "custom",
      on: config.on ? "predicate" : "all",
      defects: config.defects,
      interruptions: config.interruptions
    }
  }) as unknown as Fallback.StaleIfError<A, In>
}

/** @internal */
export const make = <A = unknown, In = unknown>(
  options: Fallback.StaleIfError.Options<A, In>
): Effect.Effect<Fallback.StaleIfError<A, In>, InvalidOptionsError> =>
  Effect.flatMap(
    StaleStore,
    (store) =>
      Effect.flatMap(
        validate.validated(() => options_.parse(options, store)),
        (config) => Effect.sync(() => makePolicy<A, In>(config, store))
      )
  )

/** @internal */
export const layer = <I, S, A = unknown, In = unknown>(
  tag: Context.Tag<I, S>,
  options: Fallback.StaleIfError.Options<A, In>
): Layer.Layer<I, InvalidOptionsError> => Layer.effect(tag, make<A, In>(options) as unknown as Effect.Effect<S, InvalidOptionsError>)

/** @internal */
export const config: Config.Config<Fallback.StaleIfError.ConfigOptions> = options_.staleSpec.config as Config.Config<any>

/** @internal */
export const fromConfig = <A = unknown, In = unknown>(
  config: Config.Config.Wrap<Fallback.StaleIfError.ConfigOptions>,
  code?: Fallback.StaleIfError.CodeOptions<A, In> | Schema.Schema<A, any>,
  module = "Fallback.staleIfErrorFromConfig"
): Effect.Effect<Fallback.StaleIfError<A, In>, InvalidOptionsError | ConfigError.ConfigError> =>
  Effect.flatMap(options_.readStaleConfig(module, config, code), (options) => make<A, In>(options))

/** @internal */
export const layerConfig = <I, S, A = unknown, In = unknown>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<Fallback.StaleIfError.ConfigOptions>,
  code?: Fallback.StaleIfError.CodeOptions<A, In> | Schema.Schema<A, any>
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.effect(
    tag,
    fromConfig<A, In>(config, code, "Fallback.layerStaleIfErrorConfig") as unknown as Effect.Effect<
      S,
      InvalidOptionsError | ConfigError.ConfigError
    >
  )

/** @internal */
export const isStale = <A, E>(served: Served<A, E>): served is Extract<Served<A, E>, { readonly stale: true }> => served.stale
