/**
 * Issue 10, "bad input", HTTP part.
 *
 * - Malformed `Retry-After` headers never yield a negative, NaN or unbounded
 *   delay — they are ignored (`None`) or clamped to `max`.
 * - Bad responses from a real upstream (a plain `node:http` server on
 *   127.0.0.1 that records, per attempt, how many body bytes it managed to
 *   write and how the response ended, and which connections are open):
 *   huge bodies on discarded, refused and ignored responses, connections
 *   reset before the head or mid-body, and bodies shorter than their
 *   `Content-Length`. One table, run against both Node clients (undici and
 *   `node:http` with a keep-alive agent); every row states the outcome the
 *   caller sees, how the upstream's response to each attempt ended (so the
 *   attempts it saw), the client's counts, that a huge body was not read
 *   whole, and that no connection is left busy or half-open. Rows run in
 *   both modes of the client (issue 18): buffered (the default: the body is
 *   read inside the call) and streamed (`bufferBody: false`: the caller
 *   reads it). Tests marked KNOWN ISSUE pin a bug of @effect/platform-node on
 *   the plain client (see `readLate`), which the resilient client works
 *   around.
 */
import { assert, describe, it } from "@effect/vitest"
import { HttpClient } from "@effect/platform"
import type { HttpClientError, HttpClientResponse } from "@effect/platform"
import { Duration, Effect, Option, Predicate, Stream } from "effect"
import type { Layer, Scope } from "effect"
import { Errors, Retry } from "effect-resilience"
import { ResilientHttpClient, RetryAfter } from "effect-resilience/http"
import * as diagnostics from "node:diagnostics_channel"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { Socket } from "node:net"
import { nodeKeepAlive, undici } from "../http/server.js"

const NOW = Date.UTC(2026, 10, 23, 22, 0, 0)
const HOUR = 3_600_000

const ignored = [
  "-1", "1.5", "abc", "1e3", "", "   ", "NaN", "Infinity", "-Infinity", "0x10", "1,2", "+5", "５", "5 ", "\t",
  "Wed, 32 Oct 2026 07:28:00 GMT", "Mon, 23 Nov 2026 25:61:61 GMT", "Feb 30 2026", "Sun, 06 Nov 1994 08:49:37",
  "tomorrow", "null", "undefined", "[]", "{}"
]

describe("http bad input: Retry-After", () => {
  it("malformed Retry-After values are ignored or clamped, never negative, NaN or past max", () => {
    const problems: Array<string> = []
    for (const value of ignored) {
      const r = RetryAfter.parse(value, NOW)
      if (Option.isSome(r)) {
        const ms = Duration.toMillis(r.value)
        if (!(Number.isFinite(ms) && ms >= 0 && ms <= HOUR)) problems.push(`${JSON.stringify(value)} → ${ms} ms`)
      }
    }
    // "5 " is trimmed to "5": a valid value, kept
    assert.deepStrictEqual(problems, [])
    // huge integers and far-future dates clamp to max; dates in the past are 0
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(RetryAfter.parse("99999999999999999999", NOW))), HOUR)
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(RetryAfter.parse("Fri, 01 Jan 2100 00:00:00 GMT", NOW))), HOUR)
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", NOW))), 0)
    for (const value of ["-1", "abc", "NaN", "", "1.5"]) assert.isTrue(Option.isNone(RetryAfter.parse(value, NOW)), value)
    assert.isTrue(Option.isNone(RetryAfter.parse(null, NOW)))
    assert.isTrue(Option.isNone(RetryAfter.parse(undefined, NOW)))
  })

  it("an invalid `max` is rejected with InvalidOptionsError naming it (was a finding: it turned every Retry-After into 0)", () => {
    for (const max of [-1000, Number.NaN, "-5 seconds", Infinity]) {
      try {
        RetryAfter.parse("120", NOW, max as any)
        assert.fail(`max=${String(max)} accepted`)
      } catch (e) {
        assert.strictEqual((e as Errors.InvalidOptionsError)._tag, "InvalidOptionsError", String(max))
        assert.strictEqual((e as Errors.InvalidOptionsError).option, "max")
      }
    }
  })
})

