import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  ConfigProvider,
  Config,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  FastCheck as fc,
  Fiber,
  Layer,
  Metric,
  MetricState,
  Option,
  Random,
  Ref,
  Scheduler,
  Scope,
  Stream,
  Supervisor,
  TestClock
} from "effect"
import { Bulkhead, Errors, Policy, Timeout } from "effect-resilience"
import { runWithClock } from "./utils/clock.js"
import { settle, until } from "./utils/fibers.js"
import { counterTotal } from "./utils/metrics.js"
import { numRuns } from "./utils/props.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
class Dep extends Context.Tag("test/Dep")<Dep, { readonly n: number }>() {}

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<A, E>).cause))
}

/** A call that holds its permit until `gate` opens. */
const held = (gate: Deferred.Deferred<void>) => Deferred.await(gate)

/** Takes a bulkhead's only permit with a call held until `gate` opens, once that call runs. */
const occupy = (bulkhead: Bulkhead.Bulkhead) =>
  Effect.gen(function*() {
    const gate = yield* Deferred.make<void>()
    const running = yield* Effect.fork(held(gate).pipe(bulkhead))
    yield* until(() => bulkhead.unsafeStats().active === 1)
    return { gate, running }
  })

/**
 * A call forked inside a 1 s timeout's region and queued under its deadline, the region then
 * ending at once: the ended timeout does not cut it, only its own maxWait (5 s) does.
 */
const outlivesItsTimeout = (bulkhead: Bulkhead.Bulkhead<any>) =>
  Effect.gen(function*() {
    const fork = yield* Effect.gen(function*() {
      const fiber = yield* Effect.forkDaemon(bulkhead(Effect.void))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      return fiber
    }).pipe(Timeout.make("1 second", { name: "ended" }))
    yield* TestClock.adjust("1 second")
    assert.isNull(fork.unsafePoll(), "the ended timeout does not cut it")
    yield* TestClock.adjust("3999 millis")
    assert.isNull(fork.unsafePoll())
    yield* TestClock.adjust("1 millis")
    yield* until(() => fork.unsafePoll() !== null, "maxWait ended the wait")
    assert.strictEqual((failureOf(yield* Fiber.await(fork)) as Errors.BulkheadFullError).reason, "MaxWaitExceeded")
  })

/** No polling fiber in tests that inspect `TestClock.sleeps()`. */
const quiet = { metricsInterval: Duration.infinity } as const

/** The value of a counter or gauge from the metric registry, by name and tags. */
const metricValue = (name: string, tags: Record<string, string>) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const wanted = Object.entries(tags).map(([k, v]) => `${k}=${v}`).sort().join(",")
    for (const pair of pairs) {
      if (pair.metricKey.name !== name) continue
      const got = pair.metricKey.tags.map((t) => `${t.key}=${t.value}`).sort().join(",")
      if (got !== wanted) continue
      if (MetricState.isCounterState(pair.metricState)) return Number(pair.metricState.count)
      if (MetricState.isGaugeState(pair.metricState)) return Number(pair.metricState.value)
    }
    return undefined
  })

let metricNames = 0
const uniqueName = (prefix: string) => `${prefix}-${++metricNames}`

describe("Bulkhead types", () => {
  it.scoped("adds exactly BulkheadFullError to the error channel and nothing to the requirements", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, ...quiet })
      const call: Effect.Effect<number, Unavailable, Dep> = Effect.map(Dep, (dep) => dep.n)
      expectTypeOf(call.pipe(bulkhead)).toEqualTypeOf<Effect.Effect<number, Unavailable | Errors.BulkheadFullError, Dep>>()
      expectTypeOf(bulkhead(call)).toEqualTypeOf<Effect.Effect<number, Unavailable | Errors.BulkheadFullError, Dep>>()
      // a keyed call may also refuse its key
      expectTypeOf(bulkhead.execute(call, { key: "a" })).toEqualTypeOf<
        Effect.Effect<number, Unavailable | Errors.BulkheadFullError | Errors.InvalidKeyError, Dep>
      >()
      expectTypeOf(bulkhead.execute(call)).toEqualTypeOf<Effect.Effect<number, Unavailable | Errors.BulkheadFullError, Dep>>()
      expectTypeOf<Policy.Policy.Error<Bulkhead.Bulkhead>>().toEqualTypeOf<Errors.BulkheadFullError>()
      expectTypeOf<Policy.Policy.Context<Bulkhead.Bulkhead>>().toEqualTypeOf<never>()
      // make is generic in its options (onStoreError decides the store error): without "fail", exactly Bulkhead
      expectTypeOf(Bulkhead.make({ maxConcurrent: 1 })).toEqualTypeOf<
        Effect.Effect<Bulkhead.Bulkhead, Errors.InvalidOptionsError, Scope.Scope>
      >()
      expectTypeOf(Bulkhead.make({ maxConcurrent: 1, maxQueue: 2, maxWait: "1 second", name: "n", onStoreError: "allow" })).toEqualTypeOf<
        Effect.Effect<Bulkhead.Bulkhead, Errors.InvalidOptionsError, Scope.Scope>
      >()
      // data-last execute
      expectTypeOf(call.pipe(bulkhead.execute({ key: "a" }))).toEqualTypeOf<
        Effect.Effect<number, Unavailable | Errors.BulkheadFullError | Errors.InvalidKeyError, Dep>
      >()
      assert.strictEqual(Bulkhead.BulkheadFullError, Errors.BulkheadFullError, "re-exported")
      const result = yield* call.pipe(bulkhead, Effect.provideService(Dep, { n: 7 }))
      assert.strictEqual(result, 7)
    }))
})

describe("Bulkhead.make", () => {
  it.scoped("runs at most maxConcurrent calls at once and queues the rest in FIFO order", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 10, ...quiet })
      const starts = yield* Ref.make<ReadonlyArray<readonly [id: number, at: number]>>([])
      const call = (id: number) =>
        Effect.gen(function*() {
          const now = yield* TestClock.currentTimeMillis
          yield* Ref.update(starts, (xs) => [...xs, [id, now] as const])
          yield* Effect.sleep("100 millis")
          return id
        }).pipe(bulkhead)
      const fibers: Array<Fiber.RuntimeFiber<number, Errors.BulkheadFullError>> = []
      for (let id = 0; id < 5; id++) {
        fibers.push(yield* Effect.fork(call(id)))
        yield* until(() => bulkhead.unsafeStats().active + bulkhead.unsafeStats().queued === id + 1)
      }
      assert.deepStrictEqual(bulkhead.unsafeStats(), { active: 2, queued: 3, maxConcurrent: 2, maxQueue: 10 })
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(yield* Fiber.joinAll(fibers), [0, 1, 2, 3, 4])
      assert.deepStrictEqual(yield* Ref.get(starts), [[0, 0], [1, 0], [2, 100], [3, 100], [4, 200]])
      assert.deepStrictEqual(bulkhead.unsafeStats(), { active: 0, queued: 0, maxConcurrent: 2, maxQueue: 10 })
    }))

  it.scoped("rejects at once with BulkheadFullError (QueueFull) when the queue is full", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, name: "db", ...quiet })
      const { gate, running } = yield* occupy(bulkhead)
      const queued = yield* Effect.fork(held(gate).pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      const ran = yield* Ref.make(false)
      const exit = yield* Effect.exit(Ref.set(ran, true).pipe(bulkhead))
      const error = failureOf(exit)
      assert.instanceOf(error, Errors.BulkheadFullError)
      assert.strictEqual(error._tag, "BulkheadFullError")
      assert.strictEqual(error.reason, "QueueFull")
      assert.strictEqual(error.name, "db")
      assert.strictEqual(error.maxConcurrent, 1)
      assert.strictEqual(error.maxQueue, 1)
      assert.strictEqual(error.key, undefined)
      assert.strictEqual(error.message, "Bulkhead db is full: 1 running, queue of 1 full")
      assert.isTrue(Errors.isRejection(error))
      assert.isFalse(yield* Ref.get(ran), "a rejected call never runs")
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      yield* Fiber.join(queued)
      assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 0, queued: 0, partitions: 0 })
    }))

  it.scoped("has no queue by default: the call beyond maxConcurrent is rejected", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, ...quiet })
      const { gate, running } = yield* occupy(bulkhead)
      const error = failureOf(yield* Effect.exit(Effect.void.pipe(bulkhead)))
      assert.strictEqual(error.reason, "QueueFull")
      assert.strictEqual(error.maxQueue, 0)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      assert.strictEqual(yield* Effect.succeed("next").pipe(bulkhead), "next")
    }))

  it.scoped("a queued call waits at most maxWait, then fails with MaxWaitExceeded and leaves the queue", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 5, maxWait: "1 second", ...quiet })
      const { gate, running } = yield* occupy(bulkhead)
      const waiting = yield* Effect.fork(Effect.succeed("late").pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
      yield* TestClock.adjust("1 millis")
      const error = failureOf(yield* Fiber.await(waiting))
      assert.strictEqual(error.reason, "MaxWaitExceeded")
      assert.isTrue(Duration.equals(error.maxWait!, Duration.seconds(1)))
      assert.strictEqual(error.message, "Bulkhead bulkhead is full: waited longer than 1s for one of 1 permits")
      assert.strictEqual(bulkhead.unsafeStats().queued, 0)
      assert.strictEqual(bulkhead.unsafeStats().active, 1, "the running call is unaffected")
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
    }))

  it.scoped("one timer serves all queued callers: each expires maxWait after it queued", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 10, maxWait: "500 millis", ...quiet })
      const { gate } = yield* occupy(bulkhead)
      const rejectedAt = yield* Ref.make<ReadonlyArray<number>>([])
      const waiter = Effect.void.pipe(
        bulkhead,
        Effect.catchTag("BulkheadFullError", () =>
          Effect.flatMap(TestClock.currentTimeMillis, (now) => Ref.update(rejectedAt, (xs) => [...xs, now])))
      )
      const fibers: Array<Fiber.RuntimeFiber<void>> = []
      for (let i = 0; i < 3; i++) {
        fibers.push(yield* Effect.fork(waiter))
        yield* until(() => bulkhead.unsafeStats().queued === i + 1)
        yield* TestClock.adjust("100 millis")
      }
      // at most one bulkhead timer is pending, however many wait
      assert.strictEqual(Chunk.size(yield* TestClock.sleeps()), 1)
      yield* TestClock.adjust("1 second")
      yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(yield* Ref.get(rejectedAt), [500, 600, 700])
      assert.strictEqual(Chunk.size(yield* TestClock.sleeps()), 0, "the timer idles without a sleep")
      yield* Deferred.succeed(gate, void 0)
    }))

  it.scoped("a queued caller admitted before maxWait is not rejected later", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", ...quiet })
      const { gate, running } = yield* occupy(bulkhead)
      const waiting = yield* Effect.fork(Effect.sleep("5 seconds").pipe(Effect.as("done"), bulkhead))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("400 millis")
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Fiber.join(waiting), "done")
    }))

  it.scoped("permits are released on success, failure, defect and interruption of a running call", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, ...quiet })
      assert.strictEqual(yield* Effect.succeed(1).pipe(bulkhead), 1)
      assert.deepStrictEqual(yield* Effect.exit(Effect.fail(new Unavailable()).pipe(bulkhead)), Exit.fail(new Unavailable()))
      const died = yield* Effect.exit(Effect.die("boom").pipe(bulkhead))
      assert.isTrue(Exit.isFailure(died) && Cause.isDie(died.cause))
      const running = yield* Effect.fork(Effect.never.pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().active === 1)
      yield* Fiber.interrupt(running)
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
      const self = yield* Effect.exit(Effect.interrupt.pipe(bulkhead))
      assert.isTrue(Exit.isInterrupted(self))
      assert.deepStrictEqual(bulkhead.unsafeStats(), { active: 0, queued: 0, maxConcurrent: 1, maxQueue: 0 })
    }))

  it.scoped("an interrupted waiter leaves the queue and the others keep their order", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 3, ...quiet })
      const gate = yield* Deferred.make<void>()
      const order = yield* Ref.make<ReadonlyArray<number>>([])
      const running = yield* Effect.fork(held(gate).pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().active === 1)
      const fibers: Array<Fiber.RuntimeFiber<void, Errors.BulkheadFullError>> = []
      for (let i = 0; i < 3; i++) {
        fibers.push(yield* Effect.fork(Ref.update(order, (xs) => [...xs, i]).pipe(bulkhead)))
        yield* until(() => bulkhead.unsafeStats().queued === i + 1)
      }
      yield* Fiber.interrupt(fibers[0]!)
      assert.strictEqual(bulkhead.unsafeStats().queued, 2)
      // the freed queue slot is usable again
      fibers.push(yield* Effect.fork(Ref.update(order, (xs) => [...xs, 3]).pipe(bulkhead)))
      yield* until(() => bulkhead.unsafeStats().queued === 3)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      for (const fiber of fibers.slice(1)) yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* Ref.get(order), [1, 2, 3])
      assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 0, queued: 0, partitions: 0 })
    }))

  it.scoped("stats and totals report active and queued calls", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 2, ...quiet })
      const gate = yield* Deferred.make<void>()
      const fibers = []
      for (let i = 0; i < 3; i++) fibers.push(yield* Effect.fork(held(gate).pipe(bulkhead)))
      for (let i = 0; i < 2; i++) fibers.push(yield* Effect.fork(bulkhead.execute(held(gate), { key: "k" })))
      yield* until(() => bulkhead.unsafeTotals().active === 4 && bulkhead.unsafeTotals().queued === 1)
      assert.deepStrictEqual(bulkhead.unsafeStats(), { active: 2, queued: 1, maxConcurrent: 2, maxQueue: 2 })
      assert.deepStrictEqual(bulkhead.unsafeStats("k"), { active: 2, queued: 0, maxConcurrent: 2, maxQueue: 2 })
      assert.deepStrictEqual(bulkhead.unsafeStats("unknown"), { active: 0, queued: 0, maxConcurrent: 2, maxQueue: 2 })
      assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 4, queued: 1, partitions: 1 })
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 0, queued: 0, partitions: 0 })
    }))

  it.scoped("resize: growing admits queued calls at once, shrinking lets running calls finish", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 10, ...quiet })
      const gate = yield* Deferred.make<void>()
      const fibers = []
      for (let i = 0; i < 3; i++) fibers.push(yield* Effect.fork(held(gate).pipe(bulkhead)))
      yield* until(() => bulkhead.unsafeStats().queued === 2)
      yield* bulkhead.resize(3)
      yield* until(() => bulkhead.unsafeStats().active === 3)
      assert.strictEqual(bulkhead.unsafeStats().queued, 0)
      assert.strictEqual(bulkhead.unsafeStats().maxConcurrent, 3)
      yield* bulkhead.resize(1)
      assert.strictEqual(bulkhead.unsafeStats().active, 3, "running calls are not interrupted")
      const next = yield* Effect.fork(Effect.succeed("next").pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.joinAll(fibers)
      assert.strictEqual(yield* Fiber.join(next), "next")
      // new partitions use the new limit too
      const keyed = yield* Effect.fork(bulkhead.execute(Effect.never, { key: "k" }))
      yield* until(() => bulkhead.unsafeStats("k").active === 1)
      const keyedSecond = yield* Effect.fork(bulkhead.execute(Effect.void, { key: "k" }))
      yield* until(() => bulkhead.unsafeStats("k").queued === 1)
      assert.strictEqual(bulkhead.unsafeStats("k").active, 1)
      yield* Fiber.interrupt(keyed)
      yield* Fiber.join(keyedSecond)
      const invalid = failureOf(yield* Effect.exit(bulkhead.resize(0)))
      assert.instanceOf(invalid, Errors.InvalidOptionsError)
      assert.strictEqual(invalid.option, "maxConcurrent")
    }))

  it.scoped("keyed partitions have their own permits and queue, and are dropped when idle", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, name: "hosts", ...quiet })
      const gate = yield* Deferred.make<void>()
      const a = yield* Effect.fork(bulkhead.execute(held(gate), { key: "a.example" }))
      const aQueued = yield* Effect.fork(bulkhead.execute(held(gate), { key: "a.example" }))
      yield* until(() => bulkhead.unsafeStats("a.example").queued === 1)
      const rejected = failureOf(yield* Effect.exit(bulkhead.execute(Effect.void, { key: "a.example" }))) as Errors.BulkheadFullError
      assert.strictEqual(rejected.key, "a.example")
      assert.strictEqual(rejected.message, "Bulkhead hosts[a.example] is full: 1 running, queue of 1 full")
      // another key and the default partition are unaffected
      assert.strictEqual(yield* bulkhead.execute(Effect.succeed("b"), { key: "b.example" }), "b")
      assert.strictEqual(yield* Effect.succeed("default").pipe(bulkhead), "default")
      assert.strictEqual(yield* bulkhead.execute(Effect.succeed("default")), "default")
      assert.strictEqual(bulkhead.unsafeTotals().partitions, 1, "b.example was dropped once idle")
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(a)
      yield* Fiber.join(aQueued)
      assert.strictEqual(bulkhead.unsafeTotals().partitions, 0)
    }))

  it.scoped("memory stays bounded: 10,000 keys used one after another leave no partitions behind", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 2, maxWait: "1 second", ...quiet })
      for (let i = 0; i < 10_000; i++) yield* bulkhead.execute(Effect.void, { key: `k${i}` })
      // failures, interruptions and expiries drop partitions too
      yield* Effect.exit(bulkhead.execute(Effect.fail("e"), { key: "failing" }))
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(bulkhead.execute(held(gate), { key: "x" }))
      const holder2 = yield* Effect.fork(bulkhead.execute(held(gate), { key: "x" }))
      const waiter = yield* Effect.fork(bulkhead.execute(Effect.void, { key: "x" }))
      yield* until(() => bulkhead.unsafeStats("x").queued === 1)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(failureOf(yield* Fiber.await(waiter)).reason, "MaxWaitExceeded")
      yield* Fiber.interrupt(holder)
      yield* Fiber.interrupt(holder2)
      assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 0, queued: 0, partitions: 0 })
    }))

  it.scoped("the callable and execute share the default partition", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, ...quiet })
      const running = yield* Effect.fork(Effect.never.pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().active === 1)
      assert.strictEqual(failureOf(yield* Effect.exit(bulkhead.execute(Effect.void))).reason, "QueueFull")
      yield* Fiber.interrupt(running)
    }))
})

