/**
 * Issue 17 §1–2, from DESIGN.md's "No collisions" and "Bounded cost for any
 * input": keys are strings, well-formed, and at most `maxKeyLength` long, or
 * the keyed API fails with `InvalidKeyError` before it admits, charges,
 * stores or runs anything; a policy's name and a key are namespaced
 * unambiguously (`orders` + `refund:42` is not `orders:refund` + `42`, and a
 * keyed call is never the call without a key). The Redis half is in
 * test/redis/Keys.test.ts.
 *
 * One table: every keyed API × { undefined, null, a number, an object, a
 * lone surrogate, a 1,025-character key, a 16,000-character key }. Where the
 * key is optional (a breaker's `state`/`isolate`/`reset`/`metrics`, a
 * bulkhead's `execute`, stale-if-error's `serve`/`invalidate`), `undefined`
 * means "no key" (the own circuit, the default partition, the callable
 * form's key) as documented: that row checks it is served as such.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Duration, Effect, Exit, Layer, Option, Ref, Stream } from "effect"
import {
  Bulkhead,
  CircuitBreaker,
  Errors,
  Fallback,
  Idempotency,
  Policy,
  RateLimiter,
  Retry
} from "effect-resilience"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { ResilientHttpClient } from "effect-resilience/http"
import * as fc from "fast-check"
import { namespaced } from "../../src/internal/keys.js"
import { LinkedMap } from "../../src/internal/linkedMap.js"
import { numRuns } from "../utils/props.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

// --- the bad keys ---------------------------------------------------------------------------

interface BadKey {
  readonly label: string
  readonly key: unknown
  readonly reason: Errors.InvalidKeyReason
  readonly preview: string
}

const long1025 = "k".repeat(1025)
const long16000 = "z".repeat(16_000)

const BAD_KEYS: ReadonlyArray<BadKey> = [
  { label: "undefined", key: undefined, reason: "NotAString", preview: "undefined" },
  { label: "null", key: null, reason: "NotAString", preview: "null" },
  { label: "a number", key: 42, reason: "NotAString", preview: "number" },
  { label: "an object", key: { id: 1 }, reason: "NotAString", preview: "object" },
  { label: "a lone surrogate", key: "a\uD800", reason: "NotWellFormed", preview: "a\uFFFD" },
  { label: "1,025 characters", key: long1025, reason: "TooLong", preview: "k".repeat(40) },
  { label: "16,000 characters", key: long16000, reason: "TooLong", preview: "z".repeat(40) }
]

// --- the keyed APIs -------------------------------------------------------------------------

/** What one call with `key` did: its exit, how often the work ran, and what the policy and its store hold after it. */
interface Outcome {
  readonly exit: Exit.Exit<unknown, unknown>
  readonly ran: number
  /** Must equal `pristine`: nothing admitted, charged, counted or stored. */
  readonly footprint: unknown
  readonly pristine: unknown
}

interface Api {
  readonly name: string
  readonly kind: string
  /** The key is optional: `undefined` is the unkeyed form (documented), not a refused key. */
  readonly optional?: boolean
  readonly call: (key: unknown) => Effect.Effect<Outcome, unknown>
}

/** Counts the runs of the work. */
const counted = Effect.map(Ref.make(0), (runs) => ({
  work: Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.succeed("ran")),
  failing: Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.fail(new Unavailable())),
  runs: Ref.get(runs)
}))

const breakerApi = (
  name: string,
  use: (breaker: CircuitBreaker.CircuitBreaker, key: any, work: Effect.Effect<string>) => Effect.Effect<unknown, unknown>,
  optional = false
): Api => ({
  name: `CircuitBreaker.${name}`,
  kind: "CircuitBreaker",
  optional,
  call: (key) =>
    Effect.gen(function*() {
      const store = yield* CircuitBreaker.makeStoreMemory()
      const breaker = yield* CircuitBreaker.make({ name: "keys", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
        .pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))
      const { runs, work } = yield* counted
      const footprint = Effect.map(breaker.metrics(), (m) => ({
        circuits: (store as unknown as { size: () => number }).size(),
        totals: m.totals,
        state: m.state._tag
      }))
      const pristine = yield* footprint
      const exit = yield* Effect.exit(use(breaker, key, work))
      return { exit, ran: yield* runs, footprint: yield* footprint, pristine }
    }).pipe(Effect.scoped)
})

