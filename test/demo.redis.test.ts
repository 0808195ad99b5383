/**
 * The demo's REDIS_URL mode against a real redis-server: several replicas of
 * the resilient client share their circuit breaker through Redis, so they all
 * open (and close again) together.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { runDemo } from "../demo/run.js"
import { hasRedis, startRedis } from "./utils/redis-server.js"

describe.skipIf(!hasRedis)("demo with REDIS_URL (real redis-server)", () => {
  it.live("replicas share their breaker: every replica sees it open and close again", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const output: Array<string> = []
      const result = yield* runDemo({
        durationSeconds: 10,
        rate: 20,
        seed: 42,
        scenario: "tour",
        report: "reports/test-demo-redis-report.html",
        live: false,
        print: (t) => output.push(t),
        redisUrl: server.url,
        replicas: 3
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
      const names = Object.keys(result.replicaStates)
      assert.deepStrictEqual(names, ["replica 1", "replica 2", "replica 3"])
      for (const name of names) {
        const states = result.replicaStates[name]!
        const opened = states.indexOf("Open")
        assert.isTrue(opened > 0, `${name}: ${states.join(" → ")}`)
        assert.isTrue(states.slice(opened).includes("Closed"), `${name}: ${states.join(" → ")}`)
      }
      assert.isTrue(result.resilient.ok + result.resilient.degraded > result.naive.ok + result.naive.degraded)
      assert.include(output.join(""), "3 replicas sharing their breaker through Redis")
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
