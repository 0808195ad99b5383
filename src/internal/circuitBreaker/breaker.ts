/**
 * The circuit breaker: admission, the call, classification, recording, and
 * what is published about it. `CircuitBreakerImpl` holds a breaker's state
 * and behaviour as named members; `make` builds the callable around it.
 *
 * Hot path (closed circuit, in-process store, no enclosing deadline): the
 * call is one Effect primitive ({@link FastCall}: admission when it starts,
 * the record when it ends, no closure per call), admitted synchronously
 * (closed circuits hand out one shared ticket per generation; a
 * `consecutive` circuit without slow calls reads no time) and recorded
 * synchronously. Counts are plain numbers, published to Effect `Metric`s in
 * batches (see metrics.ts); events are built only for subscribers. An open
 * circuit's rejection builds its error without the `Error` constructor (see
 * `CircuitBreakerError.make`). Probes run in an uninterruptible region (the
 * effect itself stays interruptible), so an interrupted probe always frees
 * its slot.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as CircuitBreaker from "../../CircuitBreaker.js"
import type { InvalidKeyError, InvalidOptionsError } from "../../Errors.js"
import { active as activeDeadline, currentDeadline, type Deadline, isCutByTimeout } from "../deadline.js"
import { background, onDaemon } from "../detached.js"
import * as EventHub from "../events.js"
import * as Keys from "../keys.js"
import { unsafeMakeCallable } from "../policy.js"
import { monotonicMillis, sleep } from "../time.js"
import * as Spec from "../spec.js"
import * as userCode from "../userCode.js"
import * as validate from "../validate.js"
import * as classifiers from "./classify.js"
import { CircuitBreakerError, CircuitBreakerStoreError, CircuitHalfOpen, CircuitOpen, DEFAULT_KEY } from "./errors.js"
import * as Fast from "./fastCall.js"
import { CircuitBreakerStore } from "./memoryStore.js"
import { Counters, PUBLISH_EVERY_MILLIS } from "./metrics.js"
import * as Options from "./options.js"

type Store = CircuitBreaker.CircuitBreakerStore
type StoreConfig = CircuitBreaker.CircuitBreakerStore.Config
type Admission = CircuitBreaker.CircuitBreakerStore.Admission
type Admitted = CircuitBreaker.CircuitBreakerStore.Admitted
type Rejected = CircuitBreaker.CircuitBreakerStore.Rejected
type CallResult = CircuitBreaker.CircuitBreakerStore.CallResult
type Recorded = CircuitBreaker.CircuitBreakerStore.Recorded
type UnsafeNamespace = CircuitBreaker.CircuitBreakerStore.UnsafeNamespace
type Transition = CircuitBreaker.Transition
type ModeSetting = CircuitBreaker.CircuitBreakerStore.ModeSetting
type Mode = CircuitBreaker.Mode
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

/** Transitions kept for `metrics().transitions`. */
const HISTORY = 100
/** Transitions remembered to publish each once (shared stores deliver them twice). */
const SEEN_TRANSITIONS = 4096
/** How often a breaker on a shared store reads its mode again (pub/sub may lose a change). */
const MODE_REFRESH_MILLIS = 60_000
/** The most a call cut by an enclosing deadline must have run to count, without `slowCall`. */
const MAX_CUT_MINIMUM_MILLIS = 1_000

const SUCCESS: CallResult = { outcome: "success", slow: false, retryAfter: undefined }
const SUCCESS_SLOW: CallResult = { outcome: "success", slow: true, retryAfter: undefined }
const FAILURE: CallResult = { outcome: "failure", slow: false, retryAfter: undefined }
const FAILURE_SLOW: CallResult = { outcome: "failure", slow: true, retryAfter: undefined }
const IGNORED: CallResult = { outcome: "ignored", slow: false, retryAfter: undefined }

/** The ticket of a call let through because the store failed (`onStoreError: "allow"`): never recorded. */
const UNTRACKED: Admitted = { _tag: "Admitted", generation: -1, lease: 0, transitions: [] }
const UNTRACKED_RECORDED: Recorded = { transitions: [], fenced: false }

const MODES: ReadonlyArray<Mode> = ["Enforcing", "MetricsOnly", "Disabled"]
const SET_MODE = "CircuitBreaker.setMode"
/** The argument of `setMode`. */
const modeField = Spec.literal(...MODES).required()

const isModeSetting = (u: Transition | ModeSetting): u is ModeSetting => (u as ModeSetting)._tag === "ModeSetting"

const isolatedReason = new CircuitOpen({ retryAfter: Duration.infinity, isolated: true })

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
    const impl = new CircuitBreakerImpl(options, parsed, config, store, namespace, clock)
    yield* impl.start()
    return impl.breaker
  })

/** @internal */
export const layer = <I, S>(
  tag: Context.Tag<I, S>,
  options: CircuitBreaker.CircuitBreaker.Options
): Layer.Layer<I, InvalidOptionsError> => Layer.scoped(tag, make(options) as unknown as Effect.Effect<S, InvalidOptionsError, Scope.Scope>)

/** @internal */
export const config: Config.Config<CircuitBreaker.ConfigOptions> = Options.spec.config as Config.Config<any>

/** @internal */
export const fromConfig = (
  config: Config.Config.Wrap<CircuitBreaker.ConfigOptions>,
  code?: CircuitBreaker.CodeOptions,
  module = "CircuitBreaker.fromConfig"
): Effect.Effect<CircuitBreaker.CircuitBreaker, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> =>
  Effect.flatMap(Options.readConfig(module, config, code), make)

