/**
 * Interrupting a `ResilientHttpClient` call at every stage, against real loopback servers
 * (STYLE.md §12; DESIGN.md, Guarantees: "interruption at any point", "Nothing hangs",
 * "Isolation"; docs/Http.md; docs/Bulkhead.md, "Permits are always released"; docs/CircuitBreaker.md,
 * "Rejections and interruptions are not failures").
 *
 * The servers are `node:http` servers on 127.0.0.1 whose every step is the test's to take: a
 * request is answered head, chunk by chunk and end only when the test says so (`Origin.advance`),
 * so a stage — "the server has the request and has not answered its head", "the head is out and
 * the body stalls after one chunk" — lasts as long as the test needs. The client runs under the
 * `TestClock`: its timers (timeouts, backoff, `Retry-After`, a hedge's delay) fire only when the
 * test moves the clock, so "in the backoff" is a stage too. Real time is only the servers' I/O
 * and the bounded guards (`waitFor`: 5 ms polls, failing after 3 s; nothing asserts how long
 * anything took).
 *
 * For every stage, on undici, `node:http` (keep-alive agent) and `fetch`, the caller is
 * interrupted there and then:
 *
 * - the caller ends, within the guard, with the interruption;
 * - the server sees every exchange of the call end: an unfinished one closed by the client (its
 *   `res` emits `close` unfinished, its socket is destroyed);
 * - the client's bulkhead is back to 0 active, 0 queued; its breaker (one counted failure opens
 *   it) did not count the call (an interrupted call is not counted at all: docs/CircuitBreaker.md);
 *   its stats say exactly what happened;
 * - the clock is moved a minute on (any backoff, `Retry-After` sleep or timer left behind would
 *   fire): no fiber of the call is left (the bulkhead's own timer aside), no attempt starts — the
 *   server's count and the client's `attempts` move only for a fresh call through the same
 *   client, which succeeds — and every connection still open on the server is idle.
 *
 * The stages: before the request is sent (interrupted k steps after the call was forked, for every
 * k until it waits on its socket: the pipeline runs synchronously from the caller to the socket, so
 * that is "not started" and "connecting"); on a connection the server accepted and has not read;
 * queued in the client's bulkhead; waiting for the head; in a 503's drain; in the `Retry-After`
 * sleep; in the second attempt (head pending, body streaming, body stalled); in the backoff after
 * a 503 without `Retry-After`; a streamed body (`streaming()`) read by the caller; the two attempts
 * of a `Hedge` composed around the client (the client has no hedging, and no rate limiter, of its
 * own). Each scenario also runs uninterrupted, stage by stage (the control). Inside
 * `Effect.uninterruptible` (compare test/reliability/Uninterruptible.test.ts) the call answers as
 * if uninterrupted — a body that resumes is read whole, a queued call is served, a `Retry-After`
 * sleep is slept out — and a body that stalls must end at the client's own bound (`timeout`,
 * `attemptTimeout`, `bodyTimeout`), not before; then the caller ends.
 *
 * Two bugs this file found are kept as regression tests (see "FIXED" below; docs/Reliability.md
 * findings 26–27): inside `Effect.uninterruptible` no bound of the client ended a stalled
 * exchange; the client's own `timeout` cutting an attempt was counted by the breaker but not by
 * the stats.
 */
import { assert, describe, it } from "@effect/vitest"
import { FetchHttpClient, HttpClient, type HttpClientError, type HttpClientResponse } from "@effect/platform"
import { Duration, Effect, Exit, Fiber, type Layer, type Scope, TestClock } from "effect"
import { CircuitBreaker, Errors, Hedge, Retry } from "effect-resilience"
import { ResilientHttpClient } from "effect-resilience/http"
import { createServer, type Server, type ServerResponse } from "node:http"
import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net"
import { CallTree, summary } from "../utils/interruption.js"
import { counterTotal } from "../utils/metrics.js"
import { realSleep } from "../utils/realTime.js"
import { nodeKeepAlive, undici } from "./server.js"

// ---------------------------------------------------------------------------
// A server whose every step the test takes

type Step =
  | { readonly _tag: "head"; readonly status: number; readonly headers: Readonly<Record<string, string>> }
  | { readonly _tag: "chunk"; readonly text: string }
  | { readonly _tag: "end"; readonly text: string }

const TEXT = { "content-type": "text/plain" }
const head = (status: number, headers: Readonly<Record<string, string>> = {}): Step => ({
  _tag: "head",
  status,
  headers: { ...TEXT, ...headers }
})
const chunk = (text: string): Step => ({ _tag: "chunk", text })
const end = (text = ""): Step => ({ _tag: "end", text })

/** What the server does with a request: its steps, taken at once, or one per `advance` (paced). */
interface Reply {
  readonly steps: ReadonlyArray<Step>
  readonly paced: boolean
}

/** The reply to the n-th request to a path (`undefined`: 200 "ok" at once). */
type Routes = (path: string, n: number) => Reply | undefined

const paced = (...steps: ReadonlyArray<Step>): Reply => ({ steps, paced: true })
const atOnce = (...steps: ReadonlyArray<Step>): Reply => ({ steps, paced: false })
const OK = atOnce(head(200), end("ok"))

type ExchangeState = "open" | "finished" | "aborted"

/** One request the server received and what became of it. */
class Exchange {
  state: ExchangeState = "open"
  private next = 0
  constructor(
    readonly path: string,
    readonly n: number,
    readonly socket: Socket,
    private readonly res: ServerResponse,
    private readonly steps: ReadonlyArray<Step>
  ) {
    // `close` comes after `finish` for a response sent whole, alone when the client went away first
    res.on("close", () => {
      this.state = res.writableFinished ? "finished" : "aborted"
    })
  }

  /** Takes the next step; false when none is left or the exchange is over. */
  step(): boolean {
    const s = this.steps[this.next]
    if (s === undefined || this.state !== "open" || this.res.destroyed) return false
    this.next++
    switch (s._tag) {
      case "head":
        this.res.writeHead(s.status, s.headers)
        this.res.flushHeaders()
        break
      case "chunk":
        this.res.write(s.text)
        break
      case "end":
        this.res.end(s.text)
        break
    }
    return true
  }
}

