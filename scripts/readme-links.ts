/**
 * Links of README.md and of docs/.
 *
 * README.md is read on two sites: the repository's page (where relative links
 * resolve against the repository) and npm's package page (where they do not
 * resolve at all). So every link and image in README.md is absolute:
 *
 * - scripts/readme.ts rewrites the relative links of README.md (relative to
 *   the repository's root, as they work on the repository) into absolute
 *   URLs: files to `blob/main/<path>`, folders to `tree/main/<path>`, images
 *   to raw.githubusercontent.com (which npm's page renders);
 * - scripts/check-readme.ts fails when README.md has a relative link or image,
 *   a link into this repository to a path that does not exist, or an
 *   `#anchor` that no heading of the README makes.
 *
 * The guides in docs/ are read on the repository, so their links stay
 * relative (`../examples/x.ts`, `Errors.md#keys`); `docsProblems` (run by
 * `scripts/readme.ts --check`) fails when one names a path that does not
 * exist or an `#anchor` that no heading of its target makes.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join, posix } from "node:path"

export const repository = "https://github.com/effect-resilience/effect-resilience"
const branch = "main"
const raw = `https://raw.githubusercontent.com/effect-resilience/effect-resilience/${branch}`

interface Link {
  readonly kind: "link" | "image" | "definition" | "html"
  /** where the target starts and ends in the text */
  readonly start: number
  readonly end: number
  readonly target: string
  readonly line: number
}

/** The text with fenced code blocks and inline code spans blanked out (same length, same lines). */
const maskCode = (text: string): string => {
  const blank = (s: string) => s.replace(/[^\n]/g, " ")
  const lines = text.split("\n")
  let fence: { readonly char: string; readonly size: number } | undefined
  const prose = lines.map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1]
    if (fence === undefined) {
      if (marker !== undefined) {
        fence = { char: marker[0]!, size: marker.length }
        return blank(line)
      }
      return line
    }
    if (marker !== undefined && marker[0] === fence.char && marker.length >= fence.size && line.trim() === marker) {
      fence = undefined
    }
    return blank(line)
  }).join("\n")
  // inline code: a run of backticks up to the next run of the same length, within a paragraph
  return prose.replace(/(`+)((?:[^`\n]|\n(?![ \t]*\n)|`+)*?)(?<!`)\1(?!`)/g, (m) => blank(m))
}

const lineOf = (text: string, index: number) => text.slice(0, index).split("\n").length

/** Every link target of a Markdown text outside code: inline links and images, reference definitions, HTML src/href. */
export const links = (text: string): Array<Link> => {
  const masked = maskCode(text)
  const found: Array<Link> = []
  const add = (kind: Link["kind"], start: number, target: string) =>
    found.push({ kind, start, end: start + target.length, target, line: lineOf(text, start) })
  for (const m of masked.matchAll(/(!?)\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const target = m[2]!
    add(m[1] === "!" ? "image" : "link", m.index + m[0].indexOf(target, m[0].indexOf("](")), target)
  }
  for (const m of masked.matchAll(/^ {0,3}\[[^\]]+\]:[ \t]*<?([^\s>]+)/gm)) {
    add("definition", m.index + m[0].lastIndexOf(m[1]!), m[1]!)
  }
  for (const m of masked.matchAll(/<(?:img|a|source)\b[^>]*?\b(?:src|href|srcset)\s*=\s*["']([^"']+)["']/gi)) {
    add("html", m.index + m[0].lastIndexOf(m[1]!), m[1]!)
  }
  return found.sort((a, b) => a.start - b.start)
}

const isAbsolute = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")

/**
 * A Markdown file's text with its relative links made absolute. `file` is the
 * file's path from the repository's root (`README.md`, `docs/Retry.md`), which
 * relative links are resolved against. Throws when a relative link leaves the
 * repository or names a missing path.
 */
export const absolutize = (file: string, text: string): string => {
  let out = ""
  let at = 0
  for (const link of links(text)) {
    if (isAbsolute(link.target) || link.target.startsWith("#")) continue
    const [, path = "", suffix = ""] = /^([^#?]*)(.*)$/.exec(link.target)!
    const resolved = posix.normalize(posix.join(posix.dirname(file), decodeURIComponent(path)))
    if (resolved.startsWith("..") || posix.isAbsolute(resolved)) {
      throw new Error(`${file}:${link.line}: link ${link.target} leaves the repository`)
    }
    if (!existsSync(resolved)) {
      throw new Error(`${file}:${link.line}: link ${link.target} names ${resolved}, which does not exist`)
    }
    const url = link.kind === "image" || /\.(png|jpe?g|gif|svg|webp)$/i.test(resolved)
      ? `${raw}/${resolved}`
      : `${repository}/${statSync(resolved).isDirectory() ? "tree" : "blob"}/${branch}/${resolved}`
    out += text.slice(at, link.start) + url + suffix
    at = link.end
  }
  return out + text.slice(at)
}

/** GitHub's heading anchors (github-slugger): lowercase, punctuation dropped, spaces to hyphens, duplicates numbered. */
export const anchors = (text: string): Set<string> => {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  for (const m of maskCode(text).matchAll(/^ {0,3}#{1,6}[ \t]+/gm)) {
    const end = text.indexOf("\n", m.index)
    // the heading's own text, read from the original line (inline code included, which the mask
    // blanked: matched on the masked text, a heading that starts with code would lose it)
    const heading = text.slice(m.index, end === -1 ? undefined : end)
      .replace(/^ {0,3}#{1,6}[ \t]+/, "")
      .replace(/[ \t]+#+[ \t]*$/, "")
      .trim()
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/<[^>]+>/g, "")
    const base = heading.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-")
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    result.add(count === 0 ? base : `${base}-${count}`)
  }
  return result
}

/** Problems with the links of README.md (empty when every link works on npm and on the repository). */
export const problems = (readme: string): Array<string> => {
  const headings = anchors(readme)
  const own = new RegExp(
    `^(?:${repository}/(blob|tree)/${branch}/|https://raw\\.githubusercontent\\.com/effect-resilience/effect-resilience/${branch}/)([^#?]+)`
  )
  const errors: Array<string> = []
  for (const link of links(readme)) {
    const where = `README.md:${link.line}: ${link.kind} ${link.target}`
    if (link.target.startsWith("#")) {
      if (!headings.has(decodeURIComponent(link.target.slice(1)))) errors.push(`${where}: no heading makes this anchor`)
      continue
    }
    if (!isAbsolute(link.target)) {
      errors.push(`${where}: relative, broken on npm (write ${repository}/blob/${branch}/<path>, or ${raw}/<path> for an image)`)
      continue
    }
    if ((link.kind === "image" || link.kind === "html") && !link.target.startsWith("https://")) {
      errors.push(`${where}: an image must be an https URL`)
      continue
    }
    const ours = own.exec(link.target)
    if (ours !== null) {
      const path = decodeURIComponent(ours[2]!)
      if (!existsSync(path)) errors.push(`${where}: ${path} does not exist in this repository`)
      else if (ours[1] === "tree" && !statSync(path).isDirectory()) errors.push(`${where}: ${path} is a file (use blob/)`)
      else if (ours[1] === "blob" && statSync(path).isDirectory()) errors.push(`${where}: ${path} is a folder (use tree/)`)
    }
  }
  return errors
}

