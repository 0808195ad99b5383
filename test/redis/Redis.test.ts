import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, FiberStatus } from "effect"
import { Bulkhead, CircuitBreaker } from "effect-resilience"
import { BulkheadStore, CircuitBreakerStore, Redis } from "effect-resilience/redis"
import { hasRedis, startRedis } from "../utils/redis-server.js"
import { evictionWarning } from "../../src/redis/internal/redis.js"
import { captureLogs } from "../utils/logs.js"
import { eventually } from "./fixtures/breaker-redis.js"

describe.skipIf(!hasRedis)("Redis connection (real redis-server)", () => {
  it.live("connects, runs commands and scripts, and closes with its scope", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const client = yield* Effect.scoped(Effect.gen(function*() {
        const redis = yield* Redis.make({ url: server.url, prefix: "test:" })
        assert.strictEqual(yield* redis.use("PING", (c) => c.ping()), "PONG")
        const script = { name: "incr-by", source: "return redis.call('INCRBY', KEYS[1], ARGV[1])" }
        assert.strictEqual(yield* redis.eval(script, ["test:n"], [2]), 2)
        // a restarted server loses its script cache: EVALSHA falls back to EVAL
        yield* redis.use("SCRIPT FLUSH", (c) => c.script("FLUSH"))
        assert.strictEqual(yield* redis.eval(script, ["test:n"], [3]), 5)
        assert.strictEqual(redis.prefix, "test:")
        return redis.client
      }))
      // quit was sent when the scope closed; the socket ends right after
      yield* Effect.async<void>((resume) => {
        if (client.status === "end") return resume(Effect.void)
        client.once("end", () => resume(Effect.void))
      })
      assert.strictEqual(client.status, "end")
    }).pipe(Effect.scoped))

  it.live("a caller interrupted while EVALSHA is on its way sends no EVAL when the script is missing (it would run after the caller gave up)", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* Redis.make({ url: server.url })
      // counted from here (the connection's data-format check at start is an EVAL of its own)
      yield* redis.use("CONFIG RESETSTAT", (c) => c.config("RESETSTAT"))
      const script = { name: "count", source: "return redis.call('INCR', KEYS[1])" }
      assert.strictEqual(yield* redis.eval(script, ["runs"], []), 1) // caches the script's sha on this side
      yield* redis.use("SCRIPT FLUSH", (c) => c.script("FLUSH"))
      const fiber = yield* Effect.fork(redis.eval(script, ["runs"], []))
      // the fiber suspends once EVALSHA is written to the socket
      while (!FiberStatus.isSuspended(yield* Fiber.status(fiber))) {
        yield* Effect.yieldNow()
      }
      yield* Fiber.interrupt(fiber)
      // replies come in order on the connection: the NOSCRIPT reply (and any EVAL it led to) before this GET's
      yield* redis.use("PING", (c) => c.ping())
      assert.strictEqual(yield* redis.use("GET", (c) => c.get("runs")), "1")
      const stats = yield* redis.use("INFO", (c) => c.info("commandstats"))
      assert.match(stats, /cmdstat_evalsha:calls=2,/)
      assert.match(stats, /cmdstat_eval:calls=1,/) // the first call's fallback only
      // the next caller runs it again, through EVAL once
      assert.strictEqual(yield* redis.eval(script, ["runs"], []), 2)
    }).pipe(Effect.scoped))

  it.live("a paused server makes commands fail after the command timeout instead of hanging", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* Redis.make({ url: server.url, commandTimeout: "100 millis" })
      yield* server.pause
      const exit = yield* Effect.exit(redis.use("PING", (c) => c.ping()))
      yield* server.resume
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Effect.fail(exit))
      assert.isTrue(Exit.isFailure(error) && String(error.cause).includes("RedisError"))
      assert.strictEqual(Duration.toMillis(redis.commandTimeout), 100)
    }).pipe(Effect.scoped))

  it.live("an unreachable server fails the connection with a RedisError within the connect timeout", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Redis.make({ url: "redis://127.0.0.1:1", connectTimeout: "200 millis" }).pipe(Effect.scoped)
      )
      assert.strictEqual(error._tag, "RedisError")
    }))

  it.effect("invalid options fail with InvalidOptionsError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Redis.make({ commandTimeout: "-1 second" }).pipe(Effect.scoped))
      assert.strictEqual(error._tag, "InvalidOptionsError")
    }))
})

