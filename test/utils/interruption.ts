/**
 * Interrupting a call at every await point (STYLE.md §12), deterministically.
 *
 * - {@link CallTree}: a `Supervisor` put on the caller's fiber; it knows every fiber the call
 *   starts (attempts, timers, races, a timeout's work fiber, an idempotent execution) and counts
 *   how often any of them ran, so the driver can tell when the call can go no further without
 *   time passing or the outside world answering.
 * - {@link SteppedClock}: the clock of the call. For the yield variant, virtual time of its own:
 *   the driver moves it to the call's next timer, which resumes (schedules) the sleepers due, so
 *   the instant right after a timer fired, before the woken fibers ran, is a step of its own, and
 *   no step waits for real time. For the tick variant, the `TestClock` itself, with the call's
 *   pending sleeps noted (`TestClock.adjust` runs every fiber it wakes until all suspend).
 * - {@link Work}: the user's effect, counted (runs started, running, started after the
 *   interruption was sent or after the caller ended), each run scripted (wait on a gate the
 *   driver opens, or sleep; then succeed or fail).
 * - {@link Scenario}: what the sweep runs, fresh for every k; {@link single} builds the common
 *   one (one work through one policy).
 * - {@link Driver}: one step at a time. In `"yield"` mode a step is an `Effect.yieldNow()`; when
 *   the call has made no progress for two steps it is blocked, and the step first moves the
 *   clock to the call's earliest timer or, with no timer pending, answers the next thing the call
 *   waits on (a holder's release, the oldest gate of the work). In `"tick"` mode a step is
 *   `TestClock.adjust(tick)`, after which every fiber is suspended; with no timer of the call
 *   pending, the step ends with the next answer.
 *
 * @internal
 */
import {
  Cause,
  Clock,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  type Fiber,
  FiberId,
  FiberRef,
  Option,
  type Scope,
  Supervisor,
  type TestClock
} from "effect"

/**
 * The fibers a call started (its supervisor), and how often they ran. Also the supervisor of
 * test/utils/scopeClose.ts (what a program left running once its scope closed; its hang guard
 * reads `resumes`).
 */
export class CallTree extends Supervisor.AbstractSupervisor<void> {
  readonly live = new Set<Fiber.RuntimeFiber<any, any>>()
  readonly roots = new Set<Fiber.RuntimeFiber<any, any>>()
  /** Where each fiber was forked (with INTERRUPTION_DEBUG set). */
  readonly origins = new Map<Fiber.RuntimeFiber<any, any>, string>()
  /** Times any fiber of the call ran (was resumed by the scheduler). */
  resumes = 0
  readonly value: Effect.Effect<void> = Effect.void

  override onStart<A, E, R>(
    _context: unknown,
    _effect: Effect.Effect<A, E, R>,
    _parent: Option.Option<Fiber.RuntimeFiber<any, any>>,
    fiber: Fiber.RuntimeFiber<A, E>
  ): void {
    this.live.add(fiber)
    if (process.env.INTERRUPTION_DEBUG) {
      Error.stackTraceLimit = 80
      this.origins.set(fiber, new Error("forked").stack ?? "")
    }
  }

  override onEnd<A, E>(_value: Exit.Exit<A, E>, fiber: Fiber.RuntimeFiber<A, E>): void {
    this.live.delete(fiber)
  }

  override onResume<A, E>(_fiber: Fiber.RuntimeFiber<A, E>): void {
    this.resumes++
  }

  has(fiber: Fiber.RuntimeFiber<any, any>): boolean {
    return this.roots.has(fiber) || this.live.has(fiber)
  }

  /** Runs `self` on a fiber of the call (its root), supervised. */
  fork<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R> {
    return Effect.tap(Effect.fork(Effect.supervised(self, this)), (fiber) => Effect.sync(() => this.roots.add(fiber)))
  }
}

interface Sleeper {
  readonly at: number
  readonly seq: number
  /** A sleep of a fiber of the call. */
  readonly ofCall: boolean
  /** Resumes the sleeper (virtual time only). */
  readonly wake: (() => void) | undefined
}

