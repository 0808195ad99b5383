/**
 * The baselines and the peers: bare Effect steps, Effect's own building
 * blocks, cockatiel 4 and opossum 10. Our own policies are in the module
 * files (`retry.ts`, `timeout.ts`, …) and refer to these cases by the names in
 * {@link PEER}.
 */
import {
  bulkhead,
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  ConstantBackoff,
  retry,
  timeout,
  TimeoutStrategy,
  wrap
} from "cockatiel"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as RateLimiter from "effect/RateLimiter"
import * as Schedule from "effect/Schedule"
import CircuitBreaker from "opossum"
import { async1, type Case, effectCase, fail1, op, opFail, promiseCase, scopedCase, succeed1 } from "./_lib.js"

/** Names of the baseline and peer cases, for `peers` and `targets`. */
export const PEER = {
  bare: "baseline: Effect.succeed(1) step",
  bareAsync: "baseline: async Effect step (1 microtask)",
  bareFail: "baseline: Effect.exit(Effect.fail(e)) step",
  await: "baseline: await op()",
  awaitFail: "baseline: try { await op() } catch (throws)",

  effectRetry: "effect: Effect.retry(exponential ∘ recurs(3))",
  effectRetryFail: "effect: Effect.retry(recurs(3)) failing, zero delay",
  effectTimeout: "effect: Effect.timeout(\"1 second\")",
  effectTimeoutAsync: "effect: Effect.timeout(\"1 second\") async work",
  effectSemaphore: "effect: Semaphore(100).withPermits(1)",
  effectRateLimiter: "effect: RateLimiter.make (token bucket, never waits)",
  effectPipeline: "effect: timeout ∘ permits ∘ retry ∘ timeout by hand",
  effectPipelineAsync: "effect: timeout ∘ permits ∘ retry ∘ timeout by hand, async work",

  cockatielRetry: "cockatiel: retry(handleAll, 3, exponential)",
  cockatielRetryFail: "cockatiel: retry(handleAll, 3, constant 0) failing",
  cockatielBreaker: "cockatiel: circuitBreaker(consecutive 5) closed",
  cockatielBreakerOpen: "cockatiel: circuitBreaker open rejection",
  cockatielBulkhead: "cockatiel: bulkhead(100)",
  cockatielTimeoutCoop: "cockatiel: timeout(1000, cooperative)",
  cockatielTimeoutAggr: "cockatiel: timeout(1000, aggressive)",
  cockatielWrap: "cockatiel: wrap(retry, breaker, timeout, bulkhead)",

  opossum: "opossum: breaker, default timeout (10 s)",
  opossumNoTimeout: "opossum: breaker, timeout: false",
  opossumOpen: "opossum: breaker open rejection"
} as const

const exponential3 = Schedule.exponential("100 millis").pipe(Schedule.compose(Schedule.recurs(3)))
const recurs3 = Schedule.recurs(3)
const oneSecond = Duration.seconds(1)
const tenSeconds = Duration.seconds(10)

const baselines: ReadonlyArray<Case> = [
  effectCase({
    name: PEER.bare,
    group: "baseline",
    lib: "baseline",
    path: "success",
    isBaseline: true,
    note: "a pre-built Effect.succeed(1), one step of the loop: what every Effect case is measured against",
    call: () => succeed1
  }),
  effectCase({
    name: PEER.bareAsync,
    group: "baseline",
    lib: "baseline",
    path: "async",
    isBaseline: true,
    note: "Effect.async resumed from a microtask: the fiber suspends and resumes, as for real I/O",
    call: () => async1
  }),
  effectCase({
    name: PEER.bareFail,
    group: "baseline",
    lib: "baseline",
    path: "failure",
    isBaseline: true,
    note: "a pre-built Effect.fail, observed with Effect.exit (as every failure-path Effect case is)",
    call: () => fail1
  }),
  promiseCase({
    name: PEER.await,
    group: "baseline",
    lib: "baseline",
    path: "success",
    isBaseline: true,
    note: "the Promise peers' baseline: `await op()` on an async function returning 1",
    make: () => ({ call: op })
  }),
  promiseCase({
    name: PEER.awaitFail,
    group: "baseline",
    lib: "baseline",
    path: "failure",
    isBaseline: true,
    note: "the Promise peers' failure baseline: an async function that throws a pre-made Error",
    make: () => ({ call: opFail })
  })
]

const effectBuiltins: ReadonlyArray<Case> = [
  effectCase({
    name: PEER.effectRetry,
    group: "retry",
    lib: "effect",
    path: "success",
    call: () => Effect.retry(succeed1, exponential3)
  }),
  effectCase({
    name: PEER.effectRetryFail,
    group: "retry",
    lib: "effect",
    path: "failure",
    note: "4 attempts; Effect's schedule driver skips the sleep when the delay is 0",
    call: () => Effect.retry(fail1, recurs3)
  }),
  effectCase({
    name: PEER.effectTimeout,
    group: "timeout",
    lib: "effect",
    path: "success",
    call: () => Effect.timeout(succeed1, oneSecond)
  }),
  effectCase({
    name: PEER.effectTimeoutAsync,
    group: "timeout",
    lib: "effect",
    path: "async",
    call: () => Effect.timeout(async1, oneSecond)
  }),
  scopedCase({
    name: PEER.effectSemaphore,
    group: "bulkhead",
    lib: "effect",
    path: "success",
    note: "uncontended",
    make: Effect.map(Effect.makeSemaphore(100), (sem) => {
      const withPermit = sem.withPermits(1)
      return () => withPermit(succeed1)
    })
  }),
  scopedCase({
    name: PEER.effectRateLimiter,
    group: "rate-limiter",
    lib: "effect",
    path: "success",
    note: "effect/RateLimiter with a limit it never reaches",
    make: Effect.map(
      RateLimiter.make({ limit: 1_000_000_000, interval: "1 second", algorithm: "token-bucket" }),
      (limiter) => () => limiter(succeed1)
    )
  }),
  ...[false, true].map((isAsync) =>
    scopedCase({
      name: isAsync ? PEER.effectPipelineAsync : PEER.effectPipeline,
      group: "pipeline",
      lib: "effect",
      path: isAsync ? "async" : "success",
      note: "Effect.timeout(10 s) ∘ Semaphore(100).withPermits(1) ∘ Effect.retry(exponential ∘ recurs(3)) ∘ Effect.timeout(1 s)",
      make: Effect.map(Effect.makeSemaphore(100), (sem) => {
        const withPermit = sem.withPermits(1)
        const work = isAsync ? async1 : succeed1
        return () => Effect.timeout(withPermit(Effect.retry(Effect.timeout(work, oneSecond), exponential3)), tenSeconds)
      })
    })
  )
]

