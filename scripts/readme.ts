/**
 * README.md is assembled from docs/: every `<!-- include docs/X.md -->` …
 * `<!-- end include -->` block is replaced by that file's content, so each
 * pattern's section has one source (docs/X.md, written next to its module)
 * and the README never drifts from it. Relative links of an included file
 * (relative to its folder, as they work on the repository) become absolute
 * URLs, so that they also work on npm's page (see scripts/readme-links.ts).
 *
 *   npx tsx scripts/readme.ts           # rewrite README.md
 *   npx tsx scripts/readme.ts --check   # fail if README.md is not up to date (CI)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { absolutize } from "./readme-links.js"

const check = process.argv.includes("--check")
const readme = readFileSync("README.md", "utf8")
const missing: Array<string> = []
const broken: Array<string> = []
const next = readme.replace(
  /<!-- include (\S+) -->\n[\s\S]*?<!-- end include -->/g,
  (_, path: string) => {
    if (!existsSync(path)) {
      missing.push(path)
      return `<!-- include ${path} -->\n<!-- end include -->`
    }
    let text = readFileSync(path, "utf8").trimEnd()
    try {
      text = absolutize(path, text)
    } catch (error) {
      broken.push(error instanceof Error ? error.message : String(error))
    }
    return `<!-- include ${path} -->\n${text}\n<!-- end include -->`
  }
)
if (missing.length > 0) {
  console.error(`README: missing ${missing.join(", ")}`)
  process.exit(1)
}
if (broken.length > 0) {
  console.error(`README: broken links in docs/:\n  ${broken.join("\n  ")}`)
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
