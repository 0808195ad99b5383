/**
 * The state machine of one circuit, as the memory store runs it. Each
 * circuit's state is one tagged union (`CircuitState`) held in its record
 * and replaced on every transition; JavaScript runs each operation to
 * completion, so every admit/record is atomic. The Redis store runs the same
 * machine as Lua scripts (see src/redis/internal/circuitBreaker/scripts.ts).
 *
 * Generations: every transition gives the circuit a new generation (unique
 * in the store), and every admission carries the generation it was made in.
 * A result whose generation is not the circuit's current one is "fenced": it
 * is counted, but it cannot move the state (a late failure from before an
 * opening cannot extend the break; a late success cannot close it).
 *
 * Time-driven moves are made lazily, by the first operation that observes
 * them ({@link catchUp}), stamped with the instant they happened: the end of
 * a break (Open → HalfOpen), and the end of a probe's lease (a probe that
 * outlived `probeTimeout` is a failed probe: HalfOpen → Open from then on).
 * `view` shows them without making them.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as CircuitBreaker from "../../CircuitBreaker.js"
import * as Windows from "./windows.js"
import { reaches } from "./windows.js"

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
    /** Failed probes (half-open sampling only: otherwise the first one reopens the circuit). */
    failures: number
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
  /** Used since the sweeper last looked, by a call that read no time (see {@link admitClosed}). */
  touched: boolean
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

/**
 * The admission of a key the store holds no circuit for and cannot make room
 * for without dropping one it must keep: run as if closed, never recorded.
 * @internal
 */
export const UNTRACKED: Admitted = { _tag: "Admitted", generation: -1, lease: 0, transitions: NO_TRANSITIONS, untracked: true }

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
  touched: false,
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

/** Opens the circuit at `at` (now, or the end of a timed-out probe's lease), appending the transition to `out`. */
const open = (
  circuit: Pick<Circuit, "key" | "state">,
  config: Config,
  seq: Sequence,
  at: number,
  openings: number,
  retryAfter: number | undefined,
  reason: TransitionReason,
  out: Array<Transition>
): Array<Transition> => {
  const from = circuit.state._tag
  const generation = seq.next()
  circuit.state = {
    _tag: "Open",
    generation,
    since: at,
    until: at + openDurationFor(config, openings, retryAfter),
    openings
  }
  out.push(transition(circuit.key, from, "Open", at, generation, reason))
  return out
}

/** Open → HalfOpen once the break has elapsed (stamped with the time it ended). */
const materialize = (circuit: Pick<Circuit, "key" | "state">, seq: Sequence, now: number): Transition | undefined => {
  const state = circuit.state
  // Stryker disable next-line LogicalOperator: equivalent: catchUp calls materialize only for an Open state whose break has ended, where || and && give the same (false)
  if (state._tag !== "Open" || now < state.until) return undefined
  const generation = seq.next()
  circuit.state = {
    _tag: "HalfOpen",
    generation,
    since: state.until,
    openings: state.openings,
    leases: [],
    successes: 0,
    failures: 0
  }
  return transition(circuit.key, "Open", "HalfOpen", state.until, generation, "OpenElapsed")
}

/** The index of the earliest-ending lease, or -1. */
const earliestLease = (leases: ReadonlyArray<Lease>): number => {
  let index = -1
  for (let i = 0; i < leases.length; i++) {
    if (index < 0 || leases[i]!.expiresAt < leases[index]!.expiresAt) index = i
  }
  return index
}

/** Half-open sampling: the failed probes reach the threshold (the circuit reopens). */
const sampleFails = (state: { readonly failures: number }, config: Config): boolean =>
  reaches(state.failures, config.probes, config.probeFailureRateThreshold!)

/** Half-open sampling: so many probes succeeded that the failure rate can no longer reach the threshold (it closes). */
const samplePasses = (state: { readonly successes: number }, config: Config): boolean =>
  !reaches(config.probes - state.successes, config.probes, config.probeFailureRateThreshold!)

/**
 * Half-open sampling whose decided probes already fill `config.probes`: the sample is complete
 * under this configuration, though no result decided it — `probes` was lowered since the period
 * began (a rolling deploy, two breakers of one name on one store). No probe would be admitted
 * again and none may be running, so the admission decides it (see {@link admit}).
 */
const sampleComplete = (state: { readonly successes: number; readonly failures: number }, config: Config): boolean =>
  config.probeFailureRateThreshold !== undefined && state.successes + state.failures >= config.probes

