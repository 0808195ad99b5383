import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, FastCheck as fc, Fiber, Option, Ref, TestClock } from "effect"
import { CANCELLED, FifoSemaphore, GRANTED, PENDING, unsafeMake, Waiter } from "../src/internal/bulkhead/semaphore.js"
import { until } from "./utils/fibers.js"
import { numRuns } from "./utils/props.js"

/** Drives the TestClock one millisecond at a time until `fiber` is done. */
const driveUntilDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, maxSteps = 100_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < maxSteps; i++) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) return done.value
      yield* TestClock.adjust("1 millis")
      yield* Effect.yieldNow()
    }
    return assert.fail("fiber did not finish")
  })

describe("FifoSemaphore: Effect's Semaphore interface", () => {
  it.effect("withPermits takes and releases permits on the fast path", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(2)
      const seen = yield* sem.withPermits(1)(Effect.sync(() => sem.unsafeAvailable()))
      assert.strictEqual(seen, 1)
      assert.strictEqual(yield* sem.available, 2)
      assert.strictEqual(yield* sem.waiting, 0)
      assert.strictEqual(sem.wakeups, 0, "nobody queued, nobody woken")
    }))

  it.effect("take succeeds with n, release with the permits now available, releaseAll frees everything", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(5)
      assert.strictEqual(yield* sem.take(2), 2)
      assert.strictEqual(yield* sem.take(0), 0)
      assert.strictEqual(yield* sem.available, 3)
      assert.strictEqual(yield* sem.release(1), 4)
      yield* sem.take(3)
      assert.strictEqual(yield* sem.releaseAll, 5)
    }))

  it.effect("a semaphore made by make implements Effect.Semaphore", () =>
    Effect.gen(function*() {
      const { make } = yield* Effect.promise(() => import("../src/internal/bulkhead/semaphore.js"))
      const sem: Effect.Semaphore = yield* make(1)
      assert.strictEqual(yield* sem.withPermits(1)(Effect.succeed("ok")), "ok")
    }))

  it.effect("waiters are admitted in FIFO order", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(1)
      const order = yield* Ref.make<ReadonlyArray<number>>([])
      yield* sem.take(1)
      const fibers: Array<Fiber.RuntimeFiber<void>> = []
      for (let i = 0; i < 6; i++) {
        fibers.push(yield* Effect.fork(sem.withPermits(1)(Ref.update(order, (xs) => [...xs, i]))))
        yield* until(() => sem.waiters === i + 1, `waiter ${i}`)
      }
      yield* sem.release(1)
      yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(yield* Ref.get(order), [0, 1, 2, 3, 4, 5])
      assert.strictEqual(sem.unsafeAvailable(), 1)
    }))

  it.effect("strict FIFO: a waiter asking for more permits holds back the smaller requests behind it", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(3)
      const order = yield* Ref.make<ReadonlyArray<string>>([])
      yield* sem.take(2)
      const big = yield* Effect.fork(sem.withPermits(2)(Ref.update(order, (xs) => [...xs, "big"])))
      yield* until(() => sem.waiters === 1)
      const small = yield* Effect.fork(sem.withPermits(1)(Ref.update(order, (xs) => [...xs, "small"])))
      yield* until(() => sem.waiters === 2)
      // one permit is free, but the small request may not overtake the big one
      assert.strictEqual(sem.unsafeAvailable(), 1)
      assert.isTrue(Option.isNone(yield* sem.withPermitsIfAvailable(1)(Effect.void)), "no barging either")
      yield* sem.release(2)
      yield* Fiber.join(big)
      yield* Fiber.join(small)
      assert.deepStrictEqual(yield* Ref.get(order), ["big", "small"])
    }))

  it.effect("withPermitsIfAvailable runs only when permits are free", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(1)
      assert.deepStrictEqual(yield* sem.withPermitsIfAvailable(1)(Effect.succeed(1)), Option.some(1))
      yield* sem.take(1)
      assert.deepStrictEqual(yield* sem.withPermitsIfAvailable(1)(Effect.succeed(1)), Option.none())
      yield* sem.release(1)
      const exit = yield* Effect.exit(sem.withPermitsIfAvailable(1)(Effect.fail("boom")))
      assert.deepStrictEqual(exit, Exit.fail("boom"))
      assert.strictEqual(sem.unsafeAvailable(), 1, "released on failure")
    }))

  it.effect("permits are released on failure, defect and interruption of the holder", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(1)
      assert.deepStrictEqual(yield* Effect.exit(sem.withPermits(1)(Effect.fail("e"))), Exit.fail("e"))
      const died = yield* Effect.exit(sem.withPermits(1)(Effect.die("d")))
      assert.isTrue(Exit.isFailure(died) && Cause.isDie(died.cause))
      const started = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(sem.withPermits(1)(Effect.zipRight(Deferred.succeed(started, void 0), Effect.never)))
      yield* Deferred.await(started)
      assert.strictEqual(sem.unsafeAvailable(), 0)
      yield* Fiber.interrupt(holder)
      assert.strictEqual(sem.unsafeAvailable(), 1)
    }))

  it.effect("an interrupted waiter leaves the queue; the ones behind it keep their place", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(1)
      const order = yield* Ref.make<ReadonlyArray<number>>([])
      yield* sem.take(1)
      const fibers: Array<Fiber.RuntimeFiber<void>> = []
      for (let i = 0; i < 3; i++) {
        fibers.push(yield* Effect.fork(sem.withPermits(1)(Ref.update(order, (xs) => [...xs, i]))))
        yield* until(() => sem.waiters === i + 1)
      }
      yield* Fiber.interrupt(fibers[1]!)
      assert.strictEqual(sem.waiters, 2)
      yield* sem.release(1)
      yield* Fiber.join(fibers[0]!)
      yield* Fiber.join(fibers[2]!)
      assert.deepStrictEqual(yield* Ref.get(order), [0, 2])
      assert.strictEqual(sem.unsafeAvailable(), 1)
      assert.strictEqual(sem.waitingPermits, 0)
    }))

  it.effect("removing a blocking head waiter admits the waiters behind it", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(2)
      yield* sem.take(1)
      const big = yield* Effect.fork(sem.withPermits(2)(Effect.void))
      yield* until(() => sem.waiters === 1)
      const small = yield* Effect.fork(sem.withPermits(1)(Effect.succeed("small")))
      yield* until(() => sem.waiters === 2)
      yield* Fiber.interrupt(big)
      assert.strictEqual(yield* Fiber.join(small), "small")
      assert.strictEqual(sem.unsafeAvailable(), 1)
    }))

  it.effect("a waiter granted its permits but interrupted before it resumed gives them back", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(1)
      sem.unsafeTryTake(1)
      const resumes: Array<unknown> = []
      class Recording extends Waiter {
        override settle(effect: Effect.Effect<any, any>) {
          resumes.push(effect)
          super.settle(effect)
        }
      }
      const waiter = new Recording(1)
      sem.unsafeEnqueue(waiter)
      assert.strictEqual(waiter.state, PENDING)
      sem.unsafeRelease(1)
      assert.strictEqual(waiter.state, GRANTED)
      assert.strictEqual(resumes.length, 1)
      assert.strictEqual(sem.unsafeAvailable(), 0, "the permit is the waiter's")
      // the fiber's interruption won the race against the resume: the canceler runs
      sem.unsafeCancel(waiter)
      assert.strictEqual(waiter.state, CANCELLED)
      assert.strictEqual(sem.unsafeAvailable(), 1, "given back")
      sem.unsafeCancel(waiter)
      assert.strictEqual(sem.unsafeAvailable(), 1, "cancelling twice gives nothing back twice")
    }))

  it.effect("interruption racing a grant in either order never loses or duplicates a permit", () =>
    Effect.gen(function*() {
      for (const interruptFirst of [true, false]) {
        const sem = unsafeMake(1)
        yield* sem.take(1)
        const ran = yield* Ref.make(0)
        const fiber = yield* Effect.fork(sem.withPermits(1)(Ref.update(ran, (n) => n + 1)))
        yield* until(() => sem.waiters === 1)
        // in one synchronous section: the grant and the interrupt signal, in both orders
        yield* Effect.withFiberRuntime<void>((self) => {
          if (interruptFirst) fiber.unsafeInterruptAsFork(self.id())
          sem.unsafeRelease(1)
          if (!interruptFirst) fiber.unsafeInterruptAsFork(self.id())
          return Effect.void
        })
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isInterrupted(exit) || Exit.isSuccess(exit))
        assert.strictEqual(sem.unsafeAvailable(), 1, `interruptFirst=${interruptFirst}`)
        assert.strictEqual(sem.waiters, 0)
      }
    }))

  it.effect("resize: growing admits waiters at once, shrinking waits for holders to finish", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(1)
      yield* sem.take(1)
      const a = yield* Effect.fork(sem.withPermits(1)(Effect.void))
      const b = yield* Effect.fork(sem.withPermits(1)(Effect.void))
      yield* until(() => sem.waiters === 2)
      yield* sem.resize(3)
      yield* Fiber.join(a)
      yield* Fiber.join(b)
      assert.strictEqual(sem.unsafeAvailable(), 2)
      yield* sem.take(2)
      yield* sem.resize(1)
      assert.strictEqual(sem.unsafeAvailable(), -2)
      const c = yield* Effect.fork(sem.withPermits(1)(Effect.void))
      yield* until(() => sem.waiters === 1)
      yield* sem.release(2)
      assert.strictEqual(sem.waiters, 1, "still over capacity")
      yield* sem.release(1)
      yield* Fiber.join(c)
      assert.strictEqual(sem.unsafeAvailable(), 1)
    }))

  it.effect("invalid permit counts are defects, never silent corruption", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(1)
      for (const bad of [-1, 1.5, NaN, Infinity]) {
        const exits: Array<Exit.Exit<unknown>> = [
          yield* Effect.exit(sem.take(bad)),
          yield* Effect.exit(sem.release(bad)),
          yield* Effect.exit(sem.resize(bad)),
          yield* Effect.exit(sem.withPermits(bad)(Effect.void)),
          yield* Effect.exit(sem.withPermitsIfAvailable(bad)(Effect.void))
        ]
        for (const exit of exits) assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause), String(bad))
      }
      assert.strictEqual(sem.unsafeAvailable(), 1)
      assert.throws(() => unsafeMake(-1), RangeError, "Semaphore: permits must be a non-negative integer, got -1")
    }))

  it.effect("an invalid permit count dies with a message naming the operation and the value", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(1)
      const defect = (exit: Exit.Exit<unknown>) => {
        assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause), "expected a defect")
        const [die] = Cause.defects((exit as Exit.Failure<unknown, unknown>).cause)
        return (die as Error).message
      }
      const message = (operation: string, n: number) =>
        `Semaphore.${operation}: permits must be a non-negative integer, got ${n}`
      assert.strictEqual(defect(yield* Effect.exit(sem.take(-1))), message("take", -1))
      assert.strictEqual(defect(yield* Effect.exit(sem.release(1.5))), message("release", 1.5))
      assert.strictEqual(defect(yield* Effect.exit(sem.resize(NaN))), message("resize", NaN))
      assert.strictEqual(defect(yield* Effect.exit(sem.withPermits(-2)(Effect.void))), message("withPermits", -2))
      assert.strictEqual(
        defect(yield* Effect.exit(sem.withPermitsIfAvailable(Infinity)(Effect.void))),
        message("withPermitsIfAvailable", Infinity)
      )
    }))

  it.effect("releaseAll admits the queued waiters and succeeds with the permits still free after them", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(2)
      yield* sem.take(2)
      const waiter = yield* Effect.fork(sem.take(1))
      yield* until(() => sem.waiters === 1)
      assert.strictEqual(yield* sem.releaseAll, 1, "one of the two freed permits went to the waiter")
      assert.strictEqual(yield* Fiber.join(waiter), 1)
      assert.strictEqual(sem.unsafeAvailable(), 1)
    }))
})

