/**
 * The Redis-backed paths inside a caller's uninterruptible region, the caller interrupted while
 * its call waits (STYLE.md §12: interruption at every await point), against a real redis-server:
 * the same attack as test/reliability/Uninterruptible.test.ts, on the waits only a shared store
 * has — a bulkhead's caller polling Redis for another replica's lease, a breaker's call whose
 * outcome Redis must record, a rate limiter's delayed call charged in Redis, an idempotency
 * waiter polling another replica's execution, a stale-if-error read and an invalidation waiting
 * on Redis.
 *
 * Effect 3 interrupts a fiber's children as soon as the fiber is interrupted, uninterruptible or
 * not (`processNewInterruptSignal`): a policy racing or forking children on the caller's fiber
 * can be cut from under it, or hang for good (docs/Reliability.md, finding 20). Each case: the
 * caller runs `Effect.uninterruptible(policy(work))` (its own `Exit`, seen inside the region, is
 * recorded), is interrupted from another fiber while it waits, must still be waiting a while
 * later (real time in which a cut wait would have ended it), then whatever it waits on is let go;
 * the interrupting fiber must end (a hang guard, never a timing assertion), with the call's
 * outcome the one it would have had uninterrupted, and nothing left held in Redis or on any
 * replica.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Deferred, Duration, Effect, Exit, Fiber, Option, Schema, TestClock } from "effect"
import { Bulkhead, CircuitBreaker, Errors, Fallback, Idempotency, RateLimiter, Timeout } from "effect-resilience"
import { BulkheadStore, IdempotencyStore, RateLimiterStore, Redis, StaleStore } from "effect-resilience/redis"
import { breakerOn, replicaContext } from "./fixtures/breaker-redis.js"
import { hasRedis, startRedis } from "../utils/redis-server.js"
import { pollUntil, realSleep } from "../utils/realTime.js"

// --- the attack ----------------------------------------------------------------------------

class Boom extends Data.TaggedError("Boom")<{}> {}

/** Real time the interrupted caller is watched before what it waits on is let go: several polls, round trips. */
const WATCH_MILLIS = 100
/** How long the interrupted caller may take to end once it can: a hang guard, not a timing assertion. */
const HANG_GUARD_MILLIS = 2_500

interface Caller<A, E> {
  readonly fiber: Fiber.RuntimeFiber<void>
  /** The call's `Exit` as the region saw it; `undefined` while it runs. */
  readonly outcome: () => Exit.Exit<A, E> | undefined
}

/**
 * Starts `call` as `Effect.uninterruptible(call)`, recording the call's `Exit` inside the region.
 * A daemon: a caller that hangs (the bug these tests look for) must not hold up the test's end.
 */
const uninterruptibleCaller = <A, E>(call: Effect.Effect<A, E>): Effect.Effect<Caller<A, E>> =>
  Effect.suspend(() => {
    let outcome: Exit.Exit<A, E> | undefined = undefined
    return Effect.map(
      Effect.forkDaemon(Effect.uninterruptible(Effect.flatMap(Effect.exit(call), (exit) =>
        Effect.sync(() => {
          outcome = exit
        })))),
      (fiber) => ({ fiber, outcome: () => outcome })
    )
  })

/**
 * Interrupts the caller from another fiber (which waits for the caller's region to end), then
 * checks, after {@link WATCH_MILLIS} of real time, that the call still waits: a wait cut by the
 * interruption would have ended it by then.
 */
const interruptWhileWaiting = <A, E>(caller: Caller<A, E>) =>
  Effect.gen(function*() {
    const interrupting = yield* Effect.forkDaemon(Fiber.interrupt(caller.fiber))
    yield* realSleep(WATCH_MILLIS)
    const early = caller.outcome()
    assert.isUndefined(early, `the interrupted caller's call must go on waiting; it ended with ${early === undefined ? "" : String(Exit.isFailure(early) ? Cause.pretty(early.cause) : early.value)}`)
    assert.isTrue(Option.isNone(yield* Fiber.poll(interrupting)), "the caller is still in its region")
    return interrupting
  })

