/**
 * Admin endpoints over the `Health.PolicyRegistry`: list named policies with
 * their state and stats, isolate or reset a circuit breaker (or one of its
 * keys), resize a bulkhead.
 *
 * They can open circuits in production, so they exist only where you mount
 * them, and every route runs behind a guard you supply (a middleware that
 * rejects unauthorized requests; {@link guard} and {@link bearerToken} make
 * simple ones). Routes, under `path` (default `/admin/resilience`):
 *
 * - `GET  /policies` → `{ policies: [...] }`
 * - `GET  /policies/:name`
 * - `POST /policies/:name/isolate[?key=…]`
 * - `POST /policies/:name/reset[?key=…]`
 * - `POST /policies/:name/resize?size=N` (or a JSON body `{ "size": N }`)
 * - `POST /policies/:name/mode?mode=M` (or a JSON body `{ "mode": M }`): a
 *   circuit breaker's mode for all its keys, `Enforcing`, `MetricsOnly` or
 *   `Disabled` (shared with its replicas through its store)
 *
 * Answers: `200` with the policy's description; `404` for an unknown
 * policy; `400` for an operation the policy does not support or an invalid
 * size or mode; `503` when the policy failed (e.g. a breaker's store is down).
 * Errors are `{ error: message }`.
 *
 * @since 0.1.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { ResilienceError } from "../Errors.js"
import * as Health from "../Health.js"
import * as userCode from "../internal/userCode.js"
import * as validate from "../internal/validate.js"
import { errorMessage } from "../internal/healthMessage.js"

/**
 * A middleware that lets authorized requests through and answers the others
 * itself (401/403). It may add its own errors `E` and requirements `R`.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Guard<E = never, R = never> {
  <E0, R0>(app: HttpApp.Default<E0, R0>): HttpApp.Default<E0 | E, R0 | R>
}

/**
 * Options of {@link router}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options<E, R> {
  /** Runs around every admin route. Required: the routes are never unguarded. */
  readonly guard: Guard<E, R>
  /** Where the routes live. Defaults to `"/admin/resilience"`. */
  readonly path?: `/${string}` | undefined
}

