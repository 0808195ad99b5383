/**
 * The timeout's fast path (one fork, one shared timer per policy) must behave
 * exactly like the general path (`Effect.timeoutFail`): same exit, at the same
 * (test) time, with the work interrupted at the same time, whatever the work
 * does, whether the caller is interrupted and whether `disconnect` is set —
 * and so must every call when many calls with different deadlines share the
 * policy's timer, under the TestClock (a timer fiber) and under the live
 * clock (a Node timer). It must also cost what it promises: one fiber per
 * call, one timer per policy, nothing left running (or keeping the process
 * alive) once no call is pending.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Deferred,
  Duration,
  Effect,
  Exit,
  FastCheck as fc,
  Fiber,
  FiberRef,
  Option,
  Ref,
  RuntimeFlags,
  RuntimeFlagsPatch,
  Supervisor,
  TestClock
} from "effect"
import { Errors, Timeout } from "effect-resilience"
import { vi } from "vitest"
import { makeFastTimeout } from "../src/internal/timeout/fastPath.js"
import { numRuns } from "./utils/props.js"

// --- calls: each starts at its own time, runs some work under a timeout, may be interrupted ---

// Times sit on distinct residues (start ≡ 0, deadline ≡ 3, work end ≡ 7, caller interruption ≡ 5
// mod 10), so that no call ever has two events at one instant: at such a tie (the work ending at
// the very instant its deadline fires), which wins depends on scheduling order in both
// implementations, and both outcomes are correct. Ties between different calls are fine.
const callArb = fc.record({
  start: fc.integer({ min: 0, max: 100 }).map((n) => n * 10),
  budget: fc.integer({ min: 0, max: 100 }).map((n) => n * 10 + 3),
  work: fc.oneof(
    fc.record({
      kind: fc.constantFrom("succeed" as const, "fail" as const, "die" as const, "uninterruptible" as const),
      after: fc.integer({ min: 0, max: 150 }).map((n) => n * 10 + 7)
    }),
    fc.constant({ kind: "never" as const })
  ),
  interruptAt: fc.option(fc.integer({ min: 0, max: 200 }).map((n) => n * 10 + 5), { nil: undefined }),
  disconnect: fc.boolean()
})
type Call = typeof callArb extends fc.Arbitrary<infer A> ? A : never

const call = (
  start: number,
  budget: number,
  work: Call["work"],
  options: { readonly interruptAt?: number; readonly disconnect?: boolean } = {}
): Call => ({ start, budget, work, interruptAt: options.interruptAt, disconnect: options.disconnect ?? false })
const never = { kind: "never" } as const
const succeed = (after: number) => ({ kind: "succeed", after }) as const

/** Set by successful work: the caller must see it afterwards (FiberRefs are joined back). */
const ref = FiberRef.unsafeMake(0)

type Bound = (work: Effect.Effect<number, string>, call: Call) => Effect.Effect<number, string | Errors.TimeoutError>

