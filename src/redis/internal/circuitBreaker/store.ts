/**
 * The Redis `CircuitBreakerStore`: every operation is one Lua script (see
 * scripts.ts) run with EVALSHA through the shared {@link Redis}
 * connection; transitions are published by the scripts themselves and
 * received on a duplicate connection in subscriber mode.
 *
 * @internal
 */
import type * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Redis as IORedis } from "ioredis"
import { background } from "../../../internal/detached.js"
import type * as CircuitBreaker from "../../../CircuitBreaker.js"
import type { InvalidOptionsError } from "../../../Errors.js"
import { CircuitBreakerStoreError, DEFAULT_KEY } from "../../../internal/circuitBreaker/errors.js"
import * as Machine from "../../../internal/circuitBreaker/machine.js"
import { CircuitBreakerStore } from "../../../internal/circuitBreaker/memoryStore.js"
import { namespaced } from "../../../internal/keys.js"
import type * as PublicStore from "../../CircuitBreakerStore.js"
import type { RedisConnection, Script } from "../../Redis.js"
import { Redis, RedisError } from "../redis.js"
import { bounded } from "../bounded.js"
import { storeConfig } from "../storeConfig.js"
import * as Options from "./options.js"
import * as Scripts from "./scripts.js"

type Store = CircuitBreaker.CircuitBreakerStore
type Config = CircuitBreaker.CircuitBreakerStore.Config
type Admission = CircuitBreaker.CircuitBreakerStore.Admission
type Recorded = CircuitBreaker.CircuitBreakerStore.Recorded
type Snapshot = CircuitBreaker.CircuitBreakerStore.Snapshot
type Transition = CircuitBreaker.Transition
type ModeSetting = CircuitBreaker.CircuitBreakerStore.ModeSetting

type StoreOptions = PublicStore.Options

/** Transitions buffered per subscriber (the oldest are dropped past it). @internal */
export const SUBSCRIBER_BUFFER = 1024

const script = (name: string, source: string): Script => ({ name, source })
const ADMIT = script("breaker.admit", Scripts.ADMIT)
const RECORD = script("breaker.record", Scripts.RECORD)
const SNAPSHOT = script("breaker.snapshot", Scripts.SNAPSHOT)
const ISOLATE = script("breaker.isolate", Scripts.ISOLATE)
const RESET = script("breaker.reset", Scripts.RESET)
const SET_MODE = script("breaker.setMode", Scripts.SET_MODE)
const GET_MODE = script("breaker.getMode", Scripts.GET_MODE)
const RESTORE_MODE = script("breaker.restoreMode", Scripts.RESTORE_MODE)

interface Encoded {
  readonly json: string
  readonly fingerprint: string
}

const encodedConfigs = new WeakMap<Config, Encoded>()

/**
 * The trip policy as the scripts read it (`cfg.w`: `k` the kind, then its
 * numbers), and the fingerprint of the window's shape: a window kept under
 * another shape is started over.
 */
const encodeTrip = (config: Config): readonly [Record<string, unknown>, string] => {
  const t = config.trip
  switch (t._tag) {
    case "Consecutive":
      return [{ k: "C", n: t.failures }, `C:${t.failures}:${config.slowCallThreshold === undefined ? 0 : 1}`]
    case "Rate":
      return [{ k: "R", n: t.size, th: t.threshold, mc: t.minimumCalls }, `R:${t.size}`]
    case "TimeRate":
      return [{ k: "T", win: t.window, b: t.buckets, th: t.threshold, mc: t.minimumCalls }, `T:${t.window}:${t.buckets}`]
  }
}

/**
 * The configuration as the scripts read it (short names: it is sent with
 * every call), and the fingerprint of the window's shape.
 * @internal
 */
export const encodeConfig = (config: Config): Encoded => {
  let encoded = encodedConfigs.get(config)
  if (encoded !== undefined) return encoded
  const [w, shape] = encodeTrip(config)
  const body: Record<string, unknown> = {
    w,
    d: config.openDurations,
    m: config.maxOpenDuration,
    r: config.openDurationResetAfter,
    p: config.probes,
    k: config.successThreshold,
    t: config.probeTimeout
  }
  if (config.slowCallThreshold !== undefined) body.s = config.slowCallThreshold
  if (config.probeFailureRateThreshold !== undefined) body.hf = config.probeFailureRateThreshold
  encoded = { json: JSON.stringify(body), fingerprint: shape }
  encodedConfigs.set(config, encoded)
  return encoded
}