describe("FifoSemaphore: the low-level interface", () => {
  it.effect("unsafeWaiting counts the queued waiters", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(0)
      assert.strictEqual(sem.unsafeWaiting(), 0)
      const first = new Waiter(1)
      sem.unsafeEnqueue(first)
      sem.unsafeEnqueue(new Waiter(1))
      assert.strictEqual(sem.unsafeWaiting(), 2)
      assert.isTrue(sem.unsafeRemove(first))
      assert.strictEqual(sem.unsafeWaiting(), 1)
    }))

  it.effect("unsafeRemove of a waiter no longer queued returns false and changes nothing", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(1)
      sem.unsafeTryTake(1)
      const granted = new Waiter(1)
      const behind = new Waiter(1)
      sem.unsafeEnqueue(granted)
      sem.unsafeEnqueue(behind)
      sem.unsafeRelease(1)
      assert.strictEqual(granted.state, GRANTED)
      assert.isFalse(sem.unsafeRemove(granted), "granted: not queued any more")
      assert.strictEqual(granted.state, GRANTED)
      assert.strictEqual(sem.waiters, 1, "the waiter behind it is still queued")
      assert.strictEqual(sem.waitingPermits, 1)
      assert.isTrue(sem.unsafeRemove(behind))
      assert.isFalse(sem.unsafeRemove(behind), "removed twice: the second time is a no-op")
      assert.strictEqual(sem.waiters, 0)
      assert.strictEqual(sem.waitingPermits, 0)
      assert.strictEqual(sem.unsafeAvailable(), 0, "the granted waiter still holds its permit")
    }))

  it.effect("a waiter settled before it awaits resumes at once with the first outcome", () =>
    Effect.gen(function*() {
      const waiter = new Waiter(1)
      waiter.settle(Exit.succeed("first"))
      waiter.settle(Exit.succeed("second"))
      assert.strictEqual(yield* waiter.await<string, never>(), "first")
      const failed = new Waiter(1)
      failed.settle(Exit.fail("rejected"))
      failed.settle(Exit.succeed("late grant"))
      assert.deepStrictEqual(yield* Effect.exit(failed.await<string, string>()), Exit.fail("rejected"))
    }))

  it.effect("a waiter settled while it awaits resumes with that outcome; later settles are ignored", () =>
    Effect.gen(function*() {
      const waiter = new Waiter(1)
      const fiber = yield* Effect.fork(waiter.await<string, never>())
      yield* Effect.yieldNow()
      waiter.settle(Exit.succeed("granted"))
      waiter.settle(Exit.succeed("again"))
      assert.strictEqual(yield* Fiber.join(fiber), "granted")
    }))
})

