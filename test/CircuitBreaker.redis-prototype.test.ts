/**
 * A prototype of the Redis `CircuitBreakerStore` (issue 9 builds the real
 * one): it shows that the store interface fits Redis — every store operation
 * is ONE atomic Lua script (one EVAL), the time is passed in (the scripts
 * never call TIME, so the breaker runs here under TestClock), generations
 * fence late results across replicas, and the half-open probe is a lease
 * (a sorted set scored by expiry) so only `probes` replicas probe at once.
 *
 * Scope of the prototype: the Consecutive and Rate trip policies (Rate with
 * slow calls), growing open durations, probe leases, isolate/reset, counters.
 * TimeRate (a hash of buckets) and idle-key expiry policies are left to the
 * Redis issue; `CircuitBreakerStore.Config` already carries what they need.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Deferred, Duration, Effect, Exit, Fiber, Schedule, TestClock } from "effect"
import { CircuitBreaker } from "effect-resilience"
import type { Redis } from "ioredis"
import { hasRedis, redisWithClients } from "./utils/redis.js"

class Boom extends Data.TaggedError("Boom")<{}> {}

// KEYS: 1 circuit hash, 2 probe leases (zset: member lease id, score expiry), 3 generation counter, 4 rate ring (string)
// ARGV: 1 now, 2 config JSON, 3 circuit key, 4 idle TTL ms, then per script
const COMMON = `
local h, leasesKey, genKey, ringKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[1])
local cfg = cjson.decode(ARGV[2])
local key = ARGV[3]
local ttl = tonumber(ARGV[4])
local transitions = {}
local function get(f) return redis.call('HGET', h, f) end
local function num(f) return tonumber(redis.call('HGET', h, f) or '0') end
local function newgen() return redis.call('INCR', genKey) end
local function moved(from, to, at, gen, reason)
  table.insert(transitions, { key = key, from = from, to = to, at = at, generation = gen, reason = reason })
end
local function resetWindow()
  redis.call('HSET', h, 'consec', 0, 'wcount', 0, 'wfail', 0, 'wslow', 0, 'wpos', 0)
  redis.call('DEL', ringKey)
end
local function ensure()
  if redis.call('EXISTS', h) == 0 then
    redis.call('HSET', h, 'state', 'Closed', 'gen', newgen(), 'since', now, 'openings', 0, 'until', 0, 'hsucc', 0,
      'successes', 0, 'failures', 0, 'ignored', 0, 'rejections', 0, 'slowCalls', 0, 'fenced', 0)
    resetWindow()
  end
end
local function touch()
  local keep = ttl
  if get('state') == 'Open' then keep = math.max(ttl, num('until') - now + ttl) end
  if get('state') == 'Isolated' then
    redis.call('PERSIST', h)
  else
    redis.call('PEXPIRE', h, keep)
    redis.call('PEXPIRE', ringKey, keep)
    redis.call('PEXPIRE', leasesKey, keep)
  end
end
local function openFor(openings, retryAfter)
  local d = cfg.openDurations
  local base = d[math.min(openings, #d)]
  if retryAfter ~= nil and retryAfter > base then base = retryAfter end
  return math.min(base, cfg.maxOpenDuration)
end
local function open(openings, retryAfter, reason)
  local from = get('state')
  local gen = newgen()
  redis.call('HSET', h, 'state', 'Open', 'gen', gen, 'since', now, 'until', now + openFor(openings, retryAfter), 'openings', openings)
  redis.call('DEL', leasesKey)
  moved(from, 'Open', now, gen, reason)
end
local function close(openings, reason)
  local from = get('state')
  local gen = newgen()
  redis.call('HSET', h, 'state', 'Closed', 'gen', gen, 'since', now, 'openings', openings, 'hsucc', 0)
  redis.call('DEL', leasesKey)
  resetWindow()
  if from ~= 'Closed' then moved(from, 'Closed', now, gen, reason) end
end
local function materialize()
  if get('state') == 'Open' and now >= num('until') then
    local gen = newgen()
    local at = num('until')
    redis.call('HSET', h, 'state', 'HalfOpen', 'gen', gen, 'since', at, 'hsucc', 0)
    redis.call('DEL', leasesKey)
    moved('Open', 'HalfOpen', at, gen, 'OpenElapsed')
  end
end
local function liveLeases()
  redis.call('ZREMRANGEBYSCORE', leasesKey, '-inf', now)
  return redis.call('ZCARD', leasesKey)
end
`

const ADMIT = COMMON + `
ensure()
materialize()
local state = get('state')
local result
if state == 'Closed' then
  result = { _tag = 'Admitted', generation = num('gen'), lease = 0 }
elseif state == 'Open' then
  redis.call('HINCRBY', h, 'rejections', 1)
  result = { _tag = 'Rejected', state = 'Open', retryAfter = num('until') - now }
elseif state == 'HalfOpen' then
  if liveLeases() < cfg.probes then
    local lease = newgen()
    redis.call('ZADD', leasesKey, now + cfg.probeTimeout, lease)
    result = { _tag = 'Admitted', generation = num('gen'), lease = lease }
  else
    redis.call('HINCRBY', h, 'rejections', 1)
    local first = redis.call('ZRANGE', leasesKey, 0, 0, 'WITHSCORES')
    result = { _tag = 'Rejected', state = 'HalfOpen', retryAfter = tonumber(first[2]) - now }
  end
else
  redis.call('HINCRBY', h, 'rejections', 1)
  result = { _tag = 'Rejected', state = 'Isolated' }
end
touch()
result.transitions = transitions
return cjson.encode(result)
`

// ARGV: 5 generation, 6 lease, 7 outcome, 8 slow (0/1), 9 retryAfter ms or ''
const RECORD = COMMON + `
local gen, lease, outcome = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local slow = ARGV[8] == '1' and outcome ~= 'ignored'
local retryAfter = tonumber(ARGV[9])
if redis.call('EXISTS', h) == 0 then return cjson.encode({ fenced = true, transitions = {} }) end
if outcome == 'success' then redis.call('HINCRBY', h, 'successes', 1)
elseif outcome == 'failure' then redis.call('HINCRBY', h, 'failures', 1)
else redis.call('HINCRBY', h, 'ignored', 1) end
if slow then redis.call('HINCRBY', h, 'slowCalls', 1) end
local function fenced()
  redis.call('HINCRBY', h, 'fenced', 1)
  touch()
  return cjson.encode({ fenced = true, transitions = {} })
end
if num('gen') ~= gen then return fenced() end
local state = get('state')
local failed = outcome == 'failure'
if state == 'Closed' then
  if outcome ~= 'ignored' and lease == 0 then
    local trip = false
    if failed then redis.call('HINCRBY', h, 'consec', 1) else redis.call('HSET', h, 'consec', 0) end
    local t = cfg.trip
    if t._tag == 'Consecutive' then
      trip = num('consec') >= t.failures
    elseif t._tag == 'Rate' then
      local pos, count = num('wpos'), num('wcount')
      if count == t.size then
        local old = string.byte(redis.call('GETRANGE', ringKey, pos, pos)) or 0
        if old % 2 == 1 then redis.call('HINCRBY', h, 'wfail', -1) end
        if old >= 2 then redis.call('HINCRBY', h, 'wslow', -1) end
      else
        count = count + 1
      end
      local bits = (failed and 1 or 0) + (slow and 2 or 0)
      redis.call('SETRANGE', ringKey, pos, string.char(bits))
      if failed then redis.call('HINCRBY', h, 'wfail', 1) end
      if slow then redis.call('HINCRBY', h, 'wslow', 1) end
      redis.call('HSET', h, 'wcount', count, 'wpos', (pos + 1) % t.size)
      if count >= t.minimumCalls then
        local eps = 1e-9
        trip = (num('wfail') > 0 and num('wfail') / count + eps >= t.threshold)
          or (cfg.slowCallThreshold ~= nil and num('wslow') > 0 and num('wslow') / count + eps >= cfg.slowCallThreshold)
      end
    else
      return redis.error_reply('prototype: trip policy ' .. t._tag .. ' is left to the Redis store')
    end
    if trip then
      local openings = num('openings')
      if now - num('since') >= cfg.openDurationResetAfter then openings = 0 end
      open(openings + 1, retryAfter, 'Tripped')
    end
  end
elseif state == 'HalfOpen' then
  local expiry = tonumber(redis.call('ZSCORE', leasesKey, lease))
  redis.call('ZREM', leasesKey, lease)
  if expiry == nil or expiry <= now then return fenced() end
  if outcome ~= 'ignored' then
    if failed or (slow and cfg.slowCallThreshold ~= nil) then
      open(num('openings') + 1, retryAfter, 'ProbeFailed')
    else
      local s = redis.call('HINCRBY', h, 'hsucc', 1)
      if s >= cfg.successThreshold then close(num('openings'), 'ProbesSucceeded') end
    end
  end
else
  return fenced()
end
touch()
return cjson.encode({ fenced = false, transitions = transitions })
`

const SNAPSHOT = COMMON + `
if redis.call('EXISTS', h) == 0 then return cjson.encode({ exists = false }) end
local fields = redis.call('HGETALL', h)
local out = { exists = true, live = 0 }
for i = 1, #fields, 2 do out[fields[i]] = fields[i + 1] end
out.live = redis.call('ZCOUNT', leasesKey, '(' .. now, '+inf')
return cjson.encode(out)
`

const ISOLATE = COMMON + `
ensure()
materialize()
local from = get('state')
if from ~= 'Isolated' then
  local gen = newgen()
  redis.call('HSET', h, 'state', 'Isolated', 'gen', gen, 'since', now)
  redis.call('DEL', leasesKey)
  moved(from, 'Isolated', now, gen, 'Isolated')
end
touch()
return cjson.encode(transitions)
`

const RESET = COMMON + `
if redis.call('EXISTS', h) == 0 then return cjson.encode(transitions) end
materialize()
close(0, 'Reset')
touch()
return cjson.encode(transitions)
`

const IDLE_TTL = 60 * 60_000

/** Decodes cjson's empty table (`{}`) as an empty array. */
const list = <A>(u: unknown): ReadonlyArray<A> => (Array.isArray(u) ? u : [])

