/**
 * A short real run of the demo (real upstream server on 127.0.0.1, real
 * clients): the resilient client must serve more requests than the naive one,
 * shed load during the outage (its breaker opens, then closes again), and the
 * report must be written. Margins are wide: the machine is noisy.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { runDemo } from "../demo/run.js"

describe("demo", () => {
  it.live("the resilient client beats the naive one and the report is written", () =>
    Effect.gen(function*() {
      const report = "reports/test-demo-report.html"
      rmSync(report, { force: true })
      const output: Array<string> = []
      const result = yield* runDemo({
        durationSeconds: 10,
        rate: 20,
        seed: 42,
        scenario: "tour",
        report,
        live: false,
        print: (t) => output.push(t)
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
      const served = (t: typeof result.naive) => t.ok + t.degraded
      assert.isTrue(result.naive.requests > 50 && result.resilient.requests === result.naive.requests)
      assert.isTrue(served(result.resilient) > served(result.naive), JSON.stringify(result))
      assert.isTrue(result.resilient.degraded > 0, "stale values were served during the outage")
      // the breaker sheds load: the upstream sees fewer requests from the resilient client during the outage
      assert.isTrue(result.resilient.outageHits < result.naive.outageHits, JSON.stringify(result))
      // …and it opened, then closed again once the upstream recovered
      const states = result.breakerStates
      const opened = states.indexOf("Open")
      assert.isTrue(opened > 0, states.join(" → "))
      assert.isTrue(states.slice(opened).includes("Closed"), states.join(" → "))
      assert.isTrue(existsSync(report))
      const html = readFileSync(report, "utf8")
      for (const id of ["chart-success", "chart-latency", "chart-breaker", "chart-upstream"]) {
        assert.include(html, `id="${id}"`)
      }
      assert.include(output.join(""), "| resilient |")
    }), { timeout: 60_000 })

  it.live("--scenario adaptive: a third client's adaptive limit comes down when the upstream's capacity drops, beside the fixed one", () =>
    Effect.gen(function*() {
      const report = "reports/test-demo-adaptive.html"
      rmSync(report, { force: true })
      const output: Array<string> = []
      const result = yield* runDemo({
        durationSeconds: 10,
        rate: 25,
        seed: 42,
        scenario: "adaptive",
        report,
        live: false,
        print: (t) => output.push(t)
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
      assert.isDefined(result.adaptive)
      assert.strictEqual(result.adaptive!.requests, result.naive.requests)
      // the phases: healthy 0–3 s, capacity drop 3–7 s, recovery 7–10 s
      const limits = (client: string, from: number, to: number) =>
        result.limits.filter((l) => l.client === client && l.at >= from && l.at < to).map((l) => l.limit)
      assert.deepStrictEqual([...new Set(limits("resilient", 0, 10_000))], [20], "the fixed bulkhead stays at 20")
      const drop = limits("adaptive", 3_000, 7_500)
      assert.isAbove(drop.length, 10)
      assert.isAtMost(Math.min(...drop), 5, `the adaptive limit during the drop: ${drop.join(" ")}`)
      const html = readFileSync(report, "utf8")
      assert.include(html, `id="chart-limit"`)
      assert.include(output.join(""), "| adaptive  |")
    }), { timeout: 60_000 })
})
