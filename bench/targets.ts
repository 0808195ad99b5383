/**
 * The performance targets of issue 20, measured the way the issue states them:
 *
 *   npm run bench -- --targets                    3 runs (each in fresh processes), medians
 *   npm run bench -- --targets --runs 5           more runs
 *   npm run bench -- --targets --json out.json    the figures as JSON too
 *   npm run bench -- --targets --batch 2000 --callers 10000   (the defaults)
 *
 * (`npm run bench -- --targets` transpiles src/ and bench/ first and runs this
 * file's `runTargets` under plain node, as the suite does; see bench/run.ts.)
 *
 * Each run is:
 *
 * 1. **One fresh process for the per-call cases, all in one run**: the closed
 *    `CircuitBreaker` and the uncontended `Bulkhead` (ours), cockatiel's
 *    `circuitBreaker(consecutive 5)` and `bulkhead(100)`, and beside them, as
 *    context, opossum's breaker (`timeout: false`) and Effect's
 *    `Semaphore(100).withPermits(1)`, with the two baselines `Effect.succeed(1)`
 *    and `await op()`. The case definitions are the suite's (bench/cases/).
 *    Effect cases are timed in batches of 2,000 calls per `Runtime.runPromise`
 *    (one fiber running the calls back to back), Promise cases in batches of
 *    2,000 calls awaited in a plain async loop. The cases are interleaved: each
 *    round times one batch of every case, in an order rotated each round, so
 *    that all of them see the same machine load; after a warm-up of every case,
 *    rounds continue for ≥ 5 s and ≥ 100 rounds. A case's ns/call is the median
 *    over its batches. Overhead = that − the baseline of its kind
 *    (`Effect.succeed(1)` in the same batching, or `await op()`).
 * 2. **The queued case, each side in a fresh process**: 10,000 callers, each
 *    sleeping on a 1 ms `setTimeout` (`Effect.sleep("1 millis")` under the live
 *    clock), started at once (one `runPromise` of `Effect.forEach` with
 *    `concurrency: "unbounded"`) through `Bulkhead.make({ maxConcurrent: 100,
 *    maxQueue: Infinity })`, and the same 10,000 fibers with no limiter
 *    (`bench/contention.ts`'s cases, each process running a warm-up of 2,000
 *    callers first). Ratio = bulkhead wall time ÷ no-limiter wall time. The
 *    two processes alternate order from run to run.
 *
 * The verdict is on the median over the runs of each run's ratio (ratios are
 * taken within a run, where both sides saw the same load).
 *
 * @internal
 */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Case } from "./cases/_lib.js"
import { UNCONTENDED as OURS_BULKHEAD_CASE } from "./cases/bulkhead.js"
import { CLOSED as OURS_BREAKER_CASE } from "./cases/circuit-breaker.js"
import { FLOOR_COMMIT, FLOOR_EXIT_FRAME, FLOOR_FAST_CALL, FLOOR_MATCH } from "./cases/floor.js"
import { PEER } from "./cases/peers.js"
import { measureInChild, NO_LIMIT, OURS_BULKHEAD, type Outcome } from "./contention.js"
import { type Prepared, prepareChecked } from "./prepare.js"

// ---------------------------------------------------------------------------
// What is compared

/** A per-call comparison: our overhead ÷ the peer's overhead ≤ `max`. */
interface PerCall {
  readonly id: string
  readonly label: string
  readonly ours: string
  readonly peer: string
  readonly max: number
  readonly targetText: string
  /** The same call's shape with nothing decided or recorded (bench/cases/floor.ts). */
  readonly floor: string
}

