/**
 * Response helpers for the resilient client: draining a discarded response,
 * buffering a body inside the call (the default), and bounding the reads of
 * a body returned for streaming.
 *
 * @internal
 */
import type * as Cookies from "@effect/platform/Cookies"
import type * as Headers from "@effect/platform/Headers"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import type * as Chunk from "effect/Chunk"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { TimeoutError } from "../../../internal/errors.js"
import { monotonicMillis, timeoutFail, timeoutOption } from "../../../internal/time.js"
import { BodyCutError, BodyTooLargeError } from "./errors.js"

/**
 * Reads and discards what is left of a response body, so that the connection
 * goes back to the pool for the next attempt. Stops (closing the connection
 * instead) after `maxBytes` or `timeout`; never fails.
 *
 * @internal
 */
export const drain = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number,
  timeout: Duration.Duration
): Effect.Effect<void> =>
  Effect.ignore(
    timeoutOption(
      // the library's own read: its bound cuts it in an uninterruptible caller too
      Effect.interruptible(Stream.runFoldWhile(response.stream, 0, (n) => n <= maxBytes, (n, chunk: Uint8Array) => n + chunk.byteLength)),
      timeout
    )
  )

// ---------------------------------------------------------------------------
// The Node readable behind a response
// ---------------------------------------------------------------------------

/** What is read of a Node `Readable` (duck-typed: this module does not import `node:stream`). */
interface NodeReadableLike {
  readonly destroyed: boolean
  readonly readableEnded: boolean
  readonly errored?: unknown
  on(event: string, listener: (...args: Array<any>) => void): unknown
  off(event: string, listener: (...args: Array<any>) => void): unknown
  destroy(): unknown
}

const isNodeReadable = (u: unknown): u is NodeReadableLike =>
  typeof u === "object" && u !== null && typeof (u as NodeReadableLike).destroyed === "boolean" &&
  typeof (u as NodeReadableLike).readableEnded === "boolean" && typeof (u as NodeReadableLike).on === "function" &&
  typeof (u as NodeReadableLike).off === "function" && typeof (u as NodeReadableLike).destroy === "function" &&
  typeof (u as { pipe?: unknown }).pipe === "function"

/** What is read of a web `Response` (duck-typed). */
interface WebResponseLike {
  readonly body: ReadableStream<Uint8Array> | null
  readonly bodyUsed: boolean
}

const isWebResponse = (u: unknown): u is WebResponseLike =>
  typeof u === "object" && u !== null && typeof (u as WebResponseLike).bodyUsed === "boolean" &&
  "body" in u && ((u as WebResponseLike).body === null || typeof (u as WebResponseLike).body?.getReader === "function")

/**
 * The `source` of a response of @effect/platform's own clients, under
 * @effect/platform's `InterruptibleResponse` and our own wrappers
 * (`original`), if any.
 */
const sourceOf = (response: unknown): unknown => {
  let r = response as { readonly source?: unknown; readonly original?: unknown } | undefined
  for (let depth = 0; depth < 4 && typeof r === "object" && r !== null; depth++) {
    if (r.source !== undefined) return r.source
    r = r.original as typeof r
  }
  return undefined
}

/**
 * The Node readable holding the body of a response of @effect/platform-node's
 * clients, if any: `source` (`node:http`'s `IncomingMessage`) or
 * `source.body` (undici's body).
 */
const nodeBodyOf = (response: unknown): NodeReadableLike | undefined => {
  const source = sourceOf(response)
  if (isNodeReadable(source)) return source
  if (typeof source === "object" && source !== null && isNodeReadable((source as { body?: unknown }).body)) {
    return (source as { body: NodeReadableLike }).body
  }
  return undefined
}

/**
 * Whether the body of `response` was cut before anyone read it: its Node
 * readable is destroyed without having ended.
 *
 * @effect/platform-node 0.108 (`NodeStream` of @effect/platform-node-shared
 * 0.61) reads such a body as an empty one without an error (`stream`), or
 * never completes (`node:http`'s `text`, `json`, `arrayBuffer`: it waits for
 * an `end` or `error` event that was emitted before it listened, or never).
 * Checked before every read the client makes or wraps, so that the read fails
 * with a `BodyCutError` instead.
 *
 * @internal
 */
