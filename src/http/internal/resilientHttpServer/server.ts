/**
 * The server middleware: one {@link ServerImpl} per middleware, and the
 * callable (an `HttpApp` → `HttpApp` function) built around it.
 *
 * Per request, in this order:
 *
 * 1. **Deadline.** The server's maximum, shortened by the request's deadline
 *    header when it is trusted (and by an enclosing deadline, if any). A
 *    request that arrives with no time left is answered 504 at once: it is
 *    neither charged nor run.
 * 2. **Rate limit.** The client's key (a function of the request) is charged
 *    on the limiter's store; over the limit, 429 with `Retry-After` and the
 *    `RateLimit`/`RateLimit-Policy` fields; admitted, the fields are added to
 *    the response (a pre-response handler, so they reach it wherever the
 *    middleware sits).
 * 3. **Deadline, concurrency, handler.** The handler runs interruptibly
 *    under the deadline (the library's `Deadline`: every policy inside sees
 *    it), inside the bulkhead (its queue wait bounded by the deadline too);
 *    shed, 503 with `Retry-After`; at the deadline the handler is
 *    interrupted and awaited, then 504. The server's own maximum interrupts
 *    with the library's timeout marker (a hung dependency inside is a
 *    failure of that dependency, as with any `Timeout`); a deadline from the
 *    header interrupts with its own marker and is flagged `fromRequest`, so
 *    no circuit breaker inside ever counts it.
 * 4. **Errors.** With `mapErrors`, the library's errors the handler fails
 *    with become their answers (errors.ts); other failures pass through.
 *
 * @internal
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Clock from "effect/Clock"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Scope from "effect/Scope"
import { background } from "../../../internal/detached.js"
import type * as Bulkhead from "../../../Bulkhead.js"
import type { InvalidOptionsError } from "../../../Errors.js"
import * as bulkhead_ from "../../../internal/bulkhead/bulkhead.js"
import {
  active,
  currentDeadline,
  type Deadline,
  expired,
  requestDeadlineInterruptor,
  timeoutInterruptor
} from "../../../internal/deadline.js"
import { TimeoutError } from "../../../internal/errors.js"
import * as Keys from "../../../internal/keys.js"
import * as metricKeys from "../../../internal/metricKeys.js"
import { unsafeMakeCallable } from "../../../internal/policy.js"
import type { RateLimiterStoreError, RateLimitExceededError } from "../../../internal/rateLimiter/errors.js"
import { storeFor } from "../../../internal/rateLimiter/memoryStore.js"
import { resolve as resolveLimiter } from "../../../internal/rateLimiter/options.js"
import { RateLimiterImpl, unsafeMakeLimiter } from "../../../internal/rateLimiter/rateLimiter.js"
import { plainReserve } from "../../../internal/rateLimiter/store.js"
import * as Spec from "../../../internal/spec.js"
import { makeFastTimeout } from "../../../internal/timeout/fastPath.js"
import { monotonicMillis } from "../../../internal/time.js"
import * as userCode from "../../../internal/userCode.js"
import * as validate from "../../../internal/validate.js"
import type * as RL from "../../../RateLimiter.js"
import type * as ResilientHttpServer from "../../ResilientHttpServer.js"
import { type ApiError, DeadlineExceeded, RateLimited, responseOf, toResponse, Unavailable } from "./errors.js"
import { limitItem, parseDeadline, policyItem, withRateLimitHeaders } from "./headers.js"
import * as Options from "./options.js"

/** @internal */
export const TypeId: ResilientHttpServer.TypeId = Symbol.for(
  "effect-resilience/http/ResilientHttpServer"
) as ResilientHttpServer.TypeId

/** @internal */
export const isResilientHttpServer = (u: unknown): u is ResilientHttpServer.ResilientHttpServer =>
  typeof u === "function" && Predicate.hasProperty(u, TypeId)