const PER_CALL: ReadonlyArray<PerCall> = [
  {
    id: "breaker",
    label: "closed breaker (ours vs cockatiel's breaker)",
    ours: OURS_BREAKER_CASE,
    peer: PEER.cockatielBreaker,
    max: 1,
    targetText: "≤ 1× (at or below cockatiel's)",
    floor: FLOOR_FAST_CALL
  },
  {
    id: "bulkhead",
    label: "uncontended bulkhead (ours vs cockatiel's bulkhead)",
    ours: OURS_BULKHEAD_CASE,
    peer: PEER.cockatielBulkhead,
    max: 2,
    targetText: "≤ 2× cockatiel's",
    floor: FLOOR_EXIT_FRAME
  }
]

/**
 * Measured beside the targets, not judged: the other peers of the same policies, and the floor
 * (bench/cases/floor.ts): our two hot paths' shapes with nothing decided or recorded — what any
 * Effect policy that sees a call's end pays in this runtime.
 */
const CONTEXT: ReadonlyArray<string> = [
  PEER.opossumNoTimeout,
  PEER.effectSemaphore,
  FLOOR_FAST_CALL,
  FLOOR_EXIT_FRAME,
  FLOOR_MATCH,
  FLOOR_COMMIT
]

const BASELINES: ReadonlyArray<string> = [PEER.bare, PEER.await]

const QUEUED = {
  label: (callers: number) => `${fmt(callers)} queued callers (Bulkhead(100) vs no limiter)`,
  max: 1.15,
  targetText: "≤ 1.15× no limiter"
} as const

const baselineOf = (c: Case) => (c.kind === "effect" ? PEER.bare : PEER.await)

// ---------------------------------------------------------------------------
// Child: the per-call cases in one process

/** ns per call of one case in one run. */
interface CaseFigures {
  /** Wall time: median over the batches (the figure the targets are judged on). */
  readonly median: number
  readonly mean: number
  readonly p25: number
  readonly p75: number
  /** CPU time of the process (user + system, `process.cpuUsage`): median over the batches. */
  readonly cpuMedian: number
  readonly batches: number
}

interface MicroResult {
  readonly cases: Record<string, CaseFigures>
  readonly rounds: number
  readonly seconds: number
  readonly load: ReadonlyArray<number>
}

const quantile = (sorted: ReadonlyArray<number>, q: number) => {
  const i = (sorted.length - 1) * q
  const lo = Math.floor(i)
  const hi = Math.ceil(i)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo)
}

const median = (xs: ReadonlyArray<number>) => quantile([...xs].sort((a, b) => a - b), 0.5)

const WARMUP_ROUNDS = 30
const MIN_ROUNDS = 100
const MIN_SECONDS = 5
const MAX_ROUNDS = 5_000

const loadCases = async (): Promise<ReadonlyArray<Case>> => {
  const modules = await Promise.all([import("./cases/peers.js"), import("./cases/circuit-breaker.js"), import("./cases/bulkhead.js"), import("./cases/floor.js")])
  const byName = new Map(modules.flatMap((m) => m.cases as ReadonlyArray<Case>).map((c) => [c.name, c]))
  const names = [...BASELINES, ...PER_CALL.flatMap((t) => [t.ours, t.peer]), ...CONTEXT]
  return names.map((name) => {
    const c = byName.get(name)
    if (c === undefined) throw new Error(`bench/targets.ts: no case named "${name}" (src module missing, or the case renamed)`)
    return c
  })
}

