/**
 * The errors the resilient HTTP client builds: a retryable or 5xx status
 * carried through retry and breaker (`HttpStatusError`), and the causes of a
 * body that could not be read whole (`BodyCutError`, `BodyTooLargeError`).
 * Re-exported by `ResilientHttpClient.ts`.
 *
 * @internal
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import { ResilienceErrorTypeId } from "../../../internal/errors.js"

/**
 * A response with a status the pipeline treats as a failure (a retryable
 * status or any 5xx), carried through retry and breaker as a typed error.
 * The client never fails with it: when retrying stops, the response itself
 * is returned.
 *
 * @internal
 */
export class HttpStatusError extends Data.TaggedError("HttpStatusError")<{
  readonly response: HttpClientResponse.HttpClientResponse
  readonly status: number
  readonly origin: string
  /** From the response's `Retry-After` header, when it had a valid one. */
  readonly retryAfter?: Duration.Duration | undefined
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    const hint = this.retryAfter === undefined ? "" : `, retry after ${Duration.format(this.retryAfter)}`
    return `HTTP ${this.status} from ${this.origin} (${this.response.request.method} ${pathOf(this.response.request)}${hint})`
  }
}

const pathOf = (request: HttpClientRequest.HttpClientRequest): string => {
  try {
    return new URL(request.url).pathname
  } catch {
    return "?"
  }
}

/**
 * The body of a response was larger than `maxBufferBytes`: the `cause` of a
 * `ResponseError` with reason `"Decode"`. Neither retried nor counted by the
 * circuit breaker (the upstream is not failing; the body is larger than this
 * client accepts). The rest of the body is not read: its connection is
 * closed.
 *
 * @internal
 */
export class BodyTooLargeError extends Data.TaggedError("BodyTooLargeError")<{
  /** The limit: the client's `maxBufferBytes`. */
  readonly maxBytes: number
  /** The size the response announced in `Content-Length`, when it did. */
  readonly contentLength?: number | undefined
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    const announced = this.contentLength === undefined ? "" : ` (Content-Length: ${this.contentLength})`
    return `Response body larger than maxBufferBytes (${this.maxBytes} bytes)${announced}`
  }
}

/**
 * The body of a response ended before it was whole: its connection was
 * reset or closed (before or while it was read), or it was shorter than its
 * `Content-Length`. The `cause` of a `ResponseError` with reason `"Decode"`;
 * its own `cause` is the HTTP client's error, when it gave one. A failure of
 * the origin: retried and counted by the breaker when it happens inside the
 * call (the default, buffered mode).
 *
 * @internal
 */
export class BodyCutError extends Data.TaggedError("BodyCutError")<{
  /** Body bytes read before the cut (0 when it was cut before reading started). */
  readonly bytesRead: number
  /** True when the connection was already closed when reading started. */
  readonly beforeRead: boolean
  /** The HTTP client's error, if it gave one. */
  readonly cause?: unknown
}> {
  readonly [ResilienceErrorTypeId]: ResilienceErrorTypeId = ResilienceErrorTypeId
  override get message(): string {
    return this.beforeRead
      ? "Response body cut: its connection was closed before the body was read"
      : `Response body cut: its connection was closed after ${this.bytesRead} bytes, before the end of the body`
  }
}