/** @internal */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  config: Config.Config.Wrap<CircuitBreaker.ConfigOptions>,
  code?: CircuitBreaker.CodeOptions
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.scoped(
    tag,
    fromConfig(config, code, "CircuitBreaker.layerConfig") as unknown as Effect.Effect<
      S,
      InvalidOptionsError | ConfigError.ConfigError,
      Scope.Scope
    >
  )

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
const shielded = <A, E>(operation: Effect.Effect<A, E>): Effect.Effect<A, E> => onDaemon(Effect.interruptible(operation))

/** Maps a monotonic instant of `clock` to the wall-clock instant it is now shown as. */
const wallOf = (clock: Clock.Clock) => (at: number): number =>
  Math.round(at + clock.unsafeCurrentTimeMillis() - monotonicMillis(clock))

/** A state's instants in wall time. */
const stateInWallTime = (state: CircuitBreaker.StoredState, toWall: (at: number) => number): CircuitBreaker.StoredState =>
  state._tag === "Open"
    ? { ...state, since: toWall(state.since), until: toWall(state.until) }
    : { ...state, since: toWall(state.since) }

/** A stored state with the breaker's mode. */
const withMode = (state: CircuitBreaker.StoredState, mode: Mode): CircuitBreaker.State =>
  ({ ...state, mode }) as CircuitBreaker.State

/**
 * One breaker. `key` in its members is the circuit's key in the store:
 * `undefined` for the breaker's own circuit (never the same circuit as a
 * keyed one), shown as `DEFAULT_KEY`.
 * @internal
 */
export class CircuitBreakerImpl implements Fast.Runner {
  readonly name: string
  readonly breaker: CircuitBreaker.CircuitBreaker
  /** The store's synchronous twin (in-process stores): the hot path. */
  private readonly handle: UnsafeNamespace | undefined
  /**
   * A closed circuit whose trip policy does not depend on time (consecutive,
   * no slow calls) is admitted and its successes recorded without reading
   * the clock (issue 15: a path that does not need time reads none).
   */
  readonly timeless: boolean
  /** Calls through the breaker are {@link FastCall}s (in-process store, no spans, a runtime that runs them). */
  private readonly fast: boolean
  /**
   * The own circuit was closed when a call last looked (a hint: a stale one
   * only picks the slower path). While it is not, own calls take the general
   * path, one step of the run loop shorter for a rejection.
   */
  private ownClosed = true
  /**
   * The store's time: monotonic for an in-process store (time.ts: breaks,
   * windows and leases never follow a step of the wall clock; the instants
   * it reports are shown in wall time through `toWall`), wall time for a
   * shared store (an instant shared between processes).
   */
  private readonly now: () => number
  private readonly toWall: ((at: number) => number) | undefined
  private readonly classify: Classifier | undefined
  private readonly slowMillis: number | undefined
  private readonly keyPolicy: Keys.KeyPolicy
  private readonly counters: Counters
  /** The mode, kept by the store (shared by the breakers of the namespace), applied here: read once per call. */
  private mode: Mode = "Enforcing"
  private modeGeneration = -1
  /** When the mode applied here was set (the store's time), for writing it back to a store that lost it. */
  private modeSince = 0
  private readonly events = EventHub.make<CircuitBreaker.Event>()
  private readonly transitionsHub = EventHub.make<Transition>()
  // Stryker disable next-line ArrayDeclaration: equivalent: a stray first element has no `key` (metrics(key) filters it out) and is the first shifted out at HISTORY
  private readonly history: Array<Transition> = []
  /**
   * With a shared store (`subscribe`), a transition this breaker made
   * reaches it twice: in the store's answer and through the subscription, in
   * either order. The first sight is published, the second skipped.
   */
  private readonly shared: boolean
  private readonly seen = new Map<string, true>()
  private readonly classifySite: userCode.Site

  constructor(
    readonly options: CircuitBreaker.CircuitBreaker.Options,
    private readonly parsed: Options.Parsed,
    private readonly config: StoreConfig,
    private readonly store: Store,
    private readonly namespace: string,
    clock: Clock.Clock
  ) {
    this.name = parsed.name
    const monotonic = store.time === "monotonic"
    this.now = monotonic ? () => monotonicMillis(clock) : () => clock.unsafeCurrentTimeMillis()
    this.toWall = monotonic ? wallOf(clock) : undefined
    this.classify = parsed.classify
    this.slowMillis = parsed.slowCallDuration
    this.keyPolicy = { kind: "CircuitBreaker", name: parsed.name, maxKeyLength: parsed.maxKeyLength }
    this.handle = store.unsafe?.namespace(namespace)
    this.timeless = config.trip._tag === "Consecutive" && this.slowMillis === undefined &&
      config.slowCallThreshold === undefined && this.handle?.admitClosed !== undefined &&
      this.handle.recordClosedSuccess !== undefined
    this.fast = this.handle !== undefined && !parsed.spans && Fast.supported()
    // Stryker disable next-line ConditionalExpression: equivalent as `true`: generations are unique in a store, so without a subscription no transition comes twice; the dedup would only keep its bounded bookkeeping
    this.shared = store.subscribe !== undefined
    this.counters = new Counters(parsed.name, parsed.labelMetricsByKey, this.now)
    this.classifySite = userCode.site("CircuitBreaker", parsed.name, "classify", "classified by the default classifier")
    this.breaker = this.makeCallable()
  }

  // ---------------------------------------------------------------------------
  // The callable

