/**
 * "User code cannot break a call" (DESIGN.md, Guarantees; issue 15 §4): every
 * function a user hands the library — hooks, predicates, classifiers, key
 * functions, selectors, factories — is attacked with a synchronous throw, a
 * malformed answer and, for effectful hooks, an Effect that fails, dies or
 * never ends. Each attack must end in the option's documented safe default,
 * be counted in `resilience_user_code_failures`, and never hang (TestClock).
 */
import { assert, describe, it } from "@effect/vitest"
import { HttpClient, HttpClientRequest, HttpClientResponse, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import {
  Cause,
  Duration,
  Effect,
  Exit,
  Fiber,
  HashMap,
  Layer,
  List,
  Logger,
  LogLevel,
  Option,
  Ref,
  Stream,
  TestClock
} from "effect"
import { Chaos, CircuitBreaker, Errors, Fallback, Health, Hedge, Idempotency, Retry, Timeout } from "effect-resilience"
import { AdminRoutes, ResilientHttpClient } from "effect-resilience/http"
import { counterValue } from "../utils/metrics.js"

const METRIC = "resilience_user_code_failures"

const failures = (labels: { module: string; policy: string; hook: string; kind: string }) => counterValue(METRIC, labels)

/** What the caller saw, in a comparable form. */
const show = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.match(exit, {
    onSuccess: (a) => `success:${typeof a === "object" ? JSON.stringify(a) : String(a)}`,
    onFailure: (cause) => {
      if (Cause.isInterruptedOnly(cause)) return "interrupted"
      const failure = Cause.failureOption(cause)
      if (Option.isNone(failure) || Cause.isDie(cause)) return "defect"
      const e = failure.value
      return `fail:${typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : String(e)}`
    }
  })

/**
 * Runs `effect` in a fiber and moves the TestClock on in steps of 250 ms (at
 * most 5 s) until it ends; fails the test instead of hanging if it does not.
 */
const drive = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 20; i++) {
      for (let j = 0; j < 20; j++) yield* Effect.yieldNow()
      if (Option.isSome(yield* Fiber.poll(fiber))) break
      yield* TestClock.adjust("250 millis")
    }
    for (let j = 0; j < 20; j++) yield* Effect.yieldNow()
    const done = yield* Fiber.poll(fiber)
    if (Option.isNone(done)) {
      yield* Fiber.interrupt(fiber)
      return assert.fail("hung: the call did not end within 5 seconds of TestClock")
    }
    return yield* Fiber.join(fiber)
  })

const bug = new Error("a bug in user code")
type Variant = "throw" | "malformed" | "fail" | "die" | "never"
const KIND: Record<Variant, string> = { throw: "throw", malformed: "malformed", fail: "failure", die: "throw", never: "timeout" }

/** The bad functions, for a predicate-like option (answers a boolean). */
const badPredicates: Partial<Record<Variant, (...args: Array<any>) => any>> = {
  throw: () => {
    throw bug
  },
  malformed: () => "yes"
}

interface Row {
  readonly module: string
  readonly hook: string
  readonly variants: Partial<Record<Variant, unknown>>
  /** One call with the user function `f` installed; its result, shown. */
  readonly run: (f: any, name: string) => Effect.Effect<unknown, unknown, any>
  /** What the safe default gives. */
  readonly expected: unknown
  /** The metric's `policy` label, when it is not the name given to `run`. */
  readonly policyLabel?: string
}

let names = 0
const flaky = () => {
  let attempts = 0
  return {
    effect: Effect.suspend(() => ++attempts < 2 ? Effect.fail("flaky") : Effect.succeed("ok")),
    attempts: () => attempts
  }
}

const fakeHttp = Layer.succeed(
  HttpClient.HttpClient,
  HttpClient.make((request) => Effect.succeed(HttpClientResponse.fromWeb(request, new Response("hello"))))
)

