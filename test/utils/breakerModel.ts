/**
 * The reference state machine of the circuit breaker's model-based tests
 * (test/CircuitBreaker.model.test.ts, test/redis/CircuitBreaker.model.test.ts),
 * with its command and config generators: written independently of the
 * implementation, shared by the in-memory and the Redis runs.
 */
import { assert } from "@effect/vitest"
import { Cause, Data, Deferred, Duration, Effect, Exit, FastCheck as fc, Fiber, Option, Schedule, type Scope, TestClock } from "effect"
import { CircuitBreaker } from "effect-resilience"

export class Boom extends Data.TaggedError("Boom")<{}> {}
export class NotFound extends Data.TaggedError("NotFound")<{}> {}

// ---------------------------------------------------------------------------
// The reference model

export interface ModelConfig {
  readonly failures: number
  readonly durations: ReadonlyArray<number>
  readonly cap: number
  readonly resetAfter: number
  readonly probes: number
  readonly successThreshold: number
  readonly probeTimeout: number
}

export type ModelState =
  | { readonly _tag: "Closed"; readonly since: number; readonly openings: number; consecutive: number }
  | { readonly _tag: "Open"; readonly until: number; readonly openings: number }
  | {
    readonly _tag: "HalfOpen"
    readonly openings: number
    readonly leases: Map<number, number>
    successes: number
  }
  | { readonly _tag: "Isolated"; readonly openings: number }

export type Decision = "admitted" | "CircuitOpen" | "CircuitHalfOpen"
export type Result = "success" | "failure" | "ignored" | "interrupt"

export interface ModelTicket {
  readonly epoch: number
  readonly lease: number
}

export class Model {
  state: ModelState
  epoch = 0
  nextLease = 0
  constructor(readonly config: ModelConfig, now: number) {
    this.state = { _tag: "Closed", since: now, openings: 0, consecutive: 0 }
  }
  private move(state: ModelState) {
    this.state = state
    this.epoch++
  }
  private open(openings: number, now: number) {
    const d = this.config.durations
    const duration = Math.min(d[Math.min(openings, d.length) - 1]!, this.config.cap)
    this.move({ _tag: "Open", until: now + duration, openings })
  }
  private elapse(now: number) {
    const s = this.state
    if (s._tag === "Open" && now >= s.until) {
      this.move({ _tag: "HalfOpen", openings: s.openings, leases: new Map(), successes: 0 })
    }
  }
  admit(now: number): [Decision, ModelTicket | undefined] {
    this.elapse(now)
    const s = this.state
    switch (s._tag) {
      case "Closed":
        return ["admitted", { epoch: this.epoch, lease: 0 }]
      case "Open":
      case "Isolated":
        return ["CircuitOpen", undefined]
      case "HalfOpen": {
        for (const [id, expiresAt] of s.leases) if (expiresAt <= now) s.leases.delete(id)
        if (s.leases.size >= this.config.probes) return ["CircuitHalfOpen", undefined]
        const lease = ++this.nextLease
        s.leases.set(lease, now + this.config.probeTimeout)
        return ["admitted", { epoch: this.epoch, lease }]
      }
    }
  }
  record(ticket: ModelTicket, result: Result, now: number) {
    if (result === "interrupt") {
      if (ticket.lease === 0) return // an interrupted call is not counted at all
      result = "ignored" // an interrupted probe frees its slot
    }
    const s = this.state
    if (ticket.epoch !== this.epoch) return // fenced
    if (s._tag === "Closed") {
      if (result === "ignored") return
      s.consecutive = result === "failure" ? s.consecutive + 1 : 0
      if (s.consecutive >= this.config.failures) {
        this.open((now - s.since >= this.config.resetAfter ? 0 : s.openings) + 1, now)
      }
      return
    }
    if (s._tag === "HalfOpen") {
      const expiresAt = s.leases.get(ticket.lease)
      if (expiresAt === undefined) return
      s.leases.delete(ticket.lease)
      if (expiresAt <= now || result === "ignored") return
      if (result === "failure") return this.open(s.openings + 1, now)
      s.successes++
      if (s.successes >= this.config.successThreshold) {
        this.move({ _tag: "Closed", since: now, openings: s.openings, consecutive: 0 })
      }
    }
  }
  isolate(now: number) {
    this.elapse(now)
    if (this.state._tag !== "Isolated") this.move({ _tag: "Isolated", openings: this.state.openings })
  }
  reset(now: number) {
    this.move({ _tag: "Closed", since: now, openings: 0, consecutive: 0 })
  }
  /** The state as `breaker.state()` should report it. */
  view(now: number): { readonly tag: string; readonly until?: number; readonly probes?: number } {
    const s = this.state
    if (s._tag === "Open") return now >= s.until ? { tag: "HalfOpen", probes: 0 } : { tag: "Open", until: s.until }
    if (s._tag === "HalfOpen") {
      let live = 0
      for (const expiresAt of s.leases.values()) if (expiresAt > now) live++
      return { tag: "HalfOpen", probes: live }
    }
    return { tag: s._tag }
  }
}

