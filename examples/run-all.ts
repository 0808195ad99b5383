/**
 * Runs every example in this folder (each is a small program) and fails if
 * any of them fails. CI runs it, so the README's examples keep compiling and
 * keep working.
 */
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const files = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "run-all.ts")
  .sort()
let failed = 0
for (const file of files) {
  const started = Date.now()
  const result = spawnSync(process.execPath, ["--import", "tsx", join(here, file)], {
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    timeout: 60_000
  })
  const ok = result.status === 0
  if (!ok) failed++
  console.log(`${ok ? "ok  " : "FAIL"} examples/${file} (${Date.now() - started} ms)`)
  if (!ok) console.log(result.stdout, result.stderr)
}
console.log(`${files.length - failed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
