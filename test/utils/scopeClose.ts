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
 * - The table: a {@link Case} per constructor (how to build it, how to use it until its background
 *   fibers run), most of them from a {@link family} (one module's constructors sharing a use);
 *   {@link describeCases} crosses every case with the ways of {@link modesFor} (the control, and
 *   each uninterruptible region), one test each, through {@link check}.
 * - {@link runToEnd}: forks the program as a daemon under a {@link CallTree} (the supervisor of
 *   test/utils/interruption.ts: every fiber forked under it, which still run, how often any ran),
 *   waits for it under a {@link Guard}, fails with the fibers that are left (and whether they are
 *   uninterruptible) instead of hanging, then checks that nothing it forked still runs.
 *
 * @internal
 */
import { assert, describe, type it } from "@effect/vitest"
import {
  Cause,
  ConfigProvider,
  type Context,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberId,
  type FiberStatus,
  Layer,
  Option,
  RuntimeFlags,
  Scheduler,
  TestClock
} from "effect"
import { CallTree } from "./interruption.js"
import { realSleep } from "./realTime.js"

// --- answers -----------------------------------------------------------------------------------

const tagOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "_tag" in e ? String((e as { _tag: unknown })._tag) : String(e)

/** What a call answered, as plain data (errors by tag: their messages carry the run's names). */
export const outcome = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<string, never, R> =>
  Effect.map(Effect.either(self), Either.match({ onLeft: (e) => `error ${tagOf(e)}`, onRight: (a) => `ok ${String(a)}` }))

export const boom = Effect.fail("boom")

const provider = (values: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(values)), { pathDelim: "." })
/** A `fromConfig` read from `values`. */
export const withConfig = (values: Record<string, string>) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.withConfigProvider(self, provider(values))
/** The config provider of a `layerConfig` (to `Layer.provide`). */
export const configLayer = (values: Record<string, string>) => Layer.setConfigProvider(provider(values))

/** A policy made on a store made first (`makeStore… + make`), the store provided to the policy's constructor. */
export const onStore = <S, I, A, E, E2, R>(
  store: Effect.Effect<S, E, R>,
  tag: Context.Tag<I, S>,
  policy: Effect.Effect<A, E2, any>
): Effect.Effect<A, E | E2, any> => Effect.flatMap(store, (s) => Effect.provideService(policy, tag, s))

// --- the hang guard ----------------------------------------------------------------------------

/**
 * How long a program may take to end: a hang guard, never a timing assertion.
 *
 * - `yields` (a program on the TestClock, in memory): the guard never waits for a duration; it
 *   only yields (`Effect.yieldNow()`) and counts. The program has hung when no fiber of it ran
 *   (the {@link CallTree}'s `resumes`) for `idleYields` yields in a row — every fiber blocked on
 *   something nothing will answer — or, busy but never ending, after `maxYields` yields in all.
 *   The guard yields on a scheduler of its own that hands the event loop a turn every `turnEvery`
 *   yields (Effect's default scheduler: every 2,048), the turn `TestClock.adjust`'s own
 *   `setTimeout(0)` polls need: a program that is merely waiting for that turn stays idle for
 *   exactly `turnEvery` yields (measured: never more), so `idleYields` is 20 turns.
 * - `realMillis` (a real socket, a real process): yields and real 2-ms waits, bounded in real time.
 */
export type Guard =
  | {
    readonly _tag: "yields"
    readonly turnEvery: number
    readonly idleYields: number
    readonly maxYields: number
  }
  | { readonly _tag: "realMillis"; readonly millis: number }

/** The guard of the in-memory cases (the longest of them ends within ~5,600 yields). */
export const yieldGuard: Guard = { _tag: "yields", turnEvery: 32, idleYields: 32 * 20, maxYields: 50_000 }
export const realTimeGuard = (millis: number): Guard => ({ _tag: "realMillis", millis })

/** Waits until `done()` or the guard gives up: nothing when `done()` held, else why not (for the failure). */
const waitFor = (done: () => boolean, tree: CallTree, guard: Guard): Effect.Effect<Option.Option<string>> =>
  guard._tag === "yields"
    ? Effect.withScheduler(waitYielding(done, tree, guard), new Scheduler.MixedScheduler(guard.turnEvery))
    : waitReal(done, guard)

const waitYielding = (done: () => boolean, tree: CallTree, guard: Extract<Guard, { _tag: "yields" }>) =>
  Effect.gen(function*() {
    let seen = tree.resumes
    let idle = 0
    for (let i = 0; !done() && i < guard.maxYields && idle < guard.idleYields; i++) {
      yield* Effect.yieldNow()
      if (tree.resumes === seen) idle++
      else {
        idle = 0
        seen = tree.resumes
      }
    }
    return done()
      ? Option.none<string>()
      : Option.some(
        idle >= guard.idleYields
          ? `no fiber of it ran for ${guard.idleYields} yields in a row (every one blocked for good)`
          : `it was still running after ${guard.maxYields} yields`
      )
  })

