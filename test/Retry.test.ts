import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Clock,
  Config,
  Context,
  Data,
  Duration,
  Effect,
  Exit,
  Fiber,
  FastCheck as fc,
  Metric,
  type MetricKeyType,
  type MetricState,
  Option,
  Random,
  Ref,
  Schedule,
  Stream,
  TestClock
} from "effect"
import { Errors, RateLimiter, Retry, Timeout } from "effect-resilience"
import { runWithClock } from "./utils/clock.js"
import { recordingTracer } from "./utils/tracer.js"
import { numRuns } from "./utils/props.js"

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly n?: number }> {}
class BadRequest extends Data.TaggedError("BadRequest")<{}> {}
class TooMany extends Data.TaggedError("TooMany")<{ readonly retryAfter: Duration.Duration }> {}

/** A dependency that fails `failures` times then succeeds, recording the (TestClock) time of every attempt. */
const flaky = <E>(failures: number, error: (n: number) => E) =>
  Effect.gen(function*() {
    const times = yield* Ref.make<ReadonlyArray<number>>([])
    const call = Effect.gen(function*() {
      const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
      const seen = yield* Ref.updateAndGet(times, (ts) => [...ts, now])
      if (seen.length <= failures) return yield* Effect.fail(error(seen.length))
      return seen.length
    })
    return { call, times: Ref.get(times) }
  })

const relative = (times: ReadonlyArray<number>) => times.map((t) => t - times[0]!)

/** Collects the delays a schedule produces for `n` steps. */
const delaysOf = (schedule: Schedule.Schedule<Duration.Duration>, n: number) =>
  Effect.gen(function*() {
    const out: Array<number> = []
    let state = schedule.initial
    for (let i = 0; i < n; i++) {
      const [next, delay] = yield* schedule.step(0, undefined, state)
      state = next
      out.push(Duration.toMillis(delay))
    }
    return out
  })

describe("Retry schedules", () => {
  it.effect("exponential: base * factor^n, capped by max", () =>
    Effect.gen(function*() {
      const delays = yield* delaysOf(Retry.exponential({ base: "100 millis", factor: 2, max: "1 second" }), 6)
      assert.deepStrictEqual(delays, [100, 200, 400, 800, 1000, 1000])
    }))

  it.effect("exponential: factor defaults to 2 and high attempt counts never overflow", () =>
    Effect.gen(function*() {
      const delays = yield* delaysOf(Retry.exponential({ base: "1 second" }), 2000)
      assert.deepStrictEqual(delays.slice(0, 3), [1000, 2000, 4000])
      for (const d of delays) {
        assert.isTrue(Number.isFinite(d) && d >= 0 && d <= Retry.MAX_DELAY_MILLIS, `delay ${d}`)
      }
      assert.strictEqual(delays[1999], Retry.MAX_DELAY_MILLIS)
    }))

  it.effect("linear and constant", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(
        yield* delaysOf(Retry.linear({ base: "100 millis", step: "50 millis", max: "250 millis" }), 5),
        [100, 150, 200, 250, 250]
      )
      assert.deepStrictEqual(yield* delaysOf(Retry.linear({ base: "100 millis" }), 3), [100, 200, 300])
      assert.deepStrictEqual(yield* delaysOf(Retry.constant("30 millis"), 3), [30, 30, 30])
    }))

  it.effect("jitter is reproducible with a seeded Random", () =>
    Effect.gen(function*() {
      const schedule = Retry.exponential({ base: "100 millis", jitter: "full" })
      const a = yield* delaysOf(schedule, 10).pipe(Effect.withRandom(Random.make(42)))
      const b = yield* delaysOf(schedule, 10).pipe(Effect.withRandom(Random.make(42)))
      const c = yield* delaysOf(schedule, 10).pipe(Effect.withRandom(Random.make(43)))
      assert.deepStrictEqual(a, b)
      assert.notDeepEqual(a, c)
    }))

  it.effect.prop(
    "without jitter, delays are monotone and capped",
    {
      base: fc.integer({ min: 1, max: 10_000 }),
      factor: fc.double({ min: 1, max: 10, noNaN: true }),
      cap: fc.integer({ min: 10_000, max: 1_000_000 })
    },
    ({ base, cap, factor }) =>
      Effect.gen(function*() {
        const delays = yield* delaysOf(Retry.exponential({ base: Duration.millis(base), factor, max: Duration.millis(cap) }), 60)
        for (let i = 0; i < delays.length; i++) {
          assert.isTrue(delays[i]! <= cap)
          if (i > 0) assert.isTrue(delays[i]! >= delays[i - 1]!)
        }
        assert.strictEqual(delays[0], base)
      }),
    { fastCheck: { numRuns: numRuns(100) } }
  )

  it.effect.prop(
    "jittered delays stay within their bounds",
    {
      base: fc.integer({ min: 1, max: 5_000 }),
      cap: fc.integer({ min: 5_000, max: 100_000 }),
      seed: fc.integer()
    },
    ({ base, cap, seed }) =>
      Effect.gen(function*() {
        const n = 30
        const plain = yield* delaysOf(Retry.exponential({ base: Duration.millis(base), max: Duration.millis(cap) }), n)
        const full = yield* delaysOf(
          Retry.exponential({ base: Duration.millis(base), max: Duration.millis(cap), jitter: "full" }),
          n
        )
        const equal = yield* delaysOf(
          Retry.exponential({ base: Duration.millis(base), max: Duration.millis(cap), jitter: "equal" }),
          n
        )
        const decorrelated = yield* delaysOf(
          Retry.exponential({ base: Duration.millis(base), max: Duration.millis(cap), jitter: "decorrelated" }),
          n
        )
        for (let i = 0; i < n; i++) {
          const d = plain[i]!
          assert.isTrue(full[i]! >= 0 && full[i]! <= d, `full ${full[i]} in [0, ${d}]`)
          assert.isTrue(equal[i]! >= d / 2 && equal[i]! <= d, `equal ${equal[i]} in [${d / 2}, ${d}]`)
          assert.isTrue(decorrelated[i]! >= base && decorrelated[i]! <= cap, `decorrelated ${decorrelated[i]}`)
          if (i > 0) assert.isTrue(decorrelated[i]! <= Math.max(base, decorrelated[i - 1]! * 3) + 1e-6)
        }
      }).pipe(Effect.withRandom(Random.make(seed))),
    { fastCheck: { numRuns: numRuns(50) } }
  )

  it("invalid options throw InvalidOptionsError naming the option and range", () => {
    const cases: Array<[() => unknown, string]> = [
      [() => Retry.exponential({ base: "-1 second" }), "base"],
      [() => Retry.exponential({ base: Duration.millis(NaN) }), "base"],
      [() => Retry.exponential({ base: "1 second", factor: 0.5 }), "factor"],
      [() => Retry.exponential({ base: "1 second", factor: NaN }), "factor"],
      [() => Retry.exponential({ base: "1 second", max: "10 millis" }), "max"],
      [() => Retry.exponential({ base: "1 second", jitter: "lots" as any }), "jitter"],
      [() => Retry.linear({ base: Duration.infinity }), "base"],
      [() => Retry.constant(-5), "delay"],
      [() => Retry.policy({ times: -1 }), "times"],
      [() => Retry.policy({ times: 1.5 }), "times"],
      [() => Retry.policy({ maxRetryAfter: "-1 second" }), "maxRetryAfter"]
    ]
    for (const [f, option] of cases) {
      try {
        f()
        assert.fail(`expected ${option} to be rejected`)
      } catch (e) {
        assert.instanceOf(e, Errors.InvalidOptionsError)
        assert.strictEqual((e as Errors.InvalidOptionsError).option, option)
        assert.include((e as Errors.InvalidOptionsError).message, option)
        assert.include((e as Errors.InvalidOptionsError).message, "expected")
      }
    }
  })
})