const cockatiel: ReadonlyArray<Case> = [
  promiseCase({
    name: PEER.cockatielRetry,
    group: "retry",
    lib: "cockatiel",
    path: "success",
    make: () => {
      const policy = retry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() })
      return { call: () => policy.execute(op) }
    }
  }),
  promiseCase({
    name: PEER.cockatielRetryFail,
    group: "retry",
    lib: "cockatiel",
    path: "failure",
    note: "4 attempts; cockatiel awaits setTimeout(0) between attempts even for a zero delay (≥ 1 ms each)",
    smokeOps: 1,
    make: () => {
      const policy = retry(handleAll, { maxAttempts: 3, backoff: new ConstantBackoff(0) })
      return { call: () => policy.execute(opFail) }
    }
  }),
  promiseCase({
    name: PEER.cockatielBreaker,
    group: "circuit-breaker",
    lib: "cockatiel",
    path: "success",
    make: () => {
      const policy = circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) })
      return { call: () => policy.execute(op) }
    }
  }),
  promiseCase({
    name: PEER.cockatielBreakerOpen,
    group: "circuit-breaker",
    lib: "cockatiel",
    path: "failure",
    note: "tripped by 5 failures; each rejection is a new BrokenCircuitError (with a stack)",
    make: async () => {
      const policy = circuitBreaker(handleAll, { halfOpenAfter: 3_600_000, breaker: new ConsecutiveBreaker(5) })
      for (let i = 0; i < 5; i++) await policy.execute(opFail).catch(() => undefined)
      if (policy.state !== 1 /* CircuitState.Open */) throw new Error(`cockatiel breaker did not open (state ${policy.state})`)
      return { call: () => policy.execute(op) }
    }
  }),
  promiseCase({
    name: PEER.cockatielBulkhead,
    group: "bulkhead",
    lib: "cockatiel",
    path: "success",
    note: "uncontended",
    make: () => {
      const policy = bulkhead(100)
      return { call: () => policy.execute(op) }
    }
  }),
  promiseCase({
    name: PEER.cockatielTimeoutCoop,
    group: "timeout",
    lib: "cockatiel",
    path: "success",
    note: "a setTimeout and an AbortController per call",
    make: () => {
      const policy = timeout(1000, TimeoutStrategy.Cooperative)
      return { call: () => policy.execute(op) }
    }
  }),
  promiseCase({
    name: PEER.cockatielTimeoutAggr,
    group: "timeout",
    lib: "cockatiel",
    path: "success",
    note: "as cooperative, plus a Promise.race",
    make: () => {
      const policy = timeout(1000, TimeoutStrategy.Aggressive)
      return { call: () => policy.execute(op) }
    }
  }),
  promiseCase({
    name: PEER.cockatielWrap,
    group: "pipeline",
    lib: "cockatiel",
    path: "success",
    note: "wrap(retry(3, exponential), circuitBreaker(consecutive 5), timeout(1000, cooperative), bulkhead(100))",
    make: () => {
      const policy = wrap(
        retry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }),
        circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
        timeout(1000, TimeoutStrategy.Cooperative),
        bulkhead(100)
      )
      return { call: () => policy.execute(op) }
    }
  })
]

const opossum: ReadonlyArray<Case> = [
  promiseCase({
    name: PEER.opossum,
    group: "circuit-breaker",
    lib: "opossum",
    path: "success",
    note: "opossum's default: a 10 s setTimeout per call",
    make: () => {
      const breaker = new CircuitBreaker(op)
      return { call: () => breaker.fire(), close: () => breaker.shutdown() }
    }
  }),
  promiseCase({
    name: PEER.opossumNoTimeout,
    group: "circuit-breaker",
    lib: "opossum",
    path: "success",
    make: () => {
      const breaker = new CircuitBreaker(op, { timeout: false })
      return { call: () => breaker.fire(), close: () => breaker.shutdown() }
    }
  }),
  promiseCase({
    name: PEER.opossumOpen,
    group: "circuit-breaker",
    lib: "opossum",
    path: "failure",
    note: "breaker.open(); each rejection is a new Error (with a stack)",
    make: () => {
      const breaker = new CircuitBreaker(op, { timeout: false, resetTimeout: 3_600_000 })
      breaker.open()
      return { call: () => breaker.fire(), close: () => breaker.shutdown() }
    }
  })
]

export const cases: ReadonlyArray<Case> = [...baselines, ...effectBuiltins, ...cockatiel, ...opossum]