/** Probe slots taken in this half-open period: running ones, and under sampling the decided ones too. */
const slotsTaken = (state: { readonly leases: ReadonlyArray<Lease>; readonly successes: number; readonly failures: number }, config: Config): number =>
  config.probeFailureRateThreshold === undefined ? state.leases.length : state.leases.length + state.successes + state.failures

/**
 * Makes the moves time has made since the last operation, in the order they
 * happened: the end of a break (Open → HalfOpen at `until`), then each probe
 * lease that ended before `now` while its probe was still running, as a
 * failed probe at the lease's end — it reopens the circuit from then under
 * the default rule (and the break may itself have ended since), or counts as
 * a failed sample under half-open sampling. Returns the transitions made,
 * appended to `out` (allocated only if any).
 * @internal
 */
export const catchUp = (
  circuit: Pick<Circuit, "key" | "state">,
  config: Config,
  seq: Sequence,
  now: number,
  out: Array<Transition> | undefined
): Array<Transition> | undefined => {
  for (;;) {
    const state = circuit.state
    if (state._tag === "Open") {
      if (now < state.until) return out
      ;(out ??= []).push(materialize(circuit, seq, now)!)
      continue
    }
    if (state._tag !== "HalfOpen") return out
    const leases = state.leases
    const index = earliestLease(leases)
    if (index < 0 || leases[index]!.expiresAt > now) return out
    const at = leases[index]!.expiresAt
    leases.splice(index, 1)
    if (config.probeFailureRateThreshold !== undefined) {
      state.failures++
      if (!sampleFails(state, config)) continue
    }
    out = open(circuit, config, seq, at, state.openings + 1, undefined, "ProbeTimedOut", out ?? [])
  }
}

/** True when time has made a move `catchUp` would make (a break or a probe lease ended). */
const behind = (state: CircuitState, now: number): boolean => {
  if (state._tag === "Open") return now >= state.until
  // Stryker disable next-line BooleanLiteral: equivalent: only an Isolated state gets here (Open above, Closed not asked), and catchUp of it makes no move
  if (state._tag !== "HalfOpen") return false
  for (const lease of state.leases) if (lease.expiresAt <= now) return true
  return false
}

const halfOpenRejection = (state: Extract<CircuitState, { _tag: "HalfOpen" }>, now: number, transitions: ReadonlyArray<Transition>): Admission => {
  const index = earliestLease(state.leases)
  return {
    _tag: "Rejected",
    state: "HalfOpen",
    retryAfter: index < 0 ? undefined : state.leases[index]!.expiresAt - now,
    transitions
  }
}