/**
 * The clock of a call under test (see the module comment), in one of two forms:
 *
 * - `"virtual"`: its own time, starting at the `TestClock`'s. Every sleep waits in a list; moving
 *   the clock to the call's next timer resumes every sleeper due by then, in order, and returns:
 *   the sleepers are only scheduled, so the instant right after a timer fired (before the woken
 *   fibers ran) is a step of its own. No real timer, no waiting for fibers to suspend: a step
 *   costs microseconds.
 * - `"test"`: the `TestClock` itself (`TestClock.adjust` runs every fiber it wakes until all of
 *   them suspend), with the call's pending sleeps noted.
 */
export class SteppedClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private readonly sleepers: Array<Sleeper> = []
  private seq = 0
  private now: number

  constructor(readonly test: TestClock.TestClock, readonly tree: CallTree, readonly mode: "virtual" | "test") {
    this.now = test.unsafeCurrentTimeMillis()
  }

  unsafeCurrentTimeMillis(): number {
    return this.mode === "virtual" ? this.now : this.test.unsafeCurrentTimeMillis()
  }
  unsafeCurrentTimeNanos(): bigint {
    return this.mode === "virtual" ? BigInt(Math.round(this.now * 1_000_000)) : this.test.unsafeCurrentTimeNanos()
  }
  get currentTimeMillis(): Effect.Effect<number> {
    return Effect.sync(() => this.unsafeCurrentTimeMillis())
  }
  get currentTimeNanos(): Effect.Effect<bigint> {
    return Effect.sync(() => this.unsafeCurrentTimeNanos())
  }

  /** `TestClock.adjust` reads the `Clock` service as a `TestClock`: under this clock it lands here. */
  adjust(duration: Duration.DurationInput): Effect.Effect<void> {
    if (this.mode === "test") return this.test.adjust(duration)
    return Effect.sync(() => this.advanceTo(this.now + Duration.toMillis(Duration.decode(duration))))
  }

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    const millis = Duration.toMillis(duration)
    return Effect.withFiberRuntime((fiber) => {
      const ofCall = this.tree.has(fiber)
      if (this.mode === "test") {
        if (!(millis > 0) || !ofCall) return this.test.sleep(duration)
        const sleeper: Sleeper = { at: this.test.unsafeCurrentTimeMillis() + millis, seq: this.seq++, ofCall, wake: undefined }
        this.sleepers.push(sleeper)
        return Effect.ensuring(
          this.test.sleep(duration),
          Effect.sync(() => remove(this.sleepers, sleeper))
        )
      }
      if (!(millis > 0)) return Effect.void
      if (millis === Infinity) return Effect.never
      return Effect.async<void>((resume) => {
        const sleeper: Sleeper = { at: this.now + millis, seq: this.seq++, ofCall, wake: () => resume(Effect.void) }
        this.sleepers.push(sleeper)
        return Effect.sync(() => remove(this.sleepers, sleeper))
      })
    })
  }

  /** The instant of the call's earliest pending sleep. */
  next(): number | undefined {
    let at: number | undefined = undefined
    for (const t of this.sleepers) if (t.ofCall && (at === undefined || t.at < at)) at = t.at
    return at
  }

  /** Whether a fiber of the call sleeps. */
  get pending(): boolean {
    return this.next() !== undefined
  }

  /** Virtual time: moves to `at`, resuming every sleeper due by then (earliest first). */
  private advanceTo(at: number): void {
    this.now = Math.max(this.now, at)
    const due = this.sleepers.filter((t) => t.at <= this.now).sort((a, b) => a.at - b.at || a.seq - b.seq)
    for (const t of due) {
      remove(this.sleepers, t)
      t.wake?.()
    }
  }

  /** Moves the clock to the call's earliest pending sleep; false when none. */
  fireNext(): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const at = this.next()
      if (at === undefined) return Effect.succeed(false)
      if (this.mode === "virtual") {
        this.advanceTo(at)
        return Effect.succeed(true)
      }
      return Effect.as(this.test.adjust(Duration.millis(Math.max(0, at - this.unsafeCurrentTimeMillis()))), true)
    })
  }
}

