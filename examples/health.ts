/**
 * Health checks as Effect services: checks with timeouts, criticality and
 * intervals, monitored in the background; a circuit breaker as a health
 * source; liveness and readiness views; the `changes` stream. Prints each
 * status change and the reports, then exits.
 */
import { Data, Effect, Fiber, Layer, Stream } from "effect"
import { CircuitBreaker, Health } from "effect-resilience"

class ConnectionRefused extends Data.TaggedError("ConnectionRefused")<{ readonly url: string }> {
  override get message() {
    return `connect ECONNREFUSED ${this.url}`
  }
}

let dbUp = true
// a database ping: fails while the database is down (its URL carries a password the report must not show)
const pingDb = Effect.suspend(() =>
  dbUp ? Effect.void : Effect.fail(new ConnectionRefused({ url: "postgres://app:hunter2@db:5432/orders" }))
)

const summary = (report: Health.Report) =>
  `${report.status.padEnd(9)} ${report.checks.map((c) => `${c.name}=${c.pending ? "pending" : c.status}`).join(" ")}`

const program = Effect.gen(function*() {
  const health = yield* Health.Health

  // every status change, as it happens
  const printer = yield* health.changes.pipe(
    Stream.runForEach((report) => Effect.sync(() => console.log(`  change: ${summary(report)}`))),
    Effect.fork
  )

  // a critical check every 50 ms; a non-critical one that is too slow for its timeout
  yield* Health.register({ name: "db", check: pingDb, timeout: "100 millis", interval: "50 millis", critical: true })
  yield* Health.register({
    name: "search",
    check: Effect.sleep("1 second"),
    timeout: "30 millis",
    critical: "non-critical"
  })
  // a liveness-only check: the process itself
  yield* Health.register({ name: "event-loop", check: Effect.void, liveness: true, readiness: false })

  // a circuit breaker as a health source: open → unhealthy
  const breaker = yield* CircuitBreaker.make({
    name: "payments",
    tripPolicy: CircuitBreaker.consecutive(2),
    openDuration: "200 millis"
  })
  yield* Health.registerCircuitBreaker(breaker, { health: { whenOpen: "unhealthy" } })

  const first = yield* Health.report
  yield* Effect.sleep("10 millis") // let the change printer catch up
  console.log(`report:    ${summary(first)}`)

  console.log("-- the database goes down")
  dbUp = false
  yield* Effect.sleep("120 millis")
  const down = yield* Health.readiness
  console.log(`readiness: ${summary(down)}`)
  console.log(`liveness:  ${summary(yield* Health.liveness)}`)
  console.log(`db check:  ${JSON.stringify(Health.toJson(down).checks)}`)

  console.log("-- the database recovers; payments fail twice and the circuit opens")
  dbUp = true
  yield* Effect.exit(breaker(Effect.fail("declined")))
  yield* Effect.exit(breaker(Effect.fail("declined")))
  yield* Effect.sleep("60 millis")
  const open = yield* Health.report
  console.log(`report:    ${summary(open)} (${open.checks.find((c) => c.name === "circuit:payments")?.message})`)

  console.log("-- the break ends; a successful probe closes the circuit")
  yield* Effect.sleep("200 millis")
  yield* breaker(Effect.void)
  yield* Effect.sleep("20 millis")
  console.log(`report:    ${summary(yield* Health.report)}`)
  yield* Fiber.interrupt(printer)
})

program.pipe(
  Effect.scoped,
  Effect.provide(Layer.orDie(Health.layer({ interval: "1 second", timeout: "1 second" }))),
  Effect.runPromise
).catch((error) => {
  console.error(error)
  process.exit(1)
})
