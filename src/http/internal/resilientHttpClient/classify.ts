/**
 * How the resilient HTTP client sorts what an attempt gave: the origin of a
 * request, which errors are failures of the origin (for the breaker), which
 * are retried, and the reason a failure is counted under in the metrics.
 *
 * @internal
 */
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as CircuitBreaker from "../../../CircuitBreaker.js"
import { Outcome } from "../../../internal/circuitBreaker/classify.js"
import { isRejection, ResilienceErrorTypeId, TimeoutError } from "../../../internal/errors.js"
import type * as ResilientHttpClient from "../../ResilientHttpClient.js"
import { BodyTooLargeError, HttpStatusError } from "./errors.js"

/** @internal */
export const IDEMPOTENT_METHODS: ReadonlyArray<string> = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]

/** @internal */
export const RETRYABLE_STATUSES: ReadonlyArray<number> = [408, 429, 500, 502, 503, 504]

/** @internal */
export const IDEMPOTENCY_KEY = "idempotency-key"

/** @internal */
export const originOf = (request: HttpClientRequest.HttpClientRequest): string => {
  try {
    const origin = new URL(request.url).origin
    return origin === "null" ? "invalid" : origin
  } catch {
    return "invalid"
  }
}

/** @internal */
export const isOriginFailure = (error: unknown): boolean => {
  if (error instanceof HttpStatusError) return error.status >= 500
  if (isRejection(error)) return false
  // the deadline of the request being served (its header) is the caller's budget, not the origin's failure
  if (error instanceof TimeoutError) return error.fromRequest !== true
  if (HttpClientError.isHttpClientError(error)) {
    if (error._tag === "RequestError") return error.reason === "Transport"
    // a status turned into an error by the client itself (`HttpClient.filterStatusOk` inside the transform)
    if (error.reason === "StatusCode") return error.response.status >= 500
    return error.reason === "Decode" && !(error.cause instanceof BodyTooLargeError)
  }
  return false
}

/**
 * The response a status error carries, ours or `@effect/platform`'s.
 *
 * @internal
 */
export const statusResponse = (error: unknown): HttpClientResponse.HttpClientResponse | undefined => {
  if (error instanceof HttpStatusError) return error.response
  if (HttpClientError.isHttpClientError(error) && error._tag === "ResponseError" && error.reason === "StatusCode") {
    return error.response
  }
  return undefined
}

/**
 * Whether the retry policy retries `error`: a retryable status (whose
 * `Retry-After`, if any, is not longer than the client waits for), an
 * attempt timeout, or another failure of the origin.
 *
 * @internal
 */
export const isRetryable = (error: unknown, statuses: ReadonlySet<number>, maxRetryAfterMillis: number): boolean => {
  if (error instanceof HttpStatusError) {
    if (!statuses.has(error.status)) return false
    return error.retryAfter === undefined || Duration.toMillis(error.retryAfter) <= maxRetryAfterMillis
  }
  if (error instanceof TimeoutError) return error.scope !== "overall"
  if (HttpClientError.isHttpClientError(error) && error._tag === "ResponseError" && error.reason === "StatusCode") {
    return statuses.has(error.response.status)
  }
  return isOriginFailure(error)
}

/**
 * What a call that went through the retries counts as for the breaker:
 * failures of the origin (with the `Retry-After` of a 5xx, which lengthens
 * the break if the circuit opens), or nothing (errors that are the
 * caller's, such as an invalid URL).
 *
 * @internal
 */
export const classify = (exit: Exit.Exit<unknown, unknown>): CircuitBreaker.Outcome => {
  if (Exit.isSuccess(exit)) return Outcome.success
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") return Outcome.failure()
  const error = failure.value
  if (!isOriginFailure(error)) return Outcome.ignored
  return error instanceof HttpStatusError && error.retryAfter !== undefined
    ? Outcome.failure({ retryAfter: error.retryAfter })
    : Outcome.failure()
}

/**
 * The `reason` label of `resilience_http_failures`.
 *
 * @internal
 */
export const failureReason = (error: unknown): string => {
  if (statusResponse(error) !== undefined) return "status_5xx"
  if (error instanceof TimeoutError) return "timeout"
  if (HttpClientError.isHttpClientError(error)) return error._tag === "RequestError" ? "transport" : "body"
  return "other"
}

/** @internal */
export const resilienceErrorOf = (error: unknown): Option.Option<ResilientHttpClient.ResilienceError> => {
  if (HttpClientError.isHttpClientError(error) && error._tag === "RequestError") {
    const cause = error.cause
    if (Predicate.hasProperty(cause, ResilienceErrorTypeId)) return Option.some(cause as ResilientHttpClient.ResilienceError)
  }
  return Option.none()
}