const waitReal = (done: () => boolean, guard: Extract<Guard, { _tag: "realMillis" }>) =>
  Effect.gen(function*() {
    const started = performance.now()
    for (let i = 0; !done() && performance.now() - started < guard.millis; i++) {
      if (i % 4 === 3) yield* realSleep(2)
      else yield* Effect.yieldNow()
    }
    return done() ? Option.none<string>() : Option.some(`it did not end within ${guard.millis} ms of real time`)
  })

const statusOf = (fiber: Fiber.RuntimeFiber<any, any>): Effect.Effect<string> =>
  Effect.map(Fiber.status(fiber), (status: FiberStatus.FiberStatus) => {
    if (status._tag === "Done") return `${FiberId.threadName(fiber.id())} done`
    const interruptible = RuntimeFlags.interruptible(status.runtimeFlags)
    return `${FiberId.threadName(fiber.id())} ${status._tag.toLowerCase()}, ${interruptible ? "interruptible" : "UNINTERRUPTIBLE"}`
  })

/** The fibers still running, one line each (id, running or suspended, interruptible or not). */
export const describeFibers = (fibers: Iterable<Fiber.RuntimeFiber<any, any>>): Effect.Effect<string> =>
  Effect.map(Effect.forEach(Array.from(fibers), statusOf), (lines) => lines.length === 0 ? "none" : lines.join("; "))

export interface RunOptions {
  /** The program moves the TestClock (settle its warning fibers with `TestClock.adjust(0)` once it ended). Default true. */
  readonly testClock?: boolean | undefined
  /** Default {@link yieldGuard}. */
  readonly guard?: Guard | undefined
}

/**
 * Runs `program` on a daemon fiber under a {@link CallTree} and waits for it under the guard.
 * Fails — never hangs — when the program did not end (its scope's close hung) or ended with a
 * failure, and when a fiber it forked is still running once it ended. Its answer.
 */
export const runToEnd = <A>(
  label: string,
  program: Effect.Effect<A, unknown>,
  options: RunOptions = {}
): Effect.Effect<A> =>
  Effect.gen(function*() {
    const guard = options.guard ?? yieldGuard
    const tree = new CallTree()
    const fiber = yield* Effect.forkDaemon(Effect.supervised(program, tree))
    const hung = yield* waitFor(() => fiber.unsafePoll() !== null, tree, guard)
    const exit = fiber.unsafePoll()
    if (Option.isSome(hung) || exit === null) {
      const left = yield* describeFibers(tree.live)
      return assert.fail(
        `${label}: did not end: ${Option.getOrElse(hung, () => "")} (as when its scope's close interrupts an ` +
          `uninterruptible background fiber and waits for it). Fibers it forked still running: ${left}`
      )
    }
    if (Exit.isFailure(exit)) return assert.fail(`${label}: failed: ${Cause.pretty(exit.cause)}`)
    // nothing left: every fiber the program (or the library under it) forked has ended
    if (options.testClock !== false) yield* TestClock.adjust(0) // ends TestClock's own warning fibers
    const left = yield* waitFor(() => tree.live.size === 0, tree, guard._tag === "yields" ? guard : realTimeGuard(2_000))
    if (Option.isSome(left)) {
      assert.fail(`${label}: ended, but fibers it forked are still running after its scope closed (${left.value}): ${yield* describeFibers(tree.live)}`)
    }
    return exit.value
  })

// --- subjects, ways, cases ---------------------------------------------------------------------

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

const makeMode = (name: string, control: boolean, run: (make: Effect.Effect<any, unknown, any>, use: (built: any) => Effect.Effect<unknown, unknown, any>) => Effect.Effect<unknown, unknown, any>): Mode => ({
  name,
  control,
  run: (s) => s.kind === "make" ? run(s.make, s.use) : Effect.die("a make subject")
})
const layerMode = (name: string, control: boolean, run: (layer: Layer.Layer<any, unknown, any>, use: Effect.Effect<unknown, unknown, any>) => Effect.Effect<unknown, unknown, any>): Mode => ({
  name,
  control,
  run: (s) => s.kind === "layer" ? run(s.layer, s.use) : Effect.die("a layer subject")
})

const makeModes: ReadonlyArray<Mode> = [
  makeMode("control (no uninterruptible region)", true, (make, use) => Effect.scoped(Effect.flatMap(make, use))),
  makeMode("built and used inside Effect.uninterruptible", false, (make, use) => Effect.scoped(Effect.uninterruptible(Effect.flatMap(make, use)))),
  makeMode("built in Effect.acquireRelease's acquire, used after", false, (make, use) =>
    Effect.scoped(Effect.flatMap(Effect.acquireRelease(make, release), use)))
]

const layerModes: ReadonlyArray<Mode> = [
  layerMode("control (Effect.provide, no uninterruptible region)", true, (layer, use) => Effect.provide(use, layer)),
  layerMode("provided inside Effect.uninterruptible", false, (layer, use) => Effect.uninterruptible(Effect.provide(use, layer))),
  layerMode("provided inside Effect.acquireRelease's acquire", false, (layer, use) =>
    Effect.scoped(Effect.acquireRelease(Effect.provide(use, layer), release))),
  layerMode("built (Layer.build) in Effect.acquireRelease's acquire, used after", false, (layer, use) =>
    Effect.scoped(Effect.flatMap(Effect.acquireRelease(Layer.build(layer), release), (ctx) => Effect.provide(use, ctx))))
]