const bulkheadApi: Api = {
  name: "Bulkhead.execute",
  kind: "Bulkhead",
  optional: true,
  call: (key) =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, name: "keys", metricsInterval: Duration.infinity })
      const { runs, work } = yield* counted
      // every Permitted/Queued/Rejected event, so that no permit is taken silently
      const events = yield* Ref.make(0)
      yield* bulkhead.events.pipe(Stream.runForEach(() => Ref.update(events, (n) => n + 1)), Effect.forkScoped)
      yield* Effect.yieldNow()
      const footprint = Effect.map(Ref.get(events), (n) => ({ totals: bulkhead.unsafeTotals(), events: n }))
      const pristine = yield* footprint
      const exit = yield* Effect.exit(bulkhead.execute(work, { key } as { key: string }))
      yield* Effect.yieldNow()
      return { exit, ran: yield* runs, footprint: yield* footprint, pristine }
    }).pipe(Effect.scoped)
}

const rateLimiterApi: Api = {
  name: "RateLimiter.execute",
  kind: "RateLimiter",
  call: (key) =>
    Effect.gen(function*() {
      const store = yield* RateLimiter.makeStoreMemory()
      const limiter = yield* RateLimiter.make({ limit: 1, window: "1 minute", name: "keys" }).pipe(
        Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
      )
      const { runs, work } = yield* counted
      const footprint = Effect.sync(() => ({ store: store.unsafeStats(), limiter: limiter.unsafeStats() }))
      const pristine = yield* footprint
      const exit = yield* Effect.exit(limiter.execute(work, { key } as { key: string }))
      return { exit, ran: yield* runs, footprint: yield* footprint, pristine }
    }).pipe(Effect.scoped)
}

const idempotencyApi = (
  name: string,
  use: (idem: Idempotency.Idempotency, key: any, work: Effect.Effect<string>) => Effect.Effect<unknown, unknown>
): Api => ({
  name: `Idempotency.${name}`,
  kind: "Idempotency",
  call: (key) =>
    Effect.gen(function*() {
      const store = yield* Idempotency.makeStoreMemory()
      const idem = yield* Idempotency.make({ ttl: "1 hour", name: "keys" }).pipe(
        Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
      )
      const { runs, work } = yield* counted
      const footprint = Effect.sync(() => ({ store: store.unsafeStats(), policy: idem.unsafeStats() }))
      const pristine = yield* footprint
      const exit = yield* Effect.exit(use(idem, key, work))
      return { exit, ran: yield* runs, footprint: yield* footprint, pristine }
    }).pipe(Effect.scoped)
})

const staleApi = (
  name: string,
  use: (cache: Fallback.StaleIfError, key: any, work: Effect.Effect<string>) => Effect.Effect<unknown, unknown>,
  optional = false
): Api => ({
  name: `StaleIfError.${name}`,
  kind: "StaleIfError",
  optional,
  call: (key) =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const memory = yield* Fallback.makeStoreMemory({ maxEntries: 10 })
      const store: Fallback.StaleStore = {
        get: (k, now) => Effect.zipRight(Effect.sync(() => log.push(`get ${k}`)), memory.get(k, now)),
        set: (k, entry, now) => Effect.zipRight(Effect.sync(() => log.push(`set ${k}`)), memory.set(k, entry, now)),
        delete: (k) => Effect.zipRight(Effect.sync(() => log.push(`delete ${k}`)), memory.delete(k))
      }
      const cache = yield* Fallback.staleIfError({ ttl: "1 hour", maxEntries: 10, name: "keys" }).pipe(
        Effect.provideService(Fallback.StaleStore, store)
      )
      const { runs, work } = yield* counted
      const footprint = Effect.sync(() => ({ store: [...log], stats: cache.unsafeStats() }))
      const pristine = yield* footprint
      const exit = yield* Effect.exit(use(cache, key, work))
      return { exit, ran: yield* runs, footprint: yield* footprint, pristine }
    })
})

