/**
 * Server protection for `@effect/platform` servers: a middleware (an
 * `HttpApp` → `HttpApp` function, as `HttpMiddleware` defines one) that sheds
 * load, rate-limits clients, applies request deadlines and answers the
 * library's errors with the right HTTP status. Named after Effect's own
 * `HttpMiddleware`/`HttpServer` vocabulary and after its twin,
 * `ResilientHttpClient`.
 *
 * Per request, in this order (each part only when its options are given):
 *
 * 1. **`deadline`** — the request may take at most `deadline.max` (30 s by
 *    default); when `deadline.trustHeader` says so, a shorter deadline sent by
 *    the caller in the `Request-Timeout-Ms` header (a relative duration in
 *    milliseconds: clock skew makes absolute instants wrong) applies instead.
 *    A request that arrives with no time left is answered 504 at once,
 *    neither charged nor run. The handler runs under the library's deadline,
 *    so every policy inside honours it (a `Retry` never sleeps past it, a
 *    `Timeout` never outlives it, the `ResilientHttpClient` bounds its calls
 *    by it); when it passes, the handler is interrupted, and the answer is 504.
 *    A deadline from the header is the caller's budget: no circuit breaker
 *    inside ever counts it as a failure of its dependency (the server's own
 *    maximum is the library's deadline and counts like any `Timeout`).
 * 2. **`rateLimit`** — per client key (a function of the request: the remote
 *    address by default, an API key, a user), on the library's
 *    `RateLimiter` and its store (memory by default; the Redis store of
 *    `effect-resilience/redis` shares limits between instances). Over the
 *    limit: 429 with `Retry-After` and the `RateLimit` / `RateLimit-Policy`
 *    header fields of draft-ietf-httpapi-ratelimit-headers-10 (Structured
 *    Fields: `RateLimit-Policy: "default";q=100;w=60` and
 *    `RateLimit: "default";r=0;t=12`); admitted responses carry them too.
 * 3. **`concurrency`** — at most `maxConcurrent` requests run at once (per
 *    app, per route or per key), on the library's `Bulkhead`; shed requests
 *    get 503 with `Retry-After`. A client that disconnects releases its
 *    permit (its handler is interrupted).
 * 4. **`mapErrors`** (on by default) — the library's errors that the handler
 *    fails with become their answers ({@link toResponse}): an open circuit or
 *    any other rejection → 503 (`Retry-After` when known), a rate limit → 429,
 *    a timeout → 504, each with a small JSON body and no internals.
 *
 * Where to put it: around the app or router (`router.pipe(server)`), with
 * `HttpRouter.use(server)` (per route: `partition: "route"` then gives each
 * route its own limit), globally for an `HttpApi` with
 * `HttpApiBuilder.middleware(ResilientHttpServer.make(options))`, or per
 * endpoint as an `HttpApiMiddleware` ({@link layerApiMiddleware}).
 *
 * @since 0.2.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as AdaptiveLimit from "../AdaptiveLimit.js"
import type * as Bulkhead from "../Bulkhead.js"
import type { InvalidOptionsError } from "../Errors.js"
import type * as RateLimiter from "../RateLimiter.js"
import * as errors from "./internal/resilientHttpServer/errors.js"
import * as options_ from "./internal/resilientHttpServer/options.js"
import * as internal from "./internal/resilientHttpServer/server.js"

/**
 * The identifier of the middleware (see {@link isResilientHttpServer}).
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Effect } from "effect"
 *
 * const program = Effect.map(ResilientHttpServer.make({}), (server) => ResilientHttpServer.TypeId in server) // true
 * ```
 *
 * @since 0.2.0
 * @category Type IDs
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @example
 * ```ts
 * import type { ResilientHttpServer } from "effect-resilience/http"
 *
 * const hasId = (u: { readonly [ResilientHttpServer.TypeId]?: unknown }) => u
 * ```
 *
 * @since 0.2.0
 * @category Type IDs
 */
export type TypeId = typeof TypeId

