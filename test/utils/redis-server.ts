/**
 * A real `redis-server` for tests: started on a free loopback port in a
 * scope (and stopped with it), with no persistence. Tests that need it skip
 * with a visible message when the binary is missing — except in CI, where a
 * missing binary fails (CI installs it).
 */
import { Effect, Scope } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { createServer } from "node:net"

export const redisServerBinary = (): string | undefined => {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
}

export const hasRedis = redisServerBinary() !== undefined
if (!hasRedis) {
  if (process.env.CI) throw new Error("redis-server is required in CI (apt-get install -y redis-server)")
  console.warn("redis-server not found: skipping the tests that need a real Redis (apt-get install -y redis-server)")
}

/** A free TCP port on the loopback interface (the OS picks it; closed again before this resolves). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly process: ChildProcess
  /** SIGSTOP: the server stops answering (commands hang until the timeout). */
  readonly pause: Effect.Effect<void>
  /** SIGCONT. */
  readonly resume: Effect.Effect<void>
}

const waitForReady = (child: ChildProcess) =>
  new Promise<void>((resolve, reject) => {
    let output = ""
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Ready to accept connections")) {
        child.stdout?.off("data", onData)
        resolve()
      }
    }
    child.stdout?.on("data", onData)
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${output}`)))
    setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 10_000).unref()
  })

/** Starts a redis-server on a free loopback port; stopped when the scope closes. */
export const startRedis: Effect.Effect<RedisServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const port = await freePort()
    const child = spawn(
      redisServerBinary()!,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "notice"],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    await waitForReady(child)
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      process: child,
      pause: Effect.sync(() => void child.kill("SIGSTOP")),
      resume: Effect.sync(() => void child.kill("SIGCONT"))
    }
  }),
  (server) =>
    Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          // already gone (exited, or killed by a signal: then exitCode stays null and signalCode is set)
          if (server.process.exitCode !== null || server.process.signalCode !== null) return resolve()
          server.process.once("exit", () => resolve())
          server.process.kill("SIGCONT")
          server.process.kill("SIGKILL")
        })
    )
)

const spawnOnPort = async (port: number): Promise<ChildProcess> => {
  const child = spawn(
    redisServerBinary()!,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  await waitForReady(child)
  return child
}

export const stopProcess = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGCONT")
    child.kill("SIGKILL")
  })

/**
 * A server on a fixed port that can be paused, killed and restarted empty
 * (state lost), for the failure-mode tests; stopped with the scope.
 */
export const restartableRedis = Effect.acquireRelease(
  Effect.promise(async () => {
    const port = await freePort()
    let child = await spawnOnPort(port)
    return {
      url: `redis://127.0.0.1:${port}`,
      pause: Effect.sync(() => void child.kill("SIGSTOP")),
      resume: Effect.sync(() => void child.kill("SIGCONT")),
      kill: Effect.promise(() => stopProcess(child)),
      restart: Effect.promise(async () => {
        await stopProcess(child)
        child = await spawnOnPort(port)
      }),
      stopAll: () => stopProcess(child)
    }
  }),
  (server) => Effect.promise(() => server.stopAll())
)
