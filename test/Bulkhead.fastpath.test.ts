/**
 * The bulkhead's call as one step (src/internal/bulkhead/bulkhead.ts `BulkheadCall`, over the
 * exit frame of src/internal/exitFrame.ts): a call effect may be run many times, by several
 * fibers at once, interrupted at any point, fail, die or interrupt itself — each run takes one
 * permit and gives it back exactly once, and every caller sees what the general path (public
 * combinators only, taken when the runtime does not pop the frame as expected) gives it.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Deferred,
  Effect,
  Exit,
  FastCheck as fc,
  Fiber,
  Request,
  RequestResolver,
  Stream
} from "effect"
import { AdaptiveLimit, Bulkhead } from "effect-resilience"
import { BulkheadCall } from "../src/internal/bulkhead/bulkhead.js"
import { ExitFrame, probe, setSupported, supported } from "../src/internal/exitFrame.js"
import { settle } from "./utils/fibers.js"
import { numRuns } from "./utils/props.js"

/** Builds the bulkhead (and runs `use`) with the general path forced: the runtime check answering false. */
const generalPath = <A, E, R>(run: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Effect.sync(() => setSupported(false)), () => run, () => Effect.sync(() => setSupported(undefined)))


/** An Exit, described so that the two paths' answers compare (the same interruption may be nested differently). */
const shape = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.match(exit, {
    onSuccess: (a) => `ok:${String(a)}`,
    onFailure: (cause) =>
      Cause.isInterruptedOnly(cause)
        ? "interrupted"
        : Cause.isDie(cause)
        ? `die:${String(Cause.squash(cause))}`
        : `fail:${Cause.failures(cause).pipe(Chunk.map((e) => (e as { _tag?: string })._tag ?? String(e)), Chunk.join("+"))}`
  })