/**
 * The server middleware: call it on an `HttpApp` (an app, a router, a route's
 * handler) to protect it. It keeps the app's error and requirement types: its
 * own rejections are answers, not failures.
 *
 * @example
 * ```ts
 * import { HttpRouter, HttpServerResponse } from "@effect/platform"
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Effect } from "effect"
 *
 * const app = Effect.gen(function*() {
 *   const server: ResilientHttpServer.ResilientHttpServer = yield* ResilientHttpServer.make({
 *     concurrency: { maxConcurrent: 100 }
 *   })
 *   return HttpRouter.empty.pipe(HttpRouter.get("/", HttpServerResponse.text("ok")), server)
 * })
 * ```
 *
 * @since 0.2.0
 * @category Models
 */
export interface ResilientHttpServer {
  <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R>
  readonly [TypeId]: TypeId
  /** The middleware's name (a callable's own `name` is read-only, so it is not used). */
  readonly policyName: string
  /** Its bulkhead (`concurrency`), to read its `stats` or `resize` it. */
  readonly bulkhead: Bulkhead.Bulkhead<any> | undefined
  /** Its rate limiter (`rateLimit`), to read its `stats` or `events`. */
  readonly rateLimiter: RateLimiter.RateLimiter | undefined
  /**
   * The same protection as an `HttpApiMiddleware`'s effect (see
   * {@link layerApiMiddleware}).
   */
  readonly apiMiddleware: Effect.Effect<void, ApiError, HttpRouter.HttpRouter.Provided>
  /** What it did since it was made. */
  readonly stats: () => Effect.Effect<ResilientHttpServer.Stats>
  /** The synchronous twin of `stats`. */
  readonly unsafeStats: () => ResilientHttpServer.Stats
}

/**
 * The middleware's option, stats and function types.
 *
 * @example
 * ```ts
 * import type { ResilientHttpServer } from "effect-resilience/http"
 *
 * const options: ResilientHttpServer.ResilientHttpServer.Options = { concurrency: { maxConcurrent: 50 } }
 * ```
 *
 * @since 0.2.0
 */
