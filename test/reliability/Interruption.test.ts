/**
 * Interruption at every await point (STYLE.md §12; DESIGN.md, Guarantees: "interruption at any
 * point", "Nothing hangs", "Once per key", "Isolation").
 *
 * Part 1, exhaustively: each policy applied to a scripted call on an interruptible fiber; the
 * call is driven k steps (test/utils/interruption.ts: a step is an `Effect.yieldNow()` — or, when
 * the call can go no further, its next timer firing or the outside world answering; in the tick
 * variant, `TestClock.adjust` by a small amount), then the caller is interrupted, then whatever
 * the work waits on is released and every timer of the call run; for k = 0, 1, 2, … until the call
 * completes before the interruption. After each k:
 *
 * - the caller ended without time passing and without any answer from outside (no hang; a
 *   documented bounded wait may let the call's own timers run), with the interruption or the
 *   answer the uninterrupted call had;
 * - the work ran no more often than the policy allows; no run was started by a fiber that had
 *   taken in its interruption, none after the caller ended, none still going when it ended (an
 *   idempotent execution and a disconnected timeout's work, detached by design, aside);
 * - once everything settled: no run going, no fiber of the call left, nothing held (permits,
 *   queue places, keys in flight, rate-limit tokens, probe slots, breaker failures);
 * - a fresh call through the same policy answers normally.
 *
 * Part 2, with fast-check: random schedules of concurrent callers, clock moves, answers and
 * interruptions through a hedge and through timeout ∘ retry ∘ breaker ∘ bulkhead, against a small
 * model of the same invariants.
 *
 * A bug found here keeps its test ("regressions found by the sweep"). To look closer:
 * INTERRUPTION_ONLY=<part of a scenario's name> runs those scenarios, INTERRUPTION_VERBOSE=1
 * prints the k swept and what the schedules produced, INTERRUPTION_DEBUG=1 where leftover fibers
 * were forked.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  FastCheck as fc,
  Fiber,
  FiberId,
  type Scope,
  TestClock
} from "effect"
import {
  Bulkhead,
  Chaos,
  CircuitBreaker,
  Fallback,
  Hedge,
  Idempotency,
  Policy,
  RateLimiter,
  Retry,
  Timeout
} from "effect-resilience"
import {
  CallState,
  CallTree,
  Driver,
  interruptedFiber,
  type Run,
  type Scenario,
  scripted,
  single,
  type SingleSetup,
  SteppedClock,
  summary,
  WorkError,
  World,
  type Wrap
} from "../utils/interruption.js"
import { numRuns } from "../utils/props.js"

class Injected extends Data.TaggedError("Injected")<{}> {}

// ---------------------------------------------------------------------------
// Part 1: every await point

/** A work: its n-th run follows the n-th of `runs` (the last one from then on). */
const work = (name: string, ...runs: ReadonlyArray<Run>) => scripted(name, runs)
const gate = (outcome: Run["outcome"]): Run => ({ wait: "gate", outcome })
const sleep = (millis: number, outcome: Run["outcome"]): Run => ({ wait: millis, outcome })
const now: Run = { outcome: "ok" }
const nowFail: Run = { outcome: "fail" }

/** A fresh call's work: succeeds at once. */
const freshWork = () => work("fresh", now)

const bulkheadEmpty = (b: Bulkhead.Bulkhead) =>
  Effect.sync(() => {
    const s = b.unsafeStats()
    assert.deepStrictEqual([s.active, s.queued], [0, 0], "bulkhead: no permit held, nobody queued")
  })

const closedWithNoFailure = (cb: CircuitBreaker.CircuitBreaker, failures = 0) =>
  Effect.gen(function*() {
    const m = yield* cb.metrics()
    assert.strictEqual(m.state._tag, "Closed", "breaker closed")
    assert.strictEqual(m.failures, failures, "breaker: the caller's interruption is no failure")
  })

/** A holder of the bulkhead's one permit, forked; the call under test queues behind it until the world releases it. */
const heldBy = (bulkhead: Bulkhead.Bulkhead, hold: (self: Effect.Effect<void>) => Effect.Effect<unknown, unknown> = bulkhead) =>
  Effect.gen(function*() {
    const holdGate = yield* Deferred.make<void>()
    const holder = yield* Effect.fork(hold(Deferred.await(holdGate)))
    yield* Effect.repeatN(Effect.yieldNow(), 5)
    return { holder, releases: [() => Deferred.unsafeDone(holdGate, Exit.void)] }
  })

/** The breaker (one failure opens it) opened by a failure, then half-open after its second: the call is the probe. */
const halfOpen = (cb: CircuitBreaker.CircuitBreaker) =>
  Effect.gen(function*() {
    yield* Effect.either(cb(Effect.fail("boom")))
    yield* TestClock.adjust("1 second")
    assert.strictEqual((yield* cb.state())._tag, "HalfOpen")
  })

/** The fresh call through a breaker, which must close it. */
const closesIt = (cb: CircuitBreaker.CircuitBreaker) => (self: Effect.Effect<string, WorkError>) =>
  Effect.zipLeft(
    self.pipe(cb),
    Effect.flatMap(cb.state(), (s) => Effect.sync(() => assert.strictEqual(s._tag, "Closed", "the breaker can still close")))
  )