describe("Bulkhead and the enclosing deadline", () => {
  it.scoped("a queued call never waits past an enclosing timeout: the timeout fires and the caller leaves the queue", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 5, maxWait: "5 seconds", ...quiet })
      const { gate, running } = yield* occupy(bulkhead)
      const ran = yield* Ref.make(false)
      const call = Ref.set(ran, true).pipe(bulkhead, Timeout.make("1 second", { name: "overall", scope: "overall" }))
      const fiber = yield* Effect.fork(call)
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      // only the timeout's timer: the bulkhead armed none, since the deadline comes first
      assert.strictEqual(Chunk.size(yield* TestClock.sleeps()), 1)
      yield* TestClock.adjust("1 second")
      const error = failureOf(yield* Fiber.await(fiber))
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual((error as Errors.TimeoutError).policy, "overall")
      assert.strictEqual(bulkhead.unsafeStats().queued, 0)
      assert.isFalse(yield* Ref.get(ran))
      assert.strictEqual(Chunk.size(yield* TestClock.sleeps()), 0)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
    }))

  it.scoped("maxWait shorter than the deadline still rejects with MaxWaitExceeded", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 5, maxWait: "300 millis", ...quiet })
      const { gate } = yield* occupy(bulkhead)
      const rejectedAt = yield* Ref.make<number | undefined>(undefined)
      const call = Effect.void.pipe(
        bulkhead,
        Effect.tapError(() => Effect.flatMap(TestClock.currentTimeMillis, (now) => Ref.set(rejectedAt, now))),
        Timeout.make("1 second", { scope: "overall" })
      )
      const fiber = yield* Effect.fork(call)
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("299 millis")
      assert.strictEqual(yield* Ref.get(rejectedAt), undefined)
      yield* TestClock.adjust("1 millis")
      yield* until(() => bulkhead.unsafeStats().queued === 0)
      yield* TestClock.adjust("1 second")
      const error = failureOf(yield* Fiber.await(fiber))
      assert.strictEqual(error._tag, "BulkheadFullError")
      assert.strictEqual((error as Errors.BulkheadFullError).reason, "MaxWaitExceeded")
      assert.strictEqual(yield* Ref.get(rejectedAt), 300)
      yield* Deferred.succeed(gate, void 0)
    }))

  it.scoped("without maxWait, the pipeline's overall timeout bounds the wait", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: Infinity, ...quiet })
      const { gate } = yield* occupy(bulkhead)
      const policy = Policy.pipeline({ timeout: "2 seconds", bulkhead })
      const exit = yield* runWithClock(Effect.void.pipe(policy))
      assert.strictEqual(failureOf(exit)._tag, "TimeoutError")
      assert.strictEqual(yield* TestClock.currentTimeMillis, 2000)
      assert.strictEqual(bulkhead.unsafeStats().queued, 0)
      yield* Deferred.succeed(gate, void 0)
    }))
})

describe("Bulkhead observability", () => {
  it.scoped("events: Permitted, Queued and Rejected with the reason", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", name: "ev", ...quiet })
      const collected = yield* bulkhead.events.pipe(Stream.take(5), Stream.runCollect, Effect.fork)
      yield* Effect.yieldNow()
      const { gate, running } = yield* occupy(bulkhead)
      const waiting = yield* Effect.fork(Effect.void.pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* Effect.exit(Effect.void.pipe(bulkhead)) // QueueFull
      yield* TestClock.adjust("250 millis")
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      yield* Fiber.join(waiting)
      const expiring = yield* Effect.fork(bulkhead.execute(Effect.never, { key: "k" }))
      yield* until(() => bulkhead.unsafeStats("k").active === 1)
      const events = Chunk.toReadonlyArray(yield* Fiber.join(collected))
      assert.deepStrictEqual(events.map((e) => e._tag), ["Permitted", "Queued", "Rejected", "Permitted", "Permitted"])
      // in-process permits: nothing about leases
      assert.notProperty(events[0], "leased")
      const queued = events[1]!
      assert.isTrue(queued._tag === "Queued" && queued.queued === 1 && queued.active === 1 && queued.policy === "ev")
      const rejected = events[2]!
      assert.isTrue(rejected._tag === "Rejected" && rejected.reason === "QueueFull" && rejected.error.reason === "QueueFull")
      const admitted = events[3]!
      assert.isTrue(admitted._tag === "Permitted" && Duration.toMillis(admitted.waited) === 250)
      const keyed = events[4]!
      assert.isTrue(keyed._tag === "Permitted" && keyed.key === "k" && Duration.toMillis(keyed.waited) === 0)
      yield* Fiber.interrupt(expiring)
    }))

  it.scoped("metrics: rejections are counted by reason, active and queued are published as gauges", () =>
    Effect.gen(function*() {
      const name = uniqueName("metrics")
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "5 seconds", name })
      const gate = yield* Deferred.make<void>()
      const running = yield* Effect.fork(held(gate).pipe(bulkhead))
      const waiting = yield* Effect.fork(held(gate).pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* Effect.exit(Effect.void.pipe(bulkhead))
      yield* Effect.exit(Effect.void.pipe(bulkhead))
      const rejections = (reason: string) => metricValue("resilience_bulkhead_rejections", { policy: name, reason })
      assert.strictEqual(yield* rejections("QueueFull"), 2)
      const gauge = (metric: string) => metricValue(metric, { policy: name })
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* gauge("resilience_bulkhead_active"), 1)
      assert.strictEqual(yield* gauge("resilience_bulkhead_queued"), 1)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      yield* Fiber.join(waiting)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* gauge("resilience_bulkhead_active"), 0)
      assert.strictEqual(yield* gauge("resilience_bulkhead_queued"), 0)
      assert.strictEqual(yield* rejections("MaxWaitExceeded"), undefined, "no call waited too long")
    }))

  it.scoped("is described as a Bulkhead policy with its options", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 3, maxQueue: 7, maxWait: "2 seconds", name: "d", ...quiet })
      assert.isTrue(Policy.isPolicy(bulkhead))
      assert.deepStrictEqual(Policy.describe(bulkhead), {
        kind: "Bulkhead",
        name: "d",
        options: { maxConcurrent: 3, maxQueue: 7, maxWait: "2s" },
        children: []
      })
      assert.strictEqual(bulkhead.policyName, "d")
    }))
})

