/**
 * The Lua scripts of the Redis `CircuitBreakerStore`. Each store operation
 * is ONE script (one EVALSHA), so it runs atomically: no other client's
 * command interleaves with it. The scripts are a port of the memory store's
 * state machine (src/internal/circuitBreaker/machine.ts and windows.ts);
 * test/redis/CircuitBreakerStore.test.ts runs both on the same random
 * operations and compares every answer.
 *
 * Keys of one circuit (one hash slot: they share the `{…}` hash tag):
 * - KEYS[1] the circuit (hash): state, generation, times, counters, window scalars
 * - KEYS[2] the half-open probe leases (sorted set: the admission's token → expiry)
 * - KEYS[3] the count ring of `rate` (and of `consecutive` with slow calls):
 *   one byte per call (bit 1 failure, bit 2 slow), written only when it changes
 * - KEYS[4] the buckets of `timeRate` (hash: c<i>, f<i>, s<i> = calls, failures, slow calls)
 *
 * ARGV (every script):
 * - [1] now in epoch ms, or '' to read Redis `TIME` (the production default)
 * - [2] idle time to live in ms (PEXPIRE on every write)
 * - [3] the pub/sub channel transitions are published on ('' = none)
 * - [4] the namespace (breaker name), [5] the circuit key as JSON, `null` for the breaker's own
 *   circuit (both for the published transitions; the circuit itself is named by KEYS)
 * - [6] the circuit's configuration, JSON (see `encodeConfig` in store.ts)
 * - [7] the window's fingerprint: a window made under another trip policy is started over
 *
 * A circuit's keys expire after ARGV[2] idle only while its state no longer
 * decides what the next call gets: an open circuit (even past its break,
 * until a call observes it), a half-open and an isolated one are kept
 * (PERSIST), and a closed one while its count of consecutive openings still
 * picks the next (growing) break.
 *
 * Numbers are passed and returned as strings and formatted here with
 * `%.17g` / `%d`: Lua's own `tostring` (and cjson) keep 14 digits only, and
 * generations are 16-digit integers.
 *
 * @internal
 */

