/**
 * The benchmark harness: `npm run bench` (`tsx bench/run.ts`).
 *
 *   npm run bench                       every case (about a minute)
 *   npm run bench -- --filter retry     cases whose name, group or library match (regex, case-insensitive)
 *   npm run bench -- --smoke            every case with tiny iteration counts (CI: must exit 0)
 *   npm run bench -- --filter contention  the contention benchmark (bench/contention.ts), if present
 *   npm run bench -- --rounds 5         more rounds (default 3; a case's figure is its fastest round)
 *   npm run bench -- --json out.json    also write the figures as JSON
 *   npm run bench -- --tsx              measure the TypeScript sources as tsx runs them (see below)
 *   npm run bench -- --targets          the targets of issue 20 (bench/targets.ts): 3 runs, each in fresh processes, medians
 *   npm run bench -- --runs 3 --json base.json     the suite 3 times, each in a fresh process, and each case's spread
 *   npm run bench -- --runs 3 --compare base.json  the same, compared case by case with an earlier `--runs` file
 *
 * Method (details in bench/README.md): each Effect case runs `ops` calls back
 * to back in ONE fiber (`Effect.whileLoop`) inside one `Runtime.runPromise`;
 * each Promise case runs `ops` awaited calls in one async function. mitata
 * times that loop (one sample = one loop of `ops` calls, ~5 ms) and we report
 * the median sample / `ops` as ns per call, the overhead over the bare
 * baseline of the same kind (an `Effect.succeed(1)` step, or `await op()` for
 * the Promise peers), and overhead ratios to the peers. All cases are measured
 * in several rounds and each keeps its fastest round: on shared cores,
 * interference only adds time.
 *
 * A full run measures JavaScript, not tsx: tsx compiles with esbuild's
 * `keepNames`, which wraps every named closure in a `__name(fn, "…")` call
 * (an `Object.defineProperty` per closure creation) — in our code but not in
 * the peers' published JS — and inflated some of our per-call costs by up to
 * 3× (bench/README.md). So the harness first transpiles src/ and bench/ with
 * TypeScript's `transpileModule` (the tsconfig has `isolatedModules`) into
 * node_modules/.cache/effect-resilience-bench/ and re-runs itself there with
 * plain `node`, as users run the built package. `--smoke` stays on tsx.
 */
import { measure } from "mitata"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import * as os from "node:os"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import type { Case, Target } from "./cases/_lib.js"
import { type Prepared, prepare } from "./prepare.js"

// ---------------------------------------------------------------------------
// Options

interface Options {
  readonly filter: RegExp | undefined
  readonly smoke: boolean
  readonly json: string | undefined
  readonly rounds: number
  readonly tsx: boolean
  /** `--targets`: run bench/targets.ts instead of the suite. */
  readonly targets: boolean
  /** `--runs N`: N runs of the suite (or of the targets), each in a fresh process. */
  readonly runs: number | undefined
  /** `--compare FILE`: a `--runs` JSON file to compare this multi-run with. */
  readonly compare: string | undefined
  /** `--batch N` (targets): calls per `runPromise` / per timed async loop. */
  readonly batch: number | undefined
  /** `--callers N` (targets): callers of the queued case. */
  readonly callers: number | undefined
}