describe("Bulkhead details", () => {
  it.scoped("a rejection carries the key and maxWait only when they apply", () =>
    Effect.gen(function*() {
      const plain = yield* Bulkhead.make({ maxConcurrent: 1, ...quiet })
      const running = yield* Effect.fork(Effect.never.pipe(plain))
      yield* until(() => plain.unsafeStats().active === 1)
      const error = failureOf(yield* Effect.exit(Effect.void.pipe(plain)))
      assert.notProperty(error, "key", "the default partition has no key")
      assert.notProperty(error, "maxWait", "no maxWait was configured")
      assert.deepStrictEqual(
        { ...error },
        { ...Errors.BulkheadFullError.make({ name: "bulkhead", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" }) }
      )
      yield* Fiber.interrupt(running)
      const timed = yield* Bulkhead.make({ maxConcurrent: 1, maxWait: "3 seconds", ...quiet })
      const keyed = yield* Effect.fork(timed.execute(Effect.never, { key: "k" }))
      yield* until(() => timed.unsafeStats("k").active === 1)
      const keyedError = failureOf(yield* Effect.exit(timed.execute(Effect.void, { key: "k" }))) as Errors.BulkheadFullError
      assert.strictEqual(keyedError.key, "k")
      assert.isTrue(Duration.equals(keyedError.maxWait!, Duration.seconds(3)))
      yield* Fiber.interrupt(keyed)
    }))

  it.scoped("maxWait: Duration.infinity is no limit: not described, not on errors, no timer fiber", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxWait: Duration.infinity, name: "inf", ...quiet })
      assert.deepStrictEqual(Policy.describe(bulkhead).options, { maxConcurrent: 1, maxQueue: 0 })
      const running = yield* Effect.fork(Effect.never.pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().active === 1)
      const error = failureOf(yield* Effect.exit(Effect.void.pipe(bulkhead)))
      assert.notProperty(error, "maxWait")
      yield* Fiber.interrupt(running)
    }))

  it.scoped("make forks a timer fiber only for a finite maxWait (and none when the gauges are off)", () =>
    Effect.gen(function*() {
      const fibersForkedBy = (options: Bulkhead.Bulkhead.Options) =>
        Effect.gen(function*() {
          const supervisor = yield* Supervisor.track
          yield* Bulkhead.make(options).pipe(Effect.supervised(supervisor))
          return (yield* supervisor.value).length
        })
      assert.strictEqual(yield* fibersForkedBy({ maxConcurrent: 1, maxQueue: 1, ...quiet }), 0)
      assert.strictEqual(yield* fibersForkedBy({ maxConcurrent: 1, maxQueue: 1, maxWait: Duration.infinity, ...quiet }), 0)
      assert.strictEqual(yield* fibersForkedBy({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", ...quiet }), 1)
      // with a shared store, maxWait bounds each caller's own wait: no timer fiber
      assert.strictEqual(yield* fibersForkedBy({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", ...quiet }).pipe(onStore(fakeStore())), 0)
    }))

  it.scoped("totals add the queued callers of every keyed partition", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 2, ...quiet })
      const gate = yield* Deferred.make<void>()
      const fibers = []
      for (let i = 0; i < 2; i++) fibers.push(yield* Effect.fork(held(gate).pipe(bulkhead)))
      for (let i = 0; i < 3; i++) fibers.push(yield* Effect.fork(bulkhead.execute(held(gate), { key: "a" })))
      for (let i = 0; i < 2; i++) fibers.push(yield* Effect.fork(bulkhead.execute(held(gate), { key: "b" })))
      yield* until(() => bulkhead.unsafeTotals().active === 3 && bulkhead.unsafeTotals().queued === 4)
      assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 3, queued: 4, partitions: 2 })
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 0, queued: 0, partitions: 0 })
    }))

  it.scoped("a waiter that left the queue no longer wakes the timer; the waiters around it expire on time", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 5, maxWait: "1 second", ...quiet })
      const { gate } = yield* occupy(bulkhead)
      const rejectedAt = yield* Ref.make<ReadonlyArray<readonly [string, number]>>([])
      const waiter = (id: string) =>
        Effect.void.pipe(
          bulkhead,
          Effect.catchTag("BulkheadFullError", () =>
            Effect.flatMap(TestClock.currentTimeMillis, (now) => Ref.update(rejectedAt, (xs) => [...xs, [id, now] as const])))
        )
      const a = yield* Effect.fork(waiter("a"))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("100 millis")
      const b = yield* Effect.fork(waiter("b"))
      yield* until(() => bulkhead.unsafeStats().queued === 2)
      yield* TestClock.adjust("100 millis")
      const c = yield* Effect.fork(waiter("c"))
      yield* until(() => bulkhead.unsafeStats().queued === 3)
      yield* Fiber.interrupt(b)
      assert.strictEqual(bulkhead.unsafeStats().queued, 2)
      yield* TestClock.adjust("800 millis")
      yield* Fiber.join(a)
      // the timer now sleeps until c expires, not until the interrupted b would have
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* TestClock.sleeps()), [1200])
      yield* TestClock.adjust("200 millis")
      yield* Fiber.join(c)
      assert.deepStrictEqual(yield* Ref.get(rejectedAt), [["a", 1000], ["c", 1200]])
      assert.strictEqual(bulkhead.unsafeStats().queued, 0)
      yield* Deferred.succeed(gate, void 0)
    }))

  it.scoped("a caller admitted before the timer fiber saw it leaves no maxWait timer armed", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", ...quiet })
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(held(gate).pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().active === 1)
      // the caller queues (waking the idle timer fiber), and the holder, resumed
      // just after it, frees the permit before the timer fiber runs
      const caller = yield* Effect.fork(Effect.succeed("ran").pipe(bulkhead))
      yield* Deferred.succeed(gate, void 0)
      assert.strictEqual(yield* Fiber.join(caller), "ran")
      yield* Fiber.join(holder)
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      assert.strictEqual(Chunk.size(yield* TestClock.sleeps()), 0, "no timer for a caller no longer queued")
    }))

  it.scoped("a caller whose maxWait ran out has left the queue by the time its fiber resumes", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", ...quiet })
      const { gate } = yield* occupy(bulkhead)
      const queuedOnResume: Array<number> = []
      class OnResume extends Supervisor.AbstractSupervisor<void> {
        value = Effect.void
        override onResume() {
          queuedOnResume.push(bulkhead.unsafeStats().queued)
        }
      }
      const waiting = yield* Effect.fork(Effect.void.pipe(bulkhead, Effect.supervised(new OnResume())))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(failureOf(yield* Fiber.await(waiting)).reason, "MaxWaitExceeded")
      // the resume that delivers the rejection
      assert.deepStrictEqual(queuedOnResume, [0], "out of the queue as soon as it was rejected")
      yield* Deferred.succeed(gate, void 0)
    }))

  it.scoped("an expired caller does not drop the partition re-created for its key before its fiber resumed", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", ...quiet })
      // the holder and the newcomer run on a scheduler the test flushes by hand,
      // so that both run between the expiry and the expired caller's resumption
      const manual = new Scheduler.SyncScheduler()
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(bulkhead.execute(held(gate), { key: "k" }).pipe(Effect.withScheduler(manual)))
      yield* until(() => bulkhead.unsafeStats("k").active === 1)
      const newcomer = yield* Effect.fork(
        held(gate).pipe(Effect.zipRight(bulkhead.execute(Effect.never, { key: "k" })), Effect.withScheduler(manual))
      )
      yield* Effect.yieldNow()
      let resumed = false
      class OnResume extends Supervisor.AbstractSupervisor<void> {
        value = Effect.void
        override onResume() {
          if (resumed) return
          resumed = true
          // the holder finishes (its partition, now idle, is dropped) and the
          // newcomer starts a new partition for the same key
          Deferred.unsafeDone(gate, Exit.void)
          manual.flush()
        }
      }
      const waiting = yield* Effect.fork(bulkhead.execute(Effect.void, { key: "k" }).pipe(Effect.supervised(new OnResume())))
      yield* until(() => bulkhead.unsafeStats("k").queued === 1)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(failureOf(yield* Fiber.await(waiting)).reason, "MaxWaitExceeded")
      assert.isTrue(resumed)
      yield* Fiber.join(holder)
      assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 1, queued: 0, partitions: 1 }, "the newcomer's partition is kept")
      assert.deepStrictEqual(bulkhead.unsafeStats("k"), { active: 1, queued: 0, maxConcurrent: 1, maxQueue: 1 })
      yield* Fiber.interrupt(newcomer)
      assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 0, queued: 0, partitions: 0 })
    }))

  it.scoped("issue 15: a later waiter whose deadline comes before the earlier waiters' maxWait expires at its deadline (a new head wakes the timer)", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 5, maxWait: "10 seconds", ...quiet })
      const { gate } = yield* occupy(bulkhead)
      const early = yield* Effect.fork(Effect.void.pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("100 millis")
      const late = yield* Effect.fork(Effect.void.pipe(bulkhead, Effect.uninterruptible, Timeout.make("1 second", { name: "late" })))
      yield* until(() => bulkhead.unsafeStats().queued === 2)
      yield* TestClock.adjust("999 millis")
      assert.isNull(late.unsafePoll())
      yield* TestClock.adjust("1 millis")
      const error = failureOf(yield* Fiber.await(late))
      assert.strictEqual((error as Errors.TimeoutError).policy, "late")
      assert.isNull(early.unsafePoll(), "the earlier waiter still waits for its maxWait")
      assert.strictEqual(bulkhead.unsafeStats().queued, 1)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(early)
    }))

  it.scoped("maxWait ending exactly at the enclosing deadline: the call fails with the deadline's TimeoutError, not a rejection", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 5, maxWait: "1 second", ...quiet })
      const { gate } = yield* occupy(bulkhead)
      yield* TestClock.adjust("50 millis")
      const fiber = yield* Effect.fork(
        Effect.void.pipe(bulkhead, Timeout.make("1 second", { name: "overall", scope: "overall" }))
      )
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("1 second")
      const error = failureOf(yield* Fiber.await(fiber))
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual((error as Errors.TimeoutError).policy, "overall")
      assert.strictEqual(bulkhead.unsafeStats().queued, 0)
      yield* Deferred.succeed(gate, void 0)
    }))

  it.scoped("Permitted reports how long the caller waited since it queued", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, ...quiet })
      const collected = yield* bulkhead.events.pipe(
        Stream.filter((e) => e._tag === "Permitted"),
        Stream.take(2),
        Stream.runCollect,
        Effect.fork
      )
      yield* Effect.yieldNow()
      yield* TestClock.adjust("100 millis")
      const { gate, running } = yield* occupy(bulkhead)
      const waiting = yield* Effect.fork(Effect.void.pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("250 millis")
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      yield* Fiber.join(waiting)
      const waited = Chunk.toReadonlyArray(yield* Fiber.join(collected)).map((e) =>
        e._tag === "Permitted" ? Duration.toMillis(e.waited) : -1
      )
      assert.deepStrictEqual(waited, [0, 250])
    }))

  it.scoped("metrics: a maxWait expiry is counted under reason MaxWaitExceeded, not QueueFull", () =>
    Effect.gen(function*() {
      const name = uniqueName("expiry")
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", name, ...quiet })
      const { gate } = yield* occupy(bulkhead)
      const waiting = yield* Effect.fork(Effect.void.pipe(bulkhead))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(failureOf(yield* Fiber.await(waiting)).reason, "MaxWaitExceeded")
      const rejections = (reason: string) => metricValue("resilience_bulkhead_rejections", { policy: name, reason })
      assert.strictEqual(yield* rejections("MaxWaitExceeded"), 1)
      assert.strictEqual(yield* rejections("QueueFull"), undefined)
      yield* Deferred.succeed(gate, void 0)
    }))
})

