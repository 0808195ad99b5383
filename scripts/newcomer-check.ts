/**
 * The newcomer check: does what a new user does with the README, against the
 * packed package, in a fresh app outside this repository.
 *
 * 1. `npm pack` (run `npm run build` first: `npm run check:newcomer` does);
 * 2. a fresh app in a temporary folder: package.json (`"type": "module"`) and
 *    TypeScript 5.9's `tsc --init` tsconfig (`strict`, `module` NodeNext,
 *    `exactOptionalPropertyTypes`, `verbatimModuleSyntax`…), target ES2022;
 * 3. the README's install line (the `sh` block after `<!-- newcomer: install -->`),
 *    exactly, with the tarball in place of `effect-resilience`, then
 *    typescript and @types/node for the app;
 * 4. the README's quick start (the `ts` block after `<!-- newcomer: quick start`)
 *    compiled with `tsc` and run with `node`: the code is the README's, as
 *    is; a prelude module supplies what it `declare`s (`fetchCharge`, failing
 *    twice with a 503, then succeeding) and lines appended after it run the
 *    program and check the result;
 * 5. imports of `effect-resilience/http` and `effect-resilience/redis`,
 *    compiled and run (a resilient HttpClient on @effect/platform-node against
 *    a local server; the Redis layers built but not connected);
 * 6. the package's own declarations without `skipLibCheck`.
 *
 * Also fails when the install line's versions differ from the ones this
 * repository tests with (package.json's devDependencies) or from the README's
 * compatibility table. Removes its temporary folder and the tarball, exits
 * non-zero on any failure.
 *
 *   npm run check:newcomer          # build, then this
 *   npx tsx scripts/newcomer-check.ts [--keep]   # --keep: leave the app folder
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

const typescript = "typescript@5.9.3"
const keep = process.argv.includes("--keep")
const started = Date.now()

const step = (message: string) =>
  console.log(`\n==> newcomer: ${message} (${((Date.now() - started) / 1000).toFixed(1)} s)`)

class CheckFailed extends Error {}
const fail = (message: string): never => {
  throw new CheckFailed(message)
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string, capture = false): string => {
  console.log(`$ ${command} ${args.join(" ")}`)
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    stdio: capture ? ["ignore", "pipe", "inherit"] : "inherit",
    env: { ...process.env, npm_config_update_notifier: "false" }
  })
  if (result.error) fail(`${command}: ${result.error.message}`)
  if (result.status !== 0) fail(`${command} ${args.join(" ")} exited with ${result.status ?? result.signal}`)
  return result.stdout ?? ""
}

/** The first fenced block of `lang` after the line holding `marker`. */
const blockAfter = (readme: string, marker: string, lang: string): string => {
  const at = readme.indexOf(marker)
  if (at === -1) fail(`README.md has no \`${marker}\` marker`)
  const block = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(readme.slice(at))
  if (block === null) fail(`README.md has no \`\`\`${lang} block after \`${marker}\``)
  return block![1]!
}

const root = resolve(import.meta.dirname, "..")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  readonly name: string
  readonly devDependencies: Record<string, string>
}
const readme = readFileSync(join(root, "README.md"), "utf8")

