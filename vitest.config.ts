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
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