describe("Bulkhead: the call as one step", () => {
  it("the fiber runtime pops the exit frame as the bulkhead expects (checked once per process)", () => {
    assert.isTrue(supported())
    assert.isTrue(probe((hook) => new ExitFrame(hook)))
  })

  it("the probe answers false for a frame the runtime would not pop as expected: the general path is taken", () => {
    /** A frame whose hook runs on some exits only, or never, or breaks the run. */
    const frame = (patch: (hook: () => void) => number) => (hook: () => void) =>
      Object.defineProperty({ _op: "RevertFlags" }, "patch", { get: () => patch(hook) }) as unknown as ExitFrame
    let calls = 0
    assert.isFalse(probe(frame(() => 0)), "the hook never runs")
    assert.isFalse(probe(frame((hook) => (++calls % 2 === 0 ? (hook(), 0) : 0))), "the hook runs on some exits only")
    assert.isFalse(
      probe(frame((hook) => {
        hook()
        throw new Error("a runtime that cannot pop it")
      })),
      "every exit counted, but the runs broken"
    )
  })

  it.scoped("a call is a BulkheadCall and an Effect; building or inspecting it takes no permit", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2 })
      const call = bulkhead(Effect.succeed("ok"))
      assert.isTrue(call instanceof BulkheadCall)
      assert.isTrue(Effect.isEffect(call))
      assert.include(JSON.stringify(call), "Bulkhead")
      const keyed = bulkhead.execute(Effect.succeed("ok"), { key: "tenant" })
      assert.isTrue(keyed instanceof BulkheadCall)
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
      assert.strictEqual(yield* call, "ok")
      assert.strictEqual(yield* keyed, "ok")
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
      assert.strictEqual(bulkhead.unsafeStats("tenant").active, 0)
    }))

  it.scoped("an adaptive limit and the general path do not use it", () =>
    Effect.gen(function*() {
      const adaptive = yield* Bulkhead.make({ maxConcurrent: AdaptiveLimit.aimd() })
      assert.notInstanceOf(adaptive(Effect.void), BulkheadCall)
      const general = yield* generalPath(Bulkhead.make({ maxConcurrent: 4 }))
      assert.notInstanceOf(general(Effect.void), BulkheadCall)
      assert.strictEqual(yield* general(Effect.succeed(1)), 1)
    }))

  it.scoped("one call effect run by several fibers at once: each run holds its own permit, all given back", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 3, maxQueue: 10 })
      const gate = yield* Deferred.make<void>()
      const call = bulkhead(Effect.as(Deferred.await(gate), "done"))
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], () => Effect.fork(call))
      yield* settle
      // three run on the frame, two queue (the general path) on the same call effect
      assert.deepStrictEqual(
        [bulkhead.unsafeStats().active, bulkhead.unsafeStats().queued],
        [3, 2]
      )
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(results, ["done", "done", "done", "done", "done"])
      assert.deepStrictEqual([bulkhead.unsafeStats().active, bulkhead.unsafeStats().queued], [0, 0])
    }))

  it.scoped("the same call effect run again and again (a retry, a repeat) gives back each run's permit", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 0 })
      let runs = 0
      const call = bulkhead(Effect.suspend(() => ++runs < 100 ? Effect.fail("again" as const) : Effect.succeed(runs)))
      assert.strictEqual(yield* Effect.retry(call, { while: (e) => e === "again" }), 100)
      assert.strictEqual(yield* Effect.repeatN(bulkhead(Effect.succeed("x")), 50), "x")
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
    }))

  it.scoped("interruption at every point: before the run starts, while the call is suspended, the call interrupting itself", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1 })
      // interrupted before its first step: nothing taken
      const early = yield* Effect.fork(bulkhead(Effect.succeed(1)))
      yield* Fiber.interrupt(early)
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
      // interrupted while the call is suspended: the frame gives the permit back
      const started = yield* Deferred.make<void>()
      const suspended = yield* Effect.fork(bulkhead(Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)))
      yield* Deferred.await(started)
      assert.strictEqual(bulkhead.unsafeStats().active, 1)
      const exit = yield* Fiber.interrupt(suspended)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
      // the call interrupts itself
      const self = yield* Effect.exit(bulkhead(Effect.interrupt))
      assert.isTrue(Exit.isInterrupted(self))
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
      // the permit is usable again
      assert.strictEqual(yield* bulkhead(Effect.succeed("next")), "next")
    }))

  it.scoped("an uninterruptible caller interrupted during the call: the call completes, then its permit is given back", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1 })
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      let completed = false
      const fiber = yield* Effect.fork(
        Effect.uninterruptible(
          bulkhead(Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Deferred.await(release), "late")))
        ).pipe(Effect.tap(() => Effect.sync(() => (completed = true))))
      )
      yield* Deferred.await(started)
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* settle
      assert.strictEqual(bulkhead.unsafeStats().active, 1)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(interrupting)
      assert.isFalse(completed)
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
    }))

  it.scoped("typed failures and defects give the permit back and reach the caller unchanged", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 0 })
      assert.deepStrictEqual(yield* Effect.exit(bulkhead(Effect.fail("boom"))), Exit.fail("boom"))
      assert.deepStrictEqual(yield* Effect.exit(bulkhead(Effect.die("defect"))), Exit.die("defect"))
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
      assert.strictEqual(yield* bulkhead(Effect.succeed(1)), 1)
    }))

  it.scoped("the frame's release hands the permit to the oldest queued caller", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 5 })
      const gate = yield* Deferred.make<void>()
      const order: Array<string> = []
      const holder = yield* Effect.fork(bulkhead(Deferred.await(gate)))
      yield* settle
      const queued = yield* Effect.forEach(["a", "b", "c"], (name) =>
        Effect.tap(Effect.fork(bulkhead(Effect.sync(() => order.push(name)))), () => settle))
      assert.strictEqual(bulkhead.unsafeStats().queued, 3)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Effect.forEach(queued, Fiber.join)
      assert.deepStrictEqual(order, ["a", "b", "c"])
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
    }))

  it.scoped("batched requests through the bulkhead (the runtime moves the frames of a blocked fiber): answered, permits back", () =>
    Effect.gen(function*() {
      interface GetUser extends Request.Request<string> {
        readonly _tag: "GetUser"
        readonly id: number
      }
      const GetUser = Request.tagged<GetUser>("GetUser")
      let batches = 0
      const resolver = RequestResolver.makeBatched((requests: ReadonlyArray<GetUser>) =>
        Effect.sync(() => {
          batches++
        }).pipe(Effect.zipRight(Effect.forEach(requests, (r) => Request.succeed(r, `user-${r.id}`), { discard: true })))
      )
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 10 })
      const users = yield* Effect.all([1, 2, 3].map((id) => bulkhead(Effect.request(GetUser({ id }), resolver))), {
        batching: true
      })
      assert.deepStrictEqual(users, ["user-1", "user-2", "user-3"])
      assert.strictEqual(batches, 1)
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
    }))

  it.scoped("events: a call admitted on the frame emits Permitted as the general path does", () =>
    Effect.gen(function*() {
      const run = (bulkhead: Bulkhead.Bulkhead<never>) =>
        Effect.gen(function*() {
          const events = yield* bulkhead.events.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
          yield* settle
          yield* bulkhead(Effect.void)
          yield* bulkhead.execute(Effect.void, { key: "k" })
          return Chunk.toReadonlyArray(yield* Fiber.join(events))
        })
      const fast = yield* run(yield* Bulkhead.make({ maxConcurrent: 2, name: "ev" }))
      const general = yield* run(yield* generalPath(Bulkhead.make({ maxConcurrent: 2, name: "ev" })))
      assert.deepStrictEqual(fast, general)
      assert.deepStrictEqual(fast.map((e) => [e._tag, e.key]), [["Permitted", undefined], ["Permitted", "k"]])
    }))

  /** What a caller does inside the bulkhead, in the property below. */
  type Step = "succeed" | "fail" | "die" | "interruptSelf" | "suspendThenSucceed" | "interruptedWhileSuspended"

  it.effect.prop(
    "random callers (outcomes, suspensions, interruptions, keys): the frame and the general path give every caller the same answer, and both end with no permit held",
    [
      fc.array(
        fc.record({
          step: fc.constantFrom<Step>("succeed", "fail", "die", "interruptSelf", "suspendThenSucceed", "interruptedWhileSuspended"),
          key: fc.constantFrom(undefined, "a", "b"),
          yields: fc.integer({ min: 0, max: 3 })
        }),
        { minLength: 1, maxLength: 12 }
      ),
      fc.integer({ min: 1, max: 3 })
    ],
    ([callers, maxConcurrent]) =>
      Effect.gen(function*() {
        const scenario = (bulkhead: Bulkhead.Bulkhead<never>) =>
          Effect.gen(function*() {
            const gate = yield* Deferred.make<void>()
            const fibers = yield* Effect.forEach(callers, ({ key, step, yields }, i) => {
              const work: Effect.Effect<string, string> = Effect.zipRight(
                Effect.repeatN(Effect.yieldNow(), yields),
                step === "succeed"
                  ? Effect.succeed(`ok${i}`)
                  : step === "fail"
                  ? Effect.fail(`fail${i}`)
                  : step === "die"
                  ? Effect.die(`die${i}`)
                  : step === "interruptSelf"
                  ? Effect.interrupt
                  : step === "suspendThenSucceed"
                  ? Effect.as(Deferred.await(gate), `late${i}`)
                  : Effect.never
              )
              return Effect.fork(bulkhead.execute(work, key === undefined ? undefined : { key }))
            })
            yield* settle
            yield* Effect.forEach(
              fibers,
              (fiber, i) => callers[i]!.step === "interruptedWhileSuspended" ? Fiber.interrupt(fiber) : Effect.void,
              { discard: true }
            )
            yield* Deferred.succeed(gate, undefined)
            const exits = yield* Effect.forEach(fibers, Fiber.await)
            const held = ["a", "b", undefined].map((k) => bulkhead.unsafeStats(k))
            return { answers: exits.map(shape), held: held.map((s) => [s.active, s.queued]) }
          })
        const fast = yield* scenario(yield* Bulkhead.make({ maxConcurrent, maxQueue: 20 }))
        const general = yield* scenario(yield* generalPath(Bulkhead.make({ maxConcurrent, maxQueue: 20 })))
        assert.deepStrictEqual(fast.answers, general.answers)
        assert.deepStrictEqual(fast.held, [[0, 0], [0, 0], [0, 0]])
        assert.deepStrictEqual(general.held, [[0, 0], [0, 0], [0, 0]])
      }).pipe(Effect.scoped),
    { fastCheck: { numRuns: numRuns(100), seed: 20261207 } }
  )
})