const scenarios: ReadonlyArray<Scenario> = [
  single(
    "Retry (constant 10 ms, times 2; fails after a gate, fails after a sleep, succeeds after a gate)",
    6,
    [gate("fail"), sleep(5, "fail"), gate("ok")],
    () => Retry.policy({ times: 2, schedule: Retry.constant("10 millis") }),
    { max: 3 }
  ),
  single(
    "Retry with an onRetry hook (sleeps 5 ms alongside each 10 ms backoff; fails twice, then succeeds)",
    4,
    [nowFail, nowFail, now],
    () => Retry.policy({ times: 2, schedule: Retry.constant("10 millis"), onRetry: () => Effect.sleep("5 millis") }),
    { max: 3 }
  ),
  single("Timeout (50 ms; the work answers after 20 ms)", 12, [sleep(20, "ok")], () => Timeout.make("50 millis")),
  single("Timeout (50 ms; the work never answers in time)", 12, [gate("ok")], () => Timeout.make("50 millis")),
  single(
    "Timeout (50 ms, general implementation; the work never answers in time)",
    12,
    [gate("ok")],
    () => Timeout.make("50 millis", { implementation: "general" } as Timeout.Timeout.Options)
  ),
  // disconnected: the caller does not wait for the work to stop (it is interrupted in the background)
  single("Timeout (50 ms, disconnect; the work never answers in time)", 12, [gate("ok")], () =>
    Timeout.make("50 millis", { disconnect: true }), { detached: true }),
  single("Bulkhead (a free permit)", 5, [gate("ok")], () =>
    Effect.map(
      Bulkhead.make({ maxConcurrent: 1, metricsInterval: Duration.infinity }),
      (bulkhead) => ({ policy: bulkhead, clean: () => bulkheadEmpty(bulkhead) })
    )),
  single("Bulkhead (queued behind a holder)", 5, [gate("ok")], () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, metricsInterval: Duration.infinity })
      const { holder, releases } = yield* heldBy(bulkhead)
      return { policy: bulkhead, releases, clean: () => Effect.zipRight(Fiber.join(holder), bulkheadEmpty(bulkhead)) }
    })),
  single("Bulkhead (keyed partition, queued behind a holder: the partition is dropped once idle)", 5, [gate("ok")], () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, metricsInterval: Duration.infinity })
      const { holder, releases } = yield* heldBy(bulkhead, (self) => bulkhead.execute(self, { key: "host" }))
      return {
        policy: (self) => bulkhead.execute(self, { key: "host" }),
        releases,
        clean: () =>
          Effect.zipRight(
            Fiber.join(holder),
            Effect.sync(() => assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 0, queued: 0, partitions: 0 }))
          )
      }
    })),
  single(
    "Bulkhead (queued behind a holder, maxWait 30 ms)",
    5,
    [gate("ok")],
    ({ tree }) =>
      Effect.gen(function*() {
        // made on a fiber of the call: the bulkhead's timer (maxWait) is one of its fibers, so the driver runs it
        const bulkhead = yield* Fiber.join(yield* tree.fork(Bulkhead.make({
          maxConcurrent: 1,
          maxQueue: 1,
          maxWait: "30 millis",
          metricsInterval: Duration.infinity
        })))
        const { holder, releases } = yield* heldBy(bulkhead)
        return { policy: bulkhead, releases, clean: () => Effect.zipRight(Fiber.join(holder), bulkheadEmpty(bulkhead)) }
      }),
    // the bulkhead's timer (started by the first timed wait) lives in the bulkhead's scope
    { lingering: 1 }
  ),
  single(
    "Bulkhead (queued behind a holder, within a 30 ms timeout: the deadline ends the wait)",
    6,
    [gate("ok")],
    ({ tree }) =>
      Effect.gen(function*() {
        const bulkhead = yield* Fiber.join(yield* tree.fork(Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, metricsInterval: Duration.infinity })))
        const { holder, releases } = yield* heldBy(bulkhead)
        return {
          policy: (self) => self.pipe(bulkhead, Timeout.make("30 millis")),
          fresh: bulkhead,
          releases,
          clean: () => Effect.zipRight(Fiber.join(holder), bulkheadEmpty(bulkhead))
        }
      }),
    // the bulkhead's timer (started by the first wait a deadline bounds) lives in the bulkhead's scope
    { lingering: 1 }
  ),
  single("CircuitBreaker (closed; one failure would open it)", 5, [gate("ok")], () =>
    Effect.map(
      CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" }),
      (cb) => ({ policy: cb, clean: () => closedWithNoFailure(cb) })
    )),
  single("CircuitBreaker (half-open: the call is the probe)", 5, [gate("ok")], () =>
    Effect.gen(function*() {
      const cb = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      yield* halfOpen(cb)
      return {
        policy: cb,
        clean: (interrupted) =>
          Effect.gen(function*() {
            const m = yield* cb.metrics()
            assert.strictEqual(m.failures, 1, "breaker: the probe's interruption is no failure")
            // an interrupted probe gives its slot back: still half-open, no probe running
            if (interrupted) assert.deepInclude(m.state, { _tag: "HalfOpen", probes: 0 }, "breaker: the probe slot is free")
            else assert.strictEqual(m.state._tag, "Closed")
          }),
        // the freed slot admits the next probe, which closes the circuit
        fresh: closesIt(cb)
      }
    })),
  asyncClassifyScenario("takes 5 ms"),
  asyncClassifyScenario("never answers"),
  rateLimiterScenario(),
  single("Hedge (delay 20 ms, maxAttempts 2; the first attempt answers)", 5, [gate("ok"), gate("ok")], () => {
    const hedge = Hedge.make({ delay: "20 millis", maxAttempts: 2 })
    return hedged(hedge, hedge)
  }, { max: 2 }),
  single("Hedge (delay 20 ms, maxAttempts 3; the first attempt fails at once, the second answers)", 5, [nowFail, gate("ok"), gate("ok")], () => {
    const hedge = Hedge.make({ delay: "20 millis", maxAttempts: 3 })
    return hedged(hedge, hedge)
  }, { max: 3 }),
  single("Hedge (delay 0, maxAttempts 3: every attempt at once; the first answered wins)", 5, [gate("ok"), gate("ok"), gate("ok")], () => {
    const hedge = Hedge.make({ delay: 0, maxAttempts: 3 })
    return hedged(hedge, hedge)
  }, { max: 3 }),
  {
    name: "Fallback.effect (the source fails after a gate; the fallback sleeps 5 ms)",
    tick: 3,
    make: () => Effect.sync(() => {
      const w = work("work", gate("fail"))
      const fb = work("fallback", sleep(5, "ok"))
      const fallback = Fallback.effect(fb.run)
      return {
        call: w.run.pipe(fallback),
        world: new World([w, fb]),
        works: [{ work: w, max: 1 }, { work: fb, max: 1 }],
        clean: () => Effect.void,
        fresh: freshWork().run.pipe(fallback),
        freshAnswer: () => "ok:\"fresh-1\""
      }
    })
  },
  {
    name: "Fallback.effect with interruptions: true (the caller's own interruption is never caught)",
    tick: 3,
    make: () => Effect.sync(() => {
      const w = work("work", gate("ok"))
      const fb = work("fallback", now)
      const fallback = Fallback.effect(fb.run, { interruptions: true })
      return {
        call: w.run.pipe(fallback),
        world: new World([w, fb]),
        works: [{ work: w, max: 1 }, { work: fb, max: 0 }],
        clean: () => Effect.void,
        fresh: freshWork().run.pipe(fallback),
        freshAnswer: () => "ok:\"fresh-1\""
      }
    })
  },
  single("Fallback.staleIfError (the source fails after a gate; the stale value is served)", 3, [gate("fail")], () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeStoreMemory({ maxEntries: 100 })
      const stale = yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10, name: "interruption" }).pipe(
        Effect.provideService(Fallback.StaleStore, store)
      )
      assert.strictEqual(yield* stale.execute(Effect.succeed("primed"), { key: "k" }), "primed")
      return {
        policy: (self) => stale.execute(self, { key: "k" }),
        // an interrupted call neither wrote nor erased the remembered value
        clean: () =>
          Effect.map(
            Effect.exit(stale.execute(Effect.fail(new Injected()), { key: "k" })),
            (exit) => assert.strictEqual(summary(exit), "ok:\"primed\"", "the remembered value is still served")
          )
      }
    })),
  idempotencyScenario("executor"),
  idempotencyScenario("waiter"),
  idempotencyScenario("waiter, within a 30 ms timeout"),
  idempotencyScenario("waiter, taking over"),
  idempotencyScenario("executor, within a 30 ms timeout"),
  single("Chaos.latency (20 ms, rate 1)", 6, [now], () => ({
    policy: Chaos.latency({ delay: "20 millis", rate: 1 }),
    fresh: Chaos.latency({ delay: "20 millis", rate: 0 })
  })),
  single("Chaos.fault (rate 1) around a Chaos.latency (10 ms, rate 1)", 5, [now], () => ({
    policy: Policy.compose(Chaos.latency({ delay: "10 millis", rate: 1 }), Chaos.fault({ rate: 1, error: () => new Injected() })),
    fresh: Chaos.fault({ rate: 0, error: () => new Injected() })
  }), { max: 0 }),
  single(
    "Policy.pipeline (timeout 1 s, bulkhead, breaker, retry 2 × 10 ms, attempt timeout 50 ms)",
    10,
    // attempt 1 fails, attempt 2 hangs (cut by the attempt timeout), attempt 3 answers after 5 ms
    [nowFail, gate("ok"), sleep(5, "ok")],
    () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, metricsInterval: Duration.infinity })
        const cb = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
        const pipeline = Policy.pipeline({
          timeout: "1 second",
          bulkhead,
          circuitBreaker: cb,
          retry: Retry.policy({ times: 2, schedule: Retry.constant("10 millis") }),
          attemptTimeout: "50 millis"
        })
        return { policy: pipeline, clean: () => Effect.zipRight(bulkheadEmpty(bulkhead), closedWithNoFailure(cb)) }
      }),
    { max: 3 }
  ),
  single(
    "Policy.compose (fallback value, timeout 100 ms, hedge 20 ms × 3, bulkhead of 2 per attempt, attempt timeout 50 ms)",
    10,
    // every attempt hangs: the third finds the bulkhead full (dropped), the others are cut; the fallback answers
    [gate("ok"), gate("ok"), gate("ok")],
    () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, metricsInterval: Duration.infinity })
        const hedge = Hedge.make({ delay: "20 millis", maxAttempts: 3 })
        const policy = Policy.compose(Fallback.value("fallback"), Timeout.make("100 millis"), hedge, bulkhead, Timeout.make("50 millis"))
        const setup = hedged(hedge, policy)
        return { ...setup, clean: (interrupted: boolean) => Effect.zipRight(bulkheadEmpty(bulkhead), setup.clean(interrupted)) }
      }),
    { max: 3 }
  )
]