describe("Retry.policy", () => {
  it.effect("retries at the exact backoff times and returns the first success", () =>
    Effect.gen(function*() {
      const dep = yield* flaky(3, (n) => new Unavailable({ n }))
      const retry = Retry.policy({ schedule: Retry.exponential({ base: "100 millis" }), times: 3 })
      const exit = yield* runWithClock(dep.call.pipe(retry))
      assert.deepStrictEqual(exit, Exit.succeed(4))
      assert.deepStrictEqual(yield* dep.times, [0, 100, 300, 700])
    }))

  it.effect("times counts retries, not attempts; the last error surfaces", () =>
    Effect.gen(function*() {
      const dep = yield* flaky(10, (n) => new Unavailable({ n }))
      const exit = yield* runWithClock(dep.call.pipe(Retry.policy({ schedule: Retry.constant("10 millis"), times: 2 })))
      assert.deepStrictEqual(exit, Exit.fail(new Unavailable({ n: 3 })))
      assert.strictEqual((yield* dep.times).length, 3)
    }))

  it.effect("times: 0 never retries; the default is 3 retries", () =>
    Effect.gen(function*() {
      const none = yield* flaky(10, () => new Unavailable({}))
      yield* runWithClock(none.call.pipe(Retry.policy({ times: 0 })))
      assert.strictEqual((yield* none.times).length, 1)
      const dflt = yield* flaky(10, () => new Unavailable({}))
      yield* runWithClock(dflt.call.pipe(Retry.policy({ schedule: Retry.constant("1 millis") })))
      assert.strictEqual((yield* dflt.times).length, 4)
    }))

  it.effect("forever retries until success", () =>
    Effect.gen(function*() {
      const dep = yield* flaky(50, () => new Unavailable({}))
      const exit = yield* runWithClock(dep.call.pipe(Retry.policy({ schedule: Retry.constant("1 millis"), forever: true })))
      assert.deepStrictEqual(exit, Exit.succeed(51))
    }))

  it.effect("while narrows retries by the typed error", () =>
    Effect.gen(function*() {
      const dep = yield* flaky<Unavailable | BadRequest>(5, (n) => n === 2 ? new BadRequest() : new Unavailable({}))
      const retry = Retry.policy({
        schedule: Retry.constant("1 millis"),
        while: (e: Unavailable | BadRequest) => e._tag === "Unavailable"
      })
      const exit = yield* runWithClock(dep.call.pipe(retry))
      assert.deepStrictEqual(exit, Exit.fail(new BadRequest()))
      assert.strictEqual((yield* dep.times).length, 2)
    }))

  it.effect("until stops at the first matching error; tags() matches by _tag", () =>
    Effect.gen(function*() {
      const dep = yield* flaky<Unavailable | BadRequest>(5, (n) => n === 3 ? new BadRequest() : new Unavailable({}))
      const exit = yield* runWithClock(
        dep.call.pipe(Retry.policy({ schedule: Retry.constant("1 millis"), until: Retry.tags("BadRequest"), times: 10 }))
      )
      assert.deepStrictEqual(exit, Exit.fail(new BadRequest()))
      assert.strictEqual((yield* dep.times).length, 3)
      const dep2 = yield* flaky<Unavailable | BadRequest>(2, () => new Unavailable({}))
      const ok = yield* runWithClock(
        dep2.call.pipe(Retry.policy({ schedule: Retry.constant("1 millis"), while: Retry.tags("Unavailable") }))
      )
      assert.deepStrictEqual(ok, Exit.succeed(3))
    }))

  it.effect("rejections are never retried (by TypeId)", () =>
    Effect.gen(function*() {
      const full = Errors.BulkheadFullError.make({ name: "db", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" })
      const dep = yield* flaky(5, () => full)
      const exit = yield* runWithClock(dep.call.pipe(Retry.policy({ schedule: Retry.constant("1 millis") })))
      assert.deepStrictEqual(exit, Exit.fail(full))
      assert.strictEqual((yield* dep.times).length, 1)
    }))

  it.effect("defects and interruptions are not retried", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const dies = Ref.update(count, (n) => n + 1).pipe(Effect.zipRight(Effect.die("boom")))
      const exit = yield* runWithClock(dies.pipe(Retry.policy({ schedule: Retry.constant("1 millis") })))
      assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Die")
      assert.strictEqual(yield* Ref.get(count), 1)
      const interrupted = Ref.update(count, (n) => n + 1).pipe(Effect.zipRight(Effect.interrupt))
      yield* runWithClock(interrupted.pipe(Retry.policy({ schedule: Retry.constant("1 millis") })))
      assert.strictEqual(yield* Ref.get(count), 2)
    }))

  it.effect("retryAfter is honoured: the next delay is max(backoff, retryAfter), capped", () =>
    Effect.gen(function*() {
      const dep = yield* flaky(2, () => new TooMany({ retryAfter: Duration.seconds(5) }))
      yield* runWithClock(dep.call.pipe(Retry.policy({ schedule: Retry.constant("100 millis") })))
      assert.deepStrictEqual(yield* dep.times, [0, 5000, 10000])
      const capped = yield* flaky(1, () => new TooMany({ retryAfter: Duration.hours(5) }))
      yield* runWithClock(
        capped.call.pipe(Retry.policy({ schedule: Retry.constant("100 millis"), maxRetryAfter: "2 seconds" }))
      )
      assert.deepStrictEqual(relative(yield* capped.times), [0, 2000])
      const shorter = yield* flaky(1, () => new TooMany({ retryAfter: Duration.millis(10) }))
      yield* runWithClock(shorter.call.pipe(Retry.policy({ schedule: Retry.constant("300 millis") })))
      assert.deepStrictEqual(relative(yield* shorter.times), [0, 300])
    }))

  it.effect("a schedule that ends stops the retries", () =>
    Effect.gen(function*() {
      const dep = yield* flaky(10, () => new Unavailable({}))
      yield* runWithClock(dep.call.pipe(Retry.policy({ schedule: Schedule.spaced("1 millis").pipe(Schedule.upTo("2 millis")), forever: true })))
      assert.strictEqual((yield* dep.times).length, 3)
    }))

  it.effect("events and stats report retries and the reason for giving up", () =>
    Effect.gen(function*() {
      const retry = Retry.policy({ schedule: Retry.constant("10 millis"), times: 2, name: "payments" })
      const collected = yield* retry.events.pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      yield* Effect.yieldNow()
      const dep = yield* flaky(10, (n) => new Unavailable({ n }))
      yield* runWithClock(dep.call.pipe(retry))
      const events = Chunk.toReadonlyArray(yield* Fiber.join(collected))
      assert.deepStrictEqual(events.map((e) => e._tag), ["RetryScheduled", "RetryScheduled", "GaveUp"])
      const first = events[0]!
      assert.isTrue(first._tag === "RetryScheduled" && first.attempt === 1 && Duration.toMillis(first.delay) === 10)
      assert.strictEqual(first.policy, "payments")
      const last = events[2]!
      assert.isTrue(last._tag === "GaveUp" && last.reason === "Exhausted" && last.attempt === 3)
      assert.deepStrictEqual(yield* retry.stats(), { failedCalls: 1, retries: 2, gaveUp: 1 })
    }))

  it.effect("onRetry runs before each sleep and its failures are ignored", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<number>>([])
      const retry = Retry.policy({
        schedule: Retry.constant("10 millis"),
        onRetry: (e) => Ref.update(seen, (xs) => [...xs, e.attempt]).pipe(Effect.zipRight(Effect.fail("ignored" as never)))
      })
      const dep = yield* flaky(2, () => new Unavailable({}))
      const exit = yield* runWithClock(dep.call.pipe(retry))
      assert.deepStrictEqual(exit, Exit.succeed(3))
      assert.deepStrictEqual(yield* Ref.get(seen), [1, 2])
    }))

  it.effect("the success path does not step the schedule", () =>
    Effect.gen(function*() {
      const steps = yield* Ref.make(0)
      const counting = Schedule.makeWithState(0, (now, _in: unknown, s) =>
        Effect.as(Ref.update(steps, (n) => n + 1), [s, s, { _tag: "Done" as const }] as const) as any
      ) as Schedule.Schedule<unknown>
      const retry = Retry.policy({ schedule: counting })
      for (let i = 0; i < 100; i++) assert.strictEqual(yield* Effect.succeed(i).pipe(retry), i)
      assert.strictEqual(yield* Ref.get(steps), 0)
    }))
})