describe("FifoSemaphore: no thundering herd", () => {
  it.effect("each release wakes exactly one queued waiter, and each waiter is resumed exactly once", () =>
    Effect.gen(function*() {
      const n = 50
      const sem = new FifoSemaphore(1)
      sem.unsafeTryTake(1)
      const grants = new Map<number, number>()
      class Counting extends Waiter {
        constructor(readonly id: number) {
          super(1)
        }
        override onGrant() {
          grants.set(this.id, (grants.get(this.id) ?? 0) + 1)
        }
      }
      for (let i = 0; i < n; i++) sem.unsafeEnqueue(new Counting(i))
      for (let i = 0; i < n; i++) {
        const before = sem.wakeups
        sem.unsafeRelease(1)
        assert.strictEqual(sem.wakeups - before, 1, "one release, one wake-up")
        assert.deepStrictEqual([...grants.keys()].at(-1), i, "in FIFO order")
      }
      assert.strictEqual(grants.size, n)
      assert.isTrue([...grants.values()].every((count) => count === 1))
      assert.strictEqual(sem.waiters, 0)
    }))

  it.effect("queued fibers holding a TestClock sleep complete with one wake-up each", () =>
    Effect.gen(function*() {
      const sem = unsafeMake(3)
      const started = yield* Ref.make(0)
      const fiber = yield* Effect.forEach(
        Array.from({ length: 60 }),
        () => sem.withPermits(1)(Effect.zipRight(Ref.update(started, (k) => k + 1), Effect.sleep("1 millis"))),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.fork)
      yield* driveUntilDone(fiber)
      assert.strictEqual(yield* Ref.get(started), 60)
      assert.strictEqual(sem.wakeups, 57, "every caller beyond the first 3 was resumed once")
      assert.strictEqual(sem.unsafeAvailable(), 3)
    }))

  it.effect("100,000 queued callers through 100 permits complete, one resume each", () =>
    Effect.gen(function*() {
      // Each caller holds its permit across a yield, so that all 100,000 queue
      // behind the first 100. (Not across a TestClock sleep: TestClock's own
      // bookkeeping goes through a SynchronizedRef, i.e. Effect's herding
      // semaphore, and 100,000 sleeps would measure that instead.)
      const callers = 100_000
      const sem = unsafeMake(100)
      let running = 0
      let maxRunning = 0
      const work = Effect.suspend(() => {
        running++
        if (running > maxRunning) maxRunning = running
        return Effect.ensuring(Effect.yieldNow(), Effect.sync(() => running--))
      })
      const exit = yield* Effect.exit(Effect.forEach(
        Array.from({ length: callers }),
        () => sem.withPermits(1)(work),
        { concurrency: "unbounded", discard: true }
      ))
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(maxRunning, 100)
      assert.strictEqual(sem.wakeups, callers - 100, "one resume per queued caller")
      assert.strictEqual(sem.unsafeAvailable(), 100)
      assert.strictEqual(sem.waiters, 0)
    }))
})

