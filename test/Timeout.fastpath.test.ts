/**
 * The timeout's fast path (one fork, shared timer) must behave exactly like
 * the general path (`Effect.timeoutFail`): same exit, at the same (test)
 * time, with the work interrupted at the same time, whatever the work does,
 * whether the caller is interrupted and whether `disconnect` is set.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Effect,
  Exit,
  FastCheck as fc,
  Fiber,
  FiberRef,
  Option,
  Ref,
  RuntimeFlags,
  RuntimeFlagsPatch,
  TestClock
} from "effect"
import { Timeout } from "effect-resilience"

type Work =
  | { readonly kind: "succeed" | "fail" | "die" | "uninterruptible"; readonly after: number }
  | { readonly kind: "never" }

// Exact ties (the work ending at the very instant its deadline fires, or at the instant the caller
// is interrupted, which happens on the 50 ms steps of the driver) are excluded: at a tie, which
// wins depends on scheduling order in both implementations, and both outcomes are correct.
const notOnStep = (n: number) => n % 50 !== 0

const workArb: fc.Arbitrary<Work> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("succeed" as const, "fail" as const, "die" as const, "uninterruptible" as const),
    after: fc.integer({ min: 1, max: 1500 }).filter(notOnStep)
  }),
  fc.constant({ kind: "never" as const })
)


const scenarioArb = fc.record({
  work: workArb,
  timeout: fc.integer({ min: 1, max: 1500 }).filter(notOnStep),
  // from 1: a caller interrupted before it even started may or may not observe it before synchronous work ends
  interruptAt: fc.option(fc.integer({ min: 1, max: 2000 }), { nil: undefined }),
  disconnect: fc.boolean()
}).filter((s) => s.work.kind === "never" || s.work.after !== s.timeout)

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer A> ? A : never

const ref = FiberRef.unsafeMake(0)

/** Runs a scenario under the TestClock; reports what happened and when. */
const run = (scenario: Scenario, implementation: "fast" | "general") =>
  Effect.gen(function*() {
    const start = yield* TestClock.currentTimeMillis
    const workEnded = yield* Ref.make<string | undefined>(undefined)
    const now = Effect.map(TestClock.currentTimeMillis, (t) => t - start)
    const mark = (what: string) => Effect.flatMap(now, (t) => Ref.set(workEnded, `${what}@${t}`))
    const w = scenario.work
    const body: Effect.Effect<number, string> = w.kind === "never"
      ? Effect.never
      : w.kind === "uninterruptible"
      ? Effect.sleep(w.after).pipe(Effect.as(1), Effect.uninterruptible)
      : Effect.sleep(w.after).pipe(
        Effect.zipRight(
          w.kind === "succeed"
            ? Effect.as(FiberRef.set(ref, 7), 1)
            : w.kind === "fail"
            ? Effect.fail("boom")
            : Effect.die("defect")
        )
      )
    const work = body.pipe(
      Effect.onExit((exit) => mark(Exit.isInterrupted(exit) ? "interrupted" : "done"))
    )
    const policy = Timeout.make(scenario.timeout, { disconnect: scenario.disconnect, implementation })
    const fiber = yield* Effect.fork(Effect.zip(work.pipe(policy), FiberRef.get(ref)))
    let endedAt: number | undefined
    let exit: Exit.Exit<readonly [number, number], unknown> | undefined
    for (let t = 0; t <= 4_000; t += 50) {
      if (scenario.interruptAt !== undefined && t >= scenario.interruptAt && t - 50 < scenario.interruptAt) {
        yield* Fiber.interruptFork(fiber)
      }
      // let every fiber involved settle at this instant (the general path hops through more of them)
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      const polled = yield* Fiber.poll(fiber)
      if (Option.isSome(polled)) {
        endedAt ??= t
        exit = polled.value
        break
      }
      yield* TestClock.adjust(50)
    }
    yield* TestClock.adjust(10_000)
    const describe = (e: Exit.Exit<unknown, unknown> | undefined) =>
      e === undefined
        ? "running"
        : Exit.isSuccess(e)
        ? `success ${JSON.stringify(e.value)}`
        : Cause.isInterruptedOnly(e.cause)
        ? "interrupted"
        : Option.match(Cause.failureOption(e.cause), {
          onNone: () => `die ${String(Cause.squash(e.cause))}`,
          onSome: (err) => `fail ${(err as any)?._tag ?? String(err)}`
        })
    return { exit: describe(exit), endedAt, work: yield* Ref.get(workEnded) }
  })

describe("Timeout fast path", () => {
  it.effect.prop(
    "behaves exactly like Effect.timeoutFail",
    [scenarioArb],
    ([scenario]) =>
      Effect.gen(function*() {
        const general = yield* run(scenario, "general")
        const fast = yield* run(scenario, "fast")
        assert.deepStrictEqual(fast, general, JSON.stringify({ scenario, fast, general }))
      }),
    { fastCheck: { numRuns: Number(process.env.TIMEOUT_PROP_RUNS ?? 100), seed: Number(process.env.TIMEOUT_PROP_SEED ?? 20261123) } }
  )

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

const refsAfter = (work: ReadonlyArray<RefOp>, implementation: "fast" | "general") =>
  Effect.gen(function*() {
    yield* FiberRef.set(setByCaller, "a0")
    yield* FiberRef.set(forked, 0)
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
  }).pipe(Effect.fork, Effect.flatMap(Fiber.join))

describe("Timeout fast path: FiberRefs", () => {
  it.effect.prop(
    "the caller inherits the work's FiberRefs exactly as with Effect.timeoutFail (set, deleted, forked, joined, runtime flags)",
    [fc.array(fc.constantFrom(...Object.keys(refOps) as Array<RefOp>), { maxLength: 6 })],
    ([work]) =>
      Effect.gen(function*() {
        const general = yield* refsAfter(work, "general")
        const fast = yield* refsAfter(work, "fast")
        assert.deepStrictEqual(fast, general, JSON.stringify(work))
      }),
    { fastCheck: { numRuns: 200 } }
  )

  it.effect("a FiberRef with a fork function comes back forked even when the work changes nothing", () =>
    Effect.gen(function*() {
      // as after Effect.fork + Fiber.join, or Effect.timeout: the join brings the forked value back
      assert.deepStrictEqual(yield* refsAfter([], "fast"), yield* refsAfter([], "general"))
      assert.strictEqual((yield* refsAfter([], "fast")).forked, 1)
      assert.strictEqual((yield* refsAfter(["suspend"], "fast")).forked, 1)
    }))
})
