/**
 * The stress scenario shared by test/reliability/Stress.test.ts (a few
 * thousand calls, in `npm test`) and scripts/soak.ts (100,000 and more).
 *
 * N calls go through rate limiter → timeout → bulkhead → breaker → retry →
 * attempt timeout → a fake dependency whose latency, failures and outages are
 * drawn from a seeded `Random`; a tenth of the callers are interrupted at a
 * random moment. Everything runs on the TestClock, driven one millisecond at
 * a time. The result holds what the invariants need.
 */
import { Clock, Data, Duration, Effect, Exit, Fiber, FiberSet, Option, Random, Ref, Scheduler, Scope, Supervisor, TestClock } from "effect"
import { Bulkhead, CircuitBreaker, Policy, RateLimiter, Retry, Timeout } from "effect-resilience"

export class DependencyError extends Data.TaggedError("DependencyError")<{ readonly attempt: number }> {}

export interface StressOptions {
  readonly n: number
  readonly seed: number
  /** Calls per simulated second (default 200). */
  readonly rate?: number
  /**
   * How time passes: `"test"` drives Effect's `TestClock` (exact, but each wake costs a real
   * `setTimeout`, so a few hundred calls take seconds); `"virtual"` (default) runs on
   * {@link VirtualClock}, which jumps from one pending sleep to the next.
   */
  readonly clock?: "test" | "virtual"
}

interface Sleeper {
  readonly at: number
  readonly seq: number
  readonly resume: () => void
  cancelled: boolean
}

/**
 * A fake `Clock` for large simulations: sleeps go to a binary heap; `drive`
 * lets every runnable fiber run (until the event loop's check phase), then
 * jumps to the earliest pending sleep and wakes everything due at that instant,
 * in the order the sleeps were made.
 */
export class VirtualClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private now = 0
  private seq = 0
  private readonly heap: Array<Sleeper> = []
  wakes = 0

  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(this.now) * BigInt(1_000_000)
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.now)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const ms = Math.max(0, Math.ceil(Duration.toMillis(duration)))
      const entry: Sleeper = { at: this.now + ms, seq: this.seq++, resume: () => resume(Effect.void), cancelled: false }
      this.push(entry)
      return Effect.sync(() => {
        entry.cancelled = true
      })
    })
  }

  /** Runs until `fiber` is done. */
  drive<A, E>(fiber: Fiber.RuntimeFiber<A, E>): Effect.Effect<void> {
    const settle = Effect.zipRight(
      Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve))),
      Effect.yieldNow()
    )
    return Effect.gen(this, function*() {
      while (true) {
        yield* settle
        if (Option.isSome(yield* Fiber.poll(fiber))) return
        let next = this.pop()
        while (next !== undefined && next.cancelled) next = this.pop()
        if (next === undefined) return yield* Effect.dieMessage("VirtualClock: no pending sleep, yet the fiber is not done")
        this.now = Math.max(this.now, next.at)
        const due = [next]
        while (this.heap.length > 0 && this.heap[0]!.at <= this.now) due.push(this.pop()!)
        for (const s of due) {
          if (!s.cancelled) {
            this.wakes++
            s.resume()
          }
        }
      }
    })
  }

  private less(a: Sleeper, b: Sleeper): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }
  private push(x: Sleeper): void {
    const h = this.heap
    h.push(x)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }
  private pop(): Sleeper | undefined {
    const h = this.heap
    if (h.length === 0) return undefined
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      while (true) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m]!, h[i]!]
        i = m
      }
    }
    return top
  }
}

