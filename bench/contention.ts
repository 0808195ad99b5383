/**
 * Contention: N callers at once through a limit of 100 permits, each holding
 * its permit for ~1 ms — the moment a bulkhead exists for.
 *
 *   npx tsx bench/contention.ts                     10,000 and 100,000 callers
 *   npx tsx bench/contention.ts --callers 10000     one size
 *   npx tsx bench/contention.ts --deadline 15000    give up on a case after 15 s
 *   npx tsx bench/contention.ts --spawn runPromise  start Effect callers with runPromise, not fork
 *   npx tsx bench/contention.ts --case "ours|fifo"  only the cases matching a regex
 *   npx tsx bench/contention.ts --in-process        no child processes (less isolation)
 *
 * Cases (all in the same run, each in its own child process by default, so
 * that one case's heap and leftover fibers cannot slow the next, and a case
 * that never finishes can be killed at the deadline):
 * - `fifo`: a hand-rolled FIFO promise limiter (an array queue with a head
 *   index, one resolver per waiter); the reference the ratios are taken to.
 * - `ours: Bulkhead`: `Bulkhead.make({ maxConcurrent: 100, maxQueue: Infinity })`.
 * - `ours: FifoSemaphore`: the semaphore under it, `withPermits(1)`.
 * - `cockatiel: bulkhead(100, Infinity)`.
 * - `effect: Effect.makeSemaphore(100)`: Effect 3.22's semaphore, which wakes
 *   every waiter on each release. Given a deadline (default 15 s): "did not
 *   finish" when it passes. At 100,000 callers it is not run when it did not
 *   finish 10,000.
 * - `effect: no limit`: the same N fibers sleeping 1 ms without any limiter —
 *   the cost of forking and scheduling N Effect fibers, which every Effect
 *   case pays and no limiter can remove.
 *
 * Promise callers are N calls of an async function started in one loop;
 * Effect callers are N fibers forked at once (`Effect.forEach` with
 * `concurrency: "unbounded"`), each running `limiter(Effect.sleep("1 millis"))`.
 * Each measured run is preceded by a warm-up run of the same case with 2,000
 * callers (not for Effect's semaphore, which would not finish it in time).
 * Heap is the peak `heapUsed` sampled every 20 ms in the case's process.
 *
 * `runContention(options)` is what `bench/run.ts` calls
 * (`npm run bench -- --filter contention`): it returns one row per case and
 * size.
 *
 * @internal
 */
import { bulkhead as cockatielBulkhead } from "cockatiel"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Bulkhead from "../src/Bulkhead.js"

/**
 * The semaphore under the Bulkhead, loaded only by its own case: it is
 * internal, and may move or change shape without breaking the other cases.
 */
const fifoSemaphore = async (permits: number): Promise<{ readonly withPermits: (n: number) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> }> => {
  const specifier = "../src/internal/bulkhead/semaphore.js"
  const mod = await import(specifier)
  if (typeof mod.unsafeMake !== "function") throw new Error("src/internal/bulkhead/semaphore.ts no longer exports unsafeMake")
  return mod.unsafeMake(permits)
}

// ---------------------------------------------------------------------------
// Cases

/** The cases, in the order they are run and printed. */
export const CASES = [
  "fifo: hand-rolled FIFO limiter",
  "ours: Bulkhead",
  "ours: FifoSemaphore",
  "cockatiel: bulkhead(100, Infinity)",
  "effect: Effect.makeSemaphore(100)",
  "effect: no limit (N fibers, sleep 1 ms)"
] as const

/** @internal */
export type CaseName = (typeof CASES)[number]

const REFERENCE: CaseName = "fifo: hand-rolled FIFO limiter"
const EFFECT_SEMAPHORE: CaseName = "effect: Effect.makeSemaphore(100)"
/** The same N fibers without a limiter (`bench/targets.ts` compares the Bulkhead with it). @internal */
export const NO_LIMIT: CaseName = "effect: no limit (N fibers, sleep 1 ms)"
/** @internal */
export const OURS_BULKHEAD: CaseName = "ours: Bulkhead"