const rejectionsKey = MetricKey.counter("resilience_http_server_rejections", {
  description: "Requests the server middleware answered itself (reason: shed, rate_limited, deadline)",
  incremental: true
})

/** How a request's deadline applies: the budget, the deadline the handler runs under, the error at its end. */
interface Plan {
  readonly budget: number
  readonly deadline: Deadline
  /** The enclosing deadline, when there is one (the same object when it comes first). */
  readonly outer: Deadline | undefined
  readonly error: () => TimeoutError
}

/** The rate limiter's decision for a request. */
type Charge =
  | { readonly _tag: "Exempt" }
  | { readonly _tag: "Admitted"; readonly limit: string | undefined }
  | { readonly _tag: "Rejected"; readonly response: HttpServerResponse.HttpServerResponse; readonly error: ApiError }

const EXEMPT: Charge = { _tag: "Exempt" }

/** Why the middleware answered a request itself. */
type Reason = "shed" | "rate_limited" | "deadline" | "unavailable"

/** @internal */
export class ServerImpl {
  readonly name: string
  requests = 0
  shed = 0
  rateLimited = 0
  deadlineExceeded = 0
  ignoredDeadlineHeaders = 0
  mapped = 0

  /** The server's own maximum: the library's timeout marker. */
  readonly ownTimer = makeFastTimeout()
  /** A deadline from the request's header: a marker no breaker counts. */
  readonly requestTimer = makeFastTimeout(requestDeadlineInterruptor)

  readonly maxMillis: number
  readonly shedRetryAfterSeconds: number
  readonly policyItem: string | undefined
  readonly keySite: userCode.Site
  readonly partitionSite: userCode.Site
  readonly trustSite: userCode.Site
  readonly rejections: Record<Reason, Metric.Metric.Counter<number>>

  constructor(
    readonly cfg: Options.Resolved,
    readonly clock: Clock.Clock,
    readonly bulkhead: Bulkhead.Bulkhead<any> | undefined,
    readonly limiter: RateLimiterImpl | undefined
  ) {
    this.name = cfg.name
    this.maxMillis = cfg.deadline === undefined ? Infinity : Duration.toMillis(cfg.deadline.max)
    this.shedRetryAfterSeconds = cfg.concurrency === undefined
      ? 0
      : Math.max(0, Math.ceil(Duration.toMillis(cfg.concurrency.retryAfter) / 1000 - 1e-9))
    const rl = cfg.rateLimit
    this.policyItem = rl === undefined ? undefined : policyItem(rl.policy, rl.limit, Duration.toMillis(rl.window))
    this.keySite = userCode.site("ResilientHttpServer", cfg.name, "rateLimit.key", "the request is not rate limited")
    this.partitionSite = userCode.site(
      "ResilientHttpServer",
      cfg.name,
      "concurrency.partition",
      "the request runs in the app's partition"
    )
    this.trustSite = userCode.site("ResilientHttpServer", cfg.name, "deadline.trustHeader", "the header is not trusted")
    const rejection = (reason: string) => metricKeys.tagged(rejectionsKey, [["policy", cfg.name], ["reason", reason]])
    this.rejections = {
      shed: rejection("shed"),
      rate_limited: rejection("rate_limited"),
      deadline: rejection("deadline"),
      unavailable: rejection("unavailable")
    }
  }

  unsafeStats(): ResilientHttpServer.ResilientHttpServer.Stats {
    return {
      requests: this.requests,
      shed: this.shed,
      rateLimited: this.rateLimited,
      deadlineExceeded: this.deadlineExceeded,
      ignoredDeadlineHeaders: this.ignoredDeadlineHeaders,
      mapped: this.mapped
    }
  }

  /** Counts an answer the middleware made itself. */
  private answered(reason: Reason, response: HttpServerResponse.HttpServerResponse) {
    if (reason === "shed") this.shed++
    else if (reason === "rate_limited") this.rateLimited++
    else if (reason === "deadline") this.deadlineExceeded++
    return Effect.as(Metric.increment(this.rejections[reason]), response)
  }