// Effect preempts a fiber after 2048 operations (the scheduler's op budget), so
// a caller can be suspended between any two steps of the bulkhead, e.g. between
// finding no free permit and joining the queue (where it reads the enclosing
// deadline). A caller that first runs `busy(n)` reaches the bulkhead with n
// operations of its budget spent; scanning n moves the preemption point across
// the bulkhead's steps.
const busy = (n: number): Effect.Effect<void> => {
  let effect: Effect.Effect<void> = Effect.void
  for (let i = 0; i < n; i++) effect = Effect.zipRight(Effect.void, effect)
  return effect
}
const preemptionPoints = Array.from({ length: 40 }, (_, i) => 1000 + i).flatMap((n) => [
  { n, call: <A, E>(effect: Effect.Effect<A, E>) => Effect.zipRight(busy(n), effect) },
  { n, call: <A, E>(effect: Effect.Effect<A, E>) => Effect.zipRight(busy(n), Effect.suspend(() => effect)) }
])

describe("Bulkhead under preemption", () => {
  it.scoped("two callers racing for the last queue slot: one queues, the other is rejected with QueueFull", () =>
    Effect.gen(function*() {
      for (const { call, n } of preemptionPoints) {
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", ...quiet })
        const gate = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(held(gate).pipe(bulkhead))
        yield* until(() => bulkhead.unsafeStats().active === 1)
        const first = yield* Effect.fork(call(Effect.succeed("first").pipe(bulkhead)))
        const second = yield* Effect.fork(Effect.succeed("second").pipe(bulkhead))
        let rejected: Exit.Exit<string, Errors.BulkheadFullError> | undefined
        yield* until(() => {
          rejected = [first, second].map((fiber) => fiber.unsafePoll()).find((exit) => exit !== null)
          return rejected !== undefined
        }, `one caller done (n=${n})`)
        assert.strictEqual(failureOf(rejected!).reason, "QueueFull", `n=${n}`)
        yield* until(() => bulkhead.unsafeStats().queued > 0, `the other queued (n=${n})`)
        assert.deepStrictEqual(bulkhead.unsafeStats(), { active: 1, queued: 1, maxConcurrent: 1, maxQueue: 1 }, `n=${n}`)
        yield* Deferred.succeed(gate, void 0)
        yield* Fiber.join(holder)
        const exits = [yield* Fiber.await(first), yield* Fiber.await(second)]
        assert.deepStrictEqual(exits.filter(Exit.isSuccess).length, 1, `the queued caller ran (n=${n})`)
      }
    }))

  it.scoped("a caller preempted before it queues takes the permit freed meanwhile instead of waiting", () =>
    Effect.gen(function*() {
      for (const { call, n } of preemptionPoints) {
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", ...quiet })
        const gate = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(held(gate).pipe(bulkhead))
        yield* until(() => bulkhead.unsafeStats().active === 1)
        const caller = yield* Effect.fork(call(Effect.succeed("ran").pipe(bulkhead)))
        yield* Deferred.succeed(gate, void 0)
        yield* Fiber.join(holder)
        // no clock advance: the caller must not sit in the queue next to a free permit
        yield* until(() => bulkhead.unsafeStats().queued === 0 && bulkhead.unsafeStats().active === 0, `caller admitted (n=${n})`)
        assert.strictEqual(yield* Fiber.join(caller), "ran")
      }
    }))
})

describe("Bulkhead options and layers", () => {
  it.effect("invalid options fail with InvalidOptionsError naming the option and the range", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Bulkhead.Bulkhead.Options, string]> = [
        [{ maxConcurrent: 0 }, "maxConcurrent"],
        [{ maxConcurrent: 1.5 }, "maxConcurrent"],
        [{ maxConcurrent: Infinity }, "maxConcurrent"],
        [{ maxConcurrent: NaN }, "maxConcurrent"],
        [{ maxConcurrent: 1, maxQueue: -1 }, "maxQueue"],
        [{ maxConcurrent: 1, maxQueue: 0.5 }, "maxQueue"],
        [{ maxConcurrent: 1, maxWait: "-1 second" }, "maxWait"],
        [{ maxConcurrent: 1, maxWait: 0 }, "maxWait"],
        [{ maxConcurrent: 1, name: "" }, "name"],
        [{ maxConcurrent: 1, metricsInterval: "soon" as Duration.DurationInput }, "metricsInterval"],
        [{ maxConcurrent: 1, maxKeyLength: 0 }, "maxKeyLength"],
        [{ maxConcurrent: 1, onStoreError: "maybe" as "fail" }, "onStoreError"],
        [undefined as unknown as Bulkhead.Bulkhead.Options, "maxConcurrent"]
      ]
      for (const [options, option] of cases) {
        const error = failureOf(yield* Effect.exit(Effect.scoped(Bulkhead.make(options))))
        assert.instanceOf(error, Errors.InvalidOptionsError)
        assert.strictEqual(error.option, option)
        assert.include(error.message, "Bulkhead.make")
      }
      const first = failureOf(yield* Effect.exit(Effect.scoped(Bulkhead.make({ maxConcurrent: 0 }))))
      assert.strictEqual(first.message, "Bulkhead.make: invalid option \"maxConcurrent\": expected an integer >= 1, got 0")
      // Infinity is a valid queue and maxWait (no limit)
      const unbounded = yield* Effect.scoped(Bulkhead.make({ maxConcurrent: 1, maxQueue: Infinity, maxWait: Duration.infinity }))
      assert.strictEqual(unbounded.unsafeStats().maxQueue, Infinity)
    }))

  it.effect("layer provides a bulkhead under the user's tag, used through Policy.fromTag", () =>
    Effect.gen(function*() {
      class DbBulkhead extends Context.Tag("test/DbBulkhead")<DbBulkhead, Bulkhead.Bulkhead>() {}
      const dbBulkhead = Policy.fromTag(DbBulkhead)
      const query = Effect.succeed(42).pipe(dbBulkhead)
      expectTypeOf(query).toEqualTypeOf<Effect.Effect<number, Errors.BulkheadFullError, DbBulkhead>>()
      const result = yield* query.pipe(Effect.provide(Bulkhead.layer(DbBulkhead, { maxConcurrent: 2, ...quiet })))
      assert.strictEqual(result, 42)
      const invalid = yield* Effect.exit(query.pipe(Effect.provide(Bulkhead.layer(DbBulkhead, { maxConcurrent: -1 }))))
      assert.instanceOf(failureOf(invalid), Errors.InvalidOptionsError)
    }))

  it.effect("layerConfig reads the options from Config", () =>
    Effect.gen(function*() {
      class ApiBulkhead extends Context.Tag("test/ApiBulkhead")<ApiBulkhead, Bulkhead.Bulkhead>() {}
      const live = Bulkhead.layerConfig(ApiBulkhead, {
        maxConcurrent: Config.integer("MAX_CONCURRENT"),
        maxQueue: Config.integer("MAX_QUEUE"),
        maxWait: Config.duration("MAX_WAIT"),
        name: Config.string("NAME"),
        metricsInterval: Config.succeed(Duration.infinity)
      })
      const provider = ConfigProvider.fromMap(
        new Map([["MAX_CONCURRENT", "3"], ["MAX_QUEUE", "9"], ["MAX_WAIT", "2 seconds"], ["NAME", "api"]])
      )
      const bulkhead = yield* ApiBulkhead.pipe(Effect.provide(live), Effect.withConfigProvider(provider))
      assert.deepStrictEqual(bulkhead.unsafeStats(), { active: 0, queued: 0, maxConcurrent: 3, maxQueue: 9 })
      assert.strictEqual(bulkhead.policyName, "api")
      const missing = yield* Effect.exit(
        ApiBulkhead.pipe(Effect.provide(live), Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
      )
      assert.isTrue(Exit.isFailure(missing))
      const outOfRange = yield* Effect.exit(
        ApiBulkhead.pipe(
          Effect.provide(live),
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["MAX_CONCURRENT", "0"], ["MAX_QUEUE", "1"], ["MAX_WAIT", "1 second"], ["NAME", "x"]]))
          )
        )
      )
      assert.instanceOf(failureOf(outOfRange), Errors.InvalidOptionsError)
      expectTypeOf(live).toEqualTypeOf<
        Layer.Layer<ApiBulkhead, Errors.InvalidOptionsError | import("effect").ConfigError.ConfigError>
      >()
    }))
})