describe("Retry and deadlines", () => {
  it.effect("retry never starts a sleep that ends after the enclosing deadline", () =>
    Effect.gen(function*() {
      const dep = yield* flaky(10, (n) => new Unavailable({ n }))
      const retry = Retry.policy({ schedule: Retry.constant("400 millis"), times: 10 })
      const exit = yield* runWithClock(dep.call.pipe(retry, Timeout.make("1 second")))
      // attempts at 0 and 400; the next sleep would end at 1200 > 1000: give up with the last error at once
      assert.deepStrictEqual(yield* dep.times, [0, 400, 800])
      assert.deepStrictEqual(exit, Exit.fail(new Unavailable({ n: 3 })))
    }))

  it.effect("gives up at once, before the deadline fires, when the next retry cannot fit", () =>
    Effect.gen(function*() {
      const dep = yield* flaky(10, () => new Unavailable({}))
      const program = dep.call.pipe(Retry.policy({ schedule: Retry.constant("5 seconds") }), Timeout.make("1 second"))
      const fiber = yield* Effect.fork(program)
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(fiber)
      assert.deepStrictEqual(exit, Exit.fail(new Unavailable({})))
    }))
})

describe("Retry.budget", () => {
  it.effect("caps retries to the ratio of calls plus the per-second floor", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.budget({ ratio: 0.5, minRetriesPerSecond: 0, window: "10 seconds" })
      assert.strictEqual(yield* budget.available(), 0)
      for (let i = 0; i < 10; i++) budget.deposit()
      assert.strictEqual(yield* budget.available(), 5)
      let granted = 0
      while (budget.tryWithdraw()) granted++
      assert.strictEqual(granted, 5)
    }))

  it.effect("when empty, the original error surfaces at once", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.budget({ ratio: 0, minRetriesPerSecond: 0.2, window: "10 seconds" }) // 2 retries in reserve
      const retry = Retry.policy({ schedule: Retry.constant("1 millis"), times: 5, budget })
      const dep = yield* flaky(100, (n) => new Unavailable({ n }))
      const exit = yield* runWithClock(dep.call.pipe(retry))
      assert.deepStrictEqual(exit, Exit.fail(new Unavailable({ n: 3 })))
      assert.strictEqual((yield* dep.times).length, 3)
      const again = yield* runWithClock(dep.call.pipe(retry))
      assert.deepStrictEqual(again, Exit.fail(new Unavailable({ n: 4 })))
    }))

  it.effect("deposits expire after the window and the budget refills", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.budget({ ratio: 1, minRetriesPerSecond: 0, window: "1 second" })
      for (let i = 0; i < 4; i++) budget.deposit()
      assert.isTrue(budget.tryWithdraw())
      assert.strictEqual(yield* budget.available(), 3)
      yield* TestClock.adjust("1100 millis")
      assert.strictEqual(yield* budget.available(), 0)
      budget.deposit()
      assert.strictEqual(yield* budget.available(), 1)
    }))

  it.effect("a storm of failing calls retries at most ratio * calls", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.budget({ ratio: 0.1, minRetriesPerSecond: 0, window: "10 seconds" })
      const retry = Retry.policy({ schedule: Retry.constant("1 millis"), times: 3, budget })
      const attempts = yield* Ref.make(0)
      const call = Ref.update(attempts, (n) => n + 1).pipe(Effect.zipRight(Effect.fail(new Unavailable({}))))
      const fiber = yield* Effect.fork(Effect.forEach(Array.from({ length: 200 }), () => Effect.either(call.pipe(retry)), { concurrency: 50 }))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      const total = yield* Ref.get(attempts)
      assert.isTrue(total - 200 <= 20, `retries ${total - 200} <= 20`)
      assert.isTrue(total > 200)
    }))

  it.effect("invalid budget options fail with InvalidOptionsError", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Retry.budget({ ratio: -1 }))
      assert.strictEqual(e.option, "ratio")
      const w = yield* Effect.flip(Retry.budget({ window: "0 millis" }))
      assert.strictEqual(w.option, "window")
    }))
})

