/**
 * How many runs a property test makes: `n`, or a fifth of it (at least 10) in a mutation run
 * (`npm run mutate` sets `MUTATION_RUN=1`). A mutation run re-runs every covering test once per
 * mutant, and the model tests would take most of it (the breaker's alone ~20 s a mutant); a
 * mutant they kill fails within the first runs almost always, so the lighter runs cost little
 * in kills (and a score measured with them is, if anything, a lower bound).
 */
export const numRuns = (n: number): number => (process.env.MUTATION_RUN === "1" ? Math.min(n, Math.max(10, Math.ceil(n / 5))) : n)