let app: string | undefined
try {
  step("the README's install line and quick start")
  const installLines = blockAfter(readme, "<!-- newcomer: install -->", "sh").split("\n").filter((l) => l.trim() !== "")
  if (installLines.length !== 1 || !installLines[0]!.startsWith(`npm install ${pkg.name} `)) {
    fail(`the install block must be one line \`npm install ${pkg.name} …\`, found:\n${installLines.join("\n")}`)
  }
  const companions = installLines[0]!.trim().split(/\s+/).slice(3)
  for (const spec of companions) {
    const [, name = "", version = ""] = /^(@?[^@]+)@(.*)$/.exec(spec) ?? []
    if (!/^\d+\.\d+\.\d+$/.test(version)) fail(`${spec}: the install line must pin an exact version`)
    const tested = pkg.devDependencies[name]
    if (tested !== version) fail(`${spec}: this repository tests with ${name}@${tested ?? "(not a devDependency)"}`)
    const row = readme.split("\n").find((l) => l.startsWith(`| \`${name}\` |`))
    if (row === undefined || !row.includes(` ${version} `)) {
      fail(`the README's compatibility table has no row \`${name}\` with ${version}`)
    }
  }
  console.log(`install line: ${pkg.name} ${companions.join(" ")}`)
  const quickStart = blockAfter(readme, "<!-- newcomer: quick start", "ts")
  if (!quickStart.includes("declare const fetchCharge")) {
    fail("the quick start no longer declares fetchCharge: update this check's prelude and runner")
  }

  step("npm pack")
  app = mkdtempSync(join(tmpdir(), "effect-resilience-newcomer-"))
  const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", app], root, true)) as Array<{
    readonly filename: string
  }>
  const tarball = join(app, packed[0]!.filename)
  console.log(`packed ${tarball}`)

  step(`a fresh app in ${app}`)
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "newcomer-app", version: "1.0.0", private: true, type: "module" }, null, 2)
  )
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify(
      {
        // TypeScript 5.9's `tsc --init`, with Node's types and ES2022
        compilerOptions: {
          rootDir: "src",
          outDir: "dist",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          lib: ["ES2022"],
          types: ["node"],
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          verbatimModuleSyntax: true,
          isolatedModules: true,
          noUncheckedSideEffectImports: true,
          moduleDetection: "force",
          skipLibCheck: true
        },
        include: ["src"]
      },
      null,
      2
    )
  )

  step("the README's install line (the tarball for effect-resilience)")
  run("npm", ["install", "--no-audit", "--no-fund", tarball, ...companions], app)
  step(`tools: ${typescript}, @types/node`)
  run("npm", ["install", "--no-audit", "--no-fund", "--save-dev", typescript, `@types/node@${pkg.devDependencies["@types/node"]}`], app)

  mkdirSync(join(app, "src"))
  // what the quick start declares: a charge call that fails twice with a 503, then succeeds
  writeFileSync(
    join(app, "src", "prelude.ts"),
    `import { Data, Effect } from "effect"

class PaymentFailed extends Data.TaggedError("PaymentFailed")<{ readonly status: number }> {}

export let chargeAttempts = 0
const fetchCharge = (_id: string) =>
  Effect.suspend(() =>
    ++chargeAttempts <= 2 ? Effect.fail(new PaymentFailed({ status: 503 })) : Effect.succeed({ amount: 4200 })
  )
Object.assign(globalThis, { fetchCharge })
`
  )
  writeFileSync(
    join(app, "src", "quickstart.ts"),
    `import "./prelude.js"
// ---- the README's quick start, as is ----
${quickStart}// ---- run it ----
import { chargeAttempts } from "./prelude.js"

const charged: { readonly amount: number } = await Effect.runPromise(callPayments)
if (charged.amount !== 4200 || chargeAttempts !== 3) {
  throw new Error(\`quick start: expected 4200 after 3 attempts, got \${charged.amount} after \${chargeAttempts}\`)
}
console.log(\`quick start: charged \${charged.amount} after \${chargeAttempts} attempts (2 retried failures)\`)
`
  )
  writeFileSync(
    join(app, "src", "subpaths.ts"),
    `import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { ResilientHttpClient } from "effect-resilience/http"
import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
import { Effect, Layer } from "effect"

// effect-resilience/redis: a shared breaker store's layer (built, not connected)
const BreakerStoreLive = CircuitBreakerStore.layer().pipe(
  Layer.provide(Redis.layer({ url: "redis://127.0.0.1:6379" }))
)

// effect-resilience/http: a resilient HttpClient on @effect/platform-node against a local server
let requests = 0
const server = createServer((_req, res) => {
  requests++
  res.writeHead(requests === 1 ? 503 : 200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true }))
})
await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
const { port } = server.address() as AddressInfo
const HttpLive = ResilientHttpClient.layer({ timeout: "10 seconds", attemptTimeout: "2 seconds" }).pipe(
  Layer.provide(NodeHttpClient.layerUndici)
)
const get = HttpClient.get(\`http://127.0.0.1:\${port}/\`).pipe(
  Effect.flatMap((response) => response.json),
  Effect.scoped,
  Effect.provide(HttpLive)
)
try {
  const body: unknown = await Effect.runPromise(get)
  if (JSON.stringify(body) !== '{"ok":true}' || requests !== 2) {
    throw new Error(\`http: expected {"ok":true} after a retried 503, got \${JSON.stringify(body)} after \${requests} requests\`)
  }
  if (!Layer.isLayer(BreakerStoreLive)) throw new Error("redis: CircuitBreakerStore.layer() is not a Layer")
  console.log("effect-resilience/http: a 503 retried, then ok; effect-resilience/redis: layers built")
} finally {
  server.close()
}
`
  )

  const tsc = join(app, "node_modules", ".bin", "tsc")
  step("tsc (strict, NodeNext)")
  run(tsc, ["-p", "tsconfig.json"], app)

  // without skipLibCheck, the package's own declarations must type-check too
  // (other packages' are not this check's business: @effect/platform's need
  // the DOM lib and @types/ws, for instance)
  step("tsc --skipLibCheck false: the package's declarations")
  const libCheck = spawnSync(tsc, ["-p", "tsconfig.json", "--noEmit", "--skipLibCheck", "false", "--lib", "ES2022,DOM"], {
    cwd: app,
    encoding: "utf8"
  })
  if (libCheck.error || libCheck.status === null || libCheck.status > 2) {
    fail(`tsc --skipLibCheck false did not run: ${libCheck.error?.message ?? libCheck.signal ?? libCheck.status}`)
  }
  const ours = (libCheck.stdout + libCheck.stderr).split("\n").filter((l) => l.includes(`node_modules/${pkg.name}/`))
  if (ours.length > 0) fail(`errors in ${pkg.name}'s declarations:\n${ours.join("\n")}`)
  console.log(`no errors in ${pkg.name}'s declarations`)

  step("node dist/quickstart.js")
  run(process.execPath, ["dist/quickstart.js"], app)
  step("node dist/subpaths.js")
  run(process.execPath, ["dist/subpaths.js"], app)

  step("passed")
} catch (error) {
  console.error(`\nnewcomer check FAILED: ${error instanceof CheckFailed ? error.message : String(error)}`)
  if (!(error instanceof CheckFailed) && error instanceof Error && error.stack) console.error(error.stack)
  process.exitCode = 1
} finally {
  if (app !== undefined) {
    if (keep) console.log(`kept ${app}`)
    else rmSync(app, { recursive: true, force: true })
  }
}
