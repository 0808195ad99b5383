import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Context, Data, Effect, Exit, Fiber, FiberId, Layer, Option, Queue, Ref, Schedule, Scope, Stream, TestClock } from "effect"
import { AdaptiveLimit, Bulkhead, CircuitBreaker, Errors, Health } from "effect-resilience"
import { describeError, errorMessage, sanitize } from "../src/internal/health/message.js"
import { MAX_TRACKED_KEYS, trackCircuits } from "../src/internal/health/sources.js"
import { eventually } from "./utils/fibers.js"

class Down extends Data.TaggedError("Down")<{ readonly reason: string }> {
  override get message() {
    return `down: ${this.reason}`
  }
}

/** A check whose result the test switches: "up" | "down" | "degraded". */
const switchable = (initial: "up" | "down" | "degraded") =>
  Effect.gen(function*() {
    const state = yield* Ref.make(initial)
    const runs = yield* Ref.make(0)
    const check = Ref.update(runs, (n) => n + 1).pipe(
      Effect.zipRight(Ref.get(state)),
      Effect.flatMap((s) =>
        s === "up"
          ? Effect.void
          : s === "degraded"
          ? Effect.succeed(Health.degraded("slow replica"))
          : Effect.fail(new Down({ reason: "connection refused" }))
      )
    )
    return { state, runs, check }
  })


const byName = (report: Health.Report, name: string) => {
  const c = report.checks.find((c) => c.name === name)
  assert.isDefined(c, `check ${name} in report`)
  return c!
}

