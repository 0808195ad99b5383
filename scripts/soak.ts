/**
 * Soak run (issue 10, "memory"): `npm run soak`, i.e.
 *   node --expose-gc --import tsx scripts/soak.ts
 *
 * 1. `stress`: the stress scenario of test/reliability/stress.ts at SOAK_N calls (default 100,000)
 *    on the virtual clock, with the invariants checked, and heap/RSS sampled every 250 ms while it
 *    runs.
 * 2. `rounds`: the same scenario in SOAK_ROUNDS rounds (default 5 × 20,000): the heap after a full
 *    GC must not keep growing from round to round.
 * 3. `keys`: key churn: SOAK_KEY_ROUNDS rounds (default 5) of SOAK_KEYS fresh keys (default
 *    100,000) through a keyed breaker (memory store, default maxKeys) and a keyed bulkhead: the heap
 *    must plateau once the store is at its cap.
 * 4. `demo`: the demo's scenario on the live clock for SOAK_DEMO_SECONDS (default 180) at
 *    SOAK_DEMO_RATE requests/s per client (default 400, i.e. 800 requests/s in all): the demo's real
 *    upstream HTTP server on 127.0.0.1 (demo/upstream.ts) and its naive and resilient clients
 *    (demo/clients.ts), all in this process. The "tour" scenario is replayed in cycles of about
 *    SOAK_DEMO_CYCLE_SECONDS (default 20), each followed by a pause until its calls have finished;
 *    the heap after a full GC in those pauses must not keep growing after the first (warm-up)
 *    cycle. Heap and RSS are sampled every 250 ms, and the event loop's delay is recorded.
 *
 * Phases: all by default; pick some with SOAK_PHASES=demo (comma-separated) or as arguments
 * (`npm run soak -- demo`). Exits 1 when an invariant fails or memory grows without bound
 * (SOAK_SLACK_MB). Figures go to docs/Reliability.md and bench/README.md.
 */
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Exit, FiberSet, Stream } from "effect"
import { Bulkhead, CircuitBreaker } from "effect-resilience"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { fetchQuote, makeResilientClient } from "../demo/clients.js"
import type { ClientName, Outcome } from "../demo/stats.js"
import { type PhaseName, scenarios, startUpstream, type Timeline, timeline, UpstreamCounter } from "../demo/upstream.js"
import { runStress, type StressResult } from "../test/reliability/stress.js"

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const N = env("SOAK_N", 100_000)
const ROUNDS = env("SOAK_ROUNDS", 5)
const ROUND_N = env("SOAK_ROUND_N", 20_000)
const KEY_ROUNDS = env("SOAK_KEY_ROUNDS", 5)
const KEYS = env("SOAK_KEYS", 100_000)
const DEMO_SECONDS = env("SOAK_DEMO_SECONDS", 180)
/** Requests per second per client, as the demo's `--rate`: each request goes through both clients. */
const DEMO_RATE = env("SOAK_DEMO_RATE", 400)
const DEMO_CYCLE_SECONDS = env("SOAK_DEMO_CYCLE_SECONDS", 20)
/** Allowed growth of the post-GC heap between the second and the last round. */
const SLACK_MB = env("SOAK_SLACK_MB", 32)

const PHASES = ["stress", "rounds", "keys", "demo"] as const
type SoakPhase = typeof PHASES[number]
const selected: ReadonlySet<string> = new Set(
  (process.argv.length > 2 ? process.argv.slice(2) : (process.env.SOAK_PHASES ?? PHASES.join(",")).split(","))
    .map((p) => p.trim())
    .filter((p) => p !== "")
)
for (const p of selected) {
  if (!(PHASES as ReadonlyArray<string>).includes(p)) {
    console.error(`unknown soak phase "${p}": one or more of ${PHASES.join(", ")}`)
    process.exit(2)
  }
}
const runs = (phase: SoakPhase) => selected.has(phase)

const MB = 1024 * 1024
const mb = (n: number) => Math.round((n / MB) * 10) / 10
const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc
  if (g === undefined) throw new Error("run with node --expose-gc (npm run soak)")
  g()
  g()
}
const settledHeap = () => {
  gc()
  return process.memoryUsage().heapUsed
}