describe.skipIf(!hasRedis)("issue 17 §6: Redis data carries a format version", () => {
  it.live("a replica that meets another data format under its prefix refuses every command loudly, and recovers when it is gone", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* Redis.make({ url: server.url, prefix: "fmt:", formatCheckInterval: "100 millis" })
      assert.isUndefined(redis.formatMismatch())
      assert.strictEqual(yield* redis.use("PING", (c) => c.ping()), "PONG")
      // announced on Redis: this replica's format, with an expiry on Redis time
      const announced = yield* redis.use("HGETALL", (c) => c.hgetall("fmt:format"))
      assert.deepStrictEqual(Object.keys(announced), [String(Redis.FORMAT_VERSION)])
      // a replica of another release announces another format (an hour ahead, so it stays live)
      yield* redis.use("HSET", (c) => c.hset("fmt:format", "999", String(Date.now() + 3_600_000)))
      // seen by the next check (every 100 ms)
      yield* eventually(Effect.sync(() => redis.formatMismatch() === "999"))
      const error = yield* Effect.flip(redis.use("PING", (c) => c.ping()))
      assert.strictEqual(error._tag, "RedisError")
      assert.match(error.message, /format mismatch.*format 1.*format 999/)
      // a second connection of this release sharing the prefix is no mismatch for either: `twin` checks as it
      // starts (after `other` announced), `other` at its next check after that — seen in Redis: `twin` announces
      // its format for 3 hours (3 check intervals), `other` for 300 ms, under the same field
      const other = yield* Redis.make({ url: server.url, prefix: "fmt2:", formatCheckInterval: "100 millis" })
      const twin = yield* Redis.make({ url: server.url, prefix: "fmt2:", formatCheckInterval: "1 hour" })
      const announcedUntil = other.use("HGET", (c) => c.hget("fmt2:format", String(Redis.FORMAT_VERSION)))
      yield* eventually(Effect.map(announcedUntil, (until) => Number(until) < Date.now() + 3_600_000))
      assert.isUndefined(other.formatMismatch())
      assert.isUndefined(twin.formatMismatch())
      // the other release is gone (its entry removed or expired): commands work again
      const raw = yield* Redis.make({ url: server.url, prefix: "raw:" })
      yield* raw.use("HDEL", (c) => c.hdel("fmt:format", "999"))
      yield* eventually(Effect.sync(() => redis.formatMismatch() === undefined))
      assert.strictEqual(yield* redis.use("PING", (c) => c.ping()), "PONG")
    }).pipe(Effect.scoped))

  it.live("a store in fail-open mode keeps serving (locally) while the formats disagree; a fail-closed one refuses", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* Redis.make({ url: server.url, prefix: "mixed:", formatCheckInterval: "100 millis" })
      yield* redis.use("HSET", (c) => c.hset("mixed:format", "0", String(Date.now() + 3_600_000)))
      yield* eventually(Effect.sync(() => redis.formatMismatch() === "0"))
      const open = yield* CircuitBreaker.make({
        name: "fmt-open",
        tripPolicy: CircuitBreaker.consecutive(3),
        openDuration: "1 second",
        onStoreError: "allow"
      }).pipe(
        Effect.provide(CircuitBreakerStore.layer()),
        Effect.provideService(Redis.Redis, redis),
        Effect.either
      )
      // the Redis breaker store subscribes at start: with the formats disagreeing it may refuse to start;
      // either way nothing is read from or written to the other format's data
      if (open._tag === "Right") assert.strictEqual(yield* open.right(Effect.succeed("ok")), "ok")
      const closed = yield* Bulkhead.make({ name: "fmt-closed", maxConcurrent: 1, onStoreError: "fail" }).pipe(
        Effect.provide(BulkheadStore.layer()),
        Effect.provideService(Redis.Redis, redis)
      )
      const refused = yield* Effect.flip(closed(Effect.succeed("no")))
      assert.strictEqual(refused._tag, "BulkheadStoreError")
    }).pipe(Effect.scoped))
})

describe("a Redis that evicts keys is warned about (what the stores keep may be forgotten)", () => {
  it("evictionWarning: only a maxmemory set with a policy other than noeviction", () => {
    const config = (maxmemory: string, policy: string) => ["maxmemory", maxmemory, "maxmemory-policy", policy, "maxmemory-samples", "5"]
    assert.isUndefined(evictionWarning(config("0", "allkeys-lru"), "p:"), "no limit: nothing is evicted")
    assert.isUndefined(evictionWarning(config("104857600", "noeviction"), "p:"))
    assert.isUndefined(evictionWarning([], "p:"), "not told")
    assert.isUndefined(evictionWarning(["maxmemory-policy", "allkeys-lru"], "p:"), "no maxmemory: not told")
    const volatile = evictionWarning(config("104857600", "volatile-lru"), "p:")!
    assert.match(volatile, /maxmemory 104857600 bytes, maxmemory-policy volatile-lru/)
    assert.match(volatile, /prefix "p:".*idempotency records.*closed circuits.*maxmemory-policy noeviction/)
    const allkeys = evictionWarning(config("104857600", "allkeys-lfu"), "p:")!
    assert.match(allkeys, /open ones included/)
  })

  describe.skipIf(!hasRedis)("real redis-server", () => {
    it.live("warned once at connection when Redis may evict; not with noeviction; not when CONFIG is refused", () =>
      Effect.gen(function*() {
        const server = yield* startRedis
        const admin = yield* Redis.make({ url: server.url, prefix: "admin:" })
        const connect = (options: Partial<Redis.Options> = {}) =>
          Effect.gen(function*() {
            const logs = captureLogs()
            const redis = yield* logs.provide(Redis.make({ url: server.url, prefix: "ev:", ...options }))
            assert.strictEqual(yield* redis.use("PING", (c) => c.ping()), "PONG")
            return logs
          })
        // the default: no maxmemory
        assert.deepStrictEqual((yield* connect()).lines, [])
        yield* admin.use("CONFIG SET", (c) => c.config("SET", "maxmemory", "100mb"))
        assert.deepStrictEqual((yield* connect()).lines, [], "noeviction (the default policy)")
        yield* admin.use("CONFIG SET", (c) => c.config("SET", "maxmemory-policy", "allkeys-lru"))
        const warned = yield* connect()
        assert.deepStrictEqual(warned.levels, ["WARN"])
        assert.match(warned.lines[0]!, /^Redis evicts keys under memory pressure \(maxmemory 104857600 bytes, maxmemory-policy allkeys-lru\)/)
        // a user without CONFIG (a managed service): nothing said, the connection works
        yield* admin.use("ACL SETUSER", (c) => c.call("ACL", "SETUSER", "app", "on", "nopass", "~*", "&*", "+@all", "-config"))
        const refused = yield* connect({ redis: { username: "app" } })
        assert.deepStrictEqual(refused.lines, [])
      }).pipe(Effect.scoped))
  })
})
