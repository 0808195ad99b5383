/**
 * Checks the run-time import graph of `src/` (issue 20, DESIGN.md "Layout"):
 *
 * - (a) no import cycle between modules at run time;
 * - (b) internal code (`src/internal/`, `src/http/internal/`, `src/redis/internal/`)
 *   never imports a public module (`src/*.ts`, `src/http/*.ts`, `src/redis/*.ts`
 *   other than the index files) at run time — neither its own (the issue-20 rule,
 *   alone with `--own-only`) nor another one (DESIGN.md's layout).
 *
 * Run-time imports are `import … from`, `export … from` and `import("…")`;
 * `import type`, `export type` and imports whose every specifier is `type` are
 * erased by the compiler and do not count. Every file is parsed with the
 * TypeScript compiler API. Exits non-zero, listing each problem, when one is found.
 *
 * Run: `npx tsx scripts/check-imports.ts` (or `npm run check:imports`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import ts from "typescript"

const root = resolve(dirname(new URL(import.meta.url).pathname), "..")
const srcDir = join(root, "src")

const listTs = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return listTs(path)
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : []
  })

/** Path relative to the repository root, with `/` separators. */
const rel = (path: string): string => relative(root, path).split("\\").join("/")

/** A relative specifier (`./x.js`) to the `.ts` source it names, or undefined for packages. */
const resolveSpecifier = (from: string, specifier: string): string | undefined => {
  if (!specifier.startsWith(".")) return undefined
  const base = resolve(dirname(from), specifier)
  const candidates = [
    base.replace(/\.js$/, ".ts"),
    base.replace(/\.mjs$/, ".mts"),
    `${base}.ts`,
    join(base, "index.ts")
  ]
  const found = candidates.find((c) => c.startsWith(srcDir) && existsSync(c) && statSync(c).isFile())
  if (found === undefined) throw new Error(`${rel(from)}: cannot resolve "${specifier}"`)
  return found
}

/** The module specifiers a file imports at run time. */
const runtimeSpecifiers = (file: string): Array<string> => {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const out: Array<string> = []
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      // `import "x"` (side effects only) is a run-time import.
      if (clause === undefined) out.push(node.moduleSpecifier.text)
      else if (!clause.isTypeOnly) {
        const bindings = clause.namedBindings
        const typeOnlyNamed = clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) &&
          bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)
        if (!typeOnlyNamed) out.push(node.moduleSpecifier.text)
      }
    } else if (ts.isImportEqualsDeclaration(node) && !node.isTypeOnly) {
      const ref = node.moduleReference
      if (ts.isExternalModuleReference(ref) && ts.isStringLiteral(ref.expression)) out.push(ref.expression.text)
    } else if (
      ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const clause = node.exportClause
      const typeOnlyNamed = clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 &&
        clause.elements.every((e) => e.isTypeOnly)
      if (!node.isTypeOnly && !typeOnlyNamed) out.push(node.moduleSpecifier.text)
    } else if (
      ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length > 0 && ts.isStringLiteralLike(node.arguments[0]!)
    ) {
      out.push(node.arguments[0].text)
    }
    // `import("x").T` in a type position is an ImportTypeNode, not a call: not visited as one.
    ts.forEachChild(node, visit)
  }
  visit(source)
  return out
}

const files = listTs(srcDir).sort()
const graph = new Map<string, Array<string>>()
let edges = 0
for (const file of files) {
  const targets = [...new Set(runtimeSpecifiers(file).flatMap((s) => resolveSpecifier(file, s) ?? []))].sort()
  graph.set(file, targets)
  edges += targets.length
}

// (a) cycles: strongly connected components (Tarjan) with more than one file, or a self-import.
const cycles: Array<Array<string>> = []
{
  let index = 0
  const indexOf = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const strong = (v: string): void => {
    indexOf.set(v, index)
    low.set(v, index)
    index++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!indexOf.has(w)) {
        strong(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!))
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: Array<string> = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort())
    }
  }
  for (const file of files) if (!indexOf.has(file)) strong(file)
}

