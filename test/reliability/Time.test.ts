/**
 * Issue 15, written from the promises ("Bounded time" in DESIGN.md; the
 * modules' docs), not from the code:
 *
 * 1. Every bound the library keeps is measured on monotonic time: with the
 *    wall clock stepped an hour back or forward while a call is pending
 *    (`Testing.withSteppedWallClock`), nothing happens 1 ms before the bound
 *    and it happens at the bound.
 * 2. A deadline lives as long as its timeout's region: forks that outlive the
 *    region (daemons, forks into another scope) never see it; while the
 *    region is live they do.
 * 3. Every consumer bounds its own wait by the smaller of its bound and the
 *    deadline, and does not depend on being interrupted: inside
 *    `Effect.uninterruptible` too.
 * 4. Any duration works (past Node's 2^31−1 ms timer cap), and an infinite
 *    user-facing timeout is none.
 * 5. (TimeLive.test.ts: the live Node-timer path.)
 * 6. The `Config` spelling of an infinite duration.
 *
 * Everything runs on the TestClock, deterministically.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Config,
  ConfigProvider,
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Option,
  Ref,
  Schedule,
  Scope,
  Stream,
  TestClock
} from "effect"
import {
  Bulkhead,
  Chaos,
  CircuitBreaker,
  Errors,
  Fallback,
  Health,
  Hedge,
  Idempotency,
  Policy,
  RateLimiter,
  Retry,
  Testing,
  Timeout
} from "effect-resilience"

// --- helpers ---------------------------------------------------------------------------------

const SECOND = 1_000
const HOUR = 3_600_000
const DAY = 86_400_000

class Boom {
  readonly _tag = "Boom"
}

type Direction = "back" | "forward"
const DIRECTIONS: ReadonlyArray<Direction> = ["back", "forward"]

const stepWall = (wall: Testing.WallClockSteps, direction: Direction) =>
  direction === "back" ? wall.back("1 hour") : wall.forward("1 hour")

/** Lets forked fibers run up to their next wait without moving time. */
const settle = TestClock.adjust(0)

/**
 * The TestClock, driven from inside `Testing.withSteppedWallClock`: there the
 * fiber's clock is the stepping clock, so `TestClock.adjust` (which looks the
 * TestClock up as the fiber's clock) cannot be used (see the finding below).
 */
interface Ops {
  /** Lets forked fibers run up to their next wait without moving time. */
  readonly settle: Effect.Effect<void>
  readonly adjust: (millis: number) => Effect.Effect<void>
  readonly now: Effect.Effect<number>
}

/** `Testing.withSteppedWallClock` with the TestClock captured outside it. */
const stepped = <A, E, R>(f: (wall: Testing.WallClockSteps, t: Ops) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(TestClock.testClock(), (tc) =>
    Testing.withSteppedWallClock((wall) =>
      f(wall, { settle: tc.adjust(0), adjust: (millis) => tc.adjust(millis), now: tc.currentTimeMillis })
    ))

/**
 * The bound holds to the millisecond: half-way through it the wall clock steps
 * an hour (while the call is pending); 1 ms before the bound `happened` is
 * false, at the bound it is true. `bound` counts from now.
 */
const holdsToTheMillisecond = (
  t: Ops,
  wall: Testing.WallClockSteps,
  direction: Direction,
  bound: number,
  happened: Effect.Effect<boolean>
) =>
  Effect.gen(function*() {
    yield* t.settle
    const half = Math.floor(bound / 2)
    yield* t.adjust(half)
    yield* stepWall(wall, direction)
    yield* t.adjust(bound - 1 - half)
    assert.isFalse(yield* happened, `not yet 1 ms before the bound (${bound} ms), wall clock stepped ${direction}`)
    yield* t.adjust(1)
    assert.isTrue(yield* happened, `at the bound (${bound} ms), wall clock stepped ${direction}`)
  })

const isDone = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isSome)

/** The failure a fiber ended with (asserts that it failed with a typed error). */
const failureOf = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    const exit = yield* Fiber.await(fiber)
    assert.isTrue(Exit.isFailure(exit), "the call failed")
    const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
    assert.isTrue(Option.isSome(failure), `a typed failure, got ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "success"}`)
    return Option.getOrThrow(failure)
  })

const tagOf = (u: unknown): string =>
  typeof u === "object" && u !== null && "_tag" in u ? String((u as { _tag: unknown })._tag) : typeof u

/** A call that fails with Boom each time and counts its attempts. */
const failing = Effect.gen(function*() {
  const attempts = yield* Ref.make(0)
  return { attempts, call: Effect.zipRight(Ref.update(attempts, (n) => n + 1), Effect.fail(new Boom())) }
})

/** Forks a call that holds the bulkhead's only permit forever. */
const occupy = (bulkhead: Bulkhead.Bulkhead) =>
  Effect.gen(function*() {
    const running = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(bulkhead(Effect.zipRight(Deferred.succeed(running, undefined), Effect.never)))
    yield* Deferred.await(running)
    return fiber
  })

/** Collects the reasons a retry policy gives up with (subscribed before it returns). */
const gaveUpReasons = (retry: Retry.Retry<any, any>) =>
  Effect.gen(function*() {
    const reasons: Array<Retry.GiveUpReason> = []
    yield* Effect.forkScoped(
      Stream.runForEach(retry.events, (e) => Effect.sync(() => e._tag === "GaveUp" && reasons.push(e.reason)))
    )
    yield* Effect.yieldNow()
    return reasons
  })

const elapsedSince = (t0: number) => Effect.map(TestClock.currentTimeMillis, (t) => t - t0)

let names = 0
const unique = (prefix: string) => `${prefix}-${++names}`

// --- 1. every policy that bounds time, under wall-clock steps --------------------------------

interface Bounded {
  readonly name: string
  /** Milliseconds from the moment `start` returns. */
  readonly bound: number
  /** Sets the call up (at the current test time) and returns what tells the bounded thing has happened. */
  readonly start: (t: Ops) => Effect.Effect<
    { readonly happened: Effect.Effect<boolean>; readonly verify?: Effect.Effect<void> },
    unknown,
    Scope.Scope
  >
}

const timeoutCase = (name: string, policy: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, unknown, R>): Bounded => ({
  name,
  bound: SECOND,
  start: (_t) => Effect.gen(function*() {
    const fiber = yield* Effect.fork(policy(Effect.never))
    return {
      happened: isDone(fiber),
      verify: Effect.map(failureOf(fiber), (e) => assert.strictEqual(tagOf(e), "TimeoutError"))
    }
  })
})

const rateLimiterRefill = (algorithm: RateLimiter.Algorithm): Bounded => ({
  name: `RateLimiter (${algorithm}, "fail"): the next token comes exactly one window / limit later`,
  bound: SECOND,
  start: (_t) => Effect.gen(function*() {
    const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second", algorithm, name: unique("refill") })
    yield* limiter(Effect.void)
    const rejected = yield* Effect.flip(limiter(Effect.void))
    assert.strictEqual(Duration.toMillis((rejected as RateLimiter.RateLimitExceededError).retryAfter), SECOND)
    return { happened: Effect.map(Effect.either(limiter(Effect.void)), Either.isRight) }
  })
})

