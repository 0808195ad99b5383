/**
 * Mutation testing of the core modules, one module at a time (`npm run mutate`).
 *
 * A single Stryker run over the whole core takes longer than anyone waits on 2 cores, and its
 * incremental file is written only when it finishes. So each module runs on its own, with the
 * test files that exercise it and its own incremental file: a run stopped half-way keeps every
 * module it finished, and the next run re-tests only mutants whose code or covering tests changed.
 * At the end the per-module reports are folded into one table (`reports/mutation/summary.md`).
 * Property tests make a fifth of their runs in a mutation run (`MUTATION_RUN=1`, test/utils/props.ts):
 * the model tests would otherwise take most of it.
 *
 *   npm run mutate                      # every core module (incremental)
 *   npm run mutate -- Bulkhead Timeout  # some modules
 *   npm run mutate -- --summary         # only print the table from the last reports
 *   npm run mutate -- --survivors Retry # list the surviving mutants of a module
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"

/** Tests every module's mutants may be killed by (cheap: Stryker runs only the covering ones). */
const shared = ["test/reliability/BadInput.test.ts", "test/reliability/Regressions.test.ts", "test/Layers.test.ts", "test/Policy.test.ts"]

interface Module {
  readonly mutate: ReadonlyArray<string>
  readonly tests: ReadonlyArray<string>
}

