/**
 * The option checks every constructor shares (src/internal/validate.ts) and the event hub every
 * policy emits through (src/internal/events.ts), tested directly: the bad-input table exercises
 * them through the constructors; here every bound, every accepted input form and every message.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Deferred, Duration, Effect, Exit, Fiber, Option, Stream } from "effect"
import { Errors } from "effect-resilience"
import * as EventHub from "../src/internal/events.js"
import * as validate from "../src/internal/validate.js"

const same = (a: Duration.Duration, b: Duration.Duration) =>
  assert.isTrue(Duration.equals(a, b), `${Duration.format(a)} !== ${Duration.format(b)}`)

const rejection = (f: () => unknown): Errors.InvalidOptionsError => {
  try {
    f()
  } catch (e) {
    if (e instanceof Errors.InvalidOptionsError) return e
    throw new Error(`expected InvalidOptionsError, got ${String(e)}`)
  }
  throw new Error("expected InvalidOptionsError, got a value")
}

describe("validate", () => {
  describe("duration", () => {
    it("accepts every DurationInput form and returns the decoded duration", () => {
      same(validate.duration("M.f", "d", 250), Duration.millis(250))
      same(validate.duration("M.f", "d", "2 seconds"), Duration.seconds(2))
      same(validate.duration("M.f", "d", Duration.minutes(1)), Duration.minutes(1))
      same(validate.duration("M.f", "d", BigInt(5_000_000)), Duration.nanos(BigInt(5_000_000)))
      same(validate.duration("M.f", "d", [1, 0]), Duration.seconds(1))
      same(validate.duration("M.f", "d", 0, { allowZero: true }), Duration.zero)
      same(validate.duration("M.f", "d", "0 millis", { allowZero: true }), Duration.zero)
      same(validate.duration("M.f", "d", BigInt(0), { allowZero: true }), Duration.zero)
      same(validate.duration("M.f", "d", [0, 0], { allowZero: true }), Duration.zero)
      same(validate.duration("M.f", "d", Infinity, { allowInfinite: true }), Duration.infinity)
      same(validate.duration("M.f", "d", Duration.infinity, { allowInfinite: true }), Duration.infinity)
    })

    it("rejects negative, NaN, zero (unless allowed), infinite (unless allowed) and garbage", () => {
      const bad: ReadonlyArray<unknown> = [
        -1,
        NaN,
        0,
        "0 millis",
        "-5 seconds",
        "  -5 seconds",
        "soon",
        "",
        BigInt(-1),
        BigInt(0),
        [1, -1],
        [-1, 0],
        [1, NaN],
        [1, "2"],
        [0, 0],
        Infinity,
        Duration.infinity,
        undefined,
        null,
        {},
        true
      ]
      for (const value of bad) {
        const e = rejection(() => validate.duration("M.f", "d", value))
        assert.strictEqual(e.module, "M.f")
        assert.strictEqual(e.option, "d")
        assert.strictEqual(e.expected, "a finite duration > 0", String(value))
      }
    })

    it("rejects negative and NaN input also where zero is allowed (Duration.decode would clamp it to zero)", () => {
      for (const value of [-1, NaN, "-5 seconds", BigInt(-1), [1, -1], [-1, 0], [1, NaN], [NaN, 0]]) {
        for (const bounds of [{ allowZero: true }, { allowZero: true, allowInfinite: true }]) {
          const e = rejection(() => validate.duration("M.f", "d", value, bounds))
          assert.strictEqual(e.option, "d", String(value))
        }
      }
      same(validate.duration("M.f", "d", [0, 0], { allowZero: true, allowInfinite: true }), Duration.zero)
    })

    it("states the range it was given", () => {
      assert.strictEqual(rejection(() => validate.duration("M", "d", -1, { allowZero: true })).expected, "a finite duration >= 0")
      assert.strictEqual(rejection(() => validate.duration("M", "d", 0, { allowInfinite: true })).expected, "a duration > 0")
      assert.strictEqual(
        rejection(() => validate.duration("M", "d", -1, { allowZero: true, allowInfinite: true })).expected,
        "a duration >= 0"
      )
      // allowZero does not let infinity through, nor allowInfinite zero
      rejection(() => validate.duration("M", "d", Infinity, { allowZero: true }))
      rejection(() => validate.duration("M", "d", 0, { allowInfinite: true }))
    })

    it("optionalDuration passes undefined through and checks anything else", () => {
      assert.isUndefined(validate.optionalDuration("M", "d", undefined))
      same(validate.optionalDuration("M", "d", 5)!, Duration.millis(5))
      same(validate.optionalDuration("M", "d", 0, { allowZero: true })!, Duration.zero)
      assert.strictEqual(rejection(() => validate.optionalDuration("M", "d", 0)).expected, "a finite duration > 0")
      rejection(() => validate.optionalDuration("M", "d", null))
    })
  })

  describe("number", () => {
    it("describes its bounds", () => {
      const expected = (bounds: validate.NumberBounds) => rejection(() => validate.number("M", "n", "x", bounds)).expected
      assert.strictEqual(expected({}), "a number")
      assert.strictEqual(expected({ integer: true }), "an integer")
      assert.strictEqual(expected({ min: 1 }), "a number >= 1")
      assert.strictEqual(expected({ max: 10 }), "a number <= 10")
      assert.strictEqual(expected({ gt: 0 }), "a number > 0")
      assert.strictEqual(expected({ integer: true, min: 1, max: 10 }), "an integer >= 1 and <= 10")
      assert.strictEqual(expected({ gt: 0, max: 1 }), "a number > 0 and <= 1")
    })

    it("checks each bound inclusively (min, max) or exclusively (gt)", () => {
      assert.strictEqual(validate.number("M", "n", 1, { min: 1 }), 1)
      rejection(() => validate.number("M", "n", 0.999, { min: 1 }))
      assert.strictEqual(validate.number("M", "n", 10, { max: 10 }), 10)
      rejection(() => validate.number("M", "n", 10.001, { max: 10 }))
      assert.strictEqual(validate.number("M", "n", 0.001, { gt: 0 }), 0.001)
      rejection(() => validate.number("M", "n", 0, { gt: 0 }))
      assert.strictEqual(validate.number("M", "n", 1.5, { gt: 1 }), 1.5)
      rejection(() => validate.number("M", "n", 1, { gt: 1 }))
      rejection(() => validate.number("M", "n", -3, { min: -2 }))
      assert.strictEqual(validate.number("M", "n", -5), -5)
      assert.strictEqual(validate.number("M", "n", 2.5), 2.5)
      assert.strictEqual(validate.number("M", "n", 3, { integer: true }), 3)
      rejection(() => validate.number("M", "n", 2.5, { integer: true }))
    })

    it("rejects NaN, non-numbers and infinities unless +Infinity is allowed", () => {
      for (const value of [NaN, "1", undefined, null, BigInt(1), Infinity, -Infinity]) {
        assert.strictEqual(rejection(() => validate.number("M", "n", value)).option, "n")
      }
      assert.strictEqual(validate.number("M", "n", Infinity, { allowInfinite: true, integer: true, min: 1 }), Infinity)
      rejection(() => validate.number("M", "n", -Infinity, { allowInfinite: true }))
      rejection(() => validate.number("M", "n", Infinity, { allowInfinite: true, max: 10 }))
    })

    it("optionalNumber passes undefined through and checks anything else", () => {
      assert.isUndefined(validate.optionalNumber("M", "n", undefined, { min: 1 }))
      assert.strictEqual(validate.optionalNumber("M", "n", 0, { min: 0 }), 0)
      assert.strictEqual(rejection(() => validate.optionalNumber("M", "n", 0, { min: 1 })).expected, "a number >= 1")
      rejection(() => validate.optionalNumber("M", "n", null))
    })
  })

  it("oneOf, predicate and nonEmptyString", () => {
    assert.strictEqual(validate.oneOf("M", "o", "b", ["a", "b"]), "b")
    const e = rejection(() => validate.oneOf("M", "o", "c", ["a", "b"]))
    assert.strictEqual(e.expected, "one of \"a\", \"b\"")
    assert.strictEqual(e.message, "M: invalid option \"o\": expected one of \"a\", \"b\", got \"c\"")
    rejection(() => validate.oneOf("M", "o", 1, ["1"]))

    const f = () => true
    assert.strictEqual(validate.predicate("M", "p", f), f)
    assert.isUndefined(validate.predicate("M", "p", undefined))
    assert.strictEqual(rejection(() => validate.predicate("M", "p", null)).expected, "a function")
    assert.strictEqual(rejection(() => validate.predicate("M", "p", true)).expected, "a function")

    assert.strictEqual(validate.nonEmptyString("M", "s", "x"), "x")
    assert.strictEqual(rejection(() => validate.nonEmptyString("M", "s", "")).expected, "a non-empty string")
    assert.strictEqual(rejection(() => validate.nonEmptyString("M", "s", 5)).expected, "a non-empty string")
  })

  it.effect("validated: a value succeeds, InvalidOptionsError fails typed, anything else dies", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* validate.validated(() => 42), 42)
      const failed = yield* Effect.exit(validate.validated(() => validate.number("M", "n", -1, { min: 0 })))
      assert.isTrue(Exit.isFailure(failed))
      if (Exit.isFailure(failed)) {
        const error = Cause.failureOption(failed.cause)
        assert.isTrue(Option.isSome(error) && error.value instanceof Errors.InvalidOptionsError)
      }
      const boom = new Error("boom")
      const died = yield* Effect.exit(validate.validated(() => {
        throw boom
      }))
      assert.isTrue(Exit.isFailure(died) && Option.getOrUndefined(Cause.dieOption(died.cause)) === boom)
      // lazily: nothing runs before the effect does
      let runs = 0
      const effect = validate.validated(() => ++runs)
      assert.strictEqual(runs, 0)
      yield* effect
      yield* effect
      assert.strictEqual(runs, 2)
    }))
})

describe("EventHub", () => {
  it.scoped("delivers every event to every subscriber, and nothing before they subscribe", () =>
    Effect.gen(function*() {
      const hub = EventHub.make<number>()
      hub.emit(0)
      assert.isFalse(hub.hasSubscribers())
      const a = yield* Stream.runCollect(Stream.take(hub.stream, 3)).pipe(Effect.fork)
      const b = yield* Stream.runCollect(Stream.take(hub.stream, 3)).pipe(Effect.fork)
      yield* Effect.yieldNow()
      yield* Effect.yieldNow()
      assert.isTrue(hub.hasSubscribers())
      hub.emit(1)
      hub.emit(2)
      hub.emit(3)
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(a)), [1, 2, 3])
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(b)), [1, 2, 3])
      // both streams ended: their listeners are gone
      assert.isFalse(hub.hasSubscribers())
    }))

  it.effect("a slow subscriber keeps the newest events (sliding buffer) and never blocks emit", () =>
    Effect.gen(function*() {
      const hub = EventHub.make<number>(2)
      const gate = yield* Deferred.make<void>()
      const slow = yield* hub.stream.pipe(Stream.tap(() => Deferred.await(gate)), Stream.take(3), Stream.runCollect, Effect.fork)
      for (let i = 0; i < 5 && !hub.hasSubscribers(); i++) yield* Effect.yieldNow()
      hub.emit(1)
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      // the subscriber holds 1 and waits; 2…6 arrive meanwhile, its buffer of 2 keeps 5 and 6
      for (let i = 2; i <= 6; i++) hub.emit(i)
      yield* Deferred.succeed(gate, void 0)
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(slow)), [1, 5, 6])
    }))

  it.effect("interrupting a subscriber removes only its listener", () =>
    Effect.gen(function*() {
      const hub = EventHub.make<string>()
      const kept = yield* Stream.runCollect(Stream.take(hub.stream, 1)).pipe(Effect.fork)
      const dropped = yield* Stream.runDrain(hub.stream).pipe(Effect.fork)
      yield* Effect.yieldNow()
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(dropped)
      assert.isTrue(hub.hasSubscribers())
      hub.emit("x")
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(kept)), ["x"])
      assert.isFalse(hub.hasSubscribers())
      assert.strictEqual(EventHub.DEFAULT_EVENT_BUFFER, 1024)
    }))
})
