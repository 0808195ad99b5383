/**
 * The state machine of one circuit, as the memory store runs it. Each
 * circuit's state is one tagged union (`CircuitState`) held in its record
 * and replaced on every transition; JavaScript runs each operation to
 * completion, so every admit/record is atomic. The Redis store runs the same
 * machine as Lua scripts (see test/CircuitBreaker.redis-prototype.test.ts).
 *
 * Generations: every transition gives the circuit a new generation (unique
 * in the store), and every admission carries the generation it was made in.
 * A result whose generation is not the circuit's current one is "fenced": it
 * is counted, but it cannot move the state (a late failure from before an
 * opening cannot extend the break; a late success cannot close it).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as CircuitBreaker from "../../CircuitBreaker.js"
import * as Windows from "./windows.js"

type Config = CircuitBreaker.CircuitBreakerStore.Config
type Admission = CircuitBreaker.CircuitBreakerStore.Admission
type Admitted = CircuitBreaker.CircuitBreakerStore.Admitted
type Ticket = CircuitBreaker.CircuitBreakerStore.Ticket
type CallResult = CircuitBreaker.CircuitBreakerStore.CallResult
type Recorded = CircuitBreaker.CircuitBreakerStore.Recorded
type Transition = CircuitBreaker.Transition
type TransitionReason = CircuitBreaker.TransitionReason

/** A probe slot taken in half-open; it expires at `expiresAt` (probeTimeout). @internal */
export interface Lease {
  readonly id: number
  readonly expiresAt: number
}

/** @internal */
export type CircuitState =
  | {
    readonly _tag: "Closed"
    readonly generation: number
    readonly since: number
    /** Consecutive openings before this closed period (reset once it lasts `openDurationResetAfter`). */
    readonly openings: number
    readonly window: Windows.Window
    /** The admission every call of this closed period gets (shared: no allocation per call). */
    readonly ticket: Admitted
  }
  | {
    readonly _tag: "Open"
    readonly generation: number
    readonly since: number
    readonly until: number
    readonly openings: number
  }
  | {
    readonly _tag: "HalfOpen"
    readonly generation: number
    readonly since: number
    readonly openings: number
    readonly leases: Array<Lease>
    successes: number
  }
  | {
    readonly _tag: "Isolated"
    readonly generation: number
    readonly since: number
    readonly openings: number
  }

/** One circuit: its state and its counters. @internal */
export interface Circuit {
  readonly key: string
  state: CircuitState
  lastUsed: number
  successes: number
  failures: number
  ignored: number
  rejections: number
  slowCalls: number
  fenced: number
}

/** Hands out generations and lease ids, unique within a store. @internal */
export interface Sequence {
  next(): number
}

const NO_TRANSITIONS: ReadonlyArray<Transition> = []

/** @internal */
export const UNCHANGED: Recorded = { transitions: NO_TRANSITIONS, fenced: false }
/** @internal */
export const FENCED: Recorded = { transitions: NO_TRANSITIONS, fenced: true }

const closedState = (
  key: string,
  config: Config,
  seq: Sequence,
  since: number,
  openings: number,
  transitions: ReadonlyArray<Transition>
): CircuitState => {
  const generation = seq.next()
  return {
    _tag: "Closed",
    generation,
    since,
    openings,
    window: Windows.make(config),
    ticket: { _tag: "Admitted", generation, lease: 0, transitions }
  }
}

/** @internal */
export const make = (key: string, config: Config, seq: Sequence, now: number): Circuit => ({
  key,
  state: closedState(key, config, seq, now, 0, NO_TRANSITIONS),
  lastUsed: now,
  successes: 0,
  failures: 0,
  ignored: 0,
  rejections: 0,
  slowCalls: 0,
  fenced: 0
})

/** The break for the n-th consecutive opening (from 1), at least `retryAfter`, capped. @internal */
export const openDurationFor = (config: Config, openings: number, retryAfter: number | undefined): number => {
  const table = config.openDurations
  // Stryker disable next-line ArithmeticOperator: equivalent: the fallback is unreachable (openings >= 1 always, so the first lookup finds an entry of a non-empty table; of an empty one both lookups give undefined)
  const base = table[Math.min(openings, table.length) - 1] ?? table[table.length - 1]!
  // Stryker disable next-line EqualityOperator: equivalent: when retryAfter equals base, >= and > pick the same value
  const wanted = retryAfter !== undefined && retryAfter > base ? retryAfter : base
  return Math.min(wanted, config.maxOpenDuration)
}

const transition = (
  key: string,
  from: CircuitState["_tag"],
  to: CircuitState["_tag"],
  at: number,
  generation: number,
  reason: TransitionReason
): Transition => ({ key, from, to, at, generation, reason })