/** The prototype store: each operation is exactly one EVAL; `evals` counts them. */
const prototypeStore = (redis: Redis, prefix: string) => {
  let evals = 0
  // the breaker's own circuit has no key (undefined): the prototype keeps it under "default"
  const run = <A>(operation: string, script: string, namespace: string, circuit: string | undefined, config: unknown, now: number, extra: ReadonlyArray<string | number>) =>
    Effect.tryPromise({
      try: async () => {
        evals++
        const key = circuit ?? "default"
        const base = `${prefix}{${namespace}}:${key}`
        const raw = await redis.eval(
          script,
          4,
          base,
          `${base}:leases`,
          `${prefix}{${namespace}}:generation`,
          `${base}:ring`,
          now,
          JSON.stringify(config),
          key,
          IDLE_TTL,
          ...extra
        )
        return JSON.parse(String(raw)) as A
      },
      catch: (cause) => new CircuitBreaker.CircuitBreakerStoreError({ operation, cause })
    })

  const store: CircuitBreaker.CircuitBreakerStore = {
    kind: "redis-prototype",
    register: () => Effect.void,
    admit: (namespace, key, config, now) =>
      Effect.map(run<any>("admit", ADMIT, namespace, key, config, now, []), (a): CircuitBreaker.CircuitBreakerStore.Admission =>
        a._tag === "Admitted"
          ? { _tag: "Admitted", generation: a.generation, lease: a.lease, transitions: list(a.transitions) }
          : { _tag: "Rejected", state: a.state, retryAfter: a.retryAfter ?? undefined, transitions: list(a.transitions) }),
    record: (namespace, key, config, ticket, result, now) =>
      Effect.map(
        run<any>("record", RECORD, namespace, key, config, now, [
          ticket.generation,
          ticket.lease,
          result.outcome,
          result.slow ? 1 : 0,
          result.retryAfter ?? ""
        ]),
        (r) => ({ fenced: r.fenced === true, transitions: list(r.transitions) })
      ),
    snapshot: (namespace, circuit, config, now) =>
      Effect.map(run<any>("snapshot", SNAPSHOT, namespace, circuit, config, now, []), (s): CircuitBreaker.CircuitBreakerStore.Snapshot => {
        const key = circuit ?? "default"
        const n = (f: string) => Number(s[f] ?? 0)
        const counters = {
          successes: n("successes"),
          failures: n("failures"),
          ignored: n("ignored"),
          rejections: n("rejections"),
          slowCalls: n("slowCalls"),
          fenced: n("fenced")
        }
        const window = { calls: n("wcount"), failures: n("wfail"), slowCalls: n("wslow"), consecutiveFailures: n("consec") }
        const openings = n("openings")
        const state: CircuitBreaker.StoredState = !s.exists || s.state === "Closed"
          ? { _tag: "Closed", key, since: s.exists ? n("since") : now, openings }
          : s.state === "Open" && now < n("until")
          ? { _tag: "Open", key, since: n("since"), until: n("until"), retryAfter: Duration.millis(n("until") - now), openings }
          : s.state === "Open" || s.state === "HalfOpen"
          ? { _tag: "HalfOpen", key, since: s.state === "Open" ? n("until") : n("since"), probes: s.state === "Open" ? 0 : n("live"), successes: n("hsucc"), failures: 0, openings }
          : { _tag: "Isolated", key, since: n("since"), openings }
        return { state, counters, window }
      }),
    isolate: (namespace, key, config, now) => Effect.map(run<unknown>("isolate", ISOLATE, namespace, key, config, now, []), list<CircuitBreaker.Transition>),
    reset: (namespace, key, config, now) => Effect.map(run<unknown>("reset", RESET, namespace, key, config, now, []), list<CircuitBreaker.Transition>)
  }
  return { store, evals: () => evals }
}