  private makeCallable(): CircuitBreaker.CircuitBreaker {
    const { config } = this
    // the breaker's own circuit: no key (see Keys.namespaced), never a keyed circuit
    const classify = this.classify
    // (a FastCall while the own circuit was last seen closed: it is one step of the run loop more
    // than the general path for a call that is rejected; either path decides and records the same)
    const policy = this.fast
      ? <A, E, R>(self: Effect.Effect<A, E, R>) =>
        this.ownClosed
          ? Fast.asEffect<A, E | CircuitBreakerError, R>(new Fast.FastCall(self, this, undefined, classify))
          : this.call(self, undefined, classify)
      : <A, E, R>(self: Effect.Effect<A, E, R>) => this.callOf(self, undefined, classify)
    const execute = dual(
      (args) => Effect.isEffect(args[0]),
      <A, E, R>(
        self: Effect.Effect<A, E, R>,
        opts: CircuitBreaker.CircuitBreaker.ExecuteOptions<A, E>
      ): Effect.Effect<A, E | CircuitBreakerError | InvalidKeyError, R> => {
        const key: unknown = opts?.key
        // refused before admission: never counted, nothing created in the store
        if (!Keys.isValid(this.keyPolicy, key)) return Effect.fail(Keys.refuse(this.keyPolicy, key))
        return this.callOf(self, key, (opts.classify as Classifier | undefined) ?? this.classify)
      }
    )
    const members = {
      [TypeId]: TypeId,
      policyName: this.name,
      options: this.options,
      execute,
      state: (key?: string) => this.state(key),
      isolate: (key?: string) => this.isolate(key),
      reset: (key?: string) => this.reset(key),
      setMode: (mode: Mode) => this.setMode(mode),
      metrics: (key?: string) => this.metrics(key),
      transitions: this.transitionsHub.stream,
      events: this.events.stream
    }
    return unsafeMakeCallable(Object.assign(policy, members), {
      kind: "CircuitBreaker",
      name: this.name,
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
        slowCall: this.slowMillis === undefined ? undefined : { duration: this.slowMillis, threshold: config.slowCallThreshold },
        onStoreError: this.parsed.onStoreError,
        store: this.store.kind
      }
    }) as unknown as CircuitBreaker.CircuitBreaker
  }

  /** A call through the circuit of `key`: a {@link FastCall} where possible. */
  private callOf<A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined
  ): Effect.Effect<A, E | CircuitBreakerError, R> {
    if (this.fast) return Fast.asEffect(new Fast.FastCall(self, this, key, classify))
    return this.parsed.spans ? this.traced(self, key, classify) : this.call(self, key, classify)
  }

  // ---------------------------------------------------------------------------
  // Lifecycle

  /** What the breaker runs in its scope: the last publication, the publisher, its peers and mode. */
  start(): Effect.Effect<void, never, Scope.Scope> {
    const { counters, store, namespace } = this
    const publishOnClose = Effect.addFinalizer(() => Effect.sync(counters.publish))
    // calls that read no time cannot trigger the time-based publication: a loop does, woken by
    // the first unpublished count (idle otherwise: no timer while nothing happens)
    const publisher = this.timeless
      ? Effect.forkScoped(
        background(Effect.forever(Effect.zipRight(Effect.zipRight(counters.unpublished, sleep(PUBLISH_EVERY_MILLIS)), Effect.sync(counters.publish))))
      )
      : Effect.void
    // the breakers of this namespace in this process: a mode change reaches each at once
    const peers = peersOf(store, namespace)
    const joinPeers = Effect.acquireRelease(Effect.sync(() => peers.add(this.applyMode)), () =>
      Effect.sync(() => {
        peers.delete(this.applyMode)
        // Stryker disable next-line OptionalChaining: equivalent: the store's entry is made by peersOf before the breaker joins and never removed
        if (peers.size === 0) localPeers.get(store)?.delete(namespace)
      }))
    return Effect.zipRight(Effect.zipRight(Effect.zipRight(publishOnClose, publisher), joinPeers), this.followMode())
  }

  /** Reads the mode in force (at once from an in-process store), and follows a shared store's changes. */
  private followMode(): Effect.Effect<void, never, Scope.Scope> {
    const { store, namespace } = this
    const readMode = store.getMode === undefined
      ? undefined
      : Effect.ignore(Effect.flatMap(store.getMode(namespace), this.refreshMode))
    // an in-process store: the mode in force, read at once
    if (store.subscribe === undefined) return readMode ?? Effect.void
    const subscribe = store.subscribe
    return Effect.gen(this, function*() {
      // transitions and mode changes made by other replicas (a shared store): active before make returns
      const remote = yield* subscribe(namespace)
      yield* Effect.forkScoped(background(Stream.runForEach(remote, (t) => Effect.sync(() => this.onRemote(t)))))
      if (readMode !== undefined) {
        // the mode in force, read in the background (make never waits on a remote store; a store
        // that fails: enforcing until the next read), then every MODE_REFRESH_MILLIS: pub/sub is
        // at most once, a change it lost is read then
        yield* Effect.forkScoped(background(Effect.forever(Effect.zipRight(readMode, Effect.sleep(MODE_REFRESH_MILLIS)))))
      }
    })
  }

  // ---------------------------------------------------------------------------
  // Admission

  /** A call on the general path (public combinators only): every store, spans, no FastCall. */
  call<A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined
  ): Effect.Effect<A, E | CircuitBreakerError, R> {
    if (this.handle === undefined) return this.guarded(self, key, classify)
    return Effect.withFiberRuntime((fiber) => this.decide(fiber, self, key, classify, undefined))
  }

  private traced<A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined
  ): Effect.Effect<A, E | CircuitBreakerError, R> {
    return Effect.withSpan(
      Effect.tapError(this.call(self, key, classify), (error) =>
        error instanceof CircuitBreakerError
          ? Effect.annotateCurrentSpan("rejected", error.reason._tag)
          : Effect.void),
      "resilience.circuit_breaker",
      { attributes: { policy: this.name, key: key ?? DEFAULT_KEY } }
    )
  }

  /** A {@link FastCall} starts: decides on its fiber (see {@link decide}). */
  begin(fiber: Fiber.RuntimeFiber<unknown, unknown>, call: Fast.FastCall): Effect.Effect<unknown, unknown, unknown> {
    return this.decide(fiber, call.self, call.key, call.classify, call)
  }

  /** The general path of a {@link FastCall}'s run. */
  general(call: Fast.FastCall): Effect.Effect<unknown, unknown, unknown> {
    return this.call(call.self, call.key, call.classify)
  }

  /**
   * Admission with an in-process store: the mode, read once per call (a
   * disabled breaker runs the call alone; metrics-only takes the guarded
   * path); a closed circuit admits at once (without the time when the
   * circuit is timeless and no deadline can cut the call); a probe (or the
   * move to half-open) is admitted in a guarded region instead. An admitted
   * call without a deadline runs in `fast`'s frame when given, else under
   * {@link runAdmitted}.
   */
  private decide<A, E, R>(
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined,
    fast: Fast.FastCall | undefined
  ): Effect.Effect<A, E | CircuitBreakerError, R> {
    const handle = this.handle!
    const mode = this.mode
    if (mode !== "Enforcing") return mode === "Disabled" ? self : this.guarded(self, key, classify)
    const deadline = activeDeadline(fiber.getFiberRef(currentDeadline))
    if (deadline === undefined && this.timeless) {
      // no deadline to count a cut against: a closed circuit admits without the time
      const ticket = handle.admitClosed!(key)
      if (ticket !== undefined) return this.admitted(self, key, classify, ticket, NaN, fast)
    }
    const start = this.now()
    const admission = handle.admit(key, this.config, start, false)
    if (admission === undefined || admission._tag === "Rejected") {
      if (key === undefined) this.ownClosed = false
      return admission === undefined ? this.guarded(self, key, classify) : this.reject(key, admission, start)
    }
    // without a deadline nothing of the library's can cut the call: no region needed
    if (deadline === undefined) return this.admitted(self, key, classify, admission, start, fast)
    if (key === undefined) this.ownClosed = true
    // with one, the result handler must run when the deadline interrupts the call
    const cutAfter = this.cutAfterFor(deadline)
    return Effect.uninterruptibleMask((restore) => this.runAdmitted(restore(self), key, classify, admission, start, true, cutAfter))
  }

  /** A call admitted synchronously without a deadline: run in `fast`'s frame, or under {@link runAdmitted}. */
  private admitted<A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined,
    ticket: Admitted,
    start: number,
    fast: Fast.FastCall | undefined
  ): Effect.Effect<A, E, R> {
    if (key === undefined) this.ownClosed = true
    // Stryker disable next-line BooleanLiteral: equivalent: with an in-process store, recording through its effect records the same, one scheduling step later
    if (fast === undefined) return this.runAdmitted(self, key, classify, ticket, start, true, undefined)
    fast.admitted(ticket, start)
    return self
  }

  /**
   * Admission that may take a probe slot: uninterruptible from admission until the result is recorded.
   * Every mode: Disabled runs the call alone; MetricsOnly runs what it would reject.
   */
  private guarded<A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined
  ): Effect.Effect<A, E | CircuitBreakerError, R> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.withFiberRuntime((fiber) => {
        const current = this.mode
        if (current === "Disabled") return restore(self)
        const enforcing = current === "Enforcing"
        const start = this.now()
        const cutAfter = this.cutAfterFor(activeDeadline(fiber.getFiberRef(currentDeadline)))
        if (this.handle !== undefined) {
          const admission = this.handle.admit(key, this.config, start, true)!
          // Stryker disable next-line BooleanLiteral: equivalent: with an in-process store, recording through its effect records the same, one scheduling step later
          return this.afterAdmission(restore(self), key, classify, admission, start, true, cutAfter, enforcing)
        }
        // shielded from the caller's interruption: an admission interrupted in flight
        // could take a probe lease that nobody records (the store's timeout bounds it)
        return Effect.matchCauseEffect(shielded(this.store.admit(this.namespace, key, this.config, start)), {
          onFailure: (cause): Effect.Effect<A, E | CircuitBreakerError, R> => {
            if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
            const error = this.asStoreError("admit", cause)
            const allow = this.parsed.onStoreError === "allow"
            this.onStoreFailure(key, error, allow)
            // Stryker disable next-line BooleanLiteral: equivalent: an UNTRACKED ticket is accounted the same way by recordSync and recordEffect (never recorded, never a probe)
            // (a metrics-only breaker never rejects)
            if (allow || !enforcing) return this.runAdmitted(restore(self), key, classify, UNTRACKED, start, false, undefined)
            this.counters.add(this.counters.rejectedStore, key)
            this.counters.tick(start)
            return Effect.fail(this.storeErrorFor(key, error))
          },
          onSuccess: (admission) =>
            this.afterAdmission(restore(self), key, classify, admission, start, false, cutAfter, enforcing)
        })
      })
    )
  }

  private afterAdmission<A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined,
    admission: Admission,
    start: number,
    sync: boolean,
    cutAfter: number | undefined,
    enforcing: boolean
  ): Effect.Effect<A, E | CircuitBreakerError, R> {
    if (admission.transitions.length > 0) this.onTransitions(admission.transitions)
    if (admission._tag === "Rejected") {
      if (enforcing) return this.reject(key, admission, start)
      // MetricsOnly: counted as a rejection, run without being recorded (an enforcing breaker would not see it)
      this.rejection(key, admission, start, false)
      // Stryker disable next-line BooleanLiteral: equivalent: an UNTRACKED ticket is accounted the same way by recordSync and recordEffect (never recorded, never a probe)
      return this.runAdmitted(self, key, classify, UNTRACKED, start, false, undefined)
    }
    if (admission.untracked === true) {
      // the store is full of circuits it must keep: run as if closed, not recorded
      this.counters.add(this.counters.untracked, key)
      this.events.emitWith(() => ({ _tag: "Untracked", breaker: this.name, key: key ?? DEFAULT_KEY }))
      // Stryker disable next-line BooleanLiteral: equivalent: an UNTRACKED ticket is accounted the same way by recordSync and recordEffect (never recorded, never a probe)
      return this.runAdmitted(self, key, classify, UNTRACKED, start, false, undefined)
    }
    return this.runAdmitted(self, key, classify, admission, start, sync, cutAfter)
  }

  /**
   * How long an admitted call must have run before a cut by the enclosing
   * deadline counts as the dependency's failure: `slowCall.duration` when
   * set, otherwise half the enclosing timeout's duration, at most 1 second
   * (so a call admitted with a sliver of its budget left, after queueing
   * elsewhere, is not blamed on the dependency). `undefined` without a deadline,
   * and for a request's deadline from its header (`fromRequest`): the caller's
   * budget running out is never the dependency's failure.
   */
  private cutAfterFor(deadline: Deadline | undefined): number | undefined {
    return deadline === undefined || deadline.fromRequest === true
      ? undefined
      : this.slowMillis ?? Math.min(MAX_CUT_MINIMUM_MILLIS, Duration.toMillis(deadline.duration) / 2)
  }

  // ---------------------------------------------------------------------------
  // Rejections

  /** Counts a rejection (made, or in MetricsOnly mode one that would have been made) and says why. */
  private rejection(key: string | undefined, admission: Rejected, now: number, enforced: boolean): CircuitOpen | CircuitHalfOpen {
    let reason: CircuitOpen | CircuitHalfOpen
    let retryAfter: Duration.Duration | undefined
    if (admission.state === "Isolated") {
      reason = isolatedReason
    } else {
      // open: the time left in the break; half-open: until the earliest probe's lease ends (an upper bound)
      retryAfter = Duration.millis(Math.max(0, admission.retryAfter ?? 0))
      reason = admission.state === "HalfOpen"
        ? CircuitHalfOpen.make(this.config.probes, retryAfter)
        : CircuitOpen.make(retryAfter, false)
    }
    this.counters.add(reason._tag === "CircuitOpen" ? this.counters.rejectedOpen : this.counters.rejectedHalfOpen, key)
    this.counters.tick(now)
    this.events.emitWith(() => ({
      _tag: "Rejected",
      breaker: this.name,
      key: key ?? DEFAULT_KEY,
      reason: reason._tag,
      retryAfter,
      enforced
    }))
    return reason
  }

  private reject(key: string | undefined, admission: Rejected, now: number): Effect.Effect<never, CircuitBreakerError> {
    return Effect.fail(CircuitBreakerError.make(this.name, key ?? DEFAULT_KEY, this.rejection(key, admission, now, true)))
  }

  // ---------------------------------------------------------------------------
  // The call and its result

  /**
   * Runs an admitted call and records its result (synchronously with an
   * in-process store, `sync`, else through the store's effects). An
   * interrupted call admitted while closed is not recorded at all; an
   * interrupted probe is recorded as ignored (it frees its slot).
   */
  private runAdmitted<A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string | undefined,
    classify: Classifier | undefined,
    ticket: Admitted,
    start: number,
    sync: boolean,
    cutAfter: number | undefined
  ): Effect.Effect<A, E, R> {
    return Effect.matchCauseEffect(self, {
      onSuccess: (a) => this.settleSuccess(a, key, classify, ticket, start, sync),
      onFailure: (cause) => this.settleFailure(cause, key, classify, ticket, start, sync, cutAfter)
    }) as Effect.Effect<A, E, R>
  }

  /** A {@link FastCall}'s admitted run succeeded. */
  succeeded(value: unknown, call: Fast.FastCall): Effect.Effect<unknown, unknown, unknown> {
    const { classify, key, start, ticket } = call
    // Stryker disable next-line BooleanLiteral: equivalent: with an in-process store, recording through its effect records the same, one scheduling step later
    if (classify !== undefined) return this.settleSuccess(value, key, classify, ticket!, start, true)
    this.recordSync(key, ticket!, classifiers.Outcome.success, start)
    return Exit.succeed(value)
  }

  /** A {@link FastCall}'s admitted run failed. */
  failed(cause: Cause.Cause<unknown>, call: Fast.FastCall): Effect.Effect<unknown, unknown, unknown> {
    // Stryker disable next-line BooleanLiteral: equivalent: with an in-process store, recording through its effect records the same, one scheduling step later
    return this.settleFailure(cause, call.key, call.classify, call.ticket!, call.start, true, undefined)
  }

  private settleSuccess<A>(
    a: A,
    key: string | undefined,
    classify: Classifier | undefined,
    ticket: Admitted,
    start: number,
    sync: boolean
  ): Effect.Effect<A, any> {
    return classify === undefined
      ? this.settle(classifiers.Outcome.success, Exit.succeed(a), key, ticket, start, sync)
      : this.settleWith(this.classifyExit(classify, Exit.succeed(a)), Exit.succeed(a), key, ticket, start, sync)
  }

  private settleFailure(
    cause: Cause.Cause<unknown>,
    key: string | undefined,
    classify: Classifier | undefined,
    ticket: Admitted,
    start: number,
    sync: boolean,
    cutAfter: number | undefined
  ): Effect.Effect<never, any> {
    if (Cause.isInterruptedOnly(cause)) {
      // cut by the library's own deadline after running long enough in the dependency: a timeout of
      // the dependency, counted as a failure; an interruption by the caller is never counted
      if (cutAfter !== undefined && isCutByTimeout(cause) && this.now() - start >= cutAfter) {
        return this.settle(classifiers.Outcome.failure(), Exit.failCause(cause), key, ticket, start, sync)
      }
      return ticket.lease === 0
        ? Exit.failCause(cause)
        : this.settle(classifiers.Outcome.ignored, Exit.failCause(cause), key, ticket, start, sync)
    }
    if (classifiers.ignoredBeforeClassify(cause)) {
      return this.settle(classifiers.Outcome.ignored, Exit.failCause(cause), key, ticket, start, sync)
    }
    return this.settleWith(this.classifyExit(classify, Exit.failCause(cause)), Exit.failCause(cause), key, ticket, start, sync)
  }

  /** Records `outcome` (synchronously, or through the store), then continues with `then`. */
  private settle<X>(
    outcome: Outcome,
    then: Effect.Effect<X, any>,
    key: string | undefined,
    ticket: Admitted,
    start: number,
    sync: boolean
  ): Effect.Effect<X, any> {
    // Stryker disable next-line BlockStatement: equivalent: without the block the record goes through the in-process store's effect: the same record, one scheduling step later
    if (sync) {
      this.recordSync(key, ticket, outcome, start)
      return then
    }
    return Effect.zipRight(this.recordEffect(key, ticket, outcome, start), then)
  }

  private settleWith<X>(
    outcome: Outcome | Effect.Effect<Outcome>,
    then: Effect.Effect<X, any>,
    key: string | undefined,
    ticket: Admitted,
    start: number,
    sync: boolean
  ): Effect.Effect<X, any> {
    return Effect.isEffect(outcome)
      ? Effect.flatMap(outcome, (o) => this.settle(o, then, key, ticket, start, sync))
      : this.settle(outcome, then, key, ticket, start, sync)
  }

  /**
   * User code: a classify that throws, answers something that is not an
   * Outcome, fails, dies or runs past DEFAULT_HOOK_TIMEOUT_MILLIS is
   * reported and the call classified as the default classifier would (so a
   * probe always settles: its slot is never held until probeTimeout).
   */
  private classifyExit(classify: Classifier | undefined, exit: Exit.Exit<unknown, unknown>): Outcome | Effect.Effect<Outcome> {
    if (classify === undefined) return classifiers.defaultClassify(exit)
    const site = this.classifySite
    const outcome = userCode.call(site, classify, exit, isOutcomeOrEffect, classifiers.defaultClassify)
    return Effect.isEffect(outcome)
      ? userCode.awaitHook(site, outcome, userCode.DEFAULT_HOOK_TIMEOUT_MILLIS, isOutcome, () => classifiers.defaultClassify(exit))
      : outcome
  }

  private toResult(outcome: Outcome, elapsed: number): CallResult {
    if (outcome._tag === "Ignored") return IGNORED
    const slow = this.slowMillis !== undefined && elapsed > this.slowMillis
    if (outcome._tag === "Success") return slow ? SUCCESS_SLOW : SUCCESS
    if (outcome.retryAfter === undefined) return slow ? FAILURE_SLOW : FAILURE
    return { outcome: "failure", slow, retryAfter: Duration.toMillis(outcome.retryAfter) }
  }

  /** Records synchronously (in-process store). */
  private recordSync(key: string | undefined, ticket: Admitted, outcome: Outcome, start: number): void {
    const handle = this.handle!
    if (Number.isNaN(start)) {
      // admitted without the time (admitClosed): a success of a still-closed circuit needs none
      if (outcome._tag === "Success" && handle.recordClosedSuccess!(key, ticket)) {
        // nothing moved (no transition, not fenced): the count-based publication only, and the
        // publisher loop publishes the rest within PUBLISH_EVERY_MILLIS (see start)
        this.counters.successWithoutTime()
        return
      }
      const at = this.now()
      const counted = this.toResult(outcome, 0)
      return this.account(key, counted, handle.record(key, this.config, ticket, counted, at), ticket.lease !== 0, 0, at)
    }
    const now = this.now()
    const result = this.toResult(outcome, now - start)
    // Stryker disable next-line ConditionalExpression: equivalent as `false`: recordSync never gets UNTRACKED (untracked calls run with sync = false)
    const recorded = ticket === UNTRACKED ? UNTRACKED_RECORDED : handle.record(key, this.config, ticket, result, now)
    this.account(key, result, recorded, ticket.lease !== 0, now - start, now)
  }

  /** Records through the store's effects (remote store); a failure to record never changes the call's result. */
  private recordEffect(key: string | undefined, ticket: Admitted, outcome: Outcome, start: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      const now = this.now()
      const result = this.toResult(outcome, now - start)
      if (ticket === UNTRACKED) {
        this.account(key, result, UNTRACKED_RECORDED, false, now - start, now)
        return Effect.void
      }
      return Effect.matchCause(shielded(this.store.record(this.namespace, key, this.config, ticket, result, now)), {
        onFailure: (cause) => {
          this.onStoreFailure(key, this.asStoreError("record", cause), true)
          this.account(key, result, UNTRACKED_RECORDED, ticket.lease !== 0, now - start, now)
        },
        onSuccess: (recorded) => this.account(key, result, recorded, ticket.lease !== 0, now - start, now)
      })
    })
  }

  /** Accounts for a recorded call (counts, metrics, events, transitions). */
  private account(
    key: string | undefined,
    result: CallResult,
    recorded: Recorded,
    probe: boolean,
    elapsed: number,
    now: number
  ): void {
    const counters = this.counters
    switch (result.outcome) {
      case "success":
        counters.successes.count++
        break
      case "failure":
        counters.add(counters.failures, key)
        this.events.emitWith(() => ({ _tag: "Failure", breaker: this.name, key: key ?? DEFAULT_KEY, slow: result.slow, probe }))
        break
      default:
        counters.ignored.count++
    }
    if (result.slow) {
      counters.slowCalls.count++
      this.events.emitWith(() => ({
        _tag: "SlowCall",
        breaker: this.name,
        key: key ?? DEFAULT_KEY,
        duration: Duration.millis(elapsed)
      }))
    }
    if (recorded.fenced) {
      counters.fenced.count++
      this.events.emitWith(() => ({ _tag: "Fenced", breaker: this.name, key: key ?? DEFAULT_KEY, outcome: result.outcome }))
    }
    if (recorded.transitions.length > 0) this.onTransitions(recorded.transitions)
    counters.tick(now)
  }

  // ---------------------------------------------------------------------------
  // Publishing: transitions, mode, store failures

  /** Publishes a transition (history, state gauge, `transitions`, `events`). */
  private observe(t: Transition): void {
    this.history.push(t)
    if (this.history.length > HISTORY) this.history.shift()
    if (t.key === DEFAULT_KEY) this.counters.ownState(t.to)
    this.transitionsHub.emit(t)
    this.events.emitWith(() => ({ _tag: "Transition", breaker: this.name, transition: t }))
  }

  /** Transitions this breaker made: counted in the transitions metric (by the replica that made them only). */
  private onTransitions(transitions: ReadonlyArray<Transition>): void {
    const toWall = this.toWall
    for (let i = 0; i < transitions.length; i++) {
      const t = toWall === undefined ? transitions[i]! : { ...transitions[i]!, at: toWall(transitions[i]!.at) }
      this.counters.transition(t)
      if (!this.shared || this.firstSight(t)) this.observe(t)
    }
    this.counters.publish()
  }

  /** True the first time a transition is seen (a shared store delivers the ones this breaker made twice). */
  private firstSight(t: Transition): boolean {
    const id = `${t.generation}\u0000${t.to}\u0000${t.at}\u0000${t.key}`
    const seen = this.seen
    if (seen.has(id)) {
      seen.delete(id)
      return false
    }
    // Stryker disable next-line BooleanLiteral: equivalent: only the key's presence is read (`seen.has`), never the value
    seen.set(id, true)
    if (seen.size > SEEN_TRANSITIONS) seen.delete(seen.keys().next().value!)
    return true
  }

  /** A transition or mode change received from a shared store's subscription (made here or by another replica). */
  private readonly onRemote = (t: Transition | ModeSetting): void => {
    if (isModeSetting(t)) this.applyMode(t)
    else if (this.firstSight(t)) this.observe(t)
  }

  /**
   * A mode setting read from the store: applied; or, when older than the one
   * applied here (the store lost it: Redis restarted empty, or restored an
   * older copy), the one applied here is written back as it was, so that
   * breakers made since (which read the store's) follow the setting in force
   * rather than the store's loss.
   */
  private readonly refreshMode = (setting: ModeSetting): Effect.Effect<void, CircuitBreakerStoreError> => {
    const { store, namespace } = this
    if (setting.generation >= this.modeGeneration || store.restoreMode === undefined) {
      this.applyMode(setting)
      return Effect.void
    }
    return Effect.map(
      store.restoreMode(namespace, { _tag: "ModeSetting", mode: this.mode, since: this.modeSince, generation: this.modeGeneration }),
      this.applyMode
    )
  }

  /** Applies a mode setting of the store, once and never an older one (settings arrive by several paths). */
  private readonly applyMode = (setting: ModeSetting): void => {
    if (setting.generation <= this.modeGeneration) return
    this.modeGeneration = setting.generation
    this.modeSince = setting.since
    const from = this.mode
    if (from === setting.mode) return
    this.mode = setting.mode
    this.counters.modeChanged(setting.mode)
    this.events.emitWith(() => ({
      _tag: "ModeChanged",
      breaker: this.name,
      from,
      to: setting.mode,
      at: this.toWall === undefined ? setting.since : this.toWall(setting.since)
    }))
  }

  private onStoreFailure(key: string | undefined, error: CircuitBreakerStoreError, allowed: boolean): void {
    this.counters.storeErrors.count++
    this.events.emitWith(() => ({ _tag: "StoreError", breaker: this.name, key: key ?? DEFAULT_KEY, error, allowed }))
  }

  private asStoreError(operation: string, cause: Cause.Cause<unknown>): CircuitBreakerStoreError {
    const failure = Cause.failureOption(cause)
    // Stryker disable next-line ConditionalExpression: `failure._tag === "Some"` as `true` is equivalent: a None has no `value`, and `undefined instanceof` is false
    if (failure._tag === "Some" && failure.value instanceof CircuitBreakerStoreError) return failure.value
    return new CircuitBreakerStoreError({ operation, cause: Cause.squash(cause) })
  }

  private storeErrorFor(key: string | undefined, error: CircuitBreakerStoreError): CircuitBreakerError {
    return CircuitBreakerError.make(this.name, key ?? DEFAULT_KEY, error)
  }

  // ---------------------------------------------------------------------------
  // Readers and controls

  /** Runs `f` with a valid key (`undefined`: the own circuit), or fails with `InvalidKeyError`. */
  private withKey<A, E>(
    key: unknown,
    f: (key: string | undefined) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | InvalidKeyError> {
    return key === undefined || Keys.isValid(this.keyPolicy, key) ? f(key) : Effect.fail(Keys.refuse(this.keyPolicy, key))
  }

  /** A store operation of a reader or control: a failure is counted and becomes a `CircuitBreakerError`. */
  private wrapStore<A>(
    key: string | undefined,
    operation: string,
    effect: Effect.Effect<A, CircuitBreakerStoreError>
  ): Effect.Effect<A, CircuitBreakerError> {
    return Effect.catchAllCause(effect, (cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const error = this.asStoreError(operation, cause)
      this.onStoreFailure(key, error, false)
      return Effect.fail(this.storeErrorFor(key, error))
    })
  }

  private snapshot(key: string | undefined) {
    return this.wrapStore(key, "snapshot", Effect.suspend(() => this.store.snapshot(this.namespace, key, this.config, this.now()))).pipe(
      Effect.map((s) => ({
        ...s,
        state: withMode(this.toWall === undefined ? s.state : stateInWallTime(s.state, this.toWall), this.mode)
      }))
    )
  }

  state(key?: string): Effect.Effect<CircuitBreaker.State, CircuitBreakerError | InvalidKeyError> {
    return this.withKey(key, (k) => Effect.map(this.snapshot(k), (s) => s.state))
  }

  isolate(key?: string): Effect.Effect<void, CircuitBreakerError | InvalidKeyError> {
    return this.withKey(key, (k) =>
      this.wrapStore(k, "isolate", Effect.suspend(() => this.store.isolate(this.namespace, k, this.config, this.now()))).pipe(
        Effect.map((transitions) => this.onTransitions(transitions))
      ))
  }

  reset(key?: string): Effect.Effect<void, CircuitBreakerError | InvalidKeyError> {
    return this.withKey(key, (k) =>
      this.wrapStore(k, "reset", Effect.suspend(() => this.store.reset(this.namespace, k, this.config, this.now()))).pipe(
        Effect.map((transitions) => this.onTransitions(transitions))
      ))
  }

  setMode(next: Mode): Effect.Effect<void, CircuitBreakerError | InvalidOptionsError> {
    return Effect.suspend((): Effect.Effect<void, CircuitBreakerError | InvalidOptionsError> => {
      try {
        modeField.props.parse(SET_MODE, "mode", next)
      } catch (e) {
        return Effect.fail(e as InvalidOptionsError)
      }
      const store = this.store
      if (store.setMode === undefined) {
        // a store that keeps no mode: this breaker's alone
        // Stryker disable next-line StringLiteral: equivalent: applyMode reads the setting's mode, since and generation, never its tag
        this.applyMode({ _tag: "ModeSetting", mode: next, since: this.now(), generation: this.modeGeneration + 1 })
        return Effect.void
      }
      // the generation applied here: a store that lost the setting still makes one every breaker applies
      const after = Math.max(0, this.modeGeneration)
      return this.wrapStore(undefined, "setMode", Effect.suspend(() => store.setMode!(this.namespace, next, this.now(), after))).pipe(
        // every breaker of the namespace in this process at once (other replicas through the store)
        Effect.map((setting) => {
          for (const peer of peersOf(store, this.namespace)) peer(setting)
          this.applyMode(setting)
        })
      )
    })
  }

  metrics(key?: string): Effect.Effect<CircuitBreaker.Metrics, CircuitBreakerError | InvalidKeyError> {
    return this.withKey(key, (k) => this.metricsOf(k, k ?? DEFAULT_KEY))
  }

  private metricsOf(storeKey: string | undefined, key: string): Effect.Effect<CircuitBreaker.Metrics, CircuitBreakerError> {
    return Effect.map(this.snapshot(storeKey), (s) => {
      this.counters.publish()
      const w = s.window
      const config = this.config
      const hasRate = config.trip._tag !== "Consecutive"
      return {
        breaker: this.name,
        key,
        store: this.store.kind,
        state: s.state,
        mode: s.state.mode,
        ...s.counters,
        windowCalls: w.calls,
        failureRate: hasRate && w.calls > 0 ? w.failures / w.calls : undefined,
        slowCallRate: config.slowCallThreshold !== undefined && w.calls > 0 ? w.slowCalls / w.calls : undefined,
        consecutiveFailures: w.consecutiveFailures,
        transitions: this.history.filter((t) => t.key === key),
        totals: this.counters.totals()
      }
    })
  }
}
