/**
 * A Redis `Fallback.StaleStore`: the last good values of
 * `Fallback.staleIfError`, shared by every replica.
 *
 * - **Entries.** Each entry is one Redis string
 *   (`<prefix>stale:<name.length>:<policy>:<key>`, the policy's
 *   length-prefixed store key) holding `<storedAt>|<expiresAt>|<encoded
 *   value>`, written by one Lua script with a `PX` TTL so Redis drops it on
 *   its own. A write older than the entry held (an earlier `storedAt`) is
 *   ignored: an older value never overwrites a newer one.
 * - **Time.** With `clock: "redis"` (the default) entries are stamped and
 *   expired by Redis `TIME`, the one clock every replica shares (as the other
 *   Redis stores): a replica whose clock is off neither ages nor expires
 *   other replicas' entries. The caller's times are then a frame only: a
 *   write is stamped `TIME − (now − storedAt)` (the time the value spent in
 *   the policy's write queue counts), and a read returns the entry in the
 *   caller's frame (`storedAt = now − its age by Redis`). `clock: "caller"`
 *   uses the caller's times as they are (for tests under `TestClock`). The
 *   store is a `"wall"` store (see `Fallback.StaleStore.time`).
 * - **Types.** With a `schema`, values are encoded with it and the store is a
 *   `StaleStore<A>` of its type: a policy over another type does not accept
 *   it (it does not compile). Without one, the store is untyped and keeps
 *   plain JSON only — strings, finite numbers, booleans, `null`, arrays and
 *   plain objects of them; anything else (a `Date`, a class instance, a
 *   `bigint`, `undefined`) is refused when written (a `StaleStoreError`,
 *   reported by the policy), so a value never comes back as something else.
 * - **Bounded in bytes.** An entry's Redis key takes at most the prefixes,
 *   the policy's name and 3 × its `maxKeyLength` bytes (UTF-8), and its
 *   encoded value at most `maxValueBytes` (1 MiB by default). A larger value
 *   is not stored: the write fails with a `StaleStoreError`, which
 *   `staleIfError` reports without failing the call.
 * - **Bounded in time.** Every operation ends within `timeout` (default: the
 *   connection's command timeout), wherever it is called from. The store
 *   fails open: a failing Redis never fails a call (`staleIfError` reports
 *   the error and carries on without the store), and its writes run off the
 *   callers' path, so a paused Redis never slows a fresh answer.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { InvalidOptionsError } from "../Errors.js"
import { type StaleEntry, type StaleStore, StaleStoreError } from "../Fallback.js"
import * as validate from "../internal/validate.js"
import { bounded } from "./internal/bounded.js"
import { Redis, type Script } from "./Redis.js"
import { timePrelude } from "./internal/lua.js"

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category Models
 */