const runMicro = async (batch: number): Promise<MicroResult> => {
  const cases = await loadCases()
  const prepared: Array<Prepared> = []
  try {
    for (const c of cases) prepared.push(await prepareChecked(c))
    const n = cases.length
    for (let round = 0; round < WARMUP_ROUNDS; round++) {
      for (const p of prepared) await p.runOps(batch)
    }
    const samples: Array<Array<number>> = cases.map(() => [])
    const cpuSamples: Array<Array<number>> = cases.map(() => [])
    const started = process.hrtime.bigint()
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9
    let rounds = 0
    while (rounds < MIN_ROUNDS || (elapsed() < MIN_SECONDS && rounds < MAX_ROUNDS)) {
      for (let k = 0; k < n; k++) {
        const i = (k + rounds) % n
        const c0 = process.cpuUsage()
        const t0 = process.hrtime.bigint()
        await prepared[i]!.runOps(batch)
        const t1 = process.hrtime.bigint()
        const c1 = process.cpuUsage(c0)
        samples[i]!.push(Number(t1 - t0) / batch)
        cpuSamples[i]!.push(((c1.user + c1.system) * 1000) / batch)
      }
      rounds++
    }
    const figures: Record<string, CaseFigures> = {}
    cases.forEach((c, i) => {
      const sorted = samples[i]!.sort((a, b) => a - b)
      figures[c.name] = {
        median: quantile(sorted, 0.5),
        mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
        p25: quantile(sorted, 0.25),
        p75: quantile(sorted, 0.75),
        cpuMedian: median(cpuSamples[i]!),
        batches: sorted.length
      }
    })
    return { cases: figures, rounds, seconds: elapsed(), load: os.loadavg() }
  } finally {
    for (const p of prepared) await p.close()
  }
}

// ---------------------------------------------------------------------------
// Parent

const thisFile = fileURLToPath(import.meta.url)

const microInChild = (batch: number): Promise<MicroResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, thisFile, "--child", "micro", String(batch)], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      out += chunk
    })
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? ""
      try {
        if (code !== 0) throw new Error(`exit ${String(code)}`)
        resolve(JSON.parse(line) as MicroResult)
      } catch (error) {
        reject(new Error(`per-call process failed (${error instanceof Error ? error.message : String(error)}): ${out.slice(-2000)}`))
      }
    })
  })

/** One run: the per-call process, then the two queued-case processes. */
interface RunResult {
  readonly micro: MicroResult
  /** Overheads (ns per call, wall time) by case name. */
  readonly overhead: Record<string, number>
  /** The same in CPU time. */
  readonly cpuOverhead: Record<string, number>
  readonly perCall: Record<string, {
    readonly ours: number
    readonly peer: number
    readonly ratio: number
    readonly cpuOurs: number
    readonly cpuPeer: number
    readonly cpuRatio: number
  }>
  readonly queued: {
    readonly bulkhead: Outcome
    readonly noLimit: Outcome
    readonly ratio: number | undefined
    readonly cpuRatio: number | undefined
    readonly order: ReadonlyArray<string>
  }
}

