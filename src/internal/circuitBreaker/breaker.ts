/**
 * The circuit breaker: admission, the call, classification, recording, and
 * what is published about it.
 *
 * Hot path (closed circuit, in-process store): one synchronous admission
 * (no allocation: closed circuits hand out one shared ticket per
 * generation), the call under one `matchCauseEffect`, one synchronous
 * record. Counts are plain numbers, published to Effect `Metric`s in
 * batches (see `publish`). An open circuit's rejection builds its error
 * without the `Error` constructor (see `CircuitBreakerError.make`). Probes
 * run in an uninterruptible region (the effect itself stays interruptible),
 * so an interrupted probe always frees its slot.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as CircuitBreaker from "../../CircuitBreaker.js"
import type { InvalidKeyError, InvalidOptionsError } from "../../Errors.js"
import { unsafeMakeCallable } from "../policy.js"
import * as EventHub from "../events.js"
import { active as activeDeadline, currentDeadline, type Deadline, isCutByTimeout } from "../deadline.js"
import * as Keys from "../keys.js"
import { monotonicMillis, sleep } from "../time.js"
import * as userCode from "../userCode.js"
import * as validate from "../validate.js"
import * as classifiers from "./classify.js"
import { CircuitBreakerError, CircuitBreakerStoreError, CircuitHalfOpen, CircuitOpen, DEFAULT_KEY } from "./errors.js"
import { CircuitBreakerStore } from "./memoryStore.js"
import * as Options from "./options.js"

type Store = CircuitBreaker.CircuitBreakerStore
type StoreConfig = CircuitBreaker.CircuitBreakerStore.Config
type Admission = CircuitBreaker.CircuitBreakerStore.Admission
type Admitted = CircuitBreaker.CircuitBreakerStore.Admitted
type Rejected = CircuitBreaker.CircuitBreakerStore.Rejected
type CallResult = CircuitBreaker.CircuitBreakerStore.CallResult
type Recorded = CircuitBreaker.CircuitBreakerStore.Recorded
type Transition = CircuitBreaker.Transition
type ModeSetting = CircuitBreaker.CircuitBreakerStore.ModeSetting
type Outcome = CircuitBreaker.Outcome
type Classifier = CircuitBreaker.Classifier<any, any>

/** @internal */
export const TypeId: CircuitBreaker.TypeId = Symbol.for("effect-resilience/CircuitBreaker") as CircuitBreaker.TypeId

/** @internal */
export const isCircuitBreaker = (u: unknown): u is CircuitBreaker.CircuitBreaker =>
  typeof u === "function" && Predicate.hasProperty(u, TypeId)

/** An `Outcome` the breaker can record (a `Failure`'s `retryAfter`, if any, a finite `Duration`). */
const isOutcome = (u: unknown): u is Outcome => {
  if (!Predicate.hasProperty(u, "_tag")) return false
  if (u._tag === "Success" || u._tag === "Ignored") return true
  if (u._tag !== "Failure") return false
  const retryAfter = (u as { readonly retryAfter?: unknown }).retryAfter
  return retryAfter === undefined || (Duration.isDuration(retryAfter) && Duration.isFinite(retryAfter))
}

const isOutcomeOrEffect = (u: unknown): u is Outcome | Effect.Effect<unknown> => Effect.isEffect(u) || isOutcome(u)

// ---------------------------------------------------------------------------
// Metrics (tagged per breaker; counts on the success path are batched)

const callsCounter = Metric.counter("resilience_circuit_breaker_calls", {
  description: "Calls a circuit breaker let through, by outcome (success, failure, ignored); published in batches",
  incremental: true
})
const slowCallsCounter = Metric.counter("resilience_circuit_breaker_slow_calls", {
  description: "Calls slower than the breaker's slowCall.duration",
  incremental: true
})
const rejectionsCounter = Metric.counter("resilience_circuit_breaker_rejections", {
  description: "Calls a circuit breaker rejected, by reason (CircuitOpen, CircuitHalfOpen, CircuitBreakerStoreError)",
  incremental: true
})
const transitionsCounter = Metric.counter("resilience_circuit_breaker_transitions", {
  description: "State transitions of a circuit breaker's circuits, by from and to state",
  incremental: true
})
const fencedCounter = Metric.counter("resilience_circuit_breaker_fenced", {
  description: "Results that arrived after their circuit had moved on (late results, fenced by generation)",
  incremental: true
})
const storeErrorsCounter = Metric.counter("resilience_circuit_breaker_store_errors", {
  description: "Failures of the circuit breaker's store",
  incremental: true
})
const stateGauge = Metric.gauge("resilience_circuit_breaker_state", {
  description: "State of the breaker's own circuit: 0 closed, 1 half-open, 2 open, 3 isolated"
})
const modeGauge = Metric.gauge("resilience_circuit_breaker_mode", {
  description: "Mode of the circuit breaker: 0 enforcing, 1 metrics only, 2 disabled"
})
const untrackedCounter = Metric.counter("resilience_circuit_breaker_untracked", {
  description: "Calls that ran untracked because the store was full of circuits it must keep",
  incremental: true
})

const STATE_VALUE: Record<CircuitBreaker.State["_tag"], number> = { Closed: 0, HalfOpen: 1, Open: 2, Isolated: 3 }

/** Publish batched counts after this many calls, or this long after the last publication. */
const PUBLISH_EVERY_CALLS = 256
const PUBLISH_EVERY_MILLIS = 1_000
/** Transitions kept for `metrics().transitions`. */
const HISTORY = 100
/** Transitions remembered to publish each once (shared stores deliver them twice). */
const SEEN_TRANSITIONS = 4096