describe("Retry.isTransient", () => {
  it("recognises timeouts, retryAfter and transient HTTP statuses, never rejections", () => {
    assert.isTrue(Retry.isTransient(new Errors.TimeoutError({ duration: Duration.seconds(1) })))
    assert.isTrue(Retry.isTransient(new TooMany({ retryAfter: Duration.seconds(1) })))
    assert.isTrue(Retry.isTransient({ _tag: "RequestError", reason: "Transport" }))
    assert.isFalse(Retry.isTransient({ _tag: "RequestError", reason: "Encode" }))
    assert.isTrue(Retry.isTransient({ _tag: "ResponseError", response: { status: 503 } }))
    assert.isFalse(Retry.isTransient({ _tag: "ResponseError", response: { status: 404 } }))
    assert.isFalse(Retry.isTransient(new BadRequest()))
    assert.isFalse(
      Retry.isTransient(Errors.BulkheadFullError.make({ name: "x", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" }))
    )
  })
})

describe("Retry and rate-limit rejections", () => {
  it.scoped("rejections are not retried unless retryRejections accepts them; then their retryAfter sets the delay", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "fail", algorithm: "fixed-window" })
      const calls = yield* Ref.make<ReadonlyArray<number>>([])
      const call = Effect.flatMap(Effect.clockWith((c) => c.currentTimeMillis), (now) =>
        Ref.update(calls, (xs) => [...xs, now])).pipe(limiter)
      // without the opt-in, the second call's rejection surfaces at once
      yield* call
      const rejected = yield* runWithClock(call.pipe(Retry.policy({ schedule: Retry.constant("10 millis") })))
      assert.isTrue(Exit.isFailure(rejected))
      assert.strictEqual((yield* Ref.get(calls)).length, 1)
      // with it, the retry waits for the rejection's retryAfter (the next window), not the 10ms backoff
      const retried = yield* runWithClock(
        call.pipe(
          Retry.policy({ schedule: Retry.constant("10 millis"), retryRejections: RateLimiter.isRateLimitExceededError })
        )
      )
      assert.isTrue(Exit.isSuccess(retried))
      const times = yield* Ref.get(calls)
      assert.strictEqual(times.length, 2)
      assert.isTrue(times[1]! - times[0]! >= 1000, `second call at +${times[1]! - times[0]!}ms`)
    }))
})

describe("Retry spans", () => {
  it.effect("with spans: true, one span per retry (attempt, delay, error); none on the success path", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const retry = Retry.policy({ schedule: Retry.constant("10 millis"), times: 2, spans: true, name: "traced" })
      yield* Effect.succeed(1).pipe(retry, Effect.withTracer(tracer))
      assert.strictEqual(spans.length, 0)
      const dep = yield* flaky(1, () => new Unavailable({}))
      yield* runWithClock(dep.call.pipe(retry, Effect.withTracer(tracer)))
      assert.deepStrictEqual(spans.map((s) => s.name), ["resilience.retry"])
      assert.strictEqual(spans[0]!.attributes.get("attempt"), 2)
      assert.strictEqual(spans[0]!.attributes.get("delay_ms"), 10)
      assert.strictEqual(spans[0]!.attributes.get("error"), "Unavailable")
      assert.strictEqual(spans[0]!.attributes.get("policy"), "traced")
    }))
})

