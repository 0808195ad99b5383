/**
 * The in-memory `CircuitBreakerStore`: circuits in a `Map` per namespace,
 * each holding one state value (see machine.ts) replaced atomically on every
 * transition. Idle circuits are swept by a fiber that every breaker using
 * the namespace runs in its scope; the number of circuits is bounded by
 * `maxKeys` (the oldest is dropped when full).
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as CircuitBreaker from "../../CircuitBreaker.js"
import type { InvalidOptionsError } from "../../Errors.js"
import { LinkedMap } from "../linkedMap.js"
import * as validate from "../validate.js"
import { DEFAULT_KEY } from "./errors.js"
import * as Machine from "./machine.js"
import { monotonicMillis, sleep } from "../time.js"

type Store = CircuitBreaker.CircuitBreakerStore
type Config = CircuitBreaker.CircuitBreakerStore.Config

/** @internal */
export const DEFAULT_IDLE_TIME_TO_LIVE = 60 * 60_000
/** @internal */
export const DEFAULT_MAX_KEYS = 100_000
/** The sweeper never runs more often than this. @internal */
export const MIN_SWEEP_INTERVAL = 1_000

interface Namespace {
  /** By key; `undefined` is the breaker's own circuit. Oldest first, O(1) to reach whatever was deleted (see LinkedMap). */
  readonly circuits: LinkedMap<string | undefined, Machine.Circuit>
  refs: number
  handle: CircuitBreaker.CircuitBreakerStore.UnsafeNamespace | undefined
}

/** The memory store's internals, for tests and benchmarks. @internal */
export interface MemoryStore extends Store {
  readonly size: () => number
  readonly namespaces: () => number
  readonly evictions: () => number
  readonly sweep: (namespace: string, now: number) => number
  readonly idleTimeToLive: number
  readonly maxKeys: number
}

