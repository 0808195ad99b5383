/**
 * Soak run (issue 10, "memory"): `npm run soak`, i.e.
 *   node --expose-gc --import tsx scripts/soak.ts
 *
 * 1. The stress scenario of test/reliability/stress.ts at SOAK_N calls (default 100,000) on the
 *    virtual clock, with the invariants checked, and heap/RSS sampled every 250 ms while it runs.
 * 2. The same scenario in SOAK_ROUNDS rounds (default 5 × 20,000): the heap after a full GC must
 *    not keep growing from round to round.
 * 3. Key churn: SOAK_KEY_ROUNDS rounds (default 5) of SOAK_KEYS fresh keys (default 100,000)
 *    through a keyed breaker (memory store, default maxKeys) and a keyed bulkhead: the heap must
 *    plateau once the store is at its cap.
 *
 * Exits 1 when an invariant fails or memory grows without bound. Figures go to docs/Reliability.md.
 */
import { Effect, Exit } from "effect"
import { Bulkhead, CircuitBreaker } from "effect-resilience"
import { runStress, type StressResult } from "../test/reliability/stress.js"

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const N = env("SOAK_N", 100_000)
const ROUNDS = env("SOAK_ROUNDS", 5)
const ROUND_N = env("SOAK_ROUND_N", 20_000)
const KEY_ROUNDS = env("SOAK_KEY_ROUNDS", 5)
const KEYS = env("SOAK_KEYS", 100_000)
/** Allowed growth of the post-GC heap between the second and the last round. */
const SLACK_MB = env("SOAK_SLACK_MB", 32)

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

const main = Effect.gen(function*() {
  // 1. one big run, sampled
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

  // 2. rounds of the same scenario: the retained heap must not grow
  const roundHeaps: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    const result = yield* Effect.scoped(runStress({ n: ROUND_N, seed: r }))
    checkStress(result, `round ${r + 1}`)
    roundHeaps.push(settledHeap())
  }
  plateau(`stress rounds (${ROUNDS} × ${ROUND_N})`, roundHeaps)

  // 3. key churn through a keyed breaker and a keyed bulkhead
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
    const partitions = bulkhead.totals().partitions
    console.log(
      `key churn: ${KEY_ROUNDS} × ${KEYS} keys in ${((performance.now() - t1) / 1000).toFixed(1)} s; ` +
        `breaker store size ${size}, bulkhead partitions ${partitions}, RSS ${mb(process.memoryUsage().rss)} MB`
    )
    check(partitions === 0, `key churn: ${partitions} bulkhead partitions left`)
    check(size <= 100_000, `key churn: breaker store holds ${size} keys (> its maxKeys)`)
  }))
  plateau(`key churn (${KEY_ROUNDS} × ${KEYS} keys)`, keyHeaps)
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
