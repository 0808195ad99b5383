/**
 * Issue 10, "bad input table": every constructor and every option, given an
 * invalid value, must be rejected at construction with a typed
 * `InvalidOptionsError` that names the option and the allowed range. Pure
 * constructors throw it; scoped/effectful constructors fail with it (and
 * never throw or die). Config-driven layers (`layerConfig`) read their
 * values from a `ConfigProvider.fromMap`, as they would from the environment.
 *
 * One table, one test: a row that is accepted (or rejected the wrong way)
 * is collected and the test reports every such row at once.
 *
 * Rows marked `// FINDING:` assert the *current* behaviour of an invalid
 * input that is accepted today (reported in docs/Reliability.md), so that
 * the suite stays green and the row flips the day src/ is fixed.
 */
import { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Config, ConfigProvider, Context, Effect, Exit, Layer, Option, Redacted, Schedule, Scope } from "effect"
import {
  AdaptiveLimit,
  Bulkhead,
  Chaos,
  CircuitBreaker,
  Errors,
  Fallback,
  Health,
  Hedge,
  Idempotency,
  Policy,
  RateLimiter,
  Retry,
  Testing,
  Timeout
} from "effect-resilience"
import { AdminRoutes, HealthRoutes, ResilientHttpClient, ResilientHttpServer } from "effect-resilience/http"
import {
  BulkheadStore,
  CircuitBreakerStore,
  IdempotencyStore,
  RateLimiterStore,
  Redis as RedisModule,
  StaleStore
} from "effect-resilience/redis"
import { hasRedis, startRedis } from "../utils/redis-server.js"

type Mode = "throw" | "fail"

interface Row {
  /** Constructor and the invalid value, for the report. */
  readonly name: string
  readonly mode: Mode
  /** The option the error must name. */
  readonly option: string
  /** A fragment of the allowed range the message must contain. */
  readonly range: string
  readonly run: () => unknown
  /** The constructor the error must name, when it is not the first word of `name`. */
  readonly module?: string
}

const any = (u: unknown): any => u

/** A pure constructor: must throw `InvalidOptionsError`. */
const pure = (name: string, option: string, range: string, run: () => unknown): Row => ({
  name,
  mode: "throw",
  option,
  range,
  run
})

/** A scoped/effectful constructor: must fail with `InvalidOptionsError`. */
const scoped = (
  name: string,
  option: string,
  range: string,
  run: () => Effect.Effect<unknown, unknown, Scope.Scope>
): Row => ({ name, mode: "fail", option, range, run })

/** A layer: building it must fail with `InvalidOptionsError`. */
const layer = (
  name: string,
  option: string,
  range: string,
  run: () => Layer.Layer<any, unknown>,
  env?: Record<string, string>
): Row =>
  scoped(name, option, range, () => {
    const build = Layer.build(run())
    return env === undefined ? build : Effect.withConfigProvider(build, ConfigProvider.fromMap(new Map(Object.entries(env))))
  })

class AnyTag extends Context.Tag("test/reliability/AnyTag")<AnyTag, any>() {}

const NUM = "a number"
const INT = "an integer"
const DUR = "duration"

// ---------------------------------------------------------------------------
// The table

const retryRows: ReadonlyArray<Row> = [
  pure("Retry.policy name=''", "name", "non-empty string", () => Retry.policy({ name: "" })),
  pure("Retry.policy name=42", "name", "non-empty string", () => Retry.policy({ name: any(42) })),
  ...[-1, 0, NaN, Infinity, "soon", undefined, null, [1, -1], "-5 seconds"].map((v) =>
    pure(`Retry.exponential base=${String(v)}`, "base", "finite duration > 0", () => Retry.exponential({ base: any(v) }))
  ),
  ...[0.5, 0, -2, NaN, Infinity, "2"].map((v) =>
    pure(`Retry.exponential factor=${String(v)}`, "factor", ">= 1", () => Retry.exponential({ base: "10 millis", factor: any(v) }))
  ),
  pure("Retry.exponential max=0", "max", DUR, () => Retry.exponential({ base: "10 millis", max: 0 })),
  pure("Retry.exponential max<base", "max", ">= base", () => Retry.exponential({ base: "1 second", max: "10 millis" })),
  pure("Retry.exponential max=NaN", "max", DUR, () => Retry.exponential({ base: "10 millis", max: NaN })),
  pure("Retry.exponential jitter=lots", "jitter", "one of", () => Retry.exponential({ base: "10 millis", jitter: any("lots") })),
  pure("Retry.linear base=-1", "base", DUR, () => Retry.linear({ base: -1 })),
  pure("Retry.linear base=Infinity", "base", "finite", () => Retry.linear({ base: Infinity })),
  pure("Retry.linear step=-1", "step", ">= 0", () => Retry.linear({ base: 10, step: -1 })),
  pure("Retry.linear max=NaN", "max", DUR, () => Retry.linear({ base: 10, max: NaN })),
  pure("Retry.linear max<base", "max", ">= base", () => Retry.linear({ base: 100, max: 10 })),
  pure("Retry.linear jitter=decorrelated", "jitter", "one of", () => Retry.linear({ base: 10, jitter: any("decorrelated") })),
  pure("Retry.constant delay=-1", "delay", ">= 0", () => Retry.constant(-1)),
  pure("Retry.constant delay=NaN", "delay", DUR, () => Retry.constant(NaN)),
  pure("Retry.constant delay=Infinity", "delay", "finite", () => Retry.constant(Infinity)),
  pure("Retry.constant jitter=x", "jitter", "one of", () => Retry.constant(10, { jitter: any("x") })),
  ...[-1, 1.5, NaN, Infinity, "3"].map((v) =>
    pure(`Retry.policy times=${String(v)}`, "times", INT, () => Retry.policy({ times: any(v) }))
  ),
  pure("Retry.policy while=string", "while", "a function", () => Retry.policy({ while: any("yes") })),
  pure("Retry.policy until=1", "until", "a function", () => Retry.policy({ until: any(1) })),
  pure("Retry.policy retryRejections=true", "retryRejections", "a function", () => Retry.policy({ retryRejections: any(true) })),
  pure("Retry.policy maxRetryAfter=-1", "maxRetryAfter", ">= 0", () => Retry.policy({ maxRetryAfter: -1 })),
  pure("Retry.policy maxRetryAfter=NaN", "maxRetryAfter", DUR, () => Retry.policy({ maxRetryAfter: NaN })),
  pure("Retry.policy schedule=string", "schedule", "a Schedule", () => Retry.policy({ schedule: any("exponential") })),
  pure("Retry.policy whenResult=string", "whenResult", "a function", () => Retry.policy({ whenResult: any("503") })),
  pure(
    "Retry.policy failAfterMaxAttempts=yes",
    "failAfterMaxAttempts",
    "a boolean",
    () => Retry.policy({ whenResult: () => true, failAfterMaxAttempts: any("yes") })
  ),
  pure(
    "Retry.policy failAfterMaxAttempts without whenResult",
    "failAfterMaxAttempts",
    "without whenResult",
    () => Retry.policy(any({ failAfterMaxAttempts: true }))
  ),
  ...[-0.1, 1001, NaN, Infinity, "0.2"].map((v) =>
    scoped(`Retry.budget ratio=${String(v)}`, "ratio", "<= 1000", () => Retry.budget({ ratio: any(v) }))
  ),
  scoped("Retry.budget minRetriesPerSecond=-1", "minRetriesPerSecond", ">= 0", () => Retry.budget({ minRetriesPerSecond: -1 })),
  scoped("Retry.budget minRetriesPerSecond=NaN", "minRetriesPerSecond", NUM, () => Retry.budget({ minRetriesPerSecond: NaN })),
  scoped("Retry.budget window=0", "window", "> 0", () => Retry.budget({ window: 0 })),
  scoped("Retry.budget window=Infinity", "window", "finite", () => Retry.budget({ window: Infinity })),
  layer("Retry.layer times=-1", "times", ">= 0", () => Retry.layer(AnyTag, { times: -1 })),
  layer(
    "Retry.layerConfig RETRY_TIMES=-1",
    "times",
    ">= 0",
    () => Retry.layerConfig(AnyTag, { times: Config.number("RETRY_TIMES") }),
    { RETRY_TIMES: "-1" }
  ),
  layer(
    "Retry.layerConfig RETRY_FACTOR=0.5",
    "factor",
    ">= 1",
    () => Retry.layerConfig(AnyTag, { factor: Config.number("RETRY_FACTOR") }),
    { RETRY_FACTOR: "0.5" }
  ),
  layer(
    "Retry.layerConfig RETRY_TIMES=1.5",
    "times",
    INT,
    () => Retry.layerConfig(AnyTag, { times: Config.number("RETRY_TIMES") }),
    { RETRY_TIMES: "1.5" }
  ),
  layer(
    "Retry.layerConfig RETRY_JITTER=wild",
    "jitter",
    "one of",
    () => Retry.layerConfig(AnyTag, { jitter: any(Config.string("RETRY_JITTER")) }),
    { RETRY_JITTER: "wild" }
  )
]

const timeoutRows: ReadonlyArray<Row> = [
  // an infinite duration is no timeout (issue 15 §3): see the edges
  ...[0, -1, NaN, -Infinity, "soon", undefined, "0 millis", "-1 seconds"].map((v) =>
    pure(`Timeout.make duration=${String(v)}`, "duration", "duration > 0", () => Timeout.make(any(v)))
  ),
  pure("Timeout.make name=''", "name", "non-empty string", () => Timeout.make("1 second", { name: "" })),
  pure("Timeout.make scope=global", "scope", "one of", () => Timeout.make("1 second", { scope: any("global") })),
  pure("Timeout.make disconnect=yes", "disconnect", "a boolean", () => Timeout.make("1 second", { disconnect: any("yes") })),
  pure(
    "Timeout.make implementation=sometimes",
    "implementation",
    "one of",
    () => Timeout.make("1 second", { implementation: any("sometimes") })
  ),
  layer("Timeout.layer duration=0", "duration", "> 0", () => Timeout.layer(AnyTag, { duration: 0 })),
  layer(
    "Timeout.layerConfig DB_TIMEOUT=0 millis",
    "duration",
    "> 0",
    () => Timeout.layerConfig(AnyTag, { duration: Config.duration("DB_TIMEOUT") }),
    { DB_TIMEOUT: "0 millis" }
  )
]