describe("Health service", () => {
  it.scoped("issue 20: the service carries TypeId (isHealth); the layer's service is the Tag's", () =>
    Effect.gen(function*() {
      const health = yield* Health.make()
      assert.isTrue(Health.isHealth(health))
      assert.strictEqual(health[Health.TypeId], Health.TypeId)
      assert.isFalse(Health.isHealth({ report: Effect.void }))
      assert.isFalse(Health.isHealth(null))
      const fromLayer = yield* Effect.provide(Health.Health, Health.layer())
      assert.isTrue(Health.isHealth(fromLayer))
      // the members are bound: they can be passed around on their own
      const { refresh, register, result } = health
      yield* register({ name: "db", check: Effect.void })
      assert.strictEqual((yield* refresh("db")).status, "healthy")
      assert.isTrue(Option.isSome(yield* result("db")))
    }))

  it.scoped("runs a check as soon as it is registered; report waits for the first run", () =>
    Effect.gen(function*() {
      const health = yield* Health.make()
      const db = yield* switchable("up")
      yield* health.register({ name: "db", check: db.check })
      const report = yield* health.report
      assert.strictEqual(report.status, "healthy")
      const c = byName(report, "db")
      assert.isFalse(c.pending)
      assert.strictEqual(c.status, "healthy")
      assert.isTrue(c.critical)
      assert.strictEqual(c.consecutiveFailures, 0)
      assert.strictEqual(c.lastCheckedAt, yield* TestClock.currentTimeMillis)
      assert.strictEqual(yield* Ref.get(db.runs), 1)
    }))

  it.scoped("aggregates: critical failure → unhealthy, non-critical failure or degraded → degraded", () =>
    Effect.gen(function*() {
      const health = yield* Health.make()
      const db = yield* switchable("up")
      const cache = yield* switchable("down")
      yield* health.register({ name: "db", check: db.check, critical: "critical" })
      yield* health.register({ name: "cache", check: cache.check, critical: "non-critical" })
      let report = yield* health.report
      assert.strictEqual(report.status, "degraded")
      assert.strictEqual(byName(report, "cache").status, "unhealthy")
      assert.isFalse(byName(report, "cache").critical)
      assert.strictEqual(byName(report, "cache").message, "Down: down: connection refused")

      yield* Ref.set(db.state, "degraded")
      yield* Ref.set(cache.state, "up")
      report = yield* health.refresh()
      assert.strictEqual(report.status, "degraded")
      assert.strictEqual(byName(report, "db").status, "degraded")
      assert.strictEqual(byName(report, "db").message, "slow replica")

      yield* Ref.set(db.state, "down")
      report = yield* health.refresh("db")
      assert.strictEqual(report.status, "unhealthy")
      assert.strictEqual(byName(report, "db").consecutiveFailures, 2, "degraded then down: two runs not healthy")
    }))

  it("aggregate is a pure function of the results", () => {
    const r = (status: Health.Status, critical: boolean): Health.CheckResult => ({
      name: `${status}-${critical}`,
      status,
      critical,
      liveness: false,
      readiness: true,
      pending: false,
      latencyMillis: 0,
      lastCheckedAt: 0,
      consecutiveFailures: 0,
      message: undefined
    })
    assert.strictEqual(Health.aggregate([]), "healthy")
    assert.strictEqual(Health.aggregate([r("healthy", true), r("healthy", false)]), "healthy")
    assert.strictEqual(Health.aggregate([r("unhealthy", false)]), "degraded")
    assert.strictEqual(Health.aggregate([r("degraded", true)]), "degraded")
    assert.strictEqual(Health.aggregate([r("degraded", false), r("unhealthy", true)]), "unhealthy")
  })

  it.scoped("a run that exceeds its timeout is interrupted and reported unhealthy with its latency", () =>
    Effect.gen(function*() {
      const health = yield* Health.make()
      const interrupted = yield* Ref.make(false)
      const slow = Effect.never.pipe(Effect.onInterrupt(() => Ref.set(interrupted, true)))
      yield* health.register({ name: "slow", check: slow, timeout: "1 second" })
      const fiber = yield* Effect.fork(health.report)
      yield* TestClock.adjust("999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "report waits for the first run")
      yield* TestClock.adjust("1 millis")
      const report = yield* Fiber.join(fiber)
      const c = byName(report, "slow")
      assert.strictEqual(report.status, "unhealthy")
      assert.strictEqual(c.latencyMillis, 1000)
      assert.strictEqual(c.message, "TimeoutError: Timed out after 1s (health:slow)")
      assert.isTrue(yield* Ref.get(interrupted))
    }))

  it.scoped("the monitor re-runs each check on its interval; results, failures and times are cached", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "10 seconds" })
      const db = yield* switchable("up")
      const search = yield* switchable("up")
      yield* health.register({ name: "db", check: db.check })
      yield* health.register({ name: "search", check: search.check, interval: "3 seconds" })
      yield* health.report
      assert.strictEqual(yield* Ref.get(db.runs), 1)

      yield* Ref.set(db.state, "down")
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual(yield* Ref.get(db.runs), 1, "not before the layer's interval")
      assert.strictEqual(yield* Ref.get(search.runs), 4, "search every 3 seconds: at 0, 3, 6, 9")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Ref.get(db.runs), 2)
      let c = Option.getOrThrow(yield* health.result("db"))
      assert.strictEqual(c.status, "unhealthy")
      assert.strictEqual(c.consecutiveFailures, 1)
      assert.strictEqual(c.lastCheckedAt, 10_000)

      yield* TestClock.adjust("10 seconds")
      c = Option.getOrThrow(yield* health.result("db"))
      assert.strictEqual(c.consecutiveFailures, 2)
      yield* Ref.set(db.state, "up")
      yield* TestClock.adjust("10 seconds")
      c = Option.getOrThrow(yield* health.result("db"))
      assert.strictEqual(c.status, "healthy")
      assert.strictEqual(c.consecutiveFailures, 0)
      assert.strictEqual(c.lastCheckedAt, 30_000)
    }))

  it.scoped("an interval may be any Schedule", () =>
    Effect.gen(function*() {
      const health = yield* Health.make()
      const db = yield* switchable("up")
      // two more runs, 1 second apart, then stop
      yield* health.register({ name: "db", check: db.check, interval: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(2))) })
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Ref.get(db.runs), 3)
    }))

  it.scoped("changes: the current report, then one per status change (not per run)", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 second" })
      const db = yield* switchable("up")
      const seen = yield* Queue.unbounded<Health.Report>()
      yield* health.changes.pipe(Stream.runForEach((r) => Queue.offer(seen, r)), Effect.forkScoped)
      const initial = yield* Queue.take(seen)
      assert.strictEqual(initial.status, "healthy", "no checks yet")
      yield* health.register({ name: "db", check: db.check })
      yield* health.report
      yield* TestClock.adjust("3 seconds") // three healthy runs: no change
      yield* Ref.set(db.state, "down")
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("2 seconds") // still down: no change
      yield* Ref.set(db.state, "up")
      yield* TestClock.adjust("1 second")
      const reports = Chunk.toReadonlyArray(yield* Queue.takeAll(seen))
      const summary = reports.map((r) => `${r.status}:${r.checks.map((c) => `${c.name}=${c.pending ? "pending" : c.status}`).join(",")}`)
      assert.deepStrictEqual(summary, [
        "unhealthy:db=pending", // registered, not run yet
        "healthy:db=healthy",
        "unhealthy:db=unhealthy",
        "healthy:db=healthy"
      ])
    }))

  it.scoped("liveness and readiness are views of the same checks", () =>
    Effect.gen(function*() {
      const health = yield* Health.make()
      const loop = yield* switchable("up")
      const db = yield* switchable("down")
      const warmup = yield* switchable("down")
      yield* health.register({ name: "event-loop", check: loop.check, liveness: true })
      yield* health.register({ name: "db", check: db.check })
      yield* health.register({ name: "warmup", check: warmup.check, liveness: false, readiness: false, critical: false })
      const live = yield* health.liveness
      const ready = yield* health.readiness
      const all = yield* health.report
      assert.deepStrictEqual(live.checks.map((c) => c.name), ["event-loop"])
      assert.strictEqual(live.status, "healthy", "a dependency down does not make the process not live")
      assert.deepStrictEqual(ready.checks.map((c) => c.name), ["event-loop", "db"])
      assert.strictEqual(ready.status, "unhealthy")
      assert.strictEqual(all.checks.length, 3)
      assert.strictEqual(yield* Ref.get(db.runs), 1, "views share one cached result per check")
    }))

  it.scoped("a trigger runs the check at once", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const db = yield* switchable("up")
      const trigger = yield* Queue.unbounded<void>()
      yield* health.register({ name: "db", check: db.check, trigger: Stream.fromQueue(trigger) })
      yield* health.report
      yield* Ref.set(db.state, "down")
      yield* Queue.offer(trigger, undefined)
      const result = yield* eventually(health.result("db"), (r) => Option.isSome(r) && r.value.status === "unhealthy")
      assert.strictEqual(Option.getOrThrow(result).consecutiveFailures, 1)
      assert.strictEqual(yield* Ref.get(db.runs), 2, "one run at registration, one for the trigger; no time passed")
    }))

  it.scoped("refresh during a run waits for a fresh run", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const runs = yield* Ref.make(0)
      const check = Ref.update(runs, (n) => n + 1).pipe(Effect.zipRight(Effect.sleep("100 millis")))
      yield* health.register({ name: "slow", check, timeout: "1 second" })
      yield* Effect.yieldNow()
      const a = yield* Effect.fork(health.refresh("slow"))
      const b = yield* Effect.fork(health.refresh("slow"))
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(a)
      yield* Fiber.join(b)
      assert.strictEqual(yield* Ref.get(runs), 2, "the first run, then one queued run for both refreshes")
    }))

  it.effect("unregisters a check when its scope closes and stops monitoring when the service's scope closes", () =>
    Effect.gen(function*() {
      const db = yield* switchable("up")
      const other = yield* switchable("up")
      yield* Effect.gen(function*() {
        const health = yield* Health.make({ interval: "1 second" })
        yield* Effect.scoped(Effect.gen(function*() {
          yield* health.register({ name: "db", check: db.check })
          yield* health.report
        }))
        assert.deepStrictEqual(yield* health.names, [])
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* Ref.get(db.runs), 1, "no runs after unregistering")
        yield* health.register({ name: "other", check: other.check })
        yield* health.report
      }).pipe(Effect.scoped)
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Ref.get(other.runs), 1, "no runs after the service's scope closed")
    }))

  it.scoped("rejects duplicate names and invalid options with InvalidOptionsError", () =>
    Effect.gen(function*() {
      const health = yield* Health.make()
      yield* health.register({ name: "db", check: Effect.void })
      const errors = yield* Effect.all([
        Effect.flip(health.register({ name: "db", check: Effect.void })),
        Effect.flip(health.register({ name: "x", check: Effect.void, timeout: "-1 second" })),
        Effect.flip(health.register({ name: "y", check: Effect.void, critical: "maybe" as any })),
        Effect.flip(health.register({ name: "", check: Effect.void }))
      ])
      assert.deepStrictEqual(errors.map((e) => [e._tag, e.option]), [
        ["InvalidOptionsError", "name"],
        ["InvalidOptionsError", "timeout"],
        ["InvalidOptionsError", "critical"],
        ["InvalidOptionsError", "name"]
      ])
      assert.include(errors[0]!.message, "a name not already registered")
      const badLayer = yield* Effect.flip(Health.make({ interval: "soon" as any }))
      assert.strictEqual(badLayer.option, "interval")
    }))

  it.effect("Health.layer, layerCheck and the accessors", () =>
    Effect.gen(function*() {
      const live = Layer.mergeAll(
        Health.layerCheck({ name: "db", check: Effect.void }),
        Health.layerCheck({ name: "search", check: Effect.fail(new Down({ reason: "x" })), critical: false })
      ).pipe(Layer.provideMerge(Health.layer()))
      const [report, ready, liveness] = yield* Effect.all([Health.report, Health.readiness, Health.liveness]).pipe(
        Effect.provide(live)
      )
      assert.strictEqual(report.status, "degraded")
      assert.strictEqual(ready.status, "degraded")
      assert.strictEqual(liveness.checks.length, 0)
    }))

  it.effect("toJson: ISO times, per-check fields, no details on request", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2024, 0, 1))
      const report = yield* Effect.scoped(Effect.gen(function*() {
        const health = yield* Health.make()
        yield* health.register({ name: "db", check: Effect.fail(new Down({ reason: "refused" })) })
        return yield* health.report
      }))
      const json = Health.toJson(report)
      assert.deepStrictEqual(json, {
        status: "unhealthy",
        checkedAt: "2024-01-01T00:00:00.000Z",
        checks: {
          db: {
            status: "unhealthy",
            critical: true,
            latencyMs: 0,
            lastCheckedAt: "2024-01-01T00:00:00.000Z",
            consecutiveFailures: 1,
            message: "Down: down: refused"
          }
        }
      })
      assert.deepStrictEqual(Health.toJson(report, { details: false }), { status: "unhealthy" })
    }))
})

