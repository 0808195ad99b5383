import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Config,
  ConfigProvider,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  FastCheck,
  Fiber,
  FiberId,
  Layer,
  Option,
  Ref,
  Schema,
  TestClock
} from "effect"
import { expectTypeOf } from "vitest"
import { Errors, Fallback, Policy, Retry, Timeout } from "../src/index.js"
import * as MemoryStore from "../src/internal/fallback/memoryStore.js"
import { expectInvalidOption } from "./utils/errors.js"
import { counterValue } from "./utils/metrics.js"
import { collect } from "./utils/streams.js"
import { numRuns } from "./utils/props.js"

class NotFound extends Data.TaggedError("NotFound")<{ readonly id: string }> {}
class Unavailable extends Data.TaggedError("Unavailable")<{ readonly region: string }> {}
class CacheMiss extends Data.TaggedError("CacheMiss")<{}> {}

const notFound = new NotFound({ id: "42" })
const unavailable = new Unavailable({ region: "eu" })

const failWith = <E>(e: E): Effect.Effect<string, E> => Effect.fail(e)

describe("Fallback.value", () => {
  it.effect("serves the value on any typed error and passes successes through", () =>
    Effect.gen(function*() {
      const fallback = Fallback.value("default")
      assert.strictEqual(yield* failWith(notFound).pipe(fallback), "default")
      assert.strictEqual(yield* Effect.succeed("real").pipe(fallback), "real")
      assert.deepStrictEqual(yield* fallback.stats(), { calls: 2, handled: 1, served: 1, exhausted: 0 })
    }))

  it.effect("tags(...) handles only the selected tags", () =>
    Effect.gen(function*() {
      const load = (e: NotFound | Unavailable): Effect.Effect<string, NotFound | Unavailable> => Effect.fail(e)
      const orNull = Fallback.tags("NotFound").value(null)
      assert.isNull(yield* load(notFound).pipe(orNull))
      const other = yield* Effect.flip(load(unavailable).pipe(orNull))
      assert.strictEqual(other, unavailable)
      assert.strictEqual((yield* orNull.stats()).handled, 1)
    }))

  it.effect("when(predicate) handles what the predicate matches", () =>
    Effect.gen(function*() {
      class HttpError extends Data.TaggedError("HttpError")<{ readonly status: number }> {}
      const get = (status: number): Effect.Effect<string, HttpError> => Effect.fail(new HttpError({ status }))
      const onServerErrors = Fallback.when((e: HttpError) => e.status >= 500).value("maintenance")
      assert.strictEqual(yield* get(503).pipe(onServerErrors), "maintenance")
      const e = yield* Effect.flip(get(404).pipe(onServerErrors))
      assert.strictEqual(e.status, 404)
    }))
})

describe("selectors", () => {
  it.effect("tags(...) passes errors without a _tag through untouched (null, strings)", () =>
    Effect.gen(function*() {
      const orZero = Fallback.tags("NotFound").value(0)
      assert.isNull(yield* Effect.flip((Effect.fail(null) as Effect.Effect<number, null>).pipe(orZero)))
      assert.strictEqual(yield* Effect.flip((Effect.fail("NotFound") as Effect.Effect<number, string>).pipe(orZero)), "NotFound")
      assert.deepStrictEqual(yield* orZero.stats(), { calls: 2, handled: 0, served: 0, exhausted: 0 })
    }))

  it.effect("instanceOf(...) handles an instance of any of its classes and passes the rest through", () =>
    Effect.gen(function*() {
      const fallback = Fallback.instanceOf(NotFound, Unavailable).effect((e) => Effect.succeed(e._tag))
      assert.strictEqual(yield* failWith(notFound).pipe(fallback), "NotFound")
      assert.strictEqual(yield* failWith(unavailable).pipe(fallback), "Unavailable")
      const miss = new CacheMiss()
      assert.strictEqual(yield* Effect.flip((failWith(miss) as Effect.Effect<string, CacheMiss>).pipe(fallback)), miss)
      assert.deepStrictEqual(yield* fallback.stats(), { calls: 3, handled: 2, served: 2, exhausted: 0 })
    }))

  it("Policy.describe names the selector: its tags, its classes, or a predicate", () => {
    const on = (f: Fallback.Fallback<any, any, any, any>) => Policy.describe(f).options.on
    assert.strictEqual(on(Fallback.tags("NotFound", "Unavailable").value(0)), "tags(NotFound, Unavailable)")
    assert.strictEqual(on(Fallback.instanceOf(NotFound, Unavailable).value(0)), "instanceOf(NotFound, Unavailable)")
    assert.strictEqual(on(Fallback.when((e: unknown) => e === 1).value(0)), "predicate")
    assert.strictEqual(on(Fallback.value(0)), "all")
  })
})

describe("Fallback.effect", () => {
  it.effect("the fallback receives the error, typed by the selector", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<Array<string>>([])
      const fromReplica = Fallback.instanceOf(Unavailable).effect((e) =>
        Effect.as(Ref.update(seen, (xs) => [...xs, e.region]), `replica-${e.region}`)
      )
      assert.strictEqual(yield* failWith(unavailable).pipe(fromReplica), "replica-eu")
      assert.deepStrictEqual(yield* Ref.get(seen), ["eu"])
    }))

  it.effect("accepts an effect directly; the fallback's failure is the caller's", () =>
    Effect.gen(function*() {
      const fallback = Fallback.effect(Effect.fail(new CacheMiss()))
      const e = yield* Effect.flip(failWith(notFound).pipe(fallback))
      assert.instanceOf(e, CacheMiss)
      assert.strictEqual((yield* fallback.stats()).exhausted, 1)
    }))
})

