/**
 * A simulated server whose latency grows with concurrency past a knee, and
 * an open-loop client driving it through a bulkhead, on the TestClock — for
 * the adaptive-limit simulations (test/AdaptiveLimit.simulation.test.ts).
 *
 * **The server: processor sharing with capacity C.** Each request carries
 * `baseLatency` × jitter (uniform in [0.9, 1.1]) milliseconds of work. With
 * `n` requests in service, each progresses at `min(1, C / n)` of full speed:
 *
 * - up to the knee (`n <= C`) a request takes its base latency L, and the
 *   server completes up to C / L requests per millisecond;
 * - past the knee all requests slow down together: latency ≈ L × n / C while
 *   throughput stays at C / L. More concurrency buys nothing but latency — the
 *   excess is a queue inside the server (an M/G/1 processor-sharing queue of
 *   C servers' worth of speed; with Poisson arrivals its mean latency is
 *   L / (1 − ρ), unbounded as the load ρ → 1).
 * - The client gives up on a request after `deadline` (5 L in the tests): the
 *   request fails with a `Cause.TimeoutException` (a drop for the adaptive
 *   limit) and leaves the server (its work abandoned), as a caller's timeout
 *   cancels an HTTP request.
 *
 * Time advances in ticks of `tick` milliseconds (`TestClock.adjust`); the
 * server advances every request by one tick of work and completes those that
 * are done, so latencies are measured to the tick. Randomness (arrivals,
 * jitter) comes from Effect's `Random`: run the simulation under
 * `Effect.withRandom(Random.make(seed))` and every run is the same.
 *
 * **The client: open loop.** Requests arrive as a Poisson process of rate
 * `load × C / L` (a `load` of 1.5: 150% of the server's capacity at the
 * start), each through the bulkhead (rejected at once when it is full,
 * `maxQueue: 0`), whatever happened to the previous ones — as users keep
 * clicking.
 */
import { Cause, Clock, Effect, Exit, Random, TestClock } from "effect"
import type { Bulkhead } from "effect-resilience"

interface Job {
  remaining: number
  readonly startedAt: number
  readonly resume: (effect: Effect.Effect<void, Cause.TimeoutException>) => void
}

/** @see the module's doc. */
export class QueueingServer {
  readonly jobs: Array<Job> = []
  /** Requests completed (success) and abandoned (deadline) so far. */
  completed = 0
  abandoned = 0

  constructor(
    /** C: requests served at full speed at once (change it to change the server's capacity). */
    public capacity: number,
    /** L: a request's work, in milliseconds at full speed. */
    readonly baseLatency: number,
    /** The client's deadline, in milliseconds since the request entered the server. */
    readonly deadline: number
  ) {}

  /** One request: its latency follows the server's load until it completes or the deadline passes. */
  readonly request: Effect.Effect<void, Cause.TimeoutException> = Effect.flatMap(
    Effect.zip(Random.nextRange(0.9, 1.1), Clock.currentTimeMillis),
    ([jitter, now]) =>
      Effect.async<void, Cause.TimeoutException>((resume) => {
        const job: Job = { remaining: this.baseLatency * jitter, startedAt: now, resume }
        this.jobs.push(job)
        // the caller went away (interrupted): the server drops the request
        return Effect.sync(() => this.remove(job))
      })
  )

  private remove(job: Job): void {
    const i = this.jobs.indexOf(job)
    if (i >= 0) this.jobs.splice(i, 1)
  }

  /** Advances every request in service by `dt` milliseconds of shared work, at time `now`. */
  advance(now: number, dt: number): void {
    const rate = Math.min(1, this.capacity / Math.max(1, this.jobs.length))
    const still: Array<Job> = []
    const done: Array<readonly [Job, boolean]> = []
    for (const job of this.jobs) {
      job.remaining -= dt * rate
      if (job.remaining <= 1e-9) done.push([job, true])
      else if (now - job.startedAt >= this.deadline) done.push([job, false])
      else still.push(job)
    }
    this.jobs.length = 0
    this.jobs.push(...still)
    for (const [job, ok] of done) {
      if (ok) this.completed++
      else this.abandoned++
      job.resume(ok ? Exit.void : Exit.fail(new Cause.TimeoutException("deadline")))
    }
  }
}