const bulkheadRows: ReadonlyArray<Row> = [
  ...[0, -1, 1.5, NaN, Infinity, "2", undefined].map((v) =>
    scoped(`Bulkhead.make maxConcurrent=${String(v)}`, "maxConcurrent", ">= 1", () => Bulkhead.make({ maxConcurrent: any(v) }))
  ),
  ...[-1, 1.5, NaN, "10"].map((v) =>
    scoped(`Bulkhead.make maxQueue=${String(v)}`, "maxQueue", ">= 0", () => Bulkhead.make({ maxConcurrent: 1, maxQueue: any(v) }))
  ),
  scoped("Bulkhead.make maxWait=-1", "maxWait", DUR, () => Bulkhead.make({ maxConcurrent: 1, maxWait: -1 })),
  scoped("Bulkhead.make maxWait=0", "maxWait", "> 0", () => Bulkhead.make({ maxConcurrent: 1, maxWait: 0 })),
  scoped("Bulkhead.make maxWait=NaN", "maxWait", DUR, () => Bulkhead.make({ maxConcurrent: 1, maxWait: NaN })),
  scoped("Bulkhead.make name=''", "name", "non-empty string", () => Bulkhead.make({ maxConcurrent: 1, name: "" })),
  scoped("Bulkhead.make name=7", "name", "non-empty string", () => Bulkhead.make({ maxConcurrent: 1, name: any(7) })),
  scoped(
    "Bulkhead.make metricsInterval=0",
    "metricsInterval",
    "> 0",
    () => Bulkhead.make({ maxConcurrent: 1, metricsInterval: 0 })
  ),
  ...[0, -3, 2.5, NaN].map((v) =>
    scoped(
      `Bulkhead.resize maxConcurrent=${String(v)}`,
      "maxConcurrent",
      ">= 1",
      () => Effect.flatMap(Bulkhead.make({ maxConcurrent: 1 }), (b) => b.resize(v))
    )
  ),
  layer("Bulkhead.layer maxConcurrent=0", "maxConcurrent", ">= 1", () => Bulkhead.layer(AnyTag, { maxConcurrent: 0 })),
  layer(
    "Bulkhead.layerConfig BULKHEAD_MAX=0",
    "maxConcurrent",
    ">= 1",
    () => Bulkhead.layerConfig(AnyTag, { maxConcurrent: Config.number("BULKHEAD_MAX") }),
    { BULKHEAD_MAX: "0" }
  ),
  layer(
    "Bulkhead.layerConfig BULKHEAD_QUEUE=-5",
    "maxQueue",
    ">= 0",
    () =>
      Bulkhead.layerConfig(AnyTag, {
        maxConcurrent: Config.succeed(2),
        maxQueue: Config.option(Config.number("BULKHEAD_QUEUE")).pipe(Config.map(Option.getOrUndefined))
      }),
    { BULKHEAD_QUEUE: "-5" }
  )
]

const cb = (options: Partial<CircuitBreaker.CircuitBreaker.Options>) =>
  CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(3), openDuration: "1 second", ...options })

const breakerRows: ReadonlyArray<Row> = [
  ...[0, -1, 1.5, NaN, Infinity, "3"].map((v) =>
    pure(`CircuitBreaker.consecutive(${String(v)})`, "failures", ">= 1", () => CircuitBreaker.consecutive(any(v)))
  ),
  ...[0, -0.5, 1.5, NaN, "0.5"].map((v) =>
    pure(`CircuitBreaker.rate threshold=${String(v)}`, "threshold", "<= 1", () => CircuitBreaker.rate({ threshold: any(v), size: 10 }))
  ),
  ...[0, -1, 2.5, NaN, Infinity].map((v) =>
    pure(`CircuitBreaker.rate size=${String(v)}`, "size", ">= 1", () => CircuitBreaker.rate({ threshold: 0.5, size: any(v) }))
  ),
  pure("CircuitBreaker.rate minimumCalls=0", "minimumCalls", ">= 1", () => CircuitBreaker.rate({ threshold: 0.5, size: 10, minimumCalls: 0 })),
  pure(
    "CircuitBreaker.timeRate window=0",
    "window",
    "> 0",
    () => CircuitBreaker.timeRate({ threshold: 0.5, window: 0 })
  ),
  pure(
    "CircuitBreaker.timeRate window=NaN",
    "window",
    DUR,
    () => CircuitBreaker.timeRate({ threshold: 0.5, window: NaN })
  ),
  ...[0, 1001, 1.5].map((v) =>
    pure(
      `CircuitBreaker.timeRate buckets=${v}`,
      "buckets",
      "<= 1000",
      () => CircuitBreaker.timeRate({ threshold: 0.5, window: "10 seconds", buckets: v })
    )
  ),
  pure(
    "CircuitBreaker.timeRate window shorter than buckets",
    "window",
    "per bucket",
    () => CircuitBreaker.timeRate({ threshold: 0.5, window: 5, buckets: 10 })
  ),
  scoped("CircuitBreaker.make options=null", "options", "an object", () => CircuitBreaker.make(any(null))),
  scoped("CircuitBreaker.make tripPolicy=string", "tripPolicy", "consecutive", () => cb({ tripPolicy: any("consecutive") })),
  ...[0, -1, NaN, Infinity, "never"].map((v) =>
    scoped(`CircuitBreaker.make openDuration=${String(v)}`, "openDuration", "> 0", () => cb({ openDuration: any(v) }))
  ),
  scoped("CircuitBreaker.make maxOpenDuration=0", "maxOpenDuration", "> 0", () => cb({ maxOpenDuration: 0 })),
  scoped(
    "CircuitBreaker.make maxOpenDuration<openDuration",
    "maxOpenDuration",
    "openDuration",
    () => cb({ openDuration: "10 seconds", maxOpenDuration: "1 second" })
  ),
  scoped(
    "CircuitBreaker.make openDurationResetAfter=-1",
    "openDurationResetAfter",
    ">= 0",
    () => cb({ openDurationResetAfter: -1 })
  ),
  ...[0, -1, 10_001, 1.5, NaN].map((v) =>
    scoped(`CircuitBreaker.make halfOpen.probes=${v}`, "halfOpen.probes", "<= 10000", () => cb({ halfOpen: { probes: v } }))
  ),
  scoped(
    "CircuitBreaker.make halfOpen.successThreshold=0",
    "halfOpen.successThreshold",
    ">= 1",
    () => cb({ halfOpen: { successThreshold: 0 } })
  ),
  scoped(
    "CircuitBreaker.make halfOpen.probeTimeout=0",
    "halfOpen.probeTimeout",
    "> 0",
    () => cb({ halfOpen: { probeTimeout: 0 } })
  ),
  scoped("CircuitBreaker.make slowCall=string", "slowCall", "duration, threshold", () => cb({ slowCall: any("slow") })),
  scoped(
    "CircuitBreaker.make slowCall.duration=0",
    "slowCall.duration",
    "> 0",
    () => cb({ slowCall: { duration: 0, threshold: 0.5 } })
  ),
  ...[0, 1.5, NaN].map((v) =>
    scoped(
      `CircuitBreaker.make slowCall.threshold=${v}`,
      "slowCall.threshold",
      "<= 1",
      () => cb({ slowCall: { duration: "1 second", threshold: v } })
    )
  ),
  scoped("CircuitBreaker.make classify=string", "classify", "a function", () => cb({ classify: any("failure") })),
  scoped("CircuitBreaker.make onStoreError=ignore", "onStoreError", "one of", () => cb({ onStoreError: any("ignore") })),
  scoped("CircuitBreaker.make name=''", "name", "non-empty string", () => cb({ name: "" })),
  scoped(
    "CircuitBreaker.makeStoreMemory idleTimeToLive=0",
    "idleTimeToLive",
    "> 0",
    () => CircuitBreaker.makeStoreMemory({ idleTimeToLive: 0 })
  ),
  scoped("CircuitBreaker.makeStoreMemory maxKeys=0", "maxKeys", ">= 1", () => CircuitBreaker.makeStoreMemory({ maxKeys: 0 })),
  scoped("CircuitBreaker.makeStoreMemory maxKeys=NaN", "maxKeys", INT, () => CircuitBreaker.makeStoreMemory({ maxKeys: NaN })),
  layer(
    "CircuitBreaker.layer halfOpen.probes=0",
    "halfOpen.probes",
    ">= 1",
    () => CircuitBreaker.layer(AnyTag, { tripPolicy: CircuitBreaker.consecutive(1), openDuration: 1000, halfOpen: { probes: 0 } })
  ),
  layer(
    "CircuitBreaker.layerConfig CB_FAILURES=0",
    "failures",
    ">= 1",
    () => CircuitBreaker.layerConfig(AnyTag, { failures: Config.number("CB_FAILURES") }),
    { CB_FAILURES: "0" }
  ),
  layer(
    "CircuitBreaker.layerConfig CB_PROBES=0",
    "probes",
    ">= 1",
    () => CircuitBreaker.layerConfig(AnyTag, { probes: Config.number("CB_PROBES") }),
    { CB_PROBES: "0" }
  ),
  layer(
    "CircuitBreaker.layerConfig CB_TRIP=sometimes",
    "tripPolicy",
    "one of",
    () => CircuitBreaker.layerConfig(AnyTag, { tripPolicy: any(Config.string("CB_TRIP")) }),
    { CB_TRIP: "sometimes" }
  ),
  layer(
    "CircuitBreaker.layerConfig CB_FACTOR=0.5",
    "openDurationFactor",
    ">= 1",
    () => CircuitBreaker.layerConfig(AnyTag, { openDurationFactor: Config.number("CB_FACTOR") }),
    { CB_FACTOR: "0.5" }
  ),
  layer(
    "CircuitBreaker.layerConfig CB_THRESHOLD=2 (rate)",
    "threshold",
    "<= 1",
    () =>
      CircuitBreaker.layerConfig(AnyTag, {
        tripPolicy: Config.succeed("rate" as const),
        threshold: Config.number("CB_THRESHOLD"),
        size: Config.succeed(10)
      }),
    { CB_THRESHOLD: "2" }
  )
]

const rl = (options: Partial<RateLimiter.RateLimiter.Options>) => RateLimiter.make({ limit: 10, window: "1 second", ...options })

const rateLimiterRows: ReadonlyArray<Row> = [
  scoped("RateLimiter.make options=null", "options", "an object", () => RateLimiter.make(any(null))),
  ...[0, -1, 1.5, NaN, Infinity, "10"].map((v) =>
    scoped(`RateLimiter.make limit=${String(v)}`, "limit", ">= 1", () => rl({ limit: any(v) }))
  ),
  ...[0, -1, NaN, Infinity, "soon"].map((v) =>
    scoped(`RateLimiter.make window=${String(v)}`, "window", "> 0", () => rl({ window: any(v) }))
  ),
  scoped("RateLimiter.make algorithm=leaky", "algorithm", "one of", () => rl({ algorithm: any("leaky") })),
  scoped("RateLimiter.make onExceeded=drop", "onExceeded", "one of", () => rl({ onExceeded: any("drop") })),
  ...[0, 11, 1.5, NaN].map((v) =>
    scoped(`RateLimiter.make cost=${v}`, "cost", "<= 10", () => rl({ cost: v }))
  ),
  scoped(
    "RateLimiter.make maxDelay without onExceeded=delay",
    "maxDelay",
    "delay",
    () => rl({ onExceeded: "fail", maxDelay: "1 second" })
  ),
  scoped("RateLimiter.make maxDelay=-1", "maxDelay", ">= 0", () => rl({ onExceeded: "delay", maxDelay: -1 })),
  scoped("RateLimiter.make onStoreError=ignore", "onStoreError", "one of", () => rl({ onStoreError: any("ignore") })),
  scoped("RateLimiter.make name=''", "name", "non-empty string", () => rl({ name: "" })),
  scoped("RateLimiter.make metricsInterval=0", "metricsInterval", "> 0", () => rl({ metricsInterval: 0 })),
  scoped("RateLimiter.makeStoreMemory maxKeys=0", "maxKeys", ">= 1", () => RateLimiter.makeStoreMemory({ maxKeys: 0 })),
  scoped("RateLimiter.makeStoreMemory maxKeys=1.5", "maxKeys", INT, () => RateLimiter.makeStoreMemory({ maxKeys: 1.5 })),
  scoped(
    "RateLimiter.makeStoreMemory sweepInterval=0",
    "sweepInterval",
    "> 0",
    () => RateLimiter.makeStoreMemory({ sweepInterval: 0 })
  ),
  layer("RateLimiter.layer limit=0", "limit", ">= 1", () => RateLimiter.layer(AnyTag, { limit: 0, window: "1 second" })),
  layer(
    "RateLimiter.layerConfig RL_LIMIT=0",
    "limit",
    ">= 1",
    () => RateLimiter.layerConfig(AnyTag, { limit: Config.number("RL_LIMIT"), window: Config.duration("RL_WINDOW") }),
    { RL_LIMIT: "0", RL_WINDOW: "1 second" }
  ),
  layer(
    "RateLimiter.layerConfig RL_WINDOW=0 millis",
    "window",
    "> 0",
    () => RateLimiter.layerConfig(AnyTag, { limit: Config.number("RL_LIMIT"), window: Config.duration("RL_WINDOW") }),
    { RL_LIMIT: "5", RL_WINDOW: "0 millis" }
  )
]

