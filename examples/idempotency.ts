/**
 * Idempotency: 100 concurrent requests with the same idempotency key charge
 * the card once; a retry gets the stored result; a caller that gives up does
 * not abandon the charge; a declined card is remembered, an outage is not.
 * Prints what happened.
 */
import { Effect, Either, Fiber, Schema } from "effect"
import { Idempotency } from "effect-resilience"

class CardDeclined extends Schema.TaggedError<CardDeclined>()("CardDeclined", { reason: Schema.String }) {}
class PaymentsUnavailable extends Schema.TaggedError<PaymentsUnavailable>()("PaymentsUnavailable", {}) {}

const Charge = Schema.Struct({ id: Schema.String, amount: Schema.Number })

const program = Effect.gen(function*() {
  const payments = yield* Idempotency.make({
    ttl: "24 hours",
    // optional in memory, required by a Redis store (which stores the Exit)
    success: Charge,
    failure: Schema.Union(CardDeclined, PaymentsUnavailable),
    // remember a declined card (asking again will not help), not an outage (a retry may succeed)
    keepFailures: (e) => e._tag === "CardDeclined",
    name: "payments"
  })

  // the payment provider: takes 50 ms, counts the charges it makes
  let charges = 0
  const charge = (amount: number) =>
    Effect.suspend(() => {
      charges++
      const id = `ch_${charges}`
      return Effect.as(Effect.sleep("50 millis"), { id, amount })
    })

  console.log("100 concurrent requests with idempotency key order-42:")
  const results = yield* Effect.forEach(
    Array.from({ length: 100 }),
    () => payments.run("order-42", charge(1999)),
    { concurrency: "unbounded" }
  )
  console.log(`  ${new Set(results.map((r) => r.id)).size} distinct charge id (${results[0]!.id}), card charged ${charges} time(s)`)
  console.log(`  stats: ${JSON.stringify(yield* payments.stats())}`)

  console.log("the client retries (within the 24 h ttl):")
  const retried = yield* payments.run("order-42", charge(1999))
  console.log(`  got ${retried.id} again, card charged ${charges} time(s)`)

  console.log("the first caller gives up after 10 ms; another caller with the same key is waiting:")
  const impatient = yield* Effect.fork(payments.run("order-43", charge(500)))
  const patient = yield* Effect.fork(Effect.delay(payments.run("order-43", charge(500)), "5 millis"))
  yield* Effect.sleep("10 millis")
  yield* Fiber.interrupt(impatient)
  const kept = yield* Fiber.join(patient)
  console.log(`  the charge went on and the waiting caller got ${kept.id}; card charged ${charges} time(s)`)

  console.log("a declined card is remembered, an outage is not:")
  type Attempt = readonly [key: string, Effect.Effect<typeof Charge.Type, CardDeclined | PaymentsUnavailable>]
  const attempts: ReadonlyArray<Attempt> = [
    ["order-44", Effect.fail(new CardDeclined({ reason: "insufficient funds" }))],
    ["order-44", charge(10)],
    ["order-45", Effect.fail(new PaymentsUnavailable())],
    ["order-45", charge(10)]
  ]
  for (const [key, effect] of attempts) {
    const result = yield* Effect.either(payments.run(key, effect))
    console.log(`  ${key}: ${Either.isRight(result) ? `charged ${result.right.id}` : result.left._tag}`)
  }
})

Effect.runPromise(Effect.scoped(program)).catch((e) => {
  console.error(e)
  process.exit(1)
})