describe("Health messages", () => {
  it.scoped("error messages are bounded and never contain request secrets", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ maxMessageLength: 120 })
      const secret = "s3cr3t-value"
      const leaky = new Error(
        `GET https://alice:${secret}@api.example.com/v1/charges?api_key=${secret}&x=1 failed; ` +
          `Authorization: Bearer ${secret}; cookie: session=${secret}; password=${secret} ` + "x".repeat(500)
      )
      yield* health.register({ name: "api", check: Effect.fail(leaky) })
      const message = byName(yield* health.report, "api").message!
      assert.notInclude(message, secret)
      assert.include(message, "https://api.example.com/v1/charges?…")
      assert.isAtMost(message.length, 120)
      assert.isTrue(message.endsWith("…"))
    }))

  it("sanitize removes credentials, query strings, tokens and control characters", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["connect to redis://:hunter2@cache:6379/0 refused", "connect to redis://cache:6379/0 refused"],
      ["GET http://h/p?token=abc#frag", "GET http://h/p?…"],
      [`token ${jwt} expired`, "token [redacted] expired"],
      ["Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [redacted]"],
      ["x-api-key=abcdef, secret: \"quoted value\"", "x-api-key=[redacted], secret: [redacted]"],
      ["line1\nline2\t\u0000end", "line1 line2 end"]
    ]
    for (const [input, expected] of cases) assert.strictEqual(sanitize(input), expected)
    assert.strictEqual(sanitize("y".repeat(1_000_000), 50).length, 50)
  })

  it("describeError names tagged errors, causes and plain values", () => {
    assert.strictEqual(describeError(new Down({ reason: "r" })), "Down: down: r")
    assert.strictEqual(describeError("plain"), "plain")
    assert.strictEqual(describeError({ _tag: "NoMessage" }), "NoMessage")
    assert.strictEqual(describeError(42), "42")
    assert.strictEqual(errorMessage(new Errors.InvalidOptionsError({ module: "M", option: "o", value: 1, expected: "e" })), "InvalidOptionsError: M: invalid option \"o\": expected e, got 1")
  })
})

