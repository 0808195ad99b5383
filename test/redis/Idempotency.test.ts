/**
 * The Redis `IdempotencyStore` against a real redis-server: a key executes
 * once across replicas (two layer stacks in one process, and two separate
 * Node processes); waiters get the `Exit` (kept or handed off) decoded with
 * the policy's Schemas; a dead executor's lock expires and a waiter takes
 * over (a killed child process, and under TestClock with the caller's
 * clock); Redis paused, killed and restarted.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Layer, Random, Schedule, Schema, Scope, TestClock } from "effect"
import { Idempotency } from "effect-resilience"
import { IdempotencyStore, Redis } from "effect-resilience/redis"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { hasRedis, restartableRedis, startRedis, stopProcess } from "../utils/redis-server.js"
import { counterTotal } from "../utils/metrics.js"

// --- helpers ------------------------------------------------------------------------------

let prefixes = 0
const uniquePrefix = () => `idem-test-${process.pid}-${++prefixes}:`

const connect = (url: string, prefix: string, commandTimeout: Duration.DurationInput = "1 second") =>
  Redis.make({ url, prefix, commandTimeout, redis: { retryStrategy: () => 20 } })

class Declined extends Schema.TaggedError<Declined>()("Declined", { reason: Schema.String }) {}
class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {}) {}

const Charge = Schema.Struct({ id: Schema.String, at: Schema.Date })

/** A replica: its own connection, store and policy. */
const replica = (
  url: string,
  prefix: string,
  storeOptions: IdempotencyStore.Options = {},
  policyOptions: Partial<Idempotency.Idempotency.Options<typeof Charge.Type, Declined | Unavailable>> = {},
  commandTimeout?: Duration.DurationInput
) =>
  Effect.gen(function*() {
    const redis = yield* connect(url, prefix, commandTimeout)
    const store = yield* IdempotencyStore.make({ pollInterval: "20 millis", ...storeOptions }).pipe(
      Effect.provideService(Redis.Redis, redis)
    )
    const policy = yield* Idempotency.make({
      ttl: "1 minute",
      success: Charge,
      failure: Schema.Union(Declined, Unavailable),
      keepFailures: (e) => e._tag === "Declined",
      name: "payments",
      ...policyOptions
    }).pipe(Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store)))
    return { redis, store, policy }
  })

const realSleep = (millis: number) => Effect.promise(() => new Promise((r) => setTimeout(r, millis)))

const eventually = <E>(check: Effect.Effect<boolean, E>) =>
  Effect.asVoid(Effect.retry(Effect.filterOrFail(check, (ok) => ok, () => "not yet" as const), {
    times: 250,
    schedule: Schedule.spaced("20 millis")
  }))

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

const spawnNode = (file: string, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => spawn(process.execPath, ["--import", "tsx", file, ...args], { stdio: ["ignore", "pipe", "pipe"] })),
    (child) => Effect.promise(() => stopProcess(child))
  )

const outputOf = (child: ChildProcess, until?: string) =>
  Effect.async<string, Error>((resume) => {
    let out = ""
    let err = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (until !== undefined && out.includes(until)) resume(Effect.succeed(out))
    })
    child.stderr!.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.once("exit", (code) =>
      resume(code === 0 ? Effect.succeed(out) : Effect.fail(new Error(`exited with ${code}: ${err}`))))
  })