const rateLimiterDelay = (algorithm: RateLimiter.Algorithm): Bounded => ({
  name: `RateLimiter (${algorithm}, "delay"): a delayed call runs exactly when its slot comes`,
  bound: SECOND,
  start: (_t) => Effect.gen(function*() {
    const limiter = yield* RateLimiter.make({
      limit: 1,
      window: "1 second",
      algorithm,
      onExceeded: "delay",
      name: unique("delay")
    })
    yield* limiter(Effect.void)
    const ran = yield* Ref.make(false)
    yield* Effect.fork(limiter(Ref.set(ran, true)))
    return { happened: Ref.get(ran) }
  })
})

const boundedCases: ReadonlyArray<Bounded> = [
  timeoutCase("Timeout (fast path)", Timeout.make("1 second")),
  timeoutCase("Timeout (general path)", Timeout.make("1 second", { implementation: "general" })),
  timeoutCase("Policy.pipeline timeout", Policy.pipeline({ timeout: "1 second" })),
  timeoutCase("Policy.pipeline attemptTimeout", Policy.pipeline({ attemptTimeout: "1 second" })),
  {
    name: "Policy.pipeline attemptTimeout with a retry: the second attempt times out one backoff + one timeout later",
    bound: 2_500,
    start: (_t) => Effect.gen(function*() {
      const pipeline = Policy.pipeline({
        retry: Retry.policy({ schedule: Retry.constant("500 millis"), times: 1 }),
        attemptTimeout: "1 second"
      })
      const fiber = yield* Effect.fork(pipeline(Effect.never))
      return { happened: isDone(fiber) }
    })
  },
  {
    name: "Retry backoff: the retry happens exactly after its delay",
    bound: SECOND,
    start: (_t) => Effect.gen(function*() {
      const { attempts, call } = yield* failing
      yield* Effect.fork(call.pipe(Retry.policy({ schedule: Retry.constant("1 second"), times: 1 })))
      return { happened: Effect.map(Ref.get(attempts), (n) => n >= 2) }
    })
  },
  {
    name: "Retry.budget window: a retry withdrawn counts exactly `window`",
    bound: 10 * SECOND,
    start: (_t) => Effect.gen(function*() {
      // ratio 0: only the reserve, minRetriesPerSecond * window = 10 retries per 10 s
      const budget = yield* Retry.budget({ ratio: 0, minRetriesPerSecond: 1, window: "10 seconds" })
      let taken = 0
      while (budget.tryWithdraw()) taken++
      assert.strictEqual(taken, 10)
      return { happened: Effect.map(budget.available(), (n) => n === 10) }
    })
  },
  {
    name: "Bulkhead maxWait: a queued caller is rejected exactly at maxWait",
    bound: SECOND,
    start: (_t) => Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second" })
      yield* occupy(bulkhead)
      const queued = yield* Effect.fork(bulkhead(Effect.void))
      return {
        happened: isDone(queued),
        verify: Effect.map(failureOf(queued), (e) => {
          assert.strictEqual(tagOf(e), "BulkheadFullError")
          assert.strictEqual((e as Bulkhead.BulkheadFullError).reason, "MaxWaitExceeded")
        })
      }
    })
  },
  rateLimiterRefill("token-bucket"),
  rateLimiterRefill("fixed-window"),
  rateLimiterDelay("token-bucket"),
  rateLimiterDelay("fixed-window"),
  {
    name: "CircuitBreaker openDuration: the break lasts exactly its duration",
    bound: SECOND,
    start: (_t) => Effect.gen(function*() {
      const cb = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      yield* Effect.exit(cb(Effect.fail(new Boom())))
      assert.strictEqual((yield* cb.state())._tag, "Open")
      return { happened: Effect.map(Effect.either(cb(Effect.void)), Either.isRight) }
    })
  },
  {
    name: "CircuitBreaker halfOpen.probeTimeout: a hung probe reopens the circuit exactly probeTimeout after it started",
    bound: SECOND,
    start: (t) => Effect.gen(function*() {
      const cb = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probeTimeout: "1 second" }
      })
      yield* Effect.exit(cb(Effect.fail(new Boom())))
      yield* t.adjust(SECOND)
      yield* Effect.fork(cb(Effect.never)) // the probe, hung
      yield* t.settle
      return {
        // issue 16 §3: a probe that outlives probeTimeout is a failed probe
        happened: Effect.map(Effect.orDie(cb.state()), (s) => s._tag === "Open")
      }
    })
  },
  {
    name: "CircuitBreaker timeRate: a call leaves the window exactly `window` later",
    bound: 10 * SECOND,
    start: (_t) => Effect.gen(function*() {
      const cb = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.timeRate({ threshold: 0.5, window: "10 seconds", buckets: 10, minimumCalls: 5 }),
        openDuration: "1 second"
      })
      yield* Effect.exit(cb(Effect.fail(new Boom())))
      assert.strictEqual((yield* cb.metrics()).windowCalls, 1)
      return { happened: Effect.map(Effect.orDie(cb.metrics()), (m) => m.windowCalls === 0) }
    })
  },
  {
    name: "Hedge delay: the second attempt starts exactly `delay` after the first",
    bound: SECOND,
    start: (_t) => Effect.gen(function*() {
      const started = yield* Ref.make(0)
      const hedge = Hedge.make({ delay: "1 second", maxAttempts: 2 })
      yield* Effect.fork(
        hedge(Effect.flatMap(Hedge.currentAttempt, (n) => Effect.zipRight(Ref.update(started, (m) => Math.max(m, n)), Effect.never)))
      )
      return { happened: Effect.map(Ref.get(started), (n) => n >= 2) }
    })
  },
  {
    name: "Health check timeout: a hung check is unhealthy exactly at its timeout",
    bound: SECOND,
    start: (_t) => Effect.gen(function*() {
      const health = Context.get(yield* Layer.build(Health.layer()), Health.Health)
      yield* health.register({ name: "hung", check: Effect.never, timeout: "1 second", interval: "1 hour" })
      return {
        happened: Effect.map(health.result("hung"), (r) => Option.isSome(r) && !r.value.pending),
        verify: Effect.map(health.result("hung"), (r) => {
          assert.strictEqual(Option.getOrThrow(r).status, "unhealthy")
          assert.strictEqual(Option.getOrThrow(r).latencyMillis, SECOND)
        })
      }
    })
  },
  {
    name: "Health check interval: the next run starts exactly `interval` after the last one ended",
    bound: 10 * SECOND,
    start: (t) => Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const health = Context.get(yield* Layer.build(Health.layer()), Health.Health)
      yield* health.register({ name: "counted", check: Ref.update(runs, (n) => n + 1), interval: "10 seconds" })
      yield* t.settle
      assert.strictEqual(yield* Ref.get(runs), 1)
      return { happened: Effect.map(Ref.get(runs), (n) => n >= 2) }
    })
  },
  {
    name: "Idempotency ttl: a stored result lives exactly its ttl",
    bound: SECOND,
    start: (_t) => Effect.gen(function*() {
      const idem = yield* Idempotency.make<number, never>({ ttl: "1 second", name: unique("ttl") })
      const executions = yield* Ref.make(0)
      const run = idem.run("k", Ref.updateAndGet(executions, (n) => n + 1))
      assert.strictEqual(yield* run, 1)
      return { happened: Effect.map(Effect.orDie(run), (n) => n === 2) }
    })
  },
  {
    name: "Fallback.staleIfError ttl: a remembered value is served exactly until its ttl (and its age is right)",
    bound: SECOND,
    start: (t) => Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "1 second", maxEntries: 10, name: unique("stale") })
      yield* cache(Effect.succeed(1))
      const t0 = yield* t.now
      return {
        happened: Effect.gen(function*() {
          const served = yield* Effect.either(cache.serve(Effect.fail("down")))
          if (Either.isRight(served)) {
            assert.isTrue(served.right.stale)
            if (served.right._tag === "Stale") {
              assert.strictEqual(Duration.toMillis(served.right.age), (yield* t.now) - t0, "age")
            }
          }
          return Either.isLeft(served)
        })
      }
    })
  },
  {
    name: "Chaos.latency: the call starts exactly `delay` later",
    bound: SECOND,
    start: (_t) => Effect.gen(function*() {
      const ran = yield* Ref.make(false)
      yield* Effect.fork(Chaos.latency({ rate: 1, delay: "1 second" })(Ref.set(ran, true)))
      return { happened: Ref.get(ran) }
    })
  }
]