describe("PolicyRegistry", () => {
  it.scoped("lists named policies, runs their controls and feeds the health report", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(Health.layer())
      const registry = yield* Effect.provide(Health.PolicyRegistry, ctx)
      const health = yield* Effect.provide(Health.Health, ctx)
      let size = 4
      let state = "Closed"
      yield* registry.register({
        name: "payments",
        kind: "Custom",
        info: Effect.sync(() => ({ state, size })),
        isolate: () => Effect.sync(() => {
          state = "Isolated"
        }),
        resize: (n) => Effect.sync(() => {
          size = n
        }),
        health: {
          name: "policy:payments",
          check: Effect.sync(() => state === "Closed" ? Health.healthy() : Health.degraded(`circuit ${state}`)),
          interval: "1 hour"
        }
      })
      const list = yield* registry.list
      assert.deepStrictEqual(list, [{ state: "Closed", size: 4, name: "payments", kind: "Custom", controls: ["isolate", "resize"] }])
      assert.strictEqual((yield* health.report).status, "healthy")

      const isolated = yield* registry.isolate("payments")
      assert.strictEqual(isolated.state, "Isolated")
      assert.strictEqual((yield* health.refresh()).status, "degraded")

      const resized = yield* registry.resize("payments", 8)
      assert.strictEqual(resized.size, 8)

      const unsupported = yield* Effect.flip(registry.reset("payments"))
      assert.strictEqual(unsupported._tag, "PolicyRegistryError")
      assert.strictEqual((unsupported as Health.PolicyRegistryError).reason, "Unsupported")
      const missing = yield* Effect.flip(registry.get("nope"))
      assert.strictEqual(missing.reason, "NotFound")
      assert.isTrue(Errors.isResilienceError(missing))
      const badSize = yield* Effect.flip(registry.resize("payments", -1))
      assert.strictEqual(badSize._tag, "InvalidOptionsError")
      const dup = yield* Effect.exit(registry.register({ name: "payments", kind: "Custom" }))
      assert.isTrue(Exit.isFailure(dup))
    }))
})

describe("Health and circuit breakers", () => {
  const failing = Effect.fail(new Down({ reason: "upstream" }))

  it.scoped("fromCircuitBreaker: closed → healthy, open → whenOpen, half-open → degraded; follows transitions at once", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const breaker = yield* CircuitBreaker.make({ name: "payments", tripPolicy: CircuitBreaker.consecutive(2), openDuration: "10 seconds" })
      yield* health.register(Health.fromCircuitBreaker(breaker, { whenOpen: "unhealthy" }))
      assert.strictEqual((yield* health.report).status, "healthy")
      assert.strictEqual(byName(yield* health.report, "circuit:payments").status, "healthy")

      yield* Effect.exit(breaker(failing))
      yield* Effect.exit(breaker(failing))
      // no time passes: the transition itself re-runs the check
      const open = yield* eventually(health.result("circuit:payments"), (r) => Option.isSome(r) && r.value.status === "unhealthy")
      assert.strictEqual(Option.getOrThrow(open).message, "circuit open: default (retry in 10s)")
      assert.strictEqual((yield* health.report).status, "unhealthy")

      yield* TestClock.adjust("10 seconds")
      const halfOpen = yield* health.refresh("circuit:payments")
      assert.strictEqual(byName(halfOpen, "circuit:payments").status, "degraded")
      assert.strictEqual(byName(halfOpen, "circuit:payments").message, "circuit half-open: default")

      yield* breaker(Effect.void)
      const closed = yield* eventually(health.result("circuit:payments"), (r) => Option.isSome(r) && r.value.status === "healthy")
      assert.isUndefined(Option.getOrThrow(closed).message)
    }))

  it.scoped("keyed circuits are watched through transitions and the keys given", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const breaker = yield* CircuitBreaker.make({ name: "per-host", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      yield* breaker.isolate("known-host")
      yield* health.register(Health.fromCircuitBreaker(breaker, { keys: ["known-host"], whenOpen: "degraded", critical: true }))
      let c = byName(yield* health.report, "circuit:per-host")
      assert.strictEqual(c.status, "degraded")
      assert.strictEqual(c.message, "circuit open: known-host (isolated)")

      yield* Effect.yieldNow()
      yield* Effect.exit(breaker.execute(failing, { key: "a.example" }))
      c = Option.getOrThrow(yield* eventually(health.result("circuit:per-host"), (r) => Option.isSome(r) && (r.value.message ?? "").includes("a.example")))
      assert.strictEqual(c.message, "circuit open: a.example (retry in 1m), known-host (isolated)")
      assert.strictEqual((yield* health.report).status, "degraded", "whenOpen: degraded keeps the service up")

      yield* breaker.reset("known-host")
      yield* breaker.reset("a.example")
      c = Option.getOrThrow(yield* eventually(health.result("circuit:per-host"), (r) => Option.isSome(r) && r.value.status === "healthy"))
      assert.strictEqual(c.consecutiveFailures, 0)
    }))

  it("fromCircuitBreaker rejects an invalid whenOpen", () =>
    Effect.runSync(Effect.scoped(Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" })
      assert.throws(() => Health.fromCircuitBreaker(breaker, { whenOpen: "down" as any }), /whenOpen/)
    }))))

  it.scoped("registerCircuitBreaker and registerBulkhead: listed, controlled through the registry, feeding the report", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
      const registry = Context.get(ctx, Health.PolicyRegistry)
      const health = Context.get(ctx, Health.Health)
      const breaker = yield* CircuitBreaker.make({ name: "payments", tripPolicy: CircuitBreaker.consecutive(3), openDuration: "30 seconds" })
      const bulkhead = yield* Bulkhead.make({ name: "exports", maxConcurrent: 2, maxQueue: 5 })
      yield* Health.registerCircuitBreaker(breaker, { health: { whenOpen: "unhealthy" } }).pipe(Effect.provide(ctx))
      yield* Health.registerBulkhead(bulkhead).pipe(Effect.provide(ctx))
      yield* breaker(Effect.void)

      const list = yield* registry.list
      assert.deepStrictEqual(list.map((p) => [p.name, p.kind, p.controls]), [
        ["payments", "CircuitBreaker", ["isolate", "reset", "setMode"]],
        ["exports", "Bulkhead", ["resize"]]
      ])
      assert.strictEqual(list[0]!.state, "Closed")
      assert.deepStrictEqual((list[0]!.stats as any).successes, 1)
      assert.deepStrictEqual(list[1], { name: "exports", kind: "Bulkhead", controls: ["resize"], maxConcurrent: 2, maxQueue: 5, active: 0, queued: 0, partitions: 0 })
      assert.strictEqual((yield* health.report).status, "healthy")

      const isolated = yield* registry.isolate("payments")
      assert.strictEqual(isolated.state, "Isolated")
      yield* eventually(health.result("circuit:payments"), (r) => Option.isSome(r) && r.value.status === "unhealthy")
      assert.strictEqual((yield* health.report).status, "unhealthy")
      yield* registry.reset("payments")
      yield* eventually(health.result("circuit:payments"), (r) => Option.isSome(r) && r.value.status === "healthy")

      const resized = yield* registry.resize("exports", 6)
      assert.strictEqual(resized.maxConcurrent, 6)
      const invalid = yield* Effect.flip(registry.resize("exports", 0))
      assert.strictEqual(invalid._tag, "InvalidOptionsError")
    }))
})