const COMMON = `
local h, leasesKey, ringKey, bucketsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[1])
-- Redis TIME: one clock for every replica, so time seen going back is a step of it (unstep); the
-- callers' clocks (\`clock: "caller"\`) may simply disagree, and are never taken for a step
local redisTime = now == nil
if redisTime then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttl = tonumber(ARGV[2])
local channel, namespace, key = ARGV[3], ARGV[4], ARGV[5]
local cfg = cjson.decode(ARGV[6])
local fingerprint = ARGV[7]
local trip = cfg.w
local slowThreshold = cfg.s
-- half-open sampling: the probes' failure rate that reopens the circuit (nil: one failed probe does)
local sampling = cfg.hf ~= nil
local EPS = 1e-9

local function fmt(n) return string.format('%.17g', n) end
local function int(n) return string.format('%d', n) end

-- the circuit, read once; writes are collected in c/dirty and flushed with one HSET
local FIELDS = { 'state', 'gen', 'seq', 'since', 'openUntil', 'openings', 'hsucc', 'hfail',
  'successes', 'failures', 'ignored', 'rejections', 'slowCalls', 'fenced',
  'wcount', 'wfail', 'wslow', 'consec', 'wpos', 'wslot', 'wcfg', 'seen' }
local c = {}
local exists
do
  local values = redis.call('HMGET', h, unpack(FIELDS))
  exists = values[1] ~= false
  for i, f in ipairs(FIELDS) do
    local v = values[i]
    if f == 'state' or f == 'wcfg' then
      if v == false then c[f] = nil else c[f] = v end
    else
      c[f] = tonumber(v) or 0
    end
  end
end
local dirty = {}
local function set(f, v) c[f] = v; dirty[f] = true end
local function incr(f) set(f, c[f] + 1) end
local function flush()
  local args = {}
  for f in pairs(dirty) do
    args[#args + 1] = f
    local v = c[f]
    if type(v) == 'number' then
      if f == 'gen' or f == 'seq' then args[#args + 1] = int(v) else args[#args + 1] = fmt(v) end
    else
      args[#args + 1] = v
    end
  end
  if #args > 0 then redis.call('HSET', h, unpack(args)) end
end

-- generations and lease ids: one counter per circuit, seeded from Redis TIME in
-- microseconds, so a circuit created again (after idle expiry or a Redis restart)
-- never reuses a generation an in-flight call may still carry
local function nextSeq() set('seq', c.seq + 1); return c.seq end

-- every write refreshes the idle TTL of a circuit whose state no longer decides what the
-- next call gets; the others never expire: an open circuit (even past its break, until a
-- call observes it), a half-open one, an isolated one; a closed one is kept at least while
-- its count of consecutive openings still picks the next (growing) break
local function touch()
  local state = c.state
  if state ~= 'Closed' then
    redis.call('PERSIST', h)
    if state == 'HalfOpen' then redis.call('PERSIST', leasesKey) end
    return
  end
  local keep = ttl
  if #cfg.d > 1 and c.openings > 0 then keep = math.max(ttl, c.since + cfg.r - now) end
  if trip.k == 'T' then
    redis.call('PEXPIRE', bucketsKey, int(math.ceil(keep)))
  else
    redis.call('PEXPIRE', ringKey, int(math.ceil(keep)))
  end
  redis.call('PEXPIRE', h, int(math.ceil(keep)))
end

local transitions = {}
local function moved(from, to, at, gen, reason)
  transitions[#transitions + 1] = { from, to, at, gen, reason }
end

-- appends the transitions to a reply, and publishes them (in the same atomic step)
local function finish(reply)
  if #transitions == 0 then return reply end
  local parts = {}
  for _, t in ipairs(transitions) do
    reply[#reply + 1] = t[1]
    reply[#reply + 1] = t[2]
    reply[#reply + 1] = fmt(t[3])
    reply[#reply + 1] = int(t[4])
    reply[#reply + 1] = t[5]
    parts[#parts + 1] = '[' .. cjson.encode(t[1]) .. ',' .. cjson.encode(t[2]) .. ',' .. fmt(t[3]) .. ',' ..
      int(t[4]) .. ',' .. cjson.encode(t[5]) .. ']'
  end
  if channel ~= '' then
    redis.call('PUBLISH', channel,
      '{"n":' .. cjson.encode(namespace) .. ',"k":' .. key .. ',"t":[' .. table.concat(parts, ',') .. ']}')
  end
  return reply
end

local function resetWindow()
  set('wcount', 0); set('wfail', 0); set('wslow', 0); set('consec', 0); set('wpos', 0); set('wslot', -1)
  set('wcfg', fingerprint)
  redis.call('DEL', ringKey, bucketsKey)
end

local function ensure()
  if exists then return end
  exists = true
  local t = redis.call('TIME')
  set('seq', tonumber(t[1]) * 1000000 + tonumber(t[2]))
  set('state', 'Closed'); set('gen', c.seq); set('since', now); set('openings', 0); set('hsucc', 0); set('hfail', 0)
  resetWindow()
end

local function reaches(count, calls, threshold)
  return count > 0 and count / calls + EPS >= threshold
end

local function ringAt(pos)
  return string.byte(redis.call('GETRANGE', ringKey, pos, pos)) or 0
end

-- consecutive(n): n failures in a row; with slowCall, the slow-call rate of the last n calls
local function addConsecutive(failure, slow)
  if failure then set('consec', c.consec + 1) else set('consec', 0) end
  local tripped = c.consec >= trip.n
  if slowThreshold ~= nil then
    local size, pos, old = trip.n, c.wpos, 0
    if c.wcount == size then
      old = ringAt(pos)
      set('wslow', c.wslow - old)
    else
      set('wcount', c.wcount + 1)
    end
    local bit = slow and 1 or 0
    if bit ~= old then redis.call('SETRANGE', ringKey, pos, string.char(bit)) end
    set('wslow', c.wslow + bit)
    set('wpos', (pos + 1) % size)
    if c.wcount >= size and reaches(c.wslow, c.wcount, slowThreshold) then tripped = true end
  end
  return tripped
end

-- rate: the last \`size\` calls
local function addCount(failure, slow)
  local size, pos, old = trip.n, c.wpos, 0
  local bits = (failure and 1 or 0) + (slow and 2 or 0)
  if c.wcount == size then
    old = ringAt(pos)
    if old % 2 == 1 then set('wfail', c.wfail - 1) end
    if old >= 2 then set('wslow', c.wslow - 1) end
  else
    set('wcount', c.wcount + 1)
  end
  if bits ~= old then redis.call('SETRANGE', ringKey, pos, string.char(bits)) end
  if failure then set('wfail', c.wfail + 1) end
  if slow then set('wslow', c.wslow + 1) end
  if failure then set('consec', c.consec + 1) else set('consec', 0) end
  set('wpos', (pos + 1) % size)
  if c.wcount < trip.mc then return false end
  return reaches(c.wfail, c.wcount, trip.th) or (slowThreshold ~= nil and reaches(c.wslow, c.wcount, slowThreshold))
end

-- timeRate: bucket slot % buckets holds time slot floor(now / width); the buckets of
-- the slots time moved past are emptied (at most all of them). With mutate false,
-- returns the window as of now without changing anything.
local function advance(mutate)
  local buckets = trip.b
  local slot = math.floor(now / (trip.win / buckets))
  local calls, fails, slows = c.wcount, c.wfail, c.wslow
  if slot > c.wslot then
    local steps = math.min(slot - c.wslot, buckets)
    local fields = {}
    for i = 0, steps - 1 do
      local b = int((slot - i) % buckets)
      fields[#fields + 1] = 'c' .. b
      fields[#fields + 1] = 'f' .. b
      fields[#fields + 1] = 's' .. b
    end
    local values = redis.call('HMGET', bucketsKey, unpack(fields))
    for i = 1, #fields, 3 do
      calls = calls - (tonumber(values[i]) or 0)
      fails = fails - (tonumber(values[i + 1]) or 0)
      slows = slows - (tonumber(values[i + 2]) or 0)
    end
    if mutate then
      redis.call('HDEL', bucketsKey, unpack(fields))
      set('wcount', calls); set('wfail', fails); set('wslow', slows); set('wslot', slot)
    end
  end
  return calls, fails, slows
end

local function addTime(failure, slow)
  advance(true)
  local b = int(c.wslot % trip.b)
  redis.call('HINCRBY', bucketsKey, 'c' .. b, 1)
  set('wcount', c.wcount + 1)
  if failure then
    redis.call('HINCRBY', bucketsKey, 'f' .. b, 1)
    set('wfail', c.wfail + 1)
  end
  if slow then
    redis.call('HINCRBY', bucketsKey, 's' .. b, 1)
    set('wslow', c.wslow + 1)
  end
  if failure then set('consec', c.consec + 1) else set('consec', 0) end
  if c.wcount < trip.mc then return false end
  return reaches(c.wfail, c.wcount, trip.th) or (slowThreshold ~= nil and reaches(c.wslow, c.wcount, slowThreshold))
end

local function addToWindow(failure, slow)
  if c.wcfg ~= fingerprint then resetWindow() end
  if trip.k == 'C' then return addConsecutive(failure, slow) end
  if trip.k == 'R' then return addCount(failure, slow) end
  return addTime(failure, slow)
end

-- the break of the n-th consecutive opening, at least retryAfter, capped
local function openFor(openings, retryAfter)
  local d = cfg.d
  local base = d[math.min(openings, #d)] or d[#d]
  local wanted = base
  if retryAfter ~= nil and retryAfter > base then wanted = retryAfter end
  return math.min(wanted, cfg.m)
end

-- opens the circuit at \`at\` (now, or the end of a timed-out probe's lease)
local function openAt(openings, retryAfter, reason, at)
  local from = c.state
  local gen = nextSeq()
  set('state', 'Open'); set('gen', gen); set('since', at); set('openUntil', at + openFor(openings, retryAfter))
  set('openings', openings)
  redis.call('DEL', leasesKey, ringKey, bucketsKey)
  moved(from, 'Open', at, gen, reason)
end

local function open(openings, retryAfter, reason) openAt(openings, retryAfter, reason, now) end

local function close(openings, reason)
  local from = c.state
  local gen = nextSeq()
  set('state', 'Closed'); set('gen', gen); set('since', now); set('openings', openings); set('hsucc', 0); set('hfail', 0)
  redis.call('DEL', leasesKey)
  resetWindow()
  if from ~= 'Closed' then moved(from, 'Closed', now, gen, reason) end
end

-- Open -> HalfOpen once the break has elapsed (stamped with the time it ended)
local function materialize()
  if c.state == 'Open' and now >= c.openUntil then
    local gen = nextSeq()
    local at = c.openUntil
    set('state', 'HalfOpen'); set('gen', gen); set('since', at); set('hsucc', 0); set('hfail', 0)
    redis.call('DEL', leasesKey)
    moved('Open', 'HalfOpen', at, gen, 'OpenElapsed')
  end
end

-- the moves time made since the last operation, in order (machine.ts catchUp): the end of
-- a break, then each probe lease that ended while its probe still ran, as a failed probe at
-- the lease's end (reopening from then, or a failed sample under half-open sampling)
local function catchUp()
  while true do
    if c.state == 'Open' then
      if now < c.openUntil then return end
      materialize()
    elseif c.state == 'HalfOpen' then
      local first = redis.call('ZRANGE', leasesKey, 0, 0, 'WITHSCORES')
      if first[2] == nil then return end
      local at = tonumber(first[2])
      if at > now then return end
      redis.call('ZREM', leasesKey, first[1])
      local reopen = true
      if sampling then
        incr('hfail')
        reopen = reaches(c.hfail, cfg.p, cfg.hf)
      end
      if reopen then openAt(c.openings + 1, nil, 'ProbeTimedOut', at) end
    else
      return
    end
  end
end

-- probe slots taken in this half-open period: running probes, and under sampling the decided ones
local function slotsTaken()
  local n = redis.call('ZCARD', leasesKey)
  if sampling then n = n + c.hsucc + c.hfail end
  return n
end

-- A step back of the shared clock (Redis TIME after an NTP step or a VM resume). \`seen\` is the
-- latest now a script wrote this circuit at (\`since\` for circuits written before it existed):
-- now behind it is a step back of at least \`back\`, and every stored instant (the break, the
-- probes' leases) moves back with it, so what remained of each at the last write remains. No
-- configured length is involved: replicas of one breaker may run different ones. A step found is
-- always written (a read too: else every read would find it again, and the circuit would look
-- frozen until a call); \`record\` also records now when there was none. True when it moved.
local function unstep(record)
  if not exists or not redisTime then return false end
  local mark = math.max(c.seen, c.since)
  if now >= mark then
    if record then set('seen', now) end
    return false
  end
  local back = mark - now
  set('since', c.since - back)
  if c.state == 'Open' then set('openUntil', c.openUntil - back) end
  if c.state == 'HalfOpen' then
    local leases = redis.call('ZRANGE', leasesKey, 0, -1, 'WITHSCORES')
    for i = 1, #leases, 2 do redis.call('ZADD', leasesKey, 'XX', fmt(tonumber(leases[i + 1]) - back), leases[i]) end
  end
  -- a time window written in a later slot: its counts are of an age no one can tell (idle for
  -- hours before the step?), so it starts over rather than count them again
  if trip.k == 'T' and c.state == 'Closed' then resetWindow() end
  set('seen', now)
  return true
end
`

