/**
 * Issue 15 on the production path: Effect's live clock and real Node timers
 * (faked by Vitest: `setTimeout`, `clearTimeout`, `Date` and `performance`),
 * driven with `vi.advanceTimersByTimeAsync`. A stepped `Testing` clock is not
 * the live clock, so here `Date.now` itself steps (`vi.setSystemTime`, which
 * moves the wall clock and leaves `performance.now()` and pending timers
 * alone, as an NTP step or a manual change of the system time does).
 *
 * - A bound measured on monotonic time ignores the step, both ways.
 * - Any duration works past Node's 2^31−1 ms timer cap: the library never
 *   hands Node a longer delay (which Node turns into 1 ms, with a
 *   `TimeoutOverflowWarning`), and its own sleeps past the cap fire (Effect's
 *   live `sleep` silently never fires past it).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Deferred, Duration, Effect, Exit, Layer, Option, Schedule, Scope } from "effect"
import { Bulkhead, Chaos, CircuitBreaker, Health, Hedge, RateLimiter, Retry, Timeout } from "effect-resilience"
import { vi } from "vitest"

const HOUR = 3_600_000
const DAY = 86_400_000
const MAX_TIMER = 2 ** 31 - 1

class Boom {
  readonly _tag = "Boom"
}

/** Fake timers for `f`, with every `setTimeout` delay recorded and `process.emitWarning` watched. */
const withFakeTimers = async (f: (watch: { readonly delays: Array<number>; readonly warnings: Array<string> }) => Promise<void>) => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date", "performance"], now: 1_700_000_000_000 })
  const delays: Array<number> = []
  const warnings: Array<string> = []
  const fakeSetTimeout = globalThis.setTimeout
  const setTimeoutSpy = vi.spyOn(globalThis, "setTimeout").mockImplementation(((handler: () => void, delay?: number, ...args: Array<unknown>) => {
    delays.push(delay ?? 0)
    return fakeSetTimeout(handler, delay, ...args)
  }) as typeof setTimeout)
  const warningSpy = vi.spyOn(process, "emitWarning").mockImplementation(((warning: string | Error) => {
    warnings.push(typeof warning === "string" ? warning : `${warning.name}: ${warning.message}`)
  }) as typeof process.emitWarning)
  try {
    await f({ delays, warnings })
  } finally {
    setTimeoutSpy.mockRestore()
    warningSpy.mockRestore()
    vi.useRealTimers()
  }
}

/** A promise's state, readable synchronously. */
const track = <A>(promise: Promise<A>) => {
  const state: { done: boolean; value: A | undefined } = { done: false, value: undefined }
  promise.then((value) => {
    state.done = true
    state.value = value
  })
  return state
}

const advance = (millis: number) => vi.advanceTimersByTimeAsync(millis)

/** Advances `millis - 1`, checks `done()` is false, advances 1 more, checks it is true. */
const expectAt = async (millis: number, done: () => boolean, label: string) => {
  await advance(millis - 1)
  assert.isFalse(done(), `${label}: not yet 1 ms before ${millis} ms`)
  await advance(1)
  assert.isTrue(done(), `${label}: done at ${millis} ms`)
}

const failureTag = (exit: Exit.Exit<unknown, unknown> | undefined): string => {
  if (exit === undefined) return "pending"
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) ? String((failure.value as { _tag?: unknown })._tag) : Cause.pretty(exit.cause)
}

/** No delay handed to Node past its cap, and no TimeoutOverflowWarning. */
const assertNoOverflow = (watch: { readonly delays: ReadonlyArray<number>; readonly warnings: ReadonlyArray<string> }) => {
  const over = watch.delays.filter((d) => d > MAX_TIMER)
  assert.deepStrictEqual(over, [], "setTimeout delays above 2^31-1 ms")
  assert.deepStrictEqual(watch.warnings.filter((w) => w.includes("TimeoutOverflow")), [], "TimeoutOverflowWarning")
}

/** A scope that outlives one `Effect.runPromise` (closed at the end of the test). */
const withScope = async (f: (run: <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Promise<A>) => Promise<void>) => {
  const scope = Effect.runSync(Scope.make())
  try {
    await f((effect) => Effect.runPromise(Scope.extend(effect, scope)))
  } finally {
    const closing = Effect.runPromise(Scope.close(scope, Exit.void))
    await advance(0)
    await closing
  }
}

// --- (a) the wall clock steps while a call is pending ------------------------------------------