describe("issue 15 §1: every bound holds to the millisecond while the wall clock steps an hour", () => {
  it.effect("issue 15: Testing.withSteppedWallClock keeps TestClock in control (its documented example: TestClock.adjust inside it)", () =>
    Testing.withSteppedWallClock((wall) =>
      Effect.gen(function*() {
        const call = yield* Effect.fork(Effect.never.pipe(Timeout.make("1 second")))
        yield* wall.back("1 hour")
        yield* TestClock.adjust("1 second")
        const exit = yield* Fiber.await(call)
        assert.isTrue(Exit.isFailure(exit))
      })
    ))

  it.effect("issue 15: Testing.withSteppedWallClock steps Clock.currentTimeMillis only, both ways", () =>
    stepped((wall, t) =>
      Effect.gen(function*() {
        const wall0 = yield* Clock.currentTimeMillis
        const nanos0 = yield* Clock.currentTimeNanos
        yield* wall.back("1 hour")
        assert.strictEqual((yield* Clock.currentTimeMillis) - wall0, -HOUR)
        assert.strictEqual(yield* wall.offset(), -HOUR)
        yield* wall.forward("2 hours")
        yield* t.adjust(5)
        assert.strictEqual((yield* Clock.currentTimeMillis) - wall0, HOUR + 5)
        assert.strictEqual((yield* Clock.currentTimeNanos) - nanos0, BigInt(5_000_000))
      })
    ))

  for (const c of boundedCases) {
    for (const direction of DIRECTIONS) {
      it.scoped(`issue 15: ${c.name} (wall clock stepped ${direction} 1 hour)`, () =>
        stepped((wall, t) =>
          Effect.gen(function*() {
            const { happened, verify } = yield* c.start(t)
            yield* holdsToTheMillisecond(t, wall, direction, c.bound, happened)
            if (verify !== undefined) yield* verify
          })
        ))
    }
  }

  for (const direction of DIRECTIONS) {
    it.scoped(`issue 15: CircuitBreaker slowCall: a call of exactly slowCall.duration is not slow, 1 ms more is (wall stepped ${direction})`, () =>
      stepped((wall, t) =>
        Effect.gen(function*() {
          const stateAfter = (millis: number) =>
            Effect.gen(function*() {
              const cb = yield* CircuitBreaker.make({
                tripPolicy: CircuitBreaker.consecutive(1),
                openDuration: "1 minute",
                slowCall: { duration: "1 second", threshold: 1 }
              })
              const call = yield* Effect.fork(cb(Effect.sleep(millis)))
              yield* t.settle
              yield* t.adjust(Math.floor(millis / 2))
              yield* stepWall(wall, direction)
              yield* t.adjust(millis - Math.floor(millis / 2))
              yield* Fiber.join(call)
              return (yield* cb.state())._tag
            })
          assert.strictEqual(yield* stateAfter(SECOND), "Closed", "a call of exactly 1 s is not slow")
          assert.strictEqual(yield* stateAfter(SECOND + 1), "Open", "a call of 1001 ms is slow")
        })
      ))

    it.scoped(`issue 15: Health latencyMillis is the check's real duration (wall stepped ${direction})`, () =>
      stepped((wall, t) =>
        Effect.gen(function*() {
          const health = Context.get(yield* Layer.build(Health.layer()), Health.Health)
          yield* health.register({ name: "slow", check: Effect.sleep("500 millis"), interval: "1 hour" })
          yield* t.settle
          yield* t.adjust(250)
          yield* stepWall(wall, direction)
          yield* t.adjust(250)
          const result = Option.getOrThrow(yield* health.result("slow"))
          assert.isFalse(result.pending)
          assert.strictEqual(result.latencyMillis, 500)
        })
      ))

    it.scoped(`issue 15: Timeout.remaining counts down on monotonic time (wall stepped ${direction})`, () =>
      stepped((wall, t) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(
            Effect.gen(function*() {
              yield* Effect.sleep("400 millis")
              yield* stepWall(wall, direction)
              yield* Effect.sleep("100 millis")
              return yield* Timeout.remaining
            }).pipe(Timeout.make("1 second"))
          )
          yield* t.adjust(500)
          assert.deepStrictEqual(yield* Fiber.join(fiber), Option.some(Duration.millis(500)))
        })
      ))

    it.scoped(`issue 15: RateLimiter retryAfter is exact after a step (wall stepped ${direction})`, () =>
      stepped((wall, t) =>
        Effect.gen(function*() {
          const limiter = yield* RateLimiter.make({ limit: 1, window: "10 seconds", name: unique("retry-after") })
          yield* limiter(Effect.void)
          yield* t.adjust(4_000)
          yield* stepWall(wall, direction)
          const e = yield* Effect.flip(limiter(Effect.void))
          assert.strictEqual(Duration.toMillis((e as RateLimiter.RateLimitExceededError).retryAfter), 6_000)
        })
      ))

    it.scoped(`issue 15: an open circuit's retryAfter is the break left (wall stepped ${direction})`, () =>
      stepped((wall, t) =>
        Effect.gen(function*() {
          const cb = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "10 seconds" })
          yield* Effect.exit(cb(Effect.fail(new Boom())))
          yield* t.adjust(4_000)
          yield* stepWall(wall, direction)
          const e = yield* Effect.flip(cb(Effect.void))
          assert.strictEqual(tagOf(e), "CircuitBreakerError")
          const retryAfter = (e as CircuitBreaker.CircuitBreakerError).retryAfter
          assert.strictEqual(retryAfter === undefined ? undefined : Duration.toMillis(retryAfter), 6_000)
        })
      ))
  }
})