/** Starts every call at its time and reports, per call, how and when the caller and its work ended. */
const runCalls = (calls: ReadonlyArray<Call>, bound: Bound) =>
  Effect.gen(function*() {
    const t0 = yield* Clock.currentTimeMillis
    const at = Effect.map(Clock.currentTimeMillis, (t) => t - t0)
    const ended = calls.map(() => ({ caller: "running", work: "not started" }))
    const fibers = yield* Effect.forEach(calls, (c, i) => {
      const w = c.work
      const body: Effect.Effect<number, string> = w.kind === "never"
        ? Effect.never
        : w.kind === "uninterruptible"
        ? Effect.sleep(w.after).pipe(Effect.as(i), Effect.uninterruptible)
        : Effect.sleep(w.after).pipe(
          Effect.zipRight(
            w.kind === "succeed"
              ? Effect.as(FiberRef.set(ref, i + 1), i)
              : w.kind === "fail"
              ? Effect.fail("boom")
              : Effect.die("defect")
          )
        )
      const work = body.pipe(
        Effect.onExit((exit) =>
          Effect.map(at, (t) => ended[i]!.work = `${Exit.isInterrupted(exit) ? "interrupted" : "done"}@${t}`)
        )
      )
      return Effect.sleep(c.start).pipe(
        Effect.zipRight(bound(work, c)),
        Effect.zip(FiberRef.get(ref)),
        Effect.onExit((exit) =>
          Effect.map(at, (t) =>
            ended[i]!.caller = `${
              Exit.match(exit, {
                onSuccess: ([n, r]) => `success ${n} ref ${r}`,
                onFailure: (cause) =>
                  Cause.isInterruptedOnly(cause)
                    ? "interrupted"
                    : Option.match(Cause.failureOption(cause), {
                      onNone: () => `die ${String(Cause.squash(cause))}`,
                      onSome: (e) => `fail ${typeof e === "string" ? e : `${e._tag} ${e.message}`}`
                    })
              })
            }@${t}`)
        ),
        Effect.fork
      )
    })
    yield* Effect.forEach(calls, (c, i) =>
      c.interruptAt === undefined
        ? Effect.void
        : Effect.fork(Effect.sleep(c.interruptAt).pipe(Effect.zipRight(Fiber.interruptFork(fibers[i]!)))))
    // every call ends by 3.1 s; one still running at 5 s never will (its deadline was lost)
    yield* Effect.race(Effect.forEach(fibers, Fiber.await, { discard: true }), Effect.sleep(5_000))
    return ended
  })

/** The reference: each call under its own `Effect.timeoutFail`. */
const viaTimeoutFail: Bound = (work, c) =>
  Effect.timeoutFail(c.disconnect ? Effect.disconnect(work) : work, {
    duration: c.budget,
    onTimeout: () => new Errors.TimeoutError({ duration: Duration.millis(c.budget) })
  })
/** Every call through one policy's fast path, each with its own budget (as under different enclosing deadlines). */
const viaOneFastPath = (): Bound => {
  const fast = makeFastTimeout()
  return (work, c) =>
    fast.run(work, {
      budget: c.budget,
      deadline: undefined,
      outer: undefined,
      error: () => new Errors.TimeoutError({ duration: Duration.millis(c.budget) }),
      disconnect: c.disconnect
    })
}
/** Each call through its own `Timeout.make` (its default implementation: the fast path). */
const viaPolicies: Bound = (work, c) => work.pipe(Timeout.make(c.budget, { disconnect: c.disconnect }))

/** Under the TestClock: runs the calls and lets every sleep and deadline pass. */
const onTestClock = (calls: ReadonlyArray<Call>, bound: Bound) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(runCalls(calls, bound))
    yield* TestClock.adjust(10_000)
    return yield* Fiber.join(fiber)
  })

/** Under the live clock, on Vitest's fake timers (installed by the caller). */
const onFakeTimers = async (calls: ReadonlyArray<Call>, bound: Bound) => {
  const result = Effect.runPromise(runCalls(calls, bound))
  await vi.advanceTimersByTimeAsync(10_000)
  return result
}
/** Fake timers starting far from 0, so that a deadline computed from the wrong instant cannot pass for the right one. */
const withFakeTimers = async <A>(f: () => Promise<A>): Promise<A> => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date", "performance"], now: 1_000_000 })
  try {
    return await f()
  } finally {
    vi.useRealTimers()
  }
}

/** The deadline list's cases: named scenarios of calls sharing one policy. */
const scenarios: ReadonlyArray<readonly [string, ReadonlyArray<Call>]> = [
  ["a later call with an earlier deadline times out first, and the others at theirs", [
    call(0, 1003, never),
    call(100, 203, never),
    call(200, 1003, never),
    call(300, 403, never)
  ]],
  ["the first pending call ending early leaves the others' deadlines in force (and a later call joins them)", [
    call(0, 503, succeed(107)),
    call(100, 503, never),
    call(200, 503, never)
  ]],
  ["a call in the middle ending early leaves the others' deadlines in force", [
    call(0, 503, never),
    call(100, 503, succeed(107)),
    call(200, 503, never)
  ]],
  ["the last pending call ending early leaves the others' deadlines in force", [
    call(0, 503, never),
    call(100, 503, succeed(107))
  ]],
  ["a call timing out leaves the later deadlines in force", [
    call(0, 103, never),
    call(100, 503, never),
    call(200, 503, never)
  ]],
  ["calls with one deadline time out together", [
    call(0, 503, never),
    call(0, 503, never),
    call(100, 403, never)
  ]],
  ["a call after every call has ended still times out", [
    call(0, 103, succeed(7)),
    call(200, 103, never),
    call(400, 103, never)
  ]],
  ["an interrupted caller's call leaves the others' deadlines in force", [
    call(0, 503, never, { interruptAt: 105 }),
    call(100, 503, never),
    call(200, 103, never, { disconnect: true })
  ]]
]

