/**
 * The health routes over the `Health` service. See `HealthRoutes.ts` for the
 * contract.
 *
 * @internal
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Health from "../../../Health.js"
import * as health from "../../../internal/health/health.js"
import * as validate from "../../../internal/validate.js"
import type * as HealthRoutes from "../../HealthRoutes.js"

/** @internal */
export const statusCode = (status: Health.Status, degradedStatus: 200 | 503 = 200): number =>
  status === "unhealthy" ? 503 : status === "degraded" ? degradedStatus : 200

/** @internal */
export const respond = (
  report: Health.Report,
  options: Pick<HealthRoutes.Options, "details" | "degradedStatus"> = {}
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(health.toJson(report, { details: options.details }), {
    status: statusCode(report.status, options.degradedStatus),
    headers: { "cache-control": "no-store" }
  })

/** @internal */
export const router = (options: HealthRoutes.Options = {}): HttpRouter.HttpRouter<never, Health.Health> => {
  const m = "HealthRoutes.router"
  options = validate.options(m, options)
  validate.optionalBoolean(m, "details", options.details)
  const path = options.path === undefined ? "/health" : options.path
  if (typeof path !== "string" || !path.startsWith("/") || path.length < 2 || path.endsWith("/")) {
    throw validate.invalid(m, "path", path, `a path like "/health" (starts with "/", does not end with "/")`)
  }
  if (options.degradedStatus !== undefined && options.degradedStatus !== 200 && options.degradedStatus !== 503) {
    throw validate.invalid(m, "degradedStatus", options.degradedStatus, "200 or 503")
  }
  const view = (select: (health: Health.Service) => Effect.Effect<Health.Report>) =>
    Effect.map(Effect.flatMap(health.Health, select), (report) => respond(report, options))
  return HttpRouter.empty.pipe(
    HttpRouter.get(path as `/${string}`, view((h) => h.report)),
    HttpRouter.get(`${path}/live` as `/${string}`, view((h) => h.liveness)),
    HttpRouter.get(`${path}/ready` as `/${string}`, view((h) => h.readiness))
  )
}