/**
 * Records, through MONITOR, the commands clients send (commands run inside a
 * script are reported with source "lua" and are not counted).
 */
const monitorClientCommands = (redis: Redis) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const monitor = await redis.monitor()
      const commands: Array<string> = []
      monitor.on("monitor", (_time: string, args: ReadonlyArray<string>, source: string) => {
        if (source !== "lua") commands.push(String(args[0]).toLowerCase())
      })
      return { monitor, commands }
    }),
    ({ monitor }) => Effect.sync(() => monitor.disconnect())
  )

const tagOf = (breaker: CircuitBreaker.CircuitBreaker, key?: string) => Effect.map(breaker.state(key), (s) => s._tag)

describe.skipIf(!hasRedis)("CircuitBreaker store prototype on Redis (Lua, real redis-server)", () => {
  it.scoped("the breaker runs unchanged on the Redis store: trip, reject, half-open from the passed-in clock, probe, close", () =>
    Effect.gen(function*() {
      const { clients } = yield* redisWithClients(1)
      const redis = clients[0]!
      const { evals, store } = prototypeStore(redis, "cb:")
      const monitored = yield* monitorClientCommands(redis)
      const breaker = yield* CircuitBreaker.make({
        name: "payments",
        tripPolicy: CircuitBreaker.consecutive(3),
        openDuration: Schedule.exponential("1 second"),
        maxOpenDuration: "10 seconds"
      }).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, store))
      for (let i = 0; i < 3; i++) yield* Effect.exit(breaker(Effect.fail(new Boom())))
      const open = yield* breaker.state()
      assert.strictEqual(open._tag, "Open")
      assert.strictEqual(open._tag === "Open" && open.until, 1000) // TestClock time, not Redis time
      const e = yield* Effect.flip(breaker(Effect.succeed(1)))
      assert.strictEqual(e.reason._tag, "CircuitOpen")
      assert.strictEqual(e.retryAfter && Duration.toMillis(e.retryAfter), 1000)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* tagOf(breaker), "HalfOpen")
      yield* Effect.exit(breaker(Effect.fail(new Boom()))) // probe fails: second opening, 2 s
      const reopened = yield* breaker.state()
      assert.strictEqual(reopened._tag === "Open" && reopened.until - reopened.since, 2000)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* breaker(Effect.succeed("ok")), "ok")
      const m = yield* breaker.metrics()
      assert.strictEqual(m.state._tag, "Closed")
      assert.strictEqual(m.store, "redis-prototype")
      assert.deepStrictEqual(m.transitions.map((t) => `${t.from}->${t.to}@${t.at}`), [
        "Closed->Open@0",
        "Open->HalfOpen@1000",
        "HalfOpen->Open@1000",
        "Open->HalfOpen@3000",
        "HalfOpen->Closed@3000"
      ])
      assert.strictEqual(m.failures, 4)
      assert.strictEqual(m.rejections, 1)
      // every store operation was one EVAL (atomic), and the client sent nothing else
      yield* Effect.promise(() => redis.ping()) // MONITOR output arrives in order: wait for it
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
      const sent = monitored.commands.filter((c) => c !== "ping")
      assert.isAbove(evals(), 10)
      assert.deepStrictEqual(sent, Array(evals()).fill("eval"))
    }))

  it.scoped("replicas share the circuit: failures spread across them open it for all; exactly `probes` replicas probe", () =>
    Effect.gen(function*() {
      const { clients } = yield* redisWithClients(4)
      const options = {
        name: "shared",
        tripPolicy: CircuitBreaker.rate({ threshold: 0.5, size: 8, minimumCalls: 4 }),
        openDuration: "5 seconds",
        halfOpen: { probes: 2, successThreshold: 2 }
      } as const
      const replicas = yield* Effect.forEach(clients, (client) =>
        CircuitBreaker.make(options).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, prototypeStore(client, "cb:").store)))
      // one failure on each replica: 4 of 4 calls failed in the shared window
      for (const replica of replicas.slice(0, 3)) yield* Effect.exit(replica(Effect.fail(new Boom())))
      assert.strictEqual(yield* tagOf(replicas[3]!), "Closed")
      yield* Effect.exit(replicas[3]!(Effect.fail(new Boom())))
      for (const replica of replicas) assert.strictEqual(yield* tagOf(replica), "Open")
      yield* TestClock.adjust("5 seconds")
      // 4 replicas × 5 concurrent callers race for the 2 probe slots
      const gate = yield* Deferred.make<string>()
      const fibers = yield* Effect.forEach(
        replicas.flatMap((replica) => Array.from({ length: 5 }, () => replica)),
        (replica) => Effect.fork(Effect.exit(replica(Deferred.await(gate)))),
        { concurrency: "unbounded" }
      )
      // wait until every rejected caller is done and the probes are running
      let settled = 0
      for (let i = 0; i < 200 && settled < 18; i++) {
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
        settled = 0
        for (const f of fibers) if ((yield* Fiber.poll(f))._tag === "Some") settled++
      }
      assert.strictEqual(settled, 18)
      const half = yield* replicas[0]!.state()
      assert.strictEqual(half._tag === "HalfOpen" && half.probes, 2)
      yield* Deferred.succeed(gate, "ok")
      const exits = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(exits.filter(Exit.isSuccess).length, 2)
      for (const replica of replicas) assert.strictEqual(yield* tagOf(replica), "Closed")
    }))

  it.scoped("a late result from another replica's earlier period is fenced by generation", () =>
    Effect.gen(function*() {
      const { clients } = yield* redisWithClients(2)
      const options = { name: "fenced", tripPolicy: CircuitBreaker.consecutive(1), openDuration: "10 seconds" } as const
      const [a, b] = yield* Effect.forEach(clients, (client) =>
        CircuitBreaker.make(options).pipe(Effect.provideService(CircuitBreaker.CircuitBreakerStore, prototypeStore(client, "cb:").store)))
      const late = yield* Deferred.make<string, Boom>()
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Effect.exit(a!(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(late)))))
      yield* Deferred.await(started)
      yield* Effect.exit(b!(Effect.fail(new Boom()))) // b opens the circuit until t=10s
      yield* TestClock.adjust("4 seconds")
      yield* Deferred.fail(late, new Boom()) // a's call, admitted while closed, fails late
      yield* Fiber.join(fiber)
      const state = yield* b!.state()
      assert.strictEqual(state._tag === "Open" && state.until, 10_000)
      assert.strictEqual((yield* a!.metrics()).fenced, 1)
      // isolate on one replica rejects on the other; reset closes for both
      yield* a!.isolate()
      assert.strictEqual(yield* tagOf(b!), "Isolated")
      yield* b!.reset()
      assert.strictEqual(yield* a!(Effect.succeed("ok")), "ok")
    }))
})
