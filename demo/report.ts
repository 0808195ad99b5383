/**
 * The demo's self-contained HTML report: inline SVG charts, no scripts from
 * the network, no CDN.
 */
import type { ClientName, Recorder } from "./stats.js"
import type { PhaseName, Timeline } from "./upstream.js"

export interface ReportInput {
  readonly title: string
  readonly scenario: string
  readonly seed: number
  readonly rate: number
  readonly durationSeconds: number
  readonly timeline: Timeline
  readonly recorder: Recorder
  readonly upstream: ReadonlyMap<string, ReadonlyArray<number>>
  readonly policyDescription: string
}

const COLORS: Record<ClientName, string> = { naive: "#d9480f", resilient: "#1971c2", adaptive: "#2b8a3e" }
const PHASE_COLORS: Record<PhaseName, string> = {
  healthy: "#ebfbee",
  "latency spikes": "#fff9db",
  outage: "#ffe3e3",
  overload: "#f3d9fa",
  recovery: "#e7f5ff",
  "capacity drop": "#fff4e6"
}
const STATE_COLORS: Record<string, string> = {
  Closed: "#2f9e44",
  Open: "#e03131",
  HalfOpen: "#f59f00",
  Isolated: "#862e9c",
  "n/a": "#adb5bd"
}

const W = 860
const H = 220
const PAD = { left: 56, right: 16, top: 34, bottom: 28 }

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;" })[c]!)

interface Series {
  readonly name: string
  readonly color: string
  readonly points: ReadonlyArray<readonly [x: number, y: number]>
  readonly dashed?: boolean
}

const lineChart = (
  id: string,
  input: ReportInput,
  series: ReadonlyArray<Series>,
  yMax: number,
  yLabel: (v: number) => string
) => {
  const xMax = input.durationSeconds
  const sx = (x: number) => PAD.left + (x / xMax) * (W - PAD.left - PAD.right)
  const sy = (y: number) => H - PAD.bottom - (Math.min(y, yMax) / yMax) * (H - PAD.top - PAD.bottom)
  const bands = input.timeline.phases.map((p) =>
    `<rect x="${sx(p.start / 1000)}" y="${PAD.top}" width="${sx(p.end / 1000) - sx(p.start / 1000)}" height="${
      H - PAD.top - PAD.bottom
    }" fill="${PHASE_COLORS[p.name]}"><title>${p.name}</title></rect>`
  ).join("")
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = yMax * f
    return `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${sy(v)}" y2="${sy(v)}" stroke="#dee2e6"/><text x="${
      PAD.left - 6
    }" y="${sy(v) + 4}" text-anchor="end" font-size="11">${yLabel(v)}</text>`
  }).join("")
  const xticks = Array.from({ length: Math.floor(xMax / 5) + 1 }, (_, i) => i * 5).map((s) =>
    `<text x="${sx(s)}" y="${H - 8}" text-anchor="middle" font-size="11">${s}s</text>`
  ).join("")
  const paths = series.map((s) => {
    const d = s.points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ")
    return `<path class="series" data-series="${escape(s.name)}" data-points="${s.points.length}" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${
      s.dashed ? " stroke-dasharray=\"5 4\"" : ""
    }/>`
  }).join("")
  const spacing = Math.min(170, (W - PAD.left - PAD.right - 10) / Math.max(1, series.length))
  const legend = series.map((s, i) =>
    `<g transform="translate(${PAD.left + 10 + i * spacing},6)"><rect width="14" height="4" y="5" fill="${s.color}"/><text x="20" y="11" font-size="12">${
      escape(s.name)
    }</text></g>`
  ).join("")
  const total = series.reduce((n, s) => n + s.points.length, 0)
  return `<svg id="${id}" class="chart" data-points="${total}" viewBox="0 0 ${W} ${H}" width="100%" role="img">${bands}${ticks}${xticks}${paths}${legend}</svg>`
}

