/**
 * A real `redis-server` for tests: started on a free loopback port in a
 * scope (and stopped with it), with no persistence. Tests that need it skip
 * with a visible message when the binary is missing — except in CI, where a
 * missing binary fails (CI installs it).
 */
import { Effect, Scope } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

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

// --- a wall clock that steps ---------------------------------------------------------------------

const SHIM_SOURCE = fileURLToPath(new URL("./native/wallclock-shim.c", import.meta.url))

const compiler = (): string | undefined => {
  try {
    return execFileSync("sh", ["-c", "command -v cc || command -v gcc"], { encoding: "utf8" }).trim().split("\n")[0] ||
      undefined
  } catch {
    return undefined
  }
}

/**
 * The compiled wall-clock shim (test/utils/native/wallclock-shim.c), built once per source version
 * into the temp directory; `undefined` without a C compiler (CI installs one: then it is required).
 */
export const wallClockShim: string | undefined = (() => {
  const cc = compiler()
  if (cc === undefined) {
    if (process.env.CI) throw new Error("a C compiler is required in CI for the stepped-wall-clock Redis tests (apt-get install -y gcc)")
    return undefined
  }
  const source = readFileSync(SHIM_SOURCE)
  const out = join(tmpdir(), `effect-resilience-wallclock-${createHash("sha256").update(source).digest("hex").slice(0, 12)}.so`)
  if (!existsSync(out)) {
    const partial = `${out}.${process.pid}.tmp`
    execFileSync(cc, ["-shared", "-fPIC", "-O2", "-o", partial, SHIM_SOURCE])
    execFileSync("mv", ["-f", partial, out])
  }
  return out
})()

/** A redis-server whose wall clock (`TIME`, key expiry) the test steps; its monotonic clock runs on. */
export interface SteppableRedis extends RedisServer {
  /** Steps the server's wall clock by `millis` (negative: back), from where earlier steps left it. */
  readonly stepWallClock: (millis: number) => Effect.Effect<void>
}

/** Spawns a redis-server on `port` (loopback, no persistence) and waits until it accepts connections. */
export const spawnRedis = async (port: number, env?: NodeJS.ProcessEnv): Promise<ChildProcess> => {
  const child = spawn(
    redisServerBinary()!,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "notice"],
    { stdio: ["ignore", "pipe", "pipe"], ...(env === undefined ? {} : { env: { ...process.env, ...env } }) }
  )
  await waitForReady(child)
  return child
}

const killRedis = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    // already gone (exited, or killed by a signal: then exitCode stays null and signalCode is set)
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGCONT")
    child.kill("SIGKILL")
  })

/**
 * Starts a redis-server whose wall clock can be stepped (an NTP step, a VM resume on the Redis
 * host), through the LD_PRELOAD shim; stopped when the scope closes. Needs {@link wallClockShim}.
 */
export const startSteppableRedis: Effect.Effect<SteppableRedis, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const dir = mkdtempSync(join(tmpdir(), "redis-wallclock-"))
    const file = join(dir, "offset")
    writeFileSync(file, "0")
    const port = await freePort()
    const child = await spawnRedis(port, { LD_PRELOAD: wallClockShim!, WALLCLOCK_OFFSET_FILE: file })
    let offset = 0
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      process: child,
      pause: Effect.sync(() => void child.kill("SIGSTOP")),
      resume: Effect.sync(() => void child.kill("SIGCONT")),
      stepWallClock: (millis: number) =>
        Effect.sync(() => {
          offset += millis
          writeFileSync(file, String(offset))
        }),
      dir
    }
  }),
  (server) => Effect.promise(() => killRedis(server.process).then(() => rmSync(server.dir, { recursive: true, force: true })))
)

/** Starts a redis-server on a free loopback port; stopped when the scope closes. */
export const startRedis: Effect.Effect<RedisServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const port = await freePort()
    const child = await spawnRedis(port)
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      process: child,
      pause: Effect.sync(() => void child.kill("SIGSTOP")),
      resume: Effect.sync(() => void child.kill("SIGCONT"))
    }
  }),
  (server) => Effect.promise(() => killRedis(server.process))
)

/** Stops a redis-server process (SIGCONT first: a paused one too); resolves once it exited. */
export const stopProcess = killRedis

/** A redis-server on a fixed port that can be paused, killed (SIGKILL: state lost) and started again empty. */
export interface RestartableRedis {
  readonly url: string
  readonly pause: Effect.Effect<void>
  readonly resume: Effect.Effect<void>
  /** Kills the server (its state is lost); `start` brings one up again on the same port. */
  readonly kill: Effect.Effect<void>
  /** Starts a server on the port if none runs. */
  readonly start: Effect.Effect<void>
  /** `kill` then `start`. */
  readonly restart: Effect.Effect<void>
}

/** A {@link RestartableRedis} for the failure-mode tests; stopped with the scope. */
export const restartableRedis: Effect.Effect<RestartableRedis, never, Scope.Scope> = Effect.gen(function*() {
  const port = yield* Effect.promise(freePort)
  let child: ChildProcess | undefined = yield* Effect.promise(() => spawnRedis(port))
  yield* Effect.addFinalizer(() => Effect.promise(() => (child === undefined ? Promise.resolve() : stopProcess(child))))
  const kill = Effect.promise(async () => {
    if (child !== undefined) await stopProcess(child)
    child = undefined
  })
  const start = Effect.promise(async () => {
    if (child === undefined) child = await spawnRedis(port)
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    pause: Effect.sync(() => void child?.kill("SIGSTOP")),
    resume: Effect.sync(() => void child?.kill("SIGCONT")),
    kill,
    start,
    restart: Effect.zipRight(kill, start)
  }
})