const hedgeRows: ReadonlyArray<Row> = [
  ...[-1, NaN, "soon", undefined].map((v) =>
    pure(`Hedge.make delay=${String(v)}`, "delay", ">= 0", () => Hedge.make({ delay: any(v), maxAttempts: 2 }))
  ),
  ...[0, -1, Hedge.MAX_ATTEMPTS + 1, 1.5, NaN, Infinity].map((v) =>
    pure(`Hedge.make maxAttempts=${v}`, "maxAttempts", `<= ${Hedge.MAX_ATTEMPTS}`, () => Hedge.make({ delay: 10, maxAttempts: v }))
  ),
  pure("Hedge.make while=string", "while", "a function", () => Hedge.make({ delay: 10, maxAttempts: 2, while: any("x") })),
  pure("Hedge.make whenResult=string", "whenResult", "a function", () => Hedge.make({ delay: 10, maxAttempts: 2, whenResult: any("x") })),
  pure("Hedge.make failWith=middle", "failWith", "one of", () => Hedge.make({ delay: 10, maxAttempts: 2, failWith: any("middle") })),
  pure(
    "Hedge.make failAfterMaxAttempts=yes",
    "failAfterMaxAttempts",
    "a boolean",
    () => Hedge.make({ delay: 10, maxAttempts: 2, whenResult: () => true, failAfterMaxAttempts: any("yes") })
  ),
  pure(
    "Hedge.make failAfterMaxAttempts without whenResult",
    "failAfterMaxAttempts",
    "without whenResult",
    () => Hedge.make(any({ delay: 10, maxAttempts: 2, failAfterMaxAttempts: true }))
  ),
  pure("Hedge.make name=''", "name", "non-empty string", () => Hedge.make({ delay: 10, maxAttempts: 2, name: "" }))
]

const fallbackRows: ReadonlyArray<Row> = [
  pure("Fallback.tags()", "tags", "at least one tag", () => any(Fallback.tags)()),
  pure("Fallback.tags('')", "tags[0]", "non-empty string", () => Fallback.tags("")),
  pure("Fallback.instanceOf()", "classes", "at least one class", () => any(Fallback.instanceOf)()),
  pure("Fallback.instanceOf(1)", "classes[0]", "a class", () => any(Fallback.instanceOf)(1)),
  pure("Fallback.when('x')", "predicate", "a function", () => any(Fallback.when)("x")),
  pure("Fallback.chain([])", "sources", "non-empty array", () => any(Fallback.chain)([])),
  pure("Fallback.chain([1])", "sources[0]", "an effect", () => any(Fallback.chain)([1])),
  pure("Fallback.value whenResult=1", "whenResult", "a function", () => Fallback.value(0, { whenResult: any(1) })),
  pure("Fallback.chain whenResult=x", "whenResult", "a function", () => Fallback.chain([Effect.succeed(0)], { whenResult: any("x") })),
  scoped("Fallback.makeStoreMemory maxEntries=0", "maxEntries", ">= 1", () => Fallback.makeStoreMemory({ maxEntries: 0 })),
  scoped("Fallback.makeStoreMemory maxEntries=NaN", "maxEntries", INT, () => Fallback.makeStoreMemory({ maxEntries: NaN })),
  scoped("Fallback.staleIfError ttl=0", "ttl", "> 0", () => Fallback.staleIfError({ ttl: 0, maxEntries: 10 })),
  scoped("Fallback.staleIfError ttl=NaN", "ttl", DUR, () => Fallback.staleIfError({ ttl: NaN, maxEntries: 10 })),
  scoped("Fallback.staleIfError maxEntries=0", "maxEntries", ">= 1", () => Fallback.staleIfError({ ttl: "1 minute", maxEntries: 0 })),
  scoped(
    "Fallback.staleIfError key=''",
    "key",
    "non-empty string",
    () => Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, key: "" })
  ),
  scoped(
    "Fallback.staleIfError on=string",
    "on",
    "a function",
    () => Fallback.staleIfError({ ttl: "1 minute", maxEntries: 10, on: any("x") })
  )
]

const idempotencyRows: ReadonlyArray<Row> = [
  scoped("Idempotency.make options=null", "options", "an object", () => Idempotency.make(any(null))),
  ...[0, -1, NaN, Infinity, "soon"].map((v) =>
    scoped(`Idempotency.make ttl=${String(v)}`, "ttl", "> 0", () => Idempotency.make({ ttl: any(v) }))
  ),
  scoped("Idempotency.make keepFailures=string", "keepFailures", "a boolean", () => Idempotency.make({ ttl: 1000, keepFailures: any("x") })),
  scoped("Idempotency.make success=string", "success", "a Schema", () => Idempotency.make({ ttl: 1000, success: any("x") })),
  scoped("Idempotency.make name=''", "name", "non-empty string", () => Idempotency.make({ ttl: 1000, name: "" })),
  scoped("Idempotency.makeStoreMemory maxKeys=0", "maxKeys", ">= 1", () => Idempotency.makeStoreMemory({ maxKeys: 0 })),
  scoped(
    "Idempotency.makeStoreMemory sweepInterval=0",
    "sweepInterval",
    "> 0",
    () => Idempotency.makeStoreMemory({ sweepInterval: 0 })
  ),
  layer(
    "Idempotency.layerConfig IDEM_TTL=0 millis",
    "ttl",
    "> 0",
    () => Idempotency.layerConfig(AnyTag, { ttl: Config.duration("IDEM_TTL") }),
    { IDEM_TTL: "0 millis" }
  )
]

const chaosRows: ReadonlyArray<Row> = [
  ...[-0.1, 1.5, NaN, Infinity, "0.5", undefined].map((v) =>
    pure(`Chaos.fault rate=${String(v)}`, "rate", "<= 1", () => Chaos.fault({ rate: any(v), error: "boom" }))
  ),
  pure("Chaos.fault without error", "error", "an error", () => Chaos.fault(any({ rate: 0.5 }))),
  pure("Chaos.fault enabled=string", "enabled", "a boolean", () => Chaos.fault({ rate: 0.5, error: "e", enabled: any("yes") })),
  pure("Chaos.fault name=''", "name", "non-empty string", () => Chaos.fault({ rate: 0.5, error: "e", name: "" })),
  pure("Chaos.latency delay=-1", "delay", ">= 0", () => Chaos.latency({ rate: 0.5, delay: -1 })),
  pure("Chaos.latency delay=NaN", "delay", DUR, () => Chaos.latency({ rate: 0.5, delay: NaN })),
  pure("Chaos.latency delay.min=-1", "delay.min", ">= 0", () => Chaos.latency({ rate: 0.5, delay: { min: -1, max: 10 } })),
  pure(
    "Chaos.latency delay.max<delay.min",
    "delay.max",
    ">= delay.min",
    () => Chaos.latency({ rate: 0.5, delay: { min: 100, max: 10 } })
  ),
  pure("Chaos.outcome without value", "value", "a value", () => Chaos.outcome(any({ rate: 0.5 }))),
  pure("Chaos.outcome rate=2", "rate", "<= 1", () => Chaos.outcome({ rate: 2, value: 1 }))
]

const healthRows: ReadonlyArray<Row> = [
  scoped("Health.make interval=0", "interval", "> 0", () => Health.make({ interval: 0 })),
  scoped("Health.make interval=NaN", "interval", DUR, () => Health.make({ interval: NaN })),
  scoped("Health.make timeout=0", "timeout", "> 0", () => Health.make({ timeout: 0 })),
  scoped("Health.make timeout=-1", "timeout", DUR, () => Health.make({ timeout: -1 })),
  scoped("Health.make maxMessageLength=15", "maxMessageLength", ">= 16", () => Health.make({ maxMessageLength: 15 })),
  scoped("Health.make maxMessageLength=NaN", "maxMessageLength", INT, () => Health.make({ maxMessageLength: NaN })),
  scoped(
    "Health.register name=''",
    "name",
    "non-empty string",
    () => Effect.flatMap(Health.make(), (h) => any(h).register({ name: "", check: Effect.succeed(Health.healthy()) }))
  ),
  scoped(
    "Health.register timeout=0",
    "timeout",
    "> 0",
    () => Effect.flatMap(Health.make(), (h) => any(h).register({ name: "db", check: Effect.succeed(Health.healthy()), timeout: 0 }))
  ),
  scoped(
    "Health.register check=not an Effect",
    "check",
    "an Effect",
    () => Effect.flatMap(Health.make(), (h) => any(h).register({ name: "db", check: 42 }))
  )
]

const table: ReadonlyArray<Row> = [
  ...retryRows,
  ...timeoutRows,
  ...bulkheadRows,
  ...breakerRows,
  ...rateLimiterRows,
  ...hedgeRows,
  ...fallbackRows,
  ...idempotencyRows,
  ...chaosRows,
  ...healthRows
]

/**
 * Invalid inputs that are accepted today. Each is asserted to be accepted, so
 * that the suite stays green; when src/ starts rejecting it, move the row into
 * the table above. See docs/Reliability.md, "Findings".
 */
const accepted: ReadonlyArray<{ readonly name: string; readonly run: () => unknown }> = [
]

// ---------------------------------------------------------------------------
// The other side of every range: the edge values themselves are valid and must be accepted
// (an off-by-one in a bound, `<` for `<=`, would reject them).

interface Edge {
  readonly name: string
  readonly run: () => unknown
}

const edge = (name: string, run: () => unknown): Edge => ({ name, run })