const remove = <A>(array: Array<A>, a: A): void => {
  const i = array.indexOf(a)
  if (i >= 0) array.splice(i, 1)
}

/** A typed failure of the work. */
export class WorkError extends Data.TaggedError("WorkError")<{ readonly work: string; readonly run: number }> {}

/** What one run of the work does: wait (on a gate the driver opens, or a sleep), then succeed, fail or interrupt itself. */
export interface Run {
  readonly wait?: "gate" | number | undefined
  readonly outcome: "ok" | "fail" | "interrupt"
}

/** Where the call under test is: the interruption sent to the caller's fiber, the caller ended. */
export class CallState {
  interruptSent = false
  ended = false
}

/** Whether `fiber` has taken in an interruption (it then runs only what is uninterruptible, and its finalizers). */
export const interruptedFiber = (fiber: Fiber.RuntimeFiber<any, any>): boolean =>
  !Cause.isEmpty(fiber.getFiberRef(FiberRef.interruptedCause))

/** The user's effect, counted and scripted (see the module comment). */
export class Work {
  starts = 0
  running = 0
  /**
   * Runs started after the interruption was sent to the caller by a fiber that had not taken in
   * an interruption yet: an attempt launched as the signal travelled down (a race, not a fault).
   */
  startedAfterInterruptSent = 0
  /**
   * Runs started by a fiber that had taken in an interruption: the policy went on calling the
   * dependency, knowingly, after it was interrupted (in an uninterruptible region or a finalizer).
   */
  startedAfterInterrupt = 0
  /** Runs started after the caller ended. */
  startedAfterEnd = 0
  /** The call this work belongs to (set by the harness). */
  call: CallState = new CallState()
  /** Every gate open, now and later. */
  private open = false
  private readonly gates: Array<Deferred.Deferred<void>> = []
  /** The clock time at which each run started. */
  readonly startedAt: Array<number> = []

  constructor(readonly name: string, readonly script: (run: number) => Run) {}

  readonly run: Effect.Effect<string, WorkError> = Effect.withFiberRuntime((fiber) => {
    const n = ++this.starts
    const call = this.call
    if (interruptedFiber(fiber)) this.startedAfterInterrupt++
    else if (call.interruptSent) this.startedAfterInterruptSent++
    if (call.ended) this.startedAfterEnd++
    this.running++
    const step = this.script(n)
    const outcome: Effect.Effect<string, WorkError> = step.outcome === "ok"
      ? Effect.succeed(`${this.name}-${n}`)
      : step.outcome === "fail"
      ? Effect.fail(new WorkError({ work: this.name, run: n }))
      : Effect.interrupt
    const body = Effect.zipRight(this.wait(step.wait), outcome)
    return Effect.onExit(
      Effect.zipRight(Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => this.startedAt.push(now))), body),
      () =>
        Effect.sync(() => {
          this.running--
        })
    )
  })

  private wait(wait: Run["wait"]): Effect.Effect<void> {
    if (wait === undefined) return Effect.void
    if (typeof wait === "number") return Effect.sleep(Duration.millis(wait))
    if (this.open) return Effect.void
    const gate = Deferred.unsafeMake<void>(FiberId.none)
    this.gates.push(gate)
    return Effect.ensuring(Deferred.await(gate), Effect.sync(() => remove(this.gates, gate)))
  }

  /** Opens the gate of the run that waits longest; false when none waits. */
  releaseNext(): boolean {
    const gate = this.gates.shift()
    if (gate === undefined) return false
    Deferred.unsafeDone(gate, Exit.void)
    return true
  }

  /** Opens every gate, now and later. */
  releaseAll(): void {
    this.open = true
    while (this.releaseNext()) {
      //
    }
  }
}