// delays are Durations: kept to the nanosecond, hence the 1e-5 ms tolerance
describe("Retry schedules: exact jitter formulas (seeded)", () => {
  /** The first `n` draws of a Random seeded like the schedule's. */
  const draws = (seed: number, n: number) =>
    Effect.gen(function*() {
      const out: Array<number> = []
      for (let i = 0; i < n; i++) out.push(yield* Random.next)
      return out
    }).pipe(Effect.withRandom(Random.make(seed)))

  it.effect("full, equal and decorrelated use the drawn numbers exactly as documented", () =>
    Effect.gen(function*() {
      const r = yield* draws(7, 6)
      const full = yield* delaysOf(Retry.exponential({ base: "100 millis", jitter: "full" }), 6).pipe(
        Effect.withRandom(Random.make(7))
      )
      const equal = yield* delaysOf(Retry.exponential({ base: "100 millis", jitter: "equal" }), 6).pipe(
        Effect.withRandom(Random.make(7))
      )
      const decorrelated = yield* delaysOf(
        Retry.exponential({ base: "100 millis", max: "10 seconds", jitter: "decorrelated" }),
        6
      ).pipe(Effect.withRandom(Random.make(7)))
      let previous = 100
      for (let i = 0; i < 6; i++) {
        const d = 100 * 2 ** i
        assert.closeTo(full[i]!, r[i]! * d, 1e-5)
        assert.closeTo(equal[i]!, d / 2 + r[i]! * (d / 2), 1e-5)
        const upper = Math.min(10_000, Math.max(100, previous * 3))
        const expected = Math.min(10_000, 100 + r[i]! * (upper - 100))
        assert.closeTo(decorrelated[i]!, expected, 1e-5)
        previous = expected
      }
    }))

  it.effect("linear and constant honour their jitter too", () =>
    Effect.gen(function*() {
      const r = yield* draws(11, 4)
      const linear = yield* delaysOf(Retry.linear({ base: "100 millis", step: "100 millis", jitter: "full" }), 4).pipe(
        Effect.withRandom(Random.make(11))
      )
      const constant = yield* delaysOf(Retry.constant("200 millis", { jitter: "equal" }), 4).pipe(
        Effect.withRandom(Random.make(11))
      )
      for (let i = 0; i < 4; i++) {
        assert.closeTo(linear[i]!, r[i]! * (100 + 100 * i), 1e-5)
        assert.closeTo(constant[i]!, 100 + r[i]! * 100, 1e-5)
      }
      // without jitter nothing is drawn: the same seed gives the same plain delays
      assert.deepStrictEqual(yield* delaysOf(Retry.linear({ base: "10 millis", max: "25 millis" }), 4), [10, 20, 25, 25])
    }))

  it("linear and constant reject decorrelated jitter and a max below base", () => {
    for (const f of [
      () => Retry.linear({ base: "1 second", max: "10 millis" }),
      () => Retry.linear({ base: "1 second", jitter: "decorrelated" as any }),
      () => Retry.constant("1 second", { jitter: "decorrelated" as any })
    ]) {
      try {
        f()
        assert.fail("accepted")
      } catch (e) {
        assert.instanceOf(e, Errors.InvalidOptionsError)
      }
    }
  })
})

describe("Retry.budget windows", () => {
  it.effect("deposits expire slot by slot, not all at once", () =>
    Effect.gen(function*() {
      // 10 slots of 100 ms over a 1 s window
      const budget = yield* Retry.budget({ ratio: 1, minRetriesPerSecond: 0, window: "1 second" })
      budget.deposit() // slot 0
      yield* TestClock.adjust("250 millis")
      budget.deposit()
      budget.deposit() // slot 2
      assert.strictEqual(yield* budget.available(), 3)
      yield* TestClock.adjust("800 millis") // t = 1050: slot 0 has left the window, slot 2 has not
      assert.strictEqual(yield* budget.available(), 2)
      yield* TestClock.adjust("200 millis") // t = 1250: slot 2 has left too
      assert.strictEqual(yield* budget.available(), 0)
      // withdrawals expire with their slot as well
      budget.deposit()
      assert.isTrue(budget.tryWithdraw())
      assert.strictEqual(yield* budget.available(), 0)
      budget.deposit()
      assert.strictEqual(yield* budget.available(), 1)
      yield* TestClock.adjust("5 seconds") // far past the window: everything expires
      assert.strictEqual(yield* budget.available(), 0)
    }))

  it.effect("the per-second floor is available without traffic", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.budget({ ratio: 0, minRetriesPerSecond: 2, window: "2 seconds" })
      assert.strictEqual(yield* budget.available(), 4)
    }))
})

describe("Retry deadline boundary", () => {
  it.effect("a retry whose sleep would end exactly at the deadline is not started", () =>
    Effect.gen(function*() {
      const dep = yield* flaky(10, (n) => new Unavailable({ n }))
      yield* runWithClock(dep.call.pipe(Retry.policy({ schedule: Retry.constant("500 millis"), times: 5 }), Timeout.make("1 second")))
      // attempts at 0 and 500; a retry at 1000 would start with no time left
      assert.deepStrictEqual(yield* dep.times, [0, 500])
    }))
})

describe("Retry.tags and isTransient edge cases", () => {
  it("tags needs a string _tag; isTransient needs a numeric transient status", () => {
    const isA = Retry.tags("A")
    assert.isTrue(isA({ _tag: "A" }))
    assert.isFalse(isA({ _tag: "B" }))
    assert.isFalse(isA({ _tag: 1 }))
    assert.isFalse(isA({}))
    assert.isFalse(isA(null))
    assert.isFalse(Retry.isTransient({ _tag: "ResponseError" }))
    assert.isFalse(Retry.isTransient({ _tag: "ResponseError", response: { status: "503" } }))
    assert.isTrue(Retry.isTransient({ _tag: "ResponseError", response: { status: 429 } }))
    assert.isFalse(Retry.isTransient({ _tag: "Other", reason: "Transport" }))
    assert.isFalse(Retry.isTransient(undefined))
  })
})

// ---------------------------------------------------------------------------
// What the mutation run (npm run mutate) showed untested: defaults, metric keys, event payloads,
// span labels, budget slots and the schedules' use of Random and Clock.