/**
 * Admits a call or rejects it. With `allowProbe` false, returns `undefined`
 * (changing nothing) when the call would take a probe slot or make a move
 * time has made (an ended break or probe lease): the caller retries with
 * `allowProbe` true from a region where it can guarantee the slot's release
 * and publish the transitions.
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
  if (state._tag === "Open" && now < state.until) {
    circuit.lastUsed = now
    circuit.rejections++
    return { _tag: "Rejected", state: "Open", retryAfter: state.until - now, transitions: NO_TRANSITIONS }
  }
  if (!allowProbe) {
    if (state._tag !== "HalfOpen") {
      if (state._tag === "Open") return undefined
      circuit.lastUsed = now
      circuit.rejections++
      return { _tag: "Rejected", state: "Isolated", retryAfter: undefined, transitions: NO_TRANSITIONS }
    }
    if (behind(state, now) || slotsTaken(state, config) < config.probes || sampleComplete(state, config)) return undefined
    circuit.lastUsed = now
    circuit.rejections++
    return halfOpenRejection(state, now, NO_TRANSITIONS)
  }
  let transitions: ReadonlyArray<Transition> = catchUp(circuit, config, seq, now, undefined) ?? NO_TRANSITIONS
  state = circuit.state
  circuit.lastUsed = now
  if (state._tag === "HalfOpen" && sampleComplete(state, config)) {
    // decided now, on this configuration (probes still running under the old one are then fenced)
    const out = [...transitions]
    if (sampleFails(state, config)) {
      transitions = open(circuit, config, seq, now, state.openings + 1, undefined, "ProbeFailed", out)
    } else {
      const closed = closedState(circuit.key, config, seq, now, state.openings, NO_TRANSITIONS)
      circuit.state = closed
      out.push(transition(circuit.key, "HalfOpen", "Closed", now, closed.generation, "ProbesSucceeded"))
      transitions = out
    }
    state = circuit.state
    if (state._tag === "Closed") return { _tag: "Admitted", generation: state.generation, lease: 0, transitions }
  }
  if (state._tag === "HalfOpen") {
    if (slotsTaken(state, config) < config.probes) {
      const id = seq.next()
      state.leases.push({ id, expiresAt: now + config.probeTimeout })
      return { _tag: "Admitted", generation: state.generation, lease: id, transitions }
    }
    circuit.rejections++
    return halfOpenRejection(state, now, transitions)
  }
  circuit.rejections++
  if (state._tag === "Open") {
    // reopened by a probe that outlived its lease: a new break, still running
    return { _tag: "Rejected", state: "Open", retryAfter: state.until - now, transitions }
  }
  return { _tag: "Rejected", state: "Isolated", retryAfter: undefined, transitions }
}

const withTransitions = (recorded: Recorded, earlier: ReadonlyArray<Transition> | undefined): Recorded =>
  earlier === undefined ? recorded : { transitions: [...earlier, ...recorded.transitions], fenced: recorded.fenced }

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
  // the moves time made before this result (an ended break, a probe that outlived its lease)
  // Stryker disable next-line StringLiteral: equivalent: catchUp of a Closed circuit returns undefined at once
  const earlier = circuit.state._tag === "Closed" ? undefined : catchUp(circuit, config, seq, now, undefined)
  const state = circuit.state
  if (state.generation !== ticket.generation) {
    circuit.fenced++
    return withTransitions(FENCED, earlier)
  }
  switch (state._tag) {
    case "Closed": {
      if (!counted || ticket.lease !== 0) return UNCHANGED
      if (!state.window.add(outcome === "failure", slow, now)) return UNCHANGED
      // the count of consecutive openings starts over once the circuit stayed closed long enough
      const openings = (now - state.since >= config.openDurationResetAfter ? 0 : state.openings) + 1
      return { transitions: open(circuit, config, seq, now, openings, result.retryAfter, "Tripped", []), fenced: false }
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
      if (index < 0) {
        // the probe's lease ended (probeTimeout): it already counted as a failed probe
        circuit.fenced++
        return withTransitions(FENCED, earlier)
      }
      leases.splice(index, 1)
      // past the fence, time made no move: catchUp's moves all come with a new generation
      // (`earlier` is undefined here), so only this result's moves are reported
      if (!counted) return UNCHANGED
      const failed = outcome === "failure" || (slow && config.slowCallThreshold !== undefined)
      if (config.probeFailureRateThreshold !== undefined) {
        // half-open sampling: decide on the probes' failure rate
        if (failed) state.failures++
        else state.successes++
        if (failed ? !sampleFails(state, config) : !samplePasses(state, config)) return UNCHANGED
        if (failed) {
          return {
            transitions: open(circuit, config, seq, now, state.openings + 1, result.retryAfter, "ProbeFailed", []),
            fenced: false
          }
        }
      } else {
        if (failed) {
          return {
            transitions: open(circuit, config, seq, now, state.openings + 1, result.retryAfter, "ProbeFailed", []),
            fenced: false
          }
        }
        state.successes++
        if (state.successes < config.successThreshold) return UNCHANGED
      }
      const closed = closedState(circuit.key, config, seq, now, state.openings, NO_TRANSITIONS)
      circuit.state = closed
      return {
        transitions: [transition(circuit.key, "HalfOpen", "Closed", now, closed.generation, "ProbesSucceeded")],
        fenced: false
      }
    }
    default:
      circuit.fenced++
      return withTransitions(FENCED, earlier)
  }
}

/** Forces the circuit open until `reset` (after the moves time made before). @internal */
export const isolate = (circuit: Circuit, config: Config, seq: Sequence, now: number): ReadonlyArray<Transition> => {
  circuit.lastUsed = now
  const state = circuit.state
  if (state._tag === "Isolated") return NO_TRANSITIONS
  const out = catchUp(circuit, config, seq, now, undefined) ?? []
  const from = circuit.state._tag
  const generation = seq.next()
  circuit.state = { _tag: "Isolated", generation, since: now, openings: circuit.state.openings }
  out.push(transition(circuit.key, from, "Isolated", now, generation, "Isolated"))
  return out
}