export const cutBeforeRead = (response: HttpClientResponse.HttpClientResponse): BodyCutError | undefined =>
  cutBefore(nodeBodyOf(response))

const cutBefore = (body: NodeReadableLike | undefined): BodyCutError | undefined =>
  body === undefined || !body.destroyed || body.readableEnded
    ? undefined
    : new BodyCutError({ bytesRead: 0, beforeRead: true, cause: body.errored ?? undefined })

/** A `ResponseError` (reason `"Decode"`) for a body error of the client's: a cut. */
const asCut = (
  response: HttpClientResponse.HttpClientResponse,
  error: unknown,
  bytesRead: number
): HttpClientError.ResponseError => {
  if (HttpClientError.isHttpClientError(error) && error._tag === "ResponseError" && isBodyError(error.cause)) return error
  const cut = error instanceof BodyCutError
    ? error
    : new BodyCutError({
      bytesRead,
      beforeRead: false,
      cause: HttpClientError.isHttpClientError(error) && "cause" in error ? error.cause : error
    })
  return bodyError(response, cut, cut.message)
}

const isBodyError = (u: unknown): boolean =>
  u instanceof BodyCutError || u instanceof BodyTooLargeError || u instanceof TimeoutError

const bodyError = (
  response: HttpClientResponse.HttpClientResponse,
  cause: BodyCutError | BodyTooLargeError | TimeoutError,
  description: string
): HttpClientError.ResponseError =>
  new HttpClientError.ResponseError({ request: response.request, response, reason: "Decode", description, cause })

/**
 * The body length announced by `Content-Length`, when it is the length of
 * the bytes read: a response that has a body (not to a HEAD, not 1xx, 204 or
 * 304, whose `Content-Length` describes another response), a valid header
 * and no `Content-Encoding` (a client that decompresses, as `fetch` does,
 * reads another length).
 */
const announcedLength = (response: HttpClientResponse.HttpClientResponse): number | undefined => {
  const status = response.status
  if (response.request.method === "HEAD" || status < 200 || status === 204 || status === 304) return undefined
  const headers = response.headers
  const value = headers["content-length"]
  if (value === undefined) return undefined
  const encoding = headers["content-encoding"]
  if (encoding !== undefined && encoding !== "identity") return undefined
  const n = Number(value)
  return Number.isSafeInteger(n) && n >= 0 && value.trim() !== "" ? n : undefined
}

/** Bodies up to this size, announced in `Content-Length`, are read whole in one call of the client's. */
const WHOLE_READ_MAX = 256 * 1024

/**
 * Reads the whole body (at most `maxBytes`) and returns a response serving
 * it from memory. Fails with a `ResponseError` (reason `"Decode"`) whose
 * `cause` is a `BodyTooLargeError` past `maxBytes` (the rest of the body is
 * not read: the connection is closed), or a `BodyCutError` when the body
 * ends before it is whole. Does not bound the time it takes: it runs inside
 * the client's timeouts.
 *
 * @internal
 */
export const buffer = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.ResponseError> =>
  Effect.suspend(() => {
    // a protocol switch (101): what follows the head is not a body
    if (response.status === 101) return Effect.succeed(response)
    const node = nodeBodyOf(response)
    const cut = cutBefore(node)
    if (cut !== undefined) return Effect.fail(bodyError(response, cut, cut.message))
    const length = announcedLength(response)
    // @effect/platform-node's clients: read the Node readable itself (one listener set; a
    // `Stream` over it costs ~100 µs per read in Effect 3.22)
    if (node !== undefined) {
      return Effect.map(readNode(response, node, maxBytes, length), (body) => new BufferedResponse(response, body))
    }
    // `fetch`'s (`FetchHttpClient`, `HttpClientResponse.fromWeb`): its ReadableStream's reader
    const web = sourceOf(response)
    if (isWebResponse(web) && !web.bodyUsed) {
      return Effect.map(readWeb(response, web.body, maxBytes, length), (body) => new BufferedResponse(response, body))
    }
    // small announced bodies: one whole read by the client (cheapest); the length caps it
    if (length !== undefined && length <= maxBytes && length <= WHOLE_READ_MAX) {
      return Effect.matchEffect(response.arrayBuffer, {
        onFailure: (error) => Effect.fail(asCut(response, error, 0)),
        onSuccess: (data) => {
          const body = data instanceof Uint8Array ? data : new Uint8Array(data)
          return body.byteLength < length
            ? Effect.fail(asCut(response, new BodyCutError({ bytesRead: body.byteLength, beforeRead: false }), 0))
            : Effect.succeed<HttpClientResponse.HttpClientResponse>(new BufferedResponse(response, body))
        }
      })
    }
    return Effect.map(collect(response, response.stream, maxBytes, length), (body) => new BufferedResponse(response, body))
  })