const sleepPromise = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A FIFO limiter as one would write it by hand: an array queue with a head index. */
class FifoLimiter {
  private active = 0
  private readonly queue: Array<() => void> = []
  private head = 0
  constructor(private readonly limit: number) {}
  async run<A>(f: () => Promise<A>): Promise<A> {
    if (this.active < this.limit) {
      this.active++
    } else {
      await new Promise<void>((resolve) => this.queue.push(resolve))
    }
    try {
      return await f()
    } finally {
      if (this.head < this.queue.length) {
        const next = this.queue[this.head]!
        this.queue[this.head++] = undefined as never
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head)
          this.head = 0
        }
        next() // the permit passes to the next caller
      } else {
        this.active--
      }
    }
  }
}

/**
 * How Effect callers are started: `"fork"`, N fibers forked at once from one
 * Effect (`Effect.forEach` with `concurrency: "unbounded"`); `"runPromise"`,
 * N `Effect.runPromise` calls from one loop, as the Promise cases start theirs.
 */
export type Spawn = "fork" | "runPromise"

const runAll = (spawn: Spawn, callers: number, call: Effect.Effect<unknown, unknown>): Promise<void> => {
  if (spawn === "fork") {
    return Effect.runPromise(
      Effect.forEach(Array.from({ length: callers }), () => call, { concurrency: "unbounded", discard: true })
    )
  }
  const all: Array<Promise<unknown>> = []
  for (let i = 0; i < callers; i++) all.push(Effect.runPromise(call))
  return Promise.all(all).then(() => undefined)
}

/** Runs one case to completion; resolves when every caller is done. */
const runCase = async (
  name: CaseName,
  callers: number,
  permits: number,
  holdMillis: number,
  spawn: Spawn
): Promise<void> => {
  const hold = Effect.sleep(`${holdMillis} millis`)
  switch (name) {
    case "fifo: hand-rolled FIFO limiter": {
      const limiter = new FifoLimiter(permits)
      const all: Array<Promise<void>> = []
      for (let i = 0; i < callers; i++) all.push(limiter.run(() => sleepPromise(holdMillis)))
      await Promise.all(all)
      return
    }
    case "cockatiel: bulkhead(100, Infinity)": {
      const policy = cockatielBulkhead(permits, Infinity)
      const all: Array<Promise<void>> = []
      for (let i = 0; i < callers; i++) all.push(policy.execute(() => sleepPromise(holdMillis)))
      await Promise.all(all)
      return
    }
    case "ours: Bulkhead": {
      const scope = Effect.runSync(Scope.make())
      const bulkhead = await Effect.runPromise(
        Scope.extend(Bulkhead.make({ maxConcurrent: permits, maxQueue: Infinity, name: "contention" }), scope)
      )
      await runAll(spawn, callers, bulkhead(hold))
      await Effect.runPromise(Scope.close(scope, Exit.void))
      return
    }
    case "ours: FifoSemaphore":
      await runAll(spawn, callers, (await fifoSemaphore(permits)).withPermits(1)(hold))
      return
    case "effect: Effect.makeSemaphore(100)":
      await runAll(spawn, callers, Effect.unsafeMakeSemaphore(permits).withPermits(1)(hold))
      return
    case "effect: no limit (N fibers, sleep 1 ms)":
      await runAll(spawn, callers, hold)
      return
  }
}

// ---------------------------------------------------------------------------
// Measuring one case (in this process)

interface Measured {
  readonly ms: number
  /** CPU time (user + system, all threads) of the process during the measured run, in ms. */
  readonly cpuMs?: number | undefined
  readonly peakHeapMB: number
}

/** Callers of the warm-up run that precedes each measured run (skipped for Effect's semaphore). */
const WARMUP_CALLERS = 2_000

const heapMB = () => process.memoryUsage().heapUsed / 1024 / 1024