describe("Fallback.chain", () => {
  it.effect("tries the sources in order; the first success wins and later ones never run", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make<Array<string>>([])
      const source = <A, E>(name: string, result: Effect.Effect<A, E>) =>
        Effect.zipRight(Ref.update(ran, (xs) => [...xs, name]), result)
      const chain = Fallback.chain([
        source("cache", Effect.fail(new CacheMiss())),
        source("secondary", Effect.succeed("from secondary")),
        source("default", Effect.succeed("default"))
      ], { name: "chain-order" })
      assert.strictEqual(yield* failWith(unavailable).pipe(chain), "from secondary")
      assert.deepStrictEqual(yield* Ref.get(ran), ["cache", "secondary"])
    }))

  it.effect("every source receives the primary's error", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<Array<unknown>>([])
      const record = (e: unknown) => Ref.update(seen, (xs) => [...xs, e])
      const chain = Fallback.chain([
        (e) => Effect.zipRight(record(e), Effect.fail(new CacheMiss())),
        (e) => Effect.as(record(e), "ok")
      ])
      assert.strictEqual(yield* failWith(notFound).pipe(chain), "ok")
      assert.deepStrictEqual(yield* Ref.get(seen), [notFound, notFound])
    }))

  it.effect("when every source fails, the last source's error surfaces", () =>
    Effect.gen(function*() {
      const chain = Fallback.chain([Effect.fail(new CacheMiss()), Effect.fail(unavailable)])
      const events = yield* collect(chain.events, 1)
      const e = yield* Effect.flip(failWith(notFound).pipe(chain))
      assert.strictEqual(e, unavailable)
      const [event] = yield* events
      assert.deepStrictEqual(event, { _tag: "FallbackExhausted", policy: "fallback", sources: 2, error: unavailable })
    }))

  it.effect("a source's defect is not passed on to the next source", () =>
    Effect.gen(function*() {
      const next = yield* Ref.make(false)
      const chain = Fallback.chain([Effect.die("cache crashed"), Effect.as(Ref.set(next, true), "x")])
      const exit = yield* Effect.exit(failWith(notFound).pipe(chain))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.isFalse(yield* Ref.get(next))
    }))

  it.effect("a source's interruption is not passed on to the next source", () =>
    Effect.gen(function*() {
      const next = yield* Ref.make(false)
      const chain = Fallback.chain([Effect.interrupt, Effect.as(Ref.set(next, true), "x")])
      const exit = yield* Effect.exit(failWith(notFound).pipe(chain))
      assert.isTrue(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause))
      assert.isFalse(yield* Ref.get(next))
      assert.deepStrictEqual(yield* chain.stats(), { calls: 1, handled: 1, served: 0, exhausted: 0 })
    }))

  it.effect("counts resilience_fallback_exhausted under the policy's name", () =>
    Effect.gen(function*() {
      const chain = Fallback.chain([Effect.fail(new CacheMiss()), Effect.fail(unavailable)], { name: "exhausted-metric" })
      yield* Effect.flip(failWith(notFound).pipe(chain))
      yield* Effect.flip(failWith(notFound).pipe(chain))
      assert.strictEqual(yield* counterValue("resilience_fallback_exhausted", { policy: "exhausted-metric" }), 2)
      assert.strictEqual((yield* chain.stats()).exhausted, 2)
    }))

  it.effect("emits FallbackServed with the source position and counts resilience_fallback_served", () =>
    Effect.gen(function*() {
      const chain = Fallback.chain([Effect.fail(new CacheMiss()), Effect.succeed(1)], { name: "served-metric" })
      const events = yield* collect(chain.events, 1)
      yield* failWith(notFound).pipe(chain)
      yield* failWith(notFound).pipe(chain)
      assert.deepStrictEqual(yield* events, [{ _tag: "FallbackServed", policy: "served-metric", source: 2, error: notFound }])
      assert.strictEqual(
        yield* counterValue("resilience_fallback_served", { policy: "served-metric", source: "2" }),
        2
      )
      assert.strictEqual(
        yield* counterValue("resilience_fallback_served", { policy: "served-metric", source: "1" }),
        0
      )
    }))
})

describe("defects and interruption", () => {
  it.effect("defects are never swallowed by default", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make(false)
      const fallback = Fallback.effect(Effect.as(Ref.set(ran, true), "x"))
      const exit = yield* Effect.exit(Effect.die("boom").pipe(fallback))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.isFalse(yield* Ref.get(ran))
      assert.strictEqual((yield* fallback.stats()).handled, 0)
    }))

  it.effect("an unhandled defect surfaces unchanged (defects omitted or false)", () =>
    Effect.gen(function*() {
      for (const fallback of [Fallback.value("x"), Fallback.value("x", { defects: false })]) {
        const exit = yield* Effect.exit(Effect.die("boom").pipe(fallback))
        assert.deepStrictEqual(exit, Exit.die("boom"))
        assert.strictEqual((yield* fallback.stats()).handled, 0)
      }
    }))

  it("Unexpected reads well: the defect's first line, or the interruption", () => {
    const defect = new Fallback.Unexpected({ reason: "Defect", defect: "boom", cause: Cause.die("boom") })
    assert.strictEqual(defect.message, "Fallback handled a defect: Error: boom")
    const error = new Error("disk on fire")
    const multiline = new Fallback.Unexpected({ reason: "Defect", defect: error, cause: Cause.die(error) })
    assert.strictEqual(multiline.message, "Fallback handled a defect: Error: disk on fire")
    const interrupted = new Fallback.Unexpected({ reason: "Interrupted", cause: Cause.interrupt(FiberId.none) })
    assert.strictEqual(interrupted.message, "Fallback handled an interruption")
  })

  it.effect("a typed failure mixed with a defect is not swallowed either", () =>
    Effect.gen(function*() {
      const both = Effect.failCause(Cause.parallel(Cause.fail(notFound), Cause.die("boom")))
      const exit = yield* Effect.exit(both.pipe(Fallback.value("x")))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
    }))

  it.effect("defects: true hands the defect to the source as Unexpected", () =>
    Effect.gen(function*() {
      const fallback = Fallback.effect(
        (e) => Effect.succeed(e instanceof Fallback.Unexpected ? `${e.reason}:${String(e.defect)}` : "typed"),
        { defects: true }
      )
      assert.strictEqual(yield* Effect.die("boom").pipe(fallback), "Defect:boom")
      assert.strictEqual(yield* failWith(notFound).pipe(fallback), "typed")
    }))

  it.effect("defects: predicate selects which defects are handled", () =>
    Effect.gen(function*() {
      const fallback = Fallback.value("handled", { defects: (d) => d === "expected" })
      assert.strictEqual(yield* Effect.die("expected").pipe(fallback), "handled")
      const exit = yield* Effect.exit(Effect.die("other").pipe(fallback))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
    }))

  it.effect("an inner interruption is never swallowed by default", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.interrupt.pipe(Fallback.value("x")))
      assert.isTrue(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause))
    }))

  it.effect("interruptions: true handles an inner interruption", () =>
    Effect.gen(function*() {
      const fallback = Fallback.effect(
        (e) => Effect.succeed(e instanceof Fallback.Unexpected ? e.reason : "typed"),
        { interruptions: true }
      )
      assert.strictEqual(yield* Effect.interrupt.pipe(fallback), "Interrupted")
    }))

  it.effect("interrupting the caller never runs the fallback", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make(false)
      const started = yield* Deferred.make<void>()
      const fallback = Fallback.effect(Effect.as(Ref.set(ran, true), "x"), { interruptions: true, defects: true })
      const fiber = yield* Effect.fork(
        Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(fallback)
      )
      yield* Deferred.await(started)
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.isFalse(yield* Ref.get(ran))
    }))
})