/**
 * Reads the Node readable `body` of `response` into one array: fails past
 * `maxBytes` (at once when `announced`, its `Content-Length`, is larger), on
 * an `error`, on a `close` without `end` (a cut the readable reports without
 * an error), and when it ends short of `announced`. Failing or interrupted,
 * it destroys the readable, which closes the connection.
 */
const readNode = (
  response: HttpClientResponse.HttpClientResponse,
  body: NodeReadableLike,
  maxBytes: number,
  announced: number | undefined
): Effect.Effect<Uint8Array, HttpClientError.ResponseError> => {
  const tooLarge = () => {
    const error = new BodyTooLargeError({ maxBytes, contentLength: announced })
    return bodyError(response, error, error.message)
  }
  if (announced !== undefined && announced > maxBytes) {
    body.destroy()
    return Effect.fail(tooLarge())
  }
  // consumed already (not by this client): nothing more will come
  if (body.readableEnded) return Effect.succeed(new Uint8Array(0))
  return Effect.async<Uint8Array, HttpClientError.ResponseError>((resume) => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    let done = false
    const finish = (exit: Effect.Effect<Uint8Array, HttpClientError.ResponseError> | undefined, destroy: boolean) => {
      if (done) return
      done = true
      body.off("data", onData)
      body.off("end", onEnd)
      body.off("error", onError)
      body.off("close", onClose)
      if (destroy) body.destroy()
      if (exit !== undefined) resume(exit)
    }
    const cut = (cause: unknown) =>
      Effect.fail(asCut(response, new BodyCutError({ bytesRead: size, beforeRead: false, cause }), size))
    function onData(chunk: Uint8Array) {
      size += chunk.byteLength
      if (size > maxBytes) return finish(Effect.fail(tooLarge()), true)
      chunks.push(chunk)
    }
    function onEnd() {
      if (announced !== undefined && size < announced) return finish(cut(undefined), true)
      finish(Effect.succeed(concat(chunks, size)), false)
    }
    function onError(error: unknown) {
      finish(cut(error), true)
    }
    function onClose() {
      finish(cut(body.errored ?? undefined), true)
    }
    body.on("data", onData)
    body.on("end", onEnd)
    body.on("error", onError)
    body.on("close", onClose)
    // interrupted (a timeout): stop reading and close the connection
    return Effect.sync(() => finish(undefined, true))
  })
}

/**
 * Reads a web `ReadableStream` (the body of `response`; `null`: none) into
 * one array, with the limits of {@link readNode}; failing or interrupted, it
 * cancels the stream.
 */
const readWeb = (
  response: HttpClientResponse.HttpClientResponse,
  stream: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  announced: number | undefined
): Effect.Effect<Uint8Array, HttpClientError.ResponseError> => {
  if (stream === null) return Effect.succeed(new Uint8Array(0))
  const tooLarge = () => {
    const error = new BodyTooLargeError({ maxBytes, contentLength: announced })
    return bodyError(response, error, error.message)
  }
  return Effect.async<Uint8Array, HttpClientError.ResponseError>((resume) => {
    let reader: ReadableStreamDefaultReader<Uint8Array>
    try {
      reader = stream.getReader()
    } catch (error) {
      return resume(Effect.fail(asCut(response, error, 0)))
    }
    const chunks: Array<Uint8Array> = []
    let size = 0
    let done = false
    const stop = () => {
      done = true
      reader.cancel().catch(() => {})
    }
    const fail = (error: HttpClientError.ResponseError) => {
      stop()
      resume(Effect.fail(error))
    }
    if (announced !== undefined && announced > maxBytes) return fail(tooLarge())
    const pump = (): void => {
      reader.read().then(
        (result) => {
          if (done) return
          if (result.done) {
            done = true
            if (announced !== undefined && size < announced) {
              return resume(Effect.fail(asCut(response, new BodyCutError({ bytesRead: size, beforeRead: false }), size)))
            }
            return resume(Effect.succeed(concat(chunks, size)))
          }
          size += result.value.byteLength
          if (size > maxBytes) return fail(tooLarge())
          chunks.push(result.value)
          pump()
        },
        (error: unknown) => {
          if (done) return
          done = true
          resume(Effect.fail(asCut(response, error, size)))
        }
      )
    }
    pump()
    // interrupted (a timeout): cancel the body, which aborts the request
    return Effect.sync(() => {
      if (!done) stop()
    })
  })
}

