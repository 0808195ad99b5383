/**
 * The Redis CircuitBreakerStore on its own (real redis-server):
 * - differential: random operations (admit, record with any outcome, slow
 *   flag and retryAfter, clock moves, isolate, reset) on the Redis store and
 *   on the in-memory store give the same answers — every trip policy, slow
 *   calls, growing breaks, probe leases and fencing included;
 * - every operation is one EVALSHA (atomic), idle keys expire by TTL, the
 *   key prefix isolates applications, time comes from Redis TIME by default,
 *   options are validated, the Config layer works.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, FastCheck as fc, Layer } from "effect"
import { CircuitBreaker } from "effect-resilience"
import { CircuitBreakerStore, Redis } from "effect-resilience/redis"
import type { Redis as IORedis } from "ioredis"
import { hasRedis } from "../utils/redis-server.js"
import { eventually, realSleep, sharedResource } from "./fixtures/breaker-redis.js"
import { numRuns } from "../utils/props.js"

type Store = CircuitBreaker.CircuitBreakerStore
type Config = CircuitBreaker.CircuitBreakerStore.Config
type Ticket = CircuitBreaker.CircuitBreakerStore.Ticket

const PREFIX = "cbstore:"

// ---------------------------------------------------------------------------
// Differential test: Redis store vs memory store

const tripArb: fc.Arbitrary<Config["trip"]> = fc.oneof(
  fc.integer({ min: 1, max: 4 }).map((failures): Config["trip"] => ({ _tag: "Consecutive", failures })),
  fc.integer({ min: 1, max: 6 }).chain((size) =>
    fc.record({
      threshold: fc.constantFrom(0.3, 0.5, 0.7, 1),
      minimumCalls: fc.integer({ min: 1, max: size })
    }).map(({ minimumCalls, threshold }): Config["trip"] => ({ _tag: "Rate", threshold, size, minimumCalls }))
  ),
  fc.record({
    threshold: fc.constantFrom(0.3, 0.5, 1),
    window: fc.constantFrom(1000, 3000, 10_000),
    buckets: fc.integer({ min: 1, max: 5 }),
    minimumCalls: fc.integer({ min: 1, max: 4 })
  }).map((t): Config["trip"] => ({ _tag: "TimeRate", ...t }))
)

const configArb: fc.Arbitrary<Config> = fc.record({
  trip: tripArb,
  slowCallThreshold: fc.constantFrom(undefined, 0.5, 1),
  growing: fc.boolean(),
  resetAfter: fc.constantFrom(0, 3000, 30_000),
  probes: fc.integer({ min: 1, max: 3 }),
  successThreshold: fc.integer({ min: 1, max: 2 }),
  probeTimeout: fc.constantFrom(1500, 60_000),
  // half-open sampling (issue 16 §5)
  probeFailureRateThreshold: fc.constantFrom(undefined, undefined, 0.5, 1)
}).map((c): Config => ({
  trip: c.trip,
  slowCallThreshold: c.slowCallThreshold,
  openDurations: c.growing ? [1000, 2000, 4000] : [2000],
  maxOpenDuration: c.growing ? 4000 : 2000,
  openDurationResetAfter: c.resetAfter,
  probes: c.probes,
  successThreshold: c.successThreshold,
  probeTimeout: c.probeTimeout,
  probeFailureRateThreshold: c.probeFailureRateThreshold
}))

type Outcome = "success" | "failure" | "ignored"

interface Result {
  readonly outcome: Outcome
  readonly slow: boolean
  readonly retryAfter: number | undefined
}

type Op =
  | { readonly _tag: "Admit"; readonly key: number }
  | { readonly _tag: "Call"; readonly key: number; readonly result: Draw }
  | { readonly _tag: "Record"; readonly index: number; readonly result: Draw }
  | { readonly _tag: "Advance"; readonly millis: number }
  | { readonly _tag: "Isolate"; readonly key: number }
  | { readonly _tag: "Reset"; readonly key: number }

/** A call's result, drawn as numbers and decided with the run's failure and slow-call rates. */
interface Draw {
  readonly u: number
  readonly v: number
  readonly retryAfter: number | undefined
}