describe("Bulkhead shape (issue 20)", () => {
  it.scoped("stats and totals are Effects read when they run; unsafeStats and unsafeTotals read at once", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, ...quiet })
      const stats = bulkhead.stats()
      const keyed = bulkhead.stats("k")
      const totals = bulkhead.totals()
      const { gate, running } = yield* occupy(bulkhead)
      const keyedRun = yield* Effect.fork(bulkhead.execute(held(gate), { key: "k" }))
      yield* until(() => bulkhead.unsafeStats("k").active === 1)
      // built before the calls started, read now
      assert.deepStrictEqual(yield* stats, { active: 1, queued: 0, maxConcurrent: 1, maxQueue: 1 })
      assert.deepStrictEqual(yield* keyed, bulkhead.unsafeStats("k"))
      assert.deepStrictEqual(yield* totals, { active: 2, queued: 0, partitions: 1 })
      assert.deepStrictEqual(bulkhead.unsafeTotals(), yield* totals)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      yield* Fiber.join(keyedRun)
      assert.deepStrictEqual(yield* totals, { active: 0, queued: 0, partitions: 0 })
    }))

  it.scoped("a bulkhead carries its TypeId; isBulkhead tells bulkheads from other policies", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, ...quiet })
      assert.isTrue(Bulkhead.isBulkhead(bulkhead))
      assert.strictEqual(bulkhead[Bulkhead.TypeId], Bulkhead.TypeId)
      assert.strictEqual(Bulkhead.TypeId, Symbol.for("effect-resilience/Bulkhead"))
      assert.isFalse(Bulkhead.isBulkhead(Timeout.make("1 second")))
      assert.isFalse(Bulkhead.isBulkhead({ [Bulkhead.TypeId]: Bulkhead.TypeId }), "a policy is a function")
      assert.isFalse(Bulkhead.isBulkhead(() => 1))
      assert.isFalse(Bulkhead.isBulkhead(null))
      // a call through it logs as an Effect, showing the policy and the call it wraps
      const json = JSON.parse(JSON.stringify(Effect.succeed(1).pipe(bulkhead.execute({ key: "k" }))))
      assert.deepStrictEqual([json._id, json._op, json.policy, json.key, json.self._id], ["Effect", "Bulkhead", bulkhead.policyName, "k", "Exit"])
    }))

  it.scoped("execute is dual: data-first and data-last run in the same partition and refuse the same keys", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, ...quiet })
      const gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(held(gate).pipe(bulkhead.execute({ key: "k" })))
      yield* until(() => bulkhead.unsafeStats("k").active === 1)
      const lastFirst = failureOf(yield* Effect.exit(bulkhead.execute(Effect.void, { key: "k" })))
      assert.strictEqual((lastFirst as Errors.BulkheadFullError).reason, "QueueFull")
      assert.strictEqual((lastFirst as Errors.BulkheadFullError).key, "k")
      // data-last without a key: the default partition
      assert.strictEqual(yield* Effect.succeed("default").pipe(bulkhead.execute({})), "default")
      assert.strictEqual(yield* Effect.succeed("undefined").pipe(bulkhead.execute(undefined)), "undefined")
      const refused = failureOf(yield* Effect.exit(Effect.void.pipe(bulkhead.execute({ key: "x".repeat(2_000) }))))
      assert.isTrue(Errors.isInvalidKeyError(refused))
      assert.deepStrictEqual((refused as Errors.InvalidKeyError).policy, { kind: "Bulkhead", name: bulkhead.policyName })
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(first)
      assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 0, queued: 0, partitions: 0 })
    }))

  it.scoped("held: the permits held in this process with the in-memory store; a refused key fails first", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, ...quiet })
      assert.strictEqual(yield* bulkhead.held(), 0)
      const { gate, running } = yield* occupy(bulkhead)
      const keyed = yield* Effect.fork(bulkhead.execute(held(gate), { key: "k" }))
      yield* until(() => bulkhead.unsafeStats("k").active === 1)
      assert.strictEqual(yield* bulkhead.held(), 1)
      assert.strictEqual(yield* bulkhead.held("k"), 1)
      assert.strictEqual(yield* bulkhead.held("other"), 0)
      assert.isTrue(Errors.isInvalidKeyError(failureOf(yield* Effect.exit(bulkhead.held("a\uD800")))))
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      yield* Fiber.join(keyed)
      assert.strictEqual(yield* bulkhead.held("k"), 0)
    }))

  it.scoped("the store is a Context.Reference: in memory by default, each bulkhead its own permits whatever its name", () =>
    Effect.gen(function*() {
      const store = yield* Bulkhead.BulkheadStore
      assert.strictEqual(store.kind, "memory")
      assert.strictEqual(store.leases, undefined)
      const a = yield* Bulkhead.make({ maxConcurrent: 1, name: "same", ...quiet })
      const b = yield* Bulkhead.make({ maxConcurrent: 1, name: "same", ...quiet })
      const { gate } = yield* occupy(a)
      assert.strictEqual(yield* b(Effect.succeed("b has its own permit")), "b has its own permit")
      yield* Deferred.succeed(gate, void 0)
      // layerStoreMemory provides the same in-memory store (e.g. under a layer that provides another one)
      const provided = yield* Bulkhead.BulkheadStore.pipe(Effect.provide(Bulkhead.layerStoreMemory()))
      assert.strictEqual(provided, store)
      const other = yield* Bulkhead.BulkheadStore.pipe(
        Effect.provide(Bulkhead.layerStoreMemory()),
        Effect.provideService(Bulkhead.BulkheadStore, fakeStore().store)
      )
      assert.strictEqual(other.kind, "memory", "the innermost provision wins")
      assert.deepStrictEqual(Policy.describe(a).options, { maxConcurrent: 1, maxQueue: 0 }, "nothing about the memory store")
    }))

  it.effect("BulkheadStoreError: a rejection whose message names the bulkhead, the key, the store and the cause", () =>
    Effect.sync(() => {
      const e = Bulkhead.BulkheadStoreError.make({ name: "payments", operation: "acquire", store: "redis", cause: new Error("ECONNREFUSED") })
      assert.strictEqual(e._tag, "BulkheadStoreError")
      assert.strictEqual(e.message, "Bulkhead payments: the redis store failed (acquire): ECONNREFUSED")
      assert.isTrue(Errors.isRejection(e))
      assert.isTrue(Errors.isResilienceError(e))
      const keyed = Bulkhead.BulkheadStoreError.make({ name: "p", key: "k", operation: "held", cause: "down" })
      assert.strictEqual(keyed.message, "Bulkhead p[k]: the store failed (held): down")
      assert.strictEqual(keyed.stack?.includes("BulkheadStoreError.make"), false, "no stack captured")
    }))

  it.effect("layer and layerConfig: the tag must accept BulkheadStoreError when the bulkhead may fail closed", () =>
    Effect.sync(() => {
      class Open extends Context.Tag("test/Open")<Open, Bulkhead.Bulkhead>() {}
      class Closed extends Context.Tag("test/Closed")<Closed, Bulkhead.Bulkhead<Bulkhead.BulkheadStoreError>>() {}
      expectTypeOf(Bulkhead.layer(Open, { maxConcurrent: 1 })).toEqualTypeOf<Layer.Layer<Open, Errors.InvalidOptionsError>>()
      expectTypeOf(Bulkhead.layer(Closed, { maxConcurrent: 1, onStoreError: "fail" })).toEqualTypeOf<
        Layer.Layer<Closed, Errors.InvalidOptionsError>
      >()
      // @ts-expect-error: a bulkhead that may fail closed under a tag whose type says it never does
      Bulkhead.layer(Open, { maxConcurrent: 1, onStoreError: "fail" })
      // @ts-expect-error: from Config, onStoreError may be "fail"
      Bulkhead.layerConfig(Open, { maxConcurrent: Config.succeed(1), onStoreError: Config.literal("allow", "fail")("MODE") })
      expectTypeOf(Bulkhead.layerConfig(Closed, { maxConcurrent: Config.succeed(1), onStoreError: Config.literal("allow", "fail")("MODE") }))
        .toEqualTypeOf<Layer.Layer<Closed, Errors.InvalidOptionsError | import("effect").ConfigError.ConfigError>>()
      expectTypeOf<Bulkhead.Bulkhead.StoreErrorOf<{ maxConcurrent: 1; onStoreError: "fail" }>>().toEqualTypeOf<Bulkhead.BulkheadStoreError>()
      expectTypeOf<Bulkhead.Bulkhead.StoreErrorOf<Bulkhead.Bulkhead.Options>>().toEqualTypeOf<Bulkhead.BulkheadStoreError>()
      expectTypeOf<Bulkhead.Bulkhead.StoreErrorOf<{ maxConcurrent: 1; onStoreError: "allow" }>>().toEqualTypeOf<never>()
    }))
})

// -----------------------------------------------------------------------------
// A shared store, faked in memory: the leased call path without Redis
// -----------------------------------------------------------------------------

/**
 * A shared `BulkheadStore` in memory: the leases of every bulkhead made under
 * it with the same name (and key) are one set, as on Redis. `down` makes every
 * operation fail; `drop` loses a lease (as an expiry or a restarted store
 * would); `hold` adds a lease held by "another replica".
 */
const fakeStore = (options: { readonly localMaxConcurrent?: number } = {}) => {
  const sets = new Map<string, Set<string>>()
  const state = {
    down: false,
    calls: 0,
    leases: 0,
    /** The leases the bulkhead gave back, in order. */
    released: [] as Array<unknown>,
    /** Forked (as a daemon) each time the store grants a lease: something happening just then. */
    onGrant: undefined as Effect.Effect<void> | undefined
  }
  const setOf = (name: string, key: string | undefined) => {
    const id = key === undefined ? name : `${name}\u0000${key}`
    let set = sets.get(id)
    if (set === undefined) sets.set(id, set = new Set())
    return set
  }
  const op = <A>(f: () => A): Effect.Effect<A, string> =>
    Effect.suspend(() => {
      state.calls++
      return state.down ? Effect.fail("store down") : Effect.succeed(f())
    })
  const store: Bulkhead.BulkheadStore = {
    kind: "fake",
    leases: (name) =>
      Effect.succeed({
        localMaxConcurrent: options.localMaxConcurrent,
        pollInterval: Duration.millis(100),
        renewInterval: Duration.seconds(1),
        options: { leaseTtl: "3s" },
        partition: (key) => {
          const set = setOf(name, key)
          return {
            acquire: (limit) =>
              Effect.tap(
                op((): Bulkhead.BulkheadStore.Acquisition => {
                  if (set.size >= limit) return { _tag: "Full", retryAfter: 1_000 }
                  const lease = `lease-${++state.leases}`
                  set.add(lease)
                  return { _tag: "Acquired", lease }
                }),
                (a) => a._tag === "Acquired" && state.onGrant !== undefined ? Effect.forkDaemon(state.onGrant) : Effect.void
              ),
            renew: (lease, limit) =>
              op((): Bulkhead.BulkheadStore.Renewal => {
                if (set.has(lease)) return "Renewed"
                if (set.size < limit) {
                  set.add(lease)
                  return "Recovered"
                }
                return "Lost"
              }),
            release: (lease) =>
              op(() => {
                state.released.push(lease)
                set.delete(lease)
              }),
            held: op(() => set.size)
          }
        }
      })
  }
  const leasesOf = (name: string, key?: string) => [...setOf(name, key)]
  return {
    store,
    state,
    leasesOf,
    drop: (name: string, key?: string) => setOf(name, key).clear(),
    hold: (name: string, key?: string) => setOf(name, key).add(`other-${++state.leases}`)
  }
}

const onStore = (fake: ReturnType<typeof fakeStore>) => Effect.provideService(Bulkhead.BulkheadStore, fake.store)

