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
  /** Half-open sampling: the probes' failure rate that reopens the circuit (undefined: one failed probe does). */
  readonly failureRate: number | undefined
  /** The memory store's idle sweep (the store drops what no longer matters), or none (Redis: real-time TTLs). */
  readonly sweep: { readonly idleTimeToLive: number; readonly interval: number } | undefined
}

export type ModelState =
  | { readonly _tag: "Closed"; readonly since: number; readonly openings: number; consecutive: number }
  | { readonly _tag: "Open"; readonly since: number; readonly until: number; readonly openings: number }
  | {
    readonly _tag: "HalfOpen"
    readonly openings: number
    readonly leases: Map<number, number>
    successes: number
    failures: number
  }
  | { readonly _tag: "Isolated"; readonly openings: number }

export type Mode = CircuitBreaker.Mode
export type Decision = "admitted" | "CircuitOpen" | "CircuitHalfOpen"
export type Result = "success" | "failure" | "ignored" | "interrupt"

/** An admission as the caller sees it: admitted, or rejected with when to come back (ms; undefined when isolated). */
export interface Admission {
  readonly decision: Decision
  readonly retryAfter: number | undefined
}

export interface ModelTicket {
  readonly epoch: number
  readonly lease: number
}

const EPSILON = 1e-9
const reaches = (count: number, of: number, threshold: number) => count > 0 && count / of + EPSILON >= threshold

/**
 * One circuit, as the breaker promises it behaves (issue 16 included): a break
 * is never forgotten (only a closed circuit whose openings no longer pick the
 * next break may be swept), a probe that outlives probeTimeout is a failed
 * probe at its lease's end, half-open sampling decides on the probes' failure
 * rate as soon as the outcome is known, and the modes (Disabled: every call
 * runs, nothing is recorded; MetricsOnly: every call runs, the would-be
 * rejected ones unrecorded).
 */