describe("composition", () => {
  it.effect("fallback outside a timeout serves on TimeoutError (TestClock)", () =>
    Effect.gen(function*() {
      const policy = Policy.compose(Fallback.tags("TimeoutError").value("too slow"), Timeout.make("1 second"))
      const fiber = yield* Effect.fork(Effect.never.pipe(Effect.as("never"), policy))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "too slow")
    }))

  it.effect("fallback outside a retry runs once the retries are exhausted", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const flaky = Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.fail(unavailable))
      const policy = Policy.pipeline({
        fallback: Fallback.tags("Unavailable").value("cached"),
        retry: Retry.policy({ schedule: Retry.constant("100 millis"), times: 2 })
      })
      const fiber = yield* Effect.fork(flaky.pipe(policy))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "cached")
      assert.strictEqual(yield* Ref.get(calls), 3)
    }))

  it.effect("a fallback inside a retry stops the retries", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const flaky = Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.fail(unavailable))
      const policy = Policy.compose(Retry.policy({ schedule: Retry.constant("100 millis"), times: 2 }), Fallback.value("x"))
      assert.strictEqual(yield* flaky.pipe(policy), "x")
      assert.strictEqual(yield* Ref.get(calls), 1)
    }))

  it("types: tags removes exactly the handled errors", () => {
    const load = Effect.fail(notFound) as Effect.Effect<string, NotFound | Unavailable>
    expectTypeOf(load.pipe(Fallback.tags("NotFound").value(null))).toEqualTypeOf<
      Effect.Effect<string | null, Unavailable>
    >()
    expectTypeOf(load.pipe(Fallback.tags("NotFound", "Unavailable").value(0))).toEqualTypeOf<
      Effect.Effect<string | number, never>
    >()
    expectTypeOf(load.pipe(Fallback.instanceOf(Unavailable).effect((e) => Effect.succeed(e.region.length))))
      .toEqualTypeOf<Effect.Effect<string | number, NotFound>>()
  })

  it("types: catch-all removes every typed error; a plain predicate removes none", () => {
    const load = Effect.fail(notFound) as Effect.Effect<string, NotFound | Unavailable>
    expectTypeOf(load.pipe(Fallback.value(1))).toEqualTypeOf<Effect.Effect<string | number, never>>()
    const byPredicate = Fallback.when((e: NotFound | Unavailable) => e._tag === "NotFound" && e.id === "1").value(1)
    expectTypeOf(load.pipe(byPredicate)).toEqualTypeOf<Effect.Effect<string | number, NotFound | Unavailable>>()
  })

  it("types: a fallback adds its own error and requirements; chain takes the last source's error", () => {
    class Db extends Context.Tag("Db")<Db, { readonly read: Effect.Effect<number> }>() {}
    const load = Effect.fail(notFound) as Effect.Effect<string, NotFound | Unavailable>
    const viaDb = Fallback.tags("Unavailable").effect(Effect.flatMap(Db, (db) => db.read))
    expectTypeOf(load.pipe(viaDb)).toEqualTypeOf<Effect.Effect<string | number, NotFound, Db>>()
    const chain = Fallback.chain([Effect.fail(new CacheMiss()) as Effect.Effect<boolean, CacheMiss>, () => Effect.fail(unavailable)])
    expectTypeOf(load.pipe(chain)).toEqualTypeOf<Effect.Effect<string | boolean, Unavailable>>()
    expectTypeOf(Fallback.tags("NotFound").effect((e) => Effect.succeed(e), { defects: true })).toEqualTypeOf<
      Fallback.Fallback<{ readonly _tag: "NotFound" } | Fallback.Unexpected, { readonly _tag: "NotFound" }>
    >()
  })

  it("types: compose and pipeline compute the handled errors", () => {
    const load = Effect.fail(notFound) as Effect.Effect<string, NotFound | Unavailable>
    const composed = Policy.compose(Fallback.tags("Unavailable", "TimeoutError").value(0), Timeout.make("1 second"))
    expectTypeOf(load.pipe(composed)).toEqualTypeOf<Effect.Effect<string | number, NotFound>>()
    const pipeline = Policy.pipeline({
      fallback: Fallback.tags("NotFound").value(null),
      timeout: "2 seconds",
      retry: Retry.policy({ times: 1 })
    })
    expectTypeOf(load.pipe(pipeline)).toEqualTypeOf<
      Effect.Effect<string | null, Unavailable | Errors.TimeoutError>
    >()
  })

  it("describes itself for Policy.describe", () => {
    const d = Policy.describe(Fallback.tags("NotFound").chain([Effect.succeed(1), Effect.succeed(2)], { name: "users" }))
    assert.deepStrictEqual(d, {
      kind: "Fallback",
      name: "users",
      options: { mode: "chain", on: "tags(NotFound)", sources: 2, defects: false, interruptions: false, whenResult: false },
      children: []
    })
  })
})