// --- 2. a deadline is scoped to its timeout's region ---------------------------------------

type Forker = (self: Effect.Effect<void, unknown>) => Effect.Effect<Fiber.RuntimeFiber<void, unknown>, never, Scope.Scope>

const forkers: ReadonlyArray<readonly [string, Forker]> = [
  ["Effect.forkDaemon", (self) => Effect.forkDaemon(self)],
  [
    "Effect.forkIn(another scope)",
    (self) => Effect.flatMap(Scope.make(), (scope) => Effect.tap(Effect.forkIn(self, scope), () => Effect.addFinalizer(() => Scope.close(scope, Exit.void))))
  ]
]

/**
 * Runs `region` under `Timeout.make(timeout)`; the region forks `background`
 * with `fork` and returns at once. `background` starts its work only once
 * the timeout has returned.
 */
const outliving = (fork: Forker, timeout: Duration.DurationInput, background: Effect.Effect<void, unknown>) =>
  Effect.gen(function*() {
    const go = yield* Deferred.make<void>()
    const fiber = yield* fork(Effect.zipRight(Deferred.await(go), background)).pipe(Timeout.make(timeout))
    // the timeout has returned: its region is over
    yield* Deferred.succeed(go, undefined)
    return fiber
  })

describe("issue 15 §2: a deadline ends with its timeout's region", () => {
  for (const [forkName, fork] of forkers) {
    it.scoped(`issue 15: Timeout.remaining is Some inside the region and None in a fiber forked by ${forkName} after it`, () =>
      Effect.gen(function*() {
        const seen: Array<Option.Option<Duration.Duration>> = []
        const inside = yield* Deferred.make<void>()
        const after = yield* Deferred.make<void>()
        const fiber = yield* Effect.gen(function*() {
          const f = yield* fork(Effect.gen(function*() {
            seen.push(yield* Timeout.remaining)
            yield* Deferred.succeed(inside, undefined)
            yield* Deferred.await(after)
            seen.push(yield* Timeout.remaining)
          }))
          yield* Deferred.await(inside)
          return f
        }).pipe(Timeout.make("10 seconds"))
        yield* Deferred.succeed(after, undefined)
        yield* Fiber.join(fiber)
        assert.deepStrictEqual(seen, [Option.some(Duration.seconds(10)), Option.none()])
      }))

    it.scoped(`issue 15: a Retry in a fiber forked by ${forkName} that outlives the timeout retries with its full schedule`, () =>
      Effect.gen(function*() {
        const { attempts, call } = yield* failing
        const retry = Retry.policy({ schedule: Retry.constant("2 seconds"), times: 3 })
        const reasons = yield* gaveUpReasons(retry)
        const fiber = yield* outliving(fork, "1 second", Effect.ignore(call.pipe(retry)))
        yield* TestClock.adjust(6 * SECOND)
        yield* Fiber.join(fiber)
        assert.strictEqual(yield* Ref.get(attempts), 4)
        assert.deepStrictEqual(reasons, ["Exhausted"])
      }))

    it.scoped(`issue 15: a Retry started in a fiber forked by ${forkName} while the region is live sees the deadline; once the region ended it does not`, () =>
      Effect.gen(function*() {
        // started at 0 inside a 10 s timeout whose region ends at once: attempts at 0, 3, 6, 9 s (the last
        // retry ends past the old deadline, which no longer exists)
        const { attempts, call } = yield* failing
        const retry = Retry.policy({ schedule: Retry.constant("3 seconds"), times: 3 })
        const reasons = yield* gaveUpReasons(retry)
        const fiber = yield* fork(Effect.ignore(call.pipe(retry))).pipe(Timeout.make("10 seconds"))
        yield* TestClock.adjust(9 * SECOND)
        yield* Fiber.join(fiber)
        assert.strictEqual(yield* Ref.get(attempts), 4)
        assert.deepStrictEqual(reasons, ["Exhausted"])
      }))

    it.scoped(`issue 15: while the region is live, a Retry in a fiber forked by ${forkName} gives up at its deadline`, () =>
      Effect.gen(function*() {
        const { attempts, call } = yield* failing
        const retry = Retry.policy({ schedule: Retry.constant("2 seconds"), times: 3 })
        const reasons = yield* gaveUpReasons(retry)
        const result = yield* Effect.gen(function*() {
          const f = yield* fork(Effect.ignore(call.pipe(retry)))
          return yield* Fiber.join(f) // the region waits for it: still live
        }).pipe(Timeout.make("1 second"), Effect.fork)
        yield* settle
        yield* Fiber.join(result)
        assert.strictEqual(yield* Ref.get(attempts), 1)
        assert.deepStrictEqual(reasons, ["Deadline"])
      }))

    it.scoped(`issue 15: a RateLimiter delayed call in a fiber forked by ${forkName} that outlives the timeout is not rejected for the old deadline`, () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 1, window: "10 seconds", onExceeded: "delay", name: unique("daemon") })
        yield* limiter(Effect.void)
        const ran = yield* Ref.make(false)
        const fiber = yield* outliving(fork, "1 second", limiter(Ref.set(ran, true)))
        yield* TestClock.adjust(10 * SECOND)
        yield* Fiber.join(fiber)
        assert.isTrue(yield* Ref.get(ran))
      }))

    it.scoped(`issue 15: while the region is live, a RateLimiter delayed call in a fiber forked by ${forkName} is rejected for the deadline`, () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 1, window: "10 seconds", onExceeded: "delay", name: unique("live") })
        yield* limiter(Effect.void)
        const exit = yield* Effect.gen(function*() {
          const f = yield* fork(Effect.asVoid(limiter(Effect.void)))
          return yield* Fiber.await(f)
        }).pipe(Timeout.make("1 second"))
        assert.isTrue(Exit.isFailure(exit))
        const e = Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)) : undefined
        assert.strictEqual((e as RateLimiter.RateLimitExceededError).reason, "Deadline")
      }))

    it.scoped(`issue 15: an inner Timeout in a fiber forked by ${forkName} that outlives the outer one is bounded by its own duration only`, () =>
      Effect.gen(function*() {
        const result = yield* Deferred.make<string, unknown>()
        yield* fork(
          Deferred.complete(result, Effect.as(Effect.sleep("5 seconds"), "done").pipe(Timeout.make("10 seconds", { name: "inner" })))
        ).pipe(Timeout.make("1 second", { name: "outer" }))
        yield* TestClock.adjust(5 * SECOND)
        assert.strictEqual(yield* Deferred.await(result), "done")
      }))

    it.scoped(`issue 15: an Idempotency caller in a fiber forked by ${forkName} joining after the timeout returned waits for the execution`, () =>
      Effect.gen(function*() {
        const idem = yield* Idempotency.make<string, never>({ ttl: "1 hour", name: unique("daemon-join") })
        yield* Effect.fork(idem.run("k", Effect.as(Effect.sleep("5 seconds"), "first")))
        yield* settle
        const result = yield* Deferred.make<string, unknown>()
        yield* outliving(fork, "1 second", Deferred.complete(result, idem.run("k", Effect.succeed("second"))))
        yield* TestClock.adjust(5 * SECOND)
        assert.strictEqual(yield* Deferred.await(result), "first")
      }))

    it.scoped(`issue 15: a Bulkhead wait in a fiber forked by ${forkName} that outlives the timeout is bounded by its own maxWait only`, () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "5 seconds" })
        yield* occupy(bulkhead)
        const result = yield* Ref.make<Either.Either<void, unknown> | undefined>(undefined)
        const t0 = yield* TestClock.currentTimeMillis
        const ended = yield* Ref.make(-1)
        yield* outliving(
          fork,
          "1 second",
          Effect.either(bulkhead(Effect.void)).pipe(
            Effect.flatMap((r) => Effect.zipRight(Ref.set(result, r), Effect.flatMap(elapsedSince(t0), (t) => Ref.set(ended, t))))
          )
        )
        yield* TestClock.adjust(5 * SECOND)
        assert.strictEqual(yield* Ref.get(ended), 5 * SECOND)
        const r = yield* Ref.get(result)
        assert.isTrue(r !== undefined && Either.isLeft(r))
        const e = (r as Either.Left<unknown, void>).left as Bulkhead.BulkheadFullError
        assert.strictEqual(e._tag, "BulkheadFullError")
        assert.strictEqual(e.reason, "MaxWaitExceeded")
      }))

    it.scoped(`issue 15: a Bulkhead caller queued in a fiber forked by ${forkName} while the region was live is not failed by the deadline once the region ended`, () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "5 seconds" })
        yield* occupy(bulkhead)
        const t0 = yield* TestClock.currentTimeMillis
        const ended = yield* Ref.make<readonly [number, string] | undefined>(undefined)
        // queued at 0 inside a 1 s timeout whose region returns at once (the queued fiber outlives it)
        yield* Effect.gen(function*() {
          yield* fork(
            Effect.either(bulkhead(Effect.void)).pipe(
              Effect.flatMap((r) =>
                Effect.flatMap(elapsedSince(t0), (t) =>
                  Ref.set(ended, [t, Either.isLeft(r) ? `${tagOf(r.left)} ${(r.left as any).reason ?? ""}`.trim() : "ok"])
                )
              )
            )
          )
          yield* settle
        }).pipe(Timeout.make("1 second"))
        yield* TestClock.adjust(5 * SECOND)
        assert.deepStrictEqual(yield* Ref.get(ended), [5 * SECOND, "BulkheadFullError MaxWaitExceeded"])
      }))
  }
})

