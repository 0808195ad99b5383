/**
 * Type-checks every ```ts block of README.md that has an import line (blocks
 * without imports are fragments). Each block becomes a module in
 * .readme-check/, compiled with the project's tsconfig; exits non-zero when
 * any block does not compile.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"

const readme = readFileSync("README.md", "utf8")
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => /^import /m.test(b))
rmSync(".readme-check", { recursive: true, force: true })
mkdirSync(".readme-check")
blocks.forEach((b, i) => writeFileSync(`.readme-check/block${i}.ts`, `${b}\nexport {}\n`))
writeFileSync(
  ".readme-check/tsconfig.json",
  JSON.stringify({
    extends: "../tsconfig.json",
    compilerOptions: { noUnusedLocals: false, noEmit: true },
    include: ["./*.ts"]
  })
)
const result = spawnSync("npx", ["tsc", "-p", ".readme-check/tsconfig.json"], { encoding: "utf8" })
process.stdout.write(result.stdout)
rmSync(".readme-check", { recursive: true, force: true })
console.log(`README: ${blocks.length} code blocks type-checked: ${result.status === 0 ? "ok" : "FAILED"}`)
process.exit(result.status ?? 1)
