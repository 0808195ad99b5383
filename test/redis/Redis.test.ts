import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit } from "effect"
import { Redis } from "effect-resilience/redis"
import { hasRedis, startRedis } from "../utils/redis-server.js"

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