/**
 * Admits a call: `{'A', generation, lease}` (lease '0' for a closed circuit)
 * or `{'R', state, retryAfter}`, followed by the transitions it made (5
 * strings each: from, to, at, generation, reason). Creates the circuit on
 * first use; moves an open circuit whose break has elapsed to half-open; in
 * half-open takes a probe lease (expiring after probeTimeout) if fewer than
 * `probes` live. ARGV[8] is the admission's token, unique per admission: the
 * lease's member in the sorted set, so that the caller can remove it with a
 * plain ZREM when it never got the answer (a timed-out admission still runs
 * once a paused Redis resumes).
 * @internal
 */
export const ADMIT = `
-- the hot path: a closed circuit admits with its generation, reading two fields
local closed = redis.call('HMGET', KEYS[1], 'state', 'gen')
if closed[1] == 'Closed' then return { 'A', closed[2], '0' } end
` + COMMON + `
ensure()
unstep(true)
catchUp()
local reply
local state = c.state
-- half-open sampling whose decided probes already fill this configuration's probes (lowered
-- since the period began: a rolling deploy): decided now (machine.ts admit, sampleComplete)
if state == 'HalfOpen' and sampling and c.hsucc + c.hfail >= cfg.p then
  if reaches(c.hfail, cfg.p, cfg.hf) then open(c.openings + 1, nil, 'ProbeFailed') else close(c.openings, 'ProbesSucceeded') end
  state = c.state
end
if state == 'Closed' then
  reply = { 'A', int(c.gen), '0' }
elseif state == 'Open' then
  incr('rejections')
  reply = { 'R', 'Open', fmt(c.openUntil - now) }
elseif state == 'HalfOpen' then
  if slotsTaken() < cfg.p then
    local lease = nextSeq()
    redis.call('ZADD', leasesKey, fmt(now + cfg.t), ARGV[8])
    reply = { 'A', int(c.gen), int(lease) }
  else
    incr('rejections')
    local first = redis.call('ZRANGE', leasesKey, 0, 0, 'WITHSCORES')
    local retry = ''
    if first[2] ~= nil then retry = fmt(tonumber(first[2]) - now) end
    reply = { 'R', 'HalfOpen', retry }
  end
else
  incr('rejections')
  reply = { 'R', 'Isolated', '' }
end
if next(dirty) ~= nil then
  flush()
  touch()
end
return finish(reply)
`