class Origin {
  readonly exchanges: Array<Exchange> = []
  /** Every connection accepted, with the exchanges it carried. */
  readonly sockets = new Map<Socket, Array<Exchange>>()
  /** Connections accepted but not read yet (`holdConnections`). */
  private readonly held: Array<Socket> = []
  constructor(readonly url: string, private holding: boolean, private readonly serve: (socket: Socket) => void) {}
  of(path: string): ReadonlyArray<Exchange> {
    return this.exchanges.filter((e) => e.path === path)
  }
  /** The server takes the next step of the latest request to `path`. */
  advance(path: string): Effect.Effect<void> {
    return Effect.sync(() => {
      const latest = this.of(path).at(-1)
      assert.isTrue(latest?.step() === true, `the server takes the next step of ${path}`)
    })
  }
  accepted(socket: Socket): void {
    this.sockets.set(socket, [])
    if (this.holding) this.held.push(socket)
    else this.serve(socket)
  }
  /** The server reads its connections from now on (those it held first). */
  readonly releaseConnections: Effect.Effect<void> = Effect.sync(() => {
    this.holding = false
    for (const socket of this.held.splice(0)) this.serve(socket)
  })
}

/**
 * A `node:http` server on 127.0.0.1 and an ephemeral port, for the life of the scope. Connections
 * are accepted by a `net` server (paused) and handed to the HTTP server at once, or, with
 * `holdConnections`, once the test releases them: until then the server has not read the request.
 */
const listen = (routes: Routes, holdConnections = false): Effect.Effect<Origin, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.async<{ readonly http: Server; readonly tcp: NetServer; readonly origin: Origin }>((resume) => {
        let origin: Origin | undefined
        const http = createServer((req, res) => {
          const o = origin!
          const path = new URL(req.url ?? "/", "http://x").pathname
          const reply = routes(path, o.of(path).length + 1) ?? OK
          const exchange = new Exchange(path, o.of(path).length + 1, req.socket, res, reply.steps)
          o.exchanges.push(exchange)
          o.sockets.get(req.socket)?.push(exchange)
          if (!reply.paced) {
            while (exchange.step()) {
              // every step at once
            }
          }
        })
        const tcp = createNetServer({ pauseOnConnect: true }, (socket) => origin!.accepted(socket))
        tcp.listen(0, "127.0.0.1", () => {
          origin = new Origin(`http://127.0.0.1:${(tcp.address() as AddressInfo).port}`, holdConnections, (socket) => {
            http.emit("connection", socket)
            socket.resume()
          })
          resume(Effect.succeed({ http, tcp, origin }))
        })
      }),
      ({ http, origin, tcp }) =>
        Effect.async<void>((resume) => {
          http.closeAllConnections()
          for (const socket of origin.sockets.keys()) socket.destroy()
          tcp.close(() => resume(Effect.void))
        })
    ),
    ({ origin }) => origin
  )

// ---------------------------------------------------------------------------
// Bounded waits (real time: the servers' I/O; a guard, never a timing assertion)

const GUARD_POLLS = 600 // 3 s of 5 ms polls

const waitFor = (label: string, condition: () => boolean, polls = GUARD_POLLS): Effect.Effect<void> => {
  const loop = (i: number): Effect.Effect<void> =>
    condition()
      ? Effect.void
      : i >= polls
      ? Effect.sync(() => assert.fail(`bounded wait, not reached: ${label}`))
      : Effect.zipRight(realSleep(5), Effect.suspend(() => loop(i + 1)))
  return Effect.suspend(() => loop(0))
}

/** Sends the interruption to the caller now (no fiber in between): it lands at the caller's next step. */
const sendInterrupt = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Effect.Effect<void> =>
  Effect.fiberIdWith((id) => Effect.sync(() => fiber.unsafeInterruptAsFork(id)))

/** Interrupts the caller (without awaiting it), then waits, bounded, for it to end: its exit. */
const interruptCaller = <A, E>(fiber: Fiber.RuntimeFiber<A, E>): Effect.Effect<Exit.Exit<A, E>> =>
  Effect.gen(function*() {
    yield* sendInterrupt(fiber)
    yield* waitFor("the interrupted caller ends (no hang)", () => fiber.unsafePoll() !== null)
    return fiber.unsafePoll()!
  })

// ---------------------------------------------------------------------------
// The client

let clients = 0

/** Every timer long (it fires only when the test moves the TestClock); a breaker that one counted failure opens. */
const BASE: ResilientHttpClient.Options = {
  timeout: "30 seconds",
  attemptTimeout: "10 seconds",
  retry: { times: 2, schedule: Retry.constant("1 second") },
  circuitBreaker: { tripPolicy: CircuitBreaker.consecutive(1), openDuration: "1 minute" },
  bulkhead: { maxConcurrent: 1, maxQueue: 1, metricsInterval: Duration.infinity },
  register: false
}

type Client = HttpClient.HttpClient.With<HttpClientError.HttpClientError | ResilientHttpClient.ResilienceError>

interface Setup {
  readonly origin: Origin
  readonly resilience: ResilientHttpClient.Resilience
  readonly client: Client
}

const setup = (routes: Routes, options: ResilientHttpClient.Options = {}, holdConnections = false) =>
  Effect.gen(function*() {
    const origin = yield* listen(routes, holdConnections)
    const resilience = yield* ResilientHttpClient.makeTransform({ ...BASE, name: `interruption-${++clients}`, ...options })
    const client: Client = (yield* HttpClient.HttpClient).pipe(resilience)
    return { origin, resilience, client } satisfies Setup
  })

/** The call's answer: `"<status> <body>"`, the body read whole. */
const answer = <E, R>(response: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>) =>
  Effect.flatMap(response, (r) => Effect.map(r.text, (text) => `${r.status} ${text}`))

const get = (s: Setup, path: string) => answer(s.client.get(`${s.origin.url}${path}`))

type Counts = Omit<ResilientHttpClient.OriginStats, "origin">

const counts = (calls: number, attempts: number, retries: number, failures: number, drained: number): Counts => ({
  calls,
  attempts,
  retries,
  failures,
  rejections: 0,
  drained
})

const countsOf = (s: Setup): Counts => {
  const found = s.resilience.unsafeStats().find((o) => o.origin === s.origin.url)
  if (found === undefined) return counts(0, 0, 0, 0, 0)
  const { origin: _origin, ...rest } = found
  return rest
}