describe("Bulkhead on a shared store (a fake one, in memory: the leased path)", () => {
  it.scoped("a call takes a lease and gives it back on success, failure, defect and interruption", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, name: "l", ...quiet }).pipe(onStore(fake))
      assert.deepStrictEqual(Policy.describe(bulkhead).options, { maxConcurrent: 2, maxQueue: 0, store: "fake", leaseTtl: "3s", onStoreError: "allow" })
      const events = yield* bulkhead.events.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* Effect.yieldNow()
      const { gate, running } = yield* occupy(bulkhead)
      assert.strictEqual(fake.leasesOf("l").length, 1)
      assert.strictEqual(yield* bulkhead.held(), 1)
      assert.deepStrictEqual(yield* bulkhead.stats(), { active: 1, queued: 0, maxConcurrent: 2, maxQueue: 0 })
      const [permitted] = Chunk.toReadonlyArray(yield* Fiber.join(events))
      assert.deepStrictEqual({ ...permitted!, waited: Duration.toMillis((permitted as { waited: Duration.Duration }).waited) }, {
        _tag: "Permitted",
        policy: "l",
        key: undefined,
        waited: 0,
        active: 1,
        queued: 0,
        leased: true
      })
      assert.deepStrictEqual(yield* Effect.exit(Effect.fail(new Unavailable()).pipe(bulkhead)), Exit.fail(new Unavailable()))
      assert.isTrue(Exit.isFailure(yield* Effect.exit(Effect.die("boom").pipe(bulkhead))))
      const interrupted = yield* Effect.fork(bulkhead.execute(Effect.never, { key: "k" }))
      yield* until(() => bulkhead.unsafeStats("k").active === 1)
      assert.strictEqual(fake.leasesOf("l", "k").length, 1)
      yield* Fiber.interrupt(interrupted)
      assert.strictEqual(fake.leasesOf("l", "k").length, 0)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      assert.deepStrictEqual(fake.leasesOf("l"), [])
      assert.deepStrictEqual(bulkhead.unsafeTotals(), {
        active: 0,
        queued: 0,
        partitions: 0,
        storeErrors: 0,
        allowedWithoutLease: 0,
        leasesLost: 0,
        leasesRecovered: 0
      })
      // nothing renews a lease once its call has ended: the store stays empty
      yield* TestClock.adjust("3 seconds")
      assert.deepStrictEqual([fake.leasesOf("l"), fake.leasesOf("l", "k")], [[], []])
      assert.strictEqual(bulkhead.unsafeTotals().leasesRecovered, 0)
    }))

  it.scoped("bulkheads of the same name share the store's permits; a full store rejects without a queue", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const a = yield* Bulkhead.make({ maxConcurrent: 1, name: "shared", ...quiet }).pipe(onStore(fake))
      const b = yield* Bulkhead.make({ maxConcurrent: 1, name: "shared", ...quiet }).pipe(onStore(fake))
      const { gate, running } = yield* occupy(a)
      const rejected = failureOf(yield* Effect.exit(b(Effect.void)))
      assert.strictEqual((rejected as Errors.BulkheadFullError).reason, "QueueFull")
      assert.strictEqual(b.unsafeStats().active, 0, "b gave its local permit back")
      // another key, another partition
      assert.strictEqual(yield* b.execute(Effect.succeed("k"), { key: "k" }), "k")
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      assert.strictEqual(yield* b(Effect.succeed("free")), "free")
    }))

  it.scoped("a queued caller polls the store with a growing backoff, and is woken at once by a release in its process", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 5, name: "poll", ...quiet }).pipe(onStore(fake))
      // another replica holds the only lease
      fake.hold("poll")
      const waiter = yield* Effect.fork(bulkhead(Effect.succeed("after the other replica")))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      const polls = () => fake.state.calls
      const before = polls()
      // the first pause is at most 5 ms
      yield* TestClock.adjust("5 millis")
      assert.isAtLeast(polls() - before, 1, "polled again within 5 ms")
      yield* TestClock.adjust("995 millis")
      const during = polls() - before
      // pauses of 5 ms doubling up to pollInterval (100 ms), each × a jitter in [0.5, 1]: in one second,
      // 13 polls with no jitter (5 + 10 + 20 + 40 + 80 + 8 × 100), 24 with the most
      assert.isAtLeast(during, 12, "polled with backoff up to pollInterval")
      assert.isAtMost(during, 25, "never more often than the backoff allows")
      assert.isNull(waiter.unsafePoll())
      fake.drop("poll")
      yield* TestClock.adjust("100 millis")
      assert.strictEqual(yield* Fiber.join(waiter), "after the other replica")
      // a call of this process that ends wakes the poller at once, without a clock move
      const { gate, running } = yield* occupy(bulkhead)
      const second = yield* Effect.fork(bulkhead(Effect.succeed("woken")))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      assert.strictEqual(yield* Fiber.join(second), "woken")
      assert.deepStrictEqual(fake.leasesOf("poll"), [])
    }))

  it.scoped("callers of a process queue in FIFO order behind the one that polls; maxQueue counts them all", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 2, name: "fifo", ...quiet }).pipe(onStore(fake))
      fake.hold("fifo")
      fake.hold("fifo")
      const order: Array<number> = []
      const fibers = []
      for (let i = 0; i < 2; i++) {
        fibers.push(yield* Effect.fork(bulkhead(Effect.sync(() => order.push(i)))))
        yield* until(() => bulkhead.unsafeStats().queued === i + 1)
      }
      assert.strictEqual((failureOf(yield* Effect.exit(bulkhead(Effect.void))) as Errors.BulkheadFullError).reason, "QueueFull")
      // waiting for a lease is not running
      assert.strictEqual(bulkhead.unsafeStats().active, 0)
      fake.drop("fifo")
      yield* TestClock.adjust("1 second")
      yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(order, [0, 1])
      assert.deepStrictEqual(bulkhead.unsafeStats(), { active: 0, queued: 0, maxConcurrent: 2, maxQueue: 2 })
      // both local permits came back: two calls run at once again
      const gate = yield* Deferred.make<void>()
      const both = yield* Effect.fork(Effect.all([held(gate).pipe(bulkhead), held(gate).pipe(bulkhead)], { concurrency: 2 }))
      yield* until(() => bulkhead.unsafeStats().active === 2)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(both)
    }))

  it.scoped("maxWait bounds the whole wait, polling included; everything taken is given back", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "500 millis", name: "wait", ...quiet }).pipe(
        onStore(fake)
      )
      yield* TestClock.adjust("1 second") // (the clock is not at 0)
      fake.hold("wait")
      const waiter = yield* Effect.fork(bulkhead(Effect.void))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("499 millis")
      assert.isNull(waiter.unsafePoll())
      yield* TestClock.adjust("1 millis")
      const error = failureOf(yield* Fiber.await(waiter)) as Errors.BulkheadFullError
      assert.strictEqual(error.reason, "MaxWaitExceeded")
      assert.deepStrictEqual(bulkhead.unsafeTotals().active + bulkhead.unsafeTotals().queued, 0)
      assert.strictEqual(fake.leasesOf("wait").length, 1, "only the other replica's lease")
      assert.deepStrictEqual(fake.state.released, [], "no lease taken, none released")
      // the local permit came back: the next call runs once the store has room
      fake.drop("wait")
      assert.strictEqual(yield* bulkhead(Effect.succeed("next")), "next")
    }))

  it.scoped("the enclosing deadline bounds the wait inside an uninterruptible region, failing with its TimeoutError", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "10 seconds", name: "deadline", ...quiet }).pipe(
        onStore(fake)
      )
      fake.hold("deadline")
      const call = yield* Effect.fork(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("1 second", { name: "outer" })))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      // not a moment early: still queued 1 ms before the deadline
      yield* TestClock.adjust("999 millis")
      assert.isNull(yield* Fiber.poll(call).pipe(Effect.map((o) => o._tag === "None" ? null : o.value)))
      assert.strictEqual(bulkhead.unsafeStats().queued, 1)
      yield* TestClock.adjust("1 millis")
      const error = failureOf(yield* Fiber.await(call))
      assert.strictEqual((error as Errors.TimeoutError).policy, "outer")
      assert.strictEqual(bulkhead.unsafeStats().queued, 0)
    }))

  it.scoped("a store failure: fail open runs the call without a lease (within the local limit), fail closed rejects", () =>
    Effect.gen(function*() {
      const fake = fakeStore({ localMaxConcurrent: 1 })
      const open = yield* Bulkhead.make({ maxConcurrent: 5, name: "open", ...quiet }).pipe(onStore(fake))
      const closed = yield* Bulkhead.make({ maxConcurrent: 5, name: "closed", onStoreError: "fail", ...quiet }).pipe(onStore(fake))
      expectTypeOf(closed).toEqualTypeOf<Bulkhead.Bulkhead<Bulkhead.BulkheadStoreError>>()
      const events = yield* open.events.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      yield* Effect.yieldNow()
      fake.state.down = true
      const { gate, running } = yield* occupy(open)
      // the local limit holds without the store
      assert.strictEqual((failureOf(yield* Effect.exit(open(Effect.void))) as Errors.BulkheadFullError).reason, "QueueFull")
      const [storeError, permitted] = Chunk.toReadonlyArray(yield* Fiber.join(events))
      assert.deepStrictEqual(storeError, { _tag: "StoreError", policy: "open", key: undefined, operation: "acquire", error: "store down", allowed: true })
      assert.isTrue(permitted!._tag === "Permitted" && permitted!.leased === false)
      const closedEvents = yield* closed.events.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      yield* settle
      const refused = failureOf(yield* Effect.exit(closed(Effect.succeed("no"))))
      assert.strictEqual(refused._tag, "BulkheadStoreError")
      assert.strictEqual((refused as Bulkhead.BulkheadStoreError).store, "fake")
      assert.strictEqual((refused as Bulkhead.BulkheadStoreError).operation, "acquire")
      assert.strictEqual(closed.unsafeStats().active, 0, "the local permit is given back")
      const heldError = failureOf(yield* Effect.exit(closed.held("k")))
      assert.deepStrictEqual([heldError._tag, (heldError as Bulkhead.BulkheadStoreError).operation], ["BulkheadStoreError", "held"])
      assert.deepStrictEqual(
        Chunk.toReadonlyArray(yield* Fiber.join(closedEvents)).map((e) => e._tag === "StoreError" ? [e.operation, e.allowed] : e._tag),
        [["acquire", false], ["held", false]]
      )
      // a call running without a lease has nothing to renew: the store back up stays empty
      fake.state.down = false
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(fake.leasesOf("open"), [])
      assert.strictEqual(open.unsafeTotals().leasesRecovered, 0)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      assert.deepStrictEqual(
        [open.unsafeTotals().storeErrors, open.unsafeTotals().allowedWithoutLease, closed.unsafeTotals().storeErrors],
        [1, 1, 2]
      )
      const allowed = yield* counterTotal("resilience_bulkhead_allowed_without_lease", { policy: "open" })
      assert.strictEqual(allowed, 1)
    }))

  it.scoped("a running call renews its lease; a lost lease is taken back when there is room, counted when there is none", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, name: "renew", ...quiet }).pipe(onStore(fake))
      const lost = yield* bulkhead.events.pipe(Stream.filter((e) => e._tag === "LeaseLost"), Stream.take(1), Stream.runCollect, Effect.fork)
      const storeErrors = yield* bulkhead.events.pipe(
        Stream.filter((e) => e._tag === "StoreError"),
        Stream.take(2),
        Stream.runCollect,
        Effect.fork
      )
      yield* Effect.yieldNow()
      const { gate, running } = yield* occupy(bulkhead)
      // renewed while held: nothing to count
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual([bulkhead.unsafeTotals().leasesRecovered, bulkhead.unsafeTotals().leasesLost], [0, 0])
      fake.drop("renew")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(fake.leasesOf("renew").length, 1, "taken back")
      // taken back: recovered, not lost
      assert.deepStrictEqual([bulkhead.unsafeTotals().leasesRecovered, bulkhead.unsafeTotals().leasesLost], [1, 0])
      fake.drop("renew")
      fake.hold("renew")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(bulkhead.unsafeTotals().leasesLost, 1)
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(lost)), [{ _tag: "LeaseLost", policy: "renew", key: undefined }])
      assert.strictEqual(yield* counterTotal("resilience_bulkhead_leases_lost", { policy: "renew" }), 1)
      // a failed renewal or release is counted; the call still ends normally
      fake.state.down = true
      yield* TestClock.adjust("1 second")
      yield* Deferred.succeed(gate, void 0)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(running)))
      assert.strictEqual(bulkhead.unsafeTotals().storeErrors, 2, "one renewal and one release")
      // both reported, the call allowed to go on
      assert.deepStrictEqual(
        Chunk.toReadonlyArray(yield* Fiber.join(storeErrors)).map((e) => e._tag === "StoreError" ? [e.operation, e.allowed] : e._tag),
        [["renew", true], ["release", true]]
      )
    }))

  it.scoped("resize changes the store's limit (and the local one, without localMaxConcurrent)", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, name: "resize", ...quiet }).pipe(onStore(fake))
      const { gate } = yield* occupy(bulkhead)
      yield* bulkhead.resize(2)
      const second = yield* Effect.fork(bulkhead(held(gate)))
      yield* until(() => bulkhead.unsafeStats().active === 2)
      assert.strictEqual(fake.leasesOf("resize").length, 2)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(second)
    }))
})

