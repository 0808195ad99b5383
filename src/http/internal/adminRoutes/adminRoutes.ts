/**
 * The admin routes over the `Health.PolicyRegistry`, and the guards that
 * protect them. See `AdminRoutes.ts` for the contract.
 *
 * @internal
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { ResilienceError } from "../../../Errors.js"
import type * as Health from "../../../Health.js"
import { errorMessage } from "../../../internal/health/message.js"
import * as healthRegistry from "../../../internal/health/registry.js"
import * as userCode from "../../../internal/userCode.js"
import * as validate from "../../../internal/validate.js"
import type * as AdminRoutes from "../../AdminRoutes.js"
import { adminRoutesSpec, guardSpec } from "../routes/options.js"

/** @internal */
export const guard = <E = never, R = never>(
  authorized: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<boolean, E, R>,
  options: { readonly status?: 401 | 403 | undefined } = {}
): AdminRoutes.Guard<E, R> => {
  const m = "AdminRoutes.guard"
  if (typeof authorized !== "function") throw validate.invalid(m, "authorized", authorized, "a function from the request to Effect<boolean>")
  const { status } = guardSpec.resolve(options, m)
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

/** @internal */
export const bearerToken = (token: Redacted.Redacted<string>): AdminRoutes.Guard => {
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

/** @internal */
export const router = <E, R>(options: AdminRoutes.Options<E, R>): HttpRouter.HttpRouter<E, R | Health.PolicyRegistry> => {
  const { guard: g, path } = adminRoutesSpec.resolve(options) as { readonly guard: AdminRoutes.Guard<E, R>; readonly path: string }
  const registry = healthRegistry.PolicyRegistry
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
