/**
 * A circuit breaker in front of an in-process dependency that goes down for a
 * while and comes back. Prints every state transition as it happens, the
 * calls the open circuit spared the dependency, and the breaker's metrics.
 */
import { Data, Duration, Effect, Schedule, Stream } from "effect"
import { CircuitBreaker } from "effect-resilience"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

const program = Effect.gen(function*() {
  const started = Date.now()
  const at = (now = Date.now()) => `+${String(now - started).padStart(4)} ms`

  // down from 100 ms to 500 ms after the start
  let reached = 0
  const dependency = Effect.suspend(() => {
    reached++
    const t = Date.now() - started
    return t >= 100 && t < 500 ? Effect.fail(new Unavailable()) : Effect.succeed("ok")
  })

  const breaker = yield* CircuitBreaker.make({
    name: "inventory",
    tripPolicy: CircuitBreaker.consecutive(3),
    openDuration: Schedule.exponential("100 millis"), // 100, 200, 400 ms … for consecutive openings
    maxOpenDuration: "1 second",
    halfOpen: { probes: 1, successThreshold: 2 }
  })

  yield* breaker.transitions.pipe(
    // `at` is the breaker's Clock time of the transition (the end of the break for Open -> HalfOpen)
    Stream.runForEach((t) => Effect.sync(() => console.log(`${at(t.at)}  ${t.from} -> ${t.to} (${t.reason})`))),
    Effect.forkScoped
  )
  yield* Effect.sleep("10 millis") // let the subscriber start

  let rejected = 0
  let failed = 0
  for (let i = 0; i < 50; i++) {
    const result = yield* dependency.pipe(breaker, Effect.either)
    if (result._tag === "Left") {
      if (result.left._tag === "CircuitBreakerError") {
        rejected++
        if (rejected === 1) console.log(`${at()}  rejected: ${result.left.message}`)
      } else {
        failed++
      }
    }
    yield* Effect.sleep("20 millis")
  }

  const m = yield* breaker.metrics()
  console.log(`calls: 50, reached the dependency: ${reached}, failed: ${failed}, rejected by the breaker: ${rejected}`)
  console.log(
    `metrics: state ${m.state._tag}, successes ${m.successes}, failures ${m.failures}, rejections ${m.rejections}, store ${m.store}`
  )
  // each break: from an opening to the end of that break (the next Open -> HalfOpen)
  const breaks = m.transitions.flatMap((t, i) => {
    const end = m.transitions.slice(i + 1).find((u) => u.from === "Open")
    return t.to === "Open" && end !== undefined ? [Duration.format(Duration.millis(end.at - t.at))] : []
  })
  console.log(`breaks (growing): ${breaks.join(", ")}`)
})

Effect.runPromise(program.pipe(Effect.scoped)).catch((e) => {
  console.error(e)
  process.exit(1)
})