describe("Timeout fast path: semantics", () => {
  it("a policy ends every call exactly like Effect.timeoutFail (result, time, work interrupted, FiberRefs kept)", () =>
    withFakeTimers(() =>
      fc.assert(
        fc.asyncProperty(callArb, async (c) => {
          assert.deepStrictEqual(await onFakeTimers([c], viaPolicies), await onFakeTimers([c], viaTimeoutFail), JSON.stringify(c))
        }),
        { numRuns: numRuns(Number(process.env.TIMEOUT_PROP_RUNS ?? 60)) }
      )
    ))

  it.live("under the live clock: times out, interrupts the work, and leaves no pending timer behind", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const exit = yield* Effect.exit(
        Effect.never.pipe(Effect.onInterrupt(() => Ref.set(interrupted, true)), Timeout.make("20 millis"))
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.isTrue(yield* Ref.get(interrupted))
      // many fast successes through the shared timer
      const t = Timeout.make("1 minute")
      for (let i = 0; i < 1000; i++) assert.strictEqual(yield* Effect.succeed(i).pipe(t), i)
      // FiberRef changes made by the work are kept, as with Effect.timeout
      const value = yield* FiberRef.set(ref, 3).pipe(Timeout.make("1 second"), Effect.zipRight(FiberRef.get(ref)))
      assert.strictEqual(value, 3)
    }))
})

describe("Timeout fast path: one policy, many deadlines (TestClock: a timer fiber)", () => {
  for (const [name, calls] of scenarios) {
    it.effect(name, () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* onTestClock(calls, viaOneFastPath()), yield* onTestClock(calls, viaTimeoutFail))
      }))
  }

  it.effect.prop(
    "every call ends exactly as its own Effect.timeoutFail",
    [fc.array(callArb, { minLength: 1, maxLength: 4 })],
    ([calls]) =>
      Effect.gen(function*() {
        const expected = yield* onTestClock(calls, viaTimeoutFail)
        const actual = yield* onTestClock(calls, viaOneFastPath())
        assert.deepStrictEqual(actual, expected, JSON.stringify(calls))
      }),
    // slow (the TestClock yields to the event loop several times at every wake-up): the scenarios
    // above cover the deadline list's cases, and the same property runs on fake timers below
    { fastCheck: { numRuns: numRuns(Number(process.env.TIMEOUT_PROP_RUNS ?? 60) / 10) } }
  )
})

describe("Timeout fast path: one policy, many deadlines (live clock: a Node timer, on fake timers)", () => {
  for (const [name, calls] of scenarios) {
    it(name, () =>
      withFakeTimers(async () => {
        assert.deepStrictEqual(await onFakeTimers(calls, viaOneFastPath()), await onFakeTimers(calls, viaTimeoutFail))
      }))
  }

  it("every call ends exactly as its own Effect.timeoutFail, and the timer is armed per deadline, never polled", () =>
    withFakeTimers(() =>
      fc.assert(
        fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 8 }), async (calls) => {
          const expected = await onFakeTimers(calls, viaTimeoutFail)
          const setTimeout = vi.spyOn(globalThis, "setTimeout")
          try {
            const actual = await onFakeTimers(calls, viaOneFastPath())
            assert.deepStrictEqual(actual, expected, JSON.stringify(calls))
            // per call: its start, its work's sleep, its interruption, and at most two arms of the shared
            // timer (when it is added, when it becomes the earliest); plus the driver's horizon
            assert.isAtMost(setTimeout.mock.calls.length, 5 * calls.length + 1, JSON.stringify(calls))
          } finally {
            setTimeout.mockRestore()
          }
        }),
        { numRuns: numRuns(Number(process.env.TIMEOUT_PROP_RUNS ?? 60)) }
      )
    ))
})

