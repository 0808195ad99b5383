import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

export default defineConfig({
  resolve: {
    alias: [
      { find: /^effect-resilience\/http$/, replacement: src("http/index.ts") },
      { find: /^effect-resilience\/redis$/, replacement: src("redis/index.ts") },
      { find: /^effect-resilience$/, replacement: src("index.ts") }
    ]
  },
  test: {
    // VITEST_INCLUDE narrows the run (comma-separated globs), e.g. for a mutation run of one module
    include: process.env.VITEST_INCLUDE ? process.env.VITEST_INCLUDE.split(",") : ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    // 2 cores: keep parallelism modest so real-server tests are not starved.
    pool: "threads",
    poolOptions: { threads: { maxThreads: 2, minThreads: 1 } },
    // under Stryker (npm run mutate) a short one: a mutant that makes a test hang is caught
    // by the test's own timeout instead of costing Stryker a worker restart
    testTimeout: Number(process.env.VITEST_TEST_TIMEOUT ?? (process.env.STRYKER_MUTATOR_WORKER === undefined ? 60_000 : 30_000)),
    hookTimeout: 60_000
  }
})
