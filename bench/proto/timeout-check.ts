/**
 * Behaviour check of the timeout prototype against `Effect.timeout` (run:
 * `npx tsx bench/proto/timeout-check.ts`; exits 1 on a mismatch). Each
 * scenario runs with the reference (`Effect.timeoutFail` failing with the
 * same `TimeoutError`) and with the prototype, and compares what the caller
 * sees and in which order things happened. Time is `TestClock` except where
 * the live clock is the point. Not a test suite (tests live in test/, owned
 * by the Timeout owner); a proof that the prototype is worth porting.
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { TimeoutError } from "../../src/Errors.js"
import { currentDeadline } from "../../src/internal/deadline.js"
import { Timeout } from "../../src/index.js"
import * as ProtoTimeout from "./timeout.js"

type TimeoutFn = (d: Duration.DurationInput, options?: { readonly disconnect?: boolean }) => <A, E, R>(
  self: Effect.Effect<A, E, R>
) => Effect.Effect<A, E | TimeoutError, R>

const reference: TimeoutFn = (d, options) => (self) => {
  const duration = Duration.decode(d)
  const bounded = options?.disconnect === true ? Effect.disconnect(self) : self
  return Effect.timeoutFail(bounded, { duration, onTimeout: () => new TimeoutError({ duration }) })
}
const proto: TimeoutFn = (d, options) => ProtoTimeout.make(d, options) as any
const protoFiber: TimeoutFn = (d, options) => ProtoTimeout.make(d, { ...options, timer: "fiber" }) as any
/** The library's own Timeout.make, checked by the same scenarios (its fast path landed in 7e5d3a1). */
const library: TimeoutFn = (d, options) => Timeout.make(d, options) as any

/** What the caller saw, plus the log of events, as a comparable string. */
const show = (exit: Exit.Exit<unknown, unknown>, log: ReadonlyArray<string>): string => {
  const outcome = Exit.match(exit, {
    onSuccess: (a) => `success(${JSON.stringify(a)})`,
    onFailure: (cause) => {
      if (Cause.isInterruptedOnly(cause)) return "interrupted"
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        const e = failure.value
        return e instanceof TimeoutError ? `TimeoutError(${Duration.format(e.duration)})` : `fail(${JSON.stringify(e)})`
      }
      return `die(${Cause.pretty(cause).split("\n")[0]})`
    }
  })
  return `${outcome} | ${log.join(", ")}`
}

interface Scenario {
  readonly name: string
  readonly live?: boolean
  /** Prototype-only behaviour (deadline propagation, which Effect.timeout lacks): the expected result. */
  readonly expected?: string
  readonly run: (timeout: TimeoutFn, log: (s: string) => Effect.Effect<void>) => Effect.Effect<unknown, unknown>
}

const at = (label: string, log: (s: string) => Effect.Effect<void>) =>
  Effect.flatMap(TestClock.currentTimeMillis, (t) => log(`${label}@${t}`))