  // --- the deadline -------------------------------------------------------------

  /** The trusted header's value in milliseconds, if the request carries one we may use. */
  headerMillis(request: HttpServerRequest.HttpServerRequest): number | undefined {
    const d = this.cfg.deadline!
    const raw = request.headers[d.header.toLowerCase()]
    if (raw === undefined) return undefined
    const trusted = typeof d.trustHeader === "function"
      ? userCode.predicate(this.trustSite, d.trustHeader, request, false)
      : d.trustHeader
    if (!trusted) return undefined
    const millis = parseDeadline(raw)
    if (millis === undefined) this.ignoredDeadlineHeaders++
    return millis
  }

  /**
   * The request's deadline: the server's maximum, or the header's when it is
   * shorter (trusted only), or the enclosing deadline when that comes first.
   * `undefined` when no deadline is configured.
   */
  planFor(request: HttpServerRequest.HttpServerRequest, fiber: Fiber.RuntimeFiber<any, any>): Plan | undefined {
    if (this.cfg.deadline === undefined) return undefined
    const now = monotonicMillis(this.clock)
    const outer = active(fiber.getFiberRef(currentDeadline))
    const header = this.headerMillis(request)
    const fromRequest = header !== undefined && header < this.maxMillis
    const millis = fromRequest ? header : this.maxMillis
    if (outer !== undefined && outer.at <= now + millis) {
      return { budget: Math.max(0, outer.at - now), deadline: outer, outer, error: outer.error }
    }
    const duration = Duration.millis(millis)
    const policy = this.name
    const error = fromRequest
      ? () => TimeoutError.make({ duration, policy, scope: "overall", fromRequest: true })
      : () => TimeoutError.make({ duration, policy, scope: "overall" })
    const deadline: Deadline = { at: now + millis, duration, policy, error, active: true, fromRequest }
    return { budget: millis, deadline, outer, error }
  }

  /** The time `plan` has left now: what the request spent before its handler (its key, the store) counts. */
  leftOf(plan: Plan): number {
    return plan.deadline.at - monotonicMillis(this.clock)
  }

  /**
   * Runs `self` under `plan`, interrupting it at the deadline with the marker its origin calls for.
   * Called when the handler is about to run: the deadline counts from the request's arrival, so a
   * request whose time ran out before its handler (a slow key function, a slow store) fails with the
   * deadline's error without running.
   */
  runUnder<A, E, R>(self: Effect.Effect<A, E, R>, plan: Plan): Effect.Effect<A, E | TimeoutError, R> {
    const left = this.leftOf(plan)
    if (left <= 0) return Effect.failSync(() => expired(plan.deadline))
    const timer = plan.deadline.fromRequest === true ? this.requestTimer : this.ownTimer
    return timer.run(self, { budget: left, deadline: plan.deadline, outer: plan.outer, error: plan.error, disconnect: false })
  }

  // --- the rate limit -------------------------------------------------------------

  /** The request's key: a string, `undefined` (exempt), or `null` for a key the limiter refuses (too long…). */
  keyOf(request: HttpServerRequest.HttpServerRequest): Effect.Effect<string | undefined | null> {
    const f = this.cfg.rateLimit!.key
    const valid = (u: unknown): u is string | undefined | Effect.Effect<unknown> =>
      u === undefined || typeof u === "string" || Effect.isEffect(u)
    const answer = userCode.call(this.keySite, f, request, valid, () => undefined)
    const check = (key: string | undefined): string | undefined | null =>
      key === undefined || Keys.isValid(this.limiter!.keyPolicy, key) ? key : null
    if (!Effect.isEffect(answer)) return Effect.succeed(check(answer))
    return Effect.map(
      userCode.awaitHook(
        this.keySite,
        answer,
        userCode.DEFAULT_HOOK_TIMEOUT_MILLIS,
        (u): u is string | undefined => u === undefined || typeof u === "string",
        () => undefined
      ),
      check
    )
  }