// ---------------------------------------------------------------------------
// The upstream: a plain node:http server that records what it managed to send
// ---------------------------------------------------------------------------

/** How the upstream's response to one attempt ended. */
type Ending =
  /** the whole response was handed to the kernel */
  | "finished"
  /** the client closed the connection before the whole body was written */
  | "aborted"
  /** the upstream cut the connection itself (a reset or a truncated body) */
  | "cut"

/** One request as the upstream saw it. */
interface Attempt {
  readonly n: number
  /** The connection it came on (numbered from 1 in order of arrival). */
  readonly connection: number
  /** Body bytes handed to `res.write` (what reached the socket's buffers, at most). */
  bytes: number
  ending: Ending | undefined
  readonly ended: Promise<Ending>
  /** Records that the upstream cuts the connection (before it does). */
  readonly cut: () => void
  /** Resolves when the test calls `Upstream.tell` (for `resetWhenTold`). */
  readonly told: Promise<void>
}

interface Upstream {
  readonly url: string
  readonly attempts: ReadonlyArray<Attempt>
  /** Lets the attempt waiting in `resetWhenTold` go on. */
  readonly tell: () => void
  /** Connections open now (the upstream's side), each with the number of attempts still in progress on it. */
  readonly open: () => ReadonlyArray<{ readonly connection: number; readonly busy: number }>
  /**
   * Resolves once the connection is closed on both sides: the upstream's
   * socket and the client's (found through the `net.client.socket`
   * diagnostics channel, which both Node clients' sockets go through).
   */
  readonly closed: (connection: number) => Promise<void>
}

/** What the upstream does with the n-th request. */
type Behaviour = (req: IncomingMessage, res: ServerResponse, attempt: Attempt) => void

const MiB = 1024 * 1024
/** A huge body: a client that buffered it would make the upstream write all of it. */
const HUGE = 64 * MiB
/**
 * The most the upstream may write of a body the client does not read: what
 * the sockets' buffers on both sides absorb (the kernel autotunes loopback
 * buffers to a few MiB), a quarter of `HUGE`.
 */
const UNREAD_BOUND = HUGE / 4
const CHUNK = Buffer.alloc(64 * 1024, 0x61)

const closing = (socket: Socket): Promise<void> => new Promise((resolve) => socket.once("close", () => resolve()))

/** Serves `behaviours[n - 1]` to the n-th request (the last one afterwards) on 127.0.0.1, for the scope's life. */
const upstream = (behaviours: ReadonlyArray<Behaviour>): Effect.Effect<Upstream, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.async<{ readonly server: Server; readonly upstream: Upstream; readonly unsubscribe: () => void }>((resume) => {
        const attempts: Array<Attempt> = []
        const connections = new Map<number, { readonly socket: Socket; readonly remotePort: number; readonly closed: Promise<void> }>()
        const ids = new WeakMap<Socket, number>()
        // the clients' sockets in this process, by local port
        const clientSockets = new Map<number, Promise<void>>()
        const onClientSocket = (message: unknown) => {
          const socket = (message as { readonly socket: Socket }).socket
          const closed = closing(socket)
          socket.once("connect", () => clientSockets.set(socket.localPort ?? -1, closed))
        }
        diagnostics.subscribe("net.client.socket", onClientSocket)
        const tells: Array<() => void> = []
        let told = 0
        const server = createServer((req, res) => {
          let settle: (ending: Ending) => void = () => {}
          const ended = new Promise<Ending>((resolve) => (settle = resolve))
          const end = (ending: Ending) => {
            if (attempt.ending !== undefined) return
            attempt.ending = ending
            settle(ending)
          }
          const attempt: Attempt = {
            n: attempts.length + 1,
            connection: ids.get(req.socket) ?? -1,
            bytes: 0,
            ending: undefined,
            ended,
            cut: () => end("cut"),
            told: new Promise<void>((resolve) => {
              if (told > 0) {
                told--
                resolve()
              } else tells.push(resolve)
            })
          }
          res.on("finish", () => end("finished"))
          res.on("close", () => end("aborted"))
          attempts.push(attempt)
          behaviours[Math.min(attempt.n, behaviours.length) - 1]!(req, res, attempt)
        })
        server.on("connection", (socket: Socket) => {
          const id = connections.size + 1
          ids.set(socket, id)
          connections.set(id, { socket, remotePort: socket.remotePort ?? -1, closed: closing(socket) })
        })
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address !== null ? address.port : -1
          resume(Effect.succeed({
            server,
            unsubscribe: () => diagnostics.unsubscribe("net.client.socket", onClientSocket),
            upstream: {
              url: `http://127.0.0.1:${port}`,
              attempts,
              tell: () => {
                const waiting = tells.shift()
                if (waiting === undefined) told++
                else waiting()
              },
              open: () =>
                [...connections].filter(([, c]) => !c.socket.destroyed).map(([connection]) => ({
                  connection,
                  busy: attempts.filter((a) => a.connection === connection && a.ending === undefined).length
                })),
              closed: async (connection) => {
                const c = connections.get(connection)
                if (c === undefined) throw new Error(`no connection ${connection}`)
                const client = clientSockets.get(c.remotePort)
                if (client === undefined) throw new Error(`no client socket for connection ${connection}`)
                await Promise.all([c.closed, client])
              }
            }
          }))
        })
      }),
      ({ server, unsubscribe }) =>
        Effect.async<void>((resume) => {
          unsubscribe()
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    ),
    ({ upstream }) => upstream
  )