/** One shortest cycle through `start` inside its component, for a readable report. */
const cycleThrough = (start: string, component: ReadonlySet<string>): Array<string> => {
  const previous = new Map<string, string>()
  const queue = [start]
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue
      if (w === start) {
        const path = [v]
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!)
        return [...path, start]
      }
      if (!previous.has(w)) {
        previous.set(w, v)
        queue.push(w)
      }
    }
  }
  return [start]
}

// (b) internal → public at run time.
const isInternal = (file: string): boolean => /^src\/(?:http\/|redis\/)?internal\//.test(rel(file))
const isPublic = (file: string): boolean =>
  /^src\/(?:http\/|redis\/)?[^/]+\.ts$/.test(rel(file)) && !rel(file).endsWith("/index.ts")
const packageOf = (file: string): string => rel(file).replace(/^(src\/(?:http\/|redis\/)?).*$/, "$1")

/**
 * The public modules an internal file belongs to: those whose name starts its
 * pattern name (`internal/<pattern>/…` or `internal/<pattern>….ts`, same
 * package: `idempotencyStore.ts` belongs to `Idempotency.ts`), and those that
 * reach it at run time through internal files only (they load it).
 */
const ownersOf = (file: string): Set<string> => {
  const pattern = rel(file).replace(/^src\/(?:http\/|redis\/)?internal\//, "").split("/")[0]!.replace(/\.ts$/, "")
  const owners = new Set<string>()
  for (const candidate of files) {
    if (!isPublic(candidate) || packageOf(candidate) !== packageOf(file)) continue
    const name = rel(candidate).replace(/^.*\//, "").replace(/\.ts$/, "")
    if (pattern.toLowerCase().startsWith(name.toLowerCase())) owners.add(candidate)
  }
  for (const candidate of files) {
    if (!isPublic(candidate)) continue
    const seen = new Set<string>()
    const queue = (graph.get(candidate) ?? []).filter(isInternal)
    while (queue.length > 0) {
      const next = queue.pop()!
      if (seen.has(next)) continue
      seen.add(next)
      if (next === file) {
        owners.add(candidate)
        break
      }
      queue.push(...(graph.get(next) ?? []).filter(isInternal))
    }
  }
  return owners
}

// Enforced: internal code never imports a public module at run time (DESIGN.md's layout;
// issue 20 asks for its own module at least, and no internal file does either since the
// restructuring). `--own-only` checks the narrower rule alone (an internal file importing
// another pattern's public module is then only reported).
const enforceAll = !process.argv.includes("--own-only")
const layering: Array<string> = []
const otherPublic: Array<string> = []
for (const [file, targets] of graph) {
  if (!isInternal(file)) continue
  const owners = ownersOf(file)
  for (const target of targets) {
    if (!isPublic(target)) continue
    const line = `${rel(file)} -> ${rel(target)}`
    if (owners.has(target) || enforceAll) layering.push(line)
    else otherPublic.push(line)
  }
}

if (cycles.length > 0 || layering.length > 0) {
  if (cycles.length > 0) {
    console.error(`import graph: ${cycles.length} run-time import cycle(s) in src/:`)
    for (const component of cycles) {
      const set = new Set(component)
      console.error(`  ${cycleThrough(component[0]!, set).map(rel).join(" -> ")}`)
      if (component.length > 2) console.error(`    (files in this cycle: ${component.map(rel).join(", ")})`)
    }
  }
  if (layering.length > 0) {
    console.error(
      `import graph: ${layering.length} internal module(s) importing ${
        enforceAll ? "a" : "their own"
      } public module at run time:`
    )
    for (const line of layering) console.error(`  ${line}`)
    console.error("  (internal code may import public modules with `import type` only)")
  }
  process.exit(1)
}
console.log(
  `import graph OK: ${files.length} files, ${edges} run-time imports in src/, no cycle, no internal module importing ${
    enforceAll ? "a" : "its own"
  } public module`
)
if (otherPublic.length > 0) {
  console.log(
    `  (not enforced: ${otherPublic.length} internal -> other public module import(s) at run time; \`--all\` lists them)`
  )
}
