/**
 * Reading a policy's event stream in tests.
 */
import { Chunk, Effect, Fiber, Stream } from "effect"

/**
 * Starts collecting the first `n` elements of `stream`; the returned effect
 * waits for them. The subscriber is registered before this returns.
 */
export const collect = <A>(stream: Stream.Stream<A>, n: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(stream, n)))
    // let the subscriber register before anything is emitted: the collecting fiber suspends
    // (waiting for the first event) only once it has subscribed
    for (let i = 0; i < 100; i++) {
      const status = yield* Fiber.status(fiber)
      if (status._tag !== "Running") break
      yield* Effect.yieldNow()
    }
    return Effect.map(Fiber.join(fiber), Chunk.toReadonlyArray)
  })