/** A whole response. */
const text = (status: number, body: string): Behaviour => (_req, res, attempt) => {
  res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) })
  attempt.bytes = Buffer.byteLength(body)
  res.end(body)
}

/** A `HUGE` body (announced in `Content-Length`), written as fast as the client takes it. */
const huge = (status: number): Behaviour => (_req, res, attempt) => {
  res.writeHead(status, { "content-type": "application/octet-stream", "content-length": HUGE })
  const pump = () => {
    while (attempt.bytes < HUGE) {
      if (res.destroyed) return
      attempt.bytes += CHUNK.byteLength
      if (!res.write(CHUNK)) {
        res.once("drain", pump)
        return
      }
    }
    res.end()
  }
  pump()
}

/** Destroys the connection as soon as the request arrives: not a byte of the head is sent. */
const resetBeforeHead: Behaviour = (req, _res, attempt) => {
  attempt.cut()
  req.socket.destroy()
}

/** Sends the head and 4 KiB of a chunked body, then `socket.destroy()` (no last chunk). */
const cutMidBody = (status: number): Behaviour => (req, res, attempt) => {
  res.writeHead(status, { "content-type": "text/plain" })
  attempt.bytes = 4096
  res.write(CHUNK.subarray(0, 4096), () => {
    attempt.cut()
    req.socket.destroy()
  })
}

/** Announces 64 KiB in `Content-Length`, sends 1 KiB, then closes the connection (a FIN, no reset). */
const truncated = (status: number): Behaviour => (req, res, attempt) => {
  res.writeHead(status, { "content-type": "text/plain", "content-length": 64 * 1024 })
  attempt.bytes = 1024
  res.write(CHUNK.subarray(0, 1024), () => {
    attempt.cut()
    req.socket.end()
  })
}

/**
 * Sends the head and 4 KiB of a 64 KiB body, waits for the test to `tell`,
 * then resets the connection (`"reset"`: an RST) or closes it (`"close"`: a
 * FIN, the body shorter than its `Content-Length`).
 */
const resetWhenTold = (status: number, how: "reset" | "close" = "reset"): Behaviour => (req, res, attempt) => {
  res.writeHead(status, { "content-type": "text/plain", "content-length": 64 * 1024 })
  attempt.bytes = 4096
  res.write(CHUNK.subarray(0, 4096))
  void attempt.told.then(() => {
    attempt.cut()
    if (how === "reset") req.socket.resetAndDestroy()
    else req.socket.end()
  })
}

// ---------------------------------------------------------------------------
// The caller
// ---------------------------------------------------------------------------