const measureHere = async (
  name: CaseName,
  callers: number,
  permits: number,
  holdMillis: number,
  spawn: Spawn,
  onSample?: (peakHeapMB: number) => void
): Promise<Measured> => {
  // warm up (JIT) with a smaller run of the same case, then measure
  if (name !== EFFECT_SEMAPHORE) await runCase(name, Math.min(callers, WARMUP_CALLERS), permits, holdMillis, spawn)
  let peak = heapMB()
  const sampler = setInterval(() => {
    peak = Math.max(peak, heapMB())
    onSample?.(peak)
  }, 20)
  sampler.unref()
  const started = performance.now()
  const cpu0 = process.cpuUsage()
  try {
    await runCase(name, callers, permits, holdMillis, spawn)
  } finally {
    clearInterval(sampler)
  }
  const ms = performance.now() - started
  const cpu = process.cpuUsage(cpu0)
  peak = Math.max(peak, heapMB())
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, peakHeapMB: peak }
}

// ---------------------------------------------------------------------------
// Measuring one case in a child process, with a deadline

/** @internal */
export type Outcome =
  | { readonly _tag: "Finished"; readonly ms: number; readonly cpuMs?: number | undefined; readonly peakHeapMB: number }
  | { readonly _tag: "DidNotFinish"; readonly peakHeapMB: number | undefined; readonly why: string }

const thisFile = fileURLToPath(import.meta.url)

/** Heap cap of a case's process: a herd must not take the shared machine down. */
const CHILD_HEAP_MB = 4096

/**
 * Runs one case in a fresh `node` process (a warm-up run of 2,000 callers, then
 * the measured run), killed at the deadline. @internal
 */
export const measureInChild = (
  name: CaseName,
  callers: number,
  permits: number,
  holdMillis: number,
  spawnMode: Spawn,
  deadlineMillis: number
): Promise<Outcome> =>
  new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        `--max-old-space-size=${CHILD_HEAP_MB}`,
        thisFile,
        "--child",
        name,
        String(callers),
        String(permits),
        String(holdMillis),
        spawnMode
      ],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let peakHeapMB: number | undefined
    let result: Measured | undefined
    let stderr = ""
    let buffered = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      buffered += chunk
      let newline = buffered.indexOf("\n")
      while (newline >= 0) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        try {
          const message = JSON.parse(line) as { peakHeapMB?: number; ms?: number }
          if (typeof message.peakHeapMB === "number") peakHeapMB = message.peakHeapMB
          if (typeof message.ms === "number") result = message as Measured
        } catch {
          // not ours
        }
        newline = buffered.indexOf("\n")
      }
    })
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000)
    })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill("SIGKILL")
    }, deadlineMillis)
    child.on("exit", (code) => {
      clearTimeout(timer)
      if (result !== undefined && code === 0) {
        resolve({ _tag: "Finished", ms: result.ms, cpuMs: result.cpuMs, peakHeapMB: result.peakHeapMB })
      } else if (timedOut) {
        resolve({ _tag: "DidNotFinish", peakHeapMB, why: `did not finish in ${(deadlineMillis / 1000).toFixed(0)} s` })
      } else {
        const oom = /heap out of memory|Allocation failed/i.test(stderr)
        resolve({
          _tag: "DidNotFinish",
          peakHeapMB,
          why: oom ? `out of memory (${CHILD_HEAP_MB} MB heap cap)` : `crashed (exit ${String(code)})`
        })
      }
    })
  })

const measureInProcess = async (
  name: CaseName,
  callers: number,
  permits: number,
  holdMillis: number,
  spawnMode: Spawn,
  deadlineMillis: number
): Promise<Outcome> => {
  let peak: number | undefined
  const run = measureHere(name, callers, permits, holdMillis, spawnMode, (p) => (peak = p))
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<"deadline">((resolve) => {
    timer = setTimeout(() => resolve("deadline"), deadlineMillis)
  })
  const winner = await Promise.race([run, deadline])
  clearTimeout(timer)
  if (winner === "deadline") {
    // the case keeps running in the background; later cases are disturbed
    return { _tag: "DidNotFinish", peakHeapMB: peak, why: `did not finish in ${(deadlineMillis / 1000).toFixed(0)} s` }
  }
  return { _tag: "Finished", ...winner }
}