const SUCCESS: CallResult = { outcome: "success", slow: false, retryAfter: undefined }
const SUCCESS_SLOW: CallResult = { outcome: "success", slow: true, retryAfter: undefined }
const FAILURE: CallResult = { outcome: "failure", slow: false, retryAfter: undefined }
const FAILURE_SLOW: CallResult = { outcome: "failure", slow: true, retryAfter: undefined }
const IGNORED: CallResult = { outcome: "ignored", slow: false, retryAfter: undefined }

/** The ticket of a call let through because the store failed (`onStoreError: "allow"`): never recorded. */
const UNTRACKED: Admitted = { _tag: "Admitted", generation: -1, lease: 0, transitions: [] }

const NO_LABELS: ReadonlyArray<MetricLabel.MetricLabel> = []

let anonymous = 0

/** @internal */
export const make = (
  options: CircuitBreaker.CircuitBreaker.Options
): Effect.Effect<CircuitBreaker.CircuitBreaker, InvalidOptionsError, Scope.Scope> =>
  Effect.gen(function*() {
    const parsed = yield* validate.validated(() => Options.parse(options))
    const config = yield* Options.toStoreConfig(parsed)
    const store = yield* CircuitBreakerStore
    const clock = yield* Effect.clock
    const namespace = Options.namespaceOf(parsed, ++anonymous)
    yield* store.register(namespace, config)
    const breaker = makeBreaker(options, parsed, config, store, namespace, clock)
    yield* Effect.addFinalizer(() => Effect.sync(breaker.publish))
    if (breaker.timeless) {
      // calls that read no time cannot trigger the time-based publication: a loop does, woken by
      // the first unpublished count (idle otherwise: no timer while nothing happens)
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.zipRight(breaker.unpublished, sleep(PUBLISH_EVERY_MILLIS)), Effect.sync(breaker.publish))))
    }
    // the breakers of this namespace in this process: a mode change reaches each at once
    const peers = peersOf(store, namespace)
    yield* Effect.acquireRelease(Effect.sync(() => peers.add(breaker.applyMode)), () =>
      Effect.sync(() => {
        peers.delete(breaker.applyMode)
        if (peers.size === 0) localPeers.get(store)?.delete(namespace)
      }))
    const readMode = store.getMode === undefined
      ? undefined
      : Effect.ignore(Effect.map(store.getMode(namespace), breaker.applyMode))
    if (store.subscribe === undefined) {
      // an in-process store: the mode in force, read at once
      if (readMode !== undefined) yield* readMode
    } else {
      // transitions and mode changes made by other replicas (a shared store): active before make returns
      const remote = yield* store.subscribe(namespace)
      yield* Stream.runForEach(remote, (t) => Effect.sync(() => breaker.onRemote(t))).pipe(
        Effect.interruptible,
        Effect.forkScoped
      )
      if (readMode !== undefined) {
        // the mode in force, read in the background (make never waits on a remote store; a store
        // that fails: enforcing until the next read), then every MODE_REFRESH_MILLIS: pub/sub is
        // at most once, a change it lost is read then
        yield* readMode.pipe(
          Effect.zipRight(Effect.sleep(MODE_REFRESH_MILLIS)),
          Effect.forever,
          Effect.interruptible,
          Effect.forkScoped
        )
      }
    }
    return breaker.breaker
  })

/** How often a breaker on a shared store reads its mode again (pub/sub may lose a change). */
const MODE_REFRESH_MILLIS = 60_000

/** The breakers of each namespace of each store, in this process (mode changes are applied to all). */
const localPeers = new WeakMap<Store, Map<string, Set<(setting: ModeSetting) => void>>>()

const peersOf = (store: Store, namespace: string): Set<(setting: ModeSetting) => void> => {
  let byNamespace = localPeers.get(store)
  if (byNamespace === undefined) {
    byNamespace = new Map()
    localPeers.set(store, byNamespace)
  }
  let peers = byNamespace.get(namespace)
  if (peers === undefined) {
    peers = new Set()
    byNamespace.set(namespace, peers)
  }
  return peers
}

const MODES: ReadonlyArray<CircuitBreaker.Mode> = ["Enforcing", "MetricsOnly", "Disabled"]
const MODE_VALUE: Record<CircuitBreaker.Mode, number> = { Enforcing: 0, MetricsOnly: 1, Disabled: 2 }

const isModeSetting = (u: Transition | ModeSetting): u is ModeSetting => (u as ModeSetting)._tag === "ModeSetting"

/** The most a call cut by an enclosing deadline must have run to count, without `slowCall`. */
const MAX_CUT_MINIMUM_MILLIS = 1_000