/** Waits until the interrupting fiber ends (the caller's region ended); dies after the hang guard. */
const ends = <A, E>(interrupting: Fiber.RuntimeFiber<Exit.Exit<void>>, caller: Caller<A, E>) =>
  Effect.gen(function*() {
    const done = yield* Effect.raceFirst(
      Effect.asSome(Fiber.await(interrupting)),
      Effect.as(realSleep(HANG_GUARD_MILLIS), Option.none())
    )
    assert.isTrue(Option.isSome(done), "the interrupted caller ended once its call could (no hang, no stall until its bound)")
    // the interruption is delivered when the region ends
    assert.isTrue(Exit.isInterrupted(yield* Fiber.await(caller.fiber)), "the caller ends interrupted, after its region")
    const outcome = caller.outcome()
    assert.isDefined(outcome, "the call's outcome was recorded inside the region")
    return outcome!
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const describeExit = <A, E>(exit: Exit.Exit<A, E>): string => Exit.isSuccess(exit) ? `success ${String(exit.value)}` : Cause.pretty(exit.cause)

let prefixes = 0
const uniquePrefix = (what: string) => `uninterruptible-${what}-${process.pid}-${++prefixes}:`

const connect = (url: string, prefix: string, commandTimeout: Duration.DurationInput = "2 seconds") =>
  Redis.make({ url, prefix, commandTimeout })

// --- 1. Bulkhead on the Redis BulkheadStore -----------------------------------------------

/** A replica: its own connection, store and bulkhead (another process would have the same). */
const bulkheadReplica = (url: string, prefix: string, options: Bulkhead.Bulkhead.Options) =>
  Effect.gen(function*() {
    const redis = yield* connect(url, prefix)
    const store = yield* BulkheadStore.make({ pollInterval: "10 millis" }).pipe(Effect.provideService(Redis.Redis, redis))
    return yield* Bulkhead.make(options).pipe(Effect.provideService(Bulkhead.BulkheadStore, store))
  })

/** Starts a call that holds its permit (and lease) until `release`; returns once it runs. */
const holding = (bulkhead: Bulkhead.Bulkhead<unknown>) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const gate = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(bulkhead(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate))))
    yield* Deferred.await(started)
    return { release: Effect.zipRight(Deferred.succeed(gate, undefined), Fiber.join(fiber)) }
  })

/**
 * How the caller's call is bounded. The bounds are far longer than the hang guard: a call whose
 * wait is over must end at once, and one that stays stuck until its bound instead (a timer that
 * nothing interrupts) fails the guard, as a hang would.
 */
const bounds: ReadonlyArray<
  readonly [string, Partial<Bulkhead.Bulkhead.Options>, <A, E>(call: Effect.Effect<A, E>) => Effect.Effect<A, unknown>]
> = [
  ["no bound", {}, (call) => call],
  ["maxWait 10 s", { maxWait: "10 seconds" }, (call) => call],
  // the fast path: the work runs on a fiber of its own (not the caller's child)
  ["inside Timeout.make(\"10 seconds\")", {}, Timeout.make("10 seconds")],
  // Effect's race: the work runs in a child of the caller's fiber, which the caller's interruption reaches
  ["inside Timeout.make(\"10 seconds\", { implementation: \"general\" })", {}, Timeout.make("10 seconds", { implementation: "general" })]
]