/** Subscribes to a policy's events, runs `program` with the TestClock driven, returns the events up to GaveUp. */
const eventsDuring = <EIn, R, A, E, Rx>(retry: Retry.Retry<EIn, R>, program: Effect.Effect<A, E, Rx>) =>
  Effect.gen(function*() {
    const collected = yield* retry.events.pipe(
      Stream.takeUntil((e) => e._tag === "GaveUp"),
      Stream.runCollect,
      Effect.fork
    )
    yield* Effect.yieldNow()
    const exit = yield* runWithClock(program)
    // a defect ends the call without a GaveUp: do not wait for one
    if (Exit.isFailure(exit) && !Cause.isFailType(exit.cause)) {
      yield* Fiber.interrupt(collected)
      return { exit, events: [] as ReadonlyArray<Retry.RetryEvent> }
    }
    return { exit, events: Chunk.toReadonlyArray(yield* Fiber.join(collected)) }
  })

const scheduledDelays = (events: ReadonlyArray<Retry.RetryEvent>) =>
  events.flatMap((e) => e._tag === "RetryScheduled" ? [Duration.toMillis(e.delay)] : [])

/** The first `n` draws of `Random.make(seed)`. */
const drawsOf = (seed: number, n: number) =>
  Effect.gen(function*() {
    const out: Array<number> = []
    for (let i = 0; i < n; i++) out.push(yield* Random.next)
    return out
  }).pipe(Effect.withRandom(Random.make(seed)))

describe("Retry defaults", () => {
  it.effect("policy() without a schedule: exponential from 100 ms, capped at 30 s, full jitter", () =>
    Effect.gen(function*() {
      const retry = Retry.policy({ times: 10 })
      const dep = yield* flaky(100, (n) => new Unavailable({ n }))
      const { events, exit } = yield* eventsDuring(retry, dep.call.pipe(retry))
      assert.deepStrictEqual(exit, Exit.fail(new Unavailable({ n: 11 })))
      const r = yield* drawsOf(3, 10)
      const delays = scheduledDelays(events)
      assert.strictEqual(delays.length, 10)
      for (let i = 0; i < 10; i++) {
        // 100, 200, …, 25 600, then 51 200 capped at 30 000; each drawn uniformly from [0, d]
        assert.closeTo(delays[i]!, r[i]! * Math.min(100 * 2 ** i, 30_000), 1e-5)
      }
    }).pipe(Effect.withRandom(Random.make(3))))

  it.effect("the default name is \"retry\": in policyName and in events", () =>
    Effect.gen(function*() {
      const retry = Retry.policy({ schedule: Retry.constant("1 millis"), times: 0 })
      assert.strictEqual(retry.policyName, "retry")
      const dep = yield* flaky(1, () => new Unavailable({}))
      const { events } = yield* eventsDuring(retry, dep.call.pipe(retry))
      assert.deepStrictEqual(events.map((e) => e.policy), ["retry"])
    }))

  it.effect("fromConfig: 100 ms base, 30 s max and full jitter when omitted", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.fromConfig(Config.succeed({ times: 10 }))
      const dep = yield* flaky(100, () => new Unavailable({}))
      const { events } = yield* eventsDuring(retry, dep.call.pipe(retry))
      const r = yield* drawsOf(5, 10)
      const delays = scheduledDelays(events)
      assert.strictEqual(delays.length, 10)
      for (let i = 0; i < 10; i++) assert.closeTo(delays[i]!, r[i]! * Math.min(100 * 2 ** i, 30_000), 1e-5)
    }).pipe(Effect.withRandom(Random.make(5))))

  it.effect("fromConfig: the max and jitter given are the ones used", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.fromConfig(
        Config.succeed({ times: 6, base: "100 millis", factor: 3, max: "1 second", jitter: "none" } as const)
      )
      const dep = yield* flaky(100, () => new Unavailable({}))
      const { events } = yield* eventsDuring(retry, dep.call.pipe(retry))
      assert.deepStrictEqual(scheduledDelays(events), [100, 300, 900, 1000, 1000, 1000])
    }).pipe(Effect.withRandom(Random.make(5))))
})

describe("Retry metrics", () => {
  it.effect("resilience_retry_retries and resilience_retry_gave_up: names, descriptions, policy tag, counts", () =>
    Effect.gen(function*() {
      const retry = Retry.policy({ schedule: Retry.constant("1 millis"), times: 2, name: "metrics-probe" })
      const dep = yield* flaky(100, () => new Unavailable({}))
      yield* runWithClock(dep.call.pipe(retry))
      const pairs = (yield* Metric.snapshot).filter((p) =>
        p.metricKey.tags.some((t) => t.key === "policy" && t.value === "metrics-probe")
      )
      const seen = pairs
        .map((p) => ({
          name: p.metricKey.name,
          description: Option.getOrUndefined(p.metricKey.description),
          tags: p.metricKey.tags.map((t) => [t.key, t.value]),
          incremental: (p.metricKey.keyType as MetricKeyType.MetricKeyType.Counter<number>).incremental,
          count: (p.metricState as MetricState.MetricState.Counter<number>).count
        }))
        .sort((a, b) => a.name.localeCompare(b.name))
      assert.deepStrictEqual(seen, [
        {
          name: "resilience_retry_gave_up",
          description: "Calls on which a retry policy stopped retrying and surfaced the error",
          tags: [["policy", "metrics-probe"]],
          incremental: true,
          count: 1
        },
        {
          name: "resilience_retry_retries",
          description: "Retries scheduled by a retry policy",
          tags: [["policy", "metrics-probe"]],
          incremental: true,
          count: 2
        }
      ])
    }))
})