/** What must hold once an interrupted call settled. */
interface Expected {
  /** What became of each exchange of the path on the server, in order; `atMost`: only cut ones, no more than that. */
  readonly exchanges: ReadonlyArray<"finished" | "aborted"> | { readonly atMost: number }
  readonly stats: Counts
  /** The breaker's successes and failures for the origin. */
  readonly breaker: readonly [successes: number, failures: number]
  /**
   * Fibers of the call that live on by design: a caller queued in the bulkhead under a deadline
   * starts the bulkhead's timer (one per bulkhead, in its scope, for its life), which is idle — one
   * fiber — once nobody waits and the clock has moved on.
   */
  readonly lingering?: number
}

const exchangesMatch = (origin: Origin, path: string, expected: Expected["exchanges"]) => {
  const states: ReadonlyArray<ExchangeState> = origin.of(path).map((e) => e.state)
  if ("atMost" in expected) {
    assert.isAtMost(states.length, expected.atMost, `${path}: no more requests than attempts`)
    assert.isTrue(states.every((s) => s === "aborted"), `${path}: every request cut (${states.join(", ")})`)
  } else {
    assert.deepStrictEqual(states, expected, `${path}: what became of each request`)
  }
}

/** No fiber the call started is left (but `lingering` ones, by design); INTERRUPTION_DEBUG=1 prints where they were forked. */
const noFiberLeft = (tree: CallTree, lingering: number) =>
  Effect.catchAllDefect(
    waitFor(`no fiber of the call left (${lingering} by design)`, () => tree.live.size === lingering),
    (defect) =>
      Effect.sync(() => {
        if (process.env.INTERRUPTION_DEBUG) {
          for (const fiber of tree.live) console.log(`left: fiber ${fiber.id().id}`, tree.origins.get(fiber))
        }
        throw defect
      })
  )

/**
 * Once the interrupted call ended: the server saw its exchanges end (the cut ones' sockets closed),
 * nothing is held, the breaker did not count it, its stats are exact; then the clock moves a
 * minute on, no fiber of the call is left, no attempt follows, and a fresh call through the same
 * client succeeds.
 */
const settledClean = (s: Setup, tree: CallTree, expected: Expected, path = "/victim") =>
  Effect.gen(function*() {
    const origin = s.origin
    // a server that held its connections reads them now: what the client sent, then its close
    yield* origin.releaseConnections
    yield* waitFor(`the server saw every ${path} request end`, () => origin.of(path).every((e) => e.state !== "open"))
    exchangesMatch(origin, path, expected.exchanges)
    yield* waitFor(
      `${path}: the socket of every cut request is closed on the server`,
      () => origin.of(path).every((e) => e.state === "finished" || e.socket.destroyed)
    )
    const load = s.resilience.bulkhead!.unsafeStats(origin.url)
    assert.deepStrictEqual([load.active, load.queued], [0, 0], "bulkhead: no permit held, nobody queued")
    const metrics = yield* s.resilience.circuitBreaker!.metrics(origin.url)
    assert.strictEqual(metrics.state._tag, "Closed", "breaker closed")
    assert.deepStrictEqual([metrics.successes, metrics.failures], expected.breaker, "breaker: the interruption is no failure")
    assert.deepStrictEqual(countsOf(s), expected.stats, "stats")

    // whatever the call left behind (a backoff, a Retry-After sleep, a timeout) would fire now
    yield* TestClock.adjust("1 minute")
    yield* noFiberLeft(tree, expected.lingering ?? 0)
    assert.strictEqual(yield* get(s, "/fresh"), "200 ok", "a fresh call through the same client succeeds")
    exchangesMatch(origin, path, expected.exchanges)
    assert.deepStrictEqual(
      countsOf(s),
      { ...expected.stats, calls: expected.stats.calls + 1, attempts: expected.stats.attempts + 1 },
      "no attempt after the interruption: only the fresh call's"
    )
    yield* waitFor(
      "every connection still open on the server is idle (its requests answered whole)",
      () => [...origin.sockets].every(([socket, exchanges]) => socket.destroyed || exchanges.every((e) => e.state === "finished"))
    )
  })

const CLIENTS: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["undici", undici],
  ["node:http", nodeKeepAlive],
  ["fetch", FetchHttpClient.layer]
]

// ---------------------------------------------------------------------------
// Scenarios swept stage by stage

interface Stage extends Expected {
  readonly label: string
  /** Gets there from the previous stage. */
  readonly reach: (s: Setup) => Effect.Effect<void>
}

/** A stage: how to get there, what became of the exchanges, the stats, and the breaker's count (none, unless given). */
const stage = (
  label: string,
  reach: Stage["reach"],
  exchanges: Expected["exchanges"],
  stats: Counts,
  breaker: Expected["breaker"] = [0, 0]
): Stage => ({ label, reach, exchanges, stats, breaker })

interface Scenario {
  readonly name: string
  readonly routes: Routes
  readonly options?: ResilientHttpClient.Options
  /** The server accepts connections but reads them only once released. */
  readonly holdConnections?: boolean
  /** The call (default: a GET of `/victim`, its body read whole). */
  readonly call?: (s: Setup) => Effect.Effect<string, unknown>
  readonly stages: ReadonlyArray<Stage>
  /** From the last stage, what completes the call uninterrupted (the control), and its answer and stats. */
  readonly finish: (s: Setup) => Effect.Effect<void>
  readonly answer: string
  readonly finalStats: Counts
}

const victim = (s: Setup) => get(s, "/victim")

const received = (path: string, n: number) => (s: Setup) =>
  waitFor(`the server received ${path} #${n}`, () => s.origin.of(path).length >= n)

const retried = (n: number) => (s: Setup) => waitFor(`the client scheduled retry ${n}`, () => countsOf(s).retries >= n)

/** The server takes the next `n` steps of the latest `/victim` request. */
const victimSteps = (n: number) => (s: Setup) => Effect.repeatN(s.origin.advance("/victim"), n - 1)

