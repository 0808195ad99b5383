/**
 * The in-memory `CircuitBreakerStore`: circuits in a `LinkedMap` per
 * namespace, each holding one state value (see machine.ts) replaced
 * atomically on every transition. Idle circuits are swept by a fiber that
 * every breaker using the namespace runs in its scope; the number of circuits
 * is bounded by `maxKeys`. Only circuits whose state no longer decides what
 * the next call gets are ever dropped (`Machine.evictable`); when full of
 * circuits it must keep, the store admits a new key untracked rather than
 * forget one.
 *
 * A namespace keeps its breaker's own circuit (key `undefined`) in a field
 * of its own besides the map, so the breaker's hot path reaches it without a
 * lookup (see `Namespace.find`).
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
import { forkSweeper } from "../sweeper.js"
import * as Spec from "../spec.js"
import { monotonicMillis } from "../time.js"
import * as validate from "../validate.js"
import { CircuitBreakerStoreError, DEFAULT_KEY } from "./errors.js"
import * as Machine from "./machine.js"

type Store = CircuitBreaker.CircuitBreakerStore
type Config = CircuitBreaker.CircuitBreakerStore.Config
type ModeSetting = CircuitBreaker.CircuitBreakerStore.ModeSetting
type Admission = CircuitBreaker.CircuitBreakerStore.Admission
type Admitted = CircuitBreaker.CircuitBreakerStore.Admitted
type Ticket = CircuitBreaker.CircuitBreakerStore.Ticket
type CallResult = CircuitBreaker.CircuitBreakerStore.CallResult
type Recorded = CircuitBreaker.CircuitBreakerStore.Recorded
type Transition = CircuitBreaker.Transition

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

const ENFORCING: ModeSetting = { _tag: "ModeSetting", mode: "Enforcing", since: 0, generation: 0 }

/**
 * The circuits of one namespace (one breaker name), and its synchronous
 * handle (the breaker's fast path: `CircuitBreakerStore.UnsafeNamespace`).
 */
class Namespace implements CircuitBreaker.CircuitBreakerStore.UnsafeNamespace {
  /** Keyed circuits by key, and the own circuit under `undefined`. Oldest first (see LinkedMap). */
  readonly circuits = new LinkedMap<string | undefined, Machine.Circuit>()
  /** The own circuit (key `undefined`), also in `circuits`: reached without a lookup. */
  own: Machine.Circuit | undefined = undefined
  /** Breakers registered on it; the namespace is dropped after the last one leaves. */
  refs = 0
  /** The configuration of the breakers using it (what `evictable` reads). */
  config: Config | undefined = undefined
  mode: ModeSetting = ENFORCING

  constructor(readonly store: MemoryStore) {}

  /** The circuit of `key`, if held. */
  find(key: string | undefined): Machine.Circuit | undefined {
    return key === undefined ? this.own : this.circuits.get(key)
  }

  add(key: string | undefined, circuit: Machine.Circuit): void {
    this.circuits.set(key, circuit)
    if (key === undefined) this.own = circuit
  }

  drop(key: string | undefined): void {
    this.circuits.delete(key)
    if (key === undefined) this.own = undefined
  }

  // the handle's members are own properties, as a store's (see MemoryStore)
  readonly admit = (key: string | undefined, config: Config, now: number, allowProbe: boolean): Admission | undefined => {
    let circuit = this.find(key)
    if (circuit === undefined) {
      // a new key in a full store: making room (or not) is left to the guarded path, once
      if (!allowProbe && this.store.full()) return undefined
      circuit = this.store.circuitOf(this, key, config, now)
      // full of circuits that must be kept: the new key runs untracked
      if (circuit === undefined) return this.store.untrackedAdmission()
    }
    return Machine.admit(circuit, config, this.store.seq, now, allowProbe)
  }

  readonly record = (key: string | undefined, config: Config, ticket: Ticket, result: CallResult, now: number): Recorded => {
    const circuit = this.find(key)
    // the circuit was dropped (idle or store full) while the call ran: nothing to move
    if (circuit === undefined) return Machine.FENCED
    return Machine.record(circuit, config, this.store.seq, ticket, result, now)
  }

  readonly admitClosed = (key: string | undefined): Admitted | undefined => {
    const circuit = this.find(key)
    return circuit === undefined ? undefined : Machine.admitClosed(circuit)
  }

  readonly recordClosedSuccess = (key: string | undefined, ticket: Ticket): boolean => {
    const circuit = this.find(key)
    return circuit !== undefined && Machine.recordClosedSuccess(circuit, ticket)
  }
}

