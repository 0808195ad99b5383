/**
 * Opens the demo's HTML report in headless Chromium (Debian's, driven by
 * playwright-core), checks that every chart rendered with data, and saves a
 * screenshot. Runs a short demo first when no report exists.
 *
 *   npx tsx scripts/browser-check.ts [report.html] [screenshot.png]
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { chromium } from "playwright-core"

const report = resolve(process.argv[2] ?? "reports/ci-demo-report.html")
const screenshot = resolve(process.argv[3] ?? "reports/demo-report.png")

if (!existsSync(report)) {
  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", "demo/main.ts", "--duration", "8", "--rate", "20", "--report", report],
    { stdio: "inherit", env: { ...process.env, CI: "true" } }
  )
  if (run.status !== 0) process.exit(run.status ?? 1)
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic"
  ]
})
try {
  const page = await browser.newPage({ viewport: { width: 960, height: 1400 } })
  const requests: Array<string> = []
  page.on("request", (r) => requests.push(r.url()))
  await page.goto(`file://${report}`)
  const charts = await page.$$eval("svg.chart", (svgs) =>
    svgs.map((svg) => ({
      id: svg.id,
      points: Number(svg.getAttribute("data-points")),
      width: svg.getBoundingClientRect().width,
      height: svg.getBoundingClientRect().height
    })))
  const problems: Array<string> = []
  for (const id of ["chart-success", "chart-latency", "chart-breaker", "chart-upstream"]) {
    const chart = charts.find((c) => c.id === id)
    if (chart === undefined) problems.push(`${id}: missing`)
    else if (!(chart.points > 0)) problems.push(`${id}: no data`)
    else if (chart.width < 100 || chart.height < 50) problems.push(`${id}: not rendered (${chart.width}x${chart.height})`)
  }
  const rows = await page.$$eval("#summary tbody tr", (trs) => trs.length)
  if (rows !== 2) problems.push(`summary table has ${rows} rows`)
  const external = requests.filter((u) => !u.startsWith("file://"))
  if (external.length > 0) problems.push(`the report fetched ${external.join(", ")}`)
  await page.screenshot({ path: screenshot, fullPage: true })
  for (const c of charts) console.log(`chart ${c.id}: ${c.points} points, ${Math.round(c.width)}x${Math.round(c.height)}`)
  console.log(`screenshot: ${screenshot}`)
  if (problems.length > 0) {
    console.error(`report check failed:\n  ${problems.join("\n  ")}`)
    process.exit(1)
  }
  console.log("report check: 1 passed, 0 failed")
} finally {
  await browser.close()
}
