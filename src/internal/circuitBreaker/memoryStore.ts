/**
 * The in-memory `CircuitBreakerStore`: circuits in a `Map` per namespace,
 * each holding one state value (see machine.ts) replaced atomically on every
 * transition. Idle circuits are swept by a fiber that every breaker using
 * the namespace runs in its scope; the number of circuits is bounded by
 * `maxKeys`. Only circuits whose state no longer decides what the next call
 * gets are ever dropped (`Machine.evictable`); when full of circuits it must
 * keep, the store admits a new key untracked rather than forget one.
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
import { CircuitBreakerStoreError, DEFAULT_KEY } from "./errors.js"
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
/**
 * Circuits examined per attempt to make room when full; each one that must
 * be kept is moved to the back, so the next attempt examines others (the
 * cost per new key stays bounded whatever the number held). @internal
 */
export const ROOM_SCAN = 64

const ENFORCING: CircuitBreaker.CircuitBreakerStore.ModeSetting = { _tag: "ModeSetting", mode: "Enforcing", since: 0, generation: 0 }

interface Namespace {
  /** By key; `undefined` is the breaker's own circuit. Oldest first, O(1) to reach whatever was deleted (see LinkedMap). */
  readonly circuits: LinkedMap<string | undefined, Machine.Circuit>
  refs: number
  handle: CircuitBreaker.CircuitBreakerStore.UnsafeNamespace | undefined
  /** The configuration of the breakers using it (what `evictable` reads). */
  config: Config | undefined
  mode: CircuitBreaker.CircuitBreakerStore.ModeSetting
}

/** The memory store's internals, for tests and benchmarks. @internal */
export interface MemoryStore extends Store {
  readonly size: () => number
  readonly namespaces: () => number
  readonly evictions: () => number
  /** Admissions of new keys that ran untracked because the store was full of circuits it must keep. */
  readonly untracked: () => number
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
  let untracked = 0
  let generation = 0
  const seq: Machine.Sequence = { next: () => ++generation }

  const namespaceOf = (name: string): Namespace => {
    let ns = namespaces.get(name)
    if (ns === undefined) {
      ns = { circuits: new LinkedMap(), refs: 0, handle: undefined, config: undefined, mode: ENFORCING }
      namespaces.set(name, ns)
    }
    return ns
  }

  /**
   * Makes room for one circuit: drops the oldest circuit that can be dropped
   * (`Machine.evictable`), of the namespace first, then of the others,
   * examining at most ROOM_SCAN circuits (those kept go to the back). False
   * when there is no room: every circuit examined must be kept.
   */
  const makeRoom = (ns: Namespace, now: number): boolean => {
    if (size < maxKeys) return true
    let budget = ROOM_SCAN
    const dropFrom = (victim: Namespace): boolean => {
      const config = victim.config
      // Stryker disable next-line ConditionalExpression: equivalent: a namespace holding circuits always has a config (set when they were made)
      if (config === undefined) return false
      let found = false
      let victimKey: string | undefined
      const kept: Array<string | undefined> = []
      // oldest first: O(scanned), whatever was evicted before (a plain Map's iterator walks its holes)
      victim.circuits.some((circuit, key) => {
        if (Machine.evictable(circuit, config, now)) {
          found = true
          victimKey = key
          return true
        }
        kept.push(key)
        return --budget <= 0
      })
      for (const key of kept) victim.circuits.moveToBack(key)
      if (!found) return false
      victim.circuits.delete(victimKey)
      size--
      evictions++
      return true
    }
    if (ns.circuits.size > 0 && dropFrom(ns)) return true
    for (const other of namespaces.values()) {
      if (budget <= 0) return false
      if (other !== ns && other.circuits.size > 0 && dropFrom(other)) return true
    }
    return false
  }

  /** The circuit of `key`, made if needed; `undefined` when the store is full of circuits it must keep. */
  const circuitOf = (ns: Namespace, key: string | undefined, config: Config, now: number): Machine.Circuit | undefined => {
    let circuit = ns.circuits.get(key)
    if (circuit === undefined) {
      ns.config = config
      if (!makeRoom(ns, now)) return undefined
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
      admit: (key, config, now, allowProbe) => {
        let circuit = ns.circuits.get(key)
        if (circuit === undefined) {
          // a new key in a full store: making room (or not) is left to the guarded path, once
          if (!allowProbe && size >= maxKeys) return undefined
          circuit = circuitOf(ns, key, config, now)
          if (circuit === undefined) {
            // full of circuits that must be kept: the new key runs untracked
            untracked++
            return Machine.UNTRACKED
          }
        }
        return Machine.admit(circuit, config, seq, now, allowProbe)
      },
      record: (key, config, ticket, result, now) => {
        const circuit = ns.circuits.get(key)
        // the circuit was dropped (idle or store full) while the call ran: nothing to move
        if (circuit === undefined) return Machine.FENCED
        return Machine.record(circuit, config, seq, ticket, result, now)
      },
      admitClosed: (key) => {
        const circuit = ns.circuits.get(key)
        return circuit === undefined ? undefined : Machine.admitClosed(circuit)
      },
      recordClosedSuccess: (key, ticket) => {
        const circuit = ns.circuits.get(key)
        return circuit !== undefined && Machine.recordClosedSuccess(circuit, ticket)
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
      // used since the last sweep by calls that read no time: used now, as far as idleness goes
      if (circuit.touched) {
        circuit.touched = false
        circuit.lastUsed = now
        continue
      }
      if (now - circuit.lastUsed >= idleTimeToLive && Machine.evictable(circuit, ns.config!, now)) {
        ns.circuits.delete(key)
        dropped++
      }
    }
    size -= dropped
    evictions += dropped
    return dropped
  }

  const sweepInterval = Math.max(MIN_SWEEP_INTERVAL, Math.floor(idleTimeToLive / 2))

  const register = (name: string, config: Config): Effect.Effect<void, never, Scope.Scope> =>
    Effect.gen(function*() {
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const ns = namespaceOf(name)
          ns.refs++
          ns.config = config
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
    isolate: (name, key, config, now) =>
      Effect.suspend(() => {
        const circuit = circuitOf(namespaceOf(name), key, config, now)
        return circuit === undefined
          ? Effect.fail(
            new CircuitBreakerStoreError({
              operation: "isolate",
              detail: `the store is full (maxKeys ${maxKeys}) of circuits it must keep (open, half-open, isolated)`
            })
          )
          : Effect.succeed(Machine.isolate(circuit, config, seq, now))
      }),
    reset: (name, key, config, now) =>
      sync(() => {
        // a circuit that does not exist is closed already: nothing to reset, no namespace to create
        const circuit = namespaces.get(name)?.circuits.get(key)
        return circuit === undefined ? [] : Machine.reset(circuit, config, seq, now)
      }),
    getMode: (name) => sync(() => namespaces.get(name)?.mode ?? ENFORCING),
    setMode: (name, mode, now) =>
      sync(() => {
        const ns = namespaceOf(name)
        if (ns.mode.mode !== mode) ns.mode = { _tag: "ModeSetting", mode, since: now, generation: seq.next() }
        return ns.mode
      }),
    unsafe: { namespace: handleOf },
    size: () => size,
    namespaces: () => namespaces.size,
    evictions: () => evictions,
    untracked: () => untracked,
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