export declare namespace ResilientHttpServer {
  /**
   * A client's rate-limit key, from its request: a string, or `undefined`
   * for a request that is not rate limited. It may be an `Effect` (bounded
   * to 1 second). A function that throws, fails or answers anything else is
   * reported (`resilience_user_code_failures`) and the request is not rate
   * limited; a key the limiter refuses (longer than `maxKeyLength`) shares
   * one limit with every other refused key.
   *
   * @example
   * ```ts
   * import type { ResilientHttpServer } from "effect-resilience/http"
   *
   * const byTenant: ResilientHttpServer.ResilientHttpServer.KeyFunction = (request) => request.headers["x-tenant"]
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export type KeyFunction = (
    request: HttpServerRequest.HttpServerRequest
  ) => string | undefined | Effect.Effect<string | undefined>

  /**
   * A request's bulkhead partition: requests with the same answer share
   * `maxConcurrent`; `undefined` runs the request in the app's partition (as
   * does a function that throws or answers anything but a string).
   *
   * @example
   * ```ts
   * import type { ResilientHttpServer } from "effect-resilience/http"
   *
   * const byMethod: ResilientHttpServer.ResilientHttpServer.PartitionFunction = (request) => request.method
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export type PartitionFunction = (request: HttpServerRequest.HttpServerRequest) => string | undefined

  /**
   * Options of {@link make}: each part applies only when given.
   *
   * @example
   * ```ts
   * import { ResilientHttpServer } from "effect-resilience/http"
   *
   * const options: ResilientHttpServer.ResilientHttpServer.Options = {
   *   name: "api", // default "http-server"
   *   concurrency: { maxConcurrent: 100, maxQueue: 50, maxWait: "1 second" },
   *   rateLimit: { limit: 100, window: "1 minute", key: ResilientHttpServer.keyByHeader("x-api-key") },
   *   deadline: { max: "10 seconds", trustHeader: true },
   *   mapErrors: true // default
   * }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface Options {
    /**
     * Names the middleware in metrics, events and errors, and its bulkhead
     * and rate limiter (whose store keys it prefixes: instances with the same
     * name share limits through a shared store). Defaults to `"http-server"`.
     */
    readonly name?: string | undefined
    /** Load shedding: a concurrency limit (the library's `Bulkhead`). */
    readonly concurrency?: ConcurrencyOptions | undefined
    /** Per-client rate limits (the library's `RateLimiter`). */
    readonly rateLimit?: RateLimitOptions | undefined
    /** Request deadlines. */
    readonly deadline?: DeadlineOptions | undefined
    /**
     * Answer the library's errors the handler fails with (an open circuit,
     * a rejection, a timeout) with their responses ({@link toResponse}).
     * Defaults to true. Works where the middleware sees the handler's
     * failures: around an app or router, with `HttpRouter.use`, or through
     * `HttpApiBuilder.middleware` (not as `HttpServer.serve`'s middleware
     * argument, which only sees answers already written).
     */
    readonly mapErrors?: boolean | undefined
  }

  /**
   * The concurrency limit (load shedding).
   *
   * @example
   * ```ts
   * import type { ResilientHttpServer } from "effect-resilience/http"
   *
   * const concurrency: ResilientHttpServer.ResilientHttpServer.ConcurrencyOptions = {
   *   maxConcurrent: 20,
   *   partition: "route",
   *   retryAfter: "2 seconds"
   * }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface ConcurrencyOptions {
    /**
     * Requests running at once, per partition: an integer >= 1, or an
     * adaptive limit (`AdaptiveLimit.vegas()`, `aimd()`, `gradient2()`) that
     * finds itself from the latency measured, per partition (docs/AdaptiveLimit.md).
     */
    readonly maxConcurrent: number | AdaptiveLimit.AdaptiveLimit
    /** Requests waiting for a permit, per partition (>= 0, may be infinite). Defaults to 0: shed at once. */
    readonly maxQueue?: number | undefined
    /** The longest a request waits in the queue (the deadline bounds it too). Defaults to no bound. */
    readonly maxWait?: Duration.DurationInput | undefined
    /**
     * Who shares a limit: `"app"` (every request, the default), `"route"`
     * (each route of an `HttpRouter`, where the middleware sees it:
     * `HttpRouter.use`; `METHOD path` as the router declares it), or a
     * {@link PartitionFunction}.
     */
    readonly partition?: "app" | "route" | PartitionFunction | undefined
    /**
     * The `Retry-After` of a shed request (rounded up to whole seconds): a
     * bulkhead cannot know when a permit frees, so this is a hint. Defaults
     * to 1 second.
     */
    readonly retryAfter?: Duration.DurationInput | undefined
  }

  /**
   * The per-client rate limit.
   *
   * @example
   * ```ts
   * import { ResilientHttpServer } from "effect-resilience/http"
   *
   * const rateLimit: ResilientHttpServer.ResilientHttpServer.RateLimitOptions = {
   *   limit: 100,
   *   window: "1 minute",
   *   key: ResilientHttpServer.keyByHeader("x-api-key"),
   *   policy: "per-key"
   * }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface RateLimitOptions {
    /** Requests per `window` and key: an integer in [1, 999,999,999,999,999] (the quota `q`). */
    readonly limit: number
    /** A finite duration > 0 (the window `w` when it is whole seconds). */
    readonly window: Duration.DurationInput
    /** `"token-bucket"` (the default) or `"fixed-window"`, as `RateLimiter` counts. */
    readonly algorithm?: RateLimiter.Algorithm | undefined
    /** The client's key. Defaults to the remote address ({@link keyByRemoteAddress}). */
    readonly key?: KeyFunction | undefined
    /** Quota units each request takes: an integer in [1, limit]. Defaults to 1. */
    readonly cost?: number | undefined
    /** The policy's name in the `RateLimit` fields (printable ASCII). Defaults to `"default"`. */
    readonly policy?: string | undefined
    /**
     * Where the `RateLimit` / `RateLimit-Policy` fields go: `"always"` (every
     * response of a rate-limited request, the default), `"rejected"` (429s
     * only), `"never"` (429s keep `Retry-After`).
     */
    readonly headers?: "always" | "rejected" | "never" | undefined
    /** When the store fails: `"allow"` serves the request (the default), `"fail"` answers 503. */
    readonly onStoreError?: "allow" | "fail" | undefined
    /** The longest key, in UTF-16 code units: an integer in [1, 16,383]. Defaults to 1,024. */
    readonly maxKeyLength?: number | undefined
  }

  /**
   * The request deadline.
   *
   * @example
   * ```ts
   * import type { ResilientHttpServer } from "effect-resilience/http"
   *
   * const deadline: ResilientHttpServer.ResilientHttpServer.DeadlineOptions = {
   *   max: "10 seconds",
   *   // trust callers inside the cluster only
   *   trustHeader: (request) => request.headers["x-internal"] === "1"
   * }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface DeadlineOptions {
    /** The longest a request may take, header or not: a finite duration > 0. Defaults to 30 seconds. */
    readonly max?: Duration.DurationInput | undefined
    /**
     * Read the caller's deadline from `header`: `true`, `false` (the
     * default: only `max` applies) or a predicate on the request (a throw or
     * a non-boolean is reported and means `false`).
     */
    readonly trustHeader?: boolean | ((request: HttpServerRequest.HttpServerRequest) => boolean) | undefined
    /**
     * The deadline header: its value is the time the caller still gives the
     * request, in whole milliseconds (`Request-Timeout-Ms: 2500`); a value
     * that is not a non-negative integer of at most 15 digits is ignored.
     * Defaults to `"request-timeout-ms"`.
     */
    readonly header?: string | undefined
  }

  /**
   * The code options of {@link fromConfig} and {@link layerConfig}: what
   * `Config` cannot hold, merged into the groups read from it.
   *
   * @example
   * ```ts
   * import { ResilientHttpServer } from "effect-resilience/http"
   *
   * const code: ResilientHttpServer.ResilientHttpServer.CodeOptions = {
   *   rateLimit: { key: ResilientHttpServer.keyByHeader("x-api-key") }
   * }
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface CodeOptions {
    readonly concurrency?: { readonly partition?: PartitionFunction | undefined } | undefined
    readonly rateLimit?: { readonly key?: KeyFunction | undefined } | undefined
    readonly deadline?: {
      readonly trustHeader?: ((request: HttpServerRequest.HttpServerRequest) => boolean) | undefined
    } | undefined
  }

  /**
   * What the middleware did since it was made.
   *
   * @example
   * ```ts
   * import type { ResilientHttpServer } from "effect-resilience/http"
   *
   * const shedRate = (stats: ResilientHttpServer.ResilientHttpServer.Stats) => stats.shed / Math.max(1, stats.requests)
   * ```
   *
   * @since 0.2.0
   * @category Models
   */
  export interface Stats {
    /** Requests the middleware saw. */
    readonly requests: number
    /** Answered 503 by the concurrency limit. */
    readonly shed: number
    /** Answered 429. */
    readonly rateLimited: number
    /** Answered 504: the deadline passed (or had passed on arrival). */
    readonly deadlineExceeded: number
    /** Trusted deadline headers whose value was not a whole number of milliseconds (ignored). */
    readonly ignoredDeadlineHeaders: number
    /** The library's errors answered by `mapErrors`. */
    readonly mapped: number
  }
}

