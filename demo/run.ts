/**
 * The demo scenario: a flaky upstream, a steady workload through a naive and
 * a resilient client side by side, live progress, a summary and an HTML report.
 */
import { HttpClient } from "@effect/platform"
import { Effect, FiberSet, Option, Stream } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
import { fetchQuote, makeResilientClient, type ResilientClient } from "./clients.js"
import { renderReport } from "./report.js"
import { type ClientName, type Outcome, Recorder } from "./stats.js"
import { CAPACITY, scenarios, startUpstream, timeline, UpstreamCounter } from "./upstream.js"

export interface DemoOptions {
  readonly durationSeconds: number
  readonly rate: number
  readonly seed: number
  readonly scenario: string
  readonly report: string
  /** Redraw a live view (a terminal) or print plain periodic lines (CI, pipes). */
  readonly live: boolean
  readonly print: (text: string) => void
  /**
   * With a Redis URL, the resilient client runs as `replicas` independent
   * instances (the workload round-robins over them) whose circuit breakers
   * share their state through Redis; without one, one instance in memory.
   */
  readonly redisUrl?: string | undefined
  readonly replicas?: number | undefined
}

type Summary = ReturnType<Recorder["totals"]> & { readonly upstreamHits: number; readonly outageHits: number }

export interface DemoResult {
  readonly naive: Summary
  readonly resilient: Summary
  /** The `adaptive` scenario's third client: the resilient one with an adaptive bulkhead limit. */
  readonly adaptive?: Summary | undefined
  /** The bulkhead limits sampled over time (the `adaptive` scenario). */
  readonly limits: Recorder["limits"]
  /** The first replica's breaker states, in order. */
  readonly breakerStates: ReadonlyArray<string>
  /** Every replica's breaker states, in order. */
  readonly replicaStates: Readonly<Record<string, ReadonlyArray<string>>>
  readonly retries: number
  readonly reportPath: string
}

const pad = (s: string | number, n: number) => String(s).padStart(n)
const bar = (fraction: number, width = 30) => {
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * width)
  return "█".repeat(full) + "░".repeat(width - full)
}