describe("Retry GaveUp events name the reason", () => {
  const gaveUp = (events: ReadonlyArray<Retry.RetryEvent>) => events.filter((e) => e._tag === "GaveUp")

  it.effect("Rejection: a library rejection surfaces on the first attempt", () =>
    Effect.gen(function*() {
      const full = Errors.BulkheadFullError.make({ name: "db", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" })
      const retry = Retry.policy({ schedule: Retry.constant("1 millis"), name: "r" })
      const dep = yield* flaky(5, () => full)
      const { events } = yield* eventsDuring(retry, dep.call.pipe(retry))
      assert.deepStrictEqual(events, [{ _tag: "GaveUp", policy: "r", attempt: 1, reason: "Rejection", error: full }])
    }))

  it.effect("NotRetryable: while rejects the error, or until accepts it", () =>
    Effect.gen(function*() {
      const bad = new BadRequest()
      const byWhile = Retry.policy({ schedule: Retry.constant("1 millis"), name: "w", while: Retry.tags("Unavailable") })
      const dep = yield* flaky<Unavailable | BadRequest>(5, (n) => n === 2 ? bad : new Unavailable({ n }))
      const w = yield* eventsDuring(byWhile, dep.call.pipe(byWhile))
      assert.deepStrictEqual(gaveUp(w.events), [{ _tag: "GaveUp", policy: "w", attempt: 2, reason: "NotRetryable", error: bad }])
      const byUntil = Retry.policy({ schedule: Retry.constant("1 millis"), name: "u", until: Retry.tags("BadRequest") })
      const dep2 = yield* flaky<Unavailable | BadRequest>(5, (n) => n === 3 ? bad : new Unavailable({ n }))
      const u = yield* eventsDuring(byUntil, dep2.call.pipe(byUntil))
      assert.deepStrictEqual(gaveUp(u.events), [{ _tag: "GaveUp", policy: "u", attempt: 3, reason: "NotRetryable", error: bad }])
    }))

  it.effect("ScheduleDone: a schedule that ends surfaces the last error as a failure", () =>
    Effect.gen(function*() {
      const retry = Retry.policy({
        schedule: Retry.constant("10 millis").pipe(Schedule.intersect(Schedule.recurs(1))),
        forever: true,
        name: "s"
      })
      const dep = yield* flaky(10, (n) => new Unavailable({ n }))
      const { events, exit } = yield* eventsDuring(retry, dep.call.pipe(retry))
      assert.deepStrictEqual(exit, Exit.fail(new Unavailable({ n: 2 })))
      assert.deepStrictEqual(gaveUp(events), [
        { _tag: "GaveUp", policy: "s", attempt: 2, reason: "ScheduleDone", error: new Unavailable({ n: 2 }) }
      ])
      assert.deepStrictEqual(yield* dep.times, [0, 10])
    }))

  it.effect("Deadline: the next sleep would outlast the enclosing timeout", () =>
    Effect.gen(function*() {
      const retry = Retry.policy({ schedule: Retry.constant("600 millis"), times: 5, name: "d" })
      const dep = yield* flaky(10, (n) => new Unavailable({ n }))
      const { events } = yield* eventsDuring(retry, dep.call.pipe(retry, Timeout.make("1 second")))
      assert.deepStrictEqual(gaveUp(events), [
        { _tag: "GaveUp", policy: "d", attempt: 2, reason: "Deadline", error: new Unavailable({ n: 2 }) }
      ])
    }))

  it.effect("BudgetExhausted: the shared budget has no retry left", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.budget({ ratio: 0, minRetriesPerSecond: 0 })
      const retry = Retry.policy({ schedule: Retry.constant("1 millis"), budget, name: "b" })
      const dep = yield* flaky(10, (n) => new Unavailable({ n }))
      const { events } = yield* eventsDuring(retry, dep.call.pipe(retry))
      assert.deepStrictEqual(events, [
        { _tag: "GaveUp", policy: "b", attempt: 1, reason: "BudgetExhausted", error: new Unavailable({ n: 1 }) }
      ])
    }))
})

describe("Retry span error labels", () => {
  it.effect("the error attribute is the _tag when it is a string, else the error's typeof", () =>
    Effect.gen(function*() {
      const labelOf = (error: unknown) =>
        Effect.gen(function*() {
          const { spans, tracer } = recordingTracer()
          const dep = yield* flaky(1, () => error)
          const retry = Retry.policy({ schedule: Retry.constant("1 millis"), spans: true })
          yield* runWithClock(dep.call.pipe(retry, Effect.withTracer(tracer)))
          assert.strictEqual(spans.length, 1)
          return spans[0]!.attributes.get("error")
        })
      assert.strictEqual(yield* labelOf(new Unavailable({})), "Unavailable")
      assert.strictEqual(yield* labelOf("boom"), "string")
      assert.strictEqual(yield* labelOf({ _tag: 42 }), "object")
      assert.strictEqual(yield* labelOf(new Error("plain")), "object")
      assert.strictEqual(yield* labelOf(null), "object")
    }))
})

describe("Retry.budget slots", () => {
  it.effect("a withdrawal is released when its slot leaves the window, not before", () =>
    Effect.gen(function*() {
      // a reserve of one retry per second; 10 slots of 100 ms
      const budget = yield* Retry.budget({ ratio: 0, minRetriesPerSecond: 1, window: "1 second" })
      yield* TestClock.adjust("150 millis") // slot 1
      assert.isTrue(budget.tryWithdraw())
      assert.isFalse(budget.tryWithdraw())
      yield* TestClock.adjust("900 millis") // t = 1050: slot 1 is still in the window
      assert.strictEqual(yield* budget.available(), 0)
      yield* TestClock.adjust("100 millis") // t = 1150: it has left
      assert.strictEqual(yield* budget.available(), 1)
    }))
})

describe("Retry.isTransient: rejections", () => {
  it("a rejection carrying retryAfter is still not transient", () => {
    const exceeded = RateLimiter.RateLimitExceededError.make({
      policy: "api",
      reason: "LimitExceeded",
      retryAfter: Duration.seconds(1),
      limit: 1,
      window: Duration.seconds(1),
      cost: 1,
      remaining: 0
    })
    assert.isTrue(Errors.isRejection(exceeded))
    assert.isFalse(Retry.isTransient(exceeded))
  })
})