describe("Health: an adaptive bulkhead in the registry (issue 24)", () => {
  it.scoped("its entry shows the algorithm, the limit in force and the latencies measured", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
      const registry = Context.get(ctx, Health.PolicyRegistry)
      const bulkhead = yield* Bulkhead.make({
        name: "search",
        maxConcurrent: AdaptiveLimit.aimd({ initialLimit: 4, minLimit: 1, maxLimit: 8 })
      })
      yield* Health.registerBulkhead(bulkhead).pipe(Effect.provide(ctx))
      yield* Effect.sleep("10 millis").pipe(bulkhead, Effect.fork, Effect.zipLeft(TestClock.adjust("10 millis")), Effect.flatMap(Fiber.join))
      const [entry] = yield* registry.list
      assert.strictEqual(entry!.kind, "Bulkhead")
      assert.strictEqual(entry!.maxConcurrent, (yield* bulkhead.stats()).maxConcurrent)
      const adaptive = entry!.adaptive as Record<string, unknown>
      assert.strictEqual(adaptive.algorithm, "Aimd")
      assert.strictEqual(adaptive.limit, entry!.maxConcurrent)
      assert.strictEqual(adaptive.latencyMillis, 10)
      assert.strictEqual(adaptive.samples, 1)
      assert.strictEqual(adaptive.drops, 0)
    }))
})

describe("Health outcomes and toJson", () => {
  it.scoped("a check may return healthy, degraded or unhealthy outcomes; an unknown status counts as unhealthy", () =>
    Effect.gen(function*() {
      assert.deepInclude(Health.unhealthy("disk full"), { status: "unhealthy", message: "disk full" })
      assert.deepInclude(Health.healthy(), { status: "healthy", message: undefined })
      const health = yield* Health.make()
      yield* health.register({ name: "disk", check: Effect.succeed(Health.unhealthy("disk full")), critical: true })
      yield* health.register({ name: "odd", check: Effect.succeed({ ...Health.healthy(), status: "bogus" as any }), critical: false })
      const report = yield* health.report
      assert.deepInclude(byName(report, "disk"), { status: "unhealthy", critical: true, message: "disk full", consecutiveFailures: 1 })
      assert.deepInclude(byName(report, "odd"), { status: "unhealthy", critical: false, message: undefined })
      assert.strictEqual(report.status, "unhealthy", "critical: true makes an unhealthy check fail the aggregate")
    }))

  it.scoped("a check not run yet is pending: unhealthy, 'not checked yet', shown as pending with no last-check time", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2024, 0, 1))
      const health = yield* Health.make()
      yield* health.register({ name: "slow", check: Effect.never, timeout: "1 hour" })
      yield* health.register({ name: "fast", check: Effect.void })
      yield* eventually(health.result("fast"), (r) => Option.isSome(r) && !r.value.pending)
      const pending = Option.getOrThrow(yield* health.result("slow"))
      assert.deepStrictEqual(pending, {
        name: "slow",
        status: "unhealthy",
        critical: true,
        liveness: false,
        readiness: true,
        pending: true,
        latencyMillis: 0,
        lastCheckedAt: undefined,
        consecutiveFailures: 0,
        message: "not checked yet"
      })
      const json = Health.toJson({ status: "unhealthy", checkedAt: Date.UTC(2024, 0, 1), checks: [pending, Option.getOrThrow(yield* health.result("fast"))] })
      assert.deepStrictEqual(json, {
        status: "unhealthy",
        checkedAt: "2024-01-01T00:00:00.000Z",
        checks: {
          slow: {
            status: "unhealthy",
            critical: true,
            pending: true,
            latencyMs: 0,
            lastCheckedAt: null,
            consecutiveFailures: 0,
            message: "not checked yet"
          },
          fast: {
            status: "healthy",
            critical: true,
            latencyMs: 0,
            lastCheckedAt: "2024-01-01T00:00:00.000Z",
            consecutiveFailures: 0
          }
        }
      })
      assert.notProperty((json.checks as any).fast, "message", "no message key for a check without one")
      assert.notProperty((json.checks as any).fast, "pending")
    }))
})

describe("Health messages: describeError and sanitize", () => {
  it("describeError: tag and message of errors, interruptions, plain values", () => {
    assert.strictEqual(describeError(Cause.interrupt(FiberId.none)), "interrupted")
    assert.strictEqual(describeError(Cause.fail(new Down({ reason: "r" }))), "Down: down: r")
    assert.strictEqual(describeError(null), "null")
    assert.strictEqual(describeError(undefined), "undefined")
    assert.strictEqual(describeError(new Error("boom")), "boom", "no tag: the message alone")
    assert.strictEqual(describeError(new TypeError("")), "TypeError", "no message: the error's name")
    assert.strictEqual(describeError({}), "error")
    assert.strictEqual(describeError({ _tag: 7 }), "error", "a tag that is not a string is ignored")
    assert.strictEqual(describeError({ _tag: 7, message: "boom" }), "boom")
    assert.strictEqual(describeError({ _tag: "X", message: ["boom"] }), "X", "a message that is not a string is ignored")
    assert.strictEqual(describeError({ message: ["boom"] }), "error")
    assert.strictEqual(describeError({ _tag: "X", message: "" }), "X", "an empty message: the tag")
    assert.strictEqual(describeError({ _tag: "Down", message: "Down: refused" }), "Down: refused", "the tag is not repeated")
    assert.strictEqual(describeError({ _tag: "X", message: "failed X" }), "X: failed X")
  })

  it("sanitize: cookies redacted, whitespace collapsed and trimmed, bounded at exactly maxLength", () => {
    assert.strictEqual(sanitize("sent cookie: theme=dark; lang=en"), "sent cookie: [redacted]")
    assert.strictEqual(sanitize("a    b"), "a b")
    assert.strictEqual(sanitize("\n  boom  \n"), "boom")
    assert.strictEqual(sanitize("x".repeat(50), 50), "x".repeat(50), "a message of exactly maxLength is kept whole")
    assert.strictEqual(sanitize("x".repeat(51), 50), "x".repeat(49) + "…")
    // only the first 8 × maxLength characters are looked at
    assert.strictEqual(sanitize(" ".repeat(400) + "tail", 50), "")
    assert.strictEqual(sanitize(" ".repeat(396) + "tail", 50), "tail")
    assert.strictEqual(sanitize(" ".repeat(397) + "tail", 50), "tai")
  })
})