/**
 * The memory store. Its counters (`size`, `evictions`, …) are for tests and
 * benchmarks.
 * @internal
 */
export class MemoryStore implements Store {
  readonly kind = "memory"
  /** The breaker gives it monotonic time (never steps with the system clock). */
  readonly time = "monotonic"
  readonly unsafe: CircuitBreaker.CircuitBreakerStore.Unsafe
  private readonly byName = new Map<string, Namespace>()
  private held = 0
  private evicted = 0
  private untrackedCount = 0
  private generation = 0
  /** Hands out generations and lease ids, unique within the store. */
  readonly seq: Machine.Sequence = { next: () => ++this.generation }
  private readonly sweepInterval: number

  constructor(readonly idleTimeToLive: number, readonly maxKeys: number) {
    this.sweepInterval = Math.max(MIN_SWEEP_INTERVAL, Math.floor(idleTimeToLive / 2))
    this.unsafe = { namespace: (name) => this.namespaceOf(name) }
  }

  // -- bookkeeping -----------------------------------------------------------

  /** Circuits held, over every namespace. */
  readonly size = (): number => this.held
  readonly namespaces = (): number => this.byName.size
  readonly evictions = (): number => this.evicted
  /** Admissions of new keys that ran untracked because the store was full of circuits it must keep. */
  readonly untracked = (): number => this.untrackedCount
  full(): boolean {
    return this.held >= this.maxKeys
  }
  untrackedAdmission(): Admitted {
    this.untrackedCount++
    return Machine.UNTRACKED
  }

  namespaceOf(name: string): Namespace {
    let ns = this.byName.get(name)
    if (ns === undefined) {
      ns = new Namespace(this)
      this.byName.set(name, ns)
    }
    return ns
  }

  /** The circuit of `key`, made if needed; `undefined` when the store is full of circuits it must keep. */
  circuitOf(ns: Namespace, key: string | undefined, config: Config, now: number): Machine.Circuit | undefined {
    let circuit = ns.find(key)
    if (circuit === undefined) {
      ns.config = config
      if (!this.makeRoom(ns, now)) return undefined
      // the own circuit (no key) is reported as DEFAULT_KEY, but is never the circuit of the key "default"
      circuit = Machine.make(key ?? DEFAULT_KEY, config, this.seq, now)
      ns.add(key, circuit)
      this.held++
    }
    return circuit
  }

  /**
   * Makes room for one circuit: drops the oldest circuit that can be dropped
   * (`Machine.evictable`), of the namespace first, then of the others,
   * examining at most ROOM_SCAN circuits (those kept go to the back). False
   * when there is no room: every circuit examined must be kept.
   */
  private makeRoom(ns: Namespace, now: number): boolean {
    if (this.held < this.maxKeys) return true
    const budget = { left: ROOM_SCAN }
    if (ns.circuits.size > 0 && this.dropOldest(ns, now, budget)) return true
    for (const other of this.byName.values()) {
      if (budget.left <= 0) return false
      if (other !== ns && other.circuits.size > 0 && this.dropOldest(other, now, budget)) return true
    }
    return false
  }