/**
 * The keys of one circuit: `Keys.namespaced(namespace, key)`, length-prefixed
 * so that no (namespace, key) pair can collide with another, and the
 * breaker's own circuit (`key` undefined, `<length>:<namespace>`) with no
 * keyed circuit; the `{…}` hash tag keeps the circuit's keys in one slot.
 * @internal
 */
export const keysOf = (prefix: string, namespace: string, key: string | undefined): ReadonlyArray<string> => {
  const base = `${prefix}cb:{${namespaced(namespace, key)}}`
  return [base, `${base}:l`, `${base}:r`, `${base}:b`]
}

/**
 * The key of the mode of a namespace's breakers: beside its own circuit's
 * keys (`<own circuit>:m`, in their hash slot).
 * @internal
 */
export const modeKeyOf = (prefix: string, namespace: string): string => `${keysOf(prefix, namespace, undefined)[0]}:m`

/** How a circuit's key is shown in its transitions and states: the own circuit as `"default"`. */
const shown = (key: string | undefined): string => key ?? DEFAULT_KEY

/** The pub/sub channel of the transitions of every breaker under a prefix. @internal */
export const channelOf = (prefix: string): string => `${prefix}cb:transitions`

const NO_TRANSITIONS: ReadonlyArray<Transition> = []

const transitionsFrom = (key: string, reply: ReadonlyArray<string>, offset: number): ReadonlyArray<Transition> => {
  if (reply.length <= offset) return NO_TRANSITIONS
  const out: Array<Transition> = []
  for (let i = offset; i + 4 < reply.length; i += 5) {
    out.push({
      key,
      from: reply[i] as Transition["from"],
      to: reply[i + 1] as Transition["to"],
      at: Number(reply[i + 2]),
      generation: Number(reply[i + 3]),
      reason: reply[i + 4] as Transition["reason"]
    })
  }
  return out
}

const FENCED: Recorded = { transitions: NO_TRANSITIONS, fenced: true }
const UNCHANGED: Recorded = { transitions: NO_TRANSITIONS, fenced: false }

/** An admission of this store: the ticket carries the token of its probe lease. */
interface RedisAdmitted extends CircuitBreaker.CircuitBreakerStore.Admitted {
  readonly token: string
}

const decodeAdmission = (key: string, token: string, reply: ReadonlyArray<string>): Admission => {
  const transitions = transitionsFrom(key, reply, 3)
  if (reply[0] === "A") {
    const admitted: RedisAdmitted = {
      _tag: "Admitted",
      generation: Number(reply[1]),
      lease: Number(reply[2]),
      transitions,
      token
    }
    return admitted
  }
  const retryAfter = reply[2] === "" || reply[2] === undefined ? undefined : Number(reply[2])
  return { _tag: "Rejected", state: reply[1] as "Open" | "HalfOpen" | "Isolated", retryAfter, transitions }
}

const decodeRecorded = (key: string, reply: ReadonlyArray<string>): Recorded => {
  const fenced = reply[0] === "F"
  if (reply.length <= 1) return fenced ? FENCED : UNCHANGED
  return { transitions: transitionsFrom(key, reply, 1), fenced }
}

const ZERO_COUNTERS = { successes: 0, failures: 0, ignored: 0, rejections: 0, slowCalls: 0, fenced: 0 }
const EMPTY_WINDOW = { calls: 0, failures: 0, slowCalls: 0, consecutiveFailures: 0 }

