/**
 * Closing a scope after building the library inside an uninterruptible region
 * (test/reliability/UninterruptibleScope.test.ts, test/redis/UninterruptibleScope.test.ts).
 *
 * In Effect 3 a forked fiber (`forkScoped`, `forkIn`, `forkDaemon`, `Runtime.runFork` with a runtime
 * captured by `Effect.runtime()`) takes the runtime flags of the fiber that forks it. A policy or a
 * layer built inside `Effect.uninterruptible`, the acquire of `Effect.acquireRelease`, or a Layer
 * provided from inside one would start its background loops uninterruptible, and closing its scope
 * (which interrupts the loop and waits for it) would hang for good.
 *
 * - {@link Tracker}: a `Supervisor` around the program: every fiber it (and the library under it)
 *   forks, and which are still running.
 * - {@link runToEnd}: forks the program as a daemon (a hung program must not hold up the test's
 *   own end), waits for it with a bounded poll, fails with the fibers that are left (and whether
 *   they are uninterruptible) instead of hanging, then checks that nothing it forked still runs.
 *
 * @internal
 */
import { assert } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, FiberId, type FiberStatus, Layer, Option, RuntimeFlags, Supervisor, TestClock } from "effect"
import { realSleep } from "./realTime.js"

/** Every fiber forked under it, and which are still running. */
export class Tracker extends Supervisor.AbstractSupervisor<void> {
  readonly live = new Set<Fiber.RuntimeFiber<any, any>>()
  started = 0
  readonly value: Effect.Effect<void> = Effect.void

  override onStart<A, E, R>(
    _context: unknown,
    _effect: Effect.Effect<A, E, R>,
    _parent: Option.Option<Fiber.RuntimeFiber<any, any>>,
    fiber: Fiber.RuntimeFiber<A, E>
  ): void {
    this.started++
    this.live.add(fiber)
  }

  override onEnd<A, E>(_value: Exit.Exit<A, E>, fiber: Fiber.RuntimeFiber<A, E>): void {
    this.live.delete(fiber)
  }
}

const statusOf = (fiber: Fiber.RuntimeFiber<any, any>): Effect.Effect<string> =>
  Effect.map(Fiber.status(fiber), (status: FiberStatus.FiberStatus) => {
    if (status._tag === "Done") return `#${FiberId.threadName(fiber.id())} done`
    const interruptible = RuntimeFlags.interruptible(status.runtimeFlags)
    return `#${FiberId.threadName(fiber.id())} ${status._tag.toLowerCase()}, ${interruptible ? "interruptible" : "UNINTERRUPTIBLE"}`
  })

/** The fibers still running, one line each (id, running or suspended, interruptible or not). */
export const describeFibers = (fibers: Iterable<Fiber.RuntimeFiber<any, any>>): Effect.Effect<string> =>
  Effect.map(Effect.forEach(Array.from(fibers), statusOf), (lines) => lines.length === 0 ? "none" : lines.join("; "))

export interface RunOptions {
  /** The program moves the TestClock (settle its warning fibers with `TestClock.adjust(0)` once it ended). Default true. */
  readonly testClock?: boolean | undefined
  /** Real time the program may take to end: a hang guard, never a timing assertion. Default 4 s. */
  readonly guardMillis?: number | undefined
}

/**
 * Runs `program` on a daemon fiber under a {@link Tracker} and waits for it: yields and real 2-ms
 * waits (what a real socket, a redis-server or `TestClock.adjust`'s own `setTimeout(0)` need),
 * bounded by `guardMillis`. Fails — never hangs — when the program did not end (its scope's close
 * hung) or ended with a failure, and when a fiber it forked is still running once it ended. Its
 * answer.
 */
export const runToEnd = <A>(
  label: string,
  program: Effect.Effect<A, unknown>,
  options: RunOptions = {}
): Effect.Effect<A> =>
  Effect.gen(function*() {
    const guardMillis = options.guardMillis ?? 4_000
    const tracker = new Tracker()
    const fiber = yield* Effect.forkDaemon(Effect.supervised(program, tracker))
    const started = performance.now()
    let exit = fiber.unsafePoll()
    for (let i = 0; exit === null && performance.now() - started < guardMillis; i++) {
      if (i % 4 === 3) yield* realSleep(2)
      else yield* Effect.yieldNow()
      exit = fiber.unsafePoll()
    }
    if (exit === null) {
      const left = yield* describeFibers(tracker.live)
      return assert.fail(
        `${label}: did not end within ${guardMillis} ms of real time (its scope's close hangs: it interrupts a ` +
          `background fiber and waits for it). Fibers of the program still running: ${left}`
      )
    }
    if (Exit.isFailure(exit)) return assert.fail(`${label}: failed: ${Cause.pretty(exit.cause)}`)
    // nothing left: every fiber the program (or the library under it) forked has ended
    if (options.testClock !== false) yield* TestClock.adjust(0) // ends TestClock's own warning fibers
    const settled = performance.now()
    for (let i = 0; tracker.live.size > 0 && performance.now() - settled < 2_000; i++) {
      if (i % 4 === 3) yield* realSleep(2)
      else yield* Effect.yieldNow()
    }
    if (tracker.live.size > 0) {
      const left = yield* describeFibers(tracker.live)
      assert.fail(`${label}: ended, but fibers it forked are still running after its scope closed: ${left}`)
    }
    return exit.value
  })