/** A hedged call: besides the common checks, no hedge starts once the call ended (its timer died with it). */
function hedged(hedge: Hedge.Hedge, policy: Wrap) {
  let hedgesAtEnd: number | undefined
  return {
    policy: (self: Effect.Effect<string, WorkError>) =>
      Effect.ensuring(policy(self), Effect.sync(() => (hedgesAtEnd = hedge.unsafeStats().hedges))),
    fresh: policy,
    clean: (_interrupted: boolean) =>
      Effect.sync(() => {
        if (hedgesAtEnd !== undefined) assert.strictEqual(hedge.unsafeStats().hedges, hedgesAtEnd, "no hedge after the call ended")
      })
  } satisfies SingleSetup
}

/**
 * A half-open probe classified by an Effect. The probe is uninterruptible from admission until its
 * result is recorded (docs/CircuitBreaker.md: "the probe runs in an uninterruptible region, the call
 * itself stays interruptible"), and a classify is given at most 1 second: a caller interrupted while
 * its result is being classified ends once the classify answered or its second ran out.
 */
function asyncClassifyScenario(classify: "takes 5 ms" | "never answers"): Scenario {
  return single(
    `CircuitBreaker (half-open probe, classified by an Effect that ${classify})`,
    classify === "takes 5 ms" ? 3 : 400,
    [gate("ok")],
    () =>
      Effect.gen(function*() {
        const cb = yield* CircuitBreaker.make({
          tripPolicy: CircuitBreaker.consecutive(1),
          openDuration: "1 second",
          classify: (exit) =>
            exit._tag === "Failure" && !Exit.isInterrupted(exit)
              ? CircuitBreaker.Outcome.failure()
              : classify === "takes 5 ms"
              ? Effect.as(Effect.sleep("5 millis"), CircuitBreaker.defaultClassify(exit))
              : Effect.never
        })
        yield* halfOpen(cb)
        return {
          policy: cb,
          clean: (interrupted) =>
            Effect.gen(function*() {
              const m = yield* cb.metrics()
              assert.strictEqual(m.failures, 1, "breaker: the probe's interruption is no failure")
              if (interrupted && m.state._tag === "HalfOpen") assert.strictEqual(m.state.probes, 0, "breaker: the probe slot is free")
            }),
          fresh: closesIt(cb)
        }
      }),
    { interruptWaitsForTimers: "the probe's result is recorded uninterruptibly; its classify gets at most 1 second" }
  )
}

