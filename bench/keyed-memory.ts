/**
 * Memory of keyed circuit breakers: 100,000 keys through one breaker per trip
 * policy, heap measured (after a full GC) before, while the keys are held, and
 * after their idle TTL has passed (TestClock drives the store's sweep).
 * Target (issue 8): ≤ 50 MB retained for 100,000 keys, near zero after the TTL.
 *
 *   node --expose-gc --import tsx bench/keyed-memory.ts [keys]
 */
import { Effect, Layer, TestClock, TestContext } from "effect"
import { CircuitBreaker } from "../src/index.js"

const keys = Number(process.argv[2] ?? 100_000)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) {
  console.error("run with node --expose-gc")
  process.exit(1)
}
const heapMB = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

const policies: ReadonlyArray<[string, CircuitBreaker.TripPolicy]> = [
  ["consecutive(5)", CircuitBreaker.consecutive(5)],
  ["rate(size 100)", CircuitBreaker.rate({ threshold: 0.5, size: 100 })],
  ["timeRate(10 s, 10 buckets)", CircuitBreaker.timeRate({ threshold: 0.5, window: "10 seconds", minimumCalls: 10 })]
]

const measure = (label: string, tripPolicy: CircuitBreaker.TripPolicy) =>
  Effect.gen(function*() {
    const store = yield* CircuitBreaker.makeStoreMemory({ idleTimeToLive: "10 minutes", maxKeys: keys * 2 })
    const breaker = yield* CircuitBreaker.make({ name: label, tripPolicy, openDuration: "1 second" }).pipe(
      Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
    )
    const before = heapMB()
    for (let i = 0; i < keys; i++) {
      yield* breaker.execute(Effect.void, { key: `tenant-${i}` })
      // one failure in ten keys, so that windows that allocate lazily do allocate
      if (i % 10 === 0) yield* Effect.ignore(breaker.execute(Effect.fail("boom"), { key: `tenant-${i}` }))
    }
    const held = heapMB()
    yield* TestClock.adjust("11 minutes")
    const after = heapMB()
    return { label, held: held - before, after: after - before }
  }).pipe(Effect.scoped)

const program = Effect.gen(function*() {
  console.log(`keyed circuit breakers: ${keys.toLocaleString()} keys (node ${process.version})\n`)
  console.log("| trip policy | retained while held | per key | after idle TTL | target ≤ 50 MB |")
  console.log("|---|--:|--:|--:|---|")
  for (const [label, policy] of policies) {
    const r = yield* measure(label, policy)
    console.log(
      `| ${r.label} | ${r.held.toFixed(1)} MB | ${((r.held * 1024 * 1024) / keys).toFixed(0)} B | ${
        r.after.toFixed(1)
      } MB | ${r.held <= 50 ? "met" : `missed (${(r.held / 50).toFixed(2)}×)`} |`
    )
  }
})

Effect.runPromise(program.pipe(Effect.provide(Layer.mergeAll(TestContext.TestContext)))).catch((e) => {
  console.error(e)
  process.exit(1)
})
