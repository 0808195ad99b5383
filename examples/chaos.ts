/**
 * Chaos: inject faults and latency innermost in a pipeline (retry with a
 * per-attempt timeout), with a seeded Random so the run is reproducible, and
 * a switch that turns chaos off at run time. Prints how many injections the
 * pipeline absorbed.
 */
import { Data, Effect } from "effect"
import { Chaos, Policy, Retry, Testing } from "effect-resilience"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

let served = 0
const getProfile = (id: number) => Effect.sync(() => ({ id, name: `user-${id}`, servedBy: ++served }))

const program = Effect.gen(function*() {
  const chaos = yield* Chaos.makeSwitch(true)
  const faults = Chaos.fault({ rate: 0.3, error: () => new Unavailable(), enabled: chaos, name: "faults" })
  const slow = Chaos.latency({ rate: 0.2, delay: "300 millis", enabled: chaos, name: "slow" })

  const resilient = Policy.compose(
    Policy.pipeline({
      retry: Retry.policy({ schedule: Retry.constant("10 millis"), times: 6 }),
      attemptTimeout: "50 millis"
    }),
    faults, // chaos innermost: the pipeline sees it as the dependency misbehaving
    slow
  )
  console.log(Testing.render(resilient))

  const run = (label: string) =>
    Effect.gen(function*() {
      const before = { faults: (yield* faults.stats()).injected, slow: (yield* slow.stats()).injected }
      // one call after another: the draws from the seeded Random happen in the same order on every run
      const profiles = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (id) => getProfile(id).pipe(resilient))
      const after = { faults: (yield* faults.stats()).injected, slow: (yield* slow.stats()).injected }
      console.log(
        `${label}: ${profiles.length}/20 calls succeeded; injected ${after.faults - before.faults} faults ` +
          `and ${after.slow - before.slow} slow calls`
      )
    })

  yield* run("chaos on ").pipe(Testing.withSeed(42)) // the same injections on every run
  yield* chaos.disable
  yield* run("chaos off")
})

Effect.runPromise(program)