describe("Health.register validation", () => {
  it.scoped("names the module, option and allowed range for every invalid check", () =>
    Effect.gen(function*() {
      const health = yield* Health.make()
      yield* health.register({ name: "db", check: Effect.void })
      const messages = yield* Effect.forEach([
        null,
        "db",
        { name: "db", check: Effect.void },
        { name: "x", check: Effect.void, interval: "-1 second" },
        { name: "y", check: Effect.void, critical: "maybe" },
        { name: "z", check: Effect.void, trigger: [1, 2] }
      ], (check) => Effect.map(Effect.flip(health.register(check as unknown as Health.Check)), (e) => e.message))
      assert.deepStrictEqual(messages, [
        "Health.register: invalid option \"check\": expected a check object, got null",
        "Health.register: invalid option \"check\": expected a check object, got \"db\"",
        "Health.register: invalid option \"name\": expected a name not already registered, got \"db\"",
        "Health.register: invalid option \"interval\": expected a finite duration > 0, got \"-1 second\"",
        "Health.register: invalid option \"critical\": expected a boolean, \"critical\" or \"non-critical\", got \"maybe\"",
        "Health.register: invalid option \"trigger\": expected a Stream, got [1,2]"
      ])
    }))

  it.effect("registering with a service whose scope has closed fails", () =>
    Effect.gen(function*() {
      const health = yield* Effect.scoped(Health.make())
      const error = yield* Effect.flip(Effect.scoped(health.register({ name: "db", check: Effect.void })))
      assert.strictEqual(error.message, "Health.register: invalid option \"name\": expected a live Health service (it was closed), got \"db\"")
      assert.deepStrictEqual(yield* health.names, [])
    }))
})

describe("PolicyRegistry details", () => {
  it.scoped("errors name the policy and the operation; entries without a control are Unsupported for it", () =>
    Effect.gen(function*() {
      const registry = yield* Effect.provide(Health.PolicyRegistry, Health.layerPolicyRegistry)
      yield* registry.register({ name: "plain", kind: "Custom" })
      const errors = yield* Effect.all([
        Effect.flip(registry.get("nope")),
        Effect.flip(registry.isolate("plain")),
        Effect.flip(registry.reset("plain", "k")),
        Effect.flip(registry.resize("plain", 2))
      ])
      assert.deepStrictEqual(errors.map((e) => [e._tag, (e as Health.PolicyRegistryError).operation, (e as Health.PolicyRegistryError).reason, e.message]), [
        ["PolicyRegistryError", "get", "NotFound", "No policy named \"nope\" is registered"],
        ["PolicyRegistryError", "isolate", "Unsupported", "Policy \"plain\" does not support isolate"],
        ["PolicyRegistryError", "reset", "Unsupported", "Policy \"plain\" does not support reset"],
        ["PolicyRegistryError", "resize", "Unsupported", "Policy \"plain\" does not support resize"]
      ])
    }))

  it.scoped("info: none gives only name, kind and controls; a failing info shows as unavailable", () =>
    Effect.gen(function*() {
      const registry = yield* Effect.provide(Health.PolicyRegistry, Health.layerPolicyRegistry)
      yield* registry.register({ name: "plain", kind: "Custom" })
      yield* registry.register({ name: "failing", kind: "Custom", info: Effect.fail("store down") as any, reset: () => Effect.void })
      assert.deepStrictEqual(yield* registry.list, [
        { name: "plain", kind: "Custom", controls: [] },
        { error: "unavailable", name: "failing", kind: "Custom", controls: ["reset"] }
      ])
    }))

  it.scoped("register validates name and kind, rejects duplicates, and unregisters when its scope closes", () =>
    Effect.gen(function*() {
      const registry = yield* Effect.provide(Health.PolicyRegistry, Health.layerPolicyRegistry)
      const messages = yield* Effect.forEach(
        [undefined, { name: "", kind: "Custom" }, { name: "p", kind: "" }],
        (entry) => Effect.map(Effect.flip(registry.register(entry as any)), (e) => e.message)
      )
      assert.deepStrictEqual(messages, [
        "Health.PolicyRegistry.register: invalid option \"entry\": expected a policy entry ({ name, kind, … }), got undefined",
        "Health.PolicyRegistry.register: invalid option \"name\": expected a non-empty string, got \"\"",
        "Health.PolicyRegistry.register: invalid option \"kind\": expected a non-empty string, got \"\""
      ])
      const scope = yield* Scope.make()
      yield* registry.register({ name: "p", kind: "Custom" }).pipe(Scope.extend(scope))
      const dup = yield* Effect.flip(registry.register({ name: "p", kind: "Custom" }))
      assert.strictEqual(dup.message, "Health.PolicyRegistry.register: invalid option \"name\": expected a name not already registered, got \"p\"")
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* registry.list, [])
      yield* registry.register({ name: "p", kind: "Other" })
      assert.deepStrictEqual(yield* registry.get("p"), { name: "p", kind: "Other", controls: [] })
    }))

  it.scoped("resize takes an integer >= 1 and passes the key", () =>
    Effect.gen(function*() {
      const registry = yield* Effect.provide(Health.PolicyRegistry, Health.layerPolicyRegistry)
      const calls: Array<unknown> = []
      yield* registry.register({ name: "pool", kind: "Custom", resize: (n, key) => Effect.sync(() => calls.push([n, key])) })
      const errors = yield* Effect.forEach([2.5, 0], (n) => Effect.map(Effect.flip(registry.resize("pool", n)), (e) => e.message))
      assert.deepStrictEqual(errors, [
        "Health.PolicyRegistry.resize: invalid option \"size\": expected an integer >= 1, got 2.5",
        "Health.PolicyRegistry.resize: invalid option \"size\": expected an integer >= 1, got 0"
      ])
      yield* registry.resize("pool", 1, "tenant-a")
      assert.deepStrictEqual(calls, [[1, "tenant-a"]])
    }))
})

