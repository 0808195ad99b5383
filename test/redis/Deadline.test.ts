/**
 * Issue 15 against a real redis-server: a caller waiting in a distributed
 * policy bounds its own wait by the smaller of its own bound and the deadline
 * of an enclosing `Timeout`, and fails with that timeout's `TimeoutError` when
 * the deadline comes first — without depending on being interrupted (inside
 * `Effect.uninterruptible` the timeout cannot interrupt it).
 *
 * Live clock: times are real, with generous margins (the deadline is 300 ms,
 * the other bounds are seconds away; a test never waits past a few seconds).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Option, Schema } from "effect"
import { Bulkhead, Idempotency, Timeout } from "effect-resilience"
import { BulkheadStore, IdempotencyStore, Redis } from "effect-resilience/redis"
import { hasRedis, startRedis } from "../utils/redis-server.js"

let prefixes = 0
const uniquePrefix = () => `deadline-test-${process.pid}-${++prefixes}:`

const connect = (url: string, prefix: string) =>
  Redis.make({ url, prefix, commandTimeout: "1 second", redis: { retryStrategy: () => 20 } })

const now = () => performance.now()

/** Runs `call`, returns how it ended and after how many (real) milliseconds. */
const timed = <A, E>(call: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = now()
    const exit = yield* Effect.exit(call)
    return { exit, millis: now() - start }
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

const tagOf = (u: unknown): string =>
  typeof u === "object" && u !== null && "_tag" in u ? String((u as { _tag: unknown })._tag) : String(u)

describe.skipIf(!hasRedis)("issue 15: deadlines in distributed policies (real redis-server)", () => {
  for (const maxWait of ["10 seconds", undefined] as const) {
    it.live(`issue 15: a Redis Bulkhead caller queued inside Effect.uninterruptible fails at the Timeout's deadline (maxWait ${maxWait ?? "none"})`, () =>
      Effect.gen(function*() {
        const server = yield* startRedis
        const redis = yield* connect(server.url, uniquePrefix())
        const bulkhead = yield* Bulkhead.make({
          maxConcurrent: 1,
          maxQueue: 1,
          ...(maxWait === undefined ? {} : { maxWait }),
          name: "deadline"
        }).pipe(Effect.provide(BulkheadStore.layer({ pollInterval: "10 millis" })), Effect.provideService(Redis.Redis, redis))
        const running = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(bulkhead(Effect.zipRight(Deferred.succeed(running, undefined), Deferred.await(release))))
        yield* Deferred.await(running)
        // whatever happens, the holder lets go after 4 s: a caller still waiting then is reported, not hung
        yield* Effect.fork(Effect.zipRight(Effect.sleep("4 seconds"), Deferred.succeed(release, undefined)))
        const { exit, millis } = yield* timed(
          Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("300 millis", { name: "outer" }))
        )
        const e = failureOf(exit)
        assert.strictEqual(tagOf(e), "TimeoutError", `ended with ${Exit.isSuccess(exit) ? "success" : Cause.pretty(exit.cause)}`)
        assert.strictEqual((e as Timeout.TimeoutError).policy, "outer")
        assert.isAtLeast(millis, 250)
        assert.isAtMost(millis, 1_500, "at the deadline (300 ms), not at maxWait nor when the holder lets go (4 s)")
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holder)
        // the queued caller left: the next one gets the permit at once
        assert.isTrue(Exit.isSuccess(yield* Effect.exit(bulkhead(Effect.void).pipe(Timeout.make("2 seconds")))))
      }).pipe(Effect.scoped), 20_000)
  }

  it.live("issue 15: a Redis Bulkhead's maxWait shorter than the deadline still rejects at maxWait inside Effect.uninterruptible", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* connect(server.url, uniquePrefix())
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, maxWait: "300 millis" }).pipe(
        Effect.provide(BulkheadStore.layer({ pollInterval: "10 millis" })),
        Effect.provideService(Redis.Redis, redis)
      )
      const running = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* Effect.fork(bulkhead(Effect.zipRight(Deferred.succeed(running, undefined), Deferred.await(release))))
      yield* Deferred.await(running)
      yield* Effect.fork(Effect.zipRight(Effect.sleep("4 seconds"), Deferred.succeed(release, undefined)))
      const { exit, millis } = yield* timed(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("3 seconds")))
      const e = failureOf(exit)
      assert.strictEqual(tagOf(e), "BulkheadFullError")
      assert.strictEqual((e as { reason: string }).reason, "MaxWaitExceeded")
      assert.isAtMost(millis, 1_500)
      yield* Deferred.succeed(release, undefined)
    }).pipe(Effect.scoped), 20_000)

  it.live("issue 15: a Redis Idempotency caller joining another replica's execution inside Effect.uninterruptible fails at its deadline", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const replica = Effect.gen(function*() {
        const redis = yield* connect(server.url, prefix)
        const store = yield* IdempotencyStore.make({ pollInterval: "20 millis" }).pipe(Effect.provideService(Redis.Redis, redis))
        return yield* Idempotency.make({ ttl: "1 minute", success: Schema.String, failure: Schema.Never, name: "deadline" }).pipe(
          Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
        )
      })
      const a = yield* replica
      const b = yield* replica
      const started = yield* Deferred.make<void>()
      const first = yield* Effect.fork(
        a.run("k", Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Effect.sleep("3 seconds"), "first")))
      )
      yield* Deferred.await(started)
      const { exit, millis } = yield* timed(
        Effect.uninterruptible(b.run("k", Effect.succeed("second"))).pipe(Timeout.make("300 millis", { name: "joiner" }))
      )
      const e = failureOf(exit)
      assert.strictEqual(tagOf(e), "TimeoutError", `ended with ${Exit.isSuccess(exit) ? `success ${exit.value}` : Cause.pretty(exit.cause)}`)
      assert.isAtMost(millis, 1_500, "at the deadline (300 ms), not when the execution ends (3 s)")
      assert.strictEqual(yield* Fiber.join(first), "first")
    }).pipe(Effect.scoped), 20_000)
})