describe.skipIf(!hasRedis)("an uninterruptible caller interrupted while its Redis-backed call waits (real redis-server)", () => {
  describe("Bulkhead on the Redis BulkheadStore: queued behind a holder", () => {
    for (const where of ["on another replica (it polls Redis)", "on its own replica (the local queue, then Redis)"] as const) {
      for (const [bound, extra, within] of bounds) {
        it.live(`${where}, ${bound}: it waits for the lease, runs once and ends; nothing left held`, () =>
          Effect.gen(function*() {
            const server = yield* startRedis
            const prefix = uniquePrefix("bulkhead")
            const options: Bulkhead.Bulkhead.Options = { maxConcurrent: 1, maxQueue: 1, name: "held", ...extra }
            const other = yield* bulkheadReplica(server.url, prefix, options)
            const own = yield* bulkheadReplica(server.url, prefix, options)
            const holder = yield* holding(where.startsWith("on another") ? other : own)
            let ran = 0
            const caller = yield* uninterruptibleCaller(within(own(Effect.sync(() => {
              ran++
              return "done"
            }))))
            yield* pollUntil(Effect.sync(() => own.unsafeStats().queued === 1))
            yield* realSleep(20) // a few polls of Redis
            const interrupting = yield* interruptWhileWaiting(caller)
            assert.strictEqual(ran, 0)
            // the holder ends well within the bound: the caller must get the lease and run
            yield* holder.release
            const outcome = yield* ends(interrupting, caller)
            assert.deepStrictEqual(outcome, Exit.succeed("done"), describeExit(outcome))
            assert.strictEqual(ran, 1)
            // nothing held: no lease in Redis, no permit or waiter on either replica
            assert.strictEqual(yield* own.held(), 0)
            for (const r of [other, own]) assert.deepStrictEqual([r.unsafeTotals().active, r.unsafeTotals().queued], [0, 0])
            assert.strictEqual(yield* own(Effect.succeed("free")), "free")
            assert.strictEqual(yield* other(Effect.succeed("free")), "free")
          }).pipe(Effect.scoped))
      }
    }

    const expiring: ReadonlyArray<
      readonly [string, Partial<Bulkhead.Bulkhead.Options>, <A, E>(call: Effect.Effect<A, E>) => Effect.Effect<A, unknown>, string]
    > = [
      ["maxWait 1 s", { maxWait: "1 second" }, (call) => call, "BulkheadFullError"],
      ["Timeout.make(\"1 second\")", {}, Timeout.make("1 second"), "TimeoutError"],
      ["Timeout.make(\"1 second\", { implementation: \"general\" })", {}, Timeout.make("1 second", { implementation: "general" }), "TimeoutError"]
    ]
    for (const [bound, extra, within, error] of expiring) {
      it.live(`the holder on another replica outlasts ${bound}: the caller waits out its bound, fails with ${error} and ends; nothing left held`, () =>
        Effect.gen(function*() {
          const server = yield* startRedis
          const prefix = uniquePrefix("bulkhead")
          const options: Bulkhead.Bulkhead.Options = { maxConcurrent: 1, maxQueue: 1, name: "bounded", ...extra }
          const other = yield* bulkheadReplica(server.url, prefix, options)
          const own = yield* bulkheadReplica(server.url, prefix, options)
          const holder = yield* holding(other)
          let ran = 0
          const caller = yield* uninterruptibleCaller(within(own(Effect.sync(() => ran++))))
          yield* pollUntil(Effect.sync(() => own.unsafeStats().queued === 1))
          yield* realSleep(20)
          const interrupting = yield* interruptWhileWaiting(caller)
          // nothing is let go: the bound ends the wait
          const outcome = yield* ends(interrupting, caller)
          const e = failureOf(outcome)
          assert.strictEqual((e as { _tag?: string } | undefined)?._tag, error, describeExit(outcome))
          if (error === "BulkheadFullError") assert.strictEqual((e as Errors.BulkheadFullError).reason, "MaxWaitExceeded")
          assert.strictEqual(ran, 0)
          assert.deepStrictEqual([own.unsafeTotals().active, own.unsafeTotals().queued], [0, 0])
          assert.strictEqual(yield* own.held(), 1) // the holder's lease only
          yield* holder.release
          assert.strictEqual(yield* own.held(), 0)
          assert.strictEqual(yield* own(Effect.succeed("free")), "free")
        }).pipe(Effect.scoped))
    }
    // The stall the deadline cases above found, without any interruption (fixed in ce00c3c):
    // LeasedCalls.queueLeased (src/internal/bulkhead/leased.ts), `timedWait` under a deadline, raced
    // the wait against a sleep to the deadline that inherited the uninterruptible region's flags.
    // When the wait won (the lease granted), `raceFirst` interrupted the sleep and awaited it: it ran
    // on to the deadline, the caller holding its lease in Redis (`held()` 1, another replica's
    // callers queued behind it) without running its work.
    for (const [bound, within] of [
      ["Timeout.make(\"10 seconds\")", Timeout.make("10 seconds")],
      ["Timeout.make(\"10 seconds\", { implementation: \"general\" })", Timeout.make("10 seconds", { implementation: "general" })]
    ] as const) {
      it.live(`not interrupted, inside ${bound}: a caller whose lease comes runs at once, not when the deadline's timer ends`, () =>
        Effect.gen(function*() {
          const server = yield* startRedis
          const prefix = uniquePrefix("bulkhead")
          const options: Bulkhead.Bulkhead.Options = { maxConcurrent: 1, maxQueue: 1, name: "stall" }
          const other = yield* bulkheadReplica(server.url, prefix, options)
          const own = yield* bulkheadReplica(server.url, prefix, options)
          const holder = yield* holding(other)
          const caller = yield* uninterruptibleCaller(within(own(Effect.succeed("done"))))
          yield* pollUntil(Effect.sync(() => own.unsafeStats().queued === 1))
          yield* holder.release
          const done = yield* Effect.raceFirst(
            Effect.asSome(Fiber.await(caller.fiber)),
            Effect.as(realSleep(HANG_GUARD_MILLIS), Option.none())
          )
          assert.isTrue(Option.isSome(done), "the caller ended once its lease came (not at its deadline)")
          assert.deepStrictEqual(caller.outcome(), Exit.succeed("done"))
          assert.strictEqual(yield* own.held(), 0)
          assert.deepStrictEqual([own.unsafeTotals().active, own.unsafeTotals().queued], [0, 0])
        }).pipe(Effect.scoped))
    }
  })

  // --- 2. CircuitBreaker on the Redis CircuitBreakerStore -----------------------------------

  describe("CircuitBreaker on the Redis CircuitBreakerStore: the call's outcome reaches Redis", () => {
    const breakers = (url: string, name: string) =>
      Effect.gen(function*() {
        const options: CircuitBreaker.CircuitBreaker.Options = {
          name,
          tripPolicy: CircuitBreaker.consecutive(1),
          openDuration: "10 seconds"
        }
        const own = yield* breakerOn(yield* replicaContext(url, { store: { clock: "caller" } }), options)
        const other = yield* breakerOn(yield* replicaContext(url, { store: { clock: "caller" } }), options)
        return { own, other }
      })

    const gated = <A>(result: Effect.Effect<A, Boom>) =>
      Effect.gen(function*() {
        const started = yield* Deferred.make<void>()
        const gate = yield* Deferred.make<void>()
        return {
          started: Deferred.await(started),
          release: Deferred.succeed(gate, undefined),
          work: Effect.zipRight(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate)), result)
        }
      })

    for (const [bound, , within] of bounds.filter(([, extra]) => extra.maxWait === undefined)) {
      it.scoped(`a closed call in flight, ${bound}: its failure is recorded in Redis (the circuit opens for every replica)`, () =>
        Effect.gen(function*() {
          const server = yield* startRedis
          const { other, own } = yield* breakers(server.url, "closed-call")
          const w = yield* gated(Effect.fail(new Boom()))
          const caller = yield* uninterruptibleCaller(within(own(w.work)))
          yield* w.started
          const interrupting = yield* interruptWhileWaiting(caller)
          yield* w.release
          const outcome = yield* ends(interrupting, caller)
          assert.strictEqual((failureOf(outcome) as { _tag?: string } | undefined)?._tag, "Boom", describeExit(outcome))
          for (const b of [own, other]) assert.strictEqual((yield* b.state())._tag, "Open")
          assert.strictEqual((yield* other.metrics()).failures, 1)
        }))

      it.scoped(`a half-open probe in flight, ${bound}: its success is recorded in Redis (the circuit closes for every replica)`, () =>
        Effect.gen(function*() {
          const server = yield* startRedis
          const { other, own } = yield* breakers(server.url, "probe")
          yield* Effect.exit(own(Effect.fail(new Boom())))
          assert.strictEqual((yield* other.state())._tag, "Open")
          yield* TestClock.adjust("10 seconds")
          const w = yield* gated(Effect.succeed("probed"))
          const caller = yield* uninterruptibleCaller(within(own(w.work)))
          yield* w.started
          const half = yield* other.state()
          assert.isTrue(half._tag === "HalfOpen" && half.probes === 1, `the probe holds its slot in Redis: ${JSON.stringify(half)}`)
          const interrupting = yield* interruptWhileWaiting(caller)
          yield* w.release
          const outcome = yield* ends(interrupting, caller)
          assert.deepStrictEqual(outcome, Exit.succeed("probed"), describeExit(outcome))
          for (const b of [own, other]) assert.strictEqual((yield* b.state())._tag, "Closed")
          assert.strictEqual(yield* other(Effect.succeed("after")), "after")
        }))
    }
  })

  // --- 3. RateLimiter on the Redis RateLimiterStore, "delay" mode ---------------------------

  describe("RateLimiter on the Redis RateLimiterStore, \"delay\" mode: waiting for its slot", () => {
    for (const [bound, , within] of bounds.filter(([, extra]) => extra.maxWait === undefined)) {
      it.scoped(`${bound}: it keeps its slot (charged once in Redis, not refunded), runs at its slot and ends`, () =>
        Effect.gen(function*() {
          const server = yield* startRedis
          const redis = yield* connect(server.url, uniquePrefix("rl"))
          const store = yield* RateLimiterStore.make({ clock: "caller" }).pipe(Effect.provideService(Redis.Redis, redis))
          const limiter = yield* RateLimiter.make({
            limit: 1,
            window: "1 second",
            onExceeded: "delay",
            maxDelay: "2 seconds",
            name: "slot"
          }).pipe(Effect.provideService(RateLimiter.RateLimiterStore, store))
          const tokens = redis.use("HGET", (c) => c.hget(`${redis.prefix}rl:tb:4:slot`, "t"))
          yield* limiter(Effect.void)
          assert.strictEqual(yield* tokens, "0")
          let ran = 0
          const caller = yield* uninterruptibleCaller(within(limiter(Effect.sync(() => {
            ran++
            return "at its slot"
          }))))
          // reserved in Redis (real I/O), then asleep on the TestClock until its slot
          yield* pollUntil(Effect.map(tokens, (t) => t === "-1"))
          yield* pollUntil(Effect.sync(() => limiter.unsafeStats().delayed === 1))
          const interrupting = yield* interruptWhileWaiting(caller)
          assert.strictEqual(ran, 0)
          assert.strictEqual(yield* tokens, "-1", "the waiter's slot is kept (no refund: its call will run)")
          yield* TestClock.adjust("1 second")
          const outcome = yield* ends(interrupting, caller)
          assert.deepStrictEqual(outcome, Exit.succeed("at its slot"), describeExit(outcome))
          assert.strictEqual(ran, 1)
          assert.strictEqual(yield* tokens, "-1", "charged once")
          assert.deepStrictEqual(limiter.unsafeStats(), { permitted: 1, delayed: 1, rejected: 0, storeErrors: 0 })
        }))
    }
  })

  // --- 4. Idempotency on the Redis IdempotencyStore ------------------------------------------

  describe("Idempotency on the Redis IdempotencyStore", () => {
    const replica = (url: string, prefix: string) =>
      Effect.gen(function*() {
        const redis = yield* connect(url, prefix)
        const store = yield* IdempotencyStore.make({ pollInterval: "10 millis" }).pipe(Effect.provideService(Redis.Redis, redis))
        const policy = yield* Idempotency.make({ ttl: "1 minute", success: Schema.String, failure: Schema.Never, name: "orders" }).pipe(
          Effect.provideService(Idempotency.IdempotencyStore, store)
        )
        return { redis, store, policy }
      })

    /** No lock left in Redis, no watch on either replica; the key replays its kept result (nothing runs). */
    const clean = (
      prefix: string,
      replicas: ReadonlyArray<Effect.Effect.Success<ReturnType<typeof replica>>>,
      key: string,
      result: string
    ) =>
      Effect.gen(function*() {
        const redis = replicas[0]!.redis
        assert.deepStrictEqual(yield* redis.use("KEYS", (c) => c.keys(`${prefix}idem:l:*`)), [], "no lock left in flight")
        for (const r of replicas) assert.strictEqual(r.store.unsafeStats().waiting, 0)
        for (const r of replicas) {
          assert.strictEqual(yield* r.policy.run(key, Effect.die("the key is done: nothing runs again")), result)
        }
      })

    for (const [bound, , within] of bounds.filter(([, extra]) => extra.maxWait === undefined)) {
      it.live(`a waiter on another replica's execution, ${bound}: interrupted, it gets the execution's result once it ends; nothing left held`, () =>
        Effect.gen(function*() {
          const server = yield* startRedis
          const prefix = uniquePrefix("idem")
          const executor = yield* replica(server.url, prefix)
          const waiter = yield* replica(server.url, prefix)
          const started = yield* Deferred.make<void>()
          const gate = yield* Deferred.make<void>()
          const execution = yield* Effect.fork(
            executor.policy.run("order-1", Effect.zipRight(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate)), Effect.succeed("charged")))
          )
          yield* Deferred.await(started)
          let ran = 0
          const caller = yield* uninterruptibleCaller(within(waiter.policy.run("order-1", Effect.sync(() => {
            ran++
            return "charged twice"
          }))))
          // it joined the other replica's execution and polls Redis for its result
          yield* pollUntil(Effect.sync(() => waiter.policy.unsafeStats().joined === 1 && waiter.store.unsafeStats().waiting === 1))
          yield* realSleep(20)
          const interrupting = yield* interruptWhileWaiting(caller)
          yield* Deferred.succeed(gate, undefined)
          assert.strictEqual(yield* Fiber.join(execution), "charged")
          const outcome = yield* ends(interrupting, caller)
          assert.deepStrictEqual(outcome, Exit.succeed("charged"), describeExit(outcome))
          assert.strictEqual(ran, 0)
          yield* clean(prefix, [executor, waiter], "order-1", "charged")
        }).pipe(Effect.scoped))

      it.live(`the executor itself, ${bound}: interrupted, its execution completes in Redis and it gets the result; nothing left held`, () =>
        Effect.gen(function*() {
          const server = yield* startRedis
          const prefix = uniquePrefix("idem")
          const own = yield* replica(server.url, prefix)
          const other = yield* replica(server.url, prefix)
          const started = yield* Deferred.make<void>()
          const gate = yield* Deferred.make<void>()
          const caller = yield* uninterruptibleCaller(within(own.policy.run(
            "order-2",
            Effect.zipRight(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate)), Effect.succeed("charged"))
          )))
          yield* Deferred.await(started)
          const interrupting = yield* interruptWhileWaiting(caller)
          yield* Deferred.succeed(gate, undefined)
          const outcome = yield* ends(interrupting, caller)
          assert.deepStrictEqual(outcome, Exit.succeed("charged"), describeExit(outcome))
          assert.strictEqual(own.policy.unsafeStats().executions, 1)
          yield* clean(prefix, [own, other], "order-2", "charged")
        }).pipe(Effect.scoped))
    }
  })

  // --- 5. Fallback.staleIfError on the Redis StaleStore --------------------------------------

  describe("Fallback.staleIfError on the Redis StaleStore: waiting on Redis", () => {
    class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

    const policyOn = (url: string) =>
      Effect.gen(function*() {
        // long enough a command timeout for Redis to stay paused while the caller is watched
        const redis = yield* connect(url, uniquePrefix("stale"), "5 seconds")
        const store = yield* StaleStore.make().pipe(Effect.provideService(Redis.Redis, redis))
        return yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10, name: "prices" }).pipe(
          Effect.provideService(Fallback.StaleStore, store)
        )
      })

    it.live("a failed call reading its stale value while Redis is paused: interrupted, it is served the value once Redis answers", () =>
      Effect.gen(function*() {
        const server = yield* startRedis
        const policy = yield* policyOn(server.url)
        yield* policy.serve(Effect.succeed("42"), { key: "sku" })
        yield* policy.flush
        assert.strictEqual((yield* policy.stats()).stored, 1)
        const started = yield* Deferred.make<void>()
        const gate = yield* Deferred.make<void>()
        const failing: Effect.Effect<string, Unavailable> = Effect.zipRight(
          Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate)),
          Effect.fail(new Unavailable())
        )
        const caller = yield* uninterruptibleCaller(policy.serve(failing, { key: "sku" }))
        yield* Deferred.await(started)
        // the call fails while Redis does not answer: its read of the stale value waits on Redis
        yield* server.pause
        yield* Deferred.succeed(gate, undefined)
        yield* realSleep(20)
        const interrupting = yield* interruptWhileWaiting(caller)
        yield* server.resume
        const outcome = yield* ends(interrupting, caller)
        assert.isTrue(Exit.isSuccess(outcome) && outcome.value.stale && outcome.value.value === "42", describeExit(outcome))
        const stats = yield* policy.stats()
        assert.deepStrictEqual([stats.served, stats.storeErrors, stats.pendingWrites], [1, 0, 0])
      }).pipe(Effect.scoped))

    it.live("an invalidation awaiting a write in flight (Redis paused): interrupted, it ends once the write and the delete land; the value is gone", () =>
      Effect.gen(function*() {
        const server = yield* startRedis
        const policy = yield* policyOn(server.url)
        yield* server.pause
        // the write runs off the caller's path: in flight on a Redis that does not answer
        yield* policy.serve(Effect.succeed("42"), { key: "sku" })
        yield* pollUntil(Effect.map(policy.stats(), (s) => s.pendingWrites === 1))
        yield* realSleep(20)
        const caller = yield* uninterruptibleCaller(policy.invalidate("sku"))
        const interrupting = yield* interruptWhileWaiting(caller)
        yield* server.resume
        const outcome = yield* ends(interrupting, caller)
        assert.deepStrictEqual(outcome, Exit.void, describeExit(outcome))
        const stats = yield* policy.stats()
        assert.deepStrictEqual([stats.stored, stats.storeErrors, stats.pendingWrites], [1, 0, 0])
        // the delete landed after the write: nothing stale to serve
        const miss = yield* Effect.either(policy.serve(Effect.fail(new Unavailable()), { key: "sku" }))
        assert.isTrue(miss._tag === "Left")
      }).pipe(Effect.scoped))
  })
})

