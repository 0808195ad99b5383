/**
 * The options of the health and admin routes, described once: checks,
 * defaults and the docs' tables. No `Config`: routes are mounted in code.
 *
 * @internal
 */
import type * as AdminRoutes from "../../AdminRoutes.js"
import type * as HealthRoutes from "../../HealthRoutes.js"
import * as Spec from "../../../internal/spec.js"
import * as validate from "../../../internal/validate.js"

/** @internal */
export const DEFAULT_HEALTH_PATH = "/health"
/** @internal */
export const DEFAULT_ADMIN_PATH = "/admin/resilience"
/** @internal */
export const DEFAULT_DEGRADED_STATUS = 200 as const
/** @internal */
export const DEFAULT_GUARD_STATUS = 403 as const

/** Where routes live: a path that starts with "/" and does not end with one (`example` in the errors). */
const path = (example: string): Spec.Field<`/${string}` | undefined> => {
  const expected = `a path like "${example}" (starts with "/", does not end with "/")`
  return new Spec.Field<`/${string}` | undefined>({
    ...(Spec.string().props as Spec.Field<any>["props"]),
    expected,
    parse: (m: string, o: string, v: unknown) => {
      if (typeof v !== "string" || !v.startsWith("/") || v.length < 2 || v.endsWith("/")) throw validate.invalid(m, o, v, expected)
      return v as `/${string}`
    }
  })
}

/** One of the given statuses (`expected`: how the errors say it). */
const status = <const S extends number>(expected: string, ...statuses: ReadonlyArray<S>): Spec.Field<S | undefined> =>
  Spec.code<S>(expected, (u) => (statuses as ReadonlyArray<unknown>).includes(u))

/** The options of `HealthRoutes.router`. @internal */
export const healthRoutesSpec = Spec.struct<HealthRoutes.Options>()("HealthRoutes.router", {
  details: Spec.boolean().default(true),
  path: path(DEFAULT_HEALTH_PATH).default(DEFAULT_HEALTH_PATH),
  degradedStatus: status("200 or 503", 200, 503).default(DEFAULT_DEGRADED_STATUS)
})

/** The options of `AdminRoutes.guard` (its predicate is checked beside them). @internal */
export const guardSpec = Spec.struct<{ readonly status?: 401 | 403 | undefined }>()("AdminRoutes.guard", {
  status: status("401 or 403", 401, 403).default(DEFAULT_GUARD_STATUS)
})

/** The options of `AdminRoutes.router`. @internal */
export const adminRoutesSpec = Spec.struct<AdminRoutes.Options<unknown, unknown>>()("AdminRoutes.router", {
  guard: Spec.func<AdminRoutes.Guard<unknown, unknown>>("a guard middleware (the admin routes are never unguarded)").required(),
  path: path(DEFAULT_ADMIN_PATH).default(DEFAULT_ADMIN_PATH)
})

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [healthRoutesSpec, adminRoutesSpec, guardSpec]