const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "a GET on a connection the server accepted and has not read",
    routes: (path) => (path === "/victim" ? paced(head(200), end("served")) : undefined),
    holdConnections: true,
    stages: [
      stage(
        "the server accepted the connection and has not read the request",
        (s) => waitFor("the server accepted a connection", () => s.origin.sockets.size === 1),
        // released after the interruption, the server reads the request the client sent (or not), then its close
        { atMost: 1 },
        counts(1, 1, 0, 0, 0)
      )
    ],
    finish: (s) =>
      Effect.gen(function*() {
        yield* s.origin.releaseConnections
        yield* received("/victim", 1)(s)
        yield* victimSteps(2)(s)
      }),
    answer: "200 served",
    finalStats: counts(1, 1, 0, 0, 0)
  },
  {
    name: "a GET answered 503 with Retry-After (its body dripping), then 200 with a body that streams",
    routes: (path, n) =>
      path !== "/victim"
        ? undefined
        : n === 1
        ? paced(head(503, { "retry-after": "3" }), chunk("busy-1 "), chunk("busy-2 "), end())
        : paced(head(200), chunk("part-1 "), chunk("part-2 "), end("done")),
    stages: [
      stage("the server has the request and has not answered its head", received("/victim", 1), ["aborted"], counts(1, 1, 0, 0, 0)),
      stage(
        "the 503 head is out (Retry-After: 3); the client saw it and drains its body",
        (s) => Effect.zipRight(victimSteps(1)(s), retried(1)(s)),
        ["aborted"],
        counts(1, 1, 1, 1, 1)
      ),
      stage("a chunk of the 503's body is out, the rest pending (the drain waits)", victimSteps(1), ["aborted"], counts(1, 1, 1, 1, 1)),
      stage(
        "the 503 answered whole; the client sleeps Retry-After",
        (s) => Effect.zipRight(victimSteps(2)(s), waitFor("the 503 finished", () => s.origin.of("/victim")[0]!.state === "finished")),
        ["finished"],
        counts(1, 1, 1, 1, 1)
      ),
      stage(
        "Retry-After over: the second attempt is at the server, its head not answered",
        (s) => Effect.zipRight(TestClock.adjust("3 seconds"), received("/victim", 2)(s)),
        ["finished", "aborted"],
        counts(1, 2, 1, 1, 1)
      ),
      stage("the second attempt's 200 head is out, no body yet", victimSteps(1), ["finished", "aborted"], counts(1, 2, 1, 1, 1)),
      stage("a chunk of the 200's body is out (the body streams)", victimSteps(1), ["finished", "aborted"], counts(1, 2, 1, 1, 1)),
      stage("a second chunk is out, then the body stalls", victimSteps(1), ["finished", "aborted"], counts(1, 2, 1, 1, 1))
    ],
    finish: victimSteps(1),
    answer: "200 part-1 part-2 done",
    finalStats: counts(1, 2, 1, 1, 1)
  },
  {
    name: "a GET answered 503 without Retry-After: the backoff",
    routes: (path, n) => (path !== "/victim" ? undefined : n === 1 ? atOnce(head(503), end("busy")) : paced(head(200), end("done"))),
    stages: [
      stage(
        "the 503 answered whole; the client sleeps its backoff",
        (s) => Effect.zipRight(retried(1)(s), waitFor("the 503 finished", () => s.origin.of("/victim")[0]?.state === "finished")),
        ["finished"],
        counts(1, 1, 1, 1, 1)
      )
    ],
    finish: (s) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("1 second")
        yield* received("/victim", 2)(s)
        yield* victimSteps(2)(s)
      }),
    answer: "200 done",
    finalStats: counts(1, 2, 1, 1, 1)
  },
  {
    name: "a streamed GET (ResilientHttpClient.streaming), its body read by the caller",
    routes: (path) => (path !== "/victim" ? undefined : paced(head(200), chunk("part-1 "), chunk("part-2 "), end("done"))),
    call: (s) =>
      answer(s.client.get(`${s.origin.url}/victim`).pipe(ResilientHttpClient.streaming({ bodyTimeout: "20 seconds" }))),
    stages: [
      stage(
        "the server has the request and has not answered its head (inside the call)",
        received("/victim", 1),
        ["aborted"],
        counts(1, 1, 0, 0, 0)
      ),
      stage(
        "the head is out: the call returned it (its permit released), the caller reads the body",
        (s) =>
          Effect.zipRight(
            victimSteps(1)(s),
            waitFor("the call returned at the head (its permit released)", () =>
              s.resilience.bulkhead!.unsafeStats(s.origin.url).active === 0)
          ),
        ["aborted"],
        counts(1, 1, 0, 0, 0),
        [1, 0]
      ),
      stage("a chunk is out, then the body stalls (the caller waits on its read)", victimSteps(1), ["aborted"], counts(1, 1, 0, 0, 0), [1, 0])
    ],
    finish: victimSteps(2),
    answer: "200 part-1 part-2 done",
    finalStats: counts(1, 1, 0, 0, 0)
  }
]

/**
 * Forks `call` on a tree of its own, brings it where `reach` says (still going there), interrupts
 * it and waits, bounded, for it to end with the interruption: the tree, for `settledClean`.
 */
const interruptAt = (call: Effect.Effect<unknown, unknown>, reach: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const tree = new CallTree()
    const fiber = yield* tree.fork(call)
    yield* reach
    assert.isNull(fiber.unsafePoll(), "the call is still going where it is interrupted")
    const exit = yield* interruptCaller(fiber)
    assert.strictEqual(summary(exit), "interrupted", "the caller's exit is the interruption")
    return tree
  })

/** Brings a fresh call to `scenario.stages[at]`, interrupts it there, and checks what it left. */
const interruptedAt = (scenario: Scenario, at: number) =>
  Effect.gen(function*() {
    const s = yield* setup(scenario.routes, scenario.options, scenario.holdConnections)
    const tree = yield* interruptAt(
      (scenario.call ?? victim)(s),
      Effect.forEach(scenario.stages.slice(0, at + 1), (stage) => stage.reach(s), { discard: true })
    )
    yield* settledClean(s, tree, scenario.stages[at]!)
  })

/** The same call, uninterrupted: it goes through every stage (with the stats each one names), then answers. */
const uninterrupted = (scenario: Scenario) =>
  Effect.gen(function*() {
    const s = yield* setup(scenario.routes, scenario.options, scenario.holdConnections)
    const fiber = yield* Effect.fork((scenario.call ?? victim)(s))
    for (const stage of scenario.stages) {
      yield* stage.reach(s)
      assert.isNull(fiber.unsafePoll(), `still going: ${stage.label}`)
      assert.deepStrictEqual(countsOf(s), stage.stats, stage.label)
    }
    yield* scenario.finish(s)
    yield* waitFor("the call answers", () => fiber.unsafePoll() !== null)
    assert.deepStrictEqual(fiber.unsafePoll(), Exit.succeed(scenario.answer))
    assert.deepStrictEqual(countsOf(s), scenario.finalStats)
  })