describe("Bulkhead on a shared store: waiting for a lease, giving everything back", () => {
  it.scoped("a caller that finds no local permit waits for one, even when the store has room", () =>
    Effect.gen(function*() {
      const fake = fakeStore({ localMaxConcurrent: 1 })
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 5, maxQueue: 1, name: "local-first", ...quiet }).pipe(onStore(fake))
      const { gate, running } = yield* occupy(bulkhead)
      const second = yield* Effect.fork(bulkhead(Effect.succeed("second")))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("1 second")
      assert.isNull(second.unsafePoll(), "still waiting for the local permit")
      assert.deepStrictEqual([bulkhead.unsafeStats().active, fake.leasesOf("local-first").length], [1, 1])
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      assert.strictEqual(yield* Fiber.join(second), "second")
    }))

  it.scoped("a caller with a free local permit queues behind the callers of its process already waiting for a lease", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 2, name: "behind", ...quiet }).pipe(onStore(fake))
      const order: Array<string> = []
      fake.hold("behind")
      fake.hold("behind")
      const first = yield* Effect.fork(bulkhead(Effect.sync(() => order.push("first"))))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      // the store has room again, but the first caller is still pausing between polls
      fake.drop("behind")
      fake.hold("behind")
      const second = yield* Effect.fork(bulkhead(Effect.sync(() => order.push("second"))))
      yield* until(() => bulkhead.unsafeStats().queued === 2)
      assert.deepStrictEqual(order, [], "the second did not overtake the first")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      assert.deepStrictEqual(order, ["first", "second"])
    }))

  it.scoped("a caller with a free local permit is rejected when the callers waiting for a lease fill the queue", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 1, name: "behind-full", ...quiet }).pipe(onStore(fake))
      fake.hold("behind-full")
      fake.hold("behind-full")
      const first = yield* Effect.fork(bulkhead(Effect.succeed("first")))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      const rejected = failureOf(yield* Effect.exit(bulkhead(Effect.void))) as Errors.BulkheadFullError
      assert.strictEqual(rejected.reason, "QueueFull")
      assert.deepStrictEqual(bulkhead.unsafeStats(), { active: 0, queued: 1, maxConcurrent: 2, maxQueue: 1 })
      fake.drop("behind-full")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(first), "first")
    }))

  it.scoped("the caller polling the store is woken at once when a call of its process ends", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 1, name: "wake", ...quiet }).pipe(onStore(fake))
      fake.hold("wake")
      const { gate, running } = yield* occupy(bulkhead)
      const poller = yield* Effect.fork(bulkhead(Effect.succeed("woken")))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      // its pauses have grown to pollInterval (100 ms)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual([bulkhead.unsafeStats().active, bulkhead.unsafeStats().queued], [1, 1], "polling is not running")
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      // no clock move: the ended call woke it
      yield* until(() => poller.unsafePoll() !== null, "the poller woken")
      assert.strictEqual(yield* Fiber.join(poller), "woken")
    }))

  it.scoped("an uninterruptible caller interrupted while it polls the store goes on polling: it runs once a lease is free, then ends interrupted, leaving nothing held", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, name: "uninterruptible-poll", ...quiet }).pipe(onStore(fake))
      fake.hold("uninterruptible-poll") // another replica holds the only lease
      let ran = false
      const caller = yield* Effect.fork(Effect.uninterruptible(bulkhead(Effect.sync(() => (ran = true)))))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      const interrupting = yield* Effect.fork(Fiber.interrupt(caller))
      // the caller's region is uninterruptible: it keeps polling (the store keeps being asked)
      const asked = fake.state.calls
      yield* TestClock.adjust("1 second")
      assert.isAbove(fake.state.calls, asked, "still polling after the interruption")
      assert.isNull(yield* Fiber.poll(interrupting).pipe(Effect.map((o) => (o._tag === "None" ? null : o))))
      // the other replica lets go: the caller gets the lease, runs, and then ends interrupted
      fake.drop("uninterruptible-poll")
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(interrupting)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.isTrue(ran)
      assert.deepStrictEqual(fake.leasesOf("uninterruptible-poll"), [])
      assert.deepStrictEqual([bulkhead.unsafeStats().active, bulkhead.unsafeStats().queued], [0, 0])
    }))

  for (const bound of ["maxWait", "deadline"] as const) {
    it.scoped(`an uninterruptible caller interrupted while it polls within a ${bound} goes on polling until a lease is free, as without a bound`, () =>
      Effect.gen(function*() {
        const fake = fakeStore()
        const name = `uninterruptible-${bound}`
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, name, ...(bound === "maxWait" ? { maxWait: "5 seconds" } : {}), ...quiet })
          .pipe(onStore(fake))
        fake.hold(name) // another replica holds the only lease
        let ran = false
        let answer: Exit.Exit<unknown, unknown> | undefined = undefined
        const call = bulkhead(Effect.sync(() => (ran = true)))
        const region = Effect.tap(Effect.exit(bound === "deadline" ? call.pipe(Timeout.make("5 seconds")) : call), (exit) =>
          Effect.sync(() => (answer = exit)))
        const caller = yield* Effect.fork(Effect.uninterruptible(region))
        yield* until(() => bulkhead.unsafeStats().queued === 1)
        const interrupting = yield* Effect.fork(Fiber.interrupt(caller))
        // the interruption cut neither the wait nor its bound's timer: still polling a second later
        const asked = fake.state.calls
        yield* TestClock.adjust("1 second")
        assert.isAbove(fake.state.calls, asked, "still polling after the interruption")
        assert.isNull(interrupting.unsafePoll())
        fake.drop(name)
        yield* TestClock.adjust("1 second")
        yield* until(() => interrupting.unsafePoll() !== null, "the caller ended")
        assert.deepStrictEqual(answer, Exit.succeed(true), "the region got the call's own answer")
        assert.isTrue(ran)
        assert.deepStrictEqual(fake.leasesOf(name), [])
        assert.deepStrictEqual([bulkhead.unsafeStats().active, bulkhead.unsafeStats().queued], [0, 0])
      }))

    it.scoped(`an uninterruptible caller interrupted while it polls within a ${bound} fails as its bound says when it runs out`, () =>
      Effect.gen(function*() {
        const fake = fakeStore()
        const name = `uninterruptible-${bound}-expires`
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, name, ...(bound === "maxWait" ? { maxWait: "5 seconds" } : {}), ...quiet })
          .pipe(onStore(fake))
        fake.hold(name)
        let answer: Exit.Exit<unknown, unknown> | undefined = undefined
        const call = bulkhead(Effect.void)
        const region = Effect.tap(Effect.exit(bound === "deadline" ? call.pipe(Timeout.make("5 seconds", { name: "outer" })) : call), (exit) =>
          Effect.sync(() => (answer = exit)))
        const caller = yield* Effect.fork(Effect.uninterruptible(region))
        yield* until(() => bulkhead.unsafeStats().queued === 1)
        const interrupting = yield* Effect.fork(Fiber.interrupt(caller))
        yield* TestClock.adjust("4999 millis")
        assert.isNull(interrupting.unsafePoll(), "waiting until its bound")
        yield* TestClock.adjust("1 millis")
        yield* until(() => interrupting.unsafePoll() !== null, "the bound ended the wait")
        const error = failureOf(answer!)
        if (bound === "maxWait") assert.strictEqual((error as Errors.BulkheadFullError).reason, "MaxWaitExceeded")
        else assert.strictEqual((error as Errors.TimeoutError).policy, "outer")
        assert.deepStrictEqual(fake.leasesOf(name).filter((lease) => !lease.startsWith("other-")), [], "no lease of its own left")
        assert.deepStrictEqual([bulkhead.unsafeStats().active, bulkhead.unsafeStats().queued], [0, 0])
      }))
  }

  it.scoped("a caller interrupted just as the store grants its lease gives the lease back", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "10 seconds", name: "granted", ...quiet }).pipe(
        onStore(fake)
      )
      fake.hold("granted")
      const ran = yield* Ref.make(false)
      const caller = yield* Effect.fork(bulkhead(Ref.set(ran, true)))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      // the next poll gets a lease, and the caller is interrupted right then
      fake.state.onGrant = Fiber.interrupt(caller)
      fake.drop("granted")
      yield* TestClock.adjust("1 second")
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(caller)))
      assert.isFalse(yield* Ref.get(ran))
      // the store granted it a lease (the other replica's was the first) and got it back
      assert.deepStrictEqual(fake.state.released, ["lease-2"])
      assert.deepStrictEqual(fake.leasesOf("granted"), [])
      assert.deepStrictEqual(bulkhead.unsafeStats(), { active: 0, queued: 0, maxConcurrent: 1, maxQueue: 1 })
    }))

  it.scoped("the store failing while a caller polls: fail open runs the call without a lease, fail closed rejects", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const open = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, name: "poll-open", ...quiet }).pipe(onStore(fake))
      const closed = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, name: "poll-closed", onStoreError: "fail", ...quiet }).pipe(
        onStore(fake)
      )
      fake.hold("poll-open")
      fake.hold("poll-closed")
      const a = yield* Effect.fork(open(Effect.succeed("without a lease")))
      const b = yield* Effect.fork(closed(Effect.succeed("never")))
      yield* until(() => open.unsafeStats().queued === 1 && closed.unsafeStats().queued === 1)
      fake.state.down = true
      yield* TestClock.adjust("100 millis")
      assert.strictEqual(yield* Fiber.join(a), "without a lease")
      const error = failureOf(yield* Fiber.await(b)) as Bulkhead.BulkheadStoreError
      assert.deepStrictEqual([error._tag, error.operation], ["BulkheadStoreError", "acquire"])
      assert.deepStrictEqual([open.unsafeTotals().storeErrors, open.unsafeTotals().allowedWithoutLease], [1, 1])
      assert.deepStrictEqual([closed.unsafeTotals().storeErrors, closed.unsafeTotals().allowedWithoutLease], [1, 0])
      assert.deepStrictEqual(closed.unsafeStats(), { active: 0, queued: 0, maxConcurrent: 1, maxQueue: 1 })
    }))

  it.scoped("a caller whose maxWait runs out while it waits for a local permit leaves the queue and takes nothing", () =>
    Effect.gen(function*() {
      const fake = fakeStore({ localMaxConcurrent: 1 })
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 5, maxQueue: 1, maxWait: "500 millis", name: "local-wait", ...quiet }).pipe(
        onStore(fake)
      )
      const gate = yield* Deferred.make<void>()
      const running = yield* Effect.fork(bulkhead.execute(held(gate), { key: "k" }))
      yield* until(() => bulkhead.unsafeStats("k").active === 1)
      const waiter = yield* Effect.fork(bulkhead.execute(Effect.void, { key: "k" }))
      yield* until(() => bulkhead.unsafeStats("k").queued === 1)
      yield* TestClock.adjust("500 millis")
      assert.strictEqual((failureOf(yield* Fiber.await(waiter)) as Errors.BulkheadFullError).reason, "MaxWaitExceeded")
      assert.deepStrictEqual([bulkhead.unsafeStats("k").active, bulkhead.unsafeStats("k").queued], [1, 0])
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      // nothing left behind: the partition is dropped, no lease held
      assert.deepStrictEqual([bulkhead.unsafeTotals().partitions, bulkhead.unsafeTotals().queued], [0, 0])
      assert.deepStrictEqual(fake.leasesOf("local-wait", "k"), [])
    }))

  it.scoped("a caller that waited for a local permit, then for the store: counted as queued throughout, all given back at maxWait", () =>
    Effect.gen(function*() {
      const fake = fakeStore({ localMaxConcurrent: 1 })
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 1, maxWait: "5 seconds", name: "two-waits", ...quiet }).pipe(
        onStore(fake)
      )
      yield* TestClock.adjust("1 second") // (the clock is not at 0)
      const queuedEvents = yield* bulkhead.events.pipe(
        Stream.filter((e) => e._tag === "Queued"),
        Stream.take(2),
        Stream.runCollect,
        Effect.fork
      )
      yield* settle
      // the first call runs without a lease (the store is down), the store then fills up with other replicas' leases
      fake.state.down = true
      const gate = yield* Deferred.make<void>()
      const running = yield* Effect.fork(bulkhead.execute(held(gate), { key: "k" }))
      yield* until(() => bulkhead.unsafeStats("k").active === 1)
      fake.state.down = false
      fake.hold("two-waits", "k")
      fake.hold("two-waits", "k")
      const waiter = yield* Effect.fork(bulkhead.execute(Effect.void, { key: "k" }))
      yield* until(() => bulkhead.unsafeStats("k").queued === 1)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      // now holding the local permit and polling: still queued, not active
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual([bulkhead.unsafeStats("k").active, bulkhead.unsafeStats("k").queued], [0, 1])
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual((failureOf(yield* Fiber.await(waiter)) as Errors.BulkheadFullError).reason, "MaxWaitExceeded")
      assert.deepStrictEqual([bulkhead.unsafeTotals().partitions, bulkhead.unsafeTotals().queued], [0, 0], "the local permit came back")
      // a caller that waits for a lease, then gets one: Permitted says how long it waited
      const permitted = yield* bulkhead.events.pipe(
        Stream.filter((e) => e._tag === "Permitted"),
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      yield* settle
      const calledAt = yield* TestClock.currentTimeMillis
      const ranAt = yield* Ref.make(0)
      const third = yield* Effect.fork(
        bulkhead.execute(Effect.flatMap(TestClock.currentTimeMillis, (t) => Ref.set(ranAt, t)), { key: "k" })
      )
      yield* until(() => bulkhead.unsafeStats("k").queued === 1)
      yield* TestClock.adjust("300 millis")
      fake.drop("two-waits", "k")
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(third)
      const [event] = Chunk.toReadonlyArray(yield* Fiber.join(permitted))
      // (the clock read in the call is in whole millis; the poll's pauses are not)
      const waited = (yield* Ref.get(ranAt)) - calledAt
      assert.isAbove(waited, 300)
      assert.isTrue(event!._tag === "Permitted" && event!.leased === true)
      assert.closeTo(Duration.toMillis((event as { waited: Duration.Duration }).waited), waited, 1)
      const [queued] = Chunk.toReadonlyArray(yield* Fiber.join(queuedEvents))
      assert.deepStrictEqual(queued, { _tag: "Queued", policy: "two-waits", key: "k", active: 1, queued: 1 })
    }))
})

