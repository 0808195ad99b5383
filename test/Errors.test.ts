/**
 * The error contract every module shares: the guards (by TypeId, not by class), the
 * `retryAfter` convention, cheap stack-free rejections and the exact messages users read in logs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Duration, Effect, Fiber, Option, TestClock } from "effect"
import { Errors, Timeout } from "effect-resilience"
import * as InternalErrors from "../src/internal/errors.js"

class Unrelated extends Data.TaggedError("Unrelated")<{ readonly retryAfter?: unknown }> {}

const timeout = (policy?: string) => new Errors.TimeoutError({ duration: Duration.millis(1500), policy })

const bulkhead = (args: Partial<ConstructorParameters<typeof Errors.BulkheadFullError>[0]> = {}) =>
  Errors.BulkheadFullError.make({ name: "db", maxConcurrent: 4, maxQueue: 10, reason: "QueueFull", ...args })

describe("Errors", () => {
  describe("guards", () => {
    it("isResilienceError and isRejection go by TypeId", () => {
      const invalid = new Errors.InvalidOptionsError({ module: "X.make", option: "o", value: 1, expected: "e" })
      assert.isTrue(Errors.isResilienceError(timeout()))
      assert.isTrue(Errors.isResilienceError(bulkhead()))
      assert.isTrue(Errors.isResilienceError(invalid))
      // a timeout is not a rejection: the call ran; a full bulkhead is: it never ran
      assert.isFalse(Errors.isRejection(timeout()))
      assert.isFalse(Errors.isRejection(invalid))
      assert.isTrue(Errors.isRejection(bulkhead()))
      // structural: any value carrying the ids is recognised, classes from another copy included
      assert.isTrue(Errors.isRejection({ [Errors.RejectionTypeId]: Errors.RejectionTypeId }))
      assert.isTrue(Errors.isResilienceError({ [Errors.ResilienceErrorTypeId]: Errors.ResilienceErrorTypeId }))
      for (const u of [new Unrelated({}), new Error("x"), "TimeoutError", null, undefined, 42, { _tag: "TimeoutError" }]) {
        assert.isFalse(Errors.isResilienceError(u), String(u))
        assert.isFalse(Errors.isRejection(u), String(u))
      }
    })

    it("the ids are global symbols (shared by every copy of the library)", () => {
      assert.strictEqual(Errors.ResilienceErrorTypeId, Symbol.for("effect-resilience/ResilienceError"))
      assert.strictEqual(Errors.RejectionTypeId, Symbol.for("effect-resilience/Rejection"))
    })
  })

  describe("retryAfterOf", () => {
    it("reads a finite Duration or a non-negative number of milliseconds", () => {
      assert.deepStrictEqual(Errors.retryAfterOf(new Unrelated({ retryAfter: Duration.seconds(2) })), Option.some(Duration.seconds(2)))
      assert.deepStrictEqual(Errors.retryAfterOf({ retryAfter: Duration.zero }), Option.some(Duration.zero))
      assert.deepStrictEqual(Errors.retryAfterOf({ retryAfter: 250 }), Option.some(Duration.millis(250)))
      assert.deepStrictEqual(Errors.retryAfterOf({ retryAfter: 0 }), Option.some(Duration.millis(0)))
    })

    it("ignores anything else: missing, infinite, negative, NaN, strings", () => {
      for (
        const u of [
          {},
          new Error("x"),
          null,
          undefined,
          "retryAfter",
          { retryAfter: Duration.infinity },
          { retryAfter: -1 },
          { retryAfter: NaN },
          { retryAfter: Infinity },
          { retryAfter: "2 seconds" },
          { retryAfter: undefined }
        ]
      ) {
        assert.isTrue(Option.isNone(Errors.retryAfterOf(u)), JSON.stringify(u))
      }
    })
  })

  describe("withoutStack", () => {
    it("builds without stack frames and restores the limit, also when the builder throws", () => {
      const before = Error.stackTraceLimit
      const e = InternalErrors.withoutStack(() => new Error("cheap"))
      assert.strictEqual(e.stack?.split("\n").filter((l) => l.trim().startsWith("at ")).length, 0)
      assert.strictEqual(Error.stackTraceLimit, before)
      assert.throws(() =>
        InternalErrors.withoutStack(() => {
          throw new Error("boom")
        }), /boom/)
      assert.strictEqual(Error.stackTraceLimit, before)
      // with the limit restored, ordinary errors have frames again
      assert.isAbove(new Error("x").stack!.split("\n").filter((l) => l.trim().startsWith("at ")).length, 0)
    })

    it("BulkheadFullError.make captures no frames", () => {
      assert.isFalse((bulkhead().stack ?? "").includes("\n    at "))
    })
  })

  describe("TimeoutError", () => {
    it("is a TimeoutException for Effect (Cause.isTimeoutException) and names its policy", () => {
      const e = timeout("db")
      assert.strictEqual(e._tag, "TimeoutError")
      assert.isTrue(Cause.isTimeoutException(e))
      assert.strictEqual(e.message, "Timed out after 1s 500ms (db)")
      assert.strictEqual(timeout().message, "Timed out after 1s 500ms")
    })

    it.effect("the library's own are built without stack frames (a timer's stack says nothing)", () =>
      Effect.gen(function*() {
        assert.isFalse((InternalErrors.TimeoutError.make({ duration: Duration.seconds(1) }).stack ?? "").includes("\n    at "))
        const fiber = yield* Effect.fork(Effect.flip(Timeout.make("1 second")(Effect.never)))
        yield* TestClock.adjust("1 second")
        const own = yield* Fiber.join(fiber)
        assert.strictEqual(own._tag, "TimeoutError")
        assert.strictEqual(own.stack, "TimeoutError: Timed out after 1s")
        // an inner timeout cut by the enclosing deadline: the enclosing timeout's error, built alike
        const nested = yield* Effect.fork(Effect.flip(Timeout.make("1 second")(Timeout.make("1 hour")(Effect.never))))
        yield* TestClock.adjust("1 second")
        const cut = yield* Fiber.join(nested)
        assert.strictEqual(cut._tag === "TimeoutError" && Duration.toMillis(cut.duration), 1_000)
        assert.isFalse((cut.stack ?? "").includes("\n    at "))
      }))

    it.effect("fails like any tagged error (catchTag)", () =>
      Effect.gen(function*() {
        const tag = yield* Effect.fail(timeout("x")).pipe(Effect.catchTag("TimeoutError", (e) => Effect.succeed(e.policy)))
        assert.strictEqual(tag, "x")
      }))
  })

  describe("BulkheadFullError", () => {
    it("says which bulkhead (and key) is full and why", () => {
      assert.strictEqual(bulkhead().message, "Bulkhead db is full: 4 running, queue of 10 full")
      assert.strictEqual(bulkhead({ key: "tenant-1" }).message, "Bulkhead db[tenant-1] is full: 4 running, queue of 10 full")
      assert.strictEqual(
        bulkhead({ reason: "MaxWaitExceeded", maxWait: Duration.millis(250) }).message,
        "Bulkhead db is full: waited longer than 250ms for one of 4 permits"
      )
      assert.strictEqual(
        bulkhead({ reason: "MaxWaitExceeded", key: "k" }).message,
        "Bulkhead db[k] is full: waited longer than maxWait for one of 4 permits"
      )
      assert.strictEqual(bulkhead()._tag, "BulkheadFullError")
    })
  })

  describe("InvalidOptionsError", () => {
    it("names the constructor, the option, the allowed range and the value", () => {
      const e = new Errors.InvalidOptionsError({ module: "Retry.exponential", option: "base", value: -1, expected: "a finite duration > 0" })
      assert.strictEqual(e.message, "Retry.exponential: invalid option \"base\": expected a finite duration > 0, got -1")
      assert.strictEqual(e._tag, "InvalidOptionsError")
    })
  })

  describe("showValue", () => {
    it("shows every kind of value readably", () => {
      const circular: Record<string, unknown> = {}
      circular.self = circular
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        ["soon", "\"soon\""],
        ["", "\"\""],
        [1.5, "1.5"],
        [NaN, "NaN"],
        [-Infinity, "-Infinity"],
        [BigInt(7), "7"],
        [true, "true"],
        [false, "false"],
        [undefined, "undefined"],
        [null, "null"],
        [Duration.seconds(3), "3s"],
        [[1, -1], "[1,-1]"],
        [{ a: 1 }, "{\"a\":1}"],
        [() => 1, "() => 1"],
        [Symbol("s"), "Symbol(s)"],
        [circular, "[object Object]"]
      ]
      for (const [value, shown] of cases) assert.strictEqual(InternalErrors.showValue(value), shown)
    })

    it("cuts long values at 200 characters", () => {
      // {"s":"…"} around 192 characters is exactly 200: shown whole; one more and it is cut
      assert.strictEqual(JSON.stringify({ s: "y".repeat(192) }).length, 200)
      assert.strictEqual(InternalErrors.showValue({ s: "y".repeat(192) }), JSON.stringify({ s: "y".repeat(192) }))
      assert.strictEqual(InternalErrors.showValue({ s: "y".repeat(193) }), JSON.stringify({ s: "y".repeat(193) }).slice(0, 200) + "…")
      const long = { s: "z".repeat(500) }
      assert.strictEqual(InternalErrors.showValue(long), JSON.stringify(long).slice(0, 200) + "…")
      assert.strictEqual(InternalErrors.showValue(long).length, 201)
      // strings too: an option given a megabyte of text does not put it in every message
      assert.strictEqual(InternalErrors.showValue("q".repeat(300)), `"${"q".repeat(199)}…`)
    })
  })
})

describe("Errors: the messages and guards the policies' tests do not reach", () => {
  it("a request's deadline (fromRequest) says so, and is told apart from a policy's timeout", () => {
    const request = new Errors.TimeoutError({ duration: Duration.millis(1500), fromRequest: true })
    assert.strictEqual(request.message, "The request's deadline of 1s 500ms passed")
    assert.strictEqual(
      new Errors.TimeoutError({ duration: Duration.seconds(2), policy: "api", fromRequest: true }).message,
      "The request's deadline of 2s passed (api)"
    )
    const own = new Errors.TimeoutError({ duration: Duration.seconds(2), policy: "api" })
    assert.strictEqual(own.message, "Timed out after 2s (api)")
    assert.isTrue(InternalErrors.isRequestDeadlineError(request))
    assert.isFalse(InternalErrors.isRequestDeadlineError(own))
    assert.isFalse(InternalErrors.isRequestDeadlineError(new Errors.TimeoutError({ duration: Duration.seconds(1), fromRequest: false })))
    assert.isFalse(InternalErrors.isRequestDeadlineError({ _tag: "TimeoutError", fromRequest: true }))
  })

  it("InvalidKeyError: one message per reason, naming the policy, the bound and a safe preview", () => {
    const policy = { kind: "RateLimiter", name: "api" }
    assert.strictEqual(
      Errors.InvalidKeyError.make({ policy, reason: "NotAString", preview: "number", maxKeyLength: 1024 }).message,
      `RateLimiter "api" refused a key: expected a string, got number`
    )
    assert.strictEqual(
      Errors.InvalidKeyError.make({ policy, reason: "NotWellFormed", preview: "ab\uFFFD", length: 3, maxKeyLength: 1024 }).message,
      `RateLimiter "api" refused a key: not well-formed Unicode (a lone surrogate), got "ab\uFFFD"`
    )
    // a preview cut from a longer key ends with an ellipsis
    assert.strictEqual(
      Errors.InvalidKeyError.make({ policy, reason: "NotWellFormed", preview: "ab\uFFFD", length: 50, maxKeyLength: 1024 }).message,
      `RateLimiter "api" refused a key: not well-formed Unicode (a lone surrogate), got "ab\uFFFD"…`
    )
    assert.strictEqual(
      Errors.InvalidKeyError.make({ policy, reason: "TooLong", preview: "x".repeat(40), length: 2000, maxKeyLength: 1024 }).message,
      `RateLimiter "api" refused a key: longer than 1024 UTF-16 code units (2000), got "${"x".repeat(40)}"…`
    )
  })

  it("retryAfterOf: a number of milliseconds counts only when finite and >= 0", () => {
    assert.deepStrictEqual(Errors.retryAfterOf({ retryAfter: 250 }), Option.some(Duration.millis(250)))
    assert.deepStrictEqual(Errors.retryAfterOf({ retryAfter: 0 }), Option.some(Duration.zero))
    for (const bad of [-1, NaN, Infinity, "250", null]) {
      assert.deepStrictEqual(Errors.retryAfterOf({ retryAfter: bad }), Option.none(), String(bad))
    }
    assert.deepStrictEqual(Errors.retryAfterOf({ retryAfter: Duration.infinity }), Option.none())
  })

  it("showValue: what JSON cannot show is shown as a string (bigints, circular structures)", () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    assert.strictEqual(InternalErrors.showValue(10n), "10")
    assert.strictEqual(InternalErrors.showValue(circular), "[object Object]")
  })
})

describe("FailedResultError", () => {
  it("names the policy, the attempts and the last result", () => {
    const e = new Errors.FailedResultError({ module: "Retry", policy: "poll", value: { status: "pending" }, attempts: 3 })
    assert.strictEqual(
      e.message,
      `Retry "poll": the result of each of 3 attempt(s) was treated as a failure (whenResult); the last one was {"status":"pending"}`
    )
  })
})