/**
 * Makes the middleware in the current scope (its bulkhead and rate limiter
 * live there). Invalid options fail with `InvalidOptionsError` naming the
 * option. The rate limiter uses the `RateLimiter.RateLimiterStore` in
 * context (a private memory store without one), the bulkhead the
 * `Bulkhead.BulkheadStore`.
 *
 * @example
 * ```ts
 * import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Effect, Layer } from "effect"
 * import { createServer } from "node:http"
 *
 * const ServerLive = Layer.unwrapScoped(Effect.gen(function*() {
 *   const protect = yield* ResilientHttpServer.make({
 *     concurrency: { maxConcurrent: 100 },
 *     rateLimit: { limit: 60, window: "1 minute" }, // per client address
 *     deadline: { max: "10 seconds", trustHeader: true }
 *   })
 *   const router = HttpRouter.empty.pipe(HttpRouter.get("/", HttpServerResponse.text("hello")))
 *   return HttpServer.serve(protect(router))
 * })).pipe(Layer.provide(NodeHttpServer.layer(createServer, { port: 3000 })))
 * ```
 *
 * @since 0.2.0
 * @category Constructors
 */
export const make: (
  options?: ResilientHttpServer.Options
) => Effect.Effect<ResilientHttpServer, InvalidOptionsError, Scope.Scope> = internal.make