// ---------------------------------------------------------------------------
// Before the request is sent: every step

/** A server that never answers `/victim`. */
const silent: Routes = (path) => (path === "/victim" ? paced(head(200), end("late")) : undefined)

/**
 * Interrupts a call k steps (`Effect.yieldNow()`) after it was forked, for k = 0, 1, 2, …, until
 * the call, at the interruption, had made no progress for two steps: it then waits on its socket
 * (connecting, or its request sent). Microtask steps let no I/O in: every k before that lands
 * before the request is on the wire (the timeout, the bulkhead, the breaker, the retry, the
 * attempt timeout and the client's own steps); the request may still reach the server, cut.
 */
const sweepBeforeSent = Effect.gen(function*() {
  const reachedServer: Array<number> = []
  let k = 0
  for (;; k++) {
    assert.isBelow(k, 400, "the call never came to wait on its socket")
    const blocked = yield* Effect.scoped(Effect.gen(function*() {
      const s = yield* setup(silent)
      const tree = new CallTree()
      const fiber = yield* tree.fork(get(s, "/victim"))
      let idle = 0
      let seen = tree.resumes
      for (let i = 0; i < k; i++) {
        yield* Effect.yieldNow()
        if (tree.resumes === seen) idle++
        else {
          idle = 0
          seen = tree.resumes
        }
      }
      assert.isNull(fiber.unsafePoll(), `k = ${k}: the call is still going`)
      const exit = yield* interruptCaller(fiber)
      assert.strictEqual(summary(exit), "interrupted", `k = ${k}`)
      const at = countsOf(s)
      assert.deepStrictEqual({ ...at, calls: 0, attempts: 0 }, counts(0, 0, 0, 0, 0), `k = ${k}: nothing but a call and an attempt`)
      assert.isAtMost(at.calls, 1)
      assert.isAtMost(at.attempts, at.calls)
      yield* settledClean(s, tree, { exchanges: { atMost: at.attempts }, stats: at, breaker: [0, 0] })
      if (s.origin.of("/victim").length > 0) reachedServer.push(k)
      if (process.env.INTERRUPTION_VERBOSE) {
        console.log(`k = ${k}: attempts ${at.attempts}, connections ${[...s.origin.sockets].map(([sock, ex]) => `${ex.map((e) => `${e.path}:${e.state}`).join("+") || "none"}/${sock.destroyed ? "closed" : "open"}`).join(", ")}`)
      }
      return idle >= 2
    }))
    if (blocked) break
  }
  if (process.env.INTERRUPTION_VERBOSE) {
    console.log(`swept k = 0..${k}; the request reached the server (cut) for k in [${reachedServer.join(", ")}]`)
  }
})

// ---------------------------------------------------------------------------
// Queued in the bulkhead; a hedge around the client

const holding: Routes = (path) => (path === "/holder" ? paced(head(200), end("held")) : undefined)

const awaitBounded = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, label: string) =>
  Effect.zipRight(waitFor(label, () => fiber.unsafePoll() !== null), Effect.suspend(() => fiber.unsafePoll()!))

const queuedInBulkhead = Effect.gen(function*() {
  const s = yield* setup(holding)
  const bulkhead = s.resilience.bulkhead!
  const holder = yield* Effect.fork(get(s, "/holder"))
  yield* received("/holder", 1)(s)
  const tree = yield* interruptAt(
    victim(s),
    waitFor("the caller queued in the bulkhead", () => bulkhead.unsafeStats(s.origin.url).queued === 1)
  )
  const load = bulkhead.unsafeStats(s.origin.url)
  assert.deepStrictEqual([load.active, load.queued], [1, 0], "it left the queue; the holder keeps its permit")
  // its place is free (maxQueue 1): the next caller queues, and is served once the holder is done
  const next = yield* Effect.fork(get(s, "/next"))
  yield* waitFor("the next caller queued", () => bulkhead.unsafeStats(s.origin.url).queued === 1)
  yield* s.origin.advance("/holder")
  yield* s.origin.advance("/holder")
  assert.strictEqual(yield* awaitBounded(holder, "the holder answers"), "200 held")
  assert.strictEqual(yield* awaitBounded(next, "the next caller answers"), "200 ok")
  yield* settledClean(s, tree, { exchanges: [], stats: counts(3, 2, 0, 0, 0), breaker: [2, 0], lingering: 1 })
})

const hedged = Effect.gen(function*() {
  const s = yield* setup(silent, { bulkhead: { maxConcurrent: 2, maxQueue: 0, metricsInterval: Duration.infinity } })
  const hedge = Hedge.make({ delay: "1 second", maxAttempts: 2 })
  const tree = yield* interruptAt(
    victim(s).pipe(hedge),
    Effect.gen(function*() {
      yield* received("/victim", 1)(s)
      yield* TestClock.adjust("1 second")
      yield* received("/victim", 2)(s)
      assert.strictEqual(hedge.unsafeStats().hedges, 1, "the hedge started")
    })
  )
  yield* settledClean(s, tree, { exchanges: ["aborted", "aborted"], stats: counts(2, 2, 0, 0, 0), breaker: [0, 0] })
})

// ---------------------------------------------------------------------------
// Inside Effect.uninterruptible

interface RegionCase {
  readonly name: string
  readonly routes: Routes
  readonly options?: ResilientHttpClient.Options
  /** Runs before the call (a holder of the bulkhead's permit). */
  readonly before?: (s: Setup) => Effect.Effect<void>
  /** The call (default: a GET of `/victim`, its body read whole). */
  readonly call?: (s: Setup) => Effect.Effect<string, unknown>
  /** Brings the call to where its caller is interrupted. */
  readonly reach: (s: Setup) => Effect.Effect<void>
  /** After the interruption, what lets the call end: the server's next steps, or the clock to the call's bound. */
  readonly then: (s: Setup) => Effect.Effect<void>
  /** Checks the answer the call had inside the region: the uninterrupted call's. */
  readonly answer: (exit: Exit.Exit<string, unknown>) => void
  readonly expected: Expected
}

