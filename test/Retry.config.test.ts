/**
 * Retry options from `Config` (issue 21): every data option set through a
 * `ConfigProvider`, the backoff built from `base`/`factor`/`max`/`jitter`,
 * code options given beside, and bad values rejected naming the config key.
 */
import { assert, describe, it } from "@effect/vitest"
import { Errors, Retry } from "effect-resilience"
import { Cause, Config, Context, Data, Duration, Effect, Exit, Fiber, Option, Ref, TestClock } from "effect"
import type { Policy } from "effect-resilience"
import { assertInvalidOption, buildWithConfig, withConfig } from "./utils/config.js"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
class Api extends Context.Tag("test/Api")<Api, Policy.Policy>() {}

const every = {
  "api.times": "4",
  "api.forever": "false",
  "api.base": "10 millis",
  "api.factor": "3",
  "api.max": "50 millis",
  "api.jitter": "none",
  "api.maxRetryAfter": "5 seconds",
  "api.failAfterMaxAttempts": "true",
  "api.name": "api-retry",
  "api.spans": "true",
  "api.onRetryTimeout": "250 millis"
}

/** Fails `n` times, then succeeds with the attempt count. */
const failing = (n: number) =>
  Effect.gen(function*() {
    const attempts = yield* Ref.make(0)
    const call = Ref.updateAndGet(attempts, (a) => a + 1).pipe(
      Effect.flatMap((a) => a <= n ? Effect.fail(new Unavailable()) : Effect.succeed(a))
    )
    return { call, attempts }
  })

describe("Retry from Config", () => {
  it.effect("reads every data option under a prefix; the backoff comes from base/factor/max/jitter", () =>
    Effect.gen(function*() {
      const delays: Array<number> = []
      const retry = yield* Retry.fromConfig(Config.nested(Retry.config, "api"), {
        whenResult: (n) => typeof n === "number" && n > 0,
        onRetry: (event) => Effect.sync(() => delays.push(Duration.toMillis(event.delay)))
      }).pipe(withConfig(every))
      assert.strictEqual(retry.policyName, "api-retry")
      const attempts = yield* Ref.make(0)
      const fiber = yield* Ref.updateAndGet(attempts, (a) => a + 1).pipe(retry, Effect.exit, Effect.fork)
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      // 1 call + 4 retries, every value rejected: failAfterMaxAttempts makes it a FailedResultError
      assert.strictEqual(yield* Ref.get(attempts), 5)
      assert.deepStrictEqual(delays, [10, 30, 50, 50])
      assert.isTrue(Exit.isFailure(exit))
      const error = Option.getOrUndefined(Cause.failureOption((exit as Exit.Failure<number, unknown>).cause))
      assert.instanceOf(error, Errors.FailedResultError)
    }))

  it.effect("layerConfig: code options beside the config (while stops the retries)", () =>
    Effect.gen(function*() {
      const dep = yield* failing(10)
      const exit = yield* Effect.flatMap(Api, (policy) => dep.call.pipe(policy, Effect.exit)).pipe(
        Effect.provide(Retry.layerConfig(Api, Retry.config, { while: () => false })),
        withConfig({ times: "5", base: "1 millis" })
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(yield* Ref.get(dep.attempts), 1)
    }))

  const bad: ReadonlyArray<readonly [string, string, string]> = [
    ["times", "-1", ">= 0"],
    ["times", "1.5", "an integer"],
    ["base", "0 millis", "duration > 0"],
    ["base", "soon", "duration > 0"],
    ["factor", "0.5", ">= 1"],
    ["max", "1 millis", ">= base"],
    ["jitter", "wild", "one of"],
    ["maxRetryAfter", "-1 seconds", "duration >= 0"],
    ["name", "", "non-empty string"],
    ["onRetryTimeout", "0 millis", "duration > 0"],
    ["failAfterMaxAttempts", "true", "without whenResult"]
  ]
  for (const [key, value, range] of bad) {
    it.effect(`${key}=${JSON.stringify(value)} is InvalidOptionsError naming the key`, () =>
      Effect.gen(function*() {
        const exit = yield* buildWithConfig(Retry.layerConfig(Api, Config.nested(Retry.config, "api")), {
          [`api.${key}`]: value
        })
        assertInvalidOption(exit, "Retry.layerConfig", key, range)
        const direct = yield* Retry.fromConfig(Retry.config).pipe(withConfig({ [key]: value }), Effect.exit)
        assertInvalidOption(direct, "Retry.fromConfig", key, range)
      }))
  }
})