/**
 * True for the middleware.
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 *
 * ResilientHttpServer.isResilientHttpServer((app: unknown) => app) // false
 * ```
 *
 * @since 0.2.0
 * @category Guards
 */
export const isResilientHttpServer: (u: unknown) => u is ResilientHttpServer = internal.isResilientHttpServer

/**
 * Provides the middleware under your own `Context.Tag`, made in the layer's
 * scope.
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Context } from "effect"
 *
 * class Protect extends Context.Tag("app/Protect")<Protect, ResilientHttpServer.ResilientHttpServer>() {}
 * const ProtectLive = ResilientHttpServer.layer(Protect, { concurrency: { maxConcurrent: 100 } })
 * ```
 *
 * @since 0.2.0
 * @category Layers
 */
export const layer: <I, S>(
  tag: Context.Tag<I, S> & ([ResilientHttpServer] extends [S] ? unknown : never),
  options?: ResilientHttpServer.Options
) => Layer.Layer<I, InvalidOptionsError> = internal.layer

/**
 * The `Config` of the middleware's data options, each under its name, groups
 * nested (`concurrency.maxConcurrent`, `rateLimit.limit`, `deadline.max`, …;
 * the table in docs/Options.md#resilienthttpclient). With
 * `ConfigProvider.constantCase` the environment variables are
 * `CONCURRENCY_MAX_CONCURRENT`, `RATE_LIMIT_LIMIT`, … A group absent from the
 * config is off.
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Config } from "effect"
 *
 * // server_concurrency_maxConcurrent=100 server_deadline_max="10 seconds"
 * const config = Config.nested(ResilientHttpServer.config, "server")
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const config: Config.Config<ResilientHttpServer.Options> = internal.config

/**
 * Makes the middleware with options read from `Config` ({@link config}, a
 * `Config` of the options or a record of `Config`s), with the code options
 * (key functions, predicates) merged into their groups. Missing or malformed
 * values fail with a `ConfigError`; out-of-range ones with
 * `InvalidOptionsError` naming the config key.
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Config, Effect } from "effect"
 *
 * const program = ResilientHttpServer.fromConfig(Config.nested(ResilientHttpServer.config, "server"), {
 *   rateLimit: { key: ResilientHttpServer.keyByHeader("x-api-key") }
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category Config
 */
export const fromConfig: (
  config: Config.Config.Wrap<ResilientHttpServer.Options> | Config.Config<ResilientHttpServer.Options>,
  code?: ResilientHttpServer.CodeOptions
) => Effect.Effect<ResilientHttpServer, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> = (config, code) =>
  internal.fromConfig(config, code)

/**
 * Provides the middleware under your own `Context.Tag`, with options read
 * from `Config` (see {@link fromConfig}).
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Config, Context } from "effect"
 *
 * class Protect extends Context.Tag("app/Protect")<Protect, ResilientHttpServer.ResilientHttpServer>() {}
 * const ProtectLive = ResilientHttpServer.layerConfig(Protect, Config.nested(ResilientHttpServer.config, "server"))
 * ```
 *
 * @since 0.2.0
 * @category Layers
 */
export const layerConfig: <I, S>(
  tag: Context.Tag<I, S> & ([ResilientHttpServer] extends [S] ? unknown : never),
  config: Config.Config.Wrap<ResilientHttpServer.Options> | Config.Config<ResilientHttpServer.Options>,
  code?: ResilientHttpServer.CodeOptions
) => Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> = internal.layerConfig

