// Mutation testing of the core modules (npm run mutate). Too slow for CI on
// 2 cores: run it by hand; the score is reported in the README. One module:
//   VITEST_INCLUDE=test/Retry.test.ts npx stryker run --mutate src/Retry.ts
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.config.ts" },
  mutate: [
    "src/*.ts",
    "src/internal/**/*.ts",
    "!src/index.ts",
    "!src/Testing.ts"
  ],
  incremental: true,
  incrementalFile: "reports/stryker-incremental.json",
  concurrency: 2,
  timeoutMS: 60000,
  thresholds: { high: 90, low: 80, break: null },
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  tempDirName: ".stryker-tmp",
  ignoreStatic: true,
  // copy only what the tests need into the sandbox (scratch directories in the tree come and go)
  ignorePatterns: ["/*", "!/src", "!/test", "!/demo", "!/examples", "!/package.json", "!/vitest.config.ts", "!/tsconfig*.json"]
}
