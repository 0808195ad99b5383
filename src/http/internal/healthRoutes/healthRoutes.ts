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
import type * as HealthRoutes from "../../HealthRoutes.js"
import { healthRoutesSpec } from "../routes/options.js"

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
  const { degradedStatus, details, path } = healthRoutesSpec.resolve(options)
  const shown = { details, degradedStatus }
  const view = (select: (health: Health.Service) => Effect.Effect<Health.Report>) =>
    Effect.map(Effect.flatMap(health.Health, select), (report) => respond(report, shown))
  return HttpRouter.empty.pipe(
    HttpRouter.get(path, view((h) => h.report)),
    HttpRouter.get(`${path}/live` as `/${string}`, view((h) => h.liveness)),
    HttpRouter.get(`${path}/ready` as `/${string}`, view((h) => h.readiness))
  )
}
