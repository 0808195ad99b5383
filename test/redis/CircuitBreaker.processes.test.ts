/**
 * Two separate Node processes (test/redis/fixtures/breaker-replica.ts), each
 * with its own breaker on the same Redis (clock "redis"): failures spread
 * across them open the circuit for both, both reject, and each one's
 * `transitions` stream sees the opening made by the other.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { hasRedis } from "../utils/redis-server.js"
import { sharedServer } from "./fixtures/breaker-redis.js"

const fixture = fileURLToPath(new URL("./fixtures/breaker-replica.ts", import.meta.url))

interface Message {
  readonly type: string
  readonly [field: string]: unknown
}

/** A replica process: send a command, wait for the next message of a type. */
const replica = (url: string, prefix: string, name: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", fixture, url, prefix, name], {
        stdio: ["pipe", "pipe", "pipe"]
      })
      const received: Array<Message> = []
      const waiters: Array<() => void> = []
      let buffer = ""
      let stderr = ""
      child.stderr!.on("data", (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      child.stdout!.on("data", (chunk: Buffer) => {
        buffer += chunk.toString()
        let i: number
        while ((i = buffer.indexOf("\n")) >= 0) {
          received.push(JSON.parse(buffer.slice(0, i)))
          buffer = buffer.slice(i + 1)
        }
        for (const w of waiters.splice(0)) w()
      })
      child.on("exit", () => {
        for (const w of waiters.splice(0)) w()
      })
      /** The first not yet taken message of `type`. */
      const next = (type: string): Promise<Message> =>
        new Promise((resolve, reject) => {
          const check = () => {
            const i = received.findIndex((m) => m.type === type)
            if (i >= 0) return resolve(received.splice(i, 1)[0]!)
            if (child.exitCode !== null) return reject(new Error(`replica exited (${child.exitCode}): ${stderr}`))
            waiters.push(check)
          }
          check()
        })
      const send = (command: string, answer: string) =>
        Effect.promise(() => {
          child.stdin!.write(`${command}\n`)
          return next(answer)
        })
      return { child, next: (type: string) => Effect.promise(() => next(type)), send }
    }),
    ({ child }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve()
          child.once("exit", () => resolve())
          child.stdin!.write("exit\n")
          setTimeout(() => child.kill("SIGKILL"), 2_000).unref()
        })
      )
  )

describe.skipIf(!hasRedis)("CircuitBreaker shared by two Node processes through Redis (real redis-server)", () => {
  const server = sharedServer()

  it.live("failures spread across two processes open the circuit for both; each sees the other's transition", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Effect.all([
        replica(server().url, "procs:", "shared"),
        replica(server().url, "procs:", "shared")
      ], { concurrency: 2 })
      yield* Effect.all([a!.next("ready"), b!.next("ready")], { concurrency: 2 })
      // consecutive(4): two failures on each process
      for (const r of [a!, b!, a!]) assert.isFalse((yield* r.send("fail", "result")).ok)
      assert.strictEqual((yield* a!.send("state", "state")).state, "Closed")
      assert.isFalse((yield* b!.send("fail", "result")).ok) // B's failure opens the circuit
      for (const r of [a!, b!]) {
        assert.strictEqual((yield* r.send("state", "state")).state, "Open")
        const rejected = yield* r.send("call", "result")
        assert.isFalse(rejected.ok)
        assert.strictEqual(rejected.reason, "CircuitOpen")
        const t = yield* r.next("transition") // A sees it through pub/sub, B from its own call
        assert.deepStrictEqual([t.from, t.to], ["Closed", "Open"])
      }
    }).pipe(Effect.scoped))
})