export class Model {
  state: ModelState
  epoch = 0
  nextLease = 0
  mode: Mode = "Enforcing"
  /** The store holds the circuit (the memory store's sweep may drop it). */
  exists = true
  lastUsed: number
  constructor(readonly config: ModelConfig, now: number) {
    this.state = { _tag: "Closed", since: now, openings: 0, consecutive: 0 }
    this.lastUsed = now
  }
  private move(state: ModelState) {
    this.state = state
    this.epoch++
  }
  private open(openings: number, at: number) {
    const d = this.config.durations
    const duration = Math.min(d[Math.min(openings, d.length) - 1]!, this.config.cap)
    this.move({ _tag: "Open", since: at, until: at + duration, openings })
  }
  private close(openings: number, now: number) {
    this.move({ _tag: "Closed", since: now, openings, consecutive: 0 })
  }
  /** The moves time made: the end of a break, then each probe whose lease ended while it ran (a failed probe at that time). */
  private catchUp(now: number) {
    for (;;) {
      const s = this.state
      if (s._tag === "Open" && now >= s.until) {
        this.move({ _tag: "HalfOpen", openings: s.openings, leases: new Map(), successes: 0, failures: 0 })
        continue
      }
      if (s._tag !== "HalfOpen") return
      let first: [number, number] | undefined
      for (const [id, expiresAt] of s.leases) if (first === undefined || expiresAt < first[1]) first = [id, expiresAt]
      if (first === undefined || first[1] > now) return
      s.leases.delete(first[0])
      if (this.config.failureRate !== undefined) {
        s.failures++
        if (!reaches(s.failures, this.config.probes, this.config.failureRate)) continue
      }
      this.open(s.openings + 1, first[1])
    }
  }
  private touch(now: number) {
    if (!this.exists) {
      // made again, fresh
      this.exists = true
      this.state = { _tag: "Closed", since: now, openings: 0, consecutive: 0 }
    }
    this.lastUsed = now
  }
  private taken(s: Extract<ModelState, { _tag: "HalfOpen" }>) {
    return s.leases.size + (this.config.failureRate === undefined ? 0 : s.successes + s.failures)
  }
  admit(now: number): [Admission, ModelTicket | undefined] {
    if (this.mode === "Disabled") return [{ decision: "admitted", retryAfter: undefined }, undefined]
    this.touch(now)
    this.catchUp(now)
    const s = this.state
    let rejected: Admission
    switch (s._tag) {
      case "Closed":
        return [{ decision: "admitted", retryAfter: undefined }, { epoch: this.epoch, lease: 0 }]
      case "Open":
        rejected = { decision: "CircuitOpen", retryAfter: s.until - now }
        break
      case "Isolated":
        rejected = { decision: "CircuitOpen", retryAfter: undefined }
        break
      case "HalfOpen": {
        if (this.taken(s) < this.config.probes) {
          const lease = ++this.nextLease
          s.leases.set(lease, now + this.config.probeTimeout)
          return [{ decision: "admitted", retryAfter: undefined }, { epoch: this.epoch, lease }]
        }
        rejected = { decision: "CircuitHalfOpen", retryAfter: Math.min(...s.leases.values()) - now }
      }
    }
    // metrics only: what would be rejected runs, unrecorded
    return this.mode === "MetricsOnly" ? [{ decision: "admitted", retryAfter: undefined }, undefined] : [rejected, undefined]
  }
  record(ticket: ModelTicket | undefined, result: Result, now: number) {
    if (ticket === undefined) return // ran untracked (disabled, or would-be rejected in metrics only)
    if (result === "interrupt") {
      if (ticket.lease === 0) return // an interrupted call is not counted at all
      result = "ignored" // an interrupted probe frees its slot
    }
    if (!this.exists) return // dropped while the call ran
    this.lastUsed = now
    if (this.state._tag !== "Closed") this.catchUp(now)
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
      if (!s.leases.delete(ticket.lease) || result === "ignored") return
      const rate = this.config.failureRate
      if (rate !== undefined) {
        if (result === "failure") {
          s.failures++
          if (reaches(s.failures, this.config.probes, rate)) this.open(s.openings + 1, now)
        } else {
          s.successes++
          if (!reaches(this.config.probes - s.successes, this.config.probes, rate)) this.close(s.openings, now)
        }
        return
      }
      if (result === "failure") return this.open(s.openings + 1, now)
      s.successes++
      if (s.successes >= this.config.successThreshold) this.close(s.openings, now)
    }
  }
  isolate(now: number) {
    this.touch(now)
    if (this.state._tag === "Isolated") return
    this.catchUp(now)
    this.move({ _tag: "Isolated", openings: this.state.openings })
  }
  reset(now: number) {
    if (!this.exists) return // nothing to reset
    this.lastUsed = now
    this.catchUp(now)
    this.close(0, now)
  }
  setMode(mode: Mode) {
    this.mode = mode
  }
  /** The memory store's sweep at `now`: drops the circuit only if idle and its state decides nothing. */
  sweep(now: number) {
    const s = this.state
    const sweep = this.config.sweep
    if (sweep === undefined || !this.exists || s._tag !== "Closed" || now - this.lastUsed < sweep.idleTimeToLive) return
    if (s.openings > 0 && this.config.durations.length > 1 && now - s.since < this.config.resetAfter) return
    this.exists = false
    this.epoch++
  }
  /** The state as `breaker.state()` should report it. */
  view(now: number): {
    readonly tag: string
    readonly mode: Mode
    readonly since?: number
    readonly until?: number
    readonly probes?: number
    readonly failures?: number
  } {
    if (!this.exists) return { tag: "Closed", mode: this.mode }
    const copy = new Model(this.config, now)
    const s = this.state
    copy.state = s._tag === "HalfOpen" ? { ...s, leases: new Map(s.leases) } : { ...s }
    copy.catchUp(now)
    const v = copy.state
    if (v._tag === "Open") return { tag: "Open", mode: this.mode, since: v.since, until: v.until }
    if (v._tag === "HalfOpen") return { tag: "HalfOpen", mode: this.mode, probes: v.leases.size, failures: v.failures }
    return { tag: v._tag, mode: this.mode }
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
  | { readonly _tag: "SetMode"; readonly mode: Mode }

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
    arbitrary: fc.constantFrom(1, 250, 999, 1000, 2000, 5000, 20_000, 45_000).map((millis): Command => ({
      _tag: "Advance",
      millis
    }))
  },
  // long breaks and long idle periods (a break of hours is never forgotten)
  { weight: 1, arbitrary: fc.constant<Command>({ _tag: "Advance", millis: 3_600_000 }) },
  { weight: 1, arbitrary: fc.constant<Command>({ _tag: "Isolate" }) },
  { weight: 1, arbitrary: fc.constant<Command>({ _tag: "Reset" }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Mode>("Enforcing", "MetricsOnly", "Disabled").map((mode): Command => ({ _tag: "SetMode", mode }))
  }
)

export const configArb = fc.record({
  failures: fc.integer({ min: 1, max: 3 }),
  /** fixed 3 s, growing 1, 2, 4, 8 s, or a fixed 1 hour break (longer than the memory store's idle time to live) */
  breaks: fc.constantFrom<"fixed" | "growing" | "long">("fixed", "growing", "long"),
  probes: fc.integer({ min: 1, max: 3 }),
  successThreshold: fc.integer({ min: 1, max: 3 }),
  /** half-open sampling (then successThreshold is not set) */
  failureRate: fc.constantFrom<number | undefined>(undefined, undefined, 0.3, 0.5, 1),
  probeTimeout: fc.constantFrom(1500, 4000, 60_000),
  resetAfter: fc.constantFrom(0, 3000, 30_000),
  /** the memory store's (the Redis store's TTLs run on real time: never reached under TestClock) */
  idleTimeToLive: fc.constantFrom(300_000, 3_600_000)
})

export type ConfigArb = typeof configArb extends fc.Arbitrary<infer T> ? T : never

export interface Running {
  readonly fiber: Fiber.RuntimeFiber<Admission, never>
  readonly gate: Deferred.Deferred<string, Boom | NotFound>
  readonly ticket: ModelTicket | undefined
  readonly probe: boolean
}

