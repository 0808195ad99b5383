/**
 * RateLimiter with the memory store (included once src/RateLimiter.ts
 * exists): a limit never reached, so every call is admitted at once.
 */
import * as Effect from "effect/Effect"
import { type Case, optionalModule, scopedCase, succeed1 } from "./_lib.js"
import { PEER } from "./peers.js"

const RateLimiter = await optionalModule("RateLimiter")

export const cases: ReadonlyArray<Case> = RateLimiter === undefined ? [] : [
  scopedCase({
    name: "ours: RateLimiter.make (memory store, never waits)",
    group: "rate-limiter",
    lib: "ours",
    path: "success",
    peers: [PEER.effectRateLimiter],
    targets: [{ kind: "overhead", max: 1000 }],
    make: Effect.map(
      RateLimiter.make({ limit: 1_000_000_000, window: "1 second" }) as Effect.Effect<any, unknown, any>,
      (limiter) => () => limiter(succeed1)
    )
  })
]