function rateLimiterScenario(): Scenario {
  return single("RateLimiter (delay mode: 1 per 100 ms, the call waits for its slot)", 25, [gate("ok")], ({ fresh, work: w }) =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({
        limit: 1,
        window: "100 millis",
        onExceeded: "delay",
        maxDelay: "1 second",
        metricsInterval: Duration.infinity,
        name: "interruption"
      })
      const start = yield* Clock.currentTimeMillis
      // the token of now: the call waits until start + 100
      yield* limiter(Effect.void)
      return {
        policy: limiter,
        // a waiter interrupted before its slot gave the slot back (nobody reserved after it): the
        // next call gets it; a call that ran (or whose slot came) took it, and the next waits for the one after
        fresh: (self) =>
          Effect.gen(function*() {
            const asked = yield* Clock.currentTimeMillis
            const answer = yield* self.pipe(limiter)
            const slot = w.starts === 0 ? start + 100 : start + 200
            assert.strictEqual(fresh.startedAt[0], Math.max(slot, asked), "the interrupted waiter's slot was given back")
            return answer
          })
      }
    }))
}

function idempotencyScenario(
  role: "executor" | "executor, within a 30 ms timeout" | "waiter" | "waiter, within a 30 ms timeout" | "waiter, taking over"
): Scenario {
  return {
    name: role === "waiter"
      ? "Idempotency (the caller waits on another caller's execution)"
      : role === "waiter, within a 30 ms timeout"
      ? "Idempotency (the caller waits on another caller's execution within a 30 ms timeout: its wait is cut)"
      : role === "waiter, taking over"
      ? "Idempotency (the caller waits; the execution interrupts itself; the caller takes over and executes)"
      : role === "executor"
      ? "Idempotency (the caller executes; the execution goes on without it)"
      : "Idempotency (the caller executes within a 30 ms timeout: its wait is cut, the execution goes on)",
    tick: role === "executor" ? 5 : 10,
    make: () => Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory({ sweepInterval: Duration.infinity })
      const idem = yield* Idempotency.make({ ttl: "1 minute", name: "interruption" }).pipe(
        Effect.provideService(Idempotency.IdempotencyStore, store)
      )
      const inFlight = Effect.sync(() => assert.strictEqual(store.unsafeStats().inFlight, 0, "no key left in flight"))
      if (role === "executor" || role === "executor, within a 30 ms timeout") {
        const w = work("work", gate("ok"))
        const fresh = freshWork()
        const run = idem.run("k", w.run)
        return {
          call: role === "executor" ? run : run.pipe(Timeout.make("30 millis")),
          world: new World([w]),
          works: [{ work: w, max: 1, detached: true }],
          clean: () => inFlight,
          // once per key: the execution (if it started) was kept and is replayed; else the key is free
          fresh: idem.run("k", fresh.run),
          freshAnswer: () => (w.starts === 1 ? "ok:\"work-1\"" : "ok:\"fresh-1\"")
        }
      }
      if (role === "waiter, taking over") {
        // the other execution ends without a result: the caller (waiting) takes the key over and runs its own work.
        // (it found the bug of the regression test below: once it took over, the caller waited for its execution
        // uninterruptibly — k = 4, 5, 6 of the yield sweep)
        const exec = work("exec", gate("interrupt"))
        const w = work("work", gate("ok"))
        const executor = yield* Effect.fork(idem.run("k", exec.run))
        yield* Effect.repeatN(Effect.yieldNow(), 10)
        assert.strictEqual(exec.starts, 1)
        const fresh = freshWork()
        return {
          call: idem.run("k", w.run),
          world: new World([exec, w]),
          works: [{ work: w, max: 1, detached: true }, { work: exec, max: 1, detached: true }],
          clean: () => Effect.zipRight(Effect.asVoid(Fiber.await(executor)), inFlight),
          fresh: idem.run("k", fresh.run),
          // the caller's execution (if it started) was kept; else the key is free
          freshAnswer: () => (w.starts === 1 ? "ok:\"work-1\"" : "ok:\"fresh-1\"")
        }
      }
      const exec = work("exec", gate("ok"))
      const w = work("work", now)
      const executor = yield* Effect.fork(idem.run("k", exec.run))
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      assert.strictEqual(exec.starts, 1)
      const run = idem.run("k", w.run)
      return {
        call: role === "waiter" ? run : run.pipe(Timeout.make("30 millis")),
        world: new World([exec, w]),
        works: [{ work: w, max: 0 }, { work: exec, max: 1, detached: true }],
        clean: () =>
          Effect.gen(function*() {
            assert.strictEqual(summary(yield* Fiber.await(executor)), "ok:\"exec-1\"", "the other caller got its result")
            yield* inFlight
          }),
        fresh: idem.run("k", freshWork().run),
        freshAnswer: () => "ok:\"exec-1\""
      }
    })
  }
}

/** What one run (interrupted after k steps, or never) observed. */
interface Outcome {
  readonly steps: number
  readonly completedFirst: boolean
  readonly answer: string
  readonly failures: ReadonlyArray<string>
}

/** Yields (no time, no answer from outside) the caller may take to end once interrupted. */
const END_WITHIN = 500