describe("Health service details", () => {
  it.scoped("changes: a check's own status change is published even when the aggregate stays the same", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const db = yield* switchable("down")
      const cache = yield* switchable("up")
      yield* health.register({ name: "db", check: db.check })
      yield* health.register({ name: "cache", check: cache.check, critical: false })
      yield* health.report
      const seen = yield* Queue.unbounded<Health.Report>()
      yield* health.changes.pipe(Stream.runForEach((r) => Queue.offer(seen, r)), Effect.forkScoped)
      assert.strictEqual((yield* Queue.take(seen)).status, "unhealthy")
      yield* Ref.set(cache.state, "down")
      yield* health.refresh("cache")
      const next = yield* Queue.take(seen)
      assert.strictEqual(next.status, "unhealthy")
      assert.strictEqual(byName(next, "cache").status, "unhealthy")
    }))

  it.scoped("names lists the registered checks in registration order", () =>
    Effect.gen(function*() {
      const health = yield* Health.make()
      yield* health.register({ name: "db", check: Effect.void })
      yield* health.register({ name: "cache", check: Effect.void })
      assert.deepStrictEqual(yield* health.names, ["db", "cache"])
    }))

  it.scoped("refresh(name) runs only that check; refresh() runs all of them at once", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const runs = { a: 0, b: 0 }
      const slow = (k: "a" | "b") => Effect.zipRight(Effect.sync(() => runs[k]++), Effect.sleep("1 second"))
      yield* health.register({ name: "a", check: slow("a"), timeout: "1 minute" })
      yield* health.register({ name: "b", check: slow("b"), timeout: "1 minute" })
      yield* TestClock.adjust("1 second")
      yield* health.report
      assert.deepStrictEqual(runs, { a: 1, b: 1 })

      const one = yield* Effect.fork(health.refresh("a"))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(one)
      assert.deepStrictEqual(runs, { a: 2, b: 1 })

      const all = yield* Effect.fork(health.refresh())
      yield* TestClock.adjust("1 second")
      assert.isTrue(Option.isSome(yield* Fiber.poll(all)), "both checks ran concurrently: done after one second")
      assert.deepStrictEqual(runs, { a: 3, b: 2 })
    }))

  it.scoped("liveness does not wait for the first run of a check that is not a liveness check", () =>
    Effect.gen(function*() {
      const health = yield* Health.make()
      yield* health.register({ name: "loop", check: Effect.void, liveness: true })
      yield* health.register({ name: "warmup", check: Effect.sleep("1 minute"), timeout: "1 hour" })
      const live = yield* Effect.fork(health.liveness)
      yield* Effect.yieldNow()
      const report = yield* Fiber.join(live)
      assert.deepStrictEqual(report.checks.map((c) => [c.name, c.status]), [["loop", "healthy"]])
      assert.isTrue(Option.getOrThrow(yield* health.result("warmup")).pending)
    }))

  it.effect("a run queued behind a refresh is dropped when the check is unregistered meanwhile", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const runs = yield* Ref.make(0)
      const check = Ref.update(runs, (n) => n + 1).pipe(Effect.zipRight(Effect.sleep("100 millis")))
      const scope = yield* Scope.make()
      yield* health.register({ name: "slow", check, timeout: "1 second" }).pipe(Scope.extend(scope))
      yield* TestClock.adjust("100 millis") // the first run
      const running = yield* Effect.fork(health.refresh("slow"))
      yield* Effect.yieldNow()
      const queued = yield* Effect.fork(health.refresh("slow"))
      yield* Effect.yieldNow()
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(running)
      yield* Fiber.join(queued)
      assert.strictEqual(yield* Ref.get(runs), 2, "the first run and the refresh in flight; not the queued one")
      assert.deepStrictEqual(yield* health.names, [])
    }).pipe(Effect.scoped))

  it.effect("closing the service releases a report waiting for a check's first run", () =>
    Effect.gen(function*() {
      const outer = yield* Scope.make()
      const inner = yield* Scope.make()
      const health = yield* Health.make().pipe(Scope.extend(inner))
      yield* health.register({ name: "stuck", check: Effect.never, timeout: "1 hour" }).pipe(Scope.extend(outer))
      const waiting = yield* Effect.fork(health.report)
      yield* Effect.yieldNow()
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
      yield* Scope.close(inner, Exit.void)
      const report = yield* eventually(Fiber.poll(waiting), Option.isSome)
      assert.isTrue(Exit.isSuccess(Option.getOrThrow(report)))
      yield* Scope.close(outer, Exit.void)
    }))
})