/** Runs a piece of work in the order given, then each work's gates (oldest first): what a blocked call gets next. */
export class World {
  private readonly queue: Array<() => void>
  constructor(readonly works: ReadonlyArray<Work>, releases: ReadonlyArray<() => void> = []) {
    this.queue = [...releases]
  }
  /** Answers the next thing a blocked call may wait on; false when there is nothing left to answer. */
  answer(): boolean {
    const next = this.queue.shift()
    if (next !== undefined) {
      next()
      return true
    }
    for (const w of this.works) if (w.releaseNext()) return true
    return false
  }
  /** Answers everything, now and later. */
  answerAll(): void {
    while (this.queue.length > 0) this.queue.shift()!()
    for (const w of this.works) w.releaseAll()
  }
}

/** Steps without progress after which the call counts as blocked. */
const IDLE_STEPS = 2

/** Drives a call one step at a time (see the module comment). */
export class Driver {
  private idle = 0
  private seen: number

  constructor(
    readonly mode: "yield" | "tick",
    readonly clock: SteppedClock,
    readonly world: World,
    readonly tickMillis = 1
  ) {
    this.seen = clock.tree.resumes
  }

  readonly step: Effect.Effect<void> = Effect.suspend(() => {
    if (this.mode === "tick") {
      // every fiber is suspended once the clock moved: with no timer of the call pending, it waits on the world
      return Effect.zipRight(
        this.clock.adjust(Duration.millis(this.tickMillis)),
        Effect.sync(() => {
          if (!this.clock.pending) this.world.answer()
        })
      )
    }
    const tree = this.clock.tree
    return Effect.zipRight(
      Effect.yieldNow(),
      Effect.suspend(() => {
        if (tree.resumes !== this.seen) {
          this.idle = 0
          this.seen = tree.resumes
          return Effect.void
        }
        if (++this.idle < IDLE_STEPS) return Effect.void
        // blocked: the call's next timer fires, or the world answers; the fibers it wakes are only
        // scheduled, so "just fired, not yet run" is where an interruption after this step lands
        this.idle = 0
        return Effect.flatMap(this.clock.fireNext(), (fired) => {
          if (!fired) this.world.answer()
          return Effect.void
        })
      })
    )
  })

  /** Steps until `fiber` is done (at most `max` steps); the steps taken. */
  runToEnd(fiber: Fiber.RuntimeFiber<unknown, unknown>, max = 5_000): Effect.Effect<number> {
    const loop = (i: number): Effect.Effect<number> =>
      fiber.unsafePoll() !== null || i >= max ? Effect.succeed(i) : Effect.flatMap(this.step, () => loop(i + 1))
    return Effect.suspend(() => loop(0))
  }
}

/** An exit in a form to compare and print: `ok:<value>`, `fail:<tag>`, `interrupted`, or the cause. */
export const summary = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.match(exit, {
    onSuccess: (value) => `ok:${JSON.stringify(value)}`,
    onFailure: (cause) => {
      if (Cause.isInterruptedOnly(cause)) return "interrupted"
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure) && !Cause.isDie(cause)) {
        const e = failure.value
        return `fail:${typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : String(e)}`
      }
      return `cause:${Cause.pretty(cause)}`
    }
  })


// ---------------------------------------------------------------------------
// Scenarios

/** What a scenario builds, fresh for every k. */
export interface Instance {
  /** The call under test. */
  readonly call: Effect.Effect<unknown, unknown>
  /** What a blocked call may get from outside: extra answers in order (a holder's release), then the works' gates. */
  readonly world: World
  /** The works the policy runs, each with how often it may run; `detached`: it may run on after its caller ended (by design). */
  readonly works: ReadonlyArray<{ readonly work: Work; readonly max: number; readonly detached?: boolean }>
  /** What must hold once everything settled (nothing held). `interrupted`: the caller ended interrupted. */
  readonly clean: (interrupted: boolean) => Effect.Effect<void, unknown>
  /** A fresh call through the same policy afterwards, and its answer (given whether the call under test was interrupted). */
  readonly fresh: Effect.Effect<unknown, unknown>
  readonly freshAnswer: (interrupted: boolean) => string
  /** Fibers of the call allowed to live on once everything settled (a bulkhead's timer lives as long as the bulkhead). */
  readonly lingering?: number
  /**
   * Why the interrupted caller may wait for the call's own timers (never for the outside world):
   * a documented bounded wait (a probe's result is recorded uninterruptibly, its classify bounded).
   */
  readonly interruptWaitsForTimers?: string
}