const rows: ReadonlyArray<Row> = [
  {
    module: "Retry",
    hook: "while",
    variants: badPredicates,
    run: (f, name) =>
      Effect.gen(function*() {
        const call = flaky()
        const exit = yield* Effect.exit(call.effect.pipe(Retry.policy({ schedule: Retry.constant("10 millis"), while: f, name })))
        return { exit: show(exit), attempts: call.attempts() }
      }),
    expected: { exit: "fail:flaky", attempts: 1 }
  },
  {
    module: "Retry",
    hook: "until",
    variants: badPredicates,
    run: (f, name) =>
      Effect.gen(function*() {
        const call = flaky()
        const exit = yield* Effect.exit(call.effect.pipe(Retry.policy({ schedule: Retry.constant("10 millis"), until: f, name })))
        return { exit: show(exit), attempts: call.attempts() }
      }),
    expected: { exit: "fail:flaky", attempts: 1 }
  },
  {
    module: "Retry",
    hook: "retryRejections",
    variants: badPredicates,
    run: (f, name) =>
      Effect.gen(function*() {
        let attempts = 0
        const full = Errors.BulkheadFullError.make({ name: "b", maxConcurrent: 1, maxQueue: 0, reason: "QueueFull" })
        const call = Effect.suspend(() => ++attempts < 2 ? Effect.fail(full) : Effect.succeed("ok"))
        const exit = yield* Effect.exit(call.pipe(Retry.policy({ schedule: Retry.constant("10 millis"), retryRejections: f, name })))
        return { exit: show(exit), attempts }
      }),
    expected: { exit: "fail:BulkheadFullError", attempts: 1 }
  },
  {
    module: "Retry",
    hook: "onRetry",
    variants: {
      throw: () => {
        throw bug
      },
      malformed: () => "not an effect",
      fail: () => Effect.fail("hook failed"),
      die: () => Effect.die(bug),
      never: () => Effect.never
    },
    run: (f, name) =>
      Effect.gen(function*() {
        const call = flaky()
        const exit = yield* Effect.exit(call.effect.pipe(Retry.policy({ schedule: Retry.constant("10 millis"), onRetry: f, name })))
        return { exit: show(exit), attempts: call.attempts() }
      }),
    expected: { exit: "success:ok", attempts: 2 }
  },
  {
    module: "Hedge",
    hook: "while",
    variants: badPredicates,
    run: (f, name) =>
      Effect.gen(function*() {
        const call = flaky()
        const exit = yield* Effect.exit(call.effect.pipe(Hedge.make({ delay: "1 hour", maxAttempts: 2, while: f, name })))
        return { exit: show(exit), attempts: call.attempts() }
      }),
    expected: { exit: "fail:flaky", attempts: 1 }
  },
  {
    module: "Fallback",
    hook: "when",
    variants: badPredicates,
    run: (f, name) => Effect.map(Effect.exit(Effect.fail("flaky").pipe(Fallback.when(f).value("fallback", { name }))), show),
    expected: "fail:flaky"
  },
  {
    module: "Fallback",
    hook: "defects",
    variants: badPredicates,
    run: (f, name) => Effect.map(Effect.exit(Effect.die(bug).pipe(Fallback.value("fallback", { defects: f, name }))), show),
    expected: "defect"
  },
  {
    module: "StaleIfError",
    hook: "on",
    variants: badPredicates,
    run: (f, name) =>
      Effect.gen(function*() {
        const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, on: f, name })
        yield* Effect.succeed("fresh").pipe(cache)
        return show(yield* Effect.exit(Effect.fail("flaky").pipe(cache)))
      }),
    expected: "fail:flaky"
  },
  {
    module: "Idempotency",
    hook: "keepFailures",
    variants: badPredicates,
    run: (f, name) =>
      Effect.gen(function*() {
        const idem = yield* Idempotency.make<string, string>({ ttl: "1 minute", keepFailures: f, name })
        let executions = 0
        const call = Effect.suspend(() => {
          executions++
          return Effect.fail("declined")
        })
        const first = show(yield* Effect.exit(idem.run("k", call)))
        const second = show(yield* Effect.exit(idem.run("k", call)))
        return { first, second, executions }
      }),
    // the failure reaches the caller, is not kept: the next call runs again
    expected: { first: "fail:declined", second: "fail:declined", executions: 2 }
  },
  {
    module: "Chaos",
    hook: "error",
    variants: { throw: badPredicates.throw },
    run: (f, name) =>
      Effect.gen(function*() {
        const chaos = Chaos.fault({ rate: 1, error: f, name })
        const exit = show(yield* Effect.exit(Effect.succeed("ok").pipe(chaos)))
        return { exit, injected: (yield* chaos.stats()).injected }
      }),
    expected: { exit: "success:ok", injected: 0 }
  },
  {
    module: "Chaos",
    hook: "enabled",
    variants: {
      malformed: Effect.succeed("yes"),
      fail: Effect.fail("config down"),
      die: Effect.die(bug),
      never: Effect.never
    },
    run: (f, name) =>
      Effect.gen(function*() {
        const chaos = Chaos.fault({ rate: 1, error: "injected", enabled: f, name })
        const exit = show(yield* Effect.exit(Effect.succeed("ok").pipe(chaos)))
        return { exit, injected: (yield* chaos.stats()).injected }
      }),
    expected: { exit: "success:ok", injected: 0 }
  },
  {
    module: "CircuitBreaker",
    hook: "classify",
    variants: {
      throw: badPredicates.throw,
      malformed: () => ({ _tag: "Nonsense" }),
      fail: () => Effect.fail("classifier failed"),
      die: () => Effect.die(bug),
      never: () => Effect.never
    },
    run: (f, name) =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name,
          tripPolicy: CircuitBreaker.consecutive(1),
          openDuration: "1 minute",
          classify: f
        })
        const ok = show(yield* Effect.exit(breaker(Effect.succeed("ok"))))
        const closed = (yield* breaker.state())._tag
        const failed = show(yield* Effect.exit(breaker(Effect.fail("down"))))
        // the default classifier counts a typed failure: consecutive(1) opens
        return { ok, closed, failed, state: (yield* breaker.state())._tag }
      }),
    expected: { ok: "success:ok", closed: "Closed", failed: "fail:down", state: "Open" }
  },
  {
    module: "Health",
    hook: "keys",
    variants: { throw: badPredicates.throw, malformed: () => [1, 2] },
    run: (f, name) =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ name, tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
        const check = Health.fromCircuitBreaker(breaker, { keys: f })
        return ((yield* check.check) as Health.Outcome).status
      }),
    expected: "healthy"
  },
  {
    module: "Health",
    hook: "info",
    variants: {
      malformed: Effect.succeed(42),
      fail: Effect.fail("info failed"),
      die: Effect.die(bug),
      never: Effect.never
    },
    run: (f, name) =>
      Effect.gen(function*() {
        const ctx = yield* Layer.build(Health.layer())
        const registry = yield* Effect.provide(Health.PolicyRegistry, ctx)
        yield* registry.register({ name, kind: "Custom", info: f })
        const listed = yield* registry.list
        return listed.map((p) => p.error)
      }),
    expected: ["unavailable"]
  },
  {
    module: "ResilientHttpClient",
    hook: "bufferBody",
    variants: badPredicates,
    run: (f, name) =>
      Effect.gen(function*() {
        const resilience = yield* ResilientHttpClient.makeTransform({
          name,
          bufferBody: f,
          timeout: false,
          attemptTimeout: false,
          retry: false,
          circuitBreaker: false,
          bulkhead: false,
          register: false
        })
        const client = (yield* HttpClient.HttpClient).pipe(resilience)
        const response = yield* client.execute(HttpClientRequest.get("http://api.example.test/"))
        return `${response.status} ${yield* response.text}`
      }).pipe(Effect.provide(fakeHttp)),
    expected: "200 hello"
  },
  {
    module: "AdminRoutes",
    hook: "guard",
    policyLabel: "admin",
    variants: {
      throw: () => {
        throw bug
      },
      malformed: () => Effect.succeed("yes"),
      die: () => Effect.die(bug)
    },
    run: (f) =>
      Effect.map(
        AdminRoutes.guard(f)(Effect.succeed(HttpServerResponse.text("admin"))).pipe(
          Effect.provideService(
            HttpServerRequest.HttpServerRequest,
            HttpServerRequest.fromWeb(new Request("http://localhost/admin/resilience/policies"))
          )
        ),
        (response) => response.status
      ),
    // fails closed
    expected: 403
  }
]