const stateChart = (input: ReportInput) => {
  const xMax = input.durationSeconds
  const sx = (x: number) => PAD.left + (x / xMax) * (W - PAD.left - PAD.right)
  const replicas = [...new Set(input.recorder.breakerStates.map((s) => s.replica))]
  const rowHeight = replicas.length > 1 ? 26 : 40
  const rows = replicas.map((replica, row) => {
    const samples = input.recorder.breakerStates.filter((s) => s.replica === replica)
    const y = 12 + row * (rowHeight + 6)
    const rects = samples.map((s, i) => {
      const next = samples[i + 1]?.at ?? xMax * 1000
      return `<rect class="state" data-state="${s.state}" x="${sx(s.at / 1000)}" y="${y}" width="${
        Math.max(0.5, sx(next / 1000) - sx(s.at / 1000))
      }" height="${rowHeight}" fill="${STATE_COLORS[s.state] ?? "#adb5bd"}"><title>${escape(replica)}: ${s.state} at ${
        (s.at / 1000).toFixed(1)
      }s</title></rect>`
    }).join("")
    return `<text x="${PAD.left - 6}" y="${y + rowHeight / 2 + 4}" text-anchor="end" font-size="11">${escape(replica)}</text>${rects}`
  }).join("")
  const height = 12 + replicas.length * (rowHeight + 6) + 30
  const legend = Object.entries(STATE_COLORS).filter(([k]) => k !== "n/a").map(([k, c], i) =>
    `<g transform="translate(${PAD.left + i * 120},${height - 22})"><rect width="12" height="12" fill="${c}"/><text x="18" y="10" font-size="12">${k}</text></g>`
  ).join("")
  return `<svg id="chart-breaker" class="chart" data-points="${input.recorder.breakerStates.length}" viewBox="0 0 ${W} ${height}" width="100%" role="img">${rows}${legend}</svg>`
}

/** The bulkheads' limits over time (solid) and their calls in flight (dashed): the fixed one's beside the adaptive one's. */
const limitChart = (input: ReportInput) => {
  const limits = input.recorder.limits
  const clients = [...new Set(limits.map((l) => l.client))]
  const yMax = Math.max(10, ...limits.map((l) => Math.max(l.limit, l.active)))
  return lineChart(
    "chart-limit",
    input,
    clients.flatMap((c) => {
      const mine = limits.filter((l) => l.client === c)
      return [
        { name: `${c}: limit`, color: COLORS[c], points: mine.map((l) => [l.at / 1000, l.limit] as const) },
        { name: `${c}: in flight`, color: COLORS[c], dashed: true, points: mine.map((l) => [l.at / 1000, l.active] as const) }
      ]
    }),
    yMax,
    (v) => v.toFixed(0)
  )
}