// --- 3. consumers inside Effect.uninterruptible under a Timeout ------------------------------

describe("issue 15 §3: every consumer bounds its own wait by the deadline, even where the timeout cannot interrupt", () => {
  it.scoped("issue 15: a Bulkhead queued caller inside Effect.uninterruptible fails at the deadline with the Timeout's TimeoutError", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "5 seconds" })
      yield* occupy(bulkhead)
      const call = yield* Effect.fork(
        Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("1 second", { name: "outer" }))
      )
      yield* settle
      yield* TestClock.adjust(SECOND - 1)
      assert.isFalse(yield* isDone(call), "1 ms before the deadline")
      yield* TestClock.adjust(1)
      assert.isTrue(yield* isDone(call), "at the deadline")
      const e = yield* failureOf(call)
      assert.strictEqual(tagOf(e), "TimeoutError")
      assert.strictEqual((e as Errors.TimeoutError).policy, "outer")
      assert.strictEqual(bulkhead.unsafeStats().queued, 0, "the caller left the queue")
    }))

  it.scoped("issue 15: a Bulkhead queued caller inside Effect.uninterruptible without maxWait fails at the deadline (not never)", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1 })
      yield* occupy(bulkhead)
      const call = yield* Effect.fork(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("1 second")))
      yield* settle
      yield* TestClock.adjust(SECOND)
      assert.isTrue(yield* isDone(call))
      assert.strictEqual(tagOf(yield* failureOf(call)), "TimeoutError")
    }))

  it.scoped("issue 15: a Bulkhead maxWait equal to the deadline (a tie) fails with the deadline's TimeoutError", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second" })
      yield* occupy(bulkhead)
      const call = yield* Effect.fork(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("1 second")))
      yield* settle
      yield* TestClock.adjust(SECOND)
      assert.strictEqual(tagOf(yield* failureOf(call)), "TimeoutError")
    }))

  it.scoped("issue 15: a Bulkhead maxWait shorter than the deadline still rejects at maxWait inside Effect.uninterruptible", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "500 millis" })
      yield* occupy(bulkhead)
      const call = yield* Effect.fork(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("1 second")))
      yield* settle
      yield* TestClock.adjust(499)
      assert.isFalse(yield* isDone(call))
      yield* TestClock.adjust(1)
      const e = yield* failureOf(call)
      assert.strictEqual((e as Bulkhead.BulkheadFullError).reason, "MaxWaitExceeded")
    }))

  it.scoped("issue 15: a Retry inside Effect.uninterruptible never sleeps past the deadline: it gives up (reason Deadline) by then", () =>
    Effect.gen(function*() {
      const { attempts, call } = yield* failing
      const retry = Retry.policy({ schedule: Retry.constant("300 millis"), times: 10 })
      const reasons = yield* gaveUpReasons(retry)
      const t0 = yield* TestClock.currentTimeMillis
      const fiber = yield* Effect.fork(Effect.uninterruptible(call.pipe(retry)).pipe(Timeout.make("1 second")))
      yield* settle
      yield* TestClock.adjust(SECOND)
      assert.isTrue(yield* isDone(fiber), "ended by the deadline")
      yield* Fiber.await(fiber)
      assert.strictEqual(yield* Ref.get(attempts), 4) // 0, 300, 600, 900; the next (1200) is past the deadline
      assert.deepStrictEqual(reasons, ["Deadline"])
      assert.isAtMost(yield* elapsedSince(t0), SECOND)
    }))

  it.scoped("issue 15: a Retry with attempts that take time, inside Effect.uninterruptible, ends by the deadline", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const call = Effect.zipRight(Ref.update(attempts, (n) => n + 1), Effect.zipRight(Effect.sleep("400 millis"), Effect.fail(new Boom())))
      const retry = Retry.policy({ schedule: Retry.constant("100 millis"), times: 10 })
      const reasons = yield* gaveUpReasons(retry)
      const fiber = yield* Effect.fork(Effect.uninterruptible(call.pipe(retry)).pipe(Timeout.make("1 second")))
      yield* settle
      yield* TestClock.adjust(SECOND)
      assert.isTrue(yield* isDone(fiber), "ended by the deadline")
      assert.deepStrictEqual(reasons, ["Deadline"])
      assert.strictEqual(yield* Ref.get(attempts), 2)
    }))

  it.scoped("issue 15: a RateLimiter delayed call inside Effect.uninterruptible whose slot is past the deadline is rejected at once (reason Deadline)", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 1, window: "10 seconds", onExceeded: "delay", name: unique("unint") })
      yield* limiter(Effect.void)
      const ran = yield* Ref.make(false)
      const fiber = yield* Effect.fork(Effect.uninterruptible(limiter(Ref.set(ran, true))).pipe(Timeout.make("1 second")))
      yield* settle
      assert.isTrue(yield* isDone(fiber), "rejected without waiting")
      const e = yield* failureOf(fiber)
      assert.strictEqual(tagOf(e), "RateLimitExceededError")
      assert.strictEqual((e as RateLimiter.RateLimitExceededError).reason, "Deadline")
      assert.isFalse(yield* Ref.get(ran))
      // and it was not charged: the slot at 10 s is still free for a call without a deadline
      const later = yield* Effect.fork(limiter(Ref.set(ran, true)))
      yield* TestClock.adjust(10 * SECOND)
      yield* Fiber.join(later)
      assert.isTrue(yield* Ref.get(ran))
    }))

  it.scoped("issue 15: a RateLimiter delayed call inside Effect.uninterruptible whose slot comes before the deadline waits and runs", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 2, window: "1 second", onExceeded: "delay", name: unique("fits") })
      yield* limiter(Effect.void)
      yield* limiter(Effect.void)
      const fiber = yield* Effect.fork(Effect.uninterruptible(limiter(Effect.succeed("ran"))).pipe(Timeout.make("1 second")))
      yield* settle
      yield* TestClock.adjust(499)
      assert.isFalse(yield* isDone(fiber))
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Fiber.join(fiber), "ran")
    }))

  it.scoped("issue 15: an Idempotency caller joining an in-flight execution is bounded by its Timeout (interruptible)", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make<string, never>({ ttl: "1 hour", name: unique("join") })
      yield* Effect.fork(idem.run("k", Effect.as(Effect.sleep("10 seconds"), "done")))
      yield* settle
      const joiner = yield* Effect.fork(idem.run("k", Effect.succeed("mine")).pipe(Timeout.make("1 second")))
      yield* settle
      yield* TestClock.adjust(SECOND)
      assert.isTrue(yield* isDone(joiner))
      assert.strictEqual(tagOf(yield* failureOf(joiner)), "TimeoutError")
    }))

  it.scoped("issue 15: an Idempotency caller joining an in-flight execution inside Effect.uninterruptible fails at its deadline", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make<string, never>({ ttl: "1 hour", name: unique("join-unint") })
      const first = yield* Effect.fork(idem.run("k", Effect.as(Effect.sleep("10 seconds"), "done")))
      yield* settle
      const joiner = yield* Effect.fork(
        Effect.uninterruptible(idem.run("k", Effect.succeed("mine"))).pipe(Timeout.make("1 second", { name: "joiner" }))
      )
      yield* settle
      yield* TestClock.adjust(SECOND - 1)
      assert.isFalse(yield* isDone(joiner))
      yield* TestClock.adjust(1)
      assert.isTrue(yield* isDone(joiner), "at the deadline, not when the execution ends (10 s)")
      const e = yield* failureOf(joiner)
      assert.strictEqual(tagOf(e), "TimeoutError")
      assert.strictEqual((e as Errors.TimeoutError).policy, "joiner")
      // the shared execution goes on for its own caller
      yield* TestClock.adjust(9 * SECOND)
      assert.strictEqual(yield* Fiber.join(first), "done")
    }))

  it.scoped("issue 15: an inner Timeout inside Effect.uninterruptible fires at the outer deadline with the outer error", () =>
    Effect.gen(function*() {
      // the region is uninterruptible, the inner timeout's own work is not (it can cut that)
      const fiber = yield* Effect.fork(
        Effect.uninterruptible(Effect.interruptible(Effect.never).pipe(Timeout.make("10 seconds", { name: "inner" }))).pipe(
          Timeout.make("1 second", { name: "outer" })
        )
      )
      yield* settle
      yield* TestClock.adjust(SECOND)
      assert.isTrue(yield* isDone(fiber))
      assert.strictEqual(((yield* failureOf(fiber)) as Errors.TimeoutError).policy, "outer")
    }))
})