/** What the caller ends up with, in a form a row states exactly. */
type Outcome =
  | { readonly _tag: "Response"; readonly status: number; readonly body?: string }
  | {
    readonly _tag: "Error"
    readonly error: string
    readonly reason?: string
    /** The status of a `ResponseError`'s response. */
    readonly status?: number
    /** The `_tag` of the error's cause when it is one of the library's errors. */
    readonly cause?: string
  }
  /** The call did not complete (a hang): reported as an outcome so that the row fails with its name. */
  | { readonly _tag: "Hang" }

const outcomeOfError = (error: HttpClientError.HttpClientError | ResilientHttpClient.ResilienceError): Outcome => {
  const cause: unknown = "cause" in error ? error.cause : undefined
  const causeTag = Predicate.hasProperty(cause, Errors.ResilienceErrorTypeId) && Predicate.hasProperty(cause, "_tag")
    ? String(cause._tag)
    : undefined
  const reason: unknown = "reason" in error ? error.reason : undefined
  return {
    _tag: "Error",
    error: error._tag,
    ...(typeof reason === "string" ? { reason } : {}),
    ...(error._tag === "ResponseError" ? { status: error.response.status } : {}),
    ...(causeTag === undefined ? {} : { cause: causeTag })
  }
}

/** The Node clients every row runs against: undici, and `node:http` with a keep-alive agent. */
type ClientName = "undici" | "node:http"

type Client = HttpClient.HttpClient.With<HttpClientError.HttpClientError | ResilientHttpClient.ResilienceError>

/** What the caller does with the client. */
type Call = (client: Client, upstream: Upstream) => Effect.Effect<Outcome, never, Scope.Scope>

const textOf = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(response.text, (body): Outcome => ({ _tag: "Response", status: response.status, body }))

/** GET, then read the body as text. */
const readText: Call = (client, { url }) =>
  client.get(`${url}/x`).pipe(Effect.flatMap(textOf), Effect.catchAll((e) => Effect.succeed(outcomeOfError(e))))

/** POST (no `Idempotency-Key`: not retried by default), then read the body as text. */
const postText: Call = (client, { url }) =>
  client.post(`${url}/x`).pipe(Effect.flatMap(textOf), Effect.catchAll((e) => Effect.succeed(outcomeOfError(e))))

/** Reads the body as a stream; the outcome's body is the number of bytes read. */
const streamOf = (
  response: HttpClientResponse.HttpClientResponse,
  stream: Stream.Stream<Uint8Array, HttpClientError.ResponseError> = response.stream
) =>
  Effect.map(
    Stream.runFold(stream, 0, (n, chunk) => n + chunk.byteLength),
    (n): Outcome => ({ _tag: "Response", status: response.status, body: `${n} bytes` })
  )

/** GET, then read the body as a stream. */
const readStream: Call = (client, { url }) =>
  client.get(`${url}/x`).pipe(Effect.flatMap((response) => streamOf(response)), Effect.catchAll((e) => Effect.succeed(outcomeOfError(e))))

/** GET, then stream the body; once its first chunk is in, let the upstream reset the connection (`resetWhenTold`). */
const streamResetOnFirstChunk: Call = (client, upstream) =>
  client.get(`${upstream.url}/x`).pipe(
    Effect.flatMap((response) => {
      let told = false
      return streamOf(
        response,
        Stream.tap(response.stream, () =>
          Effect.sync(() => {
            if (!told) upstream.tell()
            told = true
          }))
      )
    }),
    Effect.catchAll((e) => Effect.succeed(outcomeOfError(e)))
  )

/**
 * GET; once the head is in, let the upstream cut the connection
 * (`resetWhenTold`) and wait until the connection is closed on both sides;
 * only then read the body, as text or as a stream.
 *
 * KNOWN ISSUE, in @effect/platform-node 0.108 (`NodeStream` of
 * @effect/platform-node-shared 0.61), not in this library: once a response's
 * Node readable has been destroyed by the cut, `NodeStream.fromReadable`
 * sees `readable.readable === false` and ends the stream without an error
 * (both clients: a truncated body reads as a shorter, here empty, one), and
 * `NodeStream.toString` (the `node:http` client's `text`, `json`) waits for
 * an `end` or `error` that was never emitted (Node emits `error` on destroy
 * only to listeners already there): it never completes. undici's `text`
 * fails as it should. The resilient client checks the body's Node readable
 * before it reads or lets the caller read (issue 18): a destroyed one that
 * has not ended fails with a `BodyCutError` on both clients. The tests of the
 * plain client below the table pin the platform's behaviour, so that a fixed
 * platform shows up there.
 */