export const renderReport = (input: ReportInput): string => {
  const clients: ReadonlyArray<ClientName> = input.recorder.samples.some((s) => s.client === "adaptive")
    ? ["naive", "resilient", "adaptive"]
    : ["naive", "resilient"]
  const per = Object.fromEntries(clients.map((c) => [c, input.recorder.perSecond(c, input.durationSeconds)])) as Record<
    ClientName,
    ReturnType<Recorder["perSecond"]>
  >
  const success = lineChart(
    "chart-success",
    input,
    clients.map((c) => ({
      name: `${c}: ok + degraded`,
      color: COLORS[c],
      points: per[c].filter((r) => r.ok + r.degraded + r.failed > 0).map((r) =>
        [r.second + 0.5, (100 * (r.ok + r.degraded)) / (r.ok + r.degraded + r.failed)] as const
      )
    })),
    100,
    (v) => `${v.toFixed(0)}%`
  )
  const latencyMax = Math.max(
    100,
    ...clients.flatMap((c) => per[c].map((r) => r.p99))
  )
  const latency = lineChart(
    "chart-latency",
    input,
    clients.flatMap((c) => [
      { name: `${c} p50`, color: COLORS[c], points: per[c].filter((r) => r.p50 > 0).map((r) => [r.second + 0.5, r.p50] as const) },
      {
        name: `${c} p99`,
        color: COLORS[c],
        dashed: true,
        points: per[c].filter((r) => r.p99 > 0).map((r) => [r.second + 0.5, r.p99] as const)
      }
    ]),
    latencyMax,
    (v) => `${v.toFixed(0)}ms`
  )
  const upstreamMax = Math.max(10, ...[...input.upstream.values()].flatMap((row) => row))
  const load = lineChart(
    "chart-upstream",
    input,
    clients.map((c) => ({
      name: `${c} → upstream`,
      color: COLORS[c],
      points: (input.upstream.get(c) ?? []).map((n, s) => [s + 0.5, n] as const)
    })),
    upstreamMax,
    (v) => `${v.toFixed(0)}/s`
  )
  const totals = clients.map((c) => ({ c, t: input.recorder.totals(c), hits: (input.upstream.get(c) ?? []).reduce((a, b) => a + b, 0) }))
  const rows = totals.map(({ c, hits, t }) =>
    `<tr><td><span class="dot" style="background:${COLORS[c]}"></span>${c}</td><td>${t.requests}</td><td>${t.ok}</td><td>${t.degraded}</td><td>${t.failed}</td><td>${
      t.requests === 0 ? "–" : ((100 * (t.ok + t.degraded)) / t.requests).toFixed(1) + "%"
    }</td><td>${t.p50} ms</td><td>${t.p99} ms</td><td>${hits}</td></tr>`
  ).join("")
  const phases = input.timeline.phases.map((p) =>
    `<span class="phase" style="background:${PHASE_COLORS[p.name]}">${p.name} ${(p.start / 1000).toFixed(0)}–${(p.end / 1000).toFixed(0)}s</span>`
  ).join(" ")
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(input.title)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:920px;margin:24px auto;color:#212529;padding:0 12px}
h1{font-size:22px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;width:100%}td,th{padding:6px 8px;border-bottom:1px solid #dee2e6;text-align:right}td:first-child,th:first-child{text-align:left}
.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:6px}
.phase{display:inline-block;padding:2px 8px;border-radius:4px;margin:2px;font-size:12px}
.note{color:#495057;font-size:13px}
code{background:#f1f3f5;padding:1px 4px;border-radius:3px}
</style></head><body>
<h1>${escape(input.title)}</h1>
<p class="note">Scenario <code>${escape(input.scenario)}</code>, ${input.durationSeconds}s at ${input.rate} requests/s per client, seed ${input.seed}. Phases: ${phases}</p>
<table id="summary"><thead><tr><th>client</th><th>requests</th><th>ok</th><th>degraded</th><th>failed</th><th>ok + degraded</th><th>p50</th><th>p99</th><th>upstream hits</th></tr></thead><tbody>${rows}</tbody></table>
<h2>Success rate (ok + degraded) per second</h2>${success}
<h2>Latency p50 (solid) and p99 (dashed) per second</h2>${latency}
<h2>Circuit breaker state (resilient client)</h2>${stateChart(input)}
<h2>Requests per second reaching the upstream</h2>${load}${
    input.recorder.limits.length === 0
      ? ""
      : `
<h2>Bulkhead limit (solid) and calls in flight (dashed): fixed and adaptive</h2>${limitChart(input)}
<p class="note">The adaptive client's bulkhead (Vegas, per origin) finds its limit from the latency it measures: when the upstream's capacity drops, latency rises with every call past the new knee and its limit comes down, shedding its excess at once (served stale, marked degraded) instead of queueing it; when the capacity recovers the limit climbs back. The fixed bulkhead stays at 20, a limit the upstream can no longer serve.</p>`
  }
<p class="note">The resilient client: <code>${escape(input.policyDescription)}</code>. During the outage the breaker opens and sheds load (the upstream sees fewer requests from it), the retry budget keeps retries from multiplying the load, and stale-if-error serves the last good price, marked degraded.</p>
</body></html>
`
}
