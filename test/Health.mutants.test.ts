/**
 * Behaviour of the Health module that its mutation run showed unchecked:
 * circuit breaker sources in every mode, the triggers of a breaker's check,
 * bad input to the source constructors, the policy registry's `setMode` and
 * `info` answers, and the report a fresh service publishes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Data, Effect, Layer, Option, Stream, TestClock } from "effect"
import { Bulkhead, CircuitBreaker, Errors, Health } from "effect-resilience"
import { eventually, settle } from "./utils/fibers.js"
import { captureLogs } from "./utils/logs.js"
import { counterValue } from "./utils/metrics.js"

class Down extends Data.TaggedError("Down")<{}> {}
const failing = Effect.fail(new Down())

const USER_CODE_FAILURES = "resilience_user_code_failures"

/** The check `name` in a report (it must be there). */
const byName = (report: Health.Report, name: string) => {
  const c = report.checks.find((c) => c.name === name)
  assert.isDefined(c, `check ${name} in report`)
  return c!
}

/** The result of the check `name` in the service's report (after its first run). */
const resultOf = (health: Health.Service, name: string) => Effect.map(health.report, (report) => byName(report, name))

/** Waits (no time passing) until the check `name` has the status `status`. */
const statusBecomes = (health: Health.Service, name: string, status: Health.Status) =>
  Effect.map(eventually(health.result(name), (r) => Option.isSome(r) && r.value.status === status), Option.getOrThrow)

/** The module, option and expected range of the InvalidOptionsError `f` throws. */
const thrownInvalidOption = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    assert.instanceOf(e, Errors.InvalidOptionsError)
    const error = e as Errors.InvalidOptionsError
    return [error.module, error.option, error.expected]
  }
  return assert.fail("expected an InvalidOptionsError")
}

/** The module, option and expected range of the InvalidOptionsError `effect` fails with (not a defect). */
const failedInvalidOption = <A, R>(effect: Effect.Effect<A, Errors.InvalidOptionsError, R>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.instanceOf(error, Errors.InvalidOptionsError)
    return [error.module, error.option, error.expected]
  })

/** Values shaped almost like a circuit breaker: each lacks one of its parts. */
const notBreakers = (breaker: CircuitBreaker.CircuitBreaker): ReadonlyArray<unknown> => [
  // not a function, though it has state() and transitions
  { state: breaker.state, transitions: breaker.transitions, events: breaker.events },
  // a function with transitions, but no state()
  Object.assign((effect: unknown) => effect, { transitions: breaker.transitions, events: breaker.events }),
  // a function with state(), but no transitions
  Object.assign((effect: unknown) => effect, { state: breaker.state, events: breaker.events })
]

describe("Health sources: a circuit breaker's mode", () => {
  it.scoped("MetricsOnly rejects nothing: healthy when closed, only degraded when it would be open or half-open", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const breaker = yield* CircuitBreaker.make({ name: "shadow", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "10 seconds" })
      yield* breaker.setMode("MetricsOnly")
      yield* health.register(Health.fromCircuitBreaker(breaker, { whenOpen: "unhealthy" }))
      let c = yield* resultOf(health, "circuit:shadow")
      assert.deepInclude(c, { status: "healthy", message: "metrics only: nothing is rejected" })

      yield* Effect.exit(breaker(failing))
      c = yield* statusBecomes(health, "circuit:shadow", "degraded")
      assert.strictEqual(c.message, "metrics only: circuit would be open: default (retry in 10s)")
      assert.strictEqual((yield* health.report).status, "degraded", "whenOpen: unhealthy does not apply: nothing is rejected")

      yield* TestClock.adjust("10 seconds")
      c = byName(yield* health.refresh("circuit:shadow"), "circuit:shadow")
      assert.deepInclude(c, { status: "degraded", message: "metrics only: circuit would be half-open: default" })
    }))

  it.scoped("MetricsOnly: an isolated circuit would be open; a closed one with an open key lists only that key", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const breaker = yield* CircuitBreaker.make({ name: "shadow-keys", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      yield* breaker.setMode("MetricsOnly")
      yield* breaker.isolate("b")
      yield* health.register(Health.fromCircuitBreaker(breaker, { keys: ["a", "b"] }))
      const c = yield* resultOf(health, "circuit:shadow-keys")
      assert.deepInclude(c, { status: "degraded", message: "metrics only: circuit would be open: b (isolated)" })
    }))

  it.scoped("Disabled: degraded, whatever the circuits' states (nothing protects the dependency)", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const breaker = yield* CircuitBreaker.make({ name: "off", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      yield* breaker.setMode("Disabled")
      yield* health.register(Health.fromCircuitBreaker(breaker, { whenOpen: "unhealthy" }))
      const c = yield* resultOf(health, "circuit:off")
      assert.deepInclude(c, { status: "degraded", message: "circuit breaker disabled: every call runs, nothing is recorded" })
      assert.strictEqual((yield* health.report).status, "degraded")
    }))

  it.scoped("a change of the breaker's mode runs the check again at once (no refresh, no time passing)", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const breaker = yield* CircuitBreaker.make({ name: "switched", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      yield* health.register(Health.fromCircuitBreaker(breaker))
      assert.deepInclude(yield* resultOf(health, "circuit:switched"), { status: "healthy", message: undefined })

      yield* breaker.setMode("Disabled")
      const disabled = yield* statusBecomes(health, "circuit:switched", "degraded")
      assert.strictEqual(disabled.message, "circuit breaker disabled: every call runs, nothing is recorded")

      yield* breaker.setMode("MetricsOnly")
      const shadow = yield* statusBecomes(health, "circuit:switched", "healthy")
      assert.strictEqual(shadow.message, "metrics only: nothing is rejected")
    }))

  it.scoped("calls that change no circuit and no mode do not run the check again", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const breaker = yield* CircuitBreaker.make({ name: "quiet", tripPolicy: CircuitBreaker.consecutive(3), openDuration: "1 minute" })
      yield* health.register(Health.fromCircuitBreaker(breaker))
      const first = yield* resultOf(health, "circuit:quiet")
      yield* TestClock.adjust("1 minute")
      yield* breaker(Effect.void)
      yield* Effect.exit(breaker(failing))
      yield* settle
      const after = yield* resultOf(health, "circuit:quiet")
      assert.strictEqual(after.lastCheckedAt, first.lastCheckedAt, "not run again: a success and a failure below the threshold")
      assert.strictEqual(after.status, "healthy")
    }))
})