const makeBreaker = (
  options: CircuitBreaker.CircuitBreaker.Options,
  parsed: Options.Parsed,
  config: StoreConfig,
  store: Store,
  namespace: string,
  clock: Clock.Clock
) => {
  // An in-process store runs on monotonic time (time.ts: breaks, windows and leases never follow a
  // step of the wall clock); the instants it reports (a transition's `at`, a state's `since`/`until`)
  // are shown in wall time. A shared store is given wall time (an instant shared between processes).
  const monotonic = store.time === "monotonic"
  const nowMillis = monotonic ? () => monotonicMillis(clock) : () => clock.unsafeCurrentTimeMillis()
  const toWall = monotonic ? wallOf(clock) : undefined
  const name = parsed.name
  const defaultClassifier = parsed.classify
  const slowMillis = parsed.slowCallDuration
  const allowOnStoreError = parsed.onStoreError === "allow"
  const labelKeys = parsed.labelMetricsByKey
  const handle = store.unsafe?.namespace(namespace)
  // A closed circuit whose trip policy does not depend on time (consecutive, no slow calls) is
  // admitted and its successes recorded without reading the clock (issue 15: a path that does
  // not need time reads none); anything else reads it as usual.
  const timeless = config.trip._tag === "Consecutive" && slowMillis === undefined && config.slowCallThreshold === undefined
  const admitClosed = timeless && handle?.recordClosedSuccess !== undefined ? handle.admitClosed : undefined
  const keyPolicy: Keys.KeyPolicy = { kind: "CircuitBreaker", name, maxKeyLength: parsed.maxKeyLength }

  const tagged = <T, In, Out>(metric: Metric.Metric<T, In, Out>) => Metric.tagged(metric, "policy", name)
  const successes = callsCounter.pipe(Metric.tagged("policy", name), Metric.tagged("outcome", "success"))
  const failures = callsCounter.pipe(Metric.tagged("policy", name), Metric.tagged("outcome", "failure"))
  const ignoredCalls = callsCounter.pipe(Metric.tagged("policy", name), Metric.tagged("outcome", "ignored"))
  const slowCalls = tagged(slowCallsCounter)
  const rejections = tagged(rejectionsCounter)
  const rejectedOpen = Metric.tagged(rejections, "reason", "CircuitOpen")
  const rejectedHalfOpen = Metric.tagged(rejections, "reason", "CircuitHalfOpen")
  const rejectedStore = Metric.tagged(rejections, "reason", "CircuitBreakerStoreError")
  const transitionsMetric = tagged(transitionsCounter)
  // one tagged metric per (from, to): unsafeUpdate with extra labels costs microseconds
  const transitionMetrics = new Map<string, typeof transitionsMetric>()
  const transitionMetric = (from: string, to: string) => {
    const id = `${from}>${to}`
    let metric = transitionMetrics.get(id)
    // Stryker disable next-line ConditionalExpression: equivalent as `true`: a cache; a metric built again with the same tags updates the same registry entry
    if (metric === undefined) {
      metric = transitionsMetric.pipe(Metric.tagged("from", from), Metric.tagged("to", to))
      transitionMetrics.set(id, metric)
    }
    return metric
  }
  const fencedMetric = tagged(fencedCounter)
  const storeErrorsMetric = tagged(storeErrorsCounter)
  const state = tagged(stateGauge)
  state.unsafeUpdate(0, NO_LABELS)
  const modeMetric = tagged(modeGauge)
  modeMetric.unsafeUpdate(0, NO_LABELS)

  // The breaker's mode, kept by the store (shared by the breakers of the namespace) and applied here
  // (`applyMode`): read once per call, at run time.
  let mode: CircuitBreaker.Mode = "Enforcing"
  let modeGeneration = -1

  const events = EventHub.make<CircuitBreaker.Event>()
  const transitionsHub = EventHub.make<Transition>()
  // Stryker disable next-line ArrayDeclaration: equivalent: a stray first element has no `key` (metrics(key) filters it out) and is the first shifted out at HISTORY
  const history: Array<Transition> = []

  // With a shared store (`subscribe`), a transition this breaker made reaches it
  // twice: in the store's answer and through the subscription, in either order.
  // The first sight is published, the second skipped.
  // Stryker disable next-line ConditionalExpression: equivalent as `true`: generations are unique in a store, so without a subscription no transition comes twice; the dedup would only keep its bounded bookkeeping
  const shared = store.subscribe !== undefined
  const seen = new Map<string, true>()
  const firstSight = (t: Transition): boolean => {
    const id = `${t.generation}\u0000${t.to}\u0000${t.at}\u0000${t.key}`
    if (seen.has(id)) {
      seen.delete(id)
      return false
    }
    // Stryker disable next-line BooleanLiteral: equivalent: only the key's presence is read (`seen.has`), never the value
    seen.set(id, true)
    if (seen.size > SEEN_TRANSITIONS) seen.delete(seen.keys().next().value!)
    return true
  }

  // Plain counters (this process, every key), published to the Effect metrics in
  // batches: every PUBLISH_EVERY_CALLS calls, PUBLISH_EVERY_MILLIS after the last
  // publication, on every transition, and when `metrics()` is read. (Updating a
  // tagged Effect metric costs microseconds; a rejection must cost less.) With
  // `labelMetricsByKey`, failures and rejections are published per call instead.
  const counter = (metric: Metric.Metric.Counter<number>, keyed: boolean) => ({ count: 0, published: 0, metric, keyed })
  const c = {
    successes: counter(successes, false),
    failures: counter(failures, labelKeys),
    ignored: counter(ignoredCalls, false),
    slowCalls: counter(slowCalls, false),
    rejectedOpen: counter(rejectedOpen, labelKeys),
    rejectedHalfOpen: counter(rejectedHalfOpen, labelKeys),
    rejectedStore: counter(rejectedStore, labelKeys),
    fenced: counter(fencedMetric, false),
    storeErrors: counter(storeErrorsMetric, false),
    untracked: counter(tagged(untrackedCounter), false)
  }
  const counters = Object.values(c)
  let sincePublish = 0
  let nextPublishAt = 0

  // counts left unpublished by calls that read no time (timeless): the publisher loop waits for them
  let dirty = false
  let wakePublisher: (() => void) | undefined = undefined
  const markDirty = (): void => {
    dirty = true
    const wake = wakePublisher
    wakePublisher = undefined
    wake?.()
  }
  const unpublished: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (dirty) return resume(Effect.void)
    wakePublisher = () => resume(Effect.void)
    return Effect.sync(() => {
      wakePublisher = undefined
    })
  })

  const publish = (): void => {
    dirty = false
    sincePublish = 0
    nextPublishAt = nowMillis() + PUBLISH_EVERY_MILLIS
    for (const counter of counters) {
      if (counter.keyed || counter.count === counter.published) continue
      counter.metric.unsafeUpdate(counter.count - counter.published, NO_LABELS)
      counter.published = counter.count
    }
  }

  const tick = (now: number): void => {
    if (++sincePublish >= PUBLISH_EVERY_CALLS || now >= nextPublishAt) publish()
  }

  /** Counts one event; with a key label (labelMetricsByKey) it is published at once. */
  const count = (counter: (typeof counters)[number], key: string | undefined): void => {
    counter.count++
    if (counter.keyed) counter.metric.unsafeUpdate(1, [MetricLabel.make("key", key ?? DEFAULT_KEY)])
  }

  const totals = () => ({
    successes: c.successes.count,
    failures: c.failures.count,
    ignored: c.ignored.count,
    rejections: c.rejectedOpen.count + c.rejectedHalfOpen.count + c.rejectedStore.count,
    slowCalls: c.slowCalls.count,
    fenced: c.fenced.count,
    storeErrors: c.storeErrors.count,
    untracked: c.untracked.count
  })

  /** Publishes a transition (history, state gauge, `transitions`, `events`). */
  const observe = (t: Transition): void => {
    history.push(t)
    if (history.length > HISTORY) history.shift()
    if (t.key === DEFAULT_KEY) state.unsafeUpdate(STATE_VALUE[t.to], NO_LABELS)
    transitionsHub.emit(t)
    // Stryker disable next-line ConditionalExpression: equivalent as `true`: emit is a no-op without subscribers; the guard only skips building the event
    if (events.hasSubscribers()) events.emit({ _tag: "Transition", breaker: name, transition: t })
  }

  /** Transitions this breaker made: counted in the transitions metric (by the replica that made them only). */
  const onTransitions = (transitions: ReadonlyArray<Transition>): void => {
    for (let i = 0; i < transitions.length; i++) {
      const t = toWall === undefined ? transitions[i]! : { ...transitions[i]!, at: toWall(transitions[i]!.at) }
      transitionMetric(t.from, t.to).unsafeUpdate(1, labelKeys ? [MetricLabel.make("key", t.key)] : NO_LABELS)
      if (!shared || firstSight(t)) observe(t)
    }
    publish()
  }

  /** A transition or mode change received from a shared store's subscription (made here or by another replica). */
  const onRemote = (t: Transition | ModeSetting): void => {
    if (isModeSetting(t)) applyMode(t)
    else if (firstSight(t)) observe(t)
  }

  /** Applies a mode setting of the store, once and never an older one (settings arrive by several paths). */
  const applyMode = (setting: ModeSetting): void => {
    if (setting.generation <= modeGeneration) return
    modeGeneration = setting.generation
    const from = mode
    if (from === setting.mode) return
    mode = setting.mode
    modeMetric.unsafeUpdate(MODE_VALUE[mode], NO_LABELS)
    // Stryker disable next-line ConditionalExpression: equivalent as `true`: emit is a no-op without subscribers; the guard only skips building the event
    if (events.hasSubscribers()) {
      const at = toWall === undefined ? setting.since : toWall(setting.since)
      events.emit({ _tag: "ModeChanged", breaker: name, from, to: setting.mode, at })
    }
  }

  // `key` below is the circuit's key in the store: undefined for the breaker's own
  // circuit (never the same circuit as a keyed one), shown as DEFAULT_KEY
  const onStoreFailure = (key: string | undefined, error: CircuitBreakerStoreError, allowed: boolean): void => {
    c.storeErrors.count++
    // Stryker disable next-line ConditionalExpression: equivalent as `true`: emit is a no-op without subscribers; the guard only skips building the event
    if (events.hasSubscribers()) events.emit({ _tag: "StoreError", breaker: name, key: key ?? DEFAULT_KEY, error, allowed })
  }

  const asStoreError = (operation: string, cause: Cause.Cause<unknown>): CircuitBreakerStoreError => {
    const failure = Cause.failureOption(cause)
    // Stryker disable next-line ConditionalExpression: `failure._tag === "Some"` as `true` is equivalent: a None has no `value`, and `undefined instanceof` is false
    if (failure._tag === "Some" && failure.value instanceof CircuitBreakerStoreError) return failure.value
    return new CircuitBreakerStoreError({ operation, cause: Cause.squash(cause) })
  }

  const storeErrorFor = (key: string | undefined, error: CircuitBreakerStoreError): CircuitBreakerError =>
    CircuitBreakerError.make(name, key ?? DEFAULT_KEY, error)

  /** Accounts for a recorded call (counts, metrics, events, transitions). */
  const account = (
    key: string | undefined,
    result: CallResult,
    recorded: Recorded,
    probe: boolean,
    elapsed: number,
    now: number
  ) => {
    switch (result.outcome) {
      case "success":
        c.successes.count++
        break
      case "failure":
        count(c.failures, key)
        // Stryker disable next-line ConditionalExpression: equivalent as `true`: emit is a no-op without subscribers; the guard only skips building the event
        if (events.hasSubscribers()) {
          events.emit({ _tag: "Failure", breaker: name, key: key ?? DEFAULT_KEY, slow: result.slow, probe })
        }
        break
      default:
        c.ignored.count++
    }
    if (result.slow) {
      c.slowCalls.count++
      // Stryker disable next-line ConditionalExpression: equivalent as `true`: emit is a no-op without subscribers; the guard only skips building the event
      if (events.hasSubscribers()) {
        events.emit({ _tag: "SlowCall", breaker: name, key: key ?? DEFAULT_KEY, duration: Duration.millis(elapsed) })
      }
    }
    if (recorded.fenced) {
      c.fenced.count++
      if (events.hasSubscribers()) {
        events.emit({ _tag: "Fenced", breaker: name, key: key ?? DEFAULT_KEY, outcome: result.outcome })
      }
    }
    if (recorded.transitions.length > 0) onTransitions(recorded.transitions)
    tick(now)
  }

  const toResult = (outcome: Outcome, elapsed: number): CallResult => {
    if (outcome._tag === "Ignored") return IGNORED
    const slow = slowMillis !== undefined && elapsed > slowMillis
    if (outcome._tag === "Success") return slow ? SUCCESS_SLOW : SUCCESS
    if (outcome.retryAfter === undefined) return slow ? FAILURE_SLOW : FAILURE
    return { outcome: "failure", slow, retryAfter: Duration.toMillis(outcome.retryAfter) }
  }

  /** Records synchronously (in-process store). */
  const recordSync = (key: string | undefined, ticket: Admitted, outcome: Outcome, start: number): void => {
    if (Number.isNaN(start)) {
      // admitted without the time (admitClosed): a success of a still-closed circuit needs none
      if (outcome._tag === "Success" && handle!.recordClosedSuccess!(key, ticket)) {
        // nothing moved (no transition, not fenced); NaN: the count-based publication only, and the
        // publisher loop publishes the rest within PUBLISH_EVERY_MILLIS (see make)
        account(key, SUCCESS, UNTRACKED_RECORDED, false, 0, NaN)
        if (!dirty) markDirty()
        return

      }
      const at = nowMillis()
      const counted = toResult(outcome, 0)
      return account(key, counted, handle!.record(key, config, ticket, counted, at), ticket.lease !== 0, 0, at)
    }
    const now = nowMillis()
    const result = toResult(outcome, now - start)
    // Stryker disable next-line ConditionalExpression: equivalent as `false`: recordSync never gets UNTRACKED (untracked calls run with sync = false)
    const recorded = ticket === UNTRACKED
      ? UNTRACKED_RECORDED
      : handle!.record(key, config, ticket, result, now)
    account(key, result, recorded, ticket.lease !== 0, now - start, now)
  }

  /** Records through the store's effects (remote store); a failure to record never changes the call's result. */
  const recordEffect = (key: string | undefined, ticket: Admitted, outcome: Outcome, start: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      const now = nowMillis()
      const result = toResult(outcome, now - start)
      if (ticket === UNTRACKED) {
        account(key, result, UNTRACKED_RECORDED, false, now - start, now)
        return Effect.void
      }
      return Effect.matchCause(shielded(store.record(namespace, key, config, ticket, result, now)), {
        onFailure: (cause) => {
          onStoreFailure(key, asStoreError("record", cause), true)
          account(key, result, UNTRACKED_RECORDED, ticket.lease !== 0, now - start, now)
        },
        onSuccess: (recorded) => account(key, result, recorded, ticket.lease !== 0, now - start, now)
      })
    })

  // user code: a classify that throws, answers something that is not an Outcome, fails, dies or
  // runs past DEFAULT_HOOK_TIMEOUT_MILLIS is reported and the call classified as the default
  // classifier would (so a probe always settles: its slot is never held until probeTimeout)
  const classifySite = userCode.site("CircuitBreaker", name, "classify", "classified by the default classifier")
  const classifyExit = (classify: Classifier | undefined, exit: Exit.Exit<unknown, unknown>): Outcome | Effect.Effect<Outcome> => {
    if (classify === undefined) return classifiers.defaultClassify(exit)
    const outcome = userCode.call(classifySite, classify, exit, isOutcomeOrEffect, classifiers.defaultClassify)
    return Effect.isEffect(outcome)
      ? userCode.awaitHook(
        classifySite,
        outcome,
        userCode.DEFAULT_HOOK_TIMEOUT_MILLIS,
        isOutcome,
        () => classifiers.defaultClassify(exit)
      )
      : outcome
  }

  /**
   * Runs an admitted call and records its result with `record` (sync or
   * effectful). An interrupted call admitted while closed is not recorded at
   * all; an interrupted probe is recorded as ignored (it frees its slot).
   */
  const runAdmitted = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined,
    ticket: Admitted,
    start: number,
    sync: boolean,
    cutAfter: number | undefined
  ): Effect.Effect<A, E, R> => {
    const settle = <X>(outcome: Outcome, then: Effect.Effect<X, any>): Effect.Effect<X, any> => {
      if (sync) {
        recordSync(key, ticket, outcome, start)
        return then
      }
      return Effect.zipRight(recordEffect(key, ticket, outcome, start), then)
    }
    const settleWith = <X>(outcome: Outcome | Effect.Effect<Outcome>, then: Effect.Effect<X, any>) =>
      Effect.isEffect(outcome) ? Effect.flatMap(outcome, (o) => settle(o, then)) : settle(outcome, then)
    return Effect.matchCauseEffect(self, {
      onSuccess: (a) =>
        classify === undefined
          ? settle(classifiers.Outcome.success, Effect.succeed(a))
          : settleWith(classifyExit(classify, Exit.succeed(a)), Effect.succeed(a)),
      onFailure: (cause) => {
        if (Cause.isInterruptedOnly(cause)) {
          // cut by the library's own deadline after running long enough in the dependency: a timeout of
          // the dependency, counted as a failure; an interruption by the caller is never counted
          if (cutAfter !== undefined && isCutByTimeout(cause) && nowMillis() - start >= cutAfter) {
            return settle(classifiers.Outcome.failure(), Effect.failCause(cause))
          }
          return ticket.lease === 0 ? Effect.failCause(cause) : settle(classifiers.Outcome.ignored, Effect.failCause(cause))
        }
        if (classifiers.ignoredBeforeClassify(cause)) return settle(classifiers.Outcome.ignored, Effect.failCause(cause))
        return settleWith(classifyExit(classify, Exit.failCause(cause)), Effect.failCause(cause))
      }
    }) as Effect.Effect<A, E, R>
  }

  const isolatedReason = new CircuitOpen({ retryAfter: Duration.infinity, isolated: true })

  /** Counts a rejection (made, or in MetricsOnly mode one that would have been made) and says why. */
  const rejection = (key: string | undefined, admission: Rejected, now: number, enforced: boolean): CircuitOpen | CircuitHalfOpen => {
    let reason: CircuitOpen | CircuitHalfOpen
    let retryAfter: Duration.Duration | undefined
    if (admission.state === "Isolated") {
      reason = isolatedReason
    } else {
      // open: the time left in the break; half-open: until the earliest probe's lease ends (an upper bound)
      retryAfter = Duration.millis(Math.max(0, admission.retryAfter ?? 0))
      reason = admission.state === "HalfOpen"
        ? CircuitHalfOpen.make(config.probes, retryAfter)
        : CircuitOpen.make(retryAfter, false)
    }
    count(reason._tag === "CircuitOpen" ? c.rejectedOpen : c.rejectedHalfOpen, key)
    tick(now)
    // Stryker disable next-line ConditionalExpression: equivalent as `true`: emit is a no-op without subscribers; the guard only skips building the event
    if (events.hasSubscribers()) {
      events.emit({ _tag: "Rejected", breaker: name, key: key ?? DEFAULT_KEY, reason: reason._tag, retryAfter, enforced })
    }
    return reason
  }

  const reject = (key: string | undefined, admission: Rejected, now: number): Effect.Effect<never, CircuitBreakerError> =>
    Effect.fail(CircuitBreakerError.make(name, key ?? DEFAULT_KEY, rejection(key, admission, now, true)))

  const afterAdmission = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined,
    admission: Admission,
    start: number,
    sync: boolean,
    cutAfter: number | undefined,
    enforcing: boolean
  ): Effect.Effect<A, E | CircuitBreakerError, R> => {
    if (admission.transitions.length > 0) onTransitions(admission.transitions)
    if (admission._tag === "Rejected") {
      if (enforcing) return reject(key, admission, start)
      // MetricsOnly: counted as a rejection, run without being recorded (an enforcing breaker would not see it)
      rejection(key, admission, start, false)
      return runAdmitted(self, key, classify, UNTRACKED, start, false, undefined)
    }
    if (admission.untracked === true) {
      // the store is full of circuits it must keep: run as if closed, not recorded
      count(c.untracked, key)
      // Stryker disable next-line ConditionalExpression: equivalent as `true`: emit is a no-op without subscribers; the guard only skips building the event
      if (events.hasSubscribers()) events.emit({ _tag: "Untracked", breaker: name, key: key ?? DEFAULT_KEY })
      return runAdmitted(self, key, classify, UNTRACKED, start, false, undefined)
    }
    return runAdmitted(self, key, classify, admission, start, sync, cutAfter)
  }

  /**
   * How long an admitted call must have run before a cut by the enclosing
   * deadline counts as the dependency's failure: `slowCall.duration` when
   * set, otherwise half the enclosing timeout's duration, at most 1 second
   * (so a call admitted with a sliver of its budget left, after queueing
   * elsewhere, is not blamed on the dependency). `undefined` without a deadline.
   */
  const cutAfterFor = (deadline: Deadline | undefined): number | undefined =>
    deadline === undefined
      ? undefined
      : slowMillis ?? Math.min(MAX_CUT_MINIMUM_MILLIS, Duration.toMillis(deadline.duration) / 2)

  /**
   * Admission that may take a probe slot: uninterruptible from admission until the result is recorded.
   * Every mode: Disabled runs the call alone; MetricsOnly runs what it would reject.
   */
  const guarded = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined
  ): Effect.Effect<A, E | CircuitBreakerError, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.withFiberRuntime((fiber) => {
        const current = mode
        if (current === "Disabled") return restore(self)
        const enforcing = current === "Enforcing"
        const start = nowMillis()
        const cutAfter = cutAfterFor(activeDeadline(fiber.getFiberRef(currentDeadline)))
        if (handle !== undefined) {
          const admission = handle.admit(key, config, start, true)!
          return afterAdmission(restore(self), key, classify, admission, start, true, cutAfter, enforcing)
        }
        // shielded from the caller's interruption: an admission interrupted in flight
        // could take a probe lease that nobody records (the store's timeout bounds it)
        return Effect.matchCauseEffect(shielded(store.admit(namespace, key, config, start)), {
          onFailure: (cause): Effect.Effect<A, E | CircuitBreakerError, R> => {
            if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
            const error = asStoreError("admit", cause)
            onStoreFailure(key, error, allowOnStoreError)
            // Stryker disable next-line BooleanLiteral: equivalent: an UNTRACKED ticket is accounted the same way by recordSync and recordEffect (never recorded, never a probe)
            // (a metrics-only breaker never rejects)
            if (allowOnStoreError || !enforcing) return runAdmitted(restore(self), key, classify, UNTRACKED, start, false, undefined)
            count(c.rejectedStore, key)
            tick(start)
            return Effect.fail(storeErrorFor(key, error))
          },
          onSuccess: (admission) => afterAdmission(restore(self), key, classify, admission, start, false, cutAfter, enforcing)
        })
      })
    )

  const call = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined
  ): Effect.Effect<A, E | CircuitBreakerError, R> => {
    if (handle === undefined) return guarded(self, key, classify)
    return Effect.withFiberRuntime((fiber) => {
      // the mode, read once per call: a disabled breaker runs the call alone; metrics-only takes the guarded path
      if (mode !== "Enforcing") return mode === "Disabled" ? self : guarded(self, key, classify)
      if (admitClosed !== undefined) {
        // no deadline to count a cut against: a closed circuit admits without the time
        if (activeDeadline(fiber.getFiberRef(currentDeadline)) === undefined) {
          const ticket = admitClosed(key)
          if (ticket !== undefined) return runAdmitted(self, key, classify, ticket, NaN, true, undefined)
        }
      }
      const start = nowMillis()
      const admission = handle.admit(key, config, start, false)
      // a probe (or the move to half-open) is admitted in a guarded region instead
      if (admission === undefined) return guarded(self, key, classify)
      if (admission._tag === "Rejected") return reject(key, admission, start)
      const deadline = activeDeadline(fiber.getFiberRef(currentDeadline))
      // without a deadline nothing of the library's can cut the call: no region needed
      if (deadline === undefined) return runAdmitted(self, key, classify, admission, start, true, undefined)
      // with one, the result handler must run when the deadline interrupts the call
      const cutAfter = cutAfterFor(deadline)
      return Effect.uninterruptibleMask((restore) => runAdmitted(restore(self), key, classify, admission, start, true, cutAfter))
    })
  }

  const traced = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined
  ): Effect.Effect<A, E | CircuitBreakerError, R> =>
    Effect.withSpan(
      Effect.tapError(call(self, key, classify), (error) =>
        error instanceof CircuitBreakerError
          ? Effect.annotateCurrentSpan("rejected", error.reason._tag)
          : Effect.void),
      "resilience.circuit_breaker",
      { attributes: { policy: name, key: key ?? DEFAULT_KEY } }
    )
  const callWith = parsed.spans ? traced : call

  // the breaker's own circuit: no key (see Keys.namespaced), never a keyed circuit
  const policy = <A, E, R>(self: Effect.Effect<A, E, R>) => callWith(self, undefined, defaultClassifier)

  const execute = dual(
    (args) => Effect.isEffect(args[0]),
    <A, E, R>(
      self: Effect.Effect<A, E, R>,
      opts: CircuitBreaker.CircuitBreaker.ExecuteOptions<A, E>
    ): Effect.Effect<A, E | CircuitBreakerError | InvalidKeyError, R> => {
      const key: unknown = opts?.key
      // refused before admission: never counted, nothing created in the store
      if (!Keys.isValid(keyPolicy, key)) return Effect.fail(Keys.refuse(keyPolicy, key))
      return callWith(self, key, (opts.classify as Classifier | undefined) ?? defaultClassifier)
    }
  )

  /** Runs `f` with a valid key (`undefined`: the own circuit), or fails with `InvalidKeyError`. */
  const withKey = <A, E>(
    key: unknown,
    f: (key: string | undefined) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | InvalidKeyError> =>
    key === undefined || Keys.isValid(keyPolicy, key) ? f(key) : Effect.fail(Keys.refuse(keyPolicy, key))

  const wrapStore = <A>(key: string | undefined, operation: string, effect: Effect.Effect<A, CircuitBreakerStoreError>) =>
    Effect.catchAllCause(effect, (cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const error = asStoreError(operation, cause)
      onStoreFailure(key, error, false)
      return Effect.fail(storeErrorFor(key, error))
    })

  const now = nowMillis

  const snapshot = (key: string | undefined) =>
    wrapStore(key, "snapshot", Effect.suspend(() => store.snapshot(namespace, key, config, now()))).pipe(
      Effect.map((s) => ({ ...s, state: withMode(toWall === undefined ? s.state : stateInWallTime(s.state, toWall), mode) }))
    )

  const stateOf = (key?: string) => withKey(key, (k) => Effect.map(snapshot(k), (s) => s.state))

  const isolate = (key?: string) =>
    withKey(key, (k) =>
      wrapStore(k, "isolate", Effect.suspend(() => store.isolate(namespace, k, config, now()))).pipe(
        Effect.map(onTransitions)
      ))

  const reset = (key?: string) =>
    withKey(key, (k) =>
      wrapStore(k, "reset", Effect.suspend(() => store.reset(namespace, k, config, now()))).pipe(
        Effect.map(onTransitions)
      ))

  const setModeSite = "CircuitBreaker.setMode"
  const setMode = (next: CircuitBreaker.Mode): Effect.Effect<void, CircuitBreakerError | InvalidOptionsError> =>
    Effect.suspend((): Effect.Effect<void, CircuitBreakerError | InvalidOptionsError> => {
      if (!MODES.includes(next)) {
        return Effect.fail(validate.invalid(setModeSite, "mode", next, `one of ${MODES.map((m) => JSON.stringify(m)).join(", ")}`))
      }
      const change = store.setMode
      if (change === undefined) {
        // a store that keeps no mode: this breaker's alone
        applyMode({ _tag: "ModeSetting", mode: next, since: now(), generation: modeGeneration + 1 })
        return Effect.void
      }
      return wrapStore(undefined, "setMode", Effect.suspend(() => change(namespace, next, now()))).pipe(
        // every breaker of the namespace in this process at once (other replicas through the store)
        Effect.map((setting) => {
          for (const peer of peersOf(store, namespace)) peer(setting)
          applyMode(setting)
        })
      )
    })

  const metrics = (key?: string): Effect.Effect<CircuitBreaker.Metrics, CircuitBreakerError | InvalidKeyError> =>
    withKey(key, (k) => metricsOf(k, k ?? DEFAULT_KEY))

  const metricsOf = (storeKey: string | undefined, key: string): Effect.Effect<CircuitBreaker.Metrics, CircuitBreakerError> =>
    Effect.map(snapshot(storeKey), (s) => {
      publish()
      const w = s.window
      const hasRate = config.trip._tag !== "Consecutive"
      return {
        breaker: name,
        key,
        store: store.kind,
        state: s.state,
        mode: s.state.mode,
        ...s.counters,
        windowCalls: w.calls,
        failureRate: hasRate && w.calls > 0 ? w.failures / w.calls : undefined,
        slowCallRate: config.slowCallThreshold !== undefined && w.calls > 0 ? w.slowCalls / w.calls : undefined,
        consecutiveFailures: w.consecutiveFailures,
        transitions: history.filter((t) => t.key === key),
        totals: totals()
      }
    })

  const members = {
    [TypeId]: TypeId,
    policyName: name,
    options,
    execute,
    state: stateOf,
    isolate,
    reset,
    setMode,
    metrics,
    transitions: transitionsHub.stream,
    events: events.stream
  }
  const breaker = unsafeMakeCallable(Object.assign(policy, members), {
    kind: "CircuitBreaker",
    name,
    options: {
      tripPolicy: config.trip,
      openDurations: config.openDurations,
      maxOpenDuration: config.maxOpenDuration,
      openDurationResetAfter: config.openDurationResetAfter,
      halfOpen: {
        probes: config.probes,
        successThreshold: config.successThreshold,
        probeTimeout: config.probeTimeout,
        failureRateThreshold: config.probeFailureRateThreshold
      },
      slowCall: slowMillis === undefined ? undefined : { duration: slowMillis, threshold: config.slowCallThreshold },
      onStoreError: parsed.onStoreError,
      store: store.kind
    }
  }) as unknown as CircuitBreaker.CircuitBreaker
  return { breaker, publish, onRemote, applyMode, timeless: admitClosed !== undefined, unpublished }
}