const resultArb: fc.Arbitrary<Draw> = fc.record({
  u: fc.noBias(fc.integer({ min: 0, max: 99 })).map((n) => n / 100),
  v: fc.noBias(fc.integer({ min: 0, max: 99 })).map((n) => n / 100),
  retryAfter: fc.constantFrom(undefined, undefined, 500, 50_000)
})

const rateArb = fc.record({ failures: fc.constantFrom(0.1, 0.3, 0.6), slow: fc.constantFrom(0, 0.2, 0.5) })

const resultOf = (d: Draw, rates: { readonly failures: number; readonly slow: number }): Result => {
  const outcome: Outcome = d.u < rates.failures ? "failure" : d.u < rates.failures + 0.1 ? "ignored" : "success"
  return { outcome, slow: d.v < rates.slow, retryAfter: outcome === "failure" ? d.retryAfter : undefined }
}

const keyArb = fc.constantFrom(0, 0, 0, 1)

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: keyArb.map((key): Op => ({ _tag: "Admit", key })) },
  { weight: 8, arbitrary: fc.record({ key: keyArb, result: resultArb }).map((c): Op => ({ _tag: "Call", ...c })) },
  { weight: 5, arbitrary: fc.record({ index: fc.nat(10), result: resultArb }).map((r): Op => ({ _tag: "Record", ...r })) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(1, 100, 999, 1000, 1500, 2000, 5000, 30_000).map((millis): Op => ({ _tag: "Advance", millis }))
  },
  { weight: 1, arbitrary: keyArb.map((key): Op => ({ _tag: "Isolate", key })) },
  { weight: 1, arbitrary: keyArb.map((key): Op => ({ _tag: "Reset", key })) }
)

const normTransitions = (ts: ReadonlyArray<CircuitBreaker.Transition>) =>
  ts.map((t) => `${t.key}:${t.from}->${t.to}@${t.at}(${t.reason})`)

const normAdmission = (a: CircuitBreaker.CircuitBreakerStore.Admission) =>
  a._tag === "Admitted"
    ? { tag: a._tag, probe: a.lease !== 0, transitions: normTransitions(a.transitions) }
    : { tag: a._tag, state: a.state, retryAfter: a.retryAfter, transitions: normTransitions(a.transitions) }

const normSnapshot = (s: CircuitBreaker.CircuitBreakerStore.Snapshot) => ({
  ...s,
  state: s.state._tag === "Open" ? { ...s.state, retryAfter: Duration.toMillis(s.state.retryAfter) } : s.state
})

let namespaces = 0