/** Mirrors `machine.view` and `machine.snapshot`. @internal */
export const decodeSnapshot = (key: string, config: Config, reply: ReadonlyArray<string>): Snapshot => {
  const n = (i: number) => Number(reply[i])
  const now = n(1)
  if (reply[0] !== "1") {
    return { state: { _tag: "Closed", key, since: now, openings: 0 }, counters: ZERO_COUNTERS, window: EMPTY_WINDOW }
  }
  const tag = reply[2]
  const since = n(3)
  const openings = n(5)
  // the state as stored, then as of now (the moves time made since, as the memory store shows them)
  let stored: Machine.ViewState
  switch (tag) {
    case "Closed":
      stored = { _tag: "Closed", since, openings }
      break
    case "Open":
      stored = { _tag: "Open", generation: 0, since, until: n(4), openings }
      break
    case "HalfOpen": {
      const leases: Array<Machine.Lease> = []
      for (let i = 19; i < reply.length; i++) leases.push({ id: i, expiresAt: Number(reply[i]) })
      stored = { _tag: "HalfOpen", generation: 0, since, openings, leases, successes: n(6), failures: n(18) || 0 }
      break
    }
    default:
      stored = { _tag: "Isolated", generation: 0, since, openings }
  }
  const state = Machine.viewOf(key, stored, config, now)
  const counters = {
    successes: n(8),
    failures: n(9),
    ignored: n(10),
    rejections: n(11),
    slowCalls: n(12),
    fenced: n(13)
  }
  let window = EMPTY_WINDOW
  if (tag === "Closed") {
    const consecutive = n(17)
    const trip = config.trip
    window = trip._tag === "Consecutive"
      ? {
        calls: config.slowCallThreshold === undefined ? consecutive : n(14),
        failures: consecutive,
        slowCalls: n(16),
        consecutiveFailures: consecutive
      }
      : { calls: n(14), failures: n(15), slowCalls: n(16), consecutiveFailures: consecutive }
  }
  return { state, counters, window }
}

type Listener = (namespace: string, transition: Transition | ModeSetting) => void

/** A mode setting from a script's reply `{mode, since, generation}`. @internal */
export const decodeMode = (reply: ReadonlyArray<unknown>): ModeSetting => {
  const mode = reply[0]
  return {
    _tag: "ModeSetting",
    mode: mode === "MetricsOnly" || mode === "Disabled" ? mode : "Enforcing",
    since: Number(reply[1]) || 0,
    generation: Number(reply[2]) || 0
  }
}

/** Parses a published message and hands its transitions (or mode change) to the listeners of its namespace. */
const dispatch = (listeners: Map<string, Set<Listener>>, message: string): void => {
  let payload: { n?: unknown; k?: unknown; t?: unknown; m?: unknown }
  try {
    payload = JSON.parse(message)
  } catch {
    return
  }
  if (typeof payload !== "object" || payload === null) return
  if (Array.isArray(payload.m) && typeof payload.n === "string") {
    const setting = decodeMode(payload.m)
    const set = listeners.get(payload.n)
    if (set !== undefined) for (const listener of set) listener(payload.n, setting)
    return
  }
  const namespace = payload.n
  // null: the breaker's own circuit
  const key = payload.k === null ? DEFAULT_KEY : payload.k
  if (typeof namespace !== "string" || typeof key !== "string" || !Array.isArray(payload.t)) return
  const set = listeners.get(namespace)
  if (set === undefined) return
  for (const t of payload.t) {
    if (!Array.isArray(t) || t.length !== 5) continue
    const transition: Transition = {
      key,
      from: t[0],
      to: t[1],
      at: Number(t[2]),
      generation: Number(t[3]),
      reason: t[4]
    }
    for (const listener of set) listener(namespace, transition)
  }
}

const SUBSCRIBE = "SUBSCRIBE breaker.transitions"