// ---------------------------------------------------------------------------
// Commands

export type Command =
  | { readonly _tag: "Start" }
  | { readonly _tag: "Call"; readonly result: Exclude<Result, "interrupt"> }
  | { readonly _tag: "Complete"; readonly index: number; readonly result: Result }
  | { readonly _tag: "Advance"; readonly millis: number }
  | { readonly _tag: "Isolate" }
  | { readonly _tag: "Reset" }

export const resultArb = fc.constantFrom<Result>("success", "failure", "failure", "ignored", "interrupt")

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Command>({ _tag: "Start" }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom<Exclude<Result, "interrupt">>("success", "failure", "failure", "ignored").map(
      (result): Command => ({ _tag: "Call", result })
    )
  },
  {
    weight: 6,
    arbitrary: fc.record({ index: fc.nat(20), result: resultArb }).map((c): Command => ({ _tag: "Complete", ...c }))
  },
  {
    weight: 4,
    arbitrary: fc.constantFrom(1, 250, 999, 1000, 2000, 5000, 20_000).map((millis): Command => ({
      _tag: "Advance",
      millis
    }))
  },
  { weight: 1, arbitrary: fc.constant<Command>({ _tag: "Isolate" }) },
  { weight: 1, arbitrary: fc.constant<Command>({ _tag: "Reset" }) }
)

export const configArb = fc.record({
  failures: fc.integer({ min: 1, max: 3 }),
  growing: fc.boolean(),
  probes: fc.integer({ min: 1, max: 3 }),
  successThreshold: fc.integer({ min: 1, max: 3 }),
  probeTimeout: fc.constantFrom(1500, 4000, 60_000),
  resetAfter: fc.constantFrom(0, 3000, 30_000)
})

export type ConfigArb = typeof configArb extends fc.Arbitrary<infer T> ? T : never

export interface Running {
  readonly fiber: Fiber.RuntimeFiber<Decision, never>
  readonly gate: Deferred.Deferred<string, Boom | NotFound>
  readonly ticket: ModelTicket
  readonly probe: boolean
}

export const decisionOf = (exit: Exit.Exit<unknown, unknown>): Decision => {
  if (Exit.isSuccess(exit)) return "admitted"
  const error = Cause.failureOption(exit.cause)
  if (Option.isSome(error) && (error.value as any)?._tag === "CircuitBreakerError") {
    return (error.value as CircuitBreaker.CircuitBreakerError).reason._tag as Decision
  }
  return "admitted"
}

/**
 * Runs one generated scenario against a breaker (made by `make` from the scenario's options) and
 * the reference model; after every command the breaker must agree with the model and half-open
 * must never run more than `probes` probes. `awaitAdmission` waits until a started call reached
 * its admission (it either started or ended): the stores answer in different numbers of steps.
 */
