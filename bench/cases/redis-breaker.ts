/**
 * CircuitBreaker on the Redis store (effect-resilience/redis): a closed
 * circuit's call is one admit script and one record script (two EVALSHA
 * round trips over loopback). Each case starts its own redis-server on a
 * free loopback port in `make` (stopped with the case's scope); without a
 * `redis-server` binary the cases are skipped.
 *
 * - sequential: one call at a time (every call waits for its two round trips);
 * - 64 concurrent: one "op" is 64 calls run at once, so their commands are
 *   pipelined on the one connection (ns/op ÷ 64 = ns per call);
 * - 64 concurrent + auto-pipelining: the same with ioredis
 *   `enableAutoPipelining` (commands of one tick sent in one write).
 *
 * admit+record per second = 1e9 / (ns per call).
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFileSync, spawn } from "node:child_process"
import { createServer } from "node:net"
import { type Case, optionalModule, scopedCase, succeed1 } from "./_lib.js"

const redisBinary = (() => {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
})()

const CircuitBreaker = await optionalModule("CircuitBreaker")
const RedisModule = redisBinary === undefined ? undefined : await optionalModule("redis/index")

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** A redis-server on a free loopback port, killed when the scope closes. */
const redisServer = Effect.acquireRelease(
  Effect.promise(async () => {
    const port = await freePort()
    const child = spawn(redisBinary!, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: ["ignore", "pipe", "ignore"]
    })
    await new Promise<void>((resolve, reject) => {
      let output = ""
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes("Ready to accept connections")) resolve()
      })
      child.once("exit", (code) => reject(new Error(`redis-server exited (${code})`)))
    })
    return { url: `redis://127.0.0.1:${port}`, child }
  }),
  ({ child }) =>
    Effect.promise(() =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once("exit", () => resolve())
        child.kill("SIGKILL")
      })
    )
)

/** A breaker (consecutive 5, closed) on a fresh Redis store. */
const breakerOnRedis = (autoPipelining: boolean) =>
  Effect.gen(function*() {
    const server = yield* redisServer
    const context = yield* Layer.build(
      RedisModule.CircuitBreakerStore.layer().pipe(
        Layer.provide(
          RedisModule.Redis.layer({
            url: server.url,
            prefix: "bench:",
            commandTimeout: "5 seconds",
            redis: autoPipelining ? { enableAutoPipelining: true } : undefined
          })
        )
      ) as Layer.Layer<never, unknown>
    )
    return yield* (CircuitBreaker.make({
      name: "bench-redis",
      tripPolicy: CircuitBreaker.consecutive(5),
      openDuration: "10 seconds"
    }) as Effect.Effect<any, unknown, any>).pipe(Effect.provide(context))
  })

const CONCURRENT = 64

const concurrent = (breaker: any) => {
  const calls = Array.from({ length: CONCURRENT }, () => breaker(succeed1) as Effect.Effect<unknown>)
  return () => Effect.all(calls, { concurrency: "unbounded", discard: true })
}

export const cases: ReadonlyArray<Case> = CircuitBreaker === undefined || RedisModule === undefined ? [] : [
  scopedCase({
    name: "ours: CircuitBreaker on Redis, sequential",
    group: "redis",
    lib: "ours",
    path: "async",
    note: "one call = admit + record, two EVALSHA round trips over loopback, one call at a time",
    smokeOps: 3,
    make: Effect.map(breakerOnRedis(false), (breaker) => () => breaker(succeed1))
  }),
  scopedCase({
    name: `ours: CircuitBreaker on Redis, ${CONCURRENT} concurrent (pipelined)`,
    group: "redis",
    lib: "ours",
    path: "async",
    note: `one op = ${CONCURRENT} calls at once on one connection (their commands pipelined): ns per call = ns/op ÷ ${CONCURRENT}`,
    smokeOps: 1,
    make: Effect.map(breakerOnRedis(false), concurrent)
  }),
  scopedCase({
    name: `ours: CircuitBreaker on Redis, ${CONCURRENT} concurrent + autopipelining`,
    group: "redis",
    lib: "ours",
    path: "async",
    note: `as above with ioredis enableAutoPipelining (a tick's commands in one write): ns per call = ns/op ÷ ${CONCURRENT}`,
    smokeOps: 1,
    make: Effect.map(breakerOnRedis(true), concurrent)
  })
]
