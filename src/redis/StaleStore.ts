/**
 * A Redis `Fallback.StaleStore`: the last good values of
 * `Fallback.staleIfError`, shared by every replica.
 *
 * Each entry is one Redis string (`<prefix>stale:<name.length>:<policy>:<key>`,
 * the policy's length-prefixed store key) holding the encoded value with the
 * caller's `storedAt`/`expiresAt`, written with a `PX` TTL so Redis drops it
 * on its own. Reads never return an entry whose `expiresAt` has passed by the
 * caller's clock.
 *
 * Bounded in bytes: an entry's Redis key takes at most the prefixes, the
 * policy's name and 3 × its `maxKeyLength` bytes (UTF-8), and its encoded
 * value at most `maxValueBytes` (1 MiB by default). A larger value is not
 * stored: the write fails with a `StaleStoreError`, which `staleIfError`
 * reports (a `StoreError` event) without failing the call.
 *
 * Values are encoded with a `Schema` when one is given (required for values
 * that are not plain JSON: dates, class instances, bigints…), as JSON
 * otherwise. A failing Redis never fails a call: `staleIfError` reports the
 * store error as an event and carries on without the store (fail open).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { InvalidOptionsError } from "../Errors.js"
import { type StaleEntry, type StaleStore, StaleStoreError } from "../Fallback.js"
import * as validate from "../internal/validate.js"
import { Redis } from "./Redis.js"

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options<A = unknown, I = unknown> {
  /** Encodes and decodes the values (to JSON). Defaults to plain JSON. */
  readonly schema?: Schema.Schema<A, I> | undefined
  /**
   * The most bytes (UTF-8) one encoded entry may take: the JSON of the value
   * with its timestamps. A larger value is not stored (the write fails with a
   * `StaleStoreError`, reported by `staleIfError` as a `StoreError` event; the
   * call is not failed). An integer >= 1. Defaults to 1 MiB (1,048,576).
   */
  readonly maxValueBytes?: number | undefined
}

/** The default `maxValueBytes`: 1 MiB. @internal */
export const DEFAULT_MAX_VALUE_BYTES = 1_048_576

const Envelope = Schema.Struct({ v: Schema.Unknown, s: Schema.Number, e: Schema.Number })
const decodeEnvelope = Schema.decodeUnknownOption(Schema.parseJson(Envelope))

/**
 * Makes a Redis stale store on the {@link Redis} connection. Fails with
 * `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Redis, StaleStore } from "effect-resilience/redis"
 * import { Effect, Schema } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* StaleStore.make({ schema: Schema.Number })
 *   return yield* Fallback.staleIfError({ ttl: "10 minutes", maxEntries: 10_000, store, name: "prices" })
 * }).pipe(Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make = <A = unknown, I = unknown>(
  options: Options<A, I> = {}
): Effect.Effect<StaleStore, InvalidOptionsError, Redis> =>
  Effect.zipWith(validate.validated(() => {
    const m = "StaleStore.make"
    const schema = validate.options(m, options).schema
    if (schema !== undefined && !Schema.isSchema(schema)) throw validate.invalid(m, "schema", schema, "a Schema")
    const maxValueBytes = validate.optionalNumber(m, "maxValueBytes", options.maxValueBytes, { integer: true, min: 1 }) ??
      DEFAULT_MAX_VALUE_BYTES
    return { schema, maxValueBytes }
  }), Redis, ({ maxValueBytes, schema }, redis) => {
    const encode = (value: unknown): Effect.Effect<unknown, unknown> =>
      schema === undefined ? Effect.succeed(value) : Schema.encodeUnknown(schema)(value)
    const decode = (value: unknown): Effect.Effect<unknown, unknown> =>
      schema === undefined ? Effect.succeed(value) : Schema.decodeUnknown(schema)(value)
    const redisKey = (key: string) => `${redis.prefix}stale:${key}`
    const fail = (operation: "get" | "set" | "delete", key: string) => (cause: unknown) =>
      new StaleStoreError({ operation, key, cause })
    const store: StaleStore = {
      get: (key, now) =>
        redis.use("GET", (c) => c.get(redisKey(key))).pipe(
          Effect.flatMap((raw): Effect.Effect<Option.Option<StaleEntry>, unknown> => {
            if (raw === null) return Effect.succeed(Option.none())
            const envelope = decodeEnvelope(raw)
            if (Option.isNone(envelope) || envelope.value.e <= now) return Effect.succeed(Option.none())
            const { e, s, v } = envelope.value
            return Effect.map(decode(v), (value) => Option.some({ value, storedAt: s, expiresAt: e }))
          }),
          Effect.mapError(fail("get", key))
        ),
      set: (key, entry) =>
        encode(entry.value).pipe(
          Effect.flatMap((v) => {
            const ttl = Math.max(1, Math.ceil(entry.expiresAt - entry.storedAt))
            const payload = JSON.stringify({ v, s: entry.storedAt, e: entry.expiresAt })
            // bounded in bytes: a larger value is not stored (reported by the policy, never the caller's error)
            const bytes = Buffer.byteLength(payload, "utf8")
            if (bytes > maxValueBytes) {
              return Effect.fail(new Error(`the encoded value takes ${bytes} bytes, more than maxValueBytes (${maxValueBytes})`))
            }
            return redis.use("SET", (c) => c.set(redisKey(key), payload, "PX", ttl))
          }),
          Effect.asVoid,
          Effect.mapError(fail("set", key))
        ),
      delete: (key) =>
        redis.use("DEL", (c) => c.del(redisKey(key))).pipe(Effect.asVoid, Effect.mapError(fail("delete", key)))
    }
    return store
  })