describe("Health sources for circuit breakers", () => {
  const storeError = new CircuitBreaker.CircuitBreakerStoreError({ operation: "snapshot", detail: "store down" })
  /** The memory store without its synchronous path; `snapshot` replaced. */
  const storeWith = (snapshot: (base: CircuitBreaker.CircuitBreakerStore) => CircuitBreaker.CircuitBreakerStore["snapshot"]) =>
    Effect.map(CircuitBreaker.makeStoreMemory(), (base): CircuitBreaker.CircuitBreakerStore => ({ ...base, unsafe: undefined, snapshot: snapshot(base) }))

  it.scoped("fromCircuitBreaker defaults: named circuit:<breaker>, an open circuit is degraded; the invalid whenOpen is named", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const breaker = yield* CircuitBreaker.make({ name: "orders", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      yield* health.register(Health.fromCircuitBreaker(breaker))
      yield* breaker.isolate()
      const c = yield* eventually(health.result("circuit:orders"), (r) => Option.isSome(r) && r.value.status !== "healthy")
      assert.deepInclude(Option.getOrThrow(c), { status: "degraded", message: "circuit open: default (isolated)" })
      assert.throws(
        () => Health.fromCircuitBreaker(breaker, { whenOpen: "down" as any }),
        "Health.fromCircuitBreaker: invalid option \"whenOpen\": expected one of \"degraded\", \"unhealthy\", got \"down\""
      )
    }))

  it.scoped("the message lists three circuits and counts the others", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const breaker = yield* CircuitBreaker.make({ name: "hosts", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      const keys = ["a", "b", "c", "d"]
      yield* health.register(Health.fromCircuitBreaker(breaker, { keys }))
      yield* Effect.forEach(["a", "b", "c"], (k) => breaker.isolate(k))
      let report = yield* health.refresh()
      assert.strictEqual(byName(report, "circuit:hosts").message, "circuit open: a (isolated), b (isolated), c (isolated)")
      yield* breaker.isolate("d")
      report = yield* health.refresh()
      assert.strictEqual(byName(report, "circuit:hosts").message, "circuit open: a (isolated), b (isolated), c (isolated) (+1 more)")
    }))

  it.scoped("the circuits' states are read concurrently", () =>
    Effect.gen(function*() {
      const store = yield* storeWith((base) => (ns, key, config, now) => Effect.zipRight(Effect.sleep("1 second"), base.snapshot(ns, key, config, now)))
      const breaker = yield* CircuitBreaker.make({ name: "slow-store", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" }).pipe(
        Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
      )
      const health = yield* Health.make({ interval: "1 hour" })
      yield* health.register(Health.fromCircuitBreaker(breaker, { keys: ["a", "b", "c"], timeout: "1 minute" }))
      const report = yield* Effect.fork(health.report)
      yield* TestClock.adjust("2 seconds")
      const c = byName(yield* Fiber.join(report), "circuit:slow-store")
      assert.deepInclude(c, { status: "healthy", latencyMillis: 2000 }, "its own circuit, then the three keys at once")
    }))

  it.scoped("registerCircuitBreaker: the keys given (a list or a function) are shown in the registry; health: false registers no check", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
      const registry = Context.get(ctx, Health.PolicyRegistry)
      const health = Context.get(ctx, Health.Health)
      const breaker = yield* CircuitBreaker.make({ name: "b", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      yield* breaker.isolate("x")
      yield* Health.registerCircuitBreaker(breaker, { name: "plain" }).pipe(Effect.provide(ctx))
      yield* Health.registerCircuitBreaker(breaker, { name: "listed", keys: ["x", "y"] }).pipe(Effect.provide(ctx))
      yield* Health.registerCircuitBreaker(breaker, { name: "computed", keys: () => ["x"], health: false }).pipe(Effect.provide(ctx))
      const list = yield* registry.list
      assert.deepStrictEqual(list.map((p) => [p.name, p.circuits]), [
        ["plain", {}],
        ["listed", { x: "Isolated", y: "Closed" }],
        ["computed", { x: "Isolated" }]
      ])
      assert.deepStrictEqual(yield* health.names, ["circuit:plain", "circuit:listed"])
      assert.strictEqual(byName(yield* health.report, "circuit:listed").message, "circuit open: x (isolated)")
    }))

  it.scoped("registerCircuitBreaker: a store that fails shows as unavailable in the registry", () =>
    Effect.gen(function*() {
      const store = yield* storeWith(() => () => Effect.fail(storeError))
      const breaker = yield* CircuitBreaker.make({ name: "remote", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" }).pipe(
        Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
      )
      const registry = yield* Effect.provide(Health.PolicyRegistry, Health.layerPolicyRegistry)
      yield* Health.registerCircuitBreaker(breaker).pipe(Effect.provideService(Health.PolicyRegistry, registry))
      assert.deepStrictEqual(yield* registry.get("remote"), { error: "store unavailable", name: "remote", kind: "CircuitBreaker", controls: ["isolate", "reset", "setMode"] })
    }))

  it.effect("the circuit tracker forgets closed circuits and remembers at most MAX_TRACKED_KEYS open ones, dropping the oldest", () =>
    Effect.gen(function*() {
      const t = (key: string, to: CircuitBreaker.State["_tag"]): CircuitBreaker.Transition => ({ key, from: "Closed", to, at: 0, generation: 1, reason: "Isolated" })
      const others = Array.from({ length: MAX_TRACKED_KEYS }, (_, i) => `k${i}`)
      // a circuit opened first, then many that open and close again: it is still tracked
      const churn = trackCircuits({ transitions: Stream.fromIterable([t("stuck", "Open"), ...others.flatMap((k) => [t(k, "Open"), t(k, "Closed")])]) } as any)
      yield* Stream.runDrain(churn.stream)
      assert.deepStrictEqual(churn.keys(), ["stuck"])
      // more open circuits than the bound: the oldest is forgotten
      const flood = trackCircuits({ transitions: Stream.fromIterable([t("first", "Isolated"), ...others.map((k) => t(k, "HalfOpen"))]) } as any)
      yield* Stream.runDrain(flood.stream)
      assert.strictEqual(flood.keys().length, MAX_TRACKED_KEYS)
      assert.deepStrictEqual(flood.keys().slice(0, 2), ["k0", "k1"])
    }))
})