const failures: Array<string> = []
const check = (ok: boolean, what: string) => {
  if (!ok) failures.push(what)
}

const checkStress = (r: StressResult, label: string) => {
  check(r.notExactlyOnce === 0, `${label}: ${r.notExactlyOnce} calls not completed exactly once`)
  check(Object.values(r.outcomes).reduce((a, b) => a + b, 0) === r.n, `${label}: outcomes do not add up`)
  check(r.unexpectedInterruptions === 0, `${label}: unexpected interruptions`)
  check(r.bulkhead.active === 0 && r.bulkhead.queued === 0, `${label}: bulkhead not drained ${JSON.stringify(r.bulkhead)}`)
  check(r.dependencyInFlight === 0, `${label}: ${r.dependencyInFlight} dependency calls still running`)
  check(r.fibersLeft === 0, `${label}: ${r.fibersLeft} fibers left`)
  check(r.maxConcurrentHalfOpen <= r.probes, `${label}: half-open admitted ${r.maxConcurrentHalfOpen} > ${r.probes}`)
  check(!("defect" in r.outcomes), `${label}: defects`)
}

const plateau = (label: string, heaps: ReadonlyArray<number>) => {
  const growth = heaps[heaps.length - 1]! - heaps[Math.min(1, heaps.length - 1)]!
  console.log(`${label}: post-GC heap per round (MB) ${heaps.map(mb).join(", ")}; growth after round 2: ${mb(growth)} MB`)
  check(growth <= SLACK_MB * MB, `${label}: heap grew by ${mb(growth)} MB after round 2 (slack ${SLACK_MB} MB)`)
}

/**
 * The demo's scenario, live, for minutes. Not `runDemo` itself: its Recorder keeps every request's
 * sample (and every breaker transition) for the summary and the HTML report, so one long run grows
 * by design (~2 × rate × seconds samples), and rounds of fresh `runDemo`s would build a fresh
 * resilient client each round and so hide a leak in the state a long-lived client keeps (breaker
 * window, retry budget, bulkhead, stale cache, transitions). So the loop is runDemo's, built from
 * the demo's own parts: its upstream server (`startUpstream`, the "tour" phases replayed by a
 * cyclic `Timeline`), its naive call (`fetchQuote`) and its resilient client
 * (`makeResilientClient`), one of each for the whole run, the same request through both at a
 * steady rate, and constant-size counters instead of the Recorder. At the end of each cycle
 * (upstream back from "recovery" to "healthy") the loop pauses until the calls in flight have
 * finished, takes the heap after a full GC, and resumes with its schedule shifted by the pause: the
 * heap is then what the process retains, not what happens to be in flight (in one run, 1,180
 * calls in flight at a cycle's end added ~30 MB; over a thousand are in flight when the cores stall).
 */