const edges: ReadonlyArray<Edge> = [
  edge("Retry.exponential base=1ms factor=1 max=base", () => Retry.exponential({ base: 1, factor: 1, max: 1 })),
  ...["none", "full", "equal", "decorrelated"].map((j) =>
    edge(`Retry.exponential jitter=${j}`, () => Retry.exponential({ base: 10, jitter: any(j) }))
  ),
  edge("Retry.linear step=0 max=base", () => Retry.linear({ base: 10, step: 0, max: 10 })),
  ...["none", "full", "equal"].map((j) => edge(`Retry.linear jitter=${j}`, () => Retry.linear({ base: 10, jitter: any(j) }))),
  edge("Retry.constant delay=0", () => Retry.constant(0)),
  ...["none", "full", "equal"].map((j) => edge(`Retry.constant jitter=${j}`, () => Retry.constant(0, { jitter: any(j) }))),
  edge("Retry.policy times=0 maxRetryAfter=0", () => Retry.policy({ times: 0, maxRetryAfter: 0 })),
  edge("Retry.policy schedule=Schedule", () => Retry.policy({ schedule: Schedule.spaced("1 second") })),
  edge("Retry.budget ratio=0 minRetriesPerSecond=0", () => Retry.budget({ ratio: 0, minRetriesPerSecond: 0 })),
  edge("Retry.budget ratio=1000", () => Retry.budget({ ratio: 1000 })),
  edge("Timeout.make duration=1ms", () => Timeout.make(1)),
  edge("Timeout.make duration=Infinity (no timeout)", () => Timeout.make(Infinity)),
  edge("Bulkhead.make maxConcurrent=1 maxQueue=0", () => Bulkhead.make({ maxConcurrent: 1, maxQueue: 0 })),
  edge("Bulkhead.make maxWait=Infinity", () => Bulkhead.make({ maxConcurrent: 1, maxWait: Infinity })),
  edge("Bulkhead.resize 1", () => Effect.flatMap(Bulkhead.make({ maxConcurrent: 3 }), (b) => b.resize(1))),
  edge("CircuitBreaker.consecutive(1)", () => CircuitBreaker.consecutive(1)),
  edge("CircuitBreaker.consecutive(100000)", () => CircuitBreaker.consecutive(100_000)),
  edge("CircuitBreaker.rate threshold=1 size=1 minimumCalls=1", () => CircuitBreaker.rate({ threshold: 1, size: 1, minimumCalls: 1 })),
  edge("CircuitBreaker.timeRate buckets=1", () => CircuitBreaker.timeRate({ threshold: 1, window: 1, buckets: 1, minimumCalls: 1 })),
  edge("CircuitBreaker.timeRate buckets=1000 window=1000ms", () =>
    CircuitBreaker.timeRate({ threshold: 0.5, window: 1000, buckets: 1000 })),
  edge("CircuitBreaker.make maxOpenDuration=openDuration openDurationResetAfter=0", () =>
    cb({ openDuration: "1 second", maxOpenDuration: "1 second", openDurationResetAfter: 0 })),
  edge("CircuitBreaker.make halfOpen.probes=1 successThreshold=1", () => cb({ halfOpen: { probes: 1, successThreshold: 1 } })),
  edge("CircuitBreaker.make halfOpen.probes=10000", () => cb({ halfOpen: { probes: 10_000 } })),
  edge("CircuitBreaker.make slowCall.threshold=1", () => cb({ slowCall: { duration: 1, threshold: 1 } })),
  edge("CircuitBreaker.makeStoreMemory maxKeys=1", () => CircuitBreaker.makeStoreMemory({ maxKeys: 1 })),
  edge("RateLimiter.make limit=1 cost=1", () => rl({ limit: 1, cost: 1 })),
  edge("RateLimiter.make cost=limit", () => rl({ limit: 10, cost: 10 })),
  edge("RateLimiter.make onExceeded=delay maxDelay=0", () => rl({ onExceeded: "delay", maxDelay: 0 })),
  edge("RateLimiter.make onExceeded=delay maxDelay=Infinity", () => rl({ onExceeded: "delay", maxDelay: Infinity })),
  edge("RateLimiter.makeStoreMemory maxKeys=1", () => RateLimiter.makeStoreMemory({ maxKeys: 1 })),
  edge("Hedge.make delay=0 maxAttempts=1", () => Hedge.make({ delay: 0, maxAttempts: 1 })),
  edge("Hedge.make delay=Infinity maxAttempts=MAX", () => Hedge.make({ delay: Infinity, maxAttempts: Hedge.MAX_ATTEMPTS })),
  edge("Fallback.makeStoreMemory maxEntries=1", () => Fallback.makeStoreMemory({ maxEntries: 1 })),
  edge("Fallback.staleIfError maxEntries=1", () => Fallback.staleIfError({ ttl: 1, maxEntries: 1 })),
  edge("Idempotency.makeStoreMemory maxKeys=1", () => Idempotency.makeStoreMemory({ maxKeys: 1 })),
  edge("Chaos.fault rate=0", () => Chaos.fault({ rate: 0, error: "e" })),
  edge("Chaos.fault rate=1", () => Chaos.fault({ rate: 1, error: "e" })),
  edge("Chaos.latency delay=0", () => Chaos.latency({ rate: 1, delay: 0 })),
  edge("Chaos.latency delay.min=delay.max=0", () => Chaos.latency({ rate: 1, delay: { min: 0, max: 0 } })),
  edge("Chaos.latency delay.min=delay.max=10", () => Chaos.latency({ rate: 1, delay: { min: 10, max: 10 } })),
  edge("Health.make maxMessageLength=16", () => Health.make({ maxMessageLength: 16 }))
]

const runEdge = (e: Edge): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    let result: unknown
    try {
      result = e.run()
    } catch (error) {
      return `${e.name}: rejected (${String(error)})`
    }
    if (!Effect.isEffect(result)) return undefined
    const exit = yield* Effect.exit(Effect.scoped(result as Effect.Effect<unknown, unknown, Scope.Scope>))
    return Exit.isSuccess(exit) ? undefined : `${e.name}: rejected (${Cause.pretty(exit.cause)})`
  })

// ---------------------------------------------------------------------------

type Verdict = { readonly ok: true } | { readonly ok: false; readonly why: string }

const check = (row: Row, error: unknown): Verdict => {
  if (!(error instanceof Errors.InvalidOptionsError)) {
    return { ok: false, why: `expected InvalidOptionsError, got ${String(error)}` }
  }
  if (error._tag !== "InvalidOptionsError") return { ok: false, why: `bad _tag ${error._tag}` }
  if (error.option !== row.option) return { ok: false, why: `option is "${error.option}", expected "${row.option}"` }
  if (!error.message.includes(`"${row.option}"`)) return { ok: false, why: `message does not name the option: ${error.message}` }
  if (error.expected.length === 0 || !error.message.includes(error.expected)) {
    return { ok: false, why: `message does not state the allowed range: ${error.message}` }
  }
  if (!error.expected.includes(row.range)) {
    return { ok: false, why: `allowed range "${error.expected}" does not mention "${row.range}"` }
  }
  if (!error.module.includes(".")) return { ok: false, why: `module "${error.module}" is not Module.constructor` }
  // a layer names the constructor it delegates to; everything else names itself
  const constructor = row.module ?? row.name.split(/[ (]/)[0]!
  const layerOf = /^(\w+)\.layer/.exec(constructor)
  if (layerOf !== null ? !error.module.startsWith(`${layerOf[1]}.`) : error.module !== constructor) return { ok: false, why: `module is "${error.module}", expected "${constructor}"` }
  if (!error.message.startsWith(`${error.module}: `)) return { ok: false, why: `message does not start with the constructor: ${error.message}` }
  return { ok: true }
}

const runRow = (row: Row): Effect.Effect<Verdict> =>
  Effect.gen(function*() {
    let result: unknown
    try {
      result = row.run()
    } catch (e) {
      if (row.mode === "fail") return { ok: false, why: `threw instead of failing: ${String(e)}` }
      return check(row, e)
    }
    if (row.mode === "throw") return { ok: false, why: "accepted (returned without throwing)" }
    const exit = yield* Effect.exit(Effect.scoped(result as Effect.Effect<unknown, unknown, Scope.Scope>))
    if (Exit.isSuccess(exit)) return { ok: false, why: "accepted (succeeded)" }
    const failure = Cause.failureOption(exit.cause)
    if (Option.isNone(failure)) return { ok: false, why: `died or was interrupted: ${Cause.pretty(exit.cause)}` }
    return check(row, failure.value)
  })

describe("bad input", () => {
  it.effect("every constructor accepts the edges of every allowed range", () =>
    Effect.gen(function*() {
      const failures: Array<string> = []
      for (const e of edges) {
        const failure = yield* runEdge(e)
        if (failure !== undefined) failures.push(failure)
      }
      assert.deepStrictEqual(failures, [], failures.join("\n"))
    }))

  it.effect("every constructor rejects every invalid option with a typed InvalidOptionsError naming it and its range", () =>
    Effect.gen(function*() {
      const failures: Array<string> = []
      for (const row of table) {
        const verdict = yield* runRow(row)
        if (!verdict.ok) failures.push(`${row.name}: ${verdict.why}`)
      }
      for (const row of accepted) {
        try {
          row.run()
        } catch (e) {
          failures.push(`${row.name}: now rejected (${String(e)}) — move it into the table`)
        }
      }
      assert.deepStrictEqual(failures, [], failures.join("\n"))
      // Config values that do not even parse are a typed ConfigError, not a defect.
      const exit = yield* Effect.exit(
        Layer.build(Bulkhead.layerConfig(AnyTag, { maxConcurrent: Config.number("BULKHEAD_MAX") })).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["BULKHEAD_MAX", "many"]])))
        )
      )
      assert.isTrue(Exit.isFailure(exit) && Option.isSome(Cause.failureOption(exit.cause)))
      assert.isTrue(table.length > 200, `table has ${table.length} rows`)
      if (process.env.BAD_INPUT_VERBOSE) console.log(`bad input: ${table.length} rows`)
      // Schedules given as openDuration are accepted (not an invalid input).
      yield* Effect.scoped(cb({ openDuration: Schedule.exponential("1 second") }))
    }))
})

// ---------------------------------------------------------------------------
// Issue 15 §5, every constructor × every kind of wrong value. Options come from JSON and `Config` as
// well as from code, so each option of each public constructor is given each kind of wrong value:
// null, undefined, a value of the wrong type, NaN, ±Infinity, a negative number, 0, a huge number, a
// fraction, the empty string. Each is either accepted with a documented meaning (a default for
// undefined; "no timeout" for an infinite user-facing timeout; any finite duration, however long)
// or rejected with an InvalidOptionsError naming the constructor and the option the caller got
// wrong. The rows are generated: one builder per kind of option says what each value must do.

type Wrong = "null" | "undefined" | "wrong type" | "NaN" | "Infinity" | "-Infinity" | "negative" | "0" | "huge" | "fraction" | "''"

/** What a value must do: be accepted, or be rejected with a range that mentions the fragment. */
type Expect = "accept" | { readonly reject: string }

/** The kind of an option: the value of each kind of wrong value, and what it must do. */
type Kind = { readonly [W in Wrong]?: readonly [value: unknown, expect: Expect] }

const reject = (range: string): Expect => ({ reject: range })

/** Every wrong value rejected with `range`, except undefined (optional options take their default). */
const rejectAll = (range: string, wrongType: unknown, required = false): Kind => ({
  "null": [null, reject(range)],
  "undefined": [undefined, required ? reject(range) : "accept"],
  "wrong type": [wrongType, reject(range)],
  "NaN": [NaN, reject(range)],
  "Infinity": [Infinity, reject(range)],
  "-Infinity": [-Infinity, reject(range)],
  "negative": [-1, reject(range)],
  "0": [0, reject(range)],
  "huge": [1e300, reject(range)],
  "fraction": [1.5, reject(range)],
  "''": ["", reject(range)]
})

const kinds = {
  /**
   * A duration. `infinite`: "off" for a user-facing timeout-like option (no timeout / no limit),
   * "reject" for a safety bound or a period. Any finite duration, however long, is accepted
   * unless `maxMillis` bounds it.
   */
  duration: (o: {
    readonly required?: boolean
    readonly zero?: boolean
    readonly infinite: "off" | "reject"
    readonly maxMillis?: number
    readonly fraction?: Expect
  }): Kind => ({
    ...rejectAll("duration", true, o.required),
    "Infinity": [Infinity, o.infinite === "off" ? "accept" : reject("finite")],
    "0": [0, o.zero === true ? "accept" : reject("> 0")],
    "huge": [1e300, o.maxMillis === undefined ? "accept" : reject(`<= ${o.maxMillis}`)],
    "fraction": [1.5, o.fraction ?? "accept"]
  }),
  /** An integer in [min, max] (max: at most 2^53 - 1 anyway); `infinite`: Infinity means unbounded. */
  integer: (o: { readonly required?: boolean; readonly min: number; readonly max?: number; readonly infinite?: boolean }): Kind => ({
    ...rejectAll("integer", "3", o.required),
    "Infinity": [Infinity, o.infinite === true ? "accept" : reject("integer")],
    "0": [0, o.min <= 0 ? "accept" : reject(`>= ${o.min}`)],
    "huge": [Number.MAX_SAFE_INTEGER + 2, reject(`<= ${o.max ?? Number.MAX_SAFE_INTEGER}`)]
  }),
  /** A number in a range: [min, max] or (gt, max]. */
  number: (o: { readonly required?: boolean; readonly min?: number; readonly gt?: number; readonly max?: number }): Kind => {
    const inRange = (x: number) =>
      (o.min === undefined || x >= o.min) && (o.gt === undefined || x > o.gt) && (o.max === undefined || x <= o.max)
    const at = (x: number): Expect => (inRange(x) ? "accept" : reject("number"))
    const { fraction: _, ...kind } = rejectAll("number", "0.5", o.required)
    return { ...kind, "negative": [-1, at(-1)], "0": [0, at(0)], "huge": [1e300, at(1e300)] }
  },
  oneOf: (required = false): Kind => rejectAll("one of", 42, required),
  string: (required = false): Kind => rejectAll("non-empty string", 42, required),
  function: (required = false): Kind => rejectAll("function", "x", required),
  boolean: (): Kind => rejectAll("boolean", "yes"),
  /** A group of options (or the options argument itself). */
  object: (): Kind => rejectAll("an object", 42),
  /** Anything else (a Schedule, a Schema, a Stream…): every wrong value rejected with `range`. */
  other: (range: string, required = false): Kind => rejectAll(range, 42, required)
}

