/**
 * Checks README.md, which is read on npm's page as well as on the repository:
 *
 * - every link and image is absolute (relative ones break on npm), links into
 *   this repository name paths that exist, and `#anchors` match a heading
 *   (scripts/readme-links.ts);
 * - every ```ts block that has an import line (blocks without imports are
 *   fragments) type-checks: each block becomes a module in .readme-check/,
 *   compiled with the project's tsconfig.
 *
 * Exits non-zero when a link is wrong or a block does not compile.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { problems } from "./readme-links.js"

const readme = readFileSync("README.md", "utf8")
const linkProblems = problems(readme)
if (linkProblems.length > 0) {
  console.error(`README: ${linkProblems.length} broken link(s) (on npm or on the repository):\n  ${linkProblems.join("\n  ")}`)
  process.exit(1)
}
console.log("README: every link and image is absolute and resolves")
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