describe("validation", () => {
  it("rejects invalid options at construction, naming the option", () => {
    expectInvalidOption(() => Fallback.chain([] as any), "sources")
    expectInvalidOption(() => Fallback.chain([42] as any), "sources[0]")
    expectInvalidOption(() => Fallback.effect("nope" as any), "fallback")
    expectInvalidOption(() => Fallback.value(1, { defects: "yes" as any }), "defects")
    expectInvalidOption(() => Fallback.value(1, { interruptions: 1 as any }), "interruptions")
    expectInvalidOption(() => Fallback.value(1, { name: "" }), "name")
    expectInvalidOption(() => (Fallback.tags as any)(), "tags")
    expectInvalidOption(() => Fallback.tags("" as string), "tags[0]")
    expectInvalidOption(() => (Fallback.instanceOf as any)(), "classes")
    expectInvalidOption(() => Fallback.when(42 as any), "predicate")
  })

  it("messages name the constructor, the option and the allowed range", () => {
    const message = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        return (e as Errors.InvalidOptionsError).message
      }
      return assert.fail("expected InvalidOptionsError")
    }
    assert.strictEqual(
      message(() => Fallback.value(1, { defects: "yes" as any })),
      "Fallback.value: invalid option \"defects\": expected a boolean or a predicate, got \"yes\""
    )
    assert.strictEqual(
      message(() => Fallback.value(1, { interruptions: 1 as any })),
      "Fallback.value: invalid option \"interruptions\": expected a boolean, got 1"
    )
  })

  it.effect("staleIfError and makeStoreMemory fail with InvalidOptionsError when options are missing or wrong", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(Fallback.staleIfError(undefined as any))
      assert.instanceOf(missing, Errors.InvalidOptionsError)
      assert.strictEqual(missing.option, "ttl")
      const store = yield* Effect.flip(Fallback.makeStoreMemory(null as any))
      assert.instanceOf(store, Errors.InvalidOptionsError)
      assert.strictEqual(store.message, "Fallback.makeStoreMemory: invalid option \"options\": expected an object, got null")
      const zero = yield* Effect.flip(Fallback.makeStoreMemory({ maxEntries: 0 }))
      assert.strictEqual(zero.message, "Fallback.makeStoreMemory: invalid option \"maxEntries\": expected an integer >= 1, got 0")
      const layered = yield* Effect.flip(Layer.build(Fallback.layerStoreMemory({ maxEntries: 1.5 })).pipe(Effect.scoped))
      assert.strictEqual(layered.message, "Fallback.layerStoreMemory: invalid option \"maxEntries\": expected an integer >= 1, got 1.5")
      // the default, 100,000 entries
      const defaults = yield* Fallback.makeStoreMemory()
      assert.strictEqual((defaults as MemoryStore.MemoryStore).maxEntries, 100_000)
    }))

  it.effect("staleIfError accepts only a StaleStore object with get, set and delete (from the environment)", () =>
    Effect.gen(function*() {
      const fn = () => Effect.void
      const storeLike = Object.assign(() => undefined, { get: fn, set: fn, delete: fn })
      for (
        const store of [
          null,
          42,
          storeLike,
          { set: fn, delete: fn },
          { get: fn, delete: fn },
          { get: fn, set: fn }
        ]
      ) {
        const e = yield* Effect.flip(
          Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10 }).pipe(Effect.provideService(Fallback.StaleStore, store as any))
        )
        assert.instanceOf(e, Errors.InvalidOptionsError)
        assert.strictEqual(e.option, "store")
        assert.strictEqual(e.expected, "a StaleStore (get, set, delete)")
      }
      const named = yield* Effect.flip(Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, name: "" }))
      assert.strictEqual(named.message, "Fallback.staleIfError: invalid option \"name\": expected a non-empty string, got \"\"")
    }))

  it.effect("staleIfError fails with InvalidOptionsError for invalid options", () =>
    Effect.gen(function*() {
      const check = (options: any, option: string) =>
        Effect.gen(function*() {
          const e = yield* Effect.flip(Fallback.staleIfError(options))
          assert.instanceOf(e, Errors.InvalidOptionsError)
          assert.strictEqual(e.option, option)
        })
      yield* check({ ttl: 0, maxEntries: 10 }, "ttl")
      yield* check({ ttl: "-1 second", maxEntries: 10 }, "ttl")
      yield* check({ ttl: "1 minute", maxEntries: 0 }, "maxEntries")
      yield* check({ ttl: "1 minute", maxEntries: 1.5 }, "maxEntries")
      yield* check({ ttl: "1 minute", maxEntries: 10, key: "" }, "key")
      yield* check({ ttl: "1 minute", maxEntries: 10, on: 1 }, "on")
      yield* check({ ttl: "1 minute", maxEntries: 10, schema: "Number" }, "schema")
      const unsafe = yield* Effect.flip(
        Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10 }).pipe(
          Effect.provideService(Fallback.StaleStore, { get: () => Effect.void, set: () => Effect.void, delete: () => Effect.void, unsafe: {} } as any)
        )
      )
      assert.strictEqual(unsafe.option, "store")
      const storeError = yield* Effect.flip(Fallback.makeStoreMemory({ maxEntries: -1 }))
      assert.strictEqual(storeError.option, "maxEntries")
    }))
})