/**
 * Records an admitted call's result. ARGV[8] generation, [9] the probe's token
 * ('0' for a call admitted while closed), [10]
 * outcome (success, failure, ignored), [11] slow ('1'/'0'), [12] retryAfter
 * ms or ''. Replies `{'F'}` (fenced: the ticket's generation is not the
 * circuit's, or its lease expired; counted but nothing moved) or `{'U'}`,
 * followed by the transitions.
 * @internal
 */
export const RECORD = COMMON + `
if not exists then return { 'F' } end
local gen, lease, outcome = tonumber(ARGV[8]), ARGV[9], ARGV[10]
local counted = outcome ~= 'ignored'
local slow = counted and ARGV[11] == '1'
local retryAfter = tonumber(ARGV[12])
if outcome == 'success' then incr('successes') elseif outcome == 'failure' then incr('failures') else incr('ignored') end
if slow then incr('slowCalls') end
unstep(true)
-- the moves time made before this result (an ended break, a probe that outlived its lease)
if c.state ~= 'Closed' then catchUp() end
local fenced = false
local state = c.state
if c.gen ~= gen then
  fenced = true
elseif state == 'Closed' then
  if counted and lease == '0' then
    if addToWindow(outcome == 'failure', slow) then
      local openings = c.openings
      if now - c.since >= cfg.r then openings = 0 end
      open(openings + 1, retryAfter, 'Tripped')
    end
  end
elseif state == 'HalfOpen' then
  local expiry = tonumber(redis.call('ZSCORE', leasesKey, lease))
  if expiry == nil then
    -- the probe's lease ended (probeTimeout): it already counted as a failed probe
    fenced = true
  else
    redis.call('ZREM', leasesKey, lease)
    if counted then
      local failed = outcome == 'failure' or (slow and slowThreshold ~= nil)
      if sampling then
        -- half-open sampling: decide on the probes' failure rate, as soon as the outcome is known
        if failed then
          incr('hfail')
          if reaches(c.hfail, cfg.p, cfg.hf) then open(c.openings + 1, retryAfter, 'ProbeFailed') end
        else
          incr('hsucc')
          if not reaches(cfg.p - c.hsucc, cfg.p, cfg.hf) then close(c.openings, 'ProbesSucceeded') end
        end
      elseif failed then
        open(c.openings + 1, retryAfter, 'ProbeFailed')
      else
        incr('hsucc')
        if c.hsucc >= cfg.k then close(c.openings, 'ProbesSucceeded') end
      end
    end
  end
else
  fenced = true
end
if fenced then incr('fenced') end
flush()
touch()
return finish({ fenced and 'F' or 'U' })
`

