/**
 * Health endpoints for `@effect/platform` servers, backed by the `Health`
 * service:
 *
 * - `GET /health/live`: the liveness view (checks marked `liveness: true`);
 * - `GET /health/ready`: the readiness view;
 * - `GET /health`: every check.
 *
 * Each answers `200` when the view is healthy or degraded and `503` when it
 * is unhealthy, with a JSON report (`Health.toJson`): the status, and per
 * check its status, criticality, latency, last-check time, consecutive
 * failures and message. Messages are bounded and stripped of secrets (query
 * strings, credentials in URLs, `Authorization` values, cookies, tokens) by
 * the `Health` service; `details: false` leaves only the status.
 *
 * @since 0.1.0
 */
import type * as HttpRouter from "@effect/platform/HttpRouter"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Health from "../Health.js"
import * as internal from "./internal/healthRoutes/healthRoutes.js"

/**
 * Options of {@link router}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options {
  /** Where the routes live. Defaults to `"/health"` (`/health`, `/health/live`, `/health/ready`). */
  readonly path?: `/${string}` | undefined
  /** Include each check in the JSON. Defaults to true. */
  readonly details?: boolean | undefined
  /** The HTTP status of a degraded report: `200` (still serving) or `503`. Defaults to `200`. */
  readonly degradedStatus?: 200 | 503 | undefined
}

/**
 * The HTTP status for a report: 503 when unhealthy (and when degraded with
 * `degradedStatus: 503`), 200 otherwise.
 *
 * @example
 * ```ts
 * import { HealthRoutes } from "effect-resilience/http"
 *
 * HealthRoutes.statusCode("degraded") // 200
 * HealthRoutes.statusCode("unhealthy") // 503
 * ```
 *
 * @since 0.1.0
 * @category Accessors
 */
export const statusCode: (status: Health.Status, degradedStatus?: 200 | 503) => number = internal.statusCode

/**
 * Turns a report into the endpoint's response.
 *
 * @example
 * ```ts
 * import { HealthRoutes } from "effect-resilience/http"
 *
 * const response = HealthRoutes.respond({ status: "healthy", checkedAt: 0, checks: [] })
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const respond: (
  report: Health.Report,
  options?: Pick<Options, "details" | "degradedStatus">
) => HttpServerResponse.HttpServerResponse = internal.respond

/**
 * The health routes as an `HttpRouter`, to mount or concatenate with your
 * own. Requires the `Health` service. Throws `InvalidOptionsError` for an
 * invalid path or `degradedStatus`.
 *
 * @example
 * ```ts
 * import { HealthRoutes } from "effect-resilience/http"
 * import { Health } from "effect-resilience"
 * import { HttpRouter, HttpServer } from "@effect/platform"
 * import { Layer } from "effect"
 *
 * const app = HttpRouter.empty.pipe(HttpRouter.concat(HealthRoutes.router()))
 * const served = HttpServer.serve(app).pipe(Layer.provide(Health.layer()))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const router: (options?: Options) => HttpRouter.HttpRouter<never, Health.Health> = internal.router
