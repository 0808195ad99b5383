import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Option, Schema } from "effect"
import { Fallback, Policy } from "effect-resilience"
import { Redis, StaleStore } from "effect-resilience/redis"
import { hasRedis, startRedis } from "../utils/redis-server.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

describe.skipIf(!hasRedis)("Redis StaleStore (real redis-server)", () => {
  it.live("replicas share stale values; with clock: \"caller\" expiry follows the caller's clock; schemas round-trip", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      // two replicas: independent connections and policies, one Redis
      const replica = (name: string) =>
        Effect.gen(function*() {
          const redis = yield* Redis.make({ url: server.url, prefix: "stale-test:" })
          const store = yield* StaleStore.make({ clock: "caller" }).pipe(Effect.provideService(Redis.Redis, redis))
          const policy = yield* Fallback.staleIfError({
            ttl: "1 minute",
            maxEntries: 10,
            schema: Schema.Struct({ price: Schema.Number, at: Schema.Date }),
            name: "prices"
          }).pipe(Effect.provideService(Fallback.StaleStore, store))
          return { name, policy, store }
        })
      const a = yield* replica("a")
      const b = yield* replica("b")
      const value = { price: 42, at: new Date("2026-01-01T00:00:00Z") }
      const fresh = yield* a.policy.serve(Effect.succeed(value), { key: "sku-1" })
      assert.isFalse(fresh.stale)
      // the write runs off the caller's path
      yield* a.policy.flush
      const failing: Effect.Effect<typeof value, Unavailable> = Effect.fail(new Unavailable())
      const served = yield* b.policy.serve(failing, { key: "sku-1" })
      assert.isTrue(served.stale)
      assert.deepStrictEqual(served.value, value)
      assert.instanceOf(served.value.at, Date)
      // the entry carries the caller's times: a reader whose clock is past expiresAt gets nothing
      // (the policy's store key: `<name.length>:<name>:<key>`)
      const entry = yield* b.store.get("6:prices:sku-1", Date.now())
      assert.isTrue(Option.isSome(entry))
      const expired = yield* b.store.get("6:prices:sku-1", Option.getOrThrow(entry).expiresAt + 1)
      assert.isTrue(Option.isNone(expired))
      // invalidation is shared too
      yield* a.policy.invalidate("sku-1")
      const miss = yield* Effect.either(b.policy.serve(Effect.fail(new Unavailable()), { key: "sku-1" }))
      assert.isTrue(miss._tag === "Left")
    }).pipe(Effect.scoped))

  it.live("a Redis that is down never fails a call: the store error is reported and the call goes on", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const redis = yield* Redis.make({ url: server.url, commandTimeout: "100 millis" })
      const policy = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, name: "down" }).pipe(
        Effect.provide(StaleStore.layer()),
        Effect.provideService(Redis.Redis, redis)
      )
      assert.strictEqual(Policy.describe(policy).options.store, "redis")
      yield* server.pause
      const result = yield* policy.serve(Effect.succeed(7), { key: "k" })
      // the write, off the caller's path, fails after the command timeout: reported
      yield* policy.flush
      yield* server.resume
      assert.strictEqual(result.value, 7)
      assert.isTrue((yield* policy.stats()).storeErrors >= 1)
    }).pipe(Effect.scoped))
})