const APIS: ReadonlyArray<Api> = [
  breakerApi("execute", (b, key, work) => b.execute(work, { key })),
  breakerApi("execute (data-last)", (b, key, work) => work.pipe(b.execute({ key }))),
  breakerApi("state", (b, key) => b.state(key), true),
  breakerApi("isolate", (b, key) => b.isolate(key), true),
  breakerApi("reset", (b, key) => b.reset(key), true),
  breakerApi("metrics", (b, key) => b.metrics(key), true),
  bulkheadApi,
  rateLimiterApi,
  idempotencyApi("run", (idem, key, work) => idem.run(key, work)),
  idempotencyApi("execute", (idem, key, work) => idem.execute(work, { key })),
  idempotencyApi("execute (data-last)", (idem, key, work) => work.pipe(idem.execute({ key }))),
  idempotencyApi("invalidate", (idem, key) => idem.invalidate(key)),
  staleApi("execute", (cache, key, work) => cache.execute(work, { key })),
  staleApi("serve", (cache, key, work) => cache.serve(work, { key }), true),
  staleApi("invalidate", (cache, key) => cache.invalidate(key), true)
]

// --- the table ------------------------------------------------------------------------------

describe("Keys (issue 17): every keyed API refuses what is not a key, before doing anything", () => {
  it.effect("every keyed API × every bad key: InvalidKeyError with the right reason; nothing admitted, charged, counted, stored or run", () =>
    Effect.gen(function*() {
      const wrong: Array<string> = []
      for (const api of APIS) {
        for (const bad of BAD_KEYS) {
          const row = `${api.name} × ${bad.label}`
          const outcome = yield* api.call(bad.key)
          if (bad.key === undefined && api.optional === true) {
            // documented: no key is the unkeyed form (own circuit, default partition, the callable form's key)
            if (Exit.isFailure(outcome.exit)) wrong.push(`${row}: expected the unkeyed form, got ${Cause.pretty(outcome.exit.cause)}`)
            continue
          }
          if (Exit.isSuccess(outcome.exit)) {
            wrong.push(`${row}: accepted`)
            continue
          }
          const error = Cause.failureOption(outcome.exit.cause)
          if (Option.isNone(error) || !Errors.isInvalidKeyError(error.value)) {
            wrong.push(`${row}: expected InvalidKeyError, got ${Cause.pretty(outcome.exit.cause)}`)
            continue
          }
          const e = error.value
          if (e.reason !== bad.reason) wrong.push(`${row}: reason ${e.reason}, expected ${bad.reason}`)
          if (e.preview !== bad.preview) wrong.push(`${row}: preview ${JSON.stringify(e.preview)}, expected ${JSON.stringify(bad.preview)}`)
          if (e.policy.kind !== api.kind || e.policy.name !== "keys") wrong.push(`${row}: policy ${JSON.stringify(e.policy)}`)
          if (e.maxKeyLength !== 1024) wrong.push(`${row}: maxKeyLength ${e.maxKeyLength}`)
          if (Errors.isRejection(e) || !Errors.isResilienceError(e)) wrong.push(`${row}: must be a ResilienceError, not a rejection`)
          if (e.message.length > 300 || !e.message.includes(api.kind)) wrong.push(`${row}: message ${e.message.slice(0, 300)}`)
          if (outcome.ran !== 0) wrong.push(`${row}: the work ran ${outcome.ran}×`)
          try {
            assert.deepStrictEqual(outcome.footprint, outcome.pristine)
          } catch {
            wrong.push(`${row}: left a trace: ${JSON.stringify(outcome.footprint)} vs ${JSON.stringify(outcome.pristine)}`)
          }
        }
      }
      assert.deepStrictEqual(wrong, [])
    }))

  it.effect("the limits: maxKeyLength code units are accepted, one more is refused; a valid key still works after a refused one", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute", maxKeyLength: 8 })
      assert.strictEqual(yield* breaker.execute(Effect.succeed(1), { key: "12345678" }), 1)
      const refused = yield* Effect.flip(breaker.execute(Effect.succeed(1), { key: "123456789" }))
      assert.isTrue(Errors.isInvalidKeyError(refused) && refused.reason === "TooLong" && refused.maxKeyLength === 8)
      // the default is 1,024: exactly that many is a key; a surrogate pair is well formed
      const idem = yield* Idempotency.make({ ttl: "1 minute" })
      assert.strictEqual(yield* idem.run("k".repeat(1024), Effect.succeed("ok")), "ok")
      assert.strictEqual(yield* idem.run("\uD83D\uDE00", Effect.succeed("emoji")), "emoji")
      assert.strictEqual(yield* idem.run("", Effect.succeed("empty")), "empty")
      // the largest allowed bound
      const limiter = yield* RateLimiter.make({ limit: 10, window: "1 second", maxKeyLength: 16_383 })
      assert.strictEqual(yield* limiter.execute(Effect.succeed(2), { key: "q".repeat(16_383) }), 2)
    }).pipe(Effect.scoped))

  it.effect("maxKeyLength is validated: an integer in [1, 16,383], else InvalidOptionsError at construction", () =>
    Effect.gen(function*() {
      const makers: ReadonlyArray<readonly [string, (n: unknown) => Effect.Effect<unknown, unknown, any>]> = [
        ["CircuitBreaker.make", (n) => CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second", maxKeyLength: n as number })],
        ["Bulkhead.make", (n) => Bulkhead.make({ maxConcurrent: 1, maxKeyLength: n as number })],
        ["RateLimiter.make", (n) => RateLimiter.make({ limit: 1, window: "1 second", maxKeyLength: n as number })],
        ["Idempotency.make", (n) => Idempotency.make({ ttl: "1 second", maxKeyLength: n as number })],
        ["Fallback.staleIfError", (n) => Fallback.staleIfError({ ttl: "1 second", maxEntries: 1, key: "k", maxKeyLength: n as number })]
      ]
      for (const [module, make] of makers) {
        for (const bad of [0, -1, 1.5, 16_384, Infinity, NaN, "10"]) {
          const e = yield* Effect.flip(make(bad))
          assert.isTrue(
            e instanceof Errors.InvalidOptionsError && e.module === module && e.option === "maxKeyLength",
            `${module} maxKeyLength ${String(bad)}: ${String(e)}`
          )
        }
        for (const good of [1, 1024, 16_383]) yield* make(good)
      }
      // stale-if-error's own key is a key too (and the default, "default", must fit maxKeyLength)
      const e = yield* Effect.flip(Fallback.staleIfError({ ttl: "1 second", maxEntries: 1, key: "a\uDC00" }))
      assert.isTrue(e instanceof Errors.InvalidOptionsError && e.option === "key")
      const short = yield* Effect.flip(Fallback.staleIfError({ ttl: "1 second", maxEntries: 1, maxKeyLength: 3 }))
      assert.isTrue(short instanceof Errors.InvalidOptionsError && short.option === "key")
    }).pipe(Effect.scoped))

  it.effect("InvalidKeyError is the caller's bug: never retried, never counted by a breaker it passes through", () =>
    Effect.gen(function*() {
      const idem = yield* Idempotency.make({ ttl: "1 minute", name: "inner" })
      const attempts = yield* Ref.make(0)
      const refused = Effect.zipRight(Ref.update(attempts, (n) => n + 1), idem.run(undefined as unknown as string, Effect.succeed(1)))
      const retry = Retry.policy({ schedule: Retry.constant("10 millis"), times: 3 })
      const breaker = yield* CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" })
      const e = yield* Effect.flip(Policy.compose(breaker, retry)(refused))
      assert.isTrue(Errors.isInvalidKeyError(e))
      assert.strictEqual(yield* Ref.get(attempts), 1)
      const m = yield* breaker.metrics()
      assert.deepStrictEqual([m.state._tag, m.totals.failures, m.totals.ignored], ["Closed", 0, 1])
    }).pipe(Effect.scoped))
})

