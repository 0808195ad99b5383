/**
 * Driving an `HttpApp` (a middleware, a router) with one request, in memory:
 * no socket, so the request runs under the test's `Clock` (`TestClock`, a
 * stepped wall clock) and its loggers. `HttpApp.toHandled` is what
 * `@effect/platform`'s servers run per request (the request's scope, the
 * pre-response handlers that add headers), so the answer is the one a socket
 * would get. And {@link serveApp}, for what needs a real socket.
 */
import { HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Fiber } from "effect"
import type { Scope } from "effect"
import { createServer, type Server } from "node:http"

/** What a client would receive. */
export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** A request: `GET http://localhost/` with `headers` unless told otherwise. */
export interface Call {
  readonly headers?: Record<string, string> | undefined
  readonly url?: string | undefined
  readonly method?: string | undefined
  /** Read the body (default true; false leaves `body` empty, for floods of requests). */
  readonly readBody?: boolean | undefined
}

/**
 * Runs `app` on one request as a platform server does (`HttpApp.toHandled`:
 * the request's scope, pre-response handlers), without a socket; the answer.
 */
export const handle = <E, R>(app: HttpApp.Default<E, R>, call: Call = {}) =>
  Effect.gen(function*() {
    let response: HttpServerResponse.HttpServerResponse | undefined
    const request = HttpServerRequest.fromWeb(
      new Request(call.url ?? "http://localhost/", { method: call.method ?? "GET", headers: call.headers ?? {} })
    )
    // in a fiber of its own, as a server runs each request, awaited without joining its FiberRefs: what a
    // request sets on its fiber (pre-response handlers, its deadline) must not leak into the next one
    const fiber = yield* Effect.fork(
      HttpApp.toHandled(app, (_, r) => Effect.sync(() => void (response = r))).pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, request)
      )
    )
    // (a request that failed after it was answered — a respondable error — re-fails: the answer is what counts)
    const exit = yield* Fiber.await(fiber)
    if (response === undefined) return yield* Effect.die(new Error("the app gave no response", { cause: exit }))
    const answered = response
    const body = call.readBody === false ? "" : yield* Effect.promise(() => HttpServerResponse.toWeb(answered).text())
    return { status: answered.status, headers: answered.headers, body } satisfies Answer
  })

/** Serves `app` on 127.0.0.1 and an ephemeral port for the life of the scope (open connections closed with it); its URL. */
export const serveApp = <E, R>(
  app: HttpApp.Default<E, R>
): Effect.Effect<string, never, Scope.Scope | Exclude<Exclude<R, Scope.Scope>, HttpServerRequest.HttpServerRequest>> =>
  Effect.gen(function*() {
    let node: Server | undefined
    const server = yield* NodeHttpServer.make(() => (node = createServer()), { port: 0, host: "127.0.0.1" }).pipe(
      Effect.orDie
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => node?.closeAllConnections()))
    yield* server.serve(app as HttpApp.Default<E, Exclude<R, Scope.Scope>>)
    const address = server.address
    if (address._tag !== "TcpAddress") return yield* Effect.die("expected a TCP address")
    return `http://127.0.0.1:${address.port}`
  })