describe("user code cannot break a call (issue 15 §4)", () => {
  for (const row of rows) {
    for (const [variant, f] of Object.entries(row.variants) as Array<[Variant, unknown]>) {
      it.scoped(`${row.module} ${row.hook}: ${variant} → the safe default, counted as ${KIND[variant]}`, () =>
        Effect.gen(function*() {
          const name = `user-code-${++names}`
          const labels = { module: row.module, policy: row.policyLabel ?? name, hook: row.hook, kind: KIND[variant] }
          const before = yield* failures(labels)
          const result = yield* drive(row.run(f, name))
          assert.deepStrictEqual(result, row.expected)
          assert.isAtLeast((yield* failures(labels)) - before, 1, `${METRIC} ${JSON.stringify(labels)}`)
        }))
    }
  }
})

const retryWith = (options: Partial<Omit<Retry.Options<unknown>, "failAfterMaxAttempts">>) =>
  Retry.policy({ schedule: Retry.constant("100 millis"), name: `user-code-${++names}`, ...options })

/** A call that fails on its first attempt and records when each attempt started (TestClock millis). */
const recordedFlaky = Effect.gen(function*() {
  const starts = yield* Ref.make<ReadonlyArray<number>>([])
  const call = Effect.gen(function*() {
    const now = yield* TestClock.currentTimeMillis
    const before = yield* Ref.getAndUpdate(starts, (xs) => [...xs, now])
    return before.length === 0 ? yield* Effect.fail("flaky") : "ok"
  })
  return { call, starts: Ref.get(starts) }
})