// --- collisions -----------------------------------------------------------------------------

describe("Keys (issue 17): names and keys never collide (memory stores)", () => {
  it.effect("Idempotency: policy orders + key refund:42 and policy orders:refund + key 42 are two executions in one store", () =>
    Effect.gen(function*() {
      const orders = yield* Idempotency.make({ ttl: "1 hour", name: "orders" })
      const refunds = yield* Idempotency.make({ ttl: "1 hour", name: "orders:refund" })
      assert.strictEqual(yield* orders.run("refund:42", Effect.succeed("orders' result")), "orders' result")
      // today's `${name}:${key}` made both "orders:refund:42": the second caller got the first one's result
      assert.strictEqual(yield* refunds.run("42", Effect.succeed("refunds' result")), "refunds' result")
      assert.deepStrictEqual([(yield* orders.stats()).executions, (yield* refunds.stats()).executions], [1, 1])
    }).pipe(Effect.scoped, Effect.provide(Idempotency.layerStoreMemory())))

  it.effect("StaleIfError: another policy's entry is never served as stale", () =>
    Effect.gen(function*() {
      const store = yield* Fallback.makeStoreMemory({ maxEntries: 100 })
      const withStore = Effect.provideService(Fallback.StaleStore, store)
      const orders = yield* Fallback.staleIfError({ ttl: "1 hour", maxEntries: 100, name: "orders" }).pipe(withStore)
      const refunds = yield* Fallback.staleIfError({ ttl: "1 hour", maxEntries: 100, name: "orders:refund" }).pipe(withStore)
      yield* orders.execute(Effect.succeed("an order"), { key: "refund:42" })
      const failing: Effect.Effect<string, Unavailable> = Effect.fail(new Unavailable())
      const served = yield* Effect.either(refunds.serve(failing, { key: "42" }))
      assert.isTrue(served._tag === "Left" && served.left._tag === "Unavailable", "served another policy's value")
    }))

  it.effect("RateLimiter: limits of different (name, key) pairs, keyed or not, are independent in one store", () =>
    Effect.gen(function*() {
      const orders = yield* RateLimiter.make({ limit: 1, window: "1 hour", name: "orders" })
      const refunds = yield* RateLimiter.make({ limit: 1, window: "1 hour", name: "orders:refund" })
      yield* orders.execute(Effect.void, { key: "refund:42" })
      yield* refunds.execute(Effect.void, { key: "42" }) // was "orders:refund:42" for both: rejected
      yield* orders.execute(Effect.void, { key: "refund" })
      yield* refunds(Effect.void) // the unkeyed limit was "orders:refund", as orders' key "refund"
      yield* orders(Effect.void)
    }).pipe(Effect.scoped, Effect.provide(RateLimiter.layerStoreMemory())))

  it.effect("CircuitBreaker: the own circuit is not the key \"default\"; names and keys are namespaced in one store", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "orders", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" })
      yield* Effect.exit(breaker.execute(Effect.fail("down"), { key: "default" }))
      assert.strictEqual((yield* breaker.state("default"))._tag, "Open")
      assert.strictEqual((yield* breaker.state())._tag, "Closed")
      assert.strictEqual(yield* breaker(Effect.succeed("own circuit")), "own circuit")
      const refunds = yield* CircuitBreaker.make({ name: "orders:refund", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 hour" })
      yield* Effect.exit(breaker.execute(Effect.fail("down"), { key: "refund:42" }))
      assert.strictEqual((yield* refunds.state("42"))._tag, "Closed")
    }).pipe(Effect.scoped, Effect.provide(CircuitBreaker.layerStoreMemory())))

  it.effect("HTTP client: per-origin state goes through the same keys; an origin past maxKeyLength is refused before any attempt", () =>
    Effect.gen(function*() {
      let attempts = 0
      const transport = HttpClient.make((request) =>
        Effect.sync(() => {
          attempts++
          return HttpClientResponse.fromWeb(request, new Response("ok"))
        })
      )
      const resilience = yield* ResilientHttpClient.makeTransform({ retry: false, timeout: false, attemptTimeout: false })
      const client = transport.pipe(resilience)
      const ok = yield* client.get("http://api.example.com/x")
      assert.strictEqual(ok.status, 200)
      // 1,136 characters of origin: the breaker and the bulkhead refuse it as a key
      const host = `${"a".repeat(50)}.`.repeat(22) + "example"
      const e: unknown = yield* Effect.flip(client.get(`http://${host}/x`))
      assert.isTrue(Errors.isInvalidKeyError(e) && e.reason === "TooLong", String(e))
      assert.strictEqual(attempts, 1)
      const m = yield* resilience.circuitBreaker!.metrics()
      assert.deepStrictEqual([m.totals.successes, m.totals.failures, m.totals.ignored], [1, 0, 0])
    }).pipe(Effect.scoped))

  it("namespaced is injective over (name, key | no key)", () => {
    // few characters, many colons and digits: as many near-collisions as possible
    const text = fc.string({ unit: fc.constantFrom(":", "1", "2", "0", "a"), maxLength: 8 })
    const pair = fc.record({ name: text, key: fc.option(text, { nil: undefined }) })
    fc.assert(
      fc.property(pair, pair, (a, b) => {
        const same = a.name === b.name && a.key === b.key
        return (namespaced(a.name, a.key) === namespaced(b.name, b.key)) === same
      }),
      { numRuns: numRuns(20_000) }
    )
    // and on any strings, not just these
    fc.assert(fc.property(fc.string(), fc.string(), fc.option(fc.string(), { nil: undefined }), (n1, n2, k) =>
      n1 === n2 || namespaced(n1, k) !== namespaced(n2, k)
    ))
  })
})