/** Runs `scenario`, interrupting the caller after `k` steps (`undefined`: never), and checks what must hold. */
const runOnce = (scenario: Scenario, mode: "yield" | "tick", k: number | undefined, reference: string | undefined) =>
  Effect.gen(function*() {
    const test = yield* TestClock.testClockWith(Effect.succeed)
    const tree = new CallTree()
    const clock = new SteppedClock(test, tree, mode === "yield" ? "virtual" : "test")
    const failures: Array<string> = []
    const check = (ok: boolean, what: string) => {
      if (!ok) failures.push(what)
    }
    const outcome = yield* Effect.scoped(Effect.withClock(
      Effect.gen(function*() {
        const inst = yield* scenario.make(tree)
        const driver = new Driver(mode, clock, inst.world, scenario.tick)
        const call = new CallState()
        for (const { work } of inst.works) work.call = call
        const caller = yield* tree.fork(inst.call)
        let steps = 0
        if (k === undefined) steps = yield* driver.runToEnd(caller)
        else {
          while (steps < k && caller.unsafePoll() === null) {
            yield* driver.step
            steps++
          }
        }
        const completedFirst = caller.unsafePoll() !== null
        let ended = completedFirst
        if (!completedFirst) {
          const self = yield* Effect.fiberId
          call.interruptSent = true
          // sent now, in this synchronous step: nothing of the call runs between the flag and the signal
          caller.unsafeInterruptAsFork(self)
          // no time passes and nothing answers from outside
          for (let i = 0; i < END_WITHIN && !ended; i++) {
            yield* Effect.yieldNow()
            ended = caller.unsafePoll() !== null
          }
          // a documented bounded wait: the call's own timers may run (the outside world still does not answer)
          for (let i = 0; i < 20 && !ended && inst.interruptWaitsForTimers !== undefined; i++) {
            if (!(yield* clock.fireNext())) break
            for (let j = 0; j < END_WITHIN && !ended; j++) {
              yield* Effect.yieldNow()
              ended = caller.unsafePoll() !== null
            }
          }
          check(
            ended,
            inst.interruptWaitsForTimers === undefined
              ? "the interrupted caller ended without time passing or an answer from outside"
              : "the interrupted caller ended once the call's own timers ran, without an answer from outside"
          )
        }
        call.ended = ended
        if (ended && !completedFirst) {
          for (const { detached, work } of inst.works) {
            if (!detached) check(work.running === 0, `${work.name}: no run still going once the caller ended (${work.running})`)
          }
        }
        // release everything and run every timer of the call
        inst.world.answerAll()
        for (let i = 0; i < 100; i++) {
          yield* Effect.repeatN(Effect.yieldNow(), 10)
          if (!(yield* clock.fireNext())) break
        }
        yield* Effect.repeatN(Effect.yieldNow(), 20)
        if (!ended) {
          ended = caller.unsafePoll() !== null
          check(ended, "the caller ended once everything answered and every timer ran")
          if (!ended) return { steps, completedFirst, answer: "hung", failures }
        }
        const exit = yield* Fiber.await(caller)
        const answer = summary(exit)
        if (reference !== undefined) {
          check(
            answer === reference || (!completedFirst && answer === "interrupted"),
            `answer ${answer}: expected ${reference}${completedFirst ? "" : " or interrupted"}`
          )
        }
        const interrupted = answer === "interrupted"
        for (const { detached, max, work } of inst.works) {
          check(work.starts <= max, `${work.name}: ran ${work.starts} times, at most ${max} allowed`)
          if (!detached) {
            check(work.startedAfterInterrupt === 0, `${work.name}: ${work.startedAfterInterrupt} run(s) started by a fiber already interrupted`)
            check(work.startedAfterEnd === 0, `${work.name}: ${work.startedAfterEnd} run(s) started after the caller ended`)
          }
          check(work.running === 0, `${work.name}: ${work.running} run(s) still going once everything settled`)
        }
        const alive = tree.live.size
        check(alive <= (inst.lingering ?? 0), `${alive} fiber(s) of the call still alive`)
        if (process.env.INTERRUPTION_DEBUG && alive > (inst.lingering ?? 0)) for (const f of tree.live) console.log(tree.origins.get(f))
        const clean = yield* Effect.exit(inst.clean(interrupted))
        check(Exit.isSuccess(clean), `not clean: ${summary(clean)}`)
        // a fresh call through the same policy answers normally
        const freshFiber = yield* tree.fork(inst.fresh)
        yield* new Driver("yield", clock, new World([]), scenario.tick).runToEnd(freshFiber, 2_000)
        const fresh = freshFiber.unsafePoll()
        check(fresh !== null, "the fresh call ended")
        if (fresh !== null) {
          const expected = inst.freshAnswer(interrupted)
          check(summary(fresh) === expected, `fresh call: ${summary(fresh)}, expected ${expected}`)
        }
        return { steps, completedFirst, answer, failures }
      }),
      clock
    ))
    return outcome satisfies Outcome
  })

/** The sweep: k = 0, 1, … until the call completes before the interruption; every problem found, by k. */
const sweep = (scenario: Scenario, mode: "yield" | "tick") =>
  Effect.gen(function*() {
    const reference = yield* runOnce(scenario, mode, undefined, undefined)
    const problems: Array<string> = reference.failures.map((f) => `uninterrupted: ${f}`)
    if (!reference.completedFirst) problems.push("uninterrupted: the call did not complete")
    let k = 0
    for (; k <= reference.steps + 5; k++) {
      const r = yield* runOnce(scenario, mode, k, reference.answer)
      for (const f of r.failures) problems.push(`k=${k} (${r.answer}): ${f}`)
      if (r.completedFirst) break
    }
    if (k > reference.steps + 5) problems.push(`the call never completed before the interruption (k up to ${k - 1})`)
    return { k, reference, problems }
  })

const stepName = (scenario: Scenario, mode: "yield" | "tick") =>
  mode === "yield" ? "a step = Effect.yieldNow()" : `a step = TestClock.adjust(${scenario.tick} ms)`

describe("interruption at every await point", () => {
  const only = process.env.INTERRUPTION_ONLY
  for (const scenario of only === undefined ? scenarios : scenarios.filter((s) => s.name.includes(only))) {
    for (const mode of ["yield", "tick"] as const) {
      it.effect(`${scenario.name}, ${stepName(scenario, mode)}`, () =>
        Effect.gen(function*() {
          const t0 = performance.now()
          const { k, problems, reference } = yield* sweep(scenario, mode)
          if (process.env.INTERRUPTION_VERBOSE) {
            console.log(`${scenario.name} [${mode}]: k = 0..${k}, answer ${reference.answer}, ${Math.round(performance.now() - t0)} ms`)
          }
          assert.deepStrictEqual(problems, [], `${scenario.name}, ${stepName(scenario, mode)}`)
        }))
    }
  }
})