const readLate = (as: "text" | "stream"): Call => (client, upstream) =>
  client.get(`${upstream.url}/x`).pipe(
    Effect.tap(() =>
      Effect.promise(async () => {
        const attempt = upstream.attempts.at(-1)!
        upstream.tell()
        await attempt.ended
        await upstream.closed(attempt.connection)
      })
    ),
    Effect.flatMap((response) => as === "text" ? textOf(response) : streamOf(response)),
    Effect.catchAll((e) => Effect.succeed(outcomeOfError(e)))
  )

/**
 * GET in a scope of its own, ignoring the body: `HttpClient.withScope`
 * aborts the request when the scope closes (the way @effect/platform offers
 * to release a response one does not read; without it, an unread response
 * the client returned holds its connection until it is garbage-collected or
 * the client's layer is closed — the library only drains the responses it
 * discards for a retry). With `statusOk`,
 * `HttpClient.filterStatusOk` is composed after the transform (as the docs
 * advise), so an error status fails the call.
 */
const ignoreBody = (options: { readonly statusOk: boolean }): Call => (client, { url }) =>
  Effect.scoped(
    (options.statusOk ? HttpClient.filterStatusOk(client) : client).pipe(HttpClient.withScope).get(`${url}/x`)
  ).pipe(
    Effect.map((response): Outcome => ({ _tag: "Response", status: response.status })),
    Effect.catchAll((e) => Effect.succeed(outcomeOfError(e)))
  )

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

interface Row {
  readonly name: string
  /** The upstream's behaviour per attempt (the last one repeats). */
  readonly upstream: ReadonlyArray<Behaviour>
  /** Client options, over `{ retry: { schedule: 1 ms } }`. */
  readonly options?: ResilientHttpClient.Options
  readonly call: Call
  /** What the caller gets (per client when they differ). */
  readonly outcome: Outcome | { readonly [K in ClientName]: Outcome }
  /** How the upstream's response ended, per attempt (so also the number of attempts it saw). */
  readonly endings: ReadonlyArray<Ending>
  /** Attempts (from 1) with a `HUGE` body that must not have been read whole: aborted, < `UNREAD_BOUND` written, connection closed. */
  readonly unread?: ReadonlyArray<number>
  /** The client's counts for the origin. */
  readonly stats: Pick<ResilientHttpClient.OriginStats, "attempts" | "retries" | "failures" | "drained">
}

const ok: Outcome = { _tag: "Response", status: 200, body: "ok" }
const decodeError = (status: number, cause?: string): Outcome => ({
  _tag: "Error",
  error: "ResponseError",
  reason: "Decode",
  status,
  ...(cause === undefined ? {} : { cause })
})

/** Streaming mode (issue 18): the call returns at the head and the caller reads the body. */
const streamed: ResilientHttpClient.Options = { bufferBody: false }