const demoSoak = Effect.scoped(Effect.gen(function*() {
  const cycles = Math.max(2, Math.round(DEMO_SECONDS / DEMO_CYCLE_SECONDS))
  const cycleMillis = (DEMO_SECONDS * 1000) / cycles
  const tour = timeline(scenarios.tour!, cycleMillis)
  const plan: Timeline = { phases: tour.phases, at: (t) => tour.at(t % cycleMillis) }
  let startedAt = Date.now()
  const elapsed = () => Date.now() - startedAt
  /** Upstream hits per client and phase (the demo's counter keeps a row per second: it grows). */
  const hits = new Map<string, number>()
  class CyclicCounter extends UpstreamCounter {
    override record(client: string, _second: number) {
      this.total++
      const key = `${client}/${plan.at(elapsed())}`
      hits.set(key, (hits.get(key) ?? 0) + 1)
    }
  }
  const counter = new CyclicCounter()
  const baseline = settledHeap()
  const base = yield* startUpstream({ timeline: plan, startedAt: () => startedAt, seed: 42, counter })
  const resilient = yield* makeResilientClient(base)
  const http = yield* HttpClient.HttpClient
  // one set per client: the resilient calls are bounded by their 1.5 s timeout, the naive ones by
  // nothing but undici's own (minutes)
  const naiveInflight = yield* FiberSet.make()
  const resilientInflight = yield* FiberSet.make()
  const inFlight = Effect.zipWith(FiberSet.size(naiveInflight), FiberSet.size(resilientInflight), (a, b) => a + b)

  const outcomes: Record<ClientName, Record<Outcome, number>> = {
    naive: { ok: 0, degraded: 0, failed: 0 },
    resilient: { ok: 0, degraded: 0, failed: 0 },
    adaptive: { ok: 0, degraded: 0, failed: 0 }
  }
  /** Outcomes per client, phase (when the request started) and outcome. */
  const byPhase = new Map<string, number>()
  const count = (client: ClientName, phase: PhaseName) => (outcome: Outcome) =>
    Effect.sync(() => {
      outcomes[client][outcome]++
      const key = `${client}/${phase}/${outcome}`
      byPhase.set(key, (byPhase.get(key) ?? 0) + 1)
    })
  const naiveCall = (id: number) =>
    fetchQuote(http, base, "naive", id).pipe(
      Effect.as<Outcome>("ok"),
      Effect.catchAll(() => Effect.succeed<Outcome>("failed")),
      Effect.flatMap(count("naive", plan.at(elapsed())))
    )
  const resilientCall = (id: number) =>
    resilient.get(id).pipe(
      Effect.map((r): Outcome => (r.degraded ? "degraded" : "ok")),
      Effect.catchAll(() => Effect.succeed<Outcome>("failed")),
      Effect.flatMap(count("resilient", plan.at(elapsed())))
    )
  let opens = 0
  let closes = 0
  yield* resilient.transitions.pipe(
    Stream.runForEach((t) =>
      Effect.sync(() => {
        if (t.to === "Open") opens++
        if (t.to === "Closed") closes++
      })
    ),
    Effect.forkScoped
  )
  yield* Effect.yieldNow()

  let peakHeap = 0
  let peakRss = 0
  let peakInflight = 0
  const sampler = setInterval(() => {
    const m = process.memoryUsage()
    peakHeap = Math.max(peakHeap, m.heapUsed)
    peakRss = Math.max(peakRss, m.rss)
  }, 250)
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  yield* Effect.addFinalizer(() => Effect.sync(() => (clearInterval(sampler), loopDelay.disable())))

  console.log(
    `demo: scenario "tour" × ${cycles} cycles of ${(cycleMillis / 1000).toFixed(1)} s, ${DEMO_RATE} requests/s per client ` +
      `(naive and resilient), heap baseline ${mb(baseline)} MB`
  )
  const heaps: Array<number> = []
  const perCycle = Math.round((cycleMillis * DEMO_RATE) / 1000)
  startedAt = Date.now()
  let id = 0
  let lagMax = 0
  let pausedMillis = 0
  let stuck = 0
  for (let c = 0; c < cycles; c++) {
    const ts = Date.now()
    for (; id < perCycle * (c + 1); id++) {
      const wait = (id * 1000) / DEMO_RATE - elapsed()
      if (wait > 0) yield* Effect.sleep(wait)
      else lagMax = Math.max(lagMax, -wait)
      yield* FiberSet.run(naiveInflight, naiveCall(id))
      yield* FiberSet.run(resilientInflight, resilientCall(id))
      if ((id & 63) === 0) peakInflight = Math.max(peakInflight, yield* inFlight)
    }
    // quiesce: let the cycle's calls finish, take the heap, then shift the schedule (and the
    // upstream's phase clock) by the pause, so that no burst follows it
    const paused = Date.now()
    const running = [yield* FiberSet.size(naiveInflight), yield* FiberSet.size(resilientInflight)] as const
    // 30 s is generous (the resilient calls time out after 1.5 s) because a loaded machine can stall
    // this process for seconds; a resilient call still running then is stuck: a failure. A naive one
    // has no timeout: it is interrupted, as runDemo does, and counted
    const drain = (set: FiberSet.FiberSet) =>
      Effect.zipRight(Effect.timeoutOption(FiberSet.awaitEmpty(set), "30 seconds"), FiberSet.size(set))
    const left = yield* Effect.zip(drain(resilientInflight), drain(naiveInflight), { concurrent: true })
    check(left[0] === 0, `demo: cycle ${c + 1}: ${left[0]} resilient calls still running 30 s after its last request`)
    if (left[1] > 0) {
      stuck += left[1]
      console.log(`demo: cycle ${c + 1}: ${left[1]} naive calls still running 30 s after its last request: interrupted`)
      yield* FiberSet.clear(naiveInflight)
    }
    const drainedIn = Date.now() - paused
    heaps.push(settledHeap())
    const r = outcomes.resilient
    console.log(
      `demo: cycle ${c + 1}/${cycles}: ${perCycle * 2} calls in ${((paused - ts) / 1000).toFixed(1)} s, ` +
        `${running[0]} naive and ${running[1]} resilient in flight at its end, drained in ${drainedIn} ms; ` +
        `post-GC heap ${mb(heaps[c]!)} MB, RSS ${mb(process.memoryUsage().rss)} MB; ` +
        `resilient so far ok ${r.ok} degraded ${r.degraded} failed ${r.failed}, breaker opened ${opens}×`
    )
    const pause = Date.now() - paused
    pausedMillis += pause
    startedAt += pause
  }
  const seconds = elapsed() / 1000
  const calls = (client: ClientName) => Object.values(outcomes[client]).reduce((a, b) => a + b, 0)
  check(
    calls("naive") + stuck === id && calls("resilient") === id,
    `demo: outcomes do not add up ${JSON.stringify(outcomes)}, ${stuck} naive calls interrupted`
  )
  check(opens > 0 && closes > 0, `demo: the breaker never opened and closed again (opened ${opens}×, closed ${closes}×)`)
  const served = (client: ClientName) => outcomes[client].ok + outcomes[client].degraded
  const upstream = (client: string, phase?: PhaseName) =>
    [...hits].filter(([k]) => phase === undefined ? k.startsWith(`${client}/`) : k === `${client}/${phase}`)
      .reduce((n, [, v]) => n + v, 0)
  const pct = (n: number) => `${((100 * n) / Math.max(1, id)).toFixed(1)}%`
  const ms = (ns: number) => (ns / 1e6).toFixed(1)
  console.log(
    `demo: ${id} requests per client in ${seconds.toFixed(1)} s (${Math.round(id / seconds)}/s per client, ` +
      `${Math.round((2 * id) / seconds)}/s in all; the loop was at most ${Math.round(lagMax)} ms behind its schedule; ` +
      `${(pausedMillis / 1000).toFixed(1)} s of pauses between cycles not counted); ` +
      `event loop delay mean ${ms(loopDelay.mean)} ms, p99 ${ms(loopDelay.percentile(99))} ms, max ${ms(loopDelay.max)} ms; ` +
      `at most ${peakInflight} calls in flight`
  )
  console.log(
    `demo: naive served ${pct(served("naive"))} (${JSON.stringify(outcomes.naive)}), ` +
      `resilient served ${pct(served("resilient"))} (${JSON.stringify(outcomes.resilient)}); ` +
      `upstream hits naive ${upstream("naive")} (outage ${upstream("naive", "outage")}), ` +
      `resilient ${upstream("resilient")} (outage ${upstream("resilient", "outage")}); ` +
      `retries ${resilient.retries()}; breaker opened ${opens}×, closed ${closes}×; naive calls stuck ${stuck}`
  )
  const phaseLine = (client: ClientName) =>
    tour.phases.map(({ name }) => {
      const n = (o: Outcome) => byPhase.get(`${client}/${name}/${o}`) ?? 0
      return `${name} ${n("ok")}/${n("degraded")}/${n("failed")}`
    }).join(", ")
  console.log(`demo: ok/degraded/failed per phase: naive ${phaseLine("naive")}; resilient ${phaseLine("resilient")}`)
  console.log(
    `demo: heap peak ${mb(peakHeap)} MB, after the run (drained, post-GC) ${mb(settledHeap())} MB; peak RSS ${mb(peakRss)} MB`
  )
  plateau(`demo (${cycles} cycles)`, heaps)
}))