describe("regressions found by the sweep", () => {
  // Fixed (docs/Reliability.md, finding 25). src/internal/idempotency/idempotency.ts, IdempotencyImpl.join: when the
  // execution a caller joined ended without a result (it interrupted itself; with a shared store, its replica died), the
  // caller called `this.attempt` again from
  // the continuation of `restore(waitWithin(wait))`, i.e. inside the first attempt's `uninterruptibleMask` but outside
  // its `restore`. The second attempt's own `uninterruptibleMask` then captures an uninterruptible region, so its
  // `restore(waitWithin(Fiber.join(execution)))` (executeAcquired) and `restore(waitWithin(wait))` (join) do not make
  // the wait interruptible: a caller that took over (or joined a second time) cannot be interrupted until that
  // execution completes, which may be never ("No caller hangs", docs/Idempotency.md). Only a deadline bounds it
  // (waitWithin makes the wait interruptible for its timer).
  it.scoped("Idempotency: a caller that took over an execution (the one it joined ended without a result) can be interrupted", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      const gateOpen = yield* Deferred.make<void>()
      // the first execution ends without a result (it interrupts itself) once the gate opens
      const first = yield* Effect.fork(idem.run("k", Effect.zipRight(Deferred.await(gateOpen), Effect.interrupt)))
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      // the second caller joins it, then takes over and executes its own effect, which never ends
      const second = yield* Effect.fork(idem.run("k", Effect.never))
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      yield* Deferred.succeed(gateOpen, undefined)
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      assert.strictEqual(idem.unsafeStats().executions, 2, "the second caller took over")
      const interrupting = yield* Effect.fork(Fiber.interrupt(second))
      yield* Effect.repeatN(Effect.yieldNow(), 200)
      assert.isTrue((yield* Fiber.poll(interrupting))._tag === "Some", "the interrupted caller ended (its execution goes on, detached)")
      yield* Fiber.await(first)
    }))
})

/**
 * The harness is not vacuous: policies broken on purpose, each in one way the checks above look
 * for, are caught. They are built by `single`, as the scenarios above are.
 */
describe("the sweep catches a policy that", () => {
  const broken = (name: string, policy: (self: Effect.Effect<string, unknown>) => Effect.Effect<unknown, unknown>, extra?: {
    readonly clean?: () => Effect.Effect<void, unknown>
  }): Scenario =>
    // the fresh call runs without the broken policy
    single(name, 5, [gate("ok")], () => ({ policy, clean: extra?.clean, fresh: (self) => self }))
  const cases: ReadonlyArray<readonly [Scenario, string]> = [
    [broken("runs the work on a daemon it does not interrupt", (self) => Effect.flatMap(Effect.forkDaemon(self), Fiber.join)), "no run still going once the caller ended"],
    [broken("runs the work uninterruptibly", Effect.uninterruptible), "ended without time passing or an answer from outside"],
    [broken("runs the work again when interrupted", (self) => Effect.onInterrupt(self, () => Effect.exit(self))), "started by a fiber already interrupted"],
    [broken("leaves a fiber behind", (self) => Effect.zipRight(Effect.forkDaemon(Effect.never), self)), "fiber(s) of the call still alive"],
    (() => {
      let held = 0
      return [
        broken("holds a permit when interrupted", (self) => Effect.zipRight(Effect.sync(() => held++), Effect.tap(self, () => Effect.sync(() => held--))), {
          clean: () => Effect.sync(() => assert.strictEqual(held, 0, "permit held"))
        }),
        "permit held"
      ] as const
    })()
  ]
  for (const [scenario, problem] of cases) {
    it.effect(scenario.name, () =>
      Effect.gen(function*() {
        const { problems } = yield* sweep(scenario, "yield")
        assert.isTrue(problems.some((p) => p.includes(problem)), `expected a problem with "${problem}": ${JSON.stringify(problems)}`)
      }))
  }
})

// ---------------------------------------------------------------------------
// Part 2: random schedules, against a model of the invariants

const CALLERS = 3

/** The library's timeouts interrupt the work they cut with a marker fiber id (-1; src/internal/deadline.ts). */
const cutByTimeout = (cause: Cause.Cause<unknown>): boolean => {
  for (const id of Cause.interruptors(cause)) if (id._tag === "Runtime" && id.id === -1) return true
  return false
}

/** One caller of the schedule: what the model keeps about it. */
interface Caller {
  readonly index: number
  readonly state: CallState
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  starts: number
  running: number
  ends: number
  exit: Exit.Exit<unknown, unknown> | undefined
  /** Values its runs answered with (the only successes it may get). */
  readonly values: Set<string>
}

/** The dependency of part 2: every run waits until the schedule answers it (ok or failed). */
class Dependency {
  readonly callers: ReadonlyArray<Caller>
  readonly violations: Array<string> = []
  /** Runs a breaker may count as failures of the dependency: failed, or cut by the library's timeout. */
  blameable = 0
  private readonly waiting: Array<Deferred.Deferred<boolean>> = []
  private auto = false

  constructor(readonly maxRuns: number) {
    this.callers = Array.from({ length: CALLERS }, (_, index) => ({
      index,
      state: new CallState(),
      fiber: undefined,
      starts: 0,
      running: 0,
      ends: 0,
      exit: undefined,
      values: new Set<string>()
    }))
  }

