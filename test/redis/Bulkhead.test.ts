/**
 * The bulkhead on the Redis store against a real redis-server: two replicas
 * (two independent connections, stores and bulkheads) in one process never
 * run more than `maxConcurrent` calls together; rejections, queueing,
 * releases on every exit; a crashed holder's lease expires (a killed child
 * process, and under TestClock with the caller's clock); Redis paused,
 * killed and restarted.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Either, Exit, Fiber, Layer, Random, Schedule, TestClock } from "effect"
import { Bulkhead, Errors, Policy } from "effect-resilience"
import { BulkheadStore, Redis } from "effect-resilience/redis"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { hasRedis, restartableRedis, startRedis } from "../utils/redis-server.js"
import { counterTotal } from "../utils/metrics.js"
import { collect } from "../utils/streams.js"

// --- helpers ------------------------------------------------------------------------------

let prefixes = 0
const uniquePrefix = () => `bh-test-${process.pid}-${++prefixes}:`

const connect = (url: string, prefix: string, commandTimeout: Duration.DurationInput = "1 second") =>
  Redis.make({ url, prefix, commandTimeout, redis: { retryStrategy: () => 20 } })

/** A bulkhead on its own Redis store (with the store's `options`) on `redis`. */
const onRedis = <const O extends Bulkhead.Bulkhead.Options>(
  redis: Redis.RedisConnection,
  options: O,
  store: BulkheadStore.Options = {}
) =>
  Effect.flatMap(BulkheadStore.make(store), (s) => Bulkhead.make(options).pipe(Effect.provideService(Bulkhead.BulkheadStore, s))).pipe(
    Effect.provideService(Redis.Redis, redis)
  )

/** A replica: its own connection, store and bulkhead. */
const replica = <const O extends Bulkhead.Bulkhead.Options>(url: string, prefix: string, options: O, store: BulkheadStore.Options = {}) =>
  Effect.flatMap(connect(url, prefix), (redis) => onRedis(redis, options, store))

const realSleep = (millis: number) => Effect.promise(() => new Promise((r) => setTimeout(r, millis)))

/** Waits (real time) until `check` holds, at most ~5 s. */
const eventually = <E>(check: Effect.Effect<boolean, E>) =>
  Effect.flatMap(
    Effect.retry(
      Effect.filterOrFail(check, (ok) => ok, () => "not yet" as const),
      { times: 250, schedule: Schedule.spaced("20 millis") }
    ),
    () => Effect.void
  )

/** Starts a call that holds its permit until `release` completes; returns once it runs. */
const holding = <E>(policy: (self: Effect.Effect<void>) => Effect.Effect<void, E>) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(policy(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(release))))
    yield* Deferred.await(started)
    return { fiber, release: Deferred.succeed(release, undefined) }
  })

const fixture = fileURLToPath(new URL("./fixtures/bulkhead-holder.ts", import.meta.url))