/** Closes the circuit with a fresh window and no openings counted (after the moves time made before). @internal */
export const reset = (circuit: Circuit, config: Config, seq: Sequence, now: number): ReadonlyArray<Transition> => {
  circuit.lastUsed = now
  const elapsed = catchUp(circuit, config, seq, now, undefined)
  const from = circuit.state._tag
  const closed = closedState(circuit.key, config, seq, now, 0, NO_TRANSITIONS)
  circuit.state = closed
  // Stryker disable next-line ArrayDeclaration: equivalent: unreachable, a circuit still Closed after catchUp had no break to end (elapsed is undefined)
  if (from === "Closed") return elapsed ?? NO_TRANSITIONS
  const moved = transition(circuit.key, from, "Closed", now, closed.generation, "Reset")
  if (elapsed === undefined) return [moved]
  elapsed.push(moved)
  return elapsed
}

const NO_SEQUENCE: Sequence = { next: () => 0 }

/**
 * A state as `view` reads it: a circuit's state, or one read from a remote
 * store (a closed one needs no window).
 * @internal
 */
export type ViewState =
  | { readonly _tag: "Closed"; readonly since: number; readonly openings: number }
  | Exclude<CircuitState, { readonly _tag: "Closed" }>

/**
 * The state of circuit `key` as of `now`, without changing anything: the
 * moves time has made are shown as made (an Open circuit past its break
 * reads as HalfOpen; a probe past its lease as a failed probe).
 * @internal
 */
export const viewOf = (key: string, state: ViewState, config: Config, now: number): CircuitBreaker.StoredState => {
  // Stryker disable next-line LogicalOperator,StringLiteral: equivalent: catchUp of a state that is not behind (a Closed one included) makes no move, so viewing through the scratch copy gives the same state
  if (state._tag !== "Closed" && behind(state, now)) {
    // make the moves on a copy
    const scratch: { readonly key: string; state: CircuitState } = {
      key,
      state: state._tag === "HalfOpen" ? { ...state, leases: [...state.leases] } : state
    }
    catchUp(scratch, config, NO_SEQUENCE, now, undefined)
    state = scratch.state as ViewState
  }
  switch (state._tag) {
    case "Closed":
      return {
        _tag: "Closed",
        key,
        since: state.since,
        openings: now - state.since >= config.openDurationResetAfter ? 0 : state.openings
      }
    case "Open":
      return {
        _tag: "Open",
        key,
        since: state.since,
        until: state.until,
        retryAfter: Duration.millis(state.until - now),
        openings: state.openings
      }
    case "HalfOpen":
      return {
        _tag: "HalfOpen",
        key,
        since: state.since,
        probes: state.leases.length,
        successes: state.successes,
        failures: state.failures,
        openings: state.openings
      }
    case "Isolated":
      return { _tag: "Isolated", key, since: state.since, openings: state.openings }
  }
}

/** The state as of `now`, without changing anything (see {@link viewOf}). @internal */
export const view = (circuit: Circuit, config: Config, now: number): CircuitBreaker.StoredState =>
  viewOf(circuit.key, circuit.state, config, now)

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

/**
 * True when the circuit may be dropped (idle, or to make room): its state no
 * longer decides what the next call gets. Never an open circuit (even past
 * its break: until a call observes it, the next call is a probe), a
 * half-open or an isolated one, nor a closed one whose count of consecutive
 * openings still picks the next (growing) break.
 * @internal
 */
export const evictable = (circuit: Circuit, config: Config, now: number): boolean => {
  const state = circuit.state
  return state._tag === "Closed" &&
    (state.openings === 0 || config.openDurations.length <= 1 || now - state.since >= config.openDurationResetAfter)
}

/**
 * Admits a call without reading time, when that is possible: the circuit is
 * closed and its trip policy is `consecutive` without slow-call accounting
 * (nothing of it depends on time). `undefined` otherwise (the caller admits
 * with the time). The circuit is marked used for the idle sweeper.
 * @internal
 */
export const admitClosed = (circuit: Circuit): Admitted | undefined => {
  const state = circuit.state
  if (state._tag !== "Closed") return undefined
  circuit.touched = true
  return state.ticket
}

/**
 * Records a success of a call admitted by {@link admitClosed} without reading
 * time: false (nothing changed) when the circuit has moved on since, and the
 * caller records with the time.
 * @internal
 */
export const recordClosedSuccess = (circuit: Circuit, ticket: Ticket): boolean => {
  const state = circuit.state
  if (state._tag !== "Closed" || state.generation !== ticket.generation || ticket.lease !== 0) return false
  circuit.touched = true
  circuit.successes++
  // a success never trips a consecutive window (it resets the count); `now` is not read by it
  state.window.add(false, false, NaN)
  return true
}