describe.skipIf(!hasRedis)("Redis CircuitBreakerStore (real redis-server)", () => {
  const env = sharedResource((server) =>
    Effect.gen(function*() {
      const context = yield* Layer.build(Redis.layer({ url: server.url, prefix: PREFIX }))
      const store = yield* CircuitBreakerStore.make({ clock: "caller" }).pipe(Effect.provide(context))
      const redis = yield* Effect.provide(Redis.Redis, context)
      return { store, client: redis.client as IORedis }
    })
  )

  /** Runs `ops` on the Redis store and on a memory store, comparing every answer and the snapshots. */
  const compareStores = (config: Config, rates: { readonly failures: number; readonly slow: number }, ops: ReadonlyArray<Op>) =>
    Effect.gen(function*() {
      const redisStore = env.get().store
      const memoryStore: Store = yield* CircuitBreaker.makeStoreMemory()
      const namespace = `diff-${++namespaces}`
      let now = 1_000_000
      const pending: Array<{ readonly key: string; readonly redis: Ticket; readonly memory: Ticket }> = []
      const both = <A>(f: (store: Store) => Effect.Effect<A, unknown>) =>
        Effect.all([f(redisStore), f(memoryStore)])
      const compareSnapshots = (key: string) =>
        Effect.gen(function*() {
          const [r, m] = yield* both((s) => s.snapshot(namespace, key, config, now))
          assert.deepStrictEqual(normSnapshot(r), normSnapshot(m), `snapshot of ${key} at ${now}`)
        })
      const admit = (key: string) =>
        Effect.gen(function*() {
          const [r, m] = yield* both((s) => s.admit(namespace, key, config, now))
          assert.deepStrictEqual(normAdmission(r), normAdmission(m), `admission at ${now}`)
          yield* compareSnapshots(key)
          if (r._tag !== "Admitted" || m._tag !== "Admitted") return undefined
          return { key, redis: r, memory: m } as const
        })
      const record = (p: (typeof pending)[number], result: Result) =>
        Effect.gen(function*() {
          const r = yield* redisStore.record(namespace, p.key, config, p.redis, result, now)
          const m = yield* memoryStore.record(namespace, p.key, config, p.memory, result, now)
          assert.deepStrictEqual(
            { fenced: r.fenced, transitions: normTransitions(r.transitions) },
            { fenced: m.fenced, transitions: normTransitions(m.transitions) },
            `record ${result.outcome} at ${now}`
          )
          yield* compareSnapshots(p.key)
        })
      for (const op of ops) {
        switch (op._tag) {
          case "Admit": {
            const p = yield* admit(`k${op.key}`)
            if (p !== undefined) pending.push(p)
            break
          }
          case "Call": {
            const p = yield* admit(`k${op.key}`)
            if (p !== undefined) yield* record(p, resultOf(op.result, rates))
            break
          }
          case "Record": {
            if (pending.length === 0) break
            const [p] = pending.splice(op.index % pending.length, 1)
            yield* record(p!, resultOf(op.result, rates))
            break
          }
          case "Advance":
            now += op.millis
            yield* compareSnapshots("k0")
            break
          case "Isolate":
          case "Reset": {
            const key = `k${op.key}`
            const [r, m] = yield* both((s) =>
              op._tag === "Isolate" ? s.isolate(namespace, key, config, now) : s.reset(namespace, key, config, now)
            )
            assert.deepStrictEqual(normTransitions(r), normTransitions(m), `${op._tag} at ${now}`)
            yield* compareSnapshots(key)
            break
          }
        }
      }
    })

  it.effect.prop(
    "gives the same answers as the in-memory store on random operations (every trip policy, slow calls, probes, fencing)",
    [configArb, rateArb, fc.array(opArb, { minLength: 10, maxLength: 80, size: "max" })],
    ([config, rates, ops]) => compareStores(config, rates, ops),
    { fastCheck: { numRuns: numRuns(120) } }
  )

  it.effect("agrees with the in-memory store on the boundaries: a lease expiring now, a closed period of exactly openDurationResetAfter", () =>
    Effect.gen(function*() {
      const base: Config = {
        trip: { _tag: "Consecutive", failures: 1 },
        slowCallThreshold: undefined,
        openDurations: [1000, 2000, 4000],
        maxOpenDuration: 4000,
        openDurationResetAfter: 3000,
        probes: 1,
        successThreshold: 1,
        probeTimeout: 1500
      }
      const rates = { failures: 0.5, slow: 0 }
      const failure: Draw = { u: 0, v: 1, retryAfter: undefined }
      const success: Draw = { u: 0.99, v: 1, retryAfter: undefined }
      // the probe lease taken at t+1000 expires at t+2500: a caller at exactly t+2500 gets the slot
      yield* compareStores(base, rates, [
        { _tag: "Call", key: 0, result: failure },
        { _tag: "Advance", millis: 1000 },
        { _tag: "Admit", key: 0 },
        { _tag: "Advance", millis: 1500 },
        { _tag: "Admit", key: 0 },
        { _tag: "Record", index: 1, result: success }
      ])
      // closed for exactly openDurationResetAfter: the next break is the first one again
      yield* compareStores(base, rates, [
        { _tag: "Call", key: 0, result: failure },
        { _tag: "Advance", millis: 1000 },
        { _tag: "Call", key: 0, result: success },
        { _tag: "Advance", millis: 3000 },
        { _tag: "Call", key: 0, result: failure }
      ])
    }))

  it.effect("every operation is one EVALSHA (atomic); the client sends nothing else", () =>
    Effect.gen(function*() {
      const { client, store } = env.get()
      const monitor = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const m = await client.monitor()
          const commands: Array<string> = []
          m.on("monitor", (_time: string, args: ReadonlyArray<string>, source: string) => {
            if (source !== "lua") commands.push(String(args[0]).toLowerCase())
          })
          return { m, commands }
        }),
        ({ m }) => Effect.sync(() => m.disconnect())
      )
      const config: Config = {
        trip: { _tag: "TimeRate", threshold: 0.5, window: 10_000, buckets: 10, minimumCalls: 2 },
        slowCallThreshold: 0.5,
        openDurations: [1000],
        maxOpenDuration: 1000,
        openDurationResetAfter: 1000,
        probes: 1,
        successThreshold: 1,
        probeTimeout: 1000
      }
      const ns = "evals"
      let ops = 0
      const count = <A, E>(e: Effect.Effect<A, E>) => Effect.tap(e, () => void ops++)
      const a = yield* count(store.admit(ns, "k", config, 0))
      assert.strictEqual(a._tag, "Admitted")
      yield* count(store.record(ns, "k", config, a as Ticket, { outcome: "failure", slow: true, retryAfter: undefined }, 1))
      const b = yield* count(store.admit(ns, "k", config, 2))
      const rec = yield* count(store.record(ns, "k", config, b as Ticket, { outcome: "failure", slow: false, retryAfter: undefined }, 3))
      assert.deepStrictEqual(rec.transitions.map((t) => t.to), ["Open"])
      yield* count(store.snapshot(ns, "k", config, 4))
      yield* count(store.isolate(ns, "k", config, 5))
      yield* count(store.reset(ns, "k", config, 6))
      yield* Effect.promise(() => client.ping())
      yield* eventually(Effect.sync(() => monitor.commands.includes("ping")))
      const sent = monitor.commands.filter((c) => c !== "ping")
      assert.deepStrictEqual(sent, Array(ops).fill("evalsha"))
    }).pipe(Effect.scoped))

  it.live("idle closed circuits expire by TTL; an open circuit never does (issue 16 §1), an isolated one lives until reset", () =>
    Effect.gen(function*() {
      const { client } = env.get()
      const context = yield* Layer.build(
        CircuitBreakerStore.layer({ idleTimeToLive: "150 millis" }).pipe(
          Layer.provide(Redis.layer({ url: env.server().url, prefix: "ttl:" }))
        )
      )
      const breaker = yield* CircuitBreaker.make({
        name: "ttl",
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: "1 minute"
      }).pipe(Effect.provide(context))
      const keysOf = (key: string) => Effect.promise(() => client.keys(`ttl:cb:{3:ttl:${key}}*`))
      const pttl = (key: string) => Effect.promise(() => client.pttl(`ttl:cb:{3:ttl:${key}}`))
      // a closed circuit: every key carries the idle TTL, and goes away when idle
      yield* breaker.execute(Effect.succeed(1), { key: "idle" })
      assert.isAbove((yield* keysOf("idle")).length, 0)
      const ttl = yield* pttl("idle")
      assert.isTrue(ttl > 0 && ttl <= 150, `pttl ${ttl}`)
      yield* eventually(Effect.map(keysOf("idle"), (ks) => ks.length === 0))
      // an open circuit is kept past its break, until a call observes it: its state decides the next call
      yield* Effect.exit(breaker.execute(Effect.fail("boom"), { key: "open" }))
      assert.strictEqual(yield* pttl("open"), -1)
      // an isolated circuit never expires
      yield* breaker.isolate("isolated")
      assert.strictEqual(yield* pttl("isolated"), -1)
      yield* realSleep(200)
      assert.strictEqual((yield* breaker.state("isolated"))._tag, "Isolated")
      yield* breaker.reset("isolated")
      const after = yield* pttl("isolated")
      assert.isTrue(after > 0 && after <= 150, `pttl ${after}`)
    }).pipe(Effect.scoped))

  it.live("a ticket from before the circuit expired is fenced by the circuit made again (generations never repeat)", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        CircuitBreakerStore.layer({ idleTimeToLive: "50 millis" }).pipe(
          Layer.provide(Redis.layer({ url: env.server().url, prefix: "regen:" }))
        )
      )
      const store = yield* Effect.provide(CircuitBreaker.CircuitBreakerStore, context)
      const config: Config = {
        trip: { _tag: "Consecutive", failures: 1 },
        slowCallThreshold: undefined,
        openDurations: [60_000],
        maxOpenDuration: 60_000,
        openDurationResetAfter: 60_000,
        probes: 1,
        successThreshold: 1,
        probeTimeout: 60_000
      }
      const old = yield* store.admit("regen", "k", config, 0)
      const { client } = env.get()
      yield* eventually(Effect.map(Effect.promise(() => client.exists("regen:cb:{5:regen:k}")), (n) => n === 0))
      const fresh = yield* store.admit("regen", "k", config, 0)
      assert.isTrue(old._tag === "Admitted" && fresh._tag === "Admitted" && fresh.generation > old.generation)
      const recorded = yield* store.record("regen", "k", config, old as Ticket, { outcome: "failure", slow: false, retryAfter: undefined }, 0)
      assert.isTrue(recorded.fenced)
      assert.strictEqual((yield* store.snapshot("regen", "k", config, 0)).state._tag, "Closed")
    }).pipe(Effect.scoped))

  it.live("modes after a loss: setMode(after) writes a generation above what breakers applied; restoreMode writes a setting back as it was, never over a newer one", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        CircuitBreakerStore.layer().pipe(Layer.provide(Redis.layer({ url: env.server().url, prefix: "modes:" })))
      )
      const store = yield* Effect.provide(CircuitBreaker.CircuitBreakerStore, context)
      const { client } = env.get()
      const lose = Effect.promise(() => client.del("modes:cb:{2:ns}:m"))
      const disabled = yield* store.setMode!("ns", "Disabled", 0)
      assert.isTrue(disabled.generation > 1_600_000_000_000_000, "at least Redis TIME in microseconds")
      // the same mode again: kept as it is
      assert.deepStrictEqual(yield* store.setMode!("ns", "Disabled", 0, disabled.generation), disabled)
      // lost: Redis says Enforcing (never set); asked for by a breaker that applied `disabled`, it is written anew, above
      yield* lose
      assert.deepStrictEqual(yield* store.getMode!("ns"), { _tag: "ModeSetting", mode: "Enforcing", since: 0, generation: 0 })
      const ahead = disabled.generation + 10_000_000_000 // a generation Redis TIME is far below (its clock stepped back)
      const enforcing = yield* store.setMode!("ns", "Enforcing", 0, ahead)
      assert.deepStrictEqual([enforcing.mode, enforcing.generation], ["Enforcing", ahead + 1])
      assert.deepStrictEqual(yield* store.getMode!("ns"), enforcing)
      // restored as it was when the key is older
      yield* lose
      const held = { _tag: "ModeSetting", mode: "MetricsOnly", since: 1234.5, generation: disabled.generation } as const
      assert.deepStrictEqual(yield* store.restoreMode!("ns", held), held)
      assert.deepStrictEqual(yield* store.getMode!("ns"), held)
      // never over a setting as new or newer: a setMode made meanwhile wins
      const newer = yield* store.setMode!("ns", "Disabled", 0, held.generation)
      assert.deepStrictEqual(yield* store.restoreMode!("ns", held), newer)
      assert.deepStrictEqual(yield* store.restoreMode!("ns", { ...held, generation: newer.generation }), newer)
      assert.deepStrictEqual(yield* store.getMode!("ns"), newer)
    }).pipe(Effect.scoped))

  it.effect("the key prefix isolates applications; breaker names isolate circuits", () =>
    Effect.gen(function*() {
      const url = env.server().url
      const make = (prefix: string, name: string) =>
        Effect.gen(function*() {
          const context = yield* Layer.build(
            CircuitBreakerStore.layer({ clock: "caller" }).pipe(Layer.provide(Redis.layer({ url, prefix })))
          )
          return yield* CircuitBreaker.make({ name, tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" }).pipe(
            Effect.provide(context)
          )
        })
      const appA = yield* make("app-a:", "shared-name")
      const appB = yield* make("app-b:", "shared-name")
      const appAOther = yield* make("app-a:", "other-name")
      const appAAgain = yield* make("app-a:", "shared-name")
      yield* Effect.exit(appA(Effect.fail("boom")))
      assert.strictEqual((yield* appA.state())._tag, "Open")
      assert.strictEqual((yield* appAAgain.state())._tag, "Open") // same prefix, same name: shared
      assert.strictEqual((yield* appB.state())._tag, "Closed") // another prefix
      assert.strictEqual((yield* appAOther.state())._tag, "Closed") // another name
      assert.strictEqual((yield* appA.metrics()).store, "redis")
    }).pipe(Effect.scoped))

  it.effect("with clock \"redis\" (the default) times come from Redis TIME, not the caller's Clock", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        CircuitBreakerStore.layer().pipe(Layer.provide(Redis.layer({ url: env.server().url, prefix: "time:" })))
      )
      const breaker = yield* CircuitBreaker.make({ name: "time", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" }).pipe(
        Effect.provide(context)
      )
      // TestClock reads 0; Redis reads the epoch
      yield* Effect.exit(breaker(Effect.fail("boom")))
      const state = yield* breaker.state()
      assert.strictEqual(state._tag, "Open")
      assert.isTrue(state._tag === "Open" && state.since > 1_600_000_000_000 && state.until - state.since === 60_000)
      const error = yield* Effect.flip(breaker(Effect.succeed(1)))
      assert.isTrue(error.retryAfter !== undefined && Duration.toMillis(error.retryAfter) <= 60_000)
      assert.isTrue((yield* breaker.metrics()).transitions.every((t) => t.at > 1_600_000_000_000))
    }).pipe(Effect.scoped))

  it.effect("invalid options fail with InvalidOptionsError naming the option", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(Redis.layer({ url: env.server().url }))
      const clock = yield* Effect.flip(CircuitBreakerStore.make({ clock: "wall" as any }).pipe(Effect.provide(context)))
      assert.strictEqual(clock._tag, "InvalidOptionsError")
      assert.include(clock.message, "clock")
      const ttl = yield* Effect.flip(CircuitBreakerStore.make({ idleTimeToLive: "-1 second" }).pipe(Effect.provide(context)))
      assert.include(ttl.message, "idleTimeToLive")
    }).pipe(Effect.scoped))

  it.effect("layerConfig reads its options from Config", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        CircuitBreakerStore.layerConfig().pipe(
          Layer.provide(Redis.layer({ url: env.server().url, prefix: "config:" })),
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([
            ["CIRCUIT_BREAKER_STORE_CLOCK", "caller"],
            ["CIRCUIT_BREAKER_STORE_IDLE_TTL", "10 minutes"]
          ]))))
        )
      )
      const breaker = yield* CircuitBreaker.make({ name: "config", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 second" }).pipe(
        Effect.provide(context)
      )
      yield* Effect.exit(breaker(Effect.fail("boom")))
      const state = yield* breaker.state()
      // clock "caller": TestClock's 0, not Redis TIME
      assert.isTrue(state._tag === "Open" && state.since === 0)
      const { client } = env.get()
      // the breaker's own circuit: its namespace alone (no key), never a keyed circuit's
      // open: kept (no TTL); closed again, it carries the idle TTL read from Config
      assert.strictEqual(yield* Effect.promise(() => client.pttl("config:cb:{6:config}")), -1)
      yield* breaker.reset()
      const ttl = yield* Effect.promise(() => client.pttl("config:cb:{6:config}"))
      assert.isAbove(ttl, 60_000)
      const bad = yield* Effect.exit(Layer.build(
        CircuitBreakerStore.layerConfig().pipe(
          Layer.provide(Redis.layer({ url: env.server().url })),
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["CIRCUIT_BREAKER_STORE_CLOCK", "wall"]]))))
        )
      ))
      assert.isTrue(Exit.isFailure(bad))
    }).pipe(Effect.scoped))
})