/** Options of {@link runTargets}. @internal */
export interface TargetsOptions {
  readonly runs?: number | undefined
  /** Calls per `runPromise` / per timed async loop (default 2,000). */
  readonly batch?: number | undefined
  /** Callers of the queued case (default 10,000). */
  readonly callers?: number | undefined
  readonly json?: string | undefined
  /** Printed first (versions, machine). */
  readonly header?: ReadonlyArray<string> | undefined
  readonly print?: ((line: string) => void) | undefined
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
const fmtNs = (ns: number) => (Math.abs(ns) >= 100 ? fmt(ns) : fmt(ns, 1))
const signed = (ns: number) => (ns >= 0 ? "+" : "−") + fmtNs(Math.abs(ns))
const ratioText = (r: number | undefined) => (r === undefined || !Number.isFinite(r) ? "n/a" : `${fmt(r, 2)}×`)

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = header.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...r[i]!].length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]! + c.length - [...c].length) : c.padStart(widths[i]! + c.length - [...c].length))).join(" | ")} |`
  return [line(header), `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`, ...rows.map(line)].join("\n")
}

/**
 * Runs the targets `runs` times and prints the per-run figures and the verdict
 * table. Resolves with the process exit code (0 unless something failed to
 * run: a missed target is a figure, not an error).
 *
 * @internal
 */
export const runTargets = async (options: TargetsOptions = {}): Promise<number> => {
  const runs = options.runs ?? 3
  const batch = options.batch ?? 2_000
  const callers = options.callers ?? 10_000
  const print = options.print ?? ((line: string) => console.log(line))
  for (const line of options.header ?? []) print(line)
  print(
    `targets of issue 20: ${runs} runs; per run one process for the per-call cases (batches of ${fmt(batch)} calls, interleaved)` +
      ` and one process per side of the queued case (${fmt(callers)} callers, 1 ms sleep, 100 permits)\n`
  )
  const results: Array<RunResult> = []
  let errors = 0
  for (let run = 1; run <= runs; run++) {
    process.stderr.write(`  targets run ${run}/${runs}: per-call cases …\n`)
    let micro: MicroResult
    try {
      micro = await microInChild(batch)
    } catch (error) {
      print(`run ${run}: ${error instanceof Error ? error.message : String(error)}`)
      errors++
      continue
    }
    const cases = await loadCases()
    const overhead: Record<string, number> = {}
    const cpuOverhead: Record<string, number> = {}
    for (const c of cases) {
      overhead[c.name] = micro.cases[c.name]!.median - micro.cases[baselineOf(c)]!.median
      cpuOverhead[c.name] = micro.cases[c.name]!.cpuMedian - micro.cases[baselineOf(c)]!.cpuMedian
    }
    const perCall: Record<string, RunResult["perCall"][string]> = {}
    for (const t of PER_CALL) {
      perCall[t.id] = {
        ours: overhead[t.ours]!,
        peer: overhead[t.peer]!,
        ratio: overhead[t.ours]! / overhead[t.peer]!,
        cpuOurs: cpuOverhead[t.ours]!,
        cpuPeer: cpuOverhead[t.peer]!,
        cpuRatio: cpuOverhead[t.ours]! / cpuOverhead[t.peer]!
      }
    }
    const order = run % 2 === 1 ? [OURS_BULKHEAD, NO_LIMIT] as const : [NO_LIMIT, OURS_BULKHEAD] as const
    const outcomes = new Map<string, Outcome>()
    for (const name of order) {
      process.stderr.write(`  targets run ${run}/${runs}: ${name}, ${fmt(callers)} callers …\n`)
      outcomes.set(name, await measureInChild(name, callers, 100, 1, "fork", 120_000))
    }
    const bulkhead = outcomes.get(OURS_BULKHEAD)!
    const noLimit = outcomes.get(NO_LIMIT)!
    if (bulkhead._tag !== "Finished" || noLimit._tag !== "Finished") errors++
    const ratio = bulkhead._tag === "Finished" && noLimit._tag === "Finished" ? bulkhead.ms / noLimit.ms : undefined
    const cpuRatio = bulkhead._tag === "Finished" && noLimit._tag === "Finished" && bulkhead.cpuMs !== undefined && noLimit.cpuMs !== undefined
      ? bulkhead.cpuMs / noLimit.cpuMs
      : undefined
    results.push({ micro, overhead, cpuOverhead, perCall, queued: { bulkhead, noLimit, ratio, cpuRatio, order } })
    const msText = (o: Outcome) => (o._tag === "Finished" ? `${fmt(o.ms)} ms` : o.why)
    print(
      `run ${run}: ` +
        PER_CALL.map((t) => `${t.id} ${signed(perCall[t.id]!.ours)} vs ${signed(perCall[t.id]!.peer)} ns (${ratioText(perCall[t.id]!.ratio)})`).join(", ") +
        `; queued ${msText(bulkhead)} vs ${msText(noLimit)} (${ratioText(ratio)})` +
        `; ${micro.rounds} rounds in ${fmt(micro.seconds, 1)} s; load ${micro.load.map((l) => l.toFixed(2)).join(" ")}`
    )
  }
  if (results.length === 0) return 1

  // per run
  print("\n### Per run\n")
  const runHeader = ["case", ...results.map((_, i) => `run ${i + 1}`)]
  const perRunRows: Array<Array<string>> = []
  for (const t of PER_CALL) {
    perRunRows.push([`${t.label}: ours`, ...results.map((r) => `${signed(r.perCall[t.id]!.ours)} ns`)])
    perRunRows.push([`${t.label}: peer`, ...results.map((r) => `${signed(r.perCall[t.id]!.peer)} ns`)])
    perRunRows.push([`${t.label}: ratio`, ...results.map((r) => ratioText(r.perCall[t.id]!.ratio))])
    perRunRows.push([`${t.label}: CPU time, ours / peer`, ...results.map((r) => `${signed(r.perCall[t.id]!.cpuOurs)} / ${signed(r.perCall[t.id]!.cpuPeer)} ns`)])
    perRunRows.push([`${t.label}: CPU-time ratio`, ...results.map((r) => ratioText(r.perCall[t.id]!.cpuRatio))])
  }
  const ms = (o: Outcome) => (o._tag === "Finished" ? `${fmt(o.ms)} ms` : o.why)
  perRunRows.push([`${QUEUED.label(callers)}: Bulkhead`, ...results.map((r) => ms(r.queued.bulkhead))])
  perRunRows.push([`${QUEUED.label(callers)}: no limiter`, ...results.map((r) => ms(r.queued.noLimit))])
  perRunRows.push([`${QUEUED.label(callers)}: ratio`, ...results.map((r) => ratioText(r.queued.ratio))])
  const cpuMs = (o: Outcome) => (o._tag === "Finished" && o.cpuMs !== undefined ? `${fmt(o.cpuMs)} ms` : "—")
  perRunRows.push([`${QUEUED.label(callers)}: CPU time, Bulkhead / no limiter`, ...results.map((r) => `${cpuMs(r.queued.bulkhead)} / ${cpuMs(r.queued.noLimit)}`)])
  perRunRows.push([`${QUEUED.label(callers)}: CPU-time ratio`, ...results.map((r) => ratioText(r.queued.cpuRatio))])
  for (const name of CONTEXT) {
    perRunRows.push([`(context) ${name}: wall / CPU`, ...results.map((r) => `${signed(r.overhead[name]!)} / ${signed(r.cpuOverhead[name]!)} ns`)])
  }
  for (const name of BASELINES) {
    perRunRows.push([
      `(baseline) ${name}: wall / CPU`,
      ...results.map((r) => `${fmtNs(r.micro.cases[name]!.median)} / ${fmtNs(r.micro.cases[name]!.cpuMedian)} ns/call`)
    ])
  }
  perRunRows.push(["(machine) load average at the end of the per-call process", ...results.map((r) => r.micro.load.map((l) => l.toFixed(1)).join(" "))])
  print(table(runHeader, perRunRows))

  // verdict
  print(`\n### Targets (median of ${results.length} runs)\n`)
  const verdict: Array<{
    case: string
    ours: string
    peer: string
    ratio: number | undefined
    ratios: ReadonlyArray<number | undefined>
    cpuRatio: number | undefined
    target: string
    pass: boolean | undefined
  }> = []
  const medianOrUndefined = (xs: ReadonlyArray<number | undefined>) =>
    xs.every((x): x is number => x !== undefined) ? median(xs) : undefined
  for (const t of PER_CALL) {
    const ratios = results.map((r) => r.perCall[t.id]!.ratio)
    const m = median(ratios)
    verdict.push({
      case: t.label,
      ours: `${signed(median(results.map((r) => r.perCall[t.id]!.ours)))} ns`,
      peer: `${signed(median(results.map((r) => r.perCall[t.id]!.peer)))} ns`,
      ratio: m,
      ratios,
      cpuRatio: median(results.map((r) => r.perCall[t.id]!.cpuRatio)),
      target: t.targetText,
      pass: m <= t.max
    })
  }
  {
    const ratios = results.map((r) => r.queued.ratio)
    const finished = ratios.filter((r): r is number => r !== undefined)
    const m = finished.length === results.length ? median(finished) : undefined
    const msOf = (o: Outcome) => (o._tag === "Finished" ? o.ms : Number.NaN)
    verdict.push({
      case: QUEUED.label(callers),
      ours: `${fmt(median(results.map((r) => msOf(r.queued.bulkhead))))} ms`,
      peer: `${fmt(median(results.map((r) => msOf(r.queued.noLimit))))} ms`,
      ratio: m,
      ratios,
      cpuRatio: medianOrUndefined(results.map((r) => r.queued.cpuRatio)),
      target: QUEUED.targetText,
      pass: m === undefined ? undefined : m <= QUEUED.max
    })
  }
  print(
    table(
      ["case", "our overhead", "peer overhead", "ratio (median)", "ratios per run", "CPU-time ratio (median)", "target", "pass/fail"],
      verdict.map((v) => [
        v.case,
        v.ours,
        v.peer,
        ratioText(v.ratio),
        v.ratios.map(ratioText).join(" / "),
        ratioText(v.cpuRatio),
        v.target,
        v.pass === undefined ? "not measured" : v.pass ? "pass" : "FAIL"
      ])
    )
  )
  print(
    "\nours/peer overhead: the median over the runs of each run's overhead (ns/call over the baseline of its kind;" +
      " for the queued case, wall time); ratio: the median of the runs' ratios. Pass/fail is judged on wall time, as the issue" +
      " states the targets; the CPU-time ratio (process.cpuUsage, all threads) is the same comparison without the time the" +
      " process spent descheduled, for loaded machines: on a quiet machine the two agree."
  )

  // the floor: what is left to our code once the runtime's cost of seeing a call's end is taken out
  print("\n### The floor (median of the runs)\n")
  const floorRows = PER_CALL.map((t) => {
    const of = (name: string) => median(results.map((r) => r.overhead[name]!))
    const perPeer = (name: string) => median(results.map((r) => r.overhead[name]! / r.perCall[t.id]!.peer))
    return [
      t.label,
      `${signed(of(t.floor))} ns (${ratioText(perPeer(t.floor))})`,
      `${signed(of(FLOOR_MATCH))} ns (${ratioText(perPeer(FLOOR_MATCH))})`,
      `${signed(median(results.map((r) => r.overhead[t.ours]! - r.overhead[t.floor]!)))} ns`,
      `≤ ${signed(t.max * median(results.map((r) => r.perCall[t.id]!.peer)))} ns`
    ]
  })
  print(table(["case", "our shape, nothing recorded (× peer)", "Effect.matchCauseEffect alone (× peer)", "ours − our shape", "target allows"], floorRows))
  print(
    "\nour shape: the same primitive as our hot path with nothing decided or recorded (bench/cases/floor.ts); " +
      "Effect.matchCauseEffect alone: Effect's own cheapest way to see a call's result. Each is an overhead over the same " +
      "bare step, and × peer its ratio to the peer's overhead in the same run. A target below the floor cannot be met " +
      "by any policy that observes how the call ended."
  )

  if (options.json !== undefined) {
    writeFileSync(
      options.json,
      JSON.stringify({ date: new Date().toISOString(), batch, callers, header: options.header, runs: results, verdict }, null, 2)
    )
  }
  return errors > 0 ? 1 : 0
}

// ---------------------------------------------------------------------------
// Main guard: the per-call child, or `npx tsx bench/targets.ts` (under tsx: see bench/run.ts on why
// `npm run bench -- --targets` is the way to run it)

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === thisFile

if (isMain) {
  const argv = process.argv.slice(2)
  if (argv[0] === "--child" && argv[1] === "micro") {
    const result = await runMicro(Number(argv[2] ?? 2000))
    process.stdout.write(`${JSON.stringify(result)}\n`)
    process.exit(0)
  } else {
    process.exit(await runTargets({ header: ["(run directly: figures of whatever runs this file, tsx or node)"] }))
  }
}