  /** The effect caller `i` hands to the policy (which may run it several times). */
  call(i: number): Effect.Effect<string, WorkError> {
    const c = this.callers[i]!
    return Effect.withFiberRuntime((fiber) => {
      const n = ++c.starts
      if (n > this.maxRuns) this.violations.push(`caller ${i}: run ${n}, at most ${this.maxRuns} attempts`)
      if (c.state.ended) this.violations.push(`caller ${i}: run ${n} started after its call ended`)
      if (interruptedFiber(fiber)) this.violations.push(`caller ${i}: run ${n} started by a fiber already interrupted`)
      c.running++
      const gate = Deferred.unsafeMake<boolean>(FiberId.none)
      if (this.auto) Deferred.unsafeDone(gate, Exit.succeed(true))
      else this.waiting.push(gate)
      return Deferred.await(gate).pipe(
        Effect.ensuring(Effect.sync(() => {
          const at = this.waiting.indexOf(gate)
          if (at >= 0) this.waiting.splice(at, 1)
        })),
        Effect.flatMap((ok) => {
          if (!ok) return Effect.fail(new WorkError({ work: `c${i}`, run: n }))
          const value = `c${i}-r${n}`
          c.values.add(value)
          return Effect.succeed(value)
        }),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            c.running--
            if (Exit.isFailure(exit) && (!Exit.isInterrupted(exit) || cutByTimeout(exit.cause))) this.blameable++
          })
        )
      )
    })
  }

  /** Answers a waiting run: the `which`-th by age (modulo how many wait). */
  answer(ok: boolean, which = 0): void {
    if (this.waiting.length === 0) return
    const [gate] = this.waiting.splice(which % this.waiting.length, 1)
    Deferred.unsafeDone(gate!, Exit.succeed(ok))
  }

  /** Answers every run, now and later, with a success. */
  answerAll(): void {
    this.auto = true
    while (this.waiting.length > 0) this.answer(true)
  }

  /** Caller `i`'s fiber ended: once, with nothing of it still running. */
  ended(c: Caller, exit: Exit.Exit<unknown, unknown>): void {
    c.ends++
    c.exit = exit
    c.state.ended = true
    if (c.ends > 1) this.violations.push(`caller ${c.index} ended ${c.ends} times`)
    if (c.running > 0) this.violations.push(`caller ${c.index} ended with ${c.running} run(s) still going`)
  }

  /** Whether caller `c`'s answer is one the model allows. */
  allowed(c: Caller, answer: string, errors: ReadonlySet<string>): boolean {
    if (answer === "interrupted") return c.state.interruptSent
    if (answer.startsWith("ok:")) return c.values.has(JSON.parse(answer.slice(3)))
    if (answer === "fail:WorkError") return Exit.isFailure(c.exit!) && c.starts > 0
    return answer.startsWith("fail:") && errors.has(answer.slice(5))
  }
}

type Command =
  | { readonly _tag: "start"; readonly caller: number }
  | { readonly _tag: "yield"; readonly n: number }
  | { readonly _tag: "tick"; readonly millis: number }
  | { readonly _tag: "answer"; readonly ok: boolean; readonly which: number }
  | { readonly _tag: "interrupt"; readonly caller: number }

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("start" as const), caller: fc.nat(CALLERS - 1) }) },
  { weight: 4, arbitrary: fc.record({ _tag: fc.constant("yield" as const), n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("tick" as const), millis: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("answer" as const), ok: fc.boolean(), which: fc.nat(2) }) },
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("interrupt" as const), caller: fc.nat(CALLERS - 1) }) }
)
const commandsArb = fc.array(commandArb, { minLength: 4, maxLength: 30 })

/** What a schedule runs through. */
interface Subject {
  readonly policy: (self: Effect.Effect<string, WorkError>) => Effect.Effect<unknown, unknown>
  readonly maxRuns: number
  /** Failures a caller may get besides its own runs' (`_tag`s). */
  readonly errors: ReadonlySet<string>
  /** Checked after every command. */
  readonly always: Effect.Effect<void, unknown>
  /** Checked at the end, once every caller ended and every run was answered. */
  readonly finally: Effect.Effect<void, unknown>
  /** Fibers of the callers allowed to live on (a bulkhead's timer). */
  readonly lingering: number
}

const runSchedule = (subject: (dep: Dependency) => Effect.Effect<Subject, unknown, Scope.Scope>, commands: ReadonlyArray<Command>, maxRuns: number) =>
  Effect.scoped(Effect.gen(function*() {
    const self = yield* Effect.fiberId
    const tree = new CallTree()
    const dep = new Dependency(maxRuns)
    const s = yield* subject(dep)
    for (const command of commands) {
      switch (command._tag) {
        case "start": {
          const c = dep.callers[command.caller]!
          if (c.fiber !== undefined) break
          const fiber = yield* tree.fork(s.policy(dep.call(c.index)))
          c.fiber = fiber
          fiber.addObserver((exit) => dep.ended(c, exit))
          break
        }
        case "yield":
          yield* Effect.repeatN(Effect.yieldNow(), command.n - 1)
          break
        case "tick":
          yield* TestClock.adjust(Duration.millis(command.millis))
          break
        case "answer":
          dep.answer(command.ok, command.which)
          break
        case "interrupt": {
          const c = dep.callers[command.caller]!
          if (c.fiber === undefined || c.fiber.unsafePoll() !== null || c.state.interruptSent) break
          c.state.interruptSent = true
          c.fiber.unsafeInterruptAsFork(self)
          break
        }
      }
      yield* s.always
    }
    // the world answers everything, time runs on: every caller ends
    dep.answerAll()
    const started = dep.callers.filter((c) => c.fiber !== undefined)
    for (let i = 0; i < 30 && started.some((c) => c.fiber!.unsafePoll() === null); i++) {
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      if (started.some((c) => c.fiber!.unsafePoll() === null)) yield* TestClock.adjust("100 millis")
    }
    // and past every timer still set (a bulkhead's timer sleeping until a waiter's expiry that no longer matters)
    yield* TestClock.adjust("1 second")
    yield* Effect.repeatN(Effect.yieldNow(), 20)
    const problems = [...dep.violations]
    for (const c of started) {
      if (c.ends !== 1) problems.push(`caller ${c.index} ended ${c.ends} times`)
      else {
        const answer = summary(c.exit!)
        if (!dep.allowed(c, answer, s.errors)) problems.push(`caller ${c.index}: answer ${answer} not allowed`)
      }
    }
    for (const c of started) {
      const answer = c.exit === undefined ? "none" : summary(c.exit)
      const kind = `${answer.startsWith("ok:") ? "ok" : answer}${c.state.interruptSent ? " (interrupt sent)" : ""}, ${c.starts} run(s)`
      tally.set(kind, (tally.get(kind) ?? 0) + 1)
    }
    if (tree.live.size > s.lingering) {
      problems.push(`${tree.live.size} fiber(s) of the callers still alive`)
      if (process.env.INTERRUPTION_DEBUG) for (const f of tree.live) console.log(tree.origins.get(f))
    }
    const fin = yield* Effect.exit(s.finally)
    if (Exit.isFailure(fin)) problems.push(`not clean: ${summary(fin)}`)
    if (problems.length > 0) assert.fail(`${problems.join("; ")}\n  after ${JSON.stringify(commands)}`)
  }))

