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
import { assert, describe, it } from "@effect/vitest"
import { Cause, Config, ConfigProvider, Context, Effect, Exit, Layer, Option, Schedule, Scope } from "effect"
import {
  Bulkhead,
  Chaos,
  CircuitBreaker,
  Errors,
  Fallback,
  Health,
  Hedge,
  Idempotency,
  RateLimiter,
  Retry,
  Timeout
} from "effect-resilience"

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
  ...[0, -1, NaN, Infinity, "soon", undefined, "0 millis", "-1 seconds"].map((v) =>
    pure(`Timeout.make duration=${String(v)}`, "duration", "finite duration > 0", () => Timeout.make(any(v)))
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
  layer("Timeout.layer duration=0", "duration", "> 0", () => Timeout.layer(AnyTag, 0)),
  layer(
    "Timeout.layerConfig DB_TIMEOUT=0 millis",
    "duration",
    "> 0",
    () => Timeout.layerConfig(AnyTag, Config.duration("DB_TIMEOUT")),
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
    "halfOpen.probes",
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
  scoped("Fallback.makeMemoryStore maxEntries=0", "maxEntries", ">= 1", () => Fallback.makeMemoryStore({ maxEntries: 0 })),
  scoped("Fallback.makeMemoryStore maxEntries=NaN", "maxEntries", INT, () => Fallback.makeMemoryStore({ maxEntries: NaN })),
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
  edge("Fallback.makeMemoryStore maxEntries=1", () => Fallback.makeMemoryStore({ maxEntries: 1 })),
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
