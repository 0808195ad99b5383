/**
 * Response helpers for the resilient client: draining a discarded response,
 * buffering a body inside an attempt, and bounding the time to read a body.
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
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import type * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { ResilienceErrorTypeId, TimeoutError } from "../../Errors.js"
import { timeoutFail } from "../../internal/time.js"

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
  response.stream.pipe(
    Stream.runFoldWhile(0, (n) => n <= maxBytes, (n, chunk: Uint8Array) => n + chunk.byteLength),
    Effect.timeout(timeout),
    Effect.ignore
  )

/**
 * The body of a response was larger than `maxBufferBytes`. The `cause` of a
 * `ResponseError` with reason `"Decode"`; never retried.
 *
 * @internal
 */
export class BodyTooLargeError extends Data.TaggedError("BodyTooLargeError")<{
  readonly maxBytes: number
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    return `Response body larger than ${this.maxBytes} bytes`
  }
}

/**
 * Reads the whole body (at most `maxBytes`) and returns a response serving
 * it from memory.
 *
 * @internal
 */
export const buffer = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.ResponseError> =>
  response.stream.pipe(
    Stream.runFoldWhileEffect(
      { size: 0, chunks: Chunk.empty<Uint8Array>() },
      () => true,
      (acc, chunk: Uint8Array) => {
        const size = acc.size + chunk.byteLength
        if (size > maxBytes) {
          return Effect.fail(
            new HttpClientError.ResponseError({
              request: response.request,
              response,
              reason: "Decode",
              description: `body larger than ${maxBytes} bytes`,
              cause: new BodyTooLargeError({ maxBytes })
            })
          )
        }
        return Effect.succeed({ size, chunks: Chunk.append(acc.chunks, chunk) })
      }
    ),
    Effect.map(({ chunks, size }) => {
      const body = new Uint8Array(size)
      let offset = 0
      for (const chunk of chunks) {
        body.set(chunk, offset)
        offset += chunk.byteLength
      }
      return new BufferedResponse(response, body)
    })
  )

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
 * A response whose body must be read within `timeout`: the buffered
 * accessors (`text`, `json`, `arrayBuffer`, …) bound the whole read, the
 * `stream` bounds the wait for each chunk. On expiry the read is
 * interrupted (the connection closed) and fails with a `ResponseError`
 * (reason `"Decode"`) whose `cause` is a `TimeoutError`.
 *
 * @internal
 */
export class TimedBodyResponse extends DelegatingResponse {
  constructor(
    original: HttpClientResponse.HttpClientResponse,
    readonly timeout: Duration.Duration,
    readonly policy: string
  ) {
    super(original)
  }
  private timeoutError(): HttpClientError.ResponseError {
    return this.decodeError(
      new TimeoutError({ duration: this.timeout, policy: this.policy, scope: "attempt" }),
      `body not read within ${Duration.format(this.timeout)}`
    )
  }
  private bound<A>(effect: Effect.Effect<A, HttpClientError.ResponseError>): Effect.Effect<A, HttpClientError.ResponseError> {
    return timeoutFail(effect, { duration: this.timeout, onTimeout: () => this.timeoutError() })
  }
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return this.bound(this.original.text)
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return this.bound(this.original.arrayBuffer)
  }
  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return this.bound(this.original.formData)
  }
  override get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return this.bound(this.original.json)
  }
  override get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return this.bound(this.original.urlParamsBody)
  }
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.timeoutFail(this.original.stream, () => this.timeoutError(), this.timeout)
  }
}