  /** Drops the oldest evictable circuit of `victim` within the scan budget (those kept go to the back). */
  private dropOldest(victim: Namespace, now: number, budget: { left: number }): boolean {
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
      return --budget.left <= 0
    })
    for (const key of kept) victim.circuits.moveToBack(key)
    if (!found) return false
    victim.drop(victimKey)
    this.held--
    this.evicted++
    return true
  }

  /** Drops the idle circuits of `name` that can be dropped; returns how many. */
  readonly sweep = (name: string, now: number): number => {
    const ns = this.byName.get(name)
    if (ns === undefined) return 0
    const idle: Array<string | undefined> = []
    for (const [key, circuit] of ns.circuits) {
      // used since the last sweep by calls that read no time: used now, as far as idleness goes
      if (circuit.touched) {
        circuit.touched = false
        circuit.lastUsed = now
        continue
      }
      if (now - circuit.lastUsed >= this.idleTimeToLive && Machine.evictable(circuit, ns.config!, now)) idle.push(key)
    }
    for (const key of idle) ns.drop(key)
    this.held -= idle.length
    this.evicted += idle.length
    return idle.length
  }

  // -- the store (own properties: a store may be wrapped by spreading or picking its members) ---------

  readonly register = (name: string, config: Config): Effect.Effect<void, never, Scope.Scope> => {
    const join = Effect.acquireRelease(
      Effect.sync(() => {
        const ns = this.namespaceOf(name)
        ns.refs++
        ns.config = config
      }),
      () => Effect.sync(() => this.leave(name))
    )
    const sweeper = Effect.clockWith((clock) =>
      forkSweeper(this.sweepInterval, Effect.sync(() => this.sweep(name, monotonicMillis(clock))))
    )
    return Effect.zipRight(join, sweeper)
  }

  readonly admit = (name: string, key: string | undefined, config: Config, now: number): Effect.Effect<Admission> =>
    Effect.sync(() => this.namespaceOf(name).admit(key, config, now, true)!)

  readonly record = (
    name: string,
    key: string | undefined,
    config: Config,
    ticket: Ticket,
    result: CallResult,
    now: number
  ): Effect.Effect<Recorded> => Effect.sync(() => this.namespaceOf(name).record(key, config, ticket, result, now))

  readonly snapshot = (
    name: string,
    key: string | undefined,
    config: Config,
    now: number
  ): Effect.Effect<CircuitBreaker.CircuitBreakerStore.Snapshot> =>
    Effect.sync(() => {
      const circuit = this.byName.get(name)?.find(key)
      return circuit === undefined
        ? Machine.snapshot(Machine.make(key ?? DEFAULT_KEY, config, { next: () => 0 }, now), config, now)
        : Machine.snapshot(circuit, config, now)
    })

  readonly isolate = (
    name: string,
    key: string | undefined,
    config: Config,
    now: number
  ): Effect.Effect<ReadonlyArray<Transition>, CircuitBreakerStoreError> =>
    Effect.suspend(() => {
      const circuit = this.circuitOf(this.namespaceOf(name), key, config, now)
      return circuit === undefined
        ? Effect.fail(
          new CircuitBreakerStoreError({
            operation: "isolate",
            detail: `the store is full (maxKeys ${this.maxKeys}) of circuits it must keep (open, half-open, isolated)`
          })
        )
        : Effect.succeed(Machine.isolate(circuit, config, this.seq, now))
    })

  readonly reset = (
    name: string,
    key: string | undefined,
    config: Config,
    now: number
  ): Effect.Effect<ReadonlyArray<Transition>> =>
    Effect.sync(() => {
      // a circuit that does not exist is closed already: nothing to reset, no namespace to create
      const circuit = this.byName.get(name)?.find(key)
      return circuit === undefined ? [] : Machine.reset(circuit, config, this.seq, now)
    })

  readonly getMode = (name: string): Effect.Effect<ModeSetting> =>
    Effect.sync(() => this.byName.get(name)?.mode ?? ENFORCING)

  readonly setMode = (name: string, mode: CircuitBreaker.Mode, now: number, after = 0): Effect.Effect<ModeSetting> =>
    Effect.sync(() => {
      const ns = this.namespaceOf(name)
      if (ns.mode.mode !== mode || ns.mode.generation < after) {
        // above what the caller applied, and every generation given later above this one
        // Stryker disable next-line EqualityOperator: equivalent: at equality the assignment keeps the same value
        if (after > this.generation) this.generation = after
        ns.mode = { _tag: "ModeSetting", mode, since: now, generation: this.seq.next() }
      }
      return ns.mode
    })

  /** A breaker leaves the namespace; the last one drops it. */
  private leave(name: string): void {
    const ns = this.byName.get(name)
    if (ns === undefined) return
    ns.refs--
    if (ns.refs <= 0) {
      this.held -= ns.circuits.size
      this.byName.delete(name)
    }
  }
}

/** The options of `CircuitBreaker.makeStoreMemory` and `layerStoreMemory`. @internal */
export const memoryOptionsSpec = Spec.struct<CircuitBreaker.CircuitBreakerStore.MemoryOptions>()(
  "CircuitBreaker.makeStoreMemory",
  {
    idleTimeToLive: Spec.millis().default(Duration.millis(DEFAULT_IDLE_TIME_TO_LIVE), "1 hour"),
    maxKeys: Spec.integer({ min: 1 }).default(DEFAULT_MAX_KEYS)
  }
)

/** @internal */
export const unsafeMake = (
  options: CircuitBreaker.CircuitBreakerStore.MemoryOptions = {},
  m = "CircuitBreaker.makeStoreMemory"
): MemoryStore => {
  const { idleTimeToLive, maxKeys } = memoryOptionsSpec.resolve(options, m)
  return new MemoryStore(idleTimeToLive, maxKeys)
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