const rows: ReadonlyArray<Row> = [
  // huge bodies
  {
    name: "a retried 503 with a huge body, then 200: the body is drained (≤ drain.maxBytes), its connection closed",
    upstream: [huge(503), text(200, "ok")],
    call: readText,
    outcome: ok,
    endings: ["aborted", "finished"],
    unread: [1],
    stats: { attempts: 2, retries: 1, failures: 1, drained: 1 }
  },
  {
    name: "huge 503s until retries run out (buffered, the default): the last body is read up to maxBufferBytes, then BodyTooLargeError (status 503), the rest unread",
    upstream: [huge(503)],
    options: { retry: { times: 2 }, maxBufferBytes: MiB },
    call: ignoreBody({ statusOk: true }),
    outcome: decodeError(503, "BodyTooLargeError"),
    endings: ["aborted", "aborted", "aborted"],
    unread: [1, 2, 3],
    stats: { attempts: 3, retries: 2, failures: 3, drained: 2 }
  },
  {
    name: "streamed, huge 503s until retries run out: filterStatusOk fails typed; no body is read, the last is closed with the scope",
    upstream: [huge(503)],
    options: { ...streamed, retry: { times: 2 } },
    call: ignoreBody({ statusOk: true }),
    outcome: { _tag: "Error", error: "ResponseError", reason: "StatusCode", status: 503 },
    endings: ["aborted", "aborted", "aborted"],
    unread: [1, 2, 3],
    stats: { attempts: 3, retries: 2, failures: 3, drained: 2 }
  },
  {
    name: "a non-retried 404 with a huge body (buffered, the default): BodyTooLargeError (status 404) at once, not retried; the rest unread",
    upstream: [huge(404)],
    options: { maxBufferBytes: MiB },
    call: ignoreBody({ statusOk: true }),
    outcome: decodeError(404, "BodyTooLargeError"),
    endings: ["aborted"],
    unread: [1],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  {
    name: "streamed, a non-retried 404 with a huge body: filterStatusOk fails typed at once; the body is not read",
    upstream: [huge(404)],
    options: streamed,
    call: ignoreBody({ statusOk: true }),
    outcome: { _tag: "Error", error: "ResponseError", reason: "StatusCode", status: 404 },
    endings: ["aborted"],
    unread: [1],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  {
    name: "streamed, a 200 with a huge body the caller ignores: closing the scope closes the connection, the body unread",
    upstream: [huge(200)],
    options: streamed,
    call: ignoreBody({ statusOk: false }),
    outcome: { _tag: "Response", status: 200 },
    endings: ["aborted"],
    unread: [1],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  {
    name: "a huge 200 (buffered, the default): BodyTooLargeError past maxBufferBytes, not retried, the rest unread",
    upstream: [huge(200), text(200, "ok")],
    options: { maxBufferBytes: MiB },
    call: readText,
    outcome: decodeError(200, "BodyTooLargeError"),
    endings: ["aborted"],
    unread: [1],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  // connections cut mid-body
  {
    name: "a retried 503 cut mid-body, then 200: draining the broken body is harmless, the retry is served",
    upstream: [cutMidBody(503), text(200, "ok")],
    call: readText,
    outcome: ok,
    endings: ["cut", "finished"],
    stats: { attempts: 2, retries: 1, failures: 1, drained: 1 }
  },
  {
    name: "a 200 cut mid-body (buffered, the default): read inside the call, so the cut is a failed attempt, retried",
    upstream: [cutMidBody(200), text(200, "ok")],
    call: readText,
    outcome: ok,
    endings: ["cut", "finished"],
    stats: { attempts: 2, retries: 1, failures: 1, drained: 0 }
  },
  {
    name: "a 200 cut mid-body on every attempt (buffered): BodyCutError after times + 1 attempts",
    upstream: [cutMidBody(200)],
    options: { retry: { times: 2 } },
    call: readText,
    outcome: decodeError(200, "BodyCutError"),
    endings: ["cut", "cut", "cut"],
    stats: { attempts: 3, retries: 2, failures: 3, drained: 0 }
  },
  {
    name: "streamed, a 200 cut mid-body (socket.destroy()): reading the text fails typed (BodyCutError); not retried (read after the call)",
    upstream: [cutMidBody(200), text(200, "ok")],
    options: streamed,
    call: readText,
    outcome: decodeError(200, "BodyCutError"),
    endings: ["cut"],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  {
    name: "streamed, a 200 cut mid-body (socket.destroy()): reading the stream fails typed (BodyCutError)",
    upstream: [cutMidBody(200), text(200, "ok")],
    options: streamed,
    call: readStream,
    outcome: decodeError(200, "BodyCutError"),
    endings: ["cut"],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  {
    name: "streamed, a 200 reset (RST) while the caller streams its body: the stream fails typed (BodyCutError)",
    upstream: [resetWhenTold(200), text(200, "ok")],
    options: streamed,
    call: streamResetOnFirstChunk,
    outcome: decodeError(200, "BodyCutError"),
    endings: ["cut"],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  {
    name: "streamed, bodyTimeout and a 200 cut mid-body: the read fails with the cut, not a TimeoutError",
    upstream: [cutMidBody(200), text(200, "ok")],
    options: { ...streamed, bodyTimeout: "10 seconds" },
    call: readText,
    outcome: decodeError(200, "BodyCutError"),
    endings: ["cut"],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  // a body whose connection was cut before the caller starts reading it (issue 18): the
  // platform reads it as empty, or (node:http's whole reads) never completes; the client
  // checks the body's Node readable first. See the note on `readLate` and the pinned rows
  // of the plain client below the table.
  {
    name: "streamed, a 200 reset (RST) before the caller reads its text: BodyCutError at once (node:http's read no longer hangs)",
    upstream: [resetWhenTold(200, "reset"), text(200, "ok")],
    options: streamed,
    call: readLate("text"),
    outcome: decodeError(200, "BodyCutError"),
    endings: ["cut"],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  {
    name: "streamed, a 200 reset (RST) before the caller streams its body: BodyCutError, not an empty body",
    upstream: [resetWhenTold(200, "reset"), text(200, "ok")],
    options: streamed,
    call: readLate("stream"),
    outcome: decodeError(200, "BodyCutError"),
    endings: ["cut"],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  {
    name: "streamed, a body shorter than its Content-Length, closed before the caller reads its text: as a reset",
    upstream: [resetWhenTold(200, "close"), text(200, "ok")],
    options: streamed,
    call: readLate("text"),
    outcome: decodeError(200, "BodyCutError"),
    endings: ["cut"],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  {
    name: "streamed, a body shorter than its Content-Length, closed before the caller streams it: as a reset",
    upstream: [resetWhenTold(200, "close"), text(200, "ok")],
    options: streamed,
    call: readLate("stream"),
    outcome: decodeError(200, "BodyCutError"),
    endings: ["cut"],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  },
  // resets before the head
  {
    name: "a reset before any byte of the head: a transport error, counted as a failure and retried",
    upstream: [resetBeforeHead, text(200, "ok")],
    call: readText,
    outcome: ok,
    endings: ["cut", "finished"],
    stats: { attempts: 2, retries: 1, failures: 1, drained: 0 }
  },
  {
    name: "resets before the head on every attempt: RequestError (Transport) after times + 1 attempts",
    upstream: [resetBeforeHead],
    options: { retry: { times: 2 } },
    call: readText,
    outcome: { _tag: "Error", error: "RequestError", reason: "Transport" },
    endings: ["cut", "cut", "cut"],
    stats: { attempts: 3, retries: 2, failures: 3, drained: 0 }
  },
  {
    name: "a POST reset before the head: RequestError (Transport), not retried (not idempotent)",
    upstream: [resetBeforeHead, text(200, "ok")],
    call: postText,
    outcome: { _tag: "Error", error: "RequestError", reason: "Transport" },
    endings: ["cut"],
    stats: { attempts: 1, retries: 0, failures: 1, drained: 0 }
  },
  // truncated bodies
  {
    name: "a truncated body (buffered, the default): a failed attempt, retried",
    upstream: [truncated(200), text(200, "ok")],
    call: readText,
    outcome: ok,
    endings: ["cut", "finished"],
    stats: { attempts: 2, retries: 1, failures: 1, drained: 0 }
  },
  {
    name: "a POST with a truncated body (buffered): BodyCutError, not retried, counted as a failure",
    upstream: [truncated(200), text(200, "ok")],
    call: postText,
    outcome: decodeError(200, "BodyCutError"),
    endings: ["cut"],
    stats: { attempts: 1, retries: 0, failures: 1, drained: 0 }
  },
  {
    name: "streamed, Content-Length larger than the bytes sent, then close: reading the text fails typed (BodyCutError); not retried",
    upstream: [truncated(200), text(200, "ok")],
    options: streamed,
    call: readText,
    outcome: decodeError(200, "BodyCutError"),
    endings: ["cut"],
    stats: { attempts: 1, retries: 0, failures: 0, drained: 0 }
  }
]

/** Real-time bound on waiting for real I/O: a hang fails the row with a message instead of timing the test out. */
const GUARD = Duration.seconds(5)

const within = <A>(what: string, promise: () => Promise<A>): Effect.Effect<A> =>
  Effect.promise(promise).pipe(
    Effect.timeoutFail({ duration: GUARD, onTimeout: () => `${what}: still waiting after ${Duration.format(GUARD)}` }),
    Effect.orDieWith((message) => new Error(message))
  )

const run = (row: Row, clientName: ClientName) =>
  Effect.gen(function*() {
    const server = yield* upstream(row.upstream)
    const resilience = yield* ResilientHttpClient.makeTransform({
      ...row.options,
      retry: row.options?.retry === false ? false : { schedule: Retry.constant("1 millis"), ...row.options?.retry }
    })
    const client = (yield* HttpClient.HttpClient).pipe(resilience)

    const outcome = yield* row.call(client, server).pipe(
      Effect.disconnect,
      Effect.timeoutTo({ duration: GUARD, onSuccess: (o): Outcome => o, onTimeout: (): Outcome => ({ _tag: "Hang" }) })
    )
    const expected = "_tag" in row.outcome ? row.outcome : row.outcome[clientName]
    assert.deepStrictEqual(outcome, expected, "what the caller gets")

    // every response the upstream started has ended (finished, aborted by the client, or cut)
    const endings = yield* within("responses ending", () => Promise.all(server.attempts.map((a) => a.ended)))
    assert.deepStrictEqual(endings, row.endings, "how each attempt's response ended")
    assert.deepStrictEqual(resilience.unsafeStats().map(({ attempts, drained, failures, retries }) => ({ attempts, retries, failures, drained })), [
      row.stats
    ])

    for (const n of row.unread ?? []) {
      const attempt = server.attempts[n - 1]!
      assert.isBelow(attempt.bytes, UNREAD_BOUND, `attempt ${n}: ${attempt.bytes} bytes of the huge body written`)
    }
    // the connections of unread and cut responses are closed on both sides (none is left half-open)
    for (const attempt of server.attempts) {
      if (attempt.ending !== "finished") {
        yield* within(`attempt ${attempt.n}'s connection closing`, () => server.closed(attempt.connection))
      }
    }
    // no connection is left busy: those still open (keep-alive) are idle
    assert.deepStrictEqual(server.open().filter((c) => c.busy > 0), [], "connections still busy")
  })

const clients: ReadonlyArray<readonly [ClientName, Layer.Layer<HttpClient.HttpClient>]> = [
  ["undici", undici],
  ["node:http", nodeKeepAlive]
]

for (const [clientName, layer] of clients) {
  describe(`http bad input: responses, ${clientName}`, () => {
    for (const row of rows) {
      it.scopedLive(row.name, () => run(row, clientName).pipe(Effect.provide(layer)))
    }
  })
}

/**
 * KNOWN ISSUE of @effect/platform-node 0.108 (see `readLate`), pinned on the plain client, so
 * that a fixed platform shows up here: a body cut before it is read streams as empty without an
 * error, and `node:http`'s `text` never completes. The resilient client reports both as a
 * `BodyCutError` (the rows above).
 */
for (const [clientName, layer] of clients) {
  describe(`http bad input: the plain client, ${clientName}`, () => {
    const expected: Record<"text" | "stream", Outcome> = {
      text: clientName === "undici" ? decodeError(200) : { _tag: "Hang" },
      stream: { _tag: "Response", status: 200, body: "0 bytes" }
    }
    for (const as of ["text", "stream"] as const) {
      it.scopedLive(`KNOWN ISSUE: a 200 reset (RST) before the plain client reads its ${as}: ${JSON.stringify(expected[as])}`, () =>
        Effect.gen(function*() {
          const server = yield* upstream([resetWhenTold(200, "reset")])
          const client: Client = yield* HttpClient.HttpClient
          const outcome = yield* readLate(as)(client, server).pipe(
            Effect.timeoutTo({ duration: "300 millis", onSuccess: (o): Outcome => o, onTimeout: (): Outcome => ({ _tag: "Hang" }) })
          )
          assert.deepStrictEqual(outcome, expected[as])
        }).pipe(Effect.provide(layer)))
    }
  })
}