const concat = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!
  const body = new Uint8Array(size)
  let offset = 0
  for (const bytes of chunks) {
    body.set(bytes, offset)
    offset += bytes.byteLength
  }
  return body
}

/**
 * Reads `stream` (the body of `response`) into one array, failing past
 * `maxBytes` (at once when `announced`, its `Content-Length`, is larger: the
 * first chunk is read only so that the stream closes the connection) and
 * when it ends short of `announced`.
 */
const collect = (
  response: HttpClientResponse.HttpClientResponse,
  stream: Stream.Stream<Uint8Array, HttpClientError.ResponseError>,
  maxBytes: number,
  announced: number | undefined
): Effect.Effect<Uint8Array, HttpClientError.ResponseError> => {
  let size = 0
  const chunks: Array<Uint8Array> = []
  const tooLarge = () => {
    const error = new BodyTooLargeError({ maxBytes, contentLength: announced })
    return Effect.fail(bodyError(response, error, error.message))
  }
  return stream.pipe(
    Stream.runForEachChunk((chunk) => {
      for (const bytes of chunk) {
        size += bytes.byteLength
        chunks.push(bytes)
      }
      return size > maxBytes || (announced !== undefined && announced > maxBytes) ? tooLarge() : Effect.void
    }),
    Effect.mapError((error) => asCut(response, error, size)),
    Effect.flatMap(() => {
      if (announced !== undefined && size < announced) {
        return Effect.fail(asCut(response, new BodyCutError({ bytesRead: size, beforeRead: false }), size))
      }
      return Effect.succeed(concat(chunks, size))
    })
  )
}

const decoder = new TextDecoder()

abstract class DelegatingResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  constructor(readonly original: HttpClientResponse.HttpClientResponse) {
    super()
  }
  get request(): HttpClientRequest.HttpClientRequest {
    return this.original.request
  }
  get status(): number {
    return this.original.status
  }
  get headers(): Headers.Headers {
    return this.original.headers
  }
  get cookies(): Cookies.Cookies {
    return this.original.cookies
  }
  get remoteAddress(): Option.Option<string> {
    return this.original.remoteAddress
  }
  protected decodeError(cause: unknown, description?: string): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      cause,
      ...(description === undefined ? {} : { description })
    })
  }
  abstract readonly text: Effect.Effect<string, HttpClientError.ResponseError>
  abstract readonly arrayBuffer: Effect.Effect<ArrayBuffer, HttpClientError.ResponseError>
  abstract readonly stream: Stream.Stream<Uint8Array, HttpClientError.ResponseError>
  abstract readonly formData: Effect.Effect<FormData, HttpClientError.ResponseError>
  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => (text === "" ? null : JSON.parse(text) as unknown),
        catch: (cause) => this.decodeError(cause)
      }))
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => UrlParams.fromInput(new URLSearchParams(text)),
        catch: (cause) => this.decodeError(cause)
      }))
  }
  toJSON(): unknown {
    return IncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
}

/**
 * A response whose body was read into memory inside the attempt.
 *
 * @internal
 */
export class BufferedResponse extends DelegatingResponse {
  constructor(original: HttpClientResponse.HttpClientResponse, readonly body: Uint8Array) {
    super(original)
  }
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.sync(() => decoder.decode(this.body))
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.sync(() => this.body.slice().buffer as ArrayBuffer)
  }
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.succeed(this.body)
  }
  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.tryPromise({
      try: () => new Response(this.body as Uint8Array<ArrayBuffer>, { headers: { "content-type": this.headers["content-type"] ?? "" } }).formData(),
      catch: (cause) => this.decodeError(cause)
    })
  }
}