// --- 4. any duration ---------------------------------------------------------------------------

const expectAt = <A, E>(fiber: Fiber.Fiber<A, E>, millis: number) =>
  Effect.gen(function*() {
    yield* settle
    yield* TestClock.adjust(millis - 1)
    assert.isFalse(yield* isDone(fiber), `not done 1 ms before ${millis} ms`)
    yield* TestClock.adjust(1)
    assert.isTrue(yield* isDone(fiber), `done at ${millis} ms`)
  })

describe("issue 15 §4: any duration works; infinity is no timeout", () => {
  for (const implementation of ["fast", "general"] as const) {
    it.effect(`issue 15: Timeout.make("30 days") (${implementation}) fires at exactly 30 days`, () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.never.pipe(Timeout.make("30 days", { implementation })))
        yield* expectAt(fiber, 30 * DAY)
        const e = yield* failureOf(fiber)
        assert.strictEqual(tagOf(e), "TimeoutError")
        assert.strictEqual(Duration.toMillis((e as Errors.TimeoutError).duration), 30 * DAY)
      }))

    for (const infinite of [Duration.infinity, Infinity, "Infinity"] as const) {
      it.effect(`issue 15: Timeout.make(${String(infinite)}) (${implementation}) never fires: work ending after 400 days succeeds`, () =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(
            Effect.as(Effect.sleep("400 days"), "done").pipe(Timeout.make(infinite as Duration.DurationInput, { implementation }))
          )
          yield* TestClock.adjust(400 * DAY)
          assert.strictEqual(yield* Fiber.join(fiber), "done")
        }))
    }

    it.effect(`issue 15: an infinite Timeout (${implementation}) inside a finite one: the enclosing deadline still applies`, () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(
          Effect.never.pipe(Timeout.make(Duration.infinity, { implementation }), Timeout.make("1 second", { name: "outer" }))
        )
        yield* expectAt(fiber, SECOND)
        assert.strictEqual(((yield* failureOf(fiber)) as Errors.TimeoutError).policy, "outer")
      }))

    it.effect(`issue 15: Timeout.remaining under an infinite Timeout (${implementation}) is None`, () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* Timeout.remaining.pipe(Timeout.make(Duration.infinity, { implementation })), Option.none())
      }))
  }

  it.effect("issue 15: a Timeout of 40 days inside one of 30 days fires at 30 days; Timeout.remaining reads 30 days", () =>
    Effect.gen(function*() {
      const remaining = yield* Timeout.remaining.pipe(Timeout.make("40 days"), Timeout.make("30 days"))
      assert.deepStrictEqual(remaining, Option.some(Duration.millis(30 * DAY)))
      const fiber = yield* Effect.fork(Effect.never.pipe(Timeout.make("40 days"), Timeout.make("30 days")))
      yield* expectAt(fiber, 30 * DAY)
    }))

  it.scoped("issue 15: Bulkhead maxWait \"30 days\" rejects at exactly 30 days", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "30 days", metricsInterval: Duration.infinity })
      yield* occupy(bulkhead)
      const queued = yield* Effect.fork(bulkhead(Effect.void))
      yield* expectAt(queued, 30 * DAY)
      assert.strictEqual(((yield* failureOf(queued)) as Bulkhead.BulkheadFullError).reason, "MaxWaitExceeded")
    }))

  it.scoped("issue 15: a Bulkhead wait under a 30-day Timeout fails at exactly 30 days", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, metricsInterval: Duration.infinity })
      yield* occupy(bulkhead)
      const queued = yield* Effect.fork(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("30 days")))
      yield* expectAt(queued, 30 * DAY)
      assert.strictEqual(tagOf(yield* failureOf(queued)), "TimeoutError")
    }))

  it.effect("issue 15: Hedge delay \"30 days\": the second attempt starts at exactly 30 days", () =>
    Effect.gen(function*() {
      const started = yield* Ref.make(0)
      const hedge = Hedge.make({ delay: "30 days", maxAttempts: 2 })
      yield* Effect.fork(
        hedge(Effect.flatMap(Hedge.currentAttempt, (n) => Effect.zipRight(Ref.update(started, (m) => Math.max(m, n)), Effect.never)))
      )
      yield* settle
      yield* TestClock.adjust(30 * DAY - 1)
      assert.strictEqual(yield* Ref.get(started), 1)
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Ref.get(started), 2)
    }))

  for (const algorithm of ["token-bucket", "fixed-window"] as const) {
    it.scoped(`issue 15: RateLimiter (${algorithm}) with a 60-day window: retryAfter is 60 days, the next token comes at exactly 60 days`, () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 1, window: "60 days", algorithm, name: unique("long") }).pipe(
          Effect.provide(RateLimiter.layerStoreMemory({ sweepInterval: Duration.infinity }))
        )
        yield* limiter(Effect.void)
        const e = yield* Effect.flip(limiter(Effect.void))
        assert.strictEqual(Duration.toMillis((e as RateLimiter.RateLimitExceededError).retryAfter), 60 * DAY)
        yield* TestClock.adjust(60 * DAY - 1)
        assert.isTrue(Either.isLeft(yield* Effect.either(limiter(Effect.void))))
        yield* TestClock.adjust(1)
        assert.isTrue(Either.isRight(yield* Effect.either(limiter(Effect.void))))
      }))

    it.scoped(`issue 15: RateLimiter (${algorithm}, "delay") with a 60-day window: a delayed call runs at exactly 60 days`, () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ limit: 1, window: "60 days", algorithm, onExceeded: "delay", name: unique("long-delay") }).pipe(
          Effect.provide(RateLimiter.layerStoreMemory({ sweepInterval: Duration.infinity }))
        )
        yield* limiter(Effect.void)
        const fiber = yield* Effect.fork(limiter(Effect.void))
        yield* expectAt(fiber, 60 * DAY)
      }))
  }

  it.scoped("issue 15: CircuitBreaker openDuration \"40 days\": the break lasts exactly 40 days", () =>
    Effect.gen(function*() {
      const cb = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "40 days" })
      yield* Effect.exit(cb(Effect.fail(new Boom())))
      const e = yield* Effect.flip(cb(Effect.void))
      const retryAfter = (e as CircuitBreaker.CircuitBreakerError).retryAfter
      assert.strictEqual(retryAfter === undefined ? undefined : Duration.toMillis(retryAfter), 40 * DAY)
      yield* TestClock.adjust(40 * DAY - 1)
      assert.strictEqual((yield* cb.state())._tag, "Open", "still open 1 ms before 40 days")
      yield* TestClock.adjust(1)
      assert.isTrue(Either.isRight(yield* Effect.either(cb(Effect.void))), "a probe is admitted at 40 days")
    }))

  it.effect("issue 15: Retry with Schedule.spaced(\"30 days\") retries at exactly 30 days", () =>
    Effect.gen(function*() {
      const { attempts, call } = yield* failing
      yield* Effect.fork(call.pipe(Retry.policy({ schedule: Schedule.spaced("30 days"), times: 1 })))
      yield* settle
      yield* TestClock.adjust(30 * DAY - 1)
      assert.strictEqual(yield* Ref.get(attempts), 1)
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Ref.get(attempts), 2)
    }))

  it.effect("issue 15: Chaos.latency of 30 days delays the call exactly 30 days", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Chaos.latency({ rate: 1, delay: "30 days" })(Effect.void))
      yield* expectAt(fiber, 30 * DAY)
    }))

  it.effect("issue 15: user-facing timeout-like options accept infinity (Hedge delay, Bulkhead maxWait, RateLimiter maxDelay, pipeline timeouts, onRetryTimeout)", () =>
    Effect.gen(function*() {
      const accepted: Array<string> = []
      const tryIt = (name: string, f: () => unknown) =>
        Effect.gen(function*() {
          const r = yield* Effect.either(Effect.suspend(() => {
            const v = f()
            return Effect.isEffect(v) ? Effect.scoped(v as Effect.Effect<unknown, unknown, Scope.Scope>) : Effect.succeed(v)
          }))
          if (Either.isRight(r)) accepted.push(name)
        }).pipe(Effect.catchAllDefect(() => Effect.void))
      yield* tryIt("Hedge.delay", () => Hedge.make({ delay: Duration.infinity, maxAttempts: 2 }))
      yield* tryIt("Bulkhead.maxWait", () => Bulkhead.make({ maxConcurrent: 1, maxWait: Duration.infinity }))
      yield* tryIt("RateLimiter.maxDelay", () =>
        RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay", maxDelay: Duration.infinity }))
      yield* tryIt("Policy.pipeline.timeout", () => Policy.pipeline({ timeout: Duration.infinity }))
      yield* tryIt("Policy.pipeline.attemptTimeout", () => Policy.pipeline({ attemptTimeout: "Infinity" as Duration.DurationInput }))
      yield* tryIt("Retry.onRetryTimeout", () => Retry.policy({ onRetryTimeout: Duration.infinity }))
      assert.deepStrictEqual(accepted, [
        "Hedge.delay",
        "Bulkhead.maxWait",
        "RateLimiter.maxDelay",
        "Policy.pipeline.timeout",
        "Policy.pipeline.attemptTimeout",
        "Retry.onRetryTimeout"
      ])
    }))

  it.scoped("issue 15: the library's own safety bounds reject infinity with InvalidOptionsError (halfOpen.probeTimeout)", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(
        CircuitBreaker.make({
          tripPolicy: CircuitBreaker.consecutive(1),
          openDuration: "1 second",
          halfOpen: { probeTimeout: Duration.infinity }
        })
      )
      assert.strictEqual(e._tag, "InvalidOptionsError")
      assert.strictEqual((e as Errors.InvalidOptionsError).option, "halfOpen.probeTimeout")
    }))

  it.effect("issue 15: Policy.pipeline({ timeout: \"Infinity\" }) is no timeout: work ending after 400 days succeeds", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.as(Effect.sleep("400 days"), "done").pipe(Policy.pipeline({ timeout: "Infinity" as Duration.DurationInput })))
      yield* TestClock.adjust(400 * DAY)
      assert.strictEqual(yield* Fiber.join(fiber), "done")
    }))

  it.scoped("issue 15: a Health check with an infinite timeout is never timed out", () =>
    Effect.gen(function*() {
      const health = Context.get(yield* Layer.build(Health.layer()), Health.Health)
      yield* health.register({ name: "slow", check: Effect.sleep("400 days"), timeout: Duration.infinity, interval: "1000 days" })
      yield* settle
      yield* TestClock.adjust(400 * DAY)
      const r = Option.getOrThrow(yield* health.result("slow"))
      assert.strictEqual(r.status, "healthy")
    }))
})

