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
import type * as HttpRouter from "@effect/platform/HttpRouter"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Health from "../Health.js"
import * as internal from "./internal/adminRoutes/adminRoutes.js"

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
export const guard: <E = never, R = never>(
  authorized: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<boolean, E, R>,
  options?: { readonly status?: 401 | 403 | undefined }
) => Guard<E, R> = internal.guard

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
export const bearerToken: (token: Redacted.Redacted<string>) => Guard = internal.bearerToken

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
export const router: <E, R>(options: Options<E, R>) => HttpRouter.HttpRouter<E, R | Health.PolicyRegistry> =
  internal.router