type Outcome = "succeed" | "fail" | "die" | "interrupt"

const outcomeEffect = (outcome: Outcome): Effect.Effect<number, string> => {
  switch (outcome) {
    case "succeed":
      return Effect.succeed(1)
    case "fail":
      return Effect.fail("boom")
    case "die":
      return Effect.die("defect")
    case "interrupt":
      return Effect.interrupt
  }
}

/** Normalises an exit for comparison (fiber ids in interruption causes differ). */
const shape = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit)
    ? { _tag: "Success", value: exit.value }
    : {
      _tag: "Failure",
      failures: [...Cause.failures(exit.cause)],
      defects: [...Cause.defects(exit.cause)],
      interrupted: Cause.isInterrupted(exit.cause)
    }

describe("FifoSemaphore: fast path and general path behave the same", () => {
  it.effect.prop(
    "same exit and same permits whether the permit was free or had to be waited for, and the same as Effect's Semaphore",
    [fc.constantFrom<Outcome>("succeed", "fail", "die", "interrupt"), fc.integer({ min: 1, max: 3 })],
    ([outcome, permits]) =>
      Effect.gen(function*() {
        const fast = unsafeMake(permits)
        const fastExit = yield* Effect.fork(fast.withPermits(permits)(outcomeEffect(outcome))).pipe(Effect.flatMap(Fiber.await))

        const slow = unsafeMake(permits)
        yield* slow.take(permits)
        const slowFiber = yield* Effect.fork(slow.withPermits(permits)(outcomeEffect(outcome)))
        yield* until(() => slow.waiters === 1)
        yield* slow.release(permits)
        const slowExit = yield* Fiber.await(slowFiber)

        const effects = yield* Effect.makeSemaphore(permits)
        const effectExit = yield* Effect.fork(effects.withPermits(permits)(outcomeEffect(outcome))).pipe(
          Effect.flatMap(Fiber.await)
        )

        assert.deepStrictEqual(shape(fastExit), shape(slowExit))
        assert.deepStrictEqual(shape(fastExit), shape(effectExit))
        assert.strictEqual(fast.unsafeAvailable(), permits)
        assert.strictEqual(slow.unsafeAvailable(), permits)
        assert.strictEqual(slow.wakeups, 1)
        assert.strictEqual(fast.wakeups, 0)
      }),
    { fastCheck: { numRuns: numRuns(40) } }
  )
})
