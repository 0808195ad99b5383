/**
 * The server middleware's options, described once: checks, defaults,
 * `Config` and the docs' table.
 *
 * @internal
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as BulkheadOptions from "../../../internal/bulkhead/options.js"
import * as Keys from "../../../internal/keys.js"
import * as Spec from "../../../internal/spec.js"
import * as validate from "../../../internal/validate.js"
import type * as ResilientHttpServer from "../../ResilientHttpServer.js"
import { isHeaderName, isSfStringSafe, MAX_SF_INTEGER } from "./headers.js"

/** @internal */
export const DEFAULT_NAME = "http-server"
/** @internal */
export const DEFAULT_SHED_RETRY_AFTER = Duration.seconds(1)
/** @internal */
export const DEFAULT_POLICY = "default"
/** @internal */
export const DEFAULT_MAX_DEADLINE = Duration.seconds(30)
/** @internal */
export const DEFAULT_DEADLINE_HEADER = "request-timeout-ms"

/**
 * The client's address as `@effect/platform` reports it (the socket's peer;
 * `"unknown"` when it has none): the default rate-limit key.
 *
 * @internal
 */
export const keyByRemoteAddress = (request: HttpServerRequest.HttpServerRequest): string =>
  Option.getOrElse(request.remoteAddress, () => "unknown")

/** @internal */
export const keyByHeader = (name: string): ResilientHttpServer.ResilientHttpServer.KeyFunction => {
  if (typeof name !== "string" || !isHeaderName(name)) {
    throw validate.invalid("ResilientHttpServer.keyByHeader", "name", name, "a header field name (an RFC 9110 token)")
  }
  const lower = name.toLowerCase()
  return (request) => {
    const value = request.headers[lower]
    return value === undefined || value === "" ? undefined : value
  }
}

const M = "ResilientHttpServer.make"

/**
 * The options of `ResilientHttpServer.make`, described once.
 *
 * @internal
 */
export const spec = Spec.struct<ResilientHttpServer.ResilientHttpServer.Options>()(M, {
  name: Spec.string().default(DEFAULT_NAME),
  concurrency: Spec.optionalGroup({
    // a fixed limit or an adaptive one (AdaptiveLimit.vegas(), …): the bulkhead's own field
    maxConcurrent: BulkheadOptions.spec.fields.maxConcurrent,
    maxQueue: Spec.integer({ min: 0, allowInfinite: true }).default(0),
    // an infinite wait is no limit: undefined
    maxWait: Spec.duration({ allowInfinite: true }).map((d) => d !== undefined && Duration.isFinite(d) ? d : undefined),
    partition: Spec.literal("app", "route")
      .orFunction<ResilientHttpServer.ResilientHttpServer.PartitionFunction>()
      .default("app"),
    retryAfter: Spec.duration({ allowZero: true }).default(DEFAULT_SHED_RETRY_AFTER)
  }),
  rateLimit: Spec.optionalGroup({
    limit: Spec.integer({ min: 1, max: MAX_SF_INTEGER }).required(),
    window: Spec.duration().required(),
    algorithm: Spec.literal("token-bucket", "fixed-window").default("token-bucket"),
    key: Spec.func<ResilientHttpServer.ResilientHttpServer.KeyFunction>()
      .default(keyByRemoteAddress, "the client's address (`keyByRemoteAddress`)"),
    cost: Spec.integer({ min: 1 }).default(1),
    policy: Spec.string().default(DEFAULT_POLICY),
    headers: Spec.literal("always", "rejected", "never").default("always"),
    onStoreError: Spec.literal("allow", "fail").default("allow"),
    maxKeyLength: Keys.maxKeyLengthField
  }),
  deadline: Spec.optionalGroup({
    max: Spec.duration().default(DEFAULT_MAX_DEADLINE),
    trustHeader: Spec.boolean()
      .orFunction<(request: HttpServerRequest.HttpServerRequest) => boolean>()
      .default(false),
    header: Spec.string().default(DEFAULT_DEADLINE_HEADER)
  }),
  mapErrors: Spec.boolean().default(true)
}, (resolved, _options, module) => {
  const rateLimit = resolved.rateLimit
  if (rateLimit !== undefined) {
    if (rateLimit.cost > rateLimit.limit) {
      throw validate.invalid(module, "rateLimit.cost", rateLimit.cost, `an integer >= 1 and <= ${rateLimit.limit} (the limit)`)
    }
    if (!isSfStringSafe(rateLimit.policy)) {
      throw validate.invalid(module, "rateLimit.policy", rateLimit.policy, "a non-empty string of printable ASCII")
    }
  }
  const deadline = resolved.deadline
  if (deadline !== undefined && !isHeaderName(deadline.header)) {
    throw validate.invalid(module, "deadline.header", deadline.header, "a header field name (an RFC 9110 token)")
  }
}).readFrom("ResilientHttpServer.config")

/** The options, validated, with their defaults. @internal */
export type Resolved = Spec.Resolved<typeof spec.fields>

/** @internal */
export const resolve = (options: ResilientHttpServer.ResilientHttpServer.Options, module = M): Resolved =>
  spec.resolve(options, module)

/** Every options spec of the module, for the docs' options table (scripts/options-docs.ts). @internal */
export const specs: ReadonlyArray<Spec.Spec<any>> = [spec]