/** @internal */
export const unsafeMake = (
  options: CircuitBreaker.CircuitBreakerStore.MemoryOptions = {},
  m = "CircuitBreaker.makeStoreMemory"
): MemoryStore => {
  options = validate.options(m, options)
  const idleTimeToLive = options.idleTimeToLive === undefined
    ? DEFAULT_IDLE_TIME_TO_LIVE
    : Duration.toMillis(validate.duration(m, "idleTimeToLive", options.idleTimeToLive))
  const maxKeys = validate.optionalNumber(m, "maxKeys", options.maxKeys, { min: 1, integer: true }) ?? DEFAULT_MAX_KEYS
  const namespaces = new Map<string, Namespace>()
  let size = 0
  let evictions = 0
  let generation = 0
  const seq: Machine.Sequence = { next: () => ++generation }

  const namespaceOf = (name: string): Namespace => {
    let ns = namespaces.get(name)
    if (ns === undefined) {
      ns = { circuits: new LinkedMap(), refs: 0, handle: undefined }
      namespaces.set(name, ns)
    }
    return ns
  }

  /** Makes room for one circuit: drops the oldest one that holds nothing worth keeping, else the oldest non-isolated. */
  const makeRoom = (ns: Namespace, now: number): void => {
    if (size < maxKeys) return
    // Stryker disable next-line MethodExpression: equivalent: the filter only skips empty namespaces, which the loop below passes over without dropping anything
    const victims = ns.circuits.size > 0 ? [ns] : [...namespaces.values()].filter((n) => n.circuits.size > 0)
    for (const victim of victims) {
      let found = false
      let victimKey: string | undefined
      let fallback: { readonly key: string | undefined } | undefined
      let scanned = 0
      // oldest first: O(scanned), whatever was evicted before (a plain Map's iterator walks its holes)
      victim.circuits.some((circuit, key) => {
        if (Machine.evictable(circuit, now)) {
          found = true
          victimKey = key
          return true
        }
        if (fallback === undefined && circuit.state._tag !== "Isolated") fallback = { key }
        return ++scanned >= 64 && fallback !== undefined
      })
      if (!found && fallback !== undefined) {
        found = true
        victimKey = fallback.key
      }
      if (found) {
        victim.circuits.delete(victimKey)
        size--
        evictions++
        return
      }
    }
  }

  const circuitOf = (ns: Namespace, key: string | undefined, config: Config, now: number): Machine.Circuit => {
    let circuit = ns.circuits.get(key)
    if (circuit === undefined) {
      makeRoom(ns, now)
      // the own circuit (no key) is reported as DEFAULT_KEY, but is never the circuit of the key "default"
      circuit = Machine.make(key ?? DEFAULT_KEY, config, seq, now)
      ns.circuits.set(key, circuit)
      size++
    }
    return circuit
  }

  const handleOf = (name: string): CircuitBreaker.CircuitBreakerStore.UnsafeNamespace => {
    const ns = namespaceOf(name)
    // Stryker disable next-line ConditionalExpression: equivalent: a new handle closes over the same namespace and behaves exactly like the cached one (the cache only saves an allocation)
    if (ns.handle !== undefined) return ns.handle
    const handle: CircuitBreaker.CircuitBreakerStore.UnsafeNamespace = {
      admit: (key, config, now, allowProbe) => Machine.admit(circuitOf(ns, key, config, now), config, seq, now, allowProbe),
      record: (key, config, ticket, result, now) => {
        const circuit = ns.circuits.get(key)
        // the circuit was dropped (idle or store full) while the call ran: nothing to move
        if (circuit === undefined) return Machine.FENCED
        return Machine.record(circuit, config, seq, ticket, result, now)
      }
    }
    ns.handle = handle
    return handle
  }

  const sweep = (name: string, now: number): number => {
    const ns = namespaces.get(name)
    if (ns === undefined) return 0
    let dropped = 0
    for (const [key, circuit] of ns.circuits) {
      if (now - circuit.lastUsed >= idleTimeToLive && Machine.evictable(circuit, now)) {
        ns.circuits.delete(key)
        dropped++
      }
    }
    size -= dropped
    evictions += dropped
    return dropped
  }

  const sweepInterval = Math.max(MIN_SWEEP_INTERVAL, Math.floor(idleTimeToLive / 2))

  const register = (name: string): Effect.Effect<void, never, Scope.Scope> =>
    Effect.gen(function*() {
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          namespaceOf(name).refs++
        }),
        () =>
          Effect.sync(() => {
            const ns = namespaces.get(name)
            if (ns === undefined) return
            ns.refs--
            if (ns.refs <= 0) {
              size -= ns.circuits.size
              namespaces.delete(name)
            }
          })
      )
      yield* Effect.clockWith((clock) =>
        sleep(sweepInterval).pipe(
          Effect.zipRight(Effect.sync(() => sweep(name, monotonicMillis(clock)))),
          Effect.forever
        )
      ).pipe(Effect.interruptible, Effect.forkScoped)
    })

  const sync = <A>(f: () => A) => Effect.sync(f)

  const store: MemoryStore = {
    kind: "memory",
    // the breaker gives it monotonic time (never steps with the system clock)
    time: "monotonic",
    register,
    admit: (name, key, config, now) => sync(() => handleOf(name).admit(key, config, now, true)!),
    record: (name, key, config, ticket, result, now) => sync(() => handleOf(name).record(key, config, ticket, result, now)),
    snapshot: (name, key, config, now) =>
      sync(() => {
        const circuit = namespaces.get(name)?.circuits.get(key)
        return circuit === undefined
          ? Machine.snapshot(Machine.make(key ?? DEFAULT_KEY, config, { next: () => 0 }, now), config, now)
          : Machine.snapshot(circuit, config, now)
      }),
    isolate: (name, key, config, now) => sync(() => Machine.isolate(circuitOf(namespaceOf(name), key, config, now), seq, now)),
    reset: (name, key, config, now) =>
      sync(() => {
        // a circuit that does not exist is closed already: nothing to reset, no namespace to create
        const circuit = namespaces.get(name)?.circuits.get(key)
        return circuit === undefined ? [] : Machine.reset(circuit, config, seq, now)
      }),
    unsafe: { namespace: handleOf },
    size: () => size,
    namespaces: () => namespaces.size,
    evictions: () => evictions,
    sweep,
    idleTimeToLive,
    maxKeys
  }
  return store
}

/** @internal */
export const makeEffect = (
  options?: CircuitBreaker.CircuitBreakerStore.MemoryOptions,
  m?: string
): Effect.Effect<Store, InvalidOptionsError> => validate.validated(() => unsafeMake(options, m))

/** @internal */
export const CircuitBreakerStore: Context.Reference<Store, Store> = Context.Reference<Store>()(
  "effect-resilience/CircuitBreaker/CircuitBreakerStore",
  { defaultValue: (): Store => unsafeMake() }
)

/** @internal */
export const layer = (
  options?: CircuitBreaker.CircuitBreakerStore.MemoryOptions
): Layer.Layer<Store, InvalidOptionsError> => Layer.effect(CircuitBreakerStore, makeEffect(options, "CircuitBreaker.layerStoreMemory"))