describe.skipIf(!hasRedis)("Bulkhead on the Redis store (real redis-server)", () => {
  it.live("replicas never run more than maxConcurrent calls together; interrupted callers leave nothing behind (random, seeded)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      for (const seed of [1, 2, 3, 4]) {
        const run = Effect.gen(function*() {
          const prefix = uniquePrefix()
          const limit = yield* Random.nextIntBetween(1, 5)
          const options = { maxConcurrent: limit, maxQueue: Infinity, name: "global" } as const
          const store = { pollInterval: "10 millis" } as const
          const replicas = [
            yield* replica(server.url, prefix, options, store),
            yield* replica(server.url, prefix, options, store),
            yield* replica(server.url, prefix, options, store)
          ]
          let running = 0
          let max = 0
          const fibers: Array<Fiber.RuntimeFiber<number, Errors.BulkheadFullError>> = []
          const interrupted = new Set<number>()
          for (let i = 0; i < 36; i++) {
            const hold = yield* Random.nextIntBetween(0, 8)
            const on = replicas[yield* Random.nextIntBetween(0, replicas.length)]!
            const call = Effect.sync(() => {
              running++
              max = Math.max(max, running)
            }).pipe(
              Effect.zipRight(Effect.sleep(Duration.millis(hold))),
              Effect.ensuring(Effect.sync(() => running--)),
              Effect.as(i)
            )
            fibers.push(yield* Effect.fork(on(call)))
            // one caller in four is interrupted a little later: queued, polling or running
            if ((yield* Random.nextIntBetween(0, 4)) === 0) interrupted.add(i)
          }
          yield* Effect.forEach(
            [...interrupted],
            (i) => Effect.zipRight(Effect.sleep(Duration.millis(i % 5)), Fiber.interrupt(fibers[i]!)),
            { concurrency: "unbounded" }
          )
          const exits = yield* Effect.forEach(fibers, Fiber.await)
          exits.forEach((exit, i) => {
            if (!interrupted.has(i)) assert.deepStrictEqual(exit, Exit.succeed(i), `seed ${seed}: call ${i}`)
          })
          assert.isTrue(max <= limit, `seed ${seed}: ${max} calls ran at once, limit ${limit}`)
          assert.strictEqual(max, limit)
          // nothing left behind: no lease in Redis, no permit or waiter on any replica
          assert.strictEqual(yield* replicas[0]!.held(), 0)
          for (const r of replicas) assert.deepStrictEqual([r.unsafeTotals().active, r.unsafeTotals().queued], [0, 0])
        })
        yield* Effect.withRandom(run, Random.make(seed))
      }
    }).pipe(Effect.scoped))

  it.effect("the error channel follows onStoreError: BulkheadStoreError only when it may fail closed", () =>
    Effect.gen(function*() {
      class Unavailable {
        readonly _tag = "Unavailable"
      }
      const call: Effect.Effect<number, Unavailable> = Effect.succeed(1)
      const _open = Bulkhead.make({ maxConcurrent: 1 })
      const _closed = Bulkhead.make({ maxConcurrent: 1, onStoreError: "fail" })
      const options: Bulkhead.Bulkhead.Options = { maxConcurrent: 1 }
      const _either = Bulkhead.make(options)
      type Of<T> = T extends Effect.Effect<infer B, any, any> ? B : never
      const useOpen = (b: Of<typeof _open>) => call.pipe(b)
      const useClosed = (b: Of<typeof _closed>) => b.execute(call, { key: "k" })
      const useEither = (b: Of<typeof _either>) => b(call)
      expectTypeOf(useOpen).returns.toEqualTypeOf<Effect.Effect<number, Unavailable | Errors.BulkheadFullError>>()
      // a keyed call may also refuse its key
      expectTypeOf(useClosed).returns.toEqualTypeOf<
        Effect.Effect<number, Unavailable | Errors.BulkheadFullError | Bulkhead.BulkheadStoreError | Errors.InvalidKeyError>
      >()
      expectTypeOf(useEither).returns.toEqualTypeOf<
        Effect.Effect<number, Unavailable | Errors.BulkheadFullError | Bulkhead.BulkheadStoreError>
      >()
      expectTypeOf(Bulkhead.make({ maxConcurrent: 1, onStoreError: "fail" })).toEqualTypeOf<
        Effect.Effect<Bulkhead.Bulkhead<Bulkhead.BulkheadStoreError>, Errors.InvalidOptionsError, import("effect").Scope.Scope>
      >()
      // invalid options fail at construction, naming the option: the bulkhead's, and the store's
      const invalid = yield* Effect.flip(onRedis({} as Redis.RedisConnection, { maxConcurrent: 0 }).pipe(Effect.scoped))
      assert.strictEqual(invalid.option, "maxConcurrent")
      const invalidStore = yield* Effect.flip(onRedis({} as Redis.RedisConnection, { maxConcurrent: 1 }, { leaseTtl: 0 }).pipe(Effect.scoped))
      assert.strictEqual(invalidStore.option, "leaseTtl")
      assert.strictEqual(invalidStore.module, "BulkheadStore.make")
    }))

  it.live("a full bulkhead rejects at once without a queue, and per key", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const a = yield* replica(server.url, prefix, { maxConcurrent: 2, name: "full" })
      const b = yield* replica(server.url, prefix, { maxConcurrent: 2, name: "full" })
      const h1 = yield* holding(a)
      const h2 = yield* holding(b)
      assert.strictEqual(yield* a.held(), 2)
      const rejected = yield* Effect.flip(b(Effect.succeed("no")))
      assert.strictEqual(rejected._tag, "BulkheadFullError")
      assert.strictEqual(rejected.reason, "QueueFull")
      assert.isTrue(Errors.isRejection(rejected))
      // another key is another partition
      assert.strictEqual(yield* b.execute(Effect.succeed("other key"), { key: "k2" }), "other key")
      yield* h1.release
      yield* Fiber.join(h1.fiber)
      assert.strictEqual(yield* b(Effect.succeed("yes")), "yes")
      yield* h2.release
      yield* Fiber.join(h2.fiber)
      assert.strictEqual(yield* a.held(), 0)
      assert.strictEqual(yield* a.held("k2"), 0)
    }).pipe(Effect.scoped))

  it.live("queued callers wait for a permit freed on another replica, or give up after maxWait", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const a = yield* replica(server.url, prefix, { maxConcurrent: 1, name: "queue" })
      const impatient = yield* replica(server.url, prefix, { maxConcurrent: 1, maxQueue: 5, maxWait: "50 millis", name: "queue" })
      const patient = yield* replica(server.url, prefix, { maxConcurrent: 1, maxQueue: 5, name: "queue" }, { pollInterval: "20 millis" })
      const h = yield* holding(a)
      const gaveUp = yield* Effect.flip(impatient(Effect.succeed("no")))
      assert.strictEqual(gaveUp.reason, "MaxWaitExceeded")
      const order: Array<number> = []
      const waiters = yield* Effect.forEach([1, 2, 3], (i) =>
        Effect.fork(patient(Effect.sync(() => {
          order.push(i)
        }))))
      yield* eventually(Effect.map(patient.stats(), (s) => s.queued === 3))
      yield* h.release
      yield* Effect.forEach(waiters, Fiber.join)
      assert.deepStrictEqual(order, [1, 2, 3]) // FIFO within a replica
      assert.strictEqual(yield* a.held(), 0)
      assert.deepStrictEqual(yield* patient.stats(), { active: 0, queued: 0, maxConcurrent: 1, maxQueue: 5 })
    }).pipe(Effect.scoped))

  it.live("leases are released on failure, defect and interruption (running or queued)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const a = yield* replica(server.url, prefix, { maxConcurrent: 1, maxQueue: 10, name: "exits" })
      const b = yield* replica(server.url, prefix, { maxConcurrent: 1, maxQueue: 10, name: "exits" })
      assert.strictEqual(yield* Effect.flip(a(Effect.fail("boom"))), "boom")
      assert.isTrue(Exit.isFailure(yield* Effect.exit(a(Effect.die("defect")))))
      const running = yield* holding(a)
      // b's callers queue (one polls Redis), then are interrupted
      const queued = yield* Effect.forEach([1, 2], () => Effect.fork(b(Effect.void)))
      yield* eventually(Effect.sync(() => b.unsafeStats().queued === 2))
      yield* Effect.forEach(queued, Fiber.interrupt)
      yield* Fiber.interrupt(running.fiber)
      assert.strictEqual(yield* a.held(), 0)
      assert.deepStrictEqual([a.unsafeTotals().active, a.unsafeTotals().queued, b.unsafeTotals().active, b.unsafeTotals().queued], [0, 0, 0, 0])
      // and the permit is free for anyone
      assert.strictEqual(yield* b(Effect.succeed("free")), "free")
    }).pipe(Effect.scoped))

  it.live("a crashed replica's lease expires: renewed while it lives, free once it is killed", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const child = spawn(process.execPath, ["--import", "tsx", fixture, server.url, prefix, "crash", "300"], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => void child.kill("SIGKILL")))
      yield* Effect.async<void, Error>((resume) => {
        let out = ""
        child.stdout!.on("data", (chunk: Buffer) => {
          out += chunk.toString()
          if (out.includes("holding")) resume(Effect.void)
        })
        child.once("exit", (code) => resume(Effect.fail(new Error(`holder exited (${code})`))))
      })
      const b = yield* replica(server.url, prefix, { maxConcurrent: 1, maxQueue: 1, name: "crash" }, { leaseTtl: 300 })
      const noQueue = yield* replica(server.url, prefix, { maxConcurrent: 1, name: "crash" })
      // longer than the lease: the holder renews it
      yield* realSleep(450)
      assert.strictEqual(yield* b.held(), 1)
      assert.strictEqual((yield* Effect.flip(noQueue(Effect.void))).reason, "QueueFull")
      child.kill("SIGKILL")
      // the waiter is admitted once the dead holder's lease expires
      assert.strictEqual(yield* b(Effect.succeed("after the crash")), "after the crash")
      assert.strictEqual(yield* b.held(), 0)
    }).pipe(Effect.scoped))

  it.scoped("with the caller's clock (TestClock), an unrenewed lease expires after leaseTtl", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const redis = yield* connect(server.url, prefix)
      const b = yield* onRedis(redis, { maxConcurrent: 1, name: "ttl" }, { clock: "caller", leaseTtl: "10 seconds" })
      // a holder that died right after taking its lease (never renews)
      const now = yield* TestClock.currentTimeMillis
      // the default partition's set: `<prefix>bulkhead:<name.length>:<name>`
      yield* redis.use("ZADD", (c) => c.zadd(`${prefix}bulkhead:3:ttl`, now + 10_000, "dead-replica:1"))
      assert.strictEqual(yield* b.held(), 1)
      assert.strictEqual((yield* Effect.flip(b(Effect.void))).reason, "QueueFull")
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual((yield* Effect.flip(b(Effect.void))).reason, "QueueFull")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* b.held(), 0)
      assert.strictEqual(yield* b(Effect.succeed("ok")), "ok")
    }))

  it.live("Redis paused: fail closed with BulkheadStoreError or run within the local limit; no hang, no leaked lease", () =>
    Effect.gen(function*() {
      const server = yield* restartableRedis
      const prefix = uniquePrefix()
      const redis = yield* connect(server.url, prefix, "100 millis")
      const closed = yield* onRedis(redis, { maxConcurrent: 2, name: "closed", onStoreError: "fail" })
      const open = yield* onRedis(redis, { maxConcurrent: 2, name: "open" }, { localMaxConcurrent: 1 })
      // a call holds a lease when Redis stops answering
      const h = yield* holding(closed)
      yield* server.pause
      const error = yield* Effect.flip(closed(Effect.succeed("no")))
      assert.strictEqual(error._tag, "BulkheadStoreError")
      assert.isTrue(Errors.isRejection(error))
      // fail open: runs without a lease, but never more than localMaxConcurrent at once on this replica
      const o = yield* holding(open)
      const local = yield* Effect.flip(open(Effect.succeed("no")))
      assert.strictEqual(local._tag === "BulkheadFullError" && local.reason, "QueueFull")
      yield* o.release
      yield* Fiber.join(o.fiber)
      // the holder finishes while Redis is paused: its release times out, the call still returns
      yield* h.release
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(h.fiber)))
      yield* server.resume
      // the releases sent while paused run on resume (well before the 10 s lease would expire): nothing leaks
      yield* eventually(Effect.map(closed.held(), (n) => n === 0))
      assert.strictEqual(yield* closed(Effect.succeed("back")), "back")
      const t = yield* closed.totals()
      assert.isTrue(t.storeErrors! >= 2, `storeErrors ${t.storeErrors}`)
      assert.strictEqual(open.unsafeTotals().allowedWithoutLease, 1)
      // and in metrics
      const storeErrors = { store: "bulkhead", policy: "closed", operation: "acquire" }
      assert.isTrue((yield* counterTotal("resilience_redis_store_errors", storeErrors)) >= 1)
      assert.strictEqual(yield* counterTotal("resilience_bulkhead_allowed_without_lease", { policy: "open" }), 1)
    }).pipe(Effect.scoped))

  it.live("Redis killed and restarted empty: fail fast meanwhile, running calls take their leases back, then recovery", () =>
    Effect.gen(function*() {
      const server = yield* restartableRedis
      const prefix = uniquePrefix()
      const redis = yield* connect(server.url, prefix, "200 millis")
      const bulkhead = yield* onRedis(redis, { maxConcurrent: 2, name: "restart", onStoreError: "fail" }, { leaseTtl: 150 })
      const h = yield* holding(bulkhead)
      yield* server.kill
      const down = yield* Effect.flip(bulkhead(Effect.void))
      assert.strictEqual(down._tag, "BulkheadStoreError")
      yield* server.restart
      // the running call's renewal takes its lease back in the new, empty Redis
      yield* eventually(Effect.map(Effect.either(bulkhead.held()), (n) => Either.isRight(n) && n.right === 1))
      assert.isTrue(bulkhead.unsafeTotals().leasesRecovered! >= 1)
      // the limit holds again: one more call fits, a third does not
      const h2 = yield* holding(bulkhead)
      const full = yield* Effect.flip(bulkhead(Effect.void))
      assert.strictEqual(full._tag === "BulkheadFullError" && full.reason, "QueueFull")
      yield* Effect.all([h.release, h2.release])
      yield* Fiber.join(h.fiber)
      yield* Fiber.join(h2.fiber)
      assert.strictEqual(yield* bulkhead.held(), 0)
      assert.strictEqual(yield* bulkhead(Effect.succeed("recovered")), "recovered")
    }).pipe(Effect.scoped))
  it.live("one policy: Bulkhead.make under BulkheadStore.layer, described with its store, its events and readers", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const live = BulkheadStore.layer({ leaseTtl: "6 seconds" }).pipe(
        Layer.provide(Redis.layer({ url: server.url, prefix, commandTimeout: "1 second" }))
      )
      yield* Effect.gen(function*() {
        assert.strictEqual((yield* Bulkhead.BulkheadStore).kind, "redis")
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, name: "one", metricsInterval: Duration.infinity })
        assert.isTrue(Bulkhead.isBulkhead(bulkhead))
        assert.deepStrictEqual(Policy.describe(bulkhead).options, {
          maxConcurrent: 1,
          maxQueue: 0,
          store: "redis",
          leaseTtl: "6s",
          onStoreError: "allow"
        })
        const events = yield* collect(bulkhead.events, 2) // returns once subscribed
        const h = yield* holding(bulkhead.execute({ key: "k" }))
        assert.strictEqual(yield* bulkhead.held("k"), 1)
        assert.deepStrictEqual(yield* bulkhead.stats("k"), { active: 1, queued: 0, maxConcurrent: 1, maxQueue: 0 })
        assert.deepStrictEqual(yield* bulkhead.totals(), {
          active: 1,
          queued: 0,
          partitions: 1,
          storeErrors: 0,
          allowedWithoutLease: 0,
          leasesLost: 0,
          leasesRecovered: 0
        })
        const rejected = yield* Effect.flip(bulkhead.execute(Effect.void, { key: "k" }))
        assert.strictEqual(rejected._tag === "BulkheadFullError" && rejected.reason, "QueueFull")
        yield* h.release
        yield* Fiber.join(h.fiber)
        const [permitted, full] = yield* events
        assert.isTrue(permitted!._tag === "Permitted" && permitted!.leased === true && permitted!.key === "k" && permitted!.active === 1)
        assert.isTrue(full!._tag === "Rejected" && full!.reason === "QueueFull")
        assert.deepStrictEqual(bulkhead.unsafeTotals().partitions, 0)
        assert.strictEqual(yield* bulkhead.held("k"), 0)
      }).pipe(Effect.provide(live))
      // and as a layer under the user's tag, the store provided to it
      class Payments extends Context.Tag("test/Payments")<Payments, Bulkhead.Bulkhead<Bulkhead.BulkheadStoreError>>() {}
      const payments = Bulkhead.layer(Payments, { maxConcurrent: 1, name: "one", onStoreError: "fail" }).pipe(
        Layer.provide(BulkheadStore.layer()),
        Layer.provide(Redis.layer({ url: server.url, prefix, commandTimeout: "1 second" }))
      )
      const described = yield* Effect.map(Payments, (b) => Policy.describe(b).options).pipe(Effect.provide(payments))
      assert.deepStrictEqual(described, { maxConcurrent: 1, maxQueue: 0, store: "redis", leaseTtl: "10s", onStoreError: "fail" })
    }).pipe(Effect.scoped))
})