/** The typed error an exit failed with (and nothing else). */
const failure = (exit: Exit.Exit<string, unknown>): unknown => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") return assert.fail(`a typed failure, not ${summary(exit)}`)
  return exit.cause.error
}

const isTimeout = (exit: Exit.Exit<string, unknown>, scope: "overall" | "attempt", millis: number) => {
  const error = failure(exit) as Errors.TimeoutError
  assert.instanceOf(error, Errors.TimeoutError, summary(exit))
  assert.deepStrictEqual([error.scope, Duration.toMillis(error.duration)], [scope, millis])
}

const stallAfterChunk: Routes = (path) => (path === "/victim" ? paced(head(200), chunk("part-1 "), chunk("part-2 "), end("done")) : undefined)
const headAndChunk = (s: Setup) =>
  Effect.gen(function*() {
    yield* received("/victim", 1)(s)
    yield* victimSteps(2)(s)
  })
const tolerant = { circuitBreaker: { tripPolicy: CircuitBreaker.consecutive(5), openDuration: "1 minute" } } as const

/*
 * FIXED (finding 26: the client's call and its body reads now run as the library's own I/O,
 * `ownIO` in src/internal/detached.ts — interruptible by their bounds on a fiber the caller's
 * interruption does not reach). The bug, as found: inside
 * `Effect.uninterruptible` nothing bounded a stalled exchange — not `timeout`, not `attemptTimeout`,
 * not a streamed body's `bodyTimeout` — with or without an interruption (the control, "never
 * interrupted", fails the same way): the call waits for as long as the server stalls, its bulkhead
 * permit held. Mechanism: each bound is a race that ends the wait by interrupting it — the client's
 * `timeout`/`attemptTimeout` are `Timeout`s (src/internal/timeout/fastPath.ts: the work runs with
 * the caller's runtime flags; at the deadline it is interrupted and awaited), a streamed body's
 * reads go through `timeoutFail` (`StreamingResponse.bounded`, src/http/internal/resilientHttpClient/
 * response.ts; src/internal/time.ts, whose `detached` daemon keeps the caller's uninterruptible
 * flags) — while the waits themselves (the head: @effect/platform-node's `dispatcher.request`,
 * `waitForResponse`, `fetch`; the body: `readNode`/`readWeb` of `buffer`, the pull of a streamed
 * body) are `Effect.async`s that do not bound themselves by the deadline. In an uninterruptible
 * region the interruption never lands, so the race waits for the server. DESIGN.md promises
 * otherwise ("Bounded time": every consumer bounds its own wait by the deadline, "so no bound
 * depends on being interrupted"; "Nothing hangs": HTTP response bodies), as does docs/Http.md
 * (`timeout`: "the one bound a caller can rely on"; buffered bodies: "no read can hang").
 * Reproduction: `Effect.uninterruptible(client.get(url))` against a server that sends a head and
 * one chunk, then nothing, with `timeout: "3 seconds"`: after 3 s the call is still running.
 */
const regionCases: ReadonlyArray<RegionCase> = [
  {
    name: "the body stalls after a chunk, then resumes: the call reads it whole",
    routes: stallAfterChunk,
    reach: headAndChunk,
    then: victimSteps(2),
    answer: (exit) => assert.deepStrictEqual(exit, Exit.succeed("200 part-1 part-2 done")),
    expected: { exchanges: ["finished"], stats: counts(1, 1, 0, 0, 0), breaker: [1, 0] }
  },
  {
    name: "the body stalls for good: the call ends at the client's `timeout`",
    routes: stallAfterChunk,
    options: { ...tolerant, timeout: "3 seconds" },
    reach: headAndChunk,
    then: () => TestClock.adjust("3 seconds"),
    answer: (exit) => isTimeout(exit, "overall", 3000),
    // the library's own deadline cut the call after it ran long enough: a failure of the origin (docs/CircuitBreaker.md)
    expected: { exchanges: ["aborted"], stats: counts(1, 1, 0, 1, 0), breaker: [0, 1] }
  },
  {
    name: "the body stalls for good: the call ends at `attemptTimeout` (no retry)",
    routes: stallAfterChunk,
    options: { ...tolerant, attemptTimeout: "2 seconds", retry: false },
    reach: headAndChunk,
    then: () => TestClock.adjust("2 seconds"),
    answer: (exit) => isTimeout(exit, "attempt", 2000),
    expected: { exchanges: ["aborted"], stats: counts(1, 1, 0, 1, 0), breaker: [0, 1] }
  },
  {
    name: "streamed, the body stalls for good: the read ends at `bodyTimeout`",
    routes: stallAfterChunk,
    call: (s) =>
      answer(s.client.get(`${s.origin.url}/victim`).pipe(ResilientHttpClient.streaming({ bodyTimeout: "2 seconds" }))),
    reach: headAndChunk,
    then: () => TestClock.adjust("2 seconds"),
    answer: (exit) => {
      const error = failure(exit) as HttpClientError.ResponseError
      assert.deepStrictEqual([error._tag, error.reason], ["ResponseError", "Decode"])
      assert.instanceOf(error.cause, Errors.TimeoutError)
      assert.strictEqual(Duration.toMillis((error.cause as Errors.TimeoutError).duration), 2000)
    },
    // streamed: the breaker counted the head (a success); the body's stall fails only the read
    expected: { exchanges: ["aborted"], stats: counts(1, 1, 0, 0, 0), breaker: [1, 0] }
  },
  {
    name: "queued in the bulkhead: it waits its turn, then is served",
    routes: holding,
    before: (s) => Effect.zipRight(Effect.fork(get(s, "/holder")), received("/holder", 1)(s)),
    reach: (s) => waitFor("queued", () => s.resilience.bulkhead!.unsafeStats(s.origin.url).queued === 1),
    then: (s) => Effect.zipRight(s.origin.advance("/holder"), s.origin.advance("/holder")),
    answer: (exit) => assert.deepStrictEqual(exit, Exit.succeed("200 ok")),
    expected: { exchanges: ["finished"], stats: counts(2, 2, 0, 0, 0), breaker: [2, 0], lingering: 1 }
  },
  {
    name: "in the Retry-After sleep after a 503: it sleeps it out, then the second attempt answers",
    routes: (path, n) =>
      path !== "/victim"
        ? undefined
        : n === 1
        ? atOnce(head(503, { "retry-after": "3" }), end("busy"))
        : atOnce(head(200), end("done")),
    options: tolerant,
    reach: (s) =>
      Effect.zipRight(retried(1)(s), waitFor("the 503 finished", () => s.origin.of("/victim")[0]?.state === "finished")),
    then: () => TestClock.adjust("3 seconds"),
    answer: (exit) => assert.deepStrictEqual(exit, Exit.succeed("200 done")),
    expected: { exchanges: ["finished", "finished"], stats: counts(1, 2, 1, 1, 1), breaker: [1, 0] }
  }
]

