/**
 * Redis for tests: a real `redis-server` started on a free loopback port in a
 * scope (stopped with it), and a plain `ioredis` client on it.
 *
 * The server helper itself lives in `./redis-server.ts` (shared with the
 * `effect-resilience/redis` tests); this module re-exports it so every test
 * imports one place, and adds the client. Tests that need Redis wrap their
 * suite in `describe.skipIf(!hasRedis)`: without the binary they are skipped
 * and a visible warning is printed.
 */
import { Effect, type Scope } from "effect"
import { Redis } from "ioredis"
import { startRedis } from "./redis-server.js"

export { hasRedis, type RedisServer, redisServerBinary, startRedis } from "./redis-server.js"

/** An ioredis client on `url`, connected before it is returned and disconnected when the scope closes. */
export const redisClient = (url: string): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.quit().then(() => undefined, () => client.disconnect()))
  )

/** A server and `n` independent clients on it (one per simulated replica). */
export const redisWithClients = (n: number) =>
  Effect.gen(function*() {
    const server = yield* startRedis
    const clients: Array<Redis> = []
    for (let i = 0; i < n; i++) clients.push(yield* redisClient(server.url))
    return { server, clients }
  })
