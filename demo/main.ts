/**
 * `npm start`: a flaky upstream HTTP server on 127.0.0.1 and the same workload
 * through a naive client and through effect-resilience, side by side, with
 * live progress, a summary table and an HTML report.
 *
 *   npm start -- --duration 20 --rate 30 --seed 7 --scenario outage --report reports/demo.html
 */
import { Command, Options } from "@effect/cli"
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { scenarios } from "./upstream.js"
import { runDemo } from "./run.js"

const duration = Options.integer("duration").pipe(
  Options.withDescription("length of the run in seconds"),
  Options.withDefault(25)
)
const rate = Options.integer("rate").pipe(Options.withDescription("requests per second per client"), Options.withDefault(25))
const seed = Options.integer("seed").pipe(Options.withDescription("seed of the upstream's chaos"), Options.withDefault(42))
const report = Options.text("report").pipe(
  Options.withDescription("where to write the HTML report"),
  Options.withDefault("reports/demo-report.html")
)
const scenario = Options.choice("scenario", Object.keys(scenarios) as [string, ...Array<string>]).pipe(
  Options.withDescription("which misbehaviour to show"),
  Options.withDefault("tour")
)

const replicas = Options.integer("replicas").pipe(
  Options.withDescription("with REDIS_URL set: resilient client replicas sharing their breaker through Redis"),
  Options.withDefault(3)
)

const command = Command.make("demo", { duration, rate, seed, report, scenario, replicas }, (o) =>
  Effect.gen(function*() {
    const live = process.stdout.isTTY === true && process.env.CI === undefined
    const print = (text: string) => process.stdout.write(text)
    const redisUrl = process.env.REDIS_URL === undefined || process.env.REDIS_URL === "" ? undefined : process.env.REDIS_URL
    print(
      `effect-resilience demo: scenario "${o.scenario}", ${o.duration}s, ${o.rate} req/s per client, seed ${o.seed}` +
        (redisUrl === undefined ? "" : `, ${o.replicas} replicas sharing state through Redis (${redisUrl})`) + "\n\n"
    )
    yield* runDemo({
      durationSeconds: o.duration,
      rate: o.rate,
      seed: o.seed,
      scenario: o.scenario,
      report: o.report,
      live,
      print,
      redisUrl,
      replicas: o.replicas
    })
  }))

const cli = Command.run(command, { name: "effect-resilience demo", version: "0.1.0" })

cli(process.argv).pipe(
  Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)),
  NodeRuntime.runMain
)