/**
 * The middleware as an `HttpApiMiddleware`, for the endpoints (or groups)
 * that declare it. Its tag's `failure` must accept {@link ApiError} (declare
 * it with `failure: ResilientHttpServer.ApiError`): a rejected request fails
 * with `RateLimited` (429), `Unavailable` (503) or `DeadlineExceeded` (504),
 * encoded by the API with their `Retry-After` and `RateLimit` fields.
 *
 * It runs before the handler, in the request's fiber: it charges the rate
 * limit, holds a bulkhead permit until the response is sent (a client that
 * disconnects releases it), and sets the request's deadline for the handler
 * (every policy inside honours it), interrupting the handler when it passes
 * (504). `mapErrors` does not apply here: an endpoint's errors are its own
 * (map the library's errors with {@link toApiError}).
 *
 * @example
 * ```ts
 * import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware } from "@effect/platform"
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Schema } from "effect"
 *
 * class Protect extends HttpApiMiddleware.Tag<Protect>()("Protect", { failure: ResilientHttpServer.ApiError }) {}
 *
 * const api = HttpApi.make("api").add(
 *   HttpApiGroup.make("items").add(HttpApiEndpoint.get("list", "/items").addSuccess(Schema.Array(Schema.String)))
 *     .middleware(Protect)
 * )
 * const ProtectLive = ResilientHttpServer.layerApiMiddleware(Protect, { rateLimit: { limit: 10, window: "1 second" } })
 * ```
 *
 * @since 0.2.0
 * @category Layers
 */
export const layerApiMiddleware: <I, S>(
  tag: Context.Tag<I, S> & ([Effect.Effect<void, ApiError, any>] extends [S] ? unknown : never),
  options?: ResilientHttpServer.Options
) => Layer.Layer<I, InvalidOptionsError> = internal.layerApiMiddleware

/**
 * The client's address, as `@effect/platform` reports it (the peer of the
 * socket; `"unknown"` without one): the default rate-limit key. Behind a
 * proxy every request comes from the proxy: key by a header the proxy sets
 * (and that clients cannot forge) instead.
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 *
 * const options = { rateLimit: { limit: 100, window: "1 minute", key: ResilientHttpServer.keyByRemoteAddress } }
 * ```
 *
 * @since 0.2.0
 * @category Constructors
 */
export const keyByRemoteAddress: (request: HttpServerRequest.HttpServerRequest) => string = options_.keyByRemoteAddress

/**
 * A key function reading a request header (an API key, a tenant): requests
 * without it (or with it empty) are not rate limited. Throws
 * `InvalidOptionsError` for a name that is not a header field name.
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 *
 * const options = { rateLimit: { limit: 1000, window: "1 hour", key: ResilientHttpServer.keyByHeader("x-api-key") } }
 * ```
 *
 * @since 0.2.0
 * @category Constructors
 */
export const keyByHeader: (name: string) => ResilientHttpServer.KeyFunction = options_.keyByHeader

/**
 * The default deadline header, `request-timeout-ms`: the time the caller
 * still gives the request, in whole milliseconds. Header names are case
 * insensitive (`Request-Timeout-Ms` on the wire).
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 *
 * const headers = { [ResilientHttpServer.DEADLINE_HEADER]: "2500" }
 * ```
 *
 * @since 0.2.0
 * @category Models
 */
export const DEADLINE_HEADER: string = options_.DEFAULT_DEADLINE_HEADER

/**
 * 503 Service Unavailable: the server is shedding load, or a dependency is
 * down (an open circuit, a store failure). JSON:
 * `{"_tag":"Unavailable","retryAfterSeconds":2}` (`retryAfterSeconds` when
 * known; the same value as `Retry-After`). A `Schema.TaggedError` annotated
 * with its status for `HttpApi`; elsewhere failing with it answers it (it is
 * `HttpServerRespondable`). `retryAfter` gives the hint as a `Duration`.
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Effect } from "effect"
 *
 * const down = Effect.fail(new ResilientHttpServer.Unavailable({ retryAfterSeconds: 5 }))
 * ```
 *
 * @since 0.2.0
 * @category Errors
 */
export const Unavailable: typeof errors.Unavailable = errors.Unavailable

