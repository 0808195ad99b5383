/**
 * The Redis `Fallback.StaleStore` (`StaleStore.make`/`layer` of
 * `effect-resilience/redis`): one Redis string per entry,
 * `<storedAt>|<expiresAt>|<JSON value>`, written and read by one Lua script
 * (stamped and expired by Redis `TIME`, or the caller's times), every call
 * bounded by the store's timeout through the shared `bounded` wrapper.
 *
 * @internal
 */
import type * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { InvalidOptionsError } from "../../../Errors.js"
import type * as Fallback from "../../../Fallback.js"
import { StaleStoreError } from "../../../internal/fallback/errors.js"
import { StaleStore as StaleStoreTag } from "../../../internal/fallback/memoryStore.js"
import * as validate from "../../../internal/validate.js"
import type { Script } from "../../Redis.js"
import { Redis } from "../redis.js"
import type * as RedisStaleStore from "../../StaleStore.js"
import { bounded } from "../bounded.js"
import { timePrelude } from "../lua.js"
import { storeConfig } from "../storeConfig.js"
import * as Options from "./options.js"

/** @internal */
export const TypeId: RedisStaleStore.TypeId = Symbol.for("effect-resilience/redis/StaleStore") as RedisStaleStore.TypeId

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
-- The entry held: storedAt, expiresAt, payload. One stored after now (Redis's wall clock stepped
-- back) was stored now and expires after its own TTL: stored so (else it would outlive its TTL
-- by the step, and refuse every fresh value as older meanwhile).
local function held()
  local v = redis.call('GET', KEYS[1])
  if not v then return nil end
  local s, e, payload = split(v)
  local d = ahead(s, 0)
  if d > 0 then
    s, e = s - d, e - d
    redis.call('SET', KEYS[1], num(s) .. '|' .. num(e) .. '|' .. payload, 'PX', math.max(minTtl, math.ceil(e - now)))
  end
  return s, e, payload
end
if op == 'get' then
  local s, e, payload = held()
  if not s or e <= now then return {} end
  return { num(s), num(e), num(now), payload }
elseif op == 'set' then
  local s = now - tonumber(ARGV[3])
  local e = s + tonumber(ARGV[4])
  if e <= now then return 0 end
  local hs = held()
  if hs and hs > s then return 0 end
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

const notPlainJson = () =>
  new Error(
    "not a plain JSON value (a Date, class instance, bigint, undefined…): give the policy a schema (Fallback.staleIfError({ schema }))"
  )

/** @internal */
export const make = (
  options: RedisStaleStore.Options = {}
): Effect.Effect<RedisStaleStore.RedisStaleStore, InvalidOptionsError, Redis> =>
  Effect.zipWith(
    validate.validated(() => Options.spec.resolve(options)),
    Redis,
    ({ clock, maxValueBytes, timeout }, redis): RedisStaleStore.RedisStaleStore => {
      const redisKey = (key: string) => `${redis.prefix}stale:${key}`
      const fail = (operation: "get" | "set" | "delete", key: string) => (cause: unknown) =>
        new StaleStoreError({ operation, key, cause })
      // Redis TIME (-1), or the caller's time as it is
      const nowArg = (now: number): number => clock === "redis" ? -1 : now
      const get = (key: string, now: number): Effect.Effect<Option.Option<Fallback.StaleEntry>, StaleStoreError> =>
        bounded("EVALSHA stale.get", timeout, redis.eval(script, [redisKey(key)], ["get", nowArg(now)])).pipe(
          Effect.flatMap((reply): Effect.Effect<Option.Option<Fallback.StaleEntry>, unknown> => {
            const r = reply as ReadonlyArray<string>
            if (!Array.isArray(r) || r.length < 4) return Effect.succeed(Option.none())
            const storedAt = Number(r[0])
            const expiresAt = Number(r[1])
            const redisNow = Number(r[2])
            let value: unknown
            try {
              value = JSON.parse(r[3]!)
            } catch (cause) {
              return Effect.fail(cause)
            }
            // in the caller's frame: its age and time left by the store's clock
            return Effect.succeed(
              Option.some({ value, storedAt: now - (redisNow - storedAt), expiresAt: now + (expiresAt - redisNow) })
            )
          }),
          Effect.mapError(fail("get", key))
        )
      const set = (key: string, entry: Fallback.StaleEntry, now: number): Effect.Effect<void, StaleStoreError> =>
        Effect.suspend(() => {
          // plain JSON only: a value that JSON would change (a Date) never comes back as something else
          if (!isPlainJson(entry.value, 0)) return Effect.fail(fail("set", key)(notPlainJson()))
          const payload = JSON.stringify(entry.value)
          // bounded in bytes: a larger value is not stored (reported by the policy, never the caller's error)
          const bytes = Buffer.byteLength(payload, "utf8")
          if (bytes > maxValueBytes) {
            return Effect.fail(
              fail("set", key)(new Error(`the encoded value takes ${bytes} bytes, more than maxValueBytes (${maxValueBytes})`))
            )
          }
          // `now` may be missing (a caller of the old two-argument form): the value is then new
          const at = typeof now === "number" ? now : entry.storedAt
          const ttl = Math.max(1, Math.ceil(entry.expiresAt - entry.storedAt))
          return bounded(
            "EVALSHA stale.set",
            timeout,
            redis.eval(script, [redisKey(key)], ["set", nowArg(at), Math.max(0, at - entry.storedAt), ttl, payload])
          ).pipe(Effect.asVoid, Effect.mapError(fail("set", key)))
        })
      const del = (key: string): Effect.Effect<void, StaleStoreError> =>
        bounded("DEL", timeout, redis.use("DEL", (c) => c.del(redisKey(key)))).pipe(
          Effect.asVoid,
          Effect.mapError(fail("delete", key))
        )
      return { [TypeId]: TypeId, kind: "redis", time: "wall", get, set, delete: del }
    }
  )

/** @internal */
export const layer = (
  options?: RedisStaleStore.Options
): Layer.Layer<Fallback.StaleStore, InvalidOptionsError, Redis> => Layer.effect(StaleStoreTag, make(options))

const configured = storeConfig({ name: "StaleStore", spec: Options.spec, envSpec: Options.envSpec, make, tag: StaleStoreTag })

/** @internal */
export const config: Config.Config<RedisStaleStore.Options> = configured.config

/** @internal */
export const fromConfig = configured.fromConfig

/** @internal */
export const layerConfig = configured.layerConfig