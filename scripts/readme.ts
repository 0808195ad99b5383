/**
 * README.md is assembled from docs/: every `<!-- include docs/X.md -->` …
 * `<!-- end include -->` block is replaced by that file's content, so each
 * pattern's section has one source (docs/X.md, written next to its module)
 * and the README never drifts from it.
 *
 *   npx tsx scripts/readme.ts           # rewrite README.md
 *   npx tsx scripts/readme.ts --check   # fail if README.md is not up to date (CI)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"

const check = process.argv.includes("--check")
const readme = readFileSync("README.md", "utf8")
const missing: Array<string> = []
const next = readme.replace(
  /<!-- include (\S+) -->\n[\s\S]*?<!-- end include -->/g,
  (_, path: string) => {
    if (!existsSync(path)) {
      missing.push(path)
      return `<!-- include ${path} -->\n<!-- end include -->`
    }
    return `<!-- include ${path} -->\n${readFileSync(path, "utf8").trimEnd()}\n<!-- end include -->`
  }
)
if (missing.length > 0) {
  console.error(`README: missing ${missing.join(", ")}`)
  process.exit(1)
}
if (check) {
  if (next !== readme) {
    console.error("README.md is out of date with docs/: run `npx tsx scripts/readme.ts`")
    process.exit(1)
  }
  console.log("README.md is up to date with docs/")
} else {
  writeFileSync("README.md", next)
  console.log("README.md written")
}