/**
 * The type of {@link Unavailable}.
 *
 * @since 0.2.0
 * @category Errors
 */
export type Unavailable = errors.Unavailable

/**
 * 429 Too Many Requests: the client's rate limit is exceeded. JSON:
 * `{"_tag":"RateLimited","retryAfterSeconds":12}`.
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 *
 * const e = new ResilientHttpServer.RateLimited({ retryAfterSeconds: 12 })
 * e.message // "Too many requests: retry after 12s"
 * ```
 *
 * @since 0.2.0
 * @category Errors
 */
export const RateLimited: typeof errors.RateLimited = errors.RateLimited

/**
 * The type of {@link RateLimited}.
 *
 * @since 0.2.0
 * @category Errors
 */
export type RateLimited = errors.RateLimited

/**
 * 504 Gateway Timeout: the request's deadline passed (a timeout inside, or
 * the deadline the caller or the server set). JSON: `{"_tag":"DeadlineExceeded"}`.
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 *
 * const e = new ResilientHttpServer.DeadlineExceeded()
 * ```
 *
 * @since 0.2.0
 * @category Errors
 */
export const DeadlineExceeded: typeof errors.DeadlineExceeded = errors.DeadlineExceeded

/**
 * The type of {@link DeadlineExceeded}.
 *
 * @since 0.2.0
 * @category Errors
 */
export type DeadlineExceeded = errors.DeadlineExceeded

/**
 * The three answers, as one Schema (for an endpoint's or middleware's
 * `failure`, or `HttpApiEndpoint.addError`).
 *
 * @example
 * ```ts
 * import { HttpApiEndpoint } from "@effect/platform"
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Schema } from "effect"
 *
 * const endpoint = HttpApiEndpoint.get("quote", "/quote").addSuccess(Schema.Number).addError(ResilientHttpServer.ApiError)
 * ```
 *
 * @since 0.2.0
 * @category Errors
 */
export const ApiError: Schema.Union<[typeof errors.Unavailable, typeof errors.RateLimited, typeof errors.DeadlineExceeded]> =
  errors.ApiError

/**
 * The type of {@link ApiError}: one of the three answers.
 *
 * @since 0.2.0
 * @category Errors
 */
export type ApiError = errors.ApiError

/**
 * The one mapping from the library's errors to HTTP answers:
 *
 * | error | answer |
 * |---|---|
 * | `RateLimitExceededError` | `RateLimited` (429) with `Retry-After` |
 * | `TimeoutError` | `DeadlineExceeded` (504) |
 * | an open or half-open circuit, a full bulkhead, a store failure, a full idempotency store (every other rejection) | `Unavailable` (503), `Retry-After` when the error knows it |
 *
 * An {@link ApiError} maps to itself; anything else to `None`. For `HttpApi`
 * handlers: map the library's errors to the declared ones.
 *
 * @example
 * ```ts
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Errors } from "effect-resilience"
 *
 * const full = Errors.BulkheadFullError.make({ name: "db", maxConcurrent: 10, maxQueue: 0, reason: "QueueFull" })
 * ResilientHttpServer.toApiError(full) // Option.some(Unavailable {})
 * ```
 *
 * @since 0.2.0
 * @category Combinators
 */
export const toApiError: (error: unknown) => Option.Option<ApiError> = errors.toApiError

/**
 * {@link toApiError} as a response: the status, `Retry-After` when known,
 * `Cache-Control: no-store`, and a small JSON body
 * (`{"_tag":"Unavailable","retryAfterSeconds":3}`) with no policy names, keys
 * or messages.
 *
 * @example
 * ```ts
 * import { HttpServerResponse } from "@effect/platform"
 * import { ResilientHttpServer } from "effect-resilience/http"
 * import { Effect, Option } from "effect"
 *
 * const answer = (error: unknown) =>
 *   Option.getOrElse(ResilientHttpServer.toResponse(error), () => HttpServerResponse.empty({ status: 500 }))
 * ```
 *
 * @since 0.2.0
 * @category Combinators
 */
export const toResponse: (error: unknown) => Option.Option<HttpServerResponse.HttpServerResponse> = errors.toResponse