/** A duplicate connection in subscriber mode, subscribed to `channel` (re-subscribed by ioredis after a reconnect). */
const subscriber = (
  redis: RedisConnection,
  channel: string,
  onMessage: (message: string) => void
): Effect.Effect<IORedis, RedisError, Scope.Scope> => {
  const timeout = redis.commandTimeout
  return Effect.acquireRelease(
    Effect.sync(() => {
      const client = redis.client.duplicate({ lazyConnect: true })
      // errors surface as reconnects; an unhandled "error" event would crash the process
      client.on("error", () => {})
      client.on("message", (ch: string, message: string) => {
        if (ch === channel) onMessage(message)
      })
      return client
    }),
    (client) =>
      Effect.promise(() => client.quit().then(() => undefined, () => undefined)).pipe(
        Effect.timeout(timeout),
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => client.disconnect()))
      )
  ).pipe(
    Effect.tap((client) =>
      redis.connectMode === "background"
        // a replica that starts while Redis is down: subscribe once Redis answers (ioredis then
        // re-subscribes after every reconnection); transitions made meanwhile are not merged
        ? Effect.zipRight(
          Effect.sync(() => {
            client.connect().catch(() => {})
          }),
          Effect.forkScoped(
            background(Effect.retry(
              bounded(
                SUBSCRIBE,
                timeout,
                Effect.tryPromise({
                  try: () => client.subscribe(channel),
                  catch: (cause) => new RedisError({ operation: SUBSCRIBE, cause })
                })
              ),
              Schedule.spaced("1 second")
            ))
          )
        )
        : bounded(
          SUBSCRIBE,
          // connecting, then subscribing
          Duration.sum(Duration.millis(client.options.connectTimeout ?? 10_000), timeout),
          Effect.tryPromise({
            try: async () => {
              await client.connect()
              await client.subscribe(channel)
            },
            catch: (cause) => new RedisError({ operation: SUBSCRIBE, cause })
          })
        )
    )
  )
}