describe.skipIf(!hasRedis)("Redis IdempotencyStore (real redis-server)", () => {
  it.live("a key executes once across replicas; concurrent callers share it, later ones get the stored Exit", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const a = yield* replica(server.url, prefix)
      const b = yield* replica(server.url, prefix)
      let executions = 0
      // the first execution is held until the other callers have joined it
      const release = yield* Deferred.make<void>()
      const charge = (by: string) =>
        Effect.sync(() => ++executions).pipe(
          Effect.zipRight(Deferred.await(release)),
          Effect.as({ id: `ch_${by}`, at: new Date("2026-01-02T03:04:05Z") })
        )
      const callers = Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0 ? a.policy.run("order-1", charge("a")) : b.policy.run("order-1", charge("b")))
      const all = yield* Effect.fork(Effect.all(callers, { concurrency: "unbounded" }))
      yield* eventually(Effect.sync(() => a.policy.unsafeStats().joined + b.policy.unsafeStats().joined === 19))
      yield* Deferred.succeed(release, undefined)
      const results = yield* Fiber.join(all)
      assert.strictEqual(executions, 1)
      for (const r of results) {
        assert.strictEqual(r.id, results[0]!.id)
        assert.instanceOf(r.at, Date) // decoded with the Schemas on the other replica
        assert.strictEqual(r.at.toISOString(), "2026-01-02T03:04:05.000Z")
      }
      // replayed later on both replicas; another key runs on its own
      assert.strictEqual((yield* b.policy.run("order-1", charge("b"))).id, results[0]!.id)
      assert.strictEqual((yield* a.policy.run("order-1", charge("a"))).id, results[0]!.id)
      yield* a.policy.run("order-2", charge("a"))
      assert.strictEqual(executions, 2)
      const stats = [a.policy.unsafeStats(), b.policy.unsafeStats()]
      assert.strictEqual(stats[0]!.executions + stats[1]!.executions, 2)
      assert.strictEqual(stats[0]!.joined + stats[1]!.joined, 19)
      assert.strictEqual(stats[0]!.replayed + stats[1]!.replayed, 2)
      // invalidation is shared
      yield* b.policy.invalidate("order-1")
      yield* a.policy.run("order-1", charge("a"))
      assert.strictEqual(executions, 3)
      assert.strictEqual(a.store.unsafeStats().waiting + b.store.unsafeStats().waiting, 0)
    }).pipe(Effect.scoped))

  it.live("random callers on two replicas, some interrupted: every key runs once, every other caller gets its result (seeded)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      for (const seed of [1, 2, 3]) {
        const run = Effect.gen(function*() {
          const prefix = uniquePrefix()
          const replicas = [yield* replica(server.url, prefix), yield* replica(server.url, prefix)]
          const executions = new Map<string, number>()
          const fibers: Array<[string, Fiber.RuntimeFiber<typeof Charge.Type, unknown>]> = []
          const interrupted = new Set<number>()
          for (let i = 0; i < 30; i++) {
            const key = `key-${yield* Random.nextIntBetween(0, 3)}`
            const hold = yield* Random.nextIntBetween(0, 20)
            const on = replicas[yield* Random.nextIntBetween(0, 2)]!
            const effect = Effect.sync(() => executions.set(key, (executions.get(key) ?? 0) + 1)).pipe(
              Effect.zipRight(Effect.sleep(Duration.millis(hold))),
              Effect.as({ id: `${key}@${i}`, at: new Date(i) })
            )
            fibers.push([key, yield* Effect.fork(on.policy.run(key, effect))])
            if ((yield* Random.nextIntBetween(0, 4)) === 0) interrupted.add(i)
            if ((yield* Random.nextIntBetween(0, 3)) === 0) yield* realSleep(yield* Random.nextIntBetween(0, 5))
          }
          yield* Effect.forEach([...interrupted], (i) => Fiber.interrupt(fibers[i]![1]), { concurrency: "unbounded" })
          const exits = yield* Effect.forEach(fibers, ([, f]) => Fiber.await(f))
          const results = new Map<string, string>()
          exits.forEach((exit, i) => {
            const key = fibers[i]![0]
            if (interrupted.has(i)) return
            assert.isTrue(Exit.isSuccess(exit), `seed ${seed}: caller ${i} of ${key}: ${String(exit)}`)
            if (Exit.isSuccess(exit)) {
              const seen = results.get(key)
              if (seen === undefined) results.set(key, exit.value.id)
              else assert.strictEqual(exit.value.id, seen, `seed ${seed}: ${key}`)
            }
          })
          // interrupted callers never stop an execution: each key ran exactly once
          yield* eventually(Effect.sync(() => [...executions.values()].every((n) => n === 1)))
          for (const [key, n] of executions) assert.strictEqual(n, 1, `seed ${seed}: ${key} ran ${n} times`)
          // no lock left in Redis, nobody waiting
          yield* eventually(Effect.map(
            replicas[0]!.redis.use("KEYS", (c) => c.keys(`${prefix}idem:l:*`)),
            (keys) => keys.length === 0
          ))
          for (const r of replicas) assert.strictEqual(r.store.unsafeStats().waiting, 0)
        })
        yield* Effect.withRandom(run, Random.make(seed))
      }
    }).pipe(Effect.scoped))

  it.live("failures: a kept one is replayed everywhere, an unkept one reaches the waiters and runs again later; defects too", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const a = yield* replica(server.url, prefix)
      const b = yield* replica(server.url, prefix)
      let runs = 0
      const failing = <E>(error: E) => Effect.sync(() => ++runs).pipe(Effect.zipRight(Effect.fail(error)))
      /** `failing`, held until `gate` opens (while another caller joins the execution). */
      const failingWhen = <E>(gate: Deferred.Deferred<void>, error: E) =>
        Effect.sync(() => ++runs).pipe(Effect.zipRight(Deferred.await(gate)), Effect.zipRight(Effect.fail(error)))
      // kept (Declined): replayed on the other replica, with its class
      const declined = yield* Effect.flip(a.policy.run("k1", failing(new Declined({ reason: "card" }))))
      const replayed = yield* Effect.flip(b.policy.run("k1", failing(new Declined({ reason: "other" }))))
      assert.instanceOf(replayed, Declined)
      assert.deepStrictEqual(replayed, declined)
      assert.strictEqual(runs, 1)
      // not kept (Unavailable): a waiter on the other replica gets it, the next call runs again
      const unavailable = yield* Deferred.make<void>()
      const first = yield* Effect.fork(Effect.flip(a.policy.run("k2", failingWhen(unavailable, new Unavailable()))))
      yield* eventually(Effect.sync(() => runs === 2))
      const waiting = yield* Effect.fork(Effect.flip(b.policy.run("k2", failing(new Unavailable()))))
      yield* eventually(Effect.sync(() => b.policy.unsafeStats().joined === 1))
      yield* Deferred.succeed(unavailable, undefined)
      const waiter = yield* Fiber.join(waiting)
      assert.instanceOf(waiter, Unavailable)
      assert.instanceOf(yield* Fiber.join(first), Unavailable)
      assert.strictEqual(runs, 2)
      assert.strictEqual(b.policy.unsafeStats().joined, 1)
      yield* Effect.flip(b.policy.run("k2", failing(new Unavailable())))
      assert.strictEqual(runs, 3)
      // a defect reaches the waiters, and is never kept
      const started = yield* Deferred.make<void>()
      const bug = yield* Deferred.make<void>()
      const dying = yield* Effect.fork(Effect.exit(a.policy.run(
        "k3",
        Effect.zipRight(Deferred.succeed(started, undefined), Effect.zipRight(Deferred.await(bug), Effect.die(new Error("bug"))))
      )))
      yield* Deferred.await(started)
      const waitedFiber = yield* Effect.fork(Effect.exit(b.policy.run("k3", Effect.succeed({ id: "never", at: new Date(0) }))))
      yield* eventually(Effect.sync(() => b.policy.unsafeStats().joined === 2))
      yield* Deferred.succeed(bug, undefined)
      const waited = yield* Fiber.join(waitedFiber)
      assert.isTrue(Exit.isFailure(waited) && Cause.isDie(waited.cause))
      assert.isTrue(Exit.isFailure(yield* Fiber.join(dying)))
      const after = yield* b.policy.run("k3", Effect.succeed({ id: "ran", at: new Date(0) }))
      assert.strictEqual(after.id, "ran")
    }).pipe(Effect.scoped))

  it.live("once across two separate Node processes (executions counted in Redis)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const worker = fixture("idem-worker.ts")
      // the execution is held until the other worker has joined it (told through Redis), 10 s at most
      const p1 = yield* spawnNode(worker, [server.url, prefix, "order-42", "10000", "2"])
      const p2 = yield* spawnNode(worker, [server.url, prefix, "order-42", "10000", "2"])
      const [out1, out2] = yield* Effect.all([outputOf(p1), outputOf(p2)], { concurrency: 2 })
      const { did: did1, ...r1 } = JSON.parse(out1.trim())
      const { did: did2, ...r2 } = JSON.parse(out2.trim())
      assert.deepStrictEqual(r1, r2) // the same Exit: the executor's pid and time
      assert.isTrue(r1.isDate)
      // their calls overlapped (they met at a barrier first; the execution waited for the joiner): one executed, the other waited for it
      assert.deepStrictEqual([did1, did2].sort(), ["executed", "joined"])
      const redis = yield* connect(server.url, prefix)
      assert.strictEqual(yield* redis.use("GET", (c) => c.get(`${prefix}executions`)), "1")
    }).pipe(Effect.scoped))

  it.live("a dead executor's lock expires and a waiting caller takes over", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const child = yield* spawnNode(fixture("idem-crasher.ts"), [server.url, prefix, "job-7", "300"])
      yield* outputOf(child, "executing")
      const redis = yield* connect(server.url, prefix)
      const store = yield* IdempotencyStore.make({ pollInterval: "20 millis" }).pipe(Effect.provideService(Redis.Redis, redis))
      const policy = yield* Idempotency.make({ ttl: "1 minute", success: Schema.String, failure: Schema.String, name: "crash" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      // while the executor lives, its lock is renewed past its TTL
      yield* realSleep(400)
      assert.strictEqual(yield* redis.use("EXISTS", (c) => c.exists(`${prefix}idem:l:5:crash:job-7`)), 1)
      const waiting = yield* Effect.fork(policy.run("job-7", Effect.succeed("taken over")))
      yield* eventually(Effect.sync(() => policy.unsafeStats().joined === 1))
      child.kill("SIGKILL")
      assert.strictEqual(yield* Fiber.join(waiting), "taken over")
      assert.deepStrictEqual(policy.unsafeStats(), { executions: 1, joined: 1, replayed: 0, storeErrors: 0, refused: 0 })
    }).pipe(Effect.scoped))

  it.scoped("with the caller's clock (TestClock): an unrenewed lock and a kept Exit expire by that clock", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const prefix = uniquePrefix()
      const redis = yield* connect(server.url, prefix)
      const store = yield* IdempotencyStore.make({ clock: "caller", lockTtl: "30 seconds" }).pipe(
        Effect.provideService(Redis.Redis, redis)
      )
      const codec = Schema.Exit({ success: Schema.Number, failure: Schema.String, defect: Schema.Defect })
      const acquire = (key: string) => Effect.scoped(store.acquire(key, { codec }))
      // an executor that died right after taking the lock
      const now = yield* TestClock.currentTimeMillis
      yield* redis.use("SET", (c) => c.set(`${prefix}idem:l:k`, `${now + 30_000}|dead-replica:1`))
      assert.strictEqual((yield* acquire("k"))._tag, "InFlight")
      yield* TestClock.adjust("29999 millis")
      assert.strictEqual((yield* acquire("k"))._tag, "InFlight")
      yield* TestClock.adjust("1 millis")
      // taken over; kept for a minute of that clock
      const scope = yield* Scope.make()
      const taken = yield* store.acquire("k", { codec }).pipe(Scope.extend(scope))
      assert.strictEqual(taken._tag, "Acquired")
      if (taken._tag === "Acquired") yield* taken.complete(Exit.succeed(7), Duration.minutes(1))
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("59999 millis")
      const kept = yield* acquire("k")
      assert.isTrue(kept._tag === "Completed" && Exit.isSuccess(kept.exit) && kept.exit.value === 7)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* acquire("k"))._tag, "Acquired")
    }))

  it.live("Redis paused: fail closed (IdempotencyError, nothing run) or open (run unprotected); an Exit completed meanwhile is still stored", () =>
    Effect.gen(function*() {
      const server = yield* restartableRedis
      const prefix = uniquePrefix()
      const closed = yield* replica(server.url, prefix, {}, {}, "100 millis")
      const open = yield* replica(server.url, prefix, { onStoreError: "allow" }, {}, "100 millis")
      let runs = 0
      const charge = (id: string) => Effect.sync(() => ++runs).pipe(Effect.as({ id, at: new Date(0) }))
      // an execution holds its lock when Redis stops answering
      const latch = yield* Deferred.make<void>()
      const executing = yield* Effect.fork(closed.policy.run("held", Effect.zipRight(Deferred.await(latch), charge("held"))))
      yield* eventually(Effect.sync(() => closed.policy.unsafeStats().executions === 1))
      yield* server.pause
      const error = yield* Effect.flip(closed.policy.run("new-key", charge("no")))
      assert.strictEqual(error._tag === "IdempotencyError" && error.reason, "StoreError")
      assert.strictEqual(runs, 0)
      assert.strictEqual((yield* open.policy.run("new-key", charge("unprotected"))).id, "unprotected")
      assert.strictEqual(runs, 1)
      assert.strictEqual(open.store.unsafeStats().allowedWithoutLock, 1)
      // a waiter on the other replica cannot poll: it fails (closed) instead of hanging
      const waiter = yield* Effect.flip(closed.policy.run("held", charge("no")))
      assert.strictEqual(waiter._tag, "IdempotencyError")
      // the execution ends while Redis is paused: its caller gets the result; the write runs on resume
      yield* Deferred.succeed(latch, undefined)
      assert.strictEqual((yield* Fiber.join(executing)).id, "held")
      yield* server.resume
      const other = yield* replica(server.url, prefix)
      yield* eventually(Effect.map(
        Effect.either(other.policy.run("held", charge("again"))),
        (r) => r._tag === "Right" && r.right.id === "held"
      ))
      assert.strictEqual(runs, 2)
      assert.isTrue(closed.store.unsafeStats().storeErrors >= 2)
      assert.isTrue(closed.policy.unsafeStats().storeErrors >= 2)
      const acquireErrors = { store: "idempotency", prefix: "idem:", operation: "acquire" }
      assert.isTrue((yield* counterTotal("resilience_redis_store_errors", acquireErrors)) >= 2)
    }).pipe(Effect.scoped))

  it.live("Redis killed and restarted empty: fail fast meanwhile, then recovery (kept Exits were lost with the state)", () =>
    Effect.gen(function*() {
      const server = yield* restartableRedis
      const prefix = uniquePrefix()
      const a = yield* replica(server.url, prefix, {}, {}, "200 millis")
      let runs = 0
      const charge = Effect.sync(() => ++runs).pipe(Effect.map((n) => ({ id: `run-${n}`, at: new Date(0) })))
      assert.strictEqual((yield* a.policy.run("k", charge)).id, "run-1")
      yield* server.kill
      const down = yield* Effect.flip(a.policy.run("k", charge))
      assert.strictEqual(down._tag === "IdempotencyError" && down.reason, "StoreError")
      yield* server.restart
      const again = yield* a.policy.run("k", charge).pipe(
        Effect.retry({ while: (e) => e._tag === "IdempotencyError", times: 200, schedule: Schedule.spaced("20 millis") })
      )
      assert.strictEqual(again.id, "run-2") // the state was lost: the key ran again
      assert.strictEqual((yield* a.policy.run("k", charge)).id, "run-2") // and is kept again
    }).pipe(Effect.scoped))
})