/** The core: `src/` less `http`, `redis`, the barrel and the test kit. */
export const modules: Record<string, Module> = {
  Errors: { mutate: ["src/Errors.ts", "src/internal/errors.ts"], tests: ["test/[A-Z]*.test.ts"] },
  // the options spec (issue 21): its own tests, and every module's options and config tests
  Validate: {
    mutate: ["src/internal/validate.ts", "src/internal/spec.ts", "src/internal/events.ts"],
    tests: ["test/[A-Z]*.test.ts", "test/internal/spec.test.ts"]
  },
  Policy: {
    mutate: ["src/Policy.ts", "src/internal/policy.ts"],
    tests: ["test/Retry.test.ts", "test/Timeout.test.ts", "test/Bulkhead.test.ts"]
  },
  Retry: {
    mutate: ["src/Retry.ts", "src/internal/retry/*.ts"],
    tests: ["test/Retry.test.ts", "test/Retry.results.test.ts", "test/Retry.config.test.ts"]
  },
  Timeout: {
    mutate: ["src/Timeout.ts", "src/internal/timeout/*.ts", "src/internal/deadline.ts", "src/internal/time.ts"],
    tests: [
      "test/Timeout.test.ts",
      "test/Timeout.fastpath.test.ts",
      "test/Timeout.events.test.ts",
      "test/Timeout.config.test.ts",
      "test/Timeout.mutants.test.ts",
      "test/internal/time.test.ts",
      // the deadline's consumers: cuts counted by the breaker, waits bounded inside uninterruptible regions
      "test/reliability/Isolation.test.ts",
      "test/reliability/Time.test.ts"
    ]
  },
  Bulkhead: {
    // leased.ts (the call path with a shared store) is tested with a fake shared store in Bulkhead.test.ts
    // (its adaptive limit's measurements, adaptive.ts, are AdaptiveLimit's)
    mutate: ["src/Bulkhead.ts", "src/internal/bulkhead/*.ts", "!src/internal/bulkhead/adaptive.ts", "src/internal/exitFrame.ts"],
    tests: ["test/Bulkhead.test.ts", "test/Bulkhead.fastpath.test.ts", "test/Semaphore.test.ts", "test/Bulkhead.config.test.ts"]
  },
  CircuitBreaker: {
    mutate: ["src/CircuitBreaker.ts", "src/internal/circuitBreaker/*.ts"],
    tests: [
      "test/CircuitBreaker.test.ts",
      "test/CircuitBreaker.keys.test.ts",
      "test/CircuitBreaker.model.test.ts",
      "test/CircuitBreaker.spans.test.ts",
      "test/CircuitBreaker.windows.test.ts",
      "test/CircuitBreaker.api.test.ts",
      "test/CircuitBreaker.machine.test.ts",
      "test/CircuitBreaker.options.test.ts",
      "test/CircuitBreaker.fastpath.test.ts",
      "test/CircuitBreaker.config.test.ts",
      "test/CircuitBreaker.mutants.test.ts",
      "test/CircuitBreaker.machine.mutants.test.ts"
    ]
  },
  RateLimiter: {
    mutate: ["src/RateLimiter.ts", "src/internal/rateLimiter/*.ts", "src/internal/sweeper.ts"],
    tests: ["test/RateLimiter.test.ts", "test/RateLimiter.store.test.ts", "test/RateLimiter.config.test.ts"]
  },
  Fallback: {
    mutate: ["src/Fallback.ts", "src/internal/fallback/*.ts"],
    // the stale store's write queue is attacked in reliability/Stores
    tests: [
      "test/Fallback.test.ts",
      "test/Fallback.results.test.ts",
      "test/Fallback.config.test.ts",
      "test/reliability/Stores.test.ts"
    ]
  },
  Hedge: {
    mutate: ["src/Hedge.ts", "src/internal/hedge/*.ts"],
    tests: ["test/Hedge.test.ts", "test/Hedge.results.test.ts", "test/Hedge.config.test.ts"]
  },
  AdaptiveLimit: {
    mutate: ["src/AdaptiveLimit.ts", "src/internal/adaptiveLimit/*.ts", "src/internal/bulkhead/adaptive.ts"],
    tests: [
      "test/AdaptiveLimit.test.ts",
      "test/AdaptiveLimit.simulation.test.ts",
      "test/AdaptiveLimit.algorithms.test.ts",
      "test/Bulkhead.test.ts",
      // the registry's adaptive entry
      "test/Health.test.ts"
    ]
  },
  Idempotency: {
    mutate: ["src/Idempotency.ts", "src/internal/idempotency/*.ts", "src/internal/sweeper.ts"],
    // the bounded memory store is attacked in reliability/Stores and Keys, hooks in UserCode
    tests: [
      "test/Idempotency.test.ts",
      "test/Idempotency.config.test.ts",
      "test/reliability/Stores.test.ts",
      "test/reliability/Keys.test.ts",
      "test/reliability/UserCode.test.ts"
    ]
  },
  Chaos: {
    mutate: ["src/Chaos.ts", "src/internal/chaos/*.ts"],
    tests: ["test/Chaos.test.ts", "test/Chaos.config.test.ts", "test/reliability/Chaos.test.ts"]
  },
  Health: {
    mutate: ["src/Health.ts", "src/internal/health/*.ts"],
    tests: ["test/Health.test.ts", "test/Health.config.test.ts", "test/Health.mutants.test.ts"]
  }
}

const dir = "reports/mutation"
const reportOf = (name: string) => `${dir}/${name}.json`

interface Counts {
  killed: number
  timeout: number
  survived: number
  noCoverage: number
  ignored: number
  errors: number
}

const count = (name: string): Counts | undefined => {
  if (!existsSync(reportOf(name))) return undefined
  const report = JSON.parse(readFileSync(reportOf(name), "utf8")) as {
    files: Record<string, { mutants: ReadonlyArray<{ status: string }> }>
  }
  const c: Counts = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 }
  for (const file of Object.values(report.files)) {
    for (const m of file.mutants) {
      switch (m.status) {
        case "Killed":
          c.killed++
          break
        case "Timeout":
          c.timeout++
          break
        case "Survived":
          c.survived++
          break
        case "NoCoverage":
          c.noCoverage++
          break
        case "Ignored":
          c.ignored++
          break
        default:
          c.errors++
      }
    }
  }
  return c
}

const score = (c: Counts) => {
  const detected = c.killed + c.timeout
  const valid = detected + c.survived + c.noCoverage
  return valid === 0 ? 100 : (100 * detected) / valid
}