describe("Fallback.staleIfError", () => {
  it.effect("serves the last good value, marked stale with its age, when the source fails", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "10 minutes", maxEntries: 10, name: "prices" })
      const fresh = yield* cache.serve(Effect.succeed(41), { key: "sku-1" })
      assert.deepStrictEqual(fresh, { _tag: "Fresh", value: 41, stale: false })
      yield* TestClock.adjust("3 minutes")
      const served = yield* cache.serve(Effect.fail(unavailable) as Effect.Effect<number, Unavailable>, { key: "sku-1" })
      assert.isTrue(Fallback.isStale(served))
      if (served._tag !== "Stale") return assert.fail("expected stale")
      assert.strictEqual(served.value, 41)
      assert.isTrue(Duration.equals(served.age, Duration.minutes(3)))
      assert.strictEqual(served.storedAt, 0)
      assert.strictEqual(Option.getOrUndefined(Cause.failureOption(served.cause)), unavailable)
      assert.deepStrictEqual(yield* cache.stats(), { calls: 2, stored: 1, served: 1, misses: 0, storeErrors: 0, pendingWrites: 0 })
    }))

  it.effect("defaults: named stale-if-error, default key, memory store, every typed error", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10 })
      assert.strictEqual(cache.policyName, "stale-if-error")
      assert.deepStrictEqual(Policy.describe(cache), {
        kind: "StaleIfError",
        name: "stale-if-error",
        options: {
          ttl: "1m",
          maxEntries: 10,
          key: "default",
          store: "memory",
          on: "all",
          defects: false,
          interruptions: false
        },
        children: []
      })
    }))

  it.effect("the callable form and execute return the plain value", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10 })
      assert.strictEqual(yield* Effect.succeed("v1").pipe(cache), "v1")
      assert.strictEqual(yield* failWith(unavailable).pipe(cache), "v1")
      assert.strictEqual(cache.key, Fallback.DEFAULT_STALE_KEY)
      yield* cache.execute(Effect.succeed("a"), { key: "a" })
      assert.strictEqual(yield* cache.execute(failWith(unavailable), { key: "a" }), "a")
      // keys are separate
      const e = yield* Effect.flip(cache.execute(failWith(unavailable), { key: "b" }))
      assert.strictEqual(e, unavailable)
    }))

  it.effect("past the ttl the original failure surfaces (StaleMiss)", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, name: "ttl" })
      const events = yield* collect(cache.events, 1)
      yield* Effect.succeed("v").pipe(cache)
      yield* TestClock.adjust("1 minute")
      const e = yield* Effect.flip(failWith(unavailable).pipe(cache))
      assert.strictEqual(e, unavailable)
      assert.deepStrictEqual(yield* events, [{ _tag: "StaleMiss", policy: "ttl", key: "default", error: unavailable }])
      assert.strictEqual((yield* cache.stats()).misses, 1)
      assert.strictEqual(yield* counterValue("resilience_fallback_stale_miss", { policy: "ttl" }), 1)
    }))

  it.effect("a new success refreshes the value and its age", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10 })
      yield* Effect.succeed(1).pipe(cache)
      yield* TestClock.adjust("50 seconds")
      yield* Effect.succeed(2).pipe(cache)
      yield* TestClock.adjust("50 seconds")
      const served = yield* cache.serve(Effect.fail("down") as Effect.Effect<number, string>)
      assert.strictEqual(served.value, 2)
      assert.isTrue(served.stale && Duration.equals(served.age, Duration.seconds(50)))
    }))

  it.effect("on selects which errors serve a stale value", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, on: Fallback.tags("Unavailable") })
      yield* Effect.succeed("v").pipe(cache)
      assert.strictEqual(yield* failWith(unavailable).pipe(cache), "v")
      assert.strictEqual(yield* Effect.flip(failWith(notFound).pipe(cache)), notFound)
    }))

  it.effect("defects are not served stale unless asked", () =>
    Effect.gen(function*() {
      const strict = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10 })
      yield* Effect.succeed("v").pipe(strict)
      const exit = yield* Effect.exit(Effect.die("boom").pipe(strict))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      const lenient = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, defects: true })
      yield* Effect.succeed("v").pipe(lenient)
      assert.strictEqual(yield* Effect.die("boom").pipe(Effect.as("x"), lenient), "v")
    }))

  it.effect("memory stays bounded: the least recently used key is evicted", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "1 hour", maxEntries: 2 })
      yield* cache.execute(Effect.succeed("a"), { key: "a" })
      yield* cache.execute(Effect.succeed("b"), { key: "b" })
      // touching "a" makes "b" the least recently used
      assert.strictEqual(yield* cache.execute(failWith(unavailable), { key: "a" }), "a")
      yield* cache.execute(Effect.succeed("c"), { key: "c" })
      assert.strictEqual(yield* Effect.flip(cache.execute(failWith(unavailable), { key: "b" })), unavailable)
      assert.strictEqual(yield* cache.execute(failWith(unavailable), { key: "a" }), "a")
      assert.strictEqual(yield* cache.execute(failWith(unavailable), { key: "c" }), "c")
    }))

  it.effect("invalidate forgets a key", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "1 hour", maxEntries: 2 })
      yield* Effect.succeed("v").pipe(cache)
      yield* cache.invalidate()
      assert.strictEqual(yield* Effect.flip(failWith(unavailable).pipe(cache)), unavailable)
    }))

  it.effect("invalidate(key) forgets that key only", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "1 hour", maxEntries: 10 })
      yield* Effect.succeed("default").pipe(cache)
      yield* cache.execute(Effect.succeed("a"), { key: "a" })
      yield* cache.invalidate("a")
      assert.strictEqual(yield* Effect.flip(cache.execute(failWith(unavailable), { key: "a" })), unavailable)
      assert.strictEqual(yield* failWith(unavailable).pipe(cache), "default")
    }))

  it.effect("never serves an entry at or past its expiresAt, even from a store that returns it", () =>
    Effect.gen(function*() {
      const entries = new Map<string, Fallback.StaleEntry>()
      const naive: Fallback.StaleStore = {
        get: (key) => Effect.sync(() => Option.fromNullable(entries.get(key))),
        set: (key, entry) => Effect.sync(() => void entries.set(key, entry)),
        delete: (key) => Effect.sync(() => void entries.delete(key))
      }
      const cache = yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10, name: "naive" }).pipe(
        Effect.provideService(Fallback.StaleStore, naive)
      )
      yield* Effect.succeed("v").pipe(cache)
      yield* cache.flush
      yield* TestClock.adjust(Duration.millis(59_999))
      assert.strictEqual(yield* failWith(unavailable).pipe(cache), "v")
      yield* TestClock.adjust(Duration.millis(1))
      assert.strictEqual(yield* Effect.flip(failWith(unavailable).pipe(cache)), unavailable)
      assert.deepStrictEqual(yield* cache.stats(), { calls: 3, stored: 1, served: 1, misses: 1, storeErrors: 0, pendingWrites: 0 })
    }))

  it.effect("a failing store never fails a call; it is reported as StoreError", () =>
    Effect.gen(function*() {
      const broken: Fallback.StaleStore = {
        get: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "get", key, cause: "down" })),
        set: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "set", key, cause: "down" })),
        delete: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "delete", key, cause: "down" }))
      }
      const cache = yield* Fallback.staleIfError<string>({ ttl: "1 hour", maxEntries: 2, name: "broken" }).pipe(
        Effect.provideService(Fallback.StaleStore, broken)
      )
      const events = yield* collect(cache.events, 2)
      assert.strictEqual(yield* Effect.succeed("v").pipe(cache), "v")
      // the write runs off the caller's path: wait for it (until then the value is served from memory)
      yield* cache.flush
      assert.strictEqual(yield* Effect.flip(failWith(unavailable).pipe(cache)), unavailable)
      const [set, get] = yield* events
      assert.strictEqual(set?._tag, "StoreError")
      assert.strictEqual(get?._tag === "StoreError" && get.error.operation, "get")
      assert.strictEqual((yield* cache.stats()).storeErrors, 2)
    }))

  it.effect("store failures are reported with the key and operation, and read well", () =>
    Effect.gen(function*() {
      const broken: Fallback.StaleStore = {
        get: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "get", key, cause: "down" })),
        set: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "set", key, cause: "down" })),
        delete: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "delete", key, cause: "down" }))
      }
      const cache = yield* Fallback.staleIfError({ ttl: "1 hour", maxEntries: 2, name: "broken" }).pipe(
        Effect.provideService(Fallback.StaleStore, broken)
      )
      const events = yield* collect(cache.events, 2)
      yield* cache.invalidate("sku-1")
      yield* cache.invalidate()
      const [one, other] = yield* events
      if (one?._tag !== "StoreError" || other?._tag !== "StoreError") return assert.fail("expected StoreError events")
      assert.strictEqual(one.key, "sku-1")
      assert.strictEqual(one.error.message, "Stale store delete failed for key 6:broken:sku-1")
      assert.strictEqual(other.key, "default")
      assert.strictEqual(other.error.message, "Stale store delete failed for key 6:broken:default")
      assert.strictEqual((yield* cache.stats()).storeErrors, 2)
    }))

  it.effect("makeStoreMemory: a bounded LRU store that policies can share under their own names", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeStoreMemory({ maxEntries: 2 })
      const withStore = Effect.provideService(Fallback.StaleStore, store)
      const prices = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, name: "prices" }).pipe(withStore)
      const users = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, name: "users" }).pipe(withStore)
      assert.strictEqual(Policy.describe(prices).options.store, "memory")
      yield* prices.execute(Effect.succeed("p"), { key: "k" })
      yield* users.execute(Effect.succeed("u"), { key: "k" })
      assert.strictEqual(yield* prices.execute(failWith(unavailable), { key: "k" }), "p")
      assert.strictEqual(yield* users.execute(failWith(unavailable), { key: "k" }), "u")
      // a third key evicts the least recently used one (prices' "k" was read first); store keys
      // are length-prefixed: `<name.length>:<name>:<key>`
      yield* users.execute(Effect.succeed("u2"), { key: "k2" })
      assert.strictEqual(yield* Effect.flip(prices.execute(failWith(unavailable), { key: "k" })), unavailable)
      assert.deepStrictEqual(Option.getOrUndefined(yield* store.get("5:users:k", 0)), { value: "u", storedAt: 0, expiresAt: 60_000 })
      yield* store.delete("5:users:k")
      assert.isTrue(Option.isNone(yield* store.get("5:users:k", 0)))
    }))

  it.effect("the memory store expires an entry exactly at expiresAt", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeStoreMemory({ maxEntries: 1 })
      const entry = { value: "v", storedAt: 0, expiresAt: 1_000 }
      yield* store.set("k", entry, 0)
      assert.deepStrictEqual(Option.getOrUndefined(yield* store.get("k", 999)), entry)
      assert.isTrue(Option.isNone(yield* store.get("k", 1_000)))
      assert.isTrue(Option.isNone(yield* store.get("k", 999)))
    }))

  it.effect("a custom store receives prefixed keys and the caller's clock", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const memory = MemoryStore.unsafeMake({ maxEntries: 10 })
      const store: Fallback.StaleStore = {
        get: (key, now) => Effect.zipRight(Effect.sync(() => log.push(`get ${key} @${now}`)), memory.get(key, now)),
        set: (key, entry, now) =>
          Effect.zipRight(Effect.sync(() => log.push(`set ${key} ${entry.storedAt}..${entry.expiresAt}`)), memory.set(key, entry, now)),
        delete: memory.delete
      }
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, name: "users" }).pipe(
        Effect.provideService(Fallback.StaleStore, store)
      )
      yield* TestClock.adjust("1 second")
      yield* cache.execute(Effect.succeed(1), { key: "u1" })
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* cache.execute(Effect.fail("x") as Effect.Effect<number, string>, { key: "u1" }), 1)
      assert.deepStrictEqual(log, ["set 5:users:u1 1000..61000", "get 5:users:u1 @2000"])
    }))

  it.effect("emits FallbackServed and counts resilience_fallback_served{source=stale}", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, name: "stale-events" })
      const events = yield* collect(cache.events, 1)
      yield* cache.execute(Effect.succeed(1), { key: "k" })
      yield* TestClock.adjust("5 seconds")
      yield* cache.execute(Effect.fail("down") as Effect.Effect<number, string>, { key: "k" })
      const [event] = yield* events
      assert.deepStrictEqual(event, {
        _tag: "FallbackServed",
        policy: "stale-events",
        source: "stale",
        error: "down",
        key: "k",
        age: Duration.seconds(5)
      })
      assert.strictEqual(
        yield* counterValue("resilience_fallback_served", { source: "stale", policy: "stale-events" }),
        1
      )
    }))

  it("types: staleIfError keeps the policy's value type and the errors", () => {
    const load = Effect.fail(notFound) as Effect.Effect<string, NotFound | Unavailable>
    const cache = Effect.runSync(Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 1 }))
    expectTypeOf(load.pipe(cache)).toEqualTypeOf<Effect.Effect<string, NotFound | Unavailable>>()
    expectTypeOf(cache.serve(load)).toEqualTypeOf<
      Effect.Effect<Fallback.Served<string, NotFound | Unavailable>, NotFound | Unavailable>
    >()
    const pipeline = Policy.pipeline({ fallback: cache, timeout: "1 second" })
    expectTypeOf(load.pipe(pipeline)).toEqualTypeOf<
      Effect.Effect<string, NotFound | Unavailable | Errors.TimeoutError>
    >()
    // a narrower success type comes back as the policy's (a remembered value may be another string)
    expectTypeOf(Effect.succeed("a" as const).pipe(cache)).toEqualTypeOf<Effect.Effect<string>>()
  })

  it.effect("layerStaleIfError and layerStaleIfErrorConfig provide it under your tag", () =>
    Effect.gen(function*() {
      class PriceCache extends Context.Tag("test/PriceCache")<PriceCache, Fallback.StaleIfError>() {}
      const viaLayer = yield* Effect.provide(
        PriceCache,
        Fallback.layerStaleIfError(PriceCache, { ttl: "1 minute", maxEntries: 5, name: "layered" })
      )
      assert.strictEqual(viaLayer.policyName, "layered")
      const configured = yield* Effect.provide(
        PriceCache,
        Fallback.layerStaleIfErrorConfig(PriceCache, {
          ttl: Config.duration("TTL"),
          maxEntries: Config.integer("MAX_ENTRIES")
        }).pipe(
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["TTL", "30 seconds"], ["MAX_ENTRIES", "7"]]))))
        )
      )
      assert.deepStrictEqual(Policy.describe(configured).options, {
        ttl: "30s",
        maxEntries: 7,
        key: "default",
        store: "memory",
        on: "all",
        defects: false,
        interruptions: false
      })
      const bad = yield* Effect.flip(
        Effect.provide(PriceCache, Fallback.layerStaleIfError(PriceCache, { ttl: "1 minute", maxEntries: 0 }))
      )
      assert.instanceOf(bad, Errors.InvalidOptionsError)
    }))
})