describe("Bulkhead on a shared store: maxWait and the enclosing deadline", () => {
  it.scoped("without maxWait, the enclosing deadline bounds the wait inside an uninterruptible region", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, name: "deadline-only", ...quiet }).pipe(onStore(fake))
      yield* TestClock.adjust("1 second") // (the clock is not at 0)
      fake.hold("deadline-only")
      const call = yield* Effect.fork(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("1 second", { name: "outer" })))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("999 millis")
      assert.isNull(call.unsafePoll())
      yield* TestClock.adjust("1 millis")
      yield* until(() => call.unsafePoll() !== null, "the deadline ended the wait")
      assert.strictEqual((failureOf(yield* Fiber.await(call)) as Errors.TimeoutError).policy, "outer")
      assert.deepStrictEqual(bulkhead.unsafeStats(), { active: 0, queued: 0, maxConcurrent: 1, maxQueue: 1 })
    }))

  it.scoped("maxWait shorter than the enclosing deadline rejects with MaxWaitExceeded when maxWait runs out", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "500 millis", name: "wait-first", ...quiet }).pipe(
        onStore(fake)
      )
      fake.hold("wait-first")
      const call = yield* Effect.fork(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("1 second", { name: "outer" })))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("500 millis")
      yield* until(() => call.unsafePoll() !== null, "maxWait ended the wait")
      assert.strictEqual((failureOf(yield* Fiber.await(call)) as Errors.BulkheadFullError).reason, "MaxWaitExceeded")
    }))

  it.scoped("maxWait ending exactly at the enclosing deadline: the deadline's TimeoutError, not a rejection", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", name: "tie", ...quiet }).pipe(onStore(fake))
      fake.hold("tie")
      const call = yield* Effect.fork(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("1 second", { name: "outer" })))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("1 second")
      yield* until(() => call.unsafePoll() !== null, "the wait ended")
      assert.strictEqual((failureOf(yield* Fiber.await(call)) as Errors.TimeoutError).policy, "outer")
    }))

  it.scoped("a fork that outlived its timeout: only its own maxWait bounds its wait", () =>
    Effect.gen(function*() {
      const fake = fakeStore()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "5 seconds", name: "orphan", ...quiet }).pipe(
        onStore(fake)
      )
      yield* TestClock.adjust("1 second") // (the clock is not at 0)
      fake.hold("orphan")
      yield* outlivesItsTimeout(bulkhead)
    }))
})

describe("Bulkhead timed waiters (in process)", () => {
  it.scoped("a fork that outlived its timeout: only its own maxWait bounds its wait", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "5 seconds", ...quiet })
      const { gate } = yield* occupy(bulkhead)
      yield* outlivesItsTimeout(bulkhead)
      yield* Deferred.succeed(gate, void 0)
    }))

  it.scoped("without maxWait, the enclosing deadline bounds the wait inside an uninterruptible region", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, ...quiet })
      const { gate } = yield* occupy(bulkhead)
      const call = yield* Effect.fork(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("1 second", { name: "outer" })))
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      yield* TestClock.adjust("1 second")
      yield* until(() => call.unsafePoll() !== null, "the deadline ended the wait")
      assert.strictEqual((failureOf(yield* Fiber.await(call)) as Errors.TimeoutError).policy, "outer")
      assert.strictEqual(bulkhead.unsafeStats().queued, 0)
      yield* Deferred.succeed(gate, void 0)
    }))

  it.scoped("waiters whose maxWait runs out at the same instant are rejected in the order they queued", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 3, maxWait: "1 second", ...quiet })
      const { gate } = yield* occupy(bulkhead)
      const rejected: Array<number> = []
      const waiters = []
      for (let i = 0; i < 3; i++) {
        waiters.push(yield* Effect.fork(bulkhead(Effect.void).pipe(Effect.tapError(() => Effect.sync(() => rejected.push(i))))))
        yield* until(() => bulkhead.unsafeStats().queued === i + 1)
      }
      yield* TestClock.adjust("1 second")
      yield* Fiber.joinAll(waiters).pipe(Effect.exit)
      yield* until(() => rejected.length === 3)
      assert.deepStrictEqual(rejected, [0, 1, 2])
      yield* Deferred.succeed(gate, void 0)
    }))

  it.scoped("a waiter queued between an earlier head and the tail still expires on time", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 3, maxWait: "10 seconds", ...quiet })
      const { gate } = yield* occupy(bulkhead)
      const first = yield* Effect.fork(bulkhead(Effect.void)) // expires at 10 s
      yield* until(() => bulkhead.unsafeStats().queued === 1)
      const byDeadline = yield* Effect.fork(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("5 seconds"))) // at 5 s
      yield* until(() => bulkhead.unsafeStats().queued === 2)
      yield* TestClock.adjust("1 second")
      const last = yield* Effect.fork(bulkhead(Effect.void)) // at 11 s
      yield* until(() => bulkhead.unsafeStats().queued === 3)
      yield* TestClock.adjust("4 seconds")
      yield* until(() => byDeadline.unsafePoll() !== null)
      yield* TestClock.adjust("5 seconds")
      yield* until(() => first.unsafePoll() !== null, "the first waiter expired at 10 s")
      assert.strictEqual((failureOf(yield* Fiber.await(first)) as Errors.BulkheadFullError).reason, "MaxWaitExceeded")
      assert.isNull(last.unsafePoll())
      yield* TestClock.adjust("1 second")
      assert.strictEqual((failureOf(yield* Fiber.await(last)) as Errors.BulkheadFullError).reason, "MaxWaitExceeded")
      yield* Deferred.succeed(gate, void 0)
    }))
})

// -----------------------------------------------------------------------------
// Property: random interleavings of completion, failure, defects and
// interruption (of waiters and of running calls)
// -----------------------------------------------------------------------------

type Outcome = "succeed" | "fail" | "die" | "interruptSelf"

interface CallSpec {
  readonly start: number
  readonly duration: number
  readonly outcome: Outcome
  /** Interrupt the caller this many millis after it started (waiting or running). */
  readonly interruptAfter: number | null
  readonly key: "a" | "b" | null
}

const callSpec: fc.Arbitrary<CallSpec> = fc.record({
  start: fc.integer({ min: 0, max: 30 }),
  duration: fc.integer({ min: 0, max: 20 }),
  outcome: fc.constantFrom<Outcome>("succeed", "succeed", "fail", "die", "interruptSelf"),
  interruptAfter: fc.option(fc.integer({ min: 0, max: 25 }), { nil: null }),
  key: fc.constantFrom<"a" | "b" | null>(null, "a", "b")
})

const scenario = fc.record({
  maxConcurrent: fc.integer({ min: 1, max: 4 }),
  maxQueue: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constant(Infinity)),
  maxWait: fc.option(fc.integer({ min: 1, max: 15 }), { nil: null }),
  calls: fc.array(callSpec, { minLength: 1, maxLength: 25 })
})

describe("Bulkhead invariants under random interleavings", () => {
  it.scoped.prop(
    "never more than maxConcurrent running per partition, no permit lost or duplicated, ends empty",
    [scenario],
    ([{ calls, maxConcurrent, maxQueue, maxWait }]) =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({
          maxConcurrent,
          maxQueue,
          ...(maxWait === null ? {} : { maxWait: Duration.millis(maxWait) }),
          ...quiet
        })
        const running = new Map<string, number>()
        let violations = 0
        let executions = 0
        const started = new Set<number>()
        const keyOf = (key: CallSpec["key"]) => key ?? "default"
        const body = (i: number, spec: CallSpec) =>
          Effect.suspend(() => {
            if (started.has(i)) violations++ // an execution duplicated
            started.add(i)
            executions++
            const k = keyOf(spec.key)
            const now = (running.get(k) ?? 0) + 1
            running.set(k, now)
            if (now > maxConcurrent) violations++
            const finish = Effect.sync(() => running.set(k, running.get(k)! - 1))
            const end = spec.outcome === "succeed"
              ? Effect.succeed(i)
              : spec.outcome === "fail"
              ? Effect.fail(new Unavailable())
              : spec.outcome === "die"
              ? Effect.die("defect")
              : Effect.interrupt
            return Effect.ensuring(Effect.zipRight(Effect.sleep(Duration.millis(spec.duration)), end), finish)
          })
        const check = Effect.sync(() => {
          for (const key of ["default", "a", "b"]) {
            const stats = key === "default" ? bulkhead.unsafeStats() : bulkhead.unsafeStats(key)
            if (stats.active > maxConcurrent) violations++
            if (stats.queued > maxQueue) violations++
            if ((running.get(key) ?? 0) > stats.active) violations++
          }
        })
        const fibers = yield* Effect.forEach(calls, (spec, i) =>
          Effect.gen(function*() {
            const call = spec.key === null ? body(i, spec).pipe(bulkhead) : bulkhead.execute(body(i, spec), { key: spec.key })
            const fiber = yield* Effect.fork(Effect.delay(call, Duration.millis(spec.start)))
            if (spec.interruptAfter !== null) {
              yield* Effect.fork(Effect.delay(Fiber.interrupt(fiber), Duration.millis(spec.start + spec.interruptAfter)))
            }
            return fiber
          }))
        const allDone = Effect.map(Effect.forEach(fibers, Fiber.poll), (polls) => polls.every(Option.isSome))
        for (let t = 0; t < 5_000 && !(yield* allDone); t++) {
          yield* TestClock.adjust("1 millis")
          yield* Effect.yieldNow()
          yield* check
        }
        // let the interrupters scheduled after the last call fire (they find it done)
        yield* TestClock.adjust("100 millis")
        const exits = yield* Effect.forEach(fibers, Fiber.await)
        // every call ended: ran to its outcome, was interrupted, or was rejected (and then never ran)
        exits.forEach((exit, i) => {
          if (Exit.isFailure(exit)) {
            const failure = Cause.failureOption(exit.cause)
            if (Option.isSome(failure) && Errors.isRejection(failure.value)) {
              if (started.has(i)) violations++ // a rejected call ran
            }
          }
        })
        assert.strictEqual(violations, 0)
        assert.isAtMost(executions, calls.length)
        assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 0, queued: 0, partitions: 0 })
        // no permit lost or duplicated: exactly maxConcurrent calls are admitted again, per partition
        for (const key of [undefined, "a"] as const) {
          const gate = yield* Deferred.make<void>()
          const holders = yield* Effect.forEach(
            Array.from({ length: maxConcurrent }),
            () => Effect.fork(bulkhead.execute(Deferred.await(gate), { key }))
          )
          yield* until(() => bulkhead.unsafeStats(key).active === maxConcurrent, "all permits")
          const extra = yield* Effect.exit(
            bulkhead.execute(Effect.void, { key }).pipe(Timeout.make("1 millis"), Effect.fork, Effect.flatMap((f) =>
              Effect.zipRight(TestClock.adjust("1 millis"), Fiber.join(f))
            ))
          )
          assert.isTrue(Exit.isFailure(extra), "a call beyond maxConcurrent does not run at once")
          yield* Deferred.succeed(gate, void 0)
          yield* Fiber.joinAll(holders)
        }
        assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 0, queued: 0, partitions: 0 })
      }),
    { fastCheck: { numRuns: numRuns(40) } }
  )

  it.scoped("fast path and queued path give the same outcomes and release the same permits (seeded)", () =>
    Effect.gen(function*() {
      const outcomes: ReadonlyArray<Outcome> = ["succeed", "fail", "die", "interruptSelf"]
      const shape = (exit: Exit.Exit<unknown, unknown>) =>
        Exit.isSuccess(exit)
          ? { success: exit.value }
          : {
            failures: [...Cause.failures(exit.cause)],
            defects: [...Cause.defects(exit.cause)],
            interrupted: Cause.isInterrupted(exit.cause)
          }
      for (let round = 0; round < 40; round++) {
        const index = yield* Random.nextIntBetween(0, outcomes.length)
        const outcome = outcomes[index]!
        const effect = outcome === "succeed"
          ? Effect.succeed(round)
          : outcome === "fail"
          ? Effect.fail(new Unavailable())
          : outcome === "die"
          ? Effect.die("defect")
          : Effect.interrupt
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, ...quiet })
        // fast path: the permit is free
        const fast = yield* Effect.fork(bulkhead(effect)).pipe(Effect.flatMap(Fiber.await))
        // queued path: the permit is held, the call waits, then is admitted
        const gate = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(bulkhead(Deferred.await(gate)))
        yield* until(() => bulkhead.unsafeStats().active === 1)
        const queued = yield* Effect.fork(bulkhead(effect))
        yield* until(() => bulkhead.unsafeStats().queued === 1)
        yield* Deferred.succeed(gate, void 0)
        yield* Fiber.join(holder)
        const slow = yield* Fiber.await(queued)
        // and bare, without the bulkhead
        const bare = yield* Effect.fork(effect).pipe(Effect.flatMap(Fiber.await))
        assert.deepStrictEqual(shape(fast), shape(slow), outcome)
        assert.deepStrictEqual(shape(fast), shape(bare), outcome)
        assert.deepStrictEqual(bulkhead.unsafeTotals(), { active: 0, queued: 0, partitions: 0 })
      }
    }).pipe(Effect.withRandom(Random.make("bulkhead-equivalence"))))
})