const OFF = { infinite: "off" } as const
const FINITE = { infinite: "reject" } as const

/** A public constructor and the kind of each of its options. */
interface Constructor {
  /** The constructor the errors must name (a layer may name the one it delegates to). */
  readonly name: string
  readonly mode: Mode
  /** Valid options, which each row changes in one place. */
  readonly base: Record<string, unknown>
  readonly make: (options: any) => unknown
  /** The options argument itself given a wrong value (false: the constructor takes no options object). */
  readonly whole?: false | ((options: unknown) => unknown)
  /** The option named when the options argument is missing altogether (undefined: all are optional). */
  readonly required?: string
  readonly options: Readonly<Record<string, Kind>>
  /** The constructor the errors name, when it is not `name` (`Bulkhead.make (redis)`). */
  readonly module?: string
  /** What the options argument is called in errors, and the range they give (default "options", "an object"). */
  readonly wholeOption?: string
  readonly wholeRange?: string
  /** Accepted means only "not rejected as invalid options" (the constructor connects: it may fail otherwise). */
  readonly validationOnly?: boolean
}

/** One generated row: a constructor given one value. */
interface Generated {
  readonly name: string
  readonly expect: Expect
  readonly row: Row
  readonly validationOnly: boolean
}

const withValue = (base: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> => {
  const [head, ...rest] = path.split(".")
  const copy: Record<string, unknown> = { ...base }
  if (rest.length > 0) copy[head!] = withValue((base[head!] ?? {}) as Record<string, unknown>, rest.join("."), value)
  else if (value === undefined) delete copy[head!]
  else copy[head!] = value
  return copy
}

const show = (value: unknown): string => typeof value === "function" ? "a function" : typeof value === "string" ? JSON.stringify(value) : String(value)

const wholeValues: ReadonlyArray<unknown> = [null, 42, "x", true, [], () => {}]

const generate = (c: Constructor): ReadonlyArray<Generated> => {
  const rows: Array<Generated> = []
  const add = (name: string, option: string, expect: Expect, run: () => unknown) =>
    rows.push({
      name,
      expect,
      validationOnly: c.validationOnly === true,
      row: {
        name,
        mode: c.mode,
        option,
        range: expect === "accept" ? "" : expect.reject,
        run,
        module: c.module ?? c.name.split(" ")[0]!
      }
    })
  const whole = c.whole === undefined ? c.make : c.whole
  if (whole !== false) {
    const option = c.wholeOption ?? "options"
    for (const value of wholeValues) {
      add(`${c.name} ${option}=${show(value)}`, option, reject(c.wholeRange ?? "an object"), () => whole(value))
    }
    add(
      `${c.name} ${option}=undefined`,
      c.required ?? option,
      c.required === undefined ? "accept" : reject(""),
      () => whole(undefined)
    )
  }
  for (const [path, kind] of Object.entries(c.options)) {
    for (const [wrong, entry] of Object.entries(kind) as Array<[Wrong, readonly [unknown, Expect]]>) {
      const [value, expect] = entry
      add(`${c.name} ${path}=${show(value)} (${wrong})`, path, expect, () => c.make(withValue(c.base, path, value)))
    }
  }
  return rows
}

/** Runs a row: undefined when it did what it must, else why not. */
const runGenerated = (g: Generated): Effect.Effect<string | undefined> =>
  g.expect !== "accept"
    ? Effect.map(runRow(g.row), (verdict) => (verdict.ok ? undefined : `${g.name}: ${verdict.why}`))
    : g.validationOnly
    ? Effect.map(rejectedAsInvalid(g.row.run), (rejected) => (rejected ? `${g.name}: rejected as invalid` : undefined))
    : runEdge({ name: g.name, run: g.row.run })

/** True when the constructor throws or fails with InvalidOptionsError (any other outcome is not a rejection of the options). */
const rejectedAsInvalid = (run: () => unknown): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    let result: unknown
    try {
      result = run()
    } catch (e) {
      return e instanceof Errors.InvalidOptionsError
    }
    if (!Effect.isEffect(result)) return false
    const exit = yield* Effect.exit(Effect.scoped(result as Effect.Effect<unknown, unknown, Scope.Scope>))
    return Exit.isFailure(exit) &&
      Option.exists(Cause.failureOption(exit.cause), (e) => e instanceof Errors.InvalidOptionsError)
  })

/** Options given through `Config` (what `layerConfig` reads): each value as `Config.succeed(value)`. */
const viaConfig = (options: Record<string, unknown>): any =>
  Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Config.succeed(v)]))

const layerOf = (layer: Layer.Layer<any, unknown, any>) => Layer.build(layer)

/** The `config` argument of a `layerConfig` itself given a wrong value (it is required). */
const configArgument = (f: (config: any) => unknown) =>
  ({ whole: f, wholeOption: "config", wholeRange: "a record of Configs", required: "config" }) as const

/** A pure constructor run inside an Effect (so it can follow an effectful setup): its throw is its failure. */
const attempt = (f: () => unknown): Effect.Effect<unknown, unknown> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (e) {
      return Effect.fail(e)
    }
  })

const breakerBase = { tripPolicy: CircuitBreaker.consecutive(3), openDuration: 1 }
const healthyCheck = { name: "db", check: Effect.succeed(Health.healthy()) }

const retryPolicyOptions: Record<string, Kind> = {
  schedule: kinds.other("a Schedule"),
  times: kinds.integer({ min: 0 }),
  forever: kinds.boolean(),
  while: kinds.function(),
  until: kinds.function(),
  retryRejections: kinds.function(),
  maxRetryAfter: kinds.duration({ ...FINITE, zero: true }),
  budget: kinds.other("Retry.budget"),
  name: kinds.string(),
  spans: kinds.boolean(),
  onRetry: kinds.function()
}
const retryConfigOptions: Record<string, Kind> = {
  times: kinds.integer({ min: 0 }),
  base: kinds.duration(FINITE),
  factor: kinds.number({ min: 1 }),
  // the default base is 100 millis: a smaller max is the caller's mistake, named as such
  max: kinds.duration({ ...FINITE, fraction: reject(">= base") }),
  jitter: kinds.oneOf(),
  maxRetryAfter: kinds.duration({ ...FINITE, zero: true }),
  name: kinds.string()
}
const timeoutOptions: Record<string, Kind> = {
  duration: kinds.duration({ ...OFF, required: true }),
  name: kinds.string(),
  disconnect: kinds.boolean(),
  scope: kinds.oneOf(),
  implementation: kinds.oneOf()
}
// `implementation` is @internal: checked when given in code, never read from Config
const { implementation: _implementation, ...timeoutConfigOptions } = timeoutOptions
const breakerOptions: Record<string, Kind> = {
  tripPolicy: kinds.other("consecutive", true),
  openDuration: kinds.duration({ ...FINITE, required: true }),
  maxOpenDuration: kinds.duration(FINITE),
  openDurationResetAfter: kinds.duration({ ...FINITE, zero: true }),
  halfOpen: kinds.object(),
  "halfOpen.probes": kinds.integer({ min: 1, max: 10_000 }),
  "halfOpen.successThreshold": kinds.integer({ min: 1, max: 10_000 }),
  "halfOpen.failureRateThreshold": kinds.number({ gt: 0, max: 1 }),
  // a safety bound: an infinite one would wedge a half-open circuit
  "halfOpen.probeTimeout": kinds.duration(FINITE),
  slowCall: kinds.other("duration, threshold"),
  "slowCall.duration": kinds.duration({ ...FINITE, required: true }),
  "slowCall.threshold": kinds.number({ required: true, gt: 0, max: 1 }),
  classify: kinds.function(),
  onStoreError: kinds.oneOf(),
  name: kinds.string(),
  labelMetricsByKey: kinds.boolean(),
  spans: kinds.boolean()
}
const breakerConfigOptions: Record<string, Kind> = {
  name: kinds.string(),
  tripPolicy: kinds.oneOf(),
  failures: kinds.integer({ min: 1, max: 100_000 }),
  threshold: kinds.number({ gt: 0, max: 1 }),
  size: kinds.integer({ min: 1, max: 100_000 }),
  window: kinds.duration(FINITE),
  buckets: kinds.integer({ min: 1, max: 1000 }),
  minimumCalls: kinds.integer({ min: 1 }),
  openDuration: kinds.duration(FINITE),
  openDurationFactor: kinds.number({ min: 1, max: 100 }),
  // the default openDuration is 30 seconds: a shorter cap is the caller's mistake, named as such
  maxOpenDuration: kinds.duration({ ...FINITE, fraction: reject(">= openDuration") }),
  openDurationResetAfter: kinds.duration({ ...FINITE, zero: true }),
  probes: kinds.integer({ min: 1, max: 10_000 }),
  successThreshold: kinds.integer({ min: 1, max: 10_000 }),
  probeTimeout: kinds.duration(FINITE),
  probeFailureRateThreshold: kinds.number({ gt: 0, max: 1 }),
  slowCallDuration: kinds.duration(FINITE),
  slowCallThreshold: kinds.number({ gt: 0, max: 1 }),
  onStoreError: kinds.oneOf()
}
const bulkheadOptions: Record<string, Kind> = {
  maxConcurrent: kinds.integer({ required: true, min: 1 }),
  maxQueue: kinds.integer({ min: 0, infinite: true }),
  maxWait: kinds.duration(OFF),
  name: kinds.string(),
  metricsInterval: kinds.duration(OFF),
  onStoreError: kinds.oneOf()
}
/** The limits every adaptive limit takes (valid values of the defaults' ranges; `initialLimit` 20 in the base). */
const adaptiveLimits: Record<string, Kind> = {
  initialLimit: kinds.integer({ min: 1, max: 1_000_000 }),
  minLimit: kinds.integer({ min: 1, max: 1_000_000 }),
  maxLimit: kinds.integer({ min: 1, max: 1_000_000 }),
  isDrop: kinds.function()
}
const rateLimiterOptions: Record<string, Kind> = {
  limit: kinds.integer({ required: true, min: 1 }),
  window: kinds.duration({ ...FINITE, required: true }),
  algorithm: kinds.oneOf(),
  onExceeded: kinds.oneOf(),
  cost: kinds.integer({ min: 1, max: 10 }),
  onStoreError: kinds.oneOf(),
  name: kinds.string(),
  metricsInterval: kinds.duration(OFF)
}
const memoryStoreOptions: Record<string, Kind> = {
  maxKeys: kinds.integer({ min: 1 }),
  sweepInterval: kinds.duration(OFF)
}
const staleOptions: Record<string, Kind> = {
  ttl: kinds.duration({ ...FINITE, required: true }),
  maxEntries: kinds.integer({ required: true, min: 1 }),
  key: kinds.string(),
  on: kinds.function(),
  defects: kinds.other("a boolean or a predicate"),
  interruptions: kinds.boolean(),
  schema: kinds.other("a Schema"),
  maxPendingWrites: kinds.integer({ min: 1 }),
  name: kinds.string()
}
const fallbackOptions: Record<string, Kind> = {
  name: kinds.string(),
  defects: kinds.other("a boolean or a predicate"),
  interruptions: kinds.boolean()
}
const idempotencyOptions: Record<string, Kind> = {
  ttl: kinds.duration({ ...FINITE, required: true }),
  name: kinds.string(),
  keepFailures: kinds.other("a boolean or a predicate"),
  success: kinds.other("a Schema"),
  failure: kinds.other("a Schema")
}
const chaosOptions: Record<string, Kind> = {
  rate: kinds.number({ required: true, min: 0, max: 1 }),
  enabled: kinds.other("a boolean, a Chaos.Switch"),
  name: kinds.string()
}
const healthCheckOptions: Record<string, Kind> = {
  name: kinds.string(true),
  check: kinds.other("an Effect", true),
  // a user-facing timeout: infinite is no timeout (issue 15 §3)
  timeout: kinds.duration(OFF),
  interval: kinds.duration(FINITE),
  critical: kinds.other("critical"),
  liveness: kinds.boolean(),
  readiness: kinds.boolean(),
  trigger: kinds.other("a Stream")
}
const serverOptions: Record<string, Kind> = {
  name: kinds.string(),
  concurrency: kinds.object(),
  "concurrency.maxConcurrent": kinds.integer({ min: 1, required: true }),
  "concurrency.maxQueue": kinds.integer({ min: 0, infinite: true }),
  "concurrency.maxWait": kinds.duration(OFF),
  "concurrency.partition": kinds.other("one of"),
  // a hint, not a bound: zero is fine, infinite is not
  "concurrency.retryAfter": kinds.duration({ ...FINITE, zero: true }),
  rateLimit: kinds.object(),
  "rateLimit.limit": kinds.integer({ min: 1, max: 999_999_999_999_999, required: true }),
  "rateLimit.window": kinds.duration({ ...FINITE, required: true }),
  "rateLimit.algorithm": kinds.oneOf(),
  "rateLimit.key": kinds.function(),
  "rateLimit.policy": kinds.string(),
  "rateLimit.headers": kinds.oneOf(),
  "rateLimit.onStoreError": kinds.oneOf(),
  "rateLimit.maxKeyLength": kinds.integer({ min: 1, max: 16_383 }),
  deadline: kinds.object(),
  "deadline.max": kinds.duration(FINITE),
  "deadline.trustHeader": kinds.other("a boolean or a function"),
  "deadline.header": kinds.string(),
  mapErrors: kinds.boolean()
}

