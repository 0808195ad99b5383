/**
 * Idempotency's two common paths (included once src/Idempotency.ts exists): a
 * key seen for the first time (the work runs as the key's execution, its
 * `Exit` is stored), and a key already completed (the stored `Exit` is
 * answered, the work never runs). Memory store.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Case, optionalModule, scopedCase, succeed1 } from "./_lib.js"

const Idempotency = await optionalModule("Idempotency")

const make = Effect.gen(function*() {
  const store = yield* (Idempotency.makeStoreMemory({
    maxKeys: 1_000_000,
    sweepInterval: Duration.infinity,
    whenFull: "evictOldest"
  }) as Effect.Effect<any, unknown, any>)
  return yield* (Idempotency.make({ ttl: "1 hour", name: "bench" }).pipe(
    Effect.provide(Layer.succeed(Idempotency.IdempotencyStore, store))
  ) as Effect.Effect<any, unknown, any>)
})

export const cases: ReadonlyArray<Case> = Idempotency === undefined ? [] : [
  scopedCase({
    name: "ours: Idempotency.run, a new key each call (memory store)",
    group: "idempotency",
    lib: "ours",
    path: "success",
    note: "the work runs as the key's execution (a fiber the callers join) and its Exit is stored",
    make: Effect.map(make, (idem: any) => {
      let n = 0
      return () => idem.run(`key-${n++}`, succeed1)
    })
  }),
  scopedCase({
    name: "ours: Idempotency.run, a completed key (memory store)",
    group: "idempotency",
    lib: "ours",
    path: "success",
    note: "the stored Exit is answered; the work does not run",
    make: Effect.flatMap(make, (idem: any) => Effect.as(idem.run("done", succeed1), () => idem.run("done", succeed1)))
  })
]
