/**
 * The resilient HTTP client (issue 18): what `ResilientHttpClient` adds per
 * call over the plain `@effect/platform` client, against an in-memory
 * upstream (`HttpClient.make` answering from memory), so that loopback and
 * socket noise do not swamp the figure.
 *
 * A call is what a service does: `client.get(url)` then `response.json`. The
 * upstream answers one microtask later (as I/O does) with a small JSON body
 * and its `content-length`, like most API responses. The client's per-call
 * overhead is the `ours` row minus the `effect` (plain client) row of the same
 * path; bench/README.md records it.
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type Case, effectCase, type EffectCall, scopedCase } from "./_lib.js"

const ResilientHttpClient = (await import("../../src/http/ResilientHttpClient.js")) as any

const BODY = new TextEncoder().encode(JSON.stringify({ id: 42, name: "item", price: 9.5 }))
const HEADERS = Headers.fromInput({ "content-type": "application/json", "content-length": String(BODY.byteLength) })
const decoder = new TextDecoder()

/** A response held in memory: the body is a `Uint8Array`, every read is synchronous. */
class MemoryResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [IncomingMessage.TypeId]: IncomingMessage.TypeId = IncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly status = 200
  readonly cookies = Cookies.empty
  readonly remoteAddress = Option.none<string>()
  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly body: Uint8Array,
    readonly headers: Headers.Headers
  ) {
    super()
  }
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.sync(() => decoder.decode(this.body))
  }
  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.sync(() => JSON.parse(decoder.decode(this.body)) as unknown)
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.sync(() => this.body.slice().buffer as ArrayBuffer)
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.sync(() => UrlParams.fromInput(new URLSearchParams(decoder.decode(this.body))))
  }
  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.die("not used")
  }
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.succeed(this.body)
  }
  toJSON(): unknown {
    return { _id: "MemoryResponse", status: this.status }
  }
}

/** The in-memory upstream: answers every request one microtask later (as I/O does). */
const upstreamWith = (headers: Headers.Headers): HttpClient.HttpClient =>
  HttpClient.make((request) =>
    Effect.async<HttpClientResponse.HttpClientResponse>((resume) => {
      queueMicrotask(() => resume(Effect.succeed(new MemoryResponse(request, BODY, headers))))
    })
  )
const upstream = upstreamWith(HEADERS)

/**
 * The same upstream answering with a web `Response` (what `FetchHttpClient`
 * returns), its body a `ReadableStream` without `Content-Length` (chunked).
 */
const webUpstream: HttpClient.HttpClient = HttpClient.make((request) =>
  Effect.async<HttpClientResponse.HttpClientResponse>((resume) => {
    queueMicrotask(() =>
      resume(Effect.succeed(HttpClientResponse.fromWeb(request, new Response(BODY, { headers: { "content-type": "application/json" } }))))
    )
  })
)

const URL_ = "http://upstream.internal/items/42"

const getJson = (client: HttpClient.HttpClient.With<unknown>): EffectCall => () =>
  Effect.flatMap(client.get(URL_), (response) => response.json)

/** Name of the plain client's case (the peer of the resilient one). */
export const PLAIN = "effect: HttpClient (in-memory upstream), get + json"
/** Name of the plain client's case over web `Response`s. */
export const PLAIN_WEB = "effect: HttpClient (in-memory upstream, web Response, chunked), get + json"

export const cases: ReadonlyArray<Case> = [
  effectCase({
    name: PLAIN,
    group: "http",
    lib: "effect",
    path: "async",
    note: "the plain @effect/platform client over an in-memory upstream answering after one microtask: the floor",
    call: getJson(upstream)
  }),
  scopedCase({
    name: "ours: ResilientHttpClient defaults, get + json",
    group: "http",
    lib: "ours",
    path: "async",
    peers: [PLAIN],
    note: "default options (overall and attempt timeouts, bulkhead, breaker and retry per origin, metrics); its overhead minus the plain client's is the client's cost per call",
    make: Effect.map(
      ResilientHttpClient.makeTransform({}) as Effect.Effect<any, unknown, Scope.Scope>,
      (resilience): EffectCall => getJson(upstream.pipe(resilience))
    )
  }),
  effectCase({
    name: PLAIN_WEB,
    group: "http",
    lib: "effect",
    path: "async",
    note: "the plain client over web Responses (FetchHttpClient's kind), chunked: the platform's `json` reads the Response",
    call: getJson(webUpstream)
  }),
  scopedCase({
    name: "ours: ResilientHttpClient defaults, get + json, web Response, chunked",
    group: "http",
    lib: "ours",
    path: "async",
    peers: [PLAIN_WEB],
    note: "the same over web Responses without Content-Length: the client reads the body with the ReadableStream's reader",
    make: Effect.map(
      ResilientHttpClient.makeTransform({}) as Effect.Effect<any, unknown, Scope.Scope>,
      (resilience): EffectCall => getJson(webUpstream.pipe(resilience))
    )
  })
]
