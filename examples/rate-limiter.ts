/**
 * Rate limiting: "fail" mode with retryAfter, "delay" mode that waits for
 * its slot within maxDelay (and never charges the calls it rejects), one
 * limit per key, and queue-based load leveling in front of a bulkhead.
 * Prints what happened.
 */
import { Duration, Effect, Either } from "effect"
import { Bulkhead, Policy, RateLimiter } from "effect-resilience"

const program = Effect.gen(function*() {
  const started = Date.now()
  const at = () => `+${String(Date.now() - started).padStart(3)} ms`
  // a burst of `n` calls at once through `policy`, printing when each runs or why it was rejected
  const burst = <E extends { readonly message: string }>(
    n: number,
    policy: (self: Effect.Effect<void>) => Effect.Effect<void, E>
  ) =>
    Effect.forEach(
      Array.from({ length: n }, (_, i) => i + 1),
      (i) =>
        Effect.sync(() => console.log(`  ${at()} call ${i} runs`)).pipe(
          policy,
          Effect.either,
          Effect.map((r) => (Either.isLeft(r) ? console.log(`  ${at()} call ${i}: ${r.left.message}`) : undefined))
        ),
      { concurrency: "unbounded" }
    )

  console.log("fail mode, 3 per second: a burst of 5")
  const api = yield* RateLimiter.make({ limit: 3, window: "1 second", name: "api" })
  yield* burst(5, api)

  console.log("\ndelay mode, a burst of 3 then one every 100 ms, waiting at most 350 ms: a burst of 9")
  const smooth = yield* RateLimiter.make({
    limit: 3,
    window: "300 millis",
    onExceeded: "delay",
    maxDelay: "350 millis",
    name: "smooth"
  })
  yield* burst(9, smooth)
  console.log(`  stats: ${JSON.stringify(yield* smooth.stats())} (the rejected calls took no tokens)`)

  console.log("\none limit per key: 2 per second per user")
  const perUser = yield* RateLimiter.make({ limit: 2, window: "1 second", name: "per-user" })
  for (const user of ["alice", "alice", "bob", "alice"]) {
    const result = yield* Effect.either(Effect.succeed(`${user} served`).pipe(perUser.execute({ key: user })))
    if (Either.isRight(result)) console.log(`  ${result.right}`)
    else if (RateLimiter.isRateLimitExceededError(result.left)) {
      console.log(`  ${user} rejected, retry after ${Duration.format(result.left.retryAfter)}`)
    } else console.log(`  ${user}: ${result.left.message}`)
  }

  console.log("\nqueue-based load leveling: a limiter in delay mode (one call per 50 ms, waiting at most 250 ms)")
  console.log("in front of a bulkhead (2 running, 1 queued), on a dependency that takes 200 ms: a burst of 10")
  const leveling = Policy.compose(
    yield* RateLimiter.make({ limit: 1, window: "50 millis", onExceeded: "delay", maxDelay: "250 millis", name: "ingest" }),
    yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 1, name: "ingest" })
  )
  yield* burst(10, (self) => leveling(Effect.zipRight(self, Effect.sleep("200 millis"))))
})

Effect.runPromise(Effect.scoped(program)).catch((e) => {
  console.error(e)
  process.exit(1)
})