  /** Charges the request's key (`null`: the limiter's own limit, shared by every refused key). */
  charge(key: string | null): Effect.Effect<Charge> {
    const impl = this.limiter!
    const rl = this.cfg.rateLimit!
    const limiterKey = key === null ? undefined : key
    const storeKey = key === null ? impl.ownKey : Keys.namespaced(impl.cfg.name, key)
    const req = impl.request(storeKey, rl.cost, 0)
    const onReservation = (reservation: RL.Reservation): Effect.Effect<Charge> => {
      if (reservation.admitted) {
        const limit = rl.headers === "always" ? limitItem(rl.policy, reservation.remaining, reservation.resetMillis) : undefined
        return Effect.as(impl.permit(Effect.void, limiterKey, req), { _tag: "Admitted", limit })
      }
      return Effect.catchAll(
        impl.reject(limiterKey, req, reservation),
        (error) => Effect.succeed(this.rejected(error, reservation))
      )
    }
    const onFailure = (error: unknown): Effect.Effect<Charge> =>
      Effect.matchEffect(impl.onStoreFailure(Effect.void, limiterKey, error), {
        onFailure: (e: RateLimiterStoreError) => {
          const answer = toResponse(e).pipe(Option.getOrElse(() => responseOf(new Unavailable({}))))
          return Effect.succeed<Charge>({ _tag: "Rejected", response: answer, error: new Unavailable({}) })
        },
        onSuccess: () => Effect.succeed(EXEMPT)
      })
    const unsafeReserve = impl.unsafeReserve
    if (unsafeReserve !== undefined) {
      return Effect.suspend(() => onReservation(unsafeReserve(monotonicMillis(impl.clock), req)))
    }
    const reserve = impl.atomic !== undefined ? impl.atomic.reserve(req) : plainReserve(impl.store, req)
    return Effect.matchEffect(reserve, { onFailure, onSuccess: onReservation })
  }

  /** The 429 for a rejected reservation: `Retry-After` never earlier than the reset (`t`). */
  rejected(error: RateLimitExceededError, reservation: RL.Reservation): Charge {
    const rl = this.cfg.rateLimit!
    const retryMillis = Duration.toMillis(error.retryAfter)
    const resetMillis = reservation.resetMillis ?? retryMillis
    const seconds = Math.max(Math.ceil(retryMillis / 1000 - 1e-9), Math.ceil(resetMillis / 1000 - 1e-9), 0)
    const apiError = new RateLimited({ retryAfterSeconds: seconds })
    let response = responseOf(apiError)
    if (rl.headers !== "never") {
      response = withRateLimitHeaders(response, this.policyItem!, limitItem(rl.policy, reservation.remaining, seconds * 1000))
    }
    return { _tag: "Rejected", response, error: apiError }
  }

  /** The rate limiter's decision for `request`. */
  rateLimit(request: HttpServerRequest.HttpServerRequest): Effect.Effect<Charge> {
    if (this.limiter === undefined) return Effect.succeed(EXEMPT)
    return Effect.flatMap(this.keyOf(request), (key) => key === undefined ? Effect.succeed(EXEMPT) : this.charge(key))
  }