// --- the store structure behind the bounded stores --------------------------------------------

describe("LinkedMap (issue 17 §2: eviction in O(1), whatever was deleted before)", () => {
  it("behaves as a Map that keeps insertion order, with moveToBack and the oldest entry", () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant("set" as const), key: fc.integer({ min: 0, max: 7 }), value: fc.integer() }),
      fc.record({ op: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ op: fc.constant("moveToBack" as const), key: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ op: fc.constant("deleteFirst" as const) }),
      fc.record({ op: fc.constant("sweepOdd" as const) })
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const map = new LinkedMap<number, number>()
      let model: Array<[number, number]> = []
      for (const o of ops) {
        switch (o.op) {
          case "set": {
            map.set(o.key, o.value)
            const i = model.findIndex(([k]) => k === o.key)
            if (i >= 0) model[i] = [o.key, o.value]
            else model.push([o.key, o.value])
            break
          }
          case "delete":
            assert.strictEqual(map.delete(o.key), model.some(([k]) => k === o.key))
            model = model.filter(([k]) => k !== o.key)
            break
          case "moveToBack": {
            const i = model.findIndex(([k]) => k === o.key)
            assert.strictEqual(map.moveToBack(o.key), i >= 0)
            if (i >= 0) model.push(...model.splice(i, 1))
            break
          }
          case "deleteFirst":
            if (map.size > 0) map.delete(map.firstKey()!)
            model = model.slice(1)
            break
          case "sweepOdd":
            // deleting while iterating, the current entry included
            for (const [k, v] of map) if (v % 2 !== 0) map.delete(k)
            model = model.filter(([, v]) => v % 2 === 0)
            break
        }
        assert.deepStrictEqual([...map], model)
        assert.strictEqual(map.size, model.length)
        assert.strictEqual(map.firstKey(), model[0]?.[0])
        for (const [k, v] of model) assert.strictEqual(map.get(k), v)
      }
    }))
  })

  it.effect("a full rate limiter store admits new keys at a cost that does not grow with the keys it holds", () =>
    Effect.gen(function*() {
      // the eviction pattern that made a plain Map's oldest entry O(keys held): evict the front, insert at the back
      const time = (maxKeys: number) =>
        Effect.gen(function*() {
          const store = yield* RateLimiter.makeStoreMemory({ maxKeys, sweepInterval: Duration.infinity })
          const limiter = yield* RateLimiter.make({ limit: 10, window: "1 hour", name: "flood" }).pipe(
            Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, store))
          )
          const keys = Array.from({ length: maxKeys + 20_000 }, (_, i) => `k${i}`)
          for (let i = 0; i < maxKeys; i++) yield* limiter.execute(Effect.void, { key: keys[i]! })
          const start = performance.now()
          for (let i = maxKeys; i < keys.length; i++) yield* limiter.execute(Effect.void, { key: keys[i]! })
          const perCall = (performance.now() - start) / 20_000
          assert.strictEqual(store.unsafeStats().keys, maxKeys)
          return perCall
        }).pipe(Effect.scoped)
      const small = yield* time(1_000)
      const large = yield* time(100_000)
      // a plain Map: ~46 µs per eviction at 100,000 keys vs ~0.5 µs at 1,000; here both are the same
      assert.isBelow(large, Math.max(8 * small, 0.02), `per call: ${small.toFixed(4)} ms at 1,000 keys, ${large.toFixed(4)} ms at 100,000`)
    }), { timeout: 120_000 })

  it.effect("a refused key's error carries its length and a 40-character preview, never the whole key", () =>
    Effect.gen(function*() {
      const cache = yield* Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, name: "prices" })
      const e = yield* Effect.flip(cache.execute(Effect.succeed(1), { key: "p".repeat(5_000) }))
      if (!Errors.isInvalidKeyError(e)) return assert.fail(`expected InvalidKeyError, got ${String(e)}`)
      assert.strictEqual(e.length, 5_000)
      assert.strictEqual(e.preview.length, 40)
      assert.isBelow(e.message.length, 200)
      assert.strictEqual(e.message, `StaleIfError "prices" refused a key: longer than 1024 UTF-16 code units (5000), got "${"p".repeat(40)}"…`)
    }))
})
