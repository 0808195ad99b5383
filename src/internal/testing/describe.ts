/**
 * `Testing.flatten`, `Testing.kinds` and `Testing.render`: what a composed
 * policy is made of, from its descriptor.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type { Descriptor } from "../../Policy.js"
import { showValue } from "../errors.js"
import { DescriptorTypeId } from "../policy.js"

const isGroup = (d: Descriptor) => d.kind === "Compose" || d.kind === "Pipeline"

/** A policy's descriptor (as `Policy.describe` gives it), or the descriptor itself. */
const asDescriptor = (p: Function | Descriptor): Descriptor => {
  if (typeof p !== "function") return p
  const d = (p as any)[DescriptorTypeId] as Descriptor | undefined
  return d ?? { kind: "Function", name: undefined, options: {}, children: [] }
}

/** @internal */
export const flatten = (policy: Function | Descriptor): ReadonlyArray<Descriptor> => {
  const out: Array<Descriptor> = []
  const walk = (d: Descriptor) => {
    if (isGroup(d)) d.children.forEach(walk)
    else out.push(d)
  }
  walk(asDescriptor(policy))
  return out
}

/** @internal */
export const kinds = (policy: Function | Descriptor): ReadonlyArray<string> => flatten(policy).map((d) => d.kind)

const renderValue = (value: unknown): string => {
  if (typeof value === "string") return /^[\w.:()\-, ]+$/.test(value) ? value : JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(renderValue).join(", ")}]`
  if (typeof value === "object" && value !== null && !Duration.isDuration(value)) {
    return `{ ${Object.entries(value).map(([k, v]) => `${k}: ${renderValue(v)}`).join(", ")} }`
  }
  return showValue(value)
}

const renderLine = (d: Descriptor): string => {
  const name = d.name === undefined ? "" : ` "${d.name}"`
  const options = Object.entries(d.options).filter(([, v]) => v !== undefined)
  const rendered = options.length === 0 ? "" : ` { ${options.map(([k, v]) => `${k}: ${renderValue(v)}`).join(", ")} }`
  return `${d.kind}${name}${rendered}`
}

/** @internal */
export const render = (policy: Function | Descriptor): string => {
  const lines: Array<string> = []
  const walk = (d: Descriptor, prefix: string, childPrefix: string) => {
    lines.push(prefix + renderLine(d))
    d.children.forEach((c, i) => {
      const last = i === d.children.length - 1
      walk(c, childPrefix + (last ? "└─ " : "├─ "), childPrefix + (last ? "   " : "│  "))
    })
  }
  walk(asDescriptor(policy), "", "")
  return lines.join("\n")
}