/**
 * The deadline a streamed body is bounded by: the call's, captured when the
 * response was returned (the deadline's own region has ended by then).
 *
 * @internal
 */
export interface BodyDeadline {
  /** Monotonic millis of `clock` (see internal/time.ts) at which the call's deadline passes. */
  readonly at: number
  readonly clock: Clock.Clock
  /** The error of the timeout that set the deadline. */
  readonly error: () => TimeoutError
}

/**
 * A response returned in streaming mode: its body is read after the call,
 * by the caller, and each read is bounded by
 *
 * - `idleTimeout`: the longest wait for the next chunk (none when
 *   `undefined`); on expiry the read fails with a `ResponseError` (reason
 *   `"Decode"`) whose `cause` is a `TimeoutError` naming it;
 * - `deadline`: the call's deadline (none when `undefined`); once it passes,
 *   the read fails with a `ResponseError` whose `cause` is the deadline's
 *   `TimeoutError` (scope `"overall"` for the client's `timeout`).
 *
 * Either way the read is interrupted and the connection closed. Whole reads
 * (`text`, `json`, `arrayBuffer`, `formData`, `urlParamsBody`) read the
 * bounded stream into memory. A body cut before it is read, or cut while it
 * is read, fails with a `BodyCutError` cause (never an empty body, never a
 * read that waits forever: see {@link cutBeforeRead}).
 *
 * @internal
 */
export class StreamingResponse extends DelegatingResponse {
  constructor(
    original: HttpClientResponse.HttpClientResponse,
    readonly idleTimeout: Duration.Duration | undefined,
    readonly deadline: BodyDeadline | undefined,
    readonly policy: string
  ) {
    super(original)
  }
  private idleError(duration: Duration.Duration): HttpClientError.ResponseError {
    return bodyError(
      this,
      TimeoutError.make({ duration, policy: this.policy, scope: "attempt" }),
      `body stalled: no data for ${Duration.format(duration)} (bodyTimeout)`
    )
  }
  private deadlineError(deadline: BodyDeadline): HttpClientError.ResponseError {
    const error = deadline.error()
    return bodyError(this, error, `body not read whole within the call's deadline (${Duration.format(error.duration)})`)
  }
  /** Each pull waits at most the idle timeout, and never past the deadline. */
  private bounded(
    pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<HttpClientError.ResponseError>>
  ): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<HttpClientError.ResponseError>> {
    const idle = this.idleTimeout
    const idleMillis = idle === undefined ? Infinity : Duration.toMillis(idle)
    const deadline = this.deadline
    return Effect.suspend(() => {
      const left = deadline === undefined ? Infinity : deadline.at - monotonicMillis(deadline.clock)
      if (left <= 0) return Effect.fail(Option.some(this.deadlineError(deadline!)))
      const byDeadline = left < idleMillis
      // interruptible: the read is the library's own, its bound cuts it in an uninterruptible consumer too
      // (timeoutFail runs it on a fiber of its own there: the consumer's interruption does not reach it)
      return timeoutFail(Effect.interruptible(pull), {
        duration: Math.min(left, idleMillis),
        onTimeout: () => Option.some(byDeadline ? this.deadlineError(deadline!) : this.idleError(idle!))
      })
    })
  }
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.suspend(() => {
      const cut = cutBeforeRead(this.original)
      if (cut !== undefined) return Stream.fail(bodyError(this, cut, cut.message))
      let bytesRead = 0
      const source = this.original.stream.pipe(
        Stream.mapChunks((chunk) => {
          for (const bytes of chunk) bytesRead += bytes.byteLength
          return chunk
        }),
        Stream.mapError((error) => asCut(this, error, bytesRead))
      )
      if (this.idleTimeout === undefined && this.deadline === undefined) return source
      return Stream.fromPull(Effect.map(Stream.toPull(source), (pull) => this.bounded(pull)))
    })
  }
  /** The whole body, read through the bounded stream. */
  private get whole(): Effect.Effect<BufferedResponse, HttpClientError.ResponseError> {
    return Effect.map(
      collect(this, this.stream, Infinity, undefined),
      (body) => new BufferedResponse(this.original, body)
    )
  }
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.flatMap(this.whole, (r) => r.text)
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.flatMap(this.whole, (r) => r.arrayBuffer)
  }
  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.flatMap(this.whole, (r) => r.formData)
  }
}
