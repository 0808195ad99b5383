/**
 * Retry with exponential backoff and jitter, a per-attempt timeout and an
 * overall deadline, on a flaky in-process dependency. Prints every attempt.
 */
import { Data, Duration, Effect, Random, Stream } from "effect"
import { Policy, Retry, Timeout } from "effect-resilience"

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly attempt: number }> {}

const program = Effect.gen(function*() {
  const started = Date.now()
  let attempt = 0
  // fails twice, hangs once, then answers
  const flaky = Effect.suspend(() => {
    attempt++
    const n = attempt
    console.log(`  attempt ${n} at +${Date.now() - started} ms`)
    if (n <= 2) return Effect.fail(new Unavailable({ attempt: n }))
    if (n === 3) return Effect.never
    return Effect.succeed(`answer from attempt ${n}`)
  })

  const retry = Retry.policy({
    schedule: Retry.exponential({ base: "20 millis", factor: 2, jitter: "equal" }),
    times: 5,
    name: "flaky"
  })
  // the equivalent of Polly's OnRetry, as a Stream of events
  yield* retry.events.pipe(
    Stream.runForEach((e) =>
      Effect.sync(() =>
        console.log(
          e._tag === "RetryScheduled"
            ? `  retry #${e.attempt} in ${Math.round(Duration.toMillis(e.delay))} ms after ${String((e.error as any)?._tag ?? e.error)}`
            : `  gave up: ${e.reason}`
        )
      )
    ),
    Effect.forkScoped
  )
  yield* Effect.yieldNow()

  const policy = Policy.pipeline({
    timeout: "2 seconds", // overall deadline, propagated to the retry and the attempt timeout
    retry,
    attemptTimeout: "100 millis" // attempt 3 hangs: it is interrupted after 100 ms and retried
  })
  const result = yield* flaky.pipe(policy)
  console.log(`result: ${result}`)
  console.log(`stats: ${JSON.stringify(yield* retry.stats())}`)

  // a deadline the retries cannot fit into: retry gives up at once instead of sleeping past it
  const tight = Effect.fail(new Unavailable({ attempt: 0 })).pipe(
    Retry.policy({ schedule: Retry.constant("1 second") }),
    Timeout.make("300 millis"),
    Effect.either
  )
  const outcome = yield* tight
  console.log(`within a 300 ms deadline and 1 s backoff: ${outcome._tag === "Left" ? outcome.left._tag : "ok"}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.withRandom(Random.make(7)))).catch((e) => {
  console.error(e)
  process.exit(1)
})