export const runModel = (
  cfg: ConfigArb,
  commands: ReadonlyArray<Command>,
  make: (options: CircuitBreaker.CircuitBreaker.Options) => Effect.Effect<CircuitBreaker.CircuitBreaker, unknown, Scope.Scope>,
  awaitAdmission: (started: Deferred.Deferred<void>, fiber: Fiber.Fiber<Decision>) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const durations = cfg.growing ? [1000, 2000, 4000, 8000] : [3000]
    const breaker = yield* make({
      tripPolicy: CircuitBreaker.consecutive(cfg.failures),
      openDuration: cfg.growing ? Schedule.exponential("1 second") : "3 seconds",
      maxOpenDuration: cfg.growing ? "8 seconds" : undefined,
      openDurationResetAfter: Duration.millis(cfg.resetAfter),
      halfOpen: { probes: cfg.probes, successThreshold: cfg.successThreshold, probeTimeout: Duration.millis(cfg.probeTimeout) },
      classify: CircuitBreaker.ignoreTags("NotFound")
    })
    const model = new Model({
      failures: cfg.failures,
      durations,
      cap: cfg.growing ? 8000 : 3000,
      resetAfter: cfg.resetAfter,
      probes: cfg.probes,
      successThreshold: cfg.successThreshold,
      probeTimeout: cfg.probeTimeout
    }, yield* TestClock.currentTimeMillis)
    const running: Array<Running> = []
    const now = TestClock.currentTimeMillis

    const start = Effect.gen(function*() {
      const gate = yield* Deferred.make<string, Boom | NotFound>()
      const started = yield* Deferred.make<void>()
      const call = Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate))
      const fiber = yield* Effect.fork(Effect.map(Effect.exit(breaker(call)), decisionOf))
      yield* awaitAdmission(started, fiber)
      const [expected, ticket] = model.admit(yield* now)
      const admitted = yield* Deferred.isDone(started)
      const actual: Decision = admitted ? "admitted" : yield* Fiber.join(fiber)
      assert.strictEqual(actual, expected, "admission")
      if (!admitted) return undefined
      const r: Running = { fiber, gate, ticket: ticket!, probe: ticket!.lease !== 0 }
      running.push(r)
      return r
    })

    const complete = (r: Running, result: Result) =>
      Effect.gen(function*() {
        if (result === "interrupt") yield* Fiber.interrupt(r.fiber)
        else if (result === "success") yield* Deferred.succeed(r.gate, "ok")
        else yield* Deferred.fail(r.gate, result === "failure" ? new Boom() : new NotFound())
        yield* Fiber.await(r.fiber)
        model.record(r.ticket, result, yield* now)
      })

    const check = Effect.gen(function*() {
      const t = yield* now
      const expected = model.view(t)
      const state = yield* breaker.state()
      assert.strictEqual(state._tag, expected.tag, "state")
      if (state._tag === "Open") assert.strictEqual(state.until, expected.until, "until")
      if (state._tag === "HalfOpen") {
        assert.strictEqual(state.probes, expected.probes, "probes in flight")
        assert.isAtMost(state.probes, cfg.probes)
        // probes actually running and still holding a live lease
        const s = model.state
        const live = running.filter((r) =>
          r.probe && s._tag === "HalfOpen" && (s.leases.get(r.ticket.lease) ?? -Infinity) > t
        ).length
        assert.isAtMost(live, cfg.probes, "half-open never admits more than probes")
      }
    })

    for (const command of commands) {
      switch (command._tag) {
        case "Start":
          yield* start
          break
        case "Call": {
          const r = yield* start
          if (r !== undefined) {
            running.splice(running.indexOf(r), 1)
            yield* complete(r, command.result)
          }
          break
        }
        case "Complete": {
          if (running.length === 0) break
          const [r] = running.splice(command.index % running.length, 1)
          yield* complete(r!, command.result)
          break
        }
        case "Advance":
          yield* TestClock.adjust(Duration.millis(command.millis))
          break
        case "Isolate":
          yield* breaker.isolate()
          model.isolate(yield* now)
          break
        case "Reset":
          yield* breaker.reset()
          model.reset(yield* now)
          break
      }
      yield* check
    }
    // drain: every remaining call completes, the model still agrees
    while (running.length > 0) {
      yield* complete(running.shift()!, "success")
      yield* check
    }
  }).pipe(Effect.scoped)