export interface Options<A = unknown, I = unknown> {
  /**
   * Encodes and decodes the values (to JSON); the store is then a
   * `StaleStore<A>`. Without it, the store keeps plain JSON values only (and
   * is untyped: `StaleStore<unknown>`).
   */
  readonly schema?: Schema.Schema<A, I> | undefined
  /**
   * Bound on each Redis call, below the connection's command timeout: every
   * operation ends within it (a failure the policy reports). Defaults to the
   * connection's command timeout.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Whose time stamps and expires the entries: `"redis"` (the default, Redis
   * `TIME`, shared by every replica) or `"caller"` (the times the policy
   * passes, from its `Clock`: for tests under `TestClock`; entries are then
   * kept in Redis for at least a minute of Redis time).
   */
  readonly clock?: "redis" | "caller" | undefined
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

/**
 * KEYS: the entry. ARGV: op, now (-1: Redis TIME), then per op.
 * - get: {} (none, or expired) | { storedAt, expiresAt, now, payload }
 * - set (ARGV[3] age: now − storedAt, ARGV[4] ttl, ARGV[5] payload): 1 written, 0 ignored (older than
 *   the entry held, or already expired)
 */
const script: Script = {
  name: "stale",
  source: `
${timePrelude(2)}local op = ARGV[1]
local function split(v)
  local a = string.find(v, '|', 1, true)
  local b = string.find(v, '|', a + 1, true)
  return tonumber(string.sub(v, 1, a - 1)), tonumber(string.sub(v, a + 1, b - 1)), string.sub(v, b + 1)
end
if op == 'get' then
  local v = redis.call('GET', KEYS[1])
  if not v then return {} end
  local s, e, payload = split(v)
  if e <= now then return {} end
  return { num(s), num(e), num(now), payload }
elseif op == 'set' then
  local s = now - tonumber(ARGV[3])
  local e = s + tonumber(ARGV[4])
  if e <= now then return 0 end
  local held = redis.call('GET', KEYS[1])
  if held then
    local hs = split(held)
    if hs > s then return 0 end
  end
  redis.call('SET', KEYS[1], num(s) .. '|' .. num(e) .. '|' .. ARGV[5], 'PX', math.max(minTtl, math.ceil(e - now)))
  return 1
end
return redis.error_reply('unknown op ' .. op)
`
}

/** @internal */
export const scripts = { script }

/**
 * True for values that plain JSON gives back as they are: strings, finite
 * numbers (not -0), booleans, `null`, arrays and plain objects of them.
 */
const isPlainJson = (u: unknown, depth: number): boolean => {
  switch (typeof u) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(u) && !Object.is(u, -0)
    case "object": {
      if (u === null) return true
      if (depth > 64) return false
      if (Array.isArray(u)) {
        for (let i = 0; i < u.length; i++) if (!isPlainJson(u[i], depth + 1)) return false
        return true
      }
      const proto = Object.getPrototypeOf(u)
      if ((proto !== Object.prototype && proto !== null) || Object.getOwnPropertySymbols(u).length > 0) return false
      for (const k of Object.keys(u)) if (!isPlainJson((u as Record<string, unknown>)[k], depth + 1)) return false
      return true
    }
    default:
      return false
  }
}

/**
 * The Redis stale store: a `Fallback.StaleStore` of values of type `A` (of
 * its `schema`; `unknown` without one), in wall time.
 *
 * @since 0.1.0
 * @category Models
 */
export interface RedisStaleStore<in out A = unknown> extends StaleStore<A> {
  readonly time: "wall"
}

/**
 * Makes a Redis stale store on the {@link Redis} connection: with a `schema`,
 * a `StaleStore<A>` of its type (a policy over another type does not accept
 * it); without, an untyped store of plain JSON values. Fails with
 * `InvalidOptionsError` for invalid options.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-resilience"
 * import { Redis, StaleStore } from "effect-resilience/redis"
 * import { Effect, Schema } from "effect"
 *
 * const Quote = Schema.Struct({ symbol: Schema.String, price: Schema.Number, at: Schema.Date })
 * declare const fetchQuote: (symbol: string) => Effect.Effect<typeof Quote.Type, Error>
 *
 * const program = Effect.gen(function*() {
 *   // every replica reads the quotes the others stored; Redis TIME ages and expires them
 *   const store = yield* StaleStore.make({ schema: Quote, timeout: "100 millis" })
 *   const quotes = yield* Fallback.staleIfError({ ttl: "10 minutes", maxEntries: 10_000, store, name: "quotes" })
 *   return yield* quotes.execute(fetchQuote("ACME"), { key: "ACME" })
 * }).pipe(Effect.provide(Redis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.1.0
 * @category Constructors
 */
