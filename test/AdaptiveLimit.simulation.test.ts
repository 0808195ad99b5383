/**
 * Adaptive limits on a simulated server (issue 24), on the TestClock with a
 * seeded Random: every run is the same, and nothing is timed on real time.
 *
 * The server (test/utils/queueingServer.ts) is processor sharing with
 * capacity C = 20 and base latency L = 100 ms: up to 20 requests at once take
 * 100 ms; past the knee all slow down together (latency ≈ L × n / C) while
 * throughput stays at C / L = 20 per round trip. Callers give up after 5 L
 * (a drop). Requests arrive as a Poisson stream at 1.5 × C / L (150% of
 * capacity), each through a bulkhead that rejects at once when full
 * (`maxQueue: 0`). At round trip 40 the server's capacity halves (C = 10:
 * the load becomes 300% of it).
 *
 * A "round trip" is L. The limit is read at the end of each round trip; the
 * claims are about its mean over windows of 10 round trips, in a band around
 * the knee K (the capacity: 20, then 10) that depends on the algorithm:
 *
 * | claim | windows that must be in the band | so: converged within |
 * |---|---|---|
 * | from far too low (1) | every window of round trips 10–40 | 10 round trips |
 * | from far too high (10 C = 200) | every window of round trips 20–40 | 20 round trips |
 * | after the capacity halves at 40 | the windows 50–60 and 60–70 | 10 round trips |
 *
 * | algorithm (options) | band |
 * |---|---|
 * | AIMD (`timeout` 1.5 L: a call 50% slower than no-load is a loss) | [0.75 K, 2 K] |
 * | Vegas (defaults) | [0.75 K, 2 K + 8] |
 * | Gradient2 (`rttTolerance` 1.2, `longWindow` 3000) | [0.75 K, 2.5 K] |
 *
 * AIMD settles where latency crosses its `timeout` (about 1.5 K here);
 * Vegas holds alpha..beta (3–6) calls queued past the knee and swings around
 * that by a few calls per sample; Gradient2 holds latencies within
 * `rttTolerance` of a long-term average that remembers an overload (a start
 * far above the knee). Goodput (requests served within the deadline, per
 * round trip) and latency are compared with a fixed bulkhead set too high
 * (10 C: calls pile up in the server, latency passes the deadline, goodput
 * collapses) and one set too low (C / 4 = 5: a quarter of the capacity used):
 * after convergence, the adaptive one serves at least 75% of the capacity,
 * at least 1.5 × the too-low one's goodput, times out at most 10% of the
 * calls it admits (the too-high one over 90%), with a p99 latency below the
 * deadline.
 *
 * The claims hold for other seeds too (checked for 1–8):
 * `SIM_SEED=3 npx vitest run test/AdaptiveLimit.simulation.test.ts`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Random, TestContext } from "effect"
import { AdaptiveLimit, Bulkhead } from "effect-resilience"
import { goodput, latencyQuantile, meanLimit, QueueingServer, type Run, simulate } from "./utils/queueingServer.js"

const C = 20
const L = 100
const DEADLINE = 5 * L
const SEED = Number(process.env.SIM_SEED ?? 20_241_124)
const HALVE_AT = 40

type MaxConcurrent = Bulkhead.Bulkhead.Options["maxConcurrent"]

/** Runs the scenario (70 round trips, capacity halved at 40, or 30 without halving) in a TestContext of its own. */
const scenario = (maxConcurrent: MaxConcurrent, roundTrips: number): Promise<Run> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const server = new QueueingServer(C, L, DEADLINE)
      // made under the seeded Random too: Vegas draws its probe jitter's seed from it
      const bulkhead = yield* Bulkhead.make({ maxConcurrent, maxQueue: 0, metricsInterval: Duration.infinity })
      return yield* simulate({
        bulkhead,
        server,
        roundTrips,
        ticksPerRoundTrip: 10,
        load: 1.5,
        at: [[HALVE_AT, () => {
          server.capacity = C / 2
        }]]
      })
    }).pipe(Effect.scoped, Effect.withRandom(Random.make(SEED)), Effect.provide(TestContext.TestContext))
  )

const memo = <A>(f: () => Promise<A>): () => Promise<A> => {
  let p: Promise<A> | undefined
  return () => p ??= f()
}

/** Each algorithm and its band around a knee (see the table above). */
const algorithms: Record<string, { readonly make: (initialLimit: number) => MaxConcurrent; readonly band: (knee: number) => readonly [number, number] }> = {
  AIMD: {
    // a call 50% slower than the no-load latency is a loss
    make: (initialLimit) => AdaptiveLimit.aimd({ initialLimit, minLimit: 1, maxLimit: 1000, timeout: Duration.millis(1.5 * L) }),
    band: (knee) => [0.75 * knee, 2 * knee]
  },
  Vegas: {
    make: (initialLimit) => AdaptiveLimit.vegas({ initialLimit }),
    band: (knee) => [0.75 * knee, 2 * knee + 8]
  },
  Gradient2: {
    // a tighter tolerance and a long-term average over more calls than the run makes: see docs/AdaptiveLimit.md
    // ("Gradient2 drifts under a lasting overload") for what its defaults do here
    make: (initialLimit) => AdaptiveLimit.gradient2({ initialLimit, minLimit: 1, maxLimit: 1000, rttTolerance: 1.2, longWindow: 3000 }),
    // its long-term average remembers a start far above the knee: the limit it holds stays higher for a while
    band: (knee) => [0.75 * knee, 2.5 * knee]
  }
}