const main = Effect.gen(function*() {
  // 1. one big run, sampled
  if (runs("stress")) {
    const baseline = settledHeap()
    let peakHeap = 0
    let peakRss = 0
    const sampler = setInterval(() => {
      const m = process.memoryUsage()
      peakHeap = Math.max(peakHeap, m.heapUsed)
      peakRss = Math.max(peakRss, m.rss)
    }, 250)
    const t0 = performance.now()
    const big = yield* Effect.scoped(runStress({ n: N, seed: 100_000 }))
    const seconds = (performance.now() - t0) / 1000
    clearInterval(sampler)
    checkStress(big, `stress ${N}`)
    const after = settledHeap()
    console.log(
      `stress: ${N} calls in ${seconds.toFixed(1)} s (${Math.round(N / seconds)} calls/s), ` +
        `${big.simulatedMillis} simulated ms, ${big.dependencyRuns} dependency runs, outcomes ${JSON.stringify(big.outcomes)}`
    )
    console.log(
      `stress: heap baseline ${mb(baseline)} MB, peak ${mb(peakHeap)} MB, after GC ${mb(after)} MB; peak RSS ${mb(peakRss)} MB; ` +
        `half-open max concurrent ${big.maxConcurrentHalfOpen}/${big.probes}, fibers left ${big.fibersLeft}`
    )
  }

  // 2. rounds of the same scenario: the retained heap must not grow
  if (runs("rounds")) {
    const roundHeaps: Array<number> = []
    for (let r = 0; r < ROUNDS; r++) {
      const result = yield* Effect.scoped(runStress({ n: ROUND_N, seed: r }))
      checkStress(result, `round ${r + 1}`)
      roundHeaps.push(settledHeap())
    }
    plateau(`stress rounds (${ROUNDS} × ${ROUND_N})`, roundHeaps)
  }

  // 3. key churn through a keyed breaker and a keyed bulkhead
  if (runs("keys")) {
    const keyHeaps: Array<number> = []
    yield* Effect.scoped(Effect.gen(function*() {
      const store = yield* CircuitBreaker.makeStoreMemory()
      const cb = yield* CircuitBreaker.make({
        name: "soak-keys",
        tripPolicy: CircuitBreaker.consecutive(3),
        openDuration: "1 second"
      }).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 4, maxQueue: 4, name: "soak-keys" })
      const fail = Effect.fail("down" as const)
      const t1 = performance.now()
      for (let r = 0; r < KEY_ROUNDS; r++) {
        for (let i = 0; i < KEYS; i++) {
          const key = `r${r}-k${i}`
          const exit = yield* Effect.exit(cb.execute(bulkhead.execute(i % 3 === 0 ? fail : Effect.void, { key }), { key }))
          if (Exit.isFailure(exit) && i % 3 !== 0) failures.push(`key churn: unexpected failure for ${key}`)
        }
        keyHeaps.push(settledHeap())
      }
      const size = (store as unknown as { readonly size: () => number }).size()
      const partitions = bulkhead.unsafeTotals().partitions
      console.log(
        `key churn: ${KEY_ROUNDS} × ${KEYS} keys in ${((performance.now() - t1) / 1000).toFixed(1)} s; ` +
          `breaker store size ${size}, bulkhead partitions ${partitions}, RSS ${mb(process.memoryUsage().rss)} MB`
      )
      check(partitions === 0, `key churn: ${partitions} bulkhead partitions left`)
      check(size <= 100_000, `key churn: breaker store holds ${size} keys (> its maxKeys)`)
    }))
    plateau(`key churn (${KEY_ROUNDS} × ${KEYS} keys)`, keyHeaps)
  }

  // 4. the demo's scenario on the live clock
  if (runs("demo")) yield* demoSoak.pipe(Effect.provide(NodeHttpClient.layerUndici))
})

Effect.runPromise(main).then(
  () => {
    if (failures.length > 0) {
      console.error(`soak FAILED:\n  ${failures.slice(0, 20).join("\n  ")}`)
      process.exit(1)
    }
    console.log("soak OK")
  },
  (e) => {
    console.error("soak crashed", e)
    process.exit(1)
  }
)