const parseArgs = (argv: ReadonlyArray<string>): Options => {
  let filter: RegExp | undefined
  let smoke = false
  let json: string | undefined
  let rounds: number | undefined
  let tsx = false
  let targets = false
  let runs: number | undefined
  let compare: string | undefined
  let batch: number | undefined
  let callers: number | undefined
  const positive = (flag: string, v: string) => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs an integer ≥ 1`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined]
    const value = () => {
      const v = inline ?? argv[++i]
      if (v === undefined) throw new Error(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case "--filter":
        filter = new RegExp(value(), "i")
        break
      case "--smoke":
        smoke = true
        break
      case "--tsx":
        tsx = true
        break
      case "--json":
        json = value()
        break
      case "--rounds":
        rounds = positive(flag, value())
        break
      case "--targets":
        targets = true
        break
      case "--runs":
        runs = positive(flag, value())
        break
      case "--compare":
        compare = value()
        break
      case "--batch":
        batch = positive(flag, value())
        break
      case "--callers":
        callers = positive(flag, value())
        break
      case "--help":
      case "-h":
        console.log(
          "usage: npm run bench -- [--filter REGEX] [--smoke] [--rounds N] [--json FILE] [--tsx] [--runs N [--compare FILE]]\n" +
            "       npm run bench -- --targets [--runs N] [--batch N] [--callers N] [--json FILE]"
        )
        process.exit(0)
        break
      default:
        throw new Error(`unknown argument: ${arg} (try --help)`)
    }
  }
  if (compare !== undefined && runs === undefined) throw new Error("--compare needs --runs N")
  if (targets && (smoke || filter !== undefined)) throw new Error("--targets takes no --smoke or --filter")
  return { filter, smoke, json, rounds: smoke ? 1 : (rounds ?? DEFAULT_ROUNDS), tsx, targets, runs, compare, batch, callers }
}

// ---------------------------------------------------------------------------
// Environment

/** Set when this process runs the transpiled copy (see `runTranspiled`). */
const transpiled = process.env.BENCH_TRANSPILED === "1"
const here = fileURLToPath(new URL(".", import.meta.url))
const root = (transpiled ? process.env.BENCH_ROOT! : fileURLToPath(new URL("..", import.meta.url))).replace(/\/$/, "")
/** Extension of the case files this process imports. */
const ext = transpiled ? ".js" : ".ts"
/**
 * Where the transpiled copy goes: one directory per harness process, so that
 * two runs at once (another checkout whose node_modules is a symlink to this
 * one's, or another engineer's run) never overwrite each other's files.
 */
const cacheBase = () => `${root}/node_modules/.cache/effect-resilience-bench`
const cacheDir = () => `${cacheBase()}/${process.pid}`

/** Removes the transpiled copies of harness processes that no longer exist. */
const removeStaleCopies = () => {
  if (!existsSync(cacheBase())) return
  for (const d of readdirSync(cacheBase(), { withFileTypes: true })) {
    if (!d.isDirectory()) {
      rmSync(`${cacheBase()}/${d.name}`, { force: true })
      continue
    }
    const pid = Number(d.name)
    let alive = false
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 0)
        alive = true
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === "EPERM"
      }
    }
    if (!alive) rmSync(`${cacheBase()}/${d.name}`, { recursive: true, force: true })
  }
}

/**
 * Transpiles src/ and bench/ to plain ESM JavaScript (TypeScript's
 * `transpileModule`, no type check: `npm run typecheck` does that) and runs
 * the harness again from there with plain node. Returns its exit code.
 */
const runTranspiled = async (argv: ReadonlyArray<string>): Promise<number> => {
  const ts = (await import("typescript")).default
  const out = cacheDir()
  removeStaleCopies() // (also the copy of the pre-issue-20 layout, directly in the base)
  rmSync(out, { recursive: true, force: true })
  const walk = (dir: string): Array<string> =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? walk(`${dir}/${d.name}`) : d.name.endsWith(".ts") && !d.name.endsWith(".d.ts") ? [`${dir}/${d.name}`] : []
    )
  const started = Date.now()
  let count = 0
  for (const top of ["src", "bench"]) {
    for (const file of walk(`${root}/${top}`)) {
      const js = ts.transpileModule(readFileSync(file, "utf8"), {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          isolatedModules: true,
          verbatimModuleSyntax: false,
          sourceMap: false
        }
      }).outputText
      const target = `${out}/${file.slice(root.length + 1).replace(/\.ts$/, ".js")}`
      mkdirSync(dirname(target), { recursive: true })
      writeFileSync(target, js)
      count++
    }
  }
  writeFileSync(`${out}/package.json`, JSON.stringify({ type: "module" }))
  process.stderr.write(`transpiled ${count} files in ${Date.now() - started} ms to ${out}\n`)
  try {
    const child = spawnSync(process.execPath, [`${out}/bench/run.js`, ...argv], {
      stdio: "inherit",
      env: { ...process.env, BENCH_TRANSPILED: "1", BENCH_ROOT: root }
    })
    return child.status ?? 1
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

const versionOf = (pkg: string): string => {
  try {
    return JSON.parse(readFileSync(`${root}/node_modules/${pkg}/package.json`, "utf8")).version
  } catch {
    return "?"
  }
}

/** Manual GC between cases (mitata runs it after warm-up), without needing `node --expose-gc`. */
const exposeGc = (): (() => void) | undefined => {
  try {
    v8.setFlagsFromString("--expose-gc")
    return vm.runInNewContext("gc") as () => void
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------
// Cases

interface Loaded {
  readonly cases: ReadonlyArray<Case>
  readonly errors: ReadonlyArray<{ readonly file: string; readonly error: unknown }>
}

/** Every `bench/cases/*.ts` except helpers (`_*.ts`) exports `cases`. */
const loadCases = async (): Promise<Loaded> => {
  const dir = `${here}cases`
  const files = readdirSync(dir).filter((f) => f.endsWith(ext) && !f.startsWith("_") && !f.endsWith(".d.ts")).sort()
  const cases: Array<Case> = []
  const errors: Array<{ file: string; error: unknown }> = []
  // peers first, so that the table reads baseline → peers → ours within a group
  files.sort((a, b) => (a === `peers${ext}` ? -1 : b === `peers${ext}` ? 1 : a.localeCompare(b)))
  for (const file of files) {
    try {
      const mod = await import(pathToFileURL(`${dir}/${file}`).href)
      if (!Array.isArray(mod.cases)) throw new Error("does not export `cases: ReadonlyArray<Case>`")
      cases.push(...mod.cases)
    } catch (error) {
      errors.push({ file: `bench/cases/${file.replace(/\.js$/, ".ts")}`, error })
    }
  }
  const seen = new Set<string>()
  for (const c of cases) {
    if (seen.has(c.name)) errors.push({ file: "bench/cases", error: new Error(`duplicate case name: ${c.name}`) })
    seen.add(c.name)
  }
  return { cases, errors }
}

const GROUP_ORDER = ["baseline", "retry", "timeout", "circuit-breaker", "bulkhead", "rate-limiter", "pipeline"]
const LIB_ORDER = ["baseline", "effect", "cockatiel", "opossum", "ours", "proto"]
const rank = (order: ReadonlyArray<string>, x: string) => {
  const i = order.indexOf(x)
  return i === -1 ? order.length : i
}

const baselineKey = (c: Case) => `${c.kind}/${c.path === "async" && c.kind === "promise" ? "success" : c.path}`

/** The cases matching the filter, plus the baselines and peers they are compared with. */
const select = (all: ReadonlyArray<Case>, filter: RegExp | undefined): ReadonlyArray<Case> => {
  const byName = new Map(all.map((c) => [c.name, c]))
  const chosen = new Set<Case>(
    filter === undefined ? all : all.filter((c) => filter.test(c.name) || filter.test(c.group) || filter.test(c.lib))
  )
  for (const c of [...chosen]) {
    for (const ref of [...(c.peers ?? []), ...(c.targets ?? []).flatMap((t) => (t.kind === "ratio" ? [t.of] : []))]) {
      const peer = byName.get(ref)
      if (peer !== undefined) chosen.add(peer)
    }
  }
  if (chosen.size > 0) {
    const keys = new Set([...chosen].map(baselineKey))
    for (const c of all) if (c.isBaseline === true && keys.has(baselineKey(c))) chosen.add(c)
  }
  return [...chosen].sort((a, b) =>
    rank(GROUP_ORDER, a.group) - rank(GROUP_ORDER, b.group) ||
    a.group.localeCompare(b.group) ||
    rank(LIB_ORDER, a.lib) - rank(LIB_ORDER, b.lib) ||
    all.indexOf(a) - all.indexOf(b)
  )
}

// ---------------------------------------------------------------------------
// Running one case

interface Stats {
  readonly samples: number
  /** ns per call */
  readonly p25: number
  readonly p50: number
  readonly p75: number
}

interface Result extends Stats {
  readonly ops: number
  /** The median of each round, in ns per call; the reported figures are those of the fastest round. */
  readonly rounds: ReadonlyArray<number>
}

/** Sample length the harness aims for (full run). */
const SAMPLE_NS = 5_000_000
/** CPU time mitata spends per case, over all rounds (full run). */
const CASE_NS = 600_000_000
/** Rounds over all cases (full run); a case's figure is its fastest round. */
const DEFAULT_ROUNDS = 3

const calibrate = async (p: Prepared): Promise<number> => {
  // run growing batches for ≥ 20 ms in total, then aim at SAMPLE_NS per sample
  // (one slow batch — a GC, a scheduler timer — must not decide the size)
  let ops = 1
  let totalOps = 0
  let totalNs = 0
  while (totalNs < 20_000_000) {
    const t0 = process.hrtime.bigint()
    await p.runOps(ops)
    totalNs += Number(process.hrtime.bigint() - t0)
    totalOps += ops
    ops = Math.min(ops * 2, 10_000)
  }
  return Math.max(1, Math.min(100_000, Math.round((SAMPLE_NS * totalOps) / totalNs)))
}

/** One round of one case: prepare, check the path, calibrate (first round only), measure, close. */
const measureRound = async (
  c: Case,
  options: Options,
  gc: (() => void) | undefined,
  known: number | undefined
): Promise<Stats & { readonly ops: number }> => {
  const p = await prepare(c)
  try {
    const failed = await p.probe()
    if (failed !== (c.path === "failure")) {
      throw new Error(`expected the call to ${c.path === "failure" ? "fail" : "succeed"}, it did not`)
    }
    const ops = options.smoke ? (c.smokeOps ?? 3) : (known ?? await calibrate(p))
    const stats = await measure(() => p.runOps(ops), {
      gc: options.smoke ? false : (gc ?? false),
      batch_threshold: -1, // never let mitata batch: one sample is one loop of `ops` calls
      ...(options.smoke
        ? { min_samples: 1, max_samples: 1, min_cpu_time: 0, warmup_threshold: 0 }
        : { min_samples: 8, min_cpu_time: CASE_NS / options.rounds, warmup_samples: 3 })
    })
    return { ops, samples: stats.samples.length, p25: stats.p25 / ops, p50: stats.p50 / ops, p75: stats.p75 / ops }
  } finally {
    await p.close()
  }
}

/**
 * Runs every selected case briefly before measuring anything, so that the JIT
 * sees every shape first: otherwise the cases measured first (the baselines)
 * run on code that is still monomorphic, and every overhead is overstated.
 */
const warmAll = async (cases: ReadonlyArray<Case>): Promise<void> => {
  for (const c of cases) {
    try {
      const p = await prepare(c)
      try {
        const deadline = process.hrtime.bigint() + 50_000_000n
        let ops = 16
        while (process.hrtime.bigint() < deadline) {
          await p.runOps(ops)
          ops = Math.min(ops * 2, 2048)
        }
      } finally {
        await p.close()
      }
    } catch {
      // reported when the case is measured
    }
  }
}

// ---------------------------------------------------------------------------
// Output

const fmtNs = (ns: number): string =>
  ns >= 100 ? Math.round(ns).toLocaleString("en-US") : ns >= 10 ? ns.toFixed(1) : ns.toFixed(2)
const fmtSigned = (ns: number): string => (ns >= 0 ? "+" : "−") + fmtNs(Math.abs(ns))
const fmtRatio = (r: number): string =>
  !Number.isFinite(r) ? "n/a" : r >= 100 ? `${Math.round(r)}×` : r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`

const fmtTargetMax = (max: number): string =>
  Math.abs(max - 1 / 3) < 1e-9 ? "⅓" : Math.abs(max - 1 / 7) < 1e-9 ? "1/7" : Math.abs(max - 1 / 20) < 1e-9 ? "1/20" : String(max)

interface Row {
  readonly id: number
  readonly case: Case
  readonly result?: Result | undefined
  readonly error?: unknown
  overhead?: number | undefined
}

interface TargetCheck {
  readonly row: Row
  readonly target: Target
  readonly text: string
  readonly met: boolean | undefined
}

const pad = (s: string, n: number, right = false) => {
  const len = [...s].length
  return len >= n ? s : right ? " ".repeat(n - len) + s : s + " ".repeat(n - len)
}

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, right: ReadonlySet<number>) => {
  const widths = header.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...(r[i] ?? "")].length)))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map((c, i) => pad(c, widths[i]!, right.has(i))).join(" | ")} |`
  return [
    line(header),
    `|${widths.map((w, i) => (right.has(i) ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|")}|`,
    ...rows.map(line)
  ].join("\n")
}