describe("Health sources: the keys option is user code", () => {
  it.scoped("keys that are not all strings add no keys; the failure is counted and logged", () =>
    Effect.gen(function*() {
      const health = yield* Health.make({ interval: "1 hour" })
      const breaker = yield* CircuitBreaker.make({ name: "bad-keys", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      yield* breaker.isolate("a")
      const logs = captureLogs()
      yield* health.register(Health.fromCircuitBreaker(breaker, { keys: ["a", 1 as unknown as string] })).pipe(logs.provide)
      assert.deepInclude(yield* resultOf(health, "circuit:bad-keys"), { status: "healthy", message: undefined }, "\"a\" is not watched")
      assert.strictEqual(
        yield* counterValue(USER_CODE_FAILURES, { module: "Health", policy: "bad-keys", hook: "keys", kind: "malformed" }),
        1
      )
      assert.deepStrictEqual(logs.lines, [
        "Health \"bad-keys\": keys answered a value of the wrong type (an array); no extra keys"
      ])
    }))

  it.scoped("keys that throw: no keys listed in the registry; each failure counted, logged the 1st, 2nd, 4th… time", () =>
    Effect.gen(function*() {
      const registry = yield* Effect.provide(Health.PolicyRegistry, Health.layerPolicyRegistry)
      const breaker = yield* CircuitBreaker.make({ name: "throwing-keys", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      yield* Health.registerCircuitBreaker(breaker, {
        keys: () => {
          throw new Error("no keys today")
        }
      }).pipe(Effect.provideService(Health.PolicyRegistry, registry))
      const logs = captureLogs()
      const infos = yield* Effect.replicateEffect(registry.get("throwing-keys"), 3).pipe(logs.provide)
      assert.deepStrictEqual(infos.map((info) => info.circuits), [{}, {}, {}])
      assert.strictEqual(
        yield* counterValue(USER_CODE_FAILURES, { module: "Health", policy: "throwing-keys", hook: "keys", kind: "throw" }),
        3
      )
      assert.deepStrictEqual(logs.lines, [
        "Health \"throwing-keys\": keys threw; no extra keys",
        "Health \"throwing-keys\": keys threw; no extra keys (failure 2 of this keys)"
      ])
    }))

  it.scoped("no keys given: nothing is reported as a failure of user code", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
      const registry = Context.get(ctx, Health.PolicyRegistry)
      const health = Context.get(ctx, Health.Health)
      const breaker = yield* CircuitBreaker.make({ name: "no-keys", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      const logs = captureLogs()
      yield* Effect.gen(function*() {
        yield* Health.registerCircuitBreaker(breaker).pipe(Effect.provide(ctx))
        assert.deepStrictEqual((yield* registry.get("no-keys")).circuits, {})
        assert.strictEqual((yield* health.report).status, "healthy")
      }).pipe(logs.provide)
      assert.strictEqual(yield* counterValue(USER_CODE_FAILURES, { module: "Health", policy: "no-keys", hook: "keys", kind: "throw" }), 0)
      assert.deepStrictEqual(logs.lines, [])
    }))
})

describe("Health sources: bad input", () => {
  it.scoped("fromCircuitBreaker throws InvalidOptionsError naming breaker for anything that is not a breaker", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "real", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      for (const value of notBreakers(breaker)) {
        assert.deepStrictEqual(
          thrownInvalidOption(() => Health.fromCircuitBreaker(value as CircuitBreaker.CircuitBreaker)),
          ["Health.fromCircuitBreaker", "breaker", "a CircuitBreaker"]
        )
      }
    }))

  it.scoped("registerCircuitBreaker fails with InvalidOptionsError naming breaker; nothing is registered", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
      const registry = Context.get(ctx, Health.PolicyRegistry)
      const health = Context.get(ctx, Health.Health)
      const breaker = yield* CircuitBreaker.make({ name: "real", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      for (const value of notBreakers(breaker)) {
        const register = Health.registerCircuitBreaker(value as CircuitBreaker.CircuitBreaker, { name: "fake" }).pipe(Effect.provide(ctx))
        assert.deepStrictEqual(yield* failedInvalidOption(register), ["Health.registerCircuitBreaker", "breaker", "a CircuitBreaker"])
      }
      assert.deepStrictEqual(yield* registry.list, [])
      assert.deepStrictEqual(yield* health.names, [])
    }))

  it.scoped("registerBulkhead fails with InvalidOptionsError naming bulkhead for anything that is not a bulkhead", () =>
    Effect.gen(function*() {
      const registry = yield* Effect.provide(Health.PolicyRegistry, Health.layerPolicyRegistry)
      const bulkhead = yield* Bulkhead.make({ name: "real", maxConcurrent: 2 })
      const parts = { stats: bulkhead.stats, resize: bulkhead.resize, unsafeStats: bulkhead.unsafeStats, unsafeTotals: bulkhead.unsafeTotals }
      const values: ReadonlyArray<unknown> = [
        // not a function, though it has stats() and resize()
        parts,
        // a function with resize(), but no stats()
        Object.assign((effect: unknown) => effect, { ...parts, stats: undefined }),
        // a function with stats(), but no resize()
        Object.assign((effect: unknown) => effect, { ...parts, resize: undefined })
      ]
      for (const value of values) {
        const register = Health.registerBulkhead(value as Bulkhead.Bulkhead<unknown>, { name: "fake" }).pipe(
          Effect.provideService(Health.PolicyRegistry, registry)
        )
        assert.deepStrictEqual(yield* failedInvalidOption(register), ["Health.registerBulkhead", "bulkhead", "a Bulkhead"])
      }
      assert.deepStrictEqual(yield* registry.list, [])
    }))

  it.scoped("registerCircuitBreaker names an invalid option of its health check health.<option>", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
      const breaker = yield* CircuitBreaker.make({ name: "nested", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      const register = Health.registerCircuitBreaker(breaker, { health: { keys: 42 } as Health.RegisterCircuitBreakerOptions["health"] })
      assert.deepStrictEqual(
        yield* failedInvalidOption(register.pipe(Effect.provide(ctx))),
        ["Health.registerCircuitBreaker", "health.keys", "an iterable of keys or a function returning one"]
      )
    }))
})

describe("PolicyRegistry: setMode", () => {
  it.scoped("setMode on a registered breaker switches the breaker, shows in its entry and in its health check", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
      const registry = Context.get(ctx, Health.PolicyRegistry)
      const health = Context.get(ctx, Health.Health)
      const breaker = yield* CircuitBreaker.make({ name: "moded", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      yield* Health.registerCircuitBreaker(breaker).pipe(Effect.provide(ctx))
      assert.strictEqual((yield* health.report).status, "healthy")

      const info = yield* registry.setMode("moded", "Disabled")
      assert.strictEqual(info.mode, "Disabled")
      assert.strictEqual((yield* breaker.state()).mode, "Disabled")
      yield* statusBecomes(health, "circuit:moded", "degraded")

      const invalid = yield* Effect.flip(registry.setMode("moded", "Off"))
      assert.strictEqual(invalid._tag, "InvalidOptionsError")
      assert.strictEqual((yield* breaker.state()).mode, "Disabled", "an unknown mode changes nothing")
    }))

  it.scoped("setMode passes the mode to a custom entry; an entry without setMode is Unsupported, an unknown name NotFound", () =>
    Effect.gen(function*() {
      const registry = yield* Effect.provide(Health.PolicyRegistry, Health.layerPolicyRegistry)
      const modes: Array<string> = []
      yield* registry.register({ name: "custom", kind: "Custom", setMode: (mode) => Effect.sync(() => modes.push(mode)) })
      yield* registry.register({ name: "plain", kind: "Custom" })
      assert.deepStrictEqual(yield* registry.setMode("custom", "MetricsOnly"), { name: "custom", kind: "Custom", controls: ["setMode"] })
      assert.deepStrictEqual(modes, ["MetricsOnly"])

      const errors = yield* Effect.all([Effect.flip(registry.setMode("plain", "Disabled")), Effect.flip(registry.setMode("nope", "Disabled"))])
      assert.deepStrictEqual(
        errors.map((e) => [e._tag, (e as Health.PolicyRegistryError).operation, (e as Health.PolicyRegistryError).reason, e.message]),
        [
          ["PolicyRegistryError", "setMode", "Unsupported", "Policy \"plain\" does not support setMode"],
          ["PolicyRegistryError", "setMode", "NotFound", "No policy named \"nope\" is registered"]
        ]
      )
    }))
})

describe("PolicyRegistry: entries", () => {
  it.scoped("an info that answers a number, null or an array is described as unavailable; the failure is counted and logged", () =>
    Effect.gen(function*() {
      const registry = yield* Effect.provide(Health.PolicyRegistry, Health.layerPolicyRegistry)
      const answers: ReadonlyArray<readonly [string, unknown]> = [["info-number", 42], ["info-null", null], ["info-array", ["a"]]]
      for (const [name, answer] of answers) {
        yield* registry.register({ name, kind: "Custom", info: Effect.succeed(answer) as Health.PolicyEntry["info"] })
      }
      const logs = captureLogs()
      const infos = yield* registry.list.pipe(logs.provide)
      assert.deepStrictEqual(infos, answers.map(([name]) => ({ error: "unavailable", name, kind: "Custom", controls: [] })))
      for (const [name] of answers) {
        assert.strictEqual(yield* counterValue(USER_CODE_FAILURES, { module: "Health", policy: name, hook: "info", kind: "malformed" }), 1)
      }
      assert.deepStrictEqual(logs.lines, [
        "Health \"info-number\": info answered a value of the wrong type (number); described as unavailable",
        "Health \"info-null\": info answered a value of the wrong type (null); described as unavailable",
        "Health \"info-array\": info answered a value of the wrong type (an array); described as unavailable"
      ])
    }))

  it.scoped("a registration whose health check Health refuses registers nothing: the policy can be registered again", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(Health.layer({ interval: "1 hour" }))
      const registry = Context.get(ctx, Health.PolicyRegistry)
      const health = Context.get(ctx, Health.Health)
      // a check already holds the name the breaker's health check would take
      yield* Health.register({ name: "circuit:payments", check: Effect.void }).pipe(Effect.provide(ctx))
      const breaker = yield* CircuitBreaker.make({ name: "payments", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      const refused = yield* Effect.flip(Health.registerCircuitBreaker(breaker).pipe(Effect.provide(ctx)))
      assert.match(refused.message, /^Health\.register: invalid option "name": expected a name not already registered/)
      // nothing half-done: the policy is not listed, and registering it without a check works
      assert.deepStrictEqual(yield* registry.list, [])
      yield* Health.registerCircuitBreaker(breaker, { health: false }).pipe(Effect.provide(ctx))
      assert.deepStrictEqual((yield* registry.list).map((p) => p.name), ["payments"])
      assert.deepStrictEqual(yield* health.names, ["circuit:payments"])
    }))

  it.scoped("register(null) fails with InvalidOptionsError naming the entry", () =>
    Effect.gen(function*() {
      const registry = yield* Effect.provide(Health.PolicyRegistry, Health.layerPolicyRegistry)
      const error = yield* Effect.flip(registry.register(null as unknown as Health.PolicyEntry))
      assert.strictEqual(
        error.message,
        "Health.PolicyRegistry.register: invalid option \"entry\": expected a policy entry ({ name, kind, … }), got null"
      )
    }))
})

describe("Health: a fresh service", () => {
  it.scoped("changes starts with the current report: healthy, with no checks", () =>
    Effect.gen(function*() {
      const health = yield* Health.make()
      const first = yield* Stream.runCollect(Stream.take(health.changes, 1))
      assert.deepStrictEqual(Chunk.toReadonlyArray(first), [{ status: "healthy", checkedAt: 0, checks: [] }])
    }))
})