  /** Adds the admitted request's rate limit fields to whatever response it gets. */
  addHeaders(charge: Charge): Effect.Effect<void> {
    if (charge._tag !== "Admitted" || this.cfg.rateLimit!.headers !== "always") return Effect.void
    const policy = this.policyItem!
    const limit = charge.limit
    return HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(withRateLimitHeaders(response, policy, limit)))
  }

  // --- concurrency ----------------------------------------------------------------------

  /** The bulkhead partition of a request (`undefined`: the app's). */
  partitionOf(context: Context.Context<never>, request: HttpServerRequest.HttpServerRequest): string | undefined {
    const partition = this.cfg.concurrency!.partition
    if (partition === "app") return undefined
    if (partition === "route") {
      const route = Context.getOption(context, HttpRouter.RouteContext)
      return Option.isNone(route) ? undefined : `${route.value.route.method} ${route.value.route.path}`
    }
    const policy = this.bulkhead!
    const keyPolicy: Keys.KeyPolicy = { kind: "Bulkhead", name: policy.policyName, maxKeyLength: Keys.DEFAULT_MAX_KEY_LENGTH }
    return userCode.call(
      this.partitionSite,
      partition,
      request,
      (u): u is string | undefined => u === undefined || Keys.isValid(keyPolicy, u),
      () => undefined
    )
  }

  /**
   * The `Retry-After` (seconds) of a shed request: the bulkhead's estimate
   * when it has one (an adaptive limit measures latency), else the configured hint.
   */
  shedSeconds(error: unknown): number {
    const estimate = Predicate.hasProperty(error, "retryAfter") && Duration.isDuration(error.retryAfter)
      ? error.retryAfter
      : undefined
    return estimate === undefined ? this.shedRetryAfterSeconds : Math.max(1, Math.ceil(Duration.toMillis(estimate) / 1000))
  }

  /** 503 for a request the bulkhead shed (its queue full, or `maxWait` passed). */
  shedResponse(error?: unknown): HttpServerResponse.HttpServerResponse {
    return responseOf(new Unavailable({ retryAfterSeconds: this.shedSeconds(error) }))
  }

  // --- the middleware ---------------------------------------------------------------------

  /** `app` with the library's errors it fails with turned into their answers (`mapErrors`). */
  mapErrors<E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> {
    if (!this.cfg.mapErrors) return app
    return Effect.catchAll(app, (error) => {
      const response = toResponse(error)
      if (Option.isNone(response)) return Effect.fail(error)
      this.mapped++
      return Effect.succeed(response.value)
    })
  }

  apply<E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> {
    // the handler runs interruptibly (a client that goes away, or the deadline, stops it), its failures
    // carried as values so that the error channel holds only the middleware's own rejections
    const inner = Effect.either(Effect.interruptible(this.mapErrors(app)))
    return Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>(
      (fiber) => {
        this.requests++
        const context = fiber.currentContext as Context.Context<never>
        const request = Context.unsafeGet(context, HttpServerRequest.HttpServerRequest)
        const plan = this.planFor(request, fiber)
        // no time left: the caller has given up; neither charge nor run
        if (plan !== undefined && plan.budget <= 0) return this.answered("deadline", responseOf(new DeadlineExceeded()))
        return Effect.flatMap(this.rateLimit(request), (charge) => {
          if (charge._tag === "Rejected") {
            return this.answered(charge.error._tag === "RateLimited" ? "rate_limited" : "unavailable", charge.response)
          }
          const bulkhead = this.bulkhead
          // the queue wait too is interruptible: a client that goes away while queued leaves the queue
          const guarded = bulkhead === undefined
            ? inner
            : Effect.interruptible(bulkhead.execute(inner, { key: this.partitionOf(context, request) }))
          // interruptible as the handler is: a client that goes away stops the wait for it, and with it the handler
          const timed = plan === undefined ? guarded : Effect.interruptible(this.runUnder(guarded, plan))
          const answered = Effect.matchEffect(timed, {
            onFailure: (error: unknown) =>
              error instanceof TimeoutError
                ? this.answered("deadline", responseOf(new DeadlineExceeded()))
                : this.answered("shed", bulkheadAnswer(error, this)),
            onSuccess: (result) =>
              Either.isRight(result) ? Effect.succeed(result.right) : Effect.fail(result.left)
          })
          return charge._tag === "Admitted" ? Effect.zipRight(this.addHeaders(charge), answered) : answered
        })
      }
    ) as HttpApp.Default<E, R>
  }

  // --- per endpoint (HttpApiMiddleware) ------------------------------------------------------

  /**
   * The `HttpApiMiddleware` form: runs before the endpoint's handler, in the
   * request's fiber. The rate limit as in {@link apply}; a bulkhead permit
   * held in the request's scope (released when the response is done); the
   * deadline set on the request's fiber for the handler (every policy inside
   * sees it) and enforced by a watcher that interrupts the fiber at the
   * deadline, whose answer a pre-response handler turns into 504.
   */
  readonly apiMiddleware: Effect.Effect<void, ApiError, HttpRouter.HttpRouter.Provided> = Effect.withFiberRuntime(
    (fiber) => {
      this.requests++
      const context = fiber.currentContext as Context.Context<never>
      const request = Context.unsafeGet(context, HttpServerRequest.HttpServerRequest)
      const scope = Context.unsafeGet(context, Scope.Scope)
      const plan = this.planFor(request, fiber)
      if (plan !== undefined && plan.budget <= 0) {
        return Effect.zipRight(this.answered("deadline", responseOf(new DeadlineExceeded())), Effect.fail(new DeadlineExceeded()))
      }
      return Effect.flatMap(this.rateLimit(request), (charge) => {
        if (charge._tag === "Rejected") {
          const response = charge.response
          return Effect.zipRight(
            // the endpoint encodes the error; the headers come from our answer
            Effect.zipRight(
              this.answered(charge.error._tag === "RateLimited" ? "rate_limited" : "unavailable", response),
              HttpApp.appendPreResponseHandler((_, r) => Effect.succeed(copyHeaders(response, r)))
            ),
            Effect.fail(charge.error)
          )
        }
        // (after the charge: the time it took counts against the deadline)
        const deadline = plan === undefined ? Effect.void : this.watch(fiber, scope, plan)
        const permit = this.bulkhead === undefined ? Effect.void : this.holdPermit(context, request, scope)
        return Effect.zipRight(Effect.zipRight(this.addHeaders(charge), deadline), permit)
      })
    }
  )

  /**
   * Sets the request's deadline for the rest of its fiber and interrupts the fiber when it passes
   * (counted from the request's arrival: when its time ran out before the handler, 504 at once).
   */
  watch(fiber: Fiber.RuntimeFiber<any, any>, scope: Scope.Scope, plan: Plan): Effect.Effect<void, ApiError> {
    const left = this.leftOf(plan)
    if (left <= 0) {
      return Effect.zipRight(this.answered("deadline", responseOf(new DeadlineExceeded())), Effect.fail(new DeadlineExceeded()))
    }
    const deadline = plan.deadline
    const mine = deadline !== plan.outer
    let fired = false
    const interruptor = deadline.fromRequest === true ? requestDeadlineInterruptor : timeoutInterruptor
    const watcher = Effect.zipRight(
      Effect.sleep(Duration.millis(left)),
      Effect.sync(() => {
        fired = true
        fiber.unsafeInterruptAsFork(interruptor)
      })
    )
    return Effect.all([
      FiberRef.set(currentDeadline, deadline),
      // the deadline ends with the request (forks that outlive it see none)
      mine ? Scope.addFinalizer(scope, Effect.sync(() => (deadline.active = false))) : Effect.void,
      Effect.forkIn(background(watcher), scope),
      HttpApp.appendPreResponseHandler((_, response) =>
        fired ? this.answered("deadline", copyHeaders(response, responseOf(new DeadlineExceeded()))) : Effect.succeed(response)
      )
    ], { discard: true })
  }

  /** Takes a bulkhead permit held until the request's scope closes (the response sent, or the request abandoned). */
  holdPermit(
    context: Context.Context<never>,
    request: HttpServerRequest.HttpServerRequest,
    scope: Scope.Scope
  ): Effect.Effect<void, ApiError> {
    const bulkhead = this.bulkhead!
    return Effect.flatMap(Deferred.make<void, unknown>(), (admitted) => {
      const holder: Effect.Effect<unknown> = bulkhead.execute(
        Effect.zipRight(Deferred.succeed(admitted, undefined), Effect.never),
        { key: this.partitionOf(context, request) }
      ).pipe(Effect.catchAll((error: unknown) => Deferred.fail(admitted, error)))
      return Effect.zipRight(
        Effect.forkIn(background(holder), scope),
        Effect.catchAll(Deferred.await(admitted), (error): Effect.Effect<never, ApiError> => {
          if (error instanceof TimeoutError) {
            return Effect.zipRight(this.answered("deadline", responseOf(new DeadlineExceeded())), Effect.fail(new DeadlineExceeded()))
          }
          const response = bulkheadAnswer(error, this)
          return Effect.zipRight(
            Effect.zipRight(
              this.answered("shed", response),
              HttpApp.appendPreResponseHandler((_, r) => Effect.succeed(copyHeaders(response, r)))
            ),
            Effect.fail(new Unavailable({ retryAfterSeconds: this.shedSeconds(error) }))
          )
        })
      )
    })
  }
}

