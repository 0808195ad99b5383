/**
 * The store interface of the rate limiter: `@effect/experimental`'s
 * `RateLimiterStore` service (`tokenBucket`, `fixedWindow`), with the
 * library's optional atomic extension (`AtomicStoreTypeId`: `reserve`,
 * `refund`, and for in-process stores their synchronous twins).
 *
 * With an atomic store, one `reserve` per call decides and charges. With a
 * plain experimental store (e.g. experimental's Redis store) the decision is
 * a short protocol on `tokenBucket`/`fixedWindow` ({@link plainReserve})
 * that never leaves a rejected call charged:
 *
 * - `"fail"`: one capped call (`allowOverflow: false` / `limit`), which the
 *   store only charges when it admits;
 * - `"delay"` without a bound: one uncapped call (experimental's own delay);
 * - `"delay"` with a bound (`maxDelay` or a deadline), token bucket: a capped
 *   take; if short, the wait is estimated and the call rejected uncharged when
 *   it is too long; otherwise an overdraft take. If a concurrent caller took
 *   capacity in between, the wait may come out longer than the bound: the
 *   call then waits anyway (it was charged, so it runs) — refunding it would
 *   leave a hole in the queue that the next caller cannot fill, letting it
 *   start together with the last one;
 * - `"delay"` with a bound, fixed window: a take capped at the count the
 *   bound allows (conservatively, assuming the counter just started); if
 *   refused, the exact wait is computed from the answer and, when it fits,
 *   one more take capped by the exact count. A refused take charges nothing.
 *
 * Plain stores get no refunds (an interrupted waiter's slot is lost, never
 * shared): the interface cannot tell whether a later call reserved after it.
 *
 * @internal
 */
import type * as RateLimiterExperimental from "@effect/experimental/RateLimiter"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import type * as RL from "../../RateLimiter.js"

/** The same symbol as `RateLimiter.AtomicStoreTypeId` (`Symbol.for`). @internal */
export const AtomicStoreTypeId: RL.AtomicStoreTypeId = Symbol.for(
  "effect-resilience/RateLimiter/AtomicStore"
) as RL.AtomicStoreTypeId

/** @internal */
export const isAtomicStore = (u: unknown): u is RL.AtomicStore => Predicate.hasProperty(u, AtomicStoreTypeId)

/**
 * The experimental store interface, for implementations that have only it.
 *
 * @internal
 */
export type PlainStore = Context.Tag.Service<typeof RateLimiterExperimental.RateLimiterStore>

// a token bucket's next refill is unknown through experimental's interface; a fixed window's reset is its ttl
const admitted = (delayMillis: number, remaining: number, resetMillis?: number): RL.Reservation => ({
  admitted: true,
  delayMillis,
  retryAfterMillis: 0,
  remaining: Math.max(0, remaining),
  ...(resetMillis === undefined ? {} : { resetMillis: Math.max(0, resetMillis) })
})

const rejected = (delayMillis: number, retryAfterMillis: number, remaining: number, resetMillis?: number): RL.Reservation => ({
  admitted: false,
  delayMillis,
  retryAfterMillis: Math.max(0, retryAfterMillis),
  remaining: Math.max(0, remaining),
  ...(resetMillis === undefined ? {} : { resetMillis: Math.max(0, resetMillis) })
})

/**
 * Reserves on a plain experimental store (see the module documentation).
 *
 * @internal
 */
export const plainReserve = (
  store: PlainStore,
  req: RL.ReserveRequest
): Effect.Effect<RL.Reservation, RateLimiterExperimental.RateLimiterError> => {
  const { key, limit, maxDelayMillis: maxDelay, tokens, windowMillis } = req
  const refillMillis = windowMillis / limit
  const refillRate = Duration.millis(refillMillis)
  if (req.algorithm === "token-bucket") {
    const take = (n: number, allowOverflow: boolean) =>
      store.tokenBucket({ key, tokens: n, limit, refillRate, allowOverflow })
    // Stryker disable next-line ConditionalExpression,BlockStatement: equivalent: without this fast path maxDelay 0 takes the bounded path below, which makes the same single capped take and, since every estimate is > 0, rejects with the same delay, retryAfter and remaining
    if (maxDelay === 0) {
      return Effect.map(
        take(tokens, false),
        (r) => r >= 0 ? admitted(0, r) : rejected(-r * refillMillis, -r * refillMillis, r + tokens)
      )
    }
    if (maxDelay === Infinity) {
      return Effect.map(take(tokens, true), (r) => admitted(r >= 0 ? 0 : -r * refillMillis, r))
    }
    return Effect.flatMap(take(tokens, false), (r) => {
      if (r >= 0) return Effect.succeed(admitted(0, r))
      const estimate = -r * refillMillis
      if (estimate > maxDelay) return Effect.succeed(rejected(estimate, estimate - maxDelay, r + tokens))
      // charged from here on: the call runs, even if a concurrent caller made its wait longer than the bound
      // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: the limiter runs any admitted reservation whose delay is <= 0 at once, and -r2 * refillMillis <= 0 exactly when r2 >= 0
      return Effect.map(take(tokens, true), (r2) => admitted(r2 >= 0 ? 0 : -r2 * refillMillis, r2))
    })
  }
  const hit = (cap: number | undefined) => store.fixedWindow({ key, tokens, refillRate, limit: cap })
  const windowOf = (count: number) => Math.floor((count - 1) / limit)
  const delayOf = (count: number, ttl: number) => Math.max(0, windowOf(count) * windowMillis - (count * refillMillis - ttl))
  const remainingOf = (count: number) => limit * (windowOf(count) + 1) - count
  if (maxDelay === 0) {
    return Effect.map(hit(limit), ([count, ttl]) =>
      count <= limit ? admitted(0, limit - count, ttl) : rejected(ttl, ttl, limit - (count - tokens), ttl))
  }
  if (maxDelay === Infinity) {
    return Effect.map(hit(undefined), ([count, ttl]) => admitted(delayOf(count, ttl), remainingOf(count), ttl))
  }
  // the largest count whose wait fits maxDelay, given how long the counter has run
  const capFor = (elapsed: number) => limit * (Math.floor((maxDelay + elapsed) / windowMillis) + 1)
  const attempt = (
    cap: number,
    again: boolean
  ): Effect.Effect<RL.Reservation, RateLimiterExperimental.RateLimiterError> =>
    Effect.flatMap(hit(cap), ([count, ttl]) => {
      if (count <= cap) return Effect.succeed(admitted(delayOf(count, ttl), remainingOf(count), ttl))
      // refused, nothing taken: `count` includes this call's tokens, `ttl` is the counter's
      const prior = count - tokens
      const elapsed = prior * refillMillis - ttl
      const delay = Math.max(0, windowOf(count) * windowMillis - elapsed)
      if (again && delay <= maxDelay) return attempt(capFor(elapsed), false)
      return Effect.succeed(rejected(delay, Math.min(ttl, delay - maxDelay), limit - prior, ttl))
    })
  return attempt(capFor(0), true)
}