const UNTRACKED_RECORDED: Recorded = { transitions: [], fenced: false }

/**
 * Runs a remote store's operation in its own interruptible fiber and waits
 * for it: called from the breaker's uninterruptible region, the caller's
 * interruption waits until the operation is done (an admission is always
 * followed by its record), while the operation's own timeouts can still
 * interrupt it (in an uninterruptible region `Effect.timeout` could not).
 * A daemon, not a child: Effect 3 passes a fiber's interruption on to its
 * children at once, even while the fiber itself is uninterruptible, which
 * would cut the operation (and leak a probe lease).
 */
const shielded = <A, E>(operation: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.flatMap(Effect.forkDaemon(Effect.interruptible(operation)), Fiber.join)

/** @internal */
export const layer = <I, S>(
  tag: Context.Tag<I, S>,
  options: CircuitBreaker.CircuitBreaker.Options
): Layer.Layer<I, InvalidOptionsError> => Layer.scoped(tag, make(options) as unknown as Effect.Effect<S, InvalidOptionsError, Scope.Scope>)

/** @internal */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<CircuitBreaker.ConfigOptions>
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.scoped(
    tag,
    Effect.flatMap(validate.fromConfig("CircuitBreaker.layerConfig", config), (options) =>
      Effect.flatMap(validate.validated(() => Options.fromConfigOptions(options)), make)) as unknown as Effect.Effect<
        S,
        InvalidOptionsError | ConfigError.ConfigError,
        Scope.Scope
      >
  )

/** Maps a monotonic instant of `clock` to the wall-clock instant it is now shown as. */
const wallOf = (clock: Clock.Clock) => (at: number): number =>
  Math.round(at + clock.unsafeCurrentTimeMillis() - monotonicMillis(clock))

/** A state's instants in wall time. */
const stateInWallTime = (state: CircuitBreaker.StoredState, toWall: (at: number) => number): CircuitBreaker.StoredState =>
  state._tag === "Open"
    ? { ...state, since: toWall(state.since), until: toWall(state.until) }
    : { ...state, since: toWall(state.since) }

/** A stored state with the breaker's mode. */
const withMode = (state: CircuitBreaker.StoredState, mode: CircuitBreaker.Mode): CircuitBreaker.State =>
  ({ ...state, mode }) as CircuitBreaker.State