/** @internal */
export const make = (options: StoreOptions = {}): Effect.Effect<Store, InvalidOptionsError | RedisError, Redis | Scope.Scope> =>
  Effect.gen(function*() {
    const { clock, idleTimeToLive: ttl, timeout } = yield* Options.spec.resolveEffect(options)
    const redis = yield* Redis
    const prefix = redis.prefix
    const channel = channelOf(prefix)
    const ttlArg = String(ttl)
    const useRedisTime = clock === "redis"
    /** A script call bounded by the store's own `timeout` (when set; see bounded.ts). */
    const boundedEval = (s: Script, keys: ReadonlyArray<string>, args: ReadonlyArray<string>) =>
      bounded(`EVALSHA ${s.name}`, timeout, redis.eval(s, keys, args))

    // admission tokens: unique per admission across replicas (a random nonce per store, a counter)
    const nonce = `${(yield* Random.nextIntBetween(0, 2 ** 31 - 1)).toString(36)}${
      (yield* Random.nextIntBetween(0, 2 ** 31 - 1)).toString(36)
    }`
    let admissions = 0

    const listeners = new Map<string, Set<Listener>>()
    yield* subscriber(redis, channel, (message) => dispatch(listeners, message))

    const run = <A>(
      operation: string,
      s: Script,
      namespace: string,
      key: string | undefined,
      config: Config,
      now: number,
      extra: ReadonlyArray<string>,
      decode: (reply: ReadonlyArray<string>) => A
    ): Effect.Effect<A, CircuitBreakerStoreError> => {
      const encoded = encodeConfig(config)
      const args = [
        useRedisTime ? "" : String(now),
        ttlArg,
        channel,
        namespace,
        // JSON for the published transitions: null for the own circuit
        key === undefined ? "null" : JSON.stringify(key),
        encoded.json,
        encoded.fingerprint,
        ...extra
      ]
      const bounded = boundedEval(s, keysOf(prefix, namespace, key), args)
      return Effect.matchEffect(bounded, {
        onFailure: (cause) => Effect.fail(new CircuitBreakerStoreError({ operation, cause })),
        onSuccess: (reply) =>
          Array.isArray(reply)
            ? Effect.succeed(decode(reply as ReadonlyArray<string>))
            : Effect.fail(
              new CircuitBreakerStoreError({ operation, detail: `unexpected reply ${String(reply)}` })
            )
      })
    }

    /**
     * After a failed admission: removes the probe lease it may have taken (it
     * may still run, e.g. once a paused Redis resumes). A plain ZREM, sent in
     * the background on the same connection, so Redis runs it after the
     * admission; failures are ignored (the lease then expires after
     * probeTimeout).
     */
    const release = (namespace: string, key: string | undefined, token: string): Effect.Effect<void> =>
      Effect.asVoid(Effect.forkDaemon(background(Effect.ignore(
        redis.use("ZREM breaker.lease", (client) => client.zrem(keysOf(prefix, namespace, key)[1]!, token))
      ))))

    /** Runs a mode script on the namespace's mode key (beside its own circuit's keys, in their slot). */
    const runMode = (
      operation: string,
      s: Script,
      namespace: string,
      args: ReadonlyArray<string>
    ): Effect.Effect<ModeSetting, CircuitBreakerStoreError> => {
      const bounded = boundedEval(s, [modeKeyOf(prefix, namespace)], args)
      return Effect.matchEffect(bounded, {
        onFailure: (cause) => Effect.fail(new CircuitBreakerStoreError({ operation, cause })),
        onSuccess: (reply) =>
          Array.isArray(reply) && reply.length >= 3
            ? Effect.succeed(decodeMode(reply))
            : Effect.fail(
              new CircuitBreakerStoreError({ operation, detail: `unexpected reply ${String(reply)}` })
            )
      })
    }

    const subscribe = (
      namespace: string
    ): Effect.Effect<Stream.Stream<Transition | ModeSetting>, never, Scope.Scope> =>
      Effect.gen(function*() {
        const queue = yield* Effect.acquireRelease(Queue.sliding<Transition | ModeSetting>(SUBSCRIBER_BUFFER), Queue.shutdown)
        const listener: Listener = (_, transition) => {
          queue.unsafeOffer(transition)
        }
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            let set = listeners.get(namespace)
            if (set === undefined) {
              set = new Set()
              listeners.set(namespace, set)
            }
            set.add(listener)
          }),
          () =>
            Effect.sync(() => {
              const set = listeners.get(namespace)
              if (set === undefined) return
              set.delete(listener)
              if (set.size === 0) listeners.delete(namespace)
            })
        )
        return Stream.fromQueue(queue)
      })

    const store: Store = {
      kind: "redis",
      register: () => Effect.void,
      admit: (namespace, key, config, now) => {
        const token = `${nonce}:${++admissions}`
        return run("admit", ADMIT, namespace, key, config, now, [token], (reply) => decodeAdmission(shown(key), token, reply)).pipe(
          Effect.onError(() => release(namespace, key, token))
        )
      },
      record: (namespace, key, config, ticket, result, now) =>
        run("record", RECORD, namespace, key, config, now, [
          String(ticket.generation),
          ticket.lease === 0 ? "0" : (ticket as RedisAdmitted).token,
          result.outcome,
          result.slow ? "1" : "0",
          result.retryAfter === undefined ? "" : String(result.retryAfter)
        ], (reply) => decodeRecorded(shown(key), reply)),
      snapshot: (namespace, key, config, now) =>
        run("snapshot", SNAPSHOT, namespace, key, config, now, [], (reply) => decodeSnapshot(shown(key), config, reply)),
      isolate: (namespace, key, config, now) =>
        run("isolate", ISOLATE, namespace, key, config, now, [], (reply) => transitionsFrom(shown(key), reply, 0)),
      reset: (namespace, key, config, now) =>
        run("reset", RESET, namespace, key, config, now, [], (reply) => transitionsFrom(shown(key), reply, 0)),
      getMode: (namespace) => runMode("getMode", GET_MODE, namespace, []),
      setMode: (namespace, mode, now, after) =>
        runMode("setMode", SET_MODE, namespace, [
          useRedisTime ? "" : String(now),
          channel,
          namespace,
          mode,
          after === undefined ? "" : String(after)
        ]),
      restoreMode: (namespace, setting) =>
        runMode("restoreMode", RESTORE_MODE, namespace, [
          channel,
          namespace,
          setting.mode,
          String(setting.since),
          String(setting.generation)
        ]),
      subscribe
    }
    return store
  })

/** @internal */
export const layer = (options?: StoreOptions): Layer.Layer<Store, InvalidOptionsError | RedisError, Redis> =>
  Layer.scoped(CircuitBreakerStore, make(options))

const configured = storeConfig({ name: "CircuitBreakerStore", spec: Options.spec, envSpec: Options.envSpec, make, tag: CircuitBreakerStore })

/** @internal */
export const config: Config.Config<StoreOptions> = configured.config

/** @internal */
export const fromConfig = configured.fromConfig

/** @internal */
export const layerConfig = configured.layerConfig