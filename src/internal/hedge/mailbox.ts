/**
 * A single-consumer mailbox, lighter than a `Queue`: a hedged call's attempts
 * and its timer post to it from their fibers' observers; the hedging fiber
 * takes from it.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

/** @internal */
export class Mailbox<A> {
  private readonly pending: Array<A> = []
  private waiter: ((effect: Effect.Effect<A>) => void) | undefined = undefined

  // re-checks `pending` when registering: the fiber may have yielded between
  // `take`'s fast-path check and this registration
  private readonly wait: Effect.Effect<A> = Effect.async<A>((resume) => {
    if (this.pending.length > 0) return resume(Effect.succeed(this.pending.shift()!))
    this.waiter = resume
    // Stryker disable next-line BlockStatement: equivalent: the take is interrupted only when the caller is, and then the call ends without another take; the interrupted wait ignores a late resume
    return Effect.sync(() => {
      this.waiter = undefined
    })
  })

  /** Takes the oldest message, waiting for one if there is none. */
  readonly take: Effect.Effect<A> = Effect.suspend(() =>
    // Stryker disable next-line ConditionalExpression: equivalent: a fast path; `wait` checks `pending` first too
    this.pending.length > 0 ? Effect.succeed(this.pending.shift()!) : this.wait
  )

  /** Posts a message: to the waiting taker if there is one, else to the pending ones. */
  offer(a: A): void {
    const resume = this.waiter
    if (resume === undefined) {
      this.pending.push(a)
      return
    }
    this.waiter = undefined
    resume(Effect.succeed(a))
  }
}