/** The answer to a failure of the middleware's bulkhead: shed (503 with the configured hint), or its store's failure. */
const bulkheadAnswer = (error: unknown, impl: ServerImpl): HttpServerResponse.HttpServerResponse =>
  Predicate.isTagged(error, "BulkheadFullError")
    ? impl.shedResponse(error)
    : Option.getOrElse(toResponse(error), () => responseOf(new Unavailable({})))

/** `target` with the headers `source` sets that `target` lacks (`Retry-After`, the rate limit fields). */
const copyHeaders = (
  source: HttpServerResponse.HttpServerResponse,
  target: HttpServerResponse.HttpServerResponse
): HttpServerResponse.HttpServerResponse => {
  const extra: Record<string, string> = {}
  let any = false
  for (const [name, value] of Object.entries(source.headers)) {
    if (name !== "content-type" && name !== "content-length" && target.headers[name] === undefined) {
      extra[name] = value
      any = true
    }
  }
  return any ? HttpServerResponse.setHeaders(target, extra) : target
}

/** The callable around an implementation. */
const callable = (impl: ServerImpl): ResilientHttpServer.ResilientHttpServer => {
  const stats = Effect.sync(() => impl.unsafeStats())
  const middleware = <E, R>(app: HttpApp.Default<E, R>) => impl.apply(app)
  const value = Object.assign(middleware, {
    [TypeId]: TypeId,
    policyName: impl.name,
    options: impl.cfg,
    bulkhead: impl.bulkhead,
    rateLimiter: impl.limiter === undefined ? undefined : unsafeMakeLimiter(impl.limiter),
    apiMiddleware: impl.apiMiddleware,
    stats: () => stats,
    unsafeStats: () => impl.unsafeStats()
  })
  return unsafeMakeCallable(value as any, {
    kind: "ResilientHttpServer",
    name: impl.name,
    options: {
      ...(impl.cfg.concurrency === undefined ? {} : {
          maxConcurrent: typeof impl.cfg.concurrency.maxConcurrent === "number"
            ? impl.cfg.concurrency.maxConcurrent
            : `adaptive (${impl.cfg.concurrency.maxConcurrent._tag})`
        }),
      ...(impl.cfg.rateLimit === undefined
        ? {}
        : { limit: impl.cfg.rateLimit.limit, window: Duration.format(impl.cfg.rateLimit.window) }),
      ...(impl.cfg.deadline === undefined ? {} : { maxDeadline: Duration.format(impl.cfg.deadline.max) })
    }
  }) as unknown as ResilientHttpServer.ResilientHttpServer
}