describe("memory store (properties)", () => {
  const op = FastCheck.oneof(
    FastCheck.record({ kind: FastCheck.constant("set" as const), key: FastCheck.integer({ min: 0, max: 20 }), ttl: FastCheck.integer({ min: 1, max: 100 }) }),
    FastCheck.record({ kind: FastCheck.constant("get" as const), key: FastCheck.integer({ min: 0, max: 20 }) }),
    FastCheck.record({ kind: FastCheck.constant("tick" as const), millis: FastCheck.integer({ min: 0, max: 50 }) })
  )

  it.effect.prop(
    "never holds more than maxEntries and never returns an expired entry",
    [FastCheck.integer({ min: 1, max: 8 }), FastCheck.array(op, { maxLength: 200 })],
    ([maxEntries, ops]) =>
      Effect.gen(function*() {
        const store = MemoryStore.unsafeMake({ maxEntries })
        let now = 0
        for (const o of ops) {
          if (o.kind === "tick") now += o.millis
          else if (o.kind === "set") {
            yield* store.set(String(o.key), { value: o.key, storedAt: now, expiresAt: now + o.ttl }, now)
          } else {
            const entry = yield* store.get(String(o.key), now)
            if (Option.isSome(entry)) {
              assert.isAbove(entry.value.expiresAt, now)
              assert.strictEqual(entry.value.value, o.key)
            }
          }
          assert.isAtMost(store.size(), maxEntries)
        }
      }),
    { fastCheck: { numRuns: numRuns(100), seed: 20240601 } }
  )
})