const summary = () => {
  const rows: Array<string> = ["| module | score | killed | timeout | survived | no coverage | ignored |", "|---|--:|--:|--:|--:|--:|--:|"]
  const total: Counts = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 }
  const missing: Array<string> = []
  for (const name of Object.keys(modules)) {
    const c = count(name)
    if (c === undefined) {
      missing.push(name)
      continue
    }
    for (const k of Object.keys(total) as Array<keyof Counts>) total[k] += c[k]
    rows.push(`| ${name} | ${score(c).toFixed(1)}% | ${c.killed} | ${c.timeout} | ${c.survived} | ${c.noCoverage} | ${c.ignored} |`)
  }
  rows.push(
    `| **core** | **${score(total).toFixed(1)}%** | ${total.killed} | ${total.timeout} | ${total.survived} | ${total.noCoverage} | ${total.ignored} |`
  )
  const text = rows.join("\n") + (missing.length > 0 ? `\n\nNot yet run: ${missing.join(", ")}\n` : "\n")
  writeFileSync(`${dir}/summary.md`, text)
  console.log(text)
  return { total, missing }
}

const survivors = (name: string) => {
  const report = JSON.parse(readFileSync(reportOf(name), "utf8")) as {
    files: Record<
      string,
      {
        source: string
        mutants: ReadonlyArray<{
          status: string
          mutatorName: string
          replacement?: string
          location: { start: { line: number; column: number }; end: { line: number; column: number } }
        }>
      }
    >
  }
  for (const [file, { mutants, source }] of Object.entries(report.files)) {
    const lines = source.split("\n")
    for (const m of mutants) {
      if (m.status !== "Survived" && m.status !== "NoCoverage") continue
      const original = lines[m.location.start.line - 1]?.trim() ?? ""
      console.log(
        `${file}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName}\n  - ${original}\n  + ${(m.replacement ?? "").split("\n").join(" ").slice(0, 200)}`
      )
    }
  }
}

const run = (name: string) => {
  const module = modules[name]
  if (module === undefined) throw new Error(`unknown module ${name}; one of ${Object.keys(modules).join(", ")}`)
  mkdirSync(dir, { recursive: true })
  const config = {
    testRunner: "vitest",
    vitest: { configFile: "vitest.config.ts" },
    mutate: module.mutate,
    incremental: true,
    incrementalFile: `reports/stryker-incremental/${name}.json`,
    concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
    // a mutant that hangs (an effect that never completes) costs this much of a worker
    timeoutMS: Number(process.env.STRYKER_TIMEOUT_MS ?? 15000),
    thresholds: { high: 90, low: 80, break: null },
    reporters: ["clear-text", "progress", "json"],
    jsonReporter: { fileName: reportOf(name) },
    tempDirName: `.stryker-tmp-${name}`,
    cleanTempDir: "always",
    ignoreStatic: true,
    // copy only what the tests need into the sandbox
    // (examples/dashboards: the metrics-export test checks the shipped dashboards against the metrics)
    ignorePatterns: ["/*", "!/src", "!/test", "!/examples", "!/package.json", "!/vitest.config.ts", "!/tsconfig*.json"]
  }
  const file = `${dir}/${name}.stryker.json`
  writeFileSync(file, JSON.stringify(config, null, 2))
  const tests = [...new Set([...module.tests, ...shared])].join(",")
  console.log(`\n=== ${name}: ${module.mutate.join(" ")} (tests: ${tests})`)
  const result = spawnSync("npx", ["stryker", "run", file], {
    stdio: "inherit",
    // MUTATION_RUN: property tests make a fifth of their runs (test/utils/props.ts)
    env: { ...process.env, VITEST_INCLUDE: tests, MUTATION_RUN: "1" }
  })
  if (result.status !== 0) console.error(`stryker failed for ${name} (exit ${result.status})`)
}

const args = process.argv.slice(2)
if (args[0] === "--survivors") {
  for (const name of args.slice(1)) survivors(name)
} else {
  if (args[0] !== "--summary") {
    for (const name of args.length > 0 ? args : Object.keys(modules)) run(name)
  }
  const { missing, total } = summary()
  if (args.length === 0 && missing.length === 0 && score(total) < 80) process.exitCode = 1
}