/**
 * A guard from a predicate on the request: requests for which it is false
 * are answered with `status` (default 403) and never reach the route. It
 * fails closed: a predicate that throws, dies, or answers anything but `true`
 * refuses the request too (reported; see "User code" in the docs). Its typed
 * failures are the route's.
 *
 * @example
 * ```ts
 * import { AdminRoutes } from "effect-resilience/http"
 * import { Effect } from "effect"
 *
 * const localOnly = AdminRoutes.guard((request) => Effect.succeed(request.headers["x-admin"] === "yes"))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const guard = <E = never, R = never>(
  authorized: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<boolean, E, R>,
  options: { readonly status?: 401 | 403 | undefined } = {}
): Guard<E, R> => {
  const m = "AdminRoutes.guard"
  if (typeof authorized !== "function") throw validate.invalid(m, "authorized", authorized, "a function from the request to Effect<boolean>")
  options = validate.options(m, options)
  if (options.status !== undefined && options.status !== 401 && options.status !== 403) {
    throw validate.invalid(m, "status", options.status, "401 or 403")
  }
  const status = options.status ?? 403
  const refused = Effect.sync(() => errorResponse(status, status === 401 ? "unauthorized" : "forbidden"))
  // user code: fails closed — a throw, a defect, or an answer other than `true` refuses the request
  const site = userCode.site("AdminRoutes", "admin", "guard", `the request is refused (${status})`)
  const onDefect = (defect: unknown) => {
    userCode.report(site, "throw", defect)
    return Effect.succeed(false)
  }
  return <E0, R0>(app: HttpApp.Default<E0, R0>): HttpApp.Default<E0 | E, R0 | R> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request): HttpApp.Default<E0 | E, R0 | R> => {
      let check: unknown
      try {
        check = authorized(request)
      } catch (e) {
        userCode.report(site, "throw", e)
        return refused
      }
      if (!Effect.isEffect(check)) {
        userCode.report(site, "malformed", check)
        return refused
      }
      return Effect.flatMap(
        Effect.catchAllDefect(check as Effect.Effect<unknown, E, R>, onDefect),
        (ok): HttpApp.Default<E0 | E, R0 | R> => {
          if (ok === true) return app
          if (ok !== false) userCode.report(site, "malformed", ok)
          return refused
        }
      )
    })
}

/**
 * A guard that lets through requests with `Authorization: Bearer <token>`
 * (compared in constant time) and answers others with 401.
 *
 * @example
 * ```ts
 * import { AdminRoutes } from "effect-resilience/http"
 * import { Redacted } from "effect"
 *
 * const admin = AdminRoutes.router({ guard: AdminRoutes.bearerToken(Redacted.make("s3cret")) })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const bearerToken = (token: Redacted.Redacted<string>): Guard => {
  const m = "AdminRoutes.bearerToken"
  if (!Redacted.isRedacted(token)) throw validate.invalid(m, "token", typeof token, "a Redacted non-empty string")
  const expected = Redacted.value(token)
  if (typeof expected !== "string" || expected.length === 0) {
    throw validate.invalid(m, "token", typeof expected === "string" ? "" : typeof expected, "a Redacted non-empty string")
  }
  return guard((request) => {
    const header = request.headers["authorization"] ?? ""
    const match = /^Bearer\s+(.+)$/i.exec(header)
    return Effect.succeed(match !== null && constantTimeEqual(match[1]!.trim(), expected))
  }, { status: 401 })
}

// compares every character whatever the first difference (no early exit to time)
const constantTimeEqual = (a: string, b: string): boolean => {
  const length = Math.max(a.length, b.length)
  let diff = a.length ^ b.length
  for (let i = 0; i < length; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0)
  return diff === 0
}

const errorResponse = (status: number, error: string) =>
  HttpServerResponse.unsafeJson({ error }, { status, headers: { "cache-control": "no-store" } })

const failure = (error: Health.PolicyRegistryError | ResilienceError): HttpServerResponse.HttpServerResponse => {
  if (error._tag === "PolicyRegistryError") {
    return errorResponse((error as Health.PolicyRegistryError).reason === "NotFound" ? 404 : 400, error.message)
  }
  // a bad size, or a key the policy refuses (`?key=` not well-formed or too long): the request's fault
  if (error._tag === "InvalidOptionsError" || error._tag === "InvalidKeyError") return errorResponse(400, errorMessage(error))
  return errorResponse(503, errorMessage(error))
}

const ok = (body: unknown) => HttpServerResponse.unsafeJson(body, { headers: { "cache-control": "no-store" } })

const nameParam = Effect.map(HttpRouter.params, (p) => p["name"] ?? "")

const keyParam = Effect.map(HttpServerRequest.ParsedSearchParams, (q) => {
  const key = q["key"]
  return typeof key === "string" && key.length > 0 ? key : undefined
})

const sizeParam = Effect.gen(function*() {
  const q = yield* HttpServerRequest.ParsedSearchParams
  const fromQuery = q["size"]
  if (typeof fromQuery === "string") return Number(fromQuery)
  const request = yield* HttpServerRequest.HttpServerRequest
  const body = yield* Effect.option(request.json)
  return Option.match(body, {
    onNone: () => NaN,
    onSome: (json) => {
      if (typeof json === "object" && json !== null) {
        const size = (json as Record<string, unknown>)["size"] ?? (json as Record<string, unknown>)["maxConcurrent"]
        return typeof size === "number" ? size : NaN
      }
      return NaN
    }
  })
})

const modeParam = Effect.gen(function*() {
  const q = yield* HttpServerRequest.ParsedSearchParams
  const fromQuery = q["mode"]
  if (typeof fromQuery === "string") return fromQuery
  const request = yield* HttpServerRequest.HttpServerRequest
  const body = yield* Effect.option(request.json)
  return Option.match(body, {
    onNone: () => "",
    onSome: (json) => {
      const mode = typeof json === "object" && json !== null ? (json as Record<string, unknown>)["mode"] : undefined
      return typeof mode === "string" ? mode : ""
    }
  })
})

/**
 * The admin routes as an `HttpRouter`, every route behind `guard`. Requires
 * the `Health.PolicyRegistry`. Throws `InvalidOptionsError` without a guard
 * or with an invalid path.
 *
 * @example
 * ```ts
 * import { AdminRoutes } from "effect-resilience/http"
 * import { HttpRouter } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const admin = AdminRoutes.router({
 *   guard: AdminRoutes.guard((request) => Effect.succeed(request.headers["x-admin-token"] === process.env.ADMIN_TOKEN))
 * })
 * const app = HttpRouter.empty.pipe(HttpRouter.concat(admin))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const router = <E, R>(options: Options<E, R>): HttpRouter.HttpRouter<E, R | Health.PolicyRegistry> => {
  const m = "AdminRoutes.router"
  options = validate.options(m, options)
  if (typeof options.guard !== "function") {
    throw validate.invalid(m, "guard", options.guard, "a guard middleware (the admin routes are never unguarded)")
  }
  const path = options.path === undefined ? "/admin/resilience" : options.path
  if (typeof path !== "string" || !path.startsWith("/") || path.length < 2 || path.endsWith("/")) {
    throw validate.invalid(m, "path", path, `a path like "/admin/resilience" (starts with "/", does not end with "/")`)
  }
  const g = options.guard
  const registry = Health.PolicyRegistry
  const route = (sub: string) => `${path}${sub}` as `/${string}`
  const handle = <A>(
    effect: Effect.Effect<A, Health.PolicyRegistryError | ResilienceError, any>
  ) => Effect.match(effect, { onFailure: failure, onSuccess: ok })

  return HttpRouter.empty.pipe(
    HttpRouter.get(
      route("/policies"),
      g(Effect.map(Effect.flatMap(registry, (r) => r.list), (policies) => ok({ policies })))
    ),
    HttpRouter.get(
      route("/policies/:name"),
      g(handle(Effect.flatMap(nameParam, (name) => Effect.flatMap(registry, (r) => r.get(name)))))
    ),
    HttpRouter.post(
      route("/policies/:name/isolate"),
      g(handle(Effect.flatMap(Effect.all([nameParam, keyParam, registry]), ([name, key, r]) => r.isolate(name, key))))
    ),
    HttpRouter.post(
      route("/policies/:name/reset"),
      g(handle(Effect.flatMap(Effect.all([nameParam, keyParam, registry]), ([name, key, r]) => r.reset(name, key))))
    ),
    HttpRouter.post(
      route("/policies/:name/resize"),
      g(handle(Effect.flatMap(Effect.all([nameParam, sizeParam, keyParam, registry]), ([name, size, key, r]) =>
        r.resize(name, size, key))))
    ),
    HttpRouter.post(
      route("/policies/:name/mode"),
      g(handle(Effect.flatMap(Effect.all([nameParam, modeParam, registry]), ([name, mode, r]) => r.setMode(name, mode))))
    )
  ) as HttpRouter.HttpRouter<E, R | Health.PolicyRegistry>
}