describe("issue 15 (live clock): Date.now steps an hour while a call is pending", () => {
  for (const direction of ["back", "forward"] as const) {
    const step = () => vi.setSystemTime(Date.now() + (direction === "back" ? -HOUR : HOUR))

    for (const implementation of ["fast", "general"] as const) {
      it(`issue 15: Timeout.make("1 second") (${implementation}) fails after exactly 1 s of timers, Date.now stepped ${direction} 1 hour`, () =>
        withFakeTimers(async () => {
          const call = track(Effect.runPromiseExit(Effect.never.pipe(Timeout.make("1 second", { implementation }))))
          await advance(500)
          step()
          await expectAt(500, () => call.done, "timeout")
          assert.strictEqual(failureTag(call.value), "TimeoutError")
        }))
    }

    it(`issue 15: Retry's backoff retries after exactly its delay, Date.now stepped ${direction} 1 hour`, () =>
      withFakeTimers(async () => {
        let attempts = 0
        const call = Effect.suspend(() => {
          attempts++
          return Effect.fail(new Boom())
        })
        const done = track(Effect.runPromiseExit(call.pipe(Retry.policy({ schedule: Retry.constant("1 second"), times: 1 }))))
        await advance(500)
        step()
        await expectAt(500, () => attempts === 2, "retry")
        await advance(0)
        assert.isTrue(done.done)
      }))

    it(`issue 15: a Bulkhead's maxWait rejects at exactly maxWait, Date.now stepped ${direction} 1 hour`, () =>
      withFakeTimers(() =>
        withScope(async (run) => {
          const bulkhead = await run(Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "1 second", metricsInterval: Duration.infinity }))
          const holding = await run(Deferred.make<void>())
          void Effect.runPromiseExit(bulkhead(Effect.zipRight(Deferred.succeed(holding, undefined), Effect.never)))
          await advance(0)
          const queued = track(Effect.runPromiseExit(bulkhead(Effect.void)))
          await advance(500)
          step()
          await expectAt(500, () => queued.done, "maxWait")
          assert.strictEqual(failureTag(queued.value), "BulkheadFullError")
        })))

    it(`issue 15: a CircuitBreaker's break lasts exactly openDuration, Date.now stepped ${direction} 1 hour`, () =>
      withFakeTimers(() =>
        withScope(async (run) => {
          const cb = await run(CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" }))
          await Effect.runPromiseExit(cb(Effect.fail(new Boom())))
          await advance(500)
          step()
          await advance(499)
          assert.strictEqual(failureTag(await Effect.runPromiseExit(cb(Effect.void))), "CircuitBreakerError", "open 1 ms before")
          await advance(1)
          assert.strictEqual(failureTag(await Effect.runPromiseExit(cb(Effect.void))), "success", "a probe at the end of the break")
        })))

    it(`issue 15: a RateLimiter's next token comes exactly one interval later, Date.now stepped ${direction} 1 hour`, () =>
      withFakeTimers(() =>
        withScope(async (run) => {
          const limiter = await run(RateLimiter.make({ limit: 1, window: "1 second" }))
          await Effect.runPromise(limiter(Effect.void))
          await advance(500)
          step()
          await advance(499)
          assert.strictEqual(failureTag(await Effect.runPromiseExit(limiter(Effect.void))), "RateLimitExceededError")
          await advance(1)
          assert.strictEqual(failureTag(await Effect.runPromiseExit(limiter(Effect.void))), "success")
        })))
  }
})

// --- (b) a 30-day Timeout on Node timers -----------------------------------------------------------

