/**
 * The one mapping from the library's errors to HTTP answers, and the
 * `Schema.TaggedError`s that carry them (for `HttpApi`: annotated with their
 * status; elsewhere `HttpServerRespondable`, so failing with one answers it).
 *
 * | error | answer |
 * |---|---|
 * | `RateLimitExceededError` | 429 `RateLimited`, `Retry-After` |
 * | `TimeoutError` (a deadline, a timeout) | 504 `DeadlineExceeded` |
 * | open or half-open circuit, full bulkhead, store failures, a full idempotency store (every other rejection) | 503 `Unavailable`, `Retry-After` when known |
 *
 * Bodies are small JSON objects, `{"_tag":"Unavailable","retryAfterSeconds":3}`:
 * no policy names, keys, limits or messages of the library's errors.
 *
 * @internal
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { isRejection, ResilienceErrorTypeId, retryAfterOf, TimeoutError } from "../../../internal/errors.js"

const retryAfterSeconds = Schema.optional(Schema.NonNegativeInt)

/** Whole seconds, rounded up (the `Retry-After` and `t` of a millisecond duration). @internal */
export const secondsOf = (millis: number): number => Math.max(0, Math.ceil(millis / 1000 - 1e-9))

const respond = (
  status: number,
  error: { readonly _tag: string; readonly retryAfterSeconds?: number | undefined }
): HttpServerResponse.HttpServerResponse => {
  const seconds = error.retryAfterSeconds
  return HttpServerResponse.unsafeJson(
    seconds === undefined ? { _tag: error._tag } : { _tag: error._tag, retryAfterSeconds: seconds },
    {
      status,
      headers: seconds === undefined
        ? { "cache-control": "no-store" }
        : { "cache-control": "no-store", "retry-after": String(seconds) }
    }
  )
}

const durationOf = (seconds: number | undefined): Duration.Duration | undefined =>
  seconds === undefined ? undefined : Duration.seconds(seconds)

/** @internal */
export class Unavailable extends Schema.TaggedError<Unavailable>("effect-resilience/http/ResilientHttpServer/Unavailable")(
  "Unavailable",
  { retryAfterSeconds },
  HttpApiSchema.annotations({ status: 503, description: "Service unavailable: overloaded or a dependency is down" })
) {
  /** The `Retry-After` hint as a `Duration` (what `Errors.retryAfterOf` and `Retry` read). */
  get retryAfter(): Duration.Duration | undefined {
    return durationOf(this.retryAfterSeconds)
  }
  override get message(): string {
    return this.retryAfterSeconds === undefined
      ? "Service unavailable"
      : `Service unavailable: retry after ${this.retryAfterSeconds}s`
  }
  [HttpServerRespondable.symbol](): Effect.Effect<HttpServerResponse.HttpServerResponse> {
    return Effect.succeed(respond(503, this))
  }
}

/** @internal */
export class RateLimited extends Schema.TaggedError<RateLimited>("effect-resilience/http/ResilientHttpServer/RateLimited")(
  "RateLimited",
  { retryAfterSeconds },
  HttpApiSchema.annotations({ status: 429, description: "Too many requests: the client's rate limit is exceeded" })
) {
  /** The `Retry-After` hint as a `Duration` (what `Errors.retryAfterOf` and `Retry` read). */
  get retryAfter(): Duration.Duration | undefined {
    return durationOf(this.retryAfterSeconds)
  }
  override get message(): string {
    return this.retryAfterSeconds === undefined
      ? "Too many requests"
      : `Too many requests: retry after ${this.retryAfterSeconds}s`
  }
  [HttpServerRespondable.symbol](): Effect.Effect<HttpServerResponse.HttpServerResponse> {
    return Effect.succeed(respond(429, this))
  }
}

/** @internal */
export class DeadlineExceeded
  extends Schema.TaggedError<DeadlineExceeded>("effect-resilience/http/ResilientHttpServer/DeadlineExceeded")(
    "DeadlineExceeded",
    {},
    HttpApiSchema.annotations({ status: 504, description: "The request's deadline passed before it was served" })
  )
{
  override get message(): string {
    return "The request's deadline passed"
  }
  [HttpServerRespondable.symbol](): Effect.Effect<HttpServerResponse.HttpServerResponse> {
    return Effect.succeed(respond(504, this))
  }
}

/** @internal */
export type ApiError = Unavailable | RateLimited | DeadlineExceeded

/** @internal */
export const ApiError: Schema.Union<[typeof Unavailable, typeof RateLimited, typeof DeadlineExceeded]> = Schema.Union(
  Unavailable,
  RateLimited,
  DeadlineExceeded
)

/** @internal */
export const isApiError = (u: unknown): u is ApiError =>
  u instanceof Unavailable || u instanceof RateLimited || u instanceof DeadlineExceeded

/** The status of an {@link ApiError}. @internal */
export const statusOf = (error: ApiError): number =>
  error._tag === "Unavailable" ? 503 : error._tag === "RateLimited" ? 429 : 504

const secondsHint = (error: unknown): number | undefined => {
  const hint = retryAfterOf(error)
  return Option.isSome(hint) ? secondsOf(Duration.toMillis(hint.value)) : undefined
}

const unavailable = (seconds: number | undefined): Unavailable =>
  seconds === undefined ? new Unavailable({}) : new Unavailable({ retryAfterSeconds: seconds })

/**
 * The answer to one of the library's errors (see the module's table), or
 * `None` for anything else. An {@link ApiError} is its own answer.
 *
 * @internal
 */
export const toApiError = (error: unknown): Option.Option<ApiError> => {
  if (isApiError(error)) return Option.some(error)
  if (!Predicate.hasProperty(error, ResilienceErrorTypeId)) return Option.none()
  if (error instanceof TimeoutError) return Option.some(new DeadlineExceeded())
  const tag = (error as { readonly _tag?: unknown })._tag
  if (tag === "RateLimitExceededError" && isRejection(error)) {
    const seconds = secondsHint(error)
    return Option.some(seconds === undefined ? new RateLimited({}) : new RateLimited({ retryAfterSeconds: seconds }))
  }
  // every other rejection, and a breaker whose store failed (it is a CircuitBreakerError too)
  if (isRejection(error) || tag === "CircuitBreakerError") return Option.some(unavailable(secondsHint(error)))
  return Option.none()
}

/**
 * An {@link ApiError} as a response: its status, `Retry-After` when it has a
 * hint, `Cache-Control: no-store`, and its JSON.
 *
 * @internal
 */
export const responseOf = (error: ApiError): HttpServerResponse.HttpServerResponse => respond(statusOf(error), error)

/** @internal */
export const toResponse = (error: unknown): Option.Option<HttpServerResponse.HttpServerResponse> =>
  Option.map(toApiError(error), responseOf)