// ---------------------------------------------------------------------------
// The public entry point

/**
 * Options of {@link runContention}.
 *
 * @internal
 */
export interface ContentionOptions {
  /** Caller counts. Defaults to `[10_000, 100_000]`. */
  readonly callers?: ReadonlyArray<number> | undefined
  /** Permits of every limiter. Defaults to 100. */
  readonly permits?: number | undefined
  /** How long each caller holds its permit, in ms. Defaults to 1. */
  readonly holdMillis?: number | undefined
  /** Effect's own semaphore is given this long before it is reported as "did not finish". Defaults to 15,000 ms. */
  readonly deadlineMillis?: number | undefined
  /** Every other case is given this long (a safety net). Defaults to 120,000 ms. */
  readonly safetyDeadlineMillis?: number | undefined
  /** How Effect callers are started (see {@link Spawn}). Defaults to `"fork"`. */
  readonly spawn?: Spawn | undefined
  /** Which cases. Defaults to all of {@link CASES}. */
  readonly cases?: ReadonlyArray<CaseName> | undefined
  /** Run each case in its own child process (default `true`). */
  readonly isolate?: boolean | undefined
  /** Progress lines (e.g. `console.log`). Defaults to none. */
  readonly print?: ((line: string) => void) | undefined
}

/**
 * One row of the result.
 *
 * @internal
 */
export interface ContentionRow {
  readonly case: string
  readonly callers: number
  /** Wall time in ms, or why there is none ("did not finish in 15 s"). */
  readonly ms: string
  /** Time ÷ the hand-rolled FIFO limiter's time at the same size. */
  readonly "vs fifo": string
  /** For Effect cases: time ÷ the same fibers without a limiter (what the limiter itself adds). */
  readonly "vs no limit": string
  /** Peak `heapUsed` of the case's process. */
  readonly "heap MB": string
}

const format = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

/**
 * Runs the contention benchmark and returns one row per case and caller
 * count (time, ratio to the hand-rolled FIFO limiter, peak heap).
 *
 * @internal
 */
export const runContention = async (options: ContentionOptions = {}): Promise<ReadonlyArray<ContentionRow>> => {
  const sizes = options.callers ?? [10_000, 100_000]
  const permits = options.permits ?? 100
  const holdMillis = options.holdMillis ?? 1
  const effectDeadline = options.deadlineMillis ?? 15_000
  const safetyDeadline = options.safetyDeadlineMillis ?? 120_000
  const spawnMode = options.spawn ?? "fork"
  const cases = options.cases ?? CASES
  const isolate = options.isolate ?? true
  const print = options.print ?? (() => {})
  const rows: Array<ContentionRow> = []
  const effectSemaphoreFailedAt: Array<number> = []
  for (const callers of sizes) {
    const outcomes = new Map<CaseName, Outcome | "skipped">()
    for (const name of cases) {
      if (name === EFFECT_SEMAPHORE && effectSemaphoreFailedAt.some((n) => n < callers)) {
        outcomes.set(name, "skipped")
        continue
      }
      print(`contention: ${name}, ${format(callers)} callers …`)
      const deadlineMillis = name === EFFECT_SEMAPHORE ? effectDeadline : safetyDeadline
      const outcome = isolate
        ? await measureInChild(name, callers, permits, holdMillis, spawnMode, deadlineMillis)
        : await measureInProcess(name, callers, permits, holdMillis, spawnMode, deadlineMillis)
      if (outcome._tag === "DidNotFinish" && name === EFFECT_SEMAPHORE) effectSemaphoreFailedAt.push(callers)
      outcomes.set(name, outcome)
    }
    const timeOf = (name: CaseName) => {
      const outcome = outcomes.get(name)
      return outcome !== undefined && outcome !== "skipped" && outcome._tag === "Finished" ? outcome.ms : undefined
    }
    const fifo = timeOf(REFERENCE)
    const noLimit = timeOf(NO_LIMIT)
    const ratio = (ms: number, to: number | undefined, finished: boolean) =>
      to === undefined ? "—" : finished ? `${format(ms / to, 2)}×` : `> ${format(ms / to, 0)}×`
    for (const name of cases) {
      const outcome = outcomes.get(name)!
      const isEffect = name.startsWith("ours") || name.startsWith("effect")
      if (outcome === "skipped") {
        rows.push({
          case: name,
          callers,
          ms: `not run (did not finish ${format(Math.min(...effectSemaphoreFailedAt))})`,
          "vs fifo": "—",
          "vs no limit": "—",
          "heap MB": "—"
        })
      } else if (outcome._tag === "Finished") {
        rows.push({
          case: name,
          callers,
          ms: format(outcome.ms),
          "vs fifo": ratio(outcome.ms, fifo, true),
          "vs no limit": isEffect ? ratio(outcome.ms, noLimit, true) : "—",
          "heap MB": format(outcome.peakHeapMB)
        })
      } else {
        const deadlineMillis = name === EFFECT_SEMAPHORE ? effectDeadline : safetyDeadline
        rows.push({
          case: name,
          callers,
          ms: outcome.why,
          "vs fifo": ratio(deadlineMillis, fifo, false),
          "vs no limit": isEffect ? ratio(deadlineMillis, noLimit, false) : "—",
          "heap MB": outcome.peakHeapMB === undefined ? "—" : `≥ ${format(outcome.peakHeapMB)}`
        })
      }
    }
  }
  return rows
}