// --- 6. Config spelling --------------------------------------------------------------------------

class AppTimeout extends Context.Tag("test/issue15/AppTimeout")<AppTimeout, Timeout.Timeout>() {}

const withConfig = (map: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(map))))

describe("issue 15 §6: an infinite duration through Config", () => {
  it.effect("issue 15 (finding): Config.duration itself rejects \"Infinity\" (Effect's parser)", () =>
    Effect.gen(function*() {
      assert.isTrue(Either.isLeft(yield* Effect.either(Config.duration("TIMEOUT"))))
    }).pipe(withConfig({ TIMEOUT: "Infinity" })))

  for (const spelling of ["Infinity", "infinity", "  INFINITY "]) {
    it.effect(`issue 15: Timeout.durationConfig reads ${JSON.stringify(spelling)} as infinity; Timeout.layerConfig then gives no timeout`, () =>
      Effect.gen(function*() {
        assert.isFalse(Duration.isFinite(yield* Timeout.durationConfig("TIMEOUT")))
        const timeout = yield* Effect.provide(AppTimeout, Timeout.layerConfig(AppTimeout, { duration: Timeout.durationConfig("TIMEOUT") }))
        assert.isFalse(Duration.isFinite(timeout.duration))
        const fiber = yield* Effect.fork(Effect.as(Effect.sleep("400 days"), "done").pipe(timeout))
        yield* TestClock.adjust(400 * DAY)
        assert.strictEqual(yield* Fiber.join(fiber), "done")
      }).pipe(withConfig({ TIMEOUT: spelling })))
  }

  it.effect("issue 15: Timeout.durationConfig reads \"30 days\"; the timeout fires at exactly 30 days", () =>
    Effect.gen(function*() {
      const timeout = yield* Effect.provide(AppTimeout, Timeout.layerConfig(AppTimeout, { duration: Timeout.durationConfig("TIMEOUT") }))
      const fiber = yield* Effect.fork(Effect.never.pipe(timeout))
      yield* expectAt(fiber, 30 * DAY)
    }).pipe(withConfig({ TIMEOUT: "30 days" })))

  it.effect("issue 15: Timeout.durationConfig: a value that is no duration is a ConfigError, a missing one too (typed, not a defect)", () =>
    Effect.gen(function*() {
      for (const text of ["soon", "", "1 fortnight"]) {
        const r = yield* Effect.either(Timeout.durationConfig("TIMEOUT").pipe(withConfig({ TIMEOUT: text })))
        assert.isTrue(Either.isLeft(r), JSON.stringify(text))
      }
      assert.isTrue(Either.isLeft(yield* Effect.either(Timeout.durationConfig("TIMEOUT").pipe(withConfig({})))))
    }))

  it.effect("issue 15: Timeout.layerConfig with a negative duration from Config fails with a typed error (InvalidOptionsError or ConfigError)", () =>
    Effect.gen(function*() {
      const r = yield* Effect.either(Effect.provide(AppTimeout, Timeout.layerConfig(AppTimeout, { duration: Timeout.durationConfig("TIMEOUT") })))
      assert.isTrue(Either.isLeft(r))
      if (Either.isLeft(r)) assert.include(["InvalidOptionsError", "And", "Or", "InvalidData", "MissingData"], tagOf(r.left))
    }).pipe(withConfig({ TIMEOUT: "-5 seconds" })))

  it.scoped("issue 15: Bulkhead.layerConfig takes maxWait \"Infinity\" through Timeout.durationConfig (no maxWait)", () =>
    Effect.gen(function*() {
      class B extends Context.Tag("test/issue15/B")<B, Bulkhead.Bulkhead>() {}
      const layer = Bulkhead.layerConfig(B, {
        maxConcurrent: Config.integer("MAX"),
        maxQueue: Config.integer("QUEUE"),
        maxWait: Timeout.durationConfig("WAIT"),
        metricsInterval: Timeout.durationConfig("METRICS")
      })
      const bulkhead = Context.get(yield* Layer.build(layer), B)
      yield* occupy(bulkhead)
      const queued = yield* Effect.fork(bulkhead(Effect.void))
      yield* TestClock.adjust(400 * DAY)
      assert.isFalse(yield* isDone(queued), "still waiting after 400 days: no maxWait")
    }).pipe(withConfig({ MAX: "1", QUEUE: "1", WAIT: "Infinity", METRICS: "Infinity" })))

  it.scoped("issue 15: RateLimiter.layerConfig takes maxDelay \"Infinity\" through Timeout.durationConfig", () =>
    Effect.gen(function*() {
      class L extends Context.Tag("test/issue15/L")<L, RateLimiter.RateLimiter>() {}
      const layer = RateLimiter.layerConfig(L, {
        limit: Config.integer("LIMIT"),
        window: Config.duration("WINDOW"),
        onExceeded: Config.literal("delay")("MODE"),
        maxDelay: Timeout.durationConfig("MAX_DELAY"),
        name: Config.succeed(unique("config"))
      })
      const limiter = Context.get(yield* Layer.build(layer), L)
      yield* limiter(Effect.void)
      const fiber = yield* Effect.fork(limiter(Effect.succeed("ran")))
      yield* expectAt(fiber, 10 * SECOND)
      assert.strictEqual(yield* Fiber.join(fiber), "ran")
    }).pipe(withConfig({ LIMIT: "1", WINDOW: "10 seconds", MODE: "delay", MAX_DELAY: "Infinity" })))
})