/**
 * Problems with the links of Markdown files read on the repository (docs/):
 * a relative link that leaves the repository or names a missing path, and an
 * `#anchor` (in the same file, or in another Markdown file of the repository)
 * that no heading of its target makes. Absolute URLs are not checked.
 * `files` are paths from the repository's root.
 */
export const docsProblems = (files: ReadonlyArray<string>): Array<string> => {
  const headings = new Map<string, Set<string>>()
  const anchorsOf = (path: string) => {
    let found = headings.get(path)
    if (found === undefined) {
      found = anchors(readFileSync(path, "utf8"))
      headings.set(path, found)
    }
    return found
  }
  const errors: Array<string> = []
  for (const file of files) {
    for (const link of links(readFileSync(file, "utf8"))) {
      if (isAbsolute(link.target)) continue
      const where = `${file}:${link.line}: ${link.kind} ${link.target}`
      const [, path = "", hash = ""] = /^([^#?]*)(?:\?[^#]*)?(?:#(.*))?$/.exec(link.target) ?? []
      let target = file
      if (path !== "") {
        target = posix.normalize(posix.join(posix.dirname(file), decodeURIComponent(path)))
        if (target.startsWith("..") || posix.isAbsolute(target)) {
          errors.push(`${where}: leaves the repository`)
          continue
        }
        if (!existsSync(target)) {
          errors.push(`${where}: ${target} does not exist`)
          continue
        }
      }
      if (hash !== "" && target.endsWith(".md") && !anchorsOf(target).has(decodeURIComponent(hash))) {
        errors.push(`${where}: no heading of ${target} makes the anchor #${hash}`)
      }
    }
  }
  return errors
}

/** The API reference `npm run docgen` writes (docs/modules, docs/index.md, …: not committed) is not a guide. */
const GENERATED = new Set(["docs/modules", "docs/examples", "docs/index.md"])

/** Every Markdown file under `dir` (sorted), the generated API reference left out. */
export const markdown = (dir: string): Array<string> =>
  readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name)
    if (GENERATED.has(path)) return []
    if (statSync(path).isDirectory()) return markdown(path)
    return name.endsWith(".md") ? [path] : []
  })