const httpOptions: Record<string, Kind> = {
  name: kinds.string(),
  // user-facing timeouts: infinite is no timeout (issue 15 §3)
  timeout: kinds.duration(OFF),
  attemptTimeout: kinds.duration(OFF),
  bodyTimeout: kinds.duration(OFF),
  bufferBody: kinds.other("a boolean or a predicate"),
  maxBufferBytes: kinds.integer({ min: 0 }),
  retry: kinds.object(),
  "retry.times": kinds.integer({ min: 0 }),
  "retry.schedule": kinds.other("a Schedule"),
  "retry.maxRetryAfter": kinds.duration({ ...FINITE, zero: true }),
  "retry.budget": kinds.other("Retry.budget"),
  "retry.methods": kinds.other("HTTP methods"),
  "retry.nonIdempotent": kinds.boolean(),
  "retry.idempotencyKeyHeader": kinds.string(),
  "retry.statuses": kinds.other("status codes"),
  circuitBreaker: kinds.other("a CircuitBreaker, its options, or false"),
  "circuitBreaker.openDuration": kinds.duration(FINITE),
  "circuitBreaker.halfOpen.probes": kinds.integer({ min: 1, max: 10_000 }),
  "circuitBreaker.halfOpen.probeTimeout": kinds.duration(FINITE),
  bulkhead: kinds.other("a Bulkhead, its options, or false"),
  "bulkhead.maxConcurrent": kinds.integer({ min: 1 }),
  "bulkhead.maxWait": kinds.duration(OFF),
  register: kinds.boolean(),
  health: kinds.other("health check options or false"),
  "health.whenOpen": kinds.oneOf(),
  drain: kinds.object(),
  "drain.maxBytes": kinds.integer({ min: 0 }),
  "drain.timeout": kinds.duration(FINITE),
  maxOrigins: kinds.integer({ min: 1 }),
  propagateDeadline: kinds.object(),
  "propagateDeadline.origins": kinds.other("an array of origins", true),
  "propagateDeadline.header": kinds.other("header field name"),
  spans: kinds.boolean()
}

class NoHttp extends Error {}
const noHttpClient = Layer.succeed(HttpClient.HttpClient, HttpClient.make(() => Effect.die(new NoHttp())))

