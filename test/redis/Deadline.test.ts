/**
 * Issue 15 against a real redis-server: a caller waiting in a distributed
 * policy bounds its own wait by the smaller of its own bound and the deadline
 * of an enclosing `Timeout`, and fails with that timeout's `TimeoutError` when
 * the deadline comes first — without depending on being interrupted (inside
 * `Effect.uninterruptible` the timeout cannot interrupt it).
 *
 * Live clock: times are real (the deadline is 300 ms, the other bounds are
 * seconds away), but no duration is measured: each test asserts what ended
 * the wait and that it ended before anything else could have (the holder
 * still holds its permit, the execution still runs).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Option, Schema, Stream } from "effect"
import { Bulkhead, Idempotency, Timeout } from "effect-resilience"
import { BulkheadStore, IdempotencyStore, Redis } from "effect-resilience/redis"
import { hasRedis, startRedis } from "../utils/redis-server.js"
import { collect } from "../utils/streams.js"

let prefixes = 0
const uniquePrefix = () => `deadline-test-${process.pid}-${++prefixes}:`

const connect = (url: string, prefix: string) =>
  Redis.make({ url, prefix, commandTimeout: "1 second", redis: { retryStrategy: () => 20 } })

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
        const queued = yield* collect(Stream.filter(bulkhead.events, (e) => e._tag === "Queued"), 1) // returns once subscribed
        const exit = yield* Effect.exit(
          Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("300 millis", { name: "outer" }))
        )
        // at the deadline: the Timeout's error (maxWait would reject, a permit would run the call), and
        // before the holder let go
        assert.isFalse(yield* Deferred.isDone(release), "the holder still held its permit when the caller's wait ended")
        const e = failureOf(exit)
        assert.strictEqual(tagOf(e), "TimeoutError", `ended with ${Exit.isSuccess(exit) ? "success" : Cause.pretty(exit.cause)}`)
        assert.strictEqual((e as Timeout.TimeoutError).policy, "outer")
        assert.strictEqual((yield* queued).length, 1, "the caller waited in the queue")
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
      const exit = yield* Effect.exit(Effect.uninterruptible(bulkhead(Effect.void)).pipe(Timeout.make("3 seconds")))
      // at maxWait: rejected (the deadline would be a TimeoutError, a permit would run the call), before the holder let go
      assert.isFalse(yield* Deferred.isDone(release), "the holder still held its permit when the caller was rejected")
      const e = failureOf(exit)
      assert.strictEqual(tagOf(e), "BulkheadFullError")
      assert.strictEqual((e as { reason: string }).reason, "MaxWaitExceeded")
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
      const finish = yield* Deferred.make<void>()
      // the execution runs until the test lets it finish (after 3 s whatever happens: a joiner still waiting then is reported, not hung)
      const execution = Effect.race(Deferred.await(finish), Effect.sleep("3 seconds"))
      const first = yield* Effect.fork(
        a.run("k", Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(execution, "first")))
      )
      yield* Deferred.await(started)
      const exit = yield* Effect.exit(
        Effect.uninterruptible(b.run("k", Effect.succeed("second"))).pipe(Timeout.make("300 millis", { name: "joiner" }))
      )
      // at the deadline, not when the execution ends: it still runs
      assert.isTrue(Option.isNone(yield* Fiber.poll(first)), "the execution still ran when the joiner's wait ended")
      const e = failureOf(exit)
      assert.strictEqual(tagOf(e), "TimeoutError", `ended with ${Exit.isSuccess(exit) ? `success ${exit.value}` : Cause.pretty(exit.cause)}`)
      assert.strictEqual((e as Timeout.TimeoutError).policy, "joiner")
      assert.strictEqual(b.unsafeStats().joined, 1, "the caller joined the execution")
      yield* Deferred.succeed(finish, undefined)
      assert.strictEqual(yield* Fiber.join(first), "first")
    }).pipe(Effect.scoped), 20_000)
})