/** Polls (5 ms) for a call that can end to end: its teardown only. */
const ENDS_POLLS = 100

const inRegion = (c: RegionCase) =>
  Effect.gen(function*() {
    const s = yield* setup(c.routes, c.options)
    if (c.before !== undefined) yield* c.before(s)
    const tree = new CallTree()
    let inside: Exit.Exit<string, unknown> | undefined
    const fiber = yield* tree.fork(
      Effect.uninterruptible(Effect.tap(Effect.exit((c.call ?? victim)(s)), (exit) => Effect.sync(() => void (inside = exit))))
    )
    yield* c.reach(s)
    yield* sendInterrupt(fiber)
    // not cut: a short look (real time) finds the caller still in its region and nothing cut on the server
    yield* realSleep(20)
    assert.isNull(fiber.unsafePoll(), "the caller is still in its region")
    assert.isUndefined(inside, "the call goes on")
    assert.isTrue(s.origin.exchanges.every((e) => e.state !== "aborted"), "no request cut")
    yield* c.then(s)
    // the call can end now: what is left is the client's own teardown (0.5 s guard)
    yield* waitFor("the caller ends once its call can (no hang)", () => fiber.unsafePoll() !== null, ENDS_POLLS)
    assert.strictEqual(summary(fiber.unsafePoll()!), "interrupted", "then the caller's exit is the interruption")
    assert.isDefined(inside)
    c.answer(inside!)
    yield* settledClean(s, tree, c.expected)
  })

/** The mechanism of the bug above, without any interruption: an uninterruptible call, a stalled body, its `timeout` passed. */
const uninterruptibleNeverInterrupted = Effect.gen(function*() {
  const s = yield* setup(stallAfterChunk, { ...tolerant, timeout: "3 seconds" })
  const fiber = yield* Effect.fork(Effect.uninterruptible(Effect.exit(victim(s))))
  yield* headAndChunk(s)
  yield* TestClock.adjust("3 seconds")
  yield* waitFor("the call ends at its `timeout`", () => fiber.unsafePoll() !== null, ENDS_POLLS)
  const exit = fiber.unsafePoll()!
  assert.isTrue(Exit.isSuccess(exit), summary(exit))
  if (Exit.isSuccess(exit)) isTimeout(exit.value, "overall", 3000)
})

/*
 * FIXED (finding 27: the attempt's outcome is read with `onExit`, and an attempt cut by the
 * library's timeout counts as a timeout of the origin). The bug, as found: when the client's own `timeout` — the library's
 * interruption, not the caller's — cuts an attempt (here, a body stalled after its head), the
 * breaker counts a failure of the origin (docs/CircuitBreaker.md: a call the library's deadline cut
 * after running long enough) but the client's stats and its `resilience_http_failures` metric do
 * not: `OriginStats.failures` ("attempts counted as failures of the origin (5xx, transport,
 * timeout)") stays 0. Mechanism: `ResilienceImpl.attempt`
 * (src/http/internal/resilientHttpClient/resilientHttpClient.ts) counts failures in an
 * `Effect.tapError` on the attempt, which an interruption (the overall `timeout` sits outside the
 * retry and interrupts the attempt) never reaches; only `attemptTimeout` fails the attempt with an
 * error. So with only `timeout` set (the configuration issues 16 and 18 are about), a hung
 * upstream opens the circuit while stats and metrics show no failure. Reproduction: `timeout: "3
 * seconds"`, a server that sends a head and a chunk then stalls; after the call fails with the
 * overall `TimeoutError`, `stats()` shows `failures: 0` and `circuitBreaker.metrics(origin)`
 * `failures: 1`.
 */
const overallTimeoutCounted = Effect.gen(function*() {
  const s = yield* setup(stallAfterChunk, { ...tolerant, timeout: "3 seconds" })
  const fiber = yield* Effect.fork(Effect.exit(victim(s)))
  yield* headAndChunk(s)
  yield* TestClock.adjust("3 seconds")
  yield* waitFor("the call ends at its `timeout`", () => fiber.unsafePoll() !== null)
  const exit = fiber.unsafePoll()!
  assert.isTrue(Exit.isSuccess(exit), summary(exit))
  if (Exit.isSuccess(exit)) isTimeout(exit.value, "overall", 3000)
  yield* waitFor("the stalled request cut", () => s.origin.of("/victim")[0]!.state === "aborted")
  assert.strictEqual((yield* s.resilience.circuitBreaker!.metrics(s.origin.url)).failures, 1, "the breaker counted the timeout")
  assert.deepStrictEqual(countsOf(s), counts(1, 1, 0, 1, 0), "the stats count it too")
})

/**
 * A 503 whose body stalls after its head, inside `Effect.uninterruptible`: the discarded response
 * must not hold the caller — the retry runs and answers. The discarded body is drained before the
 * retry, within `drain.timeout` (1 s by default), as the library's own I/O (`ownIO` around the
 * call, an interruptible read inside the drain's bound), so the bound cuts it in the region too.
 */
const stalledDrainInRegion = Effect.gen(function*() {
  const routes: Routes = (path, n) =>
    path === "/victim" && n === 1 ? paced(head(503), chunk("partial "), end("never sent")) : undefined
  const s = yield* setup(routes, { ...tolerant, drain: { timeout: "2 seconds" } })
  const fiber = yield* Effect.fork(Effect.uninterruptible(Effect.exit(victim(s))))
  yield* headAndChunk(s)
  yield* waitFor("the client drains the 503's body", () => countsOf(s).drained === 1)
  // the drain's timer (2 s), then the retry's pause (1 s): the clock in small steps, so that each
  // timer is registered before the time it waits for passes
  for (let i = 0; i < 40 && s.origin.of("/victim").length < 2; i++) {
    yield* TestClock.adjust("100 millis")
    yield* realSleep(5)
  }
  yield* waitFor("the call ends with the retry's answer", () => fiber.unsafePoll() !== null, ENDS_POLLS)
  const exit = fiber.unsafePoll()!
  assert.deepStrictEqual(exit, Exit.succeed(Exit.succeed("200 ok")), summary(exit))
  yield* waitFor("the stalled body's exchange cut", () => s.origin.of("/victim")[0]!.state === "aborted")
  assert.deepStrictEqual(countsOf(s), counts(1, 2, 1, 1, 1), "one call, two attempts, one retry, one failure, one drained body")
})

