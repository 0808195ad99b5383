/**
 * Deadline propagation, the client's side: each attempt to an origin
 * configured for it carries the time the call still has — the remaining
 * time of the innermost deadline the attempt runs under (its attempt
 * timeout, the call's timeout, or an enclosing one such as the request a
 * `ResilientHttpServer` is serving) — as a relative duration in whole
 * milliseconds, in the deadline header (`Request-Timeout-Ms` by default).
 * Off by default, and only to the origins listed: a deadline never leaks
 * to third parties.
 *
 * The header is set per attempt, when the attempt is sent: a retry sends
 * what is left then. This needs the request at send time, which
 * `HttpClient.transform` does not give (its effect sends a fixed request), so
 * {@link transform} builds the client with `HttpClient.makeWith` from the
 * underlying client's pre- and post-processing (fields of
 * `@effect/platform`'s client implementation; without a propagation it is
 * `HttpClient.transform` itself).
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientRequestModule from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { active, currentDeadline, type Deadline, expired } from "../../../internal/deadline.js"
import * as Spec from "../../../internal/spec.js"
import { monotonicMillis } from "../../../internal/time.js"
import * as validate from "../../../internal/validate.js"
import { isHeaderName } from "../resilientHttpServer/headers.js"
import { DEFAULT_DEADLINE_HEADER } from "../resilientHttpServer/options.js"
import { originOf } from "./classify.js"

/** Which origins get the header. @internal */
export type Origins = ReadonlyArray<string> | ((origin: string) => boolean)

const ORIGINS = "an array of origins (scheme://host[:port]) or a predicate on the origin"
const HEADER = "a header field name (an RFC 9110 token)"

/** An origin as `new URL(...).origin` writes it (`https://api.example.com`, default ports dropped); undefined if not one. */
const normalize = (s: string): string | undefined => {
  try {
    const url = new URL(s)
    const origin = url.origin
    // only a bare origin: no path, query, fragment or credentials
    if (origin === "null" || url.username !== "" || url.password !== "") return undefined
    if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") return undefined
    return origin
  } catch {
    return undefined
  }
}

/** The `origins` option: a list of origins (also from `Config`, as a list) or a predicate. */
const originsField = new Spec.Field<Origins | undefined>({
  ...(Spec.code<Origins>(ORIGINS, () => true).props as Spec.Field<any>["props"]),
  parse: (m, o, v) => {
    if (typeof v === "function") return v as (origin: string) => boolean
    if (!Array.isArray(v)) throw validate.invalid(m, o, v, ORIGINS)
    return v.map((s) => {
      const origin = typeof s === "string" ? normalize(s) : undefined
      if (origin === undefined) throw validate.invalid(m, o, v, ORIGINS)
      return origin
    })
  },
  read: (key: string) => Config.array(Config.string(), key)
}).required()

const headerField = new Spec.Field<string | undefined>({
  ...(Spec.string().props as Spec.Field<any>["props"]),
  expected: HEADER,
  parse: (m, o, v) => {
    if (typeof v !== "string" || !isHeaderName(v)) throw validate.invalid(m, o, v, HEADER)
    return v.toLowerCase()
  }
}).default(DEFAULT_DEADLINE_HEADER)

/** The `propagateDeadline` option of the client: absent (off) unless given. @internal */
export const field = Spec.optionalGroup({ origins: originsField, header: headerField })

/** The option, resolved. @internal */
export interface Propagation {
  readonly header: string
  readonly allows: (origin: string) => boolean
}

/** @internal */
export const fromResolved = (
  r: { readonly origins: Origins; readonly header: string } | undefined
): Propagation | undefined => {
  if (r === undefined) return undefined
  const origins = r.origins
  if (typeof origins === "function") {
    return {
      header: r.header,
      // user code: a predicate that throws or answers a non-boolean sends nothing
      allows: (origin) => {
        try {
          return origins(origin) === true
        } catch {
          return false
        }
      }
    }
  }
  const set = new Set(origins)
  return { header: r.header, allows: (origin) => set.has(origin) }
}

/**
 * `request` with the deadline header, when its origin is configured and the
 * fiber runs under a deadline (else as it is): the time left, in whole
 * milliseconds, rounded down. Returns the deadline it sent, if any.
 *
 * @internal
 */
export const withDeadline = (
  propagation: Propagation,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<readonly [HttpClientRequest.HttpClientRequest, Deadline | undefined]> =>
  Effect.withFiberRuntime((fiber) => {
    const deadline = active(fiber.getFiberRef(currentDeadline))
    if (deadline === undefined || !propagation.allows(originOf(request))) return Effect.succeed([request, undefined] as const)
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    const left = Math.max(0, Math.floor(deadline.at - monotonicMillis(clock)))
    return Effect.succeed([HttpClientRequestModule.setHeader(request, propagation.header, String(left)), deadline] as const)
  })

/**
 * Sends `request` with the deadline header. A `504` that comes back once the
 * deadline it carried has passed is that deadline ending the call (the
 * service called gave up at it, as this caller did): the call fails with the
 * deadline's own `TimeoutError` — a request's deadline is then never counted
 * against the origin by the breaker — rather than with a status of the
 * origin. (Over a real network the caller's own deadline comes first; under
 * a shared test clock they are one instant.)
 */
const send = <E, R>(
  propagation: Propagation,
  request: HttpClientRequest.HttpClientRequest,
  postprocess: Processing<E, R>["postprocess"]
): Effect.Effect<Response, E, R> =>
  Effect.flatMap(withDeadline(propagation, request), ([sent, deadline]) => {
    const response = postprocess(Effect.succeed(sent))
    if (deadline === undefined) return response
    return Effect.flatMap(response, (r) =>
      Effect.clockWith((clock) =>
        r.status === 504 && deadline.at - monotonicMillis(clock) <= 0
          ? Effect.failSync(() => expired(deadline) as unknown as E)
          : Effect.succeed(r)
      ))
  })

type Response = HttpClientResponse.HttpClientResponse

/** What `@effect/platform`'s client implementation keeps: how it prepares a request and sends it. */
interface Processing<E, R> {
  readonly preprocess: (request: HttpClientRequest.HttpClientRequest) => Effect.Effect<HttpClientRequest.HttpClientRequest, E, R>
  readonly postprocess: (request: Effect.Effect<HttpClientRequest.HttpClientRequest, E, R>) => Effect.Effect<Response, E, R>
}

/**
 * `HttpClient.transform(client, f)`, where the effect `f` gets sends the
 * request with the deadline header of the moment each attempt runs.
 *
 * @internal
 */
export const transform = <E, R, E1, R1>(
  client: HttpClient.HttpClient.With<E, R>,
  f: (effect: Effect.Effect<Response, E, R>, request: HttpClientRequest.HttpClientRequest) => Effect.Effect<Response, E1, R1>,
  propagation: Propagation | undefined
): HttpClient.HttpClient.With<E | E1, R | R1> => {
  const processing = client as unknown as Partial<Processing<E, R>>
  if (
    propagation === undefined || typeof processing.preprocess !== "function" ||
    typeof processing.postprocess !== "function"
  ) {
    return HttpClient.transform(client, f)
  }
  const { postprocess, preprocess } = processing as Processing<E, R>
  return HttpClient.makeWith(
    (prepared: Effect.Effect<HttpClientRequest.HttpClientRequest, E, R>) =>
      Effect.flatMap(prepared, (request) => f(send(propagation, request, postprocess), request)),
    preprocess
  )
}