const settle = Effect.gen(function*() {
  for (let i = 0; i < 30; i++) yield* Effect.yieldNow()
})

describe("issue 15: Retry onRetry", () => {
  it.effect("issue 15: onRetry that throws synchronously is ignored and the retry proceeds (no defect)", () =>
    Effect.gen(function*() {
      const { call, starts } = yield* recordedFlaky
      const retry = retryWith({
        onRetry: () => {
          throw bug
        }
      })
      const fiber = yield* Effect.fork(call.pipe(retry))
      yield* settle
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(yield* Fiber.join(fiber), "ok")
      assert.deepStrictEqual(yield* starts, [0, 100])
    }))

  it.effect("issue 15: onRetry that never completes does not hang the call: interrupted after onRetryTimeout (1 s)", () =>
    Effect.gen(function*() {
      const { call, starts } = yield* recordedFlaky
      const retry = retryWith({ onRetry: () => Effect.never })
      const fiber = yield* Effect.fork(call.pipe(retry))
      yield* settle
      yield* TestClock.adjust("999 millis")
      yield* settle
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "waits for the hook up to its bound")
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(fiber), "ok")
      assert.deepStrictEqual(yield* starts, [0, 1000])
      assert.strictEqual(
        yield* failures({ module: "Retry", policy: retry.policyName, hook: "onRetry", kind: "timeout" }),
        1
      )
    }))

  it.effect("an uninterruptible hook that never ends is bounded too (interrupted in the background, never awaited)", () =>
    Effect.gen(function*() {
      const { call, starts } = yield* recordedFlaky
      const retry = retryWith({ onRetry: () => Effect.uninterruptible(Effect.never), onRetryTimeout: "300 millis" })
      const fiber = yield* Effect.fork(call.pipe(retry))
      yield* settle
      yield* TestClock.adjust("300 millis")
      assert.deepStrictEqual(yield* Fiber.join(fiber), "ok")
      assert.deepStrictEqual(yield* starts, [0, 300])
    }))

  it.effect("onRetry runs alongside the backoff: the next attempt starts when both have ended", () =>
    Effect.gen(function*() {
      for (const [hookMillis, expected] of [[50, 100], [300, 300]] as const) {
        const t0 = yield* TestClock.currentTimeMillis
        const { call, starts } = yield* recordedFlaky
        const retry = retryWith({ onRetry: () => Effect.sleep(Duration.millis(hookMillis)) })
        const fiber = yield* Effect.fork(call.pipe(retry))
        for (let t = 0; t < 400; t += 50) {
          yield* settle
          yield* TestClock.adjust("50 millis")
        }
        assert.deepStrictEqual(yield* Fiber.join(fiber), "ok")
        assert.deepStrictEqual((yield* starts).map((t) => t - t0), [0, expected])
      }
    }))

  it.effect("onRetryTimeout infinite waits for the hook; interrupting the call interrupts the hook", () =>
    Effect.gen(function*() {
      const { call } = yield* recordedFlaky
      const hookInterrupted = yield* Ref.make(false)
      const retry = retryWith({
        onRetry: () => Effect.onInterrupt(Effect.never, () => Ref.set(hookInterrupted, true)),
        onRetryTimeout: Duration.infinity
      })
      const fiber = yield* Effect.fork(call.pipe(retry))
      yield* settle
      yield* TestClock.adjust("1 hour")
      yield* settle
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* Fiber.interrupt(fiber)
      yield* settle
      assert.isTrue(yield* Ref.get(hookInterrupted))
    }))

  it.effect("the hook's wait never outlasts an enclosing Timeout's deadline (even uninterruptible, with onRetryTimeout infinite)", () =>
    Effect.gen(function*() {
      const { call, starts } = yield* recordedFlaky
      const retry = retryWith({ onRetry: () => Effect.never, onRetryTimeout: Duration.infinity })
      const fiber = yield* Effect.fork(Effect.exit(Effect.uninterruptible(call.pipe(retry)).pipe(Timeout.make("500 millis"))))
      for (let i = 0; i < 10; i++) {
        yield* settle
        yield* TestClock.adjust("100 millis")
      }
      yield* settle
      assert.isTrue(Option.isSome(yield* Fiber.poll(fiber)), "the call ended")
      const attempts = yield* starts
      assert.strictEqual(attempts.length, 2)
      assert.isAtMost(attempts[1]!, 500)
    }))

  it.effect("onRetryTimeout is validated: a duration > 0 or infinite", () =>
    Effect.sync(() => {
      for (const bad of [0, -1, "soon", null]) {
        assert.throws(() => Retry.policy({ onRetryTimeout: bad as any }), /onRetryTimeout/)
      }
      Retry.policy({ onRetryTimeout: Duration.infinity })
    }))
})

