/**
 * Hedged requests: a search over three replicas where the first one is slow.
 * The hedge starts a second attempt after 50 ms, the second replica answers
 * first, and the slow attempt is interrupted (and awaited). Prints the
 * timeline, the result and the policy's stats.
 */
import { Effect, Stream } from "effect"
import { Hedge } from "effect-resilience"

const started = Date.now()
const at = () => `+${String(Date.now() - started).padStart(3)} ms`

// replica latencies: the first is having a bad day
const latency: Record<string, number> = { a: 400, b: 30, c: 30 }
const replicas = ["a", "b", "c"]

const search = (query: string) =>
  Effect.gen(function*() {
    const attempt = yield* Hedge.currentAttempt
    const replica = replicas[(attempt - 1) % replicas.length]!
    console.log(`${at()}  attempt ${attempt} → replica ${replica}`)
    yield* Effect.sleep(latency[replica]!)
    return `results for "${query}" from ${replica}`
  }).pipe(Effect.onInterrupt(() => Effect.sync(() => console.log(`${at()}  a losing attempt was interrupted`))))

const program = Effect.gen(function*() {
  const hedge = Hedge.make({ delay: "50 millis", maxAttempts: 3, name: "search" })
  yield* hedge.events.pipe(
    Stream.runForEach((e) =>
      Effect.sync(() =>
        console.log(`${at()}  event ${e._tag}: attempt ${e.attempt}${e._tag === "HedgeStarted" ? ` (${e.reason})` : ""}`)
      )
    ),
    Effect.forkScoped
  )
  yield* Effect.sleep("10 millis") // let the event printer subscribe

  const result = yield* search("effect").pipe(hedge)
  console.log(`${at()}  → ${result}`)

  // the second call is fast on the first replica: no hedge starts
  latency.a = 10
  const fast = yield* search("fast").pipe(hedge)
  console.log(`${at()}  → ${fast}`)
  console.log(`stats: ${JSON.stringify(yield* hedge.stats())}`)
})

Effect.runPromise(Effect.scoped(program))