const fixedTooHigh = memo(() => scenario(10 * C, 70))
const fixedTooLow = memo(() => scenario(C / 4, 70))

const windows = (run: Run, from: number, to: number) => {
  const out: Array<readonly [string, number]> = []
  for (let w = from; w < to; w += 10) out.push([`[${w}, ${w + 10})`, meanLimit(run, w, w + 10)])
  return out
}

const assertBand = (what: string, run: Run, from: number, to: number, ...[low, high]: readonly [number, number]) => {
  for (const [window, mean] of windows(run, from, to)) {
    assert.isTrue(mean >= low && mean <= high, `${what}: mean limit ${mean.toFixed(1)} over round trips ${window}, expected in [${low}, ${high}]`)
  }
}

/** Share of the admitted requests (not rejected by the bulkhead) that arrived in [from, to) and hit the deadline. */
const timeoutShare = (run: Run, from: number, to: number) => {
  const admitted = run.outcomes.filter((o) => o.result !== "rejected" && o.arrivedAt >= from * L && o.arrivedAt < to * L)
  return admitted.filter((o) => o.result === "timeout").length / Math.max(1, admitted.length)
}

const SIMULATION_TIMEOUT = 120_000

for (const [name, { band, make }] of Object.entries(algorithms)) {
  describe(`${name} on a processor-sharing server (C = ${C}, L = ${L} ms, load 150%)`, () => {
    const fromLow = memo(() => scenario(make(1), 70))
    const fromHigh = memo(() => scenario(make(10 * C), 40))

    it(`from far too low (1): within 10 round trips the limit stays in its band around the knee`, async () => {
      const run = await fromLow()
      assert.strictEqual(run.limits[0]! <= 2, true, "starts far too low")
      assertBand(`${name} from 1`, run, 10, HALVE_AT, ...band(C))
    }, SIMULATION_TIMEOUT)

    it(`from far too high (10 C): within 20 round trips the limit stays in its band around the knee`, async () => {
      const run = await fromHigh()
      assertBand(`${name} from ${10 * C}`, run, 20, 40, ...band(C))
    }, SIMULATION_TIMEOUT)

    it(`when the capacity halves, the limit follows within 10 round trips into its band around the new knee`, async () => {
      const run = await fromLow()
      assertBand(`${name} after halving`, run, HALVE_AT + 10, 70, ...band(C / 2))
      // and it went down: the mean after is below the mean before
      assert.isBelow(meanLimit(run, 60, 70), meanLimit(run, 20, HALVE_AT))
    }, SIMULATION_TIMEOUT)

    it(`beats a fixed bulkhead set too high (10 C) on goodput and latency, and one set too low (C / 4) on goodput`, async () => {
      const [run, high, low] = await Promise.all([fromLow(), fixedTooHigh(), fixedTooLow()])
      for (const [from, to, capacity] of [[20, HALVE_AT, C], [HALVE_AT + 10, 70, C / 2]] as const) {
        const ours = goodput(run, L, from, to)
        const what = `${name}, round trips [${from}, ${to})`
        // most of the capacity served within the deadline
        assert.isAtLeast(ours, 0.75 * capacity, `${what}: goodput ${ours.toFixed(1)} per round trip`)
        // too high: requests pile up in the server until they all miss the deadline
        assert.isAtLeast(ours, goodput(high, L, from, to) + 0.5 * capacity, `${what}: against fixed ${10 * C}`)
        assert.isAbove(timeoutShare(high, from, to), 0.9)
        assert.isAtMost(timeoutShare(run, from, to), 0.1, `${what}: share of admitted calls timed out`)
        assert.isBelow(latencyQuantile(run, L, from, to, 0.99), latencyQuantile(high, L, from, to, 0.99))
        assert.isBelow(latencyQuantile(run, L, from, to, 0.99), DEADLINE)
        // too low: a quarter of the capacity
        assert.isAtLeast(ours, 1.5 * goodput(low, L, from, to), `${what}: against fixed ${C / 4}`)
      }
    }, SIMULATION_TIMEOUT)
  })
}

describe("the fixed bulkheads the adaptive ones are compared with", () => {
  it("too high (10 C) collapses: nearly every admitted call misses the deadline; too low (C / 4) serves a quarter", async () => {
    const [high, low] = await Promise.all([fixedTooHigh(), fixedTooLow()])
    assert.isBelow(goodput(high, L, 20, 70), 1)
    assert.approximately(goodput(low, L, 20, 70), C / 4, 1)
    assert.strictEqual(latencyQuantile(low, L, 20, 70, 0.99) <= 1.2 * L, true)
  }, SIMULATION_TIMEOUT)
})