describe("issue 15: CircuitBreaker classify", () => {
  /** A breaker with `classify`, tripped (the trip's failure classified by default), its open period over. */
  const tripped = (classify: unknown) =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: `user-code-${++names}`,
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        halfOpen: { probes: 1, probeTimeout: "1 minute" },
        classify: classify as CircuitBreaker.Classifier<unknown, unknown>
      })
      yield* drive(Effect.exit(breaker(Effect.fail("down"))))
      assert.strictEqual((yield* breaker.state())._tag, "Open")
      yield* TestClock.adjust("1 second")
      return breaker
    })

  it.scoped("issue 15: a probe whose classify answers a non-Outcome succeeds and settles (half-open is not wedged until probeTimeout)", () =>
    Effect.gen(function*() {
      const breaker = yield* tripped(() => ({ nonsense: true }))
      assert.strictEqual(show(yield* Effect.exit(breaker(Effect.succeed("ok")))), "success:ok")
      // the default classification of a success closes the circuit at once: no minute-long wedge
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
      assert.strictEqual(show(yield* Effect.exit(breaker(Effect.succeed("next")))), "success:next")
    }))

  it.scoped("issue 15: a probe whose classify throws settles its slot too", () =>
    Effect.gen(function*() {
      const breaker = yield* tripped(() => {
        throw bug
      })
      assert.strictEqual(show(yield* Effect.exit(breaker(Effect.fail("still down")))), "fail:still down")
      // the default classification of the failure reopens at once
      assert.strictEqual((yield* breaker.state())._tag, "Open")
    }))

  it.scoped("a probe whose effectful classify never ends is settled by default after 1 second", () =>
    Effect.gen(function*() {
      const breaker = yield* tripped(() => Effect.never)
      const fiber = yield* Effect.fork(breaker(Effect.succeed("ok")))
      yield* settle
      assert.strictEqual((yield* breaker.state())._tag, "HalfOpen")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(show(yield* Fiber.await(fiber)), "success:ok")
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
    }))

  it.scoped("interrupting a call while its effectful classify runs interrupts the classify", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const breaker = yield* CircuitBreaker.make({
        name: `user-code-${++names}`,
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        classify: () => Effect.onInterrupt(Effect.never, () => Ref.set(interrupted, true))
      })
      const fiber = yield* Effect.fork(breaker(Effect.succeed("ok")))
      yield* settle
      yield* Fiber.interrupt(fiber)
      yield* settle
      assert.isTrue(yield* Ref.get(interrupted))
    }))

  it.scoped("an Outcome.Failure with a retryAfter that is not a Duration is malformed: default classification", () =>
    Effect.gen(function*() {
      const name = `user-code-${++names}`
      const breaker = yield* CircuitBreaker.make({
        name,
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 second",
        classify: () => ({ _tag: "Failure", retryAfter: "soon" }) as any
      })
      assert.strictEqual(show(yield* Effect.exit(breaker(Effect.succeed("ok")))), "success:ok")
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
      assert.strictEqual(yield* failures({ module: "CircuitBreaker", policy: name, hook: "classify", kind: "malformed" }), 1)
    }))
})