const errorText = (e: unknown): string => {
  if (e instanceof Error) return e.message.split("\n")[0]!
  try {
    return JSON.stringify(e) ?? String(e)
  } catch {
    return String(e)
  }
}

// ---------------------------------------------------------------------------
// Contention (bench/contention.ts, written with the Bulkhead)

const runContentionIfAsked = async (options: Options): Promise<boolean> => {
  if (options.smoke || options.filter === undefined || !options.filter.test("contention")) return true
  const file = `${here}contention${ext}`
  if (!existsSync(file)) {
    console.log("\ncontention: bench/contention.ts does not exist yet (written with the Bulkhead); skipped")
    return true
  }
  console.log("\n## contention (bench/contention.ts)\n")
  try {
    const mod = await import(pathToFileURL(file).href)
    if (typeof mod.runContention !== "function") throw new Error("bench/contention.ts does not export runContention")
    const out = await mod.runContention({ print: (line: string) => console.log(line) })
    if (Array.isArray(out) && out.length > 0 && typeof out[0] === "object") {
      const keys = [...new Set(out.flatMap((r: object) => Object.keys(r)))]
      console.log(table(keys, out.map((r: any) => keys.map((k) => String(r[k] ?? ""))), new Set()))
    } else if (out !== undefined) {
      console.log(typeof out === "string" ? out : JSON.stringify(out, null, 2))
    }
    return true
  } catch (error) {
    console.log(`contention failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    return false
  }
}

// ---------------------------------------------------------------------------
// Several runs of the suite (--runs N): run-to-run noise, and comparison with an earlier multi-run

interface RunRow {
  readonly name: string
  readonly path: string
  readonly lib: string
  readonly p50?: number
  readonly overhead?: number
  readonly error?: string
}

/** One case over the runs. */
interface Summary {
  readonly name: string
  readonly path: string
  readonly lib: string
  /** ns/op of each run (its fastest round), in run order; `null` when the run failed it. */
  readonly p50: ReadonlyArray<number | null>
  readonly overhead: ReadonlyArray<number | null>
  /** ns/op ÷ the same run's baseline of the same kind, each run. */
  readonly xBare: ReadonlyArray<number | null>
  readonly median: number
  readonly min: number
  readonly max: number
  /** max ÷ min of ns/op over the runs. */
  readonly spread: number
  readonly medianOverhead: number | null
  readonly medianXBare: number | null
}

const medianOf = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = (s.length - 1) / 2
  return (s[Math.floor(m)]! + s[Math.ceil(m)]!) / 2
}

const summarize = (runs: ReadonlyArray<ReadonlyArray<RunRow>>): ReadonlyArray<Summary> => {
  const names: Array<string> = []
  for (const rows of runs) for (const r of rows) if (!names.includes(r.name)) names.push(r.name)
  const out: Array<Summary> = []
  for (const name of names) {
    const per = runs.map((rows) => rows.find((r) => r.name === name))
    const first = per.find((r) => r !== undefined)!
    const p50 = per.map((r) => r?.p50 ?? null)
    const overhead = per.map((r) => (r?.p50 === undefined ? null : r.overhead ?? null))
    const xBare = per.map((r) =>
      r?.p50 === undefined || r.overhead === undefined || r.p50 - r.overhead <= 0 ? null : r.p50 / (r.p50 - r.overhead)
    )
    const ok = p50.filter((x): x is number => x !== null)
    if (ok.length === 0) continue
    const oks = overhead.filter((x): x is number => x !== null)
    const xs = xBare.filter((x): x is number => x !== null)
    out.push({
      name,
      path: first.path,
      lib: first.lib,
      p50,
      overhead,
      xBare,
      median: medianOf(ok),
      min: Math.min(...ok),
      max: Math.max(...ok),
      spread: Math.max(...ok) / Math.min(...ok),
      medianOverhead: oks.length === 0 ? null : medianOf(oks),
      medianXBare: xs.length === 0 ? null : medianOf(xs)
    })
  }
  return out
}

/**
 * `--runs N`: runs the selected cases N times, each run in a fresh process
 * (the same harness, `--json` to a temporary file), then prints each case's
 * figures over the runs and its spread (slowest ÷ fastest run). With
 * `--compare FILE` (the `--json` of an earlier `--runs`), compares case by
 * case: "slower beyond noise" when every run now is slower than every run then
 * AND the medians differ by more than the larger of the two spreads.
 */
const runMany = async (options: Options): Promise<number> => {
  const runs = options.runs!
  const thisFile = fileURLToPath(import.meta.url)
  const tmp = `${os.tmpdir()}/effect-resilience-bench-runs-${process.pid}`
  mkdirSync(tmp, { recursive: true })
  const childArgs = [
    "--rounds",
    String(options.rounds),
    ...(options.filter === undefined ? [] : ["--filter", options.filter.source]),
    ...(options.tsx ? ["--tsx"] : []),
    ...(options.smoke ? ["--smoke"] : [])
  ]
  const results: Array<{ rows: ReadonlyArray<RunRow>; load: string; date: string }> = []
  let failures = 0
  for (let run = 1; run <= runs; run++) {
    console.log(`\n## run ${run}/${runs} (fresh process)\n`)
    const file = `${tmp}/run-${run}.json`
    const child = spawnSync(process.execPath, [...process.execArgv, thisFile, ...childArgs, "--json", file], {
      stdio: "inherit",
      env: process.env
    })
    if (child.status !== 0) failures++
    try {
      const json = JSON.parse(readFileSync(file, "utf8"))
      results.push({ rows: json.rows, load: json.load ?? "", date: json.date })
    } catch {
      console.log(`run ${run}: no figures (exit ${String(child.status)})`)
    }
  }
  rmSync(tmp, { recursive: true, force: true })
  if (results.length === 0) return 1
  const summary = summarize(results.map((r) => r.rows))
  console.log(`\n## ${results.length} runs: each case's figure per run (ns/op, its fastest round) and spread (slowest ÷ fastest run)\n`)
  console.log(
    table(
      ["case", "path", ...results.map((_, i) => `run ${i + 1}`), "median", "spread", "overhead per run", "median overhead", "× bare (median)"],
      summary.map((s) => [
        s.name,
        s.path,
        ...s.p50.map((x) => (x === null ? "—" : fmtNs(x))),
        fmtNs(s.median),
        fmtRatio(s.spread),
        s.overhead.map((x) => (x === null ? "—" : fmtSigned(x))).join(" / "),
        s.medianOverhead === null || s.lib === "baseline" ? "—" : fmtSigned(s.medianOverhead),
        s.medianXBare === null || s.lib === "baseline" ? "—" : fmtRatio(s.medianXBare)
      ]),
      new Set([2 + results.length, 3 + results.length, 5 + results.length, 6 + results.length, ...results.map((_, i) => 2 + i)])
    )
  )
  const spreads = summary.filter((s) => s.lib !== "baseline").map((s) => s.spread).sort((a, b) => a - b)
  if (spreads.length > 0) {
    console.log(
      `\nspread over the runs, all cases: median ${fmtRatio(medianOf(spreads))}, ` +
        `90th percentile ${fmtRatio(spreads[Math.min(spreads.length - 1, Math.floor(spreads.length * 0.9))]!)}, max ${fmtRatio(spreads[spreads.length - 1]!)}`
    )
  }
  let verdictSlower = 0
  if (options.compare !== undefined) {
    const before = JSON.parse(readFileSync(options.compare, "utf8")) as { summary: ReadonlyArray<Summary>; header?: ReadonlyArray<string> }
    const byName = new Map(before.summary.map((s) => [s.name, s]))
    console.log(`\n## compared with ${options.compare}${before.header === undefined ? "" : ` (${before.header[0]})`}\n`)
    const nowNames = new Set(summary.map((s) => s.name))
    const onlyThen = before.summary.filter((s) => !nowNames.has(s.name)).map((s) => s.name)
    const onlyNow = summary.filter((s) => !byName.has(s.name)).map((s) => s.name)
    if (onlyThen.length > 0 || onlyNow.length > 0) {
      console.log(
        "WARNING: the two multi-runs measured different sets of cases. A case's figure can depend on the other cases run" +
          " in the same process (the JIT's feedback in the shared loop, the heap they leave), so compare runs of the same" +
          " selection." +
          (onlyThen.length > 0 ? `\n  only then: ${onlyThen.join("; ")}` : "") +
          (onlyNow.length > 0 ? `\n  only now: ${onlyNow.join("; ")}` : "") +
          "\n"
      )
    }
    const rows: Array<Array<string>> = []
    for (const now of summary) {
      const then = byName.get(now.name)
      if (then === undefined) {
        rows.push([now.name, "—", `${fmtNs(now.median)} (${fmtNs(now.min)}–${fmtNs(now.max)})`, "", "", "new"])
        continue
      }
      const change = now.median / then.median
      const noise = Math.max(then.spread, now.spread)
      const verdict = now.min > then.max && change > noise
        ? "SLOWER beyond noise"
        : now.max < then.min && 1 / change > noise
        ? "faster beyond noise"
        : "within noise"
      if (verdict.startsWith("SLOWER")) verdictSlower++
      rows.push([
        now.name,
        `${fmtNs(then.median)} (${fmtNs(then.min)}–${fmtNs(then.max)})`,
        `${fmtNs(now.median)} (${fmtNs(now.min)}–${fmtNs(now.max)})`,
        `${change >= 1 ? "+" : "−"}${Math.abs((change - 1) * 100).toFixed(0)}% (noise ±${((noise - 1) * 100).toFixed(0)}%)`,
        then.medianXBare === null || now.medianXBare === null || now.lib === "baseline"
          ? "—"
          : `${fmtRatio(then.medianXBare)} → ${fmtRatio(now.medianXBare)}`,
        verdict
      ])
    }
    console.log(table(["case", "ns/op then: median (range)", "now", "change of the median", "× bare then → now", "verdict"], rows, new Set([1, 2, 3])))
    console.log(
      `\n${verdictSlower} case(s) slower beyond noise (every run now slower than every run then, by more than the larger spread).` +
        " Compare multi-runs taken on the same machine under the same load."
    )
  }
  if (options.json !== undefined) {
    writeFileSync(
      options.json,
      JSON.stringify({ header: headerLines(true), runs: results, summary }, null, 2)
    )
  }
  return failures > 0 ? 1 : 0
}

// ---------------------------------------------------------------------------
// Main

/** The commit of the measured tree (`BENCH_COMMIT` overrides it, e.g. for a `git archive` copy without .git). */
const commitOf = (): string => {
  if (process.env.BENCH_COMMIT !== undefined) return process.env.BENCH_COMMIT
  try {
    const head = readFileSync(`${root}/.git/HEAD`, "utf8").trim()
    const ref = head.startsWith("ref: ") ? readFileSync(`${root}/.git/${head.slice(5)}`, "utf8").trim() : head
    return ref.slice(0, 7)
  } catch {
    return "?"
  }
}

/** The versions / machine lines printed at the top of every run. */
const headerLines = (gcAvailable: boolean): ReadonlyArray<string> => {
  const cpus = os.cpus()
  return [
    `node ${process.version} · effect ${versionOf("effect")} · effect-resilience ${versionOf("..")}` +
    ` (${commitOf()}) · cockatiel ${versionOf("cockatiel")} · opossum ${versionOf("opossum")} · mitata ${versionOf("mitata")}` +
    ` · measured tree ${root}`,
    `${cpus[0]?.model.trim() ?? "?"} × ${cpus.length} · load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}` +
    ` · ${new Date().toISOString()}${gcAvailable ? "" : " · no manual gc"}` +
    ` · ${transpiled ? "our code transpiled to JS, run by node" : "our code run by tsx (keepNames: inflates our closures)"}`
  ]
}

const main = async (): Promise<number> => {
  const options = parseArgs(process.argv.slice(2))
  if (!options.smoke && !options.tsx && !transpiled) return runTranspiled(process.argv.slice(2))
  if (options.targets) {
    const { runTargets } = await import(pathToFileURL(`${here}targets${ext}`).href)
    return runTargets({
      runs: options.runs,
      batch: options.batch,
      callers: options.callers,
      json: options.json,
      header: ["# effect-resilience bench: targets (issue 20)", "", ...headerLines(true), ""]
    })
  }
  if (options.runs !== undefined) return runMany(options)
  const gc = exposeGc()
  const started = Date.now()
  const loaded = await loadCases()
  const selected = select(loaded.cases, options.filter)

  const cpus = os.cpus()
  const commit = commitOf()
  console.log(`# effect-resilience bench${options.smoke ? " (smoke: tiny iteration counts, figures meaningless)" : ""}`)
  console.log("")
  for (const line of headerLines(gc !== undefined)) console.log(line)
  const onlyContention = options.filter !== undefined && options.filter.test("contention") && selected.length === 0
  if (!onlyContention) {
    console.log(
      "ns/op: median over samples of one loop of `ops` calls in one fiber (Effect) or one async function (Promise)," +
        ` fastest of ${options.rounds} round(s) (spread = slowest ÷ fastest round);` +
        " overhead = ns/op − the bare baseline of the same kind; vs peers = overhead ÷ the peer's overhead"
    )
  }
  console.log("")

  const rows: Array<Row> = []
  let errors = 0
  for (const e of loaded.errors) {
    errors++
    console.log(`error loading ${e.file}: ${e.error instanceof Error ? (e.error.stack ?? e.error.message) : String(e.error)}`)
  }

  if (!onlyContention) {
    if (selected.length === 0) {
      console.log(`no case matches ${String(options.filter)}`)
      return 1
    }
    if (!options.smoke) await warmAll(selected)
    // rounds over all cases: on shared cores, interference only ever adds time,
    // so each case keeps its fastest round (and the spread shows the noise)
    const perCase = new Map<Case, { ops: number | undefined; rounds: Array<Stats>; error?: unknown }>()
    for (const c of selected) perCase.set(c, { ops: undefined, rounds: [] })
    for (let round = 1; round <= options.rounds; round++) {
      for (const c of selected) {
        const state = perCase.get(c)!
        if (state.error !== undefined) continue
        if (!options.smoke) process.stderr.write(`  round ${round}/${options.rounds}: ${c.name} …\n`)
        try {
          const r = await measureRound(c, options, gc, state.ops)
          state.ops = r.ops
          state.rounds.push(r)
        } catch (error) {
          state.error = error ?? new Error("failed")
        }
      }
    }
    let id = 0
    for (const c of selected) {
      id++
      const state = perCase.get(c)!
      if (state.error !== undefined || state.rounds.length === 0) {
        errors++
        rows.push({ id, case: c, error: state.error })
        continue
      }
      const best = state.rounds.reduce((a, b) => (b.p50 < a.p50 ? b : a))
      rows.push({ id, case: c, result: { ...best, ops: state.ops!, rounds: state.rounds.map((r) => r.p50) } })
    }

    const drift: Array<string> = []
    if (options.rounds > 1) {
      for (const row of rows) {
        if (row.case.isBaseline !== true || row.result === undefined) continue
        drift.push(`${row.case.name}: ${row.result.rounds.map(fmtNs).join(" → ")} ns`)
      }
    }

    const baselines = new Map<string, Row>()
    for (const row of rows) if (row.case.isBaseline === true) baselines.set(baselineKey(row.case), row)
    for (const row of rows) {
      const base = baselines.get(baselineKey(row.case))?.result
      if (row.result !== undefined && base !== undefined) row.overhead = row.result.p50 - base.p50
    }
    const byName = new Map(rows.map((r) => [r.case.name, r]))

    const checks: Array<TargetCheck> = []
    for (const row of rows) {
      for (const target of row.case.targets ?? []) {
        const label = target.kind === "overhead"
          ? `overhead ≤ ${fmtNs(target.max)} ns`
          : `overhead ≤ ${fmtTargetMax(target.max)} × #${byName.get(target.of)?.id ?? "?"} (${target.of})`
        const stretch = target.stretch === true ? " (stretch)" : ""
        if (row.overhead === undefined) {
          checks.push({ row, target, met: undefined, text: `${label}${stretch}: not measured` })
          continue
        }
        if (target.kind === "overhead") {
          const met = row.overhead <= target.max
          checks.push({
            row,
            target,
            met,
            text: `${label}${stretch}: ${met ? "met" : "MISSED"} (${fmtSigned(row.overhead)} ns${
              met ? "" : `, ${fmtNs(row.overhead - target.max)} ns over, ${fmtRatio(row.overhead / target.max)} the target`
            })`
          })
        } else {
          const peer = byName.get(target.of)?.overhead
          if (peer === undefined) {
            checks.push({ row, target, met: undefined, text: `${label}${stretch}: peer not measured` })
            continue
          }
          const ratio = row.overhead / peer
          const met = ratio <= target.max
          checks.push({
            row,
            target,
            met,
            text: `${label}${stretch}: ${met ? "met" : "MISSED"} (${fmtRatio(ratio)} of ${fmtSigned(peer)} ns${
              met ? "" : `, ${fmtRatio(ratio / target.max)} the target`
            })`
          })
        }
      }
    }

    const header = ["#", "case", "path", "ops", "ns/op (p50)", "p25–p75", "spread", "overhead", "× bare", "vs peers (overhead ratio)", "target"]
    const body = rows.map((row) => {
      const r = row.result
      if (r === undefined) {
        return [String(row.id), row.case.name, row.case.path, "", "ERROR", "", "", "", "", errorText(row.error), ""]
      }
      const base = baselines.get(baselineKey(row.case))?.result
      const peers = (row.case.peers ?? []).map((name) => {
        const peer = byName.get(name)
        if (peer?.overhead === undefined || row.overhead === undefined || peer.overhead <= 0) return `n/a #${peer?.id ?? "?"}`
        return `${row.overhead <= 0 ? "≈0×" : fmtRatio(row.overhead / peer.overhead)} #${peer.id}`
      })
      const own = checks.filter((c) => c.row === row && c.target.stretch !== true)
      const target = own.length === 0
        ? ""
        : own.every((c) => c.met === true)
        ? "met"
        : own.some((c) => c.met === false)
        ? `MISSED ${own.filter((c) => c.met === false).length}/${own.length}`
        : "?"
      return [
        String(row.id),
        row.case.name,
        row.case.path,
        String(r.ops),
        fmtNs(r.p50),
        `${fmtNs(r.p25)}–${fmtNs(r.p75)}`,
        r.rounds.length < 2 ? "" : fmtRatio(Math.max(...r.rounds) / Math.min(...r.rounds)),
        row.case.isBaseline === true ? "—" : row.overhead === undefined ? "" : fmtSigned(row.overhead),
        base === undefined || row.case.isBaseline === true ? "—" : fmtRatio(r.p50 / base.p50),
        peers.join(", "),
        target
      ]
    })
    console.log(table(header, body, new Set([0, 3, 4, 5, 6, 7, 8])))

    if (checks.length > 0 && options.smoke) {
      console.log("\n(targets are not evaluated in a smoke run)")
    } else if (checks.length > 0) {
      console.log("\n## targets (issue 8)\n")
      for (const c of checks) console.log(`- #${c.row.id} ${c.row.case.name}: ${c.text}`)
    }
    const notes = rows.filter((r) => r.case.note !== undefined)
    if (notes.length > 0) {
      console.log("\n## notes\n")
      for (const r of notes) console.log(`- #${r.id}: ${r.case.note}`)
    }
    if (drift.length > 0) {
      console.log("\n## baselines in each round (2 shared cores: expect noise)\n")
      for (const d of drift) console.log(`- ${d}`)
    }
    if (options.json !== undefined) {
      writeFileSync(
        options.json,
        JSON.stringify(
          {
            node: process.version,
            versions: Object.fromEntries(["effect", "cockatiel", "opossum", "mitata"].map((p) => [p, versionOf(p)])),
            commit,
            cpus: cpus.length,
            date: new Date().toISOString(),
            load: os.loadavg().map((l) => l.toFixed(2)).join(" "),
            smoke: options.smoke,
            rows: rows.map((r) => ({
              id: r.id,
              name: r.case.name,
              group: r.case.group,
              lib: r.case.lib,
              path: r.case.path,
              ...(r.result === undefined
                ? { error: errorText(r.error) }
                : {
                  ops: r.result.ops,
                  samples: r.result.samples,
                  p25: r.result.p25,
                  p50: r.result.p50,
                  p75: r.result.p75,
                  rounds: r.result.rounds
                }),
              overhead: r.overhead
            })),
            targets: checks.map((c) => ({ case: c.row.case.name, target: c.target, met: c.met, text: c.text })),
            drift
          },
          null,
          2
        )
      )
    }
  }

  const contentionOk = await runContentionIfAsked(options)
  if (!contentionOk) errors++
  console.log(`\n${rows.length} cases in ${((Date.now() - started) / 1000).toFixed(1)} s${errors > 0 ? `, ${errors} errors` : ""}`)
  return errors > 0 ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