describe("issue 15 (live clock): any duration on Node timers", () => {
  for (const implementation of ["fast", "general"] as const) {
    it(`issue 15: Timeout.make("30 days") (${implementation}): no delay past 2^31-1 ms, no TimeoutOverflowWarning, fails at exactly 30 days`, () =>
      withFakeTimers(async (watch) => {
        const call = track(Effect.runPromiseExit(Effect.never.pipe(Timeout.make("30 days", { implementation }))))
        await advance(0)
        // checked before advancing: a delay past the cap fires every millisecond on fake timers too
        assertNoOverflow(watch)
        await advance(DAY)
        assert.isFalse(call.done, "not after 1 day")
        await expectAt(29 * DAY, () => call.done, "30-day timeout")
        assert.strictEqual(failureTag(call.value), "TimeoutError")
        assertNoOverflow(watch)
      }))
  }

  it("issue 15: Timeout.make(Duration.infinity) arms no timer and never fires (work ending after 400 days succeeds)", () =>
    withFakeTimers(async (watch) => {
      const call = track(Effect.runPromiseExit(Effect.never.pipe(Timeout.make(Duration.infinity))))
      await advance(0)
      assertNoOverflow(watch)
      assert.deepStrictEqual(watch.delays.filter((d) => d > 0), [], "no timer for an infinite timeout")
      await advance(400 * DAY)
      assert.isFalse(call.done)
    }))

  // --- (c) the library's own long sleeps fire ----------------------------------------------------

  it("issue 15: Retry with Schedule.spaced(\"30 days\") retries at exactly 30 days", () =>
    withFakeTimers(async (watch) => {
      let attempts = 0
      const call = Effect.suspend(() => {
        attempts++
        return Effect.fail(new Boom())
      })
      const done = track(Effect.runPromiseExit(call.pipe(Retry.policy({ schedule: Schedule.spaced("30 days"), times: 1 }))))
      await advance(0)
      assertNoOverflow(watch)
      assert.strictEqual(attempts, 1)
      await expectAt(30 * DAY, () => attempts === 2, "retry")
      await advance(0)
      assert.strictEqual(failureTag(done.value), "Boom")
      assertNoOverflow(watch)
    }))

  it("issue 15: Bulkhead maxWait \"30 days\" rejects at exactly 30 days", () =>
    withFakeTimers((watch) =>
      withScope(async (run) => {
        const bulkhead = await run(Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "30 days", metricsInterval: Duration.infinity }))
        void Effect.runPromiseExit(bulkhead(Effect.never))
        await advance(0)
        const queued = track(Effect.runPromiseExit(bulkhead(Effect.void)))
        await advance(0)
        assertNoOverflow(watch)
        await expectAt(30 * DAY, () => queued.done, "maxWait")
        assert.strictEqual(failureTag(queued.value), "BulkheadFullError")
        assertNoOverflow(watch)
      })))

  it("issue 15: a Bulkhead wait under a 30-day Timeout, inside Effect.uninterruptible, fails at exactly 30 days", () =>
    withFakeTimers((watch) =>
      withScope(async (run) => {
        const bulkhead = await run(Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, metricsInterval: Duration.infinity }))
        void Effect.runPromiseExit(bulkhead(Effect.never))
        await advance(0)
        const queued = track(Effect.runPromiseExit(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("30 days"))))
        await advance(0)
        assertNoOverflow(watch)
        await expectAt(30 * DAY, () => queued.done, "deadline")
        assert.strictEqual(failureTag(queued.value), "TimeoutError")
        assertNoOverflow(watch)
      })))

  it("issue 15: Hedge delay \"30 days\" starts the second attempt at exactly 30 days", () =>
    withFakeTimers(async (watch) => {
      let started = 0
      const hedge = Hedge.make({ delay: "30 days", maxAttempts: 2 })
      void Effect.runPromiseExit(hedge(Effect.flatMap(Hedge.currentAttempt, (n) => Effect.zipRight(Effect.sync(() => started = Math.max(started, n)), Effect.never))))
      await advance(0)
      assertNoOverflow(watch)
      await expectAt(30 * DAY, () => started === 2, "hedge")
      assertNoOverflow(watch)
    }))

  it("issue 15: Chaos.latency of 30 days delays the call exactly 30 days", () =>
    withFakeTimers(async (watch) => {
      let ran = false
      void Effect.runPromiseExit(Chaos.latency({ rate: 1, delay: "30 days" })(Effect.sync(() => ran = true)))
      await advance(0)
      assertNoOverflow(watch)
      await expectAt(30 * DAY, () => ran, "latency")
    }))

  it("issue 15: a RateLimiter delayed call in a 60-day window runs at exactly 60 days", () =>
    withFakeTimers((watch) =>
      withScope(async (run) => {
        const store = await run(Layer.build(RateLimiter.layerStoreMemory({ sweepInterval: Duration.infinity })))
        const limiter = await run(
          RateLimiter.make({ limit: 1, window: "60 days", onExceeded: "delay", metricsInterval: Duration.infinity }).pipe(Effect.provide(store))
        )
        await Effect.runPromise(limiter(Effect.void))
        let ran = false
        void Effect.runPromiseExit(limiter(Effect.sync(() => ran = true)))
        await advance(0)
        assertNoOverflow(watch)
        await expectAt(60 * DAY, () => ran, "delayed call")
        assertNoOverflow(watch)
      })))

  it("issue 15: CircuitBreaker openDuration \"40 days\" keeps the circuit open exactly 40 days", () =>
    withFakeTimers((watch) =>
      withScope(async (run) => {
        const cb = await run(CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "40 days" }))
        await Effect.runPromiseExit(cb(Effect.fail(new Boom())))
        await advance(40 * DAY - 1)
        assert.strictEqual(failureTag(await Effect.runPromiseExit(cb(Effect.void))), "CircuitBreakerError", "open 1 ms before 40 days")
        await advance(1)
        assert.strictEqual(failureTag(await Effect.runPromiseExit(cb(Effect.void))), "success", "a probe at 40 days")
        assertNoOverflow(watch)
      })))

  it("issue 15: a Health check with interval \"30 days\" runs again at exactly 30 days", () =>
    withFakeTimers((watch) =>
      withScope(async (run) => {
        let runs = 0
        const health = await run(Effect.map(Layer.build(Health.layer()), Context.get(Health.Health)))
        await run(health.register({ name: "monthly", check: Effect.sync(() => runs++), interval: "30 days" }))
        await advance(0)
        assert.strictEqual(runs, 1)
        assertNoOverflow(watch)
        await expectAt(30 * DAY, () => runs === 2, "second run")
        assertNoOverflow(watch)
      })))
})