/** Renders rows as a Markdown table. @internal */
export const toTable = (rows: ReadonlyArray<ContentionRow>): string => {
  const keys = ["case", "callers", "ms", "vs fifo", "vs no limit", "heap MB"] as const
  const cells = rows.map((row) => keys.map((k) => (k === "callers" ? format(row[k]) : String(row[k]))))
  const widths = keys.map((k, i) => Math.max(k.length, ...cells.map((c) => c[i]!.length)))
  const line = (values: ReadonlyArray<string>) =>
    `| ${values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(" | ")} |`
  return [
    line(keys),
    `| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`,
    ...cells.map(line)
  ].join("\n")
}

// ---------------------------------------------------------------------------
// Main guard: `npx tsx bench/contention.ts`, and the child mode

const parseArgs = (argv: ReadonlyArray<string>): ContentionOptions => {
  let callers: Array<number> | undefined
  let deadlineMillis: number | undefined
  let spawnMode: Spawn | undefined
  let cases: Array<CaseName> | undefined
  let isolate = true
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--callers") (callers ??= []).push(Number(argv[++i]))
    else if (arg === "--deadline") deadlineMillis = Number(argv[++i])
    else if (arg === "--in-process") isolate = false
    else if (arg === "--spawn") spawnMode = argv[++i] === "runPromise" ? "runPromise" : "fork"
    else if (arg === "--case") {
      const pattern = new RegExp(argv[++i] ?? "", "i")
      cases = CASES.filter((name) => pattern.test(name))
    }
    else throw new Error(`unknown argument ${arg}`)
  }
  return { callers, deadlineMillis, isolate, spawn: spawnMode, cases }
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === thisFile

if (isMain) {
  const argv = process.argv.slice(2)
  if (argv[0] === "--child") {
    const [, name, callers, permits, hold, spawnMode] = argv
    const measured = await measureHere(name as CaseName, Number(callers), Number(permits), Number(hold), spawnMode as Spawn, (peakHeapMB) => {
      process.stdout.write(`${JSON.stringify({ peakHeapMB })}\n`)
    })
    process.stdout.write(`${JSON.stringify(measured)}\n`)
    process.exit(0)
  } else {
    const options = parseArgs(argv)
    console.log(
      `# contention: N callers, ${options.permits ?? 100} permits, each holding ~1 ms (node ${process.version}, ` +
        `Effect callers started with ${options.spawn ?? "fork"}, ` +
        `${options.isolate === false ? "in process" : "one process per case"})\n`
    )
    const rows = await runContention({ ...options, print: (line) => console.log(line) })
    console.log(`\n${toTable(rows)}`)
  }
}