export const runDemo = (options: DemoOptions): Effect.Effect<DemoResult, unknown, HttpClient.HttpClient> =>
  Effect.scoped(
    Effect.gen(function*() {
      const phases = scenarios[options.scenario]
      if (phases === undefined) {
        return yield* Effect.fail(
          new Error(`unknown scenario "${options.scenario}": one of ${Object.keys(scenarios).join(", ")}`)
        )
      }
      const durationMillis = options.durationSeconds * 1000
      const plan = timeline(phases, durationMillis)
      const counter = new UpstreamCounter()
      const recorder = new Recorder()
      let startedAt = Date.now()
      const base = yield* startUpstream({
        timeline: plan,
        startedAt: () => startedAt,
        seed: options.seed,
        counter,
        capacity: CAPACITY[options.scenario]
      })
      const replicaCount = options.redisUrl === undefined ? 1 : Math.max(1, options.replicas ?? 3)
      const replicas: Array<{ readonly name: string; readonly client: ResilientClient }> = []
      // one Redis prefix per run, so that runs never see each other's circuits
      const prefix = `effect-resilience-demo:${Date.now().toString(36)}:`
      for (let i = 0; i < replicaCount; i++) {
        const name = replicaCount === 1 ? "resilient" : `replica ${i + 1}`
        if (options.redisUrl === undefined) {
          replicas.push({ name, client: yield* makeResilientClient(base) })
        } else {
          // each replica has its own connection and store, as separate processes would
          const redis = yield* Redis.make({ url: options.redisUrl, prefix })
          const store = yield* CircuitBreakerStore.make().pipe(Effect.provideService(Redis.Redis, redis))
          replicas.push({ name, client: yield* makeResilientClient(base, { store }) })
        }
      }
      const resilient = replicas[0]!.client
      // the adaptive scenario: a third client, the resilient one with an adaptive bulkhead limit (Vegas)
      const adaptive = options.scenario === "adaptive"
        ? yield* makeResilientClient(base, { name: "adaptive", adaptive: true })
        : undefined
      const clients: ReadonlyArray<ClientName> = adaptive === undefined ? ["naive", "resilient"] : ["naive", "resilient", "adaptive"]
      const inflight = yield* FiberSet.make()
      startedAt = Date.now()
      const elapsed = () => Date.now() - startedAt

      const measure = (client: ClientName, effect: Effect.Effect<Outcome, never, HttpClient.HttpClient>) =>
        Effect.gen(function*() {
          const at = elapsed()
          const outcome = yield* effect
          recorder.record({ client, at, latency: elapsed() - at, outcome })
        })

      const naiveHttp = yield* HttpClient.HttpClient
      const naiveCall = (id: number) =>
        fetchQuote(naiveHttp, base, "naive", id).pipe(
          Effect.as<Outcome>("ok"),
          Effect.catchAll(() => Effect.succeed<Outcome>("failed"))
        )
      const resilientCall = (id: number) =>
        replicas[id % replicas.length]!.client.get(id).pipe(
          Effect.map((r): Outcome => (r.degraded ? "degraded" : "ok")),
          Effect.catchAll(() => Effect.succeed<Outcome>("failed"))
        )
      const adaptiveCall = (client: ResilientClient, id: number) =>
        client.get(id).pipe(
          Effect.map((r): Outcome => (r.degraded ? "degraded" : "ok")),
          Effect.catchAll(() => Effect.succeed<Outcome>("failed"))
        )
      // the bulkheads' limits over time: the fixed one's beside the adaptive one's
      if (adaptive !== undefined) {
        const sample = Effect.sync(() => {
          const at = elapsed()
          for (const [client, c] of [["resilient", resilient], ["adaptive", adaptive]] as const) {
            const { active, limit } = c.limit()
            recorder.limits.push({ at, client, limit, active })
          }
        })
        yield* sample.pipe(Effect.zipRight(Effect.sleep("100 millis")), Effect.forever, Effect.forkScoped)
      }

      // the breaker's state timeline, exactly: its initial state, then every transition
      for (const replica of replicas) {
        recorder.breakerStates.push({ at: 0, state: yield* replica.client.breakerState(), replica: replica.name })
        yield* replica.client.transitions.pipe(
          Stream.runForEach((t) =>
            Effect.sync(() => recorder.breakerStates.push({ at: elapsed(), state: t.to, replica: replica.name }))
          ),
          Effect.forkScoped
        )
      }
      yield* Effect.yieldNow()

      const render = Effect.gen(function*() {
        const now = elapsed()
        const state = yield* resilient.breakerState()
        recorder.retries = replicas.reduce((n, r) => n + r.client.retries(), 0)
        const phase = plan.at(now)
        const line = (client: ClientName) => {
          const t = recorder.totals(client)
          const r = recorder.recent(client, now, 2000)
          return `${client.padEnd(9)} ok ${pad(t.ok, 5)}  degraded ${pad(t.degraded, 4)}  failed ${pad(t.failed, 5)}  ` +
            `last 2s p50 ${pad(r.p50, 5)}ms p99 ${pad(r.p99, 5)}ms`
        }
        const lines = [
          `${bar(now / durationMillis)} ${pad((now / 1000).toFixed(1), 5)}s / ${options.durationSeconds}s  phase: ${phase}`,
          line("naive"),
          line("resilient") + `  breaker ${state}  retries ${recorder.retries}` +
          (adaptive === undefined ? "" : `  limit ${resilient.limit().limit}`),
          ...(adaptive === undefined
            ? []
            : [line("adaptive") + `  breaker ${yield* adaptive.breakerState()}  limit ${adaptive.limit().limit}`])
        ]
        return lines
      })

      // live view: redraw three lines in a terminal, plain lines every 2 s otherwise
      let drawn = false
      const draw = Effect.flatMap(render, (lines) =>
        Effect.sync(() => {
          if (options.live) {
            options.print((drawn ? `\x1b[${lines.length}F` : "") + lines.map((l) => `\x1b[2K${l}`).join("\n") + "\n")
            drawn = true
          } else {
            options.print(lines.join("\n   ") + "\n")
          }
        }))
      yield* draw.pipe(
        Effect.zipRight(Effect.sleep(options.live ? "200 millis" : "2 seconds")),
        Effect.forever,
        Effect.forkScoped
      )

      // the workload: a steady rate, the same request through both clients
      const total = Math.floor(options.durationSeconds * options.rate)
      for (let i = 0; i < total; i++) {
        const target = (i * 1000) / options.rate
        const wait = target - elapsed()
        if (wait > 0) yield* Effect.sleep(wait)
        yield* FiberSet.run(inflight, measure("naive", naiveCall(i)))
        yield* FiberSet.run(inflight, measure("resilient", resilientCall(i)))
        if (adaptive !== undefined) yield* FiberSet.run(inflight, measure("adaptive", adaptiveCall(adaptive, i)))
      }
      // let in-flight requests finish (bounded), then interrupt the rest as failures
      const drained = yield* Effect.timeoutOption(FiberSet.awaitEmpty(inflight), "3 seconds")
      if (Option.isNone(drained)) yield* FiberSet.clear(inflight)
      yield* draw

      const seconds = Math.ceil(durationMillis / 1000)
      const hits = (client: string) => (counter.perSecond.get(client) ?? []).slice(0, seconds)
      const outage = plan.phases.find((p) => p.name === "outage")
      const outageHits = (client: string) =>
        outage === undefined
          ? 0
          : hits(client).slice(Math.floor(outage.start / 1000), Math.ceil(outage.end / 1000)).reduce((a, b) => a + b, 0)
      const html = renderReport({
        title: "effect-resilience demo",
        scenario: options.scenario,
        seed: options.seed,
        rate: options.rate,
        durationSeconds: seconds,
        timeline: plan,
        recorder,
        upstream: new Map(clients.map((c) => [c, hits(c)])),
        policyDescription: resilient.description +
          (replicas.length > 1 ? ` — ${replicas.length} replicas sharing their circuit breaker through Redis` : "") +
          (adaptive === undefined ? "" : `; the adaptive client: ${adaptive.description}`)
      })
      mkdirSync(dirname(options.report), { recursive: true })
      writeFileSync(options.report, html)

      const summary = (client: ClientName) => ({
        ...recorder.totals(client),
        upstreamHits: hits(client).reduce((a, b) => a + b, 0),
        outageHits: outageHits(client)
      })
      const result: DemoResult = {
        naive: summary("naive"),
        resilient: summary("resilient"),
        adaptive: adaptive === undefined ? undefined : summary("adaptive"),
        limits: recorder.limits,
        breakerStates: recorder.breakerStates.filter((s) => s.replica === replicas[0]!.name).map((s) => s.state),
        replicaStates: Object.fromEntries(
          replicas.map((r) => [r.name, recorder.breakerStates.filter((s) => s.replica === r.name).map((s) => s.state)])
        ),
        retries: recorder.retries,
        reportPath: options.report
      }
      const row = (name: ClientName) => {
        const t = result[name]!
        return `| ${name.padEnd(9)} | ${pad(t.requests, 8)} | ${pad(t.ok, 5)} | ${pad(t.degraded, 8)} | ${pad(t.failed, 6)} | ${
          pad(((100 * (t.ok + t.degraded)) / Math.max(1, t.requests)).toFixed(1) + "%", 8)
        } | ${pad(t.p50 + "ms", 6)} | ${pad(t.p99 + "ms", 7)} | ${pad(t.upstreamHits, 13)} | ${pad(t.outageHits, 12)} |`
      }
      options.print(
        [
          "",
          "| client    | requests |    ok | degraded | failed | ok+degr. |    p50 |     p99 | upstream hits | during outage |",
          "|-----------|----------|-------|----------|--------|----------|--------|---------|---------------|---------------|",
          ...clients.map(row),
          "",
          `resilient client: ${resilient.description}`,
          ...(adaptive === undefined ? [] : [`adaptive client: ${adaptive.description}`]),
          `retries spent: ${result.retries}`,
          ...replicas.map((r) => `breaker (${r.name}): ${result.replicaStates[r.name]!.join(" → ")}`),
          ...(options.redisUrl === undefined ? [] : [`${replicas.length} replicas sharing their breaker through Redis`]),
          `report: ${options.report}`,
          ""
        ].join("\n")
      )
      return result
    })
  )
