/**
 * Checks README.md, which is read on npm's page as well as on the repository,
 * and the code of the guides in docs/:
 *
 * - README.md is at most 30,000 bytes: it is the way in (install, quick start,
 *   a table of the guides), not the manual;
 * - every link and image of README.md is absolute (relative ones break on
 *   npm), links into this repository name paths that exist, and `#anchors`
 *   match a heading (scripts/readme-links.ts);
 * - every ```ts block of README.md and of docs/**\/*.md that has an import
 *   line type-checks (blocks without imports are fragments, and the "before"
 *   code of docs/Migration.md has none): each block becomes a module in
 *   .readme-check/, named after its file and line, compiled with the
 *   project's tsconfig (`effect-resilience` resolves to src/).
 *
 * Exits non-zero when the README is too large, a link is wrong or a block
 * does not compile.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { markdown, problems } from "./readme-links.js"

/** The most README.md may weigh, in bytes. */
const maxReadmeBytes = 30_000

const readme = readFileSync("README.md", "utf8")
const size = Buffer.byteLength(readme, "utf8")
if (size > maxReadmeBytes) {
  console.error(
    `README.md is ${size.toLocaleString("en-US")} bytes, over the ${maxReadmeBytes.toLocaleString("en-US")}-byte limit: ` +
      "move material to docs/ and link it"
  )
  process.exit(1)
}
console.log(`README: ${size.toLocaleString("en-US")} bytes (limit ${maxReadmeBytes.toLocaleString("en-US")})`)

const linkProblems = problems(readme)
if (linkProblems.length > 0) {
  console.error(`README: ${linkProblems.length} broken link(s) (on npm or on the repository):\n  ${linkProblems.join("\n  ")}`)
  process.exit(1)
}
console.log("README: every link and image is absolute and resolves")


interface Block {
  readonly file: string
  readonly line: number
  readonly code: string
}
const blocksOf = (file: string): Array<Block> => {
  const text = readFileSync(file, "utf8")
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)]
    .map((m) => ({ file, line: text.slice(0, m.index).split("\n").length + 1, code: m[1]! }))
    .filter((b) => /^import /m.test(b.code))
}
const files = ["README.md", ...markdown("docs")]
const blocks = files.flatMap(blocksOf)

rmSync(".readme-check", { recursive: true, force: true })
mkdirSync(".readme-check")
for (const b of blocks) {
  // README.md:31 → README.md-L31.ts; a compiler error at line n of it is at line 31 + n - 1 of README.md
  writeFileSync(`.readme-check/${b.file.replace(/\//g, "_")}-L${b.line}.ts`, `${b.code}\nexport {}\n`)
}
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
const perFile = files
  .map((f) => [f, blocks.filter((b) => b.file === f).length] as const)
  .filter(([, n]) => n > 0)
  .map(([f, n]) => `${f} ${n}`)
console.log(`README and docs: ${blocks.length} code blocks type-checked (${perFile.join(", ")}): ${result.status === 0 ? "ok" : "FAILED"}`)
if (result.status !== 0) {
  console.log("(a block is .readme-check/<file>-L<line>.ts: its line n is line <line> + n - 1 of <file>)")
}
process.exit(result.status ?? 1)