/** What the schedules produced (printed with INTERRUPTION_VERBOSE): that they reach the cases that matter. */
const tally = new Map<string, number>()

describe("interruption under random schedules (callers, clock moves, answers, interruptions)", () => {
  afterAll(() => {
    if (process.env.INTERRUPTION_VERBOSE) console.log([...tally].sort().map(([k, n]) => `${n}\t${k}`).join("\n"))
  })

  it.effect.prop(
    "through a hedge: every caller ends once with an allowed answer, attempts within maxAttempts, none after its call ended, nothing left",
    [
      fc.record({ delay: fc.integer({ min: 5, max: 30 }), maxAttempts: fc.integer({ min: 2, max: 3 }) }),
      commandsArb
    ],
    ([config, commands]) =>
      runSchedule((dep) =>
        Effect.sync(() => {
          const hedge = Hedge.make({ delay: Duration.millis(config.delay), maxAttempts: config.maxAttempts })
          return {
            policy: hedge,
            maxRuns: config.maxAttempts,
            errors: new Set<string>(),
            always: Effect.void,
            // (a caller interrupted before the hedge ran is no call of it)
            finally: Effect.sync(() => assert.isAtMost(hedge.unsafeStats().calls, dep.callers.filter((c) => c.fiber !== undefined).length)),
            lingering: 0
          }
        }), commands, config.maxAttempts),
    { fastCheck: { numRuns: numRuns(30) } }
  )

  it.effect.prop(
    "through timeout ∘ retry ∘ breaker ∘ bulkhead (composed, or Policy.pipeline's order): the same, and no permit, queue place or probe slot held",
    [
      fc.record({
        order: fc.constantFrom("compose" as const, "pipeline" as const),
        timeout: fc.integer({ min: 40, max: 200 }),
        attemptTimeout: fc.option(fc.integer({ min: 10, max: 60 }), { nil: undefined }),
        times: fc.integer({ min: 1, max: 2 }),
        backoff: fc.integer({ min: 1, max: 20 }),
        failures: fc.integer({ min: 1, max: 3 }),
        openDuration: fc.integer({ min: 10, max: 100 }),
        maxConcurrent: fc.integer({ min: 1, max: 2 }),
        maxQueue: fc.integer({ min: 0, max: 2 })
      }),
      commandsArb
    ],
    ([config, commands]) =>
      runSchedule((dep) =>
        Effect.gen(function*() {
          const bulkhead = yield* Bulkhead.make({
            maxConcurrent: config.maxConcurrent,
            maxQueue: config.maxQueue,
            metricsInterval: Duration.infinity
          })
          const cb = yield* CircuitBreaker.make({
            tripPolicy: CircuitBreaker.consecutive(config.failures),
            openDuration: Duration.millis(config.openDuration)
          })
          const retry = Retry.policy({ times: config.times, schedule: Retry.constant(Duration.millis(config.backoff)) })
          const attempt = config.attemptTimeout === undefined ? Policy.identity : Timeout.make(Duration.millis(config.attemptTimeout))
          const policy = config.order === "compose"
            ? Policy.compose(Timeout.make(Duration.millis(config.timeout)), retry, cb, bulkhead, attempt)
            : Policy.pipeline({
              timeout: Duration.millis(config.timeout),
              bulkhead,
              circuitBreaker: cb,
              retry,
              ...(config.attemptTimeout === undefined ? {} : { attemptTimeout: Duration.millis(config.attemptTimeout) })
            })
          const probesWithin = Effect.map(cb.state(), (state) => {
            if (state._tag === "HalfOpen") assert.isAtMost(state.probes, 1, "half-open admits one probe at a time")
          })
          return {
            policy,
            maxRuns: config.times + 1,
            errors: new Set(["TimeoutError", "BulkheadFullError", "CircuitBreakerError"]),
            always: Effect.zipRight(
              Effect.sync(() => assert.isAtMost(bulkhead.unsafeStats().active, config.maxConcurrent, "bulkhead over its limit")),
              probesWithin
            ),
            finally: Effect.gen(function*() {
              // a caller's interruption is never a failure of the dependency: every failure the breaker
              // counted is a run that failed or was cut by a timeout, or a call its overall timeout ended
              const timedOut = dep.callers.filter((c) => c.exit !== undefined && summary(c.exit) === "fail:TimeoutError").length
              assert.isAtMost((yield* cb.metrics()).failures, dep.blameable + timedOut, "breaker failures")
              const stats = bulkhead.unsafeStats()
              assert.deepStrictEqual([stats.active, stats.queued], [0, 0], "bulkhead: no permit held, nobody queued")
              const state = yield* cb.state()
              if (state._tag === "HalfOpen") assert.strictEqual(state.probes, 0, "breaker: no probe slot held")
              // the breaker is not wedged: once its break is over, a call that succeeds closes it
              yield* TestClock.adjust(Duration.millis(config.openDuration))
              const fresh = yield* Effect.fork(Effect.succeed("fresh").pipe(policy))
              yield* TestClock.adjust("1 millis")
              assert.strictEqual(summary(yield* Fiber.await(fresh)), "ok:\"fresh\"")
              assert.strictEqual((yield* cb.state())._tag, "Closed", "breaker closed again")
            }),
            // a bulkhead's timer (started by the first wait a deadline bounds) lives in its scope
            lingering: 1
          }
        }), commands, config.times + 1),
    { fastCheck: { numRuns: numRuns(30) } }
  )
})