describe("reporting", () => {
  it.effect("a failure is logged as a warning through Effect's logger, annotated; a site logs its 1st, 2nd, 4th, 8th… failure", () =>
    Effect.gen(function*() {
      const logs: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
      const capture = Logger.make(({ annotations, logLevel, message }) => {
        logs.push({ level: logLevel.label, message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
      })
      const name = `user-code-${++names}`
      const retry = Retry.policy({
        schedule: Retry.constant("10 millis"),
        name,
        while: () => {
          throw bug
        }
      })
      for (let i = 0; i < 5; i++) {
        yield* Effect.exit(Effect.fail("flaky").pipe(retry)).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      }
      assert.strictEqual(logs.length, 3) // failures 1, 2 and 4
      assert.strictEqual(logs[0]!.level, "WARN")
      assert.deepStrictEqual(logs[0]!.annotations, { module: "Retry", policy: name, hook: "while", kind: "throw" })
      assert.match(String(logs[0]!.message), /Retry "user-code-\d+": while threw; not retried/)
      assert.match(String(logs[2]!.message), /failure 4 of this while/)
      assert.strictEqual(yield* failures({ module: "Retry", policy: name, hook: "while", kind: "throw" }), 5)
    }))

  it.effect("no warning below the minimum log level; the metric still counts", () =>
    Effect.gen(function*() {
      const logs: Array<unknown> = []
      const capture = Logger.make(({ message }) => void logs.push(message))
      const name = `user-code-${++names}`
      const retry = Retry.policy({ name, until: () => "yes" as any })
      yield* Effect.exit(Effect.fail("flaky").pipe(retry)).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
        Logger.withMinimumLogLevel(LogLevel.Error)
      )
      assert.deepStrictEqual(logs, [])
      assert.strictEqual(yield* failures({ module: "Retry", policy: name, hook: "until", kind: "malformed" }), 1)
    }))

  it.effect("a logger that throws does not break the call either", () =>
    Effect.gen(function*() {
      const broken = Logger.make(() => {
        throw new Error("logger bug")
      })
      const retry = Retry.policy({ name: `user-code-${++names}`, while: () => "yes" as any })
      const exit = yield* Effect.exit(Effect.fail("flaky").pipe(retry)).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, broken))
      )
      assert.strictEqual(show(exit), "fail:flaky")
    }))
})

describe("event consumers", () => {
  it.scoped("a consumer of events that dies, or never consumes, cannot break or slow a call", () =>
    Effect.gen(function*() {
      const retry = Retry.policy({ schedule: Retry.constant("10 millis"), name: `user-code-${++names}` })
      yield* Effect.forkScoped(Stream.runForEach(retry.events, () => Effect.die(bug)))
      yield* Effect.forkScoped(Stream.runForEach(retry.events, () => Effect.never))
      yield* settle
      for (let i = 0; i < 3; i++) {
        const call = flaky()
        assert.strictEqual(yield* drive(call.effect.pipe(retry)), "ok")
      }
      assert.strictEqual((yield* retry.stats()).retries, 3)
    }))

  it.effect("log spans are unaffected (the report uses the caller's fiber context)", () =>
    Effect.gen(function*() {
      const spans: Array<ReadonlyArray<string>> = []
      const capture = Logger.make(({ spans: s }) => void spans.push(List.toArray(s).map((x) => x.label)))
      const retry = Retry.policy({ name: `user-code-${++names}`, while: () => "yes" as any })
      yield* Effect.exit(Effect.fail("flaky").pipe(retry)).pipe(
        Effect.withLogSpan("checkout"),
        Effect.provide(Logger.replace(Logger.defaultLogger, capture))
      )
      assert.deepStrictEqual(spans, [["checkout"]])
    }))
})