/**
 * `drain.timeout` is the drain's bound, whatever it is: a 503 whose body ends 2 s after its head,
 * with `drain.timeout: "3 seconds"`, is read whole before the retry (its connection then reusable),
 * and the client's own drain is never reported as a user hook that timed out
 * (`resilience_user_code_failures`). The drain runs as the retry's `onRetry`, whose bound
 * (`onRetryTimeout`, 1 s by default) cut it at 1 s and counted the cut as the user's hook timing
 * out (finding 29).
 */
const slowDrainWithinItsTimeout = Effect.gen(function*() {
  const routes: Routes = (path, n) =>
    path === "/victim" && n === 1 ? paced(head(503), chunk("partial "), end("rest")) : undefined
  const name = `interruption-drain-${++clients}`
  const s = yield* setup(routes, { ...tolerant, name, drain: { timeout: "3 seconds" } })
  const hookFailures = () => counterTotal("resilience_user_code_failures", { policy: name })
  const fiber = yield* Effect.fork(Effect.exit(victim(s)))
  yield* headAndChunk(s)
  yield* waitFor("the client drains the 503's body", () => countsOf(s).drained === 1)
  // 2 s into the drain (in steps, so that the drain's and the retry's timers are registered first)
  for (let i = 0; i < 20; i++) {
    yield* TestClock.adjust("100 millis")
    yield* realSleep(5)
  }
  assert.strictEqual(s.origin.of("/victim")[0]!.state, "open", "the drain still reads the body 2 s in (its bound is 3 s)")
  yield* s.origin.advance("/victim")
  yield* waitFor("the body read whole: the exchange finished", () => s.origin.of("/victim")[0]!.state === "finished")
  for (let i = 0; i < 20 && s.origin.of("/victim").length < 2; i++) {
    yield* TestClock.adjust("100 millis")
    yield* realSleep(5)
  }
  yield* waitFor("the call ends with the retry's answer", () => fiber.unsafePoll() !== null)
  const exit = fiber.unsafePoll()!
  assert.deepStrictEqual(exit, Exit.succeed(Exit.succeed("200 ok")), summary(exit))
  assert.strictEqual(yield* hookFailures(), 0, "the client's drain is not a user hook that timed out")
})

/** The default `drain.timeout` (1 s) cuts a stalled drain: the cut is the drain's, not a user hook's timeout. */
const stalledDrainNotAHookFailure = Effect.gen(function*() {
  const routes: Routes = (path, n) =>
    path === "/victim" && n === 1 ? paced(head(503), chunk("partial "), end("never sent")) : undefined
  const name = `interruption-drain-${++clients}`
  const s = yield* setup(routes, { ...tolerant, name })
  const fiber = yield* Effect.fork(Effect.exit(victim(s)))
  yield* headAndChunk(s)
  yield* waitFor("the client drains the 503's body", () => countsOf(s).drained === 1)
  for (let i = 0; i < 40 && s.origin.of("/victim").length < 2; i++) {
    yield* TestClock.adjust("100 millis")
    yield* realSleep(5)
  }
  yield* waitFor("the call ends with the retry's answer", () => fiber.unsafePoll() !== null)
  assert.deepStrictEqual(fiber.unsafePoll(), Exit.succeed(Exit.succeed("200 ok")))
  assert.strictEqual(s.origin.of("/victim")[0]!.state, "aborted", "the stalled body's exchange cut")
  assert.strictEqual(yield* counterTotal("resilience_user_code_failures", { policy: name }), 0)
})

// ---------------------------------------------------------------------------

for (const [label, layer] of CLIENTS) {
  /** A test on this client: `body` with its layer. */
  const on = <A, E>(body: Effect.Effect<A, E, HttpClient.HttpClient | Scope.Scope>) => () => Effect.provide(body, layer)

  describe(`ResilientHttpClient interrupted (${label})`, () => {
    it.scoped(
      "before the request is sent and while connecting: interrupted k steps after the call started, every k until it waits on its socket",
      on(sweepBeforeSent)
    )

    for (const scenario of scenarios) {
      describe(scenario.name, () => {
        it.scoped("uninterrupted (the control): every stage in turn, then the answer", on(uninterrupted(scenario)))
        scenario.stages.forEach((stage, at) => {
          it.scoped(`interrupted when ${stage.label}`, on(interruptedAt(scenario, at)))
        })
      })
    }

    it.scoped("queued in the client's bulkhead: it leaves the queue, its place free, never sent", on(queuedInBulkhead))

    it.scoped("a Hedge around the client, both attempts at the server: both cut", on(hedged))

    describe("inside Effect.uninterruptible: the call answers as if uninterrupted, then the caller ends", () => {
      for (const c of regionCases) {
        it.scoped(c.name, on(inRegion(c)))
      }
    })

    it.scoped(
      "uninterruptible, never interrupted: a 503 whose body stalls is discarded without holding the caller, and the retry answers",
      on(stalledDrainInRegion)
    )

    it.scoped("a discarded body is drained within `drain.timeout` (3 s), not cut by the retry's hook bound (finding 29)", on(slowDrainWithinItsTimeout))

    it.scoped("a stalled drain cut by the default `drain.timeout` is not counted as a user hook's timeout", on(stalledDrainNotAHookFailure))

    if (label === "undici") {
      // the two bugs' mechanisms, each on one client (they are the client's, not the transport's)
      it.scoped(
        "uninterruptible, never interrupted: a stalled body ends at the client's `timeout` (it hung: finding 26)",
        on(uninterruptibleNeverInterrupted)
      )
      it.scoped(
        "the client's own `timeout` cuts a stalled body: the breaker and the stats both count the failure (the stats did not: finding 27)",
        on(overallTimeoutCounted)
      )
    }
  })
}