export interface StressResult {
  readonly n: number
  /** Outcomes by kind: "success", a typed error's `_tag`, "interrupted", "defect". */
  readonly outcomes: Record<string, number>
  /** Calls whose completion was recorded more than once, or never. */
  readonly notExactlyOnce: number
  /** Interrupted calls that had not been chosen for interruption. */
  readonly unexpectedInterruptions: number
  readonly bulkhead: { readonly active: number; readonly queued: number }
  /** Dependency executions still running after every call finished (a timeout that did not cancel). */
  readonly dependencyInFlight: number
  readonly dependencyRuns: number
  /** Most calls admitted in one half-open episode that ran at once. */
  readonly maxConcurrentHalfOpen: number
  readonly probes: number
  readonly halfOpenAdmissions: number
  /** The most consecutive openings the breaker had counted (its `openings`) when a call started. */
  readonly breakerOpenings: number
  /** Fibers forked by the calls that are still alive. */
  readonly fibersLeft: number
  readonly simulatedMillis: number
}

const PROBES = 2
let runs_ = 0

export const runStress = (options: StressOptions): Effect.Effect<StressResult, never, Scope.Scope> => {
  const virtual = options.clock === "test" ? undefined : new VirtualClock()
  return Effect.gen(function*() {
    const { n } = options
    const rate = options.rate ?? 200
    const spreadMillis = Math.ceil((n / rate) * 1_000)

    const bulkhead = yield* Bulkhead.make({ maxConcurrent: 16, maxQueue: 16, maxWait: "300 millis", name: "stress" })
    const breaker = yield* CircuitBreaker.make({
      // breakers with the same name share circuits in the default store: one name per run
      name: `stress-${++runs_}`,
      tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 20, minimumCalls: 10 }),
      openDuration: "200 millis",
      halfOpen: { probes: PROBES, successThreshold: 2 }
    })
    // a little below the mean arrival rate, so bursts are shed
    const limiter = yield* RateLimiter.make({ limit: Math.max(5, Math.ceil(rate / 10 * 1.3)), window: "100 millis", name: "stress" })
    const retry = Retry.policy({
      times: 2,
      schedule: Retry.exponential({ base: "5 millis", max: "40 millis", jitter: "full" })
    })
    // the canonical order (Policy.pipeline), with the breaker's inside written out so that the
    // half-open check below sits between the breaker and the retry
    const outer = Policy.compose(limiter, Timeout.make("1 second", { scope: "overall" }), bulkhead, breaker)
    const attemptTimeout = Timeout.make("100 millis", { scope: "attempt" })

    let inFlight = 0
    let runs = 0
    const halfOpenRunning = new Map<number, number>()
    let maxHalfOpen = 0
    let halfOpenAdmissions = 0
    let maxOpenings = 0

    // outages: the dependency mostly fails during [k*2000+800, k*2000+1300)
    const failureRate = (now: number) => (now % 2_000) >= 800 && (now % 2_000) < 1_300 ? 0.95 : 0.3

    const attempt = (i: number, attemptNo: Ref.Ref<number>) =>
      Effect.gen(function*() {
        const k = yield* Ref.updateAndGet(attemptNo, (x) => x + 1)
        const latency = yield* Random.nextIntBetween(0, 150)
        const now = yield* Clock.currentTimeMillis
        const fail = (yield* Random.next) < failureRate(now)
        inFlight++
        runs++
        yield* Effect.sleep(latency).pipe(Effect.ensuring(Effect.sync(() => inFlight--)))
        if (fail) return yield* Effect.fail(new DependencyError({ attempt: k }))
        return i
      })

    // Inside the breaker: a call that starts while the circuit is half-open was admitted as a probe.
    const guarded = (i: number) =>
      Effect.gen(function*() {
        const state = yield* Effect.orDie(breaker.state())
        maxOpenings = Math.max(maxOpenings, state.openings)
        const attemptNo = yield* Ref.make(0)
        const body = retry(attemptTimeout(attempt(i, attemptNo)))
        if (state._tag !== "HalfOpen") return yield* body
        // counted per half-open episode (its `since`): a probe of an earlier episode may still be
        // running after the circuit reopened and half-opened again; its result is fenced
        halfOpenAdmissions++
        const episode = state.since
        const running = (halfOpenRunning.get(episode) ?? 0) + 1
        halfOpenRunning.set(episode, running)
        maxHalfOpen = Math.max(maxHalfOpen, running)
        return yield* Effect.ensuring(
          body,
          Effect.sync(() => {
            const left = halfOpenRunning.get(episode)! - 1
            if (left === 0) halfOpenRunning.delete(episode)
            else halfOpenRunning.set(episode, left)
          })
        )
      })

    const completions = new Uint8Array(n)
    const chosen = new Uint8Array(n)
    const outcomes: Record<string, number> = {}
    const count = (kind: string) => {
      outcomes[kind] = (outcomes[kind] ?? 0) + 1
    }
    let unexpectedInterruptions = 0

    const record = (i: number) => (exit: Exit.Exit<unknown, unknown>) =>
      Effect.sync(() => {
        completions[i]! += 1
        if (Exit.isSuccess(exit)) return count("success")
        const failure = exit.cause._tag === "Fail" ? Option.some(exit.cause.error) : Option.none()
        if (Option.isSome(failure)) return count((failure.value as { _tag?: string })._tag ?? "untagged")
        if (Exit.isInterrupted(exit)) {
          if (chosen[i] === 0) unexpectedInterruptions++
          return count("interrupted")
        }
        count("defect")
      })

    const call = (i: number) => outer(Effect.suspend(() => guarded(i)))

    const supervisor = yield* Supervisor.track
    const main = Effect.gen(function*() {
      const set = yield* FiberSet.make<unknown, unknown>()
      const meanGap = 1_000 / rate
      for (let i = 0; i < n; i++) {
        // arrivals in order: the caller forks calls as time goes by (a gap of 0 = same millisecond)
        const gap = Math.floor((yield* Random.next) * 2 * meanGap)
        const interrupt = (yield* Random.next) < 0.1
        const interruptAfter = yield* Random.nextIntBetween(0, 400)
        if (interrupt) chosen[i] = 1
        if (gap > 0) yield* Effect.sleep(gap)
        yield* FiberSet.run(
          set,
          Effect.gen(function*() {
            const fiber = yield* Effect.fork(Effect.onExit(call(i), record(i)))
            if (interrupt) yield* Effect.fork(Effect.zipRight(Effect.sleep(interruptAfter), Fiber.interrupt(fiber)))
            yield* Fiber.await(fiber)
          })
        )
      }
      yield* FiberSet.awaitEmpty(set)
    }).pipe(Effect.scoped, Effect.supervised(supervisor))

    const start = yield* Clock.currentTimeMillis
    const fiber = yield* Effect.fork(main)
    if (virtual !== undefined) {
      yield* virtual.drive(fiber)
    } else {
      // one adjust far enough ahead: the TestClock wakes every sleep in order, waiting for the
      // fibers to suspend before each, and picks up the sleeps registered on the way
      yield* TestClock.adjust(spreadMillis + 60_000)
    }
    yield* Fiber.join(fiber)
    const end = yield* Clock.currentTimeMillis
    yield* Effect.yieldNow()

    const left = yield* Effect.filter(yield* supervisor.value, (f) => Effect.map(f.poll, Option.isNone))

    let notExactlyOnce = 0
    for (let i = 0; i < n; i++) if (completions[i] !== 1) notExactlyOnce++
    const stats = bulkhead.unsafeStats()
    return {
      n,
      outcomes,
      notExactlyOnce,
      unexpectedInterruptions,
      bulkhead: { active: stats.active, queued: stats.queued },
      dependencyInFlight: inFlight,
      dependencyRuns: runs,
      maxConcurrentHalfOpen: maxHalfOpen,
      probes: PROBES,
      halfOpenAdmissions,
      breakerOpenings: maxOpenings,
      fibersLeft: left.length,
      simulatedMillis: end - start
    }
  }).pipe(
    Effect.orDie,
    Effect.withRandom(Random.make(options.seed)),
    // on the virtual clock, fibers are resumed on microtasks only (never a `setTimeout`), so that
    // the driver's `setImmediate` sees every runnable fiber done: the run is deterministic
    (self) =>
      virtual === undefined
        ? self
        : Effect.withScheduler(Effect.withClock(self, virtual), new Scheduler.MixedScheduler(Number.POSITIVE_INFINITY))
  )
}
