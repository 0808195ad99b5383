/**
 * The drain of a discarded response body (src/http/internal/resilientHttpClient/response.ts), on
 * its own: it is the library's own read, so its bound (`drain.timeout`) must end it in any region,
 * inside `Effect.uninterruptible` too, without relying on the client call around it (`ownIO`,
 * which the interruption tests pin). The bodies are real web `ReadableStream`s that stall after a
 * chunk; the clock is `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import { HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Duration, Effect, Fiber, Option, TestClock } from "effect"
import { drain } from "../../src/http/internal/resilientHttpClient/response.js"
import { settle } from "../utils/fibers.js"

/** A response whose body sends `chunks` and then stalls for good (`cancelled` tells whether its reader let it go). */
const stalling = (chunks: ReadonlyArray<string>) => {
  const state = { cancelled: false, pulled: 0 }
  const encoder = new TextEncoder()
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks[state.pulled++]
      if (next !== undefined) controller.enqueue(encoder.encode(next))
      // past the chunks: never enqueue, never close (a stalled body)
      return next === undefined ? new Promise<void>(() => {}) : undefined
    },
    cancel() {
      state.cancelled = true
    }
  })
  const response = HttpClientResponse.fromWeb(HttpClientRequest.get("http://127.0.0.1/"), new Response(body))
  return { response, state }
}

const whole = (text: string) =>
  HttpClientResponse.fromWeb(HttpClientRequest.get("http://127.0.0.1/"), new Response(text))

describe("drain", () => {
  for (const region of ["interruptible", "uninterruptible"] as const) {
    const within = <A>(self: Effect.Effect<A>) => region === "uninterruptible" ? Effect.uninterruptible(self) : self

    it.effect(`${region}: a body that stalls ends at drain.timeout, never fails, and lets the body go`, () =>
      Effect.gen(function*() {
        const { response, state } = stalling(["part-1 ", "part-2 "])
        const fiber = yield* Effect.fork(within(drain(response, 1_000_000, Duration.seconds(2))))
        yield* settle
        yield* TestClock.adjust("1999 millis")
        assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "still draining before its bound")
        yield* TestClock.adjust("1 millis")
        yield* settle
        assert.isTrue(Option.isSome(yield* Fiber.poll(fiber)), "the drain ended at its bound")
        assert.isAtLeast(state.pulled, 2)
        yield* settle
        assert.isTrue(state.cancelled, "the stalled body's reader was cancelled")
      }))

    it.effect(`${region}: a body past maxBytes stops the drain at once (the connection is dropped, not awaited)`, () =>
      Effect.gen(function*() {
        const { response } = stalling(["x".repeat(600), "y".repeat(600)])
        yield* within(drain(response, 1_000, Duration.seconds(2)))
      }))

    it.effect(`${region}: a body that ends is read whole`, () => within(drain(whole("done"), 1_000, Duration.seconds(2))))
  }
})