/** What happened to one request the client sent. */
export interface Outcome {
  readonly arrivedAt: number
  readonly endedAt: number
  readonly result: "ok" | "timeout" | "rejected"
}

/** One simulation run. */
export interface Run {
  /** The bulkhead's limit at the end of each round trip (L). */
  readonly limits: ReadonlyArray<number>
  readonly outcomes: ReadonlyArray<Outcome>
}

export interface Scenario {
  readonly bulkhead: Bulkhead.Bulkhead
  readonly server: QueueingServer
  /** Round trips (of L) to simulate. */
  readonly roundTrips: number
  /** Ticks per round trip (the resolution of time). */
  readonly ticksPerRoundTrip: number
  /** Arrival rate, in multiples of the server's initial capacity (C / L). */
  readonly load: number
  /** Changes to make at the start of a round trip (e.g. halve the capacity at round trip 40). */
  readonly at?: ReadonlyArray<readonly [roundTrip: number, change: () => void]>
}

/** A Poisson count of mean `mean` (Knuth's method; the means here are small). */
const poisson = (mean: number): Effect.Effect<number> =>
  Effect.gen(function*() {
    const limit = Math.exp(-mean)
    let k = 0
    let p = yield* Random.next
    while (p > limit) {
      k++
      p *= yield* Random.next
    }
    return k
  })

/** Runs a scenario on the TestClock (run it under a seeded `Random`). */
export const simulate = (scenario: Scenario): Effect.Effect<Run> =>
  Effect.gen(function*() {
    const { bulkhead, server } = scenario
    const tick = server.baseLatency / scenario.ticksPerRoundTrip
    const rate = scenario.load * server.capacity / server.baseLatency
    const outcomes: Array<Outcome> = []
    const limits: Array<number> = []
    const start = yield* Clock.currentTimeMillis
    // times in the outcomes: milliseconds since the start of the run
    const call = (arrivedAt: number) =>
      Effect.flatMap(Effect.exit(bulkhead(server.request)), (exit) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const result = Exit.isSuccess(exit)
            ? "ok" as const
            : Cause.isFailType(exit.cause) && exit.cause.error._tag === "BulkheadFullError"
            ? "rejected" as const
            : "timeout" as const
          outcomes.push({ arrivedAt, endedAt: now - start, result })
        }))
    for (let rt = 0; rt < scenario.roundTrips; rt++) {
      for (const [at, change] of scenario.at ?? []) if (at === rt) change()
      for (let t = 0; t < scenario.ticksPerRoundTrip; t++) {
        yield* TestClock.adjust(tick)
        const now = yield* Clock.currentTimeMillis
        server.advance(now, tick)
        const arrivals = yield* poisson(rate * tick)
        for (let i = 0; i < arrivals; i++) yield* Effect.forkDaemon(call(now - start))
      }
      limits.push(bulkhead.unsafeStats().maxConcurrent)
    }
    // let the last calls end (every request ends by the deadline)
    const drain = Math.ceil(server.deadline / tick) + 1
    for (let t = 0; t < drain; t++) {
      yield* TestClock.adjust(tick)
      server.advance(yield* Clock.currentTimeMillis, tick)
    }
    yield* TestClock.adjust(tick)
    return { limits, outcomes }
  })

/** Successful requests per round trip among those that arrived in round trips [from, to). */
export const goodput = (run: Run, roundTrip: number, from: number, to: number): number =>
  run.outcomes.filter((o) => o.result === "ok" && o.arrivedAt >= from * roundTrip && o.arrivedAt < to * roundTrip).length /
  (to - from)

/** The p-quantile latency (ms, arrival to end) of the successful requests that arrived in round trips [from, to). */
export const latencyQuantile = (run: Run, roundTrip: number, from: number, to: number, p: number): number => {
  const latencies = run.outcomes
    .filter((o) => o.result === "ok" && o.arrivedAt >= from * roundTrip && o.arrivedAt < to * roundTrip)
    .map((o) => o.endedAt - o.arrivedAt)
    .sort((a, b) => a - b)
  if (latencies.length === 0) return Infinity
  return latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!
}

/** The mean of the limits at the end of round trips [from, to). */
export const meanLimit = (run: Run, from: number, to: number): number => {
  const window = run.limits.slice(from, to)
  return window.reduce((a, b) => a + b, 0) / window.length
}