// --- FiberRefs ---

// FiberRefs as the caller finds them after a successful call: joined back from the work as
// Effect.timeout joins them (`inheritAll`), whatever the work did to them
const setByCaller = FiberRef.unsafeMake("a0")
const newToCaller = FiberRef.unsafeMake("b0")
// a child fiber starts with n + 1: joining it back gives the caller n + 1 even if the work never touches it
const forked = FiberRef.unsafeMake(0, { fork: (n) => n + 1 })
const summed = FiberRef.unsafeMake(0, { join: (parent, child) => parent + child })
const refOps = {
  suspend: Effect.yieldNow(),
  set: FiberRef.set(setByCaller, "a1"),
  setBack: FiberRef.set(setByCaller, "a0"),
  delete: FiberRef.delete(setByCaller),
  setNew: FiberRef.set(newToCaller, "b1"),
  add: FiberRef.update(summed, (n) => n + 5),
  // a runtime flag changed for the rest of the fiber is inherited too
  noYielding: Effect.patchRuntimeFlags(RuntimeFlagsPatch.disable(RuntimeFlags.CooperativeYielding))
}
type RefOp = keyof typeof refOps

/** Runs `work` on a fresh fiber, under a timeout; `withForked`: the caller has set `forked` (so the work forks it). */
const refsAfter = (work: ReadonlyArray<RefOp>, implementation: "fast" | "general", withForked = true) =>
  Effect.gen(function*() {
    yield* FiberRef.set(setByCaller, "a0")
    if (withForked) yield* FiberRef.set(forked, 0)
    yield* FiberRef.set(summed, 1)
    yield* Effect.forEach(work, (op) => refOps[op], { discard: true }).pipe(Timeout.make("1 minute", { implementation }))
    return {
      setByCaller: yield* FiberRef.get(setByCaller),
      newToCaller: yield* FiberRef.get(newToCaller),
      forked: yield* FiberRef.get(forked),
      summed: yield* FiberRef.get(summed),
      cooperativeYielding: RuntimeFlags.cooperativeYielding(yield* Effect.getRuntimeFlags),
      deadline: Option.isSome(yield* Timeout.remaining)
    }
  }).pipe(Effect.fork, Effect.flatMap(Fiber.await), Effect.flatten) // not joined: the test's own fiber stays as it is

describe("Timeout fast path: FiberRefs", () => {
  it.effect.prop(
    "the caller inherits the work's FiberRefs exactly as with Effect.timeoutFail (set, deleted, forked, joined, runtime flags)",
    [fc.array(fc.constantFrom(...Object.keys(refOps) as Array<RefOp>), { maxLength: 6 }), fc.boolean()],
    ([work, withForked]) =>
      Effect.gen(function*() {
        const general = yield* refsAfter(work, "general", withForked)
        const fast = yield* refsAfter(work, "fast", withForked)
        assert.deepStrictEqual(fast, general, JSON.stringify({ work, withForked }))
      }),
    { fastCheck: { numRuns: numRuns(Number(process.env.TIMEOUT_PROP_RUNS ?? 60) / 2) } }
  )

  it.effect("each FiberRef operation alone: the caller ends up as with Effect.timeoutFail", () =>
    Effect.gen(function*() {
      for (const op of Object.keys(refOps) as Array<RefOp>) {
        for (const withForked of [false, true]) {
          const work = op === "suspend" ? [op] : [op, "suspend" as const]
          assert.deepStrictEqual(yield* refsAfter([op], "fast", withForked), yield* refsAfter([op], "general", withForked), op)
          assert.deepStrictEqual(yield* refsAfter(work, "fast", withForked), yield* refsAfter(work, "general", withForked), op)
        }
      }
    }))

  it.effect("a FiberRef with a fork function comes back forked even when the work changes nothing", () =>
    Effect.gen(function*() {
      // as after Effect.fork + Fiber.join, or Effect.timeout: the join brings the forked value back
      assert.deepStrictEqual(yield* refsAfter([], "fast"), yield* refsAfter([], "general"))
      assert.strictEqual((yield* refsAfter([], "fast")).forked, 1)
      assert.strictEqual((yield* refsAfter(["suspend"], "fast")).forked, 1)
    }))

  it.effect("a runtime flag the work changed for good is inherited, even when no FiberRef changed", () =>
    Effect.gen(function*() {
      for (const work of [["noYielding"], ["suspend", "noYielding"]] as const) {
        assert.isFalse((yield* refsAfter(work, "fast", false)).cooperativeYielding)
        assert.deepStrictEqual(yield* refsAfter(work, "fast", false), yield* refsAfter(work, "general", false))
      }
    }))
})