const open = (
  circuit: Circuit,
  config: Config,
  seq: Sequence,
  now: number,
  openings: number,
  retryAfter: number | undefined,
  reason: TransitionReason,
  earlier: ReadonlyArray<Transition>
): Recorded => {
  const from = circuit.state._tag
  const generation = seq.next()
  circuit.state = {
    _tag: "Open",
    generation,
    since: now,
    until: now + openDurationFor(config, openings, retryAfter),
    openings
  }
  return { transitions: [...earlier, transition(circuit.key, from, "Open", now, generation, reason)], fenced: false }
}

/** Open → HalfOpen once the break has elapsed (stamped with the time it ended). */
const materialize = (circuit: Circuit, seq: Sequence, now: number): Transition | undefined => {
  const state = circuit.state
  if (state._tag !== "Open" || now < state.until) return undefined
  const generation = seq.next()
  circuit.state = {
    _tag: "HalfOpen",
    generation,
    since: state.until,
    openings: state.openings,
    leases: [],
    successes: 0
  }
  return transition(circuit.key, "Open", "HalfOpen", state.until, generation, "OpenElapsed")
}

const purgeLeases = (leases: Array<Lease>, now: number): void => {
  for (let i = leases.length - 1; i >= 0; i--) {
    if (leases[i]!.expiresAt <= now) leases.splice(i, 1)
  }
}

/**
 * Admits a call or rejects it. With `allowProbe` false, returns `undefined`
 * (changing nothing) when the call would take a probe slot or move the
 * circuit to half-open: the caller retries with `allowProbe` true from a
 * region where it can guarantee the slot's release.
 * @internal
 */
export const admit = (
  circuit: Circuit,
  config: Config,
  seq: Sequence,
  now: number,
  allowProbe: boolean
): Admission | undefined => {
  let state = circuit.state
  if (state._tag === "Closed") {
    circuit.lastUsed = now
    return state.ticket
  }
  let transitions = NO_TRANSITIONS
  if (state._tag === "Open") {
    if (now < state.until) {
      circuit.lastUsed = now
      circuit.rejections++
      return { _tag: "Rejected", state: "Open", retryAfter: state.until - now, transitions }
    }
    if (!allowProbe) return undefined
    transitions = [materialize(circuit, seq, now)!]
    state = circuit.state
  }
  circuit.lastUsed = now
  if (state._tag === "HalfOpen") {
    const leases = state.leases
    purgeLeases(leases, now)
    if (leases.length < config.probes) {
      if (!allowProbe) return undefined
      const id = seq.next()
      leases.push({ id, expiresAt: now + config.probeTimeout })
      return { _tag: "Admitted", generation: state.generation, lease: id, transitions }
    }
    circuit.rejections++
    let earliest = Infinity
    for (const lease of leases) earliest = Math.min(earliest, lease.expiresAt)
    return { _tag: "Rejected", state: "HalfOpen", retryAfter: earliest - now, transitions }
  }
  circuit.rejections++
  return { _tag: "Rejected", state: "Isolated", retryAfter: undefined, transitions }
}

/**
 * Records the result of an admitted call.
 * @internal
 */
export const record = (
  circuit: Circuit,
  config: Config,
  seq: Sequence,
  ticket: Ticket,
  result: CallResult,
  now: number
): Recorded => {
  circuit.lastUsed = now
  const outcome = result.outcome
  const counted = outcome !== "ignored"
  if (outcome === "success") circuit.successes++
  else if (outcome === "failure") circuit.failures++
  else circuit.ignored++
  const slow = counted && result.slow
  if (slow) circuit.slowCalls++
  const state = circuit.state
  if (state.generation !== ticket.generation) {
    circuit.fenced++
    return FENCED
  }
  switch (state._tag) {
    case "Closed": {
      if (!counted || ticket.lease !== 0) return UNCHANGED
      if (!state.window.add(outcome === "failure", slow, now)) return UNCHANGED
      // the count of consecutive openings starts over once the circuit stayed closed long enough
      const openings = (now - state.since >= config.openDurationResetAfter ? 0 : state.openings) + 1
      return open(circuit, config, seq, now, openings, result.retryAfter, "Tripped", NO_TRANSITIONS)
    }
    case "HalfOpen": {
      const leases = state.leases
      let index = -1
      for (let i = 0; i < leases.length; i++) {
        if (leases[i]!.id === ticket.lease) {
          index = i
          break
        }
      }
      if (index < 0 || leases[index]!.expiresAt <= now) {
        // the probe's lease expired (probeTimeout): its slot went to another caller
        if (index >= 0) leases.splice(index, 1)
        circuit.fenced++
        return FENCED
      }
      leases.splice(index, 1)
      if (!counted) return UNCHANGED
      const failed = outcome === "failure" || (slow && config.slowCallThreshold !== undefined)
      if (failed) {
        return open(circuit, config, seq, now, state.openings + 1, result.retryAfter, "ProbeFailed", NO_TRANSITIONS)
      }
      state.successes++
      if (state.successes < config.successThreshold) return UNCHANGED
      const closed = closedState(circuit.key, config, seq, now, state.openings, NO_TRANSITIONS)
      circuit.state = closed
      return {
        transitions: [transition(circuit.key, "HalfOpen", "Closed", now, closed.generation, "ProbesSucceeded")],
        fenced: false
      }
    }
    default:
      circuit.fenced++
      return FENCED
  }
}

