/**
 * Every policy inside a caller's uninterruptible region, the caller interrupted while its call
 * waits (STYLE.md §12: interruption at every await point). Effect 3 interrupts a fiber's child
 * fibers as soon as the fiber is interrupted, uninterruptible or not, so a policy that races or
 * forks children on the caller's fiber can be cut from under it — the shared-store bulkhead's
 * poll hung for good that way (docs/Reliability.md, finding 20). Here each policy must let the
 * caller end once its call can (no hang), and leave nothing held: no permit, no queued waiter,
 * no key in flight.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Option, type Scope, TestClock } from "effect"
import {
  Bulkhead,
  Chaos,
  CircuitBreaker,
  Hedge,
  Idempotency,
  Policy,
  RateLimiter,
  Retry,
  Timeout
} from "effect-resilience"
import { settle } from "../utils/fibers.js"

/** What a case builds: how to apply the policy to a call, and what must hold once the caller ended. */
interface Case {
  readonly apply: (work: Effect.Effect<string>) => Effect.Effect<unknown, unknown>
  readonly clean: Effect.Effect<void, unknown>
  /** Makes the call wait before it starts (a full bulkhead, an exhausted limit): undone by `release`. */
  readonly occupy?: Effect.Effect<{ readonly release: Effect.Effect<unknown, unknown> }, unknown>
}

const cases: ReadonlyArray<readonly [string, Effect.Effect<Case, unknown, Scope.Scope>]> = [
  ["Retry", Effect.succeed({ apply: Retry.policy({ times: 2, schedule: Retry.constant("1 second") }), clean: Effect.void })],
  ["Timeout", Effect.succeed({ apply: Timeout.make("10 seconds"), clean: Effect.void })],
  [
    "Bulkhead (a free permit: the one-step path)",
    Effect.map(Bulkhead.make({ maxConcurrent: 1 }), (b) => ({
      apply: b,
      clean: Effect.sync(() => assert.deepStrictEqual([b.unsafeStats().active, b.unsafeStats().queued], [0, 0]))
    }))
  ],
  [
    "Bulkhead (queued behind a holder)",
    Effect.map(Bulkhead.make({ maxConcurrent: 1, maxQueue: 1 }), (b) => ({
      apply: b,
      clean: Effect.sync(() => assert.deepStrictEqual([b.unsafeStats().active, b.unsafeStats().queued], [0, 0])),
      occupy: Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(b(Deferred.await(gate)))
        yield* settle
        return { release: Effect.zipRight(Deferred.succeed(gate, undefined), Fiber.join(holder)) }
      })
    }))
  ],
  [
    "CircuitBreaker",
    Effect.map(
      CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration: "1 minute", name: "uninterruptible" }),
      (cb) => ({
        apply: cb,
        clean: Effect.map(cb.state(), (s) => assert.strictEqual(s._tag, "Closed"))
      })
    )
  ],
  [
    "RateLimiter (delay mode, waiting for its slot)",
    Effect.map(
      RateLimiter.make({ limit: 1, window: "1 second", onExceeded: "delay", maxDelay: "10 seconds", name: "uninterruptible" }),
      (rl) => ({
        apply: rl,
        clean: Effect.void,
        occupy: Effect.as(rl(Effect.void), { release: Effect.void })
      })
    )
  ],
  [
    "Hedge",
    Effect.sync(() => {
      const hedge = Hedge.make({ delay: "100 millis", maxAttempts: 2 })
      // the hedge's timer (forked on the caller's fiber, once) fired after the interruption too
      return { apply: hedge, clean: Effect.sync(() => assert.strictEqual(hedge.unsafeStats().hedges, 1, "the hedge started")) }
    })
  ],
  [
    "Idempotency",
    Effect.map(Idempotency.make({ ttl: "1 minute", name: "uninterruptible" }), (idem) => ({
      apply: (work: Effect.Effect<string>) => idem.run("k", work),
      clean: Effect.sync(() => assert.strictEqual(idem.unsafeStats().executions, 1))
    }))
  ],
  ["Chaos (latency)", Effect.succeed({ apply: Chaos.latency({ delay: "1 second", rate: 1 }), clean: Effect.void })],
  [
    "Policy.pipeline (timeout, bulkhead, breaker, retry, attempt timeout)",
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2 })
      const pipeline = Policy.pipeline({
        timeout: "30 seconds",
        bulkhead,
        circuitBreaker: yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration: "1 minute" }),
        retry: Retry.policy({ times: 2 }),
        attemptTimeout: "10 seconds"
      })
      return {
        apply: pipeline,
        clean: Effect.sync(() => assert.strictEqual(bulkhead.unsafeStats().active, 0))
      }
    })
  ]
]

/** The enclosing deadlines each case also runs within: none, a timer's, one longer than any timer (30 days), Effect's race. */
const within: ReadonlyArray<readonly [string, <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, unknown, R>]> = [
  ["", (self) => self],
  [" (within a 10 s timeout)", Timeout.make("10 seconds")],
  [" (within a 30-day timeout)", Timeout.make("30 days")],
  [" (within a 10 s timeout, general implementation)", Timeout.make("10 seconds", { implementation: "general" } as Timeout.Timeout.Options)]
]

describe("an uninterruptible caller interrupted while its call waits", () => {
  for (const [name, make] of cases) {
    for (const [bound, enclose] of within) {
      it.scoped(`${name}${bound}: the call answers as if uninterrupted, the caller then ends, nothing left held`, () =>
        Effect.gen(function*() {
          const c = yield* make
          const occupied = c.occupy === undefined ? undefined : yield* c.occupy
          const gate = yield* Deferred.make<void>()
          const work = Effect.as(Deferred.await(gate), "done")
          let answer: Exit.Exit<unknown, unknown> | undefined = undefined
          const region = Effect.tap(Effect.exit(enclose(c.apply(work))), (exit) => Effect.sync(() => (answer = exit)))
          const caller = yield* Effect.fork(Effect.uninterruptible(region))
          yield* settle
          const interrupting = yield* Effect.fork(Fiber.interrupt(caller))
          yield* settle
          // the region is uninterruptible: the call goes on
          assert.isTrue(Option.isNone(yield* Fiber.poll(interrupting)), "the caller is still in its region")
          yield* TestClock.adjust("1 second")
          assert.isTrue(Option.isNone(yield* Fiber.poll(interrupting)), "the caller is still in its region after a second")
          if (occupied !== undefined) yield* occupied.release
          yield* Deferred.succeed(gate, undefined)
          yield* TestClock.adjust(Duration.minutes(1))
          yield* settle
          assert.isTrue(Option.isSome(yield* Fiber.poll(interrupting)), "the interrupted caller ended (no hang)")
          // inside the region the call answered what it would have without the interruption
          assert.deepStrictEqual(answer, Exit.succeed("done"))
          yield* c.clean
        }))
    }
  }
})
