/**
 * README.md and the guides in docs/.
 *
 * README.md is short: it links a guide in docs/ for every module instead of
 * including the guides. It is read on npm's page, where relative links do not
 * resolve, so its links are absolute; write them relative to the repository's
 * root (`docs/Retry.md`, `docs/demo-report.png`) and this script makes them
 * absolute (scripts/readme-links.ts). With `--check` (CI) it changes nothing
 * and fails when:
 *
 * - README.md still has a relative link (run the script without `--check`);
 * - README.md does not link the guide of a module: `docs/<Module>.md` for each
 *   namespace exported by `src/index.ts`, `docs/Http.md` and `docs/Redis.md`
 *   for the two subpaths, and the options reference `docs/Options.md` — or
 *   that guide does not exist;
 * - a relative link of docs/ (or of `.changeset/README.md`) names a path that
 *   does not exist, or an `#anchor` that no heading of its target makes.
 *
 *   npx tsx scripts/readme.ts           # make README.md's relative links absolute
 *   npx tsx scripts/readme.ts --check   # the checks above (CI)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { absolutize, docsProblems, markdown, repository } from "./readme-links.js"

const check = process.argv.includes("--check")
const readme = readFileSync("README.md", "utf8")

let next: string
try {
  next = absolutize("README.md", readme)
} catch (error) {
  console.error(`README: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
}

if (!check) {
  writeFileSync("README.md", next)
  console.log(next === readme ? "README.md: every link already absolute" : "README.md: relative links made absolute")
  process.exit(0)
}

const problems: Array<string> = []
if (next !== readme) problems.push("README.md has relative links: run `npx tsx scripts/readme.ts` to make them absolute")

// every module has a guide, and the README links it
const rootModules = [...readFileSync("src/index.ts", "utf8").matchAll(/^export \* as (\w+) from/gm)].map((m) => m[1]!)
const guides = [...rootModules.map((m) => `docs/${m}.md`), "docs/Http.md", "docs/Redis.md", "docs/Options.md"]
for (const guide of guides) {
  if (!existsSync(guide)) problems.push(`${guide} does not exist (every module has a guide)`)
  else if (!readme.includes(`${repository}/blob/main/${guide}`)) problems.push(`README.md does not link ${guide}`)
}

// the links of docs/ resolve
const docs = [...markdown("docs"), ".changeset/README.md"]
problems.push(...docsProblems(docs))

if (problems.length > 0) {
  console.error(`README and docs: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`)
  process.exit(1)
}
console.log(`README.md links ${guides.length} guides, every link absolute; ${docs.length} docs files, every relative link resolves`)
