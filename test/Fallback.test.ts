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
  TestClock
} from "effect"
import { expectTypeOf } from "vitest"
import { Errors, Fallback, Policy, Retry, Timeout } from "../src/index.js"
import { unsafeMakeMemoryStore } from "../src/internal/fallbackStore.js"
import { expectInvalidOption } from "./utils/errors.js"
import { counterValue } from "./utils/metrics.js"
import { collect } from "./utils/streams.js"

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
      assert.deepStrictEqual(fallback.stats(), { calls: 2, handled: 1, served: 1, exhausted: 0 })
    }))

  it.effect("tags(...) handles only the selected tags", () =>
    Effect.gen(function*() {
      const load = (e: NotFound | Unavailable): Effect.Effect<string, NotFound | Unavailable> => Effect.fail(e)
      const orNull = Fallback.tags("NotFound").value(null)
      assert.isNull(yield* load(notFound).pipe(orNull))
      const other = yield* Effect.flip(load(unavailable).pipe(orNull))
      assert.strictEqual(other, unavailable)
      assert.strictEqual(orNull.stats().handled, 1)
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
      assert.deepStrictEqual(orZero.stats(), { calls: 2, handled: 0, served: 0, exhausted: 0 })
    }))

  it.effect("instanceOf(...) handles an instance of any of its classes and passes the rest through", () =>
    Effect.gen(function*() {
      const fallback = Fallback.instanceOf(NotFound, Unavailable).effect((e) => Effect.succeed(e._tag))
      assert.strictEqual(yield* failWith(notFound).pipe(fallback), "NotFound")
      assert.strictEqual(yield* failWith(unavailable).pipe(fallback), "Unavailable")
      const miss = new CacheMiss()
      assert.strictEqual(yield* Effect.flip((failWith(miss) as Effect.Effect<string, CacheMiss>).pipe(fallback)), miss)
      assert.deepStrictEqual(fallback.stats(), { calls: 3, handled: 2, served: 2, exhausted: 0 })
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
      assert.strictEqual(fallback.stats().exhausted, 1)
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
      assert.deepStrictEqual(chain.stats(), { calls: 1, handled: 1, served: 0, exhausted: 0 })
    }))

  it.effect("counts resilience_fallback_exhausted under the policy's name", () =>
    Effect.gen(function*() {
      const chain = Fallback.chain([Effect.fail(new CacheMiss()), Effect.fail(unavailable)], { name: "exhausted-metric" })
      yield* Effect.flip(failWith(notFound).pipe(chain))
      yield* Effect.flip(failWith(notFound).pipe(chain))
      assert.strictEqual(yield* counterValue("resilience_fallback_exhausted", { policy: "exhausted-metric" }), 2)
      assert.strictEqual(chain.stats().exhausted, 2)
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
      assert.strictEqual(fallback.stats().handled, 0)
    }))

  it.effect("an unhandled defect surfaces unchanged (defects omitted or false)", () =>
    Effect.gen(function*() {
      for (const fallback of [Fallback.value("x"), Fallback.value("x", { defects: false })]) {
        const exit = yield* Effect.exit(Effect.die("boom").pipe(fallback))
        assert.deepStrictEqual(exit, Exit.die("boom"))
        assert.strictEqual(fallback.stats().handled, 0)
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
      options: { mode: "chain", on: "tags(NotFound)", sources: 2, defects: false, interruptions: false },
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

  it.effect("staleIfError and makeMemoryStore fail with InvalidOptionsError when options are missing", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(Fallback.staleIfError(undefined as any))
      assert.instanceOf(missing, Errors.InvalidOptionsError)
      assert.strictEqual(missing.option, "ttl")
      const store = yield* Effect.flip(Fallback.makeMemoryStore(undefined as any))
      assert.instanceOf(store, Errors.InvalidOptionsError)
      assert.strictEqual(store.message, "Fallback.makeMemoryStore: invalid option \"maxEntries\": expected an integer >= 1, got undefined")
    }))

  it.effect("staleIfError accepts only a StaleStore object with get, set and delete", () =>
    Effect.gen(function*() {
      const fn = () => Effect.void
      const storeLike = Object.assign(() => undefined, { get: fn, set: fn, delete: fn })
      for (const store of [null, 42, storeLike, { set: fn, delete: fn }, { get: fn, delete: fn }, { get: fn, set: fn }]) {
        const e = yield* Effect.flip(Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, store: store as any }))
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
      yield* check({ ttl: "1 minute", maxEntries: 10, store: {} }, "store")
      const storeError = yield* Effect.flip(Fallback.makeMemoryStore({ maxEntries: -1 }))
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
      assert.deepStrictEqual(cache.stats(), { calls: 2, stored: 1, served: 1, misses: 0, storeErrors: 0, pendingWrites: 0 })
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
      assert.strictEqual(cache.stats().misses, 1)
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
      const cache = yield* Fallback.staleIfError<string>({ ttl: "1 minute", maxEntries: 10, store: naive, name: "naive" })
      yield* Effect.succeed("v").pipe(cache)
      yield* cache.flush
      yield* TestClock.adjust(Duration.millis(59_999))
      assert.strictEqual(yield* failWith(unavailable).pipe(cache), "v")
      yield* TestClock.adjust(Duration.millis(1))
      assert.strictEqual(yield* Effect.flip(failWith(unavailable).pipe(cache)), unavailable)
      assert.deepStrictEqual(cache.stats(), { calls: 3, stored: 1, served: 1, misses: 1, storeErrors: 0, pendingWrites: 0 })
    }))

  it.effect("a failing store never fails a call; it is reported as StoreError", () =>
    Effect.gen(function*() {
      const broken: Fallback.StaleStore = {
        get: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "get", key, cause: "down" })),
        set: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "set", key, cause: "down" })),
        delete: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "delete", key, cause: "down" }))
      }
      const cache = yield* Fallback.staleIfError<string>({ ttl: "1 hour", maxEntries: 2, store: broken, name: "broken" })
      const events = yield* collect(cache.events, 2)
      assert.strictEqual(yield* Effect.succeed("v").pipe(cache), "v")
      // the write runs off the caller's path: wait for it (until then the value is served from memory)
      yield* cache.flush
      assert.strictEqual(yield* Effect.flip(failWith(unavailable).pipe(cache)), unavailable)
      const [set, get] = yield* events
      assert.strictEqual(set?._tag, "StoreError")
      assert.strictEqual(get?._tag === "StoreError" && get.error.operation, "get")
      assert.strictEqual(cache.stats().storeErrors, 2)
    }))

  it.effect("store failures are reported with the key and operation, and read well", () =>
    Effect.gen(function*() {
      const broken: Fallback.StaleStore = {
        get: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "get", key, cause: "down" })),
        set: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "set", key, cause: "down" })),
        delete: (key) => Effect.fail(new Fallback.StaleStoreError({ operation: "delete", key, cause: "down" }))
      }
      const cache = yield* Fallback.staleIfError({ ttl: "1 hour", maxEntries: 2, store: broken, name: "broken" })
      const events = yield* collect(cache.events, 2)
      yield* cache.invalidate("sku-1")
      yield* cache.invalidate()
      const [one, other] = yield* events
      if (one?._tag !== "StoreError" || other?._tag !== "StoreError") return assert.fail("expected StoreError events")
      assert.strictEqual(one.key, "sku-1")
      assert.strictEqual(one.error.message, "Stale store delete failed for key 6:broken:sku-1")
      assert.strictEqual(other.key, "default")
      assert.strictEqual(other.error.message, "Stale store delete failed for key 6:broken:default")
      assert.strictEqual(cache.stats().storeErrors, 2)
    }))

  it.effect("makeMemoryStore: a bounded LRU store that policies can share under their own names", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeMemoryStore({ maxEntries: 2 })
      const prices = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, store, name: "prices" })
      const users = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, store, name: "users" })
      assert.strictEqual(Policy.describe(prices).options.store, "custom")
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
      const store = yield* Fallback.makeMemoryStore({ maxEntries: 1 })
      const entry = { value: "v", storedAt: 0, expiresAt: 1_000 }
      yield* store.set("k", entry, 0)
      assert.deepStrictEqual(Option.getOrUndefined(yield* store.get("k", 999)), entry)
      assert.isTrue(Option.isNone(yield* store.get("k", 1_000)))
      assert.isTrue(Option.isNone(yield* store.get("k", 999)))
    }))

  it.effect("a custom store receives prefixed keys and the caller's clock", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const memory = unsafeMakeMemoryStore(10)
      const store: Fallback.StaleStore = {
        get: (key, now) => Effect.zipRight(Effect.sync(() => log.push(`get ${key} @${now}`)), memory.get(key, now)),
        set: (key, entry) =>
          Effect.zipRight(Effect.sync(() => log.push(`set ${key} ${entry.storedAt}..${entry.expiresAt}`)), memory.set(key, entry)),
        delete: memory.delete
      }
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, store, name: "users" })
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
        const store = unsafeMakeMemoryStore(maxEntries)
        let now = 0
        for (const o of ops) {
          if (o.kind === "tick") now += o.millis
          else if (o.kind === "set") {
            yield* store.set(String(o.key), { value: o.key, storedAt: now, expiresAt: now + o.ttl })
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
    { fastCheck: { numRuns: 100, seed: 20240601 } }
  )
})