/** Forces the circuit open until `reset`. @internal */
export const isolate = (circuit: Circuit, seq: Sequence, now: number): ReadonlyArray<Transition> => {
  circuit.lastUsed = now
  const state = circuit.state
  if (state._tag === "Isolated") return NO_TRANSITIONS
  const elapsed = materialize(circuit, seq, now)
  const from = circuit.state._tag
  const generation = seq.next()
  circuit.state = { _tag: "Isolated", generation, since: now, openings: state.openings }
  const moved = transition(circuit.key, from, "Isolated", now, generation, "Isolated")
  return elapsed === undefined ? [moved] : [elapsed, moved]
}

/** Closes the circuit with a fresh window and no openings counted. @internal */
export const reset = (circuit: Circuit, config: Config, seq: Sequence, now: number): ReadonlyArray<Transition> => {
  circuit.lastUsed = now
  const elapsed = materialize(circuit, seq, now)
  const from = circuit.state._tag
  const closed = closedState(circuit.key, config, seq, now, 0, NO_TRANSITIONS)
  circuit.state = closed
  // Stryker disable next-line ArrayDeclaration: equivalent: unreachable, a circuit still Closed after materialize had no break to end (elapsed is undefined)
  if (from === "Closed") return elapsed === undefined ? NO_TRANSITIONS : [elapsed]
  const moved = transition(circuit.key, from, "Closed", now, closed.generation, "Reset")
  return elapsed === undefined ? [moved] : [elapsed, moved]
}

/** The state as of `now`, without changing anything (Open past its break reads as HalfOpen). @internal */
export const view = (circuit: Circuit, config: Config, now: number): CircuitBreaker.State => {
  const state = circuit.state
  const key = circuit.key
  switch (state._tag) {
    case "Closed":
      return {
        _tag: "Closed",
        key,
        since: state.since,
        openings: now - state.since >= config.openDurationResetAfter ? 0 : state.openings
      }
    case "Open":
      return now < state.until
        ? {
          _tag: "Open",
          key,
          since: state.since,
          until: state.until,
          retryAfter: Duration.millis(state.until - now),
          openings: state.openings
        }
        : { _tag: "HalfOpen", key, since: state.until, probes: 0, successes: 0, openings: state.openings }
    case "HalfOpen": {
      let live = 0
      for (const lease of state.leases) if (lease.expiresAt > now) live++
      return {
        _tag: "HalfOpen",
        key,
        since: state.since,
        probes: live,
        successes: state.successes,
        openings: state.openings
      }
    }
    case "Isolated":
      return { _tag: "Isolated", key, since: state.since, openings: state.openings }
  }
}

/** The circuit as a snapshot (state, counters, window rates). @internal */
export const snapshot = (circuit: Circuit, config: Config, now: number): CircuitBreaker.CircuitBreakerStore.Snapshot => {
  const state = circuit.state
  const stats = state._tag === "Closed" ? state.window.stats(now) : undefined
  return {
    state: view(circuit, config, now),
    counters: {
      successes: circuit.successes,
      failures: circuit.failures,
      ignored: circuit.ignored,
      rejections: circuit.rejections,
      slowCalls: circuit.slowCalls,
      fenced: circuit.fenced
    },
    window: stats ?? { calls: 0, failures: 0, slowCalls: 0, consecutiveFailures: 0 }
  }
}

/** True when the circuit may be dropped after being idle: nothing it holds would be lost. @internal */
export const evictable = (circuit: Circuit, now: number): boolean => {
  const state = circuit.state
  switch (state._tag) {
    case "Closed":
      return true
    case "Open":
      return now >= state.until
    case "HalfOpen":
      for (const lease of state.leases) if (lease.expiresAt > now) return false
      return true
    // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: without the case the function returns undefined, and both callers use the result as a condition
    case "Isolated":
      return false
  }
}