const constructors: ReadonlyArray<Constructor> = [
  // --- Retry
  {
    name: "Retry.exponential",
    mode: "throw",
    base: { base: 1 },
    make: (o) => Retry.exponential(o),
    required: "base",
    options: {
      base: kinds.duration({ ...FINITE, required: true }),
      factor: kinds.number({ min: 1 }),
      max: kinds.duration(FINITE),
      jitter: kinds.oneOf()
    }
  },
  {
    name: "Retry.linear",
    mode: "throw",
    base: { base: 1 },
    make: (o) => Retry.linear(o),
    required: "base",
    options: {
      base: kinds.duration({ ...FINITE, required: true }),
      step: kinds.duration({ ...FINITE, zero: true }),
      max: kinds.duration(FINITE),
      jitter: kinds.oneOf()
    }
  },
  {
    name: "Retry.constant",
    mode: "throw",
    base: { delay: 10 },
    make: ({ delay, ...o }) => Retry.constant(delay, o),
    whole: (o) => Retry.constant(10, any(o)),
    options: { delay: kinds.duration({ ...FINITE, required: true, zero: true }), jitter: kinds.oneOf() }
  },
  {
    name: "Retry.budget",
    mode: "fail",
    base: {},
    make: (o) => Retry.budget(o),
    options: {
      ratio: kinds.number({ min: 0, max: 1000 }),
      minRetriesPerSecond: kinds.number({ min: 0 }),
      window: kinds.duration(FINITE)
    }
  },
  { name: "Retry.policy", mode: "throw", base: {}, make: (o) => Retry.policy(o), options: retryPolicyOptions },
  { name: "Retry.layer", mode: "fail", base: {}, make: (o) => layerOf(Retry.layer(AnyTag, o)), options: retryPolicyOptions },
  {
    name: "Retry.fromConfig",
    mode: "fail",
    base: {},
    make: (o) => Retry.fromConfig(viaConfig(o)),
    ...configArgument((c) => Retry.fromConfig(c)),
    options: retryConfigOptions
  },
  {
    name: "Retry.layerConfig",
    mode: "fail",
    base: {},
    make: (o) => layerOf(Retry.layerConfig(AnyTag, viaConfig(o))),
    ...configArgument((c) => layerOf(Retry.layerConfig(AnyTag, c))),
    options: retryConfigOptions
  },
  {
    name: "Retry.tags",
    mode: "throw",
    base: { "tags[0]": "Unavailable" },
    make: (o) => Retry.tags(o["tags[0]"]),
    whole: false,
    options: { "tags[0]": kinds.string(true) }
  },
  // --- Timeout
  {
    name: "Timeout.make",
    mode: "throw",
    base: { duration: 1000 },
    make: ({ duration, ...o }) => Timeout.make(duration, o),
    whole: (o) => Timeout.make(1000, any(o)),
    options: timeoutOptions
  },
  {
    name: "Timeout.layer",
    mode: "fail",
    base: { duration: 1000 },
    make: (o) => layerOf(Timeout.layer(AnyTag, any(o))),
    required: "duration",
    options: timeoutOptions
  },
  {
    name: "Timeout.layerConfig",
    mode: "fail",
    base: { duration: 1000 },
    make: (o) => layerOf(Timeout.layerConfig(AnyTag, viaConfig(o))),
    ...configArgument((c) => layerOf(Timeout.layerConfig(AnyTag, c))),
    options: timeoutConfigOptions
  },
  // --- Policy
  {
    name: "Policy.pipeline",
    mode: "throw",
    base: {},
    make: (o) => Policy.pipeline(o),
    options: {
      fallback: kinds.other("policy"),
      timeout: kinds.duration(OFF),
      bulkhead: kinds.other("policy"),
      circuitBreaker: kinds.other("policy"),
      retry: kinds.other("policy"),
      attemptTimeout: kinds.duration(OFF)
    }
  },
  {
    name: "Policy.compose",
    mode: "throw",
    base: { "policies[0]": Policy.identity, "policies[1]": Policy.identity },
    make: (o) => any(Policy.compose)(o["policies[0]"], o["policies[1]"]),
    whole: false,
    options: { "policies[0]": kinds.other("policy", true), "policies[1]": kinds.other("policy", true) }
  },
  ...(["make", "makeTransform"] as const).map((f): Constructor => ({
    name: `Policy.${f}`,
    mode: "throw",
    base: { f: (self: unknown) => self, descriptor: { kind: "Custom" } },
    make: (o) => any(Policy[f])(o.f, o.descriptor),
    whole: false,
    options: {
      f: kinds.other("function", true),
      descriptor: kinds.object(),
      "descriptor.kind": kinds.string(true),
      "descriptor.name": kinds.string()
    }
  })),
  {
    name: "Policy.fromTag",
    mode: "throw",
    base: { tag: AnyTag },
    make: (o) => Policy.fromTag(o.tag),
    whole: false,
    options: { tag: kinds.other("Context.Tag", true) }
  },
  // --- CircuitBreaker
  {
    name: "CircuitBreaker.consecutive",
    mode: "throw",
    base: { failures: 3 },
    make: (o) => CircuitBreaker.consecutive(o.failures),
    whole: false,
    options: { failures: kinds.integer({ required: true, min: 1, max: 100_000 }) }
  },
  {
    name: "CircuitBreaker.rate",
    mode: "throw",
    base: { threshold: 0.5, size: 10 },
    make: (o) => CircuitBreaker.rate(o),
    required: "threshold",
    options: {
      threshold: kinds.number({ required: true, gt: 0, max: 1 }),
      size: kinds.integer({ required: true, min: 1, max: 100_000 }),
      minimumCalls: kinds.integer({ min: 1, max: 10 })
    }
  },
  {
    name: "CircuitBreaker.timeRate",
    mode: "throw",
    base: { threshold: 0.5, window: "10 seconds" },
    make: (o) => CircuitBreaker.timeRate(o),
    required: "threshold",
    options: {
      threshold: kinds.number({ required: true, gt: 0, max: 1 }),
      // at least 1 millisecond per bucket (10 by default)
      window: kinds.duration({ ...FINITE, required: true, fraction: reject("per bucket") }),
      buckets: kinds.integer({ min: 1, max: 1000 }),
      minimumCalls: kinds.integer({ min: 1 })
    }
  },
  {
    name: "CircuitBreaker.make",
    mode: "fail",
    base: { ...breakerBase, slowCall: { duration: 1000, threshold: 0.5 } },
    make: (o) => CircuitBreaker.make(o),
    required: "tripPolicy",
    options: breakerOptions
  },
  {
    name: "CircuitBreaker.layer",
    mode: "fail",
    base: { ...breakerBase, slowCall: { duration: 1000, threshold: 0.5 } },
    make: (o) => layerOf(CircuitBreaker.layer(AnyTag, o)),
    required: "tripPolicy",
    options: breakerOptions
  },
  {
    name: "CircuitBreaker.fromConfig",
    mode: "fail",
    base: { slowCallDuration: 1000 },
    make: (o) => CircuitBreaker.fromConfig(viaConfig(o)),
    ...configArgument((c) => CircuitBreaker.fromConfig(c)),
    options: breakerConfigOptions
  },
  {
    name: "CircuitBreaker.layerConfig",
    mode: "fail",
    base: { slowCallDuration: 1000 },
    make: (o) => layerOf(CircuitBreaker.layerConfig(AnyTag, viaConfig(o))),
    ...configArgument((c) => layerOf(CircuitBreaker.layerConfig(AnyTag, c))),
    options: breakerConfigOptions
  },
  ...(["makeStoreMemory", "layerStoreMemory"] as const).map((f): Constructor => ({
    name: `CircuitBreaker.${f}`,
    mode: "fail",
    base: {},
    make: (o) => f === "makeStoreMemory" ? CircuitBreaker.makeStoreMemory(o) : layerOf(CircuitBreaker.layerStoreMemory(o)),
    options: { idleTimeToLive: kinds.duration(FINITE), maxKeys: kinds.integer({ min: 1 }) }
  })),
  {
    name: "CircuitBreaker.Outcome.failure",
    mode: "throw",
    base: {},
    make: (o) => CircuitBreaker.Outcome.failure(o),
    options: { retryAfter: kinds.duration({ ...FINITE, zero: true }) }
  },
  ...(["classifyCause", "classifyError"] as const).map((f): Constructor => ({
    name: `CircuitBreaker.${f}`,
    mode: "throw",
    base: { f: () => CircuitBreaker.Outcome.success },
    make: (o) => any(CircuitBreaker[f])(o.f),
    whole: false,
    options: { f: kinds.function(true) }
  })),
  ...(["ignoreTags", "countTags"] as const).map((f): Constructor => ({
    name: `CircuitBreaker.${f}`,
    mode: "throw",
    base: { "tags[0]": "NotFound" },
    make: (o) => CircuitBreaker[f](o["tags[0]"]),
    whole: false,
    options: { "tags[0]": kinds.string(true) }
  })),
  // --- Bulkhead
  { name: "Bulkhead.make", mode: "fail", base: { maxConcurrent: 1 }, make: (o) => Bulkhead.make(o), required: "maxConcurrent", options: bulkheadOptions },
  {
    name: "Bulkhead.layer",
    mode: "fail",
    base: { maxConcurrent: 1 },
    make: (o) => layerOf(Bulkhead.layer(AnyTag, o)),
    required: "maxConcurrent",
    options: bulkheadOptions
  },
  {
    name: "Bulkhead.layerConfig",
    mode: "fail",
    base: { maxConcurrent: 1 },
    make: (o) => layerOf(Bulkhead.layerConfig(AnyTag, viaConfig(o))),
    ...configArgument((c) => layerOf(Bulkhead.layerConfig(AnyTag, c))),
    options: bulkheadOptions
  },
  {
    name: "Bulkhead.resize",
    mode: "fail",
    base: { maxConcurrent: 2 },
    make: (o) => Effect.flatMap(Bulkhead.make({ maxConcurrent: 1 }), (b) => b.resize(o.maxConcurrent)),
    whole: false,
    options: { maxConcurrent: kinds.integer({ required: true, min: 1 }) }
  },
  // --- AdaptiveLimit (pure: they throw)
  {
    name: "AdaptiveLimit.aimd",
    mode: "throw",
    base: { initialLimit: 20 },
    make: (o) => AdaptiveLimit.aimd(o),
    options: { ...adaptiveLimits, backoffRatio: kinds.number({ min: 0.5, max: 0.99 }), timeout: kinds.duration(FINITE) }
  },
  {
    name: "AdaptiveLimit.vegas",
    mode: "throw",
    base: { initialLimit: 20 },
    make: (o) => AdaptiveLimit.vegas(o),
    options: {
      ...adaptiveLimits,
      smoothing: kinds.number({ gt: 0, max: 1 }),
      probeMultiplier: kinds.integer({ min: 1 }),
      alpha: kinds.number({ min: 0 }),
      beta: kinds.number({ min: 0 }),
      threshold: kinds.number({ min: 0 })
    }
  },
  {
    name: "AdaptiveLimit.gradient2",
    mode: "throw",
    base: { initialLimit: 20 },
    make: (o) => AdaptiveLimit.gradient2(o),
    options: {
      ...adaptiveLimits,
      smoothing: kinds.number({ gt: 0, max: 1 }),
      rttTolerance: kinds.number({ min: 1 }),
      longWindow: kinds.integer({ min: 1 }),
      queueSize: kinds.number({ min: 0 })
    }
  },
  // --- RateLimiter
  {
    name: "RateLimiter.make",
    mode: "fail",
    base: { limit: 10, window: "1 second" },
    make: (o) => RateLimiter.make(o),
    required: "limit",
    options: rateLimiterOptions
  },
  {
    name: "RateLimiter.make (delay)",
    mode: "fail",
    base: { limit: 10, window: "1 second", onExceeded: "delay" },
    make: (o) => RateLimiter.make(o),
    whole: false,
    // a user-facing bound on a wait: infinite is no bound
    options: { maxDelay: kinds.duration({ ...OFF, zero: true }) }
  },
  {
    name: "RateLimiter.layer",
    mode: "fail",
    base: { limit: 10, window: "1 second" },
    make: (o) => layerOf(RateLimiter.layer(AnyTag, o)),
    required: "limit",
    options: rateLimiterOptions
  },
  {
    name: "RateLimiter.layerConfig",
    mode: "fail",
    base: { limit: 10, window: "1 second" },
    make: (o) => layerOf(RateLimiter.layerConfig(AnyTag, viaConfig(o))),
    ...configArgument((c) => layerOf(RateLimiter.layerConfig(AnyTag, c))),
    options: rateLimiterOptions
  },
  ...(["makeStoreMemory", "layerStoreMemory"] as const).map((f): Constructor => ({
    name: `RateLimiter.${f}`,
    mode: "fail",
    base: {},
    make: (o) => f === "makeStoreMemory" ? RateLimiter.makeStoreMemory(o) : layerOf(RateLimiter.layerStoreMemory(o)),
    options: memoryStoreOptions
  })),
  // --- Fallback
  ...(["value", "effect", "chain"] as const).map((f): Constructor => ({
    name: `Fallback.${f}`,
    mode: "throw",
    base: {},
    make: (o) =>
      f === "value"
        ? Fallback.value(1, o)
        : f === "effect"
        ? Fallback.effect(Effect.succeed(1), o)
        : Fallback.chain([Effect.succeed(1)], o),
    options: fallbackOptions
  })),
  {
    name: "Fallback.tags",
    mode: "throw",
    base: { "tags[0]": "NotFound" },
    make: (o) => Fallback.tags(o["tags[0]"]),
    whole: false,
    options: { "tags[0]": kinds.string(true) }
  },
  {
    name: "Fallback.instanceOf",
    mode: "throw",
    base: { "classes[0]": Error },
    make: (o) => any(Fallback.instanceOf)(o["classes[0]"]),
    whole: false,
    options: { "classes[0]": kinds.other("a class", true) }
  },
  {
    name: "Fallback.when",
    mode: "throw",
    base: { predicate: () => true },
    make: (o) => any(Fallback.when)(o.predicate),
    whole: false,
    options: { predicate: kinds.function(true) }
  },
  {
    name: "Fallback.makeStoreMemory",
    mode: "fail",
    base: {},
    make: (o) => Fallback.makeStoreMemory(o),
    options: { maxEntries: kinds.integer({ min: 1 }) }
  },
  {
    name: "Fallback.layerStoreMemory",
    mode: "fail",
    base: {},
    make: (o) => layerOf(Fallback.layerStoreMemory(o)),
    options: { maxEntries: kinds.integer({ min: 1 }) }
  },
  {
    name: "Fallback.staleIfError",
    mode: "fail",
    base: { ttl: "1 minute", maxEntries: 10 },
    make: (o) => Fallback.staleIfError(o),
    required: "ttl",
    options: staleOptions
  },
  {
    name: "Fallback.layerStaleIfError",
    mode: "fail",
    base: { ttl: "1 minute", maxEntries: 10 },
    make: (o) => layerOf(Fallback.layerStaleIfError(AnyTag, o)),
    required: "ttl",
    options: staleOptions,
    module: "Fallback.layerStaleIfError"
  },
  {
    name: "Fallback.layerStaleIfErrorConfig",
    mode: "fail",
    base: { ttl: "1 minute", maxEntries: 10 },
    make: (o) => layerOf(Fallback.layerStaleIfErrorConfig(AnyTag, viaConfig(o))),
    ...configArgument((c) => layerOf(Fallback.layerStaleIfErrorConfig(AnyTag, c))),
    options: staleOptions
  },
  // --- Hedge
  {
    name: "Hedge.make",
    mode: "throw",
    base: { delay: 10, maxAttempts: 2 },
    make: (o) => Hedge.make(o),
    required: "delay",
    options: {
      delay: kinds.duration({ ...OFF, required: true, zero: true }),
      maxAttempts: kinds.integer({ required: true, min: 1, max: Hedge.MAX_ATTEMPTS }),
      while: kinds.function(),
      name: kinds.string()
    }
  },
  // --- Health
  ...(["make", "layer"] as const).map((f): Constructor => ({
    name: `Health.${f}`,
    mode: "fail",
    base: {},
    make: (o) => f === "make" ? Health.make(o) : layerOf(Health.layer(o)),
    options: {
      interval: kinds.duration(FINITE),
      // the default timeout of the checks: user-facing, infinite is no timeout (issue 15 §3)
      timeout: kinds.duration(OFF),
      maxMessageLength: kinds.integer({ min: 16 })
    }
  })),
  {
    name: "Health.register",
    mode: "fail",
    base: healthyCheck,
    make: (o) => Effect.flatMap(Health.make(), (h) => h.register(o)),
    wholeOption: "check",
    wholeRange: "a check object",
    required: "check",
    options: healthCheckOptions
  },
  {
    name: "Health.fromCircuitBreaker",
    mode: "fail",
    base: {},
    make: (o) => Effect.flatMap(CircuitBreaker.make(breakerBase), (b) => attempt(() => Health.fromCircuitBreaker(b, o))),
    options: { whenOpen: kinds.oneOf(), name: kinds.string(), keys: kinds.other("iterable") }
  },
  {
    name: "Health.registerCircuitBreaker",
    mode: "fail",
    base: {},
    make: (o) =>
      Effect.flatMap(CircuitBreaker.make(breakerBase), (b) => Health.registerCircuitBreaker(b, o)).pipe(
        Effect.provide(Health.layerPolicyRegistry)
      ),
    options: {
      name: kinds.string(),
      keys: kinds.other("iterable"),
      health: kinds.object(),
      "health.whenOpen": kinds.oneOf()
    }
  },
  {
    name: "Health.registerBulkhead",
    mode: "fail",
    base: {},
    make: (o) =>
      Effect.flatMap(Bulkhead.make({ maxConcurrent: 1 }), (b) => Health.registerBulkhead(b, o)).pipe(
        Effect.provide(Health.layerPolicyRegistry)
      ),
    options: { name: kinds.string() }
  },
  {
    name: "Health.toJson",
    mode: "throw",
    base: {},
    make: (o) => Health.toJson({ status: "healthy", checkedAt: 0, checks: [] }, o),
    options: { details: kinds.boolean() }
  },
  // --- Idempotency
  ...(["make", "layer"] as const).map((f): Constructor => ({
    name: `Idempotency.${f}`,
    mode: "fail",
    base: { ttl: 1000 },
    make: (o) => f === "make" ? Idempotency.make(o) : layerOf(Idempotency.layer(AnyTag, o)),
    required: "ttl",
    options: idempotencyOptions
  })),
  {
    name: "Idempotency.layerConfig",
    mode: "fail",
    base: { ttl: 1000 },
    make: (o) => layerOf(Idempotency.layerConfig(AnyTag, viaConfig(o))),
    whole: (o) => layerOf(Idempotency.layerConfig(AnyTag, viaConfig({ ttl: 1000 }), any(o))),
    wholeOption: "schemas",
    options: {
      ttl: kinds.duration({ ...FINITE, required: true }),
      name: kinds.string(),
      keepFailures: kinds.other("a boolean or a predicate")
    }
  },
  ...(["makeStoreMemory", "layerStoreMemory"] as const).map((f): Constructor => ({
    name: `Idempotency.${f}`,
    mode: "fail",
    base: {},
    make: (o) => f === "makeStoreMemory" ? Idempotency.makeStoreMemory(o) : layerOf(Idempotency.layerStoreMemory(o)),
    options: { ...memoryStoreOptions, whenFull: kinds.oneOf(), highWater: kinds.number({ gt: 0, max: 1 }) }
  })),
  // --- Chaos
  {
    name: "Chaos.fault",
    mode: "throw",
    base: { rate: 0.5, error: "boom" },
    make: (o) => Chaos.fault(o),
    required: "error",
    options: chaosOptions
  },
  {
    name: "Chaos.latency",
    mode: "throw",
    base: { rate: 0.5, delay: 10 },
    make: (o) => Chaos.latency(o),
    required: "delay",
    options: { ...chaosOptions, delay: kinds.duration({ ...FINITE, required: true, zero: true }) }
  },
  {
    name: "Chaos.latency (range)",
    mode: "throw",
    base: { rate: 0.5, delay: { min: 0, max: 1e301 } },
    make: (o) => Chaos.latency(o),
    whole: false,
    options: {
      "delay.min": kinds.duration({ ...FINITE, required: true, zero: true }),
      "delay.max": kinds.duration({ ...FINITE, required: true, zero: true })
    }
  },
  { name: "Chaos.outcome", mode: "throw", base: { rate: 0.5, value: 1 }, make: (o) => Chaos.outcome(o), required: "value", options: chaosOptions },
  {
    name: "Chaos.behavior",
    mode: "throw",
    base: { rate: 0.5, effect: Effect.void },
    make: (o) => Chaos.behavior(o),
    required: "effect",
    options: { ...chaosOptions, effect: kinds.other("an Effect", true) }
  },
  ...(["makeSwitch", "unsafeMakeSwitch", "switchFromConfig"] as const).map((f): Constructor => ({
    name: `Chaos.${f}`,
    mode: f === "unsafeMakeSwitch" ? "throw" : "fail",
    base: {},
    // the initial state, not an options object (undefined: on); switchFromConfig reads it from a Config
    make: (o) =>
      f === "makeSwitch"
        ? Chaos.makeSwitch(o.initial)
        : f === "unsafeMakeSwitch"
        ? Chaos.unsafeMakeSwitch(o.initial)
        : Chaos.switchFromConfig(Config.succeed(o.initial)),
    whole: false,
    options: { initial: kinds.boolean() }
  })),
  // --- Testing
  {
    name: "Testing.scripted",
    mode: "fail",
    base: {},
    make: (o) => Testing.scripted([Testing.ok(1)], o),
    options: { after: kinds.oneOf(), name: kinds.string() }
  },
  {
    name: "Testing.delay",
    mode: "throw",
    base: { duration: 10, step: Testing.ok(1) },
    make: (o) => Testing.delay(o.duration, o.step),
    whole: false,
    options: { duration: kinds.duration({ ...FINITE, required: true, zero: true }), step: kinds.other("a step", true) }
  },
  {
    name: "Testing.effect",
    mode: "throw",
    base: { effect: Effect.void },
    make: (o) => Testing.effect(o.effect, o.label),
    whole: false,
    options: { effect: kinds.other("an Effect", true), label: kinds.string() }
  },
  // --- effect-resilience/http
  ...(["makeTransform", "make", "layer"] as const).map((f): Constructor => ({
    name: `ResilientHttpClient.${f}`,
    mode: "fail",
    // a propagation with no origin: its header is then checked on its own
    base: { propagateDeadline: { origins: [] } },
    make: (o) =>
      f === "makeTransform"
        ? ResilientHttpClient.makeTransform(o)
        : f === "make"
        ? Effect.provide(ResilientHttpClient.make(o), noHttpClient)
        : layerOf(ResilientHttpClient.layer(o).pipe(Layer.provide(noHttpClient))),
    options: httpOptions
  })),
  {
    name: "HealthRoutes.router",
    mode: "throw",
    base: {},
    // a router is an Effect (the app): not run here
    make: (o) => ({ router: HealthRoutes.router(o) }),
    options: { path: kinds.other("a path"), details: kinds.boolean(), degradedStatus: kinds.other("200 or 503") }
  },
  {
    name: "AdminRoutes.router",
    mode: "throw",
    base: { guard: AdminRoutes.guard(() => Effect.succeed(true)) },
    make: (o) => ({ router: AdminRoutes.router(o) }),
    required: "guard",
    options: { guard: kinds.other("guard", true), path: kinds.other("a path") }
  },
  {
    name: "ResilientHttpServer.make",
    mode: "fail",
    base: { concurrency: { maxConcurrent: 1 }, rateLimit: { limit: 2, window: "1 second" }, deadline: {} },
    make: (o) => ResilientHttpServer.make(o),
    options: serverOptions
  },
  {
    name: "AdminRoutes.guard",
    mode: "throw",
    base: { authorized: () => Effect.succeed(true) },
    make: ({ authorized, ...o }) => AdminRoutes.guard(authorized, o),
    whole: (o) => AdminRoutes.guard(() => Effect.succeed(true), any(o)),
    options: { authorized: kinds.function(true), status: kinds.other("401 or 403") }
  },
  {
    name: "AdminRoutes.bearerToken",
    mode: "throw",
    base: { token: Redacted.make("secret") },
    make: (o) => AdminRoutes.bearerToken(o.token),
    whole: false,
    options: { token: kinds.other("Redacted", true) }
  }
]

