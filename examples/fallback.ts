/**
 * Fallbacks: a value on chosen errors only, a chain of sources (primary →
 * cache → secondary → default, first success wins), and stale-if-error (the
 * last good value, served marked as stale). Prints what each call got.
 */
import { Data, Duration, Effect, Fiber, Stream } from "effect"
import { Fallback } from "effect-resilience"

class NotFound extends Data.TaggedError("NotFound")<{ readonly sku: string }> {}
class Unavailable extends Data.TaggedError("Unavailable")<{ readonly source: string }> {}

let primaryUp = true
const primary = (sku: string) =>
  Effect.suspend((): Effect.Effect<number, NotFound | Unavailable> => {
    if (!primaryUp) return Effect.fail(new Unavailable({ source: "primary" }))
    return sku === "sku-404" ? Effect.fail(new NotFound({ sku })) : Effect.succeed(42)
  })
const cache = (_sku: string): Effect.Effect<number, Unavailable> => Effect.fail(new Unavailable({ source: "cache" }))
const secondary = (_sku: string): Effect.Effect<number, Unavailable> => Effect.succeed(41)

const show = <A, E>(label: string, effect: Effect.Effect<A, E>) =>
  Effect.flatMap(Effect.either(effect), (result) =>
    Effect.sync(() =>
      console.log(
        `${label.padEnd(44)} → ${
          result._tag === "Right" ? JSON.stringify(result.right) : `fails with ${(result.left as { _tag: string })._tag}`
        }`
      )
    ))

const program = Effect.gen(function*() {
  // 1. only NotFound falls back; Unavailable still fails (and stays in the type)
  const orNull = Fallback.tags("NotFound").value(null)
  yield* show("tags(NotFound).value(null), unknown sku", primary("sku-404").pipe(orNull))
  primaryUp = false
  yield* show("tags(NotFound).value(null), primary down", primary("sku-1").pipe(orNull))

  // 2. a chain: the cache misses, the secondary answers; the default is never needed
  const chain = Fallback.tags("Unavailable").chain(
    [cache("sku-1"), (e) => Effect.zipRight(Effect.sync(() => console.log(`  secondary called after ${e._tag}`)), secondary("sku-1")), Effect.succeed(0)],
    { name: "prices" }
  )
  const served = yield* chain.events.pipe(Stream.take(1), Stream.runCollect, Effect.fork)
  yield* Effect.sleep("10 millis") // let the subscriber start
  yield* show("chain([cache, secondary, 0]), primary down", primary("sku-1").pipe(chain))
  const [event] = yield* Fiber.join(served)
  console.log(`  event: ${event?._tag} from source ${event?._tag === "FallbackServed" ? event.source : "?"}`)

  // 3. stale-if-error: remember the last good price, serve it (marked stale) while the primary is down
  const prices = yield* Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 1_000, name: "price-cache" })
  primaryUp = true
  const fresh = yield* prices.serve(primary("sku-1"), { key: "sku-1" })
  console.log(`staleIfError, primary up`.padEnd(44) + ` → ${fresh.value} (stale: ${fresh.stale})`)
  primaryUp = false
  yield* Effect.sleep("50 millis")
  const stale = yield* prices.serve(primary("sku-1"), { key: "sku-1" })
  const age = stale.stale ? Duration.format(Duration.millis(Math.round(Duration.toMillis(stale.age) / 10) * 10)) : "-"
  console.log(`staleIfError, primary down`.padEnd(44) + ` → ${stale.value} (stale: ${stale.stale}, about ${age} old)`)
  yield* show("staleIfError, primary down, never-seen key", prices.execute(primary("sku-2"), { key: "sku-2" }))
  console.log(`  stats: ${JSON.stringify(yield* prices.stats())}`)
})

Effect.runPromise(program)