const scenarios: ReadonlyArray<Scenario> = [
  { name: "sync success", run: (t) => Effect.succeed(1).pipe(t("1 second")) },
  { name: "sync failure", run: (t) => Effect.fail("boom").pipe(t("1 second")) },
  { name: "defect", run: (t) => Effect.dieMessage("bug").pipe(t("1 second")) },
  {
    name: "async success before the deadline (TestClock)",
    run: (t, log) =>
      Effect.gen(function*() {
        const f = yield* Effect.fork(Effect.sleep("500 millis").pipe(Effect.as(2), t("1 second")))
        yield* TestClock.adjust("500 millis")
        const r = yield* Fiber.join(f)
        yield* at("joined", log)
        return r
      })
  },
  {
    name: "deadline: the work is interrupted, its finalizer runs before the caller fails",
    run: (t, log) =>
      Effect.gen(function*() {
        const work = Effect.sleep("2 seconds").pipe(Effect.onInterrupt(() => at("work interrupted", log)))
        const f = yield* Effect.fork(Effect.onExit(t("1 second")(work), () => at("caller done", log)))
        yield* TestClock.adjust("999 millis")
        yield* log(`pending at 999: ${(yield* Fiber.poll(f))._tag}`)
        yield* TestClock.adjust("1 millis")
        return yield* Fiber.join(f)
      })
  },
  {
    name: "uninterruptible work: the caller fails after the work completes",
    run: (t, log) =>
      Effect.gen(function*() {
        const work = Effect.uninterruptible(Effect.sleep("2 seconds").pipe(Effect.zipRight(at("work done", log))))
        const f = yield* Effect.fork(Effect.onExit(t("1 second")(work), () => at("caller done", log)))
        yield* TestClock.adjust("1 second")
        yield* log(`pending at 1000: ${(yield* Fiber.poll(f))._tag}`)
        yield* TestClock.adjust("1 second")
        return yield* Fiber.join(f)
      })
  },
  {
    name: "disconnect: the caller fails at the deadline, the uninterruptible work completes later",
    run: (t, log) =>
      Effect.gen(function*() {
        const work = Effect.uninterruptible(Effect.sleep("2 seconds").pipe(Effect.zipRight(at("work done", log))))
        const f = yield* Effect.fork(Effect.onExit(t("1 second", { disconnect: true })(work), () => at("caller done", log)))
        yield* TestClock.adjust("1 second")
        const r = yield* Fiber.await(f)
        yield* TestClock.adjust("1 second")
        yield* Effect.yieldNow()
        return yield* r
      })
  },
  {
    name: "caller interrupted: the work is interrupted and awaited",
    run: (t, log) =>
      Effect.gen(function*() {
        const work = Effect.never.pipe(
          Effect.onInterrupt(() => Effect.zipRight(Effect.sleep("10 millis"), at("work finalized", log)))
        )
        const f = yield* Effect.fork(t("1 second")(work))
        yield* TestClock.adjust("100 millis")
        const interrupting = yield* Effect.fork(Fiber.interrupt(f))
        yield* TestClock.adjust("10 millis")
        yield* Fiber.join(interrupting)
        yield* at("interrupt returned", log)
        return "ok"
      })
  },
  {
    name: "FiberRefs set by the work are inherited on success",
    run: (t) =>
      Effect.gen(function*() {
        const ref = FiberRef.unsafeMake(0)
        yield* FiberRef.set(ref, 1).pipe(t("1 second"))
        const a = yield* FiberRef.get(ref)
        yield* FiberRef.set(ref, 2).pipe(Effect.zipRight(Effect.sleep("10 millis")), t("1 second"), Effect.fork, Effect.flatMap((f) => Effect.zipRight(TestClock.adjust("10 millis"), Fiber.join(f))))
        const b = yield* FiberRef.get(ref)
        return [a, b]
      })
  },
  {
    name: "1,000 concurrent calls started at different times: exactly the late ones time out",
    run: (t) =>
      Effect.gen(function*() {
        const policy = t("1 second")
        const fibers = []
        for (let i = 0; i < 1000; i++) {
          // call i needs (i % 3) × 600 ms; started 1 ms after call i−1
          fibers.push(yield* Effect.fork(policy(Effect.sleep(Duration.millis((i % 3) * 600)).pipe(Effect.as(i)))))
          yield* TestClock.adjust("1 millis")
        }
        yield* TestClock.adjust("2 seconds")
        const exits = yield* Effect.forEach(fibers, Fiber.await)
        const timedOut = exits.filter(Exit.isFailure).length
        const ok = exits.filter(Exit.isSuccess).length
        return { ok, timedOut }
      })
  },
  {
    name: "a later, shorter deadline from another policy is honoured",
    run: (t) =>
      Effect.gen(function*() {
        const long = t("10 seconds")
        const short = t("1 second")
        const a = yield* Effect.fork(long(Effect.sleep("5 seconds")))
        const b = yield* Effect.fork(short(Effect.sleep("5 seconds")))
        yield* TestClock.adjust("1 second")
        const bExit = yield* Fiber.await(b)
        yield* TestClock.adjust("4 seconds")
        const aExit = yield* Fiber.await(a)
        return [Exit.isSuccess(aExit), Exit.isFailure(bExit)]
      })
  },
  {
    name: "one policy, an earlier deadline imposed by an enclosing timeout (re-arms the shared timer)",
    run: (t, log) =>
      Effect.gen(function*() {
        const policy = t("5 seconds")
        const a = yield* Effect.fork(Effect.onExit(policy(Effect.sleep("10 seconds")), () => at("a done", log)))
        const b = yield* Effect.fork(Effect.onExit(t("1 second")(policy(Effect.sleep("10 seconds"))), () => at("b done", log)))
        yield* TestClock.adjust("1 second")
        yield* Fiber.await(b)
        yield* TestClock.adjust("4 seconds")
        yield* Fiber.await(a)
        return "ok"
      })
  },
  {
    name: "an enclosing deadline (currentDeadline, as set by Timeout.make) alone re-arms the shared timer earlier",
    expected: "TimeoutError(3s) | b done@1000, a done@5000",
    run: (t, log) =>
      Effect.gen(function*() {
        const policy = t("5 seconds")
        const a = yield* Effect.fork(Effect.onExit(policy(Effect.sleep("10 seconds")), () => at("a done", log)))
        const outer = { at: 1000, duration: Duration.seconds(3), policy: undefined }
        const b = yield* Effect.fork(
          Effect.onExit(Effect.locally(policy(Effect.sleep("10 seconds")), currentDeadline, outer), () => at("b done", log))
        )
        yield* TestClock.adjust("1 second")
        const bExit = yield* Fiber.await(b)
        yield* TestClock.adjust("4 seconds")
        yield* Fiber.await(a)
        return yield* bExit
      })
  },
  {
    name: "live clock: an enclosing 20 ms deadline inside a 300 ms policy already waiting",
    live: true,
    run: (t, log) =>
      Effect.gen(function*() {
        const policy = t("300 millis")
        const a = yield* Effect.fork(policy(Effect.sleep("1 second")))
        const start = Date.now()
        const b = yield* Effect.exit(t("20 millis")(policy(Effect.sleep("1 second"))))
        yield* log(`b timed out early: ${Exit.isFailure(b) && Date.now() - start < 200}`)
        const aExit = yield* Fiber.await(a)
        yield* log(`a timed out: ${Exit.isFailure(aExit)}`)
        return "ok"
      })
  },
  {
    name: "live clock: a 20 ms timeout fires, and no timer is left keeping the process alive",
    live: true,
    run: (t, log) =>
      Effect.gen(function*() {
        const r = yield* Effect.exit(Effect.sleep("5 seconds").pipe(t("20 millis")))
        yield* log(`timed out: ${Exit.isFailure(r)}`)
        yield* Effect.sleep("5 millis")
        const timers = process.getActiveResourcesInfo().filter((x) => x === "Timeout").length
        yield* log(`ref'd timers left: ${timers}`)
        return yield* r
      })
  }
]

const runScenario = async (s: Scenario, timeout: TimeoutFn): Promise<string> => {
  const program = Effect.gen(function*() {
    const events = yield* Ref.make<ReadonlyArray<string>>([])
    const log = (e: string) => Ref.update(events, (l) => [...l, e])
    const exit = yield* Effect.exit(s.run(timeout, log))
    return show(exit, yield* Ref.get(events))
  })
  return Effect.runPromise(s.live === true ? program : Effect.provide(program, TestContext.TestContext))
}

let failures = 0
for (const s of scenarios) {
  const expected = s.expected ?? await runScenario(s, reference)
  for (const [label, t] of [["proto", proto], ["proto (timer fiber)", protoFiber], ["Timeout.make", library]] as const) {
    const actual = await runScenario(s, t)
    const ok = actual === expected
    if (!ok) failures++
    console.log(`${ok ? "ok  " : "FAIL"} ${s.name} [${label}]${ok ? "" : `\n     expected: ${expected}\n     actual:   ${actual}`}`)
  }
  console.log(`     → ${expected}`)
}
console.log(failures === 0 ? "\nthe prototype (and Timeout.make) behave as Effect.timeout in every scenario" : `\n${failures} mismatches`)
process.exit(failures === 0 ? 0 : 1)