describe("Fallback: one shape (issue 20)", () => {
  it.effect("TypeIds and guards: isFallback for value/effect/chain, isStaleIfError for stale-if-error", () =>
    Effect.gen(function*() {
      const fallbacks = [Fallback.value(0), Fallback.effect(Effect.succeed(0)), Fallback.chain([Effect.succeed(0)]), Fallback.tags("X").value(0)]
      for (const f of fallbacks) {
        assert.isTrue(Fallback.TypeId in f)
        assert.isTrue(Fallback.isFallback(f))
        assert.isFalse(Fallback.isStaleIfError(f))
      }
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 1 })
      assert.isTrue(Fallback.StaleIfErrorTypeId in cache)
      assert.isTrue(Fallback.isStaleIfError(cache))
      assert.isFalse(Fallback.isFallback(cache))
      for (const other of [Timeout.make("1 second"), Retry.policy(), null, {}, () => 0]) {
        assert.isFalse(Fallback.isFallback(other))
        assert.isFalse(Fallback.isStaleIfError(other))
      }
    }))

  it.effect("stats() is an Effect reading the counts when it runs; unsafeStats() reads them at once", () =>
    Effect.gen(function*() {
      const orZero = Fallback.value(0)
      const stats = orZero.stats()
      assert.deepStrictEqual(yield* stats, { calls: 0, handled: 0, served: 0, exhausted: 0 })
      yield* Effect.fail("x").pipe(orZero)
      assert.deepStrictEqual(yield* stats, { calls: 1, handled: 1, served: 1, exhausted: 0 })
      assert.deepStrictEqual(orZero.unsafeStats(), { calls: 1, handled: 1, served: 1, exhausted: 0 })
      const cache = yield* Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 1 })
      const cacheStats = cache.stats()
      yield* Effect.succeed(1).pipe(cache)
      const expected = { calls: 1, stored: 1, served: 0, misses: 0, storeErrors: 0, pendingWrites: 0 }
      assert.deepStrictEqual(yield* cacheStats, expected)
      assert.deepStrictEqual(cache.unsafeStats(), expected)
    }))

  it.effect("staleIfError's execute is dual: data-first and data-last; a missing key is refused either way", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10 })
      assert.strictEqual(yield* Effect.succeed("a").pipe(cache.execute({ key: "k" })), "a")
      assert.strictEqual(yield* failWith(unavailable).pipe(cache.execute({ key: "k" })), "a")
      assert.strictEqual(yield* cache.execute(failWith(unavailable), { key: "k" }), "a")
      const missing = yield* Effect.flip((cache.execute as any)(Effect.succeed("b")) as Effect.Effect<string, unknown>)
      assert.isTrue(Errors.isInvalidKeyError(missing))
      const nullKey = yield* Effect.flip(Effect.succeed("b").pipe(cache.execute({ key: null as any })))
      assert.isTrue(Errors.isInvalidKeyError(nullKey))
    }))

  it.effect("the store is the Fallback.StaleStore reference: one memory store per process by default", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.StaleStore
      assert.strictEqual(store.kind, "memory")
      assert.strictEqual(store.time, "monotonic")
      assert.isDefined(store.unsafe)
      // the default store is the same for every policy of the process
      assert.strictEqual(yield* Fallback.StaleStore, store)
    }))

  it.effect("named policies share their entries in a store; an unnamed policy's entries are its own", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeStoreMemory()
      const withStore = Effect.provideService(Fallback.StaleStore, store)
      const a = yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10, name: "shared-name" }).pipe(withStore)
      const b = yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10, name: "shared-name" }).pipe(withStore)
      yield* a.execute(Effect.succeed("from a"), { key: "k" })
      // a replica of the same name (a policy made again) serves it
      assert.strictEqual(yield* b.execute(failWith(unavailable), { key: "k" }), "from a")
      const anonymous1 = yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10 }).pipe(withStore)
      const anonymous2 = yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10 }).pipe(withStore)
      yield* Effect.succeed("mine").pipe(anonymous1)
      assert.strictEqual(yield* failWith(unavailable).pipe(anonymous1), "mine")
      assert.strictEqual(yield* Effect.flip(failWith(unavailable).pipe(anonymous2)), unavailable)
      // nor is it in the store's map (which only holds named policies' entries)
      assert.isTrue(Option.isNone(yield* store.get("14:stale-if-error:default", 0)))
      // an explicit "stale-if-error" name is a name like any other
      const named = yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10, name: "stale-if-error" }).pipe(withStore)
      assert.strictEqual(yield* Effect.flip(failWith(unavailable).pipe(named)), unavailable)
    }))

  it.effect("in a shared store, a named policy keeps at most its own maxEntries; the store bounds all names together", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeStoreMemory({ maxEntries: 3 })
      const withStore = Effect.provideService(Fallback.StaleStore, store)
      const small = yield* Fallback.staleIfError<string>({ ttl: "1 hour", maxEntries: 2, name: "small" }).pipe(withStore)
      const big = yield* Fallback.staleIfError<string>({ ttl: "1 hour", maxEntries: 10, name: "big" }).pipe(withStore)
      yield* big.execute(Effect.succeed("b1"), { key: "b1" })
      for (const k of ["s1", "s2", "s3"]) yield* small.execute(Effect.succeed(k), { key: k })
      // small's own bound: s1 (its least recently used) went first, big's entry is untouched
      assert.strictEqual(yield* Effect.flip(small.execute(failWith(unavailable), { key: "s1" })), unavailable)
      assert.strictEqual(yield* small.execute(failWith(unavailable), { key: "s2" }), "s2")
      assert.strictEqual(yield* big.execute(failWith(unavailable), { key: "b1" }), "b1")
      // the store's bound (3): a fourth entry evicts the least recently used of any name (s3)
      yield* big.execute(Effect.succeed("b2"), { key: "b2" })
      assert.strictEqual((store as MemoryStore.MemoryStore).size(), 3)
      assert.strictEqual(yield* Effect.flip(small.execute(failWith(unavailable), { key: "s3" })), unavailable)
      assert.strictEqual(yield* small.execute(failWith(unavailable), { key: "s2" }), "s2")
      // an unnamed policy is bounded by its own maxEntries only
      const own = yield* Fallback.staleIfError<string>({ ttl: "1 hour", maxEntries: 5 }).pipe(withStore)
      for (let i = 0; i < 5; i++) yield* own.execute(Effect.succeed(`o${i}`), { key: `o${i}` })
      for (let i = 0; i < 5; i++) assert.strictEqual(yield* own.execute(failWith(unavailable), { key: `o${i}` }), `o${i}`)
      assert.strictEqual((store as MemoryStore.MemoryStore).size(), 3)
    }))

  it.effect("layerStoreMemory provides the store to the policies made under it", () =>
    Effect.gen(function*() {
      const [store, cache] = yield* Effect.all([
        Fallback.StaleStore,
        Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 10, name: "layered-store" })
      ]).pipe(Effect.provide(Fallback.layerStoreMemory({ maxEntries: 7 })))
      assert.strictEqual((store as MemoryStore.MemoryStore).maxEntries, 7)
      yield* Effect.succeed(1).pipe(cache)
      assert.isTrue(Option.isSome(yield* store.get("13:layered-store:default", 0)))
      assert.notStrictEqual(store, yield* Fallback.StaleStore)
    }))

  it.effect("a schema encodes the values for the store and decodes them when served", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeStoreMemory()
      const withStore = Effect.provideService(Fallback.StaleStore, store)
      const Quote = Schema.Struct({ price: Schema.Number, at: Schema.Date })
      const quotes = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, schema: Quote, name: "quotes" }).pipe(withStore)
      const quote = { price: 42, at: new Date(0) }
      assert.strictEqual(yield* Effect.succeed(quote).pipe(quotes), quote)
      // the store holds the encoded value
      const held = yield* store.get("6:quotes:default", 0)
      assert.deepStrictEqual(Option.map(held, (e) => e.value), Option.some({ price: 42, at: "1970-01-01T00:00:00.000Z" }))
      const served = yield* Effect.fail(unavailable).pipe(Effect.as(quote), quotes)
      assert.deepStrictEqual(served, quote)
      assert.instanceOf(served.at, Date)
    }))

  it.effect("with a schema, a value of another type under the same name is never served: reported as a StoreError", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeStoreMemory()
      const withStore = Effect.provideService(Fallback.StaleStore, store)
      const strings = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, schema: Schema.String, name: "mixed" }).pipe(withStore)
      const numbers = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, schema: Schema.Number, name: "mixed" }).pipe(withStore)
      yield* Effect.succeed("forty-two").pipe(strings)
      const events = yield* collect(numbers.events, 1)
      const e = yield* Effect.flip(Effect.fail(unavailable).pipe(Effect.as(0), numbers))
      assert.strictEqual(e, unavailable)
      const [event] = yield* events
      assert.isTrue(event?._tag === "StoreError" && event.error.operation === "get" && event.key === "default")
      assert.deepStrictEqual(yield* numbers.stats(), { calls: 1, stored: 0, served: 0, misses: 0, storeErrors: 1, pendingWrites: 0 })
      assert.strictEqual(
        yield* counterValue("resilience_fallback_stale_store_errors", { policy: "mixed", operation: "get" }),
        1
      )
    }))

  it.effect("with a schema, a value that does not encode is not stored (reported); the fresh answer is unchanged", () =>
    Effect.gen(function*() {
      const Positive = Schema.Number.pipe(Schema.positive())
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, schema: Positive, name: "positive" })
      assert.strictEqual(yield* Effect.succeed(-1).pipe(cache), -1)
      assert.deepStrictEqual(yield* cache.stats(), { calls: 1, stored: 0, served: 0, misses: 0, storeErrors: 1, pendingWrites: 0 })
      assert.strictEqual(yield* Effect.flip(Effect.fail(unavailable).pipe(Effect.as(1), cache)), unavailable)
      // and with a store that is not in memory, the write is reported the same way
      const memory = MemoryStore.unsafeMake()
      const custom: Fallback.StaleStore = { get: memory.get, set: memory.set, delete: memory.delete }
      const queued = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, schema: Positive, name: "positive-queued" }).pipe(
        Effect.provideService(Fallback.StaleStore, custom)
      )
      assert.strictEqual(yield* Effect.succeed(-1).pipe(queued), -1)
      yield* queued.flush
      assert.strictEqual((yield* queued.stats()).storeErrors, 1)
      yield* Effect.succeed(2).pipe(queued)
      yield* queued.flush
      assert.deepStrictEqual(Option.map(yield* memory.get("15:positive-queued:default", 0), (e) => e.value), Option.some(2))
    }))

  it.effect("a memory store whose partition throws is reported, never the caller's failure", () =>
    Effect.gen(function*() {
      const boom = () => {
        throw new Error("partition threw")
      }
      const store: Fallback.StaleStore = {
        get: () => Effect.succeed(Option.none()),
        set: () => Effect.void,
        delete: () => Effect.void,
        unsafe: { partition: () => ({ get: boom, set: boom, delete: boom }) }
      }
      const cache = yield* Fallback.staleIfError<number>({ ttl: "1 minute", maxEntries: 10, name: "throwing-partition" }).pipe(
        Effect.provideService(Fallback.StaleStore, store)
      )
      assert.strictEqual(yield* Effect.succeed(1).pipe(cache), 1)
      assert.strictEqual(yield* Effect.flip(Effect.fail(unavailable).pipe(Effect.as(0), cache)), unavailable)
      yield* cache.invalidate()
      assert.strictEqual((yield* cache.stats()).storeErrors, 3)
      assert.strictEqual(Policy.describe(cache).options.store, "custom")
    }))

  it("types: layerStaleIfError takes the value type from the tag; a schema must match it", () => {
    class Prices extends Context.Tag("test/Prices")<Prices, Fallback.StaleIfError<number>>() {}
    expectTypeOf(Fallback.layerStaleIfError(Prices, { ttl: "1 minute", maxEntries: 1 })).toEqualTypeOf<
      Layer.Layer<Prices, Errors.InvalidOptionsError>
    >()
    void Fallback.layerStaleIfError(Prices, { ttl: "1 minute", maxEntries: 1, schema: Schema.Number })
    // @ts-expect-error: a schema of strings cannot back a tag of numbers
    void Fallback.layerStaleIfError(Prices, { ttl: "1 minute", maxEntries: 1, schema: Schema.String })
    void Fallback.layerStaleIfErrorConfig(Prices, { ttl: Config.duration("TTL"), maxEntries: Config.integer("N") }, Schema.Number)
    // @ts-expect-error: the tag's service is not a stale-if-error policy of numbers
    void Fallback.layerStaleIfError(Context.GenericTag<"x", Fallback.StaleIfError<string>>("x"), { ttl: "1 minute", maxEntries: 1, schema: Schema.Number })
    const quotes = Fallback.staleIfError({ ttl: "1 minute", maxEntries: 1, schema: Schema.Struct({ price: Schema.Number }) })
    expectTypeOf(quotes).toEqualTypeOf<
      Effect.Effect<Fallback.StaleIfError<{ readonly price: number }, unknown>, Errors.InvalidOptionsError>
    >()
  })

  it.effect("layerStaleIfErrorConfig takes the schema in code", () =>
    Effect.gen(function*() {
      class Quotes extends Context.Tag("test/Quotes")<Quotes, Fallback.StaleIfError<Date>>() {}
      const cache = yield* Effect.provide(
        Quotes,
        Fallback.layerStaleIfErrorConfig(Quotes, { ttl: Config.succeed("1 minute"), maxEntries: Config.succeed(1) }, Schema.Date)
      )
      const at = new Date(5)
      yield* Effect.succeed(at).pipe(cache)
      const served = yield* Effect.fail("down").pipe(Effect.as(new Date(0)), cache)
      assert.strictEqual(served.getTime(), 5)
    }))
})