/** Makes the implementation from resolved options, in the current scope. */
const build = (cfg: Options.Resolved): Effect.Effect<ServerImpl, InvalidOptionsError, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const c = cfg.concurrency
    const bulkhead = c === undefined
      ? undefined
      : yield* bulkhead_.make({
        maxConcurrent: c.maxConcurrent,
        maxQueue: c.maxQueue,
        ...(c.maxWait === undefined ? {} : { maxWait: c.maxWait }),
        name: cfg.name
      })
    const rl = cfg.rateLimit
    let limiter: RateLimiterImpl | undefined
    if (rl !== undefined) {
      const limiterCfg = yield* validate.validated(() =>
        resolveLimiter({
          limit: rl.limit,
          window: rl.window,
          algorithm: rl.algorithm,
          cost: rl.cost,
          onStoreError: rl.onStoreError,
          name: cfg.name,
          maxKeyLength: rl.maxKeyLength
        })
      )
      const store = yield* storeFor
      limiter = new RateLimiterImpl(limiterCfg, store, clock)
      const impl = limiter
      yield* Effect.addFinalizer(() => impl.publish)
    }
    return new ServerImpl(cfg, clock, bulkhead, limiter)
  })

/** @internal */
export const make = (
  options: ResilientHttpServer.ResilientHttpServer.Options = {}
): Effect.Effect<ResilientHttpServer.ResilientHttpServer, InvalidOptionsError, Scope.Scope> =>
  Effect.flatMap(validate.validated(() => Options.resolve(options)), (cfg) => Effect.map(build(cfg), callable))

