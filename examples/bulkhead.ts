/**
 * A bulkhead in front of a slow dependency: 10 requests arrive at once, 3 run,
 * 4 wait in the queue (at most 150 ms), the rest are shed at once. Then keyed
 * partitions: a slow host fills its own partition without starving another.
 * Prints what the bulkhead did (its `events` stream) and how each request ended.
 */
import { Duration, Effect, Stream } from "effect"
import { Bulkhead } from "effect-resilience"

const program = Effect.gen(function*() {
  const started = Date.now()
  const at = () => `+${String(Date.now() - started).padStart(3)} ms`

  const bulkhead = yield* Bulkhead.make({
    maxConcurrent: 3, // at most 3 queries at once
    maxQueue: 4, // 4 more may wait for a permit…
    maxWait: "150 millis", // …for at most 150 ms
    name: "db"
  })

  // what the bulkhead did, as it happened
  yield* bulkhead.events.pipe(
    Stream.runForEach((e) =>
      Effect.sync(() => {
        const where = e.key === undefined ? "" : ` [${e.key}]`
        if (e._tag === "Permitted") console.log(`  ${at()} permitted${where} (waited ${Duration.toMillis(e.waited)} ms)`)
        if (e._tag === "Queued") console.log(`  ${at()} queued${where} (${e.queued} waiting)`)
        if (e._tag === "Rejected") console.log(`  ${at()} rejected${where}: ${e.reason}`)
      })
    ),
    Effect.forkScoped
  )
  yield* Effect.yieldNow()

  // a query that takes 100 ms
  const query = (id: number) => Effect.sleep("100 millis").pipe(Effect.as(`row ${id}`))

  console.log("10 requests at once through maxConcurrent 3, maxQueue 4, maxWait 150 ms:")
  const results = yield* Effect.forEach(
    Array.from({ length: 10 }, (_, i) => i + 1),
    (id) =>
      query(id).pipe(
        bulkhead, // Effect<string, BulkheadFullError>
        Effect.map((row) => `request ${id}: ${row}`),
        Effect.catchTag("BulkheadFullError", (e) => Effect.succeed(`request ${id}: shed (${e.reason})`))
      ),
    { concurrency: "unbounded" }
  )
  for (const line of results) console.log(`  ${line}`)
  console.log(`stats after: ${JSON.stringify(yield* bulkhead.stats())}`)

  console.log("\nkeyed partitions: host a is slow and saturated, host b is still served:")
  const slowHost = Effect.sleep("300 millis").pipe(Effect.as("a: slow answer"))
  const fastHost = Effect.sleep("10 millis").pipe(Effect.as("b: fast answer"))
  const perHost = yield* Effect.all(
    [
      ...Array.from({ length: 8 }, () => bulkhead.execute(slowHost, { key: "a.example" })),
      bulkhead.execute(fastHost, { key: "b.example" }).pipe(Effect.delay("20 millis"))
    ].map((call) => Effect.either(call)),
    { concurrency: "unbounded" }
  )
  const served = perHost.filter((r) => r._tag === "Right").map((r) => r.right)
  const shed = perHost.filter((r) => r._tag === "Left").map((r) => r.left.message)
  console.log(`  served: ${served.length} (${[...new Set(served)].join(", ")})`)
  console.log(`  shed: ${shed.length} (${[...new Set(shed)].join("; ")})`)
  console.log(`totals after: ${JSON.stringify(yield* bulkhead.totals())} (idle partitions are dropped)`)
}).pipe(Effect.scoped)

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