export interface Scenario {
  readonly name: string
  /** Builds the policy and the call; `tree`: to start a policy's own fibers as fibers of the call. */
  readonly make: (tree: CallTree) => Effect.Effect<Instance, unknown, Scope.Scope>
  /** The tick of the tick variant (ms). */
  readonly tick: number
}

/** A work whose n-th run follows `runs[n - 1]` (the last one from then on; succeeds at once when `runs` is empty). */
export const scripted = (name: string, runs: ReadonlyArray<Run>): Work =>
  new Work(name, (n) => runs[Math.min(n, runs.length) - 1] ?? { outcome: "ok" })

/** A policy as a scenario applies it to a run of the work. */
export type Wrap = (self: Effect.Effect<string, WorkError>) => Effect.Effect<unknown, unknown>

/** What {@link single}'s `build` gives besides the policy (each part optional). */
export interface SingleSetup {
  readonly policy: Wrap
  /** What must hold once everything settled (default: nothing to check). */
  readonly clean?: ((interrupted: boolean) => Effect.Effect<void, unknown>) | undefined
  /** What the fresh call goes through (default: `policy`). */
  readonly fresh?: Wrap | undefined
  /** Answers a blocked call gets before the work's gates, in order (a holder's release). */
  readonly releases?: ReadonlyArray<() => void> | undefined
}

/** {@link single}'s options besides the policy. */
export interface SingleOptions {
  /** How often the work may run (default 1). */
  readonly max?: number | undefined
  /** The work may run on after its caller ended (by design). */
  readonly detached?: boolean | undefined
  /** See {@link Instance.lingering}. */
  readonly lingering?: number | undefined
  /** See {@link Instance.interruptWaitsForTimers}. */
  readonly interruptWaitsForTimers?: string | undefined
}

/**
 * The common scenario: one work (named `work`, scripted by `script`) through one policy, at most
 * `max` runs (1), nothing held unless `clean` says what to check, and a fresh call (work `fresh`,
 * which succeeds at once) through the same policy (or `fresh`) answering `"fresh-1"`.
 *
 * `build` runs once per k (every policy fresh): it gives the policy, or a {@link SingleSetup}, or
 * an Effect of either (a policy with state, a holder forked first). It gets the call's tree, the
 * work and the fresh call's work.
 */
export const single = (
  name: string,
  tick: number,
  script: ReadonlyArray<Run>,
  build: (context: { readonly tree: CallTree; readonly work: Work; readonly fresh: Work }) =>
    | Wrap
    | SingleSetup
    | Effect.Effect<Wrap | SingleSetup, unknown, Scope.Scope>,
  options: SingleOptions = {}
): Scenario => ({
  name,
  tick,
  make: (tree) =>
    Effect.suspend(() => {
      const work = scripted("work", script)
      const fresh = scripted("fresh", [{ outcome: "ok" }])
      const built = build({ tree, work, fresh })
      return Effect.map(
        Effect.isEffect(built) ? built : Effect.succeed(built),
        (setup): Instance => {
          const s: SingleSetup = typeof setup === "function" ? { policy: setup } : setup
          return {
            call: s.policy(work.run),
            world: new World([work], s.releases),
            works: [{ work, max: options.max ?? 1, ...(options.detached ? { detached: true } : {}) }],
            clean: s.clean ?? (() => Effect.void),
            fresh: (s.fresh ?? s.policy)(fresh.run),
            freshAnswer: () => "ok:\"fresh-1\"",
            ...(options.lingering === undefined ? {} : { lingering: options.lingering }),
            ...(options.interruptWaitsForTimers === undefined ? {} : { interruptWaitsForTimers: options.interruptWaitsForTimers })
          }
        }
      )
    })
})
