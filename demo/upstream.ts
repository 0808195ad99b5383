/**
 * The demo's flaky upstream: a real HTTP server on 127.0.0.1 (ephemeral
 * port), scripted in phases, that counts every request it receives per
 * client and per second.
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { Effect, Layer, Random } from "effect"
import { ResilientHttpServer } from "effect-resilience/http"
import { createServer } from "node:http"

export type PhaseName = "healthy" | "latency spikes" | "outage" | "overload" | "recovery" | "capacity drop"

export interface Phase {
  readonly name: PhaseName
  /** Fraction of the run this phase lasts. */
  readonly weight: number
}

export const scenarios: Record<string, ReadonlyArray<Phase>> = {
  tour: [
    { name: "healthy", weight: 0.16 },
    { name: "latency spikes", weight: 0.18 },
    { name: "outage", weight: 0.24 },
    { name: "overload", weight: 0.18 },
    { name: "recovery", weight: 0.24 }
  ],
  outage: [
    { name: "healthy", weight: 0.25 },
    { name: "outage", weight: 0.4 },
    { name: "recovery", weight: 0.35 }
  ],
  slow: [
    { name: "healthy", weight: 0.25 },
    { name: "latency spikes", weight: 0.45 },
    { name: "recovery", weight: 0.3 }
  ],
  "rate-limited": [
    { name: "healthy", weight: 0.25 },
    { name: "overload", weight: 0.45 },
    { name: "recovery", weight: 0.3 }
  ],
  // the upstream's capacity (see CAPACITY) drops, then recovers: for the adaptive limit
  adaptive: [
    { name: "healthy", weight: 0.3 },
    { name: "capacity drop", weight: 0.4 },
    { name: "recovery", weight: 0.3 }
  ]
}

/**
 * The scenarios whose upstream has a capacity: requests served at full speed
 * at once; past it every request slows down in proportion (latency × in
 * flight ÷ capacity, decided when the request arrives: processor sharing, as
 * a CPU-bound server behaves). The capacity of each phase.
 */
export const CAPACITY: Readonly<Record<string, Partial<Record<PhaseName, number>>>> = {
  adaptive: { healthy: 24, "capacity drop": 2, recovery: 24 }
}

export interface Timeline {
  readonly phases: ReadonlyArray<{ readonly name: PhaseName; readonly start: number; readonly end: number }>
  readonly at: (elapsedMillis: number) => PhaseName
}

export const timeline = (phases: ReadonlyArray<Phase>, durationMillis: number): Timeline => {
  const total = phases.reduce((s, p) => s + p.weight, 0)
  let start = 0
  const spans = phases.map((p) => {
    const span = { name: p.name, start, end: start + (p.weight / total) * durationMillis }
    start = span.end
    return span
  })
  return {
    phases: spans,
    at: (t) => (spans.find((s) => t < s.end) ?? spans[spans.length - 1]!).name
  }
}

/** Requests seen by the upstream, per client, per second of the run. */
export class UpstreamCounter {
  readonly perSecond = new Map<string, Array<number>>()
  total = 0
  record(client: string, second: number) {
    this.total++
    let row = this.perSecond.get(client)
    if (row === undefined) {
      row = []
      this.perSecond.set(client, row)
    }
    while (row.length <= second) row.push(0)
    row[second]!++
  }
}

export interface UpstreamOptions {
  readonly timeline: Timeline
  readonly startedAt: () => number
  readonly seed: number
  readonly counter: UpstreamCounter
  /** Requests served at full speed at once, per phase (none: no capacity model). */
  readonly capacity?: Partial<Record<PhaseName, number>> | undefined
}

/**
 * The handler: what each phase does to a request.
 * - healthy / recovery: 10–40 ms, 200
 * - latency spikes: 35% of requests take 1.2–2.5 s
 * - outage: 75% 503, 25% connection reset
 * - overload: 70% 429 with `Retry-After: 1`, the rest served slowly
 * - with a capacity (the `adaptive` scenario): 30–60 ms × in flight ÷
 *   capacity past the capacity (the capacity drop: 2 instead of 24)
 */
const handler = (options: UpstreamOptions) => {
  const rng = Random.make(options.seed)
  let inflight = 0
  const served = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(Effect.sync(() => ++inflight), () => effect, () => Effect.sync(() => void inflight--))
  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const elapsed = Date.now() - options.startedAt()
    const client = request.headers["x-demo-client"] ?? "unknown"
    options.counter.record(client, Math.max(0, Math.floor(elapsed / 1000)))
    const phase = options.timeline.at(elapsed)
    const roll = yield* rng.next
    const latency = 10 + Math.floor((yield* rng.next) * 30)
    const ok = (extra: number) =>
      Effect.sleep(latency + extra).pipe(
        Effect.as(HttpServerResponse.unsafeJson({ price: 100 + Math.round(roll * 50), phase, servedAt: elapsed }))
      )
    const capacity = options.capacity?.[phase]
    if (capacity !== undefined) {
      const base = 30 + Math.floor(roll * 30)
      return yield* served(Effect.suspend(() =>
        Effect.sleep(Math.round(base * Math.max(1, inflight / capacity))).pipe(
          Effect.as(HttpServerResponse.unsafeJson({ price: 100 + Math.round(roll * 50), phase, servedAt: elapsed }))
        )
      ))
    }
    switch (phase) {
      case "latency spikes":
        return yield* roll < 0.35 ? ok(1200 + Math.floor((yield* rng.next) * 1300)) : ok(0)
      case "outage":
        if (roll < 0.25) {
          NodeHttpServerRequest.toIncomingMessage(request).socket.destroy()
          return HttpServerResponse.empty({ status: 503 })
        }
        return yield* Effect.sleep(latency).pipe(Effect.as(HttpServerResponse.text("unavailable", { status: 503 })))
      case "overload":
        if (roll < 0.7) {
          return HttpServerResponse.text("slow down", { status: 429, headers: { "retry-after": "1" } })
        }
        return yield* ok(150)
      default:
        return yield* ok(0)
    }
  })
}

/** A scoped upstream server (closed with the scope); returns its base URL. */
export const startUpstream = (options: UpstreamOptions) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }))
    return yield* Effect.gen(function*() {
      // the upstream protects itself: a bounded number of requests at once (far above the demo's
      // load: the scripted phases decide what the clients see), and the deadline its callers send
      // (Request-Timeout-Ms, capped at 10 s): a request whose caller has given up stops
      const protect = yield* ResilientHttpServer.make({
        name: "upstream",
        concurrency: { maxConcurrent: 1_000 },
        deadline: { max: "10 seconds", trustHeader: true }
      })
      const router = HttpRouter.empty.pipe(HttpRouter.get("/quote/:id", handler(options)), protect)
      yield* router.pipe(HttpServer.serveEffect())
      const server = yield* HttpServer.HttpServer
      const address = server.address
      if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
      return `http://127.0.0.1:${address.port}`
    }).pipe(Effect.provide(context))
  })