export const make: {
  <A, I>(
    options: Options<A, I> & { readonly schema: Schema.Schema<A, I> }
  ): Effect.Effect<RedisStaleStore<A>, InvalidOptionsError, Redis>
  (options?: Options<unknown, unknown> & { readonly schema?: undefined }): Effect.Effect<
    RedisStaleStore<unknown>,
    InvalidOptionsError,
    Redis
  >
} = (options: Options<any, any> = {}): Effect.Effect<RedisStaleStore<any>, InvalidOptionsError, Redis> =>
  Effect.zipWith(validate.validated(() => {
    const m = "StaleStore.make"
    const schema = validate.options(m, options).schema as Schema.Schema<unknown, unknown> | undefined
    if (schema !== undefined && !Schema.isSchema(schema)) throw validate.invalid(m, "schema", schema, "a Schema")
    const maxValueBytes = validate.optionalNumber(m, "maxValueBytes", options.maxValueBytes, { integer: true, min: 1 }) ??
      DEFAULT_MAX_VALUE_BYTES
    return {
      schema,
      maxValueBytes,
      timeout: validate.optionalDuration(m, "timeout", options.timeout),
      clock: options.clock === undefined ? "redis" : validate.oneOf(m, "clock", options.clock, ["redis", "caller"])
    }
  }), Redis, ({ clock, maxValueBytes, schema, timeout }, redis) => {
    const encode = (value: unknown): Effect.Effect<unknown, unknown> =>
      schema !== undefined
        ? Schema.encodeUnknown(schema)(value)
        : isPlainJson(value, 0)
        ? Effect.succeed(value)
        : Effect.fail(
          new Error("not a plain JSON value (a Date, class instance, bigint, undefined…): give the store a schema")
        )
    const decode = (value: unknown): Effect.Effect<unknown, unknown> =>
      schema === undefined ? Effect.succeed(value) : Schema.decodeUnknown(schema)(value)
    const redisKey = (key: string) => `${redis.prefix}stale:${key}`
    const fail = (operation: "get" | "set" | "delete", key: string) => (cause: unknown) =>
      new StaleStoreError({ operation, key, cause })
    // Redis TIME (-1), or the caller's time as it is
    const nowArg = (now: number): number => clock === "redis" ? -1 : now
    const store: RedisStaleStore<unknown> = {
      time: "wall",
      get: (key, now) =>
        bounded("EVALSHA stale.get", timeout, redis.eval(script, [redisKey(key)], ["get", nowArg(now)])).pipe(
          Effect.flatMap((reply): Effect.Effect<Option.Option<StaleEntry<unknown>>, unknown> => {
            const r = reply as ReadonlyArray<string>
            if (!Array.isArray(r) || r.length < 4) return Effect.succeed(Option.none())
            const storedAt = Number(r[0])
            const expiresAt = Number(r[1])
            const redisNow = Number(r[2])
            let json: unknown
            try {
              json = JSON.parse(r[3]!)
            } catch (cause) {
              return Effect.fail(cause)
            }
            // in the caller's frame: its age and time left by the store's clock
            return Effect.map(decode(json), (value) =>
              Option.some({ value, storedAt: now - (redisNow - storedAt), expiresAt: now + (expiresAt - redisNow) }))
          }),
          Effect.mapError(fail("get", key))
        ),
      set: (key, entry, now) =>
        encode(entry.value).pipe(
          Effect.flatMap((v) => {
            const payload = JSON.stringify(v)
            // bounded in bytes: a larger value is not stored (reported by the policy, never the caller's error)
            const bytes = Buffer.byteLength(payload, "utf8")
            if (bytes > maxValueBytes) {
              return Effect.fail(new Error(`the encoded value takes ${bytes} bytes, more than maxValueBytes (${maxValueBytes})`))
            }
            // `now` may be missing (a caller of the old two-argument form): the value is then new
            const at = typeof now === "number" ? now : entry.storedAt
            const ttl = Math.max(1, Math.ceil(entry.expiresAt - entry.storedAt))
            return bounded(
              "EVALSHA stale.set",
              timeout,
              redis.eval(script, [redisKey(key)], ["set", nowArg(at), Math.max(0, at - entry.storedAt), ttl, payload])
            )
          }),
          Effect.asVoid,
          Effect.mapError(fail("set", key))
        ),
      delete: (key) =>
        bounded("DEL", timeout, redis.use("DEL", (c) => c.del(redisKey(key)))).pipe(
          Effect.asVoid,
          Effect.mapError(fail("delete", key))
        )
    }
    return store
  })