// --- cost: fibers and timers ---

/** Counts the fibers started under it and keeps the ones still running. */
class Fibers extends Supervisor.AbstractSupervisor<void> {
  started = 0
  readonly running = new Set<Fiber.RuntimeFiber<unknown, unknown>>()
  readonly value = Effect.void
  override onStart<A, E, R>(
    _context: unknown,
    _effect: Effect.Effect<A, E, R>,
    _parent: unknown,
    fiber: Fiber.RuntimeFiber<A, E>
  ): void {
    this.started++
    this.running.add(fiber)
  }
  override onEnd<A, E>(_value: Exit.Exit<A, E>, fiber: Fiber.RuntimeFiber<A, E>): void {
    this.running.delete(fiber)
  }
}

describe("Timeout fast path: fibers and timers", () => {
  it.effect("work that completes without suspending runs on one fiber, with no timer (Effect.timeoutFail races two)", () =>
    Effect.gen(function*() {
      const fibersFor = (options: Timeout.Timeout.Options) =>
        Effect.gen(function*() {
          const supervisor = new Fibers()
          assert.strictEqual(yield* Effect.succeed(1).pipe(Timeout.make("1 second", options), Effect.supervised(supervisor)), 1)
          assert.strictEqual(supervisor.running.size, 0)
          return supervisor.started
        })
      assert.strictEqual(yield* fibersFor({}), 1, "the default: the fast path")
      assert.strictEqual(yield* fibersFor({ implementation: "fast" }), 1)
      assert.isAbove(yield* fibersFor({ implementation: "general" }), 1)
    }))

  it.effect("an uninterruptible caller's call that ends early stops the timer fiber (it does not sleep on to the deadline)", () =>
    Effect.gen(function*() {
      const supervisor = new Fibers()
      const t = Timeout.make("1 hour")
      const gate = yield* Deferred.make<void>()
      const call = yield* Effect.fork(Effect.uninterruptible(Deferred.await(gate).pipe(t)).pipe(Effect.supervised(supervisor)))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(call)
      yield* Effect.repeatN(Effect.yieldNow(), 5)
      // the timer fiber took the caller's runtime flags: uninterruptible, it slept on to the deadline
      assert.strictEqual(supervisor.running.size, 0)
    }))

  it.effect("pending calls share one timer fiber: 20 calls start 20 work fibers and one timer", () =>
    Effect.gen(function*() {
      const supervisor = new Fibers()
      const t = Timeout.make("1 second")
      const fork = Effect.fork(Effect.never.pipe(t)).pipe(Effect.supervised(supervisor))
      const first = yield* Effect.replicateEffect(fork, 10)
      yield* TestClock.adjust("100 millis")
      // later deadlines: the timer keeps sleeping until the first
      const second = yield* Effect.replicateEffect(fork, 10)
      yield* Effect.yieldNow()
      assert.strictEqual(supervisor.started, 20 + 20 + 1)
      yield* TestClock.adjust("1 second")
      for (const fiber of [...first, ...second]) {
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit) && Cause.failureOption(exit.cause).pipe(Option.exists(Errors.isResilienceError)))
      }
      yield* Effect.yieldNow()
      assert.strictEqual(supervisor.started, 41)
      assert.strictEqual(supervisor.running.size, 0)
    }))

  it.effect("calls with one deadline time out in the order they started (each is appended, never walked past)", () =>
    Effect.gen(function*() {
      const t = Timeout.make("1 second")
      const order: Array<number> = []
      const calls = yield* Effect.forEach(
        [0, 1, 2, 3, 4],
        (i) => Effect.fork(Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => order.push(i))), t))
      )
      yield* TestClock.adjust("1 second")
      yield* Effect.forEach(calls, Fiber.await)
      assert.deepStrictEqual(order, [0, 1, 2, 3, 4])
    }))

  it.effect("once no call is pending, nothing keeps running (the timer stops), and the next call starts it again", () =>
    Effect.gen(function*() {
      const supervisor = new Fibers()
      const t = Timeout.make("1 second")
      const gates = yield* Effect.replicateEffect(Deferred.make<void>(), 3)
      const calls = yield* Effect.forEach(gates, (gate) => Effect.fork(Deferred.await(gate).pipe(t))).pipe(
        Effect.supervised(supervisor)
      )
      yield* Effect.yieldNow()
      assert.strictEqual(supervisor.running.size, 3 + 3 + 1)
      // the calls end (middle, first, last) long before their deadline
      for (const i of [1, 0, 2]) {
        yield* Deferred.succeed(gates[i]!, undefined)
        yield* Fiber.join(calls[i]!)
      }
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      assert.strictEqual(supervisor.running.size, 0, "no timer left behind")
      // the policy still times out the next call, on time
      const next = yield* Effect.fork(Effect.never.pipe(t)).pipe(Effect.supervised(supervisor))
      yield* TestClock.adjust("999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(next)))
      yield* TestClock.adjust("1 millis")
      assert.isTrue(Exit.isFailure(yield* Fiber.await(next)))
    }))

  it.live(
    "under the live clock, the policy's timer keeps the process alive exactly while a call is pending (as Effect.timeout's sleep does)",
    () =>
      Effect.gen(function*() {
        // the Node timers armed meanwhile (for a deadline, not a scheduler tick), not cleared, and ref'd:
        // the ones that keep the process alive
        const setTimeout = vi.spyOn(globalThis, "setTimeout")
        const clearTimeout = vi.spyOn(globalThis, "clearTimeout")
        yield* Effect.addFinalizer(() => Effect.sync(() => (setTimeout.mockRestore(), clearTimeout.mockRestore())))
        const keepingAlive = Effect.sync(() => {
          const cleared = new Set(clearTimeout.mock.calls.map(([handle]) => handle))
          return setTimeout.mock.results.filter(({ value }, i) =>
            (setTimeout.mock.calls[i]![1] ?? 0) >= 1000 && !cleared.has(value) && (value as NodeJS.Timeout).hasRef()
          ).length
        })
        const fast = makeFastTimeout()
        const start = (budget: number) =>
          Effect.gen(function*() {
            const started = yield* Deferred.make<void>()
            const gate = yield* Deferred.make<void>()
            const fiber = yield* Effect.fork(
              fast.run(Deferred.succeed(started, undefined).pipe(Effect.zipRight(Deferred.await(gate))), {
                budget,
                deadline: undefined,
                outer: undefined,
                error: () => "timeout",
                disconnect: false
              })
            )
            yield* Deferred.await(started)
            return Deferred.succeed(gate, undefined).pipe(Effect.zipRight(Fiber.join(fiber)))
          })
        const a = yield* start(60_000)
        assert.strictEqual(yield* keepingAlive, 1, "pending: one timer")
        const b = yield* start(30_000)
        assert.strictEqual(yield* keepingAlive, 1, "an earlier deadline moves the one timer")
        const c = yield* start(90_000)
        assert.strictEqual(yield* keepingAlive, 1)
        yield* a
        assert.strictEqual(yield* keepingAlive, 1, "still pending")
        yield* b
        yield* c
        assert.strictEqual(yield* keepingAlive, 0, "idle: nothing keeps the process alive")
        const d = yield* start(60_000)
        assert.strictEqual(yield* keepingAlive, 1, "pending again")
        yield* d
        assert.strictEqual(yield* keepingAlive, 0)
      }).pipe(Effect.scoped)
  )
})