/** How a case is built: a scoped constructor, or a Layer. */
export type Subject =
  | {
    readonly kind: "make"
    /** Builds it in the current scope. */
    readonly make: Effect.Effect<any, unknown, any>
    /** Uses it until its background fibers run; what it answered (compared with the control's). */
    readonly use: (built: any) => Effect.Effect<unknown, unknown, any>
  }
  | {
    readonly kind: "layer"
    readonly layer: Layer.Layer<any, unknown, any>
    /** Uses what the layer provides until its background fibers run; what it answered. */
    readonly use: Effect.Effect<unknown, unknown, any>
  }

/** A way of running a subject: the control (no region), or one uninterruptible region. */
export interface Mode {
  readonly name: string
  readonly control: boolean
  readonly run: (subject: Subject) => Effect.Effect<unknown, unknown, any>
}

const release = () => Effect.void

export const modesFor = (kind: Subject["kind"]): ReadonlyArray<Mode> =>
  kind === "make"
    ? [
      {
        name: "control (no uninterruptible region)",
        control: true,
        run: (s) => s.kind === "make" ? Effect.scoped(Effect.flatMap(s.make, s.use)) : Effect.die("a make subject")
      },
      {
        name: "built and used inside Effect.uninterruptible",
        control: false,
        run: (s) => s.kind === "make" ? Effect.scoped(Effect.uninterruptible(Effect.flatMap(s.make, s.use))) : Effect.die("a make subject")
      },
      {
        name: "built in Effect.acquireRelease's acquire, used after",
        control: false,
        run: (s) => s.kind === "make" ? Effect.scoped(Effect.flatMap(Effect.acquireRelease(s.make, release), s.use)) : Effect.die("a make subject")
      }
    ]
    : [
      {
        name: "control (Effect.provide, no uninterruptible region)",
        control: true,
        run: (s) => s.kind === "layer" ? Effect.provide(s.use, s.layer) : Effect.die("a layer subject")
      },
      {
        name: "provided inside Effect.uninterruptible",
        control: false,
        run: (s) => s.kind === "layer" ? Effect.uninterruptible(Effect.provide(s.use, s.layer)) : Effect.die("a layer subject")
      },
      {
        name: "provided inside Effect.acquireRelease's acquire",
        control: false,
        run: (s) =>
          s.kind === "layer" ? Effect.scoped(Effect.acquireRelease(Effect.provide(s.use, s.layer), release)) : Effect.die("a layer subject")
      },
      {
        name: "built (Layer.build) in Effect.acquireRelease's acquire, used after",
        control: false,
        run: (s) =>
          s.kind === "layer"
            ? Effect.scoped(Effect.flatMap(Effect.acquireRelease(Layer.build(s.layer), release), (ctx) => Effect.provide(s.use, ctx)))
            : Effect.die("a layer subject")
      }
    ]

/** A constructor under test: its name and a fresh subject per run (`id`: unique names, so runs share no state). */
export interface Case {
  readonly name: string
  readonly subject: (id: string) => Subject
  /** Provided around each run, below the region (a service the case registers into). */
  readonly outside?: Layer.Layer<any, unknown> | undefined
  /** Real time each run may take (a real server's round trips); default 4 s. */
  readonly guardMillis?: number | undefined
}

let runs = 0
/** A fresh id per run. */
export const freshId = (what: string): string => `${what}-${process.pid}-${++runs}`

/**
 * The test of one case in one mode: the control program must end and leave nothing; in a
 * region, the same program must end too, leave nothing, and answer what the control answered.
 */
export const check = (c: Case, mode: Mode, options: { readonly testClock?: boolean } = {}) =>
  Effect.gen(function*() {
    const guardMillis = c.guardMillis
    const outside = c.outside
    const below = <A>(self: Effect.Effect<A, unknown, any>): Effect.Effect<A, unknown> =>
      (outside === undefined ? self : Effect.provide(self, outside)) as Effect.Effect<A, unknown>
    const expected = yield* runToEnd(`${c.name}, control`, below(modeOf(c, true).run(c.subject(freshId(c.name)))), {
      guardMillis,
      testClock: options.testClock
    })
    if (mode.control) return
    const got = yield* runToEnd(`${c.name}, ${mode.name}`, below(mode.run(c.subject(freshId(c.name)))), {
      guardMillis,
      testClock: options.testClock
    })
    assert.deepStrictEqual(got, expected, `${c.name}, ${mode.name}: answers as without the region`)
  })

const modeOf = (c: Case, control: boolean): Mode => {
  const kind = c.subject("probe").kind
  return modesFor(kind).find((m) => m.control === control)!
}

/** `Option` as plain data, for answers. */
export const plainOption = <A>(o: Option.Option<A>): A | null => Option.getOrNull(o)