export const decisionOf = (exit: Exit.Exit<unknown, unknown>): Admission => {
  if (Exit.isSuccess(exit)) return { decision: "admitted", retryAfter: undefined }
  const error = Cause.failureOption(exit.cause)
  if (Option.isSome(error) && (error.value as any)?._tag === "CircuitBreakerError") {
    const e = error.value as CircuitBreaker.CircuitBreakerError
    return {
      decision: e.reason._tag as Decision,
      retryAfter: e.retryAfter === undefined ? undefined : Duration.toMillis(e.retryAfter)
    }
  }
  return { decision: "admitted", retryAfter: undefined }
}

/** The sweep interval of a memory store with this idle time to live (see memoryStore.ts). */
export const sweepInterval = (idleTimeToLive: number) => Math.max(1000, Math.floor(idleTimeToLive / 2))

/**
 * Runs one generated scenario against a breaker (made by `make` from the scenario's options) and
 * the reference model; after every command the breaker must agree with the model (state, mode,
 * when a break ends, probes running, every admission and when a rejection says to come back) and
 * half-open must never run more than `probes` probes. `awaitAdmission` waits until a started call
 * reached its admission (it either started or ended): the stores answer in different numbers of
 * steps. `sweeps`: the store is the memory store with the config's idle time to live, made with the
 * breaker (its sweeps are modelled).
 */
export const runModel = (
  cfg: ConfigArb,
  commands: ReadonlyArray<Command>,
  make: (options: CircuitBreaker.CircuitBreaker.Options) => Effect.Effect<CircuitBreaker.CircuitBreaker, unknown, Scope.Scope>,
  awaitAdmission: (started: Deferred.Deferred<void>, fiber: Fiber.Fiber<Admission>) => Effect.Effect<void>,
  sweeps = false
) =>
  Effect.gen(function*() {
    const durations = cfg.breaks === "growing" ? [1000, 2000, 4000, 8000] : cfg.breaks === "long" ? [3_600_000] : [3000]
    const breaker = yield* make({
      tripPolicy: CircuitBreaker.consecutive(cfg.failures),
      openDuration: cfg.breaks === "growing" ? Schedule.exponential("1 second") : cfg.breaks === "long" ? "1 hour" : "3 seconds",
      maxOpenDuration: cfg.breaks === "growing" ? "8 seconds" : undefined,
      openDurationResetAfter: Duration.millis(cfg.resetAfter),
      halfOpen: {
        probes: cfg.probes,
        probeTimeout: Duration.millis(cfg.probeTimeout),
        ...(cfg.failureRate === undefined ? { successThreshold: cfg.successThreshold } : { failureRateThreshold: cfg.failureRate })
      },
      classify: CircuitBreaker.ignoreTags("NotFound")
    })
    const start0 = yield* TestClock.currentTimeMillis
    const model = new Model({
      failures: cfg.failures,
      durations,
      cap: cfg.breaks === "growing" ? 8000 : durations[0]!,
      resetAfter: cfg.resetAfter,
      probes: cfg.probes,
      successThreshold: cfg.successThreshold,
      probeTimeout: cfg.probeTimeout,
      failureRate: cfg.failureRate,
      sweep: sweeps ? { idleTimeToLive: cfg.idleTimeToLive, interval: sweepInterval(cfg.idleTimeToLive) } : undefined
    }, start0)
    let nextSweep = start0 + sweepInterval(cfg.idleTimeToLive)
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
      const actual: Admission = admitted ? { decision: "admitted", retryAfter: undefined } : yield* Fiber.join(fiber)
      assert.deepStrictEqual(actual, expected, "admission")
      if (!admitted) return undefined
      const r: Running = { fiber, gate, ticket, probe: ticket !== undefined && ticket.lease !== 0 }
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
      assert.strictEqual(state.mode, expected.mode, "mode")
      if (state._tag === "Open") {
        assert.strictEqual(state.until, expected.until, "until")
        assert.strictEqual(state.since, expected.since, "since (a timed-out probe reopens from its lease's end)")
      }
      if (state._tag === "HalfOpen") {
        assert.strictEqual(state.probes, expected.probes, "probes in flight")
        assert.strictEqual(state.failures, expected.failures, "failed probes (sampling)")
        assert.isAtMost(state.probes, cfg.probes)
        // probes actually running and still holding a live lease
        const s = model.state
        const live = running.filter((r) =>
          r.probe && s._tag === "HalfOpen" && (s.leases.get(r.ticket!.lease) ?? -Infinity) > t
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
        case "Advance": {
          const to = (yield* now) + command.millis
          // the memory store's sweeps between (they run at their own times, before anything else at the same instant)
          for (; nextSweep <= to; nextSweep += sweepInterval(cfg.idleTimeToLive)) model.sweep(nextSweep)
          yield* TestClock.adjust(Duration.millis(command.millis))
          break
        }
        case "Isolate":
          yield* breaker.isolate()
          model.isolate(yield* now)
          break
        case "Reset":
          yield* breaker.reset()
          model.reset(yield* now)
          break
        case "SetMode":
          yield* breaker.setMode(command.mode)
          model.setMode(command.mode)
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