/** The ways of running a subject of this kind: the control first, then every uninterruptible region. */
export const modesFor = (kind: Subject["kind"]): ReadonlyArray<Mode> => kind === "make" ? makeModes : layerModes

/** A constructor under test: its name and a fresh subject per run (`id`: unique names, so runs share no state). */
export interface Case {
  readonly name: string
  readonly subject: (id: string) => Subject
  /** Provided around each run, below the region (a service the case registers into). */
  readonly outside?: Layer.Layer<any, unknown> | undefined
  /** Real time each run may take (a real socket or server): the real-time guard. Without it, the yield guard. */
  readonly guardMillis?: number | undefined
}

/** How a member of a {@link family} is built, given the run's id: a scoped constructor, or a Layer providing the family's tag. */
export type Build =
  | { readonly make: (id: string) => Effect.Effect<any, unknown, any> }
  | { readonly layer: (id: string) => Layer.Layer<any, unknown, any> }

export const made = (make: (id: string) => Effect.Effect<any, unknown, any>): Build => ({ make })
export const layered = (layer: (id: string) => Layer.Layer<any, unknown, any>): Build => ({ layer })

/**
 * One module's constructors, used the same way: each member a {@link Case} named by its key. A
 * `make` member's use gets what it built; a `layer` member's use gets the service under `tag`.
 */
export const family = <S>(
  shared: {
    readonly tag: Context.Tag<any, S>
    readonly use: (service: S) => Effect.Effect<unknown, unknown, any>
    readonly outside?: Layer.Layer<any, unknown> | undefined
  },
  members: Record<string, Build>
): Array<Case> =>
  Object.entries(members).map(([name, build]) => ({
    name,
    ...(shared.outside === undefined ? {} : { outside: shared.outside }),
    subject: (id) =>
      "make" in build
        ? { kind: "make", make: build.make(id), use: shared.use }
        : { kind: "layer", layer: build.layer(id), use: Effect.flatMap(shared.tag, shared.use) }
  }))

let runs = 0
/** A fresh id per run. */
export const freshId = (what: string): string => `${what}-${process.pid}-${++runs}`

/**
 * The test of one case in one mode: the control program must end and leave nothing; in a
 * region, the same program must end too, leave nothing, and answer what the control answered.
 */
export const check = (c: Case, mode: Mode, options: { readonly testClock?: boolean } = {}) =>
  Effect.gen(function*() {
    const guard = c.guardMillis === undefined ? yieldGuard : realTimeGuard(c.guardMillis)
    const outside = c.outside
    const below = <A>(self: Effect.Effect<A, unknown, any>): Effect.Effect<A, unknown> =>
      (outside === undefined ? self : Effect.provide(self, outside)) as Effect.Effect<A, unknown>
    const kind = c.subject("probe").kind
    const control = modesFor(kind)[0]!
    const expected = yield* runToEnd(`${c.name}, control`, below(control.run(c.subject(freshId(c.name)))), {
      guard,
      testClock: options.testClock
    })
    if (mode.control) return
    const got = yield* runToEnd(`${c.name}, ${mode.name}`, below(mode.run(c.subject(freshId(c.name)))), {
      guard,
      testClock: options.testClock
    })
    assert.deepStrictEqual(got, expected, `${c.name}, ${mode.name}: answers as without the region`)
  })

/** Every case crossed with every way of {@link modesFor}: a `describe` per case, a test per way. */
export const describeCases = (
  cases: ReadonlyArray<Case>,
  options: {
    readonly test: typeof it.effect | typeof it.live
    readonly timeout: number
    readonly testClock?: boolean
  }
): void => {
  for (const c of cases) {
    describe(c.name, () => {
      for (const mode of modesFor(c.subject("probe").kind)) {
        options.test(
          mode.control ? `${mode.name}: ends, leaves no fiber` : `${mode.name}: ends, leaves no fiber, answers as the control`,
          () => check(c, mode, options.testClock === undefined ? {} : { testClock: options.testClock }),
          options.timeout
        )
      }
    })
  }
}

/** `Option` as plain data, for answers. */
export const plainOption = <A>(o: Option.Option<A>): A | null => Option.getOrNull(o)

/** A case on its own: a scoped constructor and its use. */
export const makeCase = (
  name: string,
  make: (id: string) => Effect.Effect<any, unknown, any>,
  use: (built: any) => Effect.Effect<unknown, unknown, any>,
  extra: Pick<Case, "outside" | "guardMillis"> = {}
): Case => ({ name, ...extra, subject: (id) => ({ kind: "make", make: make(id), use }) })

/** A case on its own: a Layer and a use of what it provides. */
export const layerCase = (
  name: string,
  layer: (id: string) => Layer.Layer<any, unknown, any>,
  use: Effect.Effect<unknown, unknown, any>,
  extra: Pick<Case, "outside" | "guardMillis"> = {}
): Case => ({ name, ...extra, subject: (id) => ({ kind: "layer", layer: layer(id), use }) })