/**
 * Reads a circuit without changing it (but for a step back of Redis `TIME` it finds, which it
 * writes: see `unstep`): `{'0', now}` when it does not exist,
 * else `{'1', now, state, since, openUntil, openings, hsucc, live probes,
 * successes, failures, ignored, rejections, slowCalls, fenced, window calls,
 * window failures, window slow calls, consecutive failures, hfail, then the
 * end of each probe lease}` (the window as of now, for a closed circuit; the
 * moves time made since — an ended break or probe lease — are left to the
 * reader, `Machine.viewOf`).
 * @internal
 */
export const SNAPSHOT = COMMON + `
if not exists then return { '0', fmt(now) } end
if unstep(false) then flush() end
local calls, fails, slows = c.wcount, c.wfail, c.wslow
if c.state == 'Closed' and c.wcfg ~= fingerprint then
  calls, fails, slows = 0, 0, 0
elseif c.state == 'Closed' and trip.k == 'T' then
  calls, fails, slows = advance(false)
end
local live = 0
local leases = {}
if c.state == 'HalfOpen' then
  live = redis.call('ZCOUNT', leasesKey, '(' .. fmt(now), '+inf')
  leases = redis.call('ZRANGE', leasesKey, 0, -1, 'WITHSCORES')
end
local reply = { '1', fmt(now), c.state, fmt(c.since), fmt(c.openUntil), fmt(c.openings), fmt(c.hsucc), fmt(live),
  fmt(c.successes), fmt(c.failures), fmt(c.ignored), fmt(c.rejections), fmt(c.slowCalls), fmt(c.fenced),
  fmt(calls), fmt(fails), fmt(slows), fmt(c.consec), fmt(c.hfail) }
for i = 2, #leases, 2 do reply[#reply + 1] = leases[i] end
return reply
`

