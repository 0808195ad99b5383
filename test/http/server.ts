/**
 * Real HTTP servers for the tests, on 127.0.0.1 and an ephemeral port,
 * started with @effect/platform-node and stopped with the test's scope.
 */
import { HttpClient, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpApp } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { Effect, Layer, Stream } from "effect"
import type { Scope } from "effect"
import { createServer, type Server } from "node:http"

/** A request the upstream received. */
export interface Received {
  readonly method: string
  readonly path: string
  /** How many requests to this path so far, this one included (from 1). */
  readonly n: number
  readonly remotePort: number
  readonly headers: Readonly<Record<string, string>>
}

export interface Upstream {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** Requests received, in order. */
  readonly requests: ReadonlyArray<Received>
  /** Requests received for a path. */
  readonly count: (path: string) => number
}

/**
 * Serves `handler` on 127.0.0.1:0 (@effect/platform-node's server) for the
 * life of the scope; records every request.
 */
export const serve = <E, R>(
  handler: (request: Received) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<Upstream, never, Scope.Scope | Exclude<Exclude<R, Scope.Scope>, HttpServerRequest.HttpServerRequest>> =>
  Effect.gen(function*() {
    let node: Server | undefined
    const server = yield* NodeHttpServer.make(() => (node = createServer()), { port: 0, host: "127.0.0.1" }).pipe(
      Effect.orDie
    )
    // stalled responses (slow-body tests) must not keep the server from closing
    yield* Effect.addFinalizer(() => Effect.sync(() => node?.closeAllConnections()))
    const requests: Array<Received> = []
    const count = (path: string) => requests.filter((r) => r.path === path).length
    const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const incoming = NodeHttpServerRequest.toIncomingMessage(request)
      const path = new URL(request.url, "http://x").pathname
      const received: Received = {
        method: request.method,
        path,
        n: count(path) + 1,
        remotePort: incoming.socket.remotePort ?? -1,
        headers: { ...request.headers }
      }
      requests.push(received)
      return handler(received)
    })
    yield* server.serve(app as HttpApp.Default<E, Exclude<R, Scope.Scope>>)
    const address = server.address
    if (address._tag !== "TcpAddress") return yield* Effect.die("expected a TCP address")
    return { url: `http://127.0.0.1:${address.port}`, requests, count }
  })

/** Answers the n-th request to a path with `statuses[n - 1]` (the last status afterwards). */
export const script = (statuses: ReadonlyArray<number>, headers: (n: number) => Record<string, string> = () => ({})) =>
(request: Received) => {
  const status = statuses[Math.min(request.n, statuses.length) - 1]!
  return Effect.succeed(HttpServerResponse.text(`response ${request.n} (${status})`, { status, headers: headers(request.n) }))
}

/** Destroys the connection of the current request (a reset, from the client's side). */
export const resetConnection = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
  Effect.sync(() => {
    NodeHttpServerRequest.toIncomingMessage(request).socket.destroy()
  }).pipe(Effect.zipRight(Effect.never)))

/** A response whose head is sent at once and whose body then stalls for `stallMillis` (real time). */
export const slowBody = (stallMillis: number, status = 200) =>
  HttpServerResponse.stream(
    Stream.make(new TextEncoder().encode("partial ")).pipe(
      Stream.concat(Stream.fromEffect(Effect.sleep(stallMillis).pipe(Effect.as(new TextEncoder().encode("end")))))
    ),
    { status, contentType: "text/plain" }
  )

/** Undici client (one dispatcher per test). */
export const undici: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici

/** Node's http client with a keep-alive agent. */
export const nodeKeepAlive: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerWithoutAgent.pipe(
  Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true }))
)

export { HttpRouter, HttpServerResponse }

// real-time waits for real I/O (shared with the Redis tests)
export { pollUntil, realSleep } from "../utils/realTime.js"