/** The Redis stores and layers, on a real `redis-server` (the options are checked before any command). */
const redisConstructors = (url: string): ReadonlyArray<Constructor> => {
  const redis = RedisModule.layer({ url })
  const withRedis = (effect: Effect.Effect<unknown, unknown, any>) => Effect.provide(effect, redis)
  const storeTimeouts = {
    // safety bounds: a store operation never waits without bound
    timeout: kinds.duration(FINITE),
    clock: kinds.oneOf(),
    prefix: kinds.string()
  }
  const redisBulkheadStore: Record<string, Kind> = {
    // a lease that never expired would outlive a dead holder; its expiry must stay an exact integer
    leaseTtl: kinds.duration({ ...FINITE, maxMillis: Number.MAX_SAFE_INTEGER }),
    pollInterval: kinds.duration(FINITE),
    localMaxConcurrent: kinds.integer({ min: 1 }),
    ...storeTimeouts
  }
  // Node's timer cap, past which ioredis's own connect and command timers fire at once
  const timer = kinds.duration({ ...FINITE, maxMillis: 2_147_483_647 })
  const redisOptions: Record<string, Kind> = {
    url: kinds.string(),
    redis: kinds.object(),
    prefix: kinds.string(),
    connectTimeout: timer,
    commandTimeout: timer,
    connect: kinds.oneOf()
  }
  return [
    {
      name: "Redis.make",
      mode: "fail",
      base: { url },
      make: (o) => RedisModule.make(o),
      whole: false,
      validationOnly: true,
      options: redisOptions
    },
    {
      name: "Redis.layer",
      mode: "fail",
      base: { url },
      make: (o) => layerOf(RedisModule.layer(o)),
      whole: false,
      validationOnly: true,
      options: redisOptions
    },
    {
      name: "Redis.layerConfig",
      mode: "fail",
      base: { url },
      make: (o) => layerOf(RedisModule.layerConfig(viaConfig(o))),
      whole: false,
      validationOnly: true,
      options: redisOptions
    },
    ...(["make", "layer"] as const).map((f): Constructor => ({
      name: `StaleStore.${f}`,
      mode: "fail",
      base: {},
      make: (o) => withRedis(f === "make" ? StaleStore.make(o) : layerOf(StaleStore.layer(o))),
      options: { timeout: kinds.duration(FINITE), clock: kinds.oneOf(), maxValueBytes: kinds.integer({ min: 1 }) }
    })),
    ...(["make", "layer", "layerConfig"] as const).map((f): Constructor => ({
      name: `CircuitBreakerStore.${f}`,
      mode: "fail",
      base: {},
      make: (o) =>
        f === "make"
          ? withRedis(CircuitBreakerStore.make(o))
          : layerOf(
            (f === "layer" ? CircuitBreakerStore.layer(o) : CircuitBreakerStore.layerConfig(viaConfig(o))).pipe(
              Layer.provide(redis)
            )
          ),
      ...(f === "layerConfig" ? { whole: false } : {}),
      options: { idleTimeToLive: kinds.duration(FINITE), timeout: kinds.duration(FINITE), clock: kinds.oneOf() }
    })),
    ...(["make", "layer"] as const).map((f): Constructor => ({
      name: `IdempotencyStore.${f}`,
      mode: "fail",
      base: {},
      make: (o) => withRedis(f === "make" ? IdempotencyStore.make(o) : layerOf(IdempotencyStore.layer(o))),
      options: {
        // a lock that never expired would outlive a dead holder
        lockTtl: kinds.duration(FINITE),
        pollInterval: kinds.duration(FINITE),
        onStoreError: kinds.oneOf(),
        ...storeTimeouts
      }
    })),
    ...(["make", "layer"] as const).map((f): Constructor => ({
      name: `RateLimiterStore.${f}`,
      mode: "fail",
      base: {},
      make: (o) => withRedis(f === "make" ? RateLimiterStore.make(o) : layerOf(RateLimiterStore.layer(o))),
      options: storeTimeouts
    })),
    ...(["make", "layer"] as const).map((f): Constructor => ({
      name: `BulkheadStore.${f}`,
      mode: "fail",
      base: {},
      make: (o) => withRedis(f === "make" ? BulkheadStore.make(o) : layerOf(BulkheadStore.layer(o))),
      options: redisBulkheadStore
    })),
    {
      // the bulkhead's own options are validated the same on a shared store
      name: "Bulkhead.make (on the Redis store)",
      mode: "fail",
      base: { maxConcurrent: 1 },
      make: (o) => withRedis(Effect.provide(Bulkhead.make(o), BulkheadStore.layer())),
      required: "maxConcurrent",
      options: bulkheadOptions
    }
  ]
}

const runAll = (rows: ReadonlyArray<Generated>) =>
  Effect.gen(function*() {
    const failures: Array<string> = []
    for (const g of rows) {
      const failure = yield* runGenerated(g)
      if (failure !== undefined) failures.push(failure)
    }
    return failures
  })

describe("bad input: every constructor × every kind of wrong value (issue 15 §5)", () => {
  it.effect("each value is accepted with its documented meaning or rejected naming the constructor and the option", () =>
    Effect.gen(function*() {
      const rows = constructors.flatMap(generate)
      const failures = yield* runAll(rows)
      assert.deepStrictEqual(failures, [], failures.join("\n"))
      if (process.env.BAD_INPUT_VERBOSE) console.log(`bad input (generated): ${rows.length} rows`)
    }), 120_000)

  it.live.skipIf(!hasRedis)("the Redis stores and layers too", () =>
    Effect.gen(function*() {
      const server = yield* startRedis
      const rows = redisConstructors(server.url).flatMap(generate)
      const failures = yield* runAll(rows)
      assert.deepStrictEqual(failures, [], failures.join("\n"))
    }).pipe(Effect.scoped), 120_000)
})