/**
 * Forces the circuit open until reset (creating it if needed); replies with
 * the transitions.
 * @internal
 */
export const ISOLATE = COMMON + `
ensure()
unstep(true)
if c.state ~= 'Isolated' then
  catchUp()
  local from = c.state
  local gen = nextSeq()
  set('state', 'Isolated'); set('gen', gen); set('since', now)
  redis.call('DEL', leasesKey, ringKey, bucketsKey)
  moved(from, 'Isolated', now, gen, 'Isolated')
end
flush()
touch()
return finish({})
`

/**
 * Closes the circuit with an empty window and no openings counted (a new
 * generation, even when it was closed); replies with the transitions.
 * @internal
 */
export const RESET = COMMON + `
if not exists then return {} end
unstep(true)
catchUp()
close(0, 'Reset')
flush()
touch()
return finish({})
`

/**
 * Sets the mode of a namespace's breakers (KEYS[1], a hash: mode, gen,
 * since). ARGV: [1] now or '' (Redis `TIME`), [2] the pub/sub channel, [3]
 * the namespace, [4] the mode, [5] the latest generation the caller applied
 * ('' or absent: 0). A change gets a new generation (above the last, above
 * ARGV[5], and at least Redis `TIME` in microseconds) and is published
 * (`{"n": namespace, "m": [mode, since, generation]}`). A key older than
 * ARGV[5] (lost, or restored from an older copy: the caller applied a later
 * setting) is written even when its mode is the one asked for, so that
 * breakers holding another mode apply it; ARGV[5] also keeps a key lost
 * while Redis's clock stepped back from going below what breakers applied.
 * Replies `{mode, since, generation}`: the setting in force.
 * @internal
 */
export const SET_MODE = `
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local channel, namespace, mode = ARGV[2], ARGV[3], ARGV[4]
local cur = redis.call('HMGET', KEYS[1], 'mode', 'gen', 'since')
local gen = tonumber(cur[2]) or 0
local after = tonumber(ARGV[5]) or 0
if (cur[1] or 'Enforcing') == mode and gen >= after then
  return { mode, string.format('%.17g', tonumber(cur[3]) or 0), string.format('%d', gen) }
end
local t = redis.call('TIME')
gen = math.max(gen + 1, after + 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))
local reply = { mode, string.format('%.17g', now), string.format('%d', gen) }
redis.call('HSET', KEYS[1], 'mode', mode, 'gen', reply[3], 'since', reply[2])
if channel ~= '' then
  redis.call('PUBLISH', channel,
    '{"n":' .. cjson.encode(namespace) .. ',"m":[' .. cjson.encode(mode) .. ',' .. reply[2] .. ',' .. reply[3] .. ']}')
end
return reply
`

/**
 * Writes back a mode setting of a namespace's breakers (KEYS[1]) as it was,
 * when the key's generation is lower (the key was lost, or restored from an
 * older copy, while breakers still apply the setting). ARGV: [1] the pub/sub
 * channel, [2] the namespace, [3] the mode, [4] since, [5] the generation. A
 * key as new or newer is kept (a setMode made meanwhile wins). What is
 * written back is published. Replies `{mode, since, generation}`: the
 * setting in force.
 * @internal
 */
export const RESTORE_MODE = `
local channel, namespace, mode, since, gen = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local cur = redis.call('HMGET', KEYS[1], 'mode', 'gen', 'since')
if (tonumber(cur[2]) or 0) >= tonumber(gen) then
  return { cur[1] or 'Enforcing', cur[3] or '0', cur[2] or '0' }
end
redis.call('HSET', KEYS[1], 'mode', mode, 'gen', gen, 'since', since)
if channel ~= '' then
  redis.call('PUBLISH', channel, '{"n":' .. cjson.encode(namespace) .. ',"m":[' .. cjson.encode(mode) .. ',' .. since .. ',' .. gen .. ']}')
end
return { mode, since, gen }
`

/**
 * Reads the mode of a namespace's breakers (KEYS[1]): `{mode, since,
 * generation}`, `{'Enforcing', '0', '0'}` when never set.
 * @internal
 */
export const GET_MODE = `
local cur = redis.call('HMGET', KEYS[1], 'mode', 'gen', 'since')
return { cur[1] or 'Enforcing', cur[3] or '0', cur[2] or '0' }
`
