/**
 * A synchronous event hub: policies emit events from their hot paths at the
 * cost of one length check when nobody listens; each subscriber gets a
 * `Stream` backed by its own bounded buffer (oldest dropped when full, so a
 * slow subscriber can never block or grow the policy's memory).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/** @internal */
export interface EventHub<A> {
  readonly emit: (event: A) => void
  /**
   * Emits the event `make()` builds, building it only when someone listens:
   * the form for hot paths (`hub.emitWith(() => ({ _tag: "Rejected", key }))`),
   * instead of `if (hub.hasSubscribers()) hub.emit(…)`.
   */
  readonly emitWith: (make: () => A) => void
  readonly hasSubscribers: () => boolean
  readonly stream: Stream.Stream<A>
}

/** @internal */
export const DEFAULT_EVENT_BUFFER = 1024

/** @internal */
export const make = <A>(bufferSize: number = DEFAULT_EVENT_BUFFER): EventHub<A> => {
  const listeners: Array<(a: A) => void> = []
  const emit = (event: A) => {
    for (let i = 0; i < listeners.length; i++) listeners[i]!(event)
  }
  // built when first subscribed to: a policy made per request (a per-request timeout) pays nothing for it
  const subscribe = () =>
    Stream.asyncScoped<A>(
    (emitter) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const listener = (a: A) => {
            void emitter.single(a)
          }
          listeners.push(listener)
          return listener
        }),
        (listener) =>
          Effect.sync(() => {
            const i = listeners.indexOf(listener)
            if (i >= 0) listeners.splice(i, 1)
          })
      ),
      { bufferSize, strategy: "sliding" }
    )
  let built: Stream.Stream<A> | undefined
  const stream = Stream.suspend(() => (built ??= subscribe()))
  const emitWith = (make: () => A) => {
    if (listeners.length > 0) emit(make())
  }
  return { emit, emitWith, hasSubscribers: () => listeners.length > 0, stream }
}