/** @internal */
export const layer = <I, S>(
  tag: Context.Tag<I, S>,
  options?: ResilientHttpServer.ResilientHttpServer.Options
): Layer.Layer<I, InvalidOptionsError> =>
  Layer.scoped(tag, make(options) as unknown as Effect.Effect<S, InvalidOptionsError, Scope.Scope>)

/** @internal */
export const config = Options.spec.config as any

/** Merges code options (key functions, predicates) into the groups read from `Config`. */
const mergeCode = (
  data: Record<string, unknown>,
  code: ResilientHttpServer.ResilientHttpServer.CodeOptions | undefined,
  module: string
): Record<string, unknown> => {
  if (code === undefined) return data
  const given = validate.options(module, code as Record<string, unknown>, "code")
  const out: Record<string, unknown> = { ...data }
  for (const [group, value] of Object.entries(given)) {
    if (value === undefined) continue
    const base = out[group]
    out[group] = typeof value === "object" && value !== null && typeof base === "object" && base !== null
      ? { ...(base as object), ...(value as object) }
      : value
  }
  return out
}

/** @internal */
export const fromConfig = (
  config: unknown,
  code?: ResilientHttpServer.ResilientHttpServer.CodeOptions,
  module = "ResilientHttpServer.fromConfig"
): Effect.Effect<ResilientHttpServer.ResilientHttpServer, InvalidOptionsError | ConfigError.ConfigError, Scope.Scope> =>
  Effect.flatMap(
    validate.fromConfig<Record<string, unknown>>(module, config as any),
    (data) =>
      Effect.flatMap(
        validate.validated(() =>
          Spec.asConfig(Options.spec, module, () => {
            const options = mergeCode(Options.spec.fromConfigOptions(data, module), code, module)
            return Options.resolve(options as ResilientHttpServer.ResilientHttpServer.Options, module)
          })
        ),
        (cfg) => Effect.map(build(cfg), callable)
      )
  )

/** @internal */
export const layerConfig = <I, S>(
  tag: Context.Tag<I, S>,
  config: unknown,
  code?: ResilientHttpServer.ResilientHttpServer.CodeOptions
): Layer.Layer<I, InvalidOptionsError | ConfigError.ConfigError> =>
  Layer.scoped(
    tag,
    fromConfig(config, code, "ResilientHttpServer.layerConfig") as unknown as Effect.Effect<
      S,
      InvalidOptionsError | ConfigError.ConfigError,
      Scope.Scope
    >
  )

/** @internal */
export const layerApiMiddleware = <I, S>(
  tag: Context.Tag<I, S>,
  options?: ResilientHttpServer.ResilientHttpServer.Options
): Layer.Layer<I, InvalidOptionsError> =>
  Layer.scoped(
    tag,
    Effect.map(make(options), (server) => server.apiMiddleware as unknown as S)
  )