describe("Retry schedules and Random / Clock", () => {
  it.effect("schedules without jitter draw nothing from Random", () =>
    Effect.gen(function*() {
      const first = (yield* drawsOf(9, 1))[0]!
      for (
        const schedule of [
          Retry.exponential({ base: "100 millis" }),
          Retry.exponential({ base: "100 millis", jitter: "none" }),
          Retry.linear({ base: "100 millis" }),
          Retry.linear({ base: "100 millis", jitter: "none" }),
          Retry.constant("100 millis"),
          Retry.constant("100 millis", { jitter: "none" })
        ]
      ) {
        const next = yield* Effect.gen(function*() {
          yield* delaysOf(schedule, 5)
          return yield* Random.next
        }).pipe(Effect.withRandom(Random.make(9)))
        assert.strictEqual(next, first)
      }
    }))

  it.effect("past the cap the exponential schedule's state stops changing (no growing exponent)", () =>
    Effect.gen(function*() {
      const schedule = Retry.exponential({ base: "100 millis", max: "1 second" })
      const steps: Array<{ readonly delay: number; readonly moved: boolean }> = []
      let state = schedule.initial
      for (let i = 0; i < 8; i++) {
        const [next, delay] = yield* schedule.step(0, undefined, state)
        steps.push({ delay: Duration.toMillis(delay), moved: next !== state })
        state = next
      }
      assert.deepStrictEqual(steps, [
        { delay: 100, moved: true },
        { delay: 200, moved: true },
        { delay: 400, moved: true },
        { delay: 800, moved: true },
        { delay: 1000, moved: false },
        { delay: 1000, moved: false },
        { delay: 1000, moved: false },
        { delay: 1000, moved: false }
      ])
    }))

  it.effect("a zero delay does not ask the Clock for a timer (a zero sleep is >= 1 ms under the live clock)", () =>
    Effect.gen(function*() {
      const inner = yield* Effect.clock
      const sleeps: Array<number> = []
      const recording: Clock.Clock = {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => inner.unsafeCurrentTimeMillis(),
        unsafeCurrentTimeNanos: () => inner.unsafeCurrentTimeNanos(),
        currentTimeMillis: inner.currentTimeMillis,
        currentTimeNanos: inner.currentTimeNanos,
        sleep: (d) => {
          sleeps.push(Duration.toMillis(d))
          return inner.sleep(d)
        }
      }
      const zero = yield* flaky(2, () => new Unavailable({}))
      const ok = yield* runWithClock(zero.call.pipe(Retry.policy({ schedule: Retry.constant(0) }), Effect.withClock(recording)))
      assert.deepStrictEqual(ok, Exit.succeed(3))
      assert.deepStrictEqual(sleeps, [])
      const some = yield* flaky(2, () => new Unavailable({}))
      yield* runWithClock(some.call.pipe(Retry.policy({ schedule: Retry.constant("5 millis") }), Effect.withClock(recording)))
      assert.deepStrictEqual(sleeps, [5, 5])
    }))

  it("exponential and linear called without options throw InvalidOptionsError naming base", () => {
    const cases: Array<[() => unknown, string]> = [
      [() => Retry.exponential(undefined as any), "Retry.exponential"],
      [() => Retry.linear(undefined as any), "Retry.linear"]
    ]
    for (const [f, module] of cases) {
      try {
        f()
        assert.fail(`${module} accepted no options`)
      } catch (e) {
        assert.instanceOf(e, Errors.InvalidOptionsError)
        assert.strictEqual((e as Errors.InvalidOptionsError).module, module)
        assert.strictEqual((e as Errors.InvalidOptionsError).option, "base")
      }
    }
  })
})

describe("Retry: one shape (issue 20)", () => {
  it("every policy carries Retry.TypeId; isRetry tells retry policies apart", () => {
    const retry = Retry.policy({ times: 1 })
    assert.isTrue(Retry.TypeId in retry)
    assert.isTrue(Retry.isRetry(retry))
    assert.isTrue(Retry.isRetry(Retry.policy({ times: 2, name: "other" })))
    for (const other of [Timeout.make("1 second"), (self: Effect.Effect<unknown>) => self, null, undefined, {}, "retry"]) {
      assert.isFalse(Retry.isRetry(other))
    }
  })

  it.effect("stats() is an Effect reading the counts at the time it runs; unsafeStats() reads them at once", () =>
    Effect.gen(function*() {
      const retry = Retry.policy({ schedule: Retry.constant(0), times: 1, name: "shape" })
      const stats = retry.stats()
      assert.deepStrictEqual(yield* stats, { failedCalls: 0, retries: 0, gaveUp: 0 })
      yield* Effect.exit(Effect.fail(new Unavailable({})).pipe(retry))
      // the same Effect, run again, reads the new counts
      assert.deepStrictEqual(yield* stats, { failedCalls: 1, retries: 1, gaveUp: 1 })
      assert.deepStrictEqual(retry.unsafeStats(), { failedCalls: 1, retries: 1, gaveUp: 1 })
    }))

  it.effect("budget.available() is an Effect; unsafeAvailable() reads the same count at once", () =>
    Effect.gen(function*() {
      const budget = yield* Retry.budget({ ratio: 1, minRetriesPerSecond: 0, window: "1 second" })
      const available = budget.available()
      assert.strictEqual(yield* available, 0)
      budget.deposit()
      budget.deposit()
      assert.strictEqual(yield* available, 2)
      assert.strictEqual(budget.unsafeAvailable(), 2)
      // detached members work (a budget is handed around as a plain object)
      const { tryWithdraw, unsafeAvailable } = budget
      assert.isTrue(tryWithdraw())
      assert.strictEqual(unsafeAvailable(), 1)
    }))

  it.effect("Retry.layer and layerConfig provide a policy that isRetry recognises", () =>
    Effect.gen(function*() {
      class ApiRetry extends Context.Tag("test/ApiRetry")<ApiRetry, Retry.Retry>() {}
      const viaLayer = yield* Effect.provide(ApiRetry, Retry.layer(ApiRetry, { times: 2, name: "layered" }))
      assert.isTrue(Retry.isRetry(viaLayer))
      assert.strictEqual(viaLayer.policyName, "layered")
      const viaConfig = yield* Effect.provide(ApiRetry, Retry.layerConfig(ApiRetry, { times: Config.succeed(1) }))
      assert.isTrue(Retry.isRetry(viaConfig))
    }))
})
